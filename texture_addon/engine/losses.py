"""The per-level loss interface shared by both feature families.

A level loss computes its value *and* back-propagates it into the image itself, because the patch
family splits its projections into chunks (gradient accumulation) to bound memory at 4096²; the
optimisation loop only ever sees ``backward(x, generator) -> float``.
"""

from __future__ import annotations

from typing import Protocol

import torch


class LevelLoss(Protocol):
    def backward(self, x: torch.Tensor, generator: torch.Generator) -> float:
        """Accumulate d(loss)/dx into ``x.grad`` and return the loss value."""
        ...


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix (C, C) of (1, C, H, W) features normalised by the number of positions (Gatys 2015)."""
    f = features.flatten(2)[0]
    return f @ f.t() / f.shape[1]


def sliced_feature_loss(features: torch.Tensor, quantiles: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein loss of (1, C, H, W) features against precomputed projected quantiles."""
    from .sliced import transport_targets

    y = directions @ features.flatten(2)[0]
    return ((y - transport_targets(y, quantiles)) ** 2).mean()
