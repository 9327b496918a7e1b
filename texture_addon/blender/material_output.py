"""Putting a finished job's maps into the material: image datablocks, storage, node wiring.

All or nothing: :func:`apply_outputs` first stages every map of the job (pixels decoded, files
copied next to their destination under temporary names) and only then swaps them into the images
and wires the nodes, so a failure part-way (an unreadable PNG, a full disk) leaves the material
exactly as it was. Previews never touch the material either: they go to a scratch image shown in
the panel (:func:`show_preview`), which has no users and is never saved with the .blend.

Our images are named after the material and map (``Bricks_basecolor``) and tagged with custom
properties (the map, and the material's Texture Forge identity), so a regenerate finds and updates
them even if the artist owns an image with that name (ours then gets Blender's ``.001`` suffix;
theirs is never touched), and a duplicated material never writes into the original's images.

Storage: with a saved .blend (and storage "Auto") the worker's PNG is copied byte for byte to
``//textures/<blend name>/<image>.png`` and the image reloads from it, which keeps the 16-bit
height map exact. Each .blend has its own folder there, so two scenes in one folder with a
material of the same name never share (or replace) each other's files. A file is overwritten only
when our image for this material and map already points at it inside this .blend's folder (a
re-bake replaces its own files); otherwise a free name is chosen, and names that had to be
changed to be file-safe get a short hash, so materials "a b" and "a_b" never share a file. Files
of the older shared layout (``//textures/<image>.png``) are left alone: a re-bake writes its maps
into the .blend's own folder and re-points the images. Otherwise the pixels are written with
``foreach_set`` and the image is packed into the .blend (the 16-bit height goes into a float image,
packed as EXR, so no precision is lost either).
"""

from __future__ import annotations

import array
import hashlib
import os
import re
import shutil

import bpy

from .. import files
from ..errors import OutputError
from . import identity, image_pixels
from .material_nodes import wire_material

IMAGE_MAP_KEY = "texture_forge_map"
IMAGE_MATERIAL_KEY = "texture_forge_material"
#: The material's identity (see identity.py) on each of our images.
IMAGE_MATERIAL_UID_KEY = "texture_forge_material_uid"
#: On the scratch preview image: the identity of the material it previews.
PREVIEW_KEY = "texture_forge_preview_of"
PREVIEW_NAME = ".Texture Forge Preview"  # the leading dot hides it from image menus
TEXTURES_DIR = "//textures/"


def is_our_image(image: bpy.types.Image | None) -> bool:
    return image is not None and bool(image.get(IMAGE_MAP_KEY))


def _belongs_to(image: bpy.types.Image, material: bpy.types.Material) -> bool:
    uid, image_uid = identity.get_uid(material), image.get(IMAGE_MATERIAL_UID_KEY)
    if uid and image_uid:
        return image_uid == uid
    return image.get(IMAGE_MATERIAL_KEY) == material.name  # images made before identities existed


def find_our_image(material: bpy.types.Material, map_name: str) -> bpy.types.Image | None:
    """Our image for this material and map: the one our node shows, else one tagged for it."""
    tree = material.node_tree
    if tree is not None:
        for node in tree.nodes:
            image = getattr(node, "image", None)
            if (node.get("texture_forge_role") == "tex_" + map_name and is_our_image(image)
                    and image.get(IMAGE_MAP_KEY) == map_name and _belongs_to(image, material)):
                return image
    for image in bpy.data.images:
        if image.get(IMAGE_MAP_KEY) == map_name and _belongs_to(image, material):
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
    uid = identity.get_uid(material)
    if uid:
        image[IMAGE_MATERIAL_UID_KEY] = uid
    image.colorspace_settings.name = image_pixels.colorspace_for_map(map_name)
    return image


def file_stem(name: str) -> str:
    """A file-name-safe stem for ``name``, unique per name: altered names get a short hash."""
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("._") or "texture"
    if safe != name:
        safe += "-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]
    return safe


_file_stem = file_stem  # older name


#: In //textures/: the files we wrote there and their SHA-256, so that a file is overwritten only
#: when we made it and nobody has replaced it since (a re-run after an unsaved session finds its
#: own files again; an artist's file of the same name is never touched).
MANIFEST = ".texture_forge_files.json"


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_manifest(folder: str) -> dict:
    return files.read_json(os.path.join(folder, MANIFEST))


def _record_ours(folder: str, filename: str, digest: str) -> None:
    """Add a file to the folder's record, under a lock: concurrent bakes never lose an entry."""
    files.update_json(os.path.join(folder, MANIFEST), lambda data: data.__setitem__(filename, digest))


def _made_by_us(path: str) -> bool:
    """True if ``path`` is a file we wrote and it still holds exactly what we wrote."""
    recorded = _read_manifest(os.path.dirname(path)).get(os.path.basename(path))
    try:
        return bool(recorded) and file_sha256(path) == recorded
    except OSError:
        return False


def textures_folder() -> str:
    """This .blend's own folder for its texture files, ``//textures/<blend name>/`` (absolute).

    Per .blend, so scenes sharing a folder never share texture files, whatever their materials
    are called.
    """
    stem = os.path.splitext(os.path.basename(bpy.data.filepath))[0]
    return os.path.normpath(bpy.path.abspath(TEXTURES_DIR + file_stem(stem)))


def _textures_target(image: bpy.types.Image | None, stem: str) -> str:
    """Where our image's PNG goes: its current file if that is in this .blend's folder, else a free name."""
    folder = textures_folder()
    if image is not None and image.source == "FILE" and image.filepath:
        current = os.path.normpath(bpy.path.abspath(image.filepath))
        if os.path.dirname(current) == folder:
            return current
    taken = {os.path.normpath(bpy.path.abspath(i.filepath)) for i in bpy.data.images
             if i.filepath and i != image}
    path, n = os.path.join(folder, stem + ".png"), 1
    # Someone else's file, or one another image shows, is never overwritten: take the next name.
    while os.path.normpath(path) in taken or (os.path.exists(path) and not _made_by_us(path)):
        n += 1
        path = os.path.join(folder, f"{stem}-{n}.png")
    return path


def _check_readable(path: str, shown_as: str) -> None:
    """Raise OSError unless Blender can decode ``path`` (asking for its size makes it load)."""
    try:
        temp = bpy.data.images.load(path, check_existing=False)
    except RuntimeError as exc:
        raise OSError(f"Blender cannot read {shown_as}: {exc}") from None
    try:
        width, height = temp.size[:]
    finally:
        bpy.data.images.remove(temp)
    if width == 0 or height == 0:
        raise OSError(f"Blender cannot read {shown_as}")


def _unpack(image: bpy.types.Image) -> None:
    if image.packed_file is not None:
        image.unpack(method="REMOVE")


def use_files(storage: str) -> bool:
    """Whether images go to //textures/ (True) or into the .blend (False)."""
    return storage == "AUTO" and bool(bpy.data.filepath)


def apply_outputs(material: bpy.types.Material, outputs: dict[str, str], *, storage: str = "AUTO",
                  height_mode: str = "BUMP", ao_strength: float = 0.5) -> dict[str, bpy.types.Image]:
    """Load the worker's PNGs (map → path) into our images and wire them into ``material``.

    Stages every map first; if any cannot be staged, nothing in the material, the images or the
    //textures/ folder has changed when the error propagates.
    """
    order = image_pixels_order(outputs)
    to_files = use_files(storage)
    staged: dict[str, object] = {}
    try:
        for map_name in order:
            path = outputs[map_name]
            if to_files:
                folder = str(files.make_folder(textures_folder()))
                tmp = str(files.new_temp(os.path.join(folder, f"{map_name}.png")))
                staged[map_name] = tmp  # listed first, so a failed copy is cleaned up too
                try:
                    shutil.copyfile(path, tmp)
                except OSError as exc:
                    raise OutputError(f"cannot write into {folder}: {files.describe(exc)}") from None
                _check_readable(tmp, path)
            else:
                staged[map_name] = image_pixels.load_png_pixels(path, image_pixels.colorspace_for_map(map_name))
    except BaseException:
        for value in staged.values():
            if isinstance(value, str):
                try:
                    os.remove(value)
                except OSError:
                    pass
        raise

    # Everything is staged: swap it in, in one step a SIGTERM or Ctrl-C does not cut in half.
    with files.deferred_signals():
        images = _swap_in(material, order, staged, to_files)
        wire_material(material, images, height_mode=height_mode, ao_strength=ao_strength)
    return images


def _swap_in(material: bpy.types.Material, order: list[str], staged: dict[str, object],
             to_files: bool) -> dict[str, bpy.types.Image]:
    images: dict[str, bpy.types.Image] = {}
    for map_name in order:
        existing = find_our_image(material, map_name)
        if to_files:
            target = _textures_target(existing, file_stem(existing.name if existing else f"{material.name}_{map_name}"))
            digest = file_sha256(staged[map_name])
            os.replace(staged[map_name], target)
            _record_ours(os.path.dirname(target), os.path.basename(target), digest)
            image = ensure_image(material, map_name, 64, 64)
            _unpack(image)
            image.source = "FILE"
            image.filepath = bpy.path.relpath(target) if bpy.data.filepath else target
            image.colorspace_settings.name = image_pixels.colorspace_for_map(map_name)
            image.reload()
        else:
            image = ensure_image(material, map_name, 64, 64)
            if image.source != "GENERATED":
                _unpack(image)
                image.filepath = ""
                image.source = "GENERATED"
            image_pixels.write_image_pixels(image, staged[map_name])
            image.pack()
        images[map_name] = image
    return images


def image_pixels_order(outputs: dict[str, str]) -> list[str]:
    """Known maps in a stable order; unknown names from a newer worker are ignored."""
    from .material_nodes import MAP_NAMES
    return [m for m in MAP_NAMES if m in outputs]


def preview_image(material: bpy.types.Material) -> bpy.types.Image | None:
    """The scratch image showing ``material``'s running job, if any."""
    uid = identity.get_uid(material)
    if not uid:
        return None
    for image in bpy.data.images:
        if image.get(PREVIEW_KEY) == uid:
            return image
    return None


def show_preview(material: bpy.types.Material, png_path: str) -> bpy.types.Image | None:
    """Show a preview PNG in the panel's scratch image; the material itself is never touched.

    The pixels are copied into one image that lives as long as the job (no users, so never
    written into the .blend), through a stdlib ``array`` buffer: no numpy needed, and nothing
    refers to the file afterwards (the client deletes a preview once a newer one has been read).
    A preview that is already gone or unreadable is skipped silently: the next one, or the
    result, follows shortly.
    """
    uid = identity.get_uid(material)
    if not uid or not os.path.isfile(png_path):
        return None
    try:
        temp = bpy.data.images.load(png_path, check_existing=False)
    except RuntimeError:
        return None
    try:
        width, height = temp.size[:]
        count = len(temp.pixels)
        if not width or not height or count != 4 * width * height:
            return None
        buf = array.array("f", bytes(4 * count))
        temp.pixels.foreach_get(buf)
    finally:
        bpy.data.images.remove(temp)
    image = preview_image(material)
    if image is None:
        image = bpy.data.images.new(PREVIEW_NAME, width, height, alpha=True)
        image[PREVIEW_KEY] = uid
    elif tuple(image.size[:]) != (width, height):
        image.scale(width, height)  # never removed while the panel may be drawing its icon
    image.pixels.foreach_set(buf)
    image.update()
    # The thumbnail's pixels are set directly: asking Blender to re-render the preview of a
    # generated image (preview.reload()) crashed Blender 4.3 under the UI (segfault on the first
    # preview of a Generate).
    image.preview_ensure()
    preview = image.preview
    preview.image_size = (width, height)
    preview.image_pixels_float.foreach_set(buf)
    return image


def clear_preview(material: bpy.types.Material | None, uid: str | None = None) -> None:
    """Remove the scratch preview image of a material (or of a material identity)."""
    uid = uid or (identity.get_uid(material) if material is not None else None)
    if not uid:
        return
    for image in [i for i in bpy.data.images if i.get(PREVIEW_KEY) == uid]:
        bpy.data.images.remove(image)
