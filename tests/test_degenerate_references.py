"""References with (almost) no variation: a flat colour swatch, a 1-px checkerboard, 1-px stripes.

Their patch covariances are near zero and highly degenerate, where LAPACK's single-precision
eigen-solver gives up ("linalg.eigh: failed to converge"); grey, white and black happen to work.
Each runs through the real CLI entry (in-process, to stay quick) at sizes where it used to fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from texture_addon.cli import main
from texture_addon.engine import correspondence


def _swatch(kind: str, side: int) -> np.ndarray:
    if kind == "flat":
        return np.broadcast_to(np.array([200, 30, 30], np.uint8), (side, side, 3)).copy()
    yy, xx = np.indices((side, side))
    on = (yy + xx) % 2 if kind == "checker" else xx % 2
    return (on * 255).astype(np.uint8)[..., None].repeat(3, axis=2)


# (swatch, reference side, quality): each one failed to converge before the fallback.
CASES = [("flat", 32, "draft"), ("checker", 64, "default"), ("checker", 64, "high"),
         ("stripes", 64, "default"), ("stripes", 64, "high")]


@pytest.mark.parametrize("kind,side,quality", CASES)
def test_swatch_synthesises_into_the_same_pattern(tmp_path, capsys, kind, side, quality):
    ref = _swatch(kind, side)
    Image.fromarray(ref).save(tmp_path / "ref.png")
    out = tmp_path / "out.png"
    code = main(["synth", str(tmp_path / "ref.png"), "-o", str(out), "--size", "64", "--quality", quality])
    assert code == 0, capsys.readouterr().err
    img = np.asarray(Image.open(out))
    assert img.shape == (64, 64, 3)
    # The output is made of the reference's colours, in the same proportions.
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert colours <= {tuple(c) for c in ref.reshape(-1, 3)}
    assert abs(img.mean() - ref.mean()) < 2
    if kind != "flat":
        # Every pixel differs from its neighbour across the pattern's direction, as in the reference.
        assert (img[:, 1:] != img[:, :-1]).all()


def test_solver_failure_falls_back_to_double_precision(monkeypatch):
    """The fallback itself, whatever this machine's LAPACK does with the swatches above."""
    real = torch.linalg.eigh
    calls = []

    def single_fails(m: torch.Tensor):
        calls.append(m.dtype)
        if m.dtype == torch.float32:
            raise torch.linalg.LinAlgError("failed to converge")
        return real(m)

    monkeypatch.setattr(torch.linalg, "eigh", single_fails)
    a = torch.randn(6, 20, dtype=torch.float32)
    cov = a @ a.t()
    evals, evecs = correspondence._principal_axes(cov)
    assert calls == [torch.float32, torch.float64]
    assert evals.dtype == evecs.dtype == torch.float32
    torch.testing.assert_close(evecs @ torch.diag(evals) @ evecs.t(), cov, rtol=1e-4, atol=1e-4)


def test_double_failure_falls_back_to_the_identity(monkeypatch):
    def always_fails(m: torch.Tensor):
        raise torch.linalg.LinAlgError("failed to converge")

    monkeypatch.setattr(torch.linalg, "eigh", always_fails)
    cov = torch.diag(torch.tensor([3.0, 1.0, 2.0]))
    evals, evecs = correspondence._principal_axes(cov)
    torch.testing.assert_close(evals, torch.tensor([3.0, 1.0, 2.0]))
    torch.testing.assert_close(evecs, torch.eye(3))
