#!/usr/bin/env python
"""Time ``brooker grade DIR --resume`` on a big results file in which every film is done.

A script, not a test: wall-clock times depend on the machine and its load.

    python benchmarks/resume.py                  # 60,000 records (about 80 MB), 3 runs
    python benchmarks/resume.py --records 5000 --runs 1
    python benchmarks/resume.py --table          # without --json: the table of every film too
    python benchmarks/resume.py --out DIR        # cache folder (default $TMPDIR/...)

A resumed run of a big archive reads its ``results.jsonl`` before it grades anything: the
records' versions are checked, the films already done found (each hashed) and the file
repaired, and the records of the films left to grade taken out. That is what is timed here,
with the search of the folders and the printing of the records: no film is graded, because
every record says it is done.

The folder holds ``--records`` tiny placeholder films (a DICOM preamble and a few bytes, in
sub-folders of 1,000; cached under ``--out``, default ``$TMPDIR/brooker-resume-bench``) and a
``results.jsonl`` with one record per film, each with the film's real SHA-256 and spelt as
``brooker grade`` spells it. The records are shaped like real ones: they cycle through the
six records of ``brooker grade sample_images --json --no-overlay`` (copied below: one
ungradable film and five with one or two graded hips, 648-1866 bytes a line), so the exit
code is 3. There is no ``manifest.json``, so the grading options are not checked (reading one
costs nothing next to the records).

Each run starts from a fresh copy of that ``results.jsonl`` and runs, in a new process,

    brooker grade DIR --resume --out OUT --json   (standard output to /dev/null)

and reports the median over ``--runs`` of the wall time and of the peak RSS (``ru_maxrss`` of
the child, from ``wait4``; on Linux that counts the RSS of this script when it started the
child too, which is printed: it is far below the child's). It checks that the run graded
nothing and left the results file as it was. ``--json``, because without it the run ends
with the table of every film, which is not what this measures (it was most of the run while
rich laid out every row, about 70 s and 0.5 GB of peak RSS for 60,000 films; a table over
``grade_cmd.TABLE_RICH_MAX_ROWS`` rows is laid out in one pass since 2026-12-05); ``--table``
times the command without ``--json``, table included.

The ``brooker`` run is the one this Python imports: ``PYTHONPATH=SRC python
benchmarks/resume.py`` times the package in the folder ``SRC`` (another checkout's code, e.g.
``git archive main brooker | tar -x -C SRC``; not from inside a checkout, whose own
``brooker`` folder ``python`` would import first); the header says which.
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: The records of ``brooker grade sample_images --json --no-overlay`` (brooker 0.1.0): the
#: shapes the synthetic records take, in turn ("file", "input_sha256", "sop_instance_uid" and
#: "version" are replaced).
SAMPLE_RECORDS = r"""
{"file": "sample_images/knee_negative.dcm", "status": "ungradable", "sop_instance_uid": "1.2.826.0.1.3680043.8.498.10813451863284576079193844324995313608", "spacing": {"row_mm": 0.3, "col_mm": 0.3, "source": "pixel_spacing"}, "hips": [], "hip_candidates": [{"center_px": [510.4, 392.4], "score": -1.62}, {"center_px": [443.7, 56.6], "score": -4.51}, {"center_px": [844.4, 56.6], "score": -4.91}], "reason": "no hip joint found (best hip-region score -1.6, needs 3.0)", "laterality_source": "patient_orientation", "overlay": null, "caveats": [], "input_sha256": "3f75a7504c7a300cf6db5d67b5d61fa84546495c8815deeddea4784c03ffeb56", "version": "0.1.0"}
{"file": "sample_images/hip_view_right_4.dcm", "status": "ok", "sop_instance_uid": "1.2.826.0.1.3680043.8.498.43860618022898727807052095359448527656", "spacing": {"row_mm": 0.25, "col_mm": 0.25, "source": "imager_pixel_spacing_magnification"}, "hips": [{"side": "right", "image_side": "left", "grade": 4, "brooker_class": "IV", "gap_mm": 0.0, "gap_uncertainty_mm": 0.0, "gap_points_px": [[411.0, 215.0], [411.0, 215.0]], "borderline": false, "weak_call": false, "prosthesis": false, "center_px": [532.0, 371.5], "head_radius_mm": 18.5, "center_uncertainty_mm": 0.0, "fragments": [{"kind": "bridge", "area_mm2": 552.2, "centroid_px": [416.6, 245.4], "judge_probability": 0.928}], "caveats": ["apparent ankylosis on a single AP projection (bone may overlap without fusing)"]}], "laterality_source": "patient_orientation", "overlay": null, "caveats": ["only one hip was found on this film: the other hip is outside the film or was not recognised, and nothing is graded for it"], "input_sha256": "f793196ee842650a1d5384b4c27bec80f6e5a2e800820c2bce62766793454381", "version": "0.1.0"}
{"file": "sample_images/pelvis_0_vs_3.dcm", "status": "ok", "sop_instance_uid": "1.2.826.0.1.3680043.8.498.59014872977785456741717606409319397263", "spacing": {"row_mm": 0.25, "col_mm": 0.25, "source": "pixel_spacing"}, "hips": [{"side": "right", "image_side": "left", "grade": 0, "brooker_class": "0", "gap_mm": null, "gap_uncertainty_mm": null, "gap_points_px": null, "borderline": false, "weak_call": false, "prosthesis": false, "center_px": [825.5, 471.8], "head_radius_mm": 19.0, "center_uncertainty_mm": 0.0, "fragments": [], "caveats": ["the femur is not segmented as bone up to the greater trochanter (its body begins 85 mm below the head's centre): pieces of the trochanter may be read as femoral spurs or islands, and a gap measured to the wrong bone (check the overlay)"]}, {"side": "left", "image_side": "right", "grade": 0, "brooker_class": "0", "gap_mm": null, "gap_uncertainty_mm": null, "gap_points_px": null, "borderline": false, "weak_call": false, "prosthesis": false, "center_px": [803.5, 1255.4], "head_radius_mm": 23.5, "center_uncertainty_mm": 2.0, "fragments": [], "caveats": ["the femur is not segmented as bone up to the greater trochanter (its body begins 109 mm below the head's centre): pieces of the trochanter may be read as femoral spurs or islands, and a gap measured to the wrong bone (check the overlay)", "no outline of this head was found: it is centred where the hip detector put it (on real films a median 6 mm from the head's true centre, over 13 mm for 1 hip in 10) and drawn as a typical 47 mm head; the region searched and the joint left out hang on that centre (check the overlay)"]}], "laterality_source": "patient_orientation", "overlay": null, "caveats": [], "input_sha256": "e7d6729e1cc6e1686ce759648d4a406fa72ea5eec233fee5ca5219ad7e2f0951", "version": "0.1.0"}
{"file": "sample_images/pelvis_1_vs_2.dcm", "status": "ok", "sop_instance_uid": "1.2.826.0.1.3680043.8.498.26828838373414128615689563725413252180", "spacing": {"row_mm": 0.25, "col_mm": 0.25, "source": "pixel_spacing"}, "hips": [{"side": "right", "image_side": "left", "grade": 2, "brooker_class": "II", "gap_mm": 26.97, "gap_uncertainty_mm": 1.06, "gap_points_px": [[501.4, 315.4], [577.6, 391.6]], "borderline": false, "weak_call": false, "prosthesis": true, "center_px": [631.0, 445.8], "head_radius_mm": 19.0, "center_uncertainty_mm": 0.0, "fragments": [{"kind": "pelvic_spur", "area_mm2": 19.0, "centroid_px": [474.6, 302.9], "judge_probability": 0.867}], "caveats": []}, {"side": "left", "image_side": "right", "grade": 2, "brooker_class": "II", "gap_mm": 14.16, "gap_uncertainty_mm": 0.67, "gap_points_px": [[534.7, 1217.3], [572.8, 1175.5]], "borderline": false, "weak_call": false, "prosthesis": true, "center_px": [643.1, 1090.2], "head_radius_mm": 18.7, "center_uncertainty_mm": 0.0, "fragments": [{"kind": "pelvic_spur", "area_mm2": 107.6, "centroid_px": [516.3, 1237.2], "judge_probability": 0.886}], "caveats": []}], "laterality_source": "patient_orientation", "overlay": null, "caveats": [], "input_sha256": "102653867c5bff9981d04ae368e8376fc65afe48778680944dc8320af6903246", "version": "0.1.0"}
{"file": "sample_images/pelvis_3_vs_2_mono1.dcm", "status": "ok", "sop_instance_uid": "1.2.826.0.1.3680043.8.498.20528663223064993411151341233377294899", "spacing": {"row_mm": 0.25, "col_mm": 0.25, "source": "pixel_spacing"}, "hips": [{"side": "right", "image_side": "left", "grade": 1, "brooker_class": "I", "gap_mm": null, "gap_uncertainty_mm": null, "gap_points_px": null, "borderline": false, "weak_call": false, "prosthesis": false, "center_px": [813.2, 376.0], "head_radius_mm": 20.5, "center_uncertainty_mm": 0.0, "fragments": [{"kind": "island", "area_mm2": 102.1, "centroid_px": [715.8, 236.6], "judge_probability": 0.839}], "caveats": []}, {"side": "left", "image_side": "right", "grade": 0, "brooker_class": "0", "gap_mm": null, "gap_uncertainty_mm": null, "gap_points_px": null, "borderline": false, "weak_call": false, "prosthesis": true, "center_px": [819.2, 1122.9], "head_radius_mm": 12.2, "center_uncertainty_mm": 0.0, "fragments": [], "caveats": ["the femur is not segmented as bone up to the greater trochanter (its body begins 46 mm below the head's centre): pieces of the trochanter may be read as femoral spurs or islands, and a gap measured to the wrong bone (check the overlay)"]}], "laterality_source": "patient_orientation", "overlay": null, "caveats": [], "input_sha256": "716c5d59b85bac3cc11d4e310f5b5c44d3bb185823b6e1adcb5e8dd4f083bb23", "version": "0.1.0"}
{"file": "sample_images/pelvis_4_vs_0_flipped.dcm", "status": "ok", "sop_instance_uid": "1.2.826.0.1.3680043.8.498.39351996115212135716324427643251576746", "spacing": {"row_mm": 0.25, "col_mm": 0.25, "source": "pixel_spacing"}, "hips": [{"side": "left", "image_side": "left", "grade": 0, "brooker_class": "0", "gap_mm": null, "gap_uncertainty_mm": null, "gap_points_px": null, "borderline": false, "weak_call": false, "prosthesis": false, "center_px": [660.0, 468.6], "head_radius_mm": 23.5, "center_uncertainty_mm": 2.0, "fragments": [], "caveats": ["no outline of this head was found: it is centred where the hip detector put it (on real films a median 6 mm from the head's true centre, over 13 mm for 1 hip in 10) and drawn as a typical 47 mm head; the region searched and the joint left out hang on that centre (check the overlay)"]}, {"side": "right", "image_side": "right", "grade": 0, "brooker_class": "0", "gap_mm": null, "gap_uncertainty_mm": null, "gap_points_px": null, "borderline": false, "weak_call": false, "prosthesis": true, "center_px": [614.0, 1201.5], "head_radius_mm": 21.4, "center_uncertainty_mm": 0.0, "fragments": [], "caveats": ["the femur is not segmented as bone up to the greater trochanter (its body begins 65 mm below the head's centre): pieces of the trochanter may be read as femoral spurs or islands, and a gap measured to the wrong bone (check the overlay)", "the prosthetic head is only 62 % segmented as metal on this film: the implant is read as bone, so its edges may be taken for heterotopic bone (check the overlay)"]}], "laterality_source": "patient_orientation", "overlay": null, "caveats": ["(0020,0020) Patient Orientation R\\F and (0018,5101) View Position AP disagree about the sides; the orientation is followed"], "input_sha256": "071935b435da7f641a09e4c50b0ea9c0843b2cde2d868a90ac14c747a3b19977", "version": "0.1.0"}
"""  # noqa: E501


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


#: The start of every placeholder film: a DICOM preamble, so that the folder search finds it.
PREAMBLE = b"\0" * 128 + b"DICM"
#: Placeholder films per sub-folder.
PER_FOLDER = 1000
#: Bump when the folder or the records change, so a stale cache is not reused.
CACHE_VERSION = 1


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("brooker")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "brooker"]


def brooker_info(where: Path) -> tuple[str, str]:
    """The version and the package folder of the brooker that the timed runs import (asked
    from ``where``, as ``python -c`` puts its working folder first on the path)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import brooker; print(brooker.__version__, brooker.__file__)"],
        capture_output=True, text=True, check=True, cwd=where,
    )
    version, where = proc.stdout.split(maxsplit=1)
    return version, str(Path(where.strip()).parent)


def make_folder(out: Path, n: int, version: str) -> tuple[Path, Path]:
    """``n`` placeholder films under ``out/films-...`` and their records (cached): the films'
    folder and the pristine results file. Written one record at a time, so that this process
    stays small (its RSS counts in the child's ``ru_maxrss``)."""
    films = out / f"films_v{CACHE_VERSION}_{n}"
    pristine = out / f"results_v{CACHE_VERSION}_{n}_{version}.jsonl"
    if films.is_dir() and pristine.is_file():
        return films, pristine
    from brooker.batch import record_line

    shapes = [json.loads(line) for line in SAMPLE_RECORDS.strip().splitlines()]
    log(f"writing {n} placeholder films and their records under {out} ...")
    tmp = pristine.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for i in range(n):
            path = films / f"d{i // PER_FOLDER:03d}" / f"case_{i:06d}.dcm"
            if i % PER_FOLDER == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
            content = PREAMBLE + f"placeholder {i}".encode()
            path.write_bytes(content)
            rec: dict[str, Any] = {
                **shapes[i % len(shapes)],
                "file": str(path),  # as `brooker grade FILMS` spells it (FILMS absolute)
                "sop_instance_uid": f"1.2.826.0.1.3680043.8.498.{i + 1}",
                "input_sha256": hashlib.sha256(content).hexdigest(),
                "version": version,
            }
            # keys in the order brooker writes them ("file" first)
            ordered = {k: rec[k] for k in shapes[i % len(shapes)]}
            fh.write(record_line(ordered) + "\n")
    os.replace(tmp, pristine)
    return films, pristine


def self_hwm_mb() -> float:
    """This script's own peak RSS (VmHWM), MB; NaN where /proc is not there."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return float("nan")


def timed_resume(
    films: Path, pristine: Path, scratch: Path, table: bool
) -> tuple[float, float]:
    """One ``brooker grade FILMS --resume --out OUT --json`` (without ``--json`` with
    ``table``) on a fresh copy of the results: wall time, s, and the child's peak RSS, MB
    (``ru_maxrss``: KiB on Linux)."""
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    results = out / "results.jsonl"
    shutil.copyfile(pristine, results)
    with open(scratch / "stderr.txt", "wb") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [*cli_command(), "grade", str(films), "--resume", "--out", str(out),
             *([] if table else ["--json"])],
            stdout=subprocess.DEVNULL, stderr=err, cwd=scratch,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall_s = time.perf_counter() - t
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    message = (scratch / "stderr.txt").read_text(errors="replace")
    if code not in (0, 3):  # 3: the ungradable shape's records
        raise RuntimeError(f"brooker grade --resume failed ({code}): {message}")
    # compared a block at a time: this process stays small (its RSS counts in the next run's)
    if "from an earlier run" not in message or not filecmp.cmp(results, pristine, shallow=False):
        raise RuntimeError(f"the run did not resume every record as it was:\n{message}")
    return wall_s, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=60_000,
                    help="films and records in the results file (default 60000)")
    ap.add_argument("--runs", type=int, default=3, help="runs to take the median of (default 3)")
    ap.add_argument("--out", type=Path,
                    default=Path(tempfile.gettempdir()) / "brooker-resume-bench",
                    help="cache and scratch folder (default: $TMPDIR/brooker-resume-bench)")
    ap.add_argument("--table", action="store_true",
                    help="time the command without --json: the table of every film included")
    args = ap.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    version, where = brooker_info(out)
    films, pristine = make_folder(out, args.records, version)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=out))
    walls, peaks = [], []
    try:
        for i in range(args.runs):
            log(f"run {i + 1}/{args.runs} ...")
            wall_s, peak_mb = timed_resume(films, pristine, scratch, args.table)
            log(f"  {wall_s:.2f} s, {peak_mb:.0f} MB")
            walls.append(wall_s)
            peaks.append(peak_mb)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    size_mb = pristine.stat().st_size / 1e6
    print(f"\nbrooker {version} from {where}: {os.cpu_count()} CPU(s), Python "
          f"{sys.version.split()[0]}; median of {args.runs} run(s); load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; this script's own "
          f"peak RSS {self_hwm_mb():.0f} MB.\n")
    command = f"brooker grade DIR --resume --out OUT{'' if args.table else ' --json'}"
    print(f"| records | results.jsonl | `{command}` | peak RSS |")
    print("|--:|--:|--:|--:|")
    print(f"| {args.records:,} | {size_mb:.0f} MB | **{statistics.median(walls):.1f} s** "
          f"({', '.join(f'{w:.1f}' for w in walls)}) | {statistics.median(peaks):.0f} MB "
          f"({', '.join(f'{p:.0f}' for p in peaks)}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
