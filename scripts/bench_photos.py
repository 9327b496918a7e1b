"""``bench.py --suite photo``: preparing photographs (flatten, straighten, heal) against a known truth.

Every case starts from a clean benchmark reference (256²), spoils it in a way whose truth is known,
and measures how well the preparation step undoes it:

- **Flatten**: a smooth light (a horizontal ramp times a vignette) and the same light with a hard
  diagonal cast shadow (× 0.35). Figure: mean |log-luminance − its mean| of the prepared photo
  against the clean texture's (0 = the light is gone, the surface kept), for ours and for a
  plain Gaussian high-pass of log-luminance. Then the structure figure of a 256² texture
  synthesised from the lit photo with ``--flatten``, from the lit photo as it is and from the clean
  texture, each judged against the clean texture after one global gain per channel to its mean
  (exposure is not light that flattening can remove).
- **Straighten**: a 128² crop seen at 256² through a known homography (rendered with 6×6 samples per
  pixel), rectified back with the true corners; mean absolute error against the crop for ours and for
  an exact bilinear inverse warp of the same photo.
- **Heal**: objects pasted on the texture with their masks (a 60-px disc, a 4-px cable across the
  image, a large blob, a disc cut by the image's border). Ours (``python -m texture_addon heal``) and
  Resynthesizer's *Heal selection* (its Python-Fu script needs a Python GIMP lacks here, so the same
  steps run in Script-Fu: a 50-px ring around the selection as the corpus, random order, the
  script's parameters) run as whole processes on the same files. Figures: share of the mask left in
  the object's colours, whether every pixel outside the mask is unchanged, the structure figure of
  64² windows centred on the mask (against the clean texture, which scores 0), whole-process time and Resynthesizer's own plug-in time. One 2048² case (a 5 % mask)
  for time.

Writes ``OUT/photo_sheet.png`` (photo | ours | Resynthesizer, the heal cases), ``OUT/results.json``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_set  # noqa: E402
from texture_addon.evaluation.structure import StructureJudge  # noqa: E402
from texture_addon.references.prepare.flatten import flatten, gaussian_high_pass, log_luminance  # noqa: E402
from texture_addon.references.prepare.straighten import homography, straighten  # noqa: E402

REFERENCES = ROOT / "benchmark" / "references"
FLATTEN_REFS = ("gravel", "brick", "grass", "cells", "wood")
STRAIGHTEN_REFS = ("brick", "tiles", "weave")
HEAL_REFS = ("gravel", "brick", "grass", "wood", "tiles", "dots")
MASKS = ("disc", "cable", "blob", "border")
OBJECT = np.array([0.85, 0.1, 0.8], np.float32)  # a magenta no benchmark reference contains
WINDOW = 64


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(REFERENCES / f"{name}.png").convert("RGB"), np.float32) / 255


def save(a: np.ndarray, path: Path) -> None:
    img = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(img if img.ndim == 3 else img, "RGB" if img.ndim == 3 else "L").save(path)


# ---------------------------------------------------------------- flatten

def lights(n: int) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / (n - 1)
    r2 = (xx - 0.5) ** 2 + (yy - 0.5) ** 2
    smooth = (0.3 + 0.7 * xx) * (1 - 0.4 * r2 / 0.5)
    shadow = smooth * np.where(xx + 0.6 * yy > 0.75, 1.0, 0.35)
    return {"smooth": smooth.astype(np.float32), "shadow": shadow.astype(np.float32)}


def light_left(prepared: np.ndarray, clean: np.ndarray) -> float:
    a, b = log_luminance(prepared), log_luminance(clean)
    return float(np.abs((a - a.mean()) - (b - b.mean())).mean())


def synth_structure(photo: np.ndarray, clean: np.ndarray, judge: StructureJudge, flat: bool, tmp: Path) -> float:
    src, out = tmp / "lit.png", tmp / "out.png"
    save(photo, src)
    cmd = [sys.executable, "-m", "texture_addon", "synth", str(src), "-o", str(out), "--size", "256", "--seed", "0"]
    _, err = bench_set.run_timed(cmd + (["--flatten"] if flat else []), 600, cwd=ROOT)
    if err:
        raise RuntimeError(err)
    img = np.asarray(Image.open(out).convert("RGB"), np.float32) / 255
    # One global gain per channel to the clean texture's mean: a photo's exposure is not what
    # flattening can or should restore, and the structure figure's L2 would count it as structure.
    img = np.clip(img * clean.mean(axis=(0, 1)) / np.maximum(img.mean(axis=(0, 1)), 1e-6), 0, 1)
    return judge.score((img * 255).round().astype(np.uint8), periodic=True).structure


def flatten_rows(tmp: Path) -> list[dict]:
    rows = []
    for name in FLATTEN_REFS:
        clean = load(name)
        judge = StructureJudge(clean)
        row = {"ref": name}
        for kind, light in lights(clean.shape[0]).items():
            lit = np.clip(clean * light[..., None], 0, 1)
            sigma = (0.12 if kind == "smooth" else 0.06) * clean.shape[0]
            row[kind] = {"ours": light_left(flatten(lit), clean), "high_pass": light_left(gaussian_high_pass(lit, sigma), clean),
                         "untouched": light_left(lit, clean)}
        lit = np.clip(clean * lights(clean.shape[0])["smooth"][..., None], 0, 1)
        row["synth"] = {"clean": synth_structure(clean, clean, judge, False, tmp),
                        "lit": synth_structure(lit, clean, judge, False, tmp),
                        "lit_flatten": synth_structure(lit, clean, judge, True, tmp)}
        rows.append(row)
        print(f"  flatten {name}: {json.dumps(row)}", file=sys.stderr, flush=True)
    return rows


# ---------------------------------------------------------------- straighten

def bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``img`` at continuous pixel positions (pixel centres at +0.5)."""
    h, w = img.shape[:2]
    x, y = np.clip(x - 0.5, 0, w - 1), np.clip(y - 0.5, 0, h - 1)
    x0, y0 = np.minimum(x.astype(int), w - 2), np.minimum(y.astype(int), h - 2)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    return ((1 - fy) * ((1 - fx) * img[y0, x0] + fx * img[y0, x0 + 1]) + fy * ((1 - fx) * img[y0 + 1, x0] + fx * img[y0 + 1, x0 + 1]))


def through_homography(crop: np.ndarray, corners: np.ndarray, n: int, samples: int = 6) -> np.ndarray:
    """The photo of ``crop`` whose corners land on ``corners`` in an n×n photo (box-filtered)."""
    s = crop.shape[0]
    hm = homography(corners, np.array([[0, 0], [s, 0], [s, s], [0, s]], np.float64))  # photo → crop
    acc = np.zeros((n, n, 3), np.float64)
    for j in range(samples):
        for i in range(samples):
            yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
            px, py = xx + (i + 0.5) / samples, yy + (j + 0.5) / samples
            d = hm[2, 0] * px + hm[2, 1] * py + hm[2, 2]
            u, v = (hm[0, 0] * px + hm[0, 1] * py + hm[0, 2]) / d, (hm[1, 0] * px + hm[1, 1] * py + hm[1, 2]) / d
            acc += bilinear(crop, np.mod(u, s), np.mod(v, s))
    return (acc / samples**2).astype(np.float32)


CORNERS = np.array([[40.0, 30.0], [215.0, 50.0], [235.0, 225.0], [20.0, 200.0]])


def straighten_case(crop: np.ndarray) -> dict:
    """Errors of ours and of an exact bilinear inverse warp, ``crop`` seen through :data:`CORNERS`."""
    s = crop.shape[0]
    photo = through_homography(crop, CORNERS, 256)
    ours = straighten(photo, CORNERS, (s, s))
    hm = homography(np.array([[0, 0], [s, 0], [s, s], [0, s]], np.float64), CORNERS)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64) + 0.5
    d = hm[2, 0] * xx + hm[2, 1] * yy + hm[2, 2]
    x, y = (hm[0, 0] * xx + hm[0, 1] * yy + hm[0, 2]) / d, (hm[1, 0] * xx + hm[1, 1] * yy + hm[1, 2]) / d
    exact = bilinear(photo, x, y)
    inner = np.s_[4:-4, 4:-4]  # the crop's border is not in the photo's interior samples alike
    return {"ours": float(np.abs(ours - crop)[inner].mean()), "bilinear": float(np.abs(exact - crop)[inner].mean())}


def straighten_rows() -> list[dict]:
    rows = []
    for name in STRAIGHTEN_REFS:
        rows.append({"ref": name, **straighten_case(load(name)[:128, :128])})
        print(f"  straighten {name}: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


# ---------------------------------------------------------------- heal

def mask_of(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    if kind == "disc":
        return np.hypot(xx - 0.55 * n, yy - 0.45 * n) < 30 * n / 256
    if kind == "border":
        return np.hypot(xx - 0.02 * n, yy - 0.6 * n) < 34 * n / 256
    if kind == "cable":
        path = 0.5 * n + 0.18 * n * np.sin(2 * np.pi * xx / n * 1.3 + 0.7)
        return np.abs(yy - path) < 2.5 * n / 256
    # blob: a union of discs, about a sixth of the image
    m = np.zeros((n, n), bool)
    cy, cx = 0.5 * n, 0.45 * n
    for _ in range(9):
        r = rng.uniform(0.07, 0.12) * n
        m |= np.hypot(xx - cx - rng.uniform(-0.15, 0.15) * n, yy - cy - rng.uniform(-0.15, 0.15) * n) < r
    return m


def with_object(clean: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The object: magenta with its own grain and shading, exactly inside the mask."""
    grain = rng.uniform(0.75, 1.0, mask.shape).astype(np.float32)[..., None]
    photo = clean.copy()
    photo[mask] = (OBJECT * grain)[mask]
    return photo


def object_share(img: np.ndarray, mask: np.ndarray) -> float:
    """Share of the mask's pixels whose colour is the object's (magenta: red and blue far above green)."""
    px = img[mask]
    magenta = (np.minimum(px[:, 0], px[:, 2]) - px[:, 1]) > 0.35
    return float(magenta.mean())


def window_structure(img: np.ndarray, mask: np.ndarray, judge: StructureJudge, count: int = 6) -> float:
    """Mean structure figure of ``count`` 64² windows centred on mask pixels spread along the mask."""
    n = img.shape[0]
    ys, xs = np.nonzero(mask)
    order = np.argsort(xs * n + ys)
    picks = order[np.linspace(0, len(order) - 1, count).round().astype(int)]
    scores = []
    for k in picks:
        y0 = int(np.clip(ys[k] - WINDOW // 2, 0, n - WINDOW))
        x0 = int(np.clip(xs[k] - WINDOW // 2, 0, n - WINDOW))
        win = np.ascontiguousarray(img[y0:y0 + WINDOW, x0:x0 + WINDOW])
        scores.append(judge.score((win * 255).round().astype(np.uint8), periodic=False).structure)
    return float(np.mean(scores))


def resynth_heal(photo: Path, mask: Path, out: Path, timeout: float) -> dict:
    """Resynthesizer's Heal selection (all around, 50-px ring, random order) in Script-Fu."""
    times = out.with_suffix(".times")
    p, m, o, t = (bench_set._scheme_string(str(x)) for x in (photo, mask, out, times))
    script = (
        f"(let* ((img (car (file-png-load RUN-NONINTERACTIVE {p} {p})))"
        f" (layer (car (gimp-image-get-active-drawable img)))"
        f" (ml (car (gimp-file-load-layer RUN-NONINTERACTIVE img {m})))"
        f" (tmp 0) (work 0) (org 0) (b 0) (t0 0) (t1 0))"
        f" (gimp-image-insert-layer img ml 0 -1)"
        f" (gimp-context-set-sample-threshold 0.5)"
        f" (gimp-image-select-color img CHANNEL-OP-REPLACE ml '(255 255 255))"
        f" (gimp-image-remove-layer img ml)"
        f" (if (= (car (gimp-drawable-has-alpha layer)) TRUE) (gimp-layer-flatten layer))"
        f" (set! t0 (gettimeofday))"
        f" (set! tmp (car (gimp-image-duplicate img)))"
        f" (set! work (car (gimp-image-get-active-drawable tmp)))"
        f" (set! org (car (gimp-selection-save tmp)))"
        f" (gimp-selection-grow tmp 50)"
        f" (set! b (gimp-selection-bounds tmp))"
        f" (gimp-image-select-item tmp CHANNEL-OP-SUBTRACT org)"
        f" (gimp-image-crop tmp (- (nth 3 b) (nth 1 b)) (- (nth 4 b) (nth 2 b)) (nth 1 b) (nth 2 b))"
        f" (plug-in-resynthesizer RUN-NONINTERACTIVE img layer 0 0 1 work -1 -1 0.0 0.117 16 500)"
        f" (set! t1 (gettimeofday))"
        f" (gimp-selection-none img)"
        f" (file-png-save RUN-NONINTERACTIVE img layer {o} {o} 0 9 0 0 0 0 0)"
        f" (with-output-to-file {t} (lambda () (write (list t0 t1)))))"
    )
    return bench_set.run_gimp(script, times, out, timeout)


def ours_heal(photo: Path, mask: Path, out: Path, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "texture_addon", "heal", str(photo), "--mask", str(mask), "-o", str(out)]
    seconds, err = bench_set.run_timed(cmd, timeout, cwd=ROOT)
    return {"seconds": seconds, "error": err}


def judge_heal(result: dict, out: Path, photo: np.ndarray, mask: np.ndarray, judge: StructureJudge) -> None:
    if result["error"] or not out.is_file():
        return
    img = np.asarray(Image.open(out).convert("RGB"), np.float32) / 255
    src = (np.round(photo * 255)).astype(np.uint8)
    result["outside_identical"] = bool((np.asarray(Image.open(out).convert("RGB"))[~mask] == src[~mask]).all())
    result["object_share"] = object_share(img, mask)
    result["structure"] = window_structure(img, mask, judge)


def heal_rows(images: Path, peers: list[str], timeout: float, big: bool) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    cases = [(name, kind, 256) for name in HEAL_REFS for kind in MASKS]
    if big:
        cases.append(("gravel", "disc2048", 2048))
    for name, kind, n in cases:
        clean = load(name)
        if n != clean.shape[0]:
            clean = np.tile(clean, (n // clean.shape[0], n // clean.shape[1], 1))
        mask = mask_of(kind.replace("2048", ""), n, rng)
        if kind == "disc2048":  # a 5 % mask: a disc of radius 0.126 n
            yy, xx = np.mgrid[0:n, 0:n]
            mask = np.hypot(xx - 0.55 * n, yy - 0.45 * n) < 0.126 * n
        photo = with_object(clean, mask, rng)
        stem = f"{name}_{kind}"
        photo_p, mask_p = images / f"{stem}_photo.png", images / f"{stem}_mask.png"
        save(photo, photo_p)
        Image.fromarray((mask * 255).astype(np.uint8), "L").save(mask_p)
        photo = np.asarray(Image.open(photo_p).convert("RGB"), np.float32) / 255
        judge = StructureJudge(clean) if n == 256 else None  # the 2048² case is for time only
        row = {"ref": name, "mask": kind, "size": n, "mask_share": float(mask.mean())}
        tools = {"ours": ours_heal, **({"resynth": resynth_heal} if "resynth" in peers else {})}
        for tool, fn in tools.items():
            out = images / f"{stem}_{tool}.png"
            out.unlink(missing_ok=True)
            row[tool] = fn(photo_p, mask_p, out, timeout)
            if n == 256:
                judge_heal(row[tool], out, photo, mask, judge)
        rows.append(row)
        print(f"  heal {stem}: {json.dumps(row)}", file=sys.stderr, flush=True)
    return rows


# ---------------------------------------------------------------- report

def f(v, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def print_tables(flat: list[dict], straight: list[dict], heal: list[dict]) -> None:
    print("\nFlatten: light left (mean |log-lum − mean| against the clean texture's)")
    print("| reference | smooth: ours | smooth: high-pass | shadow: ours | shadow: high-pass | untouched | "
          "synth structure clean / lit / lit + --flatten |")
    print("|---|---|---|---|---|---|---|")
    for r in flat:
        s = r["synth"]
        print(f"| {r['ref']} | {f(r['smooth']['ours'])} | {f(r['smooth']['high_pass'])} | {f(r['shadow']['ours'])} | "
              f"{f(r['shadow']['high_pass'])} | {f(r['smooth']['untouched'], '.2f')} / {f(r['shadow']['untouched'], '.2f')} | "
              f"{f(s['clean'])} / {f(s['lit'])} / {f(s['lit_flatten'])} |")
    if flat:
        m = {k: np.mean([r[a][b] for r in flat]) for k, (a, b) in
             {"so": ("smooth", "ours"), "sh": ("smooth", "high_pass"), "ho": ("shadow", "ours"), "hh": ("shadow", "high_pass")}.items()}
        gain = np.mean([r["synth"]["lit_flatten"] / r["synth"]["clean"] for r in flat])
        print(f"| mean | {m['so']:.3f} | {m['sh']:.3f} | {m['ho']:.3f} | {m['hh']:.3f} | | "
              f"lit + --flatten ÷ clean {gain:.2f} |")
    print("\nStraighten: mean absolute error against the truth")
    print("| reference | ours | exact bilinear inverse | ratio |")
    print("|---|---|---|---|")
    for r in straight:
        print(f"| {r['ref']} | {r['ours']:.4f} | {r['bilinear']:.4f} | {r['ours'] / r['bilinear']:.2f}× |")
    print("\nHeal: object left in the mask, outside unchanged, structure of 64² windows on the mask, whole-process seconds (Resynthesizer's plug-in alone)")
    print("| case | mask share | ours: object | ours: outside same | ours: structure | resynth: object | "
          "resynth: outside same | resynth: structure | ours s | resynth s (plug-in) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in heal:
        o, p = r["ours"], r.get("resynth", {})
        print(f"| {r['ref']} {r['mask']} {r['size']}² | {r['mask_share']:.3f} | {f(o.get('object_share'))} | "
              f"{o.get('outside_identical', '—')} | {f(o.get('structure'))} | {f(p.get('object_share'))} | "
              f"{p.get('outside_identical', '—')} | {f(p.get('structure'))} | "
              f"{f(o.get('seconds'), '.2f')} | {f(p.get('seconds'), '.2f')} ({f(p.get('plugin_seconds'), '.2f')}) |")
        for tool, res in (("ours", o), ("resynth", p)):
            if res.get("error"):
                print(f"  {tool} failed on {r['ref']} {r['mask']}: {res['error']}")
    both = [r for r in heal if r["size"] == 256 and "structure" in r["ours"] and "structure" in r.get("resynth", {})]
    if both:
        wins = sum(r["ours"]["structure"] <= r["resynth"]["structure"] for r in both)
        print(f"\nHeal structure: ours ≤ Resynthesizer on {wins} of {len(both)} cases; mean "
              f"{np.mean([r['ours']['structure'] for r in both]):.3f} against {np.mean([r['resynth']['structure'] for r in both]):.3f}")


def contact_sheet(heal: list[dict], images: Path, path: Path) -> None:
    strips = []
    for r in heal:
        if r["size"] != 256:
            continue
        stem = f"{r['ref']}_{r['mask']}"
        cells = [bench_set._label(Image.open(images / f"{stem}_photo.png").convert("RGB"), f"{stem}\n(photo)")]
        for tool in ("ours", "resynth"):
            p = images / f"{stem}_{tool}.png"
            if p.is_file() and not r.get(tool, {}).get("error"):
                cells.append(bench_set._label(Image.open(p).convert("RGB"), f"{tool}\nstructure {f(r[tool].get('structure'))}"))
        strips.append(bench_set.sheet_strip(cells))
    bench_set.save_sheet(strips, path)


def run(out: Path, peers: list[str], timeout: float, big: bool = True) -> int:
    for peer in peers:
        missing = bench_set.peer_missing(peer)
        if missing:
            print(f"{peer}: {missing}; install with {bench_set.GET_PEERS}, or pass --peers none", file=sys.stderr)
            return 2
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        flat = flatten_rows(Path(tmp))
    straight = straighten_rows()
    heal = heal_rows(images, peers, timeout, big)
    (out / "results.json").write_text(json.dumps({"flatten": flat, "straighten": straight, "heal": heal}, indent=1))
    contact_sheet(heal, images, out / "photo_sheet.png")
    print_tables(flat, straight, heal)
    print(f"\n({time.perf_counter() - t0:.0f} s; sheet {out / 'photo_sheet.png'})")
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "out" / "bench_photos"), ["resynth"], 900))
