"""Frames, pixel grids and smooth curves in the phantom's local anatomy frame (mm).

The anatomy lives in a local frame ``(u, v)`` in mm (``u`` towards the image right, ``v`` down,
origin between the hips); :class:`_Frame` places it on the film. :class:`_Grid` is the film's
pixel grid and :class:`_Window` a sub-window of it, so a shape is evaluated only where it can
be. :class:`_Waves` is analytic noise, evaluable at any resolution so that truth and rendering
agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.interpolate import CubicSpline

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _Frame:
    """Local anatomy frame -> world mm: ``w = c + R(angle) @ l``."""

    cx: float
    cy: float
    angle: float  # radians

    def to_world(self, u: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        return self.cx + ca * u - sa * v, self.cy + sa * u + ca * v

    def to_local(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        dx, dy = x - self.cx, y - self.cy
        return ca * dx + sa * dy, -sa * dx + ca * dy


@dataclass(frozen=True)
class _Grid:
    """A regular pixel grid (world mm) seen through a local frame."""

    rows: int
    cols: int
    row_mm: float
    col_mm: float
    frame: _Frame
    y0: float = 0.0
    x0: float = 0.0

    def window(
        self, bbox: tuple[float, float, float, float], pad: float = 1.0
    ) -> tuple[tuple[slice, slice], FloatArray, FloatArray, _Window] | None:
        """Sub-window covering a local bbox: slices, local U, V, and the window geometry."""
        u0, v0, u1, v1 = bbox
        cu = np.array([u0 - pad, u1 + pad, u1 + pad, u0 - pad])
        cv = np.array([v0 - pad, v0 - pad, v1 + pad, v1 + pad])
        x, y = self.frame.to_world(cu, cv)
        c0 = max(math.floor((x.min() - self.x0) / self.col_mm), 0)
        c1 = min(math.ceil((x.max() - self.x0) / self.col_mm) + 1, self.cols)
        r0 = max(math.floor((y.min() - self.y0) / self.row_mm), 0)
        r1 = min(math.ceil((y.max() - self.y0) / self.row_mm) + 1, self.rows)
        if c1 <= c0 or r1 <= r0:
            return None
        xs = self.x0 + np.arange(c0, c1) * self.col_mm
        ys = self.y0 + np.arange(r0, r1) * self.row_mm
        xx, yy = np.meshgrid(xs, ys)
        uu, vv = self.frame.to_local(xx, yy)
        win = _Window(self, r0, c0, r1 - r0, c1 - c0)
        return (slice(r0, r1), slice(c0, c1)), uu, vv, win


@dataclass(frozen=True)
class _Window:
    grid: _Grid
    r0: int
    c0: int
    rows: int
    cols: int

    def sub(
        self, bbox: tuple[float, float, float, float], pad: float = 0.5
    ) -> tuple[tuple[slice, slice], _Window] | None:
        """Slices (relative to this window) and the sub-window covering a local bbox."""
        u0, v0, u1, v1 = bbox
        corners = np.array(
            [[u0 - pad, v0 - pad], [u1 + pad, v0 - pad], [u1 + pad, v1 + pad], [u0 - pad, v1 + pad]]
        )
        rc = self.local_to_pix(corners)
        r0 = max(math.floor(rc[:, 0].min()), 0)
        r1 = min(math.ceil(rc[:, 0].max()) + 1, self.rows)
        c0 = max(math.floor(rc[:, 1].min()), 0)
        c1 = min(math.ceil(rc[:, 1].max()) + 1, self.cols)
        if r1 <= r0 or c1 <= c0:
            return None
        return (slice(r0, r1), slice(c0, c1)), _Window(
            self.grid, self.r0 + r0, self.c0 + c0, r1 - r0, c1 - c0
        )

    def local_to_pix(self, pts: FloatArray) -> FloatArray:
        """Local (N, 2) (u, v) -> window (row, col) floats."""
        x, y = self.grid.frame.to_world(pts[:, 0], pts[:, 1])
        col = (x - self.grid.x0) / self.grid.col_mm - self.c0
        row = (y - self.grid.y0) / self.grid.row_mm - self.r0
        return np.stack([row, col], axis=1)


@dataclass(frozen=True)
class _Waves:
    k: FloatArray  # (n, 2) wave vectors, rad/mm
    phase: FloatArray
    amp: FloatArray

    @staticmethod
    def make(rng: np.random.Generator, n: int, wl_min: float, wl_max: float) -> _Waves:
        wl = rng.uniform(wl_min, wl_max, n)
        th = rng.uniform(0, 2 * np.pi, n)
        k = np.stack([np.cos(th), np.sin(th)], 1) * (2 * np.pi / wl)[:, None]
        amp = wl / math.sqrt(float((wl**2).sum()) / 2.0)  # unit standard deviation
        return _Waves(k, rng.uniform(0, 2 * np.pi, n), amp)

    def __call__(self, u: FloatArray, v: FloatArray) -> FloatArray:
        out = np.zeros(np.shape(u))
        for (kx, ky), ph, a in zip(self.k, self.phase, self.amp, strict=True):
            out += a * np.cos(kx * u + ky * v + ph)
        return np.clip(out, -1.5, 1.5)


def _smooth_closed(ctrl: FloatArray, n: int = 240) -> FloatArray:
    """Periodic cubic spline through control points -> (n, 2) outline."""
    pts = np.vstack([ctrl, ctrl[:1]])
    d = np.hypot(*np.diff(pts, axis=0).T)
    t = np.concatenate([[0], np.cumsum(d)])
    cs = CubicSpline(t, pts, bc_type="periodic")
    return np.asarray(cs(np.linspace(0, t[-1], n, endpoint=False)))


def _smooth_open(ctrl: FloatArray, n: int = 24) -> FloatArray:
    d = np.hypot(*np.diff(ctrl, axis=0).T)
    t = np.concatenate([[0], np.cumsum(d)])
    cs = CubicSpline(t, ctrl, bc_type="natural")
    return np.asarray(cs(np.linspace(0, t[-1], n)))


def _poly_mask(rows: int, cols: int, rc: FloatArray) -> BoolArray:
    """Rasterise a polygon given as (row, col) floats (pixel centres at integers)."""
    from PIL import Image, ImageDraw

    img = Image.new("1", (cols, rows), 0)
    ImageDraw.Draw(img).polygon([(float(c), float(r)) for r, c in rc], fill=1, outline=1)
    return np.asarray(img, dtype=bool)


def _bezier(p0: FloatArray, p1: FloatArray, p2: FloatArray, n: int) -> FloatArray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
