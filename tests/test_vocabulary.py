"""One vocabulary (issue 30): the CLI, the job contract, the engine and Blender's properties take
the same choices and ranges, all read from ``texture_addon/contract/vocabulary.py``.

The detail scale once was 0.25–4 in the contract and 0.125–8 in the engine, so the CLI accepted
values the worker refused; each layer's bounds are read back here, not restated.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from texture_addon.cli import main as cli_main
from texture_addon.contract import vocabulary as v
from texture_addon.contract.manifest import ManifestError, check_entry
from texture_addon.contract.spec import JobSpec, ReferenceSpec, SpecError

REPO = Path(__file__).resolve().parents[1]


def _spec_accepts(detail: float) -> bool:
    spec = JobSpec(references=[ReferenceSpec("r.png")], output_dir="/tmp/out", detail_scale=detail)
    try:
        spec.validate(check_files=False)
    except SpecError:
        return False
    return True


def _manifest_accepts(detail: float) -> bool:
    try:
        check_entry({"name": "M", "detail_scale": detail}, "test")
    except ManifestError:
        return False
    return True


def _cli_accepts(detail: float, capsys) -> tuple[bool, int]:
    """The synth parser alone: a refused value is a usage error before any file is read."""
    try:
        code = cli_main(["synth", "/nonexistent/ref.png", "-o", "/nonexistent/out.png",
                         "--detail-scale", repr(detail)])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    return "detail scale" not in err and "detail-scale" not in err, code


def _engine_accepts(detail: float) -> bool:
    from texture_addon.engine.synthesize import DETAIL_SCALE_RANGE
    lo, hi = DETAIL_SCALE_RANGE
    return lo <= detail <= hi


@pytest.mark.parametrize("detail, ok", [(v.MIN_DETAIL, True), (v.MAX_DETAIL, True), (1.0, True),
                                        (v.MIN_DETAIL * 0.99, False), (v.MAX_DETAIL * 1.01, False)])
def test_detail_scale_bounds_agree_across_cli_contract_manifest_and_engine(detail, ok, capsys):
    cli_ok, code = _cli_accepts(detail, capsys)
    assert (cli_ok, _spec_accepts(detail), _manifest_accepts(detail), _engine_accepts(detail)) == (ok,) * 4
    if not ok:
        assert code == 2


def test_the_detail_range_is_the_engines_wider_one():
    assert (v.MIN_DETAIL, v.MAX_DETAIL) == (0.125, 8.0)


def test_cli_choices_are_the_contracts():
    import argparse

    from texture_addon.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    synth = {a.dest: a for a in sub.choices["synth"]._actions}
    assert tuple(synth["tile"].choices) == v.TILE_MODES
    assert tuple(synth["method"].choices) == v.METHODS
    assert tuple(synth["quality"].choices) == v.QUALITIES
    assert tuple(synth["device"].choices) == v.DEVICES
    seamless = {a.dest: a for a in sub.choices["seamless"]._actions}
    assert tuple(seamless["method"].choices) == v.PATCH_METHODS


def test_blender_properties_read_the_contract():
    """Blender's enum items, size and detail bounds and map toggles, read back from RNA."""
    code = textwrap.dedent(f'''
        import json, sys
        sys.path.insert(0, {str(REPO)!r})
        import bpy
        from texture_addon.blender import properties as p
        for cls in p.CLASSES:
            bpy.utils.register_class(cls)
        rna = p.TextureForgeSettings.bl_rna.properties
        enum = lambda name: [i.identifier for i in rna[name].enum_items]
        print(json.dumps({{
            "detail": [rna["detail_scale"].hard_min, rna["detail_scale"].hard_max],
            "width": [rna["width"].hard_min, rna["width"].hard_max],
            "height": [rna["height"].hard_min, rna["height"].hard_max],
            "tile": enum("tile"), "quality": enum("quality"),
            "method": {{mode: [i[0] for i in p.method_items(mode)] for mode in p.MODE_TO_KIND}},
            "mode": enum("mode"), "size_preset": enum("size_preset"),
            "maps": [n[4:] for n in rna.keys() if n.startswith("map_")],
        }}))
    ''')
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["detail"] == pytest.approx([v.MIN_DETAIL, v.MAX_DETAIL])
    assert got["width"] == got["height"] == [v.MIN_SIZE, v.MAX_SIZE]
    assert (got["tile"], got["quality"]) == (list(v.TILE_MODES), list(v.QUALITIES))
    assert got["method"] == {"NEW": list(v.METHODS), "STYLIZE": list(v.METHODS),
                             "SEAMLESS": list(v.PATCH_METHODS), "MATERIAL": list(v.PATCH_METHODS)}
    assert got["mode"] == list(v.MODE_TO_KIND)
    assert got["size_preset"] == [*v.SIZE_PRESETS, "CUSTOM"]
    assert got["maps"] == list(v.MAP_NAMES)


def _string_tuples(path: Path) -> list[tuple[int, tuple[str, ...]]]:
    """Every tuple, list or set literal of two or more strings in ``path``, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            found.append((node.lineno, tuple(e.value for e in node.elts)))
    return found


def test_no_layer_spells_out_a_contract_list():
    """A literal copy of the map names, qualities, tilings, methods or devices outside the
    contract is how the layers drifted apart; read them from contract/vocabulary.py instead."""
    lists = {v.MAP_NAMES, v.QUALITIES, v.TILE_MODES, v.METHODS, v.DEVICES, v.PATCH_METHODS, v.RGB_MAPS,
             v.CNN_LOSSES, v.NORMAL_CONVENTIONS}
    vocabulary = REPO / "texture_addon" / "contract" / "vocabulary.py"
    copies = []
    for path in sorted([*(REPO / "texture_addon").rglob("*.py"), *(REPO / "scripts").glob("*.py")]):
        if path == vocabulary:
            continue
        for line, values in _string_tuples(path):
            if values in lists:
                copies.append(f"{path.relative_to(REPO)}:{line}: {values}")
    assert copies == []
