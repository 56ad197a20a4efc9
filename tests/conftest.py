"""Shared fixtures. Tests that need ../shared (devset, dicom_zoo) skip cleanly without it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


#: Test files that take longest, longest first (serial seconds on 2 cores, 2026-12-03:
#: scoreboard 176 with ../shared, phantom 85, calibration 71, cli_grade 55, engine 54,
#: burned_text 40, batch 34; the other 46 files 5-20 s or less).
LONGEST_FIRST = (
    "test_scoreboard.py",
    "test_phantom.py",
    "test_calibration.py",
    "test_cli_grade.py",
    "test_engine.py",
    "test_burned_text.py",
    "test_batch.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first. pytest-xdist (``--dist loadfile --no-loadscope-reorder``,
    pyproject.toml) hands whole files to its workers in collection order; a long file handed
    out last (by default xdist orders files by their number of tests, and the scoreboard's 21
    tests took 3 minutes) would run on its own at the end while the other workers idle. Order
    within a file is kept."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the project; skips the test when it is absent."""
    if not (SHARED / "devset").is_dir():
        pytest.skip("../shared is not beside the project")
    return SHARED


@pytest.fixture(scope="session")
def devset_dir(shared_dir: Path) -> Path:
    """The 20-film development set."""
    return shared_dir / "devset"


@pytest.fixture(scope="session")
def zoo_dir(shared_dir: Path) -> Path:
    """The DICOM zoo of odd real files."""
    d = shared_dir / "dicom_zoo"
    if not d.is_dir():
        pytest.skip("../shared/dicom_zoo is absent")
    return d


@pytest.fixture
def short_tmp_path() -> Iterator[Path]:
    """A fresh, empty folder with a short path, for a child's ``TMPDIR`` whose leftovers a
    test checks: the batch's forkserver binds a Unix socket in the temporary folder, and a
    socket path may hold at most 107 bytes. Under a longer one (``tmp_path`` under a long test
    name, or under pytest-xdist's ``popen-gwN``) the batch puts multiprocessing's folder in
    ``/tmp`` instead (``worker_server._forkserver_temp_dir``), out of the test's sight. Removed
    afterwards."""
    path = Path(tempfile.mkdtemp(prefix="brooker-t"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_media_folder(image: Path, folder: Path) -> Path:
    """``image`` (a DICOM file) written as a CD export writes it, into ``folder``: a DICOMDIR
    beside PT*/ST*/SE*/IM*. The DICOMDIR's path."""
    import gc
    import warnings

    import pydicom
    from pydicom.fileset import FileSet

    ds = pydicom.dcmread(image)
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20200101", "120000", "1"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    with warnings.catch_warnings():
        # pydicom's FileSet stages in a temporary folder it leaves to the garbage collector
        warnings.simplefilter("ignore", ResourceWarning)
        fs = FileSet()
        fs.add(ds)
        fs.write(folder)
        del fs
        gc.collect()
    return folder / "DICOMDIR"
