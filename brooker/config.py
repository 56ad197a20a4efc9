"""AnalysisConfig: every tunable of the analysis, in physical units, validated."""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import numpy as np

from brooker.errors import ConfigError
from brooker.models import FrozenMapping, SpacingSource
from brooker.units import BROOKER_GAP_THRESHOLD_MM, MAX_MEGAPIXELS, PLAUSIBLE_SPACING_MM

#: The files of a folder of judges (``AnalysisConfig.judges``, :mod:`brooker.ho_pixels`), as
#: ``benchmarks/train_ho_pixels.py`` writes them; the shipped ones are in the package's
#: ``data`` folder. Here, not in :mod:`brooker.ho_pixels`, so that the command line can hash
#: them without importing the analysis (scipy.ndimage: a quarter of a second).
JUDGE_FILES = ("ho_pixels.npz", "ho_fragments.npz")


@contextlib.contextmanager
def shipped_file(name: str) -> Iterator[Path]:
    """The path of a weights file shipped in the package's ``data`` folder."""
    with resources.as_file(resources.files("brooker").joinpath("data", name)) as path:
        yield path


#: Relative uncertainty of the spacing at the hip, by source. Calibrated spacing still carries
#: the error of the calibration (ball markers err by 5-20 %, geometric correction a few %);
#: detector-plane spacing is off by the unknown magnification, 1.10-1.25 at the hip.
DEFAULT_SPACING_UNCERTAINTY: Mapping[SpacingSource, float] = MappingProxyType(
    {
        SpacingSource.USER: 0.02,
        SpacingSource.PIXEL_SPACING: 0.03,
        SpacingSource.IMAGER_PIXEL_SPACING_MAGNIFICATION: 0.05,
        SpacingSource.IMAGER_PIXEL_SPACING: 0.20,
        SpacingSource.PIXEL_SPACING_UNCALIBRATED: 0.20,
        # An external ball is at its own depth, not the hip's: 5 % if placed at the level of
        # the greater trochanter as templating protocols ask (2-20 % reported); the fit's own
        # uncertainty is added to these three.
        SpacingSource.CALIBRATION_BALL: 0.05,
        # A prosthetic head is at the hip's depth: about 2 %.
        SpacingSource.PROSTHETIC_HEAD: 0.02,
        # The native femoral head varies between people (12 %: NATIVE_HEAD_DIAMETER_MM), and
        # its outline's fit errs on real films: see ANATOMICAL_FIT_BIAS. Both, about 20 %.
        SpacingSource.ANATOMICAL_ESTIMATE: 0.20,
    }
)

#: Assumed diameter of a native adult femoral head for ``estimate_spacing``, mm. On 200 AP
#: pelvis radiographs of adults aged 20-50 (Kour et al., NeuroQuantology 21(2), 2023) the mean
#: was 47.2 mm (right) and 46.1 mm (left), SD 3.6-4.0 mm (8 %), men about 4 mm larger than
#: women; other populations differ by several mm more (40-55 mm: the team's domain notes,
#: ../shared/docs/domain.md, beside the repository). The spacing it implies therefore carries
#: 12 % (1 SD) uncertainty from the head's size alone (``ANATOMICAL_ESTIMATE`` above adds the
#: fit's error on real films: :data:`ANATOMICAL_FIT_BIAS`).
NATIVE_HEAD_DIAMETER_MM = 46.0

#: How much larger than the head its fitted outline came out, median, on the team's real films
#: (measured 2026-12-03: the 29 with a native head, against the labelled head radii; 10th-90th
#: percentile 5-28 %, 8 of 29 within 12 %): the steepest step along the rays is often the
#: acetabulum's rim or the neck beyond the head. On the synthetic development films the
#: estimated spacing was a median 11 % small (14 of 20 estimated); on the project's own
#: phantoms the fit is within 5 %. Every gap measured on such a spacing is then that much too
#: small: said in the estimate's caveat, and counted in its uncertainty (20 %, not the
#: population's 12 %). Not corrected for: a factor fitted to these films would not hold on
#: films whose heads stand clear of the acetabulum.
ANATOMICAL_FIT_BIAS = 0.18

#: A magnification the user may give (detector over patient): a projection magnifies, so at
#: least 1 (1/1.15 = 0.87 is the reciprocal typed by mistake, and would lengthen every gap by
#: 32 %), and no clinical geometry reaches 3.
MAGNIFICATION_RANGE: tuple[float, float] = (1.0, 3.0)

#: The analysis grid's pitch, mm: the hip detector works on a grid of at most 2 mm, and a
#: finer grid (the film resampled to it) only costs memory, as the square of its inverse
#: (0.05 mm asked 82 GiB of a 4 MP film in a user's test, after a minute; 100 mm failed
#: inside the detector with a ValueError).
ANALYSIS_PITCH_RANGE_MM: tuple[float, float] = (0.25, 2.0)


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    """Options of one analysis; all lengths in mm at the patient.

    Parameters
    ----------
    pixel_spacing : (float, float) or None
        User override ``(row_mm, col_mm)`` at the patient; wins over every tag. One number
        is taken as square pixels (``0.2`` is ``(0.2, 0.2)``), as ``--pixel-spacing 0.2``.
    magnification : float or None
        User magnification factor; divides (0018,1164) Imager Pixel Spacing in place of
        (0018,1114) Estimated Radiographic Magnification Factor.
    gap_threshold_mm : float
        The Brooker II/III boundary (10.0 mm; a gap equal to it is class II).
    min_fragment_area_mm2 : float
        Smaller bright specks are noise, not heterotopic bone.
    ho_probability_min : float
        A candidate fragment whose pixels the learned judge (:mod:`brooker.ho_pixels`) gives
        a mean probability of heterotopic bone under this is normal bone (0.3; 0 turns both
        judges off).
    ho_fragment_min : float
        A candidate the fragment judge gives under this is normal bone (0.4; 0 turns it off).
    max_megapixels : float
        Larger declared images are refused before any allocation.
    spacing_uncertainty : mapping of SpacingSource to float
        Relative spacing uncertainty by source, for the ``borderline`` flag. Sources left out
        keep ``DEFAULT_SPACING_UNCERTAINTY``'s value; held read-only (a ``FrozenMapping``).
    ball_mm : float or None
        Diameter of a calibration ball on the film, mm: the ball is found and fitted, and the
        spacing it gives replaces the tags (``brooker.calibration``).
    head_mm : float or None
        Diameter of the prosthetic head(s) on the film, mm (28, 32, 36 ...): each prosthetic
        head is found and fitted, and the spacing they give replaces the tags.
    estimate_spacing : bool
        When no other spacing exists, estimate it from native femoral heads of assumed
        diameter ``NATIVE_HEAD_DIAMETER_MM`` (wide uncertainty; marked in every output).
    flipped : bool or None
        True: the patient's right is on the image's right (stated by the user); False: on the
        image's left; None: from the file (DICOM tags), else the AP convention, with a caveat.
    judges : str or None
        A folder holding ``ho_pixels.npz`` and ``ho_fragments.npz`` (as
        ``benchmarks/train_ho_pixels.py`` writes them) to use instead of the shipped learned
        judges (:mod:`brooker.ho_pixels`); None: the shipped ones.
    """

    pixel_spacing: tuple[float, float] | None = None
    magnification: float | None = None
    ball_mm: float | None = None
    head_mm: float | None = None
    estimate_spacing: bool = False
    flipped: bool | None = None
    judges: str | None = None
    gap_threshold_mm: float = BROOKER_GAP_THRESHOLD_MM
    min_fragment_area_mm2: float = 12.0
    max_megapixels: float = MAX_MEGAPIXELS
    spacing_uncertainty: Mapping[SpacingSource, float] = field(
        default_factory=lambda: dict(DEFAULT_SPACING_UNCERTAINTY)
    )
    # --- localisation (analysis grid) ---
    analysis_pitch_mm: float = 1.0
    background_sigma_mm: float = 12.0
    metal_contrast_factor: float = 2.6
    metal_max_texture: float = 0.15
    prosthetic_head_radius_mm: tuple[float, float] = (10.5, 20.5)
    native_head_radius_mm: tuple[float, float] = (18.0, 30.0)
    min_field_mm: float = 100.0
    hip_separation_mm: tuple[float, float] = (120.0, 280.0)
    hip_max_height_difference_mm: float = 45.0
    #: hip-region detector (brooker.hip_detector) scores are logits: a lone hip needs 3 (about
    #: 95 %); each hip of a pair that also fits the pelvis's geometry 1.5 (about 82 %)
    hip_min_score: float = 3.0
    hip_pair_min_score: float = 1.5
    #: detector peaks closer than this are one hip
    hip_min_distance_mm: float = 60.0
    #: a head (metal disk or bone circle) within this of the detector's centre places the hip
    hip_refine_mm: float = 12.0
    #: a head circle needs this fraction of its circumference on bone edges
    head_min_circle_support: float = 0.75
    #: the head radius assumed when no head circle is found in a detected hip region
    typical_head_radius_mm: float = 23.5
    # --- segmentation around each hip (stored pitch; finer films averaged to work_pitch_mm) ---
    #: Hip ROIs on films finer than this are block-averaged by whole factors per axis (0.2 mm
    #: -> 0.4 mm, 0.1 mm -> 0.4 mm): bone edges are blurred over several tenths of a mm on any
    #: radiograph, the gap's end points are still located to sub-pixel precision, and the real
    #: exports the judges learnt from are 0.4-0.6 mm films; 4x fewer pixels to segment at 0.2 mm.
    work_pitch_mm: float = 0.4
    roi_up_mm: float = 110.0
    roi_down_mm: float = 120.0
    roi_lateral_mm: float = 110.0
    roi_medial_mm: float = 60.0
    denoise_sigma_mm: float = 0.15
    mask_sigma_mm: float = 0.5
    bone_threshold_fraction: float = 0.2
    max_hole_mm2: float = 400.0
    metal_min_area_mm2: float = 1.0
    metal_halo_mm: float = 1.0
    shutter_margin_mm: float = 2.5
    joint_exclusion_factor: float = 1.15
    joint_exclusion_margin_mm: float = 3.0
    medial_wedge_deg: tuple[float, float] = (170.0, 340.0)
    sector_deg: tuple[float, float] = (-20.0, 170.0)
    sector_radius_mm: float = 100.0
    spur_opening_radii_mm: tuple[float, ...] = (6.0, 9.0, 12.0, 16.0, 20.0)
    # round spurs on the ilium's edge (segmentation._pelvic_bumps): the disk that follows the
    # ilium's outline but not a knob on it, the neck a knob needs on both sides, and how much
    # denser the bone beside it is where it overlaps the ilium
    pelvic_bump_radius_mm: float = 30.0
    bump_neck_radius_mm: float = 6.0
    bump_min_neck_mm: float = 0.3
    bump_overlap_ratio: float = 2.0
    spur_min_depth_mm: float = 3.0
    #: a candidate fragment counts as heterotopic only when the learned per-pixel judge
    #: (brooker.ho_pixels) gives its pixels at least this mean probability (0 turns both
    #: judges off) ...
    ho_probability_min: float = 0.3
    #: ... and the fragment judge (small networks over its features) at least this
    ho_fragment_min: float = 0.4
    # a dark trochanter (segmentation._solid_femur): cracks closed, holes filled up to a size
    crack_radius_mm: float = 1.0
    max_femur_hole_mm2: float = 2500.0

    def __post_init__(self) -> None:
        for name in _POSITIVE:
            _number(self, name, lambda v: v > 0, "a positive finite number")
        for name in _NON_NEGATIVE:
            _number(self, name, lambda v: v >= 0, "a finite number >= 0")
        for name in _FRACTIONS:
            _number(self, name, lambda v: 0 <= v <= 1, "within [0, 1]")
        for name in _SCORES:
            v = getattr(self, name)
            if not (is_real_number(v) and not math.isnan(v) and v < math.inf):
                raise ConfigError(f"{name} must be a number under +inf (a logit), got {v!r}")
        for name in _RANGES:
            lo_hi = _numbers(self, name, 2, "two positive finite numbers (lo, hi)")
            if not (0 < lo_hi[0] <= lo_hi[1]):
                raise ConfigError(f"{name} must be (lo, hi) with 0 < lo <= hi, got {lo_hi!r}")
        for name in _ANGLES:
            _numbers(self, name, 2, "two finite angles in degrees")
        lo, hi = ANALYSIS_PITCH_RANGE_MM
        _number(
            self, "analysis_pitch_mm", lambda v: lo <= v <= hi,
            f"between {lo:g} and {hi:g} mm (the hip detector's grid is 2 mm)",
        )
        radii = _numbers(self, "spur_opening_radii_mm", None, "a non-empty tuple of radii in mm")
        if not radii or not all(r > 0 for r in radii):
            raise ConfigError(
                f"spur_opening_radii_mm must be a non-empty tuple of positive radii, got {radii!r}"
            )
        if not isinstance(self.estimate_spacing, bool | np.bool_):
            raise ConfigError(
                f"estimate_spacing must be True or False, got {self.estimate_spacing!r}"
            )
        object.__setattr__(self, "estimate_spacing", bool(self.estimate_spacing))
        if self.flipped is not None:
            if not isinstance(self.flipped, bool | np.bool_):
                raise ConfigError(f"flipped must be True, False or None, got {self.flipped!r}")
            object.__setattr__(self, "flipped", bool(self.flipped))
        object.__setattr__(self, "spacing_uncertainty", _uncertainties(self.spacing_uncertainty))
        if is_real_number(self.pixel_spacing):  # square pixels, as --pixel-spacing 0.2
            object.__setattr__(self, "pixel_spacing", (self.pixel_spacing,) * 2)
        if self.pixel_spacing is not None:
            what = "two positive finite mm values (row_mm, col_mm), or one for square pixels"
            ps = _numbers(self, "pixel_spacing", 2, what)
            if not all(v > 0 for v in ps):
                raise ConfigError(f"pixel_spacing must be {what}, got {ps!r}")
            # as the command line's --pixel-spacing: a spacing typed in micrometres, or in
            # centimetres, failed only as each film was graded (every record an error)
            lo, hi = PLAUSIBLE_SPACING_MM
            if not all(lo <= v <= hi for v in ps):
                raise ConfigError(
                    f"pixel_spacing {ps[0]:g} x {ps[1]:g} mm is outside the plausible "
                    f"{lo:g}-{hi:g} mm of a radiograph (mm at the patient: a unit error?)"
                )
        if self.magnification is not None:
            lo, hi = MAGNIFICATION_RANGE
            _number(self, "magnification", lambda v: lo <= v <= hi, f"between {lo} and {hi}")
        for name in ("ball_mm", "head_mm"):
            if getattr(self, name) is not None:
                _number(self, name, lambda v: 5.0 <= v <= 80.0, "a diameter between 5 and 80 mm")
        given = [
            name
            for name, v in (
                ("pixel spacing", self.pixel_spacing),
                ("ball diameter", self.ball_mm),
                ("head diameter", self.head_mm),
            )
            if v is not None
        ]
        if len(given) > 1:
            raise ConfigError(f"give one scale source, not {' and '.join(given)}")
        if self.judges is not None:
            from brooker.ho_pixels import judges_from  # imports the analysis modules

            try:
                judges_from(str(self.judges))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None


#: Options that must be positive and finite (lengths, sigmas, radii, factors, pitches).
_POSITIVE = (
    "gap_threshold_mm",
    "max_megapixels",
    "analysis_pitch_mm",
    "background_sigma_mm",
    "metal_contrast_factor",
    "min_field_mm",
    "hip_min_distance_mm",
    "hip_refine_mm",
    "typical_head_radius_mm",
    "work_pitch_mm",
    "roi_up_mm",
    "roi_down_mm",
    "roi_lateral_mm",
    "joint_exclusion_factor",
    "sector_radius_mm",
    "bump_neck_radius_mm",
    "bump_overlap_ratio",
)
#: Options that may be 0 (off, or no margin) but not negative.
_NON_NEGATIVE = (
    "pelvic_bump_radius_mm",  # 0: no round-spur search on the ilium (segmentation)
    "min_fragment_area_mm2",
    "metal_max_texture",
    "hip_max_height_difference_mm",
    "roi_medial_mm",
    "denoise_sigma_mm",
    "mask_sigma_mm",
    "max_hole_mm2",
    "metal_min_area_mm2",
    "metal_halo_mm",
    "shutter_margin_mm",
    "joint_exclusion_margin_mm",
    "bump_min_neck_mm",
    "spur_min_depth_mm",
    "crack_radius_mm",
    "max_femur_hole_mm2",
)
#: Fractions and probabilities.
_FRACTIONS = (
    "ho_probability_min",
    "ho_fragment_min",
    "bone_threshold_fraction",
    "head_min_circle_support",
)
#: Scores (logits): any number under +inf (-inf takes every detector peak).
_SCORES = ("hip_min_score", "hip_pair_min_score")
#: ``(lo, hi)`` ranges of lengths, mm.
_RANGES = ("prosthetic_head_radius_mm", "native_head_radius_mm", "hip_separation_mm")
#: ``(from, to)`` angles, degrees.
_ANGLES = ("medial_wedge_deg", "sector_deg")


def config_or_default(config: object, caller: str) -> AnalysisConfig:
    """``config``, or the default :class:`AnalysisConfig` when None; anything else (a dict of
    options, a path) is a ``TypeError`` naming ``caller`` (it failed later as an
    AttributeError, or, in :func:`brooker.batch.grade_many`, as an internal error per film)."""
    if config is None:
        return AnalysisConfig()
    if not isinstance(config, AnalysisConfig):
        raise TypeError(
            f"{caller} takes an AnalysisConfig as its config, not {type(config).__name__} "
            "(AnalysisConfig(**options) makes one)"
        )
    return config


def is_real_number(v: object) -> bool:
    """A real number (numpy's too), not a bool (``True`` is an ``int``) nor a string."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_)


def _number(cfg: AnalysisConfig, name: str, ok: Callable[[float], bool], what: str) -> None:
    """Refuse option ``name`` of ``cfg`` unless it is a finite number for which ``ok`` holds."""
    v = getattr(cfg, name)
    if not (is_real_number(v) and math.isfinite(v) and ok(v)):
        raise ConfigError(f"{name} must be {what}, got {v!r}")


def _numbers(cfg: AnalysisConfig, name: str, n: int | None, what: str) -> tuple[float, ...]:
    """Option ``name`` of ``cfg`` as a tuple of finite numbers (``n`` of them, unless None), any
    sequence or 1-D array given; stored back as that tuple (hashable, as given otherwise)."""
    v = getattr(cfg, name)
    if isinstance(v, np.ndarray) and v.ndim == 1:
        v = v.tolist()
    if not (
        isinstance(v, Sequence)
        and not isinstance(v, str | bytes)
        and (n is None or len(v) == n)
        and all(is_real_number(x) and math.isfinite(x) for x in v)
    ):
        raise ConfigError(f"{name} must be {what}, got {getattr(cfg, name)!r}")
    out = tuple(float(x) for x in v)
    object.__setattr__(cfg, name, out)
    return out


def _uncertainties(given: object) -> FrozenMapping[SpacingSource, float]:
    """``spacing_uncertainty`` checked, over the defaults, as a read-only mapping that pickles."""
    if not isinstance(given, Mapping):
        raise ConfigError(
            f"spacing_uncertainty must be a mapping of SpacingSource to float, got {given!r}"
        )
    merged = dict(DEFAULT_SPACING_UNCERTAINTY)
    for key, value in given.items():
        try:
            source = SpacingSource(key)
        except ValueError:
            raise ConfigError(
                f"spacing_uncertainty: {key!r} is not a spacing source (one of "
                f"{', '.join(s.value for s in SpacingSource)})"
            ) from None
        if not (is_real_number(value) and math.isfinite(value) and value >= 0):
            raise ConfigError(
                f"spacing_uncertainty[{source.value!r}] must be a finite fraction >= 0, "
                f"got {value!r}"
            )
        merged[source] = float(value)
    return FrozenMapping(merged)
