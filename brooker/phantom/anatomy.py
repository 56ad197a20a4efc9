"""Native anatomy of the AP pelvis: innominate bones, proximal femora, sacrum and lumbar spine,
and the soft-tissue envelope.

Shapes of one side are drawn in a *lateral* frame and mirrored by ``sgn`` (-1 right hip on the
image left, +1 left hip), so both sides share one description.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from brooker.phantom.geometry import FloatArray, _smooth_closed, _smooth_open, _Waves
from brooker.phantom.scene import _Group
from brooker.phantom.shapes import _Blob, _harm, _Plate, _Shape, _Tube
from brooker.phantom.specs import PhantomSpec, _rng


def _mirror(pts: Sequence[Sequence[float]], sgn: float) -> FloatArray:
    a = np.array(pts, dtype=float)
    a[:, 0] *= sgn
    return a


def _ang(sgn: float, a: float) -> float:
    """Angle of a direction given in the lateral frame (x lateral) in local coordinates."""
    return a if sgn > 0 else math.pi - a


@dataclass
class _HipGeom:
    side: str
    sgn: float
    center: tuple[float, float]
    head_r: float
    pelvis: list[_Shape]
    femur: list[_Shape]
    root_a: FloatArray
    root_b: FloatArray
    gt_top: FloatArray
    gt_center: FloatArray
    shaft_up: FloatArray
    lat_perp: FloatArray
    neck_base: FloatArray
    neck_dir: FloatArray
    shaft_r: float
    cut: tuple[tuple[float, float], tuple[float, float]] | None
    metal: list[tuple[_Shape, float]]


# --------------------------------------------------------------------------------------------
# Innominate bone
# --------------------------------------------------------------------------------------------


def _hemipelvis(
    rng: np.random.Generator, sgn: float, hw: float, rh: float, k: float, prosthesis: bool
) -> tuple[list[_Shape], list[_Shape], FloatArray, FloatArray, dict[str, Any]]:
    """Innominate bone of one side: plate + rami + ischium; returns (bone, lines, roots)."""
    ce = math.radians(rng.uniform(22, 40))
    js = rng.uniform(2.0, 5.0)
    ra = rh + js
    plate, lat = _ilium(rng, sgn, hw, rh, k, ra, ce)
    sym_l, rami = _pubic_rami(rng, sgn, hw, k)
    bone: list[_Shape] = [plate, *rami, *_ischium(rng, sgn, hw, rh, k)]
    lines = _pelvic_lines(rng, sgn, hw, k, ra, ce, sym_l)
    root_a = np.array(lat[1]) * [sgn, 1]
    root_b = (0.6 * np.array(lat[2]) + 0.4 * np.array(lat[3])) * [sgn, 1]
    info = {
        "ce_deg": math.degrees(ce),
        "joint_space_mm": js,
        "acetabulum_r": ra,
        "symphysis_half": sym_l,
    }
    return bone, lines, root_a, root_b, info


def _ilium_outline(
    rng: np.random.Generator, hw: float, rh: float, k: float, ra: float, ce: float
) -> list[tuple[float, float]]:
    """Control points of the ilium's outline (lateral frame), from the acetabular rim round the
    crest and the sacroiliac joint back to the acetabulum, jittered."""

    def j(s: float) -> float:
        return float(rng.uniform(-s, s))

    return [
        (hw + ra * math.sin(ce), -ra * math.cos(ce)),  # lateral rim
        (hw + rh * 0.80 + j(2), -rh * 1.40 + j(3)),  # above rim
        (hw + rh * 1.00 + 4 * k + j(3), -rh * 1.75 - 8 * k + j(3)),  # AIIS
        (hw + 20 * k + j(3), -60 * k + j(4)),  # notch
        (hw + 38 * k + j(4), -82 * k + j(5)),  # ASIS
        (hw + 42 * k + j(4), -102 * k + j(5)),  # crest lateral
        (hw + 24 * k + j(4), -124 * k + j(5)),
        (hw - 6 * k + j(4), -134 * k + j(5)),  # crest top
        (hw - 38 * k + j(4), -128 * k + j(4)),
        (44 * k + j(3), -114 * k + j(4)),  # posterior, over the sacrum
        (34 * k + j(2), -82 * k + j(3)),  # SI joint
        (36 * k + j(2), -54 * k + j(3)),  # lower SI
        (52 * k + j(3), -34 * k + j(3)),  # brim
        (hw - 32 * k + j(2), -16 * k + j(2)),
        (hw - 33 * k + j(2), 10 * k + j(2)),  # quadrilateral plate
        (hw - 26 * k + j(2), 28 * k + j(2)),
        (hw - 4, rh + 8 + j(2)),  # inferior acetabulum
        (hw + rh * 0.45, rh * 0.55),  # posterior wall crossing the head
        (hw + rh * 0.80, -rh * 0.05),
    ]


def _ilium(
    rng: np.random.Generator, sgn: float, hw: float, rh: float, k: float, ra: float, ce: float
) -> tuple[_Plate, list[tuple[float, float]]]:
    """The ilium as a plate, thicker over the supra-acetabular body and the acetabulum and
    thinner in the iliac fossa; and its outline's control points (lateral frame)."""
    lat = _ilium_outline(rng, hw, rh, k, ra, ce)
    outline = _smooth_closed(_mirror(lat, sgn), 260)
    sup = np.array([sgn * hw, -rh * 0.9 - 16])
    acet = np.array([sgn * (hw - 8), -2.0])
    body_extra_amp = rng.uniform(14, 26)
    fossa_amp = rng.uniform(0.4, 0.8)
    crest_c = np.array([sgn * (hw - 10 * k), -95 * k])

    def extra(u: FloatArray, v: FloatArray) -> FloatArray:
        g1 = np.exp(-((u - sup[0]) ** 2 + (v - sup[1]) ** 2) / (2 * (26 * k) ** 2))
        g2 = np.exp(-((u - acet[0]) ** 2 + (v - acet[1]) ** 2) / (2 * (rh * 0.9) ** 2))
        g3 = np.exp(-((u - crest_c[0]) ** 2 + (v - crest_c[1]) ** 2) / (2 * (28 * k) ** 2))
        out: FloatArray = body_extra_amp * g1 + 10 * g2 - 4.0 * fossa_amp * g3
        return out

    plate = _Plate(
        outline,
        base_mm=rng.uniform(5, 9),
        rim_mm=rng.uniform(6, 10),
        rim_width=rng.uniform(1.2, 2.5),
        extra=extra,
    )
    return plate, lat


def _pubic_rami(
    rng: np.random.Generator, sgn: float, hw: float, k: float
) -> tuple[float, list[_Shape]]:
    """Half the symphysis width (mm), and the superior ramus, the pubic body and the inferior
    ramus round the obturator foramen."""
    sym_l = 2.5 + rng.uniform(0, 1.5)
    sup_ramus = _Tube(
        _smooth_open(
            _mirror(
                [
                    (hw - 24 * k, 14 * k),
                    (hw - 46 * k, 20 * k),
                    (sym_l + 30, 26 * k),
                    (sym_l + 12, 34 * k),
                ],
                sgn,
            ),
            10,
        ),
        np.array([12, 10.5, 9, 8, 8, 8, 8.5, 9, 9.5, 10]) * math.sqrt(k),
        cortex=1.6,
    )
    pubis = _Blob(
        sgn * (sym_l + 11),
        42 * k,
        11,
        16 * k,
        angle=0.0,
        depth=10,
        cortex=2.0,
        harmonics=_harm(rng, 3, 0.05),
    )
    inf_ramus = _Tube(
        _smooth_open(
            _mirror(
                [
                    (sym_l + 10, 50 * k),
                    (sym_l + 20, 68 * k),
                    (sym_l + 38, 82 * k),
                    (hw - 28 * k, 88 * k),
                ],
                sgn,
            ),
            10,
        ),
        np.array([8, 7, 6.5, 6.5, 6.5, 7, 7.5, 8, 8.5, 9]) * math.sqrt(k),
        cortex=1.8,
    )
    return sym_l, [sup_ramus, pubis, inf_ramus]


def _ischium(rng: np.random.Generator, sgn: float, hw: float, rh: float, k: float) -> list[_Shape]:
    """The ischium below the acetabulum and its tuberosity."""
    ischium = _Tube(
        _mirror([(hw - 14 * k, rh + 4), (hw - 16 * k, 58 * k), (hw - 22 * k, 86 * k)], sgn),
        np.array([12, 9.5, 11]) * math.sqrt(k),
        cortex=2.0,
    )
    tuber = _Blob(
        sgn * (hw - 24 * k),
        90 * k,
        16 * k,
        11 * k,
        angle=_ang(sgn, 0.3),
        depth=14,
        cortex=2.5,
        harmonics=_harm(rng, 3, 0.06),
    )
    return [ischium, tuber]


def _pelvic_lines(
    rng: np.random.Generator, sgn: float, hw: float, k: float, ra: float, ce: float, sym_l: float
) -> list[_Shape]:
    """Dense lines: sourcil (acetabular roof), teardrop, iliopectineal & ilioischial lines."""
    arc = np.linspace(math.radians(-62), ce * 0.98, 14)
    sourcil = _Tube(
        np.stack([sgn * (hw + (ra + 1.0) * np.sin(arc)), -(ra + 1.0) * np.cos(arc)], 1),
        rng.uniform(1.6, 2.8),
        cortex=10.0,
        depth_scale=rng.uniform(3.0, 5.0),
    )
    tear = _Tube(
        _mirror([(hw - ra - 1, -4), (hw - ra - 3, 12), (hw - ra + 4, 20), (hw - ra + 6, 9)], sgn),
        1.2,
        cortex=10,
        depth_scale=2.2,
    )
    brim = _Tube(
        _smooth_open(
            _mirror(
                [
                    (36 * k, -54 * k),
                    (52 * k, -34 * k),
                    (hw - 32 * k, -16 * k),
                    (hw - 40 * k, 12 * k),
                    (sym_l + 14, 30 * k),
                ],
                sgn,
            ),
            20,
        ),
        1.1,
        cortex=10,
        depth_scale=2.0,
    )
    return [sourcil, tear, brim]


# --------------------------------------------------------------------------------------------
# Proximal femur
# --------------------------------------------------------------------------------------------


def _femur(
    rng: np.random.Generator, sgn: float, hw: float, rh: float, nsa: float, add: float
) -> dict[str, Any]:
    """Proximal femur of one side (lateral frame mirrored by sgn)."""
    h = np.array([sgn * hw, 0.0])
    psi_d = math.pi / 2 + add  # shaft down direction angle (lateral frame, y down)
    psi_h = psi_d + nsa
    head_dir = np.array([math.cos(psi_h), math.sin(psi_h)])  # base -> head (lateral frame)
    neck_dir = -head_dir
    shaft_down = np.array([math.cos(psi_d), math.sin(psi_d)])
    lat_perp = np.array([math.cos(add), math.sin(add)])  # perpendicular, lateral
    m = np.array([sgn, 1.0])
    neck_len = rh * rng.uniform(1.95, 2.35)
    base = h + neck_dir * m * neck_len
    sd, su, lp = shaft_down * m, -shaft_down * m, lat_perp * m
    shaft_r = rh * rng.uniform(0.56, 0.66)
    head, neck = _head_and_neck(rng, h, neck_dir, m, neck_len, base, rh)
    gt, gt_c, gt_top, gt_w = _greater_trochanter(rng, base, su, lp, rh, shaft_r)
    ang_su = math.atan2(su[1], su[0])
    inter = _Blob(
        base[0] + lp[0] * 4,
        base[1] + lp[1] * 4,
        shaft_r * 1.45,
        shaft_r * 1.2,
        angle=ang_su,
        depth=shaft_r * 1.2,
        cortex=1.5,
    )
    lt, lt_c = _lesser_trochanter(rng, sgn, base, sd, lp, rh, shaft_r, ang_su)
    shaft = _femoral_shaft(rng, base, sd, shaft_r)
    return {
        "head": head,
        "neck": neck,
        "gt": gt,
        "inter": inter,
        "lt": lt,
        "shaft": shaft,
        "h": h,
        "base": base,
        "sd": sd,
        "su": su,
        "lp": lp,
        "gt_c": gt_c,
        "gt_top": gt_top,
        "shaft_r": shaft_r,
        "neck_dir": neck_dir * m,
        "lt_c": lt_c,
        "gt_w": gt_w,
    }


def _head_and_neck(
    rng: np.random.Generator,
    h: FloatArray,
    neck_dir: FloatArray,
    m: FloatArray,
    neck_len: float,
    base: FloatArray,
    rh: float,
) -> tuple[_Blob, _Tube]:
    """The femoral head (a sphere at ``h``) and the neck from it to ``base``; the neck's
    radius is drawn before the head's cortex."""
    neck_r = rh * rng.uniform(0.62, 0.72)
    head = _Blob(h[0], h[1], rh, rh, depth=rh, cortex=rng.uniform(1.0, 1.8))
    mid = h + neck_dir * m * neck_len * 0.5
    neck = _Tube(
        np.stack([h, mid, base]),
        np.array([neck_r * 1.05, neck_r * 0.92, neck_r * 1.35]),
        cortex=np.array([1.2, 1.8, 2.2]),
    )
    return head, neck


def _greater_trochanter(
    rng: np.random.Generator,
    base: FloatArray,
    su: FloatArray,
    lp: FloatArray,
    rh: float,
    shaft_r: float,
) -> tuple[_Blob, FloatArray, FloatArray, float]:
    """The greater trochanter above the neck's base, lateral; its centre, top and width."""
    gt_len = rh * rng.uniform(1.05, 1.3)
    gt_w = rh * rng.uniform(0.55, 0.75)
    gt_c = base + su * rng.uniform(18, 26) + lp * (shaft_r * rng.uniform(0.75, 1.05))
    ang_su = math.atan2(su[1], su[0])
    gt = _Blob(
        gt_c[0],
        gt_c[1],
        gt_len,
        gt_w,
        angle=ang_su,
        depth=gt_w * 1.1,
        cortex=1.6,
        harmonics=_harm(rng, 3, 0.07),
    )
    gt_top = gt_c + su * gt_len * 0.96
    return gt, gt_c, gt_top, gt_w


def _lesser_trochanter(
    rng: np.random.Generator,
    sgn: float,
    base: FloatArray,
    sd: FloatArray,
    lp: FloatArray,
    rh: float,
    shaft_r: float,
    ang_su: float,
) -> tuple[_Blob, FloatArray]:
    """The lesser trochanter below the neck's base, medial; and its centre."""
    lt_c = base + sd * rng.uniform(32, 46) - lp * shaft_r * rng.uniform(0.85, 1.05)
    lt = _Blob(
        lt_c[0],
        lt_c[1],
        rh * 0.42,
        rh * 0.3,
        angle=ang_su + sgn * 0.5,
        depth=rh * 0.3,
        cortex=1.5,
        harmonics=_harm(rng, 2, 0.06),
    )
    return lt, lt_c


def _femoral_shaft(
    rng: np.random.Generator, base: FloatArray, sd: FloatArray, shaft_r: float
) -> _Tube:
    """The shaft down from the neck's base, tapering, its cortex thickening distally."""
    top = base + sd * 5
    t = np.array([0, 40, 90, 160, 420.0])
    shaft_pts = top[None, :] + t[:, None] * sd[None, :]
    rprof = shaft_r * np.array([1.35, 1.1, 0.95, 0.9, 0.85])
    cprof = np.array([1.8, 3.5, rng.uniform(4.5, 7), rng.uniform(5, 7.5), 6.0])
    return _Tube(shaft_pts, rprof, cortex=cprof)


# --------------------------------------------------------------------------------------------
# Sacrum and lumbar spine
# --------------------------------------------------------------------------------------------


def _spine(rng: np.random.Generator, k: float) -> list[_Group]:
    """Sacrum with coccyx, L5 and L4 (their groups, in that order)."""
    sac_top = -112 * k
    l5_top = sac_top - 48 * k
    return [
        _sacrum(rng, k, sac_top),
        _Group("l5", _l5(k, l5_top), texture=0.16, role="spine"),
        _Group("l4", _l4(k, l5_top), texture=0.16, role="spine"),
    ]


def _sacrum(rng: np.random.Generator, k: float, sac_top: float) -> _Group:
    """The sacrum (a plate, thicker in the middle, thinner at its foramina) and the coccyx."""
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

    return _Group(
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


def _l5(k: float, l5_top: float) -> list[_Shape]:
    """L5: body, pedicles, transverse processes, spinous process."""
    return [
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


def _l4(k: float, l5_top: float) -> list[_Shape]:
    """L4 above L5: body, pedicles, transverse processes."""
    return [
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


# --------------------------------------------------------------------------------------------
# Soft tissue
# --------------------------------------------------------------------------------------------


def _soft_tissue(
    spec: PhantomSpec, k: float, hw0: float
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """Soft-tissue envelope: water-equivalent AP thickness (mm) at local ``(u, v)``; the
    pelvis above, two thighs below the crotch, lumpy (the seed's ``body`` stream)."""
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

    return body
