"""The 8 rotations and reflections of a pixel grid (brooker.grid): their point, box and angle
maps agree with the pixels they move and invert."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brooker.grid import (
    ALL_TRANSFORMS,
    IDENTITY,
    QUARTER_ANTICLOCKWISE,
    QUARTER_CLOCKWISE,
    ROWS_REVERSED,
    GridTransform,
)

transforms = st.sampled_from(ALL_TRANSFORMS)
shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))


@given(transforms, shapes, st.data())
def test_a_point_maps_back_where_it_was(
    t: GridTransform, shape: tuple[int, int], data: st.DataObject
) -> None:
    r = data.draw(st.floats(-0.5, shape[0] - 0.5))
    c = data.draw(st.floats(-0.5, shape[1] - 0.5))
    there = t.point((r, c), shape)
    back = t.inverse.point(there, t.shape(shape))
    assert back == pytest.approx((r, c), abs=1e-9)


@given(transforms, shapes, st.data())
def test_a_pixel_moves_with_its_point(
    t: GridTransform, shape: tuple[int, int], data: st.DataObject
) -> None:
    grid = np.arange(shape[0] * shape[1]).reshape(shape)
    moved = t.apply(grid)
    assert moved.shape == t.shape(shape)
    assert np.shares_memory(moved, grid)  # a view
    r = data.draw(st.integers(0, shape[0] - 1))
    c = data.draw(st.integers(0, shape[1] - 1))
    rr, cc = t.point((float(r), float(c)), shape)
    assert moved[int(rr), int(cc)] == grid[r, c]
    np.testing.assert_array_equal(t.inverse.apply(moved), grid)


@given(transforms, transforms, shapes)
def test_composition_is_one_then_the_other(
    a: GridTransform, b: GridTransform, shape: tuple[int, int]
) -> None:
    grid = np.arange(shape[0] * shape[1]).reshape(shape)
    np.testing.assert_array_equal(a.then(b).apply(grid), b.apply(a.apply(grid)))
    assert a.then(a.inverse) == IDENTITY


@given(transforms, shapes, st.data())
def test_a_box_covers_the_same_pixels(
    t: GridTransform, shape: tuple[int, int], data: st.DataObject
) -> None:
    r0 = data.draw(st.integers(0, shape[0] - 1))
    r1 = data.draw(st.integers(r0 + 1, shape[0]))
    c0 = data.draw(st.integers(0, shape[1] - 1))
    c1 = data.draw(st.integers(c0 + 1, shape[1]))
    mask = np.zeros(shape, dtype=bool)
    mask[r0:r1, c0:c1] = True
    b0, d0, b1, d1 = t.box((r0, c0, r1, c1), shape)
    expected = np.zeros(t.shape(shape), dtype=bool)
    expected[b0:b1, d0:d1] = True
    np.testing.assert_array_equal(t.apply(mask), expected)
    assert t.inverse.box((b0, d0, b1, d1), t.shape(shape)) == (r0, c0, r1, c1)


def _step(angle_deg: float, lateral: float) -> tuple[float, float]:
    """The unit step ``(d_row, d_col)`` of an angle: 0 up, 90 towards ``lateral``."""
    t = math.radians(angle_deg)
    return (-math.cos(t), lateral * math.sin(t))


@given(
    transforms,
    st.sampled_from([-1.0, 1.0]),
    st.floats(-200.0, 200.0),
    st.floats(0.0, 300.0),
)
def test_an_arc_of_directions_turns_with_the_grid(
    t: GridTransform, lateral: float, lo: float, width: float
) -> None:
    """Each direction of the arc, turned with the grid, is a direction of the turned arc, at
    the same place along it (from one end or the other), and the arc maps back."""
    lo2, hi2 = t.span_deg(lo, lo + width, lateral)
    assert hi2 - lo2 == pytest.approx(width, abs=1e-9)
    # the identity leaves the arc as it is, any other starts it within (-180, 180]
    assert (lo2, hi2) == (lo, lo + width) if t.is_identity else -180.0 < lo2 <= 180.0
    d_lo, d_hi = (t.direction(_step(a, lateral)) for a in (lo, lo + width))
    s_lo, s_hi = _step(lo2, lateral), _step(hi2, lateral)
    assert (_near(d_lo, s_lo) and _near(d_hi, s_hi)) or (_near(d_lo, s_hi) and _near(d_hi, s_lo))
    mid = t.direction(_step(lo + width / 2, lateral))
    assert _near(mid, _step((lo2 + hi2) / 2, lateral))
    back = t.inverse.span_deg(lo2, hi2, lateral)
    assert (back[0] - lo) % 360.0 == pytest.approx(0.0, abs=1e-9) or (
        back[0] - lo
    ) % 360.0 == pytest.approx(360.0, abs=1e-9)
    assert back[1] - back[0] == pytest.approx(width, abs=1e-9)


def _near(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return math.dist(a, b) < 1e-9


def test_the_named_transforms() -> None:
    a = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(QUARTER_CLOCKWISE.apply(a), np.rot90(a, -1))
    np.testing.assert_array_equal(QUARTER_ANTICLOCKWISE.apply(a), np.rot90(a))
    np.testing.assert_array_equal(ROWS_REVERSED.apply(a), a[::-1])
    assert len(set(ALL_TRANSFORMS)) == 8
    assert {t.name for t in ALL_TRANSFORMS} == {
        "as it is",
        "rows reversed",
        "columns reversed",
        "half turn",
        "transposed",
        "quarter turn clockwise",
        "quarter turn anticlockwise",
        "transposed across the other diagonal",
    }
    assert [t.mirrors for t in (IDENTITY, ROWS_REVERSED, QUARTER_CLOCKWISE)] == [
        False,
        True,
        False,
    ]


def test_rows_reversed_turns_an_angle_as_before() -> None:
    """``180 - angle``, exactly: the positions of films stored upside down stay as they were."""
    assert ROWS_REVERSED.span_deg(-30.0, 150.0, -1.0) == (180.0 - 150.0, 180.0 - -30.0)
    assert ROWS_REVERSED.point((2.25, 7.5), (10, 20)) == (10 - 1 - 2.25, 7.5)
