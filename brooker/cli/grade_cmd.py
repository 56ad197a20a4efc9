"""``brooker grade``: grade files and folders, print the results, write the batch outputs.

stdout carries results only (a table, or JSON lines with ``--json``); the progress bar, error
lines and the summary go to stderr. Heavy modules (numpy, pydicom, the grading engine) are
imported inside the command (and mostly only in the worker processes).

Exit codes: 0 every input graded; 1 internal error (a bug); 2 usage error (including a bad
``--pixel-spacing``, ``--magnification`` or ``--shard``); 3 some inputs could not be graded
(ungradable or error, each with its record; a path that does not exist, cannot be read or is
not a regular file counts here, with its ``error`` record, so that a list of files keeps one
record per entry); 4 no inputs found; 5 an output cannot be written (disk full, permissions, a
read-only file system, ``--out`` or ``--csv`` unusable: checked before any grading); 129, 130,
141 and 143 stopped by SIGHUP (the terminal closed), by Ctrl-C, by the reader of standard output
going away, or by SIGTERM (:func:`_signals_interrupt`), with the records so far kept and the
manifest "interrupted".

Every string from outside (file names, header values, messages quoting them) is printed through
:mod:`brooker.cli.terminal`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shlex
import sys
import traceback
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer

from brooker.cli import BareHelpCommand, app, note_bug
from brooker.cli.options import EMPTY_PATH, analysis_config, parse_spacing, path_parser
from brooker.cli.terminal import console as make_console
from brooker.cli.terminal import plain, term
from brooker.errors import path_named
from brooker.units import label_gap_mm

if TYPE_CHECKING:
    from types import FrameType

    from rich.console import Console

    from brooker.batch import ResultsSnapshot

#: Default ``--timeout`` (kept equal to ``brooker.batch.DEFAULT_TIMEOUT_S``, which is not
#: imported here so that ``brooker --help`` stays light).
DEFAULT_TIMEOUT_S = 300.0

_CLASS_STYLE = {
    "0": "green",
    "I": "cyan",
    "II": "yellow",
    "III": "dark_orange",
    "IV": "bold red",
}


def _fmt_gap(gap: Any) -> str:
    return "" if gap is None else f"{label_gap_mm(float(gap)):.1f}"


#: How a class IV hip's gap (0 in the record) reads in the table and the hip's line, as the
#: overlay's label words it: "0.0" read as a spur measured to touch, not as a bridge.
BRIDGED = "0 (bridged)"


def _hip_gap(hip: Mapping[str, Any]) -> str:
    """A hip's gap as the table and the hip's line show it (mm, no unit): :func:`_fmt_gap`, or
    :data:`BRIDGED` for a class IV hip."""
    if hip.get("grade") == 4 and hip.get("gap_mm") is not None:
        return BRIDGED
    return _fmt_gap(hip.get("gap_mm"))


def _notes(rec: dict[str, Any], hip: dict[str, Any] | None) -> list[str]:
    """What the table says of a hip (or of a file with no hip): why it was not graded, then
    the film's caveats and the hip's."""
    notes: list[str] = []
    if hip is not None and hip.get("not_graded"):
        notes.append(str(hip["not_graded"]))
    elif rec.get("status") != "ok":
        notes.append(_why_not(rec))
    notes.extend(rec.get("caveats") or [])
    if hip is not None:
        notes.extend(hip.get("caveats") or [])
    return [_as_read(str(n), bool(rec.get("overlay"))) for n in notes if n]


def _as_read(note: str, drawn: bool) -> str:
    """A note as the terminal shows it: without "(check the overlay)" when the film has no
    overlay (not ``drawn``: ``--no-overlay``; the record keeps the words, as the CSV does)."""
    if drawn:
        return note
    from brooker.notes import without_overlay_pointer

    return without_overlay_pointer(note)


def _why_not(rec: dict[str, Any], code: bool = True) -> str:
    """Why a film that is not ``ok`` was not graded (:func:`brooker.notes.why_not_graded`)."""
    from brooker.notes import why_not_graded

    return why_not_graded(rec, code)


class _NoteNumbers:
    """Numbers for the notes of a batch table: each distinct note is written once, under the
    table, and a row gives its notes' numbers, in ascending order. (Most hips of a folder share
    a few caveats, such as a head centred by the hip detector; written out on every row they
    buried the classes.)

    Notes that differ only in their figures (:func:`brooker.report.caveat_kind`: "its body
    begins 92 mm below the head's centre" and "... 36 mm ...") are one note, numbered once, and
    each variant gets a letter: the row says ``[4b]``, the legend writes the note once with the
    figures that differ listed by letter ("begins a: 92, b: 36 mm below"). A radiologist
    scanning a folder reads each kind of doubt once instead of a near copy per hip, and each
    hip's own figure is still there, one letter away. Every note is registered
    (:meth:`add`) before any row asks for its references (:meth:`refs`): a note with one
    variant has no letter."""

    def __init__(self) -> None:
        #: each kind of note, by its number's order: its variants (texts) in order of first use
        self.kinds: dict[str, list[str]] = {}
        #: each kind's number, and each note's kind and variant: found once, when the note is
        #: added, not again for every row that refers to it
        self._number: dict[str, int] = {}
        self._place: dict[str, tuple[str, int]] = {}

    @staticmethod
    def _kind(note: str) -> str:
        """A note's kind, and how many figures it has: a note that holds a literal ``N`` (a
        header value quoted) has the kind of one with a number there and one figure fewer,
        and the legend cannot letter them figure by figure."""
        from brooker.report import caveat_figures, caveat_kind

        return f"{len(caveat_figures(note))}:{caveat_kind(note)}"

    def add(self, notes: list[str]) -> None:
        for note in notes:
            if note in self._place:
                continue
            kind = self._kind(note)
            variants = self.kinds.setdefault(kind, [])
            self._number.setdefault(kind, len(self._number) + 1)
            self._place[note] = (kind, len(variants))
            variants.append(note)

    def _ref(self, note: str) -> tuple[int, int, str]:
        kind, k = self._place[note]
        number = self._number[kind]
        if len(self.kinds[kind]) == 1:
            return number, 0, f"[{number}]"
        return number, k, f"[{number}{_letters(k)}]"

    def refs(self, notes: list[str]) -> str:
        """The references of a row's notes, in ascending order; a note given twice for one
        hip is one reference."""
        return " ".join(ref for *_, ref in sorted({self._ref(note) for note in notes}))

    def legend(self) -> list[str]:
        """Each note once, by number: a note with variants as their shared text, each figure
        that differs as the variants' figures by letter."""
        from brooker.report import caveat_figures, with_figures

        lines = []
        for number, variants in enumerate(self.kinds.values(), start=1):
            figures = list(zip(*(caveat_figures(v) for v in variants), strict=True))
            run = _varying_run(variants, figures)
            if run is not None:
                lines.append(f"[{number}] {run}")
                continue

            def figure(i: int, figures: list[tuple[str, ...]] = figures) -> str:
                if len(set(figures[i])) == 1:
                    return figures[i][0]
                return ", ".join(f"{_letters(k)}: {v}" for k, v in enumerate(figures[i]))

            lines.append(f"[{number}] " + with_figures(variants[0], figure))
        return lines


#: The most characters between two figures of a note that the legend writes as one run of
#: figures once per variant (see _varying_run): " to " of a range, " x " of a spacing.
_JOINER_CHARS = 4


def _varying_run(variants: list[str], figures: list[tuple[str, ...]]) -> str | None:
    """A note whose variants differ in more than one figure, close together ("this hip grades
    0 to IV", "II to III"; a spacing's "0.187 x 0.187"), written once with that stretch given
    whole per variant by letter ("grades a: 0 to IV, b: II to III"). Lettered figure by
    figure it read "grades a: 0, b: II to a: IV, b: III", each variant to be pieced together
    by hand. None when fewer than two figures differ or words stand between them (more than
    a joiner such as " to "): the legend then letters each figure that differs.

    >>> _varying_run(["grades 0 to IV: low", "grades II to III: low"], [("0", "II"), ("IV", "III")])
    'grades a: 0 to IV, b: II to III: low'
    """
    from brooker.report import figure_spans

    differ = [i for i, values in enumerate(figures) if len(set(values)) > 1]
    if len(differ) < 2:
        return None
    stretches = []
    for text in variants:
        spans = figure_spans(text)[differ[0] : differ[-1] + 1]
        if any(b[0] - a[1] > _JOINER_CHARS for a, b in itertools.pairwise(spans)):
            return None
        stretches.append(text[spans[0][0] : spans[-1][1]])
    spans = figure_spans(variants[0])
    start, end = spans[differ[0]][0], spans[differ[-1]][1]
    whole = ", ".join(f"{_letters(k)}: {s}" for k, s in enumerate(stretches))
    return variants[0][:start] + whole + variants[0][end:]


def _letters(k: int) -> str:
    """The letter of a note's ``k``-th variant: a to z, then aa, ab, ... (as spreadsheet
    columns), so that an archive's hundreds of variants never run out.

    >>> [_letters(k) for k in (0, 1, 25, 26, 27, 701, 702)]
    ['a', 'b', 'z', 'aa', 'ab', 'zz', 'aaa']
    """
    out = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        out = chr(ord("a") + r) + out
    return out


#: The batch table's columns: name and justification (each cell one side of a hip).
_TABLE_COLUMNS: tuple[tuple[str, Literal["left", "center", "right"]], ...] = (
    ("file", "left"), ("side", "center"), ("class", "center"), ("gap mm", "right"),
    ("borderline", "center"), ("weak call", "center"), ("prosthesis", "center"),
    ("notes", "left"),
)  # fmt: skip
#: The headers of a table too wide for its terminal, on two lines: a header of one long word
#: was cut to "border…", which named nothing, and held its column of "yes" and blanks as wide.
_NARROW_HEADERS = {"gap mm": "gap\nmm", "borderline": "border\nline", "prosthesis": "pros-\nthesis"}
#: The columns a table too wide for its terminal keeps when they are blank on every row (the
#: others are then left out, :func:`_print_table`).
_TABLE_ALWAYS = frozenset({"file", "side", "class", "notes"})
#: Rows (hips, and films with none) above which the batch table is laid out by
#: :func:`_print_plain_table` instead of by rich, which measures every cell: a table of an
#: archive of 60,000 films took rich about 70 s; rows longer than the terminal then wrap
#: where the terminal wraps them instead of folding within their column.
TABLE_RICH_MAX_ROWS = 2000

_Cell = tuple[str, str]  # text (through term()), rich style
#: After the class of a hip read on a limited analysis (its record's ``limited_by``), and the
#: line under the table that says so.
LIMITED_MARK = "*"
LIMITED_LEGEND = (
    f"{LIMITED_MARK} limited analysis: the bone segmentation missed (or took in) bone the class "
    "rests on (its notes say what)"
)


def _table_rows(
    shown: list[dict[str, Any]], numbers: _NoteNumbers, names: dict[str, str] | None = None
) -> list[list[_Cell]]:
    """The batch table's rows: one per hip, one for a file with no hip (a film not graded,
    or a file that could not be read); a film named as
    ``names`` gives it (:func:`_names_in_folder`), else as given."""
    rows: list[list[_Cell]] = []
    for rec in shown:
        # an empty path (grade film.dcm "") as messages name it, '""': a blank name is how a
        # film's second hip's row reads
        name = term(path_named(rec["file"]) if names is None else names[rec["file"]])
        hips = rec.get("hips") or []
        if not hips:
            notes = (term(numbers.refs(_notes(rec, None))), "yellow")
            # a file that could not be read says so in its class column: "-" is a film read
            # and not graded (ungradable), "error" one that could not be read at all
            unread = ("error", "red") if rec.get("status") == "error" else ("-", "dim")
            rows.append([(name, ""), ("", ""), unread, *[("", "")] * 4, notes])
            continue
        assumed = _sides_assumed(rec)
        for k, hip in enumerate(hips):
            cls = _class_text(hip)
            side = "R" if hip.get("side") == "right" else "L"
            span = hip.get("class_range")
            # a "0" that grades IV 2 mm away is no plain 0 (step 7): the class column says so,
            # in amber as on the overlay, where a reader scanning the classes looks; the legend
            # note alone was one of a dozen under the table
            cell: _Cell = (
                (f"{cls} to {span[1]}", "yellow")
                if isinstance(span, list) and len(span) == 2
                # graded about some nearby centres only: as unsure, in amber, and in words
                # too (colour alone is lost on a printout or a piped table)
                else (f"{cls} ({partly[0]}/{partly[1]})", "yellow")
                if (partly := _centres_graded(hip))
                else (cls, _CLASS_STYLE.get(cls, ""))
            )
            if _limited(hip):
                # read where the segmentation missed bone the class rests on: the overlay says
                # "limited analysis" in amber, the table said nothing but a note's number among
                # many (a radiologist's test of 2026-12-07)
                cell = (f"{cell[0]}{LIMITED_MARK}", "yellow")
            rows.append(
                [
                    (name if k == 0 else "", ""),
                    (f"{side}?", "yellow") if assumed else (side, ""),
                    cell,
                    (_hip_gap(hip), ""),
                    ("yes", "bold yellow") if hip.get("borderline") else ("", ""),
                    ("yes", "bold yellow") if hip.get("weak_call") else ("", ""),
                    ("yes" if hip.get("prosthesis") else "", ""),
                    (term(numbers.refs(_notes(rec, hip))), "dim"),
                ]
            )
    return rows


def _limited(hip: dict[str, Any]) -> bool:
    """A record's hip graded on a limited analysis (``limited_by``): its class is marked
    :data:`LIMITED_MARK` in the table."""
    return bool(hip.get("limited_by")) and hip.get("grade") is not None


def _natural_width(rows: list[list[_Cell]], columns: Sequence[str] | None = None) -> int:
    """How wide the table is with no cell folded: as rich lays it out (an edge of one blank
    each side, columns three apart), and as :func:`_print_plain_table` does; ``columns`` the
    headers (default: every column's)."""
    from rich.cells import cell_len

    names = [name for name, _ in _TABLE_COLUMNS] if columns is None else columns
    header = [(name, "") for name in names]
    widths = [max(cell_len(row[i][0]) for row in [header, *rows]) for i in range(len(header))]
    return sum(widths) + 3 * (len(widths) - 1) + 2


def _names_in_folder(files: list[str]) -> tuple[str, dict[str, str]]:
    """The folder every one of ``files`` is in (as they spell it: a common prefix of whole
    path components, never resolved), and each file's name from it on; ``("", {})`` when
    they share no folder but the root or the working folder.

    >>> _names_in_folder(["/a/b/c/x.dcm", "/a/b/d/y.dcm"])
    ('/a/b', {'/a/b/c/x.dcm': 'c/x.dcm', '/a/b/d/y.dcm': 'd/y.dcm'})
    >>> _names_in_folder(["/a/x.dcm", "/b/y.dcm"])
    ('', {})
    """
    parts = [f.split(os.sep) for f in files]
    common = 0
    folders = [p[:-1] for p in parts]  # a file's own name is never the folder
    while all(len(f) > common and f[common] == folders[0][common] for f in folders):
        common += 1
    folder = os.sep.join(parts[0][:common])
    if not folder.strip(os.sep):  # "", "/": nothing to take away
        return "", {}
    return folder, {f: os.sep.join(p[common:]) for f, p in zip(files, parts, strict=True)}


def _narrow_widths(rows: list[list[_Cell]], headers: list[str], width: int) -> list[int] | None:
    """The widths of the columns of a table too wide for a terminal ``width`` columns wide:
    each column as narrow as its longest word (a cell folds only between words), then what is
    left given to the file column up to its longest name (folded only when the names are
    wider than what the other columns leave), then to the notes, then to the other columns;
    None when the terminal is too narrow even for that (rich's own layout then, which cuts).

    rich's own layout of a table too wide shrinks the widest columns first, then every column
    evenly: at 80 columns it folded a path 8 characters a line and cut the headers
    ("border…") while the columns of "yes" and blanks kept their width."""
    from rich.cells import cell_len

    def longest_word(text: str) -> int:
        return max((cell_len(word) for word in text.split()), default=0)

    columns = [[header, *(row[i][0] for row in rows)] for i, header in enumerate(headers)]
    least = [max(1, *(longest_word(text) for text in column)) for column in columns]
    most = [max(cell_len(line) for text in col for line in text.split("\n")) for col in columns]
    room = width - 2 - 3 * (len(headers) - 1)
    file, cls, notes = 0, 2, len(headers) - 1
    # a class is never folded ("0 to" over "I*" read as two answers; a dozen columns at most)
    least[cls] = most[cls]
    # a name folds only where the rest leaves it no room (10 columns at least)
    least[file] = min(most[file], max(10, room - sum(least[1:])))
    left = room - sum(least)
    if left < 0:
        return None
    widths = list(least)
    for i in (file, notes, *range(1, notes)):
        more = min(left, most[i] - widths[i])
        widths[i] += more
        left -= more
    return widths


def _print_table(console: Console, records: list[dict[str, Any]]) -> None:
    """The batch table: a row per hip, each note written once under it (:class:`_NoteNumbers`).

    On a terminal too narrow for it (80 columns: a long path was folded 8 characters a line
    and the headers cut), the file column comes first: the files are named from the folder
    they share, said above the table (a flat folder's films by their own names), and the file
    column is never folded unless it alone is wider than the terminal; the headers of single
    long words are split on two lines; the notes' numbers fold instead. A terminal wide enough
    shows the table as it is, full paths and all; so does a file or a pipe (its console is
    10,000 columns wide, see below), which a script may read."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not records:
        return
    if len(records) == 1:
        # one film: its answer, or, for a file that could not be read, only the error line
        # stderr has already given (printed again here it would be said twice on a terminal)
        if records[0].get("status") != "error":
            _print_single(console, records[0])
        return
    # every file of the run has its row, the ones that could not be read too: a table saved
    # to a file (``> table.txt``) left them out, while the CSV and the records have them
    shown = records
    numbers = _NoteNumbers()
    for rec in shown:
        for hip in rec.get("hips") or [None]:
            numbers.add(_notes(rec, hip))
    rows = _table_rows(shown, numbers)
    narrow = console.is_terminal and _natural_width(rows) > console.width
    folder = ""
    if narrow:
        folder, names = _names_in_folder([rec["file"] for rec in shown])
        if folder:
            rows = _table_rows(shown, numbers, names)
            narrow = _natural_width(rows) > console.width
    head = [plain(f"files in {folder}{os.sep}", style="dim")] if folder else []
    columns = list(_TABLE_COLUMNS)
    if narrow:
        # columns blank on every row say nothing and took a fifth of 80 columns: left out,
        # and said so above the table (a radiologist's terminal, 2026-12-08)
        keep = [
            i
            for i, (name, _) in enumerate(columns)
            if name in _TABLE_ALWAYS or any(row[i][0] for row in rows)
        ]
        if len(keep) < len(columns):
            blank = ", ".join(columns[i][0] for i in range(len(columns)) if i not in keep)
            head.append(plain(f"blank for every hip, not shown: {blank}", style="dim"))
            columns = [columns[i] for i in keep]
            rows = [[row[i] for i in keep] for row in rows]
            narrow = _natural_width(rows, [name for name, _ in columns]) > console.width
    legend = [(term(line), "dim") for line in numbers.legend()]
    if any(_limited(h) for rec in shown for h in rec.get("hips") or ()):
        legend.insert(0, (LIMITED_LEGEND, "dim"))
    if len(rows) > TABLE_RICH_MAX_ROWS:
        if head:
            console.print(*head, sep="\n")
        _print_plain_table(console, rows, legend, columns)
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    headers = [_NARROW_HEADERS.get(name, name) if narrow else name for name, _ in columns]
    widths = _narrow_widths(rows, headers, console.width) if narrow else None
    for i, (header, (name, justify)) in enumerate(zip(headers, columns, strict=True)):
        fold = name in ("file", "notes")
        table.add_column(
            header,
            justify=justify,
            overflow="fold" if fold else "ellipsis",
            width=None if widths is None else widths[i],
        )
    for row in rows:
        table.add_row(*(Text(text, style=style) for text, style in row))
    notes = [Text(text, style=style) for text, style in legend]
    if console.is_terminal:
        console.print(*head, table, *notes, sep="\n")
        return
    # into a file or a pipe the table is as wide as its widest cell (the console is 10,000
    # columns there, so that no line is cut): every row would be padded out to it
    with console.capture() as captured:
        console.print(table, *notes, sep="\n")
    console.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def _print_plain_table(
    console: Console,
    rows: list[list[_Cell]],
    legend: list[_Cell],
    columns: Sequence[tuple[str, Literal["left", "center", "right"]]] = _TABLE_COLUMNS,
) -> None:
    """The batch table as rich draws it (a blank line, the header in bold over a rule,
    columns three spaces apart, a blank line, the notes' legend), laid out in one pass: each
    row on one line, however wide, trailing blanks cut."""
    from rich.cells import cell_len
    from rich.console import COLOR_SYSTEMS
    from rich.style import Style

    # as rich would: styled on a terminal that takes styles, without colours under NO_COLOR;
    # a legacy Windows console (rich's own calls there) and a dumb terminal get plain text
    system = None if not console.is_terminal or console.legacy_windows else console.color_system
    colour = COLOR_SYSTEMS.get(system) if system else None
    styles: dict[str, Style] = {}

    def styled(text: str, style: str) -> str:
        if colour is None or not (style and text):
            return text
        if style not in styles:
            parsed = Style.parse(style)
            styles[style] = parsed.without_color if console.no_color else parsed
        return styles[style].render(text, color_system=colour)

    header = [(name, "bold") for name, _ in columns]
    widths = [max(cell_len(row[i][0]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[_Cell]) -> str:
        cells = []
        for (text, style), width, (_, justify) in zip(row, widths, columns, strict=True):
            room = width - cell_len(text)
            left = 0 if justify == "left" else room if justify == "right" else room // 2
            cells.append(" " * left + styled(text, style) + " " * (room - left))
        return (" " + "   ".join(cells)).rstrip() + "\n"

    out = ["\n", line(header), " " + "\u2500" * (sum(widths) + 3 * (len(widths) - 1)) + "\n"]
    out += (line(row) for row in rows)
    out.append("\n")  # rich ends the table with a blank line, the legend's or its own
    out += (styled(text.rstrip(), style) + "\n" for text, style in legend)
    console.file.write("".join(out))


def _class_text(hip: dict[str, Any]) -> str:
    """The hip's Brooker class, or "not graded" for a hip found but not graded."""
    return "not graded" if hip.get("grade") is None else str(hip.get("brooker_class"))


def _print_single(console: Console, rec: dict[str, Any]) -> None:
    console.print(plain(rec["file"], style="bold"))
    hips = rec.get("hips") or []
    if hips:
        _print_single_hips(console, hips, _sides_assumed(rec), bool(rec.get("overlay")))
    else:  # ungradable or an error: why, and then, as for any film, its notes and overlay
        why = _as_read(_why_not(rec), bool(rec.get("overlay"))) or "no hip graded"
        _print_note(console, "  not graded: ", why, style="yellow")
    for note in rec.get("caveats") or []:
        _print_note(console, "  note: ", _as_read(note, bool(rec.get("overlay"))))
    spacing = rec.get("spacing")
    if isinstance(spacing, dict):
        row, col = spacing.get("row_mm"), spacing.get("col_mm")
        if isinstance(row, float | int) and isinstance(col, float | int):
            # every gap rests on it: its source in words, as under the overlay (the record
            # keeps the value)
            from brooker.models import spacing_said

            words = spacing_said(spacing.get("source"))
            _print_note(console, "  spacing: ", f"{row:.3f} x {col:.3f} mm {words}")
    if rec.get("overlay"):
        # an ungradable film's too: it shows what was looked for, and where
        console.print(plain(f"  overlay: {rec['overlay']}", style="dim"))


def _print_note(console: Console, head: str, text: str, style: str = "dim") -> None:
    """``head`` then ``text``; on a terminal, the lines ``text`` wraps onto begin under its
    first word (a hanging indent), so that a note's lines read as one note under its hip: at
    80 columns they began at the first column, under the hip lines. A pipe gets one line."""
    from rich.cells import cell_len

    indent = cell_len(head)
    if not console.is_terminal or indent > console.width // 2:
        console.print(plain(f"{head}{text}", style=style))
        return
    for k, part in enumerate(plain(text, style=style).wrap(console, console.width - indent)):
        part.rstrip()
        line = plain(head if k == 0 else " " * indent, style=style)
        line.append_text(part)
        console.print(line)


def _sides_assumed(rec: dict[str, Any]) -> bool:
    """Whether the record's sides rest on an assumption (:func:`brooker.models.sides_assumed`):
    the table writes them "R?", the single film's answer "right hip?", as the overlay does."""
    from brooker.models import sides_assumed

    return sides_assumed(rec.get("laterality_source"), len(rec.get("hips") or []))


def _print_single_hips(
    console: Console, hips: list[dict[str, Any]], assumed: bool = False, overlay: bool = True
) -> None:
    """The single-film answer's line per hip, with its notes (those every hip shares once);
    ``assumed``: the sides rest on an assumption (:func:`_sides_assumed`); ``overlay``: the
    film has one (else the notes do not send the reader to it)."""
    from rich.text import Text

    from brooker.notes import (
        centres_graded_words,
        class_range_words,
        gap_end_words,
        not_graded_in_few_words,
    )

    own = [
        [
            _as_read(str(n), overlay)
            for n in ([hip["not_graded"]] if hip.get("not_graded") else [])
            + list(hip.get("caveats") or [])
        ]
        for hip in hips
    ]
    # a caveat every hip carries (a head centred by the hip detector, on most native hips)
    # is said once, for both hips, not under each
    shared = list(
        dict.fromkeys(n for n in own[0] if len(hips) > 1 and all(n in ns for ns in own[1:]))
    )
    for hip, notes in zip(hips, own, strict=True):
        cls = _class_text(hip)
        line = Text("  ")
        side = f"{'right' if hip.get('side') == 'right' else 'left'} hip"
        if assumed:  # amber, as the overlay's "R?": no tag says which half is which
            line.append(f"{side}?".ljust(11), style="yellow")
        else:
            line.append(side.ljust(10))
        label = f"Brooker {cls}" if hip.get("grade") is not None else cls
        extras: list[tuple[str, str]] = []
        # why a hip is not graded, in the overlay label's few words: "right hip not graded"
        # alone sent the reader down to the notes (a radiologist's second look, 2026-12-08)
        why = not_graded_in_few_words(str(hip.get("not_graded") or ""))
        if hip.get("grade") is None and why:
            extras.append((why, "yellow"))
        if hip.get("gap_mm") is not None:
            gap = _hip_gap(hip)
            to = gap_end_words(hip.get("gap_to_head"))
            extras.append(("gap 0 mm (bridged)" if gap == BRIDGED else f"gap {gap} mm{to}", ""))
        # what makes the class uncertain in amber, as the table's "yes" and the overlay's
        # caveats: a plain tag after a green "Brooker 0" read as a sure 0
        warn = "bold yellow"
        if hip.get("borderline"):
            extras.append(("borderline", warn))
        if hip.get("weak_call"):
            extras.append(("weak call", warn))
        span = hip.get("class_range")
        lo_hi = tuple(span) if isinstance(span, list) and len(span) == 2 else ()
        shift = hip.get("center_uncertainty_mm")
        if lo_hi:
            extras.append((class_range_words(str(lo_hi[0]), str(lo_hi[1]), shift), warn))
        partly = _centres_graded(hip)
        if partly:
            extras.append((centres_graded_words(*partly, shift), warn))
        extras += [(str(limit), "") for limit in hip.get("limited_by") or []]
        if hip.get("prosthesis"):
            extras.append(("prosthesis", ""))
        # the class padded only when something follows it: no blanks at the line's end; a
        # class with a range about nearby centres in amber, as the table's class column
        style = "yellow" if lo_hi or partly else _CLASS_STYLE.get(cls, "yellow")
        line.append(label.ljust(12) if extras else label, style=style)
        for k, (tag, tag_style) in enumerate(extras):
            line.append(", " if k else "")
            line.append(tag, style=tag_style)
        console.print(line)
        for note in notes:
            if note not in shared:
                _print_note(console, "    note: ", note)
    for note in shared:
        _print_note(console, "  note (both hips): ", note)


def _print_summary(
    console: Console,
    records: list[dict[str, Any]],
    resumed: int,
    found: Any,
    results: Path,
    user_spacing: bool = False,
    *,
    answered: bool = True,
) -> None:
    """The run's counts, the files not graded with why, and hints. ``answered``: the single
    film's answer (or the table) was printed on standard output."""
    from rich.text import Text

    from brooker import batch

    c = batch.counts(records)
    line = Text(f"{len(records)} file(s)", style="bold")
    if resumed:
        line.append(f" ({resumed} from an earlier run)")
    if c["status"]:
        line.append(": ")
    status_style = {"ok": "green", "ungradable": "yellow", "error": "red"}
    line.append_text(
        Text(", ").join(
            Text(f"{n} {k}", style=status_style.get(k, "")) for k, n in c["status"].items()
        )
    )
    console.print(line)
    if c["class"]:
        cls = Text("hips by Brooker class: ")
        cls.append_text(
            Text(", ").join(
                Text(f"{k}: {n}", style=_CLASS_STYLE.get(k, "")) for k, n in c["class"].items()
            )
        )
        console.print(cls)
    # results{suffix}.jsonl is beside manifest{suffix}.json
    suffix = results.name[len("results") : -len(".jsonl")]
    manifest = results.with_name(f"manifest{suffix}.json")
    _print_skipped(console, found.skipped_files, manifest=f"{manifest} (inputs.{SKIPPED_KEY})")
    _print_dicomdirs(console, found.skipped_dicomdir)
    _print_run_folders(console, found.run_folders)
    _print_special(console, found.skipped_special)
    if len(records) > 1 or not answered:  # one film's answer says why its hip is not graded
        _print_hips_not_graded(console, records, results)
    failed = [r for r in records if r.get("status") != "ok"]
    if not failed:
        return
    if len(records) > 1 or not (answered or failed[0].get("status") == "error"):
        # one film's error line, or its answer, has said why already: listed again here it
        # was said twice, four lines for one bad file (a radiologist's test); with --json an
        # ungradable film's reason is said here only
        _print_not_graded(console, failed, results)
    from brooker.cli.hints import record_hint

    # how to mend them with the command's own options, once per kind of error (the library's
    # message says what is wrong only)
    hints: dict[str, list[str]] = {}
    for r in failed:
        if (h := record_hint(r, user_spacing)) is not None:
            hints.setdefault(h, []).append(path_named(r["file"]))
    for hint, files in hints.items():
        # which files it is for: after a zoo's 38 errors, "hint: the file looks cut short"
        # named none (a radiologist's test of 2026-12-07)
        console.print(plain(f"hint: {hint} ({_hint_for(files)})", style="yellow"), soft_wrap=True)


#: Files a ``hint:`` line names; more are counted.
HINT_FILES_NAMED = 3


def _hint_for(files: list[str]) -> str:
    """The files a hint is for: "for a.dcm", "for a.dcm, b.dcm and 5 more"."""
    named = files[:HINT_FILES_NAMED]
    if len(files) > len(named):
        return f"for {', '.join(named)} and {len(files) - len(named)} more"
    if len(named) > 1:
        return f"for {', '.join(named[:-1])} and {named[-1]}"
    return f"for {named[0]}"


def _print_not_graded(console: Console, failed: list[dict[str, Any]], results: Path) -> None:
    """The files not graded, each with why (the errors first when they are many)."""
    shown, rest = failed, []
    if len(failed) > NOT_GRADED_LISTED_MAX:
        # an archive's thousands of non-hip films would bury the summary: the errors first
        # (a broken file is what a reader can act on), then the ungradable, in input order
        ordered = sorted(failed, key=lambda r: r.get("status") != "error")
        shown, rest = ordered[:NOT_GRADED_LISTED], ordered[NOT_GRADED_LISTED:]
    lines = [
        f"{path_named(r['file'])}: {_why_not(r, code=False) or str(r.get('status'))}"
        for r in shown
    ]
    tail = f"{_not_listed(rest)}; every file's reason is in {results}" if rest else None
    _print_listed(console, f"{len(failed)} file(s) not graded:", lines, tail)


def _print_listed(console: Console, head: str, lines: list[str], tail: str | None) -> None:
    """A summary's list: ``head`` in bold, each of ``lines`` indented, and ``tail`` ("and 42
    more: ...") after them, in amber (the files, and the hips, not graded)."""
    from rich.text import Text

    console.print(Text(head, style="bold"))
    for line in lines:
        console.print(plain(f"  {line}", style="yellow"), soft_wrap=True)
    if tail is not None:
        console.print(plain(f"  and {tail}", style="yellow"), soft_wrap=True)


def _centres_graded(hip: dict[str, Any]) -> tuple[int, int] | None:
    """A record's hip graded about only some of the nearby centres (step 7): (graded,
    tried); None when about all (or a record written before ``centres_graded``)."""
    from brooker.models import centres_graded_in

    return centres_graded_in(hip)


def _print_hips_not_graded(
    console: Console, records: list[dict[str, Any]], results: Path
) -> None:
    """The hips of films graded that are not graded themselves (a spur seen with no femur or
    no opposing bone to measure to), each with why: counted in "hips by Brooker class" only,
    a reader skimming the summary missed a hip with possible heterotopic bone to check by eye
    (a radiologist's test of 2026-12-07)."""
    hips = [
        (r, hip)
        for r in records
        if r.get("status") == "ok"
        for hip in r.get("hips") or ()
        if hip.get("grade") is None
    ]
    if not hips:
        return
    shown = hips if len(hips) <= NOT_GRADED_LISTED_MAX else hips[:NOT_GRADED_LISTED]
    lines = []
    for r, hip in shown:
        # "L?" as the table and the overlay write a side that rests on an assumption
        side = ("R" if hip.get("side") == "right" else "L") + ("?" if _sides_assumed(r) else "")
        lines.append(f"{path_named(r['file'])} {side}: {hip.get('not_graded') or 'not graded'}")
    more = len(hips) - len(shown)
    tail = f"{more} more; every hip's reason is in {results}" if more else None
    _print_listed(console, f"{len(hips)} hip(s) not graded:", lines, tail)


#: Files not graded that the summary lists one by one; over this many it lists
#: ``NOT_GRADED_LISTED`` of them and counts the rest.
NOT_GRADED_LISTED_MAX = 50
NOT_GRADED_LISTED = 20


def _not_listed(rest: list[dict[str, Any]]) -> str:
    """"813 more: 800 ungradable, 13 errors (unreadable 10, not_found 3)" for the records of
    films not graded that the summary does not list."""
    ungradable = sum(r.get("status") != "error" for r in rest)
    codes = Counter(
        str((r.get("error") or {}).get("code")) for r in rest if r.get("status") == "error"
    )
    parts = [f"{ungradable} ungradable"] if ungradable else []
    if codes:
        n = sum(codes.values())
        each = ", ".join(f"{code} {k}" for code, k in codes.most_common())
        parts.append(f"{n} error{'s' if n != 1 else ''} ({each})")
    return f"{len(rest)} more: {', '.join(parts)}"


#: Skipped files the summary names; the rest are counted (every one is in the manifest).
SKIPPED_LISTED = 5
#: The manifest's list of every skipped file, under ``inputs``.
SKIPPED_KEY = "skipped_non_dicom_files"


def _print_skipped(console: Console, skipped: tuple[str, ...], manifest: str | None) -> None:
    """Name the files found in folders and skipped (neither DICOM nor an image by content,
    nor named like a film: :func:`brooker.batch.discover`), the first
    :data:`SKIPPED_LISTED`, then how many more and where every one is named (``manifest``;
    None when no manifest is written). A count alone hid which files they were: a film that
    was not one could not be told from a readme."""
    if not skipped:
        return
    console.print(
        f"skipped {len(skipped)} file(s) in the folders that are neither DICOM nor "
        "PNG/JPEG/TIFF:",
        soft_wrap=True,
    )
    for p in skipped[:SKIPPED_LISTED]:
        console.print(plain(f"  {p}"), soft_wrap=True)
    more = len(skipped) - SKIPPED_LISTED
    if more > 0:
        where = f" (every one in {manifest})" if manifest else ""
        console.print(plain(f"  ... and {more} more{where}"), soft_wrap=True)


def _print_dicomdirs(console: Console, n: int) -> None:
    if n:
        console.print(
            f"skipped {n} DICOMDIR file(s): the index of a media folder, not an image (the "
            "images it lists are graded where they were found)"
        )


def _print_special(console: Console, special: tuple[str, ...]) -> None:
    """Name what was found in folders but is not a regular file (never opened)."""
    if not special:
        return
    console.print(
        f"skipped {len(special)} item(s) in the folders that are not regular files "
        "(FIFOs, devices, sockets, dangling links; never opened):",
        style="yellow",
    )
    for p in special[:20]:
        console.print(plain(f"  {p}", style="yellow"), soft_wrap=True)
    if len(special) > 20:
        console.print(f"  ... and {len(special) - 20} more", style="yellow")


class Terminated(KeyboardInterrupt):
    """SIGTERM received while ``brooker grade`` runs, raised in its main thread
    (:func:`_signals_interrupt`). A ``KeyboardInterrupt``, so that every step of the run
    that Ctrl-C stops cleanly (the workers, the results file, the manifest, a Dask client)
    stops the same way; only the message and the exit code (143) differ."""


class HungUp(KeyboardInterrupt):
    """SIGHUP received while ``brooker grade`` runs (the terminal it runs in closed: a window
    shut, an ssh connection dropped), raised as :class:`Terminated` is; exit code 129."""


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP stop it as Ctrl-C does: raised as
    :class:`Terminated` and :class:`HungUp`.

    SIGTERM is what a cluster scheduler (SLURM, Kubernetes, systemd) sends before SIGKILL, and
    what ``kill PID`` sends; SIGHUP is what a run in the foreground gets when its terminal
    closes (a window shut, an ssh connection dropped: the shell passes it on to the whole
    job). By default either ended the process at once, leaving the manifest "running" with no
    ``finished_at``. The design is the one of Ctrl-C, end to end, with no second path to keep
    in step:

    - here, in the batch process, the signal raises an exception in the main thread, so the
      ``finally`` blocks that Ctrl-C runs (the workers stopped by
      :func:`brooker.batch.grade_many`, the manifest written "interrupted") run as they are.
      Only the first of these signals raises: one sent again while the run is stopping (a
      second ``kill``, the hang-up that follows) does not cut that short; SIGKILL remains the
      hard stop.
    - the workers keep the default action of both (they ignore only Ctrl-C): the batch process
      stops them itself (a busy one killed, an idle one told to end), and multiprocessing
      stops daemonic children left at exit with SIGTERM, which they must not ignore. A
      scheduler (or a shell) that signals the whole job kills them too, possibly a moment
      before this process gets its own signal: the batch process waits a little before it
      records such a loss (:func:`brooker.batch._maybe_stopping_too`), so the files they were
      grading get no ``internal_error`` record and are graded by ``--resume``.
    - a terminal that hung up fails every write to it (EIO), and a reader in the same job
      (``| tee``) is gone with it: the progress bar's last drawing as the run stops may fail.
      An ``OSError`` that escapes the block while a stop unwinds is that stop, not a bug, and
      is raised as it (:func:`_stop_behind`); the closing line and the flush at exit do not
      fail either (:func:`_stopped`).

    Installed only here, around the command (importing the library changes no signal
    handler), only in the main thread (the only one Python delivers signals to, and
    ``signal.signal`` refuses any other), and not for a signal that is ignored (a launcher that
    ignores it means it: ``nohup`` ignores SIGHUP so that the run outlives its terminal, and it
    does) or has a handler not set from Python (it could not be put back). The handlers found
    are put back afterwards."""
    import signal
    import threading

    from brooker.batch import stop_signals

    stops: dict[int, type[KeyboardInterrupt]] = {
        s: Terminated if s == signal.SIGTERM else HungUp for s in stop_signals()
    }
    raised = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise stops[signum]

    found: dict[int, Any] = {}
    try:
        # installed inside the try: a signal between two installs is raised here, and the
        # handlers already installed are put back
        if threading.current_thread() is threading.main_thread():
            for signum in stops:
                previous = signal.getsignal(signum)
                if previous is not None and previous != signal.SIG_IGN:
                    found[signum] = previous
                    signal.signal(signum, handler)
        yield
    except OSError as exc:
        stop = _stop_behind(exc)
        if stop is None:
            raise
        raise type(stop)() from exc
    finally:
        # the block is over: a signal now, before every handler is put back, raises nothing
        # (it would escape this finally and leave a handler that swallows later signals)
        raised = True
        for signum, previous in found.items():
            signal.signal(signum, previous)


def _stop_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The interruption (Ctrl-C, SIGTERM, SIGHUP) that was unwinding when ``exc`` was raised,
    if any: a write that failed as the run stopped (its terminal hung up, its reader gone)
    replaces the interruption as the exception in flight, which stays its ``__context__``."""
    seen: set[int] = set()
    behind = exc.__context__
    while behind is not None and id(behind) not in seen:
        if isinstance(behind, KeyboardInterrupt):
            return behind
        seen.add(id(behind))
        behind = behind.__context__
    return None


def _failure(exc: Exception) -> dict[str, str]:
    """The manifest's ``error`` of a run that ``exc`` ended: a brooker error's code and message
    (an :class:`~brooker.errors.OutputError`: a full disk, permissions), else
    ``internal_error`` (a bug, its traceback in ``errors.log``) with the exception's type and
    message on one line."""
    from brooker.errors import BrookerError

    if isinstance(exc, BrookerError):
        return {"code": exc.code, "message": exc.message}
    return {"code": "internal_error", "message": " ".join(f"{type(exc).__name__}: {exc}".split())}


def _unwritten(records: list[dict[str, Any]]) -> dict[str, str] | None:
    """The manifest's ``error`` of a run some of whose films' outputs could not be written
    (their records' ``disk_full`` / ``output_not_writable``): the first one's code and message,
    and how many; None when every output was written."""
    from brooker import batch

    errors = [
        r["error"]
        for r in records
        if (r.get("error") or {}).get("code") in batch.OUTPUT_ERROR_CODES
    ]
    if not errors:
        return None
    first = errors[0]
    more = f" (and {len(errors) - 1} more file(s))" if len(errors) > 1 else ""
    return {"code": str(first["code"]), "message": f"{first.get('message', '')}{more}"}


def _stopped(console: Console, message: str, code: int) -> NoReturn:
    """End a run stopped by Ctrl-C, SIGTERM or SIGHUP: say so on ``console`` and exit with
    ``code``. Its terminal may be gone (SIGHUP), or its reader: the line is then lost, not an
    error, and standard output or error that cannot take what it still holds is pointed at the
    null device, so that Python's flush at exit does not fail (it would exit 120 instead).
    That redirection is of the process's own descriptors 1 and 2, for good: meant for the
    command line's own process (under typer's test runner, or any stream without a
    descriptor, nothing is redirected)."""
    with contextlib.suppress(OSError):
        # one line, however long (it names how far the run got): the terminal wraps it
        console.print(message, style="red", soft_wrap=True)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # failed, closed (`>&-`: None)
            with contextlib.suppress(OSError, ValueError, AttributeError):
                _point_at_null(stream.fileno())
    raise typer.Exit(code) from None


class _RunState:
    """What a stopped run's last line says (:func:`_stop_line`), filled in by :func:`_run` as
    it goes: how many inputs it has (``total``, once found), the results file once it counts
    this run's films (``results``: emptied, or its done records kept by ``--resume``), and
    whether ``--resume`` continues it (not on a Dask cluster, which does not resume)."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.results: Path | None = None
        self.resume = False
        self.dask = False
        #: the review page the run was asked for (``--report``), which a stopped run does not
        #: write: its last line says how to see the films done so far
        self.report_of: Path | None = None
        #: records in ``results`` of files not among this run's inputs (``--resume`` keeps
        #: them): not counted as this run's films graded
        self.others = 0


def _graded_so_far(results: Path) -> int:
    """The records in ``results``: its whole lines (a line cut by the stop is no record, and
    ``--resume`` drops it). Counted, not parsed: 60,000 records take a few tens of ms."""
    n = 0
    try:
        with open(results, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                n += chunk.count(b"\n")
    except OSError:
        return -1
    return n


def _stop_line(head: str, state: _RunState) -> str:
    """The last line of a stopped run: ``head`` ("interrupted", "stopped by SIGTERM"), how far
    it got and how to go on. "interrupted" alone left the reader of a long run guessing
    whether anything was kept and what to type next. The command line is not repeated (it
    can be long, and hold a path with a patient's name in it): "the same command" is; only
    ``--out``, the user's own folder, for the review page a ``--report`` run did not write."""
    if state.dask:
        # no --resume on a cluster: the films are graded again
        return f"{head}; to grade the files, run the same command again"
    if state.results is None or state.total is None:
        # stopped before this run counted any film (inputs being found, an earlier run's
        # overlays being removed, a resumed run's films being hashed): the same command
        # again takes up where it was, with or without --resume
        return f"{head} before any file was graded; to go on, run the same command again"
    done = _graded_so_far(state.results)
    done = done - state.others if done >= 0 else done
    so_far = f"{done} of {state.total} file(s) done" if done >= 0 else "the records so far kept"
    # --report's page is written at the end: a stopped run wrote none and said nothing of it
    # (a radiologist's test of 2026-12-07)
    page = ""
    if state.report_of is not None and done != 0:
        # the folder as the user named it (it is theirs, as in the summary's paths), made
        # printable, and not read as an option
        folder = str(state.report_of)
        folder = f"./{folder}" if folder.startswith("-") else folder
        page = f"; `brooker report {term(shlex.quote(folder))}` shows the files done so far"
    if state.resume:
        return f"{head}: {so_far}; to go on, run the same command again{page}"
    return f"{head}: {so_far}; to go on, run the same command with --resume{page}"


def _error_line(rec: dict[str, Any]) -> str:
    err = rec.get("error") or {}
    msg = str(err.get("message") or "")
    if not msg.startswith(path_named(rec["file"])):
        msg = f"{path_named(rec['file'])}: {msg}"
    code = err.get("code")
    return term(f"error: {msg}" + (f" [{code}]" if code else ""))


@app.command("grade", cls=BareHelpCommand)
def grade(
    ctx: typer.Context,
    paths: Annotated[
        # strings, not Path: Path("") is the working folder, and an empty argument (`grade
        # "$DIR"` with DIR unset) must get its own `not_found` record, not grade the folder.
        # An unreadable file gets its own `unreadable` record, not a usage error for all.
        list[str] | None,
        typer.Argument(
            help="DICOM, PNG, JPEG or TIFF files and folders (searched by content).",
            # the name the usage line and "give at least one PATH" use (typer wrote "paths")
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", metavar="", help="Print one JSON record per input per line on stdout."
        ),
    ] = False,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            metavar="FILE",
            help="Also write one row per hip to this CSV file.",
            parser=path_parser(dir_okay=False),
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Folder for overlays, results.jsonl and manifest.json.",
            parser=path_parser(),
        ),
    ] = Path("brooker-out"),
    no_overlay: Annotated[
        bool, typer.Option("--no-overlay", metavar="", help="Do not write overlay PNGs.")
    ] = False,
    overlay_crops: Annotated[
        bool,
        typer.Option("--overlay-crops", metavar="", help="Also write a zoomed crop of each hip."),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            help="Worker processes (default: the cores this process may use: a cluster job's "
            "allotment, not the whole machine).",
        ),
    ] = None,
    recursive: Annotated[
        bool,
        typer.Option(
            "--recursive/--no-recursive",
            metavar="",
            help="Search sub-folders of folder arguments.",
        ),
    ] = True,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            metavar="",
            help="Skip inputs already in OUT/results.jsonl with the same content.",
        ),
    ] = False,
    files_from: Annotated[
        str | None,
        typer.Option(
            "--files-from", metavar="FILE|-", help="Read more paths, one per line ('-': stdin)."
        ),
    ] = None,
    pixel_spacing: Annotated[
        str | None,
        typer.Option(
            "--pixel-spacing",
            metavar="ROW,COL",
            help="Pixel spacing at the patient in mm (ROW,COL, or one value for square "
            "pixels); overrides every DICOM tag.",
        ),
    ] = None,
    magnification: Annotated[
        float | None,
        typer.Option(
            "--magnification",
            metavar="F",
            help="Magnification factor dividing (0018,1164) Imager Pixel Spacing.",
        ),
    ] = None,
    ball_mm: Annotated[
        float | None,
        typer.Option(
            "--ball-mm",
            metavar="D",
            help="Calibrate the spacing from the calibration ball of diameter D mm on each film.",
        ),
    ] = None,
    head_mm: Annotated[
        float | None,
        typer.Option(
            "--head-mm",
            metavar="D",
            help="Calibrate the spacing from the prosthetic head(s) of diameter D mm.",
        ),
    ] = None,
    estimate_spacing: Annotated[
        bool,
        typer.Option(
            "--estimate-spacing",
            metavar="",
            # ±: the source's uncertainty (config.DEFAULT_SPACING_UNCERTAINTY, not imported
            # here so that --help stays light), not the 12 % of the heads' sizes alone
            help="Films with no spacing: estimate it from the native femoral heads "
            "(46 mm assumed, ±20 %).",
        ),
    ] = False,
    flipped: Annotated[
        bool,
        typer.Option(
            "--flipped",
            metavar="",
            help="The patient's right is on the image's right (for image files, which carry "
            "no orientation; on a DICOM it overrides the file's tags, with a caveat; on a film "
            "stored turned a quarter, the right of the film turned upright).",
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0, metavar="SECONDS", help="Time limit per file; 0: none."),
    ] = DEFAULT_TIMEOUT_S,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", metavar="", help="No progress bar and no summary.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Grade only shard I of N (I from 0 to N-1), split by a stable hash of the path.",
        ),
    ] = None,
    dask_scheduler: Annotated[
        str | None,
        typer.Option(
            "--dask-scheduler",
            metavar="ADDRESS",
            # typer renders help as rich markup: "\\[" keeps "[dask]" from being read as a tag
            help="Grade on a Dask cluster (e.g. tcp://host:8786); needs brooker\\[dask].",
        ),
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            metavar="",
            help="Also write OUT/report.html, a review page of the run's films.",
        ),
    ] = False,
    judges: Annotated[
        Path | None,
        typer.Option(
            "--judges",
            metavar="DIR",
            parser=path_parser(file_okay=False),
            # no word longer than the help column of an 80-column terminal, or it is cut
            help="Learned judges to use instead of the shipped ones: a folder with "
            "ho_pixels.npz and ho_fragments.npz, as benchmarks' train_ho_pixels.py writes.",
        ),
    ] = None,
) -> None:
    """Grade every hip on DICOM, PNG, JPEG or TIFF radiographs: files, folders, a list of paths."""
    from brooker.errors import ClusterLostError, OutputError
    from brooker.models import ExitCode

    err_console = make_console(stderr=True)
    if not paths and files_from is None:
        raise typer.BadParameter("give at least one PATH or --files-from", param_hint="PATH")
    if files_from == "":
        raise typer.BadParameter(EMPTY_PATH, param_hint="--files-from")
    spacing = parse_spacing(pixel_spacing)
    shard_ix: tuple[int, int] | None = None
    if shard is not None:
        from brooker.batch import parse_shard

        try:
            shard_ix = parse_shard(shard)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--shard") from None
    if dask_scheduler is not None and resume:
        raise typer.BadParameter("not supported with --dask-scheduler", param_hint="--resume")
    if dask_scheduler is not None and timeout and _given(ctx, "timeout"):
        # it was taken and not applied: a file on Dask runs in the worker's own process
        # (--timeout 0, no limit, is what Dask does)
        raise typer.BadParameter(
            "not supported with --dask-scheduler: a file runs in the Dask worker's own "
            "process, with no per-file time limit",
            param_hint="--timeout",
        )
    if shard_ix is not None and csv_file is not None:
        csv_file = _shard_csv(csv_file, shard_ix, err_console)
    config = analysis_config(
        spacing=spacing,
        magnification=magnification,
        ball_mm=ball_mm,
        head_mm=head_mm,
        estimate_spacing=estimate_spacing,
        flipped=flipped,
        # absolute: worker processes (Dask's too) may run elsewhere in the file system
        judges=None if judges is None else str(judges.resolve()),
    )
    options = {
        "paths": [str(p) for p in paths or []],
        "files_from": files_from,
        "json": json_out,
        "csv": None if csv_file is None else str(csv_file),
        "out": str(out),
        "overlay": not no_overlay,
        "overlay_crops": overlay_crops,
        "workers": workers,
        "recursive": recursive,
        "resume": resume,
        "pixel_spacing": list(spacing) if spacing else None,
        "magnification": magnification,
        "ball_mm": ball_mm,
        "head_mm": head_mm,
        "estimate_spacing": estimate_spacing,
        "flipped": flipped,
        # the limit that applies: none on a Dask cluster (it said the default, 300)
        "timeout_s": None if dask_scheduler is not None else timeout,
        # as parsed ("1/3" for " 1/3"): spaces around a number are dropped, as click drops
        # them from --workers " 2", and each shard's manifest spells its shard alike
        "shard": None if shard_ix is None else f"{shard_ix[0]}/{shard_ix[1]}",
        "dask_scheduler": dask_scheduler,
        "report": report,
        "judges": config.judges,
        "judges_sha256": _judges_sha256(config.judges),
    }
    from brooker.batch import usable_cpus

    run_state = _RunState()
    try:
        with _signals_interrupt():
            code = _run(
                paths=[str(p) for p in paths or []],
                files_from=files_from,
                config=config,
                options=options,
                json_out=json_out,
                csv_file=csv_file,
                out=out,
                overlay=not no_overlay,
                overlay_crops=overlay_crops,
                workers=workers or usable_cpus(),
                recursive=recursive,
                resume=resume,
                timeout=timeout,
                quiet=quiet,
                shard=shard_ix,
                dask_scheduler=dask_scheduler,
                err_console=err_console,
                report=report,
                run_state=run_state,
            )
    except HungUp:
        _stopped(err_console, _stop_line("stopped by SIGHUP", run_state), int(ExitCode.HUNG_UP))
    except Terminated:
        line = _stop_line("stopped by SIGTERM", run_state)
        _stopped(err_console, line, int(ExitCode.TERMINATED))
    except KeyboardInterrupt:
        _stopped(err_console, _stop_line("interrupted", run_state), int(ExitCode.INTERRUPTED))
    except BrokenPipeError:
        # the reader of stdout went away (`--json | head`): not a bug; the run stops as an
        # interrupted one does (its records and manifest written), and nothing more reaches it
        _drop_stdout()
        # how far it got and how to go on, as any stopped run says (it said "stopped" alone)
        line = _stop_line("stopped: standard output was closed by its reader", run_state)
        err_console.print(plain(line, style="red"), soft_wrap=True)
        raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
    except (typer.Exit, typer.BadParameter):
        raise
    except OutputError as err:  # the environment (disk full, permissions), not a bug
        err_console.print(plain(f"error: {err.message} [{err.code}]", style="red"), soft_wrap=True)
        raise typer.Exit(int(ExitCode.OUTPUT_ERROR)) from None
    except ClusterLostError as err:  # the environment too: the Dask cluster went away
        err_console.print(plain(f"error: {err.message} [{err.code}]", style="red"), soft_wrap=True)
        raise typer.Exit(int(ExitCode.CLUSTER_LOST)) from None
    except Exception as exc:
        note_bug()
        log = _log_internal(out)
        where = f" (traceback in {log})" if log else ""
        err_console.print(
            plain(f"internal error: {type(exc).__name__}: {exc}{where}", style="red"),
            soft_wrap=True,
        )
        raise typer.Exit(int(ExitCode.INTERNAL_ERROR)) from None
    finally:
        _unlock_out()
    raise typer.Exit(code)


#: The ``--out`` locks this process holds (:func:`_lock_out`): their keys.
_OUT_LOCKS: list[str | None] = []


def _lock_out(results_path: Path) -> None:
    """Hold the exclusive lock of ``results_path`` until the command ends (:func:`_unlock_out`;
    :func:`brooker.batch.lock_results`, which ``grade_many`` takes too, so that a script's run
    into the same folder is refused as another command's is): a second run writing the same
    results file at the same time (a cluster job requeued while the first still runs) is a
    usage error, not films graded twice and records appended to a file the other run
    replaced."""
    from brooker import batch
    from brooker.errors import ConfigError

    try:
        _OUT_LOCKS.append(batch.lock_results(results_path))
    except ConfigError:
        raise typer.BadParameter(
            term(
                f"another brooker run is writing {results_path} now; wait for it to end, or "
                "grade into another --out"
            ),
            param_hint="--out",
        ) from None


def _unlock_out() -> None:
    """Release the locks :func:`_lock_out` took."""
    from brooker import batch

    while _OUT_LOCKS:
        batch.unlock_results(_OUT_LOCKS.pop())


class _Counted:
    """A text stream that counts the characters written through it (a byte is at least one)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _pipe_capacity(stream: Any) -> int:
    """How many bytes the pipe ``stream`` writes to holds (F_GETPIPE_SZ; Linux's 64 KiB
    default where it cannot be asked)."""
    try:
        import fcntl

        return int(fcntl.fcntl(stream.fileno(), 1032))  # F_GETPIPE_SZ
    except (AttributeError, ImportError, OSError, ValueError):
        return 1 << 16


def _reader_gone(stream: Any) -> bool:
    """Whether ``stream`` is a pipe whose reader has gone (``| head`` that has read its
    fill). A table larger than the pipe's buffer was written short, without an error (a user
    test of 2026-12-07: Python's flush took the short write of 64 KiB for the whole), so the
    run said nothing of the table it cut; the pipe's write end then polls as an error."""
    try:
        import select

        poll = select.poll()
        poll.register(stream.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no descriptor, no poll (Windows)
        return False


def _drop_stdout() -> None:
    """Point standard output at the null device, so that flushing what is buffered for a reader
    that went away raises nothing more on the way out."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file (a test runner's capture)
    _point_at_null(fd)


def _point_at_null(fd: int) -> None:
    """Make the descriptor ``fd`` the null device: what is written to it goes nowhere."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


#: The options that change a record: a resumed run must give them as the run it continues did
#: (the judges by their files' hashes, so a folder moved or copied is the same judges).
GRADING_OPTIONS = (
    "pixel_spacing",
    "magnification",
    "ball_mm",
    "head_mm",
    "estimate_spacing",
    "flipped",
    "judges_sha256",
)

def _as_given(key: str, value: Any) -> str:
    """A grading option of a manifest as it is given on the command line: ``--pixel-spacing
    0.2,0.2``, ``--flipped``, ``no --ball-mm``. ``repr`` for what no option could give (a
    manifest edited by hand)."""
    flag = "--" + key.replace("_", "-")
    if value is None:
        return f"{flag} not recorded" if key in ("estimate_spacing", "flipped") else f"no {flag}"
    if value is False:
        return f"no {flag}"
    if value is True:
        return flag
    if isinstance(value, int | float):
        return f"{flag} {value!r}"  # every digit: two values never print alike
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        return f"{flag} {','.join(repr(v) for v in value)}"
    return f"{flag} {value!r}"


#: The options that decide which pictures a record points to, with the flag that sets each and
#: the value the flag gives: a resumed run must give them as the run it continues did, or some
#: records would have an overlay (or hip crops) and others not.
OVERLAY_OPTIONS = {"overlay": ("--no-overlay", False), "overlay_crops": ("--overlay-crops", True)}


def _check_resumed_options(
    manifest_path: Path, results_path: Path, options: dict[str, Any]
) -> ResultsSnapshot | None:
    """``--resume`` keeps the records of the run it continues: refuse (a usage error) when
    that run was graded by another brooker version (its manifest or any of its records says
    so) or, as its manifest says, with other :data:`GRADING_OPTIONS` or
    :data:`OVERLAY_OPTIONS`, so that one results file never mixes two analyses, nor records
    with and without overlays. Options are not checked without a readable manifest.

    Returns the results file as read for its versions
    (:func:`brooker.batch.check_resume_version`), for ``load_resume_state`` to use while the
    file is unchanged rather than read it again."""
    import json

    from brooker._version import __version__
    from brooker.batch import check_resume_version
    from brooker.errors import ConfigError

    try:
        snapshot = check_resume_version(results_path, hint="grade into another --out")
    except ConfigError as exc:
        raise typer.BadParameter(term(exc.message), param_hint="--resume") from None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        earlier = manifest.get("options") or {}
        version = manifest.get("version")
    except (OSError, ValueError, AttributeError):
        return snapshot
    if version is not None and version != __version__:
        raise typer.BadParameter(
            term(
                f"{manifest_path} says its run was graded by brooker {version!r}, this is "
                f"{__version__!r}: resume it with that version, or grade into another --out"
            ),
            param_hint="--resume",
        )
    if not isinstance(earlier, dict):
        return snapshot
    for key in GRADING_OPTIONS:
        before, now = earlier.get(key), options.get(key)
        if before != now:
            what = (
                "other judges (their files' SHA-256 differ: another --judges folder, or the "
                "shipped judges of another build)"
                if key == "judges_sha256"
                else f"{_as_given(key, before)}, this one with {_as_given(key, now)}"
            )
            raise typer.BadParameter(
                term(
                    f"{manifest_path} says its run was graded with {what}: give the same "
                    "options to resume it, or another --out"
                ),
                param_hint="--resume",
            )
    for key, (flag, given) in OVERLAY_OPTIONS.items():
        before, now = earlier.get(key), options.get(key)
        if isinstance(before, bool) and before != now:
            raise typer.BadParameter(
                term(
                    f"{manifest_path} says its run was made "
                    f"{'with' if before == given else 'without'} {flag}, this one "
                    f"{'with' if now == given else 'without'} it: give the same options to "
                    "resume it, or another --out"
                ),
                param_hint="--resume",
            )
    return snapshot


def _judges_sha256(folder: str | None) -> dict[str, str]:
    """SHA-256 of each file of the judges that grade: a ``--judges`` folder's, else the shipped
    ones (so that ``--resume`` also tells shipped weights of another build apart)."""
    from brooker.batch import file_sha256
    from brooker.config import JUDGE_FILES, shipped_file

    if folder is not None:
        return {name: file_sha256(Path(folder) / name) for name in JUDGE_FILES}
    out = {}
    for name in JUDGE_FILES:
        with shipped_file(name) as path:
            out[name] = file_sha256(path)
    return out


def _log_internal(out: Path) -> str | None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        log = out / "errors.log"
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"--- brooker grade\n{traceback.format_exc()}\n")
        return str(log)
    except OSError:
        return None


def _shard_csv(csv_file: Path, shard: tuple[int, int], console: Console) -> Path:
    """The ``--csv`` of shard ``shard``: named as its results are (``grades.csv`` ->
    ``grades.shard-I-of-N.csv``), so that the shards of a job array, given one command line,
    do not each replace the one file (the last shard's rows alone were left). A stream (a
    descriptor, a FIFO) is written as it is, and a folder is refused as a folder. Said on
    stderr, also with ``--quiet`` (a job array's scripts read the file by its name)."""
    from brooker.atomic import is_stream
    from brooker.batch import shard_suffix

    if str(csv_file) == "-" or is_stream(csv_file) or csv_file.is_dir():
        return csv_file
    own = csv_file.with_name(f"{csv_file.stem}{shard_suffix(shard)}{csv_file.suffix}")
    console.print(
        plain(f"--csv with --shard {shard[0]}/{shard[1]}: this shard's rows go to {own}"),
        style="yellow",
        soft_wrap=True,
    )
    return own


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and the folders above it that do not exist yet, as absolute paths spelt as
    given (``x/../y`` makes ``x`` too): what creating it makes."""
    made = []
    whole = folder if folder.is_absolute() else Path.cwd() / folder
    for f in (whole, *whole.parents):
        if os.path.lexists(f):
            break
        made.append(f)
    return made


def _unmake(made: list[Path]) -> None:
    """Remove the folders of ``made`` (:func:`_missing_folders`) that are empty, deepest
    first: each is tried (one that holds something, another output or a file someone put
    there meanwhile, stays), never a folder that was there before the run."""
    for folder in sorted(set(made), key=lambda f: len(f.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _check_outputs(out: Path, csv_file: Path | None, results_path: Path, resume: bool) -> None:
    """Make sure every output can be written before any work (exit 5 otherwise).

    ``--out`` must be (or become) a folder where a file can be created; with ``--resume`` the
    existing results file must open for appending; ``--csv`` must not be a folder and its
    folder must take a new file (the CSV is written atomically, through a temporary file).

    Raises
    ------
    OutputError
    """
    import tempfile

    from brooker.atomic import is_stream
    from brooker.errors import OutputError, output_error

    def probe(folder: Path, label: str) -> None:
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{label} is not a folder", str(folder))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".brooker-probe-", dir=folder)
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            raise output_error(exc, str(folder)) from None

    if csv_file is not None:  # a usage error: before --out is created
        _check_csv_descriptor(csv_file)
        if not is_stream(csv_file) and not os.path.lexists(csv_file):
            # not there yet: --out (or a folder above it) would make it a folder, and the CSV
            # then fail as one (exit 5; an existing folder is typer's own usage error)
            real, made = os.path.realpath(csv_file), os.path.realpath(out)
            if made == real or made.startswith(os.path.join(real, "")):
                raise typer.BadParameter(
                    term(f"{csv_file} is the --out folder or one above it: --csv names a file"),
                    param_hint="--csv",
                )
    probe(out, "--out")
    if resume and results_path.exists():
        try:
            os.close(os.open(results_path, os.O_WRONLY | os.O_APPEND))
        except OSError as exc:
            raise output_error(exc, str(results_path)) from None
    if csv_file is not None and not is_stream(csv_file):  # a stream is written as it is
        if csv_file.is_dir():
            raise OutputError("--csv names a folder, not a file", str(csv_file))
        # the folder the file lands in: through a link, its target's
        probe(Path(os.path.realpath(csv_file)).parent, "the --csv file's folder")


def _check_csv_descriptor(csv_file: Path) -> None:
    """Refuse (exit 2) a ``--csv`` naming standard output (it carries the table or the JSON
    lines: the CSV would be mixed into them) or a descriptor that is not open for writing (a
    closed one would be reused by a file the run opens, and the CSV written into that)."""
    from brooker.atomic import open_descriptor

    fd = 1 if str(csv_file) == "-" else open_descriptor(csv_file)  # "-": as --files-from -
    if fd is None:
        # a path that is the file standard output already writes (`--csv all.jsonl >
        # all.jsonl`: the CSV would replace the JSON lines), or a link to the descriptor
        # (`so.csv -> /dev/stdout`: mixed into them)
        if _path_is_stdout(csv_file):
            raise typer.BadParameter(
                term(
                    f"{csv_file} is the file standard output writes to (the table, or "
                    "--json's lines): the CSV would replace or mix into them; write it "
                    "to another file"
                ),
                param_hint="--csv",
            )
        return
    if fd == 1 or _same_file(fd, 1):  # 3>&1 is standard output too
        raise typer.BadParameter(
            "standard output carries the results (the table, or --json's lines): write the "
            "CSV to a file",
            param_hint="--csv",
        )
    try:
        import fcntl

        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:
        mode = None
    except ImportError:  # pragma: no cover - not POSIX
        return
    if mode not in (os.O_WRONLY, os.O_RDWR):
        raise typer.BadParameter(
            f"{csv_file}: descriptor {fd} is not open for writing", param_hint="--csv"
        )


def _path_is_stdout(path: Path) -> bool:
    """Whether ``path`` (links followed) is the file open as standard output; /dev/null never
    counts (nothing is mixed there)."""
    try:
        st, out = os.stat(path), os.fstat(1)
    except (OSError, ValueError):
        return False
    if os.path.realpath(path) == os.devnull:
        return False
    return (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino)


def _same_file(fd: int, other: int) -> bool:
    """Whether two open descriptors are the same file (a pipe, a terminal, a file)."""
    try:
        a, b = os.fstat(fd), os.fstat(other)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _print_run_folders(console: Console, folders: tuple[str, ...]) -> None:
    """Say which folders held another brooker run's output, left out of the inputs."""
    if folders:
        console.print(
            f"left out another brooker run's overlays and files in {len(folders)} folder(s): "
            + ", ".join(map(term, folders[:3]))
            + (" ..." if len(folders) > 3 else "")
        )


def _check_csv_target(csv_file: Path, files: list[str], out: Path) -> None:
    """Refuse (exit 2) a ``--csv`` that names one of the inputs (``files``: every shard's), or
    a file runs write in ``--out`` (:func:`brooker.batch.is_run_file_name`): the CSV would
    replace it (inputs are never modified; a results file lost to a CSV makes ``--resume``
    start over)."""
    from brooker import batch

    real = os.path.realpath(csv_file)
    # a CSV not yet written is no input (and the inputs of a big archive are not resolved)
    if os.path.exists(real) and any(os.path.realpath(f) == real for f in files):
        raise typer.BadParameter(
            term(f"{csv_file} is one of the inputs: the CSV would overwrite it"),
            param_hint="--csv",
        )
    if batch.names_a_run_file(csv_file, out):
        raise typer.BadParameter(
            term(f"{csv_file} is a file this run keeps in --out: the CSV would overwrite it"),
            param_hint="--csv",
        )


#: The paths a run with none there names one by one (the rest are counted).
_MISSING_SHOWN = 20


def _not_there(path: str) -> bool:
    """Nothing at ``path``, or a link to nothing (a disk not mounted); not a file or folder
    that is there and cannot be read (its own record says so)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _looked_in(inputs: list[str], shown: int = 3) -> str:
    """" in A, B and C" (the paths given, the first ``shown`` of them, terminal-safe): where a
    run that found nothing looked, so that a mistyped folder shows in the message."""
    if not inputs:
        return ""
    names = [term(os.fspath(p)) for p in inputs[:shown]]
    more = len(inputs) - len(names)
    if more:
        return f" in {', '.join(names)} and {more} more"
    return " in " + (names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}")


def _run(
    *,
    paths: list[str],
    files_from: str | None,
    config: Any,
    options: dict[str, Any],
    json_out: bool,
    csv_file: Path | None,
    out: Path,
    overlay: bool,
    overlay_crops: bool,
    workers: int,
    recursive: bool,
    resume: bool,
    timeout: float,
    quiet: bool,
    shard: tuple[int, int] | None,
    dask_scheduler: str | None,
    err_console: Console,
    report: bool = False,
    run_state: _RunState | None = None,
) -> int:
    from brooker import batch
    from brooker.atomic import atomic_write_bytes, is_stream
    from brooker.errors import ConfigError, OutputError, output_error
    from brooker.models import ExitCode

    started = batch.utc_now()
    run_state = run_state or _RunState()
    run_state.resume, run_state.dask = resume, dask_scheduler is not None
    run_state.report_of = out if report else None
    suffix = batch.shard_suffix(shard)
    results_path = out / f"results{suffix}.jsonl"
    manifest_path = out / f"manifest{suffix}.json"
    # the folders the checks make (--out and any missing above it, the --csv file's): taken
    # away again, when empty, if nothing is found to grade or the run is refused before
    # anything is written
    made = _missing_folders(out)
    if csv_file is not None and not is_stream(csv_file):
        made += _missing_folders(Path(os.path.realpath(csv_file)).parent)
    try:
        _check_outputs(out, csv_file, results_path, resume)
        inputs = list(paths)
        if files_from is not None:
            if files_from == "-" and sys.stdin is None:  # started with standard input closed
                raise typer.BadParameter(
                    "cannot read standard input: it is closed", param_hint="--files-from"
                )
            try:
                inputs += batch.read_files_from(sys.stdin if files_from == "-" else files_from)
            except OSError as exc:
                raise typer.BadParameter(
                    term(f"cannot read {files_from}: {exc.strerror}"), param_hint="--files-from"
                ) from None
            except ConfigError as exc:
                raise typer.BadParameter(term(exc.message), param_hint="--files-from") from None
        try:  # the output folder being a folder graded would feed this run's overlays to the next
            batch.check_out_dir(out, inputs)
        except ConfigError as exc:
            raise typer.BadParameter(term(exc.message), param_hint="--out") from None
        # a folder holding someone's own manifest.json or results.jsonl (a dataset's): the run
        # replaced them without a word. Refused before anything is written (exit 2); after the
        # check above, which names what is wrong when the folder is one being graded ("move
        # the file" led only to that refusal)
        own = [results_path, manifest_path] + ([out / f"report{suffix}.html"] if report else [])
        for path in own:
            why = batch.not_written_here(path)
            if why is not None:
                raise typer.BadParameter(
                    term(
                        f"{path} was not written by brooker ({why}): this run would replace it; "
                        "choose another --out, or move the file"
                    ),
                    param_hint="--out",
                )
        snapshot = None
        if resume:
            snapshot = _check_resumed_options(manifest_path, results_path, options)
        if dask_scheduler is None:
            # started already as the command line began (brooker.cli.main); here, once the
            # options and outputs are checked, again where that could not be (the Python API's
            # callers of the command), and with an error reported as the run's
            from brooker import worker_server

            worker_server.start_server()
        found = batch.discover(inputs, recursive=recursive, exclude=[out])
        files = list(found.files)
        # every path given on the command line not there (a typo, a link to a disk not
        # mounted): nothing can be graded, and a run would still replace the earlier run in
        # --out (the default brooker-out of a reader grading one film after another) with
        # not_found records alone. Each is named here, and then it is "no inputs found" (exit
        # 4), --out left as it was, as for empty folders below. Decided on the paths given,
        # not on what folders hold: a folder of links to a disk not mounted, or of files that
        # cannot be read, gives each its record (exit 3), as does a --files-from list's
        # missing file (a pipeline's list names what it expects graded).
        if files_from is None and inputs and all(_not_there(p) for p in inputs):
            from brooker.errors import BrookerError
            from brooker.paths import check_regular_file

            for missing in inputs[:_MISSING_SHOWN]:
                try:
                    check_regular_file(missing)
                except BrookerError as exc:  # what its not_found record would have said
                    err_console.print(
                        f"error: {term(str(exc))} [{exc.code}]", style="red", soft_wrap=True
                    )
            if len(inputs) > _MISSING_SHOWN:
                err_console.print(
                    f"error: ... and {len(inputs) - _MISSING_SHOWN} more path(s) not there",
                    style="red",
                )
            files = []
        if files and found.empty_folders:
            # a folder among other inputs with nothing to grade in it (mistyped, not mounted, a
            # copy not finished) went unmentioned; alone it is "no radiographs found" (exit 4).
            # A warning, even with --quiet, and the exit code is the run's: the other inputs
            # were graded (the manifest names the folders: inputs.empty_folders)
            err_console.print(
                f"warning: no radiographs found{_looked_in(list(found.empty_folders))}",
                style="yellow",
                soft_wrap=True,
            )
        if csv_file is not None:  # every input, another shard's too
            _check_csv_target(csv_file, files, out)
        empty_shard = False
        if shard is not None:
            everyone = len(files)
            files = batch.select_shard(files, *shard)
            if everyone and not files:
                # more shards than inputs (a job array sized for a bigger archive): this shard's
                # share is empty and every input of it is graded, which is not "no inputs found"
                # (exit 4 would count the array's job as failed). The run goes on with no file, as
                # any run: its results file emptied, its manifest, CSV and page written.
                empty_shard = True
                err_console.print(
                    f"shard {shard[0]}/{shard[1]}: none of the {everyone} input(s) falls in this "
                    "shard; nothing to grade",
                    style="yellow",
                )
        if not files and not empty_shard:
            where = f" (shard {shard[0]}/{shard[1]})" if shard else ""
            # nothing of an earlier run in --out was touched: said, for a reader who feared it
            kept = _graded_so_far(results_path) if results_path.exists() else 0
            held = f"; {term(os.fspath(out))} is left as it was" if kept > 0 else ""
            # the files skipped are named and counted by the lines below
            err_console.print(
                f"no radiographs found{_looked_in(inputs)}{where}{held}",
                style="yellow",
                soft_wrap=True,
            )
            _print_skipped(err_console, found.skipped_files, manifest=None)
            _print_dicomdirs(err_console, found.skipped_dicomdir)
            _print_run_folders(err_console, found.run_folders)
            _print_special(err_console, found.skipped_special)
            _unmake(made)
            return int(ExitCode.NO_INPUTS)
    except BaseException:
        # a usage error (a results file not brooker's, options that differ from the run
        # resumed, an unreadable --files-from...), or a stop, before anything was written
        _unmake(made)
        raise

    run_state.total = len(files)
    manifest: dict[str, Any] = {
        **batch.environment(),
        "command": "grade",
        "options": options,
        "started_at": started,
        "finished_at": None,
        "state": "running",
        "inputs": {
            "files": len(files),
            "missing": len(found.missing),
            "skipped_non_dicom": found.skipped_non_dicom,
            # named, not only counted: which files were left out is part of the run's record
            SKIPPED_KEY: list(found.skipped_files),
            "empty_folders": list(found.empty_folders),
            "skipped_dicomdir": found.skipped_dicomdir,
            "run_folders": len(found.run_folders),
            "skipped_not_regular": len(found.skipped_special),
            # named too: with --quiet they are said nowhere else
            "skipped_not_regular_files": list(found.skipped_special),
            "unreadable": len(found.unreadable),
        },
        "results": results_path.name,
    }
    # connected before anything is written: a scheduler that cannot be reached is a usage
    # error (exit 2) that must leave the run already in --out (its results, its manifest) as
    # it was, and no folder of this run's making (its lock file held one open)
    client = None
    if dask_scheduler is not None:
        try:
            client = _dask_client(dask_scheduler, len(files), err_console, quiet)
        except BaseException:
            _unmake(made)
            raise
    # one run at a time writes this results file (exit 2 for another while it runs)
    _lock_out(results_path)

    def close_manifest(
        state: str, records: list[dict[str, Any]], resumed: int, failure: dict[str, str] | None
    ) -> None:
        """The manifest's last word: when and how the run ended (``failure``: the error of a
        failed run, :func:`_failure`), and what it holds."""
        manifest.update(
            finished_at=batch.utc_now(),
            state=state,
            counts={"files": len(records), "resumed": resumed, **batch.counts(records)},
        )
        if failure is not None:
            manifest["error"] = failure
        batch.write_manifest(manifest_path, manifest)

    _remove_temporaries(out, suffix, csv_file)
    try:
        previous: dict[str, dict[str, Any]] = {}
        if not resume:
            # the earlier run's overlays go first, while its records still name them: a stop
            # during the removal leaves the rest named (running again removes them), never a
            # picture named by no record (batch.remove_earlier_overlays). This run has drawn
            # nothing yet, so none of its own can be lost; another shard's are not touched.
            earlier = _graded_so_far(results_path) if results_path.exists() else 0
            if earlier > 0 and not quiet:
                # documented, and still a surprise to a reader grading one film after another
                # into the default --out: each run replaced the one before without a word. A
                # notice on stderr (--json's stdout stays records only), not when the folder
                # is new or its results empty; --quiet silences it, as it does the summary
                of = "" if shard is None else f" of shard {shard[0]}/{shard[1]}"
                err_console.print(
                    plain(
                        f"{out} held an earlier run{of} of {earlier} file(s): replaced "
                        "(--resume adds to it instead)"
                    ),
                    soft_wrap=True,
                )
            batch.remove_earlier_overlays(out, suffix, inputs=found.files)  # never an input
            # and its review page, which showed the earlier films until a --report rewrote it
            batch.remove_earlier_report(out, suffix, inputs=found.files)
            # and its Dask partitions, whose overlays went first (a Dask run's own replace
            # them too): they showed as films with no picture on the next review page
            batch.remove_earlier_parts(out, suffix)
            # a new run starts a new results file (--resume continues the old one), emptied
            # before its manifest is written: killed between the two, the old manifest is left
            # over no records, never this run's options over the old run's records. The two
            # files are each replaced atomically, but no write replaces both at once, and
            # writing the manifest first would open the worse window, so this one (the time
            # of one rename) stays, documented (README, *A new run in an old folder*):
            # --resume there grades every film again under the old run's options, which the
            # old manifest names, and a run without --resume starts clean.
            try:
                atomic_write_bytes(results_path, b"")
            except OSError as exc:
                raise output_error(exc, str(results_path)) from None
        batch.write_manifest(manifest_path, manifest)
        if resume:
            try:
                # what the version check read, unless the file has changed since
                gone: list[str] = []
                previous = batch.load_resume_state(
                    results_path, files, out, snapshot=snapshot, overlays_gone=gone
                )
                snapshot = None  # the records it dropped are freed
                if gone and not quiet:
                    # graded again for want of their pictures: said, or a reader who deleted
                    # the PNGs to save room sees an archive graded again without a word
                    err_console.print(
                        plain(
                            f"{len(gone)} file(s) graded again: the overlays their records "
                            f"name are no longer in {out}"
                        ),
                        soft_wrap=True,
                    )
            except KeyboardInterrupt:
                # stopped (Ctrl-C, SIGTERM, SIGHUP) while the kept records' inputs are hashed,
                # which takes minutes on an archive: the manifest says so, as later in the run
                with contextlib.suppress(OutputError):
                    close_manifest("interrupted", [], 0, None)
                raise
            except Exception as exc:
                # a full disk (exit 5) or a bug (exit 1) there: the run failed, as it says when
                # that happens later (the manifest stayed "running")
                with contextlib.suppress(OutputError):
                    close_manifest("failed", [], 0, _failure(exc))
                raise
    except BaseException:
        if client is not None:
            client.close()
        raise
    # the records of files not among this run's inputs (kept by --resume) are not its films
    run_state.others = max(0, _graded_so_far(results_path) - len(previous)) if resume else 0
    run_state.results = results_path  # it holds this run's records (and the resumed) from here
    todo = [f for f in files if f not in previous]

    stdout_console = make_console(
        file=sys.stdout, width=None if sys.stdout.isatty() else 10_000
    )
    records: list[dict[str, Any]] = []
    show_progress = not quiet and err_console.is_terminal

    def emit(rec: dict[str, Any], console: Console) -> None:
        records.append(rec)
        if json_out:
            sys.stdout.write(batch.record_line(rec) + "\n")
            sys.stdout.flush()
        if rec.get("status") == "error":
            console.print(_error_line(rec), style="red", soft_wrap=True, markup=False)

    # the manifest is closed once every output asked for is written (the table, the CSV, the
    # review page) and the summary printed: "complete" only then. A CSV or page that cannot be
    # written (exit 5), or a bug there (exit 1), leaves it "failed" with the error; a stop
    # while they are written (exit 129, 130, 141, 143), "interrupted", which --resume finishes
    # without grading anything again.
    state = "interrupted"  # unless it completes or fails: Ctrl-C, SIGTERM, SIGHUP
    failure: dict[str, str] | None = None
    try:
        # in the try: a reader gone (141) or Ctrl-C (130) while the resumed records are
        # printed leaves the manifest "interrupted", as later in the run
        for f in files:
            if f in previous:
                emit(previous[f], err_console)
        if client is not None:
            _run_dask(
                todo,
                config,
                out,
                overlay,
                overlay_crops,
                client,
                emit,
                err_console,
                quiet,
                shard,
                results_path,
            )
        else:
            stream = batch.grade_many(
                todo,
                config,
                workers=workers,
                out_dir=out,
                overlay=overlay,
                overlay_crops=overlay_crops,
                timeout_s=timeout or None,
                results_file=results_path,
                # resumed, the results file holds no record of the films left to grade any
                # more (load_resume_state took out every record of an input that it does not
                # return as done): reading it once more to take them out finds none
                forget=not resume,
                locked=True,  # _lock_out took it
            )
            if show_progress:
                progress = _progress(err_console)
                with progress:
                    task = progress.add_task("grading", total=len(todo))
                    for result in stream:
                        emit(result.to_record(), progress.console)
                        progress.advance(task)
            else:
                for result in stream:
                    emit(result.to_record(), err_console)
        code = _finish(
            records,
            files=files,
            resumed=len(previous),
            found=found,
            manifest=manifest,
            json_out=json_out,
            stdout_console=stdout_console,
            err_console=err_console,
            csv_file=csv_file,
            report_path=out / f"report{suffix}.html" if report else None,
            out=out,
            results_path=results_path,
            quiet=quiet,
        )
        state, failure = "complete", _unwritten(records)
        if failure is not None:
            # an overlay that could not be written (a full disk): those films' records are
            # its errors, exit 5, and the run is not complete ("every output asked for
            # written"); a script reading the manifest alone took it for done
            state = "failed"
    except BrokenPipeError:
        raise  # the reader of standard output went away (141): "interrupted", as on Ctrl-C
    except Exception as exc:
        # a full disk (exit 5) or a bug (exit 1): the run failed (it said "interrupted"),
        # unless this is a write that failed as a stop unwinds (the terminal hung up), which
        # _signals_interrupt turns into that stop (and only an OSError that is not brooker's)
        from brooker.errors import BrookerError

        as_stop = isinstance(exc, OSError) and not isinstance(exc, BrookerError)
        if not (as_stop and _stop_behind(exc) is not None):
            state, failure = "failed", _failure(exc)
        raise
    finally:
        try:
            close_manifest(state, records, len(previous), failure)
        except KeyboardInterrupt:
            # stopped (Ctrl-C, SIGTERM, SIGHUP) while the manifest was being closed: that
            # write was cut, and the manifest still said "running" (its every film graded and
            # every output written, often: the stop comes as the run ends); it says the run
            # was stopped, as the exit code does. Only the first SIGTERM or SIGHUP raises, so
            # one sent again does not cut this write too.
            with contextlib.suppress(OutputError):
                close_manifest("interrupted", records, len(previous), failure)
            raise
        except OutputError:
            if failure is None:
                raise
    return code


def _remove_temporaries(out: Path, suffix: str, csv_file: Path | None) -> None:
    """Remove what a run of these outputs killed while it wrote one (SIGKILL: no cleanup
    runs) left: the temporary files of its results file (rewritten by ``--resume``), its
    manifest, its review page and the CSV (:func:`brooker.atomic.atomic_write_bytes`), a
    results file's worth for a big archive, which stayed for good. This run holds the lock of
    these outputs (:func:`_lock_out`), so no other run is writing them; another shard's, in
    the same folder, are left alone. (The overlays' are the batch's:
    :func:`brooker.batch.grade_many`.)"""
    from brooker.atomic import is_stream, remove_temporaries

    # the folder listed once: it holds every film's overlay
    remove_temporaries(
        out, (f"results{suffix}.jsonl", f"manifest{suffix}.json", f"report{suffix}.html")
    )
    if csv_file is not None and not is_stream(csv_file):  # written where its link points
        real = os.path.realpath(csv_file)
        remove_temporaries(os.path.dirname(real), [os.path.basename(real)])


def _finish(
    records: list[dict[str, Any]],
    *,
    files: list[str],
    resumed: int,
    found: Any,
    manifest: dict[str, Any],
    json_out: bool,
    stdout_console: Console,
    err_console: Console,
    csv_file: Path | None,
    report_path: Path | None,
    out: Path,
    results_path: Path,
    quiet: bool,
) -> int:
    """Once every film is graded: the table (unless ``--json``), the CSV, the review page and
    the summary, in that order; the exit code of the run. Called before the manifest is closed
    (``"stdout_closed"`` set in ``manifest`` when the table's reader went away), so that a
    failure or a stop here is the run's."""
    from brooker import batch
    from brooker.models import ExitCode

    # every record is spelt as this run gives its input (a resumed one too: load_resume_state)
    order = {f: i for i, f in enumerate(files)}
    records.sort(key=lambda rec: order.get(str(rec["file"]), len(order)))
    table_cut = False
    if not json_out:
        try:
            stream = stdout_console.file
            counted = _Counted(stream)
            stdout_console.file = counted  # type: ignore[assignment]
            try:
                _print_table(stdout_console, records)
            finally:
                stdout_console.file = stream
            stream.flush()  # a closed pipe is found here, not at exit
            if counted.chars > _pipe_capacity(stream) and _reader_gone(stream):
                # a table larger than the pipe, its reader gone: written short, with no error.
                # One that fit in the pipe was all handed over, whatever its reader then read
                # (`| head -5`): as before, and whatever the reader's timing
                raise BrokenPipeError
        except BrokenPipeError:
            # `grade DIR | head`: every film is graded and recorded; the table is cut, and the
            # CSV, the report and the summary still follow. The manifest says so; exit 141.
            _drop_stdout()
            table_cut = True
            manifest["stdout_closed"] = True
    if csv_file is not None:
        batch.write_csv(csv_file, records)
    if report_path is not None:
        from brooker.cli.report_cmd import write_report_for

        write_report_for(out, records, err_console, path=report_path, quiet=quiet)
    if not quiet:
        # every output is written: a summary that cannot be shown (standard error's reader
        # gone, its terminal hung up) is lost, and the run stays complete
        with contextlib.suppress(OSError):
            given = bool((manifest.get("options") or {}).get("pixel_spacing"))
            _print_summary(
                err_console, records, resumed, found, results_path, given,
                answered=not json_out and not table_cut,
            )
    if _unwritten(records) is not None:  # the manifest's "failed" rests on the same rule
        return int(ExitCode.OUTPUT_ERROR)
    if table_cut:
        err_console.print(
            "standard output was closed by its reader: the table was cut (every film was "
            "graded; the records and the manifest are complete)",
            style="red",
        )
        return int(ExitCode.BROKEN_PIPE)
    if all(r.get("status") == "ok" for r in records):
        return int(ExitCode.OK)
    return int(ExitCode.NOT_ALL_GRADED)


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given on the command line (or by its environment
    variable), not left at its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _progress(console: Console) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:.2f} files/s", style="cyan")

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        redirect_stdout=False,
        redirect_stderr=False,
        transient=True,
    )


def _dask_client(address: str, n_files: int, err_console: Console, quiet: bool) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``; a usage error when
    it cannot be reached (or is not an address), or when Dask is not installed (an optional
    extra: the environment, not a bug in brooker)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise typer.BadParameter(
            "needs Dask, which is not installed: pip install 'brooker[dask]'",
            param_hint="--dask-scheduler",
        ) from None

    import dask
    from dask.utils import parse_timedelta

    # how long Dask's client tries to reach a scheduler (30 s unless set)
    value = dask.config.get("distributed.comm.timeouts.connect")
    try:
        wait_s = float(parse_timedelta(value, default="seconds") or 0.0)
    except (KeyError, ValueError, TypeError):  # Dask's own setting, not a bug here
        raise typer.BadParameter(
            term(
                "Dask's setting distributed.comm.timeouts.connect (the environment's "
                "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT, or Dask's configuration) is "
                f"{value!r}, not a duration such as 30s"
            ),
            param_hint="--dask-scheduler",
        ) from None
    if not quiet:
        # Dask retries a refused connection until its connect timeout: a wrong address is
        # found out only then, and a silent wait looks like a hang
        err_console.print(
            plain(
                f"connecting to the Dask scheduler at {address} (Dask waits up to "
                f"{wait_s:g} s: distributed.comm.timeouts.connect)"
            ),
            soft_wrap=True,  # one line in a log, as the error lines (a pipe is 80 wide)
        )
    try:
        client = Client(address)  # type: ignore[no-untyped-call]
    except (OSError, ValueError, TypeError) as exc:  # unreachable, or not an address
        # the environment or a wrong option, not a bug in brooker (exit 2, not 1)
        raise typer.BadParameter(
            term(f"cannot connect to the Dask scheduler at {address}: {exc}"),
            param_hint="--dask-scheduler",
        ) from None
    workers = _dask_workers(client)
    if not quiet:
        on = "" if workers is None else f" ({workers} worker(s) now)"
        err_console.print(
            plain(f"grading {n_files} file(s) on the Dask cluster at {address}{on}"),
            soft_wrap=True,
        )
    if workers == 0:
        # a scheduler with no workers holds the tasks until one joins (an adaptive cluster's
        # come later): waiting is right, waiting without a word looks like a hang
        err_console.print(
            plain(
                f"warning: the Dask scheduler at {address} has no workers yet: the files wait "
                "for one to join (Ctrl-C stops the run)"
            ),
            soft_wrap=True,
        )
    return client


def _dask_workers(client: Any) -> int | None:
    """How many workers the scheduler of ``client`` has now; None when it cannot say (the
    count is for a warning only: the run itself says what goes wrong). The scheduler's own
    count, without every worker's details (Dask 2025.4-2026.6 sent five by default, so their
    number was no count); the details counted where a Dask has no such count."""
    try:
        try:
            info = client.scheduler_info(n_workers=0)
        except TypeError:  # a Dask whose scheduler_info takes no n_workers
            info = client.scheduler_info()
        n = info.get("n_workers")
        return n if isinstance(n, int) else len(info.get("workers", {}))
    except Exception:
        return None


#: How often a Dask run asks its scheduler how many workers it has, and how long it may have
#: none before the run says so (:func:`_watch_workers`), in seconds.
_WORKERS_POLL_S = 10.0
_NO_WORKERS_WARN_S = 60.0


@contextlib.contextmanager
def _watch_workers(client: Any, address: str, console: Console) -> Iterator[None]:
    """While a Dask run waits for its partitions, ask the scheduler now and then how many
    workers it has; after :data:`_NO_WORKERS_WARN_S` with none (every worker killed by a film
    over its memory limit, and its nanny gave up), say so once until one joins. The scheduler
    holds the tasks until a worker joins, so the run waited without a word, for ever (a user
    test of 2026-12-07: ten minutes, until its job's time ran out)."""
    import threading

    stop = threading.Event()

    def watch() -> None:
        # whether a worker has been seen: asked at once, or workers that all died before the
        # first poll would be said never to have joined
        idle, said, seen = 0.0, False, bool(_dask_workers(client))
        while not stop.wait(_WORKERS_POLL_S):
            n = _dask_workers(client)
            if n is None:
                continue
            if n > 0:
                idle, said, seen = 0.0, False, True
                continue
            idle += _WORKERS_POLL_S
            if idle < _NO_WORKERS_WARN_S or said or stop.is_set():
                continue
            said = True
            # an adaptive cluster's first worker may be slow to come: no blame on a film then
            why = (
                "every worker it had is gone (one over its memory limit is killed by its "
                "nanny)"
                if seen
                else "no worker has joined it yet"
            )
            with contextlib.suppress(Exception):  # a terminal gone: the run goes on
                console.print(
                    plain(
                        f"warning: the Dask cluster at {address} has had no worker for "
                        f"{idle:.0f} s ({why}): the files wait for one to join; Ctrl-C stops "
                        "the run, and the scheduler's distributed.scheduler.no-workers-timeout "
                        "makes such tasks fail instead of wait",
                        style="yellow",
                    ),
                    soft_wrap=True,
                )

    thread = threading.Thread(target=watch, name="brooker-dask-workers", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=1)  # a daemon: one blocked on a lost scheduler is left behind


@contextlib.contextmanager
def _restored_level(log: Any, level: int) -> Iterator[None]:
    """``log``'s level set back to ``level`` on the way out."""
    try:
        yield
    finally:
        log.setLevel(level)


def _scheduler_address(client: Any) -> str:
    """The address of the scheduler of ``client``, as messages name it."""
    return getattr(getattr(client, "scheduler", None), "address", None) or "its scheduler"


def _cluster_lost(exc: Exception, client: Any) -> Exception | None:
    """``exc``, raised while the cluster of ``client`` graded, as a
    :class:`~brooker.errors.ClusterLostError` when it says the cluster went away (the
    scheduler's connection lost: a cancelled future, a closed comm, a timeout); None for
    anything else (a bug stays one, brooker's own errors stay theirs). A scheduler killed
    mid-run was an "internal error" (exit 1), its message two lines run into one."""
    import concurrent.futures

    from brooker.errors import BrookerError, ClusterLostError

    # distributed's FutureCancelledError is a concurrent.futures.CancelledError; its
    # CommClosedError an OSError
    gone = (concurrent.futures.CancelledError, OSError, TimeoutError)
    if isinstance(exc, BrookerError) or not isinstance(exc, gone):
        return None
    import textwrap

    # cut between words (Dask's own message ended "... check your connection and re"), but
    # a hard cut where that would drop most of it (a long path or address, one "word")
    whole = " ".join(f"{type(exc).__name__}: {exc}".replace("\\x0a", " ").split())
    said = textwrap.shorten(whole, 200, placeholder=" ...", break_on_hyphens=False)
    if len(said) < 100 < len(whole):
        said = whole[:196] + " ..."
    address = _scheduler_address(client)
    return ClusterLostError(
        f"the Dask cluster at {address} was lost during the run ({said}): run the same "
        "command again (there is no --resume on Dask)",
        None,
    )


def _run_dask(
    files: list[str],
    config: Any,
    out: Path,
    overlay: bool,
    overlay_crops: bool,
    client: Any,
    emit: Any,
    err_console: Console,
    quiet: bool,
    shard: tuple[int, int] | None,
    results_path: Path,
) -> None:
    """Grade ``files`` on the cluster of ``client`` (a ``distributed.Client``, closed here).

    Each partition's records are written to ``results_path`` and printed (``--json``, error
    lines) as soon as the cluster has written it, under a progress bar on a terminal, as a
    local run writes and prints each film's: a long run on a cluster showed nothing until its
    last film was graded. A stop keeps in ``results_path`` the records printed so far, which
    the manifest counts."""
    from brooker import batch, distributed

    # results_path was emptied for this run before its manifest was written (--resume is
    # refused on Dask): each partition's records are appended to it as they come
    written: set[Any] = set()  # the files whose records were written and printed
    progress = _progress(err_console) if not quiet and err_console.is_terminal else None
    console = err_console if progress is None else progress.console
    task = None if progress is None else progress.add_task("grading", total=len(files))
    failed: list[BaseException] = []  # what the callback raised: never the cluster's loss

    def keep(recs: list[dict[str, Any]], on: Console) -> None:
        for rec in recs:
            writer.write(rec)  # on disk before it is shown, as a local run's
            emit(rec, on)
            written.add(rec.get("file"))

    def on_part(path: str, n_files: int) -> None:
        try:
            keep(batch.read_records(path), console)
            if progress is not None:
                progress.advance(task, n_files)
        except BaseException as exc:  # the reader of stdout gone, a full disk, Ctrl-C
            failed.append(exc)
            raise

    # Dask's client logs each failed reconnection to a lost scheduler with three chained
    # tracebacks (38 lines on stderr); the run says the loss in one line (_cluster_lost)
    import logging

    client_log = logging.getLogger("distributed.client")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    # the client first: closed whatever fails after it (the writer's file, a full disk)
    address = _scheduler_address(client)
    with (
        _restored_level(client_log, level),
        client,
        batch.ResultsWriter(results_path) as writer,
        progress or contextlib.nullcontext(),
        _watch_workers(client, address, console),
    ):
        # no file too (a shard none of the inputs falls in): this shard's earlier parts go
        try:
            distributed.grade_bag(
                files,
                config,
                out_dir=out,
                client=client,
                overlay=overlay,
                overlay_crops=overlay_crops,
                shard=shard,  # its own part names: the shards of a job array share --out
                on_part=on_part,  # each partition's records kept as it comes back
            )
        except Exception as exc:
            if any(exc is f for f in failed):  # ours (a broken pipe: 141), not the cluster's
                raise
            lost = _cluster_lost(exc, client)
            if lost is None:
                raise
            raise lost from None
        # every input has its record: one the workers did not write (a worker that cannot
        # see --out on its file system writes its partitions elsewhere) is an error, not a
        # silent gap (grade_bag reported every partition it returns, so each was kept)
        keep(
            [
                batch.error_record(
                    f,
                    "internal_error",
                    f"the Dask workers wrote no record of it to {out} (do they see that folder?)",
                ).to_record()
                for f in files
                if f not in written
            ],
            err_console,
        )
