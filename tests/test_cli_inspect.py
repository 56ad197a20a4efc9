"""``brooker inspect``: stdout carries the result, stderr the error line, exit codes 0 / 2 / 3."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from closed_stdout import run_with_stdout_closed
from conftest import ROOT
from pydicom.encaps import encapsulate
from typer.testing import CliRunner

from brooker.cli import app
from brooker.phantom_dicom import FAKE_IDENTIFIERS, DicomVariant, write_dicom

runner = CliRunner()


def _file(tmp_path: Path, **fields: object) -> Path:
    px = np.arange(48 * 40, dtype=np.uint16).reshape(48, 40) % 4096
    return write_dicom(px, tmp_path / "film.dcm", DicomVariant(**fields))  # type: ignore[arg-type]


def _no_identifiers(text: str) -> None:
    for value in FAKE_IDENTIFIERS.values():
        assert value not in text
    assert "SECRET" not in text


def test_json_describes_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, pixel_spacing_mm=(0.15, 0.14), calibration_type="GEOMETRY")
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rec = json.loads(result.stdout)
    assert rec["status"] == "ok"
    assert rec["file"] == str(path)
    assert rec["rows"] == 48
    assert rec["cols"] == 40
    assert rec["spacing"]["row_mm"] == pytest.approx(0.15)
    assert rec["spacing"]["col_mm"] == pytest.approx(0.14)
    assert rec["spacing"]["source"] == "pixel_spacing"
    assert rec["patient_right_on"] == "left"
    assert rec["laterality_source"] == "patient_orientation"
    assert rec["transfer_syntax"]["uid"] == "1.2.840.10008.1.2.1"
    assert rec["decoder"] == "pydicom-native"
    assert rec["modality"] == "DX"
    assert rec["sop_instance_uid"]
    _no_identifiers(result.stdout + result.stderr)


def test_table_goes_to_stdout(tmp_path: Path) -> None:
    path = _file(tmp_path, imager_pixel_spacing_mm=(0.2, 0.2), window=(2000.0, 1000.0))
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0
    assert result.stderr == ""
    out = result.stdout
    assert "from (0018,1164) Imager Pixel Spacing, at the detector" in out  # the source in words
    # piped: a line per field, unwrapped and unpadded (it was folded at 80 columns, padded)
    assert all(line == line.rstrip() for line in out.splitlines())
    assert any(line.startswith(" SOP Instance UID ") for line in out.splitlines())
    assert "MONOCHROME2" in out
    assert "voi_window" in out
    assert "caveat" in out
    _no_identifiers(out)


def test_user_spacing_and_magnification(tmp_path: Path) -> None:
    path = _file(tmp_path, imager_pixel_spacing_mm=(0.24, 0.24))
    result = runner.invoke(app, ["inspect", str(path), "--json", "--magnification", "1.2"])
    assert result.exit_code == 0
    sp = json.loads(result.stdout)["spacing"]
    assert sp["row_mm"] == pytest.approx(0.2)
    assert sp["source"] == "imager_pixel_spacing_magnification"
    result = runner.invoke(app, ["inspect", str(path), "--json", "--pixel-spacing", "0.1,0.3"])
    sp = json.loads(result.stdout)["spacing"]
    assert (sp["row_mm"], sp["col_mm"], sp["source"]) == (0.1, 0.3, "user")
    # one value is square pixels, as ``grade --pixel-spacing`` reads it (they share a parser)
    result = runner.invoke(app, ["inspect", str(path), "--json", "--pixel-spacing", "0.15"])
    assert result.exit_code == 0, result.stderr
    sp = json.loads(result.stdout)["spacing"]
    assert (sp["row_mm"], sp["col_mm"], sp["source"]) == (0.15, 0.15, "user")


def test_missing_spacing_loads_and_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(_file(tmp_path))])
    assert result.exit_code == 0
    assert "--pixel-spacing" in result.stdout


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_error_goes_to_stderr_with_exit_3(tmp_path: Path, as_json: bool) -> None:
    path = _file(tmp_path, modality="CT")
    args = ["inspect", str(path)] + (["--json"] if as_json else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {path}: (0008,0060) Modality is CT")
    assert "Traceback" not in result.stderr
    if as_json:
        rec = json.loads(result.stdout)
        assert rec["status"] == "error"
        assert rec["file"] == str(path)
        assert rec["error"]["code"] == "not_a_radiograph"
        assert "CT" in rec["error"]["message"]
        # the header was read: the refused film can still be found in the archive by its UID
        assert rec["sop_instance_uid"] == str(pydicom.dcmread(path).SOPInstanceUID)
    else:
        assert result.stdout == ""
    _no_identifiers(result.stdout + result.stderr)


def test_invalid_spacing_error_has_a_hint(tmp_path: Path) -> None:
    path = _file(tmp_path, extra=((0x00280030, "DS", ["0", "0"]),))
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 3
    assert "(0028,0030) Pixel Spacing" in result.stderr
    assert "hint: pass --pixel-spacing ROW,COL" in result.stderr


def test_an_image_file_with_pixels_it_cannot_take_gets_an_image_hint(tmp_path: Path) -> None:
    """A float TIFF with a NaN was told to "decompress the file with another tool (e.g.
    gdcmconv --raw)", a DICOM tool: an image file is told to convert the image."""
    from PIL import Image

    pixels = np.full((300, 300), 100.0, np.float32)
    pixels[5, 5] = np.nan
    path = tmp_path / "nan.tif"
    Image.fromarray(pixels, mode="F").save(path)
    result = runner.invoke(app, ["inspect", str(path), "--pixel-spacing", "0.5,0.5"])
    assert result.exit_code == 3
    assert "[unsupported_pixel_data]" in result.stderr
    assert "hint: convert the image" in result.stderr
    assert "gdcmconv" not in result.stderr


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"extra": ((0x00280100, "US", 1),)}, "1-bit (0028,0100) Bits Allocated"),
        (
            {"drop": (0x7FE00010,), "extra": ((0x7FE00008, "OF", bytes(48 * 40 * 4)),)},
            "Float Pixel Data",
        ),
    ],
    ids=["1-bit", "float"],
)
def test_a_bitmap_or_float_pixels_are_not_told_to_decompress(
    tmp_path: Path, fields: dict[str, object], said: str
) -> None:
    """A 1-bit bitmap and Float Pixel Data were told to "decompress the file with another tool
    (e.g. gdcmconv --raw)", which makes neither a radiograph."""
    result = runner.invoke(app, ["inspect", str(_file(tmp_path, **fields))])
    assert result.exit_code == 3
    assert said in result.stderr
    assert "[unsupported_pixel_data]" in result.stderr  # the code, as the records keep it
    assert "hint: no converter (gdcmconv included) turns a bitmap or floating-point" in (
        result.stderr
    )
    assert "decompress" not in result.stderr


def test_an_undecodable_transfer_syntax_is_still_told_to_decompress(tmp_path: Path) -> None:
    path = _file(tmp_path)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder here
    ds.PixelData = encapsulate([bytes(100)])
    ds.save_as(path)
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 3
    assert "[unsupported_pixel_data]" in result.stderr
    assert "hint: decompress the file with another tool (e.g. gdcmconv --raw)" in result.stderr


def test_not_dicom_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\x00" * 10)
    result = runner.invoke(app, ["inspect", str(junk), "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["error"]["code"] in {"not_dicom", "malformed_dicom"}
    result = runner.invoke(app, ["inspect", str(tmp_path / "absent.dcm")])
    assert result.exit_code == 3
    assert result.stderr.startswith("error: ")


@pytest.mark.parametrize(
    "args",
    [
        ["--pixel-spacing", "abc"],
        ["--pixel-spacing", "0,0.1"],
        ["--pixel-spacing", "0.1,0.1,0.1"],
        ["--pixel-spacing", "0.001"],  # no film's
        ["--estimate-spacing", "--pixel-spacing", "0.14"],
        ["--magnification", "-1"],
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    result = runner.invoke(app, ["inspect", str(_file(tmp_path)), *args])
    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["inspect", "FILM"],
                                  ["inspect", "FILM", "--json"]])  # fmt: skip
def test_a_reader_that_closes_stdout_is_not_reported_as_a_bug(
    tmp_path: Path, args: list[str]
) -> None:
    """`brooker inspect FILE | head -0`: typer's click and rich answer the closed pipe with
    exit 1, which the README keeps for bugs; the entry point makes it 141 (128 + SIGPIPE), as
    `grade` does, with no traceback. With stdout open, the same commands exit 0."""
    import subprocess
    import sys

    film = str(_file(tmp_path, pixel_spacing_mm=(0.15, 0.15)))
    cmd = [sys.executable, "-m", "brooker", *(film if a == "FILM" else a for a in args)]
    code, err = run_with_stdout_closed(cmd)
    assert code == 141, err
    assert "Traceback" not in err
    ok = subprocess.run(cmd, capture_output=True, timeout=60)
    assert ok.returncode == 0, ok.stderr


_BUGGY_INSPECT = (
    "import sys, brooker.pipeline as p\n"
    "def boom(*a, **k):\n"
    "    raise RuntimeError('a bug')\n"
    "p.load_calibrated = boom\n"
    "from brooker.cli import main\n"
    "sys.argv = ['brooker', *sys.argv[1:]]\n"
    "main()\n"
)


@pytest.mark.parametrize("stdout", ["open", "devnull", "closed by its reader"])
@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_a_bug_exits_1_whatever_becomes_of_stdout(
    tmp_path: Path, stdout: str, as_json: bool
) -> None:
    """A bug in inspect (its loader raises) is exit 1 with stdout open, thrown away from the
    start, or closed by its reader while the bug's JSON record is written: the entry point's
    exit 141 is for a closed pipe only, never a bug's exit 1."""
    import subprocess
    import sys

    film = str(_file(tmp_path, pixel_spacing_mm=(0.15, 0.15)))
    cmd = [sys.executable, "-c", _BUGGY_INSPECT, "inspect", film, *(["--json"] if as_json else [])]
    if stdout == "closed by its reader":
        code, err = run_with_stdout_closed(cmd)
    else:
        out = subprocess.DEVNULL if stdout == "devnull" else subprocess.PIPE
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, timeout=60)
        code, err = done.returncode, done.stderr.decode()
    assert code == 1, err
    assert "internal error" in err


def test_stdout_closed_from_the_start_is_no_bug(tmp_path: Path) -> None:
    """`brooker grade FILM >&-` (and inspect): the output goes nowhere, the exit code is the
    run's own (the grade's workers once died on the missing stdout: exit 3, internal_error)."""
    import subprocess
    import sys

    film = str(_file(tmp_path, pixel_spacing_mm=(0.3, 0.3)))
    for args in (["inspect", film], ["grade", film, "--out", str(tmp_path / "o"), "--workers",
                                     "1", "--no-overlay", "--json"]):  # fmt: skip
        done = subprocess.run(
            ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "brooker", *args],
            stderr=subprocess.PIPE, timeout=120,
        )  # fmt: skip
        err = done.stderr.decode()
        assert "internal error" not in err, err
        assert "internal_error" not in err, err
        want = 0 if args[0] == "inspect" else 3  # a film of noise: ungradable, no hip
        assert done.returncode == want, err


def test_assumed_sides_and_a_calibrated_uncertainty_read_plainly(tmp_path: Path) -> None:
    """An image file's sides are assumed: the table says so in words ("from assumed" read as
    a tag); a calibrated spacing's uncertainty is rounded as the grade record rounds it."""
    from PIL import Image

    png = tmp_path / "film.png"
    Image.fromarray(np.zeros((600, 800), np.uint8)).save(png)
    table = runner.invoke(app, ["inspect", str(png), "--pixel-spacing", "0.2"])
    assert table.exit_code == 0, table.output
    assert "image left half (assumed from the AP convention)" in table.stdout
    assert "from assumed" not in table.stdout
    film = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"
    rec = json.loads(runner.invoke(app, ["inspect", str(film), "--head-mm", "32", "--json"]).stdout)
    unc = rec["spacing"]["relative_uncertainty"]
    assert unc == round(unc, 4)
    assert 0 < unc < 0.2


def test_each_caveat_of_the_table_starts_a_row_of_its_own(tmp_path: Path) -> None:
    """A PNG with no spacing has two caveats; the second was printed on a row with no name
    under the first, so it read as the first one's wrapped tail. Each row is named."""
    from PIL import Image

    png = tmp_path / "film.png"
    Image.fromarray(np.zeros((600, 800), np.uint8)).save(png)
    caveats = json.loads(runner.invoke(app, ["inspect", str(png), "--json"]).stdout)["caveats"]
    assert len(caveats) == 2
    table = runner.invoke(app, ["inspect", str(png)])
    assert table.exit_code == 0, table.output
    named = [line.split(None, 1)[1] for line in table.stdout.splitlines()
             if line.split(None, 1)[:1] == ["caveat"]]  # fmt: skip
    assert len(named) == len(caveats)
    for row, caveat in zip(named, caveats, strict=True):
        assert caveat.startswith(row.strip())  # each row begins a caveat


def _corrupt_tiff(path: Path, compression: str) -> Path:
    """A 16-bit TIFF whose compressed strip is damaged after its first bytes: libtiff (which
    Pillow hands compressed TIFFs to) writes about it to stderr, naming no file."""
    from PIL import Image

    px = np.tile(np.linspace(0, 60000, 300).astype(np.uint16), (400, 1))
    Image.fromarray(px).save(path, compression=compression)
    with Image.open(path) as img:
        start = int(img.tag_v2[273][0])  # StripOffsets
    data = bytearray(path.read_bytes())
    for i in range(start + 4, min(len(data), start + 400), 7):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("compression", ["tiff_adobe_deflate", "tiff_lzw"])
def test_a_decoders_lines_about_a_corrupt_tiff_come_before_the_error(
    tmp_path: Path, compression: str
) -> None:
    """libtiff's lines about a corrupt TIFF ("ZIPDecode: Decoding error at scanline 0, ...")
    come out as libtiff writes them, before inspect's error line and its hint."""
    import subprocess
    import sys

    path = _corrupt_tiff(tmp_path / f"bad {compression}.tif", compression)
    done = subprocess.run(
        [sys.executable, "-m", "brooker", "inspect", str(path)], capture_output=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    lines = done.stderr.decode().splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    assert "[unsupported_pixel_data]" in lines[error]
    assert lines[:error], lines  # libtiff said something, first
    assert all(line.startswith(("error: ", "hint: ")) for line in lines[error:]), lines


def test_a_decoders_last_words_survive_it_crashing_inspect(tmp_path: Path) -> None:
    """Held in a file to be named after the film and passed on at the end, a decoder's lines
    were lost when the decoder then crashed the process (an abort, a segmentation fault, the
    kernel's out-of-memory kill): often the only clue to what went wrong. inspect, which has
    no parent process to pass them on as a batch's workers have, lets them through."""
    import subprocess
    import sys

    film = str(ROOT / "sample_images" / "knee_negative.dcm")
    script = (
        "import os, sys\n"
        "import brooker.pipeline as p\n"
        "def boom(path, config):\n"
        "    os.write(2, b'libfoo: fatal: corrupt marker at offset 1234\\n')\n"
        "    os.abort()\n"
        "p.load_calibrated = boom\n"
        "from brooker.cli import app\n"
        f"sys.argv = ['brooker', 'inspect', {film!r}]\n"
        "app()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode != 0
    assert b"libfoo: fatal: corrupt marker at offset 1234" in done.stderr


def _folder(tmp_path: Path) -> Path:
    """A folder of two films (one with no spacing) and a file that is no radiograph."""
    folder = tmp_path / "archive"
    (folder / "b").mkdir(parents=True)
    px = np.arange(48 * 40, dtype=np.uint16).reshape(48, 40) % 4096
    write_dicom(px, folder / "a.dcm", DicomVariant(pixel_spacing_mm=(0.15, 0.14)))
    write_dicom(px, folder / "b" / "c.dcm", DicomVariant())
    (folder / "notes.txt").write_text("not a film")
    return folder


def test_a_folder_gets_a_line_per_file(tmp_path: Path) -> None:
    """``inspect DIR`` was a usage error: to check an archive before grading it, each file
    had to be named in a command of its own. A folder is searched as grade searches it, and
    each radiograph gets one line: its size, spacing and source, and the patient's side."""
    folder = _folder(tmp_path)
    result = runner.invoke(app, ["inspect", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    a, c = lines
    assert a.startswith(f"{folder / 'a.dcm'}: 48 x 40 px, 0.15 x 0.14 mm (pixel_spacing_")
    assert c.startswith(f"{folder / 'b' / 'c.dcm'}: 48 x 40 px, no spacing")
    assert "patient's right on the image left" in a
    _no_identifiers(result.stdout)


def test_several_files_one_bad_each_gets_its_line_and_exit_3(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\x00" * 10)
    good = folder / "a.dcm"
    result = runner.invoke(app, ["inspect", str(junk), str(good), str(tmp_path / "absent")])
    assert result.exit_code == 3
    # in the order grade takes them: sorted
    absent, ok, bad = result.stdout.splitlines()
    assert [x.split(": ")[0] for x in (absent, ok, bad)] == [
        str(tmp_path / "absent"), str(good), str(junk)
    ]  # fmt: skip
    assert bad.endswith(("not loaded [not_dicom]", "not loaded [malformed_dicom]"))
    assert absent.endswith("not loaded [not_found]")
    assert "0.15 x 0.14 mm" in ok
    errors = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 2


def test_a_folder_with_json_gives_a_json_line_per_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    result = runner.invoke(app, ["inspect", str(folder), "--json"])
    assert result.exit_code == 0
    recs = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["file"] for r in recs] == [str(folder / "a.dcm"), str(folder / "b" / "c.dcm")]
    assert recs[0]["spacing"]["row_mm"] == pytest.approx(0.15)
    assert recs[1]["spacing"] is None


def test_a_folder_with_no_radiograph_exits_4(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["inspect", str(tmp_path / "empty")])
    assert result.exit_code == 4
    assert result.stderr.startswith("no radiographs found in ")
    assert result.stdout == ""


def test_a_bug_on_one_file_exits_1_and_the_others_are_inspected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brooker import pipeline

    folder = _folder(tmp_path)
    real = pipeline.load_calibrated

    def buggy(path: str, config: object) -> object:
        if path.endswith("a.dcm"):
            raise ZeroDivisionError("bug")
        return real(path, config)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "load_calibrated", buggy)
    result = runner.invoke(app, ["inspect", str(folder), "--json"])
    assert result.exit_code == 1
    recs = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["status"] for r in recs] == ["error", "ok"]
    assert recs[0]["error"]["code"] == "internal_error"


def test_a_file_named_twice_or_inside_a_folder_named_is_inspected_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As grade takes its inputs: one file however it is named (a folder and a file in it, a
    relative and an absolute spelling), sorted (a review of 2026-12-07: a file was listed
    twice, and a sub-folder named first came first)."""
    folder = _folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, ["inspect", "archive/b", str(folder), "archive/a.dcm", str(folder / "a.dcm")]
    )
    assert result.exit_code == 0, result.output
    names = [x.split(": ")[0] for x in result.stdout.splitlines()]
    assert len(names) == 2
    assert names[0].endswith("a.dcm")
    assert names[1].endswith("c.dcm")


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_a_spacing_the_user_gave_gets_its_own_hint_from_inspect(
    tmp_path: Path, as_json: bool
) -> None:
    """``inspect --pixel-spacing 0.9`` of an 1800-row film (1.6 m long: implausible_spacing)
    hinted "pass --pixel-spacing" to a user who had; ``grade`` already said to check it (a
    user's test of 2026-12-07)."""
    from brooker.cli.hints import HINTS, USER_SPACING_HINT

    film = write_dicom(np.zeros((1800, 100), np.uint16), tmp_path / "long.dcm", DicomVariant())
    args = ["inspect", str(film), "--pixel-spacing", "0.9", *(["--json"] if as_json else [])]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output
    squeezed = " ".join(result.stderr.split())
    assert f"hint: {USER_SPACING_HINT}" in squeezed
    assert HINTS["implausible_spacing"] not in squeezed
