"""AnalysisConfig: every tunable of the analysis, in physical units, validated."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from brooker.errors import ConfigError
from brooker.models import SpacingSource
from brooker.units import BROOKER_GAP_THRESHOLD_MM, MAX_MEGAPIXELS

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
    }
)


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    """Options of one analysis; all lengths in mm at the patient.

    Parameters
    ----------
    pixel_spacing : (float, float) or None
        User override ``(row_mm, col_mm)`` at the patient; wins over every tag.
    magnification : float or None
        User magnification factor; divides (0018,1164) Imager Pixel Spacing in place of
        (0018,1114) Estimated Radiographic Magnification Factor.
    gap_threshold_mm : float
        The Brooker II/III boundary (10.0 mm; a gap equal to it is class II).
    min_fragment_area_mm2 : float
        Smaller bright specks are noise, not heterotopic bone.
    max_megapixels : float
        Larger declared images are refused before any allocation.
    spacing_uncertainty : mapping of SpacingSource to float
        Relative spacing uncertainty by source, for the ``borderline`` flag.
    """

    pixel_spacing: tuple[float, float] | None = None
    magnification: float | None = None
    gap_threshold_mm: float = BROOKER_GAP_THRESHOLD_MM
    min_fragment_area_mm2: float = 12.0
    max_megapixels: float = MAX_MEGAPIXELS
    spacing_uncertainty: Mapping[SpacingSource, float] = field(
        default_factory=lambda: DEFAULT_SPACING_UNCERTAINTY
    )

    def __post_init__(self) -> None:
        if self.pixel_spacing is not None:
            if len(self.pixel_spacing) != 2 or not all(
                isinstance(v, float | int) and math.isfinite(v) and v > 0
                for v in self.pixel_spacing
            ):
                raise ConfigError(
                    f"pixel spacing must be two positive finite mm values, got {self.pixel_spacing!r}"
                )
        if self.magnification is not None and not (
            math.isfinite(self.magnification) and 0.5 <= self.magnification <= 3.0
        ):
            raise ConfigError(f"magnification must be between 0.5 and 3.0, got {self.magnification!r}")
        if not (math.isfinite(self.gap_threshold_mm) and self.gap_threshold_mm > 0):
            raise ConfigError("gap_threshold_mm must be positive")
        if not (self.min_fragment_area_mm2 >= 0):
            raise ConfigError("min_fragment_area_mm2 must be >= 0")
        if not (self.max_megapixels > 0):
            raise ConfigError("max_megapixels must be positive")
