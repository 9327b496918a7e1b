"""Loading every common image flavour, and writing textures atomically."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from PIL import Image

from texture_addon.errors import InputError
from texture_addon.references import load_gray, load_image, load_rgb, save_png, write_maps


def test_sixteen_bit_keeps_full_precision(tmp_path):
    ramp = (np.arange(256 * 32, dtype=np.uint32).reshape(32, 256) * 8).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "h.png")
    loaded = load_image(tmp_path / "h.png")
    assert loaded.shape == (32, 256, 1)
    assert len(np.unique(loaded)) > 4000  # far more levels than 8 bits could hold
    save_png(tmp_path / "back.png", loaded, bits=16)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "back.png")), ramp)


def test_alpha_is_composited_and_grey_is_replicated(tmp_path):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 8:, 3] = 255  # left half fully transparent
    Image.fromarray(rgba).save(tmp_path / "a.png")
    rgb = load_rgb(tmp_path / "a.png")
    assert rgb.shape == (16, 16, 3)
    assert np.allclose(rgb[:, 12], [1, 0, 0]) and np.allclose(rgb[:, 2], [0.5, 0.5, 0.5])
    Image.fromarray(np.full((16, 16), 200, np.uint8)).save(tmp_path / "g.png")
    assert np.allclose(load_rgb(tmp_path / "g.png"), 200 / 255)
    assert load_gray(tmp_path / "a.png").shape == (16, 16)


@pytest.mark.parametrize("content, message", [(b"", "not an image"), (b"hello", "not an image")])
def test_unreadable_files(tmp_path, content, message):
    p = tmp_path / "x.png"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_rgb(p)


def test_missing_directory_and_tiny_images(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_rgb(tmp_path / "missing.png")
    with pytest.raises(InputError, match="directory"):
        load_rgb(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "tiny.png")
    with pytest.raises(InputError, match="too small"):
        load_rgb(tmp_path / "tiny.png")


def test_writes_are_atomic_and_leave_normal_permissions(tmp_path):
    target = tmp_path / "t.png"
    save_png(target, np.full((8, 8, 3), 0.5, np.float32))
    mode = stat.S_IMODE(os.stat(target).st_mode)
    assert mode & 0o044, oct(mode)  # readable by others, as with a plain open()
    before = target.read_bytes()

    class Boom(Exception):
        pass

    from texture_addon.references.save import atomic_output

    with pytest.raises(Boom):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"partial")
            raise Boom
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.png"]


def test_write_maps_names_and_bit_depths(tmp_path):
    maps = {"basecolor": np.random.rand(8, 8, 3), "height": np.random.rand(8, 8), "roughness": np.random.rand(8, 8)}
    paths = write_maps(maps, tmp_path / "set", prefix="M_")
    assert sorted(p.name for p in paths.values()) == ["M_basecolor.png", "M_height.png", "M_roughness.png"]
    assert Image.open(paths["height"]).mode.startswith("I")  # 16-bit
    assert Image.open(paths["basecolor"]).mode == "RGB"


@pytest.mark.parametrize("chunk", [7, 4_000_000])  # strips of one column, and the whole image at once
def test_line_scores_equal_the_seam_score_of_every_cut(monkeypatch, chunk):
    from texture_addon.references import seams
    from texture_addon.references.seams import line_scores, seam_rank, seam_score

    monkeypatch.setattr(seams, "CHUNK_ELEMENTS", chunk)
    rng = np.random.default_rng(0)
    img = np.cumsum(rng.random((40, 56, 3)), 1) / 10  # a ramp: its wrap boundary is a real seam
    for axis, ax in (("x", 1), ("y", 0)):
        by_roll = [seam_score(np.roll(img, -k, ax), axis=axis) for k in range(img.shape[ax])]
        assert np.allclose(line_scores(img, axis), by_roll)
    assert seam_rank(img, "x") > 0.95  # the seam is the worst line
    periodic = np.tile(rng.random((8, 8, 3)), (5, 7, 1))
    assert seam_rank(periodic, "x") < 0.95  # every 8th line is identical: no line stands out


def test_place_origin_moves_a_straight_feature_off_the_edge():
    from texture_addon.references.seams import place_origin, seam_score

    rng = np.random.default_rng(0)
    img = rng.random((48, 64, 3)) * 0.2
    img[:, ::16] = 0.9  # vertical "mortar" lines every 16 px, one of them on the tile's edge
    img = np.roll(img, 1, 1)  # …so that the edge cuts between the line and its neighbour
    height = rng.random((48, 64))
    assert seam_score(img, axis="x") > 1.5  # a straight feature on the edge reads as a seam
    placed, placed_height = place_origin([img, height], (True, True))
    assert seam_score(placed, axis="x") <= 1.10
    dy, dx = next((dy, dx) for dy in range(48) for dx in range(64)
                  if np.array_equal(np.roll(img, (-dy, -dx), (0, 1)), placed))
    assert np.array_equal(np.roll(height, (-dy, -dx), (0, 1)), placed_height)  # the maps move together
    assert np.array_equal(place_origin([img], (False, False))[0], img)  # nothing periodic: nothing moves
    assert place_origin([img], (True, False))[0][:, 0].tolist() == np.roll(img, -dy, 0)[:, 0].tolist()
