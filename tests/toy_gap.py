"""A hand-drawn hip for gap tests: a pelvis block on top, a pelvic spur hanging from it, a femur
block below, on masks that :func:`brooker.measurement.measure_gap` reads directly.

The spur's tip (row 49) and the femur's top are ``gap_px`` rows apart, edge pixel to edge
pixel; the image is bone 1.0 over soft tissue 0.1 unless the caller paints another.
"""

from __future__ import annotations

import numpy as np

from brooker.fragments import Fragments
from brooker.models import Fragment, FragmentKind, HipJoint
from brooker.segmentation import HipMasks

SPUR_ROWS, SPUR_COLS = slice(20, 50), slice(30, 50)


def toy_gap_masks(
    hip: HipJoint, spacing: tuple[float, float], gap_px: int, *, height: int = 120
) -> tuple[HipMasks, Fragments]:
    """The masks and the one pelvic spur fragment of the toy hip, ``height`` x 80 pixels."""
    h, w = height, 80
    pelvis = np.zeros((h, w), bool)
    pelvis[:20] = True
    spur = np.zeros((h, w), bool)
    spur[SPUR_ROWS, SPUR_COLS] = True
    femur = np.zeros((h, w), bool)
    femur[50 + gap_px :] = True
    bone = pelvis | spur | femur
    image = np.where(bone, 1.0, 0.1).astype(np.float32)
    zeros = np.zeros((h, w), bool)
    ones = np.ones((h, w), bool)
    masks = HipMasks(
        hip=hip, origin_px=(100, 200), image=image, bone=bone, metal_halo=zeros,
        allowed=ones, sector=ones, pelvis=pelvis, femur=femur, head=zeros.copy(),
        bodies_joined=False, spacing_mm=spacing,
    )  # fmt: skip
    frag = Fragment(
        kind=FragmentKind.PELVIC_SPUR, area_mm2=600 * spacing[0] * spacing[1],
        centroid_px=(135.0, 240.0), bbox_px=(120, 230, 150, 250),
        mask=spur[SPUR_ROWS, SPUR_COLS].copy(),
    )  # fmt: skip
    return masks, Fragments((frag,), (spur,))
