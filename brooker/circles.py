"""Sub-pixel circles on radiographs: edge points along rays, robust least-squares fits.

Pure functions on pixel arrays, in pixel units; no spacing is needed or assumed (they are what
derives a spacing). ``aspect`` is the column pitch over the row pitch when it is known (1 for
square pixels): coordinates are fitted in ``(row, col * aspect)`` so that a sphere's round
shadow is a circle.

Edge points are found on intensity profiles along rays from a centre guess: each is the
sub-pixel position where the profile crosses half-way between the object's inside level and
the local level just outside it (the half-maximum of a blurred edge), so a ball partly over
soft tissue and partly over air is still located on each side by its own contrast.

>>> import numpy as np
>>> yy, xx = np.mgrid[0:101, 0:101]
>>> disk = ((yy - 50.3) ** 2 + (xx - 49.6) ** 2 <= 20.0**2).astype(np.float32)
>>> pts = ray_edges(disk, (50.0, 50.0), 20.0, n_rays=180)
>>> fit = fit_circle(pts)
>>> bool(abs(fit.radius_px - 20.0) < 0.3 and abs(fit.center_px[0] - 50.3) < 0.2)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CircleFit:
    """A circle fitted to edge points.

    Parameters
    ----------
    center_px : (float, float)
        Centre ``(row, col)`` in stored-image pixels.
    radius_px : float
        Radius in row pixels (in columns it is ``radius_px / aspect``).
    radius_sd_px : float
        Standard error of the radius from the fit (residuals and arc coverage).
    rms_px : float
        Root-mean-square distance of the inlier edge points from the circle.
    n_points : int
        Inlier edge points used.
    arc_deg : float
        Angular extent covered by the inliers (360 for a whole outline).
    """

    center_px: tuple[float, float]
    radius_px: float
    radius_sd_px: float
    rms_px: float
    n_points: int
    arc_deg: float

    @property
    def diameter_px(self) -> float:
        """Diameter in row pixels."""
        return 2.0 * self.radius_px

    @property
    def relative_sd(self) -> float:
        """Relative standard error of the diameter (fraction)."""
        return self.radius_sd_px / self.radius_px


def ray_angles(n_rays: int) -> FloatArray:
    """``n_rays`` angles evenly spread over the full turn, radians."""
    return np.linspace(0.0, 2 * math.pi, n_rays, endpoint=False)


def ray_edges(
    pixels: npt.NDArray[np.generic],
    center_px: tuple[float, float],
    radius_px: float,
    *,
    n_rays: int = 360,
    inner: float = 0.55,
    outer: float = 1.5,
    aspect: float = 1.0,
    inside_level: float | None = None,
    step_px: float = 0.25,
    level: float = 0.5,
    inside_band: tuple[float, float] = (0.2, 0.5),
    outside_band: tuple[float, float] = (1.15, 1.5),
) -> FloatArray:
    """Half-maximum edge points of a bright round object, one per ray at most.

    Parameters
    ----------
    pixels : ndarray, shape (rows, cols)
        Bone-bright image.
    center_px : (float, float)
        Centre guess ``(row, col)``.
    radius_px : float
        Radius guess (row pixels); the edge is sought between ``inner`` and ``outer`` times it.
    n_rays : int
    inner, outer : float
        Search band, as fractions of ``radius_px``.
    aspect : float
        Column pitch / row pitch.
    inside_level : float, optional
        The object's level; default each ray's own median over ``inside_band``.
    step_px : float
        Sampling step along the rays.
    level : float
        Where between the outside (0) and inside (1) level the edge is placed.
    inside_band, outside_band : (float, float)
        Where along each ray (fractions of ``radius_px``) its own inside and outside levels are
        taken (medians).

    Returns
    -------
    ndarray of float64, shape (n, 4)
        ``(row, col, angle, width)`` of each edge point found (rays with no crossing are
        dropped); ``width`` is the distance over which the profile falls from 75 % to 25 % of
        the step, pixels along the ray.
    """
    img = np.asarray(pixels)
    r0, c0 = center_px
    ang = ray_angles(n_rays)
    s = np.arange(0.0, max(outer, outside_band[1]) * radius_px + step_px, step_px)
    dr = np.sin(ang)[:, None] * s[None, :]
    dc = np.cos(ang)[:, None] * s[None, :] / aspect
    rows = r0 + dr
    cols = c0 + dc
    prof = ndi.map_coordinates(
        img.astype(np.float32, copy=False), [rows.ravel(), cols.ravel()], order=1, mode="nearest"
    ).reshape(rows.shape)
    core = (s >= inside_band[0] * radius_px) & (s <= inside_band[1] * radius_px)
    if not core.any():
        core = s <= inside_band[1] * radius_px
    # each ray's own inside level (a film's large-scale processing tilts a flat object)
    inside_levels = (
        np.median(prof[:, core], axis=1)
        if inside_level is None
        else np.full(n_rays, float(inside_level))
    )
    i_in = int(np.searchsorted(s, inner * radius_px))
    out_band = (s >= outside_band[0] * radius_px) & (s <= outside_band[1] * radius_px)
    pts: list[tuple[float, float, float, float]] = []
    for k in range(n_rays):
        p = prof[k]
        inside_level = float(inside_levels[k])
        outside = float(np.median(p[out_band])) if out_band.any() else float(p[-1])
        if inside_level - outside <= 0:
            continue
        half = outside + level * (inside_level - outside)
        below = np.nonzero(p[i_in:] < half)[0]
        if below.size == 0:
            continue
        j = i_in + int(below[0])
        if j == 0:
            continue
        a, b = float(p[j - 1]), float(p[j])
        t = (a - half) / (a - b) if a != b else 0.5
        sj = s[j - 1] + t * step_px
        # 75 %-25 % width of the step around it: how blurred the edge is
        contrast = inside_level - outside
        j75 = np.nonzero(p[i_in : j + 1] < outside + 0.75 * contrast)[0]
        j25 = np.nonzero(p[j:] < outside + 0.25 * contrast)[0]
        width = (
            (s[j + int(j25[0])] - s[i_in + int(j75[0])]) if j75.size and j25.size else math.nan
        )
        pts.append(
            (r0 + math.sin(ang[k]) * sj, c0 + math.cos(ang[k]) * sj / aspect, ang[k], width)
        )
    return np.asarray(pts, dtype=np.float64).reshape(-1, 4)


def ray_steps(
    pixels: npt.NDArray[np.generic],
    center_px: tuple[float, float],
    radius_px: float,
    *,
    n_rays: int = 360,
    inner: float = 0.7,
    outer: float = 1.3,
    aspect: float = 1.0,
    smooth_px: float = 1.0,
) -> FloatArray:
    """The steepest bright-to-dark step along each ray (for outlines without a flat inside).

    The profile (sampled every 0.5 px, smoothed by ``smooth_px``) is searched between
    ``inner`` and ``outer`` times ``radius_px``; the step's position is refined to sub-pixel
    precision by a parabola through the derivative's minimum and its neighbours.

    Returns
    -------
    ndarray of float64, shape (n, 4)
        ``(row, col, angle, strength)``; strength is the drop per pixel (> 0).
    """
    step = 0.5
    ang = ray_angles(n_rays)
    s = np.arange(inner * radius_px, outer * radius_px + step, step)
    rows = center_px[0] + np.sin(ang)[:, None] * s[None, :]
    cols = center_px[1] + np.cos(ang)[:, None] * s[None, :] / aspect
    prof = ndi.map_coordinates(
        np.asarray(pixels, dtype=np.float32), [rows.ravel(), cols.ravel()], order=1,
        mode="nearest",
    ).reshape(rows.shape)
    prof = ndi.gaussian_filter1d(prof, smooth_px / step, axis=1)
    der = np.gradient(prof, step, axis=1)
    out: list[tuple[float, float, float, float]] = []
    for k in range(n_rays):
        j = int(np.argmin(der[k]))
        if der[k, j] >= 0 or j == 0 or j == len(s) - 1:
            continue
        y0, y1, y2 = der[k, j - 1], der[k, j], der[k, j + 1]
        den = y0 - 2 * y1 + y2
        off = 0.5 * (y0 - y2) / den if den != 0 else 0.0
        sj = s[j] + float(np.clip(off, -1, 1)) * step
        out.append(
            (
                center_px[0] + math.sin(ang[k]) * sj,
                center_px[1] + math.cos(ang[k]) * sj / aspect,
                ang[k],
                -float(y1),
            )
        )
    return np.asarray(out, dtype=np.float64).reshape(-1, 4)


def _kasa(y: FloatArray, x: FloatArray) -> tuple[float, float, float]:
    """Algebraic least-squares circle (Kasa): centre (y, x) and radius."""
    a = np.column_stack([y, x, np.ones_like(y)])
    b = y * y + x * x
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    yc, xc = sol[0] / 2, sol[1] / 2
    r2 = sol[2] + yc * yc + xc * xc
    return float(yc), float(xc), float(math.sqrt(max(r2, 1e-12)))


def _geometric(
    y: FloatArray, x: FloatArray, start: tuple[float, float, float], iters: int = 20
) -> tuple[tuple[float, float, float], FloatArray, FloatArray]:
    """Gauss-Newton on the geometric distances; returns params, residuals, covariance."""
    yc, xc, r = start
    cov = np.full((3, 3), np.inf)
    res = np.zeros_like(y)
    for _ in range(iters):
        dy, dx = y - yc, x - xc
        d = np.hypot(dy, dx)
        d = np.where(d == 0, 1e-9, d)
        res = d - r
        jac = np.column_stack([-dy / d, -dx / d, -np.ones_like(d)])
        step, *_ = np.linalg.lstsq(jac, -res, rcond=None)
        yc, xc, r = yc + step[0], xc + step[1], r + step[2]
        if float(np.abs(step).max()) < 1e-6:
            break
    dy, dx = y - yc, x - xc
    d = np.hypot(dy, dx)
    res = d - r
    jac = np.column_stack([-dy / np.maximum(d, 1e-9), -dx / np.maximum(d, 1e-9), -np.ones_like(d)])
    dof = max(len(y) - 3, 1)
    s2 = float(res @ res) / dof
    try:
        cov = np.linalg.inv(jac.T @ jac) * s2
    except np.linalg.LinAlgError:
        pass
    return (float(yc), float(xc), float(r)), res, cov


def _arc_deg(angles: FloatArray) -> float:
    """Angular extent covered by a set of angles (360 minus the largest empty sector)."""
    if angles.size < 2:
        return 0.0
    a = np.sort(np.mod(angles, 2 * math.pi))
    gaps = np.diff(np.concatenate([a, a[:1] + 2 * math.pi]))
    return float(math.degrees(2 * math.pi - gaps.max()))


#: Neighbouring rays share blur and noise; the fit's standard error is inflated by the square
#: root of about this many rays per independent sample.
_RAY_CORRELATION = 4.0


def fit_circle(
    points: FloatArray,
    *,
    aspect: float = 1.0,
    reject_sigma: float = 3.0,
    min_points: int = 12,
) -> CircleFit:
    """Robust least-squares circle through edge points ``(row, col[, angle])``.

    An algebraic fit starts a geometric (orthogonal distance) Gauss-Newton fit; points further
    than ``reject_sigma`` robust standard deviations (1.4826 MAD, at least 0.5 px) are dropped
    and the fit repeated until no point is dropped.

    Raises
    ------
    ValueError
        Fewer than ``min_points`` points (before or after rejection).
    """
    if points.shape[0] < min_points:
        raise ValueError(f"{points.shape[0]} edge points; at least {min_points} are needed")
    y = points[:, 0].astype(np.float64)
    x = points[:, 1].astype(np.float64) * aspect
    ang = points[:, 2] if points.shape[1] > 2 else np.arctan2(y - y.mean(), x - x.mean())
    keep = np.ones(len(y), dtype=bool)
    params = _kasa(y, x)
    for _ in range(10):
        params, res, cov = _geometric(y[keep], x[keep], params)
        yc, xc, r = params
        all_res = np.hypot(y - yc, x - xc) - r
        mad = float(np.median(np.abs(res - np.median(res)))) * 1.4826
        new_keep = np.abs(all_res) <= max(reject_sigma * mad, 0.5)
        if new_keep.sum() < min_points:
            raise ValueError("too few edge points agree on one circle")
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    params, res, cov = _geometric(y[keep], x[keep], params)
    yc, xc, r = params
    sd = float(math.sqrt(max(cov[2, 2], 0.0) * _RAY_CORRELATION)) if np.isfinite(cov[2, 2]) else r
    return CircleFit(
        center_px=(yc, xc / aspect),
        radius_px=r,
        radius_sd_px=sd,
        rms_px=float(math.sqrt(float(np.mean(res * res)))),
        n_points=int(keep.sum()),
        arc_deg=_arc_deg(ang[keep]),
    )


def _circle_through(p: FloatArray) -> tuple[float, float, float] | None:
    """The circle through three points ``(y, x)``; None when they are (nearly) collinear."""
    (y1, x1), (y2, x2), (y3, x3) = p
    d = 2 * (x1 * (y2 - y3) + x2 * (y3 - y1) + x3 * (y1 - y2))
    if abs(d) < 1e-9:
        return None
    s1, s2, s3 = x1 * x1 + y1 * y1, x2 * x2 + y2 * y2, x3 * x3 + y3 * y3
    xc = (s1 * (y2 - y3) + s2 * (y3 - y1) + s3 * (y1 - y2)) / d
    yc = (s1 * (x3 - x2) + s2 * (x1 - x3) + s3 * (x2 - x1)) / d
    return float(yc), float(xc), float(math.hypot(x1 - xc, y1 - yc))


def ransac_circles(
    points: FloatArray,
    *,
    aspect: float = 1.0,
    radius_range_px: tuple[float, float] = (0.0, math.inf),
    tol_px: float = 1.0,
    n_iter: int = 400,
    min_arc_deg: float = 60.0,
    min_points: int = 20,
    max_circles: int = 3,
    seed: int = 0,
) -> list[CircleFit]:
    """Several circles in one set of edge points (e.g. a prosthetic head and its cup's rim).

    RANSAC on point triples finds the circle with the most points within ``tol_px``; its
    inliers are refitted (:func:`fit_circle`) and removed, and the search repeats. Circles
    covering less than ``min_arc_deg`` or with fewer than ``min_points`` points are dropped.
    Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    y = points[:, 0]
    x = points[:, 1] * aspect
    left = np.ones(len(y), dtype=bool)
    found: list[CircleFit] = []
    lo, hi = radius_range_px
    for _ in range(max_circles):
        idx = np.nonzero(left)[0]
        if idx.size < min_points:
            break
        best: tuple[int, npt.NDArray[np.bool_]] | None = None
        yx = np.column_stack([y[idx], x[idx]])
        for _ in range(n_iter):
            tri = rng.choice(idx.size, 3, replace=False)
            c = _circle_through(yx[tri])
            if c is None or not (lo <= c[2] <= hi):
                continue
            d = np.abs(np.hypot(yx[:, 0] - c[0], yx[:, 1] - c[1]) - c[2])
            inl = d <= tol_px
            n = int(inl.sum())
            if best is None or n > best[0]:
                best = (n, inl)
        if best is None or best[0] < min_points:
            break
        members = idx[best[1]]
        try:
            fit = fit_circle(
                points[members], aspect=aspect, reject_sigma=2.5, min_points=min_points
            )
        except ValueError:
            left[members] = False
            continue
        yc, xc = fit.center_px
        d_all = np.abs(np.hypot(y - yc, x - xc * aspect) - fit.radius_px)
        left &= d_all > max(2.5 * fit.rms_px, tol_px)
        left[members] = False
        if fit.arc_deg >= min_arc_deg and lo <= fit.radius_px <= hi:
            found.append(fit)
    return found
