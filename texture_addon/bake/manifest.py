"""A bake's settings: the command line's argument types, manifests, and the overrides written
onto each material (the material then remembers them, as if set in the panel).

Every value is checked against the contract (:mod:`texture_addon.contract.manifest`) before a
material is touched, so a typo is a usage error naming the material and the key.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import bpy

from ..blender.properties import offered_methods
from ..contract.manifest import check_entry, manifest_light_angle
from ..contract.vocabulary import BAKE_MODES, MAP_NAMES, MAX_SIZE, MIN_SIZE, MODE_TO_KIND
from . import UsageError, variants


def maps_arg(text: str) -> list[str]:
    """``basecolor,normal`` → the map names (argparse type)."""
    maps = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in maps if m not in MAP_NAMES]
    if bad or not maps:
        raise argparse.ArgumentTypeError(f"unknown map(s) {', '.join(bad) or '(none)'}; "
                                         f"choose from {','.join(MAP_NAMES)}")
    return maps


def size_arg(text: str) -> tuple[int, int]:
    """``512`` or ``1024x512`` → (width, height), each side within the contract's range (argparse type)."""
    try:
        parts = [int(p) for p in text.lower().replace("×", "x").split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}; use e.g. 512 or 1024x512") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not all(MIN_SIZE <= p <= MAX_SIZE for p in parts):
        raise argparse.ArgumentTypeError(f"invalid size {text!r}; each side must be {MIN_SIZE}-{MAX_SIZE}")
    return parts[0], parts[1]


def weights_arg(text: str) -> list[float]:
    """``1,0.5`` → one weight per reference (argparse type)."""
    try:
        return [float(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid weights {text!r}; use e.g. 1,0.5") from None


def load_manifest(path: str) -> list[dict]:
    """The manifest's entries, each merged with its defaults and checked against the contract
    (contract/manifest.py) before anything reads it; paths made absolute."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"manifest not found: {path}")
    try:
        if p.suffix.lower() == ".toml":
            import tomllib
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        else:
            data = json.loads(p.read_text(encoding="utf-8"))
    except Exception as exc:
        raise UsageError(f"cannot read manifest {path}: {exc}".replace("\n", " ")) from None
    if isinstance(data, list):
        data = {"materials": data}
    entries = data.get("materials") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"manifest {path} has no 'materials' list")
    defaults = data.get("defaults") or {}
    out = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("name"):
            raise UsageError(f"manifest {path}: material {i} needs a 'name'")
        merged = {**defaults, **entry}
        try:
            check_entry(merged, f"manifest {path}: material {entry['name']!r}")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        refs = merged.get("refs", merged.get("references", []))
        if isinstance(refs, str):
            refs = [refs]
        merged["refs"] = [_resolved_reference(r, p.parent) for r in refs]
        if "source" in merged:
            s = merged["source"]
            merged["source"] = str((p.parent / s).resolve()) if not os.path.isabs(s) else s
        if isinstance(merged.get("maps"), str):
            merged["maps"] = merged["maps"].split(",")
        for m in merged.get("maps") or []:
            if m not in MAP_NAMES:
                raise UsageError(f"manifest {path}: material '{entry['name']}': unknown map {m!r}")
        if merged.get("mode") is not None and merged["mode"] not in BAKE_MODES:
            raise UsageError(f"manifest {path}: material '{entry['name']}': unknown mode "
                             f"{merged['mode']!r}")
        if "size" in merged and not isinstance(merged["size"], (list, tuple)):
            try:
                merged["size"] = size_arg(str(merged["size"]))
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"manifest {path}: material '{entry['name']}': {exc}") from None
        out.append(merged)
    return out


def _resolved_reference(ref: str | dict, folder: Path) -> str | dict:
    """A reference path (or a table's ``path`` and ``mask``) made absolute from the manifest's folder."""
    def absolute(path: str) -> str:
        return path if os.path.isabs(path) else str((folder / path).resolve())
    if isinstance(ref, str):
        return absolute(ref)
    return {**ref, **{k: absolute(ref[k]) for k in ("path", "mask") if k in ref}}


def expand_variants(manifest: list[dict]) -> list[dict]:
    """Manifest entries with ``seeds``/``sizes`` become one material per variant."""
    try:
        return variants.expand_variants(manifest)
    except variants.VariantError as exc:
        raise UsageError(f"manifest: {exc}") from None


def apply_overrides(material: bpy.types.Material, o: dict) -> None:
    """Write the given settings (refs, weights, size, seed, maps, mode, quality, light_angle, …) to
    the material."""
    s = material.texture_forge
    if o.get("mode"):
        s.mode = BAKE_MODES[o["mode"]]
    if o.get("refs"):
        weights = list(o.get("weights") or [])
        s.references.clear()
        for i, path in enumerate(o["refs"]):
            r = s.references.add()
            r.source, r.filepath, r.enabled = "FILE", str(path), True
            r.weight = float(weights[i]) if i < len(weights) else 1.0
    elif o.get("weights"):
        for r, w in zip(s.references, o["weights"]):
            r.weight = float(w)
    if o.get("source"):
        s.source_image = bpy.data.images.load(o["source"], check_existing=True)
    if o.get("size"):
        s.size_preset = "CUSTOM"
        s.width, s.height = (int(v) for v in o["size"])
    _check_method(s, o.get("method"), material.name)
    for key in ("seed", "quality", "tile", "method", "detail_scale", "strength", "height_mode",
                "ao_strength"):
        if o.get(key) is not None:
            setattr(s, key, o[key])
    if o.get("maps"):
        for m in MAP_NAMES:
            setattr(s, "map_" + m, m in o["maps"])
    if "light_angle" in o:  # null or "brightness": the luminance heuristic, Height From Brightness
        s.set_job_light_angle(manifest_light_angle(o["light_angle"]))


def _check_method(settings: bpy.types.PropertyGroup, method: str | None, name: str) -> None:
    """UsageError for a method the material's mode refuses (CNN for seamless): the mode's Method menu
    does not offer it, so it could not be set."""
    offered = offered_methods(settings.mode)
    if method is not None and method not in offered:
        raise UsageError(f"material '{name}': method {method!r} does not apply to mode "
                         f"{MODE_TO_KIND[settings.mode]} (choose from {', '.join(offered)})")


def has_settings(material: bpy.types.Material) -> bool:
    """Whether the material has something to bake from (references, a source image or material)."""
    s = getattr(material, "texture_forge", None)
    if s is None:
        return False
    return (any(r.enabled for r in s.references) or s.source_image is not None
            or s.reference_material is not None)
