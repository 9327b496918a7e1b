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
from .operators import active_material, generate_blockers
from .properties import MODE_TO_KIND
from .text_wrap import draw_wrapped

_previews = None  # bpy.utils.previews collection for thumbnails of file references


def _file_icon(path: str) -> int:
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
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None


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
            thumb = _file_icon(item.filepath)
        if thumb:
            row.label(text=item.label, icon_value=thumb)
        else:
            row.label(text=item.label, icon="IMAGE_DATA" if item.source == "IMAGE" else "FILE_IMAGE")
        split.prop(item, "weight", text="")


def _format_eta(eta: float | None) -> str:
    if eta is None:
        return ""
    eta = max(0, int(round(eta)))
    return f", {eta // 60}:{eta % 60:02d} left" if eta >= 60 else f", {eta} s left"


def draw_texture_forge(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The panel at any sidebar width: short labels, long texts wrapped, only the mode's fields."""
    material = active_material(context)
    if material is None:
        draw_wrapped(layout, context, "Select an object with a material", icon="INFO")
        return
    s = material.texture_forge
    fields = KIND_FIELDS[MODE_TO_KIND[s.mode]]
    layout.label(text=material.name, icon="MATERIAL")
    layout.prop(s, "mode", text="")

    if s.mode in ("NEW", "STYLIZE"):
        row = layout.row()
        row.label(text="References")
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
        if 0 <= s.active_reference < len(s.references):
            ref = s.references[s.active_reference]
            row = layout.row(align=True)
            row.prop(ref, "source", text="", icon_only=True)
            if ref.source == "FILE" and ref.filepath:
                # The file's name, not its path: a path field is cut to "/work/…" at the sidebar's
                # default width. + picks another file; the full path is in the list's tooltip.
                row.label(text=os.path.basename(bpy.path.abspath(ref.filepath)) or ref.filepath, icon="FILE_IMAGE")
            else:
                row.prop(ref, "image" if ref.source == "IMAGE" else "filepath", text="")
    if s.mode in ("STYLIZE", "SEAMLESS"):
        layout.template_ID(s, "source_image", open="image.open")
    if s.mode == "MATERIAL":
        layout.prop(s, "reference_material", text="")

    col = layout.column(align=True)
    col.prop(s, "size_preset")
    if s.size_preset == "CUSTOM":
        row = col.row(align=True)
        row.prop(s, "width", text="W")
        row.prop(s, "height", text="H")
    row = layout.row(align=True)
    row.prop(s, "seed")
    row.operator("texture_forge.randomize_seed", text="", icon="FILE_REFRESH")
    if "tile" in fields:
        layout.prop(s, "tile")
    if "detail_scale" in fields:
        layout.prop(s, "detail_scale", text="Detail")
    layout.prop(s, "quality")
    if "method" in fields:
        layout.prop(s, "method")
    if s.mode == "STYLIZE":
        layout.prop(s, "strength", text="Strength")
        layout.prop(s, "preserve_colors")

    box = layout.box()
    if "maps" in fields:
        box.label(text="Maps")
        grid = box.grid_flow(columns=2, even_columns=True, align=True)
        for name, short in (("basecolor", "Colour"), ("height", "Height"), ("normal", "Normal"),
                            ("roughness", "Rough"), ("ao", "AO")):
            grid.prop(s, "map_" + name, text=short)
    box.label(text="Height map as")
    box.prop(s, "height_mode", text="")
    if s.map_ao:
        box.prop(s, "ao_strength", text="AO")
    box.label(text="Store images")
    box.row().prop(s, "storage", expand=True)

    engine_install.draw_panel_hint(layout, context)
    state = job_runner.get_job(job_runner.material_key(material))
    if state is not None and not state.finished:
        preview = material_output.preview_image(material)
        if preview is not None:
            layout.template_icon(icon_value=layout.icon(preview), scale=6.0)
        layout.progress(text=f"{state.stage}{_format_eta(state.eta)}", factor=state.progress,
                        type="BAR")
        layout.operator("texture_forge.cancel", icon="CANCEL")
    else:
        row = layout.row(align=True)
        row.scale_y = 1.4
        row.operator("texture_forge.generate", icon="TEXTURE")
        row.operator("texture_forge.open_output", text="", icon="FILE_FOLDER")
        reasons = generate_blockers(context)
        if reasons:  # the button is greyed out: say why, in full
            draw_wrapped(layout, context, "; ".join(reasons), icon="INFO")
        elif state is not None and state.message and state.stage == "done":
            draw_wrapped(layout, context, state.message, icon="CHECKMARK")
    if s.last_error:
        draw_wrapped(layout.box(), context, s.last_error, icon="ERROR", alert=True)


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
            layout.progress(text=f"{state.stage}{_format_eta(state.eta)}",
                            factor=state.progress, type="BAR")
            layout.operator("texture_forge.cancel", icon="CANCEL")
        else:
            layout.operator("texture_forge.make_seamless", icon="TEXTURE")
            if state is not None and state.message:
                draw_wrapped(layout, context, state.message,
                             icon="ERROR" if state.stage == "failed" else "INFO", alert=state.stage == "failed")


CLASSES = (
    TEXTURE_FORGE_UL_references,
    TEXTURE_FORGE_PT_view3d,
    TEXTURE_FORGE_PT_shader_editor,
    TEXTURE_FORGE_PT_image_editor,
)
