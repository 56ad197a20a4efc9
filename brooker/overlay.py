"""Annotated overlay images: what brooker found and measured, drawn on the radiograph.

:func:`render_overlay` and :func:`render_hip_crops` are pure (result -> RGB array);
:func:`write_png` and :func:`write_overlays` put them on disk.

What is drawn
-------------
- the radiograph, bone white, through the file's VOI (``Radiograph.display``) or a robust
  0.5-99.5 % percentile window (read inside a padding border: :mod:`brooker.padding`),
  downscaled by area-averaging so the long side is about ``max_side_px``;
- in each hip's region searched, the pelvis and femur bodies' own edges as segmented
  (:mod:`brooker.outlines`), the pelvis's dotted and the femur's dashed, under the findings:
  the bone a spur is attached to and a gap ends on;
- every heterotopic fragment outlined and lightly tinted by kind (Okabe-Ito colours, safe for
  colour-blind readers), with a legend;
- per hip: the gap as a line with end ticks between its two end points and its length
  ("6.4 mm"), the patient side letter on that hip's half of the image, the Brooker class, an
  amber "borderline ±0.6 mm" when the gap is within its uncertainty of 10 mm, "prosthesis",
  and "apparent ankylosis" for class IV;
- a 10 mm scale bar from the resolved column spacing, the spacing source, where the sides came
  from, the tool version and the caveats, in a panel below the image so nothing covers anatomy;
- the calibration object(s) the spacing was derived from (ball, prosthetic or native heads):
  the fitted outline and "ball 25 mm = 122.4 px", in vermillion.

Nothing that identifies the patient or the study is drawn or stored: no header text (the
:class:`~brooker.models.Radiograph` carries none), no SOP Instance UID, no file name, and no
PNG text chunks. Lines of text burned into the film's pixels (a label, an ID, the exposure)
that :func:`brooker.burned_text.find_text_lines` finds are blanked in black, and the panel
says how many; text it cannot find (over the body, dark on a white label, a single letter)
stays as it is on the film.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont
from skimage.measure import find_contours

from brooker.atomic import atomic_write_bytes
from brooker.background import beside
from brooker.burned_text import TextLine, blank_boxes, find_text_lines
from brooker.grid import IDENTITY, GridTransform
from brooker.imaging import simplified_polyline
from brooker.models import (
    BrookerGrade,
    Fragment,
    FragmentKind,
    GradingResult,
    HipResult,
    ImageSide,
    PixelSpacing,
    Radiograph,
    sides_assumed,
    sides_said,
)
from brooker.notes import (
    centres_graded_words,
    class_range_words,
    gap_end_words,
    not_graded_in_few_words,
    without_overlay_pointer,
)
from brooker.padding import Shifted, unpadded_view
from brooker.paths import is_drawn_overlay, safe_stem
from brooker.units import BROOKER_GAP_THRESHOLD_MM, label_gap_mm

RGB = tuple[int, int, int]

#: Fragment colours by kind (Okabe-Ito palette: distinguishable with common colour blindness).
KIND_RGB: dict[FragmentKind, RGB] = {
    FragmentKind.ISLAND: (86, 180, 233),  # sky blue
    FragmentKind.PELVIC_SPUR: (230, 159, 0),  # orange
    FragmentKind.FEMORAL_SPUR: (0, 158, 115),  # bluish green
    FragmentKind.BRIDGE: (204, 121, 167),  # reddish purple
}
KIND_LABEL: dict[FragmentKind, str] = {
    FragmentKind.ISLAND: "island",
    FragmentKind.PELVIC_SPUR: "pelvic spur",
    FragmentKind.FEMORAL_SPUR: "femoral spur",
    FragmentKind.BRIDGE: "bridge",
}
#: The measured gap line, its end ticks and its label (Okabe-Ito yellow).
GAP_RGB: RGB = (240, 228, 66)
#: The calibration object's fitted outline and label (Okabe-Ito vermillion).
CALIBRATION_RGB: RGB = (213, 94, 0)
CALIBRATION_LABEL: dict[str, str] = {
    "calibration_ball": "ball",
    "prosthetic_head": "head",
    "femoral_head": "femoral head",
}
#: The 10 mm scale bar.
SCALE_BAR_RGB: RGB = (255, 255, 255)
#: The borderline warning.
BORDERLINE_RGB: RGB = (255, 176, 0)
TEXT_RGB: RGB = (255, 255, 255)
MUTED_RGB: RGB = (200, 200, 200)
PANEL_RGB: RGB = (24, 24, 24)
OUTLINE_RGB: RGB = (0, 0, 0)

#: The joint (head outline and centre) and the region searched for heterotopic bone: white,
#: the geometry the tool worked in, apart from the coloured findings (a light blue here read as
#: the islands' sky blue). Drawn over a dark halo (:data:`HALO_ALPHA`) so that it shows on
#: bright bone as on dark soft tissue.
JOINT_RGB: RGB = (255, 255, 255)
#: The legend's entries for the head (outline and centre) and for the region searched.
HIP_LABEL = "hip: head outline, centre"
REGION_LABEL = "region searched (joint left out)"
#: Lines over the film (fragment outlines, the joint, the region searched) are drawn over a
#: black halo of this opacity (of 255), one output pixel wider on each side: a thin pale line
#: alone vanishes where it crosses bright bone.
HALO_ALPHA = 150
#: A head drawn where no outline of it was found (a typical head about the hip detector's
#: centre) is dashed: arcs of this many degrees, as far apart.
HEAD_DASH_DEG = 10
#: The legend's entry for such a head.
TYPICAL_HEAD_LABEL = "dashed: typical head, its outline not found"
#: The edges of the pelvis and femur bodies as segmented (:mod:`brooker.outlines`), the bone a
#: spur grows from and a gap ends on: broken lines, so that no colour of a finding is taken
#: for them (nor they for a fragment's outline), over a dark halo, under the fragments: the
#: pelvis's lavender, the femur's pale green (until 2026-12-08 both lavender, told apart by
#: dots and dashes alone, which two radiologists could not tell at a screen's size).
BODY_RGB: RGB = (200, 170, 255)
FEMUR_BODY_RGB: RGB = (170, 220, 170)
BODY_RGB_OF: dict[str, RGB] = {"pelvis": BODY_RGB, "femur": FEMUR_BODY_RGB}
#: The pelvis's edge is dotted, the femur's dashed, so that a body taken for the other (a
#: pelvis body running down the femoral neck) shows as such.
PELVIS_LABEL = "pelvis as segmented (edge)"
FEMUR_LABEL = "femur as segmented (edge)"
BODY_LABEL = {"pelvis": PELVIS_LABEL, "femur": FEMUR_LABEL}
#: The dots' pitch along a body's edge, in line widths (a dash is two pitches, its gap one).
BODY_DOT_PITCH = 3.0
#: The caption of a hip crop's twin with nothing drawn on it (:func:`render_hip_crops`): a
#: bridge's tint and outline cover the bone that makes it one, and a reader checking the
#: class wants that bone as the film shows it (a radiologist's test of 2026-12-08).
UNMARKED_CAPTION = "as on the film"
#: Where the hip detector looked when it found no hip.
CANDIDATE_RGB: RGB = (255, 120, 120)

SCALE_BAR_MM = 10.0
#: The panel below the film is at least this many font sizes wide (but no wider than the
#: film's long side, so the image stays within ``max_side_px``): the widest legend entry
#: (about 21.5) with its margins, and some 65 characters of the panel's smaller text a line.
#: Below a tall, narrow film (2000 x 150 px) it took the film's width, so it cut the legend's
#: labels and wrapped its text a word to a line; such a film is drawn at the left, the rest of
#: its band filled with the panel's colour.
PANEL_MIN_WIDTH_EM = 24
TINT_ALPHA = 0.28
BOX_ALPHA = 170  # of 255, for label backgrounds over the image
#: A step of the film's shown grey (0-1) between neighbouring overlay pixels that a hip's label
#: should not hide: a marker's or a letter's edge, not the noise of an empty corner.
LABEL_EDGE_STEP = 0.12
#: The shown grey (0-1) under which a label's box lies on air or an unexposed border, where
#: what has edges is written on the film (:meth:`_Canvas.hidden`).
LABEL_DARK = 0.35
UPSCALE_BELOW_PX = 600  # crops smaller than this (long side) are drawn at x2
CROP_MARGIN_MM = 8.0  # around the gap and fragments in a hip crop
#: How far from the hip's centre a crop takes in the region searched for heterotopic bone:
#: the lateral ilium above the joint and the greater trochanter below it (whose tip lies some
#: 50-60 mm lateral to an adult head's centre), where a missed spur or bridge would be, and
#: the abductors beyond them as far as the search reaches (the default region's 100 mm: at
#: 70 mm, until 2026-12-08, a radiologist found islands searched for and shown in neither
#: half of the crop).
CROP_REACH_MM = 100.0
#: A hip crop whose gap is drawn shorter than this many pixels gets a loupe: the gap's
#: surroundings enlarged in a corner of the crop, its pixels shown as squares, so that a
#: class III gap of a millimetre (2-3 stored pixels on a 0.4 mm export) can be checked where
#: it ends (a radiologist's test of 2026-12-07: the gap line was hidden under the spur's
#: outline, its label 50 px away).
LOUPE_BELOW_PX = 30.0
#: The loupe's field at the patient: at least this many mm square, about the gap's middle,
#: and 8 mm more than the gap so that both its ends show with the bone around them.
LOUPE_FIELD_MIN_MM = 12.0
LOUPE_FIELD_MARGIN_MM = 8.0
#: The loupe's side in the crop's pixels, at most, and as a share of the crop's shorter side.
LOUPE_MAX_PX = 320
LOUPE_SHARE = 0.42

_NAME_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


# --------------------------------------------------------------------------------------------
# geometry of one rendered view


@dataclass(frozen=True, slots=True)
class _View:
    """A region ``[r0, r1) x [c0, c1)`` of the stored image drawn at ``out_h x out_w`` px."""

    r0: int
    c0: int
    r1: int
    c1: int
    out_h: int
    out_w: int

    @property
    def sy(self) -> float:
        """Output pixels per stored row."""
        return self.out_h / (self.r1 - self.r0)

    @property
    def sx(self) -> float:
        """Output pixels per stored column."""
        return self.out_w / (self.c1 - self.c0)

    def to_xy(self, point_rc: Sequence[float]) -> tuple[float, float]:
        """Stored ``(row, col)`` (pixel centres at integers) -> drawing ``(x, y)``."""
        r, c = float(point_rc[0]), float(point_rc[1])
        return ((c - self.c0 + 0.5) * self.sx - 0.5, (r - self.r0 + 0.5) * self.sy - 0.5)


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` px, so output looks the same everywhere."""
    return ImageFont.load_default(size=size)


def _text_size(text: str, size: int) -> tuple[int, int]:
    _, _, right, bottom = _font(size).getbbox(text)
    return math.ceil(right), math.ceil(max(bottom, size))


# --------------------------------------------------------------------------------------------
# display


def _display_mapper(
    radiograph: Radiograph,
) -> Callable[[npt.NDArray[np.floating[Any]]], npt.NDArray[np.float32]]:
    """A function pixels -> 0..1 brightness, bone white. The percentile window is read
    inside a padding border (:mod:`brooker.padding`): a border of 0 padding a MONOCHROME1
    film is its brightest grey once inverted, and would darken the whole film."""
    if radiograph.display is not None:
        return radiograph.display.apply
    px = unpadded_view(radiograph)
    step = max(1, int(math.sqrt(px.size / 1_000_000)))
    sample = px[::step, ::step]
    sample = sample[np.isfinite(sample)]  # a copy: percentile may partition it in place
    if sample.size == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = (float(v) for v in np.percentile(sample, [0.5, 99.5], overwrite_input=True))
    if not hi > lo:
        hi = lo + 1.0

    def apply(pixels: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        # one float32 copy, then in place: this runs over every pixel of the film
        out: npt.NDArray[np.float32] = np.array(pixels, dtype=np.float32)
        out -= lo
        out *= 1.0 / (hi - lo)
        if not np.isfinite(out).all():  # one pass; nan_to_num makes three even when clean
            np.nan_to_num(out, copy=False, nan=0.0)
        np.clip(out, 0.0, 1.0, out=out)
        return out

    return apply


def _square_mm(spacing: PixelSpacing | None) -> tuple[float, float]:
    """How many output pixels a stored row and a stored column take (before any scaling), so
    that output pixels are square at the patient: 1 along the finer axis, more along the
    coarser one (a film with pixels twice as tall as wide is drawn twice as tall, not
    squashed); (1, 1) without a spacing."""
    if spacing is None or spacing.row_mm == spacing.col_mm:
        return 1.0, 1.0
    fine = min(spacing.row_mm, spacing.col_mm)
    return spacing.row_mm / fine, spacing.col_mm / fine


def _base_image(radiograph: Radiograph, view: _View) -> npt.NDArray[np.float32]:
    """Display brightness 0..1 of ``view``'s region, resampled to its output size.

    A film larger than the overlay is area-averaged first and mapped to brightness after, so
    the mapping runs over the overlay's pixels, not the film's (4x fewer on a 0.1 mm film).
    """
    region = np.asarray(radiograph.pixels[view.r0 : view.r1, view.c0 : view.c1], dtype=np.float32)
    size = (view.out_w, view.out_h)
    if size != (region.shape[1], region.shape[0]):
        # nearest when enlarged (pixels shown as pixels), box averages when any axis shrinks
        upscale = view.out_w >= region.shape[1] and view.out_h >= region.shape[0]
        finite = region if np.isfinite(region).all() else np.nan_to_num(region, nan=0.0)
        img = Image.fromarray(finite).resize(
            size, resample=Image.Resampling.NEAREST if upscale else Image.Resampling.BOX
        )
        region = np.asarray(img, dtype=np.float32)
    disp = _display_mapper(radiograph)(region)
    if radiograph.display is not None:  # a DICOM VOI mapping: keep it within 0..1
        # np.interp maps NaN to NaN, and clip keeps it: black, as the percentile window does
        disp = np.clip(np.nan_to_num(disp, nan=0.0), 0.0, 1.0).astype(np.float32)
    return disp


def _coverage(fragment: Fragment, view: _View) -> tuple[int, int, npt.NDArray[np.float32]] | None:
    """Fraction of each output pixel covered by ``fragment``: ``(i0, j0, array)`` or None."""
    fr0, fc0, fr1, fc1 = fragment.bbox_px
    i0 = max(0, math.floor((fr0 - view.r0) * view.sy))
    i1 = min(view.out_h, math.ceil((fr1 - view.r0) * view.sy))
    j0 = max(0, math.floor((fc0 - view.c0) * view.sx))
    j1 = min(view.out_w, math.ceil((fc1 - view.c0) * view.sx))
    if i1 <= i0 or j1 <= j0:
        return None
    # source window in stored coordinates covering output rows i0..i1, cols j0..j1
    sr0, sr1 = view.r0 + i0 / view.sy, view.r0 + i1 / view.sy
    sc0, sc1 = view.c0 + j0 / view.sx, view.c0 + j1 / view.sx
    pr0, pr1 = math.floor(sr0), math.ceil(sr1)
    pc0, pc1 = math.floor(sc0), math.ceil(sc1)
    src = np.zeros((pr1 - pr0, pc1 - pc0), dtype=np.float32)
    mask = np.asarray(fragment.mask, dtype=bool)
    # intersect the fragment's mask with the source window
    ar0, ar1 = max(fr0, pr0), min(fr0 + mask.shape[0], pr1)
    ac0, ac1 = max(fc0, pc0), min(fc0 + mask.shape[1], pc1)
    if ar1 <= ar0 or ac1 <= ac0:
        return None
    src[ar0 - pr0 : ar1 - pr0, ac0 - pc0 : ac1 - pc0] = mask[
        ar0 - fr0 : ar1 - fr0, ac0 - fc0 : ac1 - fc0
    ]
    upscale = view.sx >= 1.0 and view.sy >= 1.0  # as _base_image: box when any axis shrinks
    cov = Image.fromarray(src).resize(
        (j1 - j0, i1 - i0),
        resample=Image.Resampling.NEAREST if upscale else Image.Resampling.BOX,
        box=(sc0 - pc0, sr0 - pr0, sc1 - pc0, sr1 - pr0),
    )
    return i0, j0, np.asarray(cov, dtype=np.float32)


def _contours(fragment: Fragment, view: _View) -> list[list[tuple[float, float]]]:
    """Outline(s) of ``fragment`` on the pixel edges, as drawing coordinates."""
    mask = np.pad(np.asarray(fragment.mask, dtype=np.float32), 1)
    fr0, fc0 = fragment.bbox_px[0], fragment.bbox_px[1]
    tol = max(0.3, 0.4 / max(view.sx, view.sy))
    out: list[list[tuple[float, float]]] = []
    for contour in find_contours(mask, 0.5):
        poly = simplified_polyline(contour, tol)
        pts = [view.to_xy((r + fr0 - 1, c + fc0 - 1)) for r, c in poly]
        if len(pts) >= 2:
            out.append(pts)
    return out


# --------------------------------------------------------------------------------------------
# drawing helpers


class _Canvas:
    """The image being annotated, with a record of what is occupied and of every text drawn."""

    def __init__(self, gray: npt.NDArray[np.float32], font_px: int) -> None:
        rgb = np.repeat((gray * 255.0 + 0.5).astype(np.uint8)[:, :, None], 3, axis=2)
        self.h, self.w = gray.shape
        self.gray = gray  # the film as shown, before anything is drawn on it
        self.rgb = rgb
        self.font_px = font_px
        self.line_px = max(2, round(font_px / 9))
        self.occupied = np.zeros((self.h, self.w), dtype=bool)
        self.texts: list[str] = []
        self._img: Image.Image | None = None

    # numpy <-> PIL -------------------------------------------------------------------------
    @property
    def img(self) -> Image.Image:
        if self._img is None:
            self._img = Image.fromarray(self.rgb)
        return self._img

    def array(self) -> npt.NDArray[np.uint8]:
        if self._img is not None:
            self.rgb = np.asarray(self._img, dtype=np.uint8).copy()
            self._img = None
        return self.rgb

    def draw(self) -> ImageDraw.ImageDraw:
        return ImageDraw.Draw(self.img, "RGBA")

    # occupancy -----------------------------------------------------------------------------
    def occupy_box(self, box: tuple[float, float, float, float]) -> None:
        x0, y0, x1, y1 = (round(v) for v in box)
        self.occupied[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True

    def occupy_line(self, a: tuple[float, float], b: tuple[float, float], pad: float) -> None:
        n = max(2, int(math.hypot(b[0] - a[0], b[1] - a[1])) + 1)
        for t in np.linspace(0.0, 1.0, n):
            x, y = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
            self.occupy_box((x - pad, y - pad, x + pad + 1, y + pad + 1))

    def cost(self, box: tuple[float, float, float, float]) -> float:
        x0, y0, x1, y1 = box
        inside = 0 <= x0 and 0 <= y0 and x1 <= self.w and y1 <= self.h
        xi0, yi0 = max(0, round(x0)), max(0, round(y0))
        xi1, yi1 = min(self.w, round(x1)), min(self.h, round(y1))
        area = max(1.0, (x1 - x0) * (y1 - y0))
        overlap = float(self.occupied[yi0:yi1, xi0:xi1].sum()) if xi1 > xi0 and yi1 > yi0 else 0.0
        return overlap / area + (0.0 if inside else 10.0)

    def hidden(self, box: tuple[float, float, float, float]) -> float:
        """How much of the film a label at ``box`` would hide of what is written on it: eight
        times the share of its pixels on sharp edges running both ways on the dark of air or
        an unexposed border (one side of the step shown under :data:`LABEL_DARK`), the fewer
        of the two (a lead side marker, burned-in text; not a straight edge across the
        corner), so that a label moves off a few such pixels before it lies over a guide
        line; 0 over the body, where the corner is the place a reader looks for it. A hip's
        label in the film's corner covered the film's own "R" marker, by which a reader
        checks the side."""
        x0, y0, x1, y1 = box
        xi0, yi0 = max(0, round(x0)), max(0, round(y0))
        xi1, yi1 = min(self.w, round(x1)), min(self.h, round(y1))
        g = self.gray[yi0:yi1, xi0:xi1]
        if g.shape[0] < 2 or g.shape[1] < 2:
            return 0.0
        # a letter has edges both ways; a straight skin line or a collimator's edge across
        # the corner runs one way only, and is no reason to move off the corner. Edges on
        # the dark only (one side of the step under LABEL_DARK): a marker on the air beside a
        # box that lies mostly over bright bone was hidden as if the box lay on the body (the
        # box's median decided, 2026-12-07: a real film's "R" under the right hip's label)
        dark = g < LABEL_DARK
        across = np.count_nonzero(
            (np.abs(np.diff(g, axis=1)) > LABEL_EDGE_STEP) & (dark[:, 1:] | dark[:, :-1])
        )
        down = np.count_nonzero(
            (np.abs(np.diff(g, axis=0)) > LABEL_EDGE_STEP) & (dark[1:, :] | dark[:-1, :])
        )
        return 8.0 * min(across, down) / g.size

    # primitives ----------------------------------------------------------------------------
    def text(
        self, xy: tuple[float, float], text: str, size: int, fill: RGB, *, stroke: bool = False
    ) -> None:
        self.texts.append(text)
        self.draw().text(
            xy,
            text,
            font=_font(size),
            fill=fill,
            stroke_width=max(1, size // 12) if stroke else 0,
            stroke_fill=OUTLINE_RGB if stroke else None,
        )

    def box(self, box: tuple[float, float, float, float], alpha: int = BOX_ALPHA) -> None:
        self.draw().rectangle(box, fill=(0, 0, 0, alpha))
        self.occupy_box(box)


def _place(
    canvas: _Canvas,
    size: tuple[int, int],
    candidates: Iterable[tuple[float, float]],
    *,
    film: bool = False,
) -> tuple[float, float]:
    """The candidate top-left corner whose box overlaps least (first wins ties), clamped;
    with ``film``, also hiding least of the film (:meth:`_Canvas.hidden`)."""
    w, h = size
    best: tuple[float, float] | None = None
    best_cost = math.inf
    for x, y in candidates:
        box = (x, y, x + w, y + h)
        c = canvas.cost(box) + (canvas.hidden(box) if film else 0.0)
        if c < best_cost - 1e-9:
            best, best_cost = (x, y), c
    assert best is not None
    x = min(max(0.0, best[0]), max(0.0, canvas.w - w))
    y = min(max(0.0, best[1]), max(0.0, canvas.h - h))
    return x, y


def _fmt_mm(v: float) -> str:
    return f"{v:.1f} mm"


def _fmt_gap(gap_mm: float, threshold_mm: float = BROOKER_GAP_THRESHOLD_MM) -> str:
    return _fmt_mm(label_gap_mm(gap_mm, threshold_mm))


# --------------------------------------------------------------------------------------------
# the annotations


def _draw_fragments(canvas: _Canvas, fragments: Sequence[Fragment], view: _View) -> None:
    rgb = canvas.array()
    for frag in fragments:
        cov = _coverage(frag, view)
        if cov is None:
            continue
        i0, j0, a = cov
        colour = np.asarray(KIND_RGB[frag.kind], dtype=np.float32)
        # blend in the fragment's box only (not a float copy of the whole canvas)
        box = (slice(i0, i0 + a.shape[0]), slice(j0, j0 + a.shape[1]))
        wgt = (a * TINT_ALPHA)[:, :, None]
        sub = rgb[box].astype(np.float32) * (1.0 - wgt) + colour * wgt
        rgb[box] = (sub + 0.5).clip(0, 255).astype(np.uint8)
        canvas.occupied[box] |= a > 0.0
    canvas.rgb = rgb
    draw = canvas.draw()
    for frag in fragments:
        width = canvas.line_px * (2 if frag.kind is FragmentKind.BRIDGE else 1)
        for pts in _contours(frag, view):
            draw.line(pts, fill=(*OUTLINE_RGB, HALO_ALPHA), width=width + 2, joint="curve")
            draw.line(pts, fill=KIND_RGB[frag.kind], width=width, joint="curve")


def _draw_bodies(canvas: _Canvas, hips: Sequence[HipResult], view: _View) -> None:
    """The pelvis and femur bodies' edges in each hip's region searched (the pelvis's dotted,
    the femur's dashed): thin, over a halo."""
    draw = canvas.draw()
    lw = max(1, canvas.line_px // 2)
    for hip in hips:
        for outline in hip.body_outlines:
            pts = _dotted([view.to_xy(p) for p in outline.points_px], BODY_DOT_PITCH * lw + 1)
            colour = BODY_RGB_OF.get(outline.body, BODY_RGB)
            _draw_edge(draw, pts, lw, dashed=outline.body == "femur", colour=colour)


def _draw_edge(
    draw: ImageDraw.ImageDraw,
    pts: Sequence[tuple[float, float]],
    lw: int,
    *,
    dashed: bool,
    colour: RGB,
) -> None:
    """A body's edge through the evenly spaced ``pts``: a dot at each, or a dash over two
    pitches of every three, in ``colour`` (:data:`BODY_RGB_OF`) over a dark halo."""
    r = max(1.0, 0.75 * lw)
    width = max(2, round(1.5 * lw))  # as wide as a dot
    for fill, extra in (((*OUTLINE_RGB, HALO_ALPHA), 1.0), ((*colour, 255), 0.0)):
        if dashed:
            for k in range(0, len(pts) - 1, 3):
                draw.line(list(pts[k : k + 3]), fill=fill, width=round(width + 2 * extra))
        else:
            rad = r + extra
            for x, y in pts:
                draw.ellipse((x - rad, y - rad, x + rad, y + rad), fill=fill)


def _dotted(pts: Sequence[tuple[float, float]], pitch: float) -> list[tuple[float, float]]:
    """Points every ``pitch`` along the polyline ``pts`` (drawing coordinates), its first
    included.

    >>> _dotted([(0.0, 0.0), (10.0, 0.0)], 4.0)
    [(0.0, 0.0), (4.0, 0.0), (8.0, 0.0)]
    """
    if not pts:
        return []
    xy = np.asarray(pts, dtype=np.float64)
    along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    at = np.arange(0.0, along[-1] + 1e-9, pitch)
    xs, ys = np.interp(at, along, xy[:, 0]), np.interp(at, along, xy[:, 1])
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def _draw_gap(canvas: _Canvas, hip: HipResult, view: _View) -> None:
    gap = hip.gap
    if gap is None:
        return
    a = view.to_xy(gap.pelvic_point_px)
    b = view.to_xy(gap.femoral_point_px)
    draw = canvas.draw()
    lw = canvas.line_px
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    tick = max(4.0, 2.5 * lw)
    if length < 1.0:
        # a bridge (0 mm) or a gap below one output pixel: mark the point
        r = tick
        draw.ellipse((a[0] - r, a[1] - r, a[0] + r, a[1] + r), outline=OUTLINE_RGB, width=lw + 2)
        draw.ellipse((a[0] - r, a[1] - r, a[0] + r, a[1] + r), outline=GAP_RGB, width=lw)
        nx, ny = 0.0, -1.0
        canvas.occupy_box((a[0] - r, a[1] - r, a[0] + r, a[1] + r))
    else:
        ux, uy = dx / length, dy / length
        nx, ny = -uy, ux
        ticks = [
            ((p[0] - nx * tick, p[1] - ny * tick), (p[0] + nx * tick, p[1] + ny * tick))
            for p in (a, b)
        ]
        for colour, width in ((OUTLINE_RGB, lw + 2), (GAP_RGB, lw)):
            draw.line([a, b], fill=colour, width=width)
            for t0, t1 in ticks:
                draw.line([t0, t1], fill=colour, width=width)
        canvas.occupy_line(a, b, pad=tick + lw)
    # the distance label, beside the line, where it covers least
    label = _fmt_gap(gap.gap_mm, hip.gap_threshold_mm) if gap.gap_mm > 0 else "0 mm (bridged)"
    size = max(12, round(canvas.font_px * 0.9))
    tw, th = _text_size(label, size)
    pad = max(3, size // 5)
    bw, bh = tw + 2 * pad, th + 2 * pad
    mx, my = (a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0
    reach = abs(nx) * bw / 2.0 + abs(ny) * bh / 2.0 + tick + lw + 2
    cands: list[tuple[float, float]] = []
    hx, hy = view.to_xy(hip.center_px)
    # prefer the side of the line away from the joint centre
    sides = [1.0, -1.0]
    if (mx + nx - hx) ** 2 + (my + ny - hy) ** 2 < (mx - nx - hx) ** 2 + (my - ny - hy) ** 2:
        sides = [-1.0, 1.0]
    for k in (1.0, 1.6, 2.4, 3.5):
        for s in sides:
            cx, cy = mx + s * nx * reach * k, my + s * ny * reach * k
            cands.append((cx - bw / 2.0, cy - bh / 2.0))
    for p, q in ((a, b), (b, a)):  # beyond either end
        ex, ey = p[0] - q[0], p[1] - q[1]
        el = math.hypot(ex, ey) or 1.0
        far = (abs(ex / el) * bw / 2.0 + abs(ey / el) * bh / 2.0) + tick + lw + 2
        cands.append((p[0] + ex / el * far - bw / 2.0, p[1] + ey / el * far - bh / 2.0))
    x, y = _place(canvas, (bw, bh), cands)
    canvas.box((x, y, x + bw, y + bh))
    canvas.text((x + pad, y + pad), label, size, GAP_RGB)


def _draw_joint(canvas: _Canvas, hip: HipResult, view: _View, spacing: PixelSpacing | None) -> None:
    """The head the hip was placed on (outline and centre cross) and, for a hip that was
    searched (graded, or not graded for what was found there), the outline of the region
    searched for heterotopic bone."""
    draw = canvas.draw()
    lw = max(1, canvas.line_px // 2)
    x, y = view.to_xy(hip.center_px)
    if spacing is None or hip.head_radius_mm is None:
        return
    # output pixels per mm along x and y
    kx, ky = view.sx / spacing.col_mm, view.sy / spacing.row_mm
    rx, ry = hip.head_radius_mm * kx, hip.head_radius_mm * ky
    box = (x - rx, y - ry, x + rx, y + ry)
    canvas.occupy_box(box)  # no label over the head the hip is graded about
    halo_box = (box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1)
    arm = max(3.0, 0.25 * rx)
    cross = ([(x - arm, y), (x + arm, y)], [(x, y - arm), (x, y + arm)])
    for colour, width, ring in (
        ((*OUTLINE_RGB, HALO_ALPHA), lw + 2, halo_box),
        ((*JOINT_RGB, 230), lw, box),
    ):
        if hip.center_uncertainty_mm > 0:
            # no outline of this head was found: a typical head about the detector's centre,
            # dashed, so that it is not read as the head's own outline
            for start in range(0, 360, 2 * HEAD_DASH_DEG):
                draw.arc(ring, start, start + HEAD_DASH_DEG, fill=colour, width=width)
        else:
            draw.ellipse(ring, outline=colour, width=width)
    for colour, width in (((*OUTLINE_RGB, HALO_ALPHA), lw + 2), ((*JOINT_RGB, 255), lw)):
        for seg in cross:
            draw.line(seg, fill=colour, width=width)
    if hip.search_region is None:
        return
    inner, radius_mm, lo, hi = hip.search_region
    lat = -1.0 if hip.image_side is ImageSide.LEFT else 1.0

    def at(phi_deg: float, r_mm: float) -> tuple[float, float]:
        t = math.radians(phi_deg)  # 0 up, 90 lateral
        return (x + lat * math.sin(t) * r_mm * kx, y - math.cos(t) * r_mm * ky)

    # the joint (to ``inner``) is not searched: the region is a band, outlined all round
    outer = [at(float(a), radius_mm) for a in np.linspace(lo, hi, 64)]
    near = [at(float(a), inner) for a in np.linspace(hi, lo, 32)]
    outline = [*outer, *near, outer[0]]
    draw.line(outline, fill=(*OUTLINE_RGB, HALO_ALPHA), width=lw + 2)
    draw.line(outline, fill=(*JOINT_RGB, 170), width=lw)


#: Half the arm of the cross that marks the detector's lesser guesses, mm at the patient.
CANDIDATE_CROSS_MM = 6.0


def _draw_candidates(canvas: _Canvas, result: GradingResult, view: _View) -> None:
    """Where the detector looked closest when no hip was found, with its score: its best
    guess as the detector's window, the others as a cross at their centre. Three windows
    drawn alike, two of them run off the film's edge and overlapping, read as one tall box
    (a radiologist's test of 2026-12-07, on a knee)."""
    spacing = result.spacing
    if spacing is None:
        return
    draw = canvas.draw()
    lw = max(1, canvas.line_px // 2)
    size = max(10, round(canvas.font_px * 0.8))
    ranked = sorted(result.hip_candidates, key=lambda c: -c.score)
    for k, c in enumerate(ranked):
        x, y = view.to_xy(c.center_px)
        label = f"hip? score {c.score:.1f}"
        tw, th = _text_size(label, size)
        if k == 0:
            # the detector's 128 x 128 mm window at the patient: rows and columns apart
            rx, ry = 64.0 / spacing.col_mm * view.sx, 64.0 / spacing.row_mm * view.sy
            box = (x - rx, y - ry, x + rx, y + ry)
            draw.rectangle(box, outline=(*CANDIDATE_RGB, 160), width=lw)
            # in the window's top-left corner, or as near it as the image allows (a window
            # about a place near the film's edge reaches past it)
            tx, ty = x - rx + lw * 2, y - ry + lw * 2
        else:
            ax = CANDIDATE_CROSS_MM / spacing.col_mm * view.sx
            ay = CANDIDATE_CROSS_MM / spacing.row_mm * view.sy
            for line in ((x - ax, y, x + ax, y), (x, y - ay, x, y + ay)):
                draw.line(line, fill=(*CANDIDATE_RGB, 200), width=lw)
            tx, ty = x + ax + lw * 2, y - th / 2
        tx = min(max(tx, 0.0), max(0.0, canvas.w - tw))
        ty = min(max(ty, 0.0), max(0.0, canvas.h - th))
        canvas.text((tx, ty), label, size, CANDIDATE_RGB, stroke=True)


def _hip_lines(hip: HipResult) -> list[tuple[str, RGB]]:
    if hip.grade is None:
        lines = [("hip found, not graded", TEXT_RGB)]
        why = not_graded_in_few_words(hip.not_graded or "")
        lines.append((why or "why: see the caveats below", BORDERLINE_RGB))
        if hip.prosthesis:
            lines.append(("prosthesis", MUTED_RGB))
        return lines
    lines = [(f"Brooker {hip.grade.roman}", TEXT_RGB)]
    if hip.grade is BrookerGrade.ANKYLOSIS:
        lines.append(("apparent ankylosis", KIND_RGB[FragmentKind.BRIDGE]))
    if hip.gap is not None and hip.grade is not BrookerGrade.ANKYLOSIS:
        # "to head region": the line ends on the head, not the femur body or a femoral spur
        to = gap_end_words(hip.gap.to_head)
        lines.append((f"gap {_fmt_gap(hip.gap.gap_mm, hip.gap_threshold_mm)}{to}", GAP_RGB))
    if hip.borderline:
        # The record's value (2 decimals) rounded again, as the review page shows it:
        # rounding the exact 0.449 gives 0.4 here but 0.45 -> 0.5 on the page.
        u = round(float(hip.gap.uncertainty_mm), 2) if hip.gap is not None else None
        lines.append(
            (f"borderline ±{u:.1f} mm" if u is not None and u > 0 else "borderline", BORDERLINE_RGB)
        )
    if hip.weak_call:
        lines.append(("weak call", BORDERLINE_RGB))
    if hip.class_range is not None:  # a "0" that grades IV 2 mm away is no plain 0
        lo, hi = hip.class_range
        words = class_range_words(lo.roman, hi.roman, hip.center_uncertainty_mm)
        lines.append((words, BORDERLINE_RGB))
    if hip.centres_graded is not None:  # a III about 1 centre of 5 is no plain III
        graded, tried = hip.centres_graded
        words = centres_graded_words(graded, tried, hip.center_uncertainty_mm)
        lines.append((words, BORDERLINE_RGB))
    if hip.limited_by:  # what the segmentation missed: named in the panel's caveats (one line
        # here: on a 512-pixel film a line each grew the label over the hip it names)
        # "limited analysis", not "view": the bone is on the film, the segmentation missed it
        # (a radiologist's test of 2026-12-08: the trochanter was plain to see)
        lines.append(("limited analysis (see caveats)", BORDERLINE_RGB))
    if hip.prosthesis:
        lines.append(("prosthesis", MUTED_RGB))
    return lines


def _draw_hip_label(
    canvas: _Canvas,
    hip: HipResult,
    view: _View,
    turn: GridTransform = IDENTITY,
    side_assumed: bool = False,
) -> None:
    """Side letter, class and notes in a block on the hip's own half of the image: the half
    its lateral side is towards, on the film as stored (``turn``, the film's
    :attr:`~brooker.models.Radiograph.to_upright`: the top or bottom half of a film stored
    turned a quarter, whose ``image_side`` is a half of the film turned upright).
    ``side_assumed``: no tag says how the stored image's halves lie (the AP convention, or
    a View Position, was assumed): the letter is written "R?" in amber, as sure as it is (it
    looked as sure as one the orientation tag gave)."""
    size = canvas.font_px
    big = round(size * 1.8)
    lines = _hip_lines(hip)
    letter = hip.patient_side.letter + ("?" if side_assumed else "")
    lw_, lh_ = _text_size(letter, big)
    pad = max(4, size // 3)
    gap_x = max(4, size // 2)
    line_h = round(size * 1.25)
    text_w = max(_text_size(t, size)[0] for t, _ in lines)
    bw = pad + lw_ + gap_x + text_w + pad
    bh = pad + max(lh_, line_h * len(lines)) + pad
    hx, hy = view.to_xy(hip.center_px)
    margin = max(6.0, size * 0.5)
    if turn.transpose:
        x, y = _quarter_label_corner(canvas, hip, (hx, hy), (bw, bh), margin, turn)
        _write_hip_label(
            canvas, (x, y, bw, bh), letter, lines, (pad, gap_x, line_h, lw_, lh_), side_assumed
        )
        return
    outer_left = hip.image_side is ImageSide.LEFT
    x_out = margin if outer_left else canvas.w - margin - bw
    # towards the middle from the hip centre, still on the hip's half
    x_in = (hx - bw - 4 * margin) if not outer_left else (hx + 4 * margin)
    x_in = min(max(x_in, 0.0), canvas.w - bw)
    if outer_left:
        x_in = min(x_in, canvas.w / 2.0 - bw)
    else:
        x_in = max(x_in, canvas.w / 2.0)
    top, bottom = margin, canvas.h - margin - bh
    # the hip's side is decided by image_side; vertically prefer the far end from the joint
    ys = [top, bottom] if hy >= canvas.h / 2.0 else [bottom, top]
    cands = [(x_out, ys[0]), (x_out, ys[1])]
    # then along the edges from the corner, towards the middle, by a third of the label: off
    # a side marker or a line of text that lies in the corner; then nearer the hip
    step = (1.0 if outer_left else -1.0) * bw / 3.0
    slid = [x_out + k * step for k in range(1, 4)]
    slid = [x for x in slid if (x + bw <= canvas.w / 2.0 if outer_left else x >= canvas.w / 2.0)]
    cands += [(x, y) for x in slid for y in ys]
    cands += [(x_in, ys[0]), (x_in, ys[1])]
    x, y = _place(canvas, (bw, bh), cands, film=True)
    _write_hip_label(
        canvas, (x, y, bw, bh), letter, lines, (pad, gap_x, line_h, lw_, lh_), side_assumed
    )


def _quarter_label_corner(
    canvas: _Canvas,
    hip: HipResult,
    at: tuple[float, float],
    size: tuple[int, int],
    margin: float,
    turn: GridTransform,
) -> tuple[float, float]:
    """Where a hip's label goes on a film stored turned a quarter: as on an upright film,
    turned with it. The hip's half is the top or the bottom one (its lateral side on the
    stored film); along it, the far end from the joint first."""
    hx, hy = at
    bw, bh = size
    lateral = -1.0 if hip.image_side is ImageSide.LEFT else 1.0
    # the lateral direction (0, lateral) of the film turned upright, on the stored film
    outer_top = turn.inverse.direction((0.0, lateral))[0] < 0
    y_out = margin if outer_top else canvas.h - margin - bh
    # towards the middle from the hip centre, still on the hip's half
    y_in = (hy + 4 * margin) if outer_top else (hy - bh - 4 * margin)
    y_in = min(max(y_in, 0.0), canvas.h - bh)
    y_in = min(y_in, canvas.h / 2.0 - bh) if outer_top else max(y_in, canvas.h / 2.0)
    left, right = margin, canvas.w - margin - bw
    xs = [left, right] if hx >= canvas.w / 2.0 else [right, left]
    cands = [(xs[0], y_out), (xs[1], y_out)]
    step = (1.0 if outer_top else -1.0) * bh  # along the edges, towards the middle
    slid = [y_out + k * step for k in range(1, 4)]
    slid = [y for y in slid if (y + bh <= canvas.h / 2.0 if outer_top else y >= canvas.h / 2.0)]
    cands += [(x, y) for y in slid for x in xs]
    cands += [(xs[0], y_in), (xs[1], y_in)]
    return _place(canvas, (bw, bh), cands, film=True)


def _write_hip_label(
    canvas: _Canvas,
    box: tuple[float, float, float, float],
    letter: str,
    lines: list[tuple[str, RGB]],
    metrics: tuple[int, int, int, int, int],
    side_assumed: bool = False,
) -> None:
    """The label's box at ``box`` (x, y, width, height): the side letter (amber when the
    side is assumed), then the lines."""
    x, y, bw, bh = box
    pad, gap_x, line_h, lw_, lh_ = metrics
    size = canvas.font_px
    big = round(size * 1.8)
    canvas.box((x, y, x + bw, y + bh))
    inner_h = bh - 2 * pad
    letter_rgb = BORDERLINE_RGB if side_assumed else TEXT_RGB
    canvas.text((x + pad, y + pad + (inner_h - lh_) / 2.0), letter, big, letter_rgb)
    tx = x + pad + lw_ + gap_x
    ty = y + pad + (inner_h - line_h * len(lines)) / 2.0
    for k, (t, colour) in enumerate(lines):
        canvas.text((tx, ty + k * line_h), t, size, colour)


def _draw_calibration(canvas: _Canvas, spacing: PixelSpacing | None, view: _View) -> None:
    """The calibration object(s): fitted outline, and "<kind> D mm = d px" beside it."""
    if spacing is None:
        return
    draw = canvas.draw()
    size = max(11, round(canvas.font_px * 0.8))
    for obj in spacing.calibration:
        x, y = view.to_xy(obj.center_px)
        ry = obj.diameter_px / 2.0 * view.sy
        rx = obj.diameter_px / 2.0 / obj.aspect * view.sx
        if x + rx < 0 or x - rx > canvas.w or y + ry < 0 or y - ry > canvas.h:
            continue
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), outline=CALIBRATION_RGB,
                     width=canvas.line_px)
        label = (
            f"{CALIBRATION_LABEL.get(obj.kind, obj.kind)} {obj.diameter_mm:g} mm"
            f"{' (assumed)' if obj.kind == 'femoral_head' else ''} = {obj.diameter_px:.1f} px"
        )
        w, h = _text_size(label, size)
        pad = max(3, size // 4)
        bw, bh = w + 2 * pad, h + 2 * pad
        cands = [
            (x - bw / 2.0, y + ry + pad),
            (x - bw / 2.0, y - ry - pad - bh),
            (x + rx + pad, y - bh / 2.0),
            (x - rx - pad - bw, y - bh / 2.0),
        ]
        bx, by = _place(canvas, (bw, bh), cands)
        canvas.box((bx, by, bx + bw, by + bh))
        canvas.text((bx + pad, by + pad), label, size, CALIBRATION_RGB)


def _hip_caveats(result: GradingResult, hips: Sequence[HipResult]) -> list[str]:
    out: list[str] = []
    for c in result.caveats:
        if c not in out:
            out.append(c)
    # a note both hips carry (a head centred by the hip detector, on most native hips of real
    # films) is written once, "R, L: ...", where its first hip's notes are
    sides: dict[str, list[str]] = {}
    for hip in hips:
        # why a hip found was not graded comes first: its label says only that it was not (a
        # film with no hip graded says it in its status line already)
        why = [f"not graded: {hip.not_graded}"] if hip.not_graded and not result.reason else []
        for c in why + list(hip.caveats):
            letters = sides.setdefault(c, [])
            if hip.patient_side.letter not in letters:
                letters.append(hip.patient_side.letter)
    for c, letters in sides.items():
        t = f"{', '.join(letters)}: {c}"
        if t not in out:
            out.append(t)
    return out


def _on_overlay(text: str) -> str:
    """A caveat or reason as the overlay's panel shows it: without "(check the overlay)",
    which the records and the terminal carry to send a reader here."""
    return without_overlay_pointer(text)


def _wrap(text: str, size: int, width: int) -> list[str]:
    """``text`` in lines at most ``width`` pixels wide at ``size``, broken between words
    (a word wider than that alone on its line): each line as many words as fit.

    Each line's end is found by bisection over its words (a line's width only grows with
    each word it takes), which measures about 4 trial lines a line where trying each word in
    turn measured 15: the panel's notes took a fifth of an overlay's time on one film.

    >>> _wrap("a b c", 12, 10_000)
    ['a b c']
    >>> _wrap("", 12, 100)
    ['']
    """
    words = text.split()
    lines: list[str] = []
    i = 0
    while i < len(words):
        fits = i + 1  # a line's first word is on it, however wide
        most = len(words)
        while fits < most:
            mid = (fits + most + 1) // 2
            if _text_size(" ".join(words[i:mid]), size)[0] <= width:
                fits = mid
            else:
                most = mid - 1
        lines.append(" ".join(words[i:fits]))
        i = fits
    return lines or [""]


def _panel(
    width: int,
    font_px: int,
    spacing: PixelSpacing | None,
    sx: float,
    result: GradingResult,
    laterality_source: str,
    caveats: Sequence[str],
    texts: list[str],
) -> npt.NDArray[np.uint8]:
    """The band below the image: legend, scale bar, spacing, version, caveats."""
    size = font_px
    small = max(11, round(font_px * 0.72))
    pad = max(6, size // 2)
    sw = round(size * 0.9)  # swatch size
    lw = max(2, round(font_px / 9))
    inner = width - 2 * pad

    # legend items: (swatch kind, label); "gap" is a line. A film with no hip shows none of
    # the findings' colours: only what it does show (a radiologist's test on a knee)
    items: list[tuple[str, RGB]] = []
    if result.hips:
        items += [(KIND_LABEL[k], KIND_RGB[k]) for k in FragmentKind]
        items.append(("gap", GAP_RGB))
        items.append((HIP_LABEL, JOINT_RGB))
        if any(h.search_region is not None for h in result.hips):
            items.append((REGION_LABEL, JOINT_RGB))
        if any(h.center_uncertainty_mm > 0 and h.head_radius_mm for h in result.hips):
            items.append((TYPICAL_HEAD_LABEL, JOINT_RGB))
        bodies = {o.body for h in result.hips for o in h.body_outlines}
        items += [(BODY_LABEL[b], BODY_RGB_OF[b]) for b in ("pelvis", "femur") if b in bodies]
    elif result.hip_candidates:
        items.append(("hip detector's best guess (window) and others (+)", CANDIDATE_RGB))
    scale_len = (SCALE_BAR_MM / spacing.col_mm) * sx if spacing is not None else 0.0
    scale_label = f"{SCALE_BAR_MM:g} mm"
    slw, _ = _text_size(scale_label, size)
    scale_w = round(scale_len) + pad + slw if spacing is not None else 0

    # flow layout of the legend, then the scale bar at the end of the first row
    row_h = round(size * 1.5)
    positions: list[tuple[int, int]] = []
    x, row = 0, 0
    for label, _ in items:
        iw = sw + size // 3 + _text_size(label, size)[0] + size
        if x > 0 and x + iw > inner:
            x, row = 0, row + 1
        positions.append((x, row))
        x += iw
    if spacing is not None:
        if x > 0 and x + scale_w + size > inner:
            x, row = 0, row + 1
        scale_pos = (max(x + size, inner - scale_w), row) if row == 0 else (x, row)
    legend_rows = row + 1

    info = [
        f"spacing: {spacing.row_mm:.3f} x {spacing.col_mm:.3f} mm"
        + (f" ±{100 * spacing.relative_uncertainty:.0f} %" if spacing.calibration else "")
        + f" {spacing.source.said}"
        if spacing is not None
        else "spacing: none (no scale)",
        f"sides: {sides_said(laterality_source)}",
        f"brooker {result.version}",
    ]
    info_lines = _wrap("   ·   ".join(info), small, inner)
    if result.status.value != "ok":
        status = f"{result.status.value}: {_on_overlay(result.reason or '')}".strip()
        info_lines += _wrap(status, small, inner)
    cav_lines: list[str] = []
    for c in caveats:
        cav_lines += _wrap(f"caveat: {_on_overlay(c)}", small, inner)
    small_h = round(small * 1.3)
    height = pad + legend_rows * row_h + (len(info_lines) + len(cav_lines)) * small_h + pad

    img = Image.new("RGB", (width, height), PANEL_RGB)
    draw = ImageDraw.Draw(img)
    for (label, colour), (px, prow) in zip(items, positions, strict=True):
        x0 = pad + px
        y0 = pad + prow * row_h + (row_h - sw) // 2
        if label == "gap":
            ym = y0 + sw // 2
            draw.line([(x0, ym), (x0 + sw, ym)], fill=colour, width=lw)
            draw.line([(x0, ym - sw // 3), (x0, ym + sw // 3)], fill=colour, width=lw)
            draw.line([(x0 + sw, ym - sw // 3), (x0 + sw, ym + sw // 3)], fill=colour, width=lw)
        elif label == TYPICAL_HEAD_LABEL:  # a dashed circle
            for start in range(0, 360, 2 * HEAD_DASH_DEG * 3):
                draw.arc((x0, y0, x0 + sw - 1, y0 + sw - 1), start, start + 3 * HEAD_DASH_DEG,
                         fill=colour, width=lw)  # fmt: skip
        elif label == HIP_LABEL:  # a circle about a cross, as drawn on the film
            draw.ellipse((x0, y0, x0 + sw - 1, y0 + sw - 1), outline=colour, width=lw)
            xc, yc, arm = x0 + (sw - 1) / 2.0, y0 + (sw - 1) / 2.0, sw / 4.0
            draw.line([(xc - arm, yc), (xc + arm, yc)], fill=colour, width=lw)
            draw.line([(xc, yc - arm), (xc, yc + arm)], fill=colour, width=lw)
        elif label in (PELVIS_LABEL, FEMUR_LABEL):  # a curved edge, as drawn on the film
            arc = [(x0 + sw * (1 - math.cos(t)), y0 + sw * (1 - math.sin(t)))
                   for t in np.linspace(0.0, math.pi / 2, 16)]  # fmt: skip
            pts = _dotted(arc, max(3.0, 2.0 * lw))
            _draw_edge(draw, pts, max(1, lw // 2), dashed=label == FEMUR_LABEL, colour=colour)
        elif label == REGION_LABEL:  # a quarter band about a left-out joint, as on the film
            cx, cy, r_out, r_in = x0, y0 + sw - 1, sw - 1, 0.45 * sw
            for r in (r_out, r_in):
                draw.arc((cx - r, cy - r, cx + r, cy + r), 270, 360, fill=colour, width=lw)
            draw.line([(cx, cy - r_in), (cx, cy - r_out)], fill=colour, width=lw)
            draw.line([(cx + r_in, cy), (cx + r_out, cy)], fill=colour, width=lw)
        else:
            draw.rectangle((x0, y0, x0 + sw - 1, y0 + sw - 1), fill=colour)
        texts.append(label)
        draw.text(
            (x0 + sw + size // 3, pad + prow * row_h + (row_h - size) // 2 - size // 10),
            label,
            font=_font(size),
            fill=TEXT_RGB,
        )
    if spacing is not None:
        n = max(1, round(scale_len))
        x0 = pad + scale_pos[0]
        ym = pad + scale_pos[1] * row_h + row_h // 2
        half = max(1, lw // 2 + 1)
        draw.rectangle((x0, ym - half, x0 + n - 1, ym + half), fill=SCALE_BAR_RGB)
        tw = max(1, 2 * half - 1)  # end ticks inside the bar's extent: the run is exactly n
        for xt in (x0, x0 + n - tw):
            draw.rectangle((xt, ym - 3 * half, xt + tw - 1, ym + 3 * half), fill=SCALE_BAR_RGB)
        texts.append(scale_label)
        draw.text(
            (x0 + n + pad, pad + scale_pos[1] * row_h + (row_h - size) // 2 - size // 10),
            scale_label,
            font=_font(size),
            fill=TEXT_RGB,
        )
    y = pad + legend_rows * row_h
    for line in info_lines:
        texts.append(line)
        draw.text((pad, y), line, font=_font(small), fill=MUTED_RGB)
        y += small_h
    for line in cav_lines:
        texts.append(line)
        draw.text((pad, y), line, font=_font(small), fill=BORDERLINE_RGB)
        y += small_h
    return np.asarray(img, dtype=np.uint8)


def _font_px_for(long_side: int) -> int:
    return int(min(64, max(14, round(long_side * 0.0135))))


def _render_view(
    radiograph: Radiograph,
    result: GradingResult,
    view: _View,
    hips_labelled: Sequence[HipResult],
    font_px: int,
    text: Sequence[TextLine] = (),
    base: npt.NDArray[np.float32] | None = None,
    loupe: bool = False,
    unmarked: bool = False,
) -> tuple[npt.NDArray[np.uint8], list[str]]:
    """``base``: :func:`_base_image` of ``view``, made already (it is drawn on). ``loupe``:
    a labelled hip whose gap is drawn shorter than :data:`LOUPE_BELOW_PX` gets a loupe
    (:func:`_draw_loupe`), placed before the labels so that none lands on it. ``unmarked``:
    the same view with nothing drawn on it (its burned-in text blanked all the same) to the
    right of the annotated one, captioned :data:`UNMARKED_CAPTION`."""
    if base is None:
        base = _base_image(radiograph, view)
    blanked = _blank_text(base, view, text, radiograph.pixels.shape)
    canvas = _Canvas(base, font_px)
    spacing = result.spacing or radiograph.spacing
    for hip in result.hips:
        _draw_joint(canvas, hip, view, spacing)
    if not result.hips:
        _draw_candidates(canvas, result, view)
    _draw_bodies(canvas, result.hips, view)
    fragments = [f for hip in result.hips for f in hip.fragments]
    _draw_fragments(canvas, fragments, view)
    for hip in result.hips:
        # gap lines first in occupancy so that no label lands on any of them
        if hip.gap is not None:
            a, b = view.to_xy(hip.gap.pelvic_point_px), view.to_xy(hip.gap.femoral_point_px)
            canvas.occupy_line(a, b, pad=canvas.line_px * 4)
    spacing = result.spacing or radiograph.spacing
    _draw_calibration(canvas, spacing, view)
    for hip in hips_labelled:
        _draw_gap(canvas, hip, view)
    if loupe:
        for hip in hips_labelled:
            _draw_loupe(canvas, radiograph, hip, view, spacing, text)
    source = result.laterality_source or radiograph.laterality_source
    assumed = sides_assumed(source, len(result.hips))
    for hip in hips_labelled:
        _draw_hip_label(canvas, hip, view, radiograph.to_upright, side_assumed=assumed)
    film = canvas.array()
    if unmarked:
        film = np.concatenate([film, *_unmarked_twin(canvas)], axis=1)
    width = max(film.shape[1], min(PANEL_MIN_WIDTH_EM * font_px, canvas.h))
    panel = _panel(
        width,
        font_px,
        spacing,
        view.sx,
        result,
        result.laterality_source or radiograph.laterality_source,
        _hip_caveats(result, hips_labelled) + _blank_note(blanked),
        canvas.texts,
    )
    if width > film.shape[1]:  # too narrow for the panel: the film at the left, drawn as it is
        filler = np.empty((film.shape[0], width - film.shape[1], 3), dtype=np.uint8)
        filler[:] = PANEL_RGB
        film = np.concatenate([film, filler], axis=1)
    return np.concatenate([film, panel], axis=0), canvas.texts


def _corner_caption(canvas: _Canvas, caption: str, size: int) -> None:
    """``caption`` in ``canvas``'s top-left corner, white on a dark box (a loupe's, a crop's
    unmarked twin's)."""
    canvas.box((0, 0, _text_size(caption, size)[0] + 8, size + 8))
    canvas.text((4, 2), caption, size, TEXT_RGB)


def _unmarked_twin(canvas: _Canvas) -> list[npt.NDArray[np.uint8]]:
    """A gutter and ``canvas``'s film as it was before anything was drawn on it, captioned
    :data:`UNMARKED_CAPTION` in its top-left corner (the caption joins ``canvas.texts``)."""
    twin = _Canvas(canvas.gray, canvas.font_px)
    _corner_caption(twin, UNMARKED_CAPTION, max(12, round(canvas.font_px * 0.8)))
    canvas.texts.extend(twin.texts)
    gutter = np.empty((canvas.h, max(4, canvas.font_px // 2), 3), dtype=np.uint8)
    gutter[:] = PANEL_RGB
    return [gutter, twin.array()]


def _blank_text(
    base: npt.NDArray[np.float32],
    view: _View,
    text: Sequence[TextLine],
    shape: tuple[int, ...],
) -> int:
    """Black out, in ``base`` (``view``'s display brightness), every box of ``text`` (burned-in
    lines, :func:`brooker.burned_text.find_text_lines`) that reaches into the view; returns how
    many did."""
    n = 0
    for r0, c0, r1, c1 in blank_boxes(tuple(text), (int(shape[0]), int(shape[1]))):
        y0, y1 = math.floor((r0 - view.r0) * view.sy), math.ceil((r1 - view.r0) * view.sy)
        x0, x1 = math.floor((c0 - view.c0) * view.sx), math.ceil((c1 - view.c0) * view.sx)
        y0, x0 = max(0, y0), max(0, x0)
        y1, x1 = min(base.shape[0], y1), min(base.shape[1], x1)
        if y1 > y0 and x1 > x0:
            base[y0:y1, x0:x1] = 0.0
            n += 1
    return n


def _blank_note(blanked: int) -> list[str]:
    if not blanked:
        return []
    lines = "line" if blanked == 1 else "lines"
    return [f"{blanked} {lines} of text burned into the film blanked (black boxes)"]


def _overview(
    radiograph: Radiograph, spacing: PixelSpacing | None, max_side_px: int
) -> _View:
    """The whole film, drawn with square pixels at the patient (``spacing``), its long side at
    most ``max_side_px``."""
    rows, cols = radiograph.pixels.shape
    stretch_r, stretch_c = _square_mm(spacing)
    tall, wide = rows * stretch_r, cols * stretch_c
    scale = min(1.0, max_side_px / max(tall, wide))
    out_h, out_w = max(1, round(tall * scale)), max(1, round(wide * scale))
    return _View(0, 0, rows, cols, out_h, out_w)


#: The overlay's long side at most, pixels (the film is area-averaged down to it).
OVERVIEW_MAX_SIDE_PX = 2048


@dataclass(frozen=True, slots=True, eq=False)
class Prepared:
    """What the overlay of a film needs before the film is graded (:func:`prepare`): its
    burned-in text and its overview's brightness at the film's own spacing."""

    text_lines: tuple[TextLine, ...]
    view: _View
    base: npt.NDArray[np.float32]


def film_text(radiograph: Radiograph) -> tuple[TextLine, ...]:
    """The lines of text burned into the film (:func:`brooker.burned_text.find_text_lines`),
    sought in the image inside its border on a film with one (:mod:`brooker.padding`), and
    given on the stored pixels. The faint text of a label is sought in the margins only, the
    margins of the image as it was exposed, which a border moves away from the film's edges:
    unpadded, a faint ID at the bottom of the field is found and blanked; padded 60 pixels, it
    was not. Text written on the border is inside the box: a border's every line is padding
    (or one value), so a line of text on it is not. The whole film is not searched again
    (until 2026-12-07 it was: on 73 films with a border, the team's own or added, that search
    found no line the box's missed, and it cost up to 0.07 s a film)."""
    box = radiograph.unpadded_px
    lines = find_text_lines(unpadded_view(radiograph))
    if box is None:
        return lines
    on_film = Shifted((box[0], box[1]))
    return tuple(replace(line, bbox_px=on_film.box(line.bbox_px)) for line in lines)


def prepare(radiograph: Radiograph, max_side_px: int = OVERVIEW_MAX_SIDE_PX) -> Prepared:
    """The film's burned-in text (:func:`brooker.burned_text.find_text_lines`) and its
    overview's display brightness, for :func:`write_overlays`: they need the film only, so
    :func:`brooker.pipeline.grade_path` has them made while the film is graded
    (:func:`brooker.background.beside`)."""
    view = _overview(radiograph, radiograph.spacing, max_side_px)
    return Prepared(film_text(radiograph), view, _base_image(radiograph, view))


def _render(
    radiograph: Radiograph,
    result: GradingResult,
    max_side_px: int,
    text: Sequence[TextLine] | None = None,
    prepared: Prepared | None = None,
) -> tuple[npt.NDArray[np.uint8], list[str]]:
    view = _overview(radiograph, result.spacing or radiograph.spacing, max_side_px)
    if text is None:
        text = film_text(radiograph)
    font_px = _font_px_for(max(view.out_h, view.out_w))
    base = prepared.base if prepared is not None and prepared.view == view else None
    return _render_view(radiograph, result, view, result.hips, font_px, text, base)


# --------------------------------------------------------------------------------------------
# public API


def render_overlay(
    radiograph: Radiograph,
    result: GradingResult,
    *,
    max_side_px: int = OVERVIEW_MAX_SIDE_PX,
    text_lines: Sequence[TextLine] | None = None,
) -> npt.NDArray[np.uint8]:
    """Draw what was found and measured on the radiograph.

    Parameters
    ----------
    radiograph : Radiograph
        The loaded image (``pixels`` bone bright; ``display`` used when present).
    result : GradingResult
        Its grading; pixel coordinates refer to ``radiograph.pixels``.
    max_side_px : int
        The image is downscaled (area-averaged, never enlarged) so that its long side is at
        most this many pixels. A legend panel is added below it.
    text_lines : sequence of TextLine, optional
        Text burned into the film, blanked in black (the panel says how many lines); None: the
        film is searched with :func:`film_text`.

    Returns
    -------
    ndarray of uint8, shape (out_rows + panel_rows, out_cols, 3)
        RGB image. A tall film narrower than the panel's minimum (:data:`PANEL_MIN_WIDTH_EM`
        font sizes, at most ``out_rows``) is drawn at the left of a band that wide, the rest
        filled with the panel's colour: the image is then wider than ``out_cols``.
    """
    if max_side_px < 16:
        raise ValueError(f"max_side_px must be at least 16, got {max_side_px}")
    return _render(radiograph, result, max_side_px, text_lines)[0]


def render_hip_crops(
    radiograph: Radiograph,
    result: GradingResult,
    *,
    half_size_mm: float = 40.0,
    reach_mm: float = CROP_REACH_MM,
    text_lines: Sequence[TextLine] | None = None,
    unmarked: bool = False,
) -> list[tuple[str, npt.NDArray[np.uint8]]]:
    """Full-resolution crops around each hip, annotated like the overview; with
    ``unmarked``, each beside the same crop with nothing drawn on it (as ``--overlay-crops``
    writes them), so that what the tints and outlines cover can be seen.

    Each crop spans at least ``half_size_mm`` either side of the hip centre, and is widened
    to hold the hip's measured gap and its fragments with a margin, and the region searched
    for heterotopic bone as far as ``reach_mm`` from the centre (heterotopic bone lies lateral
    and superior to the joint, often beyond 40 mm of the head's centre: a reader checking a
    class 0 looks there for what was missed). It is drawn
    at 1:1 (x2, nearest neighbour, when under 600 px) so the gap can be checked pixel by pixel.
    ``text_lines`` as for :func:`render_overlay`.

    Returns
    -------
    list of (str, ndarray of uint8, shape (rows, cols, 3))
        ``("right", rgb)`` / ``("left", rgb)`` by the patient's side, in result order.
    """
    if not (math.isfinite(half_size_mm) and half_size_mm > 0):
        raise ValueError(f"half_size_mm must be positive, got {half_size_mm!r}")
    if not (math.isfinite(reach_mm) and reach_mm >= 0):
        raise ValueError(f"reach_mm must be zero or more, got {reach_mm!r}")
    rows, cols = radiograph.pixels.shape
    spacing = result.spacing or radiograph.spacing
    row_mm, col_mm = spacing.sampling_mm if spacing is not None else (1.0, 1.0)
    margin_r, margin_c = CROP_MARGIN_MM / row_mm, CROP_MARGIN_MM / col_mm
    crops: list[tuple[str, npt.NDArray[np.uint8]]] = []
    if text_lines is None and result.hips:
        text_lines = film_text(radiograph)
    for hip in result.hips:
        cr, cc = hip.center_px
        hr, hc = half_size_mm / row_mm, half_size_mm / col_mm
        lo_r, hi_r, lo_c, hi_c = cr - hr, cr + hr + 1, cc - hc, cc + hc + 1
        points = [] if hip.gap is None else [hip.gap.pelvic_point_px, hip.gap.femoral_point_px]
        for pr, pc in _search_reach(hip, reach_mm, row_mm, col_mm):
            lo_r, hi_r = min(lo_r, pr), max(hi_r, pr + 1)
            lo_c, hi_c = min(lo_c, pc), max(hi_c, pc + 1)
        for pr, pc in points:
            lo_r, hi_r = min(lo_r, pr - margin_r), max(hi_r, pr + margin_r + 1)
            lo_c, hi_c = min(lo_c, pc - margin_c), max(hi_c, pc + margin_c + 1)
        for frag in hip.fragments:
            fr0, fc0, fr1, fc1 = frag.bbox_px
            lo_r, hi_r = min(lo_r, fr0 - margin_r), max(hi_r, fr1 + margin_r)
            lo_c, hi_c = min(lo_c, fc0 - margin_c), max(hi_c, fc1 + margin_c)
        r0, r1 = max(0, math.floor(lo_r)), min(rows, math.ceil(hi_r))
        c0, c1 = max(0, math.floor(lo_c)), min(cols, math.ceil(hi_c))
        if r1 <= r0 or c1 <= c0:
            continue
        stretch_r, stretch_c = _square_mm(spacing)
        tall, wide = (r1 - r0) * stretch_r, (c1 - c0) * stretch_c
        factor = 2 if max(tall, wide) < UPSCALE_BELOW_PX else 1
        view = _View(
            r0, c0, r1, c1, max(1, round(tall * factor)), max(1, round(wide * factor))
        )
        # a crop is looked at closely, at its own size: a larger share for text
        font_px = max(15, min(40, round(max(view.out_h, view.out_w) * 0.022)))
        rgb, _ = _render_view(
            radiograph, result, view, [hip], font_px, text_lines or (), loupe=True,
            unmarked=unmarked,
        )  # fmt: skip
        crops.append((hip.patient_side.value, rgb))
    return crops


def _draw_loupe(
    canvas: _Canvas,
    radiograph: Radiograph,
    hip: HipResult,
    view: _View,
    spacing: PixelSpacing | None,
    text: Sequence[TextLine] = (),
) -> None:
    """A short gap enlarged in a corner of ``canvas`` (a hip crop): the film about the gap's
    middle (:data:`LOUPE_FIELD_MIN_MM`, or the gap and :data:`LOUPE_FIELD_MARGIN_MM`) at one
    scale in mm along both axes, not smoothed (nearest neighbour), its burned-in ``text``
    blanked as on the crop, with the head, the bodies' edges, the fragments and the gap drawn
    as on the crop, and its enlargement written in it ("x8", "x3.5"). Nothing when the hip
    has no gap over 0 mm, or when its gap is drawn at least :data:`LOUPE_BELOW_PX` long; of
    the three corners farthest from the gap, the one whose box covers least of what is drawn
    and of what is written on the film (a side marker)."""
    gap = hip.gap
    if gap is None or gap.gap_mm <= 0 or spacing is None:
        return
    a, b = view.to_xy(gap.pelvic_point_px), view.to_xy(gap.femoral_point_px)
    if math.hypot(b[0] - a[0], b[1] - a[1]) >= LOUPE_BELOW_PX:
        return
    side = min(LOUPE_MAX_PX, round(LOUPE_SHARE * min(canvas.w, canvas.h)))
    if side < 80:
        return
    row_mm, col_mm = spacing.sampling_mm
    field_mm = max(LOUPE_FIELD_MIN_MM, float(gap.gap_mm) + LOUPE_FIELD_MARGIN_MM)
    mid_r = (gap.pelvic_point_px[0] + gap.femoral_point_px[0]) / 2.0
    mid_c = (gap.pelvic_point_px[1] + gap.femoral_point_px[1]) / 2.0
    rows, cols = radiograph.pixels.shape[:2]
    hr, hc = field_mm / 2.0 / row_mm, field_mm / 2.0 / col_mm
    r0, r1 = max(0, math.floor(mid_r - hr)), min(rows, math.ceil(mid_r + hr) + 1)
    c0, c1 = max(0, math.floor(mid_c - hc)), min(cols, math.ceil(mid_c + hc) + 1)
    if r1 - r0 < 2 or c1 - c0 < 2:
        return
    # one scale in mm along both axes (the field's shape at the patient kept on anisotropic
    # pixels, as the crop keeps it: whole pixels per stored pixel on each axis were not)
    per_mm = side / max((r1 - r0) * row_mm, (c1 - c0) * col_mm)
    out_h = max(1, round((r1 - r0) * row_mm * per_mm))
    out_w = max(1, round((c1 - c0) * col_mm * per_mm))
    if out_h < r1 - r0 or out_w < c1 - c0:
        return  # no enlargement: the crop shows it as well
    zoom = _View(r0, c0, r1, c1, out_h, out_w)
    base = _base_image(radiograph, zoom)
    # burned-in text blanked as on the crop: the loupe showed it again, enlarged (a review)
    _blank_text(base, zoom, text, radiograph.pixels.shape)
    lens = _Canvas(base, max(12, round(canvas.font_px * 0.8)))
    # the head and the region's edge too: a gap may end on the head (a femoral end on the
    # head's outline floated in the loupe, a check of 2026-12-07)
    _draw_joint(lens, hip, zoom, spacing)
    _draw_bodies(lens, [hip], zoom)
    _draw_fragments(lens, hip.fragments, zoom)
    _draw_gap(lens, hip, zoom)
    times = min(zoom.sx / view.sx, zoom.sy / view.sy)
    # x3.5 is not "x4": a whole number only when it is one
    shown = f"{times:.0f}" if abs(times - round(times)) < 0.05 else f"{times:.1f}"
    caption = f"x{shown} about the gap" if times >= 1.5 else "about the gap"
    _corner_caption(lens, caption, lens.font_px)
    rgb = lens.array()
    h, w = rgb.shape[:2]
    frame = max(2, canvas.line_px)
    bw, bh = w + 2 * frame, h + 2 * frame
    margin = max(4.0, canvas.font_px * 0.5)
    corners = [
        (margin, margin), (canvas.w - margin - bw, margin),
        (margin, canvas.h - margin - bh), (canvas.w - margin - bw, canvas.h - margin - bh),
    ]  # fmt: skip
    mx, my = (a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0
    # the corners farthest from the gap first, so that the loupe never hides what it shows
    corners.sort(key=lambda xy: -math.hypot(xy[0] + bw / 2.0 - mx, xy[1] + bh / 2.0 - my))
    x, y = _place(canvas, (bw, bh), corners[:3], film=True)
    xi, yi = round(x), round(y)
    if xi < 0 or yi < 0 or xi + bw > canvas.w or yi + bh > canvas.h:
        return
    out = canvas.array()
    out[yi : yi + bh, xi : xi + bw] = GAP_RGB
    out[yi + frame : yi + frame + h, xi + frame : xi + frame + w] = rgb
    canvas.rgb = out
    canvas.occupy_box((xi, yi, xi + bw, yi + bh))
    canvas.texts.append(caption)
    # no line from the frame to the gap: a crop has one gap, and such a line read as the
    # gap label's leader or crossed the head (a check of 2026-12-07)


def _search_reach(
    hip: HipResult, reach_mm: float, row_mm: float, col_mm: float
) -> list[tuple[float, float]]:
    """Points ``(row, col)`` on the outer edge of the region searched about ``hip``, no
    further than ``reach_mm`` from its centre (none when the hip was not searched)."""
    if hip.search_region is None or reach_mm <= 0:
        return []
    _, radius_mm, lo_deg, hi_deg = hip.search_region
    reach = min(radius_mm, reach_mm)
    lat = -1.0 if hip.image_side is ImageSide.LEFT else 1.0
    cr, cc = hip.center_px
    out = []
    for phi in np.linspace(lo_deg, hi_deg, 39):
        t = math.radians(float(phi))  # 0 up, 90 lateral, as in _draw_joint
        out.append((cr - math.cos(t) * reach / row_mm, cc + lat * math.sin(t) * reach / col_mm))
    return out


def overlay_name_for(path: str | os.PathLike[str]) -> str:
    """Base name (no extension) of the overlay of ``path``, unique within a run.

    ``<stem>-<first 16 hex of sha1 of the absolute resolved path>``: two ``IM0001`` in
    different folders do not collide, and the same file always gets the same name. (With 8 hex
    digits, 32 bits, an archive of 100,000 films named alike held two that shared one overlay
    more often than not, and both records pointed at one patient's film.)

    >>> overlay_name_for("/data/a/IM0001") != overlay_name_for("/data/b/IM0001")
    True
    >>> overlay_name_for("/data/a/IM0001.dcm").startswith("IM0001-")
    True
    """
    p = Path(path).expanduser().resolve()
    digest = hashlib.sha1(str(p).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    stem = _NAME_SAFE.sub("_", p.stem).strip("._")[:60] or "image"
    return f"{stem}-{digest}"


#: The longest overlay name (stem) in bytes: with "-right.png" and atomic_write_bytes's
#: temporary name about it (a dot, a dot, 12 hex digits, ".tmp") it fills a file system's
#: 255-byte file name.
OVERLAY_STEM_MAX_BYTES = 255 - len("-right.png") - len("..0123456789ab.tmp")


def check_overlay_name(name: str | None, where: str) -> None:
    """Refuse a caller's overlay ``name`` too long for a file name once written
    (:data:`OVERLAY_STEM_MAX_BYTES`): a 300-character ``overlay_name`` raised a bare
    ``OSError`` (File name too long) about a hidden temporary file, after the film was graded
    (a research engineer's test of 2026-12-07). ``where`` names the function for the message.

    Raises
    ------
    brooker.errors.ConfigError
        The name, as written (:func:`overlay_stem`), is over the bound.
    """
    if name is None:
        return
    stem = overlay_stem("", name)
    size = len(os.fsencode(stem))
    if size > OVERLAY_STEM_MAX_BYTES:
        from brooker.errors import ConfigError

        raise ConfigError(
            f"{where}: an overlay name of {size} bytes is too long for a file name (at most "
            f"{OVERLAY_STEM_MAX_BYTES}, with its '-right.png' and temporary name)"
        )


def overlay_stem(path: str | os.PathLike[str], name: str | None = None) -> str:
    """The base name of the overlay of ``path`` in the output folder: ``name`` (a caller's
    ``overlay_name``, or ``grade_many``'s ``names``), without a ``.png`` it was given with,
    else :func:`overlay_name_for`; made safe (:func:`brooker.paths.safe_stem`). The one place
    writing and removing an overlay take its name from: ``"x.png"`` was written ``x.png.png``,
    and a removal that read it otherwise than the writing left a stale picture.

    >>> overlay_stem("/d/a.dcm", "x.PNG"), overlay_stem("/d/a.dcm", "../x")
    ('x', '_x')
    """
    if name is not None and name.lower().endswith(".png"):
        name = name[: -len(".png")]
    return safe_stem(name or overlay_name_for(path))


def encode_png(rgb: npt.NDArray[np.uint8]) -> bytes:
    """``rgb`` as PNG bytes: 8-bit RGB, every row with the "Up" filter, zlib level 1.

    Only the chunks IHDR, IDAT and IEND: no text, no time, nothing about the study. Written
    here rather than through Pillow because Pillow tries every filter on every row; the Up
    filter alone (the difference to the row above, one numpy subtraction) compresses an
    overlay as well and encodes a 2048 px overlay in about half the time (0.065 vs 0.14 s).
    zlib level 1 rather than 6: ~25 % larger files for a third of the time; overlays are
    written for every film of an archive.
    """
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"rgb must be uint8 of shape (rows, cols, 3), got {arr.dtype} {arr.shape}")
    rows, cols = arr.shape[:2]
    if rows == 0 or cols == 0:
        raise ValueError(f"rgb must not be empty, got shape {arr.shape}")
    flat = arr.reshape(rows, cols * 3)
    scan = np.empty((rows, 1 + cols * 3), dtype=np.uint8)
    scan[:, 0] = 2  # filter type Up (PNG spec 9.2); unsigned bytes wrap modulo 256 as required
    scan[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=scan[1:, 1:])

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", cols, rows, 8, 2, 0, 0, 0)  # 8 bits, truecolour
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", deflate(scan.tobytes(), 1)),
            chunk(b"IEND", b""),
        )
    )


#: Data at least this long is deflated in two halves at once (:func:`deflate`).
DEFLATE_SPLIT_BYTES = 1 << 20


def deflate(data: bytes, level: int) -> bytes:
    """A zlib stream (RFC 1950) of ``data``, as ``zlib.compress(data, level)`` makes it for
    short data; from :data:`DEFLATE_SPLIT_BYTES` on, the halves are deflated at once, the
    second in a thread (:func:`brooker.background.beside`; zlib releases the GIL), each a raw
    deflate stream, the first ended by a sync flush (an empty stored block, on a byte
    boundary, not final) so that the two join into one stream, as pigz does. The second half
    does not refer back into the first: a few hundred bytes more on a 2048 px overlay, and
    half the time (0.066 -> 0.035 s) where a core is idle."""
    if len(data) < DEFLATE_SPLIT_BYTES:
        return zlib.compress(data, level)
    view = memoryview(data)
    half = len(view) // 2

    def raw(part: memoryview, mode: int) -> bytes:
        packer = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        return packer.compress(part) + packer.flush(mode)

    second = beside(lambda part: raw(part, zlib.Z_FINISH), view[half:])
    first = raw(view[:half], zlib.Z_SYNC_FLUSH)
    check = struct.pack(">I", zlib.adler32(view) & 0xFFFFFFFF)
    # the header zlib.compress writes at this level: deflate, 32 KiB window, its level flag
    header = zlib.compress(b"", level)[:2]
    return b"".join((header, first, second.result(), check))


def write_png(path: str | os.PathLike[str], rgb: npt.NDArray[np.uint8]) -> Path:
    """Write ``rgb`` as a PNG (:func:`encode_png`) atomically: temporary file, fsync, rename."""
    return atomic_write_bytes(path, encode_png(rgb))


def write_overlays(
    out_dir: str | os.PathLike[str],
    name: str,
    radiograph: Radiograph,
    result: GradingResult,
    *,
    crops: bool = False,
    prepared: Prepared | None = None,
) -> Path:
    """Write ``<name>.png`` (and ``<name>-right.png`` / ``<name>-left.png``) into ``out_dir``.

    ``prepared``: :func:`prepare` of the radiograph, when the caller has it made; None: made
    here. Returns the path of the main overlay.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # the text once for the overview and the crops
    text = film_text(radiograph) if prepared is None else prepared.text_lines
    rgb, _ = _render(radiograph, result, OVERVIEW_MAX_SIDE_PX, text, prepared)
    main = write_png(out / f"{name}.png", rgb)
    if crops:
        written = set()
        for side, rgb in render_hip_crops(radiograph, result, text_lines=text, unmarked=True):
            write_png(out / f"{name}-{side}.png", rgb)
            written.add(side)
        # a hip no longer found on this file (edited since) leaves no crop of it behind
        remove_overlays(out, name, main=False, keep_sides=written)
    return main


def remove_overlays(
    out_dir: str | os.PathLike[str],
    name: str,
    *,
    main: bool = True,
    crops: bool = True,
    keep_sides: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Remove ``<name>.png`` (with ``main``) and, with ``crops``, the hip crops
    ``<name>-right.png`` / ``<name>-left.png`` but those of ``keep_sides``, from ``out_dir``
    where they exist: an earlier run's pictures of a file that no longer shows them (it now
    fails to load, or has lost a hip), so that no overlay in the folder contradicts the file's
    record. Crops are only touched by a run that draws them (``--overlay-crops``): with names
    given by the caller (``grade_many``'s ``names``), ``<name>-left`` could be another file's."""
    out = Path(out_dir)
    names = [f"{name}.png"] if main else []
    if crops:
        names += [f"{name}-{side}.png" for side in ("right", "left") if side not in keep_sides]
    for file in names:
        # only a picture this tool draws: a file of someone's under that name (a note, a film,
        # a link) is never removed (README: "never any other file kept there")
        if is_drawn_overlay(out / file):
            (out / file).unlink(missing_ok=True)


__all__ = [
    "BORDERLINE_RGB",
    "GAP_RGB",
    "KIND_RGB",
    "SCALE_BAR_RGB",
    "encode_png",
    "overlay_name_for",
    "remove_overlays",
    "render_hip_crops",
    "render_overlay",
    "write_overlays",
    "write_png",
]
