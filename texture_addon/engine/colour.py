"""Final colour-distribution match of the output to the (weighted) references.

The patch optimisation ends close to the reference colours but can drift slightly (the finest levels
get few steps). A few rounds of sliced 3-D transport on the pixels (Pitié et al.'s iterative
distribution transfer) move the full joint RGB distribution onto the references' mixture; being a
per-pixel map it cannot create seams.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .sliced import mixture_quantiles, subsample_columns, transport_targets

COLOUR_SAMPLE_CAP = 262144


def _random_rotation(generator: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()


def match_colours(
    image: torch.Tensor,
    references: Sequence[torch.Tensor],
    weights: Sequence[float],
    generator: torch.Generator,
    iterations: int = 12,
) -> torch.Tensor:
    """Return ``image`` (1, C, H, W) with its pixel distribution moved onto the references' mixture."""
    c = image.shape[1]
    x = image.detach().flatten(2)[0].clone()  # (C, N)
    refs = [subsample_columns(r.flatten(2)[0], COLOUR_SAMPLE_CAP, generator) for r in references]
    for _ in range(iterations):
        rot = _random_rotation(generator).to(x.device) if c == 3 else torch.eye(c, device=x.device)
        y = rot @ x
        q = mixture_quantiles([rot @ r for r in refs], weights, min(y.shape[1], COLOUR_SAMPLE_CAP))
        x = x + rot.t() @ (transport_targets(y, q) - y)
        if c != 3:
            break
    return x.view_as(image).clamp_(0, 1)
