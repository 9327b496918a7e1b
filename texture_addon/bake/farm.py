"""The Blender side of baking on a Dask cluster (``scripts/bake.py --scheduler``): the submitting loop.

Here, in the submitting process, each material becomes a job dict (its spec, output folder and
hash, exactly as the local batch computes them, so a set baked on the farm is up to date for a
local run and the other way round); the tasks run on the workers (:mod:`texture_addon.bake.
dask_bake`), and each finished set is wired into its material here, in the main thread, as it
arrives. The caller saves the .blend once at the end.

A task names its function by module and attribute in the top-level package ``texture_addon``
(whatever name the add-on was loaded under here, e.g. ``texture_forge`` or ``bl_ext.…``): that is
the name a worker imports it by, with the repository (or an installed copy) on its
``PYTHONPATH``. The scheduler never imports it (:func:`texture_addon.bake.dask_bake.task_by_name`).
"""

from __future__ import annotations

import os
import time
import uuid
from types import ModuleType
from typing import TYPE_CHECKING, Callable, NamedTuple, Sequence

import bpy

from ..contract.spec import SpecError
from ..errors import error_text
from ..blender import material_output
from ..blender.job_spec import build_material_spec
from .batch import engine_version, material_folder, spec_digest

if TYPE_CHECKING:
    import distributed

Log = Callable[[str], None]


def farm_module() -> ModuleType:
    """This add-on's own ``bake.dask_bake``, under whatever name the add-on was loaded.

    Only the workers import it as ``texture_addon.bake.dask_bake`` (tasks name it so); the
    submitting side needs no second copy under that name and leaves ``sys.path`` alone.
    """
    from . import dask_bake

    return dask_bake


def _job_for(mat: bpy.types.Material, out_dir: str, engine: dict, device: str, storage: str | None,
             force: bool, log: Log) -> tuple[dict, dict | None]:
    """The material's summary, and its task's job dict unless it failed or is up to date."""
    farm = farm_module()
    t1 = time.monotonic()
    name = material_folder(mat.name)  # the local bake's folder: "a b" and "a_b" never collide
    target = os.path.join(out_dir, name)
    base = {"name": mat.name, "status": "failed", "outputs": {}, "seconds": 0.0,
            "engine_seconds": 0.0, "seam_scores": {}, "error": None, "worker": None,
            "host": None}
    try:
        os.makedirs(target, exist_ok=True)
        spec = build_material_spec(mat, target, device=device)
        spec.validate(check_files=True)  # where the task leaves Blender for the cluster, once
        digest = spec_digest(spec, mat, engine)
    except SpecError as exc:
        _fail(mat, base, error_text(exc), log)
        return base, None
    except Exception as exc:
        _fail(mat, base, f"{type(exc).__name__}: {exc}", log)
        return base, None
    side = None if force else farm.complete_set(target, digest)
    if side:
        try:
            if not _wired(mat, list(side["outputs"])):
                _apply(mat, side["outputs"], storage)
            base.update(status="skipped", outputs=side["outputs"],
                        seam_scores=side.get("seam_scores") or {},
                        engine_seconds=side.get("engine_seconds", 0.0),
                        worker=side.get("worker"), host=side.get("host"),
                        seconds=round(time.monotonic() - t1, 3))
            log(f"[{mat.name}] up to date, skipped")
            return base, None
        except Exception as exc:
            log(f"[{mat.name}] stored outputs unusable ({exc}); baking again")
    key = f"texture-forge-bake-{name}-{uuid.uuid4().hex[:8]}"
    return base, {"key": key, "name": mat.name, "spec": spec.to_dict(), "out_dir": target,
                  "digest": digest, "device": device, "force": force}


def _wired(material: bpy.types.Material, maps: Sequence[str]) -> bool:
    return all(material_output.find_our_image(material, m) is not None for m in maps)


def _apply(material: bpy.types.Material, outputs: dict[str, str], storage: str | None) -> None:
    s = material.texture_forge
    material_output.apply_outputs(material, outputs, storage=storage or s.storage,
                                  height_mode=s.height_mode, ao_strength=float(s.ao_strength))
    s.last_error = ""


class Cluster(NamedTuple):
    """A connected scheduler, its address and how long connecting took."""

    client: "distributed.Client"
    address: str
    connect_seconds: float


def connect(scheduler: str, *, usage_error: type[Exception], timeout: float = 10.0) -> Cluster:
    """Connect to ``scheduler``; ``usage_error`` with one line when it cannot be reached.

    Called before anything is written (``--out`` included), so an unreachable scheduler leaves
    everything as it was.
    """
    farm = farm_module()
    t0 = time.monotonic()
    try:
        client = farm.connect(scheduler, timeout=timeout)
    except farm.SchedulerUnavailable as exc:
        raise usage_error(str(exc)) from None
    return Cluster(client, scheduler, time.monotonic() - t0)


def bake_materials_on_cluster(materials: Sequence[bpy.types.Material], out_dir: str,
                              cluster: Cluster, *, device: str = "auto",
                              storage: str | None = None, force: bool = False,
                              log: Log) -> dict:
    """Bake every material as a Dask task and wire the results in; like ``batch.bake_materials``.

    Returns ``{"materials": [...], "startup_seconds", "scheduler"}``; each material's summary
    also says which ``worker`` (address) and ``host`` baked it. Closes ``cluster``'s client.
    """
    farm = farm_module()
    client = cluster.client
    summaries: dict[str, dict] = {}
    by_key: dict[str, bpy.types.Material] = {}
    jobs: list[dict] = []
    names: list[str] = []
    # The same engine identity as a local bake's, so sets baked either way count as up to date
    # for the other. The torch version is the submitting side's: the workers' cannot be known
    # before they run (docs/farm.md: give workers the same engine).
    engine = engine_version(None)
    try:
        for mat in materials:
            summaries[mat.name], job = _job_for(mat, out_dir, engine, device, storage, force, log)
            if job is not None:
                jobs.append(job)
                by_key[job["key"]] = mat
                names.append(material_folder(mat.name))

        def wire(job: dict, summary: dict) -> None:
            mat = by_key[job["key"]]
            if summary["status"] in ("baked", "skipped") and summary["outputs"]:
                _apply(mat, summary["outputs"], storage)
            elif summary.get("error"):
                mat.texture_forge.last_error = str(summary["error"])

        if jobs:
            for summary in farm.run_jobs(client, jobs, on_done=wire, log=log):
                summaries[summary["name"]].update(summary)
            removed = farm.remove_staging_leftovers(out_dir, names)
            if removed:
                log(f"removed {removed} staging folder(s) left by interrupted tasks")
    finally:
        client.close()
    return {"materials": [summaries[m.name] for m in materials],
            "startup_seconds": round(cluster.connect_seconds, 3), "scheduler": cluster.address}


def _fail(mat: bpy.types.Material, summary: dict, message: str, log: Log) -> None:
    summary.update(status="failed", error=message)
    try:
        mat.texture_forge.last_error = message
    except Exception:
        pass
    log(f"[{mat.name}] failed: {message}")
