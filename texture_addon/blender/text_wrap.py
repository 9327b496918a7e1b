"""Long messages in a narrow sidebar: wrapped over several labels so the fix can be read.

Blender cuts a label at the region's edge ("Cannot read /hom…"), which hides exactly the part of
an error that says what to do. :func:`wrap_lines` splits text for a width in pixels (estimated
from Blender's UI scale; an average character of the default UI font is about 7 px wide at scale
1), keeping words whole and breaking only paths and other words too long for a line.
:func:`draw_wrapped` draws them. The splitting is plain Python, tested without Blender.
"""

from __future__ import annotations

import textwrap
from typing import Any

#: Average width of a character of Blender's UI font at UI scale 1, in pixels (a slight
#: overestimate: a line that is too short is harmless, one that is too long gets cut).
CHAR_PX = 7.0
#: Room taken by the panel's margins and a label's icon, in pixels at UI scale 1.
MARGIN_PX = 50.0
MIN_CHARS = 12


def chars_per_line(width_px: float, ui_scale: float = 1.0) -> int:
    """How many characters fit on one label in a region ``width_px`` wide."""
    return max(MIN_CHARS, int((width_px - MARGIN_PX * ui_scale) / (CHAR_PX * ui_scale)))


def wrap_lines(text: str, width_px: float, ui_scale: float = 1.0) -> list[str]:
    """``text`` as lines that fit ``width_px``; newlines and "; "-separated items start new lines."""
    width = chars_per_line(width_px, ui_scale)
    lines: list[str] = []
    for paragraph in text.replace("; ", "\n").splitlines():
        if not paragraph.strip():
            continue
        lines += textwrap.wrap(paragraph, width=width, break_long_words=True, break_on_hyphens=False,
                               subsequent_indent="  ") or [""]
    return lines


def region_width(context: Any, default: float = 300.0) -> tuple[float, float]:
    """(width in pixels of the region being drawn, UI scale)."""
    region = getattr(context, "region", None)
    width = float(getattr(region, "width", 0) or default)
    prefs = getattr(context, "preferences", None)
    scale = float(getattr(getattr(prefs, "view", None), "ui_scale", 1.0) or 1.0)
    return width, scale


def draw_wrapped(layout: Any, context: Any, text: str, icon: str = "NONE", alert: bool = False) -> list[str]:
    """Draw ``text`` wrapped to the region's width; the first line carries ``icon``. Returns the lines."""
    width, scale = region_width(context)
    lines = wrap_lines(text, width, scale)
    col = layout.column(align=True)
    col.alert = alert
    for i, line in enumerate(lines):
        col.label(text=line, icon=icon if i == 0 else ("BLANK1" if icon != "NONE" else "NONE"))
    return lines


__all__ = ["wrap_lines", "chars_per_line", "draw_wrapped", "region_width"]
