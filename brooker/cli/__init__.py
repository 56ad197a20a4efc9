"""The command line: a thin typer layer over the library.

Only this package imports typer and rich (enforced by ruff's banned-api rule and a test). Heavy
modules (numpy, pydicom, scikit-image) are imported inside the commands, so ``brooker --help``
and ``brooker --version`` stay fast.

Exit codes (``brooker.models.ExitCode``): 0 every input graded / loaded; 1 internal error (a
bug); 2 usage error; 3 some inputs could not be graded (each has its record); 4 no inputs
found; 5 an output cannot be written (disk full, permissions, read-only: the environment).
"""

from __future__ import annotations

import typer

from brooker._version import __version__

app = typer.Typer(
    name="brooker",
    help="Grade heterotopic ossification around the hip on pelvic radiographs (Brooker 0-IV).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"brooker {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """Grade heterotopic ossification around the hip on pelvic radiographs (Brooker 0-IV)."""


# Commands register themselves on ``app`` when imported.
from brooker.cli import grade_cmd as _grade_cmd  # noqa: E402,F401
from brooker.cli import inspect_cmd as _inspect_cmd  # noqa: E402,F401
from brooker.cli import report_cmd as _report_cmd  # noqa: E402,F401


def main() -> None:
    """Console-script entry point."""
    app()
