"""Gap accuracy across pixel spacings, including films finer than the working pitch.

A hand-drawn hip (no phantom, so any spacing renders in milliseconds): a pelvis slab across the
top, a femur (head, neck block, shaft) below, and a pelvic spur hanging down lateral to the
joint whose tip lies ``GAP_MM`` above the femur's lateral block. Bone edges are blurred with a
0.3 mm Gaussian (a typical radiograph PSF) and sampled at each spacing; the engine is handed
the hip (localisation is tested elsewhere) and must find the spur and measure the gap. Films
finer than ``work_pitch_mm`` are segmented on block-averaged ROIs (``HipMasks.block_px``); their
gaps and fragments must agree with the analytic truth and come back in stored pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage as ndi

from brooker.config import AnalysisConfig
from brooker.fragments import classify_fragments
from brooker.localization import analyse_scene
from brooker.measurement import measure_gap
from brooker.models import (
    FragmentKind,
    HipJoint,
    ImageSide,
    PatientSide,
    PixelSpacing,
    Radiograph,
    RadiographMeta,
    SpacingSource,
)
from brooker.segmentation import segment_hip

FIELD_MM = (300.0, 300.0)  # (height, width)
CENTER_MM = (150.0, 110.0)  # hip centre (row, col) in mm from the top-left corner
HEAD_R_MM = 22.0
GAP_MM = 9.0
SPUR_TIP_V_MM = 7.0  # spur tip above the centre; the femur's lateral block ends GAP_MM below it


def _film(row_mm: float, col_mm: float) -> Radiograph:
    """The patient's left hip on the image's right half (lateral = +col)."""
    h, w = round(FIELD_MM[0] / row_mm), round(FIELD_MM[1] / col_mm)
    # each pixel's centre in mm relative to the hip centre
    y = (np.arange(h) + 0.5) * row_mm - CENTER_MM[0]
    x = (np.arange(w) + 0.5) * col_mm - CENTER_MM[1]
    v = -y[:, None]  # up
    u = x[None, :]  # lateral
    bone = np.zeros((h, w), bool)
    bone |= v > 40.0  # pelvis (ilium) across the top
    bone |= np.hypot(u, v) <= HEAD_R_MM  # femoral head
    bone |= (u > 10.0) & (u < 40.0) & (v < -25.0)  # shaft to the bottom
    trochanter_top = SPUR_TIP_V_MM - GAP_MM
    bone |= (u > 35.0) & (u < 62.0) & (v < trochanter_top) & (v > -60.0)  # greater trochanter
    bone |= (u > 44.0) & (u < 52.0) & (v >= SPUR_TIP_V_MM) & (v <= 41.0)  # the pelvic spur
    air = np.broadcast_to((u < -100.0) | (u > 170.0), (h, w))  # air beside the body
    px = np.where(bone, 2000.0, 1000.0)
    px[air] = 100.0
    sig = (0.3 / row_mm, 0.3 / col_mm)
    px = ndi.gaussian_filter(px, sig) + np.random.default_rng(0).normal(0, 5.0, px.shape)
    meta = RadiographMeta(
        path="/nowhere/hand_drawn", sop_instance_uid=None, modality="DX", photometric="MONOCHROME2",
        transfer_syntax_uid="1.2.840.10008.1.2.1", transfer_syntax_name="Explicit VR Little Endian",
        decoder="test", rows=h, cols=w, bits_allocated=16, bits_stored=12, pixel_representation=0,
    )
    return Radiograph(
        pixels=px.astype(np.float32),
        spacing=PixelSpacing(row_mm, col_mm, SpacingSource.PIXEL_SPACING, 0.02),
        patient_right_on=ImageSide.LEFT,
        laterality_source="patient_orientation",
        meta=meta,
    )


def _hip(rad: Radiograph) -> HipJoint:
    assert rad.spacing is not None
    return HipJoint(
        patient_side=PatientSide.LEFT,
        image_side=ImageSide.RIGHT,
        center_px=(
            CENTER_MM[0] / rad.spacing.row_mm - 0.5,
            CENTER_MM[1] / rad.spacing.col_mm - 0.5,
        ),
        head_radius_mm=HEAD_R_MM,
        prosthesis=False,
    )


@pytest.mark.parametrize(
    ("row_mm", "col_mm", "block"),
    [
        (0.4, 0.4, (1, 1)),
        (0.25, 0.25, (1, 1)),
        (0.2, 0.2, (2, 2)),
        (0.15, 0.15, (2, 2)),
        (0.1, 0.1, (4, 4)),
        (0.1, 0.13, (4, 3)),  # anisotropic: 0.4 x 0.39 mm
        (0.1, 0.25, (4, 1)),  # anisotropic: only the rows are block-averaged
    ],
)
def test_gap_is_measured_in_mm_at_any_spacing(
    row_mm: float, col_mm: float, block: tuple[int, int]
) -> None:
    cfg = AnalysisConfig()
    rad = _film(row_mm, col_mm)
    hip = _hip(rad)
    scene = analyse_scene(rad, cfg)
    masks = segment_hip(rad, hip, cfg, scene)
    assert masks.block_px == block
    assert masks.spacing_mm == pytest.approx((row_mm * block[0], col_mm * block[1]))
    # the femur body reaches the trochanter's top (GAP_MM below the spur's tip); the bone mask,
    # at 20 % of the contrast, lies a little outside the blurred edge's half-maximum
    assert masks.femur_top_mm == pytest.approx(SPUR_TIP_V_MM - GAP_MM, abs=0.6)
    assert rad.spacing is not None
    frags = classify_fragments(masks, rad.spacing, cfg)
    kinds = [f.kind for f in frags.items]
    assert kinds == [FragmentKind.PELVIC_SPUR], kinds
    spur = frags.items[0]
    # the fragment is in stored pixels: its mask covers its bbox, its centroid lies on the spur
    r0, c0, r1, c1 = spur.bbox_px
    assert spur.mask.shape == (r1 - r0, c1 - c0)
    cy_mm = (spur.centroid_px[0] + 0.5) * row_mm - CENTER_MM[0]
    cx_mm = (spur.centroid_px[1] + 0.5) * col_mm - CENTER_MM[1]
    assert 44.0 < cx_mm < 52.0
    assert -41.0 < cy_mm < -SPUR_TIP_V_MM
    gap = measure_gap(masks, frags, rad.spacing, cfg)
    assert gap is not None
    assert gap.gap_mm == pytest.approx(GAP_MM, abs=0.25)
    # the end points are in stored pixels, on the spur's tip and the trochanter's top
    (pr, pc), (fr, fc) = gap.pelvic_point_px, gap.femoral_point_px
    assert (pr + 0.5) * row_mm - CENTER_MM[0] == pytest.approx(-SPUR_TIP_V_MM, abs=0.3)
    assert (fr + 0.5) * row_mm - CENTER_MM[0] == pytest.approx(GAP_MM - SPUR_TIP_V_MM, abs=0.3)
    assert 44.0 <= (pc + 0.5) * col_mm - CENTER_MM[1] <= 52.0
    assert 44.0 <= (fc + 0.5) * col_mm - CENTER_MM[1] <= 52.0
    # uncertainty: the spacing's 2 % plus one ROI pitch along the (vertical) gap
    assert gap.uncertainty_mm == pytest.approx(0.02 * gap.gap_mm + row_mm * block[0], abs=0.02)


def test_work_pitch_can_be_turned_off() -> None:
    cfg = AnalysisConfig(work_pitch_mm=0.05)
    rad = _film(0.1, 0.1)
    masks = segment_hip(rad, _hip(rad), cfg)
    assert masks.block_px == (1, 1)
    assert masks.spacing_mm == pytest.approx((0.1, 0.1))


def test_block_mean_averages_whole_blocks_and_drops_the_rest() -> None:
    from brooker.imaging import block_mean

    img = np.arange(7 * 8, dtype=np.uint16).reshape(7, 8)
    out = block_mean(img, 3, 2)
    assert out.dtype == np.float32
    assert out.shape == (2, 4)  # the seventh row does not fill a block of 3
    assert out[0, 0] == pytest.approx(img[0:3, 0:2].mean())
    assert out[1, 3] == pytest.approx(img[3:6, 6:8].mean())
    mask = np.zeros((4, 4), dtype=bool)
    mask[:2, :2] = True
    mask[2, 2] = True
    assert block_mean(mask, 2, 2).tolist() == [[1.0, 0.0], [0.0, 0.25]]
    same = block_mean(img, 1, 1)
    assert same.dtype == np.float32
    assert np.array_equal(same, img)
    with pytest.raises(ValueError, match="blocks"):
        block_mean(img, 0, 2)


@pytest.mark.parametrize(("row_mm", "col_mm"), [(0.4, 0.4), (0.1, 0.13), (0.15, 0.15)])
@pytest.mark.parametrize("col_shift_px", [0.0, 0.3, 0.5, 0.7])
def test_a_mirrored_film_gets_the_mirrored_roi(
    row_mm: float, col_mm: float, col_shift_px: float
) -> None:
    """The ROI is the stored pixels whose centres lie within its extents, and the columns left
    over from whole blocks go on the medial side: the mirror image of a film, with its hip's
    centre mirrored, gets the mirror image of the ROI and of its block grid."""
    cfg = AnalysisConfig()
    rad = _film(row_mm, col_mm)
    hip = _hip(rad)
    hip = dataclasses.replace(hip, center_px=(hip.center_px[0], hip.center_px[1] + col_shift_px))
    width = rad.pixels.shape[1]
    flipped = dataclasses.replace(
        rad, pixels=np.ascontiguousarray(rad.pixels[:, ::-1]), patient_right_on=ImageSide.RIGHT
    )
    mirrored = dataclasses.replace(
        hip, image_side=ImageSide.LEFT, center_px=(hip.center_px[0], width - 1 - hip.center_px[1])
    )
    a = segment_hip(rad, hip, cfg, analyse_scene(rad, cfg))
    b = segment_hip(flipped, mirrored, cfg, analyse_scene(flipped, cfg))
    assert a.image.shape == b.image.shape
    assert a.origin_px[0] == b.origin_px[0]
    # a's last stored column mirrors b's first
    assert width - 1 - (a.origin_px[1] + a.image.shape[1] * a.block_px[1] - 1) == b.origin_px[1]
    # the same stored pixels, block-averaged alike
    assert np.allclose(a.image[:, ::-1], b.image, atol=1e-3)
