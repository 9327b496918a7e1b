"""Small convolutional feature extractors written out by hand (there is no torchvision CPU build).

Both wrap every convolution with :func:`pad_for_tiling`, so features of a periodic image are periodic.
- :class:`RandomNet`: three conv blocks with fixed, seeded random filters. Ustyuzhaninov et al. 2017
  show random multi-scale filters already synthesise natural textures, and it needs no download.
- :class:`VGG19Features`: torchvision's ``vgg19().features`` layout up to relu5_1, with average
  pooling (Gatys et al. 2015), fed by :func:`load_vgg19_weights`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import InputError
from .padding import pad_for_tiling

# torchvision vgg19 "features" indices of the conv layers, and where the max-pools sit.
VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)  # widths 64…512
VGG19_POOL_AFTER = {2, 7, 16, 25}  # pool after these conv indices (after their ReLU)
VGG19_STYLE_LAYERS = (0, 5, 10, 19, 28)  # relu1_1 … relu5_1 (indices of their conv)
VGG19_NEEDED = tuple(i for i in VGG19_CONVS if i <= max(VGG19_STYLE_LAYERS))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

RANDOM_NET_SEED = 20170401  # fixed: the features, not the user's seed, define the statistics
RANDOM_NET_WIDTHS = (48, 96, 160)


class FeatureNet(torch.nn.Module):
    """Common forward pass: convs with tiling-aware padding, ReLU, 2× average pooling between blocks."""

    def __init__(self, periodic: tuple[bool, bool]) -> None:
        super().__init__()
        self.periodic = periodic

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = pad_for_tiling(x, weight.shape[-1] // 2, *self.periodic, mode_other="replicate")
        return F.relu(F.conv2d(x, weight, bias))

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < 2:
            return x
        return F.avg_pool2d(x, 2, ceil_mode=True)


class RandomNet(FeatureNet):
    """Three blocks of seeded random 3×3 (then 5×5) filters; returns the three block outputs."""

    def __init__(self, channels: int = 3, periodic: tuple[bool, bool] = (True, True)) -> None:
        super().__init__(periodic)
        gen = torch.Generator().manual_seed(RANDOM_NET_SEED)
        weights = []
        c_in = channels
        for i, c_out in enumerate(RANDOM_NET_WIDTHS):
            k = 3 if i == 0 else 5
            w = torch.randn(c_out, c_in, k, k, generator=gen)
            w = w - w.mean(dim=(1, 2, 3), keepdim=True)  # zero-mean filters respond to texture, not brightness
            w = w / w.flatten(1).norm(dim=1)[:, None, None, None]
            weights.append(torch.nn.Parameter(w, requires_grad=False))
            c_in = c_out
        self.weights = torch.nn.ParameterList(weights)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        x = (x - 0.5) * 4.0
        for i, w in enumerate(self.weights):
            if i:
                x = self._pool(x)
            x = self._conv(x, w, None)
            feats.append(x)
        return feats


class VGG19Features(FeatureNet):
    """VGG19 conv stack to relu5_1 with average pooling; returns relu1_1 … relu5_1."""

    def __init__(self, state: dict[str, torch.Tensor], periodic: tuple[bool, bool] = (True, True)) -> None:
        super().__init__(periodic)
        self.convs = torch.nn.ParameterDict()
        for i in VGG19_NEEDED:
            self.convs[f"w{i}"] = torch.nn.Parameter(state[f"features.{i}.weight"].float(), requires_grad=False)
            self.convs[f"b{i}"] = torch.nn.Parameter(state[f"features.{i}.bias"].float(), requires_grad=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        x = (x - self.mean) / self.std
        for i in VGG19_NEEDED:
            x = self._conv(x, self.convs[f"w{i}"], self.convs[f"b{i}"])
            if i in VGG19_STYLE_LAYERS:
                feats.append(x)
            if i in VGG19_POOL_AFTER:
                x = self._pool(x)
        return feats


def check_vgg19_state(state: dict, source: str) -> dict[str, torch.Tensor]:
    """Validate torchvision's ``vgg19().features`` layout and return the tensors we use.

    Keys, 3×3 kernels, biases and the chaining of channels (each layer's input channels equal the
    previous layer's outputs, starting from RGB) are checked; the widths themselves are read from the
    file, so a real VGG19 (64…512) and a narrow test network in the same layout both load.
    """
    out: dict[str, torch.Tensor] = {}
    c_in = 3
    for idx in VGG19_NEEDED:
        wkey, bkey = f"features.{idx}.weight", f"features.{idx}.bias"
        for key in (wkey, bkey):
            if key not in state:
                raise InputError(f"VGG19 weights file lacks {key} (expected torchvision's vgg19 layout): {source}")
            if not isinstance(state[key], torch.Tensor):
                raise InputError(f"VGG19 weights: {key} is not a tensor: {source}")
            if not torch.isfinite(state[key]).all():
                raise InputError(f"VGG19 weights: {key} holds NaN or infinite values: {source}")
        w, b = state[wkey], state[bkey]
        if w.ndim != 4 or tuple(w.shape[1:]) != (c_in, 3, 3):
            raise InputError(f"VGG19 weights: {wkey} has shape {tuple(w.shape)}, expected (N, {c_in}, 3, 3): {source}")
        if tuple(b.shape) != (w.shape[0],):
            raise InputError(f"VGG19 weights: {bkey} has shape {tuple(b.shape)}, expected ({w.shape[0]},): {source}")
        out[wkey], out[bkey] = w, b
        c_in = w.shape[0]
    return out


def load_vgg19_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a torchvision-layout VGG19 state dict without executing pickled code, then check it.

    ``weights_only=True`` refuses arbitrary pickled objects; :func:`check_vgg19_state` then checks
    every tensor we need, so a wrong file fails here with a precise message, not deep inside a conv.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"VGG19 weights file not found: {p}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; our message says it all
            warnings.simplefilter("ignore")
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError for non-torch files, EOFError…
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise InputError(f"not a plain torch state dict (refused to load): {p}: {first[:160]}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"VGG19 weights file holds a {type(state).__name__}, not a state dict: {p}")
    return check_vgg19_state(state, str(p))
