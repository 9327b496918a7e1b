"""Harness for the tests that run a real Blender (not the ``bpy`` module).

``scripts/get_blender.sh`` provides the executable: ``$BLENDER`` when set, else Debian 13's Blender
4.3 from a cached root filesystem (built on first use, a few minutes). When no Blender can be had,
every test using it fails with the script's one-line reason: never a silent skip.

Each Blender run gets its own user folders (``BLENDER_USER_RESOURCES``), so nothing here reads or
changes the real user's preferences, and the extension is the zip built by
``scripts/build_extension.py``, installed with ``blender --command extension install-file`` as a
person would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GET_BLENDER = ROOT / "scripts" / "get_blender.sh"
MODULE = "bl_ext.user_default.texture_forge"
RESULT_MARK = "@@RESULT@@ "
OUT = ROOT / "out"
#: The Xvfb screen the UI tests run on (``-p 0 0 W H`` puts Blender's main window over all of it).
SCREEN = (1600, 1500)
#: A label Blender shortened to fit: text running into "..." (or "…"), as in "Store I..." or "/w...".
CUT = re.compile(r"\w(\.\.\.|…)|(\.\.\.|…)\w")

_blender: str | None = None
_failure: str | None = None
_zip: Path | None = None


def blender() -> str:
    """The Blender executable (built once per session); pytest.fail with one line when none."""
    global _blender, _failure
    if _blender is None and _failure is None:
        try:
            proc = subprocess.run(["bash", str(GET_BLENDER)], capture_output=True, text=True, timeout=1500,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            _failure = "scripts/get_blender.sh did not finish within 25 minutes"
        else:
            lines = proc.stdout.strip().splitlines()
            if proc.returncode != 0 or not lines:
                why = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
                _failure = f"no real Blender for the tests: {why}"
            else:
                _blender = lines[-1]
    if _failure:
        pytest.fail(_failure, pytrace=False)
    assert _blender is not None
    return _blender


def extension_zip(tmp_root: Path) -> Path:
    """The zip built by scripts/build_extension.py (once per session)."""
    global _zip
    if _zip is None or not _zip.is_file():
        out = tmp_root / "dist"
        out.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        zips = sorted(out.glob("texture_forge-*.zip"))
        assert zips, proc.stdout
        _zip = zips[-1]
    return _zip


def user_env(user_dir: Path, **extra: str) -> dict:
    """Environment for one Blender with its own user folders (created) and the given overrides."""
    user_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("BLENDER_USER_CONFIG", None)
    env.pop("BLENDER_USER_SCRIPTS", None)
    env.pop("BLENDER_USER_EXTENSIONS", None)
    env["BLENDER_USER_RESOURCES"] = str(user_dir)
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env.update(extra)
    return env


def run(args: list[str], env: dict, cwd: Path | None = None, timeout: float = 300,
        xvfb: bool = False) -> subprocess.CompletedProcess:
    """Run the real Blender (or, with ``args[0] == '--run'``, a program inside its root) to the end.

    The whole process group is killed on timeout (xvfb-run leaves Xvfb and Blender behind).
    """
    cmd = [blender(), *(["--xvfb"] if xvfb else []), *map(str, args)]
    env = {**env, "TEXTURE_FORGE_SCREEN": f"{SCREEN[0]}x{SCREEN[1]}x24"}  # Xvfb's screen: the window's size
    proc = subprocess.Popen(cmd, cwd=cwd or ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[test harness] killed after {timeout} s"
        return subprocess.CompletedProcess(cmd, -9, out, err)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # leftovers (Xvfb, an engine) of this run only
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def install_extension(user_dir: Path, tmp_root: Path, enable: bool = True) -> subprocess.CompletedProcess:
    """``blender --command extension install-file -r user_default [-e] ZIP`` into ``user_dir``."""
    zip_path = extension_zip(tmp_root)
    args = ["--command", "extension", "install-file", "-r", "user_default", *(["-e"] if enable else []),
            str(zip_path)]
    return run(args, user_env(user_dir), timeout=180)


def hide_splash(user_dir: Path) -> subprocess.CompletedProcess:
    """Save ``show_splash = False`` in ``user_dir``'s preferences (as a person would), so no splash
    screen covers what the UI tests take screenshots of."""
    return run(["-b", "--python-expr", "import bpy; bpy.context.preferences.view.show_splash = False; "
                "bpy.ops.wm.save_userpref()"], user_env(user_dir), timeout=120)


def results(text: str) -> list[dict]:
    """Every ``@@RESULT@@ {json}`` line a script printed, in order."""
    found = []
    for line in text.splitlines():
        if line.startswith(RESULT_MARK):
            found.append(json.loads(line[len(RESULT_MARK):]))
    return found


def tail(proc: subprocess.CompletedProcess, n: int = 3000) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-n:]}\n--- stderr\n{proc.stderr[-n:]}"


def wait_for(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def crop(path: Path, geometry: dict, screen: tuple[int, int] = SCREEN):
    """A region of a root-window screenshot, from the ``window``/``region`` rectangles a UI driver
    recorded (Blender's y axis points up, the screen's down), as an int16 RGB array."""
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    assert img.shape[:2] == (screen[1], screen[0]), img.shape
    x, y, w, h = geometry["region"]
    wx, wy, ww, wh = geometry["window"]
    top = screen[1] - (wy + y + h)
    return img[top:top + h, wx + x:wx + x + w]


def ocr(shot: Path, geometry: dict, name: str, shots: Path, screen: tuple[int, int] = SCREEN) -> str:
    """The text of a region, read by tesseract (inside Blender's root filesystem) from a screenshot:
    greyscale, inverted (dark theme), three times larger. The image and the text are kept in
    ``shots`` as ``ocr_<name>.png`` / ``.txt``."""
    import numpy as np
    from PIL import Image

    region = Image.fromarray(crop(shot, geometry, screen).astype(np.uint8)).convert("L")
    big = Image.eval(region, lambda v: 255 - v).resize((region.width * 3, region.height * 3), Image.LANCZOS)
    path = shots / f"ocr_{name}.png"
    big.save(path)
    proc = run(["--run", "tesseract", str(path), "-", "--psm", "6"], user_env(shots / "ocr_user"), timeout=120)
    assert proc.returncode == 0, tail(proc)
    (shots / f"ocr_{name}.txt").write_text(proc.stdout)
    return proc.stdout


def ui_user(work: Path, shots: Path) -> Path:
    """A fresh Blender user folder under ``work`` with the built add-on enabled and no splash
    screen (a saved preference, as a person would); ``shots`` emptied for the screenshots."""
    user = work / "user"
    proc = install_extension(user, work)
    assert proc.returncode == 0, tail(proc)
    proc = hide_splash(user)
    assert proc.returncode == 0, tail(proc)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    return user


def run_ui_driver(user: Path, work: Path, shots: Path, scenario: str, timeout: float,
                  blender_args: tuple[str, ...] = (), **extra: str) -> dict:
    """tests/real_blender_ui_driver.py's ``scenario`` under Xvfb: the process and its steps by name
    (``blender_args`` before the script, e.g. ``--enable-event-simulate``)."""
    results = work / f"{scenario}.jsonl"
    env = user_env(user, TMPDIR=str(work), TF_UI_RESULTS=str(results), TF_UI_SHOTS=str(shots),
                   TF_UI_SCENARIO=scenario, **extra)
    proc = run([*blender_args, "-p", "0", "0", str(SCREEN[0]), str(SCREEN[1]), "-P",
                str(ROOT / "tests" / "real_blender_ui_driver.py")],
               env, cwd=work, timeout=timeout, xvfb=True)
    steps = {}
    if results.is_file():
        for line in results.read_text().splitlines():
            data = json.loads(line)
            steps[data["step"]] = data
    (shots / "steps.json").write_text(json.dumps(steps, indent=1))
    return {"proc": proc, "steps": steps}


def driver_step(run_result: dict, name: str) -> dict:
    """A step's record from :func:`run_ui_driver`, or a failure saying where Blender stopped."""
    steps, proc = run_result["steps"], run_result["proc"]
    if "driver_error" in steps:
        pytest.fail("the UI driver failed:\n" + steps["driver_error"]["error"])
    if name not in steps:
        pytest.fail(f"Blender never reached step '{name}': it exited with {proc.returncode} after "
                    f"{list(steps)}\n" + tail(proc))
    return steps[name]
