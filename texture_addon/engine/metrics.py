"""How we judge a texture: does it tile, and do its statistics match the reference?

These are the figures the tests assert on and the benchmark prints. They use numpy inputs so they
can score any image (ours, a peer tool's, a photograph) the same way.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..references.seams import seam_rank, seam_score  # noqa: F401  (numpy-only, so Blender can use it)
from .resample import resize


def _as_hwc(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img, dtype=np.float64)
    return a[..., None] if a.ndim == 2 else a


MAX_POSITIONS = 1 << 20  # patch positions per image and scale; larger images are sampled


def _projected_patches(x: torch.Tensor, directions: torch.Tensor, limit: int, seed: int) -> np.ndarray:
    """Sorted projections (P, N) of the image's patches: all of them, or ``limit`` at random positions.

    Sampling uniform positions estimates the same quantile function as using every patch (to
    ~1/√N), so a 4096² output is judged over its whole area for the cost of a 1024² one.
    """
    p = directions.shape[-1]
    hv, wv = x.shape[2] - p + 1, x.shape[3] - p + 1
    with torch.no_grad():
        if hv * wv <= limit:
            values = F.conv2d(x, directions)[0].flatten(1).numpy()
        else:
            flat = np.sort(np.random.default_rng(seed).choice(hv * wv, size=limit, replace=False))
            ys, xs = torch.from_numpy(flat // wv), torch.from_numpy(flat % wv)
            offsets = torch.arange(p)
            weights = directions.flatten(1).T  # (C·p·p, P), the same layout as the conv's weights
            parts = []
            for start in range(0, limit, 65536):
                yy = ys[start:start + 65536, None, None] + offsets[None, :, None]
                xx = xs[start:start + 65536, None, None] + offsets[None, None, :]
                patches = x[0][:, yy, xx].permute(1, 0, 2, 3).flatten(1)  # (n, C·p·p)
                parts.append((patches @ weights).T)
            values = torch.cat(parts, dim=1).numpy()
    return np.sort(values, axis=1)


def patch_distance(
    a: np.ndarray,
    b: np.ndarray,
    scales: tuple[int, ...] = (1, 2, 4),
    patch: int = 7,
    projections: int = 128,
    seed: int = 1234,
    max_positions: int = MAX_POSITIONS,
    periodic: bool = False,
) -> float:
    """Multi-scale patch sliced Wasserstein distance between two images (any sizes).

    Patches are compared at full, half and quarter resolution with exact sorting and fixed random
    directions (the seed is part of the metric), so the figure is repeatable across runs. Each
    image is judged over its whole area: images with more than ``max_positions`` patches at a
    scale are sampled at that many uniform random positions (fixed by the seed).

    ``periodic=True`` says ``a`` tiles: its patches then wrap around (the ones across the tile's
    edge are part of the texture, and would expose a seam) and it is shrunk with wrap-around. That
    makes the figure independent of where the tile's origin is; with edge-clipped patches, rolling
    one 256² lichen output moved it between 0.056 and 0.126 of the noise floor.
    """
    ta = torch.from_numpy(_as_hwc(a).astype(np.float32)).permute(2, 0, 1)[None]
    tb = torch.from_numpy(_as_hwc(b).astype(np.float32)).permute(2, 0, 1)[None]
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    used = 0
    for s in scales:
        ha, wa = ta.shape[2] // s, ta.shape[3] // s
        hb, wb = tb.shape[2] // s, tb.shape[3] // s
        if min(ha, wa, hb, wb) < patch + 1:
            continue
        xa = resize(ta, ha, wa, periodic, periodic) if s > 1 else ta
        xb = resize(tb, hb, wb) if s > 1 else tb
        if periodic:
            xa = F.pad(xa, (0, patch - 1, 0, patch - 1), mode="circular")
        d = torch.randn(projections, ta.shape[1] * patch * patch, generator=gen)
        d = (d / d.norm(dim=1, keepdim=True)).view(projections, ta.shape[1], patch, patch)
        pa = _projected_patches(xa, d, max_positions, seed + s)
        pb = _projected_patches(xb, d, max_positions, seed + s)
        n = min(pa.shape[1], pb.shape[1], 65536)
        grid = (np.arange(n) + 0.5) / n
        qa = np.stack([np.interp(grid, (np.arange(pa.shape[1]) + 0.5) / pa.shape[1], row) for row in pa])
        qb = np.stack([np.interp(grid, (np.arange(pb.shape[1]) + 0.5) / pb.shape[1], row) for row in pb])
        total += float(np.sqrt(np.mean((qa - qb) ** 2)))
        used += 1
    if not used:
        raise ValueError("images too small for the patch distance")
    return total / used


def noise_like(reference: np.ndarray, height: int, width: int, seed: int = 0) -> np.ndarray:
    """White noise with exactly the reference's colour histogram: the floor a synthesis must beat."""
    ref = _as_hwc(reference).reshape(-1, _as_hwc(reference).shape[-1])
    rng = np.random.default_rng(seed)
    return ref[rng.integers(0, ref.shape[0], height * width)].reshape(height, width, -1).astype(np.float32)
