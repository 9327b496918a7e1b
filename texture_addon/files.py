"""How Texture Forge writes files: whole or not at all, with normal permissions, never colliding.

Stdlib only: the CLI, the engine process, the Blender add-on and ``scripts/bake.py`` all write
through this module, so every file the product makes keeps the same promises (docs/files.md):

* **Atomic**: a file is written to a temporary sibling with a name unique to this write (so two
  processes never share one) and renamed over the target only once complete. A set of files
  (a PBR set) is staged whole first and then renamed in one quick step that a SIGTERM, SIGHUP or
  Ctrl-C cannot cut in half (:func:`deferred_signals`).
* **Normal permissions**: the result gets the mode a plain ``open()`` would give (``0666`` less
  the umask, typically 0644), not ``mkstemp``'s private 0600; folders likewise (0755).
* **Clean**: a write that fails or is interrupted removes its temporary file; one left by a
  killed process (SIGKILL, power cut) carries the process's id in its name and is removed by
  the next write into the same folder once that process is gone.
* **One clear line**: an ``OSError`` while writing (disk full, read-only folder) becomes an
  :class:`~texture_addon.errors.OutputError` naming the file and the reason.

:func:`terminate_cleanly` turns SIGTERM and SIGHUP (what farm managers and systemd send) into
:class:`Terminated`, a ``KeyboardInterrupt``, so they take the same cleanup path as Ctrl-C.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .errors import InputError, OutputError

#: A temporary file or folder left beside its target is removed once its writer is gone and it
#: is this old (seconds): a write started right now is never touched.
STALE_AFTER = 60.0
#: A file or folder whose writer may be on another host (a shared network folder) is left this long.
FOREIGN_STALE_AFTER = 7 * 24 * 3600.0
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8")).hexdigest()[:6]
#: ``.<target name>.tf<pid>-<host>-<random>.part[.ext]``: who wrote it, for :func:`clean_stale_parts`.
_TEMP_RE = re.compile(r"^\..*\.tf(\d+)-([0-9a-f]{6})-[A-Za-z0-9_]+\.part(\.[A-Za-z0-9]+)?$")
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}

_cleaned: set[str] = set()
_cleaned_lock = threading.Lock()


# ---------------------------------------------------------------------------- modes

def _read_umask() -> int:
    try:  # Linux: read it without changing it (os.umask twice would race other threads)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file here (``0666`` less the umask)."""
    return 0o666 & ~_read_umask()


def folder_mode() -> int:
    """The mode a plain ``os.mkdir`` gives a new folder here (``0777`` less the umask)."""
    return 0o777 & ~_read_umask()


# ---------------------------------------------------------------------------- errors

def describe(exc: OSError) -> str:
    """The reason of an OSError in words a user acts on ("disk full", "permission denied")."""
    if exc.errno in _DISK_FULL:
        return "disk full"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return (exc.strerror or str(exc)).lower()


def _output_error(what: Path | str, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {what}: {describe(exc)}")


# ---------------------------------------------------------------------------- stale temporaries

def _temp_prefix(name: str) -> str:
    return f".{name}.tf{os.getpid()}-{_HOST}-"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a process we may not signal counts as alive)."""
    if pid <= 0:
        return False
    if sys.platform.startswith("win"):
        try:
            import ctypes

            handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
            if not handle:
                return False
            code = ctypes.c_ulong()
            ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            ctypes.windll.kernel32.CloseHandle(handle)
            return code.value == 259  # STILL_ACTIVE
        except Exception:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(path: str, pid: int, host: str, now: float) -> bool:
    try:
        age = now - os.lstat(path).st_mtime
    except OSError:
        return False
    if age < STALE_AFTER:
        return False
    if host != _HOST:
        return age > FOREIGN_STALE_AFTER
    return pid != os.getpid() and not pid_alive(pid)


def clean_stale_parts(folder: str | os.PathLike) -> list[str]:
    """Remove our temporary files and folders in ``folder`` whose writer is gone; return them.

    Only names made by this module are looked at, so an artist's files are never touched.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if not match or not _is_stale(entry.path, int(match.group(1)), match.group(2), now):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
        removed.append(entry.path)
    return removed


def _clean_once(folder: Path) -> None:
    """:func:`clean_stale_parts` the first time this process writes into ``folder``."""
    key = os.path.abspath(folder)
    with _cleaned_lock:
        if key in _cleaned:
            return
        _cleaned.add(key)
    clean_stale_parts(key)


# ---------------------------------------------------------------------------- writing

def _parent(target: Path) -> Path:
    return target.parent if str(target.parent) else Path(".")


def new_temp(target: str | os.PathLike, suffix: str = "") -> Path:
    """A new empty file beside ``target``, named for this write only, with the normal file mode.

    ``suffix`` is appended after ``.part`` for writers that need an extension (``.blend``).
    """
    target = Path(target)
    parent = _parent(target)
    _clean_once(parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target.name), suffix=".part" + suffix, dir=parent)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, file_mode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise _output_error(target, exc) from None
    return Path(tmp)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` when the block succeeds.

    On any failure or interruption the temporary file is removed and ``target`` is untouched;
    an ``OSError`` inside the block (disk full...) becomes one :class:`OutputError` line.
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"output path is a directory: {target}")
    tmp = new_temp(target, suffix)
    try:
        try:
            yield tmp
            os.replace(tmp, target)
        except OSError as exc:
            raise _output_error(target, exc) from None
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_files(targets: Iterable[str | os.PathLike]) -> Iterator[dict[Path, Path]]:
    """Stage several files and put them in place together: all of them or none.

    Yields ``{target: temporary path}``; the caller fills every temporary file. Only when the block
    succeeds are they renamed over their targets, in one step that signals do not interrupt
    (:func:`deferred_signals`); on failure every temporary file is removed and no target changed.
    """
    staged: dict[Path, Path] = {}
    try:
        for target in targets:
            target = Path(target)
            if target.is_dir():
                raise OutputError(f"output path is a directory: {target}")
            staged[target] = new_temp(target)
        try:
            yield staged
            with deferred_signals():
                for target, tmp in staged.items():
                    os.replace(tmp, target)
        except OSError as exc:
            raise OutputError(f"cannot write {', '.join(str(t) for t in staged)}: {describe(exc)}") from None
    except BaseException:
        for tmp in staged.values():
            _remove(tmp)
        raise


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_write(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return Path(target)


def write_json(target: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented, sorted JSON to ``target`` atomically."""
    return write_text(target, json.dumps(data, indent=1, sort_keys=True))


def copy_file(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy ``source``'s bytes to ``target`` atomically (the target gets the normal mode)."""
    with atomic_write(target) as tmp:
        shutil.copyfile(source, tmp)
    return Path(target)


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) against other processes.

    ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows. The lock file stays (it is empty).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        try:
            import fcntl
        except ImportError:  # Windows
            import msvcrt
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_json(path: str | os.PathLike) -> dict:
    """A JSON object file's contents; ``{}`` when it is missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_json(path: str | os.PathLike, change: Callable[[dict], None]) -> dict:
    """Read-modify-write a JSON record under a lock, so concurrent writers never lose an update."""
    path = Path(path)
    try:
        with locked(path.with_name(path.name + ".lock")):
            data = read_json(path)
            change(data)
            write_json(path, data)
    except OSError as exc:
        raise _output_error(path, exc) from None
    return data


def check_writable(folder: str | os.PathLike) -> None:
    """Raise :class:`InputError` unless a file can be created in ``folder`` (it is removed again).

    Called before long work, so a read-only or missing folder is reported before, not after, it
    (a usage error: the user named a place nothing can be written to).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"output folder does not exist: {folder}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix("check"), suffix=".part", dir=folder)
    except OSError as exc:
        raise InputError(f"output folder is not writable: {folder} ({describe(exc)})") from None
    os.close(fd)
    _remove(Path(tmp))


def make_folder(path: str | os.PathLike) -> Path:
    """``os.makedirs`` with the normal folder mode; an OSError becomes one OutputError line."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {path}: {describe(exc)}") from None
    return Path(path)


def share_folder(path: str | os.PathLike) -> None:
    """Give a ``mkdtemp`` folder (0700) the mode a plain ``mkdir`` would, for folders we hand over."""
    os.chmod(path, folder_mode())


# ---------------------------------------------------------------------------- signals

class Terminated(KeyboardInterrupt):
    """SIGTERM, SIGHUP or SIGINT received: unwind like Ctrl-C, cleaning up on the way."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal's number (143 for SIGTERM, 130 for SIGINT)."""
        return 128 + self.signum


_pending: list[int] = []
_deferring = 0
_raised = False
SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, n))


def _handler(signum: int, frame: Any) -> None:
    global _raised
    if _deferring:
        _pending.append(signum)
        return
    if _raised:  # already unwinding: let the cleanup finish
        return
    _raised = True
    raise Terminated(signum)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """A signal arriving inside the block is raised when it ends (renames are never cut in half).

    Only signals handled by :func:`terminate_cleanly` can be deferred; others act as usual.
    """
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending:
            signum = _pending[0]
            _pending.clear()
            _handler(signum, None)


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """Within the block SIGTERM, SIGHUP and SIGINT raise :class:`Terminated` (a KeyboardInterrupt).

    For entry points (the CLI, ``scripts/bake.py``): the farm's or systemd's SIGTERM then removes
    staging files and leaves every set whole, exactly as Ctrl-C does. The previous handlers are
    restored afterwards. Outside the main thread it does nothing (Python allows handlers only there).
    """
    global _raised
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    _raised = False
    for s in SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


__all__ = ["atomic_write", "atomic_files", "new_temp", "write_text", "write_json", "copy_file",
           "read_json", "update_json", "locked", "check_writable", "make_folder", "share_folder",
           "clean_stale_parts", "file_mode", "folder_mode", "describe", "deferred_signals",
           "terminate_cleanly", "Terminated", "STALE_AFTER", "FOREIGN_STALE_AFTER", "pid_alive"]
