"""The Brooker rules, the borderline flag and the record shape, on hand-made inputs (no images).

Convention under test (domain.md): a gap of exactly 10.0 mm is class II ("at least 1 cm");
islands beside spurs do not lower the grade; a bridge is class IV with gap 0.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toy_gap import toy_gap_masks

from brooker import grading
from brooker.config import AnalysisConfig
from brooker.fragments import Fragments
from brooker.grading import brooker_class, grade_hip, needs_gap
from brooker.measurement import measure_gap
from brooker.models import (
    BrookerGrade,
    Fragment,
    FragmentKind,
    GapMeasurement,
    GradingResult,
    HipJoint,
    ImageSide,
    PatientSide,
    PixelSpacing,
    SpacingSource,
    Status,
)
from brooker.segmentation import HipMasks
from brooker.units import shown_gap_mm

T = 10.0
ISL = FragmentKind.ISLAND
PEL = FragmentKind.PELVIC_SPUR
FEM = FragmentKind.FEMORAL_SPUR
BRI = FragmentKind.BRIDGE
SPUR_KINDS = [{PEL}, {FEM}, {PEL, FEM}, {PEL, ISL}, {FEM, ISL}, {PEL, FEM, ISL}]


# --------------------------------------------------------------------------------------------
# a shown gap never contradicts its class
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap", "decimals", "shown"),
    [
        (9.996, 2, 9.99),  # would round to 10.0, which reads as class II
        (9.96, 1, 9.9),
        (9.95, 1, 9.9),
        (math.nextafter(10.0, 0.0), 2, 9.99),
        (10.0, 2, 10.0),  # exactly 1 cm is class II and shown so
        (10.0, 1, 10.0),
        (10.004, 2, 10.0),
        (9.994, 2, 9.99),
        (6.432, 2, 6.43),
        (6.436, 2, 6.44),  # elsewhere, ordinary rounding
        (12.35, 1, 12.3),  # (binary 12.35 is just under it)
        (0.004, 2, 0.01),  # a gap, however narrow, is not a bridge's 0
        (0.04, 1, 0.1),
        (0.0, 2, 0.0),
    ],
)
def test_shown_gap_never_rounds_up_to_the_boundary(
    gap: float, decimals: int, shown: float
) -> None:
    assert shown_gap_mm(gap, decimals) == shown


def test_a_probability_is_never_shown_across_the_weak_call_bound() -> None:
    from brooker.units import rounded_on_its_side

    assert rounded_on_its_side(0.6996, 3, 0.7) == 0.699
    assert rounded_on_its_side(0.6996, 2, 0.7) == 0.69
    assert rounded_on_its_side(0.56789, 3, 0.7) == 0.568  # elsewhere, ordinary rounding
    assert rounded_on_its_side(0.7, 2, 0.7) == 0.7


@given(st.floats(0.0, 1.0), st.sampled_from([1, 2, 3]))
def test_a_probability_stays_on_its_side_of_the_bound(p: float, decimals: int) -> None:
    from brooker.units import rounded_on_its_side

    shown = rounded_on_its_side(p, decimals, grading.WEAK_CALL_PROBABILITY)
    assert (shown < 0.7) is (p < 0.7)
    assert abs(shown - p) <= 10.0**-decimals + 1e-9


@given(st.floats(0.0, 40.0), st.sampled_from([0, 1, 2, 3]))
def test_shown_gap_stays_on_its_side_of_10_mm(gap: float, decimals: int) -> None:
    shown = shown_gap_mm(gap, decimals)
    assert (shown < T) is (gap < T)
    assert abs(shown - gap) <= 10.0**-decimals + 1e-9


@given(
    st.floats(0.0, 40.0),
    st.sampled_from([0, 1, 2, 3]),
    st.floats(1.0, 30.0) | st.sampled_from([10.004, 10.04, 9.95, 9.996, 8.4]),
)
def test_shown_gap_stays_on_its_side_of_any_threshold(
    gap: float, decimals: int, threshold: float
) -> None:
    """A hip graded on another class II/III boundary (``AnalysisConfig.gap_threshold_mm``, a
    research setting) shows its gap on the same side of that boundary."""
    shown = shown_gap_mm(gap, decimals, threshold)
    assert (shown < threshold) is (gap < threshold)
    assert abs(shown - gap) <= 10.0**-decimals + 1e-9
    if gap > 0 and 10.0**-decimals < threshold:
        assert shown > 0


@pytest.mark.parametrize(
    ("gap", "decimals", "threshold", "shown"),
    [
        (10.041, 1, 10.04, 10.1),  # ordinary rounding gives 10.0, under the boundary
        (10.03, 1, 10.04, 10.0),
        (9.951, 1, 9.95, 10.0),
        (9.949, 1, 9.95, 9.9),
        (10.0041, 2, 10.004, 10.01),
        (1.25, 0, math.nextafter(1.0, 2.0), 2.0),  # a boundary a hair above a whole step
    ],
)
def test_shown_gap_at_another_threshold(
    gap: float, decimals: int, threshold: float, shown: float
) -> None:
    assert shown_gap_mm(gap, decimals, threshold) == shown


@settings(deadline=None)  # the first example imports the command line
@given(st.floats(0.0, 40.0))
def test_every_label_shows_the_gap_the_record_gives(gap: float) -> None:
    """The overlay labels the exact gap; the terminal and the review page read the record's
    two decimals. All three show one number: 2.449 mm was 2.4 on the overlay and 2.5 in the
    terminal (via 2.45)."""
    from brooker import overlay as ov
    from brooker.cli.grade_cmd import _fmt_gap
    from brooker.units import label_gap_mm

    rec = grade_hip(HIP, _frags(PEL), _gap(gap, 0.0), AnalysisConfig()).to_record()
    assert ov._fmt_gap(gap) == f"{_fmt_gap(rec['gap_mm'])} mm"
    assert (label_gap_mm(gap) < T) is (gap < T)
    assert abs(label_gap_mm(gap) - gap) <= 0.1 + 1e-9


def test_the_gap_at_a_rounding_tie_reads_the_same_everywhere() -> None:
    from brooker import overlay as ov
    from brooker.cli.grade_cmd import _fmt_gap

    # 2.449 rounds to 2.4 once, but the record holds 2.45, which reads 2.5
    assert ov._fmt_gap(2.449) == "2.5 mm" == f"{_fmt_gap(2.45)} mm"


def test_record_of_a_hip_graded_on_another_threshold() -> None:
    """The record and the overlay's label keep the gap on the side of the boundary the hip was
    graded on: a class II gap of 10.0041 mm against 10.004 mm is written 10.01, not 10.0."""
    config = AnalysisConfig(gap_threshold_mm=10.004)
    res = grade_hip(HIP, _frags(PEL), _gap(10.0041, 0.0), config)
    assert res.gap_threshold_mm == 10.004
    rec = res.to_record()
    assert rec["grade"] == 2
    assert rec["gap_mm"] == 10.01
    assert rec["gap_threshold_mm"] == 10.004  # said: a reader would judge it against 10 mm
    assert "gap_threshold_mm" not in grade_hip(
        HIP, _frags(PEL), _gap(10.0041, 0.0), AnalysisConfig()
    ).to_record()  # the standard boundary, as every record so far
    res = grade_hip(HIP, _frags(PEL), _gap(10.0039, 0.0), config)
    assert res.to_record()["grade"] == 3
    assert res.to_record()["gap_mm"] == 10.0
    from brooker import overlay as ov

    assert ov._fmt_gap(10.041, 10.04) == "10.1 mm"


def test_record_of_a_class_III_gap_just_under_10_mm() -> None:
    res = grade_hip(HIP, _frags(PEL), _gap(9.996, 0.0), AnalysisConfig())
    rec = res.to_record()
    assert rec["grade"] == 3
    assert rec["brooker_class"] == "III"
    assert rec["gap_mm"] == 9.99


# --------------------------------------------------------------------------------------------
# brooker_class: the rules table
# --------------------------------------------------------------------------------------------


def test_no_fragments_is_class_0() -> None:
    assert brooker_class(set(), None, T) is BrookerGrade.NONE


def test_islands_only_is_class_I() -> None:
    assert brooker_class({ISL}, None, T) is BrookerGrade.ISLANDS


@pytest.mark.parametrize("kinds", SPUR_KINDS)
@pytest.mark.parametrize(
    ("gap", "grade"),
    [
        (10.0, BrookerGrade.SPURS_WIDE_GAP),  # exactly 1 cm: "at least 1 cm" -> II
        (10.01, BrookerGrade.SPURS_WIDE_GAP),
        (25.0, BrookerGrade.SPURS_WIDE_GAP),
        (9.99, BrookerGrade.SPURS_NARROW_GAP),
        (math.nextafter(10.0, 0.0), BrookerGrade.SPURS_NARROW_GAP),
        (0.5, BrookerGrade.SPURS_NARROW_GAP),
    ],
)
def test_spur_gap_boundary(kinds: set[FragmentKind], gap: float, grade: BrookerGrade) -> None:
    assert brooker_class(kinds, gap, T) is grade


def test_exact_threshold_is_II_and_follows_the_configured_threshold() -> None:
    assert brooker_class({PEL}, 10.0, 10.0) is BrookerGrade.SPURS_WIDE_GAP
    assert brooker_class({PEL}, 10.0, 12.0) is BrookerGrade.SPURS_NARROW_GAP
    assert brooker_class({PEL}, 12.0, 12.0) is BrookerGrade.SPURS_WIDE_GAP


@pytest.mark.parametrize(
    "kinds", [{BRI}, {BRI, ISL}, {BRI, PEL}, {BRI, FEM}, {BRI, PEL, FEM, ISL}]
)
def test_bridge_is_class_IV(kinds: set[FragmentKind]) -> None:
    assert brooker_class(kinds, 0.0, T) is BrookerGrade.ANKYLOSIS
    # a bridge wins whatever gap a spur beside it would give
    assert brooker_class(kinds, None if kinds == {BRI} or kinds == {BRI, ISL} else 15.0, T) is (
        BrookerGrade.ANKYLOSIS
    )


@pytest.mark.parametrize("spur", [PEL, FEM])
def test_islands_beside_spurs_do_not_lower_the_grade(spur: FragmentKind) -> None:
    assert brooker_class({spur, ISL}, 14.0, T) is BrookerGrade.SPURS_WIDE_GAP
    assert brooker_class({spur, ISL}, 4.0, T) is BrookerGrade.SPURS_NARROW_GAP
    assert brooker_class({BRI, ISL}, 0.0, T) is BrookerGrade.ANKYLOSIS


@pytest.mark.parametrize("kinds", SPUR_KINDS)
def test_spur_without_gap_raises(kinds: set[FragmentKind]) -> None:
    with pytest.raises(ValueError, match="without a measured gap"):
        brooker_class(kinds, None, T)


def test_grade_roman_numerals() -> None:
    assert [g.roman for g in BrookerGrade] == ["0", "I", "II", "III", "IV"]
    assert [int(g) for g in BrookerGrade] == [0, 1, 2, 3, 4]


@settings(max_examples=200, deadline=None)
@given(
    kinds=st.sampled_from(SPUR_KINDS),
    a=st.floats(min_value=0.01, max_value=60.0, allow_nan=False),
    b=st.floats(min_value=0.01, max_value=60.0, allow_nan=False),
)
def test_grade_is_monotone_non_increasing_in_gap(
    kinds: set[FragmentKind], a: float, b: float
) -> None:
    lo, hi = sorted((a, b))
    g_lo = brooker_class(kinds, lo, T)
    g_hi = brooker_class(kinds, hi, T)
    assert g_hi <= g_lo
    assert g_lo in (BrookerGrade.SPURS_WIDE_GAP, BrookerGrade.SPURS_NARROW_GAP)
    assert (g_lo is BrookerGrade.SPURS_WIDE_GAP) == (lo >= T)


# --------------------------------------------------------------------------------------------
# grade_hip: borderline flag and what is kept
# --------------------------------------------------------------------------------------------

HIP = HipJoint(
    patient_side=PatientSide.RIGHT,
    image_side=ImageSide.LEFT,
    center_px=(500.0, 300.0),
    head_radius_mm=24.0,
    prosthesis=True,
    cup_radius_mm=27.0,
)


def _frag(kind: FragmentKind) -> Fragment:
    m = np.ones((4, 5), bool)
    return Fragment(kind=kind, area_mm2=123.44, centroid_px=(401.26, 251.74),
                    bbox_px=(400, 250, 404, 255), mask=m)


def _frags(*kinds: FragmentKind) -> Fragments:
    items = tuple(_frag(k) for k in kinds)
    return Fragments(items, tuple(np.zeros((8, 8), bool) for _ in items))


def _gap(mm: float, unc: float) -> GapMeasurement:
    return GapMeasurement(gap_mm=mm, pelvic_point_px=(410.04, 260.06),
                          femoral_point_px=(430.55, 270.0), uncertainty_mm=unc)


@pytest.mark.parametrize(
    ("gap", "unc", "grade", "borderline"),
    [
        (10.3, 0.5, BrookerGrade.SPURS_WIDE_GAP, True),
        (9.7, 0.5, BrookerGrade.SPURS_NARROW_GAP, True),
        (10.0, 0.0, BrookerGrade.SPURS_WIDE_GAP, True),
        (10.5, 0.5, BrookerGrade.SPURS_WIDE_GAP, True),  # |d| == unc counts
        (10.8, 0.5, BrookerGrade.SPURS_WIDE_GAP, False),
        (9.2, 0.5, BrookerGrade.SPURS_NARROW_GAP, False),
        (14.0, 0.5, BrookerGrade.SPURS_WIDE_GAP, False),
        (3.0, 0.5, BrookerGrade.SPURS_NARROW_GAP, False),
        (12.0, 2.5, BrookerGrade.SPURS_WIDE_GAP, True),  # detector-plane style uncertainty
        (8.0, 2.5, BrookerGrade.SPURS_NARROW_GAP, True),
    ],
)
def test_borderline_flag(gap: float, unc: float, grade: BrookerGrade, borderline: bool) -> None:
    g = _gap(gap, unc)
    assert g.borderline is borderline
    res = grade_hip(HIP, _frags(PEL), g, AnalysisConfig())
    assert res.grade is grade
    assert res.borderline is borderline
    assert res.gap is g
    assert any("uncertain" in c for c in res.caveats) is borderline
    assert res.patient_side is PatientSide.RIGHT
    assert res.image_side is ImageSide.LEFT


@pytest.mark.parametrize(
    ("gap", "threshold", "borderline"),
    [
        (8.3, 8.0, True),  # near 8 mm, far from 10 mm
        (9.7, 8.0, False),  # near 10 mm, far from 8 mm
        (12.4, 12.0, True),
        (12.6, 12.0, False),
    ],
)
def test_borderline_flag_follows_the_configured_threshold(
    gap: float, threshold: float, borderline: bool
) -> None:
    """A hip graded on another class II/III boundary is borderline near that boundary, not
    near 10 mm; the measurement's own flag says the same about the same boundary."""
    g = _gap(gap, 0.5)
    assert g.borderline_at(threshold) is borderline
    res = grade_hip(HIP, _frags(PEL), g, AnalysisConfig(gap_threshold_mm=threshold))
    assert res.borderline is borderline
    assert any(f"of {threshold:g} mm" in c for c in res.caveats) is borderline


@pytest.mark.parametrize(
    ("kinds", "gap", "grade"),
    [
        ((), None, BrookerGrade.NONE),
        ((ISL, ISL), None, BrookerGrade.ISLANDS),
        # a gap handed in beside no spur (islands alone have nothing to measure) is dropped,
        # and a borderline one does not make the hip borderline
        ((), _gap(12.0, 0.5), BrookerGrade.NONE),
        ((ISL, ISL), _gap(10.0, 0.5), BrookerGrade.ISLANDS),
    ],
)
def test_grade_hip_without_spurs_has_no_gap_and_is_not_borderline(
    kinds: tuple[FragmentKind, ...], gap: GapMeasurement | None, grade: BrookerGrade
) -> None:
    res = grade_hip(HIP, _frags(*kinds), gap, AnalysisConfig())
    assert res.grade is grade
    assert res.gap is None
    assert res.borderline is False
    assert len(res.fragments) == len(kinds)


def test_grade_hip_bridge_is_IV_with_apparent_caveat() -> None:
    res = grade_hip(HIP, _frags(BRI, ISL), _gap(0.0, 0.0), AnalysisConfig())
    assert res.grade is BrookerGrade.ANKYLOSIS
    assert res.gap is not None
    assert res.gap.gap_mm == 0.0
    assert res.borderline is False
    assert any("apparent" in c for c in res.caveats)


def test_grade_hip_spur_without_gap_is_not_graded() -> None:
    """A spur with no gap measured (no opposing bone): no class between II and III is guessed;
    the hip is reported not graded, with the fragments seen and why."""
    res = grade_hip(HIP, _frags(FEM, ISL), None, AnalysisConfig())
    assert res.grade is None
    assert res.gap is None
    assert res.not_graded is not None
    assert "no opposing bone" in res.not_graded
    assert [f.kind for f in res.fragments] == [FEM, ISL]
    assert res.search_region is not None
    # the band searched: from the edge of the joint's exclusion (past the cup) to the sector
    assert HIP.cup_radius_mm is not None
    inner, outer, _, _ = res.search_region
    assert inner == 1.15 * HIP.cup_radius_mm + 3.0
    assert outer == AnalysisConfig().sector_radius_mm
    # on a native hip whose femur is not seen, that is the cause, and the record says so
    native = dataclasses.replace(HIP, prosthesis=False, cup_radius_mm=None)
    no_femur = grade_hip(native, _frags(FEM), None, AnalysisConfig(), femur_top_mm=None)
    assert no_femur.grade is None
    assert no_femur.not_graded is not None
    assert no_femur.not_graded.startswith("a spur or bridge was seen, but the femur")
    # HIP is prosthetic: graded against its implant, no femur rule there
    res = grade_hip(HIP, _frags(FEM), None, AnalysisConfig(), femur_top_mm=None)
    assert res.not_graded is not None
    assert "no opposing bone" in res.not_graded


def test_gap_measurement_rejects_negative_or_nan() -> None:
    with pytest.raises(ValueError, match="finite and >= 0"):
        _gap(-0.1, 0.0)
    with pytest.raises(ValueError, match="finite and >= 0"):
        _gap(float("nan"), 0.0)


# --------------------------------------------------------------------------------------------
# measure_gap: uncertainty grows with the spacing's relative uncertainty
# --------------------------------------------------------------------------------------------


def _toy_masks(spacing: tuple[float, float], gap_px: int) -> tuple[HipMasks, Fragments]:
    """The toy hip of ``toy_gap.py`` about ``HIP``: its spur's tip and the femur ``gap_px``
    rows apart (edge pixel to edge pixel)."""
    return toy_gap_masks(HIP, spacing, gap_px)


@pytest.mark.parametrize("gap_px", [40, 60])
def test_uncertainty_grows_with_spacing_relative_uncertainty(gap_px: int) -> None:
    sp = (0.2, 0.2)
    masks, frags = _toy_masks(sp, gap_px)
    uncs = []
    gaps = []
    for rel in (0.0, 0.03, 0.2):
        spacing = PixelSpacing(sp[0], sp[1], SpacingSource.PIXEL_SPACING, relative_uncertainty=rel)
        g = measure_gap(masks, frags, spacing, AnalysisConfig())
        assert g is not None
        uncs.append(g.uncertainty_mm)
        gaps.append(g.gap_mm)
    # the gap itself does not depend on the claimed uncertainty
    assert gaps[0] == pytest.approx(gaps[1]) == pytest.approx(gaps[2])
    # edge to edge: about gap_px pixel pitches (sub-pixel half-maximum edges)
    assert gaps[0] == pytest.approx(gap_px * sp[0], abs=2 * sp[0])
    assert uncs[0] > 0  # at least the pixel pitch along the gap
    assert uncs[0] < uncs[1] < uncs[2]
    # linear in the relative uncertainty, proportional to the gap
    assert uncs[2] - uncs[0] == pytest.approx(0.2 * gaps[0], rel=1e-6)
    # endpoints in stored-image coordinates, pelvic end above the femoral end
    assert g.pelvic_point_px[0] < g.femoral_point_px[0]
    assert 100 <= g.pelvic_point_px[0] <= 220
    assert 200 <= g.pelvic_point_px[1] <= 280


def test_gap_across_the_spurs_own_body_is_the_distance_between_the_masks() -> None:
    """A pelvic spur beside the ilium, measured to the femoral head across the ilium: the line
    runs through the pelvis, so the intensity profile has no clean gap and the masks' distance
    is used (the half-maximum edges would land on the pelvis in between)."""
    sp = (0.2, 0.2)
    masks, frags = _toy_masks(sp, 40)
    pelvis = masks.pelvis.copy()
    pelvis[62:67, 5:75] = True  # pelvis between the spur tip (row 49) and the femur (row 90)
    pelvis[20:67, 5:10] = True
    bone = masks.bone | pelvis
    image = np.where(bone, 1.0, 0.1).astype(np.float32)
    crossed = HipMasks(
        hip=masks.hip, origin_px=masks.origin_px, image=image, bone=bone,
        metal_halo=masks.metal_halo, allowed=masks.allowed, sector=masks.sector,
        pelvis=pelvis, femur=masks.femur, head=masks.head,
        bodies_joined=False, spacing_mm=sp,
    )
    spacing = PixelSpacing(sp[0], sp[1], SpacingSource.PIXEL_SPACING, relative_uncertainty=0.03)
    g = measure_gap(crossed, frags, spacing, AnalysisConfig())
    assert g is not None
    assert g.gap_mm == pytest.approx(40 * sp[0], abs=2 * sp[0])
    # the points recorded and drawn are the masks' edges: as far apart as the gap reported
    # (they were the end pixels' centres, a pixel farther apart than the number shown)
    (pr, pc), (fr, fc) = g.pelvic_point_px, g.femoral_point_px
    assert math.hypot((pr - fr) * sp[0], (pc - fc) * sp[1]) == pytest.approx(g.gap_mm, abs=1e-9)


def _with_island(
    masks: HipMasks, frags: Fragments, rows: slice, cols: slice
) -> tuple[HipMasks, Fragments]:
    """The toy hip with an island of bone (bright in the image) at ``rows``, ``cols``."""
    island = np.zeros(masks.bone.shape, bool)
    island[rows, cols] = True
    bone = masks.bone | island
    image = np.where(bone, 1.0, 0.1).astype(np.float32)
    frag = Fragment(kind=ISL, area_mm2=float(island.sum()) * 0.04, centroid_px=(0.0, 0.0),
                    bbox_px=(0, 0, 1, 1), mask=island[rows, cols].copy())
    return (
        dataclasses.replace(masks, bone=bone, image=image),
        Fragments((*frags.items, frag), (*frags.roi_masks, island)),
    )


def test_an_island_beside_a_spur_counts_with_the_side_it_lies_nearer_to() -> None:
    """A pelvic spur 12 mm from the femur (class II) with an island beside the gap, 1.2 mm
    above the femur: the island is femoral-side bone (a piece of a femoral spur whose base was
    not joined, or bone floating in the gap) and the gap is spur to island, edge to edge 9.0 mm
    (class III). An island beside the spur counts with the pelvis and leaves the gap as it was
    (on the femoral side it would make it about 1 mm); islands alone have no gap."""
    sp = (0.2, 0.2)
    spacing = PixelSpacing(sp[0], sp[1], SpacingSource.PIXEL_SPACING, relative_uncertainty=0.03)
    cfg = AnalysisConfig()
    masks, frags = _toy_masks(sp, 60)  # spur tip row 49, femur from row 110
    plain = measure_gap(masks, frags, spacing, cfg)
    assert plain is not None
    assert plain.gap_mm == pytest.approx(12.0, abs=2 * sp[0])
    # off the straight line from the spur to the femur (columns 30-49)
    near_femur = _with_island(masks, frags, slice(95, 104), slice(52, 70))
    g = measure_gap(*near_femur, spacing, cfg)
    assert g is not None
    # from the spur's corner (49, 49) to the island's (95, 52), edge to edge
    assert g.gap_mm == pytest.approx(math.hypot(45, 2) * sp[0], abs=2 * sp[0])
    assert grade_hip(HIP, near_femur[1], g, cfg).grade is BrookerGrade.SPURS_NARROW_GAP
    assert g.femoral_point_px[0] == pytest.approx(100 + 94.5, abs=1.0)  # on the island's top
    near_spur = _with_island(masks, frags, slice(30, 41), slice(55, 65))
    g2 = measure_gap(*near_spur, spacing, cfg)
    assert g2 is not None
    assert g2.gap_mm == pytest.approx(plain.gap_mm)
    only_island = Fragments(near_femur[1].items[1:], near_femur[1].roi_masks[1:])
    assert measure_gap(near_femur[0], only_island, spacing, cfg) is None


def test_detector_plane_spacing_makes_a_12mm_gap_borderline() -> None:
    """A 12 mm gap measured on detector-plane spacing (20 % uncertainty) is flagged; the same
    gap on calibrated spacing (3 %) is not."""
    masks, frags = _toy_masks((0.2, 0.2), 60)
    cfg = AnalysisConfig()
    flags = {}
    for src in (SpacingSource.PIXEL_SPACING, SpacingSource.IMAGER_PIXEL_SPACING):
        spacing = PixelSpacing(0.2, 0.2, src, cfg.spacing_uncertainty[src])
        g = measure_gap(masks, frags, spacing, cfg)
        assert g is not None
        res = grade_hip(HIP, frags, g, cfg)
        assert res.grade is BrookerGrade.SPURS_WIDE_GAP
        flags[src] = res.borderline
    assert flags == {SpacingSource.PIXEL_SPACING: False, SpacingSource.IMAGER_PIXEL_SPACING: True}


# --------------------------------------------------------------------------------------------
# GradingResult.to_record(): the JSON-lines shape of design.md
# --------------------------------------------------------------------------------------------

HIP_KEYS = {"side", "image_side", "grade", "brooker_class", "gap_mm", "gap_points_px",
            "borderline", "prosthesis", "fragments"}


def _result() -> GradingResult:
    cfg = AnalysisConfig()
    left = HipJoint(PatientSide.LEFT, ImageSide.RIGHT, (505.0, 900.0), 25.0, False)
    h1 = grade_hip(HIP, _frags(PEL, ISL), _gap(6.4321, 0.4), cfg)
    h2 = grade_hip(left, _frags(), None, cfg)
    return GradingResult(
        file="scans/p1.dcm", status=Status.OK, version="9.9.9", hips=(h1, h2),
        spacing=PixelSpacing(0.148, 0.15, SpacingSource.PIXEL_SPACING, 0.03),
        sop_instance_uid="1.2.3", caveats=("c1",), laterality_source="patient_orientation",
    )


def test_record_shape_ok() -> None:
    rec = _result().to_record()
    assert json.loads(json.dumps(rec)) == rec  # JSON-ready
    assert rec["file"] == "scans/p1.dcm"
    assert rec["status"] == "ok"
    assert rec["version"] == "9.9.9"
    assert rec["sop_instance_uid"] == "1.2.3"
    assert rec["spacing"] == {"row_mm": 0.148, "col_mm": 0.15, "source": "pixel_spacing"}
    assert rec["caveats"] == ["c1"]
    assert "overlay" in rec
    assert list(rec)[:2] == ["file", "status"]
    assert list(rec)[-1] == "version"
    r, left = rec["hips"]
    assert HIP_KEYS <= set(r)
    assert HIP_KEYS <= set(left)
    assert r["side"] == "right"
    assert r["image_side"] == "left"
    assert r["grade"] == 3
    assert r["brooker_class"] == "III"
    assert isinstance(r["grade"], int)
    assert not isinstance(r["grade"], bool)
    assert r["gap_mm"] == pytest.approx(6.43)
    assert r["gap_points_px"] == [[410.0, 260.1], [round(430.55, 1), 270.0]]
    assert r["borderline"] is False
    assert r["prosthesis"] is True
    assert [f["kind"] for f in r["fragments"]] == ["pelvic_spur", "island"]
    assert r["fragments"][0]["area_mm2"] == pytest.approx(123.4)
    assert left == {**left, "side": "left", "image_side": "right", "grade": 0, "brooker_class": "0",
                 "gap_mm": None, "gap_points_px": None, "borderline": False,
                 "prosthesis": False, "fragments": []}


def test_record_shape_islands_have_no_gap() -> None:
    h = grade_hip(HIP, _frags(ISL), None, AnalysisConfig()).to_record()
    assert (h["grade"], h["brooker_class"], h["gap_mm"], h["gap_points_px"]) == (1, "I", None, None)


def test_record_shape_ungradable_and_error() -> None:
    from brooker.errors import MissingSpacingError
    from brooker.pipeline import error_result

    ung = GradingResult(file="scans/chest.dcm", status=Status.UNGRADABLE, version="1",
                        reason="no hip joint found").to_record()
    assert ung["status"] == "ungradable"
    assert ung["reason"] == "no hip joint found"
    assert ung["hips"] == []
    err = error_result("scans/x.dcm", MissingSpacingError("no spacing", "scans/x.dcm")).to_record()
    assert err["status"] == "error"
    assert err["file"] == "scans/x.dcm"
    assert err["error"]["code"] == "missing_spacing"
    assert err["error"]["message"]
    assert err["hips"] == []
    assert "version" in err


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (set(), False),
        ({FragmentKind.ISLAND}, False),
        ({FragmentKind.PELVIC_SPUR}, True),
        ({FragmentKind.FEMORAL_SPUR, FragmentKind.ISLAND}, True),
        ({FragmentKind.PELVIC_SPUR, FragmentKind.BRIDGE}, False),
    ],
)
def test_needs_gap(kinds: set[FragmentKind], expected: bool) -> None:
    assert needs_gap(kinds) is expected


def test_spur_with_nothing_to_measure_leaves_the_hip_ungraded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spur whose gap cannot be measured is reported, not graded and not a crash: the hip
    stays in the record with its reason (in every output that lists hips), and a film with no
    hip graded is ungradable, its reason naming the hips."""
    from pathlib import Path

    from brooker import pipeline
    from brooker.config import AnalysisConfig

    film = Path(__file__).resolve().parents[1] / "sample_images" / "pelvis_3_vs_2_mono1.dcm"
    # the segmentation's own candidates (the learned judges off): this film then has a spur
    cfg = AnalysisConfig(ho_probability_min=0.0)
    graded = pipeline.grade_path(film, cfg, overlay=False)
    assert graded.status.value == "ok"
    spur_sides = [h.patient_side.value for h in graded.hips if h.grade in (2, 3)]
    assert spur_sides, "the sample is expected to have a class II/III hip"
    monkeypatch.setattr(pipeline, "measure_gap", lambda *a, **k: None)
    res = pipeline.grade_path(film, cfg, overlay=False).to_record()
    hips = {h["side"]: h for h in res["hips"]}
    assert set(spur_sides) <= set(hips)
    for side in spur_sides:
        assert hips[side]["grade"] is None
        assert "no opposing bone" in hips[side]["not_graded"]
        assert hips[side]["fragments"]
    if not any(h["grade"] is not None for h in res["hips"]):
        assert res["status"] == "ungradable"
        for side in spur_sides:
            assert f"{side} hip found, not graded: a spur was found" in res["reason"]


def test_joined_bodies_with_only_islands_are_not_a_bridge() -> None:
    """Pelvis and femur that the segmentation could not part, with only an island beside them:
    the island is class I, not a bridge (a bridge needs heterotopic bone attached to the
    bodies); with a spur attached they are read as bridged (class IV, gap 0)."""
    sp = (0.2, 0.2)
    masks, frags = _toy_masks(sp, 40)
    joined = dataclasses.replace(masks, bodies_joined=True)
    spacing = PixelSpacing(sp[0], sp[1], SpacingSource.PIXEL_SPACING, relative_uncertainty=0.03)
    island = dataclasses.replace(frags.items[0], kind=ISL)
    only_island = Fragments((island,), frags.roi_masks)
    assert measure_gap(joined, only_island, spacing, AnalysisConfig()) is None
    assert brooker_class({ISL}, None, T) is BrookerGrade.ISLANDS
    bridged = measure_gap(joined, frags, spacing, AnalysisConfig())
    assert bridged is not None
    assert bridged.gap_mm == 0.0
    # the inferred bridge is marked on the attached spur (its tip, farthest from the bodies),
    # not on other bone of the sector that no judge took for heterotopic (here a blob farther
    # from the bodies than the spur's tip)
    other = np.zeros(masks.bone.shape, bool)
    other[50:60, 65:75] = True
    joined = dataclasses.replace(joined, bone=joined.bone | other)
    bridged = measure_gap(joined, frags, spacing, AnalysisConfig())
    assert bridged is not None
    r, c = bridged.pelvic_point_px
    r0, c0 = joined.origin_px
    assert frags.roi_masks[0][round(r - r0), round(c - c0)]
    assert bridged.femoral_point_px == bridged.pelvic_point_px
    assert brooker_class({PEL}, bridged.gap_mm, T) is BrookerGrade.ANKYLOSIS
    # bodies joined only through the joint (parted once it was cut out) are no such bridge:
    # the spur is measured to the opposite bone, as on bodies that parted at once
    at_joint = dataclasses.replace(joined, parted_at_joint=True)
    parted = dataclasses.replace(joined, bodies_joined=False)
    measured = measure_gap(at_joint, frags, spacing, AnalysisConfig())
    assert measured == measure_gap(parted, frags, spacing, AnalysisConfig())
    assert measured is not None
    assert measured.gap_mm > 0.0


def test_prosthetic_head_read_as_bone_is_graded_with_a_caveat() -> None:
    """Under PROSTHETIC_HEAD_MIN_METAL of a prosthetic head read as metal: graded, and said."""
    thr = grading.PROSTHETIC_HEAD_MIN_METAL
    tha, native = HIP, dataclasses.replace(HIP, prosthesis=False)
    assert tha.prosthesis
    cfg = AnalysisConfig()

    def metal_caveats(hip: HipJoint, frac: float) -> list[str]:
        res = grade_hip(hip, _frags(ISL), None, cfg, head_metal_fraction=frac)
        assert res.grade is BrookerGrade.ISLANDS  # the grade itself is not touched
        return [c for c in res.caveats if "segmented as metal" in c]

    got = metal_caveats(tha, 0.234)
    assert got == [
        "the prosthetic head is only 23 % segmented as metal on this film: the implant is read "
        "as bone, so its edges may be taken for heterotopic bone (check the overlay)"
    ]
    assert len(metal_caveats(tha, math.nextafter(thr, 0.0))) == 1
    assert metal_caveats(tha, thr) == []  # the limit itself is metal enough
    assert metal_caveats(tha, 1.0) == []
    assert metal_caveats(native, 0.0) == []  # a native head is never metal
    assert metal_caveats(tha, 1.0) == metal_caveats(tha, 0.95)
    # the default (callers without a segmentation) is a head wholly metal
    assert not [c for c in grade_hip(tha, _frags(ISL), None, cfg).caveats if "metal" in c]


def test_unparted_bodies_caveat_below_class_iv() -> None:
    """Pelvis and femur one piece in the segmentation: a grade under IV says a bridge may be
    missed; a class IV, or a hip whose bodies were parted, says nothing of it."""
    cfg = AnalysisConfig()
    native = dataclasses.replace(HIP, prosthesis=False)

    def unparted_caveats(frags: Fragments, gap: GapMeasurement | None, flag: bool) -> list[str]:
        res = grade_hip(native, frags, gap, cfg, bodies_unparted=flag)
        return [c for c in res.caveats if "one piece" in c]

    for frags, gap in ((_frags(), None), (_frags(ISL), None), (_frags(PEL), _gap(12.0, 0.5)),
                       (_frags(PEL), _gap(4.0, 0.5))):  # fmt: skip
        assert grade_hip(native, frags, gap, cfg, bodies_unparted=True).grade < 4
        assert unparted_caveats(frags, gap, True) == [
            "the pelvis and femur are one piece in this hip's bone segmentation: bone bridging "
            "them cannot be told from the normal anatomy here, so a class IV may be missed "
            "(check the overlay)"
        ]
        assert unparted_caveats(frags, gap, False) == []
    bridge = _frags(FragmentKind.BRIDGE)
    assert grade_hip(native, bridge, _gap(0.0, 0.0), cfg, bodies_unparted=True).grade == 4
    assert unparted_caveats(bridge, _gap(0.0, 0.0), True) == []


def test_class_iv_from_bodies_parted_at_the_joint_says_so() -> None:
    """Bodies parted only with the joint cut out (segmentation.part_hip): a class IV says its
    bridge lies along the joint's margin; a grade under IV, or bodies parted as usual, say
    nothing of it."""
    cfg = AnalysisConfig()
    native = dataclasses.replace(HIP, prosthesis=False)

    def joint_caveats(frags: Fragments, gap: GapMeasurement | None, flag: bool) -> list[str]:
        res = grade_hip(native, frags, gap, cfg, parted_at_joint=flag)
        return [c for c in res.caveats if "joint cut out" in c]

    bridge = _frags(FragmentKind.BRIDGE)
    assert grade_hip(native, bridge, _gap(0.0, 0.0), cfg, parted_at_joint=True).grade == 4
    assert joint_caveats(bridge, _gap(0.0, 0.0), True) == [
        "pelvis and femur parted only with the joint cut out: what joins them may lie along the "
        "joint's margin, where the femoral neck and the acetabular rim can look like a bridge "
        "(check the overlay)"
    ]
    assert joint_caveats(bridge, _gap(0.0, 0.0), False) == []
    for frags, gap in ((_frags(), None), (_frags(ISL), None), (_frags(PEL), _gap(12.0, 0.5))):
        assert grade_hip(native, frags, gap, cfg, parted_at_joint=True).grade < 4
        assert joint_caveats(frags, gap, True) == []


def test_a_femur_not_segmented_up_to_the_trochanter_is_said() -> None:
    """A femur body that begins more than FEMUR_TOP_CAVEAT_RADII head radii below the head's
    centre, or no femur body at all, is said in the record of a class 0 or I hip, of a
    prosthetic hip, and of a native spur whose femur begins above FEMUR_TOP_MIN_RADII (graded,
    with the caveat); at the bound and above it nothing is said. Until 2026-12-07 the bound
    was FEMUR_TOP_MIN_RADII, and 10 real hips whose femur body held neither trochanter nor
    neck (tops 0.9-1.4 head radii down) went without it."""
    from brooker.grading import FEMUR_TOP_CAVEAT_RADII, FEMUR_TOP_MIN_RADII

    cfg = AnalysisConfig()
    native = dataclasses.replace(HIP, prosthesis=False)
    prosthetic = dataclasses.replace(HIP, prosthesis=True)
    bound_mm = FEMUR_TOP_CAVEAT_RADII * native.head_radius_mm
    assert FEMUR_TOP_MIN_RADII < FEMUR_TOP_CAVEAT_RADII < 0
    spur = (_frags(PEL), _gap(12.0, 0.5))

    def femur_caveats(
        hip: HipJoint, frags: Fragments, gap: GapMeasurement | None, top: float | None
    ) -> list[str]:
        res = grade_hip(hip, frags, gap, cfg, femur_top_mm=top)
        assert res.grade is not None
        return [c for c in res.caveats if "up to the greater trochanter" in c]

    cases = [(native, _frags(), None), (native, _frags(ISL), None), (prosthetic, *spur)]
    for hip, frags, gap in cases:
        assert femur_caveats(hip, frags, gap, 0.0) == []
        assert femur_caveats(hip, frags, gap, bound_mm) == []
        (below,) = femur_caveats(hip, frags, gap, bound_mm - 0.5)
        assert f"its body begins {-(bound_mm - 0.5):.0f} mm below the head's centre" in below
        res = grade_hip(hip, frags, gap, cfg, femur_top_mm=bound_mm - 0.5)
        assert res.limited_by == ("femur not segmented to the trochanter",)
        (none,) = femur_caveats(hip, frags, gap, None)
        assert "no femur body was found" in none
    # a total hip's ball is no measure of the femur: its bound is a native head's, for a
    # ball small enough that 1.5 of its radii lie above it too (11 mm: 16.5 mm down)
    ball_bound = FEMUR_TOP_CAVEAT_RADII * cfg.typical_head_radius_mm
    for ball_mm in (14.0, 11.0):
        ball = dataclasses.replace(HIP, prosthesis=True, head_radius_mm=ball_mm)
        assert femur_caveats(ball, *spur, FEMUR_TOP_CAVEAT_RADII * ball_mm - 0.5) == []
        assert femur_caveats(ball, *spur, ball_bound + 0.5) == []
        assert len(femur_caveats(ball, *spur, ball_bound - 0.5)) == 1
    # bodies that never parted: the femur's top is not known, nothing is said of it
    joined = grade_hip(native, _frags(), None, cfg, femur_top_mm=bound_mm - 5.0,
                       bodies_unparted=True)  # fmt: skip
    assert "femur not segmented to the trochanter" not in joined.limited_by
    # a native spur is graded with its femur at the bound, and between the bounds, said
    assert grade_hip(native, *spur, cfg, femur_top_mm=bound_mm).grade == 2
    low_mm = FEMUR_TOP_MIN_RADII * native.head_radius_mm
    for top in (bound_mm - 0.5, low_mm):
        assert grade_hip(native, *spur, cfg, femur_top_mm=top).grade == 2
        assert len(femur_caveats(native, *spur, top)) == 1


def test_a_femur_body_above_the_trochanter_is_said() -> None:
    """A femur body reaching more than FEMUR_TOP_MAX_RADII head radii above the head's centre
    has taken in soft tissue or heterotopic bone (no greater trochanter rises so high): a class
    under IV says that a spur or bridge there may be missed or a gap measured to it, a class
    IV that its bridge may run through it; at the bound and when the bodies never parted
    nothing is said. A total hip's bound is in a native head's radii."""
    from brooker.grading import FEMUR_TOP_MAX_RADII

    cfg = AnalysisConfig()
    native = dataclasses.replace(HIP, prosthesis=False)
    bound_mm = FEMUR_TOP_MAX_RADII * native.head_radius_mm
    label = "femur body above the trochanter"
    for frags, gap in ((_frags(), None), (_frags(ISL), None), (_frags(PEL), _gap(12.0, 0.5))):
        res = grade_hip(native, frags, gap, cfg, femur_top_mm=bound_mm + 0.5)
        assert res.limited_by == (label,)
        (said,) = [c for c in res.caveats if "the femur body reaches" in c]
        assert f"reaches {bound_mm + 0.5:.0f} mm above the head's centre" in said
        assert "may be read as femur and missed, or a gap measured to it" in said
        assert label not in grade_hip(native, frags, gap, cfg, femur_top_mm=bound_mm).limited_by
        joined = grade_hip(
            native, frags, gap, cfg, femur_top_mm=bound_mm + 5, bodies_unparted=True
        )
        assert label not in joined.limited_by
    bridge = grade_hip(native, _frags(FragmentKind.BRIDGE), _gap(0.0, 0.0), cfg,
                       femur_top_mm=bound_mm + 5)  # fmt: skip
    assert bridge.grade == 4
    assert label in bridge.limited_by
    (said,) = [c for c in bridge.caveats if "the femur body reaches" in c]
    assert "a bridge may run through soft tissue read as femur" in said
    ball = dataclasses.replace(HIP, prosthesis=True, head_radius_mm=14.0)
    over_ball = FEMUR_TOP_MAX_RADII * 14.0 + 1.0  # above the ball's bound, not a native head's
    assert label not in grade_hip(ball, _frags(), None, cfg, femur_top_mm=over_ball).limited_by
    over = FEMUR_TOP_MAX_RADII * cfg.typical_head_radius_mm + 1.0
    assert label in grade_hip(ball, _frags(), None, cfg, femur_top_mm=over).limited_by


@pytest.mark.parametrize(
    ("kind", "gap_mm"),
    [
        (FragmentKind.PELVIC_SPUR, 12.0),
        (FragmentKind.FEMORAL_SPUR, 4.0),
        (FragmentKind.BRIDGE, 0.0),
    ],
)
def test_a_spur_or_bridge_with_no_femur_by_the_joint_is_not_graded(
    kind: FragmentKind, gap_mm: float
) -> None:
    """Classes II-IV are graded against the femur: on a native hip whose femur body begins
    below FEMUR_TOP_MIN_RADII head radii (or was not found apart from the pelvis), the spur or
    bridge seen is reported, not graded: it may be a piece of the trochanter, and its gap was
    measured to whatever femoral-side bone was left."""
    from brooker.grading import FEMUR_TOP_MIN_RADII

    cfg = AnalysisConfig()
    native = dataclasses.replace(HIP, prosthesis=False)
    bound_mm = FEMUR_TOP_MIN_RADII * native.head_radius_mm
    frags = _frags(kind)
    for top in (bound_mm - 0.5, None):
        res = grade_hip(native, frags, _gap(gap_mm, 0.5), cfg, femur_top_mm=top)
        assert res.grade is None
        assert res.not_graded is not None
        assert res.not_graded.startswith("a spur or bridge was seen, but the femur is not ")
        assert res.fragments == frags.items  # what was seen stays on the record and overlay
        assert res.gap is None
        assert res.caveats == ()
        assert not res.borderline
        assert res.search_region is not None
        rec = res.to_record()
        assert rec["grade"] is None
        assert rec["brooker_class"] is None
    graded = grade_hip(native, frags, _gap(gap_mm, 0.5), cfg, femur_top_mm=bound_mm)
    assert graded.grade is not None
    assert graded.grade >= 2
    # bodies that never parted: the femur's top is not known, the joined body is graded
    unparted = grade_hip(
        native, frags, _gap(gap_mm, 0.5), cfg, femur_top_mm=None, bodies_unparted=True
    )
    assert unparted.grade is not None
    # bodies that never parted: where the femur begins is not known, nothing is said of it
    res = grade_hip(native, _frags(), None, cfg, femur_top_mm=None, bodies_unparted=True)
    assert not [c for c in res.caveats if "up to the greater trochanter" in c]


UNSEEN = "the femoral head is not segmented as bone on this film"


@pytest.mark.parametrize(
    ("kind", "gap_mm"),
    [
        (FragmentKind.PELVIC_SPUR, 12.0),
        (FragmentKind.FEMORAL_SPUR, 4.0),
        (FragmentKind.BRIDGE, 0.0),
        (FragmentKind.PELVIC_SPUR, None),  # nothing to measure to
    ],
)
def test_a_spur_or_bridge_on_a_hip_whose_anatomy_is_unseen_is_not_graded(
    kind: FragmentKind, gap_mm: float | None
) -> None:
    """Where the film's levels do not show the hip's own bone as bone (its head, roof or
    shaft: localization._anatomy_check), the bone threshold takes soft-tissue edges for bone:
    a spur or bridge seen there is reported with why, not graded."""
    native = dataclasses.replace(HIP, prosthesis=False, anatomy_unseen=UNSEEN)
    frags = _frags(kind, ISL)
    gap = None if gap_mm is None else _gap(gap_mm, 0.5)
    res = grade_hip(native, frags, gap, AnalysisConfig())
    assert res.grade is None
    assert res.not_graded is not None
    assert res.not_graded.startswith(f"a spur or bridge was seen, but {UNSEEN}: ")
    assert res.fragments == frags.items  # what was seen stays on the record and overlay
    assert res.gap is None
    assert res.caveats == ()
    # the same hip with its anatomy seen is graded
    seen = grade_hip(dataclasses.replace(native, anatomy_unseen=None), frags, gap, AnalysisConfig())
    assert (seen.grade is not None) is (gap_mm is not None)


def test_a_prosthetic_hip_is_not_judged_by_the_native_anatomy() -> None:
    """The native-anatomy check is not made on a prosthetic hip (its metal is checked at full
    resolution): a flag set on one changes nothing, as the femur rule's does not."""
    flagged = dataclasses.replace(HIP, anatomy_unseen=UNSEEN)
    res = grade_hip(flagged, _frags(PEL), _gap(12.0, 0.5), AnalysisConfig())
    assert res.grade is BrookerGrade.SPURS_WIDE_GAP
    assert res.caveats == ()


@pytest.mark.parametrize("kinds", [(), (FragmentKind.ISLAND,)])
def test_class_0_or_i_on_a_hip_whose_anatomy_is_unseen_is_graded_with_a_caveat(
    kinds: tuple[FragmentKind, ...],
) -> None:
    """Nothing (or only islands) above a bone threshold that is high at this hip is still a
    finding, but faint heterotopic bone may be missed there: the record says so."""
    native = dataclasses.replace(HIP, prosthesis=False, anatomy_unseen=UNSEEN)
    res = grade_hip(native, _frags(*kinds), None, AnalysisConfig())
    assert res.grade is (BrookerGrade.ISLANDS if kinds else BrookerGrade.NONE)
    assert res.not_graded is None
    said = [c for c in res.caveats if c.startswith(UNSEEN)]
    assert len(said) == 1
    assert "fainter than it may be missed" in said[0]
    plain = grade_hip(dataclasses.replace(native, anatomy_unseen=None), _frags(*kinds), None,
                      AnalysisConfig())
    assert plain.caveats == ()


def test_class_iv_without_a_bridge_fragment_says_it_is_inferred() -> None:
    """Joined bodies with a spur attached are read as bridged (measure_gap); the record says
    that no bridging fragment was seen. A bridge fragment needs no such word."""
    cfg = AnalysisConfig()
    native = dataclasses.replace(HIP, prosthesis=False)

    def inferred(frags: Fragments) -> list[str]:
        res = grade_hip(native, frags, _gap(0.0, 0.0), cfg)
        assert res.grade is BrookerGrade.ANKYLOSIS
        return [c for c in res.caveats if "inferred" in c]

    assert inferred(_frags(PEL)) == [
        "no bridging fragment was seen: class IV is inferred from pelvis and femur that the bone "
        "segmentation found joined, with a spur attached (on real films such joins are often "
        "normal anatomy or soft tissue: check the overlay)"
    ]
    assert inferred(_frags(FragmentKind.BRIDGE)) == []
    assert inferred(_frags(FragmentKind.BRIDGE, PEL)) == []


def test_island_sides_match_the_exact_nearest_distances() -> None:
    """measurement._min_distances (one windowed distance map per side, the whole ROI for an
    island farther than the window's margin) gives each island's exact distance to a side:
    checked against brute force on islands near, beyond the 40 mm margin from, and with no
    target bone in the window at all, on anisotropic pixels."""
    from brooker import measurement

    rng = np.random.default_rng(7)
    sp = (0.5, 0.3)
    shape = (400, 700)  # 200 x 210 mm
    target = np.zeros(shape, bool)
    target[5:15, 20:40] = True  # a corner of bone far from most islands
    target[380:390, 650:690] = True
    fell_back = False
    islands = []
    for r, c in ((30, 60), (200, 350), (350, 600), (120, 690), (390, 5)):
        m = np.zeros(shape, bool)
        m[r : r + 6, c : c + 4] = True
        islands.append(m)
    for _ in range(3):
        rr, cc = np.nonzero(target)
        got = measurement._min_distances(islands, target, sp)
        for island, d in zip(islands, got, strict=True):
            ir, ic = np.nonzero(island)
            d_rows = (ir[:, None] - rr[None]) * sp[0]
            brute = np.min(np.hypot(d_rows, (ic[:, None] - cc[None]) * sp[1]))
            assert d == pytest.approx(float(brute), abs=1e-9)
        if not fell_back:
            assert max(got) > measurement.NEAREST_WINDOW_MM  # the whole-ROI fallback is used
            fell_back = True
        target = target | (rng.random(shape) < 0.00002)  # a few stray pixels, then again
    # one island alone: its window (its box grown by 40 mm) holds no target bone, or only bone
    # farther than 40 mm; the distance is still the exact one
    lone = np.zeros(shape, bool)
    lone[200:204, 300:303] = True
    far = np.zeros(shape, bool)
    far[200:202, 300 + round(100 / sp[1])] = True  # 100 mm to the right, outside the window
    corner = np.zeros(shape, bool)
    corner[200 + round(38 / sp[0]), 300 + round(38 / sp[1])] = True  # in the window, 53 mm off
    for tgt in (far, corner, far | corner):
        (d,) = measurement._min_distances([lone], tgt, sp)
        ir, ic = np.nonzero(lone)
        tr, tc = np.nonzero(tgt)
        brute = np.min(np.hypot((ir[:, None] - tr[None]) * sp[0], (ic[:, None] - tc[None]) * sp[1]))
        assert d == pytest.approx(float(brute), abs=1e-9)


def test_unparted_bodies_reach_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """segment_hip's unparted bodies (segmentation.part_bodies) reach the hip's record through
    the pipeline: with the parting forced to fail, every hip under IV says so."""
    from pathlib import Path

    from brooker import pipeline, segmentation

    film = Path(__file__).resolve().parents[1] / "sample_images" / "pelvis_0_vs_3.dcm"
    before = pipeline.grade_path(film, overlay=False).to_record()
    assert before["hips"]
    assert not [c for h in before["hips"] for c in h["caveats"] if "one piece" in c]
    real_part = segmentation.part_bodies

    def never_parted(*args: object, **kwargs: object) -> segmentation.Parting:
        p = real_part(*args, **kwargs)  # type: ignore[arg-type]
        joined = p.pelvis | p.femur
        return segmentation.Parting(joined, joined, p.radius_mm, True, True, p.skeleton, p.inside)

    # the femur of this sample film is not segmented up to its trochanter (README, What it
    # cannot see): parted, both hips say so; one piece, neither does
    for h in before["hips"]:
        assert [c for c in h["caveats"] if "up to the greater trochanter" in c], h
    monkeypatch.setattr(segmentation, "part_bodies", never_parted)
    after = pipeline.grade_path(film, overlay=False).to_record()
    assert not [c for h in after["hips"] for c in h["caveats"] if "greater trochanter" in c]
    under_iv = [h for h in after["hips"] if h["grade"] is not None and h["grade"] < 4]
    assert under_iv
    for h in under_iv:
        assert any("one piece" in c for c in h["caveats"]), h


def test_parted_at_joint_reaches_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parting found with the joint cut out (segmentation.part_hip) reaches a class IV hip's
    record through the pipeline; a parting as usual says nothing of it."""
    from pathlib import Path

    from brooker import pipeline, segmentation

    film = Path(__file__).resolve().parents[1] / "sample_images" / "hip_view_right_4.dcm"

    def joint_caveats(rec: dict[str, Any]) -> list[str]:
        return [c for h in rec["hips"] if h["grade"] == 4 for c in h["caveats"]
                if "joint cut out" in c]  # fmt: skip

    before = pipeline.grade_path(film, overlay=False).to_record()
    assert [h["grade"] for h in before["hips"]] == [4]
    assert joint_caveats(before) == []
    real_part = segmentation.part_hip

    def at_joint(*args: object, **kwargs: object) -> segmentation.Parting:
        p = real_part(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(p, joint_cut=True)

    monkeypatch.setattr(segmentation, "part_hip", at_joint)
    after = pipeline.grade_path(film, overlay=False).to_record()
    assert [h["grade"] for h in after["hips"]] == [4]
    assert len(joint_caveats(after)) == 1


# --------------------------------------------------------------------------------------------
# a class resting on a weak call of the learned judge says so
# --------------------------------------------------------------------------------------------


WEAK = grading.WEAK_CALL_PROBABILITY


def _judged(*kinds_p: tuple[FragmentKind, float | None]) -> Fragments:
    items = tuple(dataclasses.replace(_frag(k), judge_probability=p) for k, p in kinds_p)
    return Fragments(items, tuple(np.zeros((8, 8), bool) for _ in items))


def _weak(result: Any) -> list[str]:
    return [c for c in result.caveats if "weak call of the learned judge" in c]


@pytest.mark.parametrize(
    ("frags", "gap", "weak"),
    [
        ([(PEL, 0.57)], 13.3, "0.57"),  # a lone weak spur: class II
        ([(PEL, 0.57), (FEM, 0.91)], 6.0, None),  # the strongest spur decides: III, strong
        ([(PEL, 0.9), (ISL, 0.45)], 12.0, None),  # a weak island beside a strong spur
        ([(ISL, 0.45), (ISL, 0.62)], None, "0.62"),  # class I on weak islands only
        ([(ISL, 0.95)], None, None),
        ([(BRI, 0.69)], 0.0, "0.69"),  # IV
        ([(BRI, 0.45), (PEL, 0.95)], 0.0, "0.45"),  # IV rests on its bridge, not on a spur
        ([(BRI, 0.92), (PEL, 0.45)], 0.0, None),
        ([(PEL, 0.5), (FEM, 0.6)], 0.0, "0.60"),  # IV inferred from joined bodies: its spurs
        ([(PEL, 0.6996)], 12.0, "0.69"),  # shown rounded down, never "0.70, under 0.7"
        ([(PEL, WEAK)], 13.0, None),  # at the bound itself: not under it
        ([(PEL, None)], 13.0, None),  # judges off: nothing to say
    ],
)
def test_a_class_resting_on_a_weak_judge_call_says_so(
    frags: list[tuple[FragmentKind, float | None]], gap: float | None, weak: str | None
) -> None:
    r = grade_hip(HIP, _judged(*frags), None if gap is None else _gap(gap, 0.0), AnalysisConfig())
    assert r.grade is not None
    assert r.grade > 0
    said = _weak(r)
    if weak is None:
        assert said == []
    else:
        assert len(said) == 1
        assert f"probability {weak}, under 0.7" in said[0]
        assert "9 of 14 calls this weak were wrong" in said[0]
    assert r.weak_call is (weak is not None)
    assert r.to_record()["weak_call"] is (weak is not None)


def test_class_0_has_no_weak_call_caveat_and_fragments_record_their_probability() -> None:
    assert _weak(grade_hip(HIP, _judged(), None, AnalysisConfig())) == []
    rec = grade_hip(HIP, _judged((PEL, 0.56789), (ISL, None)), _gap(12.0, 0.0), AnalysisConfig())
    frags = rec.to_record()["fragments"]
    assert [f["judge_probability"] for f in frags] == [0.568, None]  # rounded, but
    weak = grade_hip(HIP, _judged((PEL, 0.6996)), _gap(12.0, 0.0), AnalysisConfig()).to_record()
    assert weak["weak_call"] is True
    assert weak["fragments"][0]["judge_probability"] == 0.699  # never 0.7 beside a weak call
    json.dumps(frags)  # plain JSON


def test_what_the_film_did_not_show_is_said_in_a_few_words_beside_the_class() -> None:
    """Each caveat of a class read on bone the film did not show has a short name in
    ``limited_by``, which the overlay's label, the terminal and the review page show beside
    the class (the overlay audit of 2026-12-07 found a real film's class I, outlined on the
    trochanter, labelled as plainly as any other)."""
    cfg = AnalysisConfig()
    native = dataclasses.replace(HIP, prosthesis=False)
    assert grade_hip(native, _frags(ISL), None, cfg).limited_by == ()
    low = grade_hip(native, _frags(ISL), None, cfg, femur_top_mm=None)
    assert low.limited_by == ("femur not segmented to the trochanter",)
    unseen = grade_hip(dataclasses.replace(native, anatomy_unseen=UNSEEN), _frags(), None, cfg)
    assert unseen.limited_by == ("femoral head not segmented",)
    one = grade_hip(native, _frags(), None, cfg, bodies_unparted=True)
    assert one.limited_by == ("pelvis and femur one piece",)
    metal = grade_hip(HIP, _frags(ISL), None, cfg, head_metal_fraction=0.2)
    assert metal.limited_by == ("implant read as bone",)
    assert low.to_record()["limited_by"] == ["femur not segmented to the trochanter"]
    # each has its caveat
    assert len(low.caveats) == len(low.limited_by)


def test_every_message_of_bone_the_film_did_not_show_has_its_few_words() -> None:
    """Each of the anatomy check's messages (localization._anatomy_check) shortens to its few
    words; a new one that did not would put its whole sentence on the overlay's label."""
    import inspect
    import re

    from brooker import localization, notes

    said = re.findall(r'"(the [^"]+ not segmented as bone on this film)"',
                      inspect.getsource(localization))  # fmt: skip
    assert len(said) >= 3
    for text in said:
        short = notes.unseen_in_few_words(text)
        assert short.endswith(" not segmented")
        assert len(short) < 40


def test_every_reason_a_hip_is_not_graded_has_its_few_words_for_the_label() -> None:
    """The overlay labelled a hip not graded "hip found, not graded" only, and the reader had
    to find why in the notes (a radiologist's test of 2026-12-08): each reason the code
    writes has its few words, which the label shows."""
    import inspect
    import re

    from brooker import localization, notes

    # every reason the anatomy check gives for not grading a hip at all
    source = inspect.getsource(localization._anatomy_check)
    outside = re.findall(r'return "([^"]+)", None', source)
    assert len(outside) >= 4
    hip = HipJoint(PatientSide.RIGHT, ImageSide.LEFT, (100.0, 100.0), 23.5, False)
    reasons = [grading.not_graded_hip(hip, why).not_graded for why in outside]
    for unseen in ("the femoral head is not segmented as bone on this film", None):
        femur_low = unseen is None
        res = grade_hip(
            dataclasses.replace(hip, anatomy_unseen=unseen), _frags(PEL),
            _gap(12.0, 12.0), AnalysisConfig(),
            femur_top_mm=-60.0 if femur_low else 0.0,
        )  # fmt: skip
        reasons.append(res.not_graded)
    reasons.append(grade_hip(hip, _frags(PEL), None, AnalysisConfig()).not_graded)
    short = [notes.not_graded_in_few_words(str(r)) for r in reasons]
    assert None not in short, reasons
    assert all(len(str(s)) <= 45 for s in short), short
    assert len(set(short)) == len(short)
