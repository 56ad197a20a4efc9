"""Write synthetic radiographs as DICOM files, in any encoding the loader must read.

Used by the tests and by :mod:`brooker.phantom`. Every file carries the same fake patient
identifiers (:data:`FAKE_IDENTIFIERS`) so that tests can check that none of them leaks into a
message, a record or an overlay. Output is deterministic: the same pixels and variant give the
same bytes (the SOP Instance UID is derived from them unless given).

>>> import numpy as np, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> p = write_dicom(np.zeros((4, 5), np.uint16), d / "x.dcm", DicomVariant(transfer_syntax="rle"))
>>> p.name
'x.dcm'
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from pydicom import config as pydicom_config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.uid import (
    JPEG2000,
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    MRImageStorage,
    RLELossless,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
    generate_uid,
)

import brooker.dicom_io  # noqa: F401  # imports pydicom safely (python-gdcm's `dl` quirk)
from brooker.atomic import atomic_write_bytes

__all__ = [
    "FAKE_IDENTIFIERS",
    "LOSSLESS_SYNTAXES",
    "TRANSFER_SYNTAXES",
    "DicomVariant",
    "write_dicom",
]

#: The fake identifiers every written file carries; none may appear in any output.
FAKE_IDENTIFIERS: Final = {
    "PatientName": "DOE^JANE^SECRET",
    "PatientID": "ID-SECRET-0001",
    "PatientBirthDate": "19450101",
    "AccessionNumber": "ACC-SECRET-77",
    "InstitutionName": "SECRET GENERAL HOSPITAL",
    "ReferringPhysicianName": "WHO^DR^SECRET",
}

#: ``DicomVariant.transfer_syntax`` names and their UIDs.
TRANSFER_SYNTAXES: Final = {
    "explicit_le": ExplicitVRLittleEndian,
    "implicit_le": ImplicitVRLittleEndian,
    "explicit_be": ExplicitVRBigEndian,
    "deflated": DeflatedExplicitVRLittleEndian,
    "rle": RLELossless,
    "jpeg_ls": JPEGLSLossless,
    "jpeg_ls_near": JPEGLSNearLossless,
    "jpeg_2000": JPEG2000Lossless,
    "jpeg_2000_lossy": JPEG2000,
    "jpeg_baseline": JPEGBaseline8Bit,
}

#: Names whose pixel values round-trip exactly.
LOSSLESS_SYNTAXES: Final = frozenset(
    {"explicit_le", "implicit_le", "explicit_be", "deflated", "rle", "jpeg_ls", "jpeg_2000"}
)

_SOP_CLASSES: Final = {
    "CR": ComputedRadiographyImageStorage,
    "DX": DigitalXRayImageStorageForPresentation,
    "MG": DigitalMammographyXRayImageStorageForPresentation,
    "CT": CTImageStorage,
    "MR": MRImageStorage,
    "US": UltrasoundImageStorage,
}

_FIXED_DATE: Final = "20240102"


@dataclass(frozen=True)
class DicomVariant:
    """How to encode a synthetic radiograph. Every field maps to one DICOM attribute or choice.

    Parameters
    ----------
    transfer_syntax : str
        A key of :data:`TRANSFER_SYNTAXES`. ``jpeg_baseline`` needs ``bits_stored <= 8``;
        the JPEG 2000 encoder needs images of at least 32 x 32 pixels.
    monochrome1 : bool
        Write MONOCHROME1: stored values are inverted (``2**bits_stored - 1 - p``).
    pixel_spacing_mm, imager_pixel_spacing_mm : (float, float) or None
        (0028,0030) Pixel Spacing and (0018,1164) Imager Pixel Spacing, (row, column) mm.
    magnification : float or None
        (0018,1114) Estimated Radiographic Magnification Factor.
    calibration_type : str or None
        (0028,0A02) Pixel Spacing Calibration Type (``GEOMETRY``, ``FIDUCIAL``).
    patient_orientation : (str, str) or None
        (0020,0020) Patient Orientation, e.g. ``("L", "F")`` for a conventional AP.
    view_position : str or None
        (0018,5101) View Position (``AP``, ``PA``).
    image_laterality : str or None
        (0020,0062) Image Laterality (``R``, ``L``, ``B``, ``U``).
    modality : str or None
        (0008,0060) Modality; None leaves it out.
    bits_stored : int
        (0028,0101); 8 bits or fewer are written with 8 bits allocated, else 16.
    rescale : (float, float) or None
        (0028,1053) Rescale Slope and (0028,1052) Rescale Intercept.
    window : (float, float) or None
        (0028,1050) Window Center and (0028,1051) Window Width.
    preamble : bool
        Write the 128-byte preamble and ``DICM``.
    file_meta : bool
        Write the (0002,eeee) file meta group (without it only the native little-endian
        syntaxes make sense: the reader assumes implicit or detects explicit VR).
    photometric : str or None
        Override (0028,0004); ``"RGB"`` needs pixels of shape (rows, cols, 3).
    extra : tuple of (tag, VR, value)
        Elements set last, unvalidated (to write malformed values on purpose).
    drop : tuple of int
        Tags removed before writing (e.g. ``0x7FE00010`` for a header-only file).
    """

    transfer_syntax: str = "explicit_le"
    monochrome1: bool = False
    pixel_spacing_mm: tuple[float, float] | None = None
    imager_pixel_spacing_mm: tuple[float, float] | None = None
    magnification: float | None = None
    calibration_type: str | None = None
    patient_orientation: tuple[str, str] | None = ("L", "F")
    view_position: str | None = "AP"
    image_laterality: str | None = None
    modality: str | None = "DX"
    bits_stored: int = 12
    rescale: tuple[float, float] | None = None
    window: tuple[float, float] | None = None
    preamble: bool = True
    file_meta: bool = True
    photometric: str | None = None
    extra: tuple[tuple[int, str, Any], ...] = field(default_factory=tuple)
    drop: tuple[int, ...] = ()


def write_dicom(
    pixels: npt.ArrayLike,
    path: str | os.PathLike[str],
    variant: DicomVariant = DicomVariant(),  # frozen, so a safe default
    *,
    sop_instance_uid: str | None = None,
) -> Path:
    """Write ``pixels`` as a DICOM file, atomically.

    Parameters
    ----------
    pixels : array_like of int, shape (rows, cols), (frames, rows, cols) or (rows, cols, 3)
        Stored values, bone bright, ``0 <= p < 2**bits_stored``; the writer inverts them for
        MONOCHROME1. Three dimensions write a multi-frame image (or RGB with
        ``photometric="RGB"``).
    path : str or PathLike
        Destination; its folder must exist.
    variant : DicomVariant
        Encoding and header choices.
    sop_instance_uid : str, optional
        (0008,0018); derived deterministically from the pixels and variant when omitted.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        Pixel values that do not fit ``bits_stored``, or an unknown transfer syntax.
    """
    ds = build_dataset(pixels, variant, sop_instance_uid=sop_instance_uid)
    out = Path(path)
    buf = io.BytesIO()
    ts = TRANSFER_SYNTAXES[variant.transfer_syntax]
    with pydicom_config.disable_value_validation():
        if variant.file_meta:
            dcmwrite(buf, ds, enforce_file_format=variant.preamble)
        else:
            ds.file_meta = FileMetaDataset()
            dcmwrite(
                buf,
                ds,
                implicit_vr=ts == ImplicitVRLittleEndian,
                little_endian=ts != ExplicitVRBigEndian,
            )
    data = buf.getvalue()
    if variant.file_meta and not variant.preamble and data[:4] == b"DICM":
        data = data[4:]
    if variant.preamble and not variant.file_meta:
        data = b"\x00" * 128 + b"DICM" + data
    return atomic_write_bytes(out, data)


def build_dataset(
    pixels: npt.ArrayLike, variant: DicomVariant, *, sop_instance_uid: str | None = None
) -> Dataset:
    """The dataset :func:`write_dicom` writes (file meta included), not yet encoded."""
    if variant.transfer_syntax not in TRANSFER_SYNTAXES:
        raise ValueError(
            f"unknown transfer syntax {variant.transfer_syntax!r}; "
            f"one of {sorted(TRANSFER_SYNTAXES)}"
        )
    ts = TRANSFER_SYNTAXES[variant.transfer_syntax]
    arr = np.asarray(pixels)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"pixels must be integers, got {arr.dtype}")
    bs = int(variant.bits_stored)
    if not 1 <= bs <= 16:
        raise ValueError("bits_stored must be 1-16")
    if arr.size and (arr.min() < 0 or arr.max() >= 1 << bs):
        raise ValueError(f"pixel values must lie in 0..{(1 << bs) - 1} for bits_stored={bs}")
    photometric = variant.photometric or ("MONOCHROME1" if variant.monochrome1 else "MONOCHROME2")
    rgb = photometric.upper().startswith(("RGB", "YBR"))
    if rgb:
        if arr.ndim != 3 or arr.shape[-1] != 3:
            raise ValueError("RGB pixels must have shape (rows, cols, 3)")
        frames, rows, cols, samples = 1, arr.shape[0], arr.shape[1], 3
    elif arr.ndim == 2:
        frames, (rows, cols), samples = 1, arr.shape, 1
    elif arr.ndim == 3:
        frames, rows, cols = arr.shape
        samples = 1
    else:
        raise ValueError(f"pixels must be 2-D or 3-D, got shape {arr.shape}")
    if variant.transfer_syntax == "jpeg_baseline" and bs > 8:
        raise ValueError("jpeg_baseline holds 8-bit images only (bits_stored <= 8)")

    bits_alloc = 8 if bs <= 8 else 16
    stored = arr.astype(np.uint8 if bits_alloc == 8 else np.uint16)
    if variant.monochrome1 and not rgb:
        stored = ((1 << bs) - 1 - stored.astype(np.int64)).astype(stored.dtype)

    if sop_instance_uid is None:
        digest = hashlib.sha256(stored.tobytes())
        digest.update(repr(variant).encode())
        sop_instance_uid = generate_uid(entropy_srcs=[digest.hexdigest()])
    modality = variant.modality
    sop_class = _SOP_CLASSES.get(modality or "", SecondaryCaptureImageStorage)

    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.8.498.1")
    meta.ImplementationVersionName = "BROOKER_PHANTOM"
    ds.file_meta = meta

    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = UID(sop_instance_uid)
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[sop_instance_uid, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[sop_instance_uid, "series"])
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = _FIXED_DATE
    ds.StudyTime = "120000"
    for keyword, value in FAKE_IDENTIFIERS.items():
        setattr(ds, keyword, value)
    ds.PatientSex = "F"
    if modality is not None:
        ds.Modality = modality
    ds.BodyPartExamined = "PELVIS"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.InstanceNumber = 1
    if variant.view_position is not None:
        ds.ViewPosition = variant.view_position
    if variant.patient_orientation is not None:
        ds.PatientOrientation = list(variant.patient_orientation)
    if variant.image_laterality is not None:
        ds.ImageLaterality = variant.image_laterality
    if variant.pixel_spacing_mm is not None:
        ds.PixelSpacing = _ds_pair(variant.pixel_spacing_mm)
    if variant.imager_pixel_spacing_mm is not None:
        ds.ImagerPixelSpacing = _ds_pair(variant.imager_pixel_spacing_mm)
    if variant.magnification is not None:
        ds.EstimatedRadiographicMagnificationFactor = _ds(variant.magnification)
    if variant.calibration_type is not None:
        ds.PixelSpacingCalibrationType = variant.calibration_type
    if variant.rescale is not None:
        ds.RescaleSlope = _ds(variant.rescale[0])
        ds.RescaleIntercept = _ds(variant.rescale[1])
        ds.RescaleType = "US"
    if variant.window is not None:
        ds.WindowCenter = _ds(variant.window[0])
        ds.WindowWidth = _ds(variant.window[1])

    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = 0
    ds.Rows = rows
    ds.Columns = cols
    if frames > 1 or (arr.ndim == 3 and not rgb):
        ds.NumberOfFrames = frames
    ds.BitsAllocated = bits_alloc
    ds.BitsStored = bs if not rgb else 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0

    _set_pixel_data(ds, stored, variant, ts)

    with pydicom_config.disable_value_validation():
        for tag in variant.drop:
            if tag in ds:
                del ds[tag]
        for tag, vr, value in variant.extra:
            ds.add_new(tag, vr, value)
    return ds


def _set_pixel_data(
    ds: Dataset, stored: npt.NDArray[Any], variant: DicomVariant, ts: UID
) -> None:
    name = variant.transfer_syntax
    if name in ("explicit_le", "implicit_le", "deflated", "explicit_be"):
        dtype = stored.dtype.newbyteorder(">" if name == "explicit_be" else "<")
        data = stored.astype(dtype).tobytes()
        if len(data) % 2:
            data += b"\x00"
        ds.PixelData = data
        ds["PixelData"].VR = "OB" if stored.dtype.itemsize == 1 else "OW"
        return
    if name == "jpeg_baseline":
        ds.PixelData = encapsulate([_jpeg_baseline_frame(f) for f in _frames(stored)])
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
        return
    kwargs: dict[str, Any] = {"generate_instance_uid": False}
    if name == "jpeg_ls_near":
        kwargs["jls_error"] = 2
    if name == "jpeg_2000_lossy":
        kwargs["j2k_cr"] = [10]
    ds.compress(ts, stored, **kwargs)


def _frames(stored: npt.NDArray[Any]) -> Sequence[npt.NDArray[Any]]:
    return [stored] if stored.ndim == 2 or stored.shape[-1] == 3 else list(stored)


def _jpeg_baseline_frame(frame: npt.NDArray[Any]) -> bytes:
    from PIL import Image

    mode = "RGB" if frame.ndim == 3 else "L"
    out = io.BytesIO()
    Image.fromarray(frame.astype(np.uint8), mode=mode).save(out, format="JPEG", quality=95)
    return out.getvalue()


def _ds(value: float) -> str:
    """A DS string of at most 16 characters."""
    text = f"{float(value):.10g}"
    return text if len(text) <= 16 else f"{float(value):.8g}"


def _ds_pair(pair: tuple[float, float]) -> list[str]:
    return [_ds(pair[0]), _ds(pair[1])]
