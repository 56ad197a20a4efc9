"""Issue 14: no path, special file or implausible header may stall, abort or exhaust a batch.

Each reproduction of the issue, as a test: non-UTF-8 names, rich markup and escape sequences in
names and header values, FIFOs and devices, implausible spacing, tiny images, a JPEG-LS stream
that contradicts its header, pixel values that contradict Bits Stored / Pixel Representation,
unreadable files, environment failures (exit 5), and the small ones (errors.log mode, overlay
names, the help text).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

from brooker import batch, errors
from brooker.cli import app
from brooker.cli.terminal import term
from brooker.dicom_io import check_gradable, load_radiograph
from brooker.paths import open_regular, safe_stem
from brooker.phantom_dicom import DicomVariant, write_dicom
from brooker.pipeline import grade_path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_images"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _small_film(path: Path, shape: tuple[int, int] = (40, 28), **variant: object) -> Path:
    """A 40 x 28 film: loads, and grading refuses it at once (image_too_small)."""
    px = np.random.default_rng(0).integers(0, 4096, shape).astype(np.uint16)
    kw: dict[str, object] = {"pixel_spacing_mm": (0.15, 0.15)}
    kw.update(variant)
    return write_dicom(px, path, DicomVariant(**kw))  # type: ignore[arg-type]


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _brooker(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "brooker", *args],
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


# --------------------------------------------------------------------------------------------
# 1. file names that are not UTF-8


def test_non_utf8_name_gets_a_record_resume_and_csv(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    raw_name = b"a_\xff.dcm"
    _small_film(Path(os.fsdecode(os.path.join(os.fsencode(d), raw_name))))
    out = tmp_path / "out"
    args = ["grade", "d", "--out", "out", "--csv", "out/g.csv", "--json", "--workers", "1"]
    first = _brooker(*args, cwd=tmp_path)
    assert first.returncode == 3, first.stderr
    assert b"Traceback" not in first.stderr
    assert b"\\xff" in first.stderr  # shown escaped on the terminal
    (rec,) = _records(out / "results.jsonl")
    assert os.fsencode(rec["file"]) == b"d/" + raw_name  # type: ignore[arg-type]
    assert rec["error"]["code"] == "image_too_small"  # type: ignore[index]
    assert json.loads(first.stdout)["file"] == rec["file"]
    assert b"d/" + raw_name in (out / "g.csv").read_bytes()  # the CSV keeps the name's bytes
    json.loads((out / "manifest.json").read_bytes())  # valid UTF-8 JSON
    again = _brooker(*args, "--resume", cwd=tmp_path)
    assert again.returncode == 3, again.stderr
    assert b"1 from an earlier run" in again.stderr
    assert len(_records(out / "results.jsonl")) == 1


def test_files_from_reads_names_as_bytes(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"a_\xff.dcm\n\n  b.dcm  \n")
    assert batch.read_files_from(listing) == [os.fsdecode(b"a_\xff.dcm"), "b.dcm"]


def test_record_line_escapes_surrogates_as_json() -> None:
    line = batch.record_line({"file": os.fsdecode(b"x\xfe.dcm")})
    line.encode("utf-8")  # no raw surrogate left
    assert json.loads(line)["file"] == os.fsdecode(b"x\xfe.dcm")


# --------------------------------------------------------------------------------------------
# 2. rich markup and control characters in names and header values


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("x[/b].dcm", "x[/b].dcm"),
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("a\nb\tc", "a\\x0ab\\x09c"),
        ("evil\u202etxt.dcm", "evil\\u202etxt.dcm"),
        (os.fsdecode(b"n\xff"), "n\\xff"),
        ("\u00e9l\u00e8ve.dcm", "\u00e9l\u00e8ve.dcm"),
    ],
)
def test_term_escapes_controls_and_keeps_markup_as_text(text: str, shown: str) -> None:
    assert term(text) == shown


def test_markup_and_escapes_in_file_names(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d / "x[").mkdir(parents=True)
    for name in ("x[/b].dcm", "[bold]k.dcm", "e\x1b]0;pwn\x07.dcm"):
        _small_film(d / name)
    for extra in ([], ["--json"]):
        res = _brooker("grade", str(d), "--out", "out", "--workers", "1", *extra, cwd=tmp_path)
        assert res.returncode == 3, res.stderr
        both = res.stdout + res.stderr
        assert b"Traceback" not in both
        assert b"\x1b" not in both
        assert b"[bold]k.dcm" in res.stderr
        assert b"x[/b].dcm" in res.stderr


def test_markup_and_escapes_in_header_values(tmp_path: Path) -> None:
    hostile = "[/b]\x1b]0;t\x07"
    path = _small_film(
        tmp_path / "h.dcm",
        view_position=hostile,
        patient_orientation=(hostile, "F"),
        extra=((0x00080018, "UI", "1.2.[/b]"),),
    )
    res = CliRunner().invoke(app, ["inspect", str(path)])
    assert res.exit_code == 0, res.output
    assert res.exception is None
    assert "\x1b" not in res.output
    assert "[/b]" in res.output


# --------------------------------------------------------------------------------------------
# 3. FIFOs and devices


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_and_device_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "named.fifo"
    os.mkfifo(fifo)
    d = tmp_path / "d"
    d.mkdir()
    os.mkfifo(d / "inner.dcm")
    _small_film(d / "film.dcm")
    res = _brooker(
        "grade", "named.fifo", "/dev/zero", "d", "--out", "out", "--json", "--timeout", "5",
        "--workers", "1", cwd=tmp_path, timeout=60,
    )
    assert res.returncode == 3, res.stderr
    recs = {r["file"]: r for r in _records(tmp_path / "out" / "results.jsonl")}
    assert recs["named.fifo"]["error"]["code"] == "not_a_regular_file"  # type: ignore[index]
    assert recs["/dev/zero"]["error"]["code"] == "not_a_regular_file"  # type: ignore[index]
    assert "d/inner.dcm" not in recs
    assert b"d/inner.dcm" in res.stderr  # reported, not silently skipped
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["inputs"]["skipped_not_regular"] == 1
    assert manifest["inputs"]["skipped_not_regular_files"] == ["d/inner.dcm"]


def test_a_dangling_link_named_like_a_film_gets_a_record(tmp_path: Path) -> None:
    """A film's link whose target is gone (an archive's disk not mounted) in a folder was only
    counted as "not a regular file": with --quiet nothing said it was missing, and the run
    exited 0. Named like a film, it is graded and gets its not_found record, which says where
    the link points; a dangling link of another name is still skipped, and listed."""
    d = tmp_path / "d"
    d.mkdir()
    _small_film(d / "film.dcm")
    os.symlink(tmp_path / "unmounted" / "IM0002.dcm", d / "IM0002.dcm")
    os.symlink(tmp_path / "unmounted" / "notes", d / "notes")
    # a second link to the same missing film, and a chain of links ending in nothing: each
    # is missing (keyed by the target, all but one vanished)
    os.symlink(tmp_path / "unmounted" / "IM0002.dcm", d / "IM0003.dcm")
    os.symlink("IM0002.dcm", d / "IM0004.dcm")
    res = _brooker(
        "grade", "d", "--out", "out", "--quiet", "--json", "--workers", "1", cwd=tmp_path
    )
    assert res.returncode == 3, res.stderr
    recs = {r["file"]: r for r in _records(tmp_path / "out" / "results.jsonl")}
    gone = os.path.realpath(tmp_path / "unmounted" / "IM0002.dcm")  # where the chain ends
    for name in ("IM0002.dcm", "IM0003.dcm", "IM0004.dcm"):
        err = recs[f"d/{name}"]["error"]
        assert err["code"] == "not_found"  # type: ignore[index]
        assert err["message"] == (  # type: ignore[index]
            f"d/{name}: a symbolic link to {gone}, which does not exist"
        )
    assert "d/notes" not in recs
    inputs = json.loads((tmp_path / "out" / "manifest.json").read_text())["inputs"]
    assert inputs["skipped_not_regular_files"] == ["d/notes"]
    # a file that is simply not there still says so plainly
    with pytest.raises(errors.InputNotFoundError, match="no such file"):
        open_regular(tmp_path / "nothing.dcm")


def test_open_regular_refuses_special_files(tmp_path: Path) -> None:
    with pytest.raises(errors.SpecialFileError, match="character device"):
        open_regular("/dev/zero")
    with pytest.raises(errors.SpecialFileError, match="folder"):
        open_regular(tmp_path)
    with pytest.raises(errors.InputNotFoundError):
        open_regular(tmp_path / "absent")
    with pytest.raises(errors.SpecialFileError):
        load_radiograph("/dev/zero")


def test_a_dash_is_a_missing_file_that_says_films_are_not_read_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cat film.dcm | brooker grade -`` reads no film from standard input: "-" is a file's
    name there, and missing; its error says so, and where a list of paths can come from. The
    only path given missing, nothing is graded (exit 4) and no --out is made; with another
    input, "-" gets its not_found record."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["grade", "-", "--out", "out", "--json"], input=b"DICM")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "not from standard input" in result.stderr
    assert "--files-from -" in result.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "notes.txt").write_text("not a film")
    result = CliRunner().invoke(
        app, ["grade", "-", "notes.txt", "--out", "out", "--json"], input=b"DICM"
    )
    assert result.exit_code == 3
    rec = next(json.loads(line) for line in result.stdout.splitlines() if '"-"' in line)
    assert rec["error"]["code"] == "not_found"
    assert "not from standard input" in rec["error"]["message"]
    assert "--files-from -" in rec["error"]["message"]
    with pytest.raises(errors.InputNotFoundError, match=r"absent: no such file or folder$"):
        open_regular(tmp_path / "absent")


# --------------------------------------------------------------------------------------------
# 4. spacing; 5. tiny images


@pytest.mark.parametrize("spacing_mm", [3.0, 10.0, 100.0, 1e-6, 1e308])
def test_implausible_spacing_is_a_typed_error(tmp_path: Path, spacing_mm: float) -> None:
    path = _small_film(tmp_path / "s.dcm", pixel_spacing_mm=(spacing_mm, spacing_mm))
    with pytest.raises(errors.ImplausibleSpacingError, match=r"\(0028,0030\) Pixel Spacing"):
        load_radiograph(path)
    with pytest.raises(errors.ImplausibleSpacingError, match="given by the user"):
        load_radiograph(_small_film(tmp_path / "u.dcm"), pixel_spacing=(spacing_mm, spacing_mm))


def test_a_film_larger_than_any_detector_is_a_unit_error(tmp_path: Path) -> None:
    px = np.zeros((2000, 40), np.uint16)
    path = write_dicom(px, tmp_path / "long.dcm", DicomVariant(pixel_spacing_mm=(0.9, 0.9)))
    with pytest.raises(errors.ImplausibleSpacingError, match="larger than any detector"):
        load_radiograph(path)


def test_implausible_tag_falls_back_to_a_plausible_one(tmp_path: Path) -> None:
    path = _small_film(
        tmp_path / "f.dcm", pixel_spacing_mm=(1.5, 1.5), imager_pixel_spacing_mm=(0.15, 0.15)
    )
    rad = load_radiograph(path)
    assert rad.spacing is not None
    assert rad.spacing.row_mm == pytest.approx(0.15)
    assert any("plausible" in c for c in rad.caveats)


@pytest.mark.parametrize(
    ("shape", "spacing_mm"),
    [
        ((1, 1), 0.2),
        ((2, 2), 0.2),
        ((1, 65535), 0.02),
        ((65535, 1), 0.02),
        ((31, 400), 0.2),
        ((64, 64), 0.02),  # enough pixels, but 1.3 mm: the 1 mm analysis grid had none
        ((40, 400), 0.04),
    ],
)
def test_tiny_images_are_a_typed_error(
    tmp_path: Path, shape: tuple[int, int], spacing_mm: float
) -> None:
    path = write_dicom(
        np.random.default_rng(0).integers(0, 4096, shape).astype(np.uint16),
        tmp_path / "t.dcm",
        DicomVariant(pixel_spacing_mm=(spacing_mm, spacing_mm)),
    )
    load_radiograph(path)  # inspect can still show it
    result = grade_path(path)
    assert result.error is not None
    assert result.error.code == "image_too_small"


def test_hand_built_radiograph_is_checked_too(tmp_path: Path) -> None:
    import dataclasses

    from brooker.models import PixelSpacing, SpacingSource

    rad = load_radiograph(SAMPLES / "pelvis_0_vs_3.dcm")
    bad = dataclasses.replace(rad, spacing=PixelSpacing(50.0, 50.0, SpacingSource.USER))
    with pytest.raises(errors.ImplausibleSpacingError):
        check_gradable(bad)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_hand_built_radiograph_with_non_finite_pixels_is_refused(value: float) -> None:
    # the loaders refuse non-finite pixels; a Radiograph built by hand reached the hip detector
    # with them (one NaN pixel: ValueError from np.bincount, not a BrookerError)
    import dataclasses

    from brooker import analyze

    rad = load_radiograph(SAMPLES / "pelvis_0_vs_3.dcm")
    px = rad.pixels.copy()
    px[100, 100] = value
    bad = dataclasses.replace(rad, pixels=px)
    with pytest.raises(errors.UnsupportedPixelDataError, match="non-finite"):
        check_gradable(bad)
    with pytest.raises(errors.UnsupportedPixelDataError, match="non-finite"):
        analyze(bad)


# --------------------------------------------------------------------------------------------
# 6. a compressed stream that contradicts the header


@pytest.mark.parametrize("syntax", ["jpeg_ls", "jpeg_2000"])
def test_declared_columns_checked_before_decoding(tmp_path: Path, syntax: str) -> None:
    src = _small_film(
        tmp_path / "src.dcm", (40, 36), transfer_syntax=syntax, pixel_spacing_mm=(0.02, 0.02)
    )
    ds = pydicom.dcmread(src)
    ds.Columns = 65535
    ds.save_as(tmp_path / "wide.dcm")
    # in a subprocess: a decoder abort would kill the process, not raise
    res = _brooker("inspect", "wide.dcm", "--json", cwd=tmp_path, timeout=60)
    assert res.returncode == 3, res.stderr
    assert json.loads(res.stdout)["error"]["code"] == "size_mismatch"


# --------------------------------------------------------------------------------------------
# 7. pixel values against Bits Stored / Pixel Representation


@pytest.mark.parametrize(("keyword", "value"), [("BitsStored", 1), ("PixelRepresentation", 1)])
def test_pixel_values_that_contradict_the_header(
    tmp_path: Path, keyword: str, value: int
) -> None:
    ds = pydicom.dcmread(SAMPLES / "pelvis_0_vs_3.dcm")
    setattr(ds, keyword, value)
    ds.save_as(tmp_path / "m.dcm")
    with pytest.raises(errors.ImplausiblePixelValuesError):
        load_radiograph(tmp_path / "m.dcm")


def test_a_few_overlay_bits_are_a_caveat(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:200, 0:200]
    px = (xx * 10 + yy * 5).astype(np.uint16)  # smooth, 12 bits
    px[10:12, 10:60] |= 1 << 15  # an embedded overlay line
    path = write_dicom(
        px, tmp_path / "o.dcm", DicomVariant(pixel_spacing_mm=(0.2, 0.2), bits_stored=16)
    )
    ds = pydicom.dcmread(path)
    ds.BitsStored, ds.HighBit = 12, 11
    ds.save_as(path)
    rad = load_radiograph(path)
    assert any("above (0028,0101) Bits Stored" in c for c in rad.caveats)
    assert float(rad.pixels.max()) <= 4095


def test_signed_data_is_not_flagged(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:200, 0:200]
    px = (xx * 10 - 1000 + yy).astype(np.int16)  # -1000 .. 1190, signed 12 bits
    path = write_dicom(
        (px.astype(np.int32) & 0xFFF).astype(np.uint16),
        tmp_path / "s.dcm",
        DicomVariant(pixel_spacing_mm=(0.2, 0.2), extra=((0x00280103, "US", 1),)),
    )
    rad = load_radiograph(path)
    assert float(rad.pixels.min()) == pytest.approx(-1000)


# --------------------------------------------------------------------------------------------
# 8. unreadable files and folders


def test_unreadable_files_and_folders_in_a_folder_get_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "d"
    (d / "locked").mkdir(parents=True)
    _small_film(d / "ok.dcm")
    (d / "secret.dcm").write_bytes(b"x" * 200)
    real_sniff, real_scandir = batch._sniff_head, os.scandir

    def sniff(path: object) -> tuple[bool, bytes]:
        if str(path).endswith("secret.dcm"):
            raise errors.UnreadableInputError("cannot be read (Permission denied)", str(path))
        return real_sniff(path)  # type: ignore[arg-type]

    def scandir(path: object = ".") -> object:
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(batch, "_sniff_head", sniff)
    monkeypatch.setattr(batch.os, "scandir", scandir)
    found = batch.discover([d])
    assert set(found.unreadable) == {str(d / "locked"), str(d / "secret.dcm")}
    assert set(found.files) == {str(d / "locked"), str(d / "ok.dcm"), str(d / "secret.dcm")}
    assert found.skipped_non_dicom == 0
    rec = batch.grade_one(str(d / "locked"))
    assert rec.error is not None
    assert rec.error.code == "unreadable"


@pytest.mark.skipif(IS_ROOT, reason="root reads every file")
def test_unreadable_file_on_the_command_line_is_a_record(tmp_path: Path) -> None:
    locked = tmp_path / "locked.dcm"
    _small_film(locked)
    locked.chmod(0)
    (tmp_path / "other.txt").write_bytes(b"not dicom " * 30)
    res = _brooker("grade", "locked.dcm", "other.txt", "--out", "out", "--json", cwd=tmp_path)
    assert res.returncode == 3, res.stderr
    recs = {r["file"]: r for r in _records(tmp_path / "out" / "results.jsonl")}
    assert recs["locked.dcm"]["error"]["code"] == "unreadable"  # type: ignore[index]
    assert "other.txt" in recs


# --------------------------------------------------------------------------------------------
# 9. environment failures: typed, exit 5, found before any work


def test_out_that_is_a_file_fails_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    _small_film(tmp_path / "f.dcm")
    res = CliRunner().invoke(
        app, ["grade", str(tmp_path / "f.dcm"), "--out", str(tmp_path / "out")]
    )
    assert res.exit_code == 5, res.output
    assert "output_not_writable" in res.output
    assert "internal error" not in res.output


@pytest.mark.parametrize(
    ("csv_name", "code"),
    # "o": the --out folder, not there yet (exit 5 once --out had made it a folder)
    [("csvdir", 2), ("afile/g.csv", 5), ("o", 2), ("o/../o", 2)],
)
def test_unusable_csv_fails_before_any_work(
    tmp_path: Path, csv_name: str, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "csvdir").mkdir()
    (tmp_path / "afile").write_text("x")
    _small_film(tmp_path / "f.dcm")

    def no_grading(*args: object, **kwargs: object) -> None:
        raise AssertionError("graded before the --csv check")

    monkeypatch.setattr(batch, "grade_many", no_grading)
    res = CliRunner().invoke(
        app,
        ["grade", str(tmp_path / "f.dcm"), "--out", str(tmp_path / "o"), "--csv",
         str(tmp_path / csv_name)],
    )
    assert res.exit_code == code, res.output  # 2: typer's own check that it is not a folder
    if csv_name.startswith("o"):
        assert "is the --out folder or one above it" in " ".join(
            res.output.replace("\u2502", " ").split()
        )
        assert not (tmp_path / "o").exists()  # refused before --out was made


def test_a_csv_above_the_out_folder_or_an_existing_file_as_both(tmp_path: Path) -> None:
    """A --csv naming a folder --out is made in is refused as --out itself is (exit 2); one
    naming an existing file that is also --out is --out's error (not a folder: exit 5), not
    called "the --out folder"."""
    _small_film(tmp_path / "f.dcm")
    film = str(tmp_path / "f.dcm")
    res = CliRunner().invoke(
        app, ["grade", film, "--out", str(tmp_path / "o" / "sub"), "--csv", str(tmp_path / "o")]
    )
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "o").exists()
    (tmp_path / "afile").write_text("x")
    same = str(tmp_path / "afile")
    res = CliRunner().invoke(app, ["grade", film, "--out", same, "--csv", same])
    assert res.exit_code == 5, res.output
    assert "--out is not a folder" in res.output
    assert (tmp_path / "afile").read_text() == "x"


def test_disk_full_while_writing_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_bytes(b"not dicom " * 30)

    def full(self: batch.ResultsWriter, record: object) -> None:
        raise errors.output_error(OSError(errno.ENOSPC, "No space left on device"), self.path)

    monkeypatch.setattr(batch.ResultsWriter, "write", full)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["grade", str(tmp_path / "a.txt"), "--out", str(out)])
    assert res.exit_code == 5, res.output
    assert "disk_full" in res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "failed"
    assert manifest["error"]["code"] == "disk_full"


def test_a_full_disk_names_the_file_that_could_not_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write or fsync that fails on a full disk raises an OSError with no file name: each
    film's record said "output: cannot write: No space left on device" where a refused
    folder names its overlay (a robustness test of 2026-12-08). The file being written is
    named, never its temporary file, and the temporary file is gone."""
    from brooker import atomic

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    target = tmp_path / "o" / "film-0123456789abcdef.png"
    with pytest.raises(OSError, match="No space left") as caught:
        atomic.atomic_write_bytes(target, b"png")
    assert caught.value.filename == str(target)
    failure = errors.output_error(caught.value, str(caught.value.filename))
    assert failure.code == "disk_full"
    assert str(target) in str(failure)
    assert not list((tmp_path / "o").iterdir())
    # a --csv written through as a stream (a FIFO, /dev/fd/N) names it too
    fifo = tmp_path / "csv.fifo"
    os.mkfifo(fifo)

    def stream_full(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(fifo, os.O_WRONLY)
    try:
        monkeypatch.setattr(atomic.os, "write", stream_full)
        monkeypatch.setattr(atomic, "open_descriptor", lambda named: writer)
        with pytest.raises(OSError, match="No space left") as caught:
            atomic.atomic_write_bytes(fifo, b"a,b\n", follow=True)
        assert caught.value.filename == str(fifo)
    finally:
        os.close(writer)
        os.close(reader)


def test_overlay_write_failure_is_an_environment_record(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def grade(path: str, config: object = None, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.png"))

    (tmp_path / "f.dcm").write_bytes(b"x" * 10)
    rec = batch.grade_one(str(tmp_path / "f.dcm"), grade_fn=grade)  # type: ignore[arg-type]
    assert rec.error is not None
    assert rec.error.code == "disk_full"
    assert "disk_full" in batch.TRANSIENT_ERROR_CODES


# --------------------------------------------------------------------------------------------
# 10. small ones


def test_errors_log_is_0644(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        batch._log_traceback(str(tmp_path), "f.dcm", "Traceback ...")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / batch.ERROR_LOG_NAME).stat().st_mode) == 0o644


def test_overlay_names_never_start_with_a_dash(tmp_path: Path) -> None:
    assert safe_stem("--rf-01234567") == "rf-01234567"
    assert safe_stem("-") == "image"
    src = SAMPLES / "pelvis_3_vs_2_mono1.dcm"
    film = tmp_path / "--rf.dcm"
    shutil.copy(src, film)
    result = grade_path(film, out_dir=tmp_path / "o")
    if result.overlay is None:
        pytest.skip(f"the sample is not graded on this engine ({result.status})")
    assert not Path(result.overlay).name.startswith("-")


def test_an_overlay_name_given_with_its_png_is_not_doubled(tmp_path: Path) -> None:
    """``grade_path(..., overlay_name="x.png")`` wrote ``x.png.png``."""
    film = tmp_path / "film.dcm"
    shutil.copy(SAMPLES / "knee_negative.dcm", film)
    for given, written in (("x.png", "x.png"), ("y.PNG", "y.png"), ("z", "z.png")):
        result = grade_path(film, out_dir=tmp_path / "o", overlay_name=given)
        assert result.overlay is not None, result
        assert Path(result.overlay).name == written


def test_an_overlay_named_with_its_png_is_removed_with_its_film(tmp_path: Path) -> None:
    """``grade_many``'s ``names`` given with ``.png``: the overlay is written ``x.png``, and
    the removals that never reach grade_path (a film gone, over the time limit, a dead
    worker) looked for ``x.png.png`` and left the picture beside the film's error record (a
    review of 2026-12-07). One name for writing and removing: overlay.overlay_stem."""
    from brooker.batch import grade_many
    from brooker.config import AnalysisConfig

    film = tmp_path / "film.dcm"
    shutil.copy(SAMPLES / "knee_negative.dcm", film)
    out = tmp_path / "o"
    names = {str(film): "x.png"}
    first = list(grade_many([film], AnalysisConfig(), workers=0, out_dir=out, names=names))
    assert [Path(r.overlay or "").name for r in first] == ["x.png"]
    film.unlink()
    gone = list(grade_many([str(film)], AnalysisConfig(), workers=0, out_dir=out,
                           names=names, resume=True))  # fmt: skip
    assert [r.error.code for r in gone if r.error] == ["not_found"]
    assert not (out / "x.png").exists()


def test_an_out_dir_that_is_a_file_is_refused_before_any_film_is_read(tmp_path: Path) -> None:
    """An ``out_dir`` that is a file raised ``FileExistsError`` (naming no ``out_dir``) as the
    first overlay was written, after the film was graded; the API's three entries now refuse
    it with ``NotADirectoryError`` first. (The command line's --out says so with exit 5.)"""
    from brooker.batch import grade_many
    from brooker.config import AnalysisConfig

    afile = tmp_path / "afile"
    afile.write_text("mine")
    film = SAMPLES / "knee_negative.dcm"
    with pytest.raises(NotADirectoryError, match="out_dir is a file"):
        grade_path(film, out_dir=afile)
    with pytest.raises(NotADirectoryError, match="out_dir is a file"):
        list(grade_many([film], AnalysisConfig(), workers=0, out_dir=afile))
    assert afile.read_text() == "mine"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(NotADirectoryError, match="a link to nothing"):
        grade_path(film, out_dir=tmp_path / "dangling")
    with pytest.raises(NotADirectoryError, match=r"cannot be made: .*afile is not a folder"):
        grade_path(film, out_dir=afile / "sub" / "deeper")
    assert grade_path(film, out_dir=tmp_path / "new" / "sub").overlay is not None  # made
    # with no overlay asked for, grade_path writes nothing there: nothing to refuse
    assert grade_path(film, out_dir=afile, overlay=False).status.value == "ungradable"


def test_an_overlay_name_cannot_leave_the_output_folder(tmp_path: Path) -> None:
    """``overlay_name`` (and ``grade_many``'s ``names``) is a base name: ``../x`` or ``/x``
    wrote the overlay outside ``out_dir`` (``/x.png`` for ``../../x``), and an error record's
    cleanup removed ``<name>.png`` there."""
    assert "/" not in safe_stem("../../x")
    assert safe_stem("a\0b") == "a_b"
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    (out / "sub").mkdir()
    victim = tmp_path / "deep" / "precious.png"
    victim.write_bytes(b"someone else's file")
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not a radiograph")
    res = grade_path(bad, out_dir=out, overlay_name="sub/../../precious")
    assert res.status.value == "error"
    assert victim.read_bytes() == b"someone else's file"
    film = tmp_path / "film.dcm"
    shutil.copy(SAMPLES / "pelvis_1_vs_2.dcm", film)
    result = grade_path(film, out_dir=out, overlay_name="../escaped")
    assert result.overlay is not None
    assert Path(result.overlay).resolve().parent == out.resolve()
    assert not (tmp_path / "deep" / "escaped.png").exists()


def test_help_shows_the_dask_extra() -> None:
    res = CliRunner().invoke(app, ["grade", "--help"], env={"COLUMNS": "200"}, terminal_width=200)
    assert "brooker[dask]" in res.output


def test_csv_keeps_surrogate_names(tmp_path: Path) -> None:
    name = os.fsdecode(b"z\xfa.dcm")
    batch.write_csv(tmp_path / "g.csv", [{"file": name, "status": "error", "hips": []}])
    data = (tmp_path / "g.csv").read_bytes()
    assert b"z\xfa.dcm" in data
    rows = list(csv.reader(data.decode("utf-8-sig", "surrogateescape").splitlines()))
    assert rows[1][0] == name


# --------------------------------------------------------------------------------------------
# found by the fuzz corpus


def test_rle_decoder_panic_is_a_bad_file_not_a_dead_worker(tmp_path: Path) -> None:
    """pylibjpeg-rle panics (pyo3 PanicException, a BaseException) on these flipped bytes;
    the loader goes on to the next decoder plugin or reports the file, it never dies."""
    yy, xx = np.mgrid[0:64, 0:64]
    px = ((xx * 30 + yy * 20) % 4096).astype(np.uint16)
    path = write_dicom(
        px, tmp_path / "r.dcm", DicomVariant(transfer_syntax="rle", pixel_spacing_mm=(0.2, 0.2))
    )
    data = bytearray(path.read_bytes())
    assert len(data) == 6356  # the flips below are positions in this exact file
    for pos, xor in ((1298, 22), (3044, 213), (3170, 201)):
        data[pos] ^= xor
    path.write_bytes(bytes(data))
    try:
        load_radiograph(path)
    except errors.BrookerError:
        pass


def test_an_empty_path_names_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``analyze("")`` is not the working folder (``Path("")`` is ``.``): a ``not_found``
    error saying the path is empty."""
    import brooker
    from brooker.paths import check_regular_file

    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.InputNotFoundError, match="an empty path names no file"):
        brooker.analyze("")
    for empty in ("", b""):
        with pytest.raises(errors.InputNotFoundError, match="an empty path names no file"):
            check_regular_file(empty)
    from brooker.pipeline import grade_path

    failed = grade_path("")  # named as typed, as a batch's record names it
    assert failed.error is not None
    assert failed.error.message == '"": an empty path names no file'
