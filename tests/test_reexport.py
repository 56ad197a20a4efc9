"""benchmarks/reexport.py rewrites a film with other processing: the pixels, the tags and the
labels must move together, or its figures measure the script instead of the grader. Checked on
a bundled sample film (synthetic, 12-bit JPEG-LS, Patient Orientation L\\F)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from brooker.dicom_io import load_radiograph
from brooker.models import ImageSide, Radiograph

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from reexport import VARIANTS, reexport

FILM = Path(__file__).resolve().parents[1] / "sample_images" / "pelvis_0_vs_3.dcm"
LABELS = {
    "hips": [
        {"side": "right", "image_half": "left", "centre_rc_px": [825.0, 466.1], "radius_px": 81.5,
         "prosthesis": False, "ho": "none"},
        {"side": "left", "image_half": "right", "centre_rc_px": [793.8, 1266.3],
         "radius_px": 84.7, "prosthesis": False, "ho": "none"},
    ]
}  # fmt: skip


@pytest.fixture(scope="module")
def original() -> np.ndarray:
    return load_radiograph(FILM).pixels


def _reexported(tmp_path: Path, variant: str) -> tuple[dict[str, Any], Radiograph, Path]:
    """(moved labels, the re-export as loaded, its path)."""
    out = tmp_path / "x.dcm"
    labels = reexport(variant, FILM, out, LABELS, seed=0)
    return labels, load_radiograph(out), out


@pytest.mark.parametrize("variant", ["as_exported", "bits12", "mono1"])
def test_lossless_variants_keep_the_picture(
    tmp_path: Path, original: np.ndarray, variant: str
) -> None:
    labels, rad, _ = _reexported(tmp_path, variant)
    assert labels == LABELS
    assert rad.meta.photometric == ("MONOCHROME1" if variant == "mono1" else "MONOCHROME2")
    # the film has 12 bits stored already, so bits12 stretches nothing; and the loader turns
    # MONOCHROME1 back: every lossless variant reads as the original
    np.testing.assert_allclose(rad.pixels, original, atol=0.5)
    assert rad.spacing == load_radiograph(FILM).spacing


def test_mirrored_moves_pixels_labels_and_orientation(tmp_path: Path, original: np.ndarray) -> None:
    labels, rad, out = _reexported(tmp_path, "mirrored")
    np.testing.assert_array_equal(rad.pixels, original[:, ::-1])
    assert list(pydicom.dcmread(out).PatientOrientation) == ["R", "F"]
    cols = original.shape[1]
    for before, after in zip(LABELS["hips"], labels["hips"], strict=True):
        assert after["side"] == before["side"]
        assert after["image_half"] != before["image_half"]
        r, c = after["centre_rc_px"]
        assert (r, c) == (before["centre_rc_px"][0], cols - 1 - before["centre_rc_px"][1])
    # the patient's right is now on the image's right, and the film says so
    assert load_radiograph(FILM).patient_right_on is ImageSide.LEFT
    assert rad.patient_right_on is ImageSide.RIGHT


def test_up2x_halves_the_spacing_and_scales_the_labels(
    tmp_path: Path, original: np.ndarray
) -> None:
    labels, rad, _ = _reexported(tmp_path, "up2x")
    assert rad.pixels.shape == (2 * original.shape[0], 2 * original.shape[1])
    assert rad.spacing is not None
    assert rad.spacing.row_mm == pytest.approx(0.125)
    (r, c), rad_px = labels["hips"][0]["centre_rc_px"], labels["hips"][0]["radius_px"]
    assert (r, c) == (2 * 825.0 + 0.5, 2 * 466.1 + 0.5)
    assert rad_px == 2 * 81.5
    # the same anatomy under the moved centre
    r0, c0 = (round(v) for v in LABELS["hips"][0]["centre_rc_px"])
    assert rad.pixels[int(r), int(c)] == pytest.approx(original[r0, c0], rel=0.05)


def test_half_doubles_the_spacing_and_scales_the_labels(
    tmp_path: Path, original: np.ndarray
) -> None:
    labels, rad, _ = _reexported(tmp_path, "half")
    assert rad.pixels.shape == (original.shape[0] // 2, original.shape[1] // 2)
    assert rad.spacing is not None
    assert rad.spacing.row_mm == pytest.approx(0.5)
    assert labels["hips"][1]["radius_px"] == pytest.approx(84.7 / 2)
    r, c = labels["hips"][1]["centre_rc_px"]
    block = original[2 * round(r) : 2 * round(r) + 2, 2 * round(c) : 2 * round(c) + 2]
    assert rad.pixels[round(r), round(c)] == pytest.approx(float(block.mean()), abs=0.5)


@pytest.mark.parametrize("variant", ["padded", "padded_undeclared"])
def test_padded_adds_a_border_and_moves_the_labels(
    tmp_path: Path, original: np.ndarray, variant: str
) -> None:
    from reexport import PAD_MM

    labels, rad, out = _reexported(tmp_path, variant)
    pad = round(PAD_MM / 0.25)  # the film's 0.25 mm pixels
    assert rad.pixels.shape == (original.shape[0] + 2 * pad, original.shape[1] + 2 * pad)
    np.testing.assert_array_equal(rad.pixels[pad:-pad, pad:-pad], original)
    assert not rad.pixels[:pad].any()
    declared = pydicom.dcmread(out).get(0x00280120)  # Pixel Padding Value
    assert (declared is not None and declared.value == 0) is (variant == "padded")
    for before, after in zip(LABELS["hips"], labels["hips"], strict=True):
        r, c = before["centre_rc_px"]
        assert after["centre_rc_px"] == [r + pad, c + pad]


@pytest.mark.parametrize(("variant", "k"), [("crop1", 1), ("crop3", 3)])
def test_crop_cuts_the_top_left_and_moves_the_labels(
    tmp_path: Path, original: np.ndarray, variant: str, k: int
) -> None:
    labels, rad, _ = _reexported(tmp_path, variant)
    np.testing.assert_array_equal(rad.pixels, original[k:, k:])
    assert rad.spacing == load_radiograph(FILM).spacing
    for before, after in zip(LABELS["hips"], labels["hips"], strict=True):
        r, c = before["centre_rc_px"]
        assert after["centre_rc_px"] == [r - k, c - k]
        assert after["radius_px"] == before["radius_px"]


@pytest.mark.parametrize(
    "variant", ["noise4", "gamma0.7", "gamma1.4", "contrast60", "sharpen1.0s6", "sharpen0.4s2"]
)
def test_grey_level_variants_keep_the_geometry_and_the_range(
    tmp_path: Path, original: np.ndarray, variant: str
) -> None:
    labels, rad, _ = _reexported(tmp_path, variant)
    assert labels == LABELS
    assert rad.pixels.shape == original.shape
    assert rad.pixels.min() >= 0
    assert rad.pixels.max() <= 4095
    assert not np.array_equal(rad.pixels, original)


def test_every_variant_is_covered() -> None:
    assert set(VARIANTS) == {"as_exported", "noise4", "gamma0.7", "gamma1.4", "contrast60",
                             "sharpen1.0s6", "sharpen0.4s2", "bits12", "mono1", "mirrored",
                             "up2x", "half", "padded", "padded_undeclared", "crop1",
                             "crop3"}  # fmt: skip


def test_sharpen_overshoots_an_edge_and_leaves_flat_grey_alone() -> None:
    from reexport import sharpen

    ds = pydicom.Dataset()
    ds.BitsStored = 12
    px = np.full((64, 64), 1000.0)
    px[:, 32:] = 2000.0
    out = sharpen(1.0, 6.0)(ds, px, 0)
    np.testing.assert_allclose(out[:, :4], 1000.0, atol=0.5)  # far from the edge: unchanged
    np.testing.assert_allclose(out[:, -4:], 2000.0, atol=0.5)
    assert out[0, 33] > 2100.0  # the edge, overshot either side
    assert out[0, 30] < 900.0
    assert sharpen(1.0, 6.0)(ds, px * 2.5, 0).max() == 4095  # clipped to the 12-bit range


def test_spacing_keeps_the_pixels_and_scales_the_spacing_tags(original: np.ndarray) -> None:
    """``spacing(f)`` (the fragment judge's ``spacing*`` copies): the same pixels, the film's
    Pixel Spacing and Imager Pixel Spacing times ``f``, as if its scale were that much off."""
    from reexport import spacing

    ds = pydicom.dcmread(FILM)
    ds.ImagerPixelSpacing = ["0.2", "0.25"]
    before = [float(v) for v in ds.PixelSpacing]
    px = spacing(1.05)(ds, original.astype(np.float64), 0)
    np.testing.assert_array_equal(px, original)
    assert [float(v) for v in ds.PixelSpacing] == pytest.approx([v * 1.05 for v in before])
    assert [float(v) for v in ds.ImagerPixelSpacing] == pytest.approx([0.21, 0.2625])
