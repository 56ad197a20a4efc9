"""The learned per-pixel judge of heterotopic bone (brooker.ho_pixels) and its gate on fragments.

Known answers on the project's own synthetic films: the features are mirror-symmetric (a hip
whose lateral side is to the right is described as its mirror image), the judged region is the
periarticular sector outside the head, the shipped network loads and gives probabilities, a
fragment the judge rejects is not graded as heterotopic bone, and turning the judge off gives
the segmentation's own fragments back. Figures on real and hybrid films are pinned by
tests/test_scoreboard.py; the cross-validated pixel figures are printed by
benchmarks/train_ho_pixels.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from brooker import ho_pixels as hp
from brooker import phantom as ph
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.fragments import classify_fragments
from brooker.localization import analyse_scene, find_hips
from brooker.models import HipJoint, ImageSide, PatientSide, Radiograph
from brooker.padding import inside_border
from brooker.segmentation import HipMasks, segment_hip
from brooker.units import WEAK_CALL_PROBABILITY, rounded_on_its_side

CFG = AnalysisConfig()


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Radiograph:
    spec = replace(ph.random_spec(2003), spacing_mm=0.5)
    p = ph.render(spec)
    path = ph.write(p, tmp_path_factory.mktemp("ho") / "s2003.dcm")
    return load_radiograph(path, pixel_spacing=p.spacing)


def _masks(rad: Radiograph) -> list[HipMasks]:
    scene = analyse_scene(rad, CFG)
    return [segment_hip(rad, h, CFG, scene) for h in find_hips(rad, CFG, scene).hips]


def test_bundled_network_loads_and_gives_probabilities(film: Radiograph) -> None:
    net = hp.bundled_net()
    assert net is not None
    assert net.w1.shape[0] == hp.N_FEATURES
    masks = _masks(film)[0]
    prob = hp.ho_probability(masks, CFG.sector_deg, CFG.sector_radius_mm)
    assert prob is not None
    assert prob.shape == masks.image.shape
    assert float(prob.min()) >= 0.0
    assert float(prob.max()) <= 1.0


def test_region_is_the_sector_outside_the_head(film: Radiograph) -> None:
    masks = _masks(film)[0]
    grid = hp.pixel_grid(masks, CFG.sector_deg, CFG.sector_radius_mm)
    assert grid.features.shape == (hp.N_FEATURES, *grid.region.shape)
    # features 16-18 of the position block: u/R, v/R, dist/R (after the image features)
    first_pos = hp.N_FEATURES - 5 - len(hp.CONTEXT_MM)
    u, v, d = (grid.features[first_pos + k] for k in range(3))
    radius = hp.anatomy_radius_mm(masks.hip)
    assert np.all(d[grid.region] * radius > masks.hip.head_radius_mm)  # outside the head
    assert np.all(d[grid.region] * radius <= CFG.sector_radius_mm + 1e-3)
    # nothing medial-inferior (the sector runs from -20 to 170 degrees from "up" via lateral)
    assert not np.any(grid.region & (u < -0.5) & (v < -0.5))


@pytest.mark.parametrize(
    ("prosthesis", "head_mm", "expected_mm"),
    [(False, 21.0, 21.0), (False, 26.0, 26.0), (True, 14.0, 23.0), (True, 25.0, 25.0)],
)
def test_anatomy_radius(prosthesis: bool, head_mm: float, expected_mm: float) -> None:
    """A native head is its own measure; a prosthetic ball smaller than a native head (46 mm
    across) is read as one, a hemiarthroplasty's native-sized head as itself."""
    hip = HipJoint(
        patient_side=PatientSide.RIGHT,
        image_side=ImageSide.LEFT,
        center_px=(100.0, 100.0),
        head_radius_mm=head_mm,
        prosthesis=prosthesis,
    )
    assert hp.anatomy_radius_mm(hip) == expected_mm


def test_positions_around_a_small_prosthetic_ball_are_in_native_radii(film: Radiograph) -> None:
    """The same ROI read as a native hip of a 46 mm head and as a total hip of a 28 mm ball:
    every feature is the same (the ilium and trochanters are the patient's size), and only
    the ball's own disk is left out of the region."""
    m = _masks(film)[0]
    native = dataclasses.replace(
        m, hip=dataclasses.replace(m.hip, prosthesis=False, head_radius_mm=23.0)
    )
    implant = dataclasses.replace(
        m, hip=dataclasses.replace(m.hip, prosthesis=True, head_radius_mm=14.0)
    )
    g1 = hp.pixel_grid(native, CFG.sector_deg, CFG.sector_radius_mm)
    g2 = hp.pixel_grid(implant, CFG.sector_deg, CFG.sector_radius_mm)
    np.testing.assert_array_equal(g1.features, g2.features)
    assert (g2.region & ~g1.region).any()  # between the ball and a native head's radius
    assert not (g1.region & ~g2.region).any()


def test_fragment_positions_around_a_small_prosthetic_ball_are_in_native_radii(
    film: Radiograph,
) -> None:
    """The fragment judge's inputs, for the same candidates of a hip read as a native hip of a
    46 mm head and as a total hip of a 28 mm ball: all the same (its position included)."""
    from brooker.fragments import body_distance_mm, fragment_features

    for masks in _masks(film):
        masks = dataclasses.replace(masks, ho_prob=np.full(masks.image.shape, 0.25, np.float32))
        frags = classify_fragments(masks, film.spacing, OFF)  # type: ignore[arg-type]
        dist = body_distance_mm(masks.pelvis | masks.femur, masks.spacing_mm)
        native = dataclasses.replace(
            masks, hip=dataclasses.replace(masks.hip, prosthesis=False, head_radius_mm=23.0)
        )
        implant = dataclasses.replace(
            masks, hip=dataclasses.replace(masks.hip, prosthesis=True, head_radius_mm=14.0)
        )
        for f, roi in zip(frags.items, frags.roi_masks, strict=True):
            rows, cols = np.nonzero(roi)
            sl = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
            np.testing.assert_array_equal(
                fragment_features(native, sl, roi[sl], f.kind, dist),
                fragment_features(implant, sl, roi[sl], f.kind, dist),
            )
        if frags.items:
            return
    pytest.skip("no fragment on this film")


def test_features_are_mirror_symmetric(film: Radiograph) -> None:
    """A hip's ROI mirrored left-right, with the hip's lateral side flipped to the other image
    half: every feature is the same, at the mirrored pixel (lateral stays lateral)."""
    for m in _masks(film):
        assert m.norm is not None
        kc = m.block_px[1]
        c0 = m.origin_px[1]
        width_stored = m.image.shape[1] * kc
        row, col = m.hip.center_px
        other_side = ImageSide.RIGHT if m.hip.image_side is ImageSide.LEFT else ImageSide.LEFT
        mirrored = dataclasses.replace(
            m,
            image=np.ascontiguousarray(m.image[:, ::-1]),
            norm=np.ascontiguousarray(m.norm[:, ::-1]),
            hip=dataclasses.replace(
                m.hip, image_side=other_side, center_px=(row, 2 * c0 + width_stored - 1 - col)
            ),
        )
        g1 = hp.pixel_grid(m, CFG.sector_deg, CFG.sector_radius_mm)
        g2 = hp.pixel_grid(mirrored, CFG.sector_deg, CFG.sector_radius_mm)
        assert g1.region.any()
        np.testing.assert_array_equal(g2.region, g1.region[:, ::-1])
        np.testing.assert_allclose(g2.features, g1.features[:, :, ::-1], atol=1e-4)


OFF = replace(CFG, ho_probability_min=0.0, ho_fragment_min=0.0)


def test_a_fragment_the_pixel_judge_rejects_is_not_heterotopic(film: Radiograph) -> None:
    pixels_only = replace(CFG, ho_fragment_min=0.0)
    for masks in _masks(film):
        frags = classify_fragments(masks, film.spacing, OFF)  # type: ignore[arg-type]
        if not frags.items:
            continue
        judged_no = dataclasses.replace(masks, ho_prob=np.zeros(masks.image.shape, np.float32))
        judged_yes = dataclasses.replace(masks, ho_prob=np.ones(masks.image.shape, np.float32))
        assert classify_fragments(judged_no, film.spacing, pixels_only).items == ()  # type: ignore[arg-type]
        same = classify_fragments(judged_yes, film.spacing, pixels_only)  # type: ignore[arg-type]
        assert [f.kind for f in same.items] == [f.kind for f in frags.items]
        return
    pytest.skip("no fragment on this film")


def test_fragment_features_describe_the_fragment(film: Radiograph) -> None:
    from scipy import ndimage as ndi

    from brooker.fragments import (
        BODY_DISTANCE_PITCH_MM,
        FRAGMENT_FEATURES,
        body_distance_mm,
        fragment_features,
    )

    for masks in _masks(film):
        masks = dataclasses.replace(masks, ho_prob=np.full(masks.image.shape, 0.25, np.float32))
        frags = classify_fragments(masks, film.spacing, OFF)  # type: ignore[arg-type]
        bodies = masks.pelvis | masks.femur
        dist = body_distance_mm(bodies, masks.spacing_mm)
        exact = ndi.distance_transform_edt(~bodies, sampling=masks.spacing_mm)
        # blocks of about 1 mm: within a block's diagonal of the exact distance
        assert np.abs(dist - exact).max() <= 1.5 * BODY_DISTANCE_PITCH_MM + max(masks.spacing_mm)
        for f, roi in zip(frags.items, frags.roi_masks, strict=True):
            rows, cols = np.nonzero(roi)
            sl = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
            x = fragment_features(masks, sl, roi[sl], f.kind, dist)
            named = dict(zip(FRAGMENT_FEATURES, x.tolist(), strict=True))
            assert named["p_mean"] == pytest.approx(0.25)
            assert named["p_max"] == pytest.approx(0.25)
            assert named["p_frac_0.8"] == 0.0
            assert np.exp(named["log_area_mm2"]) == pytest.approx(f.area_mm2, rel=1e-5)
            assert named["is_island"] == (f.kind.value == "island")
            assert named["is_pelvic_spur"] == (f.kind.value == "pelvic_spur")
            assert named["is_femoral_spur"] == (f.kind.value == "femoral_spur")
            # the sector is lateral and superior: fragments lie there, beyond the head
            assert named["u_radii"] > -0.5
            radius = hp.anatomy_radius_mm(masks.hip)
            assert np.hypot(named["u_radii"], named["v_radii"]) * radius > masks.hip.head_radius_mm
        if frags.items:
            return
    pytest.skip("no fragment on this film")


def test_fragment_judge_loads_and_drops_a_fragment_the_pixels_deny(film: Radiograph) -> None:
    judge = hp.bundled_judge()
    from brooker.fragments import FRAGMENT_FEATURES

    assert judge.mean.shape == (len(FRAGMENT_FEATURES),)
    assert judge.w1.shape[1] == len(FRAGMENT_FEATURES)
    for masks in _masks(film):
        if not classify_fragments(masks, film.spacing, OFF).items:  # type: ignore[arg-type]
            continue
        # pixels at 0.31 pass the pixel gate (0.3); the fragment judge wants far more
        doubtful = dataclasses.replace(masks, ho_prob=np.full(masks.image.shape, 0.31, np.float32))
        assert classify_fragments(doubtful, film.spacing, CFG).items == ()  # type: ignore[arg-type]
        return
    pytest.skip("no fragment on this film")


def test_a_kept_fragment_carries_the_judges_probability(film: Radiograph) -> None:
    """What the fragment judge gave a fragment it kept is in its record; off, it is None."""
    from brooker.pipeline import judge_pixels

    for masks in _masks(film):
        kept = classify_fragments(judge_pixels(masks, CFG), film.spacing, CFG)  # type: ignore[arg-type]
        if not kept.items:
            continue
        for f in kept.items:
            assert f.judge_probability is not None
            assert CFG.ho_fragment_min <= f.judge_probability <= 1.0
            shown = f.to_record()["judge_probability"]
            # to three decimals, never across the weak call's bound (units.rounded_on_its_side;
            # this said "rounded down", which the earlier weights' probabilities happened to be)
            assert shown == rounded_on_its_side(f.judge_probability, 3, WEAK_CALL_PROBABILITY)
            assert abs(shown - f.judge_probability) <= 0.001
        off = classify_fragments(masks, film.spacing, OFF)  # type: ignore[arg-type]
        assert [f.judge_probability for f in off.items] == [None] * len(off.items)
        return
    pytest.skip("no fragment kept on this film")


def test_judge_off_is_the_segmentation_alone(film: Radiograph) -> None:
    for masks in _masks(film):
        off = OFF
        judged_no = dataclasses.replace(masks, ho_prob=np.zeros(masks.image.shape, np.float32))
        a = classify_fragments(judged_no, film.spacing, off)  # type: ignore[arg-type]
        b = classify_fragments(masks, film.spacing, off)  # type: ignore[arg-type]
        assert [(f.kind, f.area_mm2) for f in a.items] == [(f.kind, f.area_mm2) for f in b.items]


def test_saved_network_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    net = hp.PixelNet(
        mean=rng.normal(size=hp.N_FEATURES).astype(np.float32),
        scale=np.ones(hp.N_FEATURES, np.float32),
        w1=rng.normal(size=(hp.N_FEATURES, 4)).astype(np.float32),
        b1=np.zeros(4, np.float32),
        w2=rng.normal(size=4).astype(np.float32),
        b2=0.5,
    )
    path = tmp_path / "net.npz"
    net.save(str(path))
    with np.load(path) as z:
        assert set(z.files) == {"mean", "scale", "w1", "b1", "w2", "b2"}
    again = hp.PixelNet.from_arrays(hp.load_weights(path))
    x = rng.normal(size=(7, hp.N_FEATURES)).astype(np.float32)
    np.testing.assert_allclose(net.probability(x), again.probability(x), rtol=1e-6)
    judge = hp.FragmentJudge(
        mean=np.zeros(3, np.float32),
        scale=np.ones(3, np.float32),
        w1=rng.normal(size=(2, 3, 4)).astype(np.float32),
        b1=rng.normal(size=(2, 4)).astype(np.float32),
        w2=rng.normal(size=(2, 4)).astype(np.float32),
        b2=np.array([0.25, -0.5], np.float32),
    )
    judge.save(str(tmp_path / "judge.npz"))
    back = hp.FragmentJudge.from_arrays(hp.load_weights(tmp_path / "judge.npz"))
    y = rng.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(judge.probability(y), back.probability(y), rtol=1e-6)
    # the probability is the mean of the networks' probabilities
    each = [
        1 / (1 + np.exp(-(np.tanh(y @ judge.w1[k] + judge.b1[k]) @ judge.w2[k] + judge.b2[k])))
        for k in range(2)
    ]
    np.testing.assert_allclose(judge.probability(y), np.mean(each, axis=0), rtol=1e-5)


def test_weights_that_are_not_finite_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez_compressed(path, mean=np.zeros(3), scale=np.ones(3), w2=np.array([1.0, np.nan, 0.0]),
                        b2=np.float32(0))  # fmt: skip
    with pytest.raises(ValueError, match="finite"):
        hp.load_weights(path)


@pytest.mark.parametrize("name", ["ho_probability_min", "ho_fragment_min"])
@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_gate_outside_zero_to_one_is_refused(name: str, bad: float) -> None:
    from brooker.errors import ConfigError

    with pytest.raises(ConfigError, match=name):
        AnalysisConfig(**{name: bad})


def _judges_folder(
    folder: Path, judge: hp.FragmentJudge | None = None, net: hp.PixelNet | None = None
) -> str:
    """A folder of judges: the shipped ones, or ``judge`` / ``net`` in their place."""
    folder.mkdir(exist_ok=True)
    (net or hp.bundled_net()).save(str(folder / "ho_pixels.npz"))
    (judge or hp.bundled_judge()).save(str(folder / "ho_fragments.npz"))
    return str(folder)


def _never(b: hp.FragmentJudge) -> hp.FragmentJudge:
    """``b`` with every network's output held at -30: a judge that rejects every fragment."""
    return hp.FragmentJudge(
        b.mean, b.scale, b.w1, b.b1, np.zeros_like(b.w2), np.full_like(b.b2, -30.0)
    )


def _graded(film: Radiograph, config: AnalysisConfig) -> list[tuple[str, int, float | None]]:
    from brooker.pipeline import analyze

    return [
        (h.patient_side.value, int(h.grade or 0), h.gap.gap_mm if h.gap else None)
        for h in analyze(film, config).hips
    ]


def test_a_judges_folder_is_what_judges(film: Radiograph, tmp_path: Path) -> None:
    """``AnalysisConfig.judges`` (``brooker grade --judges``): the shipped weights from a
    folder grade as the shipped judges do; a fragment judge that rejects everything leaves
    no heterotopic bone."""
    shipped = _graded(film, CFG)
    assert any(grade > 0 for _, grade, _ in shipped)  # the film has heterotopic bone to lose
    same = _judges_folder(tmp_path / "same")
    assert _graded(film, replace(CFG, judges=same)) == shipped
    b = hp.bundled_judge()
    never = _never(b)
    rejecting = _judges_folder(tmp_path / "never", judge=never)
    assert [g for _, g, _ in _graded(film, replace(CFG, judges=rejecting))] == [0] * len(shipped)
    # the pixel network of the folder is the one that gates the pixels
    n = hp.bundled_net()
    blind = hp.PixelNet(n.mean, n.scale, n.w1, n.b1, np.zeros_like(n.w2), -30.0)
    no_pixels = _judges_folder(tmp_path / "blind", net=blind)
    assert [g for _, g, _ in _graded(film, replace(CFG, judges=no_pixels))] == [0] * len(shipped)


def test_a_judges_folder_rewritten_is_read_again(tmp_path: Path) -> None:
    import os

    folder = _judges_folder(tmp_path / "j")
    np.testing.assert_array_equal(hp.judges_from(folder)[1].b2, hp.bundled_judge().b2)
    _judges_folder(tmp_path / "j", judge=_never(hp.bundled_judge()))
    path = tmp_path / "j" / "ho_fragments.npz"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert (hp.judges_from(folder)[1].b2 == -30.0).all()


def test_a_bad_judges_folder_is_refused(tmp_path: Path) -> None:
    from brooker.errors import ConfigError

    with pytest.raises(ConfigError, match=r"judges in .*ho_pixels\.npz"):
        AnalysisConfig(judges=str(tmp_path / "absent"))
    n = hp.bundled_net()
    narrow = hp.PixelNet(n.mean[:3], n.scale[:3], n.w1[:3], n.b1, n.w2, n.b2)
    with pytest.raises(ConfigError, match="wrong shape"):
        AnalysisConfig(judges=_judges_folder(tmp_path / "narrow", net=narrow))
    b = hp.bundled_judge()
    lopsided = hp.FragmentJudge(b.mean, b.scale, b.w1, b.b1[:, :-1], b.w2, b.b2)
    with pytest.raises(ConfigError, match="wrong shape"):
        AnalysisConfig(judges=_judges_folder(tmp_path / "lopsided", judge=lopsided))
    older = Path(_judges_folder(tmp_path / "older"))
    np.savez_compressed(older / "ho_fragments.npz", mean=b.mean, scale=b.scale,
                        w=np.zeros_like(b.mean), b=np.float32(0))  # fmt: skip
    with pytest.raises(ConfigError, match="older fragment judge"):
        AnalysisConfig(judges=str(older))
    flat = hp.PixelNet(n.mean, np.zeros_like(n.scale), n.w1, n.b1, n.w2, n.b2)
    with pytest.raises(ConfigError, match="scale is not positive"):
        AnalysisConfig(judges=_judges_folder(tmp_path / "flat", net=flat))
    corrupt = Path(_judges_folder(tmp_path / "corrupt"))
    (corrupt / "ho_fragments.npz").write_bytes(b"PK\x03\x04 not a zip archive")
    with pytest.raises(ConfigError, match=r"judges in .*corrupt: BadZipFile"):
        AnalysisConfig(judges=str(corrupt))


def test_a_judges_folder_spoilt_after_the_config_was_built_is_a_config_error(
    film: Radiograph, tmp_path: Path
) -> None:
    """The folder is checked when the config is built and read again at each analysis: a file
    removed in between raised a plain ValueError from ``analyze`` (a user's test of
    2026-12-07), outside the documented ``BrookerError`` family."""
    from brooker import analyze
    from brooker.errors import ConfigError

    folder = Path(_judges_folder(tmp_path / "j"))
    config = replace(CFG, judges=str(folder))
    (folder / "ho_fragments.npz").unlink()
    with pytest.raises(ConfigError, match=r"judges in .*ho_fragments\.npz"):
        analyze(film, config)


def test_a_films_own_held_out_probabilities() -> None:
    # benchmarks/train_ho_pixels.py hands each film only its own hips' entries (file|side)
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from train_ho_pixels import _own

    cv = {
        "rai_ab.dcm|left": np.zeros(2),
        "rai_ab.dcm|right": np.ones(2),
        "hyb_rai_ab_v0.dcm|left": np.ones(3),
        "rai_abc.dcm|left": np.ones(4),
    }
    assert sorted(_own(cv, "/films/rai_ab.dcm")) == ["rai_ab.dcm|left", "rai_ab.dcm|right"]
    assert sorted(_own(cv, "hybrid/hyb_rai_ab_v0.dcm")) == ["hyb_rai_ab_v0.dcm|left"]
    assert _own(cv, "rai_zz.dcm") == {}


def _drawn_pair(tmp_path: Path) -> tuple[Path, Path, Any]:
    """A synthetic "source" film and a "hybrid" copy of it with a 30 x 40 pixel block of bone
    drawn in at (100, 100): (source, hybrid, the hybrid's dataset)."""
    import pydicom

    spec = replace(ph.random_spec(2003), spacing_mm=1.0)
    source = ph.write(ph.render(spec), tmp_path / "rai_src.dcm")
    ds = pydicom.dcmread(source)
    px = ds.pixel_array.astype(np.int64)
    px[100:130, 100:140] += 60  # "drawn" bone
    ds.PixelData = np.clip(px, 0, (1 << ds.BitsStored) - 1).astype(ds.pixel_array.dtype).tobytes()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    hybrid = tmp_path / "hyb_rai_src_v0.dcm"
    ds.save_as(hybrid)
    return source, hybrid, ds


def test_augmented_copies_keep_their_films_fold_and_drawn_bone(tmp_path: Path) -> None:
    # benchmarks/train_ho_pixels.py --augment: a copy of each film with another tone curve, in
    # its film's group (fold); a hybrid copy is labelled by the bone drawn into the original
    import sys

    import pydicom

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from train_ho_pixels import drawn_mask, render_augmented

    source, hybrid, ds = _drawn_pair(tmp_path)
    jobs = [(str(hybrid), str(source), "rai_src"), (str(source), None, "rai_src")]
    out = render_augmented(tmp_path / "aug", jobs, ["gamma1.25"])
    assert [(Path(p).name, g) for p, _, g in out] == [
        ("gamma1.25__hyb_rai_src_v0.dcm", "rai_src"),
        ("gamma1.25__rai_src.dcm", "rai_src"),
    ]
    assert out[1][1] is None  # a real film's copy has no heterotopic bone
    with np.load(out[0][1]) as z:
        assert np.array_equal(z["ectopic"], drawn_mask(hybrid, source))
        assert z["ectopic"][110:120, 110:130].all()
    top = float((1 << ds.BitsStored) - 1)
    orig = pydicom.dcmread(source).pixel_array.astype(np.float64)
    copy = pydicom.dcmread(out[1][0]).pixel_array.astype(np.float64)
    assert np.array_equal(copy, np.rint(top * (orig / top) ** 1.25))
    noisy = render_augmented(tmp_path / "aug", jobs[1:], ["noise3"])
    again = render_augmented(tmp_path / "aug2", jobs[1:], ["noise3"])
    a = pydicom.dcmread(noisy[0][0]).pixel_array.astype(np.float64)
    b = pydicom.dcmread(again[0][0]).pixel_array.astype(np.float64)
    assert np.array_equal(a, b)  # seeded by the film's name: the same copy every time
    assert 2.0 < float(np.std(a - orig)) < 4.0  # noise of about 3 grey levels
    stamp = Path(out[1][0]).stat().st_mtime_ns
    render_augmented(tmp_path / "aug", jobs, ["gamma1.25"])  # rendered once
    assert Path(out[1][0]).stat().st_mtime_ns == stamp
    Path(out[0][1]).unlink()  # a hybrid copy without its labels is rendered again
    render_augmented(tmp_path / "aug", jobs, ["gamma1.25"])
    assert Path(out[0][1]).is_file()
    assert not list((tmp_path / "aug").glob("*.part"))


def test_a_cropped_copy_cuts_its_pixels_and_its_drawn_bone_alike(tmp_path: Path) -> None:
    # --augment crop2: the first two rows and columns cut off the copy and its drawn-bone mask
    import sys

    import pydicom

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from train_ho_pixels import DEFAULT_AUGMENT, drawn_mask, render_augmented

    assert "crop2" not in DEFAULT_AUGMENT  # measured, not shipped
    source, hybrid, ds = _drawn_pair(tmp_path)
    jobs = [(str(hybrid), str(source), "rai_src")]
    [(film, mask, group)] = render_augmented(tmp_path / "aug", jobs, ["crop2"])
    assert (Path(film).name, group) == ("crop2__hyb_rai_src_v0.dcm", "rai_src")
    copy = pydicom.dcmread(film)
    assert (copy.Rows, copy.Columns) == (ds.Rows - 2, ds.Columns - 2)
    assert np.array_equal(copy.pixel_array, pydicom.dcmread(hybrid).pixel_array[2:, 2:])
    assert mask is not None
    with np.load(mask) as z:
        assert np.array_equal(z["ectopic"], drawn_mask(hybrid, source)[2:, 2:])
        assert z["ectopic"][98:128, 98:138].sum() > 0.8 * 30 * 40  # the bone moved with it


def test_augmented_copies_are_judged_by_networks_blind_to_their_fold() -> None:
    # the copy of a fold-j film: for the shipped judge, the pixel network trained without fold
    # j; for fold k's nested judge, the one trained without j and k (never one that saw k)
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from train_ho_pixels import copy_net

    fold_nets = [f"without {j}" for j in range(5)]
    pair_nets = {(j, k): f"without {j},{k}" for j in range(5) for k in range(j + 1, 5)}
    assert copy_net(3, None, fold_nets, pair_nets) == "without 3"  # type: ignore[arg-type]
    assert copy_net(3, 1, fold_nets, pair_nets) == "without 1,3"  # type: ignore[arg-type]
    assert copy_net(0, 4, fold_nets, pair_nets) == "without 0,4"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="held-out fold"):
        copy_net(2, 2, fold_nets, pair_nets)  # type: ignore[arg-type]


def test_an_augmented_copys_candidates_are_kept_apart(tmp_path: Path) -> None:
    # candidates of a copy are labelled by the original's heterotopic bone and their set is
    # tagged, so that the printed held-out figures count the original films only
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from train_ho_pixels import AUGMENT_SEP, AUGMENTED, film_fragments

    spec = replace(ph.random_spec(2003), spacing_mm=0.5)
    p = ph.render(spec, masks=True)
    film = ph.write(p, tmp_path / f"gamma0.8{AUGMENT_SEP}rai_x.dcm")
    mask = tmp_path / "mask.npz"
    np.savez_compressed(mask, ectopic=p.masks["ectopic"])
    net = hp.bundled_net()
    frags = film_fragments((str(film), str(mask), "rai_x", {}, None, net))
    assert frags
    assert {f["set"] for f in frags} == {"hybrid" + AUGMENTED}
    assert any(f["y"] for f in frags)  # the drawn (here: generated) bone is heterotopic
    plain = film_fragments((str(film), None, "rai_x", {}, None, net))
    assert {f["set"] for f in plain} == {"real" + AUGMENTED}
    assert not any(f["y"] for f in plain)
    # a film of benchmarks/draw_hybrids.py (its mask beside it) is in a set of its own; a
    # hybrid copy's mask (<copy>.drawn.npz, as render_augmented writes it) is not one
    drawn_mask = mask.rename(tmp_path / "drw_rai_x_v0_drawn.npz")
    drawn = film_fragments((str(film), str(drawn_mask), "rai_x", {}, None, net))
    assert {f["set"] for f in drawn} == {"drawn" + AUGMENTED}
    copy_mask = drawn_mask.rename(tmp_path / f"{film.name}.drawn.npz")
    copied = film_fragments((str(film), str(copy_mask), "rai_x", {}, None, net))
    assert {f["set"] for f in copied} == {"hybrid" + AUGMENTED}
    # a film merely named with the separator is not a copy: its candidates keep their set
    named = film.rename(tmp_path / f"ward{AUGMENT_SEP}rai_x.dcm")
    assert {f["set"] for f in film_fragments((str(named), None, "rai_x", {}, None, net))} == {
        "real"
    }


def test_training_reads_a_padded_film_inside_its_border_as_grading_does(tmp_path: Path) -> None:
    # six of the real films (and their hybrid copies) have a border of one value, which grading
    # cuts off (brooker.padding): training reads the same pixels, its mask cut alike, and
    # finds the same candidates as on the film without the border
    import sys

    import pydicom

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from train_ho_pixels import _analysed, film_fragments

    spec = replace(ph.random_spec(2003), spacing_mm=0.5)
    p = ph.render(spec, masks=True)
    plain = ph.write(p, tmp_path / "plain.dcm")
    ds = pydicom.dcmread(plain)
    border = ((30, 11), (7, 40))
    stored = np.pad(ds.pixel_array, border)
    ds.PixelData, (ds.Rows, ds.Columns) = stored.tobytes(), stored.shape
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    padded = tmp_path / "padded.dcm"
    ds.save_as(padded)
    mask = tmp_path / "mask.npz"
    np.savez_compressed(mask, ectopic=np.pad(p.masks["ectopic"], border))
    rg, truth = _analysed(str(padded), str(mask))
    # the phantom's own border of white goes too: the film grading reads, either way
    want, (r0, c0) = inside_border(load_radiograph(plain))
    assert (r0, c0) != (0, 0)
    np.testing.assert_array_equal(rg.pixels, want.pixels)
    assert truth is not None
    rows, cols = want.pixels.shape
    np.testing.assert_array_equal(truth, p.masks["ectopic"][r0 : r0 + rows, c0 : c0 + cols])
    plain_mask = tmp_path / "plain_mask.npz"
    np.savez_compressed(plain_mask, ectopic=p.masks["ectopic"])
    net = hp.bundled_net()
    got, want = (
        film_fragments((str(f), str(m), "x", {}, None, net))
        for f, m in ((padded, mask), (plain, plain_mask))
    )
    assert got
    assert any(f["y"] for f in got)
    assert [(f["y"], f["x"].tolist()) for f in got] == [(f["y"], f["x"].tolist()) for f in want]


def test_a_films_truth_is_averaged_onto_the_roi_grid_along_both_axes() -> None:
    # the heterotopic-bone truth of a film whose ROI is block-averaged (block_px > 1) lands on
    # the ROI pixels it covers, along rows and columns alike (until 2026-12-01 the fragment
    # labels took every second row but consecutive columns: a fragment off the ROI's corner
    # was labelled by bone elsewhere)
    import sys
    from types import SimpleNamespace

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from train_ho_pixels import roi_truth

    truth = np.zeros((200, 200), dtype=bool)
    truth[60:80, 100:140] = True  # film pixels
    truth[61, 141] = True  # one film pixel: a quarter of a 2 x 2 block
    masks = SimpleNamespace(origin_px=(20, 40), block_px=(2, 2), image=np.zeros((60, 70)))
    t = roi_truth(truth, masks)  # type: ignore[arg-type]
    assert t.shape == (60, 70)
    assert t.dtype == np.float32
    expected = np.zeros((60, 70), dtype=np.float32)
    expected[20:30, 30:50] = 1.0  # rows (60-20)/2 .., columns (100-40)/2 ..
    expected[20, 50] = 0.25
    np.testing.assert_array_equal(t, expected)
    # one film pixel per ROI pixel: the truth itself, cut to the ROI
    same = SimpleNamespace(origin_px=(20, 40), block_px=(1, 1), image=np.zeros((60, 70)))
    np.testing.assert_array_equal(roi_truth(truth, same), truth[20:80, 40:110])  # type: ignore[arg-type]
    # an ROI reaching past the mask (another film's) is refused, not cut short
    past = SimpleNamespace(origin_px=(180, 40), block_px=(2, 2), image=np.zeros((60, 70)))
    with pytest.raises(ValueError, match="reaches past"):
        roi_truth(truth, past)  # type: ignore[arg-type]


def test_the_init_seed_draws_other_judges_and_zero_is_the_default() -> None:
    """benchmarks/train_ho_pixels.py --init-seed: another draw of the initial weights, for how
    far a retraining alone moves the figures; 0 trains what the script trained before."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from train_ho_pixels import fit_judge

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] + 0.3 * rng.normal(size=60) > 0).astype(np.float64)
    default, zero, other = fit_judge(X, y), fit_judge(X, y, 0), fit_judge(X, y, 3)
    np.testing.assert_array_equal(default.w1, zero.w1)
    assert not np.array_equal(default.w1, other.w1)
    # both learn the same rule
    p0, p3 = default.probability(X.astype(np.float32)), other.probability(X.astype(np.float32))
    assert ((p0 >= 0.5) == (y > 0)).mean() > 0.9
    assert ((p3 >= 0.5) == (y > 0)).mean() > 0.9
