"""A periodic reference's lattice, and a starting layout for large outputs that keeps its phase.

Why: an output many times the reference's area is pieced together at the coarsest level from
regions that start apart (random matches). On a regular texture (bricks, tiles, a weave) regions
that meet out of phase leave a dislocation — brick courses shifted by half a course along a line —
and a *straight* such wall is stable: moving it neither lengthens nor shortens it, so no local
search mends it (2048² bricks from a 256² reference: four times the coarsest iterations kept as
many walls). Starting every pixel on a reference location of the same phase — its position reduced
into the reference by the texture's own lattice vectors — gives one phase everywhere; the
iterations that follow rearrange within it. Textures without a strong lattice (stones, lichen,
grass) are left to the random start.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

#: A lattice vector's correlation peak must reach this (1 = the image itself) …
MIN_PEAK = 0.5
#: … and its multiples, used to measure it to a fraction of a pixel, this.
MIN_MULTIPLE_PEAK = 0.4
#: Shorter shifts are the image's own smoothness, not a period.
MIN_PERIOD = 3.0
#: A lattice vector maps at least this share of the reference's patches onto near copies …
MIN_MATCHED = 0.6
#: … and at least this fraction of the best candidate's share (a weave's strand spacing matches
#: 0.66 of its patches, its true period 1.0; a brick wall's period 0.73–0.75, the best it has).
RELATIVE_MATCHED = 0.9
#: Patch side and distance (÷ twice the image's variance) of a near copy in that test.
PATCH = 7
MATCH_DISTANCE = 0.35


def _grey(reference: torch.Tensor) -> torch.Tensor:
    return reference[0].float().mean(0).cpu()


def _autocorrelation(grey: torch.Tensor) -> torch.Tensor:
    """Normalised autocorrelation without wrap-around (zero-padded), per overlapping pixel."""
    h, w = grey.shape
    g = grey - grey.mean()
    size = (2 * h, 2 * w)
    f = torch.fft.rfft2(g, s=size)
    ac = torch.fft.irfft2(f * f.conj(), s=size)
    ones = torch.zeros(size, dtype=g.dtype)
    ones[:h, :w] = 1
    fo = torch.fft.rfft2(ones)
    count = torch.fft.irfft2(fo * fo.conj(), s=size).clamp_min(1)
    ac = ac / count
    return ac / ac[0, 0].clamp_min(1e-12)


def _overlap(g: torch.Tensor, sy: int, sx: int) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = g.shape
    return (g[max(0, sy):h + min(0, sy), max(0, sx):w + min(0, sx)],
            g[max(0, -sy):h + min(0, -sy), max(0, -sx):w + min(0, -sx)])


def _correlation(g: torch.Tensor, sy: int, sx: int) -> float:
    a, b = _overlap(g, sy, sx)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / ((a * a).sum().sqrt() * (b * b).sum().sqrt() + 1e-8))


def _matched_share(g: torch.Tensor, sy: int, sx: int) -> float:
    """The share of 7×7 patches that the shift (sy, sx) maps onto a near copy of themselves.

    A correlation is an average: a basket weave shifted by one strand matches its blocks of one
    orientation and misses the others, and still correlates at 0.68. A lattice vector of the
    texture maps (nearly) every patch onto its twin.
    """
    a, b = _overlap(g, sy, sx)
    d = _window_sums((a - b) ** 2, PATCH)
    return float((d < MATCH_DISTANCE * 2 * float(g.var()) * PATCH * PATCH).float().mean())


def _window_sums(x: torch.Tensor, k: int) -> torch.Tensor:
    """Sums over every k×k window inside ``x`` (h, w), from a float64 summed-area table.

    A weave has over 200 autocorrelation peaks to test, and a 7×7 ``avg_pool2d`` per peak cost
    ~1 ms (0.29 s a reference); four look-ups per window cost a tenth of that.
    """
    c = F.pad(x.double().cumsum(0).cumsum(1), (1, 0, 1, 0))
    return c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]


def _refine(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """A lattice vector to a fraction of a pixel: the peak near its largest strong multiple ÷ k.

    An integer vector measured on one period is off by up to half a pixel, and over an output
    many periods wide that error adds up to a whole brick; measured over k periods it is 1/k.
    """
    h, w = g.shape
    best = v.clone()
    for k in (2, 3, 4, 5, 6, 8):
        t = v * k
        if abs(float(t[0])) > 0.6 * h or abs(float(t[1])) > 0.6 * w:
            break
        top, at = -2.0, None
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                sy, sx = int(round(float(t[0]))) + dy, int(round(float(t[1]))) + dx
                c = _correlation(g, sy, sx)
                if c > top:
                    top, at = c, (sy, sx)
        if top < MIN_MULTIPLE_PEAK or at is None:
            break
        best = torch.tensor(at, dtype=torch.float32) / k
    return best


def find_lattice(reference: torch.Tensor) -> Optional[torch.Tensor]:
    """(2, 2) lattice vectors (dy, dx) in pixels of ``reference`` (1, C, h, w), or None.

    The two shortest non-parallel peaks of the autocorrelation that reach :data:`MIN_PEAK` and map
    nearly as many patches onto near copies as the best peak does (:func:`_matched_share`), each
    then measured over several periods. None otherwise: a texture that is only roughly regular
    gets the ordinary random start.
    """
    grey = _grey(reference)
    h, w = grey.shape
    ac = _autocorrelation(grey)
    H, W = ac.shape
    dys = torch.arange(H)
    dys = torch.where(dys >= H // 2, dys - H, dys)
    dxs = torch.arange(W)
    dxs = torch.where(dxs >= W // 2, dxs - W, dxs)
    DY, DX = torch.meshgrid(dys, dxs, indexing="ij")
    allowed = (DY.abs() <= h // 2) & (DX.abs() <= w // 2) & ((DY**2 + DX**2) >= MIN_PERIOD**2)
    local_max = F.max_pool2d(F.pad(ac[None, None], (1, 1, 1, 1), mode="circular"), 3, 1)[0, 0]
    peak = allowed & (ac >= local_max) & (ac >= MIN_PEAK)
    ys, xs = torch.nonzero(peak, as_tuple=True)
    if ys.numel() < 2:
        return None
    vec = torch.stack([DY[ys, xs], DX[ys, xs]], 1).float()
    share = torch.tensor([_matched_share(grey, int(v[0]), int(v[1])) for v in vec])
    keep = (share >= MIN_MATCHED) & (share >= RELATIVE_MATCHED * share.max())
    vec = vec[keep]
    if vec.shape[0] < 2:
        return None
    order = torch.argsort(vec.norm(dim=1))
    v1 = vec[order[0]]
    for i in order[1:]:
        v2 = vec[i]
        cross = abs(float(v1[0] * v2[1] - v1[1] * v2[0]))
        if cross >= 0.5 * float(v1.norm() * v2.norm()):  # at least 30° apart
            return torch.stack([_refine(grey, v1), _refine(grey, v2)])
    return None


def phase_field(lattice: torch.Tensor, valid: tuple[int, int], height: int, width: int,
                generator: torch.Generator) -> torch.Tensor:
    """Flat patch indices (height·width,) into a ``valid`` grid of patch centres, all in one phase.

    ``lattice`` is in pixels of the level searched. Each output pixel is moved by a random offset
    (the same for all), reduced into the valid area by whole lattice vectors, then by one more
    random lattice step where that stays inside, so that the start is in phase without being one
    verbatim copy.
    """
    vh, vw = valid
    basis = lattice.t().double()  # columns: the two vectors (dy, dx)
    offset = torch.rand(2, generator=generator, dtype=torch.float64) * torch.tensor([vh, vw], dtype=torch.float64)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                            indexing="ij")
    s = torch.stack([ys.reshape(-1), xs.reshape(-1)]) + offset[:, None]
    centre = torch.tensor([(vh - 1) / 2, (vw - 1) / 2], dtype=torch.float64)[:, None]
    s = s - basis @ torch.round(torch.linalg.solve(basis, s - centre))
    step = torch.randint(-1, 2, s.shape, generator=generator).double()
    moved = s + basis @ step
    inside = (moved[0] >= 0) & (moved[0] <= vh - 1) & (moved[1] >= 0) & (moved[1] <= vw - 1)
    s = torch.where(inside[None], moved, s)
    py = torch.round(s[0]).long().clamp_(0, vh - 1)
    px = torch.round(s[1]).long().clamp_(0, vw - 1)
    return py * vw + px


def shifted_by_periods(bank, field: torch.Tensor, lattice: torch.Tensor, height: int, width: int,
                       flagged: torch.Tensor, generator: torch.Generator,
                       ) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
    """Candidates that move copied regions of a lattice texture by whole periods, block by block.

    Why: on an exactly periodic reference the best arrangement *is* the reference's own layout, so
    an output in one phase is made of large verbatim copies — the same tile next to the same
    neighbour, the same grain — and the copy penalty cannot break them: the match it pushes a
    pixel to is one or two pixels off (the same copy, shifted), or, a period away, too far for
    PatchMatch's local random search to find. Here each output block of half a period gets one
    random lattice step (a·v₁ + b·v₂, a, b ∈ {−1, 0, 1}, not both 0), and every ``flagged`` pixel
    (inside a copy) is offered its match moved by its block's step: the structure stays in phase,
    while the tiles and grain under it come from elsewhere in the reference, in pieces smaller than
    a copy. PatchMatch takes a step only where it is no dearer than the penalised copy.

    ``bank`` is the level's :class:`~texture_addon.engine.correspondence.Bank` of a single
    reference, ``lattice`` (2, 2) its vectors in pixels of this level. None when a vector is not a
    whole number of pixels here (a step would put the structure out of phase by a fraction).
    """
    steps_px = torch.round(lattice)
    if float((lattice - steps_px).abs().max()) > 0.25:
        return None
    v = steps_px.long()
    steps = torch.stack([a * v[0] + b * v[1] for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b])   # (8, 2)
    side = max(4, int(float(lattice.norm(dim=1).min())) // 2)
    ny, nx = -(-height // side), -(-width // side)
    choice = torch.randint(0, steps.shape[0], (ny, nx), generator=generator)
    ys = torch.arange(height) // side
    xs = torch.arange(width) // side
    step = steps[choice[ys][:, xs]].reshape(-1, 2).to(field.device)                            # (N, 2)
    vh, vw = bank.single
    y = field // vw + step[:, 0]
    x = field % vw + step[:, 1]
    ok = flagged & (y >= 0) & (y < vh) & (x >= 0) & (x < vw)
    return y.clamp(0, vh - 1) * vw + x.clamp(0, vw - 1), ok
