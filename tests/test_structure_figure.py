"""The structure figure and copy share track structure: what a person would call right, broken or copied."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from texture_addon.evaluation import StructureJudge, structure_score

ROOT = Path(__file__).resolve().parents[1]
SIDE = 96


def dots(seed: int, side: int = SIDE) -> np.ndarray:
    """Round dots of three colours on cream, never touching (a fresh arrangement per seed)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] + 0.5
    img = np.empty((side, side, 3), np.float32)
    img[:] = (0.95, 0.91, 0.82)
    colours = [(0.77, 0.24, 0.2), (0.18, 0.41, 0.63), (0.87, 0.66, 0.16)]
    placed: list[tuple[float, float]] = []
    for _ in range(3000):
        x, y = rng.uniform(0, side, 2)
        if all(min(abs(x - px), side - abs(x - px)) ** 2 + min(abs(y - py), side - abs(y - py)) ** 2 > 17 ** 2 for px, py in placed):
            placed.append((x, y))
            dx = np.minimum(abs(xx - x), side - abs(xx - x))
            dy = np.minimum(abs(yy - y), side - abs(yy - y))
            inside = np.clip(6.5 - np.hypot(dx, dy), 0, 1)[..., None]  # anti-aliased disc, radius 6
            img = img * (1 - inside) + np.array(colours[len(placed) % 3]) * inside
    return (img + rng.normal(0, 0.01, img.shape)).clip(0, 1).astype(np.float32)


def shuffled(img: np.ndarray, block: int, seed: int = 0) -> np.ndarray:
    """The same pixels in blocks put back in random order: local content kept, arrangement broken."""
    h, w = img.shape[:2]
    blocks = [img[i:i + block, j:j + block] for i in range(0, h, block) for j in range(0, w, block)]
    order = np.random.default_rng(seed).permutation(len(blocks))
    n = w // block
    return np.concatenate([np.concatenate([blocks[order[r * n + c]] for c in range(n)], 1) for r in range(h // block)], 0)


def blurred(img: np.ndarray, radius: int = 2) -> np.ndarray:
    """Box blur with wrap-around (a soft copy of the same arrangement)."""
    out = np.zeros_like(img)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out += np.roll(img, (dy, dx), (0, 1))
    return out / (2 * radius + 1) ** 2


def noise_like(img: np.ndarray, seed: int = 0) -> np.ndarray:
    flat = img.reshape(-1, 3)
    return flat[np.random.default_rng(seed).integers(0, len(flat), len(flat))].reshape(img.shape)


@pytest.fixture(scope="module")
def judged():
    ref = dots(1)
    judge = StructureJudge(ref)
    fresh = dots(2)
    return ref, judge, {
        "fresh": judge.score(fresh),  # a new arrangement of the same dots (tiles: generated with wrap-around)
        "fresh_blurred": judge.score(blurred(fresh)),
        "shuffled": judge.score(shuffled(ref, 12), periodic=False),
        "noise": judge.score(noise_like(ref)),
        "tiled": judge.score(np.tile(ref, (2, 2, 1))),
    }


def test_structure_orders_right_broken_and_noise(judged):
    _, _, s = judged
    assert s["fresh"].structure < s["shuffled"].structure < s["noise"].structure
    assert s["fresh"].structure < 0.6 * s["noise"].structure
    # the normalisation: noise with the reference's histogram is the unit at full resolution
    assert 0.85 < s["noise"].fine < 1.15


def test_blur_worsens_the_fine_scale(judged):
    _, _, s = judged
    assert s["fresh_blurred"].fine > 1.2 * s["fresh"].fine


def test_copy_share_finds_verbatim_copies_only(judged):
    _, _, s = judged
    # every patch of a 2×2 tiling is a reference patch, except those across the tiles' joins
    # (14 px bands: (96 − 14)² / 96² ≈ 0.73 of the area)
    assert s["tiled"].copy_share > 0.68 and s["tiled"].fine < 0.1
    for name in ("fresh", "fresh_blurred", "shuffled", "noise"):
        assert s[name].copy_share < 0.05, name


def test_copy_share_counts_the_copied_part():
    ref = dots(1)
    half = dots(3)
    half[:, : SIDE // 2] = ref[:, : SIDE // 2]  # the left half is the reference, verbatim
    share = structure_score(half, ref, periodic=False).copy_share
    assert 0.3 < share < 0.6


def test_tiles_are_judged_with_wrap_around():
    """A reference rolled around is a copy everywhere except patches across the reference's own edges."""
    ref = dots(1)
    rolled = np.roll(ref, (30, 41), (0, 1))
    wrapped = structure_score(rolled, ref, periodic=True)
    assert wrapped.copy_share > 0.3 and wrapped.fine < 0.2


def grid(side: int = SIDE, period: int = 16, grout: int = 3) -> np.ndarray:
    """Square tiles with odd-width grout on a regular grid: box-averaged 2×2, a line 3 px wide
    reads differently in each pairing."""
    yy, xx = np.mgrid[0:side, 0:side]
    img = np.empty((side, side, 3), np.float32)
    img[:] = (0.3, 0.45, 0.5)
    img[(yy % period < grout) | (xx % period < grout)] = (0.85, 0.83, 0.78)
    return img


def test_a_tiling_output_scores_the_same_wherever_it_starts():
    """Rolling a tiling output by one pixel changes nothing a person sees, so not the figure either:
    judged against the reference's one 2×2 pairing only, the coarse scale of a regular grid's own
    copy moved from 0 to several times the fine scale's with one pixel of roll."""
    ref = grid()
    judge = StructureJudge(ref)
    scores = [judge.score(np.roll(ref, (dy, dx), (0, 1))) for dy in (0, 1) for dx in (0, 1)]
    coarse = [s.coarse for s in scores]
    assert max(coarse) < 0.05, coarse
    assert max(coarse) - min(coarse) < 0.02, coarse


def test_photograph_gravel_and_inputs_of_any_kind():
    """A real photograph: a crop scores as near-copy, its shuffle and noise worse; uint8/grey accepted."""
    from PIL import Image

    photo = np.asarray(Image.open(ROOT / "benchmark" / "references" / "gravel.png").convert("RGB"))
    ref, other = photo[:SIDE, :SIDE], photo[SIDE + 20:2 * SIDE + 20, SIDE + 20:2 * SIDE + 20]
    judge = StructureJudge(ref)
    a = judge.score(other, periodic=False)
    b = judge.score(shuffled(other, 12), periodic=False)
    c = judge.score(noise_like(other.astype(np.float32) / 255))
    assert a.structure < b.structure < c.structure
    grey = judge.score(other.mean(2).astype(np.uint8), periodic=False)
    assert grey.structure > 0 and judge.score(other, periodic=False) == a  # repeatable


def test_soft_share_sees_haze_on_a_photograph():
    """Another crop of the same gravel is about as contrasted as the reference (≈ 0.10 soft by
    construction); a 3×3 box blur of it turns most of it soft, noise none of it."""
    from PIL import Image

    photo = np.asarray(Image.open(ROOT / "benchmark" / "references" / "gravel.png").convert("RGB"))
    photo = photo.astype(np.float32) / 255
    ref, other = photo[:SIDE, :SIDE], photo[SIDE + 20:2 * SIDE + 20, SIDE + 20:2 * SIDE + 20]
    judge = StructureJudge(ref)
    assert abs(judge.score(ref, periodic=False).soft - 0.10) < 0.01
    crisp = judge.score(other, periodic=False).soft
    hazy = judge.score(blurred(other, 1), periodic=False).soft
    assert crisp < 0.15 and hazy > 0.3, (crisp, hazy)
    assert judge.score(noise_like(other)).soft < 0.01


def test_engine_never_imports_the_evaluation():
    """The engine must not optimise the figure it is judged by."""
    import re

    importing = re.compile(r"^\s*(from\s+\S*evaluation\S*\s+import|import\s+\S*evaluation)|import_module\([^)]*evaluation",
                           re.M)
    for path in (ROOT / "texture_addon" / "engine").rglob("*.py"):
        assert not importing.search(path.read_text()), path
    assert importing.search("from ..evaluation import structure") and importing.search("import texture_addon.evaluation")


def test_soft_share_takes_a_reference_over_sixteen_million_pixels():
    """``torch.quantile`` refuses more than 2²⁴ values; a 4200×4100 reference is 17.2 M pixels."""
    from texture_addon.evaluation import soft_share

    ref = np.random.default_rng(0).random((4200, 4100, 3), dtype=np.float32)
    assert abs(soft_share(ref[:256, :256], ref, periodic=False) - 0.10) < 0.02
