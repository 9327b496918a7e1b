"""``scripts/bake.py``'s command: its flags, the checks made before anything runs, the bake, and
the JSON summary printed on stdout in every case (the exit statuses are in scripts/bake.py).

Runs in Blender (``blender -b -P``) or with the ``bpy`` module, inside the add-on's package under
whatever name it was loaded (``texture_forge`` or ``bl_ext.<repo>.texture_forge``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

import bpy

from .. import files
from ..blender.preferences import get_preferences
from ..contract.manifest import check_entry
from ..contract.vocabulary import BAKE_MODES, DEVICES, MAP_NAMES, QUALITIES
from . import UsageError, manifest, prepared
from .manifest import maps_arg, size_arg, weights_arg

Log = Callable[[str], None]


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command line; a usage error raises :class:`UsageError` (one line) instead of exiting."""
    p = _Parser(prog="bake.py", description="Bake Texture Forge materials headlessly.")
    p.add_argument("--blend", help="the .blend to open (when run by plain python)")
    p.add_argument("--material", action="append", default=[], help="material name (repeatable)")
    p.add_argument("--ref", action="append", default=[], help="reference image file (repeatable)")
    p.add_argument("--weights", type=weights_arg, help="comma-separated weights, one per --ref")
    p.add_argument("--size", type=size_arg, help="N or WxH")
    p.add_argument("--seed", type=int)
    p.add_argument("--maps", type=maps_arg, help="comma-separated: " + ",".join(MAP_NAMES))
    p.add_argument("--mode", choices=sorted(BAKE_MODES))
    p.add_argument("--quality", choices=QUALITIES)
    p.add_argument("--out", default=None, help="folder for raw outputs (default: ./texture_forge_out)")
    p.add_argument("--save", action="store_true", help="save the .blend after baking")
    p.add_argument("--allow-upgrade", action="store_true",
                   help="let --save rewrite a .blend made by another Blender version in this one's "
                        "format (that version may no longer open it)")
    p.add_argument("--pack", action="store_true", help="pack the images into the .blend")
    p.add_argument("--preview", help="render each material on a sphere and a plane into this PNG")
    p.add_argument("--manifest", help="JSON or TOML file describing many materials")
    p.add_argument("--jobs", type=int, default=1, help="parallel engine processes")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--python", help="Python with torch that runs the engine")
    p.add_argument("--force", action="store_true", help="bake even when outputs are up to date")
    p.add_argument("--scheduler", help="Dask scheduler (tcp://HOST:8786): one task per material "
                                       "on its workers (docs/farm.md)")
    p.add_argument("--asset-library", help="folder: also write the baked materials into a .blend "
                                           "there, marked as assets with catalogs and previews")
    return p


def script_args(argv: list[str]) -> list[str]:
    """The script's own arguments: after ``--`` (Blender), else everything after the script."""
    if "--" in argv:
        return argv[argv.index("--") + 1:]
    return argv[1:]


def engine_python(args: argparse.Namespace) -> tuple[str | None, str]:
    """The engine's interpreter and where the choice came from (see scripts/bake.py's docstring)."""
    if args.python:
        return args.python, "--python"
    if os.environ.get("TEXTURE_FORGE_PYTHON"):
        return os.environ["TEXTURE_FORGE_PYTHON"], "TEXTURE_FORGE_PYTHON"
    try:
        prefs = get_preferences(bpy.context)
    except Exception:
        prefs = None
    if prefs is not None and prefs.python:
        return bpy.path.abspath(prefs.python), "the add-on's Python Interpreter preference"
    return None, "the interpreter running this script"


def blend_relative(path: str, what: str) -> str:
    """An absolute path; ``//`` means the open .blend's folder, as everywhere in Blender."""
    if path.startswith("//"):
        if not bpy.data.filepath:
            raise UsageError(f"{what} {path}: '//' means next to the .blend, but no saved .blend is open")
        return os.path.normpath(bpy.path.abspath(path))
    return os.path.abspath(os.path.expanduser(path))


def _new_material(name: str) -> bpy.types.Material:
    """A new material kept in the .blend even while no object uses it."""
    mat = bpy.data.materials.new(name)
    mat.use_fake_user = True
    return mat


def check_save_version(args: argparse.Namespace) -> None:
    """UsageError when ``--save`` would rewrite the open .blend in a format its own Blender can't open.

    A .blend is saved in the running Blender's format: one made by Blender 4.3 and saved by 5.0
    (the ``bpy`` module) no longer opens in 4.3, and one from a newer Blender loses what this one
    does not know. So unless ``--allow-upgrade`` says so, ``--save`` needs the same major.minor
    version as the file (``bpy.data.version``), checked before anything is baked or written.
    """
    if not args.save or args.allow_upgrade or not bpy.data.filepath:
        return
    made, running = tuple(bpy.data.version[:2]), tuple(bpy.app.version[:2])
    if made == running:
        return
    name = os.path.basename(bpy.data.filepath)
    made_s, running_s = ".".join(map(str, made)), ".".join(map(str, running))
    why = (f"Blender {made_s} could not open it any more" if made < running
           else f"what Blender {running_s} does not know would be lost")
    raise UsageError(f"--save would rewrite {name} (saved by Blender {made_s}) in Blender {running_s}'s "
                     f"format and {why}; bake with Blender {made_s} (blender -b {name} -P scripts/bake.py "
                     f"-- --save), or add --allow-upgrade; nothing was baked or written")


def check_writable(folder: str, what: str) -> None:
    """UsageError (before any baking) unless a file can be created in ``folder`` or, when it does
    not exist yet, in the nearest folder above it that does."""
    path = os.path.abspath(folder)
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        files.check_writable(path)
    except Exception as exc:  # the package's InputError: its message is the line
        raise UsageError(f"{what}: {exc}") from None


def bake(args: argparse.Namespace, log: Log = _log) -> dict:
    """Open/prepare the scene, bake, preview and save as ``args`` says; returns the summary.

    Raises UsageError for problems with the command line or the scene it names, all found
    before anything is baked or written.
    """
    _check_flags(args)
    if args.blend:
        if not os.path.isfile(args.blend):
            raise UsageError(f"blend file not found: {args.blend}")
        bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend))
    check_save_version(args)
    args.ref = [blend_relative(r, "--ref") for r in args.ref]
    for r in args.ref:
        if not os.path.isfile(r):
            raise UsageError(f"reference not found: {r}")
    if args.manifest:
        args.manifest = blend_relative(args.manifest, "--manifest")
    if args.preview:
        args.preview = blend_relative(args.preview, "--preview")
    out_dir = blend_relative(args.out or "texture_forge_out", "--out")
    ensure_registered()
    entries = manifest.load_manifest(args.manifest) if args.manifest else []
    flags = {"refs": list(args.ref), "weights": args.weights,
             "size": args.size, "seed": args.seed, "maps": args.maps, "mode": args.mode,
             "quality": args.quality}
    try:  # the same contract as a manifest entry's
        check_entry({k: v for k, v in flags.items() if v not in (None, [])}, "command line")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with files.terminate_cleanly():  # SIGTERM/SIGHUP unwind like Ctrl-C: staging cleaned, sets whole
        return _bake_with(args, entries, flags, out_dir, log)


def ensure_registered() -> None:
    """Register the add-on (its properties) unless this Blender already has it enabled."""
    if not hasattr(bpy.types.Material, "texture_forge"):
        from .. import blender

        blender.register()


def _check_flags(args: argparse.Namespace) -> None:
    """The flags that contradict each other, before the scene is opened."""
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.weights and args.ref and len(args.weights) != len(args.ref):
        raise UsageError(f"--weights has {len(args.weights)} values for {len(args.ref)} --ref files")
    if args.weights and not args.ref and not args.material:
        raise UsageError("--weights needs --ref or --material")


def _bake_with(args: argparse.Namespace, entries: list[dict], flags: dict, out_dir: str, log: Log) -> dict:
    """:func:`bake` once the add-on is loaded and the flags are checked."""
    from . import batch  # imported here: a fault loading it is reported in the summary

    entries = manifest.expand_variants(entries)
    python, source = engine_python(args)
    log(f"engine Python: {python or sys.executable} ({source})")
    entries, preparations = prepared.plan(entries, out_dir)
    chosen = _choose_materials(args, entries)
    for mat in chosen:
        manifest.apply_overrides(mat, flags)

    scratch = prepared.run(preparations, python, log)  # a refused reference: nothing written yet
    cluster = None
    try:
        if args.scheduler:  # before anything is written: an unreachable scheduler changes nothing
            from . import farm

            cluster = farm.connect(args.scheduler, usage_error=UsageError)
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as exc:
            if cluster:
                cluster.client.close()
            raise UsageError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from None
    except BaseException:
        prepared.publish([], scratch)  # only removes the scratch
        raise
    prepared.publish(preparations, scratch)
    _check_folders(args, out_dir)
    t0 = time.monotonic()
    storage = "PACK" if args.pack else None
    if cluster:
        result = farm.bake_materials_on_cluster(chosen, out_dir, cluster, device=args.device,
                                                storage=storage, force=args.force, log=log)
    else:
        result = batch.bake_materials(chosen, out_dir, jobs=args.jobs, python=python,
                                      device=args.device, storage=storage, force=args.force, log=log)
    summary = {"ok": all(m["status"] != "failed" for m in result["materials"]), "error": None, **result,
               "out": out_dir, "total_seconds": 0.0, "preview": None, "blend": None}
    if args.preview:
        _preview(summary, chosen, args.preview, log)
    failed = [m for m in result["materials"] if m["status"] == "failed"]
    if failed:
        summary["error"] = f"{len(failed)} of {len(result['materials'])} material(s) failed: " + "; ".join(
            f"{m['name']}: {m['error']}" for m in failed)
    if args.save:
        _save(summary, args.pack, out_dir, log)
    if args.asset_library:  # after saving: it marks the materials and re-paths their images
        done = [m for m, r in zip(chosen, result["materials"]) if r["status"] != "failed"]
        _asset_library(summary, args, done, entries, log)
    summary["total_seconds"] = round(time.monotonic() - t0, 3)
    return summary


def _choose_materials(args: argparse.Namespace, entries: list[dict]) -> list[bpy.types.Material]:
    """The manifest's materials (created when missing, their entries applied), then ``--material``'s,
    else every material with Texture Forge settings."""
    chosen = []
    for entry in entries:
        mat = bpy.data.materials.get(entry["name"]) or _new_material(entry["name"])
        manifest.apply_overrides(mat, entry)
        chosen.append(mat)
    for name in args.material:
        mat = bpy.data.materials.get(name)
        if mat is None:
            if not args.ref:
                raise UsageError(f"no material named '{name}' (give --ref to create it)")
            mat = _new_material(name)
        if mat not in chosen:
            chosen.append(mat)
    if not args.material and not entries:
        chosen = [m for m in bpy.data.materials if manifest.has_settings(m)]
        if args.ref and not chosen:
            raise UsageError("--ref without --material: name the material(s) to bake")
    if not chosen:
        raise UsageError("nothing to bake: no material has Texture Forge references "
                         "(use --material/--ref or --manifest)")
    return chosen


def _check_folders(args: argparse.Namespace, out_dir: str) -> None:
    """Every folder the bake writes into is checked now, not after the synthesis."""
    check_writable(out_dir, "--out")
    if bpy.data.filepath and not args.pack:
        check_writable(os.path.join(os.path.dirname(bpy.data.filepath), "textures"),
                       "the textures folder next to the .blend")
    if args.save:
        check_writable(os.path.dirname(bpy.data.filepath) if bpy.data.filepath else out_dir, "--save")
    if args.preview:
        check_writable(os.path.dirname(args.preview), "--preview")


def _preview(summary: dict, chosen: list[bpy.types.Material], path: str, log: Log) -> None:
    """Render the preview sheet into the summary; a failure is reported there, not raised."""
    from .preview import render_preview

    log(f"rendering preview of {len(chosen)} material(s)")
    try:
        summary["preview"] = render_preview(chosen, os.path.abspath(path))
    except Exception as exc:
        summary["ok"] = False
        summary["preview_error"] = f"{type(exc).__name__}: {exc}"
        summary["error"] = summary["error"] or f"preview failed: {summary['preview_error']}"
        log(f"preview failed: {summary['preview_error']}")


def _save(summary: dict, pack: bool, out_dir: str, log: Log) -> None:
    """Save the .blend (packing the images first with ``--pack``); a failure goes into the summary."""
    target = bpy.data.filepath or os.path.join(out_dir, "baked.blend")
    try:
        if pack:
            bpy.ops.file.pack_all()
        bpy.ops.wm.save_mainfile(filepath=target)
    except Exception as exc:  # RuntimeError with Blender's report, e.g. a read-only folder
        summary["ok"] = False
        summary["error"] = f"could not save {target}: {str(exc).strip()}"
        log(summary["error"])
    else:
        summary["blend"] = target
        log(f"saved {target}")


def _asset_library(summary: dict, args: argparse.Namespace, done: list[bpy.types.Material],
                   entries: list[dict], log: Log) -> None:
    """Write the baked materials into the asset library; a failure goes into the summary."""
    from .asset_library import write_asset_library

    stem = Path(args.manifest or bpy.data.filepath or "texture_forge").stem
    sections = {e["name"]: e.get("section") for e in entries}
    try:
        summary["asset_library"] = write_asset_library(
            done, os.path.abspath(args.asset_library), stem, sections=sections, log=log)
    except Exception as exc:
        summary["ok"] = False
        summary["asset_library_error"] = f"{type(exc).__name__}: {exc}"
        log(f"asset library failed: {summary['asset_library_error']}")


def failure_summary(error: str) -> dict:
    """The JSON printed when the bake could not run at all: same shape, ``ok`` false."""
    return {"ok": False, "error": error, "materials": [], "startup_seconds": 0.0, "out": None,
            "total_seconds": 0.0, "preview": None, "blend": None}


def main(argv: list[str] | None = None) -> int:
    """Run the bake; print the JSON summary on stdout in every case; return the exit status."""
    if hasattr(signal, "SIGPIPE"):
        # Blender leaves SIGPIPE at its default (die); see scripts/bake.py's docstring.
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    argv = script_args(sys.argv if argv is None else argv)
    real_stdout = os.dup(1)
    os.dup2(2, 1)  # Blender's own prints (render, save) must not mix into the JSON summary
    summary: dict | None = None
    code = 1
    try:
        try:
            args = build_parser().parse_args(argv)
            summary = bake(args)
            code = 0 if summary["ok"] else 1
        except UsageError as exc:
            print(f"bake.py: error: {exc}", file=sys.stderr, flush=True)
            summary, code = failure_summary(f"usage: {exc}"), 2
        except SystemExit as exc:  # --help
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            summary = None if code == 0 else failure_summary(f"exited with status {code}")
        except BaseException as exc:  # noqa: BLE001 - a farm must see a failure, never exit 0
            if not isinstance(exc, KeyboardInterrupt):  # Ctrl-C, SIGTERM: the one line below says it
                traceback.print_exc(file=sys.stderr)
            text = str(exc).strip().replace("\n", " ") or type(exc).__name__
            summary, code = failure_summary(f"{type(exc).__name__}: {text}"), getattr(
                exc, "exit_code", 130) if isinstance(exc, KeyboardInterrupt) else 1
            print(f"bake.py: error: {summary['error']}", file=sys.stderr, flush=True)
        if summary is not None:
            sys.stdout.flush()
            try:
                with os.fdopen(os.dup(real_stdout), "w") as out:
                    out.write(json.dumps(summary, indent=1) + "\n")
            except OSError:  # stdout closed (e.g. piped into head): the status still tells
                code = code or 1
        return code
    finally:
        sys.stdout.flush()
        os.dup2(real_stdout, 1)
        os.close(real_stdout)
