"""Errors give a clear report and change nothing; the settings and list operators behave.

Runs in real Blender with the installed extension. Only the engine check starts the worker
(to read the torch version); every Generate here fails before a job is sent.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("tf_blender_harness", Path(__file__).with_name("test_blender_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = harness.requires_bpy


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("errors")
    zip_path = harness.build_zip(work / "dist")
    ref = harness.write_reference(work / "ref.png")
    body = f'''
        REF = {str(ref)!r}
        def snapshot():
            return (sorted(bpy.data.images.keys()),
                    {{m.name: sorted(n.name for n in m.node_tree.nodes) for m in bpy.data.materials}},
                    {{m.name: len(m.node_tree.links) for m in bpy.data.materials}})

        # 1. No active material.
        bpy.ops.mesh.primitive_plane_add()
        plane = bpy.context.active_object
        before = snapshot()
        RESULT["no_material"] = report_error(lambda: bpy.ops.texture_forge.generate())
        RESULT["no_material_unchanged"] = snapshot() == before
        RESULT["no_material_ops"] = [report_error(lambda: bpy.ops.texture_forge.reference_add(filepath=REF)),
                                     report_error(lambda: bpy.ops.texture_forge.randomize_seed()),
                                     report_error(lambda: bpy.ops.texture_forge.reference_remove())]

        # 2. A material without references.
        mat = bpy.data.materials.new("Plaster")
        plane.data.materials.append(mat)
        s = mat.texture_forge
        s.size_preset = "CUSTOM"; s.width = 64; s.height = 64; s.quality = "draft"
        before = snapshot()
        RESULT["no_refs"] = report_error(lambda: bpy.ops.texture_forge.generate())
        RESULT["no_refs_poll"] = bpy.ops.texture_forge.generate.poll()
        RESULT["no_refs_panel"] = sys.modules[MODULE + ".texture_addon.blender.operators"].generate_blockers(bpy.context)
        RESULT["no_refs_unchanged"] = snapshot() == before

        # 3. A reference file that does not exist (plus an empty image slot: both reported).
        bpy.ops.texture_forge.reference_add(filepath=WORK + "/missing.png")
        bpy.ops.texture_forge.reference_add()
        RESULT["missing"] = report_error(lambda: bpy.ops.texture_forge.generate())
        RESULT["missing_unchanged"] = snapshot() == before

        # 4. An interpreter that does not exist: reported, nothing changes.
        bpy.ops.texture_forge.reference_remove()
        bpy.ops.texture_forge.reference_remove()
        bpy.ops.texture_forge.reference_add(filepath=REF)
        PREFS.python = WORK + "/no/such/python"
        RESULT["bad_python"] = report_error(lambda: bpy.ops.texture_forge.generate())
        RESULT["bad_python_unchanged"] = snapshot() == before
        RESULT["bad_python_check"] = list(bpy.ops.texture_forge.check_engine(timeout=60))
        RESULT["bad_python_status"] = PREFS.status
        PREFS.python = sys.executable
        RESULT["check"] = list(bpy.ops.texture_forge.check_engine(timeout=120))

        # 5. A problem only the spec's own rules find (checked where the job leaves Blender): the
        # artist reads the same words as for the panel's problems, without a prefix.
        s.method = "cnn"; PREFS.vgg_weights = WORK + "/no_such_vgg.pth"
        RESULT["vgg"] = report_error(lambda: bpy.ops.texture_forge.generate())
        RESULT["vgg_last_error"] = s.last_error
        s.method = "nn"; PREFS.vgg_weights = ""
        RESULT["status"] = PREFS.status

        # Reference list operators.
        img = bpy.data.images.new("Swatch", 8, 8)
        bpy.ops.texture_forge.reference_add(image_name="Swatch")
        bpy.ops.texture_forge.reference_add(filepath=WORK + "/third.png")
        RESULT["labels"] = [r.label for r in s.references]
        RESULT["sources"] = [r.source for r in s.references]
        RESULT["active_after_add"] = s.active_reference
        bpy.ops.texture_forge.reference_move(direction="UP")
        RESULT["after_up"] = [r.label for r in s.references]
        RESULT["active_after_up"] = s.active_reference
        RESULT["move_past_top"] = [list(bpy.ops.texture_forge.reference_move(direction="UP")),
                                   list(bpy.ops.texture_forge.reference_move(direction="UP"))]
        bpy.ops.texture_forge.reference_remove()
        RESULT["after_remove"] = [r.label for r in s.references]
        RESULT["bad_image_name"] = report_error(lambda: bpy.ops.texture_forge.reference_add(image_name="Nope"))

        # Settings.
        s.size_preset = "2K"
        RESULT["preset_2k"] = [s.width, s.height]
        s.size_preset = "CUSTOM"; s.width = 300; s.height = 120
        RESULT["custom"] = [s.width, s.height]
        s.seed = 0
        bpy.ops.texture_forge.randomize_seed()
        RESULT["seed_changed"] = s.seed != 0
        spec = sys.modules[MODULE + ".texture_addon.blender.job_spec"].build_material_spec(
            mat, WORK + "/specout", device="cpu")
        RESULT["spec"] = {{"kind": spec.kind, "w": spec.width, "h": spec.height, "maps": spec.maps,
                          "refs": [(r.path, r.weight) for r in spec.references], "name": spec.name}}
        s.references[0].enabled = False
        s.mode = "STYLIZE"
        RESULT["stylize_errors"] = report_error(lambda: bpy.ops.texture_forge.generate())

        # Saved with the .blend.
        s.mode = "NEW"; s.seed = 42; s.map_ao = True; s.height_mode = "DISPLACEMENT"
        bpy.ops.wm.save_as_mainfile(filepath=WORK + "/saved.blend")
        bpy.ops.wm.read_homefile(use_empty=True)
        bpy.ops.wm.open_mainfile(filepath=WORK + "/saved.blend")
        s2 = bpy.data.materials["Plaster"].texture_forge
        RESULT["reloaded"] = [s2.seed, s2.map_ao, s2.height_mode, len(s2.references), s2.width]
    '''
    return harness.run_scenario(body, zip_path, work / "run", timeout=300)


def test_no_active_material(result: dict) -> None:
    assert result["no_material"] and "no active material" in result["no_material"]
    assert result["no_material_unchanged"]
    add, seed, remove = result["no_material_ops"]  # greyed out, each with its reason
    assert "no active material" in add and "no active material" in seed
    assert "no reference to remove" in remove


def test_no_references(result: dict) -> None:
    assert "at least one enabled reference" in result["no_refs"]
    # Generate is greyed out (poll) with the reason, which the panel also prints under the button.
    assert result["no_refs_poll"] is False
    assert result["no_refs_panel"] == ["add at least one enabled reference image (+ under References)"]
    assert result["no_refs_unchanged"]


def test_missing_reference_file(result: dict) -> None:
    msg = result["missing"]
    assert "file not found" in msg and "missing.png" in msg
    assert "reference 2: no image chosen" in msg  # every problem at once
    assert result["missing_unchanged"]


def test_a_spec_rule_reads_like_the_panels_own_problems(result: dict) -> None:
    path = result["vgg_last_error"].removeprefix("vgg_weights: file not found: ")
    assert path.endswith("no_such_vgg.pth"), result["vgg_last_error"]
    assert result["vgg"].strip().endswith("Texture Forge: vgg_weights: file not found: " + path), result["vgg"]


def test_bad_interpreter_and_engine_check(result: dict) -> None:
    assert "not found" in result["bad_python"] and "no/such/python" in result["bad_python"]
    assert result["bad_python_unchanged"]
    assert result["bad_python_check"] == ["CANCELLED"] and "not found" in result["bad_python_status"]
    assert result["check"] == ["FINISHED"]
    assert result["status"].startswith("engine ready: torch 2.13.0"), result["status"]


def test_reference_list_operators(result: dict) -> None:
    assert result["labels"] == ["ref.png", "Swatch", "third.png"]
    assert result["sources"] == ["FILE", "IMAGE", "FILE"]
    assert result["active_after_add"] == 2
    assert result["after_up"] == ["ref.png", "third.png", "Swatch"] and result["active_after_up"] == 1
    assert result["move_past_top"] == [["FINISHED"], ["CANCELLED"]]
    assert result["after_remove"] == ["ref.png", "Swatch"]  # removed the active one (third.png)
    assert "no image named 'Nope'" in result["bad_image_name"]


def test_settings_build_the_job(result: dict) -> None:
    assert result["preset_2k"] == [2048, 2048] and result["custom"] == [300, 120]
    assert result["seed_changed"]
    spec = result["spec"]
    assert spec["kind"] == "synth" and (spec["w"], spec["h"]) == (300, 120)
    assert spec["maps"] == ["basecolor", "height", "normal", "roughness"] and spec["name"] == "Plaster"
    # A file reference is passed as is; a generated image datablock is written out for the worker.
    assert [Path(p).name for p, _ in spec["refs"]] == ["ref.png", "reference_2.png"]
    assert spec["refs"][0][0].endswith("ref.png") and spec["refs"][1][1] == 1.0
    assert "source image" in result["stylize_errors"]


def test_settings_are_saved_with_the_blend(result: dict) -> None:
    assert result["reloaded"] == [42, True, "DISPLACEMENT", 2, 300]
