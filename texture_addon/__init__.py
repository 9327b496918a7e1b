"""Texture Forge: seamless, tileable material textures from reference images.

The package reads in the direction data flows:

- ``references/`` — reference images in (any bit depth, alpha, greyscale), textures out (atomic PNGs);
- ``engine/``     — the torch synthesis engine (never imports bpy);
- ``contract/``   — what both sides of the engine pipe agree on: job kinds, maps, ranges, messages
  (standard library only);
- ``worker/``     — the engine process for Blender: ``worker/blender_side/`` runs inside Blender
  (spawns it, sends jobs), ``worker/engine_side/`` runs in the engine process (receives them);
- ``jobs/``       — one job spec → the engine call for its kind → its files (the engine process
  and the farm's workers both run jobs through it);
- ``blender/``    — the Blender glue: settings on materials, panels, operators, node wiring;
- ``bake/``       — headless baking (``scripts/bake.py``): manifests, local, parallel and Dask
  baking, preview sheets, asset libraries.

``cli/`` is the plain command line (``python -m texture_addon``); ``files.py`` writes every file. This file imports nothing heavy:
Blender imports it, and torch must never load inside Blender's own process.
"""

__version__ = "0.1.0"
