"""Atomic file writes: readers see the old file or the new one, never a part of either.

Every output brooker writes (overlays, results and manifest files, CSV, synthetic DICOM) goes
through :func:`atomic_write_bytes`, so an interrupted run leaves no half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, rename.

    The folder is created if needed and fsynced after the rename. ``mode`` is the new file's
    permission bits (``mkstemp`` alone would leave 0600 on an ordinary output file).
    """
    target = Path(path)
    folder = target.parent.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return target


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
