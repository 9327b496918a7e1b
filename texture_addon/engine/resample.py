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


def fourier_upsample(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """Band-limited upsampling of a periodic axis by zero-padding its spectrum.

    Linear interpolation by 2 halves the differences between output pixels that share an input
    pixel but not those that straddle two, so every pyramid level leaves a period-2 pattern in the
    strength of edges; over four levels that is a visible 16-pixel grid. The Fourier interpolant
    treats every position alike (it commutes with sub-pixel shifts), so no grid can appear.
    """
    n = x.shape[dim]
    spec = torch.fft.rfft(x, dim=dim)
    if n % 2 == 0:  # the Nyquist bin is shared by +/- frequencies: keep half of it
        nyq = spec.narrow(dim, n // 2, 1) * 0.5
        spec = torch.cat([spec.narrow(dim, 0, n // 2), nyq], dim=dim)
    return torch.fft.irfft(spec, n=size, dim=dim) * (size / n)


def resize(x: torch.Tensor, height: int, width: int, periodic_y: bool = False, periodic_x: bool = False) -> torch.Tensor:
    """Resize (B, C, H, W) to (B, C, height, width).

    Shrinking (and enlarging a non-periodic axis) uses a separable triangle filter; enlarging a
    periodic axis uses :func:`fourier_upsample`.
    """
    _, _, h, w = x.shape
    if height != h:
        if periodic_y and height > h:
            x = fourier_upsample(x, height, 2)
        else:
            idx, wt = _taps(h, height, periodic_y, x.device)
            x = (x[:, :, idx, :] * wt[None, None, :, :, None]).sum(dim=3)
    if width != w:
        if periodic_x and width > w:
            x = fourier_upsample(x, width, 3)
        else:
            idx, wt = _taps(w, width, periodic_x, x.device)
            x = (x[:, :, :, idx] * wt[None, None, None, :, :]).sum(dim=4)
    return x


def scaled_size(height: int, width: int, factor: float, minimum: int = 1) -> tuple[int, int]:
    return max(minimum, round(height * factor)), max(minimum, round(width * factor))
