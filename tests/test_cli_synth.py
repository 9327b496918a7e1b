"""The real ``python -m texture_addon synth`` in a subprocess: outputs, progress, and every bad input."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import EXAMPLES, run_cli
from texture_addon.engine import seam_score

FAST = ("--quality", "draft")


@pytest.fixture(scope="module")
def ref_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("refs") / "lichen.png"
    Image.open(EXAMPLES / "lichen.png").resize((96, 96)).save(path)
    return path


def test_writes_8bit_srgb_png_of_exact_size_with_progress(tmp_path, ref_png):
    out = tmp_path / "t.png"
    r = run_cli("synth", ref_png, "-o", out, "--size", 96, "--height", 64, "--seed", 3, *FAST)
    assert r.returncode == 0, r.stderr
    img = Image.open(out)
    assert img.size == (96, 64) and img.mode == "RGB"
    assert "level" in r.stderr and "100.0%" in r.stderr  # plain progress lines when not a terminal
    assert "\r" not in r.stderr
    arr = np.asarray(img) / 255.0
    assert arr.std() > 0.02
    assert [p.name for p in tmp_path.iterdir()] == ["t.png"]  # no temporary files left


def test_two_weighted_references_and_options(tmp_path, ref_png):
    out = tmp_path / "blend.png"
    r = run_cli("synth", ref_png, EXAMPLES / "wood.png", "--weights", "1,0.5", "-o", out, "--size", 64,
                "--no-tile", "--method", "cnn", "--detail-scale", "0.5", *FAST)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (64, 64)


def _variants(tmp_path, src):
    base = Image.open(src).resize((64, 64)).convert("RGB")
    grey = base.convert("L")
    made = {
        "grey.png": grey,
        "alpha.png": base.convert("RGBA"),
        "grey_alpha.png": grey.convert("LA"),
        "palette.gif": base.convert("P", palette=Image.ADAPTIVE),
        "sixteen.png": Image.fromarray(np.asarray(grey, np.uint16) * 257),
        "photo.jpg": base,
    }
    paths = []
    for name, im in made.items():
        p = tmp_path / name
        im.save(p)
        paths.append(p)
    return paths


def test_accepts_16bit_alpha_greyscale_and_palette_images(tmp_path, ref_png):
    for src in _variants(tmp_path, ref_png):
        out = tmp_path / f"out_{src.stem}.png"
        r = run_cli("synth", src, "-o", out, "--size", 64, *FAST)
        assert r.returncode == 0, (src.name, r.stderr)
        assert Image.open(out).size == (64, 64)


def _assert_clean_failure(r, out, needle):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in r.stderr
    if out is not None:
        assert not os.path.exists(out)
        assert not [p for p in os.listdir(os.path.dirname(out)) if p.endswith(".part")]


def test_missing_file(tmp_path):
    out = tmp_path / "o.png"
    _assert_clean_failure(run_cli("synth", tmp_path / "nope.png", "-o", out, "--size", 64), out, "file not found")


def test_a_refused_command_answers_without_loading_torch(tmp_path, ref_png):
    """A farm script's typo is reported at once: the engine (and torch, ~1 s) loads only after the
    command's flags and files have been checked."""
    import subprocess
    import sys

    code = ("import sys\nfrom texture_addon.cli import main\n"
            "def run(argv):\n    try:\n        return main(argv)\n    except SystemExit as e:\n        return e.code\n"
            f"rc = run(['synth', {str(tmp_path / 'nope.png')!r}, '-o', {str(tmp_path / 'o.png')!r}])\n"
            f"rc2 = run(['synth', {str(ref_png)!r}, '-o', {str(tmp_path / 'o.png')!r}, '--size', '5000'])\n"
            "print(rc, rc2, 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=EXAMPLES.parent)
    assert proc.stdout.split() == ["2", "2", "False"], proc.stdout + proc.stderr
    assert "file not found" in proc.stderr and "size" in proc.stderr


def test_corrupt_image(tmp_path, ref_png):
    bad = tmp_path / "truncated.png"
    bad.write_bytes(ref_png.read_bytes()[:300])
    out = tmp_path / "o.png"
    _assert_clean_failure(run_cli("synth", bad, "-o", out, "--size", 64), out, "truncated.png")


def test_non_image_file(tmp_path):
    txt = tmp_path / "readme.png"
    txt.write_text("not an image at all")
    out = tmp_path / "o.png"
    _assert_clean_failure(run_cli("synth", txt, "-o", out, "--size", 64), out, "not an image")


@pytest.mark.parametrize("size", ["32", "5000", "abc"])
def test_size_out_of_range(tmp_path, ref_png, size):
    out = tmp_path / "o.png"
    _assert_clean_failure(run_cli("synth", ref_png, "-o", out, "--size", size), out, "size")


def test_weights_count_mismatch(tmp_path, ref_png):
    out = tmp_path / "o.png"
    _assert_clean_failure(run_cli("synth", ref_png, "--weights", "1,2", "-o", out, "--size", 64), out, "--weights")


def test_vgg_weights_of_wrong_shape(tmp_path, ref_png):
    wfile = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(4, 3, 5, 5), "features.0.bias": torch.zeros(4)}, wfile)
    out = tmp_path / "o.png"
    r = run_cli("synth", ref_png, "-o", out, "--size", 64, "--method", "cnn", "--vgg-weights", wfile, *FAST)
    _assert_clean_failure(r, out, "features.0.weight has shape (4, 3, 5, 5)")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_vgg_weights_holding_a_pickled_object(tmp_path, ref_png):
    wfile = tmp_path / "vgg.pth"
    with open(wfile, "wb") as fh:
        pickle.dump({"features.0.weight": _Evil()}, fh)
    out = tmp_path / "o.png"
    r = run_cli("synth", ref_png, "-o", out, "--size", 64, "--method", "cnn", "--vgg-weights", wfile, *FAST)
    _assert_clean_failure(r, out, "refused to load")
    assert "pwned" not in r.stdout


def test_unwritable_output(tmp_path, ref_png):
    _assert_clean_failure(run_cli("synth", ref_png, "-o", tmp_path / "no" / "such" / "o.png", "--size", 64), None,
                          "output folder does not exist")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # running as root: permissions do not bind; use a file as "folder"
            blocker = tmp_path / "afile"
            blocker.write_text("x")
            r = run_cli("synth", ref_png, "-o", blocker / "o.png", "--size", 64, *FAST)
            _assert_clean_failure(r, None, "output folder")
        else:
            r = run_cli("synth", ref_png, "-o", locked / "o.png", "--size", 64, *FAST)
            _assert_clean_failure(r, locked / "o.png", "not writable")
    finally:
        locked.chmod(0o700)


def test_existing_output_survives_a_failed_run(tmp_path):
    out = tmp_path / "keep.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out)
    before = out.read_bytes()
    r = run_cli("synth", tmp_path / "missing.png", "-o", out, "--size", 64)
    assert r.returncode == 2 and out.read_bytes() == before


def test_output_tiles(tmp_path, ref_png):
    out = tmp_path / "t.png"
    assert run_cli("synth", ref_png, "-o", out, "--size", 128, "--seed", 3, *FAST).returncode == 0
    arr = np.asarray(Image.open(out), np.float64) / 255
    assert seam_score(arr) < 1.3


def test_a_finished_command_leaves_without_tearing_torch_down(tmp_path, ref_png):
    """Interpreter teardown after torch costs ~0.3 s per process; the CLI skips it once its files
    are in place. An exit handler registered in the process shows which way it left."""
    import subprocess
    import sys

    from conftest import ROOT

    out, marker = tmp_path / "t.png", tmp_path / "teardown-ran"
    code = ("import atexit, runpy, sys; m = sys.argv[1]; atexit.register(lambda: open(m, 'w').close()); "
            "sys.argv = ['texture_addon', *sys.argv[2:]]; runpy.run_module('texture_addon', run_name='__main__')")
    args = [sys.executable, "-c", code, str(marker), "synth", str(ref_png), "-o", str(out), "--size", "64", *FAST]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (64, 64) and "100.0%" in r.stderr
    assert not marker.exists()
    # an input error still leaves with its status (2), the same quick way
    r = subprocess.run([*args[:5], str(tmp_path / "missing.png"), "-o", str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 2 and "not found" in r.stderr and not marker.exists()
