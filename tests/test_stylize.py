"""stylize: the output takes the style's statistics, keeps the content's structure, and its options work."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import wrap_rank

from conftest import EXAMPLES, run_cli
from texture_addon.engine import patch_distance, seam_score, stylize
from texture_addon.errors import InputError
from texture_addon.references import load_rgb

LUMA = np.array([0.2126, 0.7152, 0.0722])


def edges(img: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(img @ LUMA)
    return np.hypot(gx, gy)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


@pytest.fixture(scope="module")
def pair(example):
    """Grey stone cells as content, orange wood grain as style: different in colour and structure."""
    return example("stones", 96), example("wood", 128)


@pytest.fixture(scope="module")
def half(pair):
    content, style = pair
    return stylize(content, [style], strength=0.5, quality="draft", seed=1)


def test_style_statistics_move_towards_the_style(pair, half):
    content, style = pair
    before, after = patch_distance(content, style), patch_distance(half, style)
    print(f"patch distance to style: content {before:.4f}, stylized {after:.4f}")
    assert half.shape == content.shape and half.dtype == np.float32
    assert after < 0.5 * before


def test_content_structure_survives_at_half_strength(pair, half):
    content, style = pair
    kept = corr(edges(half), edges(content))
    full = stylize(content, [style], strength=1.0, quality="draft", seed=1)
    print(f"edge correlation with content: strength 0.5 {kept:.3f}, strength 1 {corr(edges(full), edges(content)):.3f}")
    assert kept > 0.3
    assert kept > corr(edges(full), edges(content)) + 0.1  # strength really trades structure for style


def test_strength_zero_is_the_content(pair):
    content, style = pair
    assert np.allclose(stylize(content, [style], strength=0.0), content, atol=1e-6)


def test_preserve_colors_keeps_the_content_colours(pair, half):
    content, style = pair
    kept = stylize(content, [style], strength=0.5, preserve_colors=True, quality="draft", seed=1)
    chroma = lambda a: a - (a @ LUMA)[..., None]
    assert corr(chroma(kept)[..., 0], chroma(content)[..., 0]) > 0.9
    assert corr(chroma(kept)[..., 2], chroma(content)[..., 2]) > 0.9
    mean = lambda a: a.reshape(-1, 3).mean(0)
    assert np.abs(mean(kept) - mean(content)).max() < 0.03
    # without the option the colours do move to the style's (so the check above can fail)
    assert np.abs(mean(half) - mean(content)).max() > 0.08
    assert corr(edges(kept), edges(content)) < 0.97  # …and the luminance was still restyled


def test_tile_makes_the_output_tile(pair, example):
    _, style = pair
    content = example("stones", 256)[20:116, 30:126]  # a crop: the examples themselves tile
    out = stylize(content, [style], strength=0.5, tile=True, quality="draft")
    print(f"seam: content {seam_score(content):.2f}, stylized with tile {seam_score(out):.2f}")
    assert seam_score(content) > 1.5
    assert seam_score(out) < 1.6
    assert max(wrap_rank(out, "x"), wrap_rank(out, "y")) < 0.97  # the wrap is an ordinary line
    assert corr(edges(out), edges(content)) > 0.3


def test_weights_and_size(pair, example):
    content, style = pair
    out = stylize(content, [style, example("lichen", 64)], weights=[1, 0.25], size=64, quality="draft")
    assert out.shape == (64, 64, 3)
    with pytest.raises(InputError, match="weight"):
        stylize(content, [style], weights=[1, 2])
    with pytest.raises(InputError, match="strength"):
        stylize(content, [style], strength=1.5)
    with pytest.raises(InputError, match="style"):
        stylize(content, [])


def test_cli(tmp_path):
    out = tmp_path / "out.png"
    r = run_cli("stylize", EXAMPLES / "stones.png", "--style", EXAMPLES / "wood.png", EXAMPLES / "lichen.png",
                "--weights", "1,0.5", "--strength", "0.6", "--size", 64, "--quality", "draft", "-o", out)
    assert r.returncode == 0, r.stderr
    assert load_rgb(out).shape == (64, 64, 3)

    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    bad = tmp_path / "bad.png"
    for args, words in [
        (("--style", EXAMPLES / "wood.png", EXAMPLES / "lichen.png", "--weights", "1,0.5,2"), "--weights has 3"),
        (("--style", junk), "not an image"),
        (("--style", EXAMPLES / "wood.png", "--strength", "3"), "strength"),
    ]:
        r = run_cli("stylize", EXAMPLES / "stones.png", *args, "-o", bad, "--quality", "draft")
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert not bad.exists()
