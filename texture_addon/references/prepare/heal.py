"""Heal masks: which pixels to fill, read from a mask image or from the image's own alpha.

Only the checks and the reading live here (no torch); the fill itself is the engine's
(:mod:`texture_addon.engine.heal`), imported when a heal actually runs.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ...errors import InputError
from ..load import load_image

#: A mask pixel at or above this (of white) is filled; antialiased edges count as filled.
THRESHOLD = 0.5


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask image → (H, W) bool, white = fill. A mask with alpha fills where it is opaque white."""
    m = load_image(path)
    c = m.shape[2]
    if c in (2, 4):
        value = m[..., :-1].mean(axis=2) * m[..., -1]
    else:
        value = m.mean(axis=2)
    return value >= THRESHOLD


def alpha_mask(image: np.ndarray) -> Optional[np.ndarray]:
    """Where an (H, W, 2|4) image is transparent (alpha below one half), or None without alpha."""
    if image.shape[2] not in (2, 4):
        return None
    return image[..., -1] < THRESHOLD


def colour_channels(image: np.ndarray) -> np.ndarray:
    """The RGB (or grey, replicated) channels of a loaded image, alpha dropped, values untouched."""
    c = image.shape[2]
    colour = image[..., :-1] if c in (2, 4) else image
    return np.ascontiguousarray(np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour[..., :3])


def check_mask(mask: np.ndarray, width: int, height: int, what: str = "the image") -> np.ndarray:
    """Refuse a mask of another size, an empty one and one that covers everything."""
    m = np.asarray(mask, bool)
    if m.shape != (height, width):
        raise InputError(f"the mask is {m.shape[1]}×{m.shape[0]} but {what} is {width}×{height}; "
                         f"paint it on a copy of the same size")
    if not m.any():
        raise InputError("the mask selects nothing to heal (paint the area to fill in white)")
    if m.all():
        raise InputError("the mask selects the whole image: nothing is left to heal it from")
    return m
