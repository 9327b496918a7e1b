"""Cycles renders of known materials for ``bench.py --suite maps`` (run inside a real Blender).

    blender -b --factory-startup --python-exit-code 1 -P scripts/maps_truth_blender.py -- IN.npz OUT.npy

IN.npz holds ``height`` (H, W, px units), ``albedo`` (H, W, 3, linear), ``roughness`` (H, W) and
``light`` (azimuth, elevation in degrees; 0° = from the right, 90° = from the top). A plane seen
straight down by an orthographic camera, one pixel per texel, carries a Principled BSDF whose base
colour and roughness are those images and whose normal is a Bump of the height (distance = one
texel per px of height, so slopes are the height's own); a sun of irradiance 0.75 π and a uniform
sky of radiance 0.25 light it, so a flat white diffuse surface facing the sun reads 0.75 sin e +
0.25 as in the numpy renders, plus the specular the roughness shapes. The render (linear, 16
samples) is written as a float32 (H, W, 3) array. Blender's own Python and numpy only.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

SAMPLES = 16


def image(name: str, pixels: np.ndarray) -> bpy.types.Image:
    """A float, non-colour image of (H, W) or (H, W, 3) values, row 0 at the top."""
    h, w = pixels.shape[:2]
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = pixels[..., None] if pixels.ndim == 2 else pixels
    img = bpy.data.images.new(name, w, h, alpha=True, float_buffer=True)
    img.colorspace_settings.name = "Non-Color"
    img.pixels.foreach_set(rgba[::-1].ravel())  # Blender's rows start at the bottom
    return img


def material(height: np.ndarray, albedo: np.ndarray, roughness: np.ndarray, texel: float) -> bpy.types.Material:
    mat = bpy.data.materials.new("truth")
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]

    def texture(img: bpy.types.Image) -> bpy.types.Node:
        node = nodes.new("ShaderNodeTexImage")
        node.image, node.interpolation, node.extension = img, "Linear", "REPEAT"
        return node

    links.new(texture(image("albedo", albedo)).outputs["Color"], bsdf.inputs["Base Color"])
    links.new(texture(image("roughness", roughness)).outputs["Color"], bsdf.inputs["Roughness"])
    bump = nodes.new("ShaderNodeBump")
    bump.inputs["Strength"].default_value = 1.0
    bump.inputs["Distance"].default_value = texel
    links.new(texture(image("height", height)).outputs["Color"], bump.inputs["Height"])
    links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    return mat


def render(data: dict, out: Path) -> None:
    height, albedo, roughness = data["height"], data["albedo"], data["roughness"]
    azimuth, elevation = (float(v) for v in data["light"])
    h, w = height.shape
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    side = 2.0
    bpy.ops.mesh.primitive_plane_add(size=side)
    plane = bpy.context.object
    plane.scale = (1.0, h / w, 1.0)
    plane.data.materials.append(material(height, albedo, roughness, texel=side / w))

    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    cam.data.type, cam.data.ortho_scale = "ORTHO", side
    cam.location = (0.0, 0.0, 5.0)
    scene.collection.objects.link(cam)
    scene.camera = cam

    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy, sun.data.angle = 0.75 * math.pi, 0.0
    a, e = math.radians(azimuth), math.radians(elevation)
    toward = Vector((math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)))
    sun.rotation_euler = toward.to_track_quat("Z", "Y").to_euler()   # a sun shines along its −Z
    scene.collection.objects.link(sun)

    world = bpy.data.worlds.new("sky")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.25, 0.25, 0.25, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 1.0
    scene.world = world

    scene.render.engine = "CYCLES"
    scene.cycles.device, scene.cycles.samples, scene.cycles.use_denoising = "CPU", SAMPLES, False
    scene.cycles.seed = 1
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = w, h, 100
    scene.render.threads_mode, scene.render.threads = "FIXED", 2
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    with tempfile.TemporaryDirectory() as tmp:
        scene.render.filepath = str(Path(tmp) / "render.exr")
        bpy.ops.render.render(write_still=True)
        result = bpy.data.images.load(scene.render.filepath)
        pixels = np.empty(w * h * 4, np.float32)
        result.pixels.foreach_get(pixels)
    photo = pixels.reshape(h, w, 4)[::-1, :, :3]
    np.save(out, np.ascontiguousarray(photo, np.float32))


def main(argv: list[str]) -> int:
    args = argv[argv.index("--") + 1:] if "--" in argv else []
    if len(args) != 2:
        sys.stderr.write("usage: blender -b -P maps_truth_blender.py -- IN.npz OUT.npy\n")
        return 2
    with np.load(args[0]) as data:
        render({k: data[k] for k in data.files}, Path(args[1]))
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    if code:
        sys.exit(code)
