"""The truth record of a rendered film: per-hip class, gap and where things are, in pixels."""

from __future__ import annotations

from typing import Any

import numpy as np

from brooker.phantom.geometry import _Frame
from brooker.phantom.scene import _Scene
from brooker.phantom.specs import PhantomSpec


def _hip_side_px(
    spec: PhantomSpec, frame: _Frame, c: tuple[float, float], rows: int, cols: int
) -> tuple[float, float]:
    x, y = frame.to_world(np.array([c[0]]), np.array([c[1]]))
    col = float(x[0]) / spec.col_mm
    row = float(y[0]) / spec.row_mm
    return row, col


def _truth(spec: PhantomSpec, scene: _Scene, rows: int, cols: int, tone: str) -> dict[str, Any]:
    """The film's truth record: acquisition, per-hip class and gap, and the world items, in
    pixels of the stored (possibly flipped) image."""
    hips_out: list[dict[str, Any]] = []
    for side in ("right", "left"):
        if side not in scene.hips:
            continue
        h = _hip_truth(spec, scene, side, rows, cols)
        if h is not None:
            hips_out.append(h)
    items = [_item_truth(spec, scene, it, rows, cols) for it in scene.world_items]
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


def _hip_truth(
    spec: PhantomSpec, scene: _Scene, side: str, rows: int, cols: int
) -> dict[str, Any] | None:
    """One hip's record, or None when its centre is off the film."""
    h = scene.hips[side]
    row, col = _hip_side_px(spec, scene.frame, h["center_local"], rows, cols)
    in_view = -0.0 <= row < rows and 0 <= col < cols
    if spec.hip_view is not None and side != spec.hip_view:
        # the other hip is outside a single-hip view unless the field happens to hold it
        if not (0 <= col < cols and 0 <= row < rows):
            return None
    if not in_view:
        return None
    half = "left" if side == "right" else "right"
    if spec.flipped:
        col = cols - 1 - col
        half = "right" if half == "left" else "left"
    ho = h["ho"]
    gpts = _gap_points_px(spec, scene, ho, rows, cols)
    grade = int(h["grade"])
    gap = ho["gap_mm"]
    return {
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
        **(
            {"prosthesis_info": {k: round(float(v), 2) for k, v in h["prosthesis_info"].items()}}
            if h["prosthesis"]
            else {}
        ),
    }


def _gap_points_px(
    spec: PhantomSpec, scene: _Scene, ho: dict[str, Any], rows: int, cols: int
) -> list[list[float]] | None:
    """The gap's two end points, (row, col) in the stored image, or None without a gap."""
    gpts = None
    if ho.get("gap_points_mm"):
        gpts = []
        for pu, pv in ho["gap_points_mm"]:
            r_, c_ = _hip_side_px(spec, scene.frame, (pu, pv), rows, cols)
            if spec.flipped:
                c_ = cols - 1 - c_
            gpts.append([round(r_, 1), round(c_, 1)])
    return gpts


def _item_truth(
    spec: PhantomSpec, scene: _Scene, it: dict[str, Any], rows: int, cols: int
) -> dict[str, Any]:
    """A world item's record: its centre and diameter (calibration ball) or box (marker) in
    pixels of the stored image."""
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
    return d
