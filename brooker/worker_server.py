"""The forkserver the batch's workers fork from (:func:`brooker.batch.grade_many`).

Its own module, with the standard library only, so that the command line can start it as the
first thing a ``grade`` does (:func:`start_for_command`, from the console script's
:func:`brooker.launch.main`, before typer and the commands are imported, and again, a no-op
then, from :func:`brooker.cli.main`, before numpy, rich and the batch are): the server's
imports (numpy, scipy, the pipeline: about half a second) then overlap the command line's own
start instead of following it. A server so begun that no worker came to use (a usage error,
no inputs) or that the workers are done with is stopped as the command ends
(:func:`stop_begun`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Final

from brooker import threads

#: Bytes a Unix socket's path may hold on Linux (``sun_path``, 108, less its closing NUL).
_SOCKET_PATH_MAX: Final = 107
#: Room kept after multiprocessing's temporary folder for the forkserver's socket file
#: (``/listener-XXXXXXXX``, 18 bytes, in Python 3.11-3.13.0; later releases name it otherwise).
_SOCKET_NAME_ROOM: Final = 24
#: Short system folders tried, in this order, when the temporary folder is too long (those
#: of multiprocessing's own fallback in later Pythons, CPython gh-132124).
SHORT_TEMP_DIRS: Final = ("/tmp", "/var/tmp", "/usr/tmp")


def _socket_fits(folder: str) -> bool:
    return len(os.fsencode(folder)) + _SOCKET_NAME_ROOM <= _SOCKET_PATH_MAX


def _forkserver_temp_dir() -> str | None:
    """multiprocessing's temporary folder, where the forkserver binds its socket, made short
    enough for it; None if it cannot be (nor made at all: a full or read-only temporary folder).

    Python 3.11, 3.12 and 3.13.0 make that folder (``pymp-XXXXXXXX``) in
    :func:`tempfile.gettempdir`, so a ``TMPDIR`` longer than about 75 bytes failed every
    batch with ``OSError: AF_UNIX path too long``. Then, as later Pythons do themselves, it is
    made in the first short system folder that takes it (private, mode 0700, removed by
    multiprocessing when this process exits): ``tempfile.tempdir`` points there only for the
    instant multiprocessing creates it, so the caller's other temporary files stay in
    ``TMPDIR``. Decided by the folder's length, not the Python version, so where Python falls
    back by itself this changes nothing. A folder made earlier by another use of
    multiprocessing in this process is kept as it is (and judged as it is)."""
    from multiprocessing import util

    if not _socket_fits(os.path.join(tempfile.gettempdir(), "pymp-XXXXXXXX")):
        saved = tempfile.tempdir
        for base in SHORT_TEMP_DIRS:
            tempfile.tempdir = base
            try:
                util.get_temp_dir()  # made once per process; later calls return it
                break
            except OSError:  # absent, read-only or full: the next one
                continue
            finally:
                tempfile.tempdir = saved
    try:
        folder = util.get_temp_dir()
    except OSError:
        return None
    return folder if _socket_fits(folder) else None


def mp_context() -> Any:
    """``forkserver`` on Linux, else ``spawn``.

    Where no folder short enough for the forkserver's socket can be had (a long ``TMPDIR``
    and no writable ``/tmp``, ``/var/tmp`` or ``/usr/tmp``: :func:`_forkserver_temp_dir`),
    ``spawn``, which needs no socket: the batch runs as on other systems, each worker
    importing numpy & co. itself (slower to start), rather than failing."""
    import multiprocessing as mp

    if sys.platform.startswith("linux") and _forkserver_temp_dir() is not None:
        ctx = mp.get_context("forkserver")
        # Children fork from a server that has numpy & co. imported already: cheap restarts.
        # (the overlay's module too: a worker's first film imports it on its way to the
        # overlay's preparation, brooker.pipeline.grade_path)
        ctx.set_forkserver_preload(["brooker.batch", "brooker.pipeline", "brooker.overlay"])
        return ctx
    return mp.get_context("spawn")


def start_server() -> None:
    """Start the forkserver the workers of :func:`brooker.batch.grade_many` fork from, if it
    is not running (a no-op where workers are spawned: :func:`mp_context`).

    The server imports numpy, scipy and the pipeline (about half a second) before it forks
    the first worker. Started as a run begins, it does so while the command line parses its
    options, looks for the inputs and sets up the run, instead of after: on a single film that
    is much of the wait for its answer. As when the first worker starts it, with one BLAS
    thread (:mod:`brooker.threads`).

    Started with Ctrl-C (SIGINT) ignored, which it keeps: multiprocessing's server ignores
    SIGINT only once its imports are done, and a Ctrl-C at the terminal reaches every
    process of the group, so one in that first half second printed the server's
    KeyboardInterrupt traceback under the run's own "interrupted". The run handles Ctrl-C
    and stops its workers (which ignore it too: :func:`brooker.batch._worker_main`)."""
    ctx = mp_context()
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    with worker_environment(), _sigint_ignored():
        forkserver.ensure_running()


@contextlib.contextmanager
def worker_environment() -> Iterator[None]:
    """The environment the workers' processes (and the forkserver they fork from, which the
    first of them starts when :func:`start_server` has not) start with: one BLAS thread
    (:func:`brooker.threads.for_workers`) and Python's safe path (:func:`_safe_path`), both
    set for that moment only. Every start of a worker or the server goes through here."""
    with threads.for_workers(), _safe_path():
        yield


def package_root() -> str:
    """The folder this process imported the ``brooker`` package from (the one holding it)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ahead_of_stdlib(folder: str) -> bool:
    """Whether ``folder`` is on this process's ``sys.path`` ahead of the standard library, as
    an entry of ``PYTHONPATH`` would be in the server: the working directory of ``python -m``
    or a script's own folder, an entry put first, the user's ``PYTHONPATH``. Not one that comes
    after (a ``.pth`` file's, as an editable install's; a script's ``sys.path.append``), nor a
    package an import hook found (a newer editable install): put first in the server, such a
    folder's other modules would stand in for the standard library's there and not here, and
    the server's own start-up (the same ``.pth`` files and hooks) finds those anyway."""
    real = os.path.realpath(folder)
    entries = [os.path.realpath(p or os.getcwd()) for p in sys.path]
    stdlib = os.path.realpath(os.path.dirname(os.__file__))
    if real not in entries:
        return False
    return entries.index(real) < (entries.index(stdlib) if stdlib in entries else len(entries))


@contextlib.contextmanager
def _safe_path() -> Iterator[None]:
    """The server started with Python's safe path (``PYTHONSAFEPATH``, Python 3.11+) and with
    the folder this process's ``brooker`` came from first on ``PYTHONPATH``, both set for that
    moment only and taken out again after.

    multiprocessing starts the server as ``python -c ...``, which puts the working directory
    first on ``sys.path`` before the server imports brooker: a folder named ``brooker`` there
    (an earlier run's ``--out brooker``, or a checkout of another version) was imported in
    place of the installed package, and every film of the run failed (an editable install
    lost to an empty folder of that name: its package is found after the path's). The
    command line's own process never had the working directory on its path (nor a script
    calling :func:`brooker.batch.grade_many`, which starts the server with its first worker,
    within this too).

    The safe path alone lost the other way round: a checkout run from its own folder
    (``python -m brooker``, or a script beside its package) graded its films with whichever
    brooker was installed, or failed every film where none was, because the server of Python
    3.11-3.12 does not take its parent's ``sys.path`` (multiprocessing passes it and leaves it
    unused). So this process's own package folder goes first on the server's ``PYTHONPATH``
    where it is ahead of the standard library here too (:func:`_ahead_of_stdlib`), and can be
    one entry of it (no ``os.pathsep`` in its name). Where it cannot, each worker checks the
    brooker it imported against this one's (:func:`brooker.batch.other_package`) and says so
    in every record, rather than grade with other code."""
    before = os.environ.get("PYTHONSAFEPATH")
    if not before:  # unset, or empty, which Python takes as unset
        os.environ["PYTHONSAFEPATH"] = "1"
    path_before = os.environ.get("PYTHONPATH")
    root = package_root()
    entries = path_before.split(os.pathsep) if path_before else []
    if os.pathsep not in root and _ahead_of_stdlib(root) and entries[:1] != [root]:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *entries])
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        elif not before:
            os.environ["PYTHONSAFEPATH"] = before
        if path_before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = path_before


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored by the processes started within, which inherit that through exec (and
    Python leaves an inherited SIGINT ignored). This process only holds a Ctrl-C back
    meanwhile: SIGINT is blocked too (Linux keeps a blocked signal pending even while its
    action is to ignore it), and arrives once its handler is back. Only in the main thread,
    where Python handles signals; as it was elsewhere."""
    handler = signal.getsignal(signal.SIGINT)
    usable = hasattr(signal, "pthread_sigmask") and handler is not None
    if not usable or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


#: Options of ``grade`` after which no local worker is started: help, or a Dask cluster's
#: workers grading instead (``--dask-scheduler``).
_NO_LOCAL_WORKERS: Final = ("--help", "--dask-scheduler")


def start_for_command(argv: Sequence[str]) -> None:
    """Start the server as a command line ``argv`` (without the program's name) begins, if it
    is a ``grade`` that will fork local workers.

    Called before the options are parsed, on the words as typed, so a guess: a ``grade``
    whose options turn out wrong (or an option's value spelt ``--``, ``--help`` or
    ``--dask-scheduler``: a start made or missed for nothing, which costs only time) leaves a
    server no worker uses, which :func:`stop_begun` stops as the command ends. Any error is
    left for the run's own start of the server (:func:`start_server`, again, once the options
    are checked), which reports it with the run's error handling. Once begun, a second call
    does nothing."""
    global _begun_early
    if _begun_early:  # by the console script (brooker.launch), before brooker.cli.main
        return
    if not argv or argv[0] != "grade":
        return
    for word in argv[1:]:
        if word == "--":
            break
        if word.split("=", 1)[0] in _NO_LOCAL_WORKERS:
            return
    try:
        start_server()
    except Exception:  # repeated, and reported, by the run itself
        return
    _begun_early = True


#: Whether :func:`start_for_command` began the server (:func:`stop_begun` stops it).
_begun_early = False


def stop_begun() -> None:
    """Stop the server :func:`start_for_command` began, as the command ends: its workers are
    done (a run stops them before it returns, finished or not).

    It would end by itself once it sees this process gone, but only after its imports are
    done (about half a second when no worker came to use it: a usage error, no inputs) or
    after the interpreter's own teardown (about 0.07 s), and until then it holds this
    process's standard output and error: a caller reading them to the end (``$(brooker grade
    ...)``, a pipe, a CI log) waited that long for the run's last line. SIGTERM ends it at
    once (it ignores only SIGINT). A later command in this process begins its own."""
    global _begun_early
    if not _begun_early:
        return
    _begun_early = False
    from multiprocessing import forkserver

    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if not isinstance(pid, int):  # another multiprocessing: it ends by itself, as before
        return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
        # dead before this returns, and left for multiprocessing to reap: a server started
        # again in this process (grade_many, another command) sees it gone, not a dying one
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
