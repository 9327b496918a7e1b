"""Blender extension entry point for Texture Forge.

The repository root is the extension root, so Blender imports this file as
``bl_ext.<repo>.texture_forge``. All add-on code lives in :mod:`texture_addon.blender`; this module
only forwards ``register``/``unregister`` with a relative import so it works under any repo name.
"""


def register() -> None:
    from .texture_addon import blender

    blender.register()


def unregister() -> None:
    from .texture_addon import blender

    blender.unregister()
