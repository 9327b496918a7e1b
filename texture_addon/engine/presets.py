"""Quality presets: how many optimisation steps each pyramid level gets.

Steps are spent mostly at coarse levels, where they are cheap and where the layout of the texture is
decided; the finest levels only sharpen detail. With the default method ``draft`` synthesises
4–5× faster than ``default`` (less as a whole process, which also starts Python and imports
torch); ``high`` is slower.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contract.vocabulary import QUALITIES  # noqa: F401  (the engine's modules import it from here)
from .optimisation import CorrespondencePreset
from .pyramid import Level, make_levels


@dataclass(frozen=True)
class Preset:
    coarse_steps: int      # steps at the coarsest level
    fine_steps: int        # steps at the finest level (levels between are geometric)
    projections: int       # random directions per step (patch family)
    patch: int = 7
    lr_coarse: float = 0.05
    lr_fine: float = 0.02
    large_fine_steps: int = 0  # replaces fine_steps when the finest level has over 2 M pixels
    dilations: tuple[int, ...] = (1,)  # one patch loss per dilation: context beyond one patch
    fine_dilations: tuple[int, ...] = (1,)  # at the finest level the layout is settled: detail only
    fine_projections: int = 32
    region: float = 1.0  # smallest side, in reference sides, of the regions matched apart (0: one pool)


# Patch 5 with dilations 1, 2 and 4 sees 5×5 neighbourhoods spread over 5, 9 and 17 pixels: the
# dilated ones carry the layout (rows of bricks, cell sizes) that a single small patch cannot, at a
# fraction of the cost of a 17×17 patch. Chosen on the bundled references with scripts/bench.py.
#
# Outputs at least twice the reference's side are matched region by region, regions one to two
# references across, cut at random every step (see PatchSlicedLoss._regions): the reference itself
# is one sample of that size, so each such area of the output should hold its whole distribution.
# Regions of exactly one reference made outputs repeat with that period; smaller ones are not used:
# a reference with a few large features (stones) does not hold them in every half of itself.
PRESETS = {
    "draft": Preset(coarse_steps=50, fine_steps=10, projections=8, fine_projections=12, patch=5,
                    dilations=(1, 2, 4), large_fine_steps=4),
    "default": Preset(coarse_steps=120, fine_steps=30, projections=16, fine_projections=24, patch=5,
                      dilations=(1, 2, 4), large_fine_steps=10),
    "high": Preset(coarse_steps=300, fine_steps=60, projections=32, fine_projections=48, patch=5,
                   dilations=(1, 2, 4), large_fine_steps=24),
}


LARGE_PIXELS = 2_000_000

# The default method, texture optimisation by patch correspondence (engine/optimisation.py): EM
# iterations per level instead of gradient steps. Large patches above the finest level give the
# layout context (an 11×11 patch spans a third of the 32-px coarsest reference); the finest level
# matches detail only. Chosen by eye on examples/ and the procedural references of
# tests/structure_refs.py, never on benchmark/references; the figures behind each choice are in
# docs/changelog.md (2026-12-07, "Correspondence settings per level"). Draft is a preview: fewer
# exhaustive searches, a smaller PCA sample, no period steps, no larger patch for an in-phase start.
# Each preset reads: the iteration ladder; the coarsest level; the levels above the finest; the
# finest level; the whole job (optimisation.CorrespondencePreset's defaults and constants for the rest).
CORRESPONDENCE_PRESETS = {
    "draft": CorrespondencePreset(
        coarse_iterations=6, fine_iterations=1,
        coarsest_area_cap=2.0, phase_patch=7,
        patch=7, rounds=1,
        finest_patch=7, finest_rounds=1, large_fine_iterations=1,
        exact_pairs=1 << 23, pca_sample=2000, lattice_steps=False),
    "default": CorrespondencePreset(
        coarse_iterations=5, fine_iterations=3,
        coarsest_iterations=16, coarsest_area_cap=5.0, phase_patch=15, piece_start=10.0,
        patch=11, rounds=2, copy_penalty=12.0,
        finest_patch=9, finest_rounds=1, large_fine_iterations=1),
    "high": CorrespondencePreset(
        coarse_iterations=16, fine_iterations=5,
        phase_patch=15, piece_start=10.0,
        patch=11, rounds=3,
        finest_patch=11, finest_rounds=3, large_fine_iterations=2),
}


def _cut_finest(preset: Preset, finest_pixels: int) -> bool:
    return finest_pixels > LARGE_PIXELS and preset.large_fine_steps > 0


def steps_per_level(preset: Preset, levels: int, finest_pixels: int) -> list[int]:
    """Coarse→fine step counts, geometric from ``coarse_steps`` down to ``fine_steps``.

    Over 2 M pixels only the finest level is cut to ``large_fine_steps``: its steps cost seconds
    each, and the layout is settled by then. The levels above it keep their full count, because
    there the layout is still being decided: cutting them too (as the whole ladder once was) left
    2048² bricks with patches of stack bond and wide areas with no mortar.
    """
    if levels == 1:
        return [max(preset.coarse_steps // 2, preset.fine_steps)]
    ratio = (preset.fine_steps / preset.coarse_steps) ** (1 / (levels - 1))
    steps = [max(1, round(preset.coarse_steps * ratio**i)) for i in range(levels)]
    if _cut_finest(preset, finest_pixels):
        steps[-1] = preset.large_fine_steps
    return steps


def lr_per_level(preset: Preset, levels: int, finest_pixels: int = 0) -> list[float]:
    """Learning rates, geometric from ``lr_coarse`` to ``lr_fine``.

    When the finest level's steps are cut, its rate rises in proportion: Adam moves a pixel about
    one rate per step, and sharpening a mortar edge needs a move of ~0.5, which 10 steps at 0.02
    cannot make.
    """
    if levels == 1:
        return [preset.lr_coarse]
    ratio = (preset.lr_fine / preset.lr_coarse) ** (1 / (levels - 1))
    rates = [preset.lr_coarse * ratio**i for i in range(levels)]
    if _cut_finest(preset, finest_pixels):
        rates[-1] *= preset.fine_steps / preset.large_fine_steps
    return rates


def ladder(preset: Preset, height: int, width: int, count: int) -> list[Level]:
    """The pyramid levels (sizes, steps, rates) of one job."""
    pixels = height * width
    return make_levels(height, width, count, steps_per_level(preset, count, pixels), lr_per_level(preset, count, pixels))
