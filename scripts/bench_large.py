"""Large outputs: from 256² references, 1024² and 2048² (4096² on CUDA), judged by order at a distance.

``python scripts/bench.py --suite large`` (``make bench BENCH_ARGS="--suite large"``). Why: an output
16–64× the reference's area can be right in every crop and wrong as a whole (a lattice, bands,
clumps; issue 35). Cases:

- the procedural processes of ``texture_addon.evaluation.processes`` (discs, stones, pebbles): the
  reference is drawn at ``--ref-size`` (256²) from seed 1 and the **truth** at the output's size from
  seed 2 — the same process, so its figures are what the output should have;
- the photographs of ``benchmark/references`` (as the 256² suite uses them), which have no truth.

Per case and size, the near / mid / far figures (``texture_addon.evaluation.large_scale``) of:
**ours** (``python -m texture_addon synth REF --size N --quality Q --seed 0``, a whole process
timed, with its peak RSS from ``wait4``), the **truth** (procedural only), the reference **tiled** to
the same size (the worst case: every region repeats on the reference's period) and
**resynth** (Resynthesizer through GIMP, tiling, as the 256² suite runs it) where installed.
Ours and Resynthesizer are checked against the truth: near and mid ≤ 1.5× truth + 0.003, and near
≥ 0.75× truth (``large_scale.meets_target``).

Writes ``OUT/contact_sheet.png`` (per case and size: the reference tiled to that size | ours |
the truth | Resynthesizer, each shrunk to ``--sheet-width``, then a 1:1 crop of ours),
``OUT/results.json`` and the images under ``OUT/images``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_set  # noqa: E402
from texture_addon.evaluation.large_scale import BandFigures, band_figures, meets_target  # noqa: E402
from texture_addon.evaluation.processes import PROCESSES, draw  # noqa: E402

REF_SEED, TRUTH_SEED = 1, 2
SOURCES = ("ours", "truth", "tiled", "resynth")


def case_names() -> list[str]:
    """Procedural processes first, then the benchmark's photographs."""
    from make_bench_set import PHOTOS

    return [*PROCESSES, *PHOTOS]


def default_sizes(device: str) -> list[int]:
    """1024² and 2048²; 4096² too where the engine runs on a CUDA device."""
    sizes = [1024, 2048]
    if device in ("cuda", "auto"):
        try:
            import torch

            if torch.cuda.is_available():
                sizes.append(4096)
        except ImportError:
            pass
    return sizes


@dataclass
class Row:
    case: str
    size: int
    results: dict[str, dict] = field(default_factory=dict)  # source -> figures, times, file
    ref_file: str = ""  # the reference, under images/


def save_png(img: np.ndarray, path: Path) -> None:
    """Write atomically (a half-written PNG never takes the name)."""
    tmp = path.with_name(path.name + ".tmp.png")
    Image.fromarray(img).save(tmp)
    os.replace(tmp, path)


def reference_path(case: str, ref_size: int, images: Path) -> Path:
    """The case's reference file: a procedural one drawn here, a photograph from the benchmark set."""
    if case in PROCESSES:
        path = images / f"{case}_ref{ref_size}.png"
        save_png(draw(case, ref_size, REF_SEED).image, path)
        return path
    return bench_set.REFERENCES / f"{case}.png"


def tiled(ref: np.ndarray, size: int) -> np.ndarray:
    """The reference repeated to size² (the worst case: everything recurs on its period)."""
    h, w = ref.shape[:2]
    return np.tile(ref, (-(-size // h), -(-size // w), 1))[:size, :size]


def load_uint8(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def figures(img: np.ndarray) -> dict:
    return band_figures(img).as_dict()


def judge(r: dict, truth: dict | None) -> None:
    """Add the target's verdict (and the ratios to the truth) to an output's figures."""
    if truth is None or r.get("error") or r.get("near") is None or truth.get("mid") is None:
        return
    t = meets_target(BandFigures(r["near"], r["mid"], r["far"]), BandFigures(truth["near"], truth["mid"], truth["far"]))
    r.update(near_ok=t.near_ok, mid_ok=t.mid_ok, near_ratio=r["near"] / truth["near"], mid_ratio=r["mid"] / truth["mid"])


def run_case(case: str, size: int, ref_path: Path, quality: str, peers: list[str], device: str, images: Path,
             timeout: float) -> Row:
    """Every source of one case at one size."""
    row = Row(case, size)
    ref = load_uint8(ref_path)
    if case in PROCESSES:
        truth = draw(case, size, TRUTH_SEED).image
        save_png(truth, images / f"{case}_{size}_truth.png")
        row.results["truth"] = {**figures(truth), "file": f"{case}_{size}_truth.png"}
        del truth
    row.results["tiled"] = figures(tiled(ref, size))
    tools = ["ours", *peers]
    for tool in tools:
        out = images / f"{case}_{size}_{quality}_{tool}.png"
        out.unlink(missing_ok=True)
        if tool == "ours":
            r = bench_set.run_ours(ref_path, out, size, quality, device, timeout)
        else:
            r = bench_set.run_resynth(ref_path, out, size, timeout)
        if not r["error"]:
            img = load_uint8(out)
            if img.shape[:2] != (size, size):
                r["error"] = f"wrote {img.shape[1]}×{img.shape[0]}, not {size}²"
            else:
                r.update(figures(img))
        r["file"] = out.name
        judge(r, row.results.get("truth"))
        row.results[tool] = r
    return row


def fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def verdict(r: dict) -> str:
    if "near_ok" not in r:
        return "—"
    if r["near_ok"] and r["mid_ok"]:
        return "pass"
    return "fail (" + ", ".join(k for k in ("near", "mid") if not r[f"{k}_ok"]) + ")"


def table(rows: list[Row]) -> str:
    head = ["case", "size", "source", "near", "mid", "far", "near ÷ truth", "mid ÷ truth", "wall s", "plug-in s",
            "peak MiB", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        for source in SOURCES:
            r = row.results.get(source)
            if r is None:
                continue
            if r.get("error"):
                lines.append(f"| {row.case} | {row.size}² | {source} | error: {r['error']} |")
                continue
            cells = [row.case, f"{row.size}²", source, fmt(r.get("near"), ".4f"), fmt(r.get("mid"), ".4f"),
                     fmt(r.get("far"), ".4f"), fmt(r.get("near_ratio"), ".2f"), fmt(r.get("mid_ratio"), ".2f"),
                     fmt(r.get("seconds"), ".1f"), fmt(r.get("plugin_seconds"), ".1f"), fmt(r.get("peak_rss_mib"), ".0f"),
                     verdict(r)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: list[Row], tools: list[str]) -> list[str]:
    """Per size and tool: on how many processes the target is met."""
    out = []
    for size in sorted({r.size for r in rows}):
        for tool in tools:
            judged = [r.results[tool] for r in rows if r.size == size and "near_ok" in r.results.get(tool, {})]
            if judged:
                met = sum(j["near_ok"] and j["mid_ok"] for j in judged)
                out.append(f"{size}²: {tool} meets the target (near, mid ≤ 1.5× truth + 0.003; near ≥ 0.75× truth) "
                           f"on {met}/{len(judged)} processes")
    return out


LABEL = bench_set.LABEL


def _shrunk(img: Image.Image, width: int) -> Image.Image:
    return img if img.width == width else img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)


def _caption(source: str, r: dict) -> str:
    figs = f"near {fmt(r.get('near'), '.4f')} mid {fmt(r.get('mid'), '.4f')}\nfar {fmt(r.get('far'), '.4f')}"
    return f"{source}\n{figs}" + (f"  {verdict(r)}" if "near_ok" in r else "")


def contact_sheet(rows: list[Row], images: Path, path: Path, width: int = 512) -> None:
    """One strip per case and size: reference tiled | ours | truth | Resynthesizer, shrunk; ours 1:1.

    The whole output shrunk to one picture's width is how an artist first sees a 2K texture; a
    lattice, bands or clumps show there and nowhere in a crop. The last picture is a crop of ours
    at full resolution, as wide as the others, to judge crispness.
    """
    strips = []
    for row in rows:
        cells = []
        if row.ref_file and (images / row.ref_file).is_file():
            big = Image.fromarray(tiled(load_uint8(images / row.ref_file), row.size))
            cells.append(bench_set._label(_shrunk(big, width), f"{row.case} {row.size}px: reference tiled\n"
                                          + _caption("", row.results["tiled"]).strip()))
        for source in ("ours", "truth", "resynth"):
            r = row.results.get(source)
            if r is None or r.get("error") or not (images / r.get("file", "")).is_file():
                continue
            cells.append(bench_set._label(_shrunk(Image.open(images / r["file"]).convert("RGB"), width),
                                          _caption(source, r)))
        ours = row.results.get("ours", {})
        if not ours.get("error") and (images / ours.get("file", "")).is_file():
            img = Image.open(images / ours["file"]).convert("RGB")
            c = min(width, img.width)
            cells.append(bench_set._label(img.crop((0, 0, c, c)), f"ours, 1:1 crop\n{c}px of {img.width}px"))
        if not cells:
            continue
        strips.append(bench_set.sheet_strip(cells))
    bench_set.save_sheet(strips, path)


def _copy_ref(ref_path: Path, images: Path) -> str:
    """The reference's file name under ``images`` (photographs are copied there for the sheet)."""
    if ref_path.parent != images:
        target = images / f"{ref_path.stem}_ref.png"
        target.write_bytes(ref_path.read_bytes())
        return target.name
    return ref_path.name


def load_rows(out_dir: Path) -> list[Row]:
    data = json.loads((out_dir / "results.json").read_text())
    return [Row(d["case"], d["size"], d["results"], d.get("ref_file", "")) for d in data["rows"]]


def sheet_from_results(out_dir: Path, path: Path, width: int) -> int:
    """Redraw the contact sheet of an earlier run from its results.json and images."""
    if not (out_dir / "results.json").is_file():
        print(f"error: no results.json in {out_dir}: run the large suite with --out {out_dir} first", file=sys.stderr)
        return 2
    contact_sheet(load_rows(out_dir), out_dir / "images", path, width)
    print(f"contact sheet: {path}")
    return 0


def run(cases: list[str], sizes: list[int], quality: str, peers: list[str], device: str, out_dir: Path,
        timeout: float, ref_size: int = 256, sheet_width: int = 512) -> int:
    """Run the large-output suite and print its table; returns the process exit status."""
    known = case_names()
    unknown = [c for c in cases if c not in known]
    if unknown:
        print(f"error: unknown case {', '.join(unknown)} (known: {', '.join(known)})", file=sys.stderr)
        return 2
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    available = []
    for peer in peers:
        if peer != "resynth":
            print(f"peer {peer}: not part of the large suite (its output does not tile)")
            continue
        why = bench_set.peer_missing(peer)
        if why:
            print(f"peer {peer}: MISSING — {why}; get it with: {bench_set.GET_PEERS}")
        else:
            available.append(peer)
    rows: list[Row] = []
    for case in cases:
        ref_path = reference_path(case, ref_size, images)
        ref_file = _copy_ref(ref_path, images)
        for size in sizes:
            row = run_case(case, size, ref_path, quality, available, device, images, timeout)
            row.ref_file = ref_file
            rows.append(row)
            for source in SOURCES:
                if source in row.results:
                    r = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.results[source].items() if k != "file"}
                    print(f"  {case} {size}² {source}: {r}", file=sys.stderr, flush=True)
    print(f"\n### Large outputs, ours at --quality {quality}, references {ref_size}² (procedural) / 256² (photographs)\n")
    print(table(rows))
    print()
    for line in summary(rows, ["ours", *available]):
        print(line)
    (out_dir / "results.json").write_text(json.dumps(
        {"quality": quality, "ref_size": ref_size, "rows": [{"case": r.case, "size": r.size, "ref_file": r.ref_file, "results": r.results}
                                                            for r in rows]},
        indent=1))
    sheet = out_dir / "contact_sheet.png"
    contact_sheet(rows, images, sheet, sheet_width)
    print(f"\ncontact sheet: {sheet}\nresults: {out_dir / 'results.json'}")
    failed = [r for r in rows if r.results.get("ours", {}).get("error")]
    return 1 if failed else 0
