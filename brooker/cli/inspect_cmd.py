"""``brooker inspect PATH...``: what the loader sees in each file, before any grading.

stdout carries the result: for one file named, a table (or one JSON object with ``--json``);
for several files or a folder (searched as ``grade`` searches it), one row per file (or one
JSON object per line). An error is one line ``error: <message>`` on stderr with a hint, and,
with ``--json``, also an error record on stdout; the other files are inspected all the same.
What a decoder writes to stderr meanwhile (libtiff about a corrupt TIFF) goes straight
through, before the error line: held back to be named, as a batch's workers do, it was lost
when a decoder crashed the process. Exit codes: 0 all loaded; 2 usage error (bad option
value); 3 a file cannot be loaded; 4 no file found in the folders named; 1 internal error.
numpy and pydicom are imported inside the command.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brooker.cli import BareHelpCommand, app, note_bug
from brooker.cli.hints import error_hint
from brooker.cli.options import analysis_config, parse_spacing, path_parser
from brooker.cli.terminal import console as make_console
from brooker.cli.terminal import plain, term

if TYPE_CHECKING:
    from rich.text import Text

    from brooker.errors import BrookerError
    from brooker.models import Radiograph

def _check_magnification(value: float | None) -> float | None:
    if value is None:
        return None
    from brooker.config import MAGNIFICATION_RANGE

    lo, hi = MAGNIFICATION_RANGE
    if not (math.isfinite(value) and lo <= value <= hi):
        raise typer.BadParameter(
            f"must be between {lo} and {hi} (a projection magnifies), got {value!r}",
            param_hint="--magnification",
        )
    return value


def inspect_record(radiograph: Radiograph) -> dict[str, Any]:
    """JSON-ready description of a loaded radiograph (no patient identifiers)."""
    from brooker._version import __version__
    from brooker.padding import border_of
    from brooker.upright import stored_as

    meta = radiograph.meta
    spacing = radiograph.spacing
    display = radiograph.display
    pixels = radiograph.pixels
    spacing_rec: dict[str, Any] | None = None
    if spacing is not None:
        # rounded as the grade record rounds it
        spacing_rec = {
            **spacing.to_record(),
            "relative_uncertainty": round(float(spacing.relative_uncertainty), 4),
        }
    return {
        "file": meta.path,
        "status": "ok",
        "sop_instance_uid": meta.sop_instance_uid,
        "modality": meta.modality,
        "rows": meta.rows,
        "cols": meta.cols,
        "bits_allocated": meta.bits_allocated,
        "bits_stored": meta.bits_stored,
        "pixel_representation": meta.pixel_representation,
        "photometric": meta.photometric,
        "transfer_syntax": {"uid": meta.transfer_syntax_uid, "name": meta.transfer_syntax_name},
        "decoder": meta.decoder,
        "pixel_range": [float(pixels.min()), float(pixels.max())] if pixels.size else None,
        "spacing": spacing_rec,
        "patient_right_on": radiograph.patient_right_on.value,
        "patient_left_on": radiograph.patient_right_on.opposite.value,
        "laterality_source": radiograph.laterality_source,
        "view_position": meta.view_position,
        "patient_orientation": None
        if meta.patient_orientation is None
        else list(meta.patient_orientation),
        "image_laterality": meta.image_laterality,
        # Patient Orientation's column direction runs towards the head: analysed turned upright
        "upside_down": radiograph.upside_down,
        # and in general (its rows running head-feet: turned a quarter), brooker.upright
        "stored": stored_as(radiograph),
        # the box inside a border of Pixel Padding Value (or of one value, undeclared), which
        # the analysis reads alone
        "unpadded_px": None if radiograph.unpadded_px is None else list(radiograph.unpadded_px),
        "padding_declared": None
        if radiograph.unpadded_px is None
        else radiograph.padding_declared,
        # what that border is, outermost first: "padding" (the declared one), "one value"
        "border_by": None if radiograph.unpadded_px is None else list(border_of(radiograph)),
        "body_part": meta.body_part,
        "display": None
        if display is None
        else {
            "source": display.source,
            "input_range": [float(display.input_values[0]), float(display.input_values[-1])],
        },
        "caveats": list(radiograph.caveats),
        "version": __version__,
    }


def error_record(path: str, err: BrookerError) -> dict[str, Any]:
    """The ``--json`` record of a file that could not be loaded."""
    rec: dict[str, Any] = {"file": path, "status": "error"}
    if err.sop_instance_uid is not None:
        rec["sop_instance_uid"] = err.sop_instance_uid
    rec["error"] = {"code": err.code, "message": err.message}
    return rec


#: The table's "stored" row, by the record's ``stored`` (none for a film stored upright).
_STORED_SAID = {
    "upside_down": "upside down (the head towards the last row): graded turned upright, "
    "positions given on the stored rows",
    "quarter_turned_clockwise": "turned a quarter clockwise (the head towards the last column): "
    "graded turned upright, positions given on the stored pixels, image halves those of the "
    "film turned upright",
    "quarter_turned_anticlockwise": "turned a quarter anticlockwise (the head towards the first "
    "column): graded turned upright, positions given on the stored pixels, image halves those "
    "of the film turned upright",
}


def _print_table(rec: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from brooker.models import sides_said, spacing_said

    console = make_console(soft_wrap=False)
    table = Table(
        title=plain(rec["file"]),
        box=box.SIMPLE_HEAD,
        show_header=False,
        pad_edge=False,
        title_justify="left",
    )
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    sp = rec["spacing"]
    spacing = (
        Text(
            "none: grading will refuse without --pixel-spacing ROW,COL, --ball-mm D, "
            "--head-mm D or --estimate-spacing",
            style="yellow",
        )
        if sp is None
        else f"{sp['row_mm']:g} x {sp['col_mm']:g} mm (row x col) {spacing_said(sp['source'])}, "
        f"±{100 * sp['relative_uncertainty']:.0f} %"
    )
    disp = rec["display"]
    rows: list[tuple[str, Any]] = [
        ("size", f"{rec['rows']} x {rec['cols']} px (rows x cols)"),
        (
            "bits",
            f"{rec['bits_stored']} stored / {rec['bits_allocated']} allocated, "
            f"{'signed' if rec['pixel_representation'] else 'unsigned'}",
        ),
        ("photometric", rec["photometric"]),
        (
            "transfer syntax",
            f"{rec['transfer_syntax']['name']} ({rec['transfer_syntax']['uid']})"
            if rec["transfer_syntax"]["uid"]
            else rec["transfer_syntax"]["name"],
        ),
        ("decoder", rec["decoder"]),
        ("modality", rec["modality"] or "(none)"),
        ("SOP Instance UID", rec["sop_instance_uid"] or "(none)"),
        ("pixel spacing", spacing),
        (
            "patient's right",
            f"image {rec['patient_right_on']} half"
            # a film stored turned a quarter: its halves are the film's turned upright
            + (" of the film turned upright" if rec["stored"].startswith("quarter") else "")
            + " ("
            + sides_said(rec["laterality_source"])
            + ")",
        ),
        ("view position", rec["view_position"] or "(none)"),
        (
            "patient orientation",
            "\\".join(rec["patient_orientation"]) if rec["patient_orientation"] else "(none)",
        ),
        ("image laterality", rec["image_laterality"] or "(none)"),
        (
            "display window",
            "none usable in file (percentile window)"
            if disp is None
            else f"{disp['source']}, {disp['input_range'][0]:g} .. {disp['input_range'][1]:g} "
            "(bone-bright values)",
        ),
        (
            "pixel range",
            "(empty)"
            if rec["pixel_range"] is None
            else f"{rec['pixel_range'][0]:g} .. {rec['pixel_range'][1]:g} (bone bright)",
        ),
    ]
    stored = _STORED_SAID.get(rec["stored"])
    if stored is not None:
        rows.append(("stored", stored))
    if rec["unpadded_px"] is not None:
        from brooker.padding import border_said

        r0, c0, r1, c1 = rec["unpadded_px"]
        said = border_said(tuple(rec["border_by"]), bool(rec["transfer_syntax"]["uid"]))
        rows.append(
            (
                "padding",
                f"a border of {said}: rows {r0}-{r1 - 1}, columns {c0}-{c1 - 1} inside it are "
                "analysed",
            )
        )
    for obj in (sp or {}).get("calibration") or []:
        rows.append(
            (
                "calibration",
                f"{obj['kind'].replace('_', ' ')} at row {obj['center_px'][0]:g}, col "
                f"{obj['center_px'][1]:g}: fitted {obj['diameter_px']:g} px = "
                f"{obj['diameter_mm']:g} mm (fit ±{100 * obj['fit_relative_uncertainty']:.1f} %)",
            )
        )
    # each caveat on a row of its own named "caveat" (as grade gives each its own "note:"):
    # a row with no name reads as the wrapped tail of the caveat above it
    rows += [("caveat", Text(note, style="yellow")) for note in rec["caveats"]]
    if not console.is_terminal:
        # a file or a pipe gets a line per field, unwrapped and unpadded, as grade's answer
        # (the table folded values at 80 columns and padded every line with blanks)
        width = max(len(name) for name, _ in rows)
        out = [term(rec["file"])]
        for name, value in rows:
            text = value if isinstance(value, str) else value.plain
            out.append(f" {name.ljust(width)}  {term(text)}".rstrip())
        console.file.write("\n".join(out) + "\n")
        return
    for name, value in rows:  # values quote header text: never markup, no control characters
        table.add_row(name, plain(value) if isinstance(value, str) else value)
    console.print(table)


@app.command("inspect", cls=BareHelpCommand)
def inspect_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="DICOM, PNG, JPEG or TIFF files, or folders of them (searched as grade "
            "searches them).",
            # an unreadable file is an `unreadable` error, not usage; an empty path is usage
            metavar="PATH",
            parser=path_parser(),
            show_default=False,
        ),
    ],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", metavar="", help="Print one JSON object per file instead of a table."
        ),
    ] = False,
    pixel_spacing: Annotated[
        str | None,
        typer.Option(
            "--pixel-spacing",
            metavar="ROW,COL",
            help="Pixel spacing at the patient in mm (ROW,COL, or one value for square "
            "pixels); overrides the file.",
        ),
    ] = None,
    magnification: Annotated[
        float | None,
        typer.Option(
            "--magnification",
            metavar="F",
            help="Magnification at the hip; divides (0018,1164) Imager Pixel Spacing.",
        ),
    ] = None,
    ball_mm: Annotated[
        float | None,
        typer.Option("--ball-mm", metavar="D", help="Fit the calibration ball of D mm."),
    ] = None,
    head_mm: Annotated[
        float | None,
        typer.Option("--head-mm", metavar="D", help="Fit the prosthetic head(s) of D mm."),
    ] = None,
    estimate_spacing: Annotated[
        bool,
        typer.Option(
            "--estimate-spacing",
            metavar="",
            help="No spacing: estimate it from the native femoral heads.",
        ),
    ] = False,
    flipped: Annotated[
        bool,
        typer.Option("--flipped", metavar="", help="The patient's right is on the image's right."),
    ] = False,
) -> None:
    """Show what the loader sees in each file: size, spacing and its source, sides, decoder.

    One file: a table of it. Several, or a folder: a line per file (to check an archive).
    With --ball-mm, --head-mm or --estimate-spacing, also what was fitted and its spacing.
    """
    # (typer's help keeps the line breaks of every paragraph but the first: one line each)
    spacing = parse_spacing(pixel_spacing)
    mag = _check_magnification(magnification)

    from brooker.models import ExitCode

    config = analysis_config(
        spacing=spacing,
        magnification=mag,
        ball_mm=ball_mm,
        head_mm=head_mm,
        estimate_spacing=estimate_spacing,
        flipped=flipped,
    )
    files = _inputs(paths)
    if not files:
        typer.echo(term(f"no radiographs found in {' '.join(map(str, paths))}"), err=True)
        raise typer.Exit(int(ExitCode.NO_INPUTS))
    one = len(files) == 1 and not any(p.is_dir() for p in paths)
    codes: list[int] = []
    lines = None if one or as_json else make_console(file=sys.stdout, soft_wrap=True)
    for path in files:
        rec, code = _inspect_one(path, config)
        codes.append(code)
        if as_json:
            typer.echo(json.dumps(rec))
        elif lines is not None:  # each as it is read: a long archive shows its progress
            lines.print(_line(rec))
        elif code == ExitCode.OK:
            _print_table(rec)
    # a bug before a file refused, as grade ranks them
    worst = (
        ExitCode.INTERNAL_ERROR
        if ExitCode.INTERNAL_ERROR in codes
        else ExitCode.NOT_ALL_GRADED
        if ExitCode.NOT_ALL_GRADED in codes
        else ExitCode.OK
    )
    if worst != ExitCode.OK:
        raise typer.Exit(int(worst))


def _inputs(paths: list[Path]) -> list[str]:
    """The files to inspect, as ``grade`` takes them (:func:`brooker.batch.discover`): each file
    named (a missing one gets its error), the radiographs found in each folder named, sorted,
    each file once however it was named."""
    from brooker.batch import discover

    return list(discover([str(p) for p in paths]).files)


def _inspect_one(path: str, config: Any) -> tuple[dict[str, Any], int]:
    """The record of one file (its error record when it cannot be loaded) and its exit code;
    the error line (with its hint) goes to stderr as the file is met."""
    from brooker.errors import BrookerError
    from brooker.models import ExitCode
    from brooker.pipeline import load_calibrated

    try:
        return inspect_record(load_calibrated(path, config)), int(ExitCode.OK)
    except BrookerError as err:
        if err.path is None:
            err.path = path
        hint = error_hint(err, path, user_spacing=config.pixel_spacing is not None)
        typer.echo(term(f"error: {err.message} [{err.code}]"), err=True)
        if hint:
            typer.echo(f"hint: {hint}", err=True)
        return error_record(path, err), int(ExitCode.NOT_ALL_GRADED)
    except Exception as exc:  # a bug in brooker, not a bad file
        note_bug()
        typer.echo(
            term(f"error: internal error while reading {path}: {type(exc).__name__}"), err=True
        )
        rec = {
            "file": path,
            "status": "error",
            "error": {"code": "internal_error", "message": type(exc).__name__},
        }
        return rec, int(ExitCode.INTERNAL_ERROR)


def _line(rec: dict[str, Any]) -> Text:
    """One file's line: what it says of its size, spacing and sides, to check an archive
    before grading it (a file that cannot be loaded: its error code). Lines, not a table: a
    table of six columns cut its last ones on an 80-column terminal."""
    from rich.text import Text

    line = Text()
    line.append(term(rec["file"]), style="bold")
    if rec["status"] != "ok":
        line.append(": ")
        line.append(f"not loaded [{rec['error']['code']}]", style="red")
        return line
    sp = rec["spacing"]
    line.append(f": {rec['rows']} x {rec['cols']} px, ")
    if sp is None:
        line.append("no spacing", style="yellow")
    else:
        line.append(f"{sp['row_mm']:.4g} x {sp['col_mm']:.4g} mm ({sp['source']})")
    assumed = " (assumed)" if rec["laterality_source"] == "assumed" else ""
    line.append(f", patient's right on the image {rec['patient_right_on']}{assumed}")
    notes = []
    if rec["stored"] != "upright":
        notes.append(rec["stored"].replace("_", " "))
    if rec["unpadded_px"] is not None:
        notes.append("border cut off")
    if rec["caveats"]:
        notes.append(f"{len(rec['caveats'])} caveat(s)")
    if notes:
        line.append("; " + ", ".join(notes), style="yellow")
    return line
