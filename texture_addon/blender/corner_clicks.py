"""The plain part of *Pick Corners*: where a click lands on the photo, and which corner comes next.

The modal operator (:mod:`corner_picker`) only turns Blender's events into calls here and draws
what this says, so the mapping from the Image Editor's view to photo pixels and the order of the
four clicks are tested without Blender's UI. No bpy import: the tests load this file by path.

Coordinates: the Image Editor's *view* space is the image's UV square (0, 0 at the bottom-left
of the image, 1, 1 at its top-right, whatever the zoom and pan); photo pixels are x, y from the
top-left, as ``--corners`` and the Prepare box take them.
"""

from __future__ import annotations

#: The order the corners are clicked in, as ``--corners`` lists them.
CORNER_NAMES = ("top-left", "top-right", "bottom-right", "bottom-left")

#: What an event does to the picking: add a corner, stop without a change, or belong to Blender.
CLICK, CANCEL, PASS, IGNORE = "click", "cancel", "pass", "ignore"


def view_to_pixel(u: float, v: float, width: int, height: int) -> tuple[float, float]:
    """A point of the Image Editor's view (the image's UV) as photo pixels from the top-left."""
    return u * width, (1.0 - v) * height


def pixel_to_view(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """Photo pixels (from the top-left) as the Image Editor's view coordinates (for drawing)."""
    return x / width, 1.0 - y / height


def on_image(x: float, y: float, width: int, height: int) -> bool:
    """Whether photo pixel ``x, y`` lies on the photo (its border included)."""
    return 0.0 <= x <= width and 0.0 <= y <= height


def event_action(event_type: str, value: str, in_region: bool) -> str:
    """What a Blender event means while picking.

    A left press inside the Image Editor's image region is a corner; Esc or a right press
    anywhere cancels; everything else (zoom, pan, a click in another editor) is Blender's.
    """
    if value == "PRESS" and event_type in ("ESC", "RIGHTMOUSE"):
        return CANCEL
    if event_type == "LEFTMOUSE":
        if not in_region:
            return PASS
        return CLICK if value == "PRESS" else IGNORE
    return PASS


class CornerClicks:
    """The corners clicked so far on a ``width`` × ``height`` photo, in photo pixels."""

    def __init__(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"the photo has no pixels ({width}×{height})")
        self.width, self.height = int(width), int(height)
        self.points: list[tuple[float, float]] = []

    @property
    def done(self) -> bool:
        return len(self.points) == len(CORNER_NAMES)

    @property
    def next_name(self) -> str | None:
        """The corner the next click sets ("top-left" …), None when all four are in."""
        return None if self.done else CORNER_NAMES[len(self.points)]

    def click_view(self, u: float, v: float) -> bool:
        """A click at view point ``u, v``: added (True) when it is on the photo and one is missing."""
        x, y = view_to_pixel(u, v, self.width, self.height)
        if self.done or not on_image(x, y, self.width, self.height):
            return False
        self.points.append((x, y))
        return True

    def corners(self) -> list[float]:
        """The four corners flat, x1, y1, … x4, y4 (what ``set_corners`` and ``--corners`` take)."""
        if not self.done:
            raise ValueError(f"only {len(self.points)} of 4 corners picked")
        return [float(c) for point in self.points for c in point]

    def outline(self, pointer: tuple[float, float] | None = None) -> list[tuple[float, float]]:
        """The line to draw, in photo pixels: the points so far, then to the pointer (the corner
        about to be clicked), closed back to the first once there are four."""
        line = list(self.points)
        if pointer is not None and not self.done and line:
            line.append(pointer)
        if self.done:
            line.append(self.points[0])
        return line

    def prompt(self) -> str:
        """The header's text: which corner to click now, and how to stop."""
        if self.done:
            return "Pick Corners: all four corners picked"
        n = len(self.points) + 1
        return (f"Pick Corners: click the {self.next_name} corner of the surface ({n} of 4)   "
                "Esc / right-click: cancel")
