"""The worker process: reads commands on stdin, runs jobs, streams JSON messages on stdout.

Threads: the main thread runs one job at a time (torch work stays on one thread); a reader thread
owns stdin so that ``cancel``, ``ping`` and a dying client are noticed while a job runs.

Policy for a ``run`` that arrives while a job is running: it is **refused** at once with an
``error`` message (``error_type`` ``"WorkerBusy"``, "a job is already running: <id>"), not
queued. The add-on runs one job per worker and the client already refuses a second start with
``WorkerBusy``; a silent queue would only hide a stuck job behind another.

Lifetime: the worker exits on ``shutdown``, on stdin EOF (its client died or closed the pipe; the
running job is cancelled first and a watchdog forces the exit if the engine does not stop within
a few seconds), and after ``--idle-timeout`` seconds without a job (it sends ``bye`` first).
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO, Callable

from ... import install_hints, logs
from ...contract import messages as msg
from ...contract import protocol
from ...contract.vocabulary import DEVICES

#: How long a cancelled job may take to stop after the client went away, before a forced exit.
EOF_GRACE_SECONDS = 5.0
#: Previews are throttled to this interval (the UI reloads an image each time one arrives);
#: TEXTURE_FORGE_PREVIEW_INTERVAL overrides it (tests that need every preview set it to 0).
PREVIEW_INTERVAL = float(os.environ.get("TEXTURE_FORGE_PREVIEW_INTERVAL", "0.5"))
#: Progress lines are throttled to this interval, except the first and last step of each level.
PROGRESS_INTERVAL = 0.05
PREVIEW_MAX_SIDE = 256


class Channel:
    """The protocol's stdout, kept separate from the process's real stdout.

    fd 1 is pointed at stderr so that a library's stray ``print`` (or C-level write) can never
    corrupt the JSON stream; messages go to a private duplicate of the original stdout.
    """

    def __init__(self) -> None:
        proto_fd = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._out: BinaryIO = os.fdopen(proto_fd, "wb", buffering=0)
        self._lock = threading.Lock()
        self.broken = threading.Event()

    def send(self, message: dict) -> None:
        data = protocol.encode(message)
        with self._lock:
            if self.broken.is_set():
                return
            try:
                self._out.write(data)
            except (BrokenPipeError, OSError):
                self.broken.set()  # the client is gone; the stdin reader will see EOF and stop us


def _import_dependencies() -> tuple[str | None, list[str], str | None]:
    """Import torch, numpy and Pillow; return (torch version, missing names, other failure)."""
    missing: list[str] = []
    other: str | None = None
    version = None
    for name in ("torch", "numpy", "PIL"):
        try:
            module = __import__(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == name:
                missing.append(name)
            else:
                other = other or f"importing {name} failed: {exc}"
        except Exception as exc:  # a broken install (bad CUDA libraries, ABI mismatch…)
            other = other or f"importing {name} failed: {type(exc).__name__}: {exc}"
        else:
            if name == "torch":
                version = str(module.__version__)
    return version, missing, other


def _devices() -> list[str]:
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


class ProgressForwarder:
    """Engine progress callback → throttled ``progress`` and ``preview`` messages for one job."""

    def __init__(self, job: str, channel: Channel, preview_dir: Path, started: float) -> None:
        self.job, self.channel, self.preview_dir, self.started = job, channel, preview_dir, started
        self._last_progress = -1e9
        self._last_preview = -1e9
        self._last_level: int | None = None
        self._previews: list[Path] = []

    def __call__(self, info: Any) -> None:
        now = time.monotonic()
        total = max(1, int(info.total_steps))
        boundary = info.level != self._last_level or info.step >= total or info.level_end
        if boundary or now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress, self._last_level = now, info.level
            elapsed = now - self.started
            frac = min(1.0, info.step / total)
            eta = elapsed / frac - elapsed if frac > 0 else None
            self.channel.send(msg.Progress(job=self.job, stage=str(info.stage), level=int(info.level),
                                           levels=int(info.levels), step=int(info.step), total=total,
                                           loss=float(info.loss), eta=eta).to_dict())
        if info.preview is not None and now - self._last_preview >= PREVIEW_INTERVAL:
            self._last_preview = now
            self._write_preview(info.preview)

    def _write_preview(self, image: Any) -> None:
        """Downscale and write atomically under a name never reused (so the UI reloads it)."""
        import numpy as np
        from PIL import Image

        arr = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        pil = Image.fromarray(np.rint(arr * 255).astype(np.uint8), mode="L" if arr.ndim == 2 else "RGB")
        if max(pil.size) > PREVIEW_MAX_SIDE:
            pil.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
        path = self.preview_dir / f"{self.job}_{len(self._previews):04d}.png"
        tmp = path.with_name(path.name + ".part")
        pil.save(tmp, format="PNG")
        os.replace(tmp, path)
        # Never deleted here: the client may not have read it yet (it deletes previews once it has
        # moved past them, and removes the whole folder when this process exits).
        self._previews.append(path)
        self.channel.send(msg.Preview(job=self.job, path=str(path), width=pil.size[0], height=pil.size[1]).to_dict())


class Worker:
    """State shared by the stdin reader thread and the job-running main thread."""

    def __init__(self, channel: Channel, device: str, idle_timeout: float, log_dir: Path, preview_dir: Path) -> None:
        from ...engine.progress import CancelToken

        self._token_type: Callable[[], Any] = CancelToken
        self.channel, self.device, self.idle_timeout = channel, device, idle_timeout
        self.log_dir, self.preview_dir = log_dir, preview_dir
        self.commands: queue.Queue[tuple] = queue.Queue()
        self.lock = threading.Lock()
        self.current: str | None = None
        self.token: Any = None
        self.closing = False

    # -------------------------------------------------------------- stdin reader thread

    def read_commands(self, fd: int) -> None:
        """Read commands from the raw file descriptor until EOF.

        Raw ``os.read`` rather than ``sys.stdin``: a daemon thread blocked inside a buffered reader
        makes the interpreter abort at exit.
        """
        pending, discarding = b"", False
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            if discarding:  # the rest of a line already refused as too long
                end = chunk.find(b"\n")
                if end < 0:
                    continue
                chunk, discarding = chunk[end + 1:], False
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                if len(raw) > protocol.MAX_LINE_BYTES:
                    self._refuse_long_line()
                elif raw.strip():
                    self._handle(raw)
            if len(pending) > protocol.MAX_LINE_BYTES:
                self._refuse_long_line()
                pending, discarding = b"", True
        # EOF: the client closed the pipe or died. Stop the job and leave, whatever the engine does.
        with self.lock:
            self.closing = True
            if self.token is not None:
                self.token.cancel()
        self.commands.put(("eof",))
        timer = threading.Timer(EOF_GRACE_SECONDS, os._exit, args=(0,))
        timer.daemon = True
        timer.start()

    def _refuse_long_line(self) -> None:
        self.channel.send(msg.Error(job=None, error_type="ProtocolError",
                                    message=f"command line longer than {protocol.MAX_LINE_BYTES} bytes; "
                                            "discarded").to_dict())

    def _handle(self, raw: bytes) -> None:
        try:
            data = protocol.decode(raw)
        except ValueError as exc:
            self.channel.send(msg.Error(job=None, error_type="ProtocolError",
                                        message=f"unreadable command ({exc}): {raw[:200]!r}").to_dict())
            return
        try:
            command = msg.parse_command(data)
        except msg.MessageError as exc:
            job = data.get("job") if msg.is_job_id(data.get("job")) else None
            self.channel.send(msg.Error(job=job, error_type="ProtocolError", message=str(exc)).to_dict())
            return
        name, job = command.TAG, getattr(command, "job", None)
        if name == "ping":
            self.channel.send(msg.Pong(busy=self.current).to_dict())
        elif name == "cancel":
            with self.lock:
                if job is not None and job == self.current and self.token is not None:
                    self.token.cancel()
        elif name == "shutdown":
            with self.lock:
                self.closing = True
                if self.token is not None:
                    self.token.cancel()
            self.commands.put(("shutdown",))
        elif name == "run":
            self._accept_run(job, command.spec)

    def _accept_run(self, job: Any, spec: Any) -> None:
        if not msg.is_job_id(job):  # parse_command checked it; previews and logs are named by it
            self.channel.send(msg.Error(job=None, error_type="ProtocolError",
                                        message="run needs a job id of letters, digits, '-' or '_'").to_dict())
            return
        with self.lock:
            if self.closing:
                refusal = ("WorkerExiting", "the engine process is shutting down; start the job again")
            elif self.current is not None:
                refusal = (protocol.BUSY_ERROR, f"a job is already running: {self.current}")
            else:
                refusal = None
                self.current, self.token = job, self._token_type()
                self.commands.put(("run", job, spec, self.token))
        if refusal:
            self.channel.send(msg.Error(job=job, error_type=refusal[0], message=refusal[1]).to_dict())

    # -------------------------------------------------------------- main thread

    def serve(self) -> str:
        """Run jobs until shutdown, EOF or idle timeout; return the reason."""
        while True:
            try:
                item = self.commands.get(timeout=self.idle_timeout if self.idle_timeout > 0 else None)
            except queue.Empty:
                with self.lock:
                    if self.current is None:
                        self.closing = True
                        self.channel.send(msg.Bye(reason="idle", message=f"no job for {self.idle_timeout:g} s").to_dict())
                        return "idle"
                continue
            if item[0] == "run":
                _, job, spec, token = item
                try:
                    final = self._run(job, spec, token)
                finally:
                    with self.lock:
                        self.current, self.token = None, None
                # Only now: a client that starts its next job on seeing this must find us idle.
                self.channel.send(final)
            else:
                if item[0] == "shutdown":
                    self.channel.send(msg.Bye(reason="shutdown", message="shut down on request").to_dict())
                return item[0]

    def _run(self, job: str, spec_data: Any, token: Any) -> dict:
        """Run one job; return its final message (result, error or cancelled) for the caller to send."""
        from ...contract.spec import KIND_FIELDS, JobSpec
        from ...errors import Cancelled
        from ...jobs.run import run_job_detailed

        started = time.monotonic()
        self.channel.send(msg.Started(job=job).to_dict())
        try:
            spec = JobSpec.from_dict(spec_data)
            if spec.device == "auto" and "device" in KIND_FIELDS.get(spec.kind, ()):
                spec.device = self.device
            progress = ProgressForwarder(job, self.channel, self.preview_dir, started)
            outcome = run_job_detailed(spec, progress, token)
        except Cancelled:
            return msg.Cancelled(job=job).to_dict()
        except BaseException as exc:  # noqa: BLE001 - every failure must become a message
            log = self._write_log(job, spec_data, exc)
            errors = getattr(exc, "errors", None)  # SpecError: each problem separately
            message = msg.Error(job=job, error_type=type(exc).__name__, message=str(exc) or type(exc).__name__,
                                log=str(log) if log else None,
                                errors=[str(e) for e in errors] if isinstance(errors, list) else None).to_dict()
            if not isinstance(exc, Exception):  # SystemExit and the like: report, then let it end us
                self.channel.send(message)
                raise
            return message
        return msg.Result(job=job, outputs={k: str(v) for k, v in outcome.outputs.items()},
                          seconds=round(time.monotonic() - started, 3), seam_scores=outcome.seam_scores).to_dict()

    def _write_log(self, job: str, spec_data: Any, exc: BaseException) -> Path | None:
        """Traceback and spec to a file; the pipe only carries the one-line message and the path."""
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            path = self.log_dir / f"job_{job}.log"
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            path.write_text(f"job {job}\npython {sys.executable}\nspec {spec_data!r}\n\n{text}", encoding="utf-8")
            return path
        except OSError:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
            return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m texture_addon.worker",
                                description="Texture Forge engine process: JSON commands on stdin, JSON messages on stdout.")
    p.add_argument("--device", default="auto", choices=DEVICES,
                   help="device for jobs whose spec says 'auto' (default: auto)")
    p.add_argument("--idle-timeout", type=float, default=300.0,
                   help="exit after this many seconds without a job; 0 = never (default: 300)")
    p.add_argument("--log-dir", default=None, help="where error tracebacks are written (default: the per-user log folder)")
    p.add_argument("--preview-dir", default=None, help="where previews are written (default: a fresh temp folder)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    channel = Channel()  # first, before any import can print
    args = parse_args(argv)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in Blender's terminal is the client's business

    version, missing, other = _import_dependencies()
    if missing or other:
        message = (install_hints.missing_packages_message(sys.executable, missing) if missing
                   else f"the engine cannot start with {sys.executable}: {other}")
        channel.send(msg.Fatal(error_type="MissingDependency" if missing else "EngineImportError",
                               message=message, python=sys.executable, missing=missing).to_dict())
        print(message, file=sys.stderr)
        return protocol.EXIT_MISSING_DEPENDENCIES

    log_dir = Path(args.log_dir or logs.log_dir())  # private, per user (never a shared /tmp path)
    own_preview_dir = args.preview_dir is None
    preview_dir = Path(args.preview_dir or tempfile.mkdtemp(prefix="texture_forge_preview_"))
    preview_dir.mkdir(parents=True, exist_ok=True)
    worker = Worker(channel, args.device, args.idle_timeout, log_dir, preview_dir)
    reader = threading.Thread(target=worker.read_commands, args=(sys.stdin.fileno(),), name="stdin-reader", daemon=True)
    reader.start()
    short = version.split("+")[0] if version else None
    channel.send(msg.Ready(torch=short, torch_build=version, devices=_devices(), python=sys.executable,
                           pid=os.getpid(), device=args.device, expected_torch=protocol.TORCH_VERSION).to_dict())
    try:
        worker.serve()
    finally:
        if own_preview_dir:
            import shutil

            shutil.rmtree(preview_dir, ignore_errors=True)
    return 0
