"""The fast smoothing and resampling helpers agree with the scipy operations they replace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

from brooker.localization import gaussian_smooth, sample_grid


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_sample_grid_matches_map_coordinates(h: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.random((h, w)).astype(np.float32)
    rows = rng.uniform(-3, h + 3, size=rng.integers(1, 30))
    cols = rng.uniform(-3, w + 3, size=rng.integers(1, 30))
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    ref = ndi.map_coordinates(a, [rr, cc], order=1, mode="nearest")
    np.testing.assert_allclose(sample_grid(a, rows, cols), ref, atol=1e-5)


@pytest.mark.parametrize("sigma", [3.0, 12.0, 18.0, 48.0, 72.0])
def test_gaussian_smooth_matches_gaussian_filter(sigma: float) -> None:
    # a step and a bright block of height 3: what soft-tissue/bone level maps look like
    x = np.zeros((340, 430), np.float32)
    x[:, 100:] = 1.0
    x[150:200, 200:260] = 3.0
    ref = ndi.gaussian_filter(x, sigma, mode="nearest")
    got = gaussian_smooth(x, sigma)
    assert got.shape == x.shape and got.dtype == np.float32
    # within 0.5 % of the block's height everywhere, including the borders
    assert float(np.abs(got - ref).max()) < 0.015


def test_gaussian_smooth_keeps_a_constant() -> None:
    x = np.full((101, 77), 7.5, np.float32)
    np.testing.assert_allclose(gaussian_smooth(x, 40.0), 7.5, rtol=1e-5)
