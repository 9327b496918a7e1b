"""Structure figure and verbatim-copy share: large-patch nearest neighbours, output → reference.

Why large patches. Distribution figures (histograms, Gram matrices, sliced Wasserstein of 7×7
patches) say which small pieces occur and how often; they stay low when closed outlines break
open, round dots melt into blobs or blades turn to grain, because every small piece of those
failures exists in the reference. A person checks the opposite: does every part of the output
look like *some* part of the reference, at the scale of a whole dot, cell or blade. That is the
nearest-neighbour distance of large patches from every output location to the reference
(Kwatra et al. 2005 minimise it; here it only judges). Two scales: 15×15 patches at full
resolution (edges, grain, outlines) and 15×15 at half resolution (≈30 px of context: whole
cells, dots, stones, blade segments).

Normalised so references compare: each scale's mean distance is divided by the same distance
for white noise with the reference's own colour histogram at that scale (0 = every output patch
exists in the reference; 1 = as unlike the reference as noise). ``structure`` is the mean of the
two scales.

A low figure is also what a collage of verbatim pieces gets, so the copy share sits beside it:
the share of output pixels covered by a 24×24 (or larger) window over which the nearest
reference patch has one offset (±1 px) and is a near-exact match (distance under
``COPY_TOLERANCE`` of the noise distance). A tiled reference scores ≈1; a new texture, 0.

The **soft** share sits beside both: the share of the output whose local contrast (RMS grey
gradient over 9×9 px) is below the reference's 10th percentile (so the reference scores 0.10). It
is what the eye calls hazy or smeared, which the structure figure forgives: L2 nearest neighbours
prefer a blurred patch to a sharp one slightly out of place. Grain lowers it too, so it is read
beside the structure figure, never alone.

Outputs that tile are judged with wrap-around patches (their content across the tile's edge is
part of the texture). Nearest neighbours: patches are reduced to ``PCA_DIMS`` principal
components of the reference's patches, searched by chunked matrix products over every patch of
the reference, and the best ``RERANK`` candidates are re-scored at full dimension (against a
brute-force search on two outputs: the mean distance within 1 %, the same neighbour 78–84 % of
the time — the others are near-ties). Queries lie on
a regular grid of at most ``MAX_QUERIES`` output positions (every 4th pixel each way at 256²,
every 8th at 512²), so the cost hardly grows with the output's size.

Limits, measured: a blurred copy of a texture scores like a sharp one at the coarse scale (box
averaging removes what blurring removes); the fine scale and the engine's patch-distribution
figure catch blur. L2 nearest neighbours also prefer flat, averaged patches to sharp misplaced
ones, which is why noise, not a flat image, is the unit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

PATCH = 15
PCA_DIMS = 16
RERANK = 8
MAX_QUERIES = 4096
NOISE_QUERIES = 2048
COPY_WINDOW = 24
COPY_TOLERANCE = 0.2
CHUNK = 512
SOFT_WINDOW = 9
SOFT_PERCENTILE = 10.0


@dataclass(frozen=True)
class StructureScore:
    """Figures for one output against one reference (lower ``structure`` is better)."""

    structure: float  # mean of the two scales below
    fine: float  # 15×15 at full resolution ÷ noise
    coarse: float  # 15×15 at half resolution ÷ noise
    copy_share: float  # share of output pixels in ≥ 24×24 verbatim-copied regions
    soft: float = 0.0  # share of the output less contrasted than the reference's flattest tenth

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _tensor(img: np.ndarray) -> torch.Tensor:
    """(3, H, W) float32 in [0, 1] from an H×W, H×W×1, ×3 or ×4 array (uint8 or float)."""
    a = np.asarray(img)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535
    a = a.astype(np.float32)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] == 4:
        a = a[..., :3]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"expected an image array, got shape {np.asarray(img).shape}")
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)


def _half(x: torch.Tensor) -> torch.Tensor:
    """2×2 box average (an even crop first), the same for tiling and non-tiling images."""
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    return F.avg_pool2d(x[None, :, :h, :w], 2)[0]


class _Grid:
    """Query patches on a regular grid of corners: stride 1, or the smallest giving ≤ ``limit``.

    A tiling image is padded with its own wrap-around first, so every pixel starts a patch.
    """

    def __init__(self, x: torch.Tensor, periodic: bool, limit: int) -> None:
        h, w = x.shape[1:]
        hv, wv = (h, w) if periodic else (h - PATCH + 1, w - PATCH + 1)
        if hv < 1 or wv < 1:
            raise ValueError(f"image too small for {PATCH}×{PATCH} patches: {w}×{h}")
        stride = 1
        while -(-hv // stride) * -(-wv // stride) > limit:
            stride += 1
        if periodic:
            x = F.pad(x[None], (0, PATCH - 1, 0, PATCH - 1), mode="circular")[0]
        self.stride = stride
        self.gh, self.gw = -(-hv // stride), -(-wv // stride)
        # unfold with a stride yields exactly the corners 0, stride, 2·stride, … < hv (and wv)
        x = x[:, :(self.gh - 1) * stride + PATCH, :(self.gw - 1) * stride + PATCH]
        self.patches = F.unfold(x[None], PATCH, stride=stride)[0].T.contiguous()
        ys, xs = torch.meshgrid(torch.arange(self.gh) * stride, torch.arange(self.gw) * stride, indexing="ij")
        self.ys, self.xs = ys.reshape(-1), xs.reshape(-1)


class _Index:
    """Every PATCH×PATCH patch of one reference image, PCA-reduced, for nearest-neighbour search.

    ``extra`` images add their patches after the reference's own (:meth:`corner` speaks of the
    reference's only): the half-resolution index holds all four 2×2 pairings of the reference.
    """

    def __init__(self, ref: torch.Tensor, extra: tuple[torch.Tensor, ...] = ()) -> None:
        h, w = ref.shape[1:]
        if h < PATCH or w < PATCH:
            raise ValueError(f"reference too small for {PATCH}×{PATCH} patches: {w}×{h}")
        parts = [F.unfold(img[None], PATCH)[0].T for img in (ref, *extra)]
        self.patches = torch.cat(parts).contiguous()  # (L, C·P·P), row-major corners, ref first
        self.wv = w - PATCH + 1
        self.mean = self.patches.mean(0)
        self.basis = _principal_directions(self.patches - self.mean, PCA_DIMS)
        self.coded = torch.cat([self._code(self.patches[i:i + 8192]) for i in range(0, len(self.patches), 8192)])
        self.sq = (self.coded ** 2).sum(1)

    def corner(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, x) of the top-left corners of reference patches ``idx``."""
        return idx // self.wv, idx % self.wv

    def _code(self, patches: torch.Tensor) -> torch.Tensor:
        return (patches - self.mean) @ self.basis

    def nearest(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(index of the nearest reference patch, its RMS per-value distance) for each patch."""
        idx_out, dist_out = [], []
        k = min(RERANK, len(self.coded))
        for i in range(0, len(patches), CHUNK):
            p = patches[i:i + CHUNK]
            q = self._code(p)
            d2 = torch.addmm(self.sq[None], q, self.coded.T, alpha=-2)  # |r|² − 2q·r: |q|² ranks nothing
            cand = torch.topk(d2, k, dim=1, largest=False).indices  # (n, k)
            full = self.patches[cand]  # (n, k, C·P·P)
            exact = ((full - p[:, None]) ** 2).mean(2)  # re-score at full dimension
            best = exact.argmin(1)
            idx_out.append(cand.gather(1, best[:, None])[:, 0])
            dist_out.append(exact.gather(1, best[:, None])[:, 0].sqrt())
        return torch.cat(idx_out), torch.cat(dist_out)


def _principal_directions(x: torch.Tensor, dims: int, iterations: int = 3) -> torch.Tensor:
    """The ``dims`` leading principal directions of centred rows ``x`` (randomised subspace iteration).

    A fixed generator keeps the figure repeatable; three iterations with 8 spare directions are
    plenty here, since the basis only ranks candidates and the best ones are re-scored exactly.
    """
    dims = min(dims, x.shape[1], x.shape[0])
    sample = x[torch.linspace(0, len(x) - 1, min(len(x), 8192)).long()]
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(x.shape[1], min(dims + 8, x.shape[1]), generator=gen)
    for _ in range(iterations):
        q, _ = torch.linalg.qr(sample.T @ (sample @ q))
    _, _, vh = torch.linalg.svd(sample @ q, full_matrices=False)
    return q @ vh.T[:, :dims]


def _percentile(values: torch.Tensor, q: float) -> float:
    """The ``q``-th percentile (lower value) of ``values``; ``torch.quantile`` refuses over 2²⁴ values."""
    flat = values.flatten()
    k = max(1, min(flat.numel(), int(round(q / 100 * (flat.numel() - 1))) + 1))
    return float(flat.kthvalue(k).values)


def local_contrast(x: torch.Tensor, periodic: bool) -> torch.Tensor:
    """(H, W) RMS grey-level gradient over SOFT_WINDOW² windows of a (3, H, W) image."""
    g = x.mean(0)
    gy, gx = torch.roll(g, -1, 0) - g, torch.roll(g, -1, 1) - g
    if not periodic:  # no wrap-around difference at the far edges
        gy[-1], gx[:, -1] = gy[-2], gx[:, -2]
    r = SOFT_WINDOW // 2
    e = F.pad((gy * gy + gx * gx)[None, None], (r, r, r, r), mode="circular" if periodic else "replicate")
    return F.avg_pool2d(e, SOFT_WINDOW, stride=1)[0, 0].clamp_min(0).sqrt()


def _noise_like(ref: torch.Tensor, h: int, w: int, seed: int) -> torch.Tensor:
    """White noise with exactly the reference's colour histogram (its pixels, shuffled)."""
    flat = ref.reshape(ref.shape[0], -1)
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, flat.shape[1], (h * w,), generator=gen)
    return flat[:, pick].reshape(ref.shape[0], h, w)


class StructureJudge:
    """Scores any number of outputs against one reference; the reference's work is done once."""

    def __init__(self, reference: np.ndarray) -> None:
        with torch.no_grad():
            full = _tensor(reference)
            # Half resolution in all four 2×2 pairings: output content lies at any offset from
            # the reference's, and a 3-px grout line box-averaged in the other pairing is another
            # line. With the reference's one pairing only, the coarse figure of one tiling output
            # moved 0.16–0.44 (tiles) as the output was rolled by a pixel.
            halves = [_half(full[:, a:, b:]) for a in (0, 1) for b in (0, 1)]
            self.levels = [full, halves[0]]
            self.index = [_Index(full), _Index(halves[0], tuple(h for h in halves[1:] if min(h.shape[1:]) >= PATCH))]
            self.soft_floor = _percentile(local_contrast(full, False), SOFT_PERCENTILE)
            self.noise = []
            for level, (x, index) in enumerate(zip(self.levels, self.index)):
                noise = _noise_like(x, 2 * x.shape[1], 2 * x.shape[2], seed=level)
                grid = _Grid(noise, True, NOISE_QUERIES)
                self.noise.append(float(index.nearest(grid.patches)[1].mean()))

    def score(self, output: np.ndarray, periodic: bool = True) -> StructureScore:
        """Figures for ``output``; ``periodic`` says it tiles (its patches wrap around)."""
        with torch.no_grad():
            out = _tensor(output)
            ratios = []
            copy = 0.0
            for level, x in enumerate((out, _half(out))):
                grid = _Grid(x, periodic, MAX_QUERIES)
                idx, dist = self.index[level].nearest(grid.patches)
                ratios.append(float(dist.mean()) / self.noise[level])
                if level == 0:
                    ry, rx = self.index[0].corner(idx)
                    shape = (grid.gh, grid.gw)
                    close = (dist <= COPY_TOLERANCE * self.noise[0]).view(shape)
                    copy = _copy_share((ry - grid.ys).view(shape), (rx - grid.xs).view(shape), close, grid.stride, periodic)
            soft = float((local_contrast(out, periodic) < self.soft_floor).float().mean())
        return StructureScore(structure=(ratios[0] + ratios[1]) / 2, fine=ratios[0], coarse=ratios[1], copy_share=copy,
                              soft=soft)


def _copy_share(oy: torch.Tensor, ox: torch.Tensor, close: torch.Tensor, stride: int, periodic: bool) -> float:
    """Share of grid points inside some window of ≥ COPY_WINDOW px whose matches are one verbatim copy.

    Each grid point stands for its stride × stride cell, so a window is ⌈COPY_WINDOW / stride⌉
    points a side. A window qualifies when every point in it matched closely and at the anchor's offset (±1 px).
    Erosion finds qualifying anchors, dilation spreads them over their windows; both with rolls
    (wrapping for tiles; a non-tiling image masks windows that would leave it).
    """
    gh, gw = oy.shape
    w = max(1, -(-COPY_WINDOW // stride))
    if w > gh or w > gw:
        return 0.0
    inside = torch.ones(gh, gw, dtype=torch.bool)
    if not periodic:
        inside[gh - w + 1:, :] = False
        inside[:, gw - w + 1:] = False
    anchors = close & inside
    for a in range(w):
        for b in range(w):
            if a == 0 and b == 0:
                continue
            sy, sx = torch.roll(oy, (-a, -b), (0, 1)), torch.roll(ox, (-a, -b), (0, 1))
            anchors &= torch.roll(close, (-a, -b), (0, 1)) & ((sy - oy).abs() <= 1) & ((sx - ox).abs() <= 1)
    covered = torch.zeros_like(anchors)
    for a in range(w):
        for b in range(w):
            covered |= torch.roll(anchors, (a, b), (0, 1))
    return float(covered.float().mean())


def soft_share(output: np.ndarray, reference: np.ndarray, periodic: bool = True) -> float:
    """One-off convenience: the ``soft`` figure alone (see the module's docstring)."""
    with torch.no_grad():
        ref = _tensor(reference)
        floor = _percentile(local_contrast(ref, False), SOFT_PERCENTILE)
        return float((local_contrast(_tensor(output), periodic) < floor).float().mean())


def structure_score(output: np.ndarray, reference: np.ndarray, periodic: bool = True) -> StructureScore:
    """One-off convenience: :class:`StructureJudge` for ``reference``, scoring ``output``."""
    return StructureJudge(reference).score(output, periodic=periodic)
