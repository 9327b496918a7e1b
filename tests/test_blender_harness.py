"""Shared harness for the Blender tests: build the extension once, run bpy scripts in subprocesses.

bpy reads ``BLENDER_USER_RESOURCES`` when it is imported, so each scenario runs in its own Python
process with a fresh user directory; the zip built by ``scripts/build_extension.py`` is installed
there with ``bpy.ops.extensions.package_install_files`` exactly as an artist would. A scenario
script prints one ``@@RESULT@@ <json>`` line; the tests assert on that dict.

Other test files load this module by path (it is also collected by pytest for its own self-test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULE = "bl_ext.user_default.texture_forge"
RESULT_MARK = "@@RESULT@@ "

import importlib.util

# bpy is pinned in requirements.txt: a missing bpy is a broken environment, which must fail the
# run loudly rather than skip the Blender tests.
if importlib.util.find_spec("bpy") is None:  # pragma: no cover
    raise ImportError("the Blender tests need bpy==5.0.1: run `make test`, which installs it")
HAVE_BPY = True

requires_bpy = pytest.mark.blender  # kept as a marker to select or deselect the Blender tests

#: Prelude of every scenario: install the built zip into the fresh user dir, enable it, point the
#: engine at this interpreter (which has torch), and give helpers to describe the scene.
PRELUDE = textwrap.dedent('''
    import json, os, sys, time
    import numpy as np
    import bpy, addon_utils
    MODULE = "bl_ext.user_default.texture_forge"
    assert bpy.ops.extensions.package_install_files(
        filepath=ZIP, repo="user_default", enable_on_install=True) == {"FINISHED"}
    addon_utils.enable(MODULE, default_set=True)
    PREFS = bpy.context.preferences.addons[MODULE].preferences
    PREFS.python = sys.executable
    PREFS.keep_worker_warm = True
    RESULT = {}

    def pixels(image):
        w, h = image.size[:]
        a = np.empty(len(image.pixels), np.float32)
        image.pixels.foreach_get(a)
        return a.reshape(h, w, -1)[::-1]

    import importlib
    _seams = importlib.import_module(MODULE + ".texture_addon.references.seams")

    def seam_ratio(a):
        """The engine's own seam score (numpy only: torch never loads in this process)."""
        return _seams.seam_score(a[..., :3])

    def interior_seams(a, count=12):
        """Seam scores of the image rolled so that interior lines sit on the boundary."""
        h, w = a.shape[:2]
        return [seam_ratio(np.roll(a, (h * k // count, w * k // count), (0, 1))) for k in range(1, count)]

    def describe_tree(mat):
        nt = mat.node_tree
        nodes = {n.name: {"type": n.bl_idname, "role": n.get("texture_forge_role"),
                          "parent": n.parent.name if n.parent else None,
                          "image": n.image.name if getattr(n, "image", None) else None}
                 for n in nt.nodes}
        links = sorted(f"{l.from_node.name}:{l.from_socket.identifier}->{l.to_node.name}:{l.to_socket.identifier}"
                       for l in nt.links)
        return {"nodes": nodes, "links": links}

    def describe_images():
        out = {}
        for im in bpy.data.images:
            if im.type in ("RENDER_RESULT", "COMPOSITING"):
                continue
            out[im.name] = {"size": list(im.size[:]), "colorspace": im.colorspace_settings.name,
                            "packed": im.packed_file is not None, "source": im.source,
                            "filepath": im.filepath, "map": im.get("texture_forge_map"),
                            "float": im.is_float}
        return out

    def report_error(fn):
        try:
            fn()
        except RuntimeError as exc:
            return str(exc)
        return None
''')


def write_reference(path: Path, size: int = 96, seed: int = 0) -> Path:
    """A small structured reference (bricks-like rows over noise), as a real PNG on disk."""
    from PIL import Image

    rng = np.random.RandomState(seed)
    img = rng.rand(size, size, 3) * 0.4 + np.array([0.5, 0.3, 0.2])
    img[::12] *= 0.3
    for r in range(0, size, 24):
        img[r:r + 12, ::16] *= 0.3
        img[r + 12:r + 24, 8::16] *= 0.3
    Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def build_zip(out_dir: Path) -> Path:
    """Run the real build script (validate + build + content check) and return the zip."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--out", str(out_dir)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def run_scenario(body: str, zip_path: Path, workdir: Path, timeout: float = 240.0) -> dict:
    """Run PRELUDE + ``body`` with bpy in a fresh process and user directory; return RESULT."""
    workdir.mkdir(parents=True, exist_ok=True)
    user = workdir / "blender_user"
    user.mkdir(exist_ok=True)
    script = workdir / "scenario.py"
    script.write_text(f"ZIP = {str(zip_path)!r}\nWORK = {str(workdir)!r}\n" + PRELUDE
                      + textwrap.dedent(body)
                      + f"\nprint({RESULT_MARK!r} + json.dumps(RESULT), flush=True)\n")
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user), PYTHONNOUSERSITE="1")
    env.pop("TEXTURE_FORGE_PYTHON", None)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(workdir))
    lines = [l for l in proc.stdout.splitlines() if l.startswith(RESULT_MARK)]
    assert proc.returncode == 0 and lines, (
        f"scenario failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len(RESULT_MARK):])


@requires_bpy
def test_scenarios_run_isolated_from_the_real_user_config(tmp_path: Path) -> None:
    """The harness itself: bpy honours the per-test user directory and the add-on installs there."""
    zip_path = build_zip(tmp_path / "dist")
    result = run_scenario('''
        RESULT["user_scripts"] = bpy.utils.resource_path("USER")
        RESULT["module_file"] = sys.modules[MODULE].__file__
    ''', zip_path, tmp_path / "run")
    assert result["user_scripts"].startswith(str(tmp_path))
    assert result["module_file"].startswith(str(tmp_path / "run" / "blender_user"))
