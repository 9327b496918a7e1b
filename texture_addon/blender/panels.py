"""The Texture Forge panel, shown in the 3D Viewport and Shader Editor sidebars (tab "Texture Forge").

Drawing only reads state: material settings, and the running job from :mod:`job_runner` (progress,
stage, ETA), so redraws stay cheap while the worker runs.
"""

from __future__ import annotations

import os

import bpy
import bpy.utils.previews

from ..contract.spec import KIND_FIELDS
from . import engine_install, job_runner, material_output
from .operators import active_material, generate_blockers, loaded_photo
from .previews import (RESULT_PREVIEW_SCALE, file_icon, free_previews, prepared_preview,  # noqa: F401 (free_previews: register)
                       result_preview)
from .properties import MODE_TO_KIND
from .text_wrap import draw_wrapped

class TEXTURE_FORGE_UL_references(bpy.types.UIList):
    """One row per reference: enabled toggle, thumbnail and name, weight in its own column.

    The name is the file's or image's short name, never the path field: at the sidebar's
    default width a path shows as "/w…". The full path is in the reference's tooltip and in the
    row's properties below the list.
    """

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        split = layout.split(factor=0.72, align=True)
        row = split.row(align=True)
        row.prop(item, "enabled", text="")
        if item.source == "IMAGE":
            thumb = layout.icon(item.image) if item.image is not None else 0
        else:
            thumb = file_icon(item.filepath)
        if thumb:
            row.label(text=item.label, icon_value=thumb)
        else:
            row.label(text=item.label, icon="IMAGE_DATA" if item.source == "IMAGE" else "FILE_IMAGE")
        split.prop(item, "weight", text="")


def detail_text(detail_scale: float) -> str:
    """What *Detail* means, in the panel under its slider."""
    return f"Features ×{detail_scale:.2f} the reference's size"


#: The sides of the picture the light can come from, every 45° counter-clockwise from the right.
_LIGHT_SIDES = ("the right", "the upper right", "the top", "the upper left", "the left", "the lower left",
                "the bottom", "the lower right")


def light_text(angle: float) -> str:
    """What a *Light From* angle means, in the panel under it (135 → from the upper left)."""
    return f"Light from {_LIGHT_SIDES[round(angle / 45.0) % 8]} ({angle:.0f}°)"


def _draw_light(layout: bpy.types.UILayout, s) -> None:
    """Height From and Light From, greyed out while no map is read from the colour."""
    col = layout.column()
    col.active = s.derives_maps()
    col.label(text="Height from")
    col.row().prop(s, "height_from", expand=True)
    if s.height_from != "shading":
        return
    col.label(text="Light from")
    col.row().prop(s, "light_from", expand=True)
    if s.light_from == "ANGLE":
        col.prop(s, "light_angle", text="Angle °")
        col.label(text=light_text(s.light_angle))


#: What a reference's weight does, per method (Structure: each reference's share of the area).
WEIGHTS_TEXT = {
    "nn": "Weight: each reference's share of the result. Structure shows them as areas of "
          "each, Statistics blends them.",
    "patch": "Weight: how much each reference's look counts in the blend.",
    "cnn": "Weight: how much each reference's look counts in the blend.",
}


def _draw_references(layout: bpy.types.UILayout, context: bpy.types.Context, s, title: str) -> None:
    """The reference list with its buttons, and the selected reference's source and file."""
    row = layout.row()
    row.label(text=title)
    row.label(text="Weight")
    row = layout.row()
    row.template_list("TEXTURE_FORGE_UL_references", "", s, "references", s,
                      "active_reference", rows=3)
    col = row.column(align=True)
    col.operator("texture_forge.reference_add", icon="ADD", text="")
    col.operator("texture_forge.reference_remove", icon="REMOVE", text="")
    col.separator()
    col.operator("texture_forge.reference_move", icon="TRIA_UP", text="").direction = "UP"
    col.operator("texture_forge.reference_move", icon="TRIA_DOWN", text="").direction = "DOWN"
    if not 0 <= s.active_reference < len(s.references):
        return
    ref = s.references[s.active_reference]
    split = layout.split(factor=0.3, align=True)
    split.label(text="Source")
    split.row(align=True).prop(ref, "source", expand=True)
    row = layout.row(align=True)
    if ref.source == "FILE" and ref.filepath:
        # The file's name, not its path: a path field is cut to "/work/…" at the sidebar's
        # default width. + picks another file; the full path is in the list's tooltip.
        row.label(text=os.path.basename(bpy.path.abspath(ref.filepath)) or ref.filepath, icon="FILE_IMAGE")
    else:
        row.prop(ref, "image" if ref.source == "IMAGE" else "filepath", text="")
    row.operator("texture_forge.reference_view", text="", icon="ZOOM_IN")
    _draw_prepare(layout, ref)
    if len(s.references) > 1:  # a weight only means something beside another reference
        draw_wrapped(layout, context, WEIGHTS_TEXT.get(s.method, WEIGHTS_TEXT["patch"]))


def corners_text(ref) -> str:
    """The Prepare box's line about straightening."""
    points = ref.corner_points()
    if points is None:
        return "Corners: not set"
    return "Corners: " + "  ".join(f"{x:.0f},{y:.0f}" for x, y in points)


def _draw_prepare(layout: bpy.types.UILayout, ref) -> None:
    """The reference's collapsible Prepare box: corners, Even Out Lighting, the heal mask."""
    box = layout.box()
    box.prop(ref, "show_prepare", icon="TRIA_DOWN" if ref.show_prepare else "TRIA_RIGHT", emboss=False)
    if not ref.show_prepare:
        return
    box.label(text=corners_text(ref))
    row = box.row(align=True)
    row.operator("texture_forge.pick_corners", text="Pick Corners", icon="MOD_LATTICE")
    row.operator("texture_forge.clear_corners", text="Clear", icon="X")
    box.prop(ref, "flatten")
    row = box.row(align=True)
    row.prop(ref, "heal_mask", text="Heal")
    row.operator("texture_forge.paint_mask", text="", icon="BRUSH_DATA")
    _draw_prepared_preview(box, ref)


#: How large the Prepare box draws its preview.
PREPARED_PREVIEW_SCALE = 6.0


def _draw_prepared_preview(box: bpy.types.UILayout, ref) -> None:
    """The reference as Generate will prepare it (small; the area to heal tinted), once prepared."""
    if not ref.prepared:
        return
    preview = prepared_preview(ref, loaded_photo(ref))
    row = box.row()
    row.label(text="Prepared (heal area tinted)" if ref.heal_mask is not None else "Prepared")
    row.operator("texture_forge.update_prepare_preview", text="", icon="FILE_REFRESH")
    if preview is not None:
        box.template_icon(icon_value=preview.icon_id, scale=PREPARED_PREVIEW_SCALE)


def _draw_result(layout: bpy.types.UILayout, context: bpy.types.Context, material, s) -> None:
    """The generated base colour (tiled 2 × 2 on request), and the offer of Material Preview."""
    preview = result_preview(material, s.preview_tiled)
    if preview is None:
        return
    box = layout.box()
    row = box.row()
    row.label(text="Result", icon="IMAGE_RGB")
    row.prop(s, "preview_tiled", text="2×2", toggle=True)
    box.prop(s, "repeat")  # a viewing control: with the result it scales
    space = getattr(context, "space_data", None)
    shading = getattr(space, "shading", None)
    if getattr(space, "type", "") == "VIEW_3D" and getattr(shading, "type", "") in ("SOLID", "WIREFRAME"):
        # the offer above the picture, so it is seen first; the view is never switched unasked
        box.operator("texture_forge.show_material_preview", icon="MATERIAL")
    box.template_icon(icon_value=preview.icon_id, scale=RESULT_PREVIEW_SCALE)


def _draw_status(layout: bpy.types.UILayout, context: bpy.types.Context, material, s) -> None:
    """Progress of the running job, else Generate and the outcome that belongs to these settings."""
    state = job_runner.get_job(job_runner.material_key(material))
    if state is not None and not state.finished:
        preview = material_output.preview_image(material)
        if preview is not None:
            layout.template_icon(icon_value=layout.icon(preview), scale=6.0)
        layout.progress(text=job_runner.stage_words(state.stage) + job_runner.time_left_text(state),
                        factor=state.progress, type="BAR")
        layout.operator("texture_forge.cancel", icon="CANCEL")
        return
    row = layout.row(align=True)
    row.scale_y = 1.4
    row.operator("texture_forge.generate", icon="TEXTURE")
    row.operator("texture_forge.open_output", text="", icon="FILE_FOLDER")
    reasons = generate_blockers(context)
    if reasons:  # the button is greyed out: say why, in full
        draw_wrapped(layout, context, "; ".join(reasons), icon="INFO")
        return
    outcome = s.current_outcome()
    if outcome.startswith("Failed"):
        draw_wrapped(layout.box(), context, s.last_error or outcome, icon="ERROR", alert=True)
    elif outcome:
        draw_wrapped(layout, context, outcome, icon="CHECKMARK" if outcome.startswith("Done") else "CANCEL")
    elif s.last_error and not s.outcome:  # an error recorded without its settings (a bake)
        draw_wrapped(layout.box(), context, s.last_error, icon="ERROR", alert=True)


def status_lines(material: bpy.types.Material) -> list[str]:
    """What the panel's status says now, as text (for scripts and tests)."""
    state = job_runner.get_job(job_runner.material_key(material))
    if state is not None and not state.finished:
        return [job_runner.stage_words(state.stage) + job_runner.time_left_text(state)]
    outcome = material.texture_forge.current_outcome()
    return [outcome] if outcome else []


def _draw_inputs(layout: bpy.types.UILayout, context: bpy.types.Context, s) -> None:
    """What the mode starts from: references or styles, the source image, or the reference material."""
    if s.mode in ("NEW", "STYLIZE"):
        _draw_references(layout, context, s, "Style" if s.mode == "STYLIZE" else "References")
    if s.mode in ("STYLIZE", "SEAMLESS"):
        layout.label(text="Image to restyle" if s.mode == "STYLIZE" else "Photo to make seamless")
        layout.template_ID(s, "source_image", open="image.open")
    if s.mode == "MATERIAL":
        layout.label(text="Maps from material")
        layout.prop(s, "reference_material", text="")


def _draw_size(layout: bpy.types.UILayout, s) -> None:
    """The output size (Seamless may keep the photo's own); width and height only for a custom size."""
    col = layout.column(align=True)
    if s.mode == "SEAMLESS":
        col.prop(s, "keep_source_size")
    if s.mode != "SEAMLESS" or not s.keep_source_size:
        col.prop(s, "size_preset")
        if s.size_preset == "CUSTOM":
            row = col.row(align=True)
            row.prop(s, "width", text="W")
            row.prop(s, "height", text="H")


def _draw_settings(layout: bpy.types.UILayout, s, fields) -> None:
    """Seed, and the settings the mode's job kind reads (KIND_FIELDS): nothing the job would ignore."""
    row = layout.row(align=True)
    row.prop(s, "seed")
    row.operator("texture_forge.randomize_seed", text="", icon="FILE_REFRESH")
    if "tile" in fields:
        layout.prop(s, "tile")
    if "detail_scale" in fields:
        layout.prop(s, "detail_scale", text="Detail")
        layout.label(text=detail_text(s.detail_scale))
    layout.prop(s, "quality")
    if "method" in fields:
        layout.prop(s, "method")
    if s.mode == "STYLIZE":
        layout.prop(s, "strength", text="Strength")
        layout.prop(s, "preserve_colors")


def _draw_maps(layout: bpy.types.UILayout, s, fields) -> None:
    """The maps to produce and how they go into the material (height as, AO strength, storage)."""
    box = layout.box()
    if "maps" in fields:
        box.label(text="Maps")
        grid = box.grid_flow(columns=2, even_columns=True, align=True)
        for name, short in (("basecolor", "Colour"), ("height", "Height"), ("normal", "Normal"),
                            ("roughness", "Rough"), ("ao", "AO")):
            grid.prop(s, "map_" + name, text=short)
    if "light_angle" in fields and "maps" in fields:  # From Material reads it only for a photo (from_photo)
        _draw_light(box, s)
    box.label(text="Height map as")
    box.prop(s, "height_mode", text="")
    if s.map_ao:
        box.prop(s, "ao_strength", text="AO")
    box.label(text="Store images")
    box.row().prop(s, "storage", expand=True)


def draw_texture_forge(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The panel at any sidebar width: short labels, long texts wrapped, only the mode's fields."""
    material = active_material(context)
    if material is None:
        draw_wrapped(layout, context, "Select an object with a material", icon="INFO")
        return
    s = material.texture_forge
    fields = KIND_FIELDS[MODE_TO_KIND[s.mode]]
    layout.label(text=material.name, icon="MATERIAL")
    layout.prop(s, "mode", text="Mode")
    _draw_inputs(layout, context, s)
    _draw_size(layout, s)
    _draw_settings(layout, s, fields)
    _draw_maps(layout, s, fields)
    engine_install.draw_panel_hint(layout, context)
    _draw_status(layout, context, material, s)
    _draw_result(layout, context, material, s)


class TEXTURE_FORGE_PT_view3d(bpy.types.Panel):
    bl_label = "Texture Forge"
    bl_idname = "TEXTURE_FORGE_PT_view3d"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Texture Forge"

    def draw(self, context: bpy.types.Context) -> None:
        draw_texture_forge(self.layout, context)


class TEXTURE_FORGE_PT_shader_editor(bpy.types.Panel):
    bl_label = "Texture Forge"
    bl_idname = "TEXTURE_FORGE_PT_shader_editor"
    bl_space_type = "NODE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Texture Forge"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        space = context.space_data
        return space is not None and getattr(space, "tree_type", "") == "ShaderNodeTree"

    def draw(self, context: bpy.types.Context) -> None:
        draw_texture_forge(self.layout, context)


class TEXTURE_FORGE_PT_image_editor(bpy.types.Panel):
    bl_label = "Texture Forge"
    bl_idname = "TEXTURE_FORGE_PT_image_editor"
    bl_space_type = "IMAGE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Texture Forge"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        image = getattr(context.space_data, "image", None)
        state = job_runner.get_job(job_runner.image_key(image)) if image is not None else None
        if state is not None and not state.finished:
            layout.progress(text=job_runner.stage_words(state.stage) + job_runner.time_left_text(state),
                            factor=state.progress, type="BAR")
            layout.operator("texture_forge.cancel", icon="CANCEL")
        else:
            layout.operator("texture_forge.make_seamless", icon="TEXTURE")
            heal = context.scene.texture_forge_heal
            box = layout.box()
            box.prop(heal, "mask")
            box.row().prop(heal, "target", expand=True)
            row = box.row()
            row.enabled = image is not None and heal.mask is not None
            row.operator("texture_forge.heal", icon="BRUSH_DATA")
            if state is not None and state.message:
                draw_wrapped(layout, context, state.message,
                             icon="ERROR" if state.stage == "failed" else "INFO", alert=state.stage == "failed")


CLASSES = (
    TEXTURE_FORGE_UL_references,
    TEXTURE_FORGE_PT_view3d,
    TEXTURE_FORGE_PT_shader_editor,
    TEXTURE_FORGE_PT_image_editor,
)
