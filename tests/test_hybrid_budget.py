"""benchmarks/hybrid_budget.py: each drawn pixel is put in the first place that holds it."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from brooker.models import HipJoint, ImageSide, PatientSide
from brooker.segmentation import HipMasks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from hybrid_budget import PLACES, attribute, roi_of, summarise

SHAPE = (10, 12)


def _masks(**kw: np.ndarray) -> HipMasks:
    z = np.zeros(SHAPE, dtype=bool)
    parts = {k: kw.get(k, z) for k in ("bone", "metal_halo", "pelvis", "femur", "head")}
    return HipMasks(
        hip=HipJoint(PatientSide.RIGHT, ImageSide.LEFT, (5.0, 6.0), 20.0, False),
        origin_px=(100, 200),
        image=np.zeros(SHAPE, dtype=np.float32),
        allowed=kw.get("allowed", ~z),
        sector=~z,
        bodies_joined=False,
        spacing_mm=(0.5, 0.5),
        **parts,
    )


def test_each_drawn_pixel_counts_once_in_the_first_place() -> None:
    cols = np.arange(SHAPE[1])[None, :] + np.zeros(SHAPE, dtype=int)
    allowed = cols >= 2  # columns 0-1: the joint's disk
    bone = cols >= 4  # columns 2-3: below the threshold
    pelvis = (cols >= 4) & (cols < 6)  # 4-5: a body
    halo = (cols >= 6) & (cols < 7)  # 6: metal's halo
    fragments = cols >= 9  # 9-11 a fragment; 7-8 a candidate turned down
    masks = _masks(allowed=allowed, bone=bone, pelvis=pelvis, metal_halo=halo)
    drawn = np.ones(SHAPE, dtype=bool)
    counts = attribute(drawn, masks, fragments)
    rows = SHAPE[0]
    # the halo (column 6) is bone in this drawing: it is counted before the bone threshold
    assert counts == {"outside": 2 * rows, "halo": rows, "not_bone": 2 * rows,
                      "body": 2 * rows, "rejected": 2 * rows, "fragment": 3 * rows}  # fmt: skip
    assert sum(counts.values()) == drawn.sum()
    # metal is no bone: a drawn pixel on it counts as metal's, not as faint bone
    on_metal = _masks(allowed=allowed, bone=bone & ~halo, pelvis=pelvis, metal_halo=halo)
    assert attribute(drawn, on_metal, fragments)["halo"] == rows
    # what is not drawn is not counted
    assert attribute(np.zeros(SHAPE, dtype=bool), masks, fragments) == dict.fromkeys(PLACES, 0)


def test_roi_of_reads_the_stored_mask_at_the_roi_pixels() -> None:
    stored = np.zeros((300, 300), dtype=bool)
    stored[105, 203] = True
    roi = roi_of(stored, _masks())
    assert roi.shape == SHAPE
    assert roi[5, 3]
    assert roi.sum() == 1


def test_roi_of_a_block_averaged_roi_takes_the_blocks_majority() -> None:
    """On a film finer than the working pitch each ROI pixel is a block of stored pixels: it
    is drawn when half its block is, whichever of its pixels those are."""
    stored = np.zeros((300, 300), dtype=bool)
    stored[100:102, 200:202] = [[False, True], [True, False]]  # ROI pixel (0, 0): half drawn
    stored[102, 203] = True  # ROI pixel (1, 1): a quarter
    masks = dataclasses.replace(_masks(), block_px=(2, 2))
    roi = roi_of(stored, masks)
    assert roi.shape == SHAPE
    assert roi[0, 0]
    assert not roi[1, 1]
    assert roi.sum() == 1


def test_summary_weights_each_hip_alike() -> None:
    rows = [
        {"truth": 2, "grade": 2, "outside": 0, "not_bone": 0, "body": 10, "halo": 0,
         "rejected": 0, "fragment": 0},
        {"truth": 2, "grade": 0, "outside": 0, "not_bone": 0, "body": 0, "halo": 0,
         "rejected": 0, "fragment": 1000},
    ]  # fmt: skip
    (s,) = summarise(rows)
    assert s["class"] == 2
    assert s["hips"] == 2
    assert s["right"] == 1
    assert s["body"] == 0.5
    assert s["fragment"] == 0.5
