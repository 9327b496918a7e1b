"""Maps that describe the surface: albedo without the photo's light, height integrated from shading.

The CLI's ``pbr`` and ``synth --pbr`` use the shading method by default (``--height-from luminance``
gives the heuristic, which test_pbr.py covers through ``derive_maps``' own default). Every photo here is a numpy Lambert render of a known height and albedo under one light from the
upper left (135°) plus ambient sky, so the truth is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from texture_addon.engine import derive_maps

LIGHT = 135.0


def render(height: np.ndarray, albedo: np.ndarray, angle: float = LIGHT, elevation: float = 45.0,
           wrap: bool = False) -> np.ndarray:
    """Lambert shading of ``height`` (px units) lit from ``angle`` (0° right, 90° top) plus sky."""
    if wrap:
        gr = (np.roll(height, -1, 0) - np.roll(height, 1, 0)) / 2
        gc = (np.roll(height, -1, 1) - np.roll(height, 1, 1)) / 2
    else:
        gr, gc = np.gradient(height)
    a, e = np.radians(angle), np.radians(elevation)
    lx, ly, lz = np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)
    nx, ny = -gc, gr                                   # image y points up: ∂h/∂y = −∂h/∂row
    shade = np.clip((nx * lx + ny * ly + lz) / np.sqrt(nx**2 + ny**2 + 1), 0, None)
    return np.clip(albedo * (0.75 * shade + 0.25)[..., None], 0, 1).astype(np.float32)


def dome(side: int = 96, radius: float = 30.0, depth: float = 20.0) -> np.ndarray:
    yy, xx = np.mgrid[0:side, 0:side].astype(float)
    r = np.hypot(yy - side / 2, xx - side / 2)
    return depth * np.sqrt(np.clip(1 - (r / radius) ** 2, 0, None))


def tiles(side: int = 96, cell: int = 24, groove: int = 4, depth: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Raised terracotta tiles between lighter, lower grey grout (bevelled grooves)."""
    yy, xx = np.mgrid[0:side, 0:side].astype(float)
    dist = np.minimum(np.abs((yy % cell) - cell / 2), np.abs((xx % cell) - cell / 2))
    edge = cell / 2 - dist                             # distance to the nearest grout line's centre
    h = depth * np.clip((edge - groove / 2) / 2.0, 0, 1)   # 0 in the grout, depth on the tiles
    grout = edge < groove / 2 + 1
    albedo = np.where(grout[..., None], [0.85, 0.85, 0.82], [0.55, 0.25, 0.15])
    return h, albedo


@pytest.mark.parametrize("colour", [(0.8, 0.3, 0.2), (0.15, 0.2, 0.3), (0.9, 0.9, 0.9)])
@pytest.mark.parametrize("angle", [LIGHT, None])
def test_a_dome_is_recovered_as_a_dome_whatever_its_albedo(colour, angle):
    h = dome()
    maps = derive_maps(render(h, np.array(colour)), tile=False, method="shading", light_angle=angle)
    est = maps["height"]
    inside, ring = h > 10, (h == 0) & (h.shape[0] / 2 - np.hypot(*np.mgrid[-48:48, -48:48]) > -40)
    assert est[inside].mean() > est[ring].mean() + 0.1
    assert np.corrcoef(est.ravel(), h.ravel())[0, 1] > 0.5


def test_grout_lighter_than_tiles_still_comes_out_lower():
    h, albedo = tiles()
    photo = render(h, albedo, wrap=True)
    assert photo[h == 0].mean() > photo[h > 0].mean()      # the grout is the bright part
    est = derive_maps(photo, tile=True, method="shading", light_angle=LIGHT)["height"]
    assert est[h == 0].mean() < est[h == h.max()].mean() - 0.05


def test_a_flat_photo_with_a_colour_pattern_gives_a_flat_height():
    yy, xx = np.mgrid[0:96, 0:96]
    checker = ((yy // 12 + xx // 12) % 2).astype(bool)
    stripes = (xx // 6) % 3 == 0
    albedo = np.where(checker[..., None], [0.7, 0.3, 0.2], [0.2, 0.4, 0.7])
    albedo = np.where(stripes[..., None], [0.3, 0.6, 0.2], albedo)
    est = derive_maps(render(np.zeros((96, 96)), albedo), tile=True, method="shading")["height"]
    assert np.abs(est - 0.5).max() < 0.05


def test_the_base_colour_of_a_shaded_flat_albedo_surface_is_flat():
    h = dome(radius=36) + tiles(depth=2.0)[0]
    photo = render(h, np.array([0.6, 0.45, 0.3]))
    base = derive_maps(photo, tile=False, method="shading")["basecolor"].mean(-1)
    lit = photo.mean(-1)
    assert lit.std() / lit.mean() > 0.1                    # the photo is visibly shaded
    assert base.std() / base.mean() < 0.25 * lit.std() / lit.mean()


def test_tileable_in_tileable_maps_out():
    side = 64
    yy, xx = np.mgrid[0:side, 0:side] * (2 * np.pi / side)
    h = 3 * np.sin(2 * xx + yy) + 2 * np.cos(3 * yy - xx)
    albedo = 0.5 + 0.2 * np.stack([np.sin(xx), np.cos(yy), np.sin(xx + yy)], -1)
    photo = render(h, albedo, wrap=True)
    a = derive_maps(photo, tile=True, method="shading")
    b = derive_maps(np.roll(photo, (17, 29), (0, 1)), tile=True, method="shading")
    for name in a:
        assert np.allclose(np.roll(a[name], (17, 29), (0, 1)), b[name], atol=2e-3), name


def test_cli_light_angle(tmp_path):
    from conftest import run_cli
    from PIL import Image

    h, albedo = tiles()
    src = tmp_path / "tiles.png"
    Image.fromarray((render(h, albedo, wrap=True) * 255).round().astype(np.uint8)).save(src)
    out = tmp_path / "set"
    assert run_cli("pbr", src, "-o", out, "--light-angle", "135").returncode == 0
    from texture_addon.references import load_gray

    est = load_gray(out / "height.png")
    assert est[h == 0].mean() < est[h == h.max()].mean() - 0.05
    assert run_cli("pbr", src, "-o", tmp_path / "back", "--light-angle", "315").returncode == 0
    back = load_gray(tmp_path / "back" / "height.png")   # told the light is opposite: relief flips
    assert back[h == 0].mean() > back[h == h.max()].mean() + 0.05
    bad = run_cli("pbr", src, "-o", tmp_path / "bad", "--light-angle", "left")
    assert bad.returncode == 2 and not (tmp_path / "bad").exists()


def test_the_shading_method_is_opt_in():
    h, albedo = tiles()
    photo = render(h, albedo, wrap=True)
    default = derive_maps(photo, tile=True)
    old = derive_maps(photo, tile=True, method="luminance")
    new = derive_maps(photo, tile=True, method="shading")
    for name in default:
        assert np.array_equal(default[name], old[name]), name
    assert not np.allclose(default["basecolor"], new["basecolor"], atol=0.05)  # only shading divides the light out
    assert default["height"][h == 0].mean() > default["height"][h == h.max()].mean()  # the heuristic: bright grout high


def test_a_light_angle_without_the_shading_method_is_refused():
    from texture_addon.errors import InputError

    with pytest.raises(InputError, match="shading"):
        derive_maps(np.full((16, 16, 3), 0.5), light_angle=LIGHT)
    with pytest.raises(InputError, match="shading"):
        derive_maps(np.full((16, 16, 3), 0.5), method="retinex")


def test_cli_light_angle_auto_and_default(tmp_path):
    from conftest import run_cli
    from PIL import Image

    from texture_addon.references import load_gray

    h, albedo = tiles()
    src = tmp_path / "tiles.png"
    Image.fromarray((render(h, albedo, wrap=True) * 255).round().astype(np.uint8)).save(src)
    assert run_cli("pbr", src, "-o", tmp_path / "auto", "--light-angle", "auto").returncode == 0
    auto = load_gray(tmp_path / "auto" / "height.png")
    assert auto[h == 0].mean() < auto[h == h.max()].mean() - 0.05   # light found, grout low
    assert run_cli("pbr", src, "-o", tmp_path / "plain").returncode == 0
    plain = load_gray(tmp_path / "plain" / "height.png")
    assert np.array_equal(plain, auto)                               # no flag: the shading method, light found
    assert run_cli("pbr", src, "-o", tmp_path / "old", "--height-from", "luminance").returncode == 0
    old = load_gray(tmp_path / "old" / "height.png")
    assert old[h == 0].mean() > old[h == h.max()].mean()            # the heuristic on request: bright grout high
    both = run_cli("pbr", src, "-o", tmp_path / "both", "--height-from", "luminance", "--light-angle", "135")
    assert both.returncode == 2 and "--light-angle" in both.stderr and not (tmp_path / "both").exists()
    for flag in (["--light-angle", "135"], ["--height-from", "luminance"]):
        bad = run_cli("synth", src, "-o", tmp_path / "x.png", *flag)
        assert bad.returncode == 2 and "--pbr" in bad.stderr and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("bad", ["left", True, 720, float("nan"), [135]])
def test_a_bad_light_angle_is_refused_by_the_job_spec_and_the_manifest(bad):
    from texture_addon.contract.manifest import ManifestError, check_entry
    from texture_addon.contract.spec import JobSpec, SpecError

    with pytest.raises(SpecError, match="light_angle"):
        JobSpec(kind="pbr", content="a.png", output_dir="out", light_angle=bad).validate(check_files=False)
    with pytest.raises(ManifestError, match="light_angle"):
        check_entry({"name": "m", "light_angle": bad}, "manifest m")


def test_a_light_angle_reaches_the_engine_through_a_pbr_job(tmp_path):
    from texture_addon.contract.manifest import check_entry
    from texture_addon.contract.spec import JobSpec, SpecError
    from texture_addon import engine
    from texture_addon.engine.progress import CancelToken
    from texture_addon.jobs.adapters import ADAPTERS
    from PIL import Image

    for good in (135, -45.5, "auto", None):
        check_entry({"name": "m", "light_angle": good}, "manifest m")
    with pytest.raises(SpecError, match="light_angle: applies to maps derived from the result"):
        JobSpec(kind="synth", output_dir="out", light_angle=135.0).validate(check_files=False)
    h, albedo = tiles()
    src = tmp_path / "tiles.png"
    Image.fromarray((render(h, albedo, wrap=True) * 255).round().astype(np.uint8)).save(src)
    heights = {}
    for angle in (None, 135.0, "auto"):
        spec = JobSpec(kind="pbr", content=str(src), output_dir=str(tmp_path), width=96, height=96,
                       maps=["height"], light_angle=angle)
        spec.validate()
        heights[angle] = ADAPTERS["pbr"](engine, spec, None, CancelToken())["height"]
    for angle in (135.0, "auto"):                                  # the shading method: grout low
        assert heights[angle][h == 0].mean() < heights[angle][h == h.max()].mean() - 0.05
    assert heights[None][h == 0].mean() > heights[None][h == h.max()].mean()   # unset: the heuristic, as before


def test_a_bake_manifest_takes_a_light_angle_and_refuses_a_bad_one(tmp_path):
    from texture_addon.bake.manifest import UsageError, load_manifest

    manifest = tmp_path / "m.json"
    manifest.write_text('{"materials": [{"name": "Wall", "refs": "a.png", "light_angle": 135}]}')
    assert "135" in repr(load_manifest(str(manifest)))  # kept for the material's Light from setting
    manifest.write_text('{"materials": [{"name": "Wall", "refs": "a.png", "light_angle": "west"}]}')
    with pytest.raises(UsageError, match="light_angle: must be a number"):
        load_manifest(str(manifest))


def test_material_pbr_synthesises_the_photo_s_albedo_and_height_together(tmp_path):
    from conftest import run_cli
    from PIL import Image

    from texture_addon.references import load_gray, load_rgb

    h, albedo = tiles()
    src = tmp_path / "tiles.png"
    Image.fromarray((render(h, albedo, wrap=True) * 255).round().astype(np.uint8)).save(src)
    out = tmp_path / "mat"
    r = run_cli("synth", "--material", f"basecolor={src}", "--pbr", "-o", out, "--size", 64, "--quality", "draft",
                "--light-angle", "135")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ao.png", "basecolor.png", "height.png", "normal.png", "roughness.png"]
    base, height = load_rgb(out / "basecolor.png"), load_gray(out / "height.png")
    grout = (base.max(-1) - base.min(-1)) < 0.15                     # grey grout, terracotta tiles
    assert 0.01 < grout.mean() < 0.7                                 # (draft synthesis keeps little grout)
    assert height[grout].mean() < height[~grout].mean() - 0.1        # aligned: the bright grout lies low
    bad = run_cli("synth", "--material", f"height={src}", "--pbr", "-o", tmp_path / "bad", "--size", 64)
    assert bad.returncode == 2 and "basecolor" in bad.stderr and not (tmp_path / "bad").exists()


def stones(side: int = 96, count: int = 14, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Domed Voronoi stones, each its own colour and brightness, meeting in V-shaped creases."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side].astype(float)
    pts = rng.uniform(0, side, (count, 2))
    d = np.stack([np.hypot(((yy - py + side / 2) % side) - side / 2, ((xx - px + side / 2) % side) - side / 2)
                  for py, px in pts])
    order = np.sort(d, 0)
    h = 8 * np.sqrt(np.clip((order[1] - order[0]) / 16, 0, 1))
    return h, rng.uniform(0.25, 0.8, (count, 3))[d.argmin(0)]


def gradient_cosine(height_map: np.ndarray, normal: np.ndarray, h: np.ndarray) -> float:
    """Cosine of the true height gradient with the one the normal map implies (y up)."""
    from texture_addon.engine.pbr import decode_normals

    n = decode_normals(normal)
    gr = (np.roll(h, -1, 0) - np.roll(h, 1, 0)) / 2
    gc = (np.roll(h, -1, 1) - np.roll(h, 1, 1)) / 2
    true = np.stack([gc, -gr], -1)
    implied = np.stack([-n[..., 0], -n[..., 1]], -1) / n[..., 2:3]
    return float((true * implied).sum() / np.sqrt((true**2).sum() * (implied**2).sum()))


def test_stones_of_different_colours_keep_the_shading_of_their_creases():
    h, albedo = stones()
    photo = render(h, albedo, wrap=True)
    new = derive_maps(photo, tile=True, method="shading")
    old = derive_maps(photo, tile=True, method="luminance")
    cos_new = gradient_cosine(new["height"], new["normal"], h)
    assert cos_new > 0.45 and cos_new > gradient_cosine(old["height"], old["normal"], h) + 0.1
    ratio = new["basecolor"].mean(-1) / albedo.mean(-1)
    shading = photo.mean(-1) / albedo.mean(-1)
    assert abs(np.corrcoef(ratio.ravel(), shading.ravel())[0, 1]) < 0.35   # the light is out of the base colour


def test_ao_comes_from_the_height_not_from_dark_colour():
    yy, xx = np.mgrid[0:96, 0:96]
    spots = (np.hypot((yy % 32) - 16, (xx % 32) - 16) < 6)[..., None]
    albedo = np.where(spots, [0.1, 0.15, 0.35], [0.75, 0.6, 0.4])          # dark blue spots, flat sheet
    flat = derive_maps(render(np.zeros((96, 96)), albedo), tile=True, method="shading")
    assert flat["ao"][spots[..., 0]].mean() > 0.93                          # no relief, (almost) no cavities
    heuristic = derive_maps(render(np.zeros((96, 96)), albedo), tile=True, method="luminance")
    assert heuristic["ao"][spots[..., 0]].mean() < 0.5                      # the heuristic: dark is a cavity
    h = -dome(radius=20, depth=10)                                          # a dent in a plain sheet
    dent = derive_maps(render(h, np.array([0.6, 0.6, 0.6])), tile=False, method="shading")
    inside = h < -7
    assert dent["ao"][inside].mean() < dent["ao"][h == 0].mean() - 0.1
    rough = dent["roughness"]
    assert rough[inside].mean() > rough[h == 0].mean() + 0.1               # low is rough


@pytest.mark.full
def test_the_cycles_truth_render_agrees_with_the_lambert_model(tmp_path):
    """The benchmark's Cycles cases (scripts/maps_truth_blender.py) light a bump of the true height
    from the stated side: a matte dome renders as the numpy Lambert model says, lit side and all."""
    import subprocess
    from pathlib import Path

    from real_blender import blender

    h = dome(side=48, radius=16, depth=8)
    albedo = np.broadcast_to([0.6, 0.5, 0.4], (48, 48, 3)).astype(np.float32)
    src, out = tmp_path / "in.npz", tmp_path / "out.npy"
    np.savez(src, height=h.astype(np.float32), albedo=albedo, roughness=np.ones((48, 48), np.float32),
             light=np.array([LIGHT, 45.0]))
    script = Path(__file__).parents[1] / "scripts" / "maps_truth_blender.py"
    run = subprocess.run([blender(), "-b", "--factory-startup", "--python-exit-code", "1", "-P", str(script), "--",
                          str(src), str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    photo = np.load(out)
    assert photo.shape == (48, 48, 3)
    expected = render(h, albedo)
    assert np.corrcoef(photo.mean(-1).ravel(), expected.mean(-1).ravel())[0, 1] > 0.9
    upper_left, lower_right = (slice(14, 22), slice(14, 22)), (slice(26, 34), slice(26, 34))
    assert photo[upper_left].mean() > photo[lower_right].mean() + 0.1      # lit from the upper left
    assert abs(photo[:6, :6].mean() - expected[:6, :6].mean()) < 0.05     # flat: 0.75 sin 45° + 0.25, × albedo
