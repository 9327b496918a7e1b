"""Issue 32 in Blender: *Height From* and *Light From* on the material, in the panel's maps box,
in the jobs Generate starts and in bake manifests (``light_angle``).

One bpy process (the panel's synchronous Generate, 64² draft) and two ``scripts/bake.py`` runs.
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import pytest

from texture_addon.contract import vocabulary

_spec = importlib.util.spec_from_file_location("tf_blender_harness", Path(__file__).with_name("test_blender_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)
from test_bake import bake, make_scene, run_py  # noqa: E402  (one bake runner for every bake test)
from ui_recorder import RECORDER  # noqa: E402

pytestmark = harness.requires_bpy
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("light")
    zip_path = harness.build_zip(work / "dist")
    ref = harness.write_reference(work / "bricks.png", size=64)
    body = f'''
        P = MODULE + ".texture_addon."
        panels = sys.modules[P + "blender.panels"]
        runner = sys.modules[P + "blender.job_runner"]
        output = sys.modules[P + "blender.material_output"]

        def drawn(mat):
            return [list(e[:3]) for e in recorded(mat) if e[1] in ("height_from", "light_from", "light_angle")
                    or str(e[1]).startswith("Light from") or e[1] == "Height from"]

        bpy.ops.mesh.primitive_plane_add()
        mat = bpy.data.materials.new("Bricks")
        bpy.context.active_object.data.materials.append(mat)
        s = mat.texture_forge
        rna = s.bl_rna.properties
        RESULT["rna"] = {{"height_from": [[i.identifier for i in rna["height_from"].enum_items], rna["height_from"].default],
                         "light_from": [[i.identifier for i in rna["light_from"].enum_items], rna["light_from"].default],
                         "light_angle": [rna["light_angle"].hard_min, rna["light_angle"].hard_max],
                         "tooltips": [rna[n].description for n in ("height_from", "light_from", "light_angle")]}}
        bpy.ops.texture_forge.reference_add(filepath={str(ref)!r})
        s.map_roughness = False
        s.size_preset = "CUSTOM"; s.width = s.height = 64; s.quality = "draft"
        RESULT["draw_default"] = drawn(mat)

        sent = []
        start = runner.start
        def spy(key, spec, *a, **k):
            sent.append(spec.to_dict()["light_angle"])
            return start(key, spec, *a, **k)
        runner.start = spy

        def generate():
            assert bpy.ops.texture_forge.generate() == {{"FINISHED"}}, s.last_error
            return {{m: pixels(output.find_our_image(mat, m)).tolist() for m in ("basecolor", "height")}}

        s.light_from = "ANGLE"; s.light_angle = 135.0
        RESULT["draw_angle"] = drawn(mat)
        told = generate()
        RESULT["status_done"] = panels.status_lines(mat)
        s.light_angle = 315.0
        RESULT["status_other_angle"] = panels.status_lines(mat)
        s.light_angle = 135.0
        RESULT["status_angle_back"] = panels.status_lines(mat)
        s.height_from = "luminance"
        RESULT["status_brightness"] = panels.status_lines(mat)
        RESULT["draw_brightness"] = drawn(mat)
        heuristic = generate()
        RESULT["maps_differ"] = {{m: float(np.abs(np.array(told[m]) - np.array(heuristic[m])).max()) for m in told}}
        s.height_from = "shading"; s.light_from = "AUTO"
        generate()
        for m in ("height", "normal", "roughness", "ao"):
            setattr(s, "map_" + m, False)
        RESULT["draw_colour_only"] = drawn(mat)
        generate()
        RESULT["sent"] = sent
        s.mode = "MATERIAL"
        RESULT["draw_material_mode"] = drawn(mat)
        # From Material with a derived map asked for: the job carries no light angle (the contract
        # refuses one there unless the basecolor is a photo, which the panel never says)
        s.map_height = True; s.reference_material = mat
        job_spec = sys.modules[P + "blender.job_spec"]
        RESULT["material_light"] = job_spec.build_material_spec(mat, __import__("tempfile").mkdtemp()).light_angle
        RESULT["light_text"] = [panels.light_text(a) for a in (0, 90, 135, 180, -45, 359)]
    '''
    return harness.run_scenario(RECORDER + textwrap.dedent(body), zip_path, work / "run", timeout=300)


def test_light_settings_take_their_choices_and_range_from_the_contract(panel):
    rna = panel["rna"]
    assert rna["height_from"] == [list(vocabulary.HEIGHT_SOURCES), "shading"]  # the CLI's default
    assert rna["light_from"] == [["AUTO", "ANGLE"], "AUTO"]
    assert rna["light_angle"] == [-vocabulary.MAX_LIGHT_ANGLE, vocabulary.MAX_LIGHT_ANGLE]
    assert all(len(t) > 40 for t in rna["tooltips"]), rna["tooltips"]


def test_generate_sends_the_light_the_material_says(panel):
    # told 135°, Brightness (the heuristic), Automatic, then base colour only (nothing derived)
    assert panel["sent"] == [135.0, None, "auto", None]
    # the worker ran each spec; the shading method's maps are not the heuristic's
    assert panel["maps_differ"]["height"] > 0.1 and panel["maps_differ"]["basecolor"] > 0.02, panel["maps_differ"]


def test_the_done_line_belongs_to_the_light_settings(panel):
    assert panel["status_done"][0].startswith("Done in")
    assert panel["status_other_angle"] == [] and panel["status_brightness"] == []
    assert panel["status_angle_back"] == panel["status_done"]


def test_the_maps_box_shows_the_light_settings_and_greys_them_without_derived_maps(panel):
    assert panel["draw_default"] == [["label", "Height from", True], ["prop", "height_from", True],
                                     ["label", "Light from", True], ["prop", "light_from", True]]
    assert panel["draw_angle"][-2:] == [["prop", "light_angle", True],
                                        ["label", "Light from the upper left (135°)", True]]
    assert panel["draw_brightness"] == [["label", "Height from", True], ["prop", "height_from", True]]
    assert panel["draw_colour_only"] and all(not live for *_, live in panel["draw_colour_only"])
    assert panel["draw_material_mode"] == []
    assert panel["material_light"] is None
    assert panel["light_text"] == ["Light from the right (0°)", "Light from the top (90°)",
                                   "Light from the upper left (135°)", "Light from the left (180°)",
                                   "Light from the lower right (-45°)", "Light from the right (359°)"]


def _manifest(path: Path, light_angle: object, **extra: object) -> Path:
    entry = {"name": "M_Light", "refs": [str(ROOT / "examples" / "bricks.png")], "size": 64,
             "quality": "draft", "maps": ["basecolor", "height"], "light_angle": light_angle, **extra}
    path.write_text(json.dumps({"materials": [entry, {**entry, "name": "M_Heuristic", "light_angle": None}]}))
    return path


def _toml_manifest(path: Path) -> Path:
    """The same two materials in TOML, which has no null: "brightness" asks for the heuristic."""
    ref = str(ROOT / "examples" / "bricks.png")
    entry = f'refs = [{ref!r}]\nsize = 64\nquality = "draft"\nmaps = ["basecolor", "height"]\n'
    path.write_text(f'[[materials]]\nname = "M_Light"\n{entry}light_angle = 135\n\n'
                    f'[[materials]]\nname = "M_Heuristic"\n{entry}light_angle = "brightness"\n')
    return path


@pytest.mark.parametrize("kind", ["json", "toml"])
def test_a_manifest_light_angle_bakes_into_the_material_setting(tmp_path, kind):
    blend = make_scene(tmp_path / "scene.blend", {})
    manifest = _manifest(tmp_path / "m.json", 135) if kind == "json" else _toml_manifest(tmp_path / "m.toml")
    proc, summary = bake("--blend", blend, "--manifest", manifest,
                         "--out", tmp_path / "out", "--save", cwd=tmp_path)
    assert proc.returncode == 0 and summary["ok"], proc.stderr[-3000:]
    code = f'''
        import sys, json, importlib, bpy
        sys.argv = ["x"]; sys.path.insert(0, {str(ROOT / "scripts")!r})
        bpy.ops.wm.open_mainfile(filepath={str(blend)!r})
        import bake
        blender = bake.load_addon()
        job_spec = importlib.import_module(blender.__name__ + ".job_spec")
        out = {{}}
        for name in ("M_Light", "M_Heuristic"):
            s = bpy.data.materials[name].texture_forge
            spec = job_spec.build_material_spec(bpy.data.materials[name], {str(tmp_path / "again")!r})
            out[name] = [s.height_from, s.light_from, s.light_angle, spec.light_angle]
        print("@@" + json.dumps(out))
    '''
    reopened = run_py(code, tmp_path)
    line = [ln for ln in reopened.stdout.splitlines() if ln.startswith("@@")]
    assert line, reopened.stderr[-2000:]
    assert json.loads(line[0][2:]) == {"M_Light": ["shading", "ANGLE", 135.0, 135.0],
                                       "M_Heuristic": ["luminance", "AUTO", 135.0, None]}


@pytest.mark.parametrize("bad", [1e9, "sideways"])
def test_a_bad_manifest_light_angle_is_one_line_and_writes_nothing(tmp_path, bad):
    manifest = _manifest(tmp_path / "m.json", bad)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc, summary = bake("--manifest", manifest, "--out", tmp_path / "out", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr[-1000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("bake.py: error:")]
    assert len(lines) == 1 and "M_Light" in lines[0] and "light_angle" in lines[0], proc.stderr
    assert summary["ok"] is False and "light_angle" in summary["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output folder, nothing else
