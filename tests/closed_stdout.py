"""Running the command line as a subprocess whose reader goes away (shared by the CLI tests)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


def run_with_stdout_closed(cmd: Sequence[str], timeout: float = 60) -> tuple[int, str]:
    """Run ``cmd`` with its standard output a pipe that its reader closes before the first
    byte (``cmd | head -0``); return its exit code and what it wrote to standard error."""
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line
    with proc.stderr:
        err = proc.stderr.read().decode()
    return proc.wait(timeout=timeout), err
