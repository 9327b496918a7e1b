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


def _import_torch_without_collecting() -> None:
    """Import torch with the cyclic garbage collector paused, then freeze what it built.

    Importing torch creates a few hundred thousand objects that live as long as the process, and
    the collector walks them again and again while they appear (350 young and 2 full collections
    on the way); none of it is garbage. Paused, the import takes ~6 % less CPU (2 cores: 2.34 →
    2.21 s median of 12), which the CLI and the worker pay on every start.

    Pausing alone only postpones the walk: every object of the import is then young, and the
    first young collection after it (0.12 s) and the middle-generation one that follows (0.15 s)
    walk them all during the first synthesis. ``gc.freeze()`` moves them to the permanent
    generation, which no collection walks, so that quarter second is gone from every start. The
    price is that cyclic garbage alive at that moment (the import's own, ~7 000 objects) is never
    freed — once per process, well under a megabyte. The collector's on/off state is restored, so
    Blender's process, importing this for a bake, keeps its own.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        import torch  # noqa: F401
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


_import_torch_without_collecting()

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
