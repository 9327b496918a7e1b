"""Straighten: four corners of a surface in a photograph → a rectified, front-on image.

A wall or floor shot at an angle is a projective image of a rectangle; the homography that maps
the output rectangle onto the photo's quad is found by the direct linear transform on the four
point pairs, and every output pixel is read from the photo at its mapped position (inverse
mapping, so there are no holes). The read is bicubic (Keys, a = −0.5): sharper than bilinear
where the photo is magnified. Where it is minified — the near part of a foreshortened wall — one
sample per output pixel would alias the photo's fine grain into a moiré, so each output pixel
averages n×n bicubic samples over its footprint, n = the local minification (the larger singular
value of the map's Jacobian there), rounded up: supersampling exactly where it is needed and a
single sample where the photo is magnified (no extra blur there).

Coordinates are continuous photo pixels: (0, 0) is the top-left corner of the top-left pixel and
(W, H) the bottom-right corner of the image, so the corners of the whole image give it back as it is.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import numpy as np

from ...errors import InputError

#: Output sides outside this range are refused (a typo such as 40000x3 rather than a texture).
MIN_SIDE = 8
MAX_SIDE = 8192
#: Most samples per axis averaged into one output pixel (a quad squeezed harder is still filtered,
#: just by fewer samples than it could use).
MAX_SUPERSAMPLE = 8
#: Rows of output pixels mapped per block (bounds the temporaries at 4096-px-wide outputs).
ROWS_PER_BLOCK = 64


def parse_corners(text: str) -> np.ndarray:
    """``"X1,Y1,…,X4,Y4"`` → (4, 2) float array; anything else is an :class:`InputError`."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"--corners must be numbers X1,Y1,X2,Y2,X3,Y3,X4,Y4, got {text!r}") from None
    if len(values) != 8 or not all(np.isfinite(values)):
        raise InputError(f"--corners needs exactly four corners (8 numbers: top-left, top-right, bottom-right, "
                         f"bottom-left), got {len(values)} number(s)")
    return np.asarray(values, np.float64).reshape(4, 2)


def parse_size(text: str) -> tuple[int, Optional[int]]:
    """``"WxH"`` (or ``"W"``: height from the quad's proportions) → (width, height or None)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+))?\s*", text)
    if not m:
        raise InputError(f"--size must be WIDTHxHEIGHT in pixels, e.g. 1024x768, got {text!r}")
    w = int(m.group(1))
    h = int(m.group(2)) if m.group(2) else None
    for side in (w, h):
        if side is not None and not MIN_SIDE <= side <= MAX_SIDE:
            raise InputError(f"--size {text.strip()}: each side must be within {MIN_SIDE}…{MAX_SIDE} px")
    return w, h


def check_quad(corners: np.ndarray, width: int, height: int) -> None:
    """Refuse corners outside the image and quads that are not a convex, clockwise-ordered shape.

    The corners go top-left, top-right, bottom-right, bottom-left: clockwise on screen (y down).
    A bow-tie (self-intersecting) or concave quad has no homography from a rectangle that does not
    fold, and a nearly flat one maps a whole rectangle onto a sliver.
    """
    c = np.asarray(corners, np.float64)
    if c.shape != (4, 2):
        raise InputError("--corners needs exactly four corners")
    outside = [i + 1 for i, (x, y) in enumerate(c) if not (0 <= x <= width and 0 <= y <= height)]
    if outside:
        raise InputError(f"corner {outside[0]} ({c[outside[0] - 1][0]:g},{c[outside[0] - 1][1]:g}) is outside the "
                         f"{width}×{height} image")
    edges = np.roll(c, -1, axis=0) - c
    cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    area = 0.5 * float(np.sum(c[:, 0] * np.roll(c[:, 1], -1) - np.roll(c[:, 0], -1) * c[:, 1]))
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    if lengths.min() < 1.0 or abs(area) < 16.0 or np.any(np.abs(cross) < 1e-3 * lengths * np.roll(lengths, -1)):
        raise InputError("--corners make a degenerate quad (corners coincide or three lie on a line)")
    if _segments_cross(c[0], c[1], c[2], c[3]) or _segments_cross(c[1], c[2], c[3], c[0]):
        raise InputError("--corners make a self-intersecting quad; give them in the order top-left, top-right, "
                         "bottom-right, bottom-left")
    if np.all(cross < 0):
        raise InputError("--corners go anticlockwise; give them in the order top-left, top-right, bottom-right, "
                         "bottom-left")
    if not np.all(cross > 0):
        raise InputError("--corners make a concave quad; a flat surface in perspective is always convex")


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    """Whether segments ab and cd properly intersect."""
    def side(p, q, r) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))
    return side(a, b, c) * side(a, b, d) < 0 and side(c, d, a) * side(c, d, b) < 0


def quad_size(corners: np.ndarray) -> tuple[int, int]:
    """Output (width, height) from the quad's edges: the mean of opposite edges' lengths."""
    c = np.asarray(corners, np.float64)
    length = lambda i, j: float(np.hypot(*(c[j] - c[i])))  # noqa: E731
    return max(1, round((length(0, 1) + length(3, 2)) / 2)), max(1, round((length(0, 3) + length(1, 2)) / 2))


def output_size(corners: np.ndarray, size: Optional[tuple[int, Optional[int]]]) -> tuple[int, int]:
    """The rectified image's (width, height): given, or from the quad (aspect of its edges)."""
    qw, qh = quad_size(corners)
    if size is None:
        w, h = qw, qh
    else:
        w, h = size[0], size[1] if size[1] is not None else max(1, round(size[0] * qh / qw))
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise InputError(f"the straightened image would be {w}×{h}; each side must be within {MIN_SIDE}…{MAX_SIDE} px "
                         f"(give --size WxH)")
    return w, h


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3×3 H with dst ~ H·src for four point pairs (DLT, h33 = 1), points normalised for conditioning."""
    def normaliser(p: np.ndarray) -> np.ndarray:
        mean = p.mean(axis=0)
        scale = np.sqrt(2) / max(1e-12, float(np.mean(np.hypot(*(p - mean).T))))
        return np.array([[scale, 0, -scale * mean[0]], [0, scale, -scale * mean[1]], [0, 0, 1]])

    ts, td = normaliser(src), normaliser(dst)
    s = (ts @ np.c_[src, np.ones(4)].T).T
    d = (td @ np.c_[dst, np.ones(4)].T).T
    rows = []
    for (x, y, _), (u, v, _) in zip(s, d):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    h = vt[-1].reshape(3, 3)
    h = np.linalg.inv(td) @ h @ ts
    return h / h[2, 2]


def _keys(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution weights (a = −0.5) for the four taps at offsets −1…2 from floor."""
    a = -0.5
    w = np.empty(t.shape + (4,), np.float32)
    for k, d in enumerate((1 + t, t, 1 - t, 2 - t)):
        d = np.abs(d)
        w[..., k] = np.where(d <= 1, (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1,
                             np.where(d < 2, a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a, 0.0))
    return w


def sample_bicubic(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``image`` (H, W, C) read at continuous positions (pixel centres at +0.5), borders replicated."""
    h, w = image.shape[:2]
    px, py = x - 0.5, y - 0.5
    x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    wx, wy = _keys((px - x0).astype(np.float32)), _keys((py - y0).astype(np.float32))
    out = np.zeros(x.shape + (image.shape[2],), np.float32)
    for j in range(4):
        rows = np.clip(y0 + j - 1, 0, h - 1)
        acc = np.zeros_like(out)
        for i in range(4):
            cols = np.clip(x0 + i - 1, 0, w - 1)
            acc += image[rows, cols] * wx[..., i, None]
        out += acc * wy[..., j, None]
    return out


def _project(hm: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = hm[2, 0] * u + hm[2, 1] * v + hm[2, 2]
    return (hm[0, 0] * u + hm[0, 1] * v + hm[0, 2]) / d, (hm[1, 0] * u + hm[1, 1] * v + hm[1, 2]) / d


def minification(hm: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Photo pixels per output pixel at (u, v): the Jacobian's larger singular value."""
    d = hm[2, 0] * u + hm[2, 1] * v + hm[2, 2]
    x, y = _project(hm, u, v)
    jxu, jxv = (hm[0, 0] - hm[2, 0] * x) / d, (hm[0, 1] - hm[2, 1] * x) / d
    jyu, jyv = (hm[1, 0] - hm[2, 0] * y) / d, (hm[1, 1] - hm[2, 1] * y) / d
    a, b, c = jxu * jxu + jyu * jyu, jxu * jxv + jyu * jyv, jxv * jxv + jyv * jyv
    return np.sqrt(0.5 * (a + c) + np.sqrt(0.25 * (a - c) ** 2 + b * b))


def straighten(image: np.ndarray, corners: Sequence[Sequence[float]], size: Optional[tuple[int, Optional[int]]] = None,
               ) -> np.ndarray:
    """The quad ``corners`` (TL, TR, BR, BL in photo pixels) of ``image`` (H, W, C) as a W×H rectangle.

    ``size`` is (width, height) — height None takes the quad's proportions — or None for the
    quad's own edge lengths. Raises :class:`InputError` for corners outside the image, a quad that
    is not convex and clockwise, or an absurd size.
    """
    img = np.asarray(image, np.float32)
    if img.ndim == 2:
        img = img[..., None]
    c = np.asarray(corners, np.float64)
    check_quad(c, img.shape[1], img.shape[0])
    w, h = output_size(c, size)
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    hm = homography(rect, c)
    out = np.empty((h, w, img.shape[2]), np.float32)
    for r0 in range(0, h, ROWS_PER_BLOCK):
        r1 = min(h, r0 + ROWS_PER_BLOCK)
        v, u = np.mgrid[r0:r1, 0:w].astype(np.float64) + 0.5
        n = np.clip(np.ceil(minification(hm, u, v) - 1e-6), 1, MAX_SUPERSAMPLE).astype(np.int64)
        block = np.empty((r1 - r0, w, img.shape[2]), np.float32)
        for k in np.unique(n):
            sel = n == k
            us, vs = u[sel] - 0.5, v[sel] - 0.5
            acc = np.zeros((us.size, img.shape[2]), np.float32)
            for j in range(k):
                for i in range(k):
                    x, y = _project(hm, us + (i + 0.5) / k, vs + (j + 0.5) / k)
                    acc += sample_bicubic(img, x, y)
            block[sel] = acc / (k * k)
        out[r0:r1] = block
    return np.clip(out, 0.0, 1.0)


def warp_mask(mask: np.ndarray, corners: Sequence[Sequence[float]], size: tuple[int, int]) -> np.ndarray:
    """A fill mask (H, W) in photo pixels carried into the straightened image: any overlap fills.

    Sampled on a grid over each output pixel as fine as the photo's largest minification, so a
    one-pixel cable stays connected where the photo is minified and nothing marked is left out.
    """
    m = np.asarray(mask, np.float32) > 0.5
    w, h = size
    c = np.asarray(corners, np.float64)
    hm = homography(np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64), c)
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    k = int(np.clip(np.ceil(minification(hm, u + 0.5, v + 0.5).max()), 1, MAX_SUPERSAMPLE)) + 1
    out = np.zeros((h, w), bool)
    for t in np.linspace(0.02, 0.98, k):
        for s in np.linspace(0.02, 0.98, k):
            x, y = _project(hm, u + s, v + t)
            xi = np.clip(np.floor(x).astype(np.int64), 0, m.shape[1] - 1)
            yi = np.clip(np.floor(y).astype(np.int64), 0, m.shape[0] - 1)
            out |= m[yi, xi]
    return out
