"""The spacing policy's decision, and the user's spacing options applied to a loaded radiograph.

:mod:`brooker.dicom_io` states the policy (its module docstring) and parses a header's spacing
attributes into :class:`~brooker.models.SpacingTags`; :func:`resolve_spacing` decides from
them and the user's ``pixel_spacing`` and ``magnification``. An image file (PNG, JPEG, TIFF:
:mod:`brooker.image_io`) has no tags: its spacing is the user's ``pixel_spacing`` or none.

Both loaders keep what they decided from, and the caveats they wrote about it, on the
radiograph (:class:`~brooker.models.SpacingInputs`), so that :func:`with_spacing_options`
gives a loaded radiograph the spacing, and the spacing caveats, that loading its file with
those options gives, without the file: ``analyze(load_radiograph(p), AnalysisConfig(
pixel_spacing=(0.3, 0.3)))`` grades as ``analyze(p, AnalysisConfig(pixel_spacing=(0.3,
0.3)))`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Final, cast

from brooker.config import DEFAULT_SPACING_UNCERTAINTY, MAGNIFICATION_RANGE, is_real_number
from brooker.errors import ConfigError, ImplausibleSpacingError, InvalidSpacingError
from brooker.models import PixelSpacing, Radiograph, SpacingInputs, SpacingSource, SpacingTags
from brooker.units import MAX_FIELD_MM, PLAUSIBLE_SPACING_MM, TYPICAL_MAGNIFICATION

__all__ = [
    "implausible_spacing_reason",
    "no_spacing_tags",
    "resolve_spacing",
    "with_spacing_options",
]

#: The user's magnification, ignored next to the user's pixel spacing.
MAGNIFICATION_IGNORED_FOR_USER_SPACING: Final = (
    "the user's magnification was ignored: the user's pixel spacing is taken to be at the "
    "patient already"
)
#: The user's magnification, ignored where there is no Imager Pixel Spacing to divide.
MAGNIFICATION_IGNORED_NO_IMAGER_SPACING: Final = (
    "the user's magnification was ignored: the file has no (0018,1164) Imager Pixel Spacing "
    "to divide"
)

#: Spacings fitted on the film after loading (:mod:`brooker.calibration`), not the loader's.
_CALIBRATED_SOURCES: Final = frozenset(
    {
        SpacingSource.CALIBRATION_BALL,
        SpacingSource.PROSTHETIC_HEAD,
        SpacingSource.ANATOMICAL_ESTIMATE,
    }
)


def implausible_spacing_reason(
    row_mm: float, col_mm: float, shape: tuple[int, int] | None = None
) -> str | None:
    """Why a spacing is physically implausible for a projection radiograph, or None.

    Outside :data:`~brooker.units.PLAUSIBLE_SPACING_MM`, or making the film (``shape``:
    rows, columns) longer than :data:`~brooker.units.MAX_FIELD_MM` on a side: a unit or header
    error, and the working grids of such a film would not fit in memory.

    >>> implausible_spacing_reason(0.14, 0.14, (2150, 1700)) is None
    True
    >>> implausible_spacing_reason(1.4, 1.4, (2150, 1700))
    'is outside the plausible 0.02-1 mm of a radiograph'
    >>> implausible_spacing_reason(0.9, 0.9, (2150, 1700))
    'makes the film 1935 x 1530 mm, larger than any detector (1500 mm): a unit error?'
    """
    lo, hi = PLAUSIBLE_SPACING_MM
    if not all(math.isfinite(v) and lo <= v <= hi for v in (row_mm, col_mm)):
        return f"is outside the plausible {lo:g}-{hi:g} mm of a radiograph"
    if shape is not None:
        h_mm, w_mm = shape[0] * row_mm, shape[1] * col_mm
        if max(h_mm, w_mm) > MAX_FIELD_MM:
            return (
                f"makes the film {h_mm:.0f} x {w_mm:.0f} mm, larger than any detector "
                f"({MAX_FIELD_MM:g} mm): a unit error?"
            )
    return None


def resolve_spacing(
    tags: SpacingTags | None,
    user_spacing: Sequence[float] | float | None,
    user_mag: float | None,
    where: str,
    shape: tuple[int, int] | None = None,
    *,
    image_kind: str | None = None,
) -> tuple[PixelSpacing | None, SpacingInputs]:
    """The spacing of a film, and what it was decided from (with the caveats written).

    Parameters
    ----------
    tags : SpacingTags or None
        A DICOM header's spacing attributes (the policy of :mod:`brooker.dicom_io`); None for
        an image file, whose spacing is ``user_spacing`` or none.
    user_spacing : (float, float) or None
        The user's ``pixel_spacing``, ``(row_mm, col_mm)`` at the patient.
    user_mag : float or None
        The user's ``magnification``.
    where : str
        The file, for the messages.
    shape : (int, int), optional
        The film's (rows, columns), for the film-size check of
        :func:`implausible_spacing_reason`.
    image_kind : str, optional
        With ``tags`` None, what the caveat calls the file (``"PNG image"``).

    Raises
    ------
    InvalidSpacingError
        The user's value is not a positive number (pair), or the tags are invalid and no
        other source exists.
    ImplausibleSpacingError
        The spacing the user gave, or the tags give, is implausible.
    """
    _check_user_magnification(user_mag, where)
    user_mag = None if user_mag is None else float(user_mag)
    user_spacing = _square(user_spacing)
    caveats: list[str] = []
    if tags is None:
        spacing = _from_image(user_spacing, user_mag, where, shape, image_kind, caveats)
    else:
        spacing = _from_tags(tags, user_spacing, user_mag, where, shape, caveats)
    inputs = SpacingInputs(
        tags=tags,
        image_kind=None if tags is not None else (image_kind or "image file"),
        pixel_spacing=None if user_spacing is None else _pair(user_spacing),
        magnification=None if user_mag is None else float(user_mag),
        caveats=tuple(caveats),
    )
    return spacing, inputs


def with_spacing_options(
    radiograph: Radiograph,
    *,
    pixel_spacing: Sequence[float] | float | None = None,
    magnification: float | None = None,
) -> Radiograph:
    """The radiograph with the spacing that loading its file with these options gives.

    The spacing policy runs again on what the loader kept (:attr:`Radiograph.spacing_inputs`):
    the file's spacing tags, and the options the loader was given, those given here
    replacing them. The spacing, its source and uncertainty, and the spacing caveats are then
    what :func:`brooker.load_radiograph` gives the file with the options; the caveats the
    loader wrote about the spacing before are replaced, the others kept. With neither option,
    the radiograph is returned as it is.

    A radiograph built in memory (no ``spacing_inputs``) gets the user's ``pixel_spacing``
    (source ``user``); a ``magnification`` alone has nothing to divide: it is ignored, with
    the caveat a file with no (0018,1164) Imager Pixel Spacing gets, and the spacing kept.

    Raises
    ------
    InvalidSpacingError, ImplausibleSpacingError
        As :func:`brooker.load_radiograph` raises them for the options (or the file's tags).
    ConfigError
        The spacing was fitted on the film after loading (a calibration ball, prosthetic
        heads, the anatomical estimate): the options apply to the loader's spacing, and the
        fit's caveats would no longer describe the spacing; load the file again.
    """
    if pixel_spacing is None and magnification is None:
        return radiograph
    pixel_spacing = _square(pixel_spacing)
    where = radiograph.meta.path
    inputs = radiograph.spacing_inputs
    if inputs is not None and _same_options(inputs, pixel_spacing, magnification):
        # the options it was loaded with: nothing to apply (a calibrated radiograph analysed
        # again with the config it was loaded and calibrated with)
        return radiograph
    prior = radiograph.spacing
    if prior is not None and prior.source in _CALIBRATED_SOURCES:
        raise ConfigError(
            f"pixel_spacing and magnification cannot be applied to a radiograph whose spacing "
            f"was calibrated from the film ({prior.source.value}) after loading: load the file "
            "again",
            where,
        )
    rows, cols = radiograph.pixels.shape[:2]
    shape = (int(rows), int(cols))
    if inputs is None:  # built in memory: no tags to decide from, no loader caveats to replace
        _check_user_magnification(magnification, where)
        spacing: PixelSpacing | None
        notes: tuple[str, ...]
        stale = {MAGNIFICATION_IGNORED_FOR_USER_SPACING, MAGNIFICATION_IGNORED_NO_IMAGER_SPACING}
        if pixel_spacing is not None:
            spacing = _user_spacing(pixel_spacing, where, shape)
            notes = () if magnification is None else (MAGNIFICATION_IGNORED_FOR_USER_SPACING,)
            kept = tuple(
                c
                for c in radiograph.caveats
                if c not in stale and not c.startswith("no physical pixel spacing")
            )
        else:  # its own spacing stands
            spacing, notes = prior, (MAGNIFICATION_IGNORED_NO_IMAGER_SPACING,)
            kept = tuple(c for c in radiograph.caveats if c not in stale)
        return replace(radiograph, spacing=spacing, caveats=notes + kept)
    resolved, new_inputs = resolve_spacing(
        inputs.tags,
        inputs.pixel_spacing if pixel_spacing is None else pixel_spacing,
        inputs.magnification if magnification is None else magnification,
        where,
        shape,
        image_kind=inputs.image_kind,
    )
    kept = _without(radiograph.caveats, inputs.caveats)
    return replace(
        radiograph,
        spacing=resolved,
        caveats=new_inputs.caveats + kept,
        spacing_inputs=new_inputs,
    )


# --------------------------------------------------------------------------------------------


def _spacing(row_mm: float, col_mm: float, source: SpacingSource) -> PixelSpacing:
    return PixelSpacing(
        row_mm=float(row_mm),
        col_mm=float(col_mm),
        source=source,
        relative_uncertainty=float(DEFAULT_SPACING_UNCERTAINTY[source]),
    )


def _square(user_spacing: Sequence[float] | float | None) -> Sequence[float] | None:
    """The user's spacing as a pair: one number is square pixels, as ``--pixel-spacing
    0.2`` and ``AnalysisConfig`` take it (anything else as given, for the checks to judge)."""
    if is_real_number(user_spacing):
        one = cast(float, user_spacing)
        return (one, one)
    return cast("Sequence[float] | None", user_spacing)


def _pair(user_spacing: Sequence[float]) -> tuple[float, float]:
    return (float(user_spacing[0]), float(user_spacing[1]))


def _same_options(
    inputs: SpacingInputs, pixel_spacing: Sequence[float] | None, magnification: float | None
) -> bool:
    """Whether the options given are those the radiograph's spacing was decided with (an
    option not given keeps the loader's)."""
    try:
        same_ps = pixel_spacing is None or _pair(pixel_spacing) == inputs.pixel_spacing
        same_mag = magnification is None or float(magnification) == inputs.magnification
    except (TypeError, ValueError, IndexError, OverflowError):
        return False  # not numbers: the policy refuses them with its own error
    return same_ps and same_mag


def _finite(value: float) -> bool:
    """math.isfinite, False for an integer too large for a float."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _check_user_magnification(user_mag: float | None, where: str) -> None:
    """Refuse a user magnification that is not a finite number of at least the lowest of
    :data:`brooker.config.MAGNIFICATION_RANGE` (any real number type, numpy's included; not a
    bool): a projection magnifies."""
    if user_mag is not None and not (
        is_real_number(user_mag)
        and _finite(user_mag)
        and user_mag >= MAGNIFICATION_RANGE[0]
    ):
        raise InvalidSpacingError(
            f"magnification {user_mag!r} given by the user must be a number of at least 1 "
            "(a projection magnifies)",
            where,
        )


def _user_spacing(
    user_spacing: Sequence[float], where: str, shape: tuple[int, int] | None
) -> PixelSpacing:
    """The user's ``pixel_spacing`` (source ``user``; one number was made a pair by
    :func:`_square` where it came in), or the loader's error for it."""
    try:
        row, col = _pair(user_spacing)
        if len(user_spacing) != 2 or not all(math.isfinite(v) and v > 0 for v in (row, col)):
            raise ValueError
        # numbers, as for the magnification (and AnalysisConfig): (True, True) was taken as
        # 1 mm and ("0.1", "0.1") parsed, where the config refuses both
        if not all(is_real_number(v) for v in user_spacing):
            raise TypeError
    except (TypeError, ValueError, IndexError, OverflowError):
        raise InvalidSpacingError(
            f"pixel spacing {user_spacing!r} given by the user must be two positive mm "
            "values (row, column), or one for square pixels",
            where,
        ) from None
    why = implausible_spacing_reason(row, col, shape)
    if why is not None:
        raise ImplausibleSpacingError(
            f"pixel spacing {row:g} x {col:g} mm given by the user {why}", where
        )
    return _spacing(row, col, SpacingSource.USER)


def _from_image(
    user_spacing: Sequence[float] | None,
    user_mag: float | None,
    where: str,
    shape: tuple[int, int] | None,
    image_kind: str | None,
    caveats: list[str],
) -> PixelSpacing | None:
    """An image file (no header): the user's spacing, or none."""
    if user_spacing is not None:
        spacing = _user_spacing(user_spacing, where, shape)
        if user_mag is not None:
            caveats.append(MAGNIFICATION_IGNORED_FOR_USER_SPACING)
        return spacing
    if user_mag is not None:
        caveats.append(MAGNIFICATION_IGNORED_NO_IMAGER_SPACING)
    caveats.append(f"no physical pixel spacing: a {image_kind or 'image file'} carries none")
    return None


#: A user's pixel spacing this close to the file's own (relative) replaces nothing worth saying.
_SAME_SPACING_REL = 0.01


def _replaced(
    spacing: PixelSpacing, tags: SpacingTags, where: str, shape: tuple[int, int] | None
) -> list[str]:
    """The caveat of a user's pixel spacing that replaced the spacing the file gives by itself
    (the policy run on its tags alone, so the Imager Pixel Spacing divided by the file's
    magnification factor, not the detector's pitch): a constant --pixel-spacing over a folder
    of films with their own calibration changes every gap silently otherwise (the record's
    source says "user", not what it replaced). Nothing when the file gives none, or the same
    within 1 %."""
    try:
        own = _from_tags(tags, None, None, where, shape, [])
    except (InvalidSpacingError, ImplausibleSpacingError):  # nothing usable of its own
        return []
    if own is None or all(
        math.isclose(a, b, rel_tol=_SAME_SPACING_REL)
        for a, b in ((own.row_mm, spacing.row_mm), (own.col_mm, spacing.col_mm))
    ):
        return []
    return [
        f"the user's pixel spacing {spacing.row_mm:g} x {spacing.col_mm:g} mm replaced the "
        f"file's own {own.row_mm:g} x {own.col_mm:g} mm ({own.source.value})"
    ]


def _from_tags(
    tags: SpacingTags,
    user_spacing: Sequence[float] | None,
    user_mag: float | None,
    where: str,
    shape: tuple[int, int] | None,
    caveats: list[str],
) -> PixelSpacing | None:
    """The spacing policy of :mod:`brooker.dicom_io` (its module docstring), steps 1-6."""
    invalid = tags.invalid

    # 1. the user's pixel spacing
    if user_spacing is not None:
        spacing = _user_spacing(user_spacing, where, shape)
        if user_mag is not None:
            caveats.append(MAGNIFICATION_IGNORED_FOR_USER_SPACING)
        caveats.extend(f"ignored invalid {v.text}" for v in invalid)
        caveats.extend(_replaced(spacing, tags, where, shape))
        return spacing

    ps_ok = tags.pixel_spacing_mm
    ips_ok = tags.imager_pixel_spacing_mm
    mag_ok = tags.magnification
    cal_type = tags.calibration_type

    def _note_invalid(used_label: str) -> None:
        caveats.extend(f"ignored invalid {v.text}; used {used_label} instead" for v in invalid)

    # 2. calibrated Pixel Spacing
    if ps_ok is not None:
        same_as_ips = ips_ok is not None and _close(ps_ok, ips_ok)
        if cal_type or (ips_ok is not None and not same_as_ips):
            if user_mag is not None:
                caveats.append(
                    f"the user's magnification {user_mag:g} was ignored: (0028,0030) Pixel "
                    "Spacing is calibrated to the patient already"
                )
            if cal_type and same_as_ips:
                caveats.append(
                    f"(0028,0030) Pixel Spacing equals (0018,1164) Imager Pixel Spacing "
                    f"although (0028,0A02) calibration type is {cal_type}; taken as calibrated"
                )
            _note_invalid("(0028,0030) Pixel Spacing")
            return _spacing(ps_ok[0], ps_ok[1], SpacingSource.PIXEL_SPACING)
        if same_as_ips:
            caveats.append(
                "(0028,0030) Pixel Spacing equals (0018,1164) Imager Pixel Spacing and has no "
                "(0028,0A02) calibration type: treated as detector-plane spacing"
            )

    # 3./4. Imager Pixel Spacing (with magnification)
    if ips_ok is not None:
        factor = user_mag if user_mag is not None else mag_ok
        if factor is not None:
            if (
                user_mag is not None
                and mag_ok is not None
                and not math.isclose(user_mag, mag_ok, rel_tol=1e-6)
            ):
                caveats.append(
                    f"the user's magnification {user_mag:g} replaces (0018,1114) "
                    f"Estimated Radiographic Magnification Factor {mag_ok:g}"
                )
            _note_invalid("(0018,1164) Imager Pixel Spacing / magnification")
            row, col = ips_ok[0] / factor, ips_ok[1] / factor
            why = implausible_spacing_reason(row, col, shape)
            if why is not None:
                raise ImplausibleSpacingError(
                    f"(0018,1164) Imager Pixel Spacing / magnification {factor:g} = "
                    f"{row:g} x {col:g} mm {why}",
                    where,
                )
            return _spacing(row, col, SpacingSource.IMAGER_PIXEL_SPACING_MAGNIFICATION)
        lo, hi = TYPICAL_MAGNIFICATION
        caveats.append(
            "spacing is (0018,1164) Imager Pixel Spacing, at the detector: distances at the "
            f"hip are overstated by the unknown radiographic magnification (typically "
            f"{lo:.2f}-{hi:.2f})"
        )
        _note_invalid("(0018,1164) Imager Pixel Spacing")
        return _spacing(ips_ok[0], ips_ok[1], SpacingSource.IMAGER_PIXEL_SPACING)

    # 5. Pixel Spacing alone, calibration unknown
    if ps_ok is not None:
        if user_mag is not None:
            caveats.append(
                f"the user's magnification {user_mag:g} was ignored: it applies to "
                "(0018,1164) Imager Pixel Spacing, which this file lacks; give the pixel "
                "spacing at the patient instead"
            )
        caveats.append(
            "spacing is (0028,0030) Pixel Spacing with no (0028,0A02) calibration type and no "
            "(0018,1164) Imager Pixel Spacing: whether it is at the patient or the detector is "
            "unknown"
        )
        _note_invalid("(0028,0030) Pixel Spacing")
        return _spacing(ps_ok[0], ps_ok[1], SpacingSource.PIXEL_SPACING_UNCALIBRATED)

    # 6. nothing usable
    if invalid and all(v.implausible for v in invalid):
        raise ImplausibleSpacingError(
            "; ".join(v.text for v in invalid) + " and no other plausible spacing is present",
            where,
        )
    if invalid:
        raise InvalidSpacingError(
            "; ".join(v.text for v in invalid) + " and no other valid spacing is present",
            where,
        )
    if user_mag is not None:
        caveats.append(MAGNIFICATION_IGNORED_NO_IMAGER_SPACING)
    caveats.append(f"no physical pixel spacing: {no_spacing_tags(tags)}")
    return None


def no_spacing_tags(tags: SpacingTags | None) -> str:
    """What a DICOM header with no spacing source holds, for the caveat and the error: the
    attributes that are absent, and a (0018,2010) Nominal Scanned Pixel Spacing found and not
    used (see :mod:`brooker.dicom_io`, step 6)."""
    text = "none of (0028,0030) Pixel Spacing or (0018,1164) Imager Pixel Spacing is present"
    nominal = None if tags is None else tags.nominal_scanned_pixel_spacing_mm
    if nominal is None:
        return text
    return (
        f"{text}; (0018,2010) Nominal Scanned Pixel Spacing {nominal[0]:g} x {nominal[1]:g} mm "
        "was found but not used: it is the scanner's pitch on the digitised film, whose scale "
        "to the patient (magnification, a printed copy's reduction) is unknown"
    )


def _close(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return all(math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-7) for x, y in zip(a, b, strict=True))


def _without(caveats: tuple[str, ...], removed: tuple[str, ...]) -> tuple[str, ...]:
    """``caveats`` less one occurrence of each of ``removed`` (the loader's spacing caveats)."""
    left = list(removed)
    out: list[str] = []
    for c in caveats:
        if c in left:
            left.remove(c)
        else:
            out.append(c)
    return tuple(out)
