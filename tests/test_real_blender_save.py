"""``bake.py --save`` run by the ``bpy`` module (5.0) never makes a Blender 4.3 scene unopenable in 4.3.

The .blend is written by the real Blender 4.3 (scripts/get_blender.sh), the bake runs with the bpy
module, and the file is opened again by 4.3.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

import real_blender as rb

pytestmark = pytest.mark.slow
BAKE = rb.ROOT / "scripts" / "bake.py"


def test_save_refuses_to_rewrite_a_4_3_scene_in_5_0s_format(tmp_path):
    blend = tmp_path / "scene43.blend"
    env = rb.user_env(tmp_path / "user")
    make = rb.run(["-b", "--factory-startup", "--python-expr",
                   f"import bpy; bpy.data.materials.new('Wood').use_fake_user = True; bpy.ops.wm.save_mainfile(filepath={str(blend)!r})"],
                  env, cwd=tmp_path, timeout=180)
    assert make.returncode == 0 and blend.is_file(), rb.tail(make)
    digest = hashlib.sha256(blend.read_bytes()).hexdigest()

    proc = subprocess.run([sys.executable, str(BAKE), "--blend", str(blend), "--material", "Wood",
                           "--ref", str(rb.ROOT / "examples" / "wood.png"), "--size", "64", "--quality", "draft",
                           "--save"], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, PYTHONNOUSERSITE="1"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [l for l in proc.stderr.splitlines() if l.startswith("bake.py: error:")]
    assert len(lines) == 1 and "Blender 4.3" in lines[0] and "--allow-upgrade" in lines[0], proc.stderr[-2000:]
    assert hashlib.sha256(blend.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix.startswith(".blend")) == ["scene43.blend"]

    check = rb.run(["-b", str(blend), "--python-expr",
                    "import bpy; print('@@RESULT@@ {\"wood\": %s}' % str('Wood' in bpy.data.materials).lower())"],
                   env, cwd=tmp_path, timeout=180)
    assert check.returncode == 0, rb.tail(check)
    assert "newer version" not in check.stdout + check.stderr
    assert rb.results(check.stdout) == [{"wood": True}]
