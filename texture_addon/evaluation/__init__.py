"""Judging textures from the outside: figures the engine never optimises.

The engine must not import this package. A figure that the optimiser also minimises says how well
the optimiser did its job, not how the texture looks; these figures are for the benchmark and
for tests that guard what a person sees.

- ``structure``: large-patch nearest neighbours output → reference (needs torch);
- ``large_scale``: order at a distance (autocorrelation by lag band; numpy only);
- ``processes``: procedural surfaces drawn at any size, the truth for large outputs (numpy only).

The structure names below load on first use, so the numpy-only modules import without torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["StructureJudge", "StructureScore", "soft_share", "structure_score"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module(".structure", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
