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


def preview_collection() -> bpy.utils.previews.ImagePreviewCollection:
    """The add-on's one preview collection (made on first use, freed at unregister)."""
    global _previews
    if _previews is None:
        _previews = bpy.utils.previews.new()
    return _previews


def free_previews() -> None:
    global _previews
    _result_icons.clear()
    _prepared_keys.clear()
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


#: The preview each reference shows now: reference pointer -> (settings key, preview name).
_prepared_keys: dict[int, tuple[tuple, str]] = {}
#: Bumped by *Update Preview*: a painted mask changes no setting, so the key alone misses it.
_refresh = [0]


def refresh_prepared() -> None:
    """Recompute every prepared-reference preview on its next draw (after painting a mask)."""
    _refresh[0] += 1


def prepared_preview(ref: bpy.types.PropertyGroup, photo: bpy.types.Image | None) -> bpy.types.ImagePreview | None:
    """The reference's photo as Generate will prepare it (see ``references.prepare.preview``), or None.

    Recomputed only when a setting it shows changes (corners, Flatten, the mask, the photo) or after
    :func:`refresh_prepared`: drawing the panel stays cheap.
    """
    if photo is None or not photo.size[0] or not photo.size[1]:
        return None
    points = ref.corner_points()
    mask = ref.heal_mask
    key = (photo.name_full, tuple(photo.size[:]), tuple(v for p in points for v in p) if points else None,
           bool(ref.flatten), mask.name_full if mask is not None else None, _refresh[0])
    previews = preview_collection()
    cached = _prepared_keys.get(ref.as_pointer())
    if cached is not None and cached[0] == key and cached[1] in previews:
        return previews[cached[1]]
    try:
        pixels = _prepared_pixels(photo, points, ref.flatten, mask)
    except Exception as exc:  # noqa: BLE001 - no numpy, a mask of another size: the box draws on without it
        print(f"Texture Forge: no prepared preview ({type(exc).__name__}: {exc})")
        return None
    name = f"prepared:{ref.as_pointer()}"
    preview = previews[name] if name in previews else previews.new(name)
    height, width = pixels.shape[:2]
    preview.image_size = (width, height)
    preview.image_pixels_float.foreach_set(pixels[::-1].ravel())
    preview.icon_size = (width, height)
    preview.icon_pixels_float.foreach_set(pixels[::-1].ravel())
    _prepared_keys[ref.as_pointer()] = (key, name)
    return preview


def _prepared_pixels(photo: bpy.types.Image, points, flatten: bool, mask: bpy.types.Image | None):
    """Top-down float32 RGBA of the prepared preview."""
    from ..references.prepare.heal import THRESHOLD
    from ..references.prepare.preview import preview
    from .image_pixels import numpy, read_image_pixels

    np = numpy()
    arr = read_image_pixels(photo)
    marked = None
    if mask is not None:
        m = read_image_pixels(mask)
        if m.shape[:2] == arr.shape[:2]:  # another size is refused by Generate, with its message
            marked = m[..., :3].mean(axis=2) >= THRESHOLD
    corners = [v for p in points for v in p] if points else None
    rgb = preview(arr[..., :3], corners, bool(flatten), marked)
    out = np.ones(rgb.shape[:2] + (4,), np.float32)
    out[..., :3] = rgb
    return np.ascontiguousarray(out)
