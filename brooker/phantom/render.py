"""Rendering: line integrals through the scene, then the detector and the film's processing.

Every structure contributes a projected path length; within one bone the parts are combined by
maximum, across bones (and soft tissue, gas, metal) attenuation adds. The detector turns
``exp(-A)`` into photon counts with a heel-effect gradient, scatter, blur and quantum noise,
takes the log (bone bright), applies dynamic-range compression, optional edge enhancement and a
random monotone tone curve, and quantises to ``bits_stored``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.phantom.geometry import BoolArray, _Grid
from brooker.phantom.other_bodies import _build_other
from brooker.phantom.pelvis import _build_pelvis
from brooker.phantom.scene import MU_WATER
from brooker.phantom.specs import Phantom, PhantomSpec, _rng
from brooker.phantom.truth import _truth


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
    return a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


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
    s = src[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0]
    if op == "add":
        dst[rr0:rr1, cc0:cc1] += s
    else:
        dst[rr0:rr1, cc0:cc1] = np.maximum(dst[rr0:rr1, cc0:cc1], s)


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
    a_ref = float(np.percentile(A[::8, ::8], 50))
    prim = np.exp(-(A - a_ref)).astype(np.float32)
    prim *= 1 + heel * (np.linspace(-0.5, 0.5, rows, dtype=np.float32))[:, None]
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
    truth["render_seconds"] = {
        "geometry": round(t_geom, 3),
        "attenuation": round(t_atten, 3),
        "total": round(t_total, 3),
    }
    mk: dict[str, BoolArray] = {}
    if spec.flipped:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
        if label is not None:
            label = label[:, ::-1]
    if label is not None:
        mk = {"pelvis": label == 1, "femur": label == 2, "ectopic": label == 3, "metal": label == 4}
    return Phantom(pixels, truth, (spec.row_mm, spec.col_mm), spec, mk)
