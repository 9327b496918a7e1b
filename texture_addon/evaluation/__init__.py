"""Judging textures from the outside: figures the engine never optimises.

The engine must not import this package. A figure that the optimiser also minimises says how well
the optimiser did its job, not how the texture looks; these figures are for the benchmark and
for tests that guard what a person sees.
"""

from .structure import StructureJudge, StructureScore, soft_share, structure_score

__all__ = ["StructureJudge", "StructureScore", "soft_share", "structure_score"]
