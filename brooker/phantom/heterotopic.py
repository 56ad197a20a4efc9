"""Heterotopic bone around one hip (islands, pelvic and femoral spurs, bridges) and its truth.

Spurs grow along a path until the edge-to-edge gap between the pelvic and the femoral side
hits a target: a bisection on a coarse grid, then secant steps on the gap *measured* on a fine
grid (``truth_res_mm``) and refined to sub-pixel along the closest pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from brooker.phantom.anatomy import _HipGeom
from brooker.phantom.geometry import BoolArray, FloatArray, _bezier, _Frame, _Grid, _Waves, _Window
from brooker.phantom.scene import MU_CORT, MU_TRAB, _Group
from brooker.phantom.shapes import _Blob, _harm, _Shape, _Tube
from brooker.phantom.specs import HipSpec
from brooker.units import BROOKER_GAP_THRESHOLD_MM


@dataclass
class _TruthGrid:
    """A fine local-frame grid for truth (no rotation: distances are invariant)."""

    u0: float
    v0: float
    res: float
    rows: int
    cols: int

    @staticmethod
    def around(bbox: tuple[float, float, float, float], res: float) -> _TruthGrid:
        u0, v0, u1, v1 = bbox
        return _TruthGrid(
            u0, v0, res, math.ceil((v1 - v0) / res) + 1, math.ceil((u1 - u0) / res) + 1
        )

    def uv(self) -> tuple[FloatArray, FloatArray]:
        if not hasattr(self, "_uv"):
            us = self.u0 + np.arange(self.cols) * self.res
            vs = self.v0 + np.arange(self.rows) * self.res
            self._uv = np.meshgrid(us, vs)
        return self._uv[0], self._uv[1]

    def window(self) -> _Window:
        g = _Grid(self.rows, self.cols, self.res, self.res, _Frame(0, 0, 0), self.v0, self.u0)
        return _Window(g, 0, 0, self.rows, self.cols)

    def mask(self, shapes: Sequence[_Shape]) -> BoolArray:
        u, v = self.uv()
        win = self.window()
        m = np.zeros((self.rows, self.cols), bool)
        for s in shapes:
            sw = win.sub(s.bbox())
            if sw is None:
                continue
            sl, sub = sw
            m[sl] |= s.inside(u[sl], v[sl], sub)
        return m


def _edt_outside(mask: BoolArray, res: float) -> FloatArray:
    """Distance (mm) from every pixel to the nearest pixel of ``mask``."""
    if not mask.any():
        return np.full(mask.shape, np.inf)
    return np.asarray(ndi.distance_transform_edt(~mask, sampling=res))


def _pair_gap(
    P: BoolArray, F: BoolArray, ps: BoolArray, fs: BoolArray, res: float
) -> tuple[float, tuple[int, int], tuple[int, int], str] | None:
    """Smallest centre distance between pelvic-side and femoral-side pixels with at least one
    end on ectopic (spur) bone. ``P``/``F`` include their spurs; ``ps``/``fs`` are the ectopic
    parts. Returns (mm, pelvic (r, c), femoral (r, c)) or None without spurs."""
    best: tuple[float, tuple[int, int], tuple[int, int], str] | None = None
    for src, dst in ((ps, F), (fs, P)):
        if not src.any() or not dst.any():
            continue
        case = "ps" if src is ps else "fs"
        if (src & dst).any():
            rc = tuple(int(x) for x in np.argwhere(src & dst)[0])
            return 0.0, rc, rc, case  # type: ignore[return-value]
        d, idx = ndi.distance_transform_edt(~dst, sampling=res, return_indices=True)
        dd = np.where(src, d, np.inf)
        k = int(np.argmin(dd))
        r, c = divmod(k, src.shape[1])
        val = float(dd[r, c])
        near = (int(idx[0][r, c]), int(idx[1][r, c]))
        pair = ((r, c), near) if src is ps else (near, (r, c))
        if best is None or val < best[0]:
            best = (val, pair[0], pair[1], case)
    return best


def _refine_gap(
    p_shapes: Sequence[_Shape], f_shapes: Sequence[_Shape], pa: FloatArray, fb: FloatArray
) -> tuple[float, FloatArray, FloatArray]:
    """Sub-pixel edge-to-edge distance along the line between two nearby pixel centres."""
    d = fb - pa
    n = float(np.hypot(*d))
    if n == 0:
        return 0.0, pa, fb
    t = np.linspace(-0.15, 1.15, 4001)
    u = pa[0] + t * d[0]
    v = pa[1] + t * d[1]
    in_p = np.zeros(t.shape, bool)
    in_f = np.zeros(t.shape, bool)
    for s in p_shapes:
        in_p |= s.fields(u, v)[0]
    for s in f_shapes:
        in_f |= s.fields(u, v)[0]
    # from pa (pelvic side) towards fb: the first femoral-side sample, and the last
    # pelvic-side sample before it; the edges lie half a step outside each
    i0 = int(np.argmin(np.abs(t)))
    iff = np.nonzero(in_f[i0:])[0]
    if len(iff) == 0:
        return n, pa, fb
    ff = i0 + int(iff[0])
    ip = np.nonzero(in_p[:ff])[0]
    if len(ip) == 0:
        return n, pa, fb
    lp = int(ip[-1])
    gap = max((t[ff] - t[lp]) * n - (t[1] - t[0]) * n, 0.0)
    return gap, np.array([u[lp], v[lp]]), np.array([u[ff], v[ff]])


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
    sgn = g.sgn
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
    hc = np.array(g.center)
    roi_bb = (
        min(hc[0] - 20, hc[0] + sgn * 110),
        hc[1] - 95,
        max(hc[0] + 20, hc[0] + sgn * 110),
        hc[1] + 80,
    )
    if grade == 0 and not hip.islands:
        return out
    coarse = _TruthGrid.around(roi_bb, 0.25)
    P0 = coarse.mask(p_shapes)
    F0 = coarse.mask(f_shapes)
    mature = bool(rng.random() < 0.6)
    out["maturity"] = "corticated" if mature else "fluffy"
    spurs = hip.spurs
    if grade >= 2 and spurs in ("auto", ""):
        spurs = str(rng.choice(["pelvic", "femoral", "both"], p=[0.4, 0.3, 0.3]))
    ps_tube = fs_tube = None
    if grade >= 2:
        t_root = rng.uniform(0.45, 1.0)
        root = g.root_a + t_root * (g.root_b - g.root_a)
        inward = np.array([-sgn * 1.0, -0.3])
        root = root + inward / np.linalg.norm(inward) * rng.uniform(2, 4)
        tgt = g.gt_top - g.shaft_up * rng.uniform(2, 5) + g.lat_perp * rng.uniform(-4, 4)
        mid = 0.5 * (root + tgt)
        bow = np.array([sgn, 0.0]) * rng.uniform(-4, 12) + np.array([0, rng.uniform(-4, 4)])
        path_p = _bezier(
            root, mid + bow, tgt + (tgt - root) / max(np.hypot(*(tgt - root)), 1) * 6, 18
        )
        fpath_bow = np.array([sgn, 0.0]) * rng.uniform(-4, 12)
        froot = g.gt_top - g.shaft_up * rng.uniform(3, 6) + g.lat_perp * rng.uniform(-3, 4)
        fend = root + (root - froot) / max(np.hypot(*(root - froot)), 1) * 6
        path_f = _bezier(froot, 0.5 * (froot + root) + fpath_bow, fend, 18)
        big = grade == 4 or rng.random() < 0.4
        r0 = rng.uniform(6, 12) if big else rng.uniform(3.5, 7)
        r1 = rng.uniform(3, 6) if big else rng.uniform(2, 4.5)
        if spurs in ("pelvic", "both"):
            ps_tube = _spur_tube(rng, path_p, r0, r1, mature)
        if spurs in ("femoral", "both"):
            fs_tube = _spur_tube(rng, path_f, r0 * rng.uniform(0.7, 1.1), r1, mature)
        out["spurs"] = spurs

        def measure(grid: _TruthGrid) -> tuple[float, FloatArray, FloatArray] | None:
            Pb = grid.mask(p_shapes)
            Fb = grid.mask(f_shapes)
            psm = grid.mask([ps_tube]) if ps_tube else np.zeros_like(Pb)
            fsm = grid.mask([fs_tube]) if fs_tube else np.zeros_like(Fb)
            P, F = Pb | psm, Fb | fsm
            ps, fs = psm & ~Pb, fsm & ~Fb
            r = _pair_gap(P, F, ps, fs, grid.res)
            if r is None:
                return None
            val, a, b, case = r
            measure.case = case  # type: ignore[attr-defined]
            pa = np.array([grid.u0 + a[1] * grid.res, grid.v0 + a[0] * grid.res])
            fb = np.array([grid.u0 + b[1] * grid.res, grid.v0 + b[0] * grid.res])
            return val, pa, fb

        # coarse evaluation via distance maps of the fixed sets
        dF = _edt_outside(F0, coarse.res)
        dP = _edt_outside(P0, coarse.res)
        u, v = coarse.uv()
        win = coarse.window()

        def coarse_gap(pl: float | None, fl: float | None) -> float:
            vals = [np.inf]
            pm = fm = None
            if ps_tube is not None and pl is not None:
                ps_tube.grow_mm = pl
                pm = ps_tube.fields(u, v, win)[0]
            if fs_tube is not None and fl is not None:
                fs_tube.grow_mm = fl
                fm = fs_tube.fields(u, v, win)[0]
            if pm is not None:
                e = pm & ~P0
                if (pm & F0).any():
                    return 0.0
                if e.any():
                    vals.append(float(dF[e].min()))
            if fm is not None:
                e = fm & ~F0
                if (fm & P0).any():
                    return 0.0
                if e.any():
                    vals.append(float(dP[e].min()))
            if pm is not None and fm is not None:
                if (pm & fm).any():
                    return 0.0
                e1, e2 = pm & ~P0, fm & ~F0
                if e1.any() and e2.any():
                    vals.append(float(_edt_outside(e2, coarse.res)[e1].min()))
            return min(vals)

        target = hip.gap_mm
        out["target_gap_mm"] = target
        base_gap = coarse_gap(3.0 if ps_tube else None, 3.0 if fs_tube else None)
        out["max_reachable_gap_mm"] = round(base_gap - 4.0, 2)
        if grade == 2 and target is None:
            hi_t = max(min(22.0, base_gap - 10.0), 10.8)
            target = (
                float(rng.uniform(10.5, hi_t))
                if rng.random() < 0.85
                else float(rng.uniform(10.1, 11.0))
            )
        if grade == 3 and target is None:
            target = (
                float(rng.uniform(0.8, 9.5))
                if rng.random() < 0.85
                else float(rng.uniform(8.8, 9.9))
            )
        if target is not None:
            out["target_gap_mm"] = round(float(target), 3)
        lp_full = ps_tube.length if ps_tube else 0.0
        lf_full = fs_tube.length if fs_tube else 0.0
        if grade == 4:
            if ps_tube is not None:
                ps_tube.grow_mm = lp_full + 10
            if fs_tube is not None:
                fs_tube.grow_mm = (
                    lf_full + 10 if spurs == "femoral" else lf_full * rng.uniform(0.5, 0.9)
                )
            if spurs == "both" and ps_tube is not None:
                ps_tube.grow_mm = lp_full * rng.uniform(0.5, 0.9)
                # make sure they meet: grow both until overlapping
                fl = fs_tube.grow_mm if fs_tube else None
                pl = ps_tube.grow_mm
                while coarse_gap(pl, fl) > 0 and pl < lp_full + 10:
                    pl += 2.0
                ps_tube.grow_mm = pl + 3.0
        else:
            assert target is not None
            share = float(rng.uniform(0.3, 0.7))

            def set_len(lam: float) -> None:
                if spurs == "pelvic" and ps_tube is not None:
                    ps_tube.grow_mm = 3.0 + lam * lp_full
                elif spurs == "femoral" and fs_tube is not None:
                    fs_tube.grow_mm = 3.0 + lam * lf_full
                else:
                    if ps_tube is not None:
                        ps_tube.grow_mm = 3.0 + lam * share * lp_full
                    if fs_tube is not None:
                        fs_tube.grow_mm = 3.0 + lam * (1 - share) * lf_full

            def f(lam: float) -> float:
                set_len(lam)
                return coarse_gap(
                    ps_tube.grow_mm if ps_tube else None, fs_tube.grow_mm if fs_tube else None
                )

            lo, hi = 0.0, 1.4
            if f(lo) > target:
                for _ in range(16):
                    mid_l = 0.5 * (lo + hi)
                    if f(mid_l) > target:
                        lo = mid_l
                    else:
                        hi = mid_l
            lam_final = lo
            set_len(lam_final)

        # exact measurement on a fine grid around the spurs, then sub-pixel refinement
        def fine_measure() -> tuple[float | None, Any]:
            sp = [t for t in (ps_tube, fs_tube) if t is not None and (t.grow_mm or 0) > 0]
            if not sp:
                return None, None
            bb = np.array([t.bbox() for t in sp])
            g0 = coarse_gap(
                ps_tube.grow_mm if ps_tube else None, fs_tube.grow_mm if fs_tube else None
            )
            m = min(g0, 40.0) + 2.0
            fine_bb = (
                bb[:, 0].min() - m,
                bb[:, 1].min() - m,
                bb[:, 2].max() + m,
                bb[:, 3].max() + m,
            )
            r = measure(_TruthGrid.around(fine_bb, res))
            if r is None:
                return None, None
            gap, pa, fb = r
            if gap > 0:
                if measure.case == "ps":  # type: ignore[attr-defined]
                    gp: list[_Shape] = [ps_tube] if ps_tube else []
                    gf = f_shapes + ([fs_tube] if fs_tube else [])
                else:
                    gp = p_shapes + ([ps_tube] if ps_tube else [])
                    gf = [fs_tube] if fs_tube else []
                g_ref, pa2, fb2 = _refine_gap(gp, gf, pa, fb)
                if r[0] - 2.0 * res <= g_ref <= r[0]:
                    gap, pa, fb = g_ref, pa2, fb2
            return gap, [[float(pa[0]), float(pa[1])], [float(fb[0]), float(fb[1])]]

        gap, pts = fine_measure()
        # secant steps on the growth parameter so the exact gap lands on the target
        if grade in (2, 3) and target is not None and gap is not None and gap > 0:
            prev: tuple[float, float] | None = None
            lam = lam_final
            for _ in range(4):
                if abs(gap - target) < 0.02:
                    break
                if prev is not None and abs(prev[1] - gap) > 1e-6 and abs(prev[0] - lam) > 1e-9:
                    slope = (prev[1] - gap) / (prev[0] - lam)
                else:
                    slope = -(lp_full + lf_full) / (2 if spurs == "both" else 1)
                if slope >= -1e-3:
                    break
                new_lam = float(
                    np.clip(lam + (target - gap) / slope, max(lam - 0.1, 0.0), lam + 0.1)
                )
                set_len(new_lam)
                g2, p2 = fine_measure()
                if g2 is None or g2 == 0.0:
                    set_len(lam)
                    break
                prev = (lam, gap)
                lam, gap, pts = new_lam, g2, p2
        out["gap_mm"] = None if gap is None else float(gap)
        out["gap_points_mm"] = pts
        out["gap_resolution_mm"] = res
        for tube, kind in ((ps_tube, "pelvic_spur"), (fs_tube, "femoral_spur")):
            if tube is None or not tube.grow_mm:
                continue
            kind2 = "bridge" if gap == 0.0 else kind
            out["groups"].append(
                _Group(
                    f"ho_{kind}",
                    [tube],
                    MU_CORT * 0.95,
                    MU_TRAB * rng.uniform(0.75, 1.05),
                    texture=0.2 if mature else 0.45,
                    role=kind2,
                )
            )
    # islands
    n_isl = hip.islands
    if n_isl is None:
        n_isl = (
            int(rng.integers(1, 5))
            if grade == 1
            else (int(rng.random() < 0.25) if grade >= 2 else 0)
        )
    if n_isl:
        occ = P0 | F0
        for gr in out["groups"]:
            occ |= coarse.mask(gr.shapes)
        gpts = out.get("gap_points_mm")
        d_occ = _edt_outside(occ, coarse.res)
        placed = 0
        for _ in range(80):
            if placed >= n_isl:
                break
            where = rng.random()
            if where < 0.6:  # abductor region between ilium and trochanter
                a = g.root_a + rng.uniform(0, 1) * (g.root_b - g.root_a)
                c = (
                    a
                    + rng.uniform(0.25, 0.8) * (g.gt_top - a)
                    + np.array([sgn * rng.uniform(-2, 14), 0])
                )
            elif where < 0.85:  # along the superior neck
                c = (
                    g.neck_base
                    - g.neck_dir * rng.uniform(5, 25)
                    + np.array([0, -rng.uniform(16, 26)])
                )
            else:  # lateral to the trochanter
                c = (
                    g.gt_center
                    + g.lat_perp * rng.uniform(20, 30)
                    + g.shaft_up * rng.uniform(-10, 10)
                )
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
            mk = coarse.mask([bl])
            if not mk.any() or float(d_occ[mk].min()) < 3.0:
                continue
            if gpts is not None:
                a_, b_ = np.array(gpts[0]), np.array(gpts[1])
                ab = b_ - a_
                tt = np.clip(((c - a_) @ ab) / max(ab @ ab, 1e-9), 0, 1)
                if np.hypot(*(c - (a_ + tt * ab))) < ra * 1.6 + 4:
                    continue
            occ |= mk
            d_occ = _edt_outside(occ, coarse.res)
            out["groups"].append(
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
        out["islands_placed"] = placed
    # fragment list: ectopic area at coarse resolution
    Pb, Fb = P0, F0
    for gr in out["groups"]:
        mk = coarse.mask(gr.shapes) & ~Pb & ~Fb
        out["fragments"].append(
            {"kind": gr.role, "area_mm2": round(float(mk.sum()) * coarse.res**2, 1)}
        )
    return out


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
