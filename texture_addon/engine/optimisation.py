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
#: Outputs over this many pixels get the preset's ``large_fine_iterations`` at the finest level.
LARGE_PIXELS = 2_000_000

# Settings every quality shares (no preset sets another value; docs/engine.md says why each).
#: PCA dimensions of a patch: its leading directions carry the match at a fraction of the cost.
PCA_DIMS = 24
#: Occurrence penalty above the finest level: it keeps the commonest (often flat) patches from
#: taking over the layout, which is decided there.
OCCURRENCE = 1.5
#: … at the finest level of several, where it only pushed busy pixels onto incoherent second
#: choices that the vote averaged into a haze. A single level keeps :data:`OCCURRENCE`.
FINEST_OCCURRENCE = 0.0
#: Exponent of the vote's robust weight w = d^(-ROBUST/2): a bad match has little say.
ROBUST = 0.6
#: GPNN's completeness normalisation at exhaustively searched levels.
COMPLETENESS = 0.3
#: Above the finest level, pixels deep inside a copy this wide (px at the finest scale) are pushed off it.
COPY_SPAN = 8
#: At the finest level only larger copies are split, and harder: few pixels move, as a region,
#: where a full-strength push on small copies interleaved two sources into a smear.
FINEST_COPY_SPAN = 16
FINEST_COPY_PENALTY = 24.0
#: The finest copy span where copies of a lattice can step by whole periods: a moved region stays whole.
LATTICE_COPY_SPAN = 4
#: Vote radius of the very last update (3×3): it keeps edges sharp.
FINAL_VOTE_RADIUS = 1
#: A start made of reference pieces is only joined at the coarsest level: this many iterations of
#: patches this wide (an 11×11 patch there drew the output from the 32-px reference's middle).
PIECE_ITERATIONS = 4
PIECE_PATCH = 5


@dataclass(frozen=True, kw_only=True)
class CorrespondencePreset:
    """One quality of the method, by level; :func:`plan` resolves it into a :class:`LevelPolicy` per level."""

    # Iterations: geometric from coarse_iterations (at the coarsest level) down to fine_iterations.
    coarse_iterations: int
    fine_iterations: int
    # The coarsest level
    coarsest_iterations: Optional[int] = None  # its own count, the geometric ladder then starting below it
    coarsest_area_cap: float = 8.0  # its iterations × min(this, output area ÷ reference area)
    phase_patch: int             # patch side when a large output starts in one phase (see patch_side)
    piece_start: float = 0.0     # a large output starts from reference pieces this many px apart there
                                 # (0: from random matches; see pieces.piece_field)
    # Every level above the finest
    patch: int                   # patch side searched
    rounds: int                  # PatchMatch rounds per iteration
    copy_penalty: float = 9.0    # copies pushed off by this many mean match distances
    # The finest level (a single level too)
    finest_patch: int
    finest_rounds: int
    large_fine_iterations: int   # its iterations when the output has over LARGE_PIXELS
    # Every level
    exact_pairs: int = correspondence.EXACT_LIMIT  # levels with up to this many (output × reference)
                                                   # patch pairs are searched exhaustively
    pca_sample: int = 8000       # patches sampled per level to fit the PCA basis
    lattice_steps: bool = True   # copies of a periodic reference may move by whole periods (_LatticeSteps)


@dataclass(frozen=True)
class LevelPolicy:
    """What one level's iterations do, resolved once by :func:`plan` so that :func:`_run` only reads it."""

    patch: int                   # patch side searched
    rounds: int                  # PatchMatch rounds per iteration (where not searched exhaustively)
    occurrence: float            # strength of the occurrence penalty
    copy_penalty: float          # copies pushed off by this many mean match distances (0: off)
    copy_span: int               # … where this wide (px at the finest scale)
    lattice_copy_span: Optional[int]  # … or this wide where copies can step by whole periods (None: no other)
    final: bool                  # the finest level: its last update is the output (see _update)


@dataclass
class CorrespondenceLevel:
    factor: float
    height: int
    width: int
    iterations: int
    policy: LevelPolicy


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



def plan(job: CorrespondenceJob, pieces: bool = False, in_phase: bool = False) -> list[CorrespondenceLevel]:
    """Pyramid levels, coarse to fine, each with its iteration count and :class:`LevelPolicy`.

    ``pieces`` and ``in_phase`` say how the coarsest level starts (:func:`starts_from_pieces`,
    :func:`phase_lattice`): they change its iterations and patch side.
    """
    count = _level_count(job)
    levels = []
    for i, n in enumerate(_iterations(job, count, pieces)):
        f = 1.0 / 2 ** (count - 1 - i)
        h, w = max(1, round(job.height * f)), max(1, round(job.width * f))
        policy = _policy(job.preset, i, count, in_phase, pieces)
        # The occurrence penalty reacts to the previous search, so an exhaustively searched level
        # swings between a spread and a herded layout every other iteration; below the coarsest
        # (which starts from random matches) an even count ends herded.
        if 0 < i < count - 1 and n % 2 == 0 and _searched_exhaustively(job, f, h * w, policy.patch):
            n += 1
        levels.append(CorrespondenceLevel(f, h, w, n, policy))
    return levels


def _level_count(job: CorrespondenceJob) -> int:
    """Levels until the smallest reference is about COARSEST_REFERENCE_SIDE at the coarsest."""
    smallest = min(min(r.shape[2:]) for r in job.references)
    count = 1
    while (count < MAX_LEVELS and smallest / 2 ** count >= COARSEST_REFERENCE_SIDE * 0.99
           and min(job.height, job.width) / 2 ** count >= MIN_OUTPUT_SIDE_AT_COARSEST):
        count += 1
    return count


def _iterations(job: CorrespondenceJob, count: int, pieces: bool) -> list[int]:
    """Iterations per level, coarse to fine, before :func:`plan`'s parity rule."""
    p = job.preset
    if count == 1:
        its = [max(p.coarse_iterations // 2, p.fine_iterations)]
    elif p.coarsest_iterations is not None:
        # The coarsest level is the cheap one and settles the layout; the next only refines it.
        its = [p.coarsest_iterations] + _geometric(p.coarse_iterations, p.fine_iterations, count - 1)
    else:
        its = _geometric(p.coarse_iterations, p.fine_iterations, count)
    if count > 1 and job.height * job.width > LARGE_PIXELS:
        its[-1] = p.large_fine_iterations
    # An output larger than the reference is pieced together at the coarsest level from regions
    # started independently; where two meet out of phase, brick courses and rows shift along a
    # line that no finer level can mend. Iterated longer, the regions merge, and the coarsest
    # level is the cheap one: it gets more iterations in proportion to the area. A start made of
    # reference pieces (``starts_from_pieces``) has no regions to merge, only joins to mend.
    area = job.height * job.width / max(r.shape[2] * r.shape[3] for r in job.references)
    if pieces:
        its[0] = PIECE_ITERATIONS
    else:
        its[0] = round(its[0] * min(max(1.0, area), p.coarsest_area_cap))
    return its


def _policy(preset: CorrespondencePreset, level: int, levels: int, in_phase: bool, pieces: bool) -> LevelPolicy:
    """One level's policy: the finest level matches detail only, the levels above decide the layout."""
    patch = patch_side(preset, level, levels, in_phase, pieces)
    if level == levels - 1:
        return LevelPolicy(patch, preset.finest_rounds, FINEST_OCCURRENCE if levels > 1 else OCCURRENCE,
                           FINEST_COPY_PENALTY, FINEST_COPY_SPAN, LATTICE_COPY_SPAN, final=True)
    return LevelPolicy(patch, preset.rounds, OCCURRENCE, preset.copy_penalty, COPY_SPAN, None, final=False)


def _geometric(first: int, last: int, count: int) -> list[int]:
    """``count`` iteration counts falling geometrically from ``first`` to ``last``."""
    if count == 1:
        return [last]
    ratio = (last / first) ** (1 / (count - 1))
    return [max(1, round(first * ratio ** i)) for i in range(count)]


def _searched_exhaustively(job: CorrespondenceJob, factor: float, pixels: int, size: int) -> bool:
    """Whether :func:`_run` will search this level (not the finest) exhaustively, from sizes alone."""
    patches = 0
    for r in job.references:
        rh, rw = (max(size + 1, round(d * factor)) for d in r.shape[2:])
        patches += (rh - size + 1) * (rw - size + 1)
    return pixels * patches <= job.preset.exact_pairs


def _scaled(ref: torch.Tensor, factor: float, patch: int) -> torch.Tensor:
    if factor == 1.0:
        return ref
    h, w = ref.shape[2:]
    return resize(ref, max(patch + 1, round(h * factor)), max(patch + 1, round(w * factor)))


def channel_quantiles(references: Sequence[torch.Tensor], weights: Sequence[float], pixels: int) -> torch.Tensor:
    """Each channel's quantiles (C, ≤ 65536) of the references' mixture, for an output of ``pixels``.

    Computed once per level: sorting the references' pixels anew for every push was most of its cost.
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
    """Whether the coarsest level starts from reference pieces (``pieces.piece_field``, ``piece_start``).

    Only outputs of at least :data:`PIECE_AREA` times the (largest) reference's area, with no start
    image and no lattice (a periodic reference starts in one phase instead): every smaller output,
    the benchmark's 256² runs among them, stays byte for byte as it was.
    """
    area = max(r.shape[2] * r.shape[3] for r in job.references)
    return (job.preset.piece_start > 0 and not in_phase and job.start is None
            and job.height * job.width >= PIECE_AREA * area)


def patch_side(preset: CorrespondencePreset, level: int, levels: int, in_phase: bool, pieces: bool = False) -> int:
    """The patch side searched at a level (``plan`` puts it in the level's policy).

    The finest level matches detail only (``finest_patch``). The coarsest level of a large output
    started in one phase gets ``phase_patch``: with 11×11 patches there (a third of the 32-px
    reference) the search strung a brick wall's short diagonal runs of dark bricks into a zigzag
    of tone bands across the output; 15×15 patches see two courses and two bricks of context and
    leave the shades scattered. A start made of reference pieces gets :data:`PIECE_PATCH` there:
    it only joins the pieces, with little of the large patches' pull towards the reference's middle.
    """
    if level == levels - 1:
        return preset.finest_patch
    if level == 0 and pieces:
        return PIECE_PATCH
    if level == 0 and in_phase:
        return preset.phase_patch
    return preset.patch


class _LatticeSteps:
    """Period-step candidates for copied regions of one periodic reference (``lattice.shifted_by_periods``).

    The lattice is looked for once per job, when a PatchMatch level first needs it (the finest
    level's copy span depends on it), and only for a single reference (with several, a copy of one
    is no lattice of the blend).
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


@dataclass
class _LevelRun:
    """One level's set-up, shared by its iterations: the scaled references, their patches, the penalties."""

    level: CorrespondenceLevel
    refs: list[torch.Tensor]
    space: PatchSpace
    bank: Bank
    biases: _Biases
    quantiles: Optional[torch.Tensor]  # the references' channel quantiles (None: no histogram push)
    exact: bool                        # searched exhaustively (else PatchMatch)

    @property
    def radius(self) -> int:
        return self.level.policy.patch // 2


def _run(job: CorrespondenceJob) -> torch.Tensor:
    """Each level set up, started from the coarser level's matches (or the first start), then iterated."""
    in_phase = phase_lattice(job) if job.start is None else None
    pieces = starts_from_pieces(job, in_phase is not None)
    levels = plan(job, pieces, in_phase is not None)
    lattice = _LatticeSteps(job)
    # Every level on all cores: unlike the statistics method's many tiny steps, even the small
    # levels here are a few large matrix products and gathers.
    configure_threads()
    x: Optional[torch.Tensor] = None
    field = above = None
    for li, level in enumerate(levels):
        if job.cancel is not None:
            job.cancel.raise_if_cancelled()
        lv = _set_up(job, level)
        if field is None:
            field, x = _first_start(job, lv, in_phase, pieces)
        else:
            field, x = _upsampled_start(job, lv, above, field)
        above = None  # the coarser level is not needed past the start
        if job.constrain is not None:
            x = job.constrain(x, level)
        for it in range(level.iterations):
            last = level.policy.final and it == level.iterations - 1
            field, dist, x = _iterate(job, lv, lattice, x, field, last)
            _report(job, levels, li, it, x, dist)
            if job.cancel is not None:
                job.cancel.raise_if_cancelled()
        above = lv
    assert x is not None
    return x.detach()


def _set_up(job: CorrespondenceJob, level: CorrespondenceLevel) -> _LevelRun:
    """The level's references shrunk, their patches' PCA space and bank, its penalties and quantiles."""
    size = level.policy.patch
    refs = [_scaled(r, level.factor, size) for r in job.references]
    space = PatchSpace.fit(refs, size, PCA_DIMS, job.generator, job.channel_weights, sample=job.preset.pca_sample)
    bank = Bank(refs, space)
    biases = _Biases(bank, job.weights, level.policy.occurrence)
    n = level.height * level.width
    quantiles = channel_quantiles(refs, job.weights, n) if job.histogram else None
    return _LevelRun(level, refs, space, bank, biases, quantiles, n * bank.count <= job.preset.exact_pairs)


def _first_start(job: CorrespondenceJob, lv: _LevelRun, in_phase: Optional[torch.Tensor],
                 pieces: bool) -> tuple[Optional[torch.Tensor], torch.Tensor]:
    """The first level's matches (None from a start image, searched first) and image."""
    h, w = lv.level.height, lv.level.width
    if job.start is not None:
        return None, resize(job.start, h, w, *job.periodic)
    if in_phase is not None:
        field = _phase_start(job, in_phase, lv.refs[0], lv.bank, h, w)
    elif pieces:
        field = piece_field(lv.bank, h, w, job.periodic, job.preset.piece_start, job.weights, job.generator)
    else:
        field = _initial_field(lv.bank, h * w, job.weights, job.generator)
    return field, vote(lv.bank, field, torch.ones(h * w, device=job.references[0].device), h, w, job.periodic, 0)


def _upsampled_start(job: CorrespondenceJob, lv: _LevelRun, above: _LevelRun,
                     field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A finer level's matches and image: the coarser level's matches, upsampled, and their vote."""
    h, w = lv.level.height, lv.level.width
    field = upsample_field(above.bank, lv.bank, field, above.level.height, above.level.width, h, w)
    x = vote(lv.bank, field, torch.ones(h * w, device=job.references[0].device), h, w, job.periodic, lv.radius)
    if job.histogram:
        x = match_histograms(x, lv.quantiles)
    return field, x


def _iterate(job: CorrespondenceJob, lv: _LevelRun, lattice: _LatticeSteps, x: torch.Tensor,
             field: Optional[torch.Tensor], last: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One EM iteration: search (copies pushed off), penalties updated, vote: (field, distances, image)."""
    q = lv.space.features(x, job.periodic)
    bias = lv.biases.current()
    keep = _copy_cost(job, lv, lattice, field, q.dtype)
    field, dist = _search(job, lv, lattice, q, field, bias, keep)
    lv.biases.update(field, dist)
    if job.cancel is not None:  # the search is most of an iteration: stop before the vote too
        job.cancel.raise_if_cancelled()
    return field, dist, _update(job, lv, field, dist, last)


def _copy_cost(job: CorrespondenceJob, lv: _LevelRun, lattice: _LatticeSteps, field: Optional[torch.Tensor],
               dtype: torch.dtype) -> Optional[torch.Tensor]:
    """(N,) cost of keeping a match deep inside a large verbatim copy, in mean match distances (None: none)."""
    policy = lv.level.policy
    if field is None or policy.copy_penalty <= 0:
        return None
    span_px = policy.copy_span
    if policy.lattice_copy_span is not None and not lv.exact and lattice.found():
        span_px = policy.lattice_copy_span
    span = max(2, round(span_px * lv.level.factor))  # 1 broke stones into dangling lines
    copies = coherence_penalty(lv.bank, field, lv.level.height, lv.level.width, span, job.periodic)
    return copies.to(dtype) * (policy.copy_penalty * lv.biases.scale)


def _search(job: CorrespondenceJob, lv: _LevelRun, lattice: _LatticeSteps, q: torch.Tensor,
            field: Optional[torch.Tensor], bias: Optional[torch.Tensor],
            keep: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """New matches and their distances less the penalties, exhaustive or by PatchMatch from ``field``."""
    if lv.exact or field is None:
        return exact_search(q, lv.bank, bias, COMPLETENESS, None if keep is None else (field, keep))
    h, w = lv.level.height, lv.level.width
    extra = lattice.steps(lv.bank, field, lv.refs[0], h, w, keep, job.generator) if keep is not None else None
    found, dist = patchmatch(q, lv.bank, field, h, w, bias, job.generator, rounds=lv.level.policy.rounds,
                             check=job.cancel.raise_if_cancelled if job.cancel else None, keep=keep, extra=extra)
    if bias is not None:
        dist = dist - bias[found]
    if keep is not None:
        dist = dist - keep * (found == field)
    return found, dist.clamp_min_(0)


def _update(job: CorrespondenceJob, lv: _LevelRun, field: torch.Tensor, dist: torch.Tensor, last: bool) -> torch.Tensor:
    """The image voted from the matches, robustly weighted, then its histograms and the job's constraint."""
    floor = float(dist.mean()) * 0.05 + 1e-6
    weight = (dist + floor).pow_(-ROBUST / 2)
    h, w = lv.level.height, lv.level.width
    x = vote(lv.bank, field, weight, h, w, job.periodic, FINAL_VOTE_RADIUS if last else lv.radius)
    # Not after the last vote: its pixels are the references' own, and pushing each channel's
    # histogram onto theirs then shifts whatever the output holds in another proportion.
    if job.histogram and not last:
        x = match_histograms(x, lv.quantiles)
    if job.constrain is not None:
        x = job.constrain(x, lv.level)
    return x


def _report(job: CorrespondenceJob, levels: list[CorrespondenceLevel], li: int, it: int, x: torch.Tensor,
            dist: torch.Tensor) -> None:
    """Progress after an iteration, with a preview PREVIEWS_PER_LEVEL times a level."""
    if job.progress is None:
        return
    level = levels[li]
    done = sum(lv.iterations for lv in levels[:li]) + it + 1
    total = sum(lv.iterations for lv in levels)
    last = it == level.iterations - 1
    every = max(1, math.ceil(level.iterations / PREVIEWS_PER_LEVEL))
    preview = _preview(x, job.preview_channels) if (last or (it + 1) % every == 0) else None
    job.progress(ProgressInfo(job.stage, li + 1, len(levels), done, total, float(dist.mean()), preview, last))
