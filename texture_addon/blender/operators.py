"""Operators: Generate / Cancel, the reference list, Make Seamless, Open Output, engine check.

Generate never blocks the UI: it builds and validates the job, starts the worker and returns,
leaving a timer to apply previews and the result. In background mode it runs the job to the end
before returning, because timers never fire there. Every failure is reported in words and leaves
the scene as it was.
"""

from __future__ import annotations

import os
import random
import uuid

import bpy
from bpy.props import EnumProperty, IntProperty, StringProperty

from ..contract.spec import SpecError
from ..contract.vocabulary import MAP_NAMES
from ..errors import TextureForgeError, error_text
from . import heal_undo, identity, image_editor, job_runner, material_output
from .image_pixels import load_png_pixels, write_image_pixels, SRGB
from .job_spec import build_heal_spec, build_material_spec, build_seamless_spec, safe_name
from .preferences import get_preferences
from .properties import offered_methods, settings_fingerprint, stored_method


def active_material(context: bpy.types.Context) -> bpy.types.Material | None:
    """The material the panels show: the Shader Editor's, else the active object's."""
    mat = getattr(context, "material", None)
    if mat is not None:
        return mat
    obj = getattr(context, "object", None) or getattr(context, "active_object", None)
    return obj.active_material if obj is not None else None


class _NeedsMaterial:
    """poll(): greyed out, with the reason, while there is no active material."""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if active_material(context) is None:
            cls.poll_message_set("no active material: select an object and add a material to it first")
            return False
        return True


def generate_blockers(context: bpy.types.Context) -> list[str]:
    """Why Generate cannot run now, in words (empty when it can). Cheap: runs on every redraw.

    The full check (files exist, images have pixels, ranges) happens when Generate runs; these
    are the reasons visible at a glance, shown on the greyed-out button and in the panel.
    """
    material = active_material(context)
    if material is None:
        return ["no active material: select an object and add a material to it first"]
    s = material.texture_forge
    state = job_runner.get_job(job_runner.material_key(material))
    if state is not None and not state.finished:
        return [f"'{material.name}' is already generating: cancel it or wait for it to finish"]
    reasons = []
    if s.mode in ("NEW", "STYLIZE") and not any(r.enabled for r in s.references):
        reasons.append("add at least one enabled reference image (+ under References)")
    if s.mode in ("STYLIZE", "SEAMLESS") and s.source_image is None:
        reasons.append("choose the source image")
    if s.mode == "MATERIAL" and s.reference_material is None:
        reasons.append("choose the reference material")
    if s.mode != "MATERIAL" and not s.selected_maps():
        reasons.append("choose at least one map to produce")
    if stored_method(s) not in offered_methods(s.mode):  # saved before the menu offered only these
        reasons.append("choose the method: the saved one does not apply to this mode")
    return reasons


def outcome_text(state: job_runner.JobState, stage: str | None = None) -> str:
    """The panel's line for a finished job: "Done in 12.3 s", "Cancelled", "Failed: …"."""
    stage = stage or state.stage
    if stage == "done":
        return state.message[:1].upper() + state.message[1:]
    if stage == "cancelled":
        return "Cancelled (undo)" if state.message == job_runner.UNDONE_MESSAGE else "Cancelled"
    return "Failed: " + state.message


def record_failure(settings: bpy.types.PropertyGroup, message: str, fingerprint: str | None = None) -> None:
    """An error for the panel, tied to the settings it happened with (it clears when they change)."""
    settings.last_error = message
    settings.set_outcome("Failed: " + message, fingerprint)


def _final_outcome(op: bpy.types.Operator, state: job_runner.JobState) -> set[str]:
    """Background mode: turn the finished job into the operator's report and return value."""
    if state.stage == "done":
        op.report({"INFO"}, f"Texture Forge: {state.message}")
        return {"FINISHED"}
    if state.stage == "cancelled":
        op.report({"WARNING"}, "Texture Forge: cancelled")
        return {"CANCELLED"}
    op.report({"ERROR"}, f"Texture Forge: {state.message}")
    return {"CANCELLED"}


def _apply_result(state: job_runner.JobState, mat: bpy.types.Material | None, msg: dict, options: dict,
                  started_with: str) -> None:
    """A finished job's files into the material, its outcome line set and an undo step pushed.

    Nothing changes when the material was deleted or the files cannot be loaded (apply_outputs
    stages first); the job then fails with the reason.
    """
    if mat is None:
        state.message, state.stage = "the material was deleted", "failed"
        return
    try:
        material_output.apply_outputs(mat, msg.get("outputs") or {}, **options)
    except Exception as exc:  # nothing was changed: apply_outputs stages first
        state.message = f"could not load the result: {exc}"
        state.stage = "failed"
        record_failure(mat.texture_forge, state.message, started_with)
        return
    mat.texture_forge.last_error = ""
    state.message = f"done in {float(msg.get('seconds') or 0):.1f} s"
    mat.texture_forge.set_outcome(outcome_text(state), started_with)
    mat.texture_forge.result_token = uuid.uuid4().hex
    if not bpy.app.background:
        try:
            bpy.ops.ed.undo_push(message="Texture Forge Generate")
        except RuntimeError:
            pass


def _record_cancelled(state: job_runner.JobState, mat: bpy.types.Material | None, msg: dict,
                      started_with: str) -> None:
    """A cancelled job's outcome line; cancelled by undo, it belongs to no settings.

    The undo restored other settings, and the line is about them now (the job's own settings are
    gone with the undone state).
    """
    state.message = str(msg.get("message") or "cancelled")
    if mat is not None:
        undone = state.message == job_runner.UNDONE_MESSAGE
        mat.texture_forge.set_outcome(outcome_text(state, "cancelled"), None if undone else started_with)


def _job_callbacks(uid: str, options: dict, started_with: str):
    """The job's preview and final callbacks; they find the material by its uid, as it may be renamed or gone."""
    def on_preview(_state: job_runner.JobState, msg: dict) -> None:
        mat = identity.find_material(uid)
        if mat is not None and msg.get("path"):
            material_output.show_preview(mat, msg["path"])

    def on_final(state: job_runner.JobState, msg: dict) -> None:
        mat = identity.find_material(uid)
        material_output.clear_preview(mat, uid)
        kind = msg.get("type")
        if kind == "result":
            _apply_result(state, mat, msg, options, started_with)
        elif kind == "cancelled":
            _record_cancelled(state, mat, msg, started_with)
        else:
            state.message = str(msg.get("message") or "the engine failed")
            if mat is not None:
                record_failure(mat.texture_forge, state.message, started_with)

    return on_preview, on_final


class TEXTURE_FORGE_OT_generate(bpy.types.Operator):
    """Generate textures for the active material with the engine (runs in the background)"""

    bl_idname = "texture_forge.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reasons = generate_blockers(context)
        if reasons:
            cls.poll_message_set("; ".join(reasons))
        return not reasons

    def _cancelled(self, settings: bpy.types.PropertyGroup, message: str, output_dir: str,
                   temporary: bool) -> set[str]:
        """A job that cannot start: its output folder removed, the reason recorded and reported."""
        job_runner.discard_output_dir(output_dir, temporary)
        record_failure(settings, message)
        self.report({"ERROR"}, "Texture Forge: " + settings.last_error)
        return {"CANCELLED"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        material = active_material(context)
        if material is None:  # poll() says so too; kept for callers that skip poll
            self.report({"ERROR"}, "Texture Forge: no active material; select an object and "
                                   "add a material to it first")
            return {"CANCELLED"}
        settings = material.texture_forge
        uid = identity.ensure_uid(material)
        key = job_runner.material_key(material)
        running = job_runner.get_job(key)
        if running is not None and not running.finished:
            self.report({"ERROR"}, f"Texture Forge: '{material.name}' is already generating")
            return {"CANCELLED"}

        cfg = job_runner.client_settings(context)
        output_dir, temporary = job_runner.new_output_dir(safe_name(material.name), context)
        try:
            spec = build_material_spec(material, output_dir, device=cfg["device"],
                                       vgg_weights=cfg["vgg_weights"])
        except (SpecError, TextureForgeError) as exc:
            return self._cancelled(settings, error_text(exc), output_dir, temporary)

        options = {"storage": settings.storage, "height_mode": settings.height_mode,
                   "ao_strength": float(settings.ao_strength)}
        # the outcome belongs to the settings the job runs with, even if they change meanwhile
        on_preview, on_final = _job_callbacks(uid, options, settings_fingerprint(settings))
        try:
            state = job_runner.start(key, spec, output_dir, temporary, on_preview, on_final, context)
        except Exception as exc:  # interpreter missing, worker busy, cannot spawn, ...
            return self._cancelled(settings, error_text(exc), output_dir, temporary)
        settings.last_error = ""
        settings.outcome = ""  # the new job's progress replaces the last outcome
        if job_runner.synchronous():
            job_runner.run_to_completion(state)
            return _final_outcome(self, state)
        state.notify = True  # the operator returns now: the outcome is reported when it comes
        job_runner.ensure_timer()
        self.report({"INFO"}, f"Texture Forge: generating '{material.name}'")
        return {"FINISHED"}


def _cancel_keys(context: bpy.types.Context) -> list[str]:
    keys = []
    material = active_material(context)
    if material is not None:
        keys.append(job_runner.material_key(material))
    space = getattr(context, "space_data", None)
    if space is not None and getattr(space, "image", None) is not None:
        keys.append(job_runner.image_key(space.image))
    return keys


class TEXTURE_FORGE_OT_cancel(bpy.types.Operator):
    """Stop the running Texture Forge job of the active material (or of the active image)"""

    bl_idname = "texture_forge.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        for key in _cancel_keys(context):
            state = job_runner.get_job(key)
            if state is not None and not state.finished:
                return True
        cls.poll_message_set("nothing is running here")
        return False

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not any(job_runner.cancel(k) for k in _cancel_keys(context)):
            self.report({"WARNING"}, "Texture Forge: nothing is running here")
            return {"CANCELLED"}
        return {"FINISHED"}


class TEXTURE_FORGE_OT_notify(bpy.types.Operator):
    """Show a Texture Forge message in the status bar and the Info log"""

    bl_idname = "texture_forge.notify"
    bl_label = "Texture Forge Message"
    bl_options = {"INTERNAL"}

    message: StringProperty(options={"SKIP_SAVE"})
    level: EnumProperty(items=[("INFO", "Info", ""), ("WARNING", "Warning", ""), ("ERROR", "Error", "")],
                        default="INFO", options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        self.report({self.level}, self.message)
        return {"FINISHED"}


class TEXTURE_FORGE_OT_randomize_seed(_NeedsMaterial, bpy.types.Operator):
    """Pick a new random seed"""

    bl_idname = "texture_forge.randomize_seed"
    bl_label = "Randomise Seed"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        material = active_material(context)
        if material is None:
            self.report({"ERROR"}, "Texture Forge: no active material")
            return {"CANCELLED"}
        material.texture_forge.seed = random.randint(0, 2**31 - 1)
        return {"FINISHED"}


class TEXTURE_FORGE_OT_reference_add(_NeedsMaterial, bpy.types.Operator):
    """Add a reference image (pick a file, or name an image datablock)"""

    bl_idname = "texture_forge.reference_add"
    bl_label = "Add Reference"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    image_name: StringProperty(name="Image", options={"SKIP_SAVE"})
    filter_image: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_folder: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if self.filepath or self.image_name:
            return self.execute(context)
        folder = browse_folder()
        if folder:  # the browser opens here, not at the home folder every time
            self.filepath = os.path.join(folder, "")
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        material = active_material(context)
        if material is None:
            self.report({"ERROR"}, "Texture Forge: no active material")
            return {"CANCELLED"}
        if self.filepath and not self.image_name and os.path.isdir(bpy.path.abspath(self.filepath)):
            self.report({"ERROR"}, "Texture Forge: choose an image file, not a folder")
            return {"CANCELLED"}
        image = None
        if self.image_name:
            image = bpy.data.images.get(self.image_name)
            if image is None:
                self.report({"ERROR"}, f"Texture Forge: no image named '{self.image_name}'")
                return {"CANCELLED"}
        settings = material.texture_forge
        item = settings.references.add()
        if image is not None:
            item.source, item.image = "IMAGE", image
        elif self.filepath:
            item.source, item.filepath = "FILE", self.filepath
            remember_folder(self.filepath)
        settings.active_reference = len(settings.references) - 1
        return {"FINISHED"}


_last_folder: str = ""  # where the artist last picked a reference (this session)


def remember_folder(filepath: str) -> None:
    global _last_folder
    folder = os.path.dirname(bpy.path.abspath(filepath))
    if os.path.isdir(folder):
        _last_folder = folder


def browse_folder() -> str:
    """Where the reference file browser starts: the last folder used, else the .blend's folder
    ("" for an unsaved file with nothing picked yet: Blender's own default)."""
    if _last_folder and os.path.isdir(_last_folder):
        return _last_folder
    if bpy.data.filepath:
        return os.path.dirname(bpy.data.filepath)
    return ""


class TEXTURE_FORGE_OT_reference_view(bpy.types.Operator):
    """Look at the selected reference larger"""

    bl_idname = "texture_forge.reference_view"
    bl_label = "View Reference"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        ref = selected_reference(context)
        if ref is None or (ref.image is None if ref.source == "IMAGE"
                           else not os.path.isfile(bpy.path.abspath(ref.filepath))):
            cls.poll_message_set("the selected reference has no image to show")
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        return context.window_manager.invoke_popup(self, width=VIEW_WIDTH)

    def draw(self, context: bpy.types.Context) -> None:
        ref = selected_reference(context)
        if ref is None:
            self.layout.label(text="No reference selected")
            return
        self.layout.label(text=ref.label, icon="IMAGE_DATA")
        self.layout.template_icon(icon_value=reference_icon(context), scale=VIEW_WIDTH / 20.0)

    def execute(self, context: bpy.types.Context) -> set[str]:
        return {"FINISHED"}


#: Width of the larger look at a reference, in pixels (at UI scale 1).
VIEW_WIDTH = 400


def selected_reference(context: bpy.types.Context) -> bpy.types.PropertyGroup | None:
    """The reference selected in the panel's list, if any."""
    material = active_material(context)
    if material is None:
        return None
    s = material.texture_forge
    return s.references[s.active_reference] if 0 <= s.active_reference < len(s.references) else None


def reference_icon(context: bpy.types.Context) -> int:
    """The selected reference's preview icon (its image, or its file's thumbnail); 0 if none."""
    from .previews import file_icon

    ref = selected_reference(context)
    if ref is None:
        return 0
    if ref.source == "IMAGE":
        if ref.image is None:
            return 0
        ref.image.preview_ensure()
        return ref.image.preview.icon_id
    return file_icon(ref.filepath)


def reference_photo(ref: bpy.types.PropertyGroup) -> bpy.types.Image | None:
    """The reference's photo as an image datablock (a file reference is loaded, or found, once)."""
    if ref.source == "IMAGE":
        return ref.image
    path = bpy.path.abspath(ref.filepath)
    if not path or not os.path.isfile(path):
        return None
    return bpy.data.images.load(path, check_existing=True)


def loaded_photo(ref: bpy.types.PropertyGroup) -> bpy.types.Image | None:
    """The reference's photo if Blender has it already, without loading anything (safe while
    drawing, where datablocks cannot be added)."""
    if ref.source == "IMAGE":
        return ref.image
    path = os.path.normpath(bpy.path.abspath(ref.filepath)) if ref.filepath else ""
    for image in bpy.data.images:
        if path and image.filepath and os.path.normpath(bpy.path.abspath(image.filepath)) == path:
            return image
    return None


def corners_problem(corners: list[float], width: int, height: int) -> str | None:
    """Why four corners cannot straighten a ``width`` × ``height`` photo (None: they can): the
    checks of ``python -m texture_addon prepare --corners`` (outside, degenerate, self-intersecting…)."""
    from ..errors import InputError
    from ..references.prepare.straighten import check_quad
    from .image_pixels import numpy

    try:
        check_quad(numpy().asarray(corners, float).reshape(4, 2), width, height)
    except InputError as exc:
        return str(exc).replace("--corners", "the corners")
    return None


class TEXTURE_FORGE_OT_set_corners(_NeedsMaterial, bpy.types.Operator):
    """Straighten the selected reference from four corners (photo pixels: top-left, top-right,
    bottom-right, bottom-left)"""

    bl_idname = "texture_forge.set_corners"
    bl_label = "Set Corners"
    bl_options = {"REGISTER", "UNDO"}

    corners: bpy.props.FloatVectorProperty(name="Corners", size=8, options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        ref = selected_reference(context)
        photo = reference_photo(ref) if ref is not None else None
        if photo is None:
            self.report({"ERROR"}, "Texture Forge: the selected reference has no photo to straighten")
            return {"CANCELLED"}
        problem = store_corners(ref, photo, list(self.corners))
        if problem:
            self.report({"ERROR"}, "Texture Forge: " + problem)
            return {"CANCELLED"}
        return {"FINISHED"}


def store_corners(ref: bpy.types.PropertyGroup, photo: bpy.types.Image, corners: list[float]) -> str | None:
    """Store four corners on ``ref`` after the checks of ``--corners``; returns why not (then the
    stored corners stay exactly as they were). Set Corners and Pick Corners both come here."""
    problem = corners_problem(corners, *photo.size[:])
    if problem is None:
        ref.corners, ref.has_corners = tuple(corners), True
    return problem


class TEXTURE_FORGE_OT_clear_corners(_NeedsMaterial, bpy.types.Operator):
    """Stop straightening the selected reference (forget its corners)"""

    bl_idname = "texture_forge.clear_corners"
    bl_label = "Clear Corners"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        ref = selected_reference(context)
        if ref is None:
            return {"CANCELLED"}
        ref.has_corners = False
        return {"FINISHED"}


class TEXTURE_FORGE_OT_paint_mask(_NeedsMaterial, bpy.types.Operator):
    """A black heal mask the photo's size for the selected reference, opened in an Image Editor:
    paint white where the photo is to be healed"""

    bl_idname = "texture_forge.paint_mask"
    bl_label = "Paint Mask"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        ref = selected_reference(context)
        photo = reference_photo(ref) if ref is not None else None
        if photo is None or not photo.size[0]:
            self.report({"ERROR"}, "Texture Forge: the selected reference has no photo to paint a mask for")
            return {"CANCELLED"}
        width, height = photo.size[:]
        mask = bpy.data.images.new(f"{photo.name}_mask", width, height, alpha=False)
        mask.generated_color = (0.0, 0.0, 0.0, 1.0)
        mask.colorspace_settings.name = "Non-Color"
        mask["texture_forge_mask_of"] = photo.name
        ref.heal_mask = mask
        # shown for painting: in the artist's Image Editor, else in a new window's
        if image_editor.show_image(context, mask, "PAINT") is None:
            self.report({"INFO"}, f"Texture Forge: '{mask.name}' made; open it in an Image Editor to paint it")
        return {"FINISHED"}


class TEXTURE_FORGE_OT_update_prepare_preview(bpy.types.Operator):
    """Show the prepared reference again (after painting its mask: a setting change updates it by itself)"""

    bl_idname = "texture_forge.update_prepare_preview"
    bl_label = "Update Preview"

    def execute(self, context: bpy.types.Context) -> set[str]:
        from .previews import refresh_prepared

        ref = selected_reference(context)
        if ref is not None:
            reference_photo(ref)  # a file reference's photo is loaded here: drawing cannot load it
        refresh_prepared()
        for window in context.window_manager.windows:
            for area in window.screen.areas:
                area.tag_redraw()
        return {"FINISHED"}


class TEXTURE_FORGE_OT_show_material_preview(bpy.types.Operator):
    """Switch this 3D Viewport to Material Preview shading, where the generated textures show"""

    bl_idname = "texture_forge.show_material_preview"
    bl_label = "Show Material Preview"

    def execute(self, context: bpy.types.Context) -> set[str]:
        space = getattr(context, "space_data", None)
        spaces = [space] if getattr(space, "type", "") == "VIEW_3D" else [
            a.spaces.active for a in getattr(context.screen, "areas", []) if a.type == "VIEW_3D"]
        if not spaces:
            self.report({"WARNING"}, "Texture Forge: no 3D Viewport to switch")
            return {"CANCELLED"}
        for view in spaces:
            view.shading.type = "MATERIAL"
        return {"FINISHED"}


class TEXTURE_FORGE_OT_reference_remove(bpy.types.Operator):
    """Remove the selected reference"""

    bl_idname = "texture_forge.reference_remove"
    bl_label = "Remove Reference"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        material = active_material(context)
        if material is None or not material.texture_forge.references:
            cls.poll_message_set("no reference to remove")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        material = active_material(context)
        if material is None or not material.texture_forge.references:
            self.report({"WARNING"}, "Texture Forge: no reference to remove")
            return {"CANCELLED"}
        s = material.texture_forge
        index = min(s.active_reference, len(s.references) - 1)
        s.references.remove(index)
        s.active_reference = max(0, min(index, len(s.references) - 1))
        return {"FINISHED"}


class TEXTURE_FORGE_OT_reference_move(_NeedsMaterial, bpy.types.Operator):
    """Move the selected reference up or down"""

    bl_idname = "texture_forge.reference_move"
    bl_label = "Move Reference"
    bl_options = {"REGISTER", "UNDO"}

    direction: EnumProperty(items=[("UP", "Up", ""), ("DOWN", "Down", "")], default="UP")

    def execute(self, context: bpy.types.Context) -> set[str]:
        material = active_material(context)
        if material is None:
            return {"CANCELLED"}
        s = material.texture_forge
        index = s.active_reference
        target = index - 1 if self.direction == "UP" else index + 1
        if not (0 <= index < len(s.references) and 0 <= target < len(s.references)):
            return {"CANCELLED"}
        s.references.move(index, target)
        s.active_reference = target
        return {"FINISHED"}


class TEXTURE_FORGE_OT_make_seamless(bpy.types.Operator):
    """Make the Image Editor's image tile seamlessly (result goes into a new image)"""

    bl_idname = "texture_forge.make_seamless"
    bl_label = "Make Seamless"
    bl_options = {"REGISTER", "UNDO"}

    image_name: StringProperty(name="Image", description="Image to use instead of the editor's",
                               options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        space = getattr(context, "space_data", None)
        if getattr(space, "image", None) is None and not bpy.app.background:
            cls.poll_message_set("open an image in the Image Editor first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        space = getattr(context, "space_data", None)
        image = (bpy.data.images.get(self.image_name) if self.image_name
                 else getattr(space, "image", None))
        if image is None:
            self.report({"ERROR"}, "Texture Forge: no image to make seamless; open one in the "
                                   "Image Editor")
            return {"CANCELLED"}
        key = job_runner.image_key(image)
        if job_runner.get_job(key) is not None and not job_runner.get_job(key).finished:
            self.report({"ERROR"}, f"Texture Forge: '{image.name}' is already being processed")
            return {"CANCELLED"}
        cfg = job_runner.client_settings(context)
        output_dir, temporary = job_runner.new_output_dir(safe_name(image.name), context)
        try:
            spec = build_seamless_spec(image, output_dir, device=cfg["device"])
        except (SpecError, TextureForgeError) as exc:
            job_runner.discard_output_dir(output_dir, temporary)
            self.report({"ERROR"}, "Texture Forge: " + error_text(exc))
            return {"CANCELLED"}
        source_name = image.name

        def on_final(state: job_runner.JobState, msg: dict) -> None:
            if msg.get("type") != "result":
                state.message = str(msg.get("message") or msg.get("type"))
                return
            path = (msg.get("outputs") or {}).get("basecolor")
            if not path:
                state.message, state.stage = "the engine returned no image", "failed"
                return
            result = seamless_result_image(source_name)
            write_image_pixels(result, load_png_pixels(path, SRGB))
            result.pack()
            state.message = f"'{result.name}' done"
            if space is not None and getattr(space, "type", "") == "IMAGE_EDITOR":
                try:
                    space.image = result
                except ReferenceError:
                    pass

        try:
            state = job_runner.start(key, spec, output_dir, temporary, lambda s, m: None,
                                     on_final, context)
        except Exception as exc:
            job_runner.discard_output_dir(output_dir, temporary)
            self.report({"ERROR"}, "Texture Forge: " + error_text(exc))
            return {"CANCELLED"}
        if job_runner.synchronous():
            job_runner.run_to_completion(state)
            return _final_outcome(self, state)
        job_runner.ensure_timer()
        return {"FINISHED"}


def seamless_result_image(source_name: str) -> bpy.types.Image:
    """Our ``<source>_seamless`` image (found by tag, so an artist's same-named image is safe)."""
    for image in bpy.data.images:
        if image.get("texture_forge_seamless_of") == source_name:
            return image
    image = bpy.data.images.new(f"{source_name}_seamless", 64, 64, alpha=False)
    image["texture_forge_seamless_of"] = source_name
    image["texture_forge_map"] = "seamless"
    return image


class TEXTURE_FORGE_OT_heal(bpy.types.Operator):
    """Fill the white area of the mask in the Image Editor's image from the rest of it (in the background)"""

    bl_idname = "texture_forge.heal"
    bl_label = "Heal"
    bl_options = {"REGISTER", "UNDO"}

    image_name: StringProperty(name="Image", description="Image to use instead of the editor's",
                               options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        space = getattr(context, "space_data", None)
        image = bpy.data.images.get(self.image_name) if self.image_name else getattr(space, "image", None)
        settings = context.scene.texture_forge_heal
        if image is None or settings.mask is None:
            self.report({"ERROR"}, "Texture Forge: Heal needs an image in the Image Editor and a mask (white = fill)")
            return {"CANCELLED"}
        key = job_runner.image_key(image)
        if job_runner.get_job(key) is not None and not job_runner.get_job(key).finished:
            self.report({"ERROR"}, f"Texture Forge: '{image.name}' is already being processed")
            return {"CANCELLED"}
        cfg = job_runner.client_settings(context)
        output_dir, temporary = job_runner.new_output_dir(safe_name(image.name), context)
        try:
            spec = build_heal_spec(image, settings.mask, output_dir, device=cfg["device"])
        except (SpecError, TextureForgeError) as exc:
            job_runner.discard_output_dir(output_dir, temporary)
            self.report({"ERROR"}, "Texture Forge: " + error_text(exc))
            return {"CANCELLED"}
        source_name, mask_name, target = image.name, settings.mask.name, settings.target

        def on_final(state: job_runner.JobState, msg: dict) -> None:
            if msg.get("type") != "result":  # cancelled or failed: the image was never touched
                state.message = str(msg.get("message") or msg.get("type"))
                return
            source, mask = bpy.data.images.get(source_name), bpy.data.images.get(mask_name)
            path = (msg.get("outputs") or {}).get("basecolor")
            if source is None or mask is None or not path:
                state.message, state.stage = "the image or its mask is gone", "failed"
                return
            result = healed_pixels(source, mask, load_png_pixels(path, source.colorspace_settings.name))
            if target == "SAME":  # one undo step that Ctrl-Z really undoes (see heal_undo)
                out = source
                heal_undo.write_undoably(out, result)
            else:
                out = bpy.data.images.new(f"{source_name}_healed", *source.size[:])
                write_image_pixels(out, result)
                out.pack()
            state.message = f"'{out.name}' healed"
            if not bpy.app.background:
                bpy.ops.ed.undo_push(message="Texture Forge Heal")

        try:
            state = job_runner.start(key, spec, output_dir, temporary, lambda s, m: None, on_final, context)
        except Exception as exc:
            job_runner.discard_output_dir(output_dir, temporary)
            self.report({"ERROR"}, "Texture Forge: " + error_text(exc))
            return {"CANCELLED"}
        if job_runner.synchronous():
            job_runner.run_to_completion(state)
            return _final_outcome(self, state)
        job_runner.ensure_timer()
        return {"FINISHED"}


def healed_pixels(source: bpy.types.Image, mask: bpy.types.Image, healed):
    """The source's own pixels with the healed ones only where the mask is white (the engine
    keeps the rest too; here Blender's float pixels stay bit for bit, alpha included)."""
    from ..references.prepare.heal import THRESHOLD
    from .image_pixels import read_image_pixels

    out = read_image_pixels(source).copy()
    where = read_image_pixels(mask)[..., :3].mean(axis=2) >= THRESHOLD
    out[where, :3] = healed[where, :3]
    return out


class TEXTURE_FORGE_OT_open_output(bpy.types.Operator):
    """Open the folder holding the active material's generated textures"""

    bl_idname = "texture_forge.open_output"
    bl_label = "Open Output Folder"

    def execute(self, context: bpy.types.Context) -> set[str]:
        folder = output_folder(context)
        if folder is None:
            self.report({"WARNING"}, "Texture Forge: the textures are packed into the .blend; "
                                     "save the .blend to get them in //textures/")
            return {"CANCELLED"}
        if not bpy.app.background:
            bpy.ops.wm.path_open(filepath=folder)
        self.report({"INFO"}, f"Texture Forge: {folder}")
        return {"FINISHED"}


def output_folder(context: bpy.types.Context) -> str | None:
    """Where the active material's textures are on disk: //textures/, else the preference folder."""
    material = active_material(context)
    if material is not None:
        for map_name in MAP_NAMES:
            image = material_output.find_our_image(material, map_name)
            if image is not None and image.source == "FILE" and image.packed_file is None:
                return os.path.dirname(bpy.path.abspath(image.filepath))
    prefs = get_preferences(context)
    if prefs is not None and prefs.output_folder:
        return bpy.path.abspath(prefs.output_folder)
    return None


NO_ENGINE_MESSAGE = "no engine yet: press Install Engine below (or set Python Interpreter to a Python with torch)"


class TEXTURE_FORGE_OT_check_engine(bpy.types.Operator):
    """Check that the engine's Python interpreter works and has torch; explain any fix"""

    bl_idname = "texture_forge.check_engine"
    bl_label = "Check Engine"

    timeout: IntProperty(default=120, min=5, options={"SKIP_SAVE", "HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        cfg = job_runner.client_settings(context)
        if not cfg["python"] and not os.environ.get("TEXTURE_FORGE_PYTHON"):
            # Nothing to check: Blender's own Python has no torch, and its fix is not the artist's.
            message = NO_ENGINE_MESSAGE
            prefs = get_preferences(context)
            if prefs is not None:
                prefs.status = message
            self.report({"WARNING"}, "Texture Forge: " + message)
            return {"CANCELLED"}
        try:
            result = job_runner.get_client(context).check(timeout=float(self.timeout))
        except Exception as exc:
            result = {"ok": False, "message": f"{type(exc).__name__}: {exc}"}
        message = str(result.get("message") or ("engine ready" if result.get("ok") else "failed"))
        prefs = get_preferences(context)
        if prefs is not None:
            prefs.status = message
        self.report({"INFO"} if result.get("ok") else {"WARNING"}, "Texture Forge: " + message)
        return {"FINISHED"} if result.get("ok") else {"CANCELLED"}


CLASSES = (
    TEXTURE_FORGE_OT_generate,
    TEXTURE_FORGE_OT_cancel,
    TEXTURE_FORGE_OT_notify,
    TEXTURE_FORGE_OT_randomize_seed,
    TEXTURE_FORGE_OT_reference_add,
    TEXTURE_FORGE_OT_reference_remove,
    TEXTURE_FORGE_OT_reference_move,
    TEXTURE_FORGE_OT_reference_view,
    TEXTURE_FORGE_OT_set_corners,
    TEXTURE_FORGE_OT_clear_corners,
    TEXTURE_FORGE_OT_paint_mask,
    TEXTURE_FORGE_OT_update_prepare_preview,
    TEXTURE_FORGE_OT_show_material_preview,
    TEXTURE_FORGE_OT_make_seamless,
    TEXTURE_FORGE_OT_heal,
    TEXTURE_FORGE_OT_open_output,
    TEXTURE_FORGE_OT_check_engine,
)
