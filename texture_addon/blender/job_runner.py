"""Running worker jobs from Blender: one job per target, polled without blocking the UI.

In the UI a ``bpy.app.timers`` callback polls every job a few times a second and applies preview
and result messages. Timers never fire in background mode (``blender -b``, the bpy module), so
there :func:`run_to_completion` polls synchronously instead. Job state lives here, in Python, not
in the .blend: a running process cannot be saved.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import bpy

from ..worker.client import WorkerClient
from . import engine_install
from .preferences import ADDON_PACKAGE, get_preferences

POLL_INTERVAL = 0.2

#: Called with (state, message) for each "preview" / final message; runs in Blender's main thread.
Handler = Callable[["JobState", dict], None]


@dataclass
class JobState:
    """What the panel shows about a running (or just finished) job."""

    key: str                      # "MA:<material name>" or "IM:<image name>"
    job: object                   # worker.client.Job
    output_dir: str
    temporary_dir: bool
    on_preview: Handler
    on_final: Handler
    started: float = field(default_factory=time.monotonic)
    stage: str = "starting"
    progress: float = 0.0
    eta: float | None = None
    finished: bool = False
    message: str = ""             # last final outcome, e.g. "done in 12 s" or the error


_jobs: dict[str, JobState] = {}
_client: WorkerClient | None = None
_client_key: tuple | None = None


def material_key(material: bpy.types.Material) -> str:
    return "MA:" + material.name


def image_key(image: bpy.types.Image) -> str:
    return "IM:" + image.name


def get_job(key: str) -> JobState | None:
    return _jobs.get(key)


def running_jobs() -> list[JobState]:
    return [j for j in _jobs.values() if not j.finished]


def client_settings(context: bpy.types.Context | None = None) -> dict:
    """Worker settings from the preferences (defaults when the add-on isn't enabled as such)."""
    prefs = get_preferences(context)
    python = bpy.path.abspath(prefs.python) if prefs is not None and prefs.python else None
    if python is None and not os.environ.get("TEXTURE_FORGE_PYTHON"):
        python = engine_install.installed_python()  # the engine from Install Engine, if any
    return {
        "python": python,
        "device": prefs.device if prefs is not None else "auto",
        "vgg_weights": (bpy.path.abspath(prefs.vgg_weights)
                        if prefs is not None and prefs.vgg_weights else None),
        "output_folder": (bpy.path.abspath(prefs.output_folder)
                          if prefs is not None and prefs.output_folder else ""),
        "idle_timeout": 300.0 if prefs is None or prefs.keep_worker_warm else 5.0,
    }


def get_client(context: bpy.types.Context | None = None) -> WorkerClient:
    """The shared worker client, rebuilt when the interpreter or device preference changes."""
    global _client, _client_key
    cfg = client_settings(context)
    key = (cfg["python"], cfg["device"], cfg["idle_timeout"])
    if _client is None or key != _client_key:
        if _client is not None and not running_jobs():
            _client.shutdown()
        _client = WorkerClient(python=cfg["python"], device=cfg["device"],
                               idle_timeout=cfg["idle_timeout"], log_dir=_log_dir())
        _client_key = key
    return _client


def _user_dir(sub: str) -> str:
    """A writable folder of ours: the extension's user directory, else the system temp folder."""
    try:
        return bpy.utils.extension_path_user(ADDON_PACKAGE, path=sub, create=True)
    except (ValueError, AttributeError):  # not installed as an extension (e.g. run from source)
        path = os.path.join(tempfile.gettempdir(), "texture_forge", sub)
        os.makedirs(path, exist_ok=True)
        return path


def _log_dir() -> str:
    return _user_dir("logs")


def new_output_dir(name: str, context: bpy.types.Context | None = None) -> tuple[str, bool]:
    """A fresh folder for one job's files, and whether it is temporary (removed after import)."""
    base = client_settings(context)["output_folder"]
    temporary = not base
    if temporary:
        base = _user_dir("jobs")
    os.makedirs(base, exist_ok=True)
    path = tempfile.mkdtemp(prefix=f"{name}-", dir=base)
    return path, temporary


def discard_output_dir(path: str, temporary: bool) -> None:
    if temporary:
        shutil.rmtree(path, ignore_errors=True)


def start(key: str, spec, output_dir: str, temporary: bool, on_preview: Handler,
          on_final: Handler, context: bpy.types.Context | None = None) -> JobState:
    """Start ``spec`` on the worker and track it under ``key``; returns at once.

    Raises the client's errors (e.g. WorkerBusy) unchanged for the operator to report.
    """
    job = get_client(context).start(spec)
    state = JobState(key=key, job=job, output_dir=output_dir, temporary_dir=temporary,
                     on_preview=on_preview, on_final=on_final)
    _jobs[key] = state
    return state


def pump(state: JobState) -> None:
    """Apply every message the job has sent since the last call (never blocks)."""
    if state.finished:
        return
    job = state.job
    for msg in job.poll():
        kind = msg.get("type")
        if kind == "progress":
            state.stage = str(msg.get("stage", state.stage))
            total = msg.get("total") or 0
            if total:
                state.progress = max(0.0, min(1.0, float(msg.get("step", 0)) / float(total)))
            state.eta = msg.get("eta")
        elif kind == "preview":
            _safely(state, state.on_preview, msg)
        elif kind in ("result", "error", "cancelled"):
            _finish(state, msg)
            return
    if job.done and not state.finished:
        _finish(state, job.final or {"type": "error", "message": "the engine stopped unexpectedly"})


def _safely(state: JobState, handler: Handler, msg: dict) -> None:
    try:
        handler(state, msg)
    except Exception as exc:  # a bad preview must not kill the job; report it instead
        state.message = f"{type(exc).__name__}: {exc}"


def _finish(state: JobState, msg: dict) -> None:
    state.finished = True
    state.progress = 1.0 if msg.get("type") == "result" else state.progress
    state.stage = {"result": "done", "cancelled": "cancelled"}.get(msg.get("type"), "failed")
    try:
        state.on_final(state, msg)
    except Exception as exc:
        state.message = f"could not import the result: {type(exc).__name__}: {exc}"
        state.stage = "failed"
    finally:
        discard_output_dir(state.output_dir, state.temporary_dir)


def run_to_completion(state: JobState, timeout: float | None = None) -> None:
    """Background mode: poll until the job ends (timers would never fire there)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not state.finished:
        pump(state)
        if state.finished:
            break
        if deadline is not None and time.monotonic() > deadline:
            state.job.cancel()
            deadline = None
        time.sleep(0.05)


def cancel(key: str) -> bool:
    state = _jobs.get(key)
    if state is None or state.finished:
        return False
    state.job.cancel()
    state.stage = "cancelling"
    return True


def _tick() -> float | None:
    """Timer callback: pump every running job, redraw our panels; stop when nothing runs."""
    for state in list(_jobs.values()):
        pump(state)
    _redraw()
    return POLL_INTERVAL if running_jobs() else None


def ensure_timer() -> None:
    if not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=POLL_INTERVAL)


def _redraw() -> None:
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "NODE_EDITOR", "IMAGE_EDITOR", "PREFERENCES"):
                area.tag_redraw()


def shutdown() -> None:
    """Unregister: cancel jobs, stop the timer and the worker process, forget everything."""
    global _client, _client_key
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    for state in _jobs.values():
        if not state.finished:
            try:
                state.job.cancel()
            except Exception:
                pass
            discard_output_dir(state.output_dir, state.temporary_dir)
    _jobs.clear()
    if _client is not None:
        try:
            _client.shutdown()
        except Exception:
            pass
    _client = None
    _client_key = None
