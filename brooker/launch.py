"""The console script's entry point: begin the workers' server, then run the command line.

The ``brooker`` script pip writes calls :func:`main` here. A ``grade`` forks its workers from
a server that imports numpy, scipy and the pipeline first (about half a second:
:mod:`brooker.worker_server`); begun from here, before typer and the commands are imported
(about 0.1 s: :mod:`brooker.cli`), those imports overlap the command line's own instead of
following them, which on a single film is time off the wait for its answer. This module
imports only the standard library and brooker's light modules.
"""

from __future__ import annotations

import sys

from brooker.threads import one_blas_thread
from brooker.worker_server import start_for_command, stop_begun

#: The exit status of a command stopped by Ctrl-C (128 + SIGINT), as the README's exit codes
#: give it; ``brooker.models.ExitCode`` is not imported here, to keep this module light.
_CTRL_C_EXIT = 130


def main() -> None:
    """``brooker``: :func:`brooker.cli.main`, with the workers' server begun first.

    A Ctrl-C before the command line has taken over (its first 0.1 s, while typer and the
    commands are imported) ends the command as a later one does: exit 130, the server
    stopped, no traceback (typer turns a later one into that exit itself, and ``grade``
    handles its own)."""
    one_blas_thread()  # before numpy is imported, here or in the server (brooker.threads)
    try:
        start_for_command(sys.argv[1:])
        from brooker.cli import main as command_line

        command_line()
    except KeyboardInterrupt:
        stop_begun()
        raise SystemExit(_CTRL_C_EXIT) from None
