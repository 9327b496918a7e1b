"""Material output without the engine: worker-style PNGs go into tagged images and wired nodes.

Feeds PNGs written here (8-bit sRGB base colour, 16-bit height, 8-bit data maps) straight to the
installed add-on's ``material_output.apply_outputs`` inside real Blender, so wiring, colour spaces,
update-in-place, storage and the safety of the artist's own nodes and images are checked exactly.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("tf_blender_harness", Path(__file__).with_name("test_blender_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = harness.requires_bpy
W, H = 80, 48


def _write_maps(folder: Path) -> dict[str, str]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(3)
    yy, xx = np.mgrid[0:H, 0:W]
    height16 = ((np.sin(xx / W * 2 * np.pi) * 0.5 + 0.5) * 65535).astype(np.uint16)
    maps = {
        "basecolor": Image.fromarray((rng.rand(H, W, 3) * 255).astype(np.uint8)),
        "height": Image.fromarray(height16),
        "normal": Image.fromarray(np.dstack([np.full((H, W), 128), np.full((H, W), 128),
                                             np.full((H, W), 255)]).astype(np.uint8)),
        "roughness": Image.fromarray((rng.rand(H, W) * 255).astype(np.uint8)),
        "ao": Image.fromarray(np.full((H, W), 200, np.uint8)),
    }
    out = {}
    for name, img in maps.items():
        path = folder / f"Bricks_{name}.png"
        img.save(path)
        out[name] = str(path)
    np.save(folder / "height16.npy", height16)
    np.save(folder / "base8.npy", np.asarray(maps["basecolor"]))
    return out


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("material_output")
    zip_path = harness.build_zip(work / "dist")
    outputs = _write_maps(work / "worker_out")
    body = f'''
        OUTPUTS = {outputs!r}
        mo = sys.modules[MODULE + ".texture_addon.blender.material_output"]
        mat = bpy.data.materials.new("Bricks")
        nt = mat.node_tree
        bsdf = nt.nodes["Principled BSDF"]
        # The artist's own work: an image that happens to be named like ours, wired into Base
        # Color, and an unrelated noise node.
        art = bpy.data.images.new("Bricks_basecolor", 16, 16)
        art.pixels.foreach_set(np.linspace(0, 1, 16 * 16 * 4, dtype=np.float32))
        art_sum = float(pixels(art).sum())
        art_node = nt.nodes.new("ShaderNodeTexImage"); art_node.image = art; art_node.name = "Artist Image"
        art_node.location = (-1234.0, 321.0)
        nt.links.new(art_node.outputs["Color"], bsdf.inputs["Base Color"])
        noise = nt.nodes.new("ShaderNodeTexNoise"); noise.name = "Artist Noise"

        mo.apply_outputs(mat, OUTPUTS, storage="PACK", height_mode="BUMP", ao_strength=0.5)
        RESULT["first"] = describe_tree(mat)
        RESULT["images"] = describe_images()
        ours = {{m: mo.find_our_image(mat, m) for m in OUTPUTS}}
        RESULT["our_names"] = {{m: im.name for m, im in ours.items()}}
        h = pixels(ours["height"])
        RESULT["height_err"] = float(np.abs(h[..., 0] - np.load(WORK + "/../worker_out/height16.npy") / 65535.0).max())
        b = pixels(ours["basecolor"])
        RESULT["base_err"] = float(np.abs(b[..., :3] - np.load(WORK + "/../worker_out/base8.npy") / 255.0).max())
        RESULT["ao_factor"] = nt.nodes["Texture Forge AO Multiply"].inputs[0].default_value

        # Regenerate: same nodes, updated in place; an artist's tweak to our bump is kept.
        nt.nodes["Texture Forge Bump"].inputs["Strength"].default_value = 0.123
        n_images = len(bpy.data.images)
        mo.apply_outputs(mat, OUTPUTS, storage="PACK", height_mode="BUMP", ao_strength=0.5)
        RESULT["second"] = describe_tree(mat)
        RESULT["images_added_on_regenerate"] = len(bpy.data.images) - n_images
        RESULT["bump_strength_kept"] = nt.nodes["Texture Forge Bump"].inputs["Strength"].default_value

        mo.apply_outputs(mat, OUTPUTS, storage="PACK", height_mode="DISPLACEMENT", ao_strength=0.5)
        RESULT["displacement"] = describe_tree(mat)
        RESULT["displacement_method"] = mat.displacement_method

        sub = {{k: OUTPUTS[k] for k in ("basecolor", "roughness")}}
        mo.apply_outputs(mat, sub, storage="PACK")
        RESULT["fewer_maps"] = describe_tree(mat)

        RESULT["art_sum_before"] = art_sum
        RESULT["art_sum_after"] = float(pixels(art).sum())
        RESULT["art_node"] = [art_node.image.name, list(art_node.location)]

        # Saved .blend: files in //textures/<blend name>/, byte-exact copies (16-bit height stays 16-bit).
        bpy.ops.wm.save_as_mainfile(filepath=WORK + "/scene.blend")
        mat = bpy.data.materials["Bricks"]
        mo.apply_outputs(mat, OUTPUTS, storage="AUTO")
        RESULT["saved_images"] = describe_images()
        RESULT["artist_image_after_save"] = art.name
        RESULT["saved_height_err"] = float(np.abs(pixels(mo.find_our_image(mat, "height"))[..., 0]
                                                 - np.load(WORK + "/../worker_out/height16.npy") / 65535.0).max())
        RESULT["textures_dir"] = sorted(os.listdir(WORK + "/textures/scene"))
    '''
    return harness.run_scenario(body, zip_path, work / "run")


def _links(tree: dict) -> set[str]:
    return set(tree["links"])


def test_images_named_tagged_and_colour_managed(result: dict) -> None:
    names = result["our_names"]
    assert names["basecolor"] == "Bricks_basecolor.001"  # the artist's image keeps its name
    assert names["roughness"] == "Bricks_roughness" and names["ao"] == "Bricks_ao"
    imgs = result["images"]
    for m, name in names.items():
        info = imgs[name]
        assert info["size"] == [W, H] and info["map"] == m and info["packed"]
        assert info["colorspace"] == ("sRGB" if m == "basecolor" else "Non-Color"), (m, info)
    assert imgs[names["height"]]["float"], "16-bit height must not be squeezed into 8 bits"
    assert result["height_err"] < 1e-4 and result["base_err"] < 1e-3


def test_wiring(result: dict) -> None:
    links = _links(result["first"])
    P = "Principled BSDF"
    assert "Texture Forge Base Colour:Color->Texture Forge AO Multiply:A_Color" in links
    assert "Texture Forge Ambient Occlusion:Color->Texture Forge AO Multiply:B_Color" in links
    assert f"Texture Forge AO Multiply:Result_Color->{P}:Base Color" in links
    assert f"Texture Forge Roughness:Color->{P}:Roughness" in links
    assert "Texture Forge Normal:Color->Texture Forge Normal Map:Color" in links
    assert "Texture Forge Normal Map:Normal->Texture Forge Bump:Normal" in links
    assert "Texture Forge Height:Color->Texture Forge Bump:Height" in links
    assert f"Texture Forge Bump:Normal->{P}:Normal" in links
    nodes = result["first"]["nodes"]
    ours = [n for n, d in nodes.items() if d["role"] and d["role"] != "frame"]
    assert ours and all(nodes[n]["parent"] == "Texture Forge" for n in ours)
    assert abs(result["ao_factor"] - 0.5) < 1e-6


def test_regenerate_updates_in_place(result: dict) -> None:
    assert result["second"] == result["first"]
    assert result["images_added_on_regenerate"] == 0
    assert abs(result["bump_strength_kept"] - 0.123) < 1e-6


def test_displacement_option_and_removing_maps(result: dict) -> None:
    links = _links(result["displacement"])
    assert "Texture Forge Height:Color->Texture Forge Displacement:Height" in links
    assert "Texture Forge Displacement:Displacement->Material Output:Displacement" in links
    assert "Texture Forge Normal Map:Normal->Principled BSDF:Normal" in links
    assert "Texture Forge Bump" not in result["displacement"]["nodes"]
    assert result["displacement_method"] == "BOTH"
    fewer = result["fewer_maps"]
    roles = {d["role"] for d in fewer["nodes"].values() if d["role"]}
    assert roles == {"frame", "tex_basecolor", "tex_roughness", "texcoord", "mapping"}
    assert "Texture Forge Base Colour:Color->Principled BSDF:Base Color" in _links(fewer)
    assert not any("Displacement" in l for l in fewer["links"])


def test_artist_nodes_and_images_survive(result: dict) -> None:
    for tree in ("first", "second", "displacement", "fewer_maps"):
        nodes = result[tree]["nodes"]
        assert nodes["Artist Image"]["image"] == "Bricks_basecolor" and nodes["Artist Image"]["role"] is None
        assert "Artist Noise" in nodes and nodes["Artist Noise"]["parent"] is None
    assert result["art_sum_after"] == result["art_sum_before"]
    assert result["art_node"] == ["Bricks_basecolor", [-1234.0, 321.0]]


def test_saved_blend_writes_textures_folder(result: dict) -> None:
    imgs = result["saved_images"]
    assert imgs["Bricks_basecolor"]["map"] is None and imgs["Bricks_basecolor"]["packed"] is False
    for name in ("Bricks_basecolor.001", "Bricks_height", "Bricks_normal", "Bricks_roughness", "Bricks_ao"):
        info = imgs[name]
        assert info["source"] == "FILE" and not info["packed"], info
        assert info["filepath"].startswith("//textures/scene/") and info["size"] == [W, H]
    assert imgs["Bricks_height"]["colorspace"] == "Non-Color"
    assert "Bricks_height.png" in result["textures_dir"]
    assert result["saved_height_err"] < 1e-4
