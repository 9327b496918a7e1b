"""The engine folder: environments, the ``current.json`` pointer, logs and the install lock.

Layout (``root`` is the extension's user folder ``…/extensions/.user/<repo>/texture_forge/engine``)::

    current.json            which environment is live, how it was made, its last probe
    envs/env-<stamp>/       one virtual environment per install; only the one named in
                            current.json is live, any other is a staging or leftover folder
    logs/install-<stamp>.log
    install.lock            pid of the process installing right now

Why a pointer rather than renaming folders: a virtual environment is not relocatable (its scripts
carry absolute paths), and replacing one small file with ``os.replace`` is atomic on every OS. A
new install is built in its own folder next to the live one; the engine switches when the pointer
is rewritten, and never before the new environment has passed the probe. An install killed
half-way (Blender closed, power cut) leaves only an unreferenced folder, removed by the next
install, repair or remove.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from ..logs import pid_alive

POINTER = "current.json"


def default_user_root(app: str = "Texture Forge") -> Path:
    """A per-user folder for the engine when the add-on is not installed as an extension.

    Windows: %LOCALAPPDATA%; macOS: ~/Library/Application Support; elsewhere $XDG_DATA_HOME or
    ~/.local/share. Never the add-on's own folder, which may be read-only and is replaced on upgrade.
    """
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / app / "engine"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / app / "engine"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / app.lower().replace(" ", "_") / "engine"


def env_python(env_dir: Path) -> Path:
    """The interpreter of a virtual environment made by ``venv``."""
    if os.name == "nt":
        return env_dir / "Scripts" / "python.exe"
    return env_dir / "bin" / "python"


class LockHeld(RuntimeError):
    """Another process is installing the engine into the same folder."""


class EngineDir:
    """Paths and the small, atomic file operations on the engine folder."""

    #: A lock older than this is stale even if its pid looks alive (pids are reused).
    LOCK_MAX_AGE = 6 * 3600

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.envs = self.root / "envs"
        self.logs = self.root / "logs"
        self.pointer = self.root / POINTER
        self.lock = self.root / "install.lock"

    # ------------------------------------------------------------------ the live environment

    def record(self) -> dict | None:
        """current.json's contents, or None when nothing is installed (or the file is unreadable)."""
        try:
            data = json.loads(self.pointer.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("env") else None

    def current_env(self) -> Path | None:
        record = self.record()
        if record is None:
            return None
        env = self.envs / str(record["env"])
        return env if env.is_dir() else None

    def python(self) -> str | None:
        """The live engine's interpreter, or None when there is none (or its folder is gone)."""
        env = self.current_env()
        if env is None:
            return None
        python = env_python(env)
        return str(python) if python.exists() else None

    def make_current(self, env_dir: Path, record: dict) -> None:
        """Point current.json at ``env_dir`` (atomic: a reader sees the old or the new file)."""
        data = dict(record, env=env_dir.name)
        self._write_json(self.pointer, data)

    def update_record(self, **fields: object) -> None:
        """Merge ``fields`` into current.json (e.g. a fresh probe); nothing if none is installed."""
        record = self.record()
        if record is not None:
            record.update(fields)
            self._write_json(self.pointer, record)

    def clear_current(self) -> Path | None:
        """Remove the pointer (the engine is gone for Generate from now on); returns the old env."""
        env = self.current_env()
        try:
            self.pointer.unlink()
        except FileNotFoundError:
            pass
        return env

    def _write_json(self, path: Path, data: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    # ------------------------------------------------------------------ staging and leftovers

    def new_env_dir(self) -> Path:
        """A fresh, not yet existing folder for a new environment."""
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        self.envs.mkdir(parents=True, exist_ok=True)
        return self.envs / f"env-{stamp}-{uuid.uuid4().hex[:6]}"

    def leftovers(self) -> list[Path]:
        """Environment folders that current.json does not name: interrupted or replaced installs."""
        record = self.record()
        live = str(record["env"]) if record else None
        try:
            return sorted(p for p in self.envs.iterdir() if p.name != live)
        except OSError:
            return []

    def remove_leftovers(self) -> list[str]:
        """Delete every leftover environment; returns the paths that could not be removed."""
        for path in self.leftovers():
            self.discard(path)
        return self.empty_trash()

    def discard(self, env_dir: Path) -> Path:
        """Move an environment out of ``envs/`` into ``trash/`` (one rename, instant), so it is
        gone for everyone at once while the slow deletion of its thousands of files happens later
        (in the UI: in a thread, not freezing Blender). Returns where it went."""
        trash = self.root / "trash"
        trash.mkdir(parents=True, exist_ok=True)
        target = trash / f"{env_dir.name}-{uuid.uuid4().hex[:6]}"
        try:
            os.replace(env_dir, target)
        except OSError:  # in use (Windows) or another disk: delete in place instead
            remove_tree(env_dir)
            return env_dir
        return target

    def empty_trash(self) -> list[str]:
        """Delete everything in ``trash/``; returns the paths that could not be removed (in use)."""
        failed = []
        trash = self.root / "trash"
        for path in sorted(trash.iterdir()) if trash.is_dir() else []:
            remove_tree(path)
            if path.exists():
                failed.append(str(path))
        return failed

    # ------------------------------------------------------------------ lock

    def acquire(self) -> None:
        """Take the install lock, or raise :class:`LockHeld` naming the other process."""
        self.root.mkdir(parents=True, exist_ok=True)
        for _attempt in range(2):
            try:
                fd = os.open(str(self.lock), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.lock.read_text().strip() or 0)
                    age = _dt.datetime.now().timestamp() - self.lock.stat().st_mtime
                except (OSError, ValueError):
                    pid, age = 0, 0.0
                if pid != os.getpid() and pid_alive(pid) and age < self.LOCK_MAX_AGE:
                    raise LockHeld(f"another Blender (process {pid}) is installing the engine right now; "
                                   f"wait for it to finish (lock: {self.lock})") from None
                try:
                    self.lock.unlink()  # stale: its process is gone
                except OSError:
                    pass
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            return
        raise LockHeld(f"cannot take the install lock {self.lock}")

    def release(self) -> None:
        try:
            if self.lock.read_text().strip() == str(os.getpid()):
                self.lock.unlink()
        except OSError:
            pass


def remove_tree(path: Path) -> None:
    """Delete a folder, clearing read-only flags on the way (Windows keeps some files read-only)."""
    def _onerror(func, name, _exc):  # noqa: ANN001 - shutil's signature
        try:
            os.chmod(name, 0o700)
            func(name)
        except OSError:
            pass
    if not path.exists():
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_onerror)
    else:
        shutil.rmtree(path, onerror=_onerror)
