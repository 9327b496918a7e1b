"""The job spec: one typed, validated, JSON-serialisable description of a texture job.

Blender builds a :class:`JobSpec` from its UI; the sending side validates it once, right before it
leaves the process (the worker client before anything is spawned, so the artist sees every mistake
at once, in words; the farm before the task is submitted), and the receiving side once on arrival
(``jobs/run.py``, before touching the engine). Standard library only: Blender imports this module
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
from .manifest import REFERENCE_KEYS, reference_table_problem
from .vocabulary import (CNN_LOSSES, DEVICES, KINDS, MAP_NAMES, MAX_BAND, MAX_DETAIL, MAX_SEED, MAX_SIZE,
                         METHODS, MIN_BAND, MIN_DETAIL, MIN_SIZE, NORMAL_CONVENTIONS, PATCH_METHODS,
                         QUALITIES, TILE_MODES, light_angle_problem)

#: Which kinds take style references and which need a ``content`` image.
KINDS_WITH_REFERENCES = ("synth", "stylize")
KINDS_WITH_CONTENT = ("stylize", "seamless", "pbr", "heal")

#: Fields every kind reads: what to do and where to write it.
COMMON_FIELDS = ("kind", "output_dir", "name", "file_names")
#: The spec fields each kind reads, besides :data:`COMMON_FIELDS`. The engine process's per-kind
#: adapters (``jobs/adapters.py``) pass every one of them on to the engine, and a
#: test fails if one is dropped. A field a kind does not read must keep its default: a value set
#: there is refused by :meth:`JobSpec.validate` rather than silently ignored.
#:
#: Meanings that differ per kind: ``stylize`` keeps the content image's aspect ratio and makes its
#: longer side ``max(width, height)``; ``seamless`` and ``pbr`` resize their result to
#: ``width`` × ``height`` (wrapping around the edges on tiled axes); ``seamless`` always tiles both
#: ways; ``material`` writes the maps it was given (``material``), not ``maps``; ``pbr`` runs on
#: the CPU whatever ``device`` says, so it refuses one. ``light_angle`` reaches the maps derived
#: from the result (synth, stylize, seamless: maps other than basecolor; material: ``from_photo``).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "synth": ("references", "width", "height", "seed", "tile", "detail_scale", "quality", "method",
              "vgg_weights", "device", "maps", "flatten", "cnn_loss", "light_angle"),
    "stylize": ("references", "content", "width", "height", "seed", "tile", "quality", "method",
                "strength", "preserve_colors", "device", "maps", "flatten", "light_angle"),
    "seamless": ("content", "width", "height", "seed", "quality", "method", "band", "device", "maps",
                 "light_angle"),
    "pbr": ("content", "width", "height", "tile", "maps", "light_angle", "height_detail", "height_contrast",
            "invert_height", "normal_strength", "normal_convention", "roughness_range"),  # on the CPU
    "material": ("material", "width", "height", "seed", "tile", "detail_scale", "quality", "method", "device",
                 "flatten", "from_photo", "light_angle"),
    # the image's own size: only the masked pixels change
    "heal": ("content", "mask", "seed", "quality", "device"),
}
#: Kinds whose ``width`` and ``height`` may both be 0: the content image's own size (the CLI's
#: ``seamless``, ``pbr`` and ``stylize`` without ``--size``).
KINDS_OF_CONTENT_SIZE = ("stylize", "seamless", "pbr")
#: Tile modes a kind can honour, where it cannot do all four (the style-transfer engine tiles
#: both ways or not at all).
KIND_TILE_MODES: dict[str, tuple[str, ...]] = {"stylize": ("both", "none")}
#: Methods a kind can honour, where it cannot do all of them (no CNN features for one image's
#: own texture or for a set of maps).
KIND_METHODS: dict[str, tuple[str, ...]] = {"seamless": PATCH_METHODS, "material": PATCH_METHODS}

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
    """One style reference image, how much it counts relative to the others, and how to prepare it.

    ``corners``, ``size``, ``flatten`` and ``mask`` are a bake manifest's reference table
    (:data:`~.manifest.REFERENCE_KEYS`): the worker straightens, heals and flattens the photo
    (``python -m texture_addon prepare``'s steps) before synthesis; the file itself is only read.
    """

    path: str
    weight: float = 1.0
    corners: list[float] | None = None  # X1,Y1,…,X4,Y4 in photo pixels: TL, TR, BR, BL
    size: str | None = None             # "WxH" or "W" of the straightened image
    flatten: bool = False
    mask: str | None = None             # heal mask file (white = fill), in the photo's pixels

    def preparation(self) -> dict:
        """The reference as a manifest table, with only the steps asked for (``{"path"}`` alone: none)."""
        table: dict[str, Any] = {"path": self.path}
        if self.corners is not None:
            table["corners"] = list(self.corners)
        if self.size is not None:
            table["size"] = self.size
        if self.flatten:
            table["flatten"] = True
        if self.mask is not None:
            table["mask"] = self.mask
        return table

    @property
    def prepared(self) -> bool:
        return len(self.preparation()) > 1


@dataclass
class JobSpec:
    """Everything a worker needs to produce one set of texture files.

    ``content`` is the content image for ``stylize``, the image to make tileable for ``seamless``
    and the albedo for ``pbr``. ``material`` maps a map name to an existing file for
    ``kind="material"``. Outputs land in ``f"{output_dir}/{name}_{map}.png"``, one per map of
    :meth:`written_maps`, or in ``f"{output_dir}/{file_names[map]}"`` where ``file_names`` is given.
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
    #: ``synth``, ``stylize``: even out each reference's light before synthesis; ``material``: the
    #: basecolor map's (the other maps are data, not light).
    flatten: bool = False
    #: ``synth`` with ``method="cnn"``: the feature statistic matched.
    cnn_loss: str = "sw"
    #: ``material``: the basecolor map is a photograph, split into albedo and height (by
    #: ``light_angle``'s method) before synthesis; the maps not given are derived from the
    #: synthesised height after it, so the job writes every map.
    from_photo: bool = False
    #: ``pbr``: how the maps are derived (``engine.derive_maps``' options of the same names).
    height_detail: float = 0.5
    height_contrast: float = 1.0
    invert_height: bool = False
    normal_strength: float = 1.0
    normal_convention: str = "opengl"
    roughness_range: list[float] = field(default_factory=lambda: [0.35, 0.9])
    #: Map name → file name inside ``output_dir``, for a caller that names its files itself (the
    #: CLI's ``-o OUT.png`` and map folders); when given, one for every map the job writes.
    file_names: dict[str, str] = field(default_factory=dict)

    def written_maps(self) -> list[str]:
        """The maps this job writes, in order: ``maps``, or for ``material`` the maps given (every
        map with ``from_photo``)."""
        if self.kind != "material":
            return list(self.maps)
        return list(MAP_NAMES) if self.from_photo else list(self.material)
    #: ``heal``: the mask image (white = fill), the size of ``content``.
    mask: str | None = None

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
        own_size = self.kind in KINDS_OF_CONTENT_SIZE and self.width == self.height == 0
        for attr in ("width", "height"):
            value = getattr(self, attr)
            if not own_size and not MIN_SIZE <= value <= MAX_SIZE:
                errors.append(f"{attr}: {value} out of range ({MIN_SIZE}…{MAX_SIZE})")
        if not 0 <= self.seed <= MAX_SEED:
            errors.append(f"seed: {self.seed} out of range (0…{MAX_SEED})")
        _check_range(errors, "detail_scale", self.detail_scale, MIN_DETAIL, MAX_DETAIL)
        _check_range(errors, "strength", self.strength, 0.0, 1.0)
        _check_range(errors, "band", self.band, MIN_BAND, MAX_BAND)
        problem = light_angle_problem(self.light_angle)
        if problem:
            errors.append(f"light_angle: {problem}")
        self._validate_derive_options(errors)

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
        self._validate_derived_maps(errors)
        self._validate_file_names(errors)
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
        methods = KIND_METHODS.get(self.kind)
        if methods is not None and self.method in METHODS and self.method not in methods:
            errors.append(f"method: kind {self.kind!r} supports {' or '.join(repr(m) for m in methods)} only, "
                          f"not {self.method!r}")

    def _validate_derive_options(self, errors: list[str]) -> None:
        """The CNN loss and ``pbr``'s options for deriving maps: known names, finite numbers."""
        _check_choice(errors, "cnn_loss", self.cnn_loss, CNN_LOSSES)
        _check_choice(errors, "normal_convention", self.normal_convention, NORMAL_CONVENTIONS)
        for name in ("height_detail", "height_contrast", "normal_strength"):
            _check_range(errors, name, getattr(self, name), -math.inf, math.inf)
        lo_hi = self.roughness_range
        if len(lo_hi) != 2 or not all(math.isfinite(v) for v in lo_hi) or not 0 <= lo_hi[0] <= lo_hi[1] <= 1:
            errors.append(f"roughness_range: need [LOW, HIGH] with 0 ≤ LOW ≤ HIGH ≤ 1, got {lo_hi!r}")

    def _validate_derived_maps(self, errors: list[str]) -> None:
        """Refuse a light angle (or a photo split) no derived map would use."""
        if self.kind in ("synth", "stylize", "seamless") and self.light_angle is not None \
                and all(m == "basecolor" for m in self.maps):
            errors.append("light_angle: applies to maps derived from the result; maps holds basecolor only")
        if self.kind == "material":
            if self.light_angle is not None and not self.from_photo:
                errors.append("light_angle: kind 'material' uses it with from_photo only")
            if self.from_photo and "basecolor" not in self.material:
                errors.append("from_photo: the maps are derived from the basecolor photo; material needs basecolor")
            if self.flatten and "basecolor" not in self.material:
                errors.append("flatten: evens out the basecolor map's light; material needs basecolor")

    def _validate_file_names(self, errors: list[str]) -> None:
        """``file_names``: plain .png names inside ``output_dir``, one per map written, no two alike."""
        if not self.file_names:
            return
        wanted = self.written_maps()
        if sorted(self.file_names) != sorted(wanted):
            errors.append(f"file_names: must name exactly the maps written ({', '.join(wanted)}), "
                          f"got {', '.join(self.file_names)}")
        for m, fname in self.file_names.items():
            if (fname in (".", "..") or _BAD_NAME_CHARS & set(fname)
                    or not fname.lower().endswith(".png") or len(fname) <= 4):
                errors.append(f"file_names {m}: {fname!r} is not a .png file name inside output_dir")
        if len(set(self.file_names.values())) != len(self.file_names):
            errors.append("file_names: two maps share a file name")

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
                problem = reference_table_problem(ref.preparation()) if ref.path.strip() else None
                if problem:
                    errors.append(f"reference {i}: {problem.replace('reference table: ', '')}")
                elif check_files and ref.mask is not None and not os.path.isfile(ref.mask):
                    errors.append(f"reference {i}: mask file not found: {ref.mask}")
            if self.references and all(r.weight == 0 for r in self.references):
                errors.append("references: weights are all zero (at least one must be positive)")
        if self.kind in KINDS_WITH_CONTENT:
            what = {"stylize": "content image", "seamless": "image to make seamless", "pbr": "albedo image",
                    "heal": "image to heal"}
            if self.content is None or not self.content.strip():
                errors.append(f"content: {self.kind} needs the {what[self.kind]}")
            elif check_files and not os.path.isfile(self.content):
                errors.append(f"content: file not found: {self.content}")
        if self.kind == "heal":
            if self.mask is None or not self.mask.strip():
                errors.append("mask: heal needs the mask image (white = fill)")
            elif check_files and not os.path.isfile(self.mask):
                errors.append(f"mask: file not found: {self.mask}")
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
        """Plain dict of JSON types (references become ``{"path", "weight"}`` dicts, with the
        preparation keys only where a step is asked for)."""
        d = dataclasses.asdict(self)
        d["references"] = [{**r.preparation(), "weight": r.weight} if isinstance(r, ReferenceSpec) else r
                           for r in self.references]
        return d

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
        allowed = {"weight", *REFERENCE_KEYS}
        if isinstance(refs, list):
            parsed: list[Any] = []
            for i, r in enumerate(refs, start=1):
                if isinstance(r, ReferenceSpec):
                    parsed.append(r)
                elif not isinstance(r, dict):
                    errors.append(f"reference {i}: must be an object with 'path' and 'weight', got {_type_name(r)}")
                elif set(r) - allowed or "path" not in r:
                    extra = sorted(set(r) - allowed)
                    errors.append(f"reference {i}: " + (f"unknown field(s) {', '.join(map(repr, extra))}"
                                                        if extra else "'path' is missing"))
                else:
                    parsed.append(ReferenceSpec(**r))
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

_FLOAT_FIELDS = ("detail_scale", "strength", "band", "height_detail", "height_contrast", "normal_strength")
_EXPECTED: dict[str, tuple[type, ...] | str] = {
    "kind": (str,), "content": "optional str", "output_dir": (str,), "name": (str,),
    "width": (int,), "height": (int,), "seed": (int,), "tile": (str,), "detail_scale": (float, int),
    "quality": (str,), "method": (str,), "device": (str,), "vgg_weights": "optional str",
    "strength": (float, int), "preserve_colors": (bool,), "band": (float, int),
    "flatten": (bool,), "cnn_loss": (str,), "from_photo": (bool,), "height_detail": (float, int),
    "height_contrast": (float, int), "invert_height": (bool,), "normal_strength": (float, int),
    "normal_convention": (str,),
    "mask": "optional str",
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
            if not isinstance(ref.flatten, bool):
                errors.append(f"reference {i}: flatten must be true or false, got {_type_name(ref.flatten)}")
            for name in ("size", "mask"):
                if getattr(ref, name) is not None and not isinstance(getattr(ref, name), str):
                    errors.append(f"reference {i}: {name} must be a string or null, got {_type_name(getattr(ref, name))}")
    if not isinstance(spec.maps, list) or not all(isinstance(m, str) for m in spec.maps):
        errors.append(f"maps: must be a list of map names, got {spec.maps!r}")
    if not isinstance(spec.material, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in spec.material.items()):
        errors.append(f"material: must be an object of map name -> file path, got {spec.material!r}")
    if not isinstance(spec.file_names, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in spec.file_names.items()):
        errors.append(f"file_names: must be an object of map name -> file name, got {spec.file_names!r}")
    if not isinstance(spec.roughness_range, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec.roughness_range):
        errors.append(f"roughness_range: must be a list of two numbers, got {spec.roughness_range!r}")
    return errors


def _check_choice(errors: list[str], name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        errors.append(f"{name}: {value!r} is not one of {', '.join(choices)}")


def _check_range(errors: list[str], name: str, value: float, lo: float, hi: float) -> None:
    if not (math.isfinite(value) and lo <= value <= hi):
        errors.append(f"{name}: {value} out of range ({lo:g}…{hi:g})")


__all__ = ["JobSpec", "ReferenceSpec", "SpecError", "KINDS", "MAP_NAMES", "MIN_SIZE", "MAX_SIZE", "TILE_MODES",
           "QUALITIES", "METHODS", "DEVICES", "KIND_FIELDS", "KIND_TILE_MODES", "KIND_METHODS",
           "KINDS_OF_CONTENT_SIZE", "COMMON_FIELDS", "kind_fields",
           "light_angle_problem"]
