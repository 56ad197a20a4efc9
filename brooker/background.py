"""Work begun beside the caller's, in a thread of its own, for a core a single film leaves idle.

One film is graded on one core, in numpy, scipy and zlib calls that release the GIL for most of
their time; the command line's single-film check waits for it while the machine's other cores
idle. Independent parts of a film's work (the overlay's text search and the grading, the two
hips, the halves of the overlay's compression) are run side by side with :func:`beside`.
Where other workers keep every core busy already (a batch with a worker on every usable CPU:
:func:`in_turn`; a task on a Dask worker: :func:`in_turn_here`) they run in turn instead.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import TypeVar

_A = TypeVar("_A")
_R = TypeVar("_R")


#: False in a batch's worker when the batch has a worker for every usable CPU
#: (:func:`in_turn`): the other workers keep the cores busy, and threads only contend with
#: them (30 real films, two workers on two cores: 2 % slower with them).
_THREADS = [True]


_HERE = threading.local()


def in_turn() -> None:
    """From now on, :func:`beside` runs its call in the caller's thread, at once."""
    _THREADS[0] = False


@contextlib.contextmanager
def in_turn_here() -> Iterator[None]:
    """Within, :func:`beside` called from this thread runs its call in it, at once (a task on
    a Dask worker, whose other threads keep the cores busy); other threads are not affected."""
    before = getattr(_HERE, "in_turn", False)
    _HERE.in_turn = True
    try:
        yield
    finally:
        _HERE.in_turn = before


def beside(fn: Callable[[_A], _R], arg: _A) -> Future[_R]:
    """``fn(arg)`` in a thread of its own, begun now; its result (or its exception, raised
    again) from the future's ``result()``. A daemon thread: a caller that ends up not needing
    the result does not wait for it. After :func:`in_turn`, ``fn(arg)`` is called here, before
    this returns (or within :func:`in_turn_here`), its result or exception held by the future
    alike."""
    future: Future[_R] = Future()
    if not _THREADS[0] or getattr(_HERE, "in_turn", False):
        try:
            future.set_result(fn(arg))
        except Exception as exc:  # raised by result(), as in a thread
            future.set_exception(exc)
        return future

    def run() -> None:
        try:
            future.set_result(fn(arg))
        except BaseException as exc:  # raised by result(), as the call itself would raise it
            future.set_exception(exc)

    try:
        threading.Thread(target=run, name="brooker-beside", daemon=True).start()
    except RuntimeError:  # no thread to be had (a limit on threads, the interpreter ending)
        run()
    return future
