"""Writing textures atomically: a crash or a cancel never leaves a half-written file behind.

Every file goes to a temporary sibling first and is renamed over the target only once complete,
so an artist's existing texture is either fully replaced or untouched.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import files
from ..errors import InputError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, else delete it.

    A missing or read-only folder is an InputError before anything is written; see
    :func:`texture_addon.files.atomic_write` for the rest (normal mode, unique temporary name,
    one-line OutputError on a full disk).
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.exists():
        raise InputError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK):
        raise InputError(f"output folder is not writable: {parent}")
    if target.is_dir():
        raise InputError(f"output path is a directory: {target}")
    with files.atomic_write(target) as tmp:
        yield tmp


def to_uint(arr: np.ndarray, bits: int = 8) -> np.ndarray:
    """Quantise a float image in [0, 1] to 8 or 16 bits with rounding (not truncation)."""
    top = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    return np.clip(np.rint(np.asarray(arr, np.float64) * top), 0, top).astype(dtype)


def png_image(image: np.ndarray, bits: int = 8):
    """A float image (H, W), (H, W, 1) or (H, W, 3) in [0, 1] as a Pillow image of 8 or 16 bits.

    16-bit output is greyscale only (PNG through Pillow has no 16-bit RGB writer); that is what
    height maps need.
    """
    from PIL import Image

    if bits not in (8, 16):
        raise ValueError("bits must be 8 or 16")
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if bits == 16:
        if arr.ndim != 2:
            raise ValueError("16-bit PNGs are written for single-channel images only")
        # Pillow infers "I;16" from a native uint16 array (Pillow 13 rejects mode= for this dtype).
        return Image.fromarray(np.ascontiguousarray(to_uint(arr, 16), dtype=np.uint16))
    q = to_uint(arr, 8)
    return Image.fromarray(q, mode="L" if q.ndim == 2 else "RGB")


def save_png(path: str | os.PathLike, image: np.ndarray, bits: int = 8) -> Path:
    """Save a float image in [0, 1] as an 8- or 16-bit PNG (see :func:`png_image`), atomically."""
    pil = png_image(image, bits)
    target = Path(path)
    with atomic_output(target) as tmp:
        pil.save(tmp, format="PNG")
    return target
