"""Writing a set of PBR maps with the file names and bit depths every part of the project expects.

One function so that the CLI, the worker and the headless bake all produce the same files:
``basecolor.png`` (8-bit sRGB), ``height.png`` (16-bit grey, linear data), ``normal.png``,
``roughness.png`` and ``ao.png`` (8-bit, linear data).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np

from .save import save_png

MAP_NAMES = ("basecolor", "height", "normal", "roughness", "ao")
SIXTEEN_BIT_MAPS = frozenset({"height"})


def map_filename(name: str, prefix: str = "") -> str:
    """``prefix`` lets several materials share one folder (e.g. ``Bricks_basecolor.png``)."""
    return f"{prefix}{name}.png"


def write_maps(maps: Mapping[str, np.ndarray], out_dir: str | os.PathLike, prefix: str = "") -> dict[str, Path]:
    """Write each map atomically into ``out_dir`` (created if needed); return name → path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, arr in maps.items():
        bits = 16 if name in SIXTEEN_BIT_MAPS and np.asarray(arr).squeeze().ndim == 2 else 8
        written[name] = save_png(out / map_filename(name, prefix), arr, bits=bits)
    return written
