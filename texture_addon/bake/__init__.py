"""Headless baking: what the panel does, on many materials, unattended (``scripts/bake.py``).

The modules, in the order a bake goes through them:

* :mod:`.command` — the command line, the checks made before anything runs, and the JSON summary;
* :mod:`.manifest` — a manifest's entries and the overrides written onto each material;
  :mod:`.variants` — an entry's ``seeds``/``sizes`` as one material per variant;
* :mod:`.batch` — baking on this machine, in one or several engine processes;
* :mod:`.farm` — the same on a Dask cluster, whose workers run :mod:`.dask_bake` (no bpy there);
* :mod:`.preview` — each material rendered on a sphere and a plane;
* :mod:`.asset_library` — the baked materials as assets in a library .blend.

``texture_addon/blender/`` keeps the interactive add-on (panel, operators, node wiring), which
these modules reuse; nothing there imports this package.
"""


class UsageError(Exception):
    """A bad command line or manifest: exit 2 with a one-line message."""
