"""Benchmark: the reference set against peer tools (default), or the engine's own speed/memory suite.

``--suite set`` (the default, ``make bench``): ours, G'MIC and Resynthesizer on every reference of
``benchmark/references``, each as a whole process, with the structure figure, copy share, the
patch figure, times, ratios ours ÷ peer and a contact sheet. See scripts/bench_set.py and
docs/benchmark.md. ``python scripts/bench.py --sizes 256,512,1024 --quality default,draft`` adds
the speed ratios (draft vs default, growth with pixels); ``--peers none`` runs ours alone.

``--suite engine`` (``make bench-engine``): the tables below, on the bundled examples.

``--suite large`` (``make bench BENCH_ARGS="--suite large"``): from 256² references, 1024² and 2048²
(4096² on CUDA) for the procedural processes (with their truth drawn at that size) and the
photographs; near / mid / far autocorrelation figures of ours, the truth, the reference tiled and
Resynthesizer, times, peak memory, the target and a contact sheet. See scripts/bench_large.py.

``--suite photo`` (``make bench BENCH_ARGS="--suite photo"``): flatten, straighten and heal on
spoiled benchmark references whose truth is known, heal beside Resynthesizer's Heal selection
(``--peers none`` leaves it out). See scripts/bench_photos.py.

Prints one markdown table per section. Every case runs in a fresh subprocess, so "peak RSS" is the
peak resident memory of that synthesis alone (torch loaded included), and timings do not inherit
warm caches from earlier cases.

Columns:
- wall s      — synthesis time (after loading; torch import excluded)
- peak MiB    — peak resident set size of the process (and peak CUDA memory when on a GPU)
- seam        — engine.seam_score of the delivered output (≈1 tiles; photographs score 2+). The
                engine rolls periodic outputs so the tile's edges lie on typical lines
                (references.seams.place_origin), so this is ≈1 or below for any texture that tiles.
- raw seam    — the same score at the optimiser's own origin, before that roll. A straight feature
                of the texture lying on this boundary (a mortar line) raises it without any seam.
- seam rank   — where that raw boundary ranks among all parallel lines of the raw output by the
                same score (0…1; a real seam is the worst line, ≈1.0 every time). Rolling cannot
                hide a seam from this column.
- dist        — multi-scale patch sliced Wasserstein distance output ↔ reference, over the whole
                output, with patches wrapping across the tile's edges (so the figure does not
                depend on the tile's origin, and a seam would count against it)
- noise floor — the same distance for white noise with the reference's colour histogram
- ratio       — dist ÷ noise floor (target ≤ 0.2)

Usage: ``python scripts/bench.py [--suite set] [--refs dots,brick] [--sizes 256] [--quality default]
[--peers gmic,resynth] [--out out/bench]`` or ``python scripts/bench.py --suite engine [--large]
[--sizes 256,512] [--methods patch,cnn] [--refs bricks,wood] [--quality default] [--device cpu] [--extras]``
or ``python scripts/bench.py --suite large [--refs discs,stones,brick] [--sizes 1024,2048] [--ref-size 256]
[--quality default] [--peers resynth] [--sheet-width 512] [--out out/bench_large]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("bricks", "stones", "wood", "lichen")


def _produce(engine, load_rgb, case: dict, ref, kind: str, size: int):
    """The case's output and the image it is compared with, by kind (synth, stylize, seamless, material)."""
    device = case.get("device", "auto")
    if kind == "synth":
        out = engine.synthesize([ref], width=size, quality=case["quality"], method=case["method"],
                                device=device, seed=0, typical_origin=False)
        return out, ref
    if kind == "stylize":
        content = load_rgb(ROOT / "examples" / f"{case['content']}.png")
        return engine.stylize(content, [ref], size=size, quality=case["quality"], device=device), ref
    if kind == "seamless":
        import torch as _t

        from texture_addon.engine.resample import resize

        big = resize(_t.from_numpy(ref).permute(2, 0, 1)[None], size, size)[0].permute(1, 2, 0).numpy().copy()
        return engine.make_seamless(big, quality=case["quality"], device=device), big
    if kind == "material":
        maps = engine.derive_maps(ref, tile=False)
        out_maps = engine.synthesize_material(maps, width=size, quality=case["quality"], device=device,
                                              typical_origin=False)
        return out_maps["basecolor"], maps["basecolor"]
    raise ValueError(kind)


def _quality_figures(engine, kind: str, size: int, out, compare) -> dict:
    """The patch distance to the reference against the noise floor; for seamless, the kept centre's PSNR.

    Distances are over the whole output (patch_distance samples 2^20 positions per scale on large
    ones): a 512² corner of a 1024² texture holds a quarter of it, and its share of (say) lichen
    differs from the reference's by chance; corners of one 1024² image scored 0.08-0.26.
    """
    import numpy as np

    if kind in ("synth", "material", "stylize"):
        tiles = kind != "stylize"  # stylize runs untiled here
        dist = engine.patch_distance(out, compare, periodic=tiles)
        floor = engine.patch_distance(engine.noise_like(compare, *out.shape[:2], seed=0), compare, periodic=tiles)
        return {"dist": dist, "floor": floor, "ratio": dist / floor}
    if kind == "seamless":
        c = slice(size // 4, 3 * size // 4)
        mse = float(np.mean((out[c, c] - compare[c, c]) ** 2))
        return {"psnr_centre": 10 * np.log10(1 / max(mse, 1e-12)), "seam_before": engine.seam_score(compare)}
    return {}


def run_case(case: dict) -> dict:
    """Run one synthesis in this process and report figures (called in a child process)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.path.insert(0, str(ROOT))
    import resource

    import torch

    from texture_addon import engine
    from texture_addon.references import load_rgb
    from texture_addon.references.seams import place_origin

    ref = load_rgb(ROOT / "examples" / f"{case['ref']}.png")
    kind = case.get("kind", "synth")
    size = case["size"]
    dev = engine.synthesize.__globals__["resolve_device"](case.get("device", "auto"))
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    out, compare = _produce(engine, load_rgb, case, ref, kind, size)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    raw = out
    if kind in ("synth", "material"):
        # The engine's last step, done here so the optimiser's own origin can be scored too.
        out = place_origin([out], (True, True))[0]
    seconds = time.perf_counter() - start
    result = {"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "seam": engine.seam_score(out), "raw_seam": engine.seam_score(raw), "seam_rank": engine.seam_rank(raw),
              "device": str(dev)}
    if dev.type == "cuda":
        result["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    result.update(_quality_figures(engine, kind, size, out, compare))
    return result


def in_child(case: dict, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--case", json.dumps(case)]
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores, {mem:.0f} GiB RAM{gpu}; torch {torch.__version__}, Python {platform.python_version()}"


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def table(title: str, rows: list[tuple[dict, dict]], extra_cols=()) -> str:
    head = ["case", "size", "quality", "wall s", "peak MiB", "seam", "raw seam", "seam rank", "dist", "noise floor", "ratio", *[c for c, _ in extra_cols]]
    lines = [f"\n### {title}\n", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case, r in rows:
        if "error" in r:
            lines.append(f"| {case['label']} | {case['size']}² | {case['quality']} | error: {r['error']} |")
            continue
        mem = fmt(r.get("peak_rss_mib"), ".0f") + (f" (+{r['peak_cuda_mib']:.0f} GPU)" if "peak_cuda_mib" in r else "")
        cells = [case["label"], f"{case['size']}²", case["quality"], fmt(r["seconds"], ".1f"), mem, fmt(r["seam"], ".3f"),
                 fmt(r.get("raw_seam"), ".3f"), fmt(r.get("seam_rank"), ".2f"), fmt(r.get("dist"), ".4f"), fmt(r.get("floor"), ".4f"), fmt(r.get("ratio"), ".3f"),
                 *[fmt(r.get(key), spec) for _, (key, spec) in extra_cols]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def large_suite(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--suite large``: see scripts/bench_large.py."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_large

    out = Path(args.out or ROOT / "out" / "bench_large")
    if args.sheet_width < 16:
        parser.error(f"--sheet-width must be at least 16, got {args.sheet_width}")
    if args.sheet_only:
        return bench_large.sheet_from_results(out, Path(args.sheet_only), args.sheet_width)
    try:
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else bench_large.default_sizes(args.device)
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if args.ref_size < 64 or any(s < 64 for s in sizes):
        parser.error("--ref-size and --sizes must be at least 64")
    quality = args.quality or "default"
    if "," in quality:
        parser.error("the large suite takes one --quality")
    cases = args.refs.split(",") if args.refs else bench_large.case_names()
    peers = [] if args.peers in ("", "none") else (args.peers or "resynth").split(",")
    print(f"Machine: {machine()}; device {args.device}")
    return bench_large.run(cases, sizes, quality, peers, args.device, out, args.timeout, args.ref_size, args.sheet_width)


def _parser() -> argparse.ArgumentParser:
    """The benchmark's flags (one parser for every suite: each reads the flags it names)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--suite", choices=("set", "engine", "large", "maps", "photo"), default=None,
                        help="set: reference set against peers (default); engine: the engine's own speed/memory tables "
                             "(implied by --large, --extras or --methods); large: 1024²-4096² outputs from 256² "
                             "references, order at a distance against the truth; maps: PBR maps against a known "
                             "truth; photo: flatten / straighten / heal against a known truth")
    parser.add_argument("--large", action="store_true", help="engine suite: add 2048² and 4096²")
    parser.add_argument("--sizes", default=None, help="comma-separated sizes (set: 256; engine: 256,512,1024; "
                                                     "large: 1024,2048, and 4096 on CUDA)")
    parser.add_argument("--methods", default=None, help="engine suite: synthesis methods (default patch,cnn)")
    parser.add_argument("--refs", default=None, help="comma-separated reference names (set: all of benchmark/references; "
                                                     "engine: " + ",".join(EXAMPLES) + "; large: the procedural "
                                                     "processes and the photographs)")
    parser.add_argument("--quality", default=None, help="comma-separated presets (set: default; engine: default,draft)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--peers", default=None, help="set suite: peer tools (default gmic,resynth), or 'none'; "
                                                      "large suite: resynth (default) or none")
    parser.add_argument("--out", default=None, help="set / large suite: folder for images, results.json, contact sheet "
                                                    "(default out/bench, out/bench_large)")
    parser.add_argument("--ref-size", type=int, default=256, help="large suite: size the procedural references are drawn at")
    parser.add_argument("--sheet-width", type=int, default=512,
                        help="large suite: width each whole output is shrunk to on the contact sheet")
    parser.add_argument("--sheet-scale", type=float, default=1.0, help="set suite: scale of the contact sheet's pictures (e.g. 0.5)")
    parser.add_argument("--sheet-only", metavar="PNG", default=None,
                        help="set / large suite: only redraw the contact sheet of the run in --out (from its results.json) into PNG")
    parser.add_argument("--extras", action="store_true", help="engine suite: add stylize / seamless / material rows at 512²")
    parser.add_argument("--timeout", type=float, default=3600)
    return parser


def maps_suite(args: argparse.Namespace) -> int:
    """``--suite maps``: PBR maps against known truth, see scripts/bench_maps.py."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_maps

    print(f"Machine: {machine()}")
    return bench_maps.run(Path(args.out or ROOT / "out" / "bench") / "maps")


def photo_suite(args: argparse.Namespace) -> int:
    """``--suite photo``: flatten / straighten / heal against a known truth, see scripts/bench_photos.py."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_photos

    print(f"Machine: {machine()}")
    peers = [] if args.peers in ("", "none") else (args.peers or "resynth").split(",")
    return bench_photos.run(Path(args.out or ROOT / "out" / "bench_photos"), peers, args.timeout)


def set_suite(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--suite set``: ours and the peers on the reference set, see scripts/bench_set.py."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_set

    if args.sheet_only:
        return bench_set.sheet_from_results(Path(args.out), Path(args.sheet_only), args.sheet_scale)
    try:
        sizes = [int(s) for s in (args.sizes or "256").split(",")]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    refs = args.refs.split(",") if args.refs else bench_set.reference_names()
    peers = [] if args.peers in ("", "none") else args.peers.split(",")
    print(f"Machine: {machine()}; device {args.device}")
    return bench_set.run(refs, sizes, (args.quality or "default").split(","), peers, args.device, Path(args.out),
                         args.timeout, args.sheet_scale)


def engine_method_rows(args: argparse.Namespace, method: str, sizes: list[int]) -> list[tuple[dict, dict]]:
    """One method's rows of the engine suite: every quality and size, each case in a child process.

    The CNN family and the large sizes are timed on one reference; the patch family on all.
    """
    rows = []
    for quality in args.quality.split(","):
        for size in sizes:
            refs = args.refs.split(",") if method == "patch" and size <= 1024 else args.refs.split(",")[:1]
            if size > 1024 and (quality == "draft" or method != "patch"):
                continue  # large sizes: the default method and preset only
            for ref in refs:
                case = {"ref": ref, "size": size, "quality": quality, "method": method, "device": args.device, "label": ref}
                r = in_child(case, args.timeout)
                rows.append((case, r))
                print(f"  {method} {ref} {size}² {quality}: {r}", file=sys.stderr, flush=True)
    return rows


def engine_extras(args: argparse.Namespace) -> str:
    """``--extras``: the stylize / seamless / material rows at 512², as a table."""
    rows = []
    for kind, extra in (("stylize", {"content": "stones", "ref": "lichen"}), ("seamless", {"ref": "lichen"}),
                        ("material", {"ref": "stones"})):
        case = {"kind": kind, "size": 512, "quality": "default", "device": args.device, "label": kind, **extra}
        r = in_child(case, args.timeout)
        rows.append((case, r))
        print(f"  {kind}: {r}", file=sys.stderr, flush=True)
    return table("stylize / seamless / material", rows, (("seam before", ("seam_before", ".2f")), ("PSNR centre dB", ("psnr_centre", ".1f"))))


def engine_suite(args: argparse.Namespace) -> int:
    """``--suite engine``: the engine's own speed and memory tables on the bundled examples."""
    if args.refs is None:
        args.refs = ",".join(EXAMPLES)
    if args.quality is None:
        args.quality = "default,draft"
    if args.methods is None:
        args.methods = "patch,cnn"
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [256, 512, 1024]
    if args.large:
        sizes += [2048, 4096]
    print(f"Machine: {machine()}; device {args.device}")
    for method in args.methods.split(","):
        print(table(f"method = {method}", engine_method_rows(args, method, sizes)))
    if args.extras:
        print(engine_extras(args))
    return 0


def main() -> int:
    parser = _parser()
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0
    if args.suite is None:
        args.suite = "engine" if args.large or args.extras or args.methods else "set"
    if args.suite == "maps":
        return maps_suite(args)
    if args.suite == "large":
        return large_suite(parser, args)
    if args.suite == "photo":
        return photo_suite(args)
    if args.out is None:
        args.out = str(ROOT / "out" / "bench")
    if args.peers is None:
        args.peers = "gmic,resynth"
    if args.suite == "set":
        return set_suite(parser, args)
    return engine_suite(args)


if __name__ == "__main__":
    sys.exit(main())
