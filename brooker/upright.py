"""Films stored upside down: analysed turned upright, reported on the film as stored.

A DICOM film whose (0020,0020) Patient Orientation gives H as the direction of its columns
(the second value, down the image: ``L\\H``, ``R\\H``; the patient's head towards the last
row) is stored upside down. The loader keeps its pixels as stored and says so
(:attr:`Radiograph.upside_down`, and a caveat). Hip localisation, and the anatomy every later
step reads, expect the head at the top, so the analysis (:mod:`brooker.pipeline`, and the
native heads of ``--estimate-spacing`` in :mod:`brooker.calibration`) reads a view of the film
with its rows reversed (:func:`rows_reversed`: no copy of the pixels) and maps what it places
on that view back to the stored rows (:func:`result_rows_reversed`). So every ``*_px``
position in a record, in ``inspect`` and on the overlay, which is drawn on the film as stored,
refers to the file's own pixel grid, as for any other DICOM film.

Reversing the rows is its own inverse: row ``r`` of ``rows`` rows is row ``rows - 1 - r`` of
the other grid (pixel centres at integers), a half-open span ``[r0, r1)`` is
``[rows - r1, rows - r0)``. Columns, and so the image halves and the patient's sides, do not
change. An angle about a hip (``HipResult.search_region``: 0 up, 90 lateral, 180 down on the
image) becomes ``180 - angle``.
"""

from __future__ import annotations

from dataclasses import replace

from brooker.models import (
    Fragment,
    GapMeasurement,
    GradingResult,
    HipCandidate,
    HipResult,
    PixelSpacing,
    Radiograph,
)

__all__ = ["point_rows_reversed", "result_rows_reversed", "rows_reversed"]


def point_rows_reversed(point: tuple[float, float], rows: int) -> tuple[float, float]:
    """``(row, col)`` on a film of ``rows`` rows, on the same film with its rows reversed."""
    return (rows - 1 - point[0], point[1])


def _spacing(spacing: PixelSpacing | None, rows: int) -> PixelSpacing | None:
    if spacing is None or not spacing.calibration:
        return spacing
    objs = tuple(
        replace(obj, center_px=point_rows_reversed(obj.center_px, rows))
        for obj in spacing.calibration
    )
    return replace(spacing, calibration=objs)


def rows_reversed(radiograph: Radiograph) -> Radiograph:
    """``radiograph`` with its rows reversed: the pixels a view (not a copy),
    :attr:`~Radiograph.upside_down` the other way round, the calibration objects' centres on
    the reversed rows. Applied twice, it gives the radiograph back."""
    rows = radiograph.pixels.shape[0]
    return replace(
        radiograph,
        pixels=radiograph.pixels[::-1],
        spacing=_spacing(radiograph.spacing, rows),
        upside_down=not radiograph.upside_down,
    )


def _fragment(frag: Fragment, rows: int) -> Fragment:
    r0, c0, r1, c1 = frag.bbox_px
    return replace(
        frag,
        centroid_px=point_rows_reversed(frag.centroid_px, rows),
        bbox_px=(rows - r1, c0, rows - r0, c1),
        mask=frag.mask[::-1].copy(),
    )


def _gap(gap: GapMeasurement | None, rows: int) -> GapMeasurement | None:
    if gap is None:
        return None
    return replace(
        gap,
        pelvic_point_px=point_rows_reversed(gap.pelvic_point_px, rows),
        femoral_point_px=point_rows_reversed(gap.femoral_point_px, rows),
    )


def _hip(hip: HipResult, rows: int) -> HipResult:
    region = hip.search_region
    if region is not None:
        inner_mm, outer_mm, lo_deg, hi_deg = region
        region = (inner_mm, outer_mm, 180.0 - hi_deg, 180.0 - lo_deg)
    return replace(
        hip,
        center_px=point_rows_reversed(hip.center_px, rows),
        gap=_gap(hip.gap, rows),
        fragments=tuple(_fragment(f, rows) for f in hip.fragments),
        search_region=region,
    )


def _candidate(cand: HipCandidate, rows: int) -> HipCandidate:
    return replace(cand, center_px=point_rows_reversed(cand.center_px, rows))


def result_rows_reversed(result: GradingResult, rows: int) -> GradingResult:
    """``result``, found on a film of ``rows`` rows, with every position on the same film with
    its rows reversed: the hips' centres, gap ends, fragments and regions searched, the hip
    detector's candidates and the calibration objects."""
    return replace(
        result,
        hips=tuple(_hip(h, rows) for h in result.hips),
        hip_candidates=tuple(_candidate(c, rows) for c in result.hip_candidates),
        spacing=_spacing(result.spacing, rows),
    )
