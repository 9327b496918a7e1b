"""Reference images in and finished textures out: the edges of the pipeline.

Everything here speaks numpy float32 arrays in [0, 1], shape (H, W, C), top row first. It never
imports torch or bpy, so the CLI, the worker and the tests share one loader and one writer.
"""

from .load import load_image, load_rgb, load_gray
from .save import save_png, atomic_output
from .maps import MAP_NAMES, write_maps

__all__ = ["load_image", "load_rgb", "load_gray", "save_png", "atomic_output", "MAP_NAMES", "write_maps"]
