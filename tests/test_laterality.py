"""Which image half shows the patient's right, and how the loader knows (patient safety)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brooker.dicom_io import load_radiograph
from brooker.models import ImageSide, PatientSide
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
