"""Wrapping messages for the sidebar (plain Python; the panels draw these lines)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

# Loaded by path: the package texture_addon.blender imports bpy, this module does not.
_spec = importlib.util.spec_from_file_location(
    "tf_text_wrap", Path(__file__).resolve().parents[1] / "texture_addon" / "blender" / "text_wrap.py")
text_wrap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(text_wrap)

FIX = ("torch is not installed for /usr/bin/python3: create a Python for the engine with "
       "`python3 -m venv ~/texture-forge-venv` and choose it in the add-on preferences")


def test_every_word_of_a_long_error_survives_at_the_default_sidebar_width():
    lines = text_wrap.wrap_lines(FIX, 300)  # the N-panel's default width is about 300 px
    assert len(lines) > 2
    assert all(len(l) <= text_wrap.chars_per_line(300) for l in lines)
    assert " ".join(l.strip() for l in lines).split() == FIX.split()


def test_problems_listed_with_semicolons_start_their_own_lines():
    lines = text_wrap.wrap_lines("reference 1: file not found: /x/y.png; reference 2: no image chosen", 600)
    assert lines == ["reference 1: file not found: /x/y.png", "reference 2: no image chosen"]


def test_ui_scale_and_width_change_the_line_length():
    assert text_wrap.chars_per_line(300, 2.0) < text_wrap.chars_per_line(300) < text_wrap.chars_per_line(600)
    assert text_wrap.chars_per_line(10) == text_wrap.MIN_CHARS


def test_a_long_path_is_broken_rather_than_cut():
    path = "/home/artist/projects/very/deep/folder/structure/textures/bricks_reference_photo.png"
    lines = text_wrap.wrap_lines(f"file not found: {path}", 300)
    assert len(lines) >= 2 and "".join(l.strip() for l in lines) == "file not found: " + path
