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

from typing import Any, Mapping, Optional

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


def prepare_table(table: Mapping[str, Any], scale: float = DEFAULT_SCALE, progress=None, cancel=None) -> np.ndarray:
    """A reference table ``{path, corners, size, flatten, mask}`` (a bake manifest's, a job spec's
    reference, the ``prepare`` command's arguments) → the prepared (H, W, 3) image.

    The one way a photograph becomes a prepared reference: the CLI, the bake (through the CLI) and
    the worker's Generate all come here, so they give the same pixels and the same one-line errors.
    The files are only read. ``corners`` is a list of 8 numbers or ``"X1,Y1,…"``; ``size`` "WxH"/"W".
    """
    from ..load import load_image
    from .heal import colour_channels, load_mask
    from .straighten import parse_corners, parse_size

    corners = table.get("corners")
    if corners is not None:
        corners = parse_corners(corners if isinstance(corners, str) else ",".join(repr(float(v)) for v in corners))
    size = parse_size(str(table["size"])) if table.get("size") is not None else None
    photo = colour_channels(load_image(table["path"]))
    mask = load_mask(table["mask"]) if table.get("mask") else None
    check_prepare(photo, corners, size, mask)  # every input checked before any compute
    return prepare(photo, corners, size, bool(table.get("flatten")), mask, scale, progress=progress, cancel=cancel)


__all__ = ["prepare", "prepare_table", "check_prepare", "flatten", "straighten"]
