"""``scripts/bake.py --scheduler`` against a real Dask cluster on 127.0.0.1, set up as docs/farm.md says.

The scheduler is the documented ``dask scheduler --port …``, started in an empty folder with an
environment that names nothing of ours (no ``PYTHONPATH``, cwd outside the repository): a farm's
scheduler is a shared service that has never heard of Texture Forge. The two workers are the
documented ``PYTHONPATH=<repository> dask worker tcp://… --nthreads 1``, as a farm's worker nodes
would have the project. bake.py runs as a real subprocess with the bpy module and submits to it.
Materials are 64² draft so every task takes about a second once torch is loaded on the worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import folder

ROOT = Path(__file__).resolve().parents[1]
BAKE = ROOT / "scripts" / "bake.py"
EXAMPLES = ROOT / "examples"
MAPS = ["basecolor", "normal", "roughness"]
DASK = Path(sys.executable).with_name("dask")  # the venv's ``dask`` command

import bpy  # noqa: F401,E402  (pinned in requirements.txt; a missing bpy must fail, not skip)
import distributed  # noqa: E402  (pinned in requirements.txt)

pytestmark = pytest.mark.blender

FOUR = {"F_Bricks": "bricks.png", "F_Stones": "stones.png", "F_Wood": "wood.png",
        "F_Lichen": "lichen.png"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra: str) -> dict:
    """An environment naming nothing of the project: a farm service's, not this test run's."""
    env = {k: os.environ[k] for k in ("HOME", "LANG", "TMPDIR") if k in os.environ}
    return dict(env, PATH=os.defpath, OMP_WAIT_POLICY="PASSIVE", PYTHONNOUSERSITE="1", **extra)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def start_worker(address: str, *args: str, cwd: Path) -> subprocess.Popen:
    """``PYTHONPATH=<repository> dask worker ADDRESS --nthreads 1 …`` (docs/farm.md), in ``cwd``."""
    return subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", *args],
                            cwd=cwd, env=_clean_env(PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def _cluster(tmp: Path, n_workers: int = 2):
    """The documented farm on 127.0.0.1 and a client; yields ``(cluster, client)``.

    ``cluster.scheduler_address`` is the scheduler's address, ``cluster.scheduler_log`` its log.
    The workers run under a nanny (``dask worker``'s default), which restarts a killed one.
    """
    sched_dir, worker_dir = tmp / "scheduler", tmp / "worker"
    sched_dir.mkdir()
    worker_dir.mkdir()
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = sched_dir / "scheduler.log"
    procs = []
    try:
        with open(log, "w") as f:
            procs.append(subprocess.Popen([str(DASK), "scheduler", "--port", str(port)],
                                          cwd=sched_dir, env=_clean_env(), stdout=f, stderr=f))
        procs += [start_worker(address, cwd=worker_dir) for _ in range(n_workers)]
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=120)
            yield SimpleNamespace(scheduler_address=address, scheduler_log=log), client
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with _cluster(tmp_path_factory.mktemp("farm")) as pair:
        yield pair


def bake_cmd(*args) -> list[str]:
    return [sys.executable, str(BAKE), *map(str, args)]


def _env() -> dict:
    return dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONNOUSERSITE="1")


def bake(*args, cwd: Path, timeout: float = 240) -> tuple[subprocess.CompletedProcess, dict | None]:
    proc = subprocess.run(bake_cmd(*args), cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    try:
        summary = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        pytest.fail("stdout is not a JSON summary:\n" + proc.stdout[-2000:])
    return proc, summary


def write_manifest(path: Path, entries: dict[str, dict], section: str | None = None) -> Path:
    lines = ["[defaults]", "size = 64", 'quality = "draft"', f"maps = {json.dumps(MAPS)}"]
    if section:
        lines.append(f'section = "{section}"')
    for name, entry in entries.items():
        lines += ["", "[[materials]]", f'name = "{name}"']
        lines += [f"{k} = {json.dumps(v)}" for k, v in entry.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def four_manifest(path: Path) -> Path:
    entries = {n: {"refs": [str(EXAMPLES / f)], "seed": i} for i, (n, f) in enumerate(FOUR.items())}
    entries["F_Stones"]["section"] = "Ground/Stone"
    entries["F_Lichen"]["section"] = "Ground/Organic"
    return write_manifest(path, entries, section="Walls")


def reopen(blend: Path, names: list[str]) -> dict:
    """Per material: the Texture Forge roles wired, whether Base Color is linked, image sizes."""
    code = f'''
        import sys, json, bpy
        bpy.ops.wm.open_mainfile(filepath={str(blend)!r})
        out = {{}}
        for name in {names!r}:
            m = bpy.data.materials.get(name)
            if m is None:
                continue
            texs = {{n.get("texture_forge_role"): n.image for n in m.node_tree.nodes
                     if n.bl_idname == "ShaderNodeTexImage" and n.image is not None}}
            bsdf = [n for n in m.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled"][0]
            out[name] = {{"roles": sorted(k for k in texs if k),
                          "base_linked": bsdf.inputs["Base Color"].is_linked,
                          "sizes": sorted({{tuple(i.size[:]) for i in texs.values()}})}}
        sys.stdout.write("@@" + json.dumps(out) + "\\n")
    '''
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env=_env())
    line = [l for l in proc.stdout.splitlines() if l.startswith("@@")]
    assert line, proc.stderr[-2000:]
    return json.loads(line[0][2:])


def set_files(out: Path, name: str) -> list[str]:
    return sorted(p.name for p in (out / folder(name)).iterdir())


def no_leftovers(out: Path) -> list[str]:
    """Anything partial or staged anywhere under ``out``."""
    return [str(p) for p in out.rglob("*")
            if ".part" in p.name or p.name.startswith(".texture_forge")]


def assert_wired(wiring: dict, names, size=(64, 64)) -> None:
    for name in names:
        mat = wiring[name]
        assert {"tex_" + m for m in MAPS} <= set(mat["roles"]), mat
        assert mat["base_linked"] is True, mat
        assert mat["sizes"] == [list(size)], mat


# --------------------------------------------------------------------------- four materials

@pytest.fixture(scope="module")
def four(cluster, tmp_path_factory):
    c, client = cluster
    work = tmp_path_factory.mktemp("farm4")
    manifest = four_manifest(work / "library.toml")
    scene = work / "scene.blend"  # a saved, empty scene: the manifest creates the materials
    made = subprocess.run([sys.executable, "-c", "import bpy; bpy.ops.wm.save_mainfile("
                           f"filepath={str(scene)!r})"], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    t = time.monotonic()
    proc, summary = bake("--blend", scene, "--manifest", manifest, "--out", work / "out", "--save",
                         "--asset-library", work / "lib", "--scheduler", c.scheduler_address,
                         cwd=work)
    wall = time.monotonic() - t
    loaded = client.run(lambda: sorted(m for m in ("bpy", "torch") if m in sys.modules))
    return {"work": work, "manifest": manifest, "proc": proc, "summary": summary, "wall": wall,
            "workers": set(client.scheduler_info()["workers"]), "loaded": loaded}


def test_four_materials_baked_on_the_workers_and_wired(four):
    proc, summary, work = four["proc"], four["summary"], four["work"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary["ok"] is True and summary["scheduler"].startswith("tcp://127.0.0.1:")
    assert [m["name"] for m in summary["materials"]] == list(FOUR)
    used = set()
    for m in summary["materials"]:
        assert m["status"] == "baked" and m["error"] is None, m
        assert m["worker"] in four["workers"], m
        used.add(m["worker"])
        assert m["seconds"] > 0 and m["engine_seconds"] > 0
        assert sorted(m["outputs"]) == sorted(MAPS)
        assert set_files(work / "out", m["name"]) == sorted(
            ["bake.json"] + [f"{m['name']}_{x}.png" for x in MAPS])
        side = json.loads((work / "out" / folder(m["name"]) / "bake.json").read_text())
        assert side["outputs"] == m["outputs"] and side["worker"] == m["worker"]
    assert len(used) == 2, "both workers should have taken tasks"
    # the workers ran the engine (torch) and never needed Blender
    assert all(mods == ["torch"] for mods in four["loaded"].values()), four["loaded"]
    assert no_leftovers(work / "out") == []
    # plain progress lines (stderr is not a terminal), one per task, with the worker
    lines = [l for l in proc.stderr.splitlines() if " baked on tcp://" in l]
    assert len(lines) == 4 and lines[-1].endswith("(4/4)"), proc.stderr[-2000:]
    print(f"\n4 materials on 2 workers: wall {four['wall']:.1f} s, per task "
          + ", ".join(f"{m['seconds']:.1f}" for m in summary["materials"]) + " s")
    # the .blend saved once by the submitting process has every material wired
    assert summary["blend"] == str(work / "scene.blend")
    assert_wired(reopen(work / "scene.blend", list(FOUR)), FOUR)
    # each .blend has its own texture folder (docs/files.md)
    assert sorted(p.name for p in (work / "textures" / "scene").iterdir() if not p.name.startswith(".")) == sorted(
        f"{n}_{m}.png" for n in FOUR for m in MAPS)


def test_rerun_skips_everything_without_submitting(four, cluster):
    c, _ = cluster
    work = four["work"]
    proc, summary = bake("--blend", work / "scene.blend", "--manifest", four["manifest"], "--out",
                         work / "out", "--scheduler", c.scheduler_address, cwd=work)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [m["status"] for m in summary["materials"]] == ["skipped"] * 4
    assert "submitted" not in proc.stderr
    # the same sets are up to date for a local run too: the hash does not depend on where it ran
    proc, summary = bake("--blend", work / "scene.blend", "--manifest", four["manifest"], "--out",
                         work / "out", cwd=work)
    assert [m["status"] for m in summary["materials"]] == ["skipped"] * 4, proc.stderr[-2000:]


def test_asset_library_reopens_with_assets_catalogs_and_previews(four):
    work, summary = four["work"], four["summary"]
    lib = work / "lib"
    info = summary["asset_library"]
    assert info["blend"] == str(lib / "library.blend")
    cats = {}
    for line in (lib / "blender_assets.cats.txt").read_text().splitlines():
        if line and not line.startswith("#") and not line.startswith("VERSION"):
            uid, path, _ = line.split(":", 2)
            cats[path] = uid
    assert {"Walls", "Ground", "Ground/Stone", "Ground/Organic"} <= set(cats)
    code = f'''
        import sys, json, bpy
        import numpy as np
        bpy.ops.wm.open_mainfile(filepath={str(lib / "library.blend")!r})
        out = {{}}
        for m in bpy.data.materials:
            p = m.preview
            px = np.zeros(0, np.float32)
            if p is not None:
                px = np.empty(len(p.image_pixels_float), np.float32)
                p.image_pixels_float.foreach_get(px)
            imgs = [n.image for n in m.node_tree.nodes
                    if n.bl_idname == "ShaderNodeTexImage" and n.image is not None]
            out[m.name] = {{"asset": m.asset_data is not None,
                           "catalog": m.asset_data.catalog_id if m.asset_data else None,
                           "preview_size": list(p.image_size) if p else None,
                           "preview_std": float(px[:].reshape(-1, 4)[:, :3].std()) if px.size else 0.0,
                           "images": len(imgs),
                           "paths": sorted(i.filepath for i in imgs),
                           "images_ok": all(__import__("os").path.isfile(bpy.path.abspath(i.filepath))
                                            for i in imgs)}}
        sys.stdout.write("@@" + json.dumps(out) + "\\n")
    '''
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env=_env())
    line = [l for l in proc.stdout.splitlines() if l.startswith("@@")]
    assert line, proc.stderr[-2000:]
    mats = json.loads(line[0][2:])
    assert set(mats) == set(FOUR)
    expect = {"F_Bricks": "Walls", "F_Wood": "Walls", "F_Stones": "Ground/Stone",
              "F_Lichen": "Ground/Organic"}
    for name, m in mats.items():
        assert m["asset"] is True, m
        assert m["catalog"] == cats[expect[name]], (name, m)
        assert m["preview_size"] and min(m["preview_size"]) >= 64, m
        assert m["preview_std"] > 0.02, m  # a rendered sphere, not a blank image
        assert m["images"] >= len(MAPS) and m["images_ok"], m
        # the textures were copied next to the library and are referenced relatively
        assert m["paths"] == sorted(f"//textures/library/{name}_{x}.png" for x in MAPS), m


def test_the_scheduler_knows_nothing_of_the_project(cluster):
    """The fixture's scheduler is a farm's: our package is not importable there.

    A task holding ``bake_task`` itself (a function pickles as a reference to its module) is
    refused by such a scheduler; bake.py's tasks, which name the function for the worker to
    import, bake on it (the tests above and below). The whole message, cause included, is kept.
    """
    c, client = cluster
    where = client.run_on_scheduler(lambda: (os.getcwd(), os.environ.get("PYTHONPATH"),
                                             __import__("importlib.util").util.find_spec("texture_addon")))
    assert where[0] != str(ROOT) and where[1] is None and where[2] is None, where
    from texture_addon.bake.dask_bake import bake_task, describe
    fut = client.submit(bake_task, {}, pure=False)
    text = describe(fut.exception(timeout=60))
    assert text.startswith("RuntimeError: Error during deserialization of the task graph"), text
    assert "different environments" in text and "\n" not in text, text
    assert text.endswith("(caused by ModuleNotFoundError: No module named 'texture_addon')"), text


# --------------------------------------------------------------------------- faults

def _kill_test_manifest(path: Path) -> Path:
    names = ["K_Bricks", "K_Stones", "K_Wood", "K_Lichen"]
    entries = {n: {"refs": [str(EXAMPLES / f)], "seed": 10 + i}
               for i, (n, f) in enumerate(zip(names, FOUR.values()))}
    return write_manifest(path, entries)


def test_worker_killed_mid_task_material_baked_once(tmp_path):
    """SIGKILL the worker running a task: Dask reruns it, the set appears once, complete."""
    with _cluster(tmp_path) as (c, client):  # fresh workers: torch is not loaded yet, a task runs for seconds
        manifest = _kill_test_manifest(tmp_path / "kill.toml")
        out = tmp_path / "out"
        proc = subprocess.Popen(bake_cmd("--manifest", manifest, "--out", out, "--save",
                                         "--scheduler", c.scheduler_address),
                                cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            staging = out / ".texture_forge_staging"
            victim = addr = None
            deadline = time.monotonic() + 120
            while victim is None and time.monotonic() < deadline and proc.poll() is None:
                started = [p.name.rsplit(".", 1)[0] for p in staging.glob("K_*")] if staging.is_dir() else []
                if started:
                    for worker, keys in client.processing().items():
                        for key in keys:
                            if f"-{started[0]}-" in str(key):
                                victim, addr = started[0], worker
                time.sleep(0.05)
            assert victim, "no task was seen running"
            assert not (out / victim / "bake.json").exists(), "the task finished before the kill"
            pid = client.run(os.getpid, workers=[addr])[addr]
            os.kill(pid, signal.SIGKILL)
            stdout, stderr = proc.communicate(timeout=240)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout)
    by_name = {m["name"]: m for m in summary["materials"]}
    assert all(m["status"] == "baked" for m in by_name.values()), by_name
    victim = next(n for n in by_name if folder(n) == victim)  # the staging folder names the material's folder
    assert by_name[victim]["worker"] != addr  # rerun by another (or the restarted) worker
    for name in by_name:
        assert set_files(out, name) == sorted(["bake.json"] + [f"{name}_{m}.png" for m in MAPS])
    assert no_leftovers(out) == []
    assert_wired(reopen(out / "baked.blend", list(by_name)), by_name)


def test_unreachable_scheduler_exits_2_with_one_line(tmp_path):
    port = _free_port()  # a port nobody listens on
    manifest = _kill_test_manifest(tmp_path / "m.toml")
    proc, summary = bake("--manifest", manifest, "--out", tmp_path / "out", "--scheduler",
                         f"tcp://127.0.0.1:{port}", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert summary["ok"] is False and "cannot reach the Dask scheduler" in summary["error"]
    lines = [l for l in proc.stderr.splitlines() if l.startswith("bake.py: error:")]
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0], proc.stderr
    assert f"127.0.0.1:{port}" in lines[0]
    assert sorted(os.listdir(tmp_path)) == ["m.toml"]  # no --out folder, nothing else written


def test_variants_one_set_per_seed_and_bad_input_reported_once(cluster, tmp_path):
    c, _ = cluster
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not an image")  # exists (so it is submitted), unreadable on the worker
    manifest = write_manifest(tmp_path / "variants.toml", {
        "V_Bricks": {"refs": [str(EXAMPLES / "bricks.png")], "seeds": [1, 2, 3]},
        "V_Broken": {"refs": [str(broken)]},
    })
    proc, summary = bake("--manifest", manifest, "--out", tmp_path / "out", "--scheduler",
                         c.scheduler_address, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]  # one material failed, the others are baked
    by_name = {m["name"]: m for m in summary["materials"]}
    assert list(by_name) == ["V_Bricks_seed1", "V_Bricks_seed2", "V_Bricks_seed3", "V_Broken"]
    from PIL import Image
    import numpy as np
    pixels = []
    for seed in (1, 2, 3):
        name = f"V_Bricks_seed{seed}"
        assert by_name[name]["status"] == "baked", by_name[name]
        assert set_files(tmp_path / "out", name) == sorted(
            ["bake.json"] + [f"{name}_{m}.png" for m in MAPS])
        pixels.append(np.asarray(Image.open(by_name[name]["outputs"]["basecolor"]), np.float32))
    assert all(np.abs(pixels[i] - pixels[j]).mean() > 1 for i, j in ((0, 1), (1, 2), (0, 2)))
    bad = by_name["V_Broken"]
    assert bad["status"] == "failed" and "not an image" in bad["error"], bad
    assert bad["worker"] is not None  # it ran on a worker and came back as a failure
    assert not (tmp_path / "out" / folder("V_Broken") / "bake.json").exists()
    assert no_leftovers(tmp_path / "out") == []


def test_ctrl_c_cancels_the_submitted_tasks(cluster, tmp_path):
    c, client = cluster
    # Tasks long enough that the interrupt lands while the first ones run (64² draft: 0.6 s each).
    entries = {f"C_{i}": {"refs": [str(EXAMPLES / "wood.png")], "seed": 100 + i, "size": 256, "quality": "default"}
               for i in range(6)}
    manifest = write_manifest(tmp_path / "c.toml", entries)
    out = tmp_path / "out"
    # Ctrl-C in a terminal reaches a process whose SIGINT is at its default. A test suite started
    # in the background (``make test &``, some CI runners) passes SIGINT on as *ignored*, and an
    # ignored SIGINT stays ignored in every child: the bake would never see the interrupt.
    proc = subprocess.Popen(bake_cmd("--manifest", manifest, "--out", out, "--scheduler",
                                     c.scheduler_address), cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / ".texture_forge_staging").is_dir() and any((out / ".texture_forge_staging").iterdir()):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted: cancelled" in stderr
    # a farm still gets the summary, saying the run failed
    assert json.loads(stdout[stdout.index("{"):])["ok"] is False
    # the scheduler forgets every task of the run (running ones finish, the rest never start)
    deadline = time.monotonic() + 60
    left = None
    while time.monotonic() < deadline:
        left = client.run_on_scheduler(
            lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks if "-C_" in str(k)])
        if not left:
            break
        time.sleep(0.2)
    assert not left, left
    baked = [n for n in entries if (out / folder(n) / "bake.json").exists()]
    assert len(baked) < len(entries), "every task ran although the run was interrupted"


def test_cuda_tasks_go_only_to_a_worker_started_with_gpu_resource(cluster, tmp_path):
    """The documented ``dask worker … --resources "GPU=1"`` takes every cuda task.

    This machine has no CUDA GPU, so on that worker the engine reports a bad-input failure
    (device 'cuda' unavailable), which also shows that such a failure comes back once, from the
    worker that ran it, instead of being retried.
    """
    c, client = cluster
    before = set(client.scheduler_info()["workers"])
    gpu = start_worker(c.scheduler_address, "--resources", "GPU=1", "--name", "gpu-node",
                       cwd=tmp_path)
    try:
        client.wait_for_workers(len(before) + 1, timeout=120)
        gpu_addr = (set(client.scheduler_info()["workers"]) - before).pop()
        manifest = write_manifest(tmp_path / "gpu.toml", {
            f"G_{i}": {"refs": [str(EXAMPLES / "bricks.png")], "seed": 200 + i} for i in range(3)})
        proc, summary = bake("--manifest", manifest, "--out", tmp_path / "out", "--device", "cuda",
                             "--scheduler", c.scheduler_address, cwd=tmp_path)
    finally:
        _stop(gpu)
    assert proc.returncode == 1, proc.stderr[-3000:]
    for m in summary["materials"]:
        assert m["status"] == "failed" and "device 'cuda'" in m["error"], m
        assert m["worker"] == gpu_addr, (m, gpu_addr)
    assert no_leftovers(tmp_path / "out") == []
