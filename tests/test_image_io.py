"""PNG, JPEG and TIFF input: recognised by content, greyscale only, never graded without a scale."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from brooker import batch, errors, image_io
from brooker.cli import app
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.errors import (
    BrookerError,
    ColourImageError,
    ImplausibleSpacingError,
    InvalidSpacingError,
    MissingSpacingError,
    MultiFrameError,
    SizeMismatchError,
    TruncatedPixelDataError,
)
from brooker.models import ImageSide, SpacingSource
from brooker.phantom_dicom import DicomVariant, write_dicom
from brooker.pipeline import analyze

RAMP = (np.arange(60 * 80, dtype=np.uint32).reshape(60, 80) % 4096).astype(np.uint16)


def _save(arr: np.ndarray, path: Path, fmt: str, **kw: object) -> Path:
    Image.fromarray(arr).save(path, format=fmt, **kw)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "png16": _save(RAMP, tmp_path / "a16", "PNG"),
        "png8": _save((RAMP >> 4).astype(np.uint8), tmp_path / "a8.png", "PNG"),
        "jpeg": _save((RAMP >> 4).astype(np.uint8), tmp_path / "a.jpg", "JPEG", quality=95),
        "tiff16": _save(RAMP, tmp_path / "a.tif", "TIFF"),
    }
    dcm = tmp_path / "a.dcm"
    write_dicom(RAMP, dcm, DicomVariant(pixel_spacing_mm=(0.2, 0.2), calibration_type="GEOMETRY"))
    out["dicom"] = dcm
    return out


def test_image_kind_by_content_not_extension(files: dict[str, Path], tmp_path: Path) -> None:
    assert image_io.image_kind(files["png16"]) == "png"  # no extension at all
    assert image_io.image_kind(files["jpeg"]) == "jpeg"
    assert image_io.image_kind(files["tiff16"]) == "tiff"
    assert image_io.image_kind(files["dicom"]) is None
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not an image at all")
    assert image_io.image_kind(fake) is None


@pytest.mark.parametrize(
    ("key", "bits"), [("png16", 16), ("png8", 8), ("jpeg", 8), ("tiff16", 16)]
)
def test_greyscale_files_load_like_dicom(files: dict[str, Path], key: str, bits: int) -> None:
    rad = load_radiograph(files[key])
    assert rad.pixels.shape == (60, 80)
    assert rad.pixels.dtype == np.float32
    assert rad.meta.bits_stored == bits
    assert rad.spacing is None
    assert rad.laterality_source == "assumed"
    assert rad.patient_right_on is ImageSide.LEFT
    assert any("sides assumed from the AP convention" in c for c in rad.caveats)
    assert any("--flipped" in c for c in rad.caveats)
    if key in ("png16", "tiff16"):
        np.testing.assert_array_equal(rad.pixels, RAMP.astype(np.float32))


def test_the_assumed_sides_caveat_names_the_option_for_the_command_line_and_python(
    files: dict[str, Path],
) -> None:
    """The caveat is read by command-line users and Python users alike: it said
    "flipped=True / --flipped", Python syntax first, to users of the command line."""
    (note,) = [c for c in load_radiograph(files["png8"]).caveats if "AP convention" in c]
    assert "--flipped on the command line" in note
    assert "AnalysisConfig(flipped=True) in Python" in note
    assert "flipped=True /" not in note


def test_flipped_and_user_spacing(files: dict[str, Path]) -> None:
    rad = load_radiograph(files["png16"], pixel_spacing=(0.15, 0.16), flipped=True)
    assert rad.patient_right_on is ImageSide.RIGHT
    assert rad.laterality_source == "user"
    assert not any("assumed" in c for c in rad.caveats)
    assert rad.spacing is not None
    assert (rad.spacing.row_mm, rad.spacing.col_mm) == (0.15, 0.16)
    assert rad.spacing.source is SpacingSource.USER


def test_an_image_files_spacing_options_are_checked_as_for_dicom(files: dict[str, Path]) -> None:
    # an image file has no (0018,1164) Imager Pixel Spacing: the user's magnification is
    # ignored with the caveat a DICOM file without one gets, not silently
    rad = load_radiograph(files["png16"], magnification=1.2)
    assert rad.spacing is None
    assert rad.caveats[0] == (
        "the user's magnification was ignored: the file has no (0018,1164) Imager Pixel "
        "Spacing to divide"
    )
    user = load_radiograph(files["png16"], pixel_spacing=(0.15, 0.15), magnification=1.2)
    assert user.spacing is not None
    assert any("pixel spacing is taken to be at the patient already" in c for c in user.caveats)
    with pytest.raises(InvalidSpacingError, match=r"magnification -1\.2 given by the user"):
        load_radiograph(files["png16"], magnification=-1.2)
    # the reciprocal of 1.15 typed by mistake: a projection magnifies
    with pytest.raises(InvalidSpacingError, match=r"magnification 0\.87 .*at least 1"):
        load_radiograph(files["png16"], magnification=0.87)
    # an implausible spacing is refused at load, as the DICOM loader refuses it
    with pytest.raises(ImplausibleSpacingError, match="given by the user is outside"):
        load_radiograph(files["png16"], pixel_spacing=(5.0, 5.0))


def test_flipped_overrides_dicom_tags_with_a_caveat(files: dict[str, Path]) -> None:
    rad = load_radiograph(files["dicom"], flipped=True)
    assert rad.patient_right_on is ImageSide.RIGHT
    assert rad.laterality_source == "user"


def test_grey_content_saved_as_rgb_is_converted(tmp_path: Path) -> None:
    grey = (RAMP >> 4).astype(np.uint8)
    path = _save(np.stack([grey] * 3, axis=2), tmp_path / "rgb.png", "PNG")
    rad = load_radiograph(path)
    np.testing.assert_allclose(rad.pixels, grey.astype(np.float32))
    jpg = _save(np.stack([grey] * 3, axis=2), tmp_path / "rgb.jpg", "JPEG", quality=90)
    assert load_radiograph(jpg).pixels.shape == (60, 80)


def test_colour_image_refused(tmp_path: Path) -> None:
    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[:, 40:, 2] = 180
    path = _save(rgb, tmp_path / "photo.png", "PNG")
    with pytest.raises(ColourImageError) as exc:
        load_radiograph(path)
    assert exc.value.code == "colour_image"
    assert str(path) in exc.value.message


def test_truncated_png_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 65535, (200, 200), dtype=np.uint16)).save(
        buf, format="PNG"
    )
    data = buf.getvalue()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedPixelDataError) as exc:
        load_radiograph(path)
    assert exc.value.code == "truncated_pixel_data"


def test_multipage_tiff_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.tif"
    a = Image.fromarray(RAMP)
    a.save(path, format="TIFF", save_all=True, append_images=[Image.fromarray(RAMP)])
    with pytest.raises(MultiFrameError):
        load_radiograph(path)


def test_tiff_whose_next_page_is_corrupt_is_a_typed_error(tmp_path: Path) -> None:
    # the first page is fine; the offset to a second page points at an IFD without
    # dimensions: Pillow raises TypeError while counting the pages
    buf = io.BytesIO()
    Image.fromarray(RAMP).save(buf, format="TIFF")
    data = bytearray(buf.getvalue())
    assert data[:4] == b"II*\x00"
    ifd = int.from_bytes(data[4:8], "little")
    n = int.from_bytes(data[ifd : ifd + 2], "little")
    next_at = ifd + 2 + 12 * n
    assert int.from_bytes(data[next_at : next_at + 4], "little") == 0
    if len(data) % 2:
        data += b"\x00"
    data[next_at : next_at + 4] = len(data).to_bytes(4, "little")
    # one entry, (00FE) NewSubfileType LONG 0, and no next IFD
    data += (1).to_bytes(2, "little") + bytes.fromhex("fe00 0400 01000000 00000000") + bytes(4)
    path = tmp_path / "badpage.tif"
    path.write_bytes(bytes(data))
    with pytest.raises(BrookerError) as exc:
        load_radiograph(path)
    assert str(path) in exc.value.message


def test_image_beyond_pillows_bomb_limit_is_a_size_error(tmp_path: Path) -> None:
    # a 15000 x 15000 header (225 MP) on 100 bytes of data: Pillow's decompression-bomb guard
    # (179 MP) fires in Image.open, before the loader's own megapixel cap is checked
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", 15000, 15000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
    path = tmp_path / "bomb.png"
    path.write_bytes(png + chunk(b"IEND", b""))
    for cap in (120.0, 500.0):
        with pytest.raises(SizeMismatchError, match="225 MP") as exc:
            load_radiograph(path, max_megapixels=cap)
        assert str(path) in exc.value.message


def test_image_without_scale_is_never_graded(files: dict[str, Path]) -> None:
    with pytest.raises(MissingSpacingError) as exc:
        analyze(files["png16"], AnalysisConfig())
    assert "no physical pixel spacing: the image file carries none" in exc.value.message


def test_folders_are_searched_for_images_by_content(files: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    found = batch.discover([tmp_path])
    names = {Path(f).name for f in found.files}
    assert {"a16", "a8.png", "a.jpg", "a.tif", "a.dcm"} <= names
    assert "notes.txt" not in names
    assert found.skipped_non_dicom == 1


def test_cli_grade_png_without_scale_names_the_options(
    files: dict[str, Path], tmp_path: Path
) -> None:
    pngs = [str(files["png8"]), str(files["png16"])]  # two films, one kind of error: one hint
    res = CliRunner().invoke(
        app, ["grade", *pngs, "--json", "--workers", "1", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 3
    assert '"code": "missing_spacing"' in res.stdout
    # the hint, once, under the files not graded (the record's message says what only)
    assert "--ball-mm" not in res.stdout
    (hint,) = [line for line in res.stderr.splitlines() if line.startswith("hint: ")]
    for option in ("--pixel-spacing", "--ball-mm", "--head-mm", "--estimate-spacing"):
        assert option in hint


def test_cli_inspect_image(files: dict[str, Path]) -> None:
    res = CliRunner().invoke(app, ["inspect", str(files["png16"]), "--json"])
    assert res.exit_code == 0, res.output
    assert '"laterality_source": "assumed"' in res.stdout
    assert '"spacing": null' in res.stdout


def test_cli_rejects_two_scale_sources(files: dict[str, Path]) -> None:
    res = CliRunner().invoke(
        app, ["inspect", str(files["png16"]), "--ball-mm", "25", "--pixel-spacing", "0.2,0.2"]
    )
    assert res.exit_code == 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_the_image_a_viewer_shows(tmp_path: Path, orientation: int) -> None:
    """A photographed film carries EXIF Orientation (6 or 8 from a phone): the sides are read
    on the picture as shown, as Pillow's ``ImageOps.exif_transpose`` shows it."""
    from PIL import ImageOps

    stored = (RAMP >> 4).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = _save(stored, tmp_path / "e.png", "PNG", exif=exif)
    with Image.open(path) as im:
        shown = np.asarray(ImageOps.exif_transpose(im))
    rad = image_io.load_image(path, pixel_spacing=(0.2, 0.2))
    np.testing.assert_array_equal(rad.pixels, shown.astype(np.float32))
    assert (rad.meta.rows, rad.meta.cols) == shown.shape
    applied = [c for c in rad.caveats if "EXIF Orientation" in c]
    assert len(applied) == (orientation != 1)


def test_a_16_bit_white_is_zero_tiff_is_inverted(tmp_path: Path) -> None:
    """TIFF's MONOCHROME1: Pillow inverts an 8-bit WhiteIsZero image, not a 16-bit one."""
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[262] = 0  # WhiteIsZero
    white = _save(65535 - RAMP, tmp_path / "w.tif", "TIFF", tiffinfo=info)
    black = _save(RAMP, tmp_path / "b.tif", "TIFF")
    rad_w = image_io.load_image(white, pixel_spacing=(0.2, 0.2))
    rad_b = image_io.load_image(black, pixel_spacing=(0.2, 0.2))
    np.testing.assert_array_equal(rad_w.pixels, rad_b.pixels)
    assert any("WhiteIsZero" in c for c in rad_w.caveats)
    assert not any("WhiteIsZero" in c for c in rad_b.caveats)


def test_an_8_bit_white_is_zero_tiff_is_read_as_shown_and_says_so(tmp_path: Path) -> None:
    """Pillow inverts an 8-bit WhiteIsZero TIFF as it reads it: the pixels are as a viewer
    shows them, and the record says the image was inverted, as for 16 bits (it said nothing)."""
    from PIL import TiffImagePlugin

    shown = (RAMP // 16).astype(np.uint8)
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[262] = 0  # WhiteIsZero: Pillow stores the values inverted, and inverts them back
    white = _save(shown, tmp_path / "w8.tif", "TIFF", tiffinfo=info)
    with Image.open(white) as im:
        assert im.tag_v2.get(262) == 0
    rad = image_io.load_image(white, pixel_spacing=(0.2, 0.2))
    np.testing.assert_array_equal(rad.pixels, shown.astype(np.float32))
    assert image_io.WHITE_IS_ZERO_NOTE in rad.caveats
    black = _save(shown, tmp_path / "b8.tif", "TIFF")
    plain = image_io.load_image(black, pixel_spacing=(0.2, 0.2))
    assert image_io.WHITE_IS_ZERO_NOTE not in plain.caveats


def test_a_floating_point_white_is_zero_tiff_is_inverted_about_its_range(tmp_path: Path) -> None:
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[262] = 0  # WhiteIsZero
    values = RAMP.astype(np.float32) / 4095.0
    white = _save(1.0 - values, tmp_path / "wf.tif", "TIFF", tiffinfo=info)
    rad = image_io.load_image(white, pixel_spacing=(0.2, 0.2))
    np.testing.assert_allclose(rad.pixels, values, atol=1e-6)


def _noisy_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    grey = np.add.outer(np.arange(300), np.arange(400)) % 256 + rng.integers(-20, 20, (300, 400))
    buf = io.BytesIO()
    Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_jpeg_whose_entropy_data_is_cut_short_is_refused(tmp_path: Path) -> None:
    # the end of the scan is missing but the file still ends in EOI: Pillow decodes it without
    # a word (libjpeg's "premature end of data segment" warning is silenced) and pads the rest
    data = _noisy_jpeg()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * 0.6)] + b"\xff\xd9")
    with Image.open(path) as img:
        img.load()  # the premise: Pillow alone does not notice
    with pytest.raises(TruncatedPixelDataError) as exc:
        load_radiograph(path)
    assert str(path) in exc.value.message
    assert "premature end" in exc.value.message


def test_jpeg_with_a_flipped_bit_the_decoder_notices_is_refused(tmp_path: Path) -> None:
    data = bytearray(_noisy_jpeg())
    data[len(data) // 2] ^= 0x10
    path = tmp_path / "flip.jpg"
    path.write_bytes(bytes(data))
    with Image.open(path) as img:
        img.load()
    with pytest.raises(BrookerError) as exc:
        load_radiograph(path)
    assert exc.value.code == "unsupported_pixel_data"
    assert "damaged" in exc.value.message


def test_sound_jpeg_passes_the_stream_check(tmp_path: Path) -> None:
    path = tmp_path / "sound.jpg"
    path.write_bytes(_noisy_jpeg())
    assert load_radiograph(path).pixels.shape == (300, 400)


def _old_grey_of_colour(img: Image.Image) -> np.ndarray | None:
    """The conversion as it was before reading in bands (one float copy of every channel)."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    if float(np.percentile(spread, 99.9)) > image_io.GREY_TOLERANCE_8BIT:
        return None
    return rgb.mean(axis=2)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "CMYK", "YCbCr"])
@pytest.mark.parametrize("noise", [0, 3, 7, 40])
def test_colour_files_read_in_bands_as_in_one_piece(
    mode: str, noise: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bands of 7 rows over 600 x 50: a last, short band; the 99.9th percentile of the spread
    # falls between two ranks, so the histogram's interpolation is exercised
    monkeypatch.setattr(image_io, "_COLOUR_BAND_ROWS", 7)
    rng = np.random.default_rng(noise)
    grey = rng.integers(0, 256, (600, 50))
    rgb = np.stack([grey, grey, grey], axis=2)
    rgb[..., 1] += rng.integers(0, noise + 1, grey.shape)
    rgb[::97, ::13, 2] = 255 - rgb[::97, ::13, 2] // 2  # a few wide outliers: the tail
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    img = img.quantize(256) if mode == "P" else img.convert(mode)
    expected = _old_grey_of_colour(img)
    if expected is None:
        with pytest.raises(ColourImageError):
            image_io._to_grey(img, "x.png")
        return
    arr, bits = image_io._to_grey(img, "x.png")
    assert bits == 8
    assert arr.dtype == np.float32
    np.testing.assert_array_equal(arr, expected)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("compression", [None, "tiff_lzw"], ids=["raw", "lzw"])
def test_a_tiffs_orientation_is_applied_and_said(
    tmp_path: Path, orientation: int, compression: str | None
) -> None:
    """A TIFF's Orientation tag: the image as a viewer shows it, with a caveat (none was
    written); an uncompressed quarter turn, which Pillow 13 decodes into scrambled pixels, is
    refused rather than graded."""
    from PIL import Image
    from PIL.Image import Transpose
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    stored = np.zeros((100, 200), np.uint8)
    stored[:10] = 255
    stored[:, :5] = 128
    ifd = ImageFileDirectory_v2()
    ifd[274] = orientation
    path = tmp_path / "film.tif"
    Image.fromarray(stored).save(path, tiffinfo=ifd, compression=compression)
    if compression is None and orientation >= 5:
        with pytest.raises(errors.UnsupportedPixelDataError, match=f"Orientation {orientation}"):
            image_io.load_image(path)
        return
    rad = image_io.load_image(path)
    turn = {
        2: Transpose.FLIP_LEFT_RIGHT, 3: Transpose.ROTATE_180, 4: Transpose.FLIP_TOP_BOTTOM,
        5: Transpose.TRANSPOSE, 6: Transpose.ROTATE_270, 7: Transpose.TRANSVERSE,
        8: Transpose.ROTATE_90,
    }.get(orientation)
    shown = stored if turn is None else np.asarray(Image.fromarray(stored).transpose(turn))
    np.testing.assert_array_equal(rad.pixels, shown.astype(np.float32))
    said = [c for c in rad.caveats if c.startswith("TIFF Orientation")]
    assert said == ([] if turn is None else [
        f"TIFF Orientation {orientation} applied: the image as a viewer shows it"
    ])


def _planar_rgb16_tiff(grey: np.ndarray) -> bytes:
    """An uncompressed 16-bit RGB TIFF stored plane by plane (PlanarConfiguration 2), the three
    planes ``grey``: grey content, as some exporters save it."""
    import struct

    rows, cols = grey.shape
    plane = grey.astype("<u2").tobytes()
    entries = [  # tag, type (3 SHORT, 4 LONG), count, value or offset
        (256, 3, 1, cols), (257, 3, 1, rows), (258, 3, 3, 0), (259, 3, 1, 1),
        (262, 3, 1, 2), (273, 4, 3, 0), (277, 3, 1, 3), (278, 3, 1, rows),
        (279, 4, 3, 0), (284, 3, 1, 2),
    ]  # fmt: skip
    ifd_size = 2 + 12 * len(entries) + 4
    bits_at = 8 + ifd_size
    offsets_at, counts_at = bits_at + 6, bits_at + 18
    data_at = bits_at + 30
    values = {258: bits_at, 273: offsets_at, 279: counts_at}
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = values.get(tag, value)
        long = kind == 4 or count > 1  # a LONG, or the offset of the values
        packed = struct.pack("<I", value) if long else struct.pack("<HH", value, 0)
        out += struct.pack("<HHI", tag, kind, count) + packed
    out += struct.pack("<I", 0)
    out += struct.pack("<3H", 16, 16, 16)
    out += struct.pack("<3I", *(data_at + i * len(plane) for i in range(3)))
    out += struct.pack("<3I", *([len(plane)] * 3))
    return out + plane * 3


def test_an_uncompressed_16_bit_planar_rgb_tiff_is_not_graded_scrambled(tmp_path: Path) -> None:
    """Pillow 13 reads each 16-bit plane of an uncompressed planar RGB TIFF as 8-bit samples:
    half the film's rows, bytes out of order, the three channels still equal, so it passed as
    grey content and was graded. Refused, as the quarter-turned uncompressed TIFF is."""
    path = tmp_path / "planar.tif"
    path.write_bytes(_planar_rgb16_tiff(RAMP))
    with pytest.raises(errors.UnsupportedPixelDataError, match="plane by plane") as exc:
        image_io.load_image(path)
    assert str(path) in exc.value.message


@pytest.mark.parametrize("scale", [1e38, -1e38])
def test_a_float_tiff_of_finite_but_huge_values_is_refused_not_an_internal_error(
    tmp_path: Path, scale: float
) -> None:
    """Values near float32's limit are finite, but sums of a few of them overflow to inf and
    the hip detector failed on the NaN that followed (``internal_error``, exit 1)."""
    path = _save((RAMP / 4095.0).astype(np.float32) * np.float32(scale), tmp_path / "f.tif", "TIFF")
    with pytest.raises(errors.UnsupportedPixelDataError, match="beyond") as exc:
        analyze(path, AnalysisConfig(pixel_spacing=(0.2, 0.2)))
    assert str(path) in exc.value.message


def _png(pixels: np.ndarray, colour_type: int) -> bytes:
    """A PNG of big-endian 16-bit ``pixels`` (rows, cols, channels), written by hand (Pillow
    writes no 16-bit colour)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    rows, cols = pixels.shape[:2]
    data = pixels.astype(">u2")
    raw = b"".join(b"\0" + data[r].tobytes() for r in range(rows))
    ihdr = struct.pack(">IIBBBBB", cols, rows, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("colour_type", "channels"), [(2, 3), (4, 2), (6, 4)])
def test_a_16_bit_colour_png_read_at_8_bits_says_so(
    tmp_path: Path, colour_type: int, channels: int
) -> None:
    """A 16-bit RGB, grey-with-alpha or RGBA PNG is read at 8 bits per channel (Pillow keeps
    each value's high byte), which the record did not say: a caveat says so and how to keep
    the rest. Its high bytes are the image, not scrambled."""
    ramp = np.linspace(0, 65535, 300).astype(np.uint16)
    grey = np.broadcast_to(ramp[None, :], (200, 300))
    pixels = np.stack([grey] * channels, axis=-1)
    if channels in (2, 4):
        pixels[..., -1] = 65535  # opaque alpha
    path = tmp_path / "film.png"
    path.write_bytes(_png(pixels, colour_type))
    rad = image_io.load_image(path, pixel_spacing=(0.2, 0.2))
    assert np.array_equal(rad.pixels[0], (ramp >> 8).astype(np.float32))
    assert any("stores 16 bits per channel" in c for c in rad.caveats)
    eight = _save(np.broadcast_to((ramp >> 8).astype(np.uint8)[None, :, None], (200, 300, 3)),
                  tmp_path / "eight.png", "PNG")
    rad8 = image_io.load_image(eight, pixel_spacing=(0.2, 0.2))
    assert not any("bits per channel" in c for c in rad8.caveats)
