"""The photo benchmark's own measuring parts: they must see what they claim to see.

The benchmark's figures are only as honest as these pieces: a case whose object share reads 0 with
the object still there, or a straighten figure whose "exact" warp is not exact, would make every
table in docs/benchmark.md meaningless.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bench_photos  # noqa: E402


@pytest.fixture(scope="module")
def gravel() -> np.ndarray:
    return bench_photos.load("gravel")


@pytest.mark.parametrize("kind", bench_photos.MASKS)
def test_object_share_sees_the_object_and_not_the_texture(gravel: np.ndarray, kind: str) -> None:
    mask = bench_photos.mask_of(kind, 256, np.random.default_rng(0))
    assert 0.005 < mask.mean() < 0.3
    photo = bench_photos.with_object(gravel, mask, np.random.default_rng(1))
    assert bench_photos.object_share(photo, mask) == 1.0
    assert bench_photos.object_share(gravel, mask) == 0.0
    assert (photo[~mask] == gravel[~mask]).all()


def test_border_mask_touches_the_border_and_cable_crosses_the_image() -> None:
    border = bench_photos.mask_of("border", 256, np.random.default_rng(0))
    cable = bench_photos.mask_of("cable", 256, np.random.default_rng(0))
    assert border[:, 0].any()
    assert cable.any(axis=0).all()


def test_straightening_figure_is_small_on_a_smooth_image_and_large_on_a_wrong_warp() -> None:
    """On a smooth image both rectifications are near exact; the figure sees a misplaced corner."""
    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    smooth = np.stack([0.5 + 0.3 * np.sin(2 * np.pi * xx), 0.5 + 0.3 * np.cos(2 * np.pi * yy), 0.5 + 0 * xx], -1)
    r = bench_photos.straighten_case(smooth.astype(np.float32))
    assert r["bilinear"] < 0.01 and r["ours"] < 0.01
    wrong = bench_photos.straighten(bench_photos.through_homography(smooth, bench_photos.CORNERS, 256),
                                    bench_photos.CORNERS + [[12, 0], [0, 0], [0, 0], [0, 0]], (128, 128))
    assert np.abs(wrong - smooth)[4:-4, 4:-4].mean() > 3 * r["ours"]


def test_heal_windows_score_a_copy_of_the_reference_zero_and_noise_high(gravel: np.ndarray) -> None:
    from texture_addon.evaluation.structure import StructureJudge

    mask = bench_photos.mask_of("disc", 256, np.random.default_rng(0))
    judge = StructureJudge(gravel)
    assert bench_photos.window_structure(gravel, mask, judge) < 0.01
    noise = np.random.default_rng(2).random(gravel.shape).astype(np.float32)
    assert bench_photos.window_structure(noise, mask, judge) > 0.5
