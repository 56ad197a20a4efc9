"""Input paths: opened only when they are regular files, and kept byte-exact as text.

Two rules every module that touches an input path follows:

- **Regular files only.** A FIFO blocks ``open`` until a writer appears, ``/dev/zero`` never
  ends, a socket cannot be read: :func:`open_regular` refuses them *before* opening (from
  ``stat``) and again after (``fstat`` of what was opened, in non-blocking mode, so a file
  swapped for a FIFO in between still cannot hang). Errors are typed: ``not_found``,
  ``unreadable``, ``not_a_regular_file``.
- **Paths are text with surrogate escapes.** Python gives a file name that is not valid UTF-8
  as ``str`` with each undecodable byte ``0xNN`` as the lone surrogate ``U+DCNN``
  (``os.fsdecode``); ``os.fsencode`` gives the bytes back exactly. Records, resume and the CSV
  keep that text (see :func:`brooker.batch.record_line` for its JSON form); only the terminal
  shows it escaped.

This module is light (``os`` and ``stat`` only) so that discovery and the command line can use
it without importing numpy or pydicom.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO, Final

from brooker.errors import InputNotFoundError, SpecialFileError, UnreadableInputError

__all__ = ["check_regular_file", "file_kind", "open_regular", "require_text_path", "safe_stem"]


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words (``"a regular file"``, ``"a FIFO (named pipe)"``...)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse(path: str, mode: int) -> SpecialFileError:
    return SpecialFileError(f"is {file_kind(mode)}, not a regular file; not opened", path)


#: What "no such file" says of ``-``: ``cat film.dcm | brooker grade -`` names a file ``-`` (as
#: to ``cp``), which a reader may have meant as standard input.
_NO_SUCH_DASH: Final = (
    "no such file or folder (films are read from files, not from standard input; "
    "`brooker grade --files-from -` reads a list of their paths from it)"
)


def _not_there(path: str | os.PathLike[str], where: str) -> str:
    """Why nothing is at ``path``: a link says where it points (a disk not mounted, a file
    moved), so the reader knows what to look for."""
    if where == "-":
        return _NO_SUCH_DASH
    if not os.path.islink(path):  # nothing there at all (a mistyped folder too)
        return "no such file or folder"
    # where the link (or the chain of links) ends: absolute, whatever the link's own spelling
    target = os.fsdecode(os.path.realpath(path))
    return f"a symbolic link to {target}, which does not exist"


def check_regular_file(path: str | os.PathLike[str]) -> os.stat_result:
    """``os.stat`` of ``path`` (links followed) when it is a regular file; never opens it.

    Raises
    ------
    InputNotFoundError
        Nothing there (or a dangling link).
    UnreadableInputError
        ``stat`` itself failed (a folder on the way cannot be searched, an I/O error).
    SpecialFileError
        A folder, FIFO, device or socket.
    """
    where = os.fsdecode(path)
    if not where:  # os.stat("") fails as "no such file"; say why
        raise InputNotFoundError("an empty path names no file", "")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputNotFoundError(_not_there(path, where), where) from None
    except OSError as exc:
        raise UnreadableInputError(
            f"cannot be read ({exc.strerror or type(exc).__name__})", where
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(where, st.st_mode)
    return st


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading in binary mode; refuse anything else without blocking.

    ``O_NONBLOCK`` makes opening a FIFO return at once (and is harmless for a regular file);
    ``O_NOCTTY`` keeps a terminal device from becoming our controlling terminal. The opened
    descriptor is checked with ``fstat`` too.

    Raises
    ------
    InputNotFoundError, UnreadableInputError, SpecialFileError
        As :func:`check_regular_file`; ``UnreadableInputError`` also when ``open`` fails
        (permission denied).
    """
    where = os.fsdecode(path)
    check_regular_file(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:  # gone since it was looked at
        raise InputNotFoundError(_not_there(path, where), where) from None
    except OSError as exc:
        raise UnreadableInputError(
            f"cannot be opened ({exc.strerror or type(exc).__name__})", where
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(where, st.st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def require_text_path(value: object, takes: str) -> None:
    """Refuse, with a ``TypeError`` naming what was given, a ``value`` that is not a path as
    text: ``str``, or an ``os.PathLike`` giving ``str`` (the module docstring: paths are text).

    ``takes`` is what the caller takes (``"analyze() takes a file's path ..."``). A film's
    content in memory (``bytes``, an open file) was taken for a path and refused as
    ``malformed_dicom`` or "embedded null character", as if the film were at fault; brooker
    reads films from files only.

    >>> require_text_path(b"\\x00\\x00DICM", "f() takes a path")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    TypeError: f() takes a path, not bytes: to grade a film held in memory, write it to a file...
    """
    if isinstance(value, str):
        return
    if isinstance(value, os.PathLike):
        text = os.fspath(value)
        if isinstance(text, str):
            return
        given = f"{type(value).__name__} giving {type(text).__name__}"
    else:
        given = type(value).__name__
    hint = ""
    if isinstance(value, bytes | bytearray | memoryview) or hasattr(value, "read"):
        hint = (
            ": to grade a film held in memory, write it to a file and pass that file's path"
        )
        if isinstance(value, bytes):
            hint += " (a path held as bytes: os.fsdecode() it)"
    raise TypeError(f"{takes}, not {given}{hint}")


def require_folder(out_dir: str | os.PathLike[str], caller: str) -> None:
    """Refuse an ``out_dir`` that no folder can be made at, with a ``NotADirectoryError``
    naming it, before any film is read: a file of that name, a link to nothing or a loop, or
    a file where one of the folders above it should be. Writing the first overlay raised a
    ``FileExistsError`` (or ``NotADirectoryError``) about a path the caller never gave as a
    file, after the film was graded. A folder not there yet is made when the first output is
    written.

    >>> require_folder(__file__, "f()")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    NotADirectoryError: [Errno 20] f(): out_dir is a file, not a folder: '...paths.py'
    """
    folder = os.fspath(out_dir)
    if os.path.isdir(folder):
        return
    if os.path.lexists(folder):
        what = "a file" if os.path.exists(folder) else "a link to nothing (or a loop)"
        raise NotADirectoryError(
            errno.ENOTDIR, f"{caller}: out_dir is {what}, not a folder", folder
        )
    above = os.path.dirname(os.path.abspath(folder))
    while not os.path.lexists(above) and os.path.dirname(above) != above:
        above = os.path.dirname(above)
    if not os.path.isdir(above):
        raise NotADirectoryError(
            errno.ENOTDIR, f"{caller}: out_dir cannot be made: {above} is not a folder", folder
        )


def safe_stem(name: str, default: str = "image") -> str:
    """``name`` fit to start an output file name: one name in the output folder (a path
    separator or NUL becomes ``_``, so a caller's ``overlay_name`` such as ``../x`` or ``/x``
    can neither write nor remove a file outside it), no leading ``-`` (read as an option by
    shell tools) or ``.`` (hidden), never empty.

    >>> safe_stem("--rf-0a1b2c3d")
    'rf-0a1b2c3d'
    >>> safe_stem("-")
    'image'
    >>> safe_stem("../../x")
    '_.._x'
    """
    for sep in ("/", os.sep, os.altsep or "/", "\0"):
        name = name.replace(sep, "_")
    return name.lstrip("-.") or default


def is_rgb_png(path: str | os.PathLike[str]) -> bool:
    """A PNG whose header says 8-bit RGB (IHDR colour type 2)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(26)
    except OSError:
        return False
    png = head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return png and head[24:26] == b"\x08\x02"  # bit depth 8, colour type 2


def is_drawn_overlay(path: str | os.PathLike[str]) -> bool:
    """A regular file (not a link: what a run writes is renamed into place) that is an 8-bit
    RGB PNG, as every overlay and hip crop is; a film, or anything else, kept under such a
    name is neither."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
    except OSError:
        return False
    return is_rgb_png(path)
