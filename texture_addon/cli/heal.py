"""``heal``: fill the masked area of an image from the rest of it, leaving every other pixel as it was."""

from __future__ import annotations

import argparse
import sys

from ..contract.vocabulary import DEVICES, QUALITIES
from ..errors import InputError
from .common import ProgressPrinter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("heal", help="fill a masked area of an image from the rest of it",
                       description="Fill the white area of the mask (or, without --mask, the image's transparent "
                                   "area) with the image's own texture; pixels outside it are kept bit for bit.")
    p.add_argument("image", metavar="IMAGE", help="image to heal")
    p.add_argument("--mask", default=None, metavar="MASK.png", help="white = fill; same size as the image "
                                                                   "(default: the image's alpha, transparent = fill)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="output PNG")
    p.add_argument("--wrap", choices=("auto", "yes", "no"), default="auto",
                   help="fill across the borders as a tileable image (default auto: if the image tiles)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quality", choices=QUALITIES, default="default")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..references import load_image, save_png
    from ..references.prepare.heal import alpha_mask, check_mask, colour_channels, load_mask
    from .common import check_output_file

    out = check_output_file(args.output, [args.image, args.mask])
    loaded = load_image(args.image)
    image = colour_channels(loaded)
    if args.mask:
        mask = load_mask(args.mask)
    else:
        mask = alpha_mask(loaded)
        if mask is None:
            raise InputError("give --mask MASK.png (white = fill), or an image whose transparent area is to be filled")
    mask = check_mask(mask, image.shape[1], image.shape[0])

    from ..engine.heal import heal

    wrap = {"auto": None, "yes": True, "no": False}[args.wrap]
    result = heal(image, mask, wrap=wrap, quality=args.quality, seed=args.seed, device=args.device,
                  progress=ProgressPrinter(sys.stderr))
    save_png(out, result)
    sys.stderr.write(f"wrote {out}\n")
    return 0
