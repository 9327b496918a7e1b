"""The contract between Blender, the engine process, the CLI and the bake script. Stdlib only.

Everything both sides of the process boundary must agree on lives here, once: job kinds, map
names, devices, size and parameter ranges (:mod:`.spec`), the wire format and exit codes
(:mod:`.protocol`). Blender imports this package into its own process, so it must never import
numpy, PIL or torch; the engine process imports it too, so neither side can drift from the other.
"""

from .spec import JobSpec, ReferenceSpec, SpecError

__all__ = ["JobSpec", "ReferenceSpec", "SpecError"]
