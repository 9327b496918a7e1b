"""Headless baking: everything the Texture Forge panel does, on many materials, unattended.

Run inside Blender (arguments after ``--``) or with the ``bpy`` module::

    blender -b scene.blend -P scripts/bake.py -- --out textures --save
    python scripts/bake.py --blend scene.blend --material Bricks --size 512 --quality draft --save

Materials: ``--material NAME`` (repeatable; default: every material whose Texture Forge settings
have references or a source), or a ``--manifest`` (JSON or TOML) describing many materials, which
are created when missing::

    {"defaults": {"size": 512, "quality": "draft", "maps": ["basecolor", "normal"]},
     "materials": [{"name": "Bricks", "refs": ["bricks.png"], "weights": [1.0], "seed": 3}]}

(relative paths are relative to the manifest). Settings stored on a material are honoured;
command-line flags (and manifest entries) override them and are written to the material.

Output: one progress line per material and stage on stderr, a JSON summary on stdout — always,
also on failure (then ``"ok": false`` and ``"error"`` says why); exit 0 when every material was
baked (or was up to date), 1 when anything failed (a material, the engine, the preview, saving;
the other materials are still baked and saved), 2 on usage errors, 128 + the signal after SIGTERM,
SIGHUP or Ctrl-C, which end the bake cleanly (staging removed, every set old or new, whole; see
docs/files.md). ``--save`` refuses (exit 2, before baking) to rewrite a .blend saved by another
Blender major.minor version unless ``--allow-upgrade``: the Blender that made it could not open it. Under ``blender -b -P`` an
exception in a script does not change Blender's exit status, so this script ends Blender itself
with its own status (after flushing its output). Raw outputs stay in ``<out>/<material>-<hash>/``
with a ``bake.json`` sidecar holding a hash of the settings, the input files and the engine's
version: a rerun skips up-to-date materials unless ``--force``, so per-material tasks on a farm
are independent and restartable (docs/farm.md). Paths starting with ``//`` (``--out``, ``--ref``,
``--preview``, ``--manifest``) are relative to the open .blend, as everywhere in Blender.

How the add-on is loaded: when an installed Texture Forge extension is already enabled in this
Blender (``bl_ext.<repo>.texture_forge``), that one is used. Otherwise the repository this script
lives in is imported as the package ``texture_forge`` (importlib, with the repo root as its only
search location) and registered; nothing is installed and no user preferences are touched. The
engine runs in ``--python``, else ``$TEXTURE_FORGE_PYTHON``, else the add-on's *Python
Interpreter* preference (when the installed add-on is enabled), else this interpreter, which for
plain ``python scripts/bake.py`` is the venv with torch. A choice made for this run (flag,
environment) beats the stored preference.

Blender does not ignore SIGPIPE (CPython does); the script ignores it first thing, so an engine
process that exits while we write to it raises BrokenPipeError instead of killing Blender.

While baking, everything Blender itself prints on stdout goes to stderr, so stdout carries only
the JSON summary.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "texture_forge"
MAP_NAMES = ("basecolor", "height", "normal", "roughness", "ao")
MODES = {"synth": "NEW", "stylize": "STYLIZE", "seamless": "SEAMLESS", "material": "MATERIAL"}


class UsageError(Exception):
    """A bad command line or manifest: exit 2 with a one-line message."""


# --------------------------------------------------------------------------- command line

def _maps(text: str) -> list[str]:
    maps = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in maps if m not in MAP_NAMES]
    if bad or not maps:
        raise argparse.ArgumentTypeError(f"unknown map(s) {', '.join(bad) or '(none)'}; "
                                         f"choose from {','.join(MAP_NAMES)}")
    return maps


def _size(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.lower().replace("×", "x").split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}; use e.g. 512 or 1024x512") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not all(64 <= p <= 4096 for p in parts):
        raise argparse.ArgumentTypeError(f"invalid size {text!r}; each side must be 64-4096")
    return parts[0], parts[1]


def _weights(text: str) -> list[float]:
    try:
        return [float(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid weights {text!r}; use e.g. 1,0.5") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bake.py", description="Bake Texture Forge materials headlessly.")
    p.add_argument("--blend", help="the .blend to open (when run by plain python)")
    p.add_argument("--material", action="append", default=[], help="material name (repeatable)")
    p.add_argument("--ref", action="append", default=[], help="reference image file (repeatable)")
    p.add_argument("--weights", type=_weights, help="comma-separated weights, one per --ref")
    p.add_argument("--size", type=_size, help="N or WxH")
    p.add_argument("--seed", type=int)
    p.add_argument("--maps", type=_maps, help="comma-separated: " + ",".join(MAP_NAMES))
    p.add_argument("--mode", choices=sorted(MODES))
    p.add_argument("--quality", choices=("draft", "default", "high"))
    p.add_argument("--out", default=None, help="folder for raw outputs (default: ./texture_forge_out)")
    p.add_argument("--save", action="store_true", help="save the .blend after baking")
    p.add_argument("--allow-upgrade", action="store_true",
                   help="let --save rewrite a .blend made by another Blender version in this one's "
                        "format (that version may no longer open it)")
    p.add_argument("--pack", action="store_true", help="pack the images into the .blend")
    p.add_argument("--preview", help="render each material on a sphere and a plane into this PNG")
    p.add_argument("--manifest", help="JSON or TOML file describing many materials")
    p.add_argument("--jobs", type=int, default=1, help="parallel engine processes")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
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


# --------------------------------------------------------------------------- add-on loading

def load_addon():
    """The add-on's ``texture_addon.blender`` package, registered (see the module docstring)."""
    import addon_utils
    import bpy

    for mod in addon_utils.modules():
        name = mod.__name__
        if name.endswith(".texture_forge") and addon_utils.check(name)[1]:
            return importlib.import_module(name + ".texture_addon.blender")
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        spec.loader.exec_module(module)
    if not hasattr(bpy.types.Material, "texture_forge"):
        sys.modules[PACKAGE].register()
    return importlib.import_module(PACKAGE + ".texture_addon.blender")


def engine_python(args: argparse.Namespace, blender) -> tuple[str | None, str]:
    """The engine's interpreter and where the choice came from (see the module docstring)."""
    import bpy

    if args.python:
        return args.python, "--python"
    if os.environ.get("TEXTURE_FORGE_PYTHON"):
        return os.environ["TEXTURE_FORGE_PYTHON"], "TEXTURE_FORGE_PYTHON"
    try:
        prefs = importlib.import_module(blender.__name__ + ".preferences").get_preferences(bpy.context)
    except Exception:
        prefs = None
    if prefs is not None and prefs.python:
        return bpy.path.abspath(prefs.python), "the add-on's Python Interpreter preference"
    return None, "the interpreter running this script"


def blend_relative(path: str, what: str) -> str:
    """An absolute path; ``//`` means the open .blend's folder, as everywhere in Blender."""
    import bpy

    if path.startswith("//"):
        if not bpy.data.filepath:
            raise UsageError(f"{what} {path}: '//' means next to the .blend, but no saved .blend is open")
        return os.path.normpath(bpy.path.abspath(path))
    return os.path.abspath(os.path.expanduser(path))


# --------------------------------------------------------------------------- settings

def load_manifest(path: str, check_entry) -> list[dict]:
    """The manifest's entries, each merged with its defaults and checked by ``check_entry``
    (contract/manifest.py) before anything reads it."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"manifest not found: {path}")
    try:
        if p.suffix.lower() == ".toml":
            import tomllib
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        else:
            data = json.loads(p.read_text(encoding="utf-8"))
    except Exception as exc:
        raise UsageError(f"cannot read manifest {path}: {exc}".replace("\n", " ")) from None
    if isinstance(data, list):
        data = {"materials": data}
    entries = data.get("materials") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"manifest {path} has no 'materials' list")
    defaults = data.get("defaults") or {}
    out = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("name"):
            raise UsageError(f"manifest {path}: material {i} needs a 'name'")
        merged = {**defaults, **entry}
        try:
            check_entry(merged, f"manifest {path}: material {entry['name']!r}")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if merged.get("light_angle") is not None:   # valid for the job contract; no material setting holds it yet
            raise UsageError(f"manifest {path}: material {entry['name']!r}: light_angle is not bakeable yet "
                             "(the material settings have no light angle; use 'pbr --light-angle' meanwhile)")
        refs = merged.get("refs", merged.get("references", []))
        if isinstance(refs, str):
            refs = [refs]
        merged["refs"] = [str((p.parent / r).resolve()) if not os.path.isabs(r) else r for r in refs]
        if "source" in merged:
            s = merged["source"]
            merged["source"] = str((p.parent / s).resolve()) if not os.path.isabs(s) else s
        if isinstance(merged.get("maps"), str):
            merged["maps"] = merged["maps"].split(",")
        for m in merged.get("maps") or []:
            if m not in MAP_NAMES:
                raise UsageError(f"manifest {path}: material '{entry['name']}': unknown map {m!r}")
        if merged.get("mode") is not None and merged["mode"] not in MODES:
            raise UsageError(f"manifest {path}: material '{entry['name']}': unknown mode "
                             f"{merged['mode']!r}")
        if "size" in merged and not isinstance(merged["size"], (list, tuple)):
            try:
                merged["size"] = _size(str(merged["size"]))
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"manifest {path}: material '{entry['name']}': {exc}") from None
        out.append(merged)
    return out


def apply_overrides(material, o: dict) -> None:
    """Write the given settings (refs, weights, size, seed, maps, mode, quality, …) to the material."""
    import bpy

    s = material.texture_forge
    if o.get("mode"):
        s.mode = MODES[o["mode"]]
    if o.get("refs"):
        weights = list(o.get("weights") or [])
        s.references.clear()
        for i, path in enumerate(o["refs"]):
            r = s.references.add()
            r.source, r.filepath, r.enabled = "FILE", str(path), True
            r.weight = float(weights[i]) if i < len(weights) else 1.0
    elif o.get("weights"):
        for r, w in zip(s.references, o["weights"]):
            r.weight = float(w)
    if o.get("source"):
        s.source_image = bpy.data.images.load(o["source"], check_existing=True)
    if o.get("size"):
        s.size_preset = "CUSTOM"
        s.width, s.height = (int(v) for v in o["size"])
    for key in ("seed", "quality", "tile", "method", "detail_scale", "strength", "height_mode",
                "ao_strength"):
        if o.get(key) is not None:
            setattr(s, key, o[key])
    if o.get("maps"):
        for m in MAP_NAMES:
            setattr(s, "map_" + m, m in o["maps"])


def has_settings(material) -> bool:
    s = getattr(material, "texture_forge", None)
    if s is None:
        return False
    return (any(r.enabled for r in s.references) or s.source_image is not None
            or s.reference_material is not None)


# --------------------------------------------------------------------------- preview render

def render_preview(materials, path: str, files, size: int = 192, samples: int = 16) -> str:
    """Each material on a sphere and a plane under neutral light (Cycles, CPU), side by side.

    ``files`` is the add-on's ``files`` module: the sheet is written atomically, with a
    temporary name of its own.
    """
    import bpy
    import numpy as np

    scene = bpy.data.scenes.new("Texture Forge Preview")
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y = size * 2, size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    world = bpy.data.worlds.new("Texture Forge Preview")
    world.color = (0.45, 0.45, 0.45)
    scene.world = world
    cam = bpy.data.objects.new("TF Preview Camera", bpy.data.cameras.new("TF Preview Camera"))
    cam.location, cam.rotation_euler = (0.0, -8.0, 1.2), (1.42, 0.0, 0.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    light = bpy.data.objects.new("TF Preview Sun", bpy.data.lights.new("TF Preview Sun", "SUN"))
    light.data.energy = 3.0
    light.rotation_euler = (0.8, 0.2, 0.6)
    scene.collection.objects.link(light)

    import bmesh
    mesh = bpy.data.meshes.new("TF Preview Sphere")
    bm = bmesh.new()
    bm.loops.layers.uv.new("UVMap")  # calc_uvs fills the active UV layer; it must exist
    bmesh.ops.create_uvsphere(bm, u_segments=48, v_segments=24, radius=1.0, calc_uvs=True)
    for f in bm.faces:
        f.smooth = True
    bm.to_mesh(mesh)
    bm.free()
    sphere = bpy.data.objects.new("TF Preview Sphere", mesh)
    sphere.location = (-1.2, 0.0, 0.0)
    plane_mesh = bpy.data.meshes.new("TF Preview Plane")
    bm = bmesh.new()
    bm.loops.layers.uv.new("UVMap")
    bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=1.0, calc_uvs=True)
    bm.to_mesh(plane_mesh)
    bm.free()
    plane = bpy.data.objects.new("TF Preview Plane", plane_mesh)
    plane.location, plane.rotation_euler = (1.25, 0.0, 0.0), (1.2, 0.0, 0.0)
    for obj in (sphere, plane):
        scene.collection.objects.link(obj)

    tiles = []
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = files.new_temp(out, suffix=".png")
    try:
        for mat in materials:
            for obj in (sphere, plane):
                obj.data.materials.clear()
                obj.data.materials.append(mat)
            scene.render.filepath = str(tmp)
            bpy.ops.render.render(write_still=True, scene=scene.name)
            img = bpy.data.images.load(str(tmp))
            w, h = img.size[:]
            a = np.empty(w * h * 4, np.float32)
            img.pixels.foreach_get(a)
            tiles.append(a.reshape(h, w, 4)[::-1].copy())
            bpy.data.images.remove(img)
        sheet = np.concatenate(tiles, axis=0) if tiles else np.zeros((size, size * 2, 4), np.float32)
        result = bpy.data.images.new("TF Preview Sheet", sheet.shape[1], sheet.shape[0], alpha=True)
        result.pixels.foreach_set(np.ascontiguousarray(sheet[::-1]).ravel())
        result.file_format = "PNG"
        with files.atomic_write(out, suffix=".png") as sheet_tmp:
            result.filepath_raw = str(sheet_tmp)
            result.save()
        bpy.data.images.remove(result)
    finally:
        if tmp.exists():
            tmp.unlink()
        for obj in (sphere, plane, cam, light):
            bpy.data.objects.remove(obj)
        bpy.data.scenes.remove(scene)
        bpy.data.worlds.remove(world)
    return str(out)


# --------------------------------------------------------------------------- main

def _expand_variants(manifest: list[dict], package: str) -> list[dict]:
    """Manifest entries with ``seeds``/``sizes`` become one material per variant."""
    from importlib import import_module
    variants = import_module(package.rsplit(".", 1)[0] + ".farm.variants")
    try:
        return variants.expand_variants(manifest)
    except variants.VariantError as exc:
        raise UsageError(f"manifest: {exc}") from None


def _new_material(name: str):
    """A new material kept in the .blend even while no object uses it."""
    import bpy

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
    import bpy

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


def check_writable(folder: str, what: str, files) -> None:
    """UsageError (before any baking) unless a file can be created in ``folder`` or, when it does
    not exist yet, in the nearest folder above it that does."""
    path = os.path.abspath(folder)
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        files.check_writable(path)
    except Exception as exc:  # the package's InputError: its message is the line
        raise UsageError(f"{what}: {exc}") from None


def bake(args: argparse.Namespace, log=lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """Open/prepare the scene, bake, preview and save as ``args`` says; returns the summary.

    Raises UsageError for problems with the command line or the scene it names.
    """
    import bpy

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.weights and args.ref and len(args.weights) != len(args.ref):
        raise UsageError(f"--weights has {len(args.weights)} values for {len(args.ref)} --ref files")
    if args.weights and not args.ref and not args.material:
        raise UsageError("--weights needs --ref or --material")
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
    blender = load_addon()
    from importlib import import_module
    checks = import_module(blender.__name__.rsplit(".", 1)[0] + ".contract.manifest")
    manifest = load_manifest(args.manifest, checks.check_entry) if args.manifest else []
    flags = {"refs": list(args.ref), "weights": args.weights,
             "size": args.size, "seed": args.seed, "maps": args.maps, "mode": args.mode,
             "quality": args.quality}
    try:  # the same contract as a manifest entry's
        checks.check_entry({k: v for k, v in flags.items() if v not in (None, [])}, "command line")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    files = import_module(blender.__name__.rsplit(".", 1)[0] + ".files")
    with files.terminate_cleanly():  # SIGTERM/SIGHUP unwind like Ctrl-C: staging cleaned, sets whole
        return _bake_with(args, blender, files, manifest, flags, out_dir, log)


def _bake_with(args: argparse.Namespace, blender, files, manifest: list[dict], flags: dict, out_dir: str,
               log) -> dict:
    """:func:`bake` once the add-on is loaded."""
    import bpy
    from importlib import import_module

    batch = import_module(blender.__name__ + ".batch")
    manifest = _expand_variants(manifest, blender.__name__)
    python, source = engine_python(args, blender)
    log(f"engine Python: {python or sys.executable} ({source})")

    chosen = []
    for entry in manifest:
        mat = bpy.data.materials.get(entry["name"]) or _new_material(entry["name"])
        apply_overrides(mat, entry)
        chosen.append(mat)
    for name in args.material:
        mat = bpy.data.materials.get(name)
        if mat is None:
            if not args.ref:
                raise UsageError(f"no material named '{name}' (give --ref to create it)")
            mat = _new_material(name)
        if mat not in chosen:
            chosen.append(mat)
    if not args.material and not manifest:
        chosen = [m for m in bpy.data.materials if has_settings(m)]
        if args.ref and not chosen:
            raise UsageError("--ref without --material: name the material(s) to bake")
    if not chosen:
        raise UsageError("nothing to bake: no material has Texture Forge references "
                         "(use --material/--ref or --manifest)")
    for mat in chosen:
        apply_overrides(mat, flags)

    cluster = None
    if args.scheduler:  # before anything is written: an unreachable scheduler changes nothing
        farm = import_module(blender.__name__ + ".farm_bake")
        cluster = farm.connect(args.scheduler, usage_error=UsageError)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        if cluster:
            cluster.client.close()
        raise UsageError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from None
    # Every folder the bake writes into is checked now, not after the synthesis.
    check_writable(out_dir, "--out", files)
    if bpy.data.filepath and not args.pack:
        check_writable(os.path.join(os.path.dirname(bpy.data.filepath), "textures"),
                       "the textures folder next to the .blend", files)
    if args.save:
        check_writable(os.path.dirname(bpy.data.filepath) if bpy.data.filepath else out_dir, "--save", files)
    if args.preview:
        check_writable(os.path.dirname(args.preview), "--preview", files)
    t0 = time.monotonic()
    if cluster:
        result = farm.bake_materials_on_cluster(
            chosen, out_dir, cluster, device=args.device,
            storage="PACK" if args.pack else None, force=args.force, log=log)
    else:
        result = batch.bake_materials(chosen, out_dir, jobs=args.jobs, python=python,
                                      device=args.device, storage="PACK" if args.pack else None,
                                      force=args.force, log=log)
    summary = {"ok": all(m["status"] != "failed" for m in result["materials"]), "error": None, **result,
               "out": out_dir, "total_seconds": 0.0, "preview": None, "blend": None}
    if args.preview:
        log(f"rendering preview of {len(chosen)} material(s)")
        try:
            summary["preview"] = render_preview(chosen, os.path.abspath(args.preview), files)
        except Exception as exc:
            summary["ok"] = False
            summary["preview_error"] = f"{type(exc).__name__}: {exc}"
            summary["error"] = summary["error"] or f"preview failed: {summary['preview_error']}"
            log(f"preview failed: {summary['preview_error']}")
    failed = [m["name"] for m in result["materials"] if m["status"] == "failed"]
    if failed:
        summary["error"] = f"{len(failed)} of {len(result['materials'])} material(s) failed: " + "; ".join(
            f"{m['name']}: {m['error']}" for m in result["materials"] if m["status"] == "failed")
    if args.save:
        target = bpy.data.filepath or os.path.join(out_dir, "baked.blend")
        try:
            if args.pack:
                bpy.ops.file.pack_all()
            bpy.ops.wm.save_mainfile(filepath=target)
        except Exception as exc:  # RuntimeError with Blender's report, e.g. a read-only folder
            summary["ok"] = False
            summary["error"] = f"could not save {target}: {str(exc).strip()}"
            log(summary["error"])
        else:
            summary["blend"] = target
            log(f"saved {target}")
    if args.asset_library:  # after saving: it marks the materials and re-paths their images
        library = import_module(blender.__name__ + ".asset_library")
        stem = Path(args.manifest or bpy.data.filepath or "texture_forge").stem
        sections = {e["name"]: e.get("section") for e in manifest}
        done = [m for m, r in zip(chosen, result["materials"]) if r["status"] != "failed"]
        try:
            summary["asset_library"] = library.write_asset_library(
                done, os.path.abspath(args.asset_library), stem, sections=sections, log=log)
        except Exception as exc:
            summary["ok"] = False
            summary["asset_library_error"] = f"{type(exc).__name__}: {exc}"
            log(f"asset library failed: {summary['asset_library_error']}")
    summary["total_seconds"] = round(time.monotonic() - t0, 3)
    return summary


def failure_summary(error: str) -> dict:
    """The JSON printed when the bake could not run at all: same shape, ``ok`` false."""
    return {"ok": False, "error": error, "materials": [], "startup_seconds": 0.0, "out": None,
            "total_seconds": 0.0, "preview": None, "blend": None}


def main(argv: list[str] | None = None) -> int:
    """Run the bake; print the JSON summary on stdout in every case; return the exit status."""
    if hasattr(signal, "SIGPIPE"):
        # Blender leaves SIGPIPE at its default (die); see the module docstring.
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


def in_blender_binary() -> bool:
    """True inside ``blender -b -P bake.py`` (not the bpy module run as plain Python)."""
    bpy = sys.modules.get("bpy")
    return bpy is not None and bool(getattr(bpy.app, "background", False)) \
        and not sys.argv[0].endswith("bake.py")


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    if in_blender_binary():
        # Blender would ignore our status (and exit 0 after an exception): end it ourselves. The
        # engine processes are already stopped and the .blend saved; nothing else is pending.
        os._exit(code)
    sys.exit(code)
