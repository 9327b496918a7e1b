"""``synth --material MAP=FILE ...``: synthesise a new material whose maps stay aligned.

Not a subcommand of its own: ``cli/synth.py`` hands over here when ``--material`` is given.
With ``--pbr`` the basecolor map may be a plain photo: its albedo and height (the shading method,
``--height-from``/``--light-angle`` as for ``pbr``) join the maps given and are synthesised with
them, so the new material's height lies under its colour; the normal, roughness and AO the
artist did not give are derived from the synthesised height.
"""

from __future__ import annotations

import argparse

from ..contract.vocabulary import MAP_NAMES, PATCH_METHODS
from ..errors import InputError


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


def run(args: argparse.Namespace) -> int:
    from ..contract.spec import JobSpec
    from . import job
    from .common import check_output_dir, tiling
    from .pbr import light_angle_of

    if getattr(args, "refs", None):
        raise InputError("--material replaces reference images; give either REF files or --material, not both")
    method = getattr(args, "method", "nn")
    if method not in PATCH_METHODS:
        raise InputError("--material supports --method nn or patch")
    if getattr(args, "weights", None):
        raise InputError("--weights applies to reference images, not to --material")
    files = parse_material(args.material)
    out = check_output_dir(args.output, files.values())
    job.check_images(files.values())  # every file is checked before any compute
    flatten, from_photo = getattr(args, "flatten", False), getattr(args, "pbr", False)
    if flatten and "basecolor" not in files:
        raise InputError("--flatten evens out the basecolor map's light; give basecolor=FILE in --material")
    if from_photo and "basecolor" not in files:
        raise InputError("--pbr with --material derives the maps from the basecolor photo; give basecolor=FILE")
    spec = JobSpec(kind="material", material=files, width=args.size,
                   height=args.size if args.height is None else args.height, seed=args.seed, tile=tiling(args),
                   quality=args.quality, device=args.device, detail_scale=args.detail_scale, method=method,
                   flatten=flatten, from_photo=from_photo, light_angle=light_angle_of(args) if from_photo else None,
                   **job.in_folder(out, MAP_NAMES if from_photo else files))
    return job.report_set(job.run(spec), out)
