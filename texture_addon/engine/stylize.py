"""``stylize``: repaint a content image with the textures of one or several style images.

The output starts as the content and is optimised coarse to fine (the same loop as synthesis) under
two losses: the engine's style loss against the weighted styles, and a content loss that keeps the
content's *structure*: the local energy of small zero-mean filters, pooled over 2×2 and 4×4
cells. Pooled filter energy says "an edge of this orientation and contrast is here" but not which
exact pixels make it, so the style is free to re-texture the surface while the layout stays.

``strength`` sets the balance. The style loss is normalised by its value on the content itself at
each level (how far the content is from the style at that scale), the content loss by the
content's feature energy; both are then unit-free and the ratio (1 − s)/s between them means the
same thing at every level and for every pair of images.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .device import configure_threads, resolve_device
from .padding import pad_for_tiling
from .pbr import WrapFilter
from .presets import PRESETS, QUALITIES, ladder
from .progress import CancelToken, ProgressCallback
from .pyramid import Level, PyramidJob, plan_levels, run_pyramid
from .resample import resize
from .synthesize import METHODS, build_network, check_size, check_weights, make_feature_loss_factory, noise_init, to_tensor

LUMA = (0.2126, 0.7152, 0.0722)
CONTENT_FILTERS = 32
CONTENT_FILTER_SEED = 7041
CONTENT_POOLS = (2, 4)
# Calibrates strength: at 0.5 the content keeps its layout while the surface takes the style's
# patches (measured on the example textures; see tests/test_stylize.py).
CONTENT_BALANCE = 0.3
TILE_FREE_BAND = 0.15
# The content decides the layout, so the pyramid stops before the content's shapes shrink to a
# few pixels (synthesis goes down to ~16 px, where the style alone would redraw the layout).
MIN_COARSE_SIDE = 48  # with tile=True the content loss fades out over this fraction of each side


def _structure_filters(channels: int) -> torch.Tensor:
    """Fixed random zero-mean 3×3 filters: they see edges and texture, not flat brightness."""
    gen = torch.Generator().manual_seed(CONTENT_FILTER_SEED)
    w = torch.randn(CONTENT_FILTERS, channels, 3, 3, generator=gen)
    w = w - w.mean(dim=(1, 2, 3), keepdim=True)
    return w / w.flatten(1).norm(dim=1)[:, None, None, None]


def edge_mask(height: int, width: int, periodic: tuple[bool, bool], band: float) -> torch.Tensor:
    """(1, 1, H, W) weights: 0 on the wrap boundary of periodic axes, rising to 1 over ``band``·side."""
    def ramp(n: int, on: bool) -> torch.Tensor:
        if not on or band <= 0:
            return torch.ones(n)
        d = torch.minimum(torch.arange(n) + 0.5, n - 0.5 - torch.arange(n)) / max(1.0, band * n)
        return d.clamp(0, 1)

    return (ramp(height, periodic[0])[:, None] * ramp(width, periodic[1])[None, :])[None, None]


class ContentLoss:
    """Pooled filter-energy difference to the content, relative to the content's own energy."""

    def __init__(self, content: torch.Tensor, periodic: tuple[bool, bool], weight: float, mask: Optional[torch.Tensor] = None) -> None:
        self.periodic = periodic
        self.weight = weight
        self.filters = _structure_filters(content.shape[1]).to(content.device)
        with torch.no_grad():
            self.targets = self._features(content)
            masks = [torch.ones_like(t[:, :1]) for t in self.targets] if mask is None else self._pooled(mask.to(content.device))
            self.masks = masks
            self.norms = [float((t * t * m).mean().clamp_min(1e-8)) for t, m in zip(self.targets, masks)]

    def _pooled(self, a: torch.Tensor) -> list[torch.Tensor]:
        return [F.avg_pool2d(a, p, ceil_mode=True) if min(a.shape[-2:]) >= p else a for p in CONTENT_POOLS]

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        padded = pad_for_tiling((x - 0.5) * 4.0, 1, *self.periodic, mode_other="replicate")
        return self._pooled(F.relu(F.conv2d(padded, self.filters)))

    def backward(self, x: torch.Tensor, generator: torch.Generator) -> float:
        if self.weight <= 0:
            return 0.0
        terms = [((f - t) ** 2 * m).mean() / n for f, t, m, n in zip(self._features(x), self.targets, self.masks, self.norms)]
        loss = self.weight * torch.stack(terms).sum() / len(terms)
        loss.backward()
        return float(loss.detach())


class MirroredBorders:
    """Evaluate a style loss on the image mirrored at its borders (for non-tiling output).

    Unpadded, a border pixel lies in one patch where an interior pixel lies in 49, so the style
    barely reaches the frame and the content's colours survive there as a visible rim. Mirroring
    gives every pixel the same patch coverage; gradients flow back through the padding.
    """

    def __init__(self, loss, radius: int) -> None:
        self.loss = loss
        self.radius = radius

    def backward(self, x: torch.Tensor, generator: torch.Generator) -> float:
        r = min(self.radius, x.shape[2] - 1, x.shape[3] - 1)
        return self.loss.backward(F.pad(x, (r, r, r, r), mode="reflect"), generator)


def style_reference_value(loss, image: torch.Tensor, generator: torch.Generator) -> float:
    """The style loss of ``image`` (its gradient thrown away).

    Evaluated on the style's own pixels shuffled into white noise, it measures how much spatial
    structure the style has at this scale: the unit in which the style loss is expressed.
    """
    probe = image.detach().clone().requires_grad_(True)
    return max(float(loss.backward(probe, generator)), 1e-12)


def starting_image(content: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """The content, with its wrap boundary (where ``mask`` < 1) replaced by a wrap-around blur.

    The blur joins both sides smoothly, so the style loss only has to add texture there instead of
    first having to undo the content's hard seam.
    """
    if mask is None:
        return content.clone()
    h, w = content.shape[2:]
    smooth = WrapFilter(h, w, (True, True)).blur(content, max(1.0, TILE_FREE_BAND * min(h, w) / 2))
    return content * mask + smooth * (1 - mask)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) → (1, 1, H, W) Rec. 709 luminance."""
    return (x * torch.tensor(LUMA, device=x.device).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def match_moments(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Shift and scale ``x`` to the mean and standard deviation of ``like`` (Gatys et al. 2016)."""
    return ((x - x.mean()) * (like.std() / x.std().clamp_min(1e-6)) + like.mean()).clamp(0, 1)


def output_size(height: int, width: int, size: Optional[int]) -> tuple[int, int]:
    """The output keeps the content's aspect; ``size`` (if given) is its longer side."""
    if size is None:
        return check_size("content height", height), check_size("content width", width)
    size = check_size("size", size)
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _check_stylize_args(styles: Sequence[np.ndarray], weights: Optional[Sequence[float]], strength: float,
                        quality: str, method: str) -> tuple[list[float], float]:
    """The styles' weights and the strength as numbers, or one InputError naming the bad argument.

    Checked before any image is converted, so a wrong word or range fails fast and says why.
    """
    if not styles:
        raise InputError("at least one style image is needed")
    w = check_weights(weights, len(styles))
    strength = float(strength)
    if not 0.0 <= strength <= 1.0 or not np.isfinite(strength):
        raise InputError(f"strength must be within 0…1, got {strength}")
    if quality not in QUALITIES:
        raise InputError(f"unknown quality {quality!r} (choose from {', '.join(QUALITIES)})")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    return w, strength


def _style_targets(c: torch.Tensor, styles: Sequence[torch.Tensor], weights: Sequence[float],
                   preserve_colors: bool, dev: torch.device) -> tuple[torch.Tensor, list[torch.Tensor], list[float]]:
    """The image to optimise towards, the styles with a positive weight, and those weights.

    With ``preserve_colors`` both sides are luminance (each style's tones matched to the
    content's), so the style moves brightness only and the content's chroma is put back later.
    """
    kept = [(s, wt) for s, wt in zip(styles, weights) if wt > 0]
    if preserve_colors:
        target = luminance(c)
        refs = [match_moments(luminance(s), target).to(dev) for s, _ in kept]
    else:
        target = c
        refs = [s.to(dev) for s, _ in kept]
    return target.to(dev), refs, [wt for _, wt in kept]


def _to_image(out: torch.Tensor, c: torch.Tensor, preserve_colors: bool, dev: torch.device) -> np.ndarray:
    """The optimised tensor as an (H, W, 3) array, the content's chroma restored if it was kept."""
    if preserve_colors:
        out = (c.to(dev) + (out - luminance(c.to(dev)))).clamp(0, 1)
    return np.ascontiguousarray(out[0].permute(1, 2, 0).clamp(0, 1).float().cpu().numpy())


def stylize(
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    weights: Optional[Sequence[float]] = None,
    strength: float = 0.7,
    preserve_colors: bool = False,
    tile: bool = False,
    size: Optional[int] = None,
    seed: int = 0,
    quality: str = "default",
    method: str = "nn",
    device: str = "auto",
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> np.ndarray:
    """Return the content (H, W, 3) re-rendered with the weighted styles' textures, float32 in [0, 1].

    ``strength`` 0…1 moves from the content (0 returns it unchanged) to the style (1: the content
    only sets the starting point). ``preserve_colors`` transfers the style on luminance only (the
    style's tones first matched to the content's) and keeps the content's chroma. ``tile`` treats the
    content as periodic and frees a band at its wrap boundary from the content loss, so the style
    re-synthesises a seamless join and the output tiles. ``size`` is the output's longer side.
    ``method`` ``nn`` (default) rebuilds the content from the styles' own patches (texture
    optimisation with a content term, as in Elad & Milanfar 2017); ``patch``/``cnn`` match their
    statistics under the pooled-structure content loss.
    """
    w, strength = _check_stylize_args(styles, weights, strength, quality, method)
    periodic = (bool(tile), bool(tile))
    c = to_tensor(content, "content image")
    height, width = output_size(c.shape[2], c.shape[3], size)
    style_t = [to_tensor(s, f"style image {i + 1}") for i, s in enumerate(styles)]
    dev = resolve_device(device)
    configure_threads()

    c = resize(c, height, width, *periodic).clamp(0, 1)
    if strength == 0.0:
        return np.ascontiguousarray(c[0].permute(1, 2, 0).numpy())
    target, refs, w = _style_targets(c, style_t, w, preserve_colors, dev)
    mask = edge_mask(height, width, periodic, TILE_FREE_BAND).to(dev) if tile else None
    if method == "nn":
        out = _stylize_nn(target, refs, w, strength, periodic, mask, quality, seed, progress, cancel)
    else:
        out = _stylize_statistics(target, refs, w, strength, periodic, mask, quality, method, seed, dev,
                                  progress, cancel)
    return _to_image(out, c, preserve_colors, dev)


def _content_levels(preset, height: int, width: int, refs: Sequence[torch.Tensor]) -> list[Level]:
    """The pyramid's levels, stopped before the content's shapes shrink below MIN_COARSE_SIDE."""
    smallest = min(min(min(r.shape[2:]) for r in refs), min(height, width))
    count = plan_levels(height, width, smallest)
    while count > 1 and min(height, width) / 2 ** (count - 1) < MIN_COARSE_SIDE:
        count -= 1
    return ladder(preset, height, width, count)


def _at_level(a: torch.Tensor, level: Level, periodic: tuple[bool, bool]) -> torch.Tensor:
    """``a`` resized to the level's size (itself when it already has it)."""
    return resize(a, level.height, level.width, *periodic) if (level.height, level.width) != a.shape[2:] else a


def _stylize_statistics(target: torch.Tensor, refs: Sequence[torch.Tensor], w: Sequence[float], strength: float,
                        periodic: tuple[bool, bool], mask: Optional[torch.Tensor], quality: str, method: str,
                        seed: int, dev: torch.device, progress: Optional[ProgressCallback],
                        cancel: Optional[CancelToken]) -> torch.Tensor:
    """The ``patch``/``cnn`` route: the styles' statistics matched under the pooled-structure content loss."""
    height, width = target.shape[2:]
    tile = mask is not None
    preset = PRESETS[quality]
    levels = _content_levels(preset, height, width, refs)
    net = build_network(method, None, periodic, channels=target.shape[1])
    if net is not None:
        net = net.to(dev)
    shuffled = noise_init(refs, w)
    style_factory = make_feature_loss_factory(refs, w, method, periodic, preset.projections, preset.patch, net,
                                              dilations=preset.dilations)
    generator = torch.Generator().manual_seed(int(seed))

    def make_losses(level: Level):
        style = style_factory(level)
        if not tile and method == "patch":
            style = [MirroredBorders(loss, getattr(loss, "dilation", 1) * (preset.patch // 2)) for loss in style]
        content_level = _at_level(target, level, periodic)
        if strength >= 1.0:
            return style
        noise = shuffled(level, generator).to(dev)
        scale = sum(style_reference_value(loss, noise, generator) for loss in style)
        balance = CONTENT_BALANCE * (1.0 - strength) / strength * scale
        level_mask = _at_level(mask, level, periodic) if mask is not None else None
        return [*style, ContentLoss(content_level, periodic, balance, level_mask)]

    def init(level: Level, gen: torch.Generator) -> torch.Tensor:
        level_mask = _at_level(mask, level, periodic) if mask is not None else None
        return starting_image(_at_level(target, level, periodic), level_mask)

    job = PyramidJob(
        out_height=height,
        out_width=width,
        periodic=periodic,
        levels=levels,
        make_losses=make_losses,
        init=init,
        generator=generator,
        device=dev,
        stage="stylize",
        progress=progress,
        cancel=cancel,
        preview_channels=slice(0, target.shape[1]),
    )
    return run_pyramid(job)


#: How strongly the content pulls each update back at strength 0.5 (the pull is proportional to
#: (1 − strength)/strength): at 0.5 the layout stays while the surface is made of style patches.
NN_CONTENT_PULL = 0.35


def _stylize_nn(target: torch.Tensor, refs: Sequence[torch.Tensor], weights: Sequence[float], strength: float,
                periodic: tuple[bool, bool], mask: Optional[torch.Tensor], quality: str, seed: int,
                progress: Optional[ProgressCallback], cancel: Optional[CancelToken]) -> torch.Tensor:
    """Texture optimisation started from the content, each update pulled back towards it.

    E(x) = Σ_p ‖P_p x − z_p‖² + λ‖x − c‖² is minimised by the correspondence loop with the content
    term applied after each vote (the exact minimiser for fixed matches is the blend). With
    ``mask`` (tiling) the pull fades out at the wrap boundary, where the styles alone join the
    edges seamlessly.
    """
    from .optimisation import CorrespondenceJob
    from .optimisation import run as run_correspondence
    from .presets import CORRESPONDENCE_PRESETS

    pull = min(0.95, NN_CONTENT_PULL * (1.0 - strength) / max(strength, 1e-3))
    h, w = target.shape[2:]

    def constrain(x: torch.Tensor, level) -> torch.Tensor:
        size = x.shape[2:]
        c = resize(target, *size, *periodic) if tuple(size) != (h, w) else target
        beta = pull if mask is None else pull * (resize(mask, *size, *periodic) if tuple(size) != (h, w) else mask)
        return x + beta * (c - x)

    preset = CORRESPONDENCE_PRESETS[quality]
    job = CorrespondenceJob(list(refs), list(weights), h, w, periodic, preset, torch.Generator().manual_seed(int(seed)),
                            stage="stylize", progress=progress, cancel=cancel,
                            preview_channels=slice(0, target.shape[1]), constrain=constrain if pull > 0 else None,
                            start=target)
    return run_correspondence(job)
