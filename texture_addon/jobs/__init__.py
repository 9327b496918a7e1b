"""One job path: a validated :class:`~texture_addon.contract.spec.JobSpec` → the engine call for
its kind (:mod:`.adapters`, on a typed :class:`~.engine_api.Engine`) → its files, written whole or
not at all through :mod:`texture_addon.files` (:mod:`.run`).

Imports numpy and the engine: only engine-side code imports this package, never Blender.
"""
