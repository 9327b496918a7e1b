"""``scripts/bake.py`` end to end: a real subprocess with the bpy module on generated .blend files.

Draft quality at 64² keeps the engine time per material well under a second on two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import folder

ROOT = Path(__file__).resolve().parents[1]
BAKE = ROOT / "scripts" / "bake.py"

import bpy  # noqa: F401,E402  (pinned in requirements.txt; a missing bpy must fail, not skip)

pytestmark = pytest.mark.blender


MAPS = ["basecolor", "normal", "roughness"]



def run_py(code: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def bake(*args, cwd: Path, timeout: float = 180) -> tuple[subprocess.CompletedProcess, dict | None]:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONNOUSERSITE="1")
    proc = subprocess.run([sys.executable, str(BAKE), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    try:
        summary = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        pytest.fail("stdout is not a JSON summary:\n" + proc.stdout[-2000:])
    return proc, summary


def make_scene(path: Path, materials: dict[str, str]) -> Path:
    """A .blend with one plane per material, each with Texture Forge settings (64², draft)."""
    code = f'''
        import sys, bpy
        sys.argv = ["x"]
        sys.path.insert(0, {str(ROOT / "scripts")!r})
        import bake
        bake.load_addon()
        for i, (name, ref) in enumerate({materials!r}.items()):
            bpy.ops.mesh.primitive_plane_add(location=(3 * i, 0, 0))
            mat = bpy.data.materials.new(name)
            bpy.context.active_object.data.materials.append(mat)
            bake.apply_overrides(mat, {{"refs": [ref], "size": (64, 64), "quality": "draft",
                                       "maps": {MAPS!r}, "seed": i}})
        bpy.ops.wm.save_mainfile(filepath={str(path)!r})
    '''
    proc = run_py(code, path.parent)
    assert proc.returncode == 0 and path.is_file(), proc.stderr[-2000:]
    return path


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> dict:
    """Bake a 2-material scene, save it, then reopen it and describe the materials."""
    work = tmp_path_factory.mktemp("bake2")
    blend = make_scene(work / "scene.blend", {"Bricks": str(ROOT / "examples" / "bricks.png"),
                                              "Wood": str(ROOT / "examples" / "wood.png")})
    t = time.monotonic()
    proc, summary = bake("--blend", blend, "--out", work / "out", "--save", cwd=work)
    wall = time.monotonic() - t
    code = f'''
        import sys, json, bpy
        sys.argv = ["x"]; sys.path.insert(0, {str(ROOT / "scripts")!r})
        bpy.ops.wm.open_mainfile(filepath={str(blend)!r})
        import bake; bake.load_addon()
        out = {{}}
        for m in bpy.data.materials:
            if m.name not in ("Bricks", "Wood"):
                continue
            texs = {{n.get("texture_forge_role"): n.image for n in m.node_tree.nodes
                     if n.bl_idname == "ShaderNodeTexImage" and n.image is not None}}
            bsdf = [n for n in m.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled"][0]
            base = bsdf.inputs["Base Color"]
            img = texs.get("tex_basecolor")
            out[m.name] = {{"roles": sorted(k for k in texs if k),
                            "base_linked": base.is_linked,
                            "size": list(img.size[:]) if img else None,
                            "has_data": bool(img and img.has_data),
                            "filepath": img.filepath if img else None}}
        sys.stdout.write("@@" + json.dumps(out) + "\\n")
    '''
    reopen = run_py(code, work)
    line = [l for l in reopen.stdout.splitlines() if l.startswith("@@")]
    assert line, reopen.stderr[-2000:]
    return {"work": work, "blend": blend, "proc": proc, "summary": summary, "wall": wall,
            "reopened": json.loads(line[0][2:])}


def test_bake_two_materials_outputs_and_summary(two):
    proc, summary = two["proc"], two["summary"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary["ok"] is True
    by_name = {m["name"]: m for m in summary["materials"]}
    assert set(by_name) == {"Bricks", "Wood"}
    for name, m in by_name.items():
        assert m["status"] == "baked" and m["error"] is None
        assert sorted(m["outputs"]) == sorted(MAPS)
        for path in m["outputs"].values():
            assert Path(path).is_file() and Path(path).stat().st_size > 100
            assert Path(path).parent == two["work"] / "out" / folder(name)
        assert set(m["seam_scores"]) == set(MAPS)
        assert all(0 <= v < 5 for v in m["seam_scores"].values())
        assert m["engine_seconds"] > 0 and m["seconds"] >= m["engine_seconds"]
    # one progress line per material and stage on stderr
    for name in ("Bricks", "Wood"):
        assert f"[{name}] started" in proc.stderr and f"[{name}] done in" in proc.stderr
    overhead = [m["seconds"] - m["engine_seconds"] for m in by_name.values()]
    print(f"\nper-material overhead beyond synthesis: {', '.join(f'{o:.3f}' for o in overhead)} s "
          f"(engine startup {summary['startup_seconds']:.2f} s, wall {two['wall']:.1f} s)")
    assert max(overhead) < 2.0


def test_saved_blend_reopens_with_textures_wired(two):
    assert two["summary"]["blend"] == str(two["blend"])
    for name in ("Bricks", "Wood"):
        mat = two["reopened"][name]
        assert "tex_basecolor" in mat["roles"], mat
        assert {"tex_" + m for m in MAPS} <= set(mat["roles"])
        assert mat["base_linked"] is True
        assert mat["size"] == [64, 64] and mat["has_data"], mat
        # saved .blend -> images live in //textures/ next to it
        assert mat["filepath"].startswith("//textures/")
        assert (two["work"] / mat["filepath"][2:]).is_file()


def test_rerun_skips_up_to_date_and_force_rebakes(two):
    work = two["work"]
    proc, summary = bake("--blend", two["blend"], "--out", work / "out", cwd=work)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [m["status"] for m in summary["materials"]] == ["skipped", "skipped"]
    assert summary["startup_seconds"] == 0.0  # no engine was started
    # a changed setting (seed) on one material makes only that one stale
    proc, summary = bake("--blend", two["blend"], "--out", work / "out", "--material", "Wood",
                         "--seed", "7", cwd=work)
    assert proc.returncode == 0 and summary["materials"][0]["status"] == "baked", proc.stderr[-2000:]
    proc, summary = bake("--blend", two["blend"], "--out", work / "out", "--material", "Bricks",
                         "--force", cwd=work)
    assert summary["materials"][0]["status"] == "baked"


def test_missing_reference_fails_only_that_material(tmp_path):
    missing = tmp_path / "gone.png"
    missing.write_bytes((ROOT / "examples" / "stones.png").read_bytes())
    blend = make_scene(tmp_path / "scene.blend", {"Good": str(ROOT / "examples" / "stones.png"),
                                                  "Broken": str(missing)})
    missing.unlink()
    # a staging folder left by a bake that crashed (its owner process is gone), and an old set of
    # maps that a failed bake must leave whole
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    crashed = tmp_path / "out" / f".tf-staging-{folder('Good')}-abc123"
    crashed.mkdir(parents=True)
    (crashed / ".texture-forge-owner").write_text(f"{os.uname().nodename} {dead.pid} 0\n")
    (crashed / "Good_basecolor.png").write_bytes(b"half")
    os.utime(crashed, (time.time() - 3600,) * 2)
    old_set = tmp_path / "out" / folder("Broken")
    old_set.mkdir()
    (old_set / "Broken_basecolor.png").write_bytes(b"old")
    proc, summary = bake("--blend", blend, "--out", tmp_path / "out", "--save", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert not crashed.exists() and "left by an interrupted bake" in proc.stderr
    assert (old_set / "Broken_basecolor.png").read_bytes() == b"old"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".tf-")]
    by_name = {m["name"]: m for m in summary["materials"]}
    assert by_name["Broken"]["status"] == "failed"
    assert "not found" in by_name["Broken"]["error"] and "gone.png" in by_name["Broken"]["error"]
    assert by_name["Good"]["status"] == "baked"
    assert all(Path(p).is_file() for p in by_name["Good"]["outputs"].values())
    assert summary["blend"] and (tmp_path / "textures").is_dir()  # the others are still saved
    assert "[Broken] failed:" in proc.stderr


def test_manifest_three_materials_two_jobs(tmp_path):
    manifest = tmp_path / "farm.toml"
    manifest.write_text(textwrap.dedent(f'''
        [defaults]
        size = 64
        quality = "draft"
        maps = {json.dumps(MAPS)}

        [[materials]]
        name = "M_Bricks"
        refs = ["{ROOT / 'examples' / 'bricks.png'}"]

        [[materials]]
        name = "M_Stones"
        refs = ["{ROOT / 'examples' / 'stones.png'}"]
        seed = 4

        [[materials]]
        name = "M_Mix"
        refs = ["{ROOT / 'examples' / 'wood.png'}", "{ROOT / 'examples' / 'lichen.png'}"]
        weights = [1.0, 0.5]
    '''))
    proc, summary = bake("--manifest", manifest, "--jobs", "2", "--out", tmp_path / "out",
                         "--preview", tmp_path / "preview.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [m["name"] for m in summary["materials"]] == ["M_Bricks", "M_Stones", "M_Mix"]
    assert all(m["status"] == "baked" for m in summary["materials"])
    assert "2 process(es)" in proc.stderr
    for m in summary["materials"]:
        assert (tmp_path / "out" / folder(m["name"]) / "bake.json").is_file()
    from PIL import Image
    import numpy as np
    prev = np.asarray(Image.open(summary["preview"]).convert("RGB"), np.float32)
    assert prev.shape[0] == 3 * prev.shape[1] // 2  # three rows of sphere + plane
    assert prev.std() > 5  # something was rendered, not a blank frame


@pytest.mark.parametrize("args, message", [
    (["--maps", "basecolor,shiny"], "unknown map"),
    (["--size", "12"], "invalid size"),
    (["--jobs", "0", "--material", "X", "--ref", str(ROOT / "examples" / "wood.png")], "--jobs"),
    (["--blend", "/nonexistent/scene.blend"], "blend file not found"),
    (["--ref", "/nonexistent/ref.png", "--material", "X"], "reference not found"),
    (["--bogus"], "unrecognized arguments"),
    ([], "nothing to bake"),
])
def test_bad_arguments_exit_2(tmp_path, args, message):
    proc, summary = bake(*args, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr[-1000:]
    # a farm parses stdout: even a usage error gives the JSON summary, ok false, with the reason
    assert summary is not None and summary["ok"] is False and message in summary["error"], summary
    lines = [l for l in proc.stderr.splitlines() if l.startswith("bake.py: error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr


@pytest.mark.full  # the farm's task split: full tier (tests/conftest.py)
def test_farm_split_tasks_then_one_save_wires_everything(tmp_path):
    """docs/farm.md's recipe: per-material tasks write outputs only; a final --save imports them."""
    blend = make_scene(tmp_path / "scene.blend", {"A": str(ROOT / "examples" / "bricks.png"),
                                                  "B": str(ROOT / "examples" / "lichen.png")})
    for name in ("A", "B"):
        proc, summary = bake("--blend", blend, "--material", name, "--out", tmp_path / "raw",
                             cwd=tmp_path)
        assert proc.returncode == 0 and summary["materials"][0]["status"] == "baked", proc.stderr[-2000:]
        assert summary["blend"] is None
    proc, summary = bake("--blend", blend, "--out", tmp_path / "raw", "--save", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [m["status"] for m in summary["materials"]] == ["skipped", "skipped"]
    assert summary["startup_seconds"] == 0.0
    textures = sorted(p.name for p in (tmp_path / "textures" / "scene").iterdir() if not p.name.startswith("."))
    assert textures == sorted(f"{n}_{m}.png" for n in ("A", "B") for m in MAPS)


def test_engine_version_is_part_of_the_up_to_date_digest(tmp_path):
    """Same settings and inputs, another engine (torch or engine source): not up to date."""
    code = f'''
        import sys, json, importlib, bpy
        sys.argv = ["x"]; sys.path.insert(0, {str(ROOT / "scripts")!r})
        import bake
        blender = bake.load_addon()
        batch = importlib.import_module(blender.__name__.rsplit(".", 1)[0] + ".bake.batch")
        mat = bpy.data.materials.new("M")
        bake.apply_overrides(mat, {{"refs": [{str(ROOT / "examples" / "bricks.png")!r}], "size": (64, 64)}})
        from importlib import import_module
        spec = import_module(blender.__name__ + ".job_spec").build_material_spec(mat, {str(tmp_path)!r})
        engine = batch.engine_version(sys.executable)
        d = {{k: batch.spec_digest(spec, mat, e) for k, e in
             [("same", engine), ("again", dict(engine)), ("torch", {{**engine, "torch": "2.12.0"}}),
              ("source", {{**engine, "source": "0" * 64}})]}}
        print("@@" + json.dumps({{"engine": engine, "digests": d}}))
    '''
    proc = run_py(code, tmp_path)
    line = [l for l in proc.stdout.splitlines() if l.startswith("@@")]
    assert line, proc.stderr[-2000:]
    out = json.loads(line[0][2:])
    assert out["engine"]["torch"].startswith("2.13.0") and len(out["engine"]["source"]) == 64
    d = out["digests"]
    assert d["same"] == d["again"]
    assert len({d["same"], d["torch"], d["source"]}) == 3
