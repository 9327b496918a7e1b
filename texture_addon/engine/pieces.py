"""A large output's coarsest level started from pieces of the reference at random offsets.

An output many times the reference's area is laid out at its coarsest level, where it is many
reference-widths wide. Started from white noise of patches (random matches), the search there
organises the noise into whatever arrangement it finds first and keeps reusing a few reference
regions (a 1024² output from a 256² reference: half of the level's patches unused, the busiest
used 16–95× the mean), which recur at the lags where the reference resembles itself: a lattice of
its distinctive spots, bands along its chance correlation, cells packed more regularly than the
reference's. Started from pieces of the reference placed independently (Lefebvre & Hoppe 2005's
jittered coordinates, with pieces instead of a grid), the level already holds the reference's own
arrangement everywhere and every part of it about as often; its iterations only join the pieces.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .correspondence import Bank


def _wrapped(d: torch.Tensor, n: int, periodic: bool) -> torch.Tensor:
    return (d + n // 2) % n - n // 2 if periodic else d


def piece_field(bank: Bank, height: int, width: int, periodic: tuple[bool, bool], spacing: float,
                weights: Sequence[float], generator: torch.Generator) -> torch.Tensor:
    """A start made of reference pieces at random offsets (Lefebvre & Hoppe 2005's jittered layout).

    The output is cut into the cells of random seeds about ``spacing`` px apart (each pixel goes to
    its nearest seed, wrapping on periodic axes: no grid, so no lattice of seams), and every cell is
    a copy of the reference around a random point, drawn so that the whole cell lies inside it.
    Unlike white noise of patches, which the first iterations organise into whatever arrangement
    they find first, such a start already holds the reference's own arrangement everywhere, in
    pieces placed independently, and uses every part of the reference about equally.
    """
    dev = bank.features.device
    count = max(1, round(height * width / spacing ** 2))
    sy = torch.randint(0, height, (count,), generator=generator).to(dev)
    sx = torch.randint(0, width, (count,), generator=generator).to(dev)
    ys = torch.arange(height, device=dev).repeat_interleave(width)
    xs = torch.arange(width, device=dev).repeat(height)
    near = torch.empty(height * width, dtype=torch.long, device=dev)
    rows = max(1, (1 << 20) // count)
    for s in range(0, near.numel(), rows):
        dy = _wrapped(ys[s:s + rows, None] - sy[None, :], height, periodic[0])
        dx = _wrapped(xs[s:s + rows, None] - sx[None, :], width, periodic[1])
        near[s:s + rows] = (dy * dy + dx * dx).argmin(dim=1)
    dy = _wrapped(ys - sy[near], height, periodic[0])
    dx = _wrapped(xs - sx[near], width, periodic[1])
    total = float(sum(weights))
    owner = torch.multinomial(torch.tensor([w / total for w in weights]), count, replacement=True,
                              generator=generator).to(dev)
    r = bank.radius
    big = height + width
    lo_y = torch.full((count,), big, device=dev).scatter_reduce_(0, near, dy, "amin")
    hi_y = torch.full((count,), -big, device=dev).scatter_reduce_(0, near, dy, "amax")
    lo_x = torch.full((count,), big, device=dev).scatter_reduce_(0, near, dx, "amin")
    hi_x = torch.full((count,), -big, device=dev).scatter_reduce_(0, near, dx, "amax")
    vh, vw = bank.valid[owner, 0], bank.valid[owner, 1]
    u = torch.rand(2, count, generator=generator).to(dev)
    cy = _uniform_between(r - lo_y, r + vh - 1 - hi_y, u[0])
    cx = _uniform_between(r - lo_x, r + vw - 1 - hi_x, u[1])
    return bank.index(owner[near], cy[near] + dy, cx[near] + dx)


def _uniform_between(lo: torch.Tensor, hi: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """An integer drawn uniformly in [lo, hi] (their middle where the range is empty)."""
    empty = hi < lo
    mid = (lo + hi) // 2
    lo, hi = torch.where(empty, mid, lo), torch.where(empty, mid, hi)
    return lo + torch.floor(u * (hi - lo + 1).float()).long().clamp_max_(hi - lo)
