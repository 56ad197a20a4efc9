"""A film padded to a fixed plate size ((0028,0120) Pixel Padding Value) grades as the same film
exported without its border, its positions given on the stored pixels (brooker.padding)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from conftest import ROOT, assert_analysed_again_alike, assert_overlay_marks_where_the_record_says
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian
from typer.testing import CliRunner

from brooker import overlay as ov
from brooker.burned_text import find_text_lines
from brooker.cli import app
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.errors import ImageTooSmallError
from brooker.grid import QUARTER_CLOCKWISE, ROWS_REVERSED, GridTransform
from brooker.image_io import load_image
from brooker.models import GradingResult, Radiograph, SpacingSource
from brooker.padding import padding_mask, uniform_border_box, unpadded_box
from brooker.pipeline import grade_path, load_calibrated
from brooker.upright import turned

#: Bundled AP pelvis films whose hips both grade with a gap and fragments.
FILM = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"
MONO1 = ROOT / "sample_images" / "pelvis_3_vs_2_mono1.dcm"
KNEE = ROOT / "sample_images" / "knee_negative.dcm"
#: Two native heads, to estimate the spacing from.
NATIVE = ROOT / "sample_images" / "pelvis_0_vs_3.dcm"
PPV = "(0028,0120) Pixel Padding Value"

#: A border of another width on each side (top, bottom, left, right), stored pixels: a film
#: and its border do not share the analysis grid's blocks unless the border is cut off.
BORDER = ((101, 37), (170, 59))


def _padded(
    src: Path,
    dst: Path,
    *,
    value: int = 0,
    border: tuple[tuple[int, int], tuple[int, int]] = BORDER,
    declare: tuple[tuple[int, str, Any], ...] | None = None,
    turn: tuple[GridTransform, tuple[str, str]] | None = None,
    signed: bool = False,
    drop: tuple[str, ...] = (),
) -> Path:
    """``src`` with a border of the stored ``value``, declared as Pixel Padding Value (or as
    ``declare`` says), as native pixels; stored turned by ``turn``'s transform, its Patient
    Orientation saying so, before the border is added; without the elements ``drop`` names."""
    ds = pydicom.dcmread(src)
    pixels = ds.pixel_array.astype(np.int32)
    if signed:
        pixels -= 2048
    if turn is not None:
        t, orientation = turn
        pixels = t.apply(pixels)
        if t.transpose and "PixelSpacing" in ds:
            ds.PixelSpacing = list(ds.PixelSpacing)[::-1]
        ds.PatientOrientation = list(orientation)
    for keyword in drop:
        if keyword in ds:
            delattr(ds, keyword)
    pixels = np.pad(pixels, border, constant_values=value)
    ds.PixelRepresentation = int(signed)
    ds.PixelData = pixels.astype(np.int16 if signed else np.uint16).tobytes()
    ds.Rows, ds.Columns = pixels.shape
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for tag, vr, v in declare if declare is not None else ((0x00280120, "US", value),):
        ds.add_new(tag, vr, v)
    ds.save_as(dst)
    return dst


def _inside(rows: int, cols: int) -> tuple[int, int, int, int]:
    """The box of a ``rows`` x ``cols`` film inside :data:`BORDER`."""
    (top, _), (left, _) = BORDER
    return (top, left, top + rows, left + cols)


def _shifted(a: tuple[float, float], b: tuple[float, float], offset: tuple[int, int]) -> bool:
    return b == pytest.approx((a[0] + offset[0], a[1] + offset[1]), abs=1e-6)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample films, and copies of them padded, each loaded and graded (with overlays)."""
    tmp = tmp_path_factory.mktemp("padded")
    out: dict[str, Any] = {}

    def grade(name: str, path: Path) -> None:
        out[name] = (load_radiograph(path), grade_path(path, out_dir=tmp, overlay_name=name))

    grade("film", FILM)
    grade("padded", _padded(FILM, tmp / "padded.dcm"))
    grade("mono1", MONO1)
    # MONOCHROME1 padded with its stored 0: once inverted, the brightest grey of the film
    grade("mono1_padded", _padded(MONO1, tmp / "mono1_padded.dcm", value=0))
    # the same border that no element declares (an export padded without saying so)
    grade("bare", _padded(FILM, tmp / "bare.dcm", declare=()))
    return out


def _assert_same_hips(a: GradingResult, b: GradingResult, offset: tuple[int, int]) -> None:
    """``b`` grades every hip as ``a``, each position moved by ``offset``."""
    assert b.status is a.status
    assert b.caveats == a.caveats
    assert len(a.hips) == len(b.hips) == 2
    for ha, hb in zip(a.hips, b.hips, strict=True):
        rec_a, rec_b = ha.to_record(), hb.to_record()
        for key in ("side", "image_side", "grade", "gap_mm", "prosthesis", "caveats"):
            assert rec_b[key] == rec_a[key], key
        assert _shifted(ha.center_px, hb.center_px, offset)
        assert (hb.gap is None) is (ha.gap is None)
        if ha.gap is not None and hb.gap is not None:
            assert _shifted(ha.gap.pelvic_point_px, hb.gap.pelvic_point_px, offset)
            assert _shifted(ha.gap.femoral_point_px, hb.gap.femoral_point_px, offset)
        assert len(hb.fragments) == len(ha.fragments)
        for fa, fb in zip(ha.fragments, hb.fragments, strict=True):
            assert _shifted(fa.centroid_px, fb.centroid_px, offset)
            r0, c0, r1, c1 = fa.bbox_px
            dr, dc = offset
            assert fb.bbox_px == (r0 + dr, c0 + dc, r1 + dr, c1 + dc)
            np.testing.assert_array_equal(fb.mask, fa.mask)
        assert hb.search_region == ha.search_region
        # the bodies' edges (the overlay's) moved with the film
        assert ha.body_outlines
        assert [o.body for o in hb.body_outlines] == [o.body for o in ha.body_outlines]
        for oa, ob in zip(ha.body_outlines, hb.body_outlines, strict=True):
            pairs = zip(oa.points_px, ob.points_px, strict=True)
            assert all(_shifted(p, q, offset) for p, q in pairs)


@pytest.mark.parametrize(
    ("name", "plain"), [("padded", "film"), ("mono1_padded", "mono1"), ("bare", "film")]
)
def test_a_padded_film_grades_as_the_film_without_its_border(
    graded: dict[str, Any], name: str, plain: str
) -> None:
    """Before, the border was read as part of the film: the hips were sought on other pixels
    of the analysis grid (a 50 mm border read this sample's left hip I instead of II), and a
    MONOCHROME1 film's border, its brightest grey once inverted, was taken for the film's
    brightest metal level. A border no element declares was read as part of the film (the
    real films padded so, undeclared: a class IV on a total hip, two more false islands)."""
    (rad_a, a), (rad_b, b) = graded[plain], graded[name]
    rows, cols = rad_a.pixels.shape
    assert rad_b.unpadded_px == _inside(rows, cols)
    assert rad_b.padding_declared is (name != "bare")
    assert rad_b.pixels.shape == (rows + sum(BORDER[0]), cols + sum(BORDER[1]))
    assert a.status.value == "ok"
    # a test of every kind of position (the MONOCHROME1 sample's hips read 0 and I)
    assert any(h.gap is not None for h in a.hips) is (plain == "film")
    assert any(h.fragments for h in a.hips)
    _assert_same_hips(a, b, (BORDER[0][0], BORDER[1][0]))
    # the record's image size is the stored film's, border and all
    assert b.image_shape_px == rad_b.pixels.shape


def test_the_overlay_of_a_padded_film_draws_on_the_stored_film(graded: dict[str, Any]) -> None:
    rad, result = graded["padded"]
    assert_overlay_marks_where_the_record_says(rad, result)


def test_a_padded_radiograph_loaded_beforehand_is_analysed_inside_its_border_too(
    graded: dict[str, Any],
) -> None:
    assert_analysed_again_alike(*graded["padded"])


#: How the sample is stored turned (tests/test_upright.py): the pixels' transform, the
#: orientation that says so.
TURNS = {
    "upside_down": (ROWS_REVERSED, ("L", "H")),
    "clockwise": (QUARTER_CLOCKWISE, ("H", "L")),
}


@pytest.mark.parametrize("name", list(TURNS))
def test_a_padded_film_stored_turned_grades_as_the_upright_film(
    graded: dict[str, Any], tmp_path: Path, name: str
) -> None:
    """The border is cut off the stored pixels first, then the film turned upright: a border
    wider at the top than at the bottom is wider at the bottom once turned."""
    (rad_a, a) = graded["film"]
    t = TURNS[name][0]
    path = _padded(FILM, tmp_path / "turned.dcm", turn=TURNS[name])
    rad = load_radiograph(path)
    assert rad.to_upright == t.inverse
    res = grade_path(path)
    shape = rad_a.pixels.shape
    assert rad.unpadded_px == _inside(*t.shape(shape))
    (top, _), (left, _) = BORDER
    assert len(res.hips) == len(a.hips) == 2
    for ha, hb in zip(a.hips, res.hips, strict=True):
        for key in ("side", "grade", "gap_mm", "prosthesis"):
            assert hb.to_record()[key] == ha.to_record()[key], key
        assert _shifted(t.point(ha.center_px, shape), hb.center_px, (top, left))
        assert ha.gap is not None
        assert hb.gap is not None
        assert _shifted(t.point(ha.gap.pelvic_point_px, shape), hb.gap.pelvic_point_px, (top, left))
        for fa, fb in zip(ha.fragments, hb.fragments, strict=True):
            r0, c0, r1, c1 = t.box(fa.bbox_px, shape)
            assert fb.bbox_px == (r0 + top, c0 + left, r1 + top, c1 + left)


def test_the_hip_candidates_of_an_ungradable_padded_film_are_on_the_stored_pixels(
    tmp_path: Path,
) -> None:
    """A film with no hip gives the detector's best guesses: on the stored pixels too."""
    plain = grade_path(KNEE)
    padded = grade_path(_padded(KNEE, tmp_path / "knee.dcm"))
    assert plain.status.value == padded.status.value == "ungradable"
    assert plain.hip_candidates
    assert len(padded.hip_candidates) == len(plain.hip_candidates)
    for ca, cb in zip(plain.hip_candidates, padded.hip_candidates, strict=True):
        assert cb.score == ca.score
        assert _shifted(ca.center_px, cb.center_px, (BORDER[0][0], BORDER[1][0]))


def test_the_calibration_searches_a_padded_film_inside_its_border(tmp_path: Path) -> None:
    """The native heads' estimate of the spacing read the border too: 25 % off."""
    config = AnalysisConfig(estimate_spacing=True)
    tags = ("PixelSpacing", "ImagerPixelSpacing", "EstimatedRadiographicMagnificationFactor")
    plain = _padded(NATIVE, tmp_path / "plain.dcm", declare=(), border=((0, 0), (0, 0)), drop=tags)
    padded = _padded(NATIVE, tmp_path / "padded.dcm", drop=tags)
    a, b = load_calibrated(plain, config), load_calibrated(padded, config)
    assert a.spacing is not None
    assert b.spacing is not None
    assert a.spacing.source is b.spacing.source is SpacingSource.ANATOMICAL_ESTIMATE
    assert b.spacing.row_mm == pytest.approx(a.spacing.row_mm, rel=1e-9)
    assert b.unpadded_px is not None
    rows, cols = a.pixels.shape
    assert b.pixels.shape == (rows + sum(BORDER[0]), cols + sum(BORDER[1]))
    assert len(b.spacing.calibration) == len(a.spacing.calibration) > 0
    for oa, ob in zip(a.spacing.calibration, b.spacing.calibration, strict=True):
        assert _shifted(oa.center_px, ob.center_px, (BORDER[0][0], BORDER[1][0]))


def test_an_image_too_small_inside_its_border_is_refused_saying_so(tmp_path: Path) -> None:
    path = _padded(FILM, tmp_path / "f.dcm")
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.copy()
    pixels[:] = 0
    # 20 rows of 0.25 mm left inside the border (not one value along any line)
    pixels[500:520, 600:700] = np.random.default_rng(0).integers(900, 1100, (20, 100))
    ds.PixelData = pixels.tobytes()
    ds.save_as(path)
    res = grade_path(path)
    assert res.status.value == "error"
    assert res.error is not None
    assert res.error.code == "image_too_small"
    assert "inside its border of (0028,0120) Pixel Padding Value (rows 500-519, columns " in (
        res.error.message
    )
    assert "is 20 x 100 pixels" in res.error.message
    # and so does a calibration's search, which runs first
    for option in ({"ball_mm": 25.0}, {"head_mm": 28.0}):
        with pytest.raises(ImageTooSmallError, match=r"border of \(0028,0120\) .* 20 x 100 pix"):
            load_calibrated(path, AnalysisConfig(**option))
    # and a border no element declares
    ds.PixelData = pixels.tobytes()
    del ds[0x00280120]
    ds.save_as(path)
    res = grade_path(path)
    assert res.error is not None
    assert res.error.code == "image_too_small"
    assert (
        "inside its border of one value (no Pixel Padding Value declares it) (rows 500-519, "
        in res.error.message
    )


def test_a_declared_border_around_a_films_own_border_goes_with_it(tmp_path: Path) -> None:
    """A film with its own strip of one level (a real export's 4 columns of 17), padded with a
    declared 0: cut down to where the film exported without the padding is, so both grade
    alike (the real films re-exported so read one more false class IV while the strip stayed)."""
    ds = pydicom.dcmread(FILM)
    own = ds.pixel_array.copy()
    own[-4:, :] = 17  # on three sides, each its own width
    own[:, -3:] = 17
    own[:, :6] = 17
    ds.PixelData = own.tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    plain = tmp_path / "own.dcm"
    ds.save_as(plain)
    unpadded = load_radiograph(plain)
    rows, cols = unpadded.pixels.shape
    assert unpadded.unpadded_px == (0, 6, rows - 4, cols - 3)
    rad = load_radiograph(_padded(plain, tmp_path / "padded.dcm"))
    top, left = BORDER[0][0], BORDER[1][0]
    assert rad.unpadded_px == (top, left + 6, top + rows - 4, left + cols - 3)
    assert rad.padding_declared
    assert rad.border_by == ("padding", "one value")
    assert unpadded.border_by == ("one value",)
    # and says so: both borders are named, where it said the declared one alone
    got = CliRunner().invoke(app, ["inspect", str(tmp_path / "padded.dcm"), "--json"])
    assert json.loads(got.output)["border_by"] == ["padding", "one value"]
    table = CliRunner().invoke(app, ["inspect", str(tmp_path / "padded.dcm")])
    assert f"a border of {PPV} and, inside it, one value: rows {top}-" in " ".join(
        table.output.split()
    )


def test_a_too_small_image_inside_both_borders_names_both(tmp_path: Path) -> None:
    ds = pydicom.dcmread(FILM)
    film = np.full((60, 200), 17, np.uint16)  # the film's own strip of 17 all round
    film[20:40, 50:150] = np.arange(2000).reshape(20, 100) + 100
    ds.PixelData = film.tobytes()
    ds.Rows, ds.Columns = film.shape
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(tmp_path / "own.dcm")
    path = _padded(tmp_path / "own.dcm", tmp_path / "padded.dcm")
    res = grade_path(path)
    assert res.error is not None
    assert res.error.code == "image_too_small"
    top, left = BORDER[0][0], BORDER[1][0]
    assert (
        f"the image inside its border of {PPV} and, inside it, one value (rows {top + 20}-"
        f"{top + 39}, columns {left + 50}-{left + 149}) is 20 x 100 pixels"
    ) in res.error.message


@pytest.mark.parametrize(
    ("declare", "signed", "value", "expect"),
    [
        # a range: every stored value from 0 to 9 is padding, and the border holds 5
        (((0x00280120, "US", 0), (0x00280121, "US", 9)), False, 5, "inside"),
        # written the other way round
        (((0x00280120, "US", 9), (0x00280121, "US", 0)), False, 5, "inside"),
        # signed pixels, the value written US: its 16 bits read as signed (-2000)
        (((0x00280120, "US", 65536 - 2000),), True, -2000, "inside"),
        (((0x00280120, "SS", -2000),), True, -2000, "inside"),
        # a value the border does not hold: found as a border of one value, undeclared
        (((0x00280120, "US", 4095),), False, 0, "undeclared"),
        # no element at all
        ((), False, 0, "undeclared"),
        ((), True, -2000, "undeclared"),
    ],
)
def test_the_loader_finds_the_border_the_header_declares(
    tmp_path: Path, declare: Any, signed: bool, value: int, expect: str
) -> None:
    path = _padded(FILM, tmp_path / "f.dcm", value=value, declare=declare, signed=signed)
    rad = load_radiograph(path)
    plain = load_radiograph(FILM)
    assert rad.unpadded_px == _inside(*plain.pixels.shape)
    assert rad.padding_declared is (expect == "inside")
    assert not any("Padding" in c for c in rad.caveats)


@pytest.mark.parametrize(
    ("declare", "label", "why"),
    [
        (((0x00280120, "US", [0, 1]),), PPV, "has 2 values, expected one"),
        # an infinite DS or FD overflowed an int: the film was refused (internal error)
        (((0x00280120, "DS", "inf"),), PPV, "is not an integer"),
        (((0x00280120, "FD", float("inf")),), PPV, "is not an integer"),
        # half a grey level is no stored level: it was read as 0
        (((0x00280120, "DS", "0.5"),), PPV, "is not an integer"),
        (
            ((0x00280120, "US", 0), (0x00280121, "US", [1, 2])),
            "(0028,0121) Pixel Padding Range Limit",
            "has 2 values, expected one",
        ),
    ],
)
def test_an_unreadable_padding_value_is_ignored_with_a_caveat(
    tmp_path: Path, declare: Any, label: str, why: str
) -> None:
    """Not a reason to refuse the film: its border is found as a border no element declares
    (whole rows and columns of one value)."""
    path = _padded(FILM, tmp_path / "f.dcm", declare=declare)
    rad = load_radiograph(path)
    assert rad.unpadded_px == _inside(*load_radiograph(FILM).pixels.shape)
    assert not rad.padding_declared
    (said,) = [c for c in rad.caveats if "Padding" in c]
    assert said.startswith(f"{label} {why}: ignored")


@pytest.mark.parametrize(
    ("declare", "said"),
    [(None, PPV), ((), "one value (no Pixel Padding Value declares it)")],
)
def test_inspect_says_where_the_border_is(tmp_path: Path, declare: Any, said: str) -> None:
    path = _padded(FILM, tmp_path / "f.dcm", declare=declare)
    rows, cols = load_radiograph(FILM).pixels.shape
    r0, c0, r1, c1 = _inside(rows, cols)
    runner = CliRunner()
    got = runner.invoke(app, ["inspect", str(path), "--json"])
    assert got.exit_code == 0, got.output
    rec = json.loads(got.output)
    assert rec["unpadded_px"] == [r0, c0, r1, c1]
    assert rec["padding_declared"] is (declare is None)
    assert rec["border_by"] == (["padding"] if declare is None else ["one value"])
    table = runner.invoke(app, ["inspect", str(path)])
    assert (
        f"a border of {said}: rows {r0}-{r1 - 1}, columns {c0}-{c1 - 1} inside it are analysed"
        in " ".join(table.output.split())
    )
    plain = json.loads(runner.invoke(app, ["inspect", str(FILM), "--json"]).output)
    assert plain["unpadded_px"] is plain["padding_declared"] is plain["border_by"] is None


def test_the_box_inside_a_border_of_one_value() -> None:
    film = np.arange(1, 121, dtype=np.int32).reshape(10, 12)
    assert uniform_border_box(film) is None  # no border
    assert uniform_border_box(np.full((4, 5), 7)) is None  # one value throughout: as stored
    # a border of 0 on the top and of 255 on the sides, as two exports padded it in turn:
    # the top rows are not one value until the sides are taken
    padded = np.pad(np.pad(film, ((2, 0), (0, 0))), ((0, 0), (3, 1)), constant_values=255)
    assert uniform_border_box(padded) == (2, 3, 12, 15)
    # one border inside another on the same sides (a film's own white strip, padded black)
    nested = np.pad(np.pad(film, 2, constant_values=4095), 3)
    assert uniform_border_box(nested) == (5, 5, 15, 17)
    # each line is one value, whatever the value: a film's own edge row of 5 goes too
    film[0] = 5
    assert uniform_border_box(film) == (1, 0, 10, 12)
    # a line of one pixel is always one value: not taken
    assert uniform_border_box(np.array([[10, 20, 30, 40, 50]])) is None
    assert uniform_border_box(np.array([[1], [2], [3]])) is None


def test_a_padding_flag_needs_a_box() -> None:
    with pytest.raises(ValueError, match="padding_declared or border_by without unpadded_px"):
        replace(load_radiograph(FILM), padding_declared=True)
    with pytest.raises(ValueError, match="padding_declared or border_by without unpadded_px"):
        replace(load_radiograph(FILM), border_by=("one value",))
    boxed = replace(load_radiograph(FILM), unpadded_px=(1, 1, 50, 50))
    for by, declared in [(("padding",), False), (("one value",), True), (("shutter",), False)]:
        with pytest.raises(ValueError, match="is not a border the loader reads, or contradicts"):
            replace(boxed, border_by=by, padding_declared=declared)
    # a radiograph built in memory that does not say: padding_declared says
    from brooker.padding import border_of

    assert border_of(boxed) == ("one value",)
    assert border_of(replace(boxed, padding_declared=True)) == ("padding",)
    assert border_of(load_radiograph(FILM)) == ()


def test_a_colour_dicom_film_with_a_border_is_analysed_inside_it(tmp_path: Path) -> None:
    """Grey content saved as RGB has no Pixel Padding Value: a border of one grey is cut."""
    ds = pydicom.dcmread(FILM)
    grey = ds.pixel_array.astype(np.float64)
    grey = np.rint(255 * (grey - grey.min()) / np.ptp(grey)).astype(np.uint8)
    boxed = np.pad(grey, ((12, 0), (0, 30)))
    ds.PhotometricInterpretation = "RGB"
    ds.SamplesPerPixel, ds.PlanarConfiguration = 3, 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(np.stack([boxed] * 3, axis=-1)).tobytes()
    ds.Rows, ds.Columns = boxed.shape
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for keyword in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept"):
        if keyword in ds:
            delattr(ds, keyword)
    path = tmp_path / "rgb.dcm"
    ds.save_as(path)
    rad = load_radiograph(path)
    assert rad.unpadded_px == (12, 0, 12 + grey.shape[0], grey.shape[1])
    assert not rad.padding_declared


@pytest.mark.parametrize("mode", ["L", "I;16", "RGB"])
def test_an_image_file_letterboxed_is_analysed_inside_its_box(tmp_path: Path, mode: str) -> None:
    """A PNG declares no padding: a letterbox of one grey level is found as a border of one
    value, grey or colour."""
    rng = np.random.default_rng(3)
    film = rng.integers(1, 200, size=(60, 80)).astype(np.uint8)
    boxed = np.pad(film, ((0, 0), (25, 25)))  # black bars left and right
    path = tmp_path / "f.png"
    if mode == "RGB":
        Image.fromarray(np.stack([boxed] * 3, axis=-1), mode="RGB").save(path)
    else:
        Image.fromarray(boxed.astype(np.uint16) * 257 if mode == "I;16" else boxed).save(path)
    rad = load_image(path, pixel_spacing=(0.5, 0.5))
    assert rad.unpadded_px == (0, 25, 60, 105)
    assert not rad.padding_declared
    if mode == "L":  # an image file has no DICOM tags to name
        table = CliRunner().invoke(app, ["inspect", str(path), "--pixel-spacing", "0.5,0.5"])
        assert "a border of one value: rows 0-59, columns 25-104" in " ".join(
            table.output.split()
        )


def test_a_letterbox_saved_as_jpeg_is_cut_up_to_its_ringing(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    film = rng.integers(60, 200, size=(64, 80)).astype(np.uint8)
    path = tmp_path / "f.jpg"
    Image.fromarray(np.pad(film, ((0, 0), (40, 40)))).save(path, quality=90)
    box = load_image(path, pixel_spacing=(0.5, 0.5)).unpadded_px
    assert box is not None
    assert 32 <= box[1] <= 40
    assert 120 <= box[3] <= 128


def test_the_box_inside_the_border() -> None:
    pad = np.ones((5, 7), bool)
    assert unpadded_box(pad) is None  # nothing but padding: read as stored
    assert unpadded_box(~pad) is None  # no padding
    pad[2, 3] = False
    assert unpadded_box(pad) == (2, 3, 3, 4)
    # padding inside the field, or a side without a border, stays
    pad = np.zeros((5, 7), bool)
    pad[:, :2] = True
    pad[2, 4] = True
    assert unpadded_box(pad) == (0, 2, 5, 7)
    values = np.array([[0, 3, 9, 10]])
    np.testing.assert_array_equal(padding_mask(values, 0), [[True, False, False, False]])
    np.testing.assert_array_equal(padding_mask(values, 9, 0), [[True, True, True, False]])


def test_the_overlay_window_of_a_padded_film_is_read_inside_its_border(
    graded: dict[str, Any],
) -> None:
    """A MONOCHROME1 film padded with its stored 0 has the border as its brightest grey once
    inverted: the percentile window read over the border darkened the whole film."""
    (rad_a, _), (rad_b, _) = graded["mono1"], graded["mono1_padded"]
    assert rad_a.display is None  # the percentile window, not the file's
    r0, c0, r1, c1 = rad_b.unpadded_px
    inside = rad_b.pixels[r0:r1, c0:c1]
    np.testing.assert_array_equal(
        ov._display_mapper(rad_b)(inside), ov._display_mapper(rad_a)(rad_a.pixels)
    )


def _faint_label_film() -> np.ndarray:
    """A film of 8-bit range (air at the left, soft tissue, a bone) with a faint ID printed
    in its bottom margin, a fifth of the range over its background: found in the margin only
    (tests/test_burned_text.py)."""
    from test_burned_text import _faint_film, _glyph_row

    img = _faint_film()
    _glyph_row(img, "W08541301", 660, 120, 10, 150.0)
    return img


def test_faint_text_in_the_margin_of_a_padded_film_is_blanked() -> None:
    """A border moves the field's margins away from the film's edges, where the faint text of
    a label is sought: the film inside the border is searched too. Before, the ID stayed
    readable on the overlay of the padded film."""
    img = _faint_label_film()
    (line,) = find_text_lines(img)
    border = ((60, 40), (150, 20))
    padded = np.pad(img, border, constant_values=0.0)
    assert find_text_lines(padded) == ()  # the whole film's search alone misses it
    plain = load_radiograph(FILM)
    rows, cols = img.shape
    rad = Radiograph(
        pixels=padded,
        spacing=plain.spacing,
        patient_right_on=plain.patient_right_on,
        laterality_source="assumed",
        meta=plain.meta,
        unpadded_px=(60, 150, 60 + rows, 150 + cols),
    )
    (found,) = ov.film_text(rad)
    r0, c0, r1, c1 = line.bbox_px
    assert found.bbox_px == (r0 + 60, c0 + 150, r1 + 60, c1 + 150)


@pytest.mark.parametrize("declare", [None, ()])
def test_the_text_of_a_padded_film_is_the_text_of_the_film(tmp_path: Path, declare: Any) -> None:
    """The lines of text burned into a sample (its side markers and labels) are found on it
    padded, declared or not, each moved by the border, and nothing more (text on the border
    would be inside the box: the image inside the border is the only search)."""
    plain = ov.film_text(load_radiograph(MONO1))
    assert plain
    rad = load_radiograph(_padded(MONO1, tmp_path / "f.dcm", value=0, declare=declare))
    top, left = BORDER[0][0], BORDER[1][0]
    assert [t.bbox_px for t in ov.film_text(rad)] == [
        (r0 + top, c0 + left, r1 + top, c1 + left) for r0, c0, r1, c1 in (t.bbox_px for t in plain)
    ]


@pytest.mark.parametrize("name", list(TURNS))
def test_turning_a_padded_radiograph_turns_its_box(tmp_path: Path, name: str) -> None:
    """The pipeline cuts the border off before it turns a film upright; a padded radiograph
    turned by hand (brooker.upright.turned) keeps its box on its own pixels all the same."""
    rad = load_radiograph(_padded(FILM, tmp_path / "f.dcm"))
    t = TURNS[name][0]
    assert rad.unpadded_px is not None
    box = turned(rad, t).unpadded_px
    assert box == t.box(rad.unpadded_px, rad.pixels.shape)
    r0, c0, r1, c1 = box
    inside = t.apply(rad.pixels)[r0:r1, c0:c1]
    plain = load_radiograph(FILM).pixels
    np.testing.assert_array_equal(inside, t.apply(plain))
