"""The README's main job: synthesise tileable textures from every bundled example into ``out/``.

Writes ``out/<name>.png`` (512², default quality) and ``out/contact_sheet.png`` (each result tiled
2×2 beside its reference).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from texture_addon.engine import seam_score, synthesize  # noqa: E402
from texture_addon.references import load_rgb, save_png  # noqa: E402

EXAMPLES = ("bricks", "stones", "wood", "lichen")


def contact_row(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Output tiled 2×2 with the reference beside it, top-aligned on a dark background."""
    tiled = np.tile(out, (2, 2, 1))
    pad = np.full((tiled.shape[0], ref.shape[1] + 16, 3), 0.12, np.float32)
    pad[: ref.shape[0], 16:] = ref[: tiled.shape[0]]
    return np.concatenate([tiled, pad], axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="out")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--quality", default="default")
    args = parser.parse_args()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in EXAMPLES:
        ref = load_rgb(ROOT / "examples" / f"{name}.png")
        start = time.perf_counter()
        img = synthesize([ref], width=args.size, quality=args.quality, seed=0)
        seconds = time.perf_counter() - start
        save_png(out_dir / f"{name}.png", img)
        print(f"{name}: {args.size}² in {seconds:.1f} s, seam score {seam_score(img):.3f} -> {out_dir / (name + '.png')}", flush=True)
        rows.append(contact_row(img, ref))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=0.12) for r in rows])
    save_png(out_dir / "contact_sheet.png", sheet)
    print(f"contact sheet -> {out_dir / 'contact_sheet.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
