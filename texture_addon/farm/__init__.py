"""The old home of the Dask task and the manifest variants, now in :mod:`texture_addon.bake`.

``texture_addon.farm.dask_bake`` and ``texture_addon.farm.variants`` stay importable (as the same
module objects as ``texture_addon.bake.dask_bake`` and ``.variants``) for farms whose submitting
side or worker scripts name the old paths; new code imports :mod:`texture_addon.bake`.
"""
