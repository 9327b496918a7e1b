"""Manifest variants (``seeds``/``sizes``) and the farm progress display, without a cluster."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import folder

from texture_addon.bake.dask_bake import Progress
from texture_addon.bake.variants import VariantError, expand_variants, variant_name

ROOT = Path(__file__).resolve().parents[1]
BAKE = ROOT / "scripts" / "bake.py"


def test_variant_names():
    assert variant_name("Bricks", 2, None) == "Bricks_seed2"
    assert variant_name("Bricks", None, (1024, 1024)) == "Bricks_1024px"
    assert variant_name("Bricks", None, (2048, 1024)) == "Bricks_2048x1024px"
    assert variant_name("Bricks", 3, (512, 512)) == "Bricks_seed3_512px"


def test_expand_seeds_times_sizes_keeps_other_settings():
    out = expand_variants([{"name": "B", "refs": ["b.png"], "quality": "high", "seeds": [1, 2],
                            "sizes": [1024, "2048x1024"]},
                           {"name": "Plain", "refs": ["p.png"], "seed": 5}])
    assert [e["name"] for e in out] == ["B_seed1_1024px", "B_seed1_2048x1024px",
                                        "B_seed2_1024px", "B_seed2_2048x1024px", "Plain"]
    assert out[1]["seed"] == 1 and out[1]["size"] == (2048, 1024) and out[1]["quality"] == "high"
    assert all(e["variant_of"] == "B" and "seeds" not in e and "sizes" not in e for e in out[:4])
    assert out[4] == {"name": "Plain", "refs": ["p.png"], "seed": 5}


@pytest.mark.parametrize("entry, message", [
    ({"seeds": []}, "non-empty list"),
    ({"seeds": 3}, "non-empty list"),
    ({"seeds": [1, 1]}, "more than once"),
    ({"seeds": [-1]}, "seed -1"),
    ({"sizes": [32]}, "64-4096"),
    ({"sizes": ["big"]}, "invalid size"),
])
def test_bad_variant_lists(entry, message):
    with pytest.raises(VariantError, match=message):
        expand_variants([{"name": "B", **entry}])


def test_variant_name_clash_is_an_error():
    with pytest.raises(VariantError, match="B_seed1"):
        expand_variants([{"name": "B", "seeds": [1]}, {"name": "B_seed1"}])


def test_progress_bar_on_a_terminal_plain_lines_otherwise():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    p = Progress(2, stream=tty)
    p.update({"name": "A", "status": "baked", "worker": "tcp://w:1", "seconds": 1.0})
    p.update({"name": "B", "status": "failed", "worker": None, "seconds": 0.5, "error": "bad"})
    text = tty.getvalue()
    assert "\r" in text and "[" + "#" * 30 + "] 2/2 (1 failed)" in text and text.endswith("\n")
    lines: list[str] = []
    p = Progress(2, stream=io.StringIO(), log=lines.append)
    p.update({"name": "A", "status": "baked", "worker": "tcp://w:1", "seconds": 1.0})
    assert lines == ["[A] baked on tcp://w:1 in 1.0 s (1/2)"]


@pytest.mark.blender
@pytest.mark.full  # a farm's variants baked end to end: full tier (tests/conftest.py)
def test_size_variants_bake_locally_with_jobs(tmp_path):
    manifest = tmp_path / "sizes.toml"
    manifest.write_text(f'''
[defaults]
quality = "draft"
maps = ["basecolor"]

[[materials]]
name = "S"
refs = ["{ROOT / 'examples' / 'stones.png'}"]
sizes = [64, 96]
''')
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONNOUSERSITE="1")
    proc = subprocess.run([sys.executable, str(BAKE), "--manifest", str(manifest), "--jobs", "2",
                           "--out", str(tmp_path / "out")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert [m["name"] for m in summary["materials"]] == ["S_64px", "S_96px"]
    from PIL import Image
    for m, side in zip(summary["materials"], (64, 96)):
        assert m["status"] == "baked"
        path = Path(m["outputs"]["basecolor"])
        assert path == tmp_path / "out" / folder(m["name"]) / f"{m['name']}_basecolor.png"
        assert Image.open(path).size == (side, side)


@pytest.mark.blender
def test_malformed_variants_exit_2(tmp_path):
    manifest = tmp_path / "bad.toml"
    manifest.write_text(f'[[materials]]\nname = "S"\nrefs = ["{ROOT / "examples" / "stones.png"}"]\n'
                        'seeds = "many"\n')
    proc = subprocess.run([sys.executable, str(BAKE), "--manifest", str(manifest)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["ok"] is False  # the summary is printed on every failure
    lines = [l for l in proc.stderr.splitlines() if l.startswith("bake.py: error:")]
    assert len(lines) == 1 and "'seeds' must be a non-empty list" in lines[0], proc.stderr


def test_old_farm_module_paths_are_the_bake_packages_modules():
    """Farms whose scripts name ``texture_addon.farm.dask_bake`` keep working after the move."""
    import importlib

    from texture_addon.bake import dask_bake, variants

    assert importlib.import_module("texture_addon.farm.dask_bake") is dask_bake
    assert importlib.import_module("texture_addon.farm.variants") is variants
    assert importlib.import_module(dask_bake.TASK_MODULE) is dask_bake
