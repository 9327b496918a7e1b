"""Importing torch at the cost of what the engine uses, once per process (CLI, worker, bake).

Every CLI run and every worker pays torch's import before its first pixel, and at 256² that
import was over half of the whole process (2 cores: ~2.0 s of ~3.1–3.6 s). Two things in it are
pure overhead for an engine that runs eager CPU/CUDA kernels and autograd:

* **The tracing and compilation machinery.** ``import torch`` executes ``torch._meta_registrations``
  (Python shape functions for fake and meta tensors, with the decompositions they use) and
  ``torch.export``: code for ``torch.compile`` and export. Eager kernels are C++ and autograd's
  formulas are C++; none of this code runs when the engine synthesises (checked: every mode's
  outputs are byte-identical with and without it, and the test suite passes with it unloaded).
  These two modules are therefore imported *deferred*: the module object exists at once, with its
  name, file, spec and path, and its code runs the first time anything asks it for an attribute it
  does not have yet — so ``torch.export`` still works if something ever uses it, paid for then.
  One side effect on that path is needed by eager code: ``torch._prims.rng_prims`` gives
  ``torch.Generator`` its metaclass (without it ``torch.Generator()`` raises), so it is imported
  explicitly. Whole CLI process at 256², interleaved on the 2-core machine: 3.60 → 3.02 s median
  of 8 (paired ratio 0.87). What is lost outright is only what ``_meta_registrations`` registers
  as a side effect: Python meta kernels for operators on the ``meta`` device and under fake
  tensors, which the engine never uses. Deferral stays within processes the engine owns: inside
  Blender (``bpy`` imported) torch is imported whole, because there it is shared with whatever
  else the artist runs. ``TEXTURE_FORGE_FULL_TORCH_IMPORT=1`` imports it whole anywhere (a
  diagnosis switch, should a future torch need more of it).
* **The garbage collector walking the import.** Importing torch creates a few hundred thousand
  objects that live as long as the process, and the collector walks them again and again while
  they appear (350 young and 2 full collections on the way); none of it is garbage. Paused, the
  import takes ~6 % less CPU. Pausing alone only postpones the walk: every object of the import
  is then young, and the first young (0.12 s) and middle-generation (0.15 s) collections after it
  walk them all during the first synthesis. ``gc.freeze()`` moves them to the permanent
  generation, which no collection walks. The price is that cyclic garbage alive at that moment
  (the import's own, ~7 000 objects) is never freed — once per process, well under a megabyte.
  The collector's on/off state is restored, so Blender's process keeps its own.

Once torch is in ``sys.modules`` none of this runs again: whoever imported it first decided.
"""

from __future__ import annotations

import gc
import importlib.abc
import os
import sys
import threading
import types

#: Imported deferred in our own processes: torch's tracing/compilation machinery (see above).
DEFERRED_MODULES = frozenset({"torch._meta_registrations", "torch.export"})
FULL_IMPORT_ENV = "TEXTURE_FORGE_FULL_TORCH_IMPORT"

_LOAD_LOCK = threading.RLock()


def import_torch() -> None:
    """Import torch once for this process: deferred machinery where the process is ours, no GC walk."""
    if "torch" in sys.modules:
        return
    finder = _DeferringFinder(DEFERRED_MODULES) if _may_defer() else None
    enabled = gc.isenabled()
    gc.disable()
    if finder is not None:
        sys.meta_path.insert(0, finder)
    try:
        import torch  # noqa: F401

        if finder is not None:
            # torch.Generator gets its metaclass set by this module's import (a side effect
            # that torch.__init__ reaches through _meta_registrations → _decomp → _prims).
            import torch._prims.rng_prims  # noqa: F401
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
        gc.freeze()
        if enabled:
            gc.enable()


def _may_defer() -> bool:
    if os.environ.get(FULL_IMPORT_ENV, "").strip() not in ("", "0"):
        return False
    return "bpy" not in sys.modules


def deferred_and_not_loaded() -> list[str]:
    """Names of deferred modules whose code has not run (yet) in this process; for tests and logs."""
    return sorted(name for name, module in list(sys.modules.items())
                  if isinstance(module, types.ModuleType)
                  and getattr(module.__dict__.get("__getattr__"), "_texture_forge_deferred", False))


def load_deferred() -> None:
    """Run every deferred module's code now: for code that needs torch's meta kernels (the ``meta``
    device, fake tensors, ``torch.compile``), which nothing in the engine does."""
    for name in deferred_and_not_loaded():
        hook = sys.modules[name].__dict__.get("__getattr__")
        if hook is not None:
            hook("__name__")


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds the named modules through the other finders and hands them a deferring loader."""

    def __init__(self, names: frozenset[str]):
        self._names = names

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 - importlib's signature
        if fullname not in self._names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _DeferredLoader(spec.loader)
                return spec
        return None


class _DeferredLoader(importlib.abc.Loader):
    """Creates the module now (name, file, spec, path: what ``inspect`` and importers look at) and
    runs its code on the first missing-attribute lookup, through a module ``__getattr__`` (PEP 562).

    Attributes set in the module's dictionary (its dunders, submodules imported into it) answer
    without loading, which is what keeps ``inspect.getmodule``'s walk over ``sys.modules`` from
    loading everything; anything the module defines is missing until its code has run.
    """

    def __init__(self, real: importlib.abc.Loader):
        self._real = real

    def create_module(self, spec):  # noqa: ANN001
        return self._real.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        real = self._real
        state = {"started": False}

        def __getattr__(name: str):  # noqa: N807 - the PEP 562 hook
            namespace = module.__dict__
            # Other threads wait here until the code has run; the loading thread itself, asking
            # for a name its module has not defined yet, gets the usual AttributeError.
            with _LOAD_LOCK:
                if not state["started"]:
                    state["started"] = True
                    namespace["__loader__"] = real
                    if module.__spec__ is not None:
                        module.__spec__.loader = real
                    try:
                        real.exec_module(module)
                    finally:
                        if namespace.get("__getattr__") is __getattr__:
                            del namespace["__getattr__"]
            try:
                return namespace[name]
            except KeyError:
                hook = namespace.get("__getattr__")
                if hook is not None and hook is not __getattr__:
                    return hook(name)
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}") from None

        __getattr__._texture_forge_deferred = True
        module.__getattr__ = __getattr__

    def __getattr__(self, name: str):
        # get_source, get_filename, is_package, resource readers: the real loader's.
        return getattr(self._real, name)
