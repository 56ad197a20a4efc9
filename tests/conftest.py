"""Shared fixtures. Tests that need ../shared (devset, dicom_zoo) skip cleanly without it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# No per-example deadline for the property tests: their examples take under a millisecond, and
# Hypothesis's default 200 ms deadline turned a stall of the busy test machine (two cores, two
# pytest workers, command lines started by the tests) into a "flaky" failure; the inputs are
# still drawn anew on every run.
settings.register_profile("brooker", deadline=None)
settings.load_profile("brooker")


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


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The terminal every test's output is read in: 80 columns, colour as the output decides.
    The shell's own ``COLUMNS`` or ``FORCE_COLOR`` otherwise reached rich through typer's
    CliRunner and the command lines the tests start (with ``FORCE_COLOR=1`` 47 command-line
    tests failed, with ``COLUMNS=50`` 21: 2026-12-06); a test that wants another width or
    colour sets its own."""
    monkeypatch.setenv("COLUMNS", "80")
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def fill_every_shard(paths: list[str], add: Callable[[int], str], count: int = 2) -> list[str]:
    """``paths``, with the paths ``add(0)``, ``add(1)``, ... (each makes its file) appended until
    each of ``count`` shards (``brooker.batch.select_shard``) holds one of them. A path's shard is
    its hash, and tmp_path differs from run to run: a few inputs all fall in one shard now and
    then (6 over 2 shards about 1 run in 32), and a test that needs every shard at work failed."""
    from brooker.batch import select_shard

    for k in range(64):
        if all(select_shard(paths, i, count) for i in range(count)):
            break
        paths.append(add(k))
    assert all(select_shard(paths, i, count) for i in range(count))
    return paths


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


def assert_overlay_marks_where_the_record_says(rad: Any, result: Any) -> None:
    """The overlay of ``result`` (graded from ``rad``), rendered 1:1: each hip's centre cross
    on its ``center_px`` and its gap line through the middle of ``gap``, on the stored film."""
    import numpy as np

    from brooker import overlay as ov

    assert result.overlay
    assert Path(result.overlay).is_file()
    assert len(result.hips) == 2
    rgb, _ = ov._render(rad, result, 4096)  # 1:1, no downscaling
    for hip in result.hips:
        r, c = (round(v) for v in hip.center_px)
        around = rgb[r - 2 : r + 3, c - 2 : c + 3].reshape(-1, 3)
        assert (around == ov.JOINT_RGB).all(axis=1).sum() >= 5  # the centre's cross
        assert hip.gap is not None
        (r0, c0), (r1, c1) = hip.gap.pelvic_point_px, hip.gap.femoral_point_px
        mid = rgb[round((r0 + r1) / 2), round((c0 + c1) / 2)]
        assert np.abs(mid.astype(int) - ov.GAP_RGB).max() < 40  # on the gap's line


def assert_analysed_again_alike(rad: Any, result: Any) -> None:
    """``rad`` (a Radiograph loaded beforehand) analysed again gives ``result``'s hips."""
    from brooker.pipeline import analyze

    again = analyze(rad)
    assert len(again.hips) == 2
    assert [h.to_record() for h in again.hips] == [h.to_record() for h in result.hips]
