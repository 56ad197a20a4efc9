"""AnalysisConfig: every option validated, a bad value refused with a ConfigError naming it."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import numpy as np
import pytest

from brooker.config import DEFAULT_SPACING_UNCERTAINTY, AnalysisConfig
from brooker.errors import ConfigError
from brooker.models import SpacingSource

NAN, INF = float("nan"), float("inf")

#: (option, bad values): each must give a ConfigError whose message names the option
BAD: list[tuple[str, list[Any]]] = [
    # micrometres (143) and centimetres (0.014) too, as the command line refuses them: a
    # batch graded every film as an error (audit of 2026-12-07)
    (
        "pixel_spacing",
        ["0.1,0.1", (0.1,), (0.1, -0.1), (NAN, 0.1), (True, True), (143.0, 143.0),
         (0.1, 5.0), (0.014, 0.014)],
    ),
    ("magnification", ["1.2", 0.0, 0.87, NAN, (1.2,)]),
    ("ball_mm", ["25", 0.0, NAN]),
    ("head_mm", ["32", 100.0, INF]),
    ("estimate_spacing", ["yes", 1, None]),
    ("flipped", ["yes", 1, 0.0]),
    ("gap_threshold_mm", ["10", 0.0, NAN, INF]),
    ("min_fragment_area_mm2", ["12", -1.0, NAN, INF]),
    ("max_megapixels", ["120", 0.0, INF]),
    ("ho_probability_min", ["0.3", -0.1, 1.5]),
    ("ho_fragment_min", ["0.4", NAN]),
    # the detector's grid is 2 mm; 0.05 mm asked 82 GiB (a user's test of 2026-12-07)
    ("analysis_pitch_mm", ["1", 0.0, -1.0, NAN, INF, 100.0, 2.5, 0.05, 0.2]),
    ("background_sigma_mm", [0.0, NAN]),
    ("metal_contrast_factor", [0.0, -2.6, NAN]),
    ("metal_max_texture", [-0.1, NAN]),
    ("prosthetic_head_radius_mm", [(), (20.5, 10.5), (-1.0, 5.0), (NAN, 20.0), "ab"]),
    ("native_head_radius_mm", [(18.0,), (30.0, 18.0), (0.0, 30.0)]),
    ("min_field_mm", [0.0, NAN]),
    ("hip_separation_mm", [(280.0, 120.0), (120.0,), (-1.0, 280.0)]),
    ("hip_max_height_difference_mm", [-1.0, NAN]),
    ("hip_min_score", [NAN, INF, "3"]),
    ("hip_pair_min_score", [NAN, INF]),
    ("hip_min_distance_mm", [0.0, NAN]),
    ("hip_refine_mm", [0.0, -12.0]),
    ("head_min_circle_support", [-0.1, 1.5, NAN]),
    ("typical_head_radius_mm", [0.0, NAN]),
    ("work_pitch_mm", ["0.4", 0.0, NAN]),
    ("roi_up_mm", [0.0, -110.0, NAN]),
    ("roi_down_mm", [0.0, INF]),
    ("roi_lateral_mm", [0.0, NAN]),
    ("roi_medial_mm", [-1.0, NAN]),
    ("denoise_sigma_mm", [-0.15, NAN]),
    ("mask_sigma_mm", [-0.5, NAN]),
    ("bone_threshold_fraction", [-0.1, 1.5, NAN]),
    ("max_hole_mm2", [-1.0, NAN]),
    ("metal_min_area_mm2", [-1.0, NAN]),
    ("metal_halo_mm", [-1.0, NAN]),
    ("shutter_margin_mm", [-1.0, NAN]),
    ("joint_exclusion_factor", [0.0, NAN]),
    ("joint_exclusion_margin_mm", [-1.0, NAN]),
    ("medial_wedge_deg", [(170.0,), (NAN, 340.0), "ab"]),
    ("sector_deg", [(), (-20.0, INF)]),
    ("sector_radius_mm", [0.0, NAN]),
    ("spur_opening_radii_mm", [(), (6.0, -9.0), (NAN,), 6.0]),
    ("pelvic_bump_radius_mm", [-1.0, NAN]),
    ("bump_neck_radius_mm", [0.0, NAN]),
    ("bump_min_neck_mm", [-0.3, NAN]),
    ("bump_overlap_ratio", [0.0, NAN]),
    ("spur_min_depth_mm", [-3.0, NAN]),
    ("crack_radius_mm", [-1.0, NAN]),
    ("max_femur_hole_mm2", [-1.0, NAN]),
    (
        "spacing_uncertainty",
        [
            {SpacingSource.USER: -0.1},
            {SpacingSource.USER: NAN},
            {"bogus": 0.1},
            {SpacingSource.USER: "2 %"},
            0.02,
        ],
    ),
]


def test_every_option_has_a_bad_value_case() -> None:
    assert {name for name, _ in BAD} | {"judges"} == {
        f.name for f in dataclasses.fields(AnalysisConfig)
    }


@pytest.mark.parametrize(
    ("name", "bad"),
    [pytest.param(n, b, id=f"{n}={b!r}") for n, values in BAD for b in values],
)
def test_a_bad_value_is_a_config_error_naming_the_option(name: str, bad: Any) -> None:
    with pytest.raises(ConfigError, match=name) as info:
        AnalysisConfig(**{name: bad})
    assert "\n" not in info.value.message


def test_the_defaults_and_documented_values_are_accepted() -> None:
    AnalysisConfig()
    AnalysisConfig(pixel_spacing=(0.143, 0.143), flipped=True)
    AnalysisConfig(magnification=1.2, estimate_spacing=True, flipped=False)
    AnalysisConfig(head_mm=32.0, ho_probability_min=0.0, ho_fragment_min=0.0)
    AnalysisConfig(ball_mm=25, gap_threshold_mm=10.004, work_pitch_mm=0.05)
    AnalysisConfig(analysis_pitch_mm=0.25)
    AnalysisConfig(analysis_pitch_mm=2.0)


def test_numpy_numbers_arrays_and_off_switches_are_accepted() -> None:
    """What a research script passes: numpy scalars and arrays (stored back as tuples of
    floats, so the config stays hashable), 0 to switch the ilium's knob search off, and a
    score of -inf to take every detector peak."""
    cfg = AnalysisConfig(
        pixel_spacing=np.array([0.2, 0.25]),
        gap_threshold_mm=np.float32(10.0),
        min_fragment_area_mm2=np.int64(12),
        hip_separation_mm=np.array([120.0, 280.0]),
        spacing_uncertainty={"user": np.float32(0.1)},
        estimate_spacing=np.bool_(False),
        pelvic_bump_radius_mm=0.0,
        hip_min_score=-INF,
    )
    assert cfg.pixel_spacing == (0.2, 0.25)
    assert type(cfg.pixel_spacing) is tuple
    assert cfg.hip_separation_mm == (120.0, 280.0)
    assert cfg.estimate_spacing is False
    assert cfg.spacing_uncertainty[SpacingSource.USER] == pytest.approx(0.1)
    hash(cfg)
    with pytest.raises(ConfigError, match="pixel_spacing"):
        AnalysisConfig(pixel_spacing=np.array([[0.2, 0.2]]))
    # one number is square pixels, as --pixel-spacing 0.2 (a research engineer's test)
    assert AnalysisConfig(pixel_spacing=0.2).pixel_spacing == (0.2, 0.2)  # type: ignore[arg-type]
    for not_one in (True, -0.2, "0.2"):
        with pytest.raises(ConfigError, match="pixel_spacing"):
            AnalysisConfig(pixel_spacing=not_one)  # type: ignore[arg-type]


def test_the_config_is_frozen_all_the_way_down() -> None:
    cfg = AnalysisConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.gap_threshold_mm = 5.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.spacing_uncertainty[SpacingSource.USER] = 0.5  # type: ignore[index]
    assert cfg.spacing_uncertainty[SpacingSource.USER] == 0.02
    assert hash(cfg) == hash(AnalysisConfig())


def test_spacing_uncertainty_given_in_part_keeps_the_defaults_for_the_rest() -> None:
    # README: "set AnalysisConfig.spacing_uncertainty to your protocol's figure"
    cfg = AnalysisConfig(spacing_uncertainty={SpacingSource.CALIBRATION_BALL: 0.1})
    assert cfg.spacing_uncertainty[SpacingSource.CALIBRATION_BALL] == 0.1
    assert cfg.spacing_uncertainty == {**DEFAULT_SPACING_UNCERTAINTY, "calibration_ball": 0.1}
    by_value = AnalysisConfig(spacing_uncertainty={"user": 0.05})
    assert by_value.spacing_uncertainty[SpacingSource.USER] == 0.05


def test_the_config_pickles_to_workers_and_compares_equal() -> None:
    cfg = AnalysisConfig(spacing_uncertainty={SpacingSource.USER: 0.05}, pixel_spacing=(0.2, 0.2))
    back = pickle.loads(pickle.dumps(cfg))
    assert back == cfg
    assert back.spacing_uncertainty[SpacingSource.USER] == 0.05
