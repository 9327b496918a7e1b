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
    """``(commands, python path)`` that make an engine venv on this platform."""
    platform = platform or sys.platform
    packages = f"torch=={TORCH_VERSION} numpy pillow"
    if platform.startswith("win"):
        python = r"%USERPROFILE%\tf-engine\Scripts\python.exe"
        return (rf"py -3 -m venv %USERPROFILE%\tf-engine && %USERPROFILE%\tf-engine\Scripts\pip install "
                f"{packages}", python)
    python = "~/tf-engine/bin/python"
    commands = f"python3 -m venv ~/tf-engine && ~/tf-engine/bin/pip install {packages}"
    return commands, python


def missing_packages_message(python: str, missing: list[str], platform: str | None = None) -> str:
    """One sentence: what is missing from ``python`` and the commands that fix it on this platform."""
    platform = platform or sys.platform
    shown = [_NAMES.get(m, m) for m in missing] or ["torch"]
    what = " and ".join(shown) if len(shown) <= 2 else ", ".join(shown)
    verb = "is" if len(shown) == 1 else "are"
    commands, venv_python = venv_recipe(platform)
    extra = ""
    if platform.startswith("linux"):
        extra = (" (Debian/Ubuntu: `sudo apt install python3-venv` first; for a CPU-only torch add "
                 "`--index-url https://download.pytorch.org/whl/cpu`)")
    elif platform == "darwin":
        extra = " (python3 from python.org or Homebrew)"
    return (f"{what} {verb} not installed for {python}. Make an engine Python: `{commands}`{extra}, "
            f"then set Python Interpreter in the add-on preferences (or {ENV_VAR}) to {venv_python}. "
            f"`pip install --user` does not help: the engine ignores user site-packages")


def numpy_missing_message(platform: str | None = None) -> str:
    """Blender's own Python lacks numpy (Debian's and some distributions' Blender builds)."""
    platform = platform or sys.platform
    fix = ("install your distribution's numpy for Blender's Python (Debian/Ubuntu: "
           "`sudo apt install python3-numpy`), or use Blender from blender.org, which bundles it"
           if platform.startswith("linux") else
           "reinstall Blender from blender.org, which bundles numpy")
    return (f"numpy is missing from Blender's Python ({sys.executable}, "
            f"{sys.version.split()[0]}): {fix}")


__all__ = ["TORCH_VERSION", "ENV_VAR", "venv_recipe", "missing_packages_message", "numpy_missing_message"]
