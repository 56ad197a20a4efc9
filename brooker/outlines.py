"""Where the bone segmentation put the pelvis and the femur: the edges of their bodies inside
the region searched for heterotopic bone, as polylines on the stored image
(:attr:`brooker.models.HipResult.body_outlines`), for the overlay.

A fragment is a spur because it is attached to a body, a gap ends on a body, and a hip whose
femur body begins far below the head is not graded for a spur: all of that rests on the
bodies (:func:`brooker.segmentation.part_hip`), which the overlay did not show. Their edges
are what a reader needs to check it: a pelvis body running out over the soft tissue, a
trochanter that is not part of the femur, a drawn-in spur swallowed by the body it grows
from.

Only the bodies' own edges are drawn: where a body meets the segmentation's cuts (the joint
left out, the medial wedge, the region's and the ROI's borders, the margin kept from a
collimator shutter's edge) the outline stops, for those edges are the tool's geometry, not
the bone's. Where a body meets a spur attached to it, its edge runs on around the spur's
base (the spur is outlined in its own colour over it).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from skimage.measure import find_contours

from brooker.imaging import simplified_polyline
from brooker.models import BodyOutline
from brooker.segmentation import BoolImage, HipMasks

#: A body's edge this many ROI pixels or fewer from the border of the region searched is the
#: cut of that region, not the body's own edge (the joint's disk, the sector's rays).
CUT_MARGIN_PX = 2
#: Outlines are simplified to within this many ROI pixels (0.4 mm at the working pitch): the
#: pixels' staircase is smoothed out, the edge's course is not (the dots drawn along it are
#: further apart than this on every overlay).
OUTLINE_TOLERANCE_PX = 0.7
#: A stretch of edge shorter than this, mm, between two cuts is left out: a corner of a cut.
MIN_STRETCH_MM = 2.0


def body_outlines(masks: HipMasks) -> tuple[BodyOutline, ...]:
    """The pelvis and femur bodies' own edges inside ``masks.sector``, pelvis first.

    A body's outline is traced on the ROI's pixel edges (the 0.5 level of its mask) and cut
    where it comes within :data:`CUT_MARGIN_PX` of the border of the sector (or of the exposed
    field, ``masks.in_field``, where a shutter crosses it); each stretch left,
    of at least :data:`MIN_STRETCH_MM`, is one :class:`BodyOutline` in stored-image
    coordinates.
    """
    sector = masks.sector
    rows = np.flatnonzero(sector.any(axis=1))
    if not rows.size:
        return ()
    cols = np.flatnonzero(sector.any(axis=0))
    # the sector's box, one pixel larger on each side (within the ROI): everything drawn lies
    # in it, and what lies outside it is read as no sector (a cut, as the ROI's border is)
    r0, r1 = max(0, int(rows[0]) - 1), min(sector.shape[0], int(rows[-1]) + 2)
    c0, c1 = max(0, int(cols[0]) - 1), min(sector.shape[1], int(cols[-1]) + 2)
    box = sector[r0:r1, c0:c1]
    if masks.in_field is not None:
        # bone stops short of a collimator shutter's edge: no edge of the bone's own
        box = box & masks.in_field[r0:r1, c0:c1]
    out: list[BodyOutline] = []
    for name, body in (("pelvis", masks.pelvis), ("femur", masks.femur)):
        part = body[r0:r1, c0:c1]
        if not (part & box).any():
            continue
        padded = np.pad(part.astype(np.float32), 1)
        for contour in find_contours(padded, 0.5):
            # box coordinates for the cut, ROI coordinates for the stored image
            for stretch in _stretches(contour - 1.0, box, masks.spacing_mm):
                poly = simplified_polyline(stretch, OUTLINE_TOLERANCE_PX)
                points = tuple(masks.to_image(float(r) + r0, float(c) + c0) for r, c in poly)
                out.append(BodyOutline(name, points))
    return tuple(out)


#: The pixels within CUT_MARGIN_PX steps of a pixel (row, column offsets): a diamond, the
#: reach of that many erosions by the 4-neighbourhood.
_REACH = np.array(
    [(dr, dc) for dr in range(-CUT_MARGIN_PX, CUT_MARGIN_PX + 1)
     for dc in range(-CUT_MARGIN_PX, CUT_MARGIN_PX + 1) if abs(dr) + abs(dc) <= CUT_MARGIN_PX],
    dtype=np.intp,
)  # fmt: skip


def _clear_of_cut(rc: npt.NDArray[np.float64], sector: npt.NDArray[np.bool_]) -> BoolImage:
    """Whether each edge point of ``rc`` ((n, 2)) lies with both pixels it runs between at
    least :data:`CUT_MARGIN_PX` steps inside ``sector`` (outside the array is no sector): the
    sector eroded that many times, read at the points only."""
    h, w = sector.shape
    keep = np.ones(len(rc), dtype=bool)
    for px in (np.floor(rc).astype(np.intp), np.ceil(rc).astype(np.intp)):
        for dr, dc in _REACH:
            r, c = px[:, 0] + dr, px[:, 1] + dc
            inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            keep &= inside
            keep[inside] &= sector[r[inside], c[inside]]
    return keep


def _stretches(
    rc: npt.NDArray[np.float64], sector: npt.NDArray[np.bool_], spacing_mm: tuple[float, float]
) -> list[npt.NDArray[np.float64]]:
    """The runs of the outline ``rc`` ((n, 2) coordinates on ``sector``'s grid, closed when
    its ends meet) clear of the sector's cut (:func:`_clear_of_cut`), each at least
    :data:`MIN_STRETCH_MM` long."""
    keep = _clear_of_cut(rc, sector)
    if not keep.any():
        return []
    closed = len(rc) > 2 and bool(np.all(rc[0] == rc[-1]))
    if keep.all():
        runs = [rc]
    else:
        if closed:
            # start the walk at a point left out, so that no run is split at the seam
            start = int(np.argmin(keep[:-1]))
            rc = np.concatenate([rc[start:-1], rc[: start + 1]])
            keep = np.concatenate([keep[start:-1], keep[: start + 1]])
        edges = np.diff(np.concatenate([[0], keep.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        runs = [rc[a:b] for a, b in zip(starts, ends, strict=True)]
    scale = np.asarray(spacing_mm, dtype=np.float64)
    return [
        run
        for run in runs
        if len(run) >= 2
        and float(np.hypot(*(np.diff(run, axis=0) * scale).T).sum()) >= MIN_STRETCH_MM
    ]
