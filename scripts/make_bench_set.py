"""Build the benchmark's fixed reference set: ``benchmark/references/*.png`` (256² each).

Two kinds of reference, so that the benchmark judges what artists feed the tool:

- **Photographs** of real surfaces, cut once from scikit-image's bundled sample images (CC0 or
  public domain, each noted in ``benchmark/references/SOURCES.md``). They are read from an
  installed copy of scikit-image (Debian's ``python3-skimage`` or the PyPI wheel) or from the wheel
  file itself; every source file is checked against its SHA-256, so the crops are the same bytes
  wherever the script runs. Nothing is downloaded: get the package first, e.g.
  ``apt-get download python3-skimage && dpkg -x python3-skimage_*.deb /tmp/sk`` or
  ``pip download --no-deps scikit-image==0.26.0``.
- **Strongly structured images**, drawn here from fixed seeds with numpy + pillow: closed cells
  with dark outlines, round dots on a plain cream background, a basket weave, a tile grid, fibres
  (grass blades) and wood grain. Structure is what distribution-matching synthesis loses first,
  so these make losses visible. Each one has fine grain noise so no two patches are identical
  (a perfectly periodic image would make nearest-neighbour offsets ambiguous).

The set is fixed: tuning the engine on it would make the benchmark flatter the engine. Rerunning
the script rewrites byte-identical files (``--check`` verifies that without writing).

Usage: ``python scripts/make_bench_set.py [--skimage PATH] [--out benchmark/references] [--check]``
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SIZE = 256

# name -> (file in skimage/data, sha256 of that file, how it is cut, licence line)
PHOTOS: dict[str, tuple[str, str, str, str]] = {
    "brick": ("brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf", "scale:0.5",
              "CC0 — from CC0Textures 'Bricks25' (perspective-warped by scikit-image)"),
    "grass": ("grass.png", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89", "crop:128,128",
              "CC0 — DeviantArt 'Grass-01' by linolafett"),
    "gravel": ("gravel.png", "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12", "crop:128,128",
               "CC0 — from CC0Textures 'Gravel04'"),
    "micrograph": ("ihc.png", "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef", "scale:0.5",
                   "no known copyright restrictions — immunohistochemistry, Center for Microscopy And Molecular Imaging (CMMI)"),
    "coins": ("coins.png", "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba", "crop:24,30",
              "no known copyright restrictions — Greek coins from Pompeii, Brooklyn Museum Collection"),
    "galaxies": ("hubble_deep_field.jpg", "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4", "scale-crop:0.5,120,100",
                 "public domain — NASA Hubble eXtreme Deep Field (2012)"),
    "vessels": ("retina.jpg", "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6", "scale-crop:0.5,220,395",
                "CC0 — Wikimedia Commons 'Fundus photograph of normal left eye', Mikael Häggström"),
}

SKIMAGE_DIRS = ("/usr/lib/python3/dist-packages/skimage/data",)


class SourceFiles:
    """Reads scikit-image sample files from a data folder or a wheel, checking their hashes."""

    def __init__(self, where: str | None) -> None:
        self.zip: zipfile.ZipFile | None = None
        self.dir: Path | None = None
        candidates = [where] if where else list(SKIMAGE_DIRS)
        if not where:
            try:  # an importable scikit-image (PyPI wheel) also carries the files
                import skimage  # type: ignore[import-not-found]

                candidates.insert(0, str(Path(skimage.__file__).parent / "data"))
            except ImportError:
                pass
        for c in candidates:
            p = Path(c)
            if p.is_file() and p.suffix == ".whl":
                self.zip = zipfile.ZipFile(p)
                return
            if (p / "brick.png").is_file():
                self.dir = p
                return
            if (p / "skimage" / "data" / "brick.png").is_file():
                self.dir = p / "skimage" / "data"
                return
        raise SystemExit("scikit-image's sample data not found: install python3-skimage, or pass --skimage "
                         "with a skimage/data folder or a scikit-image wheel (pip download --no-deps scikit-image==0.26.0)")

    def read(self, name: str, sha: str) -> bytes:
        data = self.zip.read(f"skimage/data/{name}") if self.zip else (self.dir / name).read_bytes()  # type: ignore[operator]
        if hashlib.sha256(data).hexdigest() != sha:
            raise SystemExit(f"{name}: not the expected file (sha256 differs); the set must be cut from the same bytes")
        return data


def cut(data: bytes, how: str) -> Image.Image:
    """Scale and/or crop a source image to SIZE² as ``how`` says (fixed per photo)."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    kind, _, arg = how.partition(":")
    nums = [float(v) for v in arg.split(",")]
    if kind in ("scale", "scale-crop"):
        f = nums[0]
        img = img.resize((round(img.width * f), round(img.height * f)), Image.LANCZOS)
        nums = nums[1:]
    x, y = (int(nums[0]), int(nums[1])) if nums else (0, 0)
    return img.crop((x, y, x + SIZE, y + SIZE))


# ---- procedural references -----------------------------------------------------------------

SS = 4  # supersampling factor for anti-aliased drawing


def _finish(big: np.ndarray, rng: np.random.Generator, grain: float = 0.02) -> Image.Image:
    """Downsample a supersampled float image and add fine grain (so no two patches are equal)."""
    img = Image.fromarray(np.clip(big * 255, 0, 255).astype(np.uint8)).resize((SIZE, SIZE), Image.BOX)
    a = np.asarray(img, dtype=np.float64) / 255 + rng.normal(0, grain, (SIZE, SIZE, 1))
    return Image.fromarray(np.clip(np.round(a * 255), 0, 255).astype(np.uint8))


def cells(rng: np.random.Generator) -> Image.Image:
    """Irregular paving: closed polygonal cells (Voronoi) in stone colours with dark outlines."""
    n = SS * SIZE
    grid = (np.stack(np.mgrid[0:8, 0:8], -1).reshape(-1, 2) + rng.uniform(0.15, 0.85, (64, 2))) * (n / 8)
    pts = grid[:, ::-1]  # jittered grid: cells of similar size, like laid paving
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    d = np.stack([np.hypot(xx - px, yy - py) for px, py in pts])  # (64, n, n)
    order = np.argsort(d, axis=0)[:2]
    d1 = np.take_along_axis(d, order[:1], 0)[0]
    d2 = np.take_along_axis(d, order[1:2], 0)[0]
    palette = np.array([[0.72, 0.62, 0.48], [0.62, 0.58, 0.52], [0.78, 0.70, 0.58], [0.55, 0.50, 0.45], [0.68, 0.55, 0.42]])
    colours = palette[rng.integers(0, len(palette), len(pts))] * rng.uniform(0.9, 1.08, (len(pts), 1))
    out = colours[order[0]]
    # mottled stone surface inside each cell, low frequency
    mottle = np.asarray(Image.fromarray((rng.random((SIZE // 8, SIZE // 8)) * 255).astype(np.uint8)).resize((n, n), Image.BICUBIC)) / 255
    out = out * (0.9 + 0.2 * mottle[..., None])
    edge = np.clip((d2 - d1 - 3 * SS) / (1.5 * SS), 0, 1)[..., None]  # 0 on the outline, 1 inside
    out = out * edge + np.array([0.16, 0.13, 0.11]) * (1 - edge)
    return _finish(out, rng)


def dots(rng: np.random.Generator) -> Image.Image:
    """Round dots of four colours on a plain cream background, never touching."""
    n = SS * SIZE
    img = Image.new("RGB", (n, n), (242, 233, 208))
    draw = ImageDraw.Draw(img)
    colours = [(196, 62, 52), (46, 104, 160), (222, 168, 40), (64, 138, 86)]
    placed: list[tuple[float, float, float]] = []
    for _ in range(4000):
        if len(placed) >= 60:
            break
        r = rng.uniform(9, 14) * SS
        x, y = rng.uniform(r, n - r, 2)
        if all(np.hypot(x - px, y - py) > r + pr + 5 * SS for px, py, pr in placed):
            placed.append((x, y, r))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colours[len(placed) % 4])
    return _finish(np.asarray(img) / 255.0, rng, grain=0.012)


def weave(rng: np.random.Generator) -> Image.Image:
    """Basket weave: 2×2 blocks of three strands alternating horizontal and vertical, dark gaps."""
    n = SS * SIZE
    block = 32 * SS  # one block holds three strands
    yy, xx = np.mgrid[0:n, 0:n]
    by, bx = yy // block, xx // block
    horizontal = (by + bx) % 2 == 0
    u = np.where(horizontal, yy % block, xx % block) / block * 3  # across the strands, 0..3
    v = np.where(horizontal, xx % block, yy % block) / block  # along the strand, 0..1
    across = u % 1
    shade = np.sin(np.pi * across) ** 0.6 * (0.75 + 0.25 * np.sin(np.pi * v))  # round strands, dips at crossings
    gap = np.clip((np.minimum(across, 1 - across) - 0.06) / 0.05, 0, 1)
    tone = np.array([0.80, 0.66, 0.42]) * rng.uniform(0.92, 1.05, (SIZE // 32 + 1, SIZE // 32 + 1, 1))[by, bx]
    fibre = np.asarray(Image.fromarray((rng.random((n // 2, n // 2)) * 255).astype(np.uint8)).resize((n, n), Image.BILINEAR)) / 255
    out = tone * (0.35 + 0.65 * shade)[..., None] * (0.92 + 0.08 * fibre[..., None])
    out = out * gap[..., None] + np.array([0.12, 0.09, 0.06]) * (1 - gap[..., None])
    return _finish(out, rng)


def tiles(rng: np.random.Generator) -> Image.Image:
    """A regular grid of square glazed tiles with grout lines; each tile a slightly different shade."""
    n = SS * SIZE
    pitch = 32 * SS
    yy, xx = np.mgrid[0:n, 0:n]
    ty, tx = yy // pitch, xx // pitch
    shade = rng.uniform(0.85, 1.05, (SIZE // 32 + 1, SIZE // 32 + 1, 1))[ty, tx]
    base = np.array([0.30, 0.52, 0.58]) * shade
    fy, fx = (yy % pitch) / pitch, (xx % pitch) / pitch
    glaze = 1 + 0.12 * (1 - fy) * (1 - fx)  # a sheen towards each tile's upper-left corner
    inner = np.clip((np.minimum.reduce([fy, 1 - fy, fx, 1 - fx]) - 0.05) / 0.03, 0, 1)[..., None]
    out = base * glaze[..., None] * inner + np.array([0.82, 0.80, 0.74]) * (1 - inner)
    return _finish(out, rng, grain=0.015)


def blades(rng: np.random.Generator) -> Image.Image:
    """Fibres: long, thin, curved, tapered grass blades in many greens over dark soil."""
    n = SS * SIZE
    img = Image.new("RGB", (n, n), (44, 36, 24))
    draw = ImageDraw.Draw(img)
    for _ in range(700):
        x, y = rng.uniform(-20 * SS, n + 20 * SS), rng.uniform(0, n + 60 * SS)
        length = rng.uniform(40, 110) * SS
        angle = rng.normal(-np.pi / 2, 0.35)
        bend = rng.normal(0, 0.012 / SS)
        width = rng.uniform(2.0, 4.0) * SS
        g = rng.uniform(0.45, 1.0)
        colour = (int(60 * g + 20), int(150 * g + 30), int(40 * g + 10))
        left, right = [], []
        for t in np.linspace(0, 1, 12):
            a = angle + bend * t * length
            px, py = x + np.cos(a) * t * length, y + np.sin(a) * t * length
            w = width * (1 - t) / 2
            nx, ny = -np.sin(a) * w, np.cos(a) * w
            left.append((px + nx, py + ny))
            right.append((px - nx, py - ny))
        draw.polygon(left + right[::-1], fill=colour)
    return _finish(np.asarray(img) / 255.0, rng, grain=0.015)


def wood(rng: np.random.Generator) -> Image.Image:
    """Wood grain: growth rings of a log cut lengthwise, wavy, with darker late-wood lines."""
    n = SS * SIZE
    yy, xx = np.mgrid[0:n, 0:n] / SS
    warp = np.asarray(Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).resize((n, n), Image.BICUBIC)) / 255
    r = np.abs(yy - 128 + 40 * (warp - 0.5)) + 0.002 * (xx - 128) ** 2
    ring = (r / 9.0) % 1
    late = np.clip(1 - np.abs(ring - 0.85) / 0.12, 0, 1) ** 1.5
    streak = np.asarray(Image.fromarray((rng.random((n // 16, 4)) * 255).astype(np.uint8)).resize((n, n), Image.BICUBIC)) / 255
    light, dark = np.array([0.80, 0.60, 0.38]), np.array([0.50, 0.30, 0.15])
    t = (0.75 * late + 0.25 * streak)[..., None]
    return _finish(light * (1 - t) + dark * t, rng, grain=0.012)


PROCEDURAL: dict[str, tuple[Callable[[np.random.Generator], Image.Image], str]] = {
    "cells": (cells, "closed polygonal cells (paving) with dark outlines"),
    "dots": (dots, "round dots in four colours on a plain cream background"),
    "weave": (weave, "basket weave: 2×2 blocks of strands, alternating direction"),
    "tiles": (tiles, "regular grid of square glazed tiles with light grout"),
    "blades": (blades, "fibres: curved, tapered grass blades on dark soil"),
    "wood": (wood, "wood grain: wavy growth rings with dark late-wood lines"),
}


def render_all(src: SourceFiles) -> dict[str, bytes]:
    """Every reference of the set as PNG bytes (deterministic)."""
    out: dict[str, bytes] = {}
    for name, (file, sha, how, _) in PHOTOS.items():
        out[name] = png_bytes(cut(src.read(file, sha), how))
    for k, (make, _) in enumerate(PROCEDURAL.values()):
        name = list(PROCEDURAL)[k]
        out[name] = png_bytes(make(np.random.default_rng(1000 + k)))
    return out


def png_bytes(img: Image.Image) -> bytes:
    assert img.size == (SIZE, SIZE), img.size
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def sources_md() -> str:
    lines = ["# Benchmark references: origin and licence", "",
             "Made by `scripts/make_bench_set.py` (256² PNG each). The set is fixed; the engine is not tuned on it.", "",
             "## Photographs", "",
             "Cut from the sample images bundled with scikit-image (identical bytes in Debian bookworm's "
             "`python3-skimage` 0.19.3 and the PyPI wheel `scikit-image` 0.26.0; the SHA-256 of every source file "
             "is checked). Licences as stated in `skimage/data/_fetchers.py` of that package.", "",
             "| file | source file in `skimage/data` | cut | licence and origin |", "|---|---|---|---|"]
    for name, (file, _, how, lic) in PHOTOS.items():
        lines.append(f"| `{name}.png` | `{file}` | {how} | {lic} |")
    lines += ["", "`scale:f` resizes by f (Lanczos) and keeps the top-left 256²; `crop:x,y` cuts 256² at (x, y); "
              "`scale-crop:f,x,y` does both.", "", "## Procedural (this project, same licence as the code)", "",
              "| file | what |", "|---|---|"]
    for name, (_, what) in PROCEDURAL.items():
        lines.append(f"| `{name}.png` | {what} |")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skimage", default=None, help="skimage/data folder, site-packages folder or scikit-image wheel")
    ap.add_argument("--out", default=str(ROOT / "benchmark" / "references"))
    ap.add_argument("--check", action="store_true", help="verify the files in --out are what the script makes; write nothing")
    args = ap.parse_args()
    files = render_all(SourceFiles(args.skimage))
    files_md = sources_md().encode()
    out = Path(args.out)
    if args.check:
        bad = [n for n, b in files.items() if not (out / f"{n}.png").is_file() or (out / f"{n}.png").read_bytes() != b]
        if bad:
            print("differs: " + ", ".join(bad), file=sys.stderr)
            return 1
        print(f"{len(files)} references match")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_atomic(out / f"{name}.png", data)
    write_atomic(out / "SOURCES.md", files_md)
    print(f"wrote {len(files)} references to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
