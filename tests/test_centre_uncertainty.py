"""A hip placed at the hip detector's own centre is graded over the centre's uncertainty.

On real films most native heads have no fitted outline: the hip is placed where the detector's
score peaks, on its 4 mm grid (``HipJoint.center_uncertainty_mm`` = 2 mm). Such a hip is graded
at its centre and 2 mm up, down, left and right, and the lowest class is reported with a caveat
(:func:`brooker.pipeline.grade_found_hip`). Here: which hips carry the uncertainty (a phantom
film, with the native head's circle fit taken away), that grading goes through it, and how the
five results are combined (the per-centre grading replaced by a table of classes, so every
branch is pinned).
"""

from __future__ import annotations

import dataclasses

import pytest

import brooker.localization as loc
import brooker.phantom as ph
from brooker import pipeline
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.grading import not_graded_hip
from brooker.localization import (
    DETECTOR_CENTRE_ERROR_MM,
    analyse_scene,
    detector_center_uncertainty_mm,
    find_hips,
)
from brooker.models import (
    BrookerGrade,
    HipJoint,
    HipResult,
    ImageSide,
    PatientSide,
    Radiograph,
)
from brooker.phantom import HipSpec as H
from brooker.phantom import PhantomSpec

CFG = AnalysisConfig()


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Radiograph:
    spec = PhantomSpec(seed=5, right=H(0), left=H(0, prosthesis=True), spacing_mm=0.4)
    p = ph.render(spec)
    path = ph.write(p, tmp_path_factory.mktemp("centre") / "film.dcm")
    return load_radiograph(path, pixel_spacing=p.spacing)


def test_the_detector_centre_is_known_to_half_its_stride() -> None:
    # the detector scores windows every 2 detector pixels of 2 mm
    assert detector_center_uncertainty_mm() == pytest.approx(2.0)


def test_fitted_heads_carry_no_uncertainty(film: Radiograph) -> None:
    hips = find_hips(film, CFG, analyse_scene(film, CFG)).hips
    assert {h.patient_side for h in hips} == {PatientSide.RIGHT, PatientSide.LEFT}
    for h in hips:
        # the native head's circle of bone edges and the prosthetic metal disk are both fitted
        assert h.center_uncertainty_mm == 0.0, h


def test_a_hip_placed_at_the_detector_centre_carries_it(
    film: Radiograph, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loc, "_head_circles", lambda *a, **k: [])  # no native circle found
    hips = {h.patient_side: h for h in find_hips(film, CFG, analyse_scene(film, CFG)).hips}
    native, prosthetic = hips[PatientSide.RIGHT], hips[PatientSide.LEFT]
    assert not native.prosthesis
    assert native.head_radius_mm == CFG.typical_head_radius_mm
    assert native.center_uncertainty_mm == pytest.approx(detector_center_uncertainty_mm())
    assert prosthetic.prosthesis
    assert prosthetic.center_uncertainty_mm == 0.0


# --- combining the five results -------------------------------------------------------------

ROW_MM, COL_MM = 0.5, 0.25  # anisotropic: an offset of 2 mm is 4 rows or 8 columns
HIP = HipJoint(
    patient_side=PatientSide.LEFT,
    image_side=ImageSide.RIGHT,
    center_px=(100.0, 200.0),
    head_radius_mm=23.5,
    prosthesis=False,
    center_uncertainty_mm=2.0,
)

#: The caveat of a hip placed at the detector's centre (:data:`HIP`), with the measured error
PLACED = (
    "no outline of this head was found: it is centred where the hip detector put it (on real "
    "films a median 6.4 mm from the head's true centre, over 12.8 mm for 1 hip in 10) and "
    "drawn as a typical 47 mm head: the region searched and the joint left out hang on that centre "
    "(check the overlay)"
)


CENTRE, UP, DOWN, LEFT, RIGHT = (0.0, 0.0), (-2.0, 0.0), (2.0, 0.0), (0.0, -2.0), (0.0, 2.0)
OFFSETS = (CENTRE, UP, DOWN, LEFT, RIGHT)  # the order grade_found_hip tries them in


@dataclasses.dataclass
class _Film:
    """What grade_found_hip reads of a radiograph: its spacing."""

    @dataclasses.dataclass
    class _Spacing:
        row_mm: float = ROW_MM
        col_mm: float = COL_MM

    spacing: _Spacing = dataclasses.field(default_factory=_Spacing)


def _combine(
    monkeypatch: pytest.MonkeyPatch, classes: tuple[int | str, ...], hip: HipJoint = HIP
) -> tuple[HipResult, list[tuple[float, float]]]:
    """grade_found_hip with the class at each centre from ``classes``, in the order the centres
    are tried (found, up, down, left, right; "S": not graded, a spur with nothing to measure
    to; "N": not graded, a spur seen with no femur by the joint); returns
    the result and the offsets (mm, row and column) graded, in order. A centre past the end of
    ``classes`` must not be graded."""
    table: dict[tuple[float, float], int | str] = dict(
        zip(OFFSETS, classes, strict=False)
    )
    seen: list[tuple[float, float]] = []

    def fake(
        _rad: object, h: HipJoint, _cfg: object, _scene: object
    ) -> tuple[HipResult, None]:
        off = (
            round((h.center_px[0] - hip.center_px[0]) * ROW_MM, 6),
            round((h.center_px[1] - hip.center_px[1]) * COL_MM, 6),
        )
        seen.append(off)
        g = table[off]
        if g in ("N", "S"):
            return HipResult(
                patient_side=h.patient_side,
                image_side=h.image_side,
                grade=None,
                center_px=h.center_px,
                prosthesis=False,
                not_graded=f"no femur at {off}" if g == "N" else f"no opposing bone at {off}",
            ), None
        assert isinstance(g, int)
        return HipResult(
            patient_side=h.patient_side,
            image_side=h.image_side,
            grade=BrookerGrade(g),
            center_px=h.center_px,
            prosthesis=False,
            caveats=(f"from {off}",),
        ), None

    monkeypatch.setattr(pipeline, "_grade_at", fake)
    # no masks behind the table's classes: no bodies' edges to draw
    monkeypatch.setattr(pipeline, "body_outlines", lambda _masks: ())
    return pipeline.grade_found_hip(_Film(), hip, CFG, None), seen  # type: ignore[arg-type]




def test_the_lowest_class_of_the_five_is_reported_with_a_caveat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    res, seen = _combine(monkeypatch, (4, 4, 2, 3, 4))
    assert seen == [CENTRE, UP, DOWN, LEFT, RIGHT]
    assert res is not None
    assert res.grade is BrookerGrade.SPURS_WIDE_GAP
    # the lowest run whole: its centre (2 mm down: 4 rows of 0.5 mm) and its own caveats
    assert res.center_px == (HIP.center_px[0] + 4.0, HIP.center_px[1])
    assert res.caveats[0] == "from (2.0, 0.0)"
    assert res.caveats[-1] == (
        "graded again about centres 2 mm up, down, left and right of the hip detector's (the "
        "rounding of its score map), this hip grades II to IV: the lowest class is reported, "
        "with the centre it was graded about (check the overlay)"
    )
    assert res.caveats[1] == PLACED
    assert len(res.caveats) == 3
    # and the range itself, for the label and the terminal (a plain "II" hid it)
    assert res.class_range == (BrookerGrade.SPURS_WIDE_GAP, BrookerGrade.ANKYLOSIS)
    assert res.to_record()["class_range"] == ["II", "IV"]


def test_equal_lowest_classes_keep_the_centre_own_result(monkeypatch: pytest.MonkeyPatch) -> None:
    res, _ = _combine(monkeypatch, (3, 4, 3, 3, 4))
    assert res is not None
    assert res.grade is BrookerGrade.SPURS_NARROW_GAP
    assert res.caveats[0] == "from (0.0, 0.0)"
    assert res.center_px == HIP.center_px
    assert "grades III to IV" in res.caveats[-1]


def test_equal_lowest_moved_centres_keep_the_first_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    res, _ = _combine(monkeypatch, (4, 4, 3, 3, 4))
    assert res is not None
    assert res.caveats[0] == "from (2.0, 0.0)"


def test_agreeing_centres_add_no_caveat(monkeypatch: pytest.MonkeyPatch) -> None:
    res, seen = _combine(monkeypatch, (2, 2, 2, 2, 2))
    assert len(seen) == 5
    assert res is not None
    assert res.grade is BrookerGrade.SPURS_WIDE_GAP
    assert res.caveats == ("from (0.0, 0.0)", PLACED)
    assert res.class_range is None
    assert res.to_record()["class_range"] is None
    assert res.centres_graded is None  # graded about every centre
    assert res.to_record()["centres_graded"] is None


def test_a_class_0_keeps_the_lowest_and_the_search_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    res, seen = _combine(monkeypatch, (4, 1, 0, 4, 4))
    assert seen == [CENTRE, UP, DOWN, LEFT, RIGHT]
    assert res is not None
    assert res.grade is BrookerGrade.NONE
    assert "this hip grades 0 to IV" in res.caveats[-1]
    assert res.center_px == (HIP.center_px[0] + 4.0, HIP.center_px[1])
    assert res.class_range == (BrookerGrade.NONE, BrookerGrade.ANKYLOSIS)


def test_the_range_reaches_a_higher_class_after_a_class_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A class 0 cannot be lowered, but a centre tried after it can raise the range's top: a
    "0 to II" that is "0 to IV" about the next centre would hide how near the call is."""
    res, seen = _combine(monkeypatch, (2, 0, 2, 4, 2))
    assert len(seen) == 5
    assert res.grade is BrookerGrade.NONE
    assert res.center_px == (HIP.center_px[0] - 4.0, HIP.center_px[1])  # the first 0: 2 mm up
    assert res.class_range == (BrookerGrade.NONE, BrookerGrade.ANKYLOSIS)
    assert res.to_record()["class_range"] == ["0", "IV"]
    assert "this hip grades 0 to IV:" in res.caveats[-1]
    # and a centre not graded after the 0 is said too
    res, _ = _combine(monkeypatch, (2, 0, 2, "S", 2))
    assert res.class_range == (BrookerGrade.NONE, BrookerGrade.SPURS_WIDE_GAP)
    assert (
        "this hip grades 0 to II about 4 of the 5 centres and is not graded about the other 1:"
    ) in res.caveats[-1]


def test_an_offset_with_nothing_to_measure_to_is_not_graded_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spur with no opposing bone about one centre: the class of the others is reported,
    and the caveat says that about one centre the hip is not graded."""
    res, seen = _combine(monkeypatch, (3, "S", 3, 3, 3))
    assert len(seen) == 5
    assert res.grade is BrookerGrade.SPURS_NARROW_GAP
    assert res.caveats[0] == "from (0.0, 0.0)"
    assert (
        "this hip grades III about 4 of the 5 centres and is not graded about the other 1:"
    ) in res.caveats[-1]
    assert res.class_range is None  # one class where graded
    # but no plain III: graded about 4 of the 5 centres, in the record as on the overlay
    assert res.centres_graded == (4, 5)
    assert res.to_record()["centres_graded"] == [4, 5]


def test_a_centre_with_nothing_to_measure_to_tries_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not graded about its own centre, the hip is graded about the others, as when its femur
    is not seen there: a class 0 about a centre 2 mm away says the spur rests on the centre."""
    res, seen = _combine(monkeypatch, ("S", 0, 0, 0, 0))
    assert len(seen) == 5
    assert res.grade is BrookerGrade.NONE
    res, _ = _combine(monkeypatch, ("S", "S", "S", "S", "S"))
    assert res.grade is None
    assert res.not_graded == "no opposing bone at (0.0, 0.0)"
    assert res.caveats == (PLACED,)


def test_not_graded_about_every_centre_stays_not_graded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    res, seen = _combine(monkeypatch, ("N", "N", "N", "N", "N"))
    assert len(seen) == 5
    assert res is not None
    assert res.grade is None
    assert res.not_graded == "no femur at (0.0, 0.0)"


def test_a_class_about_another_centre_beats_not_graded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hip not graded about its centre (a spur seen with no femur by the joint) but graded
    about another is reported graded: a class 0 or I there says the spur rests on the centre,
    a class II-IV there was graded with the femur seen."""
    res, seen = _combine(monkeypatch, ("N", "N", 1, "N", "N"))
    assert len(seen) == 5
    assert res is not None
    assert res.grade is BrookerGrade.ISLANDS
    assert res.center_px == (HIP.center_px[0] + 4.0, HIP.center_px[1])
    assert res.caveats[-1] == (
        "graded again about centres 2 mm up, down, left and right of the hip detector's (the "
        "rounding of its score map), this hip grades I about 1 of the 5 centres and is not "
        "graded about the other 4: that class is reported, with the centre it was "
        "graded about (check the overlay)"
    )
    res, seen = _combine(monkeypatch, ("N", 0, "N", "N", "N"))
    assert seen == list(OFFSETS)
    assert res is not None
    assert res.grade is BrookerGrade.NONE
    assert (
        "this hip grades 0 about 1 of the 5 centres and is not graded about the other 4:"
    ) in res.caveats[-1]
    # not graded about its own centre, class III about a moved one (the femur seen there)
    res, _ = _combine(monkeypatch, ("N", 3, "N", "N", "N"))
    assert res is not None
    assert res.grade is BrookerGrade.SPURS_NARROW_GAP
    assert res.centres_graded == (1, 5)
    assert res.caveats[0] == "from (-2.0, 0.0)"
    assert (
        "this hip grades III about 1 of the 5 centres and is not graded about the other 4"
    ) in res.caveats[-1]
    res, _ = _combine(monkeypatch, (3, "N", 3, 3, 3))
    assert res is not None
    assert res.grade is BrookerGrade.SPURS_NARROW_GAP
    assert res.caveats[0] == "from (0.0, 0.0)"
    assert (
        "this hip grades III about 4 of the 5 centres and is not graded about the other 1"
    ) in res.caveats[-1]


@pytest.mark.parametrize("own", [0, 1, 2, 3, 4])
def test_a_fitted_head_is_graded_once(monkeypatch: pytest.MonkeyPatch, own: int) -> None:
    fitted = dataclasses.replace(HIP, center_uncertainty_mm=0.0)
    res, seen = _combine(monkeypatch, (own,), fitted)
    assert seen == [CENTRE]
    assert res is not None
    assert res.grade == own
    assert res.caveats == ("from (0.0, 0.0)",)  # no word of the detector's error


def test_a_class_0_at_the_centre_is_graded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    res, seen = _combine(monkeypatch, (0,))
    assert seen == [CENTRE]
    assert res is not None
    assert res.grade is BrookerGrade.NONE
    assert res.caveats == ("from (0.0, 0.0)", PLACED)


def test_the_placement_caveat_quotes_the_detectors_measured_error() -> None:
    """The caveat of a hip placed by the detector gives the detector's measured error against
    true centres, not the ±2 mm of its score map's rounding that the hip is graded over."""
    median_mm, p90_mm = DETECTOR_CENTRE_ERROR_MM
    assert median_mm > detector_center_uncertainty_mm()
    assert f"a median {median_mm:g} mm from the head's true centre" in PLACED
    assert f"over {p90_mm:g} mm for 1 hip in 10" in PLACED
    assert "a typical 47 mm head" in PLACED
    assert "±" not in PLACED


def test_columns_move_by_the_column_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    res, _ = _combine(monkeypatch, (3, 3, 3, 3, 1))
    assert res is not None
    assert res.grade is BrookerGrade.ISLANDS
    assert res.center_px == (HIP.center_px[0], HIP.center_px[1] + 8.0)  # 2 mm / 0.25 mm


def test_grading_goes_through_the_centre_uncertainty(
    film: Radiograph, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[HipJoint] = []
    real = pipeline.grade_found_hip

    def spy(rad: Radiograph, hip: HipJoint, cfg: AnalysisConfig, scene: object) -> object:
        calls.append(hip)
        return real(rad, hip, cfg, scene)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "grade_found_hip", spy)
    res = pipeline.analyze(film, CFG)
    assert {h.patient_side for h in calls} == {PatientSide.RIGHT, PatientSide.LEFT}
    assert len(res.hips) == 2


def test_the_record_says_how_well_the_centre_is_known(
    film: Radiograph, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fitted heads: 0; with the native circle fit taken away, that hip sits at the detector's
    # centre and its record says so, graded or not
    fitted = {h.patient_side: h for h in pipeline.analyze(film, CFG).hips}
    assert {s: h.to_record()["center_uncertainty_mm"] for s, h in fitted.items()} == {
        PatientSide.RIGHT: 0.0,
        PatientSide.LEFT: 0.0,
    }
    monkeypatch.setattr(loc, "_head_circles", lambda *a, **k: [])
    moved = {h.patient_side: h for h in pipeline.analyze(film, CFG).hips}
    rec = moved[PatientSide.RIGHT].to_record()
    assert rec["center_uncertainty_mm"] == pytest.approx(detector_center_uncertainty_mm())
    assert moved[PatientSide.LEFT].to_record()["center_uncertainty_mm"] == 0.0
    # an ungraded hip carries it too
    assert not_graded_hip(HIP, "why").to_record()["center_uncertainty_mm"] == 2.0
