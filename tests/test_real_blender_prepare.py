"""Issue 31 in a real Blender 4.3 under Xvfb: Paint Mask, Pick Corners by clicks, Heal and Ctrl-Z.

One Blender session (``tests/real_blender_ui_driver.py`` with ``TF_UI_SCENARIO=prepare``, Blender
started with ``--enable-event-simulate`` so the clicks are ``window.event_simulate`` events at the
photo's pixels): Paint Mask with no Image Editor on the screen, Pick Corners cancelled by Esc and by
a right click, four good clicks, a crossed quad refused, then Heal into the image shown and
Ctrl-Z / redo. Screenshots are kept in ``out/real_blender_prepare/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import real_blender as rb

pytestmark = pytest.mark.slow

SHOTS = rb.OUT / "real_blender_prepare"
#: The drawn corner points' colour (corner_picker.POINT_COLOUR) as the screen shows it.
POINT_RGB = np.array([255, 77, 26])


@pytest.fixture(scope="module")
def prepare(tmp_path_factory) -> dict:
    rb.blender()
    work = tmp_path_factory.mktemp("real_prepare")
    user = rb.ui_user(work, SHOTS)
    return rb.run_ui_driver(user, work, SHOTS, "prepare", 600, blender_args=("--enable-event-simulate",),
                            TF_UI_REF=str(rb.ROOT / "examples" / "bricks.png"))


def step(run: dict, name: str) -> dict:
    return rb.driver_step(run, name)


def point_distance(shot: str, geometry: dict, xy: list) -> int:
    """How far (max over RGB) the nearest pixel around window point ``xy`` is from a drawn point."""
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    wx, wy = geometry["window"][:2]
    sx, sy = int(wx + xy[0]), int(rb.SCREEN[1] - (wy + xy[1]))
    patch = img[sy - 3:sy + 4, sx - 3:sx + 4].reshape(-1, 3)
    return int(np.abs(patch - POINT_RGB).max(axis=1).min())


def test_paint_mask_opens_a_window_with_the_mask_in_paint_mode(prepare):
    paint = step(prepare, "paint_mask")
    assert paint["op"] == ["FINISHED"] and paint["editors_before"] == 0, paint
    assert paint["windows_after"] == paint["windows_before"] + 1 and paint["editor"], paint
    assert paint["mode"] == "PAINT" and paint["mask"] == "bricks.png_mask", paint
    assert Path(paint["shot"]).is_file()


def test_pick_corners_shows_the_photo_and_draws_the_points_clicked(prepare):
    started = step(prepare, "pick_started")
    assert started["editor"] and started["mode"] == "VIEW", started  # the mask's editor, switched to the photo
    assert started["windows"] == step(prepare, "paint_mask")["windows_after"]  # no further window
    two = step(prepare, "two_corners")
    assert two["stored"]["has"] is False  # nothing stored before the fourth click
    for xy in two["clicked"]:
        assert point_distance(two["shot"], two["geometry"], xy) < 30, xy


def test_esc_and_right_click_cancel_and_remove_the_drawing(prepare):
    esc = step(prepare, "esc")
    assert esc["stored"] == {"has": False, "corners": [0.0] * 8}, esc
    for xy in esc["clicked"]:  # the draw handler is gone: the photo shows there again
        assert point_distance(esc["shot"], esc["geometry"], xy) > 60, xy
    right = step(prepare, "right_click")
    assert right["stored"] == {"has": False, "corners": [0.0] * 8}, right


def test_four_clicks_store_the_corners_in_photo_pixels(prepare):
    four = step(prepare, "four_corners")
    assert four["stored"]["has"] is True, four
    assert np.allclose(four["stored"]["corners"], four["expected"], atol=0.5), four


def test_a_crossed_quad_is_refused_and_the_corners_stay(prepare):
    assert step(prepare, "crossed")["stored"] == step(prepare, "four_corners")["stored"]


def test_ctrl_z_after_heal_brings_the_pixels_back(prepare):
    heal = step(prepare, "heal_undo")
    assert heal["op"] == ["FINISHED"] and heal["done"] and heal["changed"], heal
    assert heal["undo"] == ["FINISHED"] and heal["restored"], heal
    assert heal["redo"] == ["FINISHED"] and heal["redone"], heal


def test_the_prepare_box_shows_the_prepared_reference(prepare):
    shown = step(prepare, "prepared_preview")
    four = step(prepare, "four_corners")["stored"]["corners"]
    c = np.reshape(four, (4, 2))  # the quad's width: its top and bottom edges' mean, photo pixels
    width = (np.hypot(*(c[1] - c[0])) + np.hypot(*(c[2] - c[3]))) / 2
    assert shown["icon"] > 0 and shown["size"] is not None, shown
    assert max(shown["size"]) <= 128 and abs(shown["size"][0] - width / 2) <= 2, (shown, width)  # 256 → 128
    assert Path(shown["shot"]).is_file()


def test_blender_quits_cleanly(prepare):
    step(prepare, "quit")
    assert prepare["proc"].returncode == 0, rb.tail(prepare["proc"])
