"""The phantom generator: determinism, truth gaps, laterality, DICOM round trips, negatives.

Small fields and 0.25 mm pixels keep this fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from brooker import phantom as ph
from brooker.phantom import HipSpec, PhantomSpec, render
from brooker.phantom import specs as ph_specs
from brooker.units import BROOKER_GAP_THRESHOLD_MM

FAST = {"spacing_mm": 0.25, "field_mm": (300.0, 380.0)}


@pytest.fixture(scope="module")
def base() -> ph.Phantom:
    spec = PhantomSpec(seed=7, right=HipSpec(3, 6.0, spurs="pelvic"),
                       left=HipSpec(2, 12.0, prosthesis=True, spurs="both"), **FAST)
    return render(spec)


def test_deterministic_by_seed(base: ph.Phantom) -> None:
    again = render(base.spec)
    np.testing.assert_array_equal(again.pixels, base.pixels)
    assert again.truth["hips"] == base.truth["hips"]


def test_other_seed_differs(base: ph.Phantom) -> None:
    other = render(PhantomSpec(seed=8, right=base.spec.right, left=base.spec.left, **FAST))
    assert other.pixels.shape != base.pixels.shape or not np.array_equal(other.pixels, base.pixels)


def test_pixels_are_bone_bright_uint16(base: ph.Phantom) -> None:
    assert base.pixels.dtype == np.uint16
    assert int(base.pixels.max()) <= (1 << base.spec.bits_stored) - 1
    assert base.spacing == (0.25, 0.25)


def test_truth_gap_hits_target(base: ph.Phantom) -> None:
    by = {h["side"]: h for h in base.truth["hips"]}
    assert by["right"]["grade"] == 3
    assert by["right"]["gap_mm"] == pytest.approx(6.0, abs=0.1)
    assert by["left"]["grade"] == 2
    assert by["left"]["gap_mm"] == pytest.approx(12.0, abs=0.1)
    assert by["left"]["prosthesis"] is True
    assert {f["kind"] for f in by["left"]["fragments"]} >= {"pelvic_spur", "femoral_spur"}


@pytest.mark.parametrize(
    ("grade", "gap", "spurs"),
    [(2, 10.3, "femoral"), (3, 9.7, "pelvic"), (3, 1.5, "both")],
)
def test_gaps_near_threshold(grade: int, gap: float, spurs: str) -> None:
    spec = PhantomSpec(seed=31, right=HipSpec(grade, gap, spurs=spurs), left=HipSpec(0), **FAST)
    p = render(spec)
    h = next(h for h in p.truth["hips"] if h["side"] == "right")
    assert h["gap_mm"] == pytest.approx(gap, abs=0.1)
    assert h["grade"] == grade
    assert h["spurs"] == spurs


@pytest.mark.slow
def test_gap_is_edge_to_edge_on_the_shapes() -> None:
    """Re-measure the truth gap on a much finer raster of the same analytic shapes."""
    spec = PhantomSpec(seed=12, right=HipSpec(3, 4.0, spurs="pelvic"), left=HipSpec(0), **FAST)
    fine = render(spec, truth_res_mm=0.03)
    coarse = render(spec)
    g_f = fine.truth["hips"][0]["gap_mm"]
    g_c = coarse.truth["hips"][0]["gap_mm"]
    assert g_f == pytest.approx(g_c, abs=0.08)


@pytest.mark.slow
def test_class_gap_consistency_over_random_specs() -> None:
    for seed in range(3):
        spec = ph.random_spec(seed, grades=(4, (seed + 1) % 4))
        spec = PhantomSpec(**{**spec.__dict__, "spacing_mm": 0.25, "field_mm": (300.0, 380.0),
                              "hip_view": None})
        for h in render(spec).truth["hips"]:
            g, gap = h["grade"], h["gap_mm"]
            if g in (0, 1):
                assert gap is None
            elif g == 2:
                assert gap >= BROOKER_GAP_THRESHOLD_MM
            elif g == 3:
                assert 0 < gap < BROOKER_GAP_THRESHOLD_MM
            else:
                assert gap == 0.0


def test_flipped_mirrors_pixels_and_halves(base: ph.Phantom) -> None:
    f = render(PhantomSpec(**{**base.spec.__dict__, "flipped": True}))
    np.testing.assert_array_equal(f.pixels, base.pixels[:, ::-1])
    cols = base.pixels.shape[1]
    for a, b in zip(base.truth["hips"], f.truth["hips"], strict=True):
        assert a["side"] == b["side"]
        assert a["image_half"] != b["image_half"]
        assert b["center_px"][1] == pytest.approx(cols - 1 - a["center_px"][1], abs=0.11)
    halves = {h["side"]: h["image_half"] for h in base.truth["hips"]}
    assert halves == {"right": "left", "left": "right"}


def test_write_monochrome1_round_trip(tmp_path: Path, base: ph.Phantom) -> None:
    pydicom = pytest.importorskip("pydicom")
    spec = PhantomSpec(**{**base.spec.__dict__, "monochrome1": True, "transfer_syntax": "rle",
                          "flipped": True})
    p = render(spec)
    out = ph.write(p, tmp_path / "m1.dcm", truth_json=True)
    ds = pydicom.dcmread(out)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    assert list(ds.PatientOrientation) == ["R", "F"]
    stored = ds.pixel_array.astype(np.int64)
    np.testing.assert_array_equal((1 << spec.bits_stored) - 1 - stored, p.pixels)
    assert json.loads((tmp_path / "m1.dcm.json").read_text())["flipped"] is True
    try:
        from brooker.dicom_io import load_radiograph
    except ImportError:  # pragma: no cover - loader not there yet
        return
    r = load_radiograph(out)
    a = r.pixels.astype(np.float64)
    corr = np.corrcoef(a.ravel()[::97], p.pixels.astype(np.float64).ravel()[::97])[0, 1]
    assert corr > 0.999  # bone bright again
    assert r.spacing is not None
    assert r.spacing.row_mm == pytest.approx(0.25)


@pytest.mark.parametrize(
    "tags", ["calibrated", "imager_magnification", "imager_only", "pixel_only", "none"]
)
def test_spacing_tags(tmp_path: Path, tags: str) -> None:
    pydicom = pytest.importorskip("pydicom")
    spec = PhantomSpec(seed=3, body="knee", spacing_mm=0.25, spacing_tags=tags, magnification=1.2)
    out = ph.write(render(spec), tmp_path / "k.dcm")
    ds = pydicom.dcmread(out)
    has_ps = "PixelSpacing" in ds
    has_ips = "ImagerPixelSpacing" in ds
    assert has_ps == (tags in ("calibrated", "pixel_only"))
    assert has_ips == (tags in ("calibrated", "imager_magnification", "imager_only"))
    if has_ips:
        assert float(ds.ImagerPixelSpacing[0]) == pytest.approx(0.25 * 1.2)


@pytest.fixture(scope="module")
def plain_negative() -> ph.Phantom:
    return render(PhantomSpec(seed=5, right=HipSpec(0, prosthesis=True), left=HipSpec(0), **FAST))


@pytest.mark.parametrize(
    "flag",
    ["staples", "marker", "calibration_ball", "cerclage", "collimation", "burned_text",
     "phleboliths", "screws"],
)
def test_hard_negatives_render(flag: str, plain_negative: ph.Phantom) -> None:
    spec = PhantomSpec(seed=5, right=HipSpec(0, prosthesis=True), left=HipSpec(0), **FAST,
                       **{flag: True})
    a, b = render(spec), plain_negative
    assert a.pixels.shape == b.pixels.shape
    assert not np.array_equal(a.pixels, b.pixels)
    assert [h["grade"] for h in a.truth["hips"]] == [h["grade"] for h in b.truth["hips"]]


def test_black_collimation_and_items_in_truth() -> None:
    spec = PhantomSpec(seed=6, collimation=True, collimation_style="black", calibration_ball=True,
                       marker=True, **FAST)
    p = render(spec)
    assert p.truth["collimation"] is True
    assert int(p.pixels[0, 0]) == 0
    kinds = {i["kind"] for i in p.truth["items"]}
    assert kinds == {"calibration_ball", "marker"}


@pytest.mark.parametrize("body", ["knee", "chest"])
def test_non_pelvis_negative_has_no_hips(body: str) -> None:
    p = render(PhantomSpec(seed=1, body=body, spacing_mm=0.3))
    assert p.truth["hips"] == []
    assert p.pixels.std() > 0


def test_hip_view_has_one_hip() -> None:
    p = render(PhantomSpec(seed=9, right=HipSpec(4), left=HipSpec(0), hip_view="right",
                           spacing_mm=0.25))
    sides = [h["side"] for h in p.truth["hips"]]
    assert "right" in sides
    right = next(h for h in p.truth["hips"] if h["side"] == "right")
    assert right["grade"] == 4
    r, c = right["center_px"]
    assert 0 <= r < p.pixels.shape[0]
    assert 0 <= c < p.pixels.shape[1]


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="grade 3"):
        HipSpec(3, 10.0)
    with pytest.raises(ValueError, match="grade 2"):
        HipSpec(2, 9.99)
    HipSpec(2, 10.0)  # exactly 10 mm is class II
    with pytest.raises(ValueError, match="spacing_mm out of range"):
        PhantomSpec(seed=0, spacing_mm=0.0)


def test_make_dataset_matches_devset_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # tiny and fast: override the random specs' spacing through a monkeypatched random_spec
    # (in brooker.phantom.specs, where make_dataset's dataset_spec looks it up)
    orig = ph.random_spec

    def small(
        seed: int, *, wide: bool = True, grades: tuple[int, int] | None = None
    ) -> PhantomSpec:
        s = orig(seed, wide=wide, grades=grades)
        return PhantomSpec(**{**s.__dict__, "spacing_mm": 0.3, "field_mm": (280.0, 360.0),
                              "transfer_syntax": "explicit_le"})

    monkeypatch.setattr(ph_specs, "random_spec", small)
    truth_path = ph.make_dataset(tmp_path, 2, seed=1)
    truth = json.loads(truth_path.read_text())
    assert sorted(truth) == ["case_0000.dcm", "case_0001.dcm"]
    for name, t in truth.items():
        assert (tmp_path / name).is_file()
        for key in ("seed", "spacing_mm", "rows", "cols", "monochrome1", "flipped",
                    "transfer_syntax", "hips"):
            assert key in t
        for h in t["hips"]:
            assert {"side", "image_half", "grade", "gap_mm", "prosthesis", "spurs"} <= set(h)


def test_samples_manifest_is_consistent() -> None:
    root = Path(__file__).resolve().parents[1] / "sample_images"
    man = root / "manifest.json"
    if not man.is_file():
        pytest.skip("sample_images not generated")
    data = json.loads(man.read_text())
    grades = {h["grade"] for t in data.values() for h in t["hips"]}
    assert grades == {0, 1, 2, 3, 4}
    assert any(t["flipped"] for t in data.values())
    assert any(t["monochrome1"] for t in data.values())
    for name in data:
        assert (root / name).stat().st_size <= 3_000_000
