"""brooker.analyze on a path and on a Radiograph loaded beforehand."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from conftest import ROOT
from PIL import Image

from brooker import AnalysisConfig, load_radiograph
from brooker.config import DEFAULT_SPACING_UNCERTAINTY
from brooker.errors import (
    BrookerError,
    ConfigError,
    ImplausibleSpacingError,
    InvalidSpacingError,
)
from brooker.models import (
    ImageSide,
    PixelSpacing,
    Radiograph,
    RadiographMeta,
    SpacingSource,
)
from brooker.phantom_dicom import FAKE_IDENTIFIERS, DicomVariant, write_dicom
from brooker.pipeline import analyze, grade_path, load_calibrated
from brooker.spacing import (
    MAGNIFICATION_IGNORED_FOR_USER_SPACING,
    MAGNIFICATION_IGNORED_NO_IMAGER_SPACING,
    with_spacing_options,
)

FILM = ROOT / "sample_images" / "pelvis_0_vs_3.dcm"

#: The loader's caveats about a spacing it took from the tags (or found none).
TAG_CAVEATS = ("at the detector", "calibration type", "(0028,0030)", "no physical pixel spacing")


def _same(a: Radiograph, b: Radiograph) -> None:
    """``a`` and ``b`` carry the same spacing, caveats and spacing inputs."""
    assert a.spacing == b.spacing
    assert a.caveats == b.caveats
    assert a.spacing_inputs == b.spacing_inputs


def _small_dicom(tmp_path: Path, **fields: Any) -> Path:
    return write_dicom(np.zeros((8, 10), np.uint16), tmp_path / "s.dcm", DicomVariant(**fields))


def _png(tmp_path: Path) -> Path:
    path = tmp_path / "film.png"
    ramp = (np.arange(60 * 80).reshape(60, 80) % 256).astype(np.uint8)
    Image.fromarray(ramp).save(path, format="PNG")
    return path


def _in_memory(spacing: PixelSpacing | None) -> Radiograph:
    meta = RadiographMeta(
        path="/nowhere/IM0001",
        sop_instance_uid=None,
        modality="DX",
        photometric="MONOCHROME2",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        transfer_syntax_name="Explicit VR Little Endian",
        decoder="test",
        rows=60,
        cols=80,
        bits_allocated=16,
        bits_stored=12,
        pixel_representation=0,
    )
    return Radiograph(
        pixels=np.zeros((60, 80), np.float32),
        spacing=spacing,
        patient_right_on=ImageSide.LEFT,
        laterality_source="assumed",
        meta=meta,
        caveats=("built by hand",),
    )


def test_the_users_pixel_spacing_wins_on_a_loaded_radiograph_too() -> None:
    cfg = AnalysisConfig(pixel_spacing=(0.3, 0.3))
    from_path = load_calibrated(FILM, cfg)
    assert from_path.spacing is not None
    assert from_path.spacing.source is SpacingSource.USER
    from_radiograph = load_calibrated(load_radiograph(FILM), cfg)
    assert from_radiograph.spacing == from_path.spacing


def test_the_users_magnification_on_a_loaded_film_with_calibrated_pixel_spacing() -> None:
    # the sample film has calibrated (0028,0030) Pixel Spacing 0.25 mm (GEOMETRY) beside
    # (0018,1164) Imager Pixel Spacing 0.2875 mm and (0018,1114) 1.15: the policy keeps the
    # calibrated spacing and says that the magnification was ignored, loaded or not
    cfg = AnalysisConfig(magnification=1.2)
    loaded = load_calibrated(load_radiograph(FILM), cfg)
    _same(loaded, load_calibrated(FILM, cfg))
    assert loaded.spacing is not None
    assert loaded.spacing.source is SpacingSource.PIXEL_SPACING
    assert loaded.spacing.row_mm == 0.25
    assert any("magnification 1.2 was ignored" in c for c in loaded.caveats)


def test_the_users_magnification_divides_imager_pixel_spacing_of_a_loaded_film(
    tmp_path: Path,
) -> None:
    path = _small_dicom(tmp_path, imager_pixel_spacing_mm=(0.24, 0.24), magnification=1.15)
    rad = load_radiograph(path)
    assert rad.spacing is not None
    assert rad.spacing.row_mm == pytest.approx(0.24 / 1.15)
    cfg = AnalysisConfig(magnification=1.2)
    loaded = load_calibrated(rad, cfg)
    _same(loaded, load_calibrated(path, cfg))
    assert loaded.spacing is not None
    assert loaded.spacing.source is SpacingSource.IMAGER_PIXEL_SPACING_MAGNIFICATION
    assert loaded.spacing.row_mm == pytest.approx(0.2)
    assert (
        loaded.spacing.relative_uncertainty
        == DEFAULT_SPACING_UNCERTAINTY[SpacingSource.IMAGER_PIXEL_SPACING_MAGNIFICATION]
    )
    assert any("magnification 1.2 replaces (0018,1114)" in c for c in loaded.caveats)


@pytest.mark.parametrize(
    ("fields", "stale"),
    [
        ({"imager_pixel_spacing_mm": (0.2, 0.2)}, "at the detector"),
        ({"pixel_spacing_mm": (0.2, 0.2), "imager_pixel_spacing_mm": (0.2, 0.2)}, "detector"),
        ({"pixel_spacing_mm": (0.15, 0.15)}, "calibration type"),
        ({}, "no physical pixel spacing"),
    ],
    ids=["detector plane", "copy of the detector spacing", "uncalibrated", "none"],
)
def test_no_caveat_about_the_files_spacing_survives_the_users(
    tmp_path: Path, fields: dict[str, Any], stale: str
) -> None:
    path = _small_dicom(tmp_path, **fields)
    rad = load_radiograph(path)
    assert any(stale in c for c in rad.caveats)
    for cfg in (
        AnalysisConfig(pixel_spacing=(0.3, 0.3)),
        AnalysisConfig(flipped=True, pixel_spacing=(0.3, 0.3), magnification=1.2),
    ):
        loaded = load_calibrated(rad, cfg)
        _same(loaded, load_calibrated(path, cfg))
        assert loaded.spacing is not None
        assert loaded.spacing.source is SpacingSource.USER
        # what the user's spacing replaced is said (a spacing of the file's own, 0.15-0.2 mm,
        # against 0.3), nothing of how the file's would have been read
        replaced = [c for c in loaded.caveats if c.startswith("the user's pixel spacing")]
        assert len(replaced) == (1 if fields else 0)
        assert not any(s in c for c in loaded.caveats if c not in replaced for s in TAG_CAVEATS)


def test_a_stale_note_on_an_invalid_tag_is_rewritten(tmp_path: Path) -> None:
    # "used X instead" names the source the loader used: with the user's spacing, it is not
    path = _small_dicom(
        tmp_path, imager_pixel_spacing_mm=(0.2, 0.2), extra=((0x00280030, "DS", ["0", "0"]),)
    )
    rad = load_radiograph(path)
    assert any("used (0018,1164) Imager Pixel Spacing instead" in c for c in rad.caveats)
    cfg = AnalysisConfig(pixel_spacing=(0.3, 0.3))
    loaded = load_calibrated(rad, cfg)
    _same(loaded, load_calibrated(path, cfg))
    notes = [c for c in loaded.caveats if "(0028,0030)" in c]
    assert len(notes) == 1
    assert notes[0].startswith("ignored invalid (0028,0030) Pixel Spacing")
    assert "instead" not in notes[0]


def test_the_options_the_film_was_loaded_with_stand_unless_the_config_replaces_them(
    tmp_path: Path,
) -> None:
    path = _small_dicom(tmp_path, imager_pixel_spacing_mm=(0.24, 0.24))
    rad = load_radiograph(path, pixel_spacing=(0.3, 0.3))
    # the config's magnification next to the spacing the user gave the loader: ignored
    both = load_calibrated(rad, AnalysisConfig(magnification=1.2))
    _same(both, load_calibrated(path, AnalysisConfig(pixel_spacing=(0.3, 0.3), magnification=1.2)))
    assert both.spacing is not None
    assert both.spacing.source is SpacingSource.USER
    assert MAGNIFICATION_IGNORED_FOR_USER_SPACING in both.caveats
    # the config's spacing replaces the loader's
    other = load_calibrated(rad, AnalysisConfig(pixel_spacing=(0.2, 0.25)))
    assert other.spacing is not None
    assert (other.spacing.row_mm, other.spacing.col_mm) == (0.2, 0.25)
    # applied twice, the same as once; with no option, nothing changes
    again = load_calibrated(both, AnalysisConfig(magnification=1.2))
    _same(again, both)
    assert with_spacing_options(both) is both
    # one number is square pixels here too, as --pixel-spacing 0.2 and AnalysisConfig take it
    square = with_spacing_options(rad, pixel_spacing=0.3)
    assert square.spacing is not None
    assert (square.spacing.row_mm, square.spacing.col_mm) == (0.3, 0.3)


def test_a_loaded_image_file_gets_the_users_spacing_as_its_path_does(tmp_path: Path) -> None:
    path = _png(tmp_path)
    rad = load_radiograph(path)
    assert rad.spacing is None
    assert any("a PNG image carries none" in c for c in rad.caveats)
    cfg = AnalysisConfig(pixel_spacing=(0.2, 0.2))
    loaded = load_calibrated(rad, cfg)
    _same(loaded, load_calibrated(path, cfg))
    assert loaded.spacing == PixelSpacing(
        0.2, 0.2, SpacingSource.USER, DEFAULT_SPACING_UNCERTAINTY[SpacingSource.USER]
    )
    assert not any("no physical pixel spacing" in c for c in loaded.caveats)
    assert any("sides assumed" in c for c in loaded.caveats)  # the other caveats stay


def test_an_image_files_magnification_is_ignored_with_a_caveat(tmp_path: Path) -> None:
    # an image file has no (0018,1164) Imager Pixel Spacing to divide: as a DICOM file without
    path = _png(tmp_path)
    cfg = AnalysisConfig(magnification=1.2)
    loaded = load_calibrated(load_radiograph(path), cfg)
    _same(loaded, load_calibrated(path, cfg))
    assert loaded.spacing is None
    assert MAGNIFICATION_IGNORED_NO_IMAGER_SPACING in loaded.caveats
    assert (
        MAGNIFICATION_IGNORED_NO_IMAGER_SPACING
        in load_radiograph(_small_dicom(tmp_path), magnification=1.2).caveats
    )


def test_a_radiograph_built_in_memory_gets_the_users_spacing() -> None:
    own = PixelSpacing(0.2, 0.2, SpacingSource.PIXEL_SPACING, 0.03)
    rad = _in_memory(own)
    given = load_calibrated(rad, AnalysisConfig(pixel_spacing=(0.3, 0.25)))
    assert given.spacing == PixelSpacing(
        0.3, 0.25, SpacingSource.USER, DEFAULT_SPACING_UNCERTAINTY[SpacingSource.USER]
    )
    assert given.caveats == ("built by hand",)
    # a magnification has nothing to divide: ignored, with the loader's caveat for that
    ignored = load_calibrated(rad, AnalysisConfig(magnification=1.2))
    assert ignored.spacing == own
    assert ignored.caveats == (MAGNIFICATION_IGNORED_NO_IMAGER_SPACING, "built by hand")
    assert load_calibrated(ignored, AnalysisConfig(magnification=1.2)).caveats == ignored.caveats
    none = load_calibrated(_in_memory(None), AnalysisConfig(magnification=1.2))
    assert none.spacing is None


@pytest.mark.parametrize(
    ("spacing", "mag", "error", "match"),
    [
        pytest.param((0.0, 0.1), None, InvalidSpacingError, "given by the user", id="zero"),
        pytest.param((float("nan"), 0.1), None, InvalidSpacingError, "given by", id="nan"),
        pytest.param((0.1,), None, InvalidSpacingError, "given by the user", id="one value"),
        pytest.param("0.1,0.1", None, InvalidSpacingError, "given by the user", id="text"),
        pytest.param(None, -1.2, InvalidSpacingError, r"magnification -1\.2 given", id="mag<0"),
        pytest.param(None, float("inf"), InvalidSpacingError, "magnification", id="mag inf"),
        pytest.param((5.0, 5.0), None, ImplausibleSpacingError, r"0\.02-1 mm", id="5 mm"),
        pytest.param((0.001, 0.001), None, ImplausibleSpacingError, "plausible", id="1 um"),
    ],
)
@pytest.mark.parametrize("kind", ["dicom", "png", "in memory"])
def test_invalid_options_raise_what_loading_raises(
    tmp_path: Path, kind: str, spacing: Any, mag: Any, error: type, match: str
) -> None:
    if kind == "in memory":
        rad = _in_memory(PixelSpacing(0.2, 0.2, SpacingSource.PIXEL_SPACING))
    else:
        path = (
            _small_dicom(tmp_path, imager_pixel_spacing_mm=(0.2, 0.2))
            if kind == "dicom"
            else (_png(tmp_path))
        )
        with pytest.raises(error, match=match) as from_path:
            load_radiograph(path, pixel_spacing=spacing, magnification=mag)
        rad = load_radiograph(path)
    with pytest.raises(error, match=match) as from_loaded:
        with_spacing_options(rad, pixel_spacing=spacing, magnification=mag)
    assert "\n" not in from_loaded.value.message
    if kind != "in memory":
        assert from_loaded.value.message == from_path.value.message


def test_an_implausible_option_is_refused_by_analyze_on_a_loaded_film(tmp_path: Path) -> None:
    # the config accepts any positive value; the loader's plausibility check refuses it
    path = _small_dicom(tmp_path, imager_pixel_spacing_mm=(0.03, 0.03))
    cfg = AnalysisConfig(magnification=2.0)  # 0.015 mm at the patient
    with pytest.raises(ImplausibleSpacingError, match="Imager Pixel Spacing / magnification 2"):
        load_calibrated(path, cfg)
    with pytest.raises(ImplausibleSpacingError, match="Imager Pixel Spacing / magnification 2"):
        analyze(load_radiograph(path), cfg)


def test_the_configs_size_cap_reaches_the_loader(tmp_path: Path) -> None:
    """``AnalysisConfig(max_megapixels=...)`` was validated and documented but never passed to
    the loader (a user's test of 2026-12-07): a film over the cap was graded."""
    from brooker.errors import SizeMismatchError

    film = write_dicom(np.zeros((1000, 800), np.uint16), tmp_path / "f.dcm", DicomVariant())
    with pytest.raises(SizeMismatchError, match=r"beyond the 0\.5 MP cap"):
        analyze(film, AnalysisConfig(max_megapixels=0.5))
    error = grade_path(film, AnalysisConfig(max_megapixels=0.5)).error
    assert error is not None
    assert "cap" in error.message
    error = grade_path(film, AnalysisConfig(max_megapixels=0.9)).error
    assert error is not None  # graded, so refused for what it lacks: a spacing
    assert error.code == "missing_spacing"


def test_a_radiograph_built_in_memory_keeps_no_contradicting_spacing_caveats() -> None:
    rad = dataclasses.replace(
        _in_memory(None), caveats=("no physical pixel spacing: built by hand", "built by hand")
    )
    given = load_calibrated(rad, AnalysisConfig(pixel_spacing=(0.3, 0.3), magnification=1.2))
    assert given.caveats == (MAGNIFICATION_IGNORED_FOR_USER_SPACING, "built by hand")
    # a magnification alone afterwards: one note on it, not both
    again = load_calibrated(given, AnalysisConfig(magnification=1.2))
    assert again.caveats == (MAGNIFICATION_IGNORED_NO_IMAGER_SPACING, "built by hand")


@pytest.mark.parametrize("value", [10**400, (10**400, 0.2)], ids=["magnification", "spacing"])
def test_a_huge_integer_option_is_an_invalid_spacing_not_an_overflow(value: object) -> None:
    rad = _in_memory(PixelSpacing(0.2, 0.2, SpacingSource.PIXEL_SPACING, 0.03))
    opts = {"pixel_spacing": value} if isinstance(value, tuple) else {"magnification": value}
    with pytest.raises(InvalidSpacingError):
        with_spacing_options(rad, **opts)  # type: ignore[arg-type]


def test_a_calibrated_radiograph_analysed_again_with_its_own_config() -> None:
    # loaded with a magnification, calibrated from its prosthetic heads, then analysed again
    # with the same config: nothing to re-apply (it was refused as a change of spacing)
    film = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"
    cfg = AnalysisConfig(head_mm=32.0, magnification=1.15)
    first = load_calibrated(film, cfg)
    assert first.spacing is not None
    assert first.spacing.source is SpacingSource.PROSTHETIC_HEAD
    again = load_calibrated(first, cfg)
    assert again.spacing is not None
    assert again.spacing.row_mm == pytest.approx(first.spacing.row_mm)
    # the same radiograph: its calibration caveat once, no "replaces" note about a spacing
    # the file never had (they were written again on every pass)
    assert again.caveats == first.caveats
    assert analyze(first, cfg).to_record()["caveats"] == analyze(film, cfg).to_record()["caveats"]
    # ... also when the config asks for an estimate too (the head is what calibrated it)
    both = dataclasses.replace(cfg, estimate_spacing=True)
    assert load_calibrated(load_calibrated(film, both), both).caveats == first.caveats
    # ... and a config's own uncertainty for the source applies as on a fresh load
    wider = dataclasses.replace(cfg, spacing_uncertainty={SpacingSource.PROSTHETIC_HEAD: 0.10})
    fresh, reloaded = load_calibrated(film, wider).spacing, load_calibrated(first, wider).spacing
    assert fresh is not None
    assert reloaded is not None
    assert reloaded.relative_uncertainty == pytest.approx(fresh.relative_uncertainty)
    with pytest.raises(ConfigError, match="calibrated from the film"):
        load_calibrated(first, AnalysisConfig(head_mm=32.0, magnification=1.2))


def test_a_spacing_calibrated_after_loading_is_not_silently_replaced() -> None:
    ball = PixelSpacing(0.2, 0.2, SpacingSource.CALIBRATION_BALL, 0.06)
    with pytest.raises(ConfigError, match="calibrated from the film"):
        load_calibrated(_in_memory(ball), AnalysisConfig(pixel_spacing=(0.3, 0.3)))


def test_the_kept_spacing_inputs_carry_no_identifiers(tmp_path: Path) -> None:
    # a corrupted spacing element can hold the patient's name: what is kept is redacted
    path = _small_dicom(
        tmp_path,
        imager_pixel_spacing_mm=(0.2, 0.2),
        extra=(
            (0x00280030, "LO", "DOE\\JANE"),
            (0x00181114, "LO", "SECRET"),
            (0x00280A02, "LO", "DOE^JANE^SECRET"),
        ),
    )
    rad = load_radiograph(path)
    loaded = load_calibrated(rad, AnalysisConfig(pixel_spacing=(0.3, 0.3)))
    text = repr(rad.spacing_inputs) + repr(loaded.spacing_inputs) + " ".join(loaded.caveats)
    assert "[redacted]" in text
    for value in (*FAKE_IDENTIFIERS.values(), "DOE", "JANE", "SECRET"):
        assert value not in text


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"modality": "CT"}, "not_a_radiograph"),  # refused by the loader, after the header
        ({}, "image_too_small"),  # refused after loading
        ({"pixel_spacing_mm": (0.01, 0.01)}, "implausible_spacing"),
    ],
)
def test_the_error_record_of_a_dicom_film_keeps_its_uid(
    tmp_path: Path, fields: dict[str, Any], code: str
) -> None:
    path = _small_dicom(tmp_path, **fields)
    rec = grade_path(path).to_record()
    assert rec["status"] == "error"
    assert rec["error"]["code"] == code
    assert rec["sop_instance_uid"] == str(pydicom.dcmread(path).SOPInstanceUID)
    with pytest.raises(BrookerError) as info:  # the library's error carries it too
        analyze(path)
    assert info.value.sop_instance_uid == rec["sop_instance_uid"]


def test_a_loaded_film_refused_by_the_configs_spacing_keeps_its_uid(tmp_path: Path) -> None:
    # 1 mm is a plausible spacing (the config takes it), but makes this film 1.6 m tall
    path = write_dicom(np.zeros((1600, 10), np.uint16), tmp_path / "s.dcm", DicomVariant())
    rad = load_radiograph(path)
    with pytest.raises(ImplausibleSpacingError) as info:
        analyze(rad, AnalysisConfig(pixel_spacing=(1.0, 1.0)))
    assert info.value.sop_instance_uid == str(pydicom.dcmread(path).SOPInstanceUID)


def test_a_malformed_uid_is_left_out_of_the_error_record(tmp_path: Path) -> None:
    path = _small_dicom(tmp_path, modality="CT", extra=((0x00080018, "UI", "1.2.x.Doe^John"),))
    rec = grade_path(path).to_record()
    assert rec["error"]["code"] == "not_a_radiograph"
    assert "sop_instance_uid" not in rec


def test_a_small_image_file_is_refused_without_dicom_tags_in_the_message(
    tmp_path: Path,
) -> None:
    """An image file has no (0028,0010) Rows: the message says rows x columns; a DICOM file's
    names its tags."""
    png = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(png)
    rec = grade_path(png, AnalysisConfig(pixel_spacing=(0.2, 0.2))).to_record()
    assert rec["error"]["code"] == "image_too_small"
    assert "image of 20 x 30 pixels (rows x columns): fewer than" in rec["error"]["message"]
    assert "(0028," not in rec["error"]["message"]
    dicom = grade_path(_small_dicom(tmp_path)).to_record()
    assert "(0028,0010) Rows x (0028,0011) Columns" in dicom["error"]["message"]


class _PathGivingBytes:
    def __fspath__(self) -> bytes:
        return bytes(FILM)


@pytest.mark.parametrize(
    ("make", "given", "hint"),
    [
        pytest.param(lambda: FILM.read_bytes(), "not bytes", True, id="film-bytes"),
        pytest.param(lambda: b"\x89PNG\r\n\x1a\n" + bytes(50), "not bytes", True, id="png-bytes"),
        pytest.param(lambda: bytes(FILM), "not bytes", True, id="path-as-bytes"),
        pytest.param(lambda: bytearray(FILM.read_bytes()), "not bytearray", True, id="bytearray"),
        pytest.param(lambda: __import__("io").BytesIO(FILM.read_bytes()), "not BytesIO", True,
                     id="bytesio"),
        pytest.param(lambda: 5, "not int", False, id="int"),
        pytest.param(lambda: None, "not NoneType", False, id="none"),
        pytest.param(_PathGivingBytes, "not _PathGivingBytes giving bytes", False,
                     id="pathlike-bytes"),
    ],
)  # fmt: skip
def test_a_film_in_memory_is_a_type_error_not_a_bad_film(
    make: Any, given: str, hint: bool
) -> None:
    """``analyze(data)`` with the film's bytes raised "stat: embedded null character in path"
    (a ValueError) or ``malformed_dicom``, as if the film were at fault; ``grade_path`` gave
    an error record. The API takes a path (or a Radiograph): a TypeError saying so."""
    calls = [
        ("analyze() takes a file's path (str or os.PathLike) or a Radiograph", analyze),
        ("grade_path() takes a file's path (str or os.PathLike)", grade_path),
        ("load_radiograph() takes a file's path (str or os.PathLike)", load_radiograph),
    ]
    for takes, fn in calls:
        with pytest.raises(TypeError) as info:
            fn(make())
        message = str(info.value)
        assert message.startswith(f"{takes}, {given}")
        assert ("write it to a file and pass that file's path" in message) is hint


def test_work_begun_beside_the_grading_gives_its_result_or_raises_its_error() -> None:
    """background.beside runs a call in a thread of its own (the overlay's text search while
    the film is graded, the second hip while the first is): its future gives the call's
    result, or raises the call's own exception, as calling it here would."""
    from brooker.background import beside

    assert beside(lambda x: x * 2, 21).result(timeout=10) == 42

    def fail(_: object) -> None:
        raise MemoryError("no room")

    with pytest.raises(MemoryError, match="no room"):
        beside(fail, None).result(timeout=10)


def test_hips_graded_side_by_side_are_what_one_at_a_time_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both hips of a film are graded at once (a thread each): the result is the one graded a
    hip after the other, hip for hip, in order."""
    from brooker import pipeline

    film = load_radiograph(ROOT / "sample_images" / "pelvis_1_vs_2.dcm")
    together = analyze(film)
    assert [h.grade for h in together.hips] == [2, 2]  # two hips with bone to grade

    def in_turn(rad: Any, found: Any, config: Any, scene: Any) -> list[Any]:
        return [
            pipeline.not_graded_hip(h, h.not_graded_reason)
            if h.not_graded_reason is not None
            else pipeline.grade_found_hip(rad, h, config, scene)
            for h in found
        ]

    monkeypatch.setattr(pipeline, "_grade_hips", in_turn)
    assert analyze(film).to_record() == together.to_record()


def test_the_overlays_text_and_base_are_made_once_beside_the_grading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """grade_path has the overlay's text search and overview brightness made once, begun
    beside the grading (overlay.prepare), and the overlay uses them without making them
    again; without an overlay neither is made. The overlay is what it was without them."""
    from brooker import overlay

    film = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"
    rad = load_radiograph(film)
    unprepared = overlay._render(rad, analyze(rad), 2048)[0]
    calls: list[str] = []

    def counted(name: str) -> Any:
        real = getattr(overlay, name)

        def call(*args: Any) -> Any:
            calls.append(name)
            return real(*args)

        return call

    for name in ("find_text_lines", "_base_image"):
        monkeypatch.setattr(overlay, name, counted(name))
    result = grade_path(film, out_dir=tmp_path)
    assert result.overlay is not None
    assert sorted(calls) == ["_base_image", "find_text_lines"]
    written = np.asarray(Image.open(result.overlay).convert("RGB"))
    np.testing.assert_array_equal(written, unprepared)
    calls.clear()
    grade_path(film)
    grade_path(film, out_dir=tmp_path, overlay=False)
    assert calls == []


def test_the_hip_detector_begun_beside_the_intensity_model_finds_what_it_finds_alone() -> None:
    """analyse_scene begins the hip detector on the grid in a thread while it models the
    intensities; find_hips then finds what it finds looking itself, with another minimum
    distance between hips too (the detector looks again)."""
    from brooker import localization as loc

    film = load_radiograph(ROOT / "sample_images" / "pelvis_1_vs_2.dcm")
    config = AnalysisConfig()
    scene = loc.analyse_scene(film, config)
    assert scene.detected is not None
    alone = dataclasses.replace(scene, detected=None)
    found = loc.find_hips(film, config, scene)
    assert len(found.hips) == 2
    assert repr(found) == repr(loc.find_hips(film, config, alone))
    wider = dataclasses.replace(config, hip_min_distance_mm=config.hip_min_distance_mm + 40)
    assert repr(loc.find_hips(film, wider, scene)) == repr(loc.find_hips(film, wider, alone))


def test_work_begun_beside_runs_in_turn_once_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """After background.in_turn (a batch's worker with a worker on every CPU), beside calls
    in the caller's thread, at once, and its future gives the result or the error alike."""
    import threading

    from brooker import background

    monkeypatch.setattr(background, "_THREADS", [True])
    caller = threading.get_ident()
    assert background.beside(lambda _: threading.get_ident(), None).result() != caller
    background.in_turn()
    future = background.beside(lambda _: threading.get_ident(), None)
    assert future.done()
    assert future.result() == caller
    with pytest.raises(ZeroDivisionError):
        background.beside(lambda x: 1 / x, 0).result()


def test_a_film_refused_for_its_spacing_does_not_prepare_an_overlay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overlay's text search and base image (overlay.prepare, begun beside the grading)
    are thrown away for a film whose record is an error: a film with no spacing is refused
    before any grading, and must not pay for them (in a batch with a worker on every CPU,
    prepare runs in turn, before the refusal: 3x the time of the refusal itself)."""
    from brooker import overlay

    calls: list[object] = []
    real = overlay.prepare

    def counting(radiograph: Radiograph, *args: Any, **kwargs: Any) -> overlay.Prepared:
        calls.append(radiograph)
        return real(radiograph, *args, **kwargs)

    monkeypatch.setattr(overlay, "prepare", counting)
    result = grade_path(_png(tmp_path), out_dir=tmp_path / "out")
    assert result.error is not None
    assert result.error.code == "missing_spacing"
    assert calls == []


def test_in_turn_here_holds_for_its_thread_and_block_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """background.in_turn_here makes beside run in turn for the calling thread within the
    block (a Dask task), not for other threads, and not after it."""
    import threading

    from brooker import background

    monkeypatch.setattr(background, "_THREADS", [True])
    caller = threading.get_ident()
    other: list[bool] = []
    with background.in_turn_here():
        assert background.beside(lambda _: threading.get_ident(), None).result() == caller
        probe = threading.Thread(
            target=lambda: other.append(
                background.beside(lambda _: threading.get_ident(), None).result()
                != threading.get_ident()
            )
        )
        probe.start()
        probe.join()
    assert other == [True]
    assert background.beside(lambda _: threading.get_ident(), None).result() != caller


def test_work_begun_beside_runs_here_when_no_thread_can_be_had(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread that cannot be started (a limit on threads, the interpreter ending) is no
    error of the film's: the call runs in the caller's thread instead."""
    import threading

    from brooker import background

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(background, "_THREADS", [True])
    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert background.beside(lambda x: x + 1, 41).result() == 42


def test_a_scene_for_segmenting_a_found_hip_sets_no_detector_going() -> None:
    """analyse_scene(detect=False), the scene segment_hip makes when given none: the hip
    detector is not set going for nothing."""
    from brooker import localization as loc

    film = load_radiograph(ROOT / "sample_images" / "pelvis_1_vs_2.dcm")
    assert loc.analyse_scene(film, AnalysisConfig(), detect=False).detected is None


def test_no_spacing_says_what_and_leaves_how_to_the_command_line(tmp_path: Path) -> None:
    """``analyze`` refused a film with no spacing telling its Python caller to pass
    ``--pixel-spacing``; then (2026-12-01) with the flags and the ``AnalysisConfig`` fields
    in one message of 560 characters. The library says what is wrong (the design guide), the
    command line adds the hint, and the error's docstring names the fields ``analyze``
    takes, spelt as it takes them."""
    from brooker.cli.hints import HINTS
    from brooker.errors import MissingSpacingError

    with pytest.raises(MissingSpacingError) as caught:
        analyze(_png(tmp_path))
    message = caught.value.message
    assert message.endswith(": no physical pixel spacing: the image file carries none, so no "
                            "gap can be measured")  # fmt: skip
    assert "--" not in message
    assert "AnalysisConfig" not in message
    for flag in ("--pixel-spacing ROW,COL", "--ball-mm D", "--head-mm D", "--estimate-spacing"):
        assert flag in HINTS["missing_spacing"]
    doc = MissingSpacingError.__doc__ or ""
    fields = {f.name for f in dataclasses.fields(AnalysisConfig)}
    for field in ("pixel_spacing", "ball_mm", "head_mm", "estimate_spacing"):
        assert field in doc
        assert field in fields


def test_a_one_hip_film_says_the_other_hip_is_missing_not_ungraded() -> None:
    """A hip view holds one hip; its record has that hip alone. The caveat said "one hip in
    the field of view; the other is not graded", as if a second hip were on the film and left
    ungraded: it says the other hip was not found, and that nothing is graded for it."""
    film = ROOT / "sample_images" / "hip_view_right_4.dcm"
    rec = grade_path(film, overlay=False).to_record()
    assert [h["side"] for h in rec["hips"]] == ["right"]  # nothing stands for the left
    # a view the header names as one of the right hip says so: the left is not missing from
    # it (a radiologist's test of 2026-12-07 read "only one hip was found" as a fault)
    (one,) = [c for c in rec["caveats"] if "hip" in c and "nothing is graded" in c]
    assert one == (
        "a single-hip view ((0020,0062) Image Laterality R): the left hip is not on it, and "
        "nothing is graded for it"
    )
    # without the tag, the other hip was not found
    untagged = load_radiograph(film)
    meta = dataclasses.replace(untagged.meta, image_laterality=None)
    rec = analyze(dataclasses.replace(untagged, meta=meta)).to_record()
    (one,) = [c for c in rec["caveats"] if "one hip" in c]
    assert "other hip is outside the film or was not recognised" in one
    assert "nothing is graded for it" in one
    assert "field of view" not in one


@pytest.mark.parametrize("given", [{"pixel_spacing": (0.2, 0.2)}, "config.toml"])
def test_a_config_that_is_not_an_analysis_config_is_a_type_error(
    tmp_path: Path, given: object
) -> None:
    """A dict of options as the config raised AttributeError deep inside analyze() and
    grade_path(), and grade_many() gave every film an internal_error record (a user's test of
    2026-12-07): a TypeError saying what to pass, before any film is read."""
    from brooker.batch import grade_many

    film = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"
    for name, call in (
        ("analyze()", lambda: analyze(film, given)),  # type: ignore[arg-type]
        ("grade_path()", lambda: grade_path(film, given)),  # type: ignore[arg-type]
        ("grade_many()", lambda: list(grade_many([film], given, workers=0))),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match=rf"{re.escape(name)} takes an AnalysisConfig"):
            call()
    assert grade_path(film, None).status.value == "ok"  # None: the default, as before
