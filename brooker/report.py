"""The review page of a batch run: ``OUT_DIR/report.html`` from its ``results.jsonl``.

One self-contained HTML file: CSS, JavaScript, the records it shows and every thumbnail are
inside it (a Content-Security-Policy forbids any network access), so it opens from the file
system in any current browser and can be copied on its own. Only "full size" points outside
it: to the overlay PNG the run wrote beside it (without it, the thumbnail is shown larger).

What the page holds, per film: the path as given to ``brooker grade``, the SOP Instance UID
(the two keys of ``review.csv``), status and reason, the spacing source, the caveats, per hip
the class, gap and its uncertainty, borderline, weak call and prosthesis, and a thumbnail made
from the overlay PNG. Nothing else from the DICOM header: the records carry no patient name,
ID, birth date or accession number, and the page adds none. File paths are shown as given; a
folder named after a patient would show (as it does in the grade CSV).

Thumbnails are WebP (JPEG if Pillow lacks WebP), at most :data:`THUMB_MAX_PX` wide and
:data:`THUMB_MAX_PX` * 4 / 3 high, quality 70: about 5-10 kB each, so a 500-film report is
about 5 MB and is complete in headless Chromium after about half a second, first drawn after
a quarter (``benchmarks/report_load.py``; cards out of view are not laid out). A run with
``--no-overlay`` has no PNG, so its cards have no picture.

The page's JavaScript (``report_assets/report.js``) adds filters, sorting, keyboard review and
the ``review.csv`` export; its columns are :data:`brooker.agreement.REVIEW_COLUMNS`. Verdicts
are kept in the browser's localStorage under a key made from the report folder's absolute
path, per film path, content (``input_sha256``) and side, so rebuilding the report keeps them.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import html
import io
import itertools
import json
import os
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from brooker._version import __version__
from brooker.agreement import CLASSES, REVIEW_COLUMNS
from brooker.atomic import atomic_write_bytes, temporary_of
from brooker.errors import code_said, path_named
from brooker.models import centres_graded_in
from brooker.notes import (
    centres_graded_words,
    class_range_words,
    gap_end_words,
    why_not_graded,
)
from brooker.units import label_gap_mm

#: Longest thumbnail width in pixels (height at most 4/3 of it).
THUMB_MAX_PX = 360
#: Thumbnail quality (WebP or JPEG).
THUMB_QUALITY = 70
#: Default file name of the page inside the output folder.
REPORT_NAME = "report.html"
#: Folder inside the run folder where thumbnails are kept between builds of the page.
THUMB_CACHE = ".report-thumbs"

_CSP = (
    "default-src 'none'; img-src data: file: 'self'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True, slots=True)
class ReportInfo:
    """What :func:`write_report` wrote."""

    path: Path
    films: int
    thumbnails: int
    size_bytes: int
    seconds: float


def results_files(out_dir: str | os.PathLike[str]) -> list[Path]:
    """The record files of a run folder: ``results.jsonl``, shards' and Dask parts' (those of
    a run with no shard and those of each shard, ``part-shard-I-of-N-NNNNN.jsonl``)."""
    base = Path(out_dir)
    names = [base / "results.jsonl"]
    folder = glob.escape(os.fspath(base))  # a folder named "run[1]" is no pattern
    names += sorted(Path(p) for p in glob.glob(os.path.join(folder, "results.shard-*-of-*.jsonl")))
    names += sorted(Path(p) for p in glob.glob(os.path.join(folder, "part-*.jsonl")))
    return [p for p in names if p.is_file()]


def _manifest(path: Path, cache: dict[Path, dict[str, Any] | None]) -> dict[str, Any] | None:
    """The manifest at ``path``, or None when it is absent or unreadable."""
    if path not in cache:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        cache[path] = data if isinstance(data, dict) else None
    return cache[path]


def unfinished_runs(out_dir: str | os.PathLike[str]) -> list[str]:
    """What the manifests of a run folder (``manifest.json``, each shard's) say of a run that
    did not finish: stopped, failed, or still running (or killed before it could say). The
    page and ``brooker report`` say it first: the page of a run interrupted after 5 of 19
    films read "5 film(s) · 5 ok", as if the folder were done (a user's test of 2026-12-07).

    A run that a later complete run covers is not named: a complete ``manifest.json``
    started after it (which graded every input), or, for ``manifest.json``, complete
    manifests of every shard of one job array started after it. (A resumed run that finishes
    writes its own manifest over the stopped one.)

    >>> import tempfile, json, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "manifest.json").write_text(json.dumps({"state": "interrupted",
    ...     "inputs": {"files": 19}, "counts": {"files": 5}}))
    >>> unfinished_runs(d)[0].split(":", 1)[1].split(" (")[0]
    ' the run was interrupted'
    """
    base = Path(out_dir)
    folder = glob.escape(os.fspath(base))
    paths = [base / "manifest.json"]
    paths += sorted(Path(p) for p in glob.glob(os.path.join(folder, "manifest.shard-*-of-*.json")))
    cache: dict[Path, dict[str, Any] | None] = {}
    found = [(p, m) for p in paths if (m := _manifest(p, cache)) is not None]
    complete = [(p, _started_s(m)) for p, m in found if m.get("state") == "complete"]

    def covered(path: Path, started: float | None) -> bool:
        if started is None:
            return False
        later = [p.name for p, s in complete if s is not None and s > started]
        if "manifest.json" in later:
            return True
        if path.name != "manifest.json":
            return False
        shards: dict[int, set[int]] = {}
        for name in later:
            if (m := _SHARD_MANIFEST.fullmatch(name)) is not None:
                shards.setdefault(int(m[2]), set()).add(int(m[1]))
        return any(done >= set(range(n)) for n, done in shards.items())

    said = []
    for path, m in found:
        state = m.get("state")
        if state == "complete" or not isinstance(state, str) or covered(path, _started_s(m)):
            continue
        inputs = m.get("inputs")
        counts = m.get("counts")
        total = inputs.get("files") if isinstance(inputs, dict) else None
        graded = counts.get("files") if isinstance(counts, dict) else None
        how_many = (
            f" ({graded} of {total} input file(s) done when it stopped)"
            if isinstance(total, int) and isinstance(graded, int) and graded < total
            else f" (every one of its {total} input file(s) done)"
            if isinstance(total, int) and total > 0 and graded == total
            else ""
        )
        options = m.get("options")
        dask = isinstance(options, dict) and bool(options.get("dask_scheduler"))
        again = (
            "run the same brooker grade command again (there is no --resume on Dask)"
            if dask
            else "run the same brooker grade command with --resume to go on"
        )
        if state == "interrupted":
            what = f"the run was interrupted{how_many}: {again}"
        elif state == "failed":
            error = m.get("error")
            why = error.get("message") if isinstance(error, dict) else None
            what = f"the run failed{how_many}" + (f": {_text(why)}" if why else "")
            # the films whose outputs could not be written are graded again by --resume
            when = {
                "disk_full": "once there is room",
                "output_not_writable": "once the folder can be written",
            }.get(str(error.get("code")) if isinstance(error, dict) else "")
            if when is not None:
                what += f"; {when}, " + again.replace(" to go on", "")
        else:  # "running": still going, or killed (SIGKILL, a power cut) before it could say
            what = "the run has not finished: it is still running, or was killed"
        said.append(f"{path.name}: {what}")
    return said


#: A shard's manifest: ``manifest.shard-I-of-N.json``.
_SHARD_MANIFEST = re.compile(r"manifest\.shard-(\d+)-of-(\d+)\.json")


def _started_s(manifest: Mapping[str, Any] | None) -> float | None:
    """A manifest's ``started_at`` in seconds since the epoch; None without one (or one that
    is not an ISO 8601 time with its time zone)."""
    text = None if manifest is None else manifest.get("started_at")
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if when.tzinfo is None else when.timestamp()


def _run_started_s(path: Path, cache: dict[Path, dict[str, Any] | None]) -> float | None:
    """When the run that wrote ``results.jsonl`` or a shard's ``results.shard-I-of-N.jsonl``
    started, as its ``manifest.json`` or ``manifest.shard-I-of-N.json`` says; None: no
    manifest dates the file."""
    shard = path.name.removeprefix("results").removesuffix(".jsonl")  # "" or ".shard-I-of-N"
    return _started_s(_manifest(path.parent / f"manifest{shard}.json", cache))


def _dask_run_started_s(path: Path, cache: dict[Path, dict[str, Any] | None]) -> float | None:
    """When the Dask run that wrote the partition file ``path`` started, as its manifest says:
    ``manifest.json`` for ``part-NNNNN.jsonl``, ``manifest.shard-I-of-N.json`` for shard I of
    N's ``part-shard-I-of-N-NNNNN.jsonl`` (:func:`brooker.batch.part_run_suffix`). None when
    that manifest is not a Dask run's (its options name no ``dask_scheduler``): a later local
    run replaced it, so the parts' own run is older than it."""
    from brooker.batch import part_run_suffix

    suffix = part_run_suffix(path.name) or ""
    m = _manifest(path.parent / f"manifest{suffix}.json", cache)
    options = None if m is None else m.get("options")
    if isinstance(options, dict) and options.get("dask_scheduler"):
        return _started_s(m)
    return None


def load_records(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record of a run folder, one per file, sorted by path.

    A folder may hold the record files of several runs (an earlier Dask run's parts or
    sharded run's files, then a fresh local run). The files are read in the order their runs
    started, as the runs' manifests say (``started_at``), and the last record read wins, so
    the run that started last shows: ``results.jsonl`` is dated by ``manifest.json``, a
    shard's file by its ``manifest.shard-I-of-N.json``, Dask parts by their run's manifest
    when it is a Dask run's (``manifest.json`` for ``part-NNNNN.jsonl``,
    ``manifest.shard-I-of-N.json`` for ``part-shard-I-of-N-NNNNN.jsonl``). Files no manifest
    dates (the Python API writes none; parts whose run's manifest a later run replaced)
    count as older than every dated one; files that tie (both undated, or runs started in the
    same second) are read ``results.jsonl``, the shards' files, then the parts, by name. The
    order never depends on the files' modification times, which a copy without ``cp -p``
    sets in copy order.
    """
    from brooker.batch import read_records

    files = results_files(out_dir)
    manifests: dict[Path, dict[str, Any] | None] = {}

    def started(p: Path) -> tuple[bool, float]:
        if p.name.startswith("part-"):
            s = _dask_run_started_s(p, manifests)
        else:
            s = _run_started_s(p, manifests)
        return (s is not None, s or 0.0)

    # one film however its runs spelt it ("scans/a.dcm", "/data/scans/a.dcm"): the same path
    # from the folder the report is made in, as --resume matches them
    by_file: dict[str, dict[str, Any]] = {}
    for path in sorted(files, key=started):  # stable: ties keep the order of results_files
        for rec in read_records(path):
            by_file[os.path.realpath(rec["file"])] = rec
    return sorted(by_file.values(), key=lambda rec: str(rec["file"]))


def _thumb_format() -> str:
    from PIL import features

    return "WEBP" if features.check("webp") else "JPEG"


def _thumbnail(png: Path, max_px: int = THUMB_MAX_PX) -> tuple[bytes, str, int, int] | None:
    """(encoded bytes, MIME subtype, width, height) of the overlay's thumbnail, or None."""
    from PIL import Image, UnidentifiedImageError

    box = (max_px, max_px * 4 // 3)
    try:
        with Image.open(png) as im:
            im.load()
            rgb = im if im.mode == "RGB" else im.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    # a box average down to about twice the size, then Lanczos: as sharp as Lanczos from the
    # full image (the overlays are up to 2048 px) at a tenth of its time
    factor = int(min(rgb.width / box[0], rgb.height / box[1]) // 2)
    if factor > 1:
        rgb = rgb.reduce(factor)
    rgb.thumbnail(box, Image.Resampling.LANCZOS)
    fmt = _thumb_format()
    buf = io.BytesIO()
    if fmt == "WEBP":
        rgb.save(buf, "WEBP", quality=THUMB_QUALITY, method=2)
    else:
        rgb.save(buf, "JPEG", quality=THUMB_QUALITY, optimize=True)
    return buf.getvalue(), fmt.lower(), rgb.width, rgb.height


def _data_uri(data: bytes, subtype: str) -> str:
    return f"data:image/{subtype};base64,{base64.b64encode(data).decode('ascii')}"


def thumbnail_data_uri(
    png: str | os.PathLike[str], max_px: int = THUMB_MAX_PX
) -> tuple[str, int, int] | None:
    """The overlay at ``png`` as a small ``data:`` URI, with its width and height in pixels.

    ``None`` when the file cannot be read. No metadata is copied into the thumbnail.
    """
    made = _thumbnail(Path(png), max_px)
    if made is None:
        return None
    data, subtype, w, h = made
    return _data_uri(data, subtype), w, h


_CACHE_EXT = {"webp": "webp", "jpeg": "jpg"}


def cache_file(png: Path, cache_dir: Path) -> Path:
    """Where the thumbnail of this version of an overlay is kept between builds.

    ``<overlay stem>.<16 hex>.<webp|jpg>``: the hex hashes the overlay's absolute path, size and
    modification time and the thumbnail settings, so a new overlay (a film graded again) gets
    a new entry and the old one is removed when it is made.
    """
    st = png.stat()
    fmt = _thumb_format().lower()
    tag = f"{png.resolve()}|{st.st_size}|{st.st_mtime_ns}|{THUMB_MAX_PX}|{THUMB_QUALITY}|{fmt}"
    digest = hashlib.sha256(tag.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return cache_dir / f"{png.stem}.{digest}.{_CACHE_EXT[fmt]}"


#: A cached thumbnail's name (:func:`cache_file`): the overlay's stem, 16 hex digits, the format.
_CACHE_NAME = re.compile(r"(?P<stem>.+)\.[0-9a-f]{16}\.(?:webp|jpg)")


def _cached_stem(name: str) -> str | None:
    """The stem of the overlay whose thumbnail ``name`` is in the cache (or the temporary file
    of one a killed build left: no cleanup runs on SIGKILL); None for any other name."""
    m = _CACHE_NAME.fullmatch(temporary_of(name) or name)
    return None if m is None else m["stem"]


def remove_thumbnails(out_dir: str | os.PathLike[str], overlays: Iterable[str]) -> None:
    """Remove from ``out_dir``'s cache (:data:`THUMB_CACHE`) every thumbnail of the overlays
    named ``overlays`` (file names), as a run removes those overlays: the folder never holds a
    picture that no record names. A cache: one that cannot be removed is left, not an error."""
    stems = {os.path.splitext(name)[0] for name in overlays}
    cache = os.path.join(os.fspath(out_dir), THUMB_CACHE)
    try:
        names = os.listdir(cache) if stems else []
    except OSError:  # none there
        return
    for name in names:
        if _cached_stem(name) in stems:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(cache, name))


def _read_cached(target: Path) -> tuple[str, int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        data = target.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    subtype = "webp" if target.suffix == ".webp" else "jpeg"
    return _data_uri(data, subtype), w, h


def _make_and_keep(png: str, target: str | None) -> tuple[str, int, int] | None:
    """Make one thumbnail and keep it at ``target`` (top level: runs in worker processes)."""
    made = _thumbnail(Path(png))
    if made is None:
        return None
    data, subtype, w, h = made
    if target is not None:
        keep = Path(target)
        try:
            atomic_write_bytes(keep, data)
            stem = Path(png).stem
            pattern = glob.escape(stem)
            # the older thumbnails of this overlay, and the temporary file of one that a
            # build killed as it kept it left
            for old in [*keep.parent.glob(f"{pattern}.*"), *keep.parent.glob(f".{pattern}.*")]:
                if old != keep and _cached_stem(old.name) == stem:
                    old.unlink(missing_ok=True)
        except OSError:  # a read-only run folder: no cache, same page
            pass
    return _data_uri(data, subtype), w, h


def make_thumbnails(
    pngs: Mapping[int, Path],
    *,
    workers: int | None = None,
    cache_dir: Path | None = None,
) -> dict[int, tuple[str, int, int] | None]:
    """:func:`thumbnail_data_uri` of each overlay, in ``workers`` processes when worth it.

    With ``cache_dir``, thumbnails made by an earlier build of the same overlay files are
    read from there (:func:`cache_file`), and new ones are kept there.
    """
    out: dict[int, tuple[str, int, int] | None] = {}
    todo: dict[int, tuple[str, str | None]] = {}
    for k, png in pngs.items():
        target = None
        if cache_dir is not None:
            try:
                target = cache_file(png, cache_dir)
            except OSError:
                target = None
            if target is not None and target.is_file():
                hit = _read_cached(target)
                if hit is not None:
                    out[k] = hit
                    continue
        todo[k] = (str(png), None if target is None else str(target))
    if workers is None:
        from brooker.batch import usable_cpus

        workers = usable_cpus()
    keys = list(todo)
    if workers <= 1 or len(keys) < 16:
        out.update({k: _make_and_keep(*todo[k]) for k in keys})
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded parent
    with ProcessPoolExecutor(max_workers=min(workers, len(keys)), mp_context=ctx) as pool:
        done = pool.map(
            _make_and_keep, [todo[k][0] for k in keys], [todo[k][1] for k in keys], chunksize=8
        )
        out.update(zip(keys, done, strict=True))
    return out


def _overlay_path(rec: Mapping[str, Any], out_dir: Path) -> Path | None:
    overlay = rec.get("overlay")
    if not overlay:
        return None
    given = Path(str(overlay))
    # the run folder's own copy first: a run folder copied or moved elsewhere (its records
    # still naming the old absolute paths) links its own overlays, not the original's
    for cand in (out_dir / given.name, given):
        if cand.is_file():
            return cand
    return None


def _href(path: Path, out_dir: Path) -> str:
    try:
        rel = os.path.relpath(path.resolve(), out_dir.resolve())
    except ValueError:  # another drive on Windows
        return path.resolve().as_uri()
    # a folder or file name that is not UTF-8 (a lone surrogate, ``os.fsdecode``) is linked
    # as its own byte, percent-encoded
    return urllib.parse.quote(Path(rel).as_posix(), errors="surrogateescape")


def report_id(out_dir: str | os.PathLike[str]) -> str:
    """The localStorage namespace of a report folder (a hash of its absolute path)."""
    path = os.fspath(Path(out_dir).resolve())
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    """``value`` as text the UTF-8 page can hold: a byte of a file name that is not UTF-8 (a
    surrogate escape, ``os.fsdecode``) is shown as ``\\xNN``, as on the terminal."""
    text = "" if value is None else str(value)
    if text.isascii():
        return text
    return re.sub("[\udc80-\udcff]", lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def _e(value: object) -> str:
    return html.escape(_text(value), quote=True)


def _fmt_mm(v: Any) -> str:
    return f"{float(v):.1f}"


def _count_table(counter: Mapping[str, int], *, limit: int | None = None) -> str:
    items = list(counter.items())
    rest = 0
    if limit is not None and len(items) > limit:
        rest = sum(n for _, n in items[limit:])
        items = items[:limit]
    rows = "".join(f'<tr><td class="n">{n}</td><td>{_e(k)}</td></tr>' for k, n in items)
    if rest:
        rows += f'<tr><td class="n">{rest}</td><td>other</td></tr>'
    return f"<table>{rows or '<tr><td>none</td></tr>'}</table>"


#: A number in a caveat's text (a gap, a percentage, a depth): counted as one kind of caveat;
#: a DICOM tag such as (0020,0020), matched first, names the attribute and is kept.
# A minus belongs to its number ("score -1.6" and "score 2.0" are one kind of caveat) unless a
# letter or digit comes before it ("T-1", "0.5-1.0" keep theirs).
# A Brooker class in Roman numerals after "grades" (a hip graded about five centres: "this
# hip grades 0 to IV") is a figure too, as its Arabic digit was.
# Digits inside a word or a path ("IM1.dcm", "/mnt/disk2/") are not a figure: two broken
# links' notes were one note lettered "/mnt/nodisk/IMa: 1, b: 2.dcm".
_NUMBER = re.compile(
    r"(\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\))"
    r"|(?:(?<![A-Za-z0-9])-)?(?<![A-Za-z0-9_/\\.])\d+(?:\.\d+)?(?![A-Za-z0-9_/\\])"
    r"|(?:(?<=grades )|(?<=grades 0 to )|(?<=grades I to )|(?<=grades II to )"
    r"|(?<=grades III to ))(?:IV|III|II|I)\b"
)
#: The value of a Brooker class written in Roman numerals, as a figure.
_ROMAN = {"I": 1.0, "II": 2.0, "III": 3.0, "IV": 4.0}


def _value(figure: str) -> float:
    """A figure of a caveat (:func:`caveat_figures`) as a number, to order its values by.

    >>> [_value(f) for f in ("0", "II", "-1.6")]
    [0.0, 2.0, -1.6]
    """
    return _ROMAN.get(figure) or float(figure)


def caveat_kind(text: str) -> str:
    """A caveat's text with its numbers as ``N``: the key by which the summary counts kinds
    of caveat (the page names each kind with :func:`kind_name`, not with this key).

    >>> caveat_kind("gap 10.4 mm is within its uncertainty (±0.8 mm) of 10 mm")
    'gap N mm is within its uncertainty (±N mm) of N mm'
    >>> caveat_kind("(0018,5101) View Position PA, 2 hips")
    '(0018,5101) View Position PA, N hips'
    >>> caveat_kind("judge score -1.6 near its cut") == caveat_kind("judge score 2.0 near its cut")
    True
    >>> caveat_kind("range 0.5-1.0 mm")
    'range N-N mm'
    >>> caveat_kind("a link to /mnt/disk2/IM1.dcm, 3 mm")
    'a link to /mnt/disk2/IM1.dcm, N mm'
    >>> caveat_kind("this hip grades 0 to IV: the lowest") == caveat_kind("this hip grades II "
    ...     "to III: the lowest")
    True
    """
    return _NUMBER.sub(lambda m: m.group(1) or "N", text)


def caveat_figures(text: str) -> list[str]:
    """The numbers :func:`caveat_kind` writes as ``N``, in order, as the caveat spells them:
    two caveats of one kind differ only there.

    >>> caveat_figures("(0018,5101) gap 10.4 mm, score -1.6, range 0.5-1.0 mm")
    ['10.4', '-1.6', '0.5', '1.0']
    """
    return [text[a:b] for a, b in figure_spans(text)]


def figure_spans(text: str) -> list[tuple[int, int]]:
    """Where :func:`caveat_figures` are in ``text``: each one's start and end.

    >>> figure_spans("(0018,5101) grades 0 to IV")
    [(19, 20), (24, 26)]
    """
    return [m.span() for m in _NUMBER.finditer(text) if m.group(1) is None]


def with_figures(text: str, figure: Callable[[int], str]) -> str:
    """``text`` with its ``i``-th figure (:func:`caveat_figures`) written as ``figure(i)``.

    >>> with_figures("(0018,5101) gap 10.4 mm of 10 mm", lambda i: f"<{i}>")
    '(0018,5101) gap <0> mm of <1> mm'
    """
    count = itertools.count()
    return _NUMBER.sub(lambda m: m.group(1) or figure(next(count)), text)


class _Kinds:
    """Texts counted by kind (:func:`caveat_kind`, or a key given), each kind remembered as
    its first text and, per number in it, the smallest and largest value its texts hold: what
    :meth:`named` names it by. Held per kind, not per text, for a run of any size."""

    def __init__(self) -> None:
        self._count: Counter[str] = Counter()
        # kind -> (its first text, per number the (smallest, largest) as written); None in
        # place of the numbers when its texts hold different counts of them (a literal "N")
        self._seen: dict[str, tuple[str, list[tuple[str, str]] | None]] = {}
        # kind -> its texts' distinct numbers, up to _VARIANTS_NAMED + 1 of them (more are
        # not kept): a kind of a few variants is named by them, not by each figure's range
        self._variants: dict[str, list[tuple[str, ...]]] = {}

    def add(self, text: str, kind: str | None = None) -> None:
        key = caveat_kind(text) if kind is None else kind
        self._count[key] += 1
        numbers = caveat_figures(text)
        variants = self._variants.setdefault(key, [])
        if len(variants) <= _VARIANTS_NAMED and tuple(numbers) not in variants:
            variants.append(tuple(numbers))
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = (text, [(n, n) for n in numbers])
            return
        first, spans = seen
        if spans is None:
            return
        if len(spans) != len(numbers):
            self._seen[key] = (first, None)
            return
        for i, (n, (lo, hi)) in enumerate(zip(numbers, spans, strict=True)):
            spans[i] = (min(lo, n, key=_value), max(hi, n, key=_value))

    def _name(self, key: str) -> str:
        first, spans = self._seen[key]
        if spans is None:
            return key
        varying = sum(_value(lo) != _value(hi) for lo, hi in spans)
        variants = self._variants.get(key, [])
        if varying > 1 and 1 < len(variants) <= _VARIANTS_NAMED:
            # a few variants of two figures or more: each as written, "0 to IV, II to III or
            # II to IV" ("(0 to II) to (III to IV)" read as one nonsense range, a test)
            return _variants_named([with_figures(first, v.__getitem__) for v in variants])
        # two ranges side by side ("grades 0 to III to I to IV", "0.19 to 0.46 x 0.19 to
        # 0.46 mm") read as one run of figures: each is bracketed when more than one varies
        ranged = "({} to {})" if varying > 1 else "{} to {}"
        shown = [lo if _value(lo) == _value(hi) else ranged.format(lo, hi) for lo, hi in spans]
        return with_figures(first, shown.__getitem__)

    def named(self) -> dict[str, int]:
        """Count per kind, commonest first, each kind named by its texts: a number they all
        share as it is, one that differs as ``"LOW to HIGH"``."""
        names: Counter[str] = Counter()
        for key, n in self._count.most_common():
            names[self._name(key)] += n
        return dict(names.most_common())


#: A kind of caveat whose texts differ in two figures or more is named by its variants, up to
#: this many; more, by each figure's range.
_VARIANTS_NAMED = 3


def _shared_start(texts: list[str]) -> str:
    """The characters every one of ``texts`` starts with."""
    first = min(texts, key=len)
    n = next((i for i in range(len(first)) if any(t[i] != first[i] for t in texts)), len(first))
    return first[:n]


def _variants_named(texts: list[str]) -> str:
    """Texts that differ in the middle only, as one: their shared start and end around the
    parts that differ, joined "A, B or C"; cut at word boundaries, so that a shared "II" of
    "II to III" and "III to IV" is no start.

    >>> _variants_named(["grades 0 to IV: low", "grades II to III: low", "grades II to IV: low"])
    'grades 0 to IV, II to III or II to IV: low'
    >>> _variants_named(["grades II to III: x", "grades III to IV: x"])
    'grades II to III or III to IV: x'
    >>> _variants_named(["score 1.5, needs 2.5", "score 2.5, needs 3.5"])
    'score 1.5, needs 2.5 or 2.5, needs 3.5'
    >>> _variants_named(["a b", "a b"])
    'a b'
    """
    if len(set(texts)) == 1:
        return texts[0]
    start = _shared_start(texts)
    start = start[: start.rfind(" ") + 1] if " " in start else ""
    # the shared end starts after any part of a figure: "1.5" and "2.5" share ".5", and
    # "IV" and "III" share nothing, "0 to IV" and "II to IV" " to IV"
    end = _shared_start([t[::-1] for t in texts])[::-1]
    cut = 0
    while cut < len(end) and (end[cut].isalnum() or end[cut] in ".-+" or (
        end[cut] == "," and end[cut + 1 : cut + 2].isdigit()
    )):
        cut += 1
    end = end[cut:]
    middles = [t[len(start) : len(t) - len(end)] for t in texts]
    said = ", ".join(middles[:-1]) + " or " + middles[-1]
    return f"{start}{said}{end}"


def kind_name(texts: Iterable[str]) -> str:
    """The name the summary gives the kind of caveat ``texts`` are (one :func:`caveat_kind`):
    the caveat as written, but for its numbers that differ between the texts, each shown as
    the range of its values (a per-hip figure); the tool's own constants stay as they are.

    >>> kind_name(["its body begins 46 mm below", "its body begins 109 mm below"])
    'its body begins 46 to 109 mm below'
    >>> kind_name(["weak call (probability 0.55, under 0.7): 7 of 14 such calls were wrong",
    ...            "weak call (probability 0.68, under 0.7): 7 of 14 such calls were wrong"])
    'weak call (probability 0.55 to 0.68, under 0.7): 7 of 14 such calls were wrong'
    >>> kind_name(["score -1.6, needs 3.0", "score 2.0, needs 3.0"])
    'score -1.6 to 2.0, needs 3.0'
    >>> kind_name(["this hip grades 0 to III: lowest", "this hip grades I to IV: lowest"])
    'this hip grades 0 to III or I to IV: lowest'
    >>> kind_name([f"grades {a} to {b}: low"
    ...            for a, b in (("0", "I"), ("0", "II"), ("I", "IV"), ("II", "III"))])
    'grades (0 to II) to (I to IV): low'
    """
    kinds = _Kinds()
    for text in texts:
        kinds.add(text)
    (name,) = kinds.named()
    return name


def summary(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts the page's summary shows: files by status, hips by class, spacing sources,
    caveats (film and hip; by :func:`caveat_kind`, each kind named by :func:`kind_name`),
    reasons for not grading (error codes and the reasons of films with no hip; each hip found
    but not graded, by the kind of its reason, named in the same way), borderline, weak-call
    (``weak_call``; a record written before that field existed has none and counts as not
    weak) and prosthesis hips.
    """
    from brooker.batch import counts

    c = counts(records)
    spacing: Counter[str] = Counter()
    caveats = _Kinds()
    reasons = _Kinds()
    flags: Counter[str] = Counter()
    for rec in records:
        src = (rec.get("spacing") or {}).get("source")
        spacing[str(src) if src else "none"] += 1
        for x in rec.get("caveats") or []:
            caveats.add(str(x))
        hips = rec.get("hips") or []
        if rec.get("status") != "ok" and not hips:
            code = (rec.get("error") or {}).get("code")
            if code:  # a code is its own kind, said with what it means
                reasons.add(code_said(str(code)), kind=str(code))
            else:
                reasons.add(str(rec.get("reason") or rec.get("status")))
        for hip in hips:
            if hip.get("not_graded"):  # each hip found but not graded, by kind of reason
                reasons.add(str(hip["not_graded"]))
            for x in hip.get("caveats") or []:
                caveats.add(str(x))
            flags["borderline"] += bool(hip.get("borderline"))
            flags["weak call"] += bool(hip.get("weak_call"))
            flags["prosthesis"] += bool(hip.get("prosthesis"))
    return {
        "status": c["status"],
        "class": c["class"],
        "spacing": dict(spacing.most_common()),
        "caveats": caveats.named(),
        "not_graded": reasons.named(),
        "hips": {
            "borderline": flags["borderline"],
            "weak call": flags["weak call"],
            "prosthesis": flags["prosthesis"],
        },
    }


def _summary_html(records: Sequence[Mapping[str, Any]]) -> str:
    s = summary(records)
    n_hips = sum(s["class"].values())
    classes = {f"class {k}": s["class"].get(k, 0) for k in CLASSES}
    classes |= {k: n for k, n in s["class"].items() if k not in CLASSES}  # "not graded"
    classes |= {k: n for k, n in s["hips"].items()}
    parts = [
        f'<div class="stat"><h2>Films ({len(records)})</h2>{_count_table(s["status"])}</div>',
        f'<div class="stat"><h2>Hips ({n_hips})</h2>{_count_table(classes)}</div>',
        f'<div class="stat"><h2>Spacing source (films)</h2>{_count_table(s["spacing"])}</div>',
    ]
    if s["not_graded"]:
        parts.append(
            f'<div class="stat"><h2>Not graded</h2>{_count_table(s["not_graded"], limit=8)}</div>'
        )
    parts.append(
        f'<div class="stat caveats"><h2>Caveats</h2>{_count_table(s["caveats"], limit=10)}</div>'
    )
    return '<section class="summary" id="summary">' + "".join(parts) + "</section>"


def _hip_class(hip: Mapping[str, Any]) -> str:
    """The hip's class ``0``-``IV``, or ``""`` for a hip found but not graded."""
    cls = hip.get("brooker_class")
    return str(cls) if hip.get("grade") is not None and str(cls) in CLASSES else ""


def _flag(value: Any) -> str:
    """A yes/no of a record as a data attribute holds it."""
    return "1" if value else "0"


def _hip_html(hip: Mapping[str, Any]) -> str:
    cls = _hip_class(hip)
    side = "right" if hip.get("side") == "right" else "left"
    gap = hip.get("gap_mm")
    bits = []
    if gap is not None and hip.get("grade") == 4:
        bits.append("gap 0 mm (bridged)")  # as the overlay and the terminal word it
    elif gap is not None:
        unc = hip.get("gap_uncertainty_mm")
        txt = f"gap {_fmt_mm(label_gap_mm(float(gap)))}"
        if unc:
            txt += f" ± {_fmt_mm(unc)}"
        # the femoral end on the head, as the overlay's label and the terminal say it
        bits.append(txt + " mm" + gap_end_words(hip.get("gap_to_head")))
    tags = []
    if hip.get("borderline"):
        tags.append('<span class="tag borderline">borderline</span>')
    if hip.get("weak_call"):
        tags.append('<span class="tag weak">weak call</span>')
    span = hip.get("class_range")
    if isinstance(span, list) and len(span) == 2 and all(str(c) in CLASSES for c in span):
        # amber as a weak call is: the class reported is the lowest of a range
        words = class_range_words(str(span[0]), str(span[1]), hip.get("center_uncertainty_mm"))
        tags.append(f'<span class="tag weak">{_e(words)}</span>')
    partly = centres_graded_in(hip)
    if partly is not None:
        # as unsure as a range: the class was read about some of the nearby centres only
        words = centres_graded_words(*partly, hip.get("center_uncertainty_mm"))
        tags.append(f'<span class="tag weak">{_e(words)}</span>')
    for limit in hip.get("limited_by") or []:  # what the segmentation missed
        tags.append(f'<span class="tag weak">{_e(str(limit))}</span>')
    if hip.get("prosthesis"):
        tags.append('<span class="tag">prosthesis</span>')
    kinds = sorted({str(f.get("kind")) for f in hip.get("fragments") or []})
    if kinds:
        tags.append(f'<span class="tag">{_e(", ".join(k.replace("_", " ") for k in kinds))}</span>')
    why = [f"not graded: {hip['not_graded']}"] if not cls and hip.get("not_graded") else []
    notes = "".join(f"<li>{_e(c)}</li>" for c in [*why, *(hip.get("caveats") or [])])
    buttons = "".join(
        f'<button type="button" data-cls="{c}" title="reader: class {c} (key {i})">{c}</button>'
        for i, c in enumerate(CLASSES)
    )
    agree = 'title="agree (key a)"' if cls else 'disabled title="no class to agree with"'
    review = (
        f'<div class="review"><button type="button" class="agree" {agree}>agree</button>'
        f"{buttons}"
        '<button type="button" class="clear" title="clear the verdict (Backspace)">&times;</button>'
        f'<input class="note" type="text" placeholder="note (n)" aria-label="note, {side} hip">'
        '<span class="verdict"></span></div>'
    )
    gap_attr = "" if gap is None else repr(float(gap))
    if cls:
        badge = f'<span class="cls k{CLASSES.index(cls)}">{cls}</span>'
    else:
        badge = '<span class="cls kx" title="found, not graded">not graded</span>'
    return (
        f'<tr class="hip" data-side="{side}" data-cls="{_e(cls)}" data-gap="{gap_attr}"'
        # what the filters ask of a hip (report.js hipMatches): the keys go to the hips asked for
        f' data-borderline="{_flag(hip.get("borderline"))}"'
        f' data-weak="{_flag(hip.get("weak_call"))}"'
        f' data-prosthesis="{_flag(hip.get("prosthesis"))}">'
        f'<td class="side" title="patient\'s {side}">{side[0].upper()}</td>'
        f"<td>{badge} {_e(' '.join(bits))} {''.join(tags)}"
        f'{f"<ul class=hipnotes>{notes}</ul>" if notes else ""}{review}</td></tr>'
    )


def _crop_links(png: Path, where: Path) -> list[tuple[str, str]]:
    """``(side, href)`` of the hip crops written beside the overlay ``png``
    (``--overlay-crops``: ``<stem>-right.png``, ``<stem>-left.png``), those that are there."""
    out = []
    for side in ("right", "left"):
        crop = png.with_name(f"{png.stem}-{side}.png")
        if crop.is_file():
            out.append((side, _href(crop, where)))
    return out


def _card_html(
    i: int,
    rec: Mapping[str, Any],
    thumb: tuple[str, int, int] | None,
    href: str | None,
    crops: Sequence[tuple[str, str]] = (),
) -> str:
    hips = list(rec.get("hips") or [])
    status = str(rec.get("status"))
    classes = [c for c in map(_hip_class, hips) if c]
    grades = [CLASSES.index(c) for c in classes]
    not_graded = status != "ok" or len(classes) < len(hips)
    gaps = [float(h["gap_mm"]) for h in hips if h.get("gap_mm") is not None]
    # a verdict belongs to this path with this content: an edited file loses it, and two
    # copies of one image in different folders get one each
    key = f'{rec.get("file")}|{rec.get("input_sha256") or ""}'

    attrs = {
        "id": f"film-{i}",
        "data-i": str(i),
        "data-key": str(key),
        "data-file": str(rec.get("file")),
        "data-uid": str(rec.get("sop_instance_uid") or ""),
        "data-status": status,
        "data-classes": " ".join(classes),
        "data-max": str(max(grades)) if grades else "",
        "data-mingap": repr(min(gaps)) if gaps else "",
        "data-borderline": "1" if any(h.get("borderline") for h in hips) else "0",
        "data-weak": "1" if any(h.get("weak_call") for h in hips) else "0",
        "data-prosthesis": "1" if any(h.get("prosthesis") for h in hips) else "0",
        "data-notgraded": "1" if not_graded else "0",
    }
    head = "<article class=\"card\" " + " ".join(f'{k}="{_e(v)}"' for k, v in attrs.items()) + ">"
    if thumb is not None:
        uri, w, h = thumb
        link = href or uri
        picture = (
            f'<a class="thumb" href="{_e(link)}" title="full size (o)">'
            f'<img src="{uri}" width="{w}" height="{h}" alt="overlay of film {i + 1}" '
            'loading="lazy" decoding="async"></a>'
        )
    else:
        why = "no overlay (--no-overlay, or not graded)" if status == "ok" else "no overlay"
        picture = f'<div class="nothumb">{why}</div>'
    if status == "ok":
        status_line = ""
    else:
        status_line = f'<p class="status {_e(status)}">{_e(status)}: {_e(why_not_graded(rec))}</p>'
    src = (rec.get("spacing") or {}).get("source")
    spacing = f'<p class="status">spacing: {_e(src)}</p>' if src else ""
    rows = "".join(_hip_html(h) for h in hips)
    table = f'<table class="hips">{rows}</table>' if rows else ""
    cav = "".join(f"<li>{_e(c)}</li>" for c in rec.get("caveats") or [])
    caveats = f'<ul class="caveats">{cav}</ul>' if cav else ""
    name = path_named(str(rec.get("file") or ""))
    # the hip crops, each beside its unmarked twin: where a reader checks a bridge or a gap
    # (a radiologist reviewing from the page reached them only through the folder)
    links = " · ".join(
        f'<a href="{_e(h)}" target="_blank" rel="noopener">{_e(side)} hip</a>'
        for side, h in crops
    )
    crop_line = f'<p class="status">crops: {links}</p>' if links else ""
    return (
        f'{head}{picture}<div class="cbody"><h2 class="fname">{_e(name)}</h2>'
        f"{status_line}{table}{caveats}{spacing}{crop_line}</div></article>"
    )


_HELP = (
    ("j / ↓", "next film"),
    ("k / ↑", "previous film"),
    ("← / →", "other hip of the film"),
    ("a / Enter", "agree with the tool's class"),
    ("0 1 2 3 4", "reader's class 0 I II III IV"),
    ("n", "note for the hip (Enter or Esc to leave it)"),
    ("Backspace", "clear the verdict (right after a verdict key: take that one back)"),
    ("o", "full-size overlay (the keys above work there too; o or Esc closes)"),
    ("?", "this help"),
)


def _asset(name: str) -> str:
    return (resources.files("brooker") / "report_assets" / name).read_text(encoding="utf-8")


def _json_script(obj: object) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_report(
    records: Sequence[Mapping[str, Any]],
    *,
    out_dir: str | os.PathLike[str],
    thumbnails: Mapping[int, tuple[str, int, int] | None] | None = None,
    title: str | None = None,
    page_dir: str | os.PathLike[str] | None = None,
    unfinished: Sequence[str] = (),
) -> str:
    """The review page of ``records`` as an HTML string.

    ``thumbnails`` maps a record's index to its thumbnail (:func:`thumbnail_data_uri`); when
    ``None`` they are made from the overlays found in ``out_dir``. Links to the full-size
    overlays are relative to ``page_dir`` (default ``out_dir``), where the page will be.
    ``unfinished``: what the run's manifests say of a run that did not finish
    (:func:`unfinished_runs`), shown under the title.
    """
    base = Path(out_dir)
    where = Path(page_dir) if page_dir is not None else base
    thumbs: dict[int, tuple[str, int, int] | None] = {}
    hrefs: dict[int, str | None] = {}
    crops: dict[int, list[tuple[str, str]]] = {}
    for i, rec in enumerate(records):
        png = _overlay_path(rec, base)
        hrefs[i] = None if png is None else _href(png, where)
        crops[i] = [] if png is None else _crop_links(png, where)
        if thumbnails is not None:
            thumbs[i] = thumbnails.get(i)
        else:
            thumbs[i] = None if png is None else thumbnail_data_uri(png)
    title = title or f"brooker review: {base.resolve().name}"
    cards = "\n".join(
        _card_html(i, r, thumbs[i], hrefs[i], crops[i]) for i, r in enumerate(records)
    )
    meta = {"report_id": report_id(base), "columns": list(REVIEW_COLUMNS)}
    options = "".join(f'<option value="{c}">class {c}</option>' for c in CLASSES)
    help_rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in _HELP)
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    versions = sorted({str(r.get("version")) for r in records if r.get("version")})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{_e(title)}</title>
<style>{_asset("report.css")}</style>
</head><body>
<header class="top"><h1>{_e(title)}</h1>
<p class="sub">{len(records)} film(s) · graded by brooker {_e(", ".join(versions) or "?")} ·
page made {generated} by brooker {__version__} · press <kbd>?</kbd> for the review keys</p>
{"".join(f'<p class="unfinished">{_e(line)}</p>' for line in unfinished)}
<p id="storage-warning" hidden>This browser does not keep verdicts for files opened from disk:
export review.csv before closing the page.</p></header>
{_summary_html(records)}
<nav class="bar" aria-label="filters">
<label>class <select id="f-class"><option value="">any</option>{options}</select></label>
<label><input type="checkbox" id="f-borderline"> borderline</label>
<label title="films with a hip whose class rests only on fragments the learned judge kept at a
 low probability (README step 4)"><input type="checkbox" id="f-weak"> weak call</label>
<label title="ungradable and error films, and films with a hip found but not graded"><input
 type="checkbox" id="f-notgraded"> not graded</label>
<label><input type="checkbox" id="f-prosthesis"> prosthesis</label>
<label><input type="checkbox" id="f-unreviewed"> not reviewed</label>
<label>file <input type="search" id="f-name" placeholder="part of the path"></label>
<label>sort <select id="f-sort"><option value="run">run order</option>
<option value="file">file name</option><option value="class-desc">class, highest first</option>
<option value="class-asc">class, lowest first</option>
<option value="gap">gap, smallest first</option>
</select></label>
<span id="shown"></span><span class="spacer"></span><span id="progress"></span>
<button type="button" id="export" class="primary">Export review.csv</button>
<label title="load the verdicts of an exported review.csv"><button type="button"
 onclick="document.getElementById('import').click()">Import…</button><input type="file"
 id="import" accept=".csv,text/csv" hidden></label><span id="import-status"></span>
<button type="button" id="clear-all">Clear verdicts</button>
<button type="button" id="help-toggle">?</button>
</nav>
<main id="cards">
{cards}
</main>
<div id="lightbox" hidden><img alt="full-size overlay"><p class="caption"></p></div>
<aside id="help" hidden><h2>Review keys</h2><dl>{help_rows}</dl>
<p>Verdicts stay in this browser until cleared; <b>Export review.csv</b> writes them
({_e(", ".join(REVIEW_COLUMNS))}); <code>brooker agreement review.csv</code> scores them.</p>
</aside>
<script type="application/json" id="brooker-meta">{_json_script(meta)}</script>
<script>{_asset("report.js")}</script>
</body></html>
"""


def write_report(
    out_dir: str | os.PathLike[str],
    records: Iterable[Mapping[str, Any]] | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    workers: int | None = None,
    unfinished: Sequence[str] | None = None,
) -> ReportInfo:
    """Write the review page of a run folder (atomically) and say what it holds.

    ``records`` default to :func:`load_records` of ``out_dir``; ``path`` to
    ``out_dir/report.html``; thumbnails are made by ``workers`` processes (default: the
    CPUs this process may run on, :func:`brooker.batch.usable_cpus`; decoding the 2048 px
    overlay PNGs is most of the time) and kept in
    ``out_dir/.report-thumbs`` for the next build. ``unfinished`` defaults to what the
    folder's manifests say of runs that did not finish (:func:`unfinished_runs`); ``grade
    --report`` gives none (its own manifest says "running" until the page is written). A page
    that cannot be written raises :class:`brooker.errors.OutputError`.
    """
    t0 = time.perf_counter()
    base = Path(out_dir)
    recs = list(records) if records is not None else load_records(base)
    pngs = {i: png for i, rec in enumerate(recs) if (png := _overlay_path(rec, base))}
    thumbs: dict[int, tuple[str, int, int] | None] = dict.fromkeys(range(len(recs)))
    thumbs.update(make_thumbnails(pngs, workers=workers, cache_dir=base / THUMB_CACHE))
    target = Path(path) if path is not None else base / REPORT_NAME
    page = render_report(
        recs,
        out_dir=base,
        thumbnails=thumbs,
        title=title,
        unfinished=unfinished_runs(base) if unfinished is None else unfinished,
        # links from where the page lands: through a link -o names, its target's folder
        page_dir=Path(os.path.realpath(target)).parent,
    ).encode("utf-8", "backslashreplace")  # lone surrogates are escaped by _e already
    try:
        atomic_write_bytes(target, page, follow=path is not None)  # -o: the file the user named
    except OSError as exc:  # the environment (permissions, a full disk), not a bug
        from brooker.errors import output_error

        raise output_error(exc, os.fsdecode(target)) from None
    return ReportInfo(
        path=target,
        films=len(recs),
        thumbnails=sum(t is not None for t in thumbs.values()),
        size_bytes=len(page),
        seconds=time.perf_counter() - t0,
    )
