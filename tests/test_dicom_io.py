"""The loader contract: each encoded variant gives a Radiograph with given properties, or a
specific error class. Files are written with brooker.phantom_dicom on small arrays."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import write_media_folder

from brooker import errors
from brooker.dicom_io import load_radiograph
from brooker.models import ImageSide, SpacingSource
from brooker.phantom_dicom import (
    FAKE_IDENTIFIERS,
    LOSSLESS_SYNTAXES,
    TRANSFER_SYNTAXES,
    DicomVariant,
    write_dicom,
)
from brooker.pipeline import grade_path

SHAPE = (64, 80)


def _pixels(bits: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 1 << bits, SHAPE).astype(np.uint16)
    img[10:20, 5:40] = (1 << bits) - 1  # a bright "bone" bar
    img[0, 0] = 0
    return img


def _write(tmp_path: Path, variant: DicomVariant, pixels: np.ndarray | None = None) -> Path:
    arr = _pixels(variant.bits_stored) if pixels is None else pixels
    return write_dicom(arr, tmp_path / "img.dcm", variant)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("syntax", sorted(LOSSLESS_SYNTAXES))
@pytest.mark.parametrize("mono1", [False, True], ids=["mono2", "mono1"])
def test_lossless_round_trip_is_exact(tmp_path: Path, syntax: str, mono1: bool) -> None:
    src = _pixels()
    path = _write(tmp_path, DicomVariant(transfer_syntax=syntax, monochrome1=mono1), src)
    rad = load_radiograph(path)
    assert rad.pixels.dtype == np.float32
    assert rad.pixels.shape == SHAPE
    np.testing.assert_array_equal(rad.pixels, src.astype(np.float32))
    assert rad.meta.transfer_syntax_uid == str(TRANSFER_SYNTAXES[syntax])
    assert rad.meta.photometric == ("MONOCHROME1" if mono1 else "MONOCHROME2")
    assert rad.meta.decoder


@pytest.mark.parametrize(
    ("syntax", "bits", "tolerance"),
    # JPEG-LS near-lossless is bounded by its NEAR of 2; the others decode this smooth ramp
    # to within 1 grey level (measured 2026-12-02), given some room for other codec builds
    [("jpeg_ls_near", 12, 2), ("jpeg_2000_lossy", 12, 16), ("jpeg_baseline", 8, 4)],
)
def test_lossy_round_trip_is_close(tmp_path: Path, syntax: str, bits: int, tolerance: int) -> None:
    """A lossy encoding decodes close to its source, in place: the ramp runs along both axes,
    so rows or columns out of order, or the image flipped, are far off (by 100-1600 levels)."""
    top = (1 << bits) - 1
    rows = np.linspace(0.0, 1.0, SHAPE[0])[:, None]
    cols = np.linspace(0.0, 1.0, SHAPE[1])[None, :]
    src = np.rint(top * (0.6 * cols + 0.4 * rows)).astype(np.uint16)
    rad = load_radiograph(
        _write(tmp_path, DicomVariant(transfer_syntax=syntax, bits_stored=bits), src)
    )
    assert rad.pixels.shape == SHAPE
    assert np.abs(rad.pixels - src).max() <= tolerance
    assert np.abs(rad.pixels - src).mean() <= 1.5


@pytest.mark.parametrize(
    ("syntax", "decoder"),
    [
        ("explicit_le", "pydicom-native"),
        ("deflated", "pydicom-native (deflated)"),
        ("rle", "pylibjpeg-rle"),
        ("jpeg_ls", "pyjpegls"),
        ("jpeg_2000", "pylibjpeg-openjpeg"),
    ],
)
def test_decoder_is_recorded(tmp_path: Path, syntax: str, decoder: str) -> None:
    rad = load_radiograph(_write(tmp_path, DicomVariant(transfer_syntax=syntax)))
    assert rad.meta.decoder == decoder


def test_jpeg_baseline_decoded_by_a_named_plugin(tmp_path: Path) -> None:
    variant = DicomVariant(transfer_syntax="jpeg_baseline", bits_stored=8)
    rad = load_radiograph(_write(tmp_path, variant))
    assert rad.meta.decoder in {"python-gdcm", "pillow"}


def test_writer_is_deterministic(tmp_path: Path) -> None:
    v = DicomVariant(transfer_syntax="jpeg_2000", pixel_spacing_mm=(0.15, 0.15))
    a = write_dicom(_pixels(), tmp_path / "a.dcm", v).read_bytes()
    b = write_dicom(_pixels(), tmp_path / "b.dcm", v).read_bytes()
    assert a == b
    assert not list(tmp_path.glob(".*.tmp"))


def test_writer_rejects_values_beyond_bits_stored(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bits_stored"):
        write_dicom(np.full(SHAPE, 5000, np.uint16), tmp_path / "x.dcm", DicomVariant())


# ------------------------------------------------------------------ pixel processing


def test_monochrome1_loads_bone_bright_like_monochrome2(tmp_path: Path) -> None:
    src = _pixels()
    m2 = load_radiograph(write_dicom(src, tmp_path / "m2.dcm", DicomVariant()))
    m1 = load_radiograph(write_dicom(src, tmp_path / "m1.dcm", DicomVariant(monochrome1=True)))
    np.testing.assert_array_equal(m1.pixels, m2.pixels)
    assert m1.pixels[15, 10] == m1.pixels.max()  # the bone bar is brightest


@pytest.mark.parametrize(
    ("mono1", "shape", "contradicts"),
    [(False, "INVERSE", True), (True, "IDENTITY", True), (False, "IDENTITY", False),
     (True, "INVERSE", False), (False, "LIN OD", False)],
)
def test_a_presentation_lut_shape_that_contradicts_the_photometric_is_a_caveat(
    tmp_path: Path, mono1: bool, shape: str, contradicts: bool
) -> None:
    """MONOCHROME2 with INVERSE (or MONOCHROME1 with IDENTITY) says both that the lowest value
    is black and that it is white: the photometric interpretation is followed, and the film's
    record says the two disagree; the pairings the DX image allows say nothing."""
    src = _pixels()
    variant = DicomVariant(
        monochrome1=mono1, pixel_spacing_mm=(0.5, 0.5), extra=((0x20500020, "CS", shape),)
    )
    path = write_dicom(src, tmp_path / "p.dcm", variant)
    rad = load_radiograph(path)
    np.testing.assert_array_equal(rad.pixels, src.astype(np.float32))  # bone bright as ever
    note = [c for c in rad.caveats if "(2050,0020) Presentation LUT Shape" in c]
    assert len(note) == int(contradicts)
    if contradicts:
        pi = "MONOCHROME1" if mono1 else "MONOCHROME2"
        assert f"Photometric Interpretation {pi} and (2050,0020) Presentation LUT Shape {shape} " \
            "disagree" in note[0]
        assert "the photometric interpretation is followed" in note[0]
        # and it reaches the film's record
        assert note[0] in grade_path(path).to_record()["caveats"]


@pytest.mark.parametrize(
    ("intent", "relationship", "caveat"),
    [("FOR PROCESSING", "LIN", "linear"), ("for processing", "LOG", "plain"),
     ("FOR PRESENTATION", "LIN", None), (None, "LIN", None)],
)
def test_an_image_for_processing_is_read_with_a_caveat(
    tmp_path: Path, intent: str | None, relationship: str, caveat: str | None
) -> None:
    """A raw detector image (Presentation Intent Type FOR PROCESSING) is graded as any film,
    and its record says the analysis was built on images for presentation (naming a linear
    Pixel Intensity Relationship); an image for presentation, or one that does not say, reads
    as before."""
    src = _pixels()
    extra = ((0x00281040, "CS", relationship),)
    if intent is not None:
        extra += ((0x00080068, "CS", intent),)
    variant = DicomVariant(pixel_spacing_mm=(0.5, 0.5), extra=extra)
    path = write_dicom(src, tmp_path / "p.dcm", variant)
    rad = load_radiograph(path)
    np.testing.assert_array_equal(rad.pixels, src.astype(np.float32))
    note = [c for c in rad.caveats if "Presentation Intent Type" in c]
    assert len(note) == (caveat is not None)
    if caveat is not None:
        assert note[0].startswith(
            "(0008,0068) Presentation Intent Type FOR PROCESSING: an unprocessed image"
        )
        assert ("(0028,1040) LIN" in note[0]) == (caveat == "linear")
        assert "built and measured on images for presentation" in note[0]
        assert note[0] in grade_path(path).to_record()["caveats"]


@pytest.mark.parametrize("mono1", [False, True])
def test_rescale_is_applied(tmp_path: Path, mono1: bool) -> None:
    src = _pixels()
    rad = load_radiograph(
        _write(tmp_path, DicomVariant(rescale=(2.0, -1000.0), monochrome1=mono1), src)
    )
    np.testing.assert_allclose(rad.pixels, 2.0 * src - 1000.0)


def test_rescale_slope_zero_is_malformed(tmp_path: Path) -> None:
    path = _write(tmp_path, DicomVariant(extra=((0x00281053, "DS", "0"),)))
    with pytest.raises(errors.MalformedDicomError, match=r"\(0028,1053\)"):
        load_radiograph(path)


@pytest.mark.parametrize(("slope", "intercept"), [("1e-300", "0"), ("1e-9", "1e6")])
def test_a_rescale_that_makes_every_pixel_one_value_is_refused(
    tmp_path: Path, slope: str, intercept: str
) -> None:
    # in float32 the first underflows every pixel to 0 and the second rounds them all to
    # 1e6: a blank film, which was graded "no hip joint found"
    variant = DicomVariant(extra=((0x00281053, "DS", slope), (0x00281052, "DS", intercept)))
    # both are named: with a slope of 1e-9 the intercept is what swamps the stored values
    named = r"\(0028,1053\) Rescale Slope \S+ with \(0028,1052\) Rescale Intercept \S+ maps"
    with pytest.raises(errors.MalformedDicomError, match=named):
        load_radiograph(_write(tmp_path, variant))


def test_a_rescale_that_overflows_every_pixel_is_named_non_finite(tmp_path: Path) -> None:
    # no stored 0 (0 x inf is NaN): every pixel is +inf, equal to every other
    variant = DicomVariant(extra=((0x00281053, "DS", "1e300"),))
    with pytest.raises(errors.MalformedDicomError, match="non-finite"):
        load_radiograph(_write(tmp_path, variant, np.clip(_pixels(), 1, None)))


def test_a_rescale_to_finite_but_huge_values_is_refused(tmp_path: Path) -> None:
    # finite in float32, but a sum of a few of them is not: the hip detector then failed on
    # NaN (internal_error, exit 1)
    variant = DicomVariant(extra=((0x00281053, "DS", "1e34"),))
    with pytest.raises(errors.MalformedDicomError, match="beyond") as exc:
        load_radiograph(_write(tmp_path, variant))
    assert "overflow" in exc.value.message


def test_modality_lut_sequence_is_applied(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    src = (_pixels(8) % 256).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [256, 0, 16]
    item.ModalityLUTType = "US"
    item.add_new(0x00283006, "US", [3 * v + 7 for v in range(256)])  # LUT Data
    variant = DicomVariant(bits_stored=8, extra=((0x00283000, "SQ", Sequence([item])),))
    rad = load_radiograph(_write(tmp_path, variant, src))
    np.testing.assert_array_equal(rad.pixels, 3.0 * src + 7.0)


@pytest.mark.parametrize("vr", ["SS", "US"])
def test_modality_lut_of_signed_pixels_whatever_vr_its_descriptor_has(
    tmp_path: Path, vr: str
) -> None:
    """PS3.3 C.11.1.1: the descriptor's first mapped value is signed when the pixels are; a
    US 65408 is -128 (read as 65408, every pixel fell onto the table's first entry)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    src = (_pixels(8) % 256).astype(np.int16) - 128
    item = Dataset()
    item.add_new(0x00283002, vr, [256, -128 if vr == "SS" else 65536 - 128, 16])
    item.ModalityLUTType = "US"
    item.add_new(0x00283006, "US", [3 * v + 7 for v in range(256)])  # LUT Data
    variant = DicomVariant(
        bits_stored=8,
        extra=(
            (0x00280103, "US", 1),  # Pixel Representation: signed
            (0x7FE00010, "OB", src.astype("i1").tobytes()),
            (0x00283000, "SQ", Sequence([item])),
        ),
    )
    rad = load_radiograph(_write(tmp_path, variant, (src + 128).astype(np.uint16)))
    np.testing.assert_array_equal(rad.pixels, 3.0 * (src + 128) + 7.0)



def _lut_data_8_bit(table: np.ndarray, packed: bool, big_endian: bool) -> bytes:
    """An 8-bit LUT's (0028,3006) LUT Data as OW bytes: two entries a 16-bit word, low byte
    first (padded to whole words), or one entry a word; words in the file's byte order."""
    if packed:
        entries = np.append(table, np.zeros(len(table) % 2, table.dtype)).astype(np.uint16)
        words = entries[0::2] | (entries[1::2] << 8)
    else:
        words = table.astype(np.uint16)
    return words.astype(">u2" if big_endian else "<u2").tobytes()


@pytest.mark.parametrize("syntax", ["explicit_le", "implicit_le", "explicit_be"])
def test_an_8_bit_modality_lut_is_read_packed_or_one_entry_a_word(
    tmp_path: Path, syntax: str
) -> None:
    """PS3.3 C.11.1.1.1: an 8-bit table's OW LUT Data packs two entries a word; some writers
    put one a word. Both give the lookup, stored values beyond the table's ends taking its
    first and last entries (packed, pydicom refused it: "unpack requires a buffer")."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    src = _pixels(12)
    n, first = 3001, 500  # an odd count: the packed data ends on a padded word
    table = ((np.arange(n) * 7) // 100 % 256).astype(np.uint8)
    expected = table[np.clip(src.astype(np.int64) - first, 0, n - 1)].astype(np.float32)
    assert (src < first).any()
    assert (src >= first + n).any()
    loaded = []
    for packed in (True, False):
        item = Dataset()
        item.LUTDescriptor = [n, first, 8]
        item.ModalityLUTType = "US"
        item.add_new(0x00283006, "OW", _lut_data_8_bit(table, packed, syntax == "explicit_be"))
        variant = DicomVariant(
            transfer_syntax=syntax, extra=((0x00283000, "SQ", Sequence([item])),)
        )
        path = write_dicom(src, tmp_path / f"{'packed' if packed else 'words'}.dcm", variant)
        loaded.append(load_radiograph(path).pixels)
    np.testing.assert_array_equal(loaded[0], expected)
    np.testing.assert_array_equal(loaded[1], expected)


def test_a_modality_lut_that_makes_every_pixel_one_value_is_refused(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    src = (_pixels(8) % 256).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [256, 0, 16]
    item.ModalityLUTType = "US"
    item.add_new(0x00283006, "US", [500] * 256)  # LUT Data: one value
    variant = DicomVariant(bits_stored=8, extra=((0x00283000, "SQ", Sequence([item])),))
    with pytest.raises(errors.MalformedDicomError, match="one value"):
        load_radiograph(_write(tmp_path, variant, src))


@pytest.mark.parametrize("bits", [10, 12, 15])
def test_a_modality_lut_of_10_to_15_bits_an_entry_is_applied(tmp_path: Path, bits: int) -> None:
    """A Modality LUT whose descriptor says 10-15 bits an entry (PS3.3 C.11.1.1.1 says 8 or
    16; real 12-bit tables say 12) is read as a VOI LUT of that depth is, one entry a word:
    the film was refused ("12 bits per entry, not 8 or 16")."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    src = (_pixels(8) % 256).astype(np.uint16)
    table = [(v * ((1 << bits) - 1)) // 255 for v in range(256)]
    item = Dataset()
    item.LUTDescriptor = [256, 0, bits]
    item.ModalityLUTType = "US"
    item.add_new(0x00283006, "US", table)  # LUT Data
    variant = DicomVariant(bits_stored=8, extra=((0x00283000, "SQ", Sequence([item])),))
    rad = load_radiograph(_write(tmp_path, variant, src))
    np.testing.assert_array_equal(rad.pixels, np.asarray(table, np.float32)[src])


def test_a_modality_lut_of_9_bits_an_entry_is_refused(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.LUTDescriptor = [256, 0, 9]
    item.ModalityLUTType = "US"
    item.add_new(0x00283006, "US", list(range(256)))  # LUT Data
    variant = DicomVariant(bits_stored=8, extra=((0x00283000, "SQ", Sequence([item])),))
    src = (_pixels(8) % 256).astype(np.uint16)
    with pytest.raises(errors.MalformedDicomError, match="9 bits per entry"):
        load_radiograph(_write(tmp_path, variant, src))


def test_bits_above_bits_stored_are_masked(tmp_path: Path) -> None:
    src = _pixels(12)
    dirty = src | np.uint16(0xA000)  # garbage (e.g. an overlay) in bits 13-16
    variant = DicomVariant(
        bits_stored=12, extra=((0x7FE00010, "OW", dirty.astype("<u2").tobytes()),)
    )
    rad = load_radiograph(_write(tmp_path, variant, src))
    np.testing.assert_array_equal(rad.pixels, src.astype(np.float32))


def test_signed_pixels_are_sign_extended(tmp_path: Path) -> None:
    values = np.array([[-2048, -1, 0, 2047]], dtype=np.int16)
    raw = (values.astype(np.int32) & 0x0FFF).astype("<u2")  # 12-bit two's complement, high bits 0
    variant = DicomVariant(
        bits_stored=12,
        extra=((0x00280103, "US", 1), (0x7FE00010, "OW", raw.tobytes())),
    )
    rad = load_radiograph(write_dicom(np.zeros((1, 4), np.uint16), tmp_path / "s.dcm", variant))
    np.testing.assert_array_equal(rad.pixels, values.astype(np.float32))


# ------------------------------------------------------------------ display (VOI)


def test_window_maps_bone_white_for_both_photometrics(tmp_path: Path) -> None:
    src = _pixels()
    m2 = load_radiograph(
        write_dicom(src, tmp_path / "m2.dcm", DicomVariant(window=(2048.0, 1000.0)))
    )
    # The same film stored MONOCHROME1 has its window on the inverted values.
    m1 = load_radiograph(
        write_dicom(
            src, tmp_path / "m1.dcm", DicomVariant(monochrome1=True, window=(4095 - 2048.0, 1000.0))
        )
    )
    assert m2.display is not None
    assert m1.display is not None
    assert m2.display.source == m1.display.source == "voi_window"
    np.testing.assert_allclose(m1.display.apply(m1.pixels), m2.display.apply(m2.pixels), atol=2e-3)
    shown = m2.display.apply(m2.pixels)
    assert shown[15, 10] == pytest.approx(1.0)  # bone is white
    assert float(shown.min()) == pytest.approx(0.0)


def test_first_of_several_windows_is_used(tmp_path: Path) -> None:
    variant = DicomVariant(
        extra=((0x00281050, "DS", ["1000", "3000"]), (0x00281051, "DS", ["400", "800"]))
    )
    rad = load_radiograph(_write(tmp_path, variant))
    assert rad.display is not None
    assert rad.display.input_values[0] == pytest.approx(1000 - 0.5 - 399 / 2)


def test_voi_lut_sequence_is_used(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.add_new(0x00283006, "US", [16 * v + 15 for v in range(4096)])  # LUT Data
    rad = load_radiograph(
        _write(tmp_path, DicomVariant(extra=((0x00283010, "SQ", Sequence([item])),)))
    )
    assert rad.display is not None
    assert rad.display.source == "voi_lut"
    assert rad.display.apply(np.array([4095.0]))[0] == pytest.approx(1.0)



def test_an_8_bit_voi_lut_packed_two_entries_a_word_is_used(tmp_path: Path) -> None:
    """An 8-bit VOI LUT packed two entries a 16-bit word (PS3.3 C.11.2.1.1.1) is the display
    mapping (pydicom could not read it, and the file's VOI was dropped)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    table = ((np.arange(256) ** 2) // 256).astype(np.uint8)
    item = Dataset()
    item.LUTDescriptor = [256, 1000, 8]
    item.add_new(0x00283006, "OW", _lut_data_8_bit(table, packed=True, big_endian=False))
    rad = load_radiograph(
        _write(tmp_path, DicomVariant(extra=((0x00283010, "SQ", Sequence([item])),)))
    )
    assert rad.display is not None
    assert rad.display.source == "voi_lut"
    np.testing.assert_array_equal(rad.display.input_values, np.arange(1000.0, 1256.0))
    np.testing.assert_allclose(rad.display.output_fraction, table / 255.0)


def _voi_lut_item(descriptor: list[int], data: list[int], vr: str = "US") -> object:
    """A (0028,3010) VOI LUT Sequence of one item, its descriptor written with ``vr``."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.add_new(0x00283002, vr, descriptor)  # LUT Descriptor
    item.add_new(0x00283006, "US", data)  # LUT Data
    return Sequence([item])


@pytest.mark.parametrize("vr", ["SS", "US"])
def test_voi_lut_of_signed_pixels_maps_from_a_signed_first_value(
    tmp_path: Path, vr: str
) -> None:
    """PS3.3 C.11.2.1.1: with no Modality LUT or rescale, the VOI LUT's first mapped value is
    signed when the pixels are; a US 63488 is -2048 (read as 63488, every pixel fell under it
    onto the table's first entry: a black overlay)."""
    values = _pixels(12).astype(np.int32) - 2048
    raw = (values & 0x0FFF).astype("<u2")  # 12-bit two's complement
    first = -2048 if vr == "SS" else 65536 - 2048
    seq = _voi_lut_item([4096, first, 16], [16 * v + 15 for v in range(4096)], vr)
    variant = DicomVariant(
        bits_stored=12,
        extra=(
            (0x00280103, "US", 1),  # Pixel Representation: signed
            (0x7FE00010, "OW", raw.tobytes()),
            (0x00283010, "SQ", seq),
        ),
    )
    rad = load_radiograph(_write(tmp_path, variant))
    np.testing.assert_array_equal(rad.pixels, values.astype(np.float32))
    assert rad.display is not None
    assert rad.display.source == "voi_lut"
    assert rad.display.input_values[0] == -2048
    shown = rad.display.apply(np.array([-2048.0, 0.0, 2047.0], np.float32))
    np.testing.assert_allclose(shown, [15 / 65535, (16 * 2048 + 15) / 65535, 1.0], atol=1e-6)


def test_voi_lut_after_a_rescale_to_negative_values_maps_from_a_signed_first_value(
    tmp_path: Path,
) -> None:
    """PS3.3 C.11.2.1.1: the first mapped value is SS when the rescale's output can be
    negative, whatever the pixels' (0028,0103) Pixel Representation: unsigned 12-bit pixels,
    intercept -2048, a VOI LUT from -2048 written US 63488."""
    seq = _voi_lut_item([4096, 65536 - 2048, 16], [16 * v + 15 for v in range(4096)])
    variant = DicomVariant(rescale=(1.0, -2048.0), extra=((0x00283010, "SQ", seq),))
    rad = load_radiograph(_write(tmp_path, variant))
    assert rad.display is not None
    assert rad.display.source == "voi_lut"
    assert rad.display.input_values[0] == -2048
    assert rad.display.apply(np.array([2047.0], np.float32))[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("bits", "first", "intercept", "expected"),
    [
        # unsigned pixels, no rescale: the input is never negative, 40000 is 40000 (US)
        (16, 40000, None, 40000),
        # unsigned 16-bit pixels rescaled by -1024 reach -1024 to 64511: read signed,
        # 40000 (-25536) would lie under every input (it was so read once the output could
        # be negative: helper-109's review)
        (16, 40000, -1024.0, 40000),
        # 12-bit pixels rescaled by -1000 (inputs -1000 to 3095): a table from -1024 (US
        # 64512) starts under the least input and covers the rest; read as 64512 every pixel
        # fell under it, one grey (helper-110's review)
        (12, 64512, -1000.0, -1024),
    ],
    ids=["unsigned", "both-signs-large-first", "starts-under-the-least-input"],
)
def test_voi_lut_first_value_is_signed_only_where_the_input_can_take_it(
    tmp_path: Path, bits: int, first: int, intercept: float | None, expected: int
) -> None:
    """PS3.3 C.11.2.1.1: the first mapped value is SS when the Modality LUT's output can be
    negative, but a value that read signed would put the whole table under every input is
    taken as written (US)."""
    src = _pixels(bits)
    seq = _voi_lut_item([4096, first, 16], [16 * v + 15 for v in range(4096)])
    variant = DicomVariant(
        bits_stored=bits,
        rescale=None if intercept is None else (1.0, intercept),
        extra=((0x00283010, "SQ", seq),),
    )
    rad = load_radiograph(_write(tmp_path, variant, src))
    assert rad.display is not None
    assert rad.display.input_values[0] == expected


@pytest.mark.parametrize(
    ("descriptor", "data", "window", "said"),
    [
        ([4096, 0, 9], list(range(4096)), True, "9 bits per entry"),
        ([4096, 0, 16], list(range(100)), False, "LUT Data has 200 bytes"),
        ([1, 0, 16], [500], True, "1 entry shows every value as one grey"),
        ([4096, 0, 16], [700] * 4096, False, "every value as one grey"),
        # clipped to the declared range (see the next test), every entry would be one grey
        ([4096, 0, 12], [4095 + v % 3 for v in range(4096)], True, "at or above the top"),
    ],
    ids=["bits", "short", "one-entry", "flat", "all-over-the-top"],
)
def test_a_voi_lut_that_cannot_be_applied_is_a_caveat(
    tmp_path: Path, descriptor: list[int], data: list[int], window: bool, said: str
) -> None:
    """A VOI LUT that cannot be applied falls back to the file's window, else a percentile
    window, as before, but says so (it fell back silently): what was wrong, what is used."""
    variant = DicomVariant(
        window=(2048.0, 1000.0) if window else None,
        extra=((0x00283010, "SQ", _voi_lut_item(descriptor, data)),),
    )
    rad = load_radiograph(_write(tmp_path, variant))
    notes = [c for c in rad.caveats if "VOI LUT" in c]
    assert len(notes) == 1, rad.caveats
    assert said in notes[0]
    if window:
        assert rad.display is not None
        assert rad.display.source == "voi_window"
        assert "Window Center" in notes[0]
    else:
        assert rad.display is None
        assert "percentile" in notes[0]
    assert "SECRET" not in notes[0]
    for value in FAKE_IDENTIFIERS.values():
        assert value not in notes[0]


def test_a_usable_voi_lut_or_window_gives_no_caveat(tmp_path: Path) -> None:
    seq = _voi_lut_item([4096, 0, 12], list(range(4096)))
    for variant in (
        DicomVariant(extra=((0x00283010, "SQ", seq),)),
        DicomVariant(window=(2048.0, 1000.0)),
    ):
        rad = load_radiograph(_write(tmp_path, variant))
        assert not [c for c in rad.caveats if "VOI" in c or "Window" in c]



def test_a_window_of_spaces_is_no_window(tmp_path: Path) -> None:
    """Window Center and Width padded to even length with spaces only ("  ") are empty values
    (PS3.5 6.2): no window, and no caveat, as zero-length ones give (it said "a value is not
    a number")."""
    variant = DicomVariant(extra=((0x00281050, "DS", "  "), (0x00281051, "DS", "  ")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rad = load_radiograph(_write(tmp_path, variant))
    assert rad.display is None
    assert not [c for c in rad.caveats if "Window" in c], rad.caveats


@pytest.mark.parametrize(
    ("centre", "width", "said"),
    [
        ("2048", "0", "width is not over 0"),
        ("2048", "0.5", "width is under 1"),
        ("2048", "NaN", "not finite"),
        ("SECRET", "1000", "not a number"),
    ],
    ids=["zero", "under-one", "nan", "text"],
)
def test_a_window_that_cannot_be_used_is_a_caveat(
    tmp_path: Path, centre: str, width: str, said: str
) -> None:
    """A VOI window that is there but cannot be used fell back to a percentile window
    silently, as a VOI LUT did until 2026-12-06: it says so now, quoting no value of the
    file's (a DS string can hold any text)."""
    # a text centre is written as LO: pydicom will not write it as DS, but files carry such
    vr = "DS" if centre != "SECRET" else "LO"
    variant = DicomVariant(extra=((0x00281050, vr, centre), (0x00281051, "DS", width)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns of the invalid DS it writes
        path = _write(tmp_path, variant)
    rad = load_radiograph(path)
    notes = [c for c in rad.caveats if "Window" in c]
    assert len(notes) == 1, rad.caveats
    assert said in notes[0]
    assert "percentile" in notes[0]
    assert rad.display is None
    assert "SECRET" not in notes[0]

@pytest.mark.parametrize(
    ("centre", "width", "mono1", "kept"),
    [
        ("2048", "4096", False, True),  # the whole range
        ("3000", "200", False, True),  # a narrow window: most pixels at its ends, some on it
        ("100000", "1000", False, False),  # every pixel below it: all black
        ("-5000", "1000", False, False),  # every pixel above it: all white
        ("-5000", "1000", True, False),
    ],
)
def test_a_window_the_pixels_all_lie_outside_is_not_used(
    tmp_path: Path, centre: str, width: str, mono1: bool, kept: bool
) -> None:
    """A header's window written for other pixel values (a zoo DX film: its window 70-5379,
    its pixels 32744-65535) drew the overlay all white, with no caveat: it is a percentile
    window now, and the caveat says why."""
    variant = DicomVariant(
        monochrome1=mono1, extra=((0x00281050, "DS", centre), (0x00281051, "DS", width))
    )
    rad = load_radiograph(_write(tmp_path, variant))
    notes = [c for c in rad.caveats if "the whole image as one grey" in c]
    assert (rad.display is not None) is kept
    if kept:
        assert rad.display is not None
        assert rad.display.source == "voi_window"
        assert not notes
    else:
        (said,) = notes
        assert said.startswith(
            "the file's window ((0028,1050) Window Center, (0028,1051) Window Width) shows the "
            "whole image as one grey (its pixels lie outside it)"
        )
        assert "percentile window instead" in said


def test_a_film_of_one_grey_keeps_its_window() -> None:
    """One grey whatever the window: no caveat blaming the header (a review found a constant
    film inside its window told that its pixels lie outside it)."""
    from brooker.dicom_io import _display_shows
    from brooker.models import DisplayMapping

    window = DisplayMapping(np.array([1000.0, 2000.0]), np.array([0.0, 1.0]), "voi_window")
    assert _display_shows(window, np.full((50, 60), 1995.0, np.float32), None)
    assert _display_shows(window, np.zeros((0, 0), np.float32), None)
    assert not _display_shows(window, np.arange(3000.0, 6000.0).reshape(50, 60), None)
    assert _display_shows(window, np.arange(0.0, 3000.0).reshape(50, 60), None)


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("gdcm: 'NoneType' object has no attribute 'encode'", "failed inside the plugin"),
        ("pylibjpeg: decode() got an unexpected keyword argument 'x'", "failed inside the plugin"),
        ("pylibjpeg: Error decoding the J2K data: failed to decode image", "Error decoding the"),
        ("pillow: broken data stream when reading image file", "broken data stream"),
    ],
)
def test_a_decoder_plugins_own_python_error_is_not_quoted(said: str, shown: str) -> None:
    """A Python error in a plugin's code says nothing of the file; a decoder's own complaint
    about the data is quoted as it was."""
    from brooker.dicom_io import _decoder_detail

    wrapped = RuntimeError(
        f"Unable to decode as exceptions were raised by all available plugins:\n  {said}"
    )
    assert _decoder_detail(wrapped).startswith(shown)
    assert _decoder_detail(TypeError("unsupported bits")) == "unsupported bits"


def test_a_voi_lut_the_pixels_all_lie_outside_is_not_used(tmp_path: Path) -> None:
    seq = _voi_lut_item([256, 60000, 16], list(range(0, 65536, 256)))  # from 60000 up
    rad = load_radiograph(_write(tmp_path, DicomVariant(extra=((0x00283010, "SQ", seq),))))
    assert rad.display is None
    assert [c for c in rad.caveats if c.startswith("the file's (0028,3010) VOI LUT Sequence shows")]


def test_voi_lut_entries_above_the_declared_bits_are_clipped_with_a_caveat(
    tmp_path: Path,
) -> None:
    """A 12-bit VOI LUT (PS3.3 C.11.2.1.1: output 0 to 4095) with one stray entry 65535: it
    is shown at the top of the range and named in a caveat; the others keep their place
    (scaled by the largest entry, every other one was squeezed under 1/16 of the display,
    silently)."""
    data = list(range(4096))
    data[4000] = 65535
    seq = _voi_lut_item([4096, 0, 12], data)
    rad = load_radiograph(_write(tmp_path, DicomVariant(extra=((0x00283010, "SQ", seq),))))
    assert rad.display is not None
    assert rad.display.source == "voi_lut"
    expected = np.arange(4096) / 4095.0
    expected[4000] = 1.0
    np.testing.assert_allclose(rad.display.output_fraction, expected)
    notes = [c for c in rad.caveats if "VOI LUT" in c]
    assert len(notes) == 1, rad.caveats
    assert "1 of 4096 entries above the 12-bit range" in notes[0]
    assert "65535" in notes[0]


def test_no_voi_gives_no_display_mapping(tmp_path: Path) -> None:
    assert load_radiograph(_write(tmp_path, DicomVariant())).display is None


# ------------------------------------------------------------------ refusals


def _rgb(
    tmp_path: Path, px: np.ndarray | None = None, photometric: str = "RGB", **fields: object
) -> Path:
    """An 8-bit RGB DICOM; by default a colour picture (red over green)."""
    if px is None:
        px = np.zeros((*SHAPE, 3), np.uint8)
        px[: SHAPE[0] // 2, :, 0] = 200
        px[SHAPE[0] // 2 :, :, 1] = 200
    variant = DicomVariant(photometric=photometric, bits_stored=8, **fields)  # type: ignore[arg-type]
    return write_dicom(px, tmp_path / "rgb.dcm", variant)


REFUSALS = [
    ("ct", DicomVariant(modality="CT"), errors.NotARadiographError, r"\(0008,0060\).*CT"),
    ("mr", DicomVariant(modality="MR"), errors.NotARadiographError, "MR"),
    ("us", DicomVariant(modality="US"), errors.NotARadiographError, "US"),
    ("no pixel data", DicomVariant(drop=(0x7FE00010,)), errors.NoPixelDataError, "7FE0,0010"),
    (
        "not an image",
        DicomVariant(drop=(0x7FE00010, 0x00280010, 0x00280011, 0x00280004)),
        errors.NotAnImageError,
        "not an image",
    ),
    ("no rows", DicomVariant(drop=(0x00280010,)), errors.MalformedDicomError, r"\(0028,0010\)"),
    (
        "palette",
        DicomVariant(photometric="PALETTE COLOR"),
        errors.ColourImageError,
        "PALETTE COLOR",
    ),
    (
        "truncated",
        DicomVariant(extra=((0x7FE00010, "OW", b"\x00" * 100),)),
        errors.TruncatedPixelDataError,
        "Pixel Data holds 100 bytes",
    ),
    (
        "huge declared",
        DicomVariant(extra=((0x00280010, "US", 46341), (0x00280011, "US", 46341))),
        errors.SizeMismatchError,
        "46341 x 46341",
    ),
    (
        "multi-valued rows",
        DicomVariant(extra=((0x00280010, "US", [64, 64]),)),
        errors.MalformedDicomError,
        "2 values",
    ),
    (
        "bits stored > allocated",
        DicomVariant(extra=((0x00280101, "US", 20),)),
        errors.MalformedDicomError,
        "Bits Stored",
    ),
]


@pytest.mark.parametrize(
    ("variant", "error", "match"),
    [pytest.param(v, e, m, id=i) for i, v, e, m in REFUSALS],
)
def test_refusals(
    tmp_path: Path, variant: DicomVariant, error: type[errors.BrookerError], match: str
) -> None:
    path = _write(tmp_path, variant)
    with pytest.raises(error, match=match) as info:
        load_radiograph(path)
    assert info.value.path == str(path)
    assert str(path) in info.value.message
    assert "\n" not in info.value.message


def test_colour_rgb_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.ColourImageError, match=r"RGB: its channels differ, up to 200 "):
        load_radiograph(_rgb(tmp_path))


def test_grey_saved_as_rgb_is_read_as_its_grey(tmp_path: Path) -> None:
    """A film saved as RGB with equal channels (a screen capture, a digitised film) is read
    as the same pixels saved as an RGB PNG are: the mean of the channels, with a caveat."""
    from PIL import Image

    grey = _pixels(bits=8).astype(np.uint8)
    px = np.repeat(grey[:, :, None], 3, axis=2)
    px[::7, ::5, 2] ^= 1  # a level of noise between the channels here and there
    rad = load_radiograph(_rgb(tmp_path, px, pixel_spacing_mm=(0.2, 0.2)))
    png = tmp_path / "same.png"
    Image.fromarray(px, "RGB").save(png)
    np.testing.assert_array_equal(rad.pixels, load_radiograph(png).pixels)
    assert rad.meta.photometric == "RGB"
    assert rad.spacing is not None
    assert rad.display is None
    assert any("colour image (RGB) with equal channels" in c for c in rad.caveats)


@pytest.mark.parametrize(("planar", "match"), [(None, "is missing"), (2, "is 2")])
def test_native_colour_needs_its_planar_configuration(
    tmp_path: Path, planar: int | None, match: str
) -> None:
    """How native colour is laid out (pixel by pixel, or plane by plane) is in (0028,0006):
    without it the film is malformed, named so (the decoder said "AttributeError: Missing
    required element"), not guessed."""
    grey = _pixels(bits=8).astype(np.uint8)
    path = _rgb(tmp_path, np.repeat(grey[:, :, None], 3, axis=2), pixel_spacing_mm=(0.2, 0.2))
    ds = pydicom.dcmread(path)
    if planar is None:
        del ds.PlanarConfiguration
    else:
        ds.PlanarConfiguration = planar
    ds.save_as(path)
    named = rf"\(0028,0006\) Planar Configuration {match}"
    with pytest.raises(errors.MalformedDicomError, match=named):
        load_radiograph(path)


def test_grey_saved_as_jpeg_ybr_is_read_as_grey(tmp_path: Path) -> None:
    """In JPEG a colour film is stored as YBR; the decoder's RGB of grey content is grey
    to within the chroma noise."""
    grey = np.tile(np.linspace(20, 230, SHAPE[1]).astype(np.uint8), (SHAPE[0], 1))
    px = np.repeat(grey[:, :, None], 3, axis=2)
    path = _rgb(tmp_path, px, photometric="YBR_FULL_422", transfer_syntax="jpeg_baseline")
    rad = load_radiograph(path)
    assert rad.pixels.shape == SHAPE
    assert float(np.abs(rad.pixels - grey).max()) <= 3.0


def test_grey_saved_as_native_ybr_full_422_is_read(tmp_path: Path) -> None:
    """Native YBR_FULL_422 stores two bytes a pixel (Y0 Y1 Cb Cr for a pair): its size is
    checked as such (it was refused as truncated at three)."""
    from pydicom.pixels import convert_color_space

    grey = np.tile(np.linspace(20, 230, SHAPE[1]).astype(np.uint8), (SHAPE[0], 1))
    ybr = convert_color_space(np.repeat(grey[:, :, None], 3, axis=2), "RGB", "YBR_FULL")
    packed = np.empty((SHAPE[0], SHAPE[1] * 2), np.uint8)
    packed[:, 0::4], packed[:, 1::4] = ybr[:, 0::2, 0], ybr[:, 1::2, 0]
    packed[:, 2::4], packed[:, 3::4] = ybr[:, 0::2, 1], ybr[:, 0::2, 2]
    path = _rgb(tmp_path, np.zeros((*SHAPE, 3), np.uint8), pixel_spacing_mm=(0.2, 0.2))
    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = packed.tobytes()
    ds.save_as(path)
    rad = load_radiograph(path)
    np.testing.assert_array_equal(rad.pixels, grey.astype(np.float32))
    ds.PixelData = packed.tobytes()[: packed.size // 2]
    ds.save_as(path)
    with pytest.raises(errors.TruncatedPixelDataError, match="truncated"):
        load_radiograph(path)


def test_16_bit_colour_is_refused(tmp_path: Path) -> None:
    px = np.zeros((*SHAPE, 3), np.uint16)
    variant = DicomVariant(photometric="RGB", bits_stored=12)
    with pytest.raises(errors.ColourImageError, match=r"16-bit samples\): radiographs are grey"):
        load_radiograph(write_dicom(px, tmp_path / "rgb16.dcm", variant))


def test_multi_frame_refused_with_frame_count(tmp_path: Path) -> None:
    frames = np.stack([_pixels(seed=k) for k in range(3)])
    path = write_dicom(frames, tmp_path / "mf.dcm", DicomVariant())
    with pytest.raises(errors.MultiFrameError, match="3 frames"):
        load_radiograph(path)


@pytest.mark.parametrize("value", ["1.5", "1\\1", "inf"])
def test_a_number_of_frames_that_is_not_one_whole_number_is_named(
    tmp_path: Path, value: str
) -> None:
    # it was read as int(float(...)) from the first value, and the decoder then choked on
    # the header's own value with a message that named neither the tag nor the problem
    path = _write(tmp_path, DicomVariant(extra=((0x00280008, "IS", "+987"),)))
    data = path.read_bytes()
    assert data.count(b"+987") == 1  # pydicom writes no IS "inf": patched in, padded to 4
    path.write_bytes(data.replace(b"+987", value.encode().ljust(4)))
    with pytest.raises(errors.MalformedDicomError, match=r"\(0028,0008\) Number of Frames"):
        load_radiograph(path)


def test_an_empty_second_number_of_frames_is_dropped(tmp_path: Path) -> None:
    """"1\\" holds one value and an empty one, dropped as a Photometric Interpretation's is."""
    path = _write(tmp_path, DicomVariant(extra=((0x00280008, "IS", "+987"),)))
    path.write_bytes(path.read_bytes().replace(b"+987", b"1\\  "))
    assert load_radiograph(path).pixels.shape == SHAPE


def test_two_photometric_interpretations_are_malformed(tmp_path: Path) -> None:
    path = _write(tmp_path, DicomVariant(extra=((0x00280004, "CS", "MONOCHROME2\\MONOCHROME1"),)))
    with pytest.raises(errors.MalformedDicomError, match=r"Photometric Interpretation holds 2"):
        load_radiograph(path)


@pytest.mark.parametrize("syntax", ["explicit_le", "rle", "jpeg_ls"])
def test_a_lower_case_photometric_interpretation_is_read(tmp_path: Path, syntax: str) -> None:
    # the loader upper-cases it; the decoder was given the header's own value and refused it
    upper = load_radiograph(_write(tmp_path, DicomVariant(transfer_syntax=syntax)))
    path = write_dicom(
        _pixels(),
        tmp_path / "lower.dcm",
        DicomVariant(transfer_syntax=syntax, extra=((0x00280004, "CS", "monochrome2"),)),
    )
    lower = load_radiograph(path)
    assert lower.meta.photometric == "MONOCHROME2"
    np.testing.assert_array_equal(lower.pixels, upper.pixels)


def test_unsupported_transfer_syntax_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, DicomVariant(transfer_syntax="jpeg_2000"))
    data = path.read_bytes().replace(b"1.2.840.10008.1.2.4.90", b"1.2.840.10008.1.2.4.55")
    path.write_bytes(data)
    with pytest.raises(errors.UnsupportedPixelDataError, match=r"1\.2\.840\.10008\.1\.2\.4\.55"):
        load_radiograph(path)


def test_corrupt_codestream_is_unsupported_pixel_data(tmp_path: Path) -> None:
    path = _write(tmp_path, DicomVariant(transfer_syntax="jpeg_ls"))
    data = bytearray(path.read_bytes())
    start = data.index(b"\xff\xd8")  # JPEG-LS start of image
    data[start + 20 : start + 200] = b"\x00" * 180
    path.write_bytes(bytes(data))
    with pytest.raises(errors.UnsupportedPixelDataError, match="JPEG-LS"):
        load_radiograph(path)


@pytest.mark.parametrize(
    "marker",
    [b"\xff\x4f\xff\x51", b"\xff\xd8\xff\xc0"],
    ids=["jpeg2000-siz", "jpeg-sof"],
)
def test_rle_bytes_that_look_like_a_codestream_header_are_not_one(
    tmp_path: Path, marker: bytes
) -> None:
    """RLE carries no frame size, and its compressed bytes may hold a JPEG 2000 SIZ or a JPEG
    SOF marker by chance (a literal run of the low bytes here spells one out): a valid RLE film
    loads, exactly, instead of being refused for the nonsense size read after the marker. (A
    16-bit RLE phantom of the judges' training set was refused so.)"""
    src = np.full(SHAPE, 0x0123, np.uint16)
    src[0, :8] = [0x0100 | b for b in marker + b"\x00\x07\x09\x11"]
    path = _write(tmp_path, DicomVariant(transfer_syntax="rle"), src)
    assert marker in path.read_bytes()  # the marker is in the stream, as written
    rad = load_radiograph(path)
    np.testing.assert_array_equal(rad.pixels, src.astype(np.float32))


@pytest.mark.parametrize(("rows", "cols"), [(63, 80), (64, 79)], ids=["rows", "columns"])
def test_an_rle_stream_larger_than_rows_x_columns_is_a_size_mismatch(
    tmp_path: Path, rows: int, cols: int
) -> None:
    """RLE carries no frame size of its own, but each decoded segment holds the frame's pixels:
    with one column fewer in the header than in the stream, pydicom's RLE decoder read every
    row one pixel further along (a slanted film, graded without a word; its warning was
    silenced), with one row fewer it dropped the last row."""
    path = _write(tmp_path, DicomVariant(transfer_syntax="rle"))
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = rows, cols
    ds.save_as(path)
    with pytest.raises(errors.SizeMismatchError, match=rf"declare {rows} x {cols}"):
        load_radiograph(path)


def test_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a radiograph\n" * 20)
    with pytest.raises(errors.NotDicomError):
        load_radiograph(path)


def test_missing_file_is_a_brooker_error(tmp_path: Path) -> None:
    with pytest.raises(errors.InputNotFoundError, match="no such file"):
        load_radiograph(tmp_path / "absent.dcm")


def test_huge_declared_size_fails_before_allocating(tmp_path: Path) -> None:
    import tracemalloc

    variant = DicomVariant(extra=((0x00280010, "US", 46341), (0x00280011, "US", 46341)))
    path = _write(tmp_path, variant)
    tracemalloc.start()
    try:
        with pytest.raises(errors.SizeMismatchError):
            load_radiograph(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_a_deflated_file_is_refused_before_it_inflates_beyond_the_cap(tmp_path: Path) -> None:
    """A deflated data set is inflated whole by pydicom before any header is checked: a file
    of a few hundred kB declaring a film beyond the cap (46341 x 46341 in a 4 MB file) took
    twice its inflated size in memory, far past the 2 GB a worker is promised to stay under.
    Here 6000 x 6000 zeros (72 MB inflated, 70 kB on disk) with a 1 MP cap (68 MiB limit)."""
    import tracemalloc

    path = write_dicom(
        np.zeros((6000, 6000), np.uint16),
        tmp_path / "bomb.dcm",
        DicomVariant(transfer_syntax="deflated", pixel_spacing_mm=(0.1, 0.1)),
    )
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(errors.SizeMismatchError, match="inflates to more than"):
            load_radiograph(path, max_megapixels=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20


def test_a_size_mismatch_smaller_than_the_rounding_shows_the_exact_sizes(tmp_path: Path) -> None:
    # one row more in the header than in the data: both sizes round to 1.1 MiB, and the
    # message said "holds 1.1 MiB but ... need 1.1 MiB"
    path = write_dicom(np.zeros((700, 800), np.uint16), tmp_path / "r.dcm", DicomVariant())
    ds = pydicom.dcmread(path)
    ds.Rows = 701
    ds.save_as(path)
    with pytest.raises(errors.TruncatedPixelDataError) as info:
        load_radiograph(path)
    assert "holds 1,120,000 bytes but 701 x 800 pixels at 16 bits need 1,121,600 bytes" in str(
        info.value
    )


@pytest.mark.parametrize(("bits_stored", "cols", "excess"), [(8, 78, 64), (12, 78, 126),
                                                              (12, 71, 1008)])
def test_more_pixel_data_than_declared_is_a_caveat(
    tmp_path: Path, bits_stored: int, cols: int, excess: int
) -> None:
    # one column fewer in the header than in the data: every row was read one pixel further
    # along, a slanted film graded without a word. 63 x 79 8-bit pixels take an odd number of
    # bytes: the pad byte that makes it even is no excess
    px = _pixels(bits=bits_stored)[:63, :79]
    path = write_dicom(px, tmp_path / "c.dcm", DicomVariant(bits_stored=bits_stored))
    assert not any("Pixel Data holds" in c for c in load_radiograph(path).caveats)
    ds = pydicom.dcmread(path)
    ds.Columns = cols
    ds.save_as(path)
    caveats = load_radiograph(path).caveats
    # no thousands separator: the report counts kinds of caveat with numbers taken out
    assert any(f"holds {excess} bytes more than 63 x {cols} pixels" in c for c in caveats)


def test_a_whole_extra_frame_of_native_pixel_data_is_read_as_declared_with_a_caveat(
    tmp_path: Path,
) -> None:
    """A second frame's worth of data (Number of Frames left out) is not refused as a size
    mismatch (README, error codes): the declared frame is read, and the caveat says the rest
    was ignored. PS3.5 8.1.1 asks readers to accept excess padding."""
    first, second = _pixels(seed=1), _pixels(seed=2)
    path = write_dicom(first, tmp_path / "f.dcm", DicomVariant())
    ds = pydicom.dcmread(path)
    ds.PixelData = first.tobytes() + second.tobytes()
    ds.save_as(path)
    rad = load_radiograph(path)
    np.testing.assert_array_equal(rad.pixels, first.astype(np.float32))
    need = first.size * 2
    assert any(f"holds {need} bytes more than 64 x 80 pixels need" in c for c in rad.caveats)


def test_megapixel_cap_is_a_parameter(tmp_path: Path) -> None:
    path = _write(tmp_path, DicomVariant())
    with pytest.raises(errors.SizeMismatchError, match="MP cap"):
        load_radiograph(path, max_megapixels=0.001)


@pytest.mark.parametrize("cap", [0, -1, float("nan"), float("inf"), True, "120"])
def test_a_megapixel_cap_that_is_no_cap_is_the_callers_error(tmp_path: Path, cap: object) -> None:
    """A cap of 0 or -1 refused every film as size_mismatch ("beyond the -1 MP cap") and NaN
    as malformed_dicom, blaming the file: now a ConfigError, as AnalysisConfig raises."""
    path = _write(tmp_path, DicomVariant())
    with pytest.raises(errors.ConfigError, match="max_megapixels must be a positive finite"):
        load_radiograph(path, max_megapixels=cap)  # type: ignore[arg-type]


@pytest.mark.parametrize("spacing", [(True, True), ("0.1", "0.1")])
def test_a_user_spacing_that_is_not_numbers_is_refused(tmp_path: Path, spacing: object) -> None:
    """As AnalysisConfig and the magnification refuse them: (True, True) was graded at 1 mm
    a pixel and strings parsed, so the API took what the config calls an error."""
    path = _write(tmp_path, DicomVariant())
    with pytest.raises(errors.InvalidSpacingError, match="given by the user must be two"):
        load_radiograph(path, pixel_spacing=spacing)  # type: ignore[arg-type]
    assert load_radiograph(path, pixel_spacing=(np.float32(0.2), 1)).spacing is not None


@pytest.mark.parametrize("one", [0.2, np.float64(0.2), 1])
def test_one_user_spacing_is_square_pixels(tmp_path: Path, one: object) -> None:
    """``--pixel-spacing 0.2`` means square pixels, but the API refused ``pixel_spacing=0.2``
    (a research engineer's test of 2026-12-07); a bool is still no number."""
    path = _write(tmp_path, DicomVariant())
    spacing = load_radiograph(path, pixel_spacing=one).spacing  # type: ignore[arg-type]
    assert spacing is not None
    assert (spacing.row_mm, spacing.col_mm) == (float(one), float(one))  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidSpacingError, match="given by the user must be two"):
        load_radiograph(path, pixel_spacing=True)  # type: ignore[arg-type]


# ------------------------------------------------------------------ headers and encodings


@pytest.mark.parametrize(("preamble", "file_meta"), [(False, True), (True, False), (False, False)])
@pytest.mark.parametrize("syntax", ["explicit_le", "implicit_le"])
def test_files_without_preamble_or_meta_load(
    tmp_path: Path, preamble: bool, file_meta: bool, syntax: str
) -> None:
    src = _pixels()
    variant = DicomVariant(transfer_syntax=syntax, preamble=preamble, file_meta=file_meta)
    rad = load_radiograph(_write(tmp_path, variant, src))
    np.testing.assert_array_equal(rad.pixels, src.astype(np.float32))


@pytest.mark.parametrize("syntax", ["explicit_le", "implicit_le"])
def test_a_file_that_starts_with_its_dicm_marker_loads(tmp_path: Path, syntax: str) -> None:
    """"DICM" and the file meta at offset 0, the 128-byte preamble left out: the sniffer takes
    it for DICOM, so the loader reads it too (it said "no 'DICM' marker")."""
    src = _pixels()
    whole = _write(tmp_path, DicomVariant(transfer_syntax=syntax), src).read_bytes()
    path = tmp_path / "dicm_first.dcm"
    path.write_bytes(whole[128:])
    assert path.read_bytes()[:4] == b"DICM"
    rad = load_radiograph(path)
    np.testing.assert_array_equal(rad.pixels, src.astype(np.float32))
    assert rad.meta.transfer_syntax_uid == str(TRANSFER_SYNTAXES[syntax])
    assert rad.spacing == load_radiograph(tmp_path / "img.dcm").spacing


def test_a_large_file_that_starts_with_dicm_is_refused_for_what_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read from memory behind a blank preamble only up to the re-parse limit; beyond it the
    message says why (it said "no 'DICM' marker")."""
    from brooker import dicom_io

    whole = _write(tmp_path, DicomVariant()).read_bytes()
    path = tmp_path / "dicm_first.dcm"
    path.write_bytes(whole[128:])
    monkeypatch.setattr(dicom_io, "_REPARSE_MAX_BYTES", 1000)
    with pytest.raises(errors.MalformedDicomError, match="starts with DICM, its 128-byte"):
        load_radiograph(path)


def _dicomdir(tmp_path: Path) -> Path:
    """A media folder as a CD export writes it: DICOMDIR beside PT*/ST*/SE*/IM*."""
    src = _write(tmp_path, DicomVariant(pixel_spacing_mm=(0.2, 0.2)))
    index = write_media_folder(src, tmp_path / "cd")
    src.unlink()
    return index


def test_a_dicomdir_is_not_an_image(tmp_path: Path) -> None:
    path = _dicomdir(tmp_path)
    with pytest.raises(errors.NotAnImageError, match="DICOMDIR") as info:
        load_radiograph(path)
    assert info.value.message.startswith(f"{path}: a DICOMDIR (the index of a DICOM media")


def test_meta_without_transfer_syntax_is_read_as_implicit(tmp_path: Path) -> None:
    from pydicom.filewriter import dcmwrite

    from brooker.phantom_dicom import build_dataset

    src = _pixels()
    ds = build_dataset(src, DicomVariant(transfer_syntax="implicit_le"))
    del ds.file_meta.TransferSyntaxUID
    path = tmp_path / "nots.dcm"
    dcmwrite(path, ds, implicit_vr=True, little_endian=True)
    rad = load_radiograph(path)
    assert rad.meta.transfer_syntax_name == "Implicit VR Little Endian"
    np.testing.assert_array_equal(rad.pixels, src.astype(np.float32))


# ------------------------------------------------------------------ identifiers


def test_meta_and_caveats_carry_no_identifiers(tmp_path: Path) -> None:
    rad = load_radiograph(
        _write(tmp_path, DicomVariant(patient_orientation=None, view_position=None))
    )
    text = repr(rad.meta) + " ".join(rad.caveats)
    for value in FAKE_IDENTIFIERS.values():
        assert value not in text
        assert value.split("^")[0] not in text


@pytest.mark.parametrize("code", [i for i, *_ in REFUSALS])
def test_error_messages_carry_no_identifiers(tmp_path: Path, code: str) -> None:
    variant = next(v for i, v, _, _ in REFUSALS if i == code)
    with pytest.raises(errors.BrookerError) as info:
        load_radiograph(_write(tmp_path, variant))
    for value in FAKE_IDENTIFIERS.values():
        assert value not in info.value.message
        assert "SECRET" not in info.value.message


def test_header_values_quoted_in_caveats_and_meta_are_redacted(tmp_path: Path) -> None:
    # a value quoted from the header (a corrupted or misfilled element) can hold the patient's
    # name: errors are redacted, and so must be the caveats and meta that reach the records
    variant = DicomVariant(
        patient_orientation=("DOE", "JANE"),
        view_position="SECRET",
        imager_pixel_spacing_mm=(0.2, 0.2),
        extra=((0x00280030, "LO", "DOE\\JANE"), (0x00181114, "LO", "SECRET")),
    )
    rad = load_radiograph(_write(tmp_path, variant))
    assert rad.spacing is not None
    assert rad.spacing.row_mm == 0.2
    text = repr(rad.meta) + " ".join(rad.caveats)
    assert "[redacted]" in text
    for word in ("DOE", "JANE", "SECRET"):
        assert word not in text


def test_an_identifier_is_redacted_whatever_its_case(tmp_path: Path) -> None:
    """A name typed in mixed case comes back upper-cased from a code string (Patient
    Orientation, View Position and Body Part Examined are CS): redacted all the same."""
    variant = DicomVariant(
        patient_orientation=("JANETH", "F"),
        view_position="PID98765X",
        extra=(
            (0x00100010, "PN", "Doe^Janeth"),
            (0x00100020, "LO", "pid98765x"),
            (0x00180015, "CS", "DOE JANETH"),
        ),
    )
    rad = load_radiograph(_write(tmp_path, variant))
    text = (repr(rad.meta) + " ".join(rad.caveats)).casefold()
    assert "[redacted]" in text
    for word in ("janeth", "pid98765x"):
        assert word not in text


def test_a_redacted_patient_orientation_is_quoted_whole(tmp_path: Path) -> None:
    """Both values of a Patient Orientation holding identifiers are quoted as
    ``[redacted]\\[redacted]``: the quote was the joined text cut to 20 characters, which cut
    the second marker's closing bracket off."""
    variant = DicomVariant(
        patient_orientation=("PIDQQ98765", "ZYXWVUT"),
        extra=((0x00100010, "PN", "Zyxwvut^Quentin"), (0x00100020, "LO", "PIDQQ98765")),
    )
    rad = load_radiograph(_write(tmp_path, variant))
    (caveat,) = [c for c in rad.caveats if "(0020,0020)" in c]
    assert "Patient Orientation [redacted]\\[redacted] does not run left-right" in caveat


def test_a_name_part_next_to_a_component_group_separator_is_redacted(tmp_path: Path) -> None:
    """A Person Name holds up to three component groups split by "=" (alphabetic, ideographic,
    phonetic): the given name before an "=" is a name part like any other, not "Quentina=Xy"."""
    variant = DicomVariant(
        extra=((0x00100010, "PN", "Doe^Quentina=Xy"), (0x00180015, "CS", "HIP QUENTINA"))
    )
    rad = load_radiograph(_write(tmp_path, variant))
    text = (repr(rad.meta) + " ".join(rad.caveats)).casefold()
    assert "[redacted]" in text
    assert "quentina" not in text


def test_a_two_character_ideographic_name_part_is_redacted() -> None:
    """Ideographic family and given names are often two characters ("山田^太郎"): redacted,
    where a two-letter Latin part ("Li") is not sought inside other values."""
    from pydicom.dataset import Dataset

    from brooker.dicom_io import _identifier_values, _redact

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Yamada^Li=山田^太郎"
    ident = list(_identifier_values(ds))
    assert _redact("HIP 山田 太郎", ident) == "HIP [redacted] [redacted]"
    assert _redact("HIP LIGHT", ident) == "HIP LIGHT"
    assert _redact("PELVIS YAMADA", ident) == "PELVIS [redacted]"


@pytest.mark.parametrize(
    ("element", "value"),
    [
        ((0x00100020, "LO", "MRN20240001234567"), "MRN20240001234567\\0.1"),  # ID, 17 chars
        ((0x00100010, "PN", "WOLFESCHLEGELSTEIN^HUBERT"), "WOLFESCHLEGELSTEIN^HUBERT"),
    ],
)
def test_a_long_identifier_in_a_spacing_element_is_redacted_before_it_is_cut(
    tmp_path: Path, element: tuple[int, str, str], value: str
) -> None:
    # a value is cut to 16 characters for the message: cut first, an identifier no longer
    # matched the header's and its first 16 characters reached the caveats and spacing_inputs
    variant = DicomVariant(
        imager_pixel_spacing_mm=(0.2, 0.2), extra=(element, (0x00280030, "LO", value))
    )
    rad = load_radiograph(_write(tmp_path, variant))
    text = " ".join(rad.caveats) + repr(rad.spacing_inputs)
    assert "[redacted]" in text
    assert element[2][:8] not in text


@pytest.mark.parametrize(
    ("tag", "vr", "error"),
    [
        (0x00280004, "CS", errors.MalformedDicomError),  # Photometric Interpretation
        # misfilled as LO: pydicom will not write such a value under their own VRs
        (0x00280008, "LO", errors.MalformedDicomError),  # Number of Frames
        (0x00281053, "LO", errors.MalformedDicomError),  # Rescale Slope
    ],
)
def test_an_identifier_in_a_misfilled_short_element_is_redacted_before_it_is_cut(
    tmp_path: Path, tag: int, vr: str, error: type[errors.BrookerError]
) -> None:
    # these values are quoted in the error message cut to 40 characters; cut first, the
    # identifier after 30 characters of filler no longer matched and its start leaked
    patient_id = "MRN20240001234567"
    variant = DicomVariant(
        pixel_spacing_mm=(0.2, 0.2),
        extra=((0x00100020, "LO", patient_id), (tag, vr, "X" * 30 + patient_id)),
    )
    with pytest.raises(error) as info:
        load_radiograph(_write(tmp_path, variant))
    assert "[redacted]" in str(info.value)
    assert patient_id[:6] not in str(info.value)


def test_a_colour_images_photometric_interpretation_is_quoted_redacted_and_short(
    tmp_path: Path,
) -> None:
    name = "Wolfeschlegelstein^Hubert"
    variant = DicomVariant(
        pixel_spacing_mm=(0.2, 0.2),
        extra=(
            (0x00100010, "PN", name),
            (0x00280004, "CS", "RGB " + name + " " + "Y" * 60),
        ),
    )
    with pytest.raises(errors.ColourImageError) as info:
        load_radiograph(_write(tmp_path, variant))
    text = str(info.value)
    assert "[redacted]" in text
    assert "Wolfe" not in text
    assert "WOLFE" not in text
    assert "Y" * 41 not in text


def test_a_long_calibration_type_is_kept_short_and_printable(tmp_path: Path) -> None:
    variant = DicomVariant(
        pixel_spacing_mm=(0.2, 0.2),
        imager_pixel_spacing_mm=(0.2, 0.2),
        extra=((0x00280A02, "LO", "GEOMETRY " * 20 + "\r\nX"),),
    )
    rad = load_radiograph(_write(tmp_path, variant))
    assert rad.spacing_inputs is not None
    assert rad.spacing_inputs.tags is not None
    kept = rad.spacing_inputs.tags.calibration_type
    assert kept is not None
    assert len(kept) <= 40
    assert kept.isprintable()


def test_str_of_a_loader_error_is_the_redacted_message(tmp_path: Path) -> None:
    # `except BrookerError as e: print(e)` is what an API user writes: str() must be the
    # message as redacted and prefixed with the file by the loader, not the raw detail
    path = _write(tmp_path, DicomVariant(photometric="DOE^JANE^SECRET"))
    with pytest.raises(errors.MalformedDicomError) as info:
        load_radiograph(path)
    assert "SECRET" not in info.value.message
    assert str(info.value) == info.value.message
    assert "SECRET" not in repr(info.value)


def test_foreign_exception_text_is_redacted(tmp_path: Path) -> None:
    from brooker.dicom_io import _redact

    assert "DOE" not in _redact("bad value DOE^JANE^SECRET here", ["DOE^JANE^SECRET", "DOE"])


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"BM6\x00\x00\x00\x00\x00\x00\x006\x00\x00\x00", "but a BMP image"),
        (b"GIF89a\x01\x00\x01\x00", "but a GIF image"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "but a WebP image"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "but a JPEG 2000 image file (JP2)"),
        (b"%PDF-1.7\n", "but a PDF document"),
        (b"PK\x03\x04\x14\x00", "but a ZIP archive (unpack it first)"),
        (b"", ": the file is empty (0 bytes)"),
        (b"\x13\x37" * 50, ": no 'DICM' marker and no readable DICOM data elements"),
    ],
    ids=["bmp", "gif", "webp", "jp2", "pdf", "zip", "empty", "noise"],
)
def test_a_file_that_is_not_dicom_is_named_for_what_it_is(
    tmp_path: Path, head: bytes, what: str
) -> None:
    """A BMP, a GIF, an archive or an empty file was told it had "no 'DICM' marker"."""
    path = tmp_path / "film.dcm"
    path.write_bytes(head + (b"\x00" * 200 if head else b""))
    with pytest.raises(errors.NotDicomError) as info:
        load_radiograph(path)
    sep = " " if what.startswith("but") else ""
    assert info.value.message == f"{path}: not a DICOM file{sep}{what}" + (
        " (brooker reads DICOM, PNG, JPEG and TIFF)" if what.startswith("but") else ""
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [("film.png", "PNG"), ("film.JPG", "JPEG"), ("film.jpeg", "JPEG"), ("film.tif", "TIFF")],
)
def test_a_file_named_as_an_image_that_is_none_says_so(
    tmp_path: Path, name: str, kind: str
) -> None:
    """A text file named x.png was told "not a DICOM file": its reader had not thought it
    was one (the audit of 2026-12-07)."""
    path = tmp_path / name
    path.write_text("case,grade\ncase_0001,3\n" * 20)
    with pytest.raises(errors.NotDicomError) as info:
        load_radiograph(path)
    assert info.value.message == (
        f"{path}: neither a {kind} image (as its name says: it does not begin as one does) "
        "nor a DICOM file (no 'DICM' marker, no readable DICOM data elements)"
    )
    assert info.value.code == "not_dicom"


def test_a_short_name_part_leaves_the_words_of_the_message_whole() -> None:
    """A referring physician "WHO^DR^SECRET" turned "whose" into "[redacted]se" in the
    loader's own message; a short part is redacted only where no letter touches it, a long
    value (or the whole element) wherever it is."""
    from brooker.dicom_io import _redact

    ident = ["WHO^DR^SECRET", "WHO", "SECRET", "DOE", "王小"]
    text = "8-bit colour whose channels are equal; Who; DOE1; xSECRETx; drwho^dr^secretx"
    assert _redact(text, ident, value=False) == (
        "8-bit colour whose channels are equal; [redacted]; [redacted]1; x[redacted]x; "
        "dr[redacted]x"
    )
    # a value read from the header is redacted wherever an identifier is in it, and so is a
    # short name glued to other script than Latin letters in a message
    assert _redact("RGBWHO", ident) == "RGB[redacted]"
    assert _redact("APDOE", ident) == "AP[redacted]"
    assert _redact("view 王小明 here", ident, value=False) == "view [redacted]明 here"


def test_a_name_that_is_one_of_the_loaders_own_words_leaves_its_messages_whole(
    tmp_path: Path,
) -> None:
    """An anonymised export named "Patient^Anonymous" had the loader's own "patient's right"
    and "Patient Orientation" printed as "[redacted]'s right" and "[redacted] Orientation":
    where the marker fell told the reader the name. brooker's own phrases stay whole; the
    name in a header value, and in text that is not brooker's phrase, is still redacted."""
    from brooker.dicom_io import _identifier_values, _redact

    variant = DicomVariant(
        patient_orientation=None,
        view_position="PATIENT",  # a misfilled element holding the name
        extra=((0x00100010, "PN", "Patient^Anonymous"), (0x00180015, "CS", "HIP ANONYMOUS")),
    )
    rad = load_radiograph(_write(tmp_path, variant))
    text = " ".join(rad.caveats)
    assert "sides assumed from the AP convention (patient's right on the image's left)" in text
    assert "(0020,0020) Patient Orientation or (0018,5101) View Position" in text
    assert "anonymous" not in (repr(rad.meta) + text).casefold()
    assert rad.meta.view_position == "[redacted]"
    ident = list(_identifier_values(pydicom.dcmread(_write(tmp_path, variant))))
    assert _redact("bad value 'PATIENT' in (0010,0010)", ident, value=False) == (
        "bad value '[redacted]' in (0010,0010)"
    )
    # phrases kept in module-level tables are the loader's own words too; a phrase is
    # matched as whole words ("long the" is not inside "along the"), so foreign text keeps
    # its redaction (a review of 2026-12-07)
    window = "the file's window ((0028,1050) Window Center, (0028,1051) Window Width) shows"
    assert _redact(window, ["Window"], value=False) == window
    assert _redact("value Long the end", ["Long"], value=False) == "value [redacted] the end"
    assert _redact("decoder: HEAD is corrupt", ["HEAD"], value=False) == (
        "decoder: [redacted] is corrupt"
    )


def test_a_modality_run_into_the_patients_name_is_quoted_redacted(tmp_path: Path) -> None:
    with pytest.raises(errors.NotARadiographError) as info:  # the fake name is DOE^JANE^...
        load_radiograph(_write(tmp_path, DicomVariant(modality="CRDOE")))
    assert "(0008,0060) Modality is CR[redacted], not a projection" in info.value.message
    assert "DOE" not in info.value.message


def test_a_colour_refusal_names_no_identifier_and_keeps_its_words(tmp_path: Path) -> None:
    px = np.zeros((*SHAPE, 3), np.uint16)
    with pytest.raises(errors.ColourImageError) as info:  # the fake physician is "WHO^DR^..."
        load_radiograph(write_dicom(px, tmp_path / "c.dcm", DicomVariant(photometric="RGB")))
    assert "with equal channels is read, as grey" in info.value.message
    assert "[redacted]" not in info.value.message


# ------------------------------------------------------------------ robustness


def test_dl_folder_in_cwd_does_not_break_import(tmp_path: Path) -> None:
    (tmp_path / "dl").mkdir()
    path = _write(tmp_path, DicomVariant(transfer_syntax="jpeg_ls"))
    code = (
        f"import brooker.dicom_io as d; r = d.load_radiograph({str(path)!r}); print(r.meta.decoder)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "pyjpegls"


def test_loaded_radiograph_defaults(tmp_path: Path) -> None:
    rad = load_radiograph(_write(tmp_path, DicomVariant(pixel_spacing_mm=(0.2, 0.1))))
    assert rad.patient_right_on is ImageSide.LEFT
    assert rad.spacing is not None
    assert rad.spacing.source is SpacingSource.PIXEL_SPACING_UNCALIBRATED
    assert rad.meta.rows == SHAPE[0]
    assert rad.meta.cols == SHAPE[1]
    assert rad.meta.bits_stored == 12
    assert rad.meta.modality == "DX"


@pytest.mark.parametrize("at_the_top", [True, False])
def test_high_bit_says_where_the_stored_bits_stand(tmp_path: Path, at_the_top: bool) -> None:
    """(0028,0102) High Bit 15 with Bits Stored 12: the values in bits 4-15 of each sample (as
    PS3.5 8.1.1 allows) were refused as noise ("corrupt header"); they are read shifted down,
    with a caveat. The same High Bit over values at the bottom (a writer's slip) reads them
    as they are."""
    from conftest import ROOT
    from pydicom.uid import ExplicitVRLittleEndian

    src = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"
    ds = pydicom.dcmread(src)
    assert (int(ds.BitsAllocated), int(ds.BitsStored), int(ds.HighBit)) == (16, 12, 11)
    values = ds.pixel_array.astype(np.uint16)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.HighBit = 15
    ds.PixelData = (values << 4 if at_the_top else values).tobytes()
    path = tmp_path / "high_bit.dcm"
    ds.save_as(path)
    original, moved = load_radiograph(src), load_radiograph(path)
    np.testing.assert_array_equal(moved.pixels, original.pixels)
    said = [c for c in moved.caveats if "(0028,0102) High Bit 15" in c]
    assert len(said) == int(at_the_top)
    if at_the_top:
        assert "bits 4-15 of each 16-bit sample" in said[0]
        assert grade_path(path).to_record()["status"] == "ok"


def test_loads_overlapping_in_threads_leave_the_callers_warning_filters_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader silences the decoders' warnings while it reads a file. With
    ``warnings.catch_warnings`` two loads overlapping in a thread pool (one in, the other in,
    the first out, the second out) left "ignore every warning" in place for good, and the
    calling program's own warnings were dropped (a user's test of 2026-12-07)."""
    import threading

    from brooker import dicom_io

    a_in, b_in, a_done = threading.Event(), threading.Event(), threading.Event()

    def load(path: Path, *_: object) -> None:
        if path.name == "a.dcm":
            a_in.set()
            assert b_in.wait(10)
        else:
            b_in.set()
            assert a_done.wait(10)
        raise errors.NotDicomError("stand-in", str(path))

    monkeypatch.setattr(dicom_io, "_load", load)
    a, b = _write(tmp_path, DicomVariant()), tmp_path / "b.dcm"
    a = a.rename(tmp_path / "a.dcm")
    b.write_bytes(a.read_bytes())
    before = list(warnings.filters)
    failed: list[BaseException] = []

    def run(path: Path, done: threading.Event | None) -> None:
        try:
            load_radiograph(path)
        except errors.NotDicomError:
            pass
        except BaseException as exc:
            failed.append(exc)
        finally:
            if done is not None:
                done.set()

    first = threading.Thread(target=run, args=(a, a_done))
    first.start()
    assert a_in.wait(10)
    second = threading.Thread(target=run, args=(b, None))
    second.start()
    first.join(10)
    second.join(10)
    assert not failed
    assert warnings.filters == before
    with pytest.warns(UserWarning, match="the caller's own"):
        warnings.warn("the caller's own", UserWarning, stacklevel=1)


@pytest.mark.parametrize("syntax", ["jpeg_ls", "rle", "explicit_le"])
def test_a_film_cut_short_is_truncated_pixel_data_with_its_uid(tmp_path: Path, syntax: str) -> None:
    """A compressed film cut short in transfer (its encapsulated Pixel Data running off the
    end) was refused as "ends right after its file meta information", malformed_dicom with
    no SOP Instance UID, where an uncompressed one cut the same way was truncated_pixel_data
    with it (a user's test of 2026-12-07): a pipeline cannot find the film again without it."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 4096, (256, 320)).astype(np.uint16)
    whole = _write(tmp_path, DicomVariant(transfer_syntax=syntax), pixels)
    data = whole.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(errors.TruncatedPixelDataError) as info:
        load_radiograph(cut)
    assert info.value.code == "truncated_pixel_data"
    assert info.value.sop_instance_uid == pydicom.dcmread(whole).SOPInstanceUID


def test_a_callers_catch_warnings_across_a_load_leaves_no_ignore_behind() -> None:
    """A caller's own ``catch_warnings`` that begins during a load and ends after it puts
    back the filter list it saved, the loader's "ignore" filter in it (a review of
    2026-12-07): the next load takes it out, so the caller's warnings show again."""
    import threading

    from brooker.quiet import quiet_warnings

    b_in, a_in, b_out = threading.Event(), threading.Event(), threading.Event()
    before = list(warnings.filters)

    def load() -> None:
        with quiet_warnings():
            b_in.set()
            assert a_in.wait(10)
        b_out.set()

    def caller() -> None:
        assert b_in.wait(10)
        with warnings.catch_warnings():
            a_in.set()
            assert b_out.wait(10)

    threads = [threading.Thread(target=load), threading.Thread(target=caller)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    with quiet_warnings():
        pass
    assert warnings.filters == before
