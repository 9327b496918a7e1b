"""Manifest references written as tables: prepared (straighten → heal → flatten) before baking.

A farm's photographs come in as shot; a manifest says per reference what an artist would do in
the panel's Prepare steps::

    refs = [{path = "wall.jpg", corners = [12, 40, 980, 22, 1010, 700, 5, 690], flatten = true,
             mask = "wall_mask.png"}]

Each table is turned into ``python -m texture_addon prepare`` in the engine's interpreter (the heal
needs torch, which Blender's Python lacks), so the steps, their checks and their one-line errors are
the CLI's own. All of them run before the output folder exists, into a private scratch folder: a
bad corner list stops the bake with nothing written. The prepared images are then published in
``<out>/prepared/`` (atomically, one per reference) and the material's reference points there, so
the .blend records what was baked from. Plain path references are left exactly as they were.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from .. import files
from ..worker.blender_side.client import PACKAGE_PARENT
from . import UsageError


@dataclass
class Preparation:
    """One table reference: the command that prepares it and where its result goes."""

    material: str
    table: dict
    target: str  # <out>/prepared/<material>_<n>.png
    scratch: str = ""


def plan(entries: list[dict], out_dir: str) -> tuple[list[dict], list[Preparation]]:
    """Entries with every table reference replaced by the path its prepared image will have."""
    jobs: list[Preparation] = []
    planned = []
    for entry in entries:
        refs = []
        for i, ref in enumerate(entry.get("refs") or []):
            if isinstance(ref, dict):
                stem = re.sub(r"[^A-Za-z0-9._-]+", "_", entry["name"]).strip("._") or "material"
                target = os.path.join(out_dir, "prepared", f"{stem}_{i + 1}.png")
                jobs.append(Preparation(entry["name"], ref, target))
                ref = target
            refs.append(ref)
        planned.append({**entry, "refs": refs} if entry.get("refs") else entry)
    return planned, jobs


def command(job: Preparation, python: str | None, output: str) -> list[str]:
    t = job.table
    cmd = [python or sys.executable, "-m", "texture_addon", "prepare", t["path"], "-o", output]
    if t.get("corners") is not None:
        corners = t["corners"] if isinstance(t["corners"], str) else ",".join(repr(float(v)) for v in t["corners"])
        cmd.append(f"--corners={corners}")
    if t.get("size") is not None:
        cmd += ["--size", str(t["size"])]
    if t.get("flatten"):
        cmd.append("--flatten")
    if t.get("mask"):
        cmd += ["--heal-mask", t["mask"]]
    return cmd


def run(jobs: list[Preparation], python: str | None, log) -> str | None:
    """Prepare every table into a scratch folder (returned; None when there is nothing to do).

    Raises UsageError with the CLI's own line for a reference it refuses; the scratch is removed.
    """
    if not jobs:
        return None
    scratch = tempfile.mkdtemp(prefix="texture_forge_prepared_")
    env = dict(os.environ, PYTHONNOUSERSITE="1",
               PYTHONPATH=os.pathsep.join(p for p in (PACKAGE_PARENT, os.environ.get("PYTHONPATH")) if p))
    try:
        for n, job in enumerate(jobs):
            job.scratch = os.path.join(scratch, f"{n}.png")
            log(f"preparing {os.path.basename(job.table['path'])} for {job.material}")
            proc = subprocess.run(command(job, python, job.scratch), env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                lines = (proc.stderr or proc.stdout).strip().splitlines()
                why = lines[-1] if lines else f"exit status {proc.returncode}"
                raise UsageError(f"material {job.material!r}: reference {job.table['path']}: {why}")
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return scratch


def publish(jobs: list[Preparation], scratch: str | None) -> None:
    """Move the prepared images to their targets (each written atomically), then drop the scratch."""
    if scratch is None:
        return
    try:
        for job in jobs:
            files.make_folder(os.path.dirname(job.target))
            files.copy_file(job.scratch, job.target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["Preparation", "plan", "run", "publish", "command"]
