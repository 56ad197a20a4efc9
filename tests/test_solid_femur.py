"""A dark trochanter (segmentation._solid_femur), on hand-drawn masks.

When the cancellous interior of the greater trochanter falls below the bone threshold (a
sigmoid tone curve, a soft-tissue level pulled up beside a shutter) what is left is a thin,
cracked ring of cortex. The first opening removes the ring from the femur body and the
pieces would be read as femoral spurs; filling the femur's enclosed holes keeps them body.
A spur standing out of the femur, and the gap between a spur and the pelvis, are left alone.
The shutter's edge is outline: a trochanter cut by a shutter is enclosed by its ring and the
edge, and a crack running from the hole to the edge is closed whole.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from brooker.config import AnalysisConfig
from brooker.imaging import edt_open
from brooker.segmentation import _solid_femur

PITCH = 0.2  # mm
SHAPE = (800, 600)  # 160 x 120 mm
CFG = AnalysisConfig()
SAMPLING = (PITCH, PITCH)
OPEN_MM = CFG.spur_opening_radii_mm[0]


def _grid() -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.indices(SHAPE)
    return rows * PITCH, cols * PITCH


def _disk(cy: float, cx: float, r: float) -> np.ndarray:
    y, x = _grid()
    return np.hypot(y - cy, x - cx) <= r


def _femur_with_ring(cracks: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A femoral shaft below a trochanter whose interior is dark: a 2 mm ring with cracks.
    Returns (skeleton, trochanter ring)."""
    y, x = _grid()
    shaft = (np.abs(x - 60.0) < 15.0) & (y > 70.0)
    troch = _disk(60.0, 60.0, 16.0)
    ring = troch & ~_disk(60.0, 60.0, 14.0)
    for k in range(cracks):  # one-pixel radial cracks through the cortex
        ang = np.radians(100.0 + 70.0 * k)
        crack = (np.abs((x - 60.0) * np.sin(ang) - (y - 60.0) * np.cos(ang)) < 0.5 * PITCH) & (
            (x - 60.0) * np.cos(ang) + (y - 60.0) * np.sin(ang) > 0
        )
        ring &= ~crack
    interior_gone = troch & ~ring & ~shaft
    return (shaft | troch) & ~interior_gone, ring


def _bodies(skeleton: np.ndarray, pelvis: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    allowed = np.ones(SHAPE, bool)
    in_field = np.ones(SHAPE, bool)
    opened = edt_open(skeleton, OPEN_MM, SAMPLING)
    y, _ = _grid()
    femur = opened & (y > 70.0)  # the shaft: what reaches the bottom
    pelvis = np.zeros(SHAPE, bool) if pelvis is None else pelvis
    solid = _solid_femur(skeleton, femur, pelvis, allowed, in_field, OPEN_MM, SAMPLING, CFG)
    return femur, solid


def test_cracked_ring_of_a_dark_trochanter_is_femur() -> None:
    skeleton, ring = _femur_with_ring()
    femur, solid = _bodies(skeleton)
    # the first opening lost the ring: its pieces would have been femoral spurs
    assert (ring & ~femur).sum() > 0.5 * ring.sum()
    assert (ring & ~solid).sum() < 0.05 * ring.sum()


def test_spur_on_a_filled_trochanter_still_stands_out() -> None:
    skeleton, _ = _femur_with_ring()
    y, x = _grid()
    spur = (np.abs(x - 60.0) < 2.0) & (y > 20.0) & (y < 46.0)  # rises 14 mm above the ring
    _, solid = _bodies(skeleton | spur)
    outside = spur & ~_disk(60.0, 60.0, 16.5)  # half a millimetre of rounding at its base
    assert not (outside & solid).any()


def test_pocket_against_the_pelvis_is_not_filled() -> None:
    """Soft tissue enclosed by the femur and the pelvis is the gap of a spur: it stays open."""
    y, x = _grid()
    shaft = (np.abs(x - 60.0) < 15.0) & (y > 70.0)
    pelvis = (y < 30.0) & (x > 20.0)
    # a femoral spur curving up to 1.5 mm under the pelvis, closing a pocket with it
    spur = (np.abs(x - 46.0) < 3.0) & (y > 31.5) & (y < 75.0)
    cap = (np.abs(x - 74.0) < 3.0) & (y > 31.5) & (y < 75.0)
    skeleton = shaft | pelvis | spur | cap
    _, solid = _bodies(skeleton, pelvis=edt_open(pelvis, OPEN_MM, SAMPLING))
    pocket = (x > 49.0) & (x < 71.0) & (y > 32.0) & (y < 69.0)
    assert not (solid & pocket).any()
    assert not (solid & spur & (y < 65.0)).any()


def _cut_by_shutter(
    skeleton: np.ndarray, edge_mm: float, short_mm: float
) -> tuple[np.ndarray, ...]:
    """The bone lateral to ``edge_mm`` is behind a shutter, and the bone mask stops ``short_mm``
    before the field's edge (the shutter's blurred edge lowers the bone there)."""
    y, x = _grid()
    in_field = x < edge_mm
    skeleton = skeleton & (x < edge_mm - short_mm)
    lab, _ = ndi.label(edt_open(skeleton, OPEN_MM, SAMPLING))
    femur = np.isin(lab, np.unique(lab[(y > 75.0) & (lab > 0)]))  # what reaches the shaft
    allowed = np.ones(SHAPE, bool)
    pelvis = np.zeros(SHAPE, bool)
    solid = _solid_femur(skeleton, femur, pelvis, allowed, in_field, OPEN_MM, SAMPLING, CFG)
    return skeleton, femur, solid


def test_dark_trochanter_cut_by_a_shutter_is_femur() -> None:
    """The interior reaches the field's edge, and a sliver of soft tissue between the bone and
    the edge runs down along the shaft to the border: closed like any other crack, it leaves
    the interior enclosed by the ring and the edge."""
    skeleton, ring = _femur_with_ring(cracks=0)
    skeleton, femur, solid = _cut_by_shutter(skeleton, edge_mm=73.0, short_mm=0.4)
    ring &= skeleton
    assert (ring & ~femur).sum() > 0.5 * ring.sum()
    assert (ring & ~solid).sum() < 0.05 * ring.sum()


def test_crack_from_the_hole_to_the_field_edge_is_closed_whole() -> None:
    """A crack through a thick cortex joins the dark interior to the field's edge: all of it is
    the femur's, not only the part next to the hole. What was left of it cut off the corner
    between the trochanter's top and the shutter, which the reopening took for a spur."""
    y, x = _grid()
    troch = _disk(60.0, 60.0, 16.0)
    shaft = (np.abs(x - 60.0) < 15.0) & (y > 70.0)
    ring = troch & ~_disk(60.0, 60.0, 8.0)
    crack = (np.abs(y - 56.0) < 0.5 * PITCH) & (x > 60.0)  # 5 mm long, out to the edge
    skeleton = (shaft | ring) & ~crack
    skeleton, femur, solid = _cut_by_shutter(skeleton, edge_mm=72.0, short_mm=0.0)

    def largest_piece_mm2(body: np.ndarray) -> float:
        lab, _ = ndi.label(skeleton & ~body)
        return float(np.bincount(lab.ravel())[1:].max(initial=0)) * PITCH * PITCH

    assert largest_piece_mm2(femur) >= CFG.min_fragment_area_mm2  # the dark interior's ring
    assert largest_piece_mm2(solid) < CFG.min_fragment_area_mm2


def test_a_ring_cracked_only_at_pixel_corners_is_one_candidate() -> None:
    """Candidates are 8-connected (:mod:`brooker.fragments`): a thin ring whose cracks are
    one-pixel diagonal lines (its pieces meet at their corners) is one ring of 12 mm2 or more,
    not pieces under it, and is filled as the trochanter it is."""
    y, x = _grid()
    shaft = (np.abs(x - 60.0) < 15.0) & (y > 70.0)
    ring = _disk(60.0, 60.0, 16.0) & ~_disk(60.0, 60.0, 15.0)  # 1 mm of cortex, ~100 mm2
    rows, cols = np.indices(SHAPE)
    step = round(5.0 / PITCH)  # diagonal cracks 5 mm apart: pieces under 12 mm2
    cracks = ((rows - cols) % step == 0) | ((rows + cols) % step == 0)
    skeleton = shaft | (ring & ~cracks & ~shaft)
    femur, solid = _bodies(skeleton)
    pieces = ring & skeleton & ~femur
    assert ndi.label(pieces, structure=np.ones((3, 3), bool))[1] < ndi.label(pieces)[1]
    assert (pieces & ~solid).sum() < 0.05 * pieces.sum()
