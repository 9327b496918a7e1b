"""The Method menu offers, in each mode, only the methods that mode's job accepts (bpy module).

Seamless and From Material run the patch methods only (the contract's KIND_METHODS); their menu
must not offer CNN, a mode switch must not leave a refused method chosen, and a bake manifest that
asks for one gets a usage error naming the choices.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from texture_addon.contract.spec import KIND_METHODS
from texture_addon.contract.vocabulary import METHODS, MODE_TO_KIND

_spec = importlib.util.spec_from_file_location("tf_blender_harness", Path(__file__).with_name("test_blender_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)
from ui_recorder import RECORDER  # noqa: E402

pytestmark = harness.requires_bpy


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("method_menu")
    zip_path = harness.build_zip(work / "dist")
    body = '''
        P = MODULE + ".texture_addon."
        ops_mod = sys.modules[P + "blender.operators"]
        manifest = importlib.import_module(P + "bake.manifest")
        bpy.ops.mesh.primitive_plane_add()
        mat = bpy.data.materials.new("Wood")
        bpy.context.active_object.data.materials.append(mat)
        s = mat.texture_forge
        accepted = {}
        for mode in ("NEW", "STYLIZE", "SEAMLESS", "MATERIAL"):
            s.mode = mode
            accepted[mode] = []
            for method in ("nn", "patch", "cnn"):
                try:
                    s.method = method
                    accepted[mode].append(method)
                except TypeError:
                    pass
        RESULT["accepted"] = accepted
        s.mode = "SEAMLESS"
        RESULT["seamless_draws_method"] = [e[3] for e in recorded(mat) if e[:2] == ("prop", "method")]
        s.mode = "NEW"; s.method = "cnn"; s.mode = "SEAMLESS"
        RESULT["after_switch"] = s.method
        s["method"] = 2  # a file saved when the menu still offered CNN here
        RESULT["stale_blockers"] = ops_mod.generate_blockers(bpy.context)
        s.mode = "NEW"; s.method = "nn"
        try:
            manifest.apply_overrides(mat, {"mode": "seamless", "method": "cnn"})
            RESULT["manifest_error"] = None
        except Exception as exc:
            RESULT["manifest_error"] = [type(exc).__name__, str(exc)]
    '''
    return harness.run_scenario(RECORDER + textwrap.dedent(body), zip_path, work / "run")


def test_each_mode_offers_what_its_job_accepts(result: dict) -> None:
    expected = {mode: list(KIND_METHODS.get(MODE_TO_KIND[mode], METHODS)) for mode in result["accepted"]}
    assert expected["SEAMLESS"] == expected["MATERIAL"] == ["nn", "patch"]
    assert expected["NEW"] == ["nn", "patch", "cnn"]
    assert result["accepted"] == expected
    assert result["seamless_draws_method"] == ["Method"]


def test_switching_to_a_mode_that_refuses_the_method_falls_back_to_the_first(result: dict) -> None:
    assert result["after_switch"] == "nn"


def test_a_saved_refused_method_blocks_generate_with_the_reason(result: dict) -> None:
    assert "choose the method: the saved one does not apply to this mode" in result["stale_blockers"]


def test_a_manifest_asking_seamless_for_cnn_is_a_usage_error(result: dict) -> None:
    name, message = result["manifest_error"]
    assert name == "UsageError"
    assert message == "material 'Wood': method 'cnn' does not apply to mode seamless (choose from nn, patch)"
