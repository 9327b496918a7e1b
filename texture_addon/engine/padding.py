"""Padding that decides whether the output tiles: wrap on periodic axes, nothing on the others."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_for_tiling(x: torch.Tensor, radius: int, periodic_y: bool, periodic_x: bool, mode_other: str | None = None) -> torch.Tensor:
    """Pad (B, C, H, W) by ``radius``: circular on periodic axes; elsewhere ``mode_other`` or none.

    With no padding on a non-periodic axis a convolution sees only real patches (no invented
    border); callers that need the size kept (CNN layers) pass ``mode_other='replicate'``.
    """
    if radius == 0:
        return x
    if periodic_x:
        x = F.pad(x, (radius, radius, 0, 0), mode="circular")
    elif mode_other:
        x = F.pad(x, (radius, radius, 0, 0), mode=mode_other)
    if periodic_y:
        x = F.pad(x, (0, 0, radius, radius), mode="circular")
    elif mode_other:
        x = F.pad(x, (0, 0, radius, radius), mode=mode_other)
    return x
