"""The AP pelvis scene: both hips (anatomy, implants, heterotopic bone), sacrum and lumbar
spine, the soft-tissue envelope, placement on the film, then the hard negatives."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brooker.phantom.anatomy import _femur, _hemipelvis, _HipGeom
from brooker.phantom.geometry import FloatArray, _Frame, _smooth_closed, _Waves
from brooker.phantom.heterotopic import _build_ho, _grade_from
from brooker.phantom.implants import _prosthesis
from brooker.phantom.negatives import _add_negatives
from brooker.phantom.scene import MU_CORT, _Group, _Scene
from brooker.phantom.shapes import _Blob, _Plate, _Shape, _Tube
from brooker.phantom.specs import PhantomSpec, _rng


def _build_pelvis(spec: PhantomSpec, truth_res: float) -> _Scene:
    rng = _rng(spec.seed, "anatomy")
    k = spec.pelvis_scale if spec.pelvis_scale is not None else float(rng.uniform(0.86, 1.1))
    hw0 = 92.0 * k
    dhead = (
        spec.head_diameter_mm if spec.head_diameter_mm is not None else float(rng.uniform(40, 55))
    )
    nsa0 = spec.neck_shaft_deg if spec.neck_shaft_deg is not None else float(rng.uniform(120, 140))
    rot = spec.rotation_deg if spec.rotation_deg is not None else float(rng.normal(0, 1.6))
    if spec.field_mm is not None:
        fh, fw = spec.field_mm
    elif spec.hip_view is not None:
        fh, fw = float(rng.uniform(220, 300)), float(rng.uniform(180, 250))
    else:
        fw = float(rng.uniform(350, 430))
        fh = float(rng.uniform(270, 350)) if rng.random() < 0.8 else float(rng.uniform(350, 430))
    groups: list[_Group] = []
    hips: dict[str, dict[str, Any]] = {}
    geoms: dict[str, _HipGeom] = {}
    rng_ho = _rng(spec.seed, "ho")
    for side, sgn, hs in (("right", -1.0, spec.right), ("left", 1.0, spec.left)):
        rs = _rng(spec.seed, f"anatomy-{side}")
        hw = hw0 * float(rs.uniform(0.97, 1.03))
        rh = dhead / 2 * float(rs.uniform(0.98, 1.02))
        nsa = math.radians(nsa0 + float(rs.normal(0, 1.5)))
        add = math.radians(float(rs.uniform(4, 11)))
        bone, lines, ra, rb, pinfo = _hemipelvis(rs, sgn, hw, rh, k, hs.prosthesis)
        f = _femur(rs, sgn, hw, rh, nsa, add)
        femur_shapes: list[_Shape] = [
            f["head"],
            f["neck"],
            f["inter"],
            f["gt"],
            f["lt"],
            f["shaft"],
        ]
        metal: list[tuple[_Shape, float]] = []
        cut = None
        center = (float(f["h"][0]), float(f["h"][1]))
        pros_info: dict[str, Any] = {}
        if hs.prosthesis:
            metal, cut, pros_info = _prosthesis(rs, sgn, f, rh, spec.screws, spec.implant_head_mm)
            for s in (f["neck"], f["inter"], f["lt"], f["shaft"]):
                s.clip = cut
            femur_shapes = [f["neck"], f["inter"], f["gt"], f["lt"], f["shaft"]]
            c = pros_info.pop("center")
            center = (float(c[0]), float(c[1]))
        g = _HipGeom(
            side,
            sgn,
            (float(f["h"][0]), float(f["h"][1])),
            rh,
            bone,
            femur_shapes,
            ra,
            rb,
            f["gt_top"],
            f["gt_c"],
            f["su"],
            f["lp"],
            f["base"],
            f["neck_dir"],
            f["shaft_r"],
            cut,
            metal,
        )
        geoms[side] = g
        groups.append(_Group(f"pelvis_{side}", bone, texture=0.16, side=side, role="pelvis"))
        groups.append(
            _Group(
                f"lines_{side}",
                lines,
                mu_cort=MU_CORT,
                mu_trab=MU_CORT,
                texture=0.1,
                side=side,
                role="pelvis_lines",
            )
        )
        groups.append(_Group(f"femur_{side}", femur_shapes, texture=0.16, side=side, role="femur"))
        for s, mu in metal:
            groups.append(
                _Group(
                    f"metal_{side}",
                    [s],
                    mu,
                    mu,
                    texture=0.0,
                    kind="metal",
                    side=side,
                    role="prosthesis",
                )
            )
        ho = _build_ho(rng_ho, g, hs, truth_res)
        for gr in ho["groups"]:
            gr.side = side
            groups.append(gr)
        grade = _grade_from(hs, ho)
        hips[side] = {
            "center_local": center,
            "grade": grade,
            "ho": ho,
            "prosthesis": hs.prosthesis,
            "head_diameter_mm": 2 * rh,
            "neck_shaft_deg": math.degrees(nsa),
            "geom": g,
            "pelvis": pinfo,
            "prosthesis_info": pros_info,
            "femur": f,
        }
    # sacrum, coccyx, L5
    sac_top = -112 * k
    sac = _smooth_closed(
        np.array(
            [
                (-52 * k, sac_top + 6),
                (-30 * k, sac_top - 4),
                (0, sac_top - 2),
                (30 * k, sac_top - 4),
                (52 * k, sac_top + 6),
                (40 * k, -70 * k),
                (24 * k, -25 * k),
                (9, 6 * k),
                (-9, 6 * k),
                (-24 * k, -25 * k),
                (-40 * k, -70 * k),
            ]
        ),
        160,
    )
    foram = [
        (sx * (22 - 3 * i) * k, (-92 + 19 * i) * k, 5.5 - 0.7 * i)
        for i in range(4)
        for sx in (-1, 1)
    ]

    def sac_extra(u: FloatArray, v: FloatArray) -> FloatArray:
        e = 14 * np.exp(-(u**2) / (2 * (18 * k) ** 2)) * np.clip((v + 30) / -80, 0.2, 1.0)
        for fu, fv, fr in foram:
            e = e - 12 * np.exp(-((u - fu) ** 2 + (v - fv) ** 2) / (2 * (fr * 0.8) ** 2))
        return e

    groups.append(
        _Group(
            "sacrum",
            [
                _Plate(sac, rng.uniform(5, 8), rng.uniform(4, 7), 2.0, extra=sac_extra),
                _Tube(
                    np.array([[0, 4 * k], [0, 18 * k], [-2, 30 * k]]),
                    np.array([7, 5, 3.5]),
                    cortex=1.5,
                ),
            ],
            texture=0.16,
            role="sacrum",
        )
    )
    l5_top = sac_top - 48 * k
    l5 = [
        _Blob(
            0, l5_top + 17 * k, 27 * k, 16 * k, depth=18, cortex=2.5, harmonics=((4, 0.06, 0.0),)
        ),
        _Blob(-16 * k, l5_top + 14 * k, 6, 8, depth=8, cortex=2.2, shell_only=True),
        _Blob(16 * k, l5_top + 14 * k, 6, 8, depth=8, cortex=2.2, shell_only=True),
        _Tube(
            np.array([[-20 * k, l5_top + 18 * k], [-48 * k, l5_top + 14 * k]]),
            np.array([6, 4]),
            cortex=1.5,
        ),
        _Tube(
            np.array([[20 * k, l5_top + 18 * k], [48 * k, l5_top + 14 * k]]),
            np.array([6, 4]),
            cortex=1.5,
        ),
        _Blob(0, l5_top + 30 * k, 6, 9, depth=8, cortex=1.5),
    ]
    groups.append(_Group("l5", l5, texture=0.16, role="spine"))
    l4 = [
        _Blob(
            0, l5_top - 26 * k, 26 * k, 15 * k, depth=18, cortex=2.5, harmonics=((4, 0.06, 0.0),)
        ),
        _Blob(-16 * k, l5_top - 28 * k, 6, 8, depth=8, cortex=2.2, shell_only=True),
        _Blob(16 * k, l5_top - 28 * k, 6, 8, depth=8, cortex=2.2, shell_only=True),
        _Tube(
            np.array([[-20 * k, l5_top - 24 * k], [-40 * k, l5_top - 30 * k]]),
            np.array([5, 3.5]),
            cortex=1.5,
        ),
        _Tube(
            np.array([[20 * k, l5_top - 24 * k], [40 * k, l5_top - 30 * k]]),
            np.array([5, 3.5]),
            cortex=1.5,
        ),
    ]
    groups.append(_Group("l4", l4, texture=0.16, role="spine"))

    # placement: the hips a bit below the middle; iliac crests near the top
    rng_p = _rng(spec.seed, "placement")
    if spec.hip_view is not None:
        c = hips[spec.hip_view]["center_local"]
        cx = fw * rng_p.uniform(0.42, 0.58) - c[0]
        cy = fh * rng_p.uniform(0.35, 0.48) - c[1]
    else:
        cx = fw / 2 + rng_p.uniform(-0.03, 0.03) * fw
        cy = fh * rng_p.uniform(0.50, 0.60) if fh < 350 else fh * rng_p.uniform(0.45, 0.6)
    frame = _Frame(float(cx), float(cy), math.radians(rot))

    # soft tissue envelope (water-equivalent thickness, mm)
    rs = _rng(spec.seed, "body")
    t0 = spec.soft_tissue_mm if spec.soft_tissue_mm is not None else float(rs.uniform(170, 300))
    wb = float(rs.uniform(165, 240)) * (0.75 + 0.25 * t0 / 230)
    crotch = float(rs.uniform(55, 85)) * k
    thigh_w = float(rs.uniform(85, 120)) * (0.8 + 0.2 * t0 / 230)
    sup_p = float(rs.uniform(2.2, 4.0))
    thigh_c = hw0 + float(rs.uniform(5, 25))
    thigh_t = t0 * float(rs.uniform(0.55, 0.75))
    lump = _Waves.make(rs, 10, 30, 120)
    lump_amp = float(rs.uniform(3, 12))

    def body(u: FloatArray, v: FloatArray) -> FloatArray:
        wv = wb * (0.86 + 0.14 * np.exp(-(((v - 20) / 140) ** 2)))
        x = np.clip(np.abs(u) / wv, 0, 1)
        pel = (
            t0 * np.clip(1 - x**sup_p, 0, None) ** (1 / sup_p) * (1 + 0.0004 * np.clip(-v, 0, 200))
        )
        th = np.zeros_like(u)
        dv = np.clip(v - crotch, 0, None)
        for s in (-1, 1):
            c = s * (thigh_c + 0.08 * dv)
            xx = np.clip(np.abs(u - c) / thigh_w, 0, 1)
            th = th + thigh_t * np.clip(1 - xx**2.5, 0, None) ** 0.4
        b = 1 / (1 + np.exp(-(v - crotch) / 18.0))
        out = (1 - b) * pel + b * np.minimum(th, pel + 5)
        return np.clip(out + lump_amp * lump(u, v) * (out > 20), 0, None)

    scene = _Scene(groups, frame, body, hips, [], (fh, fw))
    _add_negatives(spec, scene, geoms, k, hw0)
    return scene
