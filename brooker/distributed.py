"""Grade on a Dask cluster (optional extra: ``pip install 'brooker[dask]'``).

The same per-file function as local batches (:func:`brooker.batch.grade_one`) is mapped over
partitions of the paths (a Dask task each); each partition is written as JSON lines to
``out_dir/part-NNNNN.jsonl`` (``part-shard-I-of-N-NNNNN.jsonl`` for shard I of N of a job
array) by the worker that graded it, so ``out_dir`` (and the inputs) must be on a file system
every worker sees. With ``client=`` (a ``distributed.Client``) the work runs on that cluster;
without, in local processes (Dask's ``processes`` scheduler).

Unlike :func:`brooker.batch.grade_many` there is no per-file time limit here: a file runs in
the Dask worker's own process (Dask restarts workers that die). A partition whose task kills
its workers as often as the scheduler allows (``KilledWorker``) is graded again one film per
task, so that its other films are graded and the film that kills them gets an
``internal_error`` record. Overlay names and records are the same as in a local run.

Example::

    from dask.distributed import Client
    from brooker.distributed import grade_bag

    with Client("tcp://scheduler:8786") as client:
        parts = grade_bag(paths, out_dir="/shared/out", client=client)
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    import dask
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "brooker.distributed needs Dask: install it with  pip install 'brooker[dask]'"
    ) from exc

from brooker.atomic import atomic_write_bytes
from brooker.background import in_turn_here
from brooker.batch import (
    GradeFn,
    check_out_dir,
    discover,
    error_record,
    grade_one,
    input_paths,
    part_prefix,
    part_run_suffix,
    record_line,
    remove_earlier_overlays,
    respelled,
    select_shard,
    shard_suffix,
)
from brooker.config import AnalysisConfig, config_or_default
from brooker.errors import ConfigError, output_error
from brooker.paths import require_folder

__all__ = ["grade_bag", "grade_record"]


def grade_record(
    path: str,
    config: AnalysisConfig | None,
    out_dir: str | None,
    overlay: bool,
    overlay_crops: bool,
    names: Mapping[str, str],
    grade_fn: GradeFn | None = None,
    base_dir: str | None = None,
    out_spelling: str | None = None,
) -> str:
    """Grade one file on a Dask worker; its record as one JSON line.

    A worker runs in its own working folder: a relative ``path`` is read in ``base_dir`` (the
    client's), and ``out_dir`` is given absolute. The record keeps the client's spelling of
    the file, and of its overlay in ``out_spelling`` (the ``out_dir`` the caller gave), as a
    local run's records do."""
    # an empty path names no file (joined, it would be the client's folder)
    read = path if base_dir is None or not path else os.path.join(base_dir, path)
    # Dask's threads keep the worker's cores busy: the film's parts in turn, not in threads of
    # their own beside them (brooker.background)
    with in_turn_here():
        result = grade_one(
            read,
            config,
            out_dir=out_dir,
            overlay=overlay,
            overlay_crops=overlay_crops,
            overlay_name=names.get(path),
            grade_fn=grade_fn,
        )
    rec = result.to_record()
    if read != path:
        # the message names the file as the worker read it: as the client spelt it, as a
        # local run's message does
        rec = respelled(rec, path)
    shown = rec.get("overlay")
    if out_spelling is not None and isinstance(shown, str):
        rec["overlay"] = str(Path(out_spelling) / os.path.basename(shown))
    return record_line(rec)


def grade_bag(
    paths: Sequence[str | os.PathLike[str]],
    config: AnalysisConfig | None = None,
    *,
    out_dir: str | os.PathLike[str],
    npartitions: int | None = None,
    client: Any = None,
    overlay: bool = True,
    overlay_crops: bool = False,
    recursive: bool = True,
    names: Mapping[str, str] | None = None,
    grade_fn: GradeFn | None = None,
    shard: tuple[int, int] | None = None,
    on_part: Callable[[str, int], None] | None = None,
) -> list[str]:
    """Grade ``paths`` on Dask; write ``out_dir/part-*.jsonl``; return their paths, sorted.

    Parameters
    ----------
    paths : sequence of str or Path
        Files and folders (see :func:`brooker.batch.discover`; folders are searched here, on
        the client).
    config : AnalysisConfig, optional
    out_dir : str or Path
        Where the JSON-lines partitions and the overlays go. The partitions an earlier run of
        the same shard wrote there (``part-NNNNN.jsonl`` with no shard) are removed first, so
        they hold exactly this run's records, and with them the overlays they name that no
        other records file there names (nor any of this run's inputs); other shards'
        partitions are left alone, so the shards of a job array can share ``out_dir`` and run
        at the same time.
    npartitions : int, optional
        Default: about 4 files per partition, at most 1000 partitions.
    client : distributed.Client, optional
        Run on this cluster; default: Dask's default scheduler.
    overlay, overlay_crops, recursive, names, grade_fn
        As in :func:`brooker.batch.grade_many`.
    shard : (int, int), optional
        ``(I, N)``: grade only shard I of N of the inputs (:func:`brooker.batch.select_shard`,
        as ``brooker grade --shard I/N``) and name the partitions
        ``part-shard-I-of-N-NNNNN.jsonl``.
    on_part : callable, optional
        Called in this process with each partition's path and its number of files once that
        partition is written, in the order the partitions finish (on a cluster; without a
        client, when all have): for a progress bar, or to read the records as they come. An
        exception it raises stops the run (the cluster's tasks are cancelled) and is raised.

    Returns
    -------
    list of str
        The partition files this run wrote, one JSON record per input per line.

    Raises
    ------
    ConfigError
        ``out_dir`` is itself one of the folders in ``paths``
        (:func:`brooker.batch.check_out_dir`), or ``shard`` is not ``(I, N)`` with
        ``0 <= I < N``: before any file is read or written.
    NotADirectoryError
        No folder can be made at ``out_dir`` (:func:`brooker.paths.require_folder`): before
        any file is read or written.
    OutputError
        An overlay of the replaced partitions cannot be removed
        (:func:`brooker.batch.remove_earlier_overlays`): nothing else is written.
    """
    config = config_or_default(config, "grade_bag()")  # before anything is removed or sent
    _check_shard(shard)
    out = os.fspath(out_dir)
    # read twice below (an iterator would be used up by the first); one path is one input
    paths = input_paths(paths, "grade_bag()")
    require_folder(out, "grade_bag()")
    check_out_dir(out, paths)
    files = list(discover(paths, recursive=recursive, exclude=[out]).files)
    every = files  # never an input, another shard's neither (as the command line's removal)
    if shard is not None:
        files = select_shard(files, *shard)
    names = {f: names[f] for f in files if f in names} if names else {}
    os.makedirs(out, exist_ok=True)
    # the overlays the replaced parts name go with them, while those parts still name them
    # (as a command-line run without --resume removes its earlier run's): a film left out
    # of this run, or graded without an overlay, kept a picture no record named
    remove_earlier_overlays(out, shard_suffix(shard), every, parts_only=True)
    for old in _parts(out, shard):
        os.remove(old)
    if not files:
        return []
    if npartitions is None:
        npartitions = max(1, min(1000, (len(files) + 3) // 4))
    size = -(-len(files) // max(1, min(npartitions, len(files))))  # files per partition
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    # the workers' working folder is not the client's: relative paths are the client's
    here = os.getcwd()
    out_abs = os.path.join(here, out)
    grade = {
        "config": config,
        "out_dir": out_abs,
        "overlay": overlay,
        "overlay_crops": overlay_crops,
        "names": names,
        "grade_fn": grade_fn,
        "base_dir": here,
        "out_spelling": out,
    }
    # each partition graded and written whole by the worker that graded it (atomically: a
    # worker killed mid-write leaves no torn part), to a path built here
    targets = [
        os.path.join(out_abs, f"{part_prefix(shard)}{_part_name(i)}.jsonl")
        for i in range(len(chunks))
    ]
    writes = [
        dask.delayed(_grade_part)(chunk, target, grade)  # type: ignore[attr-defined]
        for chunk, target in zip(chunks, targets, strict=True)
    ]
    if client is None:  # local processes, as a dask.bag's default scheduler had it
        dask.compute(*writes, scheduler="processes")  # type: ignore[attr-defined,no-untyped-call]
        if on_part is not None:
            for chunk, target in zip(chunks, targets, strict=True):
                on_part(_spelt(out, target), len(chunk))
        return _parts(out, shard)
    from distributed import KilledWorker, as_completed

    futures = client.compute(writes)
    # as_completed yields the futures themselves: each one's partition, by identity
    which = {id(f): k for k, f in enumerate(futures)}
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            chunk, target = chunks[which[id(future)]], targets[which[id(future)]]
            try:
                future.result()
            except KilledWorker:
                # a film that kills its worker (a decoder's crash, the memory) took its whole
                # partition, retried, down with it, and the run with them (exit 1, no
                # record): the partition's films one task each, so that the others are graded
                # and that one gets an internal_error record, as a local run's worker death
                # gives
                # written here, by the client: out_dir is on its file system too
                _write_part(_one_by_one(client, chunk, grade), target)
            if on_part is not None:
                on_part(_spelt(out, target), len(chunk))
    except BaseException:
        # stopped (Ctrl-C) or failed: the cluster's tasks go too, or its workers went on
        # writing overlays into out_dir after the command had ended
        client.cancel(futures)
        raise
    return _parts(out, shard)


def _grade_part(chunk: Sequence[str], target: str, grade: Mapping[str, Any]) -> str:
    """Grade a partition's files on a Dask worker and write their records to ``target``."""
    return _write_part([grade_record(path, **grade) for path in chunk], target)


def _one_by_one(client: Any, chunk: Sequence[str], grade: Mapping[str, Any]) -> list[str]:
    """The record lines of ``chunk``'s files, each graded in a task of its own on the cluster
    of ``client``; a file whose task kills its worker (as many times as the scheduler allows)
    gets an ``internal_error`` record instead.

    The tasks run side by side, so a task only queued on a worker that another film killed
    is counted among the suspects too (a user's test of 2026-12-07: a healthy film beside one
    over the memory limit got its record as well): each film whose task failed so is graded
    again in a task of its own, one of this partition's at a time (other partitions' tasks may
    still share the workers), and only one that kills its worker then too gets the record."""
    from distributed import KilledWorker

    def task(path: str) -> Any:
        return dask.delayed(grade_record)(path, **grade)  # type: ignore[attr-defined]

    futures = client.compute([task(p) for p in chunk])
    lines: list[str | None] = []
    for future in futures:
        try:
            lines.append(str(future.result()))
        except KilledWorker:
            lines.append(None)
    del futures  # the failed tasks' keys released before they are asked for again
    for i, path in enumerate(chunk):
        if lines[i] is not None:
            continue
        try:  # alone now (delayed's keys are new for each call: no failed result reused)
            lines[i] = str(client.compute(task(path)).result())
        except KilledWorker:
            rec = error_record(
                path,
                "internal_error",
                "the Dask worker grading it died, each time the scheduler retried it, also "
                "when it was graded alone (a decoder's crash, or the worker's memory limit): "
                "the other films are graded",
            ).to_record()
            lines[i] = record_line(rec)
    return [line for line in lines if line is not None]


def _spelt(out: str, target: str) -> str:
    """A partition's path spelt as ``out_dir`` was given, as :func:`grade_bag` returns it (the
    task writes to its absolute path: the workers' working folder is not the client's)."""
    return os.path.join(out, os.path.basename(target))


def _part_name(i: int) -> str:
    return f"{i:05d}"


def _write_part(lines: Sequence[str], path: str) -> str:
    """Write one partition's record lines to ``path`` (atomically, each line ended); its path.

    A write that fails (a read-only share, permissions, a full disk) raises the typed
    :class:`~brooker.errors.OutputError` (exit 5 at the command line), on a worker as on the
    client: as the plain ``OSError`` it came back from the worker as, the command line took
    it for the cluster's connection lost (exit 6, "run the same command again", which fails
    the same way)."""
    try:
        atomic_write_bytes(path, "".join(line + "\n" for line in lines).encode("utf-8"))
    except OSError as exc:
        raise output_error(exc, path) from None
    return path


def _parts(out: str, shard: tuple[int, int] | None) -> list[str]:
    """The partition files of ``shard`` (or of no shard) in ``out``, sorted: never another
    shard's, which may be running now."""
    own = shard_suffix(shard)
    found = glob.glob(os.path.join(glob.escape(out), f"{part_prefix(shard)}*.jsonl"))
    return sorted(p for p in found if part_run_suffix(os.path.basename(p)) == own)


def _check_shard(shard: object) -> None:
    """Refuse a ``shard`` that is not None or ``(I, N)`` with ``0 <= I < N``."""
    if shard is None:
        return
    ok = (
        isinstance(shard, tuple)
        and len(shard) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in shard)
        and 0 <= shard[0] < shard[1]
    )
    if not ok:
        raise ConfigError(f"shard must be (I, N) with 0 <= I < N, got {shard!r}")
