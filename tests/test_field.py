"""Collimator shutters: the exposed field on the 1 mm analysis grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brooker.localization import exposed_field


def _film(
    shutter: str | None, angle_deg: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A 300 x 360 mm film at 1 mm: soft tissue with two bone blobs, and optionally shutters."""
    rng = np.random.default_rng(seed)
    h, w = 300, 360
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    img = 1000 + 300 * np.exp(-(((xx - w / 2) / 120) ** 2))  # a body brighter in the middle
    for cy, cx in ((150, 100), (150, 260)):
        img += 800 * (((yy - cy) / 40) ** 2 + ((xx - cx) / 25) ** 2 <= 1)
    img += rng.normal(0, 15, img.shape)
    a = math.radians(angle_deg)
    xr = math.cos(a) * (xx - w / 2) + math.sin(a) * (yy - h / 2)
    yr = -math.sin(a) * (xx - w / 2) + math.cos(a) * (yy - h / 2)
    inside = (yr > -h / 2 + 20) & (yr < h / 2 - 15) & (xr > -w / 2 + 25) & (xr < w / 2 - 18)
    if shutter == "white":
        img = np.where(inside, img, 4000 + rng.normal(0, 10, img.shape))
    elif shutter == "black":
        img = np.where(inside, img, 0.0)
    return img.astype(np.float32), inside


@pytest.mark.parametrize("shutter", ["white", "black"])
@pytest.mark.parametrize("angle", [0.0, 2.5, -2.0])
def test_shutters_are_outside_the_field(shutter: str, angle: float) -> None:
    img, inside = _film(shutter, angle)
    field = exposed_field(img, 1.0)
    # nothing outside the shutters is left in the field, and at most a 2 mm rim inside is lost
    assert not (field & ~inside).any()
    from scipy import ndimage as ndi

    core = ndi.binary_erosion(inside, iterations=3)
    assert field[core].all()


def test_no_shutter_keeps_the_whole_film() -> None:
    img, _ = _film(None)
    assert exposed_field(img, 1.0).all()
