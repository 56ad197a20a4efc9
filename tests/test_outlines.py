"""The pelvis and femur bodies' edges in the region searched (:mod:`brooker.outlines`): known
answers on hand-made masks, and on the bundled synthetic films through the pipeline."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from brooker import outlines
from brooker.config import AnalysisConfig
from brooker.models import HipJoint, ImageSide, PatientSide
from brooker.pipeline import analyze
from brooker.segmentation import HipMasks

ROOT = Path(__file__).resolve().parents[1]
N = 100  # the hand-made ROI's side, pixels


def _masks(
    pelvis: npt.NDArray[np.bool_],
    femur: npt.NDArray[np.bool_] | None = None,
    *,
    origin_px: tuple[int, int] = (1000, 2000),
    block_px: tuple[int, int] = (1, 1),
    spacing_mm: tuple[float, float] = (0.4, 0.4),
) -> HipMasks:
    """An ROI of N x N whose region searched is the square of rows and columns 10-89."""
    sector = np.zeros((N, N), bool)
    sector[10:90, 10:90] = True
    none = np.zeros((N, N), bool)
    hip = HipJoint(PatientSide.RIGHT, ImageSide.LEFT, (1050.0, 2050.0), 23.5, False)
    return HipMasks(
        hip=hip,
        origin_px=origin_px,
        image=np.zeros((N, N), np.float32),
        bone=pelvis | (none if femur is None else femur),
        metal_halo=none,
        allowed=sector,
        sector=sector,
        pelvis=pelvis,
        femur=none if femur is None else femur,
        head=none,
        bodies_joined=False,
        spacing_mm=spacing_mm,
        block_px=block_px,
    )


def _box(r0: int, r1: int, c0: int, c1: int) -> npt.NDArray[np.bool_]:
    m = np.zeros((N, N), bool)
    m[r0:r1, c0:c1] = True
    return m


def test_a_body_cut_by_the_region_searched_is_outlined_only_along_its_own_edges() -> None:
    """A pelvis reaching in across the region's top border: its left, bottom and right edges
    are drawn as one stretch (not split where the tracing began); the border it is cut by is
    not an edge of it."""
    got = outlines.body_outlines(_masks(_box(0, 40, 30, 60)))
    assert [o.body for o in got] == ["pelvis"]
    pts = np.array(got[0].points_px) - (1000, 2000)  # ROI coordinates at 1 x 1 blocks
    # on the pixel edges: the columns 29.5 and 59.5, the row 39.5
    on_left, on_right = np.isclose(pts[:, 1], 29.5), np.isclose(pts[:, 1], 59.5)
    on_bottom = np.isclose(pts[:, 0], 39.5)
    assert np.all(on_left | on_right | on_bottom)
    assert on_left.any()
    assert on_right.any()
    assert on_bottom.any()
    # nothing within CUT_MARGIN_PX of the region's top border (row 10)
    assert pts[:, 0].min() >= 10 + outlines.CUT_MARGIN_PX - 0.5
    # a U: from one side down, along the bottom and up the other (ends at the cut)
    assert {round(pts[0, 1], 1), round(pts[-1, 1], 1)} == {29.5, 59.5}


def test_a_body_inside_the_region_is_outlined_all_round() -> None:
    disk = np.hypot(*np.mgrid[0:N, 0:N] - np.array([50.0, 50.0])[:, None, None]) < 15
    (got,) = outlines.body_outlines(_masks(disk))
    pts = np.array(got.points_px) - (1000, 2000)
    assert pts[0] == pytest.approx(pts[-1])  # closed
    r = np.hypot(pts[:, 0] - 50, pts[:, 1] - 50)
    assert np.all(np.abs(r - 15) < 1.0)


def test_bodies_outside_the_region_or_only_touching_its_cut_are_not_drawn() -> None:
    outside = _box(92, 100, 0, 100)  # below the region (rows 10-89) altogether
    corner = _box(0, 12, 0, 12)  # only a corner over the region's border
    assert outlines.body_outlines(_masks(outside, femur=corner)) == ()
    assert outlines.body_outlines(_masks(np.zeros((N, N), bool))) == ()


def test_pelvis_first_then_femur() -> None:
    got = outlines.body_outlines(_masks(_box(0, 30, 20, 80), femur=_box(60, 100, 40, 70)))
    assert [o.body for o in got] == ["pelvis", "femur"]


@pytest.mark.parametrize("block", [(1, 1), (2, 2), (2, 3)])
def test_outlines_are_on_the_stored_films_pixel_edges(block: tuple[int, int]) -> None:
    """An ROI block-averaged from a fine film (``block_px``): the bottom edge of ROI row 39 is
    the edge between stored rows origin + 40 * kr - 1 and origin + 40 * kr."""
    kr, kc = block
    (got,) = outlines.body_outlines(_masks(_box(0, 40, 30, 60), block_px=block))
    pts = np.array(got.points_px)
    bottom = pts[np.isclose(pts[:, 0], pts[:, 0].max())]
    assert bottom[0, 0] == pytest.approx(1000 + 40 * kr - 0.5)
    cols = pts[:, 1]
    assert cols.min() == pytest.approx(2000 + 30 * kc - 0.5)
    assert cols.max() == pytest.approx(2000 + 60 * kc - 0.5)


def test_a_short_stretch_between_two_cuts_is_left_out() -> None:
    """A body crossing the region's corner leaves a stretch of its edge shorter than
    MIN_STRETCH_MM inside: a corner of the cut, not an edge worth drawing."""
    # its edge clear of the cut: an L along row 13.5 and column 13.5, from the margin (pixels
    # 12 and over) to the corner, under 5 pixels: 1.9 mm at 0.4 mm
    body = _box(0, 14, 0, 14)
    assert outlines.body_outlines(_masks(body)) == ()
    # at 1 mm pixels the same stretch is over 4 mm long: drawn
    assert outlines.body_outlines(_masks(body, spacing_mm=(1.0, 1.0)))


def test_where_a_collimator_shutter_crosses_the_region_its_margin_is_a_cut() -> None:
    """Bone stops at the margin kept from a shutter's edge (``in_field``): the body's edge
    there is the field's, not the bone's, and is not drawn (a real film's dark top rows drew a
    70 mm dotted line along the ilium's cut)."""
    body = _box(30, 50, 30, 60)  # the bone below the field's edge (row 30)
    field = np.ones((N, N), bool)
    field[:30] = False
    masks = _masks(body)
    (whole,) = outlines.body_outlines(masks)  # unaware of the field: its top edge is drawn
    assert np.isclose(np.array(whole.points_px)[:, 0] - 1000, 29.5).any()
    (cut,) = outlines.body_outlines(dataclasses.replace(masks, in_field=field))
    rows = np.array(cut.points_px)[:, 0] - 1000
    assert rows.min() >= 30 + outlines.CUT_MARGIN_PX - 0.5
    assert np.isclose(rows, 49.5).any()  # the bone's own bottom edge stays


def test_the_graded_samples_bodies_lie_in_their_region_searched() -> None:
    """Through the pipeline on a bundled synthetic pelvis: both hips' pelvis and femur edges
    are drawn, every point of them in the hip's region searched, clear of its inner disk
    (the joint cut out) and its outer edge."""
    res = analyze(ROOT / "sample_images" / "pelvis_1_vs_2.dcm", AnalysisConfig())
    assert res.spacing is not None
    row_mm, col_mm = res.spacing.row_mm, res.spacing.col_mm
    for hip in res.hips:
        assert {o.body for o in hip.body_outlines} == {"pelvis", "femur"}, hip.patient_side
        assert hip.search_region is not None
        inner, outer, lo, hi = hip.search_region
        lat = -1.0 if hip.image_side is ImageSide.LEFT else 1.0
        for o in hip.body_outlines:
            d = np.array(o.points_px) - hip.center_px
            v, u = -d[:, 0] * row_mm, lat * d[:, 1] * col_mm
            r = np.hypot(u, v)
            assert r.min() > inner
            assert r.max() < outer
            phi = np.degrees(np.arctan2(u, v))  # 0 up, 90 lateral
            assert np.all((phi >= lo - 1e-6) & (phi <= hi + 1e-6)), o.body
    assert not any(math.isnan(v) for h in res.hips for o in h.body_outlines
                   for p in o.points_px for v in p)  # fmt: skip


@pytest.mark.parametrize(
    ("classes", "kept"), [((3, 2, 4, 4, 4), 1), ((0,), 0), ((2, 2, 2, 2, 2), 0)]
)
def test_the_outlines_are_those_of_the_centre_the_hip_was_graded_about(
    monkeypatch: pytest.MonkeyPatch, classes: tuple[int, ...], kept: int
) -> None:
    """A hip at the detector's centre is graded about five centres and the lowest class kept
    (:func:`brooker.pipeline.grade_found_hip`): its bodies' edges are those segmented about
    the centre kept (here each centre's pelvis is a box of its own width), computed once."""
    from brooker import pipeline
    from brooker.models import BrookerGrade, HipResult

    hip = HipJoint(PatientSide.RIGHT, ImageSide.LEFT, (1050.0, 2050.0), 23.5, False,
                   center_uncertainty_mm=2.0)  # fmt: skip
    tried: list[int] = []
    computed: list[object] = []

    def fake(_rad: object, h: HipJoint, _cfg: object, _scene: object) -> tuple[HipResult, HipMasks]:
        k = len(tried)
        tried.append(k)
        res = HipResult(h.patient_side, h.image_side, BrookerGrade(classes[k]), h.center_px, False)
        return res, _masks(_box(0, 40, 30, 40 + 4 * k))  # its right edge at column 39.5 + 4k

    real = outlines.body_outlines

    def counted(m: HipMasks) -> tuple[object, ...]:
        computed.append(m)
        return real(m)

    class _Film:
        class spacing:  # what grade_found_hip reads of a radiograph
            row_mm = col_mm = 0.4

    monkeypatch.setattr(pipeline, "_grade_at", fake)
    monkeypatch.setattr(pipeline, "body_outlines", counted)
    res = pipeline.grade_found_hip(_Film(), hip, AnalysisConfig(), None)  # type: ignore[arg-type]
    assert len(tried) == len(classes)
    assert len(computed) == 1
    (got,) = res.body_outlines
    assert np.array(got.points_px)[:, 1].max() == pytest.approx(2000 + 39.5 + 4 * kept)
