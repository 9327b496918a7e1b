#!/usr/bin/env python3
"""Validate and build the Texture Forge Blender extension zip with Blender's own tool.

    python scripts/build_extension.py --out dist

Runs ``blender_ext.py validate`` (with Blender's list of valid tags) and ``blender_ext.py build``
on the repository root, then checks that the zip holds only the add-on: ``__init__.py``,
``blender_manifest.toml``, ``texture_addon/`` (and LICENSE), no tests, venv or build outputs, and
that nothing Blender imports pulls in torch or PIL. Standard library only; ``blender_ext.py`` is
found in the ``bpy`` module's install (``pip install bpy``) or given with ``--blender-ext``.
Exit status 0 on success, 1 when validation, build or the content check fails.

Torch is not bundled: the add-on runs the engine in an external Python chosen in its preferences
(see docs/blender.md), so the zip stays a few hundred kB and works on every platform.
"""

from __future__ import annotations

import argparse
import ast
import glob
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_TOP = {"__init__.py", "blender_manifest.toml", "texture_addon", "LICENSE", "LICENSE.txt",
               "LICENSE.md", "README.md"}
#: Modules Blender imports from the zip: must not import torch or PIL (checked by a grep).
BLENDER_SIDE = ("__init__.py", "texture_addon/blender/", "texture_addon/bake/", "texture_addon/contract/", "texture_addon/install/",
                "texture_addon/worker/blender_side/", "texture_addon/worker/__init__.py",
                "texture_addon/errors.py", "texture_addon/logs.py", "texture_addon/pipes.py",
                "texture_addon/install_hints.py")
FORBIDDEN_IMPORT = re.compile(r"^\s*(import|from)\s+(torch|PIL)\b", re.M)


def find_blender_ext(explicit: str | None = None) -> Path:
    """Path of Blender's ``blender_ext.py``: explicit, $BLENDER_EXT, or the installed bpy module's."""
    for candidate in (explicit, os.environ.get("BLENDER_EXT")):
        if candidate:
            path = Path(candidate)
            if not path.is_file():
                raise SystemExit(f"blender_ext.py not found: {path}")
            return path
    spec = importlib.util.find_spec("bpy")  # locates the module without starting Blender
    if spec is not None and spec.origin:
        base = Path(spec.origin).parent
        found = sorted(glob.glob(str(base / "*" / "scripts" / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py")))
        if found:
            return Path(found[-1])
    raise SystemExit("cannot find Blender's blender_ext.py: install the bpy module "
                     "(pip install bpy==5.0.1) or pass --blender-ext PATH "
                     "(<blender>/<version>/scripts/addons_core/bl_pkg/cli/blender_ext.py)")


def valid_tags_file(blender_ext: Path, folder: str) -> str | None:
    """Write Blender's valid tags (from ``_bpy_internal/extensions/tags.py``) as the JSON the
    validator wants; None if that file isn't where it is expected."""
    scripts = blender_ext.parents[3]
    tags_py = scripts / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    if not tags_py.is_file():
        return None
    sets: dict[str, list[str]] = {}
    for node in ast.parse(tags_py.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            sets[node.targets[0].id] = sorted(ast.literal_eval(node.value))
    path = os.path.join(folder, "valid_tags.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"add-on": sets.get("addons", []), "theme": sets.get("themes", [])}, fh)
    return path


def run(cmd: list[str]) -> None:
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, text=True, capture_output=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0 or "FATAL_ERROR" in proc.stdout or "Error" in proc.stderr:
        raise SystemExit(f"failed: {' '.join(cmd[1:3])} (exit {proc.returncode})")


def check_zip(path: Path) -> list[str]:
    """Problems with the built zip's contents (empty list when it holds only the add-on)."""
    problems = []
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        for name in names:
            top = name.split("/", 1)[0]
            if top not in ALLOWED_TOP:
                problems.append(f"unexpected file in the zip: {name}")
            if "__pycache__" in name or name.endswith(".pyc"):
                problems.append(f"compiled file in the zip: {name}")
        for required in ("__init__.py", "blender_manifest.toml", "texture_addon/blender/__init__.py",
                         "texture_addon/worker/blender_side/client.py"):
            if required not in names:
                problems.append(f"missing from the zip: {required}")
        for name in names:
            if name.endswith(".py") and name.startswith(BLENDER_SIDE):
                if FORBIDDEN_IMPORT.search(zf.read(name).decode("utf-8", "replace")):
                    problems.append(f"{name} imports torch or PIL, which Blender must never load")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="dist", help="output folder for the zip (default: dist)")
    parser.add_argument("--blender-ext", help="path of Blender's blender_ext.py")
    parser.add_argument("--python", default=sys.executable,
                        help="Python ≥ 3.11 that runs blender_ext.py (default: this one)")
    args = parser.parse_args(argv)

    blender_ext = find_blender_ext(args.blender_ext)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tags = valid_tags_file(blender_ext, tmp)
        tag_args = ["--valid-tags", tags] if tags else []
        run([args.python, str(blender_ext), "validate", *tag_args, str(ROOT)])
        manifest = (ROOT / "blender_manifest.toml").read_text(encoding="utf-8")
        ext_id = re.search(r'^id\s*=\s*"([^"]+)"', manifest, re.M).group(1)
        version = re.search(r'^version\s*=\s*"([^"]+)"', manifest, re.M).group(1)
        zip_path = out / f"{ext_id}-{version}.zip"
        if zip_path.exists():
            zip_path.unlink()
        run([args.python, str(blender_ext), "build", *tag_args, "--source-dir", str(ROOT),
             "--output-filepath", str(zip_path)])
    if not zip_path.is_file():
        print(f"error: the build did not produce {zip_path}", file=sys.stderr)
        return 1
    problems = check_zip(zip_path)
    for p in problems:
        print("error:", p, file=sys.stderr)
    if problems:
        return 1
    print(zip_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
