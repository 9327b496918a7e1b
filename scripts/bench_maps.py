"""``bench.py --suite maps``: maps from a photo against a known truth (numpy and Cycles renders).

Each case is a height field (px units), an albedo and a roughness, lit from the upper left (135°,
45° up) plus ambient sky: by numpy (Lambert, always) and by a real Blender's Cycles
(scripts/maps_truth_blender.py: Principled BSDF, bump from the height, so the roughness shapes the
specular) when ``scripts/get_blender.sh`` gives one; Cycles renders are cached under
``~/.cache/texture-forge/maps_truth``. Figures: cosine of the true vs the normal map's implied height gradient, correlation of
the height map with the true height band-passed alike, correlation of base colour ÷ true albedo with
the true shading (0 = no light left in the base colour), for today's method and the older heuristic.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from texture_addon.engine import derive_maps
from texture_addon.engine.pbr import WrapFilter, decode_normals, height_map

LIGHT, ELEVATION, SIDE = 135.0, 45.0, 256


def shade(height: np.ndarray, angle: float) -> np.ndarray:
    """Wrap-around Lambert shading (plus sky) of ``height`` lit from ``angle`` (0° right, 90° top)."""
    gr = (np.roll(height, -1, 0) - np.roll(height, 1, 0)) / 2
    gc = (np.roll(height, -1, 1) - np.roll(height, 1, 1)) / 2
    a, e = np.radians(angle), np.radians(ELEVATION)
    nx, ny = -gc, gr
    s = (nx * np.cos(e) * np.cos(a) + ny * np.cos(e) * np.sin(a) + np.sin(e)) / np.sqrt(nx**2 + ny**2 + 1)
    return 0.75 * np.clip(s, 0, None) + 0.25


def roughness_truth(name: str, h: np.ndarray) -> np.ndarray:
    """A known roughness per case for the Cycles renders: rough where low (grit in the gaps, mortar,
    dents), with a per-case base, so a map that reads cavities gets it and one that reads colour not."""
    low = 1.0 - (h - h.min()) / max(float(h.max() - h.min()), 1e-9)
    base = {"stones": 0.35, "bricks": 0.45, "ridges": 0.3, "dents": 0.25}[name]
    return np.clip(base + 0.5 * low, 0, 1).astype(np.float32)


def cycles_photo(name: str, h: np.ndarray, albedo: np.ndarray, rough: np.ndarray) -> np.ndarray | None:
    """The Cycles render of a case (cached by content), or None when no real Blender is to be had."""
    buf = io.BytesIO()
    np.savez(buf, height=h.astype(np.float32), albedo=np.ascontiguousarray(albedo, np.float32),
             roughness=rough, light=np.array([LIGHT, ELEVATION]))
    script = ROOT / "scripts" / "maps_truth_blender.py"
    key = hashlib.sha1(buf.getvalue() + script.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "texture-forge" / "maps_truth"
    hit = cache / f"{name}-{key}.npy"
    if hit.is_file():
        return np.load(hit)
    got = subprocess.run(["bash", str(ROOT / "scripts" / "get_blender.sh")], capture_output=True, text=True)
    if got.returncode != 0:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.npz", Path(tmp) / "out.npy"
        src.write_bytes(buf.getvalue())
        run = subprocess.run([got.stdout.strip().splitlines()[-1], "-b", "--factory-startup", "--python-exit-code", "1",
                              "-P", str(script), "--", str(src), str(out)], capture_output=True, text=True)
        if run.returncode != 0 or not out.is_file():
            sys.stderr.write(f"Cycles render of {name} failed: {run.stderr.strip().splitlines()[-1:]}\n")
            return None
        os.replace(out, hit)
    return np.load(hit)


def cases(n: int = SIDE) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    # stones: Voronoi cells, domed, each its own colour, dark gaps
    pts = rng.uniform(0, n, (40, 2))
    d = np.stack([np.hypot(((yy - py + n / 2) % n) - n / 2, ((xx - px + n / 2) % n) - n / 2) for py, px in pts])
    order = np.sort(d, 0)
    cell = d.argmin(0)
    gap = order[1] - order[0]
    stones_h = 12 * np.sqrt(np.clip(gap / 20, 0, 1))
    cols = rng.uniform(0.25, 0.8, (40, 3))
    stones_a = cols[cell] * np.where(gap < 2, 0.6, 1.0)[..., None]
    # bricks: raised bricks, lighter and lower mortar
    bh, bw, m = 32, 64, 6
    row = (yy // bh).astype(int)
    xo = (xx + (row % 2) * bw / 2) % bw
    dist = np.minimum(np.minimum(yy % bh, bh - yy % bh), np.minimum(xo, bw - xo))
    bricks_h = 4 * np.clip((dist - m / 2) / 3, 0, 1)
    brick_col = rng.uniform(0.8, 1.1, (n // bh + 1, 1)) * np.array([0.55, 0.22, 0.14])
    bricks_a = np.where((dist < m / 2 + 1)[..., None], [0.8, 0.78, 0.72], brick_col[row])
    # wavy ridges: diagonal sinusoids on a plain surface
    w = 2 * np.pi / n
    ridges_h = 6 * np.sin(w * (6 * xx + 3 * yy) + 1.5 * np.sin(w * 2 * yy))
    ridges_a = np.broadcast_to([0.6, 0.55, 0.5], (n, n, 3))
    # dents in a plain sheet
    dents_h = np.zeros((n, n))
    for py, px, r in zip(rng.uniform(0, n, 14), rng.uniform(0, n, 14), rng.uniform(8, 24, 14)):
        rr = np.hypot(((yy - py + n / 2) % n) - n / 2, ((xx - px + n / 2) % n) - n / 2)
        dents_h -= 0.5 * r * np.clip(1 - (rr / r) ** 2, 0, None)
    dents_a = np.broadcast_to([0.7, 0.72, 0.75], (n, n, 3))
    return {"stones": (stones_h, stones_a), "bricks": (bricks_h, bricks_a),
            "ridges": (ridges_h, ridges_a), "dents": (dents_h, dents_a)}


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / max(np.sqrt((a @ a) * (b @ b)), 1e-12))


def figures(maps: dict, h: np.ndarray, albedo: np.ndarray, shading: np.ndarray) -> tuple[float, float, float, float]:
    n = decode_normals(maps["normal"])
    gr = (np.roll(h, -1, 0) - np.roll(h, 1, 0)) / 2
    gc = (np.roll(h, -1, 1) - np.roll(h, 1, 1)) / 2
    true = np.stack([gc, -gr], -1)                     # ∂h/∂x, ∂h/∂y (y up)
    implied = np.stack([-n[..., 0], -n[..., 1]], -1) / n[..., 2:3]
    cos = float((true * implied).sum() / np.sqrt((true**2).sum() * (implied**2).sum()))
    filt = WrapFilter(*h.shape, (True, True))
    band = height_map(torch.from_numpy(h.astype(np.float32)), filt).numpy()
    hc = corr(maps["height"], band)
    ratio = maps["basecolor"].mean(-1) / np.maximum(albedo.mean(-1), 1e-3)
    return cos, hc, corr(ratio, shading), corr(maps["ao"], sky_visibility(h))


def sky_visibility(h: np.ndarray, reach: int = 24, directions: int = 16) -> np.ndarray:
    """Fraction of a uniform sky each point of ``h`` (px units, wrap-around) sees: 1 − mean sin of
    the horizon's elevation over ``directions`` azimuths out to ``reach`` px (the true AO)."""
    occluded = np.zeros_like(h)
    for k in range(directions):
        a = 2 * np.pi * k / directions
        horizon = np.zeros_like(h)
        for r in range(1, reach + 1):
            dy, dx = int(round(r * np.sin(a))), int(round(r * np.cos(a)))
            rise = np.roll(h, (-dy, -dx), (0, 1)) - h
            horizon = np.maximum(horizon, rise / np.hypot(dy, dx))
        occluded += np.sin(np.arctan(horizon))
    return 1 - occluded / directions


def sheet(photo, maps, h, albedo, out: Path) -> None:
    """Photo | derived lit like the photo | true lit from the opposite side | derived lit so."""
    from PIL import Image

    def lit(base, normal_or_height, angle, derived):
        if derived:
            n = decode_normals(normal_or_height)
            a, e = np.radians(angle), np.radians(ELEVATION)
            s = 0.75 * np.clip(n[..., 0] * np.cos(e) * np.cos(a) + n[..., 1] * np.cos(e) * np.sin(a)
                               + n[..., 2] * np.sin(e), 0, None) + 0.25
        else:
            s = shade(normal_or_height, angle)
        return np.clip(base * s[..., None], 0, 1)

    tiles = [photo, lit(maps["basecolor"], maps["normal"], LIGHT, True),
             lit(albedo, h, LIGHT + 180, False), lit(maps["basecolor"], maps["normal"], LIGHT + 180, True)]
    Image.fromarray((np.concatenate(tiles, 1) * 255).round().astype(np.uint8)).save(out)


def run(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    print("| case | render | method | normal cos | height corr | base÷albedo vs shading | AO corr | roughness corr |")
    print("|---|---|---|---|---|---|---|---|")
    cycles_missing = False
    for name, (h, albedo) in cases().items():
        rough = roughness_truth(name, h)
        renders = {"numpy": (np.clip(albedo * shade(h, LIGHT)[..., None], 0, 1), None)}
        photo_c = cycles_photo(name, h, albedo, rough)
        if photo_c is None:
            cycles_missing = True
        else:
            renders["Cycles"] = (np.clip(photo_c, 0, 1), rough)
        for render, (photo, rough_truth) in renders.items():
            photo = photo.astype(np.float32)
            s = photo.mean(-1) / np.maximum(albedo.mean(-1), 1e-3) if render == "Cycles" else shade(h, LIGHT)
            for method in ("luminance", "shading"):
                maps = derive_maps(photo, tile=True, method=method)
                c, hc, b, ao = figures(maps, h, albedo, s)
                r = "—" if rough_truth is None else f"{corr(maps['roughness'], rough_truth):.2f}"
                print(f"| {name} | {render} | {method} | {c:.2f} | {hc:.2f} | {b:.2f} | {ao:.2f} | {r} |")
                if method == "shading":
                    sheet(photo, maps, h, albedo, out / f"maps_{name}{'_cycles' if render == 'Cycles' else ''}.png")
    if cycles_missing:
        print("Cycles rows left out: no real Blender (scripts/get_blender.sh) and no cached render")
    photo = np.clip(albedo * shade(h, LIGHT)[..., None], 0, 1).astype(np.float32)
    torch.set_num_threads(2)
    big = np.clip(np.tile(photo, (8, 8, 1)), 0, 1)
    for method in ("luminance", "shading"):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            derive_maps(big, tile=True, method=method)
            times.append(time.perf_counter() - t0)
        print(f"pbr 2048² ({method}): best of 3 {min(times):.2f} s on 2 threads")
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "out" / "bench_maps")))
