"""brooker.ndi_exact: each replacement equals the scipy call it stands for, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from brooker.ndi_exact import dilate_cross, zoom_linear


def _masks(seed: int, n: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = [np.zeros((0, 5), bool), np.ones((1, 1), bool), np.ones((7, 9), bool)]
    for _ in range(n):
        shape = (int(rng.integers(1, 50)), int(rng.integers(1, 50)))
        out.append(rng.random(shape) < rng.random())
    # blobs the size of bone, not only salt and pepper
    out.append(ndi.gaussian_filter(rng.random((300, 200)), 4) > 0.5)
    return out


@pytest.mark.parametrize("iterations", [1, 2, 3])
def test_dilate_cross_is_binary_dilation(iterations: int) -> None:
    for mask in _masks(iterations):
        want = ndi.binary_dilation(mask, iterations=iterations)
        got = dilate_cross(mask, iterations)
        assert got.dtype == np.bool_
        assert got.shape == mask.shape
        assert np.array_equal(got, want)


def test_dilate_cross_leaves_its_input() -> None:
    mask = np.zeros((5, 5), bool)
    mask[2, 2] = True
    dilate_cross(mask, 2)
    assert mask.sum() == 1


def test_dilate_cross_rejects_until_stable() -> None:
    with pytest.raises(ValueError, match="iterations"):
        dilate_cross(np.ones((3, 3), bool), 0)


def test_zoom_linear_is_ndi_zoom() -> None:
    rng = np.random.default_rng(7)
    zooms = [(1.0, 1.0), (0.2, 0.2), (5.0, 5.0), (5.0, 2.5), (0.1782, 0.1782), (1.0, 0.5)]
    for trial in range(200):
        shape = (int(rng.integers(1, 80)), int(rng.integers(1, 80)))
        image = (rng.random(shape) * 6 - 2).astype(np.float32)  # negative values too: -0.0 taps
        if trial % 4 == 0:
            image[image < 0.5] = 0.0
        zoom = zooms[trial] if trial < len(zooms) else tuple(rng.uniform(0.1, 7, 2))
        want = ndi.zoom(image, zoom, order=1, mode="nearest", grid_mode=True)
        got = zoom_linear(image, zoom)
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (shape, zoom)


def test_zoom_linear_wants_float32() -> None:
    with pytest.raises(ValueError, match="float32"):
        zoom_linear(np.zeros((3, 3)), (2.0, 2.0))
