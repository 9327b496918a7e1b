"""The exhaustive search finds the patch of least cost, as that cost is defined.

The search folds the norms, the occurrence bias and completeness's scale into one matrix product
per block (``correspondence.exact_search``); this checks the fold against the definition computed
the slow way, with blocks small enough that every path through the chunking is taken.
"""

from __future__ import annotations

import pytest
import torch

from texture_addon.engine import correspondence
from texture_addon.engine.correspondence import Bank, PatchSpace, exact_search


def _definition(q: torch.Tensor, bank: Bank, bias, completeness: float, keep) -> torch.Tensor:
    d = torch.cdist(q.double(), bank.features.double()).square()
    cost = d.clone()
    if bias is not None:
        cost += bias.double()[None, :]
    if completeness > 0:
        col = d.amin(dim=0)
        scale = 1.0 / (completeness * col.median() + col)
        cost *= scale[None, :]
    if keep is not None:
        prev, pen = keep
        pen = pen.double() * (scale[prev] if completeness > 0 else 1.0)
        cost[torch.arange(q.shape[0]), prev] += pen
    return cost


@pytest.mark.parametrize("completeness", [0.0, 0.3])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("with_keep", [False, True])
def test_exact_search_returns_the_least_cost_match(monkeypatch, completeness, with_bias, with_keep):
    g = torch.Generator().manual_seed(3)
    refs = [torch.rand(1, 3, 21, 19, generator=g), torch.rand(1, 3, 17, 23, generator=g)]
    space = PatchSpace.fit(refs, 5, 10, g)
    bank = Bank(refs, space)
    q = space.features(torch.rand(1, 3, 24, 20, generator=g), (True, True))
    n = q.shape[0]
    bias = torch.rand(bank.count, generator=g) * 0.5 if with_bias else None
    keep = None
    if with_keep:
        # Penalise the best match itself, by about the gap to the runner-up, so the penalty (and
        # its scaling) decides half of the rows.
        plain = _definition(q, bank, bias, completeness, None)
        two = plain.topk(2, dim=1, largest=False)
        gap = (two.values[:, 1] - two.values[:, 0]).float()
        scale_prev = 1.0
        if completeness > 0:
            d = torch.cdist(q.double(), bank.features.double()).square()
            col = d.amin(dim=0)
            scale_prev = (1.0 / (completeness * col.median() + col))[two.indices[:, 0]].float()
        keep = (two.indices[:, 0], gap / scale_prev * torch.rand(n, generator=g) * 2.0)
    # Blocks of a few rows (and a few reference patches for the column minima), uneven on purpose.
    monkeypatch.setattr(correspondence, "EXACT_CHUNK", 7 * bank.count + 3)

    best, dist = exact_search(q, bank, bias, completeness, keep)

    cost = _definition(q, bank, bias, completeness, keep)
    chosen = cost[torch.arange(n), best]
    least = cost.amin(dim=1)
    # float32 against float64: the chosen match costs what the best one does, to rounding.
    assert torch.allclose(chosen, least, rtol=1e-4, atol=1e-4), (chosen - least).abs().max()
    assert (best == cost.argmin(dim=1)).float().mean() > 0.99
    raw = torch.cdist(q.double(), bank.features.double()).square()[torch.arange(n), best]
    assert torch.allclose(dist.double(), raw, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("columns", [5, 64, 128, 130, 64 * 7 + 63])
def test_grouped_argmin_is_argmin_ties_included(columns):
    """The search's grouped argmin returns exactly ``argmin``'s index, first minimum on ties."""
    g = torch.Generator().manual_seed(columns)
    # Few distinct values, so most rows have their minimum several times, across groups and tail.
    cost = torch.randint(0, 6, (300, columns), generator=g).float()
    cost[0] = 1.0                                           # a row that is all ties
    cost[1, -1] = -1.0                                      # the minimum alone in the tail
    if columns > 64:
        cost[2, 63] = cost[2, 64] = -1.0                    # a tie across a group boundary
    expect = cost.argmin(dim=1)
    got = correspondence._row_argmin(cost)
    assert torch.equal(got, expect)
    assert got[0] == 0 and got[1] == columns - 1
    if columns > 64:
        assert got[2] == 63
