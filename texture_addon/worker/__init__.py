"""Running the engine outside Blender's process, split by the side of the pipe a file runs on.

Blender must never freeze and must never import torch, so every job runs in a separate Python
process (``python -m texture_addon.worker``) that Blender talks to through JSON lines on a pipe:

- ``blender_side/`` runs **inside Blender's process** (and in scripts that drive the engine):
  standard library only. It spawns the engine process, sends jobs and collects messages.
- ``engine_side/`` runs **inside the engine process**: it reads commands and runs each job through
  :mod:`texture_addon.jobs` (the engine call and the maps written). It may import numpy and torch
  (lazily).

What both sides agree on (job spec, message names, ranges) lives in :mod:`texture_addon.contract`.
This file imports nothing, so importing either side never drags in the other.
"""
