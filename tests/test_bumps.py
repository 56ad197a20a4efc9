"""Round spurs on the ilium's outline (segmentation._pelvic_bumps), on hand-drawn masks.

A knob on a long straight or concave edge is a spur even when it is wider than the first
opening's disk; a corner of normal bone, a knob too shallow to be a spur, a stretch of bone
narrower than the bump disk and anything outside the sector are not.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from brooker.config import AnalysisConfig
from brooker.imaging import edt_open
from brooker.segmentation import _pelvic_bumps

PITCH = 0.2  # mm
SHAPE = (700, 700)  # 140 mm square
CFG = AnalysisConfig()


def _grid() -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.indices(SHAPE)
    return rows * PITCH, cols * PITCH  # y, x in mm


def _disk(cy: float, cx: float, r: float) -> np.ndarray:
    y, x = _grid()
    return np.hypot(y - cy, x - cx) <= r


def _bumps(
    skeleton: np.ndarray, sector: np.ndarray | None = None, norm: np.ndarray | None = None
) -> np.ndarray:
    """``norm``: the image scaled to soft tissue 0, bone 1 (None: shape only)."""
    sampling = (PITCH, PITCH)
    # the pelvis body as segment_hip hands it over: what the first (6 mm) opening keeps
    inside = ndi.distance_transform_edt(skeleton, sampling=sampling)
    pelvis = edt_open(skeleton, CFG.spur_opening_radii_mm[0], sampling, inside)
    sector = np.ones(SHAPE, bool) if sector is None else sector
    return _pelvic_bumps(skeleton, inside, pelvis, sector, sampling, CFG, norm)


def _ilium(edge_x: float = 90.0) -> np.ndarray:
    """Bone left of a straight vertical edge at ``edge_x`` mm (90 mm wide)."""
    _, x = _grid()
    return x < edge_x


@pytest.mark.parametrize(("radius", "stand_out"), [(7.0, 5.0), (9.0, 9.0), (10.0, 14.0)])
def test_knob_on_a_straight_edge_is_a_bump(radius: float, stand_out: float) -> None:
    """Knobs wider than the 6 mm disk, half sunk in the ilium or standing out of it."""
    knob = _disk(70.0, 90.0 + stand_out - radius, radius)
    skeleton = _ilium() | knob
    bumps = _bumps(skeleton)
    outside = knob & ~_ilium()
    assert bumps.any()
    # the bump is the knob's part outside the ilium, nothing of the ilium's edge beside it
    assert (bumps & ~knob).sum() == 0
    assert (bumps & outside).sum() >= 0.8 * outside.sum()


def test_knob_in_a_concave_bay_is_a_bump() -> None:
    """A knob where the outline curves inward: a large disk reaches into the bay beside it."""
    bay = _disk(70.0, 150.0, 62.0)  # the edge bows 8 mm into the bone at row 70
    ilium = _ilium(96.0) & ~bay
    knob = _disk(70.0, 89.0, 8.0)
    bumps = _bumps(ilium | knob)
    outside = knob & ~ilium
    assert bumps.any()
    assert (bumps & ~knob).sum() == 0
    assert (bumps & outside).sum() >= 0.8 * outside.sum()


@pytest.mark.parametrize("angle_deg", [60.0, 90.0, 120.0])
def test_corner_of_bone_is_not_a_bump(angle_deg: float) -> None:
    """A convex corner (a wing's end, the acetabular margin) has no neck."""
    y, x = _grid()
    # a wedge with its apex at (70, 90) opening to the left, of the given angle
    half = np.radians(angle_deg / 2)
    ang = np.arctan2(y - 70.0, 90.0 - x)
    wedge = (x < 90.0) & (np.abs(ang) <= half)
    assert not _bumps(wedge).any()


def test_rounded_corner_is_not_a_bump() -> None:
    y, x = _grid()
    block = (x < 90.0) & (y > 40.0)
    rounded = block & ~((x > 80.0) & (y < 50.0) & ~_disk(50.0, 80.0, 10.0))
    assert not _bumps(rounded).any()


def test_shallow_knob_is_not_a_bump() -> None:
    """Standing out of the outline by less than spur_min_depth_mm (3 mm): not a spur."""
    knob = _disk(70.0, 90.0 + 2.0 - 9.0, 9.0)
    assert not _bumps(_ilium() | knob).any()


def test_bone_narrower_than_the_bump_disk_is_kept() -> None:
    """A column narrower than the disk (a small pelvis) is not a bump, whatever its outline."""
    y, x = _grid()
    top = y < 30.0
    bottom = y > 110.0
    column = (np.abs(x - 70.0) < 0.8 * CFG.pelvic_bump_radius_mm) & ~top & ~bottom
    notch = _disk(70.0, 70.0 + 0.8 * CFG.pelvic_bump_radius_mm + 3.0, 5.0)
    skeleton = top | bottom | (column & ~notch)
    assert not _bumps(skeleton).any()


def test_knob_outside_the_sector_is_ignored() -> None:
    knob = _disk(70.0, 90.0, 8.0)
    y, _ = _grid()
    assert _bumps(_ilium() | knob).any()
    assert not _bumps(_ilium() | knob, sector=y > 100.0).any()


def _lobe() -> np.ndarray:
    """A lobe of the outline (like the anterior inferior iliac spine): a notch above it, but
    below it the outline recedes at once, with no second concave turn."""
    from skimage.draw import polygon

    xs = np.array([0.0, 90.0, 90.0, 86.0, 97.0, 97.0, 60.0, 0.0])
    ys = np.array([0.0, 0.0, 62.0, 68.0, 74.0, 80.0, 139.0, 139.0])
    body = np.zeros(SHAPE, bool)
    rr, cc = polygon(ys / PITCH, xs / PITCH, SHAPE)
    body[rr, cc] = True
    return edt_open(body, 1.0, (PITCH, PITCH))  # round the corners a little


@pytest.mark.parametrize("island_beside", [False, True])
def test_lobe_with_one_neck_is_not_a_bump(island_beside: bool) -> None:
    """One concave turn is not a neck; an island lying beside the lobe does not make the
    second one (the closing that finds necks sees the pelvis's own outline only)."""
    skeleton = _lobe()
    if island_beside:
        skeleton = skeleton | _disk(90.0, 96.0, 2.5)  # 2.8 mm off the lower flank
    assert not _bumps(skeleton).any()


@pytest.mark.parametrize(("knob_density", "found"), [(0.6, True), (1.0, False)])
def test_knob_lying_over_the_ilium_is_denser_where_they_overlap(
    knob_density: float, found: bool
) -> None:
    """A separate piece of bone over the ilium's edge adds its density to the ilium's where
    they overlap; a knob as dense as the ilium and no denser over it is the ilium's own."""
    knob = _disk(70.0, 90.0 + 5.0 - 8.0, 8.0)
    ilium = _ilium()
    if found:  # superimposed: densities add
        norm = ilium * 1.0 + knob * knob_density
    else:  # one bone: the same density throughout
        norm = (ilium | knob) * 1.0
    assert bool(_bumps(ilium | knob, norm=norm.astype(np.float32)).any()) is found
