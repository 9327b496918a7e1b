"""Loading reference images of any common flavour into float32 arrays.

Artists hand us 16-bit PNGs, images with alpha, greyscale scans and palette GIFs. All of them are
accepted and converted; anything we cannot read is an :class:`InputError` naming the file, never a
traceback.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError

# A reference larger than this is almost certainly a mistake (and would not fit in memory once
# turned into patches); smaller than this there are no patches to learn from.
MAX_REFERENCE_PIXELS = 8192 * 8192
MIN_REFERENCE_SIDE = 8


def _open_pil(path: str | os.PathLike):
    """Open ``path`` reading its header only, and refuse sizes out of range before any decoding.

    A PNG of a few kilobytes can decode to gigabytes (an 11000² 1-bit image is 89 KB); Pillow's
    own guard only raises at twice ``MAX_IMAGE_PIXELS``, so the header's size is checked here.
    """
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
        with warnings.catch_warnings():  # the size is refused below, in one line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(p)
    except UnidentifiedImageError:
        raise InputError(f"not an image file (format not recognised): {p}") from None
    except Image.DecompressionBombError:
        raise InputError(_too_large(p, None)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"corrupt or truncated image: {p} ({exc})") from None
    check_image_size(img.size, p)
    return img


def check_image_size(size: tuple[int, int], path: str | os.PathLike) -> None:
    """Refuse a (width, height) that is too large to decode or too small to learn from."""
    w, h = size
    if w * h > MAX_REFERENCE_PIXELS:
        raise InputError(_too_large(path, (w, h)))
    if min(w, h) < MIN_REFERENCE_SIDE:
        raise InputError(f"image too small ({w}×{h}; at least {MIN_REFERENCE_SIDE} px each way): {path}")


def _too_large(path: str | os.PathLike, size: tuple[int, int] | None) -> str:
    side = math.isqrt(MAX_REFERENCE_PIXELS)
    got = f"{size[0]}×{size[1]} = {size[0] * size[1] / 1e6:.0f} Mpx" if size else "its header says"
    return (f"image too large ({got}; at most {MAX_REFERENCE_PIXELS / 1e6:.0f} Mpx, e.g. {side}×{side}): "
            f"{path}")


def _decode(img, path: Path) -> np.ndarray:
    """Decode an opened image into float32 (H, W, C), every decoding failure an InputError."""
    from PIL import Image

    try:
        wide = _decode_png16(img, path)
        if wide is not None:
            return wide.astype(np.float32) / 65535.0
        img.load()
    except Image.DecompressionBombError:
        raise InputError(_too_large(path, img.size)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"corrupt or truncated image: {path} ({exc})") from None
    return _to_float(img)


#: Pillow decodes 16-bit colour PNGs to 8 bits ("RGB;16B" keeps each sample's high byte). The
#: little-endian unpacker of the same width keeps the *low* bytes of the same big-endian samples
#: (PNG unfilters before unpacking, with the same bytes per pixel), so two decodes give all 16
#: bits; a 16-bit grey+alpha pixel is 4 bytes, which the raw "RGBA" unpacker keeps as they are.
_LOW_BYTES = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}


def _decode_png16(img, path: Path) -> np.ndarray | None:
    """(H, W, C) uint16 samples of a 16-bit RGB, RGBA or grey+alpha PNG; None for other images."""
    from PIL import Image

    tile = getattr(img, "tile", None) or []
    if img.format != "PNG" or len(tile) != 1 or not isinstance(tile[0].args, str):
        return None
    rawmode = tile[0].args
    if rawmode == "LA;16B":
        raw = _load_with_rawmode(Image.open(path), "RGBA").astype(np.uint16)
        return np.stack([raw[..., 0] << 8 | raw[..., 1], raw[..., 2] << 8 | raw[..., 3]], axis=-1)
    if rawmode not in _LOW_BYTES:
        return None
    low = _load_with_rawmode(Image.open(path), _LOW_BYTES[rawmode]).astype(np.uint16)
    img.load()
    return np.asarray(img).astype(np.uint16) << 8 | low


def _load_with_rawmode(img, rawmode: str) -> np.ndarray:
    img.tile = [img.tile[0]._replace(args=rawmode)]
    img.load()
    return np.asarray(img)


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


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file from its header, refused in one line (not found, not an
    image, too large) as :func:`load_image` would refuse it."""
    img = _open_pil(path)
    try:
        return img.size
    finally:
        img.close()


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Load an image as float32 (H, W, C) in [0, 1], C being 1, 2 (grey+alpha), 3 or 4.

    Alpha is kept here (callers decide); use :func:`load_rgb` for synthesis references. 16-bit
    PNGs (grey, grey+alpha, RGB, RGBA) keep all 16 bits. The size is checked from the header,
    before anything is decoded.
    """
    img = _open_pil(path)
    return np.ascontiguousarray(_decode(img, Path(path)))


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
