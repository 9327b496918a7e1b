"""The job spec: one typed, validated, JSON-serialisable description of a texture job.

Blender builds a :class:`JobSpec` from its UI, the client validates it before anything is spawned
(so the artist sees every mistake at once, in words), and the worker receives it as JSON and
validates it again before touching the engine. Standard library only: Blender imports this module
into its own process, where numpy, PIL and torch must never be loaded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from .vocabulary import (DERIVED_MAPS, DEVICES, KINDS, MAP_NAMES, MAX_BAND, MAX_DETAIL, MAX_SEED, MAX_SIZE,
                         METHODS, MIN_BAND, MIN_DETAIL, MIN_SIZE, QUALITIES, TILE_MODES, light_angle_problem)

#: Which kinds take style references and which need a ``content`` image.
KINDS_WITH_REFERENCES = ("synth", "stylize")
KINDS_WITH_CONTENT = ("stylize", "seamless", "pbr")
#: Kinds that make a colour image and derive ``maps`` beyond the base colour from it.
KINDS_DERIVING_MAPS = ("synth", "stylize", "seamless")

#: Fields every kind reads: what to do and where to write it.
COMMON_FIELDS = ("kind", "output_dir", "name")
#: The spec fields each kind reads, besides :data:`COMMON_FIELDS`. The engine process's per-kind
#: adapters (``jobs/adapters.py``) pass every one of them on to the engine, and a
#: test fails if one is dropped. A field a kind does not read must keep its default: a value set
#: there is refused by :meth:`JobSpec.validate` rather than silently ignored.
#:
#: Meanings that differ per kind: ``stylize`` keeps the content image's aspect ratio and makes its
#: longer side ``max(width, height)``; ``seamless`` and ``pbr`` resize their result to
#: ``width`` × ``height`` (wrapping around the edges on tiled axes); ``seamless`` always tiles both
#: ways; ``material`` writes the maps it was given (``material``), not ``maps``; ``pbr`` runs on
#: the CPU whatever ``device`` says, so it refuses one. ``light_angle`` shapes the maps derived
#: from the colour (:data:`DERIVED_MAPS`); ``synth``, ``stylize`` and ``seamless`` derive none when
#: ``maps`` asks for the base colour only, so they refuse a light angle then.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "synth": ("references", "width", "height", "seed", "tile", "detail_scale", "quality", "method",
              "vgg_weights", "device", "maps", "light_angle"),
    "stylize": ("references", "content", "width", "height", "seed", "tile", "quality", "method",
                "strength", "preserve_colors", "device", "maps", "light_angle"),
    "seamless": ("content", "width", "height", "seed", "quality", "band", "device", "maps", "light_angle"),
    "pbr": ("content", "width", "height", "tile", "maps", "light_angle"),  # derive_maps runs on the CPU
    "material": ("material", "width", "height", "seed", "tile", "detail_scale", "quality", "device"),
}
#: Tile modes a kind can honour, where it cannot do all four (the style-transfer engine tiles
#: both ways or not at all).
KIND_TILE_MODES: dict[str, tuple[str, ...]] = {"stylize": ("both", "none")}

# Characters that would let ``name`` escape ``output_dir`` or break file names on some platform.
_BAD_NAME_CHARS = set('/\\:*?"<>|\0')


class SpecError(InputError):
    """A job spec that cannot run. ``errors`` lists every problem found, each one precise.

    Listing all of them (rather than stopping at the first) lets the UI show the artist the whole
    story in one report instead of one fix-and-retry round per mistake.
    """

    def __init__(self, errors: list[str] | str) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("invalid job: " + "; ".join(self.errors))


@dataclass
class ReferenceSpec:
    """One style reference image and how much it counts relative to the others."""

    path: str
    weight: float = 1.0


@dataclass
class JobSpec:
    """Everything a worker needs to produce one set of texture files.

    ``content`` is the content image for ``stylize``, the image to make tileable for ``seamless``
    and the albedo for ``pbr``. ``material`` maps a map name to an existing file for
    ``kind="material"``. Outputs land in ``f"{output_dir}/{name}_{map}.png"``, one per entry of
    ``maps`` (``material`` jobs write the maps they were given).
    """

    kind: str = "synth"
    references: list[ReferenceSpec] = field(default_factory=list)
    content: str | None = None
    material: dict[str, str] = field(default_factory=dict)
    output_dir: str = ""
    name: str = "texture"
    width: int = 512
    height: int = 512
    seed: int = 0
    tile: str = "both"
    detail_scale: float = 1.0
    quality: str = "default"
    method: str = "nn"
    device: str = "auto"
    vgg_weights: str | None = None
    strength: float = 0.7
    preserve_colors: bool = False
    band: float = 0.15
    maps: list[str] = field(default_factory=lambda: ["basecolor"])
    #: How derived maps are made: None by the luminance heuristic (brightness as height, the
    #: colour kept as base colour); "auto" or an angle in degrees (0 = light from the right, 90 = from
    #: the top, counter-clockwise) by the shading method, whose base colour is the split's albedo.
    #: The panel sends "auto" by default (docs/maps.md).
    light_angle: float | str | None = None

    # ------------------------------------------------------------------ validation

    def validate(self, check_files: bool = True) -> None:
        """Raise :class:`SpecError` listing every problem; return quietly if the job can run.

        ``check_files`` also checks that the input files exist; the client leaves it on, tests of
        pure structure turn it off.
        """
        errors = _type_errors(self)
        if errors:  # values of the wrong type make the range checks below meaningless
            raise SpecError(errors)

        _check_choice(errors, "kind", self.kind, KINDS)
        _check_choice(errors, "tile", self.tile, TILE_MODES)
        _check_choice(errors, "quality", self.quality, QUALITIES)
        _check_choice(errors, "method", self.method, METHODS)
        _check_choice(errors, "device", self.device, DEVICES)
        for attr in ("width", "height"):
            value = getattr(self, attr)
            if not MIN_SIZE <= value <= MAX_SIZE:
                errors.append(f"{attr}: {value} out of range ({MIN_SIZE}…{MAX_SIZE})")
        if not 0 <= self.seed <= MAX_SEED:
            errors.append(f"seed: {self.seed} out of range (0…{MAX_SEED})")
        _check_range(errors, "detail_scale", self.detail_scale, MIN_DETAIL, MAX_DETAIL)
        _check_range(errors, "strength", self.strength, 0.0, 1.0)
        _check_range(errors, "band", self.band, MIN_BAND, MAX_BAND)
        problem = light_angle_problem(self.light_angle)
        if problem:
            errors.append(f"light_angle: {problem}")
        elif (self.light_angle is not None and self.kind in KINDS_DERIVING_MAPS and isinstance(self.maps, list)
              and not set(self.maps) & set(DERIVED_MAPS)):
            errors.append(f"light_angle: shapes derived maps ({', '.join(DERIVED_MAPS)}) only, and maps "
                          "asks for none (leave it out or at null)")

        if not self.output_dir.strip():
            errors.append("output_dir: required (the folder the textures are written to)")
        elif check_files and os.path.exists(self.output_dir) and not os.path.isdir(self.output_dir):
            errors.append(f"output_dir: not a folder: {self.output_dir}")
        if not self.name.strip() or self.name in (".", "..") or _BAD_NAME_CHARS & set(self.name):
            errors.append(f"name: {self.name!r} is not usable in a file name "
                          "(empty, or contains one of / \\ : * ? \" < > |)")

        if self.kind != "material":
            if not self.maps:
                errors.append("maps: at least one map is required")
            for m in self.maps:
                if m not in MAP_NAMES:
                    errors.append(f"maps: unknown map {m!r} (choose from {', '.join(MAP_NAMES)})")
            dupes = sorted({m for m in self.maps if self.maps.count(m) > 1})
            if dupes:
                errors.append(f"maps: listed more than once: {', '.join(dupes)}")

        self._validate_kind_fields(errors)
        self._validate_inputs(errors, check_files)
        if self.method == "cnn" and self.vgg_weights is not None and check_files:
            if not os.path.isfile(self.vgg_weights):
                errors.append(f"vgg_weights: file not found: {self.vgg_weights}")
        if errors:
            raise SpecError(errors)

    def _validate_kind_fields(self, errors: list[str]) -> None:
        """Refuse a value the kind would ignore, and a tile mode the kind cannot honour."""
        if self.kind not in KIND_FIELDS:
            return
        used = set(COMMON_FIELDS) | set(KIND_FIELDS[self.kind])
        for f in dataclasses.fields(self):
            if f.name in used:
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            value = getattr(self, f.name)
            if value != default:
                errors.append(f"{f.name}: kind {self.kind!r} does not use it "
                              f"(leave it out or at {json.dumps(default)}; got {json.dumps(_plain(value))})")
        modes = KIND_TILE_MODES.get(self.kind)
        if modes is not None and self.tile in TILE_MODES and self.tile not in modes:
            errors.append(f"tile: kind {self.kind!r} tiles {' or '.join(repr(m) for m in modes)} only, "
                          f"not {self.tile!r}")

    def _validate_inputs(self, errors: list[str], check_files: bool) -> None:
        """Kind-specific inputs: references, content image, material maps."""
        if self.kind in KINDS_WITH_REFERENCES:
            if not self.references:
                errors.append(f"references: {self.kind} needs at least one reference image")
            for i, ref in enumerate(self.references, start=1):
                if not ref.path.strip():
                    errors.append(f"reference {i}: path is empty")
                elif check_files and not os.path.isfile(ref.path):
                    errors.append(f"reference {i}: file not found: {ref.path}")
                if not math.isfinite(ref.weight) or ref.weight < 0:
                    errors.append(f"reference {i}: weight {ref.weight} must be a non-negative number")
            if self.references and all(r.weight == 0 for r in self.references):
                errors.append("references: weights are all zero (at least one must be positive)")
        if self.kind in KINDS_WITH_CONTENT:
            what = {"stylize": "content image", "seamless": "image to make seamless", "pbr": "albedo image"}
            if self.content is None or not self.content.strip():
                errors.append(f"content: {self.kind} needs the {what[self.kind]}")
            elif check_files and not os.path.isfile(self.content):
                errors.append(f"content: file not found: {self.content}")
        if self.kind == "material":
            if not self.material:
                errors.append(f"material: needs at least one map file ({', '.join(MAP_NAMES)})")
            for name, path in self.material.items():
                if name not in MAP_NAMES:
                    errors.append(f"material: unknown map {name!r} (choose from {', '.join(MAP_NAMES)})")
                elif not path.strip():
                    errors.append(f"material {name}: path is empty")
                elif check_files and not os.path.isfile(path):
                    errors.append(f"material {name}: file not found: {path}")

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict:
        """Plain dict of JSON types (references become ``{"path", "weight"}`` dicts)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "JobSpec":
        """Build a spec from a decoded JSON object; unknown keys or wrong types raise SpecError.

        Only structure is checked here; call :meth:`validate` for ranges, kinds and files.
        """
        if not isinstance(d, dict):
            raise SpecError(f"job spec must be a JSON object, got {_type_name(d)}")
        known = {f.name for f in dataclasses.fields(cls)}
        errors = [f"unknown field {k!r}" for k in d if k not in known]
        kwargs: dict[str, Any] = {k: v for k, v in d.items() if k in known}
        refs = kwargs.get("references")
        if isinstance(refs, list):
            parsed: list[Any] = []
            for i, r in enumerate(refs, start=1):
                if isinstance(r, ReferenceSpec):
                    parsed.append(r)
                elif not isinstance(r, dict):
                    errors.append(f"reference {i}: must be an object with 'path' and 'weight', got {_type_name(r)}")
                elif set(r) - {"path", "weight"} or "path" not in r:
                    extra = sorted(set(r) - {"path", "weight"})
                    errors.append(f"reference {i}: " + (f"unknown field(s) {', '.join(map(repr, extra))}"
                                                        if extra else "'path' is missing"))
                else:
                    parsed.append(ReferenceSpec(path=r["path"], weight=r.get("weight", 1.0)))
            kwargs["references"] = parsed
        # JSON has one number type: accept whole numbers where floats are expected.
        for f in _FLOAT_FIELDS:
            if type(kwargs.get(f)) is int:
                kwargs[f] = float(kwargs[f])
        for ref in kwargs.get("references") or []:
            if isinstance(ref, ReferenceSpec) and type(ref.weight) is int:
                ref.weight = float(ref.weight)
        if errors:
            raise SpecError(errors)
        spec = cls(**kwargs)
        errors = _type_errors(spec)
        if errors:
            raise SpecError(errors)
        return spec

    @classmethod
    def from_json(cls, text: str) -> "JobSpec":
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"job spec is not valid JSON: {exc}") from None
        return cls.from_dict(data)


# ---------------------------------------------------------------------- helpers

_FLOAT_FIELDS = ("detail_scale", "strength", "band")
_EXPECTED: dict[str, tuple[type, ...] | str] = {
    "kind": (str,), "content": "optional str", "output_dir": (str,), "name": (str,),
    "width": (int,), "height": (int,), "seed": (int,), "tile": (str,), "detail_scale": (float, int),
    "quality": (str,), "method": (str,), "device": (str,), "vgg_weights": "optional str",
    "strength": (float, int), "preserve_colors": (bool,), "band": (float, int),
}


def _plain(value: Any) -> Any:
    """JSON-friendly form of a field value, for error messages."""
    if isinstance(value, list):
        return [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
    return value


def kind_fields(kind: str) -> tuple[str, ...]:
    """Every spec field ``kind`` reads (common ones first)."""
    return COMMON_FIELDS + KIND_FIELDS[kind]


def _type_name(value: object) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null",
            int: "integer", float: "number"}.get(type(value), type(value).__name__)


def _type_errors(spec: JobSpec) -> list[str]:
    """Every field whose value has the wrong type (bool is never accepted as a number)."""
    errors: list[str] = []
    for name, expected in _EXPECTED.items():
        value = getattr(spec, name)
        if expected == "optional str":
            ok = value is None or isinstance(value, str)
            want = "a string or null"
        else:
            ok = isinstance(value, expected) and not (isinstance(value, bool) and bool not in expected)
            want = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}[expected[0]]
        if not ok:
            errors.append(f"{name}: must be {want}, got {_type_name(value)} {value!r}")
    if not isinstance(spec.references, list):
        errors.append(f"references: must be a list, got {_type_name(spec.references)}")
    else:
        for i, ref in enumerate(spec.references, start=1):
            if not isinstance(ref, ReferenceSpec):
                errors.append(f"reference {i}: must be a ReferenceSpec, got {_type_name(ref)}")
                continue
            if not isinstance(ref.path, str):
                errors.append(f"reference {i}: path must be a string, got {_type_name(ref.path)}")
            if isinstance(ref.weight, bool) or not isinstance(ref.weight, (int, float)):
                errors.append(f"reference {i}: weight must be a number, got {_type_name(ref.weight)}")
    if not isinstance(spec.maps, list) or not all(isinstance(m, str) for m in spec.maps):
        errors.append(f"maps: must be a list of map names, got {spec.maps!r}")
    if not isinstance(spec.material, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in spec.material.items()):
        errors.append(f"material: must be an object of map name -> file path, got {spec.material!r}")
    return errors


def _check_choice(errors: list[str], name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        errors.append(f"{name}: {value!r} is not one of {', '.join(choices)}")


def _check_range(errors: list[str], name: str, value: float, lo: float, hi: float) -> None:
    if not (math.isfinite(value) and lo <= value <= hi):
        errors.append(f"{name}: {value} out of range ({lo:g}…{hi:g})")


__all__ = ["JobSpec", "ReferenceSpec", "SpecError", "KINDS", "MAP_NAMES", "MIN_SIZE", "MAX_SIZE", "TILE_MODES",
           "QUALITIES", "METHODS", "DEVICES", "KIND_FIELDS", "KIND_TILE_MODES", "COMMON_FIELDS", "kind_fields",
           "light_angle_problem"]
