"""Argument types and the progress display shared by the CLI subcommands."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, TextIO

from ..contract.vocabulary import MAX_DETAIL, MAX_SEED, MAX_SIZE, MIN_DETAIL, MIN_SIZE
from ..errors import InputError

if TYPE_CHECKING:  # the engine (and torch) load only once a command has its inputs checked
    from ..engine.progress import ProgressInfo


def size_arg(text: str) -> int:
    """A texture side in pixels, MIN_SIZE…MAX_SIZE (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be a whole number of pixels, got {text!r}") from None
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"size {value} out of range ({MIN_SIZE}…{MAX_SIZE})")
    return value


def detail_arg(text: str) -> float:
    """A detail scale within the contract's range (argparse type): the CLI refuses what a job would."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"detail scale must be a number, got {text!r}") from None
    if not MIN_DETAIL <= value <= MAX_DETAIL:  # also refuses nan
        raise argparse.ArgumentTypeError(f"detail scale {value:g} out of range ({MIN_DETAIL:g}…{MAX_DETAIL:g})")
    return value


def tiling(args: argparse.Namespace) -> str:
    """The tile mode ``--tile`` and ``--no-tile`` ask for together (synth and synth --material)."""
    if args.no_tile:
        if args.tile not in (None, "none"):
            raise InputError("--no-tile contradicts --tile " + args.tile)
        return "none"
    return args.tile or "both"


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


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet: compare where they would be
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def refuse_overwriting_inputs(outputs: Iterable[str | os.PathLike], inputs: Iterable[str | os.PathLike | None]) -> None:
    """InputError when an output would replace one of the inputs: a reference is never overwritten.

    Checked before any work, so nothing is written and nothing is lost.
    """
    sources = [Path(p) for p in inputs if p]
    for out in outputs:
        for src in sources:
            if _same_file(Path(out), src):
                raise InputError(f"output {out} is the input {src}; choose another output (nothing was written)")


def check_output_file(path: str, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """A usable output PNG path: its folder exists and is writable, it is not one of ``inputs``."""
    from .. import files

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise InputError(f"output must be a .png file: {out}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder does not exist: {parent}")
    if out.is_dir():
        raise InputError(f"output path is a directory: {out}")
    refuse_overwriting_inputs([out], inputs)
    files.check_writable(parent)
    return out


def check_output_dir(path: str, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """A usable output folder for a set of maps: creatable and writable, holding none of ``inputs``
    under a map's file name."""
    from .. import files
    from ..references.maps import MAP_NAMES, map_filename

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"output must be a folder, but a file is there: {out}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder's parent does not exist: {parent}")
    refuse_overwriting_inputs([out / map_filename(m) for m in MAP_NAMES], inputs)
    files.check_writable(out if out.is_dir() else parent)
    return out


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

