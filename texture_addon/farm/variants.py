"""Old path of :mod:`texture_addon.bake.variants`, kept for farms that name it: the same module."""

import sys

from ..bake import variants

sys.modules[__name__] = variants
