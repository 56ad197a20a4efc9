"""segment_hip: what lies outside the exposed field is never bone."""

from __future__ import annotations

import dataclasses

import numpy as np
from test_roi_pitch import _film, _hip

from brooker.config import AnalysisConfig
from brooker.localization import analyse_scene
from brooker.segmentation import segment_hip


def test_shutter_corner_enclosed_by_bone_is_not_filled_as_bone() -> None:
    """A tilted white shutter clips the ROI's top-medial corner, over the ilium.

    The shutter region and its margin are not bone (``in_field``), but together they form a
    small non-bone region enclosed by the ilium and the ROI's border: the hole filling
    (``max_hole_mm2``) must not turn the unexposed film into bone.
    """
    cfg = AnalysisConfig()
    rad = _film(0.4, 0.4)
    hip = _hip(rad)
    h, w = rad.pixels.shape
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    # row 118 at the ROI's medial edge (column 124), rising 0.2 row a column: the shutter
    # covers a triangle of about 20 x 100 pixels of the ROI's top-medial corner
    shutter = rows < 118 - 0.2 * (cols - 124)
    pixels = rad.pixels.copy()
    pixels[shutter] = pixels.max()
    cut = dataclasses.replace(rad, pixels=pixels)
    scene = analyse_scene(cut, cfg)
    masks = segment_hip(cut, hip, cfg, scene)
    r0, c0 = masks.origin_px
    outside = shutter[r0 : r0 + masks.bone.shape[0], c0 : c0 + masks.bone.shape[1]]
    assert outside.sum() > 500  # the shutter does reach into the ROI
    assert not (masks.bone & outside).any()
