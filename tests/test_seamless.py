"""make_seamless: a non-tiling image comes out tiling, its interior untouched, no cross-fade."""

from __future__ import annotations

import functools

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


def local_seam(img: np.ndarray, span: int = 8) -> float:
    """The wrap line's gradient over the median of the ``span`` lines on each side of it (worse axis).

    The plain seam score compares the wrap line with every line of the image, so a band that is
    busier than the image's average (stones' outlines continued across it) scores above 1 without
    any seam; next to its own neighbours a real seam still stands out several times over."""
    grey, worst = img.mean(-1), 0.0
    for a in (grey, grey.T):
        d = np.abs(a - np.roll(a, -1, 0)).mean(1)  # d[i]: line i to line i+1; d[-1] is the wrap
        worst = max(worst, float(d[-1] / np.median(np.concatenate([d[-1 - span:-1], d[:span]]))))
    return worst


def test_seam_disappears_and_centre_is_kept(case):
    name, img, out = case
    assert out.shape == img.shape and out.dtype == np.float32
    before, after = local_seam(img), local_seam(out)
    c = slice(SIDE // 4, 3 * SIDE // 4)
    centre = psnr(out[c, c], img[c, c])
    print(f"{name}: local seam {before:.2f} -> {after:.2f}, seam {seam_score(img):.2f} -> {seam_score(out):.2f}; "
          f"centre PSNR {centre:.1f} dB")
    assert seam_score(img) > 1.5 and before > 3.0, "the test image must not tile to begin with"
    assert after < 1.25  # an ordinary line among its neighbours (0.8-1.1 over seeds; 6.7-7.4 before)
    assert seam_score(out) < 1.3
    assert centre > 45.0


def test_statistics_band_still_hides_the_seam(example):
    img = example("stones", 256)[:SIDE, 40:40 + SIDE]
    out = make_seamless(img, quality="default", method="patch")
    assert seam_score(out) < 1.10 and local_seam(out) < 1.25


def test_default_band_continues_the_structure_better_than_the_statistics_band(example):
    """Why ``nn`` is the default: the statistics band reads as a blurred, streaky cross that breaks
    brick courses. Scored on the middle half of the re-centred output, where the band crosses (on
    9 test images ``nn`` scored better on 7; stones and a gradient photo the other way, by 0.03-0.06,
    with the streaky cross still visible there)."""
    from texture_addon.evaluation.structure import structure_score

    img = example("bricks", 256)[:SIDE, 40:40 + SIDE]
    q = SIDE // 4

    def band_figure(out: np.ndarray) -> float:
        centred = np.roll(out, (SIDE // 2, SIDE // 2), (0, 1))
        return structure_score(centred[q:-q, q:-q], img, periodic=False).structure

    default, statistics = band_figure(make_seamless(img)), band_figure(make_seamless(img, method="patch"))
    assert default < statistics - 0.02, (default, statistics)


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
    assert result.shape == (96, 96, 3) and local_seam(result) < 1.3
    r = run_cli("seamless", src, "-o", out, "--band", "0.2", "--quality", "draft", "--method", "patch")
    assert r.returncode == 0, r.stderr
    assert seam_score(load_rgb(out)) < 1.2

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


@functools.lru_cache(maxsize=None)
def gradient_outputs(seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """A gradient-and-discs image and its default band for three engine seeds (shared by tests)."""
    img = photo_like(seed=seed)
    return img, [make_seamless(img, quality="default", method="nn", seed=s) for s in (0, 1, 2)]


def speckle_share(img: np.ndarray, threshold: float = 0.15) -> np.ndarray:
    """(H, W) bool: pixels more than ``threshold`` off the median of their 3×3 neighbourhood."""
    h, w = img.shape[:2]
    p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="wrap")
    median = np.median(np.stack([p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)]), axis=0)
    return np.abs(img - median).max(axis=-1) > threshold


@pytest.mark.parametrize("seed", [3, 5])
def test_correspondence_band_does_not_stipple_cut_discs(seed):
    """Where the band cuts a disc, its in-between pixels used to be sent some to the disc's colour
    and some to the ground's (a 3-D colour transport): stippled discs, 3-7× the image's own share
    of isolated pixels. A per-channel monotone transport keeps soft edges soft."""
    img, outs = gradient_outputs(seed)
    band = np.roll(band_mask(SIDE, SIDE, 0.15)[0, 0].numpy(), (-(SIDE // 2), -(SIDE // 2)), (0, 1)) > 0.5
    own = speckle_share(img)[band].mean()
    shares = [speckle_share(out)[band].mean() for out in outs]
    print(f"speckle share in the band: image {own:.4f}, outputs {shares}")
    assert np.mean(shares) <= 1.5 * own + 0.001, (own, shares)


@pytest.mark.parametrize("seed", [3, 5])
def test_correspondence_band_leaves_no_colour_step(seed):
    """Patches from each side of the old seam continue that side's colour; on a colour gradient
    they used to meet in a step (low-pass seam 1.6–1.8). The smooth part is interpolated instead.

    Judged over three engine seeds: one draw's plain seam score spreads widely (0.67–1.28 over six
    images × three seeds on the CPU; a CUDA run drew 1.22 where the CPU's seed 0 gave 1.07), so a
    single seed's bar only held by luck. The untreated images score 4.3–4.4."""
    img, outs = gradient_outputs(seed)
    c = slice(SIDE // 4, 3 * SIDE // 4)
    plain, low = [], []
    for out in outs:
        assert psnr(out[c, c], img[c, c]) > 45.0
        plain.append(seam_score(out))
        low.append(_low_pass_seam(out))
    assert max(low) < 1.5 and np.mean(low) < 1.35, low
    assert np.mean(plain) < 1.15, plain


@pytest.mark.parametrize("shape, band", [((64, 64), 0.15), ((100, 200), 0.3), ((37, 41), 0.5), ((128, 96), 0.05)])
def test_band_surroundings_are_the_band_dilated_by_its_width(shape, band):
    """The running-sum dilation agrees with a plain max-pool (its O(width²)-per-pixel original)."""
    import torch
    import torch.nn.functional as F

    from texture_addon.engine.resample import resize
    from texture_addon.engine.seamless import resize_mask_ring

    for mask in (band_mask(*shape, band), resize(band_mask(*shape, band), shape[0] // 2, shape[1] // 2, True, True).clamp(0, 1)):
        width = max(1, round(float((mask > 0.5).float().mean(dim=3).min()) * mask.shape[3]))
        brute = F.max_pool2d(F.pad(mask, (width,) * 4, mode="circular"), 2 * width + 1, stride=1) > 0
        assert torch.equal(resize_mask_ring(mask) > 0, brute)


def test_band_levels_are_settled_monotonically_and_the_kept_pixels_untouched():
    """The band's averaged votes lose contrast; settling gives it back one channel at a time by a
    monotone map, so a smooth ramp stays a ramp (a 3-D colour transport bent it: steps of -0.006)."""
    import torch

    from texture_addon.engine.seamless import settle_levels

    h = w = 64
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    known = torch.stack([xx, 1 - xx, 0.5 * yy + 0.25])[None]
    mask = band_mask(h, w, 0.3)
    x = known * 0.5 + 0.25  # the band's estimate: the right order, half the contrast
    out = settle_levels(x, known, mask)
    inside, outside = mask[0, 0] > 0.5, mask[0, 0] == 0
    assert torch.equal(out[:, :, outside], known[:, :, outside])
    assert float(torch.diff(out[0, 0, h // 2]).min()) >= -1e-6  # a row along the band's arm
    assert float(out[0, 0][inside].std()) > 2 * float(x[0, 0][inside].std())
