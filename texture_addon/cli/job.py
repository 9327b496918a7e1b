"""The CLI's one route to the engine: a :class:`JobSpec` run by :mod:`texture_addon.jobs`, as the
worker and the farm run theirs, with the CLI's own file names and progress line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable

from ..contract.spec import JobSpec, ReferenceSpec
from .common import ProgressPrinter


def check_images(paths: Iterable[str | os.PathLike | None]) -> None:
    """Each input image found and readable as an image of a usable size, from its header only,
    so a bad file is reported in the CLI's words before any compute (and decoded once, later)."""
    from ..references.load import image_size

    for path in paths:
        if path:
            image_size(path)


def references(paths: list[str], weights: list[float]) -> list[ReferenceSpec]:
    return [ReferenceSpec(path=str(p), weight=float(w)) for p, w in zip(paths, weights)]


def in_folder(out: Path, maps: Iterable[str]) -> dict:
    """``output_dir`` and ``file_names`` writing each map as ``<out>/<map>.png``."""
    from ..references.maps import map_filename

    return {"output_dir": str(out), "file_names": {m: map_filename(m) for m in maps}}


def as_file(out: Path) -> dict:
    """``output_dir`` and ``file_names`` writing the basecolor as the file ``out``."""
    return {"output_dir": str(out.parent if str(out.parent) else Path(".")), "file_names": {"basecolor": out.name}}


def run(spec: JobSpec) -> dict[str, Path]:
    """Run ``spec`` with a progress line on stderr; map name → written file."""
    from ..jobs.run import run_job

    return run_job(spec, progress=ProgressPrinter(sys.stderr))


def report_file(out: Path) -> int:
    sys.stderr.write(f"wrote {out}\n")
    return 0


def report_set(written: dict[str, Path], out: Path) -> int:
    sys.stderr.write(f"wrote {', '.join(p.name for p in written.values())} to {out}\n")
    return 0
