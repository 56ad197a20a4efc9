"""One BLAS thread per process: the variables, for the command line and the batch's workers.

The engine's matrix products (the hip detector's and the judges') are small; a batch runs its
films in parallel with ``--workers``. Left to OpenBLAS, every process starts a thread per core,
and on a 2-core machine those threads and the other worker's contend: two workers were
1.30-1.53x one, and are 1.77-1.80x with one thread each (README, *Performance*). The variables
are read when numpy is first imported, so they are set before that: by the command line for
its whole process (:func:`one_blas_thread`), and by :func:`brooker.batch.grade_many` for the
workers it starts only (:func:`for_workers`), leaving a Python caller's own process alone.
A value already in the environment is kept.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: The thread-count variables of the BLAS libraries numpy and scipy are built with (OpenBLAS,
#: and OpenMP or MKL builds).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """One BLAS thread for this process and the processes it starts, unless the environment
    says otherwise; to be called before numpy is imported."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


@contextlib.contextmanager
def for_workers() -> Iterator[None]:
    """One BLAS thread (unless the environment says otherwise) in the processes started
    within: the variables are set for that moment only, and taken out again after."""
    added = [name for name in BLAS_THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
