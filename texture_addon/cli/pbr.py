"""``pbr``: height, normal, roughness and AO maps derived from a base-colour texture.

By default the photo is split into albedo and shading and the height integrates the shading along
the light, estimated from the photo (see engine/pbr.py): bright grooves stay low and the base colour
carries little baked light. ``--light-angle DEG`` tells the light instead of estimating it;
``--height-from luminance`` gives the classic heuristic (band-passed luminance as height, the photo
as base colour). The shading method is the default because it reads every benchmark case better
than the heuristic (docs/maps.md)."""

from __future__ import annotations

import argparse


from ..contract.vocabulary import HEIGHT_SOURCES, light_angle_problem
from ..errors import InputError
from .common import check_output_dir


def _fraction_pair(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH within 0…1, got {text!r}") from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise argparse.ArgumentTypeError(f"need 0 ≤ LOW ≤ HIGH ≤ 1, got {text!r}")
    return lo, hi


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pbr", help="derive PBR maps from a base-colour image",
                       description="Write basecolor.png, height.png (16-bit), normal.png, roughness.png and ao.png "
                                   "derived from a base-colour image; maps tile when the image does.")
    p.add_argument("albedo", metavar="ALBEDO", help="base-colour image")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--no-tile", action="store_true", help="the image does not tile: mirror at the borders instead of wrapping")
    p.add_argument("--height-detail", type=float, default=0.5, help="0 = broad bumps … 1 = fine grain (default 0.5)")
    p.add_argument("--height-contrast", type=float, default=1.0, help="height contrast (default 1)")
    p.add_argument("--invert-height", action="store_true", help="swap high and low (with --height-from luminance: dark areas are high)")
    p.add_argument("--normal-strength", type=float, default=1.0, help="normal map strength (default 1)")
    p.add_argument("--directx", action="store_true", help="DirectX normal convention (-Y); default OpenGL/Blender (+Y)")
    add_light_angle(p)
    p.add_argument("--roughness-range", type=_fraction_pair, default=(0.35, 0.9), metavar="LOW,HIGH",
                   help="roughness output range (default 0.35,0.9)")
    p.set_defaults(run=run)


def light_angle(text: str) -> float | str:
    """A finite angle in degrees, or "auto" (argparse type)."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an angle in degrees or 'auto', got {text!r}") from None
    problem = light_angle_problem(value)  # the range a job or a manifest accepts
    if problem:
        raise argparse.ArgumentTypeError(f"--light-angle {problem}")
    return value


def add_light_angle(p: argparse.ArgumentParser) -> None:
    """``--height-from`` and ``--light-angle DEG|auto``; shared by ``pbr`` and ``synth --pbr``."""
    p.add_argument("--height-from", choices=HEIGHT_SOURCES, default=None,
                   help="shading (default): split the photo into albedo and shading and integrate the shading "
                        "along the light; luminance: the classic heuristic, band-passed luminance as height "
                        "and the photo as base colour")
    p.add_argument("--light-angle", type=light_angle, default=None, metavar="DEG|auto",
                   help="where the photo's light comes from, for the shading method: 0 = right, 90 = top, "
                        "135 = upper left, counter-clockwise; 'auto' (default) estimates it from the shading")


def shading_options(args: argparse.Namespace) -> dict:
    """``derive_maps`` options for ``--height-from`` and ``--light-angle``; a light angle with the
    luminance heuristic is refused (it would be ignored)."""
    if args.height_from == "luminance":
        if args.light_angle is not None:
            raise InputError("--light-angle applies to --height-from shading only")
        return {"method": "luminance"}
    angle = args.light_angle
    return {"method": "shading", "light_angle": None if angle in (None, "auto") else angle}


def light_angle_of(args: argparse.Namespace) -> float | str | None:
    """The job's ``light_angle`` for ``--height-from`` and ``--light-angle``: None is the luminance
    heuristic, "auto" or degrees the shading method."""
    options = shading_options(args)
    if options["method"] == "luminance":
        return None
    return "auto" if options["light_angle"] is None else float(options["light_angle"])


def run(args: argparse.Namespace) -> int:
    from ..contract.spec import JobSpec
    from ..contract.vocabulary import MAP_NAMES
    from . import job

    out = check_output_dir(args.output, [args.albedo])
    job.check_images([args.albedo])
    lo, hi = args.roughness_range
    spec = JobSpec(kind="pbr", content=args.albedo, width=0, height=0, tile="none" if args.no_tile else "both",
                   maps=list(MAP_NAMES), light_angle=light_angle_of(args), height_detail=args.height_detail,
                   height_contrast=args.height_contrast, invert_height=args.invert_height,
                   normal_strength=args.normal_strength, normal_convention="directx" if args.directx else "opengl",
                   roughness_range=[lo, hi], **job.in_folder(out, MAP_NAMES))
    return job.report_set(job.run(spec), out)
