"""The extension package: Blender's validator accepts it, the zip holds only the add-on, and it
installs, registers, unregisters and registers again in a fresh Blender user directory."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("tf_blender_harness", Path(__file__).with_name("test_blender_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = harness.requires_bpy


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return harness.build_zip(tmp_path_factory.mktemp("dist"))


def test_blender_ext_validate_passes_on_the_repo() -> None:
    sys.path.insert(0, str(harness.ROOT / "scripts"))
    try:
        import build_extension
    finally:
        sys.path.pop(0)
    ext = build_extension.find_blender_ext()
    proc = subprocess.run([sys.executable, str(ext), "validate", str(harness.ROOT)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "FATAL" not in proc.stdout, proc.stdout + proc.stderr


def test_zip_holds_only_the_addon(zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        manifest = zf.read("blender_manifest.toml").decode()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops <= {"__init__.py", "blender_manifest.toml", "texture_addon", "LICENSE"}, tops
    assert "texture_addon/blender/operators.py" in names
    assert "texture_addon/worker/blender_side/client.py" in names
    assert not any(n.startswith(("tests/", "scripts/", ".venv/", "out/", "docs/")) for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert 'id = "texture_forge"' in manifest and 'blender_version_min = "4.2.0"' in manifest
    # Only Install Engine downloads anything; the manifest says so (reason ≤ 64 chars, no period).
    network = re.search(r'^network\s*=\s*"([^"]*)"', manifest.split("[permissions]")[1].split("[")[0], re.M)
    assert network and "Install Engine" in network.group(1) and len(network.group(1)) <= 64
    assert not network.group(1).endswith(".")


def test_build_script_rejects_a_zip_with_stray_files(zip_path: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(harness.ROOT / "scripts"))
    try:
        import build_extension
    finally:
        sys.path.pop(0)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        dst.writestr("tests/test_x.py", "")
        dst.writestr("texture_addon/blender/bad.py", "import torch\n")
    problems = build_extension.check_zip(bad)
    assert any("tests/test_x.py" in p for p in problems)
    assert any("imports torch" in p for p in problems)
    assert build_extension.check_zip(zip_path) == []


def test_install_register_unregister_register_again(zip_path: Path, tmp_path: Path) -> None:
    result = harness.run_scenario('''
        import importlib
        pkg = sys.modules[MODULE + ".texture_addon.blender"]
        runner = sys.modules[MODULE + ".texture_addon.blender.job_runner"]
        CLASS_NAMES = ["TEXTURE_FORGE_OT_generate", "TEXTURE_FORGE_OT_cancel",
                       "TEXTURE_FORGE_OT_reference_add", "TEXTURE_FORGE_OT_reference_remove",
                       "TEXTURE_FORGE_OT_reference_move", "TEXTURE_FORGE_OT_make_seamless",
                       "TEXTURE_FORGE_OT_open_output", "TEXTURE_FORGE_PT_view3d",
                       "TEXTURE_FORGE_PT_shader_editor", "TEXTURE_FORGE_UL_references"]

        def registered():
            return sorted(n for n in CLASS_NAMES if hasattr(bpy.types, n))

        def handler_count():
            """Our handlers left in bpy.app.handlers (job_runner and heal_undo, while enabled)."""
            return sum(1 for h in dir(bpy.app.handlers) if isinstance(getattr(bpy.app.handlers, h), list)
                       for fn in getattr(bpy.app.handlers, h)
                       if getattr(fn, "__module__", "").startswith(MODULE))

        RESULT["first"] = registered()
        RESULT["ops"] = sorted(op for op in dir(bpy.ops.texture_forge))
        RESULT["material_prop"] = hasattr(bpy.types.Material, "texture_forge")
        RESULT["panel_spaces"] = sorted((bpy.types.TEXTURE_FORGE_PT_view3d.bl_space_type,
                                         bpy.types.TEXTURE_FORGE_PT_shader_editor.bl_space_type))
        RESULT["panel_category"] = bpy.types.TEXTURE_FORGE_PT_view3d.bl_category
        # Start the poll timer as a UI Generate would, so unregister has something to clean up.
        runner.ensure_timer()
        RESULT["timer_before"] = bpy.app.timers.is_registered(runner._tick)
        handlers_before = handler_count()
        addon_utils.disable(MODULE, default_set=True)
        RESULT["after_disable"] = registered()
        RESULT["material_prop_after"] = hasattr(bpy.types.Material, "texture_forge")
        RESULT["timer_after"] = bpy.app.timers.is_registered(runner._tick)
        RESULT["handlers_delta"] = handler_count() - handlers_before
        RESULT["handlers_after"] = handler_count()
        addon_utils.enable(MODULE, default_set=True)
        RESULT["again"] = registered()
        mat = bpy.data.materials.new("Again")
        mat.texture_forge.seed = 7
        RESULT["prop_works_again"] = mat.texture_forge.seed
        RESULT["torch_loaded"] = "torch" in sys.modules
        RESULT["pil_loaded"] = "PIL" in sys.modules
    ''', zip_path, tmp_path)
    assert len(result["first"]) == 10
    assert {"generate", "cancel", "reference_add", "reference_remove", "reference_move",
            "make_seamless", "open_output", "install_engine", "repair_engine", "remove_engine",
            "cancel_engine_install"} <= set(result["ops"])
    assert result["material_prop"] and result["panel_category"] == "Texture Forge"
    assert result["panel_spaces"] == ["NODE_EDITOR", "VIEW_3D"]
    assert result["timer_before"] and not result["timer_after"]
    assert result["after_disable"] == [] and not result["material_prop_after"]
    # load_pre, load_post, undo_pre and redo_pre (Ctrl-Z cancels a job), removed again on disable
    assert result["handlers_delta"] == -7  # job_runner: load_pre, load_post, undo_pre, redo_pre; heal_undo: undo_post, redo_post, load_pre
    assert result["handlers_after"] == 0
    assert result["again"] == result["first"] and result["prop_works_again"] == 7
    assert not result["torch_loaded"] and not result["pil_loaded"]
