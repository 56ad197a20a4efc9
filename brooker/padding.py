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
(:func:`brooker.calibration.calibrate`). The declared border's box holds every pixel that is
not padding, so a film whose own first or last rows or columns hold the padding value loses
them with the border (as it would exported without it: a line of one value goes, below); a
border of the film's own inside it, of another value, goes too (below).

A border no element declares is as common: an export that pads without writing (0028,0120), a
PNG letterboxed to a square, a strip of unexposed detector written as one level (six of the
team's 30 real films have one, 4 to 48 columns wide). Without the element, or when it cannot
be read or finds no border, the loader takes off the whole edge rows and columns each holding
one value (:func:`uniform_border_box`; :attr:`~brooker.models.Radiograph.padding_declared` is
then False), and inside a declared border it takes off such lines too. A line of one value
shows nothing of the patient whatever its value; where noise or lossy compression leaves a
line of a border uneven (JPEG's ringing next to the film), the cut stops there and the rest is
read as film.

>>> import numpy as np
>>> pad = np.ones((6, 8), bool)
>>> pad[1:5, 2:7] = False  # the exposed image; a padding pixel inside it stays
>>> pad[2, 3] = True
>>> unpadded_box(pad)
(1, 2, 5, 7)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from brooker.models import GradingResult, PixelSpacing, Radiograph
from brooker.upright import result_mapped

__all__ = [
    "Shifted",
    "border_of",
    "border_said",
    "box_said",
    "cropped",
    "inside_border",
    "padding_mask",
    "result_shifted",
    "uniform_border_box",
    "unpadded_box",
    "unpadded_view",
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


def uniform_border_box(values: npt.NDArray[Any]) -> Box | None:
    """The box inside a border that no element declares: the whole rows and columns at the
    edges each of which holds one value only (an export padded to a plate size or a square
    without (0028,0120), a PNG letterboxed, a film's own strip of unexposed detector written
    as one level, one such border inside another). None when there is no such border, or when
    no row or no column is left (the film is one value throughout, or each of its rows is).

    A line of one value shows nothing of the patient, whatever its value. The sides are taken
    in turn until none changes, so a border of one value on the top and another on the sides
    is found whole. A line of a single pixel is not taken (it would always be one value).

    >>> import numpy as np
    >>> film = np.arange(30).reshape(5, 6)
    >>> film[0], film[:, 5] = 0, 255  # a top row of 0, a right column of 255
    >>> uniform_border_box(film)
    (1, 0, 5, 5)
    """
    rows, cols = values.shape
    r0, c0, r1, c1 = 0, 0, rows, cols

    def blank(line: npt.NDArray[Any]) -> bool:
        return line.size >= 2 and bool((line == line[0]).all())

    changed = True
    while changed:
        changed = False
        while r0 < r1 and blank(values[r0, c0:c1]):
            r0, changed = r0 + 1, True
        while r0 < r1 and blank(values[r1 - 1, c0:c1]):
            r1, changed = r1 - 1, True
        while c0 < c1 and r0 < r1 and blank(values[r0:r1, c0]):
            c0, changed = c0 + 1, True
        while c0 < c1 and r0 < r1 and blank(values[r0:r1, c1 - 1]):
            c1, changed = c1 - 1, True
    if r0 >= r1 or c0 >= c1:
        return None
    box = (r0, c0, r1, c1)
    return None if box == (0, 0, rows, cols) else box


def border_of(radiograph: Radiograph) -> tuple[str, ...]:
    """What the border around :attr:`~brooker.models.Radiograph.unpadded_px` is
    (:attr:`~brooker.models.Radiograph.border_by`; for a radiograph built in memory that does
    not say, what :attr:`~brooker.models.Radiograph.padding_declared` says), ``()`` without
    one."""
    if radiograph.unpadded_px is None:
        return ()
    if radiograph.border_by:
        return radiograph.border_by
    return ("padding",) if radiograph.padding_declared else ("one value",)


def border_said(by: tuple[str, ...], dicom: bool = True) -> str:
    """What a border around :attr:`~brooker.models.Radiograph.unpadded_px` is, in words:
    ``by`` is :func:`border_of` the film; an image file has no DICOM tags to name.

    >>> border_said(("padding", "one value"))
    '(0028,0120) Pixel Padding Value and, inside it, one value'
    >>> border_said(("one value",), dicom=False)
    'one value'
    """
    if by[:1] == ("padding",):
        said = "(0028,0120) Pixel Padding Value"
        return said + " and, inside it, one value" if len(by) > 1 else said
    return "one value (no Pixel Padding Value declares it)" if dicom else "one value"


def box_said(radiograph: Radiograph) -> str:
    """The image inside a film's border, in words, for a message that refuses it: what the
    border is, where the box is and its size (:attr:`~brooker.models.Radiograph.unpadded_px`;
    the whole film, without one)."""
    if radiograph.unpadded_px is None:
        rows, cols = radiograph.pixels.shape
        return f"the image is {rows} x {cols} pixels"
    r0, c0, r1, c1 = radiograph.unpadded_px
    said = border_said(border_of(radiograph), bool(radiograph.meta.transfer_syntax_uid))
    return (
        f"the image inside its border of {said} (rows {r0}-{r1 - 1}, columns {c0}-{c1 - 1}) "
        f"is {r1 - r0} x {c1 - c0} pixels"
    )


def unpadded_view(
    radiograph: Radiograph, values: npt.NDArray[Any] | None = None
) -> npt.NDArray[Any]:
    """The pixels inside the padding border (a view, no copy); all of them without one.
    ``values``: another array on the stored pixels' grid (a mask of the film), cut alike."""
    of = radiograph.pixels if values is None else values
    if radiograph.unpadded_px is None:
        return of
    r0, c0, r1, c1 = radiograph.unpadded_px
    return of[r0:r1, c0:c1]


@dataclass(frozen=True, slots=True)
class Shifted:
    """The positions on a box of a film, on the film: moved by ``offset`` (rows, cols), the
    box's first pixel. A fragment's mask covers its box and moves with it; angles stay."""

    offset: Offset

    def point(self, p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] + self.offset[0], p[1] + self.offset[1])

    def box(self, b: Box) -> Box:
        dr, dc = self.offset
        return (b[0] + dr, b[1] + dc, b[2] + dr, b[3] + dc)

    def mask(self, m: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        return m

    def span_deg(self, lo: float, hi: float, lateral: float) -> tuple[float, float]:
        return (lo, hi)

    def spacing(self, spacing: PixelSpacing | None) -> PixelSpacing | None:
        """``spacing`` with its calibration objects' centres moved."""
        if spacing is None or not spacing.calibration:
            return spacing
        objs = tuple(replace(o, center_px=self.point(o.center_px)) for o in spacing.calibration)
        return replace(spacing, calibration=objs)


def cropped(radiograph: Radiograph) -> Radiograph:
    """The film inside its padding border (:attr:`~brooker.models.Radiograph.unpadded_px`):
    its pixels a copy of the box (as the film exported without the border holds them), its
    calibration objects' centres on the box. ``radiograph`` itself when it has no border."""
    box = radiograph.unpadded_px
    if box is None:
        return radiograph
    return replace(
        radiograph,
        pixels=np.ascontiguousarray(unpadded_view(radiograph)),
        spacing=Shifted((-box[0], -box[1])).spacing(radiograph.spacing),
        unpadded_px=None,
        padding_declared=False,
        border_by=(),
    )


def inside_border(radiograph: Radiograph) -> tuple[Radiograph, Offset]:
    """The film the analysis reads (:func:`cropped`) and where its first pixel lies on the
    stored film, ``(0, 0)`` without a border: a stored position is the analysed one plus it.
    For scripts that run the analysis' steps on a loaded film (the training scripts), so
    that they read the pixels grading reads."""
    box = radiograph.unpadded_px
    return cropped(radiograph), (0, 0) if box is None else (box[0], box[1])


def result_shifted(result: GradingResult, offset: Offset) -> GradingResult:
    """``result``, found on a box of the film whose first pixel is ``offset`` (row, col) of
    the stored film, with every position on the stored film
    (:func:`brooker.upright.result_mapped`)."""
    if offset == (0, 0):
        return result
    return result_mapped(result, Shifted(offset))
