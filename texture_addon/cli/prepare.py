"""``prepare``: a photograph made into a clean reference — straighten, heal, even out the light."""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from .common import ProgressPrinter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="straighten, heal and even out the light of a photographed reference",
                       description="Make a clean reference from a photograph, in the order straighten → heal → "
                                   "flatten (each step only when asked for).")
    p.add_argument("photo", metavar="PHOTO", help="the photograph")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="output PNG")
    p.add_argument("--corners", default=None, metavar="X1,Y1,X2,Y2,X3,Y3,X4,Y4",
                   help="the surface's corners in photo pixels: top-left, top-right, bottom-right, bottom-left")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="size of the straightened image (default: from the quad's edge lengths)")
    p.add_argument("--flatten", action="store_true", help="even out the light (gradients, vignetting, shadows)")
    p.add_argument("--flatten-scale", type=float, default=None, metavar="S",
                   help="size of what counts as light, fraction of the shorter side (0.02…0.5, default 0.12)")
    p.add_argument("--heal-mask", default=None, metavar="MASK.png",
                   help="fill the white area of this mask (in the photo's pixels) from the rest of the photo")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..references import save_png
    from ..references.prepare import prepare_table
    from ..references.prepare.flatten import DEFAULT_SCALE
    from .common import check_output_file

    out = check_output_file(args.output, [args.photo, args.heal_mask])
    if args.flatten_scale is not None and not args.flatten:
        raise InputError("--flatten-scale needs --flatten")
    scale = DEFAULT_SCALE if args.flatten_scale is None else args.flatten_scale
    if not 0.02 <= scale <= 0.5:
        raise InputError(f"--flatten-scale {scale:g} out of range (0.02…0.5)")
    if args.corners is None and args.size is None and args.heal_mask is None and not args.flatten:
        raise InputError("nothing to do: give --corners, --flatten and/or --heal-mask")
    table = {"path": args.photo, "corners": args.corners, "size": args.size, "flatten": args.flatten,
             "mask": args.heal_mask}
    result = prepare_table(table, scale, progress=ProgressPrinter(sys.stderr))
    save_png(out, result)
    sys.stderr.write(f"wrote {out} ({result.shape[1]}×{result.shape[0]})\n")
    return 0
