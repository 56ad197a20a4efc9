"""A run never replaces a file in its output folder that brooker did not write.

``--out`` pointed at a dataset's folder (which holds its own ``manifest.json``, a
``results.jsonl`` of another tool, a ``report.html``) replaced them without a word: a new
user's audit of 2026-12-07 lost the bundled samples' manifest that way. Now the run is
refused before anything is written (exit 2), and the file is left as it was.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from test_cli_grade import PREAMBLE, fake_grade, run
from typer.testing import CliRunner

from brooker import batch
from brooker.cli import app
from brooker.errors import ConfigError

FOREIGN = {
    "manifest.json": '{"cases": 20, "seed": 7}\n',
    "results.jsonl": "case,grade\ncase_0001,3\n",
}


def _squeezed(text: str) -> str:
    """``text`` without an error box's borders or any white space (the box wraps a long path
    anywhere)."""
    return "".join(text.replace("│", "").split())


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade)
    )


@pytest.fixture
def film(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "IM0001"
    path.parent.mkdir()
    path.write_bytes(PREAMBLE + b"one")
    return path


@pytest.mark.parametrize("name", sorted(FOREIGN))
@pytest.mark.parametrize("resume", [False, True])
@pytest.mark.usefixtures("fake_engine")
def test_a_file_brooker_did_not_write_is_never_replaced(
    tmp_path: Path, film: Path, name: str, resume: bool
) -> None:
    out = tmp_path / "dataset"
    out.mkdir()
    (out / name).write_text(FOREIGN[name])
    got = run(film, "--out", out, *(["--resume"] if resume else []))
    assert got.exit_code == 2, got.output
    said = _squeezed(got.output)
    assert _squeezed(f"{out / name} was not written by brooker") in said
    assert _squeezed("choose another --out, or move the file") in said
    assert (out / name).read_text() == FOREIGN[name]
    assert sorted(p.name for p in out.iterdir()) == [name]  # nothing written beside it


@pytest.mark.usefixtures("fake_engine")
def test_brookers_own_files_and_empty_ones_are_replaced_as_before(
    tmp_path: Path, film: Path
) -> None:
    out = tmp_path / "out"
    assert run(film, "--out", out, "--report", "-q").exit_code == 0
    for name in ("manifest.json", "results.jsonl", "report.html"):
        assert batch.not_written_here(out / name) is None, name
    assert run(film, "--out", out, "--report", "-q").exit_code == 0
    assert run(film, "--out", out, "--resume", "-q").exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["tool"] == "brooker"
    # an empty file holds nothing to lose
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text("")
    (other / "results.jsonl").write_text("")
    assert run(film, "--out", other, "-q").exit_code == 0


@pytest.mark.usefixtures("fake_engine")
def test_a_review_page_brooker_did_not_write(tmp_path: Path, film: Path) -> None:
    """Refused where the run would write a page (``--report``); left alone where not."""
    out = tmp_path / "out"
    out.mkdir()
    page = out / "report.html"
    page.write_text("<!doctype html><title>our notes</title>")
    got = run(film, "--out", out, "--report")
    assert got.exit_code == 2, got.output
    assert _squeezed("was not written by brooker (it is not a brooker review page)") in (
        _squeezed(got.output)
    )
    assert run(film, "--out", out, "-q").exit_code == 0
    assert page.read_text() == "<!doctype html><title>our notes</title>"
    # `brooker report OUT` would write it too: refused; the page named with -o is written
    runner = CliRunner()
    got = runner.invoke(app, ["report", str(out)])
    assert got.exit_code == 2, got.output
    assert page.read_text() == "<!doctype html><title>our notes</title>"
    assert runner.invoke(app, ["report", str(out), "-o", str(page), "-q"]).exit_code == 0
    assert page.read_bytes().startswith(batch.REPORT_HEAD.encode())


@pytest.mark.usefixtures("fake_engine")
def test_report_o_refuses_the_runs_own_files_and_its_films(tmp_path: Path, film: Path) -> None:
    """``brooker report OUT -o OUT/results.jsonl`` wrote the page over the run's every record
    (exit 0; a user's test of 2026-12-07): -o may not name the run's own files in OUT nor a
    film it graded, as ``grade --csv`` may not. A page name in OUT, or any other file, is
    written."""
    out = tmp_path / "out"
    grades = tmp_path / "elsewhere" / "g.shard-0-of-3.csv"  # --csv's file, wherever it is
    assert run(film, "--out", out, "--csv", grades, "-q").exit_code == 0
    runner = CliRunner()
    results = (out / "results.jsonl").read_bytes()
    for target in (out / "results.jsonl", out / "manifest.json", film, grades):
        before = target.read_bytes()
        got = runner.invoke(app, ["report", str(out), "-o", str(target), "-q"])
        assert got.exit_code == 2, got.output
        assert _squeezed("the page would replace it") in _squeezed(got.output)
        assert target.read_bytes() == before
    # a grade CSV of an older brooker (columns were added at the end since): refused too
    older = tmp_path / "older.csv"
    older.write_bytes(b"\xef\xbb\xbffile,sop_instance_uid,status,side,class\r\na,1,ok,right,II\r\n")
    got = runner.invoke(app, ["report", str(out), "-o", str(older), "-q"])
    assert got.exit_code == 2, got.output
    for fine in (out / "report.html", out / "report.shard-1-of-2.html", tmp_path / "p.html"):
        assert runner.invoke(app, ["report", str(out), "-o", str(fine), "-q"]).exit_code == 0
        assert fine.read_bytes().startswith(batch.REPORT_HEAD.encode())
    assert (out / "results.jsonl").read_bytes() == results


@pytest.mark.usefixtures("fake_engine")
def test_report_o_knows_a_film_recorded_relative_and_a_results_file_through_a_link(
    tmp_path: Path, film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record spells a film as it was given (``films/a.dcm``, from the run's folder):
    ``report`` run from elsewhere must still know it; and a results file in OUT that is a
    link to one kept elsewhere is still one of the run's files by its name (a review of
    2026-12-07)."""
    import shutil

    data = tmp_path / "data"
    (data / "films").mkdir(parents=True)
    shutil.copy(film, data / "films" / "a.dcm")
    monkeypatch.chdir(data)
    assert run(Path("films/a.dcm"), "--out", "out", "-q").exit_code == 0
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    before = (data / "films" / "a.dcm").read_bytes()
    got = runner.invoke(app, ["report", "data/out", "-o", "data/films/a.dcm", "-q"])
    assert got.exit_code == 2, got.output
    assert (data / "films" / "a.dcm").read_bytes() == before
    # another a.dcm elsewhere is not that film: written (the user named it)
    (tmp_path / "other").mkdir()
    got = runner.invoke(app, ["report", "data/out", "-o", "other/a.dcm", "-q"])
    assert got.exit_code == 0, got.output
    kept = tmp_path / "keep.jsonl"
    (data / "out" / "results.jsonl").rename(kept)
    (data / "out" / "results.jsonl").symlink_to(kept)
    records = kept.read_bytes()
    got = runner.invoke(app, ["report", "data/out", "-o", "data/out/results.jsonl", "-q"])
    assert got.exit_code == 2, got.output
    assert kept.read_bytes() == records


def test_grade_many_refuses_a_results_file_of_someone_elses(tmp_path: Path, film: Path) -> None:
    """Without ``resume`` it rewrote the file, dropping the lines that were not records; with
    it, it appended records to them."""
    mine = tmp_path / "grades.jsonl"
    mine.write_text(FOREIGN["results.jsonl"])
    for resume in (False, True):
        with pytest.raises(ConfigError, match=r"grades\.jsonl was not written by brooker"):
            list(
                batch.grade_many(
                    [film], workers=0, results_file=mine, resume=resume, grade_fn=fake_grade
                )
            )
    assert mine.read_text() == FOREIGN["results.jsonl"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text(FOREIGN["results.jsonl"])
    with pytest.raises(ConfigError, match="its lines are not brooker records"):
        list(batch.grade_many([film], workers=0, out_dir=out, grade_fn=fake_grade))
    # its own records are taken up, as before
    ok = tmp_path / "ok.jsonl"
    assert len(list(batch.grade_many([film], workers=0, results_file=ok, grade_fn=fake_grade))) == 1
    assert batch.not_written_here(ok, results=True) is None
    assert len(list(batch.grade_many([film], workers=0, results_file=ok, grade_fn=fake_grade))) == 1


def test_what_tells_a_file_brooker_wrote(tmp_path: Path) -> None:
    cases = {
        "manifest.json": ('{\n  "tool": "brooker",\n  "version": "0.1.0"', None),
        "manifest.shard-2-of-3.json": ('{"tool": "other"}', "it is not a brooker run manifest"),
        "results.shard-1-of-2.jsonl": ('{"file": "a.dcm", "status": "ok"}\n', None),
        "results.jsonl": ('{"path": "a.dcm"}\n', "its lines are not brooker records"),
        "report.html": (batch.REPORT_HEAD + "...", None),
        "notes.txt": ("anything", None),  # not a name a run writes
    }
    for name, (text, why) in cases.items():
        (tmp_path / name).write_text(text)
        assert batch.not_written_here(tmp_path / name) == why, name
    # a link is judged by its file (grade_many appended through it to someone's CSV); a
    # folder fails as an output error
    (tmp_path / "elsewhere.json").write_text("{}")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "manifest.json").symlink_to(tmp_path / "elsewhere.json")
    assert batch.not_written_here(tmp_path / "d" / "manifest.json") == (
        "it is not a brooker run manifest"
    )
    (tmp_path / "d" / "results.jsonl").symlink_to(tmp_path / "results.shard-1-of-2.jsonl")
    assert batch.not_written_here(tmp_path / "d" / "results.jsonl") is None
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "results.jsonl").mkdir()
    assert batch.not_written_here(tmp_path / "e" / "results.jsonl") is None


def test_grade_many_never_appends_through_a_link_to_someone_elses_file(
    tmp_path: Path, film: Path
) -> None:
    theirs = tmp_path / "theirs.csv"
    theirs.write_text(FOREIGN["results.jsonl"])
    link = tmp_path / "results.jsonl"
    link.symlink_to(theirs)
    with pytest.raises(ConfigError, match="its lines are not brooker records"):
        list(batch.grade_many([film], workers=0, results_file=link, grade_fn=fake_grade))
    assert theirs.read_text() == FOREIGN["results.jsonl"]
