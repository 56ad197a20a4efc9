"""Floors on the scoreboard's figures (``benchmarks/validate.py``) on the real and hybrid films.

The films are graded in-process with :func:`brooker.pipeline.grade_path` and scored by the
script's own :func:`score`, so the tests and the scoreboard cannot drift apart. The real films
(30 films) and the hybrid films (75) are graded in full. Both sets live in
``../shared`` (never in the repository: unknown licences); the tests skip without them.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from brooker.pipeline import grade_path

# benchmarks/ is not a package; its validate.py holds the one scoring function
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from validate import match_hips, moved_hips, qwk, score

# Floors measured with the learned judges of heterotopic bone (brooker.ho_pixels: pixels 0.3,
# fragments 0.4), to be raised as grading improves: a change that loses hips or adds false
# calls fails here. The judges were trained on these films, so these are in-sample figures.
# Held out (each film graded by judges trained without its source film: benchmarks/
# train_ho_pixels.py --held-out-dir, its fragment judge nested; benchmarks/validate.py
# --held-out) the same sets gave real false II-IV 6 and hybrid accuracy 0.513, kappa 0.399 at
# first (2026-11-29); with the judges shipped on 2026-12-07, 2 and 0.620, kappa 0.425.
# History: the fragment judge as three small networks instead of one logistic regression
# (2026-11-29) took real false II-IV 12 -> 8. Parting the bodies again with the joint cut out
# (segmentation.part_hip), and no longer taking a disk that wipes out the femoral shaft for a
# parting (2026-11-29), took real false II-IV 8 -> 7 and the hybrid set 88 -> 89 of 150 right,
# kappa 0.449 -> 0.480. The hybrid films were graded through every third film until then; a
# single hip moved that subset's kappa by 0.05-0.08, so the whole set is graded now.
# Grading a hip placed at the detector's centre over that centre's 2 mm uncertainty, the lowest
# of five classes (pipeline.grade_found_hip, 2026-11-30), took real false II-IV 7 -> 4 (held
# out 9 -> 6) and the hybrid films 89 -> 90 right, gap 4.87 -> 4.79 mm, but their kappa
# 0.480 -> 0.421 (held out 0.409 -> 0.399): two joint-cut class IV calls that tracked their
# source film, not the drawn bridge (the same call is a false IV on the real film), read 0.
# A head as bright as the bone around must also be clearly flatter than that bone to be read
# as metal (localization._metal_head, 2026-11-30): the washed-out native head of c94f4acd left
# is no longer a prosthesis (real prosthesis 58 -> 59 of 59), and on its hybrid copies one
# class III hip, read 0 before, reads II with a 15 mm gap (truth 3.2 mm): gap error 4.79 ->
# 4.97 mm on 39 hips instead of 38, kappa 0.421 -> 0.430 (held out 4.53 -> 4.74, 0.399 -> 0.408).
# Bodies parted only with the joint cut out no longer infer class IV from an attached spur
# (measurement.measure_gap, 2026-11-30): the hybrid films 90 -> 91 right, kappa 0.430 -> 0.434,
# gap 4.97 -> 4.98 mm (held out: 0.513 either way, kappa 0.390 -> 0.399, on the nested folds).
# The ilium over the joint counts as pelvis when the opening cuts its link to the ROI's top
# (segmentation.part_bodies' roof probe, 2026-11-30): the hybrid films 91 -> 92 right, kappa
# 0.434 -> 0.460 (held out, on folds retrained on f496120: 0.567 -> 0.573, kappa 0.374 ->
# 0.400; real false II-IV 5 there either way).
# A spur or bridge on a native hip whose femur is not segmented up to the trochanter is not
# graded (grading.grade_hip, 2026-11-30): real false II-IV 4 -> 2 (held out 5 -> 3, on folds
# retrained on 2fc89fb), real hips graded 50 -> 48; the hybrid films 92 -> 91 right (a class
# III read right, now not graded), kappa 0.460 -> 0.431, gap 4.98 -> 4.85 mm, hips graded
# 137 -> 134 (held out: 0.567 -> 0.560, kappa 0.400 -> 0.406, false II-IV 3 -> 2). A trade
# taken on purpose: a spur or bridge call on an HO-free real hip is the error the real-film
# target forbids, and a class that rests on a femur the segmentation did not see is a guess.
# Positions around a prosthesis read in a native head's radius at least, not the ball's
# (ho_pixels.anatomy_radius_mm, 2026-11-30), both judges retrained on the present segmentation:
# real false II-IV 2 -> 1 (the ilium sliver of 049945e3 right goes; the other, 90fda283 left,
# reads I; a pelvic spur 38 mm from the femur on cf6f70dd right is new), false I 2 -> 3; the
# hybrid films 91 -> 95 right, kappa 0.431 -> 0.445, gap 4.85 -> 3.98 mm, hips graded 134 ->
# 133 (an HO-free hip whose femur is not seen has a spur seen: not graded). Held out, on folds
# retrained with it: the development films 33 -> 38 of 40 (four class I prosthetic hips whose
# islands the judges dropped), the hybrid films 0.560 -> 0.580, kappa 0.406 -> 0.420, real
# false II-IV 3 either way. Retrained without it (control), in-sample: hybrid 96 right, kappa
# 0.433, gap 2.93 mm; held out exactly as before.
# The fragment judge also trained on each real and hybrid film re-exported with gamma 0.8 and
# 1.25 and with noise of 3 grey levels (train_ho_pixels.py --augment, 2026-11-30; the pixel
# network unchanged): real false II-IV 1 -> 0 (cf6f70dd right reads 0), hybrid 95 -> 96 right,
# kappa 0.445 -> 0.438, gap 3.98 -> 3.10 mm on 36, hips graded 133 either way. Held out:
# development films 38 -> 39 of 40, real false II-IV 3 -> 1, hybrid 0.580 either way, kappa
# 0.420 -> 0.414.
# Native head circles moved by half a millimetre to their best support (localization
# HEAD_REFINE_STEP_MM, 2026-12-01): hybrid 96 -> 97 right, kappa 0.438 -> 0.447, gap 3.10 ->
# 3.01 mm; development gap 0.34 -> 0.30 mm; real films unchanged. Held out: hybrid 0.580 ->
# 0.587, kappa 0.414 -> 0.423.
# A native hip whose own bone the film's levels do not show as bone (head, roof or shaft:
# localization._anatomy_check) is graded when it reads 0 or I, with a caveat, and not graded
# when a spur or bridge is seen (grading.grade_hip, 2026-12-03; it was never graded): real hips
# graded 48 -> 54 (all six read 0, no false call), the hybrid films 97 -> 100 right (two class 0
# and one class I hip; five hips with drawn bone read 0 or I), kappa 0.447 -> 0.463, hips
# graded 133 -> 141; the other sets unchanged.
# A border of one value no element declares is cut off as a declared one is (padding.
# uniform_border_box, 2026-12-07): six real films (and their hybrid copies) have one of their
# own, 4-48 columns wide, so their hips are sought on other pixels of the analysis grid: real
# calls unchanged, centre error 5.9 -> 6.2 mm; hybrid 100 -> 99 right, kappa 0.463 -> 0.451,
# gap 3.01 -> 3.11 mm on 35; phantom kappa 0.834 -> 0.839. A crop of 1 or 3 pixels off the
# hybrid films' top left moves them more (0.633 and 0.627 right, kappa 0.435 and 0.458).
# The pixel network also trained on bone of the project's own drawing (draw_hybrids.py;
# train_ho_pixels.py --drawn --drawn-pixels-only --init-seed 1, 2026-12-07), both judges
# retrained: real hips graded 54 -> 55 (an HO-free hip read 0 that was withheld), false calls
# as before; hybrid 99 -> 100 right, kappa 0.451 -> 0.511, gap 3.11 -> 3.01 mm, graded 141 ->
# 142; phantoms 15 -> 16 of 23; devset and samples as before. Held out (its own folds): real
# false II-IV 3 -> 2 (false I 2 -> 3), hybrid 0.593 -> 0.620 right (three draws and the shipped
# retraining: 0.613-0.633, against 0.593 for two draws of the old training).
# Real films (30 films, 59 labelled hips, 56 of them HO-free):
FOUND_MIN = 1.00  # hips found / hips labelled (measured 59/59)
PHANTOM_MAX = 0  # hips reported where no hip is labelled (measured 0)
PROSTHESIS_MIN = 1.00  # prosthesis flag right / hips found (measured 59/59)
FALSE_SPUR_MAX = 0  # class II-IV calls on HO-free hips (measured 0; 33 before; 2 held out)
REAL_GRADED_MIN = 55  # hips graded (measured 55/59; 40 while heads not read as metal were withheld)
# HO-free hips found but not graded (measured 4, 2026-12-07; 5 on 2026-12-05: each for a spur
# seen where the film shows none, withheld for want of a femur or of the hip's own bone;
# invisible to FALSE_SPUR_MAX, so pinned apart: a change that turns false calls into withheld
# grades shows)
WITHHELD_FREE_MAX = 4
# median distance of a found hip's centre from its labelled centre, mm (measured 6.2 on
# 2026-12-07; 47 of the 59 hips are placed at the hip detector's centre, no head outline fitted)
CENTRE_MM_MAX = 6.3
# Hybrid films (75 films, 150 hips):
HYBRID_GRADED_MIN = 142  # hips graded (measured 142/150)
HYBRID_PROSTHESIS_MIN = 1.00  # prosthesis flag right / hips found (measured 150/150)
HYBRID_ACCURACY_MIN = 0.665  # right class / all 150 hips (measured 100/150 = 0.667)
HYBRID_KAPPA_MIN = 0.50  # quadratic weighted kappa, ungraded as 0 (measured 0.511)
HYBRID_GAP_MAE_MAX = 3.2  # mm, over the class II/III hips given a gap (measured 3.01 on 35)


def _board(films: Path, truth: dict[str, Any]) -> dict[str, Any]:
    records = [grade_path(films / name, overlay=False).to_record() for name in truth]
    return score(truth, records)


@pytest.fixture(scope="module")
def real_board(shared_dir: Path) -> dict[str, Any]:
    films = shared_dir / "realfilms" / "films"
    if not (films / "labels.json").is_file():
        pytest.skip("../shared/realfilms is absent")
    return _board(films, json.loads((films / "labels.json").read_text()))


@pytest.fixture(scope="module")
def hybrid_board(shared_dir: Path) -> dict[str, Any]:
    films = shared_dir / "hybrid" / "films"
    if not (films / "truth.json").is_file():
        pytest.skip("../shared/hybrid is absent")
    return _board(films, json.loads((films / "truth.json").read_text()))


@pytest.mark.shared
def test_real_films_hips_found(real_board: dict[str, Any]) -> None:
    assert real_board["found_frac"] >= FOUND_MIN


@pytest.mark.shared
def test_real_films_no_phantom_hips(real_board: dict[str, Any]) -> None:
    assert real_board["phantom"] <= PHANTOM_MAX


@pytest.mark.shared
def test_real_films_hips_graded(real_board: dict[str, Any]) -> None:
    assert real_board["graded"] >= REAL_GRADED_MIN


@pytest.mark.shared
def test_real_films_prosthesis_flag(real_board: dict[str, Any]) -> None:
    assert real_board["prosthesis_frac"] >= PROSTHESIS_MIN


@pytest.mark.shared
def test_real_films_false_spur_calls(real_board: dict[str, Any]) -> None:
    assert real_board["false_spur"] <= FALSE_SPUR_MAX


@pytest.mark.shared
def test_real_films_ho_free_hips_withheld(real_board: dict[str, Any]) -> None:
    assert real_board["withheld_free"] <= WITHHELD_FREE_MAX


@pytest.mark.shared
def test_real_films_centre_error(real_board: dict[str, Any]) -> None:
    assert real_board["centre_mm"] <= CENTRE_MM_MAX


@pytest.mark.shared
def test_hybrid_hips_graded(hybrid_board: dict[str, Any]) -> None:
    assert hybrid_board["graded"] >= HYBRID_GRADED_MIN


@pytest.mark.shared
def test_hybrid_prosthesis_flag(hybrid_board: dict[str, Any]) -> None:
    assert hybrid_board["prosthesis_frac"] >= HYBRID_PROSTHESIS_MIN


@pytest.mark.shared
def test_hybrid_accuracy(hybrid_board: dict[str, Any]) -> None:
    assert hybrid_board["accuracy"] >= HYBRID_ACCURACY_MIN


@pytest.mark.shared
def test_hybrid_kappa(hybrid_board: dict[str, Any]) -> None:
    assert hybrid_board["kappa"] >= HYBRID_KAPPA_MIN


@pytest.mark.shared
def test_hybrid_gap_error(hybrid_board: dict[str, Any]) -> None:
    assert hybrid_board["gap_n"] >= 35  # measured 37
    assert hybrid_board["gap_mae_mm"] <= HYBRID_GAP_MAE_MAX


# ------------------------------------------------------------------------------------------
# the figures themselves, on hand-computed examples


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)], 1.0),  # perfect agreement
        ([(2, 2), (2, 2)], 1.0),  # one class only: no expected disagreement either
        # O = [[1, 1], [0, 2]] (classes 0-1): observed weighted disagreement 1/16, expected
        # (2*3/4 + 2*1/4) / 16 = 2/16, so kappa = 1 - 1/2
        ([(0, 0), (0, 1), (1, 1), (1, 1)], 0.5),
        ([(0, 4), (4, 0)], -1.0),  # the two extremes swapped: observed 2, expected 1
    ],
)
def test_qwk_hand_computed(pairs: list[tuple[int, int]], expected: float) -> None:
    assert qwk(pairs) == pytest.approx(expected)


def test_qwk_empty_is_nan() -> None:
    assert math.isnan(qwk([]))


def test_match_by_patient_side() -> None:
    truth = [{"side": "right"}, {"side": "left"}]
    left = {"side": "left", "grade": 2}
    assert match_hips(truth, [left]) == [None, left]
    right, extra = {"side": "right", "grade": 0}, {"side": "right", "grade": 4}
    assert match_hips(truth, [right, extra, left]) == [right, left]


def test_match_by_image_half_and_centre_distance() -> None:
    lab = {"image_half": "left", "centre_rc_px": [100.0, 100.0], "radius_px": 20.0}
    near = {"image_side": "left", "center_px": [112.0, 116.0]}  # 20 px away: on the radius
    far = {"image_side": "left", "center_px": [100.0, 121.0]}
    other_half = {"image_side": "right", "center_px": [100.0, 100.0]}
    assert match_hips([lab], [other_half, far, near]) == [near]
    assert match_hips([lab], [other_half, far]) == [None]
    # one graded hip is matched to one labelled hip at most
    assert match_hips([lab, lab], [near]) == [near, None]


def test_score_counts() -> None:
    truth = {
        "a.dcm": {"hips": [
            {"side": "right", "grade": 0, "gap_mm": None, "prosthesis": True},
            {"side": "left", "grade": 3, "gap_mm": 6.0, "prosthesis": False},
        ]},
        "b.dcm": {"hips": [
            {"side": "right", "grade": 0, "gap_mm": None, "prosthesis": False},
            {"side": "left", "grade": 2, "gap_mm": 12.0, "prosthesis": False},
        ]},
        "knee.dcm": {"hips": []},
    }
    records = [
        {"file": "dir/a.dcm", "hips": [
            {"side": "right", "grade": 2, "gap_mm": 15.0, "prosthesis": True},
            {"side": "left", "grade": 3, "gap_mm": 7.5, "prosthesis": True},
        ]},
        {"file": "dir/b.dcm", "hips": [
            {"side": "right", "grade": 1, "gap_mm": None, "prosthesis": False},
        ]},
        {"file": "dir/knee.dcm", "hips": [{"side": "left", "grade": 0, "prosthesis": False}]},
    ]
    board = score(truth, records)
    assert (board["films"], board["hips"], board["found"], board["graded"]) == (3, 4, 3, 3)
    assert board["accuracy"] == pytest.approx(1 / 4)  # b's left hip, not found, is wrong
    assert board["kappa"] == pytest.approx(
        qwk([(0, 2), (3, 3), (0, 1), (2, 0)])  # not found counts as class 0
    )
    assert (board["gap_mae_mm"], board["gap_n"]) == (pytest.approx(1.5), 1)
    assert (board["false_spur"], board["false_island"], board["phantom"]) == (1, 1, 1)
    assert board["prosthesis_frac"] == pytest.approx(2 / 3)


def test_score_counts_ho_free_hips_found_but_not_graded() -> None:
    """An HO-free hip found and withheld (a spur seen where there is none, with no femur to
    grade it against) is not a false II-IV call, nor may it pass unseen: it is counted apart.
    A withheld hip that has heterotopic bone, or an HO-free hip not found, is not."""
    truth = {"a.dcm": {"hips": [
        {"side": "right", "grade": 0, "gap_mm": None, "prosthesis": False},
        {"side": "left", "grade": 3, "gap_mm": 6.0, "prosthesis": False},
    ]}, "b.dcm": {"hips": [
        {"side": "right", "grade": 0, "gap_mm": None, "prosthesis": False},
    ]}}
    withheld = {"grade": None, "gap_mm": None, "prosthesis": False}
    records = [{"file": "a.dcm", "hips": [
        {"side": "right", **withheld}, {"side": "left", **withheld},
    ]}, {"file": "b.dcm", "hips": []}]
    board = score(truth, records)
    assert (board["found"], board["graded"]) == (2, 0)
    assert (board["false_spur"], board["false_island"], board["withheld_free"]) == (0, 0, 1)
    labels = {"r.dcm": {"hips": [
        {"side": "right", "image_half": "left", "centre_rc_px": [50.0, 50.0],
         "radius_px": 10.0, "prosthesis": False, "ho": "none"},
    ]}}
    got = [{"file": "r.dcm", "hips": [
        {"side": "right", "image_side": "left", "center_px": [50.0, 50.0], **withheld},
    ]}]
    assert score(labels, got)["withheld_free"] == 1


def test_score_centre_error_is_the_median_in_mm_over_hips_found() -> None:
    """A labels set (centres and a spacing) gives the median centre error of the hips found,
    in mm at the labels' spacing; a hip not found, or a truth set with no centres, gives none."""
    hip = {"image_half": "left", "radius_px": 40.0, "prosthesis": False, "ho": "none"}
    labels = {
        "a.dcm": {"spacing_mm": 0.5, "hips": [
            {**hip, "side": "right", "centre_rc_px": [100.0, 100.0]},
        ]},
        "b.dcm": {"spacing_mm": 0.2, "hips": [
            {**hip, "side": "right", "centre_rc_px": [100.0, 100.0]},
            {**hip, "side": "left", "image_half": "right", "centre_rc_px": [100.0, 500.0]},
        ]},
        "c.dcm": {"spacing_mm": 1.0, "hips": [
            {**hip, "side": "right", "centre_rc_px": [100.0, 100.0]},
        ]},
    }
    got = {"grade": 0, "prosthesis": False, "image_side": "left"}
    records = [
        {"file": "a.dcm", "hips": [{**got, "side": "right", "center_px": [106.0, 108.0]}]},
        {"file": "b.dcm", "hips": [
            {**got, "side": "right", "center_px": [100.0, 130.0]},
            {**got, "side": "left", "image_side": "right", "center_px": [100.0, 500.0]},
        ]},
        {"file": "c.dcm", "hips": [{**got, "side": "right", "center_px": [100.0, 200.0]}]},
    ]
    board = score(labels, records)
    assert board["found"] == 3  # c's hip lies 100 px off, beyond its 40 px radius
    assert board["centre_mm"] == pytest.approx(5.0)  # median of 5.0, 6.0 and 0.0 mm
    truth = {"t.dcm": {"hips": [{"side": "right", "grade": 0, "prosthesis": False}]}}
    assert score(truth, [{"file": "t.dcm", "hips": [{**got, "side": "right"}]}])[
        "centre_mm"] is None


def test_score_labels_have_no_class_figures() -> None:
    labels = {"r.dcm": {"hips": [
        {"side": "right", "image_half": "left", "centre_rc_px": [50.0, 50.0],
         "radius_px": 10.0, "prosthesis": False, "ho": "none", "brooker": 0},
    ]}}
    records = [{"file": "r.dcm", "hips": [
        {"side": "right", "image_side": "left", "center_px": [52.0, 55.0], "grade": 4,
         "gap_mm": 0.0, "prosthesis": False},
    ]}]
    board = score(labels, records)
    assert (board["found"], board["false_spur"], board["phantom"]) == (1, 1, 0)
    assert board["accuracy"] is None
    assert board["kappa"] is None


def test_held_out_grades_each_film_with_its_own_folds_judges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate.py --held-out: every film of a set is graded once, with the judges of the fold
    folds.json puts it in; a film in no fold stops the run (the shipped judges saw it)."""
    import validate

    films = tmp_path / "films"
    films.mkdir()
    dicom = b"\0" * 128 + b"DICM"  # what discovery looks for (by content, not by name)
    for name in ("a.dcm", "b.dcm", "c.dcm"):
        (films / name).write_bytes(dicom)
    (films / "truth.json").write_text("{}")  # not a film
    held = tmp_path / "held"
    held.mkdir()
    (held / "folds.json").write_text(json.dumps({"hybrid": {"a.dcm": 1, "b.dcm": 0, "c.dcm": 1}}))
    calls = []

    def fake_grade_cli(paths, workers, out, judges=None, *, strict=False):  # type: ignore[no-untyped-def]
        calls.append(([p.name for p in paths], judges.name, strict))
        return [{"file": str(p)} for p in paths]

    monkeypatch.setattr(validate, "grade_cli", fake_grade_cli)
    records = validate.grade_held_out(films, held, "hybrid", 2, tmp_path / "out")
    assert sorted(calls) == [(["a.dcm", "c.dcm"], "fold1", True), (["b.dcm"], "fold0", True)]
    assert sorted(Path(r["file"]).name for r in records) == ["a.dcm", "b.dcm", "c.dcm"]
    (films / "d.dcm").write_bytes(dicom)
    with pytest.raises(SystemExit, match="in no fold"):
        validate.grade_held_out(films, held, "hybrid", 2, tmp_path / "out")


def test_moved_hips_counts_every_way_a_hips_result_can_differ() -> None:
    """``validate.py --scales``: a hip moved is one whose class differs, one graded in one run
    and not in the other, or one found in one run only; films are matched by file name (the
    two runs may read them from other folders) and hips by patient side."""
    base = [
        {"file": "/a/f.dcm", "hips": [{"side": "right", "grade": 0}, {"side": "left", "grade": 2}]},
        {"file": "/a/g.dcm", "hips": [{"side": "right", "grade": None}]},
    ]
    same = [
        {"file": "/b/f.dcm", "hips": [{"side": "left", "grade": 2}, {"side": "right", "grade": 0}]},
        {"file": "/b/g.dcm", "hips": [{"side": "right", "grade": None}]},
    ]
    assert moved_hips(base, same) == 0
    other = [
        {"file": "/b/f.dcm", "hips": [{"side": "right", "grade": 4}]},  # left lost, right IV
        {"file": "/b/g.dcm", "hips": [{"side": "right", "grade": 0}]},  # graded now
    ]
    assert moved_hips(base, other) == 3
    assert moved_hips(base, [{"file": "f.dcm", "status": "error", "hips": []}]) == 3
