"""The benchmark's reference set is what scripts/make_bench_set.py makes, and each file's origin is noted."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
REFS = ROOT / "benchmark" / "references"
sys.path.insert(0, str(ROOT / "scripts"))

import make_bench_set  # noqa: E402


def test_set_has_photographs_and_structured_images_with_sources():
    files = sorted(p.stem for p in REFS.glob("*.png"))
    assert len(files) >= 12
    assert len(make_bench_set.PHOTOS) >= 6 and len(make_bench_set.PROCEDURAL) >= 4
    assert set(files) == set(make_bench_set.PHOTOS) | set(make_bench_set.PROCEDURAL)
    sources = (REFS / "SOURCES.md").read_text()
    for name in files:
        img = Image.open(REFS / f"{name}.png")
        assert img.size == (256, 256) and img.mode == "RGB", name
        assert f"`{name}.png`" in sources, name
    for name, (_, _, _, licence) in make_bench_set.PHOTOS.items():
        assert licence.split(" — ")[0] in ("CC0", "public domain", "no known copyright restrictions"), name


@pytest.mark.parametrize("name", list(make_bench_set.PROCEDURAL))
def test_procedural_references_are_reproducible(name):
    """Regenerating gives the committed pixels (fixed seeds; numpy and pillow pinned)."""
    k = list(make_bench_set.PROCEDURAL).index(name)
    made = np.asarray(make_bench_set.PROCEDURAL[name][0](np.random.default_rng(1000 + k)))
    kept = np.asarray(Image.open(REFS / f"{name}.png").convert("RGB"))
    assert np.array_equal(made, kept)
