"""Typed messages both ways across the engine pipe, with JSON (de)serialisation and validation.

Commands go from Blender to the engine process (``{"cmd": ...}``), messages come back
(``{"type": ...}``). Each is a dataclass here; :func:`parse_command` and :func:`parse_message`
turn a decoded JSON object into one, or raise :class:`MessageError` saying exactly which field is
missing or of the wrong type, so a malformed line is reported in words instead of surfacing as a
``KeyError`` somewhere in the UI. The JSON field names are the ones scripts already use.

Standard library only: Blender's process imports this module.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional, Union


class MessageError(ValueError):
    """A command or message that does not match the contract."""


#: A job id names files (the engine's previews and logs), so it is only letters, digits, ``-``
#: and ``_``: ``../x`` must never reach a path. The client's ids are 12 hex digits.
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_job_id(value: Any) -> bool:
    """Whether ``value`` is a job id the contract accepts."""
    return isinstance(value, str) and JOB_ID_PATTERN.fullmatch(value) is not None


@dataclass
class _Wire:
    """Base: ``to_dict`` adds the tag; ``from_dict`` checks every field's presence and type."""

    TAG_KEY: ClassVar[str] = "type"
    TAG: ClassVar[str] = ""

    def to_dict(self) -> dict:
        out = {self.TAG_KEY: self.TAG}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "_Wire":
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        errors: list[str] = []
        for f in dataclasses.fields(cls):
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if f.name not in data:
                if required:
                    errors.append(f"'{f.name}' is missing")
                continue
            value = data[f.name]
            if not _matches(value, hints[f.name]):
                errors.append(f"'{f.name}' must be {_describe(hints[f.name])}, got {value!r:.80}")
                continue
            if f.name == "job" and value is not None and not is_job_id(value):
                errors.append(f"'job' must be 1-64 letters, digits, '-' or '_', got {value!r:.80}")
                continue
            kwargs[f.name] = float(value) if _is_float(hints[f.name]) and type(value) is int else value
        if errors:
            raise MessageError(f"{cls.TAG_KEY} {cls.TAG!r}: " + "; ".join(errors))
        return cls(**kwargs)


def _is_float(hint: Any) -> bool:
    return hint is float or (typing.get_origin(hint) is Union and float in typing.get_args(hint))


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is Union:
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if origin in (list, dict):
        return isinstance(value, origin)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is Union:
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             type(None): "null"}
    if hint in names:
        return names[hint]
    origin = typing.get_origin(hint) or hint
    return {list: "a list", dict: "an object"}.get(origin, str(hint))


# ---------------------------------------------------------------------- commands (Blender → engine)

@dataclass
class RunCommand(_Wire):
    TAG_KEY: ClassVar[str] = "cmd"
    TAG: ClassVar[str] = "run"
    job: str
    spec: dict


@dataclass
class CancelCommand(_Wire):
    TAG_KEY: ClassVar[str] = "cmd"
    TAG: ClassVar[str] = "cancel"
    job: str


@dataclass
class PingCommand(_Wire):
    TAG_KEY: ClassVar[str] = "cmd"
    TAG: ClassVar[str] = "ping"


@dataclass
class ShutdownCommand(_Wire):
    TAG_KEY: ClassVar[str] = "cmd"
    TAG: ClassVar[str] = "shutdown"


# ---------------------------------------------------------------------- messages (engine → Blender)

@dataclass
class Ready(_Wire):
    TAG: ClassVar[str] = "ready"
    torch: Optional[str] = None
    torch_build: Optional[str] = None
    devices: list = field(default_factory=list)
    python: Optional[str] = None
    pid: Optional[int] = None
    device: str = "auto"
    expected_torch: Optional[str] = None


@dataclass
class Fatal(_Wire):
    """The engine cannot start (e.g. torch missing); the process exits after sending it."""

    TAG: ClassVar[str] = "fatal"
    message: str
    error_type: str = "MissingDependency"
    python: Optional[str] = None
    missing: list = field(default_factory=list)


@dataclass
class Pong(_Wire):
    TAG: ClassVar[str] = "pong"
    busy: Optional[str] = None


@dataclass
class Started(_Wire):
    TAG: ClassVar[str] = "started"
    job: str


@dataclass
class Progress(_Wire):
    TAG: ClassVar[str] = "progress"
    job: str
    step: int
    total: int
    stage: str = ""
    level: int = 0
    levels: int = 1
    loss: Optional[float] = None
    eta: Optional[float] = None


@dataclass
class Preview(_Wire):
    """A preview PNG, written atomically under a name never reused; the client deletes it."""

    TAG: ClassVar[str] = "preview"
    job: str
    path: str
    width: int = 0
    height: int = 0


@dataclass
class Result(_Wire):
    TAG: ClassVar[str] = "result"
    job: str
    outputs: dict
    seconds: float = 0.0
    seam_scores: dict = field(default_factory=dict)


@dataclass
class Error(_Wire):
    TAG: ClassVar[str] = "error"
    job: Optional[str]
    message: str
    error_type: str = "Error"
    log: Optional[str] = None
    errors: Optional[list] = field(default=None, metadata={"omit_none": True})
    stderr: Optional[list] = field(default=None, metadata={"omit_none": True})
    returncode: Optional[int] = field(default=None, metadata={"omit_none": True})


@dataclass
class Cancelled(_Wire):
    TAG: ClassVar[str] = "cancelled"
    job: str


@dataclass
class Bye(_Wire):
    TAG: ClassVar[str] = "bye"
    reason: str
    message: str = ""


COMMANDS: dict[str, type[_Wire]] = {c.TAG: c for c in (RunCommand, CancelCommand, PingCommand, ShutdownCommand)}
MESSAGES: dict[str, type[_Wire]] = {m.TAG: m for m in (Ready, Fatal, Pong, Started, Progress, Preview, Result,
                                                       Error, Cancelled, Bye)}
#: Exactly one of these ends every job.
FINAL_TYPES = frozenset({Result.TAG, Error.TAG, Cancelled.TAG})


def parse_command(data: Any) -> _Wire:
    """A decoded JSON object → its command dataclass; MessageError says what is wrong."""
    return _parse(data, "cmd", COMMANDS, "command")


def parse_message(data: Any) -> _Wire:
    """A decoded JSON object → its message dataclass; MessageError says what is wrong."""
    return _parse(data, "type", MESSAGES, "message")


def _parse(data: Any, key: str, table: dict[str, type[_Wire]], what: str) -> _Wire:
    if not isinstance(data, dict):
        raise MessageError(f"a {what} must be a JSON object, got {type(data).__name__}")
    tag = data.get(key)
    cls = table.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise MessageError(f"unknown {what} {key}={tag!r} (known: {', '.join(sorted(table))})")
    return cls.from_dict(data)


__all__ = ["MessageError", "JOB_ID_PATTERN", "is_job_id", "parse_command", "parse_message", "COMMANDS", "MESSAGES", "FINAL_TYPES",
           "RunCommand", "CancelCommand", "PingCommand", "ShutdownCommand", "Ready", "Fatal", "Pong",
           "Started", "Progress", "Preview", "Result", "Error", "Cancelled", "Bye"]
