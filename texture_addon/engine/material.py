"""``synthesize_material``: new tileable PBR materials whose maps stay aligned pixel for pixel.

Synthesising each map separately would give a colour map and a normal map that describe different
surfaces. Instead the maps are stacked into one multi-channel image (basecolor RGB, normal RGB,
then the grey maps) and synthesised as one: every patch the loss compares spans all maps at once,
so a stone's colour, its bump and its roughness travel together.

Channel groups are weighted so each map counts about equally: without it the colour map's three
high-contrast channels decide which patches match, and a flat AO map would be ignored. The weights
scale the random projection directions (not the pixel values), so the image stays in [0, 1] and
every channel moves at the optimiser's full step size. Normals are renormalised to unit length
after every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
import torch

from ..contract.vocabulary import PATCH_METHODS, RGB_MAPS
from ..errors import InputError
from ..references.seams import place_origin
from .colour import match_colours
from .device import configure_threads, resolve_device
from .patches import PatchSlicedLoss
from .pbr import MAP_NAMES, check_maps
from .presets import PRESETS, QUALITIES, ladder
from .progress import CancelToken, ProgressCallback
from .pyramid import Level, PyramidJob, plan_levels, run_pyramid
from .optimisation import CorrespondenceJob
from .optimisation import run as run_correspondence
from .presets import CORRESPONDENCE_PRESETS
from .synthesize import DETAIL_SCALE_RANGE, check_size, noise_init, periodic_axes, scale_reference, to_tensor

COLOUR_MAPS = {name: 3 for name in RGB_MAPS}  # channels per map; the others have one
MIN_GROUP_STD = 0.02  # a flat map is not up-weighted beyond this (it has nothing to say)


class GroupWeightedPatchLoss(PatchSlicedLoss):
    """Patch loss whose random directions are scaled per channel (one weight per map).

    Each projection is transported as its own 1-D distribution, which is what ties the maps
    together: a direction mixing colour and height only matches if the two co-vary as in the
    reference.
    """

    def __init__(self, *args, channel_weights: torch.Tensor, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel_weights = channel_weights

    def _directions(self, channels: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        d = super()._directions(channels, generator, device)
        return d * self.channel_weights.to(device).view(1, -1, 1, 1)


def _as_channels(name: str, image: np.ndarray) -> np.ndarray:
    a = np.asarray(image, dtype=np.float32)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise InputError(f"{name} map must be an image, got shape {np.shape(image)}")
    want = COLOUR_MAPS.get(name, 1)
    if a.shape[2] == want:
        return a
    if want == 1 and a.shape[2] in (3, 4):
        return a[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32)[:, None]
    if want == 3 and a.shape[2] == 4:
        return a[..., :3]
    raise InputError(f"{name} map must have {want} channel(s), got {a.shape[2]}")


def stack_maps(maps: Mapping[str, np.ndarray]) -> tuple[torch.Tensor, dict[str, slice]]:
    """Check the maps (known names, one size) and stack them: (1, C, H, W) and name → channels."""
    if not maps:
        raise InputError("no material maps given")
    names = [n for n in MAP_NAMES if n in maps]
    check_maps(maps.keys())
    arrays = {n: _as_channels(n, maps[n]) for n in names}
    sizes = {n: a.shape[:2] for n, a in arrays.items()}
    if len(set(sizes.values())) > 1:
        detail = ", ".join(f"{n} {s[1]}×{s[0]}" for n, s in sizes.items())
        raise InputError(f"material maps must all have the same size ({detail})")
    tensors, slices, start = [], {}, 0
    for n in names:
        t = to_tensor(arrays[n], f"{n} map", channels=None)
        tensors.append(t)
        slices[n] = slice(start, start + t.shape[1])
        start += t.shape[1]
    return torch.cat(tensors, dim=1), slices


def group_weights(stack: torch.Tensor, slices: Mapping[str, slice]) -> torch.Tensor:
    """Per-channel weights giving every map the same total variance in the projections."""
    w = torch.ones(stack.shape[1])
    std = stack.flatten(2)[0].std(dim=1)
    for sl in slices.values():
        energy = float((std[sl] ** 2).sum().clamp_min(MIN_GROUP_STD**2))
        w[sl] = energy ** -0.5
    return w / w.max()


def renormalise_normals(x: torch.Tensor, channels: slice) -> None:
    """In place: decode [0, 1] normals, make them unit length and facing out (z > 0), re-encode."""
    n = x[:, channels] * 2 - 1
    n[:, 2].clamp_(min=0.05)
    n = n / n.norm(dim=1, keepdim=True).clamp_min(1e-6)
    x[:, channels] = n * 0.5 + 0.5


def _checked_material_settings(width: int, height: Optional[int], tile: str, quality: str,
                               detail_scale: float) -> tuple[int, int, tuple[bool, bool]]:
    """Width, height and tiling axes, checked in the order a reader meets them; one InputError for the first bad one."""
    width = check_size("width", width)
    height = check_size("height", width if height is None else height)
    periodic = periodic_axes(tile)
    if quality not in QUALITIES:
        raise InputError(f"unknown quality {quality!r} (choose from {', '.join(QUALITIES)})")
    lo, hi = DETAIL_SCALE_RANGE
    if not lo <= float(detail_scale) <= hi:
        raise InputError(f"detail scale {detail_scale} out of range ({lo}…{hi})")
    return width, height, periodic


def synthesize_material(
    maps: Mapping[str, np.ndarray],
    width: int = 512,
    height: Optional[int] = None,
    seed: int = 0,
    tile: str = "both",
    quality: str = "default",
    device: str = "auto",
    detail_scale: float = 1.0,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    typical_origin: bool = True,
    method: str = "nn",
) -> dict[str, np.ndarray]:
    """Synthesise a new material from the aligned maps of a reference one.

    ``maps``: name → image for any of basecolor and normal (H, W, 3), height, roughness and ao
    (H, W) or (H, W, 1), all of one size. Returns the same names at (height, width): colour maps
    (h, w, 3), grey maps (h, w), float32 in [0, 1]. Tiling, seed, quality and detail scale mean
    what they mean for :func:`synthesize`; so does ``typical_origin``, with every map rolled by the
    shift chosen on the base colour (or the first map) so they stay aligned. ``method`` is ``nn``
    (patch correspondence: every output patch is a reference patch across all maps, so the maps
    are aligned by construction) or ``patch`` (patch statistics).
    """
    stack, slices = stack_maps(maps)
    width, height, periodic = _checked_material_settings(width, height, tile, quality, detail_scale)
    dev = resolve_device(device)
    configure_threads()

    ref = scale_reference(stack, float(detail_scale)).to(dev)
    weights = group_weights(ref, slices)
    if method not in PATCH_METHODS:
        raise InputError(f"unknown method {method!r} for a material (choose from nn, patch)")
    job = _MaterialJob(ref, weights, slices, height, width, periodic, quality, seed, dev, progress, cancel)
    if method == "nn":
        return _finish(_material_by_correspondence(job), slices, periodic, typical_origin, None, ref)
    out, generator = _material_by_statistics(job)
    return _finish(out, slices, periodic, typical_origin, generator, ref)


@dataclass(frozen=True)
class _MaterialJob:
    """What both routes need: the stacked reference, its group weights and the output's shape and settings."""

    ref: torch.Tensor
    weights: torch.Tensor
    slices: Mapping[str, slice]
    height: int
    width: int
    periodic: tuple[bool, bool]
    quality: str
    seed: int
    device: torch.device
    progress: Optional[ProgressCallback]
    cancel: Optional[CancelToken]


def _material_by_correspondence(job: _MaterialJob) -> torch.Tensor:
    """The ``nn`` route: every output patch copied from the reference across all maps, normals kept unit."""
    normal = job.slices.get("normal")

    def constrain(x: torch.Tensor, level) -> torch.Tensor:
        if normal is not None:
            renormalise_normals(x, normal)
        return x

    return run_correspondence(CorrespondenceJob(
        [job.ref], [1.0], job.height, job.width, job.periodic, CORRESPONDENCE_PRESETS[job.quality],
        torch.Generator().manual_seed(int(job.seed)), channel_weights=job.weights.to(job.device), stage="material",
        progress=job.progress, cancel=job.cancel, preview_channels=next(iter(job.slices.values())),
        constrain=constrain))


def _material_by_statistics(job: _MaterialJob) -> tuple[torch.Tensor, torch.Generator]:
    """The ``patch`` route: the maps' joint patch statistics matched; returns the output and its generator."""
    ref, preset, periodic = job.ref, PRESETS[job.quality], job.periodic
    normal = job.slices.get("normal")
    count = plan_levels(job.height, job.width, min(ref.shape[2:]))
    # Presets count directions for RGB patches; a stack of maps has more dimensions per patch and
    # needs proportionally more random directions to see how the maps co-vary.
    projections = max(preset.projections, round(preset.projections * ref.shape[1] / 3))

    def make_losses(level: Level):
        r = scale_reference(ref, level.factor)
        span = lambda d: d * (preset.patch // 2) * 2 + 1
        return [GroupWeightedPatchLoss([r], [1.0], patch=preset.patch, projections=projections, periodic=periodic,
                                       dilation=d, channel_weights=job.weights, region=preset.region)
                for d in preset.dilations if d == 1 or span(d) <= min(r.shape[2:])]

    pyramid = PyramidJob(
        out_height=job.height,
        out_width=job.width,
        periodic=periodic,
        levels=ladder(preset, job.height, job.width, count),
        make_losses=make_losses,
        init=noise_init([ref], [1.0]),
        generator=torch.Generator().manual_seed(int(job.seed)),
        device=job.device,
        stage="material",
        progress=job.progress,
        cancel=job.cancel,
        project=(lambda x: renormalise_normals(x, normal)) if normal is not None else None,
        preview_channels=next(iter(job.slices.values())),
    )
    return run_pyramid(pyramid), pyramid.generator


def _finish(out: torch.Tensor, slices: Mapping[str, slice], periodic: tuple[bool, bool], typical_origin: bool,
            generator: Optional[torch.Generator], ref: torch.Tensor) -> dict[str, np.ndarray]:
    """Split the stack into maps (colour-matched after the statistics method), tile origin applied."""
    result: dict[str, np.ndarray] = {}
    for name, sl in slices.items():
        part = out[:, sl]
        if name != "normal" and generator is not None:  # per-pixel maps: the reference map's exact values
            part = match_colours(part, [ref[:, sl]], [1.0], generator)
        a = part[0].permute(1, 2, 0).clamp(0, 1).float().cpu().numpy()
        result[name] = np.ascontiguousarray(a if a.shape[2] == 3 else a[..., 0])
    if typical_origin:
        names = sorted(result, key=lambda n: n != "basecolor")
        rolled = dict(zip(names, place_origin([result[n] for n in names], periodic)))
        result = {name: rolled[name] for name in result}
    return result
