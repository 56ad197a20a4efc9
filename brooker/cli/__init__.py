"""The command line: a thin typer layer over the library.

Only this package imports typer and rich (enforced by ruff's banned-api rule and a test). Heavy
modules (numpy, pydicom, scikit-image) are imported inside the commands, so ``brooker --help``
and ``brooker --version`` stay fast.

Exit codes (``brooker.models.ExitCode``): 0 every input graded / loaded; 1 internal error (a
bug); 2 usage error; 3 some inputs could not be graded (each has its record); 4 no inputs
found; 5 an output cannot be written (disk full, permissions, read-only: the environment).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import typer
import typer.core

from brooker._version import __version__
from brooker.threads import one_blas_thread
from brooker.worker_server import start_for_command, stop_begun


def _bare_help(option: Any) -> Any:
    """The ``--help`` option shown without a type: typer's help panel wrote ``<bool>`` after
    it, where every other flag of brooker's shows none (``metavar=""``; a README audit of
    2026-12-08)."""
    if option is not None and getattr(option, "metavar", "") is None:
        option.metavar = ""
    return option


class BareHelpGroup(typer.core.TyperGroup):
    """brooker's command group: its ``--help`` flag shown as the other flags are."""

    def get_help_option(self, ctx: Any) -> Any:
        return _bare_help(super().get_help_option(ctx))


class BareHelpCommand(typer.core.TyperCommand):
    """A brooker command: its ``--help`` flag shown as the other flags are."""

    def get_help_option(self, ctx: Any) -> Any:
        return _bare_help(super().get_help_option(ctx))


app = typer.Typer(
    cls=BareHelpGroup,
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
        False, "--version", metavar="", help="Print the version and exit.",
        callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """Grade heterotopic ossification around the hip on pelvic radiographs (Brooker 0-IV)."""


#: Set by a command that is about to exit 1 for a bug of its own (:func:`note_bug`), so that
#: :func:`main` never reads that exit as a reader closing standard output, even when the bug's
#: own message meets the closed pipe on its way out.
_BUG_NOTED: list[bool] = []


def note_bug() -> None:
    """Say that this command is ending with an internal error (exit 1), before it reports it."""
    _BUG_NOTED.append(True)


# Commands register themselves on ``app`` when imported.
from brooker.cli import grade_cmd as _grade_cmd  # noqa: E402,F401
from brooker.cli import inspect_cmd as _inspect_cmd  # noqa: E402,F401
from brooker.cli import report_cmd as _report_cmd  # noqa: E402,F401


def _stdout_identity() -> tuple[int, int] | None:
    """The device and inode behind file descriptor 1 (None if it is closed)."""
    try:
        st = os.fstat(1)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _stopped_by_closed_stdout(before: tuple[int, int] | None) -> bool:
    """Whether an exit 1 was the command line's libraries answering a reader that closed
    standard output: typer's copy of click wraps the streams in a ``PacifyFlushWrapper``
    (typer vendors click, hence the class's name), rich's console points descriptor 1 at the
    null device (``Console.on_broken_pipe``), which it was not before."""
    if type(sys.stdout).__name__ == "PacifyFlushWrapper":
        return True
    now = _stdout_identity()
    if now == before or now is None:
        return False
    null = os.stat(os.devnull)
    return now == (null.st_dev, null.st_ino)


#: The names of the console script pip and uv write (``import re, sys``; ``from brooker.launch
#: import main``, or ``from brooker.cli import main`` in a script an earlier install wrote).
_WRAPPER_NAMES = frozenset({"main", "re", "sys"})


def _workers_skip_the_script() -> None:
    """Have the workers that a ``grade`` forks leave the console script alone, as they do
    under ``python -m brooker``.

    multiprocessing runs the parent's ``__main__`` again in every worker it starts, by path
    (so that what the main script defines can be unpickled there), unless ``__main__`` is
    a package's ``__main__`` module, run by name. The ``brooker`` script pip (or uv) writes
    defines nothing and only imports the entry point (:func:`brooker.launch.main`, which then
    imports this package: typer and the commands, 50 ms), in each worker, on the way to a
    single film's answer. Marked as ``brooker.__main__``, which it stands for, it is skipped
    there. Only for such a script: one whose names are that entry point (or this :func:`main`)
    and at most ``sys`` and ``re``. A ``__main__`` with a spec already, or with
    anything of its own (a site's wrapper that sets something up before calling
    :func:`main`, which the workers may need), is left as it is."""
    from brooker.launch import main as launch_main

    script = sys.modules.get("__main__")
    if script is None or getattr(script, "__spec__", None) is not None:
        return
    if getattr(script, "main", None) not in (main, launch_main):
        return
    if {n for n in vars(script) if not n.startswith("__")} - _WRAPPER_NAMES:
        return
    import importlib.util

    script.__spec__ = importlib.util.find_spec("brooker.__main__")


def _escape_what_stdout_cannot_encode() -> None:
    """Standard output in an encoding without "±" or "é" (``PYTHONIOENCODING=ascii``, a
    Latin-1 terminal) escapes what it cannot write (``\xb1``) instead of ending the command
    with an internal error: a borderline hip's answer did (a review of 2026-12-08)."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None and getattr(sys.stdout, "errors", None) == "strict":
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="backslashreplace")


def main() -> None:
    """Console-script entry point.

    A reader that closes standard output early (``brooker --help | head -0``, ``brooker
    inspect FILE | head -1``) makes typer or rich exit 1, which is kept for bugs: that exit
    becomes 141 (128 + SIGPIPE) here, as ``grade`` reports it itself, unless the command
    noted a bug of its own (:func:`note_bug`). Standard output closed from the start
    (``brooker grade DIR >&-``) is the null device, as if the output were thrown away.
    """
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # for the whole process
    _escape_what_stdout_cannot_encode()
    one_blas_thread()  # before numpy is imported (brooker.threads)
    # a grade's workers fork from a server that imports numpy, scipy and the pipeline: begun
    # first, those imports overlap the parsing and setting up (brooker.worker_server)
    _workers_skip_the_script()
    start_for_command(sys.argv[1:])
    before = _stdout_identity()
    try:
        app()
    except SystemExit as stop:
        if stop.code == 1 and not _BUG_NOTED and _stopped_by_closed_stdout(before):
            from brooker.models import ExitCode

            raise SystemExit(int(ExitCode.BROKEN_PIPE)) from None
        raise
    finally:
        stop_begun()  # its workers are done, or it had none (a usage error, no inputs)
