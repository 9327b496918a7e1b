"""What a job needs from the engine, typed: the six functions the kinds call, and how to get them.

:func:`load_engine` imports ``texture_addon.engine`` once and checks, before minutes of synthesis
rather than after, that this build has every function the job needs; the adapters then call a
typed :class:`Engine` (a test passes a recording stand-in with the same functions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence, cast

from ..contract.spec import JobSpec
from ..errors import TextureForgeError

if TYPE_CHECKING:
    import numpy as np


class Engine(Protocol):
    """The engine functions the job kinds call (``texture_addon.engine`` provides them all)."""

    def synthesize(self, references: Sequence[np.ndarray], weights: Sequence[float], **options: Any) -> np.ndarray: ...

    def stylize(self, content: np.ndarray, styles: Sequence[np.ndarray], weights: Sequence[float],
                **options: Any) -> np.ndarray: ...

    def make_seamless(self, image: np.ndarray, **options: Any) -> np.ndarray: ...

    def derive_maps(self, image: np.ndarray, **options: Any) -> Mapping[str, np.ndarray]: ...

    def synthesize_material(self, maps: Mapping[str, np.ndarray], **options: Any) -> Mapping[str, np.ndarray]: ...

    def heal(self, image: np.ndarray, mask: np.ndarray, **options: Any) -> np.ndarray: ...


#: The engine function each kind calls (besides ``derive_maps`` for maps other than basecolor),
#: and how an error names it.
KIND_FUNCTIONS = {"synth": ("synthesize", "texture synthesis (kind 'synth')"),
                  "stylize": ("stylize", "style transfer (kind 'stylize')"),
                  "seamless": ("make_seamless", "making an image seamless (kind 'seamless')"),
                  "pbr": ("derive_maps", "deriving PBR maps (kind 'pbr')"),
                  "material": ("synthesize_material", "material synthesis (kind 'material')"),
                  "heal": ("heal", "healing an image (kind 'heal')")}


def load_engine(spec: JobSpec) -> Engine:
    """The engine, imported on first use (torch is heavy; the worker pays it once, at start),
    checked to have every function ``spec`` needs."""
    try:
        from .. import engine
    except ImportError as exc:
        raise TextureForgeError(f"the texture engine is not available in this build ({exc})") from exc
    name, what = KIND_FUNCTIONS[spec.kind]
    require(engine, name, what)
    if spec.kind in ("synth", "stylize", "seamless") and any(m != "basecolor" for m in spec.maps):
        extra = ", ".join(m for m in spec.maps if m != "basecolor")
        require(engine, "derive_maps", f"maps other than basecolor ({extra})")
    return cast(Engine, engine)


def require(engine: object, name: str, what: str) -> None:
    """A clear error when this build of the engine lacks ``name``."""
    if not callable(getattr(engine, name, None)):
        raise TextureForgeError(f"{what} is not available in this build (texture_addon.engine has no {name})")


__all__ = ["Engine", "KIND_FUNCTIONS", "load_engine", "require"]
