"""Manifest variants: one manifest entry asking for several seeds and/or sizes.

An entry such as ``{"name": "Bricks", "seeds": [1, 2], "sizes": [1024, 2048]}`` becomes one
material per combination, each baked as its own task into its own output set, so a library can
offer several takes of a texture without the manifest repeating itself. The variant's name says
what it is (see :func:`variant_name`); it is also the material's name in the .blend, the output
folder's name and the prefix of its files.
"""

from __future__ import annotations

from itertools import product
from typing import Any

from ..contract.vocabulary import MAX_SIZE, MIN_SIZE


class VariantError(ValueError):
    """A malformed ``seeds``/``sizes`` list (reported as a usage error, one line)."""


def variant_name(base: str, seed: int | None, size: tuple[int, int] | None) -> str:
    """``Bricks_seed2``, ``Bricks_1024px``, ``Bricks_2048x1024px`` or ``Bricks_seed2_1024px``."""
    parts = [base]
    if seed is not None:
        parts.append(f"seed{seed}")
    if size is not None:
        w, h = size
        parts.append(f"{w}px" if w == h else f"{w}x{h}px")
    return "_".join(parts)


def _parse_size(value: Any, where: str) -> tuple[int, int]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        w, h = value
    elif isinstance(value, int) and not isinstance(value, bool):
        w = h = value
    elif isinstance(value, str):
        try:
            nums = [int(p) for p in value.lower().replace("×", "x").split("x")]
        except ValueError:
            raise VariantError(f"{where}: invalid size {value!r}; use e.g. 1024 or \"2048x1024\"") from None
        if len(nums) == 1:
            nums *= 2
        if len(nums) != 2:
            raise VariantError(f"{where}: invalid size {value!r}; use e.g. 1024 or \"2048x1024\"")
        w, h = nums
    else:
        raise VariantError(f"{where}: invalid size {value!r}; use e.g. 1024 or \"2048x1024\"")
    if not all(isinstance(v, int) and not isinstance(v, bool) and MIN_SIZE <= v <= MAX_SIZE
               for v in (w, h)):
        raise VariantError(f"{where}: invalid size {value!r}; each side must be {MIN_SIZE}-{MAX_SIZE}")
    return int(w), int(h)


def _list(entry: dict, key: str, where: str) -> list | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise VariantError(f"{where}: '{key}' must be a non-empty list")
    if len(set(map(repr, value))) != len(value):
        raise VariantError(f"{where}: '{key}' lists a value more than once")
    return value


def expand_variants(entries: list[dict]) -> list[dict]:
    """Each entry with ``seeds`` and/or ``sizes`` replaced by one entry per combination.

    Variant entries keep every other setting of their entry, get ``seed``/``size`` set, their
    ``name`` from :func:`variant_name` and ``variant_of`` = the entry's name. Entries without
    variants pass through unchanged. Raises :class:`VariantError` for malformed lists or when two
    entries would end up with the same name.
    """
    out: list[dict] = []
    for entry in entries:
        where = f"material '{entry.get('name')}'"
        seeds = _list(entry, "seeds", where)
        sizes = _list(entry, "sizes", where)
        if seeds is None and sizes is None:
            out.append(entry)
            continue
        for s in seeds or []:
            if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s <= 2**32 - 1:
                raise VariantError(f"{where}: seed {s!r} must be a whole number 0…{2**32 - 1}")
        parsed_sizes = [_parse_size(v, where) for v in sizes] if sizes is not None else None
        base = {k: v for k, v in entry.items() if k not in ("seeds", "sizes")}
        for seed, size in product(seeds or [None], parsed_sizes or [None]):
            variant = dict(base)
            if seed is not None:
                variant["seed"] = seed
            if size is not None:
                variant["size"] = size
            variant["name"] = variant_name(str(entry["name"]), seed, size)
            variant["variant_of"] = entry["name"]
            out.append(variant)
    names = [e["name"] for e in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise VariantError(f"materials named more than once after expanding variants: {', '.join(dupes)}")
    return out
