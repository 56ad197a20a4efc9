"""Parting the pelvis from the femur (segmentation.part_bodies, part_hip), on hand-drawn masks.

The bodies are what an opening with a disk of the first radius leaves of the bone; a band of
bone at least that wide joining ilium and femur survives it, so larger disks are tried until
the two part, and what the larger disk removes between them is the bridge. Bodies that no
disk parts stay one piece (``unparted``): the hip's record then says a bridge may be missed.
A disk that wipes out the femoral shaft (or the pelvis) parts nothing. When no disk parts the
bodies, ``part_hip`` tries again with the joint cut out first (a bridge hugging the head).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from brooker.config import AnalysisConfig
from brooker.segmentation import Parting, _solid_femur, part_bodies, part_hip

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


def test_a_retry_that_parts_nothing_returns_the_first_parting() -> None:
    # the band of the test above, 44 mm wide, with the joint cut out (a disk of 27 mm in the
    # ilium's corner, away from the band): the retry leaves the band whole too
    skeleton = _scene(shaft_halfwidth_mm=25.0, band_halfwidth_mm=22.0)
    y, x = np.indices(SHAPE) * PITCH
    allowed = np.hypot(x - 20.0, y - 20.0) > 27.0
    inside = ndi.distance_transform_edt(skeleton, sampling=SAMPLING)
    args = (skeleton, inside, allowed, y < 3.0, y > 147.0, RADII, SAMPLING)
    first, p = part_bodies(*args), part_hip(*args)
    assert first.unparted
    assert p.unparted
    assert not p.joint_cut
    assert p.skeleton is skeleton
    assert np.array_equal(p.pelvis, first.pelvis)
    assert np.array_equal(p.femur, first.femur)


def test_a_disk_that_wipes_out_the_shaft_parts_nothing() -> None:
    # band 22 mm wide, shaft 20 mm: the 9 mm disk (18 mm across) keeps both joined; the 12 mm
    # disk (24 mm across) removes the band but the whole shaft with it. No femur body is left
    # to be parted from: the bodies stay one piece, as the 9 mm disk left them
    p = _part(_scene(shaft_halfwidth_mm=10.0, band_halfwidth_mm=11.0))
    assert p.joined_at_base
    assert p.unparted
    assert p.radius_mm == 9.0
    assert p.femur.any()
    assert np.array_equal(p.pelvis, p.femur)


def test_a_disk_that_wipes_out_the_pelvis_parts_nothing() -> None:
    # a narrow ilium (30 mm wide) joined to a 50 mm femur by a band as wide, 20 mm tall (with
    # the femur one mass wider than every disk): the 16 mm
    # disk (32 mm across) removes the band and the whole ilium with it. No pelvis body is left
    # to be parted from: the bodies stay one piece, as the 12 mm disk left them (it counted as
    # parted, with no pelvis at all, and the ilium became one "femoral spur")
    y, x = np.indices(SHAPE) * PITCH
    ilium = (y < 45.0) & (x >= 20.0) & (x < 50.0)
    femur = (y >= 55.0) & (x >= 20.0) & (x < 70.0)
    band = (y >= 40.0) & (y < 60.0) & (x >= 20.0) & (x < 70.0)
    p = _part(ilium | femur | band)
    assert p.joined_at_base
    assert p.unparted
    assert p.radius_mm == 12.0
    assert p.pelvis.any()
    assert np.array_equal(p.pelvis, p.femur)


def _hip_scene() -> tuple[np.ndarray, np.ndarray]:
    """An ilium across the top, a femur from the bottom (its top 58 mm wide, to x 98 mm), a
    head between them (radius 24 mm at x 60, y 70; the joint excluded to 27 mm) and a vertical
    band of bone from x 70 to 98 mm joining ilium and femur over the head's lateral side: with
    the head it is one mass wider than the largest disk; beyond the exclusion it is 11 mm wide
    at its narrowest (y 70), wider above and below. Returns (skeleton, allowed)."""
    y, x = np.indices(SHAPE) * PITCH
    r = np.hypot(x - 60.0, y - 70.0)
    ilium = y < 46.0
    femur = (x >= 40.0) & (x <= 98.0) & (y >= 95.0)
    head = r <= 24.0
    band = (x >= 70.0) & (x <= 98.0) & (y >= 40.0) & (y <= 100.0)
    return ilium | femur | head | band, r > 27.0


def test_a_bridge_hugging_the_head_is_parted_with_the_joint_cut_out() -> None:
    skeleton, allowed = _hip_scene()
    y, x = np.indices(SHAPE) * PITCH
    inside = ndi.distance_transform_edt(skeleton, sampling=SAMPLING)
    args = (skeleton, inside, allowed, y < 3.0, y > 147.0, RADII, SAMPLING)
    assert part_bodies(*args).unparted  # opened with the head in it: never parted
    p = part_hip(*args)
    assert p.joined_at_base
    assert not p.unparted
    assert p.joint_cut
    assert p.pelvis.any()
    assert p.femur.any()
    assert not (p.pelvis & p.femur).any()
    band_middle = (x >= 88.0) & (np.abs(y - 70.0) <= 1.0)  # its narrowest
    assert (skeleton & band_middle).any()
    assert not ((p.pelvis | p.femur) & band_middle).any()  # the band is left as the bridge


def test_a_hip_without_a_bridge_beside_the_head_is_parted_as_before() -> None:
    skeleton, allowed = _hip_scene()
    y, x = np.indices(SHAPE) * PITCH
    skeleton &= ~((x >= 70.0) & (np.hypot(x - 60.0, y - 70.0) > 24.0) & (y >= 46.0) & (y < 95.0))
    inside = ndi.distance_transform_edt(skeleton, sampling=SAMPLING)
    args = (skeleton, inside, allowed, y < 3.0, y > 147.0, RADII, SAMPLING)
    first, p = part_bodies(*args), part_hip(*args)
    assert not first.unparted
    for a, b in zip(
        (first.pelvis, first.femur, first.radius_mm, first.joined_at_base, first.unparted,
         first.joint_cut),
        (p.pelvis, p.femur, p.radius_mm, p.joined_at_base, p.unparted, p.joint_cut),
        strict=True,
    ):
        assert np.array_equal(a, b)


def test_the_steps_after_a_retry_reopen_the_cut_skeleton() -> None:
    """A hollow in the femur of a hip parted by the retry is filled as on any hip: the parting
    hands on the cut skeleton, and the solid-femur step reopened on the uncut one would rejoin
    femur and pelvis through the head and leave the hollow's wall as a spur."""
    skeleton, allowed = _hip_scene()
    y, x = np.indices(SHAPE) * PITCH
    skeleton &= ~((x >= 50.0) & (x <= 58.0) & (y >= 120.0) & (y <= 130.0))  # the hollow
    inside = ndi.distance_transform_edt(skeleton, sampling=SAMPLING)
    p = part_hip(skeleton, inside, allowed, y < 3.0, y > 147.0, RADII, SAMPLING)
    assert not p.unparted
    assert np.array_equal(p.skeleton, skeleton & allowed)
    assert p.joint_cut
    field = np.ones(SHAPE, bool)
    wall = skeleton & allowed & ~(p.pelvis | p.femur) & (y > 100.0)
    assert wall.any()  # the hollow's thin walls, cut from the body by the opening
    solid = _solid_femur(p.skeleton, p.femur, p.pelvis, allowed, field, p.radius_mm, SAMPLING,
                         AnalysisConfig())  # fmt: skip
    assert (wall & ~solid).sum() < 0.05 * wall.sum()
    uncut = _solid_femur(skeleton, p.femur, p.pelvis, allowed, field, p.radius_mm, SAMPLING,
                         AnalysisConfig())  # fmt: skip
    assert (wall & ~uncut).sum() > 0.5 * wall.sum()  # what happened before


def _thin_wing_scene() -> tuple[np.ndarray, np.ndarray]:
    """A thin iliac wing across the top (to y 10 mm), tied to the ilium over the joint (y 20 to
    60 mm) by a link 6 mm wide that the 6 mm disk (12 mm across) removes; a femoral shaft from
    y 100 mm to the bottom; and an 8 mm wide bridge from the ilium down to the shaft. Returns
    (skeleton, roof probe): the probe 10 mm tall right above where a joint would be excluded."""
    y, x = np.indices(SHAPE) * PITCH
    wing = y < 10.0
    link = (np.abs(x - 100.0) <= 3.0) & (y >= 10.0) & (y < 20.0)
    ilium = (y >= 20.0) & (y < 60.0)
    shaft = (np.abs(x - 60.0) <= 15.0) & (y >= 100.0)
    bridge = (np.abs(x - 60.0) <= 4.0) & (y >= 60.0) & (y < 100.0)
    roof = (y >= 45.0) & (y < 55.0) & (np.abs(x - 30.0) <= 12.0)
    return wing | link | ilium | shaft | bridge, roof


def test_the_ilium_over_the_joint_is_pelvis_when_the_opening_cuts_its_link_to_the_top() -> None:
    skeleton, roof = _thin_wing_scene()
    y, x = np.indices(SHAPE) * PITCH
    inside = ndi.distance_transform_edt(skeleton, sampling=SAMPLING)
    allowed = np.ones(SHAPE, bool)
    args = (skeleton, inside, allowed, y < 3.0, y > 147.0, RADII, SAMPLING)
    ilium = (y >= 22.0) & (y < 58.0)
    bridge_middle = (np.abs(x - 60.0) <= 4.0) & (np.abs(y - 80.0) <= 1.0)
    # the top strip alone finds only the wing: the ilium and the bridge below it are one
    # candidate, not a pelvis body and a bridge
    top_only = part_bodies(*args)
    assert not (top_only.pelvis & ilium).any()
    for p in (part_bodies(*args, roof_probe=roof), part_hip(*args, roof_probe=roof)):
        assert not p.joined_at_base
        assert (p.pelvis & ilium).sum() > 0.9 * ilium.sum()
        assert (p.pelvis & (y < 3.0)).any()  # the wing stays pelvis too
        assert p.femur.any()
        assert not (p.pelvis & p.femur).any()
        assert (skeleton & bridge_middle).any()
        assert not ((p.pelvis | p.femur) & bridge_middle).any()  # left as the bridge
