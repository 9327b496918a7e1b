"""Patch-statistics feature family: sliced Wasserstein matching of raw image patches (no weights).

Every k×k×C patch is projected on random directions with one convolution; the output's projections
are pushed to the quantiles of the references' (Heitz et al. 2021 applied to patches as in
Elnekave & Weiss 2022). Run at every pyramid level this matches patch distributions at several
scales. Circular padding makes every patch of a periodic axis wrap, which is what makes the result tile.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .padding import pad_for_tiling
from .sliced import REFERENCE_SAMPLE_CAP, mixture_quantiles, random_directions, subsample_columns, transport_targets

# Projections are processed in chunks of about this many (positions × projections) elements, with
# gradient accumulation: the per-element transport work then runs in cache, and memory stays
# bounded at 4096².
CHUNK_ELEMENTS = 3_000_000
# …but never fewer projections than this per chunk: each chunk costs a full-image conv backward.
MIN_CHUNK = 8


class PatchSlicedLoss:
    """Sliced Wasserstein distance between the output's patches and the weighted references' patches."""

    def __init__(
        self,
        references: Sequence[torch.Tensor],
        weights: Sequence[float],
        patch: int = 7,
        projections: int = 64,
        periodic: tuple[bool, bool] = (True, True),
        dilation: int = 1,
        region: float = 0.0,
    ) -> None:
        self.references = list(references)
        self.weights = list(weights)
        self.patch = patch
        self.projections = projections
        self.periodic = periodic
        self.dilation = dilation
        self.region = region

    def _directions(self, channels: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        k = self.patch
        return random_directions(self.projections, channels * k * k, generator, device).view(self.projections, channels, k, k)

    def _regions(self, hv: int, wv: int, generator: torch.Generator, device: torch.device) -> tuple[torch.Tensor | None, int]:
        """Labels (hv·wv,) of a random grid of regions ``region``…2·``region`` references across, or None.

        Matched as one pool, the output's patches only have to match the reference's *on
        average*: a large output can park all its mortar in some places and leave brick-coloured
        blanks elsewhere, or let rows formed apart meet at a dislocation, and the pooled
        distribution barely changes. Matching each region separately makes every such area carry
        the reference's whole distribution.

        The regions are cut anew every step, at random sizes. Windows of one fixed size, however
        shifted, all hold the same distribution only in an image that repeats with that period
        (slide the window by a pixel: what leaves must equal what enters), so fixed-size regions
        pulled outputs towards repeating every reference side (lichen at 512²: repetition 0.19 →
        0.48, see the README). With sizes that vary, no period satisfies every window.
        """
        if self.region <= 0:
            return None, 1
        ref_h = min(r.shape[2] for r in self.references)
        ref_w = min(r.shape[3] for r in self.references)
        ly, ky = _axis_regions(hv, self.region * ref_h, self.periodic[0], generator)
        lx, kx = _axis_regions(wv, self.region * ref_w, self.periodic[1], generator)
        if ky * kx == 1:
            return None, 1
        return (ly[:, None] * kx + lx[None, :]).reshape(-1).to(device), ky * kx

    def backward(self, x: torch.Tensor, generator: torch.Generator) -> float:
        c, h, w = x.shape[1:]
        kernels = self._directions(c, generator, x.device)
        d = self.dilation
        radius = d * (self.patch // 2)
        padded = pad_for_tiling(x, radius, *self.periodic)
        positions = (padded.shape[2] - 2 * radius) * (padded.shape[3] - 2 * radius)
        chunk = max(MIN_CHUNK, min(self.projections, CHUNK_ELEMENTS // max(1, positions)))
        regions, region_count = self._regions(padded.shape[2] - 2 * radius, padded.shape[3] - 2 * radius, generator, x.device)
        total = 0.0
        for start in range(0, self.projections, chunk):
            kern = kernels[start:start + chunk]
            with torch.no_grad():
                ref_proj = [
                    subsample_columns(F.conv2d(r, kern, dilation=d)[0].flatten(1), REFERENCE_SAMPLE_CAP, generator)
                    for r in self.references
                ]
                quantiles = mixture_quantiles(ref_proj, self.weights, min(positions, REFERENCE_SAMPLE_CAP))
            y = F.conv2d(padded, kern, dilation=d)[0].flatten(1)
            # d/dy of mean((y - T)^2) with T fixed, fed to autograd directly (cheaper than pow/mean).
            diff = y.detach() - transport_targets(y, quantiles, regions=regions, region_count=region_count)
            scale = kern.shape[0] / (self.projections * diff.numel())
            total += float(diff.square().sum()) * scale
            y.backward(diff.mul_(2 * scale), retain_graph=start + chunk < self.projections)
        return total


def _axis_regions(n: int, side: float, periodic: bool, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """Cut ``n`` positions into runs of random length side…2·side: labels (n,) and their count.

    A remainder shorter than ``side`` joins the last run. On a periodic axis the cuts start at a
    random offset (wrapping), so no border is ever fixed in the image.
    """
    if n < 2 * side:
        return torch.zeros(n, dtype=torch.long), 1
    cuts = []
    at = 0.0
    while True:
        at += side * (1.0 + float(torch.rand((), generator=generator)))
        if n - at < side:
            break
        cuts.append(at)
    labels = torch.searchsorted(torch.tensor(cuts, dtype=torch.float64), torch.arange(n, dtype=torch.float64) + 0.5)
    if periodic:
        labels = torch.roll(labels, int(torch.randint(0, n, (), generator=generator)))
    return labels, len(cuts) + 1

