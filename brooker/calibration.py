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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker import padding
from brooker.circles import CircleFit, fit_circle, ransac_circles, ray_edges, ray_steps
from brooker.config import ANATOMICAL_FIT_BIAS, NATIVE_HEAD_DIAMETER_MM, AnalysisConfig
from brooker.errors import (
    AmbiguousCalibrationError,
    CalibrationError,
    ImageTooSmallError,
    NoCalibrationObjectError,
)
from brooker.imaging import block_mean, peak_local_max
from brooker.models import (
    CalibrationObject,
    HipJoint,
    ImageSide,
    PixelSpacing,
    Radiograph,
    SpacingSource,
)
from brooker.units import MIN_IMAGE_SIDE_PX
from brooker.upright import turned, upright_view

FloatImage = npt.NDArray[np.float32]

#: The detection copy of the film has at most this many pixels along its long side.
DETECT_LONG_SIDE_PX = 900

#: Where between the outside (0) and inside (1) level an object's edge is placed. A film's
#: values are close to logarithmic in exposure, and the detector blurs the exposure, not its
#: logarithm: the log compresses the dark (metal) side of a blurred step, so the true edge lies
#: below the half-way level. 0.35 is the level that placed the edges of balls and prosthetic
#: heads closest to the truth on the synthetic films (``tests/test_calibration.py``).
EDGE_LEVEL = 0.35

#: The edge's placement is uncertain by about this fraction of its 75-25 % width (a blurred
#: edge has no single position; its level depends on the tone curve).
EDGE_PLACEMENT_FRACTION = 0.5

#: Relative error of a ball's fitted size where it lies against black air (the synthetic
#: films' worst case: a ball between the thighs), added to its fit's uncertainty.
AIR_EDGE_BIAS = 0.035

#: Metal's edge is sharp (a bone's is blurred by the chord through it): a head whose fitted
#: diameter is less certain than this (scatter and edge width) is not taken.
MAX_HEAD_RELATIVE_SD = 0.035

#: A spacing that makes the film narrower or wider than this (mm at the patient, short side)
#: means the wrong object, or a wrong diameter, was given.
PLAUSIBLE_FIELD_MM = (60.0, 600.0)


@dataclass(frozen=True, slots=True)
class _Blob:
    center_px: tuple[float, float]
    radius_px: float
    label: int


def _detection_copy(pixels: npt.NDArray[np.generic]) -> tuple[FloatImage, int]:
    """Block-averaged copy (whole factor) with the long side at most DETECT_LONG_SIDE_PX."""
    f = max(1, math.ceil(max(pixels.shape) / DETECT_LONG_SIDE_PX))
    return block_mean(pixels, f, f), f


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
    for level in np.linspace(lo, hi, 42)[1:-1]:
        mask = small >= level
        labels, _ = ndi.label(mask)
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
    pad = math.ceil(2.2 * r_eq / min(1.0, aspect)) + 1
    r0, r1 = max(0, int(cy) - pad), min(small.shape[0], int(cy) + pad + 1)
    c0, c1 = max(0, int(cx) - pad), min(small.shape[1], int(cx) + pad + 1)
    win = small[r0:r1, c0:c1]
    yy, xx = np.ogrid[r0:r1, c0:c1]
    d = np.hypot(yy - cy, (xx - cx) * aspect)
    ring = (d >= 1.3 * r_eq) & (d <= 2.0 * r_eq)
    if not ring.any():
        return None
    core = d <= 0.6 * r_eq
    inside = float(np.median(win[core]))
    around = float(np.median(win[ring]))
    contrast = inside - around
    # alone: nothing in the ring around it is about as bright as it (a head's cup and stem
    # are; soft tissue beside a ball at the body's edge may come close, but not that close)
    if contrast <= 0 or float((win[ring] >= inside - 0.25 * contrast).mean()) > 0.15:
        return None
    resid = _minus_plane(win, core)
    p5, p95 = np.percentile(resid, [5, 95])
    if float(p95 - p5) > 0.12 * contrast:
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
        pts = ray_edges(pixels, c, r, n_rays=n_rays, aspect=aspect, level=EDGE_LEVEL)
        try:
            fit = fit_circle(pts, aspect=aspect)
        except ValueError:
            return None
        c, r = fit.center_px, fit.radius_px
    return _with_placement(fit, pts) if fit is not None else None


def _with_placement(fit: CircleFit, pts: npt.NDArray[np.float64]) -> CircleFit:
    """The fit with the edge-placement uncertainty added to its radius' standard error."""
    widths = pts[:, 3]
    widths = widths[np.isfinite(widths)]
    if widths.size == 0:
        return fit
    place = EDGE_PLACEMENT_FRACTION * float(np.median(widths))
    return replace(fit, radius_sd_px=math.hypot(fit.radius_sd_px, place))


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
        if float(comp.sum()) < 1.25 * math.pi * r_in * r_in / aspect:
            continue  # a lone disk (a ball), not a head on a stem or in a cup
        seeds = peak_local_max(
            dist, min_distance=max(2, int(0.5 * r_in)), threshold_abs=0.5 * r_in, num_peaks=4
        )
        centres = [
            ((iy + sl[0].start) * f + (f - 1) / 2, (ix + sl[1].start) * f + (f - 1) / 2)
            for iy, ix in seeds
        ]
        rr, cc = np.nonzero(comp)
        blob = np.column_stack([(rr + sl[0].start) * f, (cc + sl[1].start) * f]).astype(float)
        fit = _head_from(pixels, centres, r_in * f, aspect, body + 0.5 * (thr - body), blob)
        if fit is not None:
            out.append(fit)
    return out


def _head_from(
    pixels: npt.NDArray[np.generic],
    centres: list[tuple[float, float]],
    r_in: float,
    aspect: float,
    metal_level: float,
    blob_px: npt.NDArray[np.float64],
) -> CircleFit | None:
    """The head: the smallest well-supported round metal outline around the seeds.

    ``centres`` are the metal blob's deepest points (in the cup or the head). Round outlines
    are found among the strong steepest steps along rays from each (RANSAC: the head where it
    stands out of the cup, the cup's rim); each is then re-located at :data:`EDGE_LEVEL`
    between the levels just inside and just outside it, ray by ray from its own centre, and
    refitted. The smallest that is metal inside (brighter than ``metal_level``, half-way from
    the film's median to the metal threshold), covers at least 90 degrees, and sits in a cup
    (a larger round outline around the same centre) or on a stem (the metal blob reaches
    4 radii from its centre), with a sharp edge (:data:`MAX_HEAD_RELATIVE_SD`), is the head: a
    clipped vertebral body or a ball is not.
    """
    cands: list[CircleFit] = []
    seeds = list(centres)
    for _ in range(2):  # the cup's centre (found first from an off-centre seed) is the head's
        found: list[CircleFit] = []
        for center in seeds[:4]:
            steps = ray_steps(
                pixels, center, r_in, n_rays=720, inner=0.3, outer=4.5, aspect=aspect
            )
            if steps.shape[0] < 24:
                continue
            steps = steps[steps[:, 3] >= 0.25 * float(np.percentile(steps[:, 3], 90))]
            found += ransac_circles(
                steps, aspect=aspect, radius_range_px=(0.6 * r_in, 3.0 * r_in), tol_px=1.5,
                min_arc_deg=60, max_circles=5,
            )
        cands += found
        seeds = [q.center_px for q in sorted(found, key=lambda q: -q.n_points)]
    for cand in sorted(cands, key=lambda q: q.radius_px):
        fit = _refine(pixels, cand, aspect)
        if (
            fit is None
            or fit.arc_deg < 90
            or fit.n_points < 0.5 * 720 * fit.arc_deg / 360
            or not _metal_inside(pixels, fit, aspect, metal_level)
            or fit.relative_sd > MAX_HEAD_RELATIVE_SD
        ):
            continue
        yc, xc = fit.center_px
        in_cup = any(
            1.2 * fit.radius_px <= q.radius_px <= 2.3 * fit.radius_px
            and math.hypot(q.center_px[0] - yc, (q.center_px[1] - xc) * aspect)
            <= 0.35 * fit.radius_px
            for q in cands
        )
        reach = float(np.hypot(blob_px[:, 0] - yc, (blob_px[:, 1] - xc) * aspect).max())
        if in_cup or reach >= 4.0 * fit.radius_px:
            return fit
    return None


def _refine(pixels: npt.NDArray[np.generic], cand: CircleFit, aspect: float) -> CircleFit | None:
    """Edge points of ``cand`` re-located by level crossing and refitted (inliers only)."""
    r = cand.radius_px
    pts = ray_edges(
        pixels, cand.center_px, r, n_rays=720, inner=0.85, outer=1.2, aspect=aspect,
        level=EDGE_LEVEL, inside_band=(0.78, 0.9), outside_band=(1.1, 1.22),
    )
    if pts.shape[0] < 24:
        return None
    yc, xc = cand.center_px
    d = np.abs(np.hypot(pts[:, 0] - yc, (pts[:, 1] - xc) * aspect) - r)
    near = pts[d <= max(0.04 * r, 2.0)]
    if near.shape[0] < 24:
        return None
    try:
        fit = fit_circle(near, aspect=aspect, reject_sigma=2.5)
    except ValueError:
        return None
    yc, xc = fit.center_px
    d = np.abs(np.hypot(near[:, 0] - yc, (near[:, 1] - xc) * aspect) - fit.radius_px)
    return _with_placement(fit, near[d <= max(2.5 * fit.rms_px, 1.0)])


def _metal_inside(
    pixels: npt.NDArray[np.generic], fit: CircleFit, aspect: float, metal_level: float
) -> bool:
    """The inner half of the disk is metal-bright (median above ``metal_level``)."""
    yc, xc = fit.center_px
    r = fit.radius_px
    r0, r1 = max(0, int(yc - r)), min(pixels.shape[0], int(yc + r) + 1)
    c0, c1 = max(0, int(xc - r / aspect)), min(pixels.shape[1], int(xc + r / aspect) + 1)
    win = np.asarray(pixels[r0:r1, c0:c1], dtype=np.float32)
    yy, xx = np.ogrid[r0:r1, c0:c1]
    core = np.hypot(yy - yc, (xx - xc) * aspect) <= 0.5 * r
    return bool(core.sum() >= 10 and float(np.median(win[core])) >= metal_level)


def _minus_plane(win: FloatImage, where: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Values at ``where`` minus their least-squares plane (a film's large-scale tilt)."""
    rr, cc = np.nonzero(where)
    v = win[rr, cc].astype(np.float64)
    a = np.column_stack([rr, cc, np.ones_like(rr)]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(a, v, rcond=None)
    return v - a @ coef


# --------------------------------------------------------------------------------------------
# native femoral heads (anatomical estimate)


def find_native_heads(
    radiograph: Radiograph, config: AnalysisConfig, *, aspect: float = 1.0
) -> list[CircleFit]:
    """Native femoral heads, fitted, on a film with no spacing.

    Hip localisation needs a spacing; it is run with provisional spacings that make the film
    380, 300, 450 and 240 mm wide (AP pelvis and hip views) until it finds a native hip, whose
    head is then fitted here in pixels: the steepest bright-to-dark step along rays from its
    centre (the head's cortex against the joint space and soft tissue), with RANSAC keeping
    the round part of the outline (the neck and the acetabulum are not on it).
    """
    from brooker.localization import find_hips

    cols = radiograph.pixels.shape[1]
    # a head whose outline the hip search fitted has its radius in pixels whatever the trial
    # width; one placed at the detector's centre has a typical head's radius at that width,
    # and the search band built on it can miss the head (a narrow film's 131 px head sought
    # at 65-125 px fitted another arc: 12 % off). Fitted heads at any width come first.
    unfitted: list[tuple[float, list[HipJoint]]] = []
    for width_mm in (380.0, 300.0, 450.0, 240.0):
        row_mm = width_mm / (cols * aspect)
        probe = replace(
            radiograph,
            spacing=PixelSpacing(row_mm, row_mm * aspect, SpacingSource.ANATOMICAL_ESTIMATE),
        )
        natives = [h for h in find_hips(probe, config).hips if not h.prosthesis]
        outlined = [h.head_radius_mm / row_mm for h in natives if h.center_uncertainty_mm == 0]
        if outlined:
            # every native head at this width, sought at the outlined heads' size in pixels
            # (the two heads of one pelvis are alike; a typical radius may miss it)
            fits = _fit_native_heads(radiograph, natives, float(np.mean(outlined)), aspect)
            if fits:
                return fits
        unfitted.append((row_mm, natives))
    for row_mm, natives in unfitted:
        fits = _fit_native_heads(radiograph, natives, None, aspect, row_mm=row_mm)
        if fits:
            return fits
    return []


def _fit_native_heads(
    radiograph: Radiograph,
    natives: list[HipJoint],
    radius_px: float | None,
    aspect: float,
    *,
    row_mm: float = 1.0,
) -> list[CircleFit]:
    """The outlines of the heads of ``natives``, in pixels: the steepest step along rays from
    each centre, RANSAC keeping the round part; sought at ``radius_px``, or when None at each
    hip's own radius at the trial spacing ``row_mm``."""
    fits: list[CircleFit] = []
    for hip in natives:
        r_px = radius_px if radius_px is not None else hip.head_radius_mm / row_mm
        pts = ray_steps(
            radiograph.pixels, hip.center_px, r_px, n_rays=360, inner=0.7, outer=1.35,
            aspect=aspect,
        )
        cands = ransac_circles(
            pts, aspect=aspect, radius_range_px=(0.75 * r_px, 1.3 * r_px), tol_px=1.5,
            min_arc_deg=120, max_circles=1,
        )
        if cands:
            fits.append(cands[0])
    return fits


# --------------------------------------------------------------------------------------------
# the spacing


def calibrate(radiograph: Radiograph, config: AnalysisConfig) -> Radiograph:
    """Apply the calibration ``config`` asks for to a loaded radiograph.

    ``ball_mm`` or ``head_mm``: the object is found and fitted and the spacing it gives
    replaces any other (the tags' spacing, if any, is named in a caveat with how far it
    differs). ``estimate_spacing``: only when the radiograph has no spacing at all. Otherwise
    the radiograph's spacing stands, its relative uncertainty the one
    ``config.spacing_uncertainty`` gives its source.

    Raises
    ------
    CalibrationError
        The object asked for is not on the film, or a ball is not unique, or the spacing it
        gives is implausible.
    """
    box = radiograph.unpadded_px
    if box is None:
        return _calibrate_stored(radiograph, config, (0, 0))
    # a film padded to a plate size is searched inside its border (brooker.padding), as the
    # analysis reads it: the border moved the native heads' estimate by a quarter, and a
    # head's side was judged against the padded film's middle
    offset = (box[0], box[1])
    try:
        inner = _calibrate_stored(padding.cropped(radiograph), config, offset)
    except ImageTooSmallError:  # _check_searchable on the box: name it, as grading does
        raise ImageTooSmallError(
            f"{padding.box_said(radiograph)}: fewer than {MIN_IMAGE_SIDE_PX} pixels on a side "
            "cannot show a calibration object or a hip",
            radiograph.meta.path,
        ) from None
    return replace(
        inner,
        pixels=radiograph.pixels,
        unpadded_px=box,
        padding_declared=radiograph.padding_declared,
        border_by=radiograph.border_by,
        spacing=padding.Shifted(offset).spacing(inner.spacing),
    )


def _calibrate_stored(
    radiograph: Radiograph, config: AnalysisConfig, offset: tuple[int, int]
) -> Radiograph:
    """:func:`calibrate` of a film with no padding border (or inside it: ``offset`` is where
    its first pixel lies on the stored film, for the positions messages quote)."""

    def on_film(p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] + offset[0], p[1] + offset[1])

    turn = radiograph.to_upright
    if not turn.is_identity:
        # the ball, head and hip searches read a film with the patient's head at the top: one
        # stored upside down or turned a quarter is calibrated turned upright, and its objects
        # (and the positions its messages quote) given on the stored pixels (brooker.upright),
        # so that it calibrates as the same film stored upright
        upright = upright_view(radiograph)
        back, shape = turn.inverse, upright.pixels.shape
        calibrated = _calibrate(upright, config, shown=lambda p: on_film(back.point(p, shape)))
        # (the stored pixels themselves, not a view of a view of them)
        return replace(turned(calibrated, back), pixels=radiograph.pixels)
    return _calibrate(radiograph, config, shown=on_film)


def _calibrate(
    radiograph: Radiograph,
    config: AnalysisConfig,
    *,
    shown: Callable[[tuple[float, float]], tuple[float, float]],
) -> Radiograph:
    """:func:`calibrate` of a film the right way up; ``shown`` gives a position as a message
    quotes it (on the film as stored)."""
    where = radiograph.meta.path
    prior = radiograph.spacing
    asked = (
        (SpacingSource.CALIBRATION_BALL, config.ball_mm)
        if config.ball_mm is not None
        else (SpacingSource.PROSTHETIC_HEAD, config.head_mm)
        if config.head_mm is not None
        else None
    )
    # calibrated already, from the object this config names: analysed again, its spacing
    # stands as any other does (the calibration's caveats are not written twice, nor a
    # "replaces" note about a spacing the file never had)
    again = (
        asked is not None
        and prior is not None
        and bool(prior.calibration)
        and (prior.source, prior.calibration[0].diameter_mm) == asked
    )
    aspect = 1.0 if prior is None else prior.col_mm / prior.row_mm
    unc = config.spacing_uncertainty
    extra: list[str] = []
    searching = not again and (config.ball_mm is not None or config.head_mm is not None)
    if searching or (config.estimate_spacing and prior is None):
        _check_searchable(radiograph)
    if config.ball_mm is not None and not again:
        balls = find_balls(radiograph.pixels, aspect=aspect)
        if not balls:
            raise NoCalibrationObjectError(
                f"no calibration ball found (a {config.ball_mm:g} mm ball was asked for: a "
                "bright, flat, round blob standing alone and wholly on the film)",
                where,
            )
        if len(balls) > 1:
            at = ", ".join(
                "({:.0f}, {:.0f})".format(*shown(b.center_px)) for b in balls[:4]
            )
            raise AmbiguousCalibrationError(
                f"{len(balls)} candidate calibration balls found at row, col {at}: the ball "
                "cannot be told apart",
                where,
            )
        ball = balls[0]
        dark = _dark_surround(radiograph.pixels, ball, aspect)
        if dark > 0.2:
            # against black (air clipped by the export's window) the blurred edge is placed
            # inside the ball: up to 3.5 % too small on the synthetic films
            ball = replace(
                ball, radius_sd_px=math.hypot(ball.radius_sd_px, AIR_EDGE_BIAS * ball.radius_px)
            )
            extra.append(
                f"{100 * dark:.0f} % of the ball's surroundings are black (air): its edge is "
                f"less certain there (+{100 * AIR_EDGE_BIAS:.0f} % uncertainty); a ball over "
                "soft tissue is better"
            )
        objs = [_object("calibration_ball", ball, config.ball_mm, aspect)]
        source = SpacingSource.CALIBRATION_BALL
    elif config.head_mm is not None and not again:
        heads = find_prosthetic_heads(radiograph.pixels, aspect=aspect)
        if not heads:
            raise NoCalibrationObjectError(
                f"no prosthetic head found (a {config.head_mm:g} mm head was asked for: a flat "
                "metal disk inside a cup, on a stem)",
                where,
            )
        heads = sorted(heads, key=lambda h: -h.n_points)[:2]
        objs = [_object("prosthetic_head", h, config.head_mm, aspect) for h in heads]
        source = SpacingSource.PROSTHETIC_HEAD
    elif config.estimate_spacing and prior is None:
        heads = find_native_heads(radiograph, config, aspect=aspect)
        if not heads:
            raise NoCalibrationObjectError(
                "no native femoral head found to estimate the spacing from", where
            )
        objs = [
            _object("femoral_head", h, NATIVE_HEAD_DIAMETER_MM, aspect) for h in heads[:2]
        ]
        source = SpacingSource.ANATOMICAL_ESTIMATE
    else:
        # the file's (or the user's) spacing stands, with the uncertainty the config gives its
        # source (the loader, which has no config, gives the defaults)
        if prior is not None and prior.source in unc:
            rel = float(unc[prior.source])
            if prior.calibration:
                # already calibrated (a radiograph passed in again): the fit's part stays
                _, fit_rel, spread = _combine(prior.calibration)
                rel = _relative_uncertainty(rel, fit_rel, spread)
            radiograph = replace(radiograph, spacing=replace(prior, relative_uncertainty=rel))
        if (
            config.estimate_spacing
            and not again
            and prior is not None
            and prior.source is not SpacingSource.ANATOMICAL_ESTIMATE
        ):
            return _add_caveats(
                radiograph,
                [
                    "the spacing estimate asked for (--estimate-spacing, estimate_spacing=True) "
                    f"was not used: the spacing comes from {prior.source.value}"
                ],
            )
        return radiograph
    return _add_caveats(
        _apply(radiograph, objs, source, float(unc[source]), aspect), extra
    )


def _check_searchable(radiograph: Radiograph) -> None:
    """Refuse a film too small to hold any object before it is searched: the detection copy
    of a strip a few pixels high has no rows (this runs before
    :func:`brooker.dicom_io.check_gradable`, which refuses such a film for grading)."""
    rows, cols = radiograph.pixels.shape[:2]
    if min(rows, cols) < MIN_IMAGE_SIDE_PX:
        raise ImageTooSmallError(
            f"image of {rows} x {cols} pixels: fewer than {MIN_IMAGE_SIDE_PX} pixels on a "
            "side cannot show a calibration object or a hip",
            radiograph.meta.path,
        )


def _dark_surround(pixels: npt.NDArray[np.generic], fit: CircleFit, aspect: float) -> float:
    """Fraction of the ring 1.1-1.4 radii around a fit that is black (the film's bottom 1 %)."""
    yc, xc = fit.center_px
    r = fit.radius_px
    r0, r1 = max(0, int(yc - 1.4 * r)), min(pixels.shape[0], int(yc + 1.4 * r) + 1)
    c0 = max(0, int(xc - 1.4 * r / aspect))
    c1 = min(pixels.shape[1], int(xc + 1.4 * r / aspect) + 1)
    win = np.asarray(pixels[r0:r1, c0:c1], dtype=np.float32)
    yy, xx = np.ogrid[r0:r1, c0:c1]
    d = np.hypot(yy - yc, (xx - xc) * aspect)
    ring = win[(d >= 1.1 * r) & (d <= 1.4 * r)]
    if ring.size == 0:
        return 0.0
    sample = np.asarray(pixels[::4, ::4], dtype=np.float32)
    lo, hi = (float(v) for v in np.percentile(sample, [1.0, 99.0]))
    return float((ring <= lo + 0.05 * (hi - lo)).mean())


def _object(kind: str, fit: CircleFit, diameter_mm: float, aspect: float) -> CalibrationObject:
    return CalibrationObject(
        kind=kind,
        center_px=(float(fit.center_px[0]), float(fit.center_px[1])),
        diameter_px=float(fit.diameter_px),
        diameter_mm=float(diameter_mm),
        fit_relative_uncertainty=float(fit.relative_sd),
        aspect=aspect,
    )


def _side(radiograph: Radiograph, obj: CalibrationObject) -> str:
    half = ImageSide.LEFT if obj.center_px[1] < radiograph.pixels.shape[1] / 2 else ImageSide.RIGHT
    return radiograph.patient_side_of(half).value


def _combine(objs: Sequence[CalibrationObject]) -> tuple[float, float, float]:
    """The objects' spacing (mm per row pixel, weighted by their fits), its relative
    uncertainty from the fits, and the relative spread between two objects (0 for one)."""
    rows_mm = np.array([o.row_mm for o in objs])
    fit_unc = np.array([o.fit_relative_uncertainty for o in objs])
    weights = 1.0 / np.maximum(fit_unc, 1e-4) ** 2
    row_mm = float((rows_mm * weights).sum() / weights.sum())
    fit_rel = float(1.0 / math.sqrt(weights.sum()))
    spread = float(abs(rows_mm[0] - rows_mm[1]) / row_mm) if len(objs) == 2 else 0.0
    return row_mm, fit_rel, spread


def _relative_uncertainty(source_unc: float, fit_rel: float, spread: float) -> float:
    """A calibrated spacing's relative uncertainty: the source's own, the fit's and half the
    spread between two objects, in quadrature."""
    return math.sqrt(source_unc**2 + fit_rel**2 + (spread / 2) ** 2)


def _apply(
    radiograph: Radiograph,
    objs: list[CalibrationObject],
    source: SpacingSource,
    source_unc: float,
    aspect: float,
) -> Radiograph:
    where = radiograph.meta.path
    row_mm, fit_rel, spread = _combine(objs)
    caveats: list[str] = []
    if len(objs) == 2:
        label = {"prosthetic_head": "prosthetic heads", "femoral_head": "femoral heads"}.get(
            objs[0].kind, "objects"
        )
        limit = 0.03 if source is SpacingSource.PROSTHETIC_HEAD else 0.10
        if spread > limit:
            caveats.append(
                f"the two {label} disagree by {100 * spread:.1f} % (fitted "
                f"{objs[0].diameter_px:.1f} and {objs[1].diameter_px:.1f} px): one may not be "
                f"{objs[0].diameter_mm:g} mm, or the film is rotated; their mean is used and "
                "the difference is counted in the uncertainty"
            )
    rel = _relative_uncertainty(source_unc, fit_rel, spread)
    spacing = PixelSpacing(
        row_mm=row_mm,
        col_mm=row_mm * aspect,
        source=source,
        relative_uncertainty=rel,
        calibration=tuple(objs),
    )
    rows, cols = radiograph.pixels.shape
    short_mm = min(rows * row_mm, cols * row_mm * aspect)
    lo, hi = PLAUSIBLE_FIELD_MM
    if not (lo <= short_mm <= hi):
        raise CalibrationError(
            f"the {objs[0].kind.replace('_', ' ')} gives {row_mm:.4g} mm per pixel, which makes "
            f"the film {short_mm:.0f} mm across: not a hip film at that scale (wrong object "
            "or wrong diameter?)",
            where,
        )
    what = {
        SpacingSource.CALIBRATION_BALL: "calibration ball",
        SpacingSource.PROSTHETIC_HEAD: "prosthetic head",
        SpacingSource.ANATOMICAL_ESTIMATE: "native femoral head",
    }[source]
    fitted = "; ".join(
        f"{_side(radiograph, o)} side {o.diameter_px:.1f} px" if o.kind != "calibration_ball"
        else f"{o.diameter_px:.1f} px"
        for o in objs
    )
    assumed = " assumed" if source is SpacingSource.ANATOMICAL_ESTIMATE else ""
    text = (
        f"spacing {row_mm:.4f} x {row_mm * aspect:.4f} mm from the {what} "
        f"({objs[0].diameter_mm:g} mm{assumed}; "
        f"fitted {fitted}), ±{100 * rel:.0f} %"
    )
    if source is SpacingSource.CALIBRATION_BALL:
        text += ", at the ball's depth: right at the hip only if the ball was at hip height"
    if source is SpacingSource.ANATOMICAL_ESTIMATE:
        text += (
            ": an anatomical estimate from the population's mean head diameter, not a "
            "measurement; gaps are uncertain by as much, and on real films rather too small "
            f"(the fitted outline takes in more than the head: a median "
            f"{100 * ANATOMICAL_FIT_BIAS:.0f} % too large on the team's films; check it on the "
            "overlay)"
        )
    caveats.insert(0, text)
    prior = radiograph.spacing
    if prior is not None:
        diff = prior.row_mm / row_mm - 1
        caveats.append(
            f"replaces the file's spacing {prior.row_mm:.4f} x {prior.col_mm:.4f} mm "
            f"(from {prior.source.value}; {100 * diff:+.1f} % from the calibration)"
        )
    # what the loader said about the spacing it chose (detector plane, uncalibrated, a tag
    # ignored for another) no longer describes the spacing in use: the "replaces" note above
    # says what the file gave
    inputs = radiograph.spacing_inputs
    stale = set(inputs.caveats) if inputs is not None else set()
    kept = tuple(
        c
        for c in radiograph.caveats
        if c not in stale and not c.startswith("no physical pixel spacing")
    )
    return replace(radiograph, spacing=spacing, caveats=kept + tuple(caveats))


def _add_caveats(radiograph: Radiograph, notes: list[str]) -> Radiograph:
    return replace(radiograph, caveats=radiograph.caveats + tuple(notes))
