"""A film stored turned a quarter ((0020,0020) Patient Orientation H\\L, F\\R, H\\R, F\\L) is
graded as the same film stored upright, its positions given on the stored pixels
(brooker.upright); the upside-down films of tests/test_upside_down.py are the half-turn case."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from conftest import (
    ROOT,
    assert_analysed_again_alike,
    assert_overlay_marks_where_the_record_says,
)
from pydicom.uid import ExplicitVRLittleEndian

from brooker import overlay as ov
from brooker import pipeline
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.grid import (
    IDENTITY,
    QUARTER_ANTICLOCKWISE,
    QUARTER_CLOCKWISE,
    ROWS_REVERSED,
    GridTransform,
)
from brooker.models import (
    CalibrationObject,
    GradingResult,
    HipCandidate,
    ImageSide,
    PixelSpacing,
    Radiograph,
    SpacingSource,
    Status,
)
from brooker.phantom_dicom import DicomVariant, write_dicom
from brooker.pipeline import grade_path, load_calibrated
from brooker.upright import result_turned, stored_as, turned, upright_view

#: A phantom pelvis (bundled sample, AP, ``L\\F``) whose hips both grade with a gap and
#: fragments.
FILM = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"

#: How the AP sample is stored turned a quarter: the pixels' transform, the orientation.
#: Turned clockwise, its head goes to the last column and its right (the image's left) to
#: the top: ``H\\L``; anticlockwise, ``F\\R``.
TURNS = {
    "clockwise": (QUARTER_CLOCKWISE, ("H", "L")),
    "anticlockwise": (QUARTER_ANTICLOCKWISE, ("F", "R")),
}


def _stored_turned(src: Path, dst: Path, t: GridTransform, orientation: tuple[str, str]) -> Path:
    """``src`` with its pixels transformed by ``t`` and Patient Orientation saying so, as
    native pixels."""
    ds = pydicom.dcmread(src)
    pixels = np.ascontiguousarray(t.apply(ds.pixel_array))
    ds.PixelData = pixels.tobytes()
    ds.Rows, ds.Columns = pixels.shape
    if t.transpose and "PixelSpacing" in ds:
        ds.PixelSpacing = list(ds.PixelSpacing)[::-1]
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PatientOrientation = list(orientation)
    ds.save_as(dst)
    return dst


@pytest.mark.parametrize(
    ("orientation", "to_upright", "right_on", "stored", "end"),
    [
        # an AP film turned a quarter: its sides those of an AP film
        (("H", "L"), QUARTER_ANTICLOCKWISE, ImageSide.LEFT, "quarter_turned_clockwise", "last"),
        (("F", "R"), QUARTER_CLOCKWISE, ImageSide.LEFT, "quarter_turned_anticlockwise", "first"),
        # a PA film turned a quarter (or an AP film transposed)
        (("H", "R"), QUARTER_ANTICLOCKWISE, ImageSide.RIGHT, "quarter_turned_clockwise", "last"),
        (("F", "L"), QUARTER_CLOCKWISE, ImageSide.RIGHT, "quarter_turned_anticlockwise", "first"),
        (("HA", "L"), QUARTER_ANTICLOCKWISE, ImageSide.LEFT, "quarter_turned_clockwise", "last"),
    ],
)
def test_the_loader_marks_a_film_stored_turned_a_quarter(
    tmp_path: Path,
    orientation: tuple[str, str],
    to_upright: GridTransform,
    right_on: ImageSide,
    stored: str,
    end: str,
) -> None:
    """Before, such a film was read as stored, its sides from View Position or assumed, and a
    caveat asked for it turned upright. Now it is turned upright by a rotation, its sides
    those of the film turned upright (the patient's right from the column direction)."""
    src = np.arange(64 * 80, dtype=np.uint16).reshape(64, 80) % 4096
    variant = DicomVariant(patient_orientation=orientation, view_position=None)
    rad = load_radiograph(write_dicom(src, tmp_path / "o.dcm", variant))
    assert rad.to_upright == to_upright
    assert rad.quarter_turned
    assert not rad.upside_down
    assert stored_as(rad) == stored
    assert rad.patient_right_on is right_on
    assert rad.laterality_source == "patient_orientation"
    np.testing.assert_array_equal(rad.pixels, src)  # kept as stored
    said = [c for c in rad.caveats if "Patient Orientation" in c]
    assert len(said) == 1
    assert f"stored turned a quarter (the patient's head towards its {end} column)" in said[0]
    assert "it is analysed turned upright" in said[0]
    assert "position is given on the film as stored" in said[0]
    assert "turn the film upright" not in said[0]
    view = upright_view(rad)
    assert view.pixels.shape == (80, 64)
    assert np.shares_memory(view.pixels, rad.pixels)  # a view, no copy
    assert view.to_upright == IDENTITY


@pytest.mark.parametrize(
    ("orientation", "view", "disagree"),
    [
        (("H", "L"), "AP", False),  # an AP film turned clockwise
        (("F", "R"), "AP", False),  # anticlockwise
        (("H", "R"), "AP", True),  # turned and mirrored
        (("H", "R"), "PA", False),
        (("F", "R"), "PA", True),
    ],
)
def test_the_sides_of_a_quarter_turned_film_are_checked_against_the_view(
    tmp_path: Path, orientation: tuple[str, str], view: str, disagree: bool
) -> None:
    src = np.arange(64 * 80, dtype=np.uint16).reshape(64, 80) % 4096
    variant = DicomVariant(patient_orientation=orientation, view_position=view)
    rad = load_radiograph(write_dicom(src, tmp_path / "o.dcm", variant))
    said = [c for c in rad.caveats if "disagree about the sides" in c]
    assert len(said) == int(disagree)
    assert rad.laterality_source == "patient_orientation"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample film and its copies stored turned a quarter each way, each loaded and
    graded (with overlays)."""
    tmp = tmp_path_factory.mktemp("quarter")
    out: dict[str, Any] = {
        "up": (load_radiograph(FILM), grade_path(FILM, out_dir=tmp, overlay_name="up"))
    }
    for name, (t, orientation) in TURNS.items():
        path = _stored_turned(FILM, tmp / f"{name}.dcm", t, orientation)
        out[name] = (load_radiograph(path), grade_path(path, out_dir=tmp, overlay_name=name))
    return out


def _close(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a == pytest.approx(b, abs=1e-6)


@pytest.mark.parametrize("name", list(TURNS))
def test_a_quarter_turned_film_grades_as_the_upright_one_on_its_stored_pixels(
    graded: dict[str, Any], name: str
) -> None:
    """Before, such a film was read as stored, its hips sought upright: not graded."""
    (rad_up, up), (rad, res) = graded["up"], graded[name]
    t = TURNS[name][0]
    shape = rad_up.pixels.shape
    assert rad.pixels.shape == t.shape(shape)
    assert up.status.value == "ok"
    assert len(up.hips) == 2
    assert all(h.gap is not None and h.fragments for h in up.hips)  # a test of every position
    assert res.status is up.status
    assert [c for c in res.caveats if "turned a quarter" not in c] == list(up.caveats)
    assert res.laterality_source == up.laterality_source == "patient_orientation"
    assert res.image_shape_px == rad.pixels.shape
    assert len(res.hips) == len(up.hips)
    for a, b in zip(up.hips, res.hips, strict=True):
        # the same hip, class, gap and side (image_side: of the film turned upright)
        for key in ("side", "image_side", "grade", "gap_mm", "prosthesis", "caveats"):
            assert b.to_record()[key] == a.to_record()[key], key
        assert _close(b.center_px, t.point(a.center_px, shape))
        assert a.gap is not None
        assert b.gap is not None
        assert _close(b.gap.pelvic_point_px, t.point(a.gap.pelvic_point_px, shape))
        assert _close(b.gap.femoral_point_px, t.point(a.gap.femoral_point_px, shape))
        assert len(b.fragments) == len(a.fragments)
        for fa, fb in zip(a.fragments, b.fragments, strict=True):
            assert _close(fb.centroid_px, t.point(fa.centroid_px, shape))
            assert fb.bbox_px == t.box(fa.bbox_px, shape)
            np.testing.assert_array_equal(fb.mask, t.apply(fa.mask))
            # the box covers the fragment's pixels on the stored film
            r0, c0, r1, c1 = fb.bbox_px
            assert fb.mask.shape == (r1 - r0, c1 - c0)
        # the bodies' edges (the overlay's) lie on the stored film as the upright one's turned
        assert a.body_outlines
        assert [o.body for o in b.body_outlines] == [o.body for o in a.body_outlines]
        for oa, ob in zip(a.body_outlines, b.body_outlines, strict=True):
            want = np.array([t.point(p, shape) for p in oa.points_px])
            np.testing.assert_allclose(np.array(ob.points_px), want, atol=1e-6)
    # the spacing (square pixels here) and the sides are the file's either way
    assert res.spacing == up.spacing


@pytest.mark.parametrize("name", list(TURNS))
def test_flipped_on_a_quarter_turned_film_names_the_halves_of_the_film_turned_upright(
    graded: dict[str, Any], name: str
) -> None:
    """``--flipped`` says the patient's right is on the image's right: on a film stored
    turned a quarter, the right of the film turned upright (its halves are those: the
    README's *How grading works*), so it swaps the sides as on the upright film."""
    (_, up), (rad, res) = graded["up"], graded[name]
    path = Path(rad.meta.path)
    flipped = pipeline.analyze(path, AnalysisConfig(flipped=True))
    up_flipped = pipeline.analyze(FILM, AnalysisConfig(flipped=True))
    assert flipped.laterality_source == "user"
    side = {h.image_side: h.patient_side.value for h in res.hips}
    side_flipped = {h.image_side: h.patient_side.value for h in flipped.hips}
    assert side_flipped == {half: ("left" if s == "right" else "right") for half, s in side.items()}
    assert side_flipped == {h.image_side: h.patient_side.value for h in up_flipped.hips}
    # the same hips, the classes following them
    assert {h.center_px: h.grade for h in flipped.hips} == {h.center_px: h.grade for h in res.hips}
    assert sorted(h.grade for h in up.hips) == sorted(h.grade for h in flipped.hips)


@pytest.mark.parametrize("name", list(TURNS))
def test_the_region_searched_turns_with_the_film(graded: dict[str, Any], name: str) -> None:
    """The region's angles (0 up, 90 lateral on the image) are turned with the film: its edge
    drawn on the stored film is the upright film's edge turned."""
    (rad_up, up), (_, res) = graded["up"], graded[name]
    t = TURNS[name][0]
    shape = rad_up.pixels.shape
    sp = up.spacing
    assert sp is not None
    for hu, hq in zip(up.hips, res.hips, strict=True):
        assert hq.search_region is not None
        assert hq.search_region != hu.search_region  # turned a quarter, not as it was
        reach_up = ov._search_reach(hu, 60.0, sp.row_mm, sp.col_mm)
        reach_q = ov._search_reach(hq, 60.0, sp.row_mm, sp.col_mm)
        assert reach_up
        mapped = np.array([t.point(p, shape) for p in reach_up])
        got = np.array(reach_q)
        # the same edge, walked either way round
        assert np.allclose(got, mapped, atol=1e-6) or np.allclose(got, mapped[::-1], atol=1e-6)


@pytest.mark.parametrize("name", list(TURNS))
def test_the_overlay_of_a_quarter_turned_film_draws_on_the_stored_film(
    graded: dict[str, Any], name: str
) -> None:
    """The overlay shows the film as stored, each mark where the record puts it, and each
    hip's label on the hip's own half (its lateral side: the top or the bottom)."""
    rad, result = graded[name]
    assert_overlay_marks_where_the_record_says(rad, result)
    rows = rad.pixels.shape[0]
    # the patient's right hip is the top one turned clockwise (H\L), the bottom one
    # anticlockwise (F\R)
    right = next(h for h in result.hips if h.patient_side.value == "right")
    assert (right.center_px[0] < rows / 2) is (name == "clockwise")


@pytest.mark.parametrize("name", list(TURNS))
def test_the_labels_of_a_quarter_turned_film_are_on_the_hips_halves(
    graded: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each hip's label (its side's letter, then its class) on the hip's own half: on the
    film as stored, the top or the bottom one. Placed by ``image_side`` (a half of the film
    turned upright) on the stored film's left or right and away from the joint, each label
    was drawn beside the other hip."""
    rad, result = graded[name]
    letters: list[tuple[str, float]] = []
    real = ov._Canvas.text

    def spy(canvas: Any, xy: tuple[float, float], text: str, *args: Any, **kw: Any) -> None:
        if text in ("R", "L"):
            letters.append((text, xy[1]))
        real(canvas, xy, text, *args, **kw)

    monkeypatch.setattr(ov._Canvas, "text", spy)
    ov._render(rad, result, 4096)  # 1:1
    rows = rad.pixels.shape[0]
    assert sorted(t for t, _ in letters) == ["L", "R"]
    for hip in result.hips:
        (y,) = [y for t, y in letters if t == hip.patient_side.letter]
        assert (y < rows / 2) is (hip.center_px[0] < rows / 2), hip.patient_side


def test_a_quarter_turned_radiograph_loaded_beforehand_is_analysed_upright_too(
    graded: dict[str, Any],
) -> None:
    assert_analysed_again_alike(*graded["clockwise"])


def test_the_analysis_reads_a_view_turned_upright_with_its_spacing_turned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Non-square pixels: the view the analysis reads has the stored columns' pitch as its
    rows'; its result comes back on the stored grid with the stored pitches."""
    pixels = np.zeros((30, 50), dtype=np.float32)
    rad = _radiograph(pixels, PixelSpacing(0.2, 0.3, SpacingSource.PIXEL_SPACING))
    rad = turned(rad, QUARTER_CLOCKWISE)  # stored turned clockwise: to_upright anticlockwise
    assert rad.to_upright == QUARTER_ANTICLOCKWISE
    seen: list[Radiograph] = []

    def upright(view: Radiograph, config: AnalysisConfig) -> GradingResult:
        seen.append(view)
        return GradingResult(
            file="x",
            status=Status.UNGRADABLE,
            version="0",
            spacing=view.spacing,
            hip_candidates=(HipCandidate((3.0, 40.0), 1.0, False),),
        )

    monkeypatch.setattr(pipeline, "_analyze_upright", upright)
    result = pipeline._analyze_loaded(rad, AnalysisConfig())
    (view,) = seen
    assert view.pixels.shape == (30, 50)
    assert np.shares_memory(view.pixels, rad.pixels)
    assert view.spacing is not None
    assert (view.spacing.row_mm, view.spacing.col_mm) == (0.2, 0.3)
    assert result.spacing is not None
    assert (result.spacing.row_mm, result.spacing.col_mm) == (0.3, 0.2)  # as stored
    # (3, 40) upright, top right: stored turned clockwise, 40 columns down, 3 from the right
    assert result.hip_candidates[0].center_px == (40.0, 26.0)


def _radiograph(pixels: np.ndarray, spacing: PixelSpacing) -> Radiograph:
    from brooker.models import RadiographMeta

    meta = RadiographMeta(
        path="x",
        sop_instance_uid=None,
        modality=None,
        photometric="MONOCHROME2",
        transfer_syntax_uid="",
        transfer_syntax_name="",
        decoder="",
        rows=pixels.shape[0],
        cols=pixels.shape[1],
        bits_allocated=16,
        bits_stored=16,
        pixel_representation=0,
    )
    return Radiograph(
        pixels=pixels,
        spacing=spacing,
        patient_right_on=ImageSide.LEFT,
        laterality_source="assumed",
        meta=meta,
    )


@pytest.mark.parametrize("t", [QUARTER_CLOCKWISE, QUARTER_ANTICLOCKWISE, GridTransform(True)])
def test_turning_moves_the_calibration_and_swaps_the_pitches(t: GridTransform) -> None:
    ball = CalibrationObject("calibration_ball", (5.0, 12.0), 20.0, 4.0, 0.01, aspect=1.5)
    spacing = PixelSpacing(0.2, 0.3, SpacingSource.CALIBRATION_BALL, 0.02, (ball,))
    rad = _radiograph(np.zeros((30, 50), dtype=np.float32), spacing)
    out = turned(rad, t)
    assert out.spacing is not None
    assert (out.spacing.row_mm, out.spacing.col_mm) == (0.3, 0.2)
    (moved,) = out.spacing.calibration
    assert moved.center_px == t.point((5.0, 12.0), (30, 50))
    assert moved.aspect == pytest.approx(1 / 1.5)
    # the same ball: its row pitch from the diameter is the new rows' pitch
    assert moved.row_mm == pytest.approx(out.spacing.row_mm * ball.row_mm / spacing.row_mm)
    back = turned(out, t.inverse)
    assert back.to_upright == IDENTITY
    assert back.spacing is not None
    (again,) = back.spacing.calibration
    assert again.center_px == ball.center_px
    assert again.diameter_px == pytest.approx(ball.diameter_px)
    result = GradingResult(file="x", status=Status.OK, version="0", spacing=spacing)
    twice = result_turned(result_turned(result, t, (30, 50)), t.inverse, t.shape((30, 50)))
    assert twice.spacing is not None
    assert twice.spacing.calibration[0].center_px == ball.center_px


@pytest.mark.parametrize("how", ["clockwise", "anticlockwise", "upside down"])
def test_estimate_spacing_finds_the_heads_of_a_turned_film(tmp_path: Path, how: str) -> None:
    """--estimate-spacing seeks the native heads with the hip search, which needs the head at
    the top; the heads it fits on a film stored turned (a quarter, or upside down: ``R\\H``)
    are the upright film's, given on the stored pixels."""
    film = ROOT / "sample_images" / "pelvis_0_vs_3.dcm"  # two native hips
    ds = pydicom.dcmread(film)
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "PixelSpacingCalibrationType"):
        if keyword in ds:
            delattr(ds, keyword)
    up = tmp_path / "up.dcm"
    ds.save_as(up)
    t, orientation = TURNS[how] if how in TURNS else (ROWS_REVERSED, ("R", "H"))
    stored = _stored_turned(up, tmp_path / "stored.dcm", t, orientation)
    cfg = AnalysisConfig(estimate_spacing=True)
    sp_up, sp_s = (load_calibrated(str(p), cfg).spacing for p in (up, stored))
    assert sp_up is not None
    assert sp_s is not None
    assert sp_up.calibration
    # fitted on the film turned upright: the same fit, given on the stored pixels
    pitches = (sp_up.col_mm, sp_up.row_mm) if t.transpose else (sp_up.row_mm, sp_up.col_mm)
    assert (sp_s.row_mm, sp_s.col_mm) == pitches
    assert len(sp_s.calibration) == len(sp_up.calibration)
    shape = (int(ds.Rows), int(ds.Columns))
    for a, b in zip(sp_up.calibration, sp_s.calibration, strict=True):
        assert b.center_px == pytest.approx(t.point(a.center_px, shape), abs=1e-9)


def test_a_quarter_turned_film_calibrates_as_the_upright_one(tmp_path: Path) -> None:
    """``--head-mm``: the prosthetic heads are sought on the film turned upright."""
    t, orientation = TURNS["anticlockwise"]
    quarter = _stored_turned(FILM, tmp_path / "quarter.dcm", t, orientation)
    config = AnalysisConfig(head_mm=28.0)
    up_rad, q_rad = load_calibrated(FILM, config), load_calibrated(quarter, config)
    assert up_rad.spacing is not None
    assert q_rad.spacing is not None
    assert q_rad.quarter_turned
    assert q_rad.spacing.row_mm == up_rad.spacing.row_mm
    shape = up_rad.pixels.shape
    up_heads = [o.center_px for o in up_rad.spacing.calibration]
    q_heads = [o.center_px for o in q_rad.spacing.calibration]
    assert len(up_heads) == len(q_heads) == 2
    for a, b in zip(up_heads, q_heads, strict=True):
        assert b == pytest.approx(t.point(a, shape), abs=1e-9)


def test_a_transposed_film_grades_the_same_classes_and_sides(tmp_path: Path) -> None:
    """``H\\R``: the AP sample turned a quarter and mirrored (a PA film turned a quarter),
    read turned upright as a mirror image of the sample: its classes and the patient's sides
    as the sample's, its hips where the sample's are, transposed (to within the mirror's
    own grading, a pixel or two)."""
    t = GridTransform(True, True, True)
    path = _stored_turned(FILM, tmp_path / "hr.dcm", t, ("H", "R"))
    up, res = grade_path(FILM), grade_path(path)
    assert res.status.value == "ok"
    by_side = {h.patient_side: h for h in res.hips}
    shape = load_radiograph(FILM).pixels.shape
    assert len(by_side) == len(up.hips) == 2
    for a in up.hips:
        b = by_side[a.patient_side]
        assert b.grade is a.grade
        assert b.image_side is a.image_side.opposite  # read as a mirror image
        assert math.dist(b.center_px, t.point(a.center_px, shape)) < 3.0


def test_inspect_says_how_the_film_is_stored(tmp_path: Path) -> None:
    """``inspect --json`` said only ``upside_down``; a quarter-turned film's caveat asked for
    it turned upright."""
    from typer.testing import CliRunner

    from brooker.cli import app

    runner = CliRunner()
    t, orientation = TURNS["clockwise"]
    quarter = _stored_turned(FILM, tmp_path / "quarter.dcm", t, orientation)
    for path, stored in ((FILM, "upright"), (quarter, "quarter_turned_clockwise")):
        res = runner.invoke(app, ["inspect", str(path), "--json"])
        assert res.exit_code == 0, res.output
        rec = json.loads(res.stdout)
        assert rec["stored"] == stored
        assert rec["upside_down"] is False
        table = runner.invoke(app, ["inspect", str(path)], env={"COLUMNS": "300"})
        assert table.exit_code == 0, table.output
        assert ("turned a quarter clockwise" in table.stdout) is (stored != "upright")
        assert ("left half of the film turned upright" in table.stdout) is (stored != "upright")
