"""*Pick Corners*: four clicks on the photo in an Image Editor straighten a reference.

Typing eight numbers is how a script sets corners; an artist points at them. The modal operator
shows the reference's photo in an Image Editor (the artist's, else a new window's), takes four
left clicks (top-left, top-right, bottom-right, bottom-left), draws the points and the quad so
far over the image, and says in the editor's header which corner is next. The fourth click stores the
corners through :func:`operators.store_corners`, the checks of ``--corners``: a bad quad is refused
with its reason and nothing changes. Esc or a right click cancels with the stored corners exactly
as they were. Every way out removes the drawing and the header text.

The mapping of clicks to photo pixels and their order are plain functions (:mod:`corner_clicks`).
"""

from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty

from . import image_editor
from .corner_clicks import CANCEL, CLICK, IGNORE, CornerClicks, event_action, pixel_to_view, view_to_pixel
from .operators import reference_photo, selected_reference, store_corners

#: Colours of the drawn quad and its points (RGBA).
LINE_COLOUR = (1.0, 0.75, 0.1, 1.0)
POINT_COLOUR = (1.0, 0.3, 0.1, 1.0)
POINT_SIZE = 10.0
NO_WINDOW = ("Texture Forge: Pick Corners needs Blender's window (an Image Editor to click in); "
             "a script sets corners with texture_forge.set_corners(corners=…)")


class PickSession:
    """What one picking needs between events: the clicks, the Image Editor, the reference."""

    def __init__(self, clicks: CornerClicks, area: bpy.types.Area, material_name: str, index: int) -> None:
        self.clicks = clicks
        self.area_key = area.as_pointer()
        self.material_name, self.index = material_name, index
        self.pointer: tuple[float, float] | None = None  # photo pixels under the mouse
        self.handle = None

    def area(self) -> bpy.types.Area | None:
        """The Image Editor picked in, if it is still open (and still an Image Editor)."""
        for window in bpy.context.window_manager.windows:
            for area in window.screen.areas:
                if area.as_pointer() == self.area_key:
                    return area if area.type == "IMAGE_EDITOR" else None
        return None

    def reference(self) -> bpy.types.PropertyGroup | None:
        material = bpy.data.materials.get(self.material_name)
        refs = material.texture_forge.references if material is not None else ()
        return refs[self.index] if 0 <= self.index < len(refs) else None


def draw_session(session: PickSession) -> None:
    """POST_PIXEL callback: the quad so far (and to the pointer) over the photo, in its editor only."""
    area, region = bpy.context.area, bpy.context.region
    if area is None or region is None or area.as_pointer() != session.area_key:
        return
    import gpu
    from gpu_extras.batch import batch_for_shader

    w, h = session.clicks.width, session.clicks.height
    to_region = lambda p: region.view2d.view_to_region(*pixel_to_view(p[0], p[1], w, h), clip=False)  # noqa: E731
    shader = gpu.shader.from_builtin("UNIFORM_COLOR")
    gpu.state.blend_set("ALPHA")
    line = [to_region(p) for p in session.clicks.outline(session.pointer)]
    if len(line) >= 2:
        gpu.state.line_width_set(2.0)
        shader.uniform_float("color", LINE_COLOUR)
        batch_for_shader(shader, "LINE_STRIP", {"pos": line}).draw(shader)
    if session.clicks.points:
        gpu.state.point_size_set(POINT_SIZE)
        shader.uniform_float("color", POINT_COLOUR)
        batch_for_shader(shader, "POINTS", {"pos": [to_region(p) for p in session.clicks.points]}).draw(shader)
    gpu.state.line_width_set(1.0)
    gpu.state.point_size_set(1.0)
    gpu.state.blend_set("NONE")


class TEXTURE_FORGE_OT_pick_corners(bpy.types.Operator):
    """Straighten the selected reference: click its surface's four corners on the photo in the
    Image Editor (top-left, top-right, bottom-right, bottom-left); Esc or right-click cancels"""

    bl_idname = "texture_forge.pick_corners"
    bl_label = "Pick Corners"
    bl_options = {"REGISTER", "UNDO"}

    material_name: StringProperty(options={"HIDDEN", "SKIP_SAVE"})
    reference_index: IntProperty(default=-1, options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if selected_reference(context) is None:
            cls.poll_message_set("select a reference to straighten first")
            return False
        return True

    def _target(self, context: bpy.types.Context) -> tuple[str, int]:
        """The material and reference index picked for: the ones named, else the panel's."""
        if self.material_name:
            return self.material_name, self.reference_index
        from .operators import active_material

        material = active_material(context)
        if material is None:
            return "", -1
        return material.name, material.texture_forge.active_reference

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Called without events (a script, a background Blender): there is nothing to click."""
        self.report({"ERROR"}, NO_WINDOW)
        return {"CANCELLED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        name, index = self._target(context)
        material = bpy.data.materials.get(name)
        refs = material.texture_forge.references if material is not None else ()
        ref = refs[index] if 0 <= index < len(refs) else None
        photo = reference_photo(ref) if ref is not None else None
        if photo is None or not photo.size[0] or not photo.size[1]:
            self.report({"ERROR"}, "Texture Forge: the selected reference has no photo to pick corners on")
            return {"CANCELLED"}
        shown = image_editor.show_image(context, photo, "VIEW")
        if shown is None:
            self.report({"ERROR"}, NO_WINDOW)
            return {"CANCELLED"}
        window, area = shown
        if window != context.window:  # a modal handler belongs to one window: run in the editor's
            with context.temp_override(window=window, area=area, region=image_editor.window_region(area)):
                bpy.ops.texture_forge.pick_corners("INVOKE_DEFAULT", material_name=name, reference_index=index)
            return {"INTERFACE"}
        self._session = PickSession(CornerClicks(*photo.size[:]), area, name, index)
        self._session.handle = bpy.types.SpaceImageEditor.draw_handler_add(
            draw_session, (self._session,), "WINDOW", "POST_PIXEL")
        context.window_manager.modal_handler_add(self)
        self._show_prompt(context)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        session = self._session
        area = session.area()
        region = image_editor.window_region(area) if area is not None else None
        if region is None:
            self._end(context)
            self.report({"WARNING"}, "Texture Forge: the Image Editor was closed; the corners are unchanged")
            return {"CANCELLED"}
        rx, ry = event.mouse_x - region.x, event.mouse_y - region.y
        inside = 0 <= rx < region.width and 0 <= ry < region.height
        if inside and event.type == "MOUSEMOVE":
            u, v = region.view2d.region_to_view(rx, ry)
            session.pointer = view_to_pixel(u, v, session.clicks.width, session.clicks.height)
            area.tag_redraw()
        action = event_action(event.type, event.value, inside)
        if action == CANCEL:
            self._end(context)
            self.report({"INFO"}, "Texture Forge: Pick Corners cancelled; the corners are unchanged")
            return {"CANCELLED"}
        if action != CLICK:
            return {"RUNNING_MODAL"} if action == IGNORE else {"PASS_THROUGH"}
        if not session.clicks.click_view(*region.view2d.region_to_view(rx, ry)):
            self.report({"WARNING"}, "Texture Forge: click on the photo itself")
            return {"RUNNING_MODAL"}
        if not session.clicks.done:
            self._show_prompt(context)
            return {"RUNNING_MODAL"}
        return self._store(context)

    def _store(self, context: bpy.types.Context) -> set[str]:
        """The fourth click: the corners stored, or refused with the reason (nothing changed)."""
        session = self._session
        self._end(context)
        ref = session.reference()
        photo = reference_photo(ref) if ref is not None else None
        if photo is None:
            self.report({"ERROR"}, "Texture Forge: the reference is gone; no corners stored")
            return {"CANCELLED"}
        problem = store_corners(ref, photo, session.clicks.corners())
        if problem:
            self.report({"ERROR"}, "Texture Forge: " + problem + "; the corners are unchanged")
            return {"CANCELLED"}
        self.report({"INFO"}, "Texture Forge: corners set")
        return {"FINISHED"}

    def _show_prompt(self, context: bpy.types.Context) -> None:
        area = self._session.area()
        text = self._session.clicks.prompt()
        if area is not None:
            area.header_text_set(text)
            area.tag_redraw()

    def _end(self, context: bpy.types.Context) -> None:
        """Every way out: the drawing and the texts removed, the editor redrawn."""
        session = getattr(self, "_session", None)
        if session is None:
            return
        if session.handle is not None:
            bpy.types.SpaceImageEditor.draw_handler_remove(session.handle, "WINDOW")
            session.handle = None
        area = session.area()
        if area is not None:
            area.header_text_set(None)
            area.tag_redraw()

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the picking itself (a file is opened, the window closed)."""
        self._end(context)


CLASSES = (TEXTURE_FORGE_OT_pick_corners,)
