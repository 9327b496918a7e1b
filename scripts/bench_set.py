"""Reference-set benchmark: ours against G'MIC and Resynthesizer on ``benchmark/references``.

Every tool runs as a whole process on every reference, in the same run, so time ratios compare
like with like on whatever machine runs it:

- ours: ``python -m texture_addon synth REF -o OUT --size N --quality Q --seed 0 --device D`` —
  the command line, so the figures are those of whatever engine is on the branch;
- G'MIC: ``gmic REF syntexturize_matchpatch N,N -o OUT`` (its output does not tile);
- Resynthesizer: ``gimp-console`` running Script-Fu that calls ``plug-in-resynthesizer`` with
  htile = vtile = 1 (tiles). Its own plug-in time is measured inside GIMP (``gettimeofday``
  around the call) beside the whole process, whose start-up is mostly GIMP loading itself.

Figures per output (see ``texture_addon.evaluation.structure`` and docs/benchmark.md):
structure (mean of fine and coarse; 0 = every large patch occurs in the reference, 1 = like
noise with its histogram), copy share (share of pixels in ≥ 24×24 verbatim copies), and the
engine's own patch figure (multi-scale 7×7 patch sliced Wasserstein ÷ noise floor), which the
engine optimises and so flatters it. Ratios are ours ÷ peer: below 1 favours ours.

With both ``default`` and ``draft`` asked for, it also prints their time ratio twice: as whole
processes, and as jobs sent to one warm worker process (how the add-on runs them; see
:func:`worker_speed`).

Writes ``OUT/contact_sheet.png`` (reference | ours tiled 2×2 | each peer, tiled 2×2 when it
tiles), ``OUT/results.json`` and every output image under ``OUT/images``.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = ROOT / "benchmark" / "references"
PEERS = ("gmic", "resynth")
GET_PEERS = "sudo scripts/get_peers.sh (Debian/Ubuntu: gmic, gimp, and Resynthesizer built from source for GIMP 2.10)"
RESYNTH_PLUGIN_GLOBS = ("/usr/lib/gimp/2.0/plug-ins/resynthesizer*/resynthesizer", "/usr/lib/gimp/2.0/plug-ins/resynthesizer",
                        "/usr/local/lib/gimp/2.0/plug-ins/resynthesizer*/resynthesizer",
                        "~/.config/GIMP/2.10/plug-ins/resynthesizer*/resynthesizer", "~/.config/GIMP/2.10/plug-ins/resynthesizer")


def reference_names() -> list[str]:
    """The set's references in a fixed order: photographs first, then the procedural ones."""
    names = sorted(p.stem for p in REFERENCES.glob("*.png"))
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from make_bench_set import PHOTOS, PROCEDURAL

        order = [n for n in [*PHOTOS, *PROCEDURAL] if n in names]
        return order + [n for n in names if n not in order]
    except ImportError:
        return names


def peer_missing(name: str) -> str | None:
    """Why a peer cannot run here, or None when it can."""
    if name == "gmic":
        return None if shutil.which("gmic") else "gmic not found on PATH"
    if name == "resynth":
        if not shutil.which("gimp-console"):
            return "gimp-console not found on PATH"
        if not any(glob.glob(os.path.expanduser(g)) for g in RESYNTH_PLUGIN_GLOBS):
            return "GIMP's Resynthesizer plug-in not installed (Debian's gimp-plugin-registry does not carry it)"
        return None
    return f"unknown peer {name!r} (known: {', '.join(PEERS)})"


def child_env() -> dict[str, str]:
    return dict(os.environ, OMP_WAIT_POLICY="PASSIVE")


def run_timed(cmd: list[str], timeout: float, cwd: Path | None = None) -> tuple[float, str | None]:
    """Wall time of a whole process, and a one-line error if it failed."""
    seconds, err, _ = run_measured(cmd, timeout, cwd)
    return seconds, err


# Runs argv[2:] and writes its peak RSS (KiB, from wait4) to argv[1]: a process's ru_maxrss also
# counts the memory of the process it was forked from until exec, so the benchmark (torch loaded,
# large images) must not be that process; this small one is.
_PEAK_LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as e:
        print(f"cannot run {sys.argv[2]}: {e.strerror}", file=sys.stderr, flush=True)
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def run_measured(cmd: list[str], timeout: float, cwd: Path | None = None) -> tuple[float, str | None, float | None]:
    """Wall time, a one-line error if it failed, and the peak resident memory (MiB) of that process.

    The peak is that one process's (``wait4`` in a small launcher process: see ``_PEAK_LAUNCHER``);
    the launcher adds a few milliseconds to the wall time.
    """
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        proc = subprocess.Popen([sys.executable, "-c", _PEAK_LAUNCHER, str(peak_file), *cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=child_env(), cwd=cwd, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the process it runs
            proc.communicate()
            return time.perf_counter() - start, f"timed out after {timeout:.0f} s", None
        seconds = time.perf_counter() - start
        peak = int(peak_file.read_text()) / 1024 if peak_file.is_file() else None
    if proc.returncode != 0:
        lines = (stderr or stdout).strip().splitlines()
        return seconds, (lines[-1] if lines else f"exit status {proc.returncode}")[:160], peak
    return seconds, None, peak


def run_ours(ref: Path, out: Path, size: int, quality: str, device: str, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "texture_addon", "synth", str(ref), "-o", str(out), "--size", str(size),
           "--quality", quality, "--seed", "0", "--device", device]
    seconds, err, peak = run_measured(cmd, timeout, cwd=ROOT)
    return {"seconds": seconds, "error": err, "tiles": True, "peak_rss_mib": peak}


def run_gmic(ref: Path, out: Path, size: int, timeout: float) -> dict:
    cmd = ["gmic", "-v", "-1", str(ref), "syntexturize_matchpatch", f"{size},{size}", "-o", str(out)]
    seconds, err = run_timed(cmd, timeout)
    if err is None and not out.is_file():
        err = "gmic wrote no output"
    return {"seconds": seconds, "error": err, "tiles": False}


def _scheme_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_resynth(ref: Path, out: Path, size: int, timeout: float) -> dict:
    """Resynthesizer in tile mode through headless GIMP; also its own plug-in time."""
    times = out.with_suffix(".times")
    r, o, t = _scheme_string(str(ref)), _scheme_string(str(out)), _scheme_string(str(times))
    script = (
        f"(let* ((ref (car (file-png-load RUN-NONINTERACTIVE {r} {r})))"
        f" (corpus (car (gimp-image-get-active-drawable ref)))"
        f" (img (car (gimp-image-new {size} {size} RGB)))"
        f" (layer (car (gimp-layer-new img {size} {size} RGB-IMAGE \"out\" 100 LAYER-MODE-NORMAL)))"
        f" (t0 0) (t1 0))"
        f" (gimp-image-insert-layer img layer 0 0)"
        f" (if (= (car (gimp-drawable-has-alpha corpus)) TRUE) (gimp-layer-flatten corpus))"
        f" (set! t0 (gettimeofday))"
        # vtile htile use-context corpus inmask outmask map-weight autism neighbourhood trys:
        # the defaults of Resynthesizer's own "Render Texture" (tileable) script
        f" (plug-in-resynthesizer RUN-NONINTERACTIVE img layer 1 1 0 corpus -1 -1 0.0 0.117 16 500)"
        f" (set! t1 (gettimeofday))"
        f" (file-png-save RUN-NONINTERACTIVE img layer {o} {o} 0 9 0 0 0 0 0)"
        f" (with-output-to-file {t} (lambda () (write (list t0 t1)))))"
    )
    return {**run_gimp(script, times, out, timeout), "tiles": True}


def run_gimp(script: str, times: Path, out: Path, timeout: float) -> dict:
    """Headless GIMP running ``script``, which writes ``out`` and its plug-in's start and end
    (``gettimeofday`` pairs) to ``times``: whole-process and plug-in seconds, error, peak memory."""
    times.unlink(missing_ok=True)
    cmd = ["gimp-console", "-i", "-d", "-f", "-c", "-b", script, "-b", "(gimp-quit 0)"]
    seconds, err, peak = run_measured(cmd, timeout)
    plugin = None
    if err is None and not out.is_file():
        err = "GIMP wrote no output (plug-in-resynthesizer failed?)"
    if times.is_file():
        nums = [float(v) for v in times.read_text().replace("(", " ").replace(")", " ").split()]
        plugin = (nums[2] + nums[3] / 1e6) - (nums[0] + nums[1] / 1e6)
        times.unlink()
    return {"seconds": seconds, "plugin_seconds": plugin, "error": err, "peak_rss_mib": peak}


def load_rgb01(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255


class PatchFigure:
    """The engine's own quality figure (patch sliced Wasserstein ÷ noise floor), if this engine has it."""

    def __init__(self) -> None:
        try:
            from texture_addon.engine.metrics import noise_like, patch_distance
        except ImportError:
            self.fn = None
        else:
            self.fn = (patch_distance, noise_like)
        self.floors: dict[tuple, float] = {}

    def __call__(self, out: np.ndarray, ref: np.ndarray, ref_key: str, periodic: bool) -> float | None:
        if self.fn is None:
            return None
        patch_distance, noise_like = self.fn
        key = (ref_key, out.shape, periodic)
        if key not in self.floors:
            self.floors[key] = patch_distance(noise_like(ref, *out.shape[:2], seed=0), ref, periodic=periodic)
        return patch_distance(out, ref, periodic=periodic) / self.floors[key]


@dataclass
class Row:
    ref: str
    size: int
    quality: str
    results: dict[str, dict] = field(default_factory=dict)  # tool -> figures


def fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def ratio(a: float | None, b: float | None) -> float | None:
    """a ÷ b; ``inf`` when only b is 0 (a peer that copied the reference exactly)."""
    if a is None or b is None:
        return None
    return (float("inf") if a else 1.0) if b == 0 else a / b


def table(rows: list[Row], tools: list[str]) -> str:
    head = ["reference", "tool", "wall s", "plug-in s", "structure", "fine", "coarse", "copy", "soft", "patch",
            "structure ours÷tool", "time ours÷tool"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        ours = row.results.get("ours", {})
        for tool in tools:
            r = row.results.get(tool)
            if r is None:
                continue
            if r.get("error"):
                lines.append(f"| {row.ref} | {tool} | error: {r['error']} |")
                continue
            peer = tool != "ours"
            t_ref = r.get("plugin_seconds") if tool == "resynth" else r["seconds"]
            cells = [row.ref, tool, fmt(r["seconds"], ".2f"), fmt(r.get("plugin_seconds"), ".2f"),
                     fmt(r["structure"], ".3f"), fmt(r["fine"], ".3f"), fmt(r["coarse"], ".3f"), fmt(r["copy_share"], ".2f"),
                     fmt(r.get("soft"), ".2f"), fmt(r.get("patch"), ".3f"),
                     fmt(ratio(ours.get("structure"), r["structure"]) if peer else None, ".2f"),
                     fmt(ratio(ours.get("seconds"), t_ref) if peer and not ours.get("error") else None, ".2f")]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: list[Row], tools: list[str]) -> list[str]:
    out = []
    for peer in tools:
        if peer == "ours":
            continue
        pairs = [(r.results["ours"], r.results[peer]) for r in rows
                 if not r.results.get("ours", {}).get("error") and peer in r.results and not r.results[peer].get("error")]
        if not pairs:
            continue
        better = sum(o["structure"] <= p["structure"] for o, p in pairs)
        key = "plugin_seconds" if peer == "resynth" else "seconds"
        times = [o["seconds"] / p[key] for o, p in pairs if p.get(key)]
        copy_o = np.mean([o["copy_share"] for o, _ in pairs])
        copy_p = np.mean([p["copy_share"] for _, p in pairs])
        soft_o = np.mean([o.get("soft", np.nan) for o, _ in pairs])
        soft_p = np.mean([p.get("soft", np.nan) for _, p in pairs])
        what = "its plug-in time" if peer == "resynth" else "its whole process"
        out.append(f"vs {peer}: ours ≤ {peer} on the structure figure on {better}/{len(pairs)} references; "
                   f"mean structure ours {np.mean([o['structure'] for o, _ in pairs]):.3f} vs {np.mean([p['structure'] for _, p in pairs]):.3f}; "
                   f"mean copy share ours {copy_o:.2f} vs {copy_p:.2f}; mean soft share ours {soft_o:.2f} vs {soft_p:.2f}; "
                   f"mean time ratio ours (whole process) ÷ {what} {np.mean(times):.2f}× "
                   f"(geometric {np.exp(np.mean(np.log(times))):.2f}×)" if times else "")
    return out


def speed_lines(rows: list[Row]) -> list[str]:
    """Draft vs default and size scaling from the same run (whole processes, ours)."""
    t = {(r.ref, r.size, r.quality): r.results["ours"]["seconds"] for r in rows
         if "ours" in r.results and not r.results["ours"].get("error")}
    out = []
    qualities = sorted({q for _, _, q in t})
    sizes = sorted({s for _, s, _ in t})
    if "default" in qualities and "draft" in qualities:
        for s in sizes:
            rs = [t[(ref, s, "default")] / t[(ref, s, "draft")] for ref, s2, q in t if s2 == s and q == "default" and (ref, s, "draft") in t]
            if rs:
                out.append(f"{s}²: default ÷ draft time {np.mean(rs):.2f}× (mean over {len(rs)} references; target ≥ 3)")
    if len(sizes) > 1:
        base = sizes[0]
        for q in qualities:
            for s in sizes[1:]:
                rs = [t[(ref, s, q)] / t[(ref, base, q)] for ref, s2, q2 in t if s2 == s and q2 == q and (ref, base, q) in t]
                if rs:
                    out.append(f"{q}: {s}² ÷ {base}² time {np.mean(rs):.2f}× for {(s / base) ** 2:.0f}× the pixels "
                               f"(≤ {(s / base) ** 2:.0f}× is at most linear)")
    return out


def worker_speed(refs: list[str], sizes: list[int], device: str, out_dir: Path, timeout: float,
                 reps: int = 2) -> list[str]:
    """Draft vs default as the add-on runs them: jobs sent to one warm worker process.

    Blender keeps its engine process between presses of Generate, so from the second job on an
    artist waits for loading the references, synthesis and writing the files, not for Python and
    torch to start (about 1 s here, more than a third of a 256² whole process). Each job is timed
    from ``start`` to its final message; default and draft alternate, best of ``reps``.
    """
    sys.path.insert(0, str(ROOT))
    from texture_addon.contract.spec import JobSpec, ReferenceSpec
    from texture_addon.worker.blender_side.client import WorkerClient

    client = WorkerClient(python=sys.executable, device=device, idle_timeout=600.0,
                          log_dir=str(out_dir / "worker_logs"))
    staging = out_dir / "worker_jobs"
    staging.mkdir(parents=True, exist_ok=True)

    def job(ref: str, size: int, quality: str) -> float:
        spec = JobSpec(references=[ReferenceSpec(str(REFERENCES / f"{ref}.png"))], output_dir=str(staging),
                       name=f"{ref}_{size}_{quality}", width=size, height=size, quality=quality, device=device)
        start = time.perf_counter()
        final = client.start(spec).wait(timeout)
        if final.get("type") != "result":
            raise RuntimeError(f"worker job {ref} {size}² {quality}: {final}")
        return time.perf_counter() - start

    lines = []
    try:
        job(refs[0], 64, "draft")  # the first job starts the process; not timed
        for size in sizes:
            ratios, best = [], {}
            for ref in refs:
                times: dict[str, list[float]] = {"default": [], "draft": []}
                for _ in range(reps):
                    for quality in ("default", "draft"):
                        times[quality].append(job(ref, size, quality))
                best[ref] = {q: min(v) for q, v in times.items()}
                ratios.append(best[ref]["default"] / best[ref]["draft"])
            each = ", ".join(f"{r} {b['default']:.2f} s / {b['draft']:.2f} s" for r, b in best.items())
            lines.append(f"{size}²: default ÷ draft time {np.mean(ratios):.2f}× through the worker "
                         f"(default / draft: {each}; target ≥ 3)")
    finally:
        client.shutdown()
    return lines


LABEL = 40  # px above each picture: up to three short lines (pillow's default font)


def _label(img: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + LABEL), "white")
    out.paste(img, (0, LABEL))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(text.splitlines()):
        draw.text((2, 2 + 12 * i), line, fill="black")
    return out


def contact_sheet(rows: list[Row], tools: list[str], images: Path, path: Path, scale: float = 1.0) -> None:
    """One row per reference and size: reference | ours 2×2 | each peer (2×2 when it tiles).

    ``scale`` shrinks the pictures, not the labels (a small sheet for docs stays readable).
    """

    def sized(img: Image.Image) -> Image.Image:
        if scale == 1.0:
            return img
        return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)

    strips = []
    for row in rows:
        if row.quality != rows[0].quality or row.size != rows[0].size:
            continue  # one sheet row per reference: the first size and quality of the run
        cells = [_label(sized(Image.open(REFERENCES / f"{row.ref}.png").convert("RGB")), f"{row.ref}\n(reference)")]
        for tool in tools:
            r = row.results.get(tool)
            p = images / f"{row.ref}_{row.size}_{row.quality}_{tool}.png"
            if r is None or r.get("error") or not p.is_file():
                continue
            img = Image.open(p).convert("RGB")
            if r["tiles"]:
                tiled = Image.new("RGB", (img.width * 2, img.height * 2))
                for dy in (0, 1):
                    for dx in (0, 1):
                        tiled.paste(img, (dx * img.width, dy * img.height))
                img, note = tiled, "2x2 tiled"
            else:
                note = "no tiling"
            soft = f"  soft {r['soft']:.2f}" if r.get("soft") is not None else ""
            cells.append(_label(sized(img), f"{tool}, {note}\nstructure {r['structure']:.3f}\ncopy {r['copy_share']:.2f}{soft}"))
        strips.append(sheet_strip(cells))
    save_sheet(strips, path)


def sheet_strip(cells: list) -> "Image.Image":
    """One row of the contact sheet: labelled cells side by side, 8 px apart."""
    h = max(c.height for c in cells)
    strip = Image.new("RGB", (sum(c.width for c in cells) + 8 * (len(cells) - 1), h), "white")
    x = 0
    for c in cells:
        strip.paste(c, (x, 0))
        x += c.width + 8
    return strip


def save_sheet(strips: list, path: Path) -> None:
    """Rows stacked into one PNG, written atomically (nothing when there are no rows)."""
    if not strips:
        return
    sheet = Image.new("RGB", (max(s.width for s in strips), sum(s.height + 8 for s in strips)), "white")
    y = 0
    for s in strips:
        sheet.paste(s, (0, y))
        y += s.height + 8
    tmp = path.with_name(path.name + ".tmp.png")
    sheet.save(tmp, optimize=True)
    os.replace(tmp, path)


def sheet_from_results(out_dir: Path, path: Path, scale: float) -> int:
    """Redraw the contact sheet of an earlier run from its results.json and images."""
    if not (out_dir / "results.json").is_file():
        print(f"error: no results.json in {out_dir}: run the benchmark with --out {out_dir} first", file=sys.stderr)
        return 2
    data = json.loads((out_dir / "results.json").read_text())
    rows = [Row(d["ref"], d["size"], d["quality"], d["results"]) for d in data]
    tools = list(dict.fromkeys(t for r in rows for t in r.results))
    contact_sheet(rows, tools, out_dir / "images", path, scale)
    print(f"contact sheet: {path}")
    return 0


def available_peers(peers: list[str]) -> list[str]:
    """The peers installed here; each missing one is named with the reason and how to get it."""
    available = []
    for peer in peers:
        why = peer_missing(peer)
        if why:
            print(f"peer {peer}: MISSING — {why}; get it with: {GET_PEERS}")
        else:
            available.append(peer)
    return available


def run_tool(tool: str, ref_path: Path, out: Path, size: int, quality: str, device: str, timeout: float) -> dict:
    """One tool's synthesis of ``ref_path`` into ``out`` as a whole process (any earlier file removed first)."""
    out.unlink(missing_ok=True)
    if tool == "ours":
        return run_ours(ref_path, out, size, quality, device, timeout)
    if tool == "gmic":
        return run_gmic(ref_path, out, size, timeout)
    return run_resynth(ref_path, out, size, timeout)


def bench_reference(ref_name: str, sizes: list[int], qualities: list[str], tools: list[str], device: str,
                    images: Path, timeout: float, judge_type: type, patch_figure: PatchFigure) -> list[Row]:
    """Every tool on one reference, at every size and quality, scored; one Row per size and quality.

    ``judge_type`` is the structure judge (StructureJudge), built once on the reference. Peers
    have no quality setting, so they run once per size and their result (and file) is reused for the
    other qualities.
    """
    ref_path = REFERENCES / f"{ref_name}.png"
    ref = load_rgb01(ref_path)
    judge = judge_type(ref)
    rows = []
    for size in sizes:
        peer_results: dict[str, dict] = {}
        for quality in qualities:
            row = Row(ref_name, size, quality)
            for tool in tools:
                out = images / f"{ref_name}_{size}_{quality}_{tool}.png"
                if tool != "ours" and tool in peer_results:
                    row.results[tool] = peer_results[tool]
                    if not out.is_file() and (images / peer_results[tool]["file"]).is_file():
                        shutil.copyfile(images / peer_results[tool]["file"], out)
                    continue
                r = run_tool(tool, ref_path, out, size, quality, device, timeout)
                if not r["error"]:
                    img = load_rgb01(out)
                    r.update(judge.score(img, periodic=r["tiles"]).as_dict())
                    r["patch"] = patch_figure(img, ref, ref_name, r["tiles"])
                r["file"] = out.name
                row.results[tool] = r
                if tool != "ours":
                    peer_results[tool] = r
                short = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "file"}
                print(f"  {ref_name} {size}² {quality} {tool}: {short}", file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def print_report(rows: list[Row], tools: list[str], refs: list[str], sizes: list[int], qualities: list[str],
                 device: str, out_dir: Path, timeout: float) -> None:
    """The tables and summaries per size and quality, the speed lines (and the warm worker's, when
    both default and draft ran)."""
    for size in sizes:
        for quality in qualities:
            group = [r for r in rows if r.size == size and r.quality == quality]
            print(f"\n### {size}², ours at --quality {quality}\n")
            print(table(group, tools))
            print()
            for line in summary(group, tools):
                print(line)
    speed = speed_lines(rows)
    if speed:
        print("\nSpeed (ours, whole processes, same run):")
        for line in speed:
            print("  " + line)
    if "default" in qualities and "draft" in qualities:
        print("\nSpeed (ours, jobs sent to one warm worker process, as the add-on runs them):")
        for line in worker_speed(refs, sizes, device, out_dir, timeout):
            print("  " + line)


def run(refs: list[str], sizes: list[int], qualities: list[str], peers: list[str], device: str, out_dir: Path,
        timeout: float, sheet_scale: float = 1.0) -> int:
    """Run the set benchmark and print its tables; returns the process exit status."""
    sys.path.insert(0, str(ROOT))
    from texture_addon.evaluation import StructureJudge

    unknown = [r for r in refs if not (REFERENCES / f"{r}.png").is_file()]
    if unknown:
        print(f"error: no such reference in {REFERENCES.relative_to(ROOT)}: {', '.join(unknown)}", file=sys.stderr)
        return 2
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    tools = ["ours", *available_peers(peers)]
    patch_figure = PatchFigure()
    rows: list[Row] = []
    for ref_name in refs:
        rows += bench_reference(ref_name, sizes, qualities, tools, device, images, timeout, StructureJudge, patch_figure)
    print_report(rows, tools, refs, sizes, qualities, device, out_dir, timeout)
    sheet = out_dir / "contact_sheet.png"
    contact_sheet(rows, tools, images, sheet, sheet_scale)
    (out_dir / "results.json").write_text(json.dumps(
        [{"ref": r.ref, "size": r.size, "quality": r.quality, "results": r.results} for r in rows], indent=1))
    print(f"\ncontact sheet: {sheet}\nresults: {out_dir / 'results.json'}")
    failed = [r for r in rows if r.results.get("ours", {}).get("error")]
    return 1 if failed else 0

