"""The CLI's commands go through the one job path (jobs/run.py), with the CLI's own file names."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from texture_addon.cli import main
from texture_addon.jobs import run as job_run


@pytest.fixture
def seen(monkeypatch):
    """Every spec the job path computes; the engine replaced by flat maps of the spec's size."""
    specs = []

    def compute(spec, progress, cancel):
        specs.append(spec)
        h, w = (spec.height, spec.width) if spec.width else (64, 64)
        return {m: np.full((h, w, 3) if m in ("basecolor", "normal") else (h, w), 0.5, np.float32)
                for m in spec.written_maps()}

    monkeypatch.setattr(job_run, "_compute_maps", compute)
    return specs


@pytest.fixture
def image(tmp_path):
    p = tmp_path / "ref.png"
    Image.new("RGB", (64, 64), (120, 80, 40)).save(p)
    return str(p)


@pytest.mark.parametrize("argv, kind, files", [
    (["synth", "{ref}", "-o", "{out}/t.png", "--size", "64"], "synth", ["t.png"]),
    (["synth", "{ref}", "--pbr", "-o", "{out}/maps", "--size", "64"], "synth",
     ["maps/ao.png", "maps/basecolor.png", "maps/height.png", "maps/normal.png", "maps/roughness.png"]),
    (["stylize", "{ref}", "--style", "{ref}", "-o", "{out}/s.png"], "stylize", ["s.png"]),
    (["seamless", "{ref}", "-o", "{out}/m.png"], "seamless", ["m.png"]),
    (["pbr", "{ref}", "-o", "{out}/p"], "pbr",
     ["p/ao.png", "p/basecolor.png", "p/height.png", "p/normal.png", "p/roughness.png"]),
    (["synth", "--material", "basecolor={ref}", "height={ref}", "-o", "{out}/mat", "--size", "64"], "material",
     ["mat/basecolor.png", "mat/height.png"]),
])
def test_each_command_runs_a_job_and_writes_the_files_it_names(argv, kind, files, seen, image, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert main([a.format(ref=image, out=out) for a in argv]) == 0
    assert [s.kind for s in seen] == [kind]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == files
