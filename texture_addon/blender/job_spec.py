"""Building the worker's :class:`JobSpec` from a material's Texture Forge settings.

Everything the artist can get wrong in the panel's inputs is collected here into one list of
messages, so Generate reports all those problems at once and changes nothing in the scene. The
spec's own rules (ranges, kinds, files) are checked once, where the job leaves Blender: in
:meth:`WorkerClient.start <texture_addon.worker.blender_side.client.WorkerClient.start>`, or for
a farm task in ``bake/farm.py``.
"""

from __future__ import annotations

import os
import re

import bpy

from ..contract.spec import KIND_FIELDS, MAX_SIZE, MIN_SIZE, JobSpec, ReferenceSpec, SpecError
from .image_files import image_to_file
from .material_nodes import material_map_images
from .properties import MODE_TO_KIND


def safe_name(name: str) -> str:
    """A file-name-safe version of a datablock name (the worker rejects path characters)."""
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("._") or "texture"


def build_material_spec(material: bpy.types.Material, output_dir: str, *, device: str = "auto",
                        vgg_weights: str | None = None) -> JobSpec:
    """The job for Generate on ``material``; raises SpecError listing every problem found in the
    panel's inputs. The spec's own rules are checked where it leaves Blender (the worker client,
    the farm), once."""
    s = material.texture_forge
    kind = MODE_TO_KIND[s.mode]
    errors: list[str] = []
    inputs_dir = os.path.join(output_dir, "inputs")
    references = panel_references(s, kind, inputs_dir, errors)
    content = panel_content(s, kind, inputs_dir, errors)
    material_maps = panel_material_maps(s, kind, inputs_dir, errors)
    maps = s.selected_maps()
    if not maps and kind != "material":
        errors.append("choose at least one map to produce")
    if errors:
        raise SpecError(errors)
    panel = dict(references=references, content=content, material=material_maps, maps=maps,
                 device=device, vgg_weights=vgg_weights or None, **panel_settings(s, kind))
    # Only what this kind reads (the contract refuses a value a kind would ignore); the panel
    # shows the same fields, see panels.py.
    return JobSpec(kind=kind, output_dir=output_dir, name=safe_name(material.name),
                   **{k: v for k, v in panel.items() if k in KIND_FIELDS[kind]})


def panel_references(s: bpy.types.PropertyGroup, kind: str, inputs_dir: str,
                     errors: list[str]) -> list[ReferenceSpec]:
    """The enabled references of a kind that reads them (synth, stylize), each as a file."""
    if kind not in ("synth", "stylize"):
        return []
    enabled = [r for r in s.references if r.enabled]
    if not enabled:
        errors.append("add at least one enabled reference image")
    references: list[ReferenceSpec] = []
    for i, ref in enumerate(enabled, start=1):
        path = reference_path(ref, inputs_dir, i, errors)
        if path is not None:
            references.append(reference_spec(ref, path, inputs_dir, i, errors))
    return references


def reference_path(ref: bpy.types.PropertyGroup, inputs_dir: str, i: int, errors: list[str]) -> str | None:
    """Reference ``i``'s file: its image written to ``inputs_dir``, or the file it names; None
    (with the reason in ``errors``) when there is none."""
    if ref.source == "IMAGE":
        if ref.image is None:
            errors.append(f"reference {i}: no image chosen")
            return None
        try:
            return image_to_file(ref.image, inputs_dir, f"reference_{i}")
        except ValueError as exc:
            errors.append(f"reference {i}: {exc}")
            return None
    if not ref.filepath:
        errors.append(f"reference {i}: no file chosen")
        return None
    path = os.path.normpath(bpy.path.abspath(ref.filepath))
    if not os.path.isfile(path):
        errors.append(f"reference {i}: file not found: {path}")
        return None
    return path


def panel_content(s: bpy.types.PropertyGroup, kind: str, inputs_dir: str, errors: list[str]) -> str | None:
    """The source image of Stylize and Make Seamless, as a file."""
    if kind not in ("stylize", "seamless"):
        return None
    if s.source_image is None:
        errors.append("choose the source image")
        return None
    try:
        return image_to_file(s.source_image, inputs_dir, "source")
    except ValueError as exc:
        errors.append(f"source image: {exc}")
        return None


def panel_material_maps(s: bpy.types.PropertyGroup, kind: str, inputs_dir: str,
                        errors: list[str]) -> dict[str, str]:
    """From Material's reference material: each map wired into it, as a file."""
    material_maps: dict[str, str] = {}
    if kind != "material":
        return material_maps
    ref_mat = s.reference_material
    if ref_mat is None:
        errors.append("choose the reference material")
        return material_maps
    found = material_map_images(ref_mat)
    if not found:
        errors.append(f"material '{ref_mat.name}' has no image textures wired as maps")
    for map_name, image in found.items():
        try:
            material_maps[map_name] = image_to_file(image, inputs_dir, "material_" + map_name)
        except ValueError as exc:
            errors.append(f"reference material {map_name}: {exc}")
    return material_maps


def panel_settings(s: bpy.types.PropertyGroup, kind: str) -> dict:
    """The panel's numbers and choices, as the spec's fields (every kind's; the caller keeps the
    ones its kind reads)."""
    width, height = int(s.width), int(s.height)
    if kind == "seamless" and s.keep_source_size and s.source_image is not None:
        width, height = source_size(s.source_image)
    return dict(
        width=width, height=height, seed=int(s.seed), tile=s.tile,
        detail_scale=float(s.detail_scale), quality=s.quality, method=s.method,
        strength=float(s.strength), preserve_colors=bool(s.preserve_colors),
        # From Material reads a light angle only for a photo's basecolor (from_photo), which the panel never sends
        light_angle=s.job_light_angle() if s.derives_maps() and kind != "material" else None,
    )


def reference_spec(ref: bpy.types.PropertyGroup, path: str, inputs_dir: str, i: int,
                   errors: list[str]) -> ReferenceSpec:
    """A reference with its Prepare settings, as a bake manifest's table: the worker straightens,
    heals and flattens a copy (the artist's image and file are only read)."""
    spec = ReferenceSpec(path=path, weight=float(ref.weight), flatten=bool(ref.flatten))
    points = ref.corner_points()
    if points is not None:
        spec.corners = [float(v) for point in points for v in point]
    if ref.heal_mask is not None:
        try:
            spec.mask = image_to_file(ref.heal_mask, inputs_dir, f"reference_{i}_mask")
        except ValueError as exc:
            errors.append(f"reference {i} heal mask: {exc}")
    return spec


def source_size(image: bpy.types.Image) -> tuple[int, int]:
    """The photo's own size for Make Seamless, shrunk (keeping its shape) only to fit the
    engine's limit: a 256² photo stays 256², never resampled to the 512 default."""
    width, height = (max(1, int(v)) for v in image.size[:])
    shrink = min(1.0, MAX_SIZE / max(width, height))
    return (max(MIN_SIZE, round(width * shrink)), max(MIN_SIZE, round(height * shrink)))


def build_seamless_spec(image: bpy.types.Image, output_dir: str, *, band: float = 0.15,
                        device: str = "auto") -> JobSpec:
    """The job for Make Seamless on an Image Editor image (same size, base colour only)."""
    try:
        content = image_to_file(image, os.path.join(output_dir, "inputs"), "source")
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    width, height = image.size[:]
    return JobSpec(kind="seamless", content=content, output_dir=output_dir,
                   name=safe_name(image.name), width=int(width), height=int(height),
                   device=device, band=band, maps=["basecolor"])


def build_heal_spec(image: bpy.types.Image, mask: bpy.types.Image, output_dir: str, *,
                    device: str = "auto") -> JobSpec:
    """The job for Heal on an Image Editor image: its masked area filled, at its own size."""
    inputs = os.path.join(output_dir, "inputs")
    if tuple(mask.size[:]) != tuple(image.size[:]):
        raise SpecError(f"the mask '{mask.name}' is {mask.size[0]}×{mask.size[1]} but '{image.name}' is "
                        f"{image.size[0]}×{image.size[1]}")
    try:
        content = image_to_file(image, inputs, "source")
        mask_path = image_to_file(mask, inputs, "mask")
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    return JobSpec(kind="heal", content=content, mask=mask_path, output_dir=output_dir,
                   name=safe_name(image.name), device=device)
