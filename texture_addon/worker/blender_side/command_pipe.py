"""The engine process's stdin, as Blender writes to it: a write to a dead engine never kills Blender.

Blender leaves SIGPIPE at its default action, so writing to an ordinary pipe whose reader has
exited ends Blender at once (exit 141: no crash report, unsaved work lost). Checking that the
process is alive first narrows the window but cannot close it: the engine can exit between the
check and the write. So on POSIX the engine's stdin is one end of a socket pair, written with
``MSG_NOSIGNAL`` (Linux) or ``SO_NOSIGPIPE`` (macOS): a write to a closed peer then fails with
``BrokenPipeError`` in this thread, which the client turns into a readable job error. The engine
reads its stdin with ``os.read`` and sees the same bytes and the same EOF as with a pipe. Windows
has no SIGPIPE; there an ordinary pipe is used.
"""

from __future__ import annotations

import os
import socket
import subprocess
from typing import IO, Any

#: ``SO_NOSIGPIPE`` on macOS and the BSDs (Python does not export the constant).
_SO_NOSIGPIPE = 0x1022


class CommandPipe:
    """Create before the process, pass :meth:`stdin_for_popen` to Popen, then :meth:`attach`."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._child: socket.socket | None = None
        self._stdin: IO[bytes] | None = None
        self._flags = 0
        if os.name == "posix" and hasattr(socket, "socketpair"):
            self._sock, self._child = socket.socketpair()
            if hasattr(socket, "MSG_NOSIGNAL"):
                self._flags = socket.MSG_NOSIGNAL
            else:  # macOS: per-socket option instead of a send flag
                self._sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_NOSIGPIPE", _SO_NOSIGPIPE), 1)

    @property
    def signal_safe(self) -> bool:
        """True when a write to an exited reader raises instead of sending SIGPIPE."""
        return self._sock is not None

    def stdin_for_popen(self) -> Any:
        return self._child.fileno() if self._child is not None else subprocess.PIPE

    def attach(self, popen: subprocess.Popen) -> None:
        """After the process started: keep only our end (the child has its copy)."""
        if self._child is not None:
            self._child.close()
            self._child = None
        else:
            self._stdin = popen.stdin

    def abandon(self) -> None:
        """The process could not be started: release both ends."""
        for s in (self._child, self._sock):
            if s is not None:
                s.close()
        self._child = self._sock = None

    def write(self, data: bytes) -> None:
        """Send all of ``data``; raises OSError (BrokenPipeError) or ValueError if the reader is gone."""
        if self._sock is not None:
            view = memoryview(data)
            while view:
                sent = self._sock.send(view, self._flags)
                view = view[sent:]
        elif self._stdin is not None:
            self._stdin.write(data)
            self._stdin.flush()
        else:
            raise ValueError("the command pipe is closed")

    def close(self) -> None:
        """Close our end: the engine reads EOF. Never raises."""
        sock, self._sock = self._sock, None
        stdin, self._stdin = self._stdin, None
        try:
            if sock is not None:
                sock.close()
            if stdin is not None:
                stdin.close()
        except (OSError, ValueError):
            pass


__all__ = ["CommandPipe"]
