"""The wire format between the client (inside Blender) and the worker process. Stdlib only.

One JSON object per line in each direction. Commands (client → worker, on stdin)::

    {"cmd": "run", "job": id, "spec": {...}}   {"cmd": "cancel", "job": id}
    {"cmd": "ping"}                            {"cmd": "shutdown"}

Messages (worker → client, on stdout): ``ready`` (once), ``pong``, ``started``, ``progress``,
``preview``, and exactly one final message per job: ``result``, ``error`` or ``cancelled``. A
worker that cannot start (no torch) sends ``fatal`` and exits; one leaving on its own sends
``bye``. Pixels never travel through the pipe: previews and outputs are files.

Keeping the names here lets both ends, and the tests, agree without importing each other.
"""

from __future__ import annotations

import json

#: The torch version the engine is built and tested against.
TORCH_VERSION = "2.13.0"

#: The typed messages themselves live in :mod:`.messages`.
FINAL_TYPES = frozenset({"result", "error", "cancelled"})

#: Exit status of a worker that could not import its dependencies.
EXIT_MISSING_DEPENDENCIES = 3

#: The longest command line the engine process reads (a job spec is a few kB); a longer one is
#: discarded up to its newline and answered with a ProtocolError, never buffered.
MAX_LINE_BYTES = 1 << 20

#: A "run" that arrives while another job runs is refused with this error_type.
BUSY_ERROR = "WorkerBusy"


def encode(message: dict) -> bytes:
    """One line of compact JSON; non-finite floats become null so the other end can parse them."""
    return (json.dumps(_finite(message), separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def decode(line: bytes | str) -> dict:
    """Parse one line; raise ValueError if it is not a JSON object."""
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _finite(value):
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
