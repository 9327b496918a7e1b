"""Coarse-to-fine texture optimisation by patch correspondence (the default synthesis method).

Each pyramid level alternates two exact steps of one energy (see :mod:`.correspondence`): find,
for every output patch, its nearest reference patch; then set the output to the weighted mean of
what the matched patches propose. Between the two, each channel's histogram is pushed onto the
references' (without it the means drift towards grey and the next search prefers flat patches:
the texture melts). A level starts from the previous level's matches, upsampled, so the layout
chosen at the coarse levels — where a patch spans a good part of the reference — is kept and only
refined.

Two penalties shape the search: an *occurrence* cost on reference patches that many output
patches already use (Zhou et al. 2023's remedy against copying one area over and over, which
also keeps flat areas from taking over; above the finest level only, where the layout is
decided), and, with several references, a per-reference cost that
is adjusted each iteration until every reference holds its weight's share of the output (the
mixture Σ wᵢ φᵢ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field
from typing import Callable, Optional, Sequence

import torch

from . import correspondence
from .correspondence import Bank, PatchSpace, coherence_penalty, exact_search, patchmatch, upsample_field, vote
from .device import configure_threads
from .lattice import find_lattice, phase_field, shifted_by_periods
from .progress import CancelToken, ProgressCallback, ProgressInfo
from .pyramid import _preview
from .resample import resize
from .pieces import piece_field
from .sliced import mixture_quantiles, transport_targets

#: The coarsest level shrinks the smallest reference to about this side: a 7×7 patch then spans
#: a fifth of it, enough context for cell sizes and rows to be decided there.
COARSEST_REFERENCE_SIDE = 32
MIN_OUTPUT_SIDE_AT_COARSEST = 8
MAX_LEVELS = 8
PREVIEWS_PER_LEVEL = 2


@dataclass(frozen=True)
class CorrespondencePreset:
    coarse_iterations: int       # EM iterations at the coarsest level (with coarsest_iterations: the next one)
    fine_iterations: int         # at the finest level (levels between: geometric)
    coarsest_iterations: int = 0  # the coarsest level's own count (0: coarse_iterations; see plan)
    patch: int = 7
    dims: int = 24               # PCA dimensions of a patch
    rounds: int = 2              # PatchMatch rounds per iteration (fine levels)
    occurrence: float = 1.5      # strength of the occurrence penalty
    robust: float = 0.6          # robust weight exponent: w = d^(-robust/2) (0: plain mean)
    completeness: float = 0.3    # GPNN normalisation at exhaustively searched levels (0: off)
    large_fine_iterations: int = 0  # replaces fine_iterations when the finest level is huge
    coarsest_side: int = COARSEST_REFERENCE_SIDE
    copy_span: int = 8           # pixels deep inside a copy this wide (at the finest scale) are pushed off it
    copy_penalty: float = 9.0    # … by this many mean match distances (0: off)
    finest_copy_penalty: float = 24.0  # the same at the finest level (see _run)
    finest_copy_span: int = 16   # copy_span at the finest level (0: copy_span)
    lattice_steps: bool = True   # copies of a periodic reference may move by whole periods (see _LatticeSteps)
    lattice_copy_span: int = 4   # finest_copy_span when they can (see _run)
    phase_patch: int = 0         # coarsest patch side when a large output starts in one phase (0: ``patch``)
    pca_sample: int = 8000       # patches sampled per level to fit the PCA basis
    finest_occurrence: float = 0.0  # occurrence penalty at the finest level of several (see _run)
    histogram: float = 1.0       # how far each update's channel histograms move onto the references'
    final_radius: int = 1        # vote radius of the very last update (-1: the patch's; 0: centre pixels)
    finest_patch: int = 0        # patch side at the finest level (0: ``patch``)
    finest_rounds: int = 0       # PatchMatch rounds at the finest level (0: ``rounds``)
    coarsest_area_cap: float = 8.0  # coarsest iterations × min(this, output area ÷ reference area)
    exact_pairs: int = 0         # levels with up to this many (output × reference) patch pairs are searched
                                 # exhaustively (0: correspondence.EXACT_LIMIT)
    piece_start: float = 0.0     # a large output's coarsest level starts from reference pieces this many px
                                 # apart (at that level; 0: random matches; see pieces.piece_field)
    piece_iterations: int = 4    # … then runs this many iterations there (see plan)
    piece_patch: int = 5         # … with patches this wide (see patch_side)


LARGE_PIXELS = 2_000_000


@dataclass
class CorrespondenceLevel:
    factor: float
    height: int
    width: int
    iterations: int


@dataclass
class CorrespondenceJob:
    """What one run needs; built by :func:`~.synthesize.synthesize` and the other modes."""

    references: Sequence[torch.Tensor]        # (1, C, h, w) at the finest scale
    weights: Sequence[float]
    height: int
    width: int
    periodic: tuple[bool, bool]
    preset: CorrespondencePreset
    generator: torch.Generator
    channel_weights: Optional[torch.Tensor] = None  # (C,) how much each channel counts in a match
    stage: str = "synthesize"
    progress: Optional[ProgressCallback] = None
    cancel: Optional[CancelToken] = None
    preview_channels: slice = dc_field(default_factory=lambda: slice(0, 3))
    #: Optional hook run after every update of the image (e.g. a content term or fixed pixels):
    #: gets (image, level) and returns the image to continue from.
    constrain: Optional[Callable[[torch.Tensor, CorrespondenceLevel], torch.Tensor]] = None
    #: Optional starting image at the finest scale (stylize, seamless): the coarsest level then
    #: starts from it, shrunk, instead of from noise.
    start: Optional[torch.Tensor] = None
    histogram: bool = True


def plan(job: CorrespondenceJob, pieces: bool = False) -> list[CorrespondenceLevel]:
    """Pyramid levels, coarse to fine, with their iteration counts (``pieces``: see below)."""
    smallest = min(min(r.shape[2:]) for r in job.references)
    count = 1
    while (count < MAX_LEVELS and smallest / 2 ** count >= job.preset.coarsest_side * 0.99
           and min(job.height, job.width) / 2 ** count >= MIN_OUTPUT_SIDE_AT_COARSEST):
        count += 1
    p = job.preset
    if count == 1:
        its = [max(p.coarse_iterations // 2, p.fine_iterations)]
    elif p.coarsest_iterations:
        # The coarsest level is the cheap one and settles the layout; the next (at 256², the 64²
        # level, searched exhaustively: a third of the whole synthesis) only refines it. Eleven
        # tuning images × four seeds, 256²: 10, 7, 4, 3 iterations → 16, 5, 4, 3 gave structure
        # figure 0.2799 → 0.2756, copies 0.059 → 0.061 (with the coarse copy penalty 9 → 12),
        # synthesis time −11 % on 2 cores.
        its = [p.coarsest_iterations] + _geometric(p.coarse_iterations, p.fine_iterations, count - 1)
    else:
        its = _geometric(p.coarse_iterations, p.fine_iterations, count)
    if count > 1 and job.height * job.width > LARGE_PIXELS and p.large_fine_iterations:
        its[-1] = p.large_fine_iterations
    # An output larger than the reference is pieced together at the coarsest level from regions
    # started independently; where two meet out of phase, brick courses and rows shift along a
    # line that no finer level can mend. Iterated longer, the regions merge (1024² bricks from a
    # 256² reference: dislocations along diagonal lines with 10 iterations, none with 80), and the
    # coarsest level is the cheap one: it gets more iterations in proportion to the area.
    # A start made of reference pieces (``starts_from_pieces``) has no regions to merge, only
    # joins to mend: a few iterations, with small patches (``patch_side``).
    area = job.height * job.width / max(r.shape[2] * r.shape[3] for r in job.references)
    if pieces:
        its[0] = p.piece_iterations
    else:
        its[0] = round(its[0] * min(max(1.0, area), p.coarsest_area_cap))
    levels = []
    for i in range(count):
        f = 1.0 / 2 ** (count - 1 - i)
        h, w = max(1, round(job.height * f)), max(1, round(job.width * f))
        n = its[i]
        # The occurrence penalty reacts to the previous search, so an exhaustively searched level
        # swings between a spread and a herded layout every other iteration; below the coarsest
        # (which starts from random matches) an even count ends herded. 256² jobs, eleven tuning
        # images × four seeds, the 64² level at 5/6/7/8 iterations: structure figure 0.283 /
        # 0.303 / 0.280 / 0.298. References of 1024² and up got 8 there (high: 512² got 12).
        if 0 < i < count - 1 and n % 2 == 0 and _searched_exhaustively(job, f, h * w):
            n += 1
        levels.append(CorrespondenceLevel(f, h, w, n))
    return levels


def _geometric(first: int, last: int, count: int) -> list[int]:
    """``count`` iteration counts falling geometrically from ``first`` to ``last``."""
    if count == 1:
        return [last]
    ratio = (last / first) ** (1 / (count - 1))
    return [max(1, round(first * ratio ** i)) for i in range(count)]


def _searched_exhaustively(job: CorrespondenceJob, factor: float, pixels: int) -> bool:
    """Whether :func:`_run` will search this level (not the finest) exhaustively, from sizes alone."""
    p = job.preset
    size = p.patch
    patches = 0
    for r in job.references:
        rh, rw = (max(size + 1, round(d * factor)) for d in r.shape[2:])
        patches += (rh - size + 1) * (rw - size + 1)
    return pixels * patches <= (p.exact_pairs or correspondence.EXACT_LIMIT)


def _scaled(ref: torch.Tensor, factor: float, patch: int) -> torch.Tensor:
    if factor == 1.0:
        return ref
    h, w = ref.shape[2:]
    return resize(ref, max(patch + 1, round(h * factor)), max(patch + 1, round(w * factor)))


def channel_quantiles(references: Sequence[torch.Tensor], weights: Sequence[float], pixels: int) -> torch.Tensor:
    """Each channel's quantiles (C, ≤ 65536) of the references' mixture, for an output of ``pixels``.

    Computed once per level: sorting the references' pixels anew for every push cost 1 ms of each
    1.5 ms push at 256².
    """
    return mixture_quantiles([r[0].flatten(1) for r in references], weights, min(pixels, 65536))


def match_histograms(x: torch.Tensor, quantiles: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """Each channel's distribution pushed onto the references' mixture (monotone 1-D transport)."""
    c = x.shape[1]
    y = x[0].flatten(1)
    t = transport_targets(y, quantiles)
    if strength != 1.0:
        t = y + strength * (t - y)
    return t.view(1, c, *x.shape[2:]).clamp_(0, 1)


def _initial_field(bank: Bank, n: int, weights: Sequence[float], generator: torch.Generator) -> torch.Tensor:
    """Random matches, each reference holding its weight's share (white noise of patches)."""
    total = float(sum(weights))
    parts = []
    for i, w in enumerate(weights):
        k = int(round(n * w / total))
        lo = int(bank.start[i])
        size = int(bank.valid[i, 0] * bank.valid[i, 1])
        if k:
            parts.append(lo + torch.randint(0, size, (k,), generator=generator))
    field = torch.cat(parts)
    if field.numel() < n:
        field = torch.cat([field, field[: n - field.numel()]])
    field = field[:n][torch.randperm(n, generator=generator)]
    return field.to(bank.features.device)


#: Outputs at least this many times the reference's area start a periodic reference in one phase.
PHASE_START_AREA = 2.0


def phase_lattice(job: CorrespondenceJob) -> Optional[torch.Tensor]:
    """The lattice (2, 2) in reference pixels when the coarsest level starts in one phase, else None.

    Only a single periodic reference, and only outputs of at least :data:`PHASE_START_AREA` times
    its area: one or two regions have few walls to leave, and the benchmark's 256² runs stay as
    they were.
    """
    if len(job.references) != 1:
        return None
    ref = job.references[0]
    if job.height * job.width < PHASE_START_AREA * ref.shape[2] * ref.shape[3]:
        return None
    return find_lattice(ref)


def _phase_start(job: CorrespondenceJob, found: torch.Tensor, level_ref: torch.Tensor, bank: Bank,
                 h: int, w: int) -> torch.Tensor:
    """The coarsest level's start for a large output of one periodic reference (see engine/lattice.py)."""
    ref = job.references[0]
    scale = torch.tensor([level_ref.shape[2] / ref.shape[2], level_ref.shape[3] / ref.shape[3]])
    field = phase_field(found * scale[None, :], bank.single, h, w, job.generator)
    return field.to(bank.features.device)


#: Outputs at least this many times the reference's area start from reference pieces (``piece_start``).
PIECE_AREA = 4.0


def starts_from_pieces(job: CorrespondenceJob, in_phase: bool) -> bool:
    """Whether the coarsest level starts from reference pieces (``pieces.piece_field``).

    Only outputs of at least :data:`PIECE_AREA` times the (largest) reference's area, with no start
    image and no lattice (a periodic reference starts in one phase instead): every smaller output,
    the benchmark's 256² runs among them, stays byte for byte as it was.
    """
    area = max(r.shape[2] * r.shape[3] for r in job.references)
    return (job.preset.piece_start > 0 and not in_phase and job.start is None
            and job.height * job.width >= PIECE_AREA * area)


def patch_side(preset: CorrespondencePreset, level: int, levels: int, in_phase: bool, pieces: bool = False) -> int:
    """The patch side searched at a level.

    The finest level matches detail only (``finest_patch``). The coarsest level of a large output
    started in one phase gets ``phase_patch``: with 11×11 patches there (a third of the 32-px
    reference) the search strung the reference's short diagonal runs of dark bricks into runs
    across the whole output, which meet as a regular zigzag of tone bands — 2048² and 4096² bricks
    from the 256² example, seen shrunk; the start did not matter (three kinds of start, the same
    zigzag). 15×15 patches see two courses and two bricks of context and leave the shades
    scattered, the zigzag gone at 4096² (13: still runs; 17: other references' figures worse).
    A start made of reference pieces (``pieces``) gets ``piece_patch`` there: an 11×11 patch spans
    a third of the 32-px reference, so only the reference's middle can be its centre, and even one
    search and vote drew the output from that middle and packed its cells more regularly than the
    reference's (1024² stones, near / mid ÷ truth 1.45 / 1.19 at the start, 3.46 / 2.22 after one
    iteration). 5×5 patches join the pieces with little of that bias.
    """
    if level == levels - 1 and preset.finest_patch:
        return preset.finest_patch
    if level == 0 and levels > 1 and pieces and preset.piece_patch:
        return preset.piece_patch
    if level == 0 and levels > 1 and in_phase and preset.phase_patch:
        return preset.phase_patch
    return preset.patch


class _LatticeSteps:
    """Period-step candidates for copied regions of one periodic reference (``lattice.shifted_by_periods``).

    The lattice is looked for once per job, when a PatchMatch level first needs it (the finest
    level's copy span depends on it; 15–35 ms for a 256² reference without one), and only for a
    single reference (with several, a copy of one is no lattice of the blend).
    """

    def __init__(self, job: CorrespondenceJob) -> None:
        self.reference = job.references[0] if len(job.references) == 1 and job.preset.lattice_steps else None
        self.vectors: Optional[torch.Tensor] = None
        self.searched = False

    def found(self) -> bool:
        if self.reference is None:
            return False
        if not self.searched:
            self.searched = True
            self.vectors = find_lattice(self.reference)
        return self.vectors is not None

    def steps(self, bank: Bank, field: torch.Tensor, level_ref: torch.Tensor, h: int, w: int,
              keep: torch.Tensor, generator: torch.Generator) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
        flagged = keep > 0
        if not bool(flagged.any()) or not self.found():
            return None
        ref = self.reference
        scale = torch.tensor([level_ref.shape[2] / ref.shape[2], level_ref.shape[3] / ref.shape[3]])
        return shifted_by_periods(bank, field, self.vectors * scale[None, :], h, w, flagged, generator)


class _Biases:
    """Occurrence and reference-share penalties, updated after every search."""

    def __init__(self, bank: Bank, weights: Sequence[float], strength: float) -> None:
        self.bank = bank
        self.strength = strength
        total = float(sum(weights))
        self.target = torch.tensor([w / total for w in weights], device=bank.features.device)
        self.per_reference = torch.zeros(bank.references, device=bank.features.device)
        self.occurrence: Optional[torch.Tensor] = None
        self.scale = 0.0  # mean match distance of the last search: the unit of every penalty

    def current(self) -> Optional[torch.Tensor]:
        if self.occurrence is None and self.bank.references == 1:
            return None
        b = self.per_reference[self.bank.owner]
        if self.occurrence is not None:
            b = b + self.occurrence
        return b

    def update(self, field: torch.Tensor, dist: torch.Tensor) -> None:
        scale = float(dist.mean().clamp_min(1e-8))
        self.scale = scale
        n = field.numel()
        counts = torch.bincount(field, minlength=self.bank.count).to(dist.dtype)
        expected = max(1.0, n / self.bank.count)
        if self.strength > 0:
            self.occurrence = self.strength * scale * counts / expected
        if self.bank.references > 1:
            share = torch.bincount(self.bank.owner[field], minlength=self.bank.references).to(dist.dtype) / n
            self.per_reference += scale * (share - self.target) / self.target.clamp_min(1e-3)


def run(job: CorrespondenceJob) -> torch.Tensor:
    """Optimise coarse to fine; the finest image (1, C, H, W), detached."""
    try:
        return _run(job)
    finally:
        configure_threads()


def _run(job: CorrespondenceJob) -> torch.Tensor:
    p = job.preset
    lattice = _LatticeSteps(job)
    in_phase = phase_lattice(job) if job.start is None else None
    pieces = starts_from_pieces(job, in_phase is not None)
    levels = plan(job, pieces)
    total = sum(lv.iterations for lv in levels)
    done = 0
    gen = job.generator
    field = bank = None
    # Every level on all cores: unlike the statistics method's many tiny steps, even the small
    # levels here are a few large matrix products and gathers (256² default on 2 cores: 1.46 s
    # with one thread below 100 k pixels, 1.23 s with two throughout).
    configure_threads()
    x: Optional[torch.Tensor] = None
    prev = None
    for li, level in enumerate(levels):
        if job.cancel is not None:
            job.cancel.raise_if_cancelled()
        h, w = level.height, level.width
        dev = job.references[0].device
        size = patch_side(p, li, len(levels), in_phase is not None, pieces)
        refs = [_scaled(r, level.factor, size) for r in job.references]
        space = PatchSpace.fit(refs, size, p.dims, gen, job.channel_weights, sample=p.pca_sample)
        new_bank = Bank(refs, space)
        radius = size // 2
        n = h * w
        # The occurrence penalty is for the layout: it keeps the commonest (often flat) patches
        # from taking over, and the layout is decided at the coarse levels. At the finest level it
        # only pushed pixels of busy areas off their best match onto incoherent second choices,
        # which the vote averaged into a haze (on grass, half of the output's soft area had sharp
        # matches). Tuning images, two seeds: share of the output less contrasted than the
        # reference's 10th percentile 0.208 → 0.136 (reference: 0.10), copies 0.080 → 0.073,
        # structure figure 0.331 → 0.341 (it prefers blur); at 0.5: 0.167, 0.083, 0.336. Dense
        # blades lost their ghost blades, grass crops their haze. A single level keeps it.
        finest = li == len(levels) - 1 and len(levels) > 1
        biases = _Biases(new_bank, job.weights, p.finest_occurrence if finest else p.occurrence)
        quantiles = channel_quantiles(refs, job.weights, n) if job.histogram else None
        if field is None:
            if job.start is not None:
                x = resize(job.start, h, w, *job.periodic)
            else:
                if in_phase is not None:
                    field = _phase_start(job, in_phase, refs[0], new_bank, h, w)
                elif pieces:
                    field = piece_field(new_bank, h, w, job.periodic, p.piece_start, job.weights, gen)
                else:
                    field = _initial_field(new_bank, n, job.weights, gen)
                x = vote(new_bank, field, torch.ones(n, device=dev), h, w, job.periodic, 0)
        else:
            assert prev is not None and bank is not None
            field = upsample_field(bank, new_bank, field, prev[0], prev[1], h, w)
            x = vote(new_bank, field, torch.ones(n, device=dev), h, w, job.periodic, radius)
            if job.histogram:
                x = match_histograms(x, quantiles, p.histogram)
        if job.constrain is not None:
            x = job.constrain(x, level)
        bank = new_bank
        exact = n * bank.count <= (p.exact_pairs or correspondence.EXACT_LIMIT)
        every = max(1, math.ceil(level.iterations / PREVIEWS_PER_LEVEL))
        for it in range(level.iterations):
            q = space.features(x, job.periodic)
            bias = biases.current()
            keep = None
            # Copies are split where the layout is decided; at the finest level only gently. There a
            # full-strength penalty moved every pixel inside a copy at once, its neighbours pulled
            # half of them back, and the region became two sources interleaved pixel by pixel,
            # which the vote averages into a smear (grass blades went soft). Tuning images, two
            # seeds, structure figure / copy share at finest strength 6 → 2 → 0: procedural blades
            # 0.512/0.00 → 0.495/0.04 → 0.491/0.06, grass crops 0.533/0.00 → 0.529/0.03 →
            # 0.528/0.04, stones, cells, coins, dots, lichen within ±0.001. Without it copies
            # grew past the benchmark's bar (mean copy share 0.041 → 0.07; at 2: 0.05). Default now
            # flags only regions over ~33 px there (finest_copy_span 16), which it can push hard
            # (24) without the smear: few pixels move, and they move as a region.
            strength = p.finest_copy_penalty if li == len(levels) - 1 else p.copy_penalty
            if field is not None and strength > 0:
                span_px = p.finest_copy_span if (li == len(levels) - 1 and p.finest_copy_span) else p.copy_span
                if li == len(levels) - 1 and not exact and lattice.found():
                    span_px = p.lattice_copy_span
                span = max(2, round(span_px * level.factor))  # 1 broke stones into dangling lines
                keep = coherence_penalty(bank, field, h, w, span, job.periodic).to(q.dtype) * (strength * biases.scale)
            prev = field
            if exact or field is None:
                field, dist = exact_search(q, bank, bias, p.completeness, None if keep is None else (prev, keep))
            else:
                rounds = p.finest_rounds if (li == len(levels) - 1 and p.finest_rounds) else p.rounds
                extra = lattice.steps(bank, field, refs[0], h, w, keep, gen) if keep is not None else None
                field, dist = patchmatch(q, bank, field, h, w, bias, gen, rounds=rounds,
                                         check=job.cancel.raise_if_cancelled if job.cancel else None, keep=keep,
                                         extra=extra)
                if bias is not None:
                    dist = dist - bias[field]
                if keep is not None:
                    dist = dist - keep * (field == prev)
                dist = dist.clamp_min_(0)
            biases.update(field, dist)
            if job.cancel is not None:  # the search is most of an iteration: stop before the vote too
                job.cancel.raise_if_cancelled()
            floor = float(dist.mean()) * 0.05 + 1e-6
            weight = (dist + floor).pow_(-p.robust / 2) if p.robust > 0 else torch.ones_like(dist)
            last_update = li == len(levels) - 1 and it == level.iterations - 1
            r_vote = p.final_radius if (last_update and p.final_radius >= 0) else radius
            x = vote(bank, field, weight, h, w, job.periodic, r_vote)
            # Not after the last vote: its pixels are the references' own, and pushing each channel's
            # histogram onto theirs then shifts whatever the output holds in another proportion —
            # draft's cream ground between coloured dots went from blue 198 to 176.
            if job.histogram and not last_update:
                x = match_histograms(x, quantiles, p.histogram)
            if job.constrain is not None:
                x = job.constrain(x, level)
            done += 1
            if job.progress is not None:
                last = it == level.iterations - 1
                preview = _preview(x, job.preview_channels) if (last or (it + 1) % every == 0) else None
                job.progress(ProgressInfo(job.stage, li + 1, len(levels), done, total, float(dist.mean()), preview, last))
            if job.cancel is not None:
                job.cancel.raise_if_cancelled()
        prev = (h, w)
    assert x is not None
    return x.detach()
