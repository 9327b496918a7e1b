"""numpy, imported on first use, so the add-on registers in a Blender whose Python lacks it.

Debian's (and some other distributions') Blender uses the system Python, which has numpy only when
``python3-numpy`` is installed. Importing numpy at register time made the whole add-on fail with
``No module named 'numpy'``; now the panel and the preferences work, and the first operation that
moves pixels raises :class:`NumpyMissing` whose text says what to install. ``np`` behaves like the
numpy module for attribute access (``np.zeros``, ``np.float32``, …).
"""

from __future__ import annotations

from ..errors import TextureForgeError
from ..install_hints import numpy_missing_message

__all__ = ["np", "available", "NumpyMissing", "numpy_missing_message"]


class NumpyMissing(TextureForgeError):
    """Blender's Python has no numpy; the message says how to get it."""


def available() -> bool:
    """True when numpy can be imported (checked once per call; cheap after the first import)."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


class _LazyNumpy:
    __slots__ = ()

    def __getattr__(self, name: str):
        try:
            import numpy
        except ImportError:
            raise NumpyMissing(numpy_missing_message()) from None
        return getattr(numpy, name)


np = _LazyNumpy()

