"""Texture Forge in a real Blender without a display: extension CLI, register, headless bake.

Blender comes from ``scripts/get_blender.sh`` (Debian 13's Blender 4.3 unless ``$BLENDER``); every
run has its own user folders. The .blend files are made by this Blender (a file saved by a newer
Blender, such as the ``bpy`` 5.0 module, does not open in 4.3). Textures are 64², draft quality.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

import real_blender as rb

pytestmark = pytest.mark.slow

BAKE = rb.ROOT / "scripts" / "bake.py"
NO_TORCH = "/usr/bin/python3"  # the root filesystem's Python: numpy, no torch


def summary_of(proc) -> dict:
    """The JSON summary: the last thing on stdout, from the line that opens it (Blender prints its
    own banner and 'Read blend' lines before any script runs)."""
    lines = proc.stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line == "{"]
    assert starts, "no JSON summary on stdout\n" + rb.tail(proc)
    return json.loads("\n".join(lines[starts[-1]:]))


def script(path: Path, code: str) -> Path:
    path.write_text(textwrap.dedent(code))
    return path


# --------------------------------------------------------------------------- extension CLI

@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The zip of scripts/build_extension.py validated and installed with Blender's own CLI."""
    work = tmp_path_factory.mktemp("real_ext")
    zip_path = rb.extension_zip(work)
    validate = rb.run(["--command", "extension", "validate", str(zip_path)], rb.user_env(work / "v"), timeout=120)
    user = work / "user"
    install = rb.install_extension(user, work, enable=True)
    return {"work": work, "user": user, "zip": zip_path, "validate": validate, "install": install}


CHECK_ENABLED = ("import addon_utils, bpy, signal; "
                 "print('@@RESULT@@', __import__('json').dumps({'loaded': addon_utils.check('" + rb.MODULE
                 + "')[1], 'registered': hasattr(bpy.types.Material, 'texture_forge'), "
                 "'generate': hasattr(bpy.types, 'TEXTURE_FORGE_OT_generate'), "
                 "'sigpipe_ignored': signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN}))")


def test_extension_validates_installs_and_stays_enabled(installed):
    assert installed["validate"].returncode == 0, rb.tail(installed["validate"])
    assert installed["install"].returncode == 0, rb.tail(installed["install"])
    # a new Blender: the documented install command left it enabled (saved in the preferences)
    proc = rb.run(["-b", "--python-expr", CHECK_ENABLED], rb.user_env(installed["user"]), timeout=120)
    found = rb.results(proc.stdout)
    assert found == [{"loaded": True, "registered": True, "generate": True, "sigpipe_ignored": True}], rb.tail(proc)


def test_python_install_with_save_userpref_also_stays_enabled(installed):
    """The scripted install docs/blender.md gives: package_install_files + save_userpref."""
    user = installed["work"] / "user_py"
    code = (f"import bpy; r = bpy.ops.extensions.package_install_files(filepath={str(installed['zip'])!r}, "
            "repo='user_default', enable_on_install=True); bpy.ops.wm.save_userpref(); print('@@RESULT@@', "
            "__import__('json').dumps(sorted(r)))")
    proc = rb.run(["-b", "--python-expr", code], rb.user_env(user), timeout=120)
    assert rb.results(proc.stdout) == [["FINISHED"]], rb.tail(proc)
    proc = rb.run(["-b", "--python-expr", CHECK_ENABLED], rb.user_env(user), timeout=120)
    assert rb.results(proc.stdout) and rb.results(proc.stdout)[0]["loaded"] is True, rb.tail(proc)


def test_registers_without_numpy_and_says_what_is_missing(installed):
    """Debian's Blender has numpy only with python3-numpy: hide it, then enable the add-on."""
    user = installed["work"] / "user_nonumpy"
    proc = rb.install_extension(user, installed["work"], enable=False)
    assert proc.returncode == 0, rb.tail(proc)
    code = ("import sys; sys.modules['numpy'] = None; import addon_utils, bpy, json; "
            f"m = addon_utils.enable({rb.MODULE!r}, default_set=False); "
            "print('@@RESULT@@', json.dumps({'enabled': m is not None, "
            "'registered': hasattr(bpy.types.Material, 'texture_forge'), "
            "'panel': hasattr(bpy.types, 'TEXTURE_FORGE_PT_view3d')}))")
    proc = rb.run(["-b", "--python-expr", code], rb.user_env(user), timeout=120)
    assert rb.results(proc.stdout) == [{"enabled": True, "registered": True, "panel": True}], rb.tail(proc)
    said = [line for line in proc.stderr.splitlines() if "numpy is missing" in line]
    assert len(said) == 1 and "python3-numpy" in said[0], proc.stderr[-2000:]
    assert "No module named 'numpy'" not in proc.stderr + proc.stdout


# --------------------------------------------------------------------------- headless bake

@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    """scene.blend (saved by this Blender) with materials 'a b' and 'a_b', 64² draft."""
    work = tmp_path_factory.mktemp("real_bake")
    blend = work / "scene" / "scene.blend"
    blend.parent.mkdir()
    make = script(work / "make_scene.py", f'''
        import sys, bpy
        sys.argv = ["x"]
        sys.path.insert(0, {str(rb.ROOT / "scripts")!r})
        import bake
        bake.load_addon()
        for i, (name, ref) in enumerate([("a b", "bricks.png"), ("a_b", "wood.png")]):
            bpy.ops.mesh.primitive_plane_add(location=(3 * i, 0, 0))
            mat = bpy.data.materials.new(name)
            bpy.context.active_object.data.materials.append(mat)
            bake.apply_overrides(mat, {{"refs": [{str(rb.ROOT / "examples")!r} + "/" + ref], "size": (64, 64),
                                       "quality": "draft", "maps": ["basecolor", "normal"], "seed": i}})
        bpy.ops.wm.save_mainfile(filepath={str(blend)!r})
    ''')
    proc = rb.run(["-b", "--factory-startup", "-P", make], rb.user_env(work / "user"), cwd=work, timeout=180)
    assert proc.returncode == 0 and blend.is_file(), rb.tail(proc)
    return blend


def bake(blend: Path, *args: str, env: dict, cwd: Path, timeout: float = 300):
    return rb.run(["-b", str(blend), "-P", str(BAKE), "--", *args], env, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def baked(scene, tmp_path_factory) -> dict:
    """``blender -b scene.blend -P scripts/bake.py -- --out //tf_raw --save`` from another folder,
    then the saved file reopened in Blender."""
    elsewhere = tmp_path_factory.mktemp("cwd")
    env = rb.user_env(scene.parent.parent / "user")
    root_had = os.path.exists("/tf_raw")
    proc = bake(scene, "--out", "//tf_raw", "--save", env=env, cwd=elsewhere)
    reopen = script(scene.parent.parent / "reopen.py", '''
        import bpy, json
        out = {}
        for m in bpy.data.materials:
            if m.name not in ("a b", "a_b"):
                continue
            texs = {n.get("texture_forge_role"): n.image for n in m.node_tree.nodes
                    if n.bl_idname == "ShaderNodeTexImage" and n.image is not None}
            bsdf = [n for n in m.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled"][0]
            link = bsdf.inputs["Base Color"].links[0].from_node if bsdf.inputs["Base Color"].is_linked else None
            out[m.name] = {"roles": sorted(k for k in texs if k), "base": getattr(getattr(link, "image", None), "name", None),
                           "files": {k: v.filepath for k, v in texs.items() if k},
                           "sizes": {k: list(v.size[:]) for k, v in texs.items() if k}}
        print("@@RESULT@@", json.dumps(out))
    ''')
    again = rb.run(["-b", str(scene), "-P", reopen], env, cwd=elsewhere, timeout=180)
    rerun = bake(scene, "--out", "//tf_raw", env=env, cwd=elsewhere)
    return {"proc": proc, "root_had": root_had, "reopen": again, "rerun": rerun, "cwd": elsewhere}


def test_bake_exits_0_with_the_json_summary(baked, scene):
    proc = baked["proc"]
    assert proc.returncode == 0, rb.tail(proc)
    summary = summary_of(proc)
    assert summary["ok"] is True and summary["error"] is None
    assert {m["name"]: m["status"] for m in summary["materials"]} == {"a b": "baked", "a_b": "baked"}
    assert summary["blend"] == str(scene)


def test_out_double_slash_is_next_to_the_blend(baked, scene):
    summary = summary_of(baked["proc"])
    raw = scene.parent / "tf_raw"
    assert summary["out"] == str(raw)
    assert raw.is_dir() and not (baked["cwd"] / "tf_raw").exists()
    assert os.path.exists("/tf_raw") == baked["root_had"]  # not a folder at the filesystem root


def test_materials_a_b_and_a_underscore_b_do_not_share_files(baked, scene):
    summary = summary_of(baked["proc"])
    folders = {m["name"]: {Path(p).parent for p in m["outputs"].values()} for m in summary["materials"]}
    assert len(folders["a b"]) == 1 and len(folders["a_b"]) == 1
    assert folders["a b"] != folders["a_b"]
    files = [set(m["outputs"].values()) for m in summary["materials"]]
    assert not files[0] & files[1]
    # no staging folder is left behind
    assert not [p for p in (scene.parent / "tf_raw").iterdir() if p.name.startswith(".tf-")]


def test_saved_blend_reopens_wired(baked, scene):
    found = rb.results(baked["reopen"].stdout)
    assert found, rb.tail(baked["reopen"])
    mats = found[0]
    for name in ("a b", "a_b"):
        m = mats[name]
        assert {"tex_basecolor", "tex_normal"} <= set(m["roles"]), m
        assert m["base"] is not None
        assert m["sizes"]["tex_basecolor"] == [64, 64]
        for path in m["files"].values():
            assert path.startswith("//textures/") and (scene.parent / path[2:]).is_file(), m


def test_a_b_and_a_underscore_b_keep_their_own_texture_files(baked):
    """Two materials whose names sanitise alike must not overwrite each other's //textures/ files."""
    mats = rb.results(baked["reopen"].stdout)[0]
    assert set(mats["a b"]["files"].values()).isdisjoint(mats["a_b"]["files"].values()), mats


def test_rerun_finds_everything_up_to_date(baked):
    proc = baked["rerun"]
    assert proc.returncode == 0, rb.tail(proc)
    assert {m["status"] for m in summary_of(proc)["materials"]} == {"skipped"}


def test_engine_that_cannot_start_fails_with_json_and_a_fix(scene, tmp_path):
    """No torch in the engine's Python: exit 1 (not 0, not SIGPIPE's 141), JSON, a fix that works
    on an externally managed Python (a venv, not pip install into the system or --user)."""
    env = rb.user_env(scene.parent.parent / "user", TEXTURE_FORGE_PYTHON=NO_TORCH)
    copy = tmp_path / "scene.blend"
    shutil.copy2(scene, copy)
    proc = bake(copy, "--out", str(tmp_path / "raw"), "--force", "--save", env=env, cwd=tmp_path)
    # before: Blender was killed by SIGPIPE writing to the exited engine (141, empty stdout, not saved)
    assert proc.returncode == 1, rb.tail(proc)
    summary = summary_of(proc)
    assert summary["ok"] is False and summary["error"]
    assert summary["blend"] == str(copy)  # the rest of the work is still saved
    for m in summary["materials"]:
        assert m["status"] == "failed"
        assert "torch" in m["error"] and "python3 -m venv" in m["error"], m["error"]
        assert "TEXTURE_FORGE_PYTHON" in m["error"] and NO_TORCH in m["error"]


def test_bake_honours_the_python_interpreter_preference(installed, scene, tmp_path):
    """With the extension installed and its preference set (no flag, no environment variable),
    bake.py runs the engine with the preferred Python."""
    user = installed["work"] / "user_pref"
    proc = rb.install_extension(user, installed["work"], enable=True)
    assert proc.returncode == 0, rb.tail(proc)
    code = (f"import bpy; p = bpy.context.preferences.addons[{rb.MODULE!r}].preferences; "
            f"p.python = {NO_TORCH!r}; bpy.ops.wm.save_userpref()")
    proc = rb.run(["-b", "--python-expr", code], rb.user_env(user), timeout=120)
    assert proc.returncode == 0, rb.tail(proc)
    env = rb.user_env(user, TEXTURE_FORGE_PYTHON="")
    proc = bake(scene, "--out", str(tmp_path / "raw"), env=env, cwd=tmp_path)
    assert proc.returncode == 1, rb.tail(proc)
    assert f"engine Python: {NO_TORCH} (the add-on's Python Interpreter preference)" in proc.stderr
    assert all(NO_TORCH in m["error"] for m in summary_of(proc)["materials"])


def test_unexpected_error_exits_1_with_json(scene, tmp_path):
    """Not a usage error, not one material: before, a traceback and exit 0 under blender -b -P."""
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"materials": [{"name": "X", "refs": ["a.png"]}]}))
    env = rb.user_env(scene.parent.parent / "user")
    # A fault no check can foresee (bad values are usage errors, checked at the boundary): loading
    # the baking module raises, injected into Blender's Python before the script runs.
    inject = ("import builtins\n_real = builtins.__import__\n"
              "def _boom(name, globals=None, locals=None, fromlist=(), level=0):\n"
              "    if 'batch' in (fromlist or ()) or name.endswith('.batch'):\n"
              "        raise TypeError('injected fault')\n"
              "    return _real(name, globals, locals, fromlist, level)\n"
              "builtins.__import__ = _boom")
    proc = rb.run(["-b", str(scene), "--python-expr", inject, "-P", str(BAKE), "--", "--manifest", str(manifest),
                   "--out", str(tmp_path / "raw")], env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 1, rb.tail(proc)
    summary = summary_of(proc)
    assert summary["ok"] is False and summary["error"].startswith("TypeError"), summary


def test_usage_error_exits_2_with_json(scene, tmp_path):
    env = rb.user_env(scene.parent.parent / "user")
    proc = bake(scene, "--maps", "shiny", env=env, cwd=tmp_path)
    assert proc.returncode == 2, rb.tail(proc)
    summary = summary_of(proc)
    assert summary["ok"] is False and "unknown map" in summary["error"]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("bake.py: error:")]
    assert len(lines) == 1


# --------------------------------------------------------------------------- get_blender.sh itself

def test_get_blender_says_why_in_one_line_and_wraps_an_explicit_blender(tmp_path):
    import subprocess

    env = dict(os.environ, BLENDER="/bin/true", XDG_CACHE_HOME=str(tmp_path))
    proc = subprocess.run(["bash", str(rb.GET_BLENDER)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == "", proc
    assert len(proc.stderr.strip().splitlines()) == 1 and "not Blender >= 4.2" in proc.stderr
    # an explicit Blender (here: the one under test) gets the same wrapper interface
    env["BLENDER"] = rb.blender()
    proc = subprocess.run(["bash", str(rb.GET_BLENDER)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc
    wrapper = proc.stdout.strip().splitlines()[-1]
    out = subprocess.run([wrapper, "--version"], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("Blender "), out


def test_no_mount_is_left_behind():
    """Every mount of the wrapper lives in a private namespace that ends with its last process."""
    with open("/proc/self/mounts", encoding="utf-8") as f:
        leaked = [line for line in f if "texture-forge" in line]
    assert not leaked, leaked
