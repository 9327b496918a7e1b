"""CNN feature family: match statistics of convolutional features, by Gram matrices or sliced Wasserstein."""

from __future__ import annotations

from typing import Sequence

import torch

from ..contract.vocabulary import CNN_LOSSES
from .losses import gram, sliced_feature_loss
from .networks import FeatureNet
from .sliced import REFERENCE_SAMPLE_CAP, mixture_quantiles, random_directions, subsample_columns


class CNNFeatureLoss:
    """Loss on the features of ``net`` at one pyramid level against the weighted references."""

    def __init__(self, net: FeatureNet, references: Sequence[torch.Tensor], weights: Sequence[float], loss: str = "sw") -> None:
        if loss not in CNN_LOSSES:
            raise ValueError(f"unknown CNN loss {loss!r}")
        self.net = net
        self.loss = loss
        total = float(sum(weights))
        self.weights = [w / total for w in weights]
        with torch.no_grad():
            self.ref_features = [net(r) for r in references]
        if loss == "gram":
            # Σ wᵢ Gᵢ is the Gram matrix of the mixture of the references' feature distributions.
            self.targets = [
                sum(w * gram(f[layer]) for w, f in zip(self.weights, self.ref_features))
                for layer in range(len(self.ref_features[0]))
            ]

    def backward(self, x: torch.Tensor, generator: torch.Generator) -> float:
        feats = self.net(x)
        terms = []
        for layer, f in enumerate(feats):
            if self.loss == "gram":
                g = gram(f)
                terms.append(((g - self.targets[layer]) ** 2).sum() / (self.targets[layer].abs().mean() ** 2 * g.numel() + 1e-12))
            else:
                c = f.shape[1]
                dirs = random_directions(c, c, generator, f.device)
                with torch.no_grad():
                    refs = [subsample_columns(dirs @ rf[layer].flatten(2)[0], REFERENCE_SAMPLE_CAP, generator) for rf in self.ref_features]
                    q = mixture_quantiles(refs, self.weights, min(f.shape[2] * f.shape[3], REFERENCE_SAMPLE_CAP))
                scale = float(q.std().clamp_min(1e-6)) ** 2
                terms.append(sliced_feature_loss(f, q, dirs) / scale)
        loss = torch.stack(terms).sum()
        loss.backward()
        return float(loss.detach())
