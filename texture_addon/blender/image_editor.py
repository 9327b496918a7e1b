"""Finding, or opening, an Image Editor to show an image in (Pick Corners, Paint Mask).

The Prepare box lives in the 3D Viewport's or Shader Editor's sidebar; picking corners and
painting a mask happen on the photo in an Image Editor. The artist's layout is used when it has
one (the current window first); only when no window has an Image Editor is a new window opened,
so no editor of the artist's is turned into something else.
"""

from __future__ import annotations

import bpy


def image_editors(context: bpy.types.Context) -> list[tuple[bpy.types.Window, bpy.types.Area]]:
    """Every Image Editor (window, area), the current window's first, the largest first in each."""
    wm = context.window_manager
    windows = list(getattr(wm, "windows", []))
    current = getattr(context, "window", None)
    windows.sort(key=lambda w: w != current)
    found = []
    for window in windows:
        areas = [a for a in window.screen.areas if a.type == "IMAGE_EDITOR"]
        areas.sort(key=lambda a: -a.width * a.height)
        found += [(window, a) for a in areas]
    return found


def open_image_editor(context: bpy.types.Context) -> tuple[bpy.types.Window, bpy.types.Area] | None:
    """A new window whose largest area is an Image Editor, or None where none can open (no UI)."""
    window = getattr(context, "window", None)
    if window is None or bpy.app.background:
        return None
    before = set(w.as_pointer() for w in context.window_manager.windows)
    try:
        with context.temp_override(window=window):
            bpy.ops.wm.window_new()
    except RuntimeError:
        return None
    new = [w for w in context.window_manager.windows if w.as_pointer() not in before]
    if not new:
        return None
    area = max(new[0].screen.areas, key=lambda a: a.width * a.height)
    area.type = "IMAGE_EDITOR"
    return new[0], area


def show_image(context: bpy.types.Context, image: bpy.types.Image,
               mode: str = "VIEW") -> tuple[bpy.types.Window, bpy.types.Area] | None:
    """``image`` shown in an Image Editor in ``mode`` ("VIEW" or "PAINT"): one showing it already,
    else the current window's, else a new window's. None when Blender has no UI (background)."""
    editors = image_editors(context)
    showing = [(w, a) for w, a in editors if a.spaces.active.image == image]
    target = (showing or editors or [None])[0] or open_image_editor(context)
    if target is None:
        return None
    space = target[1].spaces.active
    space.image = image
    space.ui_mode = mode
    target[1].tag_redraw()
    return target


def window_region(area: bpy.types.Area) -> bpy.types.Region | None:
    """The area's main region (where the image is drawn and clicked)."""
    return next((r for r in area.regions if r.type == "WINDOW"), None)
