"""A native head's circle is placed between the analysis grid's whole pixels and radii.

The Hough transform (``localization._hough_circles``) finds circles at whole pixels and whole
radii of the 1 mm grid; ``localization._refine_circle`` then moves each by half a step along
row, column and radius to the neighbour its edges support best. Without it a head whose
outline lay between two grid radii could miss the support a fit needs.
"""

from __future__ import annotations

import numpy as np
import pytest

from brooker.localization import HEAD_REFINE_STEP_MM, _circle_support, _refine_circle


def _outline(row: float, col: float, radius: float, size: int = 121) -> np.ndarray:
    """A thin edge ring (no tolerance band): pixels within 0.75 px of the circle."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    return np.abs(np.hypot(yy - row, xx - col) - radius) <= 0.75


@pytest.mark.parametrize("start", [(60.0, 60.0, 25.0), (61.0, 61.0, 26.0), (60.0, 61.0, 25.0)])
def test_a_grid_circle_moves_onto_an_outline_between_the_grid_radii(
    start: tuple[float, float, float],
) -> None:
    edges = _outline(60.5, 60.5, 25.5)
    before = _circle_support(edges, *start)
    support, row, col, radius = _refine_circle(edges, *start, 0.5)
    assert (row, col, radius) == (60.5, 60.5, 25.5)
    assert support >= 0.95
    assert support > before + 0.2  # the grid circle misses much of the thin outline


def test_a_circle_already_on_its_outline_stays() -> None:
    edges = _outline(60.0, 60.0, 25.0)
    support, row, col, radius = _refine_circle(edges, 60.0, 60.0, 25.0, 0.5)
    assert (row, col, radius) == (60.0, 60.0, 25.0)
    assert support == _circle_support(edges, 60.0, 60.0, 25.0)


def test_the_step_is_half_a_millimetre() -> None:
    # half the analysis grid's 1 mm pitch: the Hough circles' own rounding
    assert HEAD_REFINE_STEP_MM == 0.5
