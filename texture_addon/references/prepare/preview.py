"""A small, cheap look at a prepared reference, for the Blender panel's Prepare box.

The photo is shrunk by an integer factor first (block means; the mask by "any pixel marked"), so
straightening and flattening a 4K photo for a 128-px preview take milliseconds and can follow
every change of the settings. The heal needs the engine (torch), which Blender's own Python does
not have: the preview marks the area the heal will fill, tinted, and Generate heals it.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from .flatten import flatten
from .straighten import straighten, warp_mask

#: Longest side of the preview, in pixels.
PREVIEW_SIDE = 128
#: The colour the area to be healed is tinted with, and how strongly.
HEAL_TINT = np.array([1.0, 0.2, 0.8], np.float32)
TINT_AMOUNT = 0.6


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` (H, W, C) as block means of ``factor`` × ``factor`` pixels (the edges cropped)."""
    if factor <= 1:
        return np.asarray(image, np.float32)
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    blocks = np.asarray(image[:h, :w], np.float32).reshape(h // factor, factor, w // factor, factor, -1)
    return blocks.mean(axis=(1, 3))


def preview(image: np.ndarray, corners: Optional[Sequence[float]] = None, flatten_light: bool = False,
            mask: Optional[np.ndarray] = None, side: int = PREVIEW_SIDE) -> np.ndarray:
    """``image`` (H, W, 3) prepared as :func:`prepare` would (straighten, then flatten) at about
    ``side`` px, the area ``mask`` (H, W, true = heal) marks tinted; float32 (h, w, 3) in [0, 1]."""
    factor = max(1, math.ceil(max(image.shape[:2]) / side))
    small = shrink(image[..., :3], factor)
    h, w = small.shape[:2]
    marked = None
    if mask is not None:
        marked = shrink(np.asarray(mask, np.float32)[..., None] > 0.5, factor)[..., 0] > 0
    if corners is not None:
        quad = np.clip(np.asarray(corners, np.float64).reshape(4, 2) / factor, 0.0, [w, h])
        small = straighten(small, quad)
        if marked is not None:
            marked = warp_mask(marked, quad, (small.shape[1], small.shape[0]))
    if flatten_light:
        small = flatten(small)
    if marked is not None and marked.any():
        small = small.copy()
        small[marked] = (1.0 - TINT_AMOUNT) * small[marked] + TINT_AMOUNT * HEAL_TINT
    return np.clip(small, 0.0, 1.0).astype(np.float32)
