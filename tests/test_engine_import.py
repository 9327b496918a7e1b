"""Importing the engine pauses the garbage collector around torch's import, and only there.

Torch's import builds objects that live for the whole process; collecting while they appear is
wasted start-up time for every CLI run and worker (texture_addon/engine/__init__.py). Checked in
fresh interpreters, where torch has not been imported yet.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

PROBE = (
    "import gc, json, sys\n"
    "if sys.argv[1] == 'off': gc.disable()\n"
    "before = [s['collections'] for s in gc.get_stats()]\n"
    "import texture_addon.engine\n"
    "after = [s['collections'] for s in gc.get_stats()]\n"
    "frozen = gc.get_freeze_count()\n"
    "print(json.dumps({'full': after[2] - before[2], 'young': after[0] - before[0], 'enabled': gc.isenabled(),\n"
    "                  'torch': 'torch' in sys.modules, 'frozen': frozen,\n"
    "                  'tracked': len(gc.get_objects())}))\n"
)


def _probe(state: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, state], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_torch_is_imported_without_full_collections_and_the_collector_comes_back_on():
    r = _probe("on")
    assert r["torch"]
    # Without the pause: 2 full and ~350 young collections during the import.
    assert r["full"] == 0 and r["young"] < 50, r
    assert r["enabled"]


def test_what_torch_built_is_frozen_so_no_later_collection_walks_it():
    r = _probe("on")
    # Torch's import leaves a few hundred thousand tracked objects; frozen, a collection after
    # the import walks only what came later (unfrozen, the first two took a quarter second).
    assert r["frozen"] > 100_000, r
    assert r["tracked"] < r["frozen"] // 10, r


def test_a_collector_the_caller_switched_off_stays_off():
    assert _probe("off")["enabled"] is False
