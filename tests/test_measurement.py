"""The gap's sub-pixel edges (measurement._refine_edges) on hand-drawn masks and profiles.

A pelvis slab on top, a pelvic spur hanging from it, a femur slab below; the image is bone 1.0
over soft tissue 0.1, blurred like a radiograph. The gap is ``GAP_PX`` rows of soft tissue
between the spur's tip and the femur, edge to edge.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage as ndi
from toy_gap import toy_gap_masks

from brooker.config import AnalysisConfig
from brooker.fragments import Fragments
from brooker.measurement import measure_gap
from brooker.models import HipJoint, ImageSide, PatientSide, PixelSpacing, SpacingSource
from brooker.segmentation import HipMasks

SP = (0.2, 0.2)
GAP_PX = 45  # 9.0 mm: class III
FEMUR_ROW = 50 + GAP_PX
SPACING = PixelSpacing(SP[0], SP[1], SpacingSource.USER, relative_uncertainty=0.02)


def _hip(
    image_of: dict[str, float], metal_from_row: int | None = None
) -> tuple[HipMasks, Fragments]:
    hip = HipJoint(PatientSide.RIGHT, ImageSide.LEFT, (60.0, 40.0), 20.0, False)
    masks, frags = toy_gap_masks(hip, SP, GAP_PX, height=130)
    metal = np.zeros_like(masks.bone)
    if metal_from_row is not None:
        metal[metal_from_row:] = True  # an implant inside the femur, behind its cortex
    image = np.where(masks.bone, image_of["bone"], image_of["soft"])
    image[metal] = image_of["metal"]
    image = ndi.gaussian_filter(image, 1.5).astype(np.float32)  # a 0.3 mm blur
    halo = ndi.binary_dilation(metal, iterations=5)  # metal and its 1 mm halo
    masks = dataclasses.replace(
        masks,
        image=image,
        bone=masks.bone & ~metal,
        metal_halo=halo,
        metal=metal,
        femur=masks.femur | metal,
    )
    return masks, frags


def test_gap_between_plain_bone_edges() -> None:
    masks, frags = _hip({"bone": 1.0, "soft": 0.1, "metal": 1.0})
    g = measure_gap(masks, frags, SPACING, AnalysisConfig())
    assert g is not None
    assert g.gap_mm == pytest.approx(GAP_PX * SP[0], abs=0.05)


@pytest.mark.parametrize(("metal_depth_px", "tol_px"), [(3, 1.0), (6, 0.5)])
def test_metal_behind_the_opposing_cortex_does_not_move_its_edge(
    metal_depth_px: int, tol_px: float
) -> None:
    """Metal (a stem, a cup) 0.6-1.2 mm behind the femur's surface is no bone: its level must
    not set the half-maximum of the bone's edge. It did: the edge went to the metal's own edge,
    behind the cortex, and a 9.0 mm gap (class III) read 9.5-10.1 mm (class II). At 0.6 mm
    the metal's own blur (0.3 mm here) still brightens the cortex's surface, so its half-maximum
    lies up to a pixel out in the gap: that is the image, not the level."""
    masks, frags = _hip(
        {"bone": 1.0, "soft": 0.1, "metal": 6.0}, metal_from_row=FEMUR_ROW + metal_depth_px
    )
    cfg = AnalysisConfig()
    g = measure_gap(masks, frags, SPACING, cfg)
    assert g is not None
    assert g.gap_mm == pytest.approx(GAP_PX * SP[0], abs=tol_px * SP[0])
    # the femoral end lies on the femur's surface, not on the metal behind it
    assert g.femoral_point_px[0] == pytest.approx(100 + FEMUR_ROW - 0.5, abs=tol_px)


def test_a_spur_measured_to_metal_keeps_the_metals_edge() -> None:
    """When the opposing end is metal itself (a spur measured to a prosthetic head), the
    metal's level is its edge's: the half-maximum of the metal's own edge."""
    masks, frags = _hip({"bone": 1.0, "soft": 0.1, "metal": 6.0}, metal_from_row=FEMUR_ROW)
    g = measure_gap(masks, frags, SPACING, AnalysisConfig())
    assert g is not None
    assert g.gap_mm == pytest.approx(GAP_PX * SP[0], abs=0.1)


def test_a_gap_says_when_its_femoral_end_is_on_the_head() -> None:
    """A gap line from a rim spur to the femoral head read as a measurement of the joint (a
    radiologist's test of 2026-12-08): ``to_head`` says the femoral end lies on the head, and
    the class's caveat and the overlay's label say so. Measured to the femur body, it does
    not."""
    from brooker import report
    from brooker.grading import grade_hip
    from brooker.overlay import _hip_lines

    masks, frags = _hip({"bone": 1.0, "soft": 0.1, "metal": 1.0})
    femur_end = measure_gap(masks, frags, SPACING, AnalysisConfig())
    assert femur_end is not None
    assert not femur_end.to_head
    # the slab below read as the head instead of the femur body: the same line, to the head
    head = dataclasses.replace(masks, head=masks.femur, femur=np.zeros_like(masks.femur))
    to_head = measure_gap(head, frags, SPACING, AnalysisConfig())
    assert to_head is not None
    assert to_head.to_head
    assert to_head.gap_mm == pytest.approx(femur_end.gap_mm)
    for gap, said in ((femur_end, False), (to_head, True)):
        res = grade_hip(masks.hip, frags, gap, AnalysisConfig())
        assert any("measured toward the femoral head" in c for c in res.caveats) is said
        assert any(t.endswith("mm to head region") for t, _ in _hip_lines(res)) is said
        # the record, and the review page, say the same
        rec = res.to_record()
        assert rec["gap_to_head"] is said
        assert ("mm to head region" in report._hip_html(rec)) is said


def _discs(
    centre_gap_px: float, r_spur_px: float, r_femur_px: float, shift: tuple[float, float]
) -> tuple[HipMasks, Fragments]:
    """A round spur tip above a round femur along a column, ``shift`` (rows, cols) of a pixel
    off the grid: the masks are the pixels whose centres lie in each disc, the image the two
    discs drawn finely (bone 1.0 over soft 0.1) and blurred 0.3 mm."""
    hip = HipJoint(PatientSide.RIGHT, ImageSide.LEFT, (60.0, 40.0), 20.0, False)
    h, w = 220, 80
    masks, _ = toy_gap_masks(hip, SP, 10, height=h)
    cs = (40.0 + shift[0], 40.0 + shift[1])
    cf = (cs[0] + r_spur_px + centre_gap_px + r_femur_px, cs[1])

    def disc(centre: tuple[float, float], r: float, k: int) -> np.ndarray:
        yy, xx = np.mgrid[0 : h * k, 0 : w * k]
        return np.hypot((yy + 0.5) / k - 0.5 - centre[0], (xx + 0.5) / k - 0.5 - centre[1]) <= r

    spur, femur = disc(cs, r_spur_px, 1), disc(cf, r_femur_px, 1)
    fine = disc(cs, r_spur_px, 4) | disc(cf, r_femur_px, 4)
    image = np.where(fine, 1.0, 0.1).reshape(h, 4, w, 4).mean(axis=(1, 3))
    pelvis = np.zeros_like(spur)
    pelvis[:2] = True
    masks = dataclasses.replace(
        masks,
        image=ndi.gaussian_filter(image, 1.5).astype(np.float32),
        bone=spur | femur | pelvis,
        pelvis=pelvis,
        femur=femur,
    )
    frag = dataclasses.replace(_hip({"bone": 1.0, "soft": 0.1, "metal": 1.0})[1].items[0])
    return masks, Fragments((frag,), (spur,))


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.39, 0.07), (0.7, 0.45)])
def test_the_gap_between_round_surfaces_is_read_across_their_nearest_points(
    shift: tuple[float, float],
) -> None:
    """A rounded spur tip facing a round femur along a column ends in a flat last row of
    pixels, all equally near the femur: the first of them in raster order, off the line
    through the surfaces' nearest points, was taken, where both have curved away, and a
    9.8 mm gap read longer than its uncertainty allows (a spec test of 2026-12-07: 10.46 mm,
    class II, at 0.5 mm pixels). The middle of the tied pixels is taken."""
    masks, frags = _discs(49.0, 30.0, 30.0, shift)  # 9.8 mm at 0.2 mm pixels
    g = measure_gap(masks, frags, SPACING, AnalysisConfig())
    assert g is not None
    assert abs(g.gap_mm - 9.8) <= 0.1, g
    assert abs(g.pelvic_point_px[1] - masks.to_image(0.0, 40.0 + shift[1])[1]) <= 1.0


@pytest.mark.xfail(
    strict=True,
    reason="open bug: the soft-tissue level of both edges is the profile's minimum anywhere in "
    "the gap",
)
def test_soft_tissue_brighter_by_one_edge_does_not_move_that_edge_into_the_gap() -> None:
    """Soft tissue that darkens across the gap (0.6 of the bone's level beside the spur, 0.1
    beside the femur; the phantom's fluffy spurs over thick soft tissue do this) must not put
    the spur's edge out in the soft tissue. It did: the half level of the spur's edge is taken
    half-way to the darkest soft tissue, by the femur, which the soft tissue beside the spur
    stays above; a 10.0 mm gap (class II) read 7.9 mm (class III), its pelvic end 2 mm below
    the spur's tip. (Phantom: PhantomSpec(seed=21, right=HipSpec(2, 12.0, spurs="pelvic"),
    left=HipSpec(3, 8.0, spurs="pelvic"), anisotropy=0.67, spacing_mm=0.25, noise=0.7): its
    right hip, truth 11.4 mm, reads III at 8.6 mm.)"""
    masks, frags = _hip({"bone": 1.0, "soft": 0.1, "metal": 1.0})
    rows = np.arange(masks.image.shape[0], dtype=np.float64)
    gap_px = 50
    femur = np.zeros_like(masks.femur)
    femur[50 + gap_px :] = True
    bone = masks.pelvis | frags.roi_masks[0] | femur
    soft = np.interp(rows, [50, 50 + gap_px], [0.6, 0.1])[:, None]
    image = ndi.gaussian_filter(np.where(bone, 1.0, soft), 1.5).astype(np.float32)
    masks = dataclasses.replace(masks, image=image, bone=bone, femur=femur)
    g = measure_gap(masks, frags, SPACING, AnalysisConfig())
    assert g is not None
    assert g.gap_mm == pytest.approx(gap_px * SP[0], abs=0.3)


@pytest.mark.parametrize("pitch_mm", [0.1, 0.125, 0.2, 0.25, 0.4])
def test_a_gap_of_exactly_10_mm_is_class_ii_through_the_measurement(pitch_mm: float) -> None:
    """Edge to edge 10.0 mm, measured on the masks and refined on the image: class II at every
    pitch (the interpolation's float noise made it 9.99999999737 at 0.2 mm: class III)."""
    from brooker.grading import grade_hip

    hip = HipJoint(PatientSide.RIGHT, ImageSide.LEFT, (60.0, 40.0), 20.0, False)
    n = round(10.0 / pitch_mm)
    masks, frags = toy_gap_masks(hip, (pitch_mm, pitch_mm), n, height=50 + n + 30)
    spacing = PixelSpacing(pitch_mm, pitch_mm, SpacingSource.USER, relative_uncertainty=0.02)
    gap = measure_gap(masks, frags, spacing, AnalysisConfig())
    assert gap is not None
    assert gap.gap_mm == pytest.approx(10.0, abs=1e-6)
    record = grade_hip(hip, frags, gap, AnalysisConfig()).to_record()
    assert record["brooker_class"] == "II"
    assert record["gap_mm"] == 10.0


def test_a_gap_measured_from_an_island_says_so() -> None:
    """An island nearer the femur counts with it and narrows the gap; the overlay colours it
    an island, and a reader saw "islands, so class I" beside a gap that said III (a
    radiologist's test of 2026-12-07): the gap says how many of its ends lie on islands, and
    the hip's caveats say so."""
    from brooker.grading import grade_hip
    from brooker.models import Fragment, FragmentKind

    hip = HipJoint(PatientSide.RIGHT, ImageSide.LEFT, (60.0, 40.0), 20.0, False)
    masks, frags = toy_gap_masks(hip, SP, 60, height=150)  # spur tip row 49, femur from 110
    island = np.zeros_like(masks.bone)
    island[90:100, 35:45] = True  # 10 rows above the femur, 40 below the spur
    bone = masks.bone | island
    image = ndi.gaussian_filter(np.where(bone, 1.0, 0.1), 1.5).astype(np.float32)
    masks = dataclasses.replace(masks, bone=bone, image=image)
    piece = Fragment(FragmentKind.ISLAND, 4.0, (195.0, 240.0), (190, 235, 200, 245),
                     island[90:100, 35:45].copy())  # fmt: skip
    frags = Fragments((*frags.items, piece), (*frags.roi_masks, island))
    gap = measure_gap(masks, frags, SPACING, AnalysisConfig())
    assert gap is not None
    assert gap.gap_mm == pytest.approx(40 * SP[0], abs=0.2)  # spur tip to the island
    assert gap.island_ends == 1
    result = grade_hip(hip, frags, gap, AnalysisConfig())
    assert result.brooker_class == "III"
    assert any(c.startswith("the gap is measured from an island") for c in result.caveats)
    plain = measure_gap(masks, Fragments(frags.items[:1], frags.roi_masks[:1]), SPACING,
                        AnalysisConfig())  # fmt: skip
    assert plain is not None
    assert plain.island_ends == 0
