"""Startup script that drives Texture Forge in a real Blender UI (run with ``-P`` under Xvfb).

Not a test module: ``tests/test_real_blender_ui.py`` starts Blender with this script. Blender's
event loop keeps running; a persistent ``bpy.app.timers`` callback walks through the scenario
(a generator that yields how long to wait) and calls the add-on's operators with
``context.temp_override`` on the 3D Viewport's sidebar, as a click would. Every step appends one
JSON line to ``$TF_UI_RESULTS`` at once (fsync), so when Blender dies the test still knows how far
it got. Screenshots (ImageMagick ``import -window root``) go to ``$TF_UI_SHOTS``.

``$TF_UI_SCENARIO`` picks the walk-through: ``panel`` (default; ``tests/test_real_blender_ui.py``)
``preferences`` (Install Engine in the Preferences window; ``tests/test_real_blender_preferences.py``)
``artist`` (result preview, Repeat, Ctrl-Z during a job; ``tests/test_real_blender_panel.py``) or
``prepare`` (Paint Mask, Pick Corners by simulated clicks, Heal and Ctrl-Z; ``tests/test_real_blender_prepare.py``).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import time
import traceback

import bpy

RESULTS = os.environ["TF_UI_RESULTS"]
SHOTS = os.environ["TF_UI_SHOTS"]
REF = os.environ.get("TF_UI_REF", "")
OTHER_BLEND = os.environ.get("TF_UI_OTHER_BLEND", "")
#: Which walk-through: "panel" (the N-panel and jobs, the default) or "preferences" (Install Engine).
SCENARIO = os.environ.get("TF_UI_SCENARIO", "panel")
NO_TORCH_PYTHON = os.environ.get("TF_UI_NO_TORCH_PYTHON", "/usr/bin/python3")
MODULE = "bl_ext.user_default.texture_forge"
MAT = "TF Test"
#: Mesa's llvmpipe can freeze the main loop for tens of seconds after a material change.
SLOW = float(os.environ.get("TF_UI_TIMEOUT", "240"))


def record(step: str, **data) -> None:
    data["step"] = step
    data["t"] = round(time.monotonic() - T0, 2)
    with open(RESULTS, "a", encoding="utf-8") as f:
        f.write(json.dumps(data, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def job_runner():
    return importlib.import_module(MODULE + ".texture_addon.blender.job_runner")


def prefs():
    return bpy.context.preferences.addons[MODULE].preferences


def ui_context() -> dict:
    """window/area/region of the biggest 3D Viewport's sidebar (what a click there would get)."""
    window = bpy.context.window_manager.windows[0]
    areas = [a for a in window.screen.areas if a.type == "VIEW_3D"]
    area = max(areas, key=lambda a: a.width * a.height)
    region = next(r for r in area.regions if r.type == "UI")
    return {"window": window, "screen": window.screen, "area": area, "region": region}


def material():
    return bpy.data.materials.get(MAT)


def running() -> list:
    try:
        return list(job_runner().running_jobs())
    except Exception:
        return []


def job_of(mat):
    jr = job_runner()
    for attempt in (lambda: jr.get_job(jr.material_key(mat)),):
        try:
            state = attempt()
            if state is not None:
                return state
        except Exception:
            pass
    jobs = running()
    return jobs[0] if jobs else None


def describe(mat) -> dict:
    """What the artist sees of the material: images, links into the BSDF, pixels' hash, error."""
    if mat is None:
        return {"exists": False}
    tree = mat.node_tree
    images = {}
    for img in bpy.data.images:
        if img.get("texture_forge_map") or img.name.startswith(MAT):
            h = ""
            # len(pixels) loads a file image that no editor has drawn yet: without it the hash
            # depended on whether the viewport had got to the image (has_data), not on its pixels.
            if len(img.pixels):
                h = hashlib.sha256(bytes(memoryview(_pixels(img)))).hexdigest()[:16]
            images[img.name] = {"size": list(img.size[:]), "map": img.get("texture_forge_map"), "hash": h,
                                "users": img.users}
    links = sorted(f"{l.from_node.name}:{l.from_socket.identifier}->{l.to_node.name}:{l.to_socket.identifier}"
                   for l in tree.links) if tree else []
    base = None
    if tree:
        bsdf = next((n for n in tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled"), None)
        if bsdf and bsdf.inputs["Base Color"].is_linked:
            node = bsdf.inputs["Base Color"].links[0].from_node
            base = {"node": node.bl_idname, "image": getattr(getattr(node, "image", None), "name", None)}
    return {"exists": True, "images": images, "links": links, "base": base,
            "nodes": sorted(n.bl_idname for n in tree.nodes) if tree else [],
            "last_error": getattr(mat.texture_forge, "last_error", None)}


def _pixels(img):
    import array

    buf = array.array("f", bytes(4 * len(img.pixels)))
    img.pixels.foreach_get(buf)
    return buf


def screenshot(name: str) -> str:
    path = os.path.join(SHOTS, name)
    proc = subprocess.run(["import", "-window", "root", path], capture_output=True, text=True, timeout=120)
    return path if proc.returncode == 0 else f"failed: {proc.stderr.strip()}"


def geometry(ctx: dict) -> dict:
    w, a, r = ctx["window"], ctx["area"], ctx["region"]
    return {"window": [w.x, w.y, w.width, w.height], "area": [a.x, a.y, a.width, a.height],
            "region": [r.x, r.y, r.width, r.height], "ui_scale": bpy.context.preferences.system.ui_scale,
            "category": getattr(r, "active_panel_category", None)}


def generate() -> set:
    with bpy.context.temp_override(**ui_context()):
        return bpy.ops.texture_forge.generate()


def until(predicate, timeout: float, interval: float = 0.5):
    """Wait (yielding to Blender) until ``predicate()``; returns whether it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        yield interval
    return bool(predicate())


def material_on_cube():
    """A new material MAT as the default cube's only material, the cube active."""
    cube = bpy.data.objects.get("Cube")
    mat = bpy.data.materials.new(MAT)
    cube.data.materials.clear()
    cube.data.materials.append(mat)
    bpy.context.view_layer.objects.active = cube
    return cube, mat


def draft_settings_from_file_reference(mat) -> None:
    """REF as the material's one file reference, colour and normal maps, 64² draft."""
    s = mat.texture_forge
    r = s.references.add()
    r.source, r.filepath, r.enabled = "FILE", REF, True
    for m in ("basecolor", "height", "normal", "roughness", "ao"):
        setattr(s, "map_" + m, m in ("basecolor", "normal"))
    settings(64, "draft")


def settings(size: int, quality: str) -> None:
    s = material().texture_forge
    s.size_preset = "CUSTOM"
    s.width = s.height = size
    s.quality = quality


def op(fn):
    """Run an operator call; its result or the error text (a failing operator raises RuntimeError)."""
    try:
        return sorted(fn())
    except Exception as exc:  # noqa: BLE001 - recorded for the test
        return f"{type(exc).__name__}: {exc}"


def scenario():
    yield 2.0
    import signal as _s
    p = prefs()
    p.keep_worker_warm = False  # the engine leaves 5 s after a job: the next Generate must restart it
    p.python = ""               # TEXTURE_FORGE_PYTHON (the engine with torch) from the environment
    try:  # as the Preferences window would: auto-saved at a normal quit
        bpy.context.preferences.is_dirty = True
    except Exception:  # noqa: BLE001 - then the test sees no saved preferences
        pass
    try:
        import numpy  # noqa: F401
        numpy_ok = True
    except ImportError:
        numpy_ok = False
    record("start", blender=bpy.app.version_string, python=sys.version.split()[0], numpy=numpy_ok,
           sigpipe_ignored=_s.getsignal(_s.SIGPIPE) == _s.SIG_IGN,
           engine_python=os.environ.get("TEXTURE_FORGE_PYTHON"))

    # --- a material on the default cube, and a second file with a same-named plain material
    cube, mat = material_on_cube()
    bpy.ops.wm.save_as_mainfile(filepath=OTHER_BLEND, copy=True)
    draft_settings_from_file_reference(mat)

    # --- the sidebar at its default width, Texture Forge tab
    ctx = ui_context()
    ctx["area"].spaces.active.show_region_ui = True
    yield 3.0
    ctx = ui_context()
    before = screenshot("sidebar_item_tab.png")
    geo_before = geometry(ctx)
    try:
        ctx["region"].active_panel_category = "Texture Forge"
        switched = True
    except Exception as exc:  # noqa: BLE001
        switched = f"{type(exc).__name__}: {exc}"
    for area in ctx["screen"].areas:
        area.tag_redraw()
    yield 4.0
    ctx = ui_context()
    record("panel", switched=switched, before=before, shot=screenshot("panel_default_width.png"),
           geometry=geometry(ctx), geometry_before=geo_before)

    # --- Generate -> progress -> done
    first = describe(material())
    result = op(generate)
    seen = {"progress": 0.0, "stages": [], "shot": None}

    def watch() -> bool:
        state = job_of(material())
        if state is not None:
            seen["progress"] = max(seen["progress"], float(getattr(state, "progress", 0.0) or 0.0))
            stage = str(getattr(state, "stage", ""))
            if stage and (not seen["stages"] or seen["stages"][-1] != stage):
                seen["stages"].append(stage)
        return not running()

    done = yield from until(watch, SLOW, 0.25)
    yield 2.0
    seen["shot"] = screenshot("panel_after_generate.png")
    state = job_of(material())
    record("generate", op=result, done=done, seen=seen, before=first, after=describe(material()),
           message=getattr(state, "message", None))

    # --- Cancel: the material must stay exactly as it was. 1024² at high quality runs for tens of
    # seconds here (256² default once did, and now ends in about a second, before Cancel is pressed).
    settings(1024, "high")
    before = describe(material())
    result = op(generate)

    def previewed() -> bool:
        """Cancel only once a preview has reached Blender (or the job is half done): that is when
        a preview written into the artist's image would be left behind."""
        state = job_of(material())
        job = getattr(state, "job", None)
        return bool(running()) and (getattr(job, "last_preview", None) is not None
                                    or float(getattr(state, "progress", 0) or 0) >= 0.5)

    started = yield from until(previewed, SLOW, 0.25)
    yield 1.0  # let the panel's timer apply that preview
    with bpy.context.temp_override(**ui_context()):
        cancel = op(lambda: bpy.ops.texture_forge.cancel())
    stopped = yield from until(lambda: not running(), SLOW)
    yield 2.0
    state = job_of(material())
    record("cancel", op=result, started=started, cancel=cancel, stopped=stopped, before=before,
           after=describe(material()), message=getattr(state, "message", None))

    # --- the engine leaves (idle 5 s); the next Generate must start a new one, Blender alive
    yield 9.0
    settings(64, "draft")
    before = describe(material())
    result = op(generate)
    done = yield from until(lambda: not running(), SLOW)
    yield 1.0
    state = job_of(material())
    record("after_engine_exit", op=result, done=done, before=before, after=describe(material()),
           message=getattr(state, "message", None))

    # --- an engine Python without torch: a readable error, twice, Blender alive
    p.python = NO_TORCH_PYTHON
    outcomes = []
    for click in (1, 2):
        before = describe(material())
        result = op(generate)
        finished = yield from until(lambda: not running(), SLOW)
        yield 1.0
        state = job_of(material())
        outcomes.append({"op": result, "finished": finished, "before": before, "after": describe(material()),
                         "message": getattr(state, "message", None)})
        if click == 1:
            yield 7.0  # the failed engine is long gone before the second click
    shot = screenshot("panel_no_torch.png")
    record("no_torch", clicks=outcomes, shot=shot)
    p.python = ""

    # --- File > Open during a job
    settings(128, "default")
    result = op(generate)
    started = yield from until(lambda: bool(running()), SLOW, 0.25)
    with bpy.context.temp_override(window=bpy.context.window_manager.windows[0]):
        opened = op(lambda: bpy.ops.wm.open_mainfile(filepath=OTHER_BLEND))
    yield 2.0
    just_after = {"running": len(running()), "file": bpy.data.filepath, "material": describe(material())}
    yield 25.0  # long enough for the old job to have finished
    record("open_during_job", op=result, started=started, opened=opened, just_after=just_after,
           later={"running": len(running()), "file": bpy.data.filepath, "material": describe(material())},
           shot=screenshot("panel_after_open.png"))

    record("quit")
    with bpy.context.temp_override(window=bpy.context.window_manager.windows[0]):
        bpy.ops.wm.quit_blender()
    yield 30.0
    record("still_running_after_quit")


def addon(name: str):
    return importlib.import_module(MODULE + ".texture_addon.blender." + name)


def artist_scenario():
    """Issue 34 as an artist meets it: Generate → "Done in", the result preview (and 2 × 2), the
    Mapping node and Repeat, the larger look at a reference, Ctrl-Z during a job, and the one-click
    offer of Material Preview (the viewport is never switched unasked)."""
    yield 2.0
    p = prefs()
    p.python = ""
    panels = addon("panels")
    cube, mat = material_on_cube()
    draft_settings_from_file_reference(mat)
    # an undo step, as the clicks that made these settings would have pushed (operators called
    # from a script push none), so Ctrl-Z later has a state with this material to go back to
    bpy.ops.ed.undo_push(message="Texture Forge test setup")
    ctx = ui_context()
    ctx["area"].spaces.active.show_region_ui = True
    yield 3.0
    ctx = ui_context()
    ctx["region"].active_panel_category = "Texture Forge"
    for area in ctx["screen"].areas:
        area.tag_redraw()
    yield 3.0
    shading_before = ui_context()["area"].spaces.active.shading.type

    # --- Generate: "Done in", the preview, the Mapping node; the viewport left as it was
    result = op(generate)
    stages = []

    def watch() -> bool:
        for line in panels.status_lines(material()):
            if not stages or stages[-1] != line:
                stages.append(line)
        return not running()

    done = yield from until(watch, SLOW, 0.2)
    yield 3.0
    mat = material()
    tree = mat.node_tree
    roles = {n.get("texture_forge_role"): n for n in tree.nodes if n.get("texture_forge_role")}
    preview = panels.result_preview(mat, False)
    record("generate", op=result, done=done, stages=stages, status=panels.status_lines(mat),
           shading_before=shading_before, shading_after=ui_context()["area"].spaces.active.shading.type,
           roles=sorted(roles), links=describe(mat)["links"],
           preview={"icon": getattr(preview, "icon_id", 0), "size": list(preview.image_size[:]) if preview else None},
           shot=screenshot("artist_done.png"), geometry=geometry(ui_context()))
    # the status and the result are below the settings: scroll the sidebar down, as a person would
    with bpy.context.temp_override(**ui_context()):
        scrolled = [op(lambda: bpy.ops.view2d.scroll_down(deltax=0, deltay=0, page=True)) for _ in range(3)]
    yield 3.0
    record("generate_bottom", scrolled=scrolled, shot=screenshot("artist_done_bottom.png"), geometry=geometry(ui_context()))

    # --- Repeat drives the Mapping node; the 2 × 2 preview
    mat.texture_forge.repeat = 4.0
    mat.texture_forge.preview_tiled = True
    for area in ui_context()["screen"].areas:
        area.tag_redraw()
    yield 3.0
    mat = material()
    mapping = next(n for n in mat.node_tree.nodes if n.get("texture_forge_role") == "mapping")
    tiled = panels.result_preview(mat, True)
    record("repeat", scale=list(mapping.inputs["Scale"].default_value), status=panels.status_lines(mat),
           tiled={"icon": getattr(tiled, "icon_id", 0), "size": list(tiled.image_size[:]) if tiled else None},
           shot=screenshot("artist_tiled.png"), geometry=geometry(ui_context()))

    # --- a larger look at the reference (its button in the panel opens a popup)
    with bpy.context.temp_override(**ui_context()):
        shown = op(lambda: bpy.ops.texture_forge.reference_view("INVOKE_DEFAULT"))
    yield 3.0
    record("reference_view", op=shown, shot=screenshot("artist_reference_view.png"))
    # close the popup as a person would: move the pointer away
    subprocess.run(["xdotool", "mousemove", "800", "500"], capture_output=True, timeout=30)
    yield 1.0
    subprocess.run(["xdotool", "mousemove", "50", "950"], capture_output=True, timeout=30)
    yield 2.0

    # --- Ctrl-Z while a job runs: it is cancelled, nothing of it lands on the undone state
    settings(1024, "high")
    bpy.ops.ed.undo_push(message="Texture Forge test size")  # as editing Size in the panel would
    before = describe(material())
    result = op(generate)
    started = yield from until(lambda: bool(running()) and float(getattr(job_of(material()), "progress", 0) or 0) > 0.02,
                               SLOW, 0.25)
    during = panels.status_lines(material())
    with bpy.context.temp_override(**ui_context()):
        undone = op(lambda: bpy.ops.ed.undo())
    stopped = yield from until(lambda: not running(), SLOW)
    yield 3.0
    state = job_of(material())
    record("undo_during_job", op=result, started=started, undo=undone, stopped=stopped, during=during,
           before=before, after=describe(material()), message=getattr(state, "message", None),
           status=panels.status_lines(material()), size=[material().texture_forge.width],
           shot=screenshot("artist_undo.png"), geometry=geometry(ui_context()))

    # --- the offer, clicked: Material Preview
    with bpy.context.temp_override(**ui_context()):
        switched = op(lambda: bpy.ops.texture_forge.show_material_preview())
    yield 20.0  # llvmpipe compiles the material's shaders for a while
    record("material_preview", op=switched, shading=ui_context()["area"].spaces.active.shading.type,
           shot=screenshot("artist_material_preview.png"), geometry=geometry(ui_context()))

    record("quit")
    with bpy.context.temp_override(window=bpy.context.window_manager.windows[0]):
        bpy.ops.wm.quit_blender()
    yield 30.0
    record("still_running_after_quit")


def preferences_context() -> dict:
    """window/area/region of the Preferences editor (the window Edit → Preferences opens)."""
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                region = next(r for r in area.regions if r.type == "WINDOW")
                return {"window": window, "screen": window.screen, "area": area, "region": region}
    raise RuntimeError("no Preferences editor is open")


def place_window(window, x: int, y: int, width: int, height: int) -> str:
    """Move and resize one of Blender's windows with xdotool, as a person dragging its corner would
    (Blender opens Preferences at a size that cuts the add-on's settings; its bpy size is read-only).
    The X window is the one of Blender's process with the window's size."""
    def xdo(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=30)

    seen = []
    for wid in xdo("search", "--onlyvisible", "--pid", str(os.getpid()), "").stdout.split():
        shell = dict(line.split("=", 1) for line in xdo("getwindowgeometry", "--shell", wid).stdout.split())
        name = xdo("getwindowname", wid).stdout.strip()
        seen.append(f"{wid} {name!r} {shell.get('WIDTH')}x{shell.get('HEIGHT')}")
        if (shell.get("WIDTH"), shell.get("HEIGHT")) == (str(window.width), str(window.height)) and wid != "":
            for args in (("windowmove", wid, str(x), str(y)), ("windowsize", wid, str(width), str(height))):
                proc = xdo(*args)
                if proc.returncode != 0:
                    return f"xdotool {' '.join(args)}: {proc.stderr.strip()}"
            return "placed"
    return f"no X window of {window.width}x{window.height} among {seen}"


def engine_files() -> list:
    """Everything inside the engine folder (the extension's user folder ``engine``)."""
    root = str(importlib.import_module(MODULE + ".texture_addon.blender.engine_install").engine_root()[0])
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root)
                  for n in dirs + files)


def preferences_scenario():
    """Install Engine as an artist finds it: the panel's "Install Engine in Preferences…" button
    (``preferences.addon_show``), then the refusal while Blender's online access is off."""
    yield 2.0
    system = bpy.context.preferences.system
    system.use_online_access = True  # as after "Allow Online Access" on first start
    with bpy.context.temp_override(**ui_context()):
        shown = op(lambda: bpy.ops.preferences.addon_show(module=MODULE))
    yield 4.0
    small = geometry(preferences_context())
    # taller, so the whole add-on's preferences show without scrolling; the width Blender chose
    window = preferences_context()["window"]
    placed = place_window(window, 300, 40, window.width, 920)
    yield 3.0
    ctx = preferences_context()
    for area in ctx["screen"].areas:
        area.tag_redraw()
    yield 3.0
    ctx = preferences_context()
    addon = bpy.context.preferences.addons[MODULE]
    import addon_utils

    record("preferences", shown=shown, placed=placed, opened_at=small, online=bpy.app.online_access, section=bpy.context.preferences.active_section,
           expanded=bool(addon_utils.module_bl_info(addon_utils.addons_fake_modules[MODULE]).get("show_expanded")),
           search=bpy.context.window_manager.addon_search,
           build=addon.preferences.torch_build, status=addon.preferences.engine_status,
           shot=screenshot("preferences_install_engine.png"), geometry=geometry(ctx))

    # --- a custom index: its URL field and the size sentence for builds only the index knows
    addon.preferences.torch_build = "CUSTOM"
    addon.preferences.torch_index_url = "https://download.pytorch.org/whl/cu128"
    preferences_context()["area"].tag_redraw()  # a change from Python redraws nothing by itself
    yield 3.0
    ctx = preferences_context()
    record("custom_build", build=addon.preferences.torch_build, shot=screenshot("preferences_custom_build.png"),
           geometry=geometry(ctx))
    addon.preferences.torch_build = "AUTO"
    addon.preferences.torch_index_url = ""

    # --- online access off (the preference): Install Engine refuses and says how to turn it on
    system.use_online_access = False
    ctx = preferences_context()
    del ctx["screen"]  # a temporary screen (the Preferences window's) cannot be overridden, only implied
    with bpy.context.temp_override(**ctx):
        refused = op(lambda: bpy.ops.texture_forge.install_engine())
    preferences_context()["area"].tag_redraw()
    yield 3.0
    ctx = preferences_context()
    engine = importlib.import_module(MODULE + ".texture_addon.blender.engine_install")
    record("offline", op=refused, online=bpy.app.online_access, message=engine.last_message(),
           engine_files=engine_files(), shot=screenshot("preferences_offline_refusal.png"), geometry=geometry(ctx))

    record("quit")
    with bpy.context.temp_override(window=bpy.context.window_manager.windows[0]):
        bpy.ops.wm.quit_blender()
    yield 30.0
    record("still_running_after_quit")


def image_editor_areas() -> list:
    """(window, area) of every Image Editor, in window order."""
    return [(w, a) for w in bpy.context.window_manager.windows for a in w.screen.areas if a.type == "IMAGE_EDITOR"]


def editor_showing(image):
    """The (window, area, region) of the Image Editor showing ``image``, or None."""
    for w, a in image_editor_areas():
        if a.spaces.active.image == image:
            return w, a, next(r for r in a.regions if r.type == "WINDOW")
    return None


def fit_view(editor) -> list:
    w, a, r = editor
    with bpy.context.temp_override(window=w, area=a, region=r):
        return op(lambda: bpy.ops.image.view_all(fit_view=True))


def window_xy(editor, x: float, y: float, size) -> list:
    """Photo pixel ``x, y`` (from the top-left) as the editor window's coordinates."""
    _w, _a, r = editor
    rx, ry = r.view2d.view_to_region(x / size[0], 1.0 - y / size[1], clip=False)
    return [r.x + rx, r.y + ry]


def simulate(editor, kind: str, value: str, xy=None) -> None:
    w = editor[0]
    x, y = xy if xy is not None else (0, 0)
    w.event_simulate(type=kind, value=value, x=int(round(x)), y=int(round(y)))


def white_count(name: str) -> int:
    """How many pixels of image ``name`` are white (painted on a mask)."""
    px = _pixels(bpy.data.images[name])
    return sum(1 for i in range(0, len(px), 4) if px[i] > 0.5)


def prepare_scenario():
    """Issue 31 as an artist meets it: Paint Mask with no Image Editor on the screen (a window
    opens with the mask in Paint mode) and a stroke painted on it; Pick Corners by clicks on the
    photo (Esc and right-click cancel, a crossed quad is refused, four good clicks store them),
    each step with a screenshot; then Heal in the Image Editor and Ctrl-Z. Blender runs with
    --enable-event-simulate: the clicks are ``window.event_simulate`` events."""
    yield 2.0
    prefs().python = ""
    cube, mat = material_on_cube()
    photo = bpy.data.images.load(REF)
    photo.pack()
    size = list(photo.size[:])
    s = mat.texture_forge
    ref = s.references.add()
    ref.source, ref.image, ref.show_prepare = "IMAGE", photo, True
    settings(64, "draft")
    bpy.ops.ed.undo_push(message="Texture Forge test setup")
    ctx = ui_context()
    ctx["area"].spaces.active.show_region_ui = True
    yield 3.0
    ctx = ui_context()
    ctx["region"].active_panel_category = "Texture Forge"
    for area in ctx["screen"].areas:
        area.tag_redraw()
    yield 2.0
    editors_before = len(image_editor_areas())
    windows_before = len(bpy.context.window_manager.windows)

    # --- Paint Mask with no Image Editor anywhere: a new window shows the mask in Paint mode
    with bpy.context.temp_override(**ui_context()):
        painted_op = op(lambda: bpy.ops.texture_forge.paint_mask())
    yield 4.0
    mask = ref.heal_mask
    editor = editor_showing(mask) if mask is not None else None
    record("paint_mask", op=painted_op, editors_before=editors_before, windows_before=windows_before,
           windows_after=len(bpy.context.window_manager.windows), editor=editor is not None,
           mode=editor[1].spaces.active.ui_mode if editor else None, mask=getattr(mask, "name", None),
           shot=screenshot("prepare_paint_mask.png"))
    fit = fit_view(editor)
    yield 2.0
    stroke = [window_xy(editor, x, 128.0, size) for x in range(96, 161, 8)]
    simulate(editor, "MOUSEMOVE", "NOTHING", stroke[0])
    yield 0.5
    simulate(editor, "LEFTMOUSE", "PRESS", stroke[0])
    yield 0.3
    for xy in stroke[1:]:
        simulate(editor, "MOUSEMOVE", "NOTHING", xy)
        yield 0.2
    simulate(editor, "LEFTMOUSE", "RELEASE", stroke[-1])
    yield 2.0
    m = _pixels(mask)
    white = sum(1 for i in range(0, len(m), 4) if m[i] > 0.5)
    record("paint_stroke", fit=fit, white=white, stroke=stroke, shot=screenshot("prepare_painted.png"))

    # --- Pick Corners: the photo in that editor (View mode), clicks simulated on it
    def start() -> list:
        with bpy.context.temp_override(**ui_context()):
            return op(lambda: bpy.ops.texture_forge.pick_corners("INVOKE_DEFAULT"))

    def click(editor, x, y):
        xy = window_xy(editor, x, y, size)
        simulate(editor, "MOUSEMOVE", "NOTHING", xy)
        simulate(editor, "LEFTMOUSE", "PRESS", xy)
        simulate(editor, "LEFTMOUSE", "RELEASE", xy)
        return xy

    def stored():
        return {"has": ref.has_corners, "corners": [round(v, 2) for v in ref.corners]}

    good = [(30.0, 40.0), (220.0, 30.0), (230.0, 225.0), (20.0, 215.0)]
    started = start()
    yield 2.0
    editor = editor_showing(photo)
    record("pick_started", op=started, editor=editor is not None, windows=len(bpy.context.window_manager.windows),
           mode=editor[1].spaces.active.ui_mode if editor else None, fit=fit_view(editor) if editor else None)
    yield 2.0
    clicked = [click(editor, *p) for p in good[:2]]
    simulate(editor, "MOUSEMOVE", "NOTHING", window_xy(editor, 200.0, 150.0, size))
    yield 2.0
    geo = {"window": [editor[0].x, editor[0].y, editor[0].width, editor[0].height],
           "region": [editor[2].x, editor[2].y, editor[2].width, editor[2].height]}
    record("two_corners", clicked=clicked, pointer=window_xy(editor, 200.0, 150.0, size), geometry=geo,
           stored=stored(), shot=screenshot("prepare_two_corners.png"))
    simulate(editor, "ESC", "PRESS")
    simulate(editor, "ESC", "RELEASE")
    yield 2.0
    record("esc", stored=stored(), handlers=len(running()), shot=screenshot("prepare_after_esc.png"), geometry=geo,
           clicked=clicked)

    started = start()
    yield 1.5
    click(editor, *good[0])
    yield 0.5
    simulate(editor, "RIGHTMOUSE", "PRESS", window_xy(editor, 128.0, 128.0, size))
    simulate(editor, "RIGHTMOUSE", "RELEASE", window_xy(editor, 128.0, 128.0, size))
    yield 1.5
    record("right_click", op=started, stored=stored())

    started = start()
    yield 1.5
    for p in good[:3]:
        click(editor, *p)
        yield 0.3
    simulate(editor, "MOUSEMOVE", "NOTHING", window_xy(editor, 60.0, 200.0, size))
    yield 2.0
    three = screenshot("prepare_three_corners.png")
    click(editor, *good[3])
    yield 2.0
    record("four_corners", op=started, stored=stored(), expected=[v for p in good for v in p], shot_three=three,
           shot=screenshot("prepare_corners_set.png"))

    started = start()
    yield 1.5
    for p in (good[0], good[1], good[3], good[2]):  # bottom corners swapped: the quad crosses itself
        click(editor, *p)
        yield 0.3
    yield 1.5
    record("crossed", op=started, stored=stored())

    # --- Heal in the Image Editor (the photo shown, the painted mask), then Ctrl-Z
    if white == 0:  # nothing painted: say so in the record and paint programmatically
        import array
        a = array.array("f", _pixels(mask))
        for yy in range(120, 136):
            for xx in range(96, 161):
                i = 4 * (yy * size[0] + xx)
                a[i:i + 3] = array.array("f", [1.0, 1.0, 1.0])
        mask.pixels.foreach_set(a)
        mask.update()
    heal = bpy.context.scene.texture_forge_heal
    heal.mask, heal.target = mask, "SAME"
    bpy.ops.ed.undo_push(message="Texture Forge test mask")  # as the Heal panel's fields would
    before = hashlib.sha256(bytes(memoryview(_pixels(photo)))).hexdigest()
    whites = {"before": white_count(mask.name)}
    w, a, r = editor
    with bpy.context.temp_override(window=w, area=a, region=r):
        healed_op = op(lambda: bpy.ops.texture_forge.heal())
    done = yield from until(lambda: not running(), SLOW)
    yield 2.0
    after = hashlib.sha256(bytes(memoryview(_pixels(photo)))).hexdigest()
    whites["healed"] = white_count(mask.name)
    heal_shot = screenshot("prepare_healed.png")
    photo_name, mask_name, mask_ptr = photo.name, mask.name, mask.as_pointer()
    with bpy.context.temp_override(window=w, area=a, region=r):
        undone = op(lambda: bpy.ops.ed.undo())
    yield 3.0
    photo = bpy.data.images.get(photo_name)  # undo re-reads the datablock: look it up again
    whites["undone"] = white_count(mask_name)
    m2 = bpy.data.images[mask_name]
    whites["mask_after_undo"] = {"same_datablock": m2.as_pointer() == mask_ptr, "source": m2.source,
                                 "is_dirty": m2.is_dirty}
    after_undo = hashlib.sha256(bytes(memoryview(_pixels(photo)))).hexdigest()
    undo_shot = screenshot("prepare_undone.png")
    with bpy.context.temp_override(window=w, area=a, region=r):
        redone = op(lambda: bpy.ops.ed.redo())
    yield 3.0
    photo = bpy.data.images.get(photo_name)
    whites["redone"] = white_count(mask_name)
    after_redo = hashlib.sha256(bytes(memoryview(_pixels(photo)))).hexdigest()
    record("heal_undo", mask_white=whites, op=healed_op, done=done, message=getattr(job_runner().get_job(job_runner().image_key(photo)), "message", None),
           changed=after != before, undo=undone, restored=after_undo == before, redo=redone,
           redone=after_redo == after, shot=heal_shot, undo_shot=undo_shot)

    # --- the Prepare box's preview, in the panel (the Image Editor's window closed first)
    with bpy.context.temp_override(window=w):
        closed = op(lambda: bpy.ops.wm.window_close())
    yield 2.0
    ref = material().texture_forge.references[0]  # undo re-read the material too
    ref.flatten = True
    ctx = ui_context()
    for area in ctx["screen"].areas:
        area.tag_redraw()
    yield 3.0
    with bpy.context.temp_override(**ui_context()):
        scrolled = [op(lambda: bpy.ops.view2d.scroll_down(deltax=0, deltay=0, page=True)) for _ in range(1)]
    yield 3.0
    shown = addon("previews").prepared_preview(ref, ref.image)
    record("prepared_preview", mask_white=white_count(ref.heal_mask.name), closed=closed, scrolled=scrolled, icon=getattr(shown, "icon_id", 0),
           size=list(shown.image_size[:]) if shown else None, shot=screenshot("prepare_panel_preview.png"),
           geometry=geometry(ui_context()))

    record("quit")
    with bpy.context.temp_override(window=bpy.context.window_manager.windows[0]):
        bpy.ops.wm.quit_blender()
    yield 30.0
    record("still_running_after_quit")


T0 = time.monotonic()
_steps = {"preferences": preferences_scenario, "artist": artist_scenario, "prepare": prepare_scenario}.get(SCENARIO, scenario)()


def _tick():
    try:
        return next(_steps)
    except StopIteration:
        return None
    except Exception:  # noqa: BLE001 - a broken step must end the run, not hang it
        record("driver_error", error=traceback.format_exc())
        os._exit(3)


bpy.app.timers.register(_tick, first_interval=1.0, persistent=True)
