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
# On bricks at 1024² it cut the share of 32² blocks with no mortar from about 10 % to 3 % (three
# seeds). Regions of exactly one reference made outputs repeat with that period; regions smaller
# than the reference are not used: a reference with a few large features (stones) does not hold
# them in every half of itself.
PRESETS = {
    "draft": Preset(coarse_steps=50, fine_steps=10, projections=8, fine_projections=12, patch=5,
                    dilations=(1, 2, 4), large_fine_steps=4),
    "default": Preset(coarse_steps=120, fine_steps=30, projections=16, fine_projections=24, patch=5,
                      dilations=(1, 2, 4), large_fine_steps=10),
    "high": Preset(coarse_steps=300, fine_steps=60, projections=32, fine_projections=48, patch=5,
                   dilations=(1, 2, 4), large_fine_steps=24),
}


LARGE_PIXELS = 2_000_000

# The default method, texture optimisation by patch correspondence (see engine/optimisation.py):
# EM iterations per level instead of gradient steps. 11×11 patches above the finest level (context:
# at the coarsest level a patch spans a third of the 32-px reference, so objects that large there —
# a 32-px disc or a coin on a 256-px reference — are less often joined from two sources)
# and 9×9 at the finest (detail only: same look, 15 % less time) with one PatchMatch round there (the
# field comes upsampled and mostly settled: same figures on the tuning images at 512², 20 % less
# time), and GPNN's completeness
# normalisation were chosen by eye on examples/, on the procedural cells and dots of
# tests/structure_refs.py and on procedural large discs, never on benchmark/references.
# Draft searches exhaustively only up to 8 M patch pairs (the 32² and 64² levels of a 256² job; the
# 64² level's search was a third of draft's time), PatchMatch above: 256² draft 0.25 → 0.17 s,
# 512² 1.1 → ~0.5 s, at the price of a few more dots joined from two colours.
# Every quality breaks only large copies (CorrespondencePreset's defaults; docs/engine.md, "Copies
# broken up"): regions under ~17 px (the levels above the finest) or ~33 px (the finest) are left
# whole, larger ones pushed harder. Eleven tuning images × four seeds, structure figure / copy
# share / soft share: default 0.2830 / 0.072 / 0.168 → 0.2799 / 0.059 / 0.156; high 0.2601 /
# 0.099 / 0.187 → 0.2549 / 0.094 / 0.163; draft 0.3599 / 0.026 / 0.153 → 0.3579 / 0.021 / 0.152.
# Default then took its own schedule (optimisation.plan: 16 coarsest iterations, then 5 → 3) with
# the coarse copy penalty at 12 to hold the copies: 0.2756 / 0.061 / 0.157, 11 % less time; its
# coarsest area scaling is capped at 5× so that large outputs keep the 80 iterations they had.
# Draft fits its PCA bases on 2000 sampled patches (7×7: 147 values, whose leading directions a
# 2000-patch sample already finds: tests/test_patchmatch.py) and skips the lattice steps (a preview
# is not held to the copy bar): 256² draft ~10 % faster (paired runs, median ratios 0.87–0.90),
# tuning images 0.3574 / 0.023 / 0.150 → 0.3556 / 0.028 / 0.152 (two seeds).
# Default searches the coarsest level of a large output started in one phase with 15×15 patches
# (optimisation.patch_side): 4096² bricks lost their zigzag of tone bands. Lattice images at 1024²
# (bricks example, the tuning bricks, tiles and weave; seed 0), structure / copies: 0.060 / 0.063
# → 0.057 / 0.074, 0.052 / 0.276 → 0.055 / 0.289, 0.050 / 0.085 → 0.052 / 0.101, 0.057 / 0.073 →
# 0.058 / 0.056. High the same (2048² bricks: the zigzag gone; 1024² bricks, tiles, weave:
# structure 0.047 → 0.050, 0.045 → 0.045, 0.047 → 0.047). Draft, a preview, keeps its 7×7 there.
CORRESPONDENCE_PRESETS = {
    "draft": CorrespondencePreset(coarse_iterations=6, fine_iterations=1, patch=7, rounds=1, large_fine_iterations=1,
                                  coarsest_area_cap=2.0, exact_pairs=1 << 23, pca_sample=2000,
                                  lattice_steps=False),
    "default": CorrespondencePreset(coarsest_iterations=16, coarse_iterations=5, fine_iterations=3, patch=11,
                                    finest_patch=9, rounds=2, finest_rounds=1, large_fine_iterations=1,
                                    copy_penalty=12.0, coarsest_area_cap=5.0, phase_patch=15, piece_start=10.0),
    "high": CorrespondencePreset(coarse_iterations=16, fine_iterations=5, patch=11, rounds=3, large_fine_iterations=2,
                                 phase_patch=15, piece_start=10.0),
}


def _cut_finest(preset: Preset, finest_pixels: int) -> bool:
    return finest_pixels > LARGE_PIXELS and preset.large_fine_steps > 0


def steps_per_level(preset: Preset, levels: int, finest_pixels: int) -> list[int]:
    """Coarse→fine step counts, geometric from ``coarse_steps`` down to ``fine_steps``.

    Over 2 M pixels only the finest level is cut to ``large_fine_steps``: its steps cost seconds
    each, and the layout is settled by then. The levels above it keep their full count, because
    there the layout is still being decided: cutting them too (as the whole ladder once was) left
    2048² bricks with patches of stack bond and wide areas with no mortar (ratio 0.26 → 0.19).
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
    cannot make (2048² bricks, finest-scale ratio 0.25 → 0.24, overall 0.194 → 0.183, same time).
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
