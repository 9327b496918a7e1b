"""Quality presets: how many optimisation steps each pyramid level gets.

Steps are spent mostly at coarse levels, where they are cheap and where the layout of the texture is
decided; the finest levels only sharpen detail. ``draft`` is about three times faster than
``default``; ``high`` about twice slower.
"""

from __future__ import annotations

from dataclasses import dataclass

QUALITIES = ("draft", "default", "high")


@dataclass(frozen=True)
class Preset:
    coarse_steps: int      # steps at the coarsest level
    fine_steps: int        # steps at the finest level (levels between are geometric)
    projections: int       # random directions per step (patch family)
    patch: int = 7
    lr_coarse: float = 0.05
    lr_fine: float = 0.02
    large_fine_steps: int = 0  # replaces fine_steps when the finest level has over 2 M pixels


PRESETS = {
    "draft": Preset(coarse_steps=100, fine_steps=8, projections=32, large_fine_steps=4),
    "default": Preset(coarse_steps=250, fine_steps=25, projections=48, large_fine_steps=10),
    "high": Preset(coarse_steps=500, fine_steps=60, projections=96, large_fine_steps=24),
}


def steps_per_level(preset: Preset, levels: int, finest_pixels: int) -> list[int]:
    """Coarse→fine step counts, geometric from ``coarse_steps`` down to ``fine_steps``."""
    fine = preset.large_fine_steps if finest_pixels > 2_000_000 and preset.large_fine_steps else preset.fine_steps
    if levels == 1:
        return [max(preset.coarse_steps // 2, fine)]
    ratio = (fine / preset.coarse_steps) ** (1 / (levels - 1))
    return [max(1, round(preset.coarse_steps * ratio**i)) for i in range(levels)]


def lr_per_level(preset: Preset, levels: int) -> list[float]:
    if levels == 1:
        return [preset.lr_coarse]
    ratio = (preset.lr_fine / preset.lr_coarse) ** (1 / (levels - 1))
    return [preset.lr_coarse * ratio**i for i in range(levels)]
