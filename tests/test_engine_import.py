"""Importing the engine imports torch without its tracing machinery and without collecting.

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


# --- torch's tracing machinery, deferred (texture_addon/engine/torch_import.py) -------------------

DEFERRED_PROBE = (
    "import json, sys\n"
    "if sys.argv[1] == 'bpy': import bpy\n"
    "import texture_addon.engine\n"
    "from texture_addon.engine.torch_import import deferred_and_not_loaded\n"
    "import torch\n"
    "before = deferred_and_not_loaded()\n"
    "torch.Generator().manual_seed(1)\n"
    "after_generator = deferred_and_not_loaded()\n"
    "exported = callable(torch.export.export)\n"
    "print(json.dumps({'before': before, 'after_generator': after_generator,\n"
    "                  'exported': exported, 'after_export': deferred_and_not_loaded()}))\n"
)


def _deferred_probe(state: str, **env: str) -> dict:
    import os

    out = subprocess.run([sys.executable, "-c", DEFERRED_PROBE, state], cwd=ROOT, capture_output=True,
                         text=True, timeout=180, check=True, env={**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_engine_imports_torch_without_its_export_and_meta_machinery_which_still_load_on_use():
    r = _deferred_probe("plain")
    assert r["before"] == ["torch._meta_registrations", "torch.export"], r
    assert r["after_generator"] == r["before"]  # eager RNG works without them
    assert r["exported"] and r["after_export"] == ["torch._meta_registrations"], r


def test_inside_blender_and_on_request_torch_is_imported_whole():
    assert _deferred_probe("bpy")["before"] == []
    assert _deferred_probe("plain", TEXTURE_FORGE_FULL_TORCH_IMPORT="1")["before"] == []


def test_synthesis_bytes_do_not_depend_on_how_torch_was_imported(tmp_path):
    import os

    ref = str(ROOT / "benchmark" / "references" / "weave.png")
    outputs = []
    for full in ("0", "1"):
        out = tmp_path / f"weave_{full}.png"
        subprocess.run([sys.executable, "-m", "texture_addon", "synth", ref, "-o", str(out), "--size", "64",
                        "--seed", "5"], cwd=ROOT, check=True, capture_output=True, timeout=300,
                       env={**os.environ, "TEXTURE_FORGE_FULL_TORCH_IMPORT": full})
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def _deferred_module(tmp_path, name: str):
    """A module on disk that counts how often its code ran, imported through the deferring finder."""
    import importlib

    from texture_addon.engine import torch_import

    (tmp_path / f"{name}.py").write_text(
        "import time\nRUNS = globals().get('RUNS', 0) + 1\ntime.sleep(0.2)\nVALUE = 42\n")
    sys.path.insert(0, str(tmp_path))
    finder = torch_import._DeferringFinder(frozenset({name}))
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module(name)
    finally:
        sys.meta_path.remove(finder)
        sys.path.remove(str(tmp_path))


def test_a_deferred_module_answers_what_inspect_asks_without_running_and_runs_once_under_threads(tmp_path):
    import inspect
    import threading

    from texture_addon.engine.torch_import import deferred_and_not_loaded

    module = _deferred_module(tmp_path, "tf_deferred_probe")
    try:
        assert "tf_deferred_probe" in deferred_and_not_loaded()
        assert module.__file__.endswith("tf_deferred_probe.py")
        inspect.getmodule(inspect.currentframe())  # walks sys.modules asking for __file__
        assert "tf_deferred_probe" in deferred_and_not_loaded()
        assert "RUNS" not in module.__dict__

        seen = []
        threads = [threading.Thread(target=lambda: seen.append(module.VALUE)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == [42] * 4 and module.RUNS == 1
        assert "tf_deferred_probe" not in deferred_and_not_loaded()
        assert not hasattr(module, "MISSING")
    finally:
        sys.modules.pop("tf_deferred_probe", None)


def test_meta_kernels_can_be_loaded_on_request():
    probe = ("import json\nimport texture_addon.engine\nimport torch\n"
             "from texture_addon.engine.torch_import import deferred_and_not_loaded, load_deferred\n"
             "a = torch.zeros(1, 1, 8, 8, device='meta')\n"
             "try:\n    torch.fft.rfft2(a); before = 'ran'\nexcept NotImplementedError:\n    before = 'missing'\n"
             "load_deferred()\n"
             "after = tuple(torch.fft.rfft2(a).shape)\n"
             "print(json.dumps({'before': before, 'after': after, 'left': deferred_and_not_loaded()}))\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=180,
                         check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r == {"before": "missing", "after": [1, 1, 8, 5], "left": []}, r


def test_this_test_process_runs_on_the_engines_deferred_import():
    """conftest imports the engine first, so the in-process tests run on the torch the CLI and
    the worker get; a test that needs the meta kernels loads them in a process of its own."""
    from texture_addon.engine.torch_import import deferred_and_not_loaded

    assert "torch._meta_registrations" in deferred_and_not_loaded()
