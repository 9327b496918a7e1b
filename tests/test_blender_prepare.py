"""Issue 31 in the bpy module: a reference's Prepare settings, the corners refused or stored, Paint
Mask's image, and the job spec Generate sends for a prepared reference (and Generate from it)."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("tf_blender_harness", Path(__file__).with_name("test_blender_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = harness.requires_bpy

GOOD = [4.0, 3.0, 60.0, 5.0, 58.0, 62.0, 2.0, 60.0]
BOW_TIE = [4.0, 3.0, 60.0, 5.0, 20.0, 60.0, 58.0, 30.0]
FLAT = [0.0, 0.0, 30.0, 0.0, 60.0, 0.0, 10.0, 0.0]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("prepare")
    zip_path = harness.build_zip(work / "dist")
    ref = harness.write_reference(work / "photo.png", size=64)
    body = f'''
        P = MODULE + ".texture_addon.blender."
        job_spec = sys.modules[P + "job_spec"]
        props = sys.modules[P + "properties"]
        bpy.ops.mesh.primitive_plane_add()
        mat = bpy.data.materials.new("Wall")
        bpy.context.active_object.data.materials.append(mat)
        s = mat.texture_forge
        bpy.ops.texture_forge.reference_add(filepath={str(ref)!r})
        for m in ("height", "normal", "roughness", "ao"):
            setattr(s, "map_" + m, False)
        s.size_preset = "CUSTOM"; s.width = s.height = 64; s.quality = "draft"
        r = s.references[0]
        RESULT["defaults"] = [r.has_corners, list(r.corners), r.flatten, r.heal_mask is None, r.prepared]
        fp0 = props.settings_fingerprint(s)
        RESULT["set_good"] = sorted(bpy.ops.texture_forge.set_corners(corners={GOOD!r}))
        RESULT["stored"] = [r.has_corners, [round(v, 3) for v in r.corners]]
        RESULT["refused"] = [report_error(lambda: bpy.ops.texture_forge.set_corners(corners=c)) for c in ({BOW_TIE!r}, {FLAT!r}, [0, 0, 99, 0, 99, 99, 0, 99])]
        RESULT["kept"] = [round(v, 3) for v in r.corners]
        # Pick Corners needs a window to click in: without one (this module) it says so, nothing changes
        RESULT["pick_headless"] = report_error(lambda: bpy.ops.texture_forge.pick_corners())
        RESULT["pick_invoked"] = report_error(lambda: bpy.ops.texture_forge.pick_corners("INVOKE_DEFAULT"))
        RESULT["pick_kept"] = [r.has_corners, [round(v, 3) for v in r.corners]]
        r.flatten = True
        RESULT["fingerprint_changed"] = props.settings_fingerprint(s) != fp0
        RESULT["paint"] = sorted(bpy.ops.texture_forge.paint_mask())
        m = r.heal_mask
        RESULT["mask"] = {{"name": m.name, "size": list(m.size[:]), "max": float(pixels(m)[..., :3].max()),
                          "colorspace": m.colorspace_settings.name}}
        # the artist paints a blot white
        a = pixels(m).copy(); a[20:30, 24:34, :3] = 1.0
        m.pixels.foreach_set(np.ascontiguousarray(a[::-1]).ravel()); m.update()
        os.makedirs(WORK + "/spec", exist_ok=True)
        spec = job_spec.build_material_spec(mat, WORK + "/spec")
        RESULT["spec_ref"] = spec.to_dict()["references"]
        RESULT["photo_hash_before"] = hashlib.sha256(open({str(ref)!r}, "rb").read()).hexdigest()
        RESULT["generate"] = sorted(bpy.ops.texture_forge.generate())
        RESULT["outcome"] = s.outcome
        RESULT["photo_hash_after"] = hashlib.sha256(open({str(ref)!r}, "rb").read()).hexdigest()
        RESULT["clear"] = sorted(bpy.ops.texture_forge.clear_corners())
        RESULT["cleared"] = r.has_corners
        RESULT["spec_cleared"] = job_spec.build_material_spec(mat, WORK + "/spec").to_dict()["references"][0].get("corners")
    '''
    return harness.run_scenario("import hashlib\n" + textwrap.dedent(body), zip_path, work / "run",
                                timeout=300) | {"ref": str(ref)}


def test_a_reference_is_unprepared_until_asked(result):
    assert result["defaults"] == [False, [0.0] * 8, False, True, False]


def test_good_corners_are_stored_in_photo_pixels(result):
    assert result["set_good"] == ["FINISHED"]
    assert result["stored"] == [True, GOOD]


def test_bad_quads_are_refused_with_one_line_and_the_corners_stay(result):
    bow, flat, outside = result["refused"]
    assert "self-intersecting" in bow and "degenerate" in flat and "outside the 64×64 image" in outside, result["refused"]
    assert all("--corners" not in e and len(e.strip().splitlines()) == 1 for e in result["refused"])
    assert result["kept"] == GOOD


def test_pick_corners_without_a_window_says_so_and_keeps_the_corners(result):
    assert "Pick Corners needs Blender's window" in (result["pick_headless"] or ""), result["pick_headless"]
    assert "set_corners(corners=" in result["pick_headless"] and len(result["pick_headless"].strip().splitlines()) == 1
    assert result["pick_invoked"] == result["pick_headless"] and result["pick_kept"] == [True, GOOD]


def test_prepare_settings_are_part_of_what_the_outcome_describes(result):
    assert result["fingerprint_changed"]


def test_paint_mask_makes_a_black_image_the_photos_size(result):
    assert result["paint"] == ["FINISHED"]
    assert result["mask"] == {"name": "photo.png_mask", "size": [64, 64], "max": 0.0, "colorspace": "Non-Color"}


def test_the_job_spec_carries_the_reference_as_a_manifest_table(result):
    (ref,) = result["spec_ref"]
    assert ref["path"] == result["ref"] and ref["corners"] == GOOD and ref["flatten"] is True
    assert ref["mask"].endswith("inputs/reference_1_mask.png") and set(ref) == {"path", "weight", "corners", "flatten", "mask"}


def test_generate_from_a_prepared_reference_leaves_the_photo_alone(result):
    assert result["generate"] == ["FINISHED"] and result["outcome"].startswith("Done in"), result
    assert result["photo_hash_after"] == result["photo_hash_before"]
    assert result["clear"] == ["FINISHED"] and result["cleared"] is False and result["spec_cleared"] is None


@pytest.fixture(scope="module")
def healed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("heal")
    zip_path = harness.build_zip(work / "dist")
    body = '''
        P = MODULE + ".texture_addon.blender."
        runner = sys.modules[P + "job_runner"]
        rng = np.random.RandomState(0)
        def make(name, a):
            im = bpy.data.images.new(name, 64, 64, alpha=False)
            im.pixels.foreach_set(np.ascontiguousarray(a[::-1], np.float32).ravel()); im.update()
            return im
        photo = rng.rand(64, 64, 4).astype(np.float32); photo[..., 3] = 1
        photo[20:30, 24:34, :3] = (1.0, 0.0, 1.0)  # a magenta blot
        m = np.zeros((64, 64, 4), np.float32); m[..., 3] = 1; m[18:32, 22:36, :3] = 1.0
        img, mask = make("Photo", photo), make("Photo_mask", m)
        before = pixels(img).copy()
        h = bpy.context.scene.texture_forge_heal
        h.mask = mask
        # cancelled at once (the UI's path): nothing changes
        runner.ASYNC_IN_BACKGROUND = True
        bpy.ops.texture_forge.heal(image_name="Photo")
        runner.cancel(runner.image_key(img))
        t0 = time.monotonic()
        while runner.tick() and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        RESULT["cancel_stage"] = runner.get_job(runner.image_key(img)).stage
        RESULT["cancel_same"] = bool(np.array_equal(pixels(img), before))
        runner.ASYNC_IN_BACKGROUND = False
        # into a new image: the one shown stays
        h.target = "NEW"
        RESULT["new"] = sorted(bpy.ops.texture_forge.heal(image_name="Photo"))
        new = bpy.data.images["Photo_healed"]
        RESULT["new_source_same"] = bool(np.array_equal(pixels(img), before))
        # into the same image
        h.target = "SAME"
        RESULT["same"] = sorted(bpy.ops.texture_forge.heal(image_name="Photo"))
        after = pixels(img)
        inside = m[..., 0] > 0.5
        RESULT["outside_same"] = bool(np.array_equal(after[~inside], before[~inside]))
        blot = (after[..., 0] == 1.0) & (after[..., 2] == 1.0) & (after[..., 1] == 0.0)  # the blot's exact colour
        RESULT["magenta_left"] = int(blot.sum())
        RESULT["new_equals_same"] = bool(np.array_equal(pixels(new), after))
        # what Ctrl-Z does to the image (its ID properties come back, its buffer does not), then
        # the add-on's undo handler: the pixels follow the restored token
        undo = sys.modules[P + "heal_undo"]
        token = img[undo.TOKEN]
        del img[undo.TOKEN]
        RESULT["undo_synced"] = undo.sync_pixels()
        RESULT["undo_restored"] = bool(np.array_equal(pixels(img), before))
        img[undo.TOKEN] = token  # redo
        undo.sync_pixels()
        RESULT["redo_healed"] = bool(np.array_equal(pixels(img), after))
        small = bpy.data.images.new("Small", 32, 32)
        h.mask = small
        RESULT["wrong_size"] = report_error(lambda: bpy.ops.texture_forge.heal(image_name="Photo"))
    '''
    return harness.run_scenario(textwrap.dedent(body), zip_path, work / "run", timeout=300)


def test_heal_cancelled_changes_nothing(healed):
    assert healed["cancel_stage"] == "cancelled" and healed["cancel_same"], healed


def test_heal_fills_the_mask_and_keeps_every_other_pixel(healed):
    assert healed["same"] == ["FINISHED"] and healed["outside_same"] and healed["magenta_left"] == 0, healed


def test_undo_after_heal_gives_the_pixels_back_and_redo_heals_again(healed):
    assert healed["undo_synced"] == ["Photo"] and healed["undo_restored"], healed
    assert healed["redo_healed"], healed


def test_heal_into_a_new_image_leaves_the_shown_one(healed):
    assert healed["new"] == ["FINISHED"] and healed["new_source_same"] and healed["new_equals_same"], healed


def test_heal_refuses_a_mask_of_another_size(healed):
    assert "the mask 'Small' is 32×32 but 'Photo' is 64×64" in healed["wrong_size"], healed


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("preview")
    zip_path = harness.build_zip(work / "dist")
    body = '''
        P = MODULE + ".texture_addon.blender."
        previews = sys.modules[P + "previews"]
        rng = np.random.RandomState(0)
        a = np.ones((64, 96, 4), np.float32)
        a[..., :3] = (0.5 + 0.2 * rng.rand(64, 96, 1)) * np.linspace(0.3, 1.0, 96)[None, :, None]
        photo = bpy.data.images.new("Lit", 96, 64, alpha=False)
        photo.pixels.foreach_set(np.ascontiguousarray(a[::-1]).ravel()); photo.update()
        bpy.ops.mesh.primitive_plane_add()
        mat = bpy.data.materials.new("Wall")
        bpy.context.active_object.data.materials.append(mat)
        bpy.ops.texture_forge.reference_add(image_name="Lit")
        r = mat.texture_forge.references[0]
        def shown():
            p = previews.prepared_preview(r, photo)
            w, h = p.image_size[:]
            px = np.empty(w * h * 4, np.float32); p.image_pixels_float.foreach_get(px)
            return p, px.reshape(h, w, 4)[::-1]
        r.has_corners, r.corners = True, (0, 0, 96, 0, 96, 64, 0, 64)
        p0, plain = shown()
        p1, again = shown()
        r.flatten = True
        _, flat = shown()
        r.corners = (0, 0, 48, 0, 48, 64, 0, 64)
        _, half = shown()
        spread = lambda x: float(x[..., :3].mean(axis=(0, 2))[4:-4].std())
        RESULT.update(cached=p0.icon_id == p1.icon_id and bool(np.array_equal(plain, again)),
                      plain_shape=list(plain.shape), plain_spread=spread(plain), flat_spread=spread(flat),
                      half_shape=list(half.shape), icon=p0.icon_id)
        # a painted mask changes no setting: Update Preview shows it
        m = bpy.data.images.new("Lit_mask", 96, 64, alpha=False)
        r.heal_mask = m
        _, unmasked = shown()
        mp = np.zeros((64, 96, 4), np.float32); mp[..., 3] = 1; mp[20:40, 10:30, :3] = 1
        m.pixels.foreach_set(np.ascontiguousarray(mp[::-1]).ravel()); m.update()
        _, stale = shown()
        RESULT["stale_until_update"] = bool(np.array_equal(stale, unmasked))
        RESULT["update"] = sorted(bpy.ops.texture_forge.update_prepare_preview())
        _, painted = shown()
        RESULT["tinted"] = int((np.abs(painted - unmasked).max(axis=2) > 1e-4).sum())
    '''
    return harness.run_scenario(textwrap.dedent(body), zip_path, work / "run", timeout=300)


def test_the_prepared_preview_follows_flatten_and_the_corners(preview):
    assert preview["cached"], preview  # unchanged settings: the same preview, not recomputed
    assert preview["plain_shape"] == [64, 96, 4], preview
    assert preview["flat_spread"] < 0.3 * preview["plain_spread"], preview  # Even Out Lighting shows
    assert preview["half_shape"] == [64, 48, 4], preview  # the new quad's proportions


def test_update_preview_shows_a_painted_mask(preview):
    assert preview["stale_until_update"] and preview["update"] == ["FINISHED"], preview
    assert preview["tinted"] > 100, preview
