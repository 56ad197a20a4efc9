"""Path -> :class:`~brooker.models.Radiograph`: decode, modality LUT, bone-bright, spacing, sides.

The loader reads one single-frame greyscale projection radiograph (or one saved as 8-bit RGB or
YBR whose channels are equal, read as its grey: :func:`brooker.image_io.grey_of_rgb`; a
DICOMDIR is refused as the index it is) and refuses everything else with a typed
:class:`~brooker.errors.BrookerError` whose one-line message names the file, what is wrong and,
where one is at fault, the DICOM tag or transfer syntax. It never puts patient
identifiers in a message, a caveat or the returned value: an image is identified by its path
and (0008,0018) SOP Instance UID only.

Accepted modalities
-------------------
(0008,0060) Modality must be one of :data:`ACCEPTED_MODALITIES` (projection X-ray: CR, DX, RG,
RF, XA, MG, PX, IO, and OT for secondary captures) or absent. CT, MR, US, NM, PT and any other
modality are refused with :class:`~brooker.errors.NotARadiographError`. A mammogram or a
fluoroscopy frame loads; hip localisation then finds no hip, which is the right answer.

Spacing policy
--------------
In order (the team's ``../shared/docs/domain.md``, beside the repository):

1. the user's ``pixel_spacing`` (source ``user``); a user ``magnification`` is then ignored
   with a caveat (the override is already at the patient), and a spacing the file's tags
   give by themselves (steps 2-5) more than 1 % away is named in a caveat;
2. calibrated (0028,0030) Pixel Spacing: it has a (0028,0A02) Pixel Spacing Calibration Type,
   or differs from (0018,1164) Imager Pixel Spacing (``pixel_spacing``). A user
   ``magnification`` is ignored with a caveat: dividing a patient-plane spacing again would
   shrink every gap;
3. (0018,1164) Imager Pixel Spacing divided by a magnification factor: the user's
   ``magnification`` when given, else (0018,1114) Estimated Radiographic Magnification Factor
   (``imager_pixel_spacing_magnification``);
4. (0018,1164) Imager Pixel Spacing alone, with a caveat: detector plane, gaps overstated by
   the unknown magnification (``imager_pixel_spacing``);
5. (0028,0030) Pixel Spacing alone with no calibration type and no Imager Pixel Spacing to
   compare, with a caveat: calibration unknown (``pixel_spacing_uncalibrated``). A user
   ``magnification`` is ignored here too (with a caveat): whether this spacing is at the
   detector is unknown; ``pixel_spacing`` is the way to override it;
6. nothing: ``spacing`` is None, the radiograph still loads (``inspect`` works) and grading
   refuses with :class:`~brooker.errors.MissingSpacingError`. A (0018,2010) Nominal Scanned
   Pixel Spacing (a digitised film's) is named in its caveat and error, and not used: it is the
   scanner's pitch on the film, whose scale to the patient (the radiographic magnification, a
   printed copy's reduction) is unknown.

Pixel Spacing equal to Imager Pixel Spacing with no calibration type is a copy of the detector
spacing and is treated as step 3/4. Row and column spacing are kept apart (DICOM order is
``row spacing \\ column spacing``).

Zero, negative, non-finite or malformed values (and a magnification factor outside 1.0-3.0,
impossible for a projection) are invalid. An invalid attribute is skipped, with a caveat naming
it, when a valid lower-priority source exists; when none exists the loader raises
:class:`~brooker.errors.InvalidSpacingError` naming the tag. A user ``pixel_spacing`` wins over
invalid tags (with a caveat).

The decision is :func:`brooker.spacing.resolve_spacing`, on the attributes parsed here
(:class:`~brooker.models.SpacingTags`, quoted header text redacted). The radiograph keeps them,
the user's options and the caveats written (:attr:`~brooker.models.Radiograph.spacing_inputs`),
so that :func:`brooker.spacing.with_spacing_options` can run the policy again with other
options without the file: :func:`brooker.analyze` does so for a loaded radiograph given an
``AnalysisConfig`` with ``pixel_spacing`` or ``magnification``.

Laterality
----------
Which half of the stored image shows the patient's right: from (0020,0020) Patient
Orientation (first value = direction of increasing column index: ``L`` puts the patient's
right on the image's left, ``R`` on the image's right), else (0018,5101) View Position (``AP``
-> image left, ``PA`` -> image right), else (0020,0062) Image Laterality (``R``/``L``: a
single-hip view; recorded, image half assumed from the AP convention), else the AP convention,
with a caveat saying so.

A second value of (0020,0020) towards the head (``L\\H``, ``R\\H``: the column direction, that
of increasing row index) means the film is stored upside down: the radiograph keeps the stored
pixels and says so (``upside_down``, with a caveat); the analysis reads it turned upright and
gives its positions on the stored pixels (:mod:`brooker.upright`). Rows running head-feet and
columns left-right (``H\\R``, ``H\\L``, ``F\\R``, ``F\\L``) mean the film is stored turned a
quarter: it is read turned back a quarter in the same way (``to_upright``, with a caveat), and
its sides, and image halves, are those of the film turned upright.
"""

from __future__ import annotations

import functools
import importlib
import io
import math
import os
import re
import sys
import types
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from rle.rle import decode_segment

from brooker import image_io
from brooker.config import is_real_number
from brooker.errors import (
    BrookerError,
    ColourImageError,
    ConfigError,
    ImageTooSmallError,
    ImplausiblePixelValuesError,
    ImplausibleSpacingError,
    InputNotFoundError,
    MalformedDicomError,
    MultiFrameError,
    NoPixelDataError,
    NotAnImageError,
    NotARadiographError,
    NotDicomError,
    SizeMismatchError,
    TruncatedPixelDataError,
    UnreadableInputError,
    UnsupportedPixelDataError,
    UnsupportedPixelFormatError,
)
from brooker.grid import (
    IDENTITY,
    QUARTER_ANTICLOCKWISE,
    QUARTER_CLOCKWISE,
    ROWS_REVERSED,
    GridTransform,
)
from brooker.models import (
    DisplayMapping,
    ImageSide,
    InvalidSpacingTag,
    Radiograph,
    RadiographMeta,
    SpacingTags,
)
from brooker.padding import box_said, padding_mask, uniform_border_box, unpadded_box
from brooker.paths import open_regular, require_text_path
from brooker.quiet import quiet_warnings
from brooker.spacing import implausible_spacing_reason, resolve_spacing
from brooker.units import (
    DICOMDIR_SOP_CLASS,
    MAX_MEGAPIXELS,
    MAX_PIXEL_MAGNITUDE,
    MIN_FIELD_SIDE_MM,
    MIN_IMAGE_SIDE_PX,
)


def _import_gdcm_safely() -> None:
    """Import python-gdcm so that a folder named ``dl`` in the working directory cannot break it.

    ``gdcm.py`` does ``import dl`` and then uses ``dl.RTLD_NOW``; a ``dl`` folder on
    ``sys.path`` (the working directory under ``python -m``) imports as an empty namespace
    package and the ``AttributeError`` escapes ``import pydicom``. Python 3 has no ``dl``
    module, so blocking it for the duration of the import changes nothing else. If gdcm still
    fails to import, it is blocked for good: pydicom then reports it as an unavailable plugin.
    """
    if "gdcm" in sys.modules:
        return
    blocked = [name for name in ("dl", "DLFCN") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        with quiet_warnings():
            importlib.import_module("gdcm")
    except Exception:  # ImportError, or AttributeError/OSError from a broken install
        sys.modules["gdcm"] = None  # type: ignore[assignment]
    finally:
        for name in blocked:
            if sys.modules.get(name, "") is None:
                del sys.modules[name]


_import_gdcm_safely()

import pydicom  # noqa: E402
from pydicom.datadict import dictionary_has_tag, tag_for_keyword  # noqa: E402
from pydicom.dataelem import DataElement, RawDataElement  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.encaps import generate_frames  # noqa: E402
from pydicom.errors import InvalidDicomError  # noqa: E402
from pydicom.filereader import (  # noqa: E402
    _read_file_meta_info,
    read_dataset,
    read_preamble,
)
from pydicom.pixels.decoders.base import get_decoder  # noqa: E402
from pydicom.uid import (  # noqa: E402
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLELossless,
)

__all__ = [
    "ACCEPTED_MODALITIES",
    "MAX_MEGAPIXELS",
    "check_gradable",
    "implausible_spacing_reason",
    "load_radiograph",
]

#: (0008,0060) Modality values of projection radiographs; anything else is refused.
ACCEPTED_MODALITIES: Final = ("CR", "DX", "RG", "RF", "XA", "MG", "PX", "IO", "OT")

_MODALITY_NAMES: Final = {
    "CT": "computed tomography",
    "MR": "magnetic resonance",
    "US": "ultrasound",
    "NM": "nuclear medicine",
    "PT": "PET",
    "RTPLAN": "radiotherapy plan",
    "RTSTRUCT": "radiotherapy structures",
    "RTDOSE": "radiotherapy dose",
    "RTIMAGE": "radiotherapy portal image",
    "SR": "structured report",
    "SEG": "segmentation",
    "ES": "endoscopy",
    "XC": "external camera photograph",
    "OP": "ophthalmic photograph",
    "SM": "slide microscopy",
    "ECG": "electrocardiogram",
    "PR": "presentation state",
    "KO": "key object selection",
    "DOC": "document",
}

_NATIVE_SYNTAXES: Final = frozenset(
    {
        ImplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        ExplicitVRBigEndian,
        DeflatedExplicitVRLittleEndian,
    }
)

#: Decoder plugins in the order they are tried (fast, widely tested first).
_PLUGIN_ORDER: Final = ("pylibjpeg", "pyjpegls", "gdcm", "pillow", "pydicom")

# Tags, as (group << 16) | element.
_PIXEL_DATA: Final = 0x7FE00010
_FLOAT_PIXEL_DATA: Final = 0x7FE00008
_DOUBLE_PIXEL_DATA: Final = 0x7FE00009
_PIXEL_SPACING: Final = 0x00280030
_IMAGER_PIXEL_SPACING: Final = 0x00181164
_NOMINAL_SCANNED_PIXEL_SPACING: Final = 0x00182010
_MAGNIFICATION: Final = 0x00181114
_CALIBRATION_TYPE: Final = 0x00280A02
_PATIENT_ORIENTATION: Final = 0x00200020
_VIEW_POSITION: Final = 0x00185101
_PIXEL_PADDING_VALUE: Final = 0x00280120
_PIXEL_PADDING_RANGE_LIMIT: Final = 0x00280121
_IMAGE_LATERALITY: Final = 0x00200062
_LATERALITY: Final = 0x00200060
_PRESENTATION_LUT_SHAPE: Final = 0x20500020
_PRESENTATION_INTENT_TYPE: Final = 0x00080068
_PIXEL_INTENSITY_RELATIONSHIP: Final = 0x00281040

#: The (2050,0020) Presentation LUT Shape each greyscale interpretation goes with in the DX
#: family of images (DX, MG, IO): minimum value black is IDENTITY, minimum value white INVERSE.
_LUT_SHAPE_OF: Final = {"MONOCHROME2": "IDENTITY", "MONOCHROME1": "INVERSE"}

#: Elements whose values identify a person; redacted from any message built from foreign text.
_IDENTIFYING_KEYWORDS: Final = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientMotherBirthName",
    "AccessionNumber",
    "StudyID",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "InstitutionName",
    "InstitutionAddress",
    "IssuerOfPatientID",
    "MedicalRecordLocator",
)

#: Header values larger than this are not read unless used (native Pixel Data, private blobs).
_DEFER_SIZE: Final = 256 * 1024

_MAG_VALID_RANGE: Final = (1.0, 3.0)

#: Decode with the bits above (0028,0101) Bits Stored kept: :func:`_check_pixel_values` looks
#: at them before :func:`_mask_to_bits_stored` drops them.
_KEEP_UNUSED_BITS: Final[dict[str, Any]] = {"correct_unused_bits": False}

#: Exceptions that stop the program rather than report a bad file; every other exception
#: from pydicom or a decoder is the file's fault. pylibjpeg-rle (Rust, pyo3) raises
#: ``pyo3_runtime.PanicException`` on an RLE stream whose segments overrun the frame, which
#: derives from BaseException, not Exception: it is a bad file too, not a reason to die.
_FATAL: Final = (KeyboardInterrupt, SystemExit, GeneratorExit)
#: Colour interpretations a radiograph saved as colour comes in (3 samples; JPEG's YBR the
#: decoder converts to RGB): read when the channels are equal, as an RGB PNG is.
_GREY_AS_COLOUR: Final = frozenset(
    {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"}
)
#: (0004,1220) Directory Record Sequence: a DICOMDIR's list of what the media hold.
_DIRECTORY_RECORDS: Final = 0x00041220

#: Files without usable file meta are re-parsed in memory only up to this size.
_REPARSE_MAX_BYTES: Final = 256 << 20


def load_radiograph(
    path: str | os.PathLike[str],
    *,
    pixel_spacing: tuple[float, float] | float | None = None,
    magnification: float | None = None,
    max_megapixels: float = MAX_MEGAPIXELS,
    flipped: bool | None = None,
) -> Radiograph:
    """Read one DICOM projection radiograph, bone bright, with its spacing and sides.

    A PNG, JPEG or TIFF file (recognised by content) is read by
    :func:`brooker.image_io.load_image` instead (no spacing unless ``pixel_spacing``).

    Parameters
    ----------
    path : str or PathLike
        A DICOM file (with or without the 128-byte preamble and file meta).
    pixel_spacing : (float, float) or float, optional
        User override ``(row_mm, col_mm)`` at the patient; wins over every tag. One number
        is square pixels, as ``--pixel-spacing 0.2``.
    magnification : float, optional
        Radiographic magnification at the hip; divides (0018,1164) Imager Pixel Spacing in
        place of (0018,1114). Ignored, with a caveat, when calibrated (0028,0030) Pixel
        Spacing, uncalibrated Pixel Spacing alone, or a user ``pixel_spacing`` is used, or
        when there is no Imager Pixel Spacing (an image file has none).
    max_megapixels : float
        Declared images larger than this are refused before any pixel allocation.
    flipped : bool, optional
        The user's statement of the sides (True: the patient's right is on the image's
        right); overrides the tags and the AP convention (``brooker.image_io.with_user_sides``).

    Returns
    -------
    Radiograph
        ``pixels`` float32 (rows, cols): Modality LUT output, MONOCHROME1 inverted so that bone
        is bright ((0028,0004) Photometric Interpretation decides which way is bright; a
        (2050,0020) Presentation LUT Shape that contradicts it is a caveat); ``spacing`` None
        when no source exists (see the module docstring).

    Raises
    ------
    BrookerError
        A subclass naming the file and what is wrong: :class:`NotDicomError`,
        :class:`MalformedDicomError`, :class:`NoPixelDataError`, :class:`NotAnImageError`,
        :class:`NotARadiographError`, :class:`ColourImageError`, :class:`MultiFrameError`,
        :class:`UnsupportedPixelDataError` (and :class:`TruncatedPixelDataError`),
        :class:`SizeMismatchError`, :class:`InvalidSpacingError`,
        :class:`ImplausibleSpacingError` (a spacing the tags or the user give that no hip film
        has); :class:`InputNotFoundError` (nothing there, or an empty path),
        :class:`UnreadableInputError` and :class:`SpecialFileError` (a folder, FIFO, device or
        socket). No other exception escapes for a bad file.
    TypeError
        ``path`` is not a path as text (``str`` or ``os.PathLike``): the file's bytes, an open
        file (brooker reads films from files: write them to one and pass its path).
    ConfigError
        ``max_megapixels`` is not a positive finite number (as
        :class:`~brooker.config.AnalysisConfig` refuses it), before the file is opened.
    """
    require_text_path(path, "load_radiograph() takes a file's path (str or os.PathLike)")
    mp = max_megapixels
    if not (is_real_number(mp) and math.isfinite(mp) and mp > 0):
        # as AnalysisConfig refuses it: a cap of 0 or -1 refused every film as size_mismatch
        # "beyond the -1 MP cap", and NaN every film as malformed_dicom, blaming the file
        raise ConfigError(
            f"max_megapixels must be a positive finite number, got {max_megapixels!r}"
        )
    if not os.fspath(path):
        # not the working folder, which Path("") is: `brooker grade "$DIR"` with DIR unset
        raise InputNotFoundError("an empty path names no file", "")
    if image_io.image_kind(path) is not None:
        return image_io.load_image(
            path,
            pixel_spacing=pixel_spacing,
            magnification=magnification,
            flipped=flipped,
            max_megapixels=max_megapixels,
        )
    ident: list[str] = []
    uid: list[str] = []  # the SOP Instance UID, once the header is read
    with quiet_warnings():
        try:
            try:
                rad = _load(Path(path), pixel_spacing, magnification, max_megapixels, ident, uid)
                return rad if flipped is None else image_io.with_user_sides(rad, flipped)
            except MemoryError:
                raise SizeMismatchError(
                    "not enough memory to decode the pixel data", str(path)
                ) from None
            except RecursionError:
                raise MalformedDicomError(
                    "header nesting too deep to parse", str(path)
                ) from None
            except BaseException as exc:  # a pydicom or decoder failure we did not foresee
                if isinstance(exc, (BrookerError, *_FATAL)):
                    raise
                raise MalformedDicomError(
                    f"cannot be read as a DICOM image ({_safe_detail(exc)})", str(path)
                ) from None
        except BrookerError as err:
            err.detail = _redact(err.detail, ident, value=False)
            if err.path is None:
                err.path = str(path)
            if uid and err.sop_instance_uid is None:
                err.sop_instance_uid = uid[0]
            raise


# --------------------------------------------------------------------------------------------
# reading


def _load(
    path: Path,
    user_spacing: tuple[float, float] | float | None,
    user_mag: float | None,
    max_megapixels: float,
    ident: list[str],
    uid: list[str],
) -> Radiograph:
    where = str(path)
    try:  # a FIFO or a device is refused here, before anything opens it
        with open_regular(path) as fh:
            head = fh.read(132)
            file_size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise UnreadableInputError(
            f"cannot be read ({exc.strerror or type(exc).__name__})", where
        ) from None
    if file_size == 0:
        raise NotDicomError("not a DICOM file: the file is empty (0 bytes)", where)
    foreign = _foreign_kind(head)
    if foreign is not None:
        raise NotDicomError(
            f"not a DICOM file but {foreign} (brooker reads DICOM, PNG, JPEG and TIFF)", where
        )
    # "DICM" and the file meta at offset 0: written without the 128-byte preamble (pydicom
    # would read "DICM" as data); read from memory behind a blank preamble
    dicm_first = head[:4] == b"DICM"
    if dicm_first and file_size > _REPARSE_MAX_BYTES:
        raise MalformedDicomError(
            "the file starts with DICM, its 128-byte preamble left out, and at "
            f"{_bytes(file_size)} is too large to be read without one (the limit is "
            f"{_bytes(_REPARSE_MAX_BYTES)}): write it with the preamble",
            where,
        )
    has_magic = (len(head) == 132 and head[128:132] == b"DICM") or dicm_first

    _guard_file_size(path, file_size, max_megapixels)
    try:
        if dicm_first:
            with open_regular(path) as fh:
                source: Any = io.BytesIO(bytes(128) + fh.read())
            _guard_inflated_size(source, max_megapixels, where)
            ds: Dataset = pydicom.dcmread(source, force=True)
        else:
            with open_regular(path) as fh:
                _guard_inflated_size(fh, max_megapixels, where)
            ds = pydicom.dcmread(path, force=True, defer_size=_DEFER_SIZE)
    except InvalidDicomError:
        raise NotDicomError("not a DICOM file", where) from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
        raise MalformedDicomError(
            f"the DICOM header cannot be parsed ({_safe_detail(exc)})", where
        ) from None
    if has_magic and not _known_tags(ds):
        _check_pixel_data_readable(source if dicm_first else path, where, ident, uid)
    if not _known_tags(ds) and file_size <= _REPARSE_MAX_BYTES:
        # pydicom guesses the encoding of a file without file meta from its first bytes, and
        # takes "DICM" at offset 128 for a preamble even when it is data; try the encodings.
        ds = _reparse_headerless(path) or ds
    ident.extend(_identifier_values(ds))

    _check_not_dicomdir(ds, where)
    _check_not_garbage(ds, has_magic, where)
    sop = _text(ds, 0x00080018)
    sop_valid = sop is not None and _VALID_UID.fullmatch(sop) is not None
    if sop_valid:
        uid.append(str(sop))  # for the error record of a file refused from here on
    ts = _transfer_syntax(ds)
    pixel_elem = ds.get_item(_PIXEL_DATA)
    _check_is_image(ds, pixel_elem, where)
    modality = _text(ds, 0x00080060)
    _check_modality(modality, where, ident)
    photometric = _check_photometric(ds, where, ident)
    frames = _number_of_frames(ds, where, ident)
    geom = _geometry(ds, where)
    rows, cols, bits_alloc, bits_stored, pixel_rep = geom
    colour = photometric not in ("MONOCHROME1", "MONOCHROME2")
    if colour and (bits_alloc, bits_stored, pixel_rep) != (8, 8, 0):
        raise ColourImageError(
            f"colour image ((0028,0004) Photometric Interpretation {photometric}, "
            f"{bits_alloc}-bit samples): radiographs are greyscale (8-bit colour with equal "
            "channels is read, as grey)",
            where,
        )
    if colour and ts in _NATIVE_SYNTAXES:
        # native colour is stored pixel by pixel (0) or plane by plane (1): without it, planes
        # read as interleaved can still look grey and give a garbled film
        planar = _int_value(ds, 0x00280006, "(0028,0006) Planar Configuration", where)
        if planar not in (0, 1):
            raise MalformedDicomError(f"(0028,0006) Planar Configuration is {planar}", where)
    # bits a pixel takes as stored: three samples of colour, but two on average in native
    # YBR_FULL_422 (its chroma is shared by two pixels)
    samples = 1 if not colour else 2 if photometric == "YBR_FULL_422" else 3
    caveats: list[str] = []
    _check_size(
        ds, pixel_elem, ts, rows, cols, bits_alloc * samples, frames, max_megapixels, where,
        caveats,
    )
    # spacing first: an implausible one is refused before anything is decoded
    spacing, spacing_inputs = resolve_spacing(
        _spacing_tags(ds, (rows, cols), ident), user_spacing, user_mag, where, (rows, cols)
    )
    if ts not in _NATIVE_SYNTAXES:
        _check_codestream(pixel_elem, ts, rows, cols, bits_alloc, where)
    if ts == RLELossless:
        _check_rle_segment(pixel_elem, rows, cols, where)

    # the decoder reads the values checked above, not the header again: a lower-case
    # photometric interpretation, say, is understood here and would fail there
    pixel_options = {
        "rows": rows,
        "columns": cols,
        "number_of_frames": frames,
        "samples_per_pixel": 3 if colour else 1,
        "photometric_interpretation": photometric,
        "bits_allocated": bits_alloc,
        "bits_stored": bits_stored,
        "pixel_representation": pixel_rep,
    }
    raw, decoder_label = _decode(ds, ts, where, pixel_options)
    if raw.shape != ((rows, cols, 3) if colour else (rows, cols)):
        raise SizeMismatchError(
            f"decoded pixel data has shape {raw.shape} but (0028,0010) Rows x (0028,0011) "
            f"Columns declare {rows} x {cols}" + (" x 3 samples" if colour else ""),
            where,
        )
    if colour:
        # grey content saved as colour (a screen capture, a digitised film as RGB or, in
        # JPEG, YBR, which the decoder gives as RGB): the mean of equal channels, as an RGB
        # PNG is read; colour content is refused. No Modality LUT or VOI applies to colour.
        pixels = image_io.grey_of_rgb(
            raw, f"colour image ((0028,0004) Photometric Interpretation {photometric}", where
        )
        del raw
        k_invert = 255.0
        voi_lowest: float | None = None
        # no Pixel Padding Value applies to colour; a border of one grey level is cut still
        unpadded, border_by = _one_value_box(pixels)
        caveats.append(
            f"colour image ({photometric}) with equal channels: read as greyscale, bone "
            "assumed bright"
        )
    else:
        shift = _high_bit_shift(ds, ts, raw, bits_alloc, bits_stored, pixel_rep == 1, caveats)
        if shift:
            raw = np.right_shift(raw, shift)  # arithmetic on signed samples: the sign is kept
        _check_pixel_values(raw, bits_stored, pixel_rep == 1, where, caveats)
        stored = _mask_to_bits_stored(raw, bits_stored, pixel_rep == 1)
        del raw
        unpadded, border_by = _unpadded_box(ds, stored, pixel_rep == 1, caveats)
        pixels, (out_lo, out_hi) = _modality_lut(
            ds, stored, bits_stored, pixel_rep == 1, where, ident
        )
        del stored
        k_invert = out_lo + out_hi
        # the VOI LUT's first mapped value is signed when the Modality LUT's output can be
        # negative (PS3.3 C.11.2.1.1)
        voi_lowest = out_lo if out_lo < 0 else None
    mono1 = photometric == "MONOCHROME1"
    _check_presentation_lut_shape(ds, photometric, caveats)
    _check_presentation_intent(ds, caveats)
    if mono1:
        np.subtract(np.float32(k_invert), pixels, out=pixels)
    # one pass each for the extremes, which carry a NaN or an infinity through: the
    # non-finite and the finite-but-huge are both found there (a separate isfinite pass
    # doubled the cost on a 0.1 mm film)
    lo, hi = (float(pixels.min()), float(pixels.max())) if pixels.size else (0.0, 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise MalformedDicomError("the Modality LUT produced non-finite pixel values", where)
    peak = max(hi, -lo)
    if peak > MAX_PIXEL_MAGNITUDE:
        raise MalformedDicomError(
            f"the Modality LUT produced pixel values as large as {peak:.3g}, beyond the "
            f"{MAX_PIXEL_MAGNITUDE:g} the analysis can carry without overflow",
            where,
        )

    # caveats and meta quote header values (an orientation, a view position): a corrupted or
    # misfilled element can hold an identifier, redacted from each value as it is read, and
    # from the caveats again as in error messages (the spacing caveats quote only the spacing
    # tags, redacted as they were parsed)
    orientation = _multi_text(ds, _PATIENT_ORIENTATION)
    if orientation is not None:
        orientation = tuple(_redact(v, ident) for v in orientation)
    view_position, image_laterality, body_part = (
        None if v is None else _redact(v, ident)
        for v in (
            _text(ds, _VIEW_POSITION),
            _text(ds, _IMAGE_LATERALITY) or _text(ds, _LATERALITY),
            _text(ds, 0x00180015),
        )
    )
    to_upright = _to_upright(orientation, caveats)
    right_on, lat_source = _laterality(
        orientation, view_position, image_laterality, caveats, turn=to_upright
    )
    display = None if colour else _display_mapping(ds, mono1, k_invert, voi_lowest, caveats)
    if display is not None and not _display_shows(display, pixels, unpadded):
        caveats.append(
            f"{_DISPLAY_SAID[display.source]} the whole image as one grey (its pixels lie "
            "outside it): the overlay is shown through a 0.5-99.5 % percentile window "
            "instead (display only; grading does not use it)"
        )
        display = None
    caveats = [_redact(c, ident, value=False) for c in caveats]

    if sop is not None and not sop_valid:
        # a corrupted length runs the UID into the elements after it (the patient module)
        sop = None
        caveats.append("(0008,0018) SOP Instance UID malformed: left out of the record")
    meta = RadiographMeta(
        path=where,
        sop_instance_uid=sop,
        modality=modality,
        photometric=photometric,
        transfer_syntax_uid=str(ts),
        transfer_syntax_name=_ts_name(ts),
        decoder=decoder_label,
        rows=rows,
        cols=cols,
        bits_allocated=bits_alloc,
        bits_stored=bits_stored,
        pixel_representation=pixel_rep,
        view_position=view_position,
        patient_orientation=orientation,
        image_laterality=image_laterality,
        body_part=body_part,
    )
    return Radiograph(
        pixels=pixels,
        spacing=spacing,
        patient_right_on=right_on,
        laterality_source=lat_source,
        meta=meta,
        display=display,
        caveats=spacing_inputs.caveats + tuple(caveats),
        spacing_inputs=spacing_inputs,
        to_upright=to_upright,
        unpadded_px=unpadded,
        padding_declared=border_by[:1] == ("padding",),
        border_by=border_by,
    )


def _unpadded_box(
    ds: Dataset, stored: npt.NDArray[Any], signed: bool, caveats: list[str]
) -> tuple[tuple[int, int, int, int] | None, tuple[str, ...]]:
    """The box inside the border of padding that (0028,0120) Pixel Padding Value (and
    (0028,0121) Pixel Padding Range Limit) declares, on the stored values (and inside it, a
    border of one value of the film's own), and what the border is
    (:attr:`~brooker.models.Radiograph.border_by`: ``("padding",)`` or ``("padding", "one
    value")``); without the element, or when it finds no border, the box inside a border of
    one value no element declares (:func:`brooker.padding.uniform_border_box`) and
    ``("one value",)``, or None and ``()`` when there is no border.

    An unreadable value is not a reason to refuse the film: a caveat says so, and the border
    is found as for a film that declares none."""
    if ds.get_item(_PIXEL_PADDING_VALUE) is not None:
        try:
            value = _padding_value(
                ds, _PIXEL_PADDING_VALUE, "(0028,0120) Pixel Padding Value", signed
            )
            limit = (
                None
                if ds.get_item(_PIXEL_PADDING_RANGE_LIMIT) is None
                else _padding_value(
                    ds, _PIXEL_PADDING_RANGE_LIMIT, "(0028,0121) Pixel Padding Range Limit", signed
                )
            )
        except MalformedDicomError as err:
            caveats.append(
                f"{err.detail}: ignored, so a border of padding is cut off only where its rows "
                "and columns hold one value"
            )
        else:
            box = unpadded_box(padding_mask(stored, value, limit))
            if box is not None:
                # and a border of the film's own inside it (a strip of unexposed detector
                # written as one level), as on the film exported without the padding
                r0, c0, r1, c1 = box
                inner = uniform_border_box(stored[r0:r1, c0:c1])
                if inner is None:
                    return box, ("padding",)
                box = (r0 + inner[0], c0 + inner[1], r0 + inner[2], c0 + inner[3])
                return box, ("padding", "one value")
    return _one_value_box(stored)


def _one_value_box(
    values: npt.NDArray[Any],
) -> tuple[tuple[int, int, int, int] | None, tuple[str, ...]]:
    """The box inside a border of one value no element declares, and what the border is."""
    box = uniform_border_box(values)
    return box, () if box is None else ("one value",)


def _padding_value(ds: Dataset, tag: int, label: str, signed: bool) -> int:
    """A padding value in stored units. Both elements are US or SS, as the pixels are; one
    written US for signed pixels is its 16 bits read as signed."""
    value = _int_value(ds, tag, label, "", whole=True)
    if signed and 1 << 15 <= value < 1 << 16:
        value -= 1 << 16
    return value


def _data_limit(max_megapixels: float) -> int:
    """Bytes of data set more than any single frame within the cap needs (32-bit pixels)."""
    return int(max_megapixels * 1e6 * 4 * 1.1) + (64 << 20)


def _guard_inflated_size(fp: Any, max_megapixels: float, where: str) -> None:
    """Refuse a deflated data set that inflates beyond :func:`_data_limit`, before pydicom
    inflates it whole in memory (a few MB of deflated zeros can declare and hold gigabytes).

    Inflates in chunks and keeps nothing; ``fp`` is read from where it is and rewound. A file
    whose file meta cannot be read, or that is not deflated, is left to the reader.
    """
    start = fp.tell()
    try:
        try:
            read_preamble(fp, force=True)
            meta = _read_file_meta_info(fp)
        except Exception:
            return
        ts = str(meta.get("TransferSyntaxUID") or "").strip(" \x00")
        if ts != DeflatedExplicitVRLittleEndian:
            return
        limit = _data_limit(max_megapixels)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        total = 0
        while not inflater.eof and (chunk := fp.read(1 << 20)):
            while chunk:
                try:
                    total += len(inflater.decompress(chunk, 16 << 20))
                except zlib.error:
                    return  # corrupt: pydicom says so
                if total > limit:
                    raise SizeMismatchError(
                        f"the deflated data set inflates to more than {_bytes(limit)}, more "
                        f"than any single image within the {max_megapixels:g} MP cap needs",
                        where,
                    )
                chunk = inflater.unconsumed_tail
    finally:
        fp.seek(start)


def _guard_file_size(path: Path, file_size: int, max_megapixels: float) -> None:
    """Refuse a file far larger than any single frame within the cap, before reading it.

    Native Pixel Data is never read before its length is checked (it is deferred), so only an
    encapsulated (compressed) stream, which pydicom reads whole, needs this guard (and a
    deflated data set, which it inflates whole: :func:`_guard_inflated_size`).
    """
    limit = _data_limit(max_megapixels)
    if file_size <= limit:
        return
    head = pydicom.dcmread(path, force=True, stop_before_pixels=True, defer_size=_DEFER_SIZE)
    ts = _transfer_syntax(head)
    if ts not in _NATIVE_SYNTAXES:
        raise SizeMismatchError(
            f"file is {file_size / 2**30:.1f} GiB of {_ts_name(ts)} data, more than any "
            f"single image within the {max_megapixels:g} MP cap needs",
            str(path),
        )


def _known_tags(ds: Dataset) -> int:
    """How many standard data elements of a stored object (group 0008 on) were read."""
    return sum(1 for t in ds.keys() if t.group >= 0x0008 and dictionary_has_tag(t))


def _reparse_headerless(path: Path) -> Dataset | None:
    """Read a file with no usable file meta from offset 0 in each encoding; keep the best."""
    best: tuple[int, Dataset] | None = None
    for implicit, little in ((False, True), (True, True), (False, False)):
        try:
            with path.open("rb") as fh:
                cand = read_dataset(fh, is_implicit_VR=implicit, is_little_endian=little)
            n = _known_tags(cand)
        except Exception:
            continue
        if n >= 3 and (best is None or n > best[0]):
            cand.file_meta = FileMetaDataset()
            cand.file_meta.TransferSyntaxUID = (
                ImplicitVRLittleEndian
                if implicit
                else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
            )
            best = (n, cand)
    return None if best is None else best[1]


#: File signatures of what is often mistaken for a radiograph's file: (offset, bytes, name).
_FOREIGN_SIGNATURES: Final = (
    (0, b"BM", "a BMP image"),
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (8, b"WEBP", "a WebP image"),  # after "RIFF" and a length
    (4, b"jP  \r\n\x87\n", "a JPEG 2000 image file (JP2)"),
    (0, b"\xff\x4f\xff\x51", "a bare JPEG 2000 codestream"),
    (0, b"\xff\x0a", "a JPEG XL image"),
    (4, b"JXL \r\n\x87\n", "a JPEG XL image"),
    (0, b"%PDF", "a PDF document"),
    (0, b"PK\x03\x04", "a ZIP archive (unpack it first)"),
    (0, b"\x1f\x8b", "a gzip archive (unpack it first)"),
)


def _foreign_kind(head: bytes) -> str | None:
    """What a file that is not DICOM is, from its first bytes (:data:`_FOREIGN_SIGNATURES`);
    None when it has a DICOM preamble or is none of them."""
    if head[128:132] == b"DICM" or head[:4] == b"DICM":
        return None
    for offset, magic, name in _FOREIGN_SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if offset == 8 and head[:4] != b"RIFF":
                continue
            return name
    return None


def _check_pixel_data_readable(
    source: Path | io.BytesIO, where: str, ident: list[str], uid: list[str]
) -> None:
    """Refuse, as truncated pixel data, a file whose header reads up to (7FE0,0010) Pixel Data
    but not with it: pydicom gives up on the whole data set when an encapsulated (compressed)
    Pixel Data runs off the end of the file, and a JPEG-LS or JPEG 2000 film cut short in
    transfer was refused as "ends right after its file meta information" with no SOP
    Instance UID, where an uncompressed one cut the same way was ``truncated_pixel_data``
    with it (a user's test of 2026-12-07)."""
    try:
        if isinstance(source, io.BytesIO):
            source.seek(0)
        head = pydicom.dcmread(
            source, force=True, stop_before_pixels=True, defer_size=_DEFER_SIZE
        )
    except Exception:
        return
    if _known_tags(head) < 3:
        return
    ident.extend(_identifier_values(head))
    sop = _text(head, 0x00080018)
    if sop is not None and _VALID_UID.fullmatch(sop) is not None:
        uid.append(str(sop))
    syntax = _redact(_ts_name(_transfer_syntax(head)), ident)  # a UID as stored, quoted
    raise TruncatedPixelDataError(
        f"(7FE0,0010) Pixel Data of {syntax} cannot be read to its "
        "end: the file ends or breaks inside it (truncated or corrupt)",
        where,
    )


def _check_not_dicomdir(ds: Dataset, where: str) -> None:
    """Refuse a DICOMDIR: the index of a DICOM media folder (a CD or an export), no image."""
    meta = getattr(ds, "file_meta", None)
    sop_class = None if meta is None else meta.get("MediaStorageSOPClassUID")
    if str(sop_class or "") == DICOMDIR_SOP_CLASS or _DIRECTORY_RECORDS in ds:
        raise NotAnImageError(
            "a DICOMDIR (the index of a DICOM media folder), not an image: grade the folder "
            "it indexes",
            where,
        )


def _check_not_garbage(ds: Dataset, has_magic: bool, where: str) -> None:
    if _known_tags(ds):
        return
    if not has_magic:
        named = image_io.SUFFIX_KINDS.get(os.path.splitext(where)[1].lower())
        if named is not None:  # "not a DICOM file" left a reader of x.png puzzled
            raise NotDicomError(
                f"neither a {named} image (as its name says: it does not begin as one does) "
                "nor a DICOM file (no 'DICM' marker, no readable DICOM data elements)",
                where,
            )
        raise NotDicomError(
            "not a DICOM file: no 'DICM' marker and no readable DICOM data elements", where
        )
    if len(ds) == 0:
        raise MalformedDicomError(
            "the file ends or breaks right after its file meta information: no data elements "
            "could be read (truncated or corrupt)",
            where,
        )
    raise MalformedDicomError("no standard DICOM data elements could be read", where)


def _transfer_syntax(ds: Dataset) -> UID:
    """The transfer syntax from the file meta, else the encoding pydicom found.

    A file without (0002,0010) Transfer Syntax UID is read as whatever pydicom detected
    (implicit VR little endian unless the data says otherwise); the dataset's file meta is
    given the corresponding UID so that the pixel decoders work.
    """
    meta = ds.file_meta if getattr(ds, "file_meta", None) is not None else None
    raw = None if meta is None else meta.get("TransferSyntaxUID")
    if raw:
        uid = UID(str(raw).strip().rstrip("\x00"))
        if uid:
            return uid
    enc = getattr(ds, "original_encoding", (True, True))
    implicit, little = enc if enc and None not in enc else (True, True)
    if implicit:
        uid = ImplicitVRLittleEndian
    else:
        uid = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    if meta is None:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid
    return uid


def _check_is_image(ds: Dataset, pixel_elem: Any, where: str) -> None:
    if pixel_elem is not None:
        return
    if ds.get_item(_FLOAT_PIXEL_DATA) is not None or ds.get_item(_DOUBLE_PIXEL_DATA) is not None:
        raise UnsupportedPixelFormatError(
            "(7FE0,0008/0009) Float Pixel Data is not a radiograph's integer pixel data", where
        )
    image_tags = (0x00280010, 0x00280011, 0x00280004)
    if not any(ds.get_item(t) is not None for t in image_tags):
        sop_class = _text(ds, 0x00080016)
        what = ""
        if sop_class and not _VALID_UID.fullmatch(sop_class):
            # a corrupted length can run the UID into the elements after it (the patient's
            # name, ID, birth date): only a well-formed UID is quoted
            what = " ((0008,0016) SOP Class UID malformed)"
        elif sop_class:
            name = UID(sop_class).name
            what = f" ((0008,0016) SOP Class: {name})" if name != sop_class else f" ({sop_class})"
        raise NotAnImageError(f"not an image{what}: no (7FE0,0010) Pixel Data", where)
    raise NoPixelDataError(
        "(7FE0,0010) Pixel Data is absent: the file holds an image header only", where
    )


def _check_modality(modality: str | None, where: str, ident: Sequence[str] = ()) -> None:
    if modality is None or modality.upper() in ACCEPTED_MODALITIES:
        return
    name = _MODALITY_NAMES.get(modality.upper())
    label = f"{modality} ({name})" if name else _redact(modality, ident)
    if not _VALID_MODALITY.fullmatch(modality):
        label = "malformed"  # a corrupted length runs it into the elements after it
    raise NotARadiographError(
        f"(0008,0060) Modality is {label}, not a projection radiograph "
        f"(accepted: {', '.join(ACCEPTED_MODALITIES)})",
        where,
    )


def _check_photometric(ds: Dataset, where: str, ident: Sequence[str] = ()) -> str:
    pi = _text(ds, 0x00280004)
    samples = _int_value(ds, 0x00280002, "(0028,0002) Samples per Pixel", where, default=1)
    values = _nonempty_strings(ds, 0x00280004)
    if len(values) > 1:  # MONOCHROME2\MONOCHROME1: which way round bone is, is unknown
        raise MalformedDicomError(
            f"(0028,0004) Photometric Interpretation holds {len(values)} values, not one",
            where,
        )
    if pi is None:
        if samples == 1:
            raise MalformedDicomError(
                "(0028,0004) Photometric Interpretation is missing", where
            )
        pi = "?"
    # quoted as stored, redacted whole, then cut: upper-cased, an identifier would not match
    shown = _printable(_redact(pi, ident))
    pi = pi.upper()
    if pi in ("MONOCHROME1", "MONOCHROME2") and samples == 1:
        return pi
    if pi in _GREY_AS_COLOUR and samples == 3:
        return pi  # read when its channels are equal (see _load)
    if pi.startswith(("RGB", "YBR", "PALETTE", "HSV", "ARGB", "CMYK")) or samples != 1:
        raise ColourImageError(
            f"colour image ((0028,0004) Photometric Interpretation {shown}, "
            f"{samples} sample(s) per pixel): radiographs are greyscale",
            where,
        )
    raise MalformedDicomError(
        f"(0028,0004) Photometric Interpretation '{shown}' is not a valid greyscale value",
        where,
    )


def _check_presentation_lut_shape(ds: Dataset, photometric: str, caveats: list[str]) -> None:
    """A caveat in ``caveats`` when (2050,0020) Presentation LUT Shape contradicts (0028,0004)
    Photometric Interpretation about which way is bright.

    In the DX family of images IDENTITY goes with MONOCHROME2 and INVERSE with MONOCHROME1;
    MONOCHROME2 with INVERSE (or MONOCHROME1 with IDENTITY) says both that the lowest value is
    black and that it is white. Photometric Interpretation, the type 1 attribute that defines
    what the pixel values mean, is followed (some writers are known to set the shape wrongly);
    any other shape, or none, says nothing here.
    """
    expected = _LUT_SHAPE_OF.get(photometric)
    shape = (_text(ds, _PRESENTATION_LUT_SHAPE) or "").upper()
    if expected is None or shape not in _LUT_SHAPE_OF.values() or shape == expected:
        return
    caveats.append(
        f"(0028,0004) Photometric Interpretation {photometric} and (2050,0020) Presentation LUT "
        f"Shape {shape} disagree about which way is bright; the photometric interpretation is "
        "followed: if bone is dark on the overlay, the film was read inverted"
    )


def _check_presentation_intent(ds: Dataset, caveats: list[str]) -> None:
    """A caveat in ``caveats`` when (0008,0068) Presentation Intent Type says FOR PROCESSING:
    the detector's raw image, before the console's tone curve and edge enhancement (with a
    (0028,1040) Pixel Intensity Relationship LIN, proportional to the exposure, not to its
    logarithm). Its levels are read as any film's, but the analysis was built and measured on
    films for presentation only; it is graded, and the record says so."""
    if (_text(ds, _PRESENTATION_INTENT_TYPE) or "").upper() != "FOR PROCESSING":
        return
    linear = (_text(ds, _PIXEL_INTENSITY_RELATIONSHIP) or "").upper() == "LIN"
    caveats.append(
        "(0008,0068) Presentation Intent Type FOR PROCESSING: an unprocessed image"
        + (" whose values follow the exposure linearly ((0028,1040) LIN)" if linear else "")
        + "; brooker was built and measured on images for presentation, so bone may be "
        "segmented differently here (grade the film as it is presented, or check the overlay)"
    )


def _number_of_frames(ds: Dataset, where: str, ident: Sequence[str] = ()) -> int:
    elem = ds.get_item(0x00280008)
    if elem is None:
        return 1
    strings = _nonempty_strings(ds, 0x00280008)
    if not strings:
        return 1
    if len(strings) > 1:
        raise MalformedDicomError(
            f"(0028,0008) Number of Frames holds {len(strings)} values, not one", where
        )
    try:
        value = float(strings[0])
    except ValueError:
        raise MalformedDicomError(
            f"(0028,0008) Number of Frames {_show(_redact(strings[0], ident))} is not a number",
            where,
        ) from None
    if not value.is_integer():  # 1.5, inf, nan: the decoder would be asked for part frames
        raise MalformedDicomError(
            f"(0028,0008) Number of Frames {_show(_redact(strings[0], ident))} is not a "
            "whole number",
            where,
        )
    n = int(value)
    if n < 1:
        raise MalformedDicomError(f"(0028,0008) Number of Frames is {n}", where)
    if n > 1:
        raise MultiFrameError(
            f"multi-frame image with {n} frames ((0028,0008) Number of Frames); "
            "only single-frame radiographs are graded",
            where,
        )
    return n


def _geometry(ds: Dataset, where: str) -> tuple[int, int, int, int, int]:
    rows = _int_value(ds, 0x00280010, "(0028,0010) Rows", where)
    cols = _int_value(ds, 0x00280011, "(0028,0011) Columns", where)
    bits_alloc = _int_value(ds, 0x00280100, "(0028,0100) Bits Allocated", where)
    bits_stored = _int_value(
        ds, 0x00280101, "(0028,0101) Bits Stored", where, default=bits_alloc
    )
    pixel_rep = _int_value(ds, 0x00280103, "(0028,0103) Pixel Representation", where, default=0)
    if rows < 1 or cols < 1:
        raise MalformedDicomError(f"image size {rows} x {cols} is empty", where)
    if bits_alloc == 1:
        raise UnsupportedPixelFormatError(
            "1-bit (0028,0100) Bits Allocated: a bitmap, not a radiograph", where
        )
    if bits_alloc not in (8, 16, 32):
        raise MalformedDicomError(f"(0028,0100) Bits Allocated is {bits_alloc}", where)
    if not 1 <= bits_stored <= bits_alloc:
        raise MalformedDicomError(
            f"(0028,0101) Bits Stored {bits_stored} does not fit "
            f"(0028,0100) Bits Allocated {bits_alloc}",
            where,
        )
    if pixel_rep not in (0, 1):
        raise MalformedDicomError(f"(0028,0103) Pixel Representation is {pixel_rep}", where)
    return rows, cols, bits_alloc, bits_stored, pixel_rep


def _check_size(
    ds: Dataset,
    pixel_elem: Any,
    ts: UID,
    rows: int,
    cols: int,
    bits_alloc: int,
    frames: int,
    max_megapixels: float,
    where: str,
    caveats: list[str],
) -> None:
    """Check the declared size against the cap and the data, before anything is allocated.

    Less native data than declared is refused (:class:`TruncatedPixelDataError`); more, beyond
    the byte that pads an odd length, is read as declared with a caveat in ``caveats``, not
    refused: PS3.5 8.1.1 asks readers to accept the excess padding older writers add, and the
    harmful cause, a (0028,0011) Columns too small, shears the film so that no hip is found
    (a Rows too small drops rows at the bottom; an extra frame is left unread)."""
    length = _element_length(pixel_elem)
    megapixels = rows * cols / 1e6
    if megapixels > max_megapixels:
        held = "" if length is None else f"; (7FE0,0010) Pixel Data holds {_bytes(length)}"
        raise SizeMismatchError(
            f"declares {rows} x {cols} pixels ({megapixels:.1f} MP), beyond the "
            f"{max_megapixels:g} MP cap{held}",
            where,
        )
    if ts not in _NATIVE_SYNTAXES:
        if length == 0:
            raise NoPixelDataError("(7FE0,0010) Pixel Data is empty", where)
        return
    expected = rows * cols * frames * (bits_alloc // 8)
    if length is None:
        raise MalformedDicomError(
            f"(7FE0,0010) Pixel Data has undefined length (encapsulated) but the transfer "
            f"syntax {_ts_name(ts)} is uncompressed",
            where,
        )
    if length == 0:
        raise NoPixelDataError("(7FE0,0010) Pixel Data is empty", where)
    if length < expected:
        held, need = _bytes(length), _bytes(expected)
        if held == need:  # "holds 1.1 MiB but ... need 1.1 MiB": the difference is the news
            held, need = f"{length:,} bytes", f"{expected:,} bytes"
        raise TruncatedPixelDataError(
            f"(7FE0,0010) Pixel Data holds {held} but {rows} x {cols} pixels at "
            f"{bits_alloc} bits need {need} ({_ts_name(ts)}): truncated or "
            "wrong size in the header",
            where,
        )
    excess = length - expected - expected % 2  # an odd length is padded with one byte
    if excess > 0:
        # read as declared, the rest ignored: trailing padding, or (0028,0011) Columns too
        # small, which shears the film (each row starts a little further along the data)
        caveats.append(
            f"(7FE0,0010) Pixel Data holds {excess} bytes more than {rows} x {cols} pixels "
            "need: the rest is ignored; if the overlay shows a slanted film, (0028,0011) "
            "Columns is wrong"
        )


def _element_length(elem: Any) -> int | None:
    """Value length of an element without reading a deferred value; None if undefined."""
    if isinstance(elem, RawDataElement):
        if elem.length == 0xFFFFFFFF:
            return None
        if isinstance(elem.value, bytes | bytearray):
            # read up to the end of a file cut short: the bytes there are, not the length the
            # header declares (a small film cut short reached the decoder, whose complaint
            # was reported as undecodable, not as truncated)
            return min(int(elem.length), len(elem.value))
        return int(elem.length)
    if isinstance(elem, DataElement):
        value = elem.value
        if value is None:
            return 0
        if isinstance(value, bytes | bytearray):
            return len(value)
    return None


#: How much of an encapsulated stream :func:`_check_codestream` searches for the frame header.
_CODESTREAM_HEAD: Final = 1 << 16

#: JPEG start-of-frame markers (SOF0-SOF15 without DHT C4, JPG C8, DAC CC) and JPEG-LS SOF55.
_JPEG_SOF: Final = frozenset({*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC} | {0xF7})


def _codestream_size(head: bytes, j2k: bool) -> tuple[str, int, int, int] | None:
    """``(kind, rows, cols, precision)`` from the first JPEG 2000 SIZ marker (``j2k``) or the
    first JPEG/JPEG-LS SOF marker (not ``j2k``) in ``head`` (the start of the encapsulated
    Pixel Data), or None if there is none."""
    if j2k:
        at = head.find(b"\xff\x4f\xff\x51")
        if at < 0 or len(head) < at + 4 + 38 + 3:
            return None
        siz = head[at + 4 :]
        x, y = int.from_bytes(siz[4:8], "big"), int.from_bytes(siz[8:12], "big")
        x0, y0 = int.from_bytes(siz[12:16], "big"), int.from_bytes(siz[16:20], "big")
        precision = (siz[38] & 0x7F) + 1 if len(siz) > 38 else 0
        return "JPEG 2000", y - y0, x - x0, precision
    pos = head.find(b"\xff\xd8\xff")
    if pos < 0:
        return None
    pos += 2
    while pos + 9 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_SOF:
            kind = "JPEG-LS" if marker == 0xF7 else "JPEG"
            precision = head[pos + 4]
            rows = int.from_bytes(head[pos + 5 : pos + 7], "big")
            cols = int.from_bytes(head[pos + 7 : pos + 9], "big")
            return kind, rows, cols, precision
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
            continue
        pos += 2 + int.from_bytes(head[pos + 2 : pos + 4], "big")
    return None


def _check_codestream(
    pixel_elem: Any, ts: UID, rows: int, cols: int, bits_alloc: int, where: str
) -> None:
    """Refuse a compressed frame whose own header disagrees with the DICOM header, before
    any decoder sees it.

    A decoder given (0028,0011) Columns 65535 for a 36-column JPEG-LS stream can abort the
    whole process (python-gdcm: an uncaught C++ exception, SIGABRT); ``brooker inspect``
    decodes in its own process, so this check is what keeps it alive. Only the stream of the
    transfer syntax's own kind is looked for: RLE (and any other syntax) carries no size, and
    its compressed bytes can hold a JPEG 2000 or JPEG marker by chance (a valid 16-bit RLE
    film of the project's own phantoms held FF 4F FF 51 and was refused as a JPEG 2000
    stream of a nonsense size).
    """
    value = getattr(pixel_elem, "value", None)
    if not isinstance(value, bytes | bytearray):
        return
    j2k = ts in JPEG2000TransferSyntaxes
    if not (j2k or ts in JPEGTransferSyntaxes or ts in JPEGLSTransferSyntaxes):
        return
    found = _codestream_size(bytes(value[:_CODESTREAM_HEAD]), j2k)
    if found is None:  # every syntax checked here is a JPEG, JPEG-LS or JPEG 2000 one
        raise UnsupportedPixelDataError(
            f"no {_ts_name(ts)} frame header found in (7FE0,0010) Pixel Data (corrupt stream)",
            where,
        )
    kind, s_rows, s_cols, precision = found
    if (s_rows, s_cols) != (rows, cols):
        raise SizeMismatchError(
            f"(0028,0010) Rows x (0028,0011) Columns declare {rows} x {cols} but the {kind} "
            f"stream in (7FE0,0010) Pixel Data holds {s_rows} x {s_cols}",
            where,
        )
    if precision > bits_alloc:
        raise SizeMismatchError(
            f"the {kind} stream holds {precision}-bit samples but (0028,0100) Bits Allocated "
            f"is {bits_alloc}",
            where,
        )


def _check_rle_segment(pixel_elem: Any, rows: int, cols: int, where: str) -> None:
    """Refuse an RLE frame whose first segment decodes to more than (0028,0010) Rows x
    (0028,0011) Columns values (one byte of padding aside), before the decoders see it.

    RLE carries no size, but each segment holds one byte of every pixel. The decoders cut a
    longer segment to the declared size (pydicom with a warning, pylibjpeg-rle silently or by
    a panic), so a Columns one too small read every row one pixel further along (a slanted
    film) and a Rows too small dropped rows. A shorter segment the decoders refuse themselves.
    """
    value = getattr(pixel_elem, "value", None)
    if not isinstance(value, bytes | bytearray):
        return
    try:
        frame = next(generate_frames(bytes(value), number_of_frames=1))
        n_segments = int.from_bytes(frame[:4], "little")
        offsets = [int.from_bytes(frame[4 * i : 4 * i + 4], "little") for i in range(1, 3)]
        end = offsets[1] if n_segments > 1 else len(frame)
        held = len(decode_segment(frame[offsets[0] : end]))
    except BaseException as exc:  # a corrupt stream: the decoders say what is wrong with it
        if isinstance(exc, _FATAL):
            raise
        return
    need = rows * cols
    if held - need > 1:
        raise SizeMismatchError(
            f"(0028,0010) Rows x (0028,0011) Columns declare {rows} x {cols} but each segment "
            f"of the RLE stream in (7FE0,0010) Pixel Data holds {held:,} values, not {need:,}",
            where,
        )


#: Pixel-value checks sample about this many values (whole rows, evenly spaced).
_VALUE_SAMPLE: Final = 1 << 20


def _roughness(values: npt.NDArray[np.signedinteger[Any]]) -> float:
    """Mean absolute difference of horizontal neighbours over the 1-99 % range (0 if flat)."""
    lo, hi = np.percentile(values, [1.0, 99.0])
    if hi <= lo:
        return 0.0
    return float(np.abs(np.diff(values, axis=1)).mean() / (hi - lo))


def _high_bit_shift(
    ds: Dataset,
    ts: UID,
    raw: npt.NDArray[Any],
    bits_alloc: int,
    bits_stored: int,
    signed: bool,
    caveats: list[str],
) -> int:
    """How far the stored values stand above the sample's lowest bit: (0028,0102) High Bit
    less (0028,0101) Bits Stored - 1, for native pixel data whose High Bit says so and whose
    values bear it out (0 when High Bit is the usual Bits Stored - 1, missing, unreadable or
    impossible, or the values sit at the bottom all the same).

    PS3.5 8.1.1 lets the stored bits sit anywhere in the sample, High Bit naming the top one;
    most IODs (DX among them) ask for them at the bottom, but a film written otherwise (High
    Bit 15, Bits Stored 12) was refused as noise, "corrupt header", though its header says
    where the values are. They are shifted down to be read, with a caveat, when they need
    bits above Bits Stored and leave the bits below the shift clear; a High Bit set too high
    over values at the bottom (a writer's slip) is left alone."""
    if ts not in _NATIVE_SYNTAXES or raw.dtype.kind not in "iu":
        return 0  # a decoder gives the values of a compressed stream at the bottom
    try:
        high = _int_value(ds, 0x00280102, "(0028,0102) High Bit", "", default=bits_stored - 1)
    except MalformedDicomError:
        return 0
    if not bits_stored - 1 < high < bits_alloc:
        return 0
    shift = high - (bits_stored - 1)
    sample = raw.ravel()[:: max(1, raw.size // _VALUE_SAMPLE)].astype(np.int64)
    lo, hi = (-(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1) if signed else (
        0, (1 << bits_stored) - 1)  # fmt: skip
    at_the_bottom = bool(((sample >= lo) & (sample <= hi)).all())
    if at_the_bottom or bool((sample & ((1 << shift) - 1)).any()):
        return 0
    caveats.append(
        f"(0028,0102) High Bit {high} with (0028,0101) Bits Stored {bits_stored}: the values "
        f"stand in bits {shift}-{high} of each {bits_alloc}-bit sample (not at the bottom, as "
        "most IODs ask) and were read shifted down"
    )
    return shift


def _check_pixel_values(
    raw: npt.NDArray[Any], bits_stored: int, signed: bool, where: str, caveats: list[str]
) -> None:
    """Check the decoded values against (0028,0101) Bits Stored and (0028,0103) Pixel
    Representation before they are masked to that many bits.

    A corrupt header gives a confidently wrong grade: Bits Stored 12 -> 1 keeps the lowest bit
    (noise), Pixel Representation 0 -> 1 folds the upper half of the range onto negative
    values. Both turn a smooth radiograph rough: the image as the header says to read it is
    compared with the other reading (all stored bits; the other signedness), by the mean jump
    between neighbours relative to the range. Much rougher than the alternative means the
    header is wrong (``implausible_pixel_values``). Bits above Bits Stored that do not carry
    the image (embedded overlays, garbage) are dropped with a caveat.
    """
    if raw.dtype.kind not in "iu" or raw.ndim != 2 or raw.shape[1] < 2:
        return
    step = max(1, raw.size // _VALUE_SAMPLE)
    # 8- and 16-bit containers of at most 16 stored bits in int32: every value, difference and
    # fold below fits, and the half-width integers halve the cost of this check (it was ~2/3 of
    # a 0.2 mm film's decode time); more stored bits than that need int64 for the folds
    small = raw.dtype.itemsize <= 2 and bits_stored <= 16
    wide = np.dtype(np.int32) if small else np.dtype(np.int64)
    sample: npt.NDArray[np.signedinteger[Any]] = raw[::step].astype(wide)
    container_bits = raw.dtype.itemsize * 8
    full = (1 << bits_stored) - 1
    low = sample & full  # the stored bits, unsigned
    half = 1 << (bits_stored - 1)
    as_signed = np.where(low >= half, low - (1 << bits_stored), low)
    declared = as_signed if signed else low
    if bits_stored >= 4:
        # pairs of neighbours that are close in one reading and a full-range jump in the other:
        # the reading with many of them folds the image at the sign bit
        other = low if signed else as_signed
        d_decl = np.abs(np.diff(declared, axis=1))
        d_other = np.abs(np.diff(other, axis=1))
        close, jump = 1 << (bits_stored - 3), 1 << (bits_stored - 1)
        folded = int(((d_decl > jump) & (d_other < close)).sum())
        unfolded = int(((d_other > jump) & (d_decl < close)).sum())
        if folded > 1e-4 * d_decl.size and folded > 10 * (unfolded + 1):
            rep = "1 (signed)" if signed else "0 (unsigned)"
            alt = "unsigned" if signed else "signed"
            raise ImplausiblePixelValuesError(
                f"(0028,0103) Pixel Representation {rep} folds the image at the sign bit: read "
                f"as {alt} the {bits_stored}-bit values are continuous (corrupt header)",
                where,
            )
    if bits_stored >= container_bits:
        return
    # signed values may or may not be sign-extended in the container: both are clean
    above = (sample < (-half if signed else 0)) | (sample > full)
    n_above = int(above.sum())
    if not n_above:
        return
    share = n_above / above.size
    # is the image in all the bits rather than in the stored ones?
    if share > 0.01 and _roughness(declared) > 2 * _roughness(sample) + 0.01:
        raise ImplausiblePixelValuesError(
            f"{100 * share:.0f} % of the pixel values need "
            f"{int(np.abs(sample).max()).bit_length()} bits but (0028,0101) Bits Stored is "
            f"{bits_stored}: read with {bits_stored} bits the image is noise (corrupt header)",
            where,
        )
    caveats.append(
        f"{100 * share:.1f} % of the pixels have bits set above (0028,0101) Bits Stored "
        f"{bits_stored} (embedded overlay or unused bits); they were ignored"
    )


# --------------------------------------------------------------------------------------------
# decoding


def _decode(
    ds: Dataset, ts: UID, where: str, pixel_options: dict[str, Any]
) -> tuple[npt.NDArray[Any], str]:
    """Decode the single frame with the checked Image Pixel values ``pixel_options`` (they
    override the header's); return the stored values and the decoder's name."""
    # a malformed UID is not quoted: a corrupted length runs it into the elements after it
    valid = bool(_VALID_UID.fullmatch(str(ts)))
    name = _ts_name(ts) if valid else "UID malformed"
    quoted = f"{name} ({ts})" if valid else name
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise UnsupportedPixelDataError(
            f"transfer syntax {quoted} cannot be decoded here", where
        ) from None
    except Exception as exc:
        raise UnsupportedPixelDataError(
            f"no decoder for transfer syntax {quoted}: {_safe_detail(exc)}", where
        ) from None

    if ts in _NATIVE_SYNTAXES:
        label = "pydicom-native (deflated)" if ts == DeflatedExplicitVRLittleEndian else (
            "pydicom-native"
        )
        try:
            arr, _ = decoder.as_array(ds, index=0, **_KEEP_UNUSED_BITS, **pixel_options)
        except MemoryError:
            raise
        except BaseException as exc:
            if isinstance(exc, _FATAL):
                raise
            raise UnsupportedPixelDataError(
                f"pixel data ({name}) cannot be decoded: {_safe_detail(exc)}", where
            ) from None
        return arr, label

    plugins: list[str] = [p for p in _PLUGIN_ORDER if p in decoder.available_plugins]
    plugins += [p for p in decoder.available_plugins if p not in plugins]
    if not plugins:
        missing = "; ".join(getattr(decoder, "missing_dependencies", []) or [])
        raise UnsupportedPixelDataError(
            f"no decoder installed for transfer syntax {quoted}"
            + (f" (would need: {missing})" if missing else ""),
            where,
        )
    failures: list[str] = []
    for plugin in plugins:
        try:
            arr, _ = decoder.as_array(
                ds, index=0, decoding_plugin=plugin, **_KEEP_UNUSED_BITS, **pixel_options
            )
        except MemoryError:
            raise
        except BaseException as exc:  # a Rust decoder's panic is not an Exception
            if isinstance(exc, _FATAL):
                raise
            failures.append(f"{plugin}: {_decoder_detail(exc)}")
            continue
        return arr, _plugin_label(plugin, ts)
    raise UnsupportedPixelDataError(
        f"pixel data in {quoted} cannot be decoded (corrupt, truncated or an unsupported "
        f"variant): {' | '.join(failures)}",
        where,
    )


def _plugin_label(plugin: str, ts: UID) -> str:
    if plugin == "pylibjpeg":
        if ts.name.startswith("RLE"):
            return "pylibjpeg-rle"
        if "2000" in ts.name:
            return "pylibjpeg-openjpeg"
        return "pylibjpeg"
    if plugin == "gdcm":
        return "python-gdcm"
    if plugin == "pydicom":
        return "pydicom-rle" if ts.name.startswith("RLE") else "pydicom"
    return plugin


def _mask_to_bits_stored(
    arr: npt.NDArray[Any], bits_stored: int, signed: bool
) -> npt.NDArray[Any]:
    """Keep the low ``bits_stored`` bits (overlay bits or garbage above are dropped).

    Signed values are sign-extended from bit ``bits_stored - 1``. Idempotent on clean data.
    """
    if arr.dtype.kind not in "iu":
        return arr
    work = np.int64 if arr.dtype.itemsize > 2 else np.int32
    if bits_stored >= arr.dtype.itemsize * 8 and (arr.dtype.kind == "i") == signed:
        return arr
    out: npt.NDArray[np.signedinteger[Any]] = arr.astype(work)
    out &= (1 << bits_stored) - 1
    if signed:
        half = 1 << (bits_stored - 1)
        out[out >= half] -= 1 << bits_stored
    return out


def _modality_lut(
    ds: Dataset,
    stored: npt.NDArray[Any],
    bits_stored: int,
    signed: bool,
    where: str,
    ident: Sequence[str] = (),
) -> tuple[npt.NDArray[np.float32], tuple[float, float]]:
    """Apply the Modality LUT; also return ``(lo, hi)``, the range of its output.

    MONOCHROME1 is inverted as ``(lo + hi) - value`` over the range the Modality LUT can
    produce, so the inversion does not depend on the image content and keeps the range; a
    ``lo`` under 0 makes a VOI LUT's first mapped value signed (PS3.3 C.11.2.1.1).
    """
    smin, smax = (-(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1) if signed else (
        0,
        (1 << bits_stored) - 1,
    )
    seq = ds.get("ModalityLUTSequence") if ds.get_item(0x00283000) is not None else None
    if seq:
        try:
            table, first, _ = _lut_table(seq[0], ds, _MODALITY_LUT, where)
            # the descriptor's first value is signed when the pixels are (PS3.3 C.11.1.1.1)
            first = _first_mapped(first, signed)
            # int32 (int64 for 32-bit pixels): the index (pixel - first) overflows a signed
            # 8-bit pixel's type; a value under the first mapped one takes the first entry,
            # one past the table's end the last (PS3.3 C.11.1.1.1)
            work = np.int64 if stored.dtype.itemsize > 2 else np.int32
            index: npt.NDArray[np.signedinteger[Any]] = stored.astype(work)
            index -= first
            np.clip(index, 0, len(table) - 1, out=index)
            out = table.astype(np.float32)[index]
            del index
        except MalformedDicomError:
            raise
        except Exception as exc:
            raise MalformedDicomError(
                f"{_MODALITY_LUT} cannot be applied ({_safe_detail(exc)})", where
            ) from None
        _check_not_flattened(stored, out, _MODALITY_LUT, where)
        return out, (float(table.min()), float(table.max()))
    slope = _float_value(
        ds, 0x00281053, "(0028,1053) Rescale Slope", where, default=1.0, ident=ident
    )
    intercept = _float_value(
        ds, 0x00281052, "(0028,1052) Rescale Intercept", where, default=0.0, ident=ident
    )
    if slope == 0:
        raise MalformedDicomError("(0028,1053) Rescale Slope is 0", where)
    out = stored.astype(np.float32)
    if slope != 1.0:
        out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)
    # a slope of 1e-300 underflows every pixel to 0, one of 1e-8 with an intercept of 1e6
    # rounds them all to one float32: a blank film, graded as "no hip found"
    _check_not_flattened(
        stored,
        out,
        f"(0028,1053) Rescale Slope {slope:g} with (0028,1052) Rescale Intercept {intercept:g}",
        where,
    )
    ends = (slope * smin + intercept, slope * smax + intercept)
    return out, (min(ends), max(ends))


_MODALITY_LUT: Final = "(0028,3000) Modality LUT Sequence"
_VOI_LUT: Final = "(0028,3010) VOI LUT Sequence"
#: Bits per LUT entry, the (0028,3002) LUT Descriptor's third value, for a Modality LUT and a
#: VOI LUT alike: 8, or 10 to 16, an entry of 10 to 16 bits held one a 16-bit word.
#:
#: The choice for a Modality LUT: PS3.3 C.11.1.1.1 says 8 or 16, but a VOI LUT may say 10 to
#: 15 (C.8.11.3.1.5) and real Modality LUTs do too (a 12-bit table of a 12-bit detector). Such
#: a table is not ambiguous: its data can only be one entry a 16-bit word, n words, checked as
#: a 16-bit table's are; and its entries are the modality's values, used as they are (a
#: Modality LUT's output is not scaled by its depth, as a VOI LUT's is, so an entry above the
#: depth squeezes nothing: see :func:`_voi_lut`). A radiologist expects the film read as its
#: table says; refusing it for a depth its data do not need would lose a readable film. 9
#: bits, or under 8, is still refused: no image IOD allows them.
_LUT_BITS: Final = (8, *range(10, 17))


def _first_mapped(
    first: int, signed: bool, lowest: float | None = None, entries: int = 1
) -> int:
    """The (0028,3002) LUT Descriptor's second value, the first input value mapped, read as
    the input it maps: signed when that input can be negative (PS3.3 C.11.1.1.1 for a
    Modality LUT, whose input is the stored pixels; C.11.2.1.1 for a VOI LUT, whose input is
    the Modality LUT's output), whatever VR the descriptor was written or read with.

    The descriptor is "US or SS": written US (or read so, as pydicom reads an implicit VR
    one by (0028,0103) Pixel Representation alone), 0xF830 is 63536, and every input, all
    under it, fell onto the table's first entry; it means -2000. pydicom's own
    ``apply_modality_lut`` and ``apply_voi`` take the value as read. An unsigned input keeps
    the value as read: a negative one was written SS, and is taken at its word.

    ``lowest``, the least value the input can take (a VOI LUT's: the Modality LUT's lowest
    output), keeps a value as read when read signed the whole table (``entries`` values from
    it) would lie under it: unsigned 16-bit pixels rescaled by a negative intercept reach both
    under 0 and over 32767, and there a US 40000 is 40000 (a table from -25536 maps no input
    at all). A table that starts under ``lowest`` and reaches it is signed: a VOI LUT from
    -1024 over pixels rescaled by -1000 begins under the least input, as tables often do.

    >>> _first_mapped(63536, True), _first_mapped(63536, False)
    (-2000, 63536)
    >>> _first_mapped(40000, True, -1024.0, 4096), _first_mapped(64512, True, -1024.0, 4096)
    (40000, -1024)
    >>> _first_mapped(64512, True, -1000.0, 4096)
    -1024
    """
    if signed and first >= 1 << 15:
        negative = first - (1 << 16)
        if lowest is None or negative + entries - 1 >= lowest:
            return negative
    return first


def _lut_table(
    item: Dataset, ds: Dataset, what: str, where: str | None
) -> tuple[npt.NDArray[np.uint16], int, int]:
    """The table of a Modality or VOI LUT item of the sequence ``what``, the first value it
    maps as the descriptor holds it (unsigned when written US: see :func:`_first_mapped`),
    and its bits per entry.

    (0028,3002) LUT Descriptor gives the number of entries (0 means 65536), the first value
    mapped and the bits per entry (one of :data:`_LUT_BITS`). An 8-bit table's (0028,3006)
    LUT Data packs two entries a 16-bit word, low byte first (PS3.3 C.11.1.1.1,
    C.11.2.1.1.1); some writers put one a word, in its low byte. The data's length tells
    which: n bytes (padded to whole words) or 2n; any other length is refused rather than
    guessed. Wider entries take one word each, of which there must be n (any more are
    ignored). The data is OW bytes, in the byte order the item was read with, or US values.
    """
    if item.get_item(0x00283002) is None:
        raise MalformedDicomError(f"{what}: (0028,3002) LUT Descriptor is absent", where)
    given = item.LUTDescriptor
    # one value (a descriptor cut short) comes as a bare number
    desc = [int(v) for v in ([given] if isinstance(given, int | np.integer) else given)]
    if len(desc) < 3 or not 0 <= desc[0] < 1 << 16:
        raise MalformedDicomError(
            f"{what}: (0028,3002) LUT Descriptor {desc} is not a number of entries, a first "
            "value mapped and the bits per entry",
            where,
        )
    n, first, bits = desc[0] or 1 << 16, desc[1], desc[2]
    if bits not in _LUT_BITS:
        raise MalformedDicomError(
            f"{what}: (0028,3002) LUT Descriptor gives {bits} bits per entry, not 8 or 10 to 16",
            where,
        )
    data = item.get_item(0x00283006)
    value = None if data is None else item.LUTData
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
        if not _little_endian(item, ds):
            if len(raw) % 2:
                raise MalformedDicomError(
                    f"{what}: (0028,3006) LUT Data has an odd number of bytes ({len(raw)}) "
                    "in big endian 16-bit words",
                    where,
                )
            raw = np.frombuffer(raw, ">u2").astype("<u2").tobytes()
    else:
        # US values (implicit VR gives a one-entry table's as a single number)
        words = [value] if isinstance(value, int | np.integer) else list(value or [])
        if not words or not all(
            isinstance(w, int | np.integer) and 0 <= w < 1 << 16 for w in words
        ):
            raise MalformedDicomError(
                f"{what}: (0028,3006) LUT Data is absent or not 16-bit words", where
            )
        raw = np.asarray([int(w) for w in words], "<u2").tobytes()
    if bits == 8:
        if len(raw) in (n, n + n % 2):  # two entries a word
            return np.frombuffer(raw, np.uint8, n).astype(np.uint16), first, bits
        if len(raw) == 2 * n:  # one entry a word
            return np.frombuffer(raw, np.uint8)[0::2].astype(np.uint16), first, bits
        raise MalformedDicomError(
            f"{what}: (0028,3006) LUT Data has {len(raw)} bytes; an 8-bit table of {n} "
            f"entries has {n + n % 2} (two entries a word) or {2 * n} (one a word)",
            where,
        )
    if len(raw) < 2 * n:
        raise MalformedDicomError(
            f"{what}: (0028,3006) LUT Data has {len(raw)} bytes; a table of {n} entries of "
            f"{bits} bits has {2 * n}",
            where,
        )
    return np.frombuffer(raw, "<u2", n).astype(np.uint16), first, bits


def _little_endian(item: Dataset, ds: Dataset) -> bool:
    """Whether the OW bytes of ``item`` (an item of ``ds``) are little endian: the encoding
    pydicom read them with, else the transfer syntax's."""
    for encoding in (item.original_encoding, ds.original_encoding):
        if encoding and encoding[1] is not None:
            return bool(encoding[1])
    meta = getattr(ds, "file_meta", None)
    syntax = None if meta is None else meta.get("TransferSyntaxUID")
    return syntax is None or UID(str(syntax)) != ExplicitVRBigEndian


def _check_not_flattened(
    stored: npt.NDArray[Any], out: npt.NDArray[np.float32], what: str, where: str
) -> None:
    """Refuse a Modality LUT or rescale (``what``) that makes different stored values one
    finite value (all infinite is refused as non-finite)."""
    if (
        out.size
        and out.min() == out.max()
        and np.isfinite(out.min())
        and stored.min() != stored.max()
    ):
        raise MalformedDicomError(f"{what} maps every pixel to one value", where)


def _display_mapping(
    ds: Dataset, mono1: bool, k_invert: float, lowest: float | None, caveats: list[str]
) -> DisplayMapping | None:
    """The file's first VOI LUT or VOI window as a bone-white piecewise-linear map.

    Both are defined on Modality LUT output with low = black in MONOCHROME2 and low = white in
    MONOCHROME1. With bone-bright pixels ``p' = K - p`` (MONOCHROME1), the map becomes
    ``x' = K - x`` (reversed) and ``y' = 1 - y``. ``lowest``: the Modality LUT's lowest
    output when it is negative (the VOI LUT's first mapped value is then signed), else None.

    A VOI LUT that cannot be applied costs only the overlay's rendering (the analysis reads
    the Modality LUT's output): the file's window, else a percentile window, is used instead,
    with a caveat in ``caveats`` saying what was wrong and what was used.
    """
    mapped: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str] | None = None
    broken: str | None = None
    try:
        mapped = _voi_lut(ds, lowest, caveats)
    except Exception as exc:
        if isinstance(exc, BrookerError):
            broken = exc.detail.removeprefix(f"{_VOI_LUT}: ")
        else:
            broken = _safe_detail(exc)
    window_broken: str | None = None
    if mapped is None:
        try:
            mapped = _voi_window(ds)
        except ValueError as exc:  # a window that cannot be used: a percentile is used
            window_broken = str(exc)
        except Exception:
            window_broken = "it cannot be read"
    if broken is not None:
        instead = (
            "the file's (0028,1050) Window Center and (0028,1051) Window Width"
            if mapped is not None
            else "a 0.5-99.5 % percentile window"
        )
        caveats.append(
            f"{_VOI_LUT} cannot be applied ({broken}): the overlay is shown through {instead} "
            "instead (display only; grading does not use it)"
        )
    elif window_broken is not None:
        caveats.append(
            f"the file's (0028,1050) Window Center and (0028,1051) Window Width cannot be used "
            f"({window_broken}): the overlay is shown through a 0.5-99.5 % percentile window "
            "instead (display only; grading does not use it)"
        )
    if mapped is None:
        return None
    x, y, source = mapped
    if mono1:
        x = (k_invert - x)[::-1].copy()
        y = (1.0 - y)[::-1].copy()
    return DisplayMapping(input_values=x, output_fraction=y, source=source)


#: The file's display mapping, named in a caveat (:func:`_display_shows`).
_DISPLAY_SAID: Final = {
    "voi_window": "the file's window ((0028,1050) Window Center, (0028,1051) Window Width) "
    "shows",
    "voi_lut": f"the file's {_VOI_LUT} shows",
}


def _display_shows(
    display: DisplayMapping,
    pixels: npt.NDArray[Any],
    box: tuple[int, int, int, int] | None,
) -> bool:
    """Whether the file's display mapping shows the film (inside its border, ``box``) with
    any contrast: at least 1 % of its pixels, sampled, fall on the mapping's ramp rather than
    at its black or white end. A window that the pixels all lie outside of (a header written
    for other pixel values) drew the overlay all white or all black, with no caveat."""
    px = pixels if box is None else pixels[box[0] : box[2], box[1] : box[3]]
    step = max(1, int(math.sqrt(px.size / 250_000)))
    sample = px[::step, ::step]
    if sample.size == 0 or float(sample.min()) == float(sample.max()):
        return True  # one grey whatever the window: not the header's fault
    shown = display.apply(sample)
    on_ramp = np.count_nonzero((shown > 0.01) & (shown < 0.99))
    return bool(on_ramp >= 0.01 * shown.size)


def _voi_lut(
    ds: Dataset, lowest: float | None, caveats: list[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str] | None:
    """The first VOI LUT as ``(input values, output fraction 0..1, "voi_lut")``, or None
    when there is none; :class:`MalformedDicomError` when it cannot be applied (a table that
    shows every input as one grey is no window at all).

    ``lowest``: the Modality LUT's lowest output when it is negative, so that the descriptor's
    first mapped value is signed (PS3.3 C.11.2.1.1; :func:`_first_mapped`), else None.

    The output range is 0 to 2**bits - 1, bits the descriptor's third value (PS3.3
    C.11.2.1.1): entries are scaled by it, not by the table's largest entry. An entry above it
    (the descriptor, or the entry, is wrong) is clipped to the top of that range, with a
    caveat in ``caveats``: scaling by the largest entry instead let one stray word squeeze
    every other entry into the dark end of the overlay, silently. Clipping keeps each entry
    in range where the file put it and is monotone (DCMTK masks such entries to the declared
    bits, which can turn an over-range entry black).
    """
    if ds.get_item(0x00283010) is None:
        return None
    seq = ds.VOILUTSequence
    if not seq:
        return None
    table, first, bits = _lut_table(seq[0], ds, _VOI_LUT, None)
    n = len(table)
    first = _first_mapped(first, lowest is not None, lowest, n)
    y = table.astype(np.float64)
    if n < 2 or y.min() == y.max():
        raise MalformedDicomError(
            f"{_VOI_LUT}: its table of {n} "
            + ("entry" if n == 1 else "entries")
            + " shows every value as one grey",
            None,
        )
    top = float((1 << bits) - 1)
    over = int(np.count_nonzero(y > top))
    if over and float(y.min()) >= top:  # clipped, every entry would be one grey
        raise MalformedDicomError(
            f"{_VOI_LUT}: every entry is at or above the top of the {bits}-bit range its "
            "(0028,3002) LUT Descriptor declares",
            None,
        )
    if over:
        caveats.append(
            f"{_VOI_LUT}: {over} of {n} entries above the {bits}-bit range its (0028,3002) "
            f"LUT Descriptor declares (up to {int(y.max())}): clipped to its top on the overlay "
            "(display only; grading does not use it)"
        )
        np.minimum(y, top, out=y)
    y /= top
    x = np.arange(first, first + n, dtype=np.float64)
    if n > 4096:  # keep the map small; it only renders the overlay
        idx = np.unique(np.linspace(0, n - 1, 4096).round().astype(np.int64))
        x, y = x[idx], y[idx]
    return x, y, "voi_lut"


def _voi_window(
    ds: Dataset,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str] | None:
    """The file's first VOI window as a map, None when it has none.

    Raises
    ------
    ValueError
        A window that is there but cannot be used (not a number, not finite, a width under
        1 for LINEAR, PS3.3 C.11.2.1.2.1, or not over 0), saying why in words that quote no
        value of the file's (a DS string can hold any text).
    """
    centres = _raw_strings(ds, 0x00281050)
    widths = _raw_strings(ds, 0x00281051)
    # a value of spaces is an empty value (PS3.5 6.2, DS): no window, as a zero-length one is
    if not centres or not widths or not centres[0] or not widths[0]:
        return None
    try:
        c, w = float(centres[0]), float(widths[0])
    except ValueError:
        raise ValueError("a value is not a number") from None
    if not (math.isfinite(c) and math.isfinite(w)):
        raise ValueError("a value is not finite")
    if w <= 0:
        raise ValueError("its width is not over 0")
    func = (_raw_strings(ds, 0x00281056) or ["LINEAR"])[0].upper() or "LINEAR"
    if func == "SIGMOID":
        x = np.linspace(c - 4 * w, c + 4 * w, 65)
        y = 1.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
        y = (y - y[0]) / (y[-1] - y[0])
    elif func == "LINEAR_EXACT":
        x = np.array([c - w / 2, c + w / 2])
        y = np.array([0.0, 1.0])
    else:  # LINEAR (PS3.3 C.11.2.1.2.1)
        if w < 1:
            raise ValueError("its width is under 1, which LINEAR does not allow")
        lo = c - 0.5 - (w - 1) / 2
        hi = max(c - 0.5 + (w - 1) / 2, lo + 1e-6)
        x = np.array([lo, hi])
        y = np.array([0.0, 1.0])
    return x.astype(np.float64), y.astype(np.float64), "voi_window"


# --------------------------------------------------------------------------------------------
# spacing


def check_gradable(radiograph: Radiograph) -> None:
    """Refuse, before any perception step, a radiograph whose size or spacing no grading can
    use, so that no header can make the analysis divide by zero or allocate without bound.

    Raises
    ------
    ImageTooSmallError
        Fewer than :data:`~brooker.units.MIN_IMAGE_SIDE_PX` pixels, or less than
        :data:`~brooker.units.MIN_FIELD_SIDE_MM`, on a side (``inspect`` still shows such a
        file: only grading refuses it).
    ImplausibleSpacingError
        See :func:`implausible_spacing_reason`. The loader checks every spacing it resolves;
        this also covers a :class:`Radiograph` built by hand and given to
        :func:`brooker.analyze`.
    UnsupportedPixelDataError
        A pixel that is NaN or infinite (the loaders refuse them; this covers a
        :class:`Radiograph` built by hand: the hip detector's histograms fail on them).
    """
    rows, cols = radiograph.pixels.shape[:2]
    if not np.isfinite(radiograph.pixels).all():
        raise UnsupportedPixelDataError(
            "the pixel data has non-finite values (NaN or infinity)", radiograph.meta.path
        )
    # the DICOM tags are named for a DICOM file only (an image file has no such tags)
    dicom = bool(radiograph.meta.transfer_syntax_uid)
    dims = "(0028,0010) Rows x (0028,0011) Columns" if dicom else "rows x columns"
    _check_film_size(radiograph, rows, cols, f"image of {rows} x {cols} pixels", f" ({dims})")
    if radiograph.unpadded_px is not None:  # and the image the analysis reads (brooker.padding)
        r0, c0, r1, c1 = radiograph.unpadded_px
        _check_film_size(radiograph, r1 - r0, c1 - c0, box_said(radiograph), "")
    sp = radiograph.spacing
    if sp is None:
        return
    why = implausible_spacing_reason(sp.row_mm, sp.col_mm, radiograph.pixels.shape[:2])
    if why is not None:
        raise ImplausibleSpacingError(
            f"pixel spacing {sp.row_mm:g} x {sp.col_mm:g} mm ({sp.source.value}) {why}",
            radiograph.meta.path,
        )


def _check_film_size(
    radiograph: Radiograph, rows: int, cols: int, what: str, dims: str
) -> None:
    """:func:`check_gradable`'s size rules for ``rows`` x ``cols`` pixels of ``radiograph``,
    named ``what`` in the message (``dims``: what the pixel counts are, after it)."""
    if min(rows, cols) < MIN_IMAGE_SIDE_PX:
        raise ImageTooSmallError(
            f"{what}{dims}: fewer than {MIN_IMAGE_SIDE_PX} pixels on a side cannot show a hip",
            radiograph.meta.path,
        )
    sp = radiograph.spacing
    if sp is None:
        return
    h_mm, w_mm = rows * sp.row_mm, cols * sp.col_mm
    if min(h_mm, w_mm) < MIN_FIELD_SIDE_MM:
        raise ImageTooSmallError(
            f"{what} at {sp.row_mm:g} x {sp.col_mm:g} mm covers {h_mm:.1f} x {w_mm:.1f} mm: "
            f"less than {MIN_FIELD_SIDE_MM:g} mm on a side cannot show a hip",
            radiograph.meta.path,
        )


def _spacing_tags(ds: Dataset, shape: tuple[int, int], ident: Sequence[str]) -> SpacingTags:
    """The header's spacing attributes, parsed for :func:`brooker.spacing.resolve_spacing`.

    The header text they quote (an invalid value, the calibration type) is redacted here: the
    tags are kept on the radiograph, and the caveats built from them are not redacted again.
    """
    ps = _parse_pair(ds, _PIXEL_SPACING, "(0028,0030) Pixel Spacing", shape, ident)
    ips = _parse_pair(
        ds, _IMAGER_PIXEL_SPACING, "(0018,1164) Imager Pixel Spacing", shape, ident
    )
    mag = _parse_mag(ds, ident)
    cal_type = _text(ds, _CALIBRATION_TYPE)
    nominal = _parse_pair(
        ds, _NOMINAL_SCANNED_PIXEL_SPACING, "(0018,2010) Nominal Scanned Pixel Spacing", shape
    )
    return SpacingTags(
        pixel_spacing_mm=ps if isinstance(ps, tuple) else None,
        imager_pixel_spacing_mm=ips if isinstance(ips, tuple) else None,
        magnification=mag if isinstance(mag, float) else None,
        # redacted whole, then cut: an identifier cut short would no longer match
        calibration_type=None if cal_type is None else _printable(_redact(cal_type, ident)),
        invalid=tuple(v for v in (ps, ips, mag) if isinstance(v, InvalidSpacingTag)),
        # named when nothing else gives a spacing, never used; a malformed one is not named
        nominal_scanned_pixel_spacing_mm=nominal if isinstance(nominal, tuple) else None,
    )


def _parse_pair(
    ds: Dataset,
    tag: int,
    label: str,
    shape: tuple[int, int] | None = None,
    ident: Sequence[str] = (),
) -> tuple[float, float] | InvalidSpacingTag | None:
    strings = _raw_strings(ds, tag)
    if strings is None or strings == [] or strings == [""]:
        return None
    # each value redacted whole before it is cut for the message (a cut identifier no longer
    # matches)
    shown = _show("\\".join(_redact(s, ident)[:16] for s in strings[:3]))
    if len(strings) != 2:
        return InvalidSpacingTag(label, f"{shown} does not hold two values (row\\column)")
    try:
        vals = (float(strings[0]), float(strings[1]))
    except ValueError:
        return InvalidSpacingTag(label, f"{shown} is not numeric")
    if not all(math.isfinite(v) and v > 0 for v in vals):
        return InvalidSpacingTag(label, f"{shown} is not positive and finite")
    why = implausible_spacing_reason(vals[0], vals[1], shape)
    if why is not None:
        return InvalidSpacingTag(label, f"{shown} mm {why}", implausible=True)
    return vals


def _parse_mag(ds: Dataset, ident: Sequence[str] = ()) -> float | InvalidSpacingTag | None:
    label = "(0018,1114) Estimated Radiographic Magnification Factor"
    strings = _raw_strings(ds, _MAGNIFICATION)
    if not strings or strings == [""]:
        return None
    if len(strings) != 1:
        shown = _show("\\".join(_redact(s, ident)[:16] for s in strings[:3]))
        return InvalidSpacingTag(label, f"{shown} holds {len(strings)} values, not one")
    shown = _show(_redact(strings[0], ident))
    try:
        mag = float(strings[0])
    except ValueError:
        return InvalidSpacingTag(label, f"{shown} is not numeric")
    lo, hi = _MAG_VALID_RANGE
    if not (math.isfinite(mag) and lo <= mag <= hi):
        return InvalidSpacingTag(label, f"{shown} is outside {lo:g}-{hi:g}")
    return mag


def _printable(text: str, limit: int = 40) -> str:
    """A header value fit for a one-line message: printable and short (redact it first)."""
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


def _show(text: str, limit: int = 40) -> str:
    """A header value fit for a one-line message: printable, short, quoted."""
    return f"'{_printable(text, limit)}'"


# --------------------------------------------------------------------------------------------
# laterality


#: A human patient's direction in (0020,0020) Patient Orientation: one or more of these letters.
_ORIENTATION_LETTERS = re.compile(r"[APRLHF]+")


def _laterality(
    orientation: tuple[str, ...] | None,
    view_position: str | None,
    image_laterality: str | None,
    caveats: list[str],
    *,
    turn: GridTransform = IDENTITY,
) -> tuple[ImageSide, str]:
    """Which image half shows the patient's right, and from which attribute: of the film
    turned upright by ``turn`` (:func:`_to_upright`), whose rows are the stored columns when it
    is stored turned a quarter.

    An AP film shows the patient's right on the image's left, a PA film on its right; stored
    mirrored (``turn`` a reflection: upside down, ``R\\H`` for an AP film turned a half, read
    with its rows reversed) it is the other way round, and that is what the orientation is
    checked against. An AP film turned a quarter (``H\\L``, ``F\\R``) is turned back a quarter,
    no mirror: its sides are those of an AP film stored upright.

    >>> _laterality(("H", "R"), "PA", None, [], turn=QUARTER_ANTICLOCKWISE)
    (<ImageSide.RIGHT: 'right'>, 'patient_orientation')
    """
    vp = (view_position or "").upper()
    if orientation:
        row_dir = orientation[0].upper()
        if len(orientation) > 1 and not turn.is_identity:
            row_dir = _turned_directions(orientation[0].upper(), orientation[1].upper(), turn)[0]
        has_l, has_r = "L" in row_dir, "R" in row_dir
        # a direction is spelt with the letters A P R L H F only (PS3.3 C.7.6.1.1.1): a value
        # such as SECRET or DR holds an R but says nothing about the patient's sides
        if has_l != has_r and _ORIENTATION_LETTERS.fullmatch(row_dir):
            side = ImageSide.LEFT if has_l else ImageSide.RIGHT
            expected = {"AP": ImageSide.LEFT, "PA": ImageSide.RIGHT}.get(vp)
            if expected is not None and turn.mirrors:  # stored mirrored: the sides swap too
                expected = ImageSide.RIGHT if expected is ImageSide.LEFT else ImageSide.LEFT
            if expected is not None and expected is not side:
                caveats.append(
                    f"(0020,0020) Patient Orientation {_orientation_shown(orientation)} and "
                    f"(0018,5101) View Position {vp} disagree about the sides: the orientation "
                    "is followed"
                )
            return side, "patient_orientation"
        caveats.append(_not_left_right(orientation))
    if vp == "AP":
        return ImageSide.LEFT, "view_position"
    if vp == "PA":
        caveats.append(
            "(0018,5101) View Position PA with no (0020,0020) Patient Orientation: the "
            "patient's right is taken to be on the image's right (PA not flipped for display); "
            "check the side marker"
        )
        return ImageSide.RIGHT, "view_position"
    il = (image_laterality or "").upper()
    if il in ("R", "L"):
        caveats.append(
            f"single-hip view of the patient's {'right' if il == 'R' else 'left'} "
            "((0020,0062) Image Laterality); image halves assumed from the AP convention"
        )
        return ImageSide.LEFT, "image_laterality"
    caveats.append(
        "sides assumed from the AP convention (patient's right on the image's left): no "
        "(0020,0020) Patient Orientation or (0018,5101) View Position says otherwise"
    )
    return ImageSide.LEFT, "assumed"


_OPPOSITE_DIRECTION = str.maketrans("LRAPHF", "RLPAFH")


def _turned_directions(row_dir: str, col_dir: str, turn: GridTransform) -> tuple[str, str]:
    """A Patient Orientation's two directions (of increasing column, of increasing row) on the
    grid transformed by ``turn``: a transpose swaps them, a reversal turns one the other way.

    >>> _turned_directions("H", "R", QUARTER_ANTICLOCKWISE)
    ('R', 'F')
    >>> _turned_directions("F", "R", QUARTER_CLOCKWISE)
    ('L', 'F')
    """
    if turn.transpose:
        row_dir, col_dir = col_dir, row_dir
    if turn.flip_rows:
        col_dir = col_dir.translate(_OPPOSITE_DIRECTION)
    if turn.flip_cols:
        row_dir = row_dir.translate(_OPPOSITE_DIRECTION)
    return row_dir, col_dir


def _orientation_shown(orientation: tuple[str, ...]) -> str:
    """(0020,0020) Patient Orientation as a caveat quotes it: its first three values, each
    cut to 12 characters after it was redacted (the join cut to 20 characters had cut
    ``[redacted]\\[redacted]`` to ``[redacted]\\[redacted``).

    >>> print(_orientation_shown(("[redacted]", "[redacted]")))
    [redacted]\\[redacted]
    >>> print(_orientation_shown(("LEFTRIGHTLEFTRIGHT", "F", "H", "A")))
    LEFTRIGHTLEF\\F\\H
    """
    return chr(92).join(v[:12] for v in orientation[:3])


def _not_left_right(orientation: tuple[str, ...]) -> str:
    """The caveat of a Patient Orientation whose rows do not run left-right, on the film
    turned upright (a film stored turned a quarter, ``H\\R``, is read turned back a quarter,
    where they do): not used for the sides.

    >>> print(_not_left_right(("A", "F")))  # doctest: +ELLIPSIS
    (0020,0020) Patient Orientation A\\F does not run left-right along the rows; not used ...
    """
    shown = _orientation_shown(orientation)
    return (
        f"(0020,0020) Patient Orientation {shown} does not run left-right along the rows; not "
        "used for the sides"
    )


def _to_upright(orientation: tuple[str, ...] | None, caveats: list[str]) -> GridTransform:
    """How the stored pixels are turned for the analysis, which reads a film with the
    patient's head at the top (:mod:`brooker.upright`): rows reversed for a film stored upside
    down (:func:`_upside_down`), a quarter turn for one stored turned a quarter
    (:func:`_quarter_turn`), else as they are. A caveat says which."""
    if _upside_down(orientation, caveats):
        return ROWS_REVERSED
    return _quarter_turn(orientation, caveats) or IDENTITY


def _upside_down(orientation: tuple[str, ...] | None, caveats: list[str]) -> bool:
    """Whether (0020,0020) Patient Orientation says the film is stored upside down: its second
    value, the direction of increasing row index, is towards the head (H, not F). The film is
    then analysed turned upright (:mod:`brooker.upright`), with a caveat saying so."""
    if orientation is None or len(orientation) < 2:
        return False
    col_dir = orientation[1].upper()
    if not (_ORIENTATION_LETTERS.fullmatch(col_dir) and "H" in col_dir and "F" not in col_dir):
        return False
    caveats.append(
        f"(0020,0020) Patient Orientation {_orientation_shown(orientation)}: the film is stored "
        "upside down (the patient's head towards its last row); it is analysed turned upright, "
        "and every position is given on the film as stored"
    )
    return True


def _quarter_turn(
    orientation: tuple[str, ...] | None, caveats: list[str]
) -> GridTransform | None:
    """The quarter turn that turns a film stored turned a quarter upright, or None: its rows
    run head-feet (the first value, the direction of increasing column index, H or F, with no
    L or R) and its columns left-right (the second, L or R with no H or F). A film with its
    head towards the last column is turned anticlockwise, towards the first, clockwise (a
    rotation: its sides stay those of the film, :func:`_laterality`), with a caveat saying so.

    >>> _quarter_turn(("H", "R"), []) == QUARTER_ANTICLOCKWISE
    True
    >>> _quarter_turn(("H", "LH"), []) is None  # towards the head down the image: upside down
    True
    """
    if orientation is None or len(orientation) < 2:
        return None
    row_dir, col_dir = orientation[0].upper(), orientation[1].upper()
    head_feet = ("H" in row_dir) != ("F" in row_dir) and not {"L", "R"} & set(row_dir)
    # (a column direction with H or F in it is upside down or upright, not a quarter turn)
    left_right = ("L" in col_dir) != ("R" in col_dir) and not {"H", "F"} & set(col_dir)
    if not (
        head_feet
        and left_right
        and _ORIENTATION_LETTERS.fullmatch(row_dir)
        and _ORIENTATION_LETTERS.fullmatch(col_dir)
    ):
        return None
    end = "last" if "H" in row_dir else "first"
    caveats.append(
        f"(0020,0020) Patient Orientation {_orientation_shown(orientation)}: the film is stored "
        f"turned a quarter (the patient's head towards its {end} column); it is analysed turned "
        "upright, and every position is given on the film as stored; its image halves are "
        "those of the film turned upright"
    )
    return QUARTER_ANTICLOCKWISE if "H" in row_dir else QUARTER_CLOCKWISE


# --------------------------------------------------------------------------------------------
# small readers that never raise pydicom's own errors


def _nonempty_strings(ds: Dataset, tag: int) -> list[str]:
    """The values of a string element (:func:`_raw_strings`) that are not empty: ``"1\\"`` is
    one value, an absent element none."""
    return [v for v in _raw_strings(ds, tag) or () if v.strip()]


def _raw_strings(ds: Dataset, tag: int) -> list[str] | None:
    """The value of a string element split on backslash, read from the raw bytes if unread."""
    elem = ds.get_item(tag)
    if elem is None:
        return None
    if isinstance(elem, RawDataElement):
        value: Any = elem.value
        if value is None:
            return None  # deferred: far too large to be a short string
        if isinstance(value, bytes | bytearray):
            text = bytes(value).decode("latin-1", errors="replace")
            return [s.strip(" \x00") for s in text.split("\\")]
        return [str(value).strip()]
    value = elem.value
    if value is None:
        return []
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("latin-1", errors="replace")
        return [s.strip(" \x00") for s in text.split("\\")]
    if isinstance(value, str):
        return [s.strip(" \x00") for s in value.split("\\")]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [str(v).strip(" \x00") for v in value]
    return [str(value).strip(" \x00")]


def _text(ds: Dataset, tag: int) -> str | None:
    strings = _raw_strings(ds, tag)
    if not strings:
        return None
    value = strings[0].strip()
    return value or None


def _multi_text(ds: Dataset, tag: int) -> tuple[str, ...] | None:
    strings = _raw_strings(ds, tag)
    if not strings or not any(strings):
        return None
    return tuple(s.strip() for s in strings)


def _int_value(
    ds: Dataset,
    tag: int,
    label: str,
    where: str,
    *,
    default: int | None = None,
    whole: bool = False,
) -> int:
    elem = ds.get_item(tag)
    if elem is None:
        if default is None:
            raise MalformedDicomError(f"{label} is missing", where)
        return default
    try:
        value = ds[tag].value
    except Exception:
        raise MalformedDicomError(f"{label} cannot be read", where) from None
    if value is None or value == "" or value == b"":
        if default is None:
            raise MalformedDicomError(f"{label} is empty", where)
        return default
    if isinstance(value, bytes | bytearray):
        raise MalformedDicomError(f"{label} has an unreadable value", where)
    if isinstance(value, Sequence) and not isinstance(value, str):
        raise MalformedDicomError(f"{label} has {len(value)} values, expected one", where)
    if whole and isinstance(value, float) and not value.is_integer():
        # a DS or FD of 0.5, read as 0 otherwise (``whole``: a level, not a count)
        raise MalformedDicomError(f"{label} is not an integer", where)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # an infinite float overflows
        raise MalformedDicomError(f"{label} is not an integer", where) from None


def _float_value(
    ds: Dataset,
    tag: int,
    label: str,
    where: str,
    *,
    default: float,
    ident: Sequence[str] = (),
) -> float:
    strings = _raw_strings(ds, tag)
    if not strings or strings == [""]:
        return default
    try:
        value = float(strings[0])
    except ValueError:
        # redacted whole, then cut (as every quoted header value)
        shown = _show(_redact(strings[0], ident))
        raise MalformedDicomError(f"{label} {shown} is not numeric", where) from None
    if not math.isfinite(value):
        raise MalformedDicomError(f"{label} is not finite", where)
    return value


def _ts_name(ts: UID) -> str:
    try:
        name = ts.name
    except Exception:
        return str(ts)
    return str(name) if name else str(ts)


def _bytes(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    if n >= 2**20:
        return f"{n / 2**20:.1f} MiB"
    if n >= 2**10:
        return f"{n / 2**10:.1f} kiB"
    return f"{n} bytes"


# --------------------------------------------------------------------------------------------
# keeping identifiers out of messages


#: A code string (VR CS) as (0008,0060) Modality holds it: at most 16 characters
_VALID_MODALITY = re.compile(r"[A-Za-z0-9 _]{1,16}")
#: A DICOM UID: dot-separated numbers, at most 64 characters (PS3.5 9.1). Laxer than pydicom's
#: ``UID.is_valid``, which refuses components with leading zeros (seen on real exports) and
#: warns: this only keeps a run-on value (the patient module after it) out of messages/records
_VALID_UID = re.compile(r"(?=.{1,64}$)[0-9]+(\.[0-9]+)*")
_QUOTED = re.compile(r"b?'[^']*'|b?\"[^\"]*\"")


def _safe_detail(exc: BaseException, limit: int = 160) -> str:
    """A short, one-line description of a foreign exception, quoted values removed."""
    text = " ".join(str(exc).split())
    text = _QUOTED.sub("'...'", text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_PLUGIN_PREFIX = re.compile(
    r"^.*?Unable to decode as exceptions were raised by all available plugins:\s*\w+:\s*"
)


#: What Python says of a bug in a plugin's own code (its glue met data it did not expect),
#: which tells a reader nothing about the file: "'NoneType' object has no attribute 'encode'"
#: (python-gdcm on a corrupt JPEG 2000 stream of the DICOM zoo).
_PLUGIN_BUG = re.compile(
    r"object has no attribute|object is not (?:subscriptable|callable|iterable)|"
    r"unexpected keyword argument|positional arguments? but|NoneType"
)


def _decoder_detail(exc: BaseException) -> str:
    """What one decoder plugin said, without pydicom's wrapper text; a Python error inside the
    plugin's own code (:data:`_PLUGIN_BUG`) is said as such, not quoted.

    >>> _decoder_detail(RuntimeError("Unable to decode as exceptions were raised by all "
    ...     "available plugins:\\n  gdcm: 'NoneType' object has no attribute 'encode'"))
    'failed inside the plugin, saying nothing of the data'
    """
    text = " ".join(str(exc).split())
    text = _PLUGIN_PREFIX.sub("", text)  # identifiers are redacted from the whole message
    if isinstance(exc, AttributeError | NameError) or _PLUGIN_BUG.search(text):
        return "failed inside the plugin, saying nothing of the data"
    return text[:117] + "..." if len(text) > 120 else (text or type(exc).__name__)


_NAME_SEPARATORS = re.compile(r"[\^=\s]+")


def _identifier_values(ds: Dataset) -> Iterator[str]:
    for keyword in _IDENTIFYING_KEYWORDS:
        tag = tag_for_keyword(keyword)
        if tag is None:
            continue
        try:
            strings = _raw_strings(ds, tag)
        except Exception:
            continue
        for s in strings or ():
            # a name's parts: components (^) of each component group (=: alphabetic,
            # ideographic, phonetic), and words
            for part in [s, *_NAME_SEPARATORS.split(s)]:
                # two characters suffice outside ASCII: an ideographic family or given name
                # is often two ("山田"), where a two-letter Latin part would be a word's
                if len(part) >= 3 or (len(part) == 2 and not part.isascii()):
                    yield part


def _redact(text: str, ident: Sequence[str], *, value: bool = True) -> str:
    """``text`` with every identifier value in ``ident`` replaced, whatever its case: a name
    typed in mixed case comes back upper-cased from a code-string element (Patient
    Orientation, View Position, Body Part Examined are CS).

    A value read from the header (``value``, the default) is redacted wherever an identifier
    appears in it. In a message or caveat composed around such values (``value=False``; the
    values it quotes are redacted before), an identifier of 5 characters or more is replaced
    wherever it appears (a corrupted length runs it into the text before or after), a shorter
    one (a name part such as "Who" or "Li") only where no Latin letter touches it, so that the
    message's own words ("whose") stay whole.

    Nor is an identifier redacted in such a message where it is one of brooker's own words in
    its own phrase (:func:`_in_own_phrase`): a patient named "Patient^Anonymous" left the
    loader's "patient's right on the image's left" as "[redacted]'s right on the image's
    left", which told the reader the name."""
    for found in sorted(set(ident), key=len, reverse=True):
        if not found or found.casefold() not in text.casefold():
            continue
        pattern = re.escape(found)
        if value:
            text = re.sub(pattern, "[redacted]", text, flags=re.IGNORECASE)
            continue
        if len(found) < _REDACT_ANYWHERE_LEN:
            pattern = rf"(?<![A-Za-z]){pattern}(?![A-Za-z])"  # not inside an English word
        text = re.sub(
            pattern,
            lambda m: m.group(0) if _in_own_phrase(m.string, m.start(), m.end()) else "[redacted]",
            text,
            flags=re.IGNORECASE,
        )
    return text


def _in_own_phrase(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` lies in a phrase brooker itself writes: the whitespace-
    delimited word it is in, with the word before or the word after it, is found as whole
    words in one of the string constants the loader's messages are made of
    (:func:`_own_text`), whatever its case.

    A header value quoted in a message is redacted as it is read (``value``): what is left
    for this test is the message's own wording, and foreign text (a decoder's message), which
    a brooker phrase does not match.

    >>> _in_own_phrase("sides assumed from the AP convention (patient's right", 38, 45)
    True
    >>> _in_own_phrase("bad value 'PATIENT' here", 11, 18)
    False
    """
    lo = start
    while lo > 0 and not text[lo - 1].isspace():
        lo -= 1
    hi = end
    while hi < len(text) and not text[hi].isspace():
        hi += 1
    before = text[:lo].split()[-1:]
    after = text[hi:].split()[:1]
    word = text[lo:hi]
    own = _own_text()
    for pair in ((*before, word), (word, *after)):
        if len(pair) == 2:
            phrase = re.escape(" ".join(pair).casefold())
            if re.search(rf"(?<!\w){phrase}(?!\w)", own):
                return True
    return False


#: The modules the loader's messages and caveats are composed in: the loader and what it
#: imports (a fixed list, so that a message is redacted alike whatever else was imported).
_MESSAGE_MODULES: Final = (
    "brooker.dicom_io",
    "brooker.image_io",
    "brooker.config",
    "brooker.errors",
    "brooker.grid",
    "brooker.models",
    "brooker.padding",
    "brooker.paths",
    "brooker.spacing",
    "brooker.units",
)


@functools.cache
def _own_text() -> str:
    """Every string constant in the code of :data:`_MESSAGE_MODULES` (module-level strings
    and the strings in module-level tuples, lists, sets and dicts; functions', methods' and
    nested functions' constants, the literal parts of f-strings), casefolded, one per line:
    the words brooker composes its messages from. Not documentation (of modules, classes and
    functions, nested ones too: it quotes foreign text in its examples) nor the dunder
    attributes (``__file__`` is a path)."""
    out: list[str] = []
    seen: set[int] = set()

    def code(co: types.CodeType, doc: str | None = None) -> None:
        if id(co) in seen:
            return
        seen.add(id(co))
        consts = co.co_consts
        if doc is None and not co.co_name.startswith("<") and consts and isinstance(consts[0], str):
            consts = consts[1:]  # a nested function's docstring (CPython keeps it first)
        for c in consts:
            if isinstance(c, str) and c is not doc:  # its words, not its documentation
                out.append(c)
            elif isinstance(c, types.CodeType):
                code(c)

    def visit(obj: object, depth: int) -> None:
        if isinstance(obj, str):
            out.append(obj)
        elif isinstance(obj, (tuple, list, set, frozenset)) and depth < 3:
            for v in obj:
                visit(v, depth + 1)
        elif isinstance(obj, dict) and depth < 3:
            for v in obj.values():
                visit(v, depth + 1)
        elif isinstance(obj, (staticmethod, classmethod)):
            visit(obj.__func__, depth)
        elif isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                visit(f, depth)
        elif isinstance(obj, types.FunctionType):
            code(obj.__code__, obj.__doc__)
        elif isinstance(wrapped := getattr(obj, "__wrapped__", None), types.FunctionType):
            visit(wrapped, depth)  # functools.cache and the like
        elif isinstance(obj, type) and depth == 0 and id(obj) not in seen:
            seen.add(id(obj))
            for key, v in vars(obj).items():
                if not key.startswith("__"):
                    visit(v, 1)

    for name in _MESSAGE_MODULES:
        module = importlib.import_module(name)
        for key, v in list(vars(module).items()):
            if not key.startswith("__") and getattr(v, "__module__", name) == name:  # its own
                visit(v, 0)
    return "\n".join(out).casefold()


#: Identifier values at least this long are redacted inside words too (:func:`_redact`).
_REDACT_ANYWHERE_LEN: Final = 5
