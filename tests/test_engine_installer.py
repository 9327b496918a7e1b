"""The engine installer without Blender: pins, sizes, probe, the engine folder, and failures.

Real subprocesses throughout: virtual environments made with this Python's venv, pip run for real
against indexes that fail in known ways (an empty local index, a closed port, a server that never
answers), the probe run in this interpreter. The full install of torch is tested through Blender
in test_blender_engine_install.py.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from texture_addon.install import EngineDir, InstallCancelled, InstallError, Installer, describe_probe, pins, run_probe
from texture_addon.install.engine_dir import LockHeld, env_python
from texture_addon.contract import protocol

ROOT = Path(__file__).resolve().parents[1]


def test_pins_match_requirements_txt_and_the_worker() -> None:
    """The engine artists install is the one the test suite runs."""
    lines = {l.split("==")[0].strip().lower(): l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()
             if "==" in l and not l.startswith("#")}
    assert pins.TORCH_REQUIREMENT == lines["torch"]
    assert pins.TORCH_VERSION == protocol.TORCH_VERSION
    markers_for_311 = [r.split(";")[0].strip() for r in pins.OTHER_REQUIREMENTS
                       if ";" not in r or "< \"3.13\"" in r]
    assert lines["numpy"] in markers_for_311 and lines["pillow"] in markers_for_311


def test_torch_index_per_build() -> None:
    assert pins.torch_index_args("AUTO", system="linux") == []
    assert pins.torch_index_args("CPU", system="linux") == ["--index-url", pins.CPU_INDEX_URL]
    assert pins.torch_index_args("CPU", system="win32") == ["--index-url", pins.CPU_INDEX_URL]
    assert pins.torch_index_args("CPU", system="darwin") == []  # macOS wheels have no CUDA anyway
    assert pins.torch_index_args("CUSTOM", " https://x.example/whl/cu128 ") == ["--index-url", "https://x.example/whl/cu128"]
    with pytest.raises(ValueError, match="no URL is set"):
        pins.torch_index_args("CUSTOM", "")
    with pytest.raises(ValueError, match="must start with"):
        pins.torch_index_args("CUSTOM", "pytorch.org/cu128")


def test_sizes_are_stated_per_build_and_platform() -> None:
    assert pins.download_estimate("CPU", "linux", "x86_64") == (230, 1000)
    assert pins.download_estimate("AUTO", "linux", "x86_64")[0] > 10 * pins.download_estimate("CPU", "linux", "x86_64")[0]
    assert pins.download_estimate("CPU", "darwin", "arm64") == pins.download_estimate("AUTO", "darwin", "arm64")
    assert pins.download_estimate("CUSTOM", "linux", "x86_64") is None
    assert pins.size_text("CPU", "linux", "x86_64") == "downloads about 230 MB, uses about 1.0 GB of disk"
    assert "CUDA builds are about 3 GB" in pins.size_text("CUSTOM", "linux", "x86_64")
    assert pins.required_free_mb("CPU", "linux", "x86_64") == 230 + 1000 + pins.MARGIN_MB


def test_status_line_wording() -> None:
    assert describe_probe({"ok": True, "torch": "2.13.0+cu128", "cuda": "12.8", "gpu": "NVIDIA GeForce RTX 4070"}) \
        == "engine ready: torch 2.13.0, CUDA 12.8, RTX 4070"
    assert describe_probe({"ok": True, "torch": "2.13.0+cpu", "cuda": None, "gpu": None}) == "engine ready: torch 2.13.0, CPU"
    assert describe_probe({"ok": True, "torch": "2.13.0", "mps": True}) == "engine ready: torch 2.13.0, Apple Metal"
    assert describe_probe({"ok": True, "torch": "2.13.0", "cuda": "12.8", "gpu": None}) \
        == "engine ready: torch 2.13.0, CPU (a CUDA 12.8 build, but no GPU found)"
    assert describe_probe({"ok": False, "error": "ModuleNotFoundError: No module named 'torch'"}).startswith("engine broken:")


def test_probe_runs_in_the_given_python() -> None:
    result = run_probe(sys.executable)
    assert result["ok"], result
    assert result["torch"].split("+")[0] == pins.TORCH_VERSION
    assert describe_probe(result) == f"engine ready: torch {pins.TORCH_VERSION}, CPU"
    missing = run_probe("/nonexistent/python")
    assert not missing["ok"] and "missing" in missing["error"]


def _fake_engine(d: EngineDir) -> Path:
    """A 'previous engine' that works: an environment folder whose python is this interpreter."""
    env = d.new_env_dir()
    python = env_python(env)
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # this venv, torch included
    python.chmod(0o755)
    d.make_current(env, {"build": "AUTO", "probe": {"ok": True, "torch": "2.13.0"}})
    return env


def test_engine_dir_pointer_leftovers_and_lock(tmp_path: Path) -> None:
    d = EngineDir(tmp_path / "engine")
    assert d.record() is None and d.python() is None
    env = _fake_engine(d)
    assert d.python() == str(env_python(env))
    stray = d.envs / "env-interrupted"
    stray.mkdir()
    assert d.leftovers() == [stray]
    assert d.remove_leftovers() == [] and not stray.exists() and env.exists()
    assert list((d.root / "trash").iterdir()) == []  # moved out of envs/ first, then deleted
    d.update_record(probe={"ok": False})
    assert d.record()["probe"] == {"ok": False} and d.record()["env"] == env.name
    assert not list(d.root.glob("*.tmp"))

    # Held by a live process: refused with its pid. Held by a dead one: taken over.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        d.lock.write_text(str(other.pid))
        with pytest.raises(LockHeld, match=str(other.pid)):
            d.acquire()
    finally:
        other.kill()
        other.wait()
    d.acquire()
    assert d.lock.read_text() == str(os.getpid())
    d.release()
    assert not d.lock.exists()
    assert d.clear_current() == env and d.python() is None


def test_not_enough_disk_space_is_refused_before_anything_happens(tmp_path: Path) -> None:
    d = EngineDir(tmp_path / "engine")
    with pytest.raises(InstallError, match=r"not enough disk space: the engine needs about 1000000000\.0 GB"):
        Installer(d, sys.executable, "CPU", min_free_mb=10**12).run()
    assert not d.envs.exists() or not list(d.envs.iterdir())
    assert not d.lock.exists()


def _isolated_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip with no configuration at all, so only the index under test is asked."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "20")


def test_pip_failure_part_way_leaves_the_previous_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index without torch: the environment gets made, pip fails, and everything is undone."""
    _isolated_pip(monkeypatch)
    d = EngineDir(tmp_path / "engine")
    previous = _fake_engine(d)
    before = d.pointer.read_text()
    empty_index = tmp_path / "index"
    empty_index.mkdir()
    stages = []
    installer = Installer(d, sys.executable, "CUSTOM", empty_index.as_uri(), min_free_mb=0,
                          on_progress=lambda p: stages.append(p.stage))
    with pytest.raises(InstallError) as info:
        installer.run()
    message = str(info.value)
    assert ("pip could not install torch: the package index offered no version of torch at all: is the network "
            "down, or the index URL wrong?") in message
    assert f"Full log: {installer.log_path}" in message
    assert stages[:2] == ["creating environment", "downloading torch…"]
    log = Path(info.value.log).read_text()
    assert "-m venv" in log and "No matching distribution found for torch==2.13.0" in log
    assert d.pointer.read_text() == before and sorted(d.envs.iterdir()) == [previous]
    assert not (d.root / "tmp").exists() and not d.lock.exists()
    assert run_probe(d.python())["ok"]


def test_cancel_during_download_removes_the_staging_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts and never answers keeps pip waiting; Cancel must stop it at once."""
    _isolated_pip(monkeypatch)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    threading.Thread(target=lambda: [held.append(server.accept()) for _ in range(8)], daemon=True).start()
    d = EngineDir(tmp_path / "engine")
    installer = Installer(d, sys.executable, "CUSTOM", f"http://127.0.0.1:{server.getsockname()[1]}/simple",
                          min_free_mb=0)
    outcome: list[BaseException] = []
    thread = threading.Thread(target=lambda: outcome.append(pytest.raises(InstallCancelled, installer.run).value))
    thread.start()
    deadline = time.monotonic() + 120
    while installer.progress.stage != "downloading torch…" or not held:
        assert time.monotonic() < deadline and thread.is_alive(), installer.progress
        time.sleep(0.1)
    staging = installer.staging
    assert staging is not None and staging.exists()
    started = time.monotonic()
    installer.cancel()
    thread.join(30)
    assert not thread.is_alive() and time.monotonic() - started < 15
    assert outcome and "cancelled" in str(outcome[0])
    assert not staging.exists() and d.record() is None and not d.lock.exists()
    server.close()


def test_a_python_without_ensurepip_still_gets_an_environment_with_pip(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's python3 without python3-venv: ``-m venv`` fails for want of ensurepip. The installer
    makes the environment --without-pip and puts pip in with the base Python's pip (``--python``)."""
    import ensurepip

    _isolated_pip(monkeypatch)
    bundled = Path(ensurepip.__file__).parent / "_bundled"  # pip's wheel, so no index is needed
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(bundled))
    debian_like = tmp_path / "python3"
    debian_like.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ] && [ "$2" = "venv" ] && [ "$3" != "--without-pip" ]; then\n'
        '  echo "The virtual environment was not created successfully because ensurepip is not available." >&2\n'
        "  exit 1\nfi\n"
        f'exec "{sys.executable}" "$@"\n')
    debian_like.chmod(0o755)
    d = EngineDir(tmp_path / "engine")
    installer = Installer(d, str(debian_like), "CUSTOM", (tmp_path / "no-index").as_uri(), min_free_mb=0)
    with pytest.raises(InstallError, match="pip could not install torch") as info:
        installer.run()  # the environment is made; torch is simply not on offer here
    log = Path(info.value.log).read_text()
    assert "ensurepip is missing: creating the environment without pip" in log
    assert "-m venv --without-pip" in log and "-m pip --python" in log
    assert re.search(r"Successfully installed pip-\d", log), log[-2000:]
    assert "env-" in log and "bin/python -m pip install" in log  # torch was asked of the new env's pip
    assert d.record() is None and list(d.envs.iterdir()) == []
