"""The Blender side of the engine pipe: runs inside Blender's own process. Standard library only.

Nothing here may import numpy, PIL or torch (``scripts/build_extension.py`` checks it): Debian's
Blender has no numpy, and torch must never load into Blender.
"""
