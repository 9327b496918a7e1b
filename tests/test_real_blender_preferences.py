"""Install Engine in a real Blender: the preferences page an artist sees, and the offline refusal.

Two Blender runs (about a minute together):

* under Xvfb, ``tests/real_blender_ui_driver.py`` with ``TF_UI_SCENARIO=preferences`` presses what
  the panel's "Install Engine in Preferences…" button runs (``preferences.addon_show``): the
  Preferences window opens on Texture Forge's expanded add-on preferences; a screenshot
  (``out/real_blender_preferences/preferences_install_engine.png``) is read back with tesseract. Then online
  access is switched off in the preferences and Install Engine is refused, in the UI;
* ``blender -b --offline-mode``: Install Engine is refused with the message that says Blender was
  started offline and how to get online access back; nothing lands in the engine folder and
  Blender exits 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import real_blender as rb

pytestmark = pytest.mark.slow

#: Not out/real_blender: tests/test_real_blender_ui.py empties that folder when it starts.
SHOTS = rb.OUT / "real_blender_preferences"
HOW_TO_ENABLE = "Preferences → System → Network → Allow Online Access"


@pytest.fixture(scope="module")
def prefs_ui(tmp_path_factory) -> dict:
    rb.blender()
    work = tmp_path_factory.mktemp("real_prefs")
    user = rb.ui_user(work, SHOTS)
    return rb.run_ui_driver(user, work, SHOTS, "preferences", 300)


def step(run: dict, name: str) -> dict:
    return rb.driver_step(run, name)


def ours(text: str) -> list[str]:
    """The OCR lines the add-on draws: below Blender's own "Preferences" heading (above it Blender
    lists the add-on's type, maintainer and file, and shortens a long file path itself)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Preferences"), None)
    assert start is not None, f"no 'Preferences' heading: the add-on is not expanded?\n{text}"
    return lines[start + 1:]


def words(text: str) -> str:
    """OCR text with runs of spaces folded (tesseract spaces words unevenly)."""
    return " ".join(text.split())


def test_preferences_show_install_engine_with_the_build_choice_and_its_size(prefs_ui):
    shown = step(prefs_ui, "preferences")
    assert shown["shown"] == ["FINISHED"], shown
    assert shown["section"] == "ADDONS" and shown["expanded"] is True and shown["search"] == "Texture Forge", shown
    # at the width Blender opens Preferences with (only made taller, so nothing needs scrolling)
    assert shown["geometry"]["window"][2] == shown["opened_at"]["window"][2], shown
    assert shown["geometry"]["window"][3] > shown["opened_at"]["window"][3], shown
    assert shown["online"] is True and shown["status"] == "engine not installed", shown
    shot = Path(shown["shot"])
    assert shot.is_file(), shown
    region = rb.crop(shot, shown["geometry"])
    assert region.mean() > 20 and len(np.unique(region.reshape(-1, 3), axis=0)) > 50  # drawn, not black
    text = rb.ocr(shot, shown["geometry"], "preferences", SHOTS)
    flat = words(text)
    # no NVIDIA GPU on these machines: Automatic says it installs the CPU build, and its size
    for expected in ("Texture Forge", "Install Engine", "PyTorch Build", "Automatic",
                     "No NVIDIA GPU found", "CPU build", "downloads about 230 MB", "engine not installed"):
        assert expected in flat, f"{expected!r} is not readable in the preferences:\n{text}"
    assert "Online access is off" not in flat, text
    cut = [line for line in ours(text) if rb.CUT.search(line)]
    assert not cut, f"labels cut in the preferences: {cut}"


def test_custom_build_shows_its_index_url_and_size_sentence_uncut(prefs_ui):
    custom = step(prefs_ui, "custom_build")
    assert custom["build"] == "CUSTOM", custom
    text = rb.ocr(Path(custom["shot"]), custom["geometry"], "preferences_custom", SHOTS)
    flat = words(text)
    for expected in ("Custom Index URL", "Index URL", "download.pytorch.org/whl/cu",  # "cu128": the OCR reads "cui28"
                     "download size depends on the index", "Install Engine"):
        assert expected in flat, f"{expected!r} is not readable in the preferences:\n{text}"
    cut = [line for line in ours(text) if rb.CUT.search(line)]
    assert not cut, f"labels cut in the preferences: {cut}"


def test_install_engine_in_the_ui_is_refused_while_online_access_is_off(prefs_ui):
    offline = step(prefs_ui, "offline")
    assert offline["online"] is False, offline
    assert offline["op"].startswith("RuntimeError") and "Online access is off" in offline["op"], offline
    assert HOW_TO_ENABLE in offline["op"] and offline["message"] == "", offline  # greyed out, with the reason
    assert offline["engine_files"] == [], offline
    text = words(rb.ocr(Path(offline["shot"]), offline["geometry"], "preferences_offline", SHOTS))
    assert "Online access is off" in text and "Allow Online Access" in text, text


def test_blender_quits_cleanly_after_the_preferences(prefs_ui):
    step(prefs_ui, "quit")
    assert "still_running_after_quit" not in prefs_ui["steps"]
    assert prefs_ui["proc"].returncode == 0, rb.tail(prefs_ui["proc"])


OFFLINE_SCRIPT = """
import importlib, json, os, bpy
engine = importlib.import_module({module!r} + ".texture_addon.blender.engine_install")
root = str(engine.engine_root()[0])
result = {{"online": bpy.app.online_access, "override": bpy.app.online_access_override}}
try:
    result["op"] = sorted(bpy.ops.texture_forge.install_engine())
except RuntimeError as exc:
    result["op"] = "RuntimeError: " + str(exc)
result["message"] = engine.last_message()
result["status"] = bpy.context.preferences.addons[{module!r}].preferences.engine_status
result["engine_files"] = sorted(os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root)
                                for n in dirs + files)
print("@@RESULT@@", json.dumps(result))
"""


def test_offline_mode_refuses_install_engine_and_blender_lives(tmp_path):
    """``blender -b --offline-mode``: refused with what to do, nothing downloaded or created, exit 0."""
    user = tmp_path / "user"
    proc = rb.install_extension(user, tmp_path)
    assert proc.returncode == 0, rb.tail(proc)
    script = tmp_path / "offline.py"
    script.write_text(OFFLINE_SCRIPT.format(module=rb.MODULE))
    proc = rb.run(["-b", "--offline-mode", "-P", str(script)], rb.user_env(user), cwd=tmp_path, timeout=180)
    assert proc.returncode == 0, rb.tail(proc)
    found = rb.results(proc.stdout)
    assert len(found) == 1, rb.tail(proc)
    result = found[0]
    assert result["online"] is False and result["override"] is True, result
    message = result["op"]  # Install Engine is greyed out; its reason is the refusal
    assert "Online access is off: Blender was started with --offline-mode" in message, message
    assert "restart Blender without it" in message and "Allow Online Access" in message, message
    assert result["op"].startswith("RuntimeError") and "--offline-mode" in result["op"], result
    assert result["status"] == "engine not installed", result
    assert result["engine_files"] == [], result
    assert not list((user / "extensions").rglob("current.json")), "an engine record was written"
