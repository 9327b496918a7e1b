"""``python -m texture_addon``: the plain CLI, no Blender needed.

Once the command has returned, every file it wrote is already in place (all writers are atomic)
and only the interpreter's teardown is left. Tearing torch down (finalising thousands of modules
and objects) takes 0.25-0.35 s on 2 cores, a third of a whole 256² synthesis, and a batch script
or farm waits for it on every texture; so the process flushes its streams and leaves without it.
An unexpected exception still takes the ordinary path (traceback, normal exit).
"""

import os
import sys

from .cli import main


def _leave(code: int) -> None:
    """Flush stdio and exit now, skipping interpreter finalisation (see the module docstring)."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        code = code or 1  # the reader went away: the output it asked for was not all delivered
    try:
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)


if __name__ == "__main__":
    _leave(main())
