"""A learned hip-region detector: where on a film is there a hip joint, and which way is lateral.

Real exported radiographs (tone curves, unsharp masking, 8-bit JPEG, implants of every design)
defeat grey-level rules, but the *shape* of the hip region survives them: the femoral head in
the acetabulum, the sourcil above, the neck, trochanter and shaft below-lateral, the obturator
foramen below-medial. That shape is described by a histogram of oriented gradients (HOG,
Dalal & Triggs 2005) of a 128 x 128 mm window on a 2 mm grid, which is normalised per block and
so indifferent to the film's absolute grey levels; a linear classifier (logistic regression)
scores it.

* The window is centred on the femoral (or prosthetic) head. A hip whose lateral side is to the
  image's left is scored by the weights as trained; one whose lateral side is to the right by
  the same weights on the mirrored film, so every hip is scored in one orientation, and the
  orientation that wins says which way is lateral.
* The weights (``brooker/data/hip_detector.npz``, 1,765 numbers) are trained by
  ``benchmarks/train_hip_detector.py`` from the labelled real films in ``../shared/realfilms``
  and synthetic films the project renders itself (:mod:`brooker.phantom`), with scale,
  position and tone jitter; mirrored hips and the rest of each film are the negatives. Nothing
  is downloaded at run time. Its held-out (cross-validated) figures are in that script's
  output and the README.
* Scores are logits: 0 is even odds, 3 is about 95 %.

Everything here is in pixels of the detector grid (``DETECTOR_PITCH_MM`` per pixel); the caller
converts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.imaging import block_mean

FloatImage = npt.NDArray[np.float32]

#: Pixel size of the detector grid, mm at the patient.
DETECTOR_PITCH_MM = 2.0
#: Window side, detector pixels (128 mm).
WINDOW_PX = 64
#: HOG cell side, detector pixels (16 mm); blocks are 2 x 2 cells.
CELL_PX = 8
#: HOG orientation bins (unsigned gradients, 0-180 degrees).
ORIENTATIONS = 9
#: Blocks per window side.
BLOCKS = WINDOW_PX // CELL_PX - 1
#: Length of one window's feature vector.
N_FEATURES = BLOCKS * BLOCKS * 4 * ORIENTATIONS
#: Stride of the dense score map, detector pixels (4 mm).
SCORE_STEP_PX = 2

@dataclass(frozen=True, slots=True)
class DetectorWeights:
    """A linear classifier over one window's HOG features."""

    w: npt.NDArray[np.float64]
    """(N_FEATURES,) weights."""
    b: float
    """Intercept (logit)."""

    def __post_init__(self) -> None:
        if self.w.shape != (N_FEATURES,) or not np.all(np.isfinite(self.w)):
            raise ValueError(f"detector weights must be {N_FEATURES} finite numbers")


@dataclass(frozen=True, slots=True)
class HipPeak:
    """A local maximum of the detector's score, in detector-grid pixels."""

    row_px: float
    col_px: float
    score: float
    """Logit: 0 even odds, 3 about 95 %."""
    lateral_left: bool
    """The hip's lateral side is towards the image's left (column 0)."""


@functools.lru_cache(maxsize=1)
def load_weights() -> DetectorWeights:
    """The shipped weights (``brooker/data/hip_detector.npz``)."""
    ref = resources.files("brooker") / "data" / "hip_detector.npz"
    with resources.as_file(ref) as path, np.load(path) as data:
        return DetectorWeights(w=np.asarray(data["w"], dtype=np.float64), b=float(data["b"]))


def normalise(img: FloatImage) -> FloatImage:
    """Grey levels mapped to 0-1 between the film's 1st and 99th percentiles."""
    lo, hi = np.percentile(img, [1.0, 99.0])
    out = np.clip((img - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    return np.asarray(out, dtype=np.float32)


def detector_image(img: FloatImage, pitch_mm: float) -> FloatImage:
    """An isotropic image of ``pitch_mm`` (at most ``DETECTOR_PITCH_MM``) on the detector grid,
    normalised (:func:`normalise`)."""
    k = DETECTOR_PITCH_MM / pitch_mm
    if k < 1.0 - 1e-6:
        raise ValueError(
            f"the detector needs a grid of at most {DETECTOR_PITCH_MM} mm, got {pitch_mm}"
        )
    kb = int(k + 1e-6)
    if kb > 1:
        img = block_mean(img, kb, kb)
    z = kb / k
    if abs(z - 1.0) > 1e-3:
        img = ndi.zoom(img, z, order=1, prefilter=False, grid_mode=True, mode="nearest")
    return normalise(np.asarray(img, dtype=np.float32))


def hog_blocks(img: FloatImage) -> npt.NDArray[np.float64]:
    """Histogram-of-oriented-gradients blocks of ``img``: ``(n_block_rows, n_block_cols, 36)``.

    As Dalal & Triggs (and ``skimage.feature.hog`` with ``block_norm="L2-Hys"``, to 1e-7),
    vectorised: central-difference gradients (0 on the border rows/columns), unsigned
    orientations in ``ORIENTATIONS`` bins of 20 degrees, each cell's histogram the mean
    gradient magnitude per bin over its ``CELL_PX`` x ``CELL_PX`` pixels, blocks of 2 x 2 cells
    normalised by L2, clipped at 0.2 and normalised again.
    """
    mag, bins = _gradients(img)
    return _blocks(mag, bins)


def _gradients(img: FloatImage) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
    """Gradient magnitude and orientation bin of every pixel (0 on the border)."""
    x = np.asarray(img, dtype=np.float64)
    g_r = np.zeros_like(x)
    g_c = np.zeros_like(x)
    g_r[1:-1] = x[2:] - x[:-2]
    g_c[:, 1:-1] = x[:, 2:] - x[:, :-2]
    ori = np.rad2deg(np.arctan2(g_r, g_c)) % 180.0
    bins = np.minimum((ori * (ORIENTATIONS / 180.0)).astype(np.intp), ORIENTATIONS - 1)
    return np.hypot(g_r, g_c), bins


def _blocks(mag: npt.NDArray[np.float64], bins: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    n_r, n_c = mag.shape[0] // CELL_PX, mag.shape[1] // CELL_PX
    if n_r < 2 or n_c < 2:
        return np.zeros((0, 0, 4 * ORIENTATIONS))
    h, w = n_r * CELL_PX, n_c * CELL_PX
    cell = (np.arange(h) // CELL_PX)[:, None] * n_c + (np.arange(w) // CELL_PX)[None, :]
    hist = np.bincount(
        (cell * ORIENTATIONS + bins[:h, :w]).ravel(),
        weights=mag[:h, :w].ravel(),
        minlength=n_r * n_c * ORIENTATIONS,
    ).reshape(n_r, n_c, ORIENTATIONS) / (CELL_PX * CELL_PX)
    blocks = np.concatenate(
        [hist[:-1, :-1], hist[:-1, 1:], hist[1:, :-1], hist[1:, 1:]], axis=-1
    )
    eps2 = 1e-10
    blocks = blocks / np.sqrt(np.sum(blocks * blocks, axis=-1, keepdims=True) + eps2)
    blocks = np.minimum(blocks, 0.2)
    out = blocks / np.sqrt(np.sum(blocks * blocks, axis=-1, keepdims=True) + eps2)
    return np.asarray(out, dtype=np.float64)


def window(
    img: FloatImage, row_px: float, col_px: float, scale: float = 1.0, *, mirror: bool = False
) -> FloatImage:
    """The ``WINDOW_PX`` square window centred on ``(row_px, col_px)``, sampled every ``scale``
    pixels (bilinear; 0 outside the film), mirrored left-right when ``mirror``."""
    h = (np.arange(WINDOW_PX) - WINDOW_PX / 2 + 0.5) * scale
    rr = np.broadcast_to(row_px + h[:, None], (WINDOW_PX, WINDOW_PX))
    cc = np.broadcast_to(col_px + h[None, :], (WINDOW_PX, WINDOW_PX))
    w = ndi.map_coordinates(img, [rr, cc], order=1, mode="constant", cval=0.0)
    return np.ascontiguousarray(w[:, ::-1] if mirror else w, dtype=np.float32)


def window_features(win: FloatImage) -> npt.NDArray[np.float64]:
    """The feature vector of one window (``N_FEATURES``)."""
    return hog_blocks(win).ravel()


def score_map(img: FloatImage, weights: DetectorWeights, *, mirror: bool = False) -> FloatImage:
    """Detector score for a window centred on every ``SCORE_STEP_PX``-th pixel of ``img``.

    ``out[i, j]`` scores the window centred near ``(i * SCORE_STEP_PX, j * SCORE_STEP_PX)``
    (within half a pixel). With ``mirror`` the film is mirrored first (hips whose lateral side
    is to the right) and the map mirrored back, so both maps share ``img``'s coordinates.
    The film is padded with 0 (below its 1st percentile) so hips at its edge are scored too.
    """
    pad = WINDOW_PX // 2
    x = np.pad(img[:, ::-1] if mirror else img, pad, mode="constant")
    h, w = img.shape
    s = SCORE_STEP_PX
    out = np.full((-(-h // s), -(-w // s)), -np.inf, dtype=np.float32)
    wt = weights.w.reshape(BLOCKS, BLOCKS, 4 * ORIENTATIONS)
    # the padding (zeros, 32 px) is wider than the offsets, so each offset's HOG is the same
    # gradients re-binned: computed once
    mag, bins = _gradients(x)
    for dy in range(0, CELL_PX, s):
        for dx in range(0, CELL_PX, s):
            blk = _blocks(mag[dy:, dx:], bins[dy:, dx:])
            ni, nj = blk.shape[0] - BLOCKS + 1, blk.shape[1] - BLOCKS + 1
            if ni <= 0 or nj <= 0:
                continue
            acc = np.full((ni, nj), weights.b, dtype=np.float64)
            for a in range(BLOCKS):
                for b in range(BLOCKS):
                    acc += blk[a : a + ni, b : b + nj] @ wt[a, b]
            # window (i, j) covers padded rows dy + i*CELL .. + WINDOW: centred on film row
            # dy + i*CELL (minus half a pixel), likewise columns
            rows = dy + CELL_PX * np.arange(ni)
            cols = dx + CELL_PX * np.arange(nj)
            keep_r, keep_c = rows < h, cols < w
            rows, cols, acc = rows[keep_r], cols[keep_c], acc[np.ix_(keep_r, keep_c)]
            if mirror:
                cols = w - 1 - cols
            out[np.ix_(rows // s, cols // s)] = acc
    return out


def peaks(
    img: FloatImage,
    weights: DetectorWeights | None = None,
    *,
    min_score: float,
    min_distance_px: float,
) -> list[HipPeak]:
    """Local maxima of both orientations' score maps above ``min_score``, best first.

    A peak suppresses weaker ones (of either orientation) within ``min_distance_px``.
    """
    weights = weights or load_weights()
    s = SCORE_STEP_PX
    found: list[HipPeak] = []
    size = max(3, int(2 * min_distance_px / s) | 1)
    for mirror in (False, True):
        m = score_map(img, weights, mirror=mirror)
        finite = np.where(np.isfinite(m), m, -np.inf)
        is_max = (finite == ndi.maximum_filter(finite, size=size, mode="constant", cval=-np.inf))
        for i, j in np.argwhere(is_max & (finite >= min_score)):
            found.append(HipPeak(float(i * s), float(j * s), float(finite[i, j]), not mirror))
    found.sort(key=lambda p: -p.score)
    kept: list[HipPeak] = []
    for p in found:
        if all(np.hypot(p.row_px - q.row_px, p.col_px - q.col_px) > min_distance_px for q in kept):
            kept.append(p)
    return kept
