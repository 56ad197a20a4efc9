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


def test_a_uid_run_into_the_patient_module_is_not_quoted(
    tmp_path: Path, originals: dict[str, bytes]
) -> None:
    # found by the fuzz test above: one flipped bit in the length of (0008,0016) SOP Class UID
    # (implicit VR: four length bytes) runs its value over the elements after it, the
    # patient's name, ID and birth date among them; the "not an image" error quoted it whole
    data = bytearray(originals["implicit_le"])
    at = data.find(b"\x08\x00\x16\x00")
    assert at > 0
    data[at + 5] ^= 1  # the length's second byte: 256 more bytes
    path = tmp_path / "uid.dcm"
    path.write_bytes(bytes(data))
    with pytest.raises(errors.BrookerError) as info:
        load_radiograph(path)
    message = info.value.message
    assert "SECRET" not in message
    assert "19450101" not in message
    assert message.isprintable()
    assert "SOP Class UID malformed" in message


def test_an_error_message_is_one_printable_line() -> None:
    # whatever bytes of a corrupted file reach a message, it prints as one line of text
    err = errors.NotARadiographError("Modality\x00 is\nD\x11 \x93x", "scan.dcm")
    assert err.message == "scan.dcm: Modality? is D? ?x"


def test_a_malformed_transfer_syntax_or_modality_is_not_quoted(
    tmp_path: Path, originals: dict[str, bytes]
) -> None:
    # a flipped byte in (0002,0010) Transfer Syntax UID or (0008,0060) Modality: the value is
    # named malformed, not quoted (a corrupted length would run it into the elements after it)
    data = bytearray(originals["explicit_le"])
    at = data.find(b"1.2.840.10008.1.2.1\x00")
    data[at + 6] = 0xAD
    path = tmp_path / "ts.dcm"
    path.write_bytes(bytes(data))
    with pytest.raises(errors.BrookerError) as info:
        load_radiograph(path)
    assert "transfer syntax UID malformed" in info.value.message
    data = bytearray(originals["explicit_le"])
    at = data.find(b"\x08\x00\x60\x00CS")
    data[at + 9] = 0x11  # "DX" -> "D\x11"
    path.write_bytes(bytes(data))
    with pytest.raises(errors.NotARadiographError) as info:
        load_radiograph(path)
    assert "Modality is malformed" in info.value.message


def test_a_sop_instance_uid_run_into_the_patient_module_stays_out_of_the_record(
    tmp_path: Path, originals: dict[str, bytes]
) -> None:
    # (0008,0018) SOP Instance UID, whose length runs it up to the end of the patient module:
    # the film still loads (its image module is intact), and the record carries the UID; a
    # malformed one is left out, with a caveat, never the patient's name, ID or birth date
    import struct

    data = bytearray(originals["implicit_le"])
    at = data.find(b"\x08\x00\x18\x00")
    sex = data.find(b"\x10\x00\x40\x00")  # (0010,0040) Patient's Sex, the module's last here
    end = sex + 8 + struct.unpack("<I", data[sex + 4 : sex + 8])[0]
    data[at + 4 : at + 8] = struct.pack("<I", end - (at + 8))
    path = tmp_path / "sop.dcm"
    path.write_bytes(bytes(data))
    rad = load_radiograph(path)
    assert rad.meta.sop_instance_uid is None
    assert any("SOP Instance UID malformed" in c for c in rad.caveats)
    assert not any("SECRET" in c for c in rad.caveats)
