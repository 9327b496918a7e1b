"""One explicit adapter per job kind: a validated :class:`JobSpec` → the engine call that does it.

Runs wherever a job runs (the engine process, a farm worker). Each adapter names every engine argument it passes, taken from the
fields :data:`~texture_addon.contract.spec.KIND_FIELDS` says the kind reads, so nothing is dropped
on the way (an earlier generic call filtered keywords by the engine's signature, which silently
lost Size and Tiling for style transfer). ``tests/test_worker_adapters.py`` changes each field of
each kind in turn and fails if the engine call and the result stay the same.

Where the engine's vocabulary differs from the contract's, the translation is written out here:
style transfer takes ``tile`` as a bool and ``size`` as the longer side; making seamless and
deriving maps keep the input's size, so their result is resized to ``width`` × ``height``.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..contract.spec import JobSpec
from ..contract.vocabulary import RGB_MAPS, TILE_AXES
from ..engine.progress import CancelToken, ProgressInfo
from ..errors import TextureForgeError
from ..references import load_gray, load_rgb
from .engine_api import Engine

ProgressCallback = Callable[[ProgressInfo], None]
Maps = dict[str, np.ndarray]
Adapter = Callable[[Engine, JobSpec, "ProgressCallback | None", CancelToken], Maps]

def _references(spec: JobSpec) -> tuple[list[np.ndarray], list[float]]:
    return [load_rgb(r.path) for r in spec.references], [float(r.weight) for r in spec.references]


def resize_to(img: np.ndarray, width: int, height: int, tile: str) -> np.ndarray:
    """``img`` (H, W[, C]) at ``width`` × ``height``, wrapping around on the tiled axes."""
    if img.shape[:2] == (height, width):
        return img
    import torch

    from ..engine.resample import resize

    squeeze = img.ndim == 2
    arr = img[..., None] if squeeze else img
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1)[None]
    out = resize(t, height, width, *TILE_AXES[tile])[0].permute(1, 2, 0).clamp(0, 1).numpy()
    out = np.ascontiguousarray(out, dtype=np.float32)
    return out[..., 0] if squeeze else out


def synth(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    refs, weights = _references(spec)
    img = engine.synthesize(refs, weights, width=spec.width, height=spec.height, seed=spec.seed,
                            tile=spec.tile, detail_scale=spec.detail_scale, quality=spec.quality,
                            method=spec.method, device=spec.device, vgg_weights=spec.vgg_weights,
                            progress=progress, cancel=cancel)
    return with_derived_maps(engine, img, spec, progress, cancel)


def stylize(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    refs, weights = _references(spec)
    # The contract allows "both" or "none" here (KIND_TILE_MODES); the engine takes a bool.
    img = engine.stylize(load_rgb(spec.content), refs, weights, strength=spec.strength,
                         preserve_colors=spec.preserve_colors, tile=spec.tile == "both",
                         size=max(spec.width, spec.height), seed=spec.seed, quality=spec.quality,
                         method=spec.method, device=spec.device, progress=progress, cancel=cancel)
    return with_derived_maps(engine, img, spec, progress, cancel)


def seamless(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    img = engine.make_seamless(load_rgb(spec.content), band=spec.band, seed=spec.seed,
                               quality=spec.quality, device=spec.device, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    img = resize_to(img, spec.width, spec.height, "both")  # seamless output tiles both ways
    return with_derived_maps(engine, img, spec, progress, cancel, tile="both")


def pbr(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    albedo = resize_to(load_rgb(spec.content), spec.width, spec.height, spec.tile)
    derived = engine.derive_maps(albedo, maps=list(spec.maps), tile=spec.tile, **height_method(spec.light_angle))
    return pick(derived, spec.maps, "derive_maps")


def height_method(light_angle: float | str | None) -> dict:
    """``derive_maps`` options for a spec's ``light_angle``: None keeps the luminance heuristic."""
    if light_angle is None:
        return {}
    return {"method": "shading", "light_angle": None if light_angle == "auto" else float(light_angle)}


def material(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    inputs = {name: (load_rgb(path) if name in RGB_MAPS else load_gray(path)) for name, path in spec.material.items()}
    produced = engine.synthesize_material(inputs, width=spec.width, height=spec.height, seed=spec.seed,
                                          tile=spec.tile, quality=spec.quality, device=spec.device,
                                          detail_scale=spec.detail_scale, progress=progress, cancel=cancel)
    return pick(produced, list(spec.material), "synthesize_material")


#: kind → adapter. Every kind of the contract has one (a test checks it).
ADAPTERS: dict[str, Adapter] = {"synth": synth, "stylize": stylize, "seamless": seamless, "pbr": pbr,
                                "material": material}


def with_derived_maps(engine: Engine, img: np.ndarray, spec: JobSpec, progress: ProgressCallback | None,
                      cancel: CancelToken, tile: str | None = None) -> Maps:
    """Any requested map besides basecolor comes from ``derive_maps`` by the spec's height method.

    The base colour is the engine's image with the luminance heuristic, and the split's albedo with
    the shading method (the image without its light), as ``synth --pbr`` writes it: a base colour
    that keeps the photo's shading would be lit twice by the renderer."""
    if all(m == "basecolor" for m in spec.maps):
        return {"basecolor": img}
    cancel.raise_if_cancelled()
    method = height_method(spec.light_angle)
    derived = dict(engine.derive_maps(img, maps=list(spec.maps), tile=spec.tile if tile is None else tile,
                                      **method))
    if method.get("method") != "shading":
        derived["basecolor"] = img
    return pick(derived, spec.maps, "derive_maps")


def pick(maps: Mapping[str, np.ndarray], wanted: list[str], producer: str) -> Maps:
    missing = [m for m in wanted if m not in maps]
    if missing:
        raise TextureForgeError(f"{producer} did not produce the map(s) {', '.join(missing)}")
    return {m: maps[m] for m in wanted}


__all__ = ["ADAPTERS", "resize_to", "with_derived_maps", "pick", "RGB_MAPS"]
