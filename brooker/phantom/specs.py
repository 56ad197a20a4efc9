"""What a synthetic film shows: the specs, the rendered result, and specs drawn at random.

:class:`HipSpec` and :class:`PhantomSpec` say what to draw (validated on construction);
:class:`Phantom` is what :func:`brooker.phantom.render` returns. :func:`random_spec` draws a
spec over all variation axes from a seed, :func:`dataset_spec` is the spec of one film of
:func:`brooker.phantom.make_dataset`, and :func:`sample_specs` lists the committed sample films.
Every random draw of the generator comes from :func:`_rng`: one independent stream per concern,
keyed by the spec's seed.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from brooker.units import BROOKER_GAP_THRESHOLD_MM

BoolArray = npt.NDArray[np.bool_]

SPURS = ("pelvic", "femoral", "both")
SPACING_TAGS = ("calibrated", "imager_magnification", "imager_only", "pixel_only", "none")
BODIES = ("pelvis", "knee", "chest")


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


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(stream.encode())])


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
        return _narrow_spec(rng, seed, right, left)
    return _wide_spec(rng, seed, right, left)


def _narrow_spec(rng: np.random.Generator, seed: int, right: HipSpec, left: HipSpec) -> PhantomSpec:
    """random_spec's tamer set: the acquisition drawn, everything else at its default."""
    return PhantomSpec(
        seed=seed,
        right=right,
        left=left,
        spacing_mm=float(rng.uniform(0.14, 0.2)),
        magnification=float(rng.uniform(1.08, 1.22)),
        noise=float(rng.uniform(0.6, 1.4)),
        blur_mm=float(rng.uniform(0.2, 0.4)),
        transfer_syntax=str(rng.choice(["explicit_le", "rle", "jpeg_ls"])),
        modality=str(rng.choice(["DX", "CR"])),
    )


def _wide_spec(rng: np.random.Generator, seed: int, right: HipSpec, left: HipSpec) -> PhantomSpec:
    """random_spec over all variation axes."""

    def b(p: float) -> bool:
        return bool(rng.random() < p)

    hip_view = str(rng.choice(["right", "left"])) if b(0.1) else None
    spacing_tags = str(rng.choice(SPACING_TAGS[:4], p=[0.55, 0.2, 0.1, 0.15]))
    return PhantomSpec(
        seed=seed,
        right=right,
        left=left,
        spacing_mm=float(rng.uniform(0.10, 0.25)),
        anisotropy=float(rng.uniform(0.97, 1.03)) if b(0.1) else 1.0,
        flipped=b(0.2),
        monochrome1=b(0.3),
        magnification=float(rng.uniform(1.08, 1.28)),
        noise=float(rng.choice([rng.uniform(0.3, 1.0), rng.uniform(1.0, 3.0)])),
        blur_mm=float(rng.uniform(0.2, 0.5)),
        bits_stored=int(rng.choice([10, 12, 12, 14, 15, 16])),
        staples=b(0.3),
        marker=b(0.5),
        calibration_ball=b(0.25),
        cerclage=b(0.15),
        collimation=b(0.35),
        collimation_style=str(rng.choice(["white", "black"])),
        burned_text=b(0.3),
        bowel_gas=b(0.85),
        phleboliths=b(0.35),
        screws=b(0.3),
        hip_view=hip_view,
        spacing_tags=spacing_tags,
        transfer_syntax=str(
            rng.choice(
                [
                    "explicit_le",
                    "implicit_le",
                    "explicit_be",
                    "deflated",
                    "rle",
                    "jpeg_ls",
                    "jpeg_2000",
                ],
                p=[0.3, 0.1, 0.05, 0.05, 0.2, 0.2, 0.1],
            )
        ),
        modality=str(rng.choice(["DX", "CR"])),
    )


def dataset_spec(i: int, seed: int = 0, *, wide: bool = True, balanced: bool = True) -> PhantomSpec:
    """The spec of film ``i`` of :func:`make_dataset` with ``seed`` (``balanced`` cycles the
    hip classes so each appears equally often)."""
    grades = ((2 * i) % 5, (2 * i + 1) % 5) if balanced else None
    return random_spec(seed * 100003 + i, wide=wide, grades=grades)


#: The committed samples: (file name, spec). Regenerate with
#: ``python -m brooker.phantom --samples sample_images``.
def sample_specs() -> list[tuple[str, PhantomSpec]]:
    """Specs of the committed ``sample_images`` (one per class at least, flipped, MONOCHROME1)."""
    small: dict[str, Any] = {"spacing_mm": 0.25, "noise": 0.7}
    return [*_pelvis_samples(small), *_single_view_samples(small)]


def _pelvis_samples(small: dict[str, Any]) -> list[tuple[str, PhantomSpec]]:
    """The AP pelvis samples: every class, prostheses, a flipped and a MONOCHROME1 film."""
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
    ]


def _single_view_samples(small: dict[str, Any]) -> list[tuple[str, PhantomSpec]]:
    """A single-hip view and a knee (no hip: ungradable)."""
    return [
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
