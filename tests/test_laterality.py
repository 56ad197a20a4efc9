"""Which image half shows the patient's right, and how the loader knows (patient safety)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brooker.dicom_io import load_radiograph
from brooker.localization import sides_from_image_laterality
from brooker.models import HipJoint, HipSearch, ImageSide, PatientSide
from brooker.phantom_dicom import DicomVariant, write_dicom

L, R = ImageSide.LEFT, ImageSide.RIGHT

# (id, patient orientation, view position, image laterality,
#  patient right on, source, caveat fragment or "")
TABLE = [
    ("AP convention L\\F", ("L", "F"), "AP", None, L, "patient_orientation", ""),
    ("flipped R\\F", ("R", "F"), "AP", None, R, "patient_orientation", "disagree"),
    ("orientation alone L", ("L", "F"), None, None, L, "patient_orientation", ""),
    ("orientation alone R", ("R", "F"), None, None, R, "patient_orientation", ""),
    ("compound LH", ("LH", "F"), None, None, L, "patient_orientation", ""),
    ("PA orientation R\\F", ("R", "F"), "PA", None, R, "patient_orientation", ""),
    ("view AP only", None, "AP", None, L, "view_position", ""),
    ("view PA only", None, "PA", None, R, "view_position", "PA"),
    ("rotated orientation, view AP", ("A", "F"), "AP", None, L, "view_position", "left-right"),
    # an R or L inside a word that is not spelt in A P R L H F says nothing about the sides
    ("junk with an R, view AP", ("XRAY", "F"), "AP", None, L, "view_position", "left-right"),
    ("a D outside APRLHF, view AP", ("DR", "F"), "AP", None, L, "view_position", "left-right"),
    ("junk with an L alone", ("LEFT", "F"), None, None, L, "assumed", "left-right"),
    ("lower-case r", ("r", "f"), None, None, R, "patient_orientation", ""),
    ("image laterality R only", None, None, "R", L, "image_laterality", "right"),
    ("image laterality L only", None, None, "L", L, "image_laterality", "left"),
    ("nothing: assumed", None, None, None, L, "assumed", "assumed"),
    ("both sides B: assumed", None, None, "B", L, "assumed", "assumed"),
    ("lateral view: assumed", None, "LL", None, L, "assumed", "assumed"),
]


@pytest.mark.parametrize(
    ("orientation", "view", "laterality", "right_on", "source", "caveat"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_laterality_table(
    tmp_path: Path,
    orientation: tuple[str, str] | None,
    view: str | None,
    laterality: str | None,
    right_on: ImageSide,
    source: str,
    caveat: str,
) -> None:
    variant = DicomVariant(
        patient_orientation=orientation, view_position=view, image_laterality=laterality
    )
    rad = load_radiograph(write_dicom(np.zeros((8, 8), np.uint16), tmp_path / "l.dcm", variant))
    assert rad.patient_right_on is right_on
    assert rad.laterality_source == source
    assert rad.image_side_of(PatientSide.RIGHT) is right_on
    assert rad.image_side_of(PatientSide.LEFT) is right_on.opposite
    if caveat:
        assert any(caveat in c for c in rad.caveats), rad.caveats
    else:
        assert not any("sides" in c or "assumed" in c for c in rad.caveats), rad.caveats
    if laterality:
        assert rad.meta.image_laterality == laterality
    if orientation:
        assert rad.meta.patient_orientation == orientation


def _one_hip(lateral_towards: ImageSide, side: PatientSide) -> HipSearch:
    hip = HipJoint(
        patient_side=side,
        image_side=lateral_towards,
        center_px=(4.0, 4.0),
        head_radius_mm=23.5,
        prosthesis=False,
    )
    return HipSearch(hips=(hip,))


# (id, patient orientation, view position, image laterality, the hip's lateral side on the
#  image, patient side reported, caveat fragment or "")
SINGLE_HIP = [
    # nothing else decides the halves: the header's side names the one hip, flipped or not
    ("IL R, lateral left (as AP)", None, None, "R", L, "right", ""),
    ("IL R, lateral right (flipped)", None, None, "R", R, "right", "taken to be flipped"),
    ("IL L, lateral left (flipped)", None, None, "L", L, "left", "taken to be flipped"),
    ("IL L, lateral right (as AP)", None, None, "L", R, "left", ""),
    # View Position says how the beam went, not how the image is turned: IL names the hip
    ("VP AP, IL R, lateral right", None, "AP", "R", R, "right", "View Position AP"),
    ("VP PA, IL R, lateral right", None, "PA", "R", R, "right", ""),
    ("VP PA, IL R, lateral left", None, "PA", "R", L, "right", "View Position PA"),
    # Patient Orientation decides the halves: followed, a disagreement said
    ("PO L\\F agrees with IL R", ("L", "F"), None, "R", L, "right", ""),
    ("PO L\\F against IL L", ("L", "F"), None, "L", L, "right", "is followed"),
    ("PO R\\F against IL R", ("R", "F"), None, "R", L, "left", "is followed"),
    ("IL B: nothing to weigh", None, None, "B", R, "left", ""),
]


@pytest.mark.parametrize(
    ("orientation", "view", "laterality", "lateral", "reported", "caveat"),
    [pytest.param(*row[1:], id=row[0]) for row in SINGLE_HIP],
)
def test_image_laterality_names_a_single_hip(
    tmp_path: Path,
    orientation: tuple[str, str] | None,
    view: str | None,
    laterality: str,
    lateral: ImageSide,
    reported: str,
    caveat: str,
) -> None:
    variant = DicomVariant(
        patient_orientation=orientation, view_position=view, image_laterality=laterality
    )
    rad = load_radiograph(write_dicom(np.zeros((8, 8), np.uint16), tmp_path / "l.dcm", variant))
    found = sides_from_image_laterality(rad, _one_hip(lateral, rad.patient_side_of(lateral)))
    (hip,) = found.hips
    assert hip.patient_side.value == reported
    assert hip.image_side is lateral  # the anatomy's lateral side is never moved
    if caveat:
        assert any(caveat in c and "Image Laterality" in c for c in found.caveats), found.caveats
    else:
        assert not found.caveats, found.caveats


def test_image_laterality_of_one_hip_on_a_film_with_two(tmp_path: Path) -> None:
    variant = DicomVariant(patient_orientation=None, view_position=None, image_laterality="R")
    rad = load_radiograph(write_dicom(np.zeros((8, 8), np.uint16), tmp_path / "l.dcm", variant))
    two = HipSearch(
        hips=(*_one_hip(L, PatientSide.RIGHT).hips, *_one_hip(R, PatientSide.LEFT).hips)
    )
    found = sides_from_image_laterality(rad, two)
    assert [h.patient_side for h in found.hips] == [PatientSide.RIGHT, PatientSide.LEFT]
    assert any("two hips were found" in c for c in found.caveats), found.caveats


def test_the_right_hip_is_listed_first_on_a_film_stored_flipped() -> None:
    """A reader lists the right hip first, and so do the records, the table and the JSON,
    whichever image half it is on: the bundled flipped film (R\\F, the patient's right on the
    image's right) listed its left hip first, the image's left half being read first."""
    from brooker.config import AnalysisConfig
    from brooker.pipeline import analyze

    film = Path(__file__).resolve().parents[1] / "sample_images" / "pelvis_4_vs_0_flipped.dcm"
    result = analyze(film, AnalysisConfig())
    assert [h.patient_side for h in result.hips] == [PatientSide.RIGHT, PatientSide.LEFT]
    assert [h.image_side for h in result.hips] == [R, L]
    assert [h["side"] for h in result.to_record()["hips"]] == ["right", "left"]
