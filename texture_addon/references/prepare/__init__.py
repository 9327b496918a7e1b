"""From a photograph to a clean reference: straighten, heal, even out the light.

A reference taken in the field is seen at an angle, lit unevenly and has things on it that do not
belong; fed as it is, the synthesis copies converging courses, blotches of light and the drain
cover around the new texture. These steps run before the engine, in this order: straighten first
(the heal and the light then work on the surface as it really is), heal before flattening (an
object's own shading must not bend the estimated light), flatten last.

Straightening and flattening are plain numpy; the heal runs the engine's patch correspondence and
imports torch only when it runs.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .flatten import DEFAULT_SCALE, flatten
from .heal import check_mask
from .straighten import check_quad, output_size, straighten, warp_mask


def check_prepare(image: np.ndarray, corners: Optional[np.ndarray], size: Optional[tuple[int, Optional[int]]],
                  mask: Optional[np.ndarray]) -> None:
    """Every check :func:`prepare` makes, before any pixel is computed (bad input fails fast)."""
    h, w = image.shape[:2]
    if corners is not None:
        check_quad(corners, w, h)
        output_size(corners, size)
    elif size is not None:
        from ...errors import InputError

        raise InputError("--size applies to straightening; give --corners too")
    if mask is not None:
        check_mask(mask, w, h, "the photo")


def prepare(image: np.ndarray, corners: Optional[np.ndarray] = None, size: Optional[tuple[int, Optional[int]]] = None,
            flatten_light: bool = False, mask: Optional[np.ndarray] = None, scale: float = DEFAULT_SCALE,
            progress=None, cancel=None) -> np.ndarray:
    """``image`` (H, W, 3) straightened (``corners`` TL, TR, BR, BL), healed (``mask`` in the photo's
    pixels, true = fill) and flattened, in that order; each step only when asked for."""
    check_prepare(image, corners, size, mask)
    out = np.asarray(image, np.float32)
    if corners is not None:
        out = straighten(out, corners, size)
        if mask is not None:
            mask = check_mask(warp_mask(mask, corners, (out.shape[1], out.shape[0])), out.shape[1], out.shape[0],
                              "the straightened photo")
    if mask is not None:
        from ...engine.heal import heal

        out = heal(out, mask, progress=progress, cancel=cancel)
    if flatten_light:
        out = flatten(out, scale=scale)
    return out


__all__ = ["prepare", "check_prepare", "flatten", "straighten"]
