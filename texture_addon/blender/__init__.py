"""Texture Forge inside Blender: properties, panels, operators and the material output.

This package runs in Blender's own Python, so it imports only bpy, numpy, the standard library and
the standard-library-only worker client. torch and PIL live in the worker process.
"""

from __future__ import annotations

import bpy

from . import engine_install, job_runner, operators, panels, preferences, properties

_CLASSES = (*preferences.CLASSES, *properties.CLASSES, *operators.CLASSES, *engine_install.CLASSES,
            *panels.CLASSES)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    properties.register_properties()


def unregister() -> None:
    engine_install.shutdown()
    job_runner.shutdown()
    panels.free_previews()
    properties.unregister_properties()
    for cls in reversed(_CLASSES):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)
