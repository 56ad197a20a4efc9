"""Solids in the local frame: each gives an inside mask and projected path lengths (mm).

:class:`_Blob` (an ellipsoid with a wavy outline), :class:`_Tube` (cone frusta along a
polyline, optionally growing from its root, used for spurs), :class:`_Plate` (a flat bone
with a thickness field). ``fields`` returns (inside, total path, medullary path); the
difference is the cortical shell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from brooker.phantom.geometry import BoolArray, FloatArray, _poly_mask, _Waves, _Window

_Fields = tuple[BoolArray, FloatArray, FloatArray]


class _Shape:
    """A solid in the local frame: inside mask and projected (total, medullary) path in mm."""

    clip: tuple[tuple[float, float], tuple[float, float]] | None = None

    def bbox(self) -> tuple[float, float, float, float]:
        raise NotImplementedError

    def fields(self, u: FloatArray, v: FloatArray, win: _Window | None = None) -> _Fields:
        raise NotImplementedError

    def inside(self, u: FloatArray, v: FloatArray, win: _Window | None = None) -> BoolArray:
        return self.fields(u, v, win)[0]

    def _apply_clip(self, u: FloatArray, v: FloatArray, f: _Fields) -> _Fields:
        if self.clip is None:
            return f
        (pu, pv), (nu, nv) = self.clip
        keep = (u - pu) * nu + (v - pv) * nv >= 0
        return f[0] & keep, np.where(keep, f[1], 0.0), np.where(keep, f[2], 0.0)


@dataclass
class _Blob(_Shape):
    """Ellipsoid with a wavy outline; ``depth`` is the half thickness (z semi-axis)."""

    cu: float
    cv: float
    a: float  # semi-axis along its own x (mm)
    b: float
    angle: float = 0.0
    depth: float | None = None
    cortex: float = 1.5
    harmonics: tuple[tuple[int, float, float], ...] = ()
    shell_only: bool = False
    clip: tuple[tuple[float, float], tuple[float, float]] | None = None

    def bbox(self) -> tuple[float, float, float, float]:
        r = max(self.a, self.b) * (1 + sum(abs(h[1]) for h in self.harmonics))
        return (self.cu - r, self.cv - r, self.cu + r, self.cv + r)

    def fields(self, u: FloatArray, v: FloatArray, win: _Window | None = None) -> _Fields:
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        du, dv = u - self.cu, v - self.cv
        xr = (ca * du + sa * dv) / self.a
        yr = (-sa * du + ca * dv) / self.b
        rho = np.hypot(xr, yr)
        edge = np.ones_like(rho)
        if self.harmonics:
            th = np.arctan2(yr, xr)
            for k, amp, ph in self.harmonics:
                edge = edge + amp * np.cos(k * th + ph)
        q = rho / edge
        inside = q < 1.0
        depth = self.depth if self.depth is not None else min(self.a, self.b)
        total = 2 * depth * np.sqrt(np.clip(1 - q * q, 0, None))
        f_in = max(1.0 - self.cortex / max(min(self.a, self.b), 1e-6), 0.0)
        if f_in > 0:
            qi = q / f_in
            inner = 2 * depth * f_in * np.sqrt(np.clip(1 - qi * qi, 0, None))
        else:
            inner = np.zeros_like(total)
        if self.shell_only:
            inside = inside & (qi >= 1.0) if f_in > 0 else inside
            total = total - inner
            inner = np.zeros_like(total)
        return self._apply_clip(u, v, (inside, total, inner))


@dataclass
class _Tube(_Shape):
    """Union of cone frusta along a polyline (rounded ends), optional growth and wobble.

    With ``grow_mm`` set, only the first ``grow_mm`` of arc length exists and the radius
    tapers to zero over ``taper_mm`` before the tip; the solid grows monotonically with
    ``grow_mm`` (used to hit a target gap by bisection).
    """

    pts: FloatArray
    radius: FloatArray | float  # a float is the same radius all along (made an array below)
    cortex: FloatArray | float = 1.5
    grow_mm: float | None = None
    taper_mm: float = 6.0
    wobble: _Waves | None = None
    wobble_amp: float = 0.0
    depth_scale: float = 1.0
    clip: tuple[tuple[float, float], tuple[float, float]] | None = None

    def __post_init__(self) -> None:
        self.pts = np.asarray(self.pts, dtype=float)
        self.radius_arr = np.broadcast_to(np.asarray(self.radius, float), (len(self.pts),)).copy()
        self.cortex_arr = np.broadcast_to(np.asarray(self.cortex, float), (len(self.pts),)).copy()
        seg = np.diff(self.pts, axis=0)
        self.seg_len = np.hypot(seg[:, 0], seg[:, 1])
        self.s_at = np.concatenate([[0.0], np.cumsum(self.seg_len)])

    @property
    def length(self) -> float:
        return float(self.s_at[-1])

    def bbox(self) -> tuple[float, float, float, float]:
        r = float(self.radius_arr.max()) * (1 + abs(self.wobble_amp))
        return (
            float(self.pts[:, 0].min()) - r,
            float(self.pts[:, 1].min()) - r,
            float(self.pts[:, 0].max()) + r,
            float(self.pts[:, 1].max()) + r,
        )

    def fields(self, u: FloatArray, v: FloatArray, win: _Window | None = None) -> _Fields:
        shape = np.shape(u)
        inside = np.zeros(shape, bool)
        total = np.zeros(shape)
        inner = np.zeros(shape)
        wob = None
        rmax = float(self.radius_arr.max()) * (1 + abs(self.wobble_amp)) + 0.5
        for i in range(len(self.pts) - 1):
            a, b = self.pts[i], self.pts[i + 1]
            if self.grow_mm is not None and self.s_at[i] >= self.grow_mm:
                break
            lo_u, hi_u = min(a[0], b[0]) - rmax, max(a[0], b[0]) + rmax
            lo_v, hi_v = min(a[1], b[1]) - rmax, max(a[1], b[1]) + rmax
            sel: Any
            if win is not None:
                sw = win.sub((lo_u, lo_v, hi_u, hi_v))
                if sw is None:
                    continue
                sel = sw[0]
            else:
                sel = (u >= lo_u) & (u <= hi_u) & (v >= lo_v) & (v <= hi_v)
                if not sel.any():
                    continue
            us, vs = u[sel], v[sel]
            ab = b - a
            L2 = float(ab @ ab) or 1e-12
            t = np.clip(((us - a[0]) * ab[0] + (vs - a[1]) * ab[1]) / L2, 0, 1)
            d = np.hypot(us - (a[0] + t * ab[0]), vs - (a[1] + t * ab[1]))
            R = self.radius_arr[i] + t * (self.radius_arr[i + 1] - self.radius_arr[i])
            C = self.cortex_arr[i] + t * (self.cortex_arr[i + 1] - self.cortex_arr[i])
            if self.grow_mm is not None:
                s = self.s_at[i] + t * self.seg_len[i]
                R = R * np.sqrt(np.clip((self.grow_mm - s) / self.taper_mm, 0, 1))
            if self.wobble is not None and self.wobble_amp:
                if wob is None:
                    wob = np.zeros(shape)
                    wob_done = np.zeros(shape, bool)
                need = ~wob_done[sel]
                if need.any():
                    wsub = wob[sel]
                    wsub[need] = self.wobble(us[need], vs[need])
                    wob[sel] = wsub
                    wob_done[sel] = True
                R = R * (1 + self.wobble_amp * wob[sel])
            R = np.clip(R, 0, None)
            Ri = np.clip(R - C, 0, None)
            tot = 2 * self.depth_scale * np.sqrt(np.clip(R * R - d * d, 0, None))
            inn = 2 * self.depth_scale * np.sqrt(np.clip(Ri * Ri - d * d, 0, None))
            inside[sel] = inside[sel] | (d < R)
            total[sel] = np.maximum(total[sel], tot)
            inner[sel] = np.maximum(inner[sel], inn)
        return self._apply_clip(u, v, (inside, total, inner))


@dataclass
class _Plate(_Shape):
    """A flat bone (polygon) with a thickness field: base + dense rim + extra."""

    outline: FloatArray
    base_mm: float
    rim_mm: float
    rim_width: float
    extra: Callable[[FloatArray, FloatArray], FloatArray] | None = None
    holes: tuple[FloatArray, ...] = ()

    def bbox(self) -> tuple[float, float, float, float]:
        o = self.outline
        return (
            float(o[:, 0].min()),
            float(o[:, 1].min()),
            float(o[:, 0].max()),
            float(o[:, 1].max()),
        )

    def _mask_grid(self, win: _Window) -> BoolArray:
        m = _poly_mask(win.rows, win.cols, win.local_to_pix(self.outline))
        for h in self.holes:
            m &= ~_poly_mask(win.rows, win.cols, win.local_to_pix(h))
        return m

    def inside(self, u: FloatArray, v: FloatArray, win: _Window | None = None) -> BoolArray:
        if win is None:
            return self.fields(u, v, None)[0]
        return self._mask_grid(win)

    def fields(self, u: FloatArray, v: FloatArray, win: _Window | None = None) -> _Fields:
        if win is None:
            from skimage.measure import points_in_poly

            pts = np.stack([np.ravel(u), np.ravel(v)], 1)
            m = points_in_poly(pts, self.outline)
            for h in self.holes:
                m &= ~points_in_poly(pts, h)
            inside = m.reshape(np.shape(u))
            z = np.zeros(np.shape(u))
            return inside, z, z
        inside = self._mask_grid(win)
        d = ndi.distance_transform_edt(inside, sampling=(win.grid.row_mm, win.grid.col_mm))
        rim = self.rim_mm * np.exp(-np.clip(d - 0.6, 0, None) / self.rim_width)
        rim *= np.clip(d / 0.6, 0, 1)
        base = self.base_mm * np.sqrt(np.clip(d / 3.0, 0, 1))
        if self.extra is not None:
            base = base + self.extra(u, v) * np.clip(d / 4.0, 0, 1)
        total = np.where(inside, base + rim, 0.0)
        inner = np.where(inside, base, 0.0)
        return inside, total, inner


def _harm(rng: np.random.Generator, n: int, amp: float) -> tuple[tuple[int, float, float], ...]:
    return tuple(
        (int(k), float(rng.uniform(-amp, amp) / k**0.6), float(rng.uniform(0, 2 * np.pi)))
        for k in range(2, 2 + n)
    )
