"""Image primitives the perception stages share: sampling and smoothing on grids, level
surfaces, hole filling, windows and distances in millimetres, openings by a disk.

Stages call these, not each other's internals (``docs`` of the team: shared primitives in a
module of their own). Nothing here knows about hips; everything is numpy and scipy.

Some functions are exact replacements for scipy.ndimage calls that cost more than they need
to: each gives, bit for bit, what the scipy call named in its docstring gives (the tests in
``tests/test_ndi_exact.py`` compare them on random and adversarial inputs); on a hip's region
of interest (about 575 x 425 pixels at the 0.4 mm working pitch; 1150 x 850 on a 0.2 mm film
segmented at full resolution) the general-purpose scipy routine is slower than
the same arithmetic done by whole rows or blocks of rows.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

BoolImage = npt.NDArray[np.bool_]
FloatImage = npt.NDArray[np.float32]

#: Rows per block of :func:`distance_transform_edt`'s distances (128 x 850 float64: ~0.9 MB).
_EDT_BLOCK_ROWS = 128
#: Output rows per block of :func:`zoom_linear` (48 rows of 850 float64 columns: ~330 kB).
_ZOOM_BLOCK_ROWS = 48


def block_mean(image: npt.NDArray[np.generic], kr: int, kc: int) -> FloatImage:
    """The mean of each whole ``kr`` x ``kc`` block of ``image`` (float32); the last rows and
    columns that do not fill a block are dropped. ``kr == kc == 1`` gives ``image`` as
    float32. The one way a film is put on a coarser grid by whole blocks (the hip's ROI, the
    detection and analysis copies, training labels), so all of them agree pixel for pixel."""
    if kr < 1 or kc < 1:
        raise ValueError(f"blocks of {kr} x {kc} pixels")
    h, w = (image.shape[0] // kr) * kr, (image.shape[1] // kc) * kc
    if kr == 1 and kc == 1:
        return np.asarray(image[:h, :w], dtype=np.float32)
    blocks = image[:h, :w].reshape(h // kr, kr, w // kc, kc)
    return np.asarray(blocks.mean(axis=(1, 3), dtype=np.float32), dtype=np.float32)


def dilate_cross(mask: npt.ArrayLike, iterations: int = 1) -> BoolImage:
    """``ndi.binary_dilation(mask, iterations=iterations)`` of a 2-D mask.

    scipy's default structure is the 4-connected cross and pixels beyond the border count as
    background (``border_value=0``): one iteration is the mask OR-ed with itself shifted by one
    pixel up, down, left and right. On a hip's ROI (1150 x 850) scipy took about 14 ms for one
    iteration, the four shifted ORs under 1 ms (2026-11-30).
    """
    if iterations < 1:
        raise ValueError("iterations must be >= 1 (scipy's 'until stable' is not supported)")
    out = np.array(mask, dtype=np.bool_)  # a copy: the caller's mask is not touched
    if out.ndim != 2:
        raise ValueError(f"mask must be 2-D, got {out.ndim}-D")
    for _ in range(iterations):
        src = out.copy()
        out[1:] |= src[:-1]
        out[:-1] |= src[1:]
        out[:, 1:] |= src[:, :-1]
        out[:, :-1] |= src[:, 1:]
    return out


def _extreme_along(
    a: npt.NDArray[np.floating], size: int, op: np.ufunc, axis: int
) -> npt.NDArray[np.floating]:
    """``op`` (np.minimum or np.maximum) over each run of ``size`` pixels of ``a`` along
    ``axis`` (0 or 1): element ``i`` of the result is over ``i .. i + size - 1``
    (``a.shape[axis] - size + 1`` of them), by doubling runs (1, 2, 4, ... pixels) and one last
    step over two overlapping runs."""

    def part(x: npt.NDArray[np.floating], lo: int, hi: int | None) -> npt.NDArray[np.floating]:
        return x[lo:hi] if axis == 0 else x[:, lo:hi]

    cur, run = a, 1
    while 2 * run <= size:
        cur = op(part(cur, 0, -run), part(cur, run, None))
        run *= 2
    if run < size:
        cur = op(part(cur, 0, run - size), part(cur, size - run, None))
    return cur


def _square_extreme(
    img: npt.NDArray[np.floating], size: int, op: np.ufunc
) -> npt.NDArray[np.floating]:
    """``op`` over the ``size`` x ``size`` square around each pixel, beyond the edges the image
    mirrored (scipy's ``mode="reflect"``: ``d c b a | a b c d | d c b a``)."""
    half = size // 2
    down = _extreme_along(np.pad(img, ((half, half), (0, 0)), mode="symmetric"), size, op, 0)
    return _extreme_along(np.pad(down, ((0, 0), (half, half)), mode="symmetric"), size, op, 1)


def grey_opening_square(img: npt.NDArray[np.floating], size: int) -> npt.NDArray[np.floating]:
    """``ndi.grey_opening(img, size=(size, size))`` of a 2-D float image without NaN, for an
    odd ``size``, bit for bit.

    The opening is scipy's composition, a minimum over the square and then a maximum over the
    square of that, each separable into a pass along the columns and one along the rows, with
    the image beyond each pass's edges mirrored (scipy's ``mode="reflect"``, ``np.pad``'s
    ``"symmetric"``). scipy's 1-D pass keeps a running list per pixel
    (``min_or_max_filter1d``); here a run of ``size`` pixels is made by doubling runs with
    whole-array ``np.minimum`` / ``np.maximum`` (log2(size) + 1 of them a pass). A minimum or
    a maximum picks one of its inputs, so grouping them differently picks the same values: on
    an 850 x 1075 film (the burned-text search's working image) ~14 ms an opening against
    ~40 ms (2026-12-03). Falls back to scipy when the square is larger than the image
    (mirrored more than once).
    """
    if size % 2 != 1 or size < 1:
        raise ValueError(f"size must be odd and positive, got {size}")
    arr = np.asarray(img)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"img must be a 2-D float image, got {arr.ndim}-D {arr.dtype}")
    if size // 2 >= min(arr.shape):
        opened: npt.NDArray[np.floating] = ndi.grey_opening(arr, size=(size, size))
        return opened
    return _square_extreme(_square_extreme(arr, size, np.minimum), size, np.maximum)


def grey_openings_square(
    img: npt.NDArray[np.floating], sizes: tuple[int, ...]
) -> dict[int, npt.NDArray[np.floating]]:
    """:func:`grey_opening_square` of ``img`` for each of ``sizes`` (odd), bit for bit, the
    minima shared: the minimum over a square of ``s2`` pixels is the smaller of the minima over
    two squares of ``s1`` (``s1 < s2 <= 2 * s1``) centred ``(s2 - s1) / 2`` pixels either side
    along each axis, taken over the image mirrored once by the largest half-size (the windows
    that reach past its edges see what scipy's mirrored border shows them). The burned-text
    search opens a film at four sizes: ~20 % less time than four openings (2026-12-03).
    """
    arr = np.asarray(img)
    todo = sorted(set(sizes))
    if not todo or todo[0] < 1 or any(s % 2 != 1 for s in todo):
        raise ValueError(f"sizes must be odd and positive, got {sizes}")
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"img must be a 2-D float image, got {arr.ndim}-D {arr.dtype}")
    big = todo[-1] // 2
    if big >= min(arr.shape):
        return {s: grey_opening_square(arr, s) for s in todo}
    rows, cols = arr.shape
    mirrored = np.pad(arr, big, mode="symmetric")
    out: dict[int, npt.NDArray[np.floating]] = {}
    # ``eroded``: the minimum over squares of ``done`` pixels, at the positions from
    # ``-big + done // 2`` on each axis of the image (those it holds whole squares of)
    eroded: npt.NDArray[np.floating] | None = None
    done = 0
    for s in todo:
        if eroded is None or s > 2 * done:
            eroded = _extreme_along(_extreme_along(mirrored, s, np.minimum, 0), s, np.minimum, 1)
        else:
            step = s - done  # twice the centres' shift
            eroded = np.minimum(eroded[:-step], eroded[step:])
            eroded = np.minimum(eroded[:, :-step], eroded[:, step:])
        done = s
        at = big - s // 2  # where position 0 of the image is
        out[s] = _square_extreme(eroded[at : at + rows, at : at + cols], s, np.maximum)
    return out


def zoom_linear(image: npt.NDArray[np.float32], zoom: tuple[float, float]) -> FloatImage:
    """``ndi.zoom(image, zoom, order=1, mode="nearest", grid_mode=True)`` of a 2-D float32 image.

    scipy has a fast path for linear zooms, but not with ``grid_mode``: it then runs its
    generic spline loop, four taps per output pixel with per-tap bookkeeping (~23 ms for a
    hip's ROI, against ~9 ms here). This is the same arithmetic done by whole rows and
    columns. To be the same bit for bit it follows scipy's ``NI_ZoomShift`` exactly, in double
    precision:

    * the output shape is ``round(n * z)`` per axis, and an image zoomed by exactly 1 is
      returned as a copy (scipy's early exit);
    * the factor actually used is ``n_in / n_out``, the source coordinate
      ``(k + 0.5) * factor - 0.5``, the weights ``w0 = 1 - frac``, ``w1 = 1 - w0`` (not
      ``frac``), the taps clamped to the edge (``mode="nearest"``);
    * each tap is ``value * w_row * w_col`` multiplied in that order, and the taps are summed
      from 0.0 in the order (r0, c0), (r0, c1), (r1, c0), (r1, c1), then rounded to float32.

    ``value * w_row`` is the same for a whole output row, so it is formed once per output row
    (of the input's columns only) and the output pixels gather from it. The column taps are
    summed a block of rows at a time, so that the float64 temporaries stay in the cache:
    the work is memory-bound, and whole-image temporaries made it barely faster than scipy.
    Meant for enlarging (as ``ho_pixels`` maps a 1 mm grid back to the ROI); scipy is as fast
    for shrinking.
    """
    img = np.asarray(image)
    if img.ndim != 2 or img.dtype != np.float32:
        raise ValueError(f"image must be 2-D float32, got {img.ndim}-D {img.dtype}")
    if all(z == 1 for z in zoom):
        return img.copy()
    out_shape = tuple(round(float(n * z)) for n, z in zip(img.shape, zoom, strict=True))

    def taps(n_in: int, n_out: int) -> tuple[
        npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64], npt.NDArray[np.float64]
    ]:
        factor = n_in / n_out if n_out else 1.0
        coord = (np.arange(n_out, dtype=np.float64) + 0.5) * factor - 0.5
        start = np.floor(coord)
        w0 = 1.0 - (coord - start)
        w1 = 1.0 - w0
        i0 = start.astype(np.intp)
        return np.clip(i0, 0, n_in - 1), np.clip(i0 + 1, 0, n_in - 1), w0, w1

    r0, r1, wr0, wr1 = taps(img.shape[0], out_shape[0])
    c0, c1, wc0, wc1 = taps(img.shape[1], out_shape[1])
    top = img[r0].astype(np.float64)
    top *= wr0[:, None]
    bottom = img[r1].astype(np.float64)
    bottom *= wr1[:, None]
    out = np.empty(out_shape, dtype=np.float32)
    for a in range(0, out_shape[0], _ZOOM_BLOCK_ROWS):
        t, b = top[a : a + _ZOOM_BLOCK_ROWS], bottom[a : a + _ZOOM_BLOCK_ROWS]
        acc = np.take(t, c0, axis=1)
        acc *= wc0
        acc += 0.0  # scipy sums from +0.0: a -0.0 first tap becomes +0.0
        tap = np.take(t, c1, axis=1)
        tap *= wc1
        acc += tap
        np.take(b, c0, axis=1, out=tap)
        tap *= wc0
        acc += tap
        np.take(b, c1, axis=1, out=tap)
        tap *= wc1
        acc += tap
        out[a : a + _ZOOM_BLOCK_ROWS] = acc  # rounded to float32 as scipy stores its double
    return out


def distance_transform_edt(
    mask: npt.ArrayLike, sampling: tuple[float, float]
) -> npt.NDArray[np.float64]:
    """``ndi.distance_transform_edt(mask, sampling=sampling)`` of a 2-D mask, bit for bit.

    scipy finds the nearest background pixel of every pixel (its feature transform, the
    costly part) and then turns the offsets into distances with whole-image temporaries:
    ``np.indices``, the offsets widened to float64 (16 bytes a pixel), scaled, squared,
    summed and square-rooted, about 40 MB of memory traffic for a hip's ROI, ~15 ms. Here
    scipy gives the feature transform (``return_indices=True``) and the distances are made
    from it with the same float64 operations in the same order,
    ``sqrt((d_row * row_mm) ** 2 + (d_col * col_mm) ** 2)``, a block of rows at a time.
    """
    return distance_transform_edt_indices(mask, sampling)[0]


def distance_transform_edt_indices(
    mask: npt.ArrayLike, sampling: tuple[float, float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]]:
    """``ndi.distance_transform_edt(mask, sampling=sampling, return_indices=True)`` of a 2-D
    mask, bit for bit: the distances (see :func:`distance_transform_edt`) and the indices of
    the nearest background pixel, ``(2, rows, cols)``."""
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"mask must be 2-D, got {arr.ndim}-D")
    ft = np.asarray(
        ndi.distance_transform_edt(
            arr, sampling=sampling, return_distances=False, return_indices=True
        ),
        dtype=np.int32,
    )
    row_mm, col_mm = (float(s) for s in np.asarray(sampling, dtype=np.float64))
    rows, cols = arr.shape
    out = np.empty((rows, cols), dtype=np.float64)
    col_idx = np.arange(cols, dtype=np.int32)
    for a in range(0, rows, _EDT_BLOCK_ROWS):
        b = min(rows, a + _EDT_BLOCK_ROWS)
        d_row = (ft[0, a:b] - np.arange(a, b, dtype=np.int32)[:, None]).astype(np.float64)
        d_row *= row_mm
        d_row *= d_row
        d_col = (ft[1, a:b] - col_idx).astype(np.float64)
        d_col *= col_mm
        d_col *= d_col
        d_row += d_col
        np.sqrt(d_row, out=out[a:b])
    return out, ft


#: Output rows per block of :func:`sample_grid`'s column pass.
_SAMPLE_BLOCK_ROWS = 64


def sample_grid(
    a: FloatImage, rows: npt.NDArray[np.floating], cols: npt.NDArray[np.floating]
) -> FloatImage:
    """Bilinear samples of ``a`` on the grid ``rows`` x ``cols`` (fractional indices).

    Outside ``a`` the nearest edge value (as ``map_coordinates(..., mode="nearest")``), but
    separable: one pass along the rows, one along the columns, no dense coordinate arrays.
    """

    def axis(
        x: npt.NDArray[np.floating], n: int
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], FloatImage]:
        x = np.clip(np.asarray(x, dtype=np.float64), 0.0, n - 1)
        i0 = np.floor(x).astype(np.intp)
        i1 = np.minimum(i0 + 1, n - 1)
        return i0, i1, (x - i0).astype(np.float32)

    r0, r1, fr = axis(rows, a.shape[0])
    c0, c1, fc = axis(cols, a.shape[1])
    a = np.asarray(a, dtype=np.float32)
    by_row = a[r0] * (1.0 - fr)[:, None] + a[r1] * fr[:, None]
    # the column pass makes the output (a whole ROI, four times per hip): the same float32
    # operations in the same order as ``by_row[:, c0] * (1 - fc) + by_row[:, c1] * fc``, but
    # in place and a block of rows at a time, so that the temporaries stay in the cache
    # (``mode="clip"`` only skips numpy's bounds check: ``axis`` has clipped c0 and c1 already)
    wl = 1.0 - fc
    out = np.empty((by_row.shape[0], fc.shape[0]), dtype=np.float32)
    for start in range(0, by_row.shape[0], _SAMPLE_BLOCK_ROWS):
        block = by_row[start : start + _SAMPLE_BLOCK_ROWS]
        left = np.take(block, c0, axis=1, mode="clip")
        left *= wl
        right = np.take(block, c1, axis=1, mode="clip")
        right *= fc
        left += right
        out[start : start + _SAMPLE_BLOCK_ROWS] = left
    return out


def fine_texture(
    image: npt.NDArray[np.floating],
    high_pass_px: float | tuple[float, float],
    window_px: float | tuple[float, float] | None = None,
) -> npt.NDArray[np.floating]:
    """The local spread of an image's fine detail: the root mean square, over a Gaussian window
    of ``window_px`` (``high_pass_px`` when None), of what a Gaussian of ``high_pass_px``
    smooths away. Metal is flat but for the film's noise; bone is trabecular."""
    fine = image - ndi.gaussian_filter(image, high_pass_px)
    window = high_pass_px if window_px is None else window_px
    return np.asarray(np.sqrt(ndi.gaussian_filter(fine * fine, window)))


def gaussian_smooth(x: FloatImage, sigma_px: float) -> FloatImage:
    """``ndi.gaussian_filter(x, sigma_px, mode="nearest")``, computed on a coarser grid when wide.

    A kernel of tens of pixels costs hundreds of taps per pixel; instead the image is
    block-averaged by ``k`` (``sigma_px // 8``: the coarse kernel is still 8 px or more),
    smoothed there, and interpolated back bilinearly. The block (variance ``k**2 / 12``) and
    the interpolation (``k**2 / 6``) blur too, so the coarse kernel is narrowed to keep the
    total variance ``sigma_px**2``. On devset films the bone threshold moves by under 1 % of
    the local bone contrast at the 99th percentile (a coarser ``sigma_px // 4`` moved it by
    up to half the contrast where the normalised convolution's weights thin out).
    """
    k = int(sigma_px // 8)
    if k < 2:
        return np.asarray(ndi.gaussian_filter(x, sigma_px, mode="nearest"), dtype=np.float32)
    h, w = x.shape
    hh, ww = -(-h // k), -(-w // k)
    padded = np.pad(x, ((0, hh * k - h), (0, ww * k - w)), mode="edge")
    coarse = padded.reshape(hh, k, ww, k).mean(axis=(1, 3), dtype=np.float32)
    coarse = ndi.gaussian_filter(coarse, math.sqrt(sigma_px**2 - k * k / 4.0) / k, mode="nearest")
    rows = (np.arange(h) + 0.5) / k - 0.5
    cols = (np.arange(w) + 0.5) / k - 0.5
    return sample_grid(coarse, rows, cols)


def normalized_smooth(
    img: FloatImage, weight: npt.NDArray[np.floating], sigma_px: float, fallback: float
) -> FloatImage:
    """Gaussian normalised convolution: the local mean of ``img`` over ``weight`` pixels.

    Where no weighted pixel is near, a four times wider kernel fills in, then ``fallback``.
    """
    w = weight.astype(np.float32)
    out = np.full(img.shape, fallback, dtype=np.float32)
    for sig in (4.0 * sigma_px, sigma_px):
        num = gaussian_smooth(img * w, sig)
        den = gaussian_smooth(w, sig)
        ok = den > 1e-3
        out[ok] = num[ok] / den[ok]
    return out


def fill_small_holes(mask: BoolImage, max_px: float) -> BoolImage:
    """``mask`` with its holes of at most ``max_px`` pixels filled (texture, not the pelvic inlet or
    a foramen)."""
    holes = ~mask
    lab, n = ndi.label(holes)
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel())
    small = sizes <= max_px
    small[0] = False
    return np.asarray(mask | small[lab], dtype=np.bool_)


def window_around(
    box: tuple[slice, ...], pad_mm: float, sampling: tuple[float, float], shape: tuple[int, ...]
) -> tuple[slice, ...]:
    """``box`` widened by at least ``pad_mm`` on every side, within ``shape``."""
    return tuple(
        slice(max(0, s.start - math.ceil(pad_mm / mm)), min(dim, s.stop + math.ceil(pad_mm / mm)))
        for s, mm, dim in zip(box, sampling, shape, strict=True)
    )


def within(mask: BoolImage, reach_mm: float, sampling: tuple[float, float]) -> BoolImage:
    """Pixels at most ``reach_mm`` from ``mask`` (``distance_transform_edt(~mask) <= reach_mm``).

    The distance map is computed only in the box of ``mask`` grown by the reach: nothing
    outside it is that near, and every pixel of ``mask`` is inside it, so the distances in
    the box are the exact ones. A staple's halo or a shutter's margin costs its own box
    instead of the whole ROI.
    """
    out = np.zeros_like(mask)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return out
    cols = np.flatnonzero(mask.any(axis=0))
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    win = window_around(box, reach_mm + max(sampling), sampling, mask.shape)
    out[win] = distance_transform_edt(~mask[win], sampling) <= reach_mm
    return out


def edt_open(
    mask: BoolImage,
    radius_mm: float,
    sampling: tuple[float, float],
    inside: npt.NDArray[np.float64] | None = None,
) -> BoolImage:
    """Binary opening with a disk of ``radius_mm`` (anisotropic pixels), via distance maps.

    ``inside``, when given, is ``distance_transform_edt(mask, sampling=sampling)`` (the same
    for every radius, so callers that open one mask several times compute it once).
    """
    if not mask.any():
        return mask
    if inside is None:
        inside = distance_transform_edt(mask, sampling)
    eroded = inside > radius_mm
    if not eroded.any():
        return eroded
    return within(eroded, radius_mm, sampling) & mask


def peak_local_max(
    image: npt.NDArray[np.floating], *, min_distance: int, threshold_abs: float, num_peaks: int
) -> npt.NDArray[np.intp]:
    """The ``num_peaks`` highest local maxima of a 2-D ``image`` above ``threshold_abs``, at
    least ``min_distance`` pixels apart (Chebyshev) and from the border, as ``(row, col)``
    rows: ``skimage.feature.peak_local_max(image, min_distance=..., threshold_abs=...,
    num_peaks=...)``, point for point and in its order.

    scikit-image's module imports scipy.spatial (a k-d tree to keep the peaks apart), and with
    it scipy.sparse and scipy.linalg: 0.1 s at the start of every worker, for the four
    deepest points of a metal blob. The same steps here: a pixel is a peak where it equals the
    maximum of the ``2 * min_distance + 1`` square about it (edges repeated; none when the
    whole image is flat) and exceeds the threshold, and is not within ``min_distance`` of the
    border; the peaks are taken highest first (ties in row-major order), each kept unless a
    peak kept before it is nearer than ``min_distance`` in both rows and columns."""
    if min_distance < 1:
        raise ValueError(f"min_distance must be at least 1, not {min_distance}")
    if num_peaks < 1:
        return np.empty((0, 2), dtype=np.intp)
    size = 2 * min_distance + 1
    if image.size == 1:
        peak = image > threshold_abs
    else:
        peak = image == ndi.maximum_filter(image, size=size, mode="nearest")
        if peak.all():
            peak[:] = False
        peak &= image > threshold_abs
    for axis in range(2):
        edge = [slice(None), slice(None)]
        edge[axis] = slice(None, min_distance)
        peak[tuple(edge)] = False
        edge[axis] = slice(-min_distance, None)
        peak[tuple(edge)] = False
    found = np.nonzero(peak)
    coords = np.transpose(found)[np.argsort(-image[found], kind="stable")]
    if min_distance == 1:
        return coords[:num_peaks]
    kept: list[int] = []
    for i, point in enumerate(coords):
        if all(np.abs(point - coords[j]).max() >= min_distance for j in kept):
            kept.append(i)
            if len(kept) == num_peaks:
                break
    return coords[kept]


def simplified_polyline(
    points: npt.NDArray[np.float64], tolerance: float
) -> npt.NDArray[np.float64]:
    """The vertices of the ``(n, 2)`` polyline ``points`` that Ramer-Douglas-Peucker keeps:
    the two ends, then recursively the point farthest from the chord between two kept ones,
    while one is more than ``tolerance`` from it. A point's distance is to the chord's line
    where it projects inside the chord, else to the nearer end (a closed outline's chord is
    its one point). The same vertices as ``skimage.measure.approximate_polygon``, whose
    module imports scipy.signal and scipy.stats: 0.6 s at the start of every worker that
    draws an overlay, for a function this size."""
    if tolerance <= 0 or len(points) < 3:
        return points
    keep = np.zeros(len(points), dtype=bool)
    keep[0] = keep[-1] = True
    spans = [(0, len(points) - 1)]
    while spans:
        start, end = spans.pop()
        if end - start < 2:
            continue
        (r0, c0), (r1, c1) = points[start], points[end]
        dr, dc = r1 - r0, c1 - c0
        inner = points[start + 1 : end]
        to0 = inner - (r0, c0)
        to1 = inner - (r1, c1)
        along = (to0[:, 0] * dr + to0[:, 1] * dc > 0) & (-(to1[:, 0] * dr + to1[:, 1] * dc) > 0)
        # the same arithmetic as scikit-image's, so that ties pick the same point
        angle = -np.arctan2(dr, dc)
        offset = c0 * np.sin(angle) + r0 * np.cos(angle)
        line = np.abs(inner[:, 0] * np.cos(angle) + inner[:, 1] * np.sin(angle) - offset)
        ends = np.minimum(
            np.sqrt(to0[:, 1] ** 2 + to0[:, 0] ** 2), np.sqrt(to1[:, 1] ** 2 + to1[:, 0] ** 2)
        )
        dist = np.where(along, line, ends)
        far = int(np.argmax(dist))
        if dist[far] > tolerance:
            split = start + 1 + far
            keep[split] = True
            spans.append((split, end))
            spans.append((start, split))
    return points[keep]
