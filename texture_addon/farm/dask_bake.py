"""Old path of :mod:`texture_addon.bake.dask_bake`, kept for farms that name it: the same module."""

import sys

from ..bake import dask_bake

sys.modules[__name__] = dask_bake
