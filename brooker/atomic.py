"""Atomic file writes: readers see the old file or the new one, never a part of either.

Every output brooker writes (overlays, results and manifest files, CSV, synthetic DICOM) goes
through :func:`atomic_write_bytes`, so an interrupted run leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

#: The temporary file :func:`atomic_write_bytes` writes ``<name>`` through, in its folder:
#: ``.<name>.<12 hex digits>.tmp``.
_TEMPORARY = re.compile(r"\.(.+)\.[0-9a-f]{12}\.tmp", re.DOTALL)


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644, follow: bool = False
) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, rename.

    The folder is created if needed and fsynced after the rename. ``mode`` is the new file's
    permission bits before the process's umask, as for any file ``open`` creates (``mkstemp``
    alone would leave 0600 on an ordinary output file; a fixed ``fchmod`` would make files
    readable by all on a site whose umask keeps them private).

    ``follow`` (a file the user named: ``--csv``, ``report -o``): through a symbolic link the
    file the link names is replaced and the link stays, and a device or FIFO
    (``--csv /dev/stdout``) is written through as the stream it is, never replaced by a
    regular file. Without it (the run's own files in ``--out``) a link there is replaced.
    """
    named = Path(path)
    target = named
    if follow:
        try:
            fd = open_descriptor(named)
            if fd is not None:  # /dev/stdout: the stream as it is open (appending, a pipe)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                return named
            if is_stream(named):
                with open(named, "wb") as stream:
                    stream.write(data)
                return named
        except OSError as exc:
            _name_the_file(exc, named)
            raise
        target = Path(os.path.realpath(named))
    folder = target.parent.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    # what mkstemp used: binary and not inherited on Windows too (text mode would turn a
    # PNG's LF bytes into CRLF)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for name in ("O_CLOEXEC", "O_BINARY", "O_NOINHERIT"):
        flags |= getattr(os, name, 0)
    tmp = _temporary_name(folder, target.name)
    # opened inside the try: a stop (KeyboardInterrupt, which brooker grade raises for SIGTERM
    # and SIGHUP too) raised the instant os.open returns removes it as well
    try:
        while True:
            try:
                fd = os.open(tmp, flags, mode)  # the umask applies, as for any new file
                break
            except FileExistsError:  # pragma: no cover - 48 random bits
                tmp = _temporary_name(folder, target.name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            _name_the_file(exc, named, tmp)
        raise
    _fsync_dir(folder)
    return named


def _name_the_file(exc: OSError, named: Path, tmp: Path | None = None) -> None:
    """``exc`` naming ``named``, the file being written, where it named ``tmp`` (the
    temporary file, removed by then) or no file at all: a write or fsync that fails names
    none (a full disk read "output: cannot write: No space left on device", a robustness test
    of 2026-12-08). An OSError with no errno keeps its message (a file name would replace
    it)."""
    unnamed = exc.filename is None and exc.errno is not None
    if unnamed or (tmp is not None and exc.filename == os.fspath(tmp)):
        exc.filename, exc.filename2 = os.fspath(named), None


def _temporary_name(folder: Path, name: str) -> Path:
    """A new name for the temporary file ``name`` is written through (:data:`_TEMPORARY`)."""
    return folder / f".{name}.{secrets.token_hex(6)}.tmp"


def temporary_of(name: str) -> str | None:
    """The name of the file that ``name``, a temporary file of :func:`atomic_write_bytes`,
    was to become; None when ``name`` is not one."""
    m = _TEMPORARY.fullmatch(name)
    return None if m is None else m.group(1)


def leftover_temporaries(folder: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """The temporary files of :func:`atomic_write_bytes` in ``folder``, by the name of the
    file each was to become (none when the folder cannot be listed).

    A writer killed between creating its temporary file and renaming it (SIGKILL, a worker
    killed at its time limit: no cleanup runs) leaves it behind; only the caller can tell
    such a file from one that another process is writing now."""
    found: dict[str, list[Path]] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                made = temporary_of(entry.name)
                if made is not None:
                    found.setdefault(made, []).append(Path(entry.path))
    except OSError:
        pass
    return found


def remove_temporaries(
    folder: str | os.PathLike[str],
    names: Iterable[str],
    found: Mapping[str, list[Path]] | None = None,
) -> None:
    """Remove the temporary files that writes of the files ``names`` left in ``folder``
    (:func:`leftover_temporaries`, listed once; ``found``: that listing, already made): for
    files no other process is writing now."""
    found = leftover_temporaries(folder) if found is None else found
    for name in names:
        for tmp in found.get(name, ()):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


#: Paths that name one of this process's open descriptors: written to it as it is open (a
#: file opened again by name would be truncated, and replaced by a rename).
_DESCRIPTOR_PATHS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def open_descriptor(path: str | os.PathLike[str]) -> int | None:
    """The open file descriptor ``path`` names (``/dev/stdout``, ``/dev/fd/N``,
    ``/proc/self/fd/N``), or None."""
    text = os.fspath(path)
    if text in _DESCRIPTOR_PATHS:
        return _DESCRIPTOR_PATHS[text]
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if text.startswith(prefix) and text[len(prefix) :].isdigit():
            return int(text[len(prefix) :])
    return None


def is_stream(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is written as a stream, never replaced: an open descriptor's name, or
    an existing device or FIFO (after links)."""
    if open_descriptor(path) is not None:
        return True
    try:
        kind = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(kind) or stat.S_ISDIR(kind))
