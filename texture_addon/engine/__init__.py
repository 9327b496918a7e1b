"""The synthesis engine: pure torch + numpy, never bpy.

Images go in and come out as float32 numpy arrays (H, W, C) in [0, 1]; everything between is torch.
Public entry points are re-exported here so callers (CLI, worker, benchmark) need one import.

``OMP_WAIT_POLICY=PASSIVE`` is set before torch loads: with OpenMP's default spin-waiting, one busy
neighbour process (Blender rendering, a second job, a test runner) makes torch's thread pool 50×
slower on small tensors; passive waiting costs a few percent when the machine is idle. It only
takes effect if torch has not been imported yet, which is why the worker and CLI import us first.
"""

import os as _os

_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .allocator import keep_freed_memory as _keep_freed_memory

_keep_freed_memory()

from ..errors import Cancelled, InputError
from .metrics import noise_like, patch_distance, seam_rank, seam_score
from .progress import CancelToken, ProgressCallback, ProgressInfo
from .synthesize import synthesize
from .stylize import stylize
from .seamless import make_seamless
from .pbr import derive_maps
from .material import synthesize_material

__all__ = [
    "synthesize",
    "seam_score",
    "seam_rank",
    "patch_distance",
    "noise_like",
    "CancelToken",
    "ProgressInfo",
    "ProgressCallback",
    "Cancelled",
    "InputError",
    "stylize",
    "make_seamless",
    "derive_maps",
    "synthesize_material",
]
