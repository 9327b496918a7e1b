"""Where Texture Forge keeps logs and scratch folders: per user, private, cleaned after a crash.

Stdlib only (imported inside Blender, by the worker client and by ``scripts/bake.py``).

Why not ``/tmp/texture_forge_logs``: a fixed, shared, predictable path in a world-writable folder
lets another user pre-create it (or a symlink in it) and read or redirect what we write, and two
users collide. So logs live in the user's cache folder (``$XDG_CACHE_HOME``/``~/.cache`` on Linux,
``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows), falling back to
``<tempdir>/texture-forge-<uid>``; the folder is created mode 0700 and must be ours, and each log
file is created exclusively (``O_EXCL``), never opened for append.

Scratch folders (a job's raw outputs, a worker's previews, a bake's staging folder) carry an
owner file naming the process that made them; :func:`clean_stale_folders` removes those whose
owner is gone (a crash, a kill, a power cut) so they do not pile up.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import sys
import tempfile
import time

from .files import FOREIGN_STALE_AFTER, pid_alive, share_folder

APP = "texture-forge"
#: Name of the file inside a scratch folder that says which process owns it.
OWNER_FILE = ".texture-forge-owner"
#: A scratch folder without a live owner is removed once it is this old (seconds): old enough that
#: a folder being created right now is never touched.
STALE_AFTER = 60.0


def _uid() -> str:
    getuid = getattr(os, "getuid", None)
    return str(getuid()) if getuid else (os.environ.get("USERNAME") or "user")


def user_cache_dir() -> str:
    """The platform's per-user cache folder for Texture Forge (not created)."""
    home = os.path.expanduser("~")
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    elif sys.platform == "darwin":
        base = os.path.join(home, "Library", "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return os.path.join(base, APP)


def _private_dir(path: str) -> bool:
    """Create ``path`` (mode 0700) or accept it when it is a real folder owned by us."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    if hasattr(os, "getuid"):
        if st.st_uid != os.getuid():
            return False
        if st.st_mode & 0o077:
            try:
                os.chmod(path, 0o700)
            except OSError:
                return False
    return os.access(path, os.W_OK)


def private_dir(*parts: str) -> str:
    """A private per-user folder ``<cache>/<parts>``; falls back to ``<tempdir>/texture-forge-<uid>``.

    Raises OSError when neither can be made safely.
    """
    for base in (user_cache_dir(), os.path.join(tempfile.gettempdir(), f"{APP}-{_uid()}")):
        if not _private_dir(base):
            continue
        path = os.path.join(base, *parts)
        if _private_dir(path):
            return path
    raise OSError(errno.EACCES, "no private folder for Texture Forge's files "
                                f"(tried {user_cache_dir()} and {tempfile.gettempdir()})")


def log_dir() -> str:
    """The per-user log folder (created, 0700)."""
    return private_dir("logs")


def create_log(folder: str, prefix: str, suffix: str = ".log"):
    """A new log file opened for writing, created exclusively (never an existing file or link).

    Returns ``(file object, path)``; the name is ``<prefix><time>-<pid>-<n><suffix>``.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for n in range(1000):
        path = os.path.join(folder, f"{prefix}{stamp}-{os.getpid()}-{n}{suffix}")
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            continue
        return os.fdopen(fd, "w", encoding="utf-8"), path
    raise OSError(errno.EEXIST, f"cannot create a new log file in {folder}")


def _owner_text() -> str:
    return f"{socket.gethostname()} {os.getpid()} {time.time():.0f}\n"


def mark_owner(folder: str) -> None:
    """Record this process as the owner of a scratch folder (see :func:`clean_stale_folders`)."""
    with open(os.path.join(folder, OWNER_FILE), "w", encoding="utf-8") as f:
        f.write(_owner_text())


def make_scratch_dir(parent: str, prefix: str, shared: bool = False) -> str:
    """A new folder under ``parent`` owned by this process (``tempfile.mkdtemp`` + owner).

    Private (0700) unless ``shared``: a folder that becomes a user's output (a bake's staging
    folder, swapped in as the material's folder) gets the normal mode a ``mkdir`` would give.
    """
    os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    if shared:
        share_folder(path)
    mark_owner(path)
    return path


def is_stale(folder: str, now: float | None = None) -> bool:
    """True when a scratch folder's owner process is gone; a folder without owner file never is."""
    now = time.time() if now is None else now
    try:
        age = now - os.stat(folder).st_mtime
        with open(os.path.join(folder, OWNER_FILE), encoding="utf-8") as f:
            host, pid, _started = f.read().split()[:3]
    except FileNotFoundError:  # not (or no longer) one of our scratch folders: never ours to judge
        return False
    except (OSError, ValueError):
        return False
    if age < STALE_AFTER:
        return False
    if host != socket.gethostname():
        return age > FOREIGN_STALE_AFTER
    try:
        return not pid_alive(int(pid))
    except ValueError:
        return False


def clean_stale_folders(parent: str, prefixes: tuple[str, ...]) -> list[str]:
    """Remove folders in ``parent`` named ``<prefix>…`` whose owner is gone; returns their paths.

    Only folders with one of our prefixes are looked at, so a shared parent (the temp folder, an
    artist's output folder) is safe. Neighbours cleaning at the same time are expected.
    """
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        try:
            if not entry.name.startswith(prefixes) or not entry.is_dir(follow_symlinks=False):
                continue
        except OSError:
            continue
        if is_stale(entry.path):
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.exists(entry.path):
                removed.append(entry.path)
    return removed


__all__ = ["pid_alive", "user_cache_dir", "private_dir", "log_dir", "create_log", "mark_owner", "make_scratch_dir",
           "is_stale", "clean_stale_folders"]
