"""The synthesis engine: pure torch + numpy, never bpy.

Images go in and come out as float32 numpy arrays (H, W, C) in [0, 1]; everything between is torch.
Public entry points are re-exported here so callers (CLI, worker, benchmark) need one import.
"""

from ..errors import Cancelled, InputError
from .metrics import noise_like, patch_distance, seam_score
from .progress import CancelToken, ProgressCallback, ProgressInfo
from .synthesize import synthesize

__all__ = [
    "synthesize",
    "seam_score",
    "patch_distance",
    "noise_like",
    "CancelToken",
    "ProgressInfo",
    "ProgressCallback",
    "Cancelled",
    "InputError",
]
