"""Running the engine outside Blender's process.

Blender must never freeze and must never import torch, so every job runs in a separate Python
process (``python -m texture_addon.worker``) that Blender talks to through JSON lines on a pipe.
This package holds both ends: the stdlib-only :mod:`.spec` and :mod:`.client` (imported by
Blender) and the worker side (:mod:`.server`, :mod:`.run`), which imports numpy and torch lazily.
"""

from .spec import JobSpec, ReferenceSpec, SpecError

__all__ = ["JobSpec", "ReferenceSpec", "SpecError"]
