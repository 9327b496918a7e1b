"""Add-on preferences: which Python runs the engine, on which device, and where raw outputs go.

Torch never enters Blender's process. The engine runs in an external interpreter (one that has
torch installed, e.g. the project's ``.venv/bin/python``), so the interpreter path is the most
important setting here; :class:`TEXTURE_FORGE_OT_check_engine` tells the artist whether it works
and, if not, what to do about it.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from ..install import pins
from .addon import ADDON_PACKAGE, get_preferences  # noqa: F401  (the add-on's modules import them from here)

def _engine_status(_self: bpy.types.AddonPreferences) -> str:
    from . import engine_install

    return engine_install.status_text()


class TextureForgePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    python: StringProperty(
        name="Python Interpreter",
        description="A Python with torch installed that runs the synthesis engine "
                    "(e.g. the project's .venv/bin/python). Empty: the engine installed below",
        subtype="FILE_PATH",
        default="",
    )
    device: EnumProperty(
        name="Device",
        items=[
            ("auto", "Auto", "CUDA or Apple GPU when available, else CPU"),
            ("cpu", "CPU", "Always use the CPU"),
            ("cuda", "CUDA", "NVIDIA GPU"),
            ("mps", "Apple GPU", "Metal (Apple silicon)"),
        ],
        default="auto",
    )
    vgg_weights: StringProperty(
        name="VGG19 Weights",
        description="Optional local VGG19 weights file for the CNN method (nothing is downloaded)",
        subtype="FILE_PATH",
        default="",
    )
    output_folder: StringProperty(
        name="Output Folder",
        description="Where the engine writes its raw PNGs, which are kept. "
                    "Empty: a temporary folder, removed once the textures are in Blender",
        subtype="DIR_PATH",
        default="",
    )
    keep_worker_warm: BoolProperty(
        name="Keep Engine Warm",
        description="Keep the engine process running for 5 minutes after a job, so the next "
                    "Generate starts without loading torch again",
        default=True,
    )
    torch_build: EnumProperty(
        name="PyTorch Build",
        description="Which PyTorch the Install Engine button downloads",
        items=list(pins.BUILDS),
        default="AUTO",
    )
    torch_index_url: StringProperty(
        name="Index URL",
        description="PyTorch wheel index for the Custom build, e.g. a CUDA or ROCm index from pytorch.org",
        default="",
    )
    engine_status: StringProperty(
        name="Installed Engine",
        description="State of the engine installed by Install Engine, e.g. "
                    "'engine ready: torch 2.13.0, CPU' (read-only; computed, never saved)",
        get=_engine_status,
    )
    status: StringProperty(
        name="Engine Status",
        description="Result of the last engine check",
        default="not checked yet",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "python")
        layout.prop(self, "device")
        layout.prop(self, "vgg_weights")
        layout.prop(self, "output_folder")
        layout.prop(self, "keep_worker_warm")
        box = layout.box()
        row = box.row()
        row.label(text="Engine")
        row.operator("texture_forge.check_engine", text="Check", icon="FILE_REFRESH")
        from .text_wrap import draw_wrapped

        draw_wrapped(box, context, self.status or "", icon="CHECKMARK" if self.status.startswith("engine ready")
                     else "INFO", alert=not self.status.startswith(("engine ready", "not checked", "no engine yet")))
        from . import engine_install

        engine_install.draw(self, layout, context)


CLASSES = (TextureForgePreferences,)
