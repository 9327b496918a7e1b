"""Patch correspondence between an image and its references: the nearest-neighbour field and the vote.

Distribution losses fix which local patterns occur and how often, not how they join: a closed cell
outline, a round dot or a grass blade needs every *large* patch of the output to look like some
patch of a reference. Texture optimisation (Kwatra et al. 2005) minimises exactly that,

    E(x) = Σ_p  w_p ‖P_p x − z_p‖²,   z_p = the reference patch nearest to P_p x,

by alternating the nearest-neighbour search (this module's :func:`search`) with the exact
minimiser of the quadratic for fixed correspondences (:func:`vote`: every output pixel becomes the
weighted mean of the reference pixels that the patches covering it propose). Every operation wraps
around on periodic axes, so the result is periodic by construction.

Patches are compared after a PCA projection, computed as one convolution with the principal
patches as filters: 7×7×3 = 147 numbers become 24–32, and no patch matrix is ever unfolded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

#: Distance evaluations per chunk of the exact search (rows × reference patches). A 4 MB block stays
#: in cache from its product to its minimum; computing the products twice (once for
#: completeness's column minima) in such blocks beats one pass over a kept 48 MB matrix: 64²
#: output × 54² patches, 2 cores: 22.9 → 18.4 ms per search, same matches.
EXACT_CHUNK = 1 << 20
#: Up to this many (output × reference) pairs a level is searched exhaustively; above it, by
#: PatchMatch (propagation + random search), which costs O(candidates) per pixel.
EXACT_LIMIT = 1 << 27
#: Matches ``span`` px apart still belong to one copy when their offsets differ by up to this
#: much: a copy drifting by a pixel is still a copy to the eye (and to the benchmark's copy
#: figure). Exact offsets only let such copies through (tuning images: copy share 0.064 → 0.050,
#: structure figure 0.296 → 0.305, the same to the eye).
COPY_JITTER = 1


def _pad(x: torch.Tensor, r: int, periodic: tuple[bool, bool]) -> torch.Tensor:
    """Pad (1, C, H, W) by ``r``: wrap on periodic axes, replicate on the others."""
    if r == 0:
        return x
    py, px = periodic
    if px:
        x = torch.cat([x[..., -r:], x, x[..., :r]], dim=3)
    else:
        x = F.pad(x, (r, r, 0, 0), mode="replicate")
    if py:
        x = torch.cat([x[..., -r:, :], x, x[..., :r, :]], dim=2)
    else:
        x = F.pad(x, (0, 0, r, r), mode="replicate")
    return x


def _sample_patches(image: torch.Tensor, size: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """(S, C·k²) patches lying fully inside ``image`` (1, C, H, W), at most ``count`` drawn at random.

    The draw picks centres first and gathers only those patches: unfolding every patch of a 256²
    image at 11×11 to keep 8000 of them wrote 87 MB for nothing.
    """
    _, c, h, w = image.shape
    vh, vw = h - size + 1, w - size + 1
    total = vh * vw
    if total <= count:
        return F.unfold(image, size)[0].t()
    pick = torch.randint(0, total, (count,), generator=generator).to(image.device)
    off = torch.arange(size, device=image.device)
    ys = (pick // vw)[:, None, None] + off[None, :, None]   # (S, k, 1)
    xs = (pick % vw)[:, None, None] + off[None, None, :]    # (S, 1, k)
    patches = image[0][:, ys, xs]                            # (C, S, k, k)
    return patches.permute(1, 0, 2, 3).reshape(count, c * size * size)


#: Ridge added to a covariance the single-precision solver gives up on, relative to its mean
#: variance: far below anything a grey level can show, enough to split repeated zero eigenvalues.
EIGH_RIDGE = 1e-9


def _principal_axes(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors of a patch covariance, for any reference, on ``cov``'s device.

    Single precision first: only the leading components are kept, and they come out the same to
    well below a grey level; double costs 4× as long (27 ms against 7 ms for 11×11×3 patches,
    ~0.1 s of a 0.7 s 256² job over its four levels). LAPACK's single-precision solver fails to
    converge on the near-zero, highly degenerate covariances of a flat swatch, a 1-px
    checkerboard or 1-px stripes; only then is it solved again in double precision (on the CPU:
    MPS has no float64) with a ridge scaled to the covariance's trace, so every ordinary output
    stays byte-identical. Should even that fail, the axes are the identity: a flat reference has
    no preferred direction, and the search still compares every patch by its leading pixels.
    """
    try:
        return torch.linalg.eigh(cov)
    except torch.linalg.LinAlgError:
        pass
    d = cov.shape[0]
    c64 = cov.detach().to("cpu", torch.float64)
    mean_var = float(c64.trace()) / d
    ridge = EIGH_RIDGE * (mean_var if math.isfinite(mean_var) and mean_var > 0 else 1.0)
    try:
        evals, evecs = torch.linalg.eigh(c64 + ridge * torch.eye(d, dtype=torch.float64))
    except torch.linalg.LinAlgError:
        evals, evecs = c64.diagonal().clone(), torch.eye(d, dtype=torch.float64)
    return evals.to(cov.device, cov.dtype), evecs.to(cov.device, cov.dtype)


@dataclass
class PatchSpace:
    """A PCA basis of k×k patches: ``features`` projects images onto it with one convolution."""

    size: int
    filters: torch.Tensor      # (D, C, k, k)
    mean: torch.Tensor         # (D,) projection of the mean patch
    channel_scale: torch.Tensor  # (C,) per-channel weights applied before projection

    @staticmethod
    def fit(references: Sequence[torch.Tensor], size: int, dims: int, generator: torch.Generator,
            channel_weights: Optional[torch.Tensor] = None, sample: int = 8000) -> "PatchSpace":
        """Principal patches of the references (a random sample of their patches)."""
        c = references[0].shape[1]
        scale = torch.ones(c, device=references[0].device) if channel_weights is None else channel_weights
        cols = []
        per = max(256, sample // len(references))
        for ref in references:
            cols.append(_sample_patches(ref * scale[None, :, None, None], size, per, generator))
        data = torch.cat(cols, dim=0)  # (S, C·k²)
        mu = data.mean(dim=0)
        centred = data - mu
        cov = (centred.t() @ centred) / max(1, centred.shape[0] - 1)
        evals, evecs = _principal_axes(cov)
        order = torch.argsort(evals, descending=True)[: min(dims, evecs.shape[1])]
        basis = evecs[:, order]
        # Fix each component's sign so results never depend on the eigen-solver's whim.
        signs = torch.sign(basis[basis.abs().argmax(dim=0), torch.arange(basis.shape[1])])
        basis = basis * signs[None, :]
        filters = basis.t().reshape(-1, c, size, size).contiguous()
        mean = mu @ basis
        return PatchSpace(size, filters, mean, scale)

    def features(self, x: torch.Tensor, periodic: Optional[tuple[bool, bool]] = None) -> torch.Tensor:
        """(1, C, H, W) → (H'·W', D) patch features, one per patch *centre*.

        With ``periodic`` given, every pixel is a centre (borders padded: wrapped on periodic axes);
        with ``None`` only the patches lying fully inside the image count (references).
        """
        r = self.size // 2
        x = x * self.channel_scale[None, :, None, None]
        if periodic is not None:
            x = _pad(x, r, periodic)
        f = F.conv2d(x, self.filters)  # (1, D, H', W')
        return f[0].flatten(1).t().contiguous() - self.mean[None, :]


class Bank:
    """Every reference patch of one level: features, where it lies, and the pixels a vote reads.

    Reference patches of all references share one index space ``0 … M-1``; ``owner`` says which
    reference each belongs to, ``cy``/``cx`` its centre; :meth:`pixels` gives a vote the
    reference pixels around any patch's centre by flat index.
    """

    def __init__(self, references: Sequence[torch.Tensor], space: PatchSpace) -> None:
        r = space.size // 2
        feats, owners, cys, cxs, valid_dims, full_dims = [], [], [], [], [], []
        for i, ref in enumerate(references):
            _, c, h, w = ref.shape
            vh, vw = h - 2 * r, w - 2 * r
            if vh < 1 or vw < 1:
                raise ValueError("reference smaller than a patch")
            feats.append(space.features(ref))
            yy, xx = torch.meshgrid(torch.arange(vh, device=ref.device) + r,
                                    torch.arange(vw, device=ref.device) + r, indexing="ij")
            cys.append(yy.reshape(-1))
            cxs.append(xx.reshape(-1))
            owners.append(torch.full((vh * vw,), i, dtype=torch.long, device=ref.device))
            valid_dims.append((vh, vw))
            full_dims.append((h, w))
        self.radius = r
        self.features = torch.cat(feats)                 # (M, D)
        self.norms = (self.features * self.features).sum(dim=1)
        self.owner = torch.cat(owners)                   # (M,)
        self.cy = torch.cat(cys)
        self.cx = torch.cat(cxs)
        self.full = torch.tensor(full_dims, device=self.features.device)    # (R, 2) h, w
        self.valid = torch.tensor(valid_dims, device=self.features.device)  # (R, 2) valid h, w
        starts = [0]
        for vh, vw in valid_dims[:-1]:
            starts.append(starts[-1] + vh * vw)
        self.start = torch.tensor(starts, device=self.features.device)
        self.count = self.features.shape[0]
        self.references = len(references)
        self.single = valid_dims[0]
        self._refs = list(references)
        self._pixels: Optional[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = None

    def index(self, owner: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
        """Patch index of centre (cy, cx) in reference ``owner``, clamped into its valid area."""
        r = self.radius
        if self.references == 1:  # the common case: plain integers, no per-element look-ups
            vh, vw = self.single
            return (cy - r).clamp_(0, vh - 1).mul_(vw).add_((cx - r).clamp_(0, vw - 1))
        vh = self.valid[owner, 0]
        vw = self.valid[owner, 1]
        y = torch.minimum(torch.clamp(cy - r, min=0), vh - 1)
        x = torch.minimum(torch.clamp(cx - r, min=0), vw - 1)
        return self.start[owner] + y * vw + x

    def inside(self, owner: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
        """Whether centre (cy, cx) of reference ``owner`` is a whole patch (what :meth:`index` clamps)."""
        r = self.radius
        if self.references == 1:
            vh, vw = self.single
            return (cy >= r) & (cy < vh + r) & (cx >= r) & (cx < vw + r)
        return (cy >= r) & (cy < self.valid[owner, 0] + r) & (cx >= r) & (cx < self.valid[owner, 1] + r)

    def shifted_inside(self, idx: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
        """Whether the patch ``(dy, dx)`` away from each patch in ``idx`` lies inside its reference."""
        if self.references == 1:
            vh, vw = self.single
            y, x = idx // vw + dy, idx % vw + dx
            return (y >= 0) & (y < vh) & (x >= 0) & (x < vw)
        return self.inside(self.owner[idx], self.cy[idx] + dy, self.cx[idx] + dx)

    def shifted(self, idx: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
        """The patch ``(dy, dx)`` away from each patch in ``idx``, in the same reference."""
        if self.references == 1:
            vh, vw = self.single
            return (idx // vw + dy).clamp_(0, vh - 1).mul_(vw).add_((idx % vw + dx).clamp_(0, vw - 1))
        return self.index(self.owner[idx], self.cy[idx] + dy, self.cx[idx] + dx)

    def pixels(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every reference's pixels flattened side by side (C, Σ h·w); for each patch the flat index
        of its centre pixel (M,) and the row stride of its reference (M,), so that the pixel
        (dy, dx) away from a patch's centre is ``centre + dy · stride + dx``: a vote reads proposals
        straight from the images.
        """
        if self._pixels is None:
            flat = torch.cat([ref[0].flatten(1) for ref in self._refs], dim=1)
            sizes = self.full[:, 0] * self.full[:, 1]
            offsets = torch.cumsum(sizes, 0) - sizes
            stride = self.full[self.owner, 1]
            self._pixels = (flat, offsets[self.owner] + self.cy * stride + self.cx, stride)
        return self._pixels


def falloff(radius: int, device: torch.device) -> torch.Tensor:
    """(k²,) the vote's Gaussian weight of each position of a k×k window, k = 2·radius + 1."""
    off = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    return torch.exp(-(off[:, None] ** 2 + off[None, :] ** 2) / (2.0 * max(1.0, radius) ** 2)).reshape(-1)


#: Rows per chunk when distances to gathered matches are computed. Small on purpose: a gathered
#: block over glibc's mmap threshold (at most 32 MB) is mapped fresh and faulted in page by page at
#: every candidate, where a 1.5 MB block is reused from the heap and stays in cache through its
#: three passes. 2²⁰ rows (96 MB) → 2¹⁴: one PatchMatch gather over 1 M pixels 33–37 → 3–6 ms;
#: 1024² synthesis 9.8 → 7.3 s (default) and 2.6 → 1.8 s (draft); no change up to 512².
GATHER_CHUNK = 1 << 14

#: On a GPU there is no mmap threshold and every block is a few kernel launches, so blocks are
#: 16× larger there (gather 2¹⁸ rows, vote 2²² floats: tens of MB, fine on an 8 GB card). H200,
#: bricks, default, in one process: 1024² 2.4 → 1.9 s, 2048² 4.8 → 3.4 s, same peak memory;
#: 64× larger again gained nothing more.
GPU_GATHER_CHUNK = 1 << 18
GPU_VOTE_CHUNK = 1 << 22


def _block(cpu: int, gpu: int, device: torch.device) -> int:
    return cpu if device.type == "cpu" else gpu


def distances(q: torch.Tensor, bank: Bank, idx: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """‖q_p − f_{idx_p}‖² (+ bias of the reference patch) for each row p.

    The gathered rows are turned into the differences in place: one temporary instead of two
    halves the time of a PatchMatch candidate at 1024² (the same values bit for bit).
    """
    n = q.shape[0]
    d = torch.empty(n, dtype=q.dtype, device=q.device)
    chunk = _block(GATHER_CHUNK, GPU_GATHER_CHUNK, q.device)
    for s in range(0, n, chunk):
        g = bank.features.index_select(0, idx[s:s + chunk])
        g.sub_(q[s:s + chunk]).square_()
        torch.sum(g, dim=1, out=d[s:s + chunk])
    if bias is not None:
        d += bias[idx]
    return d


def exact_search(q: torch.Tensor, bank: Bank, bias: Optional[torch.Tensor],
                 completeness: float = 0.0, keep: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exhaustive nearest neighbours by chunked matrix products: (index, raw distance) per row.

    With ``completeness`` > 0 a reference patch's distances are divided by (α + its distance to the
    closest output patch), α = ``completeness`` × the median of those: a reference patch that no
    output patch resembles yet becomes cheap, one that is already well represented dear (Granot et
    al. 2022). This pulls rare elements (dots on a plain ground, thin outlines) into the output,
    where plain nearest neighbours let the commonest flat patches take over. ``keep`` =
    (previous match, penalty) per row makes keeping the previous match dearer (see
    :func:`coherence_penalty`).

    The whole cost, (‖q‖² + ‖f‖² − 2 q·f + bias) · scale, is one product of augmented rows
    [q, ‖q‖², 1] · [−2f·s, s, (‖f‖² + bias)·s], so a block goes from the product straight to its
    argmin: the norms, bias and scale used to be four more passes over every block, and a
    separate add to the product (64² output × 58² patches, 2 cores: 85–105 → 70–80 ms a search).
    """
    n = q.shape[0]
    qa = _augmented(q)
    ones = torch.ones(bank.count, dtype=q.dtype, device=q.device)
    scale = ones
    if completeness > 0:
        col = _column_minima(qa, bank)
        scale = 1.0 / (completeness * col.median().clamp_min(1e-8) + col)
    offset = bank.norms if bias is None else bank.norms + bias
    cost_t = torch.cat([bank.features * (-2.0 * scale[:, None]), scale[:, None], (offset * scale)[:, None]],
                       dim=1).t().contiguous()
    rows = max(1, EXACT_CHUNK // max(1, bank.count))
    best_i = torch.empty(n, dtype=torch.long, device=q.device)
    for s in range(0, n, rows):
        cost = torch.mm(qa[s:s + rows], cost_t)
        if keep is not None:
            prev, pen = keep[0][s:s + rows], keep[1][s:s + rows]
            cost[torch.arange(prev.shape[0], device=q.device), prev] += pen * scale[prev]
        best_i[s:s + rows] = _row_argmin(cost)
    best_d = distances(q, bank, best_i, None)
    return best_i, best_d


#: Columns per group in :func:`_row_argmin`.
ARGMIN_GROUP = 64


def _row_argmin(cost: torch.Tensor) -> torch.Tensor:
    """``cost.argmin(dim=1)``, the same indices, in a quarter of the time on a CPU.

    Torch's CPU argmin is scalar code: over a 4 MB block it took 1.1 ms where ``amin`` takes
    0.08 ms, which made it the largest pass of the exhaustive search after the product. So the
    row's minimum is found per group of :data:`ARGMIN_GROUP` columns with ``amin``, the first group
    holding the row's minimum by an argmin over the few group minima, and the column by an argmin
    inside that group only (0.3 ms). The first minimal column lies in the first minimal group, so
    ties resolve to the same index as argmin's. Columns past the last whole group are searched
    apart and win only when strictly smaller. GPUs keep the plain argmin (already fast there; the
    split would only add launches).
    """
    n, m = cost.shape
    groups = m // ARGMIN_GROUP
    if cost.device.type != "cpu" or groups < 2:
        return cost.argmin(dim=1)
    whole = groups * ARGMIN_GROUP
    grouped = cost[:, :whole].unflatten(1, (groups, ARGMIN_GROUP))
    low, group = grouped.amin(dim=2).min(dim=1)
    inside = grouped[torch.arange(n, device=cost.device), group].argmin(dim=1)
    best = group * ARGMIN_GROUP + inside
    if whole < m:
        tail_low, tail = cost[:, whole:].min(dim=1)
        best = torch.where(tail_low < low, tail + whole, best)
    return best


def _augmented(q: torch.Tensor) -> torch.Tensor:
    """Rows [q, ‖q‖², 1]: their product with [−2f, 1, ‖f‖²] is the squared distance ‖q − f‖²."""
    ones = torch.ones(q.shape[0], 1, dtype=q.dtype, device=q.device)
    return torch.cat([q, (q * q).sum(dim=1, keepdim=True), ones], dim=1)


def _column_minima(qa: torch.Tensor, bank: Bank) -> torch.Tensor:
    """Each reference patch's distance to its closest output patch (rows of ``qa``: :func:`_augmented`).

    Computed in blocks of reference patches, so the minimum runs along contiguous rows (a column
    minimum over output-major blocks was a quarter slower, product included).
    """
    fa = torch.cat([bank.features * -2.0, torch.ones_like(bank.norms)[:, None], bank.norms[:, None]], dim=1)
    qa_t = qa.t().contiguous()
    rows = max(1, EXACT_CHUNK // max(1, qa.shape[0]))
    col = torch.empty(bank.count, dtype=qa.dtype, device=qa.device)
    for s in range(0, bank.count, rows):
        col[s:s + rows] = torch.mm(fa[s:s + rows], qa_t).amin(dim=1)
    return col.clamp_min_(0)


def coherence_penalty(bank: Bank, field: torch.Tensor, height: int, width: int, span: int,
                      periodic: tuple[bool, bool]) -> torch.Tensor:
    """(N,) bool: pixels deep inside a verbatim copy of the reference, ``span`` px each way.

    A pixel whose match continues, in offset (± :data:`COPY_JITTER`), to the pixels ``span`` away
    in all four directions lies in a copied region at least 2·span + 1 wide. Making such pixels' current
    match dearer at the next search splits large copies into pieces: nearest-neighbour synthesis
    otherwise grows coherent regions until whole areas of the reference reappear verbatim (the
    occurrence penalty cannot see that: a copied region uses each reference patch only once).
    """
    grid = field.view(height, width)
    inside = torch.ones(height, width, dtype=torch.bool, device=field.device)
    cy, cx, owner = bank.cy[grid], bank.cx[grid], bank.owner[grid]
    for dy, dx in ((span, 0), (-span, 0), (0, span), (0, -span)):
        there = torch.roll(grid, shifts=(-dy, -dx), dims=(0, 1))
        same = ((bank.owner[there] == owner) & ((bank.cy[there] - cy - dy).abs() <= COPY_JITTER)
                & ((bank.cx[there] - cx - dx).abs() <= COPY_JITTER))
        if not periodic[0] and dy:
            same[(slice(-dy, None) if dy > 0 else slice(None, -dy))] = False
        if not periodic[1] and dx:
            same[:, (slice(-dx, None) if dx > 0 else slice(None, -dx))] = False
        inside &= same
    return inside.reshape(-1)


def _neighbour_candidates(field: torch.Tensor, bank: Bank, height: int, width: int,
                          jump: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Propagation: a neighbour's match, shifted back by the offset to that neighbour, and whether
    that shifted patch exists (a neighbour matched at the reference's edge has no continuation)."""
    grid = field.view(height, width)
    out = []
    for dy, dx in ((jump, 0), (-jump, 0), (0, jump), (0, -jump)):
        nb = torch.roll(grid, shifts=(-dy, -dx), dims=(0, 1)).reshape(-1)  # match at p + (dy, dx)
        out.append((bank.shifted(nb, -dy, -dx), bank.shifted_inside(nb, -dy, -dx)))
    return out


def patchmatch(q: torch.Tensor, bank: Bank, field: torch.Tensor, height: int, width: int,
               bias: Optional[torch.Tensor], generator: torch.Generator, rounds: int = 2,
               random_tries: int = 3, check: Optional[Callable[[], None]] = None,
               keep: Optional[torch.Tensor] = None,
               extra: Optional[tuple[torch.Tensor, torch.Tensor]] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Improve ``field`` (N,) by vectorised PatchMatch: every pixel at once, wrap-around.

    Each round tries the neighbours' matches (jumps 1, 2, 4: a good match spreads quickly through
    the whole image in a few rounds) and random matches around the current one at shrinking radii,
    plus one uniform draw over all references. ``check`` runs between passes (cancellation).
    ``keep`` (N,) is added to the cost of keeping ``field``'s own match (see
    :func:`coherence_penalty`). ``extra`` = (candidate, usable) per pixel is tried before the
    first round, so propagation can spread it (see ``lattice.shifted_by_periods``). Returned
    distances include the biases.
    """
    prev = field
    best = field.clone()

    def cost(idx: torch.Tensor) -> torch.Tensor:
        d = distances(q, bank, idx, bias)
        return d if keep is None else d.add_(keep * (idx == prev))

    best_d = cost(best)

    def consider(cand: torch.Tensor, ok: Optional[torch.Tensor] = None) -> None:
        nonlocal best, best_d
        d = cost(cand)
        better = d < best_d
        if ok is not None:
            better &= ok
        best = torch.where(better, cand, best)
        best_d = torch.where(better, d, best_d)

    if extra is not None:
        consider(*extra)
    n = q.shape[0]
    dev = q.device
    for _ in range(rounds):
        for jump in (1, 2, 4):
            if check is not None:
                check()
            for cand, ok in _neighbour_candidates(best, bank, height, width, jump):
                consider(cand, ok)
        owner = bank.owner[best]
        radius = int(bank.full.max())
        tries = []
        while radius >= 2 and len(tries) < random_tries:
            tries.append(radius)
            radius //= 2
        for rad in tries:
            oy = torch.randint(-rad, rad + 1, (n,), generator=generator).to(dev)
            ox = torch.randint(-rad, rad + 1, (n,), generator=generator).to(dev)
            cy, cx = bank.cy[best] + oy, bank.cx[best] + ox
            consider(bank.index(owner, cy, cx), bank.inside(owner, cy, cx))
        consider(torch.randint(0, bank.count, (n,), generator=generator).to(dev))
    return best, best_d


#: Floats per strip of gathered proposals in :func:`vote`: 1 MB strips stay on the heap and in cache
#: (see :data:`GATHER_CHUNK`; 64 MB strips were mapped afresh for every window offset).
VOTE_CHUNK = 1 << 18


def vote(bank: Bank, field: torch.Tensor, weight: torch.Tensor, height: int, width: int,
         periodic: tuple[bool, bool], radius: int) -> torch.Tensor:
    """The minimiser of Σ w_p ‖P_p x − z_p‖² for fixed matches: a weighted mean of the proposals.

    Each output patch centred at p proposes its match's pixels for the (2·radius+1)² pixels around
    p, with a Gaussian fall-off from the centre. Proposals that fall off a periodic edge wrap to the
    other side; off a non-periodic edge they are dropped. ``weight`` (N,) is each patch's confidence
    (robust weights: a badly matched patch has less say, which keeps edges sharp where good matches
    agree). The overlap-add runs offset by offset: for each (dy, dx) of the window, every output
    pixel's proposal is one gather from the (cache-sized) reference images, added into a shifted
    slice of the accumulator — 3.4× faster at 1024² than gathering whole patch columns and
    folding them (three votes: 3.7 s → 1.1 s on 2 cores), and no temporary larger than one image.
    """
    r = radius
    dev = weight.device
    flat, centre, stride = bank.pixels()
    c = flat.shape[0]
    g = falloff(r, dev)                             # (k²,)
    if c * g.numel() * height * width <= _fold_limit(dev):
        return _vote_folded(bank, field, weight, height, width, periodic, r)
    num = torch.zeros(c, height + 2 * r, width + 2 * r, device=dev)
    den = torch.zeros(1, height + 2 * r, width + 2 * r, device=dev)
    fimg = field.view(height, width)
    wimg = weight.view(height, width)
    single = bank.references == 1
    rows = max(1, _block(VOTE_CHUNK, GPU_VOTE_CHUNK, dev) // max(1, c * width))
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        f = fimg[y0:y1].reshape(-1)
        base = centre[f]
        step = int(bank.full[0, 1]) if single else stride[f]
        w = wimg[y0:y1]
        i = 0
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                wg = w * g[i]
                idx = base + (dy * step + dx)
                vals = flat.index_select(1, idx).view(c, y1 - y0, width).mul_(wg)
                num[:, y0 + r + dy:y1 + r + dy, r + dx:r + dx + width] += vals
                den[0, y0 + r + dy:y1 + r + dy, r + dx:r + dx + width] += wg
                i += 1
    py, px = periodic
    num, den = _fold(num, r, py, px), _fold(den, r, py, px)
    return (num / den.clamp_min(1e-12))[None]


#: Floats of gathered patches up to which :func:`vote` gathers them all at once and overlap-adds them
#: with one ``fold``: on the coarse levels the offset-by-offset loop is hundreds of tiny operations
#: (2 cores: 3.3 → 1.0 ms per vote at 32², 4.3 → 3.2 ms at 64²), while at 128² and above the loop's
#: cache-sized passes win (10 vs 20 ms).
FOLD_VOTE_LIMIT = 1 << 21
#: On a GPU the loop is launch-bound (each offset is five kernel launches of microseconds' work), so
#: the single gather-and-fold is used up to 2²⁸ floats (1 GB: every level up to 1024² at radius 3)…
GPU_FOLD_VOTE_LIMIT = 1 << 28
#: … and only while the card has room: on the H200 a 1024² fold peaked at 3.4 GiB for 0.6 GB of
#: proposals (indices, weights and the fold's output beside them), so about 24 bytes of free
#: memory per float. A small card falls back to the loop instead of running out of memory.
FOLD_BYTES_PER_FLOAT = 24


def _fold_limit(device: torch.device) -> int:
    if device.type == "cpu":
        return FOLD_VOTE_LIMIT
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return max(FOLD_VOTE_LIMIT, min(GPU_FOLD_VOTE_LIMIT, free // FOLD_BYTES_PER_FLOAT))
    return GPU_FOLD_VOTE_LIMIT


def _vote_folded(bank: Bank, field: torch.Tensor, weight: torch.Tensor, height: int, width: int,
                 periodic: tuple[bool, bool], r: int) -> torch.Tensor:
    """:func:`vote` for small images: every proposal gathered at once, overlap-added by ``fold``."""
    dev = weight.device
    flat, centre, stride = bank.pixels()
    c, k = flat.shape[0], 2 * r + 1
    off = torch.arange(-r, r + 1, device=dev)
    if bank.references == 1:
        rel = (off[:, None] * int(bank.full[0, 1]) + off[None, :]).reshape(-1, 1)      # (k², 1)
        idx = centre[field][None, :] + rel                                            # (k², N)
    else:
        idx = (centre[field][None, :] + off.repeat_interleave(k)[:, None] * stride[field][None, :]
               + off.repeat(k)[:, None])
    wg = falloff(r, dev)[:, None] * weight[None, :]                                   # (k², N)
    vals = flat.index_select(1, idx.reshape(-1)).view(c, k * k, -1).mul_(wg)
    padded = (height + 2 * r, width + 2 * r)
    num = F.fold(vals.view(1, c * k * k, -1), padded, k)[0]
    den = F.fold(wg[None], padded, k)[0]
    py, px = periodic
    num, den = _fold(num, r, py, px), _fold(den, r, py, px)
    return (num / den.clamp_min(1e-12))[None]


def _fold(a: torch.Tensor, r: int, py: bool, px: bool) -> torch.Tensor:
    """Drop a padded accumulator's border, adding it onto the opposite side on periodic axes."""
    if r == 0:
        return a
    if px:
        a[:, :, r:2 * r] += a[:, :, -r:]
        a[:, :, -2 * r:-r] += a[:, :, :r]
    a = a[:, :, r:-r]
    if py:
        a[:, r:2 * r] += a[:, -r:]
        a[:, -2 * r:-r] += a[:, :r]
    return a[:, r:-r].contiguous()


def upsample_field(bank_coarse: Bank, bank_fine: Bank, field: torch.Tensor, h0: int, w0: int,
                   h1: int, w1: int) -> torch.Tensor:
    """A coarse level's matches carried to the next, finer level (Lefebvre & Hoppe's upsampling).

    A fine pixel inherits the match of the coarse pixel it lies in, scaled to the finer reference,
    plus its own position within that coarse pixel: coherent regions stay coherent.
    """
    dev = field.device
    ys = torch.arange(h1, device=dev)
    xs = torch.arange(w1, device=dev)
    y0 = torch.clamp((ys * h0) // h1, max=h0 - 1)
    x0 = torch.clamp((xs * w0) // w1, max=w0 - 1)
    coarse = field.view(h0, w0)[y0][:, x0]  # (h1, w1)
    owner = bank_coarse.owner[coarse]
    sy = bank_fine.full[owner, 0].float() / bank_coarse.full[owner, 0].float()
    sx = bank_fine.full[owner, 1].float() / bank_coarse.full[owner, 1].float()
    fy = ys[:, None] - torch.floor(y0[:, None].float() * h1 / h0).long()
    fx = xs[None, :] - torch.floor(x0[None, :].float() * w1 / w0).long()
    cy = torch.floor(bank_coarse.cy[coarse].float() * sy).long() + fy
    cx = torch.floor(bank_coarse.cx[coarse].float() * sx).long() + fx
    return bank_fine.index(owner.reshape(-1), cy.reshape(-1), cx.reshape(-1))
