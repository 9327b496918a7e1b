"""The vote (overlap-add of matched patches) gives the same image on every path; chunked distances too.

Small images gather every proposal at once and overlap-add them with ``fold``; larger ones loop
over the window's offsets. Which path runs depends only on size, so a mistake in one would show
only at some levels of a pyramid.
"""

from __future__ import annotations

import pytest
import torch

from texture_addon.engine import correspondence
from texture_addon.engine.correspondence import Bank, PatchSpace, vote


def _bank(references: int) -> tuple[Bank, torch.Generator]:
    g = torch.Generator().manual_seed(references)
    refs = [torch.rand(1, 3, 40 + 7 * i, 50 - 5 * i, generator=g) for i in range(references)]
    return Bank(refs, PatchSpace.fit(refs, 7, 8, g)), g


@pytest.mark.parametrize("references", [1, 2])
@pytest.mark.parametrize("periodic", [(True, True), (False, True), (False, False)])
@pytest.mark.parametrize("radius", [0, 3])
def test_fold_and_loop_votes_agree(monkeypatch, references, periodic, radius):
    bank, g = _bank(references)
    h, w = 24, 32
    field = torch.randint(0, bank.count, (h * w,), generator=g)
    weight = torch.rand(h * w, generator=g) + 0.1
    monkeypatch.setattr(correspondence, "FOLD_VOTE_LIMIT", 1 << 30)
    folded = vote(bank, field, weight, h, w, periodic, radius)
    monkeypatch.setattr(correspondence, "FOLD_VOTE_LIMIT", 0)
    looped = vote(bank, field, weight, h, w, periodic, radius)
    assert folded.shape == looped.shape == (1, 3, h, w)
    assert torch.allclose(folded, looped, atol=1e-6)


def test_a_field_of_one_reference_window_votes_that_window_back():
    bank, _ = _bank(1)
    ref = bank.pixels()[0].view(3, 40, 50)
    vh, vw = bank.single
    h, w = 10, 12
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    field = ((ys + 5) * vw + (xs + 8)).reshape(-1)  # output (y, x) ↔ patch centred at (y+8, x+11)
    out = vote(bank, field, torch.ones(h * w), h, w, (False, False), 3)
    assert torch.allclose(out[0], ref[:, 8:8 + h, 11:11 + w], atol=1e-6)


@pytest.mark.parametrize("references", [1, 2])
@pytest.mark.parametrize("periodic", [(True, True), (False, False)])
def test_a_vote_in_strips_equals_the_vote_in_one(monkeypatch, references, periodic):
    """From 512² up the looped vote runs in strips of rows (1 MB each, so that they stay on the heap):
    proposals that cross a strip's edge must land where one strip would have put them."""
    bank, g = _bank(references)
    h, w = 23, 17
    field = torch.randint(0, bank.count, (h * w,), generator=g)
    weight = torch.rand(h * w, generator=g) + 0.1
    monkeypatch.setattr(correspondence, "FOLD_VOTE_LIMIT", 0)
    monkeypatch.setattr(correspondence, "VOTE_CHUNK", 1 << 30)
    whole = vote(bank, field, weight, h, w, periodic, 3)
    monkeypatch.setattr(correspondence, "VOTE_CHUNK", 3 * w * 2)  # two rows per strip, the last one short
    strips = vote(bank, field, weight, h, w, periodic, 3)
    assert torch.allclose(whole, strips, atol=1e-6)


def test_distances_in_blocks_equal_distances_in_one(monkeypatch):
    """PatchMatch's candidate distances are gathered in small blocks (1.5 MB: larger ones were mapped
    afresh by the allocator at every candidate); the block edges must not change a value."""
    bank, g = _bank(2)
    n = 1000
    q = torch.rand(n, bank.features.shape[1], generator=g)
    idx = torch.randint(0, bank.count, (n,), generator=g)
    bias = torch.rand(bank.count, generator=g)
    monkeypatch.setattr(correspondence, "GATHER_CHUNK", 1 << 30)
    whole = correspondence.distances(q, bank, idx, bias)
    monkeypatch.setattr(correspondence, "GATHER_CHUNK", 37)
    blocks = correspondence.distances(q, bank, idx, bias)
    expected = ((bank.features[idx] - q) ** 2).sum(1) + bias[idx]
    assert torch.equal(whole, blocks)
    assert torch.allclose(whole, expected, atol=1e-5)
