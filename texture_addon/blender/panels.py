"""The Texture Forge panel, shown in the 3D Viewport and Shader Editor sidebars (tab "Texture Forge").

Drawing only reads state: material settings, and the running job from :mod:`job_runner` (progress,
stage, ETA), so redraws stay cheap while the worker runs.
"""

from __future__ import annotations

import os

import bpy
import bpy.utils.previews

from . import engine_install, job_runner
from .operators import active_material

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
    """One row per reference: enabled toggle, thumbnail + image/file, weight."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        if item.source == "IMAGE":
            thumb = layout.icon(item.image) if item.image is not None else 0
            row.prop(item, "image", text="", icon_value=thumb) if thumb else row.prop(item, "image", text="")
        else:
            thumb = _file_icon(item.filepath)
            if thumb:
                row.label(text="", icon_value=thumb)
            row.prop(item, "filepath", text="")
        row.prop(item, "source", text="", icon_only=True)
        row.prop(item, "weight", text="")


def _format_eta(eta: float | None) -> str:
    if eta is None:
        return ""
    eta = max(0, int(round(eta)))
    return f", {eta // 60}:{eta % 60:02d} left" if eta >= 60 else f", {eta} s left"


def draw_texture_forge(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    material = active_material(context)
    if material is None:
        layout.label(text="Select an object with a material", icon="INFO")
        return
    s = material.texture_forge
    layout.label(text=material.name, icon="MATERIAL")
    layout.prop(s, "mode", text="")

    if s.mode in ("NEW", "STYLIZE"):
        layout.label(text="References")
        row = layout.row()
        row.template_list("TEXTURE_FORGE_UL_references", "", s, "references", s,
                          "active_reference", rows=3)
        col = row.column(align=True)
        col.operator("texture_forge.reference_add", icon="ADD", text="")
        col.operator("texture_forge.reference_remove", icon="REMOVE", text="")
        col.separator()
        col.operator("texture_forge.reference_move", icon="TRIA_UP", text="").direction = "UP"
        col.operator("texture_forge.reference_move", icon="TRIA_DOWN", text="").direction = "DOWN"
    if s.mode in ("STYLIZE", "SEAMLESS"):
        layout.template_ID(s, "source_image", open="image.open")
    if s.mode == "MATERIAL":
        layout.prop(s, "reference_material")

    col = layout.column(align=True)
    col.prop(s, "size_preset")
    if s.size_preset == "CUSTOM":
        row = col.row(align=True)
        row.prop(s, "width")
        row.prop(s, "height")
    row = layout.row(align=True)
    row.prop(s, "seed")
    row.operator("texture_forge.randomize_seed", text="", icon="FILE_REFRESH")
    layout.prop(s, "tile")
    layout.prop(s, "detail_scale")
    layout.prop(s, "quality")
    layout.prop(s, "method")
    if s.mode == "STYLIZE":
        layout.prop(s, "strength")
        layout.prop(s, "preserve_colors")

    box = layout.box()
    box.label(text="Maps")
    grid = box.grid_flow(columns=2, align=True)
    for name in ("basecolor", "height", "normal", "roughness", "ao"):
        grid.prop(s, "map_" + name)
    box.prop(s, "height_mode")
    if s.map_ao:
        box.prop(s, "ao_strength")
    box.prop(s, "storage")

    engine_install.draw_panel_hint(layout, context)
    state = job_runner.get_job(job_runner.material_key(material))
    if state is not None and not state.finished:
        layout.progress(text=f"{state.stage}{_format_eta(state.eta)}", factor=state.progress,
                        type="BAR")
        layout.operator("texture_forge.cancel", icon="CANCEL")
    else:
        row = layout.row(align=True)
        row.scale_y = 1.4
        row.operator("texture_forge.generate", icon="TEXTURE")
        row.operator("texture_forge.open_output", text="", icon="FILE_FOLDER")
        if state is not None and state.message and state.stage == "done":
            layout.label(text=state.message, icon="CHECKMARK")
    if s.last_error:
        err = layout.box()
        err.alert = True
        for i, line in enumerate(s.last_error.split("; ")):
            err.label(text=line, icon="ERROR" if i == 0 else "BLANK1")


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
                layout.label(text=state.message)


CLASSES = (
    TEXTURE_FORGE_UL_references,
    TEXTURE_FORGE_PT_view3d,
    TEXTURE_FORGE_PT_shader_editor,
    TEXTURE_FORGE_PT_image_editor,
)
