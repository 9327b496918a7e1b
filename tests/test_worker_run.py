"""Job runner, in-process: outputs are all-or-nothing, and missing engine features fail clearly."""

from __future__ import annotations

import types

import numpy as np
import pytest

from texture_addon.engine.progress import CancelToken
from texture_addon.errors import Cancelled, TextureForgeError
from texture_addon.contract.spec import JobSpec, ReferenceSpec, SpecError
from texture_addon.jobs import engine_api, run


class CancelAfterChecks(CancelToken):
    """Fires on the n-th check, i.e. between two map files."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def raise_if_cancelled(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.cancel()
        super().raise_if_cancelled()


def maps() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"basecolor": rng.random((64, 64, 3), dtype=np.float32), "height": rng.random((64, 64), dtype=np.float32),
            "roughness": rng.random((64, 64), dtype=np.float32)}


def test_cancel_between_files_leaves_no_outputs_and_keeps_previous_ones(tmp_path):
    previous = tmp_path / "wall_basecolor.png"
    previous.write_bytes(b"an artist's earlier texture")
    with pytest.raises(Cancelled):
        run._write_all_or_nothing(maps(), tmp_path, "wall_", CancelAfterChecks(2))  # after the first file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wall_basecolor.png"]
    assert previous.read_bytes() == b"an artist's earlier texture"


def test_complete_write_moves_every_map_into_place(tmp_path):
    wanted = {k: v for k, v in maps().items() if k != "height"}
    out = run._write_all_or_nothing(wanted, tmp_path / "new", "wall_", CancelToken())
    assert {k: v.name for k, v in out.items()} == {"basecolor": "wall_basecolor.png", "roughness": "wall_roughness.png"}
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == sorted(v.name for v in out.values())


def test_height_map_is_written_sixteen_bit(tmp_path):
    out = run._write_all_or_nothing({"height": maps()["height"]}, tmp_path, "wall_", CancelToken())
    from PIL import Image
    assert Image.open(out["height"]).mode.startswith("I;16")


def test_missing_engine_function_is_a_clear_error():
    with pytest.raises(TextureForgeError, match=r"style transfer .* is not available in this build"):
        engine_api.require(types.SimpleNamespace(), "stylize", "style transfer (kind 'stylize')")


def test_job_needing_a_missing_engine_function_fails_before_synthesising(tmp_path, monkeypatch):
    import texture_addon.engine as engine

    monkeypatch.delattr(engine, "derive_maps", raising=False)
    monkeypatch.setattr(engine, "synthesize", lambda *a, **k: pytest.fail("synthesised before checking"))
    ref = tmp_path / "ref.png"
    from PIL import Image
    Image.new("RGB", (32, 32), (120, 80, 40)).save(ref)
    spec = JobSpec(references=[ReferenceSpec(str(ref))], output_dir=str(tmp_path / "out"), width=64, height=64,
                   maps=["basecolor", "height"])
    with pytest.raises(TextureForgeError, match=r"maps other than basecolor \(height\) is not available"):
        run.run_job(spec)
    assert not (tmp_path / "out").exists()


def test_run_job_validates_before_loading_anything(tmp_path):
    spec = JobSpec(references=[ReferenceSpec(str(tmp_path / "nope.png"))], output_dir=str(tmp_path), width=64, height=64)
    with pytest.raises(SpecError, match=r"reference 1: file not found: .*nope\.png"):
        run.run_job(spec)
    assert list(tmp_path.iterdir()) == []


def test_the_engine_process_validates_an_arriving_job_once(tmp_path, monkeypatch):
    """The receiving side of the process boundary checks the spec once (jobs/run.py); parsing the
    JSON (from_dict) checks only its structure."""
    from PIL import Image

    from texture_addon.worker.engine_side.server import Worker

    checks: list[bool] = []
    real = JobSpec.validate

    def counting(self: JobSpec, check_files: bool = True) -> None:
        checks.append(check_files)
        real(self, check_files)

    monkeypatch.setattr(JobSpec, "validate", counting)
    monkeypatch.setattr(run, "_compute_maps", lambda spec, progress, cancel: {"basecolor": maps()["basecolor"]})
    ref = tmp_path / "ref.png"
    Image.new("RGB", (32, 32), (120, 80, 40)).save(ref)
    spec = JobSpec(references=[ReferenceSpec(str(ref))], output_dir=str(tmp_path / "out"), width=64, height=64)
    sent: list[dict] = []
    worker = Worker(types.SimpleNamespace(send=sent.append), "cpu", 60.0, tmp_path / "logs", tmp_path / "previews")
    final = worker._run("job1", spec.to_dict(), CancelToken())
    assert final["type"] == "result", final
    assert checks == [True]
