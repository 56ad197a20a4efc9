"""The AP pelvis scene: both hips (anatomy, implants, heterotopic bone), sacrum and lumbar
spine, the soft-tissue envelope, placement on the film, then the hard negatives."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from brooker.phantom.anatomy import _femur, _hemipelvis, _HipGeom, _soft_tissue, _spine
from brooker.phantom.geometry import _Frame
from brooker.phantom.heterotopic import _build_ho, _grade_from
from brooker.phantom.implants import _prosthesis
from brooker.phantom.negatives import _add_negatives
from brooker.phantom.scene import MU_CORT, _Group, _Scene
from brooker.phantom.shapes import _Shape
from brooker.phantom.specs import HipSpec, PhantomSpec, _rng


@dataclass(frozen=True)
class _PelvisSize:
    """The film's overall anatomy (both sides vary a little around it) and field (mm)."""

    k: float  # pelvis scale
    hw0: float  # half the distance between the hip centres
    dhead: float  # femoral head diameter
    nsa0: float  # neck-shaft angle, degrees
    rot: float  # in-plane rotation, degrees
    fh: float  # field height
    fw: float  # field width


def _build_pelvis(spec: PhantomSpec, truth_res: float) -> _Scene:
    """The scene of an AP pelvis film (or a single-hip view) for ``spec``."""
    rng = _rng(spec.seed, "anatomy")
    size = _draw_size(rng, spec)
    groups: list[_Group] = []
    hips: dict[str, dict[str, Any]] = {}
    geoms: dict[str, _HipGeom] = {}
    rng_ho = _rng(spec.seed, "ho")
    for side, sgn, hs in (("right", -1.0, spec.right), ("left", 1.0, spec.left)):
        g, hip_groups, hips[side] = _build_hip(spec, side, sgn, hs, size, rng_ho, truth_res)
        geoms[side] = g
        groups.extend(hip_groups)
    # sacrum, coccyx, L5
    groups.extend(_spine(rng, size.k))
    frame = _place(spec, hips, size)
    body = _soft_tissue(spec, size.k, size.hw0)
    scene = _Scene(groups, frame, body, hips, [], (size.fh, size.fw))
    _add_negatives(spec, scene, geoms, size.k, size.hw0)
    return scene


def _draw_size(rng: np.random.Generator, spec: PhantomSpec) -> _PelvisSize:
    """The spec's anatomy and field where given, else drawn (``anatomy`` stream, in order)."""
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
    return _PelvisSize(k, hw0, dhead, nsa0, rot, fh, fw)


def _build_hip(
    spec: PhantomSpec,
    side: str,
    sgn: float,
    hs: HipSpec,
    size: _PelvisSize,
    rng_ho: np.random.Generator,
    truth_res: float,
) -> tuple[_HipGeom, list[_Group], dict[str, Any]]:
    """One hip: its geometry, its groups (pelvis, lines, femur, metal, heterotopic bone) and
    its record (centre, class, heterotopic bone, anatomy)."""
    rs = _rng(spec.seed, f"anatomy-{side}")
    hw = size.hw0 * float(rs.uniform(0.97, 1.03))
    rh = size.dhead / 2 * float(rs.uniform(0.98, 1.02))
    nsa = math.radians(size.nsa0 + float(rs.normal(0, 1.5)))
    add = math.radians(float(rs.uniform(4, 11)))
    bone, lines, ra, rb, pinfo = _hemipelvis(rs, sgn, hw, rh, size.k, hs.prosthesis)
    f = _femur(rs, sgn, hw, rh, nsa, add)
    femur_shapes, metal, cut, center, pros_info = _joint(rs, spec, hs, sgn, f, rh)
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
    groups = _hip_groups(side, bone, lines, femur_shapes, metal)
    ho = _build_ho(rng_ho, g, hs, truth_res)
    for gr in ho["groups"]:
        gr.side = side
        groups.append(gr)
    hip = {
        "center_local": center,
        "grade": _grade_from(hs, ho),
        "ho": ho,
        "prosthesis": hs.prosthesis,
        "head_diameter_mm": 2 * rh,
        "neck_shaft_deg": math.degrees(nsa),
        "geom": g,
        "pelvis": pinfo,
        "prosthesis_info": pros_info,
        "femur": f,
    }
    return g, groups, hip


def _joint(
    rs: np.random.Generator,
    spec: PhantomSpec,
    hs: HipSpec,
    sgn: float,
    f: dict[str, Any],
    rh: float,
) -> tuple[
    list[_Shape],
    list[tuple[_Shape, float]],
    tuple[tuple[float, float], tuple[float, float]] | None,
    tuple[float, float],
    dict[str, Any],
]:
    """The native joint, or a total hip replacing the head and cutting the neck: (femur
    shapes, metal shapes with their mu, the neck cut, the joint centre, prosthesis record)."""
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
    return femur_shapes, metal, cut, center, pros_info


def _hip_groups(
    side: str,
    bone: list[_Shape],
    lines: list[_Shape],
    femur_shapes: list[_Shape],
    metal: list[tuple[_Shape, float]],
) -> list[_Group]:
    """The groups of one hip's native bone, its dense lines and its metal."""
    groups = [_Group(f"pelvis_{side}", bone, texture=0.16, side=side, role="pelvis")]
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
    return groups


def _place(spec: PhantomSpec, hips: dict[str, dict[str, Any]], size: _PelvisSize) -> _Frame:
    """Placement (``placement`` stream): the hips a bit below the middle, iliac crests near
    the top; a single-hip view centred on its hip."""
    fh, fw = size.fh, size.fw
    rng_p = _rng(spec.seed, "placement")
    if spec.hip_view is not None:
        c = hips[spec.hip_view]["center_local"]
        cx = fw * rng_p.uniform(0.42, 0.58) - c[0]
        cy = fh * rng_p.uniform(0.35, 0.48) - c[1]
    else:
        cx = fw / 2 + rng_p.uniform(-0.03, 0.03) * fw
        cy = fh * rng_p.uniform(0.50, 0.60) if fh < 350 else fh * rng_p.uniform(0.45, 0.6)
    return _Frame(float(cx), float(cy), math.radians(size.rot))
