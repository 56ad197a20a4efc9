"""Tool-versus-reader agreement on Brooker classes: confusion matrix, kappa, sensitivity.

Reads a ``review.csv`` exported by the review page (``brooker report``), or any CSV with a
column of the tool's classes and one of a reader's, and computes:

* the 5 x 5 confusion matrix (rows: the reader's class, the reference; columns: the tool's);
* accuracy (exact class agreement) with a Wilson 95 % interval;
* Cohen's kappa with quadratic weights, ``1 - sum(w * O) / sum(w * E)`` with
  ``w[i, j] = (i - j)**2 / 16`` over the five classes 0-IV and ``E`` the product of the
  marginals divided by ``n`` (the weights' scale cancels; classes nobody used change nothing);
* sensitivity and specificity of the tool for "III/IV" (the classes usually judged clinically
  relevant) against "0-II", the reader being the reference, with Wilson 95 % intervals.

Each hip is one observation, and counts once: rows naming the same ``file`` and ``side`` (two
exports concatenated, a film reviewed twice) with the same two classes are one hip (the
repeats counted in ``duplicates``), and with different classes a :class:`AgreementInputError`
naming both lines. The two hips of one film are not independent: the kappa's 95 %
interval is a percentile bootstrap that resamples whole films (the ``file`` column; each row
on its own when there is none), 2000 times with a fixed seed over the films in an order of
their ratings, so it is reproducible however the rows are sorted. The Wilson intervals treat hips
as independent, so they are somewhat narrow. Pure Python: no numpy, so ``brooker
agreement`` starts fast.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from brooker.errors import path_named

#: Columns of ``review.csv``, in order (the grade CSV's conventions: snake_case names, classes
#: written ``0 I II III IV`` like its ``brooker_class``, ``side`` the patient's side
#: ``right``/``left``, ``gap_mm`` empty when there is no gap, UTF-8 with BOM, CRLF).
REVIEW_COLUMNS: tuple[str, ...] = (
    "file",
    "sop_instance_uid",
    "side",
    "tool_class",
    "reader_class",
    "gap_mm",
    "note",
)

#: The five Brooker classes in order; index = grade.
CLASSES: tuple[str, ...] = ("0", "I", "II", "III", "IV")

#: Column names tried, in order, when none is given.
TOOL_COLUMNS: tuple[str, ...] = ("tool_class", "brooker_class", "tool_grade", "grade", "tool")
READER_COLUMNS: tuple[str, ...] = (
    "reader_class",
    "reader_grade",
    "reader",
    "reference_class",
    "truth_class",
    "truth",
)

_ALIASES = {c: i for i, c in enumerate(CLASSES)} | {str(i): i for i in range(5)}


class AgreementInputError(ValueError):
    """The CSV cannot be read as tool and reader classes (message says which file and why).

    ``column_named``: ``"tool"`` or ``"reader"`` when the column the caller named for those
    classes is not in the file (the command line then names its option), else None.
    """

    def __init__(self, message: str, column_named: str | None = None) -> None:
        super().__init__(message)
        self.column_named = column_named


def parse_class(text: str | int | None) -> int | None:
    """A Brooker class as its grade 0-4; ``None`` for an empty cell.

    Accepts ``0 I II III IV`` (any case, optional ``Brooker`` prefix), ``0-4``, and a cell
    guarded against formula injection (leading ``'``).

    >>> [parse_class(c) for c in ("0", "iii", "Brooker IV", "2", "", None)]
    [0, 3, 4, 2, None, None]
    """
    if text is None:
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        if 0 <= text <= 4:
            return text
        raise ValueError(f"not a Brooker class: {text!r}")
    s = str(text).strip().lstrip("'").strip()
    if not s:
        return None
    key = s.upper()
    if key.startswith("BROOKER"):
        key = key[len("BROOKER") :].strip()
    if key.endswith(".0") and key[:-2].isdigit():  # 3.0 from a spreadsheet
        key = key[:-2]
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"not a Brooker class: {text!r}")


@dataclass(frozen=True, slots=True)
class Proportion:
    """``k`` of ``n`` with its Wilson score 95 % interval (``None`` when ``n`` is 0)."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        """``k / n``, or ``None`` when ``n`` is 0."""
        return self.k / self.n if self.n else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        """Wilson score interval at 95 %.

        >>> [round(v, 4) for v in Proportion(8, 10).ci95]
        [0.4902, 0.9433]
        """
        if not self.n:
            return None
        z = 1.959963984540054
        p = self.k / self.n
        den = 1 + z * z / self.n
        centre = (p + z * z / (2 * self.n)) / den
        half = z * math.sqrt(p * (1 - p) / self.n + z * z / (4 * self.n * self.n)) / den
        return max(0.0, centre - half), min(1.0, centre + half)

    def to_record(self) -> dict[str, object]:
        """JSON-ready dict."""
        ci = self.ci95
        return {
            "value": None if self.value is None else round(self.value, 6),
            "k": self.k,
            "n": self.n,
            "ci95": None if ci is None else [round(ci[0], 6), round(ci[1], 6)],
        }


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement of the tool's classes with a reader's.

    ``confusion[r][t]`` counts hips the reader put in class ``r`` and the tool in ``t``
    (0-4). ``kappa_quadratic`` is ``None`` when it is undefined (all ratings in one class on
    both sides, so no disagreement is possible by chance).
    """

    confusion: tuple[tuple[int, ...], ...]
    accuracy: Proportion
    kappa_quadratic: float | None
    sensitivity_iii_iv: Proportion
    specificity_iii_iv: Proportion
    skipped: int = 0
    kappa_ci95: tuple[float, float] | None = None
    """Percentile bootstrap over films (``None``: fewer than 2 films, or kappa undefined)."""
    films: int = 0
    """Number of films (resampling units) the hips come from."""
    resamples: int = 0
    duplicates: int = 0
    """Rows left out as repeats of a hip already counted (same file, side and classes)."""
    tool_not_graded: int = 0
    """Of ``skipped``, the hips the reader classed and the tool did not grade: what the tool
    leaves to the reader, reported on its own (it was counted among the rows not reviewed)."""

    def __post_init__(self) -> None:
        if len(self.confusion) != 5 or any(len(r) != 5 for r in self.confusion):
            raise ValueError("confusion must be 5 x 5")

    @property
    def n(self) -> int:
        """Number of hips compared."""
        return sum(map(sum, self.confusion))

    def to_record(self) -> dict[str, object]:
        """JSON-ready dict (what ``brooker agreement --json`` prints)."""
        return {
            "n": self.n,
            "skipped": self.skipped,
            "tool_not_graded": self.tool_not_graded,
            "duplicates": self.duplicates,
            "classes": list(CLASSES),
            "confusion": {
                "rows": "reader",
                "columns": "tool",
                "counts": [list(r) for r in self.confusion],
            },
            "accuracy": self.accuracy.to_record(),
            "kappa_quadratic": None
            if self.kappa_quadratic is None
            else round(self.kappa_quadratic, 6),
            "kappa_quadratic_ci95": None
            if self.kappa_ci95 is None
            else [round(self.kappa_ci95[0], 6), round(self.kappa_ci95[1], 6)],
            "bootstrap": {"unit": "film", "films": self.films, "resamples": self.resamples},
            "sensitivity_iii_iv": self.sensitivity_iii_iv.to_record(),
            "specificity_iii_iv": self.specificity_iii_iv.to_record(),
        }


def confusion_matrix(pairs: Iterable[tuple[int, int]]) -> tuple[tuple[int, ...], ...]:
    """5 x 5 counts from ``(reader, tool)`` grade pairs, rows reader, columns tool.

    >>> confusion_matrix([(0, 0), (3, 2), (3, 2)])[3]
    (0, 0, 2, 0, 0)
    """
    m = [[0] * 5 for _ in range(5)]
    for reader, tool in pairs:
        m[reader][tool] += 1
    return tuple(tuple(r) for r in m)


def quadratic_weighted_kappa(confusion: Sequence[Sequence[int]]) -> float | None:
    """Cohen's kappa with quadratic weights of a square table of counts.

    ``1 - sum(w * O) / sum(w * E)`` with ``w[i, j] = (i - j)**2`` and
    ``E[i, j] = row_i * col_j / n``. ``None`` when ``sum(w * E)`` is 0 (empty table, or every
    rating in one class on both sides).

    >>> quadratic_weighted_kappa([[5, 0], [0, 5]])
    1.0
    >>> round(quadratic_weighted_kappa([[20, 5], [10, 15]]), 6)  # Cohen's 0.4 for 2 classes
    0.4
    """
    k = len(confusion)
    n = sum(map(sum, confusion))
    if n == 0:
        return None
    rows = [sum(r) for r in confusion]
    cols = [sum(confusion[i][j] for i in range(k)) for j in range(k)]
    observed = sum((i - j) ** 2 * confusion[i][j] for i in range(k) for j in range(k))
    expected = sum((i - j) ** 2 * rows[i] * cols[j] for i in range(k) for j in range(k)) / n
    if expected == 0:
        return None
    return 1.0 - observed / expected


def bootstrap_kappa_ci(
    clusters: Sequence[Sequence[tuple[int, int]]],
    *,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the quadratic weighted kappa, resampling clusters.

    ``clusters`` are the ``(reader, tool)`` grade pairs of each film. Resamples whose kappa is
    undefined are dropped; ``None`` with fewer than 2 clusters, or when more than half are
    undefined.

    >>> bootstrap_kappa_ci([[(0, 0)], [(3, 3)], [(4, 4), (2, 2)]], resamples=200)
    (1.0, 1.0)
    """
    n = len(clusters)
    if n < 2 or resamples < 1:
        return None
    rng = random.Random(seed)
    values: list[float] = []
    for _ in range(resamples):
        m = [[0] * 5 for _ in range(5)]
        for _ in range(n):
            for r, t in clusters[rng.randrange(n)]:
                m[r][t] += 1
        k = quadratic_weighted_kappa(m)
        if k is not None:
            values.append(k)
    if len(values) * 2 < resamples:
        return None
    values.sort()
    tail = (1.0 - level) / 2
    last = len(values) - 1
    return values[round(tail * last)], values[round((1.0 - tail) * last)]


def agreement(
    pairs: Iterable[tuple[int, int]] | Iterable[tuple[str, str]],
    *,
    skipped: int = 0,
    films: Sequence[str] | None = None,
    resamples: int = 2000,
    seed: int = 0,
    duplicates: int = 0,
    tool_not_graded: int = 0,
) -> Agreement:
    """Agreement from ``(reader, tool)`` pairs of classes (grades 0-4 or ``0``-``IV``).

    ``films`` names the film of each pair (same order), the unit the kappa's bootstrap
    resamples; by default every pair is its own film. ``resamples=0`` skips the bootstrap.
    ``skipped``, ``tool_not_graded`` and ``duplicates`` (rows left out before,
    :class:`Ratings`) are only reported.

    >>> a = agreement([("III", "III"), ("II", "III"), ("0", "0")])
    >>> a.accuracy.value, a.sensitivity_iii_iv.value, a.specificity_iii_iv.value
    (0.6666666666666666, 1.0, 0.5)
    """
    graded: list[tuple[int, int]] = []
    for reader, tool in pairs:
        r, t = parse_class(reader), parse_class(tool)
        if r is None or t is None:
            raise ValueError(f"missing class in pair {(reader, tool)!r}")
        graded.append((r, t))
    cm = confusion_matrix(graded)
    hits = sum(cm[i][i] for i in range(5))
    n = len(graded)
    if films is not None and len(films) != n:
        raise ValueError(f"{len(films)} film names for {n} pairs")
    clusters: dict[str, list[tuple[int, int]]] = {}
    for k, pair in enumerate(graded):
        clusters.setdefault(films[k] if films is not None else str(k), []).append(pair)
    kappa = quadratic_weighted_kappa(cm)
    # in an order of their own, not the rows': the same ratings sorted otherwise (a CSV
    # re-sorted in a spreadsheet) gave another interval from the same seed. By what each film
    # holds, not its name: a film without one is named by its line, which moves with the row
    ordered = sorted(sorted(c) for c in clusters.values())
    ci = bootstrap_kappa_ci(ordered, resamples=resamples, seed=seed) if kappa is not None else None
    tp = sum(cm[r][t] for r in (3, 4) for t in (3, 4))
    pos = sum(cm[r][t] for r in (3, 4) for t in range(5))
    tn = sum(cm[r][t] for r in (0, 1, 2) for t in (0, 1, 2))
    neg = n - pos
    return Agreement(
        confusion=cm,
        accuracy=Proportion(hits, n),
        kappa_quadratic=kappa,
        sensitivity_iii_iv=Proportion(tp, pos),
        specificity_iii_iv=Proportion(tn, neg),
        skipped=skipped,
        kappa_ci95=ci,
        films=len(clusters),
        resamples=resamples if ci is not None else 0,
        duplicates=duplicates,
        tool_not_graded=tool_not_graded,
    )


def _column(header: Sequence[str], name: str, source: str = "") -> str | None:
    """The header's column ``name`` names: itself, else the one that differs from it in case
    only (a spreadsheet's ``Grade`` or ``FILE``; a user's ``--reader-column grade``); None
    when none does. Two or more that differ from it in case only, and none exactly, are
    refused: which one was meant cannot be told.

    >>> _column(["File", "Side", "Grade"], "file"), _column(["grade", "Grade"], "Grade")
    ('File', 'Grade')
    """
    if name in header:
        return name
    folded = [h for h in header if h.casefold() == name.casefold()]
    if len(folded) > 1:
        raise AgreementInputError(
            f"{source}: columns {', '.join(map(repr, folded))} differ only in case: name the "
            "one meant exactly (--tool-column, --reader-column), or rename the other"
        )
    return folded[0] if folded else None


def _pick(header: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str,
          source: str) -> str:
    if wanted is not None:
        wanted = wanted.strip()  # as the header's names are: " grade" names "grade"
        named = _column(header, wanted, source)
        if named is None:
            raise AgreementInputError(
                f"{source}: no column {wanted!r} for the {what} classes (columns: "
                f"{', '.join(header)})",
                column_named=what.removesuffix("'s"),
            )
        return named
    # a candidate named exactly first: "Reader" (a reader's initials) beside "truth" is not
    # the reader's classes because it matches "reader" in another case
    for c in candidates:
        if c in header:
            return c
    for c in candidates:
        if (named := _column(header, c, source)) is not None:
            return named
    raise AgreementInputError(
        f"{source}: no column with the {what} classes (looked for {', '.join(candidates)}; "
        f"columns: {', '.join(header)})"
    )


@dataclass(frozen=True, slots=True)
class Ratings:
    """``(reader, tool)`` grade pairs read from a CSV, the film of each, rows skipped, and the
    rows left out as repeats of a hip already read (``duplicates``: each row's line, and the
    line of the row it repeats)."""

    pairs: tuple[tuple[int, int], ...]
    films: tuple[str, ...]
    skipped: int
    duplicates: tuple[tuple[int, int], ...] = ()
    tool_not_graded: int = 0
    """Of ``skipped``, rows with a reader's class and no tool class (a hip not graded)."""

    def agreement(self, *, resamples: int = 2000, seed: int = 0) -> Agreement:
        """:func:`agreement` of these ratings, bootstrapped over their films."""
        return agreement(
            self.pairs,
            skipped=self.skipped,
            films=self.films,
            resamples=resamples,
            seed=seed,
            duplicates=len(self.duplicates),
            tool_not_graded=self.tool_not_graded,
        )


def pairs_from_rows(
    rows: Iterable[Mapping[str, str | None]],
    *,
    tool_column: str,
    reader_column: str,
    film_column: str | None = "file",
    side_column: str | None = "side",
    source: str = "<rows>",
) -> Ratings:
    """The ``(reader, tool)`` grade pairs of the rows where both classes are given, the film
    of each (``film_column``; the line number when absent), and how many rows were skipped
    (a class cell empty: not reviewed, or a film with no hip).

    A hip counts once. A row whose film and side (``side_column``, ``right``/``left`` in any
    case; both cells read with the blanks around them stripped) are those of an earlier row
    with both classes is a repeat (two exports concatenated, a film reviewed twice): with the
    same two classes it is left out (in
    :attr:`Ratings.duplicates`); with others, two verdicts for one hip, it is an
    :class:`AgreementInputError` naming both lines. Rows with no film or no side (that column
    missing, or the cell empty) are never taken for repeats: the two hips of a film are told
    apart only by their side. A row whose two class cells hold the two columns' names is the
    header line repeated (``cat review1.csv review2.csv``) and is left out, not counted.
    """
    pairs: list[tuple[int, int]] = []
    films: list[str] = []
    skipped = not_graded = 0
    seen: dict[tuple[str, str], tuple[int, int, int]] = {}  # (film, side) -> line, reader, tool
    duplicates: list[tuple[int, int]] = []
    it = iter(rows)
    line = 1
    while True:
        try:
            row = next(it)
        except StopIteration:
            break
        except csv.Error as exc:  # a cell over the csv module's size limit, a NUL...
            line = max(getattr(rows, "line_num", 0), line + 1)
            raise AgreementInputError(f"{source}, line {line}: {exc}") from None
        # a csv reader says where the row ends (blank lines and cells holding a line break
        # count); other rows are numbered as lines after a header
        line = getattr(rows, "line_num", line + 1)
        # (the second file's byte-order mark begins its first cell: not a blank to strip)
        # the header again: two files joined with cat (each with its header; its names in
        # any case, as the columns are matched: _column)
        if (str(row.get(tool_column) or "").replace("\ufeff", "").strip().casefold()
                == tool_column.casefold()
                and str(row.get(reader_column) or "").replace("\ufeff", "").strip().casefold()
                == reader_column.casefold()):
            continue
        try:
            t = parse_class(row.get(tool_column))
            r = parse_class(row.get(reader_column))
        except ValueError as exc:
            raise AgreementInputError(f"{source}, line {line}: {exc}") from None
        if t is None or r is None:
            skipped += 1
            not_graded += t is None and r is not None
            continue
        # blanks around a name are a spreadsheet's or an editor's, not the file's: " a.dcm" is
        # the film of "a.dcm" (blanks inside are kept)
        film = str(row.get(film_column) or "").strip() if film_column else ""
        side = str(row.get(side_column) or "").strip() if side_column else ""
        if film and side:
            key = (film, side.lower())
            if key in seen:
                first, r0, t0 = seen[key]
                if (r0, t0) != (r, t):
                    raise AgreementInputError(
                        f"{source}, lines {first} and {line}: two verdicts for the {side} hip "
                        f"of {film}: reader {CLASSES[r0]}, tool {CLASSES[t0]} on line {first}; "
                        f"reader {CLASSES[r]}, tool {CLASSES[t]} on line {line} (two reviews "
                        "or runs in one file?): keep one of the rows"
                    )
                duplicates.append((line, first))
                continue
            seen[key] = (line, r, t)
        pairs.append((r, t))
        films.append(film or f"line {line}")
    return Ratings(tuple(pairs), tuple(films), skipped, tuple(duplicates), not_graded)


def _delimiter(text: str) -> str:
    """The delimiter of a CSV, ``,`` ``;`` or tab: the one that splits its header line into the
    most cells (a tie, or a single column: ``,``).

    Only the delimiter is guessed: quoting is always the grade CSV's and ``review.csv``'s
    (``"``, doubled inside), never ``'``, which guards a cell starting with ``= + - @``.
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    best, most = ",", 1
    for d in (",", ";", "\t"):
        try:
            n = len(next(csv.reader([first], delimiter=d), []))
        except csv.Error:
            continue
        if n > most:
            best, most = d, n
    return best


#: A line break inside a cell, as the csv module keeps it (CRLF, LF or CR alone).
_LINE_BREAK = re.compile(r"\r\n?|\n")


def _runaway_quote(text: str, delimiter: str) -> tuple[int, int | None] | None:
    r"""Where a quoted cell missing its closing ``"`` opens, and the line its run ends on
    (``None``: the end of the file); ``None`` when no row was seen swallowed by one.

    Python's csv module (not strict) reads everything from such a quote to the next ``"``, or
    the end of the file, into one cell, so the rows in between vanish without a word. The
    quoted cells are followed here as the csv module reads them (a ``"`` opens one only at
    the start of a cell; ``""`` inside one is a quote). One that spans lines ran away when
    the ``"`` that closes it opened a later cell: text other than blanks follows it on its
    line before the delimiter (``"fine"``), or another ``"`` stands inside a cell after it on
    that line (``", see above"``). One left open at the end of the file ran away when a line
    after its first holds anything. A note on several lines, quoted and closed, is neither,
    whatever it holds; so is a quote left open on the last row (the cell only takes the line
    break). Not caught: a run closed by a ``"`` that ends a later line (``gap 5"``), which
    looks like a closed note.

    >>> _runaway_quote('a,b,c\r\n1,2,"x\r\n3,4,y\r\n', ",")
    (2, None)
    >>> _runaway_quote('a,b,c\n1,"x,2\n3,"y",4\n5,6,w\n', ",")
    (2, 3)
    >>> _runaway_quote('a,b,c\n1,2,"x\n3,4,", see above"\n', ",")
    (2, 3)
    >>> _runaway_quote('a;b;c\n1;"hip;\nknee;";2\n3;4;"x ""y"" z"\n5;6;"two\nlines" \n7;8;"x\n',
    ...                ";")
    """
    blank_chars = " \t".replace(delimiter, "")  # a tab is the delimiter of a TSV
    blanks = re.compile("[" + re.escape(blank_chars) + "]*")
    pos = 0
    while (p := text.find('"', pos)) >= 0:
        if p > 0 and text[p - 1] not in (delimiter, "\r", "\n"):
            pos = p + 1  # inside a cell not quoted: a character of it
            continue
        k = p + 1  # the cell's closing quote: the next lone one
        while (k := text.find('"', k)) >= 0 and text.startswith('""', k):
            k += 2
        content = text[p + 1 :] if k < 0 else text[p + 1 : k]
        if _LINE_BREAK.search(content):
            if k < 0:
                later = _LINE_BREAK.split(content)[1:]
                if any(line.strip() for line in later):
                    return _line_of(text, p), None
                return None
            eol = _LINE_BREAK.search(text, k + 1)
            rest = text[k + 1 : len(text) if eol is None else eol.start()]
            lead = blanks.match(rest)
            after = rest[0 if lead is None else lead.end() :][:1]
            inner = re.search(rf'[^{re.escape(delimiter)}]"', rest)
            if after not in ("", delimiter) or inner is not None:
                opens = _line_of(text, p)
                return opens, opens + len(_LINE_BREAK.findall(content))
        if k < 0:
            return None
        pos = k + 1
    return None


def _line_of(text: str, index: int) -> int:
    """The line (from 1) ``text[index]`` stands on, counting CR, LF and CRLF as the csv
    module does."""
    return 1 + len(_LINE_BREAK.findall(text, 0, index))


def read_ratings(
    path: str | os.PathLike[str],
    *,
    tool_column: str | None = None,
    reader_column: str | None = None,
) -> Ratings:
    """The ratings of a CSV (UTF-8, with or without BOM; comma, semicolon or tab, as its
    header line has them; quoted with ``"``; lines ending in CRLF, LF or CR). A quoted cell
    missing its closing ``"`` (or a file cut short in one) is refused, naming the line where it
    opens: the rows after it would be read into that cell and lost (:func:`_runaway_quote`).

    Columns default to the first present of :data:`TOOL_COLUMNS` and :data:`READER_COLUMNS`;
    column names, the header's and those given, match with the blanks around them stripped
    (blanks inside count: ``" my grade"`` names ``my grade``) and in any case (``Grade``,
    ``FILE``) where only one column is so named. The film of each row is its
    ``file`` cell when there is such a column, and a hip is named by its ``file`` and ``side``
    cells: each counts once (:func:`pairs_from_rows`).
    """
    source = path_named(os.fspath(path))  # an empty path named as typed, "": not ": cannot read"
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except OSError as exc:
        raise AgreementInputError(f"{source}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise AgreementInputError(f"{source}: not UTF-8 text") from None
    if text.lstrip()[:1] in ("{", "["):  # results.jsonl, truth.json: not a table
        raise AgreementInputError(
            f"{source}: JSON, not CSV (a header line naming the columns, then a row per hip)"
        )
    delimiter = _delimiter(text)
    runaway = _runaway_quote(text, delimiter)
    if runaway is not None:
        start, end = runaway
        until = "the end of the file" if end is None else f"line {end}"
        raise AgreementInputError(
            f'{source}, line {start}: a quoted cell opens here and runs to {until} (a closing " '
            "missing?): the rows up to there would be read as that one cell"
        )
    # newline="": rows end at CR, LF or CRLF (a spreadsheet on a Mac writes CR alone)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        fields = reader.fieldnames
        while fields is not None and not "".join(fields).strip():  # blank lines above it
            fields = next(reader.reader, None)
        header = [h.strip() for h in fields or []]
    except csv.Error as exc:
        raise AgreementInputError(f"{source}, line {reader.line_num}: {exc}") from None
    if not header:
        raise AgreementInputError(f"{source}: empty file")
    reader.fieldnames = header
    tool = _pick(header, tool_column, TOOL_COLUMNS, "tool's", source)
    read = _pick(header, reader_column, READER_COLUMNS, "reader's", source)
    if tool == read:
        raise AgreementInputError(f"{source}: tool and reader columns are the same ({tool!r})")
    film = _column(header, "file", source)
    side = _column(header, "side", source)
    return pairs_from_rows(
        reader,
        tool_column=tool,
        reader_column=read,
        film_column=film,
        side_column=side,
        source=source,
    )


def read_pairs(
    path: str | os.PathLike[str],
    *,
    tool_column: str | None = None,
    reader_column: str | None = None,
) -> tuple[list[tuple[int, int]], int]:
    """``(reader, tool)`` pairs from a CSV and the number of rows skipped (see
    :func:`read_ratings`)."""
    r = read_ratings(path, tool_column=tool_column, reader_column=reader_column)
    return list(r.pairs), r.skipped


def agreement_from_csv(
    path: str | os.PathLike[str],
    *,
    tool_column: str | None = None,
    reader_column: str | None = None,
) -> Agreement:
    """:func:`agreement` of the rows of a CSV with both classes (``review.csv`` or any),
    the kappa's interval bootstrapped over its films.

    Raises
    ------
    AgreementInputError
        (a ``ValueError``) The file cannot be opened, or read as tool and reader classes: no
        such column, two different verdicts on one hip, not UTF-8, JSON (the message says
        which file and why).
    """
    return read_ratings(path, tool_column=tool_column, reader_column=reader_column).agreement()
