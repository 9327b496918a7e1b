"""How to get an engine Python, as a fix a person can copy: one sentence per platform. Stdlib only.

Why not ``<python> -m pip install torch``: on Debian/Ubuntu (and Homebrew, Fedora …) the system
Python is "externally managed" and pip refuses; Blender's own Python must not be touched; and the
engine process runs with PYTHONNOUSERSITE (a torch in ``~/.local`` must not shadow the chosen
interpreter's), so ``pip install --user`` would succeed and still not be seen — the user loops.
A virtual environment made for the engine works everywhere, so every hint points to one.
"""

from __future__ import annotations

import sys

from .contract.protocol import TORCH_VERSION  # the one place the tested torch version is written

ENV_VAR = "TEXTURE_FORGE_PYTHON"

_NAMES = {"PIL": "pillow"}


def venv_recipe(platform: str | None = None) -> tuple[str, str]:
    """``(command, python path)``: the command that makes an engine venv on this platform."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        venv = r"%USERPROFILE%\texture-forge-venv"
        return f"py -3 -m venv {venv}", venv + r"\Scripts\python.exe"
    venv = "~/texture-forge-venv"
    return f"python3 -m venv {venv}", venv + "/bin/python"


def missing_packages_message(python: str, missing: list[str], *, in_venv: bool | None = None,
                             platform: str | None = None) -> str:
    """How to fix an interpreter that lacks the engine's packages: the one text every part shows.

    Inside a virtual environment, installing into it works everywhere. Outside one, the advice is
    the Install Engine button, else a venv made once, with the commands for the artist's platform.
    ``in_venv`` and ``platform`` default to the running interpreter's (the engine process builds
    this message about itself; the bake, about the interpreter it tried, passes ``in_venv``).
    """
    if in_venv is None:
        in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    platform = platform or sys.platform
    pins = {"torch": f"torch=={TORCH_VERSION}", "numpy": "numpy", "PIL": "pillow"}
    shown = [_NAMES.get(m, m) for m in missing] or ["torch"]
    verb = "is" if len(shown) == 1 else "are"
    what = f"{' and '.join(shown) if len(shown) <= 2 else ', '.join(shown)} {verb} not installed for {python}"
    if in_venv:
        install = " ".join(pins.get(m, m) for m in missing or ["torch"])
        return (f"{what}: run `{python} -m pip install {install}` or choose another Python in the "
                "add-on preferences")
    make, engine = venv_recipe(platform)
    first = " (Debian/Ubuntu: `sudo apt install python3-venv` first)" if platform.startswith("linux") else ""
    cpu_only = ("" if platform == "darwin" else
                " (CPU only, a much smaller download: add `--index-url https://download.pytorch.org/whl/cpu`)")
    return (f"{what}. Easiest: press Install Engine in the add-on preferences (Texture Forge), "
            "and clear the Python Interpreter field. Or make a Python for the engine yourself (pip "
            f"may refuse {python} itself, e.g. on Debian/Ubuntu): `{make}`{first}, then "
            f"`{engine} -m pip install torch=={TORCH_VERSION} numpy pillow`{cpu_only}; then choose "
            f"{engine} as the Python Interpreter in the add-on preferences (or set {ENV_VAR} to it). "
            "`pip install --user` does not help: the engine ignores user site-packages")


def numpy_missing_message(platform: str | None = None) -> str:
    """Blender's own Python lacks numpy (Debian's and some distributions' Blender builds)."""
    platform = platform or sys.platform
    fix = ("install your distribution's numpy for Blender's Python (Debian/Ubuntu: "
           "`sudo apt install python3-numpy`), or use Blender from blender.org, which bundles it"
           if platform.startswith("linux") else
           "reinstall Blender from blender.org, which bundles numpy")
    return (f"numpy is missing from Blender's own Python ({sys.executable}, {sys.version.split()[0]}), "
            f"and Texture Forge needs it to move pixels into Blender: {fix}")


__all__ = ["TORCH_VERSION", "ENV_VAR", "venv_recipe", "missing_packages_message", "numpy_missing_message"]
