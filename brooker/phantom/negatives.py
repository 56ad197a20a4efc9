"""Hard negatives on a pelvis film: bright or dark things that are not heterotopic bone.

Bowel gas, phleboliths, skin staples and cerclage wires (:mod:`.implants`), a calibration ball,
a lead marker, burned-in text and collimation, all from the seed's ``negatives`` stream, drawn
in that order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brooker.phantom.anatomy import _HipGeom
from brooker.phantom.geometry import _smooth_open, _Waves
from brooker.phantom.implants import _cerclage, _skin_staples
from brooker.phantom.scene import MU_CORT, MU_STEEL, MU_TRAB, MU_WATER, _Group, _Scene
from brooker.phantom.shapes import _Blob, _harm, _Shape, _Tube
from brooker.phantom.specs import PhantomSpec, _rng


def _add_negatives(
    spec: PhantomSpec, scene: _Scene, geoms: dict[str, _HipGeom], k: float, hw0: float
) -> None:
    """Add the hard negatives ``spec`` asks for to ``scene``: groups, world items (ball,
    marker, text) and the collimation."""
    rng = _rng(spec.seed, "negatives")
    groups = scene.groups
    if spec.bowel_gas:
        groups.append(_bowel_gas(rng, k))
    if spec.phleboliths:
        groups.append(_phleboliths(rng, k))
    for side, g in geoms.items():
        if spec.staples and (g.cut is not None or rng.random() < 0.7 or side == "right"):
            groups.append(_skin_staples(rng, g, side))
        if spec.cerclage and (g.cut is not None or side == "right"):
            groups.append(_cerclage(rng, g, side))
    if spec.calibration_ball:
        _add_calibration_balls(rng, spec, scene, k, hw0)
    if spec.marker:
        scene.world_items.append(_marker(rng))
    if spec.burned_text:
        scene.world_items.append(_burned_text(rng))
    if spec.collimation:
        scene.collimation = _collimation(rng, scene.field_hw)


def _bowel_gas(rng: np.random.Generator, k: float) -> _Group:
    """2-8 gas bubbles over the sacrum and iliac wings, and often a loop of colon."""
    gas: list[_Shape] = []
    for _ in range(int(rng.integers(2, 9))):
        c = (rng.uniform(-90, 90) * k, rng.uniform(-150, -20) * k)
        a = rng.uniform(6, 26)
        gas.append(
            _Blob(
                c[0],
                c[1],
                a,
                a * rng.uniform(0.4, 0.9),
                angle=rng.uniform(0, np.pi),
                depth=a * rng.uniform(0.6, 1.2),
                cortex=0.0,
                harmonics=_harm(rng, 4, 0.12),
            )
        )
    if rng.random() < 0.6:  # a loop of colon with gas
        p0 = np.array([rng.uniform(-80, 80), rng.uniform(-150, -60)]) * k
        pts = p0 + np.cumsum(rng.normal(0, 22, (6, 2)), axis=0)
        gas.append(
            _Tube(
                _smooth_open(pts, 30),
                rng.uniform(8, 18),
                cortex=0.0,
                wobble=_Waves.make(rng, 6, 8, 20),
                wobble_amp=0.25,
            )
        )
    return _Group("gas", gas, MU_WATER, MU_WATER, texture=0.0, kind="gas", role="gas")


def _phleboliths(rng: np.random.Generator, k: float) -> _Group:
    """2-6 small pelvic vein calcifications beside the bladder."""
    ph: list[_Shape] = []
    for _ in range(int(rng.integers(2, 7))):
        c = (rng.choice([-1, 1]) * rng.uniform(20, 60) * k, rng.uniform(-10, 45) * k)
        r = rng.uniform(1.5, 3.5)
        ph.append(_Blob(c[0], c[1], r, r * rng.uniform(0.8, 1.0), depth=r, cortex=r * 0.5))
    return _Group(
        "phleboliths", ph, MU_CORT * 1.2, MU_TRAB * 0.5, texture=0.0, role="calcification"
    )


def _add_calibration_balls(
    rng: np.random.Generator, spec: PhantomSpec, scene: _Scene, k: float, hw0: float
) -> None:
    """A 25 mm (x 0.95-1.05) steel ball between the thighs or beside the pelvis, or the spec's
    balls; each one a group and a world item."""
    scale = rng.uniform(0.95, 1.05)
    r = 12.5 * scale
    where = rng.random()
    if where < 0.5:
        c = (rng.uniform(-15, 15), rng.uniform(95, 140) * k)
    else:
        s = rng.choice([-1, 1])
        c = (s * (hw0 + rng.uniform(95, 120)), rng.uniform(-40, 60))
    if spec.ball_diameter_mm is not None:
        r = spec.ball_diameter_mm / 2
    for bc in spec.ball_centers_mm or (c,):
        scene.groups.append(
            _Group(
                "ball",
                [_Blob(float(bc[0]), float(bc[1]), r, r, depth=r, cortex=0)],
                MU_STEEL,
                MU_STEEL,
                0.0,
                "metal",
                "",
                "calibration_ball",
            )
        )
        scene.world_items.append(
            {
                "kind": "calibration_ball",
                "center_local": bc,
                "diameter_mm": 2 * r,
                "nominal_mm": 25.0,
            }
        )


def _marker(rng: np.random.Generator) -> dict[str, Any]:
    """A lead R or L in a corner, 12-22 mm tall, often on a holder."""
    letter = str(rng.choice(["R", "L"]))
    return {
        "kind": "marker",
        "letter": letter,
        "corner": int(rng.integers(0, 4)),
        "size_mm": rng.uniform(12, 22),
        "holder": bool(rng.random() < 0.6),
    }


def _burned_text(rng: np.random.Generator) -> dict[str, Any]:
    """Four lines of text in a corner (projection, position, exposure, SYNTHETIC)."""
    return {
        "kind": "text",
        "corner": int(rng.integers(0, 4)),
        "lines": [
            "AP PELVIS",
            rng.choice(["SUPINE", "STANDING", "PORTABLE"]),
            f"{int(rng.integers(65, 90))} kV  {int(rng.integers(8, 40))} mAs",
            "SYNTHETIC",
        ],
    }


def _collimation(
    rng: np.random.Generator, field_hw: tuple[float, float]
) -> tuple[float, float, float, float, float]:
    """Collimator margins (top, left, bottom, right; 2-10 % of the field) and rotation."""
    fh, fw = field_hw
    return (
        rng.uniform(0.02, 0.10) * fh,
        rng.uniform(0.02, 0.10) * fw,
        rng.uniform(0.02, 0.10) * fh,
        rng.uniform(0.02, 0.10) * fw,
        math.radians(rng.uniform(-2.5, 2.5)),
    )
