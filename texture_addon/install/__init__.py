"""Installing the engine's private Python environment (torch, numpy, pillow). Standard library only.

Blender's add-on drives this from its preferences (:mod:`texture_addon.blender.engine_install`),
but nothing here imports bpy, so the steps, messages and failure handling are tested with plain
Python: a virtual environment made from the Python that runs Blender, pip in a subprocess, a probe
that imports torch in the new environment, then an atomic switch of the ``current.json`` pointer.
"""

from .engine_dir import EngineDir, default_user_root
from .installer import InstallCancelled, InstallError, Installer, Progress
from .pins import BUILDS, ENGINE_REQUIREMENTS, TORCH_VERSION, download_estimate
from .probe import describe_probe, run_probe

__all__ = ["EngineDir", "default_user_root", "Installer", "InstallError", "InstallCancelled", "Progress",
           "BUILDS", "ENGINE_REQUIREMENTS", "TORCH_VERSION", "download_estimate", "describe_probe", "run_probe"]
