"""The VGG19 loader, on small weight files the tests write in torchvision's key layout."""

from __future__ import annotations

import pickle

import pytest
import torch

from texture_addon.engine import seam_score, synthesize
from texture_addon.engine.networks import VGG19_NEEDED, VGG19Features, load_vgg19_weights
from texture_addon.errors import InputError


def narrow_vgg19_state(widths=(4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8), seed=0) -> dict:
    """torchvision ``vgg19().features`` keys with narrow layers (real VGG19 is 64…512 wide)."""
    gen = torch.Generator().manual_seed(seed)
    state, c_in = {}, 3
    for idx, c_out in zip(VGG19_NEEDED, widths):
        state[f"features.{idx}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=gen) * 0.3
        state[f"features.{idx}.bias"] = torch.zeros(c_out)
        c_in = c_out
    return state


def test_loads_a_state_dict_in_torchvision_layout(tmp_path):
    path = tmp_path / "vgg19.pth"
    torch.save(narrow_vgg19_state(), path)
    state = load_vgg19_weights(path)
    assert set(state) == {f"features.{i}.{p}" for i in VGG19_NEEDED for p in ("weight", "bias")}
    feats = VGG19Features(state)(torch.rand(1, 3, 32, 32))
    assert [f.shape[1] for f in feats] == [4, 8, 8, 8, 8]


def test_vgg_features_drive_a_tileable_synthesis(tmp_path, example):
    path = tmp_path / "vgg19.pth"
    torch.save(narrow_vgg19_state(), path)
    ref = example("lichen", 64)
    out = synthesize([ref], width=64, quality="draft", method="cnn", vgg_weights=str(path))
    assert out.shape == (64, 64, 3) and out.std() > 0.02
    assert seam_score(out) < 2.0


def test_refuses_wrong_shapes(tmp_path):
    state = narrow_vgg19_state()
    state["features.5.weight"] = torch.randn(8, 7, 3, 3)  # input channels do not chain
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(InputError, match=r"features\.5\.weight has shape \(8, 7, 3, 3\)"):
        load_vgg19_weights(path)


def test_refuses_missing_keys(tmp_path):
    state = narrow_vgg19_state()
    del state["features.28.bias"]
    path = tmp_path / "short.pth"
    torch.save(state, path)
    with pytest.raises(InputError, match="lacks features.28.bias"):
        load_vgg19_weights(path)


class Payload:
    """Stands for arbitrary code smuggled in a pickle: weights_only loading must refuse it."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_refuses_pickled_objects(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"features.0.weight": Payload()}, fh)
    with pytest.raises(InputError, match="refused to load"):
        load_vgg19_weights(path)
    assert "must never run" not in capsys.readouterr().out


def test_refuses_non_torch_files_and_non_dicts(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InputError, match="refused to load"):
        load_vgg19_weights(text)
    lst = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], lst)
    with pytest.raises(InputError, match="not a state dict"):
        load_vgg19_weights(lst)
    with pytest.raises(InputError, match="not found"):
        load_vgg19_weights(tmp_path / "missing.pth")
