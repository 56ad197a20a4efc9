"""Text burned into a radiograph's pixels: found, so that overlays can blank it.

A film may carry text in its pixels: a name or an ID on a label, the exposure, a date. The
overlay shows the film itself, so without this step such text would leave the site in every
overlay. Header data elements never reach the overlay (see :mod:`brooker.overlay`); this module
finds the text that is part of the image.

What is found is a *line of text*: at least :data:`MIN_GLYPHS` glyphs of one height side by
side, each a thin-stroked shape standing out of its surroundings by half the film's grey-level
range, on a background in the darker half of that range (air, a black label, the thin soft
tissue at the film's edge), with background above and below the line; a line so found is
followed along its row over brighter tissue, at its own grey level. So a single letter (a
lead side marker, "L"), a wire, a screw, bone and metal are not text.

Faint text (a label printed in mid-grey when the film was made, or embossed) is sought in the
film's margins only, where labels are printed and no anatomy of interest lies: a line of at
least :data:`FAINT_MIN_GLYPHS` glyphs standing out of a background taken at their own scale
by a tenth of the range (and ten times the film's noise), with no such shapes crowding the
bands above and below it (texture leaves them everywhere), starting or ending within
:data:`FAINT_MARGIN_FRAC` of an edge; the other lines of its label, stacked on it, are taken
with it. On the team's real films this finds an ID over the thigh at the bottom edge and a
name embossed at the top edge, and nothing else (README, *Overlays*).

Text written along the film's side (a film's ID label turned a quarter) is read by the main
rules on the film turned a quarter, within :data:`SIDEWAYS_MARGIN_FRAC` of an edge, and
blanked with the rest of its label (lines beside it in other grey levels: a name, a date).

Not found: a line written wholly over the body's brighter half, dark text on a white label (on
the negative, the holes of a metal cup in a row look like it), text too small to read in the
overlay, and faint text away from the margins or shorter than six glyphs. The rules are
geometric and relative to the film's own grey-level range and size, not to any one modality's
fonts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.imaging import grey_openings_square

#: Tallest glyph, as a fraction of the film's long side (burned-in annotations are 1-2 %).
MAX_HEIGHT_FRAC = 0.03
#: Shortest glyph, pixels: smaller text cannot be read, so it identifies no one.
MIN_HEIGHT_PX = 5
#: A glyph stands out of its surroundings (a white top-hat as wide as the tallest glyph) by at
#: least this fraction of the film's range (1st to 99.9th percentile): text is drawn at the
#: extremes of the stored range, bone and its edges are not.
MIN_CONTRAST_FRAC = 0.5
#: Text is written on the film's dark background, not over bone: the background under a glyph,
#: and the bands above and below a line, are within this fraction of the range of its bottom.
MAX_BACKGROUND_FRAC = 0.5
#: A glyph's strokes are thin: its largest inscribed disk's radius is at most this fraction of
#: its height (or 1.5 pixels).
MAX_STROKE_FRAC = 0.34
#: Longest side, pixels, of the image text is searched on (larger films are reduced 2x, 3x, ...).
WORK_SIDE_PX = 1600
#: On a reduced film (each block by its brightest pixel) a glyph's strokes are thickened by up to
#: a pixel and its counters close: the largest inscribed disk a glyph may hold is this much
#: larger there, pixels (without it, 4 mm text on a 3300-pixel film, 8 pixels tall at a third,
#: read as blobs and was left on the film whole or in part, depending on where it fell on the
#: 3-pixel grid; on the team's 249 films it changes only two phantom lines, now blanked whole).
REDUCED_STROKE_PAD_PX = 1.0
#: Fewest glyphs in a line (a glyph as wide as n letters counts n, a letter 0.8 of its height;
#: joined letters are one glyph), from at least two separate shapes.
MIN_GLYPHS = 3
#: Faint text (a label printed in mid-grey, or embossed, when the film was made) is sought only
#: in the film's margins, where annotations are placed and anatomy of interest is not: a line
#: that starts or ends within this fraction of the film's height or width from its edge ...
FAINT_MARGIN_FRAC = 0.08
#: ... of at least this many glyphs (a lone word of three letters in the margin is not sought) ...
FAINT_MIN_GLYPHS = 6
#: ... each standing out of a background taken at its own scale (an opening 2h + 1 pixels wide
#: for glyphs up to 2h tall, for each h here) by at least this fraction of the range (a
#: background wider than the glyphs reads the film's dark edge under the soft tissue there).
FAINT_CONTRAST_FRAC = 0.1
FAINT_GLYPH_PX = (5, 8, 12)
#: ... and by at least this many times the film's pixel noise in its margins (from the median
#: step between neighbouring pixels: the noise's standard deviation on white noise), on a
#: noisy film.
FAINT_NOISE_FACTOR = 10.0
#: Text written along the film's side (an ID label turned a quarter, an imprint along the
#: film's edge) is sought by the main rules on the film turned a quarter, in its outer band:
#: a line starting or ending within this fraction of the film's height or width from an edge
#: (farther in, the ticks of a ruler standing on the film read as such a line).
SIDEWAYS_MARGIN_FRAC = 0.15
#: A label carries lines side by side (a name beside an ID, in other grey levels): a line
#: found along the side is blanked with this many of its glyph heights on either side of it.
SIDEWAYS_LABEL_PAD = 1.5
#: ... and grown over the rest of its label (see :func:`_label_box`) by at most this many times
#: its length along it and its glyph height across it.
LABEL_MAX_GROWTH = 3
#: A strip beside the label's box belongs to the label while its mean gradient is at least
#: this fraction of the line's own (a label's white strip between lines lowers it).
LABEL_BUSY_FRAC = 0.3


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of burned-in text: its box in stored pixels (``r0, c0, r1, c1``, ends
    exclusive), the glyph height and the number of glyphs it was found from."""

    bbox_px: tuple[int, int, int, int]
    height_px: int
    glyphs: int
    #: written along the film's side (read on the film turned a quarter): ``height_px`` is
    #: then across its columns, and the line is blanked with its label's neighbours
    sideways: bool = False


def find_text_lines(
    pixels: npt.NDArray[np.floating] | npt.NDArray[np.integer],
) -> tuple[TextLine, ...]:
    """Lines of bright text burned into ``pixels`` (a stored image, bone bright, any grey-level
    scale); empty when there is none.

    A film longer than :data:`WORK_SIDE_PX` is searched at a coarser pitch, each block of
    pixels by its brightest (thin strokes keep their contrast), at the largest pitch that keeps
    its long side above :data:`WORK_SIDE_PX` / 2 pixels: so on a film of 3000 pixels the
    smallest text found is about 10 pixels tall (0.3 % of the film), legible in its overlay.
    (A third of the resolution of a 2250-pixel film lost the digits of 4 mm text.)
    """
    img = np.asarray(pixels, dtype=np.float32)
    if img.ndim != 2 or min(img.shape) < 2 * MIN_HEIGHT_PX:
        return ()
    finite = np.isfinite(img)
    if not finite.all():
        # the darkest finite value (``np.nanmin`` would return -inf: the film would read empty)
        img = np.where(finite, img, img[finite].min() if finite.any() else np.float32(0.0))
    k = max(1, -(-max(img.shape) // WORK_SIDE_PX))  # ceil
    if k > 1:
        rows, cols = (img.shape[0] // k) * k, (img.shape[1] // k) * k
        # the brightest of each k x k block, from k * k strided views (a reshape's max over
        # two axes is 10x slower)
        img = np.maximum.reduce([img[i:rows:k, j:cols:k] for i in range(k) for j in range(k)])
    step = max(1, int(np.sqrt(img.size / 1_000_000)))
    lo, hi = (float(v) for v in np.percentile(img[::step, ::step], [1.0, 99.9]))
    if not hi > lo:
        return ()
    # the background of the main rules, once: an opening by a square turns with the film;
    # with the faint scales' backgrounds, whose minima it shares
    wide = _max_height(img) | 1  # wider than any glyph: what it leaves is their background
    opened = grey_openings_square(img, (wide, *_faint_sizes(img)))
    background = opened[wide]
    pad = REDUCED_STROKE_PAD_PX if k > 1 else 0.0
    found = _lines(img, lo, hi, background, stroke_pad_px=pad)
    found += tuple(
        line
        for line in _faint_lines(img, lo, hi, opened, stroke_pad_px=pad)
        if not any(_overlap(line, t) for t in found)
    )
    turned = np.ascontiguousarray(img.T)
    # a line read on the turned film, in the film's coordinates: dropped when it is a line
    # already found (read twice), then grown over its label (a label's box overlapping another
    # line does not drop the label)
    along_side = [
        TextLine((c0, r0, c1, r1), line.height_px, line.glyphs, sideways=True)
        for line in _lines(turned, lo, hi, np.ascontiguousarray(background.T), stroke_pad_px=pad)
        if _margin(line, turned.shape) <= SIDEWAYS_MARGIN_FRAC
        for r0, c0, r1, c1 in (line.bbox_px,)
    ]
    found += tuple(
        TextLine(_label_box(img, line.bbox_px, line.height_px), line.height_px, line.glyphs, True)
        for line in along_side
        if not any(_overlap(line, t) for t in found)
    )
    return tuple(
        TextLine((r0 * k, c0 * k, r1 * k, c1 * k), line.height_px * k, line.glyphs, line.sideways)
        for line in found
        for r0, c0, r1, c1 in (line.bbox_px,)
    )


def _max_height(img: npt.NDArray[np.float32]) -> int:
    """The tallest glyph sought on ``img`` (see :data:`MAX_HEIGHT_FRAC`), pixels."""
    return max(MIN_HEIGHT_PX + 1, int(MAX_HEIGHT_FRAC * max(img.shape)))


def _faint_sizes(img: npt.NDArray[np.float32]) -> tuple[int, ...]:
    """The openings' sizes of the faint scales sought on ``img`` (see :func:`_faint_lines`)."""
    sizes = []
    for h in FAINT_GLYPH_PX:
        if 2 * h > _max_height(img):
            break
        sizes.append(2 * h + 1)
    return tuple(sizes)


def _lines(
    img: npt.NDArray[np.float32],
    lo: float,
    hi: float,
    background: npt.NDArray[np.float32],
    *,
    stroke_pad_px: float = 0.0,
) -> tuple[TextLine, ...]:
    """Bright text lines of ``img``, whose range is ``lo``..``hi``, on ``background`` (the
    background a glyph stands on: ``img`` opened by a square wider than any glyph;
    ``stroke_pad_px``: see :func:`_glyph_boxes`)."""
    max_h = _max_height(img)
    span = hi - lo
    dark = lo + MAX_BACKGROUND_FRAC * span
    glyph_px = (img - background) >= MIN_CONTRAST_FRAC * span
    glyph_px &= background <= dark  # on the darker half of the film's range
    if not glyph_px.any():
        return ()
    boxes = _glyph_boxes(glyph_px, max_h, stroke_pad_px)
    # text is written on that background, so the rows just above and below a line are too: a
    # "line" of bright pieces along a black border (the edge of the exposed field under the
    # thigh) has bone on one side
    found = _joined(line for line in _group(boxes) if _framed(img, line, dark))
    return tuple(_extended(img, line, glyph_px, max_h, stroke_pad_px) for line in found)


def _faint_lines(
    img: npt.NDArray[np.float32],
    lo: float,
    hi: float,
    opened: dict[int, npt.NDArray[np.float32]],
    *,
    stroke_pad_px: float = 0.0,
) -> tuple[TextLine, ...]:
    """Lines of faint text in the margins of ``img`` (see :data:`FAINT_MARGIN_FRAC`): glyphs
    that stand out of a background at their own scale by :data:`FAINT_CONTRAST_FRAC` of the
    range, on the darker half of it, framed by it above and below, and at least
    :data:`FAINT_MIN_GLYPHS` of them in a line. ``opened``: the openings of ``img`` by size,
    those of :func:`_faint_sizes` among them."""
    span = hi - lo
    dark = lo + MAX_BACKGROUND_FRAC * span
    # legible text stands clear of the film's noise (on a noisy film its tail would pass)
    contrast = max(FAINT_CONTRAST_FRAC * span, FAINT_NOISE_FACTOR * _margin_noise(img))
    found: list[TextLine] = []
    for size in _faint_sizes(img):
        h = size // 2
        background = opened[size]
        glyph_px = (img - background) >= contrast
        glyph_px &= background <= dark
        if not glyph_px.any():
            continue
        shapes = _glyph_boxes(glyph_px, 2 * h, stroke_pad_px)
        boxes = _outside(shapes, found)  # not again those of a line found at a finer scale
        # the words of a line (a name, a date) are runs of their own: joined across word spaces
        candidates = [
            line
            for line in _joined(_aligned_runs(boxes))
            if line.glyphs >= FAINT_MIN_GLYPHS and _framed(img, line, dark)
        ]
        # no glyph-like shapes crowd a line above and below but those of its label's other
        # lines, stacked on it (at a pitch under twice their height they fall in its bands)
        lines = [
            line
            for line in candidates
            if not _crowded(line, _outside(shapes, [c for c in candidates if _stacked(c, line)]))
        ]
        taken = [line for line in lines if _margin(line, img.shape) <= FAINT_MARGIN_FRAC]
        # a label's other lines, stacked on one in the margin, may reach farther in
        rest = [line for line in lines if line not in taken]
        while rest:
            more = [line for line in rest if any(_stacked(line, t) for t in taken)]
            if not more:
                break
            taken += more
            rest = [line for line in rest if line not in more]
        found += [_extended(img, line, glyph_px, 2 * h) for line in taken]
    return tuple(_joined(found))


def _label_box(
    img: npt.NDArray[np.float32], box: tuple[int, int, int, int], height: int
) -> tuple[int, int, int, int]:
    """``box`` (a line written along the side) grown over the rest of its label: each side
    moves out, half a glyph height at a time, while the strip beyond it is busy (its mean
    gradient at least :data:`LABEL_BUSY_FRAC` of the line's own), by at most
    :data:`LABEL_MAX_GROWTH` times the line's length along it and its glyph height across it.
    A label's lines of other lengths and grey levels (a name and a date beside an ID) are
    busy; the film or the lightbox around the label is not."""
    r0, c0, r1, c1 = box
    rows, cols = img.shape
    step = max(1, height // 2)
    along, across = LABEL_MAX_GROWTH * (r1 - r0), LABEL_MAX_GROWTH * height
    lim = (max(0, r0 - along), max(0, c0 - across), min(rows, r1 + along), min(cols, c1 + across))
    # the gradient over the limits only (and a pixel around, where the film goes on: the same
    # values as over the whole film); ``grad`` is indexed from (t, left)
    t, left = max(0, lim[0] - 1), max(0, lim[1] - 1)
    part = img[t : min(rows, lim[2] + 1), left : min(cols, lim[3] + 1)]
    grad = np.hypot(ndi.sobel(part, 0), ndi.sobel(part, 1))

    def mean(a: int, b: int, c: int, d: int) -> float:
        return float(grad[a - t : b - t, c - left : d - left].mean())

    busy = LABEL_BUSY_FRAC * mean(r0, r1, c0, c1)
    grown = True
    while grown:
        grown = False
        if r0 > lim[0] and mean(max(lim[0], r0 - step), r0, c0, c1) >= busy:
            r0, grown = max(lim[0], r0 - step), True
        if r1 < lim[2] and mean(r1, min(lim[2], r1 + step), c0, c1) >= busy:
            r1, grown = min(lim[2], r1 + step), True
        if c0 > lim[1] and mean(r0, r1, max(lim[1], c0 - step), c0) >= busy:
            c0, grown = max(lim[1], c0 - step), True
        if c1 < lim[3] and mean(r0, r1, c1, min(lim[3], c1 + step)) >= busy:
            c1, grown = min(lim[3], c1 + step), True
    return (r0, c0, r1, c1)


def _margin(line: TextLine, shape: tuple[int, ...]) -> float:
    """How far in from the film's nearest edge ``line`` starts or ends, as a fraction of the
    film's height or width."""
    r0, c0, r1, c1 = line.bbox_px
    rows, cols = shape
    return min(r0 / rows, 1.0 - r1 / rows, c0 / cols, 1.0 - c1 / cols)


def _stacked(a: TextLine, b: TextLine) -> bool:
    """``a`` lies above or below ``b``, at most one and a half heights of line from it, over
    some of its columns: the next line of one label."""
    r0, c0, r1, c1 = a.bbox_px
    s0, d0, s1, d1 = b.bbox_px
    gap = max(s0 - r1, r0 - s1)
    return 0 <= gap <= 1.5 * max(a.height_px, b.height_px) and c0 < d1 and d0 < c1


def _margin_noise(img: npt.NDArray[np.float32]) -> float:
    """The pixel noise of ``img`` in its margins (see :data:`FAINT_NOISE_FACTOR`)."""
    rows, cols = img.shape
    mr, mc = max(3, int(FAINT_MARGIN_FRAC * rows)), max(3, int(FAINT_MARGIN_FRAC * cols))
    bands = (img[:mr], img[-mr:], img[:, :mc], img[:, -mc:])
    steps = np.concatenate([np.abs(np.diff(b, axis=1)).ravel() for b in bands])
    return 1.4826 * float(np.median(steps)) / float(np.sqrt(2.0))


def _aligned_runs(boxes: list[tuple[int, int, int, int]]) -> list[TextLine]:
    """Glyph boxes chained left to right into runs on one band of rows: each next glyph (the
    nearest to the right, its centre at most 2.5 band heights on) keeps the band at most 1.3
    times the taller of the band so far and the glyph, and every glyph fills at least half of
    the band's height (a staircase of glyphs can widen the band step by step; :func:`_joined`
    would join its pieces anyway). Stricter than :func:`_group`: faint glyphs are sought where
    texture also leaves small shapes."""
    order = sorted(range(len(boxes)), key=lambda k: boxes[k][1] + boxes[k][3])
    # twice each centre, in ``order``: the glyphs right of a centre start at a bisection, and
    # past the first too far right all are (so the scan stops there, not at the end)
    keys = [boxes[k][1] + boxes[k][3] for k in order]
    used: set[int] = set()
    runs: list[TextLine] = []
    for a in order:
        if a in used:
            continue
        chain = [a]
        top, bottom = boxes[a][0], boxes[a][2]
        while True:
            last = boxes[chain[-1]]
            centre = (last[1] + last[3]) / 2
            best: int | None = None
            for at in range(bisect_right(keys, last[1] + last[3]), len(order)):
                j = order[at]
                b = boxes[j]
                bc = (b[1] + b[3]) / 2
                if bc - centre > 2.5 * (bottom - top):
                    break
                if j in used or j in chain:
                    continue
                t, u = min(top, b[0]), max(bottom, b[2])
                tallest = max(bottom - top, b[2] - b[0])
                if u - t > 1.3 * tallest or 2 * (b[2] - b[0]) < u - t or 2 * (bottom - top) < u - t:
                    continue
                best = j
                break  # ``order`` is by centre: the first that fits is the nearest
            if best is None:
                break
            chain.append(best)
            top, bottom = min(top, boxes[best][0]), max(bottom, boxes[best][2])
        if len(chain) >= 2:
            used.update(chain)
            c0 = min(boxes[k][1] for k in chain)
            c1 = max(boxes[k][3] for k in chain)
            runs.append(TextLine((top, c0, bottom, c1), bottom - top, len(chain)))
    return runs


def _crowded(line: TextLine, shapes: list[tuple[int, int, int, int]]) -> bool:
    """Glyph-like shapes are as many in the band a line's height above or below ``line`` (its
    columns) as a third of its glyphs: texture or noise, which leaves such shapes everywhere;
    a line of text has its own background above and below it."""
    r0, c0, r1, c1 = line.bbox_px
    h = r1 - r0
    for lo, hi in ((r0 - h, r0), (r1, r1 + h)):
        n = sum(1 for a, b, c, d in shapes if lo <= (a + c) / 2 < hi and c0 <= (b + d) / 2 < c1)
        if 3 * n >= line.glyphs:
            return True
    return False


def _inside(box: tuple[int, int, int, int], lines: list[TextLine]) -> bool:
    """``box`` lies within a line's box already found."""
    r0, c0, r1, c1 = box
    return any(
        a <= r0 and b <= c0 and r1 <= c and c1 <= d for a, b, c, d in (t.bbox_px for t in lines)
    )


def _outside(
    boxes: list[tuple[int, int, int, int]], lines: list[TextLine]
) -> list[tuple[int, int, int, int]]:
    """``boxes`` but those within one of ``lines``."""
    return [b for b in boxes if not _inside(b, lines)] if lines else boxes


def _overlap(a: TextLine, b: TextLine) -> bool:
    """The boxes of two lines overlap."""
    r0, c0, r1, c1 = a.bbox_px
    s0, d0, s1, d1 = b.bbox_px
    return r0 < s1 and s0 < r1 and c0 < d1 and d0 < c1


def _glyph_boxes(
    mask: npt.NDArray[np.bool_], max_h: int, stroke_pad_px: float = 0.0
) -> list[tuple[int, int, int, int]]:
    """Boxes (``r0, c0, r1, c1``) of the components of ``mask`` shaped like glyphs: from
    :data:`MIN_HEIGHT_PX` to ``max_h`` tall, at most 12 heights wide, thin-stroked (no inscribed
    disk wider than :data:`MAX_STROKE_FRAC` of the height, or 1.5 pixels, plus
    ``stroke_pad_px``: :data:`REDUCED_STROKE_PAD_PX` on a reduced film)."""
    lab, _ = ndi.label(mask, structure=np.ones((3, 3), bool))
    boxes: list[tuple[int, int, int, int]] = []
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None:
            continue
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if not (MIN_HEIGHT_PX <= h <= max_h) or w > 12 * h:
            continue
        comp = np.pad(lab[sl] == i, 1)
        widest = float(ndi.distance_transform_edt(comp).max())
        if widest > max(1.5, MAX_STROKE_FRAC * h) + stroke_pad_px:
            continue  # a blob, not strokes
        boxes.append((sl[0].start, sl[1].start, sl[0].stop, sl[1].stop))
    return boxes


def _extended(
    img: npt.NDArray[np.float32],
    line: TextLine,
    glyph_px: npt.NDArray[np.bool_],
    max_h: int,
    stroke_pad_px: float = 0.0,
) -> TextLine:
    """``line`` grown along its row over the rest of its text: glyphs at the line's own grey
    level (the text is drawn at one level) that continue it onto a brighter background, where
    they stand out less than a glyph must to start a line (a label running from the air onto
    the body)."""
    r0, c0, r1, c1 = line.bbox_px
    h = line.height_px
    level = float(np.percentile(img[r0:r1, c0:c1][glyph_px[r0:r1, c0:c1]], 25))
    s0, s1 = max(0, r0 - h), min(img.shape[0], r1 + h)
    near = [
        (a + s0, b, c + s0, d)
        for a, b, c, d in _glyph_boxes(img[s0:s1] >= level, max_h, stroke_pad_px)
        if c - a <= 1.6 * h and abs((a + c + 2 * s0) - (r0 + r1)) <= 0.8 * h
    ]
    grown, glyphs = True, line.glyphs
    while grown:
        grown = False
        for a, b, c, d in near:
            if b >= c0 and d <= c1:
                continue  # inside already
            if max(b - c1, c0 - d) <= 1.5 * h:
                c0, c1 = min(c0, b), max(c1, d)
                r0, r1 = min(r0, a), max(r1, c)
                glyphs += 1
                grown = True
    return TextLine((r0, c0, r1, c1), h, glyphs)


def _joined(lines: Iterable[TextLine]) -> list[TextLine]:
    """``lines`` with the pieces of one line joined: boxes on one row (centres within 0.4 of
    the taller's height) at most 3 heights apart, so that a glyph missed between two words is
    blanked with them."""
    out: list[TextLine] = []
    for line in sorted(lines, key=lambda t: t.bbox_px[1]):
        r0, c0, r1, c1 = line.bbox_px
        for k, prev in enumerate(out):
            s0, d0, s1, d1 = prev.bbox_px
            tall = max(line.height_px, prev.height_px)
            if abs((r0 + r1) - (s0 + s1)) <= 0.8 * tall and c0 - d1 <= 3 * tall:
                box = (min(r0, s0), d0, max(r1, s1), max(c1, d1))
                out[k] = TextLine(box, tall, prev.glyphs + line.glyphs)
                break
        else:
            out.append(line)
    return out


def _framed(img: npt.NDArray[np.float32], line: TextLine, dark: float) -> bool:
    """The bands a third of a glyph's height above and below ``line`` (where inside ``img``)
    have medians at most ``dark``."""
    r0, c0, r1, c1 = line.bbox_px
    pad = _pad_px(line)
    for band in (img[max(0, r0 - pad) : r0, c0:c1], img[r1 : r1 + pad, c0:c1]):
        if band.size and float(np.median(band)) > dark:
            return False
    return True


def _group(boxes: list[tuple[int, int, int, int]]) -> list[TextLine]:
    """Glyph boxes joined into lines: neighbours of about one height (within 1.6x), centred
    on one row (within 0.4 heights) and at most 1.5 heights apart (a word space)."""
    n = len(boxes)
    parent = list(range(n))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a in range(n):
        r0, c0, r1, c1 = boxes[a]
        for b in range(a + 1, n):
            s0, d0, s1, d1 = boxes[b]
            tall, short = max(r1 - r0, s1 - s0), min(r1 - r0, s1 - s0)
            if tall > 1.6 * short or abs((r0 + r1) - (s0 + s1)) > 0.8 * tall:
                continue  # not of one height, or not on one row
            if max(d0 - c1, c0 - d1) <= 1.5 * tall:
                parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for k in range(n):
        groups.setdefault(root(k), []).append(k)
    lines = []
    for members in groups.values():
        count = sum(
            max(1, round((boxes[k][3] - boxes[k][1]) / (0.8 * (boxes[k][2] - boxes[k][0]))))
            for k in members
        )
        if count < MIN_GLYPHS or len(members) < 2:
            continue  # one wide shape (a bracket, a ruler's tick) is no line of text
        r0 = min(boxes[k][0] for k in members)
        c0 = min(boxes[k][1] for k in members)
        r1 = max(boxes[k][2] for k in members)
        c1 = max(boxes[k][3] for k in members)
        height = int(np.median([boxes[k][2] - boxes[k][0] for k in members]))
        lines.append(TextLine((r0, c0, r1, c1), height, count))
    return lines


def _pad_px(line: TextLine) -> int:
    """The margin around a line that is its own background: a third of its glyph height and
    a pixel."""
    return line.height_px // 3 + 1


def blank_boxes(
    lines: tuple[TextLine, ...], shape: tuple[int, int]
) -> list[tuple[int, int, int, int]]:
    """The boxes to blank for ``lines`` on an image of ``shape``: each line's box grown by a
    third of its glyph height (and a pixel), within the image; a line written along the side
    by :data:`SIDEWAYS_LABEL_PAD` of its glyph heights across it (its label's other lines)."""
    rows, cols = shape
    out = []
    for line in lines:
        r0, c0, r1, c1 = line.bbox_px
        pad = across = _pad_px(line)
        if line.sideways:
            across = max(pad, round(SIDEWAYS_LABEL_PAD * line.height_px))
        out.append(
            (max(0, r0 - pad), max(0, c0 - across), min(rows, r1 + pad), min(cols, c1 + across))
        )
    return out


__all__ = ["TextLine", "blank_boxes", "find_text_lines"]
