"""dicom_io._check_pixel_values works in int32 on 8- and 16-bit containers (for speed): its
outcome must be what the same values give in a 32-bit container (read in int64)."""

from __future__ import annotations

import numpy as np
import pytest

from brooker.dicom_io import _check_pixel_values
from brooker.errors import ImplausiblePixelValuesError


def _outcome(raw: np.ndarray, bits: int, signed: bool) -> tuple[str, list[str]]:
    caveats: list[str] = []
    try:
        _check_pixel_values(raw, bits, signed, "f.dcm", caveats)
    except ImplausiblePixelValuesError as e:
        return str(e), caveats
    return "ok", caveats


def _films(dtype: np.dtype, bits: int, signed: bool, rng: np.random.Generator) -> list[np.ndarray]:
    """A smooth ramp, the same folded at the sign bit, noise, and the ramp with garbage above
    Bits Stored, as ``dtype`` holds them."""
    h, w = 64, 96
    lo = -(1 << (bits - 1)) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    ramp = np.linspace(lo, hi, w)[None, :].repeat(h, axis=0).astype(np.int64)
    folded = ramp & ((1 << bits) - 1)  # the two's-complement bit patterns read as unsigned
    noise = rng.integers(lo, hi + 1, (h, w))
    films = [ramp, folded, noise]
    container = np.dtype(dtype).itemsize * 8
    if bits < container:
        films.append((ramp & ((1 << bits) - 1)) | (rng.integers(0, 2, (h, w)) << bits))
    info = np.iinfo(dtype)
    return [f.astype(dtype) for f in films if f.min() >= info.min and f.max() <= info.max]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
@pytest.mark.parametrize("signed", [False, True])
def test_int32_reading_matches_int64(dtype: type, signed: bool) -> None:
    rng = np.random.default_rng(5)
    wide = np.int32 if np.dtype(dtype).kind == "i" else np.uint32
    container = np.dtype(dtype).itemsize * 8
    checked = 0
    for bits in range(2, container + 1):
        for raw in _films(np.dtype(dtype), bits, signed, rng):
            assert _outcome(raw, bits, signed) == _outcome(raw.astype(wide), bits, signed), (
                dtype, bits, signed,
            )
            checked += 1
    assert checked > container  # the films were made, not all skipped


def test_more_stored_bits_than_the_container_does_not_overflow() -> None:
    # the loader rejects Bits Stored > Bits Allocated first; the check itself must not overflow
    assert _outcome(np.zeros((4, 4), np.uint16), 31, False) == ("ok", [])
