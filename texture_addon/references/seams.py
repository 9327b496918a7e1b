"""Does a texture tile? The seam score, in plain numpy.

It lives with the image I/O rather than in the engine because Blender's process (which must never
import torch) scores the images it receives too.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _as_hwc(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img, dtype=np.float64)
    return a[..., None] if a.ndim == 2 else a


def seam_score(img: np.ndarray, axis: str = "both", band: int = 4) -> float:
    """Wrap-boundary neighbour difference ÷ interior neighbour difference (≈1 = seamless).

    For ``band=1`` this is exactly "mean |last column − first column| ÷ mean |difference of
    neighbouring columns|" (and the same for rows). A single row of pixels is a noisy sample,
    though: when a strong edge of the texture happens to fall on the boundary of a perfectly
    periodic image, the one-pair ratio swings by ±30 %. So by default we compare all pairs at
    distances 1…``band`` that straddle the boundary with all interior pairs at the same distances,
    which averages over a strip of 2·``band`` pixels. Photographs still score 2 or more; a texture
    that tiles scores about 1. ``axis`` picks the seams: ``x`` (right edge against left), ``y``
    (bottom against top) or both.
    """
    a = _as_hwc(img)
    axes = {"both": (1, 0), "x": (1,), "y": (0,)}.get(axis)
    if axes is None:
        raise ValueError("axis must be 'both', 'x' or 'y'")
    crossing, interior = 0.0, 0.0
    for ax in axes:
        b = np.moveaxis(a, ax, 0)
        n = b.shape[0]
        for d in range(1, min(band, n // 4) + 1):
            interior += float(np.abs(b[d:] - b[:-d]).mean())
            crossing += float(np.mean([np.abs(b[n - k] - b[d - k]).mean() for k in range(1, d + 1)]))
    return crossing / interior if interior > 0 else 1.0


CHUNK_ELEMENTS = 4_000_000  # temporaries of ~16 MB however large the image


def _line_differences(b: np.ndarray, d: int) -> np.ndarray:
    """diff[j] = mean |line j − line (j − d)| with wrap-around, for lines along axis 0 of ``b``.

    Computed a strip of the other axis at a time in float32, so a 4096² image needs megabytes of
    temporaries rather than gigabytes.
    """
    n, m = b.shape[:2]
    per_column = n * int(np.prod(b.shape[2:], dtype=np.int64))
    step = max(1, CHUNK_ELEMENTS // max(1, per_column))
    total = np.zeros(n, dtype=np.float64)
    for start in range(0, m, step):
        strip = np.asarray(b[:, start:start + step], dtype=np.float32)
        total += np.abs(strip - np.roll(strip, d, axis=0)).reshape(n, -1).sum(axis=1, dtype=np.float64)
    return total / (m * (per_column // n))


def line_scores(img: np.ndarray, axis: str = "x", band: int = 4) -> np.ndarray:
    """The seam score every line position would get if the image were cut there (index 0 = the
    real wrap boundary). Vectorised: O(pixels × band) for all positions at once."""
    a = np.asarray(img)
    a = a[..., None] if a.ndim == 2 else a
    b = np.moveaxis(a, 1 if axis == "x" else 0, 0)
    n = b.shape[0]
    crossing = np.zeros(n)
    interior = np.zeros(n)
    band = min(band, n // 4)
    for d in range(1, band + 1):
        # diff[j] = |line j − line (j − d)|, with wrap: pairs at distance d ending at j.
        diff = _line_differences(b, d)
        # A cut before line k is crossed by the pairs ending at k … k + d − 1; all others are interior.
        cross = np.mean([np.roll(diff, -k) for k in range(d)], axis=0)
        crossing += cross
        interior += (diff.sum() - d * cross) / (n - d)
    return np.divide(crossing, interior, out=np.ones(n), where=interior > 0)


def typical_line(img: np.ndarray, axis: str = "x", band: int = 4) -> int:
    """The line position whose cut scores the median of all positions (ties: the lowest index)."""
    s = line_scores(img, axis, band)
    order = np.argsort(s, kind="stable")
    return int(order[(len(s) - 1) // 2])


def place_origin(images: Sequence[np.ndarray], periodic: tuple[bool, bool], band: int = 4) -> list[np.ndarray]:
    """Roll periodic images so the tile's edges fall on typical lines of the first image.

    A periodic texture has no natural origin: any circular shift tiles into the same endless
    surface. The optimiser's origin is arbitrary, and sometimes a straight feature of the texture
    (a mortar line) lies exactly on the tile's edge, where an artist looking at one tile, or a
    seam check, reads it as a seam. Cutting at the line whose seam score is the median of all
    cuts puts the edge somewhere ordinary. Only periodic axes move (``periodic`` = (y, x)); all
    images (the maps of one material) move together.
    """
    first = images[0]
    dy = typical_line(first, "y", band) if periodic[0] and first.shape[0] >= 8 else 0
    dx = typical_line(first, "x", band) if periodic[1] and first.shape[1] >= 8 else 0
    if not (dy or dx):
        return [np.asarray(im) for im in images]
    return [np.ascontiguousarray(np.roll(np.asarray(im), (-dy, -dx), axis=(0, 1))) for im in images]


def seam_rank(img: np.ndarray, axis: str = "both", band: int = 4) -> float:
    """How unusual the wrap boundary is among all parallel lines: the fraction of positions whose
    score is lower (mean over the chosen axes).

    A real seam is the worst line of the image (rank ≈ 1.0) every time. For a periodic image the
    boundary is an ordinary line (rank uniform in 0…1): a high :func:`seam_score` with a middling
    rank means a straight feature of the texture (a mortar line) happens to lie on the boundary.
    """
    axes = ("x", "y") if axis == "both" else (axis,)
    ranks = []
    for ax in axes:
        s = line_scores(img, ax, band)
        ranks.append(float((s < s[0]).mean()))
    return float(np.mean(ranks))
