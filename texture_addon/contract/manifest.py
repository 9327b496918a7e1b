"""The keys of a bake manifest entry, their types and ranges, checked once before anything runs.

A manifest written by hand or by a pipeline gets a typo or a wrong type now and then; each must
be a usage error naming the material and the key (a typo with the close key suggested), never an
internal traceback from Blender's property setters, a silently ignored key, or a value clamped
into range behind the artist's back. The vocabulary (qualities, tilings, methods, maps, ranges)
is the job spec's. Standard library only: Blender imports this module.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any

from .vocabulary import (
    MAP_NAMES,
    MAX_DETAIL,
    MAX_SEED,
    MAX_SIZE,
    METHODS,
    MIN_DETAIL,
    MIN_SIZE,
    QUALITIES,
    TILE_MODES,
    light_angle_problem,
)

#: A manifest's spelling of a null light angle (the luminance heuristic, the panel's Height from
#: Brightness): TOML has no null, and a TOML manifest must be able to ask for it too.
LIGHT_FROM_BRIGHTNESS = "brightness"


class ManifestError(ValueError):
    """A manifest entry that cannot be baked as written (one line, naming material and key)."""


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a non-empty string"


def _texts(value: Any) -> str | None:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return None
    return "must be a string or a list of strings"


#: The keys of a reference written as a table: the file and how to prepare it before baking
#: (``python -m texture_addon prepare``'s steps: straighten → heal → flatten).
REFERENCE_KEYS = ("path", "corners", "size", "flatten", "mask")


def reference_table_problem(value: dict, extra_keys: tuple[str, ...] = ()) -> str | None:
    """What is wrong with a reference table ``{path, corners, size, flatten, mask}`` (None: nothing).

    The bake manifest and the job spec (which adds ``weight``) both check their tables here.
    """
    known = REFERENCE_KEYS + extra_keys
    for key in value:
        if key in extra_keys:
            continue
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
            return f"reference table: unknown key {key!r}{hint}"
    if _text(value.get("path")):
        return "reference table: 'path' must be a non-empty string"
    corners = value.get("corners")
    if corners is not None:
        numbers = corners.split(",") if isinstance(corners, str) else corners
        try:
            ok = isinstance(numbers, list) and len(numbers) == 8 and all(
                not isinstance(v, bool) and math.isfinite(float(v)) for v in numbers)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            return f"reference table: 'corners' must be 8 numbers X1,Y1,…,X4,Y4, got {corners!r}"
    if "size" in value and _text(value["size"]) and not isinstance(value["size"], int):
        return f"reference table: 'size' must be \"WxH\" or a width, got {value['size']!r}"
    if "flatten" in value and not isinstance(value["flatten"], bool):
        return f"reference table: 'flatten' must be true or false, got {value['flatten']!r}"
    if "mask" in value and _text(value["mask"]):
        return "reference table: 'mask' must be a non-empty string"
    return None


def _references(value: Any) -> str | None:
    """A path, or a list of paths and tables ``{path, corners, size, flatten, mask}``."""
    if isinstance(value, str):
        return _text(value)
    if not isinstance(value, list):
        return "must be a string or a list of strings and reference tables"
    for v in value:
        problem = reference_table_problem(v) if isinstance(v, dict) else _text(v) if isinstance(v, str) else \
            "must be a string or a list of strings and reference tables"
        if problem:
            return problem
    return None


def _whole(lo: int, hi: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number {lo}…{hi}, got {value!r}"
        return None if lo <= value <= hi else f"{value} out of range ({lo}…{hi})"
    return check


def _number(lo: float, hi: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"must be a number {lo:g}…{hi:g}, got {value!r}"
        return None if lo <= value <= hi else f"{value} out of range ({lo:g}…{hi:g})"
    return check


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"{value!r} is not one of {', '.join(choices)}"
    return check


def _size(value: Any) -> str | None:
    """``1024``, ``"1024x512"`` (parsed by the caller) or ``[1024, 512]``."""
    if isinstance(value, str):
        return None
    sides = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(sides, (list, tuple)) or len(sides) != 2:
        return f"must be N, \"WxH\" or [W, H], got {value!r}"
    for side in sides:
        problem = _whole(MIN_SIZE, MAX_SIZE)(side)
        if problem:
            return problem
    return None


def _weights(value: Any) -> str | None:
    if isinstance(value, list) and all(not isinstance(w, bool) and isinstance(w, (int, float))
                                       and math.isfinite(w) and w >= 0 for w in value):
        return None
    return f"must be a list of non-negative numbers, got {value!r}"


def _maps(value: Any) -> str | None:
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(m, str) for m in names):
        return f"must be a list of map names ({', '.join(MAP_NAMES)}), got {value!r}"
    bad = [m for m in names if m.strip() not in MAP_NAMES]
    return f"unknown map(s) {', '.join(map(repr, bad))} (choose from {', '.join(MAP_NAMES)})" if bad else None


def _light_angle(value: Any) -> str | None:
    if value == LIGHT_FROM_BRIGHTNESS:
        return None
    problem = light_angle_problem(value)
    if problem is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
        return problem  # usable, or a number out of range (the contract's own words)
    return f'must be a number of degrees, "auto" or "{LIGHT_FROM_BRIGHTNESS}", got {value!r}'


def _variants(value: Any) -> str | None:
    """Checked item by item where variants are expanded (bake/variants.py), which owns them."""
    return None


#: Every key an entry (or ``[defaults]``) may hold, with its check.
KEYS: dict[str, Callable[[Any], str | None]] = {
    "name": _text, "refs": _references, "references": _references, "weights": _weights, "source": _text,
    "size": _size, "seed": _whole(0, MAX_SEED), "seeds": _variants, "sizes": _variants,
    "maps": _maps, "mode": _text, "quality": _choice(QUALITIES), "tile": _choice(TILE_MODES),
    "method": _choice(METHODS), "detail_scale": _number(MIN_DETAIL, MAX_DETAIL),
    "strength": _number(0.0, 1.0), "ao_strength": _number(0.0, 1.0), "height_mode": _text,
    "section": _text, "light_angle": _light_angle,
}


def manifest_light_angle(value: Any) -> float | str | None:
    """A checked manifest ``light_angle`` in the job contract's terms: "brightness" is its null."""
    return None if value == LIGHT_FROM_BRIGHTNESS else value


def check_entry(entry: dict, where: str) -> None:
    """Raise :class:`ManifestError` for the first unknown key or bad value of ``entry``."""
    for key, value in entry.items():
        check = KEYS.get(key)
        if check is None:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(KEYS))})"
            raise ManifestError(f"{where}: unknown key {key!r}{hint}")
        problem = check(value)
        if problem:
            raise ManifestError(f"{where}: {key}: {problem}")


__all__ = ["KEYS", "REFERENCE_KEYS", "LIGHT_FROM_BRIGHTNESS", "ManifestError", "check_entry", "manifest_light_angle",
           "reference_table_problem"]
