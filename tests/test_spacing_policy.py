"""The spacing policy of brooker.dicom_io, as a table: attributes in, (row, col, source) out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from brooker import errors
from brooker.config import DEFAULT_SPACING_UNCERTAINTY, AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.models import SpacingSource
from brooker.phantom_dicom import DicomVariant, write_dicom
from brooker.pipeline import analyze, load_calibrated

S = SpacingSource
PS, IPS, MAG = 0x00280030, 0x00181164, 0x00181114

# (id, variant fields, user pixel_spacing, user magnification,
#  expected (row_mm, col_mm, source) or None, caveat fragments expected)
CASES: list[tuple[str, dict[str, Any], Any, Any, Any, tuple[str, ...]]] = [
    ("nothing", {}, None, None, None, ("no physical pixel spacing",)),
    (
        "calibrated by type",
        {"pixel_spacing_mm": (0.15, 0.15), "calibration_type": "GEOMETRY"},
        None,
        None,
        (0.15, 0.15, S.PIXEL_SPACING),
        (),
    ),
    (
        "calibrated by differing from IPS",
        {"pixel_spacing_mm": (0.16, 0.16), "imager_pixel_spacing_mm": (0.2, 0.2)},
        None,
        None,
        (0.16, 0.16, S.PIXEL_SPACING),
        (),
    ),
    (
        "calibrated wins over IPS/magnification",
        {
            "pixel_spacing_mm": (0.16, 0.16),
            "imager_pixel_spacing_mm": (0.2, 0.2),
            "magnification": 1.15,
        },
        None,
        None,
        (0.16, 0.16, S.PIXEL_SPACING),
        (),
    ),
    (
        "IPS / file magnification",
        {"imager_pixel_spacing_mm": (0.23, 0.23), "magnification": 1.15},
        None,
        None,
        (0.2, 0.2, S.IMAGER_PIXEL_SPACING_MAGNIFICATION),
        (),
    ),
    (
        "IPS / user magnification beats the file's",
        {"imager_pixel_spacing_mm": (0.24, 0.24), "magnification": 1.15},
        None,
        1.2,
        (0.2, 0.2, S.IMAGER_PIXEL_SPACING_MAGNIFICATION),
        ("replaces (0018,1114)",),
    ),
    (
        "IPS / user magnification",
        {"imager_pixel_spacing_mm": (0.24, 0.24)},
        None,
        1.2,
        (0.2, 0.2, S.IMAGER_PIXEL_SPACING_MAGNIFICATION),
        (),
    ),
    (
        "IPS alone: detector plane",
        {"imager_pixel_spacing_mm": (0.2, 0.2)},
        None,
        None,
        (0.2, 0.2, S.IMAGER_PIXEL_SPACING),
        ("at the detector",),
    ),
    (
        "PS equal to IPS without type: detector plane",
        {"pixel_spacing_mm": (0.2, 0.2), "imager_pixel_spacing_mm": (0.2, 0.2)},
        None,
        None,
        (0.2, 0.2, S.IMAGER_PIXEL_SPACING),
        ("treated as detector-plane", "at the detector"),
    ),
    (
        "PS equal to IPS with magnification",
        {
            "pixel_spacing_mm": (0.2, 0.2),
            "imager_pixel_spacing_mm": (0.2, 0.2),
            "magnification": 1.25,
        },
        None,
        None,
        (0.16, 0.16, S.IMAGER_PIXEL_SPACING_MAGNIFICATION),
        ("treated as detector-plane",),
    ),
    (
        "PS alone without type: calibration unknown",
        {"pixel_spacing_mm": (0.14, 0.14)},
        None,
        None,
        (0.14, 0.14, S.PIXEL_SPACING_UNCALIBRATED),
        ("unknown",),
    ),
    (
        "anisotropic kept apart (row first)",
        {"pixel_spacing_mm": (0.1, 0.2), "calibration_type": "FIDUCIAL"},
        None,
        None,
        (0.1, 0.2, S.PIXEL_SPACING),
        (),
    ),
    (
        "anisotropic IPS / magnification",
        {"imager_pixel_spacing_mm": (0.22, 0.11), "magnification": 1.1},
        None,
        None,
        (0.2, 0.1, S.IMAGER_PIXEL_SPACING_MAGNIFICATION),
        (),
    ),
    (
        "user override wins over everything",
        {"pixel_spacing_mm": (0.15, 0.15), "calibration_type": "GEOMETRY"},
        (0.3, 0.25),
        None,
        (0.3, 0.25, S.USER),
        ("the user's pixel spacing 0.3 x 0.25 mm replaced the file's own 0.15 x 0.15 mm "
         "(pixel_spacing)",),
    ),
    (
        "user override, user magnification ignored",
        {"imager_pixel_spacing_mm": (0.2, 0.2)},
        (0.3, 0.3),
        1.2,
        (0.3, 0.3, S.USER),
        ("magnification was ignored", "replaced the file's own 0.2 x 0.2 mm "
         "(imager_pixel_spacing)"),
    ),
    (
        "user magnification ignored for calibrated PS",
        {"pixel_spacing_mm": (0.15, 0.15), "calibration_type": "GEOMETRY"},
        None,
        1.2,
        (0.15, 0.15, S.PIXEL_SPACING),
        ("magnification 1.2 was ignored",),
    ),
    (
        "user magnification ignored for uncalibrated PS",
        {"pixel_spacing_mm": (0.15, 0.15)},
        None,
        1.2,
        (0.15, 0.15, S.PIXEL_SPACING_UNCALIBRATED),
        ("magnification 1.2 was ignored",),
    ),
    (
        "user override rescues an invalid tag",
        {"extra": ((PS, "DS", ["0", "0"]),)},
        (0.2, 0.2),
        None,
        (0.2, 0.2, S.USER),
        ("ignored invalid (0028,0030)",),
    ),
    (
        "invalid PS falls back to valid IPS",
        {"imager_pixel_spacing_mm": (0.2, 0.2), "extra": ((PS, "DS", ["0", "0"]),)},
        None,
        None,
        (0.2, 0.2, S.IMAGER_PIXEL_SPACING),
        ("ignored invalid (0028,0030)",),
    ),
    (
        "invalid magnification falls back to IPS alone",
        {"imager_pixel_spacing_mm": (0.2, 0.2), "extra": ((MAG, "DS", "0"),)},
        None,
        None,
        (0.2, 0.2, S.IMAGER_PIXEL_SPACING),
        ("ignored invalid (0018,1114)",),
    ),
    (
        # (0018,1114) has VM 1: with two factors 1.1 and 1.3 which one holds is unknown (18 %
        # apart), so neither is used
        "two magnification factors fall back to IPS alone",
        {"imager_pixel_spacing_mm": (0.22, 0.22), "extra": ((MAG, "DS", ["1.1", "1.3"]),)},
        None,
        None,
        (0.22, 0.22, S.IMAGER_PIXEL_SPACING),
        ("ignored invalid (0018,1114)", "holds 2 values"),
    ),
    (
        "invalid IPS, PS alone is uncalibrated",
        {"pixel_spacing_mm": (0.15, 0.15), "extra": ((IPS, "DS", ["-1", "-1"]),)},
        None,
        None,
        (0.15, 0.15, S.PIXEL_SPACING_UNCALIBRATED),
        ("ignored invalid (0018,1164)",),
    ),
]

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("PS zero", {"extra": ((PS, "DS", ["0", "0"]),)}, r"\(0028,0030\) Pixel Spacing"),
    ("PS negative", {"extra": ((PS, "DS", ["-0.1", "0.1"]),)}, r"\(0028,0030\)"),
    ("PS NaN", {"extra": ((PS, "DS", ["nan", "0.1"]),)}, r"\(0028,0030\)"),
    ("PS inf", {"extra": ((PS, "DS", ["inf", "inf"]),)}, r"\(0028,0030\)"),
    ("PS one value", {"extra": ((PS, "DS", "0.1"),)}, "two values"),
    ("PS three values", {"extra": ((PS, "DS", ["0.1", "0.1", "0.1"]),)}, "two values"),
    ("IPS zero", {"extra": ((IPS, "DS", ["0", "0"]),)}, r"\(0018,1164\) Imager Pixel Spacing"),
    ("IPS negative", {"extra": ((IPS, "DS", ["-0.2", "-0.2"]),)}, r"\(0018,1164\)"),
    ("magnification alone invalid", {"extra": ((MAG, "DS", "-1"),)}, r"\(0018,1114\)"),
]


def _load(tmp_path: Path, fields: dict[str, Any], user: Any = None, mag: Any = None) -> Any:
    px = np.zeros((8, 10), np.uint16)
    path = write_dicom(px, tmp_path / "s.dcm", DicomVariant(**fields))
    return load_radiograph(path, pixel_spacing=user, magnification=mag)


@pytest.mark.parametrize(
    ("fields", "user", "mag", "expected", "caveats"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_spacing_policy(
    tmp_path: Path,
    fields: dict[str, Any],
    user: Any,
    mag: Any,
    expected: Any,
    caveats: tuple[str, ...],
) -> None:
    rad = _load(tmp_path, fields, user, mag)
    if expected is None:
        assert rad.spacing is None
    else:
        row, col, source = expected
        assert rad.spacing is not None
        assert rad.spacing.row_mm == pytest.approx(row, rel=1e-9)
        assert rad.spacing.col_mm == pytest.approx(col, rel=1e-9)
        assert rad.spacing.source is source
        assert rad.spacing.relative_uncertainty == DEFAULT_SPACING_UNCERTAINTY[source]
    joined = " | ".join(rad.caveats)
    for fragment in caveats:
        assert fragment in joined


@pytest.mark.parametrize(
    ("fields", "user", "source"),
    [
        ({"pixel_spacing_mm": (0.15, 0.15), "calibration_type": "GEOMETRY"}, None, S.PIXEL_SPACING),
        ({"imager_pixel_spacing_mm": (0.2, 0.2)}, None, S.IMAGER_PIXEL_SPACING),
        ({}, (0.14, 0.14), S.USER),
    ],
)
def test_the_configs_spacing_uncertainty_is_what_grading_uses(
    tmp_path: Path, fields: dict[str, Any], user: Any, source: SpacingSource
) -> None:
    # AnalysisConfig.spacing_uncertainty feeds the borderline flag: the loader (no config)
    # gives the defaults, and load_calibrated replaces them with the config's for the source
    path = write_dicom(np.zeros((8, 10), np.uint16), tmp_path / "s.dcm", DicomVariant(**fields))
    mine = {**DEFAULT_SPACING_UNCERTAINTY, source: 0.25}
    cfg = AnalysisConfig(spacing_uncertainty=mine, pixel_spacing=user)
    rad = load_calibrated(path, cfg)
    assert rad.spacing is not None
    assert rad.spacing.source is source
    assert rad.spacing.relative_uncertainty == 0.25
    default = load_calibrated(path, AnalysisConfig(pixel_spacing=user))
    assert default.spacing is not None
    assert default.spacing.relative_uncertainty == DEFAULT_SPACING_UNCERTAINTY[source]


@pytest.mark.parametrize(("fields", "match"), [pytest.param(*c[1:], id=c[0]) for c in INVALID])
def test_invalid_spacing_is_refused_naming_the_tag(
    tmp_path: Path, fields: dict[str, Any], match: str
) -> None:
    with pytest.raises(errors.InvalidSpacingError, match=match) as info:
        _load(tmp_path, fields)
    assert "\n" not in info.value.message


def test_non_numeric_spacing_is_invalid(tmp_path: Path) -> None:
    px = np.zeros((8, 10), np.uint16)
    path = write_dicom(px, tmp_path / "s.dcm", DicomVariant(pixel_spacing_mm=(9.5, 9.5)))
    data = path.read_bytes()
    assert data.count(b"9.5\\9.5 ") == 1
    path.write_bytes(data.replace(b"9.5\\9.5 ", b"abc\\0.1 "))  # same length, not a number
    with pytest.raises(errors.InvalidSpacingError, match=r"\(0028,0030\).*not numeric"):
        load_radiograph(path)


@pytest.mark.parametrize(
    ("fields", "user", "said"),
    [
        ({"pixel_spacing_mm": (0.15, 0.15)}, (0.1505, 0.1495), False),  # within 1 %: the same
        ({"pixel_spacing_mm": (0.15, 0.15)}, (0.15, 0.153), True),  # one axis 2 % off
        ({"extra": ((PS, "DS", ["0", "0"]),)}, (0.2, 0.2), False),  # an invalid tag: nothing
        ({}, (0.2, 0.2), False),  # no spacing tag at all
        # the file's own spacing is its Imager Pixel Spacing over its magnification: 0.125
        ({"imager_pixel_spacing_mm": (0.15, 0.15), "magnification": 1.2}, (0.125, 0.125), False),
        ({"imager_pixel_spacing_mm": (0.15, 0.15), "magnification": 1.2}, (0.15, 0.15), True),
    ],
)
def test_a_user_spacing_says_what_it_replaced_only_when_it_differs(
    tmp_path: Path, fields: dict[str, Any], user: Any, said: bool
) -> None:
    """--pixel-spacing over a film with its own valid spacing says which it replaced (a
    constant option over a folder of calibrated films changed every gap with no word of it);
    one that agrees with the file's, within 1 %, says nothing."""
    rad = _load(tmp_path, fields, user)
    assert rad.spacing is not None
    assert rad.spacing.source is S.USER
    assert any("replaced the file's" in c for c in rad.caveats) is said


@pytest.mark.parametrize("mag", [0.0, -1.2, float("nan"), float("inf")])
def test_invalid_user_magnification(tmp_path: Path, mag: float) -> None:
    with pytest.raises(errors.InvalidSpacingError, match="magnification"):
        _load(tmp_path, {"imager_pixel_spacing_mm": (0.2, 0.2)}, mag=mag)


@pytest.mark.parametrize("mag", [np.float32(1.25), np.float64(1.25), np.int64(2)])
def test_a_numpy_user_magnification_is_a_number(tmp_path: Path, mag: Any) -> None:
    rad = _load(tmp_path, {"imager_pixel_spacing_mm": (0.25, 0.25)}, mag=mag)
    assert rad.spacing is not None
    assert rad.spacing.row_mm == pytest.approx(0.25 / float(mag))
    assert type(rad.spacing.row_mm) is float


def test_a_bool_user_magnification_is_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidSpacingError, match="magnification"):
        _load(tmp_path, {"imager_pixel_spacing_mm": (0.2, 0.2)}, mag=True)


@pytest.mark.parametrize("user", [(0.0, 0.1), (-0.1, 0.1), (float("nan"), 0.1), (0.1,)])
def test_invalid_user_spacing(tmp_path: Path, user: Any) -> None:
    with pytest.raises(errors.InvalidSpacingError, match="given by the user"):
        _load(tmp_path, {}, user=user)


def test_missing_spacing_still_loads_for_inspect(tmp_path: Path) -> None:
    rad = _load(tmp_path, {})
    assert rad.spacing is None
    assert rad.pixels.shape == (8, 10)


NOMINAL_SCANNED = 0x00182010


@pytest.mark.parametrize("also", [{}, {"pixel_spacing_mm": (0.15, 0.15)}], ids=["alone", "beside"])
def test_nominal_scanned_pixel_spacing_is_named_and_not_used(
    tmp_path: Path, also: dict[str, Any]
) -> None:
    """A digitised film's (0018,2010) Nominal Scanned Pixel Spacing is the scanner's pitch on
    the film, not a spacing at the patient: alone, the film still has no spacing, and its caveat
    and grading error name the tag and say it was not used (they named only the two tags it
    lacks); beside a spacing source it changes nothing."""
    fields = {**also, "extra": ((NOMINAL_SCANNED, "DS", ["0.08", "0.1"]),)}
    path = write_dicom(np.zeros((64, 80), np.uint16), tmp_path / "n.dcm", DicomVariant(**fields))
    rad = load_radiograph(path)
    said = "(0018,2010) Nominal Scanned Pixel Spacing 0.08 x 0.1 mm was found but not used"
    if also:
        assert rad.spacing is not None
        assert rad.spacing.source is S.PIXEL_SPACING_UNCALIBRATED
        assert not any("2010" in c for c in rad.caveats)
        return
    assert rad.spacing is None
    assert any(c.startswith("no physical pixel spacing") and said in c for c in rad.caveats)
    with pytest.raises(errors.MissingSpacingError) as info:
        analyze(path)
    assert said in info.value.message
    assert "scale to the patient" in info.value.message


# ------------------------------------------------------------------ a radiograph loaded beforehand

#: Options given to analyze with a radiograph loaded beforehand: (pixel_spacing, magnification)
LATER_OPTIONS = [((0.3, 0.25), None), (None, 1.2), ((0.3, 0.3), 1.25)]


def _outcome(load: Any) -> Any:
    """What loading gives: (spacing, caveats, spacing inputs), or the error's class and message."""
    try:
        rad = load()
    except errors.BrookerError as err:
        return type(err), err.message
    return rad.spacing, rad.caveats, rad.spacing_inputs


@pytest.mark.parametrize(
    ("later_spacing", "later_mag"), LATER_OPTIONS, ids=["spacing", "magnification", "both"]
)
@pytest.mark.parametrize(("fields", "user", "mag"), [pytest.param(*c[1:4], id=c[0]) for c in CASES])
def test_the_configs_options_give_a_loaded_radiograph_what_they_give_its_file(
    tmp_path: Path,
    fields: dict[str, Any],
    user: Any,
    mag: Any,
    later_spacing: Any,
    later_mag: Any,
) -> None:
    # loaded with the table's options, then given the config's: the same spacing, source,
    # uncertainty and spacing caveats (none of the loader's left stale) as loading the path
    # with both, the config's winning where both give one
    path = write_dicom(np.zeros((8, 10), np.uint16), tmp_path / "s.dcm", DicomVariant(**fields))
    later = AnalysisConfig(pixel_spacing=later_spacing, magnification=later_mag)
    merged = AnalysisConfig(
        pixel_spacing=later_spacing if later_spacing is not None else user,
        magnification=later_mag if later_mag is not None else mag,
    )
    loaded = load_radiograph(path, pixel_spacing=user, magnification=mag)
    from_path = _outcome(lambda: load_calibrated(path, merged))
    from_loaded = _outcome(lambda: load_calibrated(loaded, later))
    assert from_loaded == from_path
