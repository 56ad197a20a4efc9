"""benchmarks/draw_hybrids.py: heterotopic bone drawn where its class says, and nowhere else."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import draw_hybrids  # noqa: E402

SP = 0.5  # mm per pixel of the toy hip


def _toy() -> tuple[draw_hybrids.Hip, np.ndarray]:
    """A right hip on the image's left half (lateral: towards column 0), its film's local
    scale (soft tissue 0, bone 1): an ilium across the top, a femur below and lateral."""
    norm = np.zeros((400, 400), np.float32)
    norm[:120] = 1.0  # ilium: more than 40 mm above the centre
    norm[260:, :180] = 1.0  # femur: more than 30 mm below, lateral
    label = {"side": "right", "image_half": "left", "centre_rc_px": [200.0, 200.0],
             "radius_px": 23.5 / SP, "prosthesis": False}  # fmt: skip
    hip = draw_hybrids.Hip(label, SP, norm.shape)
    return hip, norm


@pytest.mark.parametrize("seed", range(5))
def test_a_bridge_joins_the_ilium_to_the_femur(seed: int) -> None:
    hip, norm = _toy()
    mask, got = draw_hybrids.draw_hip(np.random.default_rng(seed), hip, norm, 4)
    assert got == 4
    assert ndi.label(mask | (norm > 0))[1] == 1  # one piece of bone: the bodies bridged
    assert mask[:120].any()
    assert mask[260:].any()


@pytest.mark.parametrize("seed", range(5))
def test_spurs_leave_a_gap_of_their_class(seed: int) -> None:
    hip, norm = _toy()
    mask, got = draw_hybrids.draw_hip(np.random.default_rng(seed), hip, norm, 2)
    assert got in (2, 3)
    lab, n = ndi.label(mask | (norm > 0))
    assert n == 2  # ilium and femur apart: each spur grows from one of them
    pelvic, femoral = (lab == lab[0, 0]), (lab == lab[-1, 0])
    gap_mm = ndi.distance_transform_edt(~pelvic, sampling=SP)[femoral].min()
    # drawn to leave 10.5-25 mm (II) or 1.5-9 mm (III), give or take the outline's lobes
    assert (gap_mm >= 7.0) if got == 2 else (gap_mm < 12.0)


@pytest.mark.parametrize("seed", range(5))
def test_islands_stay_clear_of_the_bone(seed: int) -> None:
    hip, norm = _toy()
    mask, got = draw_hybrids.draw_hip(np.random.default_rng(seed), hip, norm, 1)
    assert got == 1
    assert mask.any()
    assert ndi.distance_transform_edt(norm == 0, sampling=SP)[mask].min() >= 3.0


def test_a_drawn_film_changes_only_around_its_drawn_bone(tmp_path: Path) -> None:
    """Written beside its mask; the film differs from its source only within a few
    millimetres of that mask (the edge blur), and only at the hips drawn with bone."""
    src = ROOT / "sample_images" / "pelvis_0_vs_3.dcm"
    spec = json.loads((ROOT / "sample_images" / "manifest.json").read_text())[src.name]
    labels = {"hips": [
        {"side": h["side"], "image_half": h["image_half"], "centre_rc_px": h["center_px"],
         "radius_px": h["head_diameter_mm"] / 2 / spec["spacing_mm"], "prosthesis": False}
        for h in spec["hips"]
    ]}  # fmt: skip
    dst = tmp_path / "drw_pelvis_v0.dcm"
    truth = draw_hybrids.draw_film(src, labels, dst, seed=0)
    drawn = [h for h in truth["hips"] if h["grade"] > 0]
    assert drawn, truth
    mask = np.load(dst.with_name("drw_pelvis_v0_drawn.npz"))["ectopic"]
    before = pydicom.dcmread(src).pixel_array.astype(np.float64)
    after = pydicom.dcmread(dst).pixel_array.astype(np.float64)
    changed = np.abs(after - before) > 0.5
    assert mask.any()
    assert changed.any()
    near = ndi.distance_transform_edt(~mask, sampling=spec["spacing_mm"]) <= 3.0
    assert not (changed & ~near).any()
