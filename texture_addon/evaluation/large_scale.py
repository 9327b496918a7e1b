"""Order at a distance: mean |autocorrelation| of the luminance in bands of lag.

Why. An output 16–64× the reference's area can look right in every crop and wrong as a whole: a
distinctive spot of the reference recurring on a lattice, broad bands, features merged into chains
with empty areas between. Patch figures (structure, copy share) judge crops and cannot see it. The
autocorrelation of the luminance at a lag says how alike the image is to itself shifted by that
lag; a stationary surface without long-range order has it near 0 beyond the size of its features.
Averaged over rings of lag it gives three figures, each read against the same figure of the surface
itself drawn at the output's size (``docs/benchmark.md``, "Large outputs"):

- **near** (16–48 px): features doubled, merged into chains or clumped with gaps between;
- **mid** (48–192 px): an arrangement at the reference's own scale recurring (a lattice);
- **far** (192 px up to half the image's shorter side): bands and gradients across the image.

How. Luminance (Rec. 709 weights), mean removed; its periodic autocorrelation by FFT (outputs tile,
so the wrap-around lag is a real neighbour), divided by the variance (lag 0 is 1). Each band is a
ring of lags ``lo <= r < hi`` by Euclidean length, never beyond half the shorter side, so every
direction counts equally and no lag is counted past the image's own period. The mean of the
absolute value, because a lattice gives positive and negative lobes that would cancel.

Scale of the figures: white noise gives about ``0.8 / sqrt(pixels)`` in every band (0.0004 at
2048²); a textured surface's own estimate wanders by about 0.003 at 2048² (from one drawing of a
process to the next); a 256² reference tiled to 2048² is the worst case (its mid is the reference's
own autocorrelation at those lags, a few hundredths).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722])
# name -> (lo, hi) in pixels of lag; hi None = up to half the image's shorter side (inclusive)
BANDS: dict[str, tuple[float, float | None]] = {"near": (16.0, 48.0), "mid": (48.0, 192.0), "far": (192.0, None)}


@dataclass(frozen=True)
class BandFigures:
    """Mean |autocorrelation| per lag band; None where the image is too small for the band."""

    near: float | None
    mid: float | None
    far: float | None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


def luminance(img: np.ndarray) -> np.ndarray:
    """(H, W) float64 luminance of an H×W, H×W×1, ×3 or ×4 image (uint8 → 0…1; alpha ignored)."""
    a = np.asarray(img)
    scale = 1 / 255 if a.dtype == np.uint8 else 1.0
    a = a.astype(np.float64) * scale
    if a.ndim == 2:
        return a
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an H×W or H×W×{{1,3,4}} image, got shape {a.shape}")
    return a[..., 0] if a.shape[2] == 1 else a[..., :3] @ LUMA


def autocorrelation(lum: np.ndarray) -> np.ndarray:
    """Periodic autocorrelation of a 2-D array, mean removed, ÷ variance; index [dy, dx] is lag (dy, dx).

    A constant image has no variance: its autocorrelation is 0 at every lag but 0 (there is no
    structure to recur).
    """
    x = np.asarray(lum, dtype=np.float64)
    x = x - x.mean()
    spectrum = np.fft.rfft2(x)
    acov = np.fft.irfft2(spectrum.real ** 2 + spectrum.imag ** 2, s=x.shape)
    var = acov[0, 0]
    if var <= 1e-12 * x.size:
        out = np.zeros_like(acov)
        out[0, 0] = 1.0
        return out
    return acov / var


@lru_cache(maxsize=16)
def _lag_length(h: int, w: int) -> np.ndarray:
    """Euclidean length of each periodic lag, laid out like :func:`autocorrelation`'s output."""
    dy = np.fft.fftfreq(h, 1 / h)
    dx = np.fft.fftfreq(w, 1 / w)
    r = np.hypot(dy[:, None], dx[None, :])
    r.setflags(write=False)
    return r


def band_mask(h: int, w: int, lo: float, hi: float | None) -> np.ndarray:
    """Lags of an H×W periodic image in the ring ``lo <= r < hi`` (``hi`` None: ``r <= min(h, w) / 2``)."""
    r = _lag_length(h, w)
    half = min(h, w) / 2
    return (r >= lo) & (r <= half) if hi is None else (r >= lo) & (r < min(hi, half))


def band_figures(img: np.ndarray, bands: dict[str, tuple[float, float | None]] = BANDS) -> BandFigures:
    """Near, mid and far figures of an image that tiles (see the module's docstring)."""
    acf = np.abs(autocorrelation(luminance(img)))
    values: dict[str, float | None] = {}
    for name, (lo, hi) in bands.items():
        mask = band_mask(*acf.shape, lo, hi)
        values[name] = float(acf[mask].mean()) if mask.any() else None
    return BandFigures(**values)


@dataclass(frozen=True)
class Target:
    """The large-output goal against the truth: near and mid ≤ 1.5× truth + 0.003, near ≥ 0.75× truth."""

    near_ok: bool
    mid_ok: bool

    @property
    def ok(self) -> bool:
        return self.near_ok and self.mid_ok


FACTOR, SLACK, NEAR_FLOOR = 1.5, 0.003, 0.75


def meets_target(ours: BandFigures, truth: BandFigures) -> Target:
    """Whether an output's near and mid lie where the surface drawn at that size puts them.

    The upper bounds (1.5× + the estimate's own noise) catch clumps and lattices; the lower bound on
    near catches an output that is even only because it is blurred (its features gone).
    """
    if ours.near is None or ours.mid is None or truth.near is None or truth.mid is None:
        raise ValueError("the target needs near and mid figures: the image is smaller than 2×48 px")
    near_ok = NEAR_FLOOR * truth.near <= ours.near <= FACTOR * truth.near + SLACK
    mid_ok = ours.mid <= FACTOR * truth.mid + SLACK
    return Target(near_ok, mid_ok)
