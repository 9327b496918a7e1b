"""Job spec: round-trips through JSON, and every malformed spec is refused with precise errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from texture_addon.errors import InputError
from texture_addon.contract.spec import JobSpec, ReferenceSpec, SpecError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ref(tmp_path: Path) -> str:
    p = tmp_path / "ref.png"
    p.write_bytes(b"not checked here, only existence")
    return str(p)


def good(ref: str, out: str = "/tmp/out", **changes) -> JobSpec:
    spec = JobSpec(references=[ReferenceSpec(ref)], output_dir=out, width=128, height=64)
    for k, v in changes.items():
        setattr(spec, k, v)
    return spec


def errors_of(spec: JobSpec, check_files: bool = True) -> list[str]:
    with pytest.raises(SpecError) as info:
        spec.validate(check_files=check_files)
    return info.value.errors


def test_valid_spec_round_trips_through_json(ref):
    spec = good(ref, kind="stylize", content=ref, maps=["basecolor", "height"], strength=0.3, seed=7,
                references=[ReferenceSpec(ref, 2.0), ReferenceSpec(ref, 0.5)])
    spec.validate()
    text = spec.to_json()
    assert json.loads(text)["references"] == [{"path": ref, "weight": 2.0}, {"path": ref, "weight": 0.5}]
    back = JobSpec.from_json(text)
    assert back == spec
    assert isinstance(back.references[0], ReferenceSpec)


def test_spec_error_is_an_input_error_listing_every_problem(ref):
    spec = good(ref, width=5000, height=10, tile="diagonal", quality="ultra", detail_scale=9.0)
    errs = errors_of(spec)
    assert "width: 5000 out of range (64…4096)" in errs
    assert "height: 10 out of range (64…4096)" in errs
    assert any(e.startswith("tile: 'diagonal' is not one of") for e in errs)
    assert any(e.startswith("quality: 'ultra'") for e in errs)
    assert "detail_scale: 9.0 out of range (0.125…8)" in errs
    with pytest.raises(InputError, match="width: 5000"):
        spec.validate()


def test_missing_reference_file_names_its_index_and_path(ref, tmp_path):
    missing = str(tmp_path / "y.png")
    spec = good(ref, references=[ReferenceSpec(ref), ReferenceSpec(missing)])
    assert errors_of(spec) == [f"reference 2: file not found: {missing}"]
    spec.validate(check_files=False)  # structure alone is fine


@pytest.mark.parametrize("kind, changes, expected", [
    ("synth", {"references": []}, "references: synth needs at least one reference image"),
    ("stylize", {"content": None}, "content: stylize needs the content image"),
    ("stylize", {"content": "x.png", "references": []}, "references: stylize needs at least one reference image"),
    ("seamless", {"references": []}, "content: seamless needs the image to make seamless"),
    ("pbr", {"references": []}, "content: pbr needs the albedo image"),
    ("material", {"references": []}, "material: needs at least one map file (basecolor, height, normal, roughness, ao)"),
    ("material", {"material": {"gloss": "g.png"}}, "material: unknown map 'gloss'"),
])
def test_kind_specific_requirements(ref, kind, changes, expected):
    spec = good(ref, kind=kind, **changes)
    errs = errors_of(spec, check_files=False)
    assert any(e.startswith(expected) for e in errs), errs


def test_weights_must_be_non_negative_and_not_all_zero(ref):
    assert "reference 1: weight -1.0 must be a non-negative number" in errors_of(
        good(ref, references=[ReferenceSpec(ref, -1.0), ReferenceSpec(ref, 1.0)]))
    assert "references: weights are all zero (at least one must be positive)" in errors_of(
        good(ref, references=[ReferenceSpec(ref, 0.0), ReferenceSpec(ref, 0.0)]))
    assert any("weight nan" in e for e in errors_of(good(ref, references=[ReferenceSpec(ref, float("nan"))])))


def test_maps_output_dir_name_and_ranges(ref):
    errs = errors_of(good(ref, maps=["basecolor", "gloss", "basecolor"], output_dir="", name="../evil",
                          strength=1.5, band=0.5, seed=-1), check_files=False)
    assert any(e.startswith("maps: unknown map 'gloss'") for e in errs)
    assert "maps: listed more than once: basecolor" in errs
    assert "output_dir: required (the folder the textures are written to)" in errs
    assert any(e.startswith("name: '../evil' is not usable") for e in errs)
    assert "strength: 1.5 out of range (0…1)" in errs
    assert "band: 0.5 out of range (0.02…0.45)" in errs
    assert "seed: -1 out of range (0…4294967295)" in errs
    assert errors_of(good(ref, maps=[]), check_files=False) == ["maps: at least one map is required"]


def test_output_dir_that_is_a_file_is_refused(ref):
    assert errors_of(good(ref, output_dir=ref)) == [f"output_dir: not a folder: {ref}"]


def test_from_dict_refuses_unknown_keys_and_wrong_types(ref):
    data = good(ref).to_dict()
    data.update(colour="red", width="512", preserve_colors="yes", seed=True, maps="basecolor")
    data["references"] = [{"path": ref, "weight": "heavy"}, {"path": ref, "sise": 3}, "plain.png"]
    with pytest.raises(SpecError) as info:
        JobSpec.from_dict(data)
    errs = info.value.errors
    assert "unknown field 'colour'" in errs
    assert "reference 2: unknown field(s) 'sise'" in errs
    assert "reference 3: must be an object with 'path' and 'weight', got string" in errs
    data["references"] = [{"path": ref, "weight": "heavy"}, {"path": ref, "size": 3, "flatten": "yes"}]
    del data["colour"]
    with pytest.raises(SpecError) as info:
        JobSpec.from_dict(data)
    errs = info.value.errors
    assert "width: must be a whole number, got string '512'" in errs
    assert "preserve_colors: must be true or false, got string 'yes'" in errs
    assert "seed: must be a whole number, got boolean True" in errs
    assert "reference 1: weight must be a number, got string" in errs
    assert "reference 2: size must be a string or null, got integer" in errs
    assert "reference 2: flatten must be true or false, got string" in errs
    assert any(e.startswith("maps: must be a list of map names") for e in errs)


def test_from_dict_accepts_whole_numbers_for_floats(ref):
    data = good(ref).to_dict()
    data.update(detail_scale=2, references=[{"path": ref, "weight": 2}])
    spec = JobSpec.from_dict(data)
    assert spec.detail_scale == 2.0 and isinstance(spec.detail_scale, float)
    assert spec.references[0].weight == 2.0 and isinstance(spec.references[0].weight, float)
    spec.validate()


def test_from_json_refuses_garbage():
    with pytest.raises(SpecError, match="not valid JSON"):
        JobSpec.from_json("{width: 5")
    with pytest.raises(SpecError, match="must be a JSON object, got list"):
        JobSpec.from_json("[1, 2]")


def test_validate_catches_wrong_types_set_in_python(ref):
    spec = good(ref)
    spec.width = 512.0  # a Blender FloatProperty by mistake
    assert errors_of(spec) == ["width: must be a whole number, got number 512.0"]


def test_spec_and_client_import_nothing_heavy():
    """Blender imports the contract and the Blender side of the pipe: numpy, PIL and torch must stay out of its process."""
    code = ("import sys, texture_addon.contract, texture_addon.contract.spec, texture_addon.contract.protocol,"
            " texture_addon.worker.blender_side.client;"
            "heavy = sorted(m for m in ('numpy', 'torch', 'PIL', 'bpy') if m in sys.modules);"
            "print(','.join(heavy) or 'clean')")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"
