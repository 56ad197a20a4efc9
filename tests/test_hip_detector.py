"""The hip-region detector and hip placement (brooker.hip_detector, localization.find_hips).

Known answers on the project's own synthetic films (seeds never used to train the detector:
``benchmarks/train_hip_detector.py`` renders seeds 1000-1023), the HOG features against
scikit-image's, and the record of a hip found but not graded. Figures on real films are pinned
by tests/test_scoreboard.py.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from brooker import hip_detector as hd
from brooker import phantom as ph
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.localization import find_hips
from brooker.models import BrookerGrade, HipResult, ImageSide, PatientSide

#: A hip is placed right when its centre is within this of the truth (a head radius is ~24 mm).
PLACE_TOL_MM = 12.0


_RENDERED: dict[ph.PhantomSpec, ph.Phantom] = {}


def _film(tmp: Path, spec: ph.PhantomSpec) -> tuple[Any, dict[str, Any]]:
    """The film of ``spec``, written to ``tmp`` and loaded, and its truth. A spec is rendered
    once per module (three tests use seed 2001's film; a render is deterministic by its spec):
    the cached pixels are read-only and each call gets its own copy of the truth."""
    if spec not in _RENDERED:
        p = ph.render(spec)
        p.pixels.setflags(write=False)
        _RENDERED[spec] = p
    p = _RENDERED[spec]
    path = ph.write(p, tmp / f"s{spec.seed}.dcm")
    return load_radiograph(path, pixel_spacing=p.spacing), copy.deepcopy(p.truth)


@pytest.mark.parametrize("seed", [2001, 2002, 2003])
def test_both_hips_found_and_placed_on_a_synthetic_pelvis(tmp_path: Path, seed: int) -> None:
    spec = replace(ph.random_spec(seed), spacing_mm=0.5)
    rad, truth = _film(tmp_path, spec)
    found = find_hips(rad, AnalysisConfig())
    want = {h["side"]: h for h in truth["hips"]}
    got = {h.patient_side.value: h for h in found.hips}
    assert set(got) == set(want), found
    row_mm, col_mm = rad.spacing.sampling_mm
    for side, t in want.items():
        h = got[side]
        assert h.image_side.value == t["image_half"]
        dr = (h.center_px[0] - t["center_px"][0]) * row_mm
        dc = (h.center_px[1] - t["center_px"][1]) * col_mm
        assert math.hypot(dr, dc) <= PLACE_TOL_MM, (side, h.center_px, t["center_px"])
        assert h.prosthesis == t["prosthesis"], side
        assert h.score is not None
        assert h.score >= AnalysisConfig().hip_pair_min_score


def test_find_hips_uses_the_detector_it_is_given(tmp_path: Path) -> None:
    # the training script finds hips on each held-out film with weights trained without it:
    # the weights passed must be the ones scored, and the shipped ones are the default
    spec = replace(ph.random_spec(2001), spacing_mm=0.5)
    rad, _ = _film(tmp_path, spec)
    cfg = AnalysisConfig()
    default = find_hips(rad, cfg)
    shipped = find_hips(rad, cfg, detector=hd.load_weights())
    assert [h.center_px for h in shipped.hips] == [h.center_px for h in default.hips]
    assert len(default.hips) == 2
    # a detector that sees a hip nowhere (every window's logit -20) finds none
    blind = hd.DetectorWeights(w=np.zeros(hd.N_FEATURES), b=-20.0)
    found = find_hips(rad, cfg, detector=blind)
    assert found.hips == ()
    assert found.reason is not None
    assert "no hip" in found.reason
    assert max(c.score for c in found.candidates) == pytest.approx(-20.0)


@pytest.mark.parametrize("body", ["knee", "chest"])
def test_no_hip_on_a_film_without_one(tmp_path: Path, body: str) -> None:
    spec = replace(ph.random_spec(2010), spacing_mm=0.5, body=body)
    rad, truth = _film(tmp_path, spec)
    assert truth["hips"] == []
    found = find_hips(rad, AnalysisConfig())
    assert found.hips == ()
    assert found.reason is not None
    assert "no hip" in found.reason
    # what was looked at is reported, best first, all below the lone-hip threshold
    scores = [c.score for c in found.candidates]
    assert scores
    assert scores == sorted(scores, reverse=True)
    assert max(scores) < AnalysisConfig().hip_min_score


def test_a_hip_view_gives_one_hip(tmp_path: Path) -> None:
    spec = replace(ph.random_spec(2004), spacing_mm=0.5, hip_view="right")
    rad, truth = _film(tmp_path, spec)
    found = find_hips(rad, AnalysisConfig())
    sides = {h.patient_side for h in found.hips}
    assert PatientSide.RIGHT in sides, found
    assert len(found.hips) == len(truth["hips"]), (found, truth["hips"])


def test_mirrored_film_swaps_the_lateral_side(tmp_path: Path) -> None:
    spec = replace(ph.random_spec(2001), spacing_mm=0.5)
    rad, _ = _film(tmp_path, spec)
    img = hd.detector_image(rad.pixels.astype(np.float32), rad.spacing.row_mm)
    w = hd.load_weights()
    a = hd.peaks(img, w, min_score=0.0, min_distance_px=30)
    b = hd.peaks(np.ascontiguousarray(img[:, ::-1]), w, min_score=0.0, min_distance_px=30)
    best_a = {p.lateral_left: p for p in a[:2]}
    best_b = {p.lateral_left: p for p in b[:2]}
    assert set(best_a) == set(best_b) == {True, False}
    n = img.shape[1]
    for side in (True, False):
        mirrored = best_b[not side]
        assert abs(best_a[side].row_px - mirrored.row_px) <= 2 * hd.SCORE_STEP_PX
        assert abs(best_a[side].col_px - (n - 1 - mirrored.col_px)) <= 2 * hd.SCORE_STEP_PX
        assert best_a[side].score == pytest.approx(mirrored.score, abs=0.5)


@pytest.mark.parametrize("shape", [(64, 64), (70, 97), (130, 41)])
def test_hog_is_scikit_images(shape: tuple[int, int]) -> None:
    from skimage.feature import hog

    rng = np.random.default_rng(sum(shape))
    img = rng.random(shape)
    ref = hog(img, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
              feature_vector=False, block_norm="L2-Hys")
    ours = hd.hog_blocks(img.astype(np.float32))
    assert ours.shape == (ref.shape[0], ref.shape[1], 36)
    np.testing.assert_allclose(ours, ref.reshape(ours.shape), atol=1e-6)


def test_shipped_weights_load() -> None:
    w = hd.load_weights()
    assert w.w.shape == (hd.N_FEATURES,)
    assert np.all(np.isfinite(w.w))
    assert math.isfinite(w.b)
    with pytest.raises(ValueError, match="finite"):
        hd.DetectorWeights(w=np.zeros(3), b=0.0)


def test_a_hip_found_but_not_graded_has_no_class() -> None:
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, None, (10.0, 20.0), False,
                    not_graded="the femoral head is not segmented as bone on this film")
    rec = hip.to_record()
    assert rec["grade"] is None
    assert rec["brooker_class"] is None
    assert rec["gap_mm"] is None
    assert "not segmented" in rec["not_graded"]
    with pytest.raises(ValueError, match="either a grade"):
        HipResult(PatientSide.RIGHT, ImageSide.LEFT, None, (10.0, 20.0), False)
    with pytest.raises(ValueError, match="either a grade"):
        HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (1.0, 2.0), False,
                  not_graded="x")


def _pattern_weights(pattern: np.ndarray) -> hd.DetectorWeights:
    """Weights that score a window by how much its HOG looks like ``pattern``'s."""
    f = hd.window_features(pattern.astype(np.float32))
    return hd.DetectorWeights(w=f / np.linalg.norm(f), b=0.0)


_OPEN_PEAK_OFFSET = pytest.mark.xfail(
    strict=True,
    reason="open: peaks() reports map cell (i, j) at (2i, 2j) but its window is centred at "
    "(2i - 0.5, 2j - 0.5), and the mirrored map drops a pixel on even widths (the fix moves "
    "detector-placed hips 1-3 mm and, with the judges retrained, grades worse: engineering "
    "notes, step 2)",
)


@_OPEN_PEAK_OFFSET
@pytest.mark.parametrize("width", [160, 161])
@pytest.mark.parametrize("mirror", [False, True])
def test_peaks_report_the_centre_of_the_window_that_scored(width: int, mirror: bool) -> None:
    # one distinctive window-sized pattern on a flat film: the best peak of the orientation
    # whose weights are the pattern's own is at the pattern's centre (a map point, within
    # float error), on either orientation and film width
    from scipy import ndimage as ndi

    rng = np.random.default_rng(5)
    pat = ndi.gaussian_filter(rng.random((hd.WINDOW_PX, hd.WINDOW_PX)), 2.0)
    pat = (pat - pat.min()) / (pat.max() - pat.min()) + 0.5
    img = np.zeros((150, width), np.float32)
    # the map scores windows whose top-left pixel is even (mirrored: whose top-right pixel is
    # even counted from the right): the pattern is put where one of them lies
    r0, c0 = 40, 48 + (width % 2 if mirror else 0)
    img[r0 : r0 + hd.WINDOW_PX, c0 : c0 + hd.WINDOW_PX] = pat[:, ::-1] if mirror else pat
    centre = (r0 + (hd.WINDOW_PX - 1) / 2, c0 + (hd.WINDOW_PX - 1) / 2)
    best = hd.peaks(img, _pattern_weights(pat), min_score=-math.inf, min_distance_px=10)[0]
    assert best.lateral_left is not mirror
    assert (best.row_px, best.col_px) == pytest.approx(centre, abs=1e-6)


@pytest.mark.parametrize("width", [pytest.param(160, marks=_OPEN_PEAK_OFFSET), 161])
def test_peaks_of_a_mirrored_film_are_mirrored(width: int) -> None:
    # the same windows are scored on a film and on its mirror image: the peaks must be the
    # same, mirrored, to the pixel, whether the film's width is even or odd
    from scipy import ndimage as ndi

    rng = np.random.default_rng(width)

    img = ndi.gaussian_filter(rng.random((120, width)), 3.0).astype(np.float32)
    w = hd.load_weights()
    a = hd.peaks(img, w, min_score=-math.inf, min_distance_px=10)
    b = hd.peaks(np.ascontiguousarray(img[:, ::-1]), w, min_score=-math.inf, min_distance_px=10)
    # (the film is all window: every local maximum, weak ones too, on both films)
    got_a = sorted((p.row_px, p.col_px, p.lateral_left, round(p.score, 4)) for p in a)
    got_b = sorted(
        (p.row_px, width - 1 - p.col_px, not p.lateral_left, round(p.score, 4)) for p in b
    )
    assert got_a == got_b
