"""brooker.analyze on a path and on a Radiograph loaded beforehand."""

from __future__ import annotations

import pytest
from conftest import ROOT

from brooker import AnalysisConfig, load_radiograph
from brooker.models import SpacingSource
from brooker.pipeline import load_calibrated

FILM = ROOT / "sample_images" / "pelvis_0_vs_3.dcm"


def test_a_loaded_radiograph_with_a_spacing_option_warns_that_it_is_not_applied() -> None:
    """Until the gap below is closed, the option is not silently dropped: a warning says so."""
    with pytest.warns(UserWarning, match="not applied to a radiograph already loaded"):
        load_calibrated(load_radiograph(FILM), AnalysisConfig(magnification=1.2))
    load_calibrated(load_radiograph(FILM), AnalysisConfig())  # no option given: no warning


@pytest.mark.filterwarnings("ignore:AnalysisConfig.pixel_spacing:UserWarning")
@pytest.mark.xfail(
    strict=True,
    reason="known gap: a Radiograph given to analyze keeps its own spacing; "
    "AnalysisConfig.pixel_spacing (and magnification) are applied only when loading a path",
)
def test_the_users_pixel_spacing_wins_on_a_loaded_radiograph_too() -> None:
    cfg = AnalysisConfig(pixel_spacing=(0.3, 0.3))
    from_path = load_calibrated(FILM, cfg)
    assert from_path.spacing is not None
    assert from_path.spacing.source is SpacingSource.USER
    from_radiograph = load_calibrated(load_radiograph(FILM), cfg)
    assert from_radiograph.spacing == from_path.spacing
