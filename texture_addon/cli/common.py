"""Argument types and the progress display shared by the CLI subcommands."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from ..contract.spec import MAX_SEED, MAX_SIZE, MIN_SIZE
from ..engine.progress import ProgressInfo
from ..errors import InputError


def size_arg(text: str) -> int:
    """A texture side in pixels, 64…4096 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be a whole number of pixels, got {text!r}") from None
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"size {value} out of range ({MIN_SIZE}…{MAX_SIZE})")
    return value


def seed_arg(text: str) -> int:
    """A seed, 0…2³²−1 (argparse type): a larger one would wrap around to another seed's bytes."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"seed {value} out of range (0…{MAX_SEED})")
    return value


def parse_weights(text: str | None, count: int, what: str = "reference") -> list[float]:
    """Comma-separated non-negative weights, one per reference; default all 1."""
    if text is None:
        return [1.0] * count
    try:
        weights = [float(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise InputError(f"--weights must be comma-separated numbers, got {text!r}") from None
    if len(weights) != count:
        raise InputError(f"--weights has {len(weights)} value(s) but there are {count} {what}(s)")
    if any(w < 0 or w != w for w in weights) or sum(weights) <= 0:
        raise InputError("--weights must be non-negative and not all zero")
    return weights


class ProgressPrinter:
    """A one-line progress bar on a terminal, plain throttled lines otherwise (logs, pipes, CI)."""

    def __init__(self, stream: TextIO = sys.stderr, interval: float = 1.0) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = interval
        self.start = time.monotonic()
        self._last = -1e9

    def __call__(self, info: ProgressInfo) -> None:
        now = time.monotonic()
        done = info.step >= info.total_steps
        if not done and now - self._last < (0.1 if self.tty else self.interval):
            return
        self._last = now
        frac = info.step / max(1, info.total_steps)
        elapsed = now - self.start
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        text = (f"{info.stage} level {info.level}/{info.levels} step {info.step}/{info.total_steps} "
                f"loss {info.loss:.4g} eta {eta:.0f}s")
        if self.tty:
            width = 24
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            self.stream.write(f"\r[{bar}] {frac * 100:5.1f}% {text}\033[K")
            if done:
                self.stream.write("\n")
        else:
            self.stream.write(f"{frac * 100:5.1f}% {text}\n")
        self.stream.flush()
