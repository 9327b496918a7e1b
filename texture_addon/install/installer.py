"""Build a new engine environment beside the live one, check it, then switch to it.

Steps (each reported through ``on_progress`` with a stage text and a 0…1 fraction):

1. *creating environment*: ``<Blender's Python> -m venv envs/env-<stamp>``. Some Pythons ship
   without ``ensurepip`` (Debian's, unless python3-venv is installed); then the environment is
   made ``--without-pip`` and pip is put into it by the base Python's own pip
   (``pip --python``), and if that is missing too the message says what to install.
2. *downloading torch…* / *installing torch…*: ``python -m pip install torch==…`` with the chosen
   build's index (CPU only / custom URL); pip's configuration (config files, ``PIP_*`` variables:
   proxies, certificates, mirrors, find-links) passes through unchanged, so an install behaves
   like the person's own ``pip install``. The fraction follows the bytes pip has downloaded into
   its temporary folder (kept inside the engine folder, whose free space was checked) and then
   the bytes written into the environment.
3. *installing numpy and pillow*: from the index pip is configured with.
4. *checking*: the probe imports torch, numpy and PIL in the new environment and adds 1+1+1.
5. *switching*: ``current.json`` is rewritten atomically; the replaced environment is deleted.

Any failure or a cancel deletes the new folder and leaves ``current.json`` as it was, so the
previous engine (if any) keeps working. Every line pip prints goes to ``logs/install-<stamp>.log``.
"""

from __future__ import annotations

import collections
import datetime as _dt
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import pins
from .engine_dir import EngineDir, LockHeld, env_python, remove_tree
from .probe import describe_probe, probe_env, run_probe

LOGS_KEPT = 10
TAIL_LINES = 12


class InstallError(RuntimeError):
    """The install failed; ``str(exc)`` is one sentence a person can act on, ``log`` the full log."""

    def __init__(self, message: str, log: str | None = None, tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.log = log
        self.tail = tail or []


class InstallCancelled(InstallError):
    """The install was cancelled; nothing changed."""


@dataclass
class Progress:
    stage: str
    fraction: float


# Segments of the progress bar per step: (start, end).
_SEG_ENV = (0.0, 0.08)
_SEG_TORCH_DOWNLOAD = (0.08, 0.45)
_SEG_TORCH_INSTALL = (0.45, 0.78)
_SEG_OTHERS = (0.78, 0.86)
_SEG_CHECK = (0.86, 0.98)

_NETWORK = re.compile(r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
                      r"resolution|Name or service not known|nodename nor servname|getaddrinfo failed|"
                      r"ConnectTimeoutError|ReadTimeoutError|Connection refused|Network is unreachable|"
                      r"Could not fetch URL|ProxyError|No route to host|SSLError|CERTIFICATE_VERIFY_FAILED", re.I)
_NO_SPACE = re.compile(r"No space left on device|\[Errno 28\]|There is not enough space on the disk", re.I)
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)|Could not find a version that satisfies "
                       r"the requirement (\S+)", re.I)
_DOWNLOADING = re.compile(r"Downloading \S*?([A-Za-z0-9_.\-]+\.whl)\S*(?: \(([\d.]+) ([kMG]B)\))?")
_UNITS = {"kB": 1e3, "MB": 1e6, "GB": 1e9}


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path`` (0 if it does not exist); for progress only."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def _child_env(tmp: Path | None) -> dict[str, str]:
    """The environment of a pip or venv child: the probe's, unbuffered, never prompting.

    With ``tmp``, pip's downloads land there: on the same disk as the checked space, and measurable.
    """
    env = probe_env()
    env["PYTHONUNBUFFERED"] = "1"
    env["PIP_NO_INPUT"] = "1"
    if tmp is not None:
        for name in ("TMPDIR", "TEMP", "TMP"):
            env[name] = str(tmp)
    return env


@dataclass
class _TorchWatch:
    """What pip's output has told so far about torch's install: its download size, whether it installs now."""

    expected_download: float = 0.0
    installing: bool = False
    last_measure: float = 0.0


class Installer:
    """One install (or repair) of the engine. :meth:`run` blocks; :meth:`cancel` may be called
    from another thread (Blender's UI runs :meth:`run` in a thread and polls :attr:`progress`)."""

    def __init__(self, engine_dir: EngineDir, base_python: str, build: str = "AUTO", index_url: str = "",
                 on_progress: Callable[[Progress], None] | None = None,
                 before_switch: Callable[[], None] | None = None, min_free_mb: int | None = None) -> None:
        self.dir = engine_dir
        self.base_python = base_python
        self.build = build
        self.index_url = index_url.strip()
        self.on_progress = on_progress
        self.before_switch = before_switch
        self.min_free_mb = pins.required_free_mb(build) if min_free_mb is None else int(min_free_mb)
        self.progress = Progress("starting", 0.0)
        self.log_path: Path | None = None
        self.staging: Path | None = None
        self._cancel = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._proc_lock = threading.Lock()
        self._log = None
        self._tail: collections.deque[str] = collections.deque(maxlen=200)

    # ------------------------------------------------------------------ public

    def cancel(self) -> None:
        """Stop the install as soon as possible; :meth:`run` then raises :class:`InstallCancelled`."""
        self._cancel.set()
        self._set("cancelling…", self.progress.fraction)
        with self._proc_lock:
            proc = self._proc
        if proc is not None:
            _kill(proc)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> dict:
        """Install; return the new ``current.json`` record. Raises :class:`InstallError`."""
        try:
            torch_args = pins.torch_index_args(self.build, self.index_url)
        except ValueError as exc:
            raise InstallError(str(exc)) from None
        try:
            self.dir.acquire()
        except LockHeld as exc:
            raise InstallError(str(exc)) from None
        try:
            self._open_log()
            self.dir.remove_leftovers()
            self._check_free_space()
            self.staging = self.dir.new_env_dir()
            try:
                record = self._build(torch_args)
            except BaseException as exc:
                self._log_line(f"FAILED: {type(exc).__name__}: {exc}")
                if not self.cancelled:
                    self._set("cleaning up…", self.progress.fraction)
                self._kill_current()
                remove_tree(self.staging)
                remove_tree(self.dir.root / "tmp")
                if isinstance(exc, InstallError) and not isinstance(exc, InstallCancelled) and self.cancelled:
                    raise InstallCancelled("install cancelled; nothing was changed", self._log_str()) from None
                if isinstance(exc, InstallError):
                    raise
                if isinstance(exc, Exception):
                    raise InstallError(f"install failed: {type(exc).__name__}: {exc} (log: {self._log_str()})",
                                       self._log_str()) from exc
                raise
            self._log_line("done: " + describe_probe(record.get("probe") or {}))
            return record
        finally:
            self._close_log()
            self.dir.release()

    # ------------------------------------------------------------------ steps

    def _build(self, torch_args: list[str]) -> dict:
        assert self.staging is not None
        self._set("creating environment", _SEG_ENV[0])
        python = self._create_env(self.staging)
        self._check_cancel()

        self._set("downloading torch…", _SEG_TORCH_DOWNLOAD[0])
        self._pip(python, [*torch_args, pins.TORCH_REQUIREMENT], "torch", torch=True)
        self._check_cancel()

        self._set("installing numpy and pillow…", _SEG_OTHERS[0])
        self._pip(python, list(pins.OTHER_REQUIREMENTS), "numpy and pillow")
        self._check_cancel()

        self._set("checking", _SEG_CHECK[0])
        probe = run_probe(str(python))
        self._log_line(f"probe: {probe}")
        self._check_cancel()
        if not probe.get("ok"):
            raise InstallError(f"the new engine does not work ({probe.get('error')}); the previous engine "
                               f"is unchanged (log: {self._log_str()})", self._log_str())
        version = str(probe.get("torch") or "").split("+", 1)[0]
        if version != pins.TORCH_VERSION:
            raise InstallError(f"the index served torch {probe.get('torch')}, not {pins.TORCH_VERSION}; "
                               f"choose another PyTorch build (log: {self._log_str()})", self._log_str())

        self._set("switching", _SEG_CHECK[1])
        old = self.dir.current_env()
        # False: something (a running Generate job) still uses the old environment; keep it.
        keep_old = self.before_switch is not None and self.before_switch() is False
        record = {
            "build": self.build, "index_url": self.index_url if self.build == "CUSTOM" else "",
            "base_python": self.base_python, "requirements": list(pins.ENGINE_REQUIREMENTS),
            "installed_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "probe": probe, "log": self._log_str(),
        }
        self.dir.make_current(self.staging, record)
        remove_tree(self.dir.root / "tmp")
        if old is not None and old != self.staging and not keep_old:
            self.dir.discard(old)  # in use (a worker on Windows): it stays, a leftover for later
            self.dir.empty_trash()
        self._set("done", 1.0)
        return dict(record, env=self.staging.name)

    def _create_env(self, env_dir: Path) -> Path:
        code, tail = self._run([self.base_python, "-m", "venv", str(env_dir)], "creating environment")
        python = env_python(env_dir)
        if code == 0 and python.exists():
            return python
        text = "\n".join(tail)
        if "ensurepip" not in text and "No module named venv" not in text:
            raise self._failure("could not create the engine's Python environment", tail)
        if "No module named venv" in text:
            raise InstallError("the Python that runs Blender has no 'venv' module, so the engine cannot be "
                               "installed here; set a Python Interpreter that has torch instead "
                               f"(log: {self._log_str()})", self._log_str(), tail)
        # No ensurepip (e.g. Debian's python3 without python3-venv): an environment without pip,
        # then pip put into it by the base Python's own pip.
        remove_tree(env_dir)
        self._log_line("ensurepip is missing: creating the environment without pip")
        code, tail = self._run([self.base_python, "-m", "venv", "--without-pip", str(env_dir)],
                               "creating environment")
        if code != 0 or not python.exists():
            raise self._failure("could not create the engine's Python environment", tail)
        code, tail = self._run([self.base_python, "-m", "pip", "--python", str(python), "install",
                                "--disable-pip-version-check", "--no-input", "pip"], "creating environment")
        if code != 0:
            raise InstallError("the Python that runs Blender cannot put pip into a new environment (it has "
                               "neither ensurepip nor pip ≥ 22.3); on Debian or Ubuntu install the "
                               "python3-venv package, or set a Python Interpreter that has torch "
                               f"(log: {self._log_str()})", self._log_str(), tail)
        return python

    def _pip(self, python: Path, requirements: list[str], what: str, torch: bool = False) -> None:
        tmp = self.dir.root / "tmp"
        remove_tree(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
               "--no-warn-script-location", "--progress-bar", "off", *requirements]
        code, tail = self._run(cmd, self.progress.stage, tmp=tmp, torch=torch)
        if code != 0:
            raise self._failure(f"pip could not install {what}", tail)

    # ------------------------------------------------------------------ subprocess

    def _run(self, cmd: list[str], stage: str, tmp: Path | None = None, torch: bool = False) -> tuple[int, list[str]]:
        """Run ``cmd``, log its output, follow its progress; returns (exit status, last lines)."""
        self._check_cancel()
        self._log_line("$ " + " ".join(cmd))
        proc = self._spawn(cmd, _child_env(tmp))
        tail = self._follow(proc, tmp, torch)
        code = proc.wait()
        with self._proc_lock:
            self._proc = None
        self._log_line(f"(exit status {code})")
        self._check_cancel()
        return code, tail

    def _spawn(self, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        """Start ``cmd`` in its own process group and register it, so that cancel can kill it and its children."""
        kwargs: dict = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
        else:
            kwargs["start_new_session"] = True  # cancel kills pip and anything it started
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, **kwargs)
        except OSError as exc:
            raise InstallError(f"cannot run {cmd[0]}: {exc}", self._log_str()) from None
        with self._proc_lock:
            self._proc = proc
        if self.cancelled:
            _kill(proc)
        return proc

    def _follow(self, proc: subprocess.Popen, tmp: Path | None, torch: bool) -> list[str]:
        """Log the child's output line by line until it closes, moving the bar; returns its last lines.

        A reader thread feeds a queue, so the bar is re-measured every quarter second even while
        pip prints nothing (a long download).
        """
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            for raw in iter(proc.stdout.readline, b""):
                lines.put(raw.decode("utf-8", "replace").rstrip())
            lines.put(None)

        threading.Thread(target=read, name="texture-forge-install-output", daemon=True).start()
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES * 4)
        watch = _TorchWatch()
        while True:
            try:
                line = lines.get(timeout=0.25)
            except queue.Empty:
                line = ""
            if line is None:
                return list(tail)
            if line:
                tail.append(line)
                self._log_line(line)
                if torch:
                    self._torch_line(line, watch)
            now = time.monotonic()
            if torch and now - watch.last_measure > 1.0 and not self.cancelled:
                watch.last_measure = now
                self._measure(tmp, watch.expected_download, watch.installing)

    def _torch_line(self, line: str, watch: _TorchWatch) -> None:
        """Read pip's line for torch's download size and the start of installing, which moves the bar's segment."""
        match = _DOWNLOADING.search(line)
        if match and match.group(1).lower().startswith("torch-") and match.group(2):
            watch.expected_download = float(match.group(2)) * _UNITS[match.group(3)]
        if line.startswith("Installing collected packages"):
            watch.installing = True
            self._set("installing torch…", _SEG_TORCH_INSTALL[0])

    def _measure(self, tmp: Path | None, expected_download: float, installing: bool) -> None:
        """Move the bar by the bytes really downloaded / written so far (never backwards)."""
        sizes = pins.download_estimate(self.build)
        if installing:
            expected = (sizes[1] if sizes else pins.UNKNOWN_DISK_MB) * 1e6
            done = folder_bytes(self.staging) if self.staging else 0
            start, end = _SEG_TORCH_INSTALL
        else:
            expected = expected_download or ((sizes[0] * 1e6) if sizes else 0)
            done = folder_bytes(tmp) if tmp else 0
            start, end = _SEG_TORCH_DOWNLOAD
        if expected > 0:
            fraction = start + (end - start) * min(0.98, done / expected)
            if fraction > self.progress.fraction:
                self._set(self.progress.stage, fraction)

    def _kill_current(self) -> None:
        with self._proc_lock:
            proc = self._proc
        if proc is not None:
            _kill(proc)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    # ------------------------------------------------------------------ messages, log, checks

    def _failure(self, what: str, tail: list[str]) -> InstallError:
        """An InstallError whose message says what to do, based on what pip printed."""
        log = self._log_str()
        text = "\n".join(tail)
        shown = [l for l in tail if l.strip() and not l.startswith("WARNING: Location")][-TAIL_LINES:]
        if _NO_SPACE.search(text):
            message = (f"{what}: the disk is full; free some space in {self.dir.root.anchor or self.dir.root} "
                       "and press Install Engine again")
        elif _NETWORK.search(text) and _NO_MATCH.search(text) or _NETWORK.search(text) and "ERROR" in text:
            message = (f"{what}: the package index could not be reached (no network, a proxy, or a "
                       "firewall?); check the connection and press Install Engine again")
        elif _NO_MATCH.search(text):
            match = _NO_MATCH.search(text)
            name = match.group(1) or match.group(2)
            if "(from versions: none)" in text:
                message = (f"{what}: the package index offered no version of {name.split('=')[0]} at all: is the "
                           "network down, or the index URL wrong? Check them and press Install Engine again")
            else:
                message = (f"{what}: the package index has no {name} for this Python "
                           f"({sys.version_info[0]}.{sys.version_info[1]}) and system; choose another PyTorch "
                           "build or set a Python Interpreter that has torch")
        else:
            message = f"{what} (pip failed)"
        last = "\n".join(shown[-6:])
        return InstallError(f"{message}. Full log: {log}" + (f"\n{last}" if last else ""), log, shown)

    def _check_free_space(self) -> None:
        self.dir.root.mkdir(parents=True, exist_ok=True)
        free_mb = shutil.disk_usage(self.dir.root).free // 1_000_000
        if free_mb < self.min_free_mb:
            raise InstallError(f"not enough disk space: the engine needs about {self.min_free_mb / 1000:.1f} GB "
                               f"free in {self.dir.root}, there is {free_mb / 1000:.1f} GB; free some space "
                               "(or choose CPU Only, which is smaller) and try again", self._log_str())

    def _check_cancel(self) -> None:
        if self.cancelled:
            raise InstallCancelled("install cancelled; nothing was changed", self._log_str())

    def _set(self, stage: str, fraction: float) -> None:
        self.progress = Progress(stage, max(0.0, min(1.0, fraction)))
        if self.on_progress is not None:
            try:
                self.on_progress(self.progress)
            except Exception:  # a UI callback must never break the install
                pass

    def _open_log(self) -> None:
        self.dir.logs.mkdir(parents=True, exist_ok=True)
        old = sorted(self.dir.logs.glob("install-*.log"))
        for path in old[:-(LOGS_KEPT - 1)] if len(old) >= LOGS_KEPT else []:
            try:
                path.unlink()
            except OSError:
                pass
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        self.log_path = self.dir.logs / f"install-{stamp}-{os.getpid()}.log"
        self._log = open(self.log_path, "a", encoding="utf-8")
        self._log_line(f"Texture Forge engine install: build {self.build}"
                       + (f" ({self.index_url})" if self.index_url else "") + f", base Python {self.base_python}")

    def _log_line(self, line: str) -> None:
        self._tail.append(line)
        if self._log is not None:
            try:
                self._log.write(line + "\n")
                self._log.flush()
            except OSError:
                pass

    def _close_log(self) -> None:
        if self._log is not None:
            try:
                self._log.close()
            except OSError:
                pass
            self._log = None

    def _log_str(self) -> str:
        return str(self.log_path) if self.log_path else "(no log)"


def _kill(proc: subprocess.Popen) -> None:
    """Stop a child and everything it started (its own session/process group)."""
    if proc.poll() is not None:
        return
    try:
        if os.name == "nt":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        try:
            proc.kill()
        except OSError:
            pass
