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


# ---- the reference-set benchmark (``make bench``): ours and peers as whole processes ----------

FAKE_GMIC = """#!{python}
# Stands in for G'MIC in this test: copies the top-left of the reference (a pure copy, whose figures
# are known: structure ≈ 0, copy share ≈ 1). Arguments as the benchmark passes them to gmic.
import sys
from PIL import Image
args = sys.argv[1:]
ref, size, out = args[2], int(args[4].split(",")[0]), args[6]
Image.open(ref).convert("RGB").crop((0, 0, size, size)).save(out)
"""


def run_set_bench(tmp_path, *args, env=None):
    cmd = [sys.executable, str(ROOT / "scripts" / "bench.py"), "--sizes", "64", "--quality", "draft", "--out", str(tmp_path / "b"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    return proc


def rows_of(stdout: str) -> dict[tuple[str, str], list[str]]:
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 3 and cells[0] not in ("reference", "---"):
            rows[(cells[0], cells[1])] = cells
    return rows


def test_set_bench_peer_path_with_a_stand_in_peer(tmp_path):
    """The peer code path end to end (process, figures, ratios, contact sheet), wherever it runs."""
    import os

    fake = tmp_path / "bin" / "gmic"
    fake.parent.mkdir()
    fake.write_text(FAKE_GMIC.format(python=sys.executable))
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    proc = run_set_bench(tmp_path, "--refs", "dots", "--peers", "gmic", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = rows_of(proc.stdout)
    ours, peer = rows[("dots", "ours")], rows[("dots", "gmic")]
    # wall s, plug-in s, structure, fine, coarse, copy, soft, patch, ratios
    assert float(ours[2]) > 0 and 0.05 < float(ours[4]) < 1.5 and 0 <= float(ours[7]) <= 1 and float(ours[9]) > 0
    assert 0 <= float(ours[8]) <= 1 and 0 <= float(peer[8]) <= 1  # soft shares
    assert float(peer[4]) < 0.02 and float(peer[7]) > 0.95  # the copy is seen as a copy
    assert float(peer[10]) > 1 and float(peer[11]) > 0  # ours ÷ peer: structure, time
    assert "vs gmic: ours ≤ gmic on the structure figure on 0/1 references" in proc.stdout
    from PIL import Image

    sheet = Image.open(tmp_path / "b" / "contact_sheet.png")
    # reference (256²) | ours 64² tiled 2×2 | the peer as it is (it does not tile); 40 px labels
    assert sheet.size == (256 + 8 + 128 + 8 + 64, 256 + 40 + 8)
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert results[0]["results"]["gmic"]["tiles"] is False and results[0]["results"]["ours"]["tiles"] is True


def test_set_bench_real_peers_or_says_how_to_get_them(tmp_path):
    """G'MIC and Resynthesizer where installed (scripts/get_peers.sh); otherwise a plain message."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_set import peer_missing

    proc = run_set_bench(tmp_path, "--refs", "gravel", "--peers", "gmic,resynth")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = rows_of(proc.stdout)
    assert float(rows[("gravel", "ours")][4]) > 0
    for peer in ("gmic", "resynth"):
        if peer_missing(peer):
            assert f"peer {peer}: MISSING" in proc.stdout and "get_peers.sh" in proc.stdout
            assert ("gravel", peer) not in rows
        else:
            cells = rows[("gravel", peer)]
            assert float(cells[2]) > 0 and float(cells[4]) >= 0 and 0 <= float(cells[7]) <= 1, cells
            if peer == "resynth":
                assert 0 < float(cells[3]) < float(cells[2])  # its plug-in time, inside the whole process


def test_set_bench_unknown_reference_is_one_clear_line(tmp_path):
    proc = run_set_bench(tmp_path, "--refs", "nosuch", "--peers", "none")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: no such reference in benchmark/references: nosuch"


@pytest.mark.slow  # whole-size synthesis: full tier only (tests/conftest.py)
def test_set_bench_times_draft_and_default_through_the_worker(tmp_path):
    """Both presets asked for: whole processes and, as the add-on runs them, jobs on one warm worker."""
    import re

    proc = run_set_bench(tmp_path, "--refs", "dots", "--peers", "none", "--quality", "default,draft")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "64²: default ÷ draft time" in proc.stdout.split("warm worker")[0]   # whole processes
    line = next(ln for ln in proc.stdout.splitlines() if "through the worker" in ln)
    ratio, default_s, draft_s = re.search(r"([\d.]+)× through the worker \(default / draft: dots ([\d.]+) s / ([\d.]+) s",
                                         line).groups()
    default_t, draft_t = float(default_s), float(draft_s)
    assert default_t > draft_t > 0
    # the times are printed to 0.01 s: the ratio of the unrounded ones lies within their rounding
    # (0.25 s / 0.08 s printed for a 3.30× ratio is 3.13× rounded, 2.94–3.33× unrounded)
    assert (default_t - 0.005) / (draft_t + 0.005) * 0.99 <= float(ratio) <= (default_t + 0.005) / (draft_t - 0.005) * 1.01
    # the worker wrote its outputs like a Blender job would
    assert (tmp_path / "b" / "worker_jobs" / "dots_64_draft_basecolor.png").is_file()


# ---- the GPU check (scripts/check_cuda.py): runnable, and it reports a failing mode -------------

@pytest.mark.slow  # whole-size synthesis: full tier only (tests/conftest.py)
def test_gpu_check_script_runs_every_mode_on_the_cpu(tmp_path):
    """CI has no GPU; ``--device cpu`` runs the same script so it stays usable on a GPU machine."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_cuda.py"), "--device", "cpu",
                           "--parts", "modes", "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "FAILED" not in proc.stdout, proc.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["modes_ok"]) == 12 and "seamless" in results["modes_ok"]
    assert "mode cancel: cancelled" in proc.stdout
    assert (tmp_path / "modes.png").stat().st_size > 10_000
