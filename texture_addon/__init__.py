"""Texture Forge: seamless, tileable material textures from reference images.

The package reads in the direction data flows:

- ``references/`` — reference images in (any bit depth, alpha, greyscale), textures out (atomic PNGs);
- ``engine/``     — the torch synthesis engine (never imports bpy);
- ``worker/``     — the background process that runs the engine for Blender, and its client;
- ``blender/``    — the Blender glue: settings on materials, panels, operators, node wiring.

``cli/`` is the plain command line (``python -m texture_addon``). This file imports nothing heavy:
Blender imports it, and torch must never load inside Blender's own process.
"""

__version__ = "0.1.0"
