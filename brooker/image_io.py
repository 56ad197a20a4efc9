"""Path -> :class:`~brooker.models.Radiograph` for PNG, JPEG and TIFF exports of radiographs.

Research sets of hip radiographs are mostly PNG or JPEG exports (8 or 16 bit) with no DICOM
header: no spacing, no orientation, no identifiers. This loader reads them into the same
``Radiograph`` the DICOM loader produces:

- **Recognised by content** (:func:`image_kind`): the PNG signature, the JPEG SOI marker
  followed by a marker, or a TIFF byte-order header (classic or BigTIFF), never by extension.
- **Greyscale only.** 8- and 16-bit greyscale (and 32-bit integer or float TIFF) is read as
  is; a colour file whose channels are equal (grey content saved as RGB, palette or with an
  alpha channel; JPEG chroma noise of a few levels allowed) is converted to grey; a colour
  image (a photograph, a coloured annotation over much of the film) is refused with
  :class:`~brooker.errors.ColourImageError`. Multi-page TIFFs are refused.
- **Bone bright** is assumed (exports are displayed that way); values are not rescaled.
- **No scale.** ``spacing`` is the user's ``pixel_spacing`` (refused, as for DICOM, when it
  is implausible: :func:`brooker.spacing.implausible_spacing_reason`) or None: grading then
  refuses (``missing_spacing``) unless the spacing is calibrated from an object of known size
  (:mod:`brooker.calibration`). A user ``magnification`` has no Imager Pixel Spacing to divide
  and is ignored, with a caveat. Resolution tags (PNG pHYs, TIFF XResolution) describe print
  size, not the patient, and are not used.
- **Sides** follow the AP convention (the patient's right on the image's left), with a caveat,
  unless the user says the image is flipped (``flipped=True``: right on the image's right).
- A truncated or corrupt file raises :class:`~brooker.errors.TruncatedPixelDataError` or
  :class:`~brooker.errors.UnsupportedPixelDataError`, a JPEG whose compressed data libjpeg
  finds damaged included (:func:`_check_jpeg_stream`; Pillow alone decodes it silently);
  sizes beyond ``max_megapixels`` are refused before decoding.
"""

from __future__ import annotations

import math
import os
from typing import Final

import numpy as np
import numpy.typing as npt

from brooker.errors import (
    BrookerError,
    ColourImageError,
    MultiFrameError,
    NotDicomError,
    SizeMismatchError,
    TruncatedPixelDataError,
    UnsupportedPixelDataError,
)
from brooker.models import ImageSide, Radiograph, RadiographMeta
from brooker.padding import uniform_border_box
from brooker.quiet import quiet_warnings
from brooker.spacing import resolve_spacing
from brooker.units import MAX_MEGAPIXELS, MAX_PIXEL_MAGNITUDE

_MAGIC: Final = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
)

_NAMES: Final = {"png": "PNG image", "jpeg": "JPEG image", "tiff": "TIFF image"}

#: A colour file is grey content when its channels differ by at most this many levels (of
#: 255) on 99.9 % of the pixels (JPEG's chroma subsampling adds a few levels of noise).
GREY_TOLERANCE_8BIT: Final = 6.0

#: Read on the command line and from Python alike: it names the option both ways, the flag
#: first (as the project's messages name flags), then the ``AnalysisConfig`` field.
ASSUMED_SIDES_CAVEAT: Final = (
    "image file: sides assumed from the AP convention (patient's right on the image's left); "
    "nothing in the file says so (if the patient's right is on the image's right, say so: "
    "--flipped on the command line, AnalysisConfig(flipped=True) in Python)"
)


#: The image files' names, by kind: a file so named that is none of them is told so
#: (:mod:`brooker.dicom_io`), and a folder's file so named is an input (:mod:`brooker.batch`).
SUFFIX_KINDS: Final = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def image_kind(path: str | os.PathLike[str]) -> str | None:
    """``"png"``, ``"jpeg"`` or ``"tiff"`` from the file's first bytes; None otherwise.

    A DICOM Part 10 file (``DICM`` at byte 128) is never an image, even when its preamble is
    a TIFF header (dual-personality files).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(20))
    >>> image_kind(p)
    'png'
    """
    from brooker.paths import open_regular

    try:  # never opens a FIFO or a device (they are refused by the loaders, typed)
        with open_regular(path) as fh:
            head = fh.read(132)
    except (OSError, BrookerError):
        return None
    if head[128:132] == b"DICM":
        return None  # DICOM whose preamble is a TIFF header (dual-personality files)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 4 and head[:3] == b"\xff\xd8\xff" and head[3] != 0x00:
        return "jpeg"
    return None


def load_image(
    path: str | os.PathLike[str],
    *,
    pixel_spacing: tuple[float, float] | float | None = None,
    flipped: bool | None = None,
    max_megapixels: float = MAX_MEGAPIXELS,
    magnification: float | None = None,
) -> Radiograph:
    """Read a PNG, JPEG or TIFF radiograph (see the module docstring).

    Parameters
    ----------
    path : str or PathLike
    pixel_spacing : (float, float) or float, optional
        ``(row_mm, col_mm)`` at the patient, from the user (source ``user``); one number is
        square pixels.
    magnification : float, optional
        The user's magnification: an image file has no (0018,1164) Imager Pixel Spacing to
        divide, so it is ignored with a caveat (checked as :func:`brooker.load_radiograph`
        checks it).
    flipped : bool, optional
        True when the patient's right is on the image's right.
    max_megapixels : float

    Raises
    ------
    BrookerError
        :class:`NotDicomError` (not an image), :class:`ColourImageError`,
        :class:`MultiFrameError`, :class:`SizeMismatchError`,
        :class:`TruncatedPixelDataError`, :class:`UnsupportedPixelDataError`,
        :class:`InvalidSpacingError`, :class:`ImplausibleSpacingError`.
    """
    from PIL import Image, UnidentifiedImageError

    where = str(path)
    kind = image_kind(path)
    if kind is None:
        raise NotDicomError("not a DICOM file, nor a PNG, JPEG or TIFF image", where)
    with quiet_warnings():  # DecompressionBombWarning: the size is checked below
        try:
            img = Image.open(path)
        except Image.DecompressionBombError as exc:
            # Pillow refuses (in Image.open) a header of more than 2 x MAX_IMAGE_PIXELS
            # pixels (179 MP) before our cap is checked: the same refusal, typed
            raise SizeMismatchError(
                f"{_NAMES[kind]} declares {_bomb_size(exc)}, beyond the "
                f"{min(max_megapixels, _pillow_limit_mp()):.4g}-megapixel limit",
                where,
            ) from None
        except UnidentifiedImageError:
            raise UnsupportedPixelDataError(
                f"the {_NAMES[kind]} cannot be decoded", where
            ) from None
        except OSError as exc:
            raise UnsupportedPixelDataError(
                f"the {_NAMES[kind]} cannot be opened ({exc})", where
            ) from None
        except Exception as exc:  # a corrupt header can raise anything inside Pillow
            raise UnsupportedPixelDataError(
                f"the {_NAMES[kind]} cannot be opened ({type(exc).__name__}: {exc})", where
            ) from None
        with img:
            cols, rows = img.size
            if rows * cols > max_megapixels * 1e6:
                raise SizeMismatchError(
                    f"{_NAMES[kind]} of {rows} x {cols} pixels is beyond the "
                    f"{max_megapixels:g}-megapixel limit",
                    where,
                )
            try:  # counting a TIFF's pages reads every IFD: a corrupt one raises TypeError
                frames = int(getattr(img, "n_frames", 1) or 1)
            except Exception as exc:
                raise UnsupportedPixelDataError(
                    f"the pages of the {_NAMES[kind]} cannot be read "
                    f"({type(exc).__name__}: {exc})",
                    where,
                ) from None
            if frames > 1:
                raise MultiFrameError(f"{_NAMES[kind]} has {frames} pages or frames", where)
            mode = img.mode
            if kind == "jpeg":
                _check_jpeg_stream(path, where)
            # a TIFF's own Orientation tag, read before Pillow's loading applies (and drops) it
            tiff_turn = _tiff_orientation(img, where) if kind == "tiff" else None
            if kind == "tiff":
                _refuse_planar_wide(img, where)
            try:
                img.load()
                shown, notes = _as_shown(img, kind)
                if tiff_turn is not None:
                    notes.append(
                        f"TIFF Orientation {tiff_turn} applied: the image as a viewer shows it"
                    )
                arr, bits = _to_grey(shown, where)
                notes += _read_at_8_bits(img, kind, bits, path)
                arr, inverted = _bone_bright(img, arr, bits, kind)
                notes += inverted
            except BrookerError:
                raise
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                text = str(exc)
                if "truncated" in text.lower() or isinstance(exc, EOFError):
                    raise TruncatedPixelDataError(
                        f"the {_NAMES[kind]} is truncated ({text})", where
                    ) from None
                raise UnsupportedPixelDataError(
                    f"the {_NAMES[kind]} cannot be decoded ({text})", where
                ) from None
            except MemoryError:
                raise SizeMismatchError(
                    f"not enough memory to decode the {_NAMES[kind]}", where
                ) from None
            except Exception as exc:  # struct.error, KeyError... from a corrupt file
                raise UnsupportedPixelDataError(
                    f"the {_NAMES[kind]} cannot be decoded ({type(exc).__name__}: {exc})",
                    where,
                ) from None
    pixels = arr.astype(np.float32, copy=False)
    if not np.isfinite(pixels).all():
        raise UnsupportedPixelDataError(f"the {_NAMES[kind]} has non-finite values", where)
    peak = max(float(pixels.max()), -float(pixels.min())) if bits == 32 and pixels.size else 0.0
    if peak > MAX_PIXEL_MAGNITUDE:
        raise UnsupportedPixelDataError(
            f"the {_NAMES[kind]} has values as large as {peak:.3g}, beyond the "
            f"{MAX_PIXEL_MAGNITUDE:g} the analysis can carry without overflow",
            where,
        )
    rows, cols = pixels.shape  # as displayed: an EXIF rotation swaps them
    spacing, spacing_inputs = resolve_spacing(
        None, pixel_spacing, magnification, where, (rows, cols), image_kind=_NAMES[kind]
    )
    caveats = [*notes, *spacing_inputs.caveats]
    if flipped is None:
        right_on, lat_source = ImageSide.LEFT, "assumed"
        caveats.append(ASSUMED_SIDES_CAVEAT)
    else:
        right_on = ImageSide.RIGHT if flipped else ImageSide.LEFT
        lat_source = "user"
    meta = RadiographMeta(
        path=where,
        sop_instance_uid=None,
        modality=None,
        photometric="MONOCHROME2",
        transfer_syntax_uid="",
        transfer_syntax_name=f"{_NAMES[kind]} ({mode})",
        decoder=f"Pillow {_pillow_version()}",
        rows=rows,
        cols=cols,
        bits_allocated=bits,
        bits_stored=bits,
        pixel_representation=0,
    )
    # an image file declares no padding: a border of one grey level (a letterbox) is cut
    box = uniform_border_box(pixels)
    return Radiograph(
        pixels=pixels,
        spacing=spacing,
        patient_right_on=right_on,
        laterality_source=lat_source,
        meta=meta,
        display=None,
        caveats=tuple(caveats),
        spacing_inputs=spacing_inputs,
        unpadded_px=box,
        border_by=() if box is None else ("one value",),
    )


#: libjpeg's warnings that mean the entropy-coded data is damaged: the decoder went on with
#: invented pixels (Pillow silences every libjpeg warning)
_JPEG_CORRUPT: Final = ("corrupt jpeg data", "premature end")


def _check_jpeg_stream(path: str | os.PathLike[str], where: str) -> None:
    """Refuse a JPEG whose compressed data libjpeg-turbo finds damaged.

    Pillow's decoder silences libjpeg's recoverable warnings ("Corrupt JPEG data: premature end
    of data segment", "... extraneous bytes before marker"), and pads or guesses the pixels
    it could not read; the film would then be graded on invented bone. The stream is decoded
    once more by simplejpeg in strict mode, which raises those warnings. JPEG carries no
    checksum: damage that leaves a valid stream (a flipped bit the Huffman decoder happens to
    resynchronise after) is not detectable here or by any decoder. Streams simplejpeg cannot
    decode at all (12-bit, arithmetic coding) are left to Pillow.
    """
    import simplejpeg

    with open(path, "rb") as fh:
        data = fh.read()
    try:
        simplejpeg.decode_jpeg(data, colorspace="GRAY", strict=True)
    except ValueError as exc:
        text = str(exc)
        if not text.lower().startswith(_JPEG_CORRUPT):
            return
        if "premature end" in text.lower():
            raise TruncatedPixelDataError(
                f"the JPEG image is truncated or damaged ({text})", where
            ) from None
        raise UnsupportedPixelDataError(f"the JPEG image is damaged ({text})", where) from None


def _tiff_orientation(img: object, where: str) -> int | None:
    """A TIFF's (0112) Orientation when it is not the plain 1, which Pillow applies as it
    loads; refused (``unsupported_pixel_data``) for a quarter turn (5-8) in an uncompressed
    TIFF, which Pillow 13 decodes into pixels that are neither the stored image nor the
    turned one (the compressed ones, which libtiff reads, come out right)."""
    tags = getattr(img, "tag_v2", None)
    value = None if tags is None else tags.get(0x0112)
    if not (isinstance(value, int) and 2 <= value <= 8):
        return None
    if value >= 5 and tags is not None and tags.get(259, 1) == 1:  # Compression: none
        raise UnsupportedPixelDataError(
            f"the TIFF image is uncompressed with Orientation {value} (a quarter turn), which "
            "the TIFF reader does not decode correctly; save it upright, or compressed",
            where,
        )
    return value


def _refuse_planar_wide(img: object, where: str) -> None:
    """Refuse (``unsupported_pixel_data``) an uncompressed TIFF of several samples wider than
    8 bits stored plane by plane (PlanarConfiguration 2): Pillow 13 reads each 16-bit plane as
    8-bit samples (half the rows, bytes out of order), and the three equal channels of grey
    content then pass as a grey film (the compressed ones, which libtiff reads, come out
    right)."""
    tags = getattr(img, "tag_v2", None)
    if tags is None or tags.get(284) != 2 or tags.get(259, 1) != 1:
        return
    per_sample = tags.get(258, 8)
    widths = per_sample if isinstance(per_sample, tuple) else (per_sample,)
    if int(tags.get(277, 1)) > 1 and max(int(w) for w in widths) > 8:
        raise UnsupportedPixelDataError(
            "the TIFF image is uncompressed with samples wider than 8 bits stored plane by "
            "plane (PlanarConfiguration 2), which the TIFF reader does not decode correctly; "
            "save it greyscale, or compressed",
            where,
        )


def _as_shown(img: object, kind: str) -> tuple[object, list[str]]:
    """The image as a viewer shows it, and a caveat when that is not as stored: a JPEG's or
    PNG's EXIF Orientation (a photographed film from a phone: 6 or 8) is applied by Pillow's
    ``ImageOps.exif_transpose``, so that the AP convention (the patient's right on the
    image's left) is read on the picture as shown; Pillow applies a TIFF's own Orientation
    tag itself."""
    from PIL import Image, ImageOps

    assert isinstance(img, Image.Image)
    orientation = None if kind == "tiff" else img.getexif().get(0x0112)
    if not (isinstance(orientation, int) and 2 <= orientation <= 8):
        return img, []
    note = f"EXIF Orientation {orientation} applied: the image as a viewer shows it"
    return ImageOps.exif_transpose(img), [note]


def _bone_bright(
    img: object, arr: npt.NDArray[np.generic], bits: int, kind: str
) -> tuple[npt.NDArray[np.generic], list[str]]:
    """The pixels bone bright, and a caveat when they were inverted: a TIFF whose (262)
    Photometric Interpretation is WhiteIsZero (TIFF's MONOCHROME1); Pillow inverts 8-bit
    ones itself (said all the same), not 16-bit or floating-point ones."""
    from PIL import Image

    assert isinstance(img, Image.Image)
    tags = getattr(img, "tag_v2", {}) if kind == "tiff" else {}
    if tags.get(262) != 0:
        return arr, []
    if img.mode == "L":
        return arr, [WHITE_IS_ZERO_NOTE]
    per_sample = tags.get(258, bits)
    depth = int(per_sample[0] if isinstance(per_sample, tuple) else per_sample)
    if np.issubdtype(arr.dtype, np.integer) and depth <= 16:
        arr = (2**depth - 1) - arr.astype(np.int32)
    else:  # floating point, or 32-bit integers: about the values' own range
        wide = arr.astype(np.float64)
        arr = (float(wide.max()) + float(wide.min())) - wide if wide.size else wide
    return arr, [WHITE_IS_ZERO_NOTE]


#: The caveat of a TIFF whose (262) Photometric Interpretation is WhiteIsZero.
WHITE_IS_ZERO_NOTE: Final = "TIFF WhiteIsZero (MONOCHROME1) image inverted: bone bright"


def _bomb_size(exc: Exception) -> str:
    """The pixel count from Pillow's ``DecompressionBombError`` message, in words."""
    import re

    found = re.search(r"\((\d+) pixels\)", str(exc))
    return f"{int(found.group(1)) / 1e6:.0f} MP" if found else "too many pixels"


def _pillow_limit_mp() -> float:
    """Pillow's own refusal threshold in megapixels (twice ``Image.MAX_IMAGE_PIXELS``)."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    return math.inf if not limit else 2 * limit / 1e6


def _pillow_version() -> str:
    import PIL

    return str(getattr(PIL, "__version__", "?"))


def _to_grey(img: object, where: str) -> tuple[npt.NDArray[np.generic], int]:
    """The image as a 2-D array and its bit depth; colour refused (see the module docstring)."""
    from PIL import Image

    assert isinstance(img, Image.Image)
    mode = img.mode
    if mode in ("L", "I;16", "I;16L", "I;16B", "I;16N"):
        arr = np.asarray(img)
        return arr, 8 if mode == "L" else 16
    if mode in ("I", "F"):
        arr = np.asarray(img)
        bits = 32
        if mode == "I" and arr.size and arr.min() >= 0 and arr.max() < 65536:
            bits = 16  # Pillow opens some 16-bit PNGs and TIFFs as 32-bit integers
        return arr, bits
    if mode == "1":
        raise ColourImageError("is a 1-bit (black and white) image, not a radiograph", where)
    if mode in ("LA", "La"):
        return np.asarray(img.getchannel("L")), 8
    if mode in ("P", "RGB", "RGBA", "RGBa", "RGBX", "YCbCr", "CMYK", "LAB", "HSV"):
        return _grey_of_colour(img, where), 8
    raise UnsupportedPixelDataError(f"image mode {mode} is not supported", where)


def _read_at_8_bits(
    img: object, kind: str, bits: int, path: str | os.PathLike[str]
) -> list[str]:
    """A caveat when a file stores more than 8 bits per channel but was read at 8: Pillow
    reads 16-bit colour (or grey with alpha) at 8 bits, keeping each value's high byte."""
    from PIL import Image

    assert isinstance(img, Image.Image)
    # an 8-bit grey or palette mode is what the file stores (Pillow opens 16-bit grey as I;16):
    # only colour and alpha modes can hide a 16-bit file, and only they are looked at again
    if bits != 8 or kind == "jpeg" or img.mode in ("L", "P", "1"):
        return []
    stored = 0
    if kind == "png":
        with open(path, "rb") as fh:
            head = fh.read(26)
        if head[12:16] == b"IHDR":
            stored = head[24]  # the IHDR's bit depth (PNG spec 11.2.2)
    elif kind == "tiff":
        per_sample = getattr(img, "tag_v2", {}).get(258)  # BitsPerSample
        if isinstance(per_sample, tuple) and per_sample:
            stored = max(int(b) for b in per_sample)
        elif isinstance(per_sample, int):
            stored = per_sample
    if stored <= 8:
        return []
    return [
        f"the {_NAMES[kind]} stores {stored} bits per channel in colour or with an alpha "
        "channel, which are read at 8 (the high byte of each value): save the film as a grey "
        "image to keep the rest"
    ]


#: rows converted at a time: a 110-megapixel RGB file is read in bands of a few MB instead of
#: as one float copy of every channel (2.6 GB against the README's 2 GB per worker)
_COLOUR_BAND_ROWS: Final = 256


def _grey_of_colour(img: object, where: str) -> npt.NDArray[np.float32]:
    """A colour-mode image whose channels are equal, as the float32 mean of its R, G and B;
    refused with :class:`ColourImageError` when the channels differ by more than
    :data:`GREY_TOLERANCE_8BIT` levels at the 99.9th percentile of the pixels.

    Read in bands of rows: the channel spread is counted in a 256-bin histogram, from which
    the percentile is exact (``np.percentile``'s linear interpolation between the two ranks)."""
    from PIL import Image

    assert isinstance(img, Image.Image)
    mode = img.mode
    to_rgba = mode == "P" and "transparency" in img.info
    cols, rows = img.size
    out = np.empty((rows, cols), np.float32)
    counts = np.zeros(256, np.int64)
    for top in range(0, rows, _COLOUR_BAND_ROWS):
        band = img.crop((0, top, cols, min(rows, top + _COLOUR_BAND_ROWS)))
        if to_rgba:
            band = band.convert("RGBA")
        _grey_band(np.asarray(band.convert("RGB")), out[top : top + _COLOUR_BAND_ROWS], counts)
    _refuse_colour(counts, f"is a colour image ({mode}", where)
    return out


def grey_of_rgb(rgb: npt.NDArray[np.uint8], what: str, where: str) -> npt.NDArray[np.float32]:
    """An 8-bit (rows, cols, 3) RGB array whose channels are equal, as the float32 mean of
    its channels (in bands of rows); :class:`ColourImageError` as :func:`_grey_of_colour`
    when they differ (``what`` opens the message: ``"is a colour image (RGB"``)."""
    rows, cols = rgb.shape[:2]
    out = np.empty((rows, cols), np.float32)
    counts = np.zeros(256, np.int64)
    for top in range(0, rows, _COLOUR_BAND_ROWS):
        _grey_band(rgb[top : top + _COLOUR_BAND_ROWS], out[top : top + _COLOUR_BAND_ROWS], counts)
    _refuse_colour(counts, what, where)
    return out


def _grey_band(
    rgb: npt.NDArray[np.uint8], out: npt.NDArray[np.float32], counts: npt.NDArray[np.int64]
) -> None:
    """The mean of a band's channels into ``out``, its channel spread counted in ``counts``."""
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    counts += np.bincount(spread.ravel(), minlength=256)
    out[...] = rgb.astype(np.float32).mean(axis=2)


def _refuse_colour(counts: npt.NDArray[np.int64], what: str, where: str) -> None:
    """:class:`ColourImageError` when the channel spreads counted in ``counts`` exceed
    :data:`GREY_TOLERANCE_8BIT` at the 99.9th percentile."""
    if counts.sum() and _histogram_percentile(counts, 99.9) > GREY_TOLERANCE_8BIT:
        widest = int(np.flatnonzero(counts)[-1])
        raise ColourImageError(
            f"{what}: its channels differ, up to {widest} of 255 levels); radiographs are "
            "greyscale",
            where,
        )


def _histogram_percentile(counts: npt.NDArray[np.int64], q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation) of the integer values 0..255 whose
    counts are ``counts``."""
    n = int(counts.sum())
    rank = q / 100 * (n - 1)
    below, frac = math.floor(rank), rank - math.floor(rank)
    cum = np.cumsum(counts)
    lo = int(np.searchsorted(cum, below, side="right"))
    hi = int(np.searchsorted(cum, min(below + 1, n - 1), side="right"))
    return lo + frac * (hi - lo)


def with_user_sides(radiograph: Radiograph, flipped: bool) -> Radiograph:
    """The radiograph with the sides the user states (``flipped``: right on the image's right).

    When the file's own tags said otherwise, a caveat records that the user's statement won.
    """
    from dataclasses import replace

    right_on = ImageSide.RIGHT if flipped else ImageSide.LEFT
    kept = tuple(
        c
        for c in radiograph.caveats
        if not (c.startswith("sides assumed") or c == ASSUMED_SIDES_CAVEAT)
    )
    notes: list[str] = []
    if radiograph.laterality_source not in ("assumed", "user") and (
        right_on is not radiograph.patient_right_on
    ):
        notes.append(
            f"the user's statement of the sides (patient's right on the image's "
            f"{right_on.value}) overrides {radiograph.laterality_source.replace('_', ' ')}"
        )
    return replace(
        radiograph,
        patient_right_on=right_on,
        laterality_source="user",
        caveats=kept + tuple(notes),
    )
