"""The Blender side of the worker: spawn the engine process, send jobs, collect messages. Stdlib only.

Blender's UI thread calls :meth:`Job.poll` from a timer; it never blocks. Two daemon threads per
worker process read its stdout (JSON messages, routed to each job's queue) and its stderr (the
last lines are kept to explain a crash), and a third waits for the process to exit so that a
killed or crashed worker turns the running job's final message into an error within moments
instead of leaving the UI waiting forever.

The worker stays warm between jobs until its idle timeout, so only the first job pays for
starting Python and importing torch.
"""

from __future__ import annotations

import atexit
import collections
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ...contract import messages as msg
from ...contract import protocol
from ...contract.spec import JobSpec
from ... import logs
from ...errors import TextureForgeError
from .command_pipe import CommandPipe

#: Folder that contains the ``texture_addon`` package: it goes on the worker's PYTHONPATH, because
#: inside Blender this package is imported under a longer name (``bl_ext.….texture_addon``).
PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])
STDERR_LINES = 50
#: Restart rather than reuse a worker this close to its idle exit, so a job is never sent to a
#: process that is about to leave.
IDLE_MARGIN_SECONDS = 5.0
#: Log files kept in the log folder: the newest this many, none older than this.
LOGS_KEPT = 100
LOG_MAX_AGE_SECONDS = 14 * 24 * 3600


def prune_logs(log_dir: str, keep: int = LOGS_KEPT, max_age: float = LOG_MAX_AGE_SECONDS) -> int:
    """Delete old worker and job logs so a folder used for months stays small; returns how many.

    Only our own names (``worker_*.log``, ``job_*.log``) are touched: the folder may be shared.
    Several workers may start at once (a batch bake with ``--jobs``) and prune the same folder, so
    a file vanishing under us is expected, not an error.
    """
    dated = []
    try:
        for entry in os.scandir(log_dir):
            if entry.name.endswith(".log") and entry.name.startswith(("worker_", "job_")):
                try:
                    dated.append((entry.stat().st_mtime, entry.path))
                except OSError:
                    continue  # removed by a neighbour meanwhile
    except OSError:
        return 0
    dated.sort(reverse=True)
    now = time.time()
    removed = 0
    for index, (mtime, path) in enumerate(dated):
        if index >= keep or now - mtime > max_age:
            try:
                os.remove(path)
                removed += 1
            except OSError:
                pass
    return removed


class WorkerBusy(TextureForgeError):
    """A job is already running on this client; cancel it or wait for it before starting another."""


def find_python(preferred: str | None = None) -> str:
    """The interpreter that runs the engine: ``preferred`` > $TEXTURE_FORGE_PYTHON > this one > python3.

    Inside Blender, ``sys.executable`` is Blender's bundled Python, which usually lacks torch; the
    add-on preferences pass the artist's choice as ``preferred`` and :meth:`WorkerClient.check`
    says how to fix an interpreter without torch.
    """
    for source, candidate in (("the chosen Python", preferred),
                              ("TEXTURE_FORGE_PYTHON", os.environ.get("TEXTURE_FORGE_PYTHON"))):
        if candidate:
            resolved = _resolve_executable(candidate)
            if resolved is None:
                raise TextureForgeError(f"Python interpreter not found: {candidate} ({source}); "
                                        "choose an existing Python in the add-on preferences")
            return resolved
    if sys.executable and os.path.isfile(sys.executable):
        return sys.executable
    found = shutil.which("python3") or shutil.which("python")
    if found:
        return found
    raise TextureForgeError("no Python interpreter found: set one in the add-on preferences "
                            "or the TEXTURE_FORGE_PYTHON environment variable")


def _resolve_executable(candidate: str) -> str | None:
    path = os.path.expanduser(candidate)
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return os.path.abspath(path)
    return shutil.which(candidate)


class Job:
    """One job sent to the worker. Attributes reflect every message seen by :meth:`poll` so far.

    ``progress`` is 0…1 over the whole job, ``eta`` seconds left (None until known), ``stage`` the
    engine's current stage (or ``"queued"``, ``"started"``, ``"done"``, ``"error"``,
    ``"cancelled"``), ``last_preview`` the newest preview PNG, ``final`` the result, error or
    cancelled message once ``done``.
    """

    def __init__(self, job_id: str, spec: JobSpec, client: "WorkerClient", process: "_WorkerProcess") -> None:
        self.id = job_id
        self.spec = spec
        self.done = False
        self.final: dict | None = None
        self.progress = 0.0
        self.eta: float | None = None
        self.stage = "queued"
        self.last_preview: str | None = None
        self.last_error: str | None = None
        self.submitted_at = time.monotonic()
        self._client = client
        self._process = process
        self._inbox: queue.Queue[dict] = queue.Queue()
        self._lock = threading.Lock()
        self._final_delivered = False  # set by reader threads, before the caller has polled
        self._previews_given: list[str] = []  # preview files handed to the caller, oldest first

    # -------------------------------------------------------------- caller side

    def poll(self) -> list[dict]:
        """Messages that arrived since the last poll, oldest first. Never blocks.

        Preview files belong to the caller once handed over: the worker never deletes them, so
        one is never gone before the UI reads it however late the UI polls. They are deleted here,
        once superseded: at each poll, those handed over by earlier polls except the newest
        (which the UI may still show); all of them once the job has ended and was polled again,
        or on :meth:`release_previews`. Only the newest preview of a batch is worth reading.
        """
        self._prune_previews(keep_newest=not self.done)
        messages = []
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                return messages
            self._apply(message)
            messages.append(message)

    def release_previews(self) -> None:
        """Delete every preview file of this job (the caller is done reading them)."""
        self._prune_previews(keep_newest=False)

    def _prune_previews(self, keep_newest: bool) -> None:
        given = self._previews_given
        drop, self._previews_given = (given[:-1], given[-1:]) if keep_newest else (given, [])
        for path in drop:
            try:
                os.remove(path)
            except OSError:
                pass  # already gone with the preview folder of an exited worker

    def wait(self, timeout: float | None = None) -> dict:
        """Block until the final message (result, error or cancelled) and return it.

        Raises ``TimeoutError`` if it has not arrived within ``timeout`` seconds. Not for Blender's
        UI thread (use :meth:`poll` from a timer there); meant for scripts and tests.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self.poll()
        while not self.done:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"job {self.id} did not finish within {timeout} s (stage: {self.stage})")
            try:
                message = self._inbox.get(timeout=remaining)
            except queue.Empty:
                continue
            self._apply(message)
        assert self.final is not None
        return self.final

    def cancel(self) -> None:
        """Ask the worker to stop this job; its final message will be ``cancelled`` (or a result
        that finished first). Returns at once."""
        if self._final_delivered:
            return
        if not self._process.send(msg.CancelCommand(job=self.id).to_dict()):
            # No worker to tell: the exit watcher delivers the final message.
            pass

    # -------------------------------------------------------------- reader-thread side

    def _deliver(self, message: dict) -> bool:
        """Queue a message for :meth:`poll`; drop anything after the first final message."""
        with self._lock:
            if self._final_delivered:
                return False
            if message.get("type") in protocol.FINAL_TYPES:
                self._final_delivered = True
        self._inbox.put(message)
        return True

    def _apply(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "started":
            self.stage = "started"
        elif kind == "progress":
            total = max(1, int(message.get("total") or 1))
            self.progress = min(1.0, max(0.0, float(message.get("step") or 0) / total))
            self.eta = message.get("eta")
            self.stage = str(message.get("stage") or self.stage)
        elif kind == "preview":
            self.last_preview = message.get("path")
            if isinstance(self.last_preview, str):
                self._previews_given.append(self.last_preview)
        elif kind in protocol.FINAL_TYPES:
            self.done = True
            self.final = message
            self.eta = None
            if kind == "result":
                self.progress, self.stage = 1.0, "done"
            elif kind == "error":
                self.stage = "error"
                self.last_error = str(message.get("message"))
            else:
                self.stage = "cancelled"

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.stage} {self.progress:.0%}>"


class _WorkerProcess:
    """One running ``python -m texture_addon.worker`` and the threads that listen to it."""

    def __init__(self, python: str, device: str, idle_timeout: float, log_dir: str) -> None:
        self.key = (python, device, idle_timeout, log_dir)
        self.idle_timeout = idle_timeout
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self.ready = threading.Event()   # set on "ready", "fatal" or exit
        self.info: dict | None = None    # the "ready" or "fatal" message
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.finished = False
        self.stopping = False
        self.returncode: int | None = None
        self.last_activity = time.monotonic()
        try:
            os.makedirs(log_dir, exist_ok=True)
        except OSError as exc:
            raise TextureForgeError(f"cannot create the log folder {log_dir}: {exc}") from exc
        prune_logs(log_dir)
        # The client owns the preview folder, so it is removed even when the worker is killed; it
        # lives in a private per-user folder, where folders left by a crashed Blender are cleaned.
        try:
            previews = logs.private_dir("previews")
            logs.clean_stale_folders(previews, ("preview-",))
            self.preview_dir = logs.make_scratch_dir(previews, "preview-")
        except OSError:
            self.preview_dir = tempfile.mkdtemp(prefix="texture_forge_preview_")
        env = dict(os.environ)
        env["PYTHONNOUSERSITE"] = "1"  # a torch in ~/.local must not shadow the chosen interpreter's
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        cmd = [python, "-m", "texture_addon.worker", "--device", device,
               "--idle-timeout", repr(float(idle_timeout)), "--log-dir", log_dir, "--preview-dir", self.preview_dir]
        self.commands = CommandPipe()
        try:
            self.popen = subprocess.Popen(
                cmd, stdin=self.commands.stdin_for_popen(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, close_fds=True,
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0) if os.name == "nt" else 0)
        except OSError as exc:
            self.commands.abandon()
            shutil.rmtree(self.preview_dir, ignore_errors=True)
            raise TextureForgeError(f"cannot start the engine with {python}: {exc}") from exc
        self.commands.attach(self.popen)
        try:  # created exclusively: never appended to a file someone else placed there
            self._log_file, self.stderr_log = logs.create_log(log_dir, f"worker_{self.popen.pid}-")
        except OSError:
            self._log_file, self.stderr_log = None, os.path.join(log_dir, f"worker_{self.popen.pid}.log")
        self._send_lock = threading.Lock()
        self._stdout_thread = self._thread(self._read_stdout, "stdout")
        self._stderr_thread = self._thread(self._read_stderr, "stderr")
        self._thread(self._watch_exit, "exit")

    def _thread(self, target: Any, what: str) -> threading.Thread:
        t = threading.Thread(target=target, name=f"texture-forge-worker-{self.popen.pid}-{what}", daemon=True)
        t.start()
        return t

    @property
    def alive(self) -> bool:
        return not self.finished and self.popen.poll() is None

    def near_idle_exit(self) -> bool:
        if self.idle_timeout <= 0 or any(not j._final_delivered for j in self.jobs.values()):
            return False
        margin = min(IDLE_MARGIN_SECONDS, self.idle_timeout * 0.2)
        return time.monotonic() - self.last_activity > self.idle_timeout - margin

    def register(self, job: Job) -> bool:
        with self.lock:
            if self.finished:
                return False
            self.jobs[job.id] = job
            return True

    def send(self, command: dict) -> bool:
        """Write one command; False if the worker is gone (its exit watcher reports that).

        Blender does not ignore SIGPIPE: writing to a pipe whose reader has exited would kill it
        on the spot, unsaved work and all. So an exited process is never written to (``poll()``
        first), and a process that exits between that check and the write (the error surfaces as
        BrokenPipeError, see command_pipe.py) still only makes this return False.
        """
        with self._send_lock:
            if self.finished or self.popen.poll() is not None:
                return False
            try:
                self.commands.write(protocol.encode(command))
                return True
            except (OSError, ValueError):  # BrokenPipeError is an OSError; ValueError: pipe closed
                return False

    def stop(self, grace: float = 3.0) -> None:
        """Ask politely, then close the pipe, then kill: the worker is gone when this returns."""
        self.stopping = True
        self.send(msg.ShutdownCommand().to_dict())
        with self._send_lock:
            self.commands.close()
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    # -------------------------------------------------------------- listener threads

    def _read_stdout(self) -> None:
        for raw in iter(self.popen.stdout.readline, b""):
            try:
                data = protocol.decode(raw)
            except ValueError:
                self.stderr_tail.append("[stdout] " + raw.decode("utf-8", "replace").rstrip())
                continue
            try:
                message = msg.parse_message(data).to_dict()
            except msg.MessageError as exc:
                # Off-contract: say so; a job it names fails in words rather than waiting forever.
                self.stderr_tail.append(f"[protocol] {exc}")
                job = self.jobs.get(data.get("job") if isinstance(data.get("job"), str) else "")
                if job is not None and data.get("type") in msg.FINAL_TYPES:
                    job._deliver(msg.Error(job=job.id, error_type="ProtocolError",
                                           message=f"the engine sent an unreadable message: {exc}").to_dict())
                continue
            kind = message.get("type")
            if kind in ("ready", "fatal"):
                self.info = message
                self.ready.set()
            job = self.jobs.get(message.get("job") or "")
            if job is not None:
                if job._deliver(message) and kind in protocol.FINAL_TYPES:
                    self.last_activity = time.monotonic()
            elif kind == "error":
                self.stderr_tail.append(f"[worker] {message.get('message')}")

    def _read_stderr(self) -> None:
        log = self._log_file
        try:
            for raw in iter(self.popen.stderr.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                self.stderr_tail.append(line)
                if log:
                    log.write(line + "\n")
                    log.flush()
        finally:
            if log:
                log.close()

    def _watch_exit(self) -> None:
        code = self.popen.wait()
        with self._send_lock:
            self.commands.close()  # nobody reads it any more; frees the socket
        self._stdout_thread.join(timeout=2.0)  # deliver what the worker said before it died
        self._stderr_thread.join(timeout=1.0)
        shutil.rmtree(self.preview_dir, ignore_errors=True)
        with self.lock:
            self.finished = True
            self.returncode = code
            pending = [j for j in self.jobs.values() if not j._final_delivered]
        self.ready.set()
        for job in pending:
            job._deliver(self._exit_message(job.id, code))

    def _exit_message(self, job_id: str, code: int) -> dict:
        if self.stopping:
            return {"type": "cancelled", "job": job_id}
        if self.info and self.info.get("type") == "fatal":
            return {"type": "error", "job": job_id, "error_type": self.info.get("error_type", "MissingDependency"),
                    "message": self.info.get("message", "the engine could not start"), "log": self.stderr_log}
        tail = list(self.stderr_tail)
        message = f"the engine process {describe_exit(code)}"
        if tail:
            message += "; its last output:\n" + "\n".join(tail[-15:])
        return {"type": "error", "job": job_id, "error_type": "WorkerCrashed", "message": message,
                "log": self.stderr_log, "stderr": tail, "returncode": code}


def describe_exit(code: int | None) -> str:
    """Words for an exit status, naming the signal (SIGKILL usually means out of memory)."""
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {"SIGKILL": " (killed; often the system running out of memory)",
                "SIGSEGV": " (crashed: segmentation fault)", "SIGABRT": " (aborted)"}.get(name, "")
        return f"was stopped by {name}{hint}"
    if code == protocol.EXIT_MISSING_DEPENDENCIES:
        return "could not import its dependencies"
    return f"exited unexpectedly with status {code}"


class WorkerClient:
    """Starts jobs on a warm engine process; one job at a time.

    ``python``, ``device`` and ``idle_timeout`` may be changed between jobs (e.g. from the add-on
    preferences): the next :meth:`start` or :meth:`check` replaces a worker started with other
    settings.
    """

    def __init__(self, python: str | None = None, device: str = "auto", idle_timeout: float = 300.0,
                 log_dir: str | None = None) -> None:
        self.python = python
        self.device = device
        self.idle_timeout = idle_timeout
        self.log_dir = log_dir or os.path.join(tempfile.gettempdir(), "texture_forge_logs")
        self._lock = threading.RLock()
        self._process: _WorkerProcess | None = None
        self._current: Job | None = None

    @property
    def alive(self) -> bool:
        """True while a worker process is running (warm or busy)."""
        p = self._process
        return p is not None and p.alive

    @property
    def current_job(self) -> Job | None:
        """The job started last, finished or not."""
        return self._current

    def start(self, spec: JobSpec) -> Job:
        """Validate ``spec`` (SpecError lists every problem), send it to the worker, return at once.

        Raises :class:`WorkerBusy` while the previous job has not finished.
        """
        spec.validate(check_files=True)
        with self._lock:
            if self._current is not None and not self._current._final_delivered:
                raise WorkerBusy(f"a job is already running ({self._current.id}); cancel it or wait for it to finish")
            if self._current is not None:
                self._current.release_previews()
            for _attempt in range(2):  # a worker that exits just now is replaced once
                process = self._ensure_process()
                job = Job(uuid.uuid4().hex[:12], spec, self, process)
                if process.register(job) and process.send(msg.RunCommand(job=job.id, spec=spec.to_dict()).to_dict()):
                    self._current = job
                    return job
                process.jobs.pop(job.id, None)
                process.stop(grace=2.0)
            # Twice gone before it took the job: most often an engine that cannot start (torch
            # missing), whose own words say how to fix it. The next start tries a fresh process.
            process.ready.wait(2.0)
            info = process.info or {}
            if info.get("type") == "fatal":
                raise TextureForgeError(str(info.get("message")))
            raise TextureForgeError(f"the engine process {describe_exit(process.popen.poll())} before it "
                                    f"accepted the job: " + " | ".join(list(process.stderr_tail)[-5:]))

    def check(self, timeout: float = 120.0) -> dict:
        """Start (or reuse) the worker and report whether the engine can run, never raising.

        Returns ``{"ok", "python", "torch", "devices", "message"}``; ``message`` is either
        "engine ready: torch 2.13.0, CPU" or a sentence saying how to fix the problem.
        """
        report: dict[str, Any] = {"ok": False, "python": self.python, "torch": None, "devices": [], "message": ""}
        try:
            report["python"] = find_python(self.python)
            with self._lock:
                process = self._ensure_process()
        except TextureForgeError as exc:
            report["message"] = str(exc)
            return report
        if not process.ready.wait(timeout):
            report["message"] = f"the engine did not start within {timeout:g} s ({report['python']})"
            return report
        info = process.info or {}
        if info.get("type") == "ready":
            devices = list(info.get("devices") or [])
            report.update(ok=True, torch=info.get("torch"), devices=devices)
            names = {"cuda": "CUDA", "mps": "Apple Metal", "cpu": "CPU"}
            shown = " + ".join(names.get(d, d) for d in sorted(devices, key=lambda d: d == "cpu"))
            message = f"engine ready: torch {info.get('torch')}, {shown}"
            if info.get("torch") != protocol.TORCH_VERSION:
                message += f" (tested with torch {protocol.TORCH_VERSION}; results may differ)"
            report["message"] = message
        elif info.get("type") == "fatal":
            report["message"] = str(info.get("message"))
        else:
            tail = " | ".join(list(process.stderr_tail)[-5:])
            report["message"] = (f"the engine process with {report['python']} "
                                 f"{describe_exit(process.returncode)} before it was ready" + (f": {tail}" if tail else ""))
        return report

    def shutdown(self) -> None:
        """Stop the worker; a job still running ends with a ``cancelled`` message."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            process.stop()

    def _ensure_process(self) -> _WorkerProcess:
        key = (find_python(self.python), self.device, float(self.idle_timeout), self.log_dir)
        p = self._process
        if p is not None and p.alive and p.key == key and not p.near_idle_exit():
            return p
        if p is not None and p.alive and self._current is not None and not self._current._final_delivered:
            return p  # new settings apply from the next job; never kill a running one to apply them
        if p is not None:
            p.stop()
        self._process = _WorkerProcess(*key)
        return self._process


_default: WorkerClient | None = None
_default_lock = threading.Lock()


def default_client() -> WorkerClient:
    """The client shared by the whole add-on (one warm worker per Blender session)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = WorkerClient()
            atexit.register(_shutdown_default)
        return _default


def _shutdown_default() -> None:
    if _default is not None:
        _default.shutdown()


__all__ = ["WorkerClient", "Job", "WorkerBusy", "default_client", "find_python", "describe_exit"]
