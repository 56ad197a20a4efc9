"""What the command line adds to an error: how to mend it with its own options.

The library's messages say what is wrong, in which file and which tag, and the command line
adds the hint, as the project's design guide has it; the commands add a ``hint:`` line from
here, by the error's code: ``inspect`` after its error line, ``grade`` once per code under its
list of the files not graded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brooker.errors import BrookerError

#: Hints added at the command line, by error code (the library messages carry no CLI advice).
HINTS = {
    # a scale option applies to every film of a run: given to a folder for one film's sake it
    # replaced the good films' own spacing too (a user test of 2026-12-07)
    "missing_spacing": "pass --pixel-spacing ROW,COL (mm at the patient), or calibrate with "
    "--ball-mm D or --head-mm D (each applies to every film of a run: grade such files on "
    "their own), or --estimate-spacing (rough; only films with no spacing)",
    "calibration_object_not_found": "check the film: is the object wholly on it? or pass "
    "--pixel-spacing ROW,COL",
    "calibration_ambiguous": "pass --pixel-spacing ROW,COL, or crop the film to one ball",
    "invalid_spacing": "pass --pixel-spacing ROW,COL (mm at the patient) in place of the "
    "file's spacing; it applies to every film of a run, so grade such files on their own",
    "unsupported_pixel_data": "decompress the file with another tool (e.g. gdcmconv --raw) "
    "and try again",
    "truncated_pixel_data": "the file looks cut short: copy it again from the archive",
    "not_a_radiograph": "brooker reads projection radiographs only: an X-ray film of the hip or "
    "pelvis",
    "multi_frame": "export the single frame to grade as its own file",
    "implausible_spacing": "if the file's spacing is wrong, pass --pixel-spacing ROW,COL (mm at "
    "the patient); it applies to every film of a run, so grade such files on their own",
    "implausible_pixel_values": "the header does not describe the pixels: export the film again "
    "from the archive",
    "not_a_regular_file": "give a regular file (FIFOs and devices are never read)",
    # a resumed run grades a timed-out film again (batch.TRANSIENT_ERROR_CODES)
    "timeout": "run the same command again with --resume and a larger --timeout SECONDS (0 for "
    "none): the films that timed out are graded again",
}
#: The hint for pixels stored in a form no radiograph takes (a 1-bit bitmap, floating-point
#: values: :class:`~brooker.errors.UnsupportedPixelFormatError`), which the DICOM hint of
#: ``unsupported_pixel_data``, a decompression, does not mend.
PIXEL_FORMAT_HINT = (
    "no converter (gdcmconv included) turns a bitmap or floating-point pixels into a "
    "radiograph: export the original film (integer greyscale) from the archive"
)
#: Hints for an image file (PNG, JPEG, TIFF) where the DICOM one does not apply, by error code.
IMAGE_HINTS = {
    "unsupported_pixel_data": "convert the image with another tool to a greyscale PNG or TIFF "
    "of 8 or 16 bits and try again",
}


def error_hint(err: BrookerError, path: str, user_spacing: bool = False) -> str | None:
    """The hint for ``err`` on ``path``: a TIFF's unusual pixels are not mended by a DICOM
    tool, nor is a DICOM file's bitmap or floating-point pixels by decompressing them.
    ``user_spacing``: the user gave ``--pixel-spacing``, which a spacing error is then about
    (:data:`USER_SPACING_HINT`, as :func:`record_hint` gives ``grade``)."""
    from brooker.errors import BrookerError, UnsupportedPixelFormatError

    if isinstance(err, UnsupportedPixelFormatError):
        return PIXEL_FORMAT_HINT
    code = err.code
    if user_spacing and code in _USER_SPACING_CODES:
        return USER_SPACING_HINT
    if code in IMAGE_HINTS:
        from brooker.image_io import image_kind

        try:
            if image_kind(path) is not None:
                return IMAGE_HINTS[code]
        except (BrookerError, OSError):
            pass
    return HINTS.get(code)


#: The hint for a spacing the user gave that a film refuses (the film would be larger than any
#: detector): "pass --pixel-spacing" to one who did was no help.
USER_SPACING_HINT = (
    "check --pixel-spacing: it is mm per pixel at the patient (ROW,COL), the same for every "
    "film of the run"
)


#: The error codes a spacing the user gave can cause.
_USER_SPACING_CODES = ("implausible_spacing", "invalid_spacing")


def record_hint(rec: dict[str, Any], user_spacing: bool = False) -> str | None:
    """The hint for an error record of ``grade`` (by its code alone: an
    ``unsupported_pixel_data`` record gets none, since a bitmap or floating-point film, which
    no conversion mends, has that code too). ``user_spacing``: the run was given
    ``--pixel-spacing``, which a spacing error is then about."""
    code = (rec.get("error") or {}).get("code")
    if not isinstance(code, str) or code == "unsupported_pixel_data":
        return None
    if user_spacing and code in _USER_SPACING_CODES:
        return USER_SPACING_HINT
    return HINTS.get(code)
