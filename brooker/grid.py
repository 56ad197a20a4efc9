"""The eight ways a pixel grid can be turned or mirrored onto another (:class:`GridTransform`).

A transform is read as: transpose the grid (``transpose``), then reverse its rows
(``flip_rows``), then its columns (``flip_cols``). Each is a numpy view of the array it is
applied to (negative strides, no copy). A point ``(row, col)`` moves with its pixel (pixel
centres at integers), so row ``r`` of ``rows`` reversed is ``rows - 1 - r``. A direction on
the image given as an angle about a point (0 up, towards row 0; 90 towards the ``lateral``
side, the image's left for ``lateral = -1``, its right for ``+1``; 180 down) moves with the
grid too, the lateral side named as before (:meth:`GridTransform.span_deg`).

>>> import numpy as np
>>> a = np.arange(6).reshape(2, 3)
>>> QUARTER_CLOCKWISE.apply(a)
array([[3, 0],
       [4, 1],
       [5, 2]])
>>> QUARTER_CLOCKWISE.point((0.0, 0.0), a.shape)  # the top-left pixel goes top-right
(0.0, 1.0)
>>> QUARTER_CLOCKWISE.inverse == QUARTER_ANTICLOCKWISE
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALL_TRANSFORMS",
    "IDENTITY",
    "QUARTER_ANTICLOCKWISE",
    "QUARTER_CLOCKWISE",
    "ROWS_REVERSED",
    "GridTransform",
]

_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True, slots=True)
class GridTransform:
    """One of the 8 rotations and reflections of a pixel grid: ``transpose`` first, then
    ``flip_rows`` (rows reversed), then ``flip_cols`` (columns reversed)."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    @property
    def is_identity(self) -> bool:
        """Whether the grid is left as it is."""
        return not (self.transpose or self.flip_rows or self.flip_cols)

    @property
    def mirrors(self) -> bool:
        """Whether the transform is a reflection (a mirror image), not a rotation: the
        patient's sides swap against the film's own turn (rows reversed alone turns a film
        upside down *and* over)."""
        return (self.transpose + self.flip_rows + self.flip_cols) % 2 == 1

    @property
    def inverse(self) -> GridTransform:
        """The transform that undoes this one (a transpose swaps which flip comes first)."""
        if self.transpose:
            return GridTransform(True, self.flip_cols, self.flip_rows)
        return self

    def then(self, other: GridTransform) -> GridTransform:
        """This transform followed by ``other``, as one.

        >>> QUARTER_CLOCKWISE.then(QUARTER_CLOCKWISE) == GridTransform(False, True, True)
        True
        """
        # flips before a transpose are the other flips after it
        rows, cols = (self.flip_rows, self.flip_cols)
        if other.transpose:
            rows, cols = cols, rows
        return GridTransform(
            self.transpose != other.transpose, rows != other.flip_rows, cols != other.flip_cols
        )

    def apply(self, pixels: npt.NDArray[_T]) -> npt.NDArray[_T]:
        """``pixels`` (2-D, or more with the grid first) transformed: a view, not a copy."""
        out = pixels.swapaxes(0, 1) if self.transpose else pixels
        return out[:: -1 if self.flip_rows else 1, :: -1 if self.flip_cols else 1]

    def shape(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """The ``(rows, cols)`` of a grid of ``shape`` once transformed."""
        rows, cols = int(shape[0]), int(shape[1])
        return (cols, rows) if self.transpose else (rows, cols)

    def point(self, point: tuple[float, float], shape: tuple[int, ...]) -> tuple[float, float]:
        """``(row, col)`` on a grid of ``shape``, on the transformed grid."""
        r, c = point
        if self.transpose:
            r, c = c, r
        rows, cols = self.shape(shape)
        if self.flip_rows:
            r = rows - 1 - r
        if self.flip_cols:
            c = cols - 1 - c
        return (r, c)

    def box(
        self, bbox: tuple[int, int, int, int], shape: tuple[int, ...]
    ) -> tuple[int, int, int, int]:
        """A half-open box ``(row0, col0, row1, col1)`` on a grid of ``shape``, on the
        transformed grid (row ``[r0, r1)`` reversed is ``[rows - r1, rows - r0)``)."""
        r0, c0, r1, c1 = bbox
        if self.transpose:
            r0, c0, r1, c1 = c0, r0, c1, r1
        rows, cols = self.shape(shape)
        if self.flip_rows:
            r0, r1 = rows - r1, rows - r0
        if self.flip_cols:
            c0, c1 = cols - c1, cols - c0
        return (r0, c0, r1, c1)

    def direction(self, step: tuple[float, float]) -> tuple[float, float]:
        """A step ``(d_row, d_col)`` on the grid, on the transformed grid.

        >>> QUARTER_CLOCKWISE.direction((0.0, 1.0))  # rightwards goes downwards
        (1.0, -0.0)
        """
        dr, dc = step
        if self.transpose:
            dr, dc = dc, dr
        return (-dr if self.flip_rows else dr, -dc if self.flip_cols else dc)

    def span_deg(self, lo_deg: float, hi_deg: float, lateral: float) -> tuple[float, float]:
        """An arc of directions about a point, from ``lo_deg`` to ``hi_deg`` (0 up, 90 towards
        ``lateral``: -1 the image's left, +1 its right, 180 down), on the transformed grid,
        ``lateral`` the same side: rows reversed turn ``a`` into ``180 - a``, columns reversed
        into ``-a``, a transpose into ``-90 - a`` (lateral right) or ``90 - a`` (left). The
        arc keeps its width; it starts within (-180, 180], as found when already there.

        >>> ROWS_REVERSED.span_deg(0.0, 120.0, 1.0)
        (60.0, 180.0)
        """
        sign, offset = 1.0, 0.0
        # each step is angle -> k - angle; composed, angle -> sign * angle + offset
        steps = []
        if self.transpose:
            steps.append(-90.0 if lateral > 0 else 90.0)
        if self.flip_rows:
            steps.append(180.0)
        if self.flip_cols:
            steps.append(0.0)
        for k in steps:
            sign, offset = -sign, k - offset
        if not steps:
            return (lo_deg, hi_deg)
        a, b = (offset + sign * lo_deg, offset + sign * hi_deg)
        lo, hi = (a, b) if a <= b else (b, a)
        while lo > 180.0:
            lo, hi = lo - 360.0, hi - 360.0
        while lo <= -180.0:
            lo, hi = lo + 360.0, hi + 360.0
        return (lo, hi)

    @property
    def name(self) -> str:
        """What the transform does, in words (``"quarter turn clockwise"``)."""
        return _NAMES[self]


IDENTITY = GridTransform()
ROWS_REVERSED = GridTransform(flip_rows=True)
#: ``np.rot90(a, -1)``: the top-left pixel goes to the top-right.
QUARTER_CLOCKWISE = GridTransform(transpose=True, flip_cols=True)
#: ``np.rot90(a)``: the top-right pixel goes to the top-left.
QUARTER_ANTICLOCKWISE = GridTransform(transpose=True, flip_rows=True)
ALL_TRANSFORMS: tuple[GridTransform, ...] = tuple(
    GridTransform(t, r, c) for t in (False, True) for r in (False, True) for c in (False, True)
)
_NAMES: dict[Any, str] = {
    IDENTITY: "as it is",
    ROWS_REVERSED: "rows reversed",
    GridTransform(flip_cols=True): "columns reversed",
    GridTransform(flip_rows=True, flip_cols=True): "half turn",
    GridTransform(transpose=True): "transposed",
    QUARTER_CLOCKWISE: "quarter turn clockwise",
    QUARTER_ANTICLOCKWISE: "quarter turn anticlockwise",
    GridTransform(True, True, True): "transposed across the other diagonal",
}
