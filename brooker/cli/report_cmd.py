"""``brooker report`` (the review page of a run) and ``brooker agreement`` (tool vs reader).

``brooker report OUT_DIR`` rebuilds ``OUT_DIR/report.html`` from the run's ``results.jsonl``
(and shard or Dask part files); ``brooker grade --report`` writes it at the end of a run.
``brooker agreement review.csv`` scores an exported review (or any CSV with a tool and a
reader column): confusion matrix, accuracy, quadratic weighted kappa, and sensitivity and
specificity for "III/IV vs 0-II", as a table or one JSON object with ``--json``.

stdout carries the results (the agreement table or JSON; ``report`` prints the page's path);
messages go to stderr. Exit codes: 0 done; 2 usage error (a column or file that cannot be
used, two verdicts for one hip); 4 nothing to report (no record in the folder, no row with both
classes); 5 the page cannot be written.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brooker.cli import BareHelpCommand, app
from brooker.cli.options import path_parser
from brooker.cli.terminal import console as make_console
from brooker.cli.terminal import plain, term

if TYPE_CHECKING:
    from rich.console import Console

    from brooker.agreement import Agreement, Proportion


def write_report_for(out: Path, records: list[dict[str, Any]] | None, err_console: Console,
                     *, path: Path | None = None, quiet: bool = False) -> Path:
    """Write the review page of ``out`` and say where on stderr (used by ``grade --report``)."""
    from brooker.report import write_report

    # this run's own page: its manifest says "running" until the page is written
    info = write_report(out, records, path=path, unfinished=())
    if not quiet:
        err_console.print(
            f"review page: {term(info.path)} ({info.films} film(s), {info.thumbnails} "
            f"picture(s), {info.size_bytes / 1e6:.1f} MB, {info.seconds:.1f} s)",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    return info.path


@app.command("report", cls=BareHelpCommand)
def report(
    out_dir: Annotated[
        Path,
        typer.Argument(
            help="A run folder (brooker grade --out DIR) holding results.jsonl.",
            metavar="OUT_DIR",
            parser=path_parser(file_okay=False),
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            parser=path_parser(dir_okay=False),
            help="Write the page here (default: OUT_DIR/report.html).",
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option("--title", metavar="TEXT", help="Page title (default: the folder's name)."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", metavar="", help="No message on stderr.")
    ] = False,
) -> None:
    """Write the review page (report.html) of a graded folder from its results.jsonl."""
    from brooker.atomic import is_stream
    from brooker.errors import OutputError
    from brooker.models import ExitCode
    from brooker.report import load_records, results_files
    from brooker.report import write_report as _write

    err = make_console(stderr=True)
    where = term(out_dir)
    if not out_dir.is_dir():
        what = "is not a folder" if os.path.lexists(out_dir) else "does not exist"
        raise typer.BadParameter(f"{where} {what}", param_hint="OUT_DIR")
    if not results_files(out_dir):
        err.print(f"no results.jsonl in {where}: grade with --out {where} first", style="yellow")
        raise typer.Exit(int(ExitCode.NO_INPUTS))
    from brooker.batch import not_written_here
    from brooker.report import REPORT_NAME

    target = output if output is not None else out_dir / REPORT_NAME
    why = None if output is not None else not_written_here(target)
    if why is not None:  # the page the user named with -o is written whatever it holds
        raise typer.BadParameter(
            term(
                f"{target} was not written by brooker ({why}): the page would replace it; "
                "name another with -o, or move the file"
            ),
            param_hint="OUT_DIR",
        )
    records = load_records(out_dir)
    if not records:
        err.print(f"no records in {where}/results.jsonl", style="yellow")
        raise typer.Exit(int(ExitCode.NO_INPUTS))
    if output is not None:
        _refuse_a_run_file(output, out_dir, records)
    from brooker.report import unfinished_runs

    unfinished = unfinished_runs(out_dir)
    for line in unfinished if not quiet else ():  # the page says it too, under its title
        err.print(plain(f"warning: {line}", style="yellow"), soft_wrap=True)
    try:
        info = _write(out_dir, records, path=output, title=title, unfinished=unfinished)
    except OutputError as exc:  # the environment (permissions, a full disk), not a bug
        if output is not None and isinstance(exc.__context__, BrokenPipeError):
            # -o /dev/stdout, its reader gone: as report's own standard output (141)
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # nothing more to say to it, at exit either
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
        err.print(plain(f"error: {exc.message} [{exc.code}]", style="red"), soft_wrap=True)
        raise typer.Exit(int(ExitCode.OUTPUT_ERROR)) from None
    if not quiet:
        err.print(
            f"{info.films} film(s), {info.thumbnails} picture(s), {info.size_bytes / 1e6:.1f} MB, "
            f"{info.seconds:.1f} s",
            markup=False,
        )
    if output is None or not is_stream(output):  # not into the page written to a stream
        sys.stdout.write(f"{term(info.path)}\n")


def _refuse_a_run_file(output: Path, out_dir: Path, records: list[dict[str, Any]]) -> None:
    """Refuse (exit 2) an ``-o`` naming one of the run's own files in ``out_dir`` (its results,
    manifest, log or an overlay; a page's name is the page's to take,
    :func:`brooker.batch.names_a_run_file`) or a film of its records, known by its content
    (the records' ``input_sha256``: a record spells the film from the folder the run started
    in, which ``report`` need not share), or a grade CSV (:func:`brooker.batch.is_grade_csv`):
    the page replaced it, and ``-o OUT/results.jsonl`` lost the run's every record (a user's
    test of 2026-12-07). As ``grade --csv`` refuses them. Any other file ``-o`` names is
    written, as before: the user named it."""
    from brooker.batch import file_sha256, is_grade_csv, names_a_run_file
    from brooker.errors import BrookerError

    if names_a_run_file(output, out_dir, pages=False):
        raise typer.BadParameter(
            term(f"{output} is one of the run's files: the page would replace it"),
            param_hint="--output",
        )
    if is_grade_csv(output):  # --csv's file, wherever it was put (known by its header)
        raise typer.BadParameter(
            term(f"{output} is a grade CSV brooker wrote: the page would replace it"),
            param_hint="--output",
        )
    graded = {rec.get("input_sha256") for rec in records} - {None}
    if graded and os.path.isfile(output):
        try:
            film = file_sha256(output) in graded
        except BrookerError:  # unreadable: not known to be a film (writing it says why)
            film = False
        if film:
            raise typer.BadParameter(
                term(f"{output} is a film the run graded: the page would replace it"),
                param_hint="--output",
            )


def _pct(p: Proportion) -> str:
    if p.value is None:
        return "n/a (none)"
    ci = p.ci95
    assert ci is not None
    return f"{p.value:.3f}  ({p.k}/{p.n}; 95% CI {ci[0]:.3f} to {ci[1]:.3f})"


def _print_agreement(console: Console, source: str, a: Agreement) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from brooker.agreement import CLASSES

    skipped = f"; {a.skipped} row(s) without both classes skipped" if a.skipped else ""
    if a.tool_not_graded:  # what the tool left to the reader, apart from rows not reviewed
        skipped += (
            f" ({a.tool_not_graded} of them hips the reader classed and the tool did not grade)"
        )
    if a.duplicates:
        skipped += f"; {a.duplicates} repeated row(s) of a hip counted once"
    console.print(f"{term(source)}: {a.n} hip(s) compared{skipped}", soft_wrap=True)
    table = Table(
        title="rows: reader, columns: tool", box=box.SIMPLE_HEAD, title_justify="left",
        pad_edge=False,
    )
    table.add_column("reader \\ tool")
    for c in CLASSES:
        table.add_column(c, justify="right")
    table.add_column("total", justify="right", style="dim")
    for r, row in enumerate(a.confusion):
        cells = [
            Text(str(n), style="bold" if r == t and n else ("" if n else "dim"))
            for t, n in enumerate(row)
        ]
        table.add_row(CLASSES[r], *cells, str(sum(row)))
    totals = [Text(str(sum(a.confusion[r][t] for r in range(5))), style="dim") for t in range(5)]
    table.add_row(Text("total", style="dim"), *totals, Text(str(a.n), style="dim"))
    console.print(table)
    if a.kappa_quadratic is None:
        kappa = "n/a (undefined: one class only)"
    else:
        kappa = f"{a.kappa_quadratic:.3f}"
        if a.kappa_ci95 is not None:
            kappa += (
                f"  (95% CI {a.kappa_ci95[0]:.3f} to {a.kappa_ci95[1]:.3f}, bootstrap over "
                f"{a.films} films)"
            )
        elif a.films < 2:  # a bare figure read as firm as one with its interval
            kappa += "  (no interval: one film only; the bootstrap resamples whole films)"
        else:
            kappa += (
                f"  (no interval: over {a.films} films the kappa is undefined on most "
                "resamples, one class only)"
            )
    metrics = Table(box=None, show_header=False, pad_edge=False)
    metrics.add_column()
    metrics.add_column()
    metrics.add_row("accuracy (exact class)", _pct(a.accuracy))
    metrics.add_row("quadratic weighted kappa", kappa)
    metrics.add_row("III/IV vs 0-II sensitivity", _pct(a.sensitivity_iii_iv))
    metrics.add_row("III/IV vs 0-II specificity", _pct(a.specificity_iii_iv))
    console.print(metrics)


def _note_duplicates(
    console: Console, source: str, duplicates: tuple[tuple[int, int], ...]
) -> None:
    """Say on stderr which rows were left out as repeats of a hip (the first few)."""
    shown = ", ".join(f"line {line} repeats line {first}" for line, first in duplicates[:3])
    more = f", and {len(duplicates) - 3} more" if len(duplicates) > 3 else ""
    console.print(
        f"note: {term(source)}: {len(duplicates)} row(s) repeat a hip (same file and side) "
        f"with the same classes, each hip counted once ({shown}{more})",
        style="yellow",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


@app.command("agreement", cls=BareHelpCommand)
def agreement_cmd(
    csv_file: Annotated[
        Path,
        typer.Argument(
            help="review.csv exported by the review page, or any CSV with both classes.",
            metavar="CSV_FILE",
            parser=path_parser(dir_okay=False),
            show_default=False,
        ),
    ],
    json_out: Annotated[
        bool,
        typer.Option("--json", metavar="", help="Print one JSON object instead of the table."),
    ] = False,
    tool_column: Annotated[
        str | None,
        typer.Option(
            "--tool-column",
            metavar="NAME",
            help="Column of the tool's classes (default: tool_class, brooker_class, grade, ...).",
        ),
    ] = None,
    reader_column: Annotated[
        str | None,
        typer.Option(
            "--reader-column",
            metavar="NAME",
            help="Column of the reader's classes (default: reader_class, ...).",
        ),
    ] = None,
) -> None:
    """Tool-vs-reader agreement: confusion matrix, accuracy, quadratic kappa, III/IV sens/spec."""
    from brooker.agreement import AgreementInputError, read_ratings
    from brooker.models import ExitCode

    err = make_console(stderr=True)
    try:
        ratings = read_ratings(csv_file, tool_column=tool_column, reader_column=reader_column)
    except AgreementInputError as exc:
        # a column named by an option that the file lacks is that option's error
        hint = {"tool": "--tool-column", "reader": "--reader-column"}.get(
            exc.column_named or "", "CSV_FILE"
        )
        raise typer.BadParameter(term(exc), param_hint=hint) from None
    if not ratings.pairs:
        err.print(
            f"{term(csv_file)}: no row with both a tool and a reader class "
            f"({ratings.skipped} skipped)",
            style="yellow",
        )
        raise typer.Exit(int(ExitCode.NO_INPUTS))
    if ratings.duplicates:
        _note_duplicates(err, str(csv_file), ratings.duplicates)
    result = ratings.agreement()
    if json_out:
        sys.stdout.write(
            json.dumps({"file": os.fsdecode(csv_file), **result.to_record()}) + "\n"
        )
        return
    out = make_console(file=sys.stdout)
    _print_agreement(out, str(csv_file), result)
