"""The synthesis engine: pure torch + numpy, never bpy.

Images go in and come out as float32 numpy arrays (H, W, C) in [0, 1]; everything between is torch.
Public entry points are re-exported here so callers (CLI, worker, benchmark) need one import.

OpenMP's waiting is set before torch loads. With its default spin-waiting, one busy neighbour
process (Blender rendering, a second job, a test runner) makes torch's thread pool 50× slower on
small tensors, so ``OMP_WAIT_POLICY=PASSIVE``. Purely passive threads, though, are put to sleep
after every parallel region and woken for the next, and an EM iteration is hundreds of short
regions: 256² default synthesis took 1.1–1.2 s instead of 0.7 s on an idle 2-core machine. A
short spin first (``GOMP_SPINCOUNT`` 10 000, GNU OpenMP, which torch's Linux wheels use) keeps
the 0.7 s when idle and costs 1.7 s instead of 1.2–1.3 s with two CPU-bound neighbours on the two
cores (full spinning: 4–7 s). Both only take effect if torch has not been imported yet, which is
why the worker and CLI import us first; a value already in the environment wins.
"""

import os as _os

_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from .allocator import keep_freed_memory as _keep_freed_memory

_keep_freed_memory()

# Torch without its compile/export machinery and without the collector walking its import
# (engine/torch_import.py): ~0.8 s off every CLI run and worker start on 2 cores.
from .torch_import import import_torch as _import_torch  # noqa: E402

_import_torch()

from ..errors import Cancelled, InputError
from .metrics import noise_like, patch_distance, seam_rank, seam_score
from .progress import CancelToken, ProgressCallback, ProgressInfo
from .synthesize import synthesize
from .stylize import stylize
from .seamless import make_seamless
from .pbr import derive_maps
from .material import synthesize_material
from .heal import heal

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
    "heal",
]
