"""Implants and surgical metal: total hip prostheses (cup, head, stem, cup screws), skin
staples and cerclage wires."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from brooker.phantom.anatomy import _HipGeom
from brooker.phantom.geometry import FloatArray, _bezier
from brooker.phantom.scene import MU_COCR, MU_STEEL, MU_TITANIUM, _Group
from brooker.phantom.shapes import _Blob, _Shape, _Tube

_Cut = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class _Bearing:
    """A prosthesis's acetabular cup and head (local mm)."""

    cup: _Blob
    head: _Blob
    cup_c: FloatArray
    cup_r: float
    head_c: FloatArray
    head_r: float
    incl: float  # cup inclination, radians


def _prosthesis(
    rng: np.random.Generator,
    sgn: float,
    f: dict[str, Any],
    rh: float,
    screws: bool,
    head_mm: float | None = None,
) -> tuple[list[tuple[_Shape, float]], _Cut, dict[str, Any]]:
    """Cup, head, stem; returns metal shapes (shape, mu) and the neck-cut half plane."""
    b = _bearing(rng, sgn, f["h"], rh, head_mm)
    cut = _neck_cut(rng, f)
    stem = _stem(rng, f, b.head_c, b.head_r)
    mu_stem = float(rng.choice([MU_TITANIUM * 2, MU_COCR]))
    mu_cup = float(rng.choice([MU_TITANIUM, MU_COCR * 0.6]))
    metal: list[tuple[_Shape, float]] = [(b.cup, mu_cup), (b.head, MU_COCR), (stem, mu_stem)]
    if screws:
        metal.extend((s, MU_STEEL) for s in _cup_screws(rng, sgn, b.cup_c, b.cup_r))
    info = {
        "cup_outer_d_mm": 2 * b.cup_r,
        "head_d_mm": 2 * b.head_r,
        "inclination_deg": math.degrees(b.incl),
        "center": b.head_c,
    }
    return metal, cut, info


def _bearing(
    rng: np.random.Generator, sgn: float, h: FloatArray, rh: float, head_mm: float | None
) -> _Bearing:
    """A hemispherical cup shell near the native joint centre ``h``, opening inferolaterally at
    35-55 degrees, and a 28, 32 or 36 mm head (``head_mm`` when given) seated in it."""
    cup_r = float(np.clip(rh + rng.uniform(-1, 4), 23, 30))
    head_r = float(rng.choice([14.0, 16.0, 18.0]))
    if head_mm is not None:  # drawn anyway, so fixing it moves nothing else
        head_r = head_mm / 2
    incl = math.radians(rng.uniform(35, 55))
    cup_c = h + np.array([sgn * rng.uniform(-2, 2), rng.uniform(-3, 1)])
    # opening faces inferolaterally: normal at angle incl from straight down towards lateral
    n_open = np.array([sgn * math.sin(incl), math.cos(incl)])
    shell = rng.uniform(3.0, 6.0)
    cup = _Blob(
        cup_c[0],
        cup_c[1],
        cup_r,
        cup_r,
        depth=cup_r,
        cortex=shell,
        shell_only=True,
        clip=((float(cup_c[0]), float(cup_c[1])), (float(-n_open[0]), float(-n_open[1]))),
    )
    head_c = cup_c + np.array([0, rng.uniform(0, 1.5)])
    head = _Blob(head_c[0], head_c[1], head_r, head_r, depth=head_r, cortex=0.0)
    return _Bearing(cup, head, cup_c, cup_r, head_c, head_r, incl)


def _neck_cut(rng: np.random.Generator, f: dict[str, Any]) -> _Cut:
    """The osteotomy above the lesser trochanter: a point and the normal of the half plane
    of femur that is kept."""
    su, lp = f["su"], f["lp"]
    cut_p = f["lt_c"] + su * rng.uniform(12, 20) + lp * 2
    # cut normal: keeps the side away from the head (oblique osteotomy ~45 deg)
    cn = -(f["neck_dir"] * -1) * 0.0 + f["neck_dir"]
    cn = cn / np.linalg.norm(cn)
    return ((float(cut_p[0]), float(cut_p[1])), (float(cn[0]), float(cn[1])))


def _stem(rng: np.random.Generator, f: dict[str, Any], head_c: FloatArray, head_r: float) -> _Tube:
    """The femoral stem from the head's centre along the neck, down the canal, tapering."""
    su, sd, lp = f["su"], f["sd"], f["lp"]
    base = f["base"]
    stem_len = rng.uniform(110, 165)
    shoulder = base + su * 8 + lp * f["shaft_r"] * 0.25
    neck_end = head_c + f["neck_dir"] * head_r * 0.6
    t = np.array([0.0, 25, 60, stem_len])
    canal = (base + sd * 15)[None, :] + t[:, None] * sd[None, :]
    stem_pts = np.vstack([head_c, neck_end, shoulder, canal[1:]])
    sr = f["shaft_r"]
    return _Tube(
        stem_pts,
        np.array([5.5, 6.0, sr * 0.62, sr * 0.5, sr * 0.40, sr * 0.22]),
        cortex=30.0,
        depth_scale=rng.uniform(0.45, 0.7),
    )


def _cup_screws(
    rng: np.random.Generator, sgn: float, cup_c: FloatArray, cup_r: float
) -> list[_Shape]:
    """One or two screws through the cup into the ilium."""
    out: list[_Shape] = []
    for _ in range(int(rng.integers(1, 3))):
        a = math.radians(rng.uniform(-40, 20))
        d = np.array([sgn * math.sin(a), -math.cos(a)])
        p0 = cup_c + d * (cup_r - 6)
        out.append(_Tube(np.stack([p0, p0 + d * rng.uniform(22, 38)]), 3.1, cortex=10.0))
    return out


def _skin_staples(rng: np.random.Generator, g: _HipGeom, side: str) -> _Group:
    """A line of skin staples over the lateral hip (a surgical scar)."""
    sgn = g.sgn
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
        st.append(_Tube(np.stack([a - leg, a, b, b - leg]), 0.35, cortex=5, depth_scale=2.0))
    return _Group(f"staples_{side}", st, MU_STEEL, MU_STEEL, 0.0, "metal", side, "staples")


def _cerclage(rng: np.random.Generator, g: _HipGeom, side: str) -> _Group:
    """One to three cerclage wires round the femoral shaft, each with its twisted knot."""
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
        cw.append(_Tube(_bezier(p1, mid, p2, 8), rng.uniform(0.5, 0.8), cortex=5, depth_scale=3.0))
        kn = p2 if rng.random() < 0.5 else p1
        cw.append(_Blob(kn[0], kn[1], 2.5, 1.8, depth=2.0, cortex=5))
    return _Group(f"cerclage_{side}", cw, MU_STEEL, MU_STEEL, 0.0, "metal", side, "cerclage")
