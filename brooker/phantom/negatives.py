"""Hard negatives on a pelvis film: bright or dark things that are not heterotopic bone.

Bowel gas, phleboliths, skin staples, cerclage wires, a calibration ball, a lead marker,
burned-in text and collimation, all from the seed's ``negatives`` stream.
"""

from __future__ import annotations

import math

import numpy as np

from brooker.phantom.anatomy import _HipGeom
from brooker.phantom.geometry import _bezier, _smooth_open, _Waves
from brooker.phantom.scene import MU_CORT, MU_STEEL, MU_TRAB, MU_WATER, _Group, _Scene
from brooker.phantom.shapes import _Blob, _harm, _Shape, _Tube
from brooker.phantom.specs import PhantomSpec, _rng


def _add_negatives(
    spec: PhantomSpec, scene: _Scene, geoms: dict[str, _HipGeom], k: float, hw0: float
) -> None:
    rng = _rng(spec.seed, "negatives")
    groups = scene.groups
    if spec.bowel_gas:
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
        groups.append(_Group("gas", gas, MU_WATER, MU_WATER, texture=0.0, kind="gas", role="gas"))
    if spec.phleboliths:
        ph: list[_Shape] = []
        for _ in range(int(rng.integers(2, 7))):
            c = (rng.choice([-1, 1]) * rng.uniform(20, 60) * k, rng.uniform(-10, 45) * k)
            r = rng.uniform(1.5, 3.5)
            ph.append(_Blob(c[0], c[1], r, r * rng.uniform(0.8, 1.0), depth=r, cortex=r * 0.5))
        groups.append(
            _Group(
                "phleboliths", ph, MU_CORT * 1.2, MU_TRAB * 0.5, texture=0.0, role="calcification"
            )
        )
    for side, g in geoms.items():
        sgn = g.sgn
        if spec.staples and (g.cut is not None or rng.random() < 0.7 or side == "right"):
            st: list[_Shape] = []
            top = g.gt_center + np.array([sgn * rng.uniform(25, 45), -rng.uniform(60, 90)])
            bot = g.gt_center + np.array([sgn * rng.uniform(20, 40), rng.uniform(60, 120)])
            n = int(np.hypot(*(bot - top)) // rng.uniform(9, 14))
            for i in range(n + 1):
                p = top + (bot - top) * i / max(n, 1) + rng.normal(0, 1.0, 2)
                d = (bot - top) / np.hypot(*(bot - top))
                perp = np.array([-d[1], d[0]])
                w = rng.uniform(3, 4.5)
                leg = rng.uniform(1.5, 3) * d
                a, b = p - perp * w, p + perp * w
                st.append(
                    _Tube(np.stack([a - leg, a, b, b - leg]), 0.35, cortex=5, depth_scale=2.0)
                )
            groups.append(
                _Group(f"staples_{side}", st, MU_STEEL, MU_STEEL, 0.0, "metal", side, "staples")
            )
        if spec.cerclage and (g.cut is not None or side == "right"):
            cw: list[_Shape] = []
            f_top = g.neck_base
            for _ in range(int(rng.integers(1, 4))):
                along = rng.uniform(35, 110)
                centre = f_top - g.shaft_up * along
                half_w = g.shaft_r * 1.08
                tilt = rng.uniform(-0.15, 0.15)
                p1 = centre - g.lat_perp * half_w + g.shaft_up * tilt * half_w
                p2 = centre + g.lat_perp * half_w - g.shaft_up * tilt * half_w
                mid = 0.5 * (p1 + p2) - g.shaft_up * rng.uniform(-3, 3)
                cw.append(
                    _Tube(_bezier(p1, mid, p2, 8), rng.uniform(0.5, 0.8), cortex=5, depth_scale=3.0)
                )
                kn = p2 if rng.random() < 0.5 else p1
                cw.append(_Blob(kn[0], kn[1], 2.5, 1.8, depth=2.0, cortex=5))
            groups.append(
                _Group(f"cerclage_{side}", cw, MU_STEEL, MU_STEEL, 0.0, "metal", side, "cerclage")
            )
    if spec.calibration_ball:
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
            groups.append(
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
    if spec.marker:
        letter = str(rng.choice(["R", "L"]))
        scene.world_items.append(
            {
                "kind": "marker",
                "letter": letter,
                "corner": int(rng.integers(0, 4)),
                "size_mm": rng.uniform(12, 22),
                "holder": bool(rng.random() < 0.6),
            }
        )
    if spec.burned_text:
        scene.world_items.append(
            {
                "kind": "text",
                "corner": int(rng.integers(0, 4)),
                "lines": [
                    "AP PELVIS",
                    rng.choice(["SUPINE", "STANDING", "PORTABLE"]),
                    f"{int(rng.integers(65, 90))} kV  {int(rng.integers(8, 40))} mAs",
                    "SYNTHETIC",
                ],
            }
        )
    if spec.collimation:
        fh, fw = scene.field_hw
        scene.collimation = (
            rng.uniform(0.02, 0.10) * fh,
            rng.uniform(0.02, 0.10) * fw,
            rng.uniform(0.02, 0.10) * fh,
            rng.uniform(0.02, 0.10) * fw,
            math.radians(rng.uniform(-2.5, 2.5)),
        )
