"""The README's main job: a Blender scene with tileable materials from every bundled example.

Builds a scene with one plane per bundled reference (``examples/*.png``), bakes every material
with the same code as ``scripts/bake.py`` (one engine process, default quality at 256²), and
writes into ``--out`` (default ``out/``):

* ``demo.blend`` — the scene, with the textures wired into each material;
* ``textures/`` — the images the .blend uses; ``raw/<material>/`` — the engine's outputs;
* ``<name>.png`` — each base colour; ``preview.png`` — each material rendered on a sphere and a
  plane (Cycles, CPU); ``contact_sheet.png`` — each result tiled 2×2 beside its reference;
* ``summary.json`` — bake.py's JSON summary (seconds and seam scores per material).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402

import bake  # noqa: E402
from texture_addon.contract.vocabulary import MAP_NAMES, QUALITIES  # noqa: E402
from texture_addon.references import load_rgb, save_png  # noqa: E402

EXAMPLES = ("bricks", "stones", "wood", "lichen")


def contact_row(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Output tiled 2×2 with the reference beside it, top-aligned on a dark background."""
    tiled = np.tile(out, (2, 2, 1))
    pad = np.full((tiled.shape[0], ref.shape[1] + 16, 3), 0.12, np.float32)
    pad[: ref.shape[0], 16:] = ref[: tiled.shape[0]]
    return np.concatenate([tiled, pad], axis=1)


def demo_maps() -> list[str]:
    """All the maps the engine can make but AO (base colour only until it derives PBR maps)."""
    import texture_addon.engine as engine
    return [m for m in MAP_NAMES if m != "ao"] if hasattr(engine, "derive_maps") else ["basecolor"]


def build_scene(out_dir: Path, size: int, quality: str) -> Path:
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bake.load_addon()
    maps = demo_maps()
    for i, name in enumerate(EXAMPLES):
        bpy.ops.mesh.primitive_plane_add(size=2.0, location=(2.5 * i, 0.0, 0.0))
        obj = bpy.context.active_object
        obj.name = name.title()
        mat = bpy.data.materials.new(name.title())
        obj.data.materials.append(mat)
        bake.apply_overrides(mat, {"refs": [str(ROOT / "examples" / f"{name}.png")],
                                   "size": (size, size), "quality": quality, "seed": 0,
                                   "maps": maps})
    blend = out_dir / "demo.blend"
    bpy.ops.wm.save_mainfile(filepath=str(blend))  # saved first: images then go to //textures/
    return blend


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--quality", default="default", choices=QUALITIES)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    blend = build_scene(out_dir, args.size, args.quality)
    bake_args = bake.build_parser().parse_args(
        ["--out", str(out_dir / "raw"), "--save", "--preview", str(out_dir / "preview.png"),
         "--jobs", str(args.jobs), "--force"])
    summary = bake.bake(bake_args)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))

    rows = []
    for m in summary["materials"]:
        name = m["name"].lower()
        if m["status"] == "failed":
            print(f"{m['name']}: FAILED: {m['error']}", flush=True)
            continue
        base = m["outputs"]["basecolor"]
        shutil.copyfile(base, out_dir / f"{name}.png")
        scores = ", ".join(f"{k} {v:.3f}" for k, v in m["seam_scores"].items())
        print(f"{m['name']}: {args.size}² in {m['engine_seconds']:.1f} s, seam scores {scores} "
              f"-> {out_dir / (name + '.png')}", flush=True)
        rows.append(contact_row(load_rgb(base), load_rgb(ROOT / "examples" / f"{name}.png")))
    if rows:
        width = max(r.shape[1] for r in rows)
        sheet = np.concatenate([np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)),
                                       constant_values=0.12) for r in rows])
        save_png(out_dir / "contact_sheet.png", sheet)
        print(f"contact sheet -> {out_dir / 'contact_sheet.png'}")
    print(f"scene -> {blend}; preview -> {summary['preview']}; "
          f"total {time.perf_counter() - start:.0f} s", flush=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
