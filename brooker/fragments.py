"""Masks -> heterotopic-bone fragments, each classed as island, pelvic spur, femoral spur or bridge.

A candidate is bone in the periarticular sector that is not part of the pelvis or femur bodies
(see :mod:`brooker.segmentation`), clear of the halo around metal. Its kind follows from what it
touches: the pelvis body (pelvic spur), the femur body (femoral spur), both (bridge), or neither
(island, free in the soft tissue). Candidates smaller than ``min_fragment_area_mm2`` are noise;
spurs that stand out of their body by less than ``spur_min_depth_mm`` are the rounded corners of
normal bone that an opening leaves behind, not heterotopic bone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.config import AnalysisConfig
from brooker.models import Fragment, FragmentKind, PixelSpacing
from brooker.segmentation import HipMasks, window_around

BoolImage = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class Fragments:
    """The fragments of one hip, with their masks in ROI coordinates."""

    items: tuple[Fragment, ...]
    roi_masks: tuple[BoolImage, ...]


def classify_fragments(masks: HipMasks, spacing: PixelSpacing, config: AnalysisConfig) -> Fragments:
    """Find and class the heterotopic-bone fragments around one hip."""
    sampling = masks.spacing_mm  # the ROI's pixels (block-averaged on fine films)
    px_area = sampling[0] * sampling[1]
    kr, kc = masks.block_px
    bodies = masks.pelvis | masks.femur
    cand = masks.bone & masks.allowed & ~bodies & ~masks.metal_halo
    lab, n = ndi.label(cand, structure=np.ones((3, 3), bool))
    if n == 0:
        return Fragments((), ())
    near_pelvis = ndi.binary_dilation(masks.pelvis, iterations=1)
    near_femur = ndi.binary_dilation(masks.femur, iterations=1)
    any_body = bool(bodies.any())
    # how far a spur stands out of its body is only ever compared with spur_min_depth_mm: the
    # distance map is taken in the spur's box grown by that depth (a body pixel outside it is
    # farther than that from every spur pixel), not over the whole ROI
    grow_mm = config.spur_min_depth_mm + max(sampling)
    items: list[Fragment] = []
    rois: list[BoolImage] = []
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
        # cut by the ROI border: not measurable, leave it out
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
        if kind is FragmentKind.ISLAND and _touches_border(sl, comp, masks.bone.shape):
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
            )
        )
        rois.append(full)
    return Fragments(tuple(items), tuple(rois))


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
    d = ndi.distance_transform_edt(~window, sampling=sampling)
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
