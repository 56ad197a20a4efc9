"""The values that cross stage boundaries are frozen all the way down."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from brooker.models import GradingResult, Status


def test_a_grading_result_is_frozen_hashable_and_pickles() -> None:
    res = GradingResult(file="a.dcm", status=Status.OK, version="0", extra={"input_sha256": "ab"})
    with pytest.raises(TypeError):
        res.extra["input_sha256"] = "cd"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.status = Status.ERROR  # type: ignore[misc]
    assert hash(res) == hash(dataclasses.replace(res))
    back = pickle.loads(pickle.dumps(res))  # results travel from worker processes
    assert back == res
    assert back.to_record()["input_sha256"] == "ab"
    added = dataclasses.replace(res, extra={**res.extra, "peak_rss_mb": 1.0})
    assert added.to_record()["peak_rss_mb"] == 1.0


def test_a_hips_record_fields_are_read_as_attributes_and_written_once() -> None:
    """The README's hip table names ``gap_mm`` (and ``brooker_class``, ``gap_uncertainty_mm``,
    ``gap_points_px``); a ``HipResult`` had none of them as attributes (the gap was only
    ``hip.gap.gap_mm``, and ``hip.gap`` is None for classes 0 and I). They read as the record
    does, unrounded; the record keeps its keys, none written twice."""
    from brooker.models import BrookerGrade, GapMeasurement, HipResult, ImageSide, PatientSide

    gap = GapMeasurement(9.996, (10.0, 20.0), (30.0, 40.0), uncertainty_mm=0.84)
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.SPURS_NARROW_GAP,
                    (1.0, 2.0), prosthesis=False, gap=gap)  # fmt: skip
    assert hip.gap_mm == 9.996  # the record shows 9.99: never rounded across 10
    assert hip.gap_uncertainty_mm == 0.84
    assert hip.gap_points_px == ((10.0, 20.0), (30.0, 40.0))
    assert hip.brooker_class == "III"
    rec = hip.to_record()
    assert rec["brooker_class"] == hip.brooker_class
    assert rec["gap_points_px"] == [list(p) for p in hip.gap_points_px]
    assert list(rec) == [
        "side", "image_side", "grade", "brooker_class", "gap_mm", "gap_uncertainty_mm",
        "gap_points_px", "gap_to_head", "borderline", "weak_call", "prosthesis", "center_px",
        "head_radius_mm", "center_uncertainty_mm", "class_range", "centres_graded", "limited_by",
        "fragments", "caveats",
    ]  # fmt: skip
    none = HipResult(PatientSide.LEFT, ImageSide.RIGHT, None, (1.0, 2.0), prosthesis=False,
                     not_graded="why")  # fmt: skip
    assert (none.gap_mm, none.gap_uncertainty_mm, none.gap_points_px) == (None, None, None)
    assert none.brooker_class is None
    # read-only (Python 3.11's frozen dataclass with slots says so with a TypeError)
    with pytest.raises((AttributeError, TypeError)):
        hip.gap_mm = 1.0  # type: ignore[misc]
    assert "gap_mm" not in {f.name for f in dataclasses.fields(hip)}
    assert pickle.loads(pickle.dumps(hip)) == hip


def test_a_class_range_runs_from_the_hips_grade_up() -> None:
    """The five centres' lowest and highest class (the grade is the lowest)."""
    from brooker.models import BrookerGrade, HipResult, ImageSide, PatientSide

    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (1.0, 2.0), False,
                    class_range=(BrookerGrade.NONE, BrookerGrade.ANKYLOSIS))  # fmt: skip
    assert hip.to_record()["class_range"] == ["0", "IV"]
    for grade, span in [
        (BrookerGrade.ISLANDS, (BrookerGrade.NONE, BrookerGrade.ANKYLOSIS)),  # not its grade
        (BrookerGrade.NONE, (BrookerGrade.NONE, BrookerGrade.NONE)),  # no range
        (None, (BrookerGrade.NONE, BrookerGrade.ISLANDS)),  # not graded
    ]:
        with pytest.raises(ValueError, match="class_range"):
            HipResult(PatientSide.RIGHT, ImageSide.LEFT, grade, (1.0, 2.0), False,
                      not_graded=None if grade is not None else "why",
                      class_range=span)  # fmt: skip


def test_fragments_compare_by_their_fields_and_masks() -> None:
    """Two analyses of one film compared unequal while their records were equal (a user's
    test of 2026-12-07): a fragment compared by the identity of its mask array. Equal fields
    and masks are equal, and hash alike; a different mask is a different fragment."""
    import numpy as np

    from brooker.models import Fragment, FragmentKind

    def frag(mask: list[list[bool]]) -> Fragment:
        return Fragment(FragmentKind.ISLAND, 13.0, (5.0, 6.0), (4, 5, 6, 7), np.array(mask), 0.8)

    a, b = frag([[True, False], [True, True]]), frag([[True, False], [True, True]])
    assert a == b
    assert hash(a) == hash(b)
    assert a == pickle.loads(pickle.dumps(a))
    assert a != frag([[True, True], [True, True]])
    assert a != dataclasses.replace(a, judge_probability=0.7)
    assert "mask" not in repr(a)  # an array in every fragment's repr made a result's 16 KB


def test_two_analyses_of_one_film_are_equal() -> None:
    from conftest import ROOT

    from brooker import analyze

    film = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"
    first, second = analyze(film), analyze(film)
    assert any(hip.fragments for hip in first.hips)
    assert first == second
