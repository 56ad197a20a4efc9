"""Heterotopic bone around one hip (islands, pelvic and femoral spurs, bridges) and its truth.

Spurs grow along a path until the edge-to-edge gap between the pelvic and the femoral side
hits a target: a bisection on a coarse grid, then secant steps on the gap *measured* on a fine
grid (``truth_res_mm``) and refined to sub-pixel along the closest pair (:mod:`.gap`). Islands
are placed where they touch nothing. Every draw comes from the seed's ``ho`` stream, in a fixed
order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from brooker.phantom.anatomy import _HipGeom
from brooker.phantom.gap import _edt_outside, _GapMeter, _TruthGrid
from brooker.phantom.geometry import BoolArray, FloatArray, _bezier, _Waves
from brooker.phantom.scene import MU_CORT, MU_TRAB, _Group
from brooker.phantom.shapes import _Blob, _harm, _Tube
from brooker.phantom.specs import HipSpec
from brooker.units import BROOKER_GAP_THRESHOLD_MM


def _spur_tube(
    rng: np.random.Generator, path: FloatArray, r0: float, r1: float, mature: bool
) -> _Tube:
    n = len(path)
    prof = np.linspace(r0, r1, n) * np.exp(ndi.gaussian_filter1d(rng.normal(0, 0.25, n), 1.2))
    waves = _Waves.make(rng, 14, 2.5, 11.0)
    cortex = rng.uniform(1.0, 2.2) if mature else 0.3
    return _Tube(
        path,
        prof,
        cortex=cortex,
        grow_mm=float("inf"),
        taper_mm=rng.uniform(3, 8),
        wobble=waves,
        wobble_amp=rng.uniform(0.12, 0.28) if mature else rng.uniform(0.2, 0.3),
        depth_scale=rng.uniform(0.6, 1.1),
    )


def _build_ho(rng: np.random.Generator, g: _HipGeom, hip: HipSpec, res: float) -> dict[str, Any]:
    """Heterotopic bone for one hip, with the measured truth gap."""
    grade = hip.grade
    out: dict[str, Any] = {
        "groups": [],
        "gap_mm": None,
        "spurs": "",
        "fragments": [],
        "gap_points_mm": None,
        "target_gap_mm": hip.gap_mm,
    }
    p_shapes = list(g.pelvis)
    f_shapes = list(g.femur)
    if grade == 0 and not hip.islands:
        return out
    coarse = _TruthGrid.around(_ho_region(g), 0.25)
    P0 = coarse.mask(p_shapes)
    F0 = coarse.mask(f_shapes)
    mature = bool(rng.random() < 0.6)
    out["maturity"] = "corticated" if mature else "fluffy"
    spurs = hip.spurs
    if grade >= 2 and spurs in ("auto", ""):
        spurs = str(rng.choice(["pelvic", "femoral", "both"], p=[0.4, 0.3, 0.3]))
    if grade >= 2:
        ps_tube, fs_tube = _spur_tubes(rng, g, grade, spurs, mature)
        out["spurs"] = spurs
        meter = _GapMeter(p_shapes, f_shapes, coarse, P0, F0, res, ps_tube, fs_tube)
        _grow_spurs(rng, hip, spurs, mature, meter, out)
    n_isl = _island_count(rng, hip)
    if n_isl:
        occ = P0 | F0
        for gr in out["groups"]:
            occ |= coarse.mask(gr.shapes)
        islands = _place_islands(rng, g, n_isl, mature, coarse, occ, out.get("gap_points_mm"))
        out["groups"].extend(islands)
        out["islands_placed"] = len(islands)
    out["fragments"].extend(_fragment_areas(coarse, P0, F0, out["groups"]))
    return out


def _ho_region(g: _HipGeom) -> tuple[float, float, float, float]:
    """Local bbox (mm) of the region around a hip where heterotopic bone may lie."""
    sgn = g.sgn
    hc = np.array(g.center)
    return (
        min(hc[0] - 20, hc[0] + sgn * 110),
        hc[1] - 95,
        max(hc[0] + 20, hc[0] + sgn * 110),
        hc[1] + 80,
    )


def _spur_paths(
    rng: np.random.Generator, g: _HipGeom, grade: int
) -> tuple[FloatArray, FloatArray, float, float]:
    """Paths of a pelvic spur (from the ilium above the joint towards the greater trochanter)
    and of a femoral spur (the other way), and their root and tip radii (mm)."""
    sgn = g.sgn
    t_root = rng.uniform(0.45, 1.0)
    root = g.root_a + t_root * (g.root_b - g.root_a)
    inward = np.array([-sgn * 1.0, -0.3])
    root = root + inward / np.linalg.norm(inward) * rng.uniform(2, 4)
    tgt = g.gt_top - g.shaft_up * rng.uniform(2, 5) + g.lat_perp * rng.uniform(-4, 4)
    mid = 0.5 * (root + tgt)
    bow = np.array([sgn, 0.0]) * rng.uniform(-4, 12) + np.array([0, rng.uniform(-4, 4)])
    path_p = _bezier(root, mid + bow, tgt + (tgt - root) / max(np.hypot(*(tgt - root)), 1) * 6, 18)
    fpath_bow = np.array([sgn, 0.0]) * rng.uniform(-4, 12)
    froot = g.gt_top - g.shaft_up * rng.uniform(3, 6) + g.lat_perp * rng.uniform(-3, 4)
    fend = root + (root - froot) / max(np.hypot(*(root - froot)), 1) * 6
    path_f = _bezier(froot, 0.5 * (froot + root) + fpath_bow, fend, 18)
    big = grade == 4 or rng.random() < 0.4
    r0 = rng.uniform(6, 12) if big else rng.uniform(3.5, 7)
    r1 = rng.uniform(3, 6) if big else rng.uniform(2, 4.5)
    return path_p, path_f, r0, r1


def _spur_tubes(
    rng: np.random.Generator, g: _HipGeom, grade: int, spurs: str, mature: bool
) -> tuple[_Tube | None, _Tube | None]:
    """The pelvic and the femoral spur that ``spurs`` asks for (None where it does not)."""
    path_p, path_f, r0, r1 = _spur_paths(rng, g, grade)
    ps_tube = fs_tube = None
    if spurs in ("pelvic", "both"):
        ps_tube = _spur_tube(rng, path_p, r0, r1, mature)
    if spurs in ("femoral", "both"):
        fs_tube = _spur_tube(rng, path_f, r0 * rng.uniform(0.7, 1.1), r1, mature)
    return ps_tube, fs_tube


def _grow_spurs(
    rng: np.random.Generator,
    hip: HipSpec,
    spurs: str,
    mature: bool,
    meter: _GapMeter,
    out: dict[str, Any],
) -> None:
    """Grow the spurs into a bridge (class IV) or to the target gap (II, III); record the
    measured gap in ``out`` and add the spurs' groups to it."""
    grade = hip.grade
    ps_tube, fs_tube = meter.ps_tube, meter.fs_tube
    target = hip.gap_mm
    out["target_gap_mm"] = target
    base_gap = meter.coarse_gap(3.0 if ps_tube else None, 3.0 if fs_tube else None)
    out["max_reachable_gap_mm"] = round(base_gap - 4.0, 2)
    target = _draw_target(rng, grade, target, base_gap)
    if target is not None:
        out["target_gap_mm"] = round(float(target), 3)
    lp_full = ps_tube.length if ps_tube else 0.0
    lf_full = fs_tube.length if fs_tube else 0.0
    if grade == 4:
        _grow_into_bridge(rng, meter, spurs, lp_full, lf_full)
        gap, pts = meter.fine_measure()
    else:
        assert target is not None
        growth = _Growth(ps_tube, fs_tube, spurs, float(rng.uniform(0.3, 0.7)), lp_full, lf_full)
        lam_final = _bisect_growth(growth, meter, target)
        gap, pts = meter.fine_measure()
        if gap is not None and gap > 0:
            gap, pts = _secant_to_target(growth, meter, lam_final, target, gap, pts)
    out["gap_mm"] = None if gap is None else float(gap)
    out["gap_points_mm"] = pts
    out["gap_resolution_mm"] = meter.res
    out["groups"].extend(_spur_groups(rng, ps_tube, fs_tube, gap, mature))


def _draw_target(
    rng: np.random.Generator, grade: int, target: float | None, base_gap: float
) -> float | None:
    """The target gap: the spec's, else drawn in the class's range (II: up to what the
    unexposed spurs leave reachable; 15 % of films close to 10 mm)."""
    if grade == 2 and target is None:
        hi_t = max(min(22.0, base_gap - 10.0), 10.8)
        target = (
            float(rng.uniform(10.5, hi_t))
            if rng.random() < 0.85
            else float(rng.uniform(10.1, 11.0))
        )
    if grade == 3 and target is None:
        target = (
            float(rng.uniform(0.8, 9.5)) if rng.random() < 0.85 else float(rng.uniform(8.8, 9.9))
        )
    return target


def _grow_into_bridge(
    rng: np.random.Generator, meter: _GapMeter, spurs: str, lp_full: float, lf_full: float
) -> None:
    """Class IV: grow the spurs past the opposite bone; with both, until they overlap."""
    ps_tube, fs_tube = meter.ps_tube, meter.fs_tube
    if ps_tube is not None:
        ps_tube.grow_mm = lp_full + 10
    if fs_tube is not None:
        fs_tube.grow_mm = lf_full + 10 if spurs == "femoral" else lf_full * rng.uniform(0.5, 0.9)
    if spurs == "both" and ps_tube is not None:
        ps_tube.grow_mm = lp_full * rng.uniform(0.5, 0.9)
        # make sure they meet: grow both until overlapping
        fl = fs_tube.grow_mm if fs_tube else None
        pl = ps_tube.grow_mm
        while meter.coarse_gap(pl, fl) > 0 and pl < lp_full + 10:
            pl += 2.0
        ps_tube.grow_mm = pl + 3.0


@dataclass
class _Growth:
    """The spurs' lengths as one parameter ``lam`` (0: 3 mm stubs, 1: the full paths); with
    both spurs the pelvic one takes ``share`` of the growth."""

    ps_tube: _Tube | None
    fs_tube: _Tube | None
    spurs: str
    share: float
    lp_full: float
    lf_full: float

    def set_len(self, lam: float) -> None:
        ps_tube, fs_tube, spurs = self.ps_tube, self.fs_tube, self.spurs
        lp_full, lf_full, share = self.lp_full, self.lf_full, self.share
        if spurs == "pelvic" and ps_tube is not None:
            ps_tube.grow_mm = 3.0 + lam * lp_full
        elif spurs == "femoral" and fs_tube is not None:
            fs_tube.grow_mm = 3.0 + lam * lf_full
        else:
            if ps_tube is not None:
                ps_tube.grow_mm = 3.0 + lam * share * lp_full
            if fs_tube is not None:
                fs_tube.grow_mm = 3.0 + lam * (1 - share) * lf_full


def _bisect_growth(growth: _Growth, meter: _GapMeter, target: float) -> float:
    """The growth ``lam`` whose coarse gap is just above ``target`` (16 bisection steps); the
    spurs are left at that length."""

    def f(lam: float) -> float:
        growth.set_len(lam)
        return meter.coarse_gap_now()

    lo, hi = 0.0, 1.4
    if f(lo) > target:
        for _ in range(16):
            mid_l = 0.5 * (lo + hi)
            if f(mid_l) > target:
                lo = mid_l
            else:
                hi = mid_l
    lam_final = lo
    growth.set_len(lam_final)
    return lam_final


def _secant_to_target(
    growth: _Growth, meter: _GapMeter, lam: float, target: float, gap: float, pts: Any
) -> tuple[float | None, Any]:
    """Secant steps on the growth parameter so the exact (fine) gap lands on the target:
    the last good (gap, end points)."""
    prev: tuple[float, float] | None = None
    for _ in range(4):
        if abs(gap - target) < 0.02:
            break
        if prev is not None and abs(prev[1] - gap) > 1e-6 and abs(prev[0] - lam) > 1e-9:
            slope = (prev[1] - gap) / (prev[0] - lam)
        else:
            slope = -(growth.lp_full + growth.lf_full) / (2 if growth.spurs == "both" else 1)
        if slope >= -1e-3:
            break
        new_lam = float(np.clip(lam + (target - gap) / slope, max(lam - 0.1, 0.0), lam + 0.1))
        growth.set_len(new_lam)
        g2, p2 = meter.fine_measure()
        if g2 is None or g2 == 0.0:
            growth.set_len(lam)
            break
        prev = (lam, gap)
        lam, gap, pts = new_lam, g2, p2
    return gap, pts


def _spur_groups(
    rng: np.random.Generator,
    ps_tube: _Tube | None,
    fs_tube: _Tube | None,
    gap: float | None,
    mature: bool,
) -> list[_Group]:
    """A group for each grown spur, a bridge when the gap closed."""
    groups = []
    for tube, kind in ((ps_tube, "pelvic_spur"), (fs_tube, "femoral_spur")):
        if tube is None or not tube.grow_mm:
            continue
        kind2 = "bridge" if gap == 0.0 else kind
        groups.append(
            _Group(
                f"ho_{kind}",
                [tube],
                MU_CORT * 0.95,
                MU_TRAB * rng.uniform(0.75, 1.05),
                texture=0.2 if mature else 0.45,
                role=kind2,
            )
        )
    return groups


def _island_count(rng: np.random.Generator, hip: HipSpec) -> int:
    """How many islands to place: the spec's, else 1-4 for class I and sometimes one beside
    spurs."""
    grade = hip.grade
    n_isl = hip.islands
    if n_isl is None:
        n_isl = (
            int(rng.integers(1, 5))
            if grade == 1
            else (int(rng.random() < 0.25) if grade >= 2 else 0)
        )
    return n_isl


def _island_centre(rng: np.random.Generator, g: _HipGeom) -> FloatArray:
    """A candidate island centre: in the abductors, along the neck, or beside the trochanter."""
    sgn = g.sgn
    where = rng.random()
    if where < 0.6:  # abductor region between ilium and trochanter
        a = g.root_a + rng.uniform(0, 1) * (g.root_b - g.root_a)
        c = a + rng.uniform(0.25, 0.8) * (g.gt_top - a) + np.array([sgn * rng.uniform(-2, 14), 0])
    elif where < 0.85:  # along the superior neck
        c = g.neck_base - g.neck_dir * rng.uniform(5, 25) + np.array([0, -rng.uniform(16, 26)])
    else:  # lateral to the trochanter
        c = g.gt_center + g.lat_perp * rng.uniform(20, 30) + g.shaft_up * rng.uniform(-10, 10)
    out: FloatArray = c
    return out


def _island_blob(rng: np.random.Generator, c: FloatArray, mature: bool) -> tuple[_Blob, float]:
    """An island at ``c`` and its size (semi-axis, mm)."""
    ra = rng.uniform(2.0, 9.0) if rng.random() < 0.7 else rng.uniform(7, 14)
    bl = _Blob(
        float(c[0]),
        float(c[1]),
        ra,
        ra * rng.uniform(0.45, 0.95),
        angle=rng.uniform(0, np.pi),
        depth=ra * rng.uniform(0.5, 0.9),
        cortex=rng.uniform(0.6, 1.6) if mature else 0.3,
        harmonics=_harm(rng, 4, rng.uniform(0.08, 0.2)),
    )
    return bl, ra


def _place_islands(
    rng: np.random.Generator,
    g: _HipGeom,
    n_isl: int,
    mature: bool,
    coarse: _TruthGrid,
    occ: BoolArray,
    gpts: Any,
) -> list[_Group]:
    """Up to ``n_isl`` islands (80 tries), each at least 3 mm from bone, spurs and the islands
    before it (``occ``, updated), and off the line of the measured gap ``gpts``."""
    groups: list[_Group] = []
    d_occ = _edt_outside(occ, coarse.res)
    placed = 0
    for _ in range(80):
        if placed >= n_isl:
            break
        c = _island_centre(rng, g)
        bl, ra = _island_blob(rng, c, mature)
        mk = coarse.mask([bl])
        if not mk.any() or float(d_occ[mk].min()) < 3.0:
            continue
        if gpts is not None and _near_gap_line(c, ra, gpts):
            continue
        occ |= mk
        d_occ = _edt_outside(occ, coarse.res)
        groups.append(
            _Group(
                "ho_island",
                [bl],
                MU_CORT * 0.9,
                MU_TRAB * rng.uniform(0.7, 1.05),
                texture=0.2 if mature else 0.45,
                role="island",
            )
        )
        placed += 1
    return groups


def _near_gap_line(c: FloatArray, ra: float, gpts: Any) -> bool:
    """Whether an island of size ``ra`` at ``c`` would sit on the segment of the gap."""
    a_, b_ = np.array(gpts[0]), np.array(gpts[1])
    ab = b_ - a_
    tt = np.clip(((c - a_) @ ab) / max(ab @ ab, 1e-9), 0, 1)
    return bool(np.hypot(*(c - (a_ + tt * ab))) < ra * 1.6 + 4)


def _fragment_areas(
    coarse: _TruthGrid, P0: BoolArray, F0: BoolArray, groups: list[_Group]
) -> list[dict[str, Any]]:
    """The fragment list: each group's ectopic area at the coarse resolution."""
    frags = []
    Pb, Fb = P0, F0
    for gr in groups:
        mk = coarse.mask(gr.shapes) & ~Pb & ~Fb
        frags.append({"kind": gr.role, "area_mm2": round(float(mk.sum()) * coarse.res**2, 1)})
    return frags


def _grade_from(hip: HipSpec, ho: dict[str, Any]) -> int:
    if hip.grade >= 2:
        g = ho["gap_mm"]
        if g is None:
            return 1 if ho.get("islands_placed") else 0
        if g <= 0:
            return 4
        return 2 if g >= BROOKER_GAP_THRESHOLD_MM else 3
    if hip.grade == 1 and not ho.get("islands_placed"):
        return 0
    return hip.grade
