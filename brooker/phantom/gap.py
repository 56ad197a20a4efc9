"""The truth gap: the edge-to-edge distance between the pelvic and the femoral side of a hip.

Measured on the analytic shapes rasterised on a local-frame grid (:class:`_TruthGrid`, no
rotation: distances are invariant): the closest pair of pixel centres with at least one end on
a spur (:func:`_pair_gap`), then refined to sub-pixel along the line between them
(:func:`_refine_gap`). :class:`_GapMeter` does it for one hip as its spurs grow: fast on a
coarse grid through distance maps of the fixed bone, exactly on a fine grid around the spurs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from brooker.phantom.geometry import BoolArray, FloatArray, _Frame, _Grid, _Window
from brooker.phantom.shapes import _Shape, _Tube


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


@dataclass
class _GapMeter:
    """The gap between the pelvic side (``p_shapes`` and the pelvic spur) and the femoral side
    (``f_shapes`` and the femoral spur) of one hip, at the spurs' current ``grow_mm``.

    ``P0``/``F0`` are the fixed bone on the coarse grid; ``res`` is the fine grid's resolution.
    """

    p_shapes: list[_Shape]
    f_shapes: list[_Shape]
    coarse: _TruthGrid
    P0: BoolArray
    F0: BoolArray
    res: float
    ps_tube: _Tube | None
    fs_tube: _Tube | None
    case: str = ""
    """Which end of the last :meth:`measure` lay on a spur: ``"ps"`` pelvic, ``"fs"`` femoral."""

    def __post_init__(self) -> None:
        # coarse evaluation via distance maps of the fixed sets
        self.dF = _edt_outside(self.F0, self.coarse.res)
        self.dP = _edt_outside(self.P0, self.coarse.res)
        self.u, self.v = self.coarse.uv()
        self.win = self.coarse.window()

    def measure(self, grid: _TruthGrid) -> tuple[float, FloatArray, FloatArray] | None:
        """Centre-to-centre gap on ``grid`` and its two end points (local mm), or None."""
        ps_tube, fs_tube = self.ps_tube, self.fs_tube
        Pb = grid.mask(self.p_shapes)
        Fb = grid.mask(self.f_shapes)
        psm = grid.mask([ps_tube]) if ps_tube else np.zeros_like(Pb)
        fsm = grid.mask([fs_tube]) if fs_tube else np.zeros_like(Fb)
        P, F = Pb | psm, Fb | fsm
        ps, fs = psm & ~Pb, fsm & ~Fb
        r = _pair_gap(P, F, ps, fs, grid.res)
        if r is None:
            return None
        val, a, b, case = r
        self.case = case
        pa = np.array([grid.u0 + a[1] * grid.res, grid.v0 + a[0] * grid.res])
        fb = np.array([grid.u0 + b[1] * grid.res, grid.v0 + b[0] * grid.res])
        return val, pa, fb

    def coarse_gap(self, pl: float | None, fl: float | None) -> float:
        """Gap on the coarse grid with the pelvic spur grown to ``pl`` and the femoral spur to
        ``fl`` mm (None: that spur left as it is); 0 when they touch."""
        ps_tube, fs_tube = self.ps_tube, self.fs_tube
        P0, F0, u, v, win = self.P0, self.F0, self.u, self.v, self.win
        vals = [np.inf]
        pm = fm = None
        if ps_tube is not None and pl is not None:
            ps_tube.grow_mm = pl
            pm = ps_tube.fields(u, v, win)[0]
        if fs_tube is not None and fl is not None:
            fs_tube.grow_mm = fl
            fm = fs_tube.fields(u, v, win)[0]
        # each grown spur against the other side's fixed bone: touching is a bridge (0)
        for m, own, other, d_other in ((pm, P0, F0, self.dF), (fm, F0, P0, self.dP)):
            if m is None:
                continue
            if (m & other).any():
                return 0.0
            e = m & ~own
            if e.any():
                vals.append(float(d_other[e].min()))
        if pm is not None and fm is not None:
            if (pm & fm).any():
                return 0.0
            e1, e2 = pm & ~P0, fm & ~F0
            if e1.any() and e2.any():
                vals.append(float(_edt_outside(e2, self.coarse.res)[e1].min()))
        return min(vals)

    def coarse_gap_now(self) -> float:
        """:meth:`coarse_gap` at the spurs' current lengths."""
        ps_tube, fs_tube = self.ps_tube, self.fs_tube
        return self.coarse_gap(
            ps_tube.grow_mm if ps_tube else None, fs_tube.grow_mm if fs_tube else None
        )

    def fine_measure(self) -> tuple[float | None, Any]:
        """Exact measurement on a fine grid around the spurs, then sub-pixel refinement:
        (gap mm, [[u, v] pelvic end, [u, v] femoral end]), or (None, None) without spurs."""
        ps_tube, fs_tube, res = self.ps_tube, self.fs_tube, self.res
        sp = [t for t in (ps_tube, fs_tube) if t is not None and (t.grow_mm or 0) > 0]
        if not sp:
            return None, None
        bb = np.array([t.bbox() for t in sp])
        g0 = self.coarse_gap(
            ps_tube.grow_mm if ps_tube else None, fs_tube.grow_mm if fs_tube else None
        )
        m = min(g0, 40.0) + 2.0
        fine_bb = (
            bb[:, 0].min() - m,
            bb[:, 1].min() - m,
            bb[:, 2].max() + m,
            bb[:, 3].max() + m,
        )
        r = self.measure(_TruthGrid.around(fine_bb, res))
        if r is None:
            return None, None
        gap, pa, fb = r
        if gap > 0:
            if self.case == "ps":
                gp: list[_Shape] = [ps_tube] if ps_tube else []
                gf = self.f_shapes + ([fs_tube] if fs_tube else [])
            else:
                gp = self.p_shapes + ([ps_tube] if ps_tube else [])
                gf = [fs_tube] if fs_tube else []
            g_ref, pa2, fb2 = _refine_gap(gp, gf, pa, fb)
            if r[0] - 2.0 * res <= g_ref <= r[0]:
                gap, pa, fb = g_ref, pa2, fb2
        return gap, [[float(pa[0]), float(pa[1])], [float(fb[0]), float(fb[1])]]
