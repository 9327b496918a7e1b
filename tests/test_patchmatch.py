"""PatchMatch never proposes patches that fall off a reference.

Clamping an out-of-range candidate onto the reference's border turned every random try that
overshot into the same few edge and corner patches; with the occurrence penalty lagging one
iteration behind, whole regions of a grass output then took one corner patch (1221 pixels of a
256² output on one patch), which showed as streaks.
"""

from __future__ import annotations

import torch

from texture_addon.engine.correspondence import Bank, PatchSpace, _neighbour_candidates, patchmatch


def _bank(side: int = 40, patch: int = 5) -> tuple[Bank, PatchSpace, torch.Generator]:
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, side, side, generator=g)
    space = PatchSpace.fit([ref], patch, 12, g)
    return Bank([ref], space), space, g


def test_propagated_candidates_off_the_reference_are_flagged():
    bank, _, _ = _bank()
    vh, vw = bank.single
    field = torch.full((8 * 8,), 3 * vw + (vw - 1), dtype=torch.long)  # every pixel on the right edge
    flags = {}
    for (cand, ok), name in zip(_neighbour_candidates(field, bank, 8, 8, 1), ("below", "above", "right", "left")):
        flags[name] = bool(ok.all()), bool(ok.any())
    # the right neighbour's match shifted back one step left stays inside; the left one's would
    # continue past the right edge
    assert flags["right"] == (True, True)
    assert flags["left"] == (False, False)


def test_random_search_does_not_pile_onto_reference_corners():
    bank, space, g = _bank()
    out = torch.rand(1, 3, 64, 64, generator=g)
    q = space.features(out, (True, True))
    field = torch.randint(0, bank.count, (64 * 64,), generator=g)
    best, _ = patchmatch(q, bank, field, 64, 64, None, g, rounds=2)
    vh, vw = bank.single
    corners = torch.tensor([0, vw - 1, (vh - 1) * vw, vh * vw - 1])
    share = torch.isin(best, corners).float().mean().item()
    uniform = 4 / bank.count
    assert share < 3 * uniform, f"{share:.4f} of pixels on the 4 corner patches (uniform {uniform:.4f})"


def test_a_copy_that_drifts_by_a_pixel_is_still_a_copy():
    """The copy breaker flags pixels deep inside a copy even where its offset drifts by 1 px, as the
    eye and the benchmark's copy figure see it; an unrelated match breaks the copy."""
    from texture_addon.engine.correspondence import coherence_penalty

    bank, _, _ = _bank()
    vh, vw = bank.single
    ys, xs = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    drifted = ys + (xs >= 8).long()          # the right half is copied from one row lower
    field = (drifted * vw + xs).reshape(-1)
    flags = coherence_penalty(bank, field, 16, 16, 3, (False, False)).view(16, 16)
    assert bool(flags[3:13, 3:13].all())
    assert not bool(flags[:3].any()) and not bool(flags[:, 13:].any())  # too near a non-wrapping edge
    field = field.clone()
    field[8 * 16 + 8] = 30 * vw + 30          # one pixel matched elsewhere
    flags = coherence_penalty(bank, field, 16, 16, 3, (False, False)).view(16, 16)
    assert not bool(flags[8, 5]) and not bool(flags[5, 8]) and bool(flags[5, 5])


def test_draft_basis_from_fewer_patches_spans_the_same_space():
    """Draft fits its PCA basis on 2000 sampled 7×7 patches instead of 8000 (a tenth of its time):
    the subspace must be the one a larger sample finds, or its matches would be other matches."""
    import numpy as np

    from structure_refs import cells
    from texture_addon.engine.optimisation import PCA_DIMS
    from texture_addon.engine.presets import CORRESPONDENCE_PRESETS

    draft = CORRESPONDENCE_PRESETS["draft"]
    assert draft.pca_sample < CORRESPONDENCE_PRESETS["default"].pca_sample
    ref = torch.from_numpy(np.ascontiguousarray(cells(192))).permute(2, 0, 1)[None]
    big = PatchSpace.fit([ref], draft.patch, PCA_DIMS, torch.Generator().manual_seed(0), sample=32000)
    small = PatchSpace.fit([ref], draft.patch, PCA_DIMS, torch.Generator().manual_seed(1), sample=draft.pca_sample)
    a = big.filters.reshape(big.filters.shape[0], -1)      # orthonormal rows
    b = small.filters.reshape(small.filters.shape[0], -1)
    # Energy of the large sample's leading 12 directions that the small basis keeps (1 = all).
    kept = (a[:12] @ b.t()).square().sum(dim=1)
    assert kept.min() > 0.985, kept  # 2000: 0.994; 500: 0.982; 300: 0.958
