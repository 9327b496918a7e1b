"""Preparing a photographed reference: straighten (homography), flatten (light), and their CLI errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from texture_addon.errors import InputError
from texture_addon.references.prepare import prepare
from texture_addon.references.prepare.flatten import flatten, gaussian, gaussian_high_pass, log_luminance
from texture_addon.references.prepare.straighten import _project, homography, straighten


def _texture(side: int = 128, seed: int = 0) -> np.ndarray:
    """An evenly lit, grainy colour texture (band-limited noise around a brownish grey)."""
    rng = np.random.default_rng(seed)
    grain = np.stack([gaussian(rng.standard_normal((side, side)), 1.5) for _ in range(3)], axis=2)
    return np.clip(np.array([0.55, 0.45, 0.35]) * (1 + 2.5 * grain), 0.05, 1).astype(np.float32)


def _centred(ll: np.ndarray) -> np.ndarray:
    return ll - ll.mean()


# --- flatten -----------------------------------------------------------------------------------

def test_flattened_gradient_is_flat_and_texture_kept():
    clean = _texture()
    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    light = (0.3 + 0.7 * xx) * (1 - 0.5 * ((xx - 0.5) ** 2 + (yy - 0.4) ** 2))
    lit = (clean * light[..., None]).astype(np.float32)
    out = flatten(lit)
    coarse = gaussian(log_luminance(out), 12)[16:-16, 16:-16]  # the light left over
    assert np.ptp(coarse) < 0.15, np.ptp(coarse)
    assert np.ptp(gaussian(log_luminance(lit), 12)[16:-16, 16:-16]) > 1.0  # it was there before
    err = np.abs(_centred(log_luminance(out)) - _centred(log_luminance(clean))).mean()
    assert err < 0.05, err
    # A plain flat colour under the same gradient comes out one flat colour.
    plain = np.full((128, 128, 3), [0.6, 0.5, 0.4], np.float32) * light[..., None]
    assert np.ptp(log_luminance(plain)) > 1.3
    assert np.ptp(log_luminance(flatten(plain))) < 0.15
    assert np.ptp(log_luminance(flatten(plain))[8:-8, 8:-8]) < 0.08


def test_flat_image_stays_flat_and_chroma_is_kept():
    flat = np.full((64, 96, 3), [0.7, 0.4, 0.2], np.float32)
    assert np.abs(flatten(flat) - flat).max() < 1e-5
    clean = _texture(96, 3)
    yy, xx = np.mgrid[0:96, 0:96] / 96.0
    out = flatten(clean * (0.4 + 0.6 * yy)[..., None])
    ratio_in, ratio_out = clean[..., 0] / clean[..., 1], out[..., 0] / out[..., 1]
    unclipped = out.max(axis=2) < 0.999
    assert np.abs(ratio_in - ratio_out)[unclipped].max() < 1e-3


def test_hard_shadow_edge_leaves_far_less_halo_than_a_high_pass(example):
    clean = example("stones", 128)
    xx = np.mgrid[0:128, 0:128][1]
    photo = (clean * np.where(xx < 64, 0.4, 1.0)[..., None]).astype(np.float32)

    def halo(img: np.ndarray) -> float:
        """Worst gap between the mean level of a 6-px band beside the edge and the rest of its side."""
        d = _centred(log_luminance(img)) - _centred(log_luminance(clean))
        return max(abs(d[:, 58:64].mean() - d[:, 8:50].mean()), abs(d[:, 64:70].mean() - d[:, 78:120].mean()))

    baseline = halo(gaussian_high_pass(photo, 0.12 * 128))
    assert baseline > 0.3  # the plain high-pass leaves a bright and a dark band
    assert halo(flatten(photo)) < min(0.2, 0.5 * baseline), (halo(flatten(photo)), baseline)
    d = _centred(log_luminance(flatten(photo))) - _centred(log_luminance(clean))
    assert abs(d[:, :64].mean() - d[:, 64:].mean()) < 0.15  # the shadow itself is gone (it was 0.92)


def test_flatten_controls_are_checked():
    img = _texture(64)
    with pytest.raises(InputError):
        flatten(img, strength=2.0)
    with pytest.raises(InputError):
        flatten(img, scale=0.0)
    assert np.abs(flatten(img * 0.5, strength=0.0) - img * 0.5).max() < 1e-6


# --- straighten --------------------------------------------------------------------------------

CELL = 12
BOARD = 8 * CELL


def _board(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return ((np.floor(u / CELL) + np.floor(v / CELL)) % 2).astype(np.float32)


def _photo_of_board(corners: np.ndarray, side: int = 128, ss: int = 6) -> np.ndarray:
    """The 96-px checkerboard seen through the homography onto ``corners``, rendered with ss² samples."""
    to_board = homography(corners, np.array([[0, 0], [BOARD, 0], [BOARD, BOARD], [0, BOARD]], float))
    y, x = np.mgrid[0:side, 0:side].astype(float)
    acc = np.zeros((side, side))
    for j in range(ss):
        for i in range(ss):
            u, v = _project(to_board, x + (i + 0.5) / ss, y + (j + 0.5) / ss)
            inside = (u >= 0) & (u < BOARD) & (v >= 0) & (v < BOARD)
            acc += np.where(inside, _board(u, v), 0.5)
    return np.repeat((acc / ss ** 2)[..., None], 3, axis=2).astype(np.float32)


def test_rectified_checkerboard_has_straight_lines_and_square_cells():
    corners = np.array([[20.0, 14.0], [118.0, 4.0], [124.0, 122.0], [6.0, 104.0]])
    out = straighten(_photo_of_board(corners), corners, (BOARD, BOARD))[..., 0]
    assert out.shape == (BOARD, BOARD)
    v, u = np.mgrid[0:BOARD, 0:BOARD] + 0.5
    truth = _board(u, v)
    assert np.abs(out - truth).mean() < 0.08
    # Each vertical edge between cells crosses every row at the same column, CELL apart: lines
    # are straight and cells square. Crossing = where the row's profile passes 0.5 (sub-pixel).
    rows = range(CELL // 2, BOARD, CELL)  # mid-cell rows: the profile alternates cleanly there
    for k in range(1, 8):
        xs = []
        for r in rows:
            seg = out[r, k * CELL - 4:k * CELL + 4]
            s = seg - 0.5
            i = int(np.nonzero(np.sign(s[:-1]) != np.sign(s[1:]))[0][0])
            xs.append(k * CELL - 4 + i + 0.5 + s[i] / (s[i] - s[i + 1]))
        assert np.ptp(xs) < 0.6, (k, xs)
        assert abs(np.mean(xs) - k * CELL) < 0.4, (k, np.mean(xs))


def test_whole_image_corners_give_the_image_back():
    img = _texture(64, 5)[:48]
    out = straighten(img, [[0, 0], [64, 0], [64, 48], [0, 48]])
    assert out.shape == img.shape
    assert np.abs(out - img).max() < 1e-4


def test_minified_fine_grain_does_not_alias():
    stripes = np.repeat(((np.arange(256) % 2).astype(np.float32)[None, :, None]), 64, axis=0).repeat(3, axis=2)
    out = straighten(stripes, [[0, 0], [256, 0], [256, 64], [0, 64]], (40, 10))  # 6.4 px per output px
    assert np.abs(out - 0.5).max() < 0.06, np.abs(out - 0.5).max()


def test_prepare_runs_straighten_heal_flatten_in_order():
    img = _texture(96, 2)
    mask = np.zeros((96, 96), bool)
    mask[40:50, 40:56] = True
    img[mask] = [1.0, 0.0, 1.0]
    corners = np.array([[4.0, 4.0], [92.0, 6.0], [90.0, 92.0], [6.0, 90.0]])
    out = prepare(img, corners, (64, 64), True, mask)
    assert out.shape == (64, 64, 3)
    magenta = (out[..., 0] > 0.8) & (out[..., 1] < 0.25) & (out[..., 2] > 0.8)
    assert not magenta.any()


# --- the CLI's bad input -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("prep")
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((64, 80, 3)) * 255).astype(np.uint8)).save(d / "photo.png")
    m = np.zeros((64, 80), np.uint8)
    m[20:30, 30:40] = 255
    Image.fromarray(m).save(d / "mask.png")
    Image.fromarray(np.zeros((64, 80), np.uint8)).save(d / "empty.png")
    Image.fromarray(np.full((64, 80), 255, np.uint8)).save(d / "full.png")
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(d / "small.png")
    return d


@pytest.mark.parametrize("extra, message", [
    (("--corners", "1,1,70,2,75,60"), "exactly four corners"),
    (("--corners", "1,1,70,2,75,60,3,62,5,5"), "exactly four corners"),
    (("--corners", "1,1,70,2,75,60,3,90"), "outside"),
    (("--corners=-3,1,70,2,75,60,3,62",), "outside"),
    (("--corners", "1,1,75,60,70,2,3,62"), "self-intersecting"),
    (("--corners", "1,1,40,1,79,1,3,62"), "degenerate"),
    (("--corners", "1,1,1,1,75,60,3,62"), "degenerate"),
    (("--corners", "1,1,70,2,75,60,3,62", "--size", "90000x20"), "8…8192"),
    (("--corners", "1,1,70,2,75,60,3,62", "--size", "0x0"), "8…8192"),
    (("--corners", "1,1,70,2,75,60,3,62", "--size", "big"), "WIDTHxHEIGHT"),
    (("--corners", "1,1,5,1,5,4,1,4"), "degenerate"),
    (("--heal-mask", "small.png"), "40×40"),
    (("--heal-mask", "empty.png"), "selects nothing"),
    (("--heal-mask", "full.png"), "whole image"),
    ((), "nothing to do"),
])
def test_prepare_bad_input_exits_2_with_one_line_and_writes_nothing(files, extra, message):
    out = files / "out.png"
    args = [a if not a.endswith(".png") else files / a for a in extra]
    r = run_cli("prepare", files / "photo.png", "-o", out, *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


@pytest.mark.parametrize("mask, message", [("small.png", "40×40"), ("empty.png", "selects nothing"),
                                           ("full.png", "whole image")])
def test_heal_bad_mask_exits_2_with_one_line_and_writes_nothing(files, mask, message):
    out = files / "healed.png"
    r = run_cli("heal", files / "photo.png", "--mask", files / mask, "-o", out)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


def test_prepare_cli_writes_the_straightened_size_and_never_its_input(files):
    out = files / "prepared.png"
    r = run_cli("prepare", files / "photo.png", "-o", out, "--corners", "2,2,78,4,76,62,3,60", "--size", "48x32",
                "--flatten", "--heal-mask", files / "mask.png")
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (48, 32)
    before = (files / "photo.png").read_bytes()
    r = run_cli("prepare", files / "photo.png", "-o", files / "photo.png", "--flatten")
    assert r.returncode == 2 and "is the input" in r.stderr
    assert (files / "photo.png").read_bytes() == before


def test_synth_flatten_evens_out_a_lit_reference(tmp_path, example):
    clean = example("stones", 96)
    xx = np.mgrid[0:96, 0:96][1] / 96.0
    lit = (clean * (0.25 + 0.75 * xx)[..., None] * 255).round().astype(np.uint8)
    Image.fromarray(lit).save(tmp_path / "lit.png")
    spread = {}
    for flag in ((), ("--flatten",)):
        out = tmp_path / f"t{len(flag)}.png"
        r = run_cli("synth", tmp_path / "lit.png", "-o", out, "--size", 64, "--quality", "draft", *flag)
        assert r.returncode == 0, r.stderr
        img = np.asarray(Image.open(out), np.float32) / 255.0
        spread[flag] = float(gaussian(log_luminance(img), 8).std())  # blotches of light copied around
    assert spread[("--flatten",)] < 0.6 * spread[()], spread
