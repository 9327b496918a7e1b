"""Baking materials on a Dask cluster: the worker-side task and the submitting loop.

Why Dask: studios and labs already run ``distributed`` on their farms and HPC schedulers; it brings
worker discovery, resource-aware routing (``--resources "GPU=1"``), retries and the rescheduling of
tasks whose worker died, none of which this project should hand-write.

One task bakes one material (one variant) and needs only the engine on its worker: this module
imports no bpy, and the task reads nothing but its job dict and the input files on shared storage.

Output sets are all-or-nothing. A task renders into a private staging folder
``<out>/.texture_forge_staging/<name>.<token>/``, writes the ``bake.json`` sidecar there last and
then swaps the whole folder into ``<out>/<name>/`` with renames. A worker killed mid-task leaves at
most a staging folder (removed by the submitting process when the run ends), never a half set; the
rerun Dask starts elsewhere finds no complete set and bakes, and a rerun that finds a complete set
whose hash matches (a duplicate that finished first, or an earlier run on any machine) skips.
"""

from __future__ import annotations

import importlib
import json
import operator
import os
import shutil
import socket
import sys
import time
import uuid
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    import distributed

#: The module a worker imports the task from: the repository (or an installed copy) is on the
#: worker's ``PYTHONPATH`` under this top-level package, whatever name the add-on was loaded
#: under in the submitting process.
TASK_MODULE = "texture_addon.bake.dask_bake"
SIDECAR = "bake.json"
STAGING_DIR = ".texture_forge_staging"
#: Retries for infrastructure failures (an exception escaping the task). A worker dying under a
#: task is counted separately by the scheduler (``distributed.scheduler.allowed-failures``).
RETRIES = 2

Log = Callable[[str], None]


class SchedulerUnavailable(Exception):
    """The scheduler could not be reached; the message is one line."""


def describe(exc: BaseException) -> str:
    """``exc`` and its causes as one line, every word kept.

    Dask's messages span several lines ("Error during deserialization of the task graph. This
    frequently occurs if …", over four) and the reason is often only in the cause
    (``ModuleNotFoundError: No module named …``): a line cut at the first newline hides both.
    """
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = " ".join(str(exc).split())
        part = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        if any(part in p for p in parts):  # already quoted by the exception it caused
            break
        parts.append(part)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return " (caused by ".join(parts) + ")" * (len(parts) - 1)


# --------------------------------------------------------------------------- sidecar / sets

def read_sidecar(out_dir: str) -> dict | None:
    try:
        with open(os.path.join(out_dir, SIDECAR), encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def complete_set(out_dir: str, digest: str) -> dict | None:
    """The sidecar of ``out_dir`` when it holds a complete set baked with ``digest``, else None."""
    side = read_sidecar(out_dir)
    if not side or side.get("hash") != digest:
        return None
    outputs = side.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        return None
    if not all(isinstance(p, str) and os.path.isfile(p) for p in outputs.values()):
        return None
    return side


def _write_json_atomic(path: str, data: dict) -> None:
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _commit(staging: str, target: str, trash_root: str) -> None:
    """Swap the complete staging folder in as ``target`` (the old set, if any, is removed).

    Kept inputs (``inputs/``, images the submitting side wrote out of the .blend) move along so
    the paths in the job, and so its hash, stay the same.
    """
    old_inputs = os.path.join(target, "inputs")
    if os.path.isdir(old_inputs) and not os.path.exists(os.path.join(staging, "inputs")):
        os.replace(old_inputs, os.path.join(staging, "inputs"))
    trash = None
    if os.path.exists(target):
        trash = os.path.join(trash_root, f"old.{os.path.basename(target)}.{uuid.uuid4().hex[:8]}")
        os.replace(target, trash)
    os.replace(staging, target)
    if trash:
        shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------------- the task

def _worker_address() -> str | None:
    try:
        from distributed import get_worker
        return get_worker().address
    except Exception:  # run outside a worker (a direct call)
        return None


def bake_task(job: dict) -> dict:
    """Bake one material's set on this worker and return its summary (never raises for bad input).

    ``job``: ``name`` (material), ``spec`` (the engine's JobSpec as a dict), ``out_dir`` (final
    folder of the set, on shared storage), ``digest`` (hash of settings and input bytes, written
    to the sidecar), ``device``, ``force``. Bad inputs (``InputError``: a reference missing on this
    machine, a corrupt image) come back as a ``failed`` summary, so Dask does not retry them;
    anything else raises and is retried a few times, on another worker if need be.
    """
    from ..errors import InputError
    from ..contract.spec import JobSpec

    t0 = time.monotonic()
    target = os.path.abspath(job["out_dir"])
    summary = {"name": job["name"], "status": "failed", "outputs": {}, "seconds": 0.0,
               "engine_seconds": 0.0, "seam_scores": {}, "error": None,
               "worker": _worker_address(), "host": socket.gethostname()}

    def done(**fields) -> dict:
        summary.update(fields, seconds=round(time.monotonic() - t0, 3))
        return summary

    if not job.get("force"):
        side = complete_set(target, job["digest"])
        if side:
            return done(status="skipped", outputs=side["outputs"],
                        seam_scores=side.get("seam_scores") or {},
                        engine_seconds=side.get("engine_seconds", 0.0))
    root = os.path.join(os.path.dirname(target), STAGING_DIR)
    os.makedirs(root, exist_ok=True)
    staging = os.path.join(root, f"{os.path.basename(target)}.{uuid.uuid4().hex[:12]}")
    os.makedirs(staging)
    try:
        from ..jobs.run import run_job_detailed  # the engine: torch loads here, on the worker

        t_engine = time.monotonic()
        try:
            spec = JobSpec.from_dict({**job["spec"], "output_dir": staging,
                                      "device": job.get("device") or "auto"})
            outcome = run_job_detailed(spec)
        except InputError as exc:
            return done(error=str(exc))
        outputs = {m: os.path.join(target, p.name) for m, p in outcome.outputs.items()}
        scores = {k: float(v) for k, v in outcome.seam_scores.items()}
        engine_seconds = round(time.monotonic() - t_engine, 3)
        _write_json_atomic(os.path.join(staging, SIDECAR), {
            "hash": job["digest"], "outputs": outputs, "seam_scores": scores,
            "engine_seconds": engine_seconds, "material": job["name"],
            "worker": summary["worker"], "host": summary["host"]})
        if not job.get("force"):
            side = complete_set(target, job["digest"])
            if side:  # a duplicate of this task finished first: keep its set, drop ours
                return done(status="skipped", outputs=side["outputs"],
                            seam_scores=side.get("seam_scores") or {},
                            engine_seconds=side.get("engine_seconds", 0.0))
        _commit(staging, target, root)
        return done(status="baked", outputs=outputs, seam_scores=scores,
                    engine_seconds=engine_seconds)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------- submitting side

def connect(address: str, timeout: float = 10.0) -> "distributed.Client":
    """A ``distributed.Client`` for ``address``; :class:`SchedulerUnavailable` if unreachable."""
    try:
        from distributed import Client
    except ImportError:
        raise SchedulerUnavailable("--scheduler needs the Python packages dask and distributed in "
                                   f"this Python ({sys.executable}); see docs/farm.md") from None
    if "://" not in address:
        address = "tcp://" + address
    if address.startswith("tcp://"):
        # A refused or unresolvable address fails at once here; Client would retry until timeout.
        host, _, port = address[len("tcp://"):].rstrip("/").rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
        except ValueError:
            raise SchedulerUnavailable(f"invalid scheduler address {address!r}; use tcp://HOST:8786") from None
        except OSError as exc:
            raise SchedulerUnavailable(f"cannot reach the Dask scheduler at {address}: "
                                       f"{exc.strerror or exc}") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # OSError / TimeoutError, worded differently per version
        raise SchedulerUnavailable(f"cannot reach the Dask scheduler at {address}: "
                                   f"{describe(exc)}") from None


def task_by_name(module: str, function: str, *args: object) -> tuple[Callable, object]:
    """``(func, arg)`` such that ``client.submit(func, arg)`` runs ``module.function(*args)``.

    Why: the scheduler deserializes every task graph it receives (``distributed`` 2025 and
    later), and a function pickles as a reference to its module, so a farm's scheduler, a shared
    service without our package, refuses a task holding ``bake_task`` itself ("Error during
    deserialization of the task graph", ``No module named 'texture_addon'``). This task holds
    only the standard library's ``operator.methodcaller`` and ``importlib.import_module``, two
    names and the plain-data ``args``; the module is imported inside the task, on the worker.
    """
    from dask.task_spec import Task  # an inlined subtask: runs within the task, on the worker

    return (operator.methodcaller(function, *args),
            Task(f"import-{module}", importlib.import_module, module))


class Progress:
    """A bar over all tasks when ``stream`` is a terminal, else one plain line per finished task."""

    def __init__(self, total: int, stream: TextIO | None = None, log: Log | None = None) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream or sys.stderr
        self.log = log or (lambda s: print(s, file=self.stream, flush=True))
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()

    def update(self, summary: dict) -> None:
        self.done += 1
        self.failed += summary.get("status") == "failed"
        where = summary.get("worker") or "-"
        line = (f"[{summary['name']}] {summary['status']} on {where} in {summary.get('seconds', 0):.1f} s"
                + (f": {summary['error']}" if summary.get("error") else ""))
        if self.tty:
            width = 30
            filled = int(width * self.done / max(1, self.total))
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r\033[K{line}\n[{bar}] {self.done}/{self.total} "
                              f"({self.failed} failed) {time.monotonic() - self.t0:.0f} s")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
        else:
            self.log(f"{line} ({self.done}/{self.total})")


def _failed(job: dict, message: str, seconds: float) -> dict:
    return {"name": job["name"], "status": "failed", "outputs": {}, "seconds": round(seconds, 3),
            "engine_seconds": 0.0, "seam_scores": {}, "error": message, "worker": None,
            "host": None}


def run_jobs(client: "distributed.Client", jobs: list[dict], *, on_done: Callable[[dict, dict], None], log: Log,
             retries: int = RETRIES) -> list[dict]:
    """Submit one task per job, call ``on_done(job, summary)`` as each finishes, in this thread.

    Returns the summaries in the order of ``jobs``. Ctrl-C (KeyboardInterrupt) cancels every
    submitted task before it propagates. Jobs with ``device == "cuda"`` ask for the worker
    resource ``GPU=1``, so only workers started with ``--resources "GPU=1"`` take them.
    """
    from distributed import as_completed

    if not jobs:
        return []
    info = client.scheduler_info()
    workers = info.get("workers", {})
    if not workers:
        log("waiting for Dask workers to join the scheduler")
    if any(j.get("device") == "cuda" for j in jobs) and workers and not any(
            (w.get("resources") or {}).get("GPU") for w in workers.values()):
        log("no worker offers the resource GPU yet: cuda tasks wait until one joins")
    futures = {}
    t0 = time.monotonic()
    for job in jobs:
        extra = {"resources": {"GPU": 1}} if job.get("device") == "cuda" else {}
        func, module = task_by_name(TASK_MODULE, bake_task.__name__, job)
        fut = client.submit(func, module, key=job["key"], pure=False, retries=retries, **extra)
        futures[fut] = job
    log(f"submitted {len(jobs)} task(s) to {client.scheduler.address}")
    progress = Progress(len(jobs), log=log)
    results: dict[str, dict] = {}
    try:
        for fut in as_completed(list(futures), loop=client.loop):
            job = futures[fut]
            if fut.status == "finished":
                summary = fut.result()
            else:
                exc = fut.exception() if fut.status == "error" else None
                summary = _failed(job, describe(exc) if exc is not None else fut.status,
                                  time.monotonic() - t0)
            try:
                on_done(job, summary)
            except Exception as exc:  # wiring failed: report it on this material only
                summary.update(status="failed",
                               error=f"could not import the result: {type(exc).__name__}: {exc}")
            results[job["key"]] = summary
            progress.update(summary)
    except KeyboardInterrupt:
        client.cancel(list(futures), force=True)
        log(f"interrupted: cancelled {sum(1 for f in futures if not f.done())} unfinished task(s)")
        raise
    return [results[j["key"]] for j in jobs]


def remove_staging_leftovers(out_dir: str, names: list[str]) -> int:
    """Delete staging folders of ``names`` left by killed workers; returns how many.

    Called once every task of the run has finished, when no live task of ours can own one.
    """
    root = os.path.join(out_dir, STAGING_DIR)
    removed = 0
    try:
        entries = os.listdir(root)
    except OSError:
        return 0
    wanted = set(names)
    for entry in entries:
        base = entry[4:] if entry.startswith("old.") else entry
        if base.rsplit(".", 1)[0] in wanted:
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
            removed += 1
    try:
        os.rmdir(root)  # only when empty: another run may be using it
    except OSError:
        pass
    return removed
