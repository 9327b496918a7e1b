"""``synth --material MAP=FILE ...``: synthesise a new material whose maps stay aligned.

Not a subcommand of its own: ``cli/synth.py`` hands over here when ``--material`` is given.
With ``--pbr`` the basecolor map may be a plain photo: its albedo and height (the shading method,
``--height-from``/``--light-angle`` as for ``pbr``) join the maps given and are synthesised with
them, so the new material's height lies under its colour; the normal, roughness and AO the
artist did not give are derived from the synthesised height.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..contract.vocabulary import PATCH_METHODS, RGB_MAPS
from ..errors import InputError
from .common import ProgressPrinter


def parse_material(items: list[str]) -> dict[str, str]:
    """``["basecolor=a.png", ...]`` → {"basecolor": "a.png"}; unknown or repeated names are errors."""
    from ..references import MAP_NAMES

    files: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        name = name.strip().lower()
        if not sep or not name or not path:
            raise InputError(f"--material expects MAP=FILE, got {item!r}")
        if name not in MAP_NAMES:
            raise InputError(f"unknown map name {name!r} in --material (choose from {', '.join(MAP_NAMES)})")
        if name in files:
            raise InputError(f"map {name!r} given twice in --material")
        files[name] = path
    return files


def load_material(files: dict[str, str]) -> dict[str, np.ndarray]:
    from ..references import load_gray, load_rgb

    return {name: (load_rgb(path) if name in RGB_MAPS else load_gray(path)) for name, path in files.items()}


def run(args: argparse.Namespace) -> int:
    from ..references import write_maps
    from .common import check_output_dir, flatten_references, tiling

    if getattr(args, "refs", None):
        raise InputError("--material replaces reference images; give either REF files or --material, not both")
    method = getattr(args, "method", "nn")
    if method not in PATCH_METHODS:
        raise InputError("--material supports --method nn or patch")
    if getattr(args, "weights", None):
        raise InputError("--weights applies to reference images, not to --material")
    files = parse_material(args.material)
    out = check_output_dir(args.output, files.values())
    maps = load_material(files)  # every file is read (and size-checked by the engine) before any compute
    if getattr(args, "flatten", False):
        if "basecolor" not in maps:
            raise InputError("--flatten evens out the basecolor map's light; give basecolor=FILE in --material")
        maps["basecolor"] = flatten_references([maps["basecolor"]])[0]  # the other maps are data, not light

    derive = getattr(args, "pbr", False)
    if derive:
        maps = with_photo_maps(maps, args)

    from ..engine.material import synthesize_material

    result = synthesize_material(maps, width=args.size, height=args.height, seed=args.seed, tile=tiling(args),
                                 quality=args.quality, device=args.device, detail_scale=args.detail_scale,
                                 progress=ProgressPrinter(sys.stderr), method=method)
    if derive:
        result = completed(result, tiling(args))
    written = write_maps(result, out)
    sys.stderr.write(f"wrote {', '.join(p.name for p in written.values())} to {out}\n")
    return 0


def with_photo_maps(maps: dict[str, np.ndarray], args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The reference's basecolor photo replaced by its albedo, and its height added unless given:
    both come from one split of the photo, so they are aligned before synthesis keeps them so."""
    from ..engine.pbr import derive_maps
    from .pbr import shading_options

    if "basecolor" not in maps:
        raise InputError("--pbr with --material derives the maps from the basecolor photo; give basecolor=FILE")
    # the reference photo need not tile: its split mirrors at the borders
    derived = derive_maps(maps["basecolor"], maps=("basecolor", "height"), tile=False, **shading_options(args))
    return {**derived, **{name: image for name, image in maps.items() if name != "basecolor"}}


def completed(result: dict[str, np.ndarray], tile: str) -> dict[str, np.ndarray]:
    """Every map of the set: those not synthesised derived from the synthesised height and colour."""
    from ..engine.pbr import derive_maps
    from ..references import MAP_NAMES

    missing = [name for name in MAP_NAMES if name not in result]
    if not missing:
        return result
    return {**result, **derive_maps(result["basecolor"], maps=missing, tile=tile, height=result["height"])}
