"""Run every synthesising mode on a CUDA GPU, then time it beside the CPU in the same run.

Not part of CI (CI has no GPU). Meant for a machine with an NVIDIA GPU and a CUDA build of torch:
``python scripts/check_cuda.py --out out/cuda``. Three parts, each reported even when another fails:

1. **Modes.** Every entry point that synthesises (correspondence, patch statistics and CNN
   families, two weighted references, one-way tiling, aligned material maps, PBR derivation,
   stylize, make_seamless's band, cancel) runs once at a small size on ``cuda``; a failure prints
   its traceback and the script goes on, so one run lists every CUDA-only fault.
2. **Same picture.** On the benchmark references, 256² default on CUDA and on the CPU: the
   structure figure and copy share of each (the CUDA build uses other kernels and float
   reductions, so the bytes differ; the figures must not), seam rank of the raw output, and
   byte-equality of two CUDA runs with one seed.
3. **Speed.** In one process, after a warm-up: synthesis seconds and peak GPU memory at
   512², 1024², 2048² (and 4096² with ``--large``), default and draft, CUDA beside the CPU's
   threads on the same machine; ratios CPU ÷ CUDA.

Writes ``results.json``, a contact sheet of the mode outputs and the timed outputs under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from texture_addon import engine  # noqa: E402
from texture_addon.evaluation.structure import structure_score  # noqa: E402
from texture_addon.references import load_rgb, save_png  # noqa: E402

EXAMPLES = ROOT / "examples"
GPU = "cuda"
BENCH = ROOT / "benchmark" / "references"


def _modes(dev: str) -> dict[str, np.ndarray]:
    """Each synthesising entry point once on ``dev``; returns what it made (tracebacks printed)."""
    bricks, stones, wood = (load_rgb(EXAMPLES / f"{n}.png") for n in ("bricks", "stones", "wood"))
    maps = engine.derive_maps(stones, tile=True)

    def cancelled() -> str:
        token = engine.CancelToken()

        def on_progress(info):
            if info.step >= 3:
                token.cancel()

        try:
            engine.synthesize([wood], width=128, device=dev, progress=on_progress, cancel=token)
        except engine.Cancelled:
            return "cancelled"
        return "not cancelled"

    cases = {
        "nn": lambda: engine.synthesize([bricks], width=128, device=dev),
        "nn draft": lambda: engine.synthesize([stones], width=128, quality="draft", device=dev),
        "nn two refs": lambda: engine.synthesize([stones, wood], weights=[1, 0.5], width=128, device=dev),
        "nn tile x": lambda: engine.synthesize([wood], width=160, height=96, tile="x", device=dev),
        "nn detail 1.5": lambda: engine.synthesize([stones], width=128, detail_scale=1.5, device=dev),
        "nn phase start": lambda: engine.synthesize([bricks], width=2 * bricks.shape[1], quality="draft", device=dev),
        "patch": lambda: engine.synthesize([stones], width=128, method="patch", device=dev),
        "cnn": lambda: engine.synthesize([stones], width=128, method="cnn", quality="draft", device=dev),
        "material": lambda: engine.synthesize_material(maps, width=128, device=dev)["basecolor"],
        "pbr of output": lambda: engine.derive_maps(engine.synthesize([stones], width=128, device=dev), tile=True)["normal"],
        "stylize": lambda: engine.stylize(stones, [wood], size=128, device=dev),
        "seamless": lambda: engine.make_seamless(load_rgb(EXAMPLES / "lichen.png")[:192, :192], device=dev),
    }
    made: dict[str, np.ndarray] = {}
    for name, fn in cases.items():
        start = time.perf_counter()
        try:
            out = np.asarray(fn(), dtype=np.float32)
            made[name] = out
            print(f"mode {name}: ok {out.shape} {time.perf_counter() - start:.2f} s", flush=True)
        except Exception:  # noqa: BLE001 - the point is to list every failure in one run
            print(f"mode {name}: FAILED\n{traceback.format_exc()}", flush=True)
    try:
        print(f"mode cancel: {cancelled()}", flush=True)
    except Exception:  # noqa: BLE001
        print(f"mode cancel: FAILED\n{traceback.format_exc()}", flush=True)
    return made


def _sheet(images: dict[str, np.ndarray], path: Path, cell: int = 192) -> None:
    from PIL import Image

    names = list(images)
    cols = 4
    rows = (len(names) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell, rows * cell), (40, 40, 40))
    for i, name in enumerate(names):
        img = images[name]
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        pic = Image.fromarray((np.clip(img[:, :, :3], 0, 1) * 255 + 0.5).astype(np.uint8))
        pic.thumbnail((cell, cell))
        sheet.paste(pic, ((i % cols) * cell, (i // cols) * cell))
    sheet.save(path)


def _same_picture(refs: list[str]) -> list[dict]:
    rows = []
    for name in refs:
        ref = load_rgb(BENCH / f"{name}.png")
        row: dict = {"ref": name}
        for key, dev in (("cuda", GPU), ("cpu", "cpu")):
            out = engine.synthesize([ref], width=256, device=dev, typical_origin=False)
            s = structure_score(out, ref)
            row[key] = {"structure": s.structure, "copies": s.copy_share, "seam_rank": engine.seam_rank(out)}
            if key == "cuda":
                again = engine.synthesize([ref], width=256, device=dev, typical_origin=False)
                row["cuda_repeat_equal"] = bool(np.array_equal(out, again))
        print(f"same picture {name}: {row}", flush=True)
        rows.append(row)
    return rows


def _timed(ref: np.ndarray, size: int, quality: str, dev: str) -> tuple[float, float | None, np.ndarray]:
    if dev == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    out = engine.synthesize([ref], width=size, quality=quality, device=dev)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if dev == "cuda" else None
    return seconds, peak, out


def _speed(sizes: list[int], cpu_sizes: set[int]) -> tuple[list[dict], dict[int, np.ndarray]]:
    """Rows of timings, and the GPU's default-preset outputs by size (to look at)."""
    ref = load_rgb(EXAMPLES / "bricks.png")
    outputs: dict[int, np.ndarray] = {}
    engine.synthesize([ref], width=128, device=GPU)  # warm-up: context, kernels, allocator
    rows = []
    for size in sizes:
        for quality in ("default", "draft"):
            row: dict = {"size": size, "quality": quality}
            for key, dev in (("cuda", GPU), ("cpu", "cpu")):
                if key == "cpu" and size not in cpu_sizes:
                    continue
                try:
                    seconds, peak, out = _timed(ref, size, quality, dev)
                    row[key] = {"seconds": seconds, "peak_gib": peak}
                    if key == "cuda" and quality == "default":
                        outputs[size] = out
                except Exception:  # noqa: BLE001
                    row[key] = {"error": traceback.format_exc().strip().splitlines()[-1]}
            if "cpu" in row and "seconds" in row.get("cpu", {}) and "seconds" in row.get("cuda", {}):
                row["cpu_over_cuda"] = row["cpu"]["seconds"] / row["cuda"]["seconds"]
            print(f"speed {row}", flush=True)
            rows.append(row)
    return rows, outputs


def _profile(out_dir: Path, size: int) -> None:
    """Where the GPU run spends its time: torch's profiler over one default synthesis."""
    from torch.profiler import ProfilerActivity, profile

    ref = load_rgb(EXAMPLES / "bricks.png")
    engine.synthesize([ref], width=size, device=GPU)  # warm
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if GPU == "cuda" else [])
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        engine.synthesize([ref], width=size, device=GPU)
    wall = time.perf_counter() - start
    averages = prof.key_averages()
    gpu_busy = sum(getattr(e, "self_device_time_total", 0) for e in averages) / 1e6
    launches = sum(e.count for e in averages if e.key.startswith(("cudaLaunchKernel", "cuLaunchKernel")))
    syncs = sum(e.count for e in averages if "Synchronize" in e.key or e.key == "aten::item"
                or e.key == "aten::_local_scalar_dense")
    head = f"profile {size}²: wall {wall:.2f} s (profiled), GPU busy {gpu_busy:.2f} s, launches {launches}, item/syncs {syncs}"
    sort = "self_device_time_total" if GPU == "cuda" else "self_cpu_time_total"
    text = "\n".join([head, averages.table(sort_by=sort, row_limit=25),
                      averages.table(sort_by="cpu_time_total", row_limit=25)])
    (out_dir / "profile.txt").write_text(text)
    print(head, flush=True)


def _blocks(sizes: list[int]) -> list[dict]:
    """Time the GPU's gather/vote block sizes (each block is a few kernel launches there)."""
    from texture_addon.engine import correspondence as corr

    ref = load_rgb(EXAMPLES / "bricks.png")
    saved = corr.GPU_GATHER_CHUNK, corr.GPU_VOTE_CHUNK, corr.GPU_FOLD_VOTE_LIMIT
    rows = []
    try:
        for gather, vote, fold in ((1 << 14, 1 << 18, 1 << 21), (1 << 18, 1 << 22, 1 << 21), saved,
                                   (1 << 18, 1 << 22, 1 << 30)):
            corr.GPU_GATHER_CHUNK, corr.GPU_VOTE_CHUNK, corr.GPU_FOLD_VOTE_LIMIT = gather, vote, fold
            for size in sizes:
                for quality in ("default", "draft"):
                    seconds, peak, _ = _timed(ref, size, quality, GPU)
                    row = {"gather": gather, "vote": vote, "fold": fold, "size": size, "quality": quality,
                           "seconds": seconds, "peak_gib": peak}
                    print(f"blocks {row}", flush=True)
                    rows.append(row)
    finally:
        corr.GPU_GATHER_CHUNK, corr.GPU_VOTE_CHUNK, corr.GPU_FOLD_VOTE_LIMIT = saved
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "out" / "cuda"))
    parser.add_argument("--sizes", default="512,1024,2048")
    parser.add_argument("--cpu-sizes", default="512,1024,2048", help="sizes also timed on the CPU")
    parser.add_argument("--large", action="store_true", help="add 4096²")
    parser.add_argument("--refs", default="cells,dots,grass,brick", help="benchmark references for part 2")
    parser.add_argument("--parts", default="modes,picture,speed")
    parser.add_argument("--device", default="cuda", help="cpu only checks this script itself")
    args = parser.parse_args()
    global GPU
    GPU = args.device
    if GPU == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU visible to this torch build", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    gpu_name = torch.cuda.get_device_name(0) if GPU == "cuda" else "none (script check on the CPU)"
    print(f"torch {torch.__version__}, {gpu_name}, {os.cpu_count()} CPUs", flush=True)
    parts = args.parts.split(",")
    results: dict = {"torch": torch.__version__, "gpu": gpu_name, "cpus": os.cpu_count()}
    if "modes" in parts:
        made = _modes(GPU)
        results["modes_ok"] = sorted(made)
        if made:
            _sheet(made, out_dir / "modes.png")
    if "picture" in parts:
        results["picture"] = _same_picture(args.refs.split(","))
    if "speed" in parts:
        sizes = [int(s) for s in args.sizes.split(",")] + ([4096] if args.large else [])
        results["speed"], outputs = _speed(sizes, {int(s) for s in args.cpu_sizes.split(",") if s})
        for size, img in outputs.items():
            if size in (512, 2048):
                save_png(out_dir / f"bricks_{size}_cuda.png", img)
    if "profile" in parts:
        _profile(out_dir, 1024)
    if "blocks" in parts:
        results["blocks"] = _blocks([1024, 2048])
    (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
