"""Per-kind adapters: every field a kind reads reaches the engine, and nothing is silently ignored.

The engine is replaced by a recorder (the real engine is exercised by the worker-process tests):
for each kind and each field the contract says it reads, the test changes that one field and
requires the engine call (or the adapter's result) to change too. An adapter that drops a field,
or maps two of its values to the same engine argument (``bool("none")`` is True), fails here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types

import numpy as np
import pytest
from PIL import Image

from texture_addon.contract.spec import (COMMON_FIELDS, KIND_FIELDS, KINDS, JobSpec, ReferenceSpec,
                                         SpecError)
from texture_addon.engine.progress import CancelToken
from texture_addon.jobs import adapters


def _digest(value):
    if isinstance(value, np.ndarray):
        return ("array", value.shape, hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest()[:12])
    if isinstance(value, dict):
        return tuple(sorted((k, _digest(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_digest(v) for v in value)
    if callable(value) or isinstance(value, CancelToken):
        return type(value).__name__
    return value


class RecordingEngine(types.SimpleNamespace):
    """Stands in for texture_addon.engine: records every call, returns arrays shaped as the real one."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list = []

    def _record(self, name, args, kwargs):
        self.calls.append((name, _digest(list(args)), _digest(kwargs)))

    def synthesize(self, refs, weights, **kw):
        self._record("synthesize", (refs, weights), kw)
        return np.full((kw["height"], kw["width"], 3), 0.5, np.float32)

    def stylize(self, content, styles, weights, **kw):
        self._record("stylize", (content, styles, weights), kw)
        h, w = content.shape[:2]
        scale = kw["size"] / max(h, w)
        return np.full((round(h * scale), round(w * scale), 3), 0.5, np.float32)

    def make_seamless(self, image, **kw):
        self._record("make_seamless", (image,), kw)
        return image

    def derive_maps(self, albedo, **kw):
        self._record("derive_maps", (albedo,), kw)
        h, w = albedo.shape[:2]
        out = {"basecolor": albedo, "normal": np.full((h, w, 3), 0.5, np.float32)}
        out.update({m: np.full((h, w), 0.5, np.float32) for m in ("height", "roughness", "ao")})
        return {m: out[m] for m in kw["maps"]}

    def synthesize_material(self, maps, **kw):
        self._record("synthesize_material", (maps,), kw)
        return {m: np.full((kw["height"], kw["width"]) + a.shape[2:], 0.5, np.float32) for m, a in maps.items()}

    def heal(self, image, mask, **kw):
        self._record("heal", (image, mask), kw)
        return image


@pytest.fixture
def images(tmp_path):
    paths = []
    for i, colour in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200)]):
        p = tmp_path / f"img{i}.png"
        light = np.linspace(0.5, 1.0, 48)[None, :, None]  # uneven light, so flatten changes the image
        Image.fromarray((np.array(colour)[None, None] * light * np.ones((32, 1, 1))).astype(np.uint8)).save(p)
        paths.append(str(p))
    for i, box in enumerate([(4, 4, 12, 12), (30, 10, 40, 20)]):  # heal masks: images[3], images[4]
        mask = Image.new("L", (48, 32), 0)
        mask.paste(255, box)
        p = tmp_path / f"mask{i}.png"
        mask.save(p)
        paths.append(str(p))
    return paths


def base_spec(kind: str, images: list[str], out: str) -> JobSpec:
    spec = JobSpec(kind=kind, output_dir=out)
    if kind != "heal":  # a heal keeps the image's size
        spec.width = spec.height = 64
    if kind in ("synth", "stylize"):
        spec.references = [ReferenceSpec(images[0])]
    if kind in ("stylize", "seamless", "pbr", "heal"):
        spec.content = images[1]
    if kind == "heal":
        spec.mask = images[3]
    if kind == "material":
        spec.material = {"basecolor": images[0]}
        spec.from_photo = True  # so that light_angle is read
    if kind in ("synth", "stylize", "seamless"):
        spec.maps = ["basecolor", "height"]  # so that light_angle reaches the derived maps
    return spec


def changes(kind: str, images: list[str]) -> dict:
    """One different (valid) value for every field a kind may read."""
    return {
        "references": [ReferenceSpec(images[0], 1.0), ReferenceSpec(images[2], 0.5)],
        "content": images[2],
        "width": 96, "height": 80, "seed": 5,
        "tile": "none" if kind == "stylize" else "x",
        "detail_scale": 2.0, "quality": "draft", "vgg_weights": "/weights/vgg19.pth",
        "strength": 0.3, "preserve_colors": True, "band": 0.3,
        "maps": ["basecolor", "normal"] if kind != "pbr" else ["basecolor", "height"],
        "material": {"basecolor": images[0], "height": images[2]},
        "device": "cpu", "light_angle": 135.0,
        "method": "patch" if kind in ("seamless", "material") else "cnn",
        "flatten": True, "cnn_loss": "gram", "from_photo": kind != "material",
        "height_detail": 0.8, "height_contrast": 2.0, "invert_height": True, "normal_strength": 0.5,
        "normal_convention": "directx", "roughness_range": [0.1, 0.6],
        "mask": images[4],
    }


def run_adapter(spec: JobSpec):
    spec.validate(check_files=False)
    engine = RecordingEngine()
    maps = adapters.ADAPTERS[spec.kind](engine, spec, None, CancelToken())
    return engine.calls, _digest(maps)


def test_every_kind_has_an_adapter():
    assert set(adapters.ADAPTERS) == set(KINDS) == set(KIND_FIELDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_field_a_kind_reads_changes_the_engine_call(kind, images, tmp_path):
    fields = list(KIND_FIELDS[kind])
    table = changes(kind, images)
    assert set(fields) <= set(table), "a field of the contract has no test value"
    before = run_adapter(base_spec(kind, images, str(tmp_path)))
    dropped = []
    for name in fields:
        spec = base_spec(kind, images, str(tmp_path))
        setattr(spec, name, table[name])
        if run_adapter(spec) == before:
            dropped.append(name)
    assert dropped == [], f"the {kind} adapter ignores {dropped}"


def test_stylize_passes_size_and_both_tile_modes(images, tmp_path):
    """Issue 12 item 4: Size and Tiling from Blender reached the engine as nothing / both-ways."""
    spec = base_spec("stylize", images, str(tmp_path))
    spec.width, spec.height, spec.tile = 128, 96, "none"
    calls, _ = run_adapter(spec)
    kwargs = dict(calls[0][2])
    assert kwargs["size"] == 128 and kwargs["tile"] is False
    spec.tile = "both"
    assert dict(run_adapter(spec)[0][0][2])["tile"] is True


def test_stylize_refuses_one_axis_tiling_it_cannot_do(images, tmp_path):
    spec = base_spec("stylize", images, str(tmp_path))
    spec.tile = "x"
    with pytest.raises(SpecError, match=r"tile: kind 'stylize' tiles 'both' or 'none' only, not 'x'"):
        spec.validate(check_files=False)


@pytest.mark.parametrize("kind", KINDS)
def test_a_value_the_kind_would_ignore_is_refused(kind, images, tmp_path):
    table = changes(kind, images)
    unused = [f.name for f in dataclasses.fields(JobSpec)
              if f.name not in KIND_FIELDS[kind] + COMMON_FIELDS and f.name in table]
    assert unused, kind
    for name in unused:
        spec = base_spec(kind, images, str(tmp_path))
        setattr(spec, name, table[name])
        with pytest.raises(SpecError, match=rf"{name}: kind '{kind}' does not use it"):
            spec.validate(check_files=False)


def test_seamless_and_pbr_results_have_the_requested_size(images, tmp_path):
    for kind in ("seamless", "pbr"):
        spec = base_spec(kind, images, str(tmp_path))
        spec.width, spec.height, spec.maps = 80, 72, ["basecolor", "height"]
        spec.validate(check_files=False)
        maps = adapters.ADAPTERS[kind](RecordingEngine(), spec, None, CancelToken())
        assert {m: a.shape[:2] for m, a in maps.items()} == {"basecolor": (72, 80), "height": (72, 80)}, kind


def test_stylize_through_the_real_engine_honours_size(images, tmp_path):
    """The same, end to end: the file written has the requested longer side (Size from Blender)."""
    from texture_addon.jobs.run import run_job

    spec = base_spec("stylize", images, str(tmp_path / "out"))
    spec.width = spec.height = 96
    spec.tile, spec.quality, spec.strength = "none", "draft", 0.5
    outputs = run_job(spec)
    with Image.open(outputs["basecolor"]) as img:
        assert max(img.size) == 96 and img.size[0] > img.size[1]  # the 48×32 content's aspect kept


def test_a_prepared_reference_reaches_the_engine_prepared(images, tmp_path):
    """corners/flatten/mask on a reference: the engine gets what ``prepare`` makes of the photo."""
    from texture_addon.references.prepare import prepare_table

    ramp = tmp_path / "ramp.png"
    Image.fromarray((np.linspace(60, 200, 48)[None, :, None].repeat(32, 0).repeat(3, 2)).astype(np.uint8)).save(ramp)
    plain = base_spec("synth", images, str(tmp_path))
    plain.references = [ReferenceSpec(str(ramp))]
    prepared = base_spec("synth", images, str(tmp_path))
    prepared.references = [ReferenceSpec(str(ramp), corners=[2, 2, 46, 3, 45, 30, 3, 29], flatten=True)]
    assert run_adapter(plain) != run_adapter(prepared)
    calls, _ = run_adapter(prepared)
    want = prepare_table({"path": str(ramp), "corners": [2, 2, 46, 3, 45, 30, 3, 29], "flatten": True})
    assert calls[0][1][0] == (_digest(want),)
    assert np.ptp(want[..., 0]) < 0.5 * np.ptp(np.linspace(60, 200, 48) / 255)  # the ramp evened out


def test_a_bad_prepared_reference_is_refused_before_any_work(images, tmp_path):
    spec = base_spec("synth", images, str(tmp_path))
    spec.references = [ReferenceSpec(images[0], corners=[1, 2, 3])]
    with pytest.raises(SpecError, match=r"reference 1: 'corners' must be 8 numbers"):
        spec.validate(check_files=False)
    spec.references = [ReferenceSpec(images[0], mask=str(tmp_path / "gone.png"))]
    with pytest.raises(SpecError, match=r"reference 1: mask file not found"):
        spec.validate(check_files=True)
    again = JobSpec.from_json(base_spec("synth", images, str(tmp_path)).to_json())
    assert again.references == [ReferenceSpec(images[0])]
    table = dict(path=images[0], weight=0.5, corners=[0, 0, 48, 0, 48, 32, 0, 32], size="40x30", flatten=True,
                 mask=images[3])
    assert JobSpec.from_dict({"kind": "synth", "output_dir": "o", "references": [table]}).references[0].preparation() == \
        {k: v for k, v in table.items() if k != "weight"}


def test_heal_through_the_real_engine_changes_only_the_masked_pixels(images, tmp_path):
    from texture_addon.jobs.run import run_job
    from texture_addon.references import load_rgb

    rng = np.random.RandomState(0)
    noisy = tmp_path / "noisy.png"
    Image.fromarray((rng.rand(32, 48, 3) * 255).astype(np.uint8)).save(noisy)
    spec = JobSpec(kind="heal", content=str(noisy), mask=images[3], output_dir=str(tmp_path / "out"),
                   quality="draft")
    out = load_rgb(run_job(spec)["basecolor"])
    src = load_rgb(noisy)
    mask = np.asarray(Image.open(images[3])) > 127
    assert np.array_equal(out[~mask], src[~mask]) and not np.array_equal(out[mask], src[mask])
    spec.mask = images[0]  # a red image: selects nothing
    with pytest.raises(Exception, match="selects nothing"):
        run_job(spec)


class DerivingEngine(RecordingEngine):
    """The recorder, with a shaded dome as every synthesised image and the real ``derive_maps``."""

    def synthesize(self, refs, weights, **kw):
        from test_maps import dome, render

        self._record("synthesize", (refs, weights), kw)
        return render(dome(kw["height"], radius=20, depth=12), np.array([0.8, 0.4, 0.2]), wrap=True)

    def derive_maps(self, albedo, **kw):
        from texture_addon.engine import derive_maps

        self._record("derive_maps", (albedo,), kw)
        return derive_maps(albedo, **kw)


@pytest.mark.parametrize("light_angle", [135.0, "auto"])
def test_derived_maps_of_a_synth_follow_its_light_angle(light_angle, images, tmp_path):
    """Issue 32: a synth with maps derives them by the shading method its light angle asks for, and
    its base colour is the split's albedo (as ``synth --pbr`` writes), not the shaded image."""
    from texture_addon.engine import derive_maps

    spec = base_spec("synth", images, str(tmp_path))
    spec.maps = ["basecolor", "height", "normal"]
    spec.light_angle = light_angle
    spec.validate(check_files=False)
    engine = DerivingEngine()
    maps = adapters.ADAPTERS["synth"](engine, spec, None, CancelToken())
    image = engine.synthesize([], [], width=64, height=64)
    told = derive_maps(image, maps=spec.maps, tile="both", method="shading",
                       light_angle=None if light_angle == "auto" else light_angle)
    heuristic = derive_maps(image, maps=spec.maps, tile="both")
    for name in spec.maps:
        np.testing.assert_array_equal(maps[name], told[name], err_msg=name)
    assert np.abs(maps["height"] - heuristic["height"]).max() > 0.1
    assert np.abs(maps["basecolor"] - image).max() > 0.05  # the dome's light is out of the colour

    spec.light_angle = None  # the heuristic: its height, and the image itself as base colour
    maps = adapters.ADAPTERS["synth"](DerivingEngine(), spec, None, CancelToken())
    np.testing.assert_array_equal(maps["height"], heuristic["height"])
    np.testing.assert_array_equal(maps["basecolor"], image)


@pytest.mark.parametrize("kind", ["synth", "stylize", "seamless"])
def test_a_light_angle_without_a_derived_map_is_refused(kind, images, tmp_path):
    spec = base_spec(kind, images, str(tmp_path))
    spec.maps, spec.light_angle = ["basecolor"], 135.0
    with pytest.raises(SpecError, match=r"light_angle: applies to maps derived from the result"):
        spec.validate(check_files=False)
    spec.light_angle = None
    spec.validate(check_files=False)
