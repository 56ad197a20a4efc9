"""Many inputs -> records: discovery, worker processes, resume and the output files.

The per-file work is :func:`brooker.pipeline.grade_path`; this module only runs it many times,
safely:

- **Discovery** (:func:`discover`). Folders are searched (recursively by default) for DICOM
  (and PNG, JPEG and TIFF images, by their signatures: :func:`brooker.image_io.image_kind`) by
  content, never by extension: the 128-byte preamble followed by ``DICM``, or, for files
  written without a preamble, a plausible first data element (group 0002 or 0008, increasing
  tags, a valid VR or a sane length) read from the first few kilobytes. A file whose content
  is not recognised is skipped and named (:attr:`Discovery.skipped_files`), unless its *name*
  says it is a film (:data:`IMAGE_SUFFIXES`): that one is an input and gets its ``error``
  record, as it would named on the command line, so a damaged film in an archive is never
  silently missing. A DICOMDIR (a media folder's index: :func:`is_dicomdir_head`) and a
  macOS resource fork (``._IM0001.dcm``: :func:`is_apple_double`) are skipped and counted.
  Files named explicitly are always attempted, so a broken file given by name gets an
  ``error`` record. The order is deterministic (sorted by path string).
- **Sharding** (:func:`shard_of`). ``--shard I/N`` keeps the inputs whose stable hash (SHA-256
  of the normalised path string) is ``I`` modulo ``N``; ``I`` counts from 0 (``0/4`` ... ``3/4``),
  as ``SLURM_ARRAY_TASK_ID`` does for ``--array=0-3``.
- **Workers** (:func:`grade_many`). Each file is graded in a worker process (``forkserver`` on
  Linux, else ``spawn``: safe with numpy's threads; a ``TMPDIR`` too long for the forkserver's
  socket: :mod:`brooker.worker_server`) that handles one file at a time, so the parent can
  enforce a per-file time limit by killing that one worker. A file that times out
  gets an ``error`` record with code ``timeout``; a worker that dies (segfault, out-of-memory
  kill) gives ``internal_error``; either way the worker is replaced and the batch goes on.
  A worker lost to SIGTERM or SIGHUP (or with the forkserver that reports its end) may be one
  process of a job being cancelled (or whose terminal closed), whose batch process gets the
  signal a moment later: its record waits :data:`STOP_GRACE_S` for that
  (:func:`_maybe_stopping_too`), so a cancelled run does not end with ``internal_error``
  records for the files it was grading.
  ``workers=1`` still uses one subprocess, so the limit holds; ``workers=0`` grades in the
  calling process with no time limit (debugging, and what Dask workers do). An unexpected
  exception inside grading (a bug) becomes an ``internal_error`` record with a one-line message;
  its traceback goes to ``errors.log`` in the output folder, never to the console.
- **Outputs**. ``results.jsonl`` gets one record per line, appended and fsynced as each file
  finishes (completion order). Records do not carry timings, so runs with any number of workers
  give identical records. Each record carries ``input_sha256``, the SHA-256 of the whole file.
  :func:`write_csv` writes one row per hip (:data:`CSV_COLUMNS`), atomically;
  :func:`write_manifest` writes ``manifest.json`` atomically.
- **Resume** (:func:`load_resume_state`). An input is done when ``results.jsonl`` holds a record
  with the same real path *and* the same SHA-256. Hashing the whole file costs one extra read
  (fast next to decoding and grading, and only files whose path is already in the results are
  hashed by the parent) but never mistakes an edited file for a done one, which a
  size-plus-first/last-megabyte key would for an edit in the middle of the pixel data. A torn
  last line (a run killed mid-write) is cut off; records of a file whose content changed, and
  records with a transient error (``timeout``, ``internal_error``, ``not_found``), are dropped
  so that the file is graded again; duplicates are removed. The file is rewritten atomically, so
  a killed-and-resumed run ends with every input exactly once. A results file holding records
  of another brooker version is not resumed (:func:`check_resume_version`); the grading
  options are checked only by the command line, against its manifest.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import numbers
import os
import platform
import re
import stat
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

from brooker import worker_server
from brooker._version import __version__
from brooker.atomic import atomic_write_bytes, leftover_temporaries, remove_temporaries
from brooker.config import AnalysisConfig, config_or_default
from brooker.errors import (
    BrookerError,
    ConfigError,
    OutputError,
    SpecialFileError,
    UnreadableInputError,
    is_environment_oserror,
    output_error,
    path_named,
)
from brooker.image_io import SUFFIX_KINDS, image_kind
from brooker.models import ErrorInfo, GradingResult, Status, centres_graded_in
from brooker.paths import (
    is_drawn_overlay,
    is_rgb_png,
    open_regular,
    require_folder,
    require_text_path,
)
from brooker.safe_text import term
from brooker.units import DICOMDIR_SOP_CLASS

#: Default per-file time limit, seconds (a 43 cm plate at 0.1 mm grades in a few seconds).
DEFAULT_TIMEOUT_S: float = 300.0
#: The longest single wait of the worker pool for a result, s: a time limit further off than
#: this is reached in several waits (a day's worth of milliseconds fits every selector).
_MAX_WAIT_S: Final = 86400.0

#: Name of the results file in the output folder.
RESULTS_NAME = "results.jsonl"
#: Name of the run manifest in the output folder.
MANIFEST_NAME = "manifest.json"
#: Tracebacks of internal errors (bugs) go here, in the output folder.
ERROR_LOG_NAME = "errors.log"

#: Error codes of records that a resumed run grades again.
TRANSIENT_ERROR_CODES = frozenset(
    {"timeout", "internal_error", "not_found", "unreadable", "disk_full", "output_not_writable"}
)
#: Error codes of records whose output (an overlay) could not be written: the environment.
OUTPUT_ERROR_CODES = frozenset({"disk_full", "output_not_writable"})

#: How many bytes of a file :func:`looks_like_dicom` reads.
SNIFF_BYTES = 4096

#: A per-file grading function with the signature of :func:`brooker.pipeline.grade_path`.
GradeFn = Callable[..., GradingResult]


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------

_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL "
    b"UN UR US UT UV".split()
)
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ UC UN UR UT SV UV".split())


def _plausible_elements(head: bytes, little: bool, explicit: bool) -> bool:
    """True when ``head`` starts with at least two well-formed data elements (or one that
    fills the buffer), in increasing tag order, in the first group 0002 or 0008."""
    order: Literal["little", "big"] = "little" if little else "big"
    pos = 0
    last_tag = -1
    n = 0
    while pos + 8 <= len(head) and n < 8:
        group = int.from_bytes(head[pos : pos + 2], order)
        elem = int.from_bytes(head[pos + 2 : pos + 4], order)
        tag = (group << 16) | elem
        if n == 0 and group not in (0x0002, 0x0008):
            return False
        if tag <= last_tag or group > 0x7FE0:
            return False
        if explicit:
            vr = head[pos + 4 : pos + 6]
            if vr not in _VRS:
                return False
            if vr in _LONG_VRS:
                if pos + 12 > len(head):
                    return n >= 1
                length = int.from_bytes(head[pos + 8 : pos + 12], order)
                pos += 12
            else:
                length = int.from_bytes(head[pos + 6 : pos + 8], order)
                pos += 8
        else:
            length = int.from_bytes(head[pos + 4 : pos + 8], order)
            pos += 8
        if length == 0xFFFFFFFF:  # undefined length (a sequence): cannot skip cheaply
            return n >= 1
        if length > 0x00FFFFFF:
            return False
        pos += length
        last_tag = tag
        n += 1
    return n >= 2 or (n == 1 and pos >= len(head))


def looks_like_dicom(path: str | os.PathLike[str]) -> bool:
    """Cheap content test: is this file DICOM? Reads at most :data:`SNIFF_BYTES` bytes.

    True for a Part 10 file (128-byte preamble, then ``DICM``) and for a bare data set written
    without preamble or file meta (first elements in group 0002 or 0008, in explicit or implicit
    VR, little or big endian). Unreadable files, and anything that is not a regular file (a
    FIFO, a device: never opened), are not DICOM.
    """
    try:
        return _sniff_head(path)[0]
    except BrookerError:
        return False


def _sniff_head(path: str | os.PathLike[str]) -> tuple[bool, bytes]:
    """:func:`looks_like_dicom`, raising the typed error of a file that cannot be read, and
    the first :data:`SNIFF_BYTES` bytes read."""
    try:
        with open_regular(path) as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:  # a read error after a successful open
        raise UnreadableInputError(
            f"cannot be read ({exc.strerror or type(exc).__name__})", os.fsdecode(path)
        ) from None
    return _dicom_head(head), head


def is_dicomdir_head(head: bytes) -> bool:
    """Do these first bytes of a Part 10 file declare a DICOMDIR (the index of a DICOM media
    folder, (0002,0002) Media Storage SOP Class UID 1.2.840.10008.1.3.10)?"""
    start = 132 if head[128:132] == b"DICM" else 4 if head[:4] == b"DICM" else -1
    if start < 0:
        return False
    at = head.find(b"\x02\x00\x02\x00UI", start)  # file meta: explicit VR little endian
    if at < 0:
        return False
    n = int.from_bytes(head[at + 6 : at + 8], "little")
    return head[at + 8 : at + 8 + n].rstrip(b"\x00 ") == DICOMDIR_SOP_CLASS.encode()


def _dicom_head(head: bytes) -> bool:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if head[:4] == b"DICM":  # meta without the preamble
        return True
    return any(
        _plausible_elements(head, little, explicit)
        for little in (True, False)
        for explicit in (True, False)
    )


#: File-name endings (compared without case) that say a file is a film: one of these found in a
#: folder whose content is neither DICOM nor PNG/JPEG/TIFF is an input all the same, and gets
#: the ``error`` record it gets when named on the command line (``not_dicom``: an empty file,
#: a text file, a film whose ``DICM`` marker was overwritten), not a silent skip. Folders are
#: still searched by content (archives hold DICOM files with no extension, and readme files,
#: indexes, reports beside them): the name only keeps a damaged film from disappearing.
IMAGE_SUFFIXES: Final = (".dcm", ".dicom", *SUFFIX_KINDS)

#: The first bytes of an AppleDouble file (``._NAME``: the resource fork and attributes that
#: macOS writes beside every file it copies to a FAT, exFAT or network volume).
_APPLE_DOUBLE_MAGIC: Final = b"\x00\x05\x16\x07"


def named_like_a_film(name: str) -> bool:
    """Whether a file's name ends in one of :data:`IMAGE_SUFFIXES` (any case).

    >>> named_like_a_film("IM0001.DCM"), named_like_a_film("readme.txt")
    (True, False)
    """
    return name.lower().endswith(IMAGE_SUFFIXES)


def is_apple_double(name: str, head: bytes) -> bool:
    """Whether a file is macOS's AppleDouble companion of another (``._IM0001.dcm`` beside
    ``IM0001.dcm`` on a USB stick that a Mac wrote): named like a film, it is none, and every
    film of such an archive has one."""
    return name.startswith("._") and head[:4] == _APPLE_DOUBLE_MAGIC


@dataclass(frozen=True, slots=True)
class Discovery:
    """What :func:`discover` found.

    ``files`` are the inputs to grade, sorted by path string, without duplicates (a file named
    twice, or found by two arguments, is graded once). ``missing`` lists named paths that do not
    exist (also in ``files``: they get a ``not_found`` record). ``skipped_non_dicom`` counts
    regular files found in folders that are neither DICOM nor an image, by content, and not
    named like one (:data:`IMAGE_SUFFIXES`: those are in ``files``, and get an ``error``
    record); ``skipped_files`` names them. ``skipped_special`` lists what was found
    in folders but is not a regular file (FIFOs, devices, sockets, dangling links): never
    opened, counted and reported. Files and sub-folders that cannot be read are in ``files``
    (they get an ``unreadable`` record) and listed in ``unreadable``.
    """

    files: tuple[str, ...]
    missing: tuple[str, ...] = ()
    skipped_non_dicom: int = 0
    skipped_dicomdir: int = 0
    """DICOMDIR files found in folders (the index of a CD or an export, no image: the images
    it lists are graded where they are found); a DICOMDIR named explicitly is attempted and
    gets a ``not_an_image`` record."""
    skipped_special: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()
    run_folders: tuple[str, ...] = ()
    """Folders holding another brooker run's output (:func:`is_run_folder`): the files that
    run wrote there (:func:`run_outputs`) are not inputs; anything else in them is."""
    skipped_files: tuple[str, ...] = ()
    """The files ``skipped_non_dicom`` counts, sorted: a readme, a report, a DICOMDIR-less
    index, an extensionless file that is not DICOM; never one named like a film. macOS
    resource forks (:func:`is_apple_double`) are among them."""
    empty_folders: tuple[str, ...] = ()
    """Folder arguments (as given, normalised) in which nothing to grade was found: with other
    inputs beside them the run goes on, and says so (a mistyped or unmounted folder)."""


def _is_regular(entry: os.DirEntry[str]) -> bool:
    """A regular file, not through a link (a FIFO named like a run file would block)."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def is_run_folder(folder: str | os.PathLike[str], names: Iterable[str] | None = None) -> bool:
    """Whether ``folder`` holds the output of a brooker run: a ``manifest*.json`` that
    ``brooker grade`` wrote (its ``command``), or a ``results*.jsonl`` or Dask part
    (``part-NNNNN.jsonl``, :func:`brooker.distributed.grade_bag`) whose first line is a brooker
    record (neither ``grade_many`` nor ``grade_bag`` writes a manifest). ``names``: the
    folder's file names, when the caller has listed it already."""
    if names is None:
        try:
            with os.scandir(folder) as it:
                names = [e.name for e in it if _is_regular(e)]
        except OSError:
            return False
    for name in sorted(names):
        path = os.path.join(folder, name)
        records = name.startswith("results") and name.endswith(".jsonl")
        try:
            if name.startswith("manifest") and name.endswith(".json"):
                with open(path, "rb") as fh:
                    head = json.loads(fh.read(1 << 20))
                if isinstance(head, dict) and head.get("command") == "grade":
                    return True
            elif records or _PART_NAME.fullmatch(name):
                with open(path, "rb") as fh:
                    first = json.loads(fh.readline(1 << 20))
                if isinstance(first, dict) and {"file", "status", "version"} <= set(first):
                    return True
        except (OSError, ValueError):
            continue
    return False


#: The files a run writes in its --out under fixed names: records, manifests, the error
#: log, the review page (a shard's too, ``report.shard-I-of-N.html``), Dask parts, the lock
#: (and the thumbnails' folder, .report-thumbs).
_RUN_FILE = re.compile(
    r"(?:results.*\.jsonl|manifest.*\.json|errors\.log|report(?:\.shard-\d+-of-\d+)?\.html"
    r"|part-.*\.jsonl|\..*\.lock|\.report-thumbs)"
)
#: An overlay's name, ``<stem>-<16 hex>.png`` (8 before 505b8f6), or a hip crop's.
_OVERLAY_NAME = re.compile(r".+-[0-9a-f]{8}(?:[0-9a-f]{8})?(?:-(?:left|right))?\.png")


def is_run_file_name(name: str) -> bool:
    """Whether ``name`` is one a run gives a file in its --out: a fixed-name file (records,
    manifest, log, review page, Dask part, lock) or an overlay's (``<stem>-<hex>.png``)."""
    return bool(_RUN_FILE.fullmatch(name) or _OVERLAY_NAME.fullmatch(name))


#: A review page's name (``report.html``, a shard's ``report.shard-I-of-N.html``).
_PAGE_NAME = re.compile(r"report(?:\.shard-\d+-of-\d+)?\.html")


def names_a_run_file(
    target: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, pages: bool = True
) -> bool:
    """Whether ``target`` is a file a run keeps in ``out_dir`` (:func:`is_run_file_name`), by
    the name as given and by the file it reaches (a run's file in ``out_dir`` may be a link
    to one kept elsewhere): what ``grade --csv`` and ``report -o`` must not write over. With
    ``pages=False`` a review page's name is not counted (``report -o`` writes pages)."""
    for path, folder in (
        (os.path.abspath(target), os.path.abspath(out_dir)),
        (os.path.realpath(target), os.path.realpath(out_dir)),
    ):
        name = os.path.basename(path)
        if (
            os.path.dirname(path) == folder
            and is_run_file_name(name)
            and (pages or not _PAGE_NAME.fullmatch(name))
        ):
            return True
    return False


def run_outputs(folder: str | os.PathLike[str], names: Iterable[str]) -> set[str]:
    """The names among ``names`` (the regular files of ``folder``, a run folder:
    :func:`is_run_folder`) that a brooker run wrote there: its fixed-name files, the
    overlays its records name with their hip crops, and any PNG named like an overlay that is
    one (8-bit RGB, as every overlay is: a film named so, DICOM or greyscale, is an input).
    The thumbnails' folder (``.report-thumbs``) is the caller's to leave out."""
    names = set(names)
    written = {n for n in names if _RUN_FILE.fullmatch(n)}
    pngs = {n for n in names - written if n.endswith(".png")}
    if pngs:  # the records are read only when there is an overlay they could name
        for n in sorted(written):
            if n.endswith(".jsonl"):
                for base in _overlay_names(os.path.join(folder, n)):
                    stem = base[: -len(".png")]
                    written |= {base, f"{stem}-left.png", f"{stem}-right.png"} & pngs
    for n in pngs - written:
        if _OVERLAY_NAME.fullmatch(n) and is_rgb_png(os.path.join(folder, n)):
            written.add(n)
    return written


def _overlay_names(path: str) -> set[str]:
    """The file names of the overlays the records in ``path`` name (read line by line; only
    the lines that have an overlay are parsed); none when it cannot be read."""
    out: set[str] = set()
    try:
        with open(path, "rb") as fh:
            for raw in fh:
                # any spacing: a copy written by another tool (`jq -c`) is compact, and the
                # overlays it names must count as named (never removed as no one's)
                if b'"overlay"' not in raw:
                    continue
                try:
                    shown = json.loads(raw).get("overlay")
                except (ValueError, AttributeError):
                    continue
                if isinstance(shown, str) and shown.endswith(".png"):
                    out.add(os.path.basename(shown))
    except OSError:
        pass
    return out


def read_files_from(source: str | os.PathLike[str] | IO[str] | IO[bytes]) -> list[str]:
    """Paths listed one per line in a file (or an open stream, e.g. stdin).

    The list is read as bytes and each line decoded like a file name (``os.fsdecode``: UTF-8,
    any other byte kept as a surrogate escape), so a name that is not valid UTF-8 reaches the
    file it names. Blank lines are ignored; surrounding white space is stripped; a UTF-8
    byte-order mark at the start (a list saved by Notepad or a spreadsheet "with BOM") is not
    part of the first path.

    Raises
    ------
    ConfigError
        A line holds a NUL byte, which no path can (a list from ``find -print0``, say): the
        list is refused as a whole, before anything is graded.
    """
    if isinstance(source, str | os.PathLike):
        data = Path(source).read_bytes()
        where: str | None = os.fsdecode(source)
    else:
        raw = getattr(source, "buffer", source).read()
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
        where = None
    data = data.removeprefix(b"\xef\xbb\xbf")
    paths = []
    for number, line in enumerate(data.splitlines(), start=1):
        if b"\0" in line:
            raise ConfigError(
                f"line {number} holds a NUL byte, which no path can: the list is one path "
                "per line (a list from find -print0 is not read; use -print)",
                where,
            )
        name = os.fsdecode(line.strip())
        if name:
            paths.append(name)
    return paths


def _norm(path: str | os.PathLike[str]) -> str:
    return os.path.normpath(os.fspath(path))


def discover(
    paths: Iterable[str | os.PathLike[str]],
    *,
    recursive: bool = True,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> Discovery:
    """Expand files and folders into the DICOM files to grade.

    Parameters
    ----------
    paths : iterable of str or Path
        Files (always attempted, whatever their content or kind: a FIFO or a device named
        here gets its own ``not_a_regular_file`` record) and folders (searched for DICOM by
        content; recursively unless ``recursive=False``). Symbolic links are followed, to
        files and to folders (an archive linked in from another disk is searched); a folder
        already searched, by any path, is not searched again, so a link cycle cannot loop.
    recursive : bool
        Search sub-folders.
    exclude : iterable of str or Path
        Folders never searched when met inside a folder argument: the run's own output
        folder, whose overlays are PNG files (``brooker grade . --out brooker-out`` must not
        grade the overlays of its earlier run, or of the run it resumes). In a folder
        holding another run's output (:func:`is_run_folder`), the files that run wrote
        (:func:`run_outputs`) are left out too.

    Returns
    -------
    Discovery
    """
    skip_dirs = {os.path.realpath(os.fspath(x)) for x in exclude}
    found: dict[str, str] = {}  # realpath -> path as found, first wins
    missing: list[str] = []
    special: list[str] = []
    unreadable: list[str] = []
    skipped: list[str] = []  # regular files in folders that are neither DICOM nor an image
    indexes: list[str] = []  # DICOMDIR files in folders
    run_folders: list[str] = []  # folders holding another run's output
    searched: set[str] = set()  # real paths of the folders searched
    empty: list[str] = []  # folder arguments in which nothing to grade was found

    def add(p: str) -> None:
        key = os.path.realpath(p)
        if key not in found or p < found[key]:
            found[key] = p

    def walk(top: str) -> None:
        """Search ``top`` (and, if recursive, its sub-folders, with a stack: a folder tree of
        any depth cannot exhaust the recursion limit)."""
        stack = [top]
        while stack:
            folder = stack.pop()
            real = os.path.realpath(folder)
            if real in searched:  # reached again through a link (or a link cycle)
                continue
            searched.add(real)
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:  # a folder that cannot be listed gets its own `unreadable` record
                unreadable.append(folder)
                add(folder)
                continue
            # another run's --out (beside films, or above them): what it wrote there is
            # not an input (its overlays are PNG files), everything else is
            written: set[str] = set()
            regular = [e.name for e in entries if _is_regular(e)]
            if any(_RUN_FILE.fullmatch(n) for n in regular) and is_run_folder(folder, regular):
                run_folders.append(folder)
                written = run_outputs(folder, regular) | {".report-thumbs"}
            below: list[str] = []  # the sub-folders, searched next in name order
            for entry in entries:
                if entry.name in written:
                    continue
                # normalised like a named path ("./a" is "a"): the batch re-discovers the
                # files it is given, and the CLI orders records by these strings
                fp = _norm(os.path.join(folder, entry.name))
                try:
                    if entry.is_dir(follow_symlinks=False) or (
                        entry.is_symlink() and os.path.isdir(fp)
                    ):
                        if recursive and os.path.realpath(fp) not in skip_dirs:
                            below.append(fp)
                        continue
                    st_mode = os.stat(fp).st_mode
                except FileNotFoundError:  # a dangling link, or gone since listed
                    if entry.is_symlink() and named_like_a_film(entry.name):
                        # a film's link whose target is gone (a disk not mounted): graded,
                        # it gets the `not_found` record it gets when named. Keyed by its own
                        # place, not the target's: two links to one missing film (or a chain
                        # of links) are each missing
                        found.setdefault(os.path.abspath(fp), fp)
                    else:
                        special.append(fp)
                    continue
                except OSError:
                    unreadable.append(fp)
                    add(fp)
                    continue
                if not stat.S_ISREG(st_mode):
                    special.append(fp)
                    continue
                try:
                    is_dicom, head = _sniff_head(fp)
                except SpecialFileError:
                    special.append(fp)
                    continue
                except BrookerError:
                    unreadable.append(fp)
                    add(fp)
                    continue
                if is_dicom and is_dicomdir_head(head):
                    indexes.append(fp)  # a CD's or an export's index: its images are here
                elif is_dicom or image_kind(fp) is not None:
                    add(fp)
                elif named_like_a_film(entry.name) and not is_apple_double(entry.name, head):
                    # its name says it is a film and its content is not one (its DICM marker
                    # overwritten, emptied, truncated to text): graded, it gets the error
                    # record it gets when named, instead of vanishing among the skipped
                    add(fp)
                else:
                    skipped.append(fp)
            # the first by name is searched first: a folder reached also through a link
            # (`scans/a` and `scans/link_to_a`) is named as the first (the stack took the
            # last, the link's name as often as not), as two paths to one file are
            stack.extend(reversed(below))

    for raw in paths:
        if not os.fspath(raw):
            # an empty path names no file (normalised it would be ".": `grade "$DIR"` with
            # DIR unset would grade the working folder): a `not_found` record of its own
            missing.append("")
            continue
        p = _norm(raw)
        if os.path.isdir(p):
            before = len(found), len(unreadable)
            walk(p)
            if (len(found), len(unreadable)) == before and not _found_under(p, found):
                empty.append(p)  # nothing to grade in it (and none found there before)
        elif os.path.lexists(p) and not os.path.exists(p):  # a dangling link: by its place
            found.setdefault(os.path.abspath(p), p)
        elif os.path.lexists(p) or os.path.exists(p):
            add(p)  # any kind: named files are always attempted (and refused if special)
        else:
            missing.append(p)
    files = set(found.values()) | set(missing)

    def not_graded(p: str) -> bool:  # a file named as well gets its record: not skipped
        return p not in files and os.path.realpath(p) not in found

    skipped_files = tuple(sorted({p for p in skipped if not_graded(p)}))
    return Discovery(
        files=tuple(sorted(files)),
        missing=tuple(sorted(set(missing))),
        skipped_non_dicom=len(skipped_files),
        skipped_files=skipped_files,
        empty_folders=tuple(dict.fromkeys(empty)),
        skipped_dicomdir=len({p for p in indexes if not_graded(p)}),
        skipped_special=tuple(sorted({p for p in special if not_graded(p)})),
        unreadable=tuple(sorted(set(unreadable))),
        run_folders=tuple(sorted(set(run_folders))),
    )


def _found_under(folder: str, found: Mapping[str, str]) -> bool:
    """Whether a file already found (``found``: real path -> path) lies in ``folder``: a
    folder named twice, or inside another folder argument, is searched once and is not
    empty for it."""
    real = os.path.join(os.path.realpath(folder), "")
    return any(key.startswith(real) for key in found)


def input_paths(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], caller: str
) -> list[str | os.PathLike[str]]:
    """``paths`` as given to ``grade_many`` or ``grade_bag``, as a list: one path (``str`` or
    ``os.PathLike``) is one input, not its characters; a path that is not text (``bytes``,
    ``None``, an int) is a ``TypeError`` naming what was given
    (:func:`brooker.paths.require_text_path`). ``b"scans/"`` was split into its bytes as ints,
    and ``[b"scans/"]`` failed deep in discovery ("cannot use a string pattern on a
    bytes-like object"), saying nothing of which argument was wrong."""
    takes = f"{caller} takes paths (str or os.PathLike)"
    if isinstance(paths, bytes | bytearray | memoryview):
        require_text_path(paths, takes)
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    for path in items:
        require_text_path(path, takes)
    return items


def check_out_dir(
    out_dir: str | os.PathLike[str], paths: Iterable[str | os.PathLike[str]]
) -> None:
    """Refuse an output folder that is itself one of the folders being graded.

    :func:`discover` never searches the output folder when it is met *inside* a folder
    argument (its ``exclude``), but an output folder that *is* a folder argument (``grade .
    --out .``) would put this run's overlay PNGs among the inputs of the next run. A sub-folder
    of an input folder is fine.

    Parameters
    ----------
    out_dir : str or Path
        The output folder (it need not exist yet).
    paths : iterable of str or Path
        The files and folders to grade, as given to :func:`discover`.

    Raises
    ------
    ConfigError
        ``out_dir`` is the same folder (by real path) as one of ``paths``.
    """
    out_real = os.path.realpath(os.fspath(out_dir))
    for p in paths:
        if os.path.isdir(p) and os.path.realpath(p) == out_real:
            raise ConfigError(
                "is also a folder being graded: the overlays written there would be read as "
                "inputs by the next run; choose another output folder (a sub-folder is fine)",
                os.fspath(out_dir),
            )


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; raises ValueError otherwise.

    I and N are read as the command line reads every whole number (``--workers``: click's
    ``int``), so spaces around them are dropped, as from ``--shard "$(wc -l < f)/4"`` where
    BSD ``wc`` pads its count; the command line records the shard as ``"I/N"``.

    >>> parse_shard(" 1 / 3 ")
    (1, 3)
    """
    try:
        i_s, n_s = text.split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise ValueError(f"shard must be I/N with integers, got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"shard I/N needs 0 <= I < N (I counts from 0), got {text!r}")
    return i, n


def shard_of(path: str, n: int) -> int:
    """Stable shard number of ``path`` among ``n`` (SHA-256 of the normalised path string)."""
    digest = hashlib.sha256(_norm(path).encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n


def select_shard(files: Sequence[str], index: int, count: int) -> list[str]:
    """The inputs of shard ``index`` of ``count`` (order kept)."""
    return [f for f in files if shard_of(f, count) == index]


def shard_suffix(shard: tuple[int, int] | None) -> str:
    """What shard ``(I, N)`` adds to the names of its run's files, so that the shards of a job
    array can share one output folder: ``""`` for no shard, else ``".shard-I-of-N"``
    (``results.shard-I-of-N.jsonl``, ``manifest.shard-I-of-N.json``)."""
    return "" if shard is None else f".shard-{shard[0]}-of-{shard[1]}"


#: The name of a Dask partition file (:func:`brooker.distributed.grade_bag`):
#: ``part-NNNNN.jsonl`` for a run with no shard, ``part-shard-I-of-N-NNNNN.jsonl`` for shard I
#: of N.
_PART_NAME = re.compile(r"part-(?:shard-(\d+)-of-(\d+)-)?\d+\.jsonl")


def part_prefix(shard: tuple[int, int] | None) -> str:
    """The start of the names of the Dask partition files of shard ``(I, N)`` (or of a run
    with no shard): ``part-`` or ``part-shard-I-of-N-``, then the partition's number."""
    return "part-" if shard is None else f"part-shard-{shard[0]}-of-{shard[1]}-"


def part_run_suffix(name: str) -> str | None:
    """The :func:`shard_suffix` of the run that wrote the Dask partition file ``name`` (``""``
    for ``part-00000.jsonl``, ``".shard-1-of-4"`` for ``part-shard-1-of-4-00000.jsonl``), so
    the file's manifest is ``manifest{suffix}.json``; None: not a partition file's name."""
    m = _PART_NAME.fullmatch(name)
    if m is None:
        return None
    return "" if m.group(1) is None else f".shard-{m.group(1)}-of-{m.group(2)}"


# --------------------------------------------------------------------------------------------
# One file
# --------------------------------------------------------------------------------------------


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a regular file's whole content.

    Raises the typed errors of :func:`brooker.paths.open_regular` (``not_found``,
    ``unreadable``, ``not_a_regular_file``): a FIFO or a device is never opened, so hashing
    cannot block or run forever.
    """
    h = hashlib.sha256()
    with open_regular(path) as fh:
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        except OSError as exc:
            raise UnreadableInputError(
                f"cannot be read ({exc.strerror or type(exc).__name__})", os.fsdecode(path)
            ) from None
    return h.hexdigest()


def _input_error(path: str) -> BrookerError | None:
    """Why ``path`` cannot be graded at all (missing, a folder, special, unreadable), or None.

    Never opens anything but a regular file.
    """
    if os.path.isdir(path):
        try:
            with os.scandir(path):
                pass
        except OSError as exc:
            return UnreadableInputError(
                f"folder cannot be listed ({exc.strerror or type(exc).__name__})", path
            )
        return SpecialFileError("is a folder, not a file", path)
    try:
        file_sha256(path)
    except BrookerError as err:
        return err
    return None


def respelled(rec: Mapping[str, Any], path: str) -> dict[str, Any]:
    """``rec`` naming its file ``path`` (the same file spelt another way), its error's message
    too, which begins with the file's name as it was spelt when it was graded: a record kept
    by a resumed run, or graded on a Dask worker that reads the file by another path. Left
    with the old name, the message named the file twice, differently (the table's note and
    the summary strip only this run's spelling).

    >>> respelled({"file": "a/x.dcm", "error": {"code": "not_dicom",
    ...            "message": "a/x.dcm: not a DICOM file"}}, "/d/a/x.dcm")["error"]["message"]
    '/d/a/x.dcm: not a DICOM file'
    """
    out = {**rec, "file": path}
    err = rec.get("error")
    old = f"{path_named(str(rec.get('file', '')))}: "
    if isinstance(err, dict) and str(err.get("message", "")).startswith(old):
        out["error"] = {**err, "message": f"{path_named(path)}: {err['message'][len(old) :]}"}
    return out


def error_record(path: str, code: str, message: str, **extra: Any) -> GradingResult:
    """An ``error`` result for ``path`` (``message`` is made one line and names the file)."""
    one_line = " ".join(str(message).split())
    return GradingResult(
        file=path,
        status=Status.ERROR,
        version=__version__,
        error=ErrorInfo(code=code, message=f"{path_named(path)}: {one_line}"),
        extra=dict(extra),
    )


def _log_traceback(out_dir: str | None, path: str, text: str) -> None:
    if out_dir is None:
        return
    try:
        os.makedirs(out_dir, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        entry = f"--- {stamp} {path}\n{text}\n".encode("utf-8", "replace")
        fd = os.open(
            os.path.join(out_dir, ERROR_LOG_NAME), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
        )
        try:
            os.write(fd, entry)  # one write with O_APPEND: entries from workers do not interleave
        finally:
            os.close(fd)
    except OSError:
        pass


def grade_one(
    path: str,
    config: AnalysisConfig | None = None,
    *,
    out_dir: str | None = None,
    overlay: bool = True,
    overlay_crops: bool = False,
    overlay_name: str | None = None,
    grade_fn: GradeFn | None = None,
) -> GradingResult:
    """Grade one input and never raise: the per-file function of batches and Dask.

    Adds ``input_sha256`` to the record (``GradingResult.extra``) and sets ``file`` to ``path``
    as given. A missing or unreadable file gives an ``error`` result (``not_found`` /
    ``unreadable``); any unexpected exception (a bug) gives ``internal_error`` with a one-line
    message, its traceback appended to ``errors.log`` in ``out_dir``.
    """
    path = os.fspath(path)
    try:
        if os.path.isdir(path):
            raise _input_error(path) or SpecialFileError("is a folder", path)
        sha = file_sha256(path)
    except BrookerError as err:
        if overlay:
            _remove_overlays(out_dir, path, overlay_name, overlay_crops)
        return error_record(path, err.code, err.detail, input_sha256=None)
    try:
        if grade_fn is None:
            from brooker.pipeline import grade_path

            grade_fn = grade_path
        result = grade_fn(
            path,
            config,
            out_dir=out_dir,
            overlay=overlay,
            overlay_crops=overlay_crops,
            overlay_name=overlay_name,
        )
    except OSError as exc:
        if not is_environment_oserror(exc):
            _log_traceback(out_dir, path, traceback.format_exc())
            return error_record(
                path, "internal_error", f"{type(exc).__name__}: {exc}", input_sha256=sha
            )
        # an overlay that cannot be written (full disk, permissions): the environment
        failure = output_error(exc, os.fsdecode(exc.filename) if exc.filename else "output")
        return error_record(path, failure.code, failure.message, input_sha256=sha)
    except Exception as exc:  # a bug: one record, traceback to the log, batch goes on
        _log_traceback(out_dir, path, traceback.format_exc())
        return error_record(
            path, "internal_error", f"{type(exc).__name__}: {exc}", input_sha256=sha
        )
    return dataclasses.replace(result, file=path, extra={**result.extra, "input_sha256": sha})


# --------------------------------------------------------------------------------------------
# Worker processes
# --------------------------------------------------------------------------------------------


def stop_signals() -> tuple[int, ...]:
    """The signals that stop a whole run as Ctrl-C does (``brooker grade``): SIGTERM (a
    scheduler cancelling the job, ``kill``) and, where there is one (not on Windows), SIGHUP
    (the terminal closed)."""
    import signal

    hup = getattr(signal, "SIGHUP", None)
    return (signal.SIGTERM,) if hup is None else (signal.SIGTERM, hup)


def usable_cpus() -> int:
    """The number of CPUs this process may run on: the default number of worker processes.

    On Linux this is the CPU affinity mask (``os.sched_getaffinity``), which a cluster
    scheduler (SLURM's ``--cpus-per-task``, a cgroup cpuset, ``taskset``) narrows to the CPUs
    a job was given; ``os.cpu_count()`` counts every CPU of the machine, so a job given 4 of
    64 would start 64 workers on its 4. Elsewhere, ``os.cpu_count()`` (1 if unknown)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def other_package(expected_root: str | None) -> str | None:
    """Why this process cannot grade for the one that started it: it imported brooker from
    another folder than ``expected_root``, that process's (:func:`brooker.worker_server.
    package_root`); None when they agree, or when no folder is given.

    The workers' server imports brooker by its own path, which can miss the parent's package:
    a checkout put on a script's path after the standard library, one whose folder's name
    holds ``os.pathsep``, Python run with ``-E`` or ``-I`` (:func:`brooker.worker_server.
    _safe_path`). Its films would have been graded with another brooker's code, without a
    word; each now gets an error record saying so."""
    if expected_root is None:
        return None
    own = worker_server.package_root()
    if os.path.realpath(own) == os.path.realpath(expected_root):
        return None
    return (
        f"the worker process imported brooker from {own}, not from {expected_root} as the "
        "process that started it did, so it would grade with other code; install that "
        "brooker (pip install -e FOLDER for a checkout), or run it from its own folder"
    )


def _worker_main(
    conn: Any,
    lifeline: Any,
    grade_fn: GradeFn | None,
    held: int | None = None,
    threads_beside: bool = True,
    package_root: str | None = None,
) -> None:
    """Loop of one worker process: receive a task, send back its result, until None.

    ``held`` is this process's descriptor of the file its stderr is held in while a file is
    graded (:func:`_stderr_naming`), handed over by the batch process (:class:`_HandedFd`).
    ``threads_beside``: a film's independent parts run side by side in threads
    (:mod:`brooker.background`); False when the batch has a worker for every usable CPU.
    ``package_root``: where the batch process imported brooker from; a worker that imported
    it from elsewhere grades nothing (:func:`other_package`)."""
    import signal
    import warnings

    if not threads_beside:
        from brooker.background import in_turn

        in_turn()

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    # stdout carries results only: anything the grading code prints goes to stderr.
    try:
        if sys.stdout is not None:  # None when the caller's stdout was closed (`>&-`)
            sys.stdout.flush()
        os.dup2(2, 1)
    except OSError:
        pass
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")  # library chatter about odd files: the record says it
    _watch_parent(lifeline)
    mismatch = other_package(package_root)
    if held is not None and held <= 2:  # it took a closed stdio slot: keep that one closed
        try:
            moved: int | None = _dup_above_stdio(held)
        except OSError:
            moved = None
        os.close(held)
        held = moved
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        task_id, path, config, kwargs = task
        if mismatch is not None:
            result = error_record(path, "internal_error", mismatch)
        else:
            with _stderr_naming(path, held):
                result = grade_one(path, config, grade_fn=grade_fn, **kwargs)
        try:
            try:
                conn.send((task_id, result))
            except OSError:
                raise
            except Exception as exc:  # an unpicklable result (a bug)
                msg = f"result could not be sent: {type(exc).__name__}: {exc}"
                conn.send((task_id, error_record(path, "internal_error", msg)))
        except OSError:  # the parent is gone
            return


#: Lines a decoder writes about one file that are passed on (the rest are counted).
_DECODER_LINES_SHOWN: Final = 10


@contextlib.contextmanager
def _stderr_naming(path: str, held: int | None) -> Iterator[None]:
    """Hold what C libraries write to the worker's stderr while ``path`` is graded (libtiff's
    and libjpeg's warnings, which name no file) in the file open as descriptor ``held`` (emptied
    first), then pass it on with the file's name in front of each line (:func:`_name_lines`):
    in a batch, "TIFFReadDirectory: Warning, ..." alone does not say which film it is about. A
    worker killed at the time limit or aborted by a decoder leaves what it wrote to the batch
    process, which holds the same file open and passes it on the same way (:func:`_run_pool`).
    Writing to a file never blocks a decoder, as a full pipe would. Nothing is held without
    ``held``, or when stderr is closed or cannot be redirected."""
    saved = -1
    if held is not None and sys.stderr is not None:
        try:
            os.fstat(2)
            os.ftruncate(held, 0)
            os.lseek(held, 0, os.SEEK_SET)
            saved = os.dup(2)
            sys.stderr.flush()
            os.dup2(held, 2)
        except (OSError, ValueError, AttributeError):
            if saved >= 0:
                os.close(saved)
            saved = -1
    try:
        yield
    finally:
        if saved >= 0:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            assert held is not None
            _name_lines(held, path)


#: The name Pillow opens every TIFF it hands to libtiff under (``ImagingLibTiffDecode``),
#: which libtiff puts before some of its lines.
_PILLOWS_TIFF_NAME: Final = b"tempfile.tif: "


def _without_pillows_name(line: bytes) -> bytes:
    """``line`` without the name Pillow gives libtiff for every TIFF: "x.tif: tempfile.tif:
    Using code not yet in table." read as if about a temporary file.

    >>> _without_pillows_name(b"tempfile.tif: Using code not yet in table.")
    b'Using code not yet in table.'
    """
    return line.removeprefix(_PILLOWS_TIFF_NAME)


def _name_lines(held: int, path: str) -> None:
    """Pass the lines in the file open as descriptor ``held`` on to stderr with ``path`` in
    front of each (the first :data:`_DECODER_LINES_SHOWN`, then how many more), and empty it.
    Read from its start whatever the descriptor's offset (shared with the worker's)."""
    try:
        text = os.pread(held, 1 << 16, 0)
        at = len(text)
        cut = text.rfind(b"\n") + 1
        if at == 1 << 16 and cut:  # a flood: the line cut here is counted after
            text = text[:cut]
            at = cut
        lines = [ln for ln in text.splitlines() if ln.strip()]
        more = max(0, len(lines) - _DECODER_LINES_SHOWN)
        # the rest of a flood is counted, not read into memory (blank lines too)
        while chunk := os.pread(held, 1 << 20, at):
            more += chunk.count(b"\n")
            at += len(chunk)
        os.ftruncate(held, 0)
        os.lseek(held, 0, os.SEEK_SET)
    except OSError:
        return
    if not lines:
        return
    shown = lines[:_DECODER_LINES_SHOWN]
    if more:
        shown.append(f"... and {more} more line(s)".encode())
    # the file's name and the decoder's text are untrusted: escaped as every name the command
    # line shows is (an escape sequence in a name could clear the terminal, a newline forge a
    # line of its own)
    prefix = term(path) + ": "
    text_out = "".join(
        prefix + term(_without_pillows_name(line).decode("utf-8", "surrogateescape")) + "\n"
        for line in shown
    )
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    with contextlib.suppress(OSError):
        os.write(2, text_out.encode("utf-8", "backslashreplace"))


def _watch_parent(lifeline: Any) -> None:
    """Exit this worker as soon as the batch process is gone (even by SIGKILL).

    ``lifeline`` is the read end of a pipe whose only write end the batch process holds and
    never writes to: it becomes readable (end of file) exactly when that process has exited,
    so an orphaned worker never grades on for minutes. (The parent pid cannot tell: a worker
    is forked by the forkserver, and a killed parent may linger as a zombie.)
    """
    import threading

    def watch() -> None:
        try:
            lifeline.poll(None)
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="brooker-lifeline", daemon=True).start()


@dataclass
class _Worker:
    proc: Any
    conn: Any
    lifeline: Any
    task: tuple[int, str] | None = None
    deadline: float = float("inf")
    held: int | None = None
    """This process's descriptor of the file the worker holds its stderr in while a file is
    graded (:func:`_stderr_naming`, :func:`_held_file`)."""


def _dup_above_stdio(fd: int) -> int:
    """A copy of descriptor ``fd`` numbered above 2 (close-on-exec)."""
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _held_file() -> int | None:
    """A descriptor of a new empty file with no name, for a worker to hold its stderr in, or
    None where it cannot be had (no temporary folder: decoder lines go out unnamed, as they
    come; Windows, where a descriptor is not handed to a process: the same).

    The file never has a name (``O_TMPFILE``) or has it only for the instant between its
    creation and its unlinking (elsewhere: :func:`tempfile.TemporaryFile` does either), so a
    batch process killed in any way leaves nothing in the temporary folder: the file is gone
    when the last descriptor of it is closed, here and in the worker. Kept above 2, so that
    with the caller's stdio closed it is never taken for one (nor passed to a child as one)."""
    if os.name != "posix":
        return None
    try:
        with tempfile.TemporaryFile(prefix="brooker-stderr-", suffix=".txt") as fh:
            return _dup_above_stdio(fh.fileno())
    except OSError:
        return None


class _HandedFd:
    """A descriptor handed to a worker process as an argument: pickled for the child the way
    multiprocessing hands it the worker's own ``Connection`` ends (passed to the forkserver,
    or to the spawned child, by descriptor), and unpickled there as the child's descriptor
    (an ``int``) of the same open file."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        from multiprocessing.reduction import DupFd

        return _detach_fd, (DupFd(self.fd),)


def _detach_fd(dup: Any) -> int:
    return int(dup.detach())


def _start_worker(ctx: Any, grade_fn: GradeFn | None, threads_beside: bool = True) -> _Worker:
    held = _held_file()
    try:
        parent, child = ctx.Pipe(duplex=True)
        life_r, life_w = ctx.Pipe(duplex=False)
        handed = None if held is None else _HandedFd(held)
        proc = ctx.Process(
            target=_worker_main,
            args=(child, life_r, grade_fn, handed, threads_beside, worker_server.package_root()),
            daemon=True,
        )
        # the worker (and the forkserver, if this starts it: grade_many from a script, a
        # server lost mid-run) as the command line starts them: one BLAS thread, the safe path
        with worker_server.worker_environment():
            proc.start()
    except BaseException:
        if held is not None:
            os.close(held)
        raise
    child.close()
    life_r.close()
    return _Worker(proc=proc, conn=parent, lifeline=life_w, held=held)


def _stop_worker(w: _Worker, *, kill: bool, path: str | None = None) -> None:
    """Stop ``w`` (killed, or asked to end); a worker lost while grading ``path`` leaves what
    it wrote to stderr about it, passed on here (:func:`_stderr_naming`)."""
    try:
        if kill:
            w.proc.kill()
        else:
            try:
                w.conn.send(None)
            except OSError:
                pass
        w.proc.join(timeout=5 if not kill else None)
        if w.proc.is_alive():
            w.proc.kill()
            w.proc.join()
        if path is not None and w.held is not None:
            _name_lines(w.held, path)
    finally:
        w.conn.close()
        w.lifeline.close()
        if w.held is not None:  # the file goes with the last descriptor of it
            with contextlib.suppress(OSError):
                os.close(w.held)


def _death_message(proc: Any) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"worker process died while grading this file: killed by {name}{hint}"
    return f"worker process died while grading this file (exit code {code})"


#: Seconds the batch process waits, after a worker was lost in a way that may be part of the
#: whole job being stopped, for a signal of its own before it records the file as an
#: ``internal_error`` (:func:`_maybe_stopping_too`).
STOP_GRACE_S: Final = 2.0


def _maybe_stopping_too(proc: Any) -> bool:
    """Wait :data:`STOP_GRACE_S` before the loss of the worker ``proc`` (found dead) is
    recorded, when it may be part of this whole job being stopped: killed by SIGTERM or SIGHUP
    (a shell passes SIGHUP on to every process of a job in the foreground when its terminal
    closes), or its exit status lost with the forkserver that reports it (exit code 255 from
    multiprocessing: the forkserver, in the same process group or cgroup as the workers, was
    stopped too); whether it waited.

    A cluster scheduler cancelling a job (SLURM's ``scancel``, systemd's stop, ``kill`` of a
    process group) sends SIGTERM to every process of it, one after another in no set order: a
    worker killed first would otherwise be recorded as ``internal_error`` ("killed by SIGTERM")
    just before this process gets its own signal, and a stopped run would end with error records
    for the files it was only grading. During the wait this process's own signal ends it (its
    default action), or is raised by the handler of its caller (``brooker grade`` raises it as
    an interruption, as Ctrl-C): no record is written. A worker stopped alone (an
    administrator's ``kill``, a watchdog) is recorded as before, that much later. The workers
    keep SIGTERM's default action (multiprocessing stops daemonic children left at exit with
    it), so the grace is here rather than in the workers."""
    stopping = {-s for s in stop_signals()} | {255}
    if proc.exitcode not in stopping:
        return False
    time.sleep(STOP_GRACE_S)
    return True


def _overlay_files(path: str, name: str | None) -> tuple[str, ...]:
    """The names :func:`brooker.pipeline.grade_path` gives the overlay of ``path`` and its hip
    crops in the output folder (``name``: its ``overlay_name``)."""
    from brooker.overlay import overlay_stem

    stem = overlay_stem(path, name)
    return (f"{stem}.png", f"{stem}-right.png", f"{stem}-left.png")


def _remove_overlays(out_dir: str | None, path: str, name: str | None, crops: bool) -> None:
    """Remove from ``out_dir`` the overlay (and, with ``crops``, the hip crops) an earlier run
    drew of ``path``, whose record is now an error that never reached
    :func:`brooker.pipeline.grade_path` (the file gone or unreadable, over the time limit, its
    worker dead), which removes them for a file that fails there: no picture may stay to
    contradict the record."""
    if out_dir is None:
        return
    from brooker.overlay import overlay_stem, remove_overlays

    with contextlib.suppress(OSError, RuntimeError):  # a symlink loop: no overlay was drawn
        remove_overlays(out_dir, overlay_stem(path, name), crops=crops)


def earlier_overlays(
    out_dir: str | os.PathLike[str],
    suffix: str = "",
    inputs: Iterable[str | os.PathLike[str]] = (),
    *,
    parts_only: bool = False,
) -> list[str]:
    """The names of the overlays an earlier run of these outputs (``results{suffix}.jsonl``,
    :func:`shard_suffix`) drew in ``out_dir``, for a new run without ``--resume``, which
    empties that results file, to remove first (:func:`remove_earlier_overlays`).

    An overlay is the earlier run's when its own records name it (``overlay``, by its file
    name in ``out_dir``, as ``--resume`` finds it): those of ``results{suffix}.jsonl`` and of
    its Dask parts (a Dask run stopped before it gathered them holds its records only there).
    Its hip crops (``<stem>-right.png``, ``<stem>-left.png``) too, when its manifest
    (``manifest{suffix}.json``) says it drew them (``overlay_crops``): records do not name
    crops. Only a file named like an overlay that is one (:func:`is_drawn_overlay`) is
    listed: nothing else the user keeps in the folder, nothing outside it.

    An overlay that any other records file of the folder names too (another shard's, a run
    with no shard's, their Dask parts, a copy of a results file kept beside them) is left out:
    the shards of a job array share one ``--out``, and a film graded by two of them has one
    overlay. Those files are read only when there is something to remove.

    Nor is any of ``inputs`` (the files the new run grades, by real path): a file named on
    the command line inside ``--out`` (an earlier overlay given as a film, a ``find`` over a
    tree that holds ``--out``, a link to a file there) is an input, and removed first it got
    a ``not_found`` record.

    ``parts_only``: the earlier run is the Dask parts of ``suffix`` alone (what
    :func:`brooker.distributed.grade_bag` replaces; ``results{suffix}.jsonl`` is then another
    records file, whose overlays stay)."""
    out = os.fspath(out_dir)
    try:
        with os.scandir(out) as it:
            names = {e.name for e in it if _is_regular(e)}
    except OSError:
        return []
    own = {
        n
        for n in names
        if (n == f"results{suffix}.jsonl" and not parts_only)
        or (_PART_NAME.fullmatch(n) is not None and part_run_suffix(n) == suffix)
    }
    drawn: set[str] = set()
    for n in sorted(own):
        drawn |= {b for b in _overlay_names(os.path.join(out, n)) if _OVERLAY_NAME.fullmatch(b)}
    if not drawn:
        return []
    crops = False
    with contextlib.suppress(OSError, ValueError, AttributeError):
        with open(os.path.join(out, f"manifest{suffix}.json"), "rb") as fh:
            # read whole: a manifest naming many skipped files is over a megabyte
            crops = json.loads(fh.read()).get("options", {}).get("overlay_crops") is True
    others = [
        n
        for n in names - own
        if (n.startswith("results") and n.endswith(".jsonl")) or _PART_NAME.fullmatch(n)
    ]
    for n in sorted(others):
        drawn -= _overlay_names(os.path.join(out, n))
    graded = {os.path.realpath(os.fspath(p)) for p in inputs}
    found: list[str] = []
    for base in sorted(drawn):
        stem = base[: -len(".png")]
        candidates = [base, f"{stem}-right.png", f"{stem}-left.png"] if crops else [base]
        found += [
            c
            for c in candidates
            if c in names
            and is_drawn_overlay(os.path.join(out, c))
            and os.path.realpath(os.path.join(out, c)) not in graded
        ]
    return found


def remove_earlier_overlays(
    out_dir: str | os.PathLike[str],
    suffix: str = "",
    inputs: Iterable[str | os.PathLike[str]] = (),
    *,
    parts_only: bool = False,
) -> int:
    """Remove from ``out_dir`` the overlays of the earlier run of ``results{suffix}.jsonl``
    (:func:`earlier_overlays`); returns how many were removed.

    Called by a run without ``--resume`` before it empties that results file: a new run's
    folder holds only the pictures its own records name. Every one of them goes, those of
    films the new run grades again too: until it has, their pictures would be of an analysis
    no record holds any more (and a run stopped half way would leave them so). Done before
    the results file is emptied, while its records still name them, so a run stopped during
    the removal (the new run has written nothing yet) leaves the rest named there, and
    running it again removes them; removed after, a stop in between would leave them named by
    no record, for good.

    Raises
    ------
    OutputError
        An overlay that cannot be removed (``output_not_writable``): the results file is then
        left as it was.
    """
    out = os.fspath(out_dir)
    names = earlier_overlays(out, suffix, inputs, parts_only=parts_only)
    # the thumbnails first: the overlays, named by the records until the results file is
    # emptied, are how a run stopped here (or an overlay that cannot be removed) finds them
    # again when it is run again
    from brooker.report import remove_thumbnails

    remove_thumbnails(out, names)
    _unlink_overlays([os.path.join(out, name) for name in names])
    return len(names)


#: How every review page :func:`brooker.report.write_report` writes begins (its document type,
#: character set and content security policy): the mark by which a new run knows an earlier
#: run's page (:func:`remove_earlier_report`) from any other file of that name.
REPORT_HEAD = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
)


def remove_earlier_parts(out_dir: str | os.PathLike[str], suffix: str = "") -> int:
    """Remove the Dask partition files (``part-NNNNN.jsonl``) an earlier run of the same
    shard (``suffix``: :func:`shard_suffix`) left in ``out_dir``; returns how many.

    Called by a run without ``--resume`` after :func:`remove_earlier_overlays` has removed the
    overlays they name: a local run after a Dask run into the same folder left its partition
    files, whose records ``brooker report`` then showed as films with no picture (and ``cat
    OUT/*.jsonl`` counted twice). Another shard's are left alone.

    Raises
    ------
    OutputError
        One that cannot be removed (``output_not_writable``).
    """
    out = os.fspath(out_dir)
    try:
        names = os.listdir(out)
    except OSError:
        return 0
    parts = [
        os.path.join(out, n)
        for n in sorted(names)
        if _PART_NAME.fullmatch(n) and part_run_suffix(n) == suffix
    ]
    for path in parts:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise OutputError(f"cannot remove an earlier run's Dask part: {reason}", path) from None
    return len(parts)


def remove_earlier_report(
    out_dir: str | os.PathLike[str],
    suffix: str = "",
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> bool:
    """Remove the review page of the earlier run of ``results{suffix}.jsonl``
    (``report{suffix}.html`` in ``out_dir``); returns whether there was one.

    Called with :func:`remove_earlier_overlays` by a run without ``--resume``: a page left from
    the earlier run showed its films and classes (their overlays inside it) beside the new
    run's records, until a ``--report`` rewrote it, and for good without one. Only a page this
    tool wrote goes (a regular file, not a link, that begins as every page does:
    :data:`REPORT_HEAD`), never an input; the thumbnails' cache (``.report-thumbs``), shared by
    the shards and keyed by overlay, stays.

    Raises
    ------
    OutputError
        A page that cannot be removed (``output_not_writable``): nothing else was touched.
    """
    path = os.path.join(os.fspath(out_dir), f"report{suffix}.html")
    if os.path.realpath(path) in {os.path.realpath(os.fspath(p)) for p in inputs}:
        return False
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        with open(path, "rb") as fh:
            head = fh.read(len(REPORT_HEAD.encode()))
    except OSError:
        return False  # none there, or not one to read: nothing of this tool's to remove
    if head != REPORT_HEAD.encode():
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"cannot remove an earlier run's review page: {reason}", path) from None
    return True


#: How the files a run replaces in its output folder read when this tool wrote them: the
#: results (a line that begins with a record's first key), the manifest (its first key,
#: :func:`environment`'s) and the review page (:data:`REPORT_HEAD`).
_OWN_HEADS: Final = (
    (
        re.compile(r"results(?:\.shard-\d+-of-\d+)?\.jsonl"),
        "results",
        # a record's first key, at the start of any line (the first may be torn or damaged)
        re.compile(rb'^\{"file": ', re.MULTILINE),
    ),
    (
        re.compile(r"manifest(?:\.shard-\d+-of-\d+)?\.json"),
        "run manifest",
        re.compile(rb'\A\s*\{\s*"tool"\s*:\s*"brooker"'),
    ),
    (
        re.compile(r"report(?:\.shard-\d+-of-\d+)?\.html"),
        "review page",
        re.compile(rb"\A" + re.escape(REPORT_HEAD.encode())),
    ),
)


def not_written_here(path: str | os.PathLike[str], results: bool = False) -> str | None:
    """Why ``path``, a file a run (or ``brooker report``) replaces in its output folder, was
    not written by this tool: its results, its manifest or its review page read as this
    tool writes them (told by the file's name; with ``results``, a results file of any name,
    as :func:`grade_many`'s ``results_file``). A link is judged by the file it points to
    (:func:`grade_many` appends through it). None when it was, or when there is nothing to
    lose (no such file, an empty one, or not a regular file: a folder fails to be written
    over, as an output error).

    A folder pointed to by ``--out`` may hold files of the same names that are someone's
    own (a dataset's ``manifest.json``, a ``results.jsonl`` of another tool): a run replaced
    them without a word. The caller refuses instead (a usage error), and nothing is written.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "manifest.json"), "w") as fh:
    ...     _ = fh.write('{"cases": 20}')
    >>> not_written_here(os.path.join(d, "manifest.json"))
    'it is not a brooker run manifest'
    >>> not_written_here(os.path.join(d, "results.jsonl")) is None  # none there
    True
    """
    name = "results.jsonl" if results else os.path.basename(os.fspath(path))
    kinds = [(what, head) for pattern, what, head in _OWN_HEADS if pattern.fullmatch(name)]
    if not kinds:
        return None
    what, head = kinds[0]
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # through a link: its file's content
            return None
        with open(path, "rb") as fh:
            start = fh.read(1 << 16)
            if what == "results" and not head.search(start):
                # as far as a whole record (the first lines may be damaged), within reason
                start += fh.read((1 << 24) - len(start))
    except OSError:
        return None  # none there, or not one to read: writing it says what is wrong
    if not start.strip() or head.search(start):
        return None
    if what == "results":
        return "its lines are not brooker records"
    return f"it is not a brooker {what}"


def _unlink_overlays(paths: Iterable[str]) -> None:
    """Remove ``paths`` (an earlier run's overlays, chosen by the caller); one gone already
    is no error.

    Raises
    ------
    OutputError
        One that cannot be removed (``output_not_writable``); the rest are left."""
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise OutputError(f"cannot remove an earlier run's overlay: {reason}", path) from None


def _remove_temporaries(out_dir: str | None, tasks: Iterable[tuple[str, str | None]]) -> None:
    """Remove from ``out_dir`` the temporary files that writes of the overlays of ``tasks``
    (``(path, overlay name)``) left there.

    A worker killed while it writes an overlay (at the time limit, by a run being stopped,
    which kills its busy workers, or with the whole job) runs no cleanup, and its temporary
    file (:func:`brooker.atomic.atomic_write_bytes`), megabytes, stayed for good: neither a
    later run nor ``--resume`` took it away. Called for files no other process is grading now
    (those of workers this run killed; those a run is about to grade: one run at a time
    writes a results file), so none of these is being written; the temporary files of other
    films, another shard's grading into the same folder, are left alone. The folder is listed
    once, and the names are worked out only when it holds a temporary file."""
    if out_dir is None:
        return
    found = leftover_temporaries(out_dir)
    if not found:
        return
    files: list[str] = []
    for path, name in tasks:
        try:
            files += _overlay_files(path, name)
        except (OSError, RuntimeError):  # a symlink loop: grade_path draws no overlay of it
            continue
    remove_temporaries(out_dir, files, found)


def _failed(path: str, code: str, message: str) -> GradingResult:
    """An error result for a file whose worker was lost; hashed here for the resume key."""
    try:
        sha: str | None = file_sha256(path)
    except BrookerError:
        sha = None
    return error_record(path, code, message, input_sha256=sha)


def _run_pool(
    tasks: Sequence[tuple[str, str | None]],
    config: AnalysisConfig | None,
    common: dict[str, Any],
    workers: int,
    timeout_s: float | None,
    grade_fn: GradeFn | None,
) -> Iterator[GradingResult]:
    """Grade ``(path, overlay_name)`` tasks in ``workers`` processes; yield as they finish."""
    from multiprocessing.connection import wait

    ctx = worker_server.mp_context()
    pending = deque(enumerate(tasks))
    pool: list[_Worker] = []
    # with fewer workers than CPUs, a film's parts run side by side on the idle ones
    beside = min(workers, len(tasks)) < usable_cpus()
    try:
        for _ in range(min(workers, len(tasks))):
            pool.append(_start_worker(ctx, grade_fn, beside))
        busy = 0
        while pending or busy:
            for w in pool:
                if w.task is None and pending:
                    task_id, (path, name) = pending.popleft()
                    w.task = (task_id, path)
                    w.deadline = time.monotonic() + timeout_s if timeout_s else float("inf")
                    busy += 1
                    try:
                        w.conn.send((task_id, path, config, {**common, "overlay_name": name}))
                    except OSError:  # the worker died before its task: the loop reports it
                        w.deadline = time.monotonic()
            active = [w for w in pool if w.task is not None]
            nearest = min(w.deadline for w in active)
            # a far deadline (``--timeout 1e10``: "no limit, really") is waited for in steps:
            # the selector under ``wait`` turns its timeout into an integer of milliseconds,
            # which overflows long before a float does
            wait_s = (
                None
                if nearest == float("inf")
                else min(_MAX_WAIT_S, max(0.0, nearest - time.monotonic()))
            )
            ready = set(wait([w.conn for w in active] + [w.proc.sentinel for w in active], wait_s))
            now = time.monotonic()
            finished: list[GradingResult] = []
            graced = False
            for w in list(pool):
                if w.task is None:
                    continue
                task_id, path = w.task
                result: GradingResult | None = None
                replace_worker = False
                if w.conn in ready or w.proc.sentinel in ready:
                    got = None
                    try:
                        if w.conn.poll():
                            got = w.conn.recv()
                    except (EOFError, OSError):
                        got = None
                    if got is not None and got[0] == task_id:
                        result = got[1]
                    elif got is not None or not w.proc.is_alive():
                        w.proc.join(timeout=1)
                        if not graced:  # once a round: a job's workers end together
                            graced = _maybe_stopping_too(w.proc)
                        result = _failed(path, "internal_error", _death_message(w.proc))
                        replace_worker = True
                elif now >= w.deadline:
                    result = _failed(
                        path,
                        "timeout",
                        f"grading took longer than the {timeout_s:g} s limit (--timeout, "
                        "timeout_s from Python); the worker was stopped",
                    )
                    replace_worker = True
                if result is None:
                    continue
                w.task = None
                w.deadline = float("inf")
                busy -= 1
                if replace_worker:
                    _stop_worker(w, kill=True, path=path)
                    if common.get("overlay"):  # killed, or died, maybe while writing one
                        _remove_temporaries(common.get("out_dir"), [tasks[task_id]])
                        _remove_overlays(
                            common.get("out_dir"),
                            path,
                            tasks[task_id][1],
                            bool(common.get("overlay_crops")),
                        )
                    pool.remove(w)
                    if pending:
                        pool.append(_start_worker(ctx, grade_fn, beside))
                finished.append(result)
            yield from finished
    finally:
        lost = [tasks[w.task[0]] for w in pool if w.task is not None]
        for w in pool:
            _stop_worker(w, kill=w.task is not None or not w.proc.is_alive())
        if lost and common.get("overlay"):  # the workers killed while grading them
            _remove_temporaries(common.get("out_dir"), lost)


# --------------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------------


#: A lone surrogate (U+D800-U+DFFF): in a ``str``, always lone (Python never pairs them).
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _surrogate_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _escape_surrogates(text: str) -> str:
    """JSON text with every lone surrogate written as its ``\\uXXXX`` escape.

    A file name that is not valid UTF-8 is ``str`` with surrogate escapes (``os.fsdecode``);
    ``json.dumps(ensure_ascii=False)`` leaves them raw, and raw surrogates cannot be encoded as
    UTF-8. Surrogates only occur inside JSON strings, where the escape means the same.

    One compiled pattern, not a test of each character in Python: every record read back by
    ``--resume`` or ``brooker report`` passes through here (:func:`record_of`), and a
    character-by-character scan was most of the time of reading a big results file.
    """
    return _SURROGATE.sub(_surrogate_escape, text)


def record_line(record: Mapping[str, Any]) -> str:
    """One JSON line (no newline) of a record: compact, UTF-8, keys in record order.

    Text is UTF-8 except a lone surrogate, written as a ``\\udcNN`` escape: that is how a file
    name byte ``0xNN`` that is not UTF-8 is kept (Python's surrogate escapes), so
    ``os.fsencode(json.loads(line)["file"])`` gives the name's exact bytes back, and
    ``--resume`` finds the file again.
    """
    return _escape_surrogates(_record_json(record))


def _record_json(record: Mapping[str, Any]) -> str:
    """:func:`record_line` before its lone surrogates are escaped."""
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


class ResultsWriter:
    """Appends records to ``results.jsonl``, each with one ``write`` then ``fsync``.

    A record is on disk before it is shown, so a run killed at any moment loses at most the
    line being written, which :func:`load_resume_state` cuts off.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd = -1
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if os.fstat(self._fd).st_size:  # a torn last line from a killed run: never glue
                with open(self.path, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        os.write(self._fd, b"\n")
        except OSError as exc:
            self.close()
            raise output_error(exc, self.path) from None

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record and make it durable.

        Raises
        ------
        OutputError
            The record cannot be written (``disk_full``: no space or quota; else
            ``output_not_writable``).
        """
        data = (record_line(record) + "\n").encode("utf-8")
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)
        except OSError as exc:
            raise output_error(exc, self.path) from None

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: JSON types of a record's values, by key, as :meth:`GradingResult.to_record` writes them
#: (``_NUMBER``: an int or float, not a bool; ``_LIST_OF_*``: a list of such).
_NUMBER: Final = "number"
_LIST_OF_STR: Final = "list of strings"
_LIST_OF_OBJECTS: Final = "list of objects"
_CLASS_PAIR: Final = "two Brooker classes"
_COUNT_PAIR: Final = "two whole numbers"
_RECORD_TYPES: Final[Mapping[str, tuple[Any, ...]]] = {
    "status": (str,),
    "sop_instance_uid": (str,),
    "spacing": (dict,),
    "hips": (_LIST_OF_OBJECTS,),
    "hip_candidates": (_LIST_OF_OBJECTS,),
    "reason": (str, type(None)),
    "error": (dict, type(None)),
    "laterality_source": (str, type(None)),
    "overlay": (str, type(None)),
    "caveats": (_LIST_OF_STR,),
    "input_sha256": (str, type(None)),  # null: a file that could not be read (not_found)
    "version": (str,),
}
_HIP_TYPES: Final[Mapping[str, tuple[Any, ...]]] = {
    "side": (str,),
    "image_side": (str,),
    "grade": (int, type(None)),
    "brooker_class": (str, type(None)),
    "gap_mm": (_NUMBER, type(None)),
    "gap_uncertainty_mm": (_NUMBER, type(None)),
    "gap_points_px": (list, type(None)),
    "gap_to_head": (bool, type(None)),
    "borderline": (bool,),
    "weak_call": (bool,),
    "prosthesis": (bool,),
    "center_px": (list,),
    "head_radius_mm": (_NUMBER, type(None)),
    "center_uncertainty_mm": (_NUMBER, type(None)),
    "class_range": (_CLASS_PAIR, type(None)),
    "centres_graded": (_COUNT_PAIR, type(None)),
    "limited_by": (_LIST_OF_STR,),
    "fragments": (_LIST_OF_OBJECTS,),
    "caveats": (_LIST_OF_STR,),
    "not_graded": (str, type(None)),
}


def _is(value: Any, kind: Any) -> bool:
    if kind == _NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _LIST_OF_STR:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == _LIST_OF_OBJECTS:
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if kind == _COUNT_PAIR:
        return (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        )
    if kind == _CLASS_PAIR:
        return (
            isinstance(value, list)
            and len(value) == 2
            and all(v in ("0", "I", "II", "III", "IV") for v in value)
        )
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _checks(
    types: Mapping[str, tuple[Any, ...]],
) -> tuple[tuple[str, tuple[type, ...], tuple[Any, ...]], ...]:
    """``types`` as (key, the kinds ``isinstance`` checks alone, the other kinds) per key, so
    that a value of a plain kind (the most of them) costs one ``isinstance``."""
    out = []
    for key, kinds in types.items():
        plain = tuple(k for k in kinds if isinstance(k, type) and k is not int)
        out.append((key, plain, tuple(k for k in kinds if k not in plain)))
    return tuple(out)


_RECORD_CHECKS: Final = _checks(_RECORD_TYPES)
_HIP_CHECKS: Final = _checks(_HIP_TYPES)


def _typed(
    obj: dict[str, Any], checks: tuple[tuple[str, tuple[type, ...], tuple[Any, ...]], ...]
) -> bool:
    """Every key of ``checks`` (:func:`_checks`) that ``obj`` has holds a value of one of its
    types."""
    for key, plain, other in checks:
        if key in obj:
            value = obj[key]
            if not isinstance(value, plain) and not any(_is(value, k) for k in other):
                return False
    return True


def record_of(raw: bytes | str) -> dict[str, Any] | None:
    """One line of a results file as a record; None for a line that is not one brooker could
    have written: torn or not JSON, not an object with a string ``file``, a ``file`` no path
    can be (a NUL, a lone surrogate that is no file-name byte), a value JSON has not
    (``NaN``, ``Infinity``: Python's ``json.dump`` writes them by default, so a script's edit
    can), or a value of another type than brooker writes under its key (``"hips": "none"``,
    a hip's ``"caveats": 5``: what reads the record, the review page, the CSV, the table, would
    fail on it). Such a line is dropped like a torn one, never a crash when the file is read
    again (with ``--resume`` its film is graded again): so is a line nested deeper than
    Python's recursion limit lets the JSON decoder go (``[[[...``, 100,000 deep), which
    raised RecursionError out of ``--resume`` and ``brooker report``."""
    try:
        rec = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError too
        return None
    if not isinstance(rec, dict) or not isinstance(rec.get("file"), str):
        return None
    if not _typed(rec, _RECORD_CHECKS):
        return None
    if not all(_typed(hip, _HIP_CHECKS) for hip in rec.get("hips") or ()):
        return None
    try:
        if b"\0" in os.fsencode(rec["file"]):
            return None
        # the line this record is written back as, less its surrogates' escapes (which
        # cannot fail): a float out of range (1e999 reads as inf) cannot be written
        _record_json(rec)
    except (ValueError, UnicodeError, RecursionError):
        return None
    return rec


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a JSON-lines file; lines that are not a record (:func:`record_of`) are
    skipped. A file that does not exist has none (``[]``), as a run that has graded nothing
    yet: check the path first where a typo must not read as "no results" (a Dask run's
    records are in its ``part-*.jsonl`` files until the command merges them)."""
    try:
        as_read, _ = _read_results(path)
    except FileNotFoundError:
        return []
    return [rec for rec in as_read if rec is not None]


def _forget_records(
    results_file: str | os.PathLike[str], files: Sequence[str], out_dir: str | None = None
) -> None:
    """Take the records of ``files`` out of ``results_file`` (rewritten atomically, only when
    it holds any): a run without resume grades them again (an edited film, most often), and
    their new records must not stand beside the old ones. Records of other files stay.

    With ``out_dir``, the overlays (and hip crops) those records name in ``out_dir`` go first
    (:func:`_remove_forgotten_overlays`), as ``brooker grade`` removes an earlier run's
    before it starts afresh: a film graded again with ``overlay=False``, or under another
    ``names``, kept the old picture, named by no record. Removed before the records, while
    they still name them: a stop in between leaves records whose pictures are gone, which
    grading them again redraws, never a picture no record names.

    A record is one of ``files`` when its path, resolved as ``--resume`` resolves it (from
    this working folder), is one of theirs. Each record's folder is resolved once, and only a
    record whose name is a link is resolved on its own: a big results file costs one
    ``lstat`` per record."""
    if not os.path.exists(results_file):
        return
    real_inputs = {os.path.realpath(f) for f in files}
    folders: dict[str, str] = {}

    def again(rec: dict[str, Any]) -> bool:
        head, name = os.path.split(rec["file"])
        if head not in folders:
            folders[head] = os.path.realpath(head or os.curdir)
        path = os.path.join(folders[head], name)
        if path in real_inputs:
            return True
        return os.path.islink(path) and os.path.realpath(path) in real_inputs

    recs = read_records(results_file)
    kept = [r for r in recs if not again(r)]
    if len(kept) < len(recs):
        if out_dir is not None:
            forgotten = [r for r in recs if again(r)]
            _remove_forgotten_overlays(out_dir, forgotten, kept)
        data = "".join(record_line(r) + "\n" for r in kept).encode("utf-8")
        atomic_write_bytes(results_file, data)


def _remove_forgotten_overlays(
    out_dir: str, forgotten: Sequence[Mapping[str, Any]], kept: Sequence[Mapping[str, Any]]
) -> None:
    """Remove the overlays the ``forgotten`` records name, with their hip crops, from
    ``out_dir``: only a picture that lies in ``out_dir`` (the record's ``overlay`` resolved
    there), is a drawn overlay (:func:`is_drawn_overlay`: a regular 8-bit RGB PNG, not a
    link) and that no ``kept`` record names; never anything else.

    Raises
    ------
    OutputError
        A picture that cannot be removed (``output_not_writable``), before the records are
        touched."""
    here = os.path.realpath(out_dir)
    named = {
        os.path.basename(str(r["overlay"])) for r in kept if isinstance(r.get("overlay"), str)
    }
    doomed: list[str] = []
    for rec in forgotten:
        shown = rec.get("overlay")
        if not isinstance(shown, str) or not shown.endswith(".png"):
            continue
        if os.path.realpath(os.path.dirname(shown) or os.curdir) != here:
            continue  # drawn into another folder: not this run's to remove
        stem = os.path.basename(shown)[: -len(".png")]
        for name in (f"{stem}.png", f"{stem}-right.png", f"{stem}-left.png"):
            path = os.path.join(out_dir, name)
            if name not in named and is_drawn_overlay(path):
                doomed.append(path)
    _unlink_overlays(doomed)


#: The start of a line that :func:`json.loads` may not read as UTF-8 (a NUL in its first two
#: bytes, or a UTF-16 or UTF-32 byte-order mark): it guesses UTF-16 or UTF-32 from them and
#: from the line's length, so such a line can read otherwise with its newline than without.
_NOT_UTF8_START: Final = re.compile(rb"\0|.\0|\xff\xfe|\xfe\xff", re.DOTALL)


@dataclass(frozen=True)
class ResultsSnapshot:
    """A results file as :func:`check_resume_version` read it, for :func:`load_resume_state`
    to use instead of reading it again while it is the same file, unchanged: reading and
    checking each line of an archive's results (60,000 records, 80 MB) takes seconds, and
    ``--resume`` did it twice in a row.

    ``records``: each line's record (:func:`record_of` of the line without its newline, as
    :func:`load_resume_state` reads it) or None; ``torn``: the last line has no newline.
    ``key``: (``st_dev``, ``st_ino``, ``st_size``, ``st_mtime_ns``, ``st_ctime_ns``) of the
    file read, the same before and after the reading (None when they differ: the file changed
    while it was read, and the snapshot is never current). A file appended to or replaced
    since has another size or inode; one rewritten in place to the same size has other times,
    unless the rewrite falls in the same tick of the file system's clock as the write before
    the reading (a few milliseconds, or the granularity of its timestamps), which no brooker
    run does (it appends, or replaces the file).
    """

    key: tuple[int, int, int, int, int] | None
    records: tuple[dict[str, Any] | None, ...]
    torn: bool

    def is_current(self, path: str | os.PathLike[str]) -> bool:
        """``path`` is still the file read, unchanged (False when it cannot be looked at)."""
        try:
            return self.key is not None and _stat_key(os.stat(path)) == self.key
        except OSError:
            return False


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_results(
    path: str | os.PathLike[str],
) -> tuple[list[dict[str, Any] | None], ResultsSnapshot]:
    """Read a results file once, line by line: its records as :func:`read_records` reads them
    (each line with its newline; None for a line that is not a record), and as
    :func:`load_resume_state` reads them, in a snapshot (current while the file is unchanged).

    The two readings agree on every line but one that :func:`json.loads` could decode as
    UTF-16 or UTF-32 (:data:`_NOT_UTF8_START`), where the newline can change the verdict: such
    a line is read both ways, as each reader read it before they shared this one reading.

    Raises
    ------
    OSError
        ``path`` cannot be read (FileNotFoundError when there is none).
    """
    as_read: list[dict[str, Any] | None] = []
    as_loaded: list[dict[str, Any] | None] = []
    torn = False
    with open(path, "rb") as fh:
        before = _stat_key(os.fstat(fh.fileno()))
        for raw in fh:
            rec = record_of(raw)
            as_read.append(rec)
            if raw[-1:] != b"\n":
                torn = True  # the last line, torn: the same bytes either way
            elif _NOT_UTF8_START.match(raw) is not None:
                rec = record_of(raw[:-1])
            as_loaded.append(rec)
        after = _stat_key(os.fstat(fh.fileno()))
    key = after if after == before else None
    return as_read, ResultsSnapshot(key, tuple(as_loaded), torn)


def check_resume_version(
    results_file: str | os.PathLike[str], *, hint: str = "write to another results file"
) -> ResultsSnapshot | None:
    """Refuse to resume ``results_file`` when it holds records graded by another brooker
    version (each record's ``version``), so that one results file never mixes two analyses.

    Parameters
    ----------
    results_file : str or Path
        The results file to be resumed (absent: nothing to check).
    hint : str
        What to do instead, after "resume it with that version, or" (the command line names
        ``--out``).

    Returns
    -------
    ResultsSnapshot or None
        The file as read here, for ``load_resume_state(..., snapshot=)``, which then need not
        read it again while it is unchanged (never, when it changed while it was read); None
        when there is no file.

    Raises
    ------
    ConfigError
        Naming ``results_file`` and the other version.
    """
    try:
        records, snapshot = _read_results(results_file)
    except FileNotFoundError:
        return None
    others = sorted(
        {str(r["version"]) for r in records if r is not None and r.get("version") is not None}
        - {__version__}
    )
    if others:
        raise ConfigError(
            f"holds records graded by brooker {others[0]!r}, this is {__version__!r}: resume "
            f"it with that version, or {hint}",
            os.fsdecode(results_file),
        )
    return snapshot


def _is_transient(rec: Mapping[str, Any]) -> bool:
    err = rec.get("error")
    return (
        rec.get("status") == Status.ERROR.value
        and isinstance(err, dict)
        and err.get("code") in TRANSIENT_ERROR_CODES
    )


def load_resume_state(
    results_file: str | os.PathLike[str],
    inputs: Sequence[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    snapshot: ResultsSnapshot | None = None,
    overlays_gone: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Repair ``results_file`` and return the records of the inputs that are already done.

    An input is done when a record has its real path and its current SHA-256 (and is not a
    transient error). A record whose relative path names no file from this working folder was
    written by a run started in another one: it is the input's whose real path, or path as
    given (a link's), that path, less any leading ``..``, ends (of several, the one with its
    SHA-256; resumed from another
    folder, a run once graded every film again beside its old records). A relative path that
    names a file here is that file's record, an input or not (graded ``a/f`` and ``b/a/f``,
    resumed with ``b/a/f`` alone, the record of ``a/f`` was taken for ``b/a/f``'s and lost).
    A record kept for an input takes the input's spelling in ``file``, as the records this run
    writes do, and its ``overlay`` this run's spelling of ``out_dir`` (where every overlay is
    written; given, so that a run resumed from another working folder names overlays that are
    there). The file is rewritten (atomically) without: a torn or unparsable line, records of
    these inputs whose content has changed since, their transient errors, and duplicates.
    Records of files not among ``inputs`` are kept as they are.

    ``snapshot``, what :func:`check_resume_version` read of ``results_file``, is used instead
    of reading the file again only while the file is the one it read, unchanged
    (:meth:`ResultsSnapshot.is_current`); else the file is read again, so that a record
    written since is never missed.

    A record naming an overlay no longer in ``out_dir`` is not done (:func:`_overlay_gone`):
    its input is appended to ``overlays_gone``, when given, so that the caller can say why
    it is graded again.

    Returns
    -------
    dict
        Input path (as in ``inputs``) -> its record.
    """
    results_file = os.fspath(results_file)
    if not os.path.exists(results_file):
        return {}
    by_real = {os.path.realpath(f): f for f in inputs}
    kept: list[dict[str, Any]] = []
    done: dict[str, dict[str, Any]] = {}
    sha_cache: dict[str, str | None] = {}
    by_name: dict[str, list[tuple[str, str]]] | None = None  # built when first needed
    if snapshot is None or not snapshot.is_current(results_file):
        _, snapshot = _read_results(results_file)
    dirty = snapshot.torn
    for rec in snapshot.records:
        if rec is None:  # torn, unparsable, or not a record brooker can write again
            dirty = True
            continue
        inp = by_real.get(os.path.realpath(rec["file"]))
        if inp is None and not os.path.isabs(rec["file"]) and not os.path.lexists(rec["file"]):
            # a relative path naming no file from here: written from another working folder
            if by_name is None:
                by_name = {}
                for real, f in by_real.items():
                    # its real path and its path as given: a link's own folder and name (a
                    # batch of links to an archive) are what a record written through it says
                    for spelt in dict.fromkeys((real, os.path.abspath(f))):
                        by_name.setdefault(os.path.basename(spelt), []).append((spelt, f))
            inp = _moved_input(rec, by_name, sha_cache)
        if inp is None:
            kept.append(rec)
            continue
        if rec["file"] != inp:  # the same file spelt another way: this run's spelling
            rec = respelled(rec, inp)
            dirty = True
        shown = rec.get("overlay")
        if out_dir is not None and isinstance(shown, str):
            here = str(Path(out_dir) / os.path.basename(shown))  # as write_overlays spells it
            if here != shown:
                rec = {**rec, "overlay": here}
                dirty = True
        if inp not in sha_cache:
            sha_cache[inp] = _sha_or_none(inp)
        if (
            inp in done
            or sha_cache[inp] is None
            or rec.get("input_sha256") != sha_cache[inp]
            or _is_transient(rec)
        ):
            dirty = True
            continue
        if _overlay_gone(rec, out_dir):
            # once per input: a duplicate record of it (another spelling of its path) is not
            # a second film graded again
            if overlays_gone is not None and inp not in overlays_gone:
                overlays_gone.append(inp)
            dirty = True
            continue
        done[inp] = rec
        kept.append(rec)
    if dirty:
        data = "".join(record_line(r) + "\n" for r in kept).encode("utf-8")
        try:
            atomic_write_bytes(results_file, data)
        except OSError as exc:
            raise output_error(exc, results_file) from None
    return done


def _overlay_gone(rec: Mapping[str, Any], out_dir: str | os.PathLike[str] | None) -> bool:
    """Whether ``rec`` names an overlay in ``out_dir`` that is no longer there: its film is
    graded again, so that the folder's records never name a picture it does not hold. A run
    stopped while it removed an earlier run's overlays (:func:`remove_earlier_overlays`, before
    it empties the results file), an exit 5 from an overlay that could not be removed, or a
    reader who deleted one leaves such records; kept as done, ``--resume`` reported them
    ``ok`` with their overlay's path and drew nothing."""
    shown = rec.get("overlay")
    if out_dir is None or not isinstance(shown, str):
        return False
    return not os.path.lexists(os.path.join(os.fspath(out_dir), os.path.basename(shown)))


def _sha_or_none(path: str) -> str | None:
    """The SHA-256 of ``path``'s content, None when it cannot be read."""
    try:
        return file_sha256(path)
    except BrookerError:
        return None


def _moved_input(
    rec: dict[str, Any], by_name: dict[str, list[tuple[str, str]]],
    sha_cache: dict[str, str | None],
) -> str | None:
    """The input a record with a relative path was written for by a run started in another
    working folder: the input whose real path, or its path as given made absolute (a link
    keeps its own folder and name there), ends with the record's path (less any leading
    ``..``), the one of them whose content has the record's SHA-256 when several do; None when
    that leaves not exactly one. ``by_name``: file name -> (path, input) of the inputs."""
    parts = [p for p in os.path.normpath(rec["file"]).split(os.sep) if p not in ("", ".")]
    while parts and parts[0] == os.pardir:
        parts.pop(0)
    if not parts or not isinstance(rec.get("input_sha256"), str):
        return None
    tail = os.sep + os.path.join(*parts)
    ends = list(dict.fromkeys(
        inp for spelt, inp in by_name.get(parts[-1], ()) if spelt.endswith(tail)
    ))
    if len(ends) > 1:
        for inp in ends:
            if inp not in sha_cache:
                sha_cache[inp] = _sha_or_none(inp)
        ends = [inp for inp in ends if sha_cache[inp] == rec["input_sha256"]]
    return ends[0] if len(ends) == 1 else None


#: Columns of the ``--csv`` file, one row per hip (a file with no hip: one row, hip columns
#: empty). ``grade`` is 0-4, ``brooker_class`` 0/I/II/III/IV, ``gap_mm`` edge to edge at the
#: patient (empty for classes 0 and I, 0 for IV); ``borderline``/``prosthesis`` are
#: true/false; ``fragment_kinds`` is ``;``-separated; ``reason`` is the ungradable reason or the
#: error message, ``error_code`` the error's code; ``caveats`` ``;``-separated; ``weak_call``
#: true/false (the class rests on a weak call of the learned judge), ``class_range`` ``0-IV``
#: (the classes about nearby centres, when they differ), ``limited_by`` ``;``-separated (what
#: the segmentation missed), ``centres_graded`` ``1 of 5`` (graded about 1 of the 5 nearby centres,
#: when not about all), ``gap_to_head`` true/false (the gap's femoral end was found on the
#: femoral or prosthetic head; empty with no gap): each added last in turn, so the earlier
#: columns keep their place.
CSV_COLUMNS: tuple[str, ...] = (
    "file",
    "sop_instance_uid",
    "status",
    "side",
    "image_side",
    "grade",
    "brooker_class",
    "gap_mm",
    "borderline",
    "prosthesis",
    "n_fragments",
    "fragment_kinds",
    "spacing_row_mm",
    "spacing_col_mm",
    "spacing_source",
    "overlay",
    "reason",
    "error_code",
    "caveats",
    "weak_call",
    "class_range",
    "limited_by",
    "centres_graded",
    "gap_to_head",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell: booleans as true/false, None empty, text guarded against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _csv_list(items: Any, sep: str = "; ") -> str:
    """``items`` as one CSV cell, ``sep``-separated: a ";" inside an item is written ","
    so that the cell splits back into its items (a caveat read "...head; the region ...",
    and a spreadsheet user's split on ";" cut it in two: a radiologist's test of 2026-12-08).

    >>> _csv_list(["a; b", "c"])
    'a, b; c'
    """
    return sep.join(str(item).replace(";", ",") for item in items or ())


def csv_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The CSV rows (dicts keyed by :data:`CSV_COLUMNS`) of one record."""
    spacing = record.get("spacing") or {}
    err = record.get("error") or {}
    base = {
        "file": record.get("file"),
        "sop_instance_uid": record.get("sop_instance_uid"),
        "status": record.get("status"),
        "spacing_row_mm": spacing.get("row_mm"),
        "spacing_col_mm": spacing.get("col_mm"),
        "spacing_source": spacing.get("source"),
        "overlay": record.get("overlay"),
        "reason": record.get("reason") or err.get("message"),
        "error_code": err.get("code"),
    }
    hips = record.get("hips") or []
    if not hips:
        return [{**base, "caveats": _csv_list(record.get("caveats"))}]
    rows = []
    for hip in hips:
        frags = hip.get("fragments") or []
        caveats = list(record.get("caveats") or []) + list(hip.get("caveats") or [])
        rows.append(
            {
                **base,
                "side": hip.get("side"),
                "image_side": hip.get("image_side"),
                "grade": hip.get("grade"),
                "brooker_class": hip.get("brooker_class"),
                "gap_mm": hip.get("gap_mm"),
                "borderline": hip.get("borderline"),
                "weak_call": bool(hip.get("weak_call")),  # absent in records written before it
                # "0-IV": the classes about nearby centres (step 7), when they differ
                "class_range": "-".join(map(str, hip.get("class_range") or [])) or None,
                # what the segmentation missed, ";"-separated as fragment_kinds is
                "limited_by": _csv_list(hip.get("limited_by"), ";") or None,
                # "1 of 5": graded about 1 of the 5 nearby centres (step 7), when not about
                # all ("1/5" a spreadsheet reads as a date)
                "centres_graded": None
                if (partly := centres_graded_in(hip)) is None
                else f"{partly[0]} of {partly[1]}",
                "prosthesis": hip.get("prosthesis"),
                # absent in records written before 0.2.0: empty, not false
                "gap_to_head": hip.get("gap_to_head"),
                "n_fragments": len(frags),
                "fragment_kinds": ";".join(sorted({str(f.get("kind")) for f in frags})),
                "caveats": _csv_list(caveats),
                # a hip found but not graded says why, as a film not graded does
                "reason": hip.get("not_graded") or base["reason"],
            }
        )
    return rows


def is_grade_csv(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a CSV :func:`write_csv` wrote (its first line is the byte-order
    mark and :data:`CSV_COLUMNS`): a run's grades, which ``report -o`` must not write a page
    over, wherever ``--csv`` put it (a user's test of 2026-12-07: ``report OUT -o
    OUT/g.csv`` replaced the run's grade CSV with HTML)."""
    # the columns every version has begun with (later ones were added at the end: a CSV of
    # an older brooker is a grade CSV too), its byte-order mark, and CRLF ending its header
    head = ("\ufeff" + ",".join(CSV_COLUMNS[:3]) + ",").encode("utf-8")
    if not os.path.isfile(path):  # never read a pipe or a device (-o /dev/stdout waited on it)
        return False
    try:
        with open(path, "rb") as fh:
            first = fh.readline(4096)
    except OSError:
        return False
    return first.startswith(head) and first.endswith(b"\r\n")


def write_csv(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> None:
    """Write one row per hip of ``records`` to ``path``, atomically.

    UTF-8 with a byte-order mark (so spreadsheet programs read non-ASCII paths right), CRLF line
    ends, :data:`CSV_COLUMNS`; text cells starting with ``= + - @`` get a leading ``'`` so a
    spreadsheet never runs them as formulas.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for rec in records:
        for row in csv_rows(rec):
            writer.writerow({c: _cell(row.get(c)) for c in CSV_COLUMNS})
    try:
        # a file name that is not UTF-8 keeps its own bytes (surrogate escapes, os.fsencode)
        atomic_write_bytes(
            path, buf.getvalue().encode("utf-8-sig", "surrogateescape"), follow=True
        )
    except OSError as exc:
        raise output_error(exc, os.fsdecode(path)) from None


def _dist_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


#: Distributions whose versions the manifest records.
MANIFEST_DEPENDENCIES = (
    "numpy",
    "scipy",
    "scikit-image",
    "pydicom",
    "Pillow",
    "pylibjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-rle",
    "pyjpegls",
    "python-gdcm",
    "dask",
    "distributed",
)


def environment() -> dict[str, Any]:
    """Tool, Python, platform and dependency versions for the manifest."""
    return {
        "tool": "brooker",
        "version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dependencies": {n: _dist_version(n) for n in MANIFEST_DEPENDENCIES},
    }


def utc_now() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_manifest(path: str | os.PathLike[str], manifest: Mapping[str, Any]) -> None:
    """Write ``manifest.json`` atomically.

    When the disk is full the atomic write (a new file) fails; the manifest is then rewritten
    in place, which needs no new block for a file of a few kB, so that a run stopped by a full
    disk still says so (``state: failed``) rather than ``running``.

    Raises
    ------
    OutputError
        Neither way worked.
    """
    text = _escape_surrogates(json.dumps(manifest, indent=2, ensure_ascii=False, default=str))
    data = (text + "\n").encode("utf-8")
    try:
        atomic_write_bytes(path, data)
        return
    except OSError as exc:
        first = exc
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, data)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        raise output_error(first, os.fsdecode(path)) from None


def counts(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts per status (files) and per Brooker class (hips)."""
    by_status: dict[str, int] = {}
    by_class: dict[str, int] = {}
    for rec in records:
        st = str(rec.get("status"))
        by_status[st] = by_status.get(st, 0) + 1
        for hip in rec.get("hips") or []:
            c = "not graded" if hip.get("grade") is None else str(hip.get("brooker_class"))
            by_class[c] = by_class.get(c, 0) + 1
    return {
        "status": {k: by_status[k] for k in _ordered(by_status, ("ok", "ungradable", "error"))},
        "class": {k: by_class[k] for k in _ordered(by_class, ("0", "I", "II", "III", "IV"))},
    }


def _ordered(keys: Iterable[str], order: Sequence[str]) -> list[str]:
    """``keys`` in the order of ``order``, unknown ones after it, sorted."""
    rank = {k: i for i, k in enumerate(order)}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))


# --------------------------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------------------------


#: The results files whose lock this process holds (:func:`lock_results`): each lock file's
#: real path and the descriptor that holds it; looked up and filled under one lock, so that
#: two threads never both take it.
_HELD_LOCKS: dict[str, int] = {}
_HELD_LOCKS_GUARD = threading.Lock()


def results_lock(results_file: str | os.PathLike[str]) -> str:
    """The lock file beside ``results_file``: ``.results.jsonl.lock`` (empty; it stays)."""
    head, name = os.path.split(os.fspath(results_file))
    return os.path.join(head, f".{name}.lock")


def lock_results(results_file: str | os.PathLike[str]) -> str | None:
    """Take the exclusive lock of ``results_file`` (:func:`results_lock`) for this process:
    a second run writing the same results file at the same time (a cluster job requeued while
    the first still runs, a script's :func:`grade_many` beside ``brooker grade``) is refused,
    not films graded twice and records appended to a file the other run replaced. The key to
    :func:`unlock_results`, or None where the system has no ``flock`` (not POSIX). The
    operating system's lock, so a killed run leaves none behind; the lock file stays.

    Raises
    ------
    ConfigError
        Another process holds it, or another run of this one (a second ``grade_many`` in the
        loop of a first, or in another thread).
    OutputError
        The lock file cannot be made (the folder read-only, the disk full).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    path = results_lock(results_file)
    key = os.path.realpath(path)
    with _HELD_LOCKS_GUARD:
        # this process's own run first: a local file system refuses a second flock of one
        # file to it anyway, NFS (which makes flock a per-process lock) would grant it
        if key in _HELD_LOCKS:
            raise ConfigError(
                f"this process is still running a grade_many into {os.fspath(results_file)}: "
                "finish it, or close() or delete its generator, or write into another folder"
            )
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise output_error(exc, path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(
                f"another brooker run is writing {os.fspath(results_file)} now; wait for it "
                "to end, or write into another folder"
            ) from None
        _HELD_LOCKS[key] = fd
    return key


def holds_results_lock(results_file: str | os.PathLike[str]) -> bool:
    """Whether this process holds the lock of ``results_file`` (:func:`lock_results`)."""
    with _HELD_LOCKS_GUARD:
        return os.path.realpath(results_lock(results_file)) in _HELD_LOCKS


def unlock_results(key: str | None) -> None:
    """Release a lock :func:`lock_results` took (None: nothing to release)."""
    with _HELD_LOCKS_GUARD:
        fd = _HELD_LOCKS.pop(key, None) if key is not None else None
    if fd is not None:
        os.close(fd)


def grade_many(
    paths: Iterable[str | os.PathLike[str]],
    config: AnalysisConfig | None = None,
    *,
    workers: int | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    overlay: bool = True,
    overlay_crops: bool = False,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    resume: bool = False,
    results_file: str | os.PathLike[str] | None = None,
    recursive: bool = True,
    names: Mapping[str, str] | None = None,
    grade_fn: GradeFn | None = None,
    forget: bool = True,
    locked: bool = False,
) -> Generator[GradingResult, None, None]:
    """Grade many inputs in worker processes; yield each result as it finishes.

    Parameters
    ----------
    paths : iterable of str or Path, or one str or Path
        Files and folders (see :func:`discover`).
    config : AnalysisConfig, optional
    workers : int, optional
        Worker processes (default: the CPUs this process may run on, :func:`usable_cpus`: a
        cluster job's share, not every CPU of the machine). ``0`` grades in this process,
        with no time limit and no protection against a crash.
    out_dir : str or Path, optional
        Overlays, ``results.jsonl`` and ``errors.log`` go here. Without it nothing is written
        (unless ``results_file`` is given).
    overlay, overlay_crops : bool
        Write overlay PNGs (and zoomed hip crops) to ``out_dir``.
    timeout_s : float or None
        Per-file time limit in seconds; None or 0 for none. A file over it gets an ``error``
        result with code ``timeout``.
    resume : bool
        Skip inputs already in the results file with the same content (see
        :func:`load_resume_state`); they are not yielded again. A results file holding records
        of another brooker version is refused (:func:`check_resume_version`), as
        ``brooker grade --resume`` does. The grading options are *not* checked: records do
        not carry the :class:`~brooker.config.AnalysisConfig` that graded them (and this
        function writes no manifest), so resuming with another ``config`` (another spacing,
        calibration, laterality or judges) or other ``overlay``/``overlay_crops`` silently
        mixes two analyses in one file: resume with the config of the run you continue, or
        use ``brooker grade --resume``, which checks them against its ``manifest.json``.
    results_file : str or Path, optional
        Defaults to ``out_dir/results.jsonl``; each result is appended and fsynced before it
        is yielded. Without ``resume`` the records it already holds of the inputs graded now
        are taken out first (one record per input, the latest), and the overlays (and hip
        crops) they name in ``out_dir`` are removed before them, whatever ``overlay``: a film
        graded again never keeps a picture of its earlier analysis that no record names.
        Other files' records stay, and their overlays: unlike ``brooker grade``, which
        starts its results file afresh and so removes every overlay of the earlier run, this
        function adds to the file it is given.
    recursive : bool
        Search sub-folders of folder arguments.
    names : mapping, optional
        Overlay base name (no extension) per input; default
        :func:`brooker.overlay.overlay_name_for`, which keeps two ``IM0001`` in different
        folders apart and is the same for every shard and worker count.
    grade_fn : callable, optional
        Replaces :func:`brooker.pipeline.grade_path` (a module-level function, so workers can
        import it); for tests of the machinery.
    forget : bool
        Without ``resume``, take the records of the inputs graded now out of the results
        file first (above). False when the caller has done so already: ``brooker grade
        --resume`` grades what :func:`load_resume_state` did not return as done, and that
        took every record of those inputs out; reading a big results file once more to find
        none takes seconds. Ignored with ``resume``.
    locked : bool
        The caller holds the results file's lock already (:func:`lock_results`: ``brooker
        grade`` takes it before anything else; checked: ``ConfigError`` if it does not).
        Otherwise ``grade_many`` takes it before it
        reads or writes the results file and holds it until the generator ends, is closed or
        is collected (``contextlib.closing`` releases it at once when a loop is left early);
        a run with ``results_file`` and no ``out_dir`` keeps its lock file,
        ``.results.jsonl.lock``, beside that file. The folders are made, and the lock taken,
        also when there is nothing to grade.

    Yields
    ------
    GradingResult
        In completion order; ``extra["input_sha256"]`` holds the content key.

    Raises
    ------
    ConfigError
        ``workers`` is not an integer >= 0, ``timeout_s`` not a number >= 0 (nor None),
        ``resume`` is given with neither ``out_dir`` nor ``results_file``, ``results_file``
        is a folder, a name of ``names`` is too long for a file name,
        ``out_dir`` is itself one of the folders in
        ``paths`` (see :func:`check_out_dir`), the results file holds lines that are not
        brooker records (:func:`not_written_here`: someone's own ``results.jsonl``), or
        ``resume`` meets records of another brooker
        version, or another run (``brooker grade``, another script) is writing the same
        results file (:func:`lock_results`): raised before any file is written, when
        iteration starts.
        (``ConfigError`` is also a ``ValueError``, which a negative ``workers`` raised
        before.)
    OutputError
        An earlier overlay of an input graded again cannot be removed (see ``results_file``):
        raised when iteration starts, before any record is touched.
    NotADirectoryError
        No folder can be made at ``out_dir`` (a file, a link to nothing, a file above it:
        :func:`brooker.paths.require_folder`): raised when iteration starts, before any file
        is read.

    Examples
    --------
    Grading a folder writes into ``out`` (an example, not run by ``--doctest-modules``). The
    workers are processes: a script that starts them needs the ``__main__`` guard, or each
    worker would run the script again::

        from brooker.batch import grade_many

        if __name__ == "__main__":
            for result in grade_many(["scans/"], out_dir="out", workers=4):
                print(result.file, result.status,
                      [h.to_record()["brooker_class"] for h in result.hips])
    """
    config = config_or_default(config, "grade_many()")  # not an internal error per film
    if workers is not None:  # before anything is read or written (a resume rewrites results)
        # any integer type (numpy's too, as before), but not a bool, a float or a string
        if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 0:
            raise ConfigError(f"workers must be an integer >= 0, got {workers!r}")
        workers = int(workers)
    if timeout_s is not None and not (
        isinstance(timeout_s, numbers.Real)
        and not isinstance(timeout_s, bool)
        and timeout_s >= 0  # NaN too: never reached, while the pool polled without pause
    ):
        raise ConfigError(f"timeout_s must be a number of seconds >= 0 or None, got {timeout_s!r}")
    out = None if out_dir is None else os.fspath(out_dir)
    if results_file is not None and os.path.isdir(results_file):
        # an IsADirectoryError naming neither the option nor the function (a test)
        raise ConfigError(
            f"grade_many(): results_file {os.fspath(results_file)} is a folder: give a file "
            "path (or out_dir, whose results.jsonl is used)"
        )
    if out is not None and overlay and names:
        from brooker.overlay import check_overlay_name

        for given in names.values():
            check_overlay_name(given, "grade_many()")
    if resume and out is None and results_file is None:
        # nothing to resume from: every film was graded again without a word (a research
        # engineer's test of 2026-12-07, out_dir left off in a pipeline)
        raise ConfigError("resume=True needs out_dir or results_file: the records to resume")
    # one path is one input, not its characters
    paths = input_paths(paths, "grade_many()")
    if out is not None:
        require_folder(out, "grade_many()")
        check_out_dir(out, paths)
    if results_file is None and out is not None:
        results_file = os.path.join(out, RESULTS_NAME)
    if results_file is not None and (why := not_written_here(results_file, results=True)):
        # someone's own file: its lines were dropped (or records appended to it)
        raise ConfigError(
            f"{os.fspath(results_file)} was not written by brooker ({why}): grading would "
            "rewrite it; give another results_file or out_dir"
        )
    if out is not None:  # the overlays' folder, and the lock file's
        os.makedirs(out, exist_ok=True)
    if results_file is not None:
        os.makedirs(os.path.dirname(os.path.abspath(results_file)), exist_ok=True)
    if locked and results_file is not None and os.name == "posix":
        if not holds_results_lock(results_file):  # a caller's word is checked, not taken
            raise ConfigError(
                f"locked=True, but this process holds no lock of {os.fspath(results_file)} "
                "(brooker.batch.lock_results)"
            )
    # before the results file is read or written: another run writing it now is refused
    held = None if results_file is None or locked else lock_results(results_file)
    stream: Iterator[GradingResult] | None = None
    writer: ResultsWriter | None = None
    try:
        snapshot = None
        if resume and results_file is not None:
            snapshot = check_resume_version(results_file)
        exclude = [] if out is None else [out]
        files = list(discover(paths, recursive=recursive, exclude=exclude).files)
        names = names or {}
        if resume and results_file is not None:
            # what the version check read, unless the file has changed since
            done = load_resume_state(results_file, files, out, snapshot=snapshot)
            snapshot = None  # the records it dropped are freed
            files = [f for f in files if f not in done]
        elif results_file is not None and forget:
            # the records of the films graded again go, and the pictures they name in out_dir
            # with them (as `brooker grade` removes an earlier run's): overlay=False, or other
            # names, left the old picture beside a record that names none. Only those films':
            # grade_many keeps the other records of the file, so it owns no more of the folder
            _forget_records(results_file, files, out)
        if workers is None:
            workers = usable_cpus()
        if out is not None:
            if overlay and files:  # what a run killed while writing their overlays left
                _remove_temporaries(out, [(f, names.get(f)) for f in files])
        common = {"out_dir": out, "overlay": overlay, "overlay_crops": overlay_crops}
        writer = ResultsWriter(results_file) if results_file is not None and files else None
        if workers == 0:
            stream = (
                grade_one(
                    f,
                    config,
                    out_dir=out,
                    overlay=overlay,
                    overlay_crops=overlay_crops,
                    overlay_name=names.get(f),
                    grade_fn=grade_fn,
                )
                for f in files
            )
        else:
            stream = _run_pool(
                [(f, names.get(f)) for f in files], config, common, workers, timeout_s, grade_fn
            )
        for result in stream:
            if writer is not None:
                writer.write(result.to_record())
            yield result
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # stops the worker processes now, not when garbage-collected
        if writer is not None:
            writer.close()
        unlock_results(held)  # the results file's lock, taken above
