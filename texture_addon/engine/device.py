"""Choosing where the engine runs and how many CPU threads it may use."""

from __future__ import annotations

import os

import torch

from ..errors import InputError

DEVICES = ("auto", "cpu", "cuda", "mps")


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


def configure_threads() -> None:
    """Use every core the process may run on (cgroup/affinity aware), once.

    torch's default can exceed the cores we are given in containers, which makes a 2-core machine
    thrash; it can also be lowered by an embedding host, which we respect via TEXTURE_FORGE_THREADS.
    """
    wanted = os.environ.get("TEXTURE_FORGE_THREADS")
    try:
        n = int(wanted) if wanted else len(os.sched_getaffinity(0))
    except (AttributeError, ValueError):
        n = os.cpu_count() or 1
    if n > 0 and torch.get_num_threads() != n:
        torch.set_num_threads(n)
