"""Parting the pelvis from the femur (segmentation.part_bodies), on hand-drawn masks.

The bodies are what an opening with a disk of the first radius leaves of the bone; a band of
bone at least that wide joining ilium and femur survives it, so larger disks are tried until
the two part, and what the larger disk removes between them is the bridge. Bodies that no
disk parts stay one piece (``unparted``): the hip's record then says a bridge may be missed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from brooker.segmentation import Parting, part_bodies

PITCH = 0.5  # mm
SHAPE = (300, 240)  # 150 x 120 mm
SAMPLING = (PITCH, PITCH)
RADII = (6.0, 9.0, 12.0, 16.0, 20.0)


def _scene(shaft_halfwidth_mm: float, band_halfwidth_mm: float) -> np.ndarray:
    """An ilium across the top (40 mm tall), a femoral shaft down to the bottom and, between
    the ilium and the shaft's top, a vertical band of bone of the given half-width."""
    y, x = np.indices(SHAPE) * PITCH
    ilium = y < 40.0
    shaft = (np.abs(x - 60.0) <= shaft_halfwidth_mm) & (y >= 90.0)
    band = (np.abs(x - 60.0) <= band_halfwidth_mm) & (y >= 40.0) & (y < 90.0)
    return ilium | shaft | band


def _part(skeleton: np.ndarray) -> Parting:
    y, _ = np.indices(SHAPE) * PITCH
    inside = ndi.distance_transform_edt(skeleton, sampling=SAMPLING)
    allowed = np.ones(SHAPE, bool)
    return part_bodies(skeleton, inside, allowed, y < 3.0, y > 147.0, RADII, SAMPLING)


def test_a_band_narrower_than_the_disk_leaves_the_bodies_apart() -> None:
    p = _part(_scene(shaft_halfwidth_mm=15.0, band_halfwidth_mm=4.0))
    assert not p.joined_at_base
    assert not p.unparted
    assert p.radius_mm == RADII[0]
    assert p.pelvis.any()
    assert p.femur.any()
    assert not (p.pelvis & p.femur).any()


def test_a_thick_band_is_parted_by_a_larger_disk_that_keeps_the_shaft() -> None:
    # band 14 mm wide: survives the 6 mm disk (12 mm across), not the 9 mm one; shaft 30 mm
    p = _part(_scene(shaft_halfwidth_mm=15.0, band_halfwidth_mm=7.0))
    assert p.joined_at_base
    assert not p.unparted
    assert p.radius_mm == 9.0
    assert p.pelvis.any()
    assert p.femur.any()
    assert not (p.pelvis & p.femur).any()
    y, x = np.indices(SHAPE) * PITCH
    band_middle = (np.abs(x - 60.0) <= 7.0) & (y > 55.0) & (y < 75.0)
    assert not ((p.pelvis | p.femur) & band_middle).any()  # what the disk removed: the bridge


def test_a_band_wider_than_every_disk_leaves_the_bodies_one_piece() -> None:
    # band 44 mm wide, shaft 50 mm: the 20 mm disk (40 mm across) keeps both
    p = _part(_scene(shaft_halfwidth_mm=25.0, band_halfwidth_mm=22.0))
    assert p.joined_at_base
    assert p.unparted
    assert p.radius_mm == RADII[-1]
    assert p.femur.any()
    assert np.array_equal(p.pelvis, p.femur)  # one piece
