"""Writing a set of PBR maps with the file names and bit depths every part of the project expects.

One function so that the CLI, the worker and the headless bake all produce the same files:
``basecolor.png`` (8-bit sRGB), ``height.png`` (16-bit grey, linear data), ``normal.png``,
``roughness.png`` and ``ao.png`` (8-bit, linear data).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .. import files
from ..contract.vocabulary import MAP_NAMES  # noqa: F401  (the references package exports it)
from .save import png_image

SIXTEEN_BIT_MAPS = frozenset({"height"})


def map_filename(name: str, prefix: str = "") -> str:
    """``prefix`` lets several materials share one folder (e.g. ``Bricks_basecolor.png``)."""
    return f"{prefix}{name}.png"


def write_maps(maps: Mapping[str, np.ndarray], out_dir: str | os.PathLike, prefix: str = "",
               check: Callable[[], None] | None = None,
               file_names: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Write the set into ``out_dir`` (created if needed), whole or not at all; return name → path.

    Every map is encoded into its own temporary file first; only then are they all renamed into
    place together (:func:`texture_addon.files.atomic_files`), so an error, a cancel (``check``,
    called before each map and before the renames, raises to stop) or a SIGTERM part-way leaves
    the previous set complete and no temporary file. ``file_names`` (map → file name) replaces
    ``<prefix><map>.png``.
    """
    out = files.make_folder(out_dir)
    targets = {name: out / (file_names[name] if file_names else map_filename(name, prefix)) for name in maps}
    with files.atomic_files(targets.values()) as staged:
        for name, arr in maps.items():
            if check is not None:
                check()
            bits = 16 if name in SIXTEEN_BIT_MAPS and np.asarray(arr).squeeze().ndim == 2 else 8
            png_image(arr, bits).save(staged[targets[name]], format="PNG")
        if check is not None:
            check()
    return targets
