"""Spacing from an object of known size: a calibration ball, prosthetic heads, a native head.

Orthopaedic templating calibrates an uncalibrated film with an object whose true size is
known: an external steel ball (``--ball-mm``, usually 25 mm) or the prosthetic head of a hip
replacement (``--head-mm``, 28/32/36 mm, engraved on the implant record). The object's shadow
is found here in pixels, its diameter fitted to sub-pixel precision, and the spacing at the
object's depth is the known diameter over the fitted one. ``--estimate-spacing`` does the same
with the native femoral head and the population's mean diameter: a rough estimate, with a wide
uncertainty, used only when nothing better exists.

Every finder works on the stored pixels alone (no spacing is known yet): sizes are judged
relative to the film and to each other, never in mm.

- **Ball**: a bright (metal: among the brightest pixels of the film), flat (its inside varies
  little), sharp-edged, round, solid blob standing alone (no other metal around it), anywhere
  on the film, whole (not cut by the film's edge). None, or more than one, is refused.
- **Prosthetic head**: inside a metal blob (cup, head and stem are often one bright region),
  the head is the smaller of the round outlines found along rays from the blob's deepest point
  (the cup's outer rim is the larger, and lies around it). Each prosthetic hip is fitted.

The fit (:mod:`brooker.circles`) gives the diameter in pixels and its standard error; the
spacing's relative uncertainty combines that with the source's own
(``config.DEFAULT_SPACING_UNCERTAINTY``: how far the object's depth, and so its magnification,
can differ from the hip's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.circles import CircleFit, fit_circle, ransac_circles, ray_edges

FloatImage = npt.NDArray[np.float32]

#: The detection copy of the film has at most this many pixels along its long side.
DETECT_LONG_SIDE_PX = 900


@dataclass(frozen=True, slots=True)
class _Blob:
    center_px: tuple[float, float]
    radius_px: float
    label: int


def _detection_copy(pixels: npt.NDArray[np.generic]) -> tuple[FloatImage, int]:
    """Block-averaged copy (whole factor) with the long side at most DETECT_LONG_SIDE_PX."""
    f = max(1, math.ceil(max(pixels.shape) / DETECT_LONG_SIDE_PX))
    rows, cols = (pixels.shape[0] // f) * f, (pixels.shape[1] // f) * f
    small = (
        np.asarray(pixels[:rows, :cols], dtype=np.float32)
        .reshape(rows // f, f, cols // f, f)
        .mean(axis=(1, 3))
    )
    return small, f


def metal_threshold(small: FloatImage) -> tuple[float, float]:
    """(threshold, body level): metal is above the threshold.

    The body level is the median of the film; the top is the 99.95th percentile (the metal's
    level when there is any). Metal is what lies in the top 20 % of that span.
    """
    body = float(np.median(small))
    top = float(np.percentile(small, 99.95))
    return top - 0.2 * (top - body), body


def find_balls(pixels: npt.NDArray[np.generic], *, aspect: float = 1.0) -> list[CircleFit]:
    """Every calibration-ball candidate on the film, fitted (see the module docstring).

    A ball is sought at many grey levels at once (a steel ball in the air between the thighs
    is far dimmer than one over the body, yet far brighter than its own surroundings): at each
    level, every blob that is round, solid, whole, alone (no brighter-than-the-level pixels in
    the ring around it) and flat inside is a candidate; candidates at several levels with the
    same centre are one object.
    """
    small, f = _detection_copy(pixels)
    lo, hi = (float(v) for v in np.percentile(small, [1.0, 99.99]))
    short = min(small.shape[0], small.shape[1] * aspect)
    found: list[tuple[float, float, float]] = []  # (row, col, radius) on the small copy
    for level in np.linspace(lo, hi, 26)[1:-1]:
        mask = small >= level
        labels, n = ndi.label(mask)
        for k, sl in enumerate(ndi.find_objects(labels), start=1):
            if sl is None:
                continue
            cand = _ball_candidate(small, labels, k, sl, float(level), short, aspect)
            if cand is None:
                continue
            if any(
                math.hypot(cand[0] - q[0], (cand[1] - q[1]) * aspect) < 0.5 * max(cand[2], q[2])
                for q in found
            ):
                continue
            found.append(cand)
    out: list[CircleFit] = []
    for cy, cx, r in found:
        fit = _fit_full(pixels, (cy * f + (f - 1) / 2, cx * f + (f - 1) / 2), r * f, aspect)
        if fit is None:
            continue
        if fit.rms_px > max(0.03 * fit.radius_px, 0.75) or fit.arc_deg < 300:
            continue
        out.append(fit)
    return out


def _ball_candidate(
    small: FloatImage,
    labels: npt.NDArray[np.int32],
    k: int,
    sl: tuple[slice, slice],
    level: float,
    short: float,
    aspect: float,
) -> tuple[float, float, float] | None:
    """(row, col, radius) of blob ``k`` on the detection copy if it looks like a ball."""
    h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
    r_box = max(h, w * aspect) / 2
    if not (0.015 * short <= r_box <= 0.2 * short) or r_box < 4:
        return None
    if not (0.85 <= h / max(w * aspect, 1e-9) <= 1.18):
        return None
    if sl[0].start == 0 or sl[1].start == 0:
        return None
    if sl[0].stop >= small.shape[0] or sl[1].stop >= small.shape[1]:
        return None
    comp = labels[sl] == k
    filled = ndi.binary_fill_holes(comp)
    area = float(filled.sum())
    if area < 0.85 * math.pi * r_box * r_box / aspect or float(comp.sum()) < 0.97 * area:
        return None
    r_eq = math.sqrt(area * aspect / math.pi)
    cy, cx = ndi.center_of_mass(filled)
    cy += sl[0].start
    cx += sl[1].start
    pad = int(math.ceil(2.2 * r_eq / min(1.0, aspect))) + 1
    r0, r1 = max(0, int(cy) - pad), min(small.shape[0], int(cy) + pad + 1)
    c0, c1 = max(0, int(cx) - pad), min(small.shape[1], int(cx) + pad + 1)
    win = small[r0:r1, c0:c1]
    yy, xx = np.ogrid[r0:r1, c0:c1]
    d = np.hypot(yy - cy, (xx - cx) * aspect)
    ring = (d >= 1.3 * r_eq) & (d <= 2.0 * r_eq)
    if not ring.any() or float((win[ring] >= level).mean()) > 0.02:
        return None
    inside = win[d <= 0.6 * r_eq]
    p5, p50, p95 = np.percentile(inside, [5, 50, 95])
    contrast = float(p50) - float(np.median(win[ring]))
    if contrast <= 0 or float(p95 - p5) > 0.12 * contrast:
        return None
    return float(cy), float(cx), r_eq


def _fit_full(
    pixels: npt.NDArray[np.generic], center: tuple[float, float], radius: float, aspect: float
) -> CircleFit | None:
    """Two rounds of ray edges + robust circle fit at full resolution."""
    c, r = center, radius
    fit: CircleFit | None = None
    for _ in range(2):
        n_rays = int(min(720, max(90, 2 * math.pi * r)))
        pts = ray_edges(pixels, c, r, n_rays=n_rays, aspect=aspect)
        try:
            fit = fit_circle(pts, aspect=aspect)
        except ValueError:
            return None
        c, r = fit.center_px, fit.radius_px
    return fit


def find_prosthetic_heads(
    pixels: npt.NDArray[np.generic], *, aspect: float = 1.0
) -> list[CircleFit]:
    """The prosthetic heads on the film, fitted (see the module docstring)."""
    small, f = _detection_copy(pixels)
    thr, body = metal_threshold(small)
    metal = small >= thr
    metal = ndi.binary_opening(metal, iterations=1)
    labels, n = ndi.label(metal)
    if n == 0:
        return []
    short = min(small.shape[0], small.shape[1] * aspect)
    out: list[CircleFit] = []
    for k, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        comp = labels[sl] == k
        dist = ndi.distance_transform_edt(comp, sampling=(1.0, aspect))
        r_in = float(dist.max())
        if not (0.02 * short <= r_in <= 0.15 * short):
            continue
        iy, ix = np.unravel_index(int(np.argmax(dist)), dist.shape)
        cy, cx = iy + sl[0].start, ix + sl[1].start
        fit = _head_from(pixels, (cy * f + (f - 1) / 2, cx * f + (f - 1) / 2), r_in * f, aspect)
        if fit is not None:
            out.append(fit)
    return out


def _head_from(
    pixels: npt.NDArray[np.generic], center: tuple[float, float], r_in: float, aspect: float
) -> CircleFit | None:
    """The head: the smallest round outline around ``center`` inside a larger one (the cup)."""
    pts = ray_edges(pixels, center, r_in, n_rays=720, inner=0.6, outer=2.6, aspect=aspect)
    if pts.shape[0] < 24:
        return None
    fits = ransac_circles(
        pts, aspect=aspect, radius_range_px=(0.5 * r_in, 2.6 * r_in), tol_px=1.0, min_arc_deg=75
    )
    if not fits:
        return None
    return min(fits, key=lambda q: q.radius_px)
