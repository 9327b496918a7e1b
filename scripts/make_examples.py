"""Generate the bundled reference images in ``examples/`` procedurally.

The project ships only images it made itself, so there is no licence question. Each one exercises a
different kind of texture: a regular structure (bricks), cells (stones), anisotropic flow (wood)
and stochastic blotches (lichen). Run: ``python scripts/make_examples.py [--out examples]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from texture_addon.references import save_png  # noqa: E402

SIZE = 256


def fractal_noise(rng: np.random.Generator, size: int, octaves: int = 5, persistence: float = 0.55) -> np.ndarray:
    """Sum of bilinearly upsampled random grids: cheap value noise, in [0, 1]."""
    out = np.zeros((size, size))
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 4 * 2**o
        grid = rng.random((cells + 1, cells + 1))
        t = np.linspace(0, cells, size, endpoint=False)
        i = t.astype(int)
        f = t - i
        f = f * f * (3 - 2 * f)
        a = grid[i][:, i] * (1 - f)[None, :] + grid[i][:, i + 1] * f[None, :]
        b = grid[i + 1][:, i] * (1 - f)[None, :] + grid[i + 1][:, i + 1] * f[None, :]
        out += amp * (a * (1 - f)[:, None] + b * f[:, None])
        total += amp
        amp *= persistence
    return out / total


def bricks(rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    bh, bw, mortar = 32, 64, 3
    row = (y // bh).astype(int)
    xo = x + (row % 2) * bw / 2
    col = (xo // bw).astype(int)
    in_mortar = ((y % bh) < mortar) | ((xo % bw) < mortar)
    tint = rng.uniform(0.8, 1.15, (row.max() + 2, col.max() + 2))
    base = np.array([0.55, 0.25, 0.17])[None, None, :] * tint[row, col][..., None]
    noise = fractal_noise(rng, SIZE)[..., None]
    img = base * (0.75 + 0.5 * noise)
    img[in_mortar] = np.array([0.72, 0.70, 0.66]) * (0.8 + 0.3 * noise[in_mortar])
    return np.clip(img, 0, 1)


def stones(rng: np.random.Generator) -> np.ndarray:
    pts = rng.random((60, 2)) * SIZE
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    d = np.full((2, SIZE, SIZE), np.inf)
    idx = np.zeros((SIZE, SIZE), int)
    for k, (py, px) in enumerate(pts):
        for oy in (-SIZE, 0, SIZE):
            for ox in (-SIZE, 0, SIZE):
                dist = np.hypot(y - py - oy, x - px - ox)
                closer = dist < d[0]
                d[1] = np.where(closer, d[0], np.minimum(d[1], dist))
                idx = np.where(closer, k, idx)
                d[0] = np.where(closer, dist, d[0])
    edge = np.clip((d[1] - d[0]) / 6.0, 0, 1)
    shade = rng.uniform(0.55, 1.0, len(pts))[idx]
    noise = fractal_noise(rng, SIZE)
    grey = np.array([0.62, 0.58, 0.52])[None, None, :]
    img = grey * (shade * (0.7 + 0.4 * noise) * (0.35 + 0.65 * np.sqrt(edge)))[..., None]
    return np.clip(img, 0, 1)


def wood(rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    warp = fractal_noise(rng, SIZE, octaves=4) * 40
    rings = np.sin((x + warp) / 5.0 + 2 * np.sin(y / 40.0)) * 0.5 + 0.5
    grain = fractal_noise(rng, SIZE, octaves=6)
    t = 0.6 * rings**3 + 0.4 * grain
    light, dark = np.array([0.78, 0.55, 0.32]), np.array([0.42, 0.24, 0.11])
    return np.clip(light * (1 - t[..., None]) + dark * t[..., None], 0, 1)


def lichen(rng: np.random.Generator) -> np.ndarray:
    n1 = fractal_noise(rng, SIZE, octaves=6)
    n2 = fractal_noise(rng, SIZE, octaves=6, persistence=0.7)
    rock = np.array([0.45, 0.45, 0.47]) * (0.7 + 0.6 * n2[..., None])
    mask = np.clip((n1 - 0.5) * 8, 0, 1)[..., None]
    moss = np.array([0.62, 0.66, 0.25]) * (0.75 + 0.5 * n2[..., None])
    return np.clip(rock * (1 - mask) + moss * mask, 0, 1)


EXAMPLES = {"bricks": bricks, "stones": stones, "wood": wood, "lichen": lichen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "examples"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, (name, make) in enumerate(EXAMPLES.items()):
        path = save_png(out / f"{name}.png", make(np.random.default_rng(100 + i)))
        print(path)


if __name__ == "__main__":
    main()
