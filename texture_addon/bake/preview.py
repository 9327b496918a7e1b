"""The preview sheet of a bake (``--preview``): each material rendered on a sphere and a plane."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Sequence

import bpy

from .. import files

if TYPE_CHECKING:
    import numpy as np


class _Stage(NamedTuple):
    """The preview's scene and what was made for it (removed again afterwards)."""

    scene: bpy.types.Scene
    world: bpy.types.World
    sphere: bpy.types.Object
    plane: bpy.types.Object
    others: tuple[bpy.types.Object, ...]  # camera and light


def render_preview(materials: Sequence[bpy.types.Material], path: str, size: int = 192, samples: int = 16) -> str:
    """Each material on a sphere and a plane under neutral light (Cycles, CPU), one row each.

    The sheet is written atomically, with a temporary name of its own; returns its path.
    """
    import numpy as np

    stage = _stage(size, samples)
    tiles = []
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = files.new_temp(out, suffix=".png")
    try:
        for mat in materials:
            tiles.append(_render(stage, mat, tmp))
        sheet = np.concatenate(tiles, axis=0) if tiles else np.zeros((size, size * 2, 4), np.float32)
        result = bpy.data.images.new("TF Preview Sheet", sheet.shape[1], sheet.shape[0], alpha=True)
        result.pixels.foreach_set(np.ascontiguousarray(sheet[::-1]).ravel())
        result.file_format = "PNG"
        with files.atomic_write(out, suffix=".png") as sheet_tmp:
            result.filepath_raw = str(sheet_tmp)
            result.save()
        bpy.data.images.remove(result)
    finally:
        if tmp.exists():
            tmp.unlink()
        for obj in (stage.sphere, stage.plane, *stage.others):
            bpy.data.objects.remove(obj)
        bpy.data.scenes.remove(stage.scene)
        bpy.data.worlds.remove(stage.world)
    return str(out)


def _render(stage: _Stage, material: bpy.types.Material, tmp: Path) -> "np.ndarray":
    """One row of the sheet: ``material`` on the sphere and the plane, top-down RGBA."""
    import numpy as np

    for obj in (stage.sphere, stage.plane):
        obj.data.materials.clear()
        obj.data.materials.append(material)
    stage.scene.render.filepath = str(tmp)
    bpy.ops.render.render(write_still=True, scene=stage.scene.name)
    img = bpy.data.images.load(str(tmp))
    w, h = img.size[:]
    a = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(a)
    bpy.data.images.remove(img)
    return a.reshape(h, w, 4)[::-1].copy()


def _stage(size: int, samples: int) -> _Stage:
    """A scene of its own: Cycles on the CPU, grey world, camera, sun, a UV sphere and a plane."""
    scene = bpy.data.scenes.new("Texture Forge Preview")
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y = size * 2, size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    world = bpy.data.worlds.new("Texture Forge Preview")
    world.color = (0.45, 0.45, 0.45)
    scene.world = world
    cam = bpy.data.objects.new("TF Preview Camera", bpy.data.cameras.new("TF Preview Camera"))
    cam.location, cam.rotation_euler = (0.0, -8.0, 1.2), (1.42, 0.0, 0.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    light = bpy.data.objects.new("TF Preview Sun", bpy.data.lights.new("TF Preview Sun", "SUN"))
    light.data.energy = 3.0
    light.rotation_euler = (0.8, 0.2, 0.6)
    scene.collection.objects.link(light)
    sphere = bpy.data.objects.new("TF Preview Sphere", _mesh("TF Preview Sphere", sphere=True))
    sphere.location = (-1.2, 0.0, 0.0)
    plane = bpy.data.objects.new("TF Preview Plane", _mesh("TF Preview Plane", sphere=False))
    plane.location, plane.rotation_euler = (1.25, 0.0, 0.0), (1.2, 0.0, 0.0)
    for obj in (sphere, plane):
        scene.collection.objects.link(obj)
    return _Stage(scene, world, sphere, plane, (cam, light))


def _mesh(name: str, sphere: bool) -> bpy.types.Mesh:
    """A smooth UV sphere (radius 1) or a one-quad plane (size 1), with UVs."""
    import bmesh

    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    bm.loops.layers.uv.new("UVMap")  # calc_uvs fills the active UV layer; it must exist
    if sphere:
        bmesh.ops.create_uvsphere(bm, u_segments=48, v_segments=24, radius=1.0, calc_uvs=True)
        for f in bm.faces:
            f.smooth = True
    else:
        bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=1.0, calc_uvs=True)
    bm.to_mesh(mesh)
    bm.free()
    return mesh
