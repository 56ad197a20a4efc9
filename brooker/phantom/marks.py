"""Lettering on the film: a lead marker (R or L, on a holder) in the beam, burned-in text on
the stored image. Letters are rasterised with Pillow's default font."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.phantom.geometry import BoolArray
from brooker.phantom.specs import PhantomSpec


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


def _draw_markers(
    A: npt.NDArray[np.float32],
    items: list[dict[str, Any]],
    spec: PhantomSpec,
    rows: int,
    cols: int,
) -> None:
    """Add the lead marker letters (and their holders) of ``items`` to the attenuation ``A``;
    record each one's ``bbox_px``."""
    for it in items:
        if it["kind"] == "marker":
            _draw_marker(A, it, spec, rows, cols)


def _draw_marker(
    A: npt.NDArray[np.float32], it: dict[str, Any], spec: PhantomSpec, rows: int, cols: int
) -> None:
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


def _burn_text(
    out: npt.NDArray[np.floating[Any]],
    items: list[dict[str, Any]],
    spec: PhantomSpec,
    rows: int,
    cols: int,
    maxv: int,
) -> None:
    """Burn the text lines of ``items`` into the stored image ``out``, white (``maxv``)."""
    for it in items:
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
