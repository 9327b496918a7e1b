"""make_seamless: a non-tiling image comes out tiling, its interior untouched, no cross-fade."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import EXAMPLES, run_cli
from texture_addon.engine import make_seamless, seam_score
from texture_addon.engine.seamless import band_mask
from texture_addon.errors import InputError
from texture_addon.references import load_rgb, save_png

SIDE = 128


def photo_like(side: int = SIDE, seed: int = 3) -> np.ndarray:
    """Non-periodic test image: a colour gradient, discs of many sizes and sensor-like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    img = np.stack([0.25 + 0.4 * xx, 0.3 + 0.3 * yy, 0.5 - 0.3 * xx * yy], -1)
    for _ in range(40):
        cx, cy, r = rng.random(), rng.random(), 0.02 + 0.06 * rng.random()
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.random(3) * 0.6 + 0.2
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


@pytest.fixture(scope="module", params=["photo", "stones"])
def case(request, example):
    img = photo_like() if request.param == "photo" else example("stones", 256)[:SIDE, 40:40 + SIDE]
    return request.param, img, make_seamless(img, quality="default")


def test_seam_disappears_and_centre_is_kept(case):
    name, img, out = case
    assert out.shape == img.shape and out.dtype == np.float32
    before, after = seam_score(img), seam_score(out)
    c = slice(SIDE // 4, 3 * SIDE // 4)
    centre = psnr(out[c, c], img[c, c])
    print(f"{name}: seam {before:.2f} -> {after:.2f}; centre PSNR {centre:.1f} dB")
    assert before > 1.5, "the test image must not tile to begin with"
    assert after < 1.10
    assert centre > 45.0


def test_band_is_new_texture_not_a_cross_fade(case):
    """A cross-fade makes the border mean of the two opposite sides (ghosting, low contrast)."""
    name, img, out = case
    k = 3  # the rows just inside the top and bottom edges
    top, bottom = out[:k], out[-k:]
    fade = 0.5 * (img[:k] + img[-k:][::-1])
    assert np.abs(top - fade).mean() > 0.02
    # local contrast in the band stays like the image's, not the halved contrast of a blend
    grad = lambda a: np.abs(np.diff(a, axis=1)).mean()
    assert grad(np.concatenate([top, bottom])) > 0.6 * grad(img)


def test_band_mask_is_a_cross_of_the_requested_width():
    m = band_mask(100, 200, 0.2)[0, 0].numpy()
    assert m[50, 100] == 1 and m[0, 0] == 0
    assert (m[:, 0] > 0.5).sum() in range(18, 23)   # 20 % of 100 rows
    assert (m[0, :] > 0.5).sum() in range(38, 43)   # 20 % of 200 columns


def test_bad_parameters():
    with pytest.raises(InputError, match="band"):
        make_seamless(photo_like(), band=0.9)
    with pytest.raises(InputError, match="each side"):
        make_seamless(photo_like(32))


def test_cli_round_trip_and_bad_inputs(tmp_path):
    src = tmp_path / "photo.png"
    save_png(src, photo_like(96))
    out = tmp_path / "out.png"
    r = run_cli("seamless", src, "-o", out, "--band", "0.2", "--quality", "draft")
    assert r.returncode == 0, r.stderr
    result = load_rgb(out)
    assert result.shape == (96, 96, 3) and seam_score(result) < 1.2

    bad = tmp_path / "bad.png"
    for args, words in [
        ((tmp_path / "missing.png", "-o", bad), "not found"),
        ((EXAMPLES / "wood.png", "-o", tmp_path / "bad.jpg"), ".png"),
        ((EXAMPLES / "wood.png", "-o", bad, "--band", "2"), "band"),
    ]:
        r = run_cli("seamless", *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert not bad.exists()


def _low_pass_seam(img: np.ndarray, sigma: float = 4.0) -> float:
    import torch

    from texture_addon.engine.pbr import WrapFilter

    t = torch.from_numpy(img).permute(2, 0, 1)[None].double()
    smooth = WrapFilter(img.shape[0], img.shape[1], (True, True)).blur(t, sigma)[0].permute(1, 2, 0)
    return seam_score(smooth.numpy().astype(np.float32))


@pytest.mark.parametrize("seed", [3, 5])
def test_correspondence_band_leaves_no_colour_step(seed):
    """Patches from each side of the old seam continue that side's colour; on a colour gradient
    they used to meet in a step (low-pass seam 1.6–1.8). The smooth part is interpolated instead."""
    img = photo_like(seed=seed)
    out = make_seamless(img, quality="default", method="nn")
    c = slice(SIDE // 4, 3 * SIDE // 4)
    assert psnr(out[c, c], img[c, c]) > 45.0
    assert _low_pass_seam(out) < 1.45
    assert seam_score(out) < 1.15
