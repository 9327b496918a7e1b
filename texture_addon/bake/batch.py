"""Baking many materials unattended (``scripts/bake.py``): the panel's Generate, synchronously.

Each material is one independent task: its job spec is built from the material's own settings
(:func:`job_spec.build_material_spec`), run on a worker, and the result goes into the material with
:func:`material_output.apply_outputs`, exactly as Generate does. Raw outputs are kept in
``<out>/<material>/`` with a sidecar ``bake.json`` holding a hash of the settings and of every
input file, so a rerun skips materials whose outputs are up to date (unless forced).

Several materials run at once on separate :class:`WorkerClient` objects (one engine process each);
all bpy work stays in the calling (main) thread, which only polls the jobs.

A material's folder is its sanitised name plus a short hash of the real name, so "a b" and "a_b"
(or "Bricks" and "bricks" on a case-insensitive disk) never share files. The engine writes into a
private staging folder next to it; only when the job succeeded is the staging folder swapped in
(two renames), so a failure or a crash part-way leaves the previous maps complete and untouched.
Staging folders left by a crashed bake are removed by the next bake into the same folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import bpy

from .. import __version__ as ADDON_VERSION
from .. import files, install_hints, logs
from ..contract.spec import SpecError
from ..errors import TextureForgeError, error_text
from ..worker.blender_side.client import WorkerClient, find_python
from ..blender import material_output
from ..blender.job_spec import build_material_spec, safe_name

SIDECAR = "bake.json"
#: Bumped when the meaning of a stored hash changes.
HASH_VERSION = 2
#: Prefixes of our scratch folders inside the output folder (see logs.clean_stale_folders).
STAGING_PREFIX = ".tf-staging-"
RETIRED_PREFIX = ".tf-old-"
#: The packages whose code decides the pixels of a result (their source goes into the digest).
ENGINE_PACKAGES = ("engine", "references", "worker")

Log = Callable[[str], None]


def _stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Task:
    material: bpy.types.Material
    name: str
    out_dir: str
    summary: dict = field(default_factory=dict)
    spec: object = None
    digest: str = ""
    job: object = None
    started: float = 0.0
    stage: str = ""
    staging: str = ""


def material_folder(name: str) -> str:
    """The folder name for a material's outputs: readable, and unique per real name."""
    return f"{safe_name(name)}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


_source_digest: str | None = None


def engine_source_digest() -> str:
    """Hash of the engine's Python sources, so a changed engine does not pass for up to date."""
    global _source_digest
    if _source_digest is None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        h = hashlib.sha256()
        for package in ENGINE_PACKAGES:
            folder = os.path.join(root, package)
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for fn in sorted(f for f in filenames if f.endswith(".py")):
                    path = os.path.join(dirpath, fn)
                    h.update(os.path.relpath(path, root).replace(os.sep, "/").encode())
                    h.update(material_output.file_sha256(path).encode())
        _source_digest = h.hexdigest()
    return _source_digest


def torch_version(python: str | None) -> str | None:
    """The torch version installed for the engine's Python, read from its metadata (no import of
    torch, ~50 ms); None when it cannot be told."""
    try:
        exe = find_python(python)
        out = subprocess.run([exe, "-s", "-c", "import importlib.metadata as m; print(m.version('torch'))"],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (TextureForgeError, OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def engine_version(python: str | None) -> dict:
    """What identifies the engine that would bake: add-on version, engine source, torch version."""
    return {"addon": ADDON_VERSION, "source": engine_source_digest(), "torch": torch_version(python)}


def spec_digest(spec, material: bpy.types.Material, engine: dict | None = None) -> str:
    """Hash of everything that decides the outputs: the spec's settings, its input files' bytes and
    the engine's version (``engine``, from :func:`engine_version`)."""
    d = dict(spec.to_dict())
    out = d.pop("output_dir", None)
    d.pop("device", None)  # the same settings give the same texture on any device
    files: list[str] = [r["path"] if isinstance(r, dict) else r.path for r in (d.get("references") or [])]
    if d.get("content"):
        files.append(d["content"])
    files += list((d.get("material") or {}).values())
    s = material.texture_forge
    wiring = {"height_mode": s.height_mode, "ao_strength": round(float(s.ao_strength), 6)}
    blob = json.dumps({"v": HASH_VERSION, "spec": d, "wiring": wiring, "engine": engine or {},
                       "files": [material_output.file_sha256(p) for p in files]}, sort_keys=True, default=str)
    if out:  # inputs written into the (fresh, staging) job folder must not change the hash
        blob = blob.replace(json.dumps(str(out))[1:-1], "<job folder>")
    return hashlib.sha256(blob.encode()).hexdigest()


def _read_sidecar(out_dir: str) -> dict | None:
    return files.read_json(os.path.join(out_dir, SIDECAR)) or None


def _write_sidecar(out_dir: str, data: dict) -> None:
    files.write_json(os.path.join(out_dir, SIDECAR), data)


def _swap_in(staging: str, final: str) -> None:
    """Make ``staging`` the material's folder, all maps at once; the old folder is removed after.

    Two renames: the old folder moves aside (a retired scratch folder), the staging folder takes its
    name. A crash between them leaves both folders complete; the next bake re-bakes (no sidecar at
    ``final``) and cleans the leftovers.
    """
    retired = None
    with files.deferred_signals():  # a SIGTERM between the renames waits for the second
        if os.path.lexists(final):
            retired = logs.make_scratch_dir(os.path.dirname(final), RETIRED_PREFIX)
            os.replace(final, os.path.join(retired, "old"))
        os.replace(staging, final)
    try:
        os.remove(os.path.join(final, logs.OWNER_FILE))
    except OSError:
        pass
    if retired:
        shutil.rmtree(retired, ignore_errors=True)


def _in_folder(outputs: dict[str, str], staging: str, final: str) -> dict[str, str]:
    """Output paths moved from the staging folder to the final one."""
    moved = {}
    for key, path in outputs.items():
        rel = os.path.relpath(os.path.abspath(path), staging)
        moved[key] = path if rel.startswith("..") else os.path.join(final, rel)
    return moved


def _discard(task: "Task") -> None:
    if task.staging:
        shutil.rmtree(task.staging, ignore_errors=True)
        task.staging = ""


def _wired(material: bpy.types.Material, maps: Sequence[str]) -> bool:
    return all(material_output.find_our_image(material, m) is not None for m in maps)


def _apply(task: Task, outputs: dict[str, str], storage: str | None) -> None:
    s = task.material.texture_forge
    material_output.apply_outputs(task.material, outputs, storage=storage or s.storage,
                                  height_mode=s.height_mode, ao_strength=float(s.ao_strength))
    s.last_error = ""


def bake_materials(materials: Sequence[bpy.types.Material], out_dir: str, *, jobs: int = 1,
                   python: str | None = None, device: str = "auto", vgg_weights: str | None = None,
                   storage: str | None = None, force: bool = False, log: Log = _stderr_log,
                   timeout: float | None = None) -> dict:
    """Bake every material; never raises for one material's failure.

    ``python`` is the engine's interpreter (None: ``$TEXTURE_FORGE_PYTHON``, then this one).

    Returns ``{"materials": [per-material summary], "startup_seconds": float}``; each summary has
    ``name``, ``status`` ("baked", "skipped" or "failed"), ``outputs`` (map → PNG path),
    ``seconds`` (wall time of this material's task), ``engine_seconds`` (synthesis time reported by
    the engine), ``seam_scores`` and ``error``.
    """
    tasks: list[Task] = []
    pending: list[Task] = []
    os.makedirs(out_dir, exist_ok=True)
    for path in logs.clean_stale_folders(out_dir, (STAGING_PREFIX, RETIRED_PREFIX)):
        log(f"removed {path}, left by an interrupted bake")
    engine = engine_version(python)
    for mat in materials:
        t0 = time.monotonic()
        task = _prepare(mat, out_dir, engine, device, vgg_weights, t0, log)
        tasks.append(task)
        if task.spec is None or (not force and _up_to_date(task, storage, t0, log)):
            continue
        task.summary["seconds"] = time.monotonic() - t0  # preparation, added to below
        pending.append(task)

    startup = 0.0
    if pending:
        startup = _bake_pending(pending, jobs, python, device, storage, log, timeout)
    for task in tasks:
        task.summary["seconds"] = round(float(task.summary["seconds"]), 3)
    return {"materials": [t.summary for t in tasks], "startup_seconds": round(startup, 3)}


def _prepare(mat: bpy.types.Material, out_dir: str, engine: dict, device: str, vgg_weights: str | None,
             t0: float, log: Log) -> Task:
    """The material's task: its staging folder, spec and digest; on failure, a failed summary
    (and no spec)."""
    task = Task(material=mat, name=mat.name, out_dir=os.path.join(out_dir, material_folder(mat.name)))
    task.summary = {"name": mat.name, "status": "failed", "outputs": {}, "seconds": 0.0,
                    "engine_seconds": 0.0, "seam_scores": {}, "error": None}
    log(f"[{mat.name}] preparing")
    try:
        task.staging = logs.make_scratch_dir(out_dir, STAGING_PREFIX + material_folder(mat.name) + "-",
                                             shared=True)  # it becomes the material's folder
        task.spec = build_material_spec(mat, task.staging, device=device, vgg_weights=vgg_weights)
        task.digest = spec_digest(task.spec, mat, engine)
    except SpecError as exc:
        task.spec = None
        _discard(task)
        _fail(task, error_text(exc), t0, log)
        return task
    except Exception as exc:  # unreadable image, disk full, ...
        task.spec = None
        _discard(task)
        _fail(task, f"{type(exc).__name__}: {exc}", t0, log)
    return task


def _up_to_date(task: Task, storage: str | None, t0: float, log: Log) -> bool:
    """True (and the material wired to its stored set, the task skipped) when the outputs on disk
    match the task's digest."""
    side = _read_sidecar(task.out_dir)
    if (side and side.get("hash") == task.digest
            and all(os.path.isfile(p) for p in side.get("outputs", {}).values())
            and side.get("outputs")):
        try:
            if not _wired(task.material, list(side["outputs"])):
                _apply(task, side["outputs"], storage)
            task.summary.update(status="skipped", outputs=side["outputs"],
                                seam_scores=side.get("seam_scores") or {},
                                engine_seconds=side.get("engine_seconds", 0.0),
                                seconds=round(time.monotonic() - t0, 3))
            _discard(task)
            log(f"[{task.name}] up to date, skipped")
            return True
        except Exception as exc:
            log(f"[{task.name}] stored outputs unusable ({exc}); baking again")
    return False


def _bake_pending(pending: list[Task], jobs: int, python: str | None, device: str, storage: str | None,
                  log: Log, timeout: float | None) -> float:
    """Start the engine processes, bake the pending tasks on them; returns the start-up seconds."""
    n = max(1, min(int(jobs), len(pending)))
    try:
        log_folder: str | None = logs.log_dir()
    except OSError:
        log_folder = None  # the client's own default
    clients = [WorkerClient(python=python, device=device, idle_timeout=30.0, log_dir=log_folder)
               for _ in range(n)]
    t0 = time.monotonic()
    reports = _check_all(clients)
    startup = time.monotonic() - t0
    ok = [c for c, r in zip(clients, reports) if r.get("ok")]
    why = _engine_problem(clients[0], reports[0])
    log(f"engine: {why} ({len(ok)} process(es), {startup:.1f} s)")
    try:
        if not ok:
            for task in pending:
                _fail(task, "engine unavailable: " + why,
                      time.monotonic() - task.summary["seconds"], log)
        else:
            _run_pending(pending, ok, storage, log, timeout)
    finally:
        for c in clients:
            c.shutdown()
        for task in pending:
            _discard(task)
    return startup


def _check_all(clients: list[WorkerClient]) -> list[dict]:
    """Start and check every engine process at once (threads); one report per client."""
    reports: list[dict] = [{} for _ in clients]

    def check(i: int) -> None:
        try:
            reports[i] = clients[i].check()
        except Exception as exc:  # a thread's exception would vanish; report it like a failed start
            reports[i] = {"ok": False, "message": f"engine process {i + 1} could not start: {exc}"}

    threads = [threading.Thread(target=check, args=(i,), daemon=True) for i in range(len(clients))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return reports


def _engine_problem(client: WorkerClient, report: dict) -> str:
    """The check's message; for missing packages, the fix that works on this platform."""
    info = getattr(getattr(client, "_process", None), "info", None) or {}
    missing = info.get("missing") if isinstance(info, dict) else None
    if not report.get("ok") and missing:
        return install_hints.missing_packages_message(str(info.get("python") or client.python), list(missing),
                                                      in_venv=False)
    return str(report.get("message"))


def _fail(task: Task, message: str, t0: float, log: Log) -> None:
    task.summary.update(status="failed", error=message, seconds=time.monotonic() - t0)
    try:
        task.material.texture_forge.last_error = message
    except Exception:
        pass
    log(f"[{task.name}] failed: {message}")


def _run_pending(pending: list[Task], clients: list[WorkerClient], storage: str | None,
                 log: Log, timeout: float | None) -> None:
    queue = list(pending)
    running: dict[int, Task] = {}
    while queue or running:
        for i, client in enumerate(clients):
            if i in running or not queue:
                continue
            task = queue.pop(0)
            task.started = time.monotonic()
            try:
                task.job = client.start(task.spec)  # the spec's rules are checked here, once
            except Exception as exc:
                _fail(task, error_text(exc), task.started - task.summary["seconds"], log)
                continue
            running[i] = task
            log(f"[{task.name}] started")
        for i, task in list(running.items()):
            for msg in task.job.poll():
                kind = msg.get("type")
                if kind == "progress":
                    stage = str(msg.get("stage", ""))
                    if stage and stage != task.stage:
                        task.stage = stage
                        log(f"[{task.name}] {stage}")
                elif kind in ("result", "error", "cancelled"):
                    _finish(task, msg, storage, log)
                    del running[i]
                    break
            else:
                if task.job.done and i in running:
                    _finish(task, task.job.final or {"type": "error",
                                                     "message": "the engine stopped unexpectedly"},
                            storage, log)
                    del running[i]
                elif timeout is not None and time.monotonic() - task.started > timeout:
                    task.job.cancel()
        if running:
            time.sleep(0.02)


def _finish(task: Task, msg: dict, storage: str | None, log: Log) -> None:
    kind = msg.get("type")
    begun = task.started - task.summary["seconds"]
    if kind != "result":
        text = "cancelled" if kind == "cancelled" else str(msg.get("message") or "the engine failed")
        _fail(task, text, begun, log)
        return
    outputs = {k: str(v) for k, v in (msg.get("outputs") or {}).items()}
    try:
        _swap_in(task.staging, task.out_dir)
    except OSError as exc:
        _fail(task, f"could not move the maps into {task.out_dir}: {exc}", begun, log)
        return
    outputs = _in_folder(outputs, task.staging, task.out_dir)
    task.staging = ""
    try:
        log(f"[{task.name}] importing {', '.join(outputs)}")
        _apply(task, outputs, storage)
    except Exception as exc:
        _fail(task, f"could not import the result: {type(exc).__name__}: {exc}", begun, log)
        return
    scores = {k: float(v) for k, v in (msg.get("seam_scores") or {}).items()}
    engine_seconds = float(msg.get("seconds") or 0.0)
    _write_sidecar(task.out_dir, {"hash": task.digest, "outputs": outputs, "seam_scores": scores,
                                  "engine_seconds": engine_seconds, "material": task.name})
    seconds = time.monotonic() - begun
    task.summary.update(status="baked", outputs=outputs, seam_scores=scores,
                        engine_seconds=round(engine_seconds, 3), seconds=seconds, error=None)
    log(f"[{task.name}] done in {seconds:.1f} s (engine {engine_seconds:.1f} s)")


def clear_outputs(out_dir: str) -> None:
    """Remove a material's kept outputs (used by callers that want a clean slate)."""
    shutil.rmtree(out_dir, ignore_errors=True)
