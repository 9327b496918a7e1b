"""Running worker jobs from Blender: one job per target, polled without blocking the UI.

In the UI a persistent ``bpy.app.timers`` callback polls every job a few times a second and
applies preview and result messages. Timers never fire in background mode (``blender -b``, the
bpy module), so there :func:`run_to_completion` polls synchronously instead. Job state lives here,
in Python, not in the .blend: a running process cannot be saved.

Jobs are keyed by the material's identity (identity.py), never its name, and belong to the file
they were started in: opening another file (``load_pre``) cancels them and they never apply their
result, even to a same-named material of the new file. Everything the panel shows is readable
from Python (:func:`get_job`, :func:`running_jobs`, :data:`notifications`), so a startup script
can drive and check the UI.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import bpy

from .. import logs
from ..worker.blender_side.client import WorkerClient
from . import identity
from .addon import ADDON_PACKAGE, get_preferences, installed_python

POLL_INTERVAL = 0.2
#: The estimate of time left needs this much of the job measured (fraction done, seconds).
ETA_MIN_PROGRESS = 0.05
ETA_MIN_SECONDS = 3.0
#: The rate of progress is measured over the last this many seconds: later levels of the engine
#: are larger and slower, so the job's average rate would promise too little time.
ETA_WINDOW = 8.0

#: The engine's stage names in the words the panel shows.
STAGE_WORDS = {
    "starting": "Starting the engine", "loading": "Loading", "synthesize": "Synthesising",
    "synth": "Synthesising", "stylize": "Restyling", "seamless": "Making seamless",
    "material": "Making the maps", "maps": "Making the maps", "cancelling": "Cancelling",
    "cancelled": "Cancelled", "done": "Done", "failed": "Failed", "heal": "Healing",
}


def stage_words(stage: str) -> str:
    """An engine stage as an artist reads it ("seamless" → "Making seamless")."""
    return STAGE_WORDS.get(stage, stage.replace("_", " ").capitalize() or "Working")


def _estimate(state: "JobState", now: float) -> float | None:
    """Seconds left from this job's own measured progress, or None until it can be told.

    Nothing until at least :data:`ETA_MIN_PROGRESS` of the job and :data:`ETA_MIN_SECONDS` have
    been measured; the rate is that of the last :data:`ETA_WINDOW` seconds. Progress that goes
    back (a new phase) starts the measurement again.
    """
    samples = state.samples
    if samples and state.progress < samples[-1][1]:
        samples.clear()
    if not samples or samples[-1][1] != state.progress:
        samples.append((now, state.progress))
        if len(samples) > 400:  # the first (for ETA_MIN_SECONDS) and the recent ones are enough
            del samples[1:-200]
    if len(samples) < 2 or state.progress < ETA_MIN_PROGRESS or now - samples[0][0] < ETA_MIN_SECONDS:
        return None
    recent = [s for s in samples if now - s[0] <= ETA_WINDOW] or samples[-2:]
    t0, p0 = recent[0] if len(recent) >= 2 else samples[-2]
    rate = (state.progress - p0) / max(1e-6, now - t0)
    return (1.0 - state.progress) / rate if rate > 0 else None


def time_left_text(state: "JobState", now: float | None = None) -> str:
    """", 12 s left" / ", 1:05 left" from the measured estimate, "" while it cannot be told, and
    ", finishing" once the estimate has run out but the job goes on (never a stale number)."""
    if state.eta is None:
        return ""
    now = time.monotonic() if now is None else now
    left = state.eta - (now - state.eta_at)
    if left < 1.0:
        return ", finishing"
    left = int(round(left))
    return f", {left // 60}:{left % 60:02d} left" if left >= 60 else f", {left} s left"

#: Called with (state, message) for each "preview" / final message; runs in Blender's main thread.
Handler = Callable[["JobState", dict], None]


@dataclass
class JobState:
    """What the panel shows about a running (or just finished) job."""

    key: str                      # "MA:<material identity>" or "IM:<image name>"
    job: object                   # worker.blender_side.client.Job
    output_dir: str
    temporary_dir: bool
    on_preview: Handler
    on_final: Handler
    started: float = field(default_factory=time.monotonic)
    stage: str = "starting"
    progress: float = 0.0
    eta: float | None = None      # seconds left, measured here (see _estimate); None: not yet known
    eta_at: float = 0.0           # when ``eta`` was estimated (monotonic clock)
    samples: list = field(default_factory=list)  # (time, progress) of this job, for the estimate
    finished: bool = False
    message: str = ""             # last final outcome, e.g. "done in 12 s" or the error
    generation: int = 0           # the file it belongs to (see _on_load_pre)
    abandoned: bool = False       # its file was closed: cancelled, result never applied
    notify: bool = False          # report the outcome when it ends (the operator has returned)
    undone: bool = False          # Ctrl-Z / redo while it ran: cancelled, its result never applied


_jobs: dict[str, JobState] = {}
#: Jobs of a closed file, still winding down (their final message frees the worker).
_detached: list[JobState] = []
_client: WorkerClient | None = None
_client_key: tuple | None = None
#: Incremented on every file load: a job applies only within the generation it started in.
_generation = 0
#: (level, message) of every outcome reported after the operator returned, newest last.
notifications: list[tuple[str, str]] = []
NOTIFICATIONS_KEPT = 20


#: Scripts and tests set this to drive the UI's path in background mode: operators then return at
#: once as they do in the UI, and the caller polls with :func:`tick` (timers never fire there).
ASYNC_IN_BACKGROUND = False


def synchronous() -> bool:
    """Whether operators run their job to the end before returning (background mode)."""
    return bool(bpy.app.background) and not ASYNC_IN_BACKGROUND


def tick() -> bool:
    """Poll every job once, as the UI's timer does; True while any job still runs."""
    return _tick() is not None


def material_key(material: bpy.types.Material) -> str:
    """The job key of a material: its identity (read-only, so panels may call it)."""
    return "MA:" + (identity.get_uid(material) or "unidentified:" + material.name)


def image_key(image: bpy.types.Image) -> str:
    return "IM:" + image.name


def get_job(key: str) -> JobState | None:
    return _jobs.get(key)


def running_jobs() -> list[JobState]:
    return [j for j in (*_jobs.values(), *_detached) if not j.finished]


def client_settings(context: bpy.types.Context | None = None) -> dict:
    """Worker settings from the preferences (defaults when the add-on isn't enabled as such)."""
    prefs = get_preferences(context)
    python = bpy.path.abspath(prefs.python) if prefs is not None and prefs.python else None
    if python is None and not os.environ.get("TEXTURE_FORGE_PYTHON"):
        python = installed_python()  # the engine from Install Engine, if any
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
    """A writable folder of ours: the extension's user directory, else a private per-user folder.

    Never a shared, predictable /tmp path: another user could plant files or links there.
    """
    try:
        return bpy.utils.extension_path_user(ADDON_PACKAGE, path=sub, create=True)
    except (ValueError, AttributeError):  # not installed as an extension (e.g. run from source)
        return logs.private_dir(sub)


def _log_dir() -> str:
    return _user_dir("logs")


def new_output_dir(name: str, context: bpy.types.Context | None = None) -> tuple[str, bool]:
    """A fresh folder for one job's files, and whether it is temporary (removed after import)."""
    base = client_settings(context)["output_folder"]
    temporary = not base
    if temporary:  # ours alone: folders left by a crashed session are cleaned here
        base = _user_dir("jobs")
        logs.clean_stale_folders(base, ("",))
        return logs.make_scratch_dir(base, f"{name}-"), True
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
                     on_preview=on_preview, on_final=on_final, generation=_generation)
    _jobs[key] = state
    return state


def pump(state: JobState) -> None:
    """Apply every message the job has sent since the last call (never blocks).

    Of several previews that arrived since the last call only the newest is shown: the older
    ones are stale, and the client deletes them once it has moved past them.
    """
    if state.finished:
        return
    job = state.job
    newest_preview = None
    final = None
    for msg in job.poll():
        kind = msg.get("type")
        if kind == "progress":
            state.stage = str(msg.get("stage", state.stage))
            total = msg.get("total") or 0
            if total:
                state.progress = max(0.0, min(1.0, float(msg.get("step", 0)) / float(total)))
            now = time.monotonic()
            state.eta, state.eta_at = _estimate(state, now), now
        elif kind == "preview":
            newest_preview = msg
        elif kind in ("result", "error", "cancelled"):
            final = msg
            break
    if newest_preview is not None and final is None and not state.abandoned:
        _show_preview(state, newest_preview)
    if final is None and job.done:
        final = job.final or {"type": "error", "message": "the engine stopped unexpectedly"}
    if final is not None:
        _finish(state, final)


def _show_preview(state: JobState, msg: dict) -> None:
    """A preview that cannot be shown is skipped, never an error: the next one follows shortly."""
    try:
        state.on_preview(state, msg)
    except Exception as exc:  # noqa: BLE001
        print(f"Texture Forge: preview skipped ({type(exc).__name__}: {exc})")


def _finish(state: JobState, msg: dict) -> None:
    state.finished = True
    if state.undone and msg.get("type") in ("result", "cancelled"):
        # Cancelled by undo, or it ended before the cancel arrived: either way the scene it was
        # made for has been undone, and the result is never applied.
        msg = {"type": "cancelled", "message": UNDONE_MESSAGE}
    kind = msg.get("type")
    state.progress = 1.0 if kind == "result" else state.progress
    state.stage = {"result": "done", "cancelled": "cancelled"}.get(kind, "failed")
    try:
        if state.abandoned or state.generation != _generation:
            # Its file was closed: the result belongs to no material of the open file.
            state.abandoned = True
            state.stage, state.message = "cancelled", "cancelled: another file was opened"
        else:
            state.on_final(state, msg)
    except Exception as exc:
        state.message = f"could not import the result: {type(exc).__name__}: {exc}"
        state.stage = "failed"
    finally:
        discard_output_dir(state.output_dir, state.temporary_dir)
        release = getattr(state.job, "release_previews", None)
        if release is not None:
            release()
    if state.notify and not state.abandoned:
        if state.stage == "failed":
            notify("ERROR", f"Texture Forge: {state.message}")
        elif state.stage == "done":
            notify("INFO", f"Texture Forge: {state.message}")


def notify(level: str, message: str) -> None:
    """Report an outcome after the operator has returned: the status bar and Info log show it
    (through ``texture_forge.notify``); :data:`notifications` keeps it for scripts and tests."""
    notifications.append((level, message))
    del notifications[:-NOTIFICATIONS_KEPT]
    print(message)
    if bpy.app.background:
        return
    wm = getattr(bpy.context, "window_manager", None)
    windows = list(wm.windows) if wm is not None else []
    if not windows:
        return
    try:
        with bpy.context.temp_override(window=windows[0]):
            bpy.ops.texture_forge.notify(level=level, message=message)
    except Exception as exc:  # noqa: BLE001 - a report must never break the timer
        print(f"Texture Forge: could not show the report ({exc})")


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
    for state in [*_jobs.values(), *_detached]:
        try:
            pump(state)
        except Exception as exc:  # noqa: BLE001 - a timer that raises is never called again
            state.finished, state.stage, state.message = True, "failed", f"{type(exc).__name__}: {exc}"
    _detached[:] = [s for s in _detached if not s.finished]
    _redraw()
    return POLL_INTERVAL if running_jobs() else None


def ensure_timer() -> None:
    """Poll from a persistent timer: it keeps running across File → Open (the handlers below
    decide what happens to the jobs of the closed file)."""
    if not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=POLL_INTERVAL, persistent=True)


UNDONE_MESSAGE = "cancelled by undo"


@bpy.app.handlers.persistent
def _on_undo(*_args: object) -> None:
    """Ctrl-Z (or redo) while a job runs: cancel it. Its result was made for a state that is gone;
    applied afterwards it would land on the undone scene as a change nobody can undo."""
    for state in _jobs.values():
        if not state.finished:
            state.undone = True
            cancel(state.key)


@bpy.app.handlers.persistent
def _on_load_pre(*_args: object) -> None:
    """Another file is being opened: cancel this file's jobs; they never apply their result."""
    global _generation
    _generation += 1
    for state in _jobs.values():
        if not state.finished:
            state.abandoned = True
            state.stage = "cancelling"
            try:
                state.job.cancel()
            except Exception:  # noqa: BLE001
                pass
            _detached.append(state)
    _jobs.clear()


@bpy.app.handlers.persistent
def _on_load_post(*_args: object) -> None:
    """The new file is open: keep polling the cancelled jobs until the engine confirms."""
    if _detached and not synchronous():
        ensure_timer()


def _handler_pairs() -> tuple:
    h = bpy.app.handlers
    return ((h.load_pre, _on_load_pre), (h.load_post, _on_load_post), (h.undo_pre, _on_undo),
            (h.redo_pre, _on_undo))


def register_handlers() -> None:
    for handlers, fn in _handler_pairs():
        if fn not in handlers:
            handlers.append(fn)


def unregister_handlers() -> None:
    for handlers, fn in _handler_pairs():
        while fn in handlers:
            handlers.remove(fn)


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
    unregister_handlers()
    for state in [*_jobs.values(), *_detached]:
        if not state.finished:
            try:
                state.job.cancel()
            except Exception:
                pass
            discard_output_dir(state.output_dir, state.temporary_dir)
    _jobs.clear()
    _detached.clear()
    if _client is not None:
        try:
            _client.shutdown()
        except Exception:
            pass
    _client = None
    _client_key = None
