"""Ctrl-Z after *Heal* into the image shown: its pixels come back.

Blender's global undo saves datablocks, not image buffers: pixels written from Python stay as
they are when the artist presses Ctrl-Z (checked in Blender 4.3: the healed pixels stayed). So
Heal keeps the pixels before and after in memory, keyed by a token it stores on the image as an
ID property, which undo *does* restore. After every undo and redo, an image whose token no longer
matches the pixels it holds gets the pixels of its token back. The last :data:`KEPT_STEPS` heals
can be undone this way (each costs two copies of the image in memory, 64 MB each at 2048²); the
states are dropped when another file is opened.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import bpy

from .image_pixels import read_image_pixels, write_image_pixels

if TYPE_CHECKING:
    import numpy as np

#: The ID property holding which pixels the image should have ("" before its first heal).
TOKEN = "texture_forge_pixels"
#: How many heals can be undone (older ones are forgotten, oldest first).
KEPT_STEPS = 8

_states: dict[tuple[str, str], "np.ndarray"] = {}  # (image name, token) -> top-down RGBA pixels
_order: list[tuple[str, str]] = []  # keys of _states, oldest first (before/after pairs)
_shown: dict[str, str] = {}  # image name -> token of the pixels it holds now


def write_undoably(image: bpy.types.Image, pixels: "np.ndarray") -> None:
    """Replace ``image``'s pixels so that an undo step pushed next can bring the old ones back."""
    before = str(image.get(TOKEN, ""))
    _keep(image.name, before, read_image_pixels(image))
    after = uuid.uuid4().hex
    write_image_pixels(image, pixels)
    _keep(image.name, after, read_image_pixels(image))
    image[TOKEN] = after
    _shown[image.name] = after


def _keep(name: str, token: str, pixels: "np.ndarray") -> None:
    key = (name, token)
    if key not in _states:
        _order.append(key)
    _states[key] = pixels
    while len(_order) > 2 * KEPT_STEPS:
        _states.pop(_order.pop(0), None)


def sync_pixels() -> list[str]:
    """Give each healed image the pixels its (undone or redone) token names; returns their names."""
    changed = []
    for name, shown in list(_shown.items()):
        image = bpy.data.images.get(name)
        if image is None:
            continue
        token = str(image.get(TOKEN, ""))
        pixels = _states.get((name, token))
        if token != shown and pixels is not None:
            write_image_pixels(image, pixels)
            _shown[name] = token
            changed.append(name)
    return changed


@bpy.app.handlers.persistent
def _on_undo_redo(*_args: object) -> None:
    sync_pixels()


@bpy.app.handlers.persistent
def _on_load(*_args: object) -> None:
    _states.clear()
    _order.clear()
    _shown.clear()


def _handler_pairs() -> tuple:
    h = bpy.app.handlers
    return ((h.undo_post, _on_undo_redo), (h.redo_post, _on_undo_redo), (h.load_pre, _on_load))


def register() -> None:
    for handlers, fn in _handler_pairs():
        if fn not in handlers:
            handlers.append(fn)


def unregister() -> None:
    for handlers, fn in _handler_pairs():
        while fn in handlers:
            handlers.remove(fn)
    _on_load()
