"""A film stored upside down ((0020,0020) Patient Orientation L\\H, R\\H) is graded as the same
film stored upright, its positions given on the stored pixels (brooker.upright)."""

from __future__ import annotations

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
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.models import GradingResult, HipResult, ImageSide
from brooker.phantom_dicom import DicomVariant, write_dicom
from brooker.pipeline import grade_path, load_calibrated
from brooker.upright import result_rows_reversed, rows_reversed

#: A phantom pelvis (bundled sample) whose hips both grade with a gap and fragments.
FILM = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"


def _stored_upside_down(src: Path, dst: Path, orientation: tuple[str, str] = ("L", "H")) -> Path:
    """``src`` with its rows reversed and Patient Orientation saying so, as native pixels."""
    ds = pydicom.dcmread(src)
    ds.PixelData = np.ascontiguousarray(ds.pixel_array[::-1]).tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PatientOrientation = list(orientation)
    if ds.get("ViewPosition") == "AP" and orientation[0] == "L":
        # an AP film's rows reversed, the columns kept, is a PA film turned a half (an AP film
        # turned a half is R\H): so its View Position agrees with the sides
        ds.ViewPosition = "PA"
    ds.save_as(dst)
    return dst


def _row(r: float, rows: int) -> float:
    return round(rows - 1 - r, 1)


@pytest.mark.parametrize(
    ("orientation", "upside_down", "right_on"),
    [
        (("L", "H"), True, ImageSide.LEFT),
        (("R", "H"), True, ImageSide.RIGHT),
        (("L", "F"), False, ImageSide.LEFT),
        (("R", "F"), False, ImageSide.RIGHT),
        (("L", "FH"), False, ImageSide.LEFT),  # says both: not turned
        (("L", "HR"), True, ImageSide.LEFT),  # oblique, towards the head
        (("L", "SHOE"), False, ImageSide.LEFT),  # not spelt in A P R L H F
    ],
)
def test_the_loader_marks_a_film_stored_upside_down(
    tmp_path: Path, orientation: tuple[str, str], upside_down: bool, right_on: ImageSide
) -> None:
    src = np.arange(64 * 80, dtype=np.uint16).reshape(64, 80) % 4096
    variant = DicomVariant(patient_orientation=orientation, view_position=None)
    rad = load_radiograph(write_dicom(src, tmp_path / "o.dcm", variant))
    assert rad.upside_down is upside_down
    assert rad.patient_right_on is right_on  # the sides come from the columns, as before
    np.testing.assert_array_equal(rad.pixels, src)  # kept as stored
    note = [c for c in rad.caveats if "stored upside down" in c]
    assert len(note) == int(upside_down)
    if upside_down:
        assert note[0].startswith(f"(0020,0020) Patient Orientation {orientation[0]}\\")
        assert "analysed turned upright" in note[0]
        assert "position is given on the film as stored" in note[0]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample film and its upside-down copy, each loaded and graded (with overlays)."""
    tmp = tmp_path_factory.mktemp("upside_down")
    down = _stored_upside_down(FILM, tmp / "down.dcm")
    return {
        "up": (load_radiograph(FILM), grade_path(FILM, out_dir=tmp, overlay_name="up")),
        "down": (load_radiograph(down), grade_path(down, out_dir=tmp, overlay_name="down")),
    }


def test_an_upside_down_film_grades_as_the_upright_one_on_its_stored_rows(
    graded: dict[str, Any],
) -> None:
    """Before, such a film was analysed upside down: 'no hip joint found'."""
    (rad_up, up), (_, down) = graded["up"], graded["down"]
    rows = rad_up.pixels.shape[0]
    assert up.status.value == "ok"
    assert len(up.hips) == 2
    assert all(h.gap is not None and h.fragments for h in up.hips)  # a test of every position
    rec_up, rec_down = up.to_record(), down.to_record()
    assert rec_down["status"] == rec_up["status"]
    assert [c for c in rec_down["caveats"] if "upside down" not in c] == rec_up["caveats"]
    assert len(rec_down["hips"]) == len(rec_up["hips"])
    for a, b in zip(rec_up["hips"], rec_down["hips"], strict=True):
        for key in ("side", "image_side", "grade", "gap_mm", "prosthesis", "caveats"):
            assert b[key] == a[key], key
        assert b["center_px"] == [_row(a["center_px"][0], rows), a["center_px"][1]]
        assert b["gap_points_px"] == [[_row(r, rows), c] for r, c in a["gap_points_px"]]
        assert [f["centroid_px"] for f in b["fragments"]] == [
            [_row(r, rows), c] for r, c in (f["centroid_px"] for f in a["fragments"])
        ]
    for hu, hd in zip(up.hips, down.hips, strict=True):
        for fu, fd in zip(hu.fragments, hd.fragments, strict=True):
            r0, c0, r1, c1 = fu.bbox_px
            assert fd.bbox_px == (rows - r1, c0, rows - r0, c1)
            np.testing.assert_array_equal(fd.mask, fu.mask[::-1])
    # the calibrated spacing (no objects here) and the sides are the file's either way
    assert rec_down["spacing"] == rec_up["spacing"]
    assert rec_down["laterality_source"] == rec_up["laterality_source"]


def test_the_overlay_draws_on_the_stored_film(graded: dict[str, Any]) -> None:
    """The overlay shows the film as stored, each mark where the record puts it."""
    assert_overlay_marks_where_the_record_says(*graded["down"])


def test_the_region_searched_turns_over_with_the_film(graded: dict[str, Any]) -> None:
    (rad_up, up), (_, down) = graded["up"], graded["down"]
    rows = rad_up.pixels.shape[0]
    sp = up.spacing
    assert sp is not None
    for hu, hd in zip(up.hips, down.hips, strict=True):
        reach_up = ov._search_reach(hu, 60.0, sp.row_mm, sp.col_mm)
        reach_down = ov._search_reach(hd, 60.0, sp.row_mm, sp.col_mm)
        assert reach_up
        mapped = [(rows - 1 - r, c) for r, c in reach_up][::-1]
        np.testing.assert_allclose(reach_down, mapped, atol=1e-6)


def test_a_radiograph_loaded_beforehand_is_analysed_upright_too(
    graded: dict[str, Any],
) -> None:
    assert_analysed_again_alike(*graded["down"])


def test_reversing_the_rows_twice_gives_the_same_film_and_result(
    graded: dict[str, Any],
) -> None:
    rad, result = graded["down"]
    rows = rad.pixels.shape[0]
    twice = rows_reversed(rows_reversed(rad))
    assert twice.upside_down is rad.upside_down
    np.testing.assert_array_equal(twice.pixels, rad.pixels)
    back: GradingResult = result_rows_reversed(result_rows_reversed(result, rows), rows)
    hips: tuple[HipResult, ...] = back.hips
    assert [h.to_record() for h in hips] == [h.to_record() for h in result.hips]
    assert [h.search_region for h in hips] == [h.search_region for h in result.hips]
    assert back.spacing == result.spacing
    assert back.hip_candidates == result.hip_candidates


def test_a_film_stored_upside_down_calibrates_as_the_upright_one(tmp_path: Path) -> None:
    """``--head-mm`` (the prosthetic heads' search, like the hip search, reads a film with the
    patient's head at the top): the upside-down copy was calibrated on its stored rows and
    came out 0.02 % off the upright film's spacing, from heads fitted a pixel apart. It is
    calibrated turned upright now, its heads given on the stored rows."""
    down = _stored_upside_down(FILM, tmp_path / "down.dcm")
    config = AnalysisConfig(head_mm=28.0)
    up_rad, down_rad = load_calibrated(FILM, config), load_calibrated(down, config)
    assert up_rad.spacing is not None
    assert down_rad.spacing is not None
    assert down_rad.upside_down
    assert down_rad.pixels.shape == up_rad.pixels.shape
    assert down_rad.spacing.row_mm == up_rad.spacing.row_mm
    rows = up_rad.pixels.shape[0]
    up_heads = [o.center_px for o in up_rad.spacing.calibration]
    down_heads = [o.center_px for o in down_rad.spacing.calibration]
    assert len(up_heads) == len(down_heads) == 2
    for (r_up, c_up), (r_down, c_down) in zip(up_heads, down_heads, strict=True):
        assert r_down == pytest.approx(rows - 1 - r_up, abs=1e-9)
        assert c_down == pytest.approx(c_up, abs=1e-9)


@pytest.mark.parametrize(
    ("orientation", "view", "disagree"),
    [
        (("L", "F"), "AP", False),
        (("R", "F"), "AP", True),
        (("R", "H"), "AP", False),  # an AP film turned a half: its rows run to the right
        (("L", "H"), "AP", True),  # turned over top to bottom: a mirror image
        (("R", "F"), "PA", False),
        (("L", "H"), "PA", False),
        (("R", "H"), "PA", True),
    ],
)
def test_the_sides_are_checked_against_the_view_as_the_film_is_turned(
    tmp_path: Path, orientation: tuple[str, str], view: str, disagree: bool
) -> None:
    """An AP film turned a half is stored ``R\\H``: it got "Patient Orientation R\\H and View
    Position AP disagree about the sides", while ``L\\H`` with AP (a mirror image, as a PA
    film turned a half) got no word."""
    src = np.arange(64 * 80, dtype=np.uint16).reshape(64, 80) % 4096
    variant = DicomVariant(patient_orientation=orientation, view_position=view)
    rad = load_radiograph(write_dicom(src, tmp_path / "o.dcm", variant))
    said = [c for c in rad.caveats if "disagree about the sides" in c]
    assert len(said) == int(disagree)
    assert rad.patient_right_on is (ImageSide.LEFT if orientation[0] == "L" else ImageSide.RIGHT)


def test_an_orientation_both_quarter_turned_and_upside_down_is_not_called_both() -> None:
    """``H\\LH`` (rows towards the head, columns towards the left and the head: no film's)
    got both "stored upside down" and "stored turned a quarter"."""
    from brooker.dicom_io import _quarter_turn, _to_upright, _upside_down
    from brooker.grid import ROWS_REVERSED

    caveats: list[str] = []
    assert _upside_down(("H", "LH"), caveats)
    assert _quarter_turn(("H", "LH"), caveats) is None
    assert _to_upright(("H", "LH"), []) == ROWS_REVERSED
    assert _quarter_turn(("H", "L"), caveats) is not None
    assert sum("turned a quarter" in c for c in caveats) == 1


def test_inspect_says_whether_the_film_is_stored_upside_down(tmp_path: Path) -> None:
    """``inspect --json`` had no such field: only the caveat's text said it."""
    import json

    from typer.testing import CliRunner

    from brooker.cli import app

    runner = CliRunner()
    down = _stored_upside_down(FILM, tmp_path / "down.dcm")
    for path, expected in ((FILM, False), (down, True)):
        res = runner.invoke(app, ["inspect", str(path), "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["upside_down"] is expected
        table = runner.invoke(app, ["inspect", str(path)], env={"COLUMNS": "200"})
        assert table.exit_code == 0, table.output
        assert ("graded turned upright" in table.stdout) is expected
