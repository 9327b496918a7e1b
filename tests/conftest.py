"""Shared fixtures for the engine and CLI tests.

OMP_WAIT_POLICY=PASSIVE is set before anything imports torch: pytest may run beside other busy
processes (and starts worker subprocesses that inherit it), and spin-waiting thread pools then
slow torch down by an order of magnitude.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Torch is imported the way the CLI and the worker import it (texture_addon/engine/torch_import.py),
# so the in-process tests run on the same torch as the product's processes.
import texture_addon.engine  # noqa: E402,F401

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def shrink(img: np.ndarray, side: int) -> np.ndarray:
    """Downscale a reference for fast tests (area average; keeps the texture's look)."""
    import torch

    from texture_addon.engine.resample import resize

    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]
    return resize(t, side, side)[0].permute(1, 2, 0).numpy().copy()


@pytest.fixture(scope="session")
def example():
    """example(name, side=96) -> float32 RGB reference from examples/, shrunk to ``side``."""
    from texture_addon.references import load_rgb

    cache: dict = {}

    def get(name: str, side: int = 96) -> np.ndarray:
        key = (name, side)
        if key not in cache:
            cache[key] = shrink(load_rgb(EXAMPLES / f"{name}.png"), side)
        return cache[key]

    return get


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real ``python -m texture_addon`` in a subprocess from the repository root."""
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    return subprocess.run([sys.executable, "-m", "texture_addon", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def wrap_rank(img: np.ndarray, axis: str) -> float:
    """Fraction of all line positions that would make a *smaller* seam than the real wrap boundary.

    A single image can have a sharp feature of the texture right on its boundary (the synthesis is
    exactly shift-equivariant, so the boundary is an ordinary line of a periodic image); a real seam
    ranks at the top (≈1.0) every time.
    """
    from texture_addon.references.seams import seam_rank

    return seam_rank(img, axis)


def folder(name: str) -> str:
    """A material's output folder: sanitised name + short hash of the real name (batch.material_folder)."""
    import hashlib
    import re

    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("._") or "texture"
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


# The quick tier (`make check`) leaves out what needs a real Blender binary, the engine installer
# and a real farm: those start whole programs (Blender under a virtual display, pip into fresh
# venvs, a Dask cluster) and are most of `make test`'s time. The benchmark's own harness is left
# out too: its tests run bench.py's programs end to end (peers, contact sheets, the photo and
# large-output suites) and check the measuring, not the product, which `make bench` exercises
# whenever a figure is taken. Everything else — engine, CLI, worker processes, local baking, the
# add-on through the bpy module — stays in the quick tier. Marked here, by file, so a new test
# file is in the quick tier unless it is one of these; a single test joins with @pytest.mark.full.
FULL_TIER_FILES = {
    "test_real_blender_headless.py",
    "test_real_blender_preferences.py",
    "test_real_blender_ui.py",
    "test_real_blender_save.py",
    "test_engine_installer.py",
    "test_blender_engine_install.py",
    "test_extension_package.py",
    "test_farm_dask.py",
    "test_flamenco_job.py",
    "test_bench_script.py",
    "test_bench_photos.py",
    "test_bench_set.py",
    "test_large_scale.py",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        if name.startswith("test_real_blender_") or name in FULL_TIER_FILES or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.full)
