"""Turning one :class:`JobSpec` into texture files: load inputs, call the engine, write outputs.

This is the only worker module that touches numpy and the engine. It knows nothing about pipes,
so the worker process, a headless script or a test can all run a job the same way.

Outputs are all-or-nothing: maps are written into temporary files beside their destination and
renamed into place together only once every map is written (texture_addon/files.py). A cancel or
an error before that point removes them, so neither half a set of maps nor a half-written file is
ever left behind, and an artist's previous textures of the same name stay untouched.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ...contract.spec import JobSpec
from ...engine.progress import CancelToken, ProgressInfo
from ...errors import TextureForgeError
from ...references import write_maps
from .adapters import ADAPTERS

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
    return run_job_detailed(spec, progress, cancel).outputs


def run_job_detailed(spec: JobSpec, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None) -> JobOutcome:
    """:func:`run_job`, also returning each map's seam score (the worker reports them)."""
    spec.validate(check_files=True)
    cancel = cancel or CancelToken()
    cancel.raise_if_cancelled()
    maps = _compute_maps(spec, progress, cancel)
    cancel.raise_if_cancelled()
    scores = _seam_scores(maps, spec.tile)
    outputs = _write_all_or_nothing(maps, Path(spec.output_dir), f"{spec.name}_", cancel)
    return JobOutcome(outputs=outputs, seam_scores=scores)


# ---------------------------------------------------------------------- dispatch per kind

#: Engine functions each kind calls (besides ``derive_maps`` for maps other than basecolor).
KIND_FUNCTIONS = {"synth": ("synthesize", "texture synthesis (kind 'synth')"),
                  "stylize": ("stylize", "style transfer (kind 'stylize')"),
                  "seamless": ("make_seamless", "making an image seamless (kind 'seamless')"),
                  "pbr": ("derive_maps", "deriving PBR maps (kind 'pbr')"),
                  "material": ("synthesize_material", "material synthesis (kind 'material')")}


def _check_engine_supports(engine: Any, spec: JobSpec) -> None:
    """Fail before minutes of synthesis, not after, when this build lacks a function the job needs."""
    name, what = KIND_FUNCTIONS[spec.kind]
    _engine_function(engine, name, what)
    if spec.kind in ("synth", "stylize", "seamless") and any(m != "basecolor" for m in spec.maps):
        _engine_function(engine, "derive_maps", _extra_maps_label(spec))


def _compute_maps(spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> dict[str, np.ndarray]:
    """The job's maps as arrays, through the kind's explicit adapter (see adapters.py)."""
    engine = _engine()
    _check_engine_supports(engine, spec)
    adapter = ADAPTERS.get(spec.kind)
    if adapter is None:  # validate() makes this unreachable
        raise TextureForgeError(f"unknown job kind {spec.kind!r}")
    return adapter(engine, spec, progress, cancel)


def _extra_maps_label(spec: JobSpec) -> str:
    return f"maps other than basecolor ({', '.join(m for m in spec.maps if m != 'basecolor')})"


def _engine() -> Any:
    """Import the engine on first use (torch is heavy; the worker pays it once, at start)."""
    try:
        from ... import engine
    except ImportError as exc:
        raise TextureForgeError(f"the texture engine is not available in this build ({exc})") from exc
    return engine


def _engine_function(engine: Any, name: str, what: str) -> Callable[..., Any]:
    fn = getattr(engine, name, None)
    if fn is None:
        raise TextureForgeError(f"{what} is not available in this build (texture_addon.engine has no {name})")
    return fn


def _seam_scores(maps: Mapping[str, np.ndarray], tile: str) -> dict[str, float]:
    """Seam score of each map along the axes that were asked to tile (both when none were)."""
    try:
        from ...engine import seam_score
    except ImportError:
        return {}
    axis = tile if tile in ("x", "y") else "both"
    scores: dict[str, float] = {}
    for name, arr in maps.items():
        with contextlib.suppress(Exception):  # a score is informative; never fail a finished job on it
            scores[name] = float(seam_score(arr, axis=axis))
    return scores


# ---------------------------------------------------------------------- all-or-nothing writing

def _write_all_or_nothing(maps: Mapping[str, np.ndarray], out_dir: Path, prefix: str,
                          cancel: CancelToken) -> dict[str, Path]:
    """The set, whole or not at all (:func:`~texture_addon.references.write_maps`); a cancel
    before the final renames leaves no file behind."""
    return write_maps(maps, out_dir.expanduser().resolve(), prefix=prefix, check=cancel.raise_if_cancelled)


__all__ = ["run_job", "run_job_detailed", "JobOutcome"]
