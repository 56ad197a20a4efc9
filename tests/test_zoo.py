"""Real odd files (../shared/dicom_zoo) and the development set (../shared/devset).

Every zoo file gives a Radiograph or a BrookerError, quickly, with no other exception and no
identifier of the file in the message. Skipped when ../shared is absent.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

from brooker import errors
from brooker.dicom_io import load_radiograph
from brooker.models import Radiograph, SpacingSource

pytestmark = pytest.mark.shared

ZOO_NAMES = sorted(
    p.name for p in (Path(__file__).resolve().parents[2] / "shared" / "dicom_zoo").glob("*.dcm")
)

#: Outcomes this loader commits to for files whose problem is unambiguous.
EXPECTED = {
    "orthanc_oob_monochrome_46341x46341.dcm": "size_mismatch",
    "orthanc_Issue56_DX_elbow_NoPixelData.dcm": "no_pixel_data",
    "pydicom_ExplVR_BigEndNoMeta.dcm": "not_an_image",
    "fodicom_XA_multiframe96_JPEGbaseline.dcm": "multi_frame",
    "WG04_RG1_chest_CR_MONO1_J2KI_zeroPixelSpacing.dcm": "invalid_spacing",
    "WG04_RG3_leg_CR_MONO1_JPLY_12bit.dcm": "unsupported_pixel_data",
    "ljdata_966_BROKEN_J2K_COM_marker.dcm": "unsupported_pixel_data",
    "pydicom_MR_small_ImplicitVR.dcm": "not_a_radiograph",
    "fodicom_GH177_CT1_BigEndian_undefined_length_BROKEN.dcm": "malformed_dicom",
    # its header reads up to the encapsulated Pixel Data, which runs off the end (it was
    # malformed_dicom, "ends right after its file meta", with no UID, until 2026-12-07)
    "pydicomdata_emri_small_J2K_TRUNCATED.dcm": "truncated_pixel_data",
    "fodicom_CR-MONO1-10-chest_noFileMeta.dcm": "ok",
    "ljdata_966_fixed_DX_chest_MONO1_J2KR.dcm": "ok",
    "fodicom_GH133_MG_JPLL_IPSonly_multiWindow.dcm": "ok",
}


def _identifiers(path: Path) -> list[str]:
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
            values = [str(ds.get(k, "") or "") for k in ("PatientName", "PatientID")]
    except Exception:
        return []
    return [v for v in values if len(v) >= 4 and v.strip("0^ ")]


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_zoo_file_loads_or_fails_cleanly(zoo_dir: Path, name: str) -> None:
    path = zoo_dir / name
    t0 = time.monotonic()
    try:
        rad = load_radiograph(path)
    except errors.BrookerError as err:
        outcome = err.code
        text = err.message
        assert text.startswith(f"{path}: ")
        assert "\n" not in text
    else:
        assert isinstance(rad, Radiograph)
        assert rad.pixels.ndim == 2
        outcome = "ok"
        text = repr(rad.meta) + " ".join(rad.caveats)
    assert time.monotonic() - t0 < 10.0
    for value in _identifiers(path):
        assert value not in text
    if name in EXPECTED:
        assert outcome == EXPECTED[name]


def test_huge_declared_zoo_file_is_refused_without_allocating(zoo_dir: Path) -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(errors.SizeMismatchError, match="46341 x 46341"):
            load_radiograph(zoo_dir / "orthanc_oob_monochrome_46341x46341.dcm")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_devset_spacing_is_calibrated_pixel_spacing(devset_dir: Path) -> None:
    import pydicom

    files = sorted(devset_dir.glob("case_*.dcm"))
    assert files
    for path in files[:6]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        row, col = (float(v) for v in ds.PixelSpacing)
        rad = load_radiograph(path)
        assert rad.spacing is not None
        assert rad.spacing.source is SpacingSource.PIXEL_SPACING
        assert rad.spacing.row_mm == pytest.approx(row)
        assert rad.spacing.col_mm == pytest.approx(col)
        assert rad.pixels.shape == (ds.Rows, ds.Columns)
