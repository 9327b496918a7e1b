"""Inputs the product reads: sizes checked from the header before decoding, 16-bit PNGs at full
precision, seeds within the contract's range."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import ImageFile

from texture_addon.errors import InputError
from texture_addon.references import load_image, load_rgb
from texture_addon.references.load import MAX_REFERENCE_PIXELS


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png(path: Path, rows: list[bytes], width: int, height: int, bits: int, colour_type: int) -> Path:
    """A PNG from already filtered scanlines (each starting with its filter byte)."""
    comp = zlib.compressobj(9)
    data = b"".join(comp.compress(r) for r in rows) + comp.flush()
    header = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def bomb(path: Path, side: int) -> Path:
    """A valid 1-bit PNG of ``side``² black pixels: a few kB on disk."""
    row = b"\x00" + bytes((side + 7) // 8)
    return write_png(path, [row] * side, side, side, 1, 0)


def png16(path: Path, samples: np.ndarray, colour_type: int) -> Path:
    """A 16-bit PNG whose rows use every PNG filter in turn (None, Sub, Up, Average, Paeth)."""
    h, w = samples.shape[:2]
    raw = samples.astype(">u2").reshape(h, -1).view(np.uint8).astype(np.int32)
    bpp = 2 * (samples.shape[2] if samples.ndim == 3 else 1)
    rows = []
    for y in range(h):
        x = raw[y]
        up = raw[y - 1] if y else np.zeros_like(x)
        left = np.concatenate([np.zeros(bpp, np.int32), x[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int32), up[:-bpp]])
        kind = y % 5
        if kind == 0:
            pred = np.zeros_like(x)
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = up
        elif kind == 3:
            pred = (left + up) // 2
        else:
            p = left + up - upleft
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        rows.append(bytes([kind]) + ((x - pred) % 256).astype(np.uint8).tobytes())
    return write_png(path, rows, w, h, 16, colour_type)


# ---------------------------------------------------------------------- decompression bombs

@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image is decoded: a refused size must be refused from the header."""
    def refuse(self, *args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize("side", [11000, 8193])  # Pillow itself refuses only at 2 × its limit
def test_oversized_image_is_refused_from_its_header(tmp_path, no_decoding, side):
    path = bomb(tmp_path / "bomb.png", side)
    assert path.stat().st_size < 100_000 and side * side > MAX_REFERENCE_PIXELS
    with pytest.raises(InputError, match=rf"image too large \({side}×{side}"):
        load_image(path)


def test_cli_refuses_a_bomb_at_once_in_one_line(tmp_path):
    out = tmp_path / "out.png"
    r = run_cli("synth", bomb(tmp_path / "bomb.png", 11000), "-o", out, "--size", 64, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: image too large (11000×11000 = 121 Mpx; at most 67 Mpx, e.g. 8192×8192): {tmp_path / 'bomb.png'}"]
    assert not out.exists()


def test_image_within_the_limit_still_loads(tmp_path):
    img = load_image(bomb(tmp_path / "small.png", 64))
    assert img.shape == (64, 64, 1)


# ---------------------------------------------------------------------- 16-bit PNGs

def _samples(h: int, w: int, c: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 65536, size=(h, w, c), dtype=np.uint16)


@pytest.mark.parametrize("channels,colour_type", [(3, 2), (4, 6), (2, 4)])
def test_sixteen_bit_colour_pngs_keep_every_bit(tmp_path, channels, colour_type):
    samples = _samples(20, 17, channels)
    loaded = load_image(png16(tmp_path / "wide.png", samples, colour_type))
    assert loaded.shape == samples.shape
    assert np.array_equal(np.rint(loaded.astype(np.float64) * 65535).astype(np.uint16), samples)


def test_sixteen_bit_grey_keeps_every_bit(tmp_path):
    samples = _samples(20, 17, 1)
    loaded = load_image(png16(tmp_path / "grey.png", samples[..., 0], 0))
    assert np.array_equal(np.rint(loaded.astype(np.float64) * 65535).astype(np.uint16), samples)


def test_sixteen_bit_rgb_reference_differs_from_its_8_bit_truncation(tmp_path):
    """A smooth 16-bit ramp: 8 bits would give 256 levels, the reference keeps them all."""
    ramp = (np.arange(16 * 512, dtype=np.uint32).reshape(16, 512) * 8).astype(np.uint16)
    rgb = np.stack([ramp, ramp[:, ::-1], ramp], axis=-1)
    loaded = load_rgb(png16(tmp_path / "ramp.png", rgb, 2))
    assert len(np.unique(loaded[..., 0])) == len(np.unique(ramp)) > 4000


# ---------------------------------------------------------------------- seeds

@pytest.mark.parametrize("command", ["synth", "seamless", "stylize"])
@pytest.mark.parametrize("seed", ["4294967296", str(2**64), "-1"])
def test_seed_outside_the_contract_range_is_a_usage_error(tmp_path, capsys, command, seed):
    """4294967296 used to give seed 0's bytes, 2**64 a traceback."""
    from texture_addon.cli import main

    args = {"synth": ["ref.png"], "seamless": ["ref.png"], "stylize": ["ref.png", "--style", "ref.png"]}[command]
    with pytest.raises(SystemExit) as exit_info:
        main([command, *args, "-o", str(tmp_path / "out.png"), "--seed", seed])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"seed {seed} out of range (0…4294967295)" in err[0]


def test_largest_seed_is_accepted():
    from texture_addon.cli.common import seed_arg

    assert seed_arg("4294967295") == 2**32 - 1


# ---------------------------------------------------------------------- manifests

from texture_addon.contract.manifest import ManifestError, check_entry  # noqa: E402


@pytest.mark.parametrize("entry, message", [
    ({"seed": "abc"}, "seed: must be a whole number 0…4294967295, got 'abc'"),
    ({"seed": 4294967296}, "seed: 4294967296 out of range (0…4294967295)"),
    ({"refs": 5}, "refs: must be a string or a list of strings"),
    ({"size": [64]}, "size: must be N, \"WxH\" or [W, H], got [64]"),
    ({"size": [10, 100000]}, "size: 10 out of range (64…4096)"),
    ({"name": 5}, "name: must be a non-empty string"),
    ({"sise": 2048}, "unknown key 'sise' (did you mean 'size'?)"),
    ({"qualty": "high"}, "unknown key 'qualty' (did you mean 'quality'?)"),
    ({"quality": "best"}, "quality: 'best' is not one of draft, default, high"),
    ({"detail_scale": 100}, "detail_scale: 100 out of range (0.125…8)"),
    ({"weights": [1, "a"]}, "weights: must be a list of non-negative numbers"),
    ({"maps": ["basecolor", "shiny"]}, "maps: unknown map(s) 'shiny'"),
])
def test_manifest_entries_are_checked_key_by_key(entry, message):
    with pytest.raises(ManifestError) as info:
        check_entry({"name": "Bricks", "refs": ["a.png"], **entry}, "material 'Bricks'")
    assert str(info.value).startswith("material 'Bricks': ") and message in str(info.value)


def test_a_well_formed_entry_passes():
    check_entry({"name": "Moss", "refs": ["a.png", "b.png"], "weights": [1.0, 0.4], "seed": 12, "size": 1024,
                 "maps": ["basecolor", "normal"], "quality": "draft", "tile": "x", "seeds": [1, 2],
                 "section": "Walls/Brick"}, "material 'Moss'")


def test_bake_refuses_a_manifest_typo_in_one_line(tmp_path):
    from test_bake import bake

    (tmp_path / "farm.toml").write_text('[[materials]]\nname = "Bricks"\nrefs = ["r.png"]\nsise = 2048\n')
    proc, summary = bake("--manifest", tmp_path / "farm.toml", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-1000:]
    lines = [l for l in proc.stderr.splitlines() if l.startswith("bake.py: error:")]
    assert len(lines) == 1 and "material 'Bricks': unknown key 'sise' (did you mean 'size'?)" in lines[0], proc.stderr
    assert summary["ok"] is False


@pytest.mark.parametrize("seed", ["4294967296", str(2**64)])
def test_bake_refuses_a_seed_override_out_of_range(tmp_path, seed):
    from test_bake import bake

    proc, summary = bake("--material", "X", "--ref", str(Path(__file__).parents[1] / "examples" / "wood.png"),
                         "--seed", seed, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-1000:]
    lines = [l for l in proc.stderr.splitlines() if l.startswith("bake.py: error:")]
    assert len(lines) == 1 and f"command line: seed: {seed} out of range (0…4294967295)" in lines[0], proc.stderr
