"""``brooker grade``: stdout/stderr separation, exit codes, outputs, shards, resume.

Option handling and exit codes are tested in process (CliRunner) with a stand-in for
``grade_path`` injected into ``brooker.batch.grade_many``; the real engine is tested end to end
in subprocesses on phantom films (``--json > file``, worker counts, a SIGKILLed run resumed).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import functools
import io
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from closed_stdout import run_with_stdout_closed
from conftest import fill_every_shard
from PIL import Image
from typer.testing import CliRunner

from brooker import batch
from brooker._version import __version__
from brooker.cli import app, grade_cmd
from brooker.models import (
    BrookerGrade,
    GapMeasurement,
    GradingResult,
    HipResult,
    ImageSide,
    PatientSide,
    PixelSpacing,
    SpacingSource,
    Status,
)
from brooker.overlay import encode_png

ROOT = Path(__file__).resolve().parents[1]
PREAMBLE = b"\0" * 128 + b"DICM"


def fake_grade(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """A grade from the content length; ``BUG`` raises, ``NOHIP`` is ungradable."""
    data = Path(path).read_bytes()
    if b"BUG" in data:
        raise RuntimeError("boom")
    if b"NOHIP" in data:
        return GradingResult(
            file="x", status=Status.UNGRADABLE, version=__version__, reason="no hip joint found"
        )
    hip = HipResult(
        PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade(len(data) % 5), (1.0, 2.0), True
    )
    if b"NOFEMUR" in data:  # the left hip seen but not graded
        unsure = HipResult(
            PatientSide.LEFT, ImageSide.RIGHT, None, (1.0, 9.0), False,
            not_graded="a spur or bridge was seen, but no femur",
        )  # fmt: skip
        return GradingResult(
            file="x", status=Status.OK, version=__version__, hips=(hip, unsure)
        )
    return GradingResult(file="x", status=Status.OK, version=__version__, hips=(hip,))


def fake_grade_just_under_1cm(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """A class III hip whose gap, 9.996 mm, would round to 10.0 (class II) at one or two
    decimals; a weak call of the judge too."""
    gap = GapMeasurement(9.996, (1.0, 2.0), (3.0, 4.0), 0.5)
    hip = HipResult(
        PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.SPURS_NARROW_GAP, (1.0, 2.0), False,
        gap=gap, borderline=True, weak_call=True,
    )
    return GradingResult(file="x", status=Status.OK, version=__version__, hips=(hip,))


def fake_grade_flagged(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """A class 0 that grades IV about a nearby centre, on a film that did not show its femur."""
    hip = HipResult(
        PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (1.0, 2.0), False,
        class_range=(BrookerGrade.NONE, BrookerGrade.ANKYLOSIS),
        limited_by=("femur not segmented to the trochanter",), center_uncertainty_mm=2.0,
    )  # fmt: skip
    return GradingResult(file="x", status=Status.OK, version=__version__, hips=(hip,))


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``brooker grade`` use :func:`fake_grade` in its workers."""
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade)
    )


def _w(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PREAMBLE + payload)
    return path


@pytest.fixture
def good_tree(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    _w(root / "a" / "IM0001", b"one")
    _w(root / "b" / "IM0001", b"three")
    (root / "readme.txt").write_text("not DICOM")
    return root


def run(*args: str | os.PathLike[str], input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["grade", *map(str, args)], input=input)


def _failed_run(tree: Path, out: Path, *, exit_code: int) -> dict[str, Any]:
    """Grade ``tree`` into ``out`` with one worker; the run exits ``exit_code`` and its
    manifest says "failed": the manifest."""
    r = run(tree, "--out", out, "--workers", "1")
    assert r.exit_code == exit_code, r.output
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "failed"
    return manifest


def json_lines(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- in process, stand-in engine -------------------------------------------------------------


def test_dask_scheduler_without_dask_installed_is_a_usage_error(
    good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Dask is an optional extra: ``--dask-scheduler`` without it installed is the environment,
    not a bug in brooker. It was an internal error (exit 1, ModuleNotFoundError, a traceback
    in errors.log); now exit 2 with one line naming the extra to install."""
    for name in ("dask", "dask.distributed", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ModuleNotFoundError
    out = tmp_path / "out"
    r = run(good_tree, "--out", out, "--dask-scheduler", "tcp://127.0.0.1:8786")
    assert r.exit_code == 2, r.output
    assert "brooker[dask]" in r.stderr
    assert "internal error" not in r.stderr
    assert not (out / "errors.log").exists()
    assert not (out / "results.jsonl").exists()


@pytest.mark.parametrize("limit", ["1e10", "1e308"])
def test_a_far_off_timeout_is_no_limit_not_a_crash(
    fake_engine: None, good_tree: Path, tmp_path: Path, limit: str
):
    """``--timeout 1e10`` (no limit, in practice) graded nothing and exited 1: the worker
    pool's wait overflowed the selector's integer milliseconds (OverflowError)."""
    r = run(good_tree, "--out", tmp_path / "out", "--workers", "1", "--timeout", limit, "--json")
    assert r.exit_code == 0, r.stderr
    assert sorted(rec["status"] for rec in json_lines(r.stdout)) == ["ok", "ok"]


def test_table_into_a_pipe_has_no_trailing_blanks(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """Into a file or a pipe the console is 10,000 columns wide: every row was padded with
    blanks out to the longest note."""
    _w(good_tree / "c" / "IM0001", b"NOHIP")  # a row with a long note beside short ones
    r = run(good_tree, "--out", tmp_path / "out", "--workers", "1")
    assert r.exit_code == 3, r.stderr
    lines = r.stdout.splitlines()
    assert any(str(good_tree / "c" / "IM0001") in line for line in lines)
    assert [line for line in lines if line != line.rstrip()] == []


def test_all_graded_exit_0_table_on_stdout(fake_engine: None, good_tree: Path, tmp_path: Path):
    out = tmp_path / "out"
    r = run(good_tree, "--out", out, "--workers", "2")
    assert r.exit_code == 0, r.stderr
    assert str(good_tree / "a" / "IM0001") in r.stdout
    assert str(good_tree / "b" / "IM0001") in r.stdout
    assert "2 file(s)" in r.stderr  # the summary is on stderr
    assert "2 ok" in r.stderr
    assert "neither DICOM nor PNG/JPEG/TIFF" in r.stderr
    assert "2 file(s)" not in r.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "complete"
    assert manifest["counts"]["status"] == {"ok": 2}
    assert manifest["inputs"]["skipped_non_dicom"] == 1
    assert manifest["options"]["workers"] == 2
    assert manifest["finished_at"] >= manifest["started_at"]
    assert len(batch.read_records(out / "results.jsonl")) == 2
    again = run(good_tree, "--out", out, "--workers", "1")  # without --resume: a new file
    assert again.exit_code == 0
    assert len(batch.read_records(out / "results.jsonl")) == 2


def test_single_file_compact_answer(fake_engine: None, good_tree: Path, tmp_path: Path):
    r = run(good_tree / "a" / "IM0001", "--out", tmp_path / "o")
    assert r.exit_code == 0
    assert "right hip" in r.stdout
    assert "Brooker" in r.stdout


def fake_grade_with_spacing(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """A class 0 hip on a film whose spacing came from Imager Pixel Spacing alone."""
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade.NONE, (1.0, 2.0), False)
    spacing = PixelSpacing(0.143, 0.1436, SpacingSource.IMAGER_PIXEL_SPACING)
    return GradingResult(
        file="x", status=Status.OK, version=__version__, hips=(hip,), spacing=spacing
    )


def test_a_single_films_answer_names_its_spacing(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    """Every gap rests on the spacing: the single-film answer names it and its source, as the
    record and the overlay's panel do (the README says every output does)."""
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_with_spacing)
    )
    r = run(good_tree / "a" / "IM0001", "--out", tmp_path / "o", "--no-overlay")
    assert r.exit_code == 0, r.output
    assert (  # rows x columns, its source in words as on the overlay
        "  spacing: 0.143 x 0.144 mm from (0018,1164) Imager Pixel Spacing, at the detector"
        in r.stdout
    )


def test_a_class_III_gap_is_never_shown_as_10_mm(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_just_under_1cm)
    )
    film = good_tree / "a" / "IM0001"
    r = run(film, "--out", tmp_path / "o", "--csv", tmp_path / "o" / "g.csv", "--no-overlay")
    assert r.exit_code == 0, r.output
    assert "Brooker III" in r.stdout
    assert "9.9 mm" in r.stdout
    assert "10.0" not in r.stdout
    assert "borderline, weak call" in r.stdout  # beside the class, as borderline is
    rec = json_lines((tmp_path / "o" / "results.jsonl").read_text())[0]
    assert rec["hips"][0]["grade"] == 3
    assert rec["hips"][0]["gap_mm"] == 9.99
    assert "9.99" in (tmp_path / "o" / "g.csv").read_text(encoding="utf-8-sig")
    r = run(film, "--out", tmp_path / "o2", "--no-overlay", "--json")
    assert json_lines(r.stdout)[0]["hips"][0]["gap_mm"] == 9.99


def test_a_hips_range_and_limits_are_said_beside_its_class(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_flagged)
    )
    film = good_tree / "a" / "IM0001"
    r = run(film, "--out", tmp_path / "o", "--csv", tmp_path / "g.csv", "--no-overlay")
    assert r.exit_code == 0, r.output
    assert (
        "right hip Brooker 0   0 to IV if centre moved 2 mm, femur not segmented to the "
        "trochanter"
    ) in r.stdout
    with open(tmp_path / "g.csv", encoding="utf-8-sig", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["class_range"] == "0-IV"
    assert row["limited_by"] == "femur not segmented to the trochanter"
    # the batch table (user test): a plain "0" in the class column hid the IV 2 mm away
    r = run(good_tree, "--out", tmp_path / "o3", "--no-overlay")
    rows = [line.split() for line in r.stdout.splitlines() if "IM000" in line]
    assert rows, r.stdout
    # ("*": read on a limited view, the femur not segmented to the trochanter)
    assert all(row[1:5] == ["R", "0", "to", "IV*"] for row in rows), r.stdout


def test_json_stdout_only_records_errors_on_stderr(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    _w(good_tree / "c" / "bug", b"BUG")
    _w(good_tree / "c" / "nohip", b"NOHIP")
    missing = good_tree / "gone.dcm"
    r = run(good_tree, missing, "--json", "--out", tmp_path / "o", "--quiet")
    assert r.exit_code == 3
    recs = json_lines(r.stdout)  # every stdout line is JSON
    assert len(recs) == 5
    by = {Path(x["file"]).name: x for x in recs if "IM0001" not in x["file"]}
    assert by["bug"]["error"]["code"] == "internal_error"
    assert by["nohip"]["status"] == "ungradable"
    assert by["gone.dcm"]["error"]["code"] == "not_found"
    assert "Traceback" not in r.stderr
    assert f"{good_tree / 'c' / 'bug'}:" in r.stderr
    assert str(missing) in r.stderr
    assert "file(s)" not in r.stderr  # --quiet: no summary


def test_summary_lists_failures(fake_engine: None, good_tree: Path, tmp_path: Path):
    _w(good_tree / "c" / "nohip", b"NOHIP")
    r = run(good_tree, "--out", tmp_path / "o")
    assert r.exit_code == 3
    assert "1 ungradable" in r.stderr
    assert "no hip joint found" in r.stderr
    assert "not graded" in r.stderr


def test_summary_of_many_failures_lists_some_and_counts_the_rest(
    fake_engine: None, tmp_path: Path
):
    """An archive's hundreds of non-hip films would bury the summary in a line each: over 50
    films not graded it lists 20, the errors first, and counts the rest by status and error
    code, pointing at results.jsonl (which has every one). 50 are still all listed."""
    root = tmp_path / "in"
    for i in range(58):
        _w(root / f"nohip{i:02d}", b"NOHIP")
    for i in range(3):
        _w(root / f"zbug{i}", b"BUG")
    _w(root / "good", b"one")
    (root / "zgone").symlink_to(tmp_path / "nowhere")  # dangling: a not_found error
    out = tmp_path / "o"
    r = run(root / "good", *sorted(root.glob("[nz]*")), "--out", out)
    assert r.exit_code == 3, r.output
    err = r.stderr
    assert "62 file(s) not graded:" in err
    listed = [line for line in err.splitlines() if line.startswith(f"  {root}")]
    assert len(listed) == 20
    # the four errors first, in input order, then the ungradable ones in input order
    assert [Path(line[2:].split(":")[0]).name for line in listed[:4]] == [
        "zbug0", "zbug1", "zbug2", "zgone"
    ]
    assert [Path(line[2:].split(":")[0]).name for line in listed[4:]] == [
        f"nohip{i:02d}" for i in range(16)
    ]
    tail = " ".join(err.split())
    assert (
        f"and 42 more: 42 ungradable; every file's reason is in {out / 'results.jsonl'}" in tail
    )
    assert len(json_lines((out / "results.jsonl").read_text())) == 63

    # 50 not graded: each on its own line, as before
    few = tmp_path / "few"
    for i in range(50):
        _w(few / f"nohip{i:02d}", b"NOHIP")
    r = run(few, "--out", tmp_path / "o2")
    assert "50 file(s) not graded:" in r.stderr
    assert sum(line.startswith(f"  {few}") for line in r.stderr.splitlines()) == 50
    assert "more:" not in r.stderr


def test_summary_lists_the_hips_not_graded_in_films_graded(
    fake_engine: None, tmp_path: Path
) -> None:
    """A hip not graded on a film that is (a spur seen with no femur to measure it to) was
    counted in "hips by Brooker class" only, and the "file(s) not graded" list left it out:
    a radiologist skimming the summary missed a hip to check by eye (a test of 2026-12-07).
    The summary names it, with why; one film's answer says it already."""
    root = tmp_path / "in"
    _w(root / "a", b"one NOFEMUR")
    _w(root / "b", b"two")
    r = run(root, "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    at = lines.index("1 hip(s) not graded:")
    assert lines[at + 1] == f"  {root / 'a'} L: a spur or bridge was seen, but no femur"
    assert "file(s) not graded" not in r.stderr
    r = run(root / "a", "--out", tmp_path / "o2")
    assert "hip(s) not graded" not in r.output
    assert r.output.count("but no femur") == 1, r.output


def test_one_film_not_graded_is_said_once(fake_engine: None, tmp_path: Path) -> None:
    """One bad film printed its error line, then the summary's "1 file(s) not graded:" and
    the same message again: four lines for one file (a radiologist's test of 2026-12-07).
    One film's error line, or its answer, says why; two films are listed as before."""
    root = tmp_path / "in"
    _w(root / "zbug", b"BUG")
    _w(root / "nohip", b"NOHIP")
    r = run(root / "zbug", "--out", tmp_path / "o")
    assert r.exit_code == 3, r.output
    assert "not graded:" not in r.output
    assert sum(str(root / "zbug") in line for line in r.output.splitlines()) == 1
    r = run(root / "nohip", "--out", tmp_path / "o2")
    assert r.exit_code == 3, r.output
    assert "file(s) not graded:" not in r.output
    assert r.output.count("no hip") == 1, r.output
    r = run(root / "zbug", root / "nohip", "--out", tmp_path / "o3")
    assert "2 file(s) not graded:" in r.output
    # with --json the answer is not printed: the reason is said in the summary (a review)
    r = run(root / "nohip", "--out", tmp_path / "o4", "--json")
    assert "1 file(s) not graded:" in r.stderr


def test_not_listed_counts_errors_by_code():
    from brooker.cli.grade_cmd import _not_listed

    recs = [
        {"status": "ungradable"},
        {"status": "error", "error": {"code": "unreadable"}},
        {"status": "error", "error": {"code": "not_found"}},
        {"status": "error", "error": {"code": "unreadable"}},
    ]
    assert _not_listed(recs[1:]) == "3 more: 3 errors (unreadable 2, not_found 1)"
    assert _not_listed([recs[0], recs[3]]) == "2 more: 1 ungradable, 1 error (unreadable 1)"


@pytest.mark.parametrize("content", [None, "text"])
def test_no_inputs_exit_4(fake_engine: None, tmp_path: Path, content: str | None):
    d = tmp_path / "empty"
    d.mkdir()
    if content:
        (d / "notes.txt").write_text(content)
    r = run(d, "--out", tmp_path / "o")
    assert r.exit_code == 4
    assert r.stdout == ""
    # where it looked: a mistyped folder shows in the message
    assert _squeezed(f"no radiographs found in {d}") in _squeezed(r.stderr)
    # the --out it made is not left behind, empty (audit of 2026-12-07); one there stays
    assert not (tmp_path / "o").exists()
    (tmp_path / "mine").mkdir()
    assert run(d, "--out", tmp_path / "mine").exit_code == 4
    assert (tmp_path / "mine").is_dir()
    # nor the folders made above it, nor the --csv file's (a review found them left), in
    # whichever order they nest, nor through ".."
    deep, table = tmp_path / "a" / "b" / "c", tmp_path / "mine" / "t" / "u" / "x.csv"
    assert run(d, "--out", deep, "--csv", table).exit_code == 4
    assert not (tmp_path / "a").exists()
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == []
    for out, table in [("n/out", "n/sub/g.csv"), ("m/b/out", "m/g.csv"), ("x/../y", "z/t.csv")]:
        assert run(d, "--out", tmp_path / out, "--csv", tmp_path / table).exit_code == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "mine"]
    # nor when the run is refused before it writes anything (exit 2)
    r = run(d, "--out", tmp_path / "q" / "o", "--files-from", tmp_path / "no-such-list")
    assert r.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "mine"]


def _unboxed(text: str) -> str:
    """``text`` with an error box's borders and its wrapping undone: words one space apart."""
    return " ".join(text.replace("│", " ").split())


def _squeezed(text: str) -> str:
    """``text`` without whitespace: the terminal wraps a long path anywhere, even in a word."""
    return "".join(text.split())


def test_no_inputs_names_at_most_three_places(fake_engine: None, tmp_path: Path) -> None:
    """Of many inputs where nothing was found, the message names three and counts the rest."""
    dirs = []
    for k in range(5):
        d = tmp_path / f"e{k}"
        d.mkdir()
        dirs.append(d)
    r = run(*dirs, "--out", tmp_path / "o")
    assert r.exit_code == 4
    expected = f"no radiographs found in {dirs[0]}, {dirs[1]}, {dirs[2]} and 2 more"
    assert _squeezed(expected) in _squeezed(r.stderr)


def test_a_damaged_film_in_a_folder_is_recorded_and_the_skipped_are_named(
    good_tree: Path, tmp_path: Path
) -> None:
    """A copy of a film whose bytes 128-131 (DICM) were overwritten, and an empty file named
    .dcm, in a folder beside a good film: the run said only "skipped 2 file(s) ...": no
    record, no CSV row, named neither on screen nor in the manifest. Named like films, they
    get their not_dicom records; the files still skipped are named (the first five, then a
    count) and all listed in the manifest."""
    (good_tree / "IM0002.dcm").write_bytes(b"\0" * 128 + b"XXXX" + b"\x02\x00\x01\x00OB\0\0")
    (good_tree / "empty.dcm").write_bytes(b"")
    for k in range(6):
        (good_tree / f"note{k}").write_text("not a film")
    out = tmp_path / "out"
    r = run(good_tree, "--out", out, "--workers", "1", "--json", "--csv", out / "g.csv")
    assert r.exit_code == 3, r.output
    by = {Path(rec["file"]).name: rec for rec in json_lines(r.stdout)}
    assert by["IM0002.dcm"]["error"]["code"] == "not_dicom"
    assert by["empty.dcm"]["error"]["code"] == "not_dicom"
    csv_text = (out / "g.csv").read_text(encoding="utf-8-sig")
    assert "IM0002.dcm" in csv_text
    assert "empty.dcm" in csv_text
    skipped = [str(good_tree / f"note{k}") for k in range(6)] + [str(good_tree / "readme.txt")]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["skipped_non_dicom"] == 7
    assert manifest["inputs"]["skipped_non_dicom_files"] == skipped
    err = _squeezed(r.stderr)
    assert _squeezed("skipped 7 file(s) in the folders that are neither DICOM") in err
    assert all(_squeezed(p) in err for p in skipped[:5])
    assert _squeezed(skipped[5]) not in err
    where = f"and 2 more (every one in {out / 'manifest.json'} (inputs.skipped_non_dicom_files))"
    assert _squeezed(where) in err


def test_an_empty_folder_among_inputs_is_named(
    fake_engine: None, good_tree: Path, tmp_path: Path
) -> None:
    """``brooker grade a.dcm emptydir``: the empty folder was dropped without a word (alone it
    is "no radiographs found", exit 4). A warning on stderr names it; the run's exit code and
    its JSON lines are as without it."""
    empty = tmp_path / "emptydir"
    empty.mkdir()
    out = tmp_path / "o"
    r = run(good_tree / "a" / "IM0001", empty, "--json", "--out", out)
    assert r.exit_code == 0, r.output
    assert _squeezed(f"warning: no radiographs found in {empty}") in _squeezed(r.stderr)
    assert [Path(rec["file"]).name for rec in json_lines(r.stdout)] == ["IM0001"]
    assert json.loads((out / "manifest.json").read_text())["inputs"]["empty_folders"] == [
        str(empty)
    ]
    quiet = run(good_tree / "a" / "IM0001", empty, "--json", "--out", out, "--quiet")
    assert "warning: no radiographs found" in quiet.stderr  # a warning, not the summary
    alone = run(good_tree / "a" / "IM0001", "--json", "--out", out)
    assert "no radiographs found" not in alone.stderr


def test_a_fresh_run_says_it_replaced_an_earlier_run(
    fake_engine: None, good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Single films graded one after another into the default --out replaced each other's
    results without a word. A notice on stderr says so (not when the folder is new or its
    results empty, not with --resume, which adds, nor with --quiet); stdout stays records."""
    monkeypatch.chdir(tmp_path)
    notice = "brooker-out held an earlier run of 1 file(s): replaced (--resume adds to it instead)"
    first = run(good_tree / "a" / "IM0001", "--json")
    assert first.exit_code == 0, first.output
    assert "earlier run" not in first.stderr
    second = run(good_tree / "b" / "IM0001", "--json")
    assert second.exit_code == 0, second.output
    assert _squeezed(notice) in _squeezed(second.stderr)
    assert len(json_lines(second.stdout)) == 1  # every line a record
    resumed = run(good_tree / "a" / "IM0001", "--json", "--resume")
    assert "earlier run" not in resumed.stderr
    assert len(batch.read_records(Path("brooker-out") / "results.jsonl")) == 2
    quiet = run(good_tree / "a" / "IM0001", "--json", "--quiet")
    assert "earlier run" not in quiet.stderr
    (Path("brooker-out") / "results.jsonl").write_bytes(b"")
    emptied = run(good_tree / "a" / "IM0001", "--json")
    assert "earlier run" not in emptied.stderr


def test_a_fresh_run_removes_the_earlier_runs_review_page(
    fake_engine: None, good_tree: Path, tmp_path: Path
) -> None:
    """A run with --report, then a fresh one without it into the same --out: the earlier run's
    report.html stayed, showing films and classes that no record there holds any more. It is
    removed with the earlier run's overlays; --resume (which adds to the run) keeps it, and a
    file of that name the tool did not write, or one that is an input, is never removed."""
    out = tmp_path / "o"
    first = run(good_tree / "a" / "IM0001", "--out", out, "--report", "--json")
    assert first.exit_code == 0, first.output
    page = out / "report.html"
    assert page.is_file()
    resumed = run(good_tree / "b" / "IM0001", "--out", out, "--resume", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert page.is_file()  # the run it belongs to goes on
    fresh = run(good_tree / "b" / "IM0001", "--out", out, "--json")
    assert fresh.exit_code == 0, fresh.output
    assert not page.exists()
    page.write_text("<html>a reader's own page</html>")
    again = run(good_tree / "b" / "IM0001", "--out", out, "--json")
    assert again.exit_code == 0, again.output
    assert page.read_text() == "<html>a reader's own page</html>"


def test_ctrl_c_says_how_far_the_run_got_and_how_to_go_on(
    fake_engine: None, good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C printed only "interrupted": nothing of what was kept, nor what to type next.
    The line counts the films graded and names --resume (the command line itself is not
    repeated: long, and a path may hold a patient's name)."""
    write_record = batch.ResultsWriter.write

    def record_then_stop(self: batch.ResultsWriter, record: dict[str, Any]) -> None:
        write_record(self, record)
        raise KeyboardInterrupt  # after each record

    monkeypatch.setattr(batch.ResultsWriter, "write", record_then_stop)
    out = tmp_path / "o"
    r = run(good_tree, "--out", out, "--workers", "1", "--json")
    assert r.exit_code == 130, r.output
    assert r.stderr.strip() == _stop_line("interrupted", 1, 2)
    resumed = run(good_tree, "--out", out, "--workers", "1", "--json", "--resume")
    assert resumed.exit_code == 130, resumed.output
    assert resumed.stderr.strip() == (
        "interrupted: 2 of 2 file(s) done; to go on, run the same command again"
    )

    def stop(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # while the inputs are being found

    discover = batch.discover
    monkeypatch.setattr(batch, "discover", stop)
    early = run(good_tree, "--out", out, "--workers", "1", "--json")
    assert early.exit_code == 130, early.output
    assert early.stderr.strip() == (
        "interrupted before any file was graded; to go on, run the same command again"
    )
    assert len(batch.read_records(out / "results.jsonl")) == 2  # the earlier run's, untouched
    monkeypatch.setattr(batch, "discover", discover)
    # review: resumed with fewer inputs, the records --resume keeps of the others were
    # counted as this run's ("2 of 1 file(s) done")
    _w(good_tree / "a" / "IM0002", b"two")  # new: a/ has 1 of 2 graded, b/ 1 not an input
    fewer = run(good_tree / "a", "--out", out, "--workers", "1", "--json", "--resume")
    assert fewer.exit_code == 130, fewer.output
    assert fewer.stderr.strip() == (
        "interrupted: 2 of 2 file(s) done; to go on, run the same command again"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--pixel-spacing", "0,0.1"],
        ["--pixel-spacing", "abc"],
        ["--pixel-spacing", "0.1,0.1,0.1"],
        ["--pixel-spacing", "nan,0.1"],
        ["--pixel-spacing", "140"],  # a unit slip (140 um), not a film's spacing
        ["--pixel-spacing", "0.14,1.5"],
        ["--estimate-spacing", "--pixel-spacing", "0.14"],  # nothing left to estimate
        ["--estimate-spacing", "--head-mm", "32"],
        ["--estimate-spacing", "--ball-mm", "25"],
        ["--magnification", "9"],
        ["--magnification", "0.87"],
        ["--shard", "2/2"],
        ["--shard", "x"],
        ["--workers", "0"],
        ["--resume", "--dask-scheduler", "tcp://127.0.0.1:1"],
        ["--judges", "/nonexistent/judges"],
    ],
)
def test_usage_errors_exit_2(fake_engine: None, good_tree: Path, tmp_path: Path, args: list[str]):
    r = run(good_tree, "--out", tmp_path / "o", *args)
    assert r.exit_code == 2, r.output
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--ball-mm", "-3"], "--ball-mm"),
        (["--head-mm", "100"], "--head-mm"),
        (["--magnification", "9"], "--magnification"),
    ],
)
def test_a_bad_option_value_is_told_of_the_option_typed(
    fake_engine: None, good_tree: Path, tmp_path: Path, args: list[str], option: str
) -> None:
    """The range checks are the config's: their messages named its fields ("ball_mm must be
    a diameter between 5 and 80 mm"), names a command-line user never typed."""
    r = run(good_tree, "--out", tmp_path / "o", *args)
    assert r.exit_code == 2, r.output
    said = " ".join(r.stderr.replace("\u2502", " ").split())  # out of the error box
    assert f"Invalid value for {option}: must be" in said
    assert f"{option.strip('-').replace('-', '_')} must be" not in said  # the field's name


def test_no_paths_is_usage_error() -> None:
    assert run().exit_code == 2


@pytest.fixture
def seen_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The config the command hands to ``batch.grade_many`` (which grades nothing here)."""
    seen: dict[str, Any] = {}

    def spy(paths, config=None, **kw):  # type: ignore[no-untyped-def]
        seen["config"] = config
        return iter(())

    monkeypatch.setattr(batch, "grade_many", spy)
    return seen


def test_pixel_spacing_reaches_the_config(
    seen_config: dict[str, Any], good_tree: Path, tmp_path: Path
):
    run(good_tree, "--out", tmp_path / "o", "--pixel-spacing", "0.15,0.2", "--magnification", "1.2")
    assert seen_config["config"].pixel_spacing == (0.15, 0.2)
    assert seen_config["config"].magnification == 1.2
    assert seen_config["config"].judges is None


def test_judges_folder_reaches_the_config(
    seen_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    good_tree: Path,
    tmp_path: Path,
):
    from importlib import resources

    folder = tmp_path / "judges"
    folder.mkdir()
    for name in ("ho_pixels.npz", "ho_fragments.npz"):
        shutil.copy(str(resources.files("brooker").joinpath("data", name)), folder / name)
    monkeypatch.chdir(tmp_path)
    run(good_tree, "--out", tmp_path / "o", "--judges", "judges")  # relative: made absolute
    assert seen_config["config"].judges == str(folder.resolve())
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["options"]["judges"] == str(folder.resolve())
    assert set(manifest["options"]["judges_sha256"]) == {"ho_pixels.npz", "ho_fragments.npz"}


def test_estimate_spacing_help_gives_the_uncertainty_the_record_carries():
    """``grade --help`` gives the estimate's uncertainty as the records and the README do
    (20 %: the heads' sizes and the fit's error), not the 12 % of the heads' sizes alone."""
    import typer

    from brooker.config import DEFAULT_SPACING_UNCERTAINTY, NATIVE_HEAD_DIAMETER_MM
    from brooker.models import SpacingSource

    grade = typer.main.get_command(app).commands["grade"]
    (option,) = [p for p in grade.params if "--estimate-spacing" in p.opts]
    share = DEFAULT_SPACING_UNCERTAINTY[SpacingSource.ANATOMICAL_ESTIMATE]
    assert f"{NATIVE_HEAD_DIAMETER_MM:g} mm assumed, ±{100 * share:.0f} %" in option.help


def test_a_corrupt_judges_folder_is_a_usage_error(good_tree: Path, tmp_path: Path):
    folder = tmp_path / "judges"
    folder.mkdir()
    (folder / "ho_pixels.npz").write_bytes(b"not an archive")
    (folder / "ho_fragments.npz").write_bytes(b"not an archive")
    r = run(good_tree, "--out", tmp_path / "o", "--judges", folder)
    assert r.exit_code == 2, r.output
    assert "judges in" in r.output
    assert "Traceback" not in r.output


def test_csv_output(fake_engine: None, good_tree: Path, tmp_path: Path):
    _w(good_tree / "c" / "nohip", b"NOHIP")
    target = tmp_path / "res.csv"
    r = run(good_tree, "--out", tmp_path / "o", "--csv", target)
    assert r.exit_code == 3
    with open(target, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == batch.CSV_COLUMNS
    assert [Path(x["file"]).parent.name + "/" + Path(x["file"]).name for x in rows] == [
        "a/IM0001",
        "b/IM0001",
        "c/nohip",
    ]
    assert rows[0]["side"] == "right"
    assert rows[0]["prosthesis"] == "true"
    assert rows[2]["status"] == "ungradable"
    assert rows[2]["reason"] == "no hip joint found"
    assert rows[2]["grade"] == ""


def test_csv_through_a_symlink_writes_the_file_it_names(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    target = tmp_path / "kept.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    r = run(good_tree, "--out", tmp_path / "o", "--csv", link)
    assert r.exit_code == 0, r.output
    assert link.is_symlink()
    assert target.read_text(encoding="utf-8-sig").startswith(",".join(batch.CSV_COLUMNS))


def test_csv_into_a_fifo_is_written_through_not_replaced(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """``--csv /dev/stdout`` or a named pipe: a stream is written to, never replaced by a
    regular file (as root, the rename replaced /dev/full's device node)."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = run(good_tree, "--out", tmp_path / "o", "--csv", fifo)
    reader.join(timeout=30)
    assert r.exit_code == 0, r.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got
    assert got[0].decode("utf-8-sig").startswith(",".join(batch.CSV_COLUMNS))


def test_csv_that_is_another_shards_input_is_never_written(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """Refused while a shard wrote its CSV to the name given; now the shard's own name (the
    next test): the input is not touched either way."""
    other = str(sorted(good_tree.rglob("IM0001"))[0])
    this_shard = 1 - batch.shard_of(other, 2)  # the run is the other shard's
    before = Path(other).read_bytes()
    r = run(good_tree, "--out", tmp_path / "o", "--shard", f"{this_shard}/2", "--csv", other)
    assert r.exit_code == 0, r.output
    assert Path(other).read_bytes() == before
    assert Path(other).with_name(f"IM0001.shard-{this_shard}-of-2").is_file()


def test_each_shard_writes_its_own_csv(fake_engine: None, good_tree: Path, tmp_path: Path):
    """A job array given one command line with --csv: every shard replaced the one file, and
    the last shard's rows alone were left (audit of 2026-12-07). Each shard's CSV is named
    as its results are, and together they hold every film."""
    out, table = tmp_path / "o", tmp_path / "t" / "grades.csv"
    rows = []
    for i in range(3):
        r = run(good_tree, "--out", out, "--shard", f"{i}/3", "--csv", table, "-q")
        assert r.exit_code == 0, r.output
        own = table.with_name(f"grades.shard-{i}-of-3.csv")
        assert _squeezed(f"--csv with --shard {i}/3: this shard's rows go to {own}") in (
            _squeezed(r.stderr)
        )
        assert json.loads((out / f"manifest.shard-{i}-of-3.json").read_text())["options"][
            "csv"
        ] == str(own)
        with open(own, encoding="utf-8-sig", newline="") as fh:
            rows += list(csv.DictReader(fh))
    assert not table.exists()
    assert sorted({r["file"] for r in rows}) == sorted(str(p) for p in good_tree.rglob("IM0001"))


def test_csv_through_a_link_into_a_folder_that_cannot_be_made_fails_before_any_work(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    (tmp_path / "blocker").write_text("a file, not a folder")
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "blocker" / "x.csv")
    r = run(good_tree, "--out", tmp_path / "o", "--json", "--csv", link)
    assert r.exit_code == 5, r.output
    assert r.stdout == ""  # nothing graded


def test_csv_to_another_descriptor_appends_to_what_it_is_open_on(tmp_path: Path):
    """``--csv /dev/fd/3 3>>file``: written to the open descriptor, never by a rename that
    would replace the file (and lose what it held) or a reopening that would truncate it;
    the table stays on stdout."""
    import subprocess
    import sys

    film = Path(__file__).resolve().parents[1] / "sample_images" / "hip_view_right_4.dcm"
    target = tmp_path / "all.csv"
    target.write_text("EARLIER\n")
    with open(target, "ab") as fh:
        p = subprocess.run(
            [sys.executable, "-m", "brooker", "grade", str(film), "--out", str(tmp_path / "o"),
             "--no-overlay", "--csv", f"/dev/fd/{fh.fileno()}"],
            capture_output=True, timeout=300, check=False, pass_fds=(fh.fileno(),),
        )  # fmt: skip
    assert p.returncode == 0, p.stderr
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "EARLIER"
    assert lines[1].lstrip("\ufeff") == ",".join(batch.CSV_COLUMNS)
    assert len(lines) == 3  # one hip
    assert b"hip_view_right_4" in p.stdout  # the table, not mixed into the CSV


def _closed_fd() -> int:
    for fd in range(900, 1000):
        try:
            os.fstat(fd)
        except OSError:
            return fd
    pytest.skip("no closed descriptor in 900-999")


@pytest.mark.parametrize("target", ["/dev/stdout", "/dev/fd/1", "-", "3>&1", "closed"])
def test_csv_to_stdout_or_a_closed_descriptor_is_refused(
    fake_engine: None, good_tree: Path, tmp_path: Path, target: str
):
    dup = os.dup(1) if target == "3>&1" else None  # another descriptor on standard output
    if dup is not None:
        target = f"/dev/fd/{dup}"
    if target == "closed":
        target = f"/dev/fd/{_closed_fd()}"
    try:
        r = run(good_tree, "--out", tmp_path / "o", "--csv", target)
    finally:
        if dup is not None:
            os.close(dup)
    assert r.exit_code == 2, r.output
    assert not (tmp_path / "o").exists()  # a usage error leaves no empty --out behind


@pytest.mark.parametrize(
    "name", ["input", "results.jsonl", "manifest.json", "report.html", "report.shard-0-of-2.html"]
)
def test_csv_that_would_overwrite_an_input_or_a_run_file_is_refused(
    fake_engine: None, good_tree: Path, tmp_path: Path, name: str
):
    out = tmp_path / "o"
    csv_file = good_tree / "a" / "IM0001" if name == "input" else out / name
    before = csv_file.read_bytes() if csv_file.exists() else None
    r = run(good_tree, "--out", out, "--csv", csv_file)
    assert r.exit_code == 2, r.output
    assert "would overwrite" in " ".join(r.output.replace("\u2502", " ").split())  # unboxed
    after = csv_file.read_bytes() if csv_file.exists() else None
    assert after == before


def test_another_runs_out_inside_the_input_folder_is_not_graded(
    fake_engine: None, good_tree: Path
):
    """``grade in --out in/o1`` then ``grade in --out in/o2``: the second run must not grade
    the first's overlays, results or manifest (its own --out is excluded by name; another
    run's by what it holds)."""
    first = run(good_tree, "--out", good_tree / "o1", "--json")
    assert first.exit_code == 0, first.output
    # an overlay as a run names and draws it (the stand-in engine draws none)
    _rgb_png(good_tree / "o1" / "IM0001-0123456789abcdef.png")
    second = run(good_tree, "--out", good_tree / "o2", "--json")
    assert second.exit_code == 0, second.output
    assert sorted(r["file"] for r in json_lines(second.stdout)) == sorted(
        r["file"] for r in json_lines(first.stdout)
    )
    assert "another brooker run's overlays" in second.stderr
    manifest = json.loads((good_tree / "o2" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"]["run_folders"] == 1


def test_films_beside_or_below_another_runs_output_are_still_graded(
    fake_engine: None, tmp_path: Path
):
    """--out may be the parent of an input (grade study/p1 --out study): a later run over
    the archive leaves out what that run wrote in study, not the films in study/p1, p2 or
    beside its files."""
    study = tmp_path / "archive" / "study"
    for name in ("p1/IM0001", "p2/IM0001"):
        _w(study / name, b"one")
    first = run(study / "p1", "--out", study)
    assert first.exit_code == 0, first.output
    # an overlay as a run names and draws it (the stand-in engine draws none)
    _rgb_png(study / "IM0001-0123456789abcdef.png")
    _w(study / "beside.dcm", b"three")
    second = run(tmp_path / "archive", "--out", tmp_path / "run2", "--json")
    assert second.exit_code == 0, second.output
    got = sorted(Path(r["file"]).relative_to(study).as_posix() for r in json_lines(second.stdout))
    assert got == ["beside.dcm", "p1/IM0001", "p2/IM0001"]


def _rgb_png(path: Path) -> None:
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path, format="PNG")


def test_only_what_a_run_wrote_is_left_out_of_its_folder(tmp_path: Path):
    """Fixed-name run files, the overlays its records name with their crops, and orphaned
    RGB PNGs named like overlays; never a film, whatever its name."""
    folder = tmp_path / "run"
    folder.mkdir()
    rec = {"file": "a.dcm", "status": "ok", "version": "0",
           "overlay": "elsewhere/a-0123456789abcdef.png"}  # fmt: skip
    (folder / "results.jsonl").write_text(json.dumps(rec) + "\n")
    run_files = ["results.jsonl", "manifest.shard-0-of-2.json", "errors.log", "report.html",
                 "part-00001.jsonl", ".results.jsonl.lock", ".report-thumbs"]  # fmt: skip
    for name in run_files[1:-1]:
        (folder / name).write_text("{}")
    (folder / ".report-thumbs").mkdir()
    named = ["a-0123456789abcdef.png", "a-0123456789abcdef-left.png"]
    for name in named:
        (folder / name).write_bytes(b"not even read")
    _rgb_png(folder / "old-01234567.png")  # an orphaned overlay of an earlier naming
    _w(folder / "IM-0001-0123abcd.png", b"a DICOM film named like an overlay")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / "pelvis-20240115.png")
    films = ["IM-0001-0123abcd.png", "pelvis-20240115.png", "scan.dcm", "grades.csv"]
    for name in films[2:]:
        (folder / name).write_text("x")
    names = [p.name for p in folder.iterdir() if p.is_file()]
    assert batch.run_outputs(folder, names) == {*run_files[:-1], *named, "old-01234567.png"}


def test_a_run_folder_with_a_fifo_or_a_folder_named_like_a_run_file(
    fake_engine: None, tmp_path: Path
):
    """Only regular files are read: a FIFO named part-x.jsonl would block the walk, a folder
    named so raised IsADirectoryError."""
    folder = tmp_path / "in"
    _w(folder / "IM0001", b"one")
    rec = {"file": "a.dcm", "status": "ok", "version": "0", "overlay": "o/a-0123456789abcdef.png"}
    (folder / "results.jsonl").write_text(json.dumps(rec) + "\n")
    (folder / "part-old.jsonl").mkdir()
    os.mkfifo(folder / "part-x.jsonl")
    _rgb_png(folder / "a-0123456789abcdef.png")
    found = batch.discover([folder])
    assert found.files == (str(folder / "IM0001"),)
    assert found.run_folders == (str(folder),)


def test_a_folder_is_a_run_folder_by_what_it_holds(tmp_path: Path):
    plain_folder = tmp_path / "p"
    plain_folder.mkdir()
    (plain_folder / "manifest.json").write_text('{"command": "other"}')
    (plain_folder / "results.jsonl").write_text('{"file": "a"}\n')
    assert not batch.is_run_folder(plain_folder)
    api = tmp_path / "api"
    api.mkdir()
    (api / "results.jsonl").write_text('{"file": "a", "status": "ok", "version": "0"}\n')
    assert batch.is_run_folder(api)
    cli = tmp_path / "cli"
    cli.mkdir()
    (cli / "manifest.shard-0-of-2.json").write_text('{"command": "grade"}')
    assert batch.is_run_folder(cli)
    # Dask's grade_bag writes part files and overlays, no manifest and no results.jsonl
    for part in ("part-00000.jsonl", "part-shard-1-of-4-00003.jsonl"):
        bag = tmp_path / part
        bag.mkdir()
        (bag / part).write_text('{"file": "a", "status": "ok", "version": "0"}\n')
        assert batch.is_run_folder(bag)
    not_ours = tmp_path / "not-ours"
    not_ours.mkdir()
    (not_ours / "part-00000.jsonl").write_text('{"file": "a"}\n')
    (not_ours / "part-notes.jsonl").write_text('{"file": "a", "status": "ok", "version": "0"}\n')
    assert not batch.is_run_folder(not_ours)


def fake_grade_nap(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """:func:`fake_grade`, one second late for a file holding ``NAP``."""
    if b"NAP" in Path(path).read_bytes():
        time.sleep(1.0)
    return fake_grade(path, config, **kwargs)


def test_csv_in_path_order_when_grading_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """``brooker grade .``: the CSV is in path order whatever order the workers finish in,
    and each record names its file as the run found it."""
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_nap)
    )
    root = tmp_path / "in"
    _w(root / "a" / "IM0001", b"NAP one")
    _w(root / "b" / "IM0001", b"three")
    monkeypatch.chdir(root)
    r = run(".", "--out", tmp_path / "o", "--csv", tmp_path / "res.csv", "--workers", "2",
            "--json")
    assert r.exit_code == 0, r.stderr
    finished = [x["file"] for x in json_lines(r.stdout)]
    assert finished == ["b/IM0001", "a/IM0001"]  # completion order on stdout
    with open(tmp_path / "res.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [x["file"] for x in rows] == ["a/IM0001", "b/IM0001"]
    assert list(batch.discover(["."]).files) == ["a/IM0001", "b/IM0001"]


def test_csv_in_path_order_after_resuming_under_another_spelling(
    fake_engine: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A run given a relative path, resumed with the folder given absolute: the resumed
    record takes this run's spelling (it kept the relative one until 2026-12-02), and the CSV
    is in path order."""
    root = tmp_path / "in"
    _w(root / "a" / "IM0001", b"one")
    monkeypatch.chdir(tmp_path)
    assert run("in", "--out", "o").exit_code == 0
    _w(root / "b" / "IM0001", b"three")
    r = run(root, "--out", "o", "--resume", "--csv", tmp_path / "res.csv")
    assert r.exit_code == 0, r.stderr
    with open(tmp_path / "res.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [x["file"] for x in rows] == [str(root / "a" / "IM0001"), str(root / "b" / "IM0001")]


def test_files_from_file_and_stdin(fake_engine: None, good_tree: Path, tmp_path: Path):
    lst = tmp_path / "list.txt"
    lst.write_text(f"{good_tree / 'a' / 'IM0001'}\n\n")
    r = run("--files-from", lst, "--json", "--out", tmp_path / "o")
    assert [x["file"] for x in json_lines(r.stdout)] == [str(good_tree / "a" / "IM0001")]
    r = run(
        "--files-from",
        "-",
        "--json",
        "--out",
        tmp_path / "o2",
        input=f"{good_tree / 'b' / 'IM0001'}\n{good_tree / 'a'}\n",
    )
    assert r.exit_code == 0
    assert len(json_lines(r.stdout)) == 2


def test_files_from_a_nul_separated_list_is_a_usage_error(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """``find -print0 | brooker grade --files-from -``: a NUL byte is in no path. It was an
    internal error (exit 1, "embedded null byte") after the old results were emptied."""
    out = tmp_path / "o"
    listed = f"{good_tree / 'a' / 'IM0001'}\0{good_tree / 'b' / 'IM0001'}\0"
    r = run("--files-from", "-", "--out", out, input=listed)
    assert r.exit_code == 2, r.output
    assert "NUL byte" in r.output
    assert not (out / "errors.log").exists()
    assert not (out / batch.RESULTS_NAME).exists()


def test_files_from_stdin_when_it_is_closed_is_a_usage_error(tmp_path: Path):
    """Standard input closed (``<&-``, a daemon): Python's ``sys.stdin`` is None, which was an
    internal error (exit 1, AttributeError)."""
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "brooker", "grade", "--files-from", "-", "--out", str(out)]
    proc = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
        preexec_fn=lambda: os.close(0),
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "standard input" in err
    assert not (out / "errors.log").exists()


def test_shards_cover_every_input_once(fake_engine: None, tmp_path: Path):
    root = tmp_path / "in"
    for i in range(12):
        _w(root / f"d{i % 3}" / f"IM{i:04d}", b"x" * i)
    out = tmp_path / "o"
    seen: list[str] = []
    for i in range(3):
        r = run(root, "--out", out, "--json", "--shard", f"{i}/3")
        assert r.exit_code == 0  # a shard none of the inputs falls in too
        seen += [x["file"] for x in json_lines(r.stdout)]
        mine = batch.select_shard(list(batch.discover([root]).files), i, 3)
        # every shard is a run, an empty one too (its results file empty: which shard is empty
        # hangs on the paths' hashes, so on tmp_path; the empty case itself is tested on its
        # own below, test_a_shard_none_of_the_inputs_falls_in_is_done_not_missing_inputs)
        results = (out / f"results.shard-{i}-of-3.jsonl").read_text()
        assert sorted(x["file"] for x in json_lines(results)) == sorted(mine)
        assert (out / f"manifest.shard-{i}-of-3.json").is_file()
    assert sorted(seen) == sorted(batch.discover([root]).files)


def fake_grade_drawn(path, config=None, *, out_dir=None, overlay=True,  # type: ignore[no-untyped-def]
                     overlay_crops=False, overlay_name=None):
    """:func:`fake_grade` drawing its overlay (and with crops its right hip's) as
    ``grade_path`` does: an 8-bit RGB PNG named ``overlay_name_for`` the film, in ``out_dir``."""
    from brooker.overlay import overlay_name_for, write_png

    result = fake_grade(path, config)
    if out_dir is None or not overlay:
        return result
    name = overlay_name or overlay_name_for(path)
    rgb = np.zeros((4, 4, 3), np.uint8)
    write_png(Path(out_dir) / f"{name}.png", rgb)
    if overlay_crops:
        write_png(Path(out_dir) / f"{name}-right.png", rgb)
    return dataclasses.replace(result, overlay=str(Path(out_dir) / f"{name}.png"))


@pytest.fixture
def drawing_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``brooker grade`` use :func:`fake_grade_drawn` in its workers."""
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_drawn)
    )


def _pngs(out: Path) -> set[str]:
    return {p.name for p in out.glob("*.png")}


def _named_overlays(results: Path) -> set[str]:
    """The overlays the records of ``results`` name, by file name."""
    return {Path(r["overlay"]).name for r in batch.read_records(results) if r.get("overlay")}


def _keepsakes(out: Path) -> dict[str, bytes]:
    """Files a user keeps in a run's folder: a PNG named like an overlay that no record names,
    a greyscale film named like one, and a picture of their own; written, and returned."""
    out.mkdir(parents=True, exist_ok=True)
    kept = {
        "mine-0123456789abcdef.png": encode_png(np.full((2, 2, 3), 7, np.uint8)),
        "notes.png": encode_png(np.full((2, 2, 3), 9, np.uint8)),
    }
    grey = io.BytesIO()
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(grey, "PNG")
    kept["film-fedcba9876543210.png"] = grey.getvalue()
    for name, data in kept.items():
        (out / name).write_bytes(data)
    return kept


def test_a_fresh_run_removes_the_earlier_runs_overlays_its_records_do_not_name(
    drawing_engine: None, good_tree: Path, tmp_path: Path
):
    """A run without --resume empties results.jsonl; the earlier run's overlays stayed, so the
    folder held pictures of films no record names (a film no longer among the inputs, or all
    of them with --no-overlay). Now they go, and only they: files the user keeps there (named
    like an overlay or not, a film), the earlier run's files outside the folder, and the inputs
    stay."""
    out = tmp_path / "o"
    a, b = good_tree / "a" / "IM0001", good_tree / "b" / "IM0001"
    inputs = {p: p.read_bytes() for p in (a, b)}
    assert run(good_tree, "--out", out).exit_code == 0
    both = _named_overlays(out / "results.jsonl")
    assert len(both) == 2
    assert both <= _pngs(out)
    kept = _keepsakes(out)
    # a record naming an overlay outside the folder: only names inside it are ever removed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    far = elsewhere / "far-0123456789abcdef.png"
    far.write_bytes(kept["notes.png"])
    with open(out / "results.jsonl", "a", encoding="utf-8") as fh:
        rec = {"file": str(tmp_path / "gone.dcm"), "status": "ok", "version": __version__,
               "hips": [], "overlay": str(far)}  # fmt: skip
        fh.write(json.dumps(rec) + "\n")

    r = run(a, "--out", out)  # b is no longer an input
    assert r.exit_code == 0, r.output
    assert _pngs(out) == _named_overlays(out / "results.jsonl") | set(kept)
    assert len(_named_overlays(out / "results.jsonl")) == 1

    r = run(a, "--out", out, "--no-overlay")
    assert r.exit_code == 0, r.output
    assert _pngs(out) == set(kept)  # no record names an overlay: none is left
    assert {n: (out / n).read_bytes() for n in kept} == kept
    assert far.exists()
    assert {p: p.read_bytes() for p in inputs} == inputs


def test_a_fresh_run_removes_the_hip_crops_of_an_earlier_run_that_drew_them(
    drawing_engine: None, good_tree: Path, tmp_path: Path
):
    """Records do not name hip crops; the manifest of the run that drew them says it did. A
    new run without --overlay-crops leaves none beside overlays of an analysis drawn
    without them."""
    out = tmp_path / "o"
    assert run(good_tree, "--out", out, "--overlay-crops").exit_code == 0
    assert len({n for n in _pngs(out) if n.endswith("-right.png")}) == 2
    assert run(good_tree, "--out", out).exit_code == 0
    assert _pngs(out) == _named_overlays(out / "results.jsonl")


def test_a_fresh_run_of_a_shard_leaves_the_other_shards_overlays(
    drawing_engine: None, tmp_path: Path
):
    """The shards of a job array share --out, each with its own results file: a shard run
    again without --resume removes the overlays its own earlier run drew, never another
    shard's, nor one that another run's records in the folder name too (a run with no
    shard that graded the same film)."""
    root = tmp_path / "in"
    films = [str(_w(root / f"d{i}" / "IM0001", b"x" * i)) for i in range(6)]
    fill_every_shard(films, lambda k: str(_w(root / f"e{k}" / "IM0001", b"y" * k)))
    out = tmp_path / "o"
    for i in range(2):
        assert run(root, "--out", out, "--shard", f"{i}/2").exit_code == 0
    results = [out / f"results.shard-{i}-of-2.jsonl" for i in range(2)]
    drawn = [_named_overlays(f) for f in results]
    assert all(drawn)
    assert sum(map(len, drawn)) == len(films)
    # a run with no shard of one of shard 0's films: its overlay is that run's too
    shared = next(f for f in films if batch.shard_of(str(f), 2) == 0)
    assert run(shared, "--out", out).exit_code == 0
    assert len(_named_overlays(out / "results.jsonl")) == 1

    r = run(root, "--out", out, "--shard", "0/2", "--no-overlay")
    assert r.exit_code == 0, r.output
    assert _pngs(out) == drawn[1] | _named_overlays(out / "results.jsonl")
    assert not _named_overlays(results[0])


def test_a_fresh_run_stopped_while_it_removes_the_earlier_overlays_can_finish(
    drawing_engine: None, good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The earlier run's overlays are removed before its results file is emptied: a run
    stopped half way through the removal has graded nothing and leaves the earlier records,
    which still name the overlays not yet removed, so running it again removes those too
    (emptied first, they would be named by no record, for good)."""
    out = tmp_path / "o"
    assert run(good_tree, "--out", out).exit_code == 0
    before = (out / "results.jsonl").read_bytes()
    real_unlink = os.unlink
    removed: list[str] = []

    def unlink_once(path, *a, **kw):  # type: ignore[no-untyped-def]
        if str(path).endswith(".png"):
            if removed:
                raise KeyboardInterrupt  # Ctrl-C after the first overlay
            removed.append(str(path))
        real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "unlink", unlink_once)
    r = run(good_tree, "--out", out, "--no-overlay")
    assert r.exit_code == 130, r.output
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert len(removed) == 1
    assert (out / "results.jsonl").read_bytes() == before  # nothing graded, nothing emptied
    assert len(_pngs(out)) == 1
    assert _pngs(out) < _named_overlays(out / "results.jsonl")
    assert run(good_tree, "--out", out, "--no-overlay").exit_code == 0
    assert _pngs(out) == set()


def test_spaces_around_the_numbers_of_shard_and_workers_are_dropped(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """Every whole number of the command line is read as click reads ``--workers`` (Python's
    ``int``), which drops spaces around it (BSD ``wc -l`` pads its count): ``--shard`` reads
    I and N so too, and its manifest records the shard as ``I/N``, not as typed, so that
    every shard of a job array spells its own alike."""
    out = tmp_path / "o"
    r = run(good_tree, "--out", out, "--shard", " 0 / 1 ", "--workers", " 2 ")
    assert r.exit_code == 0, r.output
    options = json.loads((out / "manifest.shard-0-of-1.json").read_text())["options"]
    assert options["shard"] == "0/1"
    assert options["workers"] == 2
    assert len(batch.read_records(out / "results.shard-0-of-1.jsonl")) == 2


def _count_grading(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """From now on, the inputs of each call of ``batch.grade_many`` (the films graded), in the
    list returned."""
    graded: list[list[str]] = []
    real = batch.grade_many

    def counting(paths, *a, **kw):  # type: ignore[no-untyped-def]
        graded.append(list(paths))
        return real(paths, *a, **kw)

    monkeypatch.setattr(batch, "grade_many", counting)
    return graded


def test_resume_prints_everything_and_grades_only_new(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    out = tmp_path / "o"
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade)
    )
    first = run(good_tree, "--out", out, "--json")
    assert first.exit_code == 0
    _w(good_tree / "c" / "new", b"NOHIP")
    graded = _count_grading(monkeypatch)
    second = run(good_tree, "--out", out, "--json", "--resume")
    assert second.exit_code == 3  # the new one is ungradable; the exit code covers all
    assert graded == [[str(good_tree / "c" / "new")]]
    assert len(json_lines(second.stdout)) == 3
    assert "from an earlier run" in second.stderr
    assert len(batch.read_records(out / "results.jsonl")) == 3



def test_resume_says_which_films_it_grades_again_for_their_overlays(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    """A film whose record names an overlay no longer in --out is graded again on --resume
    (its picture drawn again), and the run says so on stderr: a reader who deleted the PNGs
    to save room saw an archive graded again without a word."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_batch import drawing_grade

    out = tmp_path / "o"
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=drawing_grade)
    )
    assert run(good_tree, "--out", out).exit_code == 0
    pictures = sorted(out.glob("*.png"))
    pictures[0].unlink()
    graded = _count_grading(monkeypatch)
    again = run(good_tree, "--out", out, "--resume")
    assert again.exit_code == 0
    assert len(graded) == 1
    assert len(graded[0]) == 1
    said = " ".join(again.stderr.split())
    assert f"1 file(s) graded again: the overlays their records name are no longer in {out}" in said
    assert pictures[0].exists()
    quiet = run(good_tree, "--out", out, "--resume", "--quiet")
    assert "graded again" not in quiet.stderr

def _killed_and_edited(tmp_path: Path) -> tuple[Path, Path]:
    """A run over four films whose results file a killed run and a script's edits have left
    with every kind of line a resume meets (a duplicate, a record spelt another way, a
    transient error, a line that is no record, another folder's film's record, a torn end),
    and since which one film has been edited and one added: (the films' folder, --out)."""
    root = tmp_path / "in"
    for name, content in [("a", b"one"), ("b", b"three"), ("c", b"NOHIP"), ("d", b"BUG")]:
        _w(root / name / "IM0001", content)
    out = tmp_path / "o"
    assert run(root, "--out", out, "--workers", "1").exit_code == 3
    results = out / "results.jsonl"
    a, b, c, d = results.read_bytes().splitlines(keepends=True)  # path order: one worker
    assert json.loads(d)["error"]["code"] == "internal_error"
    respelt = json.loads(c) | {"file": str(root / "x" / ".." / "c" / "IM0001")}
    elsewhere = json.loads(a) | {"file": str(tmp_path / "elsewhere" / "IM0001")}
    results.write_bytes(
        a + b + a + (batch.record_line(respelt) + "\n").encode() + d + b"[\n"
        + (batch.record_line(elsewhere) + "\n").encode() + a[:30]
    )  # fmt: skip
    _w(root / "b" / "IM0001", b"edited")
    _w(root / "e" / "IM0001", b"new")
    return root, out


def test_resume_reads_its_results_once_and_does_what_three_readings_did(
    fake_engine: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """``--resume`` read results.jsonl three times: to check the records' versions, to find
    the films done (repairing the file), and once more in the batch, to take out the records
    of the films left to grade, which the second reading had taken out already (seconds a
    reading, for an archive). It reads it once: the same results file, --json records, exit
    code and films graded again as with the three readings, on a file with every kind of
    line a resume meets."""
    root, out = _killed_and_edited(tmp_path)
    as_before = tmp_path / "as-before"
    shutil.copytree(out, as_before)
    lines = len((out / "results.jsonl").read_bytes().splitlines())
    read: list[bytes | str] = []
    record_of = batch.record_of
    monkeypatch.setattr(batch, "record_of", lambda raw: read.append(raw) or record_of(raw))
    graded = _count_grading(monkeypatch)
    now = run(root, "--out", out, "--workers", "1", "--resume", "--json")
    assert now.exit_code == 3, now.stderr
    assert len(read) == lines  # once
    expected = [str(root / name / "IM0001") for name in ("b", "d", "e")]
    assert graded == [expected]
    # as before: the version check's reading not used, the records taken out once more
    load_resume_state, grade_many = batch.load_resume_state, batch.grade_many

    def load_again(*args: Any, snapshot: Any = None, **kwargs: Any) -> Any:
        return load_resume_state(*args, **kwargs)

    def forget_again(*args: Any, **kwargs: Any) -> Any:
        return grade_many(*args, **{**kwargs, "forget": True})

    monkeypatch.setattr(batch, "load_resume_state", load_again)
    monkeypatch.setattr(batch, "grade_many", forget_again)
    del read[:]
    before = run(root, "--out", as_before, "--workers", "1", "--resume", "--json")
    assert len(read) > 2 * lines  # read three times
    assert graded == [expected, expected]
    assert (before.exit_code, before.stdout) == (now.exit_code, now.stdout)
    results = (out / "results.jsonl").read_bytes()
    assert results == (as_before / "results.jsonl").read_bytes()
    assert [r["file"] for r in batch.read_records(out / "results.jsonl")] == [
        str(root / "a" / "IM0001"),
        str(root / "c" / "IM0001"),
        str(tmp_path / "elsewhere" / "IM0001"),
        *expected,
    ]


def test_out_folder_inside_an_input_folder_is_not_graded(
    fake_engine: None, good_tree: Path, monkeypatch: pytest.MonkeyPatch
):
    """``brooker grade . --resume`` with the default ``--out brooker-out``: the overlays of the
    first run are PNGs in a sub-folder of the input folder, and must not become inputs."""
    monkeypatch.chdir(good_tree)
    first = run(".", "--json")
    assert first.exit_code == 0, first.stderr
    # what the first run's overlays are: PNG files in the output folder
    overlay = Path("brooker-out") / "IM0001-0123abcd.png"
    overlay.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    for args in (["--resume"], []):
        again = run(".", "--json", *args)
        assert again.exit_code == 0, again.stderr
        assert sorted(r["file"] for r in json_lines(again.stdout)) == ["a/IM0001", "b/IM0001"]
    found = batch.discover(["."], exclude=["brooker-out"])
    assert [os.path.normpath(f) for f in found.files] == ["a/IM0001", "b/IM0001"]
    assert found.skipped_non_dicom == 1  # readme.txt; nothing in brooker-out is counted


def test_out_folder_that_is_an_input_folder_is_a_usage_error(
    fake_engine: None, good_tree: Path, monkeypatch: pytest.MonkeyPatch
):
    """``brooker grade . --out .``: the overlays would land among the inputs and be graded by
    the next run; refused before any work, as a usage error naming --out."""
    monkeypatch.chdir(good_tree)
    before = sorted(p.name for p in Path(".").iterdir())
    for args in ([".", "--out", "."], ["a", "--out", str(good_tree / "a")]):
        res = run(*args)
        assert res.exit_code == 2, res.stderr
        said = _unboxed(res.stderr)  # the box wraps where the path's length puts the words
        assert "--out" in said
        assert "folder being graded" in said
    assert sorted(p.name for p in Path(".").iterdir()) == before  # nothing written
    ok = run(".", "--out", "sub")  # a sub-folder stays fine (never searched)
    assert ok.exit_code == 0, ok.stderr


def test_an_input_folder_with_its_own_manifest_as_out_is_refused_for_being_graded(
    fake_engine: None, good_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``grade ds --out ds`` where ds holds a dataset's own manifest.json said "move the file",
    which only led to the next refusal (a user's test of 2026-12-07): the folder being
    graded is what is wrong, and is said first."""
    monkeypatch.chdir(good_tree)
    (good_tree / "a" / "manifest.json").write_text('{"dataset": "mine"}')
    (good_tree / "list.txt").write_text("a\n")
    for args in (["a"], ["--files-from", "list.txt"]):  # the archive's way too
        res = run(*args, "--out", "a")
        assert res.exit_code == 2, res.stderr
        said = _unboxed(res.stderr)
        assert "folder being graded" in said
        assert "was not written by brooker" not in said


# --- end to end, the real engine, subprocesses ------------------------------------------------


def _cli(*args: str | os.PathLike[str], **kw):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "brooker", "grade", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


@pytest.fixture(scope="session")
def phantom_dcm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small phantom film (0.25 mm), made once per session."""
    from brooker import phantom
    from brooker.phantom_dicom import DicomVariant, write_dicom

    spec = phantom.PhantomSpec(
        seed=1,
        right=phantom.HipSpec(3, prosthesis=True),
        left=phantom.HipSpec(0),
        spacing_mm=0.25,
        field_mm=(220.0, 300.0),
    )
    key = tmp_path_factory.mktemp("brooker-cli-phantom") / "phantom.dcm"
    if not key.exists():
        ph = phantom.render(spec, truth_res_mm=0.5)
        write_dicom(
            ph.pixels,
            key,
            DicomVariant(pixel_spacing_mm=ph.spacing, calibration_type="GEOMETRY"),
        )
    return key


@pytest.fixture
def real_tree(tmp_path: Path, phantom_dcm: Path) -> Path:
    """Two good films named IM0001 in two folders, a truncated one, garbage, non-DICOM."""
    root = tmp_path / "in"
    for sub in ("a", "b"):
        (root / sub).mkdir(parents=True)
        shutil.copyfile(phantom_dcm, root / sub / "IM0001")
    data = phantom_dcm.read_bytes()
    (root / "b" / "truncated.dcm").write_bytes(data[: len(data) // 3])
    (root / "c").mkdir()
    (root / "c" / "garbage").write_bytes(PREAMBLE + os.urandom(3000))
    (root / "c" / "notes.txt").write_text("not a radiograph")
    return root


def _comparable(recs: list[dict], out: Path) -> list[dict]:  # type: ignore[type-arg]
    """Records with the output folder taken out of the overlay path."""
    res = []
    for r in sorted(recs, key=lambda r: r["file"]):
        r = dict(r)
        if r.get("overlay"):
            assert Path(r["overlay"]).is_relative_to(out)
            assert Path(r["overlay"]).exists()
            r["overlay"] = Path(r["overlay"]).name
        res.append(r)
    return res


@pytest.mark.slow
def test_real_engine_json_redirect_and_worker_counts(real_tree: Path, tmp_path: Path):
    runs = {}
    for w in (1, 2):
        out = tmp_path / f"out{w}"
        target = tmp_path / f"results{w}.jsonl"
        with open(target, "w") as fh:  # `--json > file`
            p = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "brooker",
                    "grade",
                    str(real_tree),
                    "--json",
                    "--out",
                    str(out),
                    "--workers",
                    str(w),
                ],
                stdout=fh,
                stderr=subprocess.PIPE,
                text=True,
                timeout=180,
            )
        assert p.returncode == 3, p.stderr
        assert "Traceback" not in p.stderr
        recs = json_lines(target.read_text())  # nothing but JSON on stdout
        assert len(recs) == 4
        assert f"{real_tree / 'b' / 'truncated.dcm'}:" in p.stderr
        runs[w] = _comparable(recs, out)
    assert runs[1] == runs[2]
    by = {os.path.relpath(r["file"], real_tree): r for r in runs[1]}
    assert by["b/truncated.dcm"]["status"] == "error"
    assert by["c/garbage"]["status"] == "error"
    # read and analysed (whether the engine finds both hips is its own tests' business)
    assert by["a/IM0001"]["status"] in ("ok", "ungradable")
    assert by["a/IM0001"]["spacing"]["source"] == "pixel_spacing"
    if by["a/IM0001"]["status"] == "ok":  # an overlay is drawn for graded films
        assert by["a/IM0001"]["overlay"] != by["b/IM0001"]["overlay"]
    assert by["a/IM0001"]["hips"] == by["b/IM0001"]["hips"]


@pytest.mark.slow
def test_real_engine_sigkill_then_resume(phantom_dcm: Path, tmp_path: Path):
    root = tmp_path / "in"
    root.mkdir()
    for i in range(4):
        shutil.copyfile(phantom_dcm, root / f"IM{i:04d}")
    (root / "IM0009").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")  # a broken one
    out = tmp_path / "out"
    results = out / "results.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "brooker",
        "grade",
        str(root),
        "--json",
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-overlay",
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not (results.exists() and results.read_bytes().count(b"\n") >= 1):
            assert time.monotonic() < deadline, "no record appeared"
            assert proc.poll() is None, "finished before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert results.read_bytes().count(b"\n") < 5
    resumed = _cli(*cmd[4:], "--resume")
    assert resumed.returncode == 3, resumed.stderr
    assert len(json_lines(resumed.stdout)) == 5
    fresh_out = tmp_path / "fresh"
    fresh = _cli(root, "--json", "--out", fresh_out, "--workers", "2", "--no-overlay", "-q")
    assert _comparable(batch.read_records(results), out) == _comparable(
        json_lines(fresh.stdout), fresh_out
    )
    assert len(results.read_bytes().splitlines()) == 5


def test_resume_with_other_grading_options_is_refused(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """One results file never mixes two analyses: --resume with another spacing (or other
    judges) than the run it continues is a usage error; the same options resume."""
    out = tmp_path / "o"
    assert run(good_tree, "--out", out, "--pixel-spacing", "0.2,0.2").exit_code == 0
    other = run(good_tree, "--out", out, "--resume", "--pixel-spacing", "0.15,0.15")
    assert other.exit_code == 2, other.output
    # named as the options are given, not as the manifest's keys and Python values
    assert "graded with --pixel-spacing 0.2,0.2, this one with --pixel-spacing 0.15,0.15" in (
        " ".join(other.stderr.replace("\u2502", " ").split())
    )
    assert len(batch.read_records(out / "results.jsonl")) == 2  # left as it was
    flipped = run(good_tree, "--out", out, "--resume", "--pixel-spacing", "0.2,0.2", "--flipped")
    assert flipped.exit_code == 2, flipped.output
    assert "graded with no --flipped, this one with --flipped" in (
        " ".join(flipped.stderr.replace("\u2502", " ").split())
    )
    same = run(good_tree, "--out", out, "--resume", "--pixel-spacing", "0.2,0.2")
    assert same.exit_code == 0, same.output


@pytest.mark.parametrize(
    ("first", "then", "flag"),
    [
        ([], ["--no-overlay"], "--no-overlay"),
        (["--no-overlay"], [], "--no-overlay"),
        ([], ["--overlay-crops"], "--overlay-crops"),
        (["--overlay-crops"], [], "--overlay-crops"),
    ],
)
def test_resume_with_other_overlay_options_is_refused(
    fake_engine: None, good_tree: Path, tmp_path: Path, first: list[str], then: list[str],
    flag: str,
):
    """A run made without overlays and resumed with them (or the other way, or with and
    without hip crops) would leave some records with an overlay and some without, silently:
    refused like the grading options, naming the option; the same options resume."""
    out = tmp_path / "o"
    assert run(good_tree, "--out", out, *first).exit_code == 0
    _w(good_tree / "c" / "new", b"four")
    before = (out / "results.jsonl").read_bytes()
    other = run(good_tree, "--out", out, "--resume", *then)
    assert other.exit_code == 2, other.output
    assert flag in other.stderr
    assert "--resume" in other.stderr
    assert (out / "results.jsonl").read_bytes() == before  # left as it was
    same = run(good_tree, "--out", out, "--resume", "--json", *first)
    assert same.exit_code == 0, same.output
    assert len(json_lines(same.stdout)) == 3


def test_resume_across_other_shipped_judges_is_refused(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """The shipped judges' files are hashed into the manifest too: a run graded by other
    shipped weights (another build of the same version) is not resumed."""
    from brooker.ho_pixels import shipped_file

    out = tmp_path / "o"
    assert run(good_tree, "--out", out).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    hashes = manifest["options"]["judges_sha256"]
    for name in ("ho_pixels.npz", "ho_fragments.npz"):
        with shipped_file(name) as path:
            assert hashes[name] == batch.file_sha256(path)
    hashes["ho_fragments.npz"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    other = run(good_tree, "--out", out, "--resume")
    assert other.exit_code == 2, other.output
    assert "graded with other judges" in " ".join(other.stderr.replace("\u2502", " ").split())


def test_resume_of_a_run_by_another_version_is_refused(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """Records of two brooker versions never share one results file: --resume of a run whose
    manifest names another version is a usage error that leaves the run as it was."""
    out = tmp_path / "o"
    assert run(good_tree, "--out", out).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == __version__
    manifest["version"] = "0.0.1"
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = (out / "results.jsonl").read_bytes()
    other = run(good_tree, "--out", out, "--resume")
    assert other.exit_code == 2, other.output
    assert "0.0.1" in other.output
    assert __version__ in other.output
    assert (out / "results.jsonl").read_bytes() == before
    manifest["version"] = __version__
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert run(good_tree, "--out", out, "--resume").exit_code == 0
    # without a manifest, the records themselves say which version graded them
    (out / "manifest.json").unlink()
    lines = (out / "results.jsonl").read_text().splitlines()
    old = json.loads(lines[0])
    old["version"] = "0.0.1"
    (out / "results.jsonl").write_text("\n".join([json.dumps(old), *lines[1:]]) + "\n")
    before = (out / "results.jsonl").read_bytes()
    again = run(good_tree, "--out", out, "--resume")
    assert again.exit_code == 2, again.output
    assert "0.0.1" in again.output
    assert (out / "results.jsonl").read_bytes() == before


@pytest.mark.parametrize("refusal", ["manifest_version", "record_version", "option"])
def test_resume_refusals_show_the_out_path_escaped(
    fake_engine: None, good_tree: Path, tmp_path: Path, refusal: str
):
    """The --resume refusals name manifest.json or results.jsonl inside --out: a folder name
    holding an escape sequence, a bidirectional override or a byte that is not UTF-8 reaches
    the terminal escaped (as the --out messages do), never raw."""
    out = tmp_path / "run\x1b]0;pwned\x07\u202e\udcff"
    assert run(good_tree, "--out", out).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    extra: list[str] = []
    if refusal == "manifest_version":
        manifest["version"] = "0.0.1"
        (out / "manifest.json").write_text(json.dumps(manifest))
    elif refusal == "record_version":
        (out / "manifest.json").unlink()
        lines = (out / "results.jsonl").read_text().splitlines()
        old = json.loads(lines[0])
        old["version"] = "0.0.1"
        (out / "results.jsonl").write_text("\n".join([json.dumps(old), *lines[1:]]) + "\n")
    else:
        extra = ["--pixel-spacing", "0.2"]
    res = CliRunner().invoke(  # wide: the message stays on one line of the error panel
        app,
        ["grade", str(good_tree), "--out", str(out), "--resume", *extra],
        env={"COLUMNS": "400"},
        terminal_width=400,
    )
    assert res.exit_code == 2, res.output
    assert "--resume" in res.stderr
    for raw in ("\x1b", "\x07", "\u202e", "\udcff"):
        assert raw not in res.stderr
    assert "run\\x1b]0;pwned\\x07\\u202e\\xff" in res.stderr


@pytest.mark.parametrize("refusal", ["files_from", "locked_out"])
def test_usage_errors_naming_a_path_show_it_escaped(
    fake_engine: None, good_tree: Path, tmp_path: Path, refusal: str
):
    """A --files-from list that cannot be read, and an --out another run is writing, are named
    in their usage error escaped, as every path the command line shows: an escape sequence, a
    bidirectional override or a byte that is not UTF-8 in the name never reaches the terminal
    raw."""
    import fcntl

    weird = "run\x1b]0;pwned\x07\u202e\udcff"
    out = tmp_path / weird
    fd = None
    if refusal == "files_from":
        args = ["--files-from", str(tmp_path / weird / "list.txt"), "--out", str(tmp_path / "o")]
    else:
        assert run(good_tree, "--out", out).exit_code == 0
        fd = os.open(out / ".results.jsonl.lock", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as if that run were still going
        args = [str(good_tree), "--out", str(out)]
    try:
        res = CliRunner().invoke(  # wide: the message stays on one line of the error panel
            app, ["grade", *args], env={"COLUMNS": "400"}, terminal_width=400
        )
    finally:
        if fd is not None:
            os.close(fd)
    assert res.exit_code == 2, res.output
    for raw in ("\x1b", "\x07", "\u202e", "\udcff"):
        assert raw not in res.stderr
    assert "run\\x1b]0;pwned\\x07\\u202e\\xff" in res.stderr


def test_a_run_killed_once_its_manifest_is_written_never_resumes_the_old_records(
    fake_engine: None, good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A new run empties results.jsonl before it writes its manifest: killed between the two,
    its options never stand over the records of the run before, which --resume would keep."""
    out = tmp_path / "o"
    assert run(good_tree, "--out", out, "--pixel-spacing", "0.2,0.2").exit_code == 0
    write_manifest = batch.write_manifest

    def killed_after(path: Path, manifest: dict[str, Any]) -> None:
        write_manifest(path, manifest)
        raise KeyboardInterrupt  # the process dies right after its manifest is on disk

    monkeypatch.setattr(batch, "write_manifest", killed_after)
    assert run(good_tree, "--out", out, "--pixel-spacing", "0.15,0.15").exit_code == 130
    monkeypatch.setattr(batch, "write_manifest", write_manifest)
    assert batch.read_records(out / "results.jsonl") == []
    resumed = run(good_tree, "--out", out, "--resume", "--pixel-spacing", "0.15,0.15")
    assert resumed.exit_code == 0, resumed.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["resumed"] == 0  # every film graded with the new options
    assert manifest["options"]["pixel_spacing"] == [0.15, 0.15]


def test_a_run_takes_away_what_a_killed_run_left_of_its_outputs(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """A run killed (SIGKILL) while it rewrote its results file (--resume), or wrote its
    manifest or CSV, left their temporary files: a results file's worth for a big archive,
    there for good. The next run of these outputs takes them away; another shard's, in the
    same folder, stay."""
    out, tables = tmp_path / "o", tmp_path / "tables"
    assert run(good_tree, "--out", out).exit_code == 0
    tables.mkdir()
    left = [out / f".{name}.0123456789ab.tmp" for name in ("results.jsonl", "manifest.json")]
    left.append(tables / ".all.csv.0123456789ab.tmp")
    other = out / ".results.shard-0-of-2.jsonl.0123456789ab.tmp"
    for tmp in (*left, other):
        tmp.write_bytes(b"half a file")
    resumed = run(good_tree, "--out", out, "--resume", "--csv", tables / "all.csv")
    assert resumed.exit_code == 0, resumed.output
    assert sorted(p.name for p in tables.iterdir()) == ["all.csv"]
    assert sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp")) == [other.name]


def test_a_reader_that_goes_away_stops_the_run_without_an_internal_error(tmp_path: Path):
    """`brooker grade DIR --json | head`: the reader closing stdout stops the run as an
    interruption does (exit 141, manifest "interrupted", resumable), not as a bug (exit 1 and
    a traceback in errors.log)."""
    root = tmp_path / "in"
    for i in range(5):
        _w(root / f"IM{i:04d}", b"\x02\x00")  # broken: an error record each, at once
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "brooker", "grade", str(root), "--json", "--out", str(out),
           "--workers", "1", "--no-overlay", "--quiet"]  # fmt: skip
    code, err = run_with_stdout_closed(cmd)  # the reader is gone before the first record
    assert code == 141, err
    assert "internal error" not in err
    # how far it got and how to go on, as an interrupted run says (it said "stopped" alone)
    assert err.splitlines()[-1].startswith(
        "stopped: standard output was closed by its reader: "
    ), err
    assert "file(s) done; to go on, run the same command with --resume" in err
    assert not (out / "errors.log").exists()
    assert json.loads((out / "manifest.json").read_text())["state"] == "interrupted"
    resumed = _cli(root, "--json", "--out", out, "--workers", "1", "--no-overlay", "-q",
                   "--resume")  # fmt: skip
    assert resumed.returncode == 3, resumed.stderr
    assert len(json_lines(resumed.stdout)) == 5


def test_a_reader_that_goes_away_while_resumed_records_are_printed(tmp_path: Path):
    """`brooker grade DIR --json --resume | head`: the records of the run resumed are printed
    before any film is graded; a reader gone then stopped the run (exit 141) with its
    manifest left saying "running" and no finished_at, where README says "interrupted"."""
    root = tmp_path / "in"
    for i in range(5):
        _w(root / f"IM{i:04d}", b"\x02\x00")  # broken: an error record each, kept by resume
    out = tmp_path / "out"
    args = [root, "--json", "--out", out, "--workers", "1", "--no-overlay", "-q"]
    assert _cli(*args).returncode == 3
    cmd = [sys.executable, "-m", "brooker", "grade", *map(str, args), "--resume"]
    code, err = run_with_stdout_closed(cmd)
    assert code == 141, err
    assert "internal error" not in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    assert manifest["finished_at"] is not None
    assert len(batch.read_records(out / "results.jsonl")) == 5


def test_a_table_reader_that_goes_away_cuts_only_the_table(tmp_path: Path):
    """`brooker grade DIR --csv x.csv | head`: every film is graded before the table is
    printed, so the CSV is still written and the manifest says "complete" (with
    "stdout_closed"), and the exit is 141, not 0."""
    from brooker.phantom_dicom import DicomVariant, write_dicom

    root = tmp_path / "in"
    root.mkdir()
    blank = np.full((400, 500), 1000, np.uint16)  # no hip: an "ungradable" row in the table
    for i in range(3):
        write_dicom(blank, root / f"IM{i}.dcm", DicomVariant(pixel_spacing_mm=(0.7, 0.7)))
    out = tmp_path / "out"
    csv_path = tmp_path / "x.csv"
    cmd = [sys.executable, "-m", "brooker", "grade", str(root), "--out", str(out),
           "--csv", str(csv_path), "--workers", "1", "--no-overlay"]  # fmt: skip
    code, err = run_with_stdout_closed(cmd)
    assert code == 141, err
    assert "internal error" not in err
    assert "the table was cut" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "complete"
    assert manifest["stdout_closed"] is True
    assert len(csv_path.read_text(encoding="utf-8-sig").splitlines()) == 1 + 3


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_second_run_into_the_same_out_while_one_runs_is_a_usage_error(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """A cluster job requeued while the first still runs: the second run (with --resume or
    not) is refused before it writes anything, instead of grading the films twice and losing
    the records appended to a results file it replaced. The lock goes with the run: a run that
    ended (or was killed) leaves none."""
    import fcntl

    out = tmp_path / "o"
    assert run(good_tree, "--out", out).exit_code == 0
    results = (out / "results.jsonl").read_bytes()
    fd = os.open(out / ".results.jsonl.lock", os.O_RDWR)  # the lock the first run took
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as if that run were still going
        for args in ([], ["--resume"]):
            second = run(good_tree, "--out", out, *args)
            assert second.exit_code == 2, second.output
            assert "another brooker run is writing" in second.stderr
            assert (out / "results.jsonl").read_bytes() == results  # left as it was
        shard = run(good_tree, "--out", out, "--shard", "1/2")  # another results file
        assert shard.exit_code == 0, shard.stderr  # also when the shard holds no film
    finally:
        os.close(fd)
    assert run(good_tree, "--out", out, "--resume").exit_code == 0


@pytest.mark.parametrize("move", [False, True], ids=["same folder", "another folder"])
def test_a_record_spelt_otherwise_is_resumed_with_this_runs_spelling(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path, move: bool
):
    """Graded as `tree/a/IM0001`, resumed with absolute paths from the same folder or from
    another one (a cluster job started elsewhere): the records are matched to the inputs (by
    real path; from elsewhere by the end of their path and their content), nothing is graded
    again, and results.jsonl and --json hold every film once, spelt as this run gives it (from
    elsewhere each was held twice, the CSV once; from the same folder the old spelling
    stayed)."""
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade)
    )
    out = tmp_path / "o"
    monkeypatch.chdir(good_tree.parent)
    assert run(good_tree.name, "--out", out).exit_code == 0
    graded = _count_grading(monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if move:
        monkeypatch.chdir(elsewhere)
    again = run(good_tree, "--out", out, "--resume", "--json")
    assert again.exit_code == 0, again.stderr
    assert graded in ([], [[]])  # nothing graded again
    given = sorted(str(good_tree / d / "IM0001") for d in ("a", "b"))
    assert sorted(r["file"] for r in batch.read_records(out / "results.jsonl")) == given
    assert sorted(r["file"] for r in json_lines(again.stdout)) == given
    if not move:
        return
    # the record of a film whose content has changed since is not taken for it
    other = tmp_path / "o2"
    monkeypatch.chdir(good_tree.parent)
    assert run(good_tree.name, "--out", other).exit_code == 0
    _w(good_tree / "a" / "IM0001", b"changed")
    monkeypatch.chdir(elsewhere)
    third = run(good_tree, "--out", other, "--resume", "--json")
    assert third.exit_code == 0, third.stderr
    assert graded[-1] == [str(good_tree / "a" / "IM0001")]
    assert len(batch.read_records(other / "results.jsonl")) == 2


# --- stopped by SIGTERM (a cluster scheduler cancelling the job, `kill PID`) or SIGHUP (the ---
# --- terminal closed) ----------------------------------------------------------------------


#: The stop signals ``brooker grade`` handles, each with its exit code and the start of its
#: line on stderr (then how far the run got and how to go on: :func:`_stop_line`).
STOP_SIGNALS = [
    pytest.param(signal.SIGTERM, 143, "stopped by SIGTERM", id="SIGTERM"),
    pytest.param(signal.SIGHUP, 129, "stopped by SIGHUP", id="SIGHUP"),
]


@pytest.mark.parametrize(("sig", "code", "line"), STOP_SIGNALS)
def test_stop_signal_is_raised_as_an_interruption_and_the_handler_put_back(
    fake_engine: None,
    good_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sig: signal.Signals,
    code: int,
    line: str,
):
    """In the batch process SIGTERM and SIGHUP stop the run as Ctrl-C does (exit 143 and 129,
    the records so far kept, the manifest "interrupted"); a second signal while it stops does
    not cut the manifest short; the handler found before the command is put back after it.
    SIGHUP ended the process at once, its manifest "running"."""
    before = signal.getsignal(sig)
    write_record, write_manifest = batch.ResultsWriter.write, batch.write_manifest

    def handled() -> bool:  # never raise it with no handler: that would end the test run
        return signal.getsignal(sig) is not before

    def record_then_signal(self: batch.ResultsWriter, record: dict[str, Any]) -> None:
        write_record(self, record)
        if handled():
            signal.raise_signal(sig)  # after the first record

    def signal_again(path: Path, manifest: dict[str, Any]) -> None:
        if manifest["state"] != "running" and handled():
            signal.raise_signal(sig)  # as the run stops
        write_manifest(path, manifest)

    monkeypatch.setattr(batch.ResultsWriter, "write", record_then_signal)
    monkeypatch.setattr(batch, "write_manifest", signal_again)
    out = tmp_path / "o"
    r = run(good_tree, "--out", out, "--workers", "1", "--json")
    assert r.exit_code == code, r.output
    assert r.stderr.strip() == _stop_line(line, 1, 2)
    assert json.loads((out / "manifest.json").read_text())["state"] == "interrupted"
    assert len(batch.read_records(out / "results.jsonl")) == 1  # written before the signal
    assert signal.getsignal(sig) is before


@pytest.mark.parametrize(("sig", "code", "line"), STOP_SIGNALS)
def test_a_stop_while_the_manifest_is_closed_leaves_it_interrupted(
    fake_engine: None,
    good_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sig: signal.Signals,
    code: int,
    line: str,
):
    """A stop that lands as the run ends, while its manifest is being closed (every film
    graded, the CSV written), cut that write: the run exited 143 (129) with its manifest
    saying "running" for good. It says "interrupted", as the exit code does."""
    before = signal.getsignal(sig)
    write_manifest = batch.write_manifest

    def signal_as_closed(path: Path, manifest: dict[str, Any]) -> None:
        if manifest["state"] != "running" and signal.getsignal(sig) is not before:
            signal.raise_signal(sig)  # the first signal: raised here, the write not done
        write_manifest(path, manifest)

    monkeypatch.setattr(batch, "write_manifest", signal_as_closed)
    out = tmp_path / "o"
    r = run(good_tree, "--out", out, "--workers", "1", "--csv", tmp_path / "all.csv")
    assert r.exit_code == code, r.output
    assert line in r.stderr
    assert (tmp_path / "all.csv").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    assert manifest["finished_at"] is not None
    assert manifest["counts"]["files"] == len(batch.read_records(out / "results.jsonl")) == 2
    assert signal.getsignal(sig) is before


def test_sighup_with_its_terminal_gone_is_no_internal_error(
    fake_engine: None, good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """After SIGHUP the terminal may be gone, every write to it failing (EIO): here the
    progress bar's last drawing, as the run stops, and the closing line. The run still stops as
    an interrupted one (exit 129, the manifest "interrupted", the record so far kept), not as
    an internal error (exit 1, a traceback in errors.log) because a print failed."""
    from rich.console import Console

    from brooker.cli import grade_cmd

    before = signal.getsignal(signal.SIGHUP)
    hung_up = threading.Event()

    class Terminal(io.StringIO):
        """A terminal that hangs up: from then on the main thread's writes fail."""

        def write(self, text: str) -> int:
            if not hung_up.is_set():
                return super().write(text)
            if threading.current_thread() is threading.main_thread():
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return len(text)  # the progress bar's own refresh thread: lost too, unraised

    terminal = Terminal()
    make_console = grade_cmd.make_console

    def console(**kwargs: Any) -> Any:
        if kwargs.get("stderr"):
            return Console(file=terminal, force_terminal=True, width=100, markup=False)
        return make_console(**kwargs)

    write_record = batch.ResultsWriter.write

    def record_then_hang_up(self: batch.ResultsWriter, record: dict[str, Any]) -> None:
        write_record(self, record)
        if signal.getsignal(signal.SIGHUP) is not before:  # never unhandled: it ends pytest
            hung_up.set()
            signal.raise_signal(signal.SIGHUP)

    monkeypatch.setattr(grade_cmd, "make_console", console)
    monkeypatch.setattr(batch.ResultsWriter, "write", record_then_hang_up)
    out = tmp_path / "o"
    r = run(good_tree, "--out", out, "--workers", "1")
    assert r.exit_code == 129, (r.output, terminal.getvalue())
    assert "grading" in terminal.getvalue()  # the progress bar was drawn before
    assert "stopped by SIGHUP" not in terminal.getvalue()  # it never reached the terminal
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    assert "error" not in manifest
    assert len(batch.read_records(out / "results.jsonl")) == 1
    assert not (out / "errors.log").exists()


def test_stopped_points_a_stream_that_cannot_take_what_it_holds_at_the_null_device(
    monkeypatch: pytest.MonkeyPatch,
):
    """What standard output still holds for a terminal that hung up, or for a reader gone with
    it, fails again in Python's flush at exit, which then exits 120 (not the stop's code) with
    a message: a stopped run points such a stream at the null device before it exits."""
    import typer
    from rich.console import Console

    from brooker.cli.grade_cmd import _stopped

    read, write = os.pipe()
    stream = os.fdopen(write, "w")
    stream.write("held")  # buffered, not yet written
    os.close(read)  # the reader goes away
    monkeypatch.setattr(sys, "stdout", stream)
    with pytest.raises(typer.Exit) as stop:
        _stopped(Console(file=io.StringIO()), "stopped by SIGHUP", 129)
    assert stop.value.exit_code == 129
    assert os.path.samestat(os.fstat(write), os.stat(os.devnull))
    stream.close()  # its flush raises nothing now


def test_stopped_while_resume_hashes_its_inputs_the_manifest_says_so(
    fake_engine: None, good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """--resume first reads the kept records and hashes their inputs (minutes on an archive);
    a Ctrl-C or SIGTERM then left the new run's manifest "running", with no finished_at."""
    out = tmp_path / "o"
    assert run(good_tree, "--out", out, "--workers", "1").exit_code == 0
    kept = (out / "results.jsonl").read_bytes()

    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "load_resume_state", stopped)
    r = run(good_tree, "--out", out, "--workers", "1", "--resume")
    assert r.exit_code == 130, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    assert manifest["finished_at"] is not None
    assert manifest["counts"]["files"] == 0  # this run graded nothing
    assert (out / "results.jsonl").read_bytes() == kept  # the kept records are kept


def test_a_bug_in_the_run_leaves_the_manifest_failed_not_interrupted(
    fake_engine: None, good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An unexpected exception in the run (a bug: exit 1, its traceback in errors.log) ends
    the run "failed", with the error, as a full disk does. It said "interrupted", with no
    error, as if stopped by Ctrl-C."""
    write_record = batch.ResultsWriter.write

    def record_then_bug(self: batch.ResultsWriter, record: dict[str, Any]) -> None:
        write_record(self, record)
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(batch.ResultsWriter, "write", record_then_bug)
    out = tmp_path / "o"
    r = run(good_tree, "--out", out, "--workers", "1")
    assert r.exit_code == 1, r.output
    assert "internal error: RuntimeError: boom" in r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "failed"
    assert manifest["finished_at"] is not None
    assert manifest["error"] == {
        "code": "internal_error",
        "message": "RuntimeError: boom second line",
    }
    assert manifest["counts"]["files"] == 0  # its record was written, but never reached the run
    assert len(batch.read_records(out / "results.jsonl")) == 1  # kept for --resume
    assert "RuntimeError: boom" in (out / "errors.log").read_text()


def test_a_bug_while_a_stop_unwinds_leaves_the_manifest_failed(
    fake_engine: None, good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Ctrl-C, then a bug as the run unwinds (here closing the results file): exit 1, so the
    manifest says "failed" with the error. Only a write to a terminal that hung up (an
    OSError) stands for the stop it interrupts; this said "interrupted", with no error."""

    def stop(self: batch.ResultsWriter, record: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    def bug(self: batch.ResultsWriter) -> None:
        raise RuntimeError("closing failed")

    monkeypatch.setattr(batch.ResultsWriter, "write", stop)
    monkeypatch.setattr(batch.ResultsWriter, "close", bug)
    manifest = _failed_run(good_tree, tmp_path / "o", exit_code=1)
    assert manifest["error"]["message"] == "RuntimeError: closing failed"


def test_a_sighup_ignored_by_its_launcher_stays_ignored() -> None:
    """`nohup brooker grade ...` ignores SIGHUP so that the run outlives its terminal: the run
    keeps it ignored (a guard: SIGHUP's handler is new)."""
    from brooker.cli import grade_cmd

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with grade_cmd._signals_interrupt():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)  # nothing happens
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


def test_a_signal_as_the_handlers_are_put_back_escapes_nothing_and_leaves_none() -> None:
    """A SIGHUP arriving while the run's handlers are put back (the run over) used to raise
    out of the block's end, and left SIGHUP's handler installed for good, swallowing every
    later SIGHUP or SIGTERM of the process (an in-process caller's, a test runner's)."""
    from brooker.cli import grade_cmd

    seen: list[int] = []

    def mine(signum: int, frame: Any) -> None:
        seen.append(signum)

    before = {s: signal.signal(s, mine) for s in (signal.SIGTERM, signal.SIGHUP)}
    real_signal = signal.signal

    def put_back(signum: int, handler: Any) -> Any:
        if signum == signal.SIGTERM and handler is mine:  # restoring: SIGHUP comes now
            signal.raise_signal(signal.SIGHUP)
        return real_signal(signum, handler)

    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(signal, "signal", put_back)
            with grade_cmd._signals_interrupt():
                pass
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGHUP) is mine
        signal.raise_signal(signal.SIGHUP)
        assert seen == [signal.SIGHUP]  # the caller's own handler has it again
    finally:
        for s, h in before.items():
            signal.signal(s, h)


@pytest.mark.parametrize(
    ("error", "code", "exit_code"),
    [
        pytest.param(RuntimeError("boom"), "internal_error", 1, id="bug"),
        pytest.param(
            OSError(errno.ENOSPC, "No space left on device"), "disk_full", 5, id="disk full"
        ),
    ],
)
def test_failed_while_resume_reads_its_records_the_manifest_says_so(
    fake_engine: None,
    good_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    code: str,
    exit_code: int,
):
    """A bug or a full disk while --resume reads the kept records (and rewrites them without
    their stale ones) ends the new run "failed" with the error, as later in the run. Its
    manifest stayed "running", with no finished_at."""
    out = tmp_path / "o"
    assert run(good_tree, "--out", out, "--workers", "1").exit_code == 0

    def fails(*args: Any, **kwargs: Any) -> Any:
        if isinstance(error, OSError):
            from brooker.errors import output_error

            raise output_error(error, str(out / "results.jsonl"))
        raise error

    monkeypatch.setattr(batch, "load_resume_state", fails)
    r = run(good_tree, "--out", out, "--workers", "1", "--resume")
    assert r.exit_code == exit_code, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "failed"
    assert manifest["finished_at"] is not None
    assert manifest["error"]["code"] == code
    assert manifest["counts"]["files"] == 0


def _obstruct_csv_folder(folder: Path) -> None:
    """The --csv file's folder replaced by a regular file: the CSV cannot be written there (an
    obstacle root cannot write through, as it could a folder made read-only)."""
    shutil.rmtree(folder)
    folder.write_text("in the way")


def _obstruct_after_grading(monkeypatch: pytest.MonkeyPatch, obstruct: Any) -> None:
    """``obstruct()`` once the last film is graded (after the outputs' checks before the run),
    in the next run only."""
    grade_many = batch.grade_many

    def then_obstruct(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from grade_many(*args, **kwargs)
        monkeypatch.setattr(batch, "grade_many", grade_many)
        obstruct()

    monkeypatch.setattr(batch, "grade_many", then_obstruct)


@pytest.mark.parametrize("output", ["csv", "report", "bug"])
def test_a_csv_or_review_page_not_written_at_the_end_leaves_the_manifest_failed(
    fake_engine: None,
    good_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    output: str,
):
    """Every film graded, then the --csv file (its folder gone since the check before the
    run) or the --report page (a folder in its place) cannot be written: exit 5, and the
    manifest said "complete", as if every output the run was asked for were there. Now it says
    "failed" with the error, as a write that fails during the grading does, or a bug in the
    CSV's writing (exit 1); --resume then writes the outputs without grading again."""
    out = tmp_path / "o"
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    csv_path = csv_dir / "res.csv"
    args = [good_tree, "--out", out, "--workers", "1", "--csv", csv_path, "--report"]
    write_csv = batch.write_csv
    if output == "csv":
        _obstruct_after_grading(monkeypatch, lambda: _obstruct_csv_folder(csv_dir))
    elif output == "report":
        (out / "report.html").mkdir(parents=True)
        (out / "report.html" / "kept").write_text("a folder where the page goes")
    else:

        def bug(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(batch, "write_csv", bug)
    r = run(*args)
    assert r.exit_code == (1 if output == "bug" else 5), r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "failed"
    assert manifest["finished_at"] is not None
    assert manifest["counts"]["files"] == 2
    if output == "bug":
        assert manifest["error"] == {"code": "internal_error", "message": "RuntimeError: boom"}
    else:
        assert manifest["error"]["code"] == "output_not_writable"
        where = csv_path if output == "csv" else out / "report.html"
        assert str(where) in manifest["error"]["message"]
        assert f"error: {manifest['error']['message']}" in " ".join(r.stderr.split())
    assert len(batch.read_records(out / "results.jsonl")) == 2  # kept for --resume
    # the obstacle gone, --resume writes the outputs and grades nothing again
    if output == "csv":
        csv_dir.unlink()
    elif output == "report":
        shutil.rmtree(out / "report.html")
    else:
        monkeypatch.setattr(batch, "write_csv", write_csv)
    graded = _count_grading(monkeypatch)
    again = run(*args, "--resume")
    assert again.exit_code == 0, again.output
    assert graded in ([], [[]])
    assert json.loads((out / "manifest.json").read_text())["state"] == "complete"
    assert len(csv_path.read_text(encoding="utf-8-sig").splitlines()) == 1 + 2
    assert (out / "report.html").is_file()


@pytest.mark.parametrize("where", ["table", "csv", "report"])
@pytest.mark.parametrize(("sig", "code", "line"), STOP_SIGNALS[:1])
def test_stopped_while_the_outputs_are_written_the_manifest_says_interrupted(
    fake_engine: None,
    good_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    sig: signal.Signals,
    code: int,
    line: str,
):
    """A stop (here SIGTERM) once every film is graded, while the table is printed, the CSV
    or the review page written: exit 143, and the manifest said "complete", the CSV or the
    page missing. Now "interrupted"; --resume writes them without grading again."""
    from brooker.cli import grade_cmd, report_cmd

    before = signal.getsignal(sig)
    steps = {"table": (grade_cmd, "_print_table"), "csv": (batch, "write_csv"),
             "report": (report_cmd, "write_report_for")}  # fmt: skip
    module, name = steps[where]
    step = getattr(module, name)

    def stopped(*args: Any, **kwargs: Any) -> Any:
        if signal.getsignal(sig) is not before:  # never unhandled: it ends pytest
            signal.raise_signal(sig)
        return step(*args, **kwargs)

    monkeypatch.setattr(module, name, stopped)
    out = tmp_path / "o"
    csv_path = tmp_path / "res.csv"
    args = [good_tree, "--out", out, "--workers", "1", "--csv", csv_path, "--report"]
    r = run(*args)
    assert r.exit_code == code, r.output
    assert line in r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    assert "error" not in manifest
    assert manifest["counts"]["files"] == 2
    assert csv_path.exists() == (where == "report")  # written before the page
    assert not (out / "report.html").exists()
    monkeypatch.setattr(module, name, step)
    graded = _count_grading(monkeypatch)
    again = run(*args, "--resume")
    assert again.exit_code == 0, again.output
    assert graded in ([], [[]])
    assert json.loads((out / "manifest.json").read_text())["state"] == "complete"
    assert csv_path.is_file()
    assert (out / "report.html").is_file()


def fake_grade_held(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """:func:`fake_grade`, held for ``$BROOKER_TEST_HOLD_S`` seconds (as the worker's
    environment says) for a file holding ``HOLD``: busy workers, for as long as a test
    needs."""
    if b"HOLD" in Path(path).read_bytes():
        time.sleep(float(os.environ.get("BROOKER_TEST_HOLD_S", "0")))
    return fake_grade(path, config, **kwargs)


#: ``brooker grade ARGS`` in a process of its own, with :func:`fake_grade_held` in its workers
#: (imported by name there, from the tests folder).
_HELD_CLI_SCRIPT = """
import functools
import sys

sys.path[:0] = [{tests!r}, {root!r}]
from brooker import batch
from test_cli_grade import fake_grade_held

if __name__ == "__main__":
    batch.grade_many = functools.partial(batch.grade_many, grade_fn=fake_grade_held)
    from brooker.cli import main

    sys.argv = ["brooker", "grade", *sys.argv[1:]]
    main()
"""


def _proc_stat(pid: int) -> tuple[int, str, str] | None:
    """``(parent pid, state, start time)`` of a process, from /proc; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), fields[0], fields[19]


def _descendants(pid: int) -> dict[int, tuple[int, str]]:
    """The processes below ``pid`` (its children, theirs, ...), each with its parent and its
    start time (to tell it from a later process given the same pid)."""
    stats = {int(e): _proc_stat(int(e)) for e in os.listdir("/proc") if e.isdigit()}
    found: dict[int, tuple[int, str]] = {}
    parents = {pid}
    while parents:
        kids = {p: s for p, s in stats.items() if s is not None and s[0] in parents}
        found.update({p: (s[0], s[2]) for p, s in kids.items()})
        parents = set(kids) - {pid}
        stats = {p: s for p, s in stats.items() if p not in kids}
    return found


def _alive(procs: dict[int, tuple[int, str]]) -> list[int]:
    """The processes of ``procs`` (:func:`_descendants`) still running (zombies are not)."""
    now = {pid: _proc_stat(pid) for pid in procs}
    return [
        p for p, s in now.items() if s is not None and s[2] == procs[p][1] and s[1] not in "ZX"
    ]


def _held_run(tmp_path: Path) -> tuple[list[str], Path]:
    """A held run's command (2 workers: the first film at once, then both workers held on
    the other two, with nothing left to start) and its --out."""
    root = tmp_path / "in"
    _w(root / "IM0000", b"one")
    _w(root / "IM0001", b"HOLD three")
    _w(root / "IM0002", b"HOLD seven")
    script = tmp_path / "held_cli.py"
    script.write_text(_HELD_CLI_SCRIPT.format(tests=str(ROOT / "tests"), root=str(ROOT)))
    out = tmp_path / "out"
    cmd = [sys.executable, str(script), str(root), "--json", "--out", str(out), "--workers",
           "2", "--no-overlay", "--quiet"]  # fmt: skip
    return cmd, out


def _start_held(
    cmd: list[str], out: Path
) -> tuple[subprocess.Popen[str], dict[int, tuple[int, str]]]:
    """Start a held run in a process group of its own; once its first record is written and
    both workers hold a film, the run and the processes below it (the forkserver, the
    resource tracker, the workers)."""
    env = {**os.environ, "BROOKER_TEST_HOLD_S": "60"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)  # fmt: skip
    results = out / "results.jsonl"
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "no record appeared"
        assert proc.poll() is None, "finished before it could be stopped"
        if results.exists() and results.read_bytes().count(b"\n") >= 1:
            below = _descendants(proc.pid)
            # the two workers (the forkserver's children) are there and holding their films
            if sum(1 for parent, _ in below.values() if parent != proc.pid) >= 2:
                return proc, below
        time.sleep(0.02)


@contextlib.contextmanager
def _held(
    cmd: list[str], out: Path
) -> Iterator[tuple[subprocess.Popen[str], dict[int, tuple[int, str]]]]:
    """:func:`_start_held`, its process group killed afterwards if the test left it running."""
    proc, below = _start_held(cmd, out)
    try:
        yield proc, below
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_gone(procs: dict[int, tuple[int, str]], within_s: float = 10.0) -> None:
    """Until none of ``procs`` is alive (the forkserver and the resource tracker follow the
    batch process they served), failing after ``within_s``."""
    deadline = time.monotonic() + within_s
    while _alive(procs):
        assert time.monotonic() < deadline, f"left behind: {_alive(procs)}"
        time.sleep(0.05)


def _assert_stopped_cleanly(
    proc: subprocess.Popen[str], out: Path, code: int = 143, line: str = "stopped by SIGTERM"
) -> None:
    """What a run stopped by SIGTERM (or another stop signal: its ``code`` and ``line``)
    leaves: its exit code, its line on stderr and no other, the manifest "interrupted", and
    only the record of the film graded before."""
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip() == _stop_line(line, 1, 3)
    _assert_interrupted(out)


def _stop_line(head: str, done: int, total: int) -> str:
    """The last line of a run stopped after ``done`` of ``total`` films, without --resume."""
    how = "to go on, run the same command with --resume"
    return f"{head}: {done} of {total} file(s) done; {how}"


def _assert_interrupted(out: Path) -> None:
    """The manifest of a held run says "interrupted", with only the record of the film graded
    before the stop, and no internal error logged."""
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    assert manifest["finished_at"] is not None
    recs = batch.read_records(out / "results.jsonl")
    assert [(Path(r["file"]).name, r["status"]) for r in recs] == [("IM0000", "ok")]
    assert not (out / "errors.log").exists()


def _assert_resumes(cmd: list[str], out: Path) -> None:
    """--resume grades the films the stopped run did not (not held now): one record each."""
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert len(json_lines(resumed.stdout)) == 3
    recs = batch.read_records(out / "results.jsonl")
    assert sorted(Path(r["file"]).name for r in recs) == ["IM0000", "IM0001", "IM0002"]
    assert {r["status"] for r in recs} == {"ok"}
    assert json.loads((out / "manifest.json").read_text())["state"] == "complete"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("sig", "code", "line"), STOP_SIGNALS)
def test_stop_signal_stops_the_run_as_ctrl_c_does(
    tmp_path: Path, sig: signal.Signals, code: int, line: str
):
    """`kill PID` (or a scheduler signalling only the main process), `kill -HUP PID`: the run
    stops as on Ctrl-C, with its own exit code (143, 129), and --resume continues it. It died
    at once, its manifest left "running" with no finished_at."""
    cmd, out = _held_run(tmp_path)
    with _held(cmd, out) as (proc, below):
        os.kill(proc.pid, sig)
        _assert_stopped_cleanly(proc, out, code, line)
    workers = {p: s for p, s in below.items() if s[0] != proc.pid}  # the forkserver's
    assert len(workers) == 2  # still held, when the batch process ended, had it not stopped them
    assert _alive(workers) == []  # stopped by the batch process before it ended
    _wait_gone(below)
    _assert_resumes(cmd, out)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    ("sig", "code", "line", "order"),
    [
        pytest.param(*stop.values, order, id=f"{stop.id}-{order}")
        for stop in STOP_SIGNALS
        for order in ("killpg", "workers first")
    ]
    # the forkserver left alive: each worker's death by SIGHUP is reported, not lost with it
    + [pytest.param(*STOP_SIGNALS[1].values, "workers alone first", id="SIGHUP-workers alone")],
)
def test_stop_signal_to_the_whole_job_records_no_worker_as_lost(
    tmp_path: Path, sig: signal.Signals, code: int, line: str, order: str
):
    """A scheduler cancelling the job signals every process of it, as a shell passes SIGHUP
    on to every process of its job when the terminal closes: with os.killpg at once, or (as
    SLURM and systemd do, one process after another) the workers first and the batch process
    a moment later (the forkserver among the first, or not: then the workers' own deaths by
    the signal are reported, not lost with it). The workers die of the signal while grading;
    the films they held get no internal_error record (which --resume would grade again anyway,
    but which made a cancelled run look like a crash), and the run stops as the batch process
    alone does."""
    cmd, out = _held_run(tmp_path)
    with _held(cmd, out) as (proc, below):
        if order == "killpg":
            os.killpg(proc.pid, sig)
        else:
            alone = order == "workers alone first"
            for pid, (parent, _) in below.items():
                if alone and parent == proc.pid:  # the forkserver, the resource tracker
                    continue
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            time.sleep(0.3)  # well within batch.STOP_GRACE_S
            os.kill(proc.pid, sig)
        _assert_stopped_cleanly(proc, out, code, line)
    _wait_gone(below)
    _assert_resumes(cmd, out)


#: Run the command after it (``python -c`` this, then the command) as the controlling process
#: of the terminal on its standard input, as a login shell's job is (it is a session leader:
#: ``start_new_session``); the same process, so the same pid.
#: Exit code of :data:`_ON_TERMINAL` where no controlling terminal can be had (a container
#: that refuses TIOCSCTTY): the test is skipped there, not failed.
NO_TERMINAL_EXIT = 77
_ON_TERMINAL = f"""
import fcntl, os, sys, termios
try:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
except OSError:
    sys.exit({NO_TERMINAL_EXIT})
os.execv(sys.argv[1], sys.argv[1:])
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_terminal_closed_stops_the_run_as_ctrl_c_does(tmp_path: Path):
    """A run in the foreground of a terminal, its progress bar and records drawn there, when
    the terminal closes (a window shut, an ssh connection dropped): the kernel hangs the
    terminal up, every write to it fails from then on (EIO), and SIGHUP comes. The run stops
    as on Ctrl-C (exit 129, the manifest "interrupted", the record so far kept, no internal
    error from the writes that fail on the way out, the workers stopped) and --resume
    continues it. It died at once, its manifest left "running"."""
    cmd, out = _held_run(tmp_path)
    shown = [a for a in cmd if a != "--quiet"]  # with the progress bar
    try:
        main, term = os.openpty()
    except OSError as exc:  # no pseudo-terminals here (a container without devpts)
        pytest.skip(f"no pseudo-terminal: {exc}")
    env = {**os.environ, "BROOKER_TEST_HOLD_S": "60", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-c", _ON_TERMINAL, *shown], stdin=term,
                            stdout=term, stderr=term, env=env, start_new_session=True)  # fmt: skip
    os.close(term)
    drawn = bytearray()
    try:
        deadline = time.monotonic() + 60
        while True:  # until the first record is written and both workers hold a film
            assert time.monotonic() < deadline, "no record appeared"
            if proc.poll() == NO_TERMINAL_EXIT:
                pytest.skip("no controlling terminal can be had here")
            assert proc.poll() is None, "finished before it could be stopped"
            if select.select([main], [], [], 0.02)[0]:
                drawn += os.read(main, 65536)  # read what is drawn, so that no write blocks
            results = out / "results.jsonl"
            if results.exists() and results.read_bytes().count(b"\n") >= 1:
                below = _descendants(proc.pid)
                if sum(1 for parent, _ in below.values() if parent != proc.pid) >= 2:
                    break
        os.close(main)  # the terminal closes: hung up
        main = -1
        assert proc.wait(timeout=60) == 129
    finally:
        if main >= 0:
            os.close(main)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert b"grading" in drawn  # the progress bar was on the terminal
    _assert_interrupted(out)
    workers = {p: s for p, s in below.items() if s[0] != proc.pid}
    assert len(workers) == 2
    assert _alive(workers) == []  # stopped by the batch process before it ended
    _wait_gone(below)
    _assert_resumes(cmd, out)


def test_the_batch_table_says_a_weak_call(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    """In the table of a batch, a weak call is marked in its own column beside borderline, as
    the one-film view says it beside the class."""
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_just_under_1cm)
    )
    r = run(good_tree, "--out", tmp_path / "o", "--no-overlay")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    header = next(line for line in lines if "borderline" in line)
    assert "weak call" in header
    col = header.index("weak call")
    rows = [line for line in lines if "III" in line]
    assert len(rows) == 2
    assert all(row[col : col + len("weak call")].strip() == "yes" for row in rows)


def fake_grade_with_caveats(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """Two hips sharing one caveat, the left one with a second of its own."""
    shared, own = "this head was centred by the detector", "the femur begins low"
    hips = (
        HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade(0), (1.0, 2.0), False,
                  caveats=(shared,)),
        HipResult(PatientSide.LEFT, ImageSide.RIGHT, BrookerGrade(0), (1.0, 9.0), False,
                  caveats=(shared, own)),
    )
    return GradingResult(file="x", status=Status.OK, version=__version__, hips=hips)


def fake_grade_pointing(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """A hip whose caveat sends its reader to the overlay."""
    hip = HipResult(PatientSide.RIGHT, ImageSide.LEFT, BrookerGrade(0), (1.0, 2.0), False,
                    caveats=("the femur begins low (check the overlay)",))  # fmt: skip
    return GradingResult(file="x", status=Status.OK, version=__version__, hips=(hip,))


def test_notes_send_no_reader_to_an_overlay_not_drawn(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    """User test: with --no-overlay the table's and the single film's notes still ended
    "(check the overlay)". The terminal drops it for a film with no overlay; the record keeps
    its words."""
    from brooker.cli.grade_cmd import _as_read

    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_pointing)
    )
    for target in (good_tree, good_tree / "a" / "IM0001"):
        r = run(target, "--out", tmp_path / "o", "--no-overlay")
        assert r.exit_code == 0, r.output
        assert "the femur begins low" in r.stdout
        assert "check the overlay" not in r.stdout
    (rec,) = json_lines((tmp_path / "o" / "results.jsonl").read_text())
    assert rec["hips"][0]["caveats"] == ["the femur begins low (check the overlay)"]
    note = "the femur begins low (check the overlay)"
    assert _as_read(note, drawn=True) == note
    assert _as_read(note, drawn=False) == "the femur begins low"


def test_the_batch_table_writes_each_note_once(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    """A caveat most hips of a folder share (a head centred by the hip detector) was written
    out in full on every row, burying the classes: a row gives its notes' numbers, and each
    note is written once under the table."""
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_with_caveats)
    )
    r = run(good_tree, "--out", tmp_path / "o", "--no-overlay")
    assert r.exit_code == 0, r.output
    assert r.stdout.count("this head was centred by the detector") == 1
    assert r.stdout.count("the femur begins low") == 1
    lines = r.stdout.splitlines()
    assert lines[-2:] == ["[1] this head was centred by the detector", "[2] the femur begins low"]
    rows = [line.split() for line in lines[:-2] if line.rstrip().endswith("]")]
    # each film: its right hip's row gives the shared note, its left hip's both
    assert [row[-3:] for row in rows] == [
        ["R", "0", "[1]"],
        ["0", "[1]", "[2]"],
        ["R", "0", "[1]"],
        ["0", "[1]", "[2]"],
    ]


def test_the_one_film_view_says_a_caveat_of_both_hips_once(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    """The one-film answer wrote a caveat both hips carry (a head centred by the hip detector,
    on most native hips) under each hip: it is said once, for both; a hip's own caveat stays
    under it, and no line ends in blanks."""
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_with_caveats)
    )
    r = run(good_tree / "a" / "IM0001", "--out", tmp_path / "o", "--no-overlay")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert r.stdout.count("this head was centred by the detector") == 1
    assert "  note (both hips): this head was centred by the detector" in lines
    left = next(i for i, line in enumerate(lines) if line.startswith("  left hip"))
    assert lines[left + 1] == "    note: the femur begins low"
    assert [line for line in lines if line != line.rstrip()] == []


def test_an_empty_path_is_not_the_working_folder(
    fake_engine: None, good_tree: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """``brooker grade "$DIR"`` with DIR unset passes an empty argument: it names no file (a
    ``not_found`` record, exit 3, the rest of the batch goes on), and never the working folder
    (``Path("")`` is ``.``: the whole tree under it would be graded)."""
    monkeypatch.chdir(good_tree)  # two films here that must not be graded
    film = tmp_path / "film"
    _w(film, b"one")
    r = run("", film, "--json", "--out", tmp_path / "o", "--no-overlay")
    assert r.exit_code == 3, r.output
    recs = {x["file"]: x for x in json_lines(r.stdout)}
    assert set(recs) == {"", str(film)}
    assert recs[""]["error"]["code"] == "not_found"
    assert recs[""]["error"]["message"] == '"": an empty path names no file'
    assert recs[str(film)]["status"] == "ok"
    assert 'error: "": an empty path names no file [not_found]' in r.stderr


def test_a_shard_none_of_the_inputs_falls_in_is_done_not_missing_inputs(
    fake_engine: None, tmp_path: Path
):
    """A job array with more shards than films: a shard whose share is empty exits 0 and says
    so (exit 4, "no inputs found", would count the array's job as failed); a folder with no
    film at all is still exit 4 under any shard."""
    film = _w(tmp_path / "in" / "IM0001", b"one")
    mine = batch.shard_of(str(film), 2)
    out = tmp_path / "o"
    other = f"shard-{1 - mine}-of-2"
    (out / f"results.{other}.jsonl").parent.mkdir(parents=True)
    (out / f"results.{other}.jsonl").write_text('{"file": "gone.dcm"}\n')  # an earlier run's
    r = run(film, "--out", out, "--json", "--shard", f"{1 - mine}/2", "--csv", out / "e.csv")
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    assert f"shard {1 - mine}/2: none of the 1 input(s) falls in this shard" in r.stderr
    # a run as any other, with no file: its results file emptied (the earlier run's records
    # are not shown as this one's), its manifest and CSV written
    assert (out / f"results.{other}.jsonl").read_text() == ""
    manifest = json.loads((out / f"manifest.{other}.json").read_text())
    assert manifest["state"] == "complete"
    assert manifest["inputs"]["files"] == 0
    assert (out / f"e.{other}.csv").read_text(encoding="utf-8-sig").startswith("file,")
    r = run(film, "--out", out, "--json", "--shard", f"{mine}/2")
    assert r.exit_code == 0, r.output
    assert [x["file"] for x in json_lines(r.stdout)] == [str(film)]
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run(empty, "--out", tmp_path / "o2", "--shard", "0/2")
    assert r.exit_code == 4
    assert _squeezed(f"no radiographs found in {empty} (shard 0/2)") in _squeezed(r.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["grade", "IN", "--out", ""],
        ["grade", "IN", "--csv", ""],
        ["grade", "IN", "--files-from", ""],
        ["grade", "IN", "--judges", ""],
        ["report", ""],
        ["report", "IN", "--output", ""],
        ["agreement", ""],
        ["inspect", ""],
    ],
    ids=lambda a: " ".join(x or '""' for x in a),
)
def test_an_empty_path_option_is_a_usage_error(
    args: list[str], good_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``--out "$OUT"`` with OUT unset: ``Path("")`` is the working folder, where the run
    would write (or ``report`` read); a usage error instead, before anything is written."""
    monkeypatch.chdir(tmp_path)
    argv = [str(good_tree) if a == "IN" else a for a in args]
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 2, r.output
    assert "an empty path names no file or folder" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # nothing written here


def test_a_csv_that_is_the_file_stdout_writes_is_refused(tmp_path: Path):
    """``--csv all.jsonl > all.jsonl`` (the shell opened the file first), or a link to
    /dev/stdout: the CSV would replace the JSON lines or mix into them. A usage error, before
    anything is graded or written; another file for each is fine."""
    film = ROOT / "sample_images" / "knee_negative.dcm"
    out = tmp_path / "o"
    same = tmp_path / "all.jsonl"
    link = tmp_path / "so.csv"
    link.symlink_to("/dev/stdout")
    for csv_target, stdout_file in ((same, same), (link, tmp_path / "other.jsonl")):
        with open(stdout_file, "wb") as fh:
            done = subprocess.run(
                [sys.executable, "-m", "brooker", "grade", str(film), "--out", str(out),
                 "--no-overlay", "--json", "--csv", str(csv_target)],
                stdout=fh, stderr=subprocess.PIPE, timeout=120,
            )
        assert done.returncode == 2, done.stderr
        said = _unboxed(done.stderr.decode())
        assert "is the file standard output writes to" in said
        assert stdout_file.read_bytes() == b""
        assert not out.exists()


def test_the_summary_of_a_shard_points_at_its_own_results_file(
    fake_engine: None, tmp_path: Path
):
    """A shard writes results.shard-I-of-N.jsonl: the summary's tail names that file, not the
    results.jsonl another run may own in a shared --out."""
    root = tmp_path / "in"
    for i in range(51):
        _w(root / f"nohip{i:02d}", b"NOHIP")
    out = tmp_path / "o"
    r = run(root, "--out", out, "--shard", "0/1")
    tail = " ".join(r.stderr.split())
    assert f"every file's reason is in {out / 'results.shard-0-of-1.jsonl'}" in tail
    assert (out / "results.shard-0-of-1.jsonl").exists()


def test_a_resumed_runs_differing_option_is_shown_with_every_digit():
    from brooker.cli.grade_cmd import _as_given

    assert _as_given("pixel_spacing", [0.1400001, 0.14]) == "--pixel-spacing 0.1400001,0.14"
    assert _as_given("head_mm", 1234567.0) == "--head-mm 1234567.0"
    assert _as_given("ball_mm", None) == "no --ball-mm"
    assert _as_given("flipped", False) == "no --flipped"
    assert _as_given("flipped", None) == "--flipped not recorded"  # not the same as False
    assert _as_given("pixel_spacing", []) == "--pixel-spacing []"


def _table_records(n: int) -> list[dict[str, Any]]:
    """Records as a batch table meets them: hips of every class, gaps, flags, notes shared and
    own, films with no hip, wide characters in names."""
    recs: list[dict[str, Any]] = []
    classes = ["0", "I", "II", "III", "IV"]
    for i in range(n):
        wide = "\u6f22\u5b57" if i % 17 == 0 else ""  # two characters two cells wide each
        name = f"/archive/st\u00fcdy{i:05d}/IM{i:04d}{wide}.dcm"
        if i % 13 == 0:
            recs.append({"file": name, "status": "ungradable", "reason": "no hip joint found",
                         "caveats": [], "hips": []})  # fmt: skip
            continue
        right = {"side": "right", "grade": i % 5, "brooker_class": classes[i % 5],
                 "gap_mm": {2: 12.34, 3: 3.0}.get(i % 5), "borderline": i % 9 == 2,
                 "weak_call": i % 7 == 0, "prosthesis": i % 3 == 0,
                 "caveats": [f"note {i % 4}"] if i % 2 == 0 else []}  # fmt: skip
        left = {"side": "left", "grade": None if i % 29 == 0 else 0, "brooker_class": "0",
                "not_graded": "no outline" if i % 29 == 0 else None, "gap_mm": None,
                "borderline": False, "weak_call": False, "prosthesis": False,
                "caveats": []}  # fmt: skip
        recs.append({"file": name, "status": "ok", "caveats": [], "hips": [right, left]})
    recs.append({"file": "/archive/broken.dcm", "status": "error", "hips": []})
    return recs


def _table_text(records: list[dict[str, Any]], terminal: bool = False) -> str:
    from brooker.cli.terminal import console

    buf = io.StringIO()
    out = console(file=buf, force_terminal=terminal, width=10_000,
                  color_system="standard" if terminal else None)  # fmt: skip
    grade_cmd._print_table(out, records)
    return buf.getvalue()


def test_a_big_batch_table_is_laid_out_as_rich_lays_it_out(monkeypatch: pytest.MonkeyPatch):
    """Above TABLE_RICH_MAX_ROWS rows the table is laid out in one pass (rich measured every
    cell: 70 s for an archive of 60,000 films). Into a file or a pipe it is the same text,
    character for character; on a terminal the same text once the colours are taken out, with
    the classes still coloured."""
    records = _table_records(300)
    rich_pipe, rich_tty = _table_text(records), _table_text(records, terminal=True)
    monkeypatch.setattr(grade_cmd, "TABLE_RICH_MAX_ROWS", 10)
    plain_pipe, plain_tty = _table_text(records), _table_text(records, terminal=True)
    assert plain_pipe == rich_pipe
    assert "\x1b[" not in plain_pipe
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    assert [line.rstrip() for line in ansi.sub("", plain_tty).splitlines()] == [
        line.rstrip() for line in ansi.sub("", rich_tty).splitlines()
    ]
    assert "\x1b[1;31mIV\x1b[0m" in plain_tty  # bold red, as the small table has it
    # a blank line, the header, its rule; 24 films with no hip and the file that could not
    # be read, 276 with two; the legend ("note 0" and "note 2" are one note, two variants)
    assert len(plain_pipe.splitlines()) == 3 + 24 + 1 + 2 * 276 + 1 + 3


@pytest.mark.parametrize(
    ("source", "hips", "assumed"),
    [("assumed", 2, True), ("view_position", 2, True), ("image_laterality", 2, True),
     ("image_laterality", 1, False), ("patient_orientation", 2, False), ("user", 2, False),
     (None, 2, False)],
)  # fmt: skip
def test_sides_that_rest_on_an_assumption_are_marked_in_the_table_and_the_answer(
    source: str | None, hips: int, assumed: bool
) -> None:
    """The overlay writes an assumed side "R?" in amber; the table and the single film's
    answer wrote a plain "R" and "right hip", as sure as a side a tag gives (a user's test
    of 2026-12-07)."""
    from brooker.cli.terminal import console

    hip = {"side": "right", "grade": 2, "brooker_class": "II", "gap_mm": 27.0,
           "borderline": False, "weak_call": False, "prosthesis": False, "caveats": []}  # fmt: skip
    rec = {"file": "a/p.png", "status": "ok", "caveats": [], "laterality_source": source,
           "hips": [hip, {**hip, "side": "left"}][:hips]}  # fmt: skip
    other = {**rec, "file": "a/q.png"}
    table = [line.split() for line in _table_text([rec, other]).splitlines()]
    sides = [row[1] if row[0].startswith("a/") else row[0] for row in table if "II" in row]
    assert sides == (["R?", "L?"][:hips] if assumed else ["R", "L"][:hips]) * 2
    buf = io.StringIO()
    grade_cmd._print_single(console(file=buf, width=200, color_system=None), rec)
    first = buf.getvalue().splitlines()[1]
    said = "  right hip? Brooker II" if assumed else "  right hip Brooker II"
    assert first.startswith(said), first


def test_a_file_that_could_not_be_read_has_its_row_in_the_table() -> None:
    """A table saved to a file (``brooker grade DIR > table.txt``) left out the files that
    could not be read, which the CSV and the records have: each has its row, "error" in the
    class column and the error as its note, without the file's name (the row names it) so
    that one error of many files is one note. One film that could not be read prints nothing
    on stdout: its error line is on stderr already."""
    records = [
        {"file": "a/x.dcm", "status": "error", "hips": [],
         "error": {"code": "not_dicom", "message": "a/x.dcm: not a DICOM file"}},
        {"file": "a/y.dcm", "status": "error", "hips": [],
         "error": {"code": "not_dicom", "message": "a/y.dcm: not a DICOM file"}},
        {"file": "a/z.dcm", "status": "ungradable", "reason": "no hip joint found",
         "caveats": [], "hips": []},
        {"file": "", "status": "error", "hips": [],
         "error": {"code": "not_found", "message": '"": an empty path names no file'}},
    ]  # fmt: skip
    lines = _table_text(records).splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith(" a/")}
    assert rows == {
        "a/x.dcm": ["error", "[1]"], "a/y.dcm": ["error", "[1]"], "a/z.dcm": ["-", "[2]"]
    }  # fmt: skip
    assert any(line.split()[:3] == ['""', "error", "[3]"] for line in lines), lines
    assert "[1] not a DICOM file [not_dicom]" in lines
    assert "[3] an empty path names no file [not_found]" in lines
    assert _table_text(records[:1]) == ""


@pytest.mark.parametrize("notes", ["none", "blank-ended"])
def test_the_one_pass_table_ends_as_rich_ends_it(
    monkeypatch: pytest.MonkeyPatch, notes: str
) -> None:
    """With no note (rich closes the table with a blank line of its own), and with a note
    ending in blanks (rich cuts every line's trailing blanks): the same text."""
    records = [rec for rec in _table_records(40) if rec["hips"]]
    for rec in records:
        for hip in rec["hips"]:
            hip.update(grade=0, brooker_class="0", not_graded=None)
            hip["caveats"] = [] if notes == "none" else ["ends in blanks   "]
    want = _table_text(records)
    assert ("[1]" in want) is (notes != "none")
    monkeypatch.setattr(grade_cmd, "TABLE_RICH_MAX_ROWS", 10)
    assert _table_text(records) == want


def test_the_one_pass_table_under_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR takes the colours out, not the bold of the header and of class IV, as rich
    does."""
    monkeypatch.setenv("NO_COLOR", "1")
    records = _table_records(30)
    want = _table_text(records, terminal=True)
    monkeypatch.setattr(grade_cmd, "TABLE_RICH_MAX_ROWS", 10)
    got = _table_text(records, terminal=True)
    assert "\x1b[1m" in got  # bold kept
    assert "\x1b[31m" not in got
    assert "\x1b[1;31m" not in got
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    assert ansi.sub("", got) == "".join(
        line.rstrip() + "\n" for line in ansi.sub("", want).splitlines()
    )


def test_the_rich_table_is_kept_for_a_batch_a_reader_reads(monkeypatch: pytest.MonkeyPatch):
    """Up to TABLE_RICH_MAX_ROWS rows, rich lays the table out (long names fold within their
    column on a terminal); the one-pass layout is never called."""

    def not_called(*args: Any) -> None:
        raise AssertionError("one-pass layout used for a small table")

    monkeypatch.setattr(grade_cmd, "_print_plain_table", not_called)
    assert "IM0001.dcm" in _table_text(_table_records(grade_cmd.TABLE_RICH_MAX_ROWS // 2))


def _terminal_table(records: list[dict[str, Any]], width: int) -> str:
    """The batch table as a terminal ``width`` columns wide shows it (no colours)."""
    from brooker.cli.terminal import console

    buf = io.StringIO()
    grade_cmd._print_table(
        console(file=buf, force_terminal=True, width=width, color_system=None), records
    )
    return buf.getvalue()


def _films_in(folder: str, n: int) -> list[dict[str, Any]]:
    hip = {"side": "right", "grade": 0, "brooker_class": "0", "gap_mm": None, "caveats": [],
           "borderline": False, "weak_call": False, "prosthesis": False}  # fmt: skip
    return [
        {"file": f"{folder}/rai_{i:08x}.dcm", "status": "ok", "caveats": [],
         "hips": [dict(hip), {**hip, "side": "left", "caveats": ["centred by the detector"]}]}
        for i in range(n)
    ]  # fmt: skip


def test_the_batch_table_at_80_columns_keeps_names_and_headers_whole() -> None:
    """At 80 columns rich folded a long path 8 characters a line and cut the headers to
    "border…" and "prosth…": the films are named from the folder they share (said above the
    table), each on one line, and no header is cut. A wide terminal, and a file or a pipe,
    still show the full paths and the headers on one line."""
    folder = "/work/shared/realfilms/films"
    records = _films_in(folder, 4)
    records[1]["hips"][0].update(borderline=True, prosthesis=True, gap_mm=9.4)
    text = _terminal_table(records, 80)
    lines = text.splitlines()
    assert lines[0] == f"files in {folder}/"
    for i in range(4):
        assert sum(f"rai_{i:08x}.dcm" in line for line in lines) == 1
    assert folder + "/rai" not in text
    assert "…" not in text
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if "rai_00000001.dcm" in line)
    assert row.split() == ["rai_00000001.dcm", "R", "0", "9.4", "yes", "yes"]
    wide = _terminal_table(records, 200)
    assert f"{folder}/rai_00000000.dcm" in wide
    assert "files in" not in wide
    header = next(line for line in wide.splitlines() if "file" in line)
    assert header.split() == ["file", "side", "class", "gap", "mm", "borderline", "weak", "call",
                              "prosthesis", "notes"]  # fmt: skip
    assert f"{folder}/rai_00000000.dcm" in _table_text(records)  # into a file or a pipe


def test_a_narrow_table_leaves_out_columns_blank_for_every_hip_and_keeps_classes_whole():
    """At 80 columns the columns of blanks (no hip borderline, weak or prosthetic) took a
    fifth of the width while the names and "0 to I" folded (a radiologist's terminal,
    2026-12-08): they are left out, said above the table; a class is never folded. A column
    with one entry stays; a wide terminal, a file or a pipe keep every column."""
    records = _films_in("/data/study/hybrid/films", 3)
    for rec in records:
        rec["file"] = rec["file"].replace("rai_", "a_long_name_of_a_film_")
    records[0]["hips"][0].update(class_range=["0", "IV"], caveats=["a", "b", "c", "d"])
    text = _terminal_table(records, 80)
    lines = text.splitlines()
    assert lines[1] == "blank for every hip, not shown: gap mm, borderline, weak call, prosthesis"
    header = next(line for line in lines if line.split()[:1] == ["file"])
    assert header.split() == ["file", "side", "class", "notes"]
    assert sum("0 to IV" in line for line in lines) == 1
    assert all(len(line) <= 80 for line in lines)
    records[2]["hips"][1]["weak_call"] = True
    lines = _terminal_table(records, 80).splitlines()
    rule = next(i for i, line in enumerate(lines) if "\u2500" in line)
    header = " ".join(lines[2:rule])  # the header's lines, between the notes above and the rule
    assert "weak" in header.split()
    assert "border" not in header
    assert "prosthesis" in lines[1]
    wide = _terminal_table(records, 300)
    assert "blank for every hip" not in wide
    assert "prosthesis" in wide
    assert "blank for every hip" not in _table_text(records)


def test_the_batch_tables_note_numbers_ascend_and_near_copies_are_one_note() -> None:
    """A row's notes came out as met, "[8] [9] [5]"; they ascend. Notes that differ only in a
    figure ("its body begins 92 mm below" and "... 36 mm ...") were a note each: they are one
    note, each hip's variant a letter, and the legend keeps every hip's figure."""
    records = _films_in("/films", 3)
    low = "the femur is not segmented (its body begins {} mm below the head's centre)"
    records[0]["hips"][0]["caveats"] = ["the head is faint"]
    records[1]["hips"][0]["caveats"] = [low.format(92), "the head is faint"]
    records[2]["hips"][1]["caveats"] = ["centred by the detector", low.format(36)]
    text = _table_text(records)
    rows = {line.split()[0]: line for line in text.splitlines() if "/films/rai_" in line}
    assert rows["/films/rai_00000001.dcm"].split()[-3:] == ["0", "[1]", "[3a]"]
    lines = text.splitlines()
    right_of_third = lines.index(rows["/films/rai_00000002.dcm"]) + 1
    assert lines[right_of_third].split()[-2:] == ["[2]", "[3b]"]
    assert lines[-3:] == [
        "[1] the head is faint",
        "[2] centred by the detector",
        "[3] the femur is not segmented (its body begins a: 92, b: 36 mm below the head's "
        "centre)",
    ]


@pytest.mark.parametrize("command", ["", "grade", "inspect", "report", "agreement"])
def test_help_at_80_columns_cuts_nothing(command: str) -> None:
    """At 80 columns typer's help showed a type for every flag (``<bool>``) and option
    (``<float>``, ``<int range>``), squeezed the descriptions to ~18 characters and cut words
    (``--estimate-spaci…``, ``(benchmarks/trai…``): flags have no metavar, options short ones
    (the same in every command: ``--magnification F``), and no word is cut. ``--help`` itself
    too (it showed ``<bool>``: a README audit of 2026-12-08), the top level's as well."""
    args = [command, "--help"] if command else ["--help"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "80"}, terminal_width=80)
    assert res.exit_code == 0, res.output
    text = res.output
    assert re.search(r"--help +Show this message", text)
    assert "…" not in text
    for typed in ("<bool>", "<float>", "<int", "<str>", "[paths]"):
        assert typed not in text
    if command in ("grade", "inspect"):
        assert re.search(r"--magnification +F +Magnification", text)
    if command == "inspect":  # its second paragraph is one paragraph, not broken mid-sentence
        assert re.search(r"With --ball-mm, --head-mm or --estimate-spacing, also what was "
                         r"fitted and its\s+spacing\.", text)  # fmt: skip


def test_notes_of_one_kind_with_a_literal_n_are_numbered_apart() -> None:
    """Review: a note quoting a header value "N" has the kind of one with a number there
    (caveat_kind) and one figure fewer: the legend's zip(strict=True) raised ValueError while
    the batch table was printed, after every film was graded."""
    from brooker.cli.grade_cmd import _NoteNumbers

    numbers = _NoteNumbers()
    numbers.add(["View Position N is unknown", "gap 3 mm"])
    numbers.add(["View Position 5 is unknown", "gap 4 mm"])
    assert numbers.legend() == [
        "[1] View Position N is unknown", "[2] gap a: 3, b: 4 mm", "[3] View Position 5 is unknown"
    ]  # fmt: skip
    assert numbers.refs(["View Position 5 is unknown", "gap 4 mm"]) == "[2b] [3]"


def test_notes_differing_in_two_figures_letter_each_variant_whole() -> None:
    """User test: a class range graded about nearby centres ("this hip grades 0 to IV") read
    "grades a: I, b: 0 to a: IV, b: IV" in the legend, each range split in two lettered lists
    to be paired up by hand; a spacing's "0.187 x 0.187" likewise. Figures far apart in a
    note are still lettered one by one."""
    from brooker.cli.grade_cmd import _NoteNumbers

    grades = "graded again about nearby centres, this hip grades {} to {}: the lowest is reported"
    numbers = _NoteNumbers()
    numbers.add([grades.format("I", "IV"), "spacing 0.187 x 0.187 mm"])
    numbers.add([grades.format("0", "IV"), "spacing 0.459 x 0.459 mm"])
    numbers.add([grades.format("II", "III"), "took 3 s, of which the overlay 1 s of a long time"])
    numbers.add(["took 4 s, of which the overlay 2 s of a long time"])
    assert numbers.legend() == [
        "[1] graded again about nearby centres, this hip grades a: I to IV, b: 0 to IV, "
        "c: II to III: the lowest is reported",
        "[2] spacing a: 0.187 x 0.187, b: 0.459 x 0.459 mm",
        "[3] took a: 3, b: 4 s, of which the overlay a: 1, b: 2 s of a long time",
    ]
    assert numbers.refs([grades.format("II", "III")]) == "[1c]"


def test_the_summary_names_the_variants_when_two_figures_vary() -> None:
    """User tests: the review page's summary named the kind "this hip grades 0 to III to I to
    IV"; then, each figure's range bracketed, "(0 to II) to (II to IV)", which read as one
    nonsense range (2026-12-07). A few variants are named as they are; more, bracketed."""
    from brooker.report import kind_name

    grades = "this hip grades {} to {}: the lowest"
    texts = [grades.format("0", "IV"), grades.format("II", "III"), grades.format("I", "II")]
    assert kind_name(texts) == "this hip grades 0 to IV, II to III or I to II: the lowest"
    more = [*texts, grades.format("0", "I")]
    assert kind_name(more) == "this hip grades (0 to II) to (I to IV): the lowest"
    assert kind_name(["gap 3 mm of 10 mm", "gap 4 mm of 10 mm"]) == "gap 3 to 4 mm of 10 mm"


def test_a_bridged_hip_reads_bridged_not_a_gap_of_0_0() -> None:
    """A class IV hip (gap 0 in its record) read "0.0" in the table and "gap 0.0 mm" on its
    line, as if two spurs touched; the overlay says "0 mm (bridged)". The terminal says so too;
    a class III gap of 0.01 mm stays a number, never shown as 0 (0.1 at one decimal)."""
    from brooker.cli.terminal import console

    bridged = {"side": "right", "grade": 4, "brooker_class": "IV", "gap_mm": 0.0,
               "borderline": False, "weak_call": False, "prosthesis": False,
               "caveats": []}  # fmt: skip
    touching = {**bridged, "side": "left", "grade": 3, "brooker_class": "III", "gap_mm": 0.01}
    rec = {"file": "a.dcm", "status": "ok", "caveats": [], "hips": [bridged, touching]}
    table = _table_text([rec, {**rec, "file": "b.dcm"}])
    assert table.count("0 (bridged)") == 2
    assert table.count("0.1") == 2  # the class III hips': a gap, never shown as 0
    assert "0 mm (bridged)" not in table  # the column says mm
    buf = io.StringIO()
    grade_cmd._print_single(console(file=buf, width=200, color_system=None), rec)
    single = buf.getvalue()
    assert "gap 0 mm (bridged)" in single
    assert "gap 0.1 mm" in single  # the class III hip's


def test_an_ungradable_films_answer_names_its_spacing_notes_and_overlay() -> None:
    """A film with no hip graded printed only "not graded: ...": the overlay that shows what
    was looked for, and the spacing, were in the record but not on the terminal (a user's
    test of 2026-12-07). Its notes are their own lines, as a graded film's are."""
    from brooker.cli.terminal import console

    rec = {"file": "knee.dcm", "status": "ungradable", "hips": [],
           "reason": "no hip joint found (best hip-region score -1.6, needs 3.0)",
           "caveats": ["the sides are assumed"],
           "spacing": {"row_mm": 0.2, "col_mm": 0.2, "source": "pixel_spacing"},
           "overlay": "out/knee-0123.png"}  # fmt: skip
    buf = io.StringIO()
    grade_cmd._print_single(console(file=buf, width=200, color_system=None), rec)
    assert buf.getvalue().splitlines() == [
        "knee.dcm",
        "  not graded: no hip joint found (best hip-region score -1.6, needs 3.0)",
        "  note: the sides are assumed",
        "  spacing: 0.200 x 0.200 mm from (0028,0030) Pixel Spacing, calibrated",
        "  overlay: out/knee-0123.png",
    ]
    # an error record: its message, and no overlay or spacing to name
    err = {"file": "bad.dcm", "status": "error", "hips": [], "overlay": None, "caveats": [],
           "error": {"code": "not_dicom", "message": "bad.dcm: not a DICOM file"}}  # fmt: skip
    buf = io.StringIO()
    grade_cmd._print_single(console(file=buf, width=200, color_system=None), err)
    assert buf.getvalue().splitlines() == ["bad.dcm", "  not graded: not a DICOM file [not_dicom]"]


def test_a_single_films_notes_wrap_under_their_first_word_on_a_terminal() -> None:
    """At 80 columns a note's wrapped lines began at the first column, under the hip lines,
    so that which hip a note belonged to was hard to see (a radiologist's test of
    2026-12-07): on a terminal they hang under the note's first word; a pipe gets one line."""
    from brooker.cli.terminal import console

    note = "the heterotopic bone this class rests on is a weak call " * 4
    hip = {"side": "right", "grade": 2, "brooker_class": "II", "gap_mm": 12.0,
           "borderline": False, "weak_call": True, "prosthesis": False,
           "caveats": [note.strip()]}  # fmt: skip
    rec = {"file": "a.dcm", "status": "ok", "caveats": [], "hips": [hip]}
    buf = io.StringIO()
    term = console(file=buf, width=60, color_system=None, force_terminal=True)
    grade_cmd._print_single(term, rec)
    lines = buf.getvalue().splitlines()
    at = next(k for k, line in enumerate(lines) if line.startswith("    note: "))
    wrapped = lines[at + 1 : at + 4]
    assert len(wrapped) == 3
    assert all(line.startswith(" " * 10) and line[10] != " " for line in wrapped), lines
    assert all(len(line) <= 60 and line == line.rstrip() for line in lines)
    buf = io.StringIO()
    grade_cmd._print_single(console(file=buf, width=10_000, color_system=None), rec)
    assert f"    note: {note.strip()}" in buf.getvalue().splitlines()


def test_a_class_with_a_range_about_nearby_centres_is_not_green() -> None:
    """A hip that grades 0 about its centre and IV 2 mm away showed a green "Brooker 0" with
    the range in plain text after it (a radiologist's test of 2026-12-07): the class is amber
    as in the table's class column, and the range, a weak call and a borderline gap are amber
    tags, as the table's "yes" are."""
    from brooker.cli.terminal import console

    hip = {"side": "right", "grade": 0, "brooker_class": "0", "gap_mm": None,
           "borderline": False, "weak_call": True, "prosthesis": False,
           "class_range": ["0", "IV"], "caveats": [], "center_uncertainty_mm": 2.0}  # fmt: skip
    sure = {**hip, "side": "left", "class_range": None, "weak_call": False}
    rec = {"file": "a.dcm", "status": "ok", "caveats": [], "hips": [hip, sure]}
    buf = io.StringIO()
    grade_cmd._print_single(console(file=buf, width=200, color_system="standard"), rec)
    right, left = (line for line in buf.getvalue().splitlines() if "hip" in line)
    yellow, green = "\x1b[33m", "\x1b[32m"
    assert f"{yellow}Brooker 0" in right
    assert "\x1b[1;33mweak call" in right
    assert "\x1b[1;33m0 to IV if centre moved 2 mm" in right
    assert f"{green}Brooker 0" in left
    # a III graded about 1 of the 5 centres was a plain III (a radiologist's test)
    partly = {**sure, "grade": 3, "brooker_class": "III", "centres_graded": [1, 5]}
    buf = io.StringIO()
    grade_cmd._print_single(console(file=buf, width=200, color_system="standard"),
                            {**rec, "hips": [partly]})  # fmt: skip
    (line,) = (line for line in buf.getvalue().splitlines() if "hip" in line)
    assert f"{yellow}Brooker III" in line
    assert "\x1b[1;33mgraded at 1 of 5 centres 2 mm apart" in line


def test_a_hip_not_graded_says_why_in_a_few_words_on_its_line() -> None:
    """"right hip not graded" alone sent the reader down to the notes (a radiologist's second
    look, 2026-12-08): the line says why in the overlay label's few words, the note in full;
    a reason it has no few words for adds nothing."""
    from brooker.cli.terminal import console

    reason = ("a spur or bridge was seen, but the femur is not segmented as bone up to the "
              "greater trochanter (no femur body was found): heterotopic bone cannot be told "
              "from the trochanter")  # fmt: skip
    hip = {"side": "right", "grade": None, "brooker_class": None, "not_graded": reason,
           "caveats": []}  # fmt: skip
    rec = {"file": "a.dcm", "status": "ok", "caveats": [], "hips": [hip]}
    buf = io.StringIO()
    grade_cmd._print_single(console(file=buf, width=300, color_system=None), rec)
    lines = buf.getvalue().splitlines()
    assert any(line.split() == ["right", "hip", "not", "graded", "femur", "not", "segmented"]
               for line in lines), lines  # fmt: skip
    assert any(reason in line for line in lines)
    buf = io.StringIO()
    odd = {**rec, "hips": [{**hip, "not_graded": "a reason of its own"}]}
    grade_cmd._print_single(console(file=buf, width=300, color_system=None), odd)
    assert "  right hip not graded" in buf.getvalue().splitlines()


def test_a_spacing_the_user_gave_gets_its_own_hint(tmp_path: Path) -> None:
    """--pixel-spacing 0.9 makes an 1800-row film 1.6 m long (implausible_spacing): the hint
    said "pass --pixel-spacing" to a user who had (a review of 2026-12-07)."""
    from brooker.cli.hints import HINTS, USER_SPACING_HINT
    from brooker.phantom_dicom import DicomVariant, write_dicom

    film = write_dicom(np.zeros((1800, 100), np.uint16), tmp_path / "long.dcm", DicomVariant())
    r = run(film, "--out", tmp_path / "o", "--pixel-spacing", "0.9", "--workers", "1")
    assert r.exit_code == 3, r.output
    hints = [line for line in r.stderr.splitlines() if line.startswith("hint: ")]
    assert _squeezed(f"hint: {USER_SPACING_HINT}") in _squeezed(r.stderr), hints
    assert _squeezed(HINTS["implausible_spacing"]) not in _squeezed(r.stderr)


def test_films_that_timed_out_get_a_hint_to_resume_with_a_larger_limit(tmp_path: Path) -> None:
    """A run whose films all timed out ended with their records and no word on what to do (a
    user's test of 2026-12-07): the summary says to resume with a larger --timeout, which a
    resumed run allows (--timeout is not among the options it must keep) and which grades
    timed-out films again."""
    from brooker.batch import TRANSIENT_ERROR_CODES
    from brooker.cli.terminal import console

    assert "timeout" in TRANSIENT_ERROR_CODES
    assert "timeout" not in grade_cmd.GRADING_OPTIONS
    from types import SimpleNamespace

    rec = {"file": "a.dcm", "status": "error", "hips": [],
           "error": {"code": "timeout", "message": "took longer than the 1 s limit"}}  # fmt: skip
    buf = io.StringIO()

    found = SimpleNamespace(
        skipped_files=(), skipped_dicomdir=(), run_folders=(), skipped_special=()
    )
    out = console(file=buf, width=300, color_system=None)
    grade_cmd._print_summary(out, [rec], 0, found, tmp_path / "results.jsonl")
    hints = [line for line in buf.getvalue().splitlines() if line.startswith("hint: ")]
    assert len(hints) == 1, hints
    assert "--resume" in hints[0], hints
    assert "--timeout" in hints[0], hints
    # the files it is for: after a zoo's 38 errors a hint named none (a radiologist's test)
    assert hints[0].endswith(" (for a.dcm)"), hints
    many = [{**rec, "file": f"{name}.dcm"} for name in "abcde"]
    buf = io.StringIO()
    out = console(file=buf, width=400, color_system=None)
    grade_cmd._print_summary(out, many, 0, found, tmp_path / "results.jsonl")
    (hint,) = [line for line in buf.getvalue().splitlines() if line.startswith("hint: ")]
    assert hint.endswith(" (for a.dcm, b.dcm, c.dcm and 2 more)"), hint
    buf = io.StringIO()
    out = console(file=buf, width=400, color_system=None)
    grade_cmd._print_summary(out, many[:2], 0, found, tmp_path / "results.jsonl")
    (hint,) = [line for line in buf.getvalue().splitlines() if line.startswith("hint: ")]
    assert hint.endswith(" (for a.dcm and b.dcm)"), hint


def test_a_resumed_runs_error_records_name_their_file_as_this_run_spells_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resumed with the folder spelt another way (``grade d`` then ``grade $PWD/d
    --resume``), a kept error record took the new spelling for its file but kept the old in
    its message: the table's note named the file twice, differently, and two files' same
    error were two notes ("[1] d/bada: 1, b: 2.dcm: ..."; a review of 2026-12-07)."""
    monkeypatch.chdir(tmp_path)
    for name in ("bad1.dcm", "bad2.dcm"):
        (tmp_path / "d").mkdir(exist_ok=True)
        (tmp_path / "d" / name).write_text("not a film")
    first = run("d", "--out", "o", "--no-overlay", "--workers", "1")
    assert first.exit_code == 3, first.stderr
    again = run(tmp_path / "d", "--out", "o", "--no-overlay", "--workers", "1", "--resume")
    assert again.exit_code == 3, again.stderr
    records = json_lines((tmp_path / "o" / "results.jsonl").read_text())
    for rec in records:
        assert rec["file"].startswith(str(tmp_path / "d")), rec
        assert rec["error"]["message"].startswith(f"{rec['file']}: "), rec
    legend = [line for line in again.stdout.splitlines() if line.startswith("[")]
    assert legend == ["[1] not a DICOM file: no 'DICM' marker and no readable DICOM data "
                      "elements [not_dicom]"], again.stdout  # fmt: skip


def test_a_runs_own_review_page_does_not_call_the_run_unfinished(tmp_path: Path) -> None:
    """grade --report writes its page before it closes its manifest, which says "running"
    until then: the page must not read that as a run that did not finish (brooker report
    says that of a folder whose run stopped)."""
    film = Path(__file__).resolve().parents[1] / "sample_images" / "knee_negative.dcm"
    out = tmp_path / "o"
    res = run(film, "--out", out, "--report", "--workers", "1")
    assert res.exit_code == 3, res.output  # ungradable: no hip on a knee
    assert 'class="unfinished"' not in (out / "report.html").read_text()
    assert json.loads((out / "manifest.json").read_text())["state"] == "complete"


def fake_grade_disk_full(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """A film whose overlay could not be written: a full disk."""
    return batch.error_record(str(path), "disk_full", "no space left on the device")


def test_a_run_whose_overlays_could_not_be_written_is_failed_not_complete(
    monkeypatch: pytest.MonkeyPatch, good_tree: Path, tmp_path: Path
):
    """User test: on a full disk every film's record was disk_full and the run exited 5, but
    its manifest said "complete", which a pipeline reading the manifest takes for done."""
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade_disk_full)
    )
    manifest = _failed_run(good_tree, tmp_path / "o", exit_code=5)
    assert manifest["error"]["code"] == "disk_full"
    assert manifest["error"]["message"].endswith(
        "IM0001: no space left on the device (and 1 more file(s))"
    )
    assert manifest["counts"]["files"] == 2


def test_a_mistyped_path_leaves_the_earlier_run_in_out_as_it_was(
    fake_engine: None, good_tree: Path, tmp_path: Path
):
    """User test: `brooker grade typo` into the default brooker-out replaced a reader's last
    run (its records, its overlays) with one not_found record. Every path given missing is
    nothing to grade: exit 4, each named, --out left as it was. With a film among them, or
    from a --files-from list, a missing file keeps its not_found record (exit 3)."""
    out = tmp_path / "o"
    assert run(good_tree, "--out", out).exit_code == 0
    kept = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    typo = tmp_path / "in-typo"
    unmounted = tmp_path / "archive"
    unmounted.symlink_to(tmp_path / "disk-not-mounted")
    for extra in ([], ["--resume"]):
        r = run(typo, tmp_path / "also-gone.dcm", unmounted, "--out", out, *extra)
        assert r.exit_code == 4, r.output
        assert f"error: {typo}: no such file or folder [not_found]" in r.stderr
        assert f"error: {unmounted}: a symbolic link to" in r.stderr
        assert f"; {out} is left as it was" in r.stderr
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == kept
    r = run(typo, "--out", tmp_path / "new")
    assert r.exit_code == 4, r.output
    assert "left as it was" not in r.stderr  # there was nothing there
    assert not (tmp_path / "new").exists()  # the folder it would have made is not left
    # a folder that is there, of links to a disk not mounted: each film its record (a
    # review: deciding on what the folders held called it "no radiographs found")
    links = tmp_path / "links"
    links.mkdir()
    (links / "IM1.dcm").symlink_to(tmp_path / "disk-not-mounted" / "IM1.dcm")
    r = run(links, "--out", tmp_path / "o3", "--json")
    assert r.exit_code == 3, r.output
    assert json_lines(r.stdout)[0]["error"]["code"] == "not_found"
    film = good_tree / "a" / "IM0001"
    r = run(film, typo, "--out", out, "--json")
    assert r.exit_code == 3, r.output
    assert {rec["error"]["code"] for rec in json_lines(r.stdout) if rec.get("error")} == {
        "not_found"
    }
    listed = tmp_path / "list.txt"
    listed.write_text(f"{typo}\n")
    r = run("--files-from", listed, "--out", tmp_path / "o2", "--json")
    assert r.exit_code == 3, r.output
    assert json_lines(r.stdout)[0]["error"]["code"] == "not_found"


def test_a_table_larger_than_the_pipe_cut_by_its_reader_is_said(tmp_path: Path):
    """README audit: `brooker grade ... | head -c 10` with a table over the pipe's 64 KiB was
    written short without an error (Python's flush took the short write for the whole): the
    run exited 3, its manifest "complete" with no stdout_closed, and nothing said the table
    was cut. The pipe's write end polls as an error once its reader has gone."""
    listed = tmp_path / "list.txt"
    listed.write_text("".join(f"{tmp_path}/gone/film_{i:04d}.dcm\n" for i in range(1500)))
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "brooker", "grade", "--files-from", str(listed),
           "--out", str(out), "--quiet", "--no-overlay", "--workers", "1"]  # fmt: skip
    with open(tmp_path / "err.txt", "wb") as err_file:  # a line per missing file: not a pipe
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file)
        assert proc.stdout is not None
        assert proc.stdout.read(10)  # the table has begun: the reader takes its fill and goes
        proc.stdout.close()
        code = proc.wait(timeout=120)
    err = (tmp_path / "err.txt").read_text()
    assert code == 141, err[-2000:]
    assert "the table was cut" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "complete"
    assert manifest["stdout_closed"] is True


def test_a_class_graded_about_some_centres_says_so_in_the_table_without_colour() -> None:
    """The table showed a hip graded about 1 of the 5 centres as a plain III, amber only:
    on a printout or a piped table it read as a sure III (a review of 2026-12-07). A value
    edited by hand into the record ([5, 5]) is no such hip."""
    hip = {"side": "right", "grade": 3, "brooker_class": "III", "gap_mm": 4.0,
           "borderline": False, "weak_call": False, "prosthesis": False, "caveats": [],
           "centres_graded": [1, 5]}  # fmt: skip
    rec = {"file": "a.dcm", "status": "ok", "caveats": [], "hips": [hip]}
    other = {**rec, "file": "b.dcm", "hips": []}
    assert "III (1/5)" in _table_text([rec, other])
    edited = {**rec, "hips": [{**hip, "centres_graded": [5, 5]}]}
    assert "(5/5)" not in _table_text([edited, other])
    assert batch.csv_rows(edited)[0]["centres_graded"] is None


def test_the_hips_not_graded_keep_an_assumed_side_and_are_named_with_json(
    fake_engine: None, tmp_path: Path
) -> None:
    """The summary's hips not graded wrote a plain "L" where the table writes "L?" (sides
    resting on an assumption), and with --json one film's hip not graded was named nowhere
    on stderr: its answer is not printed then (a review of 2026-12-07)."""
    from types import SimpleNamespace

    from brooker.cli.terminal import console

    hip = {"side": "left", "grade": None, "not_graded": "no femur", "caveats": []}
    rec = {"file": "a.dcm", "status": "ok", "caveats": [], "hips": [hip],
           "laterality_source": "assumed"}  # fmt: skip
    found = SimpleNamespace(
        skipped_files=(), skipped_dicomdir=(), run_folders=(), skipped_special=()
    )
    buf = io.StringIO()
    out = console(file=buf, width=300, color_system=None)
    grade_cmd._print_summary(out, [rec, {**rec, "file": "b.dcm", "hips": []}], 0, found,
                             tmp_path / "results.jsonl")  # fmt: skip
    assert "  a.dcm L?: no femur" in buf.getvalue().splitlines()
    _w(tmp_path / "in" / "a", b"one NOFEMUR")
    r = run(tmp_path / "in" / "a", "--out", tmp_path / "o", "--json")
    assert "1 hip(s) not graded:" in r.stderr


def test_a_class_read_on_a_limited_view_is_marked_in_the_table() -> None:
    """The overlay says "limited view" in amber and the single film's line names what the
    film did not show, but the table said nothing but a note's number among many (a
    radiologist's test of 2026-12-07): the class carries a mark, explained under the table."""
    hip = {"side": "right", "grade": 0, "brooker_class": "0", "gap_mm": None,
           "borderline": False, "weak_call": False, "prosthesis": False, "caveats": [],
           "limited_by": ["femur not segmented to the trochanter"]}  # fmt: skip
    sure = {**hip, "side": "left", "limited_by": []}
    rec = {"file": "a.dcm", "status": "ok", "caveats": [], "hips": [hip, sure]}
    table = _table_text([rec, {**rec, "file": "b.dcm", "hips": [sure]}])
    assert table.count(f"0{grade_cmd.LIMITED_MARK}") == 1
    assert grade_cmd.LIMITED_LEGEND in table
    plain = _table_text([{**rec, "hips": [sure]}, {**rec, "file": "b.dcm", "hips": [sure]}])
    assert grade_cmd.LIMITED_LEGEND not in plain


def test_a_stopped_report_run_says_how_to_see_the_films_done(tmp_path: Path) -> None:
    """--report writes its page at the end: a run stopped before it wrote none and said
    nothing of it (a radiologist's test of 2026-12-07). The last line says how to see the
    films done so far; a run with none done, or without --report, does not."""
    results = tmp_path / "my out" / "results.jsonl"
    results.parent.mkdir()
    results.write_text('{"file": "a"}\n{"file": "b"}\n')
    state = grade_cmd._RunState()
    state.total, state.results = 5, results
    assert grade_cmd._stop_line("interrupted", state) == (
        "interrupted: 2 of 5 file(s) done; to go on, run the same command with --resume"
    )
    state.report_of = results.parent
    assert grade_cmd._stop_line("interrupted", state).endswith(
        f"--resume; `brooker report '{results.parent}'` shows the files done so far"
    )
    results.write_text("")
    assert "brooker report" not in grade_cmd._stop_line("interrupted", state)
    # a folder named like an option is not read as one
    results.write_text('{"file": "a"}\n')
    state.report_of = Path("-out")
    assert "`brooker report ./-out` shows" in grade_cmd._stop_line("interrupted", state)
