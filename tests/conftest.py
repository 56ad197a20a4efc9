"""Shared fixtures. Tests that need ../shared (devset, dicom_zoo) skip cleanly without it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


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
