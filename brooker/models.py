"""Frozen values and enums that cross stage boundaries.

Every length or coordinate carries its unit in its name: ``gap_mm``, ``area_mm2``,
``center_px``. Pixel coordinates are ``(row, col)`` indices into the stored image (before any
display flip), as floats where sub-pixel.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from brooker.grid import IDENTITY, ROWS_REVERSED, GridTransform
from brooker.units import (
    BROOKER_GAP_THRESHOLD_MM,
    WEAK_CALL_PROBABILITY,
    rounded_on_its_side,
    shown_gap_mm,
)

_K = TypeVar("_K")
_V = TypeVar("_V")


class FrozenMapping(Mapping[_K, _V]):
    """A read-only mapping that pickles (to worker processes) and hashes when its values do.

    What a frozen dataclass holds in place of a ``dict``, so that it stays frozen all the way
    down (``types.MappingProxyType`` does not pickle). Compares equal to a ``dict`` of the same
    items.

    >>> m = FrozenMapping({"a": 1})
    >>> m["a"], m == {"a": 1}, len(m)
    (1, True, 1)
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[_K, _V] | None = None) -> None:
        self._items: dict[_K, _V] = dict(items or {})

    def __getitem__(self, key: _K) -> _V:
        return self._items[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._items!r})"

    def __reduce__(self) -> tuple[type[FrozenMapping[_K, _V]], tuple[dict[_K, _V]]]:
        return (type(self), (self._items,))


class SpacingSource(enum.StrEnum):
    """Where the physical pixel spacing came from, in the order the loader tries them."""

    USER = "user"
    """Given by the user (``pixel_spacing=`` / ``--pixel-spacing``)."""
    PIXEL_SPACING = "pixel_spacing"
    """(0028,0030) Pixel Spacing, calibrated to the patient (calibration type, or differs
    from (0018,1164) Imager Pixel Spacing)."""
    IMAGER_PIXEL_SPACING_MAGNIFICATION = "imager_pixel_spacing_magnification"
    """(0018,1164) Imager Pixel Spacing divided by a magnification factor ((0018,1114) or the
    user's ``magnification=``)."""
    IMAGER_PIXEL_SPACING = "imager_pixel_spacing"
    """(0018,1164) Imager Pixel Spacing alone: at the detector, not at the patient."""
    PIXEL_SPACING_UNCALIBRATED = "pixel_spacing_uncalibrated"
    """(0028,0030) Pixel Spacing alone with no calibration type: calibration unknown."""
    CALIBRATION_BALL = "calibration_ball"
    """A calibration ball of known diameter (``ball_mm=`` / ``--ball-mm``), fitted on the film."""
    PROSTHETIC_HEAD = "prosthetic_head"
    """The prosthetic head(s) of known diameter (``head_mm=`` / ``--head-mm``), fitted."""
    ANATOMICAL_ESTIMATE = "anatomical_estimate"
    """Native femoral head(s) fitted and taken to have the population's mean diameter
    (``estimate_spacing=True`` / ``--estimate-spacing``): a rough estimate."""

    @property
    def said(self) -> str:
        """Where the spacing came from, in words, as the single film's answer in the terminal
        and the overlay's panel say it (the record keeps the value).

        >>> SpacingSource.IMAGER_PIXEL_SPACING.said
        'from (0018,1164) Imager Pixel Spacing, at the detector'
        """
        return _SPACING_SAID[self]


_SPACING_SAID: Final = {
    SpacingSource.USER: "given by the user",
    SpacingSource.PIXEL_SPACING: "from (0028,0030) Pixel Spacing, calibrated",
    SpacingSource.IMAGER_PIXEL_SPACING_MAGNIFICATION: (
        "from (0018,1164) Imager Pixel Spacing over the magnification"
    ),
    SpacingSource.IMAGER_PIXEL_SPACING: "from (0018,1164) Imager Pixel Spacing, at the detector",
    SpacingSource.PIXEL_SPACING_UNCALIBRATED: (
        "from (0028,0030) Pixel Spacing, calibration unknown"
    ),
    SpacingSource.CALIBRATION_BALL: "from the calibration ball",
    SpacingSource.PROSTHETIC_HEAD: "from the prosthetic heads' known size",
    SpacingSource.ANATOMICAL_ESTIMATE: "estimated from the femoral heads (rough)",
}

#: Where a film's sides came from (``Radiograph.laterality_source``), in words.
_SIDES_SAID: Final = {
    "patient_orientation": "from (0020,0020) Patient Orientation",
    "view_position": "from (0018,5101) View Position",
    "image_laterality": "from (0020,0062) Image Laterality",
    "user": "given by the user",
    "assumed": "assumed from the AP convention",
}


def spacing_said(source: str | None) -> str:
    """Where a record's spacing came from, in words (:attr:`SpacingSource.said`); a value
    this version does not know (a record of another) is quoted as it is.

    >>> spacing_said("user"), spacing_said("tape_measure")
    ('given by the user', 'source tape_measure')
    """
    try:
        return SpacingSource(str(source)).said
    except ValueError:
        return f"source {source}"


def sides_said(laterality_source: str | None) -> str:
    """Where a film's sides came from, in words (the record keeps the value).

    >>> sides_said("assumed"), sides_said("patient_orientation")
    ('assumed from the AP convention', 'from (0020,0020) Patient Orientation')
    """
    if laterality_source is None:
        return "not known"
    return _SIDES_SAID.get(laterality_source, laterality_source)


class ImageSide(enum.StrEnum):
    """A half of the stored image, as displayed with row 0 at the top and column 0 left; of a
    film stored turned a quarter, a half of the film turned upright, as it is analysed
    (:attr:`Radiograph.to_upright`, :mod:`brooker.upright`)."""

    LEFT = "left"
    RIGHT = "right"

    @property
    def opposite(self) -> ImageSide:
        """The other half."""
        return ImageSide.RIGHT if self is ImageSide.LEFT else ImageSide.LEFT


class PatientSide(enum.StrEnum):
    """The patient's side."""

    RIGHT = "right"
    LEFT = "left"

    @property
    def opposite(self) -> PatientSide:
        """The other side."""
        return PatientSide.LEFT if self is PatientSide.RIGHT else PatientSide.RIGHT

    @property
    def letter(self) -> str:
        """``"R"`` or ``"L"``, as on a film marker."""
        return "R" if self is PatientSide.RIGHT else "L"


def sides_assumed(laterality_source: str | None, hips: int) -> bool:
    """Whether a result's patient sides rest on an assumption, not on a tag that says how the
    stored image's halves lie: the AP convention (no tag, ``"assumed"``; two hips on a
    single-hip view, whose (0020,0062) Image Laterality names one) or (0018,5101) View
    Position, which says how the beam went, not how the image is turned
    (:func:`brooker.localization.sides_from_image_laterality`). The overlay writes such a
    side "R?", the table "R?" and the single film's answer "right hip?".

    >>> sides_assumed("assumed", 2), sides_assumed("patient_orientation", 2)
    (True, False)
    >>> sides_assumed("image_laterality", 1), sides_assumed("image_laterality", 2)
    (False, True)
    """
    return laterality_source in ("assumed", "view_position") or (
        laterality_source == "image_laterality" and hips > 1
    )


#: The most centres a hip is graded about (step 7 tries 5): a record's ``centres_graded``
#: naming more was edited by hand.
CENTRES_TRIED_MAX = 25


def centres_graded_in(hip: Mapping[str, Any]) -> tuple[int, int] | None:
    """A record's hip's ``centres_graded`` as ``(graded, tried)`` when it is one brooker
    writes: whole numbers, ``0 < graded < tried`` on a hip graded; None otherwise (graded about
    every centre, a record written before the key, or a value edited by hand, which the
    terminal, the CSV and the review page then show no tag for).

    >>> centres_graded_in({"grade": 3, "centres_graded": [1, 5]})
    (1, 5)
    >>> [centres_graded_in({"grade": 3, "centres_graded": v}) for v in ([5, 5], [True, 5], None)]
    [None, None, None]
    >>> centres_graded_in({"grade": None, "centres_graded": [1, 5]}) is None
    True
    """
    pair = hip.get("centres_graded")
    if not (isinstance(pair, list | tuple) and len(pair) == 2) or hip.get("grade") is None:
        return None
    graded, tried = pair
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (graded, tried)):
        return None
    return (graded, tried) if 0 < graded < tried <= CENTRES_TRIED_MAX else None


class BrookerGrade(enum.IntEnum):
    """Brooker class 0-IV as an integer (0 = no heterotopic ossification)."""

    NONE = 0
    ISLANDS = 1
    SPURS_WIDE_GAP = 2
    SPURS_NARROW_GAP = 3
    ANKYLOSIS = 4

    @property
    def roman(self) -> str:
        """``"0"``, ``"I"``, ``"II"``, ``"III"`` or ``"IV"``."""
        return ("0", "I", "II", "III", "IV")[int(self)]


class FragmentKind(enum.StrEnum):
    """What a piece of heterotopic bone is attached to."""

    ISLAND = "island"
    """Free in the soft tissue, attached to neither pelvis nor femur."""
    PELVIC_SPUR = "pelvic_spur"
    """Grows from the pelvis."""
    FEMORAL_SPUR = "femoral_spur"
    """Grows from the proximal femur."""
    BRIDGE = "bridge"
    """Continuous from pelvis to femur (apparent ankylosis)."""


class Status(enum.StrEnum):
    """Outcome of one input."""

    OK = "ok"
    UNGRADABLE = "ungradable"
    ERROR = "error"


class ExitCode(enum.IntEnum):
    """Process exit codes of the command line (documented in the README)."""

    OK = 0
    """Every input graded (or, for ``inspect``, loaded)."""
    INTERNAL_ERROR = 1
    USAGE_ERROR = 2
    NOT_ALL_GRADED = 3
    """Some inputs could not be graded; each has its record."""
    NO_INPUTS = 4
    OUTPUT_ERROR = 5
    """An output could not be written (disk full, permissions, read-only file system, a file
    where a folder is expected): the environment, not a bug and not the inputs."""
    CLUSTER_LOST = 6
    """The Dask cluster (``--dask-scheduler``) went away during the run: the environment, not
    a bug and not the inputs; run the same command again."""
    HUNG_UP = 129
    """Stopped by SIGHUP (128 + SIGHUP, as a shell reports it): the terminal of a run in the
    foreground closed (a window shut, an ssh connection dropped); stopped as by Ctrl-C:
    continue with ``--resume``. A run started with ``nohup`` (which ignores SIGHUP) goes on."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (128 + SIGINT, as a shell reports it): continue with ``--resume``."""
    BROKEN_PIPE = 141
    """Stopped because the reader of standard output went away (``| head``; 128 + SIGPIPE, as a
    shell reports a tool its pipe ended): continue with ``--resume``."""
    TERMINATED = 143
    """Stopped by SIGTERM (128 + SIGTERM, as a shell reports it): a cluster scheduler cancelling
    the job, or ``kill PID``; stopped as by Ctrl-C: continue with ``--resume``."""


@dataclass(frozen=True, slots=True)
class CalibrationObject:
    """An object of known (or assumed) size fitted on the film to derive the spacing.

    Parameters
    ----------
    kind : str
        ``"calibration_ball"``, ``"prosthetic_head"`` or ``"femoral_head"`` (native, for the
        anatomical estimate).
    center_px : (float, float)
        Fitted centre ``(row, col)``, stored-image pixels.
    diameter_px : float
        Fitted diameter in row pixels (sub-pixel).
    diameter_mm : float
        The object's known (ball, implant head) or assumed (native head) diameter, mm.
    fit_relative_uncertainty : float
        Relative standard uncertainty of ``diameter_px`` from the fit (scatter of the edge
        points, arc covered, and a quarter of the edge's blur width).
    aspect : float
        Column pitch / row pitch used in the fit (1 for square pixels).
    """

    kind: str
    center_px: tuple[float, float]
    diameter_px: float
    diameter_mm: float
    fit_relative_uncertainty: float
    aspect: float = 1.0

    def __post_init__(self) -> None:
        for name in ("diameter_px", "diameter_mm", "aspect"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be positive and finite, got {v!r}")

    @property
    def row_mm(self) -> float:
        """The row spacing this object implies, mm."""
        return self.diameter_mm / self.diameter_px

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "kind": self.kind,
            "center_px": [round(float(v), 1) for v in self.center_px],
            "diameter_px": round(float(self.diameter_px), 2),
            "diameter_mm": round(float(self.diameter_mm), 2),
            "fit_relative_uncertainty": round(float(self.fit_relative_uncertainty), 4),
        }


@dataclass(frozen=True, slots=True)
class PixelSpacing:
    """Physical size of one pixel at the patient (or at the detector: see ``source``).

    Parameters
    ----------
    row_mm : float
        Distance between the centres of adjacent rows, mm.
    col_mm : float
        Distance between the centres of adjacent columns, mm.
    source : SpacingSource
        Which attribute(s) it came from.
    relative_uncertainty : float
        Estimated relative (1-sigma-ish, fraction) error of the spacing at the hip, from the
        source (see ``config.AnalysisConfig``). Drives the ``borderline`` flag.
    calibration : tuple of CalibrationObject
        The object(s) the spacing was derived from (ball, prosthetic heads, native heads);
        empty for spacing from tags or the user.
    """

    row_mm: float
    col_mm: float
    source: SpacingSource
    relative_uncertainty: float = 0.0
    calibration: tuple[CalibrationObject, ...] = ()

    def __post_init__(self) -> None:
        for name in ("row_mm", "col_mm"):
            v = getattr(self, name)
            if not (isinstance(v, float | int) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive finite number of mm, got {v!r}")
        if not (math.isfinite(self.relative_uncertainty) and self.relative_uncertainty >= 0):
            raise ValueError("relative_uncertainty must be >= 0")

    @property
    def sampling_mm(self) -> tuple[float, float]:
        """``(row_mm, col_mm)``, the ``sampling=`` argument of scipy.ndimage."""
        return (float(self.row_mm), float(self.col_mm))

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict (with the uncertainty and the fitted objects when calibrated)."""
        rec: dict[str, Any] = {
            "row_mm": round(float(self.row_mm), 6),
            "col_mm": round(float(self.col_mm), 6),
            "source": self.source.value,
        }
        if self.calibration:
            rec["relative_uncertainty"] = round(float(self.relative_uncertainty), 4)
            rec["calibration"] = [c.to_record() for c in self.calibration]
        return rec


@dataclass(frozen=True, slots=True, eq=False)
class DisplayMapping:
    """Piecewise-linear map from bone-bright pixel values to display brightness 0..1.

    Built by the loader from the file's VOI window or VOI LUT, already turned so that bone is
    white (MONOCHROME1 handled). ``np.interp(pixels, input_values, output_fraction)``.
    """

    input_values: npt.NDArray[np.float64]
    output_fraction: npt.NDArray[np.float64]
    source: str
    """``"voi_window"``, ``"voi_lut"`` or ``"percentile"``."""

    def apply(self, pixels: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Map pixels to 0..1 display brightness (bone white)."""
        mapped: npt.NDArray[np.float64] = np.interp(
            pixels, self.input_values, self.output_fraction
        )
        return mapped.astype(np.float32)


@dataclass(frozen=True, slots=True)
class InvalidSpacingTag:
    """A spacing attribute present in a DICOM header but unusable, and why.

    ``reason`` quotes the header value (short, printable, identifiers redacted by the loader).
    """

    tag: str
    """The attribute, e.g. ``"(0028,0030) Pixel Spacing"``."""
    reason: str
    implausible: bool = False
    """Well-formed but physically implausible (:func:`brooker.spacing.implausible_spacing_reason`),
    rather than malformed."""

    @property
    def text(self) -> str:
        """``"<tag> <reason>"``, as messages and caveats quote it."""
        return f"{self.tag} {self.reason}"


@dataclass(frozen=True, slots=True)
class SpacingTags:
    """A DICOM header's spacing attributes as the spacing policy reads them, and nothing else of
    the header (see :mod:`brooker.dicom_io`: the policy)."""

    pixel_spacing_mm: tuple[float, float] | None = None
    """(0028,0030) Pixel Spacing ``(row, column)``, when present and valid."""
    imager_pixel_spacing_mm: tuple[float, float] | None = None
    """(0018,1164) Imager Pixel Spacing ``(row, column)``, when present and valid."""
    magnification: float | None = None
    """(0018,1114) Estimated Radiographic Magnification Factor, when present and valid."""
    calibration_type: str | None = None
    """(0028,0A02) Pixel Spacing Calibration Type (identifiers redacted), when present."""
    invalid: tuple[InvalidSpacingTag, ...] = ()
    """The attributes present but unusable, in the order Pixel Spacing, Imager Pixel Spacing,
    magnification factor."""
    nominal_scanned_pixel_spacing_mm: tuple[float, float] | None = None
    """(0018,2010) Nominal Scanned Pixel Spacing ``(row, column)`` of a digitised film, when
    present and valid. Never a spacing source (the scanner's pitch on the film, whose scale to
    the patient is unknown): named in the caveat and error of a film with no spacing."""


@dataclass(frozen=True, slots=True)
class SpacingInputs:
    """What the loader decided :attr:`Radiograph.spacing` from, and the caveats it wrote about it.

    Kept so that the spacing policy can run again on a loaded radiograph with other user
    options, without the file (:func:`brooker.spacing.with_spacing_options`, which
    :func:`brooker.pipeline.analyze` applies with ``AnalysisConfig.pixel_spacing`` and
    ``magnification``). Holds no header value other than the spacing attributes.
    """

    tags: SpacingTags | None
    """The DICOM header's spacing attributes; None for an image file (PNG, JPEG, TIFF), which
    has none."""
    image_kind: str | None = None
    """For an image file, what its caveats call it (``"PNG image"``); None for DICOM."""
    pixel_spacing: tuple[float, float] | None = None
    """The user's ``pixel_spacing`` the loader was given, mm (row, column)."""
    magnification: float | None = None
    """The user's ``magnification`` the loader was given."""
    caveats: tuple[str, ...] = ()
    """The caveats the spacing policy wrote: the first ones of :attr:`Radiograph.caveats` as
    loaded, replaced there when the policy runs again."""

    def __post_init__(self) -> None:
        if (self.tags is None) == (self.image_kind is None):
            raise ValueError("spacing inputs are a DICOM header's tags or an image file's kind")


@dataclass(frozen=True, slots=True)
class RadiographMeta:
    """What the loader read from the header, with no patient identifiers."""

    path: str
    sop_instance_uid: str | None
    modality: str | None
    photometric: str
    transfer_syntax_uid: str
    transfer_syntax_name: str
    decoder: str
    rows: int
    cols: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    view_position: str | None = None
    patient_orientation: tuple[str, ...] | None = None
    image_laterality: str | None = None
    body_part: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Radiograph:
    """A decoded projection radiograph, bone bright, with its calibration.

    Parameters
    ----------
    pixels : ndarray of float32, shape (rows, cols)
        Modality-LUT output, MONOCHROME1 inverted, so that denser is brighter. Not windowed.
    spacing : PixelSpacing or None
        Physical spacing; None when the file has none and the user gave none (grading refuses).
    patient_right_on : ImageSide
        Which half of the stored image shows the patient's right hip (of the film turned
        upright, :attr:`to_upright`, which for a film stored turned a quarter is not a half of
        the stored image).
    laterality_source : str
        ``"patient_orientation"``, ``"view_position"``, ``"image_laterality"``, ``"user"``
        (``flipped`` given) or ``"assumed"``.
    meta : RadiographMeta
    display : DisplayMapping or None
        VOI from the file for rendering; None to use a percentile window.
    caveats : tuple of str
        Plain-language caveats (detector-plane spacing, assumed laterality, ...).
    spacing_inputs : SpacingInputs or None
        What the loader decided ``spacing`` from (the file's spacing tags, the user's options)
        and the caveats it wrote about it, so that other spacing options can be applied later
        (:func:`brooker.spacing.with_spacing_options`); None for a radiograph built in memory.
    to_upright : GridTransform
        How the stored pixels are turned for the analysis, which reads the film with the
        patient's head at the top (:mod:`brooker.upright`): as they are, or, as (0020,0020)
        Patient Orientation says, rows reversed (stored upside down, :attr:`upside_down`) or a
        quarter turn (stored turned a quarter). The pixels are kept as stored, and every
        position the analysis reports is on them.
    unpadded_px : (int, int, int, int) or None
        The half-open box ``(row0, col0, row1, col1)`` of the stored pixels inside a border of
        padding: the whole rows and columns at the film's edges that hold only (0028,0120)
        Pixel Padding Value (or the range to (0028,0121) Pixel Padding Range Limit), as an
        export padded to a fixed plate size has, less any edge rows and columns of one value
        inside it. The analysis reads this box alone
        (:mod:`brooker.padding`) and reports its positions on the stored pixels. Without the
        element (or when it cannot be read, or finds no border), the box inside the whole
        edge rows and columns each holding one value
        (:func:`brooker.padding.uniform_border_box`). None when there is no such border.
    padding_declared : bool
        ``unpadded_px`` is inside a border (0028,0120) declares; False for a border of one
        value no element declares, and without a border.
    border_by : tuple of str
        What the border around ``unpadded_px`` is, outermost first: ``"padding"`` (the
        border (0028,0120) declares), ``"one value"`` (whole edge lines each of one value:
        the border itself without the element, or one of the film's own inside the declared
        one); empty without a border, and for a radiograph built in memory that does not say
        (:func:`brooker.padding.border_said` then reads ``padding_declared``).
    """

    pixels: npt.NDArray[np.float32]
    spacing: PixelSpacing | None
    patient_right_on: ImageSide
    laterality_source: str
    meta: RadiographMeta
    display: DisplayMapping | None = None
    caveats: tuple[str, ...] = ()
    spacing_inputs: SpacingInputs | None = None
    to_upright: GridTransform = IDENTITY
    unpadded_px: tuple[int, int, int, int] | None = None
    padding_declared: bool = False
    border_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2:
            raise ValueError(f"pixels must be 2-D, got shape {self.pixels.shape}")
        box = self.unpadded_px
        if box is not None:
            r0, c0, r1, c1 = box
            rows, cols = self.pixels.shape
            if not (0 <= r0 < r1 <= rows and 0 <= c0 < c1 <= cols):
                raise ValueError(f"unpadded_px {box} is not a non-empty box of {rows} x {cols}")
        elif self.padding_declared or self.border_by:
            raise ValueError("padding_declared or border_by without unpadded_px")
        if self.border_by and (
            self.border_by not in (("padding",), ("one value",), ("padding", "one value"))
            or self.padding_declared != (self.border_by[0] == "padding")
        ):
            raise ValueError(
                f"border_by {self.border_by} is not a border the loader reads, or contradicts "
                f"padding_declared={self.padding_declared}"
            )

    @property
    def upside_down(self) -> bool:
        """The pixels show the patient's head towards the last row ((0020,0020) Patient
        Orientation's column direction, its second value, is H): :attr:`to_upright` reverses
        the rows. The analysis reads such a film with its rows reversed and reports its
        positions on the pixels as they are (:mod:`brooker.upright`)."""
        return self.to_upright == ROWS_REVERSED

    @property
    def quarter_turned(self) -> bool:
        """The film is stored turned a quarter (its rows run head-feet): :attr:`to_upright`
        is a quarter turn, and the image halves (:attr:`patient_right_on`) are those of the
        film turned upright."""
        return self.to_upright.transpose

    def image_side_of(self, side: PatientSide) -> ImageSide:
        """The image half showing the patient's ``side``."""
        right = self.patient_right_on
        return right if side is PatientSide.RIGHT else right.opposite

    def patient_side_of(self, half: ImageSide) -> PatientSide:
        """The patient side shown on image half ``half``."""
        return PatientSide.RIGHT if half is self.patient_right_on else PatientSide.LEFT


@dataclass(frozen=True, slots=True)
class HipJoint:
    """One hip found on the image."""

    patient_side: PatientSide
    image_side: ImageSide
    center_px: tuple[float, float]
    """Centre of the femoral head (or prosthetic head), (row, col)."""
    head_radius_mm: float
    prosthesis: bool
    cup_radius_mm: float | None = None
    """Outer radius of the acetabular cup (prosthesis) or acetabulum, when found."""
    score: float | None = None
    """The hip-region detector's score (logit: 0 even odds, 3 about 95 %), when detected."""
    not_graded_reason: str | None = None
    """Why this hip is found but cannot be graded at all (its head, roof or shaft lies outside
    the film, or metal lies over a native head), or None."""
    anatomy_unseen: str | None = None
    """What of this native hip's known anatomy the film's grey levels do not show as bone (the
    femoral head, the acetabular roof, or the neck and shaft: the bone threshold lies above
    this hip's own bone), or None. A class 0 or I is graded with a caveat; a spur or bridge is
    not graded (:func:`brooker.grading.grade_hip`)."""
    center_uncertainty_mm: float = 0.0
    """The step, mm, about which the hip is graded again when its centre is the hip detector's
    own (no head outline was fitted): half the detector's stride, its grid's rounding
    (:func:`brooker.localization.detector_center_uncertainty_mm`). 0 for a head fitted by its
    outline (a metal disk or a circle of bone edges): not graded again."""


@dataclass(frozen=True, slots=True)
class HipCandidate:
    """A place the hip detector looked at closely (a local maximum of its score)."""

    center_px: tuple[float, float]
    """(row, col) in stored-image pixels."""
    score: float
    """Logit: 0 even odds, 3 about 95 %."""
    lateral_left: bool
    """The region looks like a hip whose lateral side is towards the image's left."""


@dataclass(frozen=True, slots=True)
class HipSearch:
    """What hip localisation found: the hips in the field of view, or why there are none."""

    hips: tuple[HipJoint, ...]
    reason: str | None = None
    caveats: tuple[str, ...] = ()
    candidates: tuple[HipCandidate, ...] = ()
    """The strongest places the detector looked at (for the overlay), best first."""


@dataclass(frozen=True, slots=True, eq=False)
class Fragment:
    """One connected piece of heterotopic bone.

    ``mask`` is a boolean array covering ``bbox_px = (row0, col0, row1, col1)`` (half-open) of
    the stored image. ``judge_probability`` is the learned fragment judge's probability that it
    is heterotopic bone (:mod:`brooker.fragments`; kept at ``ho_fragment_min`` or more), None
    when the judges are off.
    """

    kind: FragmentKind
    area_mm2: float
    centroid_px: tuple[float, float]
    bbox_px: tuple[int, int, int, int]
    mask: npt.NDArray[np.bool_] = field(repr=False)
    judge_probability: float | None = None

    def _key(self) -> tuple[Any, ...]:
        return (self.kind, self.area_mm2, self.centroid_px, self.bbox_px, self.judge_probability)

    def __eq__(self, other: object) -> bool:
        """Equal fields and equal masks: two analyses of one film compare equal (with the
        dataclass's equality, by identity for the mask array, they never did)."""
        if not isinstance(other, Fragment):
            return NotImplemented
        return self._key() == other._key() and bool(np.array_equal(self.mask, other.mask))

    def __hash__(self) -> int:
        return hash(self._key())

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict."""
        p = self.judge_probability
        return {
            "kind": self.kind.value,
            "area_mm2": round(float(self.area_mm2), 1),
            "centroid_px": [round(float(v), 1) for v in self.centroid_px],
            # a weak call's 0.6996 never reads 0.7, the bound it is under
            "judge_probability": None
            if p is None
            else rounded_on_its_side(float(p), 3, WEAK_CALL_PROBABILITY),
        }


@dataclass(frozen=True, slots=True)
class BodyOutline:
    """A stretch of the edge of the pelvis or femur body as the bone segmentation found it,
    inside the region searched for heterotopic bone (:mod:`brooker.outlines`).

    ``points_px`` is a polyline of (row, col) on the stored image, on the body's edge (its
    mask's, on the pixels' edges). The segmentation's own cuts (the joint left out, the
    region's border, the margin kept from a collimator shutter) are not part of it: where the
    body meets them the outline ends. The overlay draws
    it, so that a reader sees which bone a fragment or a gap's end was measured against, and
    where the femur or the pelvis was not seen as bone at all.
    """

    body: str
    """``"pelvis"`` or ``"femur"``."""
    points_px: tuple[tuple[float, float], ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class GapMeasurement:
    """Smallest edge-to-edge distance between opposing pelvic- and femoral-side bone.

    ``pelvic_point_px`` and ``femoral_point_px`` are the two end points (row, col) on the
    bone edges; ``gap_mm`` is at the patient (as the spacing source allows), 0 for a bridge.
    ``island_ends``: how many of the two ends lie on an island (heterotopic bone joined to
    neither body, counted with the side it lies nearer to: :mod:`brooker.measurement`).
    ``to_head``: the femoral end lies on the femoral head (native, or a prosthesis's ball),
    the nearest femoral-side bone, not on the femur body or a femoral spur.
    """

    gap_mm: float
    pelvic_point_px: tuple[float, float]
    femoral_point_px: tuple[float, float]
    uncertainty_mm: float = 0.0
    island_ends: int = 0
    to_head: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.gap_mm) and self.gap_mm >= 0):
            raise ValueError(f"gap_mm must be finite and >= 0, got {self.gap_mm!r}")

    def borderline_at(self, threshold_mm: float) -> bool:
        """True when ``threshold_mm`` lies within the measurement's uncertainty of the gap
        (at exactly the uncertainty, too): the class on either side of it is uncertain.

        >>> GapMeasurement(9.5, (0.0, 0.0), (0.0, 9.5), uncertainty_mm=0.5).borderline_at(10.0)
        True
        >>> GapMeasurement(9.5, (0.0, 0.0), (0.0, 9.5), uncertainty_mm=0.5).borderline_at(8.0)
        False
        """
        return abs(self.gap_mm - threshold_mm) <= self.uncertainty_mm

    @property
    def borderline(self) -> bool:
        """:meth:`borderline_at` the standard 10 mm (``BROOKER_GAP_THRESHOLD_MM``); a hip graded
        with another ``AnalysisConfig.gap_threshold_mm`` has its own flag in
        :attr:`HipResult.borderline`."""
        return self.borderline_at(BROOKER_GAP_THRESHOLD_MM)


@dataclass(frozen=True, slots=True)
class HipResult:
    """The grade of one hip, with what it rests on."""

    patient_side: PatientSide
    image_side: ImageSide
    grade: BrookerGrade | None
    """None: the hip was found but not graded (``not_graded`` says why)."""
    center_px: tuple[float, float]
    prosthesis: bool
    gap: GapMeasurement | None = None
    borderline: bool = False
    fragments: tuple[Fragment, ...] = ()
    caveats: tuple[str, ...] = ()
    not_graded: str | None = None
    weak_call: bool = False
    """The class rests only on fragments the learned fragment judge kept with a probability
    under :data:`brooker.units.WEAK_CALL_PROBABILITY` (a caveat says so)."""
    head_radius_mm: float | None = None
    """Radius of the femoral (or prosthetic) head the hip was placed on."""
    search_region: tuple[float, float, float, float] | None = None
    """Where heterotopic bone was sought: ``(inner_radius_mm, outer_radius_mm, from_deg,
    to_deg)`` around the centre (inside the inner radius is the joint itself,
    :func:`brooker.segmentation.joint_exclusion_radius_mm`), angles on the image, 0 up (towards
    row 0), 90 lateral, 180 down: on a film stored upside down (:mod:`brooker.upright`) the
    region turns over with the film (None when the hip was not searched: a hip whose anatomy
    the film's intensity model does not show; a hip not graded for the spur or bridge it
    holds keeps the region searched)."""
    gap_threshold_mm: float = BROOKER_GAP_THRESHOLD_MM
    """The class II/III boundary the hip was graded on (``AnalysisConfig.gap_threshold_mm``):
    its gap is shown rounded on the same side of it (:func:`brooker.units.shown_gap_mm`)."""
    center_uncertainty_mm: float = 0.0
    """The rounding of ``center_px`` by the hip detector's grid: half its stride when the hip
    sits at the detector's own centre, 0 when a head outline (bone circle or metal disk) was
    fitted. Not the error against the true centre, which is larger at the detector's centre
    (see :attr:`HipJoint.center_uncertainty_mm`)."""
    class_range: tuple[BrookerGrade, BrookerGrade] | None = None
    """The lowest and the highest class of a hip placed by the hip detector, graded about the
    five centres (its own and ``center_uncertainty_mm`` up, down, left and right; ``grade``
    is the lowest), when they differ; None when they agree or only one was graded.
    A "0" that grades IV 2 mm away is no plain 0: the overlay and the terminal say so."""
    centres_graded: tuple[int, int] | None = None
    """``(graded, tried)``: a hip placed by the hip detector that is graded about only
    ``graded`` of the ``tried`` centres of :attr:`class_range` (about the others it is not
    graded: a spur seen with no femur, or no opposing bone, there); None when it is graded about
    every centre tried. A class read about 1 centre of 5 rests on where the centre fell: the
    overlay, the terminal and the review page say so in amber, as they do a class range."""
    limited_by: tuple[str, ...] = ()
    """What the bone segmentation missed (or took in) that the class rests on, in a few words
    each (its caveat says the rest): ``"femur not segmented to the trochanter"``, ``"femur
    body above the trochanter"``, ``"femoral head not segmented"``, ``"pelvis and femur one
    piece"``, ``"implant read as bone"``. The overlay's
    label, the terminal and the review page show them beside the class, as they show a weak
    call: a class read with them is less sure than one read without."""
    body_outlines: tuple[BodyOutline, ...] = ()
    """The edges of the pelvis and femur bodies in the region searched, as segmented about the
    centre the hip was graded about (for the overlay; not in the JSON record). Empty for a
    hip not segmented, and where the bodies are one piece (:attr:`limited_by`)."""

    def __post_init__(self) -> None:
        if (self.grade is None) != (self.not_graded is not None):
            raise ValueError("a hip has either a grade or a reason it was not graded")
        if self.class_range is not None and not (
            self.grade is not None and self.class_range[0] == self.grade < self.class_range[1]
        ):
            raise ValueError(
                f"class_range {self.class_range} must run from the hip's grade {self.grade} up"
            )
        if self.centres_graded is not None and not (
            self.grade is not None and 0 < self.centres_graded[0] < self.centres_graded[1]
        ):
            raise ValueError(
                f"centres_graded {self.centres_graded} must be (graded, tried) with "
                "0 < graded < tried, on a hip graded"
            )

    # The record's hip keys that are not fields here, read-only (``to_record`` writes the
    # record from the fields, so none of these is written twice). ``side`` is
    # ``patient_side``, under its own name.

    @property
    def brooker_class(self) -> str | None:
        """``"0"``, ``"I"`` ... ``"IV"`` (``grade.roman``), or None for a hip not graded."""
        return None if self.grade is None else self.grade.roman

    @property
    def gap_mm(self) -> float | None:
        """The gap edge to edge, mm at the patient (``gap.gap_mm``): None when no gap was
        measured (classes 0 and I, a hip not graded), 0 for class IV. Not rounded: the record
        shows it to 0.01 mm and never across the II/III boundary
        (:func:`brooker.units.shown_gap_mm`)."""
        return None if self.gap is None else self.gap.gap_mm

    @property
    def gap_uncertainty_mm(self) -> float | None:
        """The gap's measurement uncertainty, mm (``gap.uncertainty_mm``, the band
        ``borderline`` is judged on); None when no gap was measured."""
        return None if self.gap is None else self.gap.uncertainty_mm

    @property
    def gap_points_px(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The gap's ends ``(pelvic (row, col), femoral (row, col))`` on the stored image;
        None when no gap was measured."""
        gap = self.gap
        return None if gap is None else (gap.pelvic_point_px, gap.femoral_point_px)

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict, as the README's *JSON record* describes a hip (``grade`` and
        ``brooker_class`` null, and ``not_graded`` the reason, for a hip found but not
        graded)."""
        gap = self.gap
        rec: dict[str, Any] = {
            "side": self.patient_side.value,
            "image_side": self.image_side.value,
            "grade": None if self.grade is None else int(self.grade),
            "brooker_class": None if self.grade is None else self.grade.roman,
            "gap_mm": None
            if gap is None
            else shown_gap_mm(float(gap.gap_mm), 2, self.gap_threshold_mm),
            "gap_uncertainty_mm": None if gap is None else round(float(gap.uncertainty_mm), 2),
            "gap_points_px": None
            if gap is None
            else [
                [round(float(v), 1) for v in gap.pelvic_point_px],
                [round(float(v), 1) for v in gap.femoral_point_px],
            ],
            # the femoral end on the femoral (or prosthetic) head, not the femur or a spur
            "gap_to_head": None if gap is None else bool(gap.to_head),
            "borderline": bool(self.borderline),
            "weak_call": bool(self.weak_call),
            "prosthesis": bool(self.prosthesis),
            "center_px": [round(float(v), 1) for v in self.center_px],
            "head_radius_mm": None
            if self.head_radius_mm is None
            else round(float(self.head_radius_mm), 1),
            "center_uncertainty_mm": round(float(self.center_uncertainty_mm), 2),
            "class_range": None
            if self.class_range is None
            else [self.class_range[0].roman, self.class_range[1].roman],
            "centres_graded": None
            if self.centres_graded is None
            else [int(self.centres_graded[0]), int(self.centres_graded[1])],
            "limited_by": list(self.limited_by),
            "fragments": [f.to_record() for f in self.fragments],
            "caveats": list(self.caveats),
        }
        if self.not_graded is not None:
            rec["not_graded"] = self.not_graded
        if self.gap_threshold_mm != BROOKER_GAP_THRESHOLD_MM:
            # graded on another class II/III boundary (the Python API's AnalysisConfig): said,
            # or a reader of the record sees a class III on a gap of 9 mm graded at 8 mm as
            # the 10 mm rule's mistake, and its borderline flag as wrong
            rec["gap_threshold_mm"] = float(self.gap_threshold_mm)
        return rec


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why an input could not be read."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class GradingResult:
    """Everything brooker concluded about one input file.

    ``status`` is ``ok`` (hips graded), ``ungradable`` (read, but nothing to grade: ``reason``)
    or ``error`` (could not be read or measured: ``error``). Serialise it with
    :meth:`to_record` (the JSON record); ``dataclasses.asdict`` keeps ``extra`` a read-only
    :class:`FrozenMapping`, which ``json`` does not take, and the masks as arrays.
    """

    file: str
    status: Status
    version: str
    hips: tuple[HipResult, ...] = ()
    spacing: PixelSpacing | None = None
    sop_instance_uid: str | None = None
    reason: str | None = None
    error: ErrorInfo | None = None
    caveats: tuple[str, ...] = ()
    overlay: str | None = None
    laterality_source: str | None = None
    image_shape_px: tuple[int, int] | None = None
    hip_candidates: tuple[HipCandidate, ...] = ()
    """Where the hip detector looked closest when no hip was found (for the overlay and the
    record: what was looked for)."""
    extra: Mapping[str, Any] = field(default_factory=FrozenMapping)
    """Keys added to the record (``input_sha256`` in batch runs); held read-only."""

    def __post_init__(self) -> None:
        if not isinstance(self.extra, FrozenMapping):
            object.__setattr__(self, "extra", FrozenMapping(self.extra))

    def to_record(self) -> dict[str, Any]:
        """One JSON-lines record, as the README's *JSON record* describes it (failures
        included)."""
        rec: dict[str, Any] = {"file": self.file, "status": self.status.value}
        if self.sop_instance_uid is not None:
            rec["sop_instance_uid"] = self.sop_instance_uid
        if self.spacing is not None:
            rec["spacing"] = self.spacing.to_record()
        rec["hips"] = [h.to_record() for h in self.hips]
        if self.hip_candidates:
            rec["hip_candidates"] = [
                {
                    "center_px": [round(float(v), 1) for v in c.center_px],
                    "score": round(float(c.score), 2),
                }
                for c in self.hip_candidates
            ]
        if self.reason is not None:
            rec["reason"] = self.reason
        if self.error is not None:
            rec["error"] = {"code": self.error.code, "message": self.error.message}
        if self.laterality_source is not None:
            rec["laterality_source"] = self.laterality_source
        rec["overlay"] = self.overlay
        rec["caveats"] = list(self.caveats)
        rec.update(self.extra)
        rec["version"] = self.version
        return rec
