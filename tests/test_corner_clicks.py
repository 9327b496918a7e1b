"""Pick Corners' plain part: Image Editor view → photo pixels, the order of the four clicks, and
which events pick, cancel or stay Blender's (no bpy: the module is loaded by path)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# Loaded by path: the package texture_addon.blender imports bpy, this module does not.
_spec = importlib.util.spec_from_file_location(
    "tf_corner_clicks", Path(__file__).resolve().parents[1] / "texture_addon" / "blender" / "corner_clicks.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)


def test_the_view_is_the_images_uv_with_y_from_the_top():
    # a 200 × 100 photo: view (0, 1) is its top-left pixel corner, (1, 0) its bottom-right
    assert cc.view_to_pixel(0.0, 1.0, 200, 100) == (0.0, 0.0)
    assert cc.view_to_pixel(1.0, 0.0, 200, 100) == (200.0, 100.0)
    assert cc.view_to_pixel(0.25, 0.75, 200, 100) == (50.0, 25.0)
    for x, y in ((3.5, 7.25), (199.0, 0.5), (120.0, 80.0)):
        assert cc.view_to_pixel(*cc.pixel_to_view(x, y, 200, 100), 200, 100) == pytest.approx((x, y))


def test_four_clicks_in_order_give_the_corners_flat():
    clicks = cc.CornerClicks(200, 100)
    names = []
    for u, v in ((0.1, 0.9), (0.9, 0.95), (0.95, 0.1), (0.05, 0.05)):
        names.append(clicks.next_name)
        assert clicks.click_view(u, v)
    assert names == ["top-left", "top-right", "bottom-right", "bottom-left"]
    assert clicks.done and clicks.next_name is None
    assert clicks.corners() == pytest.approx([20, 10, 180, 5, 190, 90, 10, 95])
    assert not clicks.click_view(0.5, 0.5)  # a fifth click adds nothing
    assert len(clicks.points) == 4


def test_a_click_off_the_photo_is_not_a_corner():
    clicks = cc.CornerClicks(64, 64)
    assert not clicks.click_view(-0.1, 0.5) and not clicks.click_view(0.5, 1.2)
    assert clicks.points == [] and clicks.next_name == "top-left"
    with pytest.raises(ValueError, match="only 0 of 4"):
        clicks.corners()


def test_the_prompt_names_the_next_corner_and_how_to_cancel():
    clicks = cc.CornerClicks(64, 64)
    assert "top-left" in clicks.prompt() and "(1 of 4)" in clicks.prompt() and "Esc" in clicks.prompt()
    clicks.click_view(0.1, 0.9)
    assert "top-right" in clicks.prompt() and "(2 of 4)" in clicks.prompt()


def test_the_outline_runs_to_the_pointer_then_closes():
    clicks = cc.CornerClicks(100, 100)
    assert clicks.outline((5.0, 5.0)) == []  # nothing to join before the first corner
    clicks.click_view(0.1, 0.9)
    first, pointer = clicks.outline((50.0, 10.0))
    assert first == pytest.approx((10.0, 10.0)) and pointer == (50.0, 10.0)
    for uv in ((0.9, 0.9), (0.9, 0.1), (0.1, 0.1)):
        clicks.click_view(*uv)
    line = clicks.outline((50.0, 50.0))
    assert len(line) == 5 and line[0] == line[-1] and (50.0, 50.0) not in line


def test_events_pick_cancel_or_pass_to_blender():
    assert cc.event_action("LEFTMOUSE", "PRESS", True) == cc.CLICK
    assert cc.event_action("LEFTMOUSE", "RELEASE", True) == cc.IGNORE
    assert cc.event_action("LEFTMOUSE", "PRESS", False) == cc.PASS  # another editor's click
    assert cc.event_action("ESC", "PRESS", True) == cc.CANCEL
    assert cc.event_action("RIGHTMOUSE", "PRESS", False) == cc.CANCEL
    for kind in ("WHEELUPMOUSE", "MIDDLEMOUSE", "MOUSEMOVE", "Z"):  # zoom, pan, keys stay Blender's
        assert cc.event_action(kind, "PRESS", True) == cc.PASS


def test_a_photo_without_pixels_is_refused():
    with pytest.raises(ValueError, match="no pixels"):
        cc.CornerClicks(0, 64)
