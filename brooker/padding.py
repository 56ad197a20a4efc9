"""Films padded to a fixed plate size: the analysis reads the film inside its padding border.

An export padded to a fixed plate size (or to a square, for a printer or a viewer) surrounds the
exposed image with a border of one grey level that (0028,0120) Pixel Padding Value declares
(PS3.3 C.7.5.1.1.2; with (0028,0121) Pixel Padding Range Limit, every stored value from the one
to the other). The border is no part of the patient, but left in it counts in the film's
grey-level statistics (its median, its brightest value: a MONOCHROME1 film padded with its
stored 0 has, once inverted, its border as the brightest thing on it), and it moves the film's
pixels under the blocks of the 1 mm analysis grid, which the hip finding and the judges read:
the same film, padded, had its hips found elsewhere (by up to 39 stored pixels on the team's
real films, with a false class IV and a native head flagged as metal), as a film cropped a
pixel does (README, *What it cannot see*).

So the loader finds the whole rows and columns at the film's edges that hold padding only
(:func:`unpadded_box`, on the stored values, before any LUT), and keeps the box inside them
(:attr:`~brooker.models.Radiograph.unpadded_px`). The analysis reads that box as the film
(:func:`cropped`: the same pixels as the film exported without its border, so the same grid,
hips and grades) and gives every position it reports on the stored pixels
(:func:`result_shifted`), as for a film stored turned (:mod:`brooker.upright`): the record,
``inspect`` and the overlay, which shows the film as stored, border and all, name the file's
own pixels. Padding inside the box (a field that is not a rectangle, the corners of a rotated
one) is left as it is: it reads as the darkest grey, as a collimator's shadow does. The
calibration options (``--ball-mm``, ``--head-mm``, ``--estimate-spacing``) search the box too
(:func:`brooker.calibration.calibrate`). The box holds every pixel that is not padding, so a
film whose own first or last rows or columns hold the padding value loses them with the border.

>>> import numpy as np
>>> pad = np.ones((6, 8), bool)
>>> pad[1:5, 2:7] = False  # the exposed image; a padding pixel inside it stays
>>> pad[2, 3] = True
>>> unpadded_box(pad)
(1, 2, 5, 7)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from brooker.errors import ImageTooSmallError
from brooker.models import (
    Fragment,
    GapMeasurement,
    GradingResult,
    HipCandidate,
    HipResult,
    PixelSpacing,
    Radiograph,
)
from brooker.units import MIN_FIELD_SIDE_MM, MIN_IMAGE_SIDE_PX

__all__ = [
    "check_box",
    "cropped",
    "padding_mask",
    "result_shifted",
    "spacing_shifted",
    "unpadded_box",
]

Box = tuple[int, int, int, int]
Offset = tuple[int, int]


def padding_mask(
    stored: npt.NDArray[Any], value: int, limit: int | None = None
) -> npt.NDArray[np.bool_]:
    """Where the stored values are padding: equal to ``value``, or between ``value`` and
    ``limit`` (either way round, both included) when a Pixel Padding Range Limit is given."""
    if limit is None or limit == value:
        return np.asarray(stored == value)
    lo, hi = min(value, limit), max(value, limit)
    return np.asarray((stored >= lo) & (stored <= hi))


def unpadded_box(is_padding: npt.NDArray[np.bool_]) -> Box | None:
    """The half-open box ``(row0, col0, row1, col1)`` left once the whole rows and columns at
    the edges that are padding only are taken away: the smallest box that holds every pixel
    that is not padding. None when there are none, or when the whole film is padding (then
    there is nothing else to read, and the film is read as stored)."""
    rows = np.flatnonzero(~is_padding.all(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(~is_padding.all(axis=0))
    box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
    return None if box == (0, 0, *is_padding.shape) else box


def _moved(point: tuple[float, float], offset: Offset) -> tuple[float, float]:
    return (point[0] + offset[0], point[1] + offset[1])


def spacing_shifted(spacing: PixelSpacing | None, offset: Offset) -> PixelSpacing | None:
    """``spacing`` with its calibration objects' centres moved by ``offset`` (rows, cols)."""
    if spacing is None or not spacing.calibration:
        return spacing
    objs = tuple(replace(o, center_px=_moved(o.center_px, offset)) for o in spacing.calibration)
    return replace(spacing, calibration=objs)


def cropped(radiograph: Radiograph) -> Radiograph:
    """The film inside its padding border (:attr:`~brooker.models.Radiograph.unpadded_px`):
    its pixels a copy of the box (as the film exported without the border holds them), its
    calibration objects' centres on the box. ``radiograph`` itself when it has no border."""
    box = radiograph.unpadded_px
    if box is None:
        return radiograph
    r0, c0, r1, c1 = box
    return replace(
        radiograph,
        pixels=np.ascontiguousarray(radiograph.pixels[r0:r1, c0:c1]),
        spacing=spacing_shifted(radiograph.spacing, (-r0, -c0)),
        unpadded_px=None,
    )


def check_box(radiograph: Radiograph) -> None:
    """Refuse a film whose image inside its padding border is too small to show a hip, as
    :func:`brooker.dicom_io.check_gradable` refuses a small film, saying it is the box.

    Raises
    ------
    ImageTooSmallError
        Fewer than :data:`~brooker.units.MIN_IMAGE_SIDE_PX` pixels, or less than
        :data:`~brooker.units.MIN_FIELD_SIDE_MM`, on a side of the box.
    """
    box = radiograph.unpadded_px
    if box is None:
        return
    r0, c0, r1, c1 = box
    rows, cols = r1 - r0, c1 - c0
    where = (
        f"the image inside its border of (0028,0120) Pixel Padding Value (rows {r0}-{r1 - 1}, "
        f"columns {c0}-{c1 - 1}) is {rows} x {cols} pixels"
    )
    if min(rows, cols) < MIN_IMAGE_SIDE_PX:
        raise ImageTooSmallError(
            f"{where}: fewer than {MIN_IMAGE_SIDE_PX} pixels on a side cannot show a hip",
            radiograph.meta.path,
        )
    sp = radiograph.spacing
    if sp is not None and min(rows * sp.row_mm, cols * sp.col_mm) < MIN_FIELD_SIDE_MM:
        raise ImageTooSmallError(
            f"{where}, {rows * sp.row_mm:.1f} x {cols * sp.col_mm:.1f} mm: less than "
            f"{MIN_FIELD_SIDE_MM:g} mm on a side cannot show a hip",
            radiograph.meta.path,
        )


def _fragment(frag: Fragment, offset: Offset) -> Fragment:
    r0, c0, r1, c1 = frag.bbox_px
    dr, dc = offset
    return replace(
        frag,
        centroid_px=_moved(frag.centroid_px, offset),
        bbox_px=(r0 + dr, c0 + dc, r1 + dr, c1 + dc),
    )


def _gap(gap: GapMeasurement | None, offset: Offset) -> GapMeasurement | None:
    if gap is None:
        return None
    return replace(
        gap,
        pelvic_point_px=_moved(gap.pelvic_point_px, offset),
        femoral_point_px=_moved(gap.femoral_point_px, offset),
    )


def _hip(hip: HipResult, offset: Offset) -> HipResult:
    return replace(
        hip,
        center_px=_moved(hip.center_px, offset),
        gap=_gap(hip.gap, offset),
        fragments=tuple(_fragment(f, offset) for f in hip.fragments),
    )


def _candidate(cand: HipCandidate, offset: Offset) -> HipCandidate:
    return replace(cand, center_px=_moved(cand.center_px, offset))


def result_shifted(result: GradingResult, offset: Offset) -> GradingResult:
    """``result``, found on a box of the film whose first pixel is ``offset`` (row, col) of
    the stored film, with every position on the stored film: the hips' centres, gap ends and
    fragments (their masks cover their boxes, which move with them), the hip detector's
    candidates and the calibration objects. Angles (the regions searched) do not change."""
    if offset == (0, 0):
        return result
    return replace(
        result,
        hips=tuple(_hip(h, offset) for h in result.hips),
        hip_candidates=tuple(_candidate(c, offset) for c in result.hip_candidates),
        spacing=spacing_shifted(result.spacing, offset),
    )
