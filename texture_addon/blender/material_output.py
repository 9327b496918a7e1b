"""Putting a finished job's maps into the material: image datablocks, storage, node wiring.

Our images are named after the material and map (``Bricks_basecolor``) and tagged with custom
properties, so a regenerate finds and updates them even if the artist owns an image with that name
(ours then gets Blender's ``.001`` suffix; theirs is never touched).

Storage: with a saved .blend (and storage "Auto") the worker's PNG is copied byte for byte to
``//textures/<image>.png`` and the image reloads from it, which keeps the 16-bit height map
exact. Otherwise the pixels are written with ``foreach_set`` and the image is packed into the
.blend (the 16-bit height goes into a float image, packed as EXR, so no precision is lost either).
"""

from __future__ import annotations

import os
import re
import shutil

import bpy

from . import image_pixels
from .material_nodes import wire_material

IMAGE_MAP_KEY = "texture_forge_map"
IMAGE_MATERIAL_KEY = "texture_forge_material"
TEXTURES_DIR = "//textures/"


def is_our_image(image: bpy.types.Image | None) -> bool:
    return image is not None and bool(image.get(IMAGE_MAP_KEY))


def find_our_image(material: bpy.types.Material, map_name: str) -> bpy.types.Image | None:
    """Our image for this material and map: the one our node shows, else one tagged for it."""
    tree = material.node_tree
    if tree is not None:
        for node in tree.nodes:
            if node.get("texture_forge_role") == "tex_" + map_name and is_our_image(node.image):
                return node.image
    for image in bpy.data.images:
        if image.get(IMAGE_MAP_KEY) == map_name and image.get(IMAGE_MATERIAL_KEY) == material.name:
            return image
    return None


def ensure_image(material: bpy.types.Material, map_name: str, width: int,
                 height: int) -> bpy.types.Image:
    """Find or create our image for (material, map) with the map's colour space."""
    image = find_our_image(material, map_name)
    if image is None:
        image = bpy.data.images.new(f"{material.name}_{map_name}", width, height, alpha=False,
                                    float_buffer=(map_name == "height"),
                                    is_data=(map_name != "basecolor"))
        image[IMAGE_MAP_KEY] = map_name
        image[IMAGE_MATERIAL_KEY] = material.name
    image.colorspace_settings.name = image_pixels.colorspace_for_map(map_name)
    return image


def _file_stem(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("._") or "texture"


def _store_packed(image: bpy.types.Image, png_path: str, map_name: str) -> None:
    rgba = image_pixels.load_png_pixels(png_path, image_pixels.colorspace_for_map(map_name))
    if image.source != "GENERATED":
        if image.packed_file is not None:
            image.unpack(method="REMOVE")
        image.filepath = ""
        image.source = "GENERATED"
    image_pixels.write_image_pixels(image, rgba)
    image.pack()


def _store_file(image: bpy.types.Image, png_path: str, map_name: str) -> None:
    folder = bpy.path.abspath(TEXTURES_DIR)
    os.makedirs(folder, exist_ok=True)
    filename = _file_stem(image.name) + ".png"
    tmp = os.path.join(folder, filename + ".part")
    shutil.copyfile(png_path, tmp)
    os.replace(tmp, os.path.join(folder, filename))
    if image.packed_file is not None:
        image.unpack(method="REMOVE")
    image.source = "FILE"
    image.filepath = TEXTURES_DIR + filename
    image.colorspace_settings.name = image_pixels.colorspace_for_map(map_name)
    image.reload()


def use_files(storage: str) -> bool:
    """Whether images go to //textures/ (True) or into the .blend (False)."""
    return storage == "AUTO" and bool(bpy.data.filepath)


def apply_outputs(material: bpy.types.Material, outputs: dict[str, str], *, storage: str = "AUTO",
                  height_mode: str = "BUMP", ao_strength: float = 0.5) -> dict[str, bpy.types.Image]:
    """Load the worker's PNGs (map → path) into our images and wire them into ``material``."""
    images: dict[str, bpy.types.Image] = {}
    to_files = use_files(storage)
    for map_name in image_pixels_order(outputs):
        path = outputs[map_name]
        image = ensure_image(material, map_name, 64, 64)
        if to_files:
            _store_file(image, path, map_name)
        else:
            _store_packed(image, path, map_name)
        images[map_name] = image
    wire_material(material, images, height_mode=height_mode, ao_strength=ao_strength)
    return images


def image_pixels_order(outputs: dict[str, str]) -> list[str]:
    """Known maps in a stable order; unknown names from a newer worker are ignored."""
    from .material_nodes import MAP_NAMES
    return [m for m in MAP_NAMES if m in outputs]


def show_preview(material: bpy.types.Material, png_path: str) -> bpy.types.Image:
    """Write a preview PNG into the material's base colour image so the viewport shows progress."""
    rgba = image_pixels.load_png_pixels(png_path, image_pixels.SRGB)
    image = ensure_image(material, "basecolor", rgba.shape[1], rgba.shape[0])
    image_pixels.write_image_pixels(image, rgba)
    tree = material.node_tree
    if tree is not None and not any(n.get("texture_forge_role") == "tex_basecolor"
                                    for n in tree.nodes):
        # First preview of this material: show it, keeping any maps of an earlier generate.
        from .material_nodes import MAP_NAMES
        existing = {m: find_our_image(material, m) for m in MAP_NAMES if m != "basecolor"}
        images = {m: im for m, im in existing.items()
                  if im is not None and any(n.get("texture_forge_role") == "tex_" + m
                                            for n in tree.nodes)}
        images["basecolor"] = image
        wire_material(material, images)
    return image
