"""Error types shared by every room of Texture Forge.

They live in a module with no third-party imports so that the Blender glue, the worker and the
CLI can all recognise them without importing torch.
"""


class TextureForgeError(Exception):
    """Base of every error the project raises on purpose (as opposed to bugs)."""


class InputError(TextureForgeError):
    """The user gave something unusable: a missing or corrupt image, an absurd size, a bad file.

    The CLI turns it into one line on stderr and exit status 2; the worker into an ``error``
    message; the add-on into a report. Its message must make sense on its own.
    """


class Cancelled(TextureForgeError):
    """A job was cancelled through its :class:`~texture_addon.engine.cancel.CancelToken`."""


class OutputError(TextureForgeError):
    """A file could not be written (disk full, a folder turned read-only) while writing it.

    Its message names the file and the reason in one line; nothing partial is left behind
    (texture_addon/files.py). The CLI exits 1 with it. An output that is unusable from the start
    (a missing or read-only folder, an output that is also an input) is an :class:`InputError`,
    reported before any work.
    """


def error_text(exc: BaseException) -> str:
    """The words an artist sees for ``exc``: a :class:`SpecError`'s problems joined by "; "
    (without its "invalid job:" prefix), else its message, else its type's name. One spelling,
    whether the problem was found while building the job or where it leaves Blender."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)
    return str(exc) or type(exc).__name__
