"""Synthetic AP pelvis radiographs with known per-hip Brooker class and gap.

The generator draws anatomy from analytic shapes in millimetres at the patient plane
(iliac wings, sacrum, L5, pubic rami and ischium around the obturator foramina, acetabular
roof, femoral heads, necks, trochanters and shafts), optional total hip prostheses, and
heterotopic bone (islands, pelvic and femoral spurs, bridges) whose edge-to-edge gap is set to
a target and then *measured* on the same shapes at a fine resolution.

Rendering is a line-integral model: every structure contributes a projected path length
(chord through an ellipsoid, tube or plate, with a denser cortical shell); within one bone the
parts are combined by maximum, across bones (and soft tissue, gas, metal) attenuation adds.
The detector turns ``exp(-A)`` into photon counts with a heel-effect gradient, scatter,
blur and quantum noise, takes the log (bone bright), applies optional edge enhancement and a
random monotone tone curve, and quantises to 10-16 bits stored.

Coordinates: the anatomy lives in a *local* frame ``(u, v)`` in mm (``u`` towards the image
right, ``v`` down, origin between the hips at the level of the hip centres); a small in-plane
rotation and a shift place it on the image. Pixel ``(row, col)`` has its centre at
``(row * row_mm, col * col_mm)`` in world mm. Unflipped films show the patient's right hip on
the image left (``(0020,0020) Patient Orientation`` ``L\\F``).

Everything is deterministic by ``PhantomSpec.seed``; independent random streams are used for
anatomy, heterotopic bone, hard negatives and the detector, so changing the noise level does
not move a bone.

Public API: :class:`HipSpec`, :class:`PhantomSpec`, :class:`Phantom`, :func:`render`,
:func:`random_spec`, :func:`write`, :func:`make_dataset`, :func:`make_samples`, :func:`main`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from scipy.interpolate import CubicSpline

from brooker.units import BROOKER_GAP_THRESHOLD_MM

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# --------------------------------------------------------------------------------------------
# Specification
# --------------------------------------------------------------------------------------------

SPURS = ("pelvic", "femoral", "both")
SPACING_TAGS = ("calibrated", "imager_magnification", "imager_only", "pixel_only", "none")
BODIES = ("pelvis", "knee", "chest")

#: Attenuation coefficients in 1/mm (roughly 60-70 keV effective).
MU_WATER = 0.020
MU_TRAB = 0.032
MU_CORT = 0.060
MU_TITANIUM = 0.28
MU_COCR = 1.2
MU_STEEL = 1.0
MU_LEAD = 4.0


@dataclass(frozen=True)
class HipSpec:
    """What to draw at one hip.

    Parameters
    ----------
    grade : int
        Brooker class 0-4 (0 none, 1 islands, 2 spurs with gap >= 10 mm, 3 spurs with gap
        < 10 mm, 4 bridge).
    gap_mm : float or None
        Target edge-to-edge gap at the patient for classes 2 and 3 (None: drawn at random in
        the class's range). The truth reports the gap measured on the drawn shapes.
    prosthesis : bool
        Total hip arthroplasty (cup, head, stem) instead of the native joint.
    spurs : str
        ``"pelvic"``, ``"femoral"``, ``"both"`` or ``"auto"`` (random) for classes 2-4.
    islands : int or None
        Number of free islands (class 1: 1-4 when None; other classes: extra islands beside
        the spurs, 0 when None).
    """

    grade: int
    gap_mm: float | None = None
    prosthesis: bool = False
    spurs: str = "auto"
    islands: int | None = None

    def __post_init__(self) -> None:
        if self.grade not in (0, 1, 2, 3, 4):
            raise ValueError(f"grade must be 0-4, got {self.grade!r}")
        if self.spurs not in (*SPURS, "auto", ""):
            raise ValueError(f"spurs must be one of {SPURS} or 'auto', got {self.spurs!r}")
        if self.gap_mm is not None:
            if self.grade not in (2, 3):
                raise ValueError("gap_mm is only meaningful for grades 2 and 3")
            if not math.isfinite(self.gap_mm) or self.gap_mm <= 0:
                raise ValueError(f"gap_mm must be > 0, got {self.gap_mm!r}")
            if self.grade == 2 and self.gap_mm < BROOKER_GAP_THRESHOLD_MM:
                raise ValueError("grade 2 needs gap_mm >= 10")
            if self.grade == 3 and self.gap_mm >= BROOKER_GAP_THRESHOLD_MM:
                raise ValueError("grade 3 needs gap_mm < 10")


@dataclass(frozen=True)
class PhantomSpec:
    """Everything that defines one synthetic radiograph (deterministic by ``seed``).

    Lengths are in mm at the patient. ``spacing_mm`` is the row spacing at the patient;
    the column spacing is ``spacing_mm * anisotropy``. The detector (Imager Pixel Spacing)
    spacing is the patient spacing times ``magnification``.
    """

    seed: int
    right: HipSpec = HipSpec(0)
    left: HipSpec = HipSpec(0)
    spacing_mm: float = 0.16
    anisotropy: float = 1.0
    field_mm: tuple[float, float] | None = None
    """(height, width) of the field at the patient; None: drawn from the seed."""
    flipped: bool = False
    monochrome1: bool = False
    magnification: float = 1.15
    noise: float = 1.0
    """Quantum noise scale (1 typical, 0 none, 3 very noisy)."""
    blur_mm: float = 0.3
    """Gaussian PSF sigma in mm."""
    bits_stored: int = 12
    tone: str = "random"
    """``"linear"``, ``"gamma"``, ``"sigmoid"`` or ``"random"``."""
    edge_enhance: float | None = None
    """Unsharp-mask gain (None: from the seed)."""
    heel: float | None = None
    """Heel-effect gradient across the rows, relative (None: from the seed)."""
    scatter: float | None = None
    """Scatter-to-primary fraction (None: from the seed)."""
    drc: float | None = None
    """Dynamic-range-compression strength, 0 (none) to 1 (None: 0.3-0.8 from the seed)."""
    staples: bool = False
    marker: bool = False
    calibration_ball: bool = False
    ball_diameter_mm: float | None = None
    """Diameter of the calibration ball at the patient (None: 25 mm x 0.95-1.05 from the seed)."""
    ball_centers_mm: tuple[tuple[float, float], ...] = ()
    """Local-frame ``(u, v)`` centres of the calibration balls, mm (u to the image right, v
    down, origin between the hips); empty: one ball placed from the seed."""
    implant_head_mm: float | None = None
    """Diameter of every prosthetic head (None: 28, 32 or 36 mm from the seed)."""
    cerclage: bool = False
    collimation: bool = False
    collimation_style: str = "white"
    """``"white"`` (unexposed border, CR) or ``"black"`` (electronically masked)."""
    burned_text: bool = False
    bowel_gas: bool = True
    phleboliths: bool = False
    screws: bool = False
    hip_view: str | None = None
    """``"right"`` or ``"left"``: a single-hip view centred on that hip."""
    body: str = "pelvis"
    """``"pelvis"``, or a non-hip negative: ``"knee"`` or ``"chest"``."""
    rotation_deg: float | None = None
    head_diameter_mm: float | None = None
    neck_shaft_deg: float | None = None
    pelvis_scale: float | None = None
    soft_tissue_mm: float | None = None
    """AP soft-tissue thickness at the midline (None: from the seed)."""
    spacing_tags: str = "calibrated"
    transfer_syntax: str = "explicit_le"
    modality: str = "DX"

    def __post_init__(self) -> None:
        if not (0.05 <= self.spacing_mm <= 1.0):
            raise ValueError(f"spacing_mm out of range: {self.spacing_mm!r}")
        if not (0.5 <= self.anisotropy <= 2.0):
            raise ValueError(f"anisotropy out of range: {self.anisotropy!r}")
        if not (1.0 <= self.magnification <= 1.6):
            raise ValueError(f"magnification out of range: {self.magnification!r}")
        if not (8 <= self.bits_stored <= 16):
            raise ValueError(f"bits_stored must be 8-16, got {self.bits_stored!r}")
        if self.hip_view not in (None, "right", "left"):
            raise ValueError(f"hip_view must be None, 'right' or 'left': {self.hip_view!r}")
        if self.body not in BODIES:
            raise ValueError(f"body must be one of {BODIES}: {self.body!r}")
        if self.spacing_tags not in SPACING_TAGS:
            raise ValueError(f"spacing_tags must be one of {SPACING_TAGS}")
        if self.tone not in ("linear", "gamma", "sigmoid", "random"):
            raise ValueError(f"unknown tone {self.tone!r}")
        if self.collimation_style not in ("white", "black"):
            raise ValueError(f"unknown collimation_style {self.collimation_style!r}")

    @property
    def row_mm(self) -> float:
        """Row spacing at the patient, mm."""
        return float(self.spacing_mm)

    @property
    def col_mm(self) -> float:
        """Column spacing at the patient, mm."""
        return float(self.spacing_mm * self.anisotropy)


@dataclass(frozen=True, eq=False)
class Phantom:
    """A rendered radiograph with its truth.

    ``pixels`` are the stored values (uint16, bone bright, before any MONOCHROME1
    inversion, which :func:`write` applies). ``spacing`` is ``(row_mm, col_mm)`` at the
    patient.
    """

    pixels: npt.NDArray[np.uint16]
    truth: dict[str, Any]
    spacing: tuple[float, float]
    spec: PhantomSpec
    masks: dict[str, BoolArray] = field(default_factory=dict)
    """Per-hip label masks at the pixel grid (only when ``render(..., masks=True)``)."""


# --------------------------------------------------------------------------------------------
# Random streams
# --------------------------------------------------------------------------------------------


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(stream.encode())])


# --------------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------------


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
        corners = np.array([[u0 - pad, v0 - pad], [u1 + pad, v0 - pad], [u1 + pad, v1 + pad],
                            [u0 - pad, v1 + pad]])
        rc = self.local_to_pix(corners)
        r0 = max(math.floor(rc[:, 0].min()), 0)
        r1 = min(math.ceil(rc[:, 0].max()) + 1, self.rows)
        c0 = max(math.floor(rc[:, 1].min()), 0)
        c1 = min(math.ceil(rc[:, 1].max()) + 1, self.cols)
        if r1 <= r0 or c1 <= c0:
            return None
        return (slice(r0, r1), slice(c0, c1)), _Window(self.grid, self.r0 + r0, self.c0 + c0,
                                                       r1 - r0, c1 - c0)

    def local_to_pix(self, pts: FloatArray) -> FloatArray:
        """Local (N, 2) (u, v) -> window (row, col) floats."""
        x, y = self.grid.frame.to_world(pts[:, 0], pts[:, 1])
        col = (x - self.grid.x0) / self.grid.col_mm - self.c0
        row = (y - self.grid.y0) / self.grid.row_mm - self.r0
        return np.stack([row, col], axis=1)


# --------------------------------------------------------------------------------------------
# Analytic noise (evaluable at any resolution, so truth and rendering agree)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Scene
# --------------------------------------------------------------------------------------------


@dataclass
class _Group:
    """Shapes of one bone (combined by max) or of one material class."""

    name: str
    shapes: list[_Shape]
    mu_cort: float = MU_CORT
    mu_trab: float = MU_TRAB
    texture: float = 0.35
    kind: str = "bone"  # bone | metal | gas | soft
    side: str = ""  # "right"/"left" for per-hip truth sets
    role: str = ""  # pelvis | femur | pelvic_spur | femoral_spur | island | bridge | ...

    def bbox(self) -> tuple[float, float, float, float]:
        bb = np.array([s.bbox() for s in self.shapes])
        return (bb[:, 0].min(), bb[:, 1].min(), bb[:, 2].max(), bb[:, 3].max())

    def eval(
        self, u: FloatArray, v: FloatArray, win: _Window | None = None
    ) -> tuple[BoolArray, FloatArray, FloatArray]:
        inside = np.zeros(np.shape(u), bool)
        total = np.zeros(np.shape(u))
        inner = np.zeros(np.shape(u))
        for s in self.shapes:
            if win is None:
                i, t, n = s.fields(u, v, None)
                inside |= i
                np.maximum(total, t, out=total)
                np.maximum(inner, n, out=inner)
                continue
            sw = win.sub(s.bbox())
            if sw is None:
                continue
            sl, sub = sw
            i, t, n = s.fields(u[sl], v[sl], sub)
            inside[sl] |= i
            np.maximum(total[sl], t, out=total[sl])
            np.maximum(inner[sl], n, out=inner[sl])
        return inside, total, inner


@dataclass
class _Scene:
    groups: list[_Group]
    frame: _Frame
    body: Callable[[FloatArray, FloatArray], FloatArray]
    hips: dict[str, dict[str, Any]]
    world_items: list[dict[str, Any]]
    field_hw: tuple[float, float]  # (height, width) mm
    collimation: tuple[float, float, float, float, float] | None = None


# --------------------------------------------------------------------------------------------
# Anatomy
# --------------------------------------------------------------------------------------------


def _harm(rng: np.random.Generator, n: int, amp: float) -> tuple[tuple[int, float, float], ...]:
    return tuple(
        (int(k), float(rng.uniform(-amp, amp) / k**0.6), float(rng.uniform(0, 2 * np.pi)))
        for k in range(2, 2 + n)
    )


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


def _hemipelvis(
    rng: np.random.Generator, sgn: float, hw: float, rh: float, k: float, prosthesis: bool
) -> tuple[list[_Shape], list[_Shape], FloatArray, FloatArray, dict[str, Any]]:
    """Innominate bone of one side: plate + rami + ischium; returns (bone, lines, roots)."""
    ce = math.radians(rng.uniform(22, 40))
    js = rng.uniform(2.0, 5.0)
    ra = rh + js
    def j(s: float) -> float:
        return float(rng.uniform(-s, s))

    lat = [
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

    plate = _Plate(outline, base_mm=rng.uniform(5, 9), rim_mm=rng.uniform(6, 10),
                   rim_width=rng.uniform(1.2, 2.5), extra=extra)
    sym_l = 2.5 + rng.uniform(0, 1.5)
    sup_ramus = _Tube(
        _smooth_open(_mirror([(hw - 24 * k, 14 * k), (hw - 46 * k, 20 * k), (sym_l + 30, 26 * k),
                              (sym_l + 12, 34 * k)], sgn), 10),
        np.array([12, 10.5, 9, 8, 8, 8, 8.5, 9, 9.5, 10]) * math.sqrt(k), cortex=1.6)
    pubis = _Blob(sgn * (sym_l + 11), 42 * k, 11, 16 * k, angle=0.0, depth=10, cortex=2.0,
                  harmonics=_harm(rng, 3, 0.05))
    inf_ramus = _Tube(
        _smooth_open(_mirror([(sym_l + 10, 50 * k), (sym_l + 20, 68 * k), (sym_l + 38, 82 * k),
                              (hw - 28 * k, 88 * k)], sgn), 10),
        np.array([8, 7, 6.5, 6.5, 6.5, 7, 7.5, 8, 8.5, 9]) * math.sqrt(k), cortex=1.8)
    ischium = _Tube(
        _mirror([(hw - 14 * k, rh + 4), (hw - 16 * k, 58 * k), (hw - 22 * k, 86 * k)], sgn),
        np.array([12, 9.5, 11]) * math.sqrt(k), cortex=2.0)
    tuber = _Blob(sgn * (hw - 24 * k), 90 * k, 16 * k, 11 * k, angle=_ang(sgn, 0.3), depth=14,
                  cortex=2.5, harmonics=_harm(rng, 3, 0.06))
    bone: list[_Shape] = [plate, sup_ramus, pubis, inf_ramus, ischium, tuber]
    # dense lines: sourcil (acetabular roof), teardrop, iliopectineal & ilioischial lines
    arc = np.linspace(math.radians(-62), ce * 0.98, 14)
    sourcil = _Tube(np.stack([sgn * (hw + (ra + 1.0) * np.sin(arc)), -(ra + 1.0) * np.cos(arc)], 1),
                    rng.uniform(1.6, 2.8), cortex=10.0, depth_scale=rng.uniform(3.0, 5.0))
    tear = _Tube(
        _mirror([(hw - ra - 1, -4), (hw - ra - 3, 12), (hw - ra + 4, 20), (hw - ra + 6, 9)], sgn),
        1.2,
        cortex=10,
        depth_scale=2.2,
    )
    brim = _Tube(_smooth_open(_mirror([(36 * k, -54 * k), (52 * k, -34 * k), (hw - 32 * k, -16 * k),
                                       (hw - 40 * k, 12 * k), (sym_l + 14, 30 * k)], sgn), 20),
                 1.1, cortex=10, depth_scale=2.0)
    lines: list[_Shape] = [sourcil, tear, brim]
    root_a = np.array(lat[1]) * [sgn, 1]
    root_b = (0.6 * np.array(lat[2]) + 0.4 * np.array(lat[3])) * [sgn, 1]
    info = {"ce_deg": math.degrees(ce), "joint_space_mm": js, "acetabulum_r": ra,
            "symphysis_half": sym_l}
    return bone, lines, root_a, root_b, info


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
    neck_r = rh * rng.uniform(0.62, 0.72)
    head = _Blob(h[0], h[1], rh, rh, depth=rh, cortex=rng.uniform(1.0, 1.8))
    mid = h + neck_dir * m * neck_len * 0.5
    neck = _Tube(np.stack([h, mid, base]), np.array([neck_r * 1.05, neck_r * 0.92, neck_r * 1.35]),
                 cortex=np.array([1.2, 1.8, 2.2]))
    gt_len = rh * rng.uniform(1.05, 1.3)
    gt_w = rh * rng.uniform(0.55, 0.75)
    gt_c = base + su * rng.uniform(18, 26) + lp * (shaft_r * rng.uniform(0.75, 1.05))
    ang_su = math.atan2(su[1], su[0])
    gt = _Blob(gt_c[0], gt_c[1], gt_len, gt_w, angle=ang_su, depth=gt_w * 1.1,
               cortex=1.6, harmonics=_harm(rng, 3, 0.07))
    gt_top = gt_c + su * gt_len * 0.96
    inter = _Blob(base[0] + lp[0] * 4, base[1] + lp[1] * 4, shaft_r * 1.45, shaft_r * 1.2,
                  angle=ang_su, depth=shaft_r * 1.2, cortex=1.5)
    lt_c = base + sd * rng.uniform(32, 46) - lp * shaft_r * rng.uniform(0.85, 1.05)
    lt = _Blob(lt_c[0], lt_c[1], rh * 0.42, rh * 0.3, angle=ang_su + sgn * 0.5, depth=rh * 0.3,
               cortex=1.5, harmonics=_harm(rng, 2, 0.06))
    top = base + sd * 5
    t = np.array([0, 40, 90, 160, 420.0])
    shaft_pts = top[None, :] + t[:, None] * sd[None, :]
    rprof = shaft_r * np.array([1.35, 1.1, 0.95, 0.9, 0.85])
    cprof = np.array([1.8, 3.5, rng.uniform(4.5, 7), rng.uniform(5, 7.5), 6.0])
    shaft = _Tube(shaft_pts, rprof, cortex=cprof)
    return {
        "head": head, "neck": neck, "gt": gt, "inter": inter, "lt": lt, "shaft": shaft,
        "h": h, "base": base, "sd": sd, "su": su, "lp": lp, "gt_c": gt_c, "gt_top": gt_top,
        "shaft_r": shaft_r, "neck_dir": neck_dir * m, "lt_c": lt_c, "gt_w": gt_w,
    }


def _prosthesis(
    rng: np.random.Generator, sgn: float, f: dict[str, Any], rh: float, screws: bool,
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
    cup = _Blob(cup_c[0], cup_c[1], cup_r, cup_r, depth=cup_r, cortex=shell, shell_only=True,
                clip=((float(cup_c[0]), float(cup_c[1])), (float(-n_open[0]), float(-n_open[1]))))
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
    stem = _Tube(stem_pts, np.array([5.5, 6.0, sr * 0.62, sr * 0.5, sr * 0.40, sr * 0.22]),
                 cortex=30.0, depth_scale=rng.uniform(0.45, 0.7))
    mu_stem = float(rng.choice([MU_TITANIUM * 2, MU_COCR]))
    mu_cup = float(rng.choice([MU_TITANIUM, MU_COCR * 0.6]))
    metal: list[tuple[_Shape, float]] = [(cup, mu_cup), (head, MU_COCR), (stem, mu_stem)]
    if screws:
        for _ in range(int(rng.integers(1, 3))):
            a = math.radians(rng.uniform(-40, 20))
            d = np.array([sgn * math.sin(a), -math.cos(a)])
            p0 = cup_c + d * (cup_r - 6)
            metal.append((_Tube(np.stack([p0, p0 + d * rng.uniform(22, 38)]), 3.1, cortex=10.0),
                          MU_STEEL))
    info = {"cup_outer_d_mm": 2 * cup_r, "head_d_mm": 2 * head_r,
            "inclination_deg": math.degrees(incl), "center": head_c}
    return metal, cut, info


# --------------------------------------------------------------------------------------------
# Heterotopic bone and the truth gap
# --------------------------------------------------------------------------------------------


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
        return _TruthGrid(u0, v0, res, math.ceil((v1 - v0) / res) + 1,
                          math.ceil((u1 - u0) / res) + 1)

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


def _bezier(p0: FloatArray, p1: FloatArray, p2: FloatArray, n: int) -> FloatArray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


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


def _build_ho(
    rng: np.random.Generator, g: _HipGeom, hip: HipSpec, res: float
) -> dict[str, Any]:
    """Heterotopic bone for one hip, with the measured truth gap."""
    sgn = g.sgn
    grade = hip.grade
    out: dict[str, Any] = {"groups": [], "gap_mm": None, "spurs": "", "fragments": [],
                           "gap_points_mm": None, "target_gap_mm": hip.gap_mm}
    p_shapes = list(g.pelvis)
    f_shapes = list(g.femur)
    hc = np.array(g.center)
    roi_bb = (
        min(hc[0] - 20, hc[0] + sgn * 110), hc[1] - 95,
        max(hc[0] + 20, hc[0] + sgn * 110), hc[1] + 80,
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
                return coarse_gap(ps_tube.grow_mm if ps_tube else None,
                                  fs_tube.grow_mm if fs_tube else None)

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
            out["groups"].append(_Group(f"ho_{kind}", [tube], MU_CORT * 0.95,
                                        MU_TRAB * rng.uniform(0.75, 1.05),
                                        texture=0.2 if mature else 0.45, role=kind2))
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
            bl = _Blob(float(c[0]), float(c[1]), ra, ra * rng.uniform(0.45, 0.95),
                       angle=rng.uniform(0, np.pi), depth=ra * rng.uniform(0.5, 0.9),
                       cortex=rng.uniform(0.6, 1.6) if mature else 0.3,
                       harmonics=_harm(rng, 4, rng.uniform(0.08, 0.2)))
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


# --------------------------------------------------------------------------------------------
# Scene assembly
# --------------------------------------------------------------------------------------------


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
            metal, cut, pros_info = _prosthesis(rs, sgn, f, rh, spec.screws,
                                                spec.implant_head_mm)
            for s in (f["neck"], f["inter"], f["lt"], f["shaft"]):
                s.clip = cut
            femur_shapes = [f["neck"], f["inter"], f["gt"], f["lt"], f["shaft"]]
            c = pros_info.pop("center")
            center = (float(c[0]), float(c[1]))
        g = _HipGeom(side, sgn, (float(f["h"][0]), float(f["h"][1])), rh, bone, femur_shapes,
                     ra, rb, f["gt_top"], f["gt_c"], f["su"], f["lp"], f["base"], f["neck_dir"],
                     f["shaft_r"], cut, metal)
        geoms[side] = g
        groups.append(_Group(f"pelvis_{side}", bone, texture=0.16, side=side, role="pelvis"))
        groups.append(_Group(f"lines_{side}", lines, mu_cort=MU_CORT, mu_trab=MU_CORT, texture=0.1,
                             side=side, role="pelvis_lines"))
        groups.append(_Group(f"femur_{side}", femur_shapes, texture=0.16, side=side, role="femur"))
        for s, mu in metal:
            groups.append(_Group(f"metal_{side}", [s], mu, mu, texture=0.0, kind="metal", side=side,
                                 role="prosthesis"))
        ho = _build_ho(rng_ho, g, hs, truth_res)
        for gr in ho["groups"]:
            gr.side = side
            groups.append(gr)
        grade = _grade_from(hs, ho)
        hips[side] = {
            "center_local": center, "grade": grade, "ho": ho, "prosthesis": hs.prosthesis,
            "head_diameter_mm": 2 * rh, "neck_shaft_deg": math.degrees(nsa), "geom": g,
            "pelvis": pinfo, "prosthesis_info": pros_info, "femur": f,
        }
    # sacrum, coccyx, L5
    sac_top = -112 * k
    sac = _smooth_closed(np.array([
        (-52 * k, sac_top + 6), (-30 * k, sac_top - 4), (0, sac_top - 2), (30 * k, sac_top - 4),
        (52 * k, sac_top + 6), (40 * k, -70 * k), (24 * k, -25 * k), (9, 6 * k), (-9, 6 * k),
        (-24 * k, -25 * k), (-40 * k, -70 * k)]), 160)
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

    groups.append(_Group("sacrum", [
        _Plate(sac, rng.uniform(5, 8), rng.uniform(4, 7), 2.0, extra=sac_extra),
        _Tube(np.array([[0, 4 * k], [0, 18 * k], [-2, 30 * k]]), np.array([7, 5, 3.5]), cortex=1.5),
    ], texture=0.16, role="sacrum"))
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


def _add_negatives(spec: PhantomSpec, scene: _Scene, geoms: dict[str, _HipGeom], k: float,
                   hw0: float) -> None:
    rng = _rng(spec.seed, "negatives")
    groups = scene.groups
    if spec.bowel_gas:
        gas: list[_Shape] = []
        for _ in range(int(rng.integers(2, 9))):
            c = (rng.uniform(-90, 90) * k, rng.uniform(-150, -20) * k)
            a = rng.uniform(6, 26)
            gas.append(
                _Blob(
                    c[0],
                    c[1],
                    a,
                    a * rng.uniform(0.4, 0.9),
                    angle=rng.uniform(0, np.pi),
                    depth=a * rng.uniform(0.6, 1.2),
                    cortex=0.0,
                    harmonics=_harm(rng, 4, 0.12),
                )
            )
        if rng.random() < 0.6:  # a loop of colon with gas
            p0 = np.array([rng.uniform(-80, 80), rng.uniform(-150, -60)]) * k
            pts = p0 + np.cumsum(rng.normal(0, 22, (6, 2)), axis=0)
            gas.append(_Tube(_smooth_open(pts, 30), rng.uniform(8, 18), cortex=0.0,
                             wobble=_Waves.make(rng, 6, 8, 20), wobble_amp=0.25))
        groups.append(_Group("gas", gas, MU_WATER, MU_WATER, texture=0.0, kind="gas", role="gas"))
    if spec.phleboliths:
        ph: list[_Shape] = []
        for _ in range(int(rng.integers(2, 7))):
            c = (rng.choice([-1, 1]) * rng.uniform(20, 60) * k, rng.uniform(-10, 45) * k)
            r = rng.uniform(1.5, 3.5)
            ph.append(_Blob(c[0], c[1], r, r * rng.uniform(0.8, 1.0), depth=r, cortex=r * 0.5))
        groups.append(_Group("phleboliths", ph, MU_CORT * 1.2, MU_TRAB * 0.5, texture=0.0,
                             role="calcification"))
    for side, g in geoms.items():
        sgn = g.sgn
        if spec.staples and (g.cut is not None or rng.random() < 0.7 or side == "right"):
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
                st.append(
                    _Tube(np.stack([a - leg, a, b, b - leg]), 0.35, cortex=5, depth_scale=2.0)
                )
            groups.append(
                _Group(f"staples_{side}", st, MU_STEEL, MU_STEEL, 0.0, "metal", side, "staples")
            )
        if spec.cerclage and (g.cut is not None or side == "right"):
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
                cw.append(
                    _Tube(_bezier(p1, mid, p2, 8), rng.uniform(0.5, 0.8), cortex=5, depth_scale=3.0)
                )
                kn = p2 if rng.random() < 0.5 else p1
                cw.append(_Blob(kn[0], kn[1], 2.5, 1.8, depth=2.0, cortex=5))
            groups.append(
                _Group(f"cerclage_{side}", cw, MU_STEEL, MU_STEEL, 0.0, "metal", side, "cerclage")
            )
    if spec.calibration_ball:
        scale = rng.uniform(0.95, 1.05)
        r = 12.5 * scale
        where = rng.random()
        if where < 0.5:
            c = (rng.uniform(-15, 15), rng.uniform(95, 140) * k)
        else:
            s = rng.choice([-1, 1])
            c = (s * (hw0 + rng.uniform(95, 120)), rng.uniform(-40, 60))
        if spec.ball_diameter_mm is not None:
            r = spec.ball_diameter_mm / 2
        for bc in spec.ball_centers_mm or (c,):
            groups.append(
                _Group("ball", [_Blob(float(bc[0]), float(bc[1]), r, r, depth=r, cortex=0)],
                       MU_STEEL, MU_STEEL, 0.0, "metal", "", "calibration_ball")
            )
            scene.world_items.append({"kind": "calibration_ball", "center_local": bc,
                                      "diameter_mm": 2 * r, "nominal_mm": 25.0})
    if spec.marker:
        letter = str(rng.choice(["R", "L"]))
        scene.world_items.append({"kind": "marker", "letter": letter,
                                  "corner": int(rng.integers(0, 4)), "size_mm": rng.uniform(12, 22),
                                  "holder": bool(rng.random() < 0.6)})
    if spec.burned_text:
        scene.world_items.append(
            {
                "kind": "text",
                "corner": int(rng.integers(0, 4)),
                "lines": [
                    "AP PELVIS",
                    rng.choice(["SUPINE", "STANDING", "PORTABLE"]),
                    f"{int(rng.integers(65, 90))} kV  {int(rng.integers(8, 40))} mAs",
                    "SYNTHETIC",
                ],
            }
        )
    if spec.collimation:
        fh, fw = scene.field_hw
        scene.collimation = (rng.uniform(0.02, 0.10) * fh, rng.uniform(0.02, 0.10) * fw,
                             rng.uniform(0.02, 0.10) * fh, rng.uniform(0.02, 0.10) * fw,
                             math.radians(rng.uniform(-2.5, 2.5)))


# --------------------------------------------------------------------------------------------
# Non-pelvis negatives
# --------------------------------------------------------------------------------------------


def _build_other(spec: PhantomSpec) -> _Scene:
    rng = _rng(spec.seed, "other")
    groups: list[_Group] = []
    if spec.body == "knee":
        fh, fw = (spec.field_mm or (float(rng.uniform(260, 330)), float(rng.uniform(200, 260))))
        fem = _Tube(
            np.array([[0, -300.0], [0, -60], [0, -20]]),
            np.array([14, 16, 36.0]),
            cortex=np.array([6, 4, 1.5]),
        )
        cond = [
            _Blob(-20, -18, 22, 20, depth=25, cortex=1.5),
            _Blob(20, -18, 22, 20, depth=25, cortex=1.5),
        ]
        tib = _Tube(
            np.array([[0, 8.0], [0, 50], [0, 300]]),
            np.array([38, 22, 14.0]),
            cortex=np.array([1.5, 3, 5.5]),
        )
        fib = _Tube(np.array([[44, 30.0], [40, 80], [34, 300]]), np.array([9, 6, 6.0]), cortex=2.0)
        pat = _Blob(0, -35, 22, 26, depth=10, cortex=1.5)
        groups += [_Group("femur", [fem, *cond]), _Group("tibia", [tib]), _Group("fibula", [fib]),
                   _Group("patella", [pat])]
        t0 = float(rng.uniform(90, 140))

        def body(u: FloatArray, v: FloatArray) -> FloatArray:
            return t0 * np.sqrt(np.clip(1 - (u / (t0 * 0.6)) ** 2, 0, None))
    else:
        fh, fw = (spec.field_mm or (float(rng.uniform(350, 430)), float(rng.uniform(350, 430))))
        ribs: list[_Shape] = []
        for i in range(10):
            for s in (-1, 1):
                y = -150 + i * 26
                pts = np.array([[s * 12, y], [s * 60, y - 18], [s * 130, y + 10], [s * 140, y + 50],
                                [s * 110, y + 75]])
                ribs.append(_Tube(_smooth_open(pts, 20), 5.0, cortex=1.2))
        spine: list[_Shape] = [
            _Blob(0, -170 + 26 * i, 22, 11, depth=16, cortex=2) for i in range(14)
        ]
        clav: list[_Shape] = [
            _Tube(np.array([[s * 15, -175], [s * 80, -185], [s * 150, -170]]), 6.0, cortex=2)
            for s in (-1, 1)
        ]
        groups += [_Group("ribs", ribs), _Group("spine", spine), _Group("clav", clav)]
        t0 = float(rng.uniform(180, 260))
        lung_c = [(-75.0, -40.0), (75.0, -40.0)]
        heart = (25.0, 40.0)

        def body(u: FloatArray, v: FloatArray) -> FloatArray:
            b = t0 * np.sqrt(np.clip(1 - (u / 175.0) ** 2, 0, None))
            for cu, cv in lung_c:
                q = ((u - cu) / 65) ** 2 + ((v - cv) / 120) ** 2
                b = b - 0.75 * t0 * np.sqrt(np.clip(1 - q, 0, None))
            q = ((u - heart[0]) / 70) ** 2 + ((v - heart[1]) / 60) ** 2
            return np.clip(b + 0.5 * t0 * np.sqrt(np.clip(1 - q, 0, None)), 5, None)
    frame = _Frame(fw / 2, fh / 2, math.radians(float(rng.normal(0, 2))))
    return _Scene(groups, frame, body, {}, [], (fh, fw))


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _texture(
    rng: np.random.Generator, shape: tuple[int, int], row_mm: float, col_mm: float
) -> npt.NDArray[np.float32]:
    """Trabecular-like band-pass noise, unit std (isotropic plus a vertical-grained part)."""
    w = rng.standard_normal(shape).astype(np.float32)
    s1 = (0.5 / row_mm, 0.5 / col_mm)
    s2 = (2.0 / row_mm, 2.0 / col_mm)
    a = ndi.gaussian_filter(w, s1) - ndi.gaussian_filter(w, s2)
    b = ndi.gaussian_filter(w, (1.6 / row_mm, 0.45 / col_mm))
    a = a / (a.std() + 1e-9)
    b = b / (b.std() + 1e-9)
    out: npt.NDArray[np.float32] = (0.7 * a + 0.5 * b).astype(np.float32)
    return out


def _letter_mask(text: str, h_px: int, w_px: int) -> BoolArray:
    from PIL import Image, ImageDraw, ImageFont

    size = max(h_px, 8)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - very old Pillow
        font = ImageFont.load_default()
    img = Image.new("L", (max(w_px, 8) * max(len(text), 1) + size, size + size // 2), 0)
    ImageDraw.Draw(img).text((size // 8, 0), text, fill=255, font=font)
    a = np.asarray(img) > 127
    rows = np.nonzero(a.any(1))[0]
    cols = np.nonzero(a.any(0))[0]
    if len(rows) == 0:
        return a
    return a[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def _paste(
    dst: npt.NDArray[np.floating[Any]],
    src: npt.NDArray[np.floating[Any]],
    r0: int,
    c0: int,
    op: str = "add",
) -> None:
    h, w = src.shape
    rr0, cc0 = max(r0, 0), max(c0, 0)
    rr1, cc1 = min(r0 + h, dst.shape[0]), min(c0 + w, dst.shape[1])
    if rr1 <= rr0 or cc1 <= cc0:
        return
    s = src[rr0 - r0: rr1 - r0, cc0 - c0: cc1 - c0]
    if op == "add":
        dst[rr0:rr1, cc0:cc1] += s
    else:
        dst[rr0:rr1, cc0:cc1] = np.maximum(dst[rr0:rr1, cc0:cc1], s)


def _hip_side_px(
    spec: PhantomSpec, frame: _Frame, c: tuple[float, float], rows: int, cols: int
) -> tuple[float, float]:
    x, y = frame.to_world(np.array([c[0]]), np.array([c[1]]))
    col = float(x[0]) / spec.col_mm
    row = float(y[0]) / spec.row_mm
    return row, col


def render(spec: PhantomSpec, *, truth_res_mm: float = 0.08, masks: bool = False) -> Phantom:
    """Render one synthetic radiograph and its truth.

    Parameters
    ----------
    spec : PhantomSpec
    truth_res_mm : float
        Resolution (mm) of the fine grid on which the truth gap is measured before sub-pixel
        refinement along the closest pair.
    masks : bool
        Also return per-hip label masks at the pixel grid (1 pelvis, 2 femur, 3 ectopic bone,
        4 metal) in ``Phantom.masks``.
    """
    t_start = time.perf_counter()
    scene = _build_pelvis(spec, truth_res_mm) if spec.body == "pelvis" else _build_other(spec)
    t_geom = time.perf_counter() - t_start
    fh, fw = scene.field_hw
    rows = round(fh / spec.row_mm)
    cols = round(fw / spec.col_mm)
    grid = _Grid(rows, cols, spec.row_mm, spec.col_mm, scene.frame)
    rd = _rng(spec.seed, "detector")
    tex = _texture(rd, (rows, cols), spec.row_mm, spec.col_mm)
    # soft tissue
    yy = np.arange(rows, dtype=np.float64)[:, None] * spec.row_mm
    xx = np.arange(cols, dtype=np.float64)[None, :] * spec.col_mm
    uu, vv = scene.frame.to_local(
        np.broadcast_to(xx, (rows, cols)), np.broadcast_to(yy, (rows, cols))
    )
    A = (MU_WATER * scene.body(uu, vv)).astype(np.float32)
    del uu, vv
    label = np.zeros((rows, cols), np.uint8) if masks else None
    metal_A = np.zeros((rows, cols), np.float32)
    for gr in scene.groups:
        w = grid.window(gr.bbox())
        if w is None:
            continue
        sl, u, v, win = w
        inside, total, inner = gr.eval(u, v, win)
        if not inside.any():
            continue
        if gr.kind == "metal":
            metal_A[sl] += (gr.mu_cort * total).astype(np.float32)
            if label is not None:
                label[sl][inside] = 4
        elif gr.kind == "gas":
            A[sl] -= (gr.mu_cort * total).astype(np.float32)
        else:
            cort = total - inner
            att = gr.mu_cort * cort + gr.mu_trab * inner * (1 + gr.texture * tex[sl])
            A[sl] += att.astype(np.float32)
            if label is not None:
                code = {"pelvis": 1, "pelvis_lines": 1, "femur": 2}.get(
                    gr.role,
                    3 if gr.role in ("pelvic_spur", "femoral_spur", "bridge", "island") else 0,
                )
                if code:
                    label[sl][inside & (label[sl] == 0) | (inside & (code == 3))] = code
    A = np.clip(A, 0, None)
    # metal saturates: a dense path adds a lot but bounded
    A += 6.0 * (1 - np.exp(-metal_A / 3.0))
    # marker letters (lead) and holder in world coordinates
    for it in scene.world_items:
        if it["kind"] == "marker":
            h_px = int(it["size_mm"] / spec.row_mm)
            m = _letter_mask(it["letter"], h_px, int(it["size_mm"] * 0.7 / spec.col_mm))
            m = (
                ndi.zoom(
                    m.astype(np.float32),
                    (
                        h_px / max(m.shape[0], 1),
                        (it["size_mm"] * 0.72 / spec.col_mm) / max(m.shape[1], 1),
                    ),
                    order=1,
                )
                > 0.5
            )
            marg_r, marg_c = int(18 / spec.row_mm), int(18 / spec.col_mm)
            corner = it["corner"]
            r0 = marg_r if corner < 2 else rows - marg_r - m.shape[0]
            c0 = marg_c if corner % 2 == 0 else cols - marg_c - m.shape[1]
            if it["holder"]:
                pad_r, pad_c = int(5 / spec.row_mm), int(5 / spec.col_mm)
                hold = np.full((m.shape[0] + 2 * pad_r, m.shape[1] + 2 * pad_c), 0.12, np.float32)
                _paste(A, hold, r0 - pad_r, c0 - pad_c)
            _paste(A, m.astype(np.float32) * 5.0, r0, c0)
            it["bbox_px"] = [r0, c0, r0 + m.shape[0], c0 + m.shape[1]]
    t_atten = time.perf_counter() - t_start
    # ---- detector ----
    rt = _rng(spec.seed, "tone")
    heel = spec.heel if spec.heel is not None else float(rt.uniform(-0.25, 0.25))
    scat = spec.scatter if spec.scatter is not None else float(rt.uniform(0.15, 0.6))
    a_ref = float(np.percentile(A[:: 8, :: 8], 50))
    prim = np.exp(-(A - a_ref)).astype(np.float32)
    prim *= (1 + heel * (np.linspace(-0.5, 0.5, rows, dtype=np.float32))[:, None])
    if scene.collimation is not None:
        t, lft, b, r, ang = scene.collimation
        cyc, cxc = (rows - 1) / 2 * spec.row_mm, (cols - 1) / 2 * spec.col_mm
        ca, sa = math.cos(ang), math.sin(ang)
        yy2 = np.arange(rows, dtype=np.float32)[:, None] * spec.row_mm - cyc
        xx2 = np.arange(cols, dtype=np.float32)[None, :] * spec.col_mm - cxc
        xr = ca * xx2 + sa * yy2
        yr = -sa * xx2 + ca * yy2
        inside_col = (yr > -cyc + t) & (yr < cyc - b) & (xr > -cxc + lft) & (xr < cxc - r)
        soft = ndi.gaussian_filter(inside_col.astype(np.float32), 1.2 / spec.row_mm)
        prim *= 0.015 + 0.985 * soft
    else:
        inside_col = None
    # scatter: a heavily blurred copy (computed on a coarse grid)
    f = max(int(4.0 / spec.row_mm), 1)
    small = prim[::f, ::f]
    sc = ndi.gaussian_filter(small, 35.0 / (spec.row_mm * f))
    sc = ndi.zoom(sc, (rows / sc.shape[0], cols / sc.shape[1]), order=1)[:rows, :cols]
    if sc.shape != prim.shape:
        sc = np.pad(sc, ((0, rows - sc.shape[0]), (0, cols - sc.shape[1])), mode="edge")
    sig = prim + scat * sc
    sig = ndi.gaussian_filter(sig, (spec.blur_mm / spec.row_mm, spec.blur_mm / spec.col_mm))
    flux = float(rt.uniform(4e4, 2.5e5))  # photons per mm^2 at the reference
    n0 = flux * spec.row_mm * spec.col_mm
    if spec.noise > 0:
        lam = np.clip(sig * n0, 0, None)
        noisy = (
            lam + np.sqrt(lam + 4.0) * rd.standard_normal(lam.shape).astype(np.float32) * spec.noise
        )
        sig = np.clip(noisy / n0, 1e-4, None)
        # detector (post-log-independent) correlated grain
        grain = ndi.gaussian_filter(rd.standard_normal((rows, cols)).astype(np.float32), 0.6)
        sig = sig * (1 + 0.004 * spec.noise * grain)
    p = -np.log(np.clip(sig, 1e-4, None)).astype(np.float32)
    # dynamic range compression (large-kernel unsharp mask, as CR/DX processing does)
    drc = float(rt.uniform(0.3, 0.8))  # drawn always, so a fixed drc keeps the other draws
    if spec.drc is not None:
        drc = spec.drc
    fs = max(int(2.0 / spec.row_mm), 1)
    lowp = ndi.gaussian_filter(p[::fs, ::fs], rt.uniform(15, 35) / (spec.row_mm * fs))
    lowp = ndi.zoom(lowp, (rows / lowp.shape[0], cols / lowp.shape[1]), order=1)
    lowp = np.pad(
        lowp, ((0, max(rows - lowp.shape[0], 0)), (0, max(cols - lowp.shape[1], 0))), mode="edge"
    )[:rows, :cols]
    p = p - drc * (lowp - float(np.median(lowp)))
    gain = (
        spec.edge_enhance
        if spec.edge_enhance is not None
        else float(rt.choice([0, 0, rt.uniform(0.2, 1.0)]))
    )
    if gain > 0:
        low = ndi.gaussian_filter(p, rt.uniform(1.5, 5.0) / spec.row_mm)
        p = p + gain * (p - low)
    # tone: window on the exposed anatomy without metal, monotone curve, metal in the headroom
    ok = metal_A[::4, ::4] < 0.05
    if inside_col is not None:
        ok &= inside_col[::4, ::4]
    samp = p[::4, ::4][ok] if ok.any() else p[::4, ::4].ravel()
    lo, hi = np.percentile(samp, [rt.uniform(0.1, 3), rt.uniform(99.3, 99.95)])
    q = np.clip((p - lo) / max(hi - lo, 1e-6), -0.2, 2.0)
    metal_q = q > 1
    tone = spec.tone if spec.tone != "random" else str(rt.choice(["linear", "gamma", "sigmoid"]))
    if tone == "gamma":
        g = float(rt.uniform(0.6, 1.6))
        q = np.sign(q) * np.abs(q) ** g
    elif tone == "sigmoid":
        s = float(rt.uniform(3, 8))
        c = float(rt.uniform(0.35, 0.65))
        z = 1 / (1 + np.exp(-s * (q - c)))
        z0, z1 = 1 / (1 + math.exp(s * c)), 1 / (1 + math.exp(-s * (1 - c)))
        q = (z - z0) / (z1 - z0)
    maxv = (1 << spec.bits_stored) - 1
    lo_out = float(rt.uniform(0.0, 0.08)) * maxv
    hi_out = float(rt.uniform(0.72, 0.85)) * maxv
    qq = np.where(metal_q, 1 + (1 - np.exp(-(np.clip(q, 1, None) - 1) * 2.5)), np.clip(q, 0, 1))
    out = lo_out + np.clip(qq, 0, 2) * (hi_out - lo_out) * np.where(metal_q, 1.0, 1.0)
    out = np.minimum(out, maxv)
    if inside_col is not None and spec.collimation_style == "black":
        out = np.where(ndi.binary_erosion(inside_col, iterations=1), out, 0.0)
    # burned-in text: white on the stored image
    for it in scene.world_items:
        if it["kind"] == "text":
            lh = max(int(4.0 / spec.row_mm), 8)
            r0 = int(10 / spec.row_mm)
            for i, line in enumerate(it["lines"]):
                m = _letter_mask(line, lh, lh)
                rr = (
                    r0 + i * int(lh * 1.5)
                    if it["corner"] < 2
                    else rows - r0 - (len(it["lines"]) - i) * int(lh * 1.5)
                )
                cc = (
                    int(10 / spec.col_mm)
                    if it["corner"] % 2 == 0
                    else cols - int(10 / spec.col_mm) - m.shape[1]
                )
                _paste(out, m.astype(np.float64) * maxv, rr, cc, op="max")
    pixels = np.clip(np.rint(out), 0, maxv).astype(np.uint16)
    t_total = time.perf_counter() - t_start
    truth = _truth(spec, scene, rows, cols, tone)
    truth["render_seconds"] = {"geometry": round(t_geom, 3), "attenuation": round(t_atten, 3),
                               "total": round(t_total, 3)}
    mk: dict[str, BoolArray] = {}
    if spec.flipped:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
        if label is not None:
            label = label[:, ::-1]
    if label is not None:
        mk = {"pelvis": label == 1, "femur": label == 2, "ectopic": label == 3, "metal": label == 4}
    return Phantom(pixels, truth, (spec.row_mm, spec.col_mm), spec, mk)


def _truth(spec: PhantomSpec, scene: _Scene, rows: int, cols: int, tone: str) -> dict[str, Any]:
    hips_out: list[dict[str, Any]] = []
    for side in ("right", "left"):
        if side not in scene.hips:
            continue
        h = scene.hips[side]
        row, col = _hip_side_px(spec, scene.frame, h["center_local"], rows, cols)
        in_view = -0.0 <= row < rows and 0 <= col < cols
        if spec.hip_view is not None and side != spec.hip_view:
            # the other hip is outside a single-hip view unless the field happens to hold it
            if not (0 <= col < cols and 0 <= row < rows):
                continue
        if not in_view:
            continue
        half = "left" if side == "right" else "right"
        if spec.flipped:
            col = cols - 1 - col
            half = "right" if half == "left" else "left"
        ho = h["ho"]
        gpts = None
        if ho.get("gap_points_mm"):
            gpts = []
            for pu, pv in ho["gap_points_mm"]:
                r_, c_ = _hip_side_px(spec, scene.frame, (pu, pv), rows, cols)
                if spec.flipped:
                    c_ = cols - 1 - c_
                gpts.append([round(r_, 1), round(c_, 1)])
        grade = int(h["grade"])
        gap = ho["gap_mm"]
        hips_out.append({
            "side": side,
            "image_half": half,
            "grade": grade,
            "gap_mm": None if grade < 2 or gap is None else round(float(gap), 3),
            "prosthesis": bool(h["prosthesis"]),
            "spurs": ho.get("spurs", "") if grade >= 2 else "",
            "center_px": [round(row, 1), round(col, 1)],
            "head_diameter_mm": round(h["head_diameter_mm"], 2),
            "neck_shaft_deg": round(h["neck_shaft_deg"], 1),
            "target_gap_mm": ho.get("target_gap_mm"),
            "gap_points_px": gpts,
            "fragments": ho.get("fragments", []),
            "maturity": ho.get("maturity"),
            **({"prosthesis_info": {k: round(float(v), 2) for k, v in h["prosthesis_info"].items()}}
               if h["prosthesis"] else {}),
        })
    items = []
    for it in scene.world_items:
        d = {k: v for k, v in it.items() if k not in ("center_local",)}
        if "center_local" in it:
            r_, c_ = _hip_side_px(spec, scene.frame, it["center_local"], rows, cols)
            if spec.flipped:
                c_ = cols - 1 - c_
            d["center_px"] = [round(r_, 1), round(c_, 1)]
            d["diameter_px"] = round(it["diameter_mm"] / spec.row_mm, 2)
        if "bbox_px" in d and spec.flipped:
            r0, c0, r1, c1 = d["bbox_px"]
            d["bbox_px"] = [r0, cols - c1, r1, cols - c0]
        items.append(d)
    return {
        "seed": spec.seed,
        "body": spec.body,
        "spacing_mm": spec.row_mm,
        "spacing_row_mm": spec.row_mm,
        "spacing_col_mm": spec.col_mm,
        "magnification": spec.magnification,
        "imager_spacing_mm": [spec.row_mm * spec.magnification, spec.col_mm * spec.magnification],
        "spacing_tags": spec.spacing_tags,
        "rows": rows,
        "cols": cols,
        "monochrome1": spec.monochrome1,
        "flipped": spec.flipped,
        "bits_stored": spec.bits_stored,
        "tone": tone,
        "hip_view": spec.hip_view,
        "hips": hips_out,
        "items": items,
        "collimation": scene.collimation is not None,
        "gap_convention": "edge to edge at the patient, mm; measured on the analytic shapes "
                          "(fine grid then sub-pixel along the closest pair)",
    }


# --------------------------------------------------------------------------------------------
# Random specs, writing, datasets, samples
# --------------------------------------------------------------------------------------------

_TS_NAMES = {
    "explicit_le": "Explicit VR Little Endian",
    "implicit_le": "Implicit VR Little Endian",
    "explicit_be": "Explicit VR Big Endian",
    "deflated": "Deflated Explicit VR Little Endian",
    "rle": "RLE Lossless",
    "jpeg_ls": "JPEG-LS Lossless Image Compression",
    "jpeg_2000": "JPEG 2000 Image Compression (Lossless Only)",
}


def random_hip(
    rng: np.random.Generator, grade: int | None = None, *, near10: float = 0.15
) -> HipSpec:
    """A random hip: class (uniform 0-4 unless given), prosthesis (55 %), spurs, gap."""
    g = int(rng.integers(0, 5)) if grade is None else grade
    gap: float | None = None  # None: the generator draws a reachable gap in the class's range
    if g == 2 and rng.random() < near10:
        gap = float(rng.uniform(10.25, 11.0))
    elif g == 3 and rng.random() < near10:
        gap = float(rng.uniform(9.0, 9.75))
    spurs = str(rng.choice(SPURS, p=[0.4, 0.3, 0.3])) if g >= 2 else "auto"
    islands = None if g == 1 else (int(rng.random() < 0.2) if g >= 2 else 0)
    return HipSpec(g, gap, bool(rng.random() < 0.55), spurs, islands)


def random_spec(
    seed: int, *, wide: bool = True, grades: tuple[int, int] | None = None
) -> PhantomSpec:
    """A random :class:`PhantomSpec` over all variation axes (``wide=False``: a tamer set:
    no flips, MONOCHROME2, calibrated spacing, few hard negatives)."""
    rng = _rng(seed, "spec")
    gr = grades or (None, None)
    right = random_hip(rng, gr[0])
    left = random_hip(rng, gr[1])
    if not wide:
        return PhantomSpec(seed=seed, right=right, left=left,
                           spacing_mm=float(rng.uniform(0.14, 0.2)),
                           magnification=float(rng.uniform(1.08, 1.22)),
                           noise=float(rng.uniform(0.6, 1.4)), blur_mm=float(rng.uniform(0.2, 0.4)),
                           transfer_syntax=str(rng.choice(["explicit_le", "rle", "jpeg_ls"])),
                           modality=str(rng.choice(["DX", "CR"])))
    def b(p: float) -> bool:
        return bool(rng.random() < p)

    hip_view = str(rng.choice(["right", "left"])) if b(0.1) else None
    spacing_tags = str(rng.choice(SPACING_TAGS[:4], p=[0.55, 0.2, 0.1, 0.15]))
    return PhantomSpec(
        seed=seed, right=right, left=left,
        spacing_mm=float(rng.uniform(0.10, 0.25)),
        anisotropy=float(rng.uniform(0.97, 1.03)) if b(0.1) else 1.0,
        flipped=b(0.2), monochrome1=b(0.3),
        magnification=float(rng.uniform(1.08, 1.28)),
        noise=float(rng.choice([rng.uniform(0.3, 1.0), rng.uniform(1.0, 3.0)])),
        blur_mm=float(rng.uniform(0.2, 0.5)),
        bits_stored=int(rng.choice([10, 12, 12, 14, 15, 16])),
        staples=b(0.3), marker=b(0.5), calibration_ball=b(0.25), cerclage=b(0.15),
        collimation=b(0.35), collimation_style=str(rng.choice(["white", "black"])),
        burned_text=b(0.3), bowel_gas=b(0.85), phleboliths=b(0.35), screws=b(0.3),
        hip_view=hip_view, spacing_tags=spacing_tags,
        transfer_syntax=str(rng.choice(["explicit_le", "implicit_le", "explicit_be", "deflated",
                                        "rle", "jpeg_ls", "jpeg_2000"],
                                       p=[0.3, 0.1, 0.05, 0.05, 0.2, 0.2, 0.1])),
        modality=str(rng.choice(["DX", "CR"])),
    )


def dicom_variant(spec: PhantomSpec, **overrides: Any) -> Any:
    """The :class:`brooker.phantom_dicom.DicomVariant` for a spec's tags."""
    from brooker.phantom_dicom import DicomVariant

    ps = (spec.row_mm, spec.col_mm)
    ips = (spec.row_mm * spec.magnification, spec.col_mm * spec.magnification)
    kw: dict[str, Any] = {}
    if spec.spacing_tags == "calibrated":
        kw = {"pixel_spacing_mm": ps, "imager_pixel_spacing_mm": ips,
              "magnification": spec.magnification, "calibration_type": "GEOMETRY"}
    elif spec.spacing_tags == "imager_magnification":
        kw = {"imager_pixel_spacing_mm": ips, "magnification": spec.magnification}
    elif spec.spacing_tags == "imager_only":
        kw = {"imager_pixel_spacing_mm": ips}
    elif spec.spacing_tags == "pixel_only":
        kw = {"pixel_spacing_mm": ps}
    orient = ("R", "F") if spec.flipped else ("L", "F")
    lat = None
    if spec.hip_view is not None:
        lat = "R" if spec.hip_view == "right" else "L"
    kw.update(transfer_syntax=spec.transfer_syntax, monochrome1=spec.monochrome1,
              patient_orientation=orient, view_position="AP", image_laterality=lat,
              modality=spec.modality, bits_stored=spec.bits_stored)
    kw.update(overrides)
    return DicomVariant(**kw)


def write(
    phantom: Phantom, path: str | Path, variant: Any = None, *, truth_json: bool = False
) -> Path:
    """Write a phantom as DICOM (and ``<path>.json`` truth beside it when asked).

    ``variant`` is a :class:`brooker.phantom_dicom.DicomVariant`; None builds it from the spec
    (transfer syntax, MONOCHROME1, spacing tags, orientation, bits stored).
    """
    from brooker.phantom_dicom import write_dicom

    path = Path(path)
    v = dicom_variant(phantom.spec) if variant is None else variant
    write_dicom(phantom.pixels, path, v)
    if truth_json:
        path.with_suffix(path.suffix + ".json").write_text(json.dumps(phantom.truth, indent=1))
    return path


def _file_truth(ph: Phantom) -> dict[str, Any]:
    t = dict(ph.truth)
    t["transfer_syntax"] = _TS_NAMES.get(ph.spec.transfer_syntax, ph.spec.transfer_syntax)
    return t


def dataset_spec(i: int, seed: int = 0, *, wide: bool = True, balanced: bool = True) -> PhantomSpec:
    """The spec of film ``i`` of :func:`make_dataset` with ``seed`` (``balanced`` cycles the
    hip classes so each appears equally often)."""
    grades = ((2 * i) % 5, (2 * i + 1) % 5) if balanced else None
    return random_spec(seed * 100003 + i, wide=wide, grades=grades)


def make_dataset(out_dir: str | Path, n: int, seed: int = 0, *, wide: bool = True,
                 balanced: bool = True) -> Path:
    """Write ``case_XXXX.dcm`` and ``truth.json`` (the devset's shape) into ``out_dir``.

    ``balanced`` cycles the hip classes so each appears equally often.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, Any] = {}
    for i in range(n):
        ph = render(dataset_spec(i, seed, wide=wide, balanced=balanced))
        name = f"case_{i:04d}.dcm"
        write(ph, out / name)
        truth[name] = _file_truth(ph)
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return out / "truth.json"


#: The committed samples: (file name, spec). Regenerate with
#: ``python -m brooker.phantom --samples sample_images``.
def sample_specs() -> list[tuple[str, PhantomSpec]]:
    """Specs of the committed ``sample_images`` (one per class at least, flipped, MONOCHROME1)."""
    small: dict[str, Any] = {"spacing_mm": 0.25, "noise": 0.7}
    return [
        (
            "pelvis_0_vs_3.dcm",
            PhantomSpec(
                seed=101,
                right=HipSpec(0),
                left=HipSpec(3, 6.0, spurs="pelvic"),
                transfer_syntax="jpeg_ls",
                marker=True,
                phleboliths=True,
                **small,
            ),
        ),
        (
            "pelvis_1_vs_2.dcm",
            PhantomSpec(
                seed=202,
                right=HipSpec(1, prosthesis=True),
                left=HipSpec(2, 14.0, prosthesis=True, spurs="both"),
                transfer_syntax="jpeg_2000",
                staples=True,
                magnification=1.2,
                **small,
            ),
        ),
        (
            "pelvis_4_vs_0_flipped.dcm",
            PhantomSpec(
                seed=303,
                right=HipSpec(4, prosthesis=True, spurs="pelvic"),
                left=HipSpec(0),
                flipped=True,
                transfer_syntax="jpeg_ls",
                calibration_ball=True,
                **small,
            ),
        ),
        (
            "pelvis_3_vs_2_mono1.dcm",
            PhantomSpec(
                seed=404,
                right=HipSpec(3, 9.4, spurs="femoral"),
                left=HipSpec(2, 10.6, prosthesis=True, spurs="pelvic"),
                monochrome1=True,
                transfer_syntax="jpeg_2000",
                collimation=True,
                burned_text=True,
                **small,
            ),
        ),
        (
            "hip_view_right_4.dcm",
            PhantomSpec(
                seed=505,
                right=HipSpec(4, spurs="both"),
                left=HipSpec(0),
                hip_view="right",
                transfer_syntax="jpeg_ls",
                spacing_tags="imager_magnification",
                **small,
            ),
        ),
        (
            "knee_negative.dcm",
            PhantomSpec(
                seed=606, body="knee", transfer_syntax="jpeg_ls", spacing_mm=0.3, noise=0.7
            ),
        ),
    ]


def make_samples(out_dir: str | Path) -> Path:
    """(Re)write ``sample_images``: DICOMs, ``manifest.json`` and ``MANIFEST.md``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    for name, spec in sample_specs():
        ph = render(spec)
        write(ph, out / name)
        t = _file_truth(ph)
        t.pop("render_seconds", None)
        t["spec"] = _spec_record(spec)
        manifest[name] = t
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    lines = [
        "# Sample images (synthetic, generated by `brooker.phantom`)",
        "",
        "Regenerate (deterministic): `python -m brooker.phantom --samples sample_images`",
        "",
        "Per hip: patient side, image half, Brooker class and the edge-to-edge gap at the patient "
        "(mm, classes II/III; 0 for IV). Full truth in `manifest.json` (same shape as a devset "
        "`truth.json`, usable with `score.py`).",
        "",
        "| file | size | syntax | notes | hips (side/half: class, gap) |",
        "|---|---|---|---|---|",
    ]
    for name, t in manifest.items():
        size = (out / name).stat().st_size
        notes = []
        if t["flipped"]:
            notes.append("flipped (R\\F)")
        if t["monochrome1"]:
            notes.append("MONOCHROME1")
        if t["hip_view"]:
            notes.append(f"{t['hip_view']} hip view")
        if t["body"] != "pelvis":
            notes.append(f"{t['body']}: no hip, ungradable")
        notes.append(f"spacing {t['spacing_mm']:.2f} mm ({t['spacing_tags']})")
        hips = "; ".join(
            f"{h['side']}/{h['image_half']}: {('0', 'I', 'II', 'III', 'IV')[h['grade']]}"
            + (f", {h['gap_mm']:.2f} mm" if h["gap_mm"] is not None else "")
            + (" (THA)" if h["prosthesis"] else "")
            for h in t["hips"]) or "none"
        lines.append(
            f"| {name} | {size / 1e6:.2f} MB | {t['transfer_syntax']} | {', '.join(notes)} "
            f"| {hips} |"
        )
    (out / "MANIFEST.md").write_text("\n".join(lines) + "\n")
    return out


def _spec_record(spec: PhantomSpec) -> dict[str, Any]:
    d = dataclasses.asdict(spec)
    return {k: v for k, v in d.items() if v is not None}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m brooker.phantom``: samples, datasets, or one preview PNG."""
    ap = argparse.ArgumentParser(
        prog="python -m brooker.phantom", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--samples", metavar="DIR", help="regenerate the sample images into DIR")
    ap.add_argument("--dataset", metavar="DIR", help="write case_XXXX.dcm + truth.json into DIR")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--narrow", action="store_true", help="tamer variation (wide=False)")
    ap.add_argument("--preview", metavar="PNG", help="render random_spec(--seed) to a PNG")
    a = ap.parse_args(argv)
    if a.samples:
        make_samples(a.samples)
    if a.dataset:
        make_dataset(a.dataset, a.n, a.seed, wide=not a.narrow)
    if a.preview:
        preview_png(render(random_spec(a.seed, wide=not a.narrow)), a.preview)
    if not (a.samples or a.dataset or a.preview):
        ap.print_help()
        return 2
    return 0


def preview_png(ph: Phantom, path: str | Path, max_px: int = 1000) -> Path:
    """Downscaled 8-bit PNG of a phantom (percentile window), for looking at it."""
    from PIL import Image

    a = ph.pixels.astype(np.float32)
    lo, hi = np.percentile(a, [0.5, 99.7])
    a = np.clip((a - lo) / max(hi - lo, 1e-6), 0, 1)
    im = Image.fromarray((a * 255).astype(np.uint8))
    im.thumbnail((max_px, max_px))
    im.save(path)
    return Path(path)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
