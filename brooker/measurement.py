"""Fragments -> the smallest edge-to-edge gap between opposing pelvic- and femoral-side bone.

Pelvic-side bone is the pelvis body plus pelvic spurs; femoral-side bone the femur body plus
femoral spurs. The gap is measured *across the heterotopic bone*: one end of it lies on a spur
(a pelvic spur to the nearest femoral-side bone, or a femoral spur to the nearest pelvic-side
bone), never between the normal bodies (that would be the joint space). Islands count for
neither side.

Convention: ``distance_transform_edt(..., sampling=(row_mm, col_mm), return_indices=True)``
gives the nearest opposing pixel centre-to-centre, using both axes of the spacing. The edges are
then located to sub-pixel precision along the line between the two pixels, where the profile
crosses the bone threshold (half-way between the local soft-tissue and bone levels, the
half-maximum of a blurred edge), and ``gap_mm`` is the distance between those edge points. A
bridge is 0 mm.

Uncertainty (``GapMeasurement.uncertainty_mm``): the spacing's relative uncertainty times the
gap (from its source: a calibrated Pixel Spacing is good to a few %, a detector-plane spacing is
off by the unknown magnification) plus one pixel pitch along the gap (half a pixel of edge
localisation at each end).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from brooker.config import AnalysisConfig
from brooker.fragments import Fragments
from brooker.models import FragmentKind, GapMeasurement, PixelSpacing
from brooker.segmentation import HipMasks


def measure_gap(
    masks: HipMasks, fragments: Fragments, spacing: PixelSpacing, config: AnalysisConfig
) -> GapMeasurement | None:
    """The gap of one hip, or None when it has no spur (classes 0 and I)."""
    sampling = spacing.sampling_mm
    kinds = [f.kind for f in fragments.items]
    bridges = [m for f, m in zip(fragments.items, fragments.roi_masks, strict=True) if f.kind is FragmentKind.BRIDGE]
    if bridges or (masks.bodies_joined and kinds):
        return _bridge_point(masks, bridges)
    pel_spurs = np.zeros(masks.bone.shape, bool)
    fem_spurs = np.zeros(masks.bone.shape, bool)
    for f, m in zip(fragments.items, fragments.roi_masks, strict=True):
        if f.kind is FragmentKind.PELVIC_SPUR:
            pel_spurs |= m
        elif f.kind is FragmentKind.FEMORAL_SPUR:
            fem_spurs |= m
    if not pel_spurs.any() and not fem_spurs.any():
        return None
    pelvic_side = masks.pelvis | pel_spurs
    femoral_side = masks.femur | fem_spurs
    best: tuple[float, tuple[int, int], tuple[int, int]] | None = None
    for spurs, opposite in ((pel_spurs, femoral_side), (fem_spurs, pelvic_side)):
        if not spurs.any() or not opposite.any():
            continue
        d, idx = ndi.distance_transform_edt(~opposite, sampling=sampling, return_indices=True)
        dd = np.where(spurs, d, np.inf)
        k = int(np.argmin(dd))
        r, c = np.unravel_index(k, dd.shape)
        dist = float(dd[r, c])
        if best is None or dist < best[0]:
            a = (int(r), int(c))
            b = (int(idx[0][r, c]), int(idx[1][r, c]))
            # keep (pelvic point, femoral point) order
            best = (dist, a, b) if spurs is pel_spurs else (dist, b, a)
    if best is None:
        return None
    _, p_pt, f_pt = best
    (pr, pc), (fr, fc), gap_mm = _refine_edges(masks, p_pt, f_pt, sampling)
    pitch_along = _pitch_along(p_pt, f_pt, sampling)
    unc = spacing.relative_uncertainty * gap_mm + pitch_along
    return GapMeasurement(
        gap_mm=gap_mm,
        pelvic_point_px=masks.to_image(pr, pc),
        femoral_point_px=masks.to_image(fr, fc),
        uncertainty_mm=unc,
    )


def _pitch_along(a: tuple[int, int], b: tuple[int, int], sampling: tuple[float, float]) -> float:
    dr, dc = (b[0] - a[0]) * sampling[0], (b[1] - a[1]) * sampling[1]
    n = math.hypot(dr, dc)
    if n == 0:
        return max(sampling)
    return math.hypot(dr / n * sampling[0], dc / n * sampling[1])


def _refine_edges(
    masks: HipMasks, a: tuple[int, int], b: tuple[int, int], sampling: tuple[float, float]
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Sub-pixel edge points on the segment a->b (a, b inside bone, the gap between them).

    The profile of (image - threshold) is sampled along the line; the first zero crossing
    leaving ``a`` and the last one before ``b`` are the edges. Falls back to the pixel centres
    minus one pitch when the profile is not clean.
    """
    ar, ac = a
    br, bc = b
    length_px = math.hypot(br - ar, bc - ac)
    centre_mm = math.hypot((br - ar) * sampling[0], (bc - ac) * sampling[1])
    if length_px < 1.0:
        return (float(ar), float(ac)), (float(br), float(bc)), 0.0
    n = max(8, int(length_px * 8))
    t = np.linspace(0.0, 1.0, n)
    rows = ar + t * (br - ar)
    cols = ac + t * (bc - ac)
    diff = masks.image - masks.threshold
    prof = ndi.map_coordinates(diff, [rows, cols], order=1, mode="nearest")
    below = prof <= 0
    if not below.any() or prof[0] <= 0 or prof[-1] <= 0:
        fallback = max(0.0, centre_mm - _pitch_along(a, b, sampling))
        return (float(ar), float(ac)), (float(br), float(bc)), fallback
    i0 = int(np.argmax(below))  # first sample at/below threshold
    i1 = n - 1 - int(np.argmax(below[::-1]))  # last sample at/below threshold
    def cross(i_out: int, i_in: int) -> float:
        p_in, p_out = prof[i_in], prof[i_out]
        frac = p_in / (p_in - p_out) if p_in != p_out else 0.5
        return float(t[i_in] + frac * (t[i_out] - t[i_in]))
    t0 = cross(i0, i0 - 1)
    t1 = cross(i1, i1 + 1)
    pa = (ar + t0 * (br - ar), ac + t0 * (bc - ac))
    pb = (ar + t1 * (br - ar), ac + t1 * (bc - ac))
    gap = max(0.0, (t1 - t0)) * centre_mm
    return pa, pb, gap


def _bridge_point(masks: HipMasks, bridges: list[np.ndarray]) -> GapMeasurement:
    """Gap 0 at the bridge's point farthest from both bodies (its middle)."""
    if bridges:
        region = np.logical_or.reduce(bridges)
    else:
        region = masks.bone & masks.sector
    if not region.any():
        r, c = masks.bone.shape[0] // 2, masks.bone.shape[1] // 2
    else:
        d = np.minimum(
            ndi.distance_transform_edt(~masks.pelvis, sampling=masks.spacing_mm) if masks.pelvis.any() else np.inf,
            ndi.distance_transform_edt(~masks.femur, sampling=masks.spacing_mm) if masks.femur.any() else np.inf,
        )
        d = np.where(region, d, -1.0)
        r, c = np.unravel_index(int(np.argmax(d)), d.shape)
    pt = masks.to_image(float(r), float(c))
    return GapMeasurement(gap_mm=0.0, pelvic_point_px=pt, femoral_point_px=pt, uncertainty_mm=0.0)
