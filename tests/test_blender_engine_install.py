"""Install Engine through Blender (the bpy module), for real: pip as configured on this machine.

One Blender user folder is shared by the module: the first scenario installs the built extension
and runs ``texture_forge.install_engine`` (about 1 GB written, so once per run); the next ones
start new bpy processes on the same folder, as a person reopening Blender would. On this machine
pip's configuration serves the CPU build of torch 2.13.0 from a local wheel, so the test uses the
"Automatic" build (what the configured index serves); the CPU-only and custom-index arguments are
covered in test_engine_installer.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("tf_blender_harness", Path(__file__).with_name("test_blender_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = [harness.requires_bpy, pytest.mark.slow]

PRELUDE = textwrap.dedent('''
    import json, os, sys, time, importlib
    import numpy as np
    import bpy, addon_utils
    MODULE = "bl_ext.user_default.texture_forge"
    if INSTALL_ZIP:
        assert bpy.ops.extensions.package_install_files(
            filepath=ZIP, repo="user_default", enable_on_install=True) == {"FINISHED"}
    addon_utils.enable(MODULE, default_set=True)
    PREFS = bpy.context.preferences.addons[MODULE].preferences
    assert PREFS.python == ""  # no Python Interpreter: Generate must find the installed engine
    bpy.context.preferences.system.use_online_access = True
    ENGINE = importlib.import_module(MODULE + ".texture_addon.blender.engine_install")
    RUNNER = importlib.import_module(MODULE + ".texture_addon.blender.job_runner")
    RESULT = {}

    def call(op, **kw):
        try:
            return sorted(op(**kw)), None
        except RuntimeError as exc:
            return None, str(exc)

    def engine_state():
        d = ENGINE.engine_dir()
        return {"root": str(d.root), "record": d.record(), "python": d.python(),
                "envs": sorted(p.name for p in d.envs.iterdir()) if d.envs.exists() else [],
                "status": ENGINE.status_text(), "pref_status": PREFS.engine_status,
                "lock": d.lock.exists(), "tmp": (d.root / "tmp").exists()}

    class Layout:
        """Records what the preferences' draw() asks for (the bpy module has no UI to draw in)."""
        def __init__(self, log=None):
            self.log = [] if log is None else log
        alert = False
        def _child(self, *a, **k):
            return Layout(self.log)
        box = row = column = _child
        def label(self, text="", **k):
            self.log.append("label:" + text)
        def prop(self, data, name, **k):
            self.log.append("prop:" + name)
        def operator(self, idname, **k):
            self.log.append("operator:" + idname)
            return type("OperatorProperties", (), {})()
        def progress(self, text="", factor=0.0, **k):
            self.log.append("progress:%s:%.2f" % (text, factor))

    def drawn():
        layout = Layout()
        ENGINE.draw(PREFS, layout, bpy.context)
        return layout.log

    def panel_hint():
        layout = Layout()
        ENGINE.draw_panel_hint(layout, bpy.context)
        return layout.log

    def pixels(image):
        w, h = image.size[:]
        a = np.empty(len(image.pixels), np.float32)
        image.pixels.foreach_get(a)
        return a.reshape(h, w, -1)[::-1]

    def seam_ratio(a):
        return importlib.import_module(MODULE + ".texture_addon.references.seams").seam_score(a[..., :3])
''')


def run_bpy(body: str, zip_path: Path, user: Path, workdir: Path, install_zip: bool,
            env_extra: dict | None = None, drop_env: tuple[str, ...] = (), timeout: float = 400) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "scenario.py"
    script.write_text(f"ZIP = {str(zip_path)!r}\nWORK = {str(workdir)!r}\nINSTALL_ZIP = {install_zip}\n"
                      + PRELUDE + textwrap.dedent(body)
                      + f"\nprint({harness.RESULT_MARK!r} + json.dumps(RESULT), flush=True)\n")
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user), PYTHONNOUSERSITE="1", **(env_extra or {}))
    for name in ("TEXTURE_FORGE_PYTHON", *drop_env):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=str(workdir))
    lines = [l for l in proc.stdout.splitlines() if l.startswith(harness.RESULT_MARK)]
    assert proc.returncode == 0 and lines, (
        f"scenario failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len(harness.RESULT_MARK):])


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return harness.build_zip(tmp_path_factory.mktemp("dist"))


def cpu_build_choice() -> str:
    """"AUTO" when pip, as configured here, resolves torch to a CPU build (as on this project's
    machines, from a local wheel); else "CPU", so the test never pulls gigabytes of CUDA."""
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--report", "-", "--no-deps", f"torch=={TORCH}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    torch = [i for i in json.loads(proc.stdout)["install"] if i["metadata"]["name"] == "torch"]
    return "AUTO" if torch and "+cpu" in torch[0]["metadata"]["version"] else "CPU"


TORCH = "2.13.0"


@pytest.fixture(scope="module")
def installed(zip_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A Blender user folder with the extension and an engine installed by the operator."""
    base = tmp_path_factory.mktemp("engine_install")
    user = base / "blender_user"
    user.mkdir()
    build = cpu_build_choice()
    result = run_bpy('''
        PREFS.torch_build = "@@BUILD@@"
        RESULT["effective_build"] = ENGINE.effective_build("@@BUILD@@")  # Automatic without NVIDIA: CPU
        # Allow Online Access off (as in factory settings): refused, nothing written.
        bpy.context.preferences.system.use_online_access = False
        RESULT["offline"] = {"online": bpy.app.online_access}
        RESULT["offline"]["ret"], RESULT["offline"]["error"] = call(bpy.ops.texture_forge.install_engine)
        RESULT["offline"]["state"] = engine_state()
        RESULT["offline"]["last"] = ENGINE.last_message()
        bpy.context.preferences.system.use_online_access = True
        RESULT["before"] = engine_state()
        RESULT["draw_before"] = drawn()
        RESULT["panel_before"] = panel_hint()
        RESULT["client_python_before"] = RUNNER.client_settings()["python"]
        t0 = time.monotonic()
        RESULT["ret"], RESULT["error"] = call(bpy.ops.texture_forge.install_engine)
        RESULT["seconds"] = time.monotonic() - t0
        RESULT["after"] = engine_state()
        RESULT["draw_after"] = drawn()
        RESULT["panel_after"] = panel_hint()
        RESULT["client_python"] = RUNNER.client_settings()["python"]
        RESULT["again"], RESULT["again_error"] = call(bpy.ops.texture_forge.install_engine)
        RESULT["after_again"] = engine_state()
    '''.replace("@@BUILD@@", build), zip_path, user, base / "install", install_zip=True)
    return {"user": user, "base": base, "result": result, "build": build}


def test_install_engine_makes_a_working_private_environment(installed: dict) -> None:
    r = installed["result"]
    assert r["before"]["record"] is None and r["before"]["status"] == "engine not installed"
    assert r["client_python_before"] is None
    assert r["ret"] == ["FINISHED"], r["error"]
    after = r["after"]
    # Inside the extension's user folder, not the add-on's own (replaced on upgrade).
    assert after["root"].startswith(str(installed["user"])) and "/extensions/.user/" in after["root"]
    assert after["python"] and after["python"].startswith(after["root"] + "/envs/")
    assert after["status"] == "engine ready: torch 2.13.0, CPU" == after["pref_status"]
    record = after["record"]
    assert record["build"] == r["effective_build"] and record["probe"]["ok"] and record["probe"]["torch"].startswith("2.13.0")
    assert after["envs"] == [record["env"]] and not after["lock"] and not after["tmp"]
    assert Path(record["log"]).is_file() and "Successfully installed" in Path(record["log"]).read_text()
    assert r["client_python"] == after["python"]
    # The preferences box: build choice and size, then Install; once installed, Repair and Remove.
    assert "prop:torch_build" in r["draw_before"] and "operator:texture_forge.install_engine" in r["draw_before"]
    shown = " ".join(" ".join(l.partition(":")[2].split()) for l in r["draw_before"])  # wrapped lines
    assert "torch 2.13.0: downloads about" in shown, r["draw_before"]
    assert "label:engine not installed" in r["draw_before"]
    assert {"operator:texture_forge.repair_engine", "operator:texture_forge.remove_engine",
            "label:engine ready: torch 2.13.0, CPU"} <= set(r["draw_after"]), r["draw_after"]
    assert "operator:texture_forge.install_engine" not in r["draw_after"]
    # The Texture Forge panel points to the preferences only while there is no engine.
    assert r["panel_before"] == ["label:No engine installed yet", "operator:preferences.addon_show"]
    assert r["panel_after"] == []
    # Its own interpreter, made from the one running Blender, with torch importable.
    proc = subprocess.run([after["python"], "-c", "import sys, torch, numpy, PIL; print(sys.prefix, torch.__version__)"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.split()[0].startswith(after["root"]), proc.stderr
    # Pressing Install again with the same settings reinstalls nothing.
    assert r["again"] == ["FINISHED"] and r["after_again"]["envs"] == after["envs"]
    print(f"engine install took {r['seconds']:.0f} s")


def test_generate_uses_the_installed_engine_when_no_interpreter_is_set(installed: dict, zip_path: Path) -> None:
    ref = harness.write_reference(installed["base"] / "ref.png")
    result = run_bpy(f'''
        mo = importlib.import_module(MODULE + ".texture_addon.blender.material_output")
        bpy.ops.mesh.primitive_plane_add()
        obj = bpy.context.active_object
        mat = bpy.data.materials.new("Engine")
        obj.data.materials.append(mat)
        s = mat.texture_forge
        s.size_preset = "CUSTOM"; s.width = 128; s.height = 128
        s.quality = "draft"; s.seed = 5; s.storage = "PACK"
        for m in ("basecolor", "height", "normal", "roughness", "ao"):
            setattr(s, "map_" + m, m == "basecolor")
        assert list(bpy.ops.texture_forge.reference_add(filepath={str(ref)!r})) == ["FINISHED"]
        RESULT["ret"], RESULT["error"] = call(bpy.ops.texture_forge.generate)
        RESULT["last_error"] = s.last_error
        client = RUNNER.get_client()
        RESULT["worker_python"] = client._process.key[0] if client._process else None
        RESULT["engine_python"] = ENGINE.installed_python()
        RESULT["blender_python"] = sys.executable
        im = mo.find_our_image(mat, "basecolor")
        RESULT["size"] = list(im.size[:]) if im else None
        a = pixels(im)[..., :3] if im else np.zeros((1, 1, 3))
        RESULT["std"] = float(a.std())
        RESULT["mean"] = float(a.mean())
        RESULT["seam"] = float(seam_ratio(a)) if im else None
        RUNNER.shutdown()
    ''', zip_path, installed["user"], installed["base"] / "generate", install_zip=False)
    assert result["ret"] == ["FINISHED"], (result["error"], result["last_error"])
    assert result["worker_python"] == result["engine_python"] != result["blender_python"]
    assert result["size"] == [128, 128]
    assert result["std"] > 0.03 and 0.05 < result["mean"] < 0.95
    assert result["seam"] < 2.0  # tiles: the same bound as test_blender_generate



def test_failed_repair_keeps_the_engine_then_remove_deletes_it(installed: dict, zip_path: Path) -> None:
    """A repair whose index does not answer fails part-way (after the new environment exists); the
    engine that was there still runs. Then Remove takes it away, and Generate falls back."""
    result = run_bpy('''
        T0 = time.monotonic(); RESULT["t"] = {}
        RESULT["before"] = engine_state()
        PREFS.torch_build = "CUSTOM"
        PREFS.torch_index_url = "http://127.0.0.1:9/simple"  # the discard port: nothing listens
        RESULT["ret"], RESULT["error"] = call(bpy.ops.texture_forge.repair_engine)
        RESULT["t"]["repair"] = time.monotonic() - T0
        RESULT["after"] = engine_state()
        RESULT["last"] = ENGINE.last_message()
        # The UI path: the install runs in a thread, a timer (here: called by hand, as timers never
        # fire without Blender's event loop) follows it, and the Cancel button stops it mid-download.
        import socket, threading
        server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(8)
        held = []
        threading.Thread(target=lambda: [held.append(server.accept()) for _ in range(8)], daemon=True).start()
        PREFS.torch_index_url = "http://127.0.0.1:%d/simple" % server.getsockname()[1]  # answers never
        RUNNER.ASYNC_IN_BACKGROUND = True  # operators return at once, as in the UI
        RESULT["ui_ret"], RESULT["ui_error"] = call(bpy.ops.texture_forge.repair_engine)
        task = ENGINE._task
        stages = []
        deadline = time.monotonic() + 120
        while not held and time.monotonic() < deadline and ENGINE.installing():
            ENGINE.tick()
            stages.append(PREFS.engine_status)
            RESULT["draw_installing"] = drawn()
            time.sleep(0.2)
        RESULT["ui_stages"] = sorted(set(stages))
        RESULT["ui_staging_existed"] = task.installer.staging is not None and task.installer.staging.exists()
        RESULT["cancel"], _ = call(bpy.ops.texture_forge.cancel_engine_install)
        t0 = time.monotonic()
        while ENGINE.installing() and time.monotonic() - t0 < 30:
            time.sleep(0.1)
        RESULT["cancel_seconds"] = time.monotonic() - t0
        ENGINE.tick()
        RESULT["t"]["ui"] = time.monotonic() - T0
        RESULT["ui_last"] = ENGINE.last_message()
        RESULT["ui_note"] = list(RUNNER.notifications[-1])
        RUNNER.ASYNC_IN_BACKGROUND = False
        RESULT["ui_after"] = engine_state()
        RESULT["ui_staging_exists"] = task.installer.staging.exists()
        RESULT["check"], RESULT["check_error"] = call(bpy.ops.texture_forge.check_engine)
        RESULT["t"]["check"] = time.monotonic() - T0
        RESULT["check_status"] = PREFS.status
        RUNNER.shutdown()
        RESULT["t"]["shutdown"] = time.monotonic() - T0
        RESULT["remove"], RESULT["remove_error"] = call(bpy.ops.texture_forge.remove_engine)
        RESULT["t"]["remove"] = time.monotonic() - T0
        RESULT["removed"] = engine_state()
        RESULT["client_python"] = RUNNER.client_settings()["python"]
        RESULT["remove_again"], _ = call(bpy.ops.texture_forge.remove_engine)
        RESULT["last_again"] = ENGINE.last_message()
    ''', zip_path, installed["user"], installed["base"] / "repair", install_zip=False,
        env_extra={"PIP_CONFIG_FILE": os.devnull, "PIP_RETRIES": "1", "PIP_TIMEOUT": "20"},
        drop_env=tuple(n for n in os.environ if n.startswith("PIP_")))
    before, after = result["before"], result["after"]
    assert result["ret"] is None and "could not be reached" in result["error"]
    assert "Full log: " in result["error"] and "Full log: " in result["last"]
    assert after["record"] == before["record"] and after["envs"] == before["envs"]
    assert after["status"] == "engine ready: torch 2.13.0, CPU" and not after["lock"] and not after["tmp"]
    assert "repair: downloading torch… (8%)" in result["ui_stages"], result["ui_stages"]
    assert "progress:downloading torch…:0.08" in result["draw_installing"], result["draw_installing"]
    assert "operator:texture_forge.cancel_engine_install" in result["draw_installing"]
    assert result["ui_staging_existed"] and not result["ui_staging_exists"]
    assert result["cancel"] == ["FINISHED"] and result["cancel_seconds"] < 15
    assert result["ui_ret"] == ["FINISHED"], result["ui_error"]  # returned at once; the thread installs
    assert result["ui_last"] == "install cancelled; the previous engine (if any) is unchanged"
    assert result["ui_note"] == ["WARNING", "Texture Forge: " + result["ui_last"]]
    assert result["ui_after"]["record"] == before["record"] and result["ui_after"]["envs"] == before["envs"]
    assert result["check"] == ["FINISHED"] and result["check_status"].startswith("engine ready: torch 2.13.0")
    assert result["remove"] == ["FINISHED"], result["remove_error"]
    removed = result["removed"]
    assert removed["record"] is None and removed["envs"] == [] and removed["status"] == "engine not installed"
    assert result["client_python"] is None  # back to the old search ($TEXTURE_FORGE_PYTHON, this Python)
    assert result["last_again"] == "no engine was installed"



def test_install_is_refused_while_online_access_is_off(installed: dict) -> None:
    result = installed["result"]["offline"]
    assert result["online"] is False and result["ret"] is None
    assert "Online access is off" in result["error"]
    assert "Preferences → System → Network → Allow Online Access" in result["error"]
    assert result["state"]["envs"] == [] and result["state"]["record"] is None
    # greyed out (poll) with the reason: the refusal is on the button, nothing else is recorded
    assert result["last"] == ""
