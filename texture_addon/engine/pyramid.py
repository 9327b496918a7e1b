"""Coarse-to-fine optimisation of an image: the loop every engine feature runs through.

The image and the references are analysed together at a ladder of scales, coarsest first. At each
level the image is initialised from the level below (upsampled with wrap-around), then optimised
with Adam on its pixels against that level's losses. Feature families, content losses (stylize) and
channel counts (RGB or a stack of PBR maps) plug in without changing the loop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from .adam import Adam
from .device import configure_threads, threads_for_level
from .losses import LevelLoss
from .progress import CancelToken, ProgressCallback, ProgressInfo
from .resample import resize

MIN_REFERENCE_SIDE_AT_COARSEST = 16
MIN_OUTPUT_SIDE_AT_COARSEST = 16
MAX_LEVELS = 7
PREVIEW_SIDE = 128
PREVIEWS_PER_LEVEL = 3


@dataclass
class Level:
    factor: float            # scale relative to the finest level
    height: int
    width: int
    steps: int
    lr: float


@dataclass
class PyramidJob:
    """Everything the loop needs, built by :func:`synthesize` (or stylize / material synthesis)."""

    out_height: int
    out_width: int
    periodic: tuple[bool, bool]                               # (y, x)
    levels: list[Level]
    make_losses: Callable[[Level], Sequence[LevelLoss]]       # built once per level
    init: Callable[[Level, torch.Generator], torch.Tensor]    # the coarsest level's starting image
    generator: torch.Generator
    device: torch.device
    stage: str = "synthesize"
    progress: Optional[ProgressCallback] = None
    cancel: Optional[CancelToken] = None
    project: Optional[Callable[[torch.Tensor], None]] = None  # in-place constraint after each step
    preview_channels: slice = field(default_factory=lambda: slice(0, 3))


def plan_levels(out_height: int, out_width: int, smallest_reference_side: float,
                min_reference_side: int = MIN_REFERENCE_SIDE_AT_COARSEST) -> int:
    """How many pyramid levels: until the reference's coarsest copy is ~16 px.

    There a 7×7 patch spans almost half the reference, so the first level decides the layout
    (rows of bricks, cell sizes) before finer levels add detail; 32 px lost that on regular textures.
    """
    levels = 1
    while (
        levels < MAX_LEVELS
        and smallest_reference_side / 2**levels >= min_reference_side
        and min(out_height, out_width) / 2**levels >= MIN_OUTPUT_SIDE_AT_COARSEST
    ):
        levels += 1
    return levels


def make_levels(out_height: int, out_width: int, count: int, steps: Sequence[int], lrs: Sequence[float]) -> list[Level]:
    levels = []
    for i in range(count):
        factor = 1.0 / 2 ** (count - 1 - i)
        levels.append(Level(factor, max(1, round(out_height * factor)), max(1, round(out_width * factor)), steps[i], lrs[i]))
    return levels


def _preview(x: torch.Tensor, channels: slice) -> np.ndarray:
    with torch.no_grad():
        h, w = x.shape[2:]
        s = min(1.0, PREVIEW_SIDE / max(h, w))
        small = resize(x[:, channels], max(1, round(h * s)), max(1, round(w * s)))
        img = small[0].permute(1, 2, 0).clamp(0, 1).float().cpu().numpy()
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def run_pyramid(job: PyramidJob) -> torch.Tensor:
    """Optimise coarse to fine; return the finest image (1, C, H, W), detached, on ``job.device``."""
    try:
        total = sum(lv.steps for lv in job.levels)
        done = 0
        x: torch.Tensor | None = None
        py, px = job.periodic
        for index, level in enumerate(job.levels):
            if job.cancel is not None:
                job.cancel.raise_if_cancelled()
            if x is None:
                x = job.init(level, job.generator).to(job.device)
            else:
                with torch.no_grad():
                    x = resize(x, level.height, level.width, py, px)
            x = x.detach().clone().requires_grad_(True)
            threads = threads_for_level(level.height * level.width, job.device)
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            losses = job.make_losses(level)
            opt = Adam(x, lr=level.lr, betas=(0.9, 0.99))
            preview_every = max(1, math.ceil(level.steps / PREVIEWS_PER_LEVEL))
            for step in range(level.steps):
                # Cosine decay to 30 % of the level's rate: big moves first, then settle.
                opt.lr = level.lr * (0.3 + 0.7 * 0.5 * (1 + math.cos(math.pi * step / max(1, level.steps))))
                opt.zero_grad()
                loss = sum(l.backward(x, job.generator) for l in losses)
                opt.step()
                with torch.no_grad():
                    x.clamp_(0, 1)
                    if job.project is not None:
                        job.project(x)
                done += 1
                if job.progress is not None:
                    last = step == level.steps - 1
                    preview = _preview(x, job.preview_channels) if (last or (step + 1) % preview_every == 0) else None
                    job.progress(ProgressInfo(job.stage, index + 1, len(job.levels), done, total, float(loss), preview, last))
                if job.cancel is not None:
                    job.cancel.raise_if_cancelled()
        assert x is not None
        return x.detach()
    finally:
        configure_threads()  # small levels may have dropped to one thread


class Stopwatch:
    """Tiny helper for the benchmark and logs: seconds since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
