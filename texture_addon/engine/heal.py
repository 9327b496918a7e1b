"""Heal: fill a masked region of an image from the rest of it (Wexler, Shechtman, Irani 2007).

The same EM as the correspondence synthesis (:mod:`.correspondence`), with the known pixels held
fixed: find, for every patch that overlaps the hole, the nearest patch lying wholly in the known
part of the image; set each hole pixel to the weighted mean of what the patches covering it
propose; repeat. It runs coarse to fine: at the coarsest level a patch spans a good part of a
large hole and of the cable's width, so the layout is decided there from wide context, and each
finer level starts from the level below, upsampled, and only refines it.

Rules that make it a heal and not a blur:

* Candidate patches must not touch the hole (at any level, where a coarse pixel is hole if any of
  its fine pixels is), so nothing of the object is ever copied back, and the coarse levels' known
  pixels are averages of known pixels only.
* Pixels outside the mask are the caller's own float values at the end, bit for bit.
* With ``wrap`` (a tileable image) patches, searches and votes wrap around the borders, so a hole
  on an edge is filled from both sides and the healed image still tiles.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .correspondence import Bank, PatchSpace, exact_search, patchmatch, upsample_field, vote
from .correspondence import EXACT_LIMIT
from .device import configure_threads, resolve_device
from .progress import CancelToken, ProgressCallback, ProgressInfo
from .pyramid import _preview
from .synthesize import to_tensor

PATCH = 7
DIMS = 24
#: The coarsest level's shorter side lies in [COARSEST_SIDE, 2·COARSEST_SIDE).
COARSEST_SIDE = 32
MAX_LEVELS = 7
#: EM iterations: coarsest level, then each finer one (by quality).
ITERATIONS = {"draft": (8, 2), "default": (16, 4), "high": (24, 8)}
ROBUST = 0.6
#: GPNN normalisation of the exhaustive searches (see correspondence.exact_search): without it the
#: 60-px disc healed into gravel came out as a flat grey blot, the nearest patch to an average
#: being the flattest one.
COMPLETENESS = 0.3
#: A cost no real patch distance reaches: candidate patches that touch the hole.
FORBIDDEN = 1e20
#: A wrap boundary counts as seamless (the image tiles) when its seam score is below this.
TILE_SEAM = 1.3
#: The heal works on the hole's bounding box grown by this share of its larger side (at least
#: ``MIN_MARGIN`` px): the context the fill is drawn from. Only when that window is at most
#: ``WINDOW_SHARE`` of the image is it cut out; a small hole in a 2048² photo then costs what a
#: 1024² image does (5 % disc at 2048²: 74 s for the whole image), and the fill still draws from
#: several times its own area of surface next to it.
MARGIN = 0.5
MIN_MARGIN = 64
WINDOW_SHARE = 0.5


def image_tiles(image: np.ndarray) -> bool:
    """Whether ``image`` already tiles on both axes (its wrap boundary is an ordinary line)."""
    from ..references.seams import seam_score

    return seam_score(image, "x") < TILE_SEAM and seam_score(image, "y") < TILE_SEAM


def _pad(x: torch.Tensor, r: int, wrap: bool) -> torch.Tensor:
    return F.pad(x, (r, r, r, r), mode="circular" if wrap else "replicate") if r else x


def _dilate(hole: torch.Tensor, r: int, wrap: bool) -> torch.Tensor:
    """A (1, 1, H, W) 0/1 hole grown by r pixels (wrapping across the borders with ``wrap``)."""
    if r == 0:
        return hole
    p = F.pad(hole, (r, r, r, r), mode="circular") if wrap else F.pad(hole, (r, r, r, r))
    return F.max_pool2d(p, 2 * r + 1, stride=1)


def _shrink(x: torch.Tensor, known: torch.Tensor, wrap: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Half-size image from known pixels only, and its known map (a pixel is known if all four were)."""
    h, w = x.shape[2:]
    ph, pw = h % 2, w % 2
    if ph or pw:
        mode = "circular" if wrap else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
        known = F.pad(known, (0, pw, 0, ph), mode=mode)
    num = F.avg_pool2d(x * known, 2)
    den = F.avg_pool2d(known, 2)
    small = num / den.clamp_min(1e-6)
    return small * (den > 0), (den > 0.999).float()


def _smooth_fill(x: torch.Tensor, known: torch.Tensor, wrap: bool) -> torch.Tensor:
    """The hole filled by normalised convolution of the known pixels at growing radii (a start)."""
    out = x * known
    filled = known.clone()
    r = 1
    while float(filled.min()) < 1 and r < 4 * max(x.shape[2:]):
        k = 2 * r + 1
        num = F.avg_pool2d(_pad(x * known, r, wrap), k, stride=1)
        den = F.avg_pool2d(_pad(known, r, wrap), k, stride=1)
        new = (den > 1e-6) & (filled < 1)
        out = torch.where(new, num / den.clamp_min(1e-6), out)
        filled = torch.maximum(filled, new.float())
        r *= 2
    return out * (1 - known) + x * known


class _Level:
    """One pyramid level: the known image, its hole, and the candidate patches' bank."""

    def __init__(self, known_image: torch.Tensor, hole: torch.Tensor, wrap: bool) -> None:
        self.known_image, self.hole, self.wrap = known_image, hole, wrap
        self.h, self.w = hole.shape[2:]
        r = PATCH // 2
        grown = _dilate(hole, r, wrap)[0, 0]
        # Candidate centres: every pixel with wrap-around (the reference is padded by r),
        # the whole patches inside the image without.
        self.valid = (grown < 0.5).flatten() if wrap else (grown[r:self.h - r, r:self.w - r] < 0.5).flatten()
        self.roi = torch.nonzero(grown.flatten() > 0.5).flatten()   # output patches touching the hole

    def usable(self) -> bool:
        r = PATCH // 2
        return min(self.h, self.w) > 2 * r + 1 and int(self.valid.sum()) >= 1

    def bank(self, x: torch.Tensor, generator: torch.Generator) -> tuple[Bank, PatchSpace, torch.Tensor]:
        r = PATCH // 2
        ref = _pad(x, r, True) if self.wrap else x
        space = PatchSpace.fit([ref], PATCH, DIMS, generator)
        bank = Bank([ref], space)
        bias = torch.where(self.valid, 0.0, FORBIDDEN).to(bank.features.dtype)
        return bank, space, bias


def _random_valid(valid: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    choices = torch.nonzero(valid).flatten()
    return choices[torch.randint(0, choices.numel(), (count,), generator=generator).to(choices.device)]


def heal(image: np.ndarray, mask: np.ndarray, wrap: Optional[bool] = None, quality: str = "default", seed: int = 0,
         device: str = "auto", progress: Optional[ProgressCallback] = None,
         cancel: Optional[CancelToken] = None) -> np.ndarray:
    """``image`` (H, W, C) with the pixels where ``mask`` (H, W) is true filled from the rest.

    ``wrap`` None decides from the image (does it tile already?). Every pixel outside the mask is
    returned exactly as given. Raises :class:`InputError` for a mask of another size, one that
    selects nothing, or one that leaves no whole patch to sample from.
    """
    if quality not in ITERATIONS:
        raise InputError(f"unknown quality {quality!r} (choose from {', '.join(ITERATIONS)})")
    src = np.asarray(image, np.float32)
    if src.ndim == 2:
        src = src[..., None]
    hole_np = np.asarray(mask).astype(bool)
    if hole_np.shape != src.shape[:2]:
        raise InputError(f"mask is {hole_np.shape[1]}×{hole_np.shape[0]} but the image is {src.shape[1]}×{src.shape[0]}")
    if not hole_np.any():
        raise InputError("the mask selects nothing to heal")
    if hole_np.all():
        raise InputError("the mask selects the whole image: nothing is left to heal it from")
    if wrap is None:
        wrap = image_tiles(src)
    window = work_window(hole_np, wrap)
    if window is None:
        return _heal(src, hole_np, wrap, quality, seed, device, progress, cancel)
    (dy, dx), (y0, y1, x0, x1) = window
    rolled = np.roll(src, (dy, dx), (0, 1))
    rolled_hole = np.roll(hole_np, (dy, dx), (0, 1))
    part = _heal(rolled[y0:y1, x0:x1], rolled_hole[y0:y1, x0:x1], False, quality, seed, device, progress, cancel)
    out = src.copy()
    filled = rolled.copy()
    filled[y0:y1, x0:x1] = part
    filled = np.roll(filled, (-dy, -dx), (0, 1))
    out[hole_np] = filled[hole_np]
    return out


def _span(occupied: np.ndarray, wrap: bool) -> tuple[int, int, int]:
    """(shift, start, stop) along one axis: after rolling by ``shift`` the occupied rows lie in [start, stop).

    With wrap-around the rows are rolled so that the largest empty run is split across the border
    (a hole on the tile's edge is one compact hole, not two halves far apart).
    """
    n = occupied.size
    shift = 0
    if wrap:
        empty = ~occupied
        best, best_end, run = 0, 0, 0
        for i in range(2 * n):  # circular runs of empty rows
            run = run + 1 if empty[i % n] else 0
            if run > best:
                best, best_end = min(run, n), i
        shift = (n - 1 - best_end + best // 2) % n
    idx = np.nonzero(np.roll(occupied, shift))[0]
    return shift, int(idx[0]), int(idx[-1]) + 1


def work_window(hole: np.ndarray, wrap: bool) -> Optional[tuple[tuple[int, int], tuple[int, int, int, int]]]:
    """Where to heal: ((roll y, roll x), (y0, y1, x0, x1)) of the rolled image, or None for all of it."""
    h, w = hole.shape
    sy, y0, y1 = _span(hole.any(axis=1), wrap)
    sx, x0, x1 = _span(hole.any(axis=0), wrap)
    m = max(MIN_MARGIN, int(np.ceil(MARGIN * max(y1 - y0, x1 - x0))))
    y0, y1, x0, x1 = max(0, y0 - m), min(h, y1 + m), max(0, x0 - m), min(w, x1 + m)
    if (y1 - y0) * (x1 - x0) > WINDOW_SHARE * h * w:
        return None
    return (sy, sx), (y0, y1, x0, x1)


def _hole_pyramid(x_full: torch.Tensor, hole_full: torch.Tensor, wrap: bool) -> list[_Level]:
    """The image and its hole shrunk level by level, coarse to fine, each level keeping a whole known patch.

    A coarse level the hole swallows entirely has nothing to copy from, so it is dropped and the
    EM starts finer; a finest level without one whole known patch is the artist's input error.
    """
    pyramid = [_Level(x_full * (1 - hole_full), hole_full, wrap)]
    while len(pyramid) < MAX_LEVELS and min(pyramid[-1].h, pyramid[-1].w) >= 2 * COARSEST_SIDE:
        lv = pyramid[-1]
        small, known = _shrink(lv.known_image, 1 - lv.hole, wrap)
        pyramid.append(_Level(small, 1 - known, wrap))
    if not pyramid[0].usable():
        raise InputError(f"the mask leaves no whole {PATCH}×{PATCH} patch of the image to heal it from")
    while not pyramid[-1].usable():
        pyramid.pop()  # a coarse level the hole swallows: start finer
    pyramid.reverse()
    return pyramid


def _level_image(lv: _Level, x: Optional[torch.Tensor], wrap: bool) -> torch.Tensor:
    """The image a level's bank is built from: a smooth fill at the coarsest, the coarser result upsampled otherwise."""
    known = 1 - lv.hole
    if x is None:
        return _smooth_fill(lv.known_image, known, wrap)
    up = F.interpolate(x, size=(lv.h, lv.w), mode="bilinear", align_corners=False)
    return lv.known_image * known + up * lv.hole


def _level_field(lv: _Level, bank: Bank, field: Optional[torch.Tensor], coarser: Optional[tuple[_Level, Bank]],
                 gen: torch.Generator) -> torch.Tensor:
    """The matches a level starts from: known patches at random at the coarsest, the coarser matches upsampled.

    Random known patches, not the smooth fill's nearest: the nearest patch to a smooth start is the
    flattest patch of the image, and the hole settled as a grey blot. Upsampled matches that land
    on a forbidden patch are redrawn at random.
    """
    if field is None or coarser is None:
        return _random_valid(lv.valid, lv.h * lv.w, gen)
    prev, prev_bank = coarser
    field = upsample_field(prev_bank, bank, field, prev.h, prev.w, lv.h, lv.w)
    bad = ~lv.valid[field]
    field[bad] = _random_valid(lv.valid, int(bad.sum()), gen)
    return field


def _search(lv: _Level, x: torch.Tensor, field: torch.Tensor, bank: Bank, space: PatchSpace, bias: torch.Tensor,
            periodic: tuple[bool, bool], gen: torch.Generator,
            cancel: Optional[CancelToken]) -> tuple[torch.Tensor, torch.Tensor]:
    """The nearest known patch for every output patch touching the hole, and its distance.

    Exact when the hole's patches times the bank are small enough (EXACT_LIMIT), PatchMatch otherwise.
    """
    q = space.features(x, periodic)
    if lv.roi.numel() * bank.count > EXACT_LIMIT:
        return patchmatch(q, bank, field, lv.h, lv.w, bias, gen, check=cancel.raise_if_cancelled if cancel else None)
    idx, dist_roi = exact_search(q[lv.roi], bank, bias, COMPLETENESS)
    field = field.clone()
    field[lv.roi] = idx
    dist = torch.zeros(lv.h * lv.w, device=x.device)
    dist[lv.roi] = dist_roi
    return field, dist


def _robust_weight(lv: _Level, dist: torch.Tensor) -> torch.Tensor:
    """Each patch's vote weight: its distance to the power −ROBUST/2, floored at 5 % of the mean.

    Badly matched patches then count little, so one stray patch cannot smear the hole.
    """
    roi_d = dist[lv.roi]
    floor = float(roi_d.mean()) * 0.05 + 1e-6
    weight = torch.zeros(lv.h * lv.w, device=dist.device)
    weight[lv.roi] = (roi_d.clamp_min(0) + floor).pow(-ROBUST / 2)
    return weight


def _heal(src: np.ndarray, hole_np: np.ndarray, wrap: bool, quality: str, seed: int, device: str,
          progress: Optional[ProgressCallback], cancel: Optional[CancelToken]) -> np.ndarray:
    """The EM of the module's docstring on the whole of ``src`` (already checked)."""
    dev = resolve_device(device)
    configure_threads()
    x_full = to_tensor(src, "image", channels=None).to(dev)
    hole_full = torch.from_numpy(hole_np.astype(np.float32))[None, None].to(dev)
    pyramid = _hole_pyramid(x_full, hole_full, wrap)

    first, rest = ITERATIONS[quality]
    counts = [first] + [rest] * (len(pyramid) - 1)
    total = sum(counts)
    gen = torch.Generator().manual_seed(int(seed))
    periodic = (wrap, wrap)
    r = PATCH // 2
    x = field = coarser = None
    done = 0
    for li, lv in enumerate(pyramid):
        if cancel is not None:
            cancel.raise_if_cancelled()
        n = lv.h * lv.w
        x = _level_image(lv, x, wrap)
        bank, space, bias = lv.bank(x, gen)
        field = _level_field(lv, bank, field, coarser, gen)
        # The matches, voted, carry the coarse layout at this level's sharpness; the upsampled
        # image alone is blurred, and its nearest patches are the flattest ones.
        x = lv.known_image * (1 - lv.hole) + vote(bank, field, torch.ones(n, device=dev), lv.h, lv.w, periodic, r) * lv.hole
        for it in range(counts[li]):
            field, dist = _search(lv, x, field, bank, space, bias, periodic, gen, cancel)
            last = li == len(pyramid) - 1 and it == counts[li] - 1
            voted = vote(bank, field, _robust_weight(lv, dist), lv.h, lv.w, periodic, 1 if last else r)
            x = lv.known_image * (1 - lv.hole) + voted * lv.hole
            done += 1
            if progress is not None:
                end = it == counts[li] - 1
                preview = _preview(x, slice(0, min(3, x.shape[1]))) if end else None
                progress(ProgressInfo("heal", li + 1, len(pyramid), done, total, float(dist[lv.roi].mean()), preview, end))
            if cancel is not None:
                cancel.raise_if_cancelled()
        coarser = (lv, bank)
    assert x is not None
    filled = x[0].permute(1, 2, 0).clamp(0, 1).float().cpu().numpy()
    out = src.copy()
    out[hole_np] = filled[hole_np]
    return out


__all__ = ["heal", "image_tiles", "work_window"]
