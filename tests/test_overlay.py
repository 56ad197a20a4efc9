"""The overlay shows what was measured, where it was measured, and nothing that identifies."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from brooker import overlay as ov
from brooker.models import (
    BodyOutline,
    BrookerGrade,
    DisplayMapping,
    Fragment,
    FragmentKind,
    GapMeasurement,
    GradingResult,
    HipCandidate,
    HipResult,
    ImageSide,
    PatientSide,
    PixelSpacing,
    Radiograph,
    RadiographMeta,
    SpacingSource,
    Status,
)

SECRETS = ("DOE^JANE^SECRET", "DOE", "SECRET", "ID-SECRET-0001", "19700101")
SOP_UID = "1.2.826.0.1.3680043.8.498.4242424242"

# --------------------------------------------------------------------------------------------
# a hand-built radiograph and grading (no engine needed)

ROWS, COLS = 600, 800
SPACING_MM = 0.2
# the patient's left hip on the image's right half; a pelvic spur grows down towards the femur
PELVIC_PT = (300.0, 600.0)
FEMORAL_PT = (330.0, 600.0)  # 30 px * 0.2 mm = 6.0 mm


def _meta(rows: int, cols: int, photometric: str = "MONOCHROME2") -> RadiographMeta:
    return RadiographMeta(
        path="/nowhere/IM0001",
        sop_instance_uid=SOP_UID,
        modality="DX",
        photometric=photometric,
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        transfer_syntax_name="Explicit VR Little Endian",
        decoder="test",
        rows=rows,
        cols=cols,
        bits_allocated=16,
        bits_stored=12,
        pixel_representation=0,
    )


def _spur_mask() -> tuple[tuple[int, int, int, int], npt.NDArray[np.bool_]]:
    bbox = (240, 570, 301, 631)  # rows 240..300, cols 570..630
    rr, cc = np.mgrid[bbox[0] : bbox[2], bbox[1] : bbox[3]]
    # a triangle narrowing to the tip at PELVIC_PT
    mask = np.abs(cc - 600) <= (300 - rr) * 0.5
    return bbox, mask


def make_radiograph(
    rows: int = ROWS,
    cols: int = COLS,
    spacing_mm: float = SPACING_MM,
    display: DisplayMapping | None = None,
) -> Radiograph:
    """Bone bright (1000) on soft tissue (100): a pelvis band, two femora, one spur."""
    px = np.full((rows, cols), 100.0, dtype=np.float32)
    fy, fx = rows / ROWS, cols / COLS
    px[: int(240 * fy), :] = 1000.0  # pelvis
    px[int(330 * fy) :, int(150 * fx) : int(250 * fx)] = 1000.0  # right femur (image left)
    px[int(330 * fy) :, int(550 * fx) : int(650 * fx)] = 1000.0  # left femur (image right)
    if (rows, cols) == (ROWS, COLS):
        bbox, mask = _spur_mask()
        px[bbox[0] : bbox[2], bbox[1] : bbox[3]][mask] = 1000.0
    return Radiograph(
        pixels=px,
        spacing=PixelSpacing(spacing_mm, spacing_mm, SpacingSource.PIXEL_SPACING, 0.03),
        patient_right_on=ImageSide.LEFT,
        laterality_source="patient_orientation",
        meta=_meta(rows, cols),
        display=display,
        caveats=("spacing calibration assumed",),
    )


def make_result(
    radiograph: Radiograph,
    *,
    grade: BrookerGrade = BrookerGrade.SPURS_NARROW_GAP,
    borderline: bool = False,
    bridge: bool = False,
) -> GradingResult:
    bbox, mask = _spur_mask()
    sp = radiograph.spacing
    assert sp is not None
    if bridge:
        bbox = (240, 570, 331, 631)
        mask = np.ones((91, 61), dtype=bool)
        frag = Fragment(FragmentKind.BRIDGE, 91 * 61 * 0.04, (285.0, 600.0), bbox, mask)
        gap = GapMeasurement(0.0, (320.0, 600.0), (320.0, 600.0))
    else:
        frag = Fragment(
            FragmentKind.PELVIC_SPUR, float(mask.sum()) * 0.04, (280.0, 600.0), bbox, mask
        )
        gap = GapMeasurement(6.0, PELVIC_PT, FEMORAL_PT, uncertainty_mm=0.6)
    island = Fragment(
        FragmentKind.ISLAND, 20.0, (280.0, 700.0), (270, 690, 290, 710), np.ones((20, 20), bool)
    )
    left = HipResult(
        patient_side=PatientSide.LEFT,
        image_side=ImageSide.RIGHT,
        grade=grade,
        center_px=(330.0, 520.0),
        prosthesis=True,
        gap=gap,
        borderline=borderline,
        fragments=(frag, island),
    )
    right = HipResult(
        patient_side=PatientSide.RIGHT,
        image_side=ImageSide.LEFT,
        grade=BrookerGrade.NONE,
        center_px=(330.0, 200.0),
        prosthesis=False,
    )
    return GradingResult(
        file=radiograph.meta.path,
        status=Status.OK,
        version="9.8.7",
        hips=(right, left),
        spacing=sp,
        sop_instance_uid=SOP_UID,
        laterality_source=radiograph.laterality_source,
        image_shape_px=radiograph.pixels.shape,
        caveats=radiograph.caveats,
    )


def _has_colour(rgb: npt.NDArray[np.uint8], colour: tuple[int, int, int]) -> npt.NDArray[np.bool_]:
    hit: npt.NDArray[np.bool_] = np.all(rgb == np.asarray(colour, dtype=np.uint8), axis=2)
    return hit


def _near(hit: npt.NDArray[np.bool_], x: float, y: float, r: int = 2) -> bool:
    xi, yi = round(x), round(y)
    return bool(hit[max(0, yi - r) : yi + r + 1, max(0, xi - r) : xi + r + 1].any())


def _longest_run(hit: npt.NDArray[np.bool_]) -> int:
    best = 0
    for row in hit:
        padded = np.concatenate([[0], row.astype(np.int8), [0]])
        d = np.diff(padded)
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        if starts.size:
            best = max(best, int((ends - starts).max()))
    return best


def _png_chunk_types(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, types = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return types


# --------------------------------------------------------------------------------------------
# what is drawn, and where


@pytest.mark.parametrize("max_side_px", [800, 400, 333])
def test_gap_line_ends_at_the_reported_points(max_side_px: int) -> None:
    rad = make_radiograph()
    rgb = ov.render_overlay(rad, make_result(rad), max_side_px=max_side_px)
    s = min(1.0, max_side_px / COLS)
    assert rgb.shape[1] == round(COLS * s)
    gap = _has_colour(rgb, ov.GAP_RGB)
    for r, c in (PELVIC_PT, FEMORAL_PT):
        x, y = (c + 0.5) * s - 0.5, (r + 0.5) * s - 0.5
        assert _near(gap, x, y), (r, c)
    # and along the segment between them
    mid_r, mid_c = (PELVIC_PT[0] + FEMORAL_PT[0]) / 2, PELVIC_PT[1]
    assert _near(gap, (mid_c + 0.5) * s - 0.5, (mid_r + 0.5) * s - 0.5, r=1)
    # but not far from it in the image part (the label and legend use it elsewhere only as text)
    assert not _near(gap, (200 + 0.5) * s, (330 + 0.5) * s, r=3)


@pytest.mark.parametrize(
    ("spacing_mm", "max_side_px"), [(0.2, 800), (0.2, 400), (0.143, 2048), (0.1, 500)]
)
def test_scale_bar_is_10_mm_long(spacing_mm: float, max_side_px: int) -> None:
    rad = make_radiograph(spacing_mm=spacing_mm)
    rgb = ov.render_overlay(rad, make_result(rad), max_side_px=max_side_px)
    s = min(1.0, max_side_px / COLS)
    panel = rgb[round(ROWS * s) :]
    expected = 10.0 / spacing_mm * s
    assert abs(_longest_run(_has_colour(panel, ov.SCALE_BAR_RGB)) - expected) <= 1.0


def test_legend_and_labels_are_drawn() -> None:
    rad = make_radiograph()
    res = make_result(rad, borderline=True)
    rgb, texts = ov._render(rad, res, 2048)
    panel = rgb[ROWS:]
    for kind, colour in ov.KIND_RGB.items():
        assert _has_colour(panel, colour).any(), kind
        assert ov.KIND_LABEL[kind] in texts
    assert _has_colour(panel, ov.GAP_RGB).any()
    for expected in (
        "L",
        "R",
        "Brooker III",
        "Brooker 0",
        "6.0 mm",
        "borderline ±0.6 mm",
        "prosthesis",
        "10 mm",
        "caveat: spacing calibration assumed",
    ):
        assert expected in texts, expected
    info = " ".join(texts)
    assert "spacing: 0.200 x 0.200 mm from (0028,0030) Pixel Spacing, calibrated" in info
    assert "brooker 9.8.7" in info
    assert "sides: from (0020,0020) Patient Orientation" in info
    # the borderline mark is amber on the image
    assert _has_colour(rgb[:ROWS], ov.BORDERLINE_RGB).any()


def test_a_weak_call_is_labelled_on_its_hip() -> None:
    """A class resting on a weak call of the learned judge says so beside the class, in the
    borderline amber; a call that is not weak does not."""
    rad = make_radiograph()
    res = make_result(rad)
    _, texts = ov._render(rad, res, 2048)
    assert "weak call" not in texts
    left = dataclasses.replace(res.hips[1], weak_call=True)
    weak = dataclasses.replace(res, hips=(res.hips[0], left))
    rgb, texts = ov._render(rad, weak, 2048)
    assert texts.count("weak call") == 1
    assert _has_colour(rgb[:ROWS], ov.BORDERLINE_RGB).any()


def test_why_a_hip_was_not_graded_is_in_the_panel() -> None:
    """A hip found but not graded is labelled so on the image, and the reason (with the
    fragments seen, when there are any) is in the panel below, before the hip's caveats."""
    rad = make_radiograph()
    res = make_result(rad)
    left = dataclasses.replace(
        res.hips[1],
        grade=None,
        gap=None,
        prosthesis=False,
        not_graded="a spur or bridge was seen, but the femur is not segmented",
        caveats=("a caveat of its own",),
    )
    res = dataclasses.replace(res, hips=(res.hips[0], left))
    rgb, texts = ov._render(rad, res, 2048)
    assert "hip found, not graded" in texts
    panel = " ".join(texts)  # the panel wraps its lines at spaces
    assert "L: not graded: a spur or bridge was seen, but the femur is not segmented" in panel
    assert panel.index("L: not graded:") < panel.index("L: a caveat of its own")
    # the fragments seen are still drawn
    assert _has_colour(rgb[:ROWS], ov.KIND_RGB[FragmentKind.PELVIC_SPUR]).any()
    # a film with no hip graded gives the reasons once, in its status line
    both = dataclasses.replace(
        res,
        status=Status.UNGRADABLE,
        reason="left hip found, not graded: a spur or bridge was seen",
        hips=(left,),
    )
    _, texts = ov._render(rad, both, 2048)
    panel = " ".join(texts)
    assert "ungradable: left hip found, not graded: a spur or bridge was seen" in panel
    assert "L: not graded:" not in panel


def test_a_caveat_of_both_hips_is_written_once_in_the_panel() -> None:
    """A caveat both hips carry (a head centred by the hip detector, on most native hips of
    real films) took two wrapped paragraphs of the panel, one per hip: it is written once,
    "R, L: ...", and a hip's own caveat stays under its letter."""
    rad = make_radiograph()
    res = make_result(rad)
    shared = "this head was centred by the detector"
    hips = (
        dataclasses.replace(res.hips[0], caveats=(shared,)),
        dataclasses.replace(res.hips[1], caveats=("a caveat of its own", shared)),
    )
    _, texts = ov._render(rad, dataclasses.replace(res, hips=hips), 2048)
    panel = " ".join(texts)  # the panel wraps its lines at spaces
    assert panel.count(shared) == 1
    assert f"R, L: {shared}" in panel
    assert "L: a caveat of its own" in panel


def test_no_borderline_mark_when_not_borderline() -> None:
    rad = make_radiograph()
    _, texts = ov._render(rad, make_result(rad, borderline=False), 2048)
    assert not any(t.startswith("borderline") for t in texts)


def test_fragments_outlined_and_tinted_by_kind() -> None:
    rad = make_radiograph()
    rgb = ov.render_overlay(rad, make_result(rad))
    image = rgb[:ROWS]
    # outline of the island (rows 270..289, cols 690..709) in its colour on its edge
    island = _has_colour(image, ov.KIND_RGB[FragmentKind.ISLAND])
    assert _near(island, 690, 280, r=1)
    assert _near(island, 709, 280, r=1)
    # its inside is tinted towards blue but keeps the anatomy visible (not a solid fill)
    r, _g, b = (int(v) for v in image[280, 700])
    assert b > r
    assert 0 < r < 255
    assert not island[280, 700]
    # the spur outline in the pelvic-spur colour
    assert _has_colour(image, ov.KIND_RGB[FragmentKind.PELVIC_SPUR]).any()


def test_class_iv_outlines_the_bridge_and_says_apparent_ankylosis() -> None:
    rad = make_radiograph()
    res = make_result(rad, grade=BrookerGrade.ANKYLOSIS, bridge=True)
    rgb, texts = ov._render(rad, res, 2048)
    assert "apparent ankylosis" in texts
    assert "Brooker IV" in texts
    assert _has_colour(rgb[:ROWS], ov.KIND_RGB[FragmentKind.BRIDGE]).any()
    assert "0 mm (bridged)" in texts


def test_side_letters_on_their_own_halves() -> None:
    """The patient's left is on the image's right here: the L block must be on that half."""
    rad = make_radiograph()
    res = make_result(rad)
    only_left = GradingResult(**{**_fields(res), "hips": (res.hips[1],)})
    only_right = GradingResult(**{**_fields(res), "hips": (res.hips[0],)})
    base = ov.render_overlay(rad, GradingResult(**{**_fields(res), "hips": ()}))[:ROWS]
    for result, half in ((only_left, slice(COLS // 2, COLS)), (only_right, slice(0, COLS // 2))):
        img = ov.render_overlay(rad, result)[:ROWS]
        changed = np.any(img != base, axis=2)
        # the label block (dark box with text) lives on that half only
        other = slice(0, COLS // 2) if half.start else slice(COLS // 2, COLS)
        frag_free = changed.copy()
        frag_free[230:340, 560:720] = False  # fragments and gap of the left hip
        assert frag_free[:, half].sum() > 200
        assert frag_free[:, other].sum() == 0


def _fields(res: GradingResult) -> dict[str, object]:
    return {name: getattr(res, name) for name in res.__dataclass_fields__}


def test_render_is_pure() -> None:
    rad = make_radiograph()
    before = rad.pixels.copy()
    res = make_result(rad)
    masks = [f.mask.copy() for h in res.hips for f in h.fragments]
    a = ov.render_overlay(rad, res)
    b = ov.render_overlay(rad, res)
    assert np.array_equal(a, b)
    assert np.array_equal(rad.pixels, before)
    after = [f.mask for h in res.hips for f in h.fragments]
    assert all(np.array_equal(m, f) for m, f in zip(masks, after, strict=True))
    assert a.dtype == np.uint8
    assert a.ndim == 3
    assert a.shape[2] == 3


# --------------------------------------------------------------------------------------------
# display


def test_percentile_window_keeps_bone_white() -> None:
    """``display=None``: pixels are bone bright (MONOCHROME1 already inverted by the loader)."""
    rad = make_radiograph(display=None)
    rgb = ov.render_overlay(rad, make_result(rad))
    assert rgb[100, 100].min() > 220  # pelvis: bone, white
    assert rgb[300, 50].max() < 60  # soft tissue beside the femur: dark
    assert rgb[500, 200].min() > 220  # femoral shaft: white


def test_display_mapping_from_the_file_is_used() -> None:
    flat = DisplayMapping(
        input_values=np.array([0.0, 2000.0]),
        output_fraction=np.array([0.5, 0.5]),
        source="voi_window",
    )
    rad = make_radiograph(display=flat)
    rgb = ov.render_overlay(rad, make_result(rad))
    assert tuple(rgb[100, 100]) == (128, 128, 128)
    assert tuple(rgb[300, 50]) == (128, 128, 128)


@pytest.mark.parametrize("display", [False, True])
def test_nan_pixels_render_black_with_or_without_the_files_window(display: bool) -> None:
    """Pixels that are NaN (a float array given to the API) are drawn black through the
    file's VOI mapping as through the percentile window, not cast from NaN to a grey."""
    window = DisplayMapping(
        input_values=np.array([0.0, 1000.0]),
        output_fraction=np.array([0.0, 1.0]),
        source="voi_window",
    )
    rad = make_radiograph(display=window if display else None)
    px = rad.pixels.copy()
    px[100:120, 100:300] = np.nan  # in the pelvis: bone, white around it
    rad = dataclasses.replace(rad, pixels=px)
    rgb = ov.render_overlay(rad, make_result(rad))  # filterwarnings=error: no invalid cast
    assert rgb[110, 200].max() == 0
    assert rgb[90, 200].min() > 220


def test_large_image_downscaled_to_about_2048_with_readable_text() -> None:
    rows, cols = 3600, 4800
    rad = make_radiograph(rows, cols, spacing_mm=0.1)
    res = GradingResult(
        file="x",
        status=Status.OK,
        version="1",
        hips=(
            HipResult(
                PatientSide.RIGHT,
                ImageSide.LEFT,
                BrookerGrade.SPURS_WIDE_GAP,
                (2000.0, 1200.0),
                False,
                gap=GapMeasurement(12.0, (1700.0, 1200.0), (1820.0, 1200.0)),
            ),
        ),
        spacing=rad.spacing,
    )
    rgb, texts = ov._render(rad, res, 2048)
    out_h = round(rows * 2048 / cols)
    assert rgb.shape[1] == 2048
    assert rgb.shape[0] > out_h  # plus the legend panel
    assert {"R", "Brooker II", "12.0 mm", "10 mm"} <= set(texts)
    # text is big enough to read: the side letter's white pixels span many rows
    white = _has_colour(rgb[:out_h], ov.TEXT_RGB)
    rows_with_text = np.flatnonzero(white[:, :1024].any(axis=1))
    assert rows_with_text.size > 0
    assert rows_with_text.max() - rows_with_text.min() >= 30
    # the gap end points still land on the gap colour
    s = 2048 / cols
    gap = _has_colour(rgb, ov.GAP_RGB)
    for r, c in ((1700.0, 1200.0), (1820.0, 1200.0)):
        assert _near(gap, (c + 0.5) * s - 0.5, (r + 0.5) * s - 0.5)


def test_small_images_are_not_enlarged() -> None:
    rad = make_radiograph()
    assert ov.render_overlay(rad, make_result(rad), max_side_px=4096).shape[1] == COLS


# --------------------------------------------------------------------------------------------
# crops


def test_hip_crops_at_full_resolution_hold_the_gap_and_fragments() -> None:
    rad = make_radiograph()
    res = make_result(rad)
    crops = dict(ov.render_hip_crops(rad, res, half_size_mm=20.0))
    assert set(crops) == {"right", "left"}
    left = crops["left"]
    # 20 mm / 0.2 mm = 100 px around the centre (330, 520): rows 230..431, cols 420..621,
    # widened by 8 mm (40 px) around the fragments: the island (cols 690..710) -> col 750,
    # the spur (row 240) -> row 200. Small, so drawn at x2.
    r0, c0, height, width = 200, 420, 431 - 200, 750 - 420
    assert left.shape[1] == 2 * width
    assert left.shape[0] > 2 * height  # plus the legend panel
    gap = _has_colour(left, ov.GAP_RGB)
    for r, c in (PELVIC_PT, FEMORAL_PT):
        x, y = (c - c0 + 0.5) * 2 - 0.5, (r - r0 + 0.5) * 2 - 0.5
        assert _near(gap, x, y, r=1)
    island = _has_colour(left[: 2 * height], ov.KIND_RGB[FragmentKind.ISLAND])
    assert _near(island, (690 - c0) * 2, (280 - r0) * 2, r=1)
    # the 10 mm bar is 50 px at 1:1, 100 px at x2
    panel = left[2 * height :]
    assert abs(_longest_run(_has_colour(panel, ov.SCALE_BAR_RGB)) - 100) <= 1


def test_hip_crops_unmarked_show_the_film_beside_the_annotations(tmp_path: Path) -> None:
    """A bridge's tint and outline cover the bone that makes it one, and a radiologist could
    not check a class IV from the crop (a test of 2026-12-08). With ``unmarked`` (as
    ``--overlay-crops`` writes them) each crop has the same view beside it with nothing drawn
    on it but its caption: the film as the annotated crop shows it under its drawings."""
    rad = make_radiograph()
    res = make_result(rad)
    marked = dict(ov.render_hip_crops(rad, res, half_size_mm=20.0))
    both = dict(ov.render_hip_crops(rad, res, half_size_mm=20.0, unmarked=True))
    for side, crop in marked.items():
        w = crop.shape[1]
        twin = both[side]
        assert twin.shape[1] > 2 * w
        h = next(r for r in range(twin.shape[0]) if (twin[r, w:] == ov.PANEL_RGB).all())
        assert (twin[:h, :w] == crop[:h]).all()  # the annotated crop as it was
        left, right = twin[:h, :w].astype(int), twin[:h, -w:].astype(int)
        body = np.ones((h, w), dtype=bool)
        body[:60, :200] = False  # the caption
        grey = (right[..., 0] == right[..., 1]) & (right[..., 1] == right[..., 2])
        assert grey[body].all()  # nothing coloured drawn on it
        for colour in (*ov.KIND_RGB.values(), ov.GAP_RGB):
            assert not _has_colour(twin[:h, -w:], colour).any()
        same = (left == right).all(axis=2)
        assert same[body].mean() > 0.8  # the film itself, where nothing covers it
        assert not same[body].all()  # ... and only there
    view = ov._View(0, 0, 10, 10, 100, 100)
    assert ov.UNMARKED_CAPTION in ov._render_view(rad, res, view, [], 15, unmarked=True)[1]
    from PIL import Image

    written = ov.write_overlays(tmp_path, "film", rad, res, crops=True)
    crop = np.asarray(Image.open(written.with_name("film-left.png")))
    assert crop.shape[1] > 2 * dict(ov.render_hip_crops(rad, res))["left"].shape[1]


def test_large_crops_stay_one_to_one() -> None:
    rad = make_radiograph(spacing_mm=0.05)
    res = make_result(rad)
    crops = dict(ov.render_hip_crops(rad, res, half_size_mm=20.0))
    # 400 px either side, clipped to the image: rows 0..600, cols 120..800 -> 680 px wide
    assert crops["left"].shape[1] == 680


# --------------------------------------------------------------------------------------------
# names and files


def test_names_do_not_collide_across_folders(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "IM0001", tmp_path / "b" / "IM0001"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(b"x")
    na, nb = ov.overlay_name_for(a), ov.overlay_name_for(b)
    assert na != nb
    assert na.startswith("IM0001-")
    assert nb.startswith("IM0001-")
    assert ov.overlay_name_for(a) == na  # deterministic
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert ov.overlay_name_for(Path("a") / "IM0001") == na  # relative == absolute
    finally:
        os.chdir(cwd)


def test_names_that_shared_32_bits_of_hash_do_not_collide() -> None:
    """Two paths whose SHA-1s begin with the same 8 hex digits (found by trying 60,000 patient
    folders): the overlay names once collided there, so one film's overlay replaced the
    other's and both records pointed at it."""
    a = ov.overlay_name_for("/data/archive/p0046125/IM0001")
    b = ov.overlay_name_for("/data/archive/p0058258/IM0001")
    assert a.split("-")[1][:8] == b.split("-")[1][:8] == "dd08fcbc"
    assert a != b
    assert len(a.split("-")[1]) == 16


def test_name_is_safe_as_a_file_name() -> None:
    name = ov.overlay_name_for("/data/we ird/../x/p?1*<>.dcm")
    assert all(ch.isalnum() or ch in "._-" for ch in name)
    assert ov.overlay_name_for("/data/.dcm") != ""


def test_write_png_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    rgb = np.zeros((10, 12, 3), dtype=np.uint8)
    out = ov.write_png(tmp_path / "a.png", rgb)
    assert out == tmp_path / "a.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    ov.write_png(tmp_path / "a.png", rgb + 1)  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    # an ordinary file under the process's umask, not mkstemp's private 0600
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == 0o644 & ~umask


def test_write_png_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ov.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        ov.write_png(tmp_path / "a.png", np.zeros((4, 4, 3), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_write_png_failure_names_the_overlay_not_its_temporary_file(tmp_path: Path) -> None:
    """A folder where the overlay goes: the error (and the record's message) names the overlay,
    not the temporary file, which is gone by then."""
    (tmp_path / "a.png").mkdir()
    with pytest.raises(IsADirectoryError) as exc:
        ov.write_png(tmp_path / "a.png", np.zeros((4, 4, 3), dtype=np.uint8))
    assert exc.value.filename == str(tmp_path / "a.png")
    assert ".tmp" not in str(exc.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_write_png_rejects_non_rgb(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        ov.write_png(tmp_path / "a.png", np.zeros((4, 4), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_write_overlays_writes_main_and_crops(tmp_path: Path) -> None:
    rad = make_radiograph()
    res = make_result(rad)
    out = ov.write_overlays(tmp_path / "new" / "dir", "IM0001-deadbeef", rad, res, crops=True)
    assert out == tmp_path / "new" / "dir" / "IM0001-deadbeef.png"
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == ["IM0001-deadbeef-left.png", "IM0001-deadbeef-right.png", "IM0001-deadbeef.png"]
    for name in names:
        data = (out.parent / name).read_bytes()
        assert set(_png_chunk_types(data)) == {b"IHDR", b"IDAT", b"IEND"}


def test_write_overlays_drops_the_crop_of_a_hip_no_longer_found(tmp_path: Path) -> None:
    """Drawn again with one hip (the file edited since), the other hip's old crop goes; files
    of other names stay."""
    rad = make_radiograph()
    res = make_result(rad)
    ov.write_overlays(tmp_path, "IM0001-deadbeef", rad, res, crops=True)
    (tmp_path / "IM0002-cafe-left.png").write_bytes(b"another film's")
    one = dataclasses.replace(res, hips=res.hips[:1])
    ov.write_overlays(tmp_path, "IM0001-deadbeef", rad, one, crops=True)
    side = res.hips[0].patient_side.value
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["IM0001-deadbeef.png", f"IM0001-deadbeef-{side}.png", "IM0002-cafe-left.png"]
    )


def test_a_file_that_now_fails_loses_its_old_overlay(tmp_path: Path) -> None:
    """A film drawn by an earlier run, then replaced by a file that cannot be read: its error
    record has no overlay, and no earlier picture of it stays to contradict the record. With
    --no-overlay nothing in the folder is touched."""
    from brooker.phantom_dicom import DicomVariant, write_dicom
    from brooker.pipeline import grade_path

    film = tmp_path / "IM0001"
    rng = np.random.default_rng(0)
    write_dicom(rng.integers(0, 4096, (300, 300)).astype(np.uint16), film,
                DicomVariant(pixel_spacing_mm=(0.5, 0.5)))  # fmt: skip
    out = tmp_path / "out"
    first = grade_path(film, out_dir=out, overlay_crops=True)
    assert first.overlay is not None  # ungradable (no hip), drawn all the same
    drawn = Path(first.overlay)
    assert drawn.is_file()
    film.write_bytes(b"not a radiograph any more")
    kept = grade_path(film, out_dir=out, overlay=False)
    assert kept.status.value == "error"
    assert drawn.is_file()  # --no-overlay: the folder is left as it is
    again = grade_path(film, out_dir=out)
    assert again.status.value == "error"
    assert again.overlay is None
    assert list(out.iterdir()) == []


def test_an_overlay_that_cannot_be_written_whole_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up after the overview is written, at a hip's crop: the film gets an
    ``error`` record (``disk_full``), and no overview of it stays to contradict the record."""
    import errno

    from brooker import batch
    from brooker.pipeline import grade_path

    film = Path(__file__).parent.parent / "sample_images" / "pelvis_0_vs_3.dcm"
    real = ov.write_png

    def full_at_crops(path: str | os.PathLike[str], rgb: npt.NDArray[np.uint8]) -> Path:
        if Path(path).stem.endswith(("-left", "-right")):
            raise OSError(errno.ENOSPC, "No space left on device", os.fspath(path))
        return real(path, rgb)

    monkeypatch.setattr(ov, "write_png", full_at_crops)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space"):
        grade_path(film, out_dir=out, overlay_crops=True)
    assert list(out.glob("*.png")) == []
    record = batch.grade_one(str(film), None, out_dir=str(out), overlay_crops=True)
    assert record.status.value == "error"
    assert record.error is not None
    assert record.error.code == "disk_full"
    assert record.overlay is None
    assert list(out.glob("*.png")) == []


def test_an_error_touches_crops_only_when_crops_are_drawn(tmp_path: Path) -> None:
    """With names given by the caller, ``scan-left`` may be another file's overlay: an error
    of ``scan`` without --overlay-crops leaves it; a symlink loop (no name can be made for
    it) is an error record, not an exception."""
    from brooker.pipeline import grade_path

    out = tmp_path / "out"
    out.mkdir()
    from PIL import Image

    Image.new("RGB", (4, 4)).save(out / "scan-left.png")  # another file's overlay
    Image.new("RGB", (4, 4)).save(out / "scan.png")  # this file's old overlay
    bad = tmp_path / "bad"
    bad.write_bytes(b"not a radiograph")
    assert grade_path(bad, out_dir=out, overlay_name="scan").status.value == "error"
    assert sorted(p.name for p in out.iterdir()) == ["scan-left.png"]
    loop_a, loop_b = tmp_path / "x", tmp_path / "y"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    res = grade_path(loop_a, out_dir=out)
    assert res.status.value == "error"
    assert sorted(p.name for p in out.iterdir()) == ["scan-left.png"]


# --------------------------------------------------------------------------------------------
# nothing identifying


def _write_identified_dicom(path: Path) -> tuple[str, ...]:
    """A DX with fake identifiers; returns the identifying strings it carries."""
    pixels = make_radiograph().pixels.astype(np.uint16)
    try:
        from brooker.phantom_dicom import FAKE_IDENTIFIERS, DicomVariant, write_dicom
    except ImportError:
        return _write_identified_dicom_pydicom(path, pixels)
    variant = DicomVariant(
        pixel_spacing_mm=(SPACING_MM, SPACING_MM), calibration_type="GEOMETRY", window=(550, 1100)
    )
    write_dicom(pixels, path, variant, sop_instance_uid=SOP_UID)
    return (*SECRETS, *(str(v) for v in FAKE_IDENTIFIERS.values()))


def _write_identified_dicom_pydicom(path: Path, pixels: npt.NDArray[np.uint16]) -> tuple[str, ...]:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = SOP_UID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = SOP_UID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "DOE^JANE^SECRET"
    ds.PatientID = "ID-SECRET-0001"
    ds.PatientBirthDate = "19700101"
    ds.Modality = "DX"
    ds.PatientOrientation = ["L", "F"]
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.SamplesPerPixel = 1
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelSpacing = [SPACING_MM, SPACING_MM]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.WindowCenter, ds.WindowWidth = 550, 1100
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return SECRETS


def _load(path: Path) -> Radiograph:
    """The real loader once it exists; the hand-built radiograph before that."""
    try:
        from brooker.dicom_io import load_radiograph
    except ImportError:
        return make_radiograph()
    return load_radiograph(path)


def test_loaded_radiograph_renders_like_the_hand_built_one(tmp_path: Path) -> None:
    """Through the real writer and loader: bone white, spacing and sides as written."""
    src = tmp_path / "IM0001"
    _write_identified_dicom(src)
    rad = _load(src)
    assert rad.pixels.shape == (ROWS, COLS)
    assert rad.spacing is not None
    assert rad.spacing.col_mm == pytest.approx(SPACING_MM)
    rgb = ov.render_overlay(rad, make_result(rad))
    assert rgb[100, 100].min() > 200  # bone white
    assert rgb[300, 50].max() < 80


def test_no_identifiers_in_the_png(tmp_path: Path) -> None:
    src = tmp_path / "DOE_JANE_SECRET" / "IM0001"
    src.parent.mkdir()
    secrets = _write_identified_dicom(src)
    rad = _load(src)
    res = GradingResult(**{**_fields(make_result(rad)), "file": str(src)})
    _, texts = ov._render(rad, res, 2048)
    crops_texts: list[str] = []
    for hip in res.hips:
        view = ov._View(0, 0, ROWS, COLS, ROWS, COLS)
        crops_texts += ov._render_view(rad, res, view, [hip], 16)[1]
    drawn = " ".join(texts + crops_texts)
    out = ov.write_overlays(tmp_path / "out", ov.overlay_name_for(src), rad, res, crops=True)
    for png in out.parent.iterdir():
        data = png.read_bytes()
        assert set(_png_chunk_types(data)) == {b"IHDR", b"IDAT", b"IEND"}
        for secret in (*secrets, SOP_UID, "IM0001"):
            assert secret.encode() not in data, secret
    for secret in (*secrets, SOP_UID, "IM0001", str(src)):
        assert secret not in drawn, secret


def test_input_file_is_untouched_by_grading(tmp_path: Path) -> None:
    """Through the whole pipeline when it exists, else through the overlay writer."""
    src = tmp_path / "in" / "IM0001"
    src.parent.mkdir()
    _write_identified_dicom(src)
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    try:
        from brooker.pipeline import grade_path
    except ImportError:
        rad = _load(src)
        ov.write_overlays(tmp_path / "out", ov.overlay_name_for(src), rad, make_result(rad))
    else:
        grade_path(src, out_dir=tmp_path / "out", overlay_crops=True)
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in src.parent.iterdir()) == ["IM0001"]


@pytest.mark.shared
@pytest.mark.slow
def test_devset_film_through_the_pipeline(devset_dir: Path, tmp_path: Path) -> None:
    """A real film: overlay written where the record says, input untouched, gap drawn."""
    pipeline = pytest.importorskip("brooker.pipeline")
    from brooker.dicom_io import load_radiograph

    src = tmp_path / "a" / "IM0001"
    src.parent.mkdir()
    src.write_bytes((devset_dir / "case_0000.dcm").read_bytes())  # class III, one pelvic spur
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    res = pipeline.grade_path(src, out_dir=tmp_path / "out", overlay_crops=True)
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert res.status is Status.OK, res
    assert res.overlay is not None
    out = Path(res.overlay)
    assert out.name == ov.overlay_name_for(src) + ".png"
    data = out.read_bytes()
    assert set(_png_chunk_types(data)) == {b"IHDR", b"IDAT", b"IEND"}
    assert b"SECRET" not in data
    rad = load_radiograph(src)
    rgb = ov.render_overlay(rad, res)
    s = rgb.shape[1] / rad.pixels.shape[1]
    gap_hit = _has_colour(rgb, ov.GAP_RGB)
    for hip in res.hips:
        if hip.gap is None or hip.gap.gap_mm == 0:
            continue
        for r, c in (hip.gap.pelvic_point_px, hip.gap.femoral_point_px):
            assert _near(gap_hit, (c + 0.5) * s - 0.5, (r + 0.5) * s - 0.5), hip


def test_overlay_imports_no_cli_libraries() -> None:
    code = (
        "import sys, brooker.overlay; "
        "bad = [m for m in ('typer', 'rich') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (37, 53), (256, 300), (700, 501)])
def test_encode_png_round_trips_through_pillow(shape: tuple[int, int]) -> None:
    from io import BytesIO

    from PIL import Image

    rng = np.random.default_rng(sum(shape))
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    rgb[::3] = 255  # rows whose Up difference wraps below 0 and above 255
    rgb[1::3] = 0
    data = ov.encode_png(rgb)
    img = Image.open(BytesIO(data))
    assert img.mode == "RGB"
    assert img.size == (shape[1], shape[0])
    np.testing.assert_array_equal(np.asarray(img), rgb)
    assert _png_chunk_types(data) == [b"IHDR", b"IDAT", b"IEND"]


@pytest.mark.parametrize("extra", [-1, 0, 1, 12_345])
def test_deflate_in_two_halves_is_one_zlib_stream(extra: int) -> None:
    """From DEFLATE_SPLIT_BYTES on, the halves are deflated at once and joined: one valid zlib
    stream (header, the halves, the whole data's Adler-32) that any inflater reads back whole,
    and no larger than one deflate by more than a few hundred bytes; shorter data is what
    zlib.compress makes."""
    import zlib

    rng = np.random.default_rng(extra + 2)
    data = rng.integers(0, 6, ov.DEFLATE_SPLIT_BYTES + extra, dtype=np.uint8).tobytes()
    packed = ov.deflate(data, 1)
    assert zlib.decompress(packed) == data
    whole = zlib.compress(data, 1)
    assert packed[:2] == whole[:2]
    if len(data) < ov.DEFLATE_SPLIT_BYTES:
        assert packed == whole
    else:
        assert len(packed) <= len(whole) + 1024
        inflater = zlib.decompressobj()  # the stream ends where it says: nothing after it
        assert inflater.decompress(packed) == data
        assert inflater.eof
        assert inflater.unused_data == b""


def test_encode_png_reads_views_not_just_contiguous_arrays() -> None:
    from io import BytesIO

    from PIL import Image

    rgb = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)[::2, 5:, :]
    np.testing.assert_array_equal(np.asarray(Image.open(BytesIO(ov.encode_png(rgb)))), rgb)


def test_encode_png_rejects_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        ov.encode_png(np.zeros((0, 4, 3), dtype=np.uint8))


def test_gap_label_of_a_class_III_hip_is_never_10_mm() -> None:
    # the class is decided on the unrounded gap; 9.96 mm is class III and must not read "10.0"
    assert ov._fmt_gap(9.96) == "9.9 mm"
    assert ov._fmt_gap(10.0) == "10.0 mm"
    assert ov._fmt_gap(6.44) == "6.4 mm"


# --------------------------------------------------------------------------------------------
# a film with no hip: the detector's best windows


def _no_hip_result(rad: Radiograph, centres: tuple[tuple[float, float], ...]) -> GradingResult:
    return GradingResult(
        file="x",
        status=Status.UNGRADABLE,
        version="1",
        reason="no hip joint found",
        spacing=rad.spacing,
        hip_candidates=tuple(HipCandidate(c, -1.6, lateral_left=False) for c in centres),
    )


def _black_film(rows: int, cols: int, row_mm: float, col_mm: float) -> Radiograph:
    return Radiograph(
        pixels=np.zeros((rows, cols), dtype=np.float32),
        spacing=PixelSpacing(row_mm, col_mm, SpacingSource.PIXEL_SPACING),
        patient_right_on=ImageSide.LEFT,
        laterality_source="assumed",
        meta=_meta(rows, cols),
    )


def test_candidate_window_is_128_mm_along_both_axes_on_anisotropic_pixels() -> None:
    """The detector's window is 128 x 128 mm at the patient. Pixels twice as tall as wide are
    drawn twice as tall (the film is not squashed): the window is square on the overlay."""
    rows, cols = 800, 800
    rad = _black_film(rows, cols, row_mm=0.4, col_mm=0.2)
    full = ov.render_overlay(rad, _no_hip_result(rad, ((400.0, 400.0),)))
    assert full.shape[1] == cols
    rgb = full[: 2 * rows].astype(int)  # the film, 1600 px tall: 320 mm at 0.2 mm a pixel
    # the window's outline: the candidate colour at alpha 160 over black
    outline = (rgb[:, :, 0] > 120) & (rgb[:, :, 1] < 100)
    ys, xs = np.nonzero(outline)
    height, width = ys.max() - ys.min(), xs.max() - xs.min()
    assert abs(width - 128 / 0.2) <= 4
    assert abs(height - 128 / 0.2) <= 4


def test_an_anisotropic_film_is_drawn_at_its_shape_at_the_patient() -> None:
    """A 300 x 300 mm square drawn with pixels 0.3 mm tall and 0.15 mm wide (1000 x 2000
    stored) is drawn square, and its crops too; isotropic films keep their stored shape."""
    rad = _black_film(1000, 2000, row_mm=0.3, col_mm=0.15)
    rad.pixels[400:600, 900:1100] = 1000.0  # 60 x 30 mm stored: a 60 mm tall, 30 mm wide bar
    hip = HipResult(
        patient_side=PatientSide.LEFT, image_side=ImageSide.RIGHT, grade=BrookerGrade.NONE,
        center_px=(500.0, 1000.0), prosthesis=False,
    )
    result = GradingResult(
        file=rad.meta.path, status=Status.OK, version="9.8.7", hips=(hip,),
        spacing=rad.spacing, image_shape_px=(1000, 2000),
    )
    full = ov.render_overlay(rad, result, max_side_px=1000)
    assert full.shape[1] == 1000
    film = full[:1000]
    bright = film[:, :, 0] > 200
    ys, xs = np.nonzero(bright[:, 400:600])  # the bar, away from the panel's text
    assert abs((ys.max() - ys.min() + 1) - 200) <= 2  # 60 mm at 0.3 mm per output pixel
    assert abs((xs.max() - xs.min() + 1) - 100) <= 2  # 30 mm
    ((_, crop),) = ov.render_hip_crops(rad, result, half_size_mm=45.0)
    bar = crop[:, :, 0] > 200
    ys, xs = np.nonzero(bar[: bar.shape[0] // 2 + 150])
    assert abs((ys.max() - ys.min() + 1) / (xs.max() - xs.min() + 1) - 2.0) < 0.1
    iso = _black_film(600, 800, row_mm=0.2, col_mm=0.2)
    assert ov.render_overlay(iso, _no_hip_result(iso, ()))[:600].shape[:2] == (600, 800)


def test_only_the_best_candidate_is_drawn_as_a_window() -> None:
    """Three 128 mm windows drawn alike, two run off a knee film's edge and overlapping, read
    as one tall box (a radiologist's test of 2026-12-07): the best guess is the window, the
    others a cross at their centre with their score; the findings' legend is left out."""
    rad = _black_film(800, 800, 0.2, 0.2)
    res = GradingResult(
        file="x", status=Status.UNGRADABLE, version="1", reason="no hip joint found",
        spacing=rad.spacing,
        hip_candidates=(HipCandidate((600.0, 600.0), -4.0, lateral_left=False),
                        HipCandidate((200.0, 200.0), -1.6, lateral_left=False)),
    )  # fmt: skip
    rgb, texts = ov._render(rad, res, 2048)
    assert {"hip? score -1.6", "hip? score -4.0"} <= set(texts)
    film = rgb[:800].astype(int)
    drawn = (film[:, :, 0] > 120) & (film[:, :, 1] < 110)  # lines, not the labels' glyphs
    arm = round(ov.CANDIDATE_CROSS_MM / 0.2) + 3
    assert drawn[600, 600 - arm + 4 : 600 + arm - 4].mean() > 0.9  # the cross's arms
    assert drawn[600 - arm + 4 : 600 + arm - 4, 600].mean() > 0.9
    around = drawn[530:, 530:].copy()  # nothing else there but its label, right of it
    around[600 - 530 - arm : 600 - 530 + arm, :] = False
    around[:, 600 - 530 - arm : 600 - 530 + arm] = False
    assert not around[:, : 600 - 530].any()
    assert not around[600 - 530 + arm :, :].any()
    _, xs = np.nonzero(drawn[:530, :530])  # the best guess's window: 640 px a side
    assert xs.max() - xs.min() > 400
    assert not any(label in texts for label in ("island", "pelvic spur", "gap"))


def test_candidate_score_is_on_the_image_when_its_window_runs_off_it() -> None:
    """A window centred near the film's edge reaches past it; its score is still shown."""
    rad = _black_film(ROWS, COLS, SPACING_MM, SPACING_MM)
    rgb, texts = ov._render(rad, _no_hip_result(rad, ((300.0, 20.0),)), 2048)
    assert "hip? score -1.6" in texts
    # the label's glyphs (the window's outline is drawn at alpha 160 over black, darker)
    glyphs = rgb[:ROWS, :, 0] > 200
    assert glyphs.sum() > 50


def _one_hip_on_black(**hip: Any) -> tuple[Radiograph, GradingResult]:
    """An 800 x 800 black film of 0.2 mm pixels with one hip (class 0, the image's right)
    centred at (400, 400), and ``hip``'s other fields."""
    rows = cols = 800
    rad = _black_film(rows, cols, row_mm=0.2, col_mm=0.2)
    one = HipResult(
        patient_side=PatientSide.LEFT,
        image_side=ImageSide.RIGHT,
        grade=BrookerGrade.NONE,
        center_px=(400.0, 400.0),
        prosthesis=False,
        **hip,
    )
    result = GradingResult(
        file=rad.meta.path, status=Status.OK, version="9.8.7", hips=(one,),
        spacing=rad.spacing, image_shape_px=(rows, cols),
    )  # fmt: skip
    return rad, result


def _joint_colour(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Where the film (above the panel) shows the joint's colour (white) at alpha 170 or more
    over black."""
    film = rgb[:800].astype(int)
    hit: npt.NDArray[np.bool_] = np.all(film >= 150, axis=2) & (np.ptp(film, axis=2) <= 10)
    return hit


def test_the_region_searched_starts_where_the_joint_exclusion_ends() -> None:
    """The joint itself (out to the exclusion radius, wider than the head) is never searched:
    the outline's inner edge is drawn there, not on the head outline."""
    rad, result = _one_hip_on_black(head_radius_mm=10.0, search_region=(20.0, 60.0, -20.0, 170.0))
    joint = _joint_colour(ov.render_overlay(rad, result))
    # straight up from the centre (0 deg): the head at 10 mm, the band's inner edge at 20 mm
    # and its outer edge at 60 mm; nothing between the head and the inner edge
    for r_mm, drawn in ((10.0, True), (15.0, False), (20.0, True), (40.0, False), (60.0, True)):
        assert _near(joint, 400.0, 400.0 - r_mm / 0.2) is drawn, r_mm
    # laterally (90 deg; the image's right for a hip on the image's right): the same band
    for r_mm, drawn in ((15.0, False), (20.0, True), (60.0, True)):
        assert _near(joint, 400.0 + r_mm / 0.2, 400.0) is drawn, r_mm


@pytest.mark.parametrize("uncertainty_mm", [0.0, 2.0])
def test_a_head_whose_outline_was_not_found_is_drawn_dashed(uncertainty_mm: float) -> None:
    """A hip placed at the detector's centre (``center_uncertainty_mm`` > 0) is drawn with a
    typical head, dashed, and the legend says what the dashes mean; a head fitted by its
    outline is drawn whole, with no such entry."""
    rad, result = _one_hip_on_black(head_radius_mm=23.5, center_uncertainty_mm=uncertainty_mm)
    full, texts = ov._render(rad, result, 2048)
    joint = _joint_colour(full)
    # the circle sampled every degree, 23.5 mm (117.5 px) from the centre
    t = np.radians(np.arange(360))
    on = [_near(joint, 400.0 + 117.5 * np.cos(a), 400.0 + 117.5 * np.sin(a), r=1) for a in t]
    dashed = uncertainty_mm > 0
    assert (sum(on) < 0.7 * 360) is dashed
    assert sum(on) > 0.4 * 360  # drawn either way
    assert (ov.TYPICAL_HEAD_LABEL in texts) is dashed


@pytest.mark.parametrize("body", ["pelvis", "femur"])
def test_the_bodies_edges_are_drawn_dotted_under_the_fragments(body: str) -> None:
    """The pelvis and femur bodies' edges (``body_outlines``) are drawn in their colour along
    the whole edge, the pelvis's dotted and the femur's dashed, each with its legend entry; a
    fragment over them keeps its own outline."""
    edge = BodyOutline(body, ((500.0, 300.0), (500.0, 600.0)))  # a row, 300 px long
    # a spur over the edge, 40 px across it
    spur = Fragment(FragmentKind.FEMORAL_SPUR, 64.0, (500.0, 450.0), (480, 430, 520, 470),
                    np.ones((40, 40), bool))  # fmt: skip
    rad, result = _one_hip_on_black(body_outlines=(edge,), fragments=(spur,))
    full, texts = ov._render(rad, result, 2048)
    hit = _has_colour(full[:800], ov.BODY_RGB_OF[body])
    # the other body's colour is nowhere: the two are told apart by colour too
    other = "femur" if body == "pelvis" else "pelvis"
    assert not _has_colour(full[:800], ov.BODY_RGB_OF[other]).any()
    # under the spur: its tint and outline over the dots, no dot in its own colour
    assert not hit[478:522, 428:472].any()
    assert _has_colour(full[:800], ov.KIND_RGB[FragmentKind.FEMORAL_SPUR]).any()
    along = [_near(hit, x, 500.0, r=2) for x in [*range(300, 421, 10), *range(480, 591, 10)]]
    assert all(along)
    # broken: along the row, stretches of the colour and of what is not; a dash is longer
    # than a dot is wide
    row = hit[499:502].any(axis=0)[300:600]
    assert 0.2 < row.mean() < 0.9
    longest = _longest_run(row[None, :])
    assert (longest >= 6) if body == "femur" else (longest <= 4)
    assert not hit[:480].any()
    assert not hit[520:].any()
    label, other = (ov.FEMUR_LABEL, ov.PELVIS_LABEL)[:: 1 if body == "femur" else -1]
    assert label in texts
    assert other not in texts  # no edge of the other body drawn, none in the legend
    # a hip without them: no entry
    _, plain = ov._render(*_one_hip_on_black(), 2048)
    assert label not in plain


def test_the_bodies_colour_is_apart_from_the_findings_and_the_joint() -> None:
    """Each body's edge colour is apart from every finding's and the joint's, and the pelvis's
    from the femur's (two radiologists could not tell them by dots and dashes alone)."""
    findings = [*ov.KIND_RGB.values(), ov.GAP_RGB, ov.CANDIDATE_RGB, ov.CALIBRATION_RGB]
    for colour in ov.BODY_RGB_OF.values():
        assert min(_distance(colour, c) for c in [*findings, ov.JOINT_RGB]) >= 100.0
    assert _distance(ov.BODY_RGB_OF["pelvis"], ov.BODY_RGB_OF["femur"]) >= 100.0


def test_a_crop_holds_the_region_searched_to_its_reach() -> None:
    """A class 0 hip has no fragment to widen its crop; the crop still reaches 100 mm into the
    region searched (up, lateral, down), where a missed spur or bridge would be, and keeps
    ``half_size_mm`` on the medial side, which is not searched that far."""
    rad = _black_film(1200, 1200, row_mm=0.2, col_mm=0.2)
    # the image's left half: lateral is to the left (smaller columns)
    hip = HipResult(
        patient_side=PatientSide.RIGHT, image_side=ImageSide.LEFT, grade=BrookerGrade.NONE,
        center_px=(600.0, 600.0), prosthesis=False,
        search_region=(30.0, 100.0, -20.0, 170.0),
    )
    result = GradingResult(
        file=rad.meta.path, status=Status.OK, version="9.8.7", hips=(hip,),
        spacing=rad.spacing, image_shape_px=(1200, 1200),
    )
    ((_, crop),) = ov.render_hip_crops(rad, result, half_size_mm=40.0)
    # columns: 100 mm lateral (500 px) to 40 mm medial (200 px); rows: 100 mm up, and down to
    # 100 mm * cos(10 deg) below the centre (the sector ends 10 degrees short of straight down)
    width = (600 + 200 + 1) - (600 - 500)
    assert crop.shape[1] == width
    height = round(600 + 100 / 0.2 * np.cos(np.radians(10.0)) + 1) - (600 - 500)
    assert crop.shape[0] > height  # plus the legend panel
    ((_, bare),) = ov.render_hip_crops(rad, result, half_size_mm=40.0, reach_mm=0.0)
    assert bare.shape[1] == 2 * 401  # 40 mm either side only (small: drawn at x2)
    unsearched = dataclasses.replace(hip, search_region=None)
    result_unsearched = dataclasses.replace(result, hips=(unsearched,))
    ((_, plain),) = ov.render_hip_crops(rad, result_unsearched, half_size_mm=40.0)
    assert plain.shape[1] == 2 * 401
    with pytest.raises(ValueError, match="reach_mm"):
        ov.render_hip_crops(rad, result, reach_mm=-1.0)


def test_the_panel_below_a_tall_narrow_film_keeps_a_readable_width() -> None:
    """Below a 2000 x 150 px film the panel took the film's 150 px: the legend's labels were
    cut at its edge ("pelvic sp") and its text wrapped a word to a line ("spacing:",
    "pixel_spacing", "0.200 x 0.200", ...). The panel is now at least PANEL_MIN_WIDTH_EM font
    sizes wide, the film drawn as it is at the left of its band."""
    rows, cols = 2000, 150
    rad = _black_film(rows, cols, SPACING_MM, SPACING_MM)
    rad.pixels[:, 40:110] = 1000.0  # a bright strip, to see the film is drawn unchanged
    res = _no_hip_result(rad, ((1000.0, 75.0),))
    rgb, texts = ov._render(rad, res, 2048)
    font_px = ov._font_px_for(rows)
    width = ov.PANEL_MIN_WIDTH_EM * font_px
    assert rgb.shape[1] == width > cols
    assert (  # wrapped onto lines of the panel's width
        "spacing: 0.200 x 0.200 mm from (0028,0030) Pixel Spacing, calibrated · sides: assumed "
        "from the AP convention · brooker 1"
    ) in " ".join(texts)
    assert "ungradable: no hip joint found" in texts
    panel = rgb[rows:]
    assert panel.shape[0] < 12 * font_px  # a few lines, not a word to a line
    # nothing is cut at the right edge: the last columns are the panel's colour only
    assert np.all(panel[:, -3:] == np.asarray(ov.PANEL_RGB, np.uint8))
    # the film at the left as drawn alone, the rest of its band the panel's colour
    assert np.all(rgb[:rows, cols:] == np.asarray(ov.PANEL_RGB, np.uint8))
    assert (rgb[:rows, 50:100, 0] > 200).mean() > 0.9
    # the crops of such a film keep a readable panel too
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (1000.0, 75.0), False)
    one = dataclasses.replace(res, status=Status.OK, hips=(hip,), hip_candidates=())
    ((_, crop),) = ov.render_hip_crops(rad, one)
    assert crop.shape[1] > 2 * cols
    assert np.all(crop[-20:, -3:] == np.asarray(ov.PANEL_RGB, np.uint8))


def _distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return float(np.linalg.norm(np.subtract(a, b, dtype=float)))


def test_the_joint_is_drawn_apart_from_every_finding_colour() -> None:
    """The head, its centre and the region searched are the tool's geometry, not a finding: a
    reader must not take the region's outline for an island's (both were light blue)."""
    findings = [*ov.KIND_RGB.values(), ov.GAP_RGB, ov.CANDIDATE_RGB, ov.CALIBRATION_RGB]
    assert min(_distance(ov.JOINT_RGB, c) for c in findings) >= 100.0


def test_the_joint_and_the_region_searched_show_on_bright_bone() -> None:
    """On a film white all over (bright bone), the head's outline and the region's outline are
    still seen: each is drawn over a dark halo."""
    rad, result = _one_hip_on_black(
        head_radius_mm=23.5, search_region=(30.0, 60.0, -20.0, 170.0)
    )
    pixels = np.full_like(rad.pixels, 1000.0)
    pixels[740:] = 0.0  # soft tissue below, so that the display window shows bone white
    rad = dataclasses.replace(rad, pixels=pixels)
    full, texts = ov._render(rad, result, 2048)
    film = full[:800].astype(int)
    assert film[:700].mean() > 200  # the film is white where the lines are drawn
    dark = film.max(axis=2) < 128
    for r_px in (117.5, 300.0):  # the head (23.5 mm) and the region's outer edge (60 mm)
        t = np.radians(np.arange(-15, 165, 5))  # where the region is drawn: up, lateral
        # 0 deg up, 90 deg lateral (the image's right for this hip)
        on = [_near(dark, 400.0 + r_px * np.sin(a), 400.0 - r_px * np.cos(a), r=2) for a in t]
        assert sum(on) >= 0.9 * len(on), r_px
    assert ov.HIP_LABEL in texts
    assert ov.REGION_LABEL in texts


def test_the_overlay_does_not_tell_its_reader_to_check_the_overlay() -> None:
    """Records and the terminal end caveats with "(check the overlay)" to send a reader to the
    image; on the image itself the words are dropped, the caveat kept."""
    rad = make_radiograph()
    res = make_result(rad)
    left = dataclasses.replace(
        res.hips[1],
        caveats=(
            "the femur is not segmented as bone (check the overlay)",
            "such joins are often normal anatomy or soft tissue; check the overlay)",
        ),
    )
    res = dataclasses.replace(res, hips=(res.hips[0], left))
    _, texts = ov._render(rad, res, 2048)
    panel = " ".join(texts)
    assert "check the overlay" not in panel
    assert "the femur is not segmented as bone" in panel
    assert "soft tissue)" in panel


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 30), st.just(2)), elements=st.floats(-50, 50)),
    st.floats(0.0, 5.0),
)
def test_outlines_simplified_as_scikit_image_did(points: Any, tolerance: float) -> None:
    """The overlay simplifies fragment outlines itself: scikit-image's approximate_polygon
    lives in a module that imports scipy.signal and scipy.stats, 0.6 s at the start of each
    worker. The vertices kept are the same, ties included (random chains, and below, the
    outlines of random masks as the overlay traces them)."""
    from skimage.measure import approximate_polygon

    kept = ov.simplified_polyline(points, tolerance)
    assert np.array_equal(kept, approximate_polygon(points, tolerance))


def test_fragment_outlines_simplified_as_scikit_image_did() -> None:
    from skimage.measure import approximate_polygon, find_contours

    rng = np.random.default_rng(7)
    n = 0
    for _ in range(60):
        mask = np.pad((rng.random((24, 24)) > 0.55).astype(np.float32), 1)
        for contour in find_contours(mask, 0.5):
            for tol in (0.3, 0.4, 1.0):
                a, b = ov.simplified_polyline(contour, tol), approximate_polygon(contour, tol)
                assert np.array_equal(a, b)
                n += int(len(b) < len(contour))
    assert n > 100  # the outlines were simplified, not passed through


def test_the_overlay_does_not_import_scipy_signal_or_stats() -> None:
    code = (
        "import json, sys\n"
        "import brooker.overlay\n"
        "print(json.dumps([m for m in ('scipy.signal', 'scipy.stats') if m in sys.modules]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_borderline_label_shows_the_uncertainty_the_review_page_shows() -> None:
    """The overlay's "borderline ±u mm" rounds the record's value (2 decimals) as the review
    page does, so the two never disagree: an exact 0.449 is 0.45 in the record and 0.5 on both
    (rounding 0.449 straight to one decimal would show 0.4 on the overlay only)."""
    from brooker import report

    rad = make_radiograph()
    res = make_result(rad, borderline=True)
    left = res.hips[1]
    assert left.gap is not None
    hip = dataclasses.replace(
        left, gap=dataclasses.replace(left.gap, uncertainty_mm=0.449), borderline=True
    )
    _, texts = ov._render(rad, dataclasses.replace(res, hips=(res.hips[0], hip)), 2048)
    rec = hip.to_record()
    assert rec["gap_uncertainty_mm"] == 0.45
    assert "± 0.5 mm" in report._hip_html(rec)
    assert "borderline ±0.5 mm" in texts


def _label_film(marker: bool, body_from: int = 150) -> npt.NDArray[np.float32]:
    """A film as shown: air (dark) at the edges, the body in the middle from column
    ``body_from``, and, with ``marker``, a lead "R" marker (a bright block with a hole) in
    the top-left corner."""
    gray = np.full((ROWS, COLS), 0.08, np.float32)
    gray[120:560, body_from:650] = 0.6
    if body_from < 150:  # the body's straight edge runs across the corner, top to bottom
        gray[:, body_from:650] = 0.6
    if marker:
        gray[14:54, 14:44] = 0.95
        gray[24:44, 24:34] = 0.08
    return gray


def test_a_straight_edge_across_the_corner_does_not_move_a_hips_label() -> None:
    """A skin line or a collimator's edge runs one way: no marker, the corner is kept (a
    review found the label moved over the body above the hip for one such edge)."""
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (340.0, 250.0), False)
    canvas = ov._Canvas(_label_film(False, body_from=90), 16)
    ov._draw_hip_label(canvas, hip, ov._View(0, 0, ROWS, COLS, ROWS, COLS))
    assert canvas.occupied[10:20, 10:20].all()


@pytest.mark.parametrize("marker", [False, True])
def test_a_hips_label_leaves_the_films_own_side_marker_visible(marker: bool) -> None:
    """The right hip's label went into the film's top-left corner whatever lay there: on a
    real film it hid the lead "R" marker a reader checks the side by (audit of 2026-12-07).
    It goes to the next place along the edges instead; with nothing there, to the corner."""
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (340.0, 250.0), False)
    gray = _label_film(marker)
    canvas = ov._Canvas(gray, 16)
    ov._draw_hip_label(canvas, hip, ov._View(0, 0, ROWS, COLS, ROWS, COLS))
    rgb = canvas.array()
    corner = rgb[14:54, 14:44]
    if marker:  # the marker as it was: no box, no text over it
        shown = (gray[14:54, 14:44] * 255 + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(corner[:, :, 0], shown)
        assert canvas.texts  # and the label is drawn elsewhere, on the hip's half
        assert canvas.occupied[:, : COLS // 2].any()
        assert not canvas.occupied[:, COLS // 2 :].any()
    else:  # the corner, as before
        assert canvas.occupied[10:20, 10:20].all()


def test_a_marker_on_the_air_beside_bright_bone_is_not_hidden() -> None:
    """The right hip's label lay over a real film's "R" marker: the marker sat on the air at
    the film's edge, but most of the label's box lay over the bright ilium, and a box over
    the body was taken to hide nothing (its median grey decided). Edges on the dark count
    wherever the box lies (a radiologist's test of 2026-12-07)."""
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (340.0, 250.0), False)
    gray = _label_film(True, body_from=48)
    canvas = ov._Canvas(gray, 16)
    ov._draw_hip_label(canvas, hip, ov._View(0, 0, ROWS, COLS, ROWS, COLS))
    corner = canvas.array()[14:54, 14:44]
    shown = (gray[14:54, 14:44] * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(corner[:, :, 0], shown)
    assert canvas.texts


def test_a_hips_label_says_its_class_range_about_nearby_centres() -> None:
    """A hip graded 0 here and IV 2 mm away was labelled a plain "Brooker 0": the range was in
    the panel's caveats only (overlay audit of 2026-12-07)."""
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (340.0, 250.0), False,
                    class_range=(BrookerGrade.NONE, BrookerGrade.ANKYLOSIS),
                    center_uncertainty_mm=2.0)  # fmt: skip
    lines = ov._hip_lines(hip)
    assert lines[0][0] == "Brooker 0"
    assert ("0 to IV if centre moved 2 mm", ov.BORDERLINE_RGB) in lines
    plain = dataclasses.replace(hip, class_range=None)
    assert not any("centre moved" in t for t, _ in ov._hip_lines(plain))
    # a III graded about 1 of the 5 centres (not graded about the others) showed as a plain
    # III, with no amber (a radiologist's test of 2026-12-07)
    partly = dataclasses.replace(plain, grade=BrookerGrade.SPURS_NARROW_GAP, centres_graded=(1, 5))
    assert ("graded at 1 of 5 centres 2 mm apart", ov.BORDERLINE_RGB) in ov._hip_lines(partly)


@pytest.mark.parametrize("assumed", [False, True])
def test_a_hips_label_says_when_its_side_is_assumed(assumed: bool) -> None:
    """A film with no tag for its sides (the AP convention assumed) was labelled "L" as
    surely as one whose orientation tag said so; only the panel said "sides: assumed"
    (overlay audit of 2026-12-07): a wrong side is a patient-safety error."""
    hip = HipResult(PatientSide.LEFT, ImageSide.RIGHT, BrookerGrade.NONE, (340.0, 550.0), False)
    canvas = ov._Canvas(_label_film(False), 16)
    ov._draw_hip_label(canvas, hip, ov._View(0, 0, ROWS, COLS, ROWS, COLS), side_assumed=assumed)
    # "L?" in amber: no line more (on a small film each line grew the label over the hip)
    assert ("L?" in canvas.texts) is assumed
    assert ("L" in canvas.texts) is not assumed


def test_two_hips_of_a_single_hip_view_have_their_sides_assumed() -> None:
    """(0020,0062) Image Laterality names the one hip of a hip view; two hips found on such a
    film have their halves from the AP convention, and the labels say so (a review)."""
    rad, _ = _one_hip_on_black(head_radius_mm=23.5, center_uncertainty_mm=0.0)
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (100.0, 200.0), False)
    other = dataclasses.replace(hip, patient_side=PatientSide.LEFT, image_side=ImageSide.RIGHT,
                                center_px=(100.0, 600.0))  # fmt: skip
    for hips, source, said in [
        ((hip,), "image_laterality", False),
        ((hip, other), "image_laterality", True),
        ((hip, other), "view_position", True),  # how the beam went, not how the image lies
        ((hip, other), "patient_orientation", False),
    ]:
        res = GradingResult("x.dcm", Status.OK, "0", hips=hips, laterality_source=source)
        _, texts = ov._render(rad, res, 1024)
        assert ("R?" in texts) is said


def test_a_hips_label_names_what_the_film_did_not_show() -> None:
    hip = HipResult(PatientSide.LEFT, ImageSide.RIGHT, BrookerGrade.ISLANDS, (340.0, 550.0),
                    False, limited_by=("femur not segmented to the trochanter",))  # fmt: skip
    assert ("limited analysis (see caveats)", ov.BORDERLINE_RGB) in ov._hip_lines(hip)
    two = dataclasses.replace(hip, limited_by=(*hip.limited_by, "femoral head not segmented"))
    assert len(ov._hip_lines(two)) == len(ov._hip_lines(hip))  # one line, however many


def test_a_full_label_on_a_small_film_keeps_off_the_head(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a film 512 pixels wide a label of every flag grew over the hip it names (a review
    found a 7-line label within 13 px of the head's centre): the head is taken before the
    labels are placed, and the flags take few lines."""
    rows, cols = 420, 512
    gray = np.full((rows, cols), 0.08, np.float32)
    gray[60:400, 40:470] = 0.6
    spacing = PixelSpacing(0.8, 0.8, SpacingSource.PIXEL_SPACING)
    view = ov._View(0, 0, rows, cols, rows, cols)
    gap = GapMeasurement(9.7, (120.0, 60.0), (132.0, 60.0), 0.5)
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.SPURS_NARROW_GAP,
                    (110.0, 120.0), True, gap=gap, borderline=True, weak_call=True,
                    head_radius_mm=24.0, class_range=(BrookerGrade.SPURS_NARROW_GAP,
                    BrookerGrade.ANKYLOSIS), limited_by=("femur not segmented to the "
                    "trochanter", "femoral head not segmented"))  # fmt: skip
    boxes: list[tuple[float, float, float, float]] = []
    write = ov._write_hip_label
    monkeypatch.setattr(
        ov, "_write_hip_label", lambda c, box, *a, **k: (boxes.append(box), write(c, box, *a, **k))
    )
    canvas = ov._Canvas(gray, 14)
    ov._draw_joint(canvas, hip, view, spacing)
    ov._draw_hip_label(canvas, hip, view, side_assumed=True)
    ((x, y, w, h),) = boxes
    r = 24.0 / 0.8  # the head's radius in pixels, about its centre (row 110, column 120)
    assert x + w <= 120 - r or x >= 120 + r or y + h <= 110 - r or y >= 110 + r, (x, y, w, h)
    assert x + w <= cols / 2  # on its own half


def test_a_refused_films_overlay_removal_touches_only_drawn_pictures(tmp_path: Path) -> None:
    """A film that now fails removes its earlier pictures, and only pictures this tool draws
    (a regular 8-bit RGB PNG): a note, a greyscale film or a link kept under the overlay's
    name was deleted too (a user's test of 2026-12-07; README: "never any other file kept
    there")."""
    from PIL import Image

    from brooker.pipeline import grade_path

    bad = tmp_path / "bad.dcm"
    bad.write_text("not a film")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.png").write_text("my notes")  # named like the overlay, not a picture
    Image.new("L", (4, 4)).save(out / "notes-right.png")  # a greyscale PNG: a film, say
    Image.new("RGB", (4, 4)).save(out / "notes-left.png")  # a drawn hip crop: removed
    target = tmp_path / "kept.png"
    Image.new("RGB", (4, 4)).save(target)
    res = grade_path(bad, out_dir=out, overlay_name="notes", overlay_crops=True)
    assert res.error is not None
    assert (out / "notes.png").read_text() == "my notes"
    assert (out / "notes-right.png").exists()
    assert not (out / "notes-left.png").exists()
    # a link under the overlay's name is left, and so is what it points to
    (out / "notes-left.png").symlink_to(target)
    grade_path(bad, out_dir=out, overlay_name="notes", overlay_crops=True)
    assert (out / "notes-left.png").is_symlink()
    assert target.exists()


def _gap_hip(gap_mm: float) -> tuple[Radiograph, GradingResult]:
    """A class III (or II) hip on a black film of 0.2 mm pixels, its gap ``gap_mm`` long
    along a row, from (300, 560)."""
    end = (300.0, 560.0 + gap_mm / 0.2)
    grade = BrookerGrade.SPURS_NARROW_GAP if gap_mm < 10 else BrookerGrade.SPURS_WIDE_GAP
    rad, res = _one_hip_on_black(gap=GapMeasurement(gap_mm, (300.0, 560.0), end))
    hip = dataclasses.replace(res.hips[0], grade=grade)
    return rad, dataclasses.replace(res, hips=(hip,))


def test_a_short_gap_gets_a_loupe_in_its_hip_crop() -> None:
    """A 1 mm gap is five stored pixels: on the crop its line hid under the spur's outline and
    its ends could not be checked (a radiologist's test of 2026-12-07). The crop holds a
    loupe, framed in the gap's colour, away from the gap; a 12 mm gap needs none."""
    rad, res = _gap_hip(1.0)
    ((_, crop),) = ov.render_hip_crops(rad, res)
    rad, wide = _gap_hip(12.0)
    ((_, plain),) = ov.render_hip_crops(rad, wide)
    framed = _has_colour(crop, ov.GAP_RGB).sum()
    assert framed > 4 * 200  # the frame's four sides, each some 200 px or more
    assert _has_colour(plain, ov.GAP_RGB).sum() < framed / 4
    # the loupe's frame: a long straight run of the gap's colour, not at the gap
    assert _longest_run(_has_colour(crop, ov.GAP_RGB)) > 150


def test_a_loupe_blanks_the_burned_in_text_the_crop_blanks() -> None:
    """The loupe drew its field from the film's pixels again, so a line of burned-in text (a
    name, an ID) that the crop blanked came back in it, enlarged (a review of 2026-12-07)."""
    from brooker.burned_text import TextLine

    line = [TextLine((320, 540, 330, 600), 10, 6)]
    plain, res = _gap_hip(1.0)
    ((_, without),) = ov.render_hip_crops(plain, res, text_lines=line)
    rad, res = _gap_hip(1.0)
    rad.pixels[320:330, 540:600] = 1000.0  # text 4 mm below the gap, in the loupe's field
    ((_, crop),) = ov.render_hip_crops(rad, res, text_lines=line)
    np.testing.assert_array_equal(crop, without)  # blanked on the crop and in the loupe
    ((_, shown),) = ov.render_hip_crops(rad, res)  # its text not found: shown
    assert not np.array_equal(shown, without)


def test_a_loupe_keeps_the_fields_shape_on_anisotropic_pixels() -> None:
    """Whole output pixels per stored pixel on each axis stretched the loupe (20 px a mm down,
    24 across, on 0.1 x 0.25 mm pixels) where the crop is square per mm (a review)."""
    rad = _black_film(800, 400, row_mm=0.1, col_mm=0.25)
    hip = HipResult(
        PatientSide.LEFT, ImageSide.RIGHT, BrookerGrade.SPURS_NARROW_GAP, (400.0, 200.0), False,
        gap=GapMeasurement(1.0, (300.0, 230.0), (300.0, 234.0)),
    )  # fmt: skip
    res = GradingResult(
        file=rad.meta.path, status=Status.OK, version="1", hips=(hip,), spacing=rad.spacing,
        image_shape_px=(800, 400),
    )  # fmt: skip
    ((_, crop),) = ov.render_hip_crops(rad, res)
    frame = _has_colour(crop, ov.GAP_RGB)
    rows = np.flatnonzero(frame.sum(axis=1) > 100)  # the frame's top and bottom sides
    cols = np.flatnonzero(frame.sum(axis=0) > 100)  # its left and right sides
    tall, wide = rows.max() - rows.min(), cols.max() - cols.min()
    assert abs(tall - wide) <= 4  # a 12 mm square field drawn square


def _wrap_word_by_word(text: str, size: int, width: int) -> list[str]:
    """The panel's wrapping as it was: each word tried in turn (the reference)."""
    lines: list[str] = []
    cur = ""
    for w in text.split():
        trial = f"{cur} {w}".strip()
        if cur and ov._text_size(trial, size)[0] > width:
            lines.append(cur)
            cur = w
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines or [""]


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(["a", "the", "femur", "(its", "25", "mm", "W", "iiii", "M" * 30, "±2"]),
        max_size=40,
    ),
    size=st.sampled_from([10, 14, 22]),
    width=st.integers(1, 900),
)
def test_the_panels_wrapping_by_bisection_breaks_where_word_by_word_did(
    words: list[str], size: int, width: int
) -> None:
    """The panel's lines are found by bisection over each line's words (a fifth of an
    overlay's time went to measuring every trial line): the same lines as trying each word."""
    text = " ".join(words)
    assert ov._wrap(text, size, width) == _wrap_word_by_word(text, size, width)
