"""Turning reference image datablocks into files the worker can read.

The worker runs in another process, so it needs paths. An image that is a clean, unpacked file on
disk is passed as is; anything else (packed, generated, painted on, or edited) is written to a PNG
in the job folder. The PNG encoder is a few lines of zlib + numpy because PIL must not be imported
into Blender, and ``Image.save`` would change the artist's datablock (file path, format).
"""

from __future__ import annotations

import os
import struct
import zlib

from typing import TYPE_CHECKING

import bpy

from .. import files
from .image_pixels import numpy, read_image_pixels

if TYPE_CHECKING:
    import numpy as np


def image_file_on_disk(image: bpy.types.Image) -> str | None:
    """Absolute path of the file an image shows unchanged, or None if there is no such file."""
    if image.source != "FILE" or image.packed_file is not None or image.is_dirty:
        return None
    path = bpy.path.abspath(image.filepath, library=image.library)
    return os.path.normpath(path) if path and os.path.isfile(path) else None


def write_png(path: str, rgba: "np.ndarray") -> None:
    """Write a top-down float (h, w, 4) array in [0, 1] as an 8-bit RGBA PNG."""
    np = numpy()
    height, width = rgba.shape[:2]
    data = (np.clip(rgba, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raw = np.zeros((height, width * 4 + 1), np.uint8)  # filter byte 0 (None) per row
    raw[:, 1:] = data.reshape(height, width * 4)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + tag + body
                + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    with files.atomic_write(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


def _linear_to_srgb(x: "np.ndarray") -> "np.ndarray":
    np = numpy()
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


def image_to_file(image: bpy.types.Image, folder: str, stem: str) -> str:
    """A path to a file holding what ``image`` shows, writing one into ``folder`` if needed.

    Raises ValueError with a readable message when the image has no pixels (e.g. its file is gone).
    """
    on_disk = image_file_on_disk(image)
    if on_disk is not None:
        return on_disk
    rgba = read_image_pixels(image)
    if rgba.size == 0:
        where = bpy.path.abspath(image.filepath) if image.filepath else "no file"
        raise ValueError(f"image '{image.name}' has no pixels ({where})")
    if image.is_float and not image.colorspace_settings.is_data:
        rgba = rgba.copy()
        rgba[..., :3] = _linear_to_srgb(rgba[..., :3])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{stem}.png")
    write_png(path, rgba)
    return path
