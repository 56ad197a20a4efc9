"""A learned per-pixel judge of heterotopic bone: is this bright pixel near the hip heterotopic?

On real films a bone threshold alone cannot tell heterotopic bone from the normal anatomy around
the hip: the outlines of the ilium and greater trochanter, their cancellous interiors (which
processing may push below the soft-tissue level), skin folds and gluteal shadows all cross
any grey level. What tells them apart is *context*: heterotopic bone is a bright, blob- or
plate-shaped density in the abductor soft tissue, where the anatomy around the head has none.

Each pixel of a hip's region of interest is described on a 1 mm grid (``GRID_MM``) by

* the image on the film's local scale (``HipMasks.norm``: soft tissue 0, bone 1), smoothed at
  several scales, its differences of Gaussians (blobs), gradient magnitudes (edges), Hessian
  eigenvalues (ridges and blobs) and local spread (texture);
* where it lies relative to the femoral head, in head radii (the anatomy's own size; around
  an implant, at least a native head's: :func:`anatomy_radius_mm`), and
* what lies 12 and 25 mm above, below, lateral and medial of it (context),

and a small neural network (one hidden layer, ``brooker/data/ho_pixels.npz``) turns that into
the probability that it is heterotopic bone. The weights are trained by
``benchmarks/train_ho_pixels.py`` from ``../shared/hybrid`` (real films with heterotopic bone of
known shape drawn in: the drawn masks are the difference from the source film) and the
HO-free real films in ``../shared/realfilms``, with cross-validation by source film; nothing
is downloaded at run time.

The probabilities gate which candidates count as heterotopic (:mod:`brooker.fragments`): a
fragment whose pixels average under ``AnalysisConfig.ho_probability_min`` (0.3) is dropped, and
so is one that small networks over the fragment as a whole (:class:`FragmentJudge`,
``brooker/data/ho_fragments.npz``, inputs :data:`brooker.fragments.FRAGMENT_FEATURES`) give,
on average, under ``ho_fragment_min`` (0.4); the fragment judge also learns from the synthetic
development films and the project's own phantoms. The fragment outlines, their kinds and the
gap still come from the segmentation (at 0.4 mm). Held out by source film, the judges still
leave a few false calls on the HO-free real hips and drop some faint true bone (the current
figures: README, *What it cannot see*). :func:`judges` gives other judges in their place
(``AnalysisConfig.judges``, ``brooker grade --judges``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.config import JUDGE_FILES, NATIVE_HEAD_DIAMETER_MM, shipped_file
from brooker.imaging import zoom_linear
from brooker.models import HipJoint, ImageSide
from brooker.segmentation import HipMasks

FloatImage = npt.NDArray[np.float32]
BoolImage = npt.NDArray[np.bool_]


def anatomy_radius_mm(hip: HipJoint) -> float:
    """The size the judges read positions around ``hip`` in, mm: its head's radius, or around
    a prosthesis at least a native head's (half ``NATIVE_HEAD_DIAMETER_MM``).

    The ilium and the trochanters around an implant are the patient's own, not the size of a
    28-36 mm prosthetic ball: read in the ball's radius, an island 60 mm lateral of a total
    hip lay 4 radii out, where on a native hip only the soft tissue's edges lie, and the
    judges dropped it (held out, 4 of the development films' 8 class I hips, all prosthetic).
    A hemiarthroplasty's head, native-sized, is its own measure when it is at least that.
    (The native head's size is the one ``--estimate-spacing`` assumes;
    ``AnalysisConfig.typical_head_radius_mm``, 23.5 mm, is the radius a hip is given when no
    head circle is found there, not this measure.)"""
    if hip.prosthesis:
        return max(hip.head_radius_mm, NATIVE_HEAD_DIAMETER_MM / 2.0)
    return hip.head_radius_mm


#: Pixel size of the grid the features are computed on, mm at the patient.
GRID_MM = 1.0
#: Gaussian scales of the smoothed image, mm.
SMOOTH_MM = (0.7, 1.5, 3.0, 6.0, 12.0)
#: (fine, coarse) scale pairs of the differences of Gaussians, mm.
DOG_MM = ((0.7, 3.0), (1.5, 6.0), (3.0, 12.0))
#: Scales of the gradient magnitude, mm.
GRADIENT_MM = (1.0, 2.0, 4.0)
#: Scales of the Hessian eigenvalues, mm.
HESSIAN_MM = (1.5, 3.0, 6.0)
#: Window scales of the local spread, mm.
SPREAD_MM = (2.0, 5.0)
#: Where the context is read, (lateral, up) offsets in mm, on the image smoothed at 3 mm
#: (whole multiples of ``GRID_MM``: the context is read by indexing).
CONTEXT_MM = (
    (12.0, 0.0), (-12.0, 0.0), (25.0, 0.0), (-25.0, 0.0),
    (0.0, 12.0), (0.0, -12.0), (0.0, 25.0), (0.0, -25.0),
    (18.0, 18.0), (18.0, -18.0), (-18.0, 18.0), (-18.0, -18.0),
)  # fmt: skip
N_FEATURES = (
    len(SMOOTH_MM) + len(DOG_MM) + len(GRADIENT_MM) + 2 * len(HESSIAN_MM) + len(SPREAD_MM)
    + 5 + len(CONTEXT_MM)
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PixelNet:
    """Standardisation and a one-hidden-layer network over the ``N_FEATURES`` features."""

    mean: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]
    w1: npt.NDArray[np.float32]
    """(N_FEATURES, hidden)"""
    b1: npt.NDArray[np.float32]
    w2: npt.NDArray[np.float32]
    """(hidden,)"""
    b2: float

    def probability(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(n, N_FEATURES) -> (n,) probabilities."""
        x = (features - self.mean) / self.scale
        z = np.tanh(x @ self.w1 + self.b1) @ self.w2 + self.b2
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))), dtype=np.float32)

    def save(self, path: str) -> None:
        np.savez_compressed(
            path, mean=self.mean, scale=self.scale, w1=self.w1, b1=self.b1, w2=self.w2,
            b2=np.float32(self.b2),
        )  # fmt: skip

    @classmethod
    def from_arrays(cls, z: dict[str, npt.NDArray[np.float32]]) -> PixelNet:
        """From the arrays :meth:`save` writes (see :func:`load_weights`)."""
        return cls(z["mean"], z["scale"], z["w1"], z["b1"], z["w2"], float(z["b2"]))


def load_weights(path: str | Path) -> dict[str, npt.NDArray[np.float32]]:
    """The arrays of a weights file, as float32, refused when any is not finite."""
    # the file is opened here: np.load leaves its own handle open when the archive is corrupt
    with open(path, "rb") as fh, np.load(fh) as z:
        arrays = {k: np.asarray(z[k], dtype=np.float32) for k in z.files}
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise ValueError(f"{Path(path).name}: heterotopic-bone weights must all be finite")
    return arrays


def _shipped(name: str) -> dict[str, npt.NDArray[np.float32]]:
    """The arrays of a weights file shipped in the package's ``data`` folder."""
    with shipped_file(name) as path:
        return load_weights(path)


@functools.cache
def bundled_net() -> PixelNet:
    """The network shipped in the package (``brooker/data/ho_pixels.npz``)."""
    net = PixelNet.from_arrays(_shipped("ho_pixels.npz"))
    if net.w1.shape[0] != N_FEATURES:
        raise ValueError(f"heterotopic-bone weights must take {N_FEATURES} features")
    return net


@dataclass(frozen=True, slots=True)
class FragmentJudge:
    """Small networks over a candidate fragment's features
    (:data:`brooker.fragments.FRAGMENT_FEATURES`), their probabilities averaged: ``K`` networks
    with ``H`` tanh hidden units each, on the features standardised by ``mean`` and ``scale``.
    """

    mean: npt.NDArray[np.float32]
    """(features,)"""
    scale: npt.NDArray[np.float32]
    """(features,)"""
    w1: npt.NDArray[np.float32]
    """(K, features, H)"""
    b1: npt.NDArray[np.float32]
    """(K, H)"""
    w2: npt.NDArray[np.float32]
    """(K, H)"""
    b2: npt.NDArray[np.float32]
    """(K,)"""

    def probability(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(n, features) -> (n,) probabilities that each fragment is heterotopic bone."""
        xs = (features - self.mean) / self.scale
        hidden = np.tanh(np.einsum("nf,kfh->knh", xs, self.w1) + self.b1[:, None, :])
        z = np.einsum("knh,kh->kn", hidden, self.w2) + self.b2[:, None]
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
        return np.asarray(p.mean(axis=0), dtype=np.float32)

    def save(self, path: str) -> None:
        np.savez_compressed(
            path, mean=self.mean, scale=self.scale, w1=self.w1, b1=self.b1, w2=self.w2, b2=self.b2
        )

    @classmethod
    def from_arrays(cls, z: dict[str, npt.NDArray[np.float32]]) -> FragmentJudge:
        """From the arrays :meth:`save` writes (see :func:`load_weights`)."""
        return cls(z["mean"], z["scale"], z["w1"], z["b1"], z["w2"], z["b2"])


@functools.cache
def bundled_judge() -> FragmentJudge:
    """The fragment judge shipped in the package (``brooker/data/ho_fragments.npz``)."""
    return FragmentJudge.from_arrays(_shipped("ho_fragments.npz"))


def judges_from(folder: str) -> tuple[PixelNet, FragmentJudge]:
    """The pixel network and fragment judge in ``folder`` (``JUDGE_FILES``): judges retrained
    by ``benchmarks/train_ho_pixels.py``, for example held out from the films being graded.
    Loaded once per folder and version of its files (their size and modification time).

    Raises
    ------
    brooker.errors.ConfigError
        A file is missing or unreadable, or holds weights that are not finite, of the wrong
        shape, or with a scale that is not positive (a ``ValueError`` too). Checked when an
        ``AnalysisConfig`` is built and again at each analysis: a folder changed after the
        config was built raised a plain ``ValueError`` from ``analyze`` (a user's test).
    """
    from brooker.errors import ConfigError

    base = Path(folder)
    try:
        return _load_judges(str(base), tuple(_stamp(base / name) for name in JUDGE_FILES))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class _OlderJudge(ValueError):
    """A fragment judge file of the format before the networks (one logistic regression)."""


@functools.lru_cache(maxsize=8)
def _load_judges(
    folder: str, stamps: tuple[tuple[int, int] | None, ...]
) -> tuple[PixelNet, FragmentJudge]:
    from brooker.fragments import FRAGMENT_FEATURES  # fragments imports this module

    base = Path(folder)
    try:
        net = PixelNet.from_arrays(load_weights(base / JUDGE_FILES[0]))
        arrays = load_weights(base / JUDGE_FILES[1])
        if "w" in arrays and "w1" not in arrays:
            raise _OlderJudge(
                f"{JUDGE_FILES[1]} is an older fragment judge (one logistic regression, arrays "
                "w and b): retrain it with benchmarks/train_ho_pixels.py"
            )
        judge = FragmentJudge.from_arrays(arrays)
    except _OlderJudge as exc:
        raise ValueError(f"judges in {base}: {exc}") from None
    except Exception as exc:  # a corrupt archive, a missing array, one of the wrong type ...
        raise ValueError(f"judges in {base}: {type(exc).__name__}: {exc}") from None
    hidden = net.b1.shape
    n_frag = len(FRAGMENT_FEATURES)
    if not (
        len(hidden) == 1
        and hidden[0] > 0
        and net.w1.shape == (N_FEATURES, *hidden)
        and net.mean.shape == net.scale.shape == (N_FEATURES,)
        and net.w2.shape == hidden
        and judge.mean.shape == judge.scale.shape == (n_frag,)
        and judge.w1.ndim == 3
        and judge.w1.shape[0] > 0
        and judge.w1.shape[1] == n_frag
        and judge.w1.shape[2] > 0
        and judge.b1.shape == judge.w2.shape == (judge.w1.shape[0], judge.w1.shape[2])
        and judge.b2.shape == (judge.w1.shape[0],)
    ):
        raise ValueError(
            f"judges in {base}: weights of the wrong shape (the pixel network takes "
            f"{N_FEATURES} features, the fragment judge {n_frag})"
        )
    if not (bool((net.scale > 0).all()) and bool((judge.scale > 0).all())):
        raise ValueError(f"judges in {base}: a feature scale is not positive")
    return net, judge


def judges(folder: str | None) -> tuple[PixelNet, FragmentJudge]:
    """The judges in ``folder`` (:func:`judges_from`), or the shipped ones when None."""
    return (bundled_net(), bundled_judge()) if folder is None else judges_from(folder)


@dataclass(frozen=True, slots=True, eq=False)
class PixelGrid:
    """A hip's ROI on the feature grid: the features where they are judged."""

    features: npt.NDArray[np.float32]
    """(N_FEATURES, rows, cols)"""
    region: BoolImage
    """Where heterotopic bone is judged: the periarticular sector outside the head."""
    zoom: tuple[float, float]
    """ROI pixels -> grid pixels factor along (rows, cols)."""


def _to_grid(image: FloatImage, zoom: tuple[float, float]) -> FloatImage:
    out = ndi.zoom(image, zoom, order=1, mode="nearest", grid_mode=True)
    return np.asarray(out, dtype=np.float32)


def pixel_grid(
    masks: HipMasks, sector_deg: tuple[float, float], sector_radius_mm: float
) -> PixelGrid:
    """The features of every pixel of ``masks``' ROI on the ``GRID_MM`` grid."""
    if masks.norm is None:
        raise ValueError("the masks carry no normalised image")
    row_mm, col_mm = masks.spacing_mm
    zoom = (row_mm / GRID_MM, col_mm / GRID_MM)
    g = _to_grid(np.clip(masks.norm, -2.0, 4.0).astype(np.float32), zoom)
    rows, cols = g.shape
    hip = masks.hip
    kr, kc = masks.block_px
    r0, c0 = masks.origin_px
    stored_row_mm, stored_col_mm = row_mm / kr, col_mm / kc
    # stored-image row / column of each grid pixel's centre
    # the zoom spreads the ROI's whole extent over a whole number of grid pixels, so a grid
    # pixel covers the ROI's extent / its count (within half a grid pixel over the ROI of
    # GRID_MM)
    step_rows = masks.image.shape[0] * kr / rows
    step_cols = masks.image.shape[1] * kc / cols
    grid_rows = r0 + (np.arange(rows) + 0.5) * step_rows - 0.5
    grid_cols = c0 + (np.arange(cols) + 0.5) * step_cols - 0.5
    lat = -1.0 if hip.image_side is ImageSide.LEFT else 1.0
    v = np.broadcast_to((-(grid_rows - hip.center_px[0]) * stored_row_mm)[:, None], g.shape)
    u = np.broadcast_to((lat * (grid_cols - hip.center_px[1]) * stored_col_mm)[None, :], g.shape)
    radius = anatomy_radius_mm(hip)
    dist = np.hypot(u, v)
    feats: list[npt.NDArray[np.floating]] = []
    smooth = {
        s: ndi.gaussian_filter(g, s / GRID_MM, mode="nearest") for s in (0.7, 1.5, 3.0, 6.0, 12.0)
    }
    feats += [smooth[s] for s in SMOOTH_MM]
    feats += [smooth[a] - smooth[b] for a, b in DOG_MM]
    feats += [
        ndi.gaussian_gradient_magnitude(g, s / GRID_MM, mode="nearest") * s for s in GRADIENT_MM
    ]
    for s in HESSIAN_MM:
        sp = s / GRID_MM
        hrr = ndi.gaussian_filter(g, sp, order=(2, 0), mode="nearest")
        hcc = ndi.gaussian_filter(g, sp, order=(0, 2), mode="nearest")
        hrc = ndi.gaussian_filter(g, sp, order=(1, 1), mode="nearest")
        half_trace = (hrr + hcc) / 2
        root = np.sqrt(((hrr - hcc) / 2) ** 2 + hrc**2)
        feats += [(half_trace - root) * sp * sp, (half_trace + root) * sp * sp]
    for s in SPREAD_MM:
        m1 = ndi.gaussian_filter(g, s / GRID_MM, mode="nearest")
        m2 = ndi.gaussian_filter(g * g, s / GRID_MM, mode="nearest")
        feats.append(np.sqrt(np.maximum(m2 - m1 * m1, 0.0)))
    safe = np.maximum(dist, 1.0)
    feats += [u / radius, v / radius, dist / radius, u / safe, v / safe]
    context = smooth[3.0]
    for du, dv in CONTEXT_MM:
        # the value at (u + du, v + dv): up is toward row 0, lateral is ``lat`` in columns
        feats.append(_shifted(context, round(dv / GRID_MM), round(-lat * du / GRID_MM)))
    features = np.stack([np.asarray(f, dtype=np.float32) for f in feats])
    phi = np.degrees(np.arctan2(u, v)) % 360.0
    lo, hi = sector_deg
    in_angle = ((phi >= lo % 360) | (phi <= hi)) if lo < 0 else ((phi >= lo) & (phi <= hi))
    region = (dist <= sector_radius_mm) & in_angle & (dist > hip.head_radius_mm)
    region = np.asarray(region, dtype=np.bool_)
    return PixelGrid(features=features, region=region, zoom=zoom)


def _shifted(image: FloatImage, rows: int, cols: int) -> FloatImage:
    """``image`` moved by whole pixels, its edge repeated: ``out[r, c] = image[r - rows, c - cols]``
    (what ``ndi.shift(image, (rows, cols), order=1, mode="nearest")`` gives, by indexing)."""
    r = np.clip(np.arange(image.shape[0]) - rows, 0, image.shape[0] - 1)
    c = np.clip(np.arange(image.shape[1]) - cols, 0, image.shape[1] - 1)
    return image[np.ix_(r, c)]


def grid_probability(grid: PixelGrid, net: PixelNet) -> FloatImage:
    """The probability of heterotopic bone on the grid (0 outside ``grid.region``)."""
    out = np.zeros(grid.region.shape, dtype=np.float32)
    if grid.region.any():
        out[grid.region] = net.probability(grid.features[:, grid.region].T)
    return out


def roi_probability(
    grid_p: FloatImage, zoom: tuple[float, float], shape: tuple[int, int]
) -> FloatImage:
    """A grid probability map back on the ROI's pixels (bilinear)."""
    factors = (shape[0] / grid_p.shape[0], shape[1] / grid_p.shape[1])
    # = ndi.zoom(grid_p, factors, order=1, mode="nearest", grid_mode=True), bit for bit
    # (scipy runs its generic spline loop for grid_mode)
    out = zoom_linear(np.asarray(grid_p, dtype=np.float32), factors)
    if out.shape != shape:  # zoom rounds the output shape; pad or crop to the ROI's
        fixed = np.zeros(shape, dtype=np.float32)
        r, c = min(shape[0], out.shape[0]), min(shape[1], out.shape[1])
        fixed[:r, :c] = out[:r, :c]
        out = fixed
    return np.asarray(out, dtype=np.float32)


def ho_probability(
    masks: HipMasks,
    sector_deg: tuple[float, float],
    sector_radius_mm: float,
    net: PixelNet | None = None,
) -> FloatImage:
    """The probability of heterotopic bone at every ROI pixel (0 outside the judged region),
    by ``net`` (default: the shipped network)."""
    net = net or bundled_net()
    grid = pixel_grid(masks, sector_deg, sector_radius_mm)
    return roi_probability(grid_probability(grid, net), grid.zoom, masks.image.shape)
