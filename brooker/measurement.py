"""Fragments -> the smallest edge-to-edge gap between opposing pelvic- and femoral-side bone.

Pelvic-side bone is the pelvis body plus pelvic spurs; femoral-side bone the femur body, the
femoral head and femoral spurs. On a hip with a spur, each island (wherever it lies in the
searched sector) joins the side it lies nearer to and counts as heterotopic bone of that side:
it narrows the space left between the sides, whether it is bone floating in the gap or a piece
of the opposing spur whose base the segmentation did not join to its body (on real films a
faint base often is not). Islands alone have no gap (class I). The gap is measured *across
the heterotopic bone*: one end of it lies on heterotopic bone of one side (a pelvic spur or
pelvic-side island to the nearest femoral-side bone, or the reverse), never between the
normal bodies (that would be the joint space).

Convention: ``distance_transform_edt(..., sampling=(row_mm, col_mm), return_indices=True)``
gives the nearest opposing pixel centre-to-centre, using both axes of the spacing. The edges are
then located to sub-pixel precision along the line between the two pixels, where the profile
crosses the bone threshold (half-way between the local soft-tissue and bone levels, the
half-maximum of a blurred edge), and ``gap_mm`` is the distance between those edge points. A
bridge is 0 mm.

Uncertainty (``GapMeasurement.uncertainty_mm``): the spacing's relative uncertainty times the
gap (from its source: a calibrated Pixel Spacing is good to a few %, a detector-plane spacing is
off by the unknown magnification) plus one ROI pixel pitch along the gap (half a pixel of edge
localisation at each end). The ROI pitch is the stored pitch, or ``work_pitch_mm`` (0.4 mm) on
films finer than that, whose ROIs are block-averaged (:mod:`brooker.segmentation`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from brooker.config import AnalysisConfig
from brooker.fragments import Fragments
from brooker.imaging import distance_transform_edt, distance_transform_edt_indices, window_around
from brooker.models import FragmentKind, GapMeasurement, PixelSpacing
from brooker.segmentation import HipMasks

#: How far beyond each end of the gap the edge profile reaches into the bone, mm.
EDGE_REACH_MM = 1.5


def measure_gap(
    masks: HipMasks, fragments: Fragments, spacing: PixelSpacing, config: AnalysisConfig
) -> GapMeasurement | None:
    """The gap of one hip, or None when it has no spur (classes 0 and I)."""
    sampling = masks.spacing_mm  # the ROI's pixels (block-averaged on fine films)
    of_kind: dict[FragmentKind, list[np.ndarray]] = {kind: [] for kind in FragmentKind}
    for f, m in zip(fragments.items, fragments.roi_masks, strict=True):
        of_kind[f.kind].append(m)
    if of_kind[FragmentKind.BRIDGE]:
        return _bridge_point(masks, of_kind[FragmentKind.BRIDGE])
    attached = of_kind[FragmentKind.PELVIC_SPUR] + of_kind[FragmentKind.FEMORAL_SPUR]
    if not attached:
        return None
    if masks.bodies_joined and not masks.parted_at_joint:
        # bodies the segmentation found joined are bridged by heterotopic bone attached to them
        # (beside islands alone they are not: class I); that bridge is inferred, not seen, so
        # its point goes on the attached spurs. Bodies that parted once the joint was cut out
        # were joined by the joint itself (the head in its socket): a bridge beside it is a
        # bridge fragment between the parted bodies, and their spurs are measured as on any
        # hip (inferring a bridge there read IV on 0 of the labelled class IV hips and on 3
        # that had none, in-sample and held out)
        return _bridge_point(masks, attached)
    pel_spurs = _union(of_kind[FragmentKind.PELVIC_SPUR], masks.bone.shape)
    fem_spurs = _union(of_kind[FragmentKind.FEMORAL_SPUR], masks.bone.shape)
    islands = of_kind[FragmentKind.ISLAND]
    # on a hip with a spur, an island is heterotopic bone across the gap too: it joins the side
    # it lies nearer to (as a spur of that side), so the gap is the narrowest space left
    # between pelvic-side and femoral-side bone
    pel_spurs, fem_spurs = _sided_islands(masks, pel_spurs, fem_spurs, islands)
    pelvic_side = masks.pelvis | pel_spurs
    femoral_side = masks.femur | fem_spurs | masks.head
    best: tuple[float, tuple[int, int], tuple[int, int], np.ndarray] | None = None
    sides = ((pel_spurs, femoral_side, pelvic_side), (fem_spurs, pelvic_side, femoral_side))
    for spurs, opposite, own in sides:
        if not spurs.any() or not opposite.any():
            continue
        dist, a, b = _nearest_pair(spurs, opposite, sampling)
        if best is None or dist < best[0]:
            # keep (pelvic point, femoral point) order
            best = (dist, a, b, own) if spurs is pel_spurs else (dist, b, a, own)
    if best is None:
        return None
    _, p_pt, f_pt, own_side = best
    island_ends = sum(any(bool(m[pt]) for m in islands) for pt in (p_pt, f_pt))
    to_head = bool(masks.head[f_pt]) and not (masks.femur[f_pt] or fem_spurs[f_pt])
    (pr, pc), (fr, fc), gap_mm = _refine_edges(masks, p_pt, f_pt, sampling, across=own_side)
    # to the nanometre: the interpolation's float noise (a 10.0 mm gap at a 0.2 mm pitch came
    # out 9.99999999737, class III) must not decide the class at the 10 mm boundary
    gap_mm = round(gap_mm, 6)
    pitch_along = _pitch_along(p_pt, f_pt, sampling)
    unc = spacing.relative_uncertainty * gap_mm + pitch_along
    return GapMeasurement(
        gap_mm=gap_mm,
        pelvic_point_px=masks.to_image(pr, pc),
        femoral_point_px=masks.to_image(fr, fc),
        uncertainty_mm=unc,
        island_ends=island_ends,
        to_head=to_head,
    )


def _union(parts: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The union of ``parts`` (all of ``shape``); empty when there are none."""
    out = np.zeros(shape, bool)
    for part in parts:
        out |= part
    return out


def _sided_islands(
    masks: HipMasks, pel_spurs: np.ndarray, fem_spurs: np.ndarray, islands: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The pelvic and femoral heterotopic bone with each island added to the side whose bone
    (body, spurs; the femoral head on the femoral side) it lies nearer to; equal distances go
    to the pelvis. Without bone on one of the sides the islands are left out."""
    pelvic = masks.pelvis | pel_spurs
    femoral = masks.femur | fem_spurs | masks.head
    if not islands or not pelvic.any() or not femoral.any():
        return pel_spurs, fem_spurs
    pel_out, fem_out = pel_spurs.copy(), fem_spurs.copy()
    to_pelvis = _min_distances(islands, pelvic, masks.spacing_mm)
    to_femur = _min_distances(islands, femoral, masks.spacing_mm)
    for island, dp, df in zip(islands, to_pelvis, to_femur, strict=True):
        if df < dp:
            fem_out |= island
        else:
            pel_out |= island
    return pel_out, fem_out


def _min_distances(
    sources: list[np.ndarray], target: np.ndarray, sampling: tuple[float, float]
) -> list[float]:
    """The distance, mm, from each of ``sources`` to its nearest ``target`` pixel (centre to
    centre). One distance map in the sources' box grown by :data:`NEAREST_WINDOW_MM`; a
    distance beyond that margin (a nearer target pixel could lie outside the box) is taken on
    the whole ROI."""
    union = _union(sources, target.shape)
    rows = np.flatnonzero(union.any(axis=1))
    cols = np.flatnonzero(union.any(axis=0))
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    win = window_around(box, NEAREST_WINDOW_MM, sampling, target.shape)
    near = None
    if target[win].any():
        near = distance_transform_edt(~target[win], sampling)
    whole: np.ndarray | None = None
    out: list[float] = []
    for src in sources:
        d = math.inf if near is None else float(near[src[win]].min())
        if d > NEAREST_WINDOW_MM:
            if whole is None:
                whole = distance_transform_edt(~target, sampling)
            d = float(whole[src].min())
        out.append(d)
    return out


def _pitch_along(a: tuple[int, int], b: tuple[int, int], sampling: tuple[float, float]) -> float:
    dr, dc = (b[0] - a[0]) * sampling[0], (b[1] - a[1]) * sampling[1]
    n = math.hypot(dr, dc)
    if n == 0:
        return max(sampling)
    return math.hypot(dr / n * sampling[0], dc / n * sampling[1])


def _refine_edges(
    masks: HipMasks,
    a: tuple[int, int],
    b: tuple[int, int],
    sampling: tuple[float, float],
    across: np.ndarray | None = None,
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Sub-pixel edge points on the line through a and b (both in bone, the gap between).

    The intensity profile is sampled along the line, reaching ``EDGE_REACH_MM`` into the bone
    beyond each end. Each edge is put where the profile crosses half-way between the bone
    level next to that edge (the profile's maximum inside the bone, never metal's behind a
    bone end: :func:`_bone_levels`) and the soft-tissue level
    in the gap (the profile's minimum between the two): the half-maximum of each edge on its
    own, whatever the bone's density. Falls back to the masks' edges (the end pixels' centres,
    half a pixel in from each: the gap is their distance less one pitch) when the profile is not
    clean, or when the line runs through ``across`` (the spur's own side: its body lies between
    the spur and the opposing bone).
    """
    ar, ac = a
    br, bc = b
    centre_mm = math.hypot((br - ar) * sampling[0], (bc - ac) * sampling[1])
    pitch = _pitch_along(a, b, sampling)
    if centre_mm <= 0:
        return (float(ar), float(ac)), (float(br), float(bc)), 0.0
    # the fallback: the masks' edges, half a pixel in from each end pixel's centre, so that
    # the points drawn and recorded are as far apart as the gap reported
    inset = min(0.5, 0.5 * pitch / centre_mm)
    fallback = (
        (ar + inset * (br - ar), ac + inset * (bc - ac)),
        (br - inset * (br - ar), bc - inset * (bc - ac)),
        max(0.0, centre_mm - pitch),
    )
    ext = EDGE_REACH_MM / centre_mm  # in units of the a->b segment
    n = max(32, int(8 * (1 + 2 * ext) * centre_mm / min(sampling)))
    t = np.linspace(-ext, 1 + ext, n)
    rows = ar + t * (br - ar)
    cols = ac + t * (bc - ac)
    prof = ndi.map_coordinates(masks.image, [rows, cols], order=1, mode="nearest")
    inner = (t >= 0) & (t <= 1)
    if inner.sum() < 3:
        return fallback
    if across is not None:
        # the line runs through the spur's own body (a spur beside the ilium, measured to the
        # femoral head across the ilium): the profile has no soft-tissue gap between two
        # edges there, only the masks have
        between = (t * centre_mm > pitch) & ((1 - t) * centre_mm > pitch)
        hits = ndi.map_coordinates(across.astype(np.uint8), [rows[between], cols[between]], order=0)
        if hits.any():
            return fallback
    i_min = int(np.flatnonzero(inner)[np.argmin(prof[inner])])
    soft = float(prof[i_min])
    bone_a, bone_b = _bone_levels(masks, prof, t, rows, cols, i_min, a, b)
    if min(bone_a, bone_b) - soft <= 0:
        return fallback
    half_a = soft + 0.5 * (bone_a - soft)
    half_b = soft + 0.5 * (bone_b - soft)
    # last crossing of half_a going from the a-side bone down into the gap minimum
    seg_a = prof[: i_min + 1]
    above_a = np.flatnonzero(seg_a >= half_a)
    seg_b = prof[i_min:]
    above_b = np.flatnonzero(seg_b >= half_b)
    if above_a.size == 0 or above_b.size == 0:
        return fallback
    ia = int(above_a[-1])
    ib = i_min + int(above_b[0])
    if ia + 1 > i_min or ib - 1 < i_min:
        return fallback

    def cross(i_in: int, i_out: int, level: float) -> float:
        p_in, p_out = prof[i_in], prof[i_out]
        frac = (p_in - level) / (p_in - p_out) if p_in != p_out else 0.5
        return float(t[i_in] + frac * (t[i_out] - t[i_in]))

    t0 = cross(ia, ia + 1, half_a)
    t1 = cross(ib, ib - 1, half_b)
    if t1 <= t0:
        return fallback
    pa = (ar + t0 * (br - ar), ac + t0 * (bc - ac))
    pb = (ar + t1 * (br - ar), ac + t1 * (bc - ac))
    return pa, pb, (t1 - t0) * centre_mm


def _bone_levels(
    masks: HipMasks,
    prof: np.ndarray,
    t: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    i_min: int,
    a: tuple[int, int],
    b: tuple[int, int],
) -> tuple[float, float]:
    """The bone level of each edge of the gap: the profile's maximum on its side of the gap's
    darkest point (``i_min``). Metal is no bone: when the line passes metal or its halo but
    both of the gap's ends are bone (a cortex over a stem or a cup), each level is read only
    on that side's bone beyond its end and off the halo (the blurred metal behind a thin
    cortex would lift the half-maximum into the cortex, and a 9 mm gap read 10 mm); a side
    with no such sample takes the other side's level. When an end is metal itself (a spur
    measured to a prosthetic head), the metal's level is its edge's, as before."""
    bone_a = float(prof[: i_min + 1].max())
    bone_b = float(prof[i_min:].max())
    metal = masks.metal if masks.metal is not None else masks.metal_halo
    if metal[a] or metal[b]:
        return bone_a, bone_b
    on_halo = ndi.map_coordinates(
        masks.metal_halo.astype(np.uint8), [rows, cols], order=0, mode="nearest"
    ).astype(bool)
    if not on_halo.any():
        return bone_a, bone_b
    beyond_a = prof[~on_halo & (t <= 0)]
    beyond_b = prof[~on_halo & (t >= 1)]
    if beyond_a.size == 0 and beyond_b.size == 0:
        return bone_a, bone_b
    level_a = float(beyond_a.max()) if beyond_a.size else float(beyond_b.max())
    level_b = float(beyond_b.max()) if beyond_b.size else level_a
    return level_a, level_b


#: The first window :func:`_nearest_pair` searches around the spurs, mm.
NEAREST_WINDOW_MM = 40.0


def _nearest_pair(
    spurs: np.ndarray, opposite: np.ndarray, sampling: tuple[float, float]
) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """The spur pixel nearest to ``opposite`` (of pixels tied at that distance, the one
    nearest their middle), its distance in mm, and its nearest opposite pixel.

    The distance map is computed in the spurs' box grown by :data:`NEAREST_WINDOW_MM`; when
    the nearest distance found there is within that margin, no opposite pixel outside the
    window can be nearer (nor tie), so it is the whole ROI's answer. Otherwise the whole ROI.
    """
    rows = np.flatnonzero(spurs.any(axis=1))
    cols = np.flatnonzero(spurs.any(axis=0))
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    whole = (slice(None), slice(None))
    for win in (window_around(box, NEAREST_WINDOW_MM, sampling, spurs.shape), whole):
        if not opposite[win].any():
            continue
        d, idx = distance_transform_edt_indices(~opposite[win], sampling)
        dd = np.where(spurs[win], d, np.inf)
        r, c = np.unravel_index(int(np.argmin(dd)), dd.shape)
        dist = float(dd[r, c])
        # of spur pixels tied at the nearest distance (a rounded tip facing the opposite
        # bone along an axis: a flat last row of pixels), the middle one
        tied = np.flatnonzero(dd.ravel() <= dist + 1e-9)
        if tied.size > 1:
            tr, tc = np.unravel_index(tied, dd.shape)
            k = int(np.argmin(np.hypot(tr - tr.mean(), tc - tc.mean())))
            r, c = tr[k], tc[k]
        if dist <= NEAREST_WINDOW_MM or win[0].start is None:
            r0, c0 = win[0].start or 0, win[1].start or 0
            near = (int(idx[0][r, c]) + r0, int(idx[1][r, c]) + c0)
            return dist, (int(r) + r0, int(c) + c0), near
    raise ValueError("no opposite bone")  # callers check opposite.any()


def _bridge_point(masks: HipMasks, bridges: list[np.ndarray]) -> GapMeasurement:
    """Gap 0 at the point of ``bridges`` (the bridge fragments, or the spurs attached to bodies
    the segmentation found joined) farthest from both bodies (a bridge's middle)."""
    region = _union(bridges, masks.bone.shape)
    if not region.any():
        r, c = masks.bone.shape[0] // 2, masks.bone.shape[1] // 2
    else:
        sampling = masks.spacing_mm
        d = np.minimum(
            distance_transform_edt(~masks.pelvis, sampling)
            if masks.pelvis.any()
            else np.inf,
            distance_transform_edt(~masks.femur, sampling)
            if masks.femur.any()
            else np.inf,
        )
        d = np.where(region, d, -1.0)
        r, c = np.unravel_index(int(np.argmax(d)), d.shape)
    pt = masks.to_image(float(r), float(c))
    return GapMeasurement(gap_mm=0.0, pelvic_point_px=pt, femoral_point_px=pt, uncertainty_mm=0.0)
