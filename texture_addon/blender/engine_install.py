"""Install Engine / Repair / Remove in the add-on preferences, and the engine Generate falls back to.

The work itself is :mod:`texture_addon.install` (stdlib, no bpy); this module decides where the
engine lives, runs the installer the Blender way and draws its state:

* the engine folder is the extension's user folder (``extension_path_user(…, "engine")``), which
  survives upgrades of the extension; run from source (not as an extension) it is a per-user folder
  (see :func:`texture_addon.install.default_user_root`) and the preferences say so;
* in background mode (``blender -b``, the bpy module) the operators block until done, because
  timers never fire there; in the UI the install runs in a thread and a timer redraws the progress
  bar, stage text and Cancel button;
* :func:`installed_python` is what :func:`job_runner.client_settings` uses when no Python
  Interpreter is set.

A startup script can drive it headless: ``bpy.ops.texture_forge.install_engine()``, then read the
preference ``engine_status`` (computed by :func:`status_text` on every read, never saved).
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import threading
import time

import bpy

from ..install import InstallError, Installer, Progress, describe_probe, pins, run_probe
from .addon import ADDON_PACKAGE, engine_dir, engine_root, get_preferences, installed_python

POLL_INTERVAL = 0.25

OFFLINE_MESSAGE = ("Online access is off, so the engine cannot be downloaded: turn on Preferences → System → "
                   "Network → Allow Online Access, then press Install Engine again")
OFFLINE_OVERRIDE_MESSAGE = ("Online access is off: Blender was started with --offline-mode, so the engine cannot "
                            "be downloaded; restart Blender without it (with Preferences → System → Network → "
                            "Allow Online Access on), then press Install Engine again")


class _Task:
    """The install running in this Blender session (at most one)."""

    def __init__(self, installer: Installer, action: str) -> None:
        self.installer = installer
        self.action = action
        self.thread: threading.Thread | None = None
        self.done = False
        self.error: str | None = None
        self.cancelled = False
        self.record: dict | None = None
        self.started = time.monotonic()
        self.reported = False  # the UI's timer has announced the outcome

    def run(self) -> None:
        try:
            self.record = self.installer.run()
        except InstallError as exc:
            self.error = str(exc)
            self.cancelled = self.installer.cancelled
        except Exception as exc:  # a bug must still end the task, never leave the UI "installing"
            self.error = f"install failed: {type(exc).__name__}: {exc}"
        finally:
            self.done = True


_task: _Task | None = None
_last_message: str = ""          # outcome of the last install / repair / remove, shown under the status
_probe_cache: dict[str, dict] = {}  # env name -> probe run in this session
_probing: set[str] = set()


# ---------------------------------------------------------------------- where the engine lives

def blender_python() -> str:
    """The Python that runs Blender (its bundled one; in the bpy module, the host Python).

    Since Blender 2.91 ``sys.executable`` is that interpreter; older ones point it at Blender.
    """
    exe = sys.executable
    if exe and os.path.isfile(exe) and not os.path.basename(exe).lower().startswith("blender"):
        return exe
    for name in (f"python{sys.version_info[0]}.{sys.version_info[1]}", "python3", "python", "python.exe"):
        candidate = os.path.join(sys.prefix, "bin", name)
        if os.path.isfile(candidate):
            return candidate
    return exe


def online_access_problem() -> str | None:
    """Why downloading is not allowed right now (Blender's Allow Online Access), else None."""
    if getattr(bpy.app, "online_access", True):
        return None
    if getattr(bpy.app, "online_access_override", False):
        return OFFLINE_OVERRIDE_MESSAGE
    return OFFLINE_MESSAGE


def has_nvidia_gpu() -> bool:
    """Whether this computer shows an NVIDIA GPU with its driver (what a CUDA build needs).

    Read from the driver's files, never by importing torch: Blender's Python has none.
    """
    if sys.platform.startswith("linux"):
        return os.path.exists("/proc/driver/nvidia/version") or bool(glob.glob("/dev/nvidia[0-9]*"))
    if sys.platform.startswith("win"):
        system32 = os.path.join(os.environ.get("SystemRoot", r"C:\Windows"), "System32")
        return shutil.which("nvidia-smi") is not None or os.path.isfile(os.path.join(system32, "nvidia-smi.exe"))
    return False


def effective_build(build: str) -> str:
    """The build Install Engine downloads for ``build``: *Automatic* on Linux without an NVIDIA GPU
    is the CPU build (about 230 MB instead of 3 GB of CUDA libraries nothing could use)."""
    if build == "AUTO" and pins.platform_key().startswith("linux") and not has_nvidia_gpu():
        return "CPU"
    return build


def build_text(build: str) -> str:
    """The sentence under the build choice: what will be downloaded, and why when Automatic chose."""
    chosen = effective_build(build)
    size = f"torch {pins.TORCH_VERSION}: {pins.size_text(chosen)}"
    if chosen != build:
        return f"No NVIDIA GPU found, so Automatic installs the CPU build ({size})"
    return size


# ---------------------------------------------------------------------- status

def installing() -> bool:
    return _task is not None and not _task.done


def current_progress() -> Progress | None:
    return _task.installer.progress if installing() else None


def status_text() -> str:
    """One line for the preferences (and startup scripts): installing / ready / broken / absent."""
    if installing():
        p = _task.installer.progress
        return f"{_task.action}: {p.stage} ({p.fraction:.0%})"
    try:
        d = engine_dir()
        record = d.record()
    except OSError as exc:
        return f"engine folder not usable: {exc}"
    if record is None:
        return "engine not installed"
    if d.python() is None:
        return "engine broken: its Python is missing (press Repair)"
    probe = _probe_cache.get(str(record.get("env"))) or record.get("probe") or {}
    return describe_probe(probe) if probe else "engine installed (not checked yet)"


def last_message() -> str:
    return _last_message


def refresh_probe(block: bool = False) -> None:
    """Run the probe in the live engine again (a thread unless ``block``), e.g. after Blender or the
    GPU driver changed. The result replaces the cached one in current.json."""
    if installing():  # the install probes its new environment itself and rewrites current.json
        return
    d = engine_dir()
    record, python = d.record(), d.python()
    if record is None or python is None:
        return
    env = str(record.get("env"))
    if env in _probing:
        return

    def probe() -> None:
        try:
            result = run_probe(python)
            _probe_cache[env] = result
            if (d.record() or {}).get("env") == env and not installing():
                d.update_record(probe=result)
        finally:
            _probing.discard(env)
    _probing.add(env)
    if block:
        probe()
    else:
        threading.Thread(target=probe, name="texture-forge-engine-probe", daemon=True).start()


# ---------------------------------------------------------------------- running an install

def _worker_may_release() -> bool:
    """Before switching environments: stop the warm worker so the old one can be deleted.

    Returns False (keep the old environment until the next install) while a job is running.
    """
    from . import job_runner

    if job_runner.running_jobs():
        return False
    client = job_runner._client
    if client is not None:
        try:
            client.shutdown()
        except Exception:
            pass
    return True


def start_install(action: str, build: str, index_url: str, block: bool,
                  min_free_mb: int | None = None) -> _Task:
    """Start (or, with ``block``, run to the end) an install; raises InstallError if it can't start."""
    global _task, _last_message
    if installing():
        raise InstallError("the engine is already being installed; wait for it or press Cancel")
    installer = Installer(engine_dir(), blender_python(), build=build, index_url=index_url,
                          before_switch=_worker_may_release, min_free_mb=min_free_mb)
    task = _Task(installer, action)
    _task = task
    _last_message = ""
    if block:
        task.run()
        _finish(task)
    else:
        task.thread = threading.Thread(target=task.run, name="texture-forge-engine-install", daemon=True)
        task.thread.start()
        if not bpy.app.timers.is_registered(_tick):
            bpy.app.timers.register(_tick, first_interval=POLL_INTERVAL)
    return task


def _finish(task: _Task) -> None:
    global _last_message
    if task.record is not None:
        env = str(task.record.get("env"))
        _probe_cache[env] = task.record.get("probe") or {}
        _last_message = f"{task.action} finished: " + describe_probe(task.record.get("probe") or {})
    elif task.cancelled:
        _last_message = "install cancelled; the previous engine (if any) is unchanged"
    else:
        _last_message = task.error or "install failed"


def cancel_install() -> bool:
    if not installing():
        return False
    _task.installer.cancel()
    return True


def _tick() -> float | None:
    task = _task
    if task is not None and task.done and not task.reported:
        _finish(task)
        task.reported = True
        from . import job_runner

        # The operator returned long ago: the status bar and Info log tell how it ended.
        level = "INFO" if task.record is not None else "WARNING" if task.cancelled else "ERROR"
        job_runner.notify(level, "Texture Forge: " + _last_message.splitlines()[0])
    _redraw()
    return POLL_INTERVAL if installing() else None


def tick() -> bool:
    """Follow a running install once, as the UI's timer does; True while it still runs. For
    scripts that drive the UI path in background mode (``job_runner.ASYNC_IN_BACKGROUND``)."""
    return _tick() is not None


def synchronous() -> bool:
    """Whether the operators block (background mode), following :func:`job_runner.synchronous`."""
    from . import job_runner

    return job_runner.synchronous()


def _redraw() -> None:
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


def remove_engine() -> str:
    """Delete the installed engine (and any leftovers); returns what was done. Raises InstallError."""
    from . import job_runner

    if installing():
        raise InstallError("the engine is being installed; cancel the install first")
    d = engine_dir()
    python = d.python()
    if python is not None and job_runner.running_jobs():
        raise InstallError("a Generate job is running on the engine; wait for it or cancel it first")
    if not _worker_may_release():
        raise InstallError("a Generate job is running on the engine; wait for it or cancel it first")
    try:
        d.acquire()
    except Exception as exc:
        raise InstallError(str(exc)) from None
    try:
        old = d.clear_current()
        for path in d.leftovers():
            d.discard(path)  # instant: the engine is gone for Generate from here on
    finally:
        d.release()
    _probe_cache.clear()
    if synchronous():  # scripts expect the space to be free when the operator returns
        failed = d.empty_trash()
    else:  # thousands of files: never on Blender's main thread
        threading.Thread(target=d.empty_trash, name="texture-forge-engine-remove", daemon=True).start()
        failed = []
    if old is None and not failed:
        return "no engine was installed"
    if failed:
        return "engine removed; some files are in use and stay until the next install: " + ", ".join(failed)
    return "engine removed"


def shutdown() -> None:
    """Unregister: cancel a running install and wait briefly so nothing is left half-done."""
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    task = _task
    if task is not None and not task.done:
        task.installer.cancel()
        if task.thread is not None:
            task.thread.join(timeout=15.0)


# ---------------------------------------------------------------------- operators

def _settings(context: bpy.types.Context) -> tuple[str, str]:
    prefs = get_preferences(context)
    if prefs is None:
        return "AUTO", ""
    return prefs.torch_build, prefs.torch_index_url


def _same_install(record: dict | None, build: str, index_url: str) -> bool:
    return (record is not None and record.get("build") == build
            and (build != "CUSTOM" or record.get("index_url") == index_url.strip())
            and record.get("requirements") == list(pins.ENGINE_REQUIREMENTS))


def _min_free_property() -> bpy.props.IntProperty:
    return bpy.props.IntProperty(
        name="Minimum Free Space (MB)", default=-1, options={"SKIP_SAVE", "HIDDEN"},
        description="Free disk space to require before starting; -1: estimated from the build")


class _InstallBase:
    action = "install"
    force = False

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        offline = online_access_problem()
        if offline:  # greyed out, the reason on hover: never a button that only refuses when pressed
            cls.poll_message_set(offline)
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        global _last_message
        offline = online_access_problem()
        if offline:
            _last_message = offline
            self.report({"ERROR"}, "Texture Forge: " + offline)
            return {"CANCELLED"}
        build, index_url = _settings(context)
        build = effective_build(build)
        try:
            pins.torch_index_args(build, index_url)
        except ValueError as exc:
            _last_message = str(exc)
            self.report({"ERROR"}, "Texture Forge: " + str(exc))
            return {"CANCELLED"}
        d = engine_dir()
        if not self.force and d.python() is not None and _same_install(d.record(), build, index_url):
            probe = _probe_cache.get(str((d.record() or {}).get("env"))) or (d.record() or {}).get("probe") or {}
            if probe.get("ok"):
                self.report({"INFO"}, "Texture Forge: already installed (" + describe_probe(probe)
                            + "); press Repair to install it again")
                return {"FINISHED"}
        self.report({"INFO"}, f"Texture Forge: {self.action} engine: torch {pins.TORCH_VERSION}, "
                              f"{pins.size_text(build)}")
        block = synchronous()
        try:
            task = start_install(self.action, build, index_url, block,
                                 None if self.min_free_mb < 0 else self.min_free_mb)
        except InstallError as exc:
            self.report({"ERROR"}, "Texture Forge: " + str(exc))
            return {"CANCELLED"}
        if not block:
            return {"FINISHED"}
        if task.record is not None:
            self.report({"INFO"}, "Texture Forge: " + _last_message)
            return {"FINISHED"}
        self.report({"WARNING"} if task.cancelled else {"ERROR"}, "Texture Forge: " + _last_message)
        return {"CANCELLED"}


class TEXTURE_FORGE_OT_install_engine(_InstallBase, bpy.types.Operator):
    """Download PyTorch and the engine's packages into a private Python environment for Generate"""

    bl_idname = "texture_forge.install_engine"
    bl_label = "Install Engine"

    min_free_mb: _min_free_property()


class TEXTURE_FORGE_OT_repair_engine(_InstallBase, bpy.types.Operator):
    """Install the engine again from scratch (the current one keeps working until the new one passes its check)"""

    bl_idname = "texture_forge.repair_engine"
    bl_label = "Repair Engine"
    action = "repair"
    force = True

    min_free_mb: _min_free_property()


class TEXTURE_FORGE_OT_remove_engine(bpy.types.Operator):
    """Delete the installed engine environment (Generate then needs a Python Interpreter or a new install)"""

    bl_idname = "texture_forge.remove_engine"
    bl_label = "Remove Engine"

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        return context.window_manager.invoke_confirm(self, event)

    def execute(self, context: bpy.types.Context) -> set[str]:
        global _last_message
        try:
            _last_message = remove_engine()
        except InstallError as exc:
            self.report({"ERROR"}, "Texture Forge: " + str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, "Texture Forge: " + _last_message)
        return {"FINISHED"}


class TEXTURE_FORGE_OT_cancel_engine_install(bpy.types.Operator):
    """Stop the engine install; the previous engine (if any) stays as it was"""

    bl_idname = "texture_forge.cancel_engine_install"
    bl_label = "Cancel Install"

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not cancel_install():
            self.report({"WARNING"}, "Texture Forge: no engine install is running")
            return {"CANCELLED"}
        return {"FINISHED"}


class TEXTURE_FORGE_OT_check_engine_install(bpy.types.Operator):
    """Ask the installed engine again which torch and device it has (runs in the background)"""

    bl_idname = "texture_forge.check_engine_install"
    bl_label = "Check Installed Engine"

    def execute(self, context: bpy.types.Context) -> set[str]:
        refresh_probe(block=synchronous())
        if not synchronous() and not bpy.app.timers.is_registered(_refresh_tick):
            bpy.app.timers.register(_refresh_tick, first_interval=0.5)
        self.report({"INFO"}, "Texture Forge: " + status_text())
        return {"FINISHED"}


def _refresh_tick() -> float | None:
    _redraw()
    return 0.5 if _probing else None


# ---------------------------------------------------------------------- drawing

_first_draw_probe_done = False


def draw(prefs: bpy.types.AddonPreferences, layout: bpy.types.UILayout,
         context: bpy.types.Context | None = None) -> None:
    """The Engine box of the preferences: status, build choice and size, buttons or progress."""
    global _first_draw_probe_done
    from .text_wrap import draw_wrapped

    context = context or bpy.context
    box = layout.box()
    box.label(text="Installed Engine (PyTorch for Generate)", icon="SCRIPT")
    status = status_text()
    ready = status.startswith("engine ready")
    draw_wrapped(box, context, status, icon="CHECKMARK" if ready else "INFO",
                 alert=status.startswith("engine broken"))
    if not _first_draw_probe_done and not installing():
        _first_draw_probe_done = True  # once a session: the cached probe may predate a driver change
        refresh_probe()
        if not bpy.app.timers.is_registered(_refresh_tick):
            bpy.app.timers.register(_refresh_tick, first_interval=0.5)
    progress = current_progress()
    if progress is not None:
        row = box.row()
        if hasattr(row, "progress"):
            row.progress(text=progress.stage, factor=progress.fraction, type="BAR")
        else:  # Blender < 4.0
            row.label(text=f"{progress.stage} {progress.fraction:.0%}")
        row.operator("texture_forge.cancel_engine_install", text="Cancel", icon="CANCEL")
    else:
        col = box.column()
        col.prop(prefs, "torch_build")
        if prefs.torch_build == "CUSTOM":
            col.prop(prefs, "torch_index_url")
        # wrapped: the Custom build's sentence is wider than the Preferences window Blender opens
        draw_wrapped(col, context, build_text(prefs.torch_build))
        row = box.row()
        if engine_dir().record() is None:
            row.operator("texture_forge.install_engine", icon="IMPORT")
        else:
            row.operator("texture_forge.repair_engine", text="Repair", icon="FILE_REFRESH")
            row.operator("texture_forge.remove_engine", text="Remove", icon="TRASH")
            row.operator("texture_forge.check_engine_install", text="", icon="VIEWZOOM")
        if online_access_problem():  # the buttons above are greyed out: say why under them
            draw_wrapped(box, context, "Online access is off, so Install is greyed out: Preferences → "
                                       "System → Network → Allow Online Access", icon="ERROR")
    if _last_message:
        draw_wrapped(box, context, "\n".join(_last_message.splitlines()[:8]),
                     alert=not _last_message.startswith(("install finished", "repair finished", "engine removed")))
    root, is_extension = engine_root()
    if not is_extension:
        draw_wrapped(box, context, f"Not installed as an extension: the engine goes to {root}", icon="INFO")
    if prefs.python:
        draw_wrapped(box, context, "The Python Interpreter above is set, so Generate uses it, not this engine",
                     icon="INFO")


def draw_panel_hint(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """In the Texture Forge panel: say where the engine comes from when Generate has none yet
    (no Python Interpreter, no $TEXTURE_FORGE_PYTHON, nothing installed), or how the install goes."""
    progress = current_progress()
    if progress is not None:
        layout.label(text=f"Installing the engine: {progress.stage} {progress.fraction:.0%}", icon="IMPORT")
        return
    prefs = get_preferences(context)
    if (prefs is not None and prefs.python) or os.environ.get("TEXTURE_FORGE_PYTHON") or installed_python():
        return
    box = layout.box()
    box.label(text="No engine installed yet", icon="INFO")
    op = box.operator("preferences.addon_show", text="Install Engine in Preferences…", icon="PREFERENCES")
    op.module = ADDON_PACKAGE


CLASSES = (
    TEXTURE_FORGE_OT_install_engine,
    TEXTURE_FORGE_OT_repair_engine,
    TEXTURE_FORGE_OT_remove_engine,
    TEXTURE_FORGE_OT_cancel_engine_install,
    TEXTURE_FORGE_OT_check_engine_install,
)
