"""Preview icons the panel draws: file references' thumbnails and the result's base colour.

Both live in one ``bpy.utils.previews`` collection, never in datablocks, so nothing of them is
saved with the .blend. Here rather than in panels.py because the operators need the thumbnails too
and panels.py imports the operators.
"""

from __future__ import annotations

import os

import bpy
import bpy.utils.previews

from . import identity, material_output

_previews = None  # bpy.utils.previews collection for thumbnails of file references


def file_icon(path: str) -> int:
    """Thumbnail icon for an image file reference (0 if it cannot be shown)."""
    global _previews
    path = bpy.path.abspath(path)
    if not path or not os.path.isfile(path):
        return 0
    if _previews is None:
        _previews = bpy.utils.previews.new()
    if path not in _previews:
        _previews.load(path, path, "IMAGE")
    return _previews[path].icon_id


def free_previews() -> None:
    global _previews
    _result_icons.clear()
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None


#: Side of the result preview's pixels (per tile), and how large the panel draws it.
RESULT_PREVIEW_SIDE = 128
RESULT_PREVIEW_SCALE = 8.0
_result_icons: dict[tuple[str, bool], tuple[tuple, str]] = {}  # (identity, tiled) -> (key, preview name)


def result_preview_icon(material: bpy.types.Material, tiled: bool) -> int:
    """Icon of the material's generated base colour (see :func:`result_preview`), 0 if none."""
    preview = result_preview(material, tiled)
    return preview.icon_id if preview is not None else 0


def result_preview(material: bpy.types.Material, tiled: bool) -> bpy.types.ImagePreview | None:
    """Preview of the material's generated base colour (repeated 2 × 2 when ``tiled``), or None.

    Built from the image's pixels into a preview collection (never a datablock, so nothing is
    saved with the .blend) once per result: the key is the result's token, which undo restores
    with the result itself, so the preview always shows the image the material now has.
    """
    global _previews
    image = material_output.find_our_image(material, "basecolor")
    if image is None:
        return None
    uid = identity.get_uid(material) or material.name
    key = (material.texture_forge.result_token or image.name_full, tuple(image.size[:]))
    cached = _result_icons.get((uid, bool(tiled)))
    if _previews is None:
        _previews = bpy.utils.previews.new()
    if cached is not None and cached[0] == key and cached[1] in _previews:
        return _previews[cached[1]]
    try:
        pixels = _preview_pixels(image, tiled)
    except Exception as exc:  # noqa: BLE001 - no numpy, no pixels: the panel draws on without it
        print(f"Texture Forge: no result preview ({type(exc).__name__}: {exc})")
        return None
    if cached is not None and cached[1] in _previews:
        del _previews[cached[1]]
    name = f"result:{uid}:{key[0]}:{int(tiled)}"
    preview = _previews[name] if name in _previews else _previews.new(name)
    height, width = pixels.shape[:2]
    preview.image_size = (width, height)
    preview.image_pixels_float.foreach_set(pixels[::-1].ravel())  # Blender's rows go bottom-up
    step = max(1, width // 32)
    icon = pixels[::step, ::step]
    preview.icon_size = (icon.shape[1], icon.shape[0])
    preview.icon_pixels_float.foreach_set(icon[::-1].ravel())
    _result_icons[(uid, bool(tiled))] = (key, name)
    return preview


def _preview_pixels(image: bpy.types.Image, tiled: bool):
    """Top-down float32 RGBA of ``image`` at about RESULT_PREVIEW_SIDE px, tiled 2 × 2 on request."""
    from .image_pixels import numpy, read_image_pixels

    np = numpy()
    arr = read_image_pixels(image)
    if arr.size == 0:
        raise ValueError(f"'{image.name}' has no pixels")
    step = max(1, max(arr.shape[:2]) // RESULT_PREVIEW_SIDE)
    small = arr[::step, ::step].copy()
    small[..., 3] = 1.0
    if tiled:
        small = np.tile(small, (2, 2, 1))
    return np.ascontiguousarray(small, dtype=np.float32)
