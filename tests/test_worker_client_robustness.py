"""The Blender side of the pipe survives the engine's death, and previews are never deleted under it.

Blender does not ignore SIGPIPE (the bpy module and plain Python do), so the scenarios that used
to kill Blender run here in a child Python with SIGPIPE restored to its default action: the
child dying with signal 13 is exactly Blender's exit 141. Real worker subprocesses throughout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texture_addon.contract.spec import JobSpec, ReferenceSpec
from texture_addon.worker.blender_side.client import WorkerClient

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> str:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:96]
    img = 0.5 + 0.3 * np.sin(x / 5.0 + y / 9.0)[..., None] * np.array([1.0, 0.6, 0.2]) + 0.1 * rng.random((96, 96, 3))
    path = tmp_path_factory.mktemp("refs") / "stripes.png"
    Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(path)
    return str(path)


def run_like_blender(body: str, *args: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``body`` in a child Python whose SIGPIPE kills it, as Blender's does; return its RESULT."""
    script = textwrap.dedent("""
        import json, signal, sys, time
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # Blender's setting: a broken pipe kills
        from texture_addon.contract.spec import JobSpec, ReferenceSpec
        from texture_addon.worker.blender_side.client import WorkerClient
        RESULT = {}
    """) + textwrap.dedent(body) + "\nprint('@@' + json.dumps(RESULT), flush=True)\n"
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONNOUSERSITE="1")
    env.pop("TEXTURE_FORGE_PYTHON", None)
    proc = subprocess.run([PY, "-c", script, *args], capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, (f"the Blender-like process died (exit {proc.returncode}; -13 is SIGPIPE):\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    lines = [l for l in proc.stdout.splitlines() if l.startswith("@@")]
    return proc, json.loads(lines[-1][2:])


def test_second_generate_after_the_warm_engine_left_on_its_idle_timeout(reference, tmp_path):
    """Issue 12 item 1: the second Generate after Keep Engine Warm's timeout killed Blender."""
    _, result = run_like_blender("""
        ref, out, logs = sys.argv[1:4]
        spec = lambda: JobSpec(references=[ReferenceSpec(ref)], output_dir=out, width=64, height=64,
                               quality="draft")
        c = WorkerClient(idle_timeout=1.0, log_dir=logs)
        RESULT["first"] = c.start(spec()).wait(180)["type"]
        old = c._process
        deadline = time.monotonic() + 20
        while old.popen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        RESULT["old_exit"] = old.popen.poll()
        RESULT["write_to_exited"] = old.send({"cmd": "ping"})      # straight at the dead process
        RESULT["second"] = c.start(spec()).wait(180)["type"]
        RESULT["restarted"] = c._process is not old
        c.shutdown()
    """, reference, str(tmp_path / "out"), str(tmp_path / "logs"))
    assert result == {"first": "result", "old_exit": 0, "write_to_exited": False, "second": "result",
                      "restarted": True}


def test_a_write_racing_the_engines_exit_fails_in_words_not_by_signal(tmp_path):
    """The engine may exit between the liveness check and the write: that write must not kill Blender."""
    _, result = run_like_blender("""
        import subprocess
        from texture_addon.worker.blender_side.command_pipe import CommandPipe
        pipe = CommandPipe()
        # A reader that closes its stdin but stays alive: poll() says running, the write has no reader.
        proc = subprocess.Popen(["sh", "-c", "exec 0<&-; exec sleep 30"], stdin=pipe.stdin_for_popen())
        pipe.attach(proc)
        time.sleep(0.5)
        RESULT["alive"] = proc.poll() is None
        try:
            for _ in range(100):
                pipe.write(b'{"cmd": "ping"}\\n' * 1000)
            RESULT["error"] = None
        except OSError as exc:
            RESULT["error"] = type(exc).__name__
        RESULT["signal_safe"] = pipe.signal_safe
        proc.kill(); proc.wait(); pipe.close()
    """)
    assert result == {"alive": True, "error": "BrokenPipeError", "signal_safe": True}


def test_plain_pipes_would_have_killed_the_process(tmp_path):
    """Control for the test above: with an ordinary pipe the same write is death by SIGPIPE."""
    script = textwrap.dedent("""
        import signal, subprocess, time
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        proc = subprocess.Popen(["sh", "-c", "exec 0<&-; exec sleep 30"], stdin=subprocess.PIPE)
        time.sleep(0.5)
        try:
            proc.stdin.write(b"x" * 100000); proc.stdin.flush()
        finally:
            proc.kill()
    """)
    assert subprocess.run([PY, "-c", script], timeout=60).returncode == -13


def test_second_generate_after_torch_missing_and_quitting_after_it(reference, tmp_path):
    """Issue 12 item 1: a second click after "torch missing", then quitting, each killed Blender."""
    bare = tmp_path / "bare"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    _, result = run_like_blender("""
        ref, out, logs, python = sys.argv[1:5]
        spec = JobSpec(references=[ReferenceSpec(ref)], output_dir=out, width=64, height=64)
        c = WorkerClient(python=python, idle_timeout=300, log_dir=logs)
        outcomes = []
        for attempt in range(3):
            try:
                final = c.start(spec).wait(60)
                outcomes.append([final["type"], final["message"]])
            except Exception as exc:           # a readable refusal is fine too; dying is not
                outcomes.append(["raised", str(exc)])
            time.sleep(0.5 * attempt)          # let the engine's exit land before the next click
        RESULT["outcomes"] = outcomes
        c.shutdown()                           # quitting Blender after the failure
        RESULT["quit"] = "ok"
    """, reference, str(tmp_path / "out"), str(tmp_path / "logs"), str(bare / "bin" / "python"))
    assert result["quit"] == "ok"
    for kind, message in result["outcomes"]:
        assert kind in ("error", "raised")
        assert "torch" in message and "not installed for" in message, message


def test_previews_are_never_deleted_before_the_client_moved_past_them(reference, tmp_path, monkeypatch):
    """Issue 12 item 3: the worker kept 3 previews, so a lagging UI read deleted files."""
    monkeypatch.setenv("TEXTURE_FORGE_PREVIEW_INTERVAL", "0")  # every preview the engine renders
    c = WorkerClient(idle_timeout=60, log_dir=str(tmp_path / "logs"))
    try:
        spec = JobSpec(references=[ReferenceSpec(reference)], output_dir=str(tmp_path / "out"),
                       width=128, height=128, quality="default", seed=2)
        job = c.start(spec)
        deadline = time.monotonic() + 240
        while not job._final_delivered:       # the UI is frozen: nothing is polled meanwhile
            assert time.monotonic() < deadline
            time.sleep(0.1)
        batch = job.poll()
        previews = [m["path"] for m in batch if m["type"] == "preview"]
        assert len(previews) > 3, "a long enough job to have outrun the old keep-3 pruning"
        assert all(os.path.isfile(p) for p in previews), "a preview vanished before the UI read it"
        job.poll()                             # the job has ended and was polled again
        assert not any(os.path.exists(p) for p in previews), "previews are cleaned up once read"
    finally:
        c.shutdown()


def test_polling_keeps_only_the_newest_preview_on_disk(reference, tmp_path):
    c = WorkerClient(idle_timeout=60, log_dir=str(tmp_path / "logs"))
    try:
        spec = JobSpec(references=[ReferenceSpec(reference)], output_dir=str(tmp_path / "out"),
                       width=128, height=128, quality="default", seed=3)
        job = c.start(spec)
        seen: list[str] = []
        deadline = time.monotonic() + 240
        while not job.done:
            assert time.monotonic() < deadline
            new = [m["path"] for m in job.poll() if m["type"] == "preview"]
            if new:
                assert os.path.isfile(new[-1]), "the newest preview exists when handed over"
                assert not any(os.path.exists(p) for p in seen[:-1]), "superseded previews are deleted"
                seen += new
            time.sleep(0.3)
        assert seen
    finally:
        c.shutdown()
