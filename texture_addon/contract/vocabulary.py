"""Every name and range the project's layers must agree on, written once. Stdlib only.

The job spec (:mod:`.spec`), the bake manifest (:mod:`.manifest`), the engine's argument checks,
the CLI's choices, Blender's enum items and the bake script all read these: a map, quality or
tiling added here appears everywhere, and no layer can accept a value another refuses (the
``detail_scale`` range is the engine's; every layer honours all of it).
"""

from __future__ import annotations

import math
from typing import Any

#: ``heal`` fills the masked area of an image (the Image Editor's Heal); it makes no material.
KINDS = ("synth", "stylize", "seamless", "pbr", "material", "heal")
TILE_MODES = ("both", "x", "y", "none")
#: (periodic_y, periodic_x) per tile mode: what the engine and the resizers wrap around.
TILE_AXES: dict[str, tuple[bool, bool]] = {"both": (True, True), "x": (False, True),
                                           "y": (True, False), "none": (False, False)}
QUALITIES = ("draft", "default", "high")
#: ``nn``: patch correspondence (texture optimisation, the default); ``patch``: sliced Wasserstein
#: patch statistics; ``cnn``: CNN feature statistics.
METHODS = ("nn", "patch", "cnn")
#: The methods that work on one image's own texture or on a set of maps (no CNN features there).
PATCH_METHODS = ("nn", "patch")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: The statistic ``method="cnn"`` matches: sliced Wasserstein (default) or Gram matrices.
CNN_LOSSES = ("sw", "gram")
#: Normal maps' green channel: OpenGL/Blender (+Y, default) or DirectX (−Y).
NORMAL_CONVENTIONS = ("opengl", "directx")

#: Every map the project makes, in the order files, nodes and summaries list them.
MAP_NAMES = ("basecolor", "height", "normal", "roughness", "ao")
#: Maps with three channels (read as RGB); the others are one channel of data.
RGB_MAPS = ("basecolor", "normal")
#: Maps holding colour (sRGB, colour-managed in Blender); the others are linear data.
COLOUR_MAPS = ("basecolor",)
#: What the UI calls each map.
MAP_LABELS = {"basecolor": "Base Colour", "height": "Height", "normal": "Normal",
              "roughness": "Roughness", "ao": "Ambient Occlusion"}

#: The add-on's modes (its Mode menu) and the job kind each one runs.
MODE_TO_KIND = {"NEW": "synth", "STYLIZE": "stylize", "SEAMLESS": "seamless", "MATERIAL": "material"}
#: The bake script's ``--mode`` and manifest ``mode`` values: the kinds a material can bake.
BAKE_MODES = {kind: mode for mode, kind in MODE_TO_KIND.items()}

MIN_SIZE, MAX_SIZE = 64, 4096
#: The add-on's size presets (its Size menu); any side in MIN_SIZE…MAX_SIZE is a custom size.
SIZE_PRESETS = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}
MIN_DETAIL, MAX_DETAIL = 0.125, 8.0
MIN_BAND, MAX_BAND = 0.02, 0.45
MAX_SEED = 2**32 - 1

__all__ = ["KINDS", "TILE_MODES", "TILE_AXES", "QUALITIES", "METHODS", "PATCH_METHODS", "DEVICES",
           "CNN_LOSSES", "NORMAL_CONVENTIONS", "MAP_NAMES", "RGB_MAPS", "COLOUR_MAPS", "MAP_LABELS",
           "MODE_TO_KIND", "BAKE_MODES",
           "MIN_SIZE", "MAX_SIZE", "SIZE_PRESETS", "MIN_DETAIL", "MAX_DETAIL", "MIN_BAND",
           "MAX_BAND", "MAX_SEED", "MAX_LIGHT_ANGLE", "HEIGHT_SOURCES", "DERIVED_MAPS",
           "light_angle_problem"]


#: Where the light comes from for maps from shading: degrees (0 = from the right, 90 = from the top).
MAX_LIGHT_ANGLE = 360.0
#: What a derived height is read from: the photo's shading (split from its albedo, integrated along
#: the light; the default) or its brightness (the classic luminance heuristic).
HEIGHT_SOURCES = ("shading", "luminance")
#: The maps derived from a colour image (``derive_maps``); the height method shapes all of them.
DERIVED_MAPS = tuple(m for m in MAP_NAMES if m != "basecolor")


def light_angle_problem(value: Any) -> str | None:
    """None when ``value`` is a usable light angle: null, "auto" or degrees within ±360."""
    if value is None or value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"must be a number of degrees or \"auto\", got {value!r}"
    if abs(value) > MAX_LIGHT_ANGLE:
        return f"{value} out of range (−{MAX_LIGHT_ANGLE:g}…{MAX_LIGHT_ANGLE:g})"
    return None
