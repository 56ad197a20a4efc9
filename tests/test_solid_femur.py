"""A dark trochanter (segmentation._solid_femur), on hand-drawn masks.

When the cancellous interior of the greater trochanter falls below the bone threshold (a
sigmoid tone curve, a soft-tissue level pulled up beside a shutter) what is left is a thin,
cracked ring of cortex. The first opening removes the ring from the femur body and the
pieces would be read as femoral spurs; filling the femur's enclosed holes keeps them body.
A spur standing out of the femur, and the gap between a spur and the pelvis, are left alone.
"""

from __future__ import annotations

import numpy as np

from brooker.config import AnalysisConfig
from brooker.segmentation import _edt_open, _solid_femur

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
    opened = _edt_open(skeleton, OPEN_MM, SAMPLING)
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
    _, solid = _bodies(skeleton, pelvis=_edt_open(pelvis, OPEN_MM, SAMPLING))
    pocket = (x > 49.0) & (x < 71.0) & (y > 32.0) & (y < 69.0)
    assert not (solid & pocket).any()
    assert not (solid & spur & (y < 65.0)).any()
