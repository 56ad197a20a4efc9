"""Truncated and corrupted files: the loader raises only BrookerError subclasses (or loads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brooker import errors
from brooker.dicom_io import load_radiograph
from brooker.models import Radiograph
from brooker.phantom_dicom import DicomVariant, write_dicom

SYNTAXES = ["explicit_le", "implicit_le", "explicit_be", "deflated", "rle", "jpeg_ls", "jpeg_2000"]


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(1)
    px = rng.integers(0, 4096, (40, 36)).astype(np.uint16)
    out = {}
    for name in SYNTAXES:
        variant = DicomVariant(
            transfer_syntax=name,
            pixel_spacing_mm=(0.15, 0.15),
            imager_pixel_spacing_mm=(0.18, 0.18),
            window=(2000.0, 1000.0),
            rescale=(1.0, -10.0),
        )
        out[name] = write_dicom(px, d / f"{name}.dcm", variant).read_bytes()
    return out


def _check(path: Path) -> None:
    """Any other exception type fails the test (it propagates)."""
    message = None
    try:
        rad = load_radiograph(path)
    except errors.BrookerError as err:
        message = err.message
    if message is not None:
        assert "\n" not in message
        assert "SECRET" not in message
    else:
        assert isinstance(rad, Radiograph)
        assert rad.pixels.ndim == 2
        assert rad.pixels.dtype == np.float32


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    syntax=st.sampled_from(SYNTAXES),
    cut=st.floats(min_value=0.0, max_value=1.0),
    flips=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=1.0), st.integers(1, 255)), max_size=6
    ),
)
def test_truncated_or_flipped_files_fail_cleanly(
    tmp_path: Path,
    originals: dict[str, bytes],
    syntax: str,
    cut: float,
    flips: list[tuple[float, int]],
) -> None:
    data = bytearray(originals[syntax])
    for where, xor in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= xor
    data = data[: max(1, int(cut * len(data)))] if cut < 1.0 else data
    path = tmp_path / "fuzz.dcm"
    path.write_bytes(bytes(data))
    _check(path)


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_every_header_truncation_point_fails_cleanly(
    tmp_path: Path, originals: dict[str, bytes], syntax: str
) -> None:
    data = originals[syntax]
    path = tmp_path / "cut.dcm"
    for end in range(0, min(len(data), 1400), 37):
        path.write_bytes(data[:end])
        _check(path)
