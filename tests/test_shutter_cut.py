"""A collimator shutter that cuts the film short below the hips keeps the grades.

The femur body is the bone that reaches the bottom of the hip's region of interest; when a
black shutter ends the exposed field above that, the femoral shaft reaches the shutter's edge
instead, and must still be found (without it a spur's gap was measured to the femoral head
only, or the femur itself came out as a huge "island").
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from brooker.phantom import HipSpec as H
from brooker.phantom import PhantomSpec, render, write
from brooker.pipeline import grade_path

SPEC = PhantomSpec(seed=13, right=H(4, spurs="both"), left=H(2, 13.0, prosthesis=True, spurs="both"),
                   spacing_mm=0.25, noise=0.7)
CUT_BELOW_MM = 75.0  # the shutter's edge, below the hips' centres (the ROI reaches 120 mm)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    folder = tmp_path_factory.mktemp("shutter_cut")
    ph = render(SPEC)
    base = grade_path(write(ph, folder / "base.dcm"), overlay=False).to_record()
    rows = [h["center_px"][0] for h in ph.truth["hips"]]
    edge = int(max(rows) + CUT_BELOW_MM / ph.spacing[0])
    pixels = ph.pixels.copy()
    pixels[edge:] = 0  # a black (exposed-through) shutter, straight, across the bottom
    cut_path = write(replace(ph, pixels=pixels), Path(folder) / "cut.dcm")
    cut = grade_path(cut_path, overlay=False).to_record()
    return base, cut


def test_shutter_below_the_hips_keeps_grades_and_gaps(graded: tuple[dict, dict]) -> None:
    base, cut = graded
    assert base["status"] == cut["status"] == "ok"
    b = {h["side"]: h for h in base["hips"]}
    c = {h["side"]: h for h in cut["hips"]}
    assert set(b) == set(c) == {"right", "left"}
    for side in b:
        assert c[side]["grade"] == b[side]["grade"], (side, b[side], c[side])
        if b[side]["gap_mm"] is not None:
            assert c[side]["gap_mm"] == pytest.approx(b[side]["gap_mm"], abs=0.5)
    assert np.isfinite(c["left"]["gap_mm"])
