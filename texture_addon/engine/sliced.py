"""One-dimensional optimal transport, the heart of every sliced Wasserstein loss here.

Projecting features on a random direction turns distribution matching into matching two 1-D
distributions, whose optimal transport map is "same rank → same value". We get each output value's
rank from a histogram CDF (O(N), integer counts so it is deterministic) instead of a full sort, which
on a CPU costs ten times more; the reference side is sorted once per step on a capped sample.
The gradient of ½‖y − T(y)‖² with T held fixed is exactly the sliced Wasserstein gradient.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

REFERENCE_SAMPLE_CAP = 131072


def sort_rows(t: torch.Tensor) -> torch.Tensor:
    """Sort each row; on the CPU numpy's vectorised sort is several times faster than torch's."""
    t = t.detach()
    if t.device.type == "cpu":
        return torch.from_numpy(np.sort(t.contiguous().numpy(), axis=1))
    return torch.sort(t, dim=1).values


def resample_sorted(s: torch.Tensor, count: int) -> torch.Tensor:
    """Evaluate the quantile function given by sorted rows ``s`` (P, M) at ``count`` mid-ranks."""
    m = s.shape[1]
    if m == count:
        return s
    pos = ((torch.arange(count, device=s.device, dtype=torch.float32) + 0.5) * (m / count) - 0.5).clamp(0, m - 1)
    i0 = pos.floor().long().clamp(max=max(m - 2, 0))
    i1 = (i0 + 1).clamp(max=m - 1)
    t = (pos - i0.float())[None, :]
    return s[:, i0] * (1 - t) + s[:, i1] * t


def mixture_quantiles(projections: Sequence[torch.Tensor], weights: Sequence[float], count: int) -> torch.Tensor:
    """Quantiles (P, count) of the weighted mixture Σ wᵢ φᵢ of several references' projections.

    Each reference contributes a share of samples proportional to its weight, drawn evenly along its
    own quantile function, so a reference's size never changes its influence.
    """
    total = float(sum(weights))
    if len(projections) == 1:
        return resample_sorted(sort_rows(projections[0]), count)
    parts = []
    for proj, w in zip(projections, weights):
        n = int(round(count * w / total))
        if n > 0:
            parts.append(resample_sorted(sort_rows(proj), n))
    return sort_rows(torch.cat(parts, dim=1))


def transport_targets(
    y: torch.Tensor,
    quantiles: torch.Tensor,
    bins: int | None = None,
    regions: torch.Tensor | None = None,
    region_count: int = 1,
) -> torch.Tensor:
    """Where each value of ``y`` (P, N) should move: the target quantile at its rank among its row.

    The monotone 1-D transport map is tabulated at the edges of a histogram of ``y`` (a small
    P × bins table: edge value → target quantile at that edge's CDF), then applied to every element
    by linear interpolation. That costs a handful of passes over ``y``; at fine levels ``y`` is far
    larger than the caches, so the number of passes is what sets the speed.

    With ``regions`` (N,) — a label in ``[0, region_count)`` per column — each region of each row
    gets its own histogram, so every region is pushed to the whole reference distribution on its
    own (see :class:`~texture_addon.engine.patches.PatchSlicedLoss`).
    """
    p, n = y.shape
    g = region_count if regions is not None else 1
    y = y.detach()
    if bins is None:
        bins = int(min(4096, max(64, n // (32 * g))))
    lo = y.amin(dim=1, keepdim=True)
    span = (y.amax(dim=1, keepdim=True) - lo).clamp_min(1e-12)
    u = (y - lo).mul_(bins / span)
    b = u.long().clamp_(0, bins - 1)
    frac = u.sub_(b).clamp_(0, 1)
    if g > 1:
        b.add_(regions * bins)  # in place, broadcast over rows: no second (P, N) index tensor
    row = torch.arange(p, device=y.device)[:, None]
    flat = b.add_(row * (g * bins))
    counts = torch.bincount(flat.view(-1), minlength=p * g * bins).view(p * g, bins).to(y.dtype)
    sizes = counts.sum(dim=1, keepdim=True).clamp_min(1)
    edge_cdf = torch.cat([torch.zeros_like(counts[:, :1]), counts.cumsum(dim=1)], dim=1) / sizes  # (P·G, bins+1)
    r = quantiles.shape[1]
    pos = (edge_cdf * r - 0.5).clamp_(0, r - 1)
    i0 = pos.floor().long().clamp_(max=max(r - 2, 0))
    t = pos - i0
    base = (torch.arange(p * g, device=y.device) // g)[:, None] * r  # each region reads its row's quantiles
    flat_q = quantiles.reshape(-1)
    q0 = flat_q[base + i0]
    q1 = flat_q[base + (i0 + 1).clamp_(max=r - 1)]
    knots = q0 + (q1 - q0) * t                                      # T(edge), (P·G, bins+1)
    slope = knots[:, 1:] - knots[:, :-1]                            # (P·G, bins)
    flat_knots = knots[:, :-1].reshape(-1)
    return flat_knots[flat].addcmul_(slope.reshape(-1)[flat], frac)


def subsample_columns(t: torch.Tensor, cap: int, generator: torch.Generator) -> torch.Tensor:
    """Keep at most ``cap`` random columns: quantiles of a large reference barely change, its cost does."""
    n = t.shape[1]
    if n <= cap:
        return t
    idx = torch.randint(0, n, (cap,), generator=generator).to(t.device)
    return t[:, idx]


def random_directions(count: int, dim: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Unit vectors (count, dim), drawn on the CPU so results do not depend on the device's RNG."""
    d = torch.randn(count, dim, generator=generator)
    d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return d.to(device)
