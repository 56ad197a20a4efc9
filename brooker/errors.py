"""The brooker error hierarchy.

Every error names the file and, where one is at fault, the DICOM tag. Messages are one line and
never carry patient identifiers. Each class has a stable ``code`` used in JSON records.
"""

from __future__ import annotations

from pathlib import Path


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
        self.path = None if path is None else str(path)
        self.detail = " ".join(str(message).split())  # always one line
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The one-line message, naming the file."""
        return f"{self.path}: {self.detail}" if self.path else self.detail


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


class TruncatedPixelDataError(UnsupportedPixelDataError):
    """Pixel data shorter than the header declares."""

    code = "truncated_pixel_data"


class SizeMismatchError(BrookerError):
    """Declared image size does not fit the data, or is beyond the megapixel cap."""

    code = "size_mismatch"


class MissingSpacingError(BrookerError):
    """No physical pixel spacing in the file and none given by the user."""

    code = "missing_spacing"


class InvalidSpacingError(BrookerError):
    """Zero, negative, non-finite or malformed pixel spacing or magnification."""

    code = "invalid_spacing"


class ConfigError(BrookerError):
    """An invalid option value (from the API or the command line)."""

    code = "invalid_config"
