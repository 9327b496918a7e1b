"""End to end in real Blender: the installed extension runs the worker (torch in another process)
from ``texture_forge.generate`` in background mode and puts tiling textures into the material.

One scenario process (fresh user dir, zip installed as an artist would) records everything; the
tests below assert on it. Draft quality at 96×64 keeps the whole file to a few seconds of engine
time on two cores.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("tf_blender_harness", Path(__file__).with_name("test_blender_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = harness.requires_bpy
W, H = 96, 64


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("generate")
    zip_path = harness.build_zip(work / "dist")
    ref = harness.write_reference(work / "bricks_ref.png")
    maps = ["basecolor", "height", "normal", "roughness", "ao"]
    body = f'''
        REF = {str(ref)!r}
        MAPS = {maps!r}
        mo = sys.modules[MODULE + ".texture_addon.blender.material_output"]
        runner = sys.modules[MODULE + ".texture_addon.blender.job_runner"]
        RESULT["maps"] = MAPS
        previews = []
        _show_preview = mo.show_preview
        def counting_preview(mat, path):
            previews.append(path)
            return _show_preview(mat, path)
        mo.show_preview = counting_preview

        bpy.ops.mesh.primitive_plane_add()
        plane = bpy.context.active_object
        mat = bpy.data.materials.new("Bricks")
        plane.data.materials.append(mat)
        nt = mat.node_tree
        photo = bpy.data.images.new("Artist Photo", 8, 8)
        art_node = nt.nodes.new("ShaderNodeTexImage"); art_node.name = "Artist Image"; art_node.image = photo
        s = mat.texture_forge
        s.size_preset = "CUSTOM"; s.width = {W}; s.height = {H}
        s.quality = "draft"; s.seed = 3; s.storage = "PACK"; s.ao_strength = 0.5
        for m in ("basecolor", "height", "normal", "roughness", "ao"):
            setattr(s, "map_" + m, m in MAPS)
        RESULT["add_ref"] = list(bpy.ops.texture_forge.reference_add(filepath=REF))

        # Count every validation of the job on Blender's side of the boundary.
        JobSpec = sys.modules[MODULE + ".texture_addon.contract.spec"].JobSpec
        validations = []
        _validate = JobSpec.validate
        def counting_validate(self, check_files=True):
            validations.append(self.kind)
            return _validate(self, check_files)
        JobSpec.validate = counting_validate

        t = time.time()
        RESULT["generate"] = list(bpy.ops.texture_forge.generate())
        RESULT["validations"] = list(validations)
        JobSpec.validate = _validate
        RESULT["seconds"] = time.time() - t
        RESULT["previews"] = len(previews)
        RESULT["first"] = describe_tree(mat)
        RESULT["images"] = describe_images()
        RESULT["last_error"] = s.last_error
        stats = {{}}
        for m in MAPS:
            a = pixels(mo.find_our_image(mat, m))
            stats[m] = {{"std": float(a[..., :3].std()), "seam": seam_ratio(a), "interior_max": max(interior_seams(a)),
                         "mean": float(a[..., :3].mean())}}
        RESULT["stats"] = stats
        base_before = pixels(mo.find_our_image(mat, "basecolor")).copy()

        n_images = len(bpy.data.images)
        s.seed = 4
        RESULT["generate2"] = list(bpy.ops.texture_forge.generate())
        RESULT["second"] = describe_tree(mat)
        RESULT["images_added_2"] = len(bpy.data.images) - n_images
        RESULT["changed_with_seed"] = float(np.abs(pixels(mo.find_our_image(mat, "basecolor")) - base_before).mean())
        RESULT["art_node_image"] = art_node.image.name
        RESULT["photo_users"] = photo.users

        # Cancel: start as the UI does (returns at once), press Cancel, let it wind down.
        scene_state = (len(bpy.data.images), len(nt.nodes), len(nt.links))
        s.width = 256; s.height = 256; s.quality = "default"
        out_dir, temp = runner.new_output_dir("Bricks")
        spec = sys.modules[MODULE + ".texture_addon.blender.job_spec"].build_material_spec(mat, out_dir)
        state = runner.start(runner.material_key(mat), spec, out_dir, temp, lambda st, m: None,
                             lambda st, m: None)
        RESULT["cancel_op"] = list(bpy.ops.texture_forge.cancel())
        runner.run_to_completion(state, timeout=120)
        RESULT["cancel_stage"] = state.stage
        RESULT["cancel_changed_nothing"] = scene_state == (len(bpy.data.images), len(nt.nodes), len(nt.links))
        RESULT["cancel_nothing_running"] = report_error(lambda: bpy.ops.texture_forge.cancel())

        # Make Seamless on an image with hard edges.
        yy, xx = np.mgrid[0:64, 0:64]
        src = bpy.data.images.new("Gradient", 64, 64)
        # A photo-like image whose edges do not meet: soft blobs of colour, noise and a light ramp.
        rng = np.random.RandomState(0)
        g = np.zeros((64, 64, 4), np.float32)
        g[..., 3] = 1
        for _ in range(12):
            cy, cx, r = rng.rand() * 64, rng.rand() * 64, 4 + rng.rand() * 10
            g[..., :3] += rng.rand(3) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None]
        g[..., :3] = np.clip(g[..., :3] * 0.8 + rng.rand(64, 64, 3) * 0.1 + 0.1 * xx[..., None] / 63, 0, 1)
        src.pixels.foreach_set(g[::-1].ravel())
        RESULT["seamless_error"] = report_error(lambda: RESULT.__setitem__(
            "seamless_op", list(bpy.ops.texture_forge.make_seamless(image_name="Gradient"))))
        out = bpy.data.images.get("Gradient_seamless")
        RESULT["seamless"] = None if out is None else {{
            "size": list(out.size[:]), "seam": seam_ratio(pixels(out)), "src_seam": seam_ratio(pixels(src))}}
        RESULT["open_output"] = list(bpy.ops.texture_forge.open_output())

        RESULT["torch_loaded"] = "torch" in sys.modules
        RESULT["pil_loaded"] = "PIL" in sys.modules
        addon_utils.disable(MODULE, default_set=True)
        RESULT["timer_after_disable"] = bpy.app.timers.is_registered(runner._tick)
        RESULT["client_after_disable"] = runner._client is None
    '''
    return harness.run_scenario(body, zip_path, work / "run", timeout=400)


def test_generate_finishes_in_background_mode(result: dict) -> None:
    assert result["add_ref"] == ["FINISHED"]
    assert result["generate"] == ["FINISHED"], result["last_error"]
    assert result["last_error"] == ""
    assert result["previews"] >= 1, "the live preview never reached the image"


def test_generate_validates_the_job_once_before_it_leaves_blender(result: dict) -> None:
    """The builder collects the panel's problems; the spec's rules are checked once, by the worker
    client at the pipe (the engine process checks once more on arrival: test_worker_run.py)."""
    assert result["validations"] == ["synth"]


def test_images_have_the_right_size_colour_space_and_content(result: dict) -> None:
    imgs = result["images"]
    for m in result["maps"]:
        info = imgs[f"Bricks_{m}"]
        assert info["size"] == [W, H] and info["map"] == m and info["packed"]
        assert info["colorspace"] == ("sRGB" if m == "basecolor" else "Non-Color")
        stats = result["stats"][m]
        if m != "ao":  # AO may legitimately be almost flat
            assert stats["std"] > 0.01, (m, stats)
    assert 0.05 < result["stats"]["basecolor"]["mean"] < 0.95


def test_generated_texture_tiles(result: dict) -> None:
    # The wrap boundary is no worse than the image's own interior lines would be as a boundary (a
    # real seam stands out from them; an absolute threshold cannot tell a seam from a crevice of
    # the texture that happens to lie on the boundary of a 64-pixel image).
    for m in result["maps"]:
        stats = result["stats"][m]
        assert stats["seam"] <= 1.05 * stats["interior_max"], (m, stats)
        assert stats["seam"] < 2.0, (m, stats)


def test_node_tree_is_wired(result: dict) -> None:
    links = set(result["first"]["links"])
    if "ao" in result["maps"]:
        assert "Texture Forge AO Multiply:Result_Color->Principled BSDF:Base Color" in links
        assert "Texture Forge Bump:Normal->Principled BSDF:Normal" in links
        assert "Texture Forge Roughness:Color->Principled BSDF:Roughness" in links
    else:
        assert "Texture Forge Base Colour:Color->Principled BSDF:Base Color" in links
    nodes = result["first"]["nodes"]
    assert nodes["Texture Forge Base Colour"]["image"] == "Bricks_basecolor"
    assert nodes["Texture Forge Base Colour"]["parent"] == "Texture Forge"


def test_second_generate_updates_the_same_nodes(result: dict) -> None:
    assert result["generate2"] == ["FINISHED"]
    assert result["second"] == result["first"]
    assert result["images_added_2"] == 0
    assert result["changed_with_seed"] > 0.01, "a new seed must give new pixels in the same image"


def test_artist_nodes_survive(result: dict) -> None:
    nodes = result["second"]["nodes"]
    assert nodes["Artist Image"]["image"] == "Artist Photo" and nodes["Artist Image"]["role"] is None
    assert result["art_node_image"] == "Artist Photo" and result["photo_users"] >= 1


def test_cancel(result: dict) -> None:
    assert result["cancel_op"] == ["FINISHED"]
    assert result["cancel_stage"] == "cancelled"
    assert result["cancel_changed_nothing"]
    assert "nothing is running here" in result["cancel_nothing_running"]  # greyed out, with the reason


def test_make_seamless(result: dict) -> None:
    assert result["seamless_error"] is None and result["seamless_op"] == ["FINISHED"]
    seamless = result["seamless"]
    assert seamless is not None and seamless["size"] == [64, 64]
    assert seamless["src_seam"] > 3.0 and seamless["seam"] < 2.0, seamless


def test_open_output_explains_packed_images(result: dict) -> None:
    assert result["open_output"] == ["CANCELLED"]


def test_blender_process_never_loads_torch_and_cleans_up(result: dict) -> None:
    assert not result["torch_loaded"] and not result["pil_loaded"]
    assert not result["timer_after_disable"] and result["client_after_disable"]
