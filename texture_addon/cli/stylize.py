"""``stylize``: repaint a content image with the texture of one or several style images."""

from __future__ import annotations

import argparse

from ..contract.vocabulary import DEVICES, QUALITIES
from .common import parse_weights, seed_arg, size_arg


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"strength must be a number within 0…1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"strength {value} out of range (0…1)")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stylize", help="re-render an image with the texture of style image(s)",
                       description="Keep the content image's layout, take the style images' textures.")
    p.add_argument("content", metavar="CONTENT", help="content image")
    p.add_argument("--style", nargs="+", required=True, metavar="S", help="style image(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="output PNG")
    p.add_argument("--weights", default=None, help="comma-separated weight per style, e.g. 1,0.5")
    p.add_argument("--strength", type=_strength, default=0.7, help="0 = content … 1 = style (default 0.7)")
    p.add_argument("--preserve-colors", action="store_true", help="transfer the style on luminance only")
    p.add_argument("--flatten", action="store_true", help="even out each style image's light first")
    p.add_argument("--tile", action="store_true", help="make the result tileable")
    p.add_argument("--size", type=size_arg, default=None, help="longer side of the output (default: the content's)")
    p.add_argument("--seed", type=seed_arg, default=0, help="0…4294967295 (default 0)")
    p.add_argument("--quality", choices=QUALITIES, default="default")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..contract.spec import JobSpec
    from . import job
    from .common import check_output_file

    weights = parse_weights(args.weights, len(args.style), what="style")
    out = check_output_file(args.output, [args.content, *args.style])
    job.check_images([args.content, *args.style])  # every input is checked before any compute
    size = args.size or 0  # 0: the content's own size
    # flatten: the references' light; the content keeps its own
    spec = JobSpec(kind="stylize", references=job.references(args.style, weights), content=args.content,
                   width=size, height=size, strength=args.strength, preserve_colors=args.preserve_colors,
                   tile="both" if args.tile else "none", seed=args.seed, quality=args.quality, device=args.device,
                   flatten=args.flatten, **job.as_file(out))
    job.run(spec)
    return job.report_file(out)


