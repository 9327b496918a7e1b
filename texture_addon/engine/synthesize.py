"""``synthesize``: new tileable textures from one or several weighted reference images."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ..contract.vocabulary import MAX_DETAIL, MAX_SIZE, METHODS, MIN_DETAIL, MIN_SIZE, TILE_AXES
from ..errors import InputError
from ..references.seams import place_origin
from .cnn import CNN_LOSSES, CNNFeatureLoss
from .colour import match_colours
from .device import configure_threads, resolve_device
from .losses import LevelLoss
from .networks import RandomNet, VGG19Features, load_vgg19_weights
from .patches import PatchSlicedLoss
from .optimisation import CorrespondenceJob
from .optimisation import run as run_correspondence
from .presets import CORRESPONDENCE_PRESETS, PRESETS, QUALITIES, ladder
from .progress import CancelToken, ProgressCallback
from .pyramid import MIN_REFERENCE_SIDE_AT_COARSEST, Level, PyramidJob, plan_levels, run_pyramid
from .resample import resize

TILINGS = TILE_AXES
DETAIL_SCALE_RANGE = (MIN_DETAIL, MAX_DETAIL)
#: The CNN family's coarsest reference side. At 16 px the random net's receptive field (~27 px)
#: saw the whole reference, and tiling the reference matched its deepest features exactly: lichen
#: at 512² came out as a 2×2 repetition (autocorrelation 0.92 at a lag of 256 px). At 64 px it
#: did not repeat (0.002).
CNN_COARSEST_REFERENCE = 64


def periodic_axes(tile: str) -> tuple[bool, bool]:
    """(periodic in y, periodic in x) for a tiling mode name."""
    try:
        return TILINGS[tile]
    except KeyError:
        raise InputError(f"unknown tiling {tile!r} (choose from {', '.join(TILINGS)})") from None


def check_size(name: str, value: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise InputError(f"{name} must be a whole number of pixels, got {value!r}")
    if not MIN_SIZE <= int(value) <= MAX_SIZE:
        raise InputError(f"{name} {value} out of range ({MIN_SIZE}…{MAX_SIZE})")
    return int(value)


def check_weights(weights: Optional[Sequence[float]], count: int) -> list[float]:
    if weights is None:
        return [1.0] * count
    w = [float(v) for v in weights]
    if len(w) != count:
        raise InputError(f"{len(w)} weight(s) given for {count} reference(s)")
    if any(not np.isfinite(v) or v < 0 for v in w) or sum(w) <= 0:
        raise InputError("weights must be finite, non-negative and not all zero")
    return w


def to_tensor(image: np.ndarray, what: str, channels: Optional[int] = 3) -> torch.Tensor:
    """(H, W, C) float array in [0, 1] → (1, C, H, W) float32 tensor, with clear errors."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or (channels is not None and a.shape[2] != channels):
        raise InputError(f"{what} must be an (H, W, {channels}) image, got shape {np.shape(image)}")
    if min(a.shape[:2]) < 8:
        raise InputError(f"{what} is too small ({a.shape[1]}×{a.shape[0]}; at least 8 px each way)")
    a = a.astype(np.float32, copy=False)
    if not np.isfinite(a).all():
        raise InputError(f"{what} contains NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(np.clip(a, 0, 1))).permute(2, 0, 1)[None].contiguous()


def scale_reference(ref: torch.Tensor, factor: float) -> torch.Tensor:
    """Resize a reference by ``factor`` (detail scale and pyramid level), never below 8 px."""
    if factor == 1.0:
        return ref
    h, w = ref.shape[2:]
    return resize(ref, max(8, round(h * factor)), max(8, round(w * factor)))


def make_feature_loss_factory(
    references: Sequence[torch.Tensor],
    weights: Sequence[float],
    method: str,
    periodic: tuple[bool, bool],
    projections: int,
    patch: int,
    net: Optional[torch.nn.Module] = None,
    cnn_loss: str = "sw",
    dilations: Sequence[int] = (1,),
    fine_dilations: Optional[Sequence[int]] = None,
    fine_projections: int = 32,
    region: float = 0.0,
):
    """Per-level style loss: references are shrunk with the output so both are analysed at one scale."""

    def factory(level: Level) -> list[LevelLoss]:
        refs = [scale_reference(r, level.factor) for r in references]
        if method == "patch":
            finest = level.factor == 1.0 and fine_dilations is not None
            count = fine_projections if finest else projections
            smallest = min(min(r.shape[2:]) for r in refs)
            return [PatchSlicedLoss(refs, weights, patch=patch, projections=count, periodic=periodic, dilation=d,
                                    region=region)
                    for d in (fine_dilations if finest else dilations) if (patch // 2) * d * 2 + 1 <= smallest]
        return [CNNFeatureLoss(net, refs, weights, loss=cnn_loss)]

    return factory


def noise_init(references: Sequence[torch.Tensor], weights: Sequence[float]):
    """Start the coarsest level from white noise drawn from the references' own pixels (mixture)."""

    def init(level: Level, generator: torch.Generator) -> torch.Tensor:
        n = level.height * level.width
        total = float(sum(weights))
        pools = []
        for r, w in zip(references, weights):
            k = int(round(n * w / total))
            if k:
                flat = scale_reference(r, level.factor).flatten(2)[0].cpu()
                pools.append(flat[:, torch.randint(0, flat.shape[1], (k,), generator=generator)])
        pool = torch.cat(pools, dim=1)
        pool = pool[:, torch.randperm(pool.shape[1], generator=generator)]
        if pool.shape[1] < n:
            pool = pool.repeat(1, -(-n // pool.shape[1]))
        return pool[:, :n].reshape(1, -1, level.height, level.width)

    return init


def build_network(method: str, vgg_weights: Optional[str], periodic: tuple[bool, bool], channels: int = 3):
    if method != "cnn":
        return None
    if vgg_weights:
        if channels != 3:
            raise InputError("VGG19 features need RGB images")
        return VGG19Features(load_vgg19_weights(vgg_weights), periodic)
    return RandomNet(channels, periodic)


def synthesize(
    references: Sequence[np.ndarray],
    weights: Optional[Sequence[float]] = None,
    width: int = 512,
    height: Optional[int] = None,
    seed: int = 0,
    tile: str = "both",
    detail_scale: float = 1.0,
    quality: str = "default",
    method: str = "nn",
    device: str = "auto",
    vgg_weights: Optional[str] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    cnn_loss: str = "sw",
    colour_match: bool = True,
    typical_origin: bool = True,
) -> np.ndarray:
    """Synthesise a (height, width, 3) float32 RGB texture whose statistics match the references'.

    Several references blend as the weighted mixture Σ wᵢ φᵢ of their statistics. ``detail_scale``
    > 1 makes the reference's features appear larger in the output (the reference is analysed
    enlarged), < 1 smaller. With ``tile='both'`` every operation wraps around, so the result tiles
    with no seam by construction; ``x``/``y`` tile one way only. Same inputs, seed and device type
    give the same output bytes on the CPU. With ``typical_origin`` the periodic result is rolled so
    the tile's edges fall on ordinary lines (see :func:`place_origin`); ``False`` returns the
    optimiser's own origin. ``colour_match`` applies to the statistics methods only: the
    correspondence method takes its colours from the references themselves, and a final colour
    transport there only shifted dominant flat colours (a cream background turned pink). Raises :class:`InputError` for unusable inputs and
    :class:`Cancelled` when ``cancel`` is set.
    """
    width, height, periodic, w = _check_arguments(references, weights, width, height, tile, quality, method, cnn_loss,
                                                  detail_scale)
    dev = resolve_device(device)
    configure_threads()
    tensors, w = _prepare_references(references, w, float(detail_scale), dev)
    generator = torch.Generator().manual_seed(int(seed))
    if method == "nn":
        out = run_correspondence(CorrespondenceJob(tensors, w, height, width, periodic, CORRESPONDENCE_PRESETS[quality],
                                                   generator, progress=progress, cancel=cancel))
    else:
        out = _run_statistics(tensors, w, height, width, periodic, quality, method, vgg_weights, cnn_loss, dev, generator,
                              progress, cancel)
        if colour_match:
            out = match_colours(out, tensors, w, generator)
    image = np.ascontiguousarray(out[0].permute(1, 2, 0).clamp(0, 1).float().cpu().numpy())
    return place_origin([image], periodic)[0] if typical_origin else image


def _check_arguments(references, weights, width, height, tile, quality, method, cnn_loss, detail_scale):
    """The public entry's checks, so a bad argument fails before any tensor is made: (width, height,
    periodic axes, weights)."""
    if not references:
        raise InputError("at least one reference image is needed")
    width = check_size("width", width)
    height = check_size("height", width if height is None else height)
    periodic = periodic_axes(tile)
    if quality not in QUALITIES:
        raise InputError(f"unknown quality {quality!r} (choose from {', '.join(QUALITIES)})")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    if cnn_loss not in CNN_LOSSES:
        raise InputError(f"unknown CNN loss {cnn_loss!r} (choose from {', '.join(CNN_LOSSES)})")
    lo, hi = DETAIL_SCALE_RANGE
    if not lo <= float(detail_scale) <= hi:
        raise InputError(f"detail scale {detail_scale} out of range ({lo}…{hi})")
    return width, height, periodic, check_weights(weights, len(references))


def _prepare_references(references, weights, detail_scale: float, dev) -> tuple[list[torch.Tensor], list[float]]:
    """Every reference checked (a zero-weight one too, so its error is not hidden), then the
    weighted ones scaled by the detail scale and moved to the device."""
    tensors = [to_tensor(r, f"reference {i + 1}") for i, r in enumerate(references)]
    kept = [(t, wt) for t, wt in zip(tensors, weights) if wt > 0]
    return [scale_reference(t, detail_scale).to(dev) for t, _ in kept], [wt for _, wt in kept]


def _run_statistics(tensors, w, height, width, periodic, quality, method, vgg_weights, cnn_loss, dev, generator,
                    progress, cancel) -> torch.Tensor:
    """The statistics family (patch or CNN features): a pyramid of optimisations, coarse to fine."""
    preset = PRESETS[quality]
    smallest = min(min(t.shape[2:]) for t in tensors)
    count = plan_levels(height, width, smallest, CNN_COARSEST_REFERENCE if method == "cnn" else MIN_REFERENCE_SIDE_AT_COARSEST)
    levels = ladder(preset, height, width, count)
    net = build_network(method, vgg_weights, periodic)
    if net is not None:
        net = net.to(dev)
    job = PyramidJob(
        out_height=height,
        out_width=width,
        periodic=periodic,
        levels=levels,
        make_losses=make_feature_loss_factory(tensors, w, method, periodic, preset.projections, preset.patch, net, cnn_loss,
                                               preset.dilations, preset.fine_dilations, preset.fine_projections,
                                               preset.region),
        init=noise_init(tensors, w),
        generator=generator,
        device=dev,
        progress=progress,
        cancel=cancel,
    )
    return run_pyramid(job)
