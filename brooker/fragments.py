"""Masks -> heterotopic-bone fragments, each classed as island, pelvic spur, femoral spur or bridge.

A candidate is bone in the periarticular sector that is not part of the pelvis or femur bodies
(see :mod:`brooker.segmentation`), clear of the halo around metal. Its kind follows from what it
touches: the pelvis body (pelvic spur), the femur body (femoral spur), both (bridge), or neither
(island, free in the soft tissue). Candidates smaller than ``min_fragment_area_mm2`` are noise;
spurs that stand out of their body by less than ``spur_min_depth_mm`` are the rounded corners of
normal bone that an opening leaves behind, not heterotopic bone. When the learned judges have
looked at the hip (``HipMasks.ho_prob``, :mod:`brooker.ho_pixels`), a candidate must also look
heterotopic to them: its pixels' mean probability at least ``ho_probability_min`` and the
fragment judge's probability at least ``ho_fragment_min``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.config import AnalysisConfig
from brooker.ho_pixels import anatomy_radius_mm, judges
from brooker.imaging import dilate_cross, distance_transform_edt, window_around
from brooker.models import Fragment, FragmentKind, ImageSide, PixelSpacing
from brooker.segmentation import HipMasks

BoolImage = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class Fragments:
    """The fragments of one hip, with their masks in ROI coordinates."""

    items: tuple[Fragment, ...]
    roi_masks: tuple[BoolImage, ...]


def candidate_bone(masks: HipMasks) -> BoolImage:
    """Bone where heterotopic bone is sought: allowed, not the pelvis or femur body, clear of
    metal's halo."""
    return masks.bone & masks.allowed & ~(masks.pelvis | masks.femur) & ~masks.metal_halo


def classify_fragments(masks: HipMasks, spacing: PixelSpacing, config: AnalysisConfig) -> Fragments:
    """Find and class the heterotopic-bone fragments around one hip."""
    sampling = masks.spacing_mm  # the ROI's pixels (block-averaged on fine films)
    px_area = sampling[0] * sampling[1]
    kr, kc = masks.block_px
    bodies = masks.pelvis | masks.femur
    cand = candidate_bone(masks)
    lab, n = ndi.label(cand, structure=np.ones((3, 3), bool))
    if n == 0:
        return Fragments((), ())
    near_pelvis = dilate_cross(masks.pelvis)  # = ndi.binary_dilation(masks.pelvis), bit for bit
    near_femur = dilate_cross(masks.femur)
    any_body = bool(bodies.any())
    # how far a spur stands out of its body is only ever compared with spur_min_depth_mm: the
    # distance map is taken in the spur's box grown by that depth (a body pixel outside it is
    # farther than that from every spur pixel), not over the whole ROI
    grow_mm = config.spur_min_depth_mm + max(sampling)
    items: list[Fragment] = []
    rois: list[BoolImage] = []
    judge = (
        judges(config.judges)[1]
        if masks.ho_prob is not None and config.ho_fragment_min > 0
        else None
    )
    body_dist: npt.NDArray[np.float64] | None = None  # computed for the first judged candidate
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None:
            continue
        comp = lab[sl] == i
        area = float(comp.sum()) * px_area
        if area < config.min_fragment_area_mm2:
            continue
        # must lie (mostly) in the periarticular sector
        if masks.sector[sl][comp].mean() < 0.5:
            continue
        # and look heterotopic to the learned judge, on average over its pixels
        if masks.ho_prob is not None and config.ho_probability_min > 0:
            if float(masks.ho_prob[sl][comp].mean()) < config.ho_probability_min:
                continue
        touches_pelvis = bool(near_pelvis[sl][comp].any())
        touches_femur = bool(near_femur[sl][comp].any())
        if touches_pelvis and touches_femur:
            kind = FragmentKind.BRIDGE
        elif touches_pelvis:
            kind = FragmentKind.PELVIC_SPUR
        elif touches_femur:
            kind = FragmentKind.FEMORAL_SPUR
        else:
            kind = FragmentKind.ISLAND
        if kind in (FragmentKind.PELVIC_SPUR, FragmentKind.FEMORAL_SPUR) and any_body:
            if _depth_mm(bodies, sl, comp, grow_mm, sampling) < config.spur_min_depth_mm:
                continue
        # an island cut by the ROI border: not measurable, leave it out
        if kind is FragmentKind.ISLAND and _touches_border(sl, comp, masks.bone.shape):
            continue
        probability = None
        if judge is not None:
            if body_dist is None and any_body:
                body_dist = body_distance_mm(bodies, sampling)
            feats = fragment_features(masks, sl, comp, kind, body_dist)
            probability = float(judge.probability(feats[None, :])[0])
            if probability < config.ho_fragment_min:
                continue
        rows, cols = np.nonzero(comp)
        full = np.zeros(masks.bone.shape, bool)
        full[sl] = comp
        # the Fragment is in stored pixels: each ROI pixel covers kr x kc of them
        r0 = masks.origin_px[0] + sl[0].start * kr
        c0 = masks.origin_px[1] + sl[1].start * kc
        stored_mask = np.repeat(np.repeat(comp, kr, axis=0), kc, axis=1)  # a copy, even at 1 x 1
        items.append(
            Fragment(
                kind=kind,
                area_mm2=area,
                centroid_px=masks.to_image(
                    float(rows.mean() + sl[0].start), float(cols.mean() + sl[1].start)
                ),
                bbox_px=(r0, c0, r0 + stored_mask.shape[0], c0 + stored_mask.shape[1]),
                mask=stored_mask,
                judge_probability=probability,
            )
        )
        rois.append(full)
    return Fragments(tuple(items), tuple(rois))


#: How deep a fragment's distance from the bodies is read, mm (farther reads as this).
FEATURE_DEPTH_CAP_MM = 60.0
#: Names of the fragment judge's inputs, in order (see :func:`fragment_features`).
FRAGMENT_FEATURES = (
    "p_mean", "p_max", "p_frac_0.8", "log_area_mm2", "u_radii", "v_radii", "log1p_depth_mm",
    "norm_median", "norm_p90", "log1p_extent_mm", "is_island", "is_pelvic_spur",
    "is_femoral_spur", "p_mean_x_v", "p_mean_x_u",
)  # fmt: skip


#: Pitch of the distance map a fragment's reach from the bodies is read from, mm.
BODY_DISTANCE_PITCH_MM = 1.0


def body_distance_mm(bodies: BoolImage, sampling: tuple[float, float]) -> npt.NDArray[np.float64]:
    """Distance of every ROI pixel from the pelvis and femur bodies, mm, for the fragment judge.

    Taken on blocks of about ``BODY_DISTANCE_PITCH_MM`` (a block is body when any of its pixels
    is): the judge reads the log of a reach of up to 60 mm, for which a millimetre is detail,
    and the full-resolution map would cost as much as the rest of the judging."""
    kr, kc = (max(1, round(BODY_DISTANCE_PITCH_MM / s)) for s in sampling)
    rows, cols = bodies.shape
    pad = ((0, -rows % kr), (0, -cols % kc))
    blocks = np.pad(bodies, pad).reshape((rows + pad[0][1]) // kr, kr, (cols + pad[1][1]) // kc, kc)
    coarse = blocks.any(axis=(1, 3))
    dist = distance_transform_edt(~coarse, (sampling[0] * kr, sampling[1] * kc))
    full = np.repeat(np.repeat(dist, kr, axis=0), kc, axis=1)[:rows, :cols]
    return np.asarray(full, dtype=np.float64)


def fragment_features(
    masks: HipMasks,
    sl: tuple[slice, slice],
    comp: BoolImage,
    kind: FragmentKind,
    body_dist: npt.NDArray[np.float64] | None,
) -> npt.NDArray[np.float32]:
    """What the fragment judge sees of one candidate (``FRAGMENT_FEATURES``): the pixel judge's
    probabilities over it, its size and extent, where it lies from the head centre in head
    radii (:func:`brooker.ho_pixels.anatomy_radius_mm`; u lateral, v up), how far it reaches
    from the bodies, its density on the film's soft-0 / bone-1 scale and its kind."""
    if masks.ho_prob is None or masks.norm is None:
        raise ValueError("the fragment judge needs the pixel judge's map and the normalised image")
    p = masks.ho_prob[sl][comp]
    nrm = masks.norm[sl][comp]
    rows, cols = np.nonzero(comp)
    row_mm, col_mm = masks.spacing_mm
    area = float(comp.sum()) * row_mm * col_mm
    extent = max(float(np.ptp(rows) + 1) * row_mm, float(np.ptp(cols) + 1) * col_mm)
    r_img, c_img = masks.to_image(
        float(rows.mean() + sl[0].start), float(cols.mean() + sl[1].start)
    )
    kr, kc = masks.block_px
    hip = masks.hip
    lat = -1.0 if hip.image_side is ImageSide.LEFT else 1.0
    radius = anatomy_radius_mm(hip)
    u = lat * (c_img - hip.center_px[1]) * col_mm / kc / radius
    v = -(r_img - hip.center_px[0]) * row_mm / kr / radius
    if body_dist is None:
        depth = FEATURE_DEPTH_CAP_MM
    else:
        depth = min(float(body_dist[sl][comp].max()), FEATURE_DEPTH_CAP_MM)
    p_mean = float(p.mean())
    return np.array(
        [p_mean, float(p.max()), float((p >= 0.8).mean()), math.log(area), u, v,
         math.log1p(depth), float(np.median(nrm)), float(np.percentile(nrm, 90)),
         math.log1p(extent), kind is FragmentKind.ISLAND, kind is FragmentKind.PELVIC_SPUR,
         kind is FragmentKind.FEMORAL_SPUR, p_mean * v, p_mean * u],
        dtype=np.float32,
    )  # fmt: skip


def _depth_mm(
    bodies: BoolImage,
    sl: tuple[slice, slice],
    comp: BoolImage,
    grow_mm: float,
    sampling: tuple[float, float],
) -> float:
    """How far ``comp`` (at ``sl``) reaches from ``bodies``: the largest distance, mm, from one
    of its pixels to the nearest body pixel, exact up to the ``grow_mm`` margin (farther reads
    as at least the margin)."""
    win = window_around(sl, grow_mm, sampling, bodies.shape)
    window = bodies[win]
    if not window.any():
        return math.inf
    d = distance_transform_edt(~window, sampling)
    (r0, c0) = (win[0].start, win[1].start)
    inner = d[sl[0].start - r0 : sl[0].stop - r0, sl[1].start - c0 : sl[1].stop - c0]
    return float(inner[comp].max())


def _touches_border(sl: tuple[slice, slice], comp: BoolImage, shape: tuple[int, ...]) -> bool:
    r, c = sl
    return bool(
        (r.start == 0 and comp[0].any())
        or (c.start == 0 and comp[:, 0].any())
        or (r.stop == shape[0] and comp[-1].any())
        or (c.stop == shape[1] and comp[:, -1].any())
    )
