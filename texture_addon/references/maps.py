"""Writing a set of PBR maps with the file names and bit depths every part of the project expects.

One function so that the CLI, the worker and the headless bake all produce the same files:
``basecolor.png`` (8-bit sRGB), ``height.png`` (16-bit grey, linear data), ``normal.png``,
``roughness.png`` and ``ao.png`` (8-bit, linear data).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
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

    The maps are encoded on one thread per core (Pillow's PNG encoder releases the GIL): a 2048²
    set's five PNGs took 3.0 s one after another and 1.5 s on two threads, most of `pbr`'s time.
    """
    out = files.make_folder(out_dir)
    targets = {name: out / (file_names[name] if file_names else map_filename(name, prefix)) for name in maps}

    def encode(name: str, staged_path: Path) -> None:
        if check is not None:
            check()
        arr = maps[name]
        bits = 16 if name in SIXTEEN_BIT_MAPS and np.asarray(arr).squeeze().ndim == 2 else 8
        png_image(arr, bits).save(staged_path, format="PNG")

    with files.atomic_files(targets.values()) as staged:
        with ThreadPoolExecutor(max(1, min(len(maps), _cores()))) as pool:
            jobs = [pool.submit(encode, name, staged[targets[name]]) for name in maps]
            for job in jobs:
                job.result()  # the first failure (or cancel) raises; the staged files are then removed
        if check is not None:
            check()
    return targets


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
