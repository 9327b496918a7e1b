"""Turning one :class:`JobSpec` into texture files: load inputs, call the engine, write outputs.

The one route from a job to the engine: the engine process (``worker/engine_side/server.py``)
and the farm's Dask task (``bake/dask_bake.py``) both call :func:`run_job_detailed`. It knows
nothing about pipes, so a headless script or a test can run a job the same way. The spec is
validated here, at the engine's side of the process boundary, once.

Outputs are all-or-nothing: maps are written into temporary files beside their destination and
renamed into place together only once every map is written (texture_addon/files.py). A cancel or
an error before that point removes them, so neither half a set of maps nor a half-written file is
ever left behind, and an artist's previous textures of the same name stay untouched.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from ..contract.spec import JobSpec
from ..engine.progress import CancelToken, ProgressInfo
from ..errors import TextureForgeError
from ..references import write_maps
from .adapters import ADAPTERS
from .engine_api import load_engine

ProgressCallback = Callable[[ProgressInfo], None]


@dataclass
class JobOutcome:
    """What a finished job produced: map name → absolute file path, and how well each map tiles."""

    outputs: dict[str, Path]
    seam_scores: dict[str, float] = field(default_factory=dict)


def run_job(spec: JobSpec, progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> dict[str, Path]:
    """Run ``spec`` to completion and return map name → written file.

    Raises :class:`~texture_addon.contract.spec.SpecError` / ``InputError`` for bad inputs,
    :class:`~texture_addon.errors.Cancelled` when ``cancel`` fires (leaving no outputs), and
    :class:`TextureForgeError` for kinds this build's engine cannot do yet.
    """
    return _run(spec, progress, cancel, scores=False).outputs


def run_job_detailed(spec: JobSpec, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None) -> JobOutcome:
    """:func:`run_job`, also returning each map's seam score (the worker reports them)."""
    return _run(spec, progress, cancel, scores=True)


def _run(spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken | None, scores: bool) -> JobOutcome:
    spec.validate(check_files=True)
    cancel = cancel or CancelToken()
    cancel.raise_if_cancelled()
    maps = _compute_maps(spec, progress, cancel)
    cancel.raise_if_cancelled()
    seam_scores = _seam_scores(maps, spec.tile) if scores else {}
    outputs = _write_all_or_nothing(maps, Path(spec.output_dir), f"{spec.name}_", cancel, spec.file_names or None)
    return JobOutcome(outputs=outputs, seam_scores=seam_scores)


# ---------------------------------------------------------------------- dispatch per kind

def _compute_maps(spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> dict[str, np.ndarray]:
    """The job's maps as arrays, through the kind's explicit adapter (see adapters.py)."""
    engine = load_engine(spec)
    adapter = ADAPTERS.get(spec.kind)
    if adapter is None:  # validate() makes this unreachable
        raise TextureForgeError(f"unknown job kind {spec.kind!r}")
    return adapter(engine, spec, progress, cancel)


def _seam_scores(maps: Mapping[str, np.ndarray], tile: str) -> dict[str, float]:
    """Seam score of each map along the axes that were asked to tile (both when none were)."""
    try:
        from ..engine import seam_score
    except ImportError:
        return {}
    axis = tile if tile in ("x", "y") else "both"
    scores: dict[str, float] = {}
    for name, arr in maps.items():
        with contextlib.suppress(Exception):  # a score is informative; never fail a finished job on it
            scores[name] = float(seam_score(arr, axis=axis))
    return scores


# ---------------------------------------------------------------------- all-or-nothing writing

def _write_all_or_nothing(maps: Mapping[str, np.ndarray], out_dir: Path, prefix: str, cancel: CancelToken,
                          file_names: Mapping[str, str] | None = None) -> dict[str, Path]:
    """The set, whole or not at all (:func:`~texture_addon.references.write_maps`), named
    ``<prefix><map>.png`` or by ``file_names``; a cancel before the final renames leaves no file behind."""
    return write_maps(maps, out_dir.expanduser().resolve(), prefix=prefix, check=cancel.raise_if_cancelled,
                      file_names=file_names)


__all__ = ["run_job", "run_job_detailed", "JobOutcome"]
