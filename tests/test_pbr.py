"""PBR maps derived from a base colour: unit normals that follow the height, tiling, 16-bit height."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import EXAMPLES, run_cli
from texture_addon.engine import derive_maps, seam_score
from texture_addon.engine.pbr import decode_normals
from texture_addon.errors import InputError
from texture_addon.references import load_gray, load_rgb, write_maps


def periodic_texture(side: int = 96, seed: int = 0) -> np.ndarray:
    """A texture that tiles exactly: a sum of random whole-period sinusoids per channel."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] * (2 * np.pi / side)
    img = np.zeros((side, side, 3))
    for _ in range(12):
        fy, fx = rng.integers(-6, 7, size=2)
        img += rng.normal(0, 0.08, 3) * np.cos(fy * yy + fx * xx + rng.uniform(0, 2 * np.pi))[..., None]
    return np.clip(img + 0.5, 0, 1).astype(np.float32)


def gradient(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wrap-around central differences (d/drow, d/dcol)."""
    h = h.astype(np.float64)
    return (np.roll(h, -1, 0) - np.roll(h, 1, 0)) / 2, (np.roll(h, -1, 1) - np.roll(h, 1, 1)) / 2


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


@pytest.fixture(scope="module")
def maps():
    return derive_maps(periodic_texture())


def test_shapes_ranges_and_names(maps):
    assert set(maps) == {"basecolor", "height", "normal", "roughness", "ao"}
    for name, m in maps.items():
        assert m.dtype == np.float32 and m.shape[:2] == (96, 96)
        assert m.ndim == (3 if name in ("basecolor", "normal") else 2)
        assert 0.0 <= m.min() and m.max() <= 1.0
        assert m.std() > 0.01, f"{name} is flat"


def test_normals_are_unit_and_follow_the_height(maps):
    n = maps["normal"] * 2 - 1
    assert np.abs(np.linalg.norm(n, axis=-1) - 1).max() < 0.02  # 8-bit-free float output: unit length
    assert (n[..., 2] > 0).all()
    d_row, d_col = gradient(maps["height"])
    assert corr(n[..., 0], -d_col) > 0.95       # OpenGL: x leans away from the uphill direction
    assert corr(n[..., 1], d_row) > 0.95        # +Y points to row 0, so green = +d(height)/d(row)
    dx = derive_maps(periodic_texture(), maps=("normal",), normal_convention="directx")["normal"] * 2 - 1
    assert corr(dx[..., 1], d_row) < -0.95      # DirectX flips green
    assert np.allclose(decode_normals(dx * 0.5 + 0.5, "directx"), decode_normals(maps["normal"]), atol=1e-5)


def test_normal_strength_and_height_controls():
    img = periodic_texture()
    weak = derive_maps(img, maps=("normal",), normal_strength=0.5)["normal"] * 2 - 1
    strong = derive_maps(img, maps=("normal",), normal_strength=2.0)["normal"] * 2 - 1
    assert np.linalg.norm(strong[..., :2], axis=-1).mean() > 1.5 * np.linalg.norm(weak[..., :2], axis=-1).mean()
    h = derive_maps(img, maps=("height",))["height"]
    inv = derive_maps(img, maps=("height",), invert_height=True)["height"]
    assert corr(h, inv) < -0.99
    low = derive_maps(img, maps=("height",), height_contrast=0.5)["height"]
    assert h.std() > 1.3 * low.std()
    lum = img @ np.array([0.2126, 0.7152, 0.0722])
    assert corr(h, lum) > 0.5  # bright reads as high by default
    r = derive_maps(img, maps=("roughness",), roughness_range=(0.2, 0.4))["roughness"]
    assert 0.2 - 1e-6 <= r.min() and r.max() <= 0.4 + 1e-6 and r.max() - r.min() > 0.1


def test_every_map_tiles(maps):
    assert seam_score(periodic_texture()) < 1.1
    for name, m in maps.items():
        assert seam_score(m) < 1.15, name


def test_wrap_matters_on_a_non_tiling_image(example):
    img = example("bricks", 96)[:, 5:93]  # cut off-period: its own seam is strong
    wrapped = derive_maps(img, maps=("height",), tile=True)["height"]
    mirrored = derive_maps(img, maps=("height",), tile=False)["height"]
    assert not np.allclose(wrapped, mirrored)


def test_height_is_16_bit_and_round_trips(maps, tmp_path):
    written = write_maps(maps, tmp_path)
    with Image.open(written["height"]) as im:
        assert im.mode.startswith("I;16")
    back = load_gray(written["height"])
    assert np.abs(back - maps["height"]).max() < 1.0 / 65535 + 1e-6
    assert len(np.unique(np.round(back * 65535))) > 256  # more levels than 8 bits could hold


def test_bad_parameters_raise_input_errors():
    img = periodic_texture(32)
    with pytest.raises(InputError, match="unknown map"):
        derive_maps(img, maps=("basecolour",))
    with pytest.raises(InputError, match="convention"):
        derive_maps(img, normal_convention="vulkan")
    with pytest.raises(InputError, match="roughness range"):
        derive_maps(img, roughness_range=(0.8, 0.2))


def test_cli_writes_the_full_set(tmp_path):
    out = tmp_path / "set"
    r = run_cli("pbr", EXAMPLES / "wood.png", "-o", out, "--normal-strength", "1.5")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ao.png", "basecolor.png", "height.png", "normal.png", "roughness.png"]
    photo, base = load_rgb(EXAMPLES / "wood.png"), load_rgb(out / "basecolor.png")
    assert not np.allclose(base, photo, atol=4 / 255)      # the default divides the photo's shading out ...
    ratio = base / np.maximum(photo, 1 / 255)
    ok = (photo > 0.1).all(-1) & (base < 0.98).all(-1)
    assert np.median(np.abs(ratio[ok] - ratio[ok].mean(-1, keepdims=True))) < 0.02   # ... alike in each channel
    old = tmp_path / "old"
    assert run_cli("pbr", EXAMPLES / "wood.png", "-o", old, "--height-from", "luminance").returncode == 0
    assert np.allclose(load_rgb(old / "basecolor.png"), photo, atol=1 / 255)   # the heuristic keeps the photo


def test_cli_bad_inputs_exit_2_and_write_nothing(tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    out = tmp_path / "set"
    r = run_cli("pbr", junk, "-o", out)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "not an image" in r.stderr
    assert not out.exists()
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    r = run_cli("pbr", EXAMPLES / "wood.png", "-o", afile)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "folder" in r.stderr
    r = run_cli("pbr", EXAMPLES / "wood.png", "-o", out, "--roughness-range", "0.9,0.1")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_synth_pbr_writes_a_tiling_set(tmp_path):
    out = tmp_path / "synth_set"
    r = run_cli("synth", EXAMPLES / "stones.png", "--pbr", "-o", out, "--size", 64, "--quality", "draft")
    assert r.returncode == 0, r.stderr
    assert (out / "height.png").is_file() and (out / "normal.png").is_file()
    assert seam_score(load_rgb(out / "normal.png")) < 1.3


def test_roughness_of_a_plain_albedo_does_not_follow_its_rounding_noise():
    """Where the albedo hardly varies (a smooth photo's, split from its shading), its local contrast
    is float noise; stretched to the full range, it once moved roughness by up to 65/255 between
    two builds of one blur. Two noises a millionth apart must give the same roughness."""
    import torch

    from texture_addon.engine.pbr import WrapFilter, roughness_map

    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    recess = torch.from_numpy((0.5 + 0.3 * np.sin(2 * np.pi * 3 * xx) * np.sin(2 * np.pi * 2 * yy)).astype(np.float32))
    filt = WrapFilter(128, 128, (True, True))
    maps = []
    for seed in (1, 2):
        noise = np.random.default_rng(seed).normal(0, 1e-6, (128, 128))
        maps.append(roughness_map(recess, torch.from_numpy((0.4 + noise).astype(np.float32)), filt, 0.35, 0.9).numpy())
    assert np.abs(maps[0] - maps[1]).max() < 1 / 255
    assert maps[0].max() - maps[0].min() > 0.3  # the relief still shapes it
