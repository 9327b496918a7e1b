"""``synth``: new tileable texture(s) from reference images."""

from __future__ import annotations

import argparse

from ..contract.vocabulary import (CNN_LOSSES, DEVICES, MAX_DETAIL, MAX_SIZE, METHODS, MIN_DETAIL, MIN_SIZE, QUALITIES,
                                  TILE_MODES)
from ..errors import InputError
from ..contract.spec import JobSpec
from . import job
from .common import check_output_dir, check_output_file, detail_arg, parse_weights, seed_arg, size_arg, tiling
from .pbr import light_angle_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthesise a tileable texture from reference image(s)",
                       description="Synthesise a seamless texture whose statistics match the reference image(s).")
    p.add_argument("refs", nargs="*", metavar="REF", help="reference image(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output PNG (or folder with --pbr/--material)")
    p.add_argument("--size", type=size_arg, default=512, help=f"output width in pixels ({MIN_SIZE}…{MAX_SIZE}, default 512)")
    p.add_argument("--height", type=size_arg, default=None, help="output height (default: same as --size)")
    p.add_argument("--seed", type=seed_arg, default=0, help="0…4294967295 (default 0)")
    p.add_argument("--weights", default=None, help="comma-separated weight per reference, e.g. 1,0.5")
    p.add_argument("--no-tile", action="store_true", help="do not make the result tileable")
    p.add_argument("--tile", choices=TILE_MODES, default=None, help="tile in both directions (default), one, or none")
    p.add_argument("--detail-scale", type=detail_arg, default=1.0, help=f"how large the reference's features appear ({MIN_DETAIL:g}…{MAX_DETAIL:g}, default 1)")
    p.add_argument("--method", choices=METHODS, default="nn",
                   help="nn: patch correspondence, keeps structure (default); patch: patch statistics; cnn: CNN features")
    p.add_argument("--cnn-loss", choices=CNN_LOSSES, default="sw", help="statistic matched by --method cnn")
    p.add_argument("--vgg-weights", default=None, metavar="FILE", help="torchvision vgg19 state dict for --method cnn")
    p.add_argument("--quality", choices=QUALITIES, default="default")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--pbr", action="store_true", help="also derive height, normal, roughness and AO maps into the folder -o")
    p.add_argument("--flatten", action="store_true",
                   help="even out each reference's light first (with --material: the basecolor map's)")
    from .pbr import add_light_angle

    add_light_angle(p)
    p.add_argument("--material", nargs="+", default=None, metavar="MAP=FILE",
                   help="synthesise aligned maps of a reference material, e.g. basecolor=a.png normal=b.png")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..contract.vocabulary import MAP_NAMES

    for flag, value in (("--light-angle", args.light_angle), ("--height-from", args.height_from)):
        if value is not None and not args.pbr:
            raise InputError(f"{flag} needs --pbr")
    if args.material:
        from . import material  # joint PBR synthesis, see cli/material.py

        return material.run(args)
    if not args.refs:
        raise InputError("give at least one reference image (or --material MAP=FILE ...)")
    weights = parse_weights(args.weights, len(args.refs))
    if args.vgg_weights and args.method != "cnn":
        raise InputError("--vgg-weights needs --method cnn")
    inputs = [*args.refs, args.vgg_weights]
    out = check_output_dir(args.output, inputs) if args.pbr else check_output_file(args.output, inputs)
    job.check_images(args.refs)  # fails fast on bad files, before any compute
    maps = list(MAP_NAMES) if args.pbr else ["basecolor"]  # --pbr: the maps derived from the result
    spec = JobSpec(kind="synth", references=job.references(args.refs, weights), width=args.size,
                   height=args.size if args.height is None else args.height, seed=args.seed, tile=tiling(args),
                   detail_scale=args.detail_scale, quality=args.quality, method=args.method, device=args.device,
                   vgg_weights=args.vgg_weights, cnn_loss=args.cnn_loss, flatten=args.flatten, maps=maps,
                   light_angle=light_angle_of(args) if args.pbr else None,
                   **(job.in_folder(out, maps) if args.pbr else job.as_file(out)))
    written = job.run(spec)
    return job.report_set(written, out) if args.pbr else job.report_file(out)
