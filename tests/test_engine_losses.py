"""Unit tests of the building blocks: 1-D transport, patch and CNN losses, resampling, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from texture_addon.engine import noise_like, patch_distance, seam_score
from texture_addon.engine.cnn import CNNFeatureLoss
from texture_addon.engine.colour import match_colours
from texture_addon.engine.networks import RandomNet
from texture_addon.engine.patches import PatchSlicedLoss, _axis_regions
from texture_addon.engine.resample import resize
from texture_addon.engine.sliced import mixture_quantiles, resample_sorted, sort_rows, transport_targets


def test_transport_targets_map_samples_onto_target_distribution():
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(4, 20000, generator=gen)                       # N(0, 1)
    target = 3 + 0.5 * torch.randn(4, 20000, generator=gen)        # N(3, 0.25)
    moved = transport_targets(y, sort_rows(target))
    assert torch.allclose(moved.mean(1), torch.full((4,), 3.0), atol=0.02)
    assert torch.allclose(moved.std(1), torch.full((4,), 0.5), atol=0.02)
    # Monotone: rank order of y is preserved (the 1-D optimal map).
    order = y[0].argsort()
    assert (moved[0][order].diff() >= -1e-5).all()


def test_transport_targets_per_region_send_every_region_to_the_whole_distribution():
    # Region 0 holds the low values, region 1 the high ones. Pooled, region 0 is sent to the low
    # half of the target; per region, each of them spans the whole target distribution.
    gen = torch.Generator().manual_seed(0)
    y = torch.cat([torch.rand(2, 5000, generator=gen), 5 + torch.rand(2, 5000, generator=gen)], dim=1)
    regions = torch.cat([torch.zeros(5000, dtype=torch.long), torch.ones(5000, dtype=torch.long)])
    target = sort_rows(torch.rand(2, 10000, generator=gen))
    pooled = transport_targets(y, target)
    apart = transport_targets(y, target, regions=regions, region_count=2)
    assert float(pooled[:, :5000].max()) < 0.52 and float(pooled[:, 5000:].min()) > 0.48
    for part in (apart[:, :5000], apart[:, 5000:]):
        assert torch.allclose(part.mean(1), torch.full((2,), 0.5), atol=0.02)
        assert float(part.min()) < 0.02 and float(part.max()) > 0.98
    # One region is the pooled map exactly.
    one = transport_targets(y, target, regions=torch.zeros(10000, dtype=torch.long), region_count=1)
    assert torch.equal(one, pooled)


def test_patch_loss_regions_see_what_a_pooled_match_misses():
    # Reference: uniform grey levels everywhere. Output, eight references wide: the dark half of them
    # on the left, the light half on the right — the same pooled histogram, but no region that lies
    # within one half looks like the reference.
    gen = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 1, 32, 32, generator=gen)
    x = torch.rand(1, 1, 32, 256, generator=gen) * 0.5
    x[..., 128:] += 0.5
    losses = []
    for region in (0.0, 1.0):
        loss = PatchSlicedLoss([ref], [1.0], patch=1, projections=4, periodic=(False, False), region=region)
        xx = x.clone().requires_grad_(True)
        losses.append(loss.backward(xx, torch.Generator().manual_seed(1)))
    assert losses[0] < 0.002
    assert losses[1] > 0.04  # a region within one half is stretched over [0, 1]: E[(y - 2y)²] = 1/12


def test_region_cuts_vary_and_wrap_only_on_periodic_axes():
    gen = torch.Generator().manual_seed(0)
    draws = [_axis_regions(1000, 100.0, False, gen) for _ in range(20)]
    for labels, count in draws:
        runs = torch.bincount(labels)
        assert len(runs) == count and 4 <= count <= 9
        assert (runs[:-1] >= 100).all() and (runs[:-1] <= 200).all()      # side…2·side
        assert 100 <= int(runs[-1]) < 300                                    # plus a short remainder
        assert int(labels[0]) == 0 and (labels.diff() >= 0).all()           # not periodic: starts at 0
    assert len({tuple(torch.bincount(l).tolist()) for l, _ in draws}) > 15  # new sizes every step
    rolled = [_axis_regions(1000, 100.0, True, gen)[0] for _ in range(20)]
    assert any(int(l[0]) != 0 for l in rolled)                               # periodic: random offset
    for labels in rolled:
        assert int((labels != torch.roll(labels, 1)).sum()) == int(labels.max()) + 1  # runs stay contiguous
    assert _axis_regions(199, 100.0, True, gen)[1] == 1                      # under two sides: one run
    ref = torch.rand(1, 3, 16, 16)
    assert PatchSlicedLoss([ref], [1.0], region=1.0)._regions(31, 31, gen, torch.device("cpu")) == (None, 1)


def test_mixture_quantiles_follow_weights():
    a = torch.zeros(1, 1000)
    b = torch.ones(1, 1000)
    q = mixture_quantiles([a, b], [3, 1], 400)
    assert abs(float(q.mean()) - 0.25) < 0.01
    assert float(resample_sorted(sort_rows(torch.arange(10.0)[None]), 5).mean()) == pytest.approx(4.5)


def _optimise(loss, x, steps=30, lr=0.03):
    x = x.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    gen = torch.Generator().manual_seed(1)
    values = []
    for _ in range(steps):
        opt.zero_grad()
        values.append(loss.backward(x, gen))
        opt.step()
    return values


def test_patch_loss_is_small_for_same_texture_and_decreases_under_optimisation():
    gen = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, 48, 48, generator=gen).cumsum(3) / 48  # horizontal ramps: structured
    loss = PatchSlicedLoss([ref], [1.0], patch=5, projections=16)
    noise = torch.rand(1, 3, 48, 48, generator=gen)
    g = torch.Generator().manual_seed(2)
    same = loss.backward(ref.clone().requires_grad_(True), g)
    other = loss.backward(noise.clone().requires_grad_(True), g)
    assert same < 0.05 * other
    values = _optimise(loss, noise)
    assert values[-1] < 0.3 * values[0]


def test_patch_loss_gradient_wraps_around_the_border():
    """With tiling, a pixel on the left edge is influenced by patches that cross to the right edge."""
    ref = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    loss = PatchSlicedLoss([ref], [1.0], patch=5, projections=8, periodic=(True, True))
    loss.backward(x, torch.Generator().manual_seed(3))
    tiled_grad = x.grad.clone()
    x.grad = None
    PatchSlicedLoss([ref], [1.0], patch=5, projections=8, periodic=(False, False)).backward(x, torch.Generator().manual_seed(3))
    # Without wrap the corner pixel lies in a single patch; with wrap in 25: much more gradient.
    assert tiled_grad[..., 0, 0].abs().sum() > 3 * x.grad[..., 0, 0].abs().sum()


@pytest.mark.parametrize("periodic", [(True, True), (False, True)])
@pytest.mark.parametrize("dilation", [1, 4])
def test_patch_loss_is_shift_equivariant_on_periodic_axes(periodic, dilation):
    """Shifting the image along a periodic axis shifts the gradient: no column is special, so the
    wrap boundary is an ordinary line of the texture. This is what "tileable by construction" means."""
    ref = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    x0 = torch.rand(1, 3, 24, 36, generator=torch.Generator().manual_seed(1))
    loss = PatchSlicedLoss([ref], [1.0], patch=5, projections=8, periodic=periodic, dilation=dilation)
    a = x0.clone().requires_grad_(True)
    loss.backward(a, torch.Generator().manual_seed(3))
    b = torch.roll(x0, 7, 3).clone().requires_grad_(True)
    loss.backward(b, torch.Generator().manual_seed(3))
    assert torch.allclose(torch.roll(a.grad, 7, 3), b.grad, atol=1e-9 + 1e-5 * float(a.grad.abs().max()))


class _GridMovedBy(PatchSlicedLoss):
    """The patch loss with its region grid rolled by ``offset`` columns after the random draw."""

    offset = 0

    def _regions(self, hv, wv, generator, device):
        labels, count = super()._regions(hv, wv, generator, device)
        return torch.roll(labels.view(hv, wv), self.offset, 1).reshape(-1), count


def test_patch_loss_with_regions_is_shift_equivariant_given_its_grid():
    """With several regions the grid's offset is drawn uniformly each step; an image and its roll
    get the same gradient (rolled) when their grids are rolled alike, so over the steps no column
    is special there either."""
    ref = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    x0 = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    grads = []
    for shift in (0, 7):
        loss = _GridMovedBy([ref], [1.0], patch=5, projections=8, region=1.0)
        loss.offset = shift
        x = torch.roll(x0, shift, 3).clone().requires_grad_(True)
        loss.backward(x, torch.Generator().manual_seed(3))
        grads.append(x.grad)
    assert loss._regions(32, 48, torch.Generator(), torch.device("cpu"))[1] > 1
    assert torch.allclose(torch.roll(grads[0], 7, 3), grads[1], atol=1e-9 + 1e-5 * float(grads[0].abs().max()))


def test_random_net_features_are_periodic_and_fixed():
    net = RandomNet(3, (True, True))
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    f = net(x)
    f_shift = net(torch.roll(x, (8, 8), (2, 3)))
    assert torch.allclose(torch.roll(f[0], (8, 8), (2, 3)), f_shift[0], atol=1e-5)
    again = RandomNet(3, (True, True))
    assert all(torch.equal(a, b) for a, b in zip(net.weights, again.weights))


@pytest.mark.parametrize("kind", ["gram", "sw"])
def test_cnn_losses_prefer_the_reference_and_decrease(kind):
    gen = torch.Generator().manual_seed(0)
    ref = (torch.rand(1, 3, 40, 40, generator=gen).cumsum(2) / 40).clamp(0, 1)
    net = RandomNet(3, (True, True))
    loss = CNNFeatureLoss(net, [ref], [1.0], loss=kind)
    g = torch.Generator().manual_seed(1)
    noise = torch.rand(1, 3, 40, 40, generator=gen)
    assert loss.backward(ref.clone().requires_grad_(True), g) < 0.2 * loss.backward(noise.clone().requires_grad_(True), g)
    values = _optimise(loss, noise, steps=25)
    assert values[-1] < 0.6 * values[0]


def test_periodic_resize_keeps_tileability():
    gen = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, 8, 8, generator=gen)
    periodic = base.repeat(1, 1, 4, 4)  # exactly periodic with period 8 → tiles
    up = resize(periodic, 64, 64, True, True)
    img = up[0].permute(1, 2, 0).numpy()
    assert seam_score(img) < 1.1
    down = resize(up, 16, 16, True, True)
    assert down.shape == (1, 3, 16, 16)
    assert torch.allclose(resize(base, 8, 8), base)


def test_colour_match_moves_pixel_distribution_to_reference():
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 32, 32, generator=gen) * 0.3
    ref = 0.5 + 0.5 * torch.rand(1, 3, 32, 32, generator=gen)
    out = match_colours(img, [ref], [1.0], torch.Generator().manual_seed(1))
    assert torch.allclose(out.mean((2, 3)), ref.mean((2, 3)), atol=0.02)


def test_seam_score_separates_photos_from_periodic_images():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:128, 0:128] / 128
    photo = np.stack([x, y, x * y], -1) + rng.normal(0, 0.01, (128, 128, 3))  # gradients: a seam
    periodic = np.stack([np.sin(2 * np.pi * x * 3), np.cos(2 * np.pi * y * 2), np.sin(2 * np.pi * (x + y))], -1)
    assert seam_score(photo) > 5
    assert abs(seam_score(periodic) - 1) < 0.1
    assert seam_score(photo, axis="x") > 5 and seam_score(photo, axis="y") > 5


def test_patch_distance_samples_large_images_faithfully():
    rng = np.random.default_rng(0)
    ref = rng.random((48, 48, 3)).cumsum(1) / 48
    big = np.tile(rng.random((40, 40, 3)), (3, 3, 1))
    exact = patch_distance(big, ref)
    sampled = patch_distance(big, ref, max_positions=4000)  # 114² positions at full scale: sampled
    assert sampled != exact and abs(sampled - exact) < 0.05 * exact
    assert patch_distance(big, ref, max_positions=4000) == sampled  # the sample is fixed by the seed


def test_patch_distance_of_a_tile_does_not_depend_on_its_origin():
    rng = np.random.default_rng(0)
    ref = rng.random((48, 48, 3)).cumsum(1) / 48
    tile = np.tile(rng.random((16, 16, 3)), (4, 4, 1)) * 0.5 + rng.random((64, 64, 3)) * 0.5
    rolled = np.roll(tile, (12, 20), (0, 1))  # multiples of 4: the shrunken copies roll exactly too
    assert patch_distance(rolled, ref, periodic=True) == pytest.approx(patch_distance(tile, ref, periodic=True), rel=1e-4)
    assert patch_distance(rolled, ref) != pytest.approx(patch_distance(tile, ref), rel=1e-3)  # clipped edges differ


def test_patch_distance_orders_similarity():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:96]
    stripes = (np.sin(x / 3.0)[..., None] * 0.5 + 0.5).repeat(3, 2)
    shifted = np.roll(stripes, 7, 1)
    noise = noise_like(stripes, 96, 96)
    assert patch_distance(stripes, shifted) < 0.3 * patch_distance(stripes, noise)
    assert patch_distance(stripes, stripes + rng.normal(0, 0.01, stripes.shape)) < patch_distance(stripes, noise)


def test_large_outputs_cut_only_the_finest_level_and_raise_its_rate():
    from texture_addon.engine.presets import PRESETS, ladder

    preset = PRESETS["default"]
    small, large = ladder(preset, 1024, 1024, 5), ladder(preset, 2048, 2048, 5)
    assert [lv.steps for lv in small[:-1]] == [lv.steps for lv in large[:-1]]  # the layout levels keep theirs
    assert large[-1].steps == preset.large_fine_steps < small[-1].steps == preset.fine_steps
    # Same total movement budget (rate × steps) at the finest level.
    assert large[-1].lr * large[-1].steps == pytest.approx(small[-1].lr * small[-1].steps)
    assert [lv.height for lv in large] == [128, 256, 512, 1024, 2048]


def test_adam_is_bit_identical_to_torch_optim_adam():
    from texture_addon.engine.adam import Adam

    gen = torch.Generator().manual_seed(0)
    start = torch.rand(1, 3, 16, 16, generator=gen)
    target = torch.rand(1, 3, 16, 16, generator=gen)
    a = start.clone().requires_grad_(True)
    b = start.clone().requires_grad_(True)
    ours, theirs = Adam(a, lr=0.05, betas=(0.9, 0.99)), torch.optim.Adam([b], lr=0.05, betas=(0.9, 0.99))
    for step in range(25):
        lr = 0.05 * (1 - step / 50)  # the rate changes every step, as in the pyramid loop
        ours.lr = lr
        for group in theirs.param_groups:
            group["lr"] = lr
        for x, opt in ((a, ours), (b, theirs)):
            opt.zero_grad()
            ((x - target) ** 3).abs().sum().backward()
            opt.step()
    assert torch.equal(a, b) and not torch.equal(a, start)
