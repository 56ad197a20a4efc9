"""Rendering: line integrals through the scene, then the detector (:mod:`.detector`).

Every structure contributes a projected path length; within one bone the parts are combined by
maximum, across bones (and soft tissue, gas, metal) attenuation adds; metal saturates.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.phantom.detector import _detect
from brooker.phantom.geometry import BoolArray, _Grid
from brooker.phantom.marks import _burn_text, _draw_markers
from brooker.phantom.other_bodies import _build_other
from brooker.phantom.pelvis import _build_pelvis
from brooker.phantom.scene import MU_WATER, _Group, _Scene
from brooker.phantom.specs import Phantom, PhantomSpec, _rng
from brooker.phantom.truth import _truth

F32 = npt.NDArray[np.float32]


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
    A, metal_A, label = _attenuation(spec, scene, grid, tex, masks)
    # marker letters (lead) and holder in world coordinates
    _draw_markers(A, scene.world_items, spec, rows, cols)
    t_atten = time.perf_counter() - t_start
    out, tone, maxv = _detect(spec, scene, A, metal_A, rd, rows, cols)
    # burned-in text: white on the stored image
    _burn_text(out, scene.world_items, spec, rows, cols, maxv)
    pixels = np.clip(np.rint(out), 0, maxv).astype(np.uint16)
    t_total = time.perf_counter() - t_start
    truth = _truth(spec, scene, rows, cols, tone)
    truth["render_seconds"] = {
        "geometry": round(t_geom, 3),
        "attenuation": round(t_atten, 3),
        "total": round(t_total, 3),
    }
    pixels, mk = _orient(spec, pixels, label)
    return Phantom(pixels, truth, (spec.row_mm, spec.col_mm), spec, mk)


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


def _attenuation(
    spec: PhantomSpec, scene: _Scene, grid: _Grid, tex: F32, masks: bool
) -> tuple[F32, F32, npt.NDArray[np.uint8] | None]:
    """Line integrals of attenuation over the film: (total with saturated metal, metal alone,
    label image or None)."""
    rows, cols = grid.rows, grid.cols
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
        _add_group(gr, grid, tex, A, metal_A, label)
    A = np.clip(A, 0, None)
    # metal saturates: a dense path adds a lot but bounded
    A += 6.0 * (1 - np.exp(-metal_A / 3.0))
    return A, metal_A, label


def _add_group(
    gr: _Group, grid: _Grid, tex: F32, A: F32, metal_A: F32, label: npt.NDArray[np.uint8] | None
) -> None:
    """Add one group's attenuation to ``A`` (bone, gas) or ``metal_A``, and its label."""
    w = grid.window(gr.bbox())
    if w is None:
        return
    sl, u, v, win = w
    inside, total, inner = gr.eval(u, v, win)
    if not inside.any():
        return
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


def _orient(
    spec: PhantomSpec, pixels: npt.NDArray[np.uint16], label: npt.NDArray[np.uint8] | None
) -> tuple[npt.NDArray[np.uint16], dict[str, BoolArray]]:
    """Flip the film (and its labels) when the spec asks; the label masks by name."""
    mk: dict[str, BoolArray] = {}
    if spec.flipped:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
        if label is not None:
            label = label[:, ::-1]
    if label is not None:
        mk = {"pelvis": label == 1, "femur": label == 2, "ectopic": label == 3, "metal": label == 4}
    return pixels, mk
