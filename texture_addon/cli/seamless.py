"""``seamless``: make an existing image tile by re-synthesising a band along its borders."""

from __future__ import annotations

import argparse

from ..contract.vocabulary import DEVICES, PATCH_METHODS, QUALITIES
from .common import seed_arg


def _band(text: str) -> float:
    from ..engine.seamless import BAND_RANGE

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"band must be a fraction of the image side, got {text!r}") from None
    lo, hi = BAND_RANGE
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"band {value} out of range ({lo}…{hi})")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("seamless", help="make an image tileable",
                       description="Re-synthesise a band around the image's borders from its own texture so it tiles; "
                                   "the interior is kept as it is.")
    p.add_argument("image", metavar="IMAGE", help="image to make seamless")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="output PNG")
    p.add_argument("--band", type=_band, default=0.15, help="width of the re-synthesised band, fraction of the side (default 0.15)")
    p.add_argument("--seed", type=seed_arg, default=0, help="0…4294967295 (default 0)")
    p.add_argument("--quality", choices=QUALITIES, default="default")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--method", choices=PATCH_METHODS, default="nn",
                   help="nn: fill the band with the image's own patches (default); patch: match its patch statistics")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..contract.spec import JobSpec
    from . import job
    from .common import check_output_file

    out = check_output_file(args.output, [args.image])
    job.check_images([args.image])
    spec = JobSpec(kind="seamless", content=args.image, width=0, height=0, band=args.band, seed=args.seed,
                   quality=args.quality, device=args.device, method=args.method, **job.as_file(out))
    job.run(spec)
    return job.report_file(out)
