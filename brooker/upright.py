"""Films stored turned or upside down: analysed turned upright, reported on the film as stored.

A DICOM film's (0020,0020) Patient Orientation says where the patient's head is on the stored
pixels. The loader keeps the pixels as stored and says how to turn them upright
(:attr:`Radiograph.to_upright`, a :class:`~brooker.grid.GridTransform`, and a caveat):

* ``L\\H``, ``R\\H``: the column direction (the second value, down the image) is H, the head
  towards the last row: stored upside down (:attr:`Radiograph.upside_down`). Its rows are
  reversed (:func:`rows_reversed`), a mirror image, so the columns, the image halves and the
  patient's sides stay as stored.
* ``H\\R``, ``H\\L``, ``F\\R``, ``F\\L``: the rows run head-feet and the columns left-right:
  stored turned a quarter (:attr:`Radiograph.quarter_turned`). It is turned back a quarter, a
  rotation, never a mirror (:data:`~brooker.grid.QUARTER_ANTICLOCKWISE` when the head is
  towards the last column, :data:`~brooker.grid.QUARTER_CLOCKWISE` when towards the first),
  so an AP film turned either way (``H\\L``, ``F\\R``) is read as an AP film stored upright
  (``L\\F``), and ``H\\R``, ``F\\L`` as a PA one (``R\\F``). The image halves, ``image_side``
  and :attr:`Radiograph.patient_right_on`, are then those of the film turned upright: the
  stored film's halves are its top and bottom, which no ``left``/``right`` names. The patient's
  sides come from the orientation, on the film turned upright (:mod:`brooker.dicom_io`).

Hip localisation, and the anatomy every later step reads, expect the head at the top, so the
analysis (:mod:`brooker.pipeline`, and the ball, head and hip searches of the calibration in
:mod:`brooker.calibration`) reads a view of the film turned upright (:func:`upright_view`: no
copy of the pixels; a quarter turn swaps the spacing's ``row_mm`` and ``col_mm``) and maps
what it places on that view back to the stored pixels (:func:`result_turned`). So every
``*_px`` position in a record, in ``inspect`` and on the overlay, which is drawn on the film as
stored, refers to the file's own pixel grid, as for any other DICOM film.

Reversing the rows is its own inverse: row ``r`` of ``rows`` rows is row ``rows - 1 - r`` of
the other grid (pixel centres at integers), a half-open span ``[r0, r1)`` is
``[rows - r1, rows - r0)``. Columns, and so the image halves and the patient's sides, do not
change. An angle about a hip (``HipResult.search_region``: 0 up, 90 lateral, 180 down on the
image) becomes ``180 - angle``; under a quarter turn, the lateral side named by the hip's
``image_side`` as before, ``90 - angle`` or ``-90 - angle`` and so on
(:meth:`~brooker.grid.GridTransform.span_deg`): the region is drawn on the stored film where it
was searched. A hip candidate's ``lateral_left`` is of the film turned upright.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from brooker.grid import (
    IDENTITY,
    QUARTER_ANTICLOCKWISE,
    QUARTER_CLOCKWISE,
    ROWS_REVERSED,
    GridTransform,
)
from brooker.models import (
    CalibrationObject,
    Fragment,
    GapMeasurement,
    GradingResult,
    HipResult,
    ImageSide,
    PixelSpacing,
    Radiograph,
)

__all__ = [
    "PositionMap",
    "point_rows_reversed",
    "result_mapped",
    "result_rows_reversed",
    "result_turned",
    "rows_reversed",
    "spacing_turned",
    "stored_as",
    "turned",
    "upright_view",
]

Shape = tuple[int, ...]


#: How a film is stored, by the transform that turned an upright film into it
#: (:attr:`Radiograph.to_upright`'s inverse): ``inspect --json``'s ``stored``.
_STORED: dict[GridTransform, str] = {
    IDENTITY: "upright",
    ROWS_REVERSED: "upside_down",
    QUARTER_CLOCKWISE: "quarter_turned_clockwise",
    QUARTER_ANTICLOCKWISE: "quarter_turned_anticlockwise",
    GridTransform(flip_cols=True): "mirrored",
    GridTransform(flip_rows=True, flip_cols=True): "half_turned",
    GridTransform(transpose=True): "transposed",
    GridTransform(True, True, True): "transposed_across",
}


def stored_as(radiograph: Radiograph) -> str:
    """How ``radiograph`` is stored, as :attr:`~Radiograph.to_upright` turns it upright:
    ``"upright"``, ``"upside_down"`` (the head towards the last row), ``"quarter_turned_clockwise"``
    (towards the last column), ``"quarter_turned_anticlockwise"`` (the first column); the
    loader gives no other, a radiograph built in memory may (``"mirrored"``, ``"half_turned"``,
    ``"transposed"``, ``"transposed_across"``).
    """
    return _STORED[radiograph.to_upright.inverse]


def point_rows_reversed(point: tuple[float, float], rows: int) -> tuple[float, float]:
    """``(row, col)`` on a film of ``rows`` rows, on the same film with its rows reversed."""
    return (rows - 1 - point[0], point[1])


def _calibration(obj: CalibrationObject, t: GridTransform, shape: Shape) -> CalibrationObject:
    center = t.point(obj.center_px, shape)
    if not t.transpose:
        return replace(obj, center_px=center)
    # the diameter is in row pixels and the aspect column / row pitch: the rows' pitch is
    # the columns' on the other grid
    return replace(
        obj, center_px=center, diameter_px=obj.diameter_px / obj.aspect, aspect=1.0 / obj.aspect
    )


def spacing_turned(
    spacing: PixelSpacing | None, t: GridTransform, shape: Shape
) -> PixelSpacing | None:
    """``spacing`` of a film of ``shape``, on the film transformed by ``t``: its row and column
    pitches swapped by a transpose, its calibration objects' centres moved."""
    if spacing is None or (t.is_identity):
        return spacing
    if t.transpose:
        spacing = replace(spacing, row_mm=spacing.col_mm, col_mm=spacing.row_mm)
    if not spacing.calibration:
        return spacing
    objs = tuple(_calibration(obj, t, shape) for obj in spacing.calibration)
    return replace(spacing, calibration=objs)


def turned(radiograph: Radiograph, t: GridTransform) -> Radiograph:
    """``radiograph`` transformed by ``t``: the pixels a view (not a copy), the spacing and
    the calibration objects on the new grid, :attr:`~Radiograph.to_upright` from the new grid.
    The box inside a padding border (:attr:`~Radiograph.unpadded_px`) moves with the pixels.
    The image halves (:attr:`~Radiograph.patient_right_on`), which are those of the film turned
    upright, and the header (:attr:`~Radiograph.meta`: the stored rows and columns) stay."""
    if t.is_identity:
        return radiograph
    shape = radiograph.pixels.shape
    return replace(
        radiograph,
        pixels=t.apply(radiograph.pixels),
        spacing=spacing_turned(radiograph.spacing, t, shape),
        to_upright=t.inverse.then(radiograph.to_upright),
        unpadded_px=None
        if radiograph.unpadded_px is None
        else t.box(radiograph.unpadded_px, shape),
    )


def upright_view(radiograph: Radiograph) -> Radiograph:
    """``radiograph`` turned upright (:attr:`~Radiograph.to_upright`): itself when stored so."""
    return turned(radiograph, radiograph.to_upright)


def rows_reversed(radiograph: Radiograph) -> Radiograph:
    """``radiograph`` with its rows reversed: the pixels a view (not a copy),
    :attr:`~Radiograph.upside_down` the other way round, the calibration objects' centres on
    the reversed rows. Applied twice, it gives the radiograph back."""
    return turned(radiograph, ROWS_REVERSED)


class PositionMap(Protocol):
    """How positions on one pixel grid map onto another (:func:`result_mapped`): a turn
    (:class:`_Turned`) or a move (:class:`brooker.padding.Shifted`)."""

    def point(self, p: tuple[float, float]) -> tuple[float, float]: ...

    def box(self, b: tuple[int, int, int, int]) -> tuple[int, int, int, int]: ...

    def mask(self, m: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]: ...

    def span_deg(self, lo: float, hi: float, lateral: float) -> tuple[float, float]: ...

    def spacing(self, spacing: PixelSpacing | None) -> PixelSpacing | None: ...


@dataclass(frozen=True, slots=True)
class _Turned:
    """The positions of a film of ``shape`` on the film transformed by ``t``."""

    t: GridTransform
    shape: Shape

    def point(self, p: tuple[float, float]) -> tuple[float, float]:
        return self.t.point(p, self.shape)

    def box(self, b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return self.t.box(b, self.shape)

    def mask(self, m: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        return self.t.apply(m).copy()

    def span_deg(self, lo: float, hi: float, lateral: float) -> tuple[float, float]:
        return self.t.span_deg(lo, hi, lateral)

    def spacing(self, spacing: PixelSpacing | None) -> PixelSpacing | None:
        return spacing_turned(spacing, self.t, self.shape)


def _fragment(frag: Fragment, m: PositionMap) -> Fragment:
    return replace(
        frag,
        centroid_px=m.point(frag.centroid_px),
        bbox_px=m.box(frag.bbox_px),
        mask=m.mask(frag.mask),
    )


def _gap(gap: GapMeasurement | None, m: PositionMap) -> GapMeasurement | None:
    if gap is None:
        return None
    return replace(
        gap,
        pelvic_point_px=m.point(gap.pelvic_point_px),
        femoral_point_px=m.point(gap.femoral_point_px),
    )


def _hip(hip: HipResult, m: PositionMap) -> HipResult:
    region = hip.search_region
    if region is not None:
        inner_mm, outer_mm, lo_deg, hi_deg = region
        lateral = -1.0 if hip.image_side is ImageSide.LEFT else 1.0
        region = (inner_mm, outer_mm, *m.span_deg(lo_deg, hi_deg, lateral))
    return replace(
        hip,
        center_px=m.point(hip.center_px),
        gap=_gap(hip.gap, m),
        fragments=tuple(_fragment(f, m) for f in hip.fragments),
        search_region=region,
        body_outlines=tuple(
            replace(b, points_px=tuple(m.point(p) for p in b.points_px))
            for b in hip.body_outlines
        ),
    )


def result_mapped(result: GradingResult, m: PositionMap) -> GradingResult:
    """``result`` with every position it holds mapped by ``m``: the hips' centres, gap ends,
    fragments, bodies' edges and regions searched, the hip detector's candidates and the
    calibration objects (the one list of them, for :func:`result_turned` and
    :func:`brooker.padding.result_shifted`). ``image_side`` stays."""
    return replace(
        result,
        hips=tuple(_hip(h, m) for h in result.hips),
        hip_candidates=tuple(
            replace(c, center_px=m.point(c.center_px)) for c in result.hip_candidates
        ),
        spacing=m.spacing(result.spacing),
    )


def result_turned(result: GradingResult, t: GridTransform, shape: Shape) -> GradingResult:
    """``result``, found on a film of ``shape`` (rows, cols), with every position on the film
    transformed by ``t``: the hips' centres, gap ends, fragments, bodies' edges and regions
    searched, the hip detector's candidates and the calibration objects (and the spacing's
    pitches, swapped by a transpose). ``image_side`` stays: it names a half of the film turned
    upright."""
    if t.is_identity:
        return result
    return result_mapped(result, _Turned(t, shape))


def result_rows_reversed(result: GradingResult, rows: int) -> GradingResult:
    """``result``, found on a film of ``rows`` rows, with every position on the same film with
    its rows reversed: the hips' centres, gap ends, fragments, bodies' edges and regions
    searched, the hip detector's candidates and the calibration objects."""
    # the columns' count does not enter a reversal of the rows
    return result_turned(result, ROWS_REVERSED, (rows, 0))
