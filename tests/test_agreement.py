"""Tool-vs-reader agreement: known answers for kappa, accuracy, sensitivity and specificity."""

from __future__ import annotations

import csv
import doctest
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brooker import agreement as ag
from brooker.cli import app


def _table(counts: dict[tuple[int, int], int]) -> list[list[int]]:
    m = [[0] * 5 for _ in range(5)]
    for (r, t), n in counts.items():
        m[r][t] = n
    return m


def test_doctests() -> None:
    result = doctest.testmod(ag)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("per_class", [[1, 1, 1, 1, 1], [7, 0, 3, 2, 9], [0, 0, 4, 1, 0]])
def test_perfect_agreement_is_one(per_class: list[int]) -> None:
    pairs = [(g, g) for g, n in enumerate(per_class) for _ in range(n)]
    a = ag.agreement(pairs)
    assert a.kappa_quadratic == 1.0
    assert a.accuracy.value == 1.0


def test_two_classes_equal_cohens_kappa() -> None:
    # Classes 0 and I only: quadratic weights are 0 on the diagonal and one constant off it,
    # so weighted kappa is Cohen's: po = 35/50 = 0.7, pe = (25*30 + 25*20)/50**2 = 0.5,
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    m = _table({(0, 0): 20, (0, 1): 5, (1, 0): 10, (1, 1): 15})
    assert ag.quadratic_weighted_kappa(m) == pytest.approx(0.4, abs=1e-12)


def test_three_classes_hand_computed() -> None:
    # rows reader, columns tool, classes 0 I II:
    #   [[10, 2, 0],
    #    [ 3, 8, 1],
    #    [ 0, 2, 4]]          n = 30, rows (12, 12, 6), columns (13, 12, 5)
    # weights (i - j)**2 (the 1/16 of the 5-class scale cancels):
    #   sum w*O = 2 + 3 + 1 + 2 = 8
    #   sum w*E = (12*12*1 + 12*5*4 + 12*13*1 + 12*5*1 + 6*13*4 + 6*12*1) / 30 = 984 / 30
    #   kappa = 1 - 8 / 32.8 = 31/41
    m = _table({(0, 0): 10, (0, 1): 2, (1, 0): 3, (1, 1): 8, (1, 2): 1, (2, 1): 2, (2, 2): 4})
    assert ag.quadratic_weighted_kappa(m) == pytest.approx(31 / 41, abs=1e-12)
    small = [row[:3] for row in m[:3]]
    assert ag.quadratic_weighted_kappa(small) == pytest.approx(31 / 41, abs=1e-12)


def test_chance_level_is_zero_and_far_errors_cost_more() -> None:
    # observed equal to the product of the marginals: kappa 0
    assert ag.quadratic_weighted_kappa(_table({(0, 0): 1, (0, 4): 1, (4, 0): 1, (4, 4): 1})) == 0
    near = _table({(0, 0): 5, (2, 2): 5, (4, 4): 5, (3, 4): 1})
    far = _table({(0, 0): 5, (2, 2): 5, (4, 4): 5, (0, 4): 1})
    k_near, k_far = ag.quadratic_weighted_kappa(near), ag.quadratic_weighted_kappa(far)
    assert k_near is not None
    assert k_far is not None
    assert k_near > k_far


def test_kappa_is_symmetric_in_tool_and_reader() -> None:
    m = _table({(0, 0): 4, (0, 2): 1, (1, 1): 3, (2, 3): 2, (3, 3): 6, (4, 3): 1, (4, 4): 2})
    t = [list(r) for r in zip(*m, strict=True)]
    assert ag.quadratic_weighted_kappa(m) == pytest.approx(ag.quadratic_weighted_kappa(t))


def test_undefined_kappa_is_none() -> None:
    assert ag.quadratic_weighted_kappa(_table({(2, 2): 9})) is None
    assert ag.quadratic_weighted_kappa(_table({})) is None


def test_sensitivity_and_specificity_for_iii_iv() -> None:
    # reader III/IV (positive): 4 hips, the tool says III/IV on 3 (one III read as II)
    # reader 0-II (negative): 6 hips, the tool says 0-II on 5 (one II called III)
    pairs = [(3, 3), (3, 4), (4, 4), (3, 2), (0, 0), (1, 1), (2, 2), (2, 1), (0, 0), (2, 3)]
    a = ag.agreement(pairs)
    assert (a.sensitivity_iii_iv.k, a.sensitivity_iii_iv.n) == (3, 4)
    assert (a.specificity_iii_iv.k, a.specificity_iii_iv.n) == (5, 6)
    assert (a.accuracy.k, a.accuracy.n) == (6, 10)
    assert a.confusion[3] == (0, 0, 1, 1, 1)
    none_positive = ag.agreement([(0, 0), (1, 2)])
    assert none_positive.sensitivity_iii_iv.value is None
    assert none_positive.sensitivity_iii_iv.ci95 is None


def test_wilson_interval_known_values() -> None:
    lo, hi = ag.Proportion(0, 10).ci95 or (math.nan, math.nan)
    assert lo == 0.0
    assert hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = ag.Proportion(5, 10).ci95 or (math.nan, math.nan)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))


def test_kappa_interval_resamples_films(tmp_path: Path) -> None:
    # 30 films, both hips of a film agreeing with the reader or both off by one class: the
    # hips are strongly correlated, so resampling films gives a wider interval than hips
    pairs, films = [], []
    for f in range(30):
        off = 1 if f % 5 == 0 else 0
        for g in ((f % 5), (f * 3) % 5):
            pairs.append((g, min(4, g + off)))
            films.append(f"film{f}")
    by_film = ag.agreement(pairs, films=films)
    by_hip = ag.agreement(pairs)
    assert by_film.films == 30
    assert by_hip.films == 60
    assert by_film.kappa_ci95 is not None
    assert by_hip.kappa_ci95 is not None
    k = by_film.kappa_quadratic
    assert k is not None
    assert by_film.kappa_ci95[0] <= k <= by_film.kappa_ci95[1]
    width = by_film.kappa_ci95[1] - by_film.kappa_ci95[0]
    assert width > by_hip.kappa_ci95[1] - by_hip.kappa_ci95[0]
    assert ag.agreement(pairs, films=films).kappa_ci95 == by_film.kappa_ci95  # fixed seed
    # and whatever the rows' order: a CSV re-sorted in a spreadsheet gave another interval
    # from the same ratings (audit of 2026-12-07)
    import random

    order = list(range(len(pairs)))
    random.Random(5).shuffle(order)
    shuffled = ag.agreement([pairs[k] for k in order], films=[films[k] for k in order])
    assert shuffled.kappa_ci95 == by_film.kappa_ci95
    assert ag.agreement([pairs[k] for k in order]).kappa_ci95 == by_hip.kappa_ci95
    # a CSV without a file column names each row's film by its line, which moves with it
    rows = [f"{ag.CLASSES[t]},{ag.CLASSES[r]}" for r, t in pairs[:20]]
    forward = _write(Path(tmp_path) / "f.csv", "tool_class,reader_class\n" + "\n".join(rows))
    back = _write(Path(tmp_path) / "b.csv", "tool_class,reader_class\n" + "\n".join(rows[::-1]))
    assert (
        ag.read_ratings(forward).agreement().kappa_ci95
        == ag.read_ratings(back).agreement().kappa_ci95
    )


def test_kappa_interval_edge_cases() -> None:
    perfect = ag.agreement([(g, g) for g in range(5)] * 3)
    assert perfect.kappa_ci95 == (1.0, 1.0)
    assert ag.agreement([(2, 2), (3, 3)], films=["a", "a"]).kappa_ci95 is None  # one film
    assert ag.agreement([(2, 2)] * 4).kappa_ci95 is None  # kappa undefined
    assert ag.agreement([(1, 1), (3, 2)], resamples=0).kappa_ci95 is None
    with pytest.raises(ValueError, match="film names"):
        ag.agreement([(1, 1)], films=["a", "b"])


@pytest.mark.parametrize(
    ("text", "grade"),
    [("0", 0), ("I", 1), ("ii", 2), ("III", 3), ("IV", 4), ("3", 3), ("Brooker II", 2),
     ("'IV", 4), (" I ", 1), ("4.0", 4), ("", None), (None, None)],
)
def test_parse_class(text: str | None, grade: int | None) -> None:
    assert ag.parse_class(text) == grade


@pytest.mark.parametrize("bad", ["V", "5", "-1", "II/III", "x"])
def test_parse_class_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Brooker class"):
        ag.parse_class(bad)


def _write(path: Path, text: str, *, bom: bool = True) -> Path:
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


REVIEW = (
    "file,sop_instance_uid,side,tool_class,reader_class,gap_mm,note\r\n"
    "a.dcm,1.2,right,III,III,7.8,\r\n"
    'a.dcm,1.2,left,II,III,10.2,"close, re-measure"\r\n'
    "b.dcm,1.3,right,0,0,,\r\n"
    "b.dcm,1.3,left,IV,IV,0.0,\r\n"
    "c.dcm,1.4,right,I,,,'=only a note\r\n"
)


def test_reads_an_exported_review(tmp_path: Path) -> None:
    pairs, skipped = ag.read_pairs(_write(tmp_path / "review.csv", REVIEW))
    assert pairs == [(3, 3), (3, 2), (0, 0), (4, 4)]
    assert skipped == 1
    ratings = ag.read_ratings(tmp_path / "review.csv")
    assert ratings.films == ("a.dcm", "a.dcm", "b.dcm", "b.dcm")


def test_reads_a_grade_csv_with_a_reader_column(tmp_path: Path) -> None:
    text = "file;side;brooker_class;reader\nx.dcm;right;II;2\nx.dcm;left;0;I\n"
    a = ag.agreement_from_csv(_write(tmp_path / "g.csv", text, bom=False))
    assert a.confusion[2][2] == 1
    assert a.confusion[1][0] == 1


def test_explicit_and_missing_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "id,mine,theirs\n1,III,IV\n")
    a = ag.agreement_from_csv(path, tool_column="mine", reader_column="theirs")
    assert a.confusion[4][3] == 1
    with pytest.raises(ag.AgreementInputError, match="no column with the tool's classes"):
        ag.read_pairs(path)
    with pytest.raises(ag.AgreementInputError, match="no column 'nope'"):
        ag.read_pairs(path, tool_column="nope")
    bad = _write(tmp_path / "bad.csv", "tool_class,reader_class\nIII,VI\n")
    with pytest.raises(ag.AgreementInputError, match="line 2"):
        ag.read_pairs(bad)


def test_cli_table_and_json(tmp_path: Path) -> None:
    path = _write(tmp_path / "review.csv", REVIEW)
    runner = CliRunner()
    res = runner.invoke(app, ["agreement", str(path)])
    assert res.exit_code == 0, res.output
    assert "4 hip(s) compared; 1 row(s) without both classes skipped" in res.stdout
    assert "quadratic weighted kappa    0.944" in res.stdout
    # an interval reads "lo to hi": "-0.102-0.000" hid a negative bound's sign
    assert "(3/4; 95% CI 0.301 to 0.954)" in res.stdout
    res = runner.invoke(app, ["agreement", str(path), "--json"])
    assert res.exit_code == 0
    rec = json.loads(res.stdout)
    # rows (reader) 0: 1, III: 2, IV: 1; columns (tool) 0, II, III, IV: 1 each;
    # sum w*O = 1, sum w*E = 72 / 4 = 18, kappa = 17/18
    assert rec["kappa_quadratic"] == pytest.approx(17 / 18, abs=1e-6)
    assert rec["confusion"]["counts"][3] == [0, 0, 1, 1, 0]
    assert rec["accuracy"] == {"value": 0.75, "k": 3, "n": 4, "ci95": [0.300642, 0.954413]}
    assert rec["sensitivity_iii_iv"]["k"] == 2
    assert rec["bootstrap"] == {"unit": "film", "films": 2, "resamples": 2000}  # a.dcm, b.dcm
    assert len(rec["kappa_quadratic_ci95"]) == 2
    assert rec["specificity_iii_iv"]["n"] == 1


def test_hips_the_tool_did_not_grade_are_counted_apart(tmp_path: Path) -> None:
    """A hip the reader classed and the tool did not grade was counted with the rows nobody
    reviewed ("without both classes skipped"): what the tool leaves to the reader is said on
    its own (audit of 2026-12-07)."""
    path = _write(tmp_path / "review.csv", REVIEW + "d.dcm,1.5,left,,II,,\r\n")
    runner = CliRunner()
    res = runner.invoke(app, ["agreement", str(path)])
    assert res.exit_code == 0, res.output
    assert (
        "4 hip(s) compared; 2 row(s) without both classes skipped (1 of them hips the reader "
        "classed and the tool did not grade)"
    ) in " ".join(res.stdout.split())
    rec = json.loads(runner.invoke(app, ["agreement", str(path), "--json"]).stdout)
    assert (rec["skipped"], rec["tool_not_graded"]) == (2, 1)
    assert ag.read_ratings(path).tool_not_graded == 1


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    empty = _write(tmp_path / "e.csv", "tool_class,reader_class\nII,\n")
    res = runner.invoke(app, ["agreement", str(empty)])
    assert res.exit_code == 4
    # (the message is wrapped at the console's width, where a long path moves the break)
    assert "no row with both" in " ".join(res.stderr.split())
    res = runner.invoke(app, ["agreement", str(empty), "--reader-column", "x"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["agreement", str(tmp_path / "missing.csv")])
    assert res.exit_code == 2



def test_cells_guarded_with_an_apostrophe_are_not_quoted(tmp_path: Path) -> None:
    """The review page writes ``'`` before a cell starting with ``= + - @`` (a file name, a
    note). Such a file was sniffed as quoted with ``'``: its rows ran together, and 2 of its
    3 hips were silently lost (one counted, one "skipped")."""
    text = (
        "file,sop_instance_uid,side,tool_class,reader_class,gap_mm,note\r\n"
        "'-a.dcm,1.2,right,III,III,7.8,'=check\r\n"
        "b.dcm,1.3,left,II,III,12.0,'+ok\r\n"
        "c.dcm,1.4,right,0,0,,\r\n"
    )
    ratings = ag.read_ratings(_write(tmp_path / "review.csv", text))
    assert ratings.pairs == ((3, 3), (3, 2), (0, 0))
    assert ratings.skipped == 0
    assert ratings.films == ("'-a.dcm", "b.dcm", "c.dcm")


@pytest.mark.parametrize(("sep", "bom"), [(",", True), (";", False), ("\t", False)])
def test_the_delimiter_is_the_headers(tmp_path: Path, sep: str, bom: bool) -> None:
    # notes holding the other delimiters, and a quote doubled in a quoted cell
    text = sep.join(["file", "tool_class", "reader_class", "note"]) + "\n"
    text += sep.join(["a.dcm", "II", "III", '"a;b\tc, ""d"""']) + "\n"
    text += sep.join(["b.dcm", "0", "0", '"x;y,z"']) + "\n"
    ratings = ag.read_ratings(_write(tmp_path / "r.csv", text, bom=bom))
    assert ratings.pairs == ((3, 2), (0, 0))
    assert ratings.films == ("a.dcm", "b.dcm")


def test_a_bad_row_is_named_by_its_line_in_the_file(tmp_path: Path) -> None:
    # a blank line and a note holding a line break come before the bad class, on line 6
    text = (
        'file,tool_class,reader_class,note\na.dcm,II,II,\n\nb.dcm,I,I,"two\nlines"\n'
        "c.dcm,0,VI,\n"
    )
    with pytest.raises(ag.AgreementInputError, match=r"r\.csv, line 6: not a Brooker class"):
        ag.read_ratings(_write(tmp_path / "r.csv", text))


def test_a_row_the_csv_module_refuses_is_a_usage_error(tmp_path: Path) -> None:
    """A cell over the csv module's 128 kB limit raised ``_csv.Error`` past the command: a
    traceback and exit 1, the code of a bug in brooker, for a bad input file."""
    big = "x" * 200_000
    path = _write(tmp_path / "r.csv", f'tool_class,reader_class,note\nII,II,\nI,I,"{big}"\n')
    with pytest.raises(ag.AgreementInputError, match=r"r\.csv, line 3: field larger"):
        ag.read_ratings(path)
    res = CliRunner().invoke(app, ["agreement", str(path)])
    assert res.exit_code == 2, res.output
    assert "field larger than field limit" in " ".join(res.stderr.split())


@pytest.mark.parametrize("text", ['{"file": "a.dcm", "hips": []}\n', '{\n "a.dcm": {}\n}\n'])
def test_json_is_named_as_such(tmp_path: Path, text: str) -> None:
    """results.jsonl or a truth.json given in place of a CSV: the message said "no column
    with the tool's classes" and listed the whole first record (kilobytes) as its columns."""
    path = _write(tmp_path / "results.jsonl", text, bom=False)
    res = CliRunner().invoke(app, ["agreement", str(path)])
    assert res.exit_code == 2
    message = " ".join(res.stderr.split())
    assert "JSON, not CSV" in message
    assert "hips" not in message


def test_a_hip_repeated_with_the_same_classes_counts_once(tmp_path: Path) -> None:
    """Two exports of one review concatenated (or a film reviewed twice, with the same
    verdicts): each hip was counted twice, n doubled and the intervals narrowed, with no word
    said. Now each counts once, and the repeats are named (stdout, stderr and --json)."""
    rows = REVIEW.splitlines(keepends=True)[1:]
    rows[0] = rows[0].replace("right", "Right")  # the side is read in any case
    path = _write(tmp_path / "review.csv", REVIEW + "".join(rows))
    once = ag.read_ratings(_write(tmp_path / "once.csv", REVIEW))
    ratings = ag.read_ratings(path)
    assert ratings.pairs == once.pairs
    assert ratings.films == once.films
    assert ratings.duplicates == ((7, 2), (8, 3), (9, 4), (10, 5))  # (line, line it repeats)
    assert ratings.skipped == 2  # the row with a note only, twice: rows, not hips
    a = ratings.agreement()
    assert (a.n, a.duplicates) == (4, 4)
    assert a.kappa_ci95 == once.agreement().kappa_ci95
    res = CliRunner().invoke(app, ["agreement", str(path)])
    assert res.exit_code == 0, res.output
    assert "4 hip(s) compared" in res.stdout
    assert "4 repeated row(s) of a hip counted once" in res.stdout
    assert "quadratic weighted kappa    0.944" in res.stdout
    note = " ".join(res.stderr.split())
    assert "4 row(s) repeat a hip" in note
    assert "line 7 repeats line 2, line 8 repeats line 3, line 9 repeats line 4, and 1 more" in note
    res = CliRunner().invoke(app, ["agreement", str(path), "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert (rec["n"], rec["duplicates"], rec["skipped"]) == (4, 4, 2)
    assert rec["bootstrap"]["films"] == 2
    # without a side (no such column, or an empty cell) the two hips of a film cannot be told
    # apart, and without a file two films cannot: such rows all count
    no_side = _write(tmp_path / "a.csv", "file,tool_class,reader_class\nx,II,II\nx,II,II\n")
    assert ag.read_ratings(no_side).pairs == ((2, 2), (2, 2))
    empty = _write(tmp_path / "b.csv", "file,side,tool_class,reader_class\nx,,I,I\nx,,I,I\n")
    assert ag.read_ratings(empty).pairs == ((1, 1), (1, 1))
    no_file = _write(tmp_path / "c.csv", "side,tool_class,reader_class\nright,0,0\nright,0,0\n")
    assert ag.read_ratings(no_file).pairs == ((0, 0), (0, 0))


@pytest.mark.parametrize(
    ("repeat", "verdicts"),
    [
        pytest.param("a.dcm,1.2,left,II,II,10.2,\r\n", "reader III, tool II on line 3; "
                     "reader II, tool II on line 7", id="reader"),
        pytest.param("a.dcm,1.2,LEFT,III,III,9.1,\r\n", "reader III, tool II on line 3; "
                     "reader III, tool III on line 7", id="tool"),
    ],
)  # fmt: skip
def test_two_verdicts_for_one_hip_are_a_usage_error(
    tmp_path: Path, repeat: str, verdicts: str
) -> None:
    """The same hip given other classes further down (two readers' exports concatenated,
    the tool's classes of two runs): which row counts is the reader's call, not the tool's.
    Both were counted. Now an error naming both lines, exit 2 as for any unusable input."""
    path = _write(tmp_path / "review.csv", REVIEW + repeat)
    with pytest.raises(ag.AgreementInputError) as err:
        ag.read_ratings(path)
    message = str(err.value)
    assert "review.csv, lines 3 and 7: two verdicts for the" in message
    assert "hip of a.dcm" in message
    assert verdicts in message
    res = CliRunner().invoke(app, ["agreement", str(path)])
    assert res.exit_code == 2, res.output
    assert "lines 3 and 7" in " ".join(res.stderr.split())


def test_two_exports_concatenated_with_cat_repeat_the_header(tmp_path: Path) -> None:
    """``cat review1.csv review2.csv``, the plain way to put two exports together, repeats
    the header line (with its byte-order mark) in the middle. That line was read as a hip
    and refused as "not a Brooker class: 'tool_class'" (exit 2), although concatenated
    exports are what the repeats rule is for."""
    path = tmp_path / "all.csv"
    path.write_bytes(("\ufeff" + REVIEW).encode() * 2)
    once = ag.read_ratings(_write(tmp_path / "once.csv", REVIEW))
    ratings = ag.read_ratings(path)
    assert ratings.pairs == once.pairs
    assert ratings.duplicates == ((8, 2), (9, 3), (10, 4), (11, 5))
    assert ratings.skipped == 2  # the note-only row of each export, not the header line
    res = CliRunner().invoke(app, ["agreement", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert (json.loads(res.stdout)["n"], json.loads(res.stdout)["duplicates"]) == (4, 4)


def test_concatenated_files_whose_first_column_holds_a_class(tmp_path: Path) -> None:
    """The repeated header was told by its class cells, stripped of blanks but not of the
    second file's byte-order mark: with the tool's column first (a spreadsheet's own CSV, not
    the review page's, which begins with ``file``) it was still refused, "not a Brooker
    class: '\\ufefftool_class'"."""
    path = tmp_path / "all.csv"
    path.write_bytes("\ufefftool_class,reader_class\r\nII,II\r\nIV,III\r\n".encode() * 2)
    ratings = ag.read_ratings(path)
    assert ratings.pairs == ((2, 2), (3, 4), (2, 2), (3, 4))  # (reader, tool)


def test_lines_ended_by_cr_alone(tmp_path: Path) -> None:
    """A CSV saved with CR line endings (Excel for Mac's "CSV (Macintosh)"; the review
    page's Import reads it) was refused, exit 2, as "line 0: new-line character seen in
    unquoted field - do you need to open the file in universal-newline mode?"."""
    path = _write(tmp_path / "review.csv", REVIEW.replace("\r\n", "\r"))
    once = ag.read_ratings(_write(tmp_path / "once.csv", REVIEW))
    ratings = ag.read_ratings(path)
    assert (ratings.pairs, ratings.films, ratings.skipped) == (
        once.pairs, once.films, once.skipped
    )
    bad = _write(tmp_path / "bad.csv", "tool_class,reader_class\rII,II\r\rI,VI\r")
    with pytest.raises(ag.AgreementInputError, match=r"bad\.csv, line 4: not a Brooker class"):
        ag.read_ratings(bad)
    res = CliRunner().invoke(app, ["agreement", str(path)])
    assert res.exit_code == 0, res.output
    assert "4 hip(s) compared" in res.stdout


def test_blank_lines_before_the_header(tmp_path: Path) -> None:
    """Blank lines above the header (the delimiter is already taken from the first line
    that is not blank) made a CSV full of rows an "empty file", and a line of spaces made
    the header one nameless column."""
    for lead in ("\r\n", "\r\n\r\n", "  \r\n"):
        path = _write(tmp_path / "review.csv", lead + REVIEW)
        ratings = ag.read_ratings(path)
        assert ratings.pairs == ((3, 3), (3, 2), (0, 0), (4, 4)), repr(lead)
        assert ratings.skipped == 1
    with pytest.raises(ag.AgreementInputError, match=r"review\.csv, line 4: not a Brooker"):
        ag.read_ratings(_write(tmp_path / "review.csv", "\n\nfile,tool_class,reader_class\n"
                                                        "a,II,VI\n"))
    with pytest.raises(ag.AgreementInputError, match="empty file"):
        ag.read_ratings(_write(tmp_path / "blank.csv", "\r\n \r\n"))


def test_an_empty_path_is_named_as_typed() -> None:
    """``agreement_from_csv("")`` said ": cannot read (...)", naming no file; an empty path is
    named as typed, as everywhere else (``errors.path_named``)."""
    with pytest.raises(ag.AgreementInputError, match=r'^"": cannot read'):
        ag.read_ratings("")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("file,side,tool_class,reader_class,note\na,right,1,1,\"oops\nb,left,2,2,ok\n"
                     'c,right,3,3,", see above"\nd,left,4,4,x\n', "line 2: a quoted cell opens "
                     'here and runs to line 4 (a closing " missing?)', id="closed-by-a-cell"),
        pytest.param("file,note,tool_class,reader_class\na,\"oops,1,1\nb,\"fine\",2,2\nc,ok,3,3\n",
                     'line 2: a quoted cell opens here and runs to line 3 (a closing " missing?)',
                     id="closed-in-the-same-column"),
        pytest.param("file,tool_class,reader_class,note\na,1,1,\"oops\n"
                     + "".join(f"f{i},2,2,note {i}\n" for i in range(6000)),
                     "line 2: a quoted cell opens here and runs to the end of the file",
                     id="past-the-field-size-limit"),
        pytest.param("file,note,tool_class,reader_class\na,\"oops,1,1\nb,14\"" + " " * 70
                     + "x,2,2\nc,ok,3,3\n", 'line 2: a quoted cell opens here and runs to line 3',
                     id="text-far-after-the-quote"),
        pytest.param(REVIEW.replace("7.8,\r\n", '7.8,"re-measure\r\n'), "line 2: a quoted cell "
                     'opens here and runs to line 3 (a closing " missing?)', id="closed-later"),
        pytest.param(REVIEW.replace("IV,0.0,", 'IV,0.0,"x'), "line 5: a quoted cell opens "
                     "here and runs to the end of the file", id="to-the-end"),
    ],
)  # fmt: skip
def test_a_quote_never_closed_is_a_usage_error(tmp_path: Path, text: str, where: str) -> None:
    """The csv module reads from a quote nobody closes to the next ``"`` or the end of the
    file as one cell: the rows in it were lost without a word (two of four hips, read as a
    note), also when the quote that closed it opened a later note (", see above"). Now the
    file is refused, naming the line where the quote opens."""
    path = _write(tmp_path / "review.csv", text)
    with pytest.raises(ag.AgreementInputError) as err:
        ag.read_ratings(path)
    assert str(err.value).startswith(f"{path}, {where}")
    res = CliRunner().invoke(app, ["agreement", str(path)])
    assert res.exit_code == 2, res.output
    assert where in " ".join(res.stderr.replace("\u2502", " ").split())  # out of the error box


@pytest.mark.parametrize(
    ("text", "note"),
    [
        pytest.param(REVIEW + 'd.dcm,1.5,left,II,II,,"re-measure\r\n', "re-measure\r\n",
                     id="never-closed-on-the-last-row"),
        pytest.param(REVIEW + 'd.dcm,1.5,left,II,II,,"two\r\nlines" \r\n', "two\r\nlines ",
                     id="closed-then-a-blank"),
        pytest.param(REVIEW + 'd.dcm,1.5,left,II,II,,"a, b\r\nc, d, e, f, g, h, i"\r\n',
                     "a, b\r\nc, d, e, f, g, h, i", id="a-rows-worth-of-commas-on-its-lines"),
        pytest.param(REVIEW + 'd.dcm,1.5,left,II,II,,"two\r\nlines",\r\n', "two\r\nlines",
                     id="a-cell-more-than-the-header"),
        pytest.param(REVIEW + 'd.dcm,1.5,left,II,II,,"left,\r\nright,"\r\n', "left,\r\nright,",
                     id="ending-in-the-delimiter"),
    ],
)  # fmt: skip
def test_a_note_on_several_lines_is_read(tmp_path: Path, text: str, note: str) -> None:
    """A quoted note spanning lines swallows no row: read as the csv module reads it, also
    when a blank follows its closing quote (it was refused as "a closing \" missing"), and
    when its quote is never closed on the last row (the cell only takes the line break)."""
    path = _write(tmp_path / "review.csv", text)
    ratings = ag.read_ratings(path)
    assert ratings.pairs == ((3, 3), (3, 2), (0, 0), (4, 4), (2, 2))
    with path.open(newline="", encoding="utf-8") as f:
        assert list(csv.DictReader(f))[-1]["note"] == note


def test_a_tab_separated_note_on_two_lines_is_read(tmp_path: Path) -> None:
    """The blanks allowed after a note's closing quote took the tab that follows it, the
    delimiter, for a blank, and the next cell for text after the quote: refused."""
    path = _write(tmp_path / "review.tsv", "file\tnote\ttool_class\treader_class\n"
                                           'a\t"two\nlines"\t1\t1\nb\tok\t2\t2\n')  # fmt: skip
    assert ag.read_ratings(path).pairs == ((1, 1), (2, 2))


def test_a_run_closed_at_the_end_of_a_later_line_is_not_caught(tmp_path: Path) -> None:
    """The known limit of the check: a quote closing a later line (an inch mark) makes the run
    look like a note on two lines, as the csv module reads it, and that row is lost."""
    path = _write(tmp_path / "r.csv", 'file,tool_class,reader_class,note\na,1,1,"oops\n'
                                      'b,2,2,gap 5"\nc,3,3,ok\n')  # fmt: skip
    assert ag.read_ratings(path).pairs == ((1, 1), (3, 3))


def test_column_names_given_match_with_blanks_around_them_stripped(tmp_path: Path) -> None:
    """The header's names are matched stripped (``" my grade "`` is ``my grade``), but a
    name given with ``--tool-column``/``--reader-column`` was not: ``" their grade"`` (as
    the header line spells it) was "no column", exit 2. Both are stripped now; blanks inside
    a name still count."""
    path = _write(tmp_path / "r.csv", "id, my grade ,their grade\n1,III,IV\n")
    ratings = ag.read_ratings(path, tool_column=" my grade ", reader_column=" their grade")
    assert ratings.pairs == ((4, 3),)
    res = CliRunner().invoke(
        app, ["agreement", str(path), "--json", "--tool-column", "my grade ",
              "--reader-column", "\ttheir grade"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["confusion"]["counts"][4][3] == 1
    with pytest.raises(ag.AgreementInputError, match="no column 'mygrade'"):
        ag.read_ratings(path, tool_column="mygrade", reader_column="their grade")
    with pytest.raises(ag.AgreementInputError, match="columns are the same"):
        ag.read_ratings(path, tool_column="my grade", reader_column=" my grade")


def test_column_names_match_in_any_case_where_one_column_alone_is_so_named(
    tmp_path: Path,
) -> None:
    """A spreadsheet's header ``File,Side,Brooker_Class,Reader_Class`` was "no column with the
    tool's classes" (exit 2), and a ``File`` column was not read as the film's, so two
    verdicts on one hip went uncounted as such (a user's test of 2026-12-07). Names now match
    in any case where only one column is so named; an exact match is taken first."""
    text = "File,Side,Brooker_Class,Reader_Class\na.dcm,right,III,IV\na.dcm,left,0,0\n"
    ratings = ag.read_ratings(_write(tmp_path / "r.csv", text))
    assert ratings.pairs == ((4, 3), (0, 0))
    assert ratings.films == ("a.dcm", "a.dcm")
    twice = _write(tmp_path / "twice.csv", text + "a.dcm,RIGHT,III,III\n")
    with pytest.raises(ag.AgreementInputError, match=r"hip of a\.dcm"):
        ag.read_ratings(twice)
    given = ag.read_ratings(_write(tmp_path / "g.csv", "id,Mine,THEIRS\n1,II,III\n"),
                            tool_column="mine", reader_column="theirs")  # fmt: skip
    assert given.pairs == ((3, 2),)
    both = _write(tmp_path / "both.csv", "grade,Grade,reader_class\n1,II,III\n")
    assert ag.read_ratings(both).pairs == ((3, 1),)  # "grade" itself, exactly
    with pytest.raises(ag.AgreementInputError, match="differ only in case"):
        ag.read_ratings(both, tool_column="GRADE")  # two columns so named: none chosen
    # an exact name of a later candidate before an earlier one in another case: "Reader"
    # holds a reader's initials, "truth" the classes
    initials = "file,side,Reader,grade,truth\na.dcm,right,JS,III,IV\nb.dcm,left,JS,0,0\n"
    assert ag.read_ratings(_write(tmp_path / "i.csv", initials)).pairs == ((4, 3), (0, 0))
    # two exports joined with cat, their headers in different cases
    joined = text + "file,side,brooker_class,reader_class\nb.dcm,right,II,II\n"
    assert len(ag.read_ratings(_write(tmp_path / "j.csv", joined)).pairs) == 3


def test_a_kappa_with_no_interval_says_why(tmp_path: Path) -> None:
    """On one film the kappa has no bootstrap interval, and was printed bare, as firm as one
    with its interval (a user's test of 2026-12-07)."""
    text = "file,side,tool_class,reader_class\na.dcm,right,III,IV\na.dcm,left,0,0\n"
    one = _write(tmp_path / "one.csv", text)
    res = CliRunner().invoke(app, ["agreement", str(one)])
    assert res.exit_code == 0, res.output
    said = " ".join(res.stdout.split())
    assert "quadratic weighted kappa 0.923 (no interval: one film only;" in said


def test_blanks_around_a_file_name_do_not_make_another_film(tmp_path: Path) -> None:
    """The ``side`` cell was read stripped but the ``file`` cell was not: ``" a.dcm"`` and
    ``"a.dcm"`` were two films, so a hip repeated with a blank was counted twice (and two
    verdicts for one hip were not caught), and the bootstrap took one film for two."""
    text = (
        "file,side,tool_class,reader_class\n"
        "a.dcm,right,III,III\n a.dcm ,left,II,III\n"
        "a.dcm  ,right,III,III\nb c.dcm,right,0,0\nb  c.dcm,left,0,0\n"
    )
    ratings = ag.read_ratings(_write(tmp_path / "r.csv", text))
    assert ratings.films == ("a.dcm", "a.dcm", "b c.dcm", "b  c.dcm")  # blanks inside kept
    assert ratings.duplicates == ((4, 2),)
    assert ratings.agreement().films == 3
    twice = _write(tmp_path / "twice.csv", text + "\ta.dcm,left,II,II\n")
    with pytest.raises(ag.AgreementInputError, match=r"lines 3 and 7: .* hip of a\.dcm:"):
        ag.read_ratings(twice)


@pytest.mark.parametrize("option", ["--tool-column", "--reader-column"])
def test_a_column_an_option_names_that_the_file_lacks_is_that_options_error(
    tmp_path: Path, option: str
) -> None:
    """``agreement r.csv --tool-column nope`` said "Invalid value for CSV_FILE" (a new user's
    audit): the file is fine, the option names a column it lacks. The usage error names the
    option; a file with none of the default columns is still the file's."""
    path = _write(tmp_path / "r.csv", "file,tool_class,reader_class\na,1,1\n")
    res = CliRunner().invoke(app, ["agreement", str(path), option, "nope"])
    assert res.exit_code == 2
    assert f"Invalid value for {option}" in " ".join(res.output.split())
    bare = _write(tmp_path / "b.csv", "file,x,y\na,1,1\n")
    res = CliRunner().invoke(app, ["agreement", str(bare)])
    assert res.exit_code == 2
    assert "Invalid value for CSV_FILE" in " ".join(res.output.split())
