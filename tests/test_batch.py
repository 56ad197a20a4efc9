"""brooker.batch: discovery, sharding, the worker pool (timeout, crash, bug), outputs, resume.

The machinery is tested with module-level stand-ins for ``grade_path`` (``grade_fn=``), which
the worker processes import by name; the real engine end to end is in test_cli_grade.py.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from brooker import batch, report, worker_server
from brooker._version import __version__
from brooker.errors import ConfigError
from brooker.models import (
    BrookerGrade,
    GradingResult,
    HipResult,
    ImageSide,
    PatientSide,
    Status,
)

ROOT = Path(__file__).resolve().parents[1]
PREAMBLE = b"\0" * 128 + b"DICM"


# --- stand-ins for grade_path, imported by name in the workers -------------------------------


def fake_grade(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """A grade from the file's content; markers in the content make it slow, crash or fail."""
    data = Path(path).read_bytes()
    if b"SLOW" in data:
        time.sleep(60)
    if b"CRASH" in data:
        os.kill(os.getpid(), signal.SIGKILL)
    if b"BUG" in data:
        raise ZeroDivisionError("division by zero\nsecond line")
    if b"NOHIP" in data:
        return GradingResult(
            file="ignored", status=Status.UNGRADABLE, version=__version__, reason="no hip"
        )
    if b"NAP" in data:
        time.sleep(0.25)
    if b"CHATTER" in data or b"ABORT" in data or b"HANG" in data:  # a decoder's warning
        with contextlib.suppress(OSError):  # C code writing to a closed stderr goes on
            os.write(2, b"TIFFReadDirectory: Warning, Unknown field with tag 50838\n")
    if b"ABORT" in data:  # ... and then a C library's abort(), at once
        os.abort()
    if b"HANG" in data:  # ... or a decoder that never returns
        time.sleep(60)
    grade = BrookerGrade(len(data) % 5)
    hips = tuple(
        HipResult(side, half, grade, (10.0, 20.0), prosthesis=side is PatientSide.LEFT)
        for side, half in ((PatientSide.RIGHT, ImageSide.LEFT), (PatientSide.LEFT, ImageSide.RIGHT))
    )
    return GradingResult(file="ignored", status=Status.OK, version=__version__, hips=hips)


def threads_grade(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """Ungradable, its reason whether this worker runs a film's parts side by side."""
    from brooker import background

    reason = "beside" if background._THREADS[0] else "in turn"
    return GradingResult(file="ignored", status=Status.UNGRADABLE, version=__version__,
                         reason=reason)  # fmt: skip


def _write(path: Path, payload: bytes, *, preamble: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((PREAMBLE if preamble else b"") + payload)
    return path


def _records(results, *, drop=()):  # type: ignore[no-untyped-def]
    recs = [r.to_record() if isinstance(r, GradingResult) else r for r in results]
    for r in recs:
        for k in drop:
            r.pop(k, None)
    return sorted(recs, key=lambda r: r["file"])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A nested folder: good files, repeated names, a broken one, non-DICOM files."""
    root = tmp_path / "in"
    _write(root / "a" / "IM0001", b"good-a" * 3)
    _write(root / "b" / "IM0001", b"good-b" * 4)
    _write(root / "b" / "deep" / "scan.dcm", b"good-deep")
    _write(root / "c" / "x", b"NOHIP")
    _write(root / "c" / "y", b"BUG")
    (root / "notes.txt").write_text("not a radiograph")
    # named .png but not an image (PNG/JPEG/TIFF are found by their signatures, like DICOM)
    (root / "b" / "image.png").write_bytes(b"%PDF-1.7\n" + b"\0" * 200)
    (root / "empty").write_bytes(b"")
    return root


# --- discovery -------------------------------------------------------------------------------


def _bare_dataset(tmp_path: Path, name: str, *, little: bool, implicit: bool) -> Path:
    """A data set written with no preamble and no file meta."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.Modality = "DX"
    ds.Rows = 2
    ds.Columns = 2
    p = tmp_path / name
    ds.save_as(p, implicit_vr=implicit, little_endian=little, enforce_file_format=False)
    return p


@pytest.mark.parametrize(("little", "implicit"), [(True, True), (True, False), (False, False)])
def test_bare_dataset_without_preamble_is_dicom(tmp_path: Path, little: bool, implicit: bool):
    p = _bare_dataset(tmp_path, "bare", little=little, implicit=implicit)
    assert p.read_bytes()[128:132] != b"DICM"
    assert batch.looks_like_dicom(p)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"hello world\n" * 50,
        b"\x89PNG\r\n\x1a\n" + b"\0" * 300,
        b"%PDF-1.7\n" + b"x" * 300,
        bytes(range(256)) * 4,
        b"\0" * 132,
    ],
)
def test_other_content_is_not_dicom(tmp_path: Path, content: bytes):
    p = tmp_path / "f"
    p.write_bytes(content)
    assert not batch.looks_like_dicom(p)


def test_part10_file_is_dicom(tmp_path: Path):
    assert batch.looks_like_dicom(_write(tmp_path / "noext", b"\x02\x00"))


@pytest.mark.shared
def test_every_zoo_file_is_found(zoo_dir: Path):
    found = batch.discover([zoo_dir])
    # pydicom_no_meta_no_preamble.dcm starts with a stray byte before (0008,0005): not DICOM
    # from its first byte (pydicom reads it as one bogus element), but named like a film, so
    # it is tried (and gets its record), as when it is named
    dcm = sorted(str(p) for p in zoo_dir.glob("*.dcm"))
    assert [f for f in found.files if f.endswith(".dcm")] == dcm
    assert found.skipped_non_dicom == sum(
        1 for p in zoo_dir.iterdir() if p.is_file() and not p.name.endswith(".dcm")
    )


def test_discover_nested_tree(tree: Path):
    found = batch.discover([tree])
    rel = [os.path.relpath(f, tree) for f in found.files]
    # b/image.png is no image, but named like one: an input, which gets its error record
    assert rel == ["a/IM0001", "b/IM0001", "b/deep/scan.dcm", "b/image.png", "c/x", "c/y"]
    assert found.skipped_non_dicom == 2
    assert found.skipped_files == (str(tree / "empty"), str(tree / "notes.txt"))
    assert found.missing == ()


def test_discover_no_recursive(tree: Path):
    assert batch.discover([tree], recursive=False).files == ()
    assert len(batch.discover([tree / "a"], recursive=False).files) == 1


def test_a_linked_sub_folder_is_searched_once_and_a_link_cycle_ends(tmp_path: Path):
    """An archive linked in from another disk is graded (it was skipped without a count); a
    link back to an ancestor, and a second link to the same folder, search nothing twice."""
    top = tmp_path / "studies"
    _write(top / "local" / "IM1", b"one")
    _write(tmp_path / "disk2" / "IM2", b"two")
    (top / "archive").symlink_to(tmp_path / "disk2")
    (top / "archive-again").symlink_to(tmp_path / "disk2")
    (top / "local" / "up").symlink_to(top)
    found = batch.discover([top])
    # one record per film, named by a path as found: the first in sort order (a user test of
    # 2026-12-07: the last was taken, "archive-again", and a folder beside its link was
    # named by the link's path when the link's name sorted later)
    assert [os.path.relpath(f, top) for f in found.files] == ["archive/IM2", "local/IM1"]
    assert batch.discover([top], recursive=False).files == ()
    odd = tmp_path / "odd"
    _write(odd / "dir with space" / "sub" / "f.dcm", b"three")
    (odd / "link_to_dir").symlink_to(odd / "dir with space")
    assert [os.path.relpath(f, odd) for f in batch.discover([odd]).files] == [
        "dir with space/sub/f.dcm"
    ]


def test_named_files_are_always_attempted_and_missing_listed(tree: Path):
    named = tree / "notes.txt"
    found = batch.discover([named, tree / "a", tree / "nope.dcm", tree / "a" / "IM0001"])
    assert str(named) in found.files  # not DICOM, but named: attempted
    assert found.files.count(str(tree / "a" / "IM0001")) == 1  # found twice, graded once
    assert found.missing == (str(tree / "nope.dcm"),)
    assert str(tree / "nope.dcm") in found.files
    assert list(found.files) == sorted(found.files)


def test_a_named_file_is_not_also_counted_as_skipped(tree: Path):
    """A file named on the command line gets a record; the folder it lies in must not also
    count it as skipped (the summary said "skipped 1 non-DICOM file" for a graded file)."""
    fifo = tree / "c" / "fifo"
    os.mkfifo(fifo)
    found = batch.discover([tree, tree / "notes.txt", fifo])
    assert str(tree / "notes.txt") in found.files
    assert str(fifo) in found.files
    assert found.skipped_non_dicom == 1  # empty, not notes.txt
    assert found.skipped_files == (str(tree / "empty"),)
    assert found.skipped_special == ()
    alone = batch.discover([tree])
    assert alone.skipped_non_dicom == 2
    assert alone.skipped_special == (str(fifo),)


def test_a_damaged_film_in_a_folder_gets_a_record_and_the_skipped_are_named(tmp_path: Path):
    """A film whose DICM marker was overwritten, an emptied one, a text file named .dcm: found
    in a folder they were skipped and only counted (no record, named nowhere), while named on
    the command line each got its not_dicom record. A name that says film makes them inputs;
    what is still skipped (a readme, an extensionless file that is no DICOM, the resource
    fork a Mac writes beside every film it copies) is named."""
    d = tmp_path / "archive"
    _write(d / "IM0001.dcm", b"good")
    (d / "IM0002.dcm").write_bytes(b"\0" * 128 + b"XXXX" + b"\x02\x00\x01\x00OB\0\0")
    (d / "empty.DCM").write_bytes(b"")
    (d / "notes.dicom").write_text("not a film\n")
    (d / "scan.TIFF").write_bytes(b"%PDF-1.7\n" + b"\0" * 200)
    (d / "readme.txt").write_text("an archive's readme\n")
    (d / "VERSION").write_text("3\n")
    (d / "._IM0001.dcm").write_bytes(b"\x00\x05\x16\x07" + b"\0" * 60)  # AppleDouble
    found = batch.discover([d])
    assert [Path(f).name for f in found.files] == [
        "IM0001.dcm", "IM0002.dcm", "empty.DCM", "notes.dicom", "scan.TIFF"
    ]  # fmt: skip
    assert found.skipped_files == tuple(str(d / n) for n in ("._IM0001.dcm", "VERSION",
                                                            "readme.txt"))  # fmt: skip
    assert found.skipped_non_dicom == 3
    damaged = batch.grade_one(str(d / "IM0002.dcm"), overlay=False).to_record()
    assert damaged["error"]["code"] == "not_dicom"  # as when it is named


def test_folder_arguments_with_nothing_to_grade_are_named(tmp_path: Path):
    """An empty folder among other inputs was dropped without a word; a folder searched
    already (named twice, or inside another argument) is not empty for it."""
    films = tmp_path / "films"
    _write(films / "IM1", b"one")
    _write(films / "sub" / "IM2", b"two")
    empty = tmp_path / "empty"
    empty.mkdir()
    text = tmp_path / "text"
    text.mkdir()
    (text / "readme.txt").write_text("no film here")
    found = batch.discover([films, empty, text, films / ".", films / "sub"])
    assert found.empty_folders == (str(empty), str(text))
    assert batch.discover([films]).empty_folders == ()


def test_read_files_from(tmp_path: Path):
    lst = tmp_path / "list.txt"
    lst.write_text("a.dcm\n\n  b c.dcm  \n")
    assert batch.read_files_from(lst) == ["a.dcm", "b c.dcm"]


def test_read_files_from_a_list_saved_with_a_byte_order_mark(tmp_path: Path):
    """Notepad's or a spreadsheet's "UTF-8 with BOM" (and CRLF): the mark is not part of the
    first path, which would otherwise be not_found; a BOM-like start elsewhere is kept."""
    lst = tmp_path / "list.txt"
    lst.write_bytes(b"\xef\xbb\xbfin/f1.dcm\r\nin/f2.dcm\r\n")
    assert batch.read_files_from(lst) == ["in/f1.dcm", "in/f2.dcm"]
    assert batch.read_files_from(io.BytesIO(b"\xef\xbb\xbfa.dcm\n")) == ["a.dcm"]
    assert batch.read_files_from(io.BytesIO(b"a.dcm\n\xef\xbb\xbfb.dcm\n")) == [
        "a.dcm", "\ufeffb.dcm"
    ]


def test_read_files_from_refuses_a_nul_separated_list(tmp_path: Path):
    """A NUL byte (``find -print0``) is in no path: the list is a usage error naming the line,
    not paths that make every later path function raise ValueError."""
    lst = tmp_path / "list.txt"
    lst.write_bytes(b"a.dcm\nb.dcm\0c.dcm\0\n")
    with pytest.raises(ConfigError, match="line 2 holds a NUL byte"):
        batch.read_files_from(lst)
    with pytest.raises(ConfigError, match="line 1 holds a NUL byte"):
        batch.read_files_from(io.BytesIO(b"b.dcm\0c.dcm\0"))


# --- sharding --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0/1", "2/3", "0/4"])
def test_parse_shard(text: str):
    i, n = batch.parse_shard(text)
    assert f"{i}/{n}" == text


@pytest.mark.parametrize("text", [" 2/3", "2/3 ", " 2 / 3 "])
def test_parse_shard_drops_spaces_around_its_numbers(text: str):
    """As click's ``int`` does for ``--workers " 2"``: one reading for every whole number."""
    assert batch.parse_shard(text) == (2, 3)


@pytest.mark.parametrize("text", ["3/3", "-1/3", "1/0", "1", "a/b", "1/2/3"])
def test_parse_shard_rejects(text: str):
    with pytest.raises(ValueError, match="shard"):
        batch.parse_shard(text)


def test_shards_partition_the_inputs_stably():
    files = [f"scans/p{i}/IM{j:04d}" for i in range(20) for j in range(5)]
    parts = [batch.select_shard(files, i, 4) for i in range(4)]
    assert sorted(f for part in parts for f in part) == sorted(files)
    assert all(parts)  # 100 paths over 4 shards: none empty
    # stable across runs and machines (a hash of the path string, not Python's hash())
    assert batch.shard_of("scans/p1/IM0001", 7) == batch.shard_of("./scans//p1/IM0001", 7)
    assert batch.shard_of("scans/p1/IM0001", 1000) == 208


# --- the pool --------------------------------------------------------------------------------


def test_records_identical_for_any_worker_count(tree: Path, tmp_path: Path):
    runs = {}
    for w in (0, 1, 2):
        out = tmp_path / f"out{w}"
        runs[w] = _records(
            batch.grade_many([tree], workers=w, out_dir=out, grade_fn=fake_grade, timeout_s=30)
        )
        on_disk = batch.read_records(out / batch.RESULTS_NAME)
        assert _records(on_disk) == runs[w]
    assert runs[0] == runs[1] == runs[2]
    recs = runs[1]
    assert [r["file"] for r in recs] == list(batch.discover([tree]).files)
    # repeated names stay apart; each record has its content key
    assert len({r["file"] for r in recs}) == 6
    assert all(len(r["input_sha256"]) == 64 for r in recs)
    by_name = {os.path.relpath(r["file"], tree): r for r in recs}
    assert by_name["c/x"]["status"] == "ungradable"
    assert by_name["c/y"]["error"]["code"] == "internal_error"


def test_bug_is_one_line_record_and_logged(tree: Path, tmp_path: Path):
    out = tmp_path / "out"
    (rec,) = _records(
        batch.grade_many([tree / "c" / "y"], workers=1, out_dir=out, grade_fn=fake_grade)
    )
    assert rec["status"] == "error"
    assert rec["error"]["code"] == "internal_error"
    assert "\n" not in rec["error"]["message"]
    assert rec["error"]["message"].startswith(str(tree / "c" / "y"))
    log = (out / batch.ERROR_LOG_NAME).read_text()
    assert "Traceback" in log
    assert "ZeroDivisionError" in log


def test_timeout_and_crash_do_not_stop_the_batch(tmp_path: Path):
    files = [
        _write(tmp_path / "slow", b"SLOW"),
        _write(tmp_path / "crash", b"CRASH"),
        *(_write(tmp_path / f"ok{i}", b"x" * i) for i in range(4)),
    ]
    t0 = time.monotonic()
    # the limit counts a new worker's start-up too (it imports this module: 0.2-0.6 s on two
    # busy cores), so it is well above that; "slow" sleeps 60 s
    recs = _records(batch.grade_many(files, workers=2, grade_fn=fake_grade, timeout_s=6.0))
    elapsed = time.monotonic() - t0
    assert elapsed < 20
    by = {Path(r["file"]).name: r for r in recs}
    assert by["slow"]["error"]["code"] == "timeout"
    assert by["crash"]["error"]["code"] == "internal_error"
    assert "SIGKILL" in by["crash"]["error"]["message"]
    assert all(by[f"ok{i}"]["status"] == "ok" for i in range(4))
    assert by["slow"]["input_sha256"] == batch.file_sha256(tmp_path / "slow")


def _stuck_writing_grade(path, config=None, *, out_dir=None, **kwargs):  # type: ignore[no-untyped-def]
    """fake_grade, but for a file holding ``STUCK`` the write of its overlay (where grade_path
    writes it) hangs in its fsync (a slow disk, a hung NFS server): its temporary file is
    made, which a worker killed then leaves behind."""
    if b"STUCK" in Path(path).read_bytes():
        from brooker.atomic import atomic_write_bytes
        from brooker.overlay import overlay_name_for

        os.fsync = lambda fd: time.sleep(60)  # in this worker process only
        atomic_write_bytes(Path(out_dir) / f"{overlay_name_for(path)}.png", b"an overlay")
    return fake_grade(path)


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_worker_killed_at_the_time_limit_leaves_no_temporary_file(tmp_path: Path):
    """A worker killed while it wrote an overlay left the overlay's temporary file (megabytes)
    in --out for good."""
    out = tmp_path / "out"
    f = _write(tmp_path / "in" / "stuck", b"STUCK")
    (rec,) = _records(batch.grade_many([f], workers=1, out_dir=out, timeout_s=1.0,
                                       grade_fn=_stuck_writing_grade))  # fmt: skip
    assert rec["error"]["code"] == "timeout"
    assert _temporaries(out) == []


def test_a_stopped_batch_leaves_no_temporary_file(tmp_path: Path):
    """Stopped (Ctrl-C, SIGTERM: the generator closed) while a worker writes an overlay, the
    batch kills that worker, and takes away the temporary file it was writing."""
    out = tmp_path / "out"
    files = [_write(tmp_path / "in" / "a", b"one"), _write(tmp_path / "in" / "b", b"STUCK")]
    gen = batch.grade_many(files, workers=2, out_dir=out, timeout_s=None,
                           grade_fn=_stuck_writing_grade)  # fmt: skip
    assert Path(next(gen).file).name == "a"
    deadline = time.monotonic() + 30
    while not _temporaries(out):  # the stuck worker is in its write
        assert time.monotonic() < deadline, "the overlay's write never started"
        time.sleep(0.02)
    gen.close()
    assert _temporaries(out) == []


def test_a_run_takes_away_the_temporary_files_of_the_films_it_grades(tmp_path: Path):
    """Those a run killed with its workers (SIGKILL: no cleanup runs) left, for the films a
    resumed run grades; another film's (another shard's, grading into the same folder now)
    stay."""
    from brooker.overlay import overlay_name_for

    out = tmp_path / "out"
    out.mkdir()
    f = _write(tmp_path / "in" / "f", b"one")
    left = out / f".{overlay_name_for(f)}.png.0123456789ab.tmp"
    crop = out / f".{overlay_name_for(f)}-left.png.0123456789ab.tmp"
    other = out / ".other-0123456789abcdef.png.0123456789ab.tmp"
    for tmp in (left, crop, other):
        tmp.write_bytes(b"half an overlay")
    list(batch.grade_many([f], workers=0, out_dir=out, grade_fn=fake_grade, resume=True))
    assert _temporaries(out) == [other.name]


def drawing_grade(path, config=None, *, out_dir=None, overlay=True,  # type: ignore[no-untyped-def]
                  overlay_crops=False, overlay_name=None, **kwargs):  # fmt: skip
    """:func:`fake_grade`, drawing an overlay (an 8-bit RGB PNG, and hip crops) as
    grade_path does."""
    from brooker.overlay import encode_png, overlay_name_for

    result = fake_grade(path)
    if not (overlay and out_dir):
        return result
    stem = Path(out_dir) / (overlay_name or overlay_name_for(path))
    rgb = encode_png(np.zeros((2, 2, 3), np.uint8))
    for suffix in ("", "-right", "-left") if overlay_crops else ("",):
        Path(f"{stem}{suffix}.png").write_bytes(rgb)
    return dataclasses.replace(result, overlay=f"{stem}.png")


def test_grading_a_film_again_without_an_overlay_takes_its_old_one_away(tmp_path: Path):
    """grade_many without resume takes the records of the films it grades again out of the
    results file, but their pictures stayed: graded again with overlay=False (or under other
    names), a film kept an overlay of its earlier analysis that no record named. They go now,
    crops too; another film's record and overlay stay (the function adds to the file)."""
    film = _write(tmp_path / "in" / "IM1", b"one")
    other = _write(tmp_path / "in" / "IM2", b"two")
    out = tmp_path / "out"
    first = {Path(r["file"]).name: r for r in _records(batch.grade_many(
        [film, other], workers=0, out_dir=out, overlay_crops=True, grade_fn=drawing_grade))}
    assert len(list(out.glob("*.png"))) == 6
    kept = Path(first["IM2"]["overlay"])
    keep_too = out / "IM1-0123456789abcdef-notes.png"  # the user's, beside them: never touched
    keep_too.write_bytes(kept.read_bytes())
    (again,) = _records(
        batch.grade_many([film], workers=0, out_dir=out, overlay=False, grade_fn=drawing_grade)
    )
    assert again["overlay"] is None
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        [kept.name, f"{kept.stem}-right.png", f"{kept.stem}-left.png", keep_too.name]
    )
    recs = {Path(r["file"]).name: r for r in batch.read_records(out / batch.RESULTS_NAME)}
    assert recs["IM1"]["overlay"] is None
    assert recs["IM2"]["overlay"] == str(kept)


def test_missing_file_gets_a_record(tmp_path: Path):
    (rec,) = _records(batch.grade_many([tmp_path / "gone.dcm"], workers=1, grade_fn=fake_grade))
    assert rec["status"] == "error"
    assert rec["error"]["code"] == "not_found"


def test_a_film_that_fails_before_it_is_graded_keeps_no_earlier_overlay(tmp_path: Path):
    """An overlay an earlier run drew of a film contradicted its new error record when the
    film was gone (``--files-from``), unreadable, over the time limit or crashed its worker:
    grade_path takes it away for a film that fails to load, these never reached grade_path."""
    from brooker.overlay import overlay_name_for

    out = tmp_path / "out"
    out.mkdir()
    gone = tmp_path / "in" / "gone.dcm"
    slow = _write(tmp_path / "in" / "slow", b"SLOW")
    crash = _write(tmp_path / "in" / "crash", b"CRASH")
    drawn = io.BytesIO()
    Image.new("RGB", (4, 4)).save(drawn, "PNG")  # as every overlay is: 8-bit RGB
    for f in (gone, slow, crash):  # drawn by an earlier run, with its hip crops
        for suffix in ("", "-right", "-left"):
            (out / f"{overlay_name_for(f)}{suffix}.png").write_bytes(drawn.getvalue())
    # the limit counts a new worker's start-up too (0.2-0.6 s on two busy cores): the "gone"
    # film must get its record from a fresh worker within it; "slow" sleeps 60 s
    recs = _records(batch.grade_many([gone, slow, crash], workers=2, out_dir=out,
                                     overlay_crops=True, timeout_s=5.0,
                                     grade_fn=fake_grade))  # fmt: skip
    assert [r["error"]["code"] for r in recs] == ["internal_error", "not_found", "timeout"]
    assert all(r["overlay"] is None for r in recs)
    assert sorted(p.name for p in out.glob("*.png")) == []


def test_earlier_overlays_are_only_files_the_earlier_run_drew_and_named(tmp_path: Path):
    """What a run without --resume removes of the earlier run: the overlays its records name,
    by their names in the folder, and only regular 8-bit RGB PNGs named like an overlay: not a
    record's other file name, a link, a greyscale film, a file outside the folder, nor an
    overlay another shard's records name too."""
    from brooker.overlay import encode_png

    out = tmp_path / "out"
    out.mkdir()
    rgb = encode_png(np.zeros((2, 2, 3), np.uint8))
    grey = io.BytesIO()
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(grey, "PNG")
    mine = "f-0123456789abcdef.png"
    (out / mine).write_bytes(rgb)
    (out / "f-0123456789abcdef-right.png").write_bytes(rgb)  # a crop: no manifest says so
    (out / "notes.png").write_bytes(rgb)  # named by a record, but not an overlay's name
    (out / "g-0123456789abcdef.png").write_bytes(grey.getvalue())  # a film named like one
    target = tmp_path / "kept-0123456789abcdef.png"
    target.write_bytes(rgb)
    (out / "l-0123456789abcdef.png").symlink_to(target)
    (out / "s-0123456789abcdef.png").write_bytes(rgb)  # shard 1/2 names it too
    named = [mine, "notes.png", "g-0123456789abcdef.png", "l-0123456789abcdef.png",
             "s-0123456789abcdef.png", "missing-0123456789abcdef.png"]  # fmt: skip
    lines = [{"file": f"in/{i}", "status": "ok", "version": __version__, "hips": [],
              "overlay": str(tmp_path / "elsewhere" / n)} for i, n in enumerate(named)]  # fmt: skip
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (out / "results.shard-1-of-2.jsonl").write_text(json.dumps(lines[4]) + "\n")
    assert batch.earlier_overlays(out) == [mine]
    # a Dask run stopped before it gathered its parts: its records are there; another
    # shard's parts name their own
    (out / "p-0123456789abcdef.png").write_bytes(rgb)
    part = {**lines[0], "overlay": "p-0123456789abcdef.png"}
    (out / "part-00000.jsonl").write_text(json.dumps(part) + "\n")
    assert batch.earlier_overlays(out) == [mine, "p-0123456789abcdef.png"]
    (out / "part-shard-0-of-2-00000.jsonl").write_text(json.dumps(part) + "\n")
    assert batch.earlier_overlays(out) == [mine]
    (out / "part-00000.jsonl").unlink()
    assert batch.earlier_overlays(out, ".shard-1-of-2") == []  # named by results.jsonl too
    (out / "manifest.json").write_text(json.dumps({"options": {"overlay_crops": True}}))
    assert batch.earlier_overlays(out) == [mine, "f-0123456789abcdef-right.png"]
    assert batch.remove_earlier_overlays(out) == 2
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        {*named[1:5], "p-0123456789abcdef.png"}
    )
    assert target.exists()


def test_the_earlier_runs_thumbnails_go_with_its_overlays(tmp_path: Path) -> None:
    """A new run without --resume removed the earlier run's overlays and review page, but not
    the page's cached thumbnails of them (``.report-thumbs``): the folder held pictures of
    films no record named (a user's test of 2026-12-07). Only the removed overlays' go:
    another shard's, and files of other names, stay."""
    out = tmp_path / "out"
    cache = out / ".report-thumbs"
    cache.mkdir(parents=True)
    rgb = io.BytesIO()
    Image.new("RGB", (4, 4)).save(rgb, "PNG")
    mine, theirs = "a-0123456789abcdef.png", "b-0123456789abcdef.png"
    for name in (mine, theirs):
        (out / name).write_bytes(rgb.getvalue())
    kept = ["b-0123456789abcdef.00112233445566ff.webp", "notes.txt",
            "a-0123456789abcdef.0011.webp"]  # fmt: skip
    gone = ["a-0123456789abcdef.00112233445566ff.webp", "a-0123456789abcdef.ffeeddccbbaa9988.jpg",
            # the temporary file of one a killed build left
            ".a-0123456789abcdef.00112233445566ff.webp.0123456789ab.tmp"]  # fmt: skip
    for name in kept + gone:
        (cache / name).write_bytes(b"x")
    rec = {"file": "in/a.dcm", "status": "ok", "version": __version__, "hips": [],
           "overlay": str(out / mine)}  # fmt: skip
    (out / "results.jsonl").write_text(json.dumps(rec) + "\n")
    (out / "results.shard-1-of-2.jsonl").write_text(
        json.dumps({**rec, "file": "in/b.dcm", "overlay": str(out / theirs)}) + "\n"
    )
    # an overlay that cannot be removed stops the run (exit 5) with its record still naming
    # it: the thumbnails are gone already, so the rerun that removes it leaves none behind
    real_unlink = batch._unlink_overlays

    def refused(paths: list[str]) -> None:
        raise batch.OutputError("cannot remove it", paths[0])

    batch._unlink_overlays = refused  # type: ignore[assignment]
    try:
        with pytest.raises(batch.OutputError):
            batch.remove_earlier_overlays(out)
    finally:
        batch._unlink_overlays = real_unlink  # type: ignore[assignment]
    assert sorted(p.name for p in cache.iterdir()) == sorted(kept)
    assert (out / mine).exists()
    assert batch.remove_earlier_overlays(out) == 1
    assert sorted(p.name for p in cache.iterdir()) == sorted(kept)
    assert not (out / mine).exists()
    assert (out / theirs).exists()


def test_out_dir_that_is_a_folder_being_graded_is_refused(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``grade_many(["."], out_dir=".")``, as ``brooker grade . --out .``: the overlays would
    land among the inputs and be graded by the next run. Refused before any work, with the
    API's usage error naming the folder; a sub-folder stays fine (never searched)."""
    from brooker.errors import ConfigError

    monkeypatch.chdir(tree)
    before = sorted(p.name for p in tree.iterdir())
    for paths, out in (([Path(".")], "."), (["a", "b"], str(tree / "b"))):
        with pytest.raises(ConfigError, match="folder being graded") as caught:
            list(batch.grade_many(paths, out_dir=out, workers=0, grade_fn=fake_grade))
        assert caught.value.path == out
    assert sorted(p.name for p in tree.iterdir()) == before  # nothing written
    done = list(batch.grade_many(["a"], out_dir="sub", workers=0, grade_fn=fake_grade))
    assert [r.status for r in done] == [Status.OK]


@pytest.mark.parametrize(
    ("paths", "given"),
    [(b"a", "not bytes"), ([b"a"], "not bytes"), ([None], "not NoneType"), ([3], "not int")],
)
def test_grade_many_names_a_path_that_is_not_text(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths: Any, given: str
):
    """A bytes path (or None, or an int) is refused as ``analyze`` refuses it, naming what was
    given, before anything is written: ``b"scans/"`` was split into ints, and ``[b"scans/"]``
    failed deep in discovery with "cannot use a string pattern on a bytes-like object"."""
    monkeypatch.chdir(tree)
    out = tmp_path / "out"
    with pytest.raises(TypeError, match=f"grade_many\\(\\) takes paths .*, {given}"):
        list(batch.grade_many(paths, out_dir=out, workers=0, grade_fn=fake_grade))
    assert not out.exists()


def test_stopping_early_stops_the_workers(tmp_path: Path):
    files = [_write(tmp_path / f"f{i}", b"NAP" + b"x" * i) for i in range(6)]
    gen = batch.grade_many(files, workers=2, grade_fn=fake_grade)
    next(gen)
    import multiprocessing as mp

    gen.close()
    deadline = time.monotonic() + 5
    while any(p.name.startswith("Process") for p in mp.active_children()):
        assert time.monotonic() < deadline
        time.sleep(0.05)


# --- outputs ---------------------------------------------------------------------------------


def test_csv_caveats_split_back_into_the_records_caveats(tmp_path: Path) -> None:
    """The caveats cell is "; "-separated, but a caveat itself held "; " ("...typical 47 mm
    head; the region searched ..."): split on ";", one caveat read as two (a radiologist's
    test of 2026-12-08). Each caveat's own ";" is written "," (the centre's, the orientation's
    and the inferred bridge's were reworded; a few of the loader's still quote ";")."""

    rec = fake_grade(_write(tmp_path / "ok", b"abc")).to_record()
    rec["caveats"] = ["film-wide; with a semicolon"]
    rec["hips"][0]["caveats"] = ["one", "two; three"]
    rec["hips"][0]["limited_by"] = ["x; y", "z"]
    row = batch.csv_rows(rec)[0]
    assert row["caveats"].split("; ") == ["film-wide, with a semicolon", "one", "two, three"]
    assert row["limited_by"].split(";") == ["x, y", "z"]
    assert batch.csv_rows({**rec, "hips": []})[0]["caveats"] == "film-wide, with a semicolon"


def test_csv_one_row_per_hip_and_safe(tmp_path: Path):
    ok = fake_grade(_write(tmp_path / "ok", b"abc")).to_record()
    ok["file"] = "=HYPERLINK(evil)"
    ok["hips"][0]["fragments"] = [{"kind": "pelvic_spur"}, {"kind": "island"}]
    ok["spacing"] = {"row_mm": 0.15, "col_mm": 0.15, "source": "pixel_spacing"}
    bad = batch.error_record("caf\u00e9/IM1", "unsupported_pixel_data", "cannot decode").to_record()
    nohip = {"file": "-x", "status": "ungradable", "reason": "no hip joint found", "hips": []}
    ok["hips"][1].update(grade=None, brooker_class=None, not_graded="the femur is not seen")
    out = tmp_path / "r.csv"
    batch.write_csv(out, [ok, bad, nohip])
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == batch.CSV_COLUMNS
    assert len(rows) == 4
    assert rows[0]["file"] == "'=HYPERLINK(evil)"
    assert rows[0]["side"] == "right"
    assert rows[0]["n_fragments"] == "2"
    assert rows[0]["fragment_kinds"] == "island;pelvic_spur"
    assert rows[0]["spacing_source"] == "pixel_spacing"
    assert rows[0]["borderline"] == "false"
    assert rows[0]["weak_call"] == "false"
    # added last, each in turn: the earlier columns keep their place
    assert batch.CSV_COLUMNS[-5:] == (
        "weak_call", "class_range", "limited_by", "centres_graded", "gap_to_head"
    )  # fmt: skip
    assert rows[0]["gap_to_head"] == ""  # no gap
    measured = {**ok, "hips": [{**ok["hips"][0], "gap_to_head": True}]}
    assert batch.csv_rows(measured)[0]["gap_to_head"] is True
    assert (rows[0]["class_range"], rows[0]["limited_by"]) == ("", "")
    assert rows[0]["centres_graded"] == ""
    # graded about 1 of the 5 nearby centres: "1 of 5", not "1/5" (a date to a spreadsheet)
    partly = {**ok, "hips": [{**ok["hips"][0], "centres_graded": [1, 5]}]}
    assert batch.csv_rows(partly)[0]["centres_graded"] == "1 of 5"
    both = ["femur not segmented to the trochanter", "femoral head not segmented"]
    flagged = {**ok, "hips": [{**ok["hips"][0], "class_range": ["0", "IV"], "limited_by": both}]}
    assert batch.csv_rows(flagged)[0]["class_range"] == "0-IV"
    assert batch.csv_rows(flagged)[0]["limited_by"] == ";".join(both)
    weak = {**ok, "hips": [{**ok["hips"][0], "weak_call": True}]}
    old = {**ok, "hips": [{k: v for k, v in ok["hips"][0].items() if k != "weak_call"}]}
    assert batch.csv_rows(weak)[0]["weak_call"] is True
    assert batch.csv_rows(old)[0]["weak_call"] is False  # a record written before the field
    assert rows[1]["side"] == "left"
    assert rows[1]["prosthesis"] == "true"
    assert rows[0]["reason"] == ""  # graded
    assert rows[1]["reason"] == "the femur is not seen"  # a hip found, not graded, says why
    assert rows[1]["grade"] == ""
    assert rows[2]["file"] == "caf\u00e9/IM1"
    assert rows[2]["side"] == ""
    assert rows[2]["error_code"] == "unsupported_pixel_data"
    assert rows[2]["reason"].endswith("cannot decode")
    assert rows[3]["file"] == "'-x"
    assert rows[3]["reason"] == "no hip joint found"
    assert not list(tmp_path.glob(".tmp-*"))


def test_manifest_and_counts(tmp_path: Path):
    recs = [
        fake_grade(_write(tmp_path / "a", b"ab")).to_record(),
        {"file": "b", "status": "error", "hips": []},
    ]
    c = batch.counts(recs)
    assert c["status"] == {"ok": 1, "error": 1}
    assert c["class"] == {"IV": 2}  # 134 bytes: grade 4, two hips
    m = {**batch.environment(), "counts": c}
    batch.write_manifest(tmp_path / "manifest.json", m)
    back = json.loads((tmp_path / "manifest.json").read_text())
    assert back["tool"] == "brooker"
    assert back["dependencies"]["pydicom"]


def test_a_stop_as_the_manifest_is_opened_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A stop (brooker grade raises SIGTERM and SIGHUP as Ctrl-C's KeyboardInterrupt) landing
    the instant the temporary file was made, before the write was under way, left
    .manifest.json.<hex>.tmp in --out."""
    from brooker import atomic

    real_open = os.open

    def open_then_stopped(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        fd = real_open(path, flags, mode, **kw)
        if not str(path).endswith(".tmp"):
            return fd
        os.close(fd)
        raise KeyboardInterrupt  # the signal's handler, run as os.open returns

    monkeypatch.setattr(atomic.os, "open", open_then_stopped)
    with pytest.raises(KeyboardInterrupt):
        batch.write_manifest(tmp_path / "manifest.json", {"tool": "brooker"})
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_outputs_honour_the_umask(tmp_path: Path):
    """A site whose umask keeps new files private (077) gets private outputs: the CSV, the
    manifest and a repaired results.jsonl hold file paths (which may name patients)."""
    f = _write(tmp_path / "in" / "f", b"abc")
    out = tmp_path / "out"
    old = os.umask(0o077)
    try:
        recs = [r.to_record() for r in batch.grade_many([f], workers=0, out_dir=out,
                                                         grade_fn=fake_grade)]
        batch.write_csv(out / "r.csv", recs)
        batch.write_manifest(out / "manifest.json", {"tool": "brooker"})
        with open(out / batch.RESULTS_NAME, "ab") as fh:
            fh.write(b'{"file": "torn')  # a torn line: load_resume_state rewrites the file
        batch.load_resume_state(out / batch.RESULTS_NAME, [str(f)])
    finally:
        os.umask(old)
    for name in ("r.csv", "manifest.json", batch.RESULTS_NAME):
        assert (out / name).stat().st_mode & 0o777 == 0o600, name


# --- resume ----------------------------------------------------------------------------------


def test_resume_repairs_and_skips(tmp_path: Path):
    files = [_write(tmp_path / "in" / f"f{i}", b"x" * i) for i in range(4)]
    out = tmp_path / "out"
    full = _records(batch.grade_many(files, workers=0, out_dir=out, grade_fn=fake_grade))
    results = out / batch.RESULTS_NAME
    lines = results.read_bytes().splitlines(keepends=True)
    # keep two records, duplicate one, add a transient error for a third, tear the last line
    f2 = str(files[2])
    timeout = batch.error_record(f2, "timeout", "slow", input_sha256=batch.file_sha256(f2))
    results.write_bytes(
        lines[0]
        + lines[1]
        + lines[0]
        + (batch.record_line(timeout.to_record()) + "\n").encode()
        + lines[3][:25]
    )
    again = _records(
        batch.grade_many(files, workers=1, out_dir=out, grade_fn=fake_grade, resume=True)
    )
    assert {r["file"] for r in again} == {str(files[2]), str(files[3])}
    assert _records(batch.read_records(results)) == full
    assert len(results.read_bytes().splitlines()) == 4


def test_every_record_brooker_writes_is_read_back(tmp_path: Path) -> None:
    """The type check of a record read back (:func:`batch.record_of`) dropped records brooker
    writes itself: a file that could not be hashed (missing, a folder) has "input_sha256":
    null. Every kind of record a batch writes, graded or failed, reads back whole, as
    ``--resume`` and ``brooker report`` read it."""
    film = _write(tmp_path / "in" / "f1", b"x")
    fifo = tmp_path / "in" / "fifo"
    os.mkfifo(fifo)  # not_a_regular_file: never opened
    inputs = [str(film), str(tmp_path / "in" / "missing"), str(fifo)]
    out = tmp_path / "out"
    written = _records(batch.grade_many(inputs, workers=0, out_dir=out, grade_fn=fake_grade))
    assert {r["status"] for r in written} == {"ok", "error"}
    assert any(r.get("input_sha256") is None for r in written)
    lines = (out / batch.RESULTS_NAME).read_bytes().splitlines()
    assert len(lines) == 3
    assert all(batch.record_of(line) is not None for line in lines)
    assert _records(batch.read_records(out / batch.RESULTS_NAME)) == written


@pytest.mark.parametrize(
    "edit",
    [
        {"hips": "none"},
        {"hips": [1, 2]},
        {"error": "unreadable"},
        {"caveats": 5},
        {"caveats": [5]},
        {"status": None},
        {"hips": [{"side": "right", "grade": "III"}]},
        {"hips": [{"side": "right", "grade": True}]},
        {"hips": [{"side": "right", "gap_mm": "9.5"}]},
        {"hips": [{"side": "right", "caveats": "one"}]},
        {"hips": [{"side": "right", "fragments": ["island"]}]},
        # the CSV wrote "None-{'a': 1}" for this one (a review of 2026-12-07)
        {"hips": [{"side": "right", "class_range": [None, {"a": 1}]}]},
        {"hips": [{"side": "right", "class_range": ["0", "V"]}]},
        {"hips": [{"side": "right", "class_range": ["0"]}]},
        {"hips": [{"side": "right", "limited_by": "femur"}]},
        {"hips": [{"side": "right", "limited_by": [1]}]},
        {"hips": [{"side": "right", "centres_graded": ["1", "5"]}]},
        {"hips": [{"side": "right", "centres_graded": [1]}]},
        {"hips": [{"side": "right", "centres_graded": [True, 5]}]},
    ],
)
def test_a_record_with_a_value_of_another_type_is_dropped(
    tmp_path: Path, edit: dict[str, Any]
) -> None:
    """A line whose values are not of the types brooker writes (a script's edit) crashed what
    read it: `brooker report` (AttributeError on "hips": "str", TypeError on "caveats": 5),
    exit 1. It is dropped like a torn line; the line brooker wrote is kept."""
    films = [_write(tmp_path / "in" / "f1", b"x")]
    out = tmp_path / "out"
    list(batch.grade_many(films, workers=0, out_dir=out, grade_fn=fake_grade))
    line = (out / batch.RESULTS_NAME).read_bytes().splitlines()[0]
    assert batch.record_of(line) is not None
    bad = json.dumps({**json.loads(line), **edit})
    assert batch.record_of(bad) is None
    (out / batch.RESULTS_NAME).write_text(bad + "\n" + line.decode() + "\n")
    assert [r["file"] for r in batch.read_records(out / batch.RESULTS_NAME)] == [str(films[0])]
    assert report.write_report(out).films == 1  # the review page reads the file's records


@pytest.mark.parametrize("resume", [True, False])
def test_a_hand_edited_results_file_is_repaired_not_a_crash(tmp_path: Path, resume: bool):
    """Lines a script wrote into results.jsonl that brooker cannot write back (NaN, which
    Python's json.dump writes by default; a file name with a NUL or a lone surrogate) are
    dropped like a torn line, with or without resume: the run goes on (it raised ValueError or
    UnicodeEncodeError, an internal error)."""
    files = [_write(tmp_path / "in" / f"f{i}", b"x" * i) for i in range(2)]
    out = tmp_path / "out"
    full = _records(batch.grade_many(files, workers=0, out_dir=out, grade_fn=fake_grade))
    results = out / batch.RESULTS_NAME
    first, second = results.read_bytes().splitlines(keepends=True)
    nan = first.replace(b'"version"', b'"gap_mm": NaN, "version"')
    assert nan != first
    results.write_bytes(
        nan + second + b'{"file": "a\\u0000b"}\n' + b'{"file": "\\ud800.dcm"}\n'
    )
    assert batch.record_of(nan) is None
    again = _records(
        batch.grade_many(files, workers=0, out_dir=out, grade_fn=fake_grade, resume=resume)
    )
    assert {r["file"] for r in again} == ({str(files[0])} if resume else set(map(str, files)))
    assert _records(batch.read_records(results)) == full
    assert b"NaN" not in results.read_bytes()


@pytest.mark.parametrize(
    "deep",
    [b"[" * 100_000, b'{"file": "a", "hips": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
    ids=["torn", "whole"],
)
def test_a_line_nested_too_deep_to_decode_is_dropped_not_a_crash(tmp_path: Path, deep: bytes):
    """A line nested 100,000 levels deep (``[[[...``, closed or not) raised RecursionError out
    of ``record_of``: ``--resume`` and ``brooker report`` ended with an internal error. It is
    dropped like any line that is not a record, and the film whose record it replaced is
    graded again."""
    files = [_write(tmp_path / "in" / f"f{i}", b"x" * i) for i in range(2)]
    out = tmp_path / "out"
    full = _records(batch.grade_many(files, workers=0, out_dir=out, grade_fn=fake_grade))
    results = out / batch.RESULTS_NAME
    second = results.read_bytes().splitlines(keepends=True)[1]
    assert batch.record_of(deep) is None
    assert batch.record_of(deep.decode()) is None
    results.write_bytes(deep + b"\n" + second)
    assert [r["file"] for r in batch.read_records(results)] == [str(files[1])]
    assert report.write_report(out).films == 1
    again = batch.grade_many(files, workers=0, out_dir=out, grade_fn=fake_grade, resume=True)
    assert [r.file for r in again] == [str(files[0])]
    assert _records(batch.read_records(results)) == full


def _escape_surrogates_per_character(text: str) -> str:
    """``batch._escape_surrogates`` as it was until 2026-12-05: a test of each character."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return "".join(f"\\u{ord(ch):04x}" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


#: Any text, lone surrogates often (file names that are not UTF-8 hold them).
_TEXT_WITH_SURROGATES = st.text(
    st.characters(exclude_categories=()) | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
)


@settings(max_examples=300)
@given(text=_TEXT_WITH_SURROGATES, name=_TEXT_WITH_SURROGATES)
def test_record_line_escapes_lone_surrogates_as_it_did_character_by_character(
    text: str, name: str
) -> None:
    """``record_line`` finds lone surrogates with one pattern, not a loop over the characters
    (most of the time of reading a big results file back): the same line, character for
    character, for any text, in a record's values and keys."""
    assert batch._escape_surrogates(text) == _escape_surrogates_per_character(text)
    record = {"file": name, "caveats": [text], text: None}
    dumped = json.dumps(record, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)
    assert batch.record_line(record) == _escape_surrogates_per_character(dumped)


def _resumable_run(tmp_path: Path) -> tuple[list[Path], Path]:
    """Four films graded into ``out``, then a results file as a killed run and a script's
    edits leave it: a duplicate, a transient error, a line that is no record, a torn end,
    the record of a film not among the inputs; one film edited since and one new."""
    files = [_write(tmp_path / "in" / f"f{i}", b"x" * i) for i in range(4)]
    out = tmp_path / "out"
    list(batch.grade_many(files, workers=0, out_dir=out, grade_fn=fake_grade))
    results = out / batch.RESULTS_NAME
    lines = results.read_bytes().splitlines(keepends=True)
    f2 = str(files[2])
    timeout = batch.error_record(f2, "timeout", "slow", input_sha256=batch.file_sha256(f2))
    elsewhere = json.loads(lines[0]) | {"file": str(tmp_path / "elsewhere" / "IM1")}
    results.write_bytes(
        lines[0] + lines[1] + lines[0] + (batch.record_line(timeout.to_record()) + "\n").encode()
        + b"[\n" + (batch.record_line(elsewhere) + "\n").encode() + lines[3] + lines[3][:25]
    )  # fmt: skip
    _write(files[1], b"edited")
    files.append(_write(tmp_path / "in" / "f4", b"new"))
    return files, results


def test_resume_reads_an_unchanged_results_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the version check read (``check_resume_version``'s snapshot) is what
    ``load_resume_state`` works on while the file is unchanged: each line is read once, not
    twice (seconds, for an archive's results), with the same outcome, done records and
    repaired file, as reading it again."""
    files, results = _resumable_run(tmp_path)
    inputs = list(map(str, files))
    reread = tmp_path / "reread.jsonl"
    reread.write_bytes(results.read_bytes())
    expected = batch.load_resume_state(reread, inputs, results.parent)
    assert sorted(expected) == [str(files[0]), str(files[3])]
    read: list[bytes | str] = []
    record_of = batch.record_of
    monkeypatch.setattr(batch, "record_of", lambda raw: read.append(raw) or record_of(raw))
    snapshot = batch.check_resume_version(results)
    assert snapshot is not None
    lines = len(results.read_bytes().splitlines())
    assert len(read) == lines
    done = batch.load_resume_state(results, inputs, results.parent, snapshot=snapshot)
    assert len(read) == lines  # not read again
    assert done == expected
    assert results.read_bytes() == reread.read_bytes()


@pytest.mark.parametrize(
    "encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-16", "utf-32"]
)
def test_a_utf16_or_utf32_line_resumes_from_the_version_checks_reading_as_read_again(
    tmp_path: Path, encoding: str
) -> None:
    """``json.loads`` takes a line that starts with a NUL byte or a byte-order mark for UTF-16
    or UTF-32, and there the newline can change its verdict: the version check read each
    line with its newline, the resume without (such a record reads whole only without it).
    The shared reading reads such a line both ways: resumed from it, the films done and the
    file repaired are those of reading the file again."""
    films = [_write(tmp_path / "in" / f"f{i}", b"x" * i) for i in range(2)]
    out = tmp_path / "out"
    list(batch.grade_many(films, workers=0, out_dir=out, grade_fn=fake_grade))
    results = out / batch.RESULTS_NAME
    first, second = results.read_bytes().splitlines(keepends=True)
    results.write_bytes(first.rstrip(b"\n").decode().encode(encoding) + b"\n" + second)
    reread = tmp_path / "reread.jsonl"
    reread.write_bytes(results.read_bytes())
    inputs = list(map(str, films))
    expected = batch.load_resume_state(reread, inputs, out)
    assert sorted(expected) == inputs  # the line reads whole without its newline
    snapshot = batch.check_resume_version(results)
    assert snapshot is not None
    assert batch.load_resume_state(results, inputs, out, snapshot=snapshot) == expected
    assert results.read_bytes() == reread.read_bytes()


@pytest.mark.parametrize(
    "change", ["appended", "replaced by one of the same size", "rewritten in place"]
)
def test_a_results_file_changed_after_the_version_check_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """``grade_many(resume=True)`` checks the records' versions, searches the folders, then
    loads the records: a record written in between (another run's, appended; a line mended
    by a script that replaces the file) is honoured, its film not graded again. The reading
    of the version check is used only for the very file it read, unchanged: a rewrite in
    place to the same size (same inode) is told by its times."""
    a = _write(tmp_path / "in" / "a", b"one")
    b = _write(tmp_path / "in" / "b", b"three")
    out = tmp_path / "out"
    list(batch.grade_many([a, b], workers=0, out_dir=out, grade_fn=fake_grade))
    results = out / batch.RESULTS_NAME
    line_a, line_b = results.read_bytes().splitlines(keepends=True)
    if change == "appended":
        results.write_bytes(line_a)
        after = line_a + line_b
    else:
        results.write_bytes(line_a + b"[" + line_b[1:])  # b's record is no record
        after = line_a + line_b
    check_resume_version = batch.check_resume_version

    def check_then_change(results_file: Any, **kwargs: Any) -> Any:
        snapshot = check_resume_version(results_file, **kwargs)
        assert snapshot is not None
        if change == "appended":
            with open(results_file, "ab") as fh:
                fh.write(line_b)
        elif change == "rewritten in place":
            before = os.stat(results_file)
            with open(results_file, "r+b") as fh:
                fh.write(after)
            # the times a rewrite leaves, later than the reading's by more than one tick of
            # the file system's clock (within one tick they may be equal: ResultsSnapshot)
            os.utime(results_file, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
            now = os.stat(results_file)
            assert (now.st_ino, now.st_size) == (before.st_ino, before.st_size)
        else:
            mended = tmp_path / "mended.jsonl"
            mended.write_bytes(after)
            assert mended.stat().st_size == results.stat().st_size
            os.replace(mended, results_file)
        return snapshot

    monkeypatch.setattr(batch, "check_resume_version", check_then_change)
    again = batch.grade_many([a, b], workers=0, out_dir=out, grade_fn=fake_grade, resume=True)
    assert list(again) == []
    assert results.read_bytes() == after


def test_a_run_without_resume_can_leave_the_forgetting_to_its_caller(tmp_path: Path) -> None:
    """``forget=False`` (the command line, resumed: ``load_resume_state`` has taken the
    records of the films left to grade out already) does not read the results file to take
    them out again; the default does, as before."""
    files = [_write(tmp_path / "in" / f"f{i}", b"x" * i) for i in range(2)]
    out = tmp_path / "out"
    list(batch.grade_many(files, workers=0, out_dir=out, grade_fn=fake_grade))
    list(batch.grade_many(files[1:], workers=0, out_dir=out, grade_fn=fake_grade, forget=False))
    held = [r["file"] for r in batch.read_records(out / batch.RESULTS_NAME)]
    assert sorted(held) == sorted(map(str, [*files, files[1]]))
    list(batch.grade_many(files[1:], workers=0, out_dir=out, grade_fn=fake_grade))
    held = [r["file"] for r in batch.read_records(out / batch.RESULTS_NAME)]
    assert sorted(held) == sorted(map(str, files))


def test_a_run_without_resume_replaces_the_records_of_what_it_grades(tmp_path: Path):
    """``grade_many`` twice into one ``out_dir`` without ``resume``: one record per input (the
    latest), as the command line's results file; another file's record stays."""
    files = [_write(tmp_path / "in" / f"f{i}", b"x" * i) for i in range(3)]
    out = tmp_path / "out"
    _records(batch.grade_many(files, workers=0, out_dir=out, grade_fn=fake_grade))
    _records(batch.grade_many(files[1:], workers=0, out_dir=out, grade_fn=fake_grade))
    held = [r["file"] for r in batch.read_records(out / batch.RESULTS_NAME)]
    assert sorted(held) == sorted(map(str, files))


def test_a_run_without_resume_forgets_an_edited_or_linked_inputs_old_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An edited film graded again (a relative path), and a film graded once through a link
    and once by its own path: one record each."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "x.dcm", b"one")
    (tmp_path / "store").mkdir()
    _write(tmp_path / "store" / "123.dcm", b"three")
    (tmp_path / "a.dcm").symlink_to(tmp_path / "store" / "123.dcm")
    out = tmp_path / "out"
    _records(batch.grade_many(["x.dcm", "a.dcm"], workers=0, out_dir=out, grade_fn=fake_grade))
    _write(tmp_path / "x.dcm", b"one, edited")
    _records(
        batch.grade_many(
            ["x.dcm", "store/123.dcm"], workers=0, out_dir=out, grade_fn=fake_grade
        )
    )
    held = sorted(r["file"] for r in batch.read_records(out / batch.RESULTS_NAME))
    assert held == ["store/123.dcm", "x.dcm"]


def test_one_path_given_as_a_string_is_one_input(tmp_path: Path):
    folder = tmp_path / "in"
    files = [_write(folder / f"f{i}", b"x" * i) for i in range(2)]
    got = _records(batch.grade_many(str(folder), workers=0, grade_fn=fake_grade))
    assert sorted(r["file"] for r in got) == sorted(map(str, files))


def test_read_records_skips_a_record_whose_file_is_not_a_string(tmp_path: Path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"file": 5}\n{"file": "a"}\n{"no": 1}\n', encoding="utf-8")
    assert [r["file"] for r in batch.read_records(f)] == ["a"]


def test_resume_regrades_changed_content(tmp_path: Path):
    f = _write(tmp_path / "f", b"one")
    out = tmp_path / "out"
    list(batch.grade_many([f], workers=0, out_dir=out, grade_fn=fake_grade))
    again = batch.grade_many([f], workers=0, out_dir=out, grade_fn=fake_grade, resume=True)
    assert list(again) == []
    _write(f, b"two!")
    (rec,) = batch.grade_many([f], workers=0, out_dir=out, grade_fn=fake_grade, resume=True)
    on_disk = batch.read_records(out / batch.RESULTS_NAME)
    assert [r["input_sha256"] for r in on_disk] == [rec.extra["input_sha256"]]


def _drawing_grade(path, config=None, *, out_dir=None, **kwargs):  # type: ignore[no-untyped-def]
    """fake_grade, with an overlay file written where grade_path writes it and named so."""
    from brooker.overlay import overlay_name_for

    drawn = Path(out_dir) / f"{overlay_name_for(path)}.png"
    drawn.write_bytes(b"an overlay")
    return dataclasses.replace(fake_grade(path), overlay=str(drawn))


def test_a_resumed_record_names_its_overlay_as_this_run_names_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Graded into out/ from one working folder, resumed from another (out given as ../out):
    nothing is graded again, and the kept record's overlay is spelt as this run names the
    folder, so that it names a file that is there (it named out/..., from the old folder)."""
    f = _write(tmp_path / "in" / "f", b"one")
    monkeypatch.chdir(tmp_path)
    (first,) = batch.grade_many([str(f)], workers=0, out_dir="out", grade_fn=_drawing_grade)
    assert first.overlay is not None
    assert not os.path.isabs(first.overlay)
    monkeypatch.chdir(tmp_path / "in")
    again = batch.grade_many([str(f)], workers=0, out_dir="../out", grade_fn=_drawing_grade,
                             resume=True)  # fmt: skip
    assert list(again) == []
    (rec,) = batch.read_records(tmp_path / "out" / batch.RESULTS_NAME)
    assert rec["overlay"] == os.path.join("..", first.overlay)
    assert os.path.isfile(rec["overlay"])



def test_a_record_whose_overlay_is_gone_is_graded_again_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A fresh run stopped while it removed the earlier run's overlays (before it emptied the
    results file), an exit 5 from one it could not remove, or a reader who deleted one leave
    records naming an overlay that is not in out/: --resume kept them as done and reported
    the film ok with a picture that was not there. The film is graded again (its overlay
    drawn again); a record with its overlay in place is kept as it was."""
    f = _write(tmp_path / "in" / "f", b"one")
    g = _write(tmp_path / "in" / "g", b"two")
    monkeypatch.chdir(tmp_path)
    first = _records(batch.grade_many([str(f), str(g)], workers=0, out_dir="out",
                                      grade_fn=_drawing_grade))  # fmt: skip
    gone = next(r for r in first if r["file"] == str(f))["overlay"]
    os.unlink(gone)
    again = _records(batch.grade_many([str(f), str(g)], workers=0, out_dir="out",
                                      grade_fn=_drawing_grade, resume=True))  # fmt: skip
    assert [r["file"] for r in again] == [str(f)]
    assert os.path.isfile(gone)
    kept = batch.read_records(tmp_path / "out" / batch.RESULTS_NAME)
    assert sorted(r["file"] for r in kept) == sorted([str(f), str(g)])


def test_a_film_whose_overlay_is_gone_is_counted_once_with_duplicate_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Two records of one input (a line written twice, or its path spelt two ways) whose
    overlay is gone are one film graded again: the command line says how many films are
    graded again from ``overlays_gone``, and it said 2 for the one film graded."""
    f = _write(tmp_path / "in" / "f", b"one")
    monkeypatch.chdir(tmp_path)
    first = _records(batch.grade_many([str(f)], workers=0, out_dir="out",
                                      grade_fn=_drawing_grade))  # fmt: skip
    results = tmp_path / "out" / batch.RESULTS_NAME
    line = results.read_text()
    results.write_text(line + line.replace(str(f), str(tmp_path / "in" / "." / "f")))
    os.unlink(first[0]["overlay"])
    gone: list[str] = []
    done = batch.load_resume_state(results, [str(f)], "out", overlays_gone=gone)
    assert done == {}
    assert gone == [str(f)]


def test_a_record_of_a_file_here_is_not_taken_for_a_moved_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A relative record whose path names a file from this working folder is that file's,
    even when an input's real path ends with it: graded a/f and b/a/f, resumed with b/a/f
    alone, the record of a/f is kept (it was taken for b/a/f's, graded from another folder,
    and dropped)."""
    _write(tmp_path / "a" / "f", b"one")
    _write(tmp_path / "b" / "a" / "f", b"two")
    monkeypatch.chdir(tmp_path)
    first = _records(batch.grade_many(["a/f", "b/a/f"], workers=0, out_dir="out",
                                      grade_fn=fake_grade))  # fmt: skip
    assert sorted(r["file"] for r in first) == ["a/f", "b/a/f"]
    again = batch.grade_many(["b/a/f"], workers=0, out_dir="out", grade_fn=fake_grade,
                             resume=True)  # fmt: skip
    assert list(again) == []
    kept = batch.read_records(tmp_path / "out" / batch.RESULTS_NAME)
    assert sorted(r["file"] for r in kept) == ["a/f", "b/a/f"]


def test_links_graded_by_relative_path_are_done_when_resumed_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A batch folder of links into an archive, graded as ``batch`` from one working folder
    and resumed by its absolute path from another: the links' records (``batch/x``) end with
    the links' own paths, not with their targets' real paths, and they were graded again and
    written a second time (a radiologist's test of 2026-12-07: 48 records for 26 films)."""
    archive = _write(tmp_path / "archive" / "film_a", b"one")
    _write(tmp_path / "archive" / "film_b", b"two")
    (tmp_path / "work" / "batch").mkdir(parents=True)
    (tmp_path / "work" / "batch" / "renamed").symlink_to(archive)
    (tmp_path / "work" / "batch" / "film_b").symlink_to(tmp_path / "archive" / "film_b")
    _write(tmp_path / "work" / "batch" / "plain", b"three")
    monkeypatch.chdir(tmp_path / "work")
    names = ["batch/renamed", "batch/film_b", "batch/plain"]
    first = _records(batch.grade_many(names, workers=0, out_dir="out", grade_fn=fake_grade))
    assert sorted(r["file"] for r in first) == sorted(names)
    monkeypatch.chdir(tmp_path)
    inputs = [str(tmp_path / "work" / n) for n in names]
    again = batch.grade_many(inputs, workers=0, out_dir=str(tmp_path / "work" / "out"),
                             grade_fn=fake_grade, resume=True)  # fmt: skip
    assert list(again) == []
    kept = batch.read_records(tmp_path / "work" / "out" / batch.RESULTS_NAME)
    assert sorted(r["file"] for r in kept) == sorted(inputs)


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}, {root!r}]
    from brooker.batch import grade_many
    from test_batch import fake_grade

    if __name__ == "__main__":
        for r in grade_many(sys.argv[2:], workers=1, out_dir=sys.argv[1], grade_fn=fake_grade,
                            resume=True):
            pass
    """
)


def _kill_after_the_first_record(proc: subprocess.Popen[bytes], results: Path, sig: int) -> None:
    """Send ``sig`` to the batch process ``proc`` once its first record is in ``results``."""
    try:
        deadline = time.monotonic() + 30
        while not (results.exists() and results.read_bytes().count(b"\n") >= 1):
            assert time.monotonic() < deadline, "no record appeared"
            assert proc.poll() is None, "finished before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, sig)
    finally:
        proc.wait(timeout=10)


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path: Path):
    files = [str(_write(tmp_path / "in" / f"f{i}", b"NAP" + b"x" * i)) for i in range(6)]
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT.format(tests=str(ROOT / "tests"), root=str(ROOT)))
    out = tmp_path / "out"
    results = out / batch.RESULTS_NAME
    proc = subprocess.Popen([sys.executable, str(script), str(out), *files])
    _kill_after_the_first_record(proc, results, signal.SIGKILL)
    # a kill can land mid-line: simulate the worst case on top of the real kill
    with open(results, "ab") as fh:
        fh.write(b'{"file": "' + files[-1].encode() + b'", "sta')
    n_before = results.read_bytes().count(b"\n")
    assert 1 <= n_before < len(files)
    done = subprocess.run([sys.executable, str(script), str(out), *files], timeout=60)
    assert done.returncode == 0
    resumed = batch.read_records(results)
    expect = _records(batch.grade_many(files, workers=0, grade_fn=fake_grade))
    assert _records(resumed) == expect
    assert len(results.read_bytes().splitlines()) == len(files)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_batch_leaves_no_file_in_the_temporary_folder(
    tmp_path: Path, short_tmp_path: Path, sig: int
):
    """The file a worker holds its stderr in has no name in the temporary folder, so a batch
    process killed while its workers are alive leaves nothing there: by SIGKILL, or by
    SIGTERM, which runs no cleanup either. (It left one file per worker each time.)"""
    tmp = short_tmp_path
    files = [str(_write(tmp_path / "in" / f"f{i}", b"NAP" + b"x" * i)) for i in range(8)]
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT.replace("workers=1", "workers=2").format(
        tests=str(ROOT / "tests"), root=str(ROOT)))  # fmt: skip
    out = tmp_path / "out"
    results = out / batch.RESULTS_NAME
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, str(script), str(out), *files], env=env)
    _kill_after_the_first_record(proc, results, sig)
    assert proc.returncode == -sig
    assert results.read_bytes().count(b"\n") < len(files)  # killed with work left
    assert sorted(p.name for p in tmp.glob("brooker-stderr-*")) == []


def test_default_workers_are_the_cpus_this_process_may_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``workers=None`` starts one worker per CPU of the affinity mask, which a cluster job's
    allotment narrows (2 of the machine's 64 here), as ``brooker grade`` does: it counted
    every CPU of the machine (``os.cpu_count``), 64 workers on a job given 2."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    run_pool, started = batch._run_pool, []

    def counted(tasks, config, common, workers, *rest):  # type: ignore[no-untyped-def]
        started.append(workers)
        return run_pool(tasks, config, common, workers, *rest)

    monkeypatch.setattr(batch, "_run_pool", counted)
    for name in "abc":
        _write(tmp_path / "in" / name, b"one")
    results = list(batch.grade_many([tmp_path / "in"], overlay=False, grade_fn=fake_grade))
    assert started == [2]
    assert [r.status for r in results] == [Status.OK] * 3
    assert batch.usable_cpus() == 2  # the count the command line's --workers defaults to


@pytest.mark.parametrize("workers", [-1, 1.5, "2", True])
def test_bad_workers_is_a_config_error_before_any_work(tmp_path: Path, workers: object):
    """A bad ``workers`` is the API's usage error, as every other bad argument (the command
    line maps it to exit 2), raised before anything is read or written: with ``resume=True``
    the results file is not rewritten (its torn last line stays). Still a ``ValueError``, which
    a negative ``workers`` raised before."""
    from brooker.errors import ConfigError

    _write(tmp_path / "in" / "a", b"one")
    out = tmp_path / "out"
    out.mkdir()
    torn = b'{"file": "x", "status": "ok"}\n{"file": "y", "sta'
    (out / batch.RESULTS_NAME).write_bytes(torn)
    stream = batch.grade_many(
        [tmp_path / "in"], out_dir=out, workers=workers, resume=True,  # type: ignore[arg-type]
        grade_fn=fake_grade,
    )
    with pytest.raises(ConfigError, match=r"workers must be an integer >= 0") as caught:
        next(stream)
    assert isinstance(caught.value, ValueError)
    assert (out / batch.RESULTS_NAME).read_bytes() == torn
    assert sorted(p.name for p in out.iterdir()) == [batch.RESULTS_NAME]


@pytest.mark.parametrize("timeout_s", [-5.0, float("nan"), "60", True])
def test_bad_timeout_is_a_config_error_before_any_work(tmp_path: Path, timeout_s: object):
    """A negative ``timeout_s`` gave every file a ``timeout`` error record ("took longer than
    the -5 s limit") and NaN a limit never reached, the pool polling without pause: both are
    the API's usage error now, as a bad ``workers`` is, before anything is written."""
    _write(tmp_path / "in" / "a", b"one")
    out = tmp_path / "out"
    stream = batch.grade_many(
        [tmp_path / "in"], out_dir=out, workers=1, timeout_s=timeout_s,  # type: ignore[arg-type]
        grade_fn=fake_grade,
    )
    with pytest.raises(ConfigError, match=r"timeout_s must be a number of seconds >= 0"):
        next(stream)
    assert not out.exists()


@pytest.mark.parametrize("timeout_s", [None, 0, 0.0, float("inf"), 1e308])
def test_no_limit_and_a_far_limit_grade(tmp_path: Path, timeout_s: float | None):
    (rec,) = _records(
        batch.grade_many([_write(tmp_path / "a", b"one")], workers=1, timeout_s=timeout_s,
                         grade_fn=fake_grade)
    )
    assert rec["status"] == "ok"


def test_resume_of_records_by_another_version_is_refused(tmp_path: Path):
    """``grade_many(resume=True)`` on a results file holding a record of another brooker
    version is the API's usage error naming the file (as ``brooker grade --resume``), before
    the file is rewritten or anything graded; records of this version resume."""
    from brooker.errors import ConfigError

    _write(tmp_path / "in" / "a", b"one")
    _write(tmp_path / "in" / "b", b"three")
    out = tmp_path / "out"
    first = list(batch.grade_many([tmp_path / "in"], out_dir=out, workers=0, grade_fn=fake_grade))
    assert len(first) == 2
    results = out / batch.RESULTS_NAME
    lines = results.read_text().splitlines()
    old = json.loads(lines[0])
    old["version"] = "0.0.1"
    results.write_text("\n".join([json.dumps(old), lines[1], '{"file": "torn']))
    before = results.read_bytes()
    _write(tmp_path / "in" / "c", b"five!")
    with pytest.raises(ConfigError, match=r"brooker '0\.0\.1', this is") as caught:
        list(batch.grade_many([tmp_path / "in"], out_dir=out, workers=0, resume=True,
                              grade_fn=fake_grade))
    assert caught.value.path == str(results)
    assert __version__ in caught.value.message
    assert results.read_bytes() == before  # not repaired, nothing appended
    results.write_text("\n".join(lines) + "\n")
    again = list(batch.grade_many([tmp_path / "in"], out_dir=out, workers=0, resume=True,
                                  grade_fn=fake_grade))
    assert [Path(r.file).name for r in again] == ["c"]


def test_numpy_integer_workers_are_still_accepted(tmp_path: Path):
    """``workers`` computed with numpy (``np.int64``) grades as before: the ConfigError check
    refuses what is not an integer, not integers of another type."""
    import numpy as np

    files = [_write(tmp_path / f"f{i}", b"one" * (i + 1)) for i in range(2)]
    for workers in (np.int64(0), np.int32(1)):
        done = list(batch.grade_many(files, workers=workers, grade_fn=fake_grade))  # type: ignore[arg-type]
        assert sorted(Path(r.file).name for r in done) == ["f0", "f1"]


def test_a_media_folders_dicomdir_is_skipped_and_its_images_graded(tmp_path: Path) -> None:
    """A CD or PACS export holds a DICOMDIR (its index) beside the images: the folder's
    images are the inputs, the index is counted as skipped (it made every such batch end
    with an error record); named explicitly, it is attempted and refused."""
    import numpy as np
    from conftest import write_media_folder

    from brooker.phantom_dicom import DicomVariant, write_dicom
    from brooker.pipeline import grade_path

    src = write_dicom(np.zeros((64, 64), np.uint16), tmp_path / "src.dcm", DicomVariant())
    cd = tmp_path / "cd"
    write_media_folder(src, cd)
    found = batch.discover([cd])
    assert [Path(f).name for f in found.files] == ["IM000000"]
    assert found.skipped_dicomdir == 1
    assert found.skipped_non_dicom == 0
    index = str(cd / "DICOMDIR")
    named = batch.discover([cd, index])
    assert index in named.files
    assert named.skipped_dicomdir == 0
    rec = grade_path(index).to_record()
    assert rec["error"]["code"] == "not_an_image"
    # the sniff reads the file meta's SOP class, not the name: an image is never skipped
    assert not batch.is_dicomdir_head(src.read_bytes()[:4096])
    assert batch.is_dicomdir_head((cd / "DICOMDIR").read_bytes()[:4096])
    assert batch.is_dicomdir_head((cd / "DICOMDIR").read_bytes()[128:4096])  # no preamble


def test_what_a_decoder_writes_to_stderr_is_named_for_its_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """libtiff and libjpeg write warnings straight to the process's stderr, naming no file: in
    a worker each line comes out after the file's name; a flood is cut to ten lines; without
    a file to hold them in (no temporary folder), they go out as they come. The file has no
    name in the temporary folder."""
    with monkeypatch.context() as m:  # (pytest's capture uses the temporary folder too)
        m.setattr("tempfile.tempdir", str(tmp_path))
        held = batch._held_file()
    assert held is not None
    assert held > 2
    try:
        assert list(tmp_path.iterdir()) == []
        with batch._stderr_naming("scans/a b.tif", held):
            os.write(2, b"TIFFReadDirectory: Warning, Unknown field with tag 50838\n")
            os.write(2, b"\nJPEG: a last line without its newline")
        with batch._stderr_naming("scans/loud.tif", held):
            for i in range(25):
                os.write(2, f"line {i}\n".encode())
        with batch._stderr_naming("scans/quiet.tif", held):
            pass
        with batch._stderr_naming("scans/lzw.tif", held):  # the name Pillow gives libtiff
            os.write(2, b"tempfile.tif: Using code not yet in table.\n")
    finally:
        os.close(held)
    err = capfd.readouterr().err.splitlines()
    assert err[:2] == [
        "scans/a b.tif: TIFFReadDirectory: Warning, Unknown field with tag 50838",
        "scans/a b.tif: JPEG: a last line without its newline",
    ]
    assert err[2:-1] == [f"scans/loud.tif: line {i}" for i in range(10)] + [
        "scans/loud.tif: ... and 15 more line(s)"
    ]
    assert err[-1] == "scans/lzw.tif: Using code not yet in table."
    # a name (or a decoder line) with an escape sequence or a newline is shown escaped, as
    # every name the command line prints: it cannot clear the terminal or forge a line
    with monkeypatch.context() as m:
        m.setattr("tempfile.tempdir", str(tmp_path))
        held = batch._held_file()
    assert held is not None
    try:
        evil = "x\x1b]0;PWNED\x07\x1b[2Jy\udcff\nFAKE: all films graded OK.dcm"
        with batch._stderr_naming(evil, held):
            os.write(2, b"Stream too short\x1b[2J\n")
    finally:
        os.close(held)
    assert capfd.readouterr().err.splitlines() == [
        "x\\x1b]0;PWNED\\x07\\x1b[2Jy\\xff\\x0aFAKE: all films graded OK.dcm: "
        "Stream too short\\x1b[2J"
    ]
    with monkeypatch.context() as m:
        m.setattr("tempfile.tempdir", str(tmp_path / "gone"))
        assert batch._held_file() is None
    with batch._stderr_naming("scans/unheld.tif", None):
        os.write(2, b"as it comes\n")
    assert capfd.readouterr().err == "as it comes\n"


_STDERR_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}, {root!r}]
    from brooker.batch import grade_many
    from test_batch import fake_grade

    if __name__ == "__main__":
        recs = list(grade_many(sys.argv[1:], workers=1, grade_fn=fake_grade, timeout_s=4))
        print(" ".join(r.status.value + ":" + (r.error.code if r.error else "-") for r in recs))
    """
)


@pytest.mark.parametrize("stderr", ["open", "closed"])
def test_a_workers_decoder_chatter_is_named_even_when_it_dies(
    tmp_path: Path, short_tmp_path: Path, stderr: str
) -> None:
    """In worker processes: a decoder's stderr line comes out after the file's path, also
    when the worker is aborted right after or stopped at the time limit (the batch process
    passes on what it left); with the caller's stderr closed (2>&-), the workers grade as
    before (they died of it). Nothing is left in the temporary folder."""
    chatty = str(_write(tmp_path / "in" / "chatty.dcm", b"CHATTER"))
    dying = str(_write(tmp_path / "in" / "dying.dcm", b"ABORT"))
    hung = str(_write(tmp_path / "in" / "hung.dcm", b"HANG"))
    script = tmp_path / "run.py"
    script.write_text(_STDERR_SCRIPT.format(tests=str(ROOT / "tests"), root=str(ROOT)))
    tmp = short_tmp_path
    done = subprocess.run(
        [sys.executable, str(script), chatty, dying, hung],
        capture_output=True,
        timeout=120,
        preexec_fn=(lambda: os.close(2)) if stderr == "closed" else None,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert sorted(p.name for p in tmp.glob("brooker-stderr-*")) == []
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [b"ok:-", b"error:internal_error", b"error:timeout"]
    if stderr == "open":
        lines = done.stderr.decode().splitlines()
        warning = ": TIFFReadDirectory: Warning, Unknown field with tag 50838"
        assert chatty + warning in lines
        assert dying + warning in lines  # written the instant before the abort
        assert hung + warning in lines  # by a worker stopped at the time limit
        assert not any(line.startswith("TIFFReadDirectory") for line in lines)


_LONG_TMPDIR_SCRIPT = textwrap.dedent(
    """
    import sys, tempfile
    sys.path[:0] = [{tests!r}, {root!r}]
    from multiprocessing import util
    from brooker import batch, worker_server
    from test_batch import fake_grade

    if __name__ == "__main__":
        if sys.argv[1] == "none":  # no short system folder to be had
            worker_server.SHORT_TEMP_DIRS = (tempfile.gettempdir() + "/absent",)
        recs = list(batch.grade_many(sys.argv[2:], workers=2, grade_fn=fake_grade, timeout_s=60))
        print(" ".join(r.status.value for r in recs))
        print(worker_server.mp_context().get_start_method())
        print(util.get_temp_dir())
        print(tempfile.gettempdir())
    """
)


@pytest.mark.parametrize("short", ["system", "none"])
def test_workers_run_with_a_temporary_folder_too_long_for_a_socket(
    tmp_path: Path, short: str
) -> None:
    """With a ``TMPDIR`` too long for the forkserver's socket (``OSError: AF_UNIX path too
    long`` from every batch with workers, on Python 3.11-3.13.0), the batch runs: with the
    forkserver's folder in a short system folder, or, with none to be had, by ``spawn``. The
    caller's temporary folder stays ``TMPDIR``, and nothing is left in either. (In a fresh
    process: the forkserver and multiprocessing's folder are made once per process.)"""
    long_tmp = tmp_path / ("t" * 100)
    long_tmp.mkdir()
    files = [str(_write(tmp_path / "in" / f"f{i}", b"x" * i)) for i in range(4)]
    script = tmp_path / "run.py"
    script.write_text(_LONG_TMPDIR_SCRIPT.format(tests=str(ROOT / "tests"), root=str(ROOT)))
    done = subprocess.run(
        [sys.executable, str(script), short, *files],
        capture_output=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(long_tmp)},
    )
    assert done.returncode == 0, done.stderr.decode()
    statuses, method, mp_tmp, user_tmp = done.stdout.decode().splitlines()
    assert statuses.split() == ["ok"] * len(files)
    assert user_tmp == str(long_tmp)
    if short == "system":
        assert method == "forkserver"
        assert os.path.dirname(mp_tmp) in worker_server.SHORT_TEMP_DIRS
    else:
        assert method == "spawn"
    assert not os.path.exists(mp_tmp)  # removed by multiprocessing at exit
    assert list(long_tmp.iterdir()) == []


def test_an_empty_path_is_discovered_as_missing_not_as_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "IM0001").write_bytes(b"\0" * 128 + b"DICM")
    found = batch.discover([""])
    assert found.files == ("",)
    assert found.missing == ("",)


_ENV_GRADE = '''
import os
from brooker._version import __version__
from brooker.models import GradingResult, Status
VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
def grade(path, config=None, **kwargs):
    seen = ",".join(os.environ.get(v, "-") for v in VARS)
    return GradingResult(file=str(path), status=Status.UNGRADABLE, version=__version__,
                         reason=seen)
'''

_ENV_DRIVER = '''
import json, os, sys
import env_grade
from brooker import batch
if __name__ == "__main__":
    recs = list(batch.grade_many([sys.argv[1]], workers=1, out_dir=sys.argv[2],
                                 overlay=False, grade_fn=env_grade.grade))
    print(json.dumps([recs[0].reason, [os.environ.get(v) for v in env_grade.VARS]]))
'''


@pytest.mark.parametrize("given", [None, "3"])
def test_workers_run_one_blas_thread_and_the_caller_keeps_its_environment(
    tmp_path: Path, given: str | None
) -> None:
    """``grade_many(workers=N)`` from Python ran each worker with a BLAS thread per core (the
    command line sets one for its whole process; README, *Performance*): the workers now get
    one, the caller's own environment is left as it was, and a value the caller set is kept.
    In a fresh interpreter: the forkserver, started with the first worker, keeps its
    environment for the rest of the process."""
    (tmp_path / "env_grade.py").write_text(_ENV_GRADE)
    driver = tmp_path / "driver.py"
    driver.write_text(_ENV_DRIVER)
    film = _write(tmp_path / "in" / "f1", b"x")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    if given is not None:
        env["OMP_NUM_THREADS"] = given
    proc = subprocess.run(
        [sys.executable, str(driver), str(film), str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    seen, caller = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == ",".join(["1", given or "1", "1"])
    assert caller == [None, given, None]


@pytest.mark.parametrize(("cpus", "workers", "files", "expected"), [
    (2, 2, 4, "in turn"),  # a worker for every CPU: threads would only contend
    (2, 2, 1, "beside"),  # one film: one worker, a CPU idle
    (4, 2, 4, "beside"),
    (2, 3, 4, "in turn"),
])  # fmt: skip
def test_a_film_runs_its_parts_side_by_side_only_where_a_cpu_is_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: int, workers: int, files: int,
    expected: str,
) -> None:
    """A batch's workers run a film's independent parts in threads (brooker.background) only
    when the batch leaves a usable CPU idle; with a worker on every CPU they run in turn (two
    workers on two cores were 2 % slower with threads)."""
    monkeypatch.setattr(batch, "usable_cpus", lambda: cpus)
    paths = [_write(tmp_path / f"f{i}", b"x") for i in range(files)]
    recs = _records(batch.grade_many(paths, workers=workers, grade_fn=threads_grade))
    assert {r["reason"] for r in recs} == {expected}


def test_earlier_overlays_spare_the_new_runs_inputs_and_what_a_compact_copy_names(
    tmp_path: Path,
):
    """Review: an earlier overlay named as an input of the new run (given by name, from a
    ``find`` over a tree holding --out, through a link) was removed before it was graded and
    got a not_found record; and a copy of the results written compactly (``jq -c``) did not
    keep the overlays it names, as a copy written by brooker does."""
    from brooker.overlay import encode_png

    out = tmp_path / "out"
    out.mkdir()
    rgb = encode_png(np.zeros((2, 2, 3), np.uint8))
    a, b = "a-0123456789abcdef.png", "b-0123456789abcdef.png"
    for n in (a, b):
        (out / n).write_bytes(rgb)
    recs = [{"file": f"in/{n}", "status": "ok", "version": __version__, "hips": [],
             "overlay": str(out / n)} for n in (a, b)]  # fmt: skip
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert batch.earlier_overlays(out) == [a, b]
    link = tmp_path / "film.png"
    link.symlink_to(out / a)
    assert batch.earlier_overlays(out, inputs=[str(link)]) == [b]
    (out / "results-kept.jsonl").write_text(json.dumps(recs[1], separators=(",", ":")) + "\n")
    assert batch.earlier_overlays(out) == [a]
    assert batch.remove_earlier_overlays(out, inputs=[str(out / a)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == [a, b]


def test_remove_earlier_report_takes_only_a_page_this_tool_wrote(tmp_path: Path) -> None:
    """A fresh run removes the earlier run's review page: one write_report made, not a link to
    it, not another file of that name, not an input, not another shard's page."""
    from brooker.report import write_report

    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text(
        json.dumps({"file": "in/a.dcm", "status": "error", "hips": []}) + "\n"
    )
    page = write_report(out).path
    assert page.read_bytes().startswith(batch.REPORT_HEAD.encode())
    assert not batch.remove_earlier_report(out, inputs=[str(page)])
    link = out / "report-1of2.html"
    link.symlink_to(page)
    assert not batch.remove_earlier_report(out, "-1of2")
    assert link.is_symlink()
    assert page.is_file()
    assert batch.remove_earlier_report(out)
    assert not page.exists()
    assert not batch.remove_earlier_report(out)
    page.write_text("<!doctype html><title>notes</title>")
    assert not batch.remove_earlier_report(out)
    assert page.is_file()


def test_names_a_run_file_by_the_name_given_and_the_file_reached(tmp_path: Path) -> None:
    """What --csv and report -o must not write over: a run's file in OUT, also when it is a
    link to one kept elsewhere (judged by the resolved path alone, it was not), or a link
    elsewhere that reaches one; a page's name only when pages count."""
    out = tmp_path / "out"
    out.mkdir()
    kept = tmp_path / "keep.jsonl"
    kept.write_text("")
    (out / "results.jsonl").symlink_to(kept)
    (tmp_path / "to-manifest").symlink_to(out / "manifest.json")
    assert batch.names_a_run_file(out / "results.jsonl", out)
    assert batch.names_a_run_file(tmp_path / "to-manifest", out)
    assert batch.names_a_run_file(out / "report.shard-1-of-2.html", out)
    assert not batch.names_a_run_file(out / "report.shard-1-of-2.html", out, pages=False)
    assert not batch.names_a_run_file(out / "grades.csv", out)
    assert not batch.names_a_run_file(tmp_path / "results.jsonl", out)  # not in OUT


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_grade_many_takes_the_results_lock_the_command_line_takes(tmp_path: Path) -> None:
    """User test: a script's grade_many and `brooker grade` into the same folder at once each
    emptied or appended to the other's results file (only the command took the lock). Now
    grade_many is refused while another run holds it, and holds it while it runs."""
    import fcntl

    films = tmp_path / "in"
    films.mkdir()
    for i in range(3):
        (films / f"f{i}.dcm").write_bytes(b"\0" * 128 + b"DICM" + bytes([i]) * (i + 1))
    out = tmp_path / "o"
    out.mkdir()
    lock = out / ".results.jsonl.lock"

    def try_lock() -> bool:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    run = batch.grade_many([films], out_dir=out, workers=0, overlay=False, grade_fn=fake_grade)
    next(run)  # one film graded: the lock is held while the run goes on
    assert not try_lock()
    assert len(list(run)) == 2
    assert try_lock()  # and released when it ends

    held = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as if another run were writing
        before = (out / "results.jsonl").read_bytes()
        with pytest.raises(ConfigError, match="another brooker run is writing"):
            list(batch.grade_many([films], out_dir=out, workers=0, grade_fn=fake_grade))
        assert (out / "results.jsonl").read_bytes() == before
    finally:
        os.close(held)
    assert len(list(batch.grade_many([films], out_dir=out, workers=0, grade_fn=fake_grade))) == 3

    # a second run in this process (in the first's loop) is refused too, whatever the file
    # system (NFS would grant this process a second flock)
    first = batch.grade_many([films], out_dir=out, workers=0, grade_fn=fake_grade)
    next(first)
    with pytest.raises(ConfigError, match="this process is still running a grade_many"):
        list(batch.grade_many([films], out_dir=out, workers=0, grade_fn=fake_grade))
    assert len(list(first)) == 2
    assert len((out / "results.jsonl").read_text().splitlines()) == 3
    # locked=True is for a caller that holds the lock: checked, not taken on its word
    with pytest.raises(ConfigError, match="holds no lock"):
        list(batch.grade_many([films], out_dir=out, workers=0, grade_fn=fake_grade, locked=True))
    key = batch.lock_results(out / "results.jsonl")
    try:
        assert len(list(batch.grade_many([films], out_dir=out, workers=0, grade_fn=fake_grade,
                                         locked=True))) == 3  # fmt: skip
        assert not try_lock()  # still the caller's
    finally:
        batch.unlock_results(key)

    # a results file with no out_dir: the lock beside it
    elsewhere = tmp_path / "records" / "mine.jsonl"
    run = batch.grade_many([films], results_file=elsewhere, workers=0, grade_fn=fake_grade)
    next(run)
    assert (tmp_path / "records" / ".mine.jsonl.lock").is_file()
    run.close()  # left early: released at once
    assert len(elsewhere.read_text().splitlines()) == 1
    assert len(list(batch.grade_many([films], results_file=elsewhere, workers=0,
                                     grade_fn=fake_grade))) == 3  # fmt: skip


def test_grade_many_is_typed_as_the_generator_it_is() -> None:
    """``contextlib.closing(grade_many(...))``, the README's way to leave a loop early, failed
    ``mypy --strict`` (a user's test of 2026-12-07): typed ``Iterator``, which has no
    ``close``. It is a generator, and typed as one."""
    import collections.abc
    import typing

    hint = typing.get_type_hints(batch.grade_many)["return"]
    assert typing.get_origin(hint) is collections.abc.Generator
    assert hasattr(batch.grade_many([]), "close")


def test_resume_with_nowhere_to_resume_from_is_refused(tmp_path: Path) -> None:
    """``resume=True`` with neither ``out_dir`` nor ``results_file`` graded every film again
    without a word (a research engineer's test of 2026-12-07: ``out_dir`` left off)."""
    f = _write(tmp_path / "in" / "f", b"one")
    with pytest.raises(ConfigError, match="resume=True needs out_dir or results_file"):
        list(batch.grade_many([str(f)], workers=0, grade_fn=fake_grade, resume=True))
    # with somewhere to resume from, as before
    assert len(list(batch.grade_many([str(f)], workers=0, grade_fn=fake_grade, resume=True,
                                     results_file=tmp_path / "r.jsonl"))) == 1  # fmt: skip


def test_a_results_file_that_is_a_folder_or_a_name_too_long_is_refused(tmp_path: Path) -> None:
    """``results_file`` naming a folder raised a bare IsADirectoryError, and a 300-character
    overlay name a bare OSError (File name too long) about a hidden temporary file, after the
    film was graded (a research engineer's test of 2026-12-07): both are ConfigError, before
    anything is read. A name at the bound is written."""
    from brooker.overlay import OVERLAY_STEM_MAX_BYTES

    f = _write(tmp_path / "in" / "f", b"one")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ConfigError, match=r"results_file .* is a folder"):
        list(batch.grade_many([str(f)], workers=0, grade_fn=fake_grade,
                              results_file=tmp_path / "folder"))  # fmt: skip
    long_name = {str(f): "x" * (OVERLAY_STEM_MAX_BYTES + 1)}
    with pytest.raises(ConfigError, match="too long for a file name"):
        list(batch.grade_many([str(f)], workers=0, grade_fn=_drawing_grade,
                              out_dir=tmp_path / "o", names=long_name))  # fmt: skip
    from brooker.pipeline import grade_path

    knee = Path(__file__).resolve().parents[1] / "sample_images" / "knee_negative.dcm"
    with pytest.raises(ConfigError, match="too long for a file name"):
        grade_path(knee, out_dir=tmp_path / "o2", overlay_name="y" * (OVERLAY_STEM_MAX_BYTES + 1))
    rec = grade_path(knee, out_dir=tmp_path / "o2", overlay_name="x" * OVERLAY_STEM_MAX_BYTES)
    assert rec.overlay is not None  # the longest is written
    assert os.path.isfile(rec.overlay)
