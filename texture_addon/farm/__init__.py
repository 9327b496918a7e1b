"""Baking beyond one machine: tasks for a Dask cluster and manifest variants.

Nothing here imports bpy: the Dask task runs on worker machines that have only the engine
(torch, numpy, pillow and this package). The Blender side that builds the tasks from materials and
wires the results in lives in :mod:`texture_addon.blender.farm_bake`.
"""
