"""Per-user log folder, exclusive log files, stale scratch cleanup, and the engine install hints."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from texture_addon import install_hints, logs


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "platform", "linux")
    return tmp_path / "cache"


def test_log_folder_is_private_and_per_user(cache):
    folder = logs.log_dir()
    assert folder == str(cache / "texture-forge" / "logs")
    for path in (folder, os.path.dirname(folder)):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700


def test_log_files_are_created_exclusively(cache, tmp_path):
    folder = logs.log_dir()
    f1, p1 = logs.create_log(folder, "worker_")
    f2, p2 = logs.create_log(folder, "worker_")
    f1.write("one")
    f1.close()
    f2.close()
    assert p1 != p2 and stat.S_IMODE(os.stat(p1).st_mode) == 0o600
    # a planted link with a predictable name is never followed or appended to
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(3):
        os.symlink(victim, os.path.join(folder, f"job_{stamp}-{os.getpid()}-{n}.log"))
    f3, p3 = logs.create_log(folder, "job_")
    f3.write("x")
    f3.close()
    assert victim.read_text() == "keep" and not os.path.islink(p3)


def test_a_folder_open_to_others_is_closed_or_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "platform", "linux")
    ours = tmp_path / "cache" / "texture-forge"
    ours.mkdir(parents=True)
    os.chmod(ours, 0o777)
    assert logs.log_dir() == str(ours / "logs")
    assert stat.S_IMODE(os.stat(ours).st_mode) == 0o700  # ours, but left open: closed again
    monkeypatch.setattr(logs.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    if os.getuid() == 0:  # CI runs as root: a folder planted by another user is not used
        os.chown(ours, 12345, 12345)
        assert logs.log_dir() == str(tmp_path / "tmp" / f"texture-forge-{os.getuid()}" / "logs")
    # a symlink planted where the folder should be is not followed either
    os.rename(ours, tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", ours)
    assert logs.log_dir() == str(tmp_path / "tmp" / f"texture-forge-{os.getuid()}" / "logs")


def test_stale_scratch_folders_are_cleaned(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = time.time() - 3600
    gone = logs.make_scratch_dir(str(tmp_path), ".tf-staging-")
    with open(os.path.join(gone, logs.OWNER_FILE), "w") as f:
        f.write(f"{os.uname().nodename} {dead.pid} {old:.0f}\n")
    live = logs.make_scratch_dir(str(tmp_path), ".tf-staging-")       # this process: alive
    fresh = logs.make_scratch_dir(str(tmp_path), ".tf-staging-")      # dead owner but just made
    with open(os.path.join(fresh, logs.OWNER_FILE), "w") as f:
        f.write(f"{os.uname().nodename} {dead.pid} {time.time():.0f}\n")
    artist = tmp_path / ".tf-staging-not-ours"                        # no owner file: never touched
    artist.mkdir()
    other = tmp_path / "Bricks"
    other.mkdir()
    for p in (gone, live, artist, other):
        os.utime(p, (old, old))
    removed = logs.clean_stale_folders(str(tmp_path), (".tf-staging-",))
    assert removed == [gone]
    assert all(os.path.isdir(p) for p in (live, fresh, artist, other))


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_missing_torch_hint_works_on_an_externally_managed_python(platform):
    text = install_hints.missing_packages_message("/usr/bin/python3", ["torch"], in_venv=False, platform=platform)
    assert "not installed for /usr/bin/python3" in text
    assert "venv" in text and "torch==2.13.0" in text and "TEXTURE_FORGE_PYTHON" in text
    assert "/usr/bin/python3 -m pip" not in text  # refused by Debian/Ubuntu's system Python
    assert "--user` does not help" in text and "Install Engine" in text
    if platform == "win32":
        assert r"py -3 -m venv %USERPROFILE%\texture-forge-venv" in text
        assert r"%USERPROFILE%\texture-forge-venv\Scripts\python.exe -m pip install" in text
    else:
        assert "`python3 -m venv ~/texture-forge-venv`" in text
        assert "`~/texture-forge-venv/bin/python -m pip install torch==2.13.0 numpy pillow`" in text
    assert ("python3-venv" in text) == (platform == "linux")
    assert ("whl/cpu" in text) == (platform != "darwin")


def test_missing_packages_hint_inside_a_venv_installs_into_it():
    text = install_hints.missing_packages_message("/v/bin/python", ["torch", "numpy"], in_venv=True, platform="linux")
    assert "torch and numpy are not installed" in text
    assert "`/v/bin/python -m pip install torch==2.13.0 numpy`" in text


def test_one_generator_of_the_missing_torch_advice():
    """The engine process and the bake once gave two texts naming two different venv folders."""
    from texture_addon.contract import protocol
    from texture_addon.worker.engine_side import server

    assert not hasattr(protocol, "missing_dependencies_message")
    assert "install_hints.missing_packages_message" in Path(server.__file__).read_text()


def test_torch_pin_matches_the_protocol():
    from texture_addon.contract import protocol

    assert install_hints.TORCH_VERSION == protocol.TORCH_VERSION
