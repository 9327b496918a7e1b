"""The engine process, end to end: real worker subprocesses driven through the client and the raw pipe.

Jobs are tiny (64–128 px) so the file stays fast on two cores. "Long" jobs are ones that would run
for a while (128 px, default quality) and are cancelled or killed once they report progress.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texture_addon.errors import TextureForgeError
from texture_addon.contract.spec import JobSpec, ReferenceSpec, SpecError
from texture_addon.worker.blender_side.client import Job, WorkerBusy, WorkerClient, find_python

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


# ---------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> str:
    """A small striped, noisy texture: enough structure for the engine to work on."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:96]
    img = 0.5 + 0.3 * np.sin(x / 5.0 + y / 9.0)[..., None] * np.array([1.0, 0.6, 0.2]) + 0.1 * rng.random((96, 96, 3))
    path = tmp_path_factory.mktemp("refs") / "stripes.png"
    Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(path)
    return str(path)


def quick_spec(reference: str, out: Path, **changes) -> JobSpec:
    spec = JobSpec(references=[ReferenceSpec(reference)], output_dir=str(out), name="wall",
                   width=64, height=64, quality="draft", seed=1)
    for k, v in changes.items():
        setattr(spec, k, v)
    return spec


def long_spec(reference: str, out: Path) -> JobSpec:
    # Long enough to be still running when a test cancels, kills or sends a second job: 128²
    # default now finishes in about 0.2 s, inside the window those tests need.
    return quick_spec(reference, out, width=512, height=512, quality="default")


def wait_for(job: Job, kind: str, timeout: float = 60.0) -> list[dict]:
    """Poll (as Blender's timer does) until a message of ``kind`` arrives; return all messages seen."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in job.poll():
            seen.append(m)
            if m["type"] == kind:
                return seen
            if job.done:
                pytest.fail(f"job ended with {m} while waiting for {kind!r}")
        time.sleep(0.002)
    pytest.fail(f"no {kind!r} message within {timeout} s (got {[m['type'] for m in seen]})")


def poll_until_done(job: Job, timeout: float) -> list[dict]:
    """Every message of a job, in order, collected the way Blender's timer does it."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while not job.done:
        assert time.monotonic() < deadline, f"job not done within {timeout} s"
        seen += job.poll()
        time.sleep(0.01)
    return seen


def worker_pid(client: WorkerClient) -> int:
    assert client._process is not None
    return client._process.popen.pid


def pid_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an orphan may wait a while to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def worker_env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), PYTHONNOUSERSITE="1")


class RawWorker:
    """``python -m texture_addon.worker`` on a pipe, without the client: checks the protocol itself."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([PY, "-m", "texture_addon.worker", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=worker_env())
        self.messages: queue.Queue[dict] = queue.Queue()
        self.bad_lines: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # never let stderr fill up

    def _read(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            try:
                self.messages.put(json.loads(raw))
            except ValueError:
                self.bad_lines.append(raw)

    def send(self, obj: dict | str) -> None:
        line = obj if isinstance(obj, str) else json.dumps(obj)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def expect(self, predicate, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                m = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"expected message did not arrive within {timeout} s")
            if predicate(m):
                return m
            if time.monotonic() > deadline:
                pytest.fail(f"expected message did not arrive within {timeout} s")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """One warm worker shared by the tests that do not care about its lifetime."""
    c = WorkerClient(idle_timeout=120, log_dir=str(tmp_path_factory.mktemp("logs")))
    yield c
    c.shutdown()


# ---------------------------------------------------------------------- client, end to end

def test_job_runs_end_to_end_with_ordered_progress_and_previews(client, reference, tmp_path):
    out = tmp_path / "out"
    job = client.start(quick_spec(reference, out))
    messages = poll_until_done(job, timeout=120)
    final = job.final
    assert final["type"] == "result", final
    assert messages[0]["type"] == "started" and messages[-1] is final

    progress = [m for m in messages if m["type"] == "progress"]
    assert len(progress) >= 3
    assert [(m["level"], m["step"]) for m in progress] == sorted((m["level"], m["step"]) for m in progress)
    assert progress[-1]["step"] == progress[-1]["total"]  # the last step is always reported
    assert all(m["eta"] is None or m["eta"] >= 0 for m in progress)
    assert job.progress == 1.0 and job.done and job.stage == "done"

    outputs = final["outputs"]
    assert set(outputs) == {"basecolor"} == set(final["seam_scores"])
    path = Path(outputs["basecolor"])
    assert path.is_absolute() and path == out / "wall_basecolor.png"
    with Image.open(path) as img:
        assert img.size == (64, 64) and img.mode == "RGB"
    assert [p.name for p in out.iterdir()] == ["wall_basecolor.png"]  # no staging or .part left over
    assert final["seconds"] > 0 and 0.5 < final["seam_scores"]["basecolor"] < 2.0

    previews = [m for m in messages if m["type"] == "preview"]
    assert previews, "the engine renders previews; the worker must forward at least one"
    assert len(previews) <= 2 * final["seconds"] + 2, "previews are throttled to about two per second"
    assert job.last_preview == previews[-1]["path"]
    with Image.open(previews[-1]["path"]) as img:
        assert img.size == (previews[-1]["width"], previews[-1]["height"]) and max(img.size) <= 256


def test_cancel_stops_within_a_second_and_leaves_nothing(client, reference, tmp_path):
    out = tmp_path / "out"
    job = client.start(long_spec(reference, out))
    wait_for(job, "progress")
    t0 = time.monotonic()
    job.cancel()
    final = job.wait(timeout=10)
    elapsed = time.monotonic() - t0
    print(f"\ncancel acknowledged after {elapsed * 1000:.0f} ms")
    assert final["type"] == "cancelled"
    assert elapsed < 1.0
    assert not out.exists() or list(out.iterdir()) == []
    assert job.stage == "cancelled" and job.done


def test_second_start_while_running_raises_worker_busy(client, reference, tmp_path):
    job = client.start(long_spec(reference, tmp_path / "a"))
    try:
        with pytest.raises(WorkerBusy, match=f"a job is already running \\({job.id}\\)"):
            client.start(quick_spec(reference, tmp_path / "b"))
    finally:
        job.cancel()
    assert job.wait(timeout=10)["type"] == "cancelled"
    # Once the first job has ended the same warm worker takes the next one.
    pid = worker_pid(client)
    nxt = client.start(long_spec(reference, tmp_path / "c"))
    wait_for(nxt, "started", timeout=10)
    nxt.cancel()
    assert nxt.wait(timeout=10)["type"] == "cancelled"
    assert worker_pid(client) == pid


def test_malformed_spec_is_refused_before_any_process_starts(reference, tmp_path):
    c = WorkerClient(log_dir=str(tmp_path))
    bad = quick_spec(reference, tmp_path, width=5000, references=[ReferenceSpec(reference), ReferenceSpec("/x/y.png")])
    with pytest.raises(SpecError) as info:
        c.start(bad)
    assert info.value.errors == ["width: 5000 out of range (64…4096)", "reference 2: file not found: /x/y.png"]
    assert c._process is None and not c.alive


def test_warm_worker_starts_the_second_job_much_faster(reference, tmp_path):
    c = WorkerClient(idle_timeout=60, log_dir=str(tmp_path / "logs"))
    try:
        figures = []
        pids = []
        for i in range(2):
            t0 = time.monotonic()
            job = c.start(long_spec(reference, tmp_path / f"out{i}"))
            wait_for(job, "started", timeout=60)
            started = time.monotonic() - t0
            wait_for(job, "progress", timeout=60)
            figures.append((started, time.monotonic() - t0))
            pids.append(worker_pid(c))
            job.cancel()
            assert job.wait(timeout=10)["type"] == "cancelled"
        (cold, cold_progress), (warm, warm_progress) = figures
        print(f"\ncold start: {cold * 1000:.0f} ms to 'started' ({cold_progress * 1000:.0f} ms to first progress); "
              f"warm start: {warm * 1000:.1f} ms to 'started' ({warm_progress * 1000:.0f} ms to first progress); "
              f"ratio {cold / warm:.0f}x")
        assert pids[0] == pids[1], "the second job must reuse the warm worker"
        assert cold / warm >= 5
    finally:
        c.shutdown()
    assert not c.alive


def test_sigkill_mid_job_becomes_an_error_within_five_seconds(reference, tmp_path):
    c = WorkerClient(idle_timeout=60, log_dir=str(tmp_path / "logs"))
    try:
        job = c.start(long_spec(reference, tmp_path / "out"))
        wait_for(job, "progress")
        previews = c._process.preview_dir
        assert os.path.isdir(previews)
        t0 = time.monotonic()
        os.kill(worker_pid(c), signal.SIGKILL)
        final = job.wait(timeout=5)
        elapsed = time.monotonic() - t0
        print(f"\nkill reported after {elapsed * 1000:.0f} ms: {final['message'].splitlines()[0]}")
        assert final["type"] == "error" and final["error_type"] == "WorkerCrashed"
        assert "SIGKILL" in final["message"] and "out of memory" in final["message"]
        assert isinstance(final["stderr"], list)
        assert job.last_error == final["message"]
        assert not c.alive
        assert not os.path.exists(previews), "a killed worker's previews are cleaned up by the client"
        assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
        assert c.check(timeout=60)["ok"], "the next request starts a fresh worker"

        job = c.start(long_spec(reference, tmp_path / "out"))
        wait_for(job, "started")
        c.shutdown()  # e.g. the add-on being disabled mid-job
        assert job.wait(timeout=5)["type"] == "cancelled" and not c.alive
    finally:
        c.shutdown()


def test_interpreter_without_torch_says_how_to_fix_it(reference, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    python = str(bare / "bin" / "python")
    assert subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0
    c = WorkerClient(python=python, log_dir=str(tmp_path / "logs"))
    try:
        report = c.check(timeout=30)
        print("\n" + report["message"])
        assert report["ok"] is False and report["torch"] is None and report["python"] == python
        assert "torch" in report["message"] and f"not installed for {python}" in report["message"]
        assert f"`{python} -m pip install torch==2.13.0" in report["message"]
        assert "choose another Python in the add-on preferences" in report["message"]

        final = c.start(quick_spec(reference, tmp_path / "out")).wait(timeout=30)
        assert final["type"] == "error" and final["error_type"] == "MissingDependency"
        assert final["message"] == report["message"]
    finally:
        c.shutdown()


def test_missing_interpreter_is_reported_not_raised(tmp_path):
    report = WorkerClient(python=str(tmp_path / "no-such-python"), log_dir=str(tmp_path)).check(timeout=5)
    assert report["ok"] is False and "Python interpreter not found" in report["message"]


def test_find_python_prefers_explicit_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTURE_FORGE_PYTHON", PY)
    assert find_python() == PY
    assert Path(find_python("python3")).name.startswith("python3")
    monkeypatch.delenv("TEXTURE_FORGE_PYTHON")
    assert find_python() == sys.executable
    with pytest.raises(TextureForgeError, match="Python interpreter not found"):
        find_python(str(tmp_path / "missing"))


# ---------------------------------------------------------------------- the raw protocol

def test_protocol_ping_refusals_clean_stdout_and_exit_on_pipe_close(reference, tmp_path):
    w = RawWorker("--idle-timeout", "60", "--log-dir", str(tmp_path / "logs"))
    try:
        ready = w.expect(lambda m: True)
        assert ready["type"] == "ready" and ready["torch"] == "2.13.0" and "cpu" in ready["devices"]

        w.send("this is not json")
        assert w.expect(lambda m: m["type"] == "error")["error_type"] == "ProtocolError"
        w.send({"cmd": "ping"})
        assert w.expect(lambda m: True)["type"] == "pong"
        w.send({"cmd": "cancel"})  # off the contract: said in words, not a traceback
        refused = w.expect(lambda m: m["type"] == "error")
        assert refused["error_type"] == "ProtocolError" and "'job' is missing" in refused["message"]

        bad = quick_spec(reference, tmp_path / "x").to_dict()
        bad.update(width=5000, colour="red")
        w.send({"cmd": "run", "job": "bad", "spec": bad})
        err = w.expect(lambda m: m["type"] == "error" and m["job"] == "bad")
        assert err["error_type"] == "SpecError" and err["errors"] == ["unknown field 'colour'"]
        assert Path(err["log"]).is_file() and "SpecError" in Path(err["log"]).read_text()

        w.send({"cmd": "run", "job": "a", "spec": long_spec(reference, tmp_path / "a").to_dict()})
        w.expect(lambda m: m["type"] == "progress" and m["job"] == "a")
        w.send({"cmd": "run", "job": "b", "spec": quick_spec(reference, tmp_path / "b").to_dict()})
        refused = w.expect(lambda m: m.get("job") == "b")
        assert refused["type"] == "error" and refused["error_type"] == "WorkerBusy"
        assert refused["message"] == "a job is already running: a"

        t0 = time.monotonic()
        w.proc.stdin.close()  # the client went away
        w.proc.wait(timeout=5)
        elapsed = time.monotonic() - t0
        print(f"\nworker exited {elapsed * 1000:.0f} ms after its stdin closed")
        assert elapsed < 3.0 and w.proc.returncode == 0
        assert w.bad_lines == [], "stdout must carry JSON lines only"
        assert not (tmp_path / "a").exists() or list((tmp_path / "a").iterdir()) == []
    finally:
        w.kill()


def test_overlong_lines_and_path_like_job_ids_are_protocol_errors(reference, tmp_path):
    """A line longer than the cap is refused as soon as the cap is passed (never buffered whole),
    the rest of it up to its newline is dropped, and the process stays healthy; a job id such as
    ``../x`` never names a preview or log file."""
    from texture_addon.contract.protocol import MAX_LINE_BYTES

    previews = tmp_path / "previews"
    w = RawWorker("--idle-timeout", "60", "--log-dir", str(tmp_path / "logs"), "--preview-dir", str(previews))
    try:
        assert w.expect(lambda m: True)["type"] == "ready"
        w.proc.stdin.write(b"x" * (MAX_LINE_BYTES + 70_000))  # no newline yet
        w.proc.stdin.flush()
        refused = w.expect(lambda m: True, timeout=10)
        assert refused["type"] == "error" and refused["error_type"] == "ProtocolError"
        assert refused["message"] == f"command line longer than {MAX_LINE_BYTES} bytes; discarded"
        w.send("y" * 10_000)  # the end of the same line: dropped without a word
        w.send({"cmd": "ping"})
        assert w.expect(lambda m: True)["type"] == "pong"

        w.send({"cmd": "run", "job": "../escape", "spec": quick_spec(reference, tmp_path / "out").to_dict()})
        refused = w.expect(lambda m: True)
        assert refused["type"] == "error" and refused["error_type"] == "ProtocolError" and refused["job"] is None
        assert "'job' must be 1-64 letters, digits" in refused["message"]
        w.send({"cmd": "ping"})
        assert w.expect(lambda m: True) == {"type": "pong", "busy": None}
        assert not (tmp_path / "escape_0000.png").exists() and not (tmp_path / "out").exists()
        assert w.bad_lines == []
    finally:
        w.kill()


def test_idle_worker_says_bye_and_exits(tmp_path):
    w = RawWorker("--idle-timeout", "1", "--log-dir", str(tmp_path))
    try:
        assert w.expect(lambda m: True)["type"] == "ready"
        t0 = time.monotonic()
        bye = w.expect(lambda m: True, timeout=10)
        assert bye["type"] == "bye" and bye["reason"] == "idle"
        w.proc.wait(timeout=5)
        assert 0.8 < time.monotonic() - t0 < 6 and w.proc.returncode == 0
    finally:
        w.kill()


CLIENT_SCRIPT = """
import sys, time
from texture_addon.contract.spec import JobSpec, ReferenceSpec
from texture_addon.worker.blender_side.client import WorkerClient
c = WorkerClient(idle_timeout=600, log_dir=sys.argv[3])
job = c.start(JobSpec(references=[ReferenceSpec(sys.argv[1])], output_dir=sys.argv[2], width=128, height=128))
while not any(m["type"] == "progress" for m in job.poll()):
    time.sleep(0.01)
print(c._process.popen.pid, flush=True)
time.sleep(600)
"""


def test_worker_exits_when_its_client_process_dies(reference, tmp_path):
    """Blender crashing mid-job must not leave an engine process burning CPU."""
    host = subprocess.Popen([PY, "-c", CLIENT_SCRIPT, reference, str(tmp_path / "out"), str(tmp_path / "logs")],
                            stdout=subprocess.PIPE, env=worker_env(), text=True)
    try:
        pid = int(host.stdout.readline())
        assert pid_running(pid)
        host.kill()
        host.wait()
        t0 = time.monotonic()
        while pid_running(pid) and time.monotonic() - t0 < 8:
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        print(f"\norphaned worker exited {elapsed * 1000:.0f} ms after its client was killed")
        assert not pid_running(pid)
        assert elapsed < 3.0
    finally:
        host.kill()
        if "pid" in locals() and pid_running(pid):
            os.kill(pid, signal.SIGKILL)


def test_old_logs_are_pruned_and_foreign_files_kept(tmp_path):
    from texture_addon.worker.blender_side.client import prune_logs

    now = time.time()
    for i in range(6):
        path = tmp_path / f"worker_{i}.log"
        path.write_text("x")
        os.utime(path, (now - i, now - i))  # worker_0 is the newest
    stale = tmp_path / "job_old.log"
    stale.write_text("x")
    os.utime(stale, (now - 30 * 24 * 3600,) * 2)
    (tmp_path / "notes.log").write_text("someone else's")
    assert prune_logs(str(tmp_path), keep=4) == 3  # the two oldest workers and the stale job log
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.log", "worker_0.log", "worker_1.log",
                                                          "worker_2.log", "worker_3.log"]


def test_pruning_tolerates_a_neighbour_removing_logs(tmp_path, monkeypatch):
    """Two workers starting at once (bake --jobs 2) prune one folder: files vanish under us."""
    from texture_addon.worker.blender_side import client

    for i in range(3):
        (tmp_path / f"job_{i}.log").write_text("x")
    real_scandir = os.scandir

    def racing_scandir(path):
        for entry in real_scandir(path):
            if entry.name == "job_1.log":
                os.remove(entry.path)  # a neighbour got there first
            yield entry

    monkeypatch.setattr(client.os, "scandir", racing_scandir)
    assert client.prune_logs(str(tmp_path), keep=1) == 1
    assert len(list(tmp_path.iterdir())) == 1
