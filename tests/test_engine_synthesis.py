"""End-to-end synthesis at small sizes: tiling, statistics, determinism, cancellation, blending."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from texture_addon.engine import CancelToken, noise_like, patch_distance, seam_score, synthesize
from texture_addon.errors import Cancelled, InputError

from conftest import wrap_rank


def interior_line_scores(img: np.ndarray, count: int = 12) -> list[float]:
    """Seam scores of the same image rolled so that interior lines sit on the boundary."""
    h, w = img.shape[:2]
    return [seam_score(np.roll(img, (h * k // count, w * k // count), (0, 1))) for k in range(1, count)]


@pytest.fixture(scope="module")
def lichen_out(example):
    ref = example("lichen", 128)
    return ref, synthesize([ref], width=128, seed=3, quality="draft")


def test_output_shape_range_and_dtype(example):
    out = synthesize([example("wood", 64)], width=96, height=64, quality="draft")
    assert out.shape == (64, 96, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0 and out.std() > 0.02


# Tiling tests look at the optimiser's own origin (typical_origin=False): the delivered tile is
# rolled so its edges sit on a median line, which would move a real seam into the interior.
RAW = dict(quality="draft", typical_origin=False)


def test_tileable_output_has_no_seam(example):
    ref = example("lichen", 128)
    outs = [synthesize([ref], width=128, seed=seed, **RAW) for seed in (0, 1, 2)]
    assert np.mean([seam_score(o) for o in outs]) <= 1.10
    # The wrap boundary is an unremarkable line of the image, not its worst one.
    assert np.mean([wrap_rank(o, "x") for o in outs]) < 0.9
    assert np.mean([wrap_rank(o, "y") for o in outs]) < 0.9


@pytest.mark.parametrize("name", ["bricks", "stones", "wood"])
def test_wrap_boundary_is_like_an_interior_line(example, name):
    outs = [synthesize([example(name, 96)], width=96, seed=seed, **RAW) for seed in (0, 1, 2)]
    ranks = [wrap_rank(o, axis) for o in outs for axis in ("x", "y")]
    assert np.mean(ranks) < 0.85, ranks  # a seam would rank ≈1.0 every time


def test_untiled_output_does_have_a_seam(example):
    ref = example("lichen", 128)
    tiled = synthesize([ref], width=96, seed=1, **RAW)
    untiled = synthesize([ref], width=96, seed=1, tile="none", **RAW)
    assert seam_score(untiled) > 1.5 > seam_score(tiled)


def test_one_axis_tiling(example):
    ref = example("lichen", 128)
    outs = [synthesize([ref], width=96, seed=seed, tile="x", **RAW) for seed in (0, 1, 2)]
    assert np.mean([wrap_rank(o, "x") for o in outs]) < 0.9          # tiles left-right
    assert min(wrap_rank(o, "y") for o in outs) > 0.95              # not top-bottom: a real seam
    assert min(seam_score(o, axis="y") for o in outs) > 1.5


@pytest.mark.parametrize("tile", ["both", "x"])
def test_delivered_tile_is_the_optimised_one_rolled_to_a_typical_line(example, tile):
    from texture_addon.references.seams import line_scores

    ref = example("bricks", 96)
    raw = synthesize([ref], width=96, height=80, seed=2, tile=tile, **RAW)
    out = synthesize([ref], width=96, height=80, seed=2, tile=tile, quality="draft")
    shifts = [(dy, dx) for dy in range(80) for dx in range(96)
              if np.array_equal(np.roll(raw, (-dy, -dx), (0, 1)), out)]
    assert shifts, "not a circular shift of the optimised image"
    dy, dx = shifts[0]
    assert dy == 0 or tile == "both"  # a non-periodic axis never moves
    for axis in ("x", "y") if tile == "both" else ("x",):
        s = line_scores(out, axis)
        assert s[0] == np.sort(s)[(len(s) - 1) // 2]  # the edge is the median line
    assert seam_score(out, axis="x") <= 1.10


def test_matches_reference_statistics_far_better_than_noise(lichen_out):
    ref, out = lichen_out
    ours = patch_distance(out, ref)
    floor = patch_distance(noise_like(ref, 128, 128, seed=0), ref)
    assert ours < 0.35 * floor, (ours, floor)


def test_deterministic_for_a_seed_and_different_across_seeds(example):
    ref = example("stones", 64)
    a = synthesize([ref], width=64, seed=7, quality="draft")
    b = synthesize([ref], width=64, seed=7, quality="draft")
    c = synthesize([ref], width=64, seed=8, quality="draft")
    assert a.tobytes() == b.tobytes()
    assert np.abs(a - c).mean() > 0.01


def test_output_size_independent_of_reference_size(example):
    out = synthesize([example("wood", 64)], width=160, height=128, quality="draft")
    assert out.shape == (128, 160, 3)


def test_detail_scale_changes_feature_size(example):
    """Larger detail scale → larger features → smaller neighbour differences per pixel."""
    ref = example("stones", 96)
    small = synthesize([ref], width=96, seed=0, quality="draft", detail_scale=0.5)
    large = synthesize([ref], width=96, seed=0, quality="draft", detail_scale=2.0)
    grad = lambda im: np.abs(np.diff(im, axis=1)).mean()  # noqa: E731
    assert grad(small) > 1.5 * grad(large)


def test_progress_reports_every_step_in_order_with_previews(example):
    seen = []
    synthesize([example("wood", 64)], width=64, quality="draft", progress=seen.append)
    steps = [p.step for p in seen]
    assert steps == list(range(1, seen[0].total_steps + 1))
    assert [p.level for p in seen] == sorted(p.level for p in seen)
    previews = [p.preview for p in seen if p.preview is not None]
    assert previews and all(p.ndim == 3 and p.shape[2] == 3 and max(p.shape[:2]) <= 128 for p in previews)
    assert all(np.isfinite(p.loss) for p in seen)


def test_cancel_from_progress_callback(example):
    token = CancelToken()
    seen = []

    def progress(info):
        seen.append(info.step)
        if info.step == 5:
            token.cancel()

    with pytest.raises(Cancelled):
        synthesize([example("wood", 64)], width=64, quality="draft", progress=progress, cancel=token)
    assert seen[-1] == 5


def test_cancel_returns_within_a_second_at_512(example):
    token = CancelToken()
    finest = threading.Event()
    result: dict = {}

    def progress(info):
        if info.level == info.levels:
            finest.set()

    def work():
        try:
            # default: the finest level has several iterations, so a cancel can land inside it
            synthesize([example("wood", 128)], width=512, quality="default", progress=progress, cancel=token)
            result["outcome"] = "finished"
        except Cancelled:
            result["outcome"] = "cancelled"
        result["at"] = time.monotonic()

    thread = threading.Thread(target=work)
    thread.start()
    assert finest.wait(120), "never reached the finest level"
    asked = time.monotonic()
    token.cancel()
    thread.join(30)
    print(f"cancel took {result['at'] - asked:.3f} s at 512²")
    assert result["outcome"] == "cancelled"
    assert result["at"] - asked < 1.0


def _flat(colour, side=64, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(np.array(colour, np.float32) + rng.normal(0, 0.05, (side, side, 3)), 0, 1).astype(np.float32)


def test_two_references_blend_between_them():
    red, blue = _flat([0.8, 0.2, 0.2]), _flat([0.2, 0.2, 0.8], seed=1)
    both = synthesize([red, blue], [1, 1], width=64, quality="draft")
    mostly_red = synthesize([red, blue], [1, 0.25], width=64, quality="draft")
    d_rb = patch_distance(red, blue)
    assert patch_distance(both, red) < d_rb and patch_distance(both, blue) < d_rb
    # Weights move the statistics: a heavier red weight means more red pixels.
    assert (mostly_red[..., 0] > mostly_red[..., 2]).mean() > (both[..., 0] > both[..., 2]).mean() + 0.2
    assert 0.3 < (both[..., 0] > both[..., 2]).mean() < 0.7


def test_cnn_method_tiles_and_beats_noise(example):
    ref = example("lichen", 96)
    for loss in ("sw", "gram"):
        out = synthesize([ref], width=96, method="cnn", cnn_loss=loss, seed=1, **RAW)
        assert seam_score(out) <= max(interior_line_scores(out)) * 1.05
        assert patch_distance(out, ref) < 0.7 * patch_distance(noise_like(ref, 96, 96), ref)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(width=32), "out of range"),
        (dict(width=5000), "out of range"),
        (dict(height=10**6), "out of range"),
        (dict(weights=[1, 2]), "weight"),
        (dict(weights=[-1]), "non-negative"),
        (dict(tile="diagonal"), "tiling"),
        (dict(quality="ultra"), "quality"),
        (dict(method="magic"), "method"),
        (dict(detail_scale=100), "detail scale"),
        (dict(device="tpu"), "device"),
    ],
)
def test_bad_arguments_are_input_errors(example, kwargs, message):
    with pytest.raises(InputError, match=message):
        synthesize([example("wood", 64)], **{"width": 64, **kwargs})


def test_bad_reference_arrays_are_input_errors():
    with pytest.raises(InputError, match="at least one"):
        synthesize([], width=64)
    with pytest.raises(InputError, match="NaN"):
        synthesize([np.full((32, 32, 3), np.nan, np.float32)], width=64)
    with pytest.raises(InputError, match="too small"):
        synthesize([np.zeros((4, 4, 3), np.float32)], width=64)


@pytest.mark.slow  # a 256² output: full tier (tests/conftest.py)
def test_cnn_method_does_not_repeat_the_reference(example):
    """At 4× the reference's side the CNN family once tiled the reference (autocorrelation 0.92)."""
    ref = example("lichen", 128)
    out = synthesize([ref], width=256, method="cnn", quality="draft", typical_origin=False)
    g = out.mean(axis=2) - out.mean()
    spec = np.fft.fft2(g)
    ac = np.real(np.fft.ifft2(spec * np.conj(spec)))
    ac /= ac[0, 0]
    assert max(abs(ac[128, 0]), abs(ac[0, 128]), abs(ac[128, 128])) < 0.3
