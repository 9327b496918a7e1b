"""Choosing where the engine runs and how many CPU threads it may use."""

from __future__ import annotations

import os

import torch

from ..contract.vocabulary import DEVICES
from ..errors import InputError


def resolve_device(name: str = "auto") -> torch.device:
    """Map the user's choice to a torch device; asking for an absent accelerator is an input error.

    ``auto`` prefers CUDA, then Apple's MPS, then the CPU, so the same preset works everywhere.
    """
    name = (name or "auto").lower()
    if name not in DEVICES:
        raise InputError(f"unknown device {name!r} (choose from {', '.join(DEVICES)})")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but this torch build sees no CUDA GPU (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("device 'mps' requested but Apple Metal is not available here (use --device cpu or auto)")
    return torch.device(name)


#: Below this many pixels a pyramid level runs on one thread (see :func:`threads_for_level`).
SMALL_LEVEL_PIXELS = 100_000


def available_threads() -> int:
    """Every core the process may run on (cgroup/affinity aware), or TEXTURE_FORGE_THREADS."""
    wanted = os.environ.get("TEXTURE_FORGE_THREADS")
    try:
        n = int(wanted) if wanted else len(os.sched_getaffinity(0))
    except (AttributeError, ValueError):
        n = os.cpu_count() or 1
    return max(1, n)


def configure_threads() -> None:
    """Use every core the process may run on, once.

    torch's default can exceed the cores we are given in containers, which makes a 2-core machine
    thrash; it can also be lowered by an embedding host, which we respect via TEXTURE_FORGE_THREADS.
    """
    n = available_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def threads_for_level(pixels: int, device: torch.device) -> int:
    """One thread for small CPU levels, all of them for large ones.

    With OMP_WAIT_POLICY=PASSIVE (needed so a busy neighbour process does not stall us) every
    parallel region pays a wake-up of the sleeping threads, and a small level is thousands of tiny
    regions. Measured on 2 cores, 256² default (statistics method, before the short spin set in
    ``engine/__init__``): 4.5 s on two threads, 3.8 s on one; 512² levels and up gain from the
    second thread.
    """
    if device.type != "cpu" or pixels >= SMALL_LEVEL_PIXELS:
        return available_threads()
    return 1
