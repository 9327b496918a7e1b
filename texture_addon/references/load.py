"""Loading reference images of any common flavour into float32 arrays.

Artists hand us 16-bit PNGs, images with alpha, greyscale scans and palette GIFs. All of them are
accepted and converted; anything we cannot read is an :class:`InputError` naming the file, never a
traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError

# A reference larger than this is almost certainly a mistake (and would not fit in memory once
# turned into patches); smaller than this there are no patches to learn from.
MAX_REFERENCE_PIXELS = 8192 * 8192
MIN_REFERENCE_SIDE = 8


def _open_pil(path: str | os.PathLike):
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:  # pragma: no cover - Pillow is a hard dependency
        raise InputError("Pillow is not installed; cannot read images") from exc

    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    if p.is_dir():
        raise InputError(f"not a file but a directory: {p}")
    Image.MAX_IMAGE_PIXELS = MAX_REFERENCE_PIXELS
    try:
        img = Image.open(p)
        img.load()
    except UnidentifiedImageError:
        raise InputError(f"not an image file (format not recognised): {p}") from None
    except Image.DecompressionBombError:
        raise InputError(f"image too large (more than {MAX_REFERENCE_PIXELS} pixels): {p}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"corrupt or truncated image: {p} ({exc})") from None
    return img


def _to_float(img) -> np.ndarray:
    """Convert any PIL mode to float32 in [0, 1], keeping the full bit depth of 16-bit images."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 or mode.startswith("I;16") else 255.0
        return np.clip(arr / top, 0, 1).astype(np.float32)[..., None]
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        hi = float(arr.max(initial=1.0))
        return np.clip(arr / (hi if hi > 1 else 1.0), 0, 1)[..., None]
    if mode in ("1", "L", "LA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBA", "RGBa", "La"):
        if mode in ("LA", "La"):
            img = img.convert("L")
        elif mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBa"):
            img = img.convert("RGBA" if "A" in mode or "transparency" in img.info else "RGB")
        elif mode == "1":
            img = img.convert("L")
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.dtype == np.uint16:
        return (arr.astype(np.float32) / 65535.0)
    return arr.astype(np.float32) / 255.0


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Load an image as float32 (H, W, C) in [0, 1], C being 1, 2 (grey+alpha), 3 or 4.

    Alpha is kept here (callers decide); use :func:`load_rgb` for synthesis references.
    """
    img = _open_pil(path)
    arr = _to_float(img)
    h, w = arr.shape[:2]
    if min(h, w) < MIN_REFERENCE_SIDE:
        raise InputError(f"image too small ({w}×{h}; at least {MIN_REFERENCE_SIDE} px each way): {path}")
    return np.ascontiguousarray(arr)


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Load an image as float32 RGB (H, W, 3): grey is replicated, alpha composited over mid grey.

    Compositing over a neutral grey (rather than dropping alpha) keeps cut-out references from
    teaching the synthesis garbage colours hidden in fully transparent pixels.
    """
    arr = load_image(path)
    c = arr.shape[2]
    if c in (2, 4):
        alpha = arr[..., -1:]
        arr = arr[..., :-1] * alpha + 0.5 * (1.0 - alpha)
        c -= 1
    if c == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[..., :3], dtype=np.float32)


def load_gray(path: str | os.PathLike) -> np.ndarray:
    """Load an image as float32 (H, W) luminance (Rec. 709 weights), e.g. a height or roughness map."""
    arr = load_image(path)
    c = arr.shape[2]
    if c in (2, 4):
        arr = arr[..., :-1]
        c -= 1
    if c == 1:
        return np.ascontiguousarray(arr[..., 0])
    return np.ascontiguousarray(arr[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32))
