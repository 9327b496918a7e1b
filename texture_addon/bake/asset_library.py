"""Writing baked materials into an asset library folder (``scripts/bake.py --asset-library DIR``).

Artists look for materials in Blender's Asset Browser, so a farm bake should land there: the
materials go into ``DIR/<name>.blend`` marked as assets, each in the catalog of its manifest
``section`` (catalogs are defined by UUID in ``DIR/blender_assets.cats.txt``, which is merged with
what is already there, never rewritten from scratch), with a rendered preview and their textures
copied into ``DIR/textures/<name>/`` (paths in the library are relative, so the folder can move;
one folder per library .blend, so two scenes never replace each other's textures).

Previews are rendered here with Cycles on the CPU (a sphere, low samples) and stored in the
material's preview: ``asset_generate_preview()`` needs a GPU context, which background Blender
lacks (it spends tens of seconds on EGL errors there).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from typing import Callable, Mapping, Sequence

import bpy
import numpy as np

from .. import files

CATS_FILE = "blender_assets.cats.txt"
TEXTURES = "textures"
#: Catalog UUIDs are derived from the catalog path, so every machine and run agrees on them.
CATALOG_NAMESPACE = uuid.UUID("5d7b7c36-1f0e-4a59-9a57-0c2b3d2f6a61")
DEFAULT_CATALOG = "Texture Forge"
PREVIEW_SIZE = 128

Log = Callable[[str], None]


# --------------------------------------------------------------------------- catalogs

def read_catalogs(path: str) -> dict[str, str]:
    """Catalog path → UUID from a ``blender_assets.cats.txt`` (empty if there is none)."""
    found: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("VERSION"):
            continue
        parts = line.split(":", 2)
        if len(parts) >= 2:
            found[parts[1]] = parts[0]
    return found


def _clean_catalog(path: str | None) -> str:
    parts = [p.strip() for p in str(path or "").replace("\\", "/").split("/") if p.strip()]
    return "/".join(p.replace(":", "-") for p in parts) or DEFAULT_CATALOG


def ensure_catalogs(library_dir: str, catalog_paths: Sequence[str]) -> dict[str, str]:
    """Make sure every path (and its parents) has a catalog; returns path → UUID for all of them.

    Existing lines are kept as they are (an artist may have renamed or added catalogs); new ones
    are appended. Written atomically.
    """
    cats_path = os.path.join(library_dir, CATS_FILE)
    existing = read_catalogs(cats_path)
    wanted: list[str] = []
    for path in catalog_paths:
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in wanted:
                wanted.append(sub)
    new = [p for p in wanted if p not in existing]
    ids = dict(existing)
    for p in new:
        ids[p] = str(uuid.uuid5(CATALOG_NAMESPACE, p))
    if new or not os.path.isfile(cats_path):
        try:
            with open(cats_path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            text = ("# This is an Asset Catalog Definition file for Blender.\n#\n"
                    "# Empty lines and lines starting with `#` will be ignored.\n"
                    "# The first non-ignored line should be the version indicator.\n"
                    '# Other lines are of the format "UUID:catalog/path/for/assets:simple catalog name"\n'
                    "\nVERSION 1\n\n")
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(f"{ids[p]}:{p}:{p.replace('/', '-')}\n" for p in new)
        _write_text_atomic(cats_path, text)
    return {p: ids[p] for p in wanted}


def _write_text_atomic(path: str, text: str) -> None:
    files.write_text(path, text)  # normal mode (the library is shared), never half-written


# --------------------------------------------------------------------------- previews

class _PreviewStage:
    """A tiny scene (sphere, camera, sun, grey world) rendered with Cycles on the CPU."""

    def __init__(self, size: int = PREVIEW_SIZE, samples: int = 8) -> None:
        import bmesh

        self.scene = bpy.data.scenes.new("TF Asset Preview")
        sc = self.scene
        sc.render.engine = "CYCLES"
        sc.cycles.device = "CPU"
        sc.cycles.samples = samples
        sc.cycles.use_denoising = False
        sc.render.resolution_x = sc.render.resolution_y = size
        sc.render.resolution_percentage = 100
        sc.render.film_transparent = False
        sc.render.image_settings.file_format = "PNG"
        self.world = bpy.data.worlds.new("TF Asset Preview")
        self.world.color = (0.35, 0.35, 0.35)
        sc.world = self.world
        self.cam = bpy.data.objects.new("TF Asset Camera", bpy.data.cameras.new("TF Asset Camera"))
        self.cam.location, self.cam.rotation_euler = (0.0, -4.2, 0.0), (1.5708, 0.0, 0.0)
        self.cam.data.lens = 50
        sc.collection.objects.link(self.cam)
        sc.camera = self.cam
        self.sun = bpy.data.objects.new("TF Asset Sun", bpy.data.lights.new("TF Asset Sun", "SUN"))
        self.sun.data.energy = 3.0
        self.sun.rotation_euler = (0.9, 0.3, 0.5)
        sc.collection.objects.link(self.sun)
        mesh = bpy.data.meshes.new("TF Asset Sphere")
        bm = bmesh.new()
        bm.loops.layers.uv.new("UVMap")  # calc_uvs fills the active UV layer; it must exist
        bmesh.ops.create_uvsphere(bm, u_segments=32, v_segments=16, radius=1.0, calc_uvs=True)
        for f in bm.faces:
            f.smooth = True
        bm.to_mesh(mesh)
        bm.free()
        self.sphere = bpy.data.objects.new("TF Asset Sphere", mesh)
        sc.collection.objects.link(self.sphere)
        self.tmpdir = tempfile.mkdtemp(prefix="tf_preview_")

    def render(self, material: bpy.types.Material) -> np.ndarray:
        """RGBA float pixels, bottom row first (Blender's order), of ``material`` on the sphere."""
        self.sphere.data.materials.clear()
        self.sphere.data.materials.append(material)
        path = os.path.join(self.tmpdir, "preview.png")
        self.scene.render.filepath = path
        bpy.ops.render.render(write_still=True, scene=self.scene.name)
        img = bpy.data.images.load(path)
        try:
            w, h = img.size[:]
            px = np.empty(w * h * 4, np.float32)
            img.pixels.foreach_get(px)
        finally:
            bpy.data.images.remove(img)
        return px.reshape(h, w, 4)

    def close(self) -> None:
        mesh, cam, sun = self.sphere.data, self.cam.data, self.sun.data
        for obj in (self.sphere, self.cam, self.sun):
            bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)
        bpy.data.cameras.remove(cam)
        bpy.data.lights.remove(sun)
        bpy.data.scenes.remove(self.scene)
        bpy.data.worlds.remove(self.world)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def set_preview(material: bpy.types.Material, pixels: np.ndarray) -> None:
    """Store RGBA float pixels (bottom row first) as the material's (asset) preview image."""
    h, w = pixels.shape[:2]
    prev = material.preview_ensure()
    prev.image_size = (w, h)
    prev.image_pixels_float.foreach_set(np.ascontiguousarray(pixels, np.float32).ravel())


# --------------------------------------------------------------------------- the library

def _material_images(material: bpy.types.Material) -> list[bpy.types.Image]:
    tree = material.node_tree
    if tree is None:
        return []
    return [n.image for n in tree.nodes if n.bl_idname == "ShaderNodeTexImage" and n.image]


def _copy_textures(materials: Sequence[bpy.types.Material], library_dir: str, stem: str) -> int:
    """Copy file-backed images into ``DIR/textures/<stem>/`` and point the images at the copies.

    One folder per library .blend (``stem``), so two scenes written into one library never
    replace each other's textures, whatever their materials are called.
    """
    tex_dir = os.path.join(library_dir, TEXTURES, stem)
    copied = 0
    seen: set[str] = set()
    for mat in materials:
        for img in _material_images(mat):
            if img.name in seen or img.packed_file is not None or not img.filepath:
                continue
            seen.add(img.name)
            src = bpy.path.abspath(img.filepath)
            if not os.path.isfile(src):
                continue
            os.makedirs(tex_dir, exist_ok=True)
            dst = os.path.join(tex_dir, os.path.basename(src))
            if os.path.abspath(src) != os.path.abspath(dst):
                files.copy_file(src, dst)
                copied += 1
            img.filepath = dst
    return copied


def write_asset_library(materials: Sequence[bpy.types.Material], library_dir: str, stem: str, *,
                        sections: Mapping[str, str | None] | None = None,
                        log: Log = lambda s: None) -> dict:
    """Write ``materials`` into ``library_dir/<stem>.blend`` as assets; returns a summary.

    Changes the given materials in this session (asset mark, catalog, preview, image paths), so
    call it after the scene itself was saved. ``sections`` maps a material name to its catalog
    path ("Walls/Brick"); others go to the catalog "Texture Forge". The .blend is written to a
    temporary name and renamed over the old one, so the library never holds a half-written file.
    """
    if not materials:
        log("asset library: no baked material to write")
        return {"blend": None, "catalogs": None, "textures_copied": 0, "materials": []}
    os.makedirs(library_dir, exist_ok=True)
    sections = sections or {}
    catalog_of = {m.name: _clean_catalog(sections.get(m.name)) for m in materials}
    ids = ensure_catalogs(library_dir, sorted(set(catalog_of.values())))
    copied = _copy_textures(materials, library_dir, stem)
    stage = _PreviewStage()
    entries = []
    try:
        for mat in materials:
            if mat.asset_data is None:
                mat.asset_mark()
            mat.asset_data.catalog_id = ids[catalog_of[mat.name]]
            mat.asset_data.description = "Baked with Texture Forge"
            log(f"[{mat.name}] rendering asset preview")
            set_preview(mat, stage.render(mat))
            entries.append({"name": mat.name, "catalog": catalog_of[mat.name],
                            "catalog_id": ids[catalog_of[mat.name]]})
    finally:
        stage.close()
    target = os.path.join(library_dir, f"{stem}.blend")
    with files.atomic_write(target, suffix=".blend") as tmp:
        bpy.data.libraries.write(str(tmp), set(materials), path_remap="RELATIVE_ALL", fake_user=True)
    log(f"asset library: {len(entries)} material(s) in {target}")
    return {"blend": target, "catalogs": os.path.join(library_dir, CATS_FILE),
            "textures_copied": copied, "materials": entries}
