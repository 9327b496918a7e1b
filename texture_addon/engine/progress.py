"""Progress reporting and cancellation: the engine's only conversation with its caller.

The engine runs for seconds to minutes; the caller (CLI, worker, tests) needs to show progress and to
stop it. A callback and a token keep the engine free of any notion of processes, pipes or UIs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..errors import Cancelled


@dataclass(frozen=True)
class ProgressInfo:
    """One optimisation step.

    ``step`` counts steps over all levels (1-based) out of ``total_steps``, so ``step/total_steps``
    is a fair progress fraction. ``preview`` is a small float32 RGB (h, w, 3) image in [0, 1],
    present only on steps where the engine chose to render one (a few per level). ``level_end``
    marks a level's last step, so a caller that throttles its updates still shows every level
    finishing, however fast the engine runs.
    """

    stage: str
    level: int
    levels: int
    step: int
    total_steps: int
    loss: float
    preview: Optional[np.ndarray] = None
    level_end: bool = False


ProgressCallback = Callable[[ProgressInfo], None]


class CancelToken:
    """Thread-safe flag checked by the engine after every step.

    A worker sets it from its stdin-reading thread; a test sets it from the progress callback.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


__all__ = ["ProgressInfo", "ProgressCallback", "CancelToken", "Cancelled"]
