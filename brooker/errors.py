"""The brooker error hierarchy.

Every error names the file and, where one is at fault, the DICOM tag. Messages are one line and
never carry patient identifiers. Each class has a stable ``code`` used in JSON records.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path


def path_named(path: str) -> str:
    """``path`` as a message names it: an empty path (``grade "$DIR"`` with DIR unset) as
    typed, ``""``."""
    return path or '""'


class BrookerError(Exception):
    """Base class of every error brooker raises on purpose.

    Parameters
    ----------
    message : str
        What is wrong, in one line, without the file name (it is prefixed).
    path : str or Path or None
        The input file the error is about.
    """

    code: str = "error"

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self._path: str | None = None
        self._detail = ""
        self.sop_instance_uid: str | None = None
        """(0008,0018) of a DICOM file refused after its header was read (the loader sets it):
        the error record keeps it, so a refused film can still be found in the archive."""
        super().__init__()
        self.path = None if path is None else str(path)
        self.detail = str(message)

    # ``path`` and ``detail`` are set again after construction (the loader names the file and
    # redacts identifiers): ``args``, and so ``str()``, ``repr()`` and pickling, follow them,
    # or ``print(err)`` would show the text from before the redaction.

    @property
    def path(self) -> str | None:
        """The input file the error is about."""
        return self._path

    @path.setter
    def path(self, value: str | None) -> None:
        self._path = value
        self.args = (self.message,)

    @property
    def detail(self) -> str:
        """What is wrong, one printable line, without the file name."""
        return self._detail

    @detail.setter
    def detail(self, value: str) -> None:
        # always one line, and printable: a corrupted file's bytes can reach a quoted value
        self._detail = "".join(
            ch if ch.isprintable() else "?" for ch in " ".join(str(value).split())
        )
        self.args = (self.message,)

    @property
    def message(self) -> str:
        """The one-line message, naming the file (an empty path as ``""``)."""
        if self.path is None:
            return self.detail
        return f"{path_named(self.path)}: {self.detail}"


class NotDicomError(BrookerError):
    """The file is not DICOM (or not readable as DICOM at all)."""

    code = "not_dicom"


class MalformedDicomError(BrookerError):
    """The file is DICOM but its header is broken or self-contradictory."""

    code = "malformed_dicom"


class NoPixelDataError(BrookerError):
    """(7FE0,0010) Pixel Data is absent."""

    code = "no_pixel_data"


class NotAnImageError(BrookerError):
    """A DICOM object that is not an image at all (RT plan, SR, ...)."""

    code = "not_an_image"


class NotARadiographError(BrookerError):
    """An image of another modality (CT, MR, US, NM, PT, ...), not a projection radiograph."""

    code = "not_a_radiograph"


class ColourImageError(BrookerError):
    """RGB, YBR or PALETTE COLOR: radiographs are greyscale."""

    code = "colour_image"


class MultiFrameError(BrookerError):
    """More than one frame."""

    code = "multi_frame"


class UnsupportedPixelDataError(BrookerError):
    """Pixel data that cannot be decoded here (transfer syntax, decoder, or corrupt stream)."""

    code = "unsupported_pixel_data"


class UnsupportedPixelFormatError(UnsupportedPixelDataError):
    """Pixel data in a form no radiograph is stored in (a 1-bit bitmap, floating-point
    values): its ``code`` is ``unsupported_pixel_data``, but unlike an undecodable transfer
    syntax, no decompression or conversion (gdcmconv) makes it gradable."""


class TruncatedPixelDataError(UnsupportedPixelDataError):
    """Pixel data shorter than the header declares."""

    code = "truncated_pixel_data"


class SizeMismatchError(BrookerError):
    """Declared image size does not fit the data, or is beyond the megapixel cap."""

    code = "size_mismatch"


class MissingSpacingError(BrookerError):
    """No physical pixel spacing in the file and none given by the user: give it
    (``AnalysisConfig(pixel_spacing=(row_mm, col_mm))``), calibrate it from an object of known
    size on the film (``ball_mm``, ``head_mm``) or estimate it from the native femoral heads
    (``estimate_spacing=True``, a wide uncertainty); on the command line the options of the
    same names."""

    code = "missing_spacing"


class InvalidSpacingError(BrookerError):
    """Zero, negative, non-finite or malformed pixel spacing or magnification."""

    code = "invalid_spacing"


class ConfigError(BrookerError, ValueError):
    """An invalid option value (from the API or the command line).

    Also a ``ValueError``, the built-in error of a bad argument value: code that caught the
    ``ValueError`` some argument checks raised before they raised this still catches it.
    """

    code = "invalid_config"


class InputNotFoundError(BrookerError):
    """The input path does not exist."""

    code = "not_found"


class UnreadableInputError(BrookerError):
    """The input exists but cannot be read (permissions, an I/O error, a folder that cannot be
    listed)."""

    code = "unreadable"


class SpecialFileError(BrookerError):
    """The input is a FIFO, a device, a socket or a folder, not a regular file: refused before
    it is opened (reading a FIFO or ``/dev/zero`` would block or never end)."""

    code = "not_a_regular_file"


class ImageTooSmallError(BrookerError):
    """Declared image far too small to show a hip (a few pixels, a single row)."""

    code = "image_too_small"


class ImplausibleSpacingError(BrookerError):
    """A pixel spacing outside the physical range of projection radiographs, or one that makes
    the film wider than any detector (a unit error), so no film can exhaust memory."""

    code = "implausible_spacing"


class ImplausiblePixelValuesError(BrookerError):
    """Stored pixel values that do not fit (0028,0101) Bits Stored and (0028,0103) Pixel
    Representation: the header is corrupt, and grading would be confidently wrong."""

    code = "implausible_pixel_values"


class OutputError(BrookerError):
    """An output (``--out``, ``--csv``, ``results.jsonl``, an overlay) cannot be written: not a
    bug in brooker but the environment (a full disk, permissions, a read-only file system, a
    file where a folder is expected). The command line exits with status 5."""

    code = "output_not_writable"


class ClusterLostError(BrookerError):
    """The Dask cluster a run grades on went away during it (the scheduler's connection lost,
    the scheduler stopped): the environment, not a bug in brooker and not the inputs. The
    command line exits with status 6; there is no ``--resume`` on Dask, so the same command
    grades the files again."""

    code = "cluster_lost"


class DiskFullError(OutputError):
    """No space left on the device (ENOSPC) or the disk quota is exceeded (EDQUOT)."""

    code = "disk_full"


def output_error(exc: OSError, what: str) -> OutputError:
    """The typed error of an ``OSError`` raised while writing ``what`` (a path or a label)."""
    import errno

    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"cannot write: {reason}", what)
    return OutputError(f"cannot write: {reason}", what)


def is_environment_oserror(exc: BaseException) -> bool:
    """True for an ``OSError`` caused by the environment (space, permissions, read-only, a
    file where a folder is expected), which must not be reported as an internal error."""
    import errno

    return isinstance(exc, OSError) and exc.errno in {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.EIO,
        errno.EFBIG,
        errno.ENAMETOOLONG,
    }


class CalibrationError(BrookerError):
    """A calibration object was asked for but could not be found or fitted unambiguously."""

    code = "calibration_failed"


class NoCalibrationObjectError(CalibrationError):
    """No calibration ball, prosthetic head or native head was found."""

    code = "calibration_object_not_found"


class AmbiguousCalibrationError(CalibrationError):
    """More than one candidate calibration ball."""

    code = "calibration_ambiguous"


@functools.cache
def code_said(code: str) -> str:
    """An error ``code`` with what it means, in the words of the first sentence of its error
    class's docstring, for a reader scanning counts of them (the review page's summary listed
    ``missing_spacing`` beside a hip's whole sentence, a radiologist's test of 2026-12-07); the
    code alone when no class of brooker's has it.

    >>> code_said("multi_frame")
    'multi_frame: More than one frame'
    >>> code_said("colour_image")
    'colour_image: RGB, YBR or PALETTE COLOR'
    >>> code_said("no_such_code")
    'no_such_code'
    """
    todo: list[type[BrookerError]] = [BrookerError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__dict__.get("code") == code and cls.__doc__:
            first = " ".join(cls.__doc__.strip().split("\n\n")[0].split())
            first = re.sub(r"\s*\([^)]*\)", "", first)  # asides, and a leading one
            first = re.split(r"[.:]", first, maxsplit=1)[0].strip()
            if first:  # as written: "RGB" and "Pixel Data" keep their capitals
                return f"{code}: {first}"
    return code
