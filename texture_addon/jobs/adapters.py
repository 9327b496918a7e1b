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
from ..contract.vocabulary import MAP_NAMES, RGB_MAPS, TILE_AXES
from ..engine.progress import CancelToken, ProgressInfo
from ..errors import TextureForgeError
from ..references import load_gray, load_rgb
from .engine_api import Engine

ProgressCallback = Callable[[ProgressInfo], None]
Maps = dict[str, np.ndarray]
Adapter = Callable[[Engine, JobSpec, "ProgressCallback | None", CancelToken], Maps]

def _references(spec: JobSpec, progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> tuple[list[np.ndarray], list[float]]:
    """Each reference as the engine takes it: prepared (straighten → heal → flatten) where its
    spec asks, by the same code as ``python -m texture_addon prepare`` and the bake's tables; the
    job's ``flatten`` evens out the light of those whose own table has not already."""
    from ..references.prepare import prepare_table

    images = [prepare_table(r.preparation(), progress=progress, cancel=cancel) if r.prepared else load_rgb(r.path)
              for r in spec.references]
    if spec.flatten:
        images = [img if getattr(r, "flatten", False) else flatten_all([img])[0] for r, img in zip(spec.references, images)]
    return images, [float(r.weight) for r in spec.references]


def flatten_all(images: list[np.ndarray]) -> list[np.ndarray]:
    """Each image with its light evened out (references/prepare/flatten.py)."""
    from ..references.prepare import flatten

    return [flatten(img) for img in images]


def resize_to(img: np.ndarray, width: int, height: int, tile: str) -> np.ndarray:
    """``img`` (H, W[, C]) at ``width`` × ``height``, wrapping around on the tiled axes."""
    if img.shape[:2] == (height, width) or width == height == 0:  # 0 × 0: the image's own size
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
    refs, weights = _references(spec, progress, cancel)
    img = engine.synthesize(refs, weights, width=spec.width, height=spec.height, seed=spec.seed,
                            tile=spec.tile, detail_scale=spec.detail_scale, quality=spec.quality,
                            method=spec.method, device=spec.device, vgg_weights=spec.vgg_weights,
                            cnn_loss=spec.cnn_loss, progress=progress, cancel=cancel)
    return with_derived_maps(engine, img, spec, progress, cancel)


def stylize(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    refs, weights = _references(spec, progress, cancel)
    # The contract allows "both" or "none" here (KIND_TILE_MODES); the engine takes a bool.
    img = engine.stylize(load_rgb(spec.content), refs, weights, strength=spec.strength,
                         preserve_colors=spec.preserve_colors, tile=spec.tile == "both",
                         size=max(spec.width, spec.height) or None, seed=spec.seed, quality=spec.quality,
                         method=spec.method, device=spec.device, progress=progress, cancel=cancel)
    return with_derived_maps(engine, img, spec, progress, cancel)


def seamless(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    img = engine.make_seamless(load_rgb(spec.content), band=spec.band, seed=spec.seed,
                               quality=spec.quality, device=spec.device, method=spec.method,
                               progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    img = resize_to(img, spec.width, spec.height, "both")  # seamless output tiles both ways
    return with_derived_maps(engine, img, spec, progress, cancel, tile="both")


def pbr(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    albedo = resize_to(load_rgb(spec.content), spec.width, spec.height, spec.tile)
    derived = engine.derive_maps(albedo, maps=list(spec.maps), tile=spec.tile, height_detail=spec.height_detail,
                                 height_contrast=spec.height_contrast, invert_height=spec.invert_height,
                                 normal_strength=spec.normal_strength, normal_convention=spec.normal_convention,
                                 roughness_range=tuple(spec.roughness_range), **height_method(spec.light_angle))
    return pick(derived, spec.maps, "derive_maps")


def height_method(light_angle: float | str | None, explicit: bool = False) -> dict:
    """``derive_maps`` options for a spec's ``light_angle``: None keeps the luminance heuristic
    (named when ``explicit``, as the photo split of ``material`` always did)."""
    if light_angle is None:
        return {"method": "luminance"} if explicit else {}
    return {"method": "shading", "light_angle": None if light_angle == "auto" else float(light_angle)}


def material(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    inputs = {name: (load_rgb(path) if name in RGB_MAPS else load_gray(path)) for name, path in spec.material.items()}
    if spec.flatten:  # the basecolor's light only: the other maps are data, not light
        inputs["basecolor"] = flatten_all([inputs["basecolor"]])[0]
    if spec.from_photo:
        inputs = with_photo_maps(engine, inputs, spec.light_angle)
    produced = engine.synthesize_material(inputs, width=spec.width, height=spec.height, seed=spec.seed,
                                          tile=spec.tile, quality=spec.quality, device=spec.device,
                                          detail_scale=spec.detail_scale, progress=progress, cancel=cancel,
                                          method=spec.method)
    if spec.from_photo:
        cancel.raise_if_cancelled()
        produced = completed(engine, dict(produced), spec.tile)
    return pick(produced, list(produced) if spec.from_photo else list(spec.material), "synthesize_material")


def with_photo_maps(engine: Engine, maps: Maps, light_angle: float | str | None) -> Maps:
    """The basecolor photo replaced by its albedo, and its height added unless given: both come
    from one split of the photo, so they are aligned before synthesis keeps them so."""
    # the reference photo need not tile: its split mirrors at the borders
    derived = engine.derive_maps(maps["basecolor"], maps=("basecolor", "height"), tile=False,
                                 **height_method(light_angle, explicit=True))
    return {**derived, **{name: image for name, image in maps.items() if name != "basecolor"}}


def completed(engine: Engine, result: Maps, tile: str) -> Maps:
    """Every map of the set: those not synthesised derived from the synthesised height and colour."""
    missing = [name for name in MAP_NAMES if name not in result]
    if not missing:
        return result
    return {**result, **engine.derive_maps(result["basecolor"], maps=missing, tile=tile, height=result["height"])}


def heal(engine: Engine, spec: JobSpec, progress: ProgressCallback | None, cancel: CancelToken) -> Maps:
    """The masked area of ``content`` filled from the rest (its own size; every other pixel kept)."""
    from ..references.prepare.heal import check_mask, load_mask

    image = load_rgb(spec.content)
    mask = check_mask(load_mask(spec.mask), image.shape[1], image.shape[0])
    healed = engine.heal(image, mask, seed=spec.seed, quality=spec.quality, device=spec.device,
                         progress=progress, cancel=cancel)
    return {"basecolor": healed}


#: kind → adapter. Every kind of the contract has one (a test checks it).
ADAPTERS: dict[str, Adapter] = {"synth": synth, "stylize": stylize, "seamless": seamless, "pbr": pbr,
                                "material": material, "heal": heal}


def with_derived_maps(engine: Engine, img: np.ndarray, spec: JobSpec, progress: ProgressCallback | None,
                      cancel: CancelToken, tile: str | None = None) -> Maps:
    """Any requested map besides basecolor comes from ``derive_maps`` by the spec's height method.

    The base colour is the engine's image with the luminance heuristic, and the split's albedo with
    the shading method (the image without its light), as ``synth --pbr`` writes it: a base colour
    that keeps the photo's shading would be lit twice by the renderer."""
    if all(m == "basecolor" for m in spec.maps):
        return {"basecolor": img}
    cancel.raise_if_cancelled()
    derived = dict(engine.derive_maps(img, maps=list(spec.maps), tile=spec.tile if tile is None else tile,
                                      **height_method(spec.light_angle)))
    if spec.light_angle is None:  # from shading, basecolor is the split's albedo
        derived["basecolor"] = img
    return pick(derived, spec.maps, "derive_maps")


def pick(maps: Mapping[str, np.ndarray], wanted: list[str], producer: str) -> Maps:
    missing = [m for m in wanted if m not in maps]
    if missing:
        raise TextureForgeError(f"{producer} did not produce the map(s) {', '.join(missing)}")
    return {m: maps[m] for m in wanted}


__all__ = ["ADAPTERS", "resize_to", "with_derived_maps", "pick", "RGB_MAPS"]
