"""segment_hip: what lies outside the exposed field is never bone."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from test_roi_pitch import _film, _hip

from brooker.config import AnalysisConfig
from brooker.localization import IntensityModel, Scene, analyse_scene, analysis_grid
from brooker.models import (
    HipJoint,
    ImageSide,
    PatientSide,
    PixelSpacing,
    Radiograph,
    RadiographMeta,
    SpacingSource,
)
from brooker.segmentation import METAL_CONFIRM_MM, segment_hip


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


def _flat_film_with_metal_block(
    row_mm: float, col_mm: float
) -> tuple[Radiograph, HipJoint, Scene, tuple[float, float, float, float]]:
    """A flat film (soft tissue 1000, bone level 2000) with a bright band at 3x the bone
    contrast (a metal candidate, not confirmed by its level alone) and a scene whose coarse
    (1 mm grid) metal map is a 10 mm block inside the band: (film, hip, scene, the block's
    top, bottom, left, right in mm)."""
    h, w = round(200.0 / row_mm), round(200.0 / col_mm)
    y = (np.arange(h) + 0.5) * row_mm
    x = (np.arange(w) + 0.5) * col_mm
    px = np.full((h, w), 1000.0, np.float32)
    px[((y > 40) & (y < 80))[:, None] & ((x > 120) & (x < 170))[None, :]] = 4000.0
    meta = RadiographMeta(
        path="/nowhere/flat", sop_instance_uid=None, modality="DX", photometric="MONOCHROME2",
        transfer_syntax_uid="1.2.840.10008.1.2.1", transfer_syntax_name="Explicit VR Little Endian",
        decoder="test", rows=h, cols=w, bits_allocated=16, bits_stored=12, pixel_representation=0,
    )
    rad = Radiograph(
        pixels=px,
        spacing=PixelSpacing(row_mm, col_mm, SpacingSource.PIXEL_SPACING, 0.02),
        patient_right_on=ImageSide.LEFT,
        laterality_source="patient_orientation",
        meta=meta,
    )
    grid = analysis_grid(rad, 1.0)
    gh, gw = grid.image.shape
    gy, gx = np.arange(gh) + 0.5, np.arange(gw) + 0.5
    block = (55.0, 65.0, 140.0, 150.0)
    coarse = ((gy > block[0]) & (gy < block[1]))[:, None] & ((gx > block[2]) & (gx < block[3]))[
        None, :
    ]
    everywhere = np.ones((gh, gw), bool)
    model = IntensityModel(
        soft=np.full((gh, gw), 1000.0, np.float32),
        bone=np.full((gh, gw), 2000.0, np.float32),
        body=everywhere,
        bone_mask=~everywhere,
        metal_mask=coarse,
        field=everywhere,
        clip_level=math.inf,
    )
    hip = HipJoint(
        patient_side=PatientSide.LEFT,
        image_side=ImageSide.RIGHT,
        center_px=(100.0 / row_mm - 0.5, 100.0 / col_mm - 0.5),
        head_radius_mm=22.0,
        prosthesis=False,
    )
    return rad, hip, Scene(grid=grid, model=model, stored_max=1e9), block


@pytest.mark.parametrize(
    ("row_mm", "col_mm"), [(0.4, 0.4), (0.2, 0.2), (1.0, 1.0), (0.4, 1.0), (1.0, 0.4), (0.3, 0.4)]
)
def test_metal_is_confirmed_as_far_in_mm_along_rows_and_columns(
    row_mm: float, col_mm: float
) -> None:
    """A bright ROI pixel is confirmed as metal within ``METAL_CONFIRM_MM`` of the coarse
    metal map, along the rows and along the columns alike: on anisotropic pixels the reach
    must not be counted in steps of the finer pitch and then taken along the coarser one
    (0.4 x 1.0 mm pixels reached 3 mm along the rows of the image)."""
    cfg = AnalysisConfig()
    rad, hip, scene, (top, bottom, left, right) = _flat_film_with_metal_block(row_mm, col_mm)
    masks = segment_hip(rad, hip, cfg, scene)
    r0, c0 = masks.origin_px
    kr, kc = masks.block_px
    pr, pc = masks.spacing_mm
    halo = masks.metal_halo  # the metal grown by metal_halo_mm
    rows = np.flatnonzero(halo.any(axis=1))
    cols = np.flatnonzero(halo.any(axis=0))
    assert rows.size
    assert cols.size
    beyond_rows = (top - (r0 + rows[0] * kr) * row_mm, (r0 + (rows[-1] + 1) * kr) * row_mm - bottom)
    beyond_cols = (left - (c0 + cols[0] * kc) * col_mm, (c0 + (cols[-1] + 1) * kc) * col_mm - right)
    reach = METAL_CONFIRM_MM + cfg.metal_halo_mm
    # one ROI pixel of slack along each axis (whole pixels, the coarse map's interpolation)
    assert max(beyond_rows) <= reach + pr + 1e-6, beyond_rows
    assert max(beyond_cols) <= reach + pc + 1e-6, beyond_cols
    assert min(beyond_rows) >= 1.0  # it does reach past the block
    assert min(beyond_cols) >= 1.0
