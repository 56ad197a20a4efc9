"""The anatomy check of the hip search (``localization._anatomy_check``) and what it does to
grading: a hip outside the film is not graded; a hip whose own bone the film's levels do not
show as bone is graded 0 or I with a caveat, and a spur or bridge there is not graded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brooker import localization
from brooker.localization import AnalysisGrid, IntensityModel, _anatomy_check, _Candidate
from brooker.models import Status
from brooker.pipeline import analyze

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images"
HEAD = "the femoral head is not segmented as bone on this film"


def _scene(
    head_level: float, row: float, *, h: int = 260, metal_rows: int = 0
) -> tuple[AnalysisGrid, IntensityModel, _Candidate]:
    """A 1 mm grid of ``h`` rows on the film's own scale (soft tissue 0, bone 1): a head of
    radius 24 mm at ``head_level``, the ilium above it and the femur below, both bone, and
    ``metal_rows`` of metal across the head's middle (a screw)."""
    w = 200
    img = np.zeros((h, w), np.float32)
    yy, xx = np.ogrid[:h, :w]
    img[: max(0, int(row - 1.1 * 24)), 60:140] = 1.0  # ilium over the roof
    img[int(row + 1.2 * 24) :, 80:120] = 1.0  # neck and shaft
    img[(yy - row) ** 2 + (xx - 100) ** 2 <= 24**2] = head_level
    ones = np.ones((h, w), np.float32)
    metal = ones < 0
    metal[int(row) - metal_rows // 2 : int(row) + (metal_rows + 1) // 2, 80:120] = True
    model = IntensityModel(
        soft=0 * ones, bone=ones, body=ones > 0, bone_mask=img >= 0.2,
        metal_mask=metal, field=ones > 0, clip_level=10.0,
    )
    grid = AnalysisGrid(image=img, pitch_mm=1.0, scale_row=1.0, scale_col=1.0)
    return grid, model, _Candidate(row=row, col=100.0, radius_mm=24.0, prosthesis=False,
                                   score=5.0)


def test_a_bone_bright_hip_passes() -> None:
    assert _anatomy_check(*_scene(1.0, 120.0)) == (None, None)


def test_a_head_under_the_bone_threshold_is_unseen_not_outside() -> None:
    assert _anatomy_check(*_scene(0.3, 120.0)) == (None, HEAD)


def test_a_roof_off_the_film_is_not_graded_at_all() -> None:
    # the roof band (1.2-2.2 radii above the centre) starts above the film's top edge
    outside, unseen = _anatomy_check(*_scene(0.3, 40.0))
    assert outside == "the acetabular roof is outside the film"
    assert unseen is None


def test_a_shaft_off_the_film_is_not_graded_at_all() -> None:
    # the film ends 1.2 radii below the centre: no band to find the neck and shaft in is not
    # a bone threshold set too high
    outside, unseen = _anatomy_check(*_scene(1.0, 120.0, h=150))
    assert outside == "the femoral neck and shaft are outside the film"
    assert unseen is None


def test_metal_over_a_native_head_is_not_graded_at_all() -> None:
    # screws, a shield, an implant not found as one: not a threshold above the hip's bone
    assert _anatomy_check(*_scene(1.0, 120.0, metal_rows=6)) == (
        "metal lies over the femoral head", None)


@pytest.mark.parametrize(("name", "graded"), [("hip_view_right_4.dcm", False),
                                              ("pelvis_0_vs_3.dcm", True)])
def test_unseen_anatomy_grades_0_with_a_caveat_and_withholds_spurs(
    monkeypatch: pytest.MonkeyPatch, name: str, graded: bool
) -> None:
    """Wired through the pipeline: on a sample film whose native hip reads IV (a bridge) the
    hip is reported not graded, with the fragments seen; where native hips read 0 each is
    graded 0 with the caveat, and the film is not ungradable."""
    monkeypatch.setattr(localization, "_anatomy_check", lambda *a: (None, HEAD))
    res = analyze(SAMPLES / name)
    assert res.hips
    for hip in res.hips:
        assert not hip.prosthesis
        if graded:
            assert hip.grade == 0
            assert any(c.startswith(HEAD) for c in hip.caveats)
        else:
            assert hip.grade is None
            assert hip.not_graded is not None
            assert hip.not_graded.startswith(f"a spur or bridge was seen, but {HEAD}")
            assert hip.fragments
    assert res.status is (Status.OK if graded else Status.UNGRADABLE)
