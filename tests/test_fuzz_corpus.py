"""A seeded fuzz corpus of the project's own synthetic films, graded as a hostile archive would be.

:func:`corpus` mutates the bundled films (made by ``brooker.phantom`` and written by
``brooker.phantom_dicom``) in five ways: byte flips (header-biased), truncations, hostile header
values (spacing, size, bits, signedness, photometric, frames, rescale, window, strings with
markup and escape sequences), other transfer syntaxes (re-encoded with ``phantom_dicom``,
sometimes then flipped), and other sizes (down-sampled with the spacing scaled, cropped to a
few pixels). For every film the batch must give a grade, ``ungradable``, or a typed error:
never ``internal_error`` (a bug, or a dead worker), never ``timeout`` (a hang), never a worker
above :data:`MEMORY_BUDGET_MB` of peak resident memory, never a traceback in ``errors.log``.
Loading every film in one process (what ``brooker inspect`` does) must not abort it either.

A sample of :data:`SAMPLE_SIZE` films runs with the suite (seed :data:`SEED`, or
``BROOKER_FUZZ_SEED``); the full :data:`FULL_SIZE`-film corpus runs only when the ``slow``
marker is selected explicitly (``python -m pytest -m slow tests/test_fuzz_corpus.py``): it takes
about ten minutes on two cores.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from brooker import batch
from brooker.phantom_dicom import DicomVariant, write_dicom
from brooker.pipeline import grade_path

ROOT = Path(__file__).resolve().parents[1]
ORIGINALS = sorted((ROOT / "sample_images").glob("*.dcm"))

SEED = int(os.environ.get("BROOKER_FUZZ_SEED", "14"))
SAMPLE_SIZE = int(os.environ.get("BROOKER_FUZZ_SAMPLE", "12"))
FULL_SIZE = 500
#: Peak resident memory allowed to one worker process, MB (README: 1.5 GB per worker).
MEMORY_BUDGET_MB = 1536
#: Per-film time limit, seconds: a film over it is a hang (films grade in 1-3 s).
TIMEOUT_S = 90.0

_HOSTILE_TEXT = "[/b][bold]\x1b]0;owned\x07\x1b[2J"

#: (keyword, VR, candidate values) for header mutations.
_HEADER_VALUES: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("PixelSpacing", "DS", ("0\\0", "-1\\-1", "1e-6\\1e-6", "1e308\\1e308", "3\\3", "10\\10",
                            "100\\100", "abc\\def", "2.5\\2.5", "0.25", "0.025\\0.025")),
    ("ImagerPixelSpacing", "DS", ("0\\0", "1e-6\\1e-6", "3\\3", "100\\100", "nan\\nan")),
    ("EstimatedRadiographicMagnificationFactor", "DS", ("0", "100", "-1", "1e-9")),
    ("Rows", "US", (0, 1, 2, 31, 65535, "rows+1", "rows-1")),
    ("Columns", "US", (0, 1, 2, 31, 65535, "cols+1", "cols-1")),
    ("BitsStored", "US", (0, 1, 8, 11, 13, 16, 17)),
    ("BitsAllocated", "US", (1, 8, 12, 32, 64)),
    ("HighBit", "US", (0, 15, 31)),
    ("PixelRepresentation", "US", (1, 2)),
    ("SamplesPerPixel", "US", (0, 3)),
    ("PhotometricInterpretation", "CS", ("RGB", "MONOCHROME1", "MONOCHROME2", "XYZ", "")),
    ("NumberOfFrames", "IS", ("0", "2", "-1", "x")),
    ("RescaleSlope", "DS", ("0", "1e30", "-1", "nan", "1e-30")),
    ("RescaleIntercept", "DS", ("1e30", "-1e30", "inf")),
    ("WindowCenter", "DS", ("1e308", "-5")),
    ("WindowWidth", "DS", ("0", "-5", "1e-9")),
    ("Modality", "CS", ("CT", "", "MR")),
    ("ViewPosition", "CS", (_HOSTILE_TEXT, "PA", "")),
    ("PatientOrientation", "CS", (_HOSTILE_TEXT + "\\F", "R\\F", "X\\Y")),
    ("SOPInstanceUID", "UI", ("1.2.[/b]\x1b[31m", "")),
    ("ImageLaterality", "CS", (_HOSTILE_TEXT, "R")),
)

_SYNTAXES = ("explicit_le", "implicit_le", "explicit_be", "deflated", "rle", "jpeg_ls",
             "jpeg_2000")


def _flip(data: bytes, rng: np.random.Generator, n: int, header_bias: bool) -> bytes:
    out = bytearray(data)
    for _ in range(n):
        limit = min(len(out), 4096) if header_bias and rng.random() < 0.7 else len(out)
        out[int(rng.integers(0, limit))] ^= int(rng.integers(1, 256))
    return bytes(out)


def _pixels(ds: pydicom.Dataset) -> np.ndarray:
    return np.asarray(ds.pixel_array)


def _reencode(
    ds: pydicom.Dataset,
    pixels: np.ndarray,
    syntax: str,
    step: int,
    scratch: Path,
    scale: float = 1.0,
) -> bytes:
    """Stored ``pixels[::step, ::step]`` written in ``syntax``, spacing scaled to match (and by
    ``scale``)."""
    px = np.ascontiguousarray(pixels[::step, ::step]).astype(np.uint16)
    mono1 = str(ds.PhotometricInterpretation) == "MONOCHROME1"
    if mono1:  # the writer takes bone-bright values and inverts them itself
        px = ((1 << int(ds.BitsStored)) - 1 - px).astype(np.uint16)

    def pair(keyword: str) -> tuple[float, float] | None:
        value = ds.get(keyword)
        if value is None:
            return None
        return (float(value[0]) * step * scale, float(value[1]) * step * scale)

    variant = DicomVariant(
        transfer_syntax=syntax,
        pixel_spacing_mm=pair("PixelSpacing"),
        imager_pixel_spacing_mm=pair("ImagerPixelSpacing"),
        monochrome1=mono1,
        bits_stored=int(ds.BitsStored),
    )
    return write_dicom(px, scratch / "reencoded.dcm", variant).read_bytes()


def _set_header(ds: pydicom.Dataset, rng: np.random.Generator) -> str:
    keyword, vr, values = _HEADER_VALUES[int(rng.integers(0, len(_HEADER_VALUES)))]
    value = values[int(rng.integers(0, len(values)))]
    if value in ("rows+1", "rows-1", "cols+1", "cols-1"):
        base = int(ds.Rows if value.startswith("rows") else ds.Columns)
        value = base + (1 if value.endswith("+1") else -1)
    tag = pydicom.datadict.tag_for_keyword(keyword)
    assert tag is not None
    if isinstance(value, str):
        if vr in ("DS", "IS"):
            try:
                [float(v) for v in value.split("\\")]
            except ValueError:
                vr = "LO"  # pydicom will not hold a non-number as DS/IS; the text is the same
        value = value.encode("latin-1")
    with pydicom.config.disable_value_validation():
        ds[tag] = pydicom.DataElement(tag, vr, value)
    return f"{keyword}={value!r}"


def _mutate(
    kind: str,
    src: Path,
    raw: bytes,
    decoded: tuple[pydicom.Dataset, np.ndarray],
    rng: np.random.Generator,
    scratch: Path,
) -> tuple[bytes, str]:
    """One mutation of the film ``src`` (``raw`` bytes): the new bytes and what was done."""
    ds0, pixels = decoded
    if kind == "flip":
        count = int(rng.integers(1, 9))
        return _flip(raw, rng, count, header_bias=True), f"{count} byte flips"
    if kind == "truncate":
        cut = int(rng.integers(0, len(raw)))
        return raw[:cut], f"cut at {cut} of {len(raw)}"
    if kind == "header":
        ds = pydicom.dcmread(io.BytesIO(raw))
        how = _set_header(ds, rng)
        if rng.random() < 0.3:
            how += "; " + _set_header(ds, rng)
        buf = io.BytesIO()
        with pydicom.config.disable_value_validation():
            ds.save_as(buf, enforce_file_format=False)
        return buf.getvalue(), how
    if kind == "syntax":
        syntax = _SYNTAXES[int(rng.integers(0, len(_SYNTAXES)))]
        data, how = _reencode(ds0, pixels, syntax, 2, scratch), f"re-encoded {syntax} at 1/2"
        if rng.random() < 0.4:
            data, how = _flip(data, rng, 3, header_bias=False), how + ", 3 flips"
        return data, how
    choice = int(rng.integers(0, 3))
    if choice == 0:
        step = int(rng.integers(2, 9))
        return _reencode(ds0, pixels, "explicit_le", step, scratch), f"1/{step} size"
    shapes = ((1, 1), (2, 2), (1, pixels.shape[1]), (31, 200), (64, 64), (48, 900))
    rows, cols = shapes[int(rng.integers(0, len(shapes)))]
    crop = pixels[:rows, :cols]
    scale = float(rng.choice([1.0, 0.1]))  # 0.1: a few mm of film at a fine spacing
    data = _reencode(ds0, crop, "explicit_le", 1, scratch, scale)
    return data, f"cropped to {rows} x {cols}, spacing x {scale:g}"


def corpus(seed: int, n: int, out_dir: Path, scratch: Path) -> Iterator[tuple[Path, str]]:
    """Write ``n`` mutated films to ``out_dir``; yield each path and what was done to it."""
    rng = np.random.default_rng(seed)
    raw = {p: p.read_bytes() for p in ORIGINALS}
    decoded: dict[Path, tuple[pydicom.Dataset, np.ndarray]] = {}
    for k in range(n):
        src = ORIGINALS[int(rng.integers(0, len(ORIGINALS)))]
        kind = ("flip", "truncate", "header", "syntax", "size")[int(rng.integers(0, 5))]
        if src not in decoded:
            ds0 = pydicom.dcmread(src)
            decoded[src] = (ds0, _pixels(ds0))
        data, how = _mutate(kind, src, raw[src], decoded[src], rng, scratch)
        path = out_dir / f"{k:04d}-{kind}-{src.stem}.dcm"
        path.write_bytes(data)
        yield path, f"{src.name}: {how}"


def measured_grade(path: str, config: Any = None, **kwargs: Any) -> Any:
    """``grade_path`` plus this worker's peak resident memory so far (``peak_rss_mb``)."""
    result = grade_path(path, config, **kwargs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return dataclasses.replace(result, extra={**result.extra, "peak_rss_mb": round(peak_mb, 1)})


def _run_corpus(tmp_path: Path, seed: int, n: int) -> None:
    films = tmp_path / "films"
    films.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    what = {str(p): how for p, how in corpus(seed, n, films, scratch)}
    out = tmp_path / "out"
    results = list(
        batch.grade_many(
            sorted(what),
            workers=2,
            out_dir=out,
            overlay=False,
            timeout_s=TIMEOUT_S,
            grade_fn=measured_grade,
        )
    )
    assert len(results) == n
    bad = []
    for r in results:
        code = r.error.code if r.error is not None else None
        peak = r.extra.get("peak_rss_mb")
        if code in ("internal_error", "timeout") or (peak is not None and peak > MEMORY_BUDGET_MB):
            msg = r.error.message if r.error is not None else ""
            bad.append(f"{what[r.file]} -> {code} {msg} peak {peak} MB")
    assert not bad, f"seed {seed}:\n" + "\n".join(bad)
    assert not (out / batch.ERROR_LOG_NAME).exists(), (out / batch.ERROR_LOG_NAME).read_text()
    statuses = {r.status.value for r in results}
    assert statuses <= {"ok", "ungradable", "error"}

    # what `brooker inspect` does, for every film, in one process: nothing may abort it
    script = (
        "import sys, json\n"
        "from brooker.dicom_io import load_radiograph\n"
        "from brooker.errors import BrookerError\n"
        "n = 0\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        load_radiograph(p)\n"
        "    except BrookerError:\n"
        "        pass\n"
        "    n += 1\n"
        "print(json.dumps(n))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *sorted(what)],
        capture_output=True,
        timeout=TIMEOUT_S * 4,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert json.loads(done.stdout) == n


def test_fuzz_corpus_sample(tmp_path: Path) -> None:
    _run_corpus(tmp_path, SEED, SAMPLE_SIZE)


@pytest.mark.slow
def test_fuzz_corpus_full(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the full fuzz corpus runs with -m slow only (about ten minutes)")
    _run_corpus(tmp_path, SEED, FULL_SIZE)
