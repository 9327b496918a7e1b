"""Joint PBR synthesis: all maps made as one image stay aligned, tile, and bad inputs fail cleanly."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import wrap_rank

from conftest import run_cli
from texture_addon.engine import derive_maps, seam_score, synthesize_material
from texture_addon.engine.pbr import decode_normals
from texture_addon.errors import InputError
from texture_addon.references import load_gray, load_rgb, save_png, write_maps


def alignment(maps: dict) -> float:
    """How well the normal map agrees with the height map's gradient (mean of x and y correlations)."""
    n = decode_normals(maps["normal"])
    h = maps["height"].astype(np.float64)
    d_col = (np.roll(h, -1, 1) - np.roll(h, 1, 1)) / 2
    d_row = (np.roll(h, -1, 0) - np.roll(h, 1, 0)) / 2

    def corr(a, b):
        a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
        return float(a @ b / np.sqrt((a @ a) * (b @ b)))

    return 0.5 * (corr(n[..., 0], -d_col) + corr(n[..., 1], d_row))


@pytest.fixture(scope="module")
def reference(example):
    return derive_maps(example("stones", 128))


@pytest.fixture(scope="module")
def raw_result(reference):
    """At the optimiser's own origin, where the tiling tests can tell a real seam from a line."""
    return synthesize_material(reference, width=96, quality="default", seed=2, typical_origin=False)


@pytest.fixture(scope="module")
def result(reference):
    return synthesize_material(reference, width=96, quality="default", seed=2)


def test_delivered_maps_are_rolled_together(raw_result, result):
    base = raw_result["basecolor"]
    shifts = [(dy, dx) for dy in range(96) for dx in range(96)
              if np.array_equal(np.roll(base, (-dy, -dx), (0, 1)), result["basecolor"])]
    assert len(shifts) == 1
    for name, m in raw_result.items():
        assert np.array_equal(np.roll(m, (-shifts[0][0], -shifts[0][1]), (0, 1)), result[name]), name


def test_outputs_have_the_right_shapes_and_unit_normals(result):
    assert set(result) == {"basecolor", "height", "normal", "roughness", "ao"}
    for name, m in result.items():
        assert m.shape == ((96, 96, 3) if name in ("basecolor", "normal") else (96, 96)), name
        assert m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
    n = result["normal"] * 2 - 1
    assert np.abs(np.linalg.norm(n, axis=-1) - 1).max() < 1e-3
    assert n[..., 2].min() > 0


def test_maps_stay_aligned(reference, result):
    ref, out = alignment(reference), alignment(result)
    shifted = dict(result, normal=np.roll(result["normal"], 3, axis=(0, 1)))
    print(f"normal/height agreement: reference {ref:.3f}, synthesised {out:.3f}, misaligned {alignment(shifted):.3f}")
    assert ref > 0.9
    assert out > 0.6 * ref
    assert out > alignment(shifted) + 0.3  # alignment, not just similar statistics


def test_maps_tile_and_differ_from_the_reference(reference, raw_result, result):
    for name, m in raw_result.items():
        # The wrap is an ordinary line of each map (a seam would be the worst line of all).
        assert max(wrap_rank(m, "x"), wrap_rank(m, "y")) < 0.97 and seam_score(m) < 1.6, name
    # new layout, not a crop of the reference
    assert np.abs(result["height"] - reference["height"][:96, :96]).mean() > 0.05


def test_subset_of_maps_and_grey_given_as_rgb(reference):
    maps = {"basecolor": reference["basecolor"], "roughness": np.repeat(reference["roughness"][..., None], 3, axis=2)}
    out = synthesize_material(maps, width=64, quality="draft")
    assert set(out) == {"basecolor", "roughness"} and out["roughness"].shape == (64, 64)


def test_bad_maps_raise_input_errors(reference):
    with pytest.raises(InputError, match="same size"):
        synthesize_material({"basecolor": reference["basecolor"], "height": reference["height"][:64]}, width=64)
    with pytest.raises(InputError, match="unknown map"):
        synthesize_material({"albedo": reference["basecolor"]}, width=64)
    with pytest.raises(InputError, match="no material maps"):
        synthesize_material({}, width=64)


def test_cli_writes_aligned_maps(reference, tmp_path):
    src = tmp_path / "ref"
    files = write_maps(reference, src)
    out = tmp_path / "out"
    r = run_cli("synth", "--material", *(f"{k}={v}" for k, v in files.items()), "-o", out, "--size", 64,
                "--quality", "draft")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ao.png", "basecolor.png", "height.png", "normal.png", "roughness.png"]
    assert load_rgb(out / "normal.png").shape == (64, 64, 3) and load_gray(out / "height.png").shape == (64, 64)


def test_cli_bad_inputs_exit_2_and_write_nothing(reference, tmp_path):
    save_png(tmp_path / "a.png", reference["basecolor"])
    save_png(tmp_path / "small.png", reference["height"][:64, :64], bits=16)
    (tmp_path / "junk.png").write_text("not an image")
    out = tmp_path / "out"
    cases = [
        (["basecolor=" + str(tmp_path / "a.png"), "height=" + str(tmp_path / "small.png")], "same size"),
        (["basecolor=" + str(tmp_path / "a.png"), "gloss=" + str(tmp_path / "a.png")], "unknown map name"),
        (["basecolor=" + str(tmp_path / "junk.png")], "not an image"),
        (["basecolor" + str(tmp_path / "a.png")], "MAP=FILE"),
        (["basecolor=" + str(tmp_path / "a.png"), "basecolor=" + str(tmp_path / "a.png")], "twice"),
    ]
    for items, words in cases:
        r = run_cli("synth", "--material", *items, "-o", out, "--size", 64, "--quality", "draft")
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert not out.exists()
