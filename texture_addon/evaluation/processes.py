"""Procedural surfaces drawn at any size with the same density and scale: a known truth for large outputs.

Why. Whether a 2048² output synthesised from a 256² reference has order the surface lacks (a
lattice, bands, clumps) can only be judged against the surface itself at 2048². For a photograph
that does not exist; for a random process it does: draw it once at the reference's size, once at
the output's size, with the same features per unit area, and compare (``large_scale``).

Every drawing tiles (features crossing an edge continue on the opposite one: all distances are
periodic), is fully determined by ``(size, seed)``, and places features by random sequential
adsorption with the feature count proportional to the area, so density and feature sizes do not
depend on the size drawn. Positions are uniform (no lattice): the truth's own mid figure is low.

- ``discs``: round dots in four colours on cream, never touching (the issue's "scattered dots");
- ``stones``: irregular stones (Voronoi cells of well-spaced seeds) with dark grout;
- ``pebbles``: gravel — irregular, shaded pebbles of varied size and colour on dark ground.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

REFERENCE_SIZE = 256  # densities below are "per REFERENCE_SIZE²"


@dataclass(frozen=True)
class Drawing:
    """A drawn surface (H×W×3 uint8, tiles) and how many features it holds."""

    image: np.ndarray
    features: int


@dataclass(frozen=True)
class Layout:
    """Feature centres in a periodic square, bucketed on a grid of at most one centre per cell."""

    size: int
    xy: np.ndarray  # (N, 2) float64, x then y, in [0, size)
    extent: np.ndarray  # (N,) radius within which each feature lies
    grid: np.ndarray  # (G, G) int32: index of the centre in each cell, -1 where none
    cell: float  # side of one grid cell (size / G)


def scatter(rng: np.random.Generator, size: int, count: int, extent: Callable[[np.random.Generator, int], np.ndarray],
            min_extent: float, gap: float, tries_per_feature: int = 300) -> Layout:
    """Random sequential adsorption: uniform candidates, kept when ``dist >= ext_i + ext_j + gap`` to all kept.

    Periodic distances. Candidates are tested in batches against the grid (vectorised), then the
    survivors of a batch one by one against each other, in order, so the result is the same as
    testing every candidate in sequence. Raises if ``count`` cannot be reached (too dense).
    """
    spacing = 2 * min_extent + gap
    cells = max(1, int(size / (spacing / np.sqrt(2))))
    cell = size / cells
    grid = np.full((cells, cells), -1, np.int32)
    xy = np.empty((count, 2))
    ext = np.empty(count)
    n, tries = 0, 0
    while n < count:
        if tries > tries_per_feature * count:
            raise ValueError(f"only {n} of {count} features fit in {size}² (the process is too dense)")
        batch = min(4 * (count - n) + 64, 50_000)
        tries += batch
        cand = rng.uniform(0, size, (batch, 2))
        cext = extent(rng, batch)
        reach = float(cext.max()) + float(ext[:n].max(initial=cext.max())) + gap
        keep = ~_conflicts(cand, cext, xy[:n], ext[:n], grid, cell, size, gap, reach)
        start = n
        for c, e in zip(cand[keep], cext[keep]):
            if n > start and _close_to_any(c, e, xy[start:n], ext[start:n], size, gap):
                continue  # too close to one kept earlier in this batch
            xy[n], ext[n] = c, e
            grid[int(c[1] // cell) % cells, int(c[0] // cell) % cells] = n
            n += 1
            if n == count:
                break
    return Layout(size, xy, ext, grid, cell)


def _wrap(d: np.ndarray, size: float) -> np.ndarray:
    """Periodic difference in [-size/2, size/2)."""
    return (d + size / 2) % size - size / 2


def _conflicts(cand: np.ndarray, cext: np.ndarray, xy: np.ndarray, ext: np.ndarray, grid: np.ndarray, cell: float,
               size: int, gap: float, reach: float) -> np.ndarray:
    """Which candidates lie too close to an already kept centre (looked up on the grid)."""
    g = grid.shape[0]
    k = min(int(reach // cell) + 1, g // 2)
    cy, cx = (cand[:, 1] // cell).astype(int), (cand[:, 0] // cell).astype(int)
    bad = np.zeros(len(cand), bool)
    if not len(xy):
        return bad
    for oy in range(-k, k + 1):
        for ox in range(-k, k + 1):
            idx = grid[(cy + oy) % g, (cx + ox) % g]
            has = idx >= 0
            if not has.any():
                continue
            j = idx[has]
            d = np.hypot(_wrap(cand[has, 0] - xy[j, 0], size), _wrap(cand[has, 1] - xy[j, 1], size))
            bad[np.flatnonzero(has)[d < cext[has] + ext[j] + gap]] = True
    return bad


def _close_to_any(c: np.ndarray, e: float, xy: np.ndarray, ext: np.ndarray, size: int, gap: float) -> bool:
    """One candidate against a few kept centres (those kept earlier in the same batch)."""
    d = np.hypot(_wrap(c[0] - xy[:, 0], size), _wrap(c[1] - xy[:, 1], size))
    return bool((d < e + ext + gap).any())


def window(layout: Layout, i: int, reach: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pixels within ``reach`` (a square) of feature ``i``'s centre, wrapping across the edges.

    Returns ``(rows, cols, dx, dy)``: index arrays for ``image[np.ix_(rows, cols)]`` and the
    offsets (px) from the centre to each pixel's centre. Never wider than the image, so no pixel
    appears twice and each offset is the shortest periodic one.
    """
    n = layout.size
    r = min(int(np.ceil(reach)), (n - 1) // 2)
    x, y = layout.xy[i]
    ox, oy = np.arange(int(x) - r, int(x) + r + 1), np.arange(int(y) - r, int(y) + r + 1)
    dx = (ox + 0.5 - x)[None, :]
    dy = (oy + 0.5 - y)[:, None]
    return oy % n, ox % n, dx, dy


def smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Periodic Gaussian-filtered white noise (sigma in px), zero mean and unit deviation."""
    f = np.fft.fftfreq(size)
    gain = np.exp(-2 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    x = np.fft.ifft2(np.fft.fft2(rng.normal(size=(size, size))) * gain).real
    return (x - x.mean()) / (x.std() + 1e-12)


def finish(rgb: np.ndarray, rng: np.random.Generator, grain: float) -> np.ndarray:
    """Add fine grain (so no two patches are equal) and quantise to uint8."""
    rgb = rgb + rng.normal(0, grain, rgb.shape[:2])[..., None]
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)


def _count(size: int, per_reference: float) -> int:
    return max(1, round(per_reference * size * size / REFERENCE_SIZE ** 2))


# ---- the processes ---------------------------------------------------------------------------

DISC_COLOURS = np.array([[196, 62, 52], [46, 104, 160], [222, 168, 40], [64, 138, 86]]) / 255
CREAM = np.array([242, 233, 208]) / 255


def discs(size: int, seed: int) -> Drawing:
    """Round dots (radius 8–13 px) in four colours on cream, at least 5 px apart; 44 per 256²."""
    rng = np.random.default_rng(seed)
    lay = scatter(rng, size, _count(size, 44), lambda r, b: r.uniform(8, 13, b), 8, 5)
    colour = DISC_COLOURS[rng.integers(0, 4, len(lay.xy))]
    cover = np.zeros((size, size))
    paint = np.zeros((size, size, 3))
    for i in range(len(lay.xy)):
        rows, cols, dx, dy = window(lay, i, lay.extent[i] + 1)
        at = np.ix_(rows, cols)
        a = np.clip(lay.extent[i] - np.hypot(dx, dy) + 0.5, 0, 1)
        cover[at] += a
        paint[at] += a[..., None] * colour[i]
    out = paint + (1 - np.minimum(cover, 1))[..., None] * CREAM
    return Drawing(finish(out, rng, 0.012), len(lay.xy))


STONE_PALETTE = np.array([[0.72, 0.62, 0.48], [0.62, 0.58, 0.52], [0.78, 0.70, 0.58], [0.55, 0.50, 0.45], [0.68, 0.55, 0.42]])
GROUT = np.array([0.16, 0.13, 0.11])


def stones(size: int, seed: int) -> Drawing:
    """Irregular stones: Voronoi cells of seeds ≥ 24 px apart (60 per 256²), mottled, 3 px dark grout."""
    rng = np.random.default_rng(seed)
    lay = scatter(rng, size, _count(size, 60), lambda r, b: np.full(b, 12.0), 12, 0)
    colour = STONE_PALETTE[rng.integers(0, len(STONE_PALETTE), len(lay.xy))] * rng.uniform(0.9, 1.08, (len(lay.xy), 1))
    mottle = smooth_noise(rng, size, 6.0)
    d1, d2 = np.full((size, size), np.inf), np.full((size, size), np.inf)
    i1, i2 = np.zeros((size, size), int), np.zeros((size, size), int)
    for i in range(len(lay.xy)):  # the two nearest seeds of every pixel (each seed offers itself nearby)
        rows, cols, dx, dy = window(lay, i, 44)
        at = np.ix_(rows, cols)
        d = np.hypot(dx, dy)
        o1, o2, j1, j2 = d1[at], d2[at], i1[at], i2[at]
        first, second = d < o1, (d >= o1) & (d < o2)
        d2[at], i2[at] = np.where(first, o1, np.where(second, d, o2)), np.where(first, j1, np.where(second, i, j2))
        d1[at], i1[at] = np.where(first, d, o1), np.where(first, i, j1)
    # distance to the bisector of the two nearest seeds (the stone's edge), periodic
    sep = np.hypot(_wrap(lay.xy[i2, 0] - lay.xy[i1, 0], size), _wrap(lay.xy[i2, 1] - lay.xy[i1, 1], size))
    edge = np.clip(((d2 ** 2 - d1 ** 2) / (2 * np.maximum(sep, 1e-6)) - 1.5) / 1.0, 0, 1)[..., None]
    out = colour[i1] * (1 + 0.08 * mottle)[..., None] * edge + GROUT * (1 - edge)
    return Drawing(finish(out, rng, 0.02), len(lay.xy))


GROUND = np.array([0.13, 0.11, 0.09])


def pebbles(size: int, seed: int) -> Drawing:
    """Gravel: 100 pebbles per 256², radius 4–18 px (log-normal), overlapping by up to 3 px, lumpy, shaded."""
    rng = np.random.default_rng(seed)
    lay = scatter(rng, size, _count(size, 100), lambda r, b: np.clip(np.exp(r.normal(np.log(10), 0.35, b)), 4, 18), 4, -3.0)
    n = len(lay.xy)
    a2, a3 = rng.uniform(0, 0.15, n), rng.uniform(0, 0.06, n)
    p2, p3 = rng.uniform(0, np.pi, n), rng.uniform(0, 2 * np.pi, n)
    base = lay.extent / (1 + a2 + a3)  # the outline stays within the extent the layout reserved
    grey = rng.uniform(0.35, 0.8, n)
    warm = rng.uniform(0, 1, n)
    colour = grey[:, None] * (np.array([1.0, 1.0, 1.0]) * (1 - warm[:, None]) + np.array([1.08, 0.95, 0.78]) * warm[:, None])
    speckle = smooth_noise(rng, size, 1.2)
    dust = smooth_noise(rng, size, 3.0)
    cover = np.zeros((size, size))
    paint = np.zeros((size, size, 3))
    for i in range(n):
        rows, cols, dx, dy = window(lay, i, lay.extent[i] + 1)
        at = np.ix_(rows, cols)
        d = np.hypot(dx, dy)
        theta = np.arctan2(dy, dx)
        rho = base[i] * (1 + a2[i] * np.cos(2 * (theta - p2[i])) + a3[i] * np.cos(3 * (theta - p3[i])))
        a = np.clip(rho - d + 0.5, 0, 1)
        t = np.minimum(d / rho, 1)
        # lit from the upper left: brighter there, darker towards the rim
        light = 0.8 - 0.25 * (dx + dy) / rho / np.sqrt(2) + 0.25 * np.sqrt(1 - t ** 2)
        cover[at] = cover[at] * (1 - a) + a  # "over": a later pebble lies on an earlier one
        paint[at] = paint[at] * (1 - a)[..., None] + (a * light)[..., None] * colour[i]
    ground = GROUND * (1 + 0.15 * dust)[..., None]
    out = paint * (1 + 0.06 * speckle)[..., None] + (1 - cover)[..., None] * ground
    return Drawing(finish(out, rng, 0.015), n)


PROCESSES: dict[str, tuple[Callable[[int, int], Drawing], str]] = {
    "discs": (discs, "scattered round dots in four colours on cream, never touching"),
    "stones": (stones, "irregular stones (Voronoi cells of well-spaced seeds) with dark grout"),
    "pebbles": (pebbles, "gravel: lumpy, shaded pebbles of varied size and colour on dark ground"),
}


def draw(name: str, size: int, seed: int) -> Drawing:
    """Draw process ``name`` at ``size``² from ``seed`` (a KeyError names the known processes)."""
    if name not in PROCESSES:
        raise KeyError(f"unknown process {name!r} (known: {', '.join(PROCESSES)})")
    return PROCESSES[name][0](size, seed)
