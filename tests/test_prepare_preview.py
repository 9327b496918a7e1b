"""The Prepare box's small preview (plain numpy): it follows Flatten, the corners and the mask."""

from __future__ import annotations

import numpy as np

from texture_addon.references.prepare.preview import HEAL_TINT, PREVIEW_SIDE, preview


def lit_photo(h: int = 300, w: int = 400) -> np.ndarray:
    """Fine noise under a strong left-to-right light gradient."""
    rng = np.random.RandomState(0)
    texture = 0.5 + 0.2 * rng.rand(h, w, 1)
    light = np.linspace(0.3, 1.0, w)[None, :, None]
    return np.repeat(texture * light, 3, axis=2).astype(np.float32)


def test_the_preview_is_small_whatever_the_photo():
    out = preview(lit_photo())
    assert max(out.shape[:2]) <= PREVIEW_SIDE and out.shape[2] == 3 and out.dtype == np.float32


def test_flatten_evens_out_the_preview():
    photo = lit_photo()
    plain, flat = preview(photo), preview(photo, flatten_light=True)
    spread = lambda a: a.mean(axis=(0, 2))[5:-5].std()  # noqa: E731 - column brightness over the width
    assert spread(flat) < 0.3 * spread(plain), (spread(flat), spread(plain))


def test_corners_change_the_preview_to_the_straightened_quad():
    photo = lit_photo()
    whole = preview(photo)
    left_half = preview(photo, corners=[0, 0, 200, 0, 200, 300, 0, 300])
    assert left_half.shape[1] < whole.shape[1]  # the quad's own proportions (2:3 against 4:3)
    assert left_half.mean() < whole.mean()  # the darker half of the light


def test_the_area_to_heal_is_tinted_and_the_rest_kept():
    photo = lit_photo()
    mask = np.zeros(photo.shape[:2], bool)
    mask[100:160, 150:250] = True
    plain, marked = preview(photo), preview(photo, mask=mask)
    changed = np.abs(marked - plain).max(axis=2) > 1e-6
    assert changed.any() and changed.mean() < 0.1
    assert np.allclose(marked[~changed], plain[~changed])
    tint = marked[changed].mean(axis=0) - plain[changed].mean(axis=0)
    assert np.sign(tint[0] - tint[1]) == np.sign(HEAL_TINT[0] - HEAL_TINT[1])
