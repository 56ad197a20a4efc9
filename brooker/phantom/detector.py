"""The detector and the film's processing: from attenuation to stored pixel values.

``exp(-A)`` with a heel-effect gradient and collimation, scatter (a heavily blurred copy) and
blur, quantum noise and grain; the log (bone bright), dynamic-range compression and optional
edge enhancement; a window on the exposed anatomy, a monotone tone curve with metal in the
headroom, quantised to ``bits_stored``. Draws come from the seed's ``tone`` stream, and the noise
from the ``detector`` stream (passed in, after the bone texture).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.phantom.geometry import BoolArray
from brooker.phantom.scene import _Scene
from brooker.phantom.specs import PhantomSpec, _rng

F32 = npt.NDArray[np.float32]


def _detect(
    spec: PhantomSpec,
    scene: _Scene,
    A: F32,
    metal_A: F32,
    rd: np.random.Generator,
    rows: int,
    cols: int,
) -> tuple[npt.NDArray[np.floating[Any]], str, int]:
    """Stored values (float, before rounding) of the film with attenuation ``A``; the tone
    curve used, and the largest stored value."""
    rt = _rng(spec.seed, "tone")
    heel = spec.heel if spec.heel is not None else float(rt.uniform(-0.25, 0.25))
    scat = spec.scatter if spec.scatter is not None else float(rt.uniform(0.15, 0.6))
    prim, inside_col = _primary(spec, scene, A, heel, rows, cols)
    sig = _scatter_and_blur(spec, prim, scat, rows, cols)
    flux = float(rt.uniform(4e4, 2.5e5))  # photons per mm^2 at the reference
    sig = _quantum_noise(spec, sig, flux, rd, rows, cols)
    p = -np.log(np.clip(sig, 1e-4, None)).astype(np.float32)
    p = _compress_range(spec, p, rt, rows, cols)
    p = _edge_enhance(spec, p, rt)
    out, tone, maxv = _tone_map(spec, p, metal_A, inside_col, rt)
    if inside_col is not None and spec.collimation_style == "black":
        out = np.where(ndi.binary_erosion(inside_col, iterations=1), out, 0.0)
    return out, tone, maxv


def _primary(
    spec: PhantomSpec, scene: _Scene, A: F32, heel: float, rows: int, cols: int
) -> tuple[F32, BoolArray | None]:
    """Primary photons relative to the median path, with the heel effect and the collimator's
    shadow; and the collimated field (None without collimation)."""
    a_ref = float(np.percentile(A[::8, ::8], 50))
    prim = np.exp(-(A - a_ref)).astype(np.float32)
    prim *= 1 + heel * (np.linspace(-0.5, 0.5, rows, dtype=np.float32))[:, None]
    if scene.collimation is not None:
        inside_col = _collimated_field(spec, scene.collimation, rows, cols)
        soft = ndi.gaussian_filter(inside_col.astype(np.float32), 1.2 / spec.row_mm)
        prim *= 0.015 + 0.985 * soft
    else:
        inside_col = None
    return prim, inside_col


def _collimated_field(
    spec: PhantomSpec,
    collimation: tuple[float, float, float, float, float],
    rows: int,
    cols: int,
) -> BoolArray:
    """Pixels inside the collimator's (slightly rotated) rectangle."""
    t, lft, b, r, ang = collimation
    cyc, cxc = (rows - 1) / 2 * spec.row_mm, (cols - 1) / 2 * spec.col_mm
    ca, sa = math.cos(ang), math.sin(ang)
    yy2 = np.arange(rows, dtype=np.float32)[:, None] * spec.row_mm - cyc
    xx2 = np.arange(cols, dtype=np.float32)[None, :] * spec.col_mm - cxc
    xr = ca * xx2 + sa * yy2
    yr = -sa * xx2 + ca * yy2
    inside_col: BoolArray = (yr > -cyc + t) & (yr < cyc - b) & (xr > -cxc + lft) & (xr < cxc - r)
    return inside_col


def _scatter_and_blur(spec: PhantomSpec, prim: F32, scat: float, rows: int, cols: int) -> Any:
    """Primary plus scatter (a heavily blurred copy, computed on a coarse grid), blurred by the
    detector's PSF."""
    f = max(int(4.0 / spec.row_mm), 1)
    small = prim[::f, ::f]
    sc = ndi.gaussian_filter(small, 35.0 / (spec.row_mm * f))
    sc = ndi.zoom(sc, (rows / sc.shape[0], cols / sc.shape[1]), order=1)[:rows, :cols]
    if sc.shape != prim.shape:
        sc = np.pad(sc, ((0, rows - sc.shape[0]), (0, cols - sc.shape[1])), mode="edge")
    sig = prim + scat * sc
    sig = ndi.gaussian_filter(sig, (spec.blur_mm / spec.row_mm, spec.blur_mm / spec.col_mm))
    return sig


def _quantum_noise(
    spec: PhantomSpec, sig: Any, flux: float, rd: np.random.Generator, rows: int, cols: int
) -> Any:
    """Photon noise at ``flux`` photons per mm^2 (scaled by ``spec.noise``), then a correlated
    detector grain; nothing when ``spec.noise`` is 0."""
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
    return sig


def _compress_range(
    spec: PhantomSpec, p: Any, rt: np.random.Generator, rows: int, cols: int
) -> Any:
    """Dynamic range compression (large-kernel unsharp mask, as CR/DX processing does)."""
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
    return p


def _edge_enhance(spec: PhantomSpec, p: Any, rt: np.random.Generator) -> Any:
    """Unsharp mask with the spec's gain (else none in two films of three, or 0.2-1.0)."""
    gain = (
        spec.edge_enhance
        if spec.edge_enhance is not None
        else float(rt.choice([0, 0, rt.uniform(0.2, 1.0)]))
    )
    if gain > 0:
        low = ndi.gaussian_filter(p, rt.uniform(1.5, 5.0) / spec.row_mm)
        p = p + gain * (p - low)
    return p


def _tone_map(
    spec: PhantomSpec,
    p: Any,
    metal_A: F32,
    inside_col: BoolArray | None,
    rt: np.random.Generator,
) -> tuple[Any, str, int]:
    """Window on the exposed anatomy without metal, a monotone tone curve, metal in the
    headroom: (stored values as floats, the tone curve, the largest stored value)."""
    ok = metal_A[::4, ::4] < 0.05
    if inside_col is not None:
        ok &= inside_col[::4, ::4]
    samp = p[::4, ::4][ok] if ok.any() else p[::4, ::4].ravel()
    lo, hi = np.percentile(samp, [rt.uniform(0.1, 3), rt.uniform(99.3, 99.95)])
    q = np.clip((p - lo) / max(hi - lo, 1e-6), -0.2, 2.0)
    metal_q = q > 1
    tone = spec.tone if spec.tone != "random" else str(rt.choice(["linear", "gamma", "sigmoid"]))
    q = _tone_curve(tone, q, rt)
    maxv = (1 << spec.bits_stored) - 1
    lo_out = float(rt.uniform(0.0, 0.08)) * maxv
    hi_out = float(rt.uniform(0.72, 0.85)) * maxv
    qq = np.where(metal_q, 1 + (1 - np.exp(-(np.clip(q, 1, None) - 1) * 2.5)), np.clip(q, 0, 1))
    out = lo_out + np.clip(qq, 0, 2) * (hi_out - lo_out) * np.where(metal_q, 1.0, 1.0)
    out = np.minimum(out, maxv)
    return out, tone, maxv


def _tone_curve(tone: str, q: Any, rt: np.random.Generator) -> Any:
    """``linear`` (as is), ``gamma`` (0.6-1.6) or ``sigmoid`` on the windowed values ``q``."""
    if tone == "gamma":
        g = float(rt.uniform(0.6, 1.6))
        q = np.sign(q) * np.abs(q) ** g
    elif tone == "sigmoid":
        s = float(rt.uniform(3, 8))
        c = float(rt.uniform(0.35, 0.65))
        z = 1 / (1 + np.exp(-s * (q - c)))
        z0, z1 = 1 / (1 + math.exp(s * c)), 1 / (1 + math.exp(-s * (1 - c)))
        q = (z - z0) / (z1 - z0)
    return q
