"""Importing the engine sets OpenMP's waiting before torch loads: passive, after a short spin.

Purely passive threads made 256² synthesis 1.6× slower on an idle machine; full spinning makes it
3–6× slower beside a busy neighbour (numbers in texture_addon/engine/__init__.py). The settings
only work if they are in the environment before torch starts its thread pool, so they are checked
in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT

PROBE = (
    "import json, os, sys\n"
    "import texture_addon.engine\n"
    "print(json.dumps({k: os.environ.get(k) for k in ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT')}))\n"
)


def _probe(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**base, **env},
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_engine_import_sets_passive_waiting_with_a_short_spin():
    assert _probe() == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "10000"}


def test_values_already_in_the_environment_win():
    assert _probe(OMP_WAIT_POLICY="ACTIVE", GOMP_SPINCOUNT="0") == {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "0"}
