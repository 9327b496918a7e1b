"""Headless baking: everything the Texture Forge panel does, on many materials, unattended.

Run inside Blender (arguments after ``--``) or with the ``bpy`` module::

    blender -b scene.blend -P scripts/bake.py -- --out textures --save
    python scripts/bake.py --blend scene.blend --material Bricks --size 512 --quality draft --save

Materials: ``--material NAME`` (repeatable; default: every material whose Texture Forge settings
have references or a source), or a ``--manifest`` (JSON or TOML) describing many materials, which
are created when missing::

    {"defaults": {"size": 512, "quality": "draft", "maps": ["basecolor", "normal"]},
     "materials": [{"name": "Bricks", "refs": ["bricks.png"], "weights": [1.0], "seed": 3}]}

(relative paths are relative to the manifest). Settings stored on a material are honoured;
command-line flags (and manifest entries) override them and are written to the material.

Output: one progress line per material and stage on stderr, a JSON summary on stdout — always,
also on failure (then ``"ok": false`` and ``"error"`` says why); exit 0 when every material was
baked (or was up to date), 1 when anything failed (a material, the engine, the preview, saving;
the other materials are still baked and saved), 2 on usage errors, 128 + the signal after SIGTERM,
SIGHUP or Ctrl-C, which end the bake cleanly (staging removed, every set old or new, whole; see
docs/files.md). ``--save`` refuses (exit 2, before baking) to rewrite a .blend saved by another
Blender major.minor version unless ``--allow-upgrade``: the Blender that made it could not open it. Under ``blender -b -P`` an
exception in a script does not change Blender's exit status, so this script ends Blender itself
with its own status (after flushing its output). Raw outputs stay in ``<out>/<material>-<hash>/``
with a ``bake.json`` sidecar holding a hash of the settings, the input files and the engine's
version: a rerun skips up-to-date materials unless ``--force``, so per-material tasks on a farm
are independent and restartable (docs/farm.md). Paths starting with ``//`` (``--out``, ``--ref``,
``--preview``, ``--manifest``) are relative to the open .blend, as everywhere in Blender.

This file only finds the add-on and hands over to its ``texture_addon.bake`` package (the bake's
code: ``command``, ``manifest``, ``batch``, ``farm``, ``preview``, ``asset_library``). When an
installed Texture Forge extension is already enabled in this Blender
(``bl_ext.<repo>.texture_forge``), that one is used. Otherwise the repository this script lives in
is imported as the package ``texture_forge`` (importlib, with the repo root as its only search
location) and registered; nothing is installed and no user preferences are touched. The
engine runs in ``--python``, else ``$TEXTURE_FORGE_PYTHON``, else the add-on's *Python
Interpreter* preference (when the installed add-on is enabled), else this interpreter, which for
plain ``python scripts/bake.py`` is the venv with torch. A choice made for this run (flag,
environment) beats the stored preference.

Blender does not ignore SIGPIPE (CPython does); the script ignores it first thing, so an engine
process that exits while we write to it raises BrokenPipeError instead of killing Blender.

While baking, everything Blender itself prints on stdout goes to stderr, so stdout carries only
the JSON summary.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "texture_forge"


def addon_package() -> str:
    """The add-on's top-level package name, imported but not registered (see the docstring)."""
    import bpy  # noqa: F401  (the bpy module provides addon_utils once imported)
    import addon_utils

    for mod in addon_utils.modules():
        name = mod.__name__
        if name.endswith(".texture_forge") and addon_utils.check(name)[1]:
            return name
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        spec.loader.exec_module(module)
    return PACKAGE


def command() -> ModuleType:
    """The add-on's ``texture_addon.bake.command`` module."""
    return importlib.import_module(addon_package() + ".texture_addon.bake.command")


def load_addon() -> ModuleType:
    """The add-on's ``texture_addon.blender`` package, registered (for scripts building scenes)."""
    command().ensure_registered()
    return importlib.import_module(addon_package() + ".texture_addon.blender")


def __getattr__(name: str):
    """``bake.apply_overrides``, ``bake.build_parser``, ``bake.bake`` …: the package's own."""
    cmd = command()
    for module in (cmd, cmd.manifest):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module 'bake' has no attribute {name!r}")


def in_blender_binary() -> bool:
    """True inside ``blender -b -P bake.py`` (not the bpy module run as plain Python)."""
    bpy = sys.modules.get("bpy")
    return bpy is not None and bool(getattr(bpy.app, "background", False)) \
        and not sys.argv[0].endswith("bake.py")


if __name__ == "__main__":
    code = command().main()
    sys.stdout.flush()
    sys.stderr.flush()
    if in_blender_binary():
        # Blender would ignore our status (and exit 0 after an exception): end it ourselves. The
        # engine processes are already stopped and the .blend saved; nothing else is pending.
        os._exit(code)
    sys.exit(code)
