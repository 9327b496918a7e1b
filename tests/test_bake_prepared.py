"""Manifest references written as tables are prepared (straighten → heal → flatten) before baking."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_bake import MAPS, ROOT, bake

import bpy  # noqa: F401,E402  (pinned in requirements.txt; a missing bpy must fail, not skip)

pytestmark = pytest.mark.blender


@pytest.fixture()
def photo(tmp_path: Path) -> tuple[Path, Path]:
    """Stones lit by a ramp, a magenta blot on them, and the blot's mask."""
    img = np.asarray(Image.open(ROOT / "examples" / "stones.png").convert("RGB"), np.float32)[:96, :96] / 255
    img = img * np.linspace(0.4, 1.0, 96)[None, :, None]
    mask = np.zeros((96, 96), bool)
    mask[30:44, 40:56] = True
    img[mask] = [1.0, 0.0, 1.0]
    Image.fromarray((img * 255).round().astype(np.uint8)).save(tmp_path / "photo.png")
    Image.fromarray((mask * 255).astype(np.uint8), "L").save(tmp_path / "mask.png")
    return tmp_path / "photo.png", tmp_path / "mask.png"


def manifest(tmp_path: Path, ref: dict) -> Path:
    path = tmp_path / "farm.json"
    path.write_text(json.dumps({"defaults": {"size": 64, "quality": "draft", "maps": MAPS},
                                "materials": [{"name": "Wall", "refs": [ref]}]}))
    return path


def test_a_table_reference_is_prepared_and_baked_from(tmp_path, photo):
    src, mask = photo
    m = manifest(tmp_path, {"path": "photo.png", "flatten": True, "mask": "mask.png"})  # relative to the manifest
    proc, summary = bake("--manifest", m, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary["materials"][0]["status"] == "baked"
    prepared = tmp_path / "out" / "prepared" / "Wall_1.png"
    direct = tmp_path / "direct.png"
    run = subprocess.run([sys.executable, "-m", "texture_addon", "prepare", str(src), "-o", str(direct),
                          "--flatten", "--heal-mask", str(mask)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    got, want = (np.asarray(Image.open(p).convert("RGB")) for p in (prepared, direct))
    assert np.array_equal(got, want)  # the CLI's own steps
    magenta = (np.minimum(got[..., 0], got[..., 2]).astype(int) - got[..., 1]) > 90
    assert not magenta.any()  # healed before baking
    assert sorted(p.name for p in (tmp_path / "out" / "prepared").iterdir()) == ["Wall_1.png"]  # no scratch left


def test_a_refused_table_reference_stops_the_bake_with_nothing_written(tmp_path, photo):
    m = manifest(tmp_path, {"path": "photo.png", "corners": [0, 0, 500, 0, 500, 90, 0, 90]})
    proc, summary = bake("--manifest", m, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "'Wall'" in summary["error"] and "photo.png" in summary["error"] and "corner" in summary["error"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("ref, message", [
    ({"path": "photo.png", "flaten": True}, "did you mean 'flatten'"),
    ({"path": "photo.png", "corners": [1, 2, 3]}, "'corners' must be 8 numbers"),
    ({"corners": "1,2,3,4,5,6,7,8"}, "'path' must be"),
    ({"path": "photo.png", "flatten": "yes"}, "'flatten' must be true or false"),
])
def test_bad_reference_tables_are_usage_errors(tmp_path, photo, ref, message):
    proc, summary = bake("--manifest", manifest(tmp_path, ref), "--out", tmp_path / "out", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and message in summary["error"], summary
