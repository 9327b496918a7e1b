"""Heal: masked areas filled from the rest of the image, nothing outside them touched."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from texture_addon.engine.heal import heal, image_tiles, work_window
from texture_addon.engine.progress import CancelToken
from texture_addon.errors import Cancelled, InputError
from texture_addon.references.seams import seam_score

# the module: the package exports the function under the same name
heal_module = importlib.import_module("texture_addon.engine.heal")

MAGENTA = np.array([1.0, 0.0, 1.0], np.float32)


def _object_share(out: np.ndarray, mask: np.ndarray) -> float:
    return float((np.abs(out[mask] - MAGENTA).max(axis=1) < 0.3).mean())


def _pasted(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = img.copy()
    out[mask] = MAGENTA
    return out


def test_object_and_cable_leave_no_trace_and_nothing_else_changes(example):
    clean = example("stones", 96)
    yy, xx = np.mgrid[0:96, 0:96]
    mask = ((yy - 40) ** 2 + (xx - 50) ** 2 < 14 ** 2) | (np.abs(yy - 0.4 * xx - 60) < 1.5)  # disc + cable
    mask |= (xx < 6) & (yy > 70)                                                            # on the border
    img = _pasted(clean, mask)
    out = heal(img, mask, wrap=False, seed=1)
    assert _object_share(out, mask) == 0.0
    assert np.array_equal(out[~mask], img[~mask])
    # Filled with the texture, not a flat blot: about the stones' own contrast.
    assert out[mask].std() > 0.5 * clean.std()


def test_tileable_image_stays_tileable_across_a_border_hole():
    rng = np.random.default_rng(0)
    spec = np.fft.fft2(rng.standard_normal((96, 96, 3)), axes=(0, 1))
    f = np.fft.fftfreq(96)
    spec *= np.exp(-(f[:, None] ** 2 + f[None, :] ** 2) * 400)[..., None]
    tile = np.real(np.fft.ifft2(spec, axes=(0, 1)))
    tile = ((tile - tile.min()) / np.ptp(tile)).astype(np.float32)  # periodic by construction
    assert image_tiles(tile)
    yy, xx = np.mgrid[0:96, 0:96]
    mask = (np.minimum(xx, 96 - xx) < 8) & (np.abs(yy - 48) < 20)  # straddles the left/right wrap
    out = heal(_pasted(tile, mask), mask, seed=0)  # wrap decided from the image
    assert _object_share(out, mask) == 0.0
    assert seam_score(out, "x") < 1.3, seam_score(out, "x")
    unwrapped = heal(_pasted(tile, mask), mask, wrap=False, seed=0)  # each side filled on its own
    assert seam_score(unwrapped, "x") > 1.5 * seam_score(out, "x"), (seam_score(unwrapped, "x"), seam_score(out, "x"))


def test_small_hole_in_a_large_image_heals_in_a_window_around_it():
    hole = np.zeros((512, 512), bool)
    hole[100:140, 300:330] = True
    assert work_window(hole, wrap=False) == ((0, 0), (36, 204, 236, 394))
    hole[:, 500] = True  # a cable across: the window would be most of the image
    assert work_window(hole, wrap=False) is None
    border = np.zeros((512, 512), bool)
    border[200:230, :10] = border[200:230, -10:] = True  # one hole across the left/right wrap
    (sy, sx), (y0, y1, x0, x1) = work_window(border, wrap=True)
    assert x1 - x0 <= 20 + 2 * 64 and y1 - y0 <= 30 + 2 * 64
    assert np.roll(border, (sy, sx), (0, 1))[y0:y1, x0:x1].sum() == border.sum()
    assert work_window(border, wrap=False) is None  # without wrap the two halves are far apart


def test_windowed_heal_of_a_tileable_image_keeps_its_outside_and_tiles(monkeypatch):
    """The window path, rolled across the wrap, against the whole-image path on the same hole."""
    rng = np.random.default_rng(3)
    spec = np.fft.fft2(rng.standard_normal((256, 256, 3)), axes=(0, 1))
    f = np.fft.fftfreq(256)
    spec *= np.exp(-(f[:, None] ** 2 + f[None, :] ** 2) * 900)[..., None]
    tile = np.real(np.fft.ifft2(spec, axes=(0, 1)))
    tile = ((tile - tile.min()) / np.ptp(tile)).astype(np.float32)
    yy, xx = np.mgrid[0:256, 0:256]
    mask = (np.minimum(xx, 256 - xx) < 6) & (np.abs(yy - 60) < 8)
    img = _pasted(tile, mask)
    seen = []
    real = heal_module._heal
    monkeypatch.setattr(heal_module, "_heal", lambda src, *a: seen.append(src.shape) or real(src, *a))
    out = heal(img, mask, seed=0)
    assert seen and seen[0][0] * seen[0][1] < 0.5 * 256 * 256  # healed in a window
    assert _object_share(out, mask) == 0.0
    assert np.array_equal(out[~mask], img[~mask])
    assert seam_score(out, "x") < 1.3, seam_score(out, "x")


def test_progress_and_cancel():
    rng = np.random.default_rng(1)
    img = rng.random((64, 64, 3)).astype(np.float32)
    mask = np.zeros((64, 64), bool)
    mask[20:30, 20:40] = True
    token = CancelToken()
    seen = []

    def progress(info):
        seen.append(info)
        token.cancel()

    with pytest.raises(Cancelled):
        heal(img, mask, progress=progress, cancel=token)
    assert seen and seen[0].stage == "heal" and seen[0].total_steps >= seen[0].step


def test_bad_masks():
    img = np.zeros((32, 32, 3), np.float32)
    with pytest.raises(InputError, match="selects nothing"):
        heal(img, np.zeros((32, 32), bool))
    with pytest.raises(InputError, match="whole image"):
        heal(img, np.ones((32, 32), bool))
    with pytest.raises(InputError, match="16×32"):
        heal(img, np.ones((32, 16), bool))
    almost = np.ones((32, 32), bool)
    almost[0:3, 0:3] = False
    with pytest.raises(InputError, match="no whole 7×7 patch"):
        heal(img, almost)


def test_heal_cli_keeps_every_outside_pixel_bit_for_bit_and_reads_alpha(tmp_path, example):
    clean = (example("wood", 64) * 255).round().astype(np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[10:24, 30:50] = 255
    photo = clean.copy()
    photo[mask > 0] = (255, 0, 255)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    r = run_cli("heal", tmp_path / "photo.png", "--mask", tmp_path / "mask.png", "-o", tmp_path / "out.png")
    assert r.returncode == 0, r.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(out[mask == 0], photo[mask == 0])
    assert _object_share(out / 255.0, mask > 0) == 0.0
    rgba = np.dstack([photo, np.where(mask > 0, 0, 255).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    r = run_cli("heal", tmp_path / "cutout.png", "-o", tmp_path / "out2.png")
    assert r.returncode == 0, r.stderr
    out2 = np.asarray(Image.open(tmp_path / "out2.png"))
    assert np.array_equal(out2[mask == 0], photo[mask == 0])
    r = run_cli("heal", tmp_path / "photo.png", "-o", tmp_path / "out3.png")  # no mask, no alpha
    assert r.returncode == 2 and "--mask" in r.stderr and not (tmp_path / "out3.png").exists()
