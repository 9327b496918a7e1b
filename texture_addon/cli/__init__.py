"""Command line: ``python -m texture_addon <command> ...``.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and ``run(args) -> int``.
Every expected failure is an :class:`~texture_addon.errors.InputError` and becomes one line on
stderr with exit status 2; nothing half-written is left behind because all writers are atomic.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .. import files
from ..errors import Cancelled, InputError, OutputError

# Subcommand modules, in the order `--help` lists them.
COMMANDS = ("synth", "stylize", "seamless", "pbr", "prepare", "heal")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit 2 (its default is a usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m texture_addon", description="Texture Forge: seamless textures from references.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # command not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; SIGTERM and SIGHUP end it like Ctrl-C (files cleaned, sets whole)."""
    args = build_parser().parse_args(argv)
    try:
        with files.terminate_cleanly():
            return int(args.run(args) or 0)
    except InputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except OutputError as exc:  # disk full and the like: one line, no partial file
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except Cancelled:
        sys.stderr.write("cancelled\n")
        return 130
    except files.Terminated as exc:
        sys.stderr.write(f"{exc}; nothing partial was left\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except MemoryError:
        sys.stderr.write("error: out of memory; try a smaller --size or --quality draft\n")
        return 2
