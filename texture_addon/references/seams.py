"""Does a texture tile? The seam score, in plain numpy.

It lives with the image I/O rather than in the engine because Blender's process (which must never
import torch) scores the images it receives too.
"""

from __future__ import annotations

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
