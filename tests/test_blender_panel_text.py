"""Issue 12 item 8: what the panel says fits the sidebar's default width (about 300 px).

Blender cut "Height As" to "Height …", "Store Images" to "Store I…", a reference path to "/w…",
and errors mid-sentence. The panel's draw function runs here against a recording layout (the bpy
module has no window to draw in) with the real material settings; every label must fit its
width, every dropdown's label must be short, and a long error must come back whole, wrapped.
The pixels themselves are checked in a real Blender under Xvfb by the real-Blender suite.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("tf_blender_harness", Path(__file__).with_name("test_blender_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

from ui_recorder import RECORDER  # noqa: E402

pytestmark = harness.requires_bpy


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("panel")
    zip_path = harness.build_zip(work / "dist")
    deep = work / "a" / "very" / "deep" / "folder" / "of" / "reference" / "photographs"
    deep.mkdir(parents=True)
    ref = harness.write_reference(deep / "weathered_brick_wall_reference_photo.png")
    body = f'''
        P = MODULE + ".texture_addon.blender."
        panels = sys.modules[P + "panels"]
        wrap = sys.modules[P + "text_wrap"]

        def entry(kind, name, live, shown, width, rna_type, compact):
            """The fields these tests read: the words shown and the width they get."""
            if kind == "prop":
                return [kind, shown, width, rna_type, compact]
            return [kind, shown, width]

        bpy.ops.mesh.primitive_plane_add()
        mat = bpy.data.materials.new("Weathered Brick Wall")
        bpy.context.active_object.data.materials.append(mat)
        bpy.ops.texture_forge.reference_add(filepath={str(ref)!r})
        s = mat.texture_forge
        s.map_ao = True
        s.last_error = ("reference 1: file not found: {deep}/weathered_brick_wall_reference_photo_v2.png; "
                        "torch is not installed for /usr/bin/python3: make a Python for the engine once")
        RESULT["error"] = s.last_error
        RESULT["per_line"] = wrap.chars_per_line(300)
        drawn = {{}}
        for mode in ("NEW", "STYLIZE", "SEAMLESS", "MATERIAL"):
            s.mode = mode
            drawn[mode] = [entry(*e) for e in recorded(mat, 300)]
        RESULT["drawn"] = drawn
        RESULT["reference_label"] = s.references[0].label
    '''
    return harness.run_scenario(RECORDER + textwrap.dedent(body), zip_path, work / "run", timeout=300)


def test_labels_fit_the_default_sidebar(result: dict) -> None:
    for mode, log in result["drawn"].items():
        for kind, text, width, *rest in log:
            if kind == "label":
                assert len(text) * 7 <= width, (mode, text, width)


def test_dropdowns_with_a_label_keep_it_short(result: dict) -> None:
    """A dropdown beside its label gets roughly a third of the row: "Store Images" lost its end."""
    for mode, log in result["drawn"].items():
        for kind, text, width, *rest in log:
            if kind == "prop" and rest[0] == "ENUM" and not rest[1] and text:
                assert len(text) <= 7, (mode, text)


def test_a_long_error_is_wrapped_not_cut(result: dict) -> None:
    log = result["drawn"]["NEW"]
    labels = [text for kind, text, *_ in log if kind == "label"]
    error_words = result["error"].replace(";", " ").split()
    joined = " ".join(labels)
    squashed = "".join(joined.split())
    assert all(w.rstrip(";") in squashed for w in error_words)
    assert "python3:" in joined and "make a Python for the engine once" in " ".join(l.strip() for l in labels)


def test_a_reference_shows_its_name_not_the_start_of_its_path(result: dict) -> None:
    assert result["reference_label"] == "weathered_brick_wall_reference_photo.png"


def test_generate_says_why_it_is_greyed_out(result: dict) -> None:
    material_mode = result["drawn"]["MATERIAL"]
    labels = " ".join(text for kind, text, *_ in material_mode if kind == "label")
    assert "choose the reference material" in labels
