"""The benchmark script still runs and reports what the README's tables are made of (tiny sizes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("kind", ["synth", "material"])
def test_one_benchmark_case(kind):
    case = {"kind": kind, "ref": "wood", "size": 64, "quality": "draft", "method": "patch", "device": "cpu", "label": "t"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--case", json.dumps(case)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["seconds"] > 0 and r["peak_rss_mib"] > 50
    assert r["seam"] <= 1.10            # delivered tile: edges on a typical line
    assert 0 <= r["seam_rank"] <= 1 and r["raw_seam"] > 0
    assert 0 < r["ratio"] < 1 and r["dist"] < r["floor"]
