"""Issue 34 in the bpy module: status that is true, Repeat, the result preview, labels, engine choice.

One bpy process (about a minute) drives the add-on as the panel would: a synchronous Generate
(background mode), then the UI's asynchronous path (``job_runner.ASYNC_IN_BACKGROUND``) for Cancel
and for undo during a job. The panel's draw function runs against a recording layout; what an
artist sees in a real Blender 4.3 is checked in tests/test_real_blender_panel.py.
"""

from __future__ import annotations

import importlib.util
import re
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
    work = tmp_path_factory.mktemp("panel_status")
    zip_path = harness.build_zip(work / "dist")
    refs = work / "refs"
    refs.mkdir()
    ref = harness.write_reference(refs / "bricks.png", size=64)
    body = f'''
        P = MODULE + ".texture_addon.blender."
        panels = sys.modules[P + "panels"]
        runner = sys.modules[P + "job_runner"]
        engine = sys.modules[P + "engine_install"]
        ops_mod = sys.modules[P + "operators"]
        job_spec = sys.modules[P + "job_spec"]

        def drawn(mat):
            def text(kind, name, live, shown, *layout):
                if kind == "prop":
                    return f"prop:{{name}}:{{shown}}"
                return kind if kind in ("list", "template_ID") else f"{{kind}}:{{name}}"
            return [text(*e) for e in recorded(mat)]

        bpy.ops.mesh.primitive_plane_add()
        mat = bpy.data.materials.new("Bricks")
        bpy.context.active_object.data.materials.append(mat)
        s = mat.texture_forge
        bpy.ops.texture_forge.reference_add(filepath={str(ref)!r})
        for m in ("height", "roughness", "ao"):
            setattr(s, "map_" + m, False)
        s.size_preset = "CUSTOM"; s.width = s.height = 64; s.quality = "draft"

        # --- Generate (synchronous): Done in, Mapping wired, preview
        RESULT["generate"] = sorted(bpy.ops.texture_forge.generate())
        RESULT["status_done"] = panels.status_lines(mat)
        RESULT["draw_done"] = drawn(mat)
        nodes = {{n.get("texture_forge_role"): n for n in mat.node_tree.nodes if n.get("texture_forge_role")}}
        RESULT["roles"] = sorted(nodes)
        RESULT["in_frame"] = sorted(r for r, n in nodes.items() if n.parent is not None and n.parent == nodes.get("frame"))
        RESULT["links"] = describe_tree(mat)["links"]
        RESULT["scale_1"] = list(nodes["mapping"].inputs["Scale"].default_value)
        s.repeat = 3.0
        RESULT["scale_3"] = list(nodes["mapping"].inputs["Scale"].default_value)
        RESULT["status_after_repeat"] = panels.status_lines(mat)
        # (icon ids are 0 without a UI: the previews themselves are compared)
        def preview_of(p):
            a = np.empty(len(p.image_pixels_float), np.float32); p.image_pixels_float.foreach_get(a)
            w, h = p.image_size[:]
            return p, a.reshape(h, w, 4)
        p1, a1 = preview_of(panels.result_preview(mat, False))
        p2, a2 = preview_of(panels.result_preview(mat, True))
        again = panels.result_preview(mat, False)
        base = pixels(bpy.data.images["Bricks_basecolor"])
        RESULT["preview"] = {{"cached": again == p1, "names": sorted(__import__(panels.__name__.rsplit(".", 1)[0] + ".previews", fromlist=["_previews"])._previews), "size": list(p1.image_size[:]),
                             "tiled_size": list(p2.image_size[:]),
                             "matches_image": float(np.abs(a1[::-1][..., :3] - base[..., :3]).max()),
                             "tiles_equal": float(np.abs(a2[:64, :64] - a2[64:, 64:]).max()),
                             "tile_is_image": float(np.abs(a2[:64, :64] - a1).max())}}

        # --- an outcome belongs to its settings
        s.seed = 7
        RESULT["status_new_seed"] = panels.status_lines(mat)
        s.seed = 0
        RESULT["status_seed_back"] = panels.status_lines(mat)
        s.mode = "SEAMLESS"
        RESULT["status_mode"] = panels.status_lines(mat)
        s.mode = "NEW"

        # --- the artist's own coordinates on our image node are kept on regenerate
        tree = mat.node_tree
        theirs = tree.nodes.new("ShaderNodeTexCoord"); theirs.name = "Artist Coords"
        tree.links.new(theirs.outputs["Object"], nodes["tex_normal"].inputs["Vector"])
        bpy.ops.texture_forge.generate()
        RESULT["links_kept"] = describe_tree(mat)["links"]

        # --- the UI's path: Cancel, then undo while a job runs
        runner.ASYNC_IN_BACKGROUND = True
        def run_async(size, action, at=0.05):
            s.width = s.height = size; s.quality = "high"
            images_before = describe_images()
            bpy.ops.texture_forge.generate()
            state = runner.get_job(runner.material_key(mat))
            seen, t0 = [], time.monotonic()
            while runner.tick():
                seen.append(panels.status_lines(mat)[0])
                if state.progress >= at and action:
                    action(state); action = None
                time.sleep(0.05)
                if time.monotonic() - t0 > 120: break
            return {{"stage": state.stage, "message": state.message, "status": panels.status_lines(mat),
                     "draw": drawn(mat), "seen": seen[:5] + seen[-5:],
                     "images_same": describe_images() == images_before}}
        RESULT["cancel"] = run_async(256, lambda st: bpy.ops.texture_forge.cancel())
        RESULT["undo_handlers"] = [runner._on_undo in bpy.app.handlers.undo_pre, runner._on_undo in bpy.app.handlers.redo_pre]
        RESULT["undo"] = run_async(256, lambda st: runner._on_undo())
        # undo pressed just as the job ended: its result arrives but is never applied
        RESULT["undo_race"] = run_async(64, lambda st: setattr(st, "undone", True))
        # a setting changed while the job runs: its "Done in" describes the settings it ran with
        RESULT["changed_during"] = run_async(256, lambda st: setattr(s, "seed", 5), at=0.0)
        s.seed = 0
        RESULT["changed_back"] = panels.status_lines(mat)
        runner.ASYNC_IN_BACKGROUND = False

        # --- the time left, from measured progress only
        st = runner.JobState(key="x", job=None, output_dir="", temporary_dir=False, on_preview=None, on_final=None)
        etas = []
        # the engine's later levels are slower: 2 %/s at first, then 1 %/s
        for t, p in ((0.0, 0.01), (1.0, 0.03), (2.5, 0.06), (4.0, 0.10), (8.0, 0.18), (12.0, 0.22), (16.0, 0.26)):
            st.progress = p
            etas.append(runner._estimate(st, 100.0 + t))
        st.eta, st.eta_at = etas[-1], 116.0
        RESULT["etas"] = etas
        RESULT["left_text"] = [runner.time_left_text(st, 116.0), runner.time_left_text(st, 116.0 + etas[-1] + 2)]
        st.progress = 0.01  # a new phase: measured again from here
        RESULT["eta_reset"] = runner._estimate(st, 117.0)
        RESULT["words"] = [runner.stage_words(w) for w in ("synthesize", "seamless", "stylize", "cancelling", "starting")]

        # --- Make Seamless keeps the photo's size unless a size is chosen
        photo = bpy.data.images.new("Photo", 96, 80)
        s.mode = "SEAMLESS"; s.source_image = photo
        os.makedirs(WORK + "/spec", exist_ok=True)
        spec = job_spec.build_material_spec(mat, WORK + "/spec")
        RESULT["seamless_size"] = [spec.width, spec.height]
        RESULT["big_photo"] = list(job_spec.source_size(bpy.data.images.new("Big", 8192, 6144)))
        s.keep_source_size = False; s.size_preset = "1K"
        spec = job_spec.build_material_spec(mat, WORK + "/spec")
        RESULT["seamless_chosen"] = [spec.width, spec.height]
        RESULT["draw_seamless"] = drawn(mat)
        s.mode = "STYLIZE"
        RESULT["draw_stylize"] = drawn(mat)
        s.mode = "NEW"
        RESULT["draw_one_reference"] = drawn(mat)
        bpy.ops.texture_forge.reference_add(filepath={str(ref)!r})
        RESULT["draw_two_references"] = drawn(mat)

        # --- the file browser starts where the artist was
        RESULT["browse_unsaved_after_pick"] = ops_mod.browse_folder()
        ops_mod._last_folder = ""
        RESULT["browse_unsaved"] = ops_mod.browse_folder()
        os.makedirs(WORK + "/scene", exist_ok=True)
        bpy.ops.wm.save_as_mainfile(filepath=WORK + "/scene/scene.blend")
        RESULT["browse_saved"] = ops_mod.browse_folder()
        RESULT["view_poll"] = bpy.ops.texture_forge.reference_view.poll()

        # --- engine choice
        RESULT["build_no_gpu"] = [engine.effective_build("AUTO"), engine.build_text("AUTO")]
        engine.has_nvidia_gpu = lambda: True
        RESULT["build_gpu"] = [engine.effective_build("AUTO"), engine.build_text("AUTO")]
        bpy.context.preferences.system.use_online_access = False
        RESULT["install_poll_offline"] = bpy.ops.texture_forge.install_engine.poll()
        RESULT["install_error_offline"] = report_error(bpy.ops.texture_forge.install_engine)
        bpy.context.preferences.system.use_online_access = True
        RESULT["install_poll_online"] = bpy.ops.texture_forge.install_engine.poll()
        PREFS.python = ""
        try:
            RESULT["check"] = sorted(bpy.ops.texture_forge.check_engine())
        except RuntimeError as exc:
            RESULT["check"] = str(exc)
        RESULT["check_status"] = PREFS.status
    '''
    return harness.run_scenario(RECORDER + textwrap.dedent(body), zip_path, work / "run", timeout=400) | {"refs": str(refs), "work": str(work)}


def test_generate_says_done_in_and_the_outcome_belongs_to_its_settings(result: dict) -> None:
    assert result["generate"] == ["FINISHED"]
    assert len(result["status_done"]) == 1 and re.fullmatch(r"Done in \d+\.\d s", result["status_done"][0]), result
    assert "label:" + result["status_done"][0] in result["draw_done"]
    assert result["status_after_repeat"] == result["status_done"]  # Repeat is a viewing choice
    assert result["status_new_seed"] == [] and result["status_mode"] == []
    assert result["status_seed_back"] == result["status_done"]


def test_an_outcome_describes_the_settings_the_job_ran_with(result: dict) -> None:
    assert result["changed_during"]["stage"] == "done" and result["changed_during"]["status"] == [], result["changed_during"]
    assert len(result["changed_back"]) == 1 and result["changed_back"][0].startswith("Done in"), result


def test_mapping_and_texture_coordinate_in_our_frame_driven_by_repeat(result: dict) -> None:
    assert {"mapping", "texcoord"} <= set(result["in_frame"]), result["roles"]
    links = result["links"]
    assert "Texture Forge Texture Coordinate:UV->Texture Forge Mapping:Vector" in links, links
    for tex in ("Base Colour", "Normal"):
        assert f"Texture Forge Mapping:Vector->Texture Forge {tex}:Vector" in links, links
    assert result["scale_1"] == [1.0, 1.0, 1.0] and result["scale_3"] == [3.0, 3.0, 1.0]


def test_the_artists_own_coordinates_are_kept(result: dict) -> None:
    links = result["links_kept"]
    assert "Artist Coords:Object->Texture Forge Normal:Vector" in links, links
    assert "Texture Forge Mapping:Vector->Texture Forge Normal:Vector" not in links
    assert "Texture Forge Mapping:Vector->Texture Forge Base Colour:Vector" in links


def test_result_preview_shows_the_base_colour_and_tiles_2x2(result: dict) -> None:
    p = result["preview"]
    assert p["cached"] and len(p["names"]) == 2, p
    assert p["size"] == [64, 64] and p["tiled_size"] == [128, 128]
    assert p["matches_image"] < 1e-6 and p["tiles_equal"] < 1e-6 and p["tile_is_image"] < 1e-6
    assert "prop:preview_tiled:2×2" in result["draw_done"] and "label:Result" in result["draw_done"]


def test_cancel_says_cancelled_in_artist_words(result: dict) -> None:
    c = result["cancel"]
    assert c["stage"] == "cancelled" and c["status"] == ["Cancelled"] and c["images_same"], c
    assert "label:Cancelled" in c["draw"]
    assert not any(w in " ".join(c["seen"]) for w in ("synthesize", "cancelling")), c["seen"]
    assert any(w.startswith(("Synthesising", "Starting the engine", "Cancelling")) for w in c["seen"]), c["seen"]


def test_undo_during_a_job_cancels_it_and_nothing_is_applied(result: dict) -> None:
    assert result["undo_handlers"] == [True, True]
    for name in ("undo", "undo_race"):
        u = result[name]
        assert u["stage"] == "cancelled" and u["status"] == ["Cancelled (undo)"], (name, u)
        assert u["images_same"], (name, u)


def test_time_left_only_from_measured_progress(result: dict) -> None:
    etas = result["etas"]
    assert etas[:3] == [None, None, None]  # under 5 % or under 3 s measured: no number
    assert etas[3] is not None
    # the rate of the last 8 s (1 %/s), not the job's average (1.6 %/s, which would say 46 s)
    assert etas[-1] == pytest.approx((1 - 0.26) / 0.01, rel=0.01)
    assert result["left_text"] == [", 1:14 left", ", finishing"]
    assert result["eta_reset"] is None
    assert result["words"] == ["Synthesising", "Making seamless", "Restyling", "Cancelling", "Starting the engine"]


def test_make_seamless_keeps_the_photos_size_unless_a_size_is_chosen(result: dict) -> None:
    assert result["seamless_size"] == [96, 80]
    assert result["big_photo"] == [4096, 3072]
    assert result["seamless_chosen"] == [1024, 1024]
    assert "prop:keep_source_size:Keep Photo's Size" in result["draw_seamless"]


def test_every_control_has_a_label(result: dict) -> None:
    new, stylize = result["draw_done"], result["draw_stylize"]
    assert "prop:mode:Mode" in new and "label:Source" in new
    assert "prop:source:Source" in new or "label:Source" in new
    assert "label:Features ×1.00 the reference's size" in new
    assert "prop:repeat:Repeat" in new  # in the Result box, beside the preview it scales
    weights = [l for l in result["draw_two_references"] if l.startswith("label:Weight: each reference's share of")]
    assert weights and not any(l.startswith("label:Weight:") for l in result["draw_one_reference"])
    assert "label:Style" in stylize and "label:Image to restyle" in stylize
    assert "label:Photo to make seamless" in result["draw_seamless"]


def test_file_browser_starts_in_the_last_folder_or_the_blends(result: dict) -> None:
    assert result["browse_unsaved_after_pick"] == result["refs"]
    assert result["browse_unsaved"] == ""
    assert result["browse_saved"].endswith("/run/scene")
    assert result["view_poll"] is True


def test_engine_choice_fits_the_machine(result: dict) -> None:
    chosen, text = result["build_no_gpu"]
    assert chosen == "CPU" and text.startswith("No NVIDIA GPU found, so Automatic installs the CPU build")
    assert "downloads about 230 MB" in text
    assert result["build_gpu"][0] == "AUTO" and "downloads about 3.0 GB" in result["build_gpu"][1]
    assert result["install_poll_offline"] is False and result["install_poll_online"] is True
    assert "Online access is off" in result["install_error_offline"]
    assert result["check"] == ["CANCELLED"] or "CANCELLED" in str(result["check"])
    assert result["check_status"].startswith("no engine yet: press Install Engine") and "\n" not in result["check_status"]
