"""Implants: total hip prostheses (cup, head, stem, screws)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brooker.phantom.scene import MU_COCR, MU_STEEL, MU_TITANIUM
from brooker.phantom.shapes import _Blob, _Shape, _Tube


def _prosthesis(
    rng: np.random.Generator,
    sgn: float,
    f: dict[str, Any],
    rh: float,
    screws: bool,
    head_mm: float | None = None,
) -> tuple[
    list[tuple[_Shape, float]], tuple[tuple[float, float], tuple[float, float]], dict[str, Any]
]:
    """Cup, head, stem; returns metal shapes (shape, mu) and the neck-cut half plane."""
    h = f["h"]
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
    su, sd, lp = f["su"], f["sd"], f["lp"]
    base = f["base"]
    cut_p = f["lt_c"] + su * rng.uniform(12, 20) + lp * 2
    # cut normal: keeps the side away from the head (oblique osteotomy ~45 deg)
    cn = -(f["neck_dir"] * -1) * 0.0 + f["neck_dir"]
    cn = cn / np.linalg.norm(cn)
    cut = ((float(cut_p[0]), float(cut_p[1])), (float(cn[0]), float(cn[1])))
    stem_len = rng.uniform(110, 165)
    shoulder = base + su * 8 + lp * f["shaft_r"] * 0.25
    neck_end = head_c + f["neck_dir"] * head_r * 0.6
    t = np.array([0.0, 25, 60, stem_len])
    canal = (base + sd * 15)[None, :] + t[:, None] * sd[None, :]
    stem_pts = np.vstack([head_c, neck_end, shoulder, canal[1:]])
    sr = f["shaft_r"]
    stem = _Tube(
        stem_pts,
        np.array([5.5, 6.0, sr * 0.62, sr * 0.5, sr * 0.40, sr * 0.22]),
        cortex=30.0,
        depth_scale=rng.uniform(0.45, 0.7),
    )
    mu_stem = float(rng.choice([MU_TITANIUM * 2, MU_COCR]))
    mu_cup = float(rng.choice([MU_TITANIUM, MU_COCR * 0.6]))
    metal: list[tuple[_Shape, float]] = [(cup, mu_cup), (head, MU_COCR), (stem, mu_stem)]
    if screws:
        for _ in range(int(rng.integers(1, 3))):
            a = math.radians(rng.uniform(-40, 20))
            d = np.array([sgn * math.sin(a), -math.cos(a)])
            p0 = cup_c + d * (cup_r - 6)
            metal.append(
                (_Tube(np.stack([p0, p0 + d * rng.uniform(22, 38)]), 3.1, cortex=10.0), MU_STEEL)
            )
    info = {
        "cup_outer_d_mm": 2 * cup_r,
        "head_d_mm": 2 * head_r,
        "inclination_deg": math.degrees(incl),
        "center": head_c,
    }
    return metal, cut, info
