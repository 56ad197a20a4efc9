"""A prosthetic hip whose head the segmentation does not read as metal is graded, with a caveat.

On films whose tone curve brings metal close to bone (8-bit exports, strong gamma), the
film-wide levels take an implant for bone. Its head's own level then tells the implant
(:func:`brooker.segmentation.prosthesis_metal`); where even that fails, the hip is graded all
the same (since the learned judges decide what is heterotopic; such hips used to be withheld),
and the record says the implant was read as bone. Synthetic film: two prosthetic hips under a
gamma tone curve, whose heads the film-wide levels do not read as metal (checked, so the film
exercises the case).
"""

from __future__ import annotations

import numpy as np
import pytest

import brooker.phantom as ph
from brooker import grading, pipeline, segmentation
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.localization import analyse_scene, find_hips
from brooker.models import Radiograph
from brooker.phantom import HipSpec as H
from brooker.phantom import PhantomSpec
from brooker.segmentation import segment_hip

CFG = AnalysisConfig()


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Radiograph:
    spec = PhantomSpec(
        seed=31, right=H(0, prosthesis=True), left=H(1, prosthesis=True),
        spacing_mm=0.4, noise=0.7, tone="gamma", drc=0.5,
    )  # fmt: skip
    p = ph.render(spec)
    path = ph.write(p, tmp_path_factory.mktemp("prosthetic") / "gamma.dcm")
    return load_radiograph(path, pixel_spacing=p.spacing)


def _metal_fractions(film: Radiograph) -> dict[str, float]:
    scene = analyse_scene(film, CFG)
    hips = find_hips(film, CFG, scene).hips
    return {
        h.patient_side.value: segment_hip(film, h, CFG, scene).head_metal_fraction for h in hips
    }


def _no_head_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the film-wide levels: the implant is not told from its head's own level."""

    def nothing(smooth: np.ndarray, *args: object) -> np.ndarray:
        return np.zeros(smooth.shape, dtype=bool)

    monkeypatch.setattr(segmentation, "prosthesis_metal", nothing)


def test_implant_near_bone_level_is_read_as_metal_from_its_head(film: Radiograph) -> None:
    """The film-wide levels read under half of each head as metal (next test); the head's own
    level reads all of it, and no caveat is given."""
    fractions = _metal_fractions(film)
    assert set(fractions) == {"right", "left"}
    assert all(f >= 0.9 for f in fractions.values()), fractions
    res = pipeline.analyze(film, CFG)
    assert {h.patient_side.value for h in res.hips} == {"right", "left"}
    assert not any("segmented as metal" in c for h in res.hips for c in h.caveats)


def test_head_not_read_as_metal_is_graded_with_a_caveat(
    film: Radiograph, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_head_level(monkeypatch)
    fractions = _metal_fractions(film)
    assert set(fractions) == {"right", "left"}
    assert all(f < 0.5 for f in fractions.values()), fractions  # the case under test
    res = pipeline.analyze(film, CFG)
    assert res.status.value == "ok"
    assert {h.patient_side.value for h in res.hips} == {"right", "left"}
    for hip in res.hips:
        assert hip.prosthesis
        assert hip.grade is not None
        assert hip.not_graded is None
        pct = round(100 * fractions[hip.patient_side.value])
        assert any(
            c.startswith(f"the prosthetic head is only {pct} % segmented as metal")
            for c in hip.caveats
        ), hip.caveats


def test_no_caveat_when_the_head_is_metal_enough(
    film: Radiograph, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_head_level(monkeypatch)
    monkeypatch.setattr(grading, "PROSTHETIC_HEAD_MIN_METAL", 0.0)
    res = pipeline.analyze(film, CFG)
    assert res.hips
    assert not any("segmented as metal" in c for h in res.hips for c in h.caveats)
