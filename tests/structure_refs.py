"""Small procedural references whose structure is easy to measure, and the measurements.

Used by the structure tests: closed cells with dark outlines (count the closed regions inside the
outline mask), round dots on a flat cream background (circularity of the blobs, colour of the
background). Deterministic, numpy only.
"""

from __future__ import annotations

import numpy as np

CREAM = np.array([0.93, 0.89, 0.78], np.float32)
PALETTE = np.array([[0.80, 0.20, 0.20], [0.20, 0.45, 0.80], [0.25, 0.60, 0.30], [0.90, 0.65, 0.10]], np.float32)


def cells(side: int = 128, cell: float = 16.0, seed: int = 1) -> np.ndarray:
    """Voronoi cells with 2-px dark outlines on a wrap-around plane, each cell its own grey-brown tone."""
    rng = np.random.default_rng(seed)
    n = max(4, int((side / cell) ** 2))
    pts = rng.uniform(0, side, (n, 2))
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    d = np.full((2, side, side), np.inf, np.float32)
    label = np.zeros((side, side), np.int64)
    for i, (py, px) in enumerate(pts):
        dy = np.abs(yy - py); dy = np.minimum(dy, side - dy)
        dx = np.abs(xx - px); dx = np.minimum(dx, side - dx)
        di = np.sqrt(dy * dy + dx * dx)
        closer = di < d[0]
        d[1] = np.where(closer, d[0], np.minimum(d[1], di))
        d[0] = np.where(closer, di, d[0])
        label = np.where(closer, i, label)
    tones = rng.uniform(0.45, 0.75, n).astype(np.float32)
    img = tones[label][..., None] * np.array([1.0, 0.95, 0.85], np.float32)
    img = img + rng.normal(0, 0.015, img.shape).astype(np.float32)
    edge = (d[1] - d[0]) < 2.0
    img[edge] = np.array([0.12, 0.11, 0.10], np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def dots(side: int = 128, radius: float = 5.0, count: int = 28, seed: int = 2) -> np.ndarray:
    """Round coloured dots (no overlaps) on a flat cream background, wrap-around."""
    rng = np.random.default_rng(seed)
    img = np.tile(CREAM, (side, side, 1)).astype(np.float32)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    palette = PALETTE
    centres: list[tuple[float, float]] = []
    tries = 0
    while len(centres) < count and tries < 5000:
        tries += 1
        c = rng.uniform(0, side, 2)
        ok = True
        for q in centres:
            dy = abs(c[0] - q[0]); dy = min(dy, side - dy)
            dx = abs(c[1] - q[1]); dx = min(dx, side - dx)
            if dy * dy + dx * dx < (2 * radius + 4) ** 2:
                ok = False
                break
        if not ok:
            continue
        centres.append((c[0], c[1]))
        dy = np.abs(yy - c[0]); dy = np.minimum(dy, side - dy)
        dx = np.abs(xx - c[1]); dx = np.minimum(dx, side - dx)
        inside = np.clip(radius + 0.5 - np.sqrt(dy * dy + dx * dx), 0, 1)[..., None]
        col = palette[len(centres) % len(palette)]
        img = img * (1 - inside) + col * inside
    return img.astype(np.float32)



def blades(side: int = 128, seed: int = 3) -> np.ndarray:
    """Thin bright strokes, mostly upright, on dark soil: fine detail that a smear erases first."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    big = side * 2
    im = Image.new("L", (big, big), 50)
    draw = ImageDraw.Draw(im)
    for _ in range(int(1400 * (side / 128) ** 2)):
        x, y = rng.uniform(0, big, 2)
        angle, length = rng.normal(np.pi / 2, 0.7), rng.uniform(8, 24)
        grey = int(np.clip(rng.normal(160, 50), 20, 250))
        draw.line([x, y, x + length * np.cos(angle), y - length * np.sin(angle)], fill=grey, width=1)
    a = np.asarray(im.crop((side // 2, side // 2, side // 2 + side, side // 2 + side)), np.float32) / 255
    return np.stack([a * 0.8, a, a * 0.6], -1)


def sharpness(img: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels (grey): what a smear lowers."""
    g = img.mean(-1)
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())

def _components(mask: np.ndarray, periodic: bool = True) -> tuple[np.ndarray, int]:
    """4-connected labels of a boolean mask (wrap-around when ``periodic``), by union-find."""
    h, w = mask.shape
    parent = np.arange(h * w)

    def find(a: np.ndarray) -> np.ndarray:
        while True:
            p = parent[a]
            if np.array_equal(p, a):
                return a
            parent[a] = parent[p]
            a = parent[a]

    idx = np.arange(h * w).reshape(h, w)
    pairs = []
    right = np.roll(idx, -1, axis=1)
    down = np.roll(idx, -1, axis=0)
    m_right = mask & np.roll(mask, -1, axis=1)
    m_down = mask & np.roll(mask, -1, axis=0)
    if not periodic:
        m_right[:, -1] = False
        m_down[-1, :] = False
    pairs.append((idx[m_right], right[m_right]))
    pairs.append((idx[m_down], down[m_down]))
    changed = True
    while changed:
        changed = False
        for a, b in pairs:
            ra, rb = find(a), find(b)
            lo = np.minimum(ra, rb)
            diff = ra != rb
            if diff.any():
                changed = True
                parent[ra[diff]] = lo[diff]
                parent[rb[diff]] = lo[diff]
    roots = find(idx.reshape(-1)).reshape(h, w)
    roots = np.where(mask, roots, -1)
    uniq, inv = np.unique(roots, return_inverse=True)
    labels = inv.reshape(h, w)
    if uniq[0] == -1:
        labels = labels - 1
        return labels, len(uniq) - 1
    return labels, len(uniq)


def closed_cells(img: np.ndarray, outline: float = 0.3, min_area: int = 20, max_area: int = 2000) -> int:
    """How many regions enclosed by the dark outline have a cell-like area (pixels)."""
    lum = img @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    labels, count = _components(lum > outline)
    areas = np.bincount(labels[labels >= 0].ravel(), minlength=count)
    return int(((areas >= min_area) & (areas <= max_area)).sum())


def blobs(img: np.ndarray, background: np.ndarray = CREAM, threshold: float = 0.12) -> list[tuple[int, float]]:
    """(area, circularity) of every blob that differs from the background colour.

    Circularity is 4π·area / perimeter², with the perimeter counted as exposed pixel edges and
    scaled by π/4 (a digitised disc then scores about 1; a melted, ragged blob much less).
    """
    mask = np.abs(img - background).max(axis=2) > threshold
    labels, count = _components(mask)
    out = []
    for i in range(count):
        m = labels == i
        area = int(m.sum())
        edges = 0
        for ax in (0, 1):
            for s in (1, -1):
                edges += int((m & ~np.roll(m, s, axis=ax)).sum())
        perim = edges * np.pi / 4
        out.append((area, float(4 * np.pi * area / max(perim, 1) ** 2)))
    return out


def background_delta_e(img: np.ndarray, background: np.ndarray = CREAM, threshold: float = 0.12) -> float:
    """CIE76 ΔE between the median background-like pixel of ``img`` and the true background."""
    near = np.abs(img - background).max(axis=2) < threshold
    if near.sum() == 0:
        return float("inf")
    med = np.median(img[near], axis=0)
    return float(np.linalg.norm(_lab(med) - _lab(background)))


def _lab(rgb: np.ndarray) -> np.ndarray:
    c = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ c / np.array([0.9505, 1.0, 1.089])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def tiles(side: int = 64, period: int = 16, grout: int = 2, seed: int = 4) -> np.ndarray:
    """Square tiles on a regular grid with light grout, each tile a slightly different blue, fine grain."""
    rng = np.random.default_rng(seed)
    n = side // period + 1
    tones = rng.uniform(0.40, 0.50, (n, n)).astype(np.float32)
    yy, xx = np.mgrid[0:side, 0:side]
    img = tones[yy // period, xx // period][..., None] * np.array([0.7, 1.0, 1.1], np.float32)
    img[(yy % period < grout) | (xx % period < grout)] = np.array([0.85, 0.83, 0.78], np.float32)
    return np.clip(img + rng.normal(0, 0.01, img.shape).astype(np.float32), 0, 1).astype(np.float32)


def basket_weave(side: int = 96, block: int = 24, strands: int = 3, seed: int = 5) -> np.ndarray:
    """Blocks of ``strands`` parallel strands, vertical and horizontal in a checkerboard: the grey
    image nearly repeats every strand, the pattern only every other block (diagonally)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    vertical = ((yy // block) + (xx // block)) % 2 == 0
    across = np.where(vertical, xx, yy) % block
    gap = (across % (block // strands)) < 2
    edge = (np.where(vertical, yy, xx) % block) < 1
    img = np.full((side, side, 3), np.array([0.78, 0.64, 0.38], np.float32), np.float32)
    img[gap | edge] = np.array([0.25, 0.18, 0.10], np.float32)
    return np.clip(img + rng.normal(0, 0.02, img.shape).astype(np.float32), 0, 1).astype(np.float32)


def shifted_correlation(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Per 16×16 block, the correlation of a periodic image with itself shifted by (dy, dx) (wrapping):
    ≈1 everywhere on a dislocation-free regular texture, low along a dislocation."""
    g = img.mean(-1)
    s = np.roll(g, (-dy, -dx), (0, 1))
    h, w = g.shape
    out = []
    for y in range(0, h - 15, 16):
        for x in range(0, w - 15, 16):
            a, b = g[y:y + 16, x:x + 16], s[y:y + 16, x:x + 16]
            a, b = a - a.mean(), b - b.mean()
            out.append(float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-8)))
    return np.array(out)
