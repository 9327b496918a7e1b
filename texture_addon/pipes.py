"""Surviving the death of a process we write to. Stdlib only.

A write to a pipe whose reader has exited raises SIGPIPE, whose default action ends the writing
process at once: no exception, no crash report, unsaved work lost. CPython ignores SIGPIPE at
startup, so in a plain Python (and the ``bpy`` module) such a write raises ``BrokenPipeError``;
Blender embeds Python without doing so, and it died (exit 141) whenever the add-on wrote to an
engine process that had exited (idle timeout, missing torch, crash) — on the next Generate, on
Cancel, on quit. Ignoring SIGPIPE in Blender's process restores Python's behaviour: the write
raises ``BrokenPipeError``, which the worker client handles like any other dead engine. Child
processes are unaffected (``subprocess`` restores the default disposition in them).
"""

from __future__ import annotations

import signal
import threading


def ignore_sigpipe() -> bool:
    """Make broken-pipe writes raise instead of killing this process; True when SIGPIPE is ignored.

    Only the main thread may change signal handlers; elsewhere (and on Windows, which has no
    SIGPIPE) nothing changes.
    """
    sigpipe = getattr(signal, "SIGPIPE", None)
    if sigpipe is None:
        return False
    if signal.getsignal(sigpipe) == signal.SIG_IGN:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        signal.signal(sigpipe, signal.SIG_IGN)
    except (ValueError, OSError):
        return False
    return True


__all__ = ["ignore_sigpipe"]
