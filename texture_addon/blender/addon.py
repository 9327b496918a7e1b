"""Who the add-on is to Blender: its package name, its preferences, and its user folder for the engine.

The lowest layer of the add-on: the preferences, the engine installer and the job runner all read
these, and this module imports none of them (which keeps them free of import cycles).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import bpy

from ..install import EngineDir, default_user_root

if TYPE_CHECKING:
    from .preferences import TextureForgePreferences

#: The package Blender knows the add-on by (``bl_ext.<repo>.texture_forge`` when installed as an
#: extension). This module lives two packages below it: ``<addon>.texture_addon.blender``.
ADDON_PACKAGE: str = __package__.rsplit(".", 2)[0] if __package__.count(".") >= 2 else __package__


def get_preferences(context: bpy.types.Context | None = None) -> TextureForgePreferences | None:
    """The add-on's preferences, or None when it is registered without being enabled as an add-on
    (then callers fall back to the defaults)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon is not None else None


def engine_root() -> tuple[Path, bool]:
    """The engine folder and whether it is the extension's own user folder."""
    try:
        return Path(bpy.utils.extension_path_user(ADDON_PACKAGE, path="engine", create=True)), True
    except (ValueError, AttributeError, TypeError):  # not an extension (run from source / legacy add-on)
        root = default_user_root()
        root.mkdir(parents=True, exist_ok=True)
        return root, False


def engine_dir() -> EngineDir:
    return EngineDir(engine_root()[0])


def installed_python() -> str | None:
    """The installed engine's interpreter, or None. Cheap: reads current.json, runs nothing."""
    try:
        return engine_dir().python()
    except OSError:
        return None
