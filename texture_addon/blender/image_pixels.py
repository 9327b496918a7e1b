"""Moving pixels between PNG files, numpy arrays and Blender images.

Only bpy and numpy: Blender's own image loader decodes the worker's PNGs (8- and 16-bit) into a
temporary datablock and ``foreach_get``/``foreach_set`` with float32 arrays move the pixels, which
is fast (tens of ms at 2K) where per-pixel Python lists take seconds. Arrays here are top-down
(row 0 is the top of the picture) and RGBA; Blender stores rows bottom-up, so we flip at the edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import bpy

from ..contract.vocabulary import COLOUR_MAPS
from ..errors import TextureForgeError
from ..install_hints import numpy_missing_message

if TYPE_CHECKING:
    import numpy as np

SRGB = "sRGB"
NON_COLOR = "Non-Color"


def colorspace_for_map(map_name: str) -> str:
    """sRGB for base colour; every other map is data and must not be colour managed."""
    return SRGB if map_name in COLOUR_MAPS else NON_COLOR


def numpy() -> Any:
    """Import numpy on first use, or say in words what is missing and how to get it.

    Imported lazily so that ``register()`` works in a Blender without numpy (Debian's).
    """
    try:
        import numpy as np
    except ImportError:
        raise TextureForgeError(numpy_missing_message()) from None
    return np


def read_image_pixels(image: bpy.types.Image) -> "np.ndarray":
    """The image's pixels as a top-down float32 (h, w, 4) array (empty if it has no data)."""
    np = numpy()
    width, height = image.size[:]
    count = len(image.pixels)
    if count == 0 or width * height == 0:
        return np.zeros((0, 0, 4), np.float32)
    flat = np.empty(count, np.float32)
    image.pixels.foreach_get(flat)
    channels = count // (width * height)
    arr = flat.reshape(height, width, channels)[::-1]
    if channels != 4:  # Blender exposes 4 channels for everything it creates, but be safe
        rgba = np.ones((height, width, 4), np.float32)
        rgba[..., :min(channels, 3)] = arr[..., :3]
        if channels < 3:
            rgba[..., 1:3] = arr[..., :1]
        arr = rgba
    return np.ascontiguousarray(arr)


def write_image_pixels(image: bpy.types.Image, rgba: "np.ndarray") -> None:
    """Replace the image's pixels with a top-down (h, w, 4) array, resizing the image to match."""
    np = numpy()
    height, width = rgba.shape[:2]
    if tuple(image.size[:]) != (width, height):
        if image.source == "GENERATED":
            image.generated_width, image.generated_height = width, height
        image.scale(width, height)
    image.pixels.foreach_set(np.ascontiguousarray(rgba[::-1], dtype=np.float32).ravel())
    image.update()


def load_png_pixels(path: str, colorspace: str) -> "np.ndarray":
    """Decode an image file with Blender's loader; returns a top-down float32 (h, w, 4) array.

    ``colorspace`` must match what the file holds (sRGB for base colour, Non-Color for data maps),
    so 16-bit data PNGs come back exactly rather than linearised.
    """
    temp = bpy.data.images.load(path, check_existing=False)
    try:
        temp.colorspace_settings.name = colorspace
        arr = read_image_pixels(temp)
        if arr.size == 0:
            raise OSError(f"Blender could not read the image {path}")
        return arr
    finally:
        bpy.data.images.remove(temp)
