"""PBR maps (height, normal, roughness, ambient occlusion) derived from a base-colour texture.

A base colour alone is what most references are, but a renderer wants a full material. These maps
are the classic photo-to-material heuristics: shading in a photographed surface follows its relief,
so band-passed luminance approximates height; normals are the height's gradient; cavities (points
lower than their surroundings) are occluded; busy, dark areas read as rough.

``method="shading"`` (opt-in, ``--light-angle`` on the CLI) instead splits the photo into albedo and
shading and integrates the shading along the light; it reads directional light better (bright
grooves stay low) but stones worse, so the heuristic stays the default (docs/maps.md).

Every filter is a Gaussian applied in the Fourier domain, which wraps around: a tileable input gives
tileable maps, pixel for pixel. For a non-tiling axis the image is mirrored first (symmetric
extension), so the filter sees a reflected border instead of the opposite edge.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence, Union

import numpy as np
import torch

from ..contract.vocabulary import NORMAL_CONVENTIONS
from ..errors import InputError

from ..references.maps import MAP_NAMES  # one list of map names for the engine, CLI and writers
LUMA = (0.2126, 0.7152, 0.0722)
HEIGHT_OCTAVES = 6          # band-pass octaves of the height (σ = 1, 2, 4 … px, capped by the size)
NORMAL_SCALE = 4.0          # slope per unit height per (side/256 px) at strength 1: gentle, visible relief
AO_SCALES = (2.0, 6.0, 16.0)
AO_FLOOR = 0.05             # cavity depth (height units) that counts as fully occluded at least; relief reads 0.2–0.4


def _periodic(tile: Union[bool, str, Sequence[bool]]) -> tuple[bool, bool]:
    """(y, x) periodicity from True/False, a tiling name ('both', 'x', 'y', 'none') or a pair."""
    if isinstance(tile, str):
        from .synthesize import periodic_axes

        return periodic_axes(tile)
    if isinstance(tile, (tuple, list)):
        if len(tile) != 2:
            raise InputError(f"tile must be a bool, a tiling name or a (y, x) pair, got {tile!r}")
        return bool(tile[0]), bool(tile[1])
    return bool(tile), bool(tile)


class WrapFilter:
    """Gaussian blurs of one image size, all in the Fourier domain (wrap-around or mirrored borders).

    The squared frequency grid is kept once, in float32: a blur is then one spectrum, one Gaussian
    gain and one inverse transform, and several blurs of one image share its spectrum (``blurs``).
    """

    def __init__(self, height: int, width: int, periodic: tuple[bool, bool]) -> None:
        self.h, self.w = height, width
        self.py, self.px = periodic
        fh = height if self.py else 2 * height
        fw = width if self.px else 2 * width
        self.fy = torch.fft.fftfreq(fh, dtype=torch.float64)[:, None]
        self.fx = torch.fft.rfftfreq(fw, dtype=torch.float64)[None, :]
        self.r2 = (2.0 * math.pi**2 * (self.fy**2 + self.fx**2)).float()   # σ² · r2 is the Gaussian's exponent
        self.shape = (fh, fw)

    def _extend(self, a: torch.Tensor) -> torch.Tensor:
        if not self.py:
            a = torch.cat([a, a.flip(-2)], dim=-2)
        if not self.px:
            a = torch.cat([a, a.flip(-1)], dim=-1)
        return a

    def spectrum(self, a: torch.Tensor) -> torch.Tensor:
        """The (extended) image's half spectrum, for ``inverse`` after a gain."""
        return torch.fft.rfft2(self._extend(a))

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """Back from a half spectrum to the image, cropped to its own size."""
        return torch.fft.irfft2(spec, s=self.shape)[..., : self.h, : self.w]

    def gaussian(self, sigma: float) -> torch.Tensor:
        """The Fourier gain of a Gaussian of standard deviation ``sigma`` px."""
        return torch.exp(-(sigma**2) * self.r2)

    def blur(self, a: torch.Tensor, sigma: float) -> torch.Tensor:
        """Gaussian of standard deviation ``sigma`` px on the last two axes of ``a``."""
        if sigma <= 0:
            return a
        return self.inverse(self.spectrum(a) * self.gaussian(sigma).to(device=a.device, dtype=a.dtype))

    def blurs(self, a: torch.Tensor, sigmas: Sequence[float]) -> list[torch.Tensor]:
        """``blur(a, s)`` for each of ``sigmas`` from one spectrum of ``a``."""
        spec = self.spectrum(a)
        return [a if s <= 0 else self.inverse(spec * self.gaussian(s).to(device=a.device, dtype=a.dtype)) for s in sigmas]

    def gradient(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Central differences (d/drow, d/dcol): wrapped on periodic axes, one-sided at other borders."""
        return self._diff(a, -2, self.py), self._diff(a, -1, self.px)

    @staticmethod
    def _diff(a: torch.Tensor, dim: int, periodic: bool) -> torch.Tensor:
        if periodic:
            return (torch.roll(a, -1, dim) - torch.roll(a, 1, dim)) * 0.5
        n = a.shape[dim]
        idx = torch.arange(n, device=a.device)
        nxt = a.index_select(dim, (idx + 1).clamp(max=n - 1))
        prv = a.index_select(dim, (idx - 1).clamp(min=0))
        span = ((idx + 1).clamp(max=n - 1) - (idx - 1).clamp(min=0)).to(a.dtype)
        shape = [1] * a.dim()
        shape[dim] = n
        return (nxt - prv) / span.view(shape)


def _quantiles(a: torch.Tensor, qs: Sequence[float]) -> list[float]:
    """Quantiles by partial sort in numpy (torch.quantile fully sorts: several times slower)."""
    flat = a.detach().flatten().cpu().numpy()
    if flat.size > 1_000_000:
        flat = flat[:: flat.size // 1_000_000 + 1]
    return [float(v) for v in np.quantile(flat, qs)]


def _robust_unit(a: torch.Tensor, lo_q: float = 0.01, hi_q: float = 0.99, floor: float = 0.0) -> torch.Tensor:
    """Stretch ``a`` so its 1st…99th percentiles span [0, 1] (outliers clip, flat input → 0.5).

    With ``floor``, a spread under it is stretched only to ``floor``: a quantity with a natural
    unit (a local contrast) that hardly varies stays near 0 instead of having its noise blown up
    to the full range.
    """
    lo, hi = _quantiles(a, (lo_q, hi_q))
    if hi - lo < max(floor, 1e-8):
        if floor <= 0:
            return torch.full_like(a, 0.5)
        return ((a - lo) / floor).clamp(0, 1)
    return ((a - lo) / (hi - lo)).clamp(0, 1)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) → (H, W) Rec. 709 luminance."""
    return rgb @ torch.tensor(LUMA, dtype=rgb.dtype)


def height_map(lum: torch.Tensor, filt: WrapFilter, detail: float = 0.5, contrast: float = 1.0, invert: bool = False,
               floor: float = 1e-8, spectrum: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Multi-scale height from luminance: a weighted sum of band-pass octaves, mapped to [0, 1].

    The low-pass residual (lighting gradients across the photo) is dropped. ``detail`` 0…1 moves the
    weight from coarse octaves (broad bumps) to fine ones (grain); 0.5 weighs them equally.
    ``contrast`` steepens the final S-curve; ``invert`` swaps pits and bumps (dark = high).
    ``floor`` is the least spread that counts as relief: flatter input stays flat (mid-grey).
    ``spectrum``, when given, is ``lum``'s half spectrum already at hand (``lum`` is then unused).
    """
    ratio = 2.0 ** (1.0 - 2.0 * detail)  # weight of octave k+1 relative to octave k
    max_sigma = max(1.0, min(filt.h, filt.w) / 8)
    sigmas = [0.0] + [s for s in (2.0**k for k in range(HEIGHT_OCTAVES)) if s <= max_sigma]
    gains = [torch.ones_like(filt.r2) if s <= 0 else filt.gaussian(s) for s in sigmas]
    band = torch.zeros_like(filt.r2)          # the octaves' weighted sum is one linear filter
    for k in range(len(gains) - 1):
        band = band + ratio**k * (gains[k] - gains[k + 1])
    h = filt.inverse((filt.spectrum(lum) if spectrum is None else spectrum) * band.to(filt.r2.dtype))
    std = h.std().clamp_min(floor)
    z = (h - h.mean()) / std
    if invert:
        z = -z
    return 0.5 + 0.5 * torch.tanh(0.6 * contrast * z)


def normal_map(height: torch.Tensor, filt: WrapFilter, strength: float = 1.0, convention: str = "opengl") -> torch.Tensor:
    """Tangent-space normals (H, W, 3) encoded in [0, 1] from the height's wrap-around gradient.

    Rows grow downwards in the image while a texture's V axis points up, so the OpenGL (+Y, Blender)
    green channel is +d(height)/d(row); DirectX (−Y) flips it. The slope scale is tied to the image
    side, so a map derived at 512 px and at 2048 px describes the same relief.
    """
    d_row, d_col = filt.gradient(height)
    k = strength * NORMAL_SCALE * min(filt.h, filt.w) / 256.0
    nx = -k * d_col
    ny = k * d_row if convention == "opengl" else -k * d_row
    n = torch.stack([nx, ny, torch.ones_like(nx)], dim=-1)
    n = n / n.norm(dim=-1, keepdim=True)
    return n * 0.5 + 0.5


#: The smallest spread of local contrast (standard deviation of luminance) that roughness stretches
#: to its full range. A plain albedo (a smooth photo's, split from its shading) varies by float
#: rounding only, and stretching that moved roughness by up to 65/255 between two builds of one
#: blur; 2/255 is a little under the flattest benchmark photograph's spread.
CONTRAST_FLOOR = 2.0 / 255


def roughness_map(recess: torch.Tensor, lum: torch.Tensor, filt: WrapFilter, low: float, high: float) -> torch.Tensor:
    """Roughness from depth (low ``recess`` — height, or luminance in the older heuristic — is
    rough: cavities gather grit) and the albedo's local contrast (busy → rough)."""
    scale = max(1.0, min(filt.h, filt.w) / 128)
    local_mean = filt.blur(recess, 2.0 * scale)
    centred = lum - lum.mean()  # E[x²] − E[x]² cancels less: a plain albedo's variance is not float noise
    local_var = (filt.blur(centred * centred, 3.0 * scale) - filt.blur(centred, 3.0 * scale) ** 2).clamp_min(0)
    r = 0.6 * (1.0 - _robust_unit(local_mean)) + 0.4 * _robust_unit(local_var.sqrt(), floor=CONTRAST_FLOOR)
    return low + (high - low) * _robust_unit(r, 0.005, 0.995)


def ao_map(height: torch.Tensor, filt: WrapFilter, strength: float = 1.0) -> torch.Tensor:
    """Ambient occlusion from height: how far a point sits below its surroundings at a few radii."""
    scale = max(1.0, min(filt.h, filt.w) / 256)
    occ = torch.zeros_like(height)
    for around in filt.blurs(height, [s * scale for s in AO_SCALES]):
        occ = occ + (around - height).clamp_min(0)
    occ = occ / len(AO_SCALES)
    ref = max(_quantiles(occ, (0.99,))[0], AO_FLOOR)   # a flat height's rounding noise is no cavity
    return (1.0 - strength * (occ / ref).clamp(0, 1) * 0.85).clamp(0, 1)


LIGHT_PRIOR = (45.0, 225.0)  # an estimated light axis is turned to come from the upper-left half-plane
RELIEF_FLOOR = 0.25          # relief (log-shading × px) spread below which a photo reads as flat
SPLIT_WINDOW = 1.0 / 8       # σ of the split's chromaticity regression, × the shorter side
SPLIT_EPS = 1e-3             # the regression's ridge: chromaticity variance below it predicts nothing
SPLIT_COARSE = 64            # the split's regression runs on a grid of at least this many px a side


def _extend_gradient(gy: torch.Tensor, gx: torch.Tensor, filt: WrapFilter) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a gradient field for non-tiling axes: the component across a mirror changes sign."""
    if not filt.py:
        gy = torch.cat([gy, -gy.flip(-2)], dim=-2)
        gx = torch.cat([gx, gx.flip(-2)], dim=-2)
    if not filt.px:
        gy = torch.cat([gy, gy.flip(-1)], dim=-1)
        gx = torch.cat([gx, -gx.flip(-1)], dim=-1)
    return gy, gx


def _difference_symbols(filt: WrapFilter, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The central difference's Fourier symbols along rows and columns (times −i)."""
    return torch.sin(2 * math.pi * filt.fy).to(dtype), torch.sin(2 * math.pi * filt.fx).to(dtype)


def _poisson_solve(num: torch.Tensor, filt: WrapFilter) -> torch.Tensor:
    """The spectrum of the zero-mean surface whose Laplacian's spectrum is ``num`` (divergence form)."""
    sy, sx = _difference_symbols(filt, filt.r2.dtype)
    den = sy**2 + sx**2
    den[0, 0] = 1.0
    spec = num / (den + 1e-6)
    spec[..., 0, 0] = 0
    return spec


def poisson_spectrum(gy: torch.Tensor, gx: torch.Tensor, filt: WrapFilter) -> torch.Tensor:
    """Half spectrum of ``poisson_integrate(gy, gx, filt)`` (for filters applied before going back)."""
    ey, ex = _extend_gradient(gy, gx, filt)
    sy, sx = _difference_symbols(filt, gy.dtype)
    spec = torch.fft.rfft2(torch.stack([ey, ex]))
    return _poisson_solve(spec[0] * (-1j * sy) + spec[1] * (-1j * sx), filt)


def poisson_integrate(gy: torch.Tensor, gx: torch.Tensor, filt: WrapFilter) -> torch.Tensor:
    """Least-squares surface whose gradient (d/drow, d/dcol) is closest to (gy, gx), zero mean.

    The FFT solves the Poisson equation exactly on a wrap-around grid; a non-tiling axis is mirrored
    first with the gradient's sign flipped across it (Neumann border), as the blurs do.
    """
    return filt.inverse(poisson_spectrum(gy, gx, filt))


def _coarse_factor(filt: WrapFilter) -> int:
    """The largest power of two dividing both sides that leaves at least ``SPLIT_COARSE`` px on the
    shorter: the split's regression window is ``SPLIT_WINDOW`` of the side, so it is as smooth there."""
    k = 1
    while min(filt.h, filt.w) // (2 * k) >= SPLIT_COARSE and filt.h % (2 * k) == 0 and filt.w % (2 * k) == 0:
        k *= 2
    return k


def _upsample(a: torch.Tensor, k: int, filt: WrapFilter) -> torch.Tensor:
    """Bilinear ×``k`` of (C, h, w) to the filter's size, wrapping on its periodic axes."""
    if k == 1:
        return a
    import torch.nn.functional as F

    x = a[None]
    x = F.pad(x, (1, 1, 0, 0), mode="circular" if filt.px else "replicate")
    x = F.pad(x, (0, 0, 1, 1), mode="circular" if filt.py else "replicate")
    x = F.interpolate(x, scale_factor=k, mode="bilinear", align_corners=False)[0]
    return x[:, k : k + filt.h, k : k + filt.w]


def _chroma_regression(chroma: torch.Tensor, log_l: torch.Tensor, filt: WrapFilter) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel coefficients (a1, a2) of the windowed least-squares fit log_l ≈ a · chroma + b.

    The window is a Gaussian of ``SPLIT_WINDOW`` × the shorter side; the fit's moments are box-averaged
    down to a coarse grid first (the window is many coarse pixels wide, so this changes little) and
    the coefficients brought back bilinearly: a large photo's split costs a few small transforms.
    """
    import torch.nn.functional as F

    c1, c2 = chroma
    products = torch.stack([c1, c2, log_l, c1 * c1, c1 * c2, c2 * c2, c1 * log_l, c2 * log_l])
    k = _coarse_factor(filt)
    coarse = WrapFilter(filt.h // k, filt.w // k, (filt.py, filt.px)) if k > 1 else filt
    if k > 1:
        products = F.avg_pool2d(products[None], k)[0]
    gain = coarse.gaussian(SPLIT_WINDOW * min(coarse.h, coarse.w)).to(log_l.dtype)
    m1, m2, ml, s11, s12, s22, s1l, s2l = coarse.inverse(coarse.spectrum(products) * gain)
    v11, v22, v12 = s11 - m1 * m1 + SPLIT_EPS, s22 - m2 * m2 + SPLIT_EPS, s12 - m1 * m2
    k1, k2 = s1l - m1 * ml, s2l - m2 * ml
    det = v11 * v22 - v12 * v12
    coef = torch.stack([(v22 * k1 - v12 * k2) / det, (v11 * k2 - v12 * k1) / det])
    coef = coarse.inverse(coarse.spectrum(coef) * gain)      # averaged over the windows, as the filter does
    a1, a2 = _upsample(coef, k, filt)
    return a1, a2


def intrinsic_split(rgb: torch.Tensor, filt: WrapFilter) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a photo (H, W, 3) into albedo (H, W, 3) and log-shading (H, W, zero mean).

    A grey light scales the three channels alike, so it leaves the chromaticity (log R/G, log B/G)
    untouched: whatever part of the log-luminance a window's chromaticity predicts is the material's
    own brightness (albedo), the rest is light on the relief (shading). The prediction is a local
    linear regression of log-luminance on chromaticity (a guided filter, He et al. 2010) over a
    Gaussian window of ``SPLIT_WINDOW`` × the shorter side: as wide as a few stones or bricks, so a
    piece's lit and shaded flanks average out and only the brightness its colour explains is taken
    out. Cutting the gradient at every colour edge instead (colour Retinex) also cut the shading of
    the creases between pieces, which is most of their relief. The albedo is the photo divided by
    the shading; a brightness step with no colour change stays in the shading.
    """
    eps = 1.0 / 512
    log_rgb = torch.log(rgb.clamp_min(eps))
    log_l = torch.log(luminance(rgb).clamp_min(eps))
    c1, c2 = log_rgb[..., 0] - log_rgb[..., 1], log_rgb[..., 2] - log_rgb[..., 1]
    a1, a2 = _chroma_regression(torch.stack([c1, c2]), log_l, filt)
    shading = log_l - a1 * c1 - a2 * c2
    shading = shading - shading.mean()
    albedo = (rgb * torch.exp(-shading)[..., None]).clamp(0, 1)
    return albedo, shading


def light_direction(angle_deg: float) -> tuple[float, float]:
    """(row, col) unit vector toward the light for ``angle_deg``: 0° = from the right, 90° = from the
    top, counter-clockwise in the image (135° = upper left)."""
    a = math.radians(angle_deg)
    return -math.sin(a), math.cos(a)


def estimate_light_angle(shading: torch.Tensor, filt: WrapFilter) -> float:
    """The light's horizontal direction in degrees, from the shading's gradient structure.

    Lit relief shades by its slope along the light, so the shading changes most along the light's
    axis: the principal axis of the shading gradient's structure tensor Σ ∇s ∇sᵀ. Its sign (front or back light)
    is not in the shading (a dome lit from the left looks like a crater lit from the right): the
    axis is turned to the upper-left half-plane, ``LIGHT_PRIOR``, the usual convention.
    """
    gr, gc = filt.gradient(shading)
    yu = -gr                                                              # image y points up
    txx, tyy, txy = float((gc * gc).sum()), float((yu * yu).sum()), float((gc * yu).sum())
    angle = 0.5 * math.degrees(math.atan2(2 * txy, txx - tyy)) % 180.0
    lo, hi = LIGHT_PRIOR
    return angle + 180.0 if angle < lo else angle if angle < hi else angle - 180.0


def height_from_shading(shading: torch.Tensor, filt: WrapFilter, angle_deg: float) -> torch.Tensor:
    """Height (zero mean, arbitrary scale) whose slope along the light explains the shading.

    Lambert, linearised for shallow relief: shading ≈ ρ(sin e − cos e · ∂h/∂l) + ambient is linear in
    the slope, so the shading relative to its mean, minus one, is −k ∂h/∂l (the log would compress
    the bright flanks against the dark ones): the target gradient is that along the light and 0
    across it, and the Poisson solve integrates it (what the shading cannot say, slopes across the
    light, stays flat).
    """
    return filt.inverse(relief_spectrum(shading, filt, angle_deg))


def relief_spectrum(shading: torch.Tensor, filt: WrapFilter, angle_deg: float) -> torch.Tensor:
    """Half spectrum of ``height_from_shading``: on a tiling image the target field is one map times
    the light's direction, so one transform of that map is enough."""
    linear = torch.exp(shading)
    slope = 1.0 - linear / linear.mean()
    dy, dx = light_direction(angle_deg)
    if not (filt.py and filt.px):
        return poisson_spectrum(slope * dy, slope * dx, filt)
    sy, sx = _difference_symbols(filt, slope.dtype)
    return _poisson_solve(filt.spectrum(slope) * (-1j * (dy * sy + dx * sx)), filt)


def check_maps(maps: Iterable[str]) -> tuple[str, ...]:
    """The requested map names as a tuple, checked: a wrong name fails before any work is done."""
    names = tuple(maps)
    unknown = [m for m in names if m not in MAP_NAMES]
    if unknown:
        raise InputError(f"unknown map name(s) {', '.join(map(repr, unknown))} (choose from {', '.join(MAP_NAMES)})")
    if not names:
        raise InputError("no maps requested")
    return names


def _checked_albedo(albedo: np.ndarray) -> np.ndarray:
    """The base colour as an (H, W, 3) array (grey repeated), or one InputError saying why it is unusable."""
    a = np.asarray(albedo)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3) or min(a.shape[:2]) < 8:
        raise InputError(f"base colour must be an (H, W, 3) image of at least 8×8 px, got shape {np.shape(albedo)}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if not np.isfinite(a).all():
        raise InputError("base colour contains NaN or infinite values")
    return a


def _check_map_settings(normal_convention: str, roughness_range: tuple[float, float], height_detail: float,
                        height_contrast: float, normal_strength: float, method: str, light_angle: float | None,
                        ao_strength: float) -> tuple[float, float]:
    """The roughness range as two numbers; every other setting checked, one InputError for the first bad one."""
    if normal_convention not in NORMAL_CONVENTIONS:
        raise InputError(f"unknown normal convention {normal_convention!r} (choose from {', '.join(NORMAL_CONVENTIONS)})")
    lo, hi = (float(v) for v in roughness_range)
    if not 0.0 <= lo <= hi <= 1.0:
        raise InputError(f"roughness range must satisfy 0 ≤ low ≤ high ≤ 1, got {lo}, {hi}")
    if not 0.0 <= height_detail <= 1.0:
        raise InputError(f"height detail must be within 0…1, got {height_detail}")
    if not 0.0 < height_contrast <= 10.0:
        raise InputError(f"height contrast must be within (0, 10], got {height_contrast}")
    if not 0.0 <= normal_strength <= 20.0:
        raise InputError(f"normal strength must be within 0…20, got {normal_strength}")
    if method not in ("shading", "luminance"):
        raise InputError(f"unknown height method {method!r} (choose from shading, luminance)")
    if light_angle is not None and not math.isfinite(float(light_angle)):
        raise InputError(f"light angle must be a finite number of degrees, got {light_angle}")
    if light_angle is not None and method != "shading":
        raise InputError("a light angle applies to the shading method only (method='shading')")
    if not 0.0 <= ao_strength <= 1.0:
        raise InputError(f"AO strength must be within 0…1, got {ao_strength}")
    return lo, hi


def _base_and_height(rgb: torch.Tensor, filt: WrapFilter, height: Optional[np.ndarray], method: str,
                     height_detail: float, height_contrast: float, invert_height: bool,
                     light_angle: float | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The base colour, the height and the luminance the roughness reads, by the chosen height method.

    A given ``height`` is used as is; "luminance" band-passes the photo's luminance; "shading"
    splits the photo into albedo and shading and integrates the shading along the light, so the
    base colour is the albedo and its luminance replaces the photo's.
    """
    lum = luminance(rgb)
    if height is not None:
        hgt = torch.from_numpy(np.clip(np.asarray(height, np.float32).reshape(rgb.shape[:2]), 0, 1))
        return rgb, hgt, lum
    if method == "luminance":
        return rgb, height_map(lum, filt, height_detail, height_contrast, invert_height), lum
    base, shading = intrinsic_split(rgb, filt)
    angle = estimate_light_angle(shading, filt) if light_angle is None else float(light_angle)
    relief = relief_spectrum(shading, filt, angle)           # band-passed before going back: one transform
    hgt = height_map(shading, filt, height_detail, height_contrast, invert_height, floor=RELIEF_FLOOR,
                     spectrum=relief)
    return base, hgt, luminance(base)


def derive_maps(
    albedo: np.ndarray,
    maps: Sequence[str] = MAP_NAMES,
    tile: Union[bool, str, Sequence[bool]] = True,
    height_detail: float = 0.5,
    height_contrast: float = 1.0,
    invert_height: bool = False,
    normal_strength: float = 1.0,
    normal_convention: str = "opengl",
    roughness_range: tuple[float, float] = (0.35, 0.9),
    ao_strength: float = 1.0,
    height: Optional[np.ndarray] = None,
    light_angle: float | None = None,
    method: str = "luminance",
) -> dict[str, np.ndarray]:
    """Derive PBR maps from a base-colour image (H, W, 3) in [0, 1].

    Returns name → float32 array in [0, 1]: ``basecolor`` and ``normal`` (H, W, 3), ``height``,
    ``roughness`` and ``ao`` (H, W). With ``tile`` (True, or 'both'/'x'/'y') every filter wraps
    around on the tiling axes, so the maps tile wherever the albedo does. Pass ``height`` to derive
    normal and AO from a known height map instead of the estimate (the colour is then kept as is).

    ``method`` "luminance" (default) is the classic heuristic: band-passed luminance as height, the
    photo as base colour. "shading" (opt-in) splits the photo into albedo and shading
    (``intrinsic_split``): the base colour is the albedo and the height integrates the shading along
    the light (``light_angle`` degrees, 0 = from the right, 90 = from the top, counter-clockwise;
    None estimates it). It is not the default because it reads stones worse than the heuristic
    (docs/maps.md); ``light_angle`` applies to it only.
    """
    names = check_maps(maps)
    a = _checked_albedo(albedo)
    lo, hi = _check_map_settings(normal_convention, roughness_range, height_detail, height_contrast,
                                 normal_strength, method, light_angle, ao_strength)
    rgb = torch.from_numpy(np.clip(a, 0, 1).astype(np.float32))
    filt = WrapFilter(rgb.shape[0], rgb.shape[1], _periodic(tile))
    base, hgt, lum = _base_and_height(rgb, filt, height, method, height_detail, height_contrast, invert_height,
                                      light_angle)
    # the luminance heuristic reads roughness from the photo's luminance, the others from the height
    rough_source = lum if method == "luminance" and height is None else hgt
    out: dict[str, torch.Tensor] = {}
    for name in names:
        if name == "basecolor":
            out[name] = base
        elif name == "height":
            out[name] = hgt
        elif name == "normal":
            out[name] = normal_map(hgt, filt, normal_strength, normal_convention)
        elif name == "roughness":
            out[name] = roughness_map(rough_source, luminance(base), filt, lo, hi)
        elif name == "ao":
            out[name] = ao_map(hgt, filt, ao_strength)
    return {k: np.ascontiguousarray(v.clamp(0, 1).float().numpy()) for k, v in out.items()}


def decode_normals(normal: np.ndarray, convention: str = "opengl") -> np.ndarray:
    """[0, 1]-encoded normal map → unit vectors (H, W, 3) with +Y up (OpenGL), whatever the encoding."""
    n = np.asarray(normal, np.float64) * 2.0 - 1.0
    if convention == "directx":
        n = n * np.array([1.0, -1.0, 1.0])
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
