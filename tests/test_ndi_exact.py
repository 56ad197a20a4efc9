"""brooker.imaging's exact replacements: each equals the scipy call it stands for, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from brooker.imaging import (
    dilate_cross,
    distance_transform_edt,
    distance_transform_edt_indices,
    grey_opening_square,
    grey_openings_square,
    zoom_linear,
)


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
        image = (rng.random(shape) * 6 - 2).astype(np.float32)  # negative values too
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


def test_sample_grid_is_the_plain_formula() -> None:
    """imaging.sample_grid's blocked, in-place column pass = the one-line formula."""
    from brooker.imaging import sample_grid

    def plain(a: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        def axis(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            x = np.clip(np.asarray(x, dtype=np.float64), 0.0, n - 1)
            i0 = np.floor(x).astype(np.intp)
            return i0, np.minimum(i0 + 1, n - 1), (x - i0).astype(np.float32)

        r0, r1, fr = axis(rows, a.shape[0])
        c0, c1, fc = axis(cols, a.shape[1])
        a = np.asarray(a, dtype=np.float32)
        by_row = a[r0] * (1.0 - fr)[:, None] + a[r1] * fr[:, None]
        return np.asarray(by_row[:, c0] * (1.0 - fc) + by_row[:, c1] * fc, dtype=np.float32)

    rng = np.random.default_rng(3)
    for trial in range(100):
        a = rng.random((int(rng.integers(1, 60)), int(rng.integers(1, 60))))
        a = a.astype(np.float32 if trial % 2 else np.float64)
        rows = rng.uniform(-3, a.shape[0] + 3, int(rng.integers(1, 200)))
        cols = np.sort(rng.uniform(-3, a.shape[1] + 3, int(rng.integers(1, 90))))
        want, got = plain(a, rows, cols), sample_grid(a, rows, cols)
        assert got.dtype == want.dtype
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize(
    "sampling", [(0.2, 0.2), (0.17822, 0.17822), (0.1, 0.2), (0.14, 0.139), (1.0, 1.0)]
)
def test_distance_transform_edt_is_scipys(sampling: tuple[float, float]) -> None:
    rng = np.random.default_rng(5)
    masks = [np.ones((5, 7), bool), np.zeros((4, 4), bool), np.zeros((0, 3), bool)]
    for _ in range(15):
        shape = (int(rng.integers(1, 300)), int(rng.integers(1, 300)))
        blur = ndi.gaussian_filter(rng.random(shape), rng.uniform(0.5, 6))
        masks.append(blur > rng.uniform(0.4, 0.6))
    for mask in masks:
        want_d, want_i = ndi.distance_transform_edt(mask, sampling=sampling, return_indices=True)
        got_d, got_i = distance_transform_edt_indices(mask, sampling)
        assert got_d.dtype == want_d.dtype
        assert np.array_equal(got_d.view(np.uint64), want_d.view(np.uint64))
        assert np.array_equal(got_i, want_i)
        alone = distance_transform_edt(mask, sampling)
        assert np.array_equal(alone.view(np.uint64), want_d.view(np.uint64))


@pytest.mark.parametrize("zoom", [(2.5, 2.5), (1.0, 1.0), (0.4, 3.0)])
def test_zoom_linear_signed_zeros_and_infinities(zoom: tuple[float, float]) -> None:
    """scipy sums the taps from +0.0 (an all -0.0 image zooms to +0.0) and returns an image
    zoomed by exactly 1 as it is (no 0 x inf taps next to an infinity)."""
    inf_mid = np.zeros((3, 3), np.float32)
    inf_mid[1, 1] = np.inf
    for image in (np.full((4, 5), -0.0, np.float32), inf_mid):
        want = ndi.zoom(image, zoom, order=1, mode="nearest", grid_mode=True)
        with np.errstate(invalid="ignore"):
            got = zoom_linear(image, zoom)
        assert got.shape == want.shape
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (image, zoom)


def test_grey_opening_square_is_scipys() -> None:
    """Bit for bit, float32 and float64, with ties, signed zeros and infinities, transposed
    (non-contiguous) images, squares up to and beyond the image's size (scipy's fallback)."""
    rng = np.random.default_rng(11)
    for trial in range(600):
        shape = (int(rng.integers(1, 60)), int(rng.integers(1, 60)))
        dtype = np.float32 if trial % 3 else np.float64
        if trial % 5 == 0:
            image = rng.integers(-3, 4, shape).astype(dtype)  # many ties
        else:
            image = (rng.random(shape) * 10 - 5).astype(dtype)
        if trial % 7 == 0:
            image[rng.random(shape) < 0.3] = -0.0
            image[rng.random(shape) < 0.3] = 0.0
        if trial % 11 == 0:
            image[rng.random(shape) < 0.05] = np.inf
            image[rng.random(shape) < 0.05] = -np.inf
        if trial % 13 == 0:
            image = image.T
        size = 2 * int(rng.integers(0, 35)) + 1
        want = ndi.grey_opening(image, size=(size, size))
        got = grey_opening_square(image, size)
        bits = np.uint32 if dtype == np.float32 else np.uint64
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        assert np.array_equal(got.view(bits), want.view(bits)), (shape, size)
    # a film-sized image, as the burned-text search opens it
    film = ndi.gaussian_filter(rng.random((400, 520)), 2).astype(np.float32)
    for size in (11, 17, 25, 33, 49):
        want = ndi.grey_opening(film, size=(size, size))
        assert np.array_equal(grey_opening_square(film, size).view(np.uint32), want.view(np.uint32))


def test_grey_opening_square_wants_an_odd_size() -> None:
    with pytest.raises(ValueError, match="odd"):
        grey_opening_square(np.zeros((9, 9), np.float32), 4)


def test_grey_openings_square_are_scipys() -> None:
    """Several sizes at once (the minima shared, chained or made afresh when a size is more
    than twice the last): each opening scipy's, bit for bit."""
    rng = np.random.default_rng(12)
    for trial in range(300):
        shape = (int(rng.integers(1, 70)), int(rng.integers(1, 70)))
        image = (rng.random(shape) * 10 - 5).astype(np.float32 if trial % 2 else np.float64)
        if trial % 4 == 0:
            image = np.round(image)  # ties
            image[rng.random(shape) < 0.2] = -0.0
        sizes = tuple(2 * int(k) + 1 for k in rng.integers(0, 30, int(rng.integers(1, 6))))
        got = grey_openings_square(image, sizes)
        assert sorted(got) == sorted(set(sizes))
        bits = np.uint32 if image.dtype == np.float32 else np.uint64
        for size in sizes:
            want = ndi.grey_opening(image, size=(size, size))
            assert got[size].shape == want.shape
            assert np.array_equal(got[size].view(bits), want.view(bits)), (shape, sizes, size)
    film = ndi.gaussian_filter(rng.random((400, 520)), 2).astype(np.float32)
    got = grey_openings_square(film, (33, 11, 17, 25))  # the burned-text search's sizes
    for size in (11, 17, 25, 33):
        want = ndi.grey_opening(film, size=(size, size))
        assert np.array_equal(got[size].view(np.uint32), want.view(np.uint32))
    with pytest.raises(ValueError, match="odd"):
        grey_openings_square(film, (11, 12))


def _peak_images(seed: int) -> list[np.ndarray]:
    """Images whose local maxima are as the calibration meets them (distance maps of metal
    blobs: plateaus and ridges, many ties) and as noise gives them, flat ones included."""
    rng = np.random.default_rng(seed)
    out = [np.zeros((1, 1)), np.ones((1, 1)), np.zeros((9, 7)), np.full((12, 12), 3.0)]
    for _ in range(120):
        shape = (int(rng.integers(1, 60)), int(rng.integers(1, 60)))
        kind = rng.integers(3)
        if kind == 0:
            out.append(rng.random(shape))
        elif kind == 1:
            out.append(rng.integers(0, 4, shape).astype(float))  # ties everywhere
        else:
            blob = ndi.gaussian_filter(rng.random(shape), 2) > 0.5
            out.append(ndi.distance_transform_edt(blob, sampling=(1.0, rng.uniform(0.5, 2))))
    return out


@pytest.mark.parametrize("min_distance", [1, 2, 3, 7])
def test_peak_local_max_is_scikit_images(min_distance: int) -> None:
    """brooker.imaging.peak_local_max against scikit-image's, whose module imports
    scipy.spatial: the same peaks in the same order, thresholds and peak counts varied."""
    from skimage.feature import peak_local_max as skimage_peaks

    from brooker.imaging import peak_local_max

    rng = np.random.default_rng(min_distance)
    compared = kept_apart = 0
    for image in _peak_images(min_distance):
        top = float(image.max())
        for threshold in (0.0, 0.5 * top, float(rng.uniform(-1, top + 0.1))):
            for num_peaks in (0, 1, 4, 50):
                want = skimage_peaks(
                    image, min_distance=min_distance, threshold_abs=threshold,
                    num_peaks=num_peaks,
                )
                got = peak_local_max(
                    image, min_distance=min_distance, threshold_abs=threshold,
                    num_peaks=num_peaks,
                )
                assert got.shape == want.shape
                assert np.array_equal(got, want)
                compared += 1
                kept_apart += int(len(want) > 1)
    assert compared > 1000
    assert kept_apart > 100  # peaks were found and spaced, not just none
