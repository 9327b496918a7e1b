"""Texture Forge inside Blender: properties, panels, operators and the material output.

This package runs in Blender's own Python, so it imports only bpy, the standard library and the
standard-library-only contract and worker client; numpy is imported lazily where pixels move
(Debian's Blender has none, and ``register()`` must still work there). torch and PIL live in the
engine process.
"""

from __future__ import annotations

import sys

import bpy

from ..pipes import ignore_sigpipe
from . import corner_picker, engine_install, heal_undo, job_runner, numpy_guard, operators, panels, preferences, properties

_CLASSES = (*preferences.CLASSES, *properties.CLASSES, *operators.CLASSES, *corner_picker.CLASSES,
            *engine_install.CLASSES, *panels.CLASSES)


def register() -> None:
    # Before anything can start an engine process: a write to one that exited must raise
    # BrokenPipeError (handled) rather than kill Blender (texture_addon/pipes.py).
    ignore_sigpipe()
    if not numpy_guard.available():
        print("Texture Forge: " + numpy_guard.numpy_missing_message()
              + "; the panel works, Generate needs numpy", file=sys.stderr)
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    properties.register_properties()
    job_runner.register_handlers()
    heal_undo.register()


def unregister() -> None:
    engine_install.shutdown()
    job_runner.shutdown()
    heal_undo.unregister()
    panels.free_previews()
    properties.unregister_properties()
    for cls in reversed(_CLASSES):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)
