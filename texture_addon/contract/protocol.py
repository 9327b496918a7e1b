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


def missing_dependencies_message(python: str, missing: list[str], *, in_venv: bool | None = None,
                                 platform: str | None = None) -> str:
    """How to fix an interpreter that lacks the engine's packages, as text for a UI report.

    Inside a virtual environment, installing into it works everywhere. Outside one, ``pip install``
    is refused on Debian/Ubuntu (externally managed), and a ``--user`` install is ignored because
    the engine runs with PYTHONNOUSERSITE, so the advice is to make a venv once and choose its
    Python, with the commands for the artist's platform. ``in_venv`` and ``platform`` default to
    the running interpreter's (the engine process builds this message about itself).
    """
    import sys

    if in_venv is None:
        in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    platform = platform or sys.platform
    pins = {"torch": f"torch=={TORCH_VERSION}", "numpy": "numpy", "PIL": "pillow"}
    names = {"PIL": "pillow"}
    shown = [names.get(m, m) for m in missing]
    verb = "is" if len(shown) == 1 else "are"
    what = f"{' and '.join(shown) if len(shown) <= 2 else ', '.join(shown)} {verb} not installed for {python}"
    if in_venv:
        install = " ".join(pins.get(m, m) for m in missing)
        return (f"{what}: run `{python} -m pip install {install}` or choose another Python in the "
                "add-on preferences")
    everything = f"torch=={TORCH_VERSION} numpy pillow"
    if platform.startswith("win"):
        venv = r"%USERPROFILE%\texture-forge-venv"
        make, engine = f"py -3 -m venv {venv}", venv + r"\Scripts\python.exe"
    else:
        venv = "~/texture-forge-venv"
        make, engine = f"python3 -m venv {venv}", venv + "/bin/python"
    cpu_only = ("" if platform == "darwin" else
                " (CPU only, a much smaller download: add `--index-url https://download.pytorch.org/whl/cpu`)")
    return (f"{what}. Easiest: press Install Engine in the add-on preferences (Texture Forge), "
            "and clear the Python Interpreter field. Or make a Python for the engine yourself (pip "
            f"may refuse {python} itself, e.g. on Debian/Ubuntu): `{make}`, then "
            f"`{engine} -m pip install {everything}`{cpu_only}; then choose {engine} as the Python "
            "Interpreter in the add-on preferences")
