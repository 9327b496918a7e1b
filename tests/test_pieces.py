"""A large output's coarsest level starts from whole pieces of the reference (engine/pieces.py).

Started from random matches, the coarsest level of an output many times the reference's area
organised the noise into an arrangement of its own (cells packed more regularly than the
reference's, a few regions reused on a diagonal): issue 35. It now starts from pieces of the
reference at random offsets. These tests check that start on a real run — its matches continue
each other inside pieces, lie inside the reference and cover it — and that smaller outputs,
periodic references and start images keep theirs.
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import torch

from structure_refs import cells
from texture_addon.engine import optimisation
from texture_addon.engine.correspondence import Bank, PatchSpace
from texture_addon.engine.pieces import piece_field

synthesize = importlib.import_module("texture_addon.engine.synthesize")


def _first_field(monkeypatch, ref: np.ndarray, size: int) -> tuple[torch.Tensor, Bank]:
    """The coarsest level's starting matches of a default synthesis (the first vote's field)."""
    seen: list[tuple[torch.Tensor, Bank]] = []
    vote = optimisation.vote

    def spy(bank, field, *args, **kwargs):
        if not seen:
            seen.append((field.clone(), bank))
        return vote(bank, field, *args, **kwargs)

    monkeypatch.setattr(optimisation, "vote", spy)
    # Only the coarsest level's start matters here: one iteration per level keeps the run short.
    preset = dataclasses.replace(synthesize.CORRESPONDENCE_PRESETS["default"], coarsest_iterations=1,
                                 coarse_iterations=1, fine_iterations=1)
    monkeypatch.setitem(synthesize.CORRESPONDENCE_PRESETS, "default", preset)
    synthesize.synthesize([ref], width=size, height=size, seed=3, quality="default", device="cpu")
    return seen[0]


def _continued(field: torch.Tensor, bank: Bank, side: int) -> float:
    """Share of pixels whose right-hand neighbour's match is their own one pixel to the right."""
    grid = field.view(side, side)
    right = torch.roll(grid, -1, dims=1)
    vw = bank.single[1]
    return float(((right == grid + 1) & (grid % vw < vw - 1)).float().mean())


def test_a_large_output_starts_from_whole_pieces_covering_the_reference(monkeypatch):
    field, bank = _first_field(monkeypatch, cells(96, 12.0), 384)  # 16× the reference's area
    side = int(round(field.numel() ** 0.5))
    # Pieces about 10 px apart at that level: most pixels continue their neighbour's match (a
    # random start: about 1 in 600).
    assert _continued(field, bank, side) > 0.8
    used = torch.bincount(field, minlength=bank.count)
    assert float((used > 0).float().mean()) > 0.8  # the whole reference is drawn on, not a few spots
    assert int(used.max()) <= 4 * field.numel() / bank.count


def test_smaller_outputs_and_periodic_references_keep_their_start(monkeypatch):
    field, bank = _first_field(monkeypatch, cells(96, 12.0), 160)  # under 4× the area: random start
    assert _continued(field, bank, int(round(field.numel() ** 0.5))) < 0.1
    job = optimisation.CorrespondenceJob([torch.zeros(1, 3, 64, 64)], [1.0], 256, 256, (True, True),
                                         synthesize.CORRESPONDENCE_PRESETS["default"], torch.Generator())
    assert optimisation.starts_from_pieces(job, in_phase=False)
    assert not optimisation.starts_from_pieces(job, in_phase=True)
    assert not optimisation.starts_from_pieces(dataclasses.replace(job, start=torch.zeros(1, 3, 256, 256)),
                                               in_phase=False)


def _bank(side: int) -> Bank:
    ref = torch.from_numpy(cells(side, 8.0)).permute(2, 0, 1)[None].float()
    return Bank([ref], PatchSpace.fit([ref], 7, 8, torch.Generator().manual_seed(0)))


def test_pieces_lie_inside_the_reference_and_are_seeded():
    bank = _bank(40)
    a = piece_field(bank, 48, 64, (True, True), 10.0, [1.0], torch.Generator().manual_seed(5))
    b = piece_field(bank, 48, 64, (True, True), 10.0, [1.0], torch.Generator().manual_seed(5))
    c = piece_field(bank, 48, 64, (True, True), 10.0, [1.0], torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # Each piece is drawn where it fits, so no match was clamped onto the reference's edge: the
    # edge patches are no commoner than the others.
    vh, vw = bank.single
    grid_y, grid_x = a // vw, a % vw
    edge = (grid_y == 0) | (grid_y == vh - 1) | (grid_x == 0) | (grid_x == vw - 1)
    edge_share = 2 * (vh + vw) / (vh * vw)
    assert float(edge.float().mean()) < 2 * edge_share


def test_a_piece_start_is_joined_by_a_few_small_patch_iterations():
    """With 11×11 patches at the coarsest level only the middle of the 32-px reference can be a
    patch's centre, and the search drew the output from it and packed its cells: a piece start is
    joined there with a few iterations of small patches. Smaller outputs keep theirs."""
    ref = torch.zeros(1, 3, 64, 64)
    preset = synthesize.CORRESPONDENCE_PRESETS["default"]
    large = optimisation.CorrespondenceJob([ref], [1.0], 256, 256, (True, True), preset, torch.Generator())
    small = dataclasses.replace(large, height=96, width=96)
    pieces = optimisation.plan(large, optimisation.starts_from_pieces(large, in_phase=False))
    plain = optimisation.plan(small, optimisation.starts_from_pieces(small, in_phase=False))
    assert pieces[0].iterations == optimisation.PIECE_ITERATIONS < preset.coarsest_iterations
    assert plain[0].iterations >= preset.coarsest_iterations
    assert pieces[0].policy.patch == optimisation.PIECE_PATCH < preset.patch
    assert plain[0].policy.patch == preset.patch
    assert optimisation.patch_side(preset, 1, 4, in_phase=False, pieces=True) == preset.patch
