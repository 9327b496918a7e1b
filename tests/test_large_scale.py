"""Order at a distance (evaluation.large_scale), the processes that give it a truth, and the large suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from texture_addon.evaluation.large_scale import BandFigures, autocorrelation, band_figures, meets_target
from texture_addon.evaluation.processes import PROCESSES, draw

ROOT = Path(__file__).resolve().parents[1]


def test_autocorrelation_matches_its_definition_at_a_few_lags():
    x = np.random.default_rng(0).random((32, 32))
    c = x - x.mean()
    acf = autocorrelation(x)
    for dy, dx in ((0, 0), (3, 5), (-7, 2), (16, 16)):
        direct = (c * np.roll(c, (-dy, -dx), axis=(0, 1))).sum() / (c * c).sum()
        assert acf[dy, dx] == pytest.approx(direct, abs=1e-10)


def test_white_noise_is_about_zero_in_every_band():
    f = band_figures(np.random.default_rng(1).random((512, 512)))
    for v in (f.near, f.mid, f.far):
        assert v is not None and v < 0.8 * 2 / 512  # ≈ 0.8 / sqrt(pixels)


def test_a_periodic_stripe_gives_the_mean_of_abs_cosine():
    """Luminance cos(2πx/P): the autocorrelation at lag (dy, dx) is cos(2π dx/P)."""
    n, period = 512, 32
    x = np.cos(2 * np.pi * np.arange(n) / period)[None, :].repeat(n, 0)
    f = band_figures(x)
    dy, dx = np.meshgrid(np.fft.fftfreq(n, 1 / n), np.fft.fftfreq(n, 1 / n), indexing="ij")
    r = np.hypot(dy, dx)
    expected = np.abs(np.cos(2 * np.pi * dx / period))
    assert f.near == pytest.approx(expected[(r >= 16) & (r < 48)].mean(), abs=1e-9)
    assert f.far == pytest.approx(expected[(r >= 192) & (r <= 256)].mean(), abs=1e-9)
    assert f.mid == pytest.approx(2 / np.pi, abs=0.01)


def test_a_reference_tiled_has_a_high_mid_the_process_drawn_large_does_not():
    ref = draw("discs", 128, 1).image
    tiled = np.tile(ref, (8, 8, 1))
    truth = band_figures(draw("discs", 1024, 2).image)
    worst = band_figures(tiled)
    assert worst.mid > 3 * truth.mid and worst.far > 3 * truth.far
    assert not meets_target(worst, truth).ok and meets_target(truth, truth).ok


def test_the_target_catches_clumps_lattices_and_blur():
    truth = BandFigures(0.04, 0.004, 0.004)
    assert meets_target(BandFigures(0.05, 0.008, 0.01), truth).ok
    assert not meets_target(BandFigures(0.07, 0.004, 0.004), truth).near_ok  # clumped
    assert not meets_target(BandFigures(0.04, 0.012, 0.004), truth).mid_ok  # a lattice
    assert not meets_target(BandFigures(0.02, 0.004, 0.004), truth).near_ok  # evened out by blurring


def _seam_ratio(img: np.ndarray) -> float:
    """Mean |difference| across the wrap-around edges ÷ the same between neighbouring pixels inside."""
    a = img.astype(np.float64).mean(axis=2)
    edge = np.abs(a[:, 0] - a[:, -1]).mean() + np.abs(a[0] - a[-1]).mean()
    inner = np.abs(np.diff(a, axis=1)).mean() + np.abs(np.diff(a, axis=0)).mean()
    return edge / inner


@pytest.mark.parametrize("name", list(PROCESSES))
def test_processes_tile_are_seeded_and_keep_their_density(name):
    small, again, other = draw(name, 256, 1), draw(name, 256, 1), draw(name, 256, 2)
    large = draw(name, 768, 3)
    assert small.image.shape == (256, 256, 3) and small.image.dtype == np.uint8
    assert np.array_equal(small.image, again.image) and not np.array_equal(small.image, other.image)
    assert _seam_ratio(small.image) < 1.3 and _seam_ratio(large.image) < 1.3
    assert _seam_ratio(large.image[:256, :256]) > 1.5  # a cut that does not tile is seen as one
    assert large.features / 768 ** 2 == pytest.approx(small.features / 256 ** 2, rel=0.01)
    assert large.image.mean() == pytest.approx(small.image.mean(), abs=6)  # same share of features and ground
    f_small, f_large = band_figures(small.image), band_figures(large.image)
    assert f_large.near == pytest.approx(f_small.near, rel=0.5)  # features of the same size


def test_unknown_process_names_the_known_ones():
    with pytest.raises(KeyError, match="discs"):
        draw("nosuch", 64, 0)


def test_large_suite_table_on_a_tiny_run(tmp_path):
    """64² reference to 128² at draft: ours, the truth and the tiled reference, the verdict, the sheet."""
    out = tmp_path / "b"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--suite", "large", "--refs", "discs",
                           "--sizes", "128", "--ref-size", "64", "--quality", "draft", "--peers", "none",
                           "--sheet-width", "96", "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {}
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| discs "):
            rows[cells[2]] = cells
    assert set(rows) == {"ours", "truth", "tiled"}
    ours, truth, tiled = rows["ours"], rows["truth"], rows["tiled"]
    assert 0 < float(ours[3]) < 1 and 0 < float(ours[4]) < 1 and ours[5] == "—"  # no far band at 128²
    assert float(tiled[4]) > float(truth[4])  # the reference repeated twice: its period is in the mid band
    assert float(ours[8]) > 0 and float(ours[10]) > 100  # wall s, peak MiB of the engine process
    assert ours[11] in ("pass", "fail (near)", "fail (mid)", "fail (near, mid)") and truth[11] == "—"
    assert "128²: ours meets the target" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    r = results["rows"][0]["results"]["ours"]
    assert r["near"] == pytest.approx(float(ours[3]), abs=1e-4) and isinstance(r["near_ok"], bool)
    from PIL import Image

    sheet = Image.open(out / "contact_sheet.png")
    # reference tiled | ours | truth | ours 1:1, each 96 px wide, 8 px apart, 40 px labels
    assert sheet.size == (4 * 96 + 3 * 8, 96 + 40 + 8)


def test_large_suite_unknown_case_is_one_clear_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--suite", "large", "--refs", "nosuch",
                           "--sizes", "128", "--peers", "none", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: unknown case nosuch (known: discs, stones, pebbles")
