"""Antialiased resampling that respects periodicity.

The pyramid must not introduce seams: when an axis is periodic, filter taps that fall off one edge
wrap to the other, so a tileable image stays tileable at every level. Non-periodic axes (and
references, which are photographs) clamp at the border instead.
"""

from __future__ import annotations

import math

import torch


def _taps(n_in: int, n_out: int, periodic: bool, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (n_out, K) and weights (n_out, K) of a triangle filter, widened when shrinking."""
    scale = n_in / n_out
    support = max(1.0, scale)
    centres = (torch.arange(n_out, dtype=torch.float64) + 0.5) * scale - 0.5
    k = 2 * math.ceil(support) + 1
    start = torch.floor(centres - support) + 1
    idx = start[:, None] + torch.arange(k, dtype=torch.float64)[None, :]
    w = (1.0 - (idx - centres[:, None]).abs() / support).clamp_min(0.0)
    idx = idx.long()
    idx = idx.remainder(n_in) if periodic else idx.clamp(0, n_in - 1)
    w = w / w.sum(dim=1, keepdim=True)
    return idx.to(device), w.to(device=device, dtype=torch.float32)


def resize(x: torch.Tensor, height: int, width: int, periodic_y: bool = False, periodic_x: bool = False) -> torch.Tensor:
    """Resize (B, C, H, W) to (B, C, height, width) with a separable triangle filter."""
    _, _, h, w = x.shape
    if height != h:
        idx, wt = _taps(h, height, periodic_y, x.device)
        x = (x[:, :, idx, :] * wt[None, None, :, :, None]).sum(dim=3)
    if width != w:
        idx, wt = _taps(w, width, periodic_x, x.device)
        x = (x[:, :, :, idx] * wt[None, None, None, :, :]).sum(dim=4)
    return x


def scaled_size(height: int, width: int, factor: float, minimum: int = 1) -> tuple[int, int]:
    return max(minimum, round(height * factor)), max(minimum, round(width * factor))
