"""The artist's material is never half-changed, and jobs follow the file they belong to.

Issue 12, in the installed extension inside the bpy module, driving the UI's own path: operators
return at once (``job_runner.ASYNC_IN_BACKGROUND``) and the test polls with ``job_runner.tick()``
the way Blender's timer does. Real engine process throughout.

- item 2: previews go to a scratch image; Cancel, an engine failure, or a result that cannot be
  loaded leave the material exactly as it was (nodes, links, image names, pixel hashes);
  only our files are overwritten; file names unique per material;
- item 3: a UI that lagged behind many previews shows no error;
- item 7: register() without numpy; an error after Generate returned is reported;
- item 9: File → Open during a job cancels it and it never lands on the new file's same-named
  material; jobs are keyed by a material identity; Generate's poll says why it is greyed out.
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
    work = tmp_path_factory.mktemp("lifecycle")
    zip_path = harness.build_zip(work / "dist")
    ref = harness.write_reference(work / "ref.png")
    bad = work / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really an image")
    body = f'''
        import hashlib, shutil
        REF, BAD = {str(ref)!r}, {str(bad)!r}
        P = MODULE + ".texture_addon.blender."
        runner = sys.modules[P + "job_runner"]
        mo = sys.modules[P + "material_output"]
        ops_mod = sys.modules[P + "operators"]
        ident = sys.modules[P + "identity"]
        runner.ASYNC_IN_BACKGROUND = True   # the UI's path: Generate returns at once

        def snapshot(mat):
            nt = mat.node_tree
            nodes = sorted((n.name, n.bl_idname, getattr(getattr(n, "image", None), "name", None),
                            tuple(round(v, 3) for v in n.location)) for n in nt.nodes)
            links = sorted(f"{{l.from_node.name}}:{{l.from_socket.identifier}}->{{l.to_node.name}}:{{l.to_socket.identifier}}"
                           for l in nt.links)
            images = {{}}
            for im in bpy.data.images:
                h = hashlib.sha1(pixels(im).tobytes()).hexdigest() if im.has_data or im.source == "GENERATED" else None
                images[im.name] = [h, im.filepath, im.source]
            return {{"nodes": nodes, "links": links, "images": images}}

        def tick_until(cond, timeout=180):
            t0 = time.time()
            while not cond():
                runner.tick()
                assert time.time() - t0 < timeout, "timed out"
                time.sleep(0.05)

        bpy.ops.mesh.primitive_plane_add()
        plane = bpy.context.active_object
        mat = bpy.data.materials.new("Bricks")
        plane.data.materials.append(mat)
        nt = mat.node_tree
        photo = bpy.data.images.new("Artist Photo", 16, 16)
        photo.pixels.foreach_set(np.linspace(0, 1, 16 * 16 * 4, dtype=np.float32))
        art = nt.nodes.new("ShaderNodeTexImage"); art.name = "Artist Image"; art.image = photo
        nt.links.new(art.outputs["Color"], nt.nodes["Principled BSDF"].inputs["Base Color"])
        s = mat.texture_forge
        s.size_preset = "CUSTOM"; s.width = 384; s.height = 384; s.quality = "default"; s.seed = 1  # runs ~1 s: still running at Cancel
        s.storage = "PACK"

        RESULT["poll_no_refs"] = report_error(lambda: bpy.ops.texture_forge.generate())
        bpy.ops.texture_forge.reference_add(filepath=REF)
        S0 = snapshot(mat)

        # --- item 2 / 3: Generate, previews in a scratch image, then Cancel -------------------
        RESULT["generate_returns"] = list(bpy.ops.texture_forge.generate())
        key = runner.material_key(mat)
        RESULT["key_is_identity"] = key == "MA:" + ident.get_uid(mat)
        RESULT["poll_running"] = report_error(lambda: bpy.ops.texture_forge.generate())
        tick_until(lambda: mo.preview_image(mat) is not None or runner.get_job(key).finished)
        prev = mo.preview_image(mat)
        RESULT["preview"] = None if prev is None else {{
            "users": prev.users, "name": prev.name, "filepath": prev.filepath,
            "size": list(prev.size[:]), "std": float(pixels(prev)[..., :3].std())}}
        RESULT["material_untouched_during_preview"] = snapshot(mat)["links"] == S0["links"] and \\
            snapshot(mat)["nodes"] == S0["nodes"]
        RESULT["cancel"] = list(bpy.ops.texture_forge.cancel())
        tick_until(lambda: runner.get_job(key).finished)
        RESULT["cancel_stage"] = runner.get_job(key).stage
        RESULT["after_cancel_equal"] = snapshot(mat) == S0
        RESULT["preview_after_cancel"] = mo.preview_image(mat) is not None

        # --- item 2 / 8: an engine failure after Generate returned -----------------------------
        bpy.ops.texture_forge.reference_remove()
        bpy.ops.texture_forge.reference_add(filepath=BAD)
        n_before = len(runner.notifications)
        RESULT["fail_returns"] = list(bpy.ops.texture_forge.generate())
        tick_until(lambda: runner.get_job(key).finished)
        RESULT["fail_stage"] = runner.get_job(key).stage
        RESULT["fail_notifications"] = runner.notifications[n_before:]
        RESULT["fail_last_error"] = s.last_error
        RESULT["after_fail_equal"] = snapshot(mat) == S0

        # --- item 3: the UI lags behind many previews, then catches up -------------------------
        bpy.ops.texture_forge.reference_remove()
        bpy.ops.texture_forge.reference_add(filepath=REF)
        s.storage = "PACK"
        shown = []
        _show = mo.show_preview
        mo.show_preview = lambda m, p: shown.append(p) or _show(m, p)
        bpy.ops.texture_forge.generate()
        job = runner.get_job(key).job
        t0 = time.time()
        while not job._final_delivered and time.time() - t0 < 240:
            time.sleep(0.1)                  # Blender frozen: no tick
        RESULT["lagged_previews_waiting"] = job._inbox.qsize()
        tick_until(lambda: runner.get_job(key).finished)
        mo.show_preview = _show
        st = runner.get_job(key)
        RESULT["lag_stage"] = st.stage
        RESULT["lag_message"] = st.message
        RESULT["lag_previews_shown"] = len(shown)
        RESULT["lag_last_error"] = s.last_error
        RESULT["done_images"] = sorted(n for n in bpy.data.images.keys() if n.startswith("Bricks_"))
        RESULT["preview_after_done"] = mo.preview_image(mat) is not None
        RESULT["base_wired"] = any(l.to_socket.name == "Base Color" and l.from_node.get("texture_forge_role")
                                   for l in nt.links)
        RESULT["done_notification"] = runner.notifications[-1]

        # --- item 2: a result that cannot be loaded changes nothing (packed and //textures/) --
        good = {{m: WORK + f"/good_{{m}}.png" for m in ("basecolor", "height")}}
        for m, path in good.items():
            mo.image_pixels.numpy()  # numpy present here
        import struct, zlib
        def write_png(path, value):
            raw = b"".join(b"\\x00" + bytes([value, 64, 32]) * 8 for _ in range(8))
            def chunk(tag, body):
                return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
            with open(path, "wb") as f:
                f.write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
                        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
        for m, path in good.items():
            write_png(path, 200)
        S1 = snapshot(mat)
        try:
            mo.apply_outputs(mat, {{"basecolor": good["basecolor"], "height": BAD}}, storage="PACK")
            RESULT["bad_apply_packed"] = "no error"
        except Exception as exc:
            RESULT["bad_apply_packed"] = type(exc).__name__
        RESULT["bad_apply_packed_equal"] = snapshot(mat) == S1

        bpy.ops.wm.save_as_mainfile(filepath=WORK + "/scene.blend")
        mat = bpy.data.materials["Bricks"]
        os.makedirs(WORK + "/textures/scene", exist_ok=True)
        with open(WORK + "/textures/scene/Bricks_roughness.png", "wb") as f:
            f.write(b"an artist's own file")
        mo.apply_outputs(mat, {{"basecolor": good["basecolor"], "roughness": good["height"]}}, storage="AUTO")
        listing = sorted(os.listdir(WORK + "/textures/scene"))
        S2 = snapshot(mat)
        try:
            mo.apply_outputs(mat, {{"basecolor": good["basecolor"], "height": BAD}}, storage="AUTO")
            RESULT["bad_apply_files"] = "no error"
        except Exception as exc:
            RESULT["bad_apply_files"] = type(exc).__name__
        RESULT["bad_apply_files_equal"] = snapshot(mat) == S2 and sorted(os.listdir(WORK + "/textures/scene")) == listing
        RESULT["textures_listing"] = listing
        RESULT["artist_file_kept"] = open(WORK + "/textures/scene/Bricks_roughness.png", "rb").read() == b"an artist's own file"
        RESULT["roughness_path"] = mo.find_our_image(mat, "roughness").filepath

        # File names unique per material: "a b" and "a_b".
        for name in ("a b", "a_b"):
            m2 = bpy.data.materials.new(name)
            ident.ensure_uid(m2)
            mo.apply_outputs(m2, {{"basecolor": good["basecolor"]}}, storage="AUTO")
        RESULT["ab_paths"] = [mo.find_our_image(bpy.data.materials[n], "basecolor").filepath for n in ("a b", "a_b")]

        # A duplicated material gets its own identity and never writes into the original's images.
        dup = mat.copy()
        RESULT["dup_same_uid_before"] = ident.get_uid(dup) == ident.get_uid(mat)
        ident.ensure_uid(dup)
        RESULT["dup_uid_differs"] = ident.get_uid(dup) != ident.get_uid(mat)
        RESULT["dup_finds_original_image"] = mo.find_our_image(dup, "basecolor") is not None
        bpy.data.materials.remove(dup)

        # --- item 9: File > Open during a job ---------------------------------------------------
        bpy.ops.wm.save_as_mainfile(filepath=WORK + "/scene.blend")
        # The other file: its own material also called "Bricks", never touched by Texture Forge.
        bpy.ops.wm.read_homefile(use_empty=True)
        other = bpy.data.materials.new("Bricks")
        other.use_fake_user = True           # kept in the file with no object using it
        bpy.ops.wm.save_as_mainfile(filepath=WORK + "/other.blend")
        bpy.ops.wm.open_mainfile(filepath=WORK + "/scene.blend")
        plane = bpy.data.objects["Plane"]
        bpy.context.view_layer.objects.active = plane
        mat = bpy.data.materials["Bricks"]
        mat.texture_forge.storage = "PACK"
        RESULT["open_generate"] = list(bpy.ops.texture_forge.generate())
        key = runner.material_key(mat)
        tick_until(lambda: runner.get_job(key).stage not in ("starting", "queued"))
        old_state = runner.get_job(key)
        RESULT["timer_registered"] = bpy.app.timers.is_registered(runner._tick)
        bpy.ops.wm.open_mainfile(filepath=WORK + "/other.blend")
        RESULT["timer_survives_open"] = bpy.app.timers.is_registered(runner._tick)
        RESULT["panel_job_after_open"] = runner.get_job(key) is not None
        other = bpy.data.materials["Bricks"]
        O0 = snapshot(other)
        tick_until(lambda: not runner.running_jobs())
        RESULT["old_state"] = [old_state.stage, old_state.abandoned, old_state.message]
        RESULT["other_untouched"] = snapshot(other) == O0
        RESULT["other_has_no_uid"] = ident.get_uid(other) is None
        RESULT["images_in_other"] = sorted(bpy.data.images.keys())

        # --- item 7: register() in a Blender without numpy ------------------------------------
        addon_utils.disable(MODULE, default_set=True)
        for name in [n for n in sys.modules if n.startswith(MODULE)]:
            del sys.modules[name]
        saved_numpy = {{n: m for n, m in sys.modules.items() if n == "numpy" or n.startswith("numpy.")}}
        sys.modules["numpy"] = None          # import numpy now raises ImportError
        try:
            addon_utils.enable(MODULE, default_set=True)
            RESULT["registered_without_numpy"] = hasattr(bpy.types, "TEXTURE_FORGE_PT_view3d") and \\
                hasattr(bpy.types.Material, "texture_forge")
            bpy.ops.mesh.primitive_plane_add()
            m3 = bpy.data.materials.new("NoNumpy")
            bpy.context.active_object.data.materials.append(m3)
            img = bpy.data.images.new("Painted", 8, 8)    # a datablock: needs pixels written out
            bpy.ops.texture_forge.reference_add(image_name="Painted")
            RESULT["numpy_error"] = report_error(lambda: bpy.ops.texture_forge.generate())
            RESULT["numpy_last_error"] = m3.texture_forge.last_error
        finally:
            del sys.modules["numpy"]
            sys.modules.update(saved_numpy)
    '''
    return harness.run_scenario(body, zip_path, work / "run", timeout=600)


def test_generate_is_greyed_out_with_the_reason(result: dict) -> None:
    assert "add at least one enabled reference image" in result["poll_no_refs"]
    assert "is already generating" in result["poll_running"]
    assert result["key_is_identity"]


def test_previews_go_to_a_scratch_image_never_the_material(result: dict) -> None:
    assert result["generate_returns"] == ["FINISHED"]
    assert result["preview"] is not None, "no preview arrived"
    assert result["preview"]["users"] == 0 and result["preview"]["name"].startswith(".Texture Forge")
    assert result["preview"]["filepath"] == "" and max(result["preview"]["size"]) <= 256
    assert result["preview"]["std"] > 0.01, "the preview shows the texture forming, not a blank"
    assert result["material_untouched_during_preview"]


def test_cancel_leaves_the_material_exactly_as_it_was(result: dict) -> None:
    assert result["cancel"] == ["FINISHED"] and result["cancel_stage"] == "cancelled"
    assert result["after_cancel_equal"]
    assert not result["preview_after_cancel"]


def test_an_engine_failure_changes_nothing_and_is_reported(result: dict) -> None:
    assert result["fail_returns"] == ["FINISHED"]  # the failure comes after Generate returned
    assert result["fail_stage"] == "failed"
    assert result["after_fail_equal"]
    assert result["fail_notifications"] and result["fail_notifications"][-1][0] == "ERROR"
    assert "broken.png" in result["fail_notifications"][-1][1] or result["fail_last_error"]
    assert result["fail_last_error"]


def test_a_lagging_ui_shows_no_preview_error(result: dict) -> None:
    assert result["lagged_previews_waiting"] > 3
    assert result["lag_stage"] == "done" and result["lag_message"].startswith("done in")
    assert result["lag_previews_shown"] <= 1, "only the newest of a batch of previews is read"
    assert result["lag_last_error"] == ""
    assert result["done_images"] == ["Bricks_basecolor", "Bricks_height", "Bricks_normal", "Bricks_roughness"]
    assert not result["preview_after_done"] and result["base_wired"]
    assert result["done_notification"][0] == "INFO"


def test_a_result_that_cannot_be_loaded_changes_nothing(result: dict) -> None:
    assert result["bad_apply_packed"] != "no error" and result["bad_apply_packed_equal"]
    assert result["bad_apply_files"] != "no error" and result["bad_apply_files_equal"]
    assert not any(n.endswith(".part") for n in result["textures_listing"])


def test_only_our_files_are_overwritten_and_names_are_unique(result: dict) -> None:
    assert result["artist_file_kept"]
    assert result["roughness_path"] == "//textures/scene/Bricks_roughness-2.png"
    a, b = result["ab_paths"]
    assert a != b and a.startswith("//textures/scene/a_b_basecolor-") and b == "//textures/scene/a_b_basecolor.png"


def test_a_duplicated_material_gets_its_own_identity(result: dict) -> None:
    assert result["dup_same_uid_before"] and result["dup_uid_differs"]
    assert not result["dup_finds_original_image"]


def test_file_open_during_a_job_cancels_it_and_never_applies_it(result: dict) -> None:
    assert result["open_generate"] == ["FINISHED"]
    assert result["timer_registered"] and result["timer_survives_open"]
    assert not result["panel_job_after_open"]
    stage, abandoned, message = result["old_state"]
    assert abandoned and stage == "cancelled", result["old_state"]
    assert result["other_untouched"] and result["other_has_no_uid"]
    assert not any(n.startswith("Bricks_") for n in result["images_in_other"])


def test_register_works_without_numpy_and_says_what_is_missing(result: dict) -> None:
    assert result["registered_without_numpy"]
    assert "numpy is missing from Blender's own Python" in result["numpy_error"]
    assert "python3-numpy" in result["numpy_error"]
    assert "numpy is missing" in result["numpy_last_error"]
