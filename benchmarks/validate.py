#!/usr/bin/env python
"""One scoreboard for every labelled set: grade each with the installed CLI, print one table.

    python benchmarks/validate.py                      # every set that is present
    python benchmarks/validate.py --sets real,hybrid   # a few of them
    python benchmarks/validate.py --json               # the table as one JSON object
    python benchmarks/validate.py --workers 2 --shared ../shared --cache /tmp/brooker-validate
    python benchmarks/validate.py --held-out DIR       # judges held out from each film
    python benchmarks/validate.py --judges DIR         # other judges for every set
    python benchmarks/validate.py --scales 0.95,1.05   # also with every spacing scaled

Sets (each skipped with a note on stderr when absent):

* ``devset``: ``SHARED/devset`` (``truth.json``), 20 synthetic films from an outside generator;
* ``real``: ``SHARED/realfilms/films`` (``labels.json``), 30 real films labelled by eye (hip
  centres, implants, HO-free or not; no class truth, so no accuracy, kappa or gap);
* ``hybrid``: ``SHARED/hybrid/films`` (``truth.json``), real films with drawn-in HO;
* ``samples``: the bundled ``sample_images/`` (``manifest.json``);
* ``phantom``: films rendered by ``brooker.phantom.make_dataset`` (seeded, all variation axes),
  cached under ``--cache`` so a rerun only grades.

Each set is graded by ``brooker grade DIR --json --no-overlay --workers N`` (what users run;
the records are kept in ``CACHE/records/<set>.jsonl``) and scored by :func:`score`, the one
scoring function of the project (``tests/test_scoreboard.py`` imports it).

The learned judges (``brooker/ho_pixels.py``) are trained on the devset, real and hybrid films,
so their figures there are in-sample. ``--held-out DIR`` (from ``benchmarks/train_ho_pixels.py
--held-out-dir DIR``) grades each of those films with ``--judges DIR/foldK``, the judges
trained without its fold (its source film); the rows are marked "held out" and the records
kept in ``CACHE/records/<set>-held-out.jsonl``. The samples and phantoms never train the
judges. ``--judges DIR`` grades every set with other judges (rows marked "judges").

Figures:

* truth sets: a truth hip is matched to the reported hip of the same patient side; labels sets
  (``labels.json``): to the first unused reported hip on the same image half whose ``center_px``
  lies within one head radius of the labelled centre;
* films, hips labelled, hips found (matched; fraction of hips labelled), graded (found with a
  class), accuracy (right class over all hips labelled: a hip not graded is wrong), quadratic
  weighted kappa over the 5 classes (a hip not graded counts as class 0), gap MAE in mm (hips
  whose truth class is II or III with a measured gap), false spur/bridge calls (class II-IV on
  an HO-free hip: truth class 0, or label ``ho: none``), false island calls (class I there),
  HO-free hips found but not graded (``ngFree``: on real films nearly always a spur or bridge
  seen where there is none, withheld for want of a femur or of the hip's own bone; the false
  II-IV count does not see these, so they are counted apart),
  phantom hips (reported hips, graded or not, matched to no labelled hip), the median
  distance in mm from a found hip's centre to its labelled centre (``ctr_mm``; labels sets,
  at the labels' ``spacing_mm``: how well the head is placed, which the found count, within
  one radius, does not show), prosthesis flag
  right (fraction of hips found), and the wall time of grading the set.

Checked on two runs (2026-11-29, on d2d4d9b and on 0dd8301, records of every set in
``CACHE/records``): the figures equal what each set's own scorer prints for the same records
(``devset/score.py`` and ``hybrid/score.py``: accuracy, qwk, gap MAE and its n, hips graded;
``realfilms/score.py``: hips found, prosthesis flag right, false spur and island calls, phantom
hips). The phantom and sample sets use the devset scorer's definitions. One difference by
design: of two hips reported on one patient side, the devset scorer keeps the last,
:func:`match_hips` the first and counts the other as a phantom hip (brooker reports each side
once, so it has not arisen).

``--scales 0.95,1.05`` adds a row per set and factor: every film of the set graded again with
its spacing multiplied by the factor (in-process, :func:`grade_scaled`; the pixels, the labels and
the hips' positions as they were; with ``--held-out`` or ``--judges``, the same judges as the
set's own row), scored alike, with one more figure, ``moved``: the hips whose
result (class, or not graded) differs from the set's own row (:func:`moved_hips`). A spacing is
rarely known to better than a few per cent (a detector-plane spacing, an uncalibrated one, a
magnification guessed: the README's *Which source wins*), so a class that a 5 % change of scale
moves rests on the scale, not on the bone. Each factor costs about one more grading of the set.

Exits 0 (the figures are for reading; ``tests/test_scoreboard.py`` pins floors).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# this tree's brooker, not whichever one is installed or in the caller's directory: the films
# are graded in a subprocess run from ROOT, and the phantoms rendered in-process from it
sys.path.insert(0, str(ROOT))
from brooker.batch import usable_cpus  # noqa: E402

SET_NAMES = ("devset", "real", "hybrid", "samples", "phantom")
PHANTOM_FILMS = 12
PHANTOM_SEED = 7


# --------------------------------------------------------------------------------------------
# figures


def qwk(pairs: list[tuple[int, int]], k: int = 5) -> float:
    """Quadratic weighted Cohen's kappa of (truth, predicted) class pairs over ``k`` classes.

    >>> qwk([(0, 0), (2, 2), (4, 4)])
    1.0
    """
    if not pairs:
        return math.nan
    observed = [[0] * k for _ in range(k)]
    for t, p in pairs:
        observed[t][p] += 1
    n = len(pairs)
    rows = [sum(observed[i]) for i in range(k)]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    num = den = 0.0
    for i in range(k):
        for j in range(k):
            w = (i - j) ** 2 / (k - 1) ** 2
            num += w * observed[i][j]
            den += w * rows[i] * cols[j] / n
    return 1.0 - num / den if den else 1.0


def match_hips(
    labelled: list[dict[str, Any]], graded: list[dict[str, Any]]
) -> list[dict[str, Any] | None]:
    """The graded hip (a JSON record's ``hips`` entry) matched to each labelled hip, or None.

    A labelled hip with ``centre_rc_px`` and ``radius_px`` (labels.json) matches the first
    unused graded hip on the same ``image_half`` whose ``center_px`` lies within one radius of
    it; any other (truth.json) matches the first unused graded hip of the same patient ``side``.
    """
    used: set[int] = set()
    out: list[dict[str, Any] | None] = []
    for lab in labelled:
        match = None
        for i, g in enumerate(graded):
            if i in used:
                continue
            if "centre_rc_px" in lab:
                c = g.get("center_px") or ()
                ok = bool(c) and g.get("image_side") == lab["image_half"] and (
                    math.dist(c, lab["centre_rc_px"]) <= lab["radius_px"]
                )
            else:
                ok = g.get("side") == lab["side"]
            if ok:
                match = i
                break
        if match is not None:
            used.add(match)
        out.append(None if match is None else graded[match])
    return out


def score(truth: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """The scoreboard's figures for one set.

    ``truth``: file name -> ``{"hips": [...]}`` (a truth.json, manifest.json or labels.json);
    ``records``: ``brooker grade --json`` records (matched to ``truth`` by file name). Class
    figures (accuracy, kappa, gap) are None when the labels carry no class (labels.json).
    """
    by_name = {Path(str(r.get("file", ""))).name: r for r in records}
    hips = found = graded = correct = prosthesis_right = phantom = 0
    false_spur = false_island = withheld_free = 0
    pairs: list[tuple[int, int]] = []
    gap_errors: list[float] = []
    centre_errors: list[float] = []
    has_class = True
    for name, entry in truth.items():
        got = [h for h in (by_name.get(name) or {}).get("hips") or [] if isinstance(h, dict)]
        matches = match_hips(entry["hips"], got)
        phantom += len(got) - sum(m is not None for m in matches)
        for lab, g in zip(entry["hips"], matches, strict=True):
            hips += 1
            t = lab.get("grade")
            has_class = has_class and isinstance(t, int)
            grade = g.get("grade") if g is not None else None
            grade = grade if isinstance(grade, int) and 0 <= grade <= 4 else None
            if isinstance(t, int):
                pairs.append((t, 0 if grade is None else grade))
            if g is None:
                continue
            found += 1
            prosthesis_right += bool(g.get("prosthesis")) == bool(lab["prosthesis"])
            centre = g.get("center_px")
            if "centre_rc_px" in lab and entry.get("spacing_mm") and centre:
                px = math.dist(centre, lab["centre_rc_px"])
                centre_errors.append(px * float(entry["spacing_mm"]))
            ho_free = lab["ho"] == "none" if "ho" in lab else t == 0
            if grade is None:
                withheld_free += ho_free
                continue
            graded += 1
            correct += grade == t
            false_spur += ho_free and grade >= 2
            false_island += ho_free and grade == 1
            gap = g.get("gap_mm")
            if t in (2, 3) and lab.get("gap_mm") is not None and isinstance(gap, int | float):
                gap_errors.append(abs(gap - lab["gap_mm"]))
    return {
        "films": len(truth),
        "hips": hips,
        "found": found,
        "found_frac": found / hips if hips else math.nan,
        "graded": graded,
        "accuracy": (correct / hips if hips else math.nan) if has_class else None,
        "kappa": qwk(pairs) if has_class else None,
        "gap_mae_mm": (sum(gap_errors) / len(gap_errors) if gap_errors else math.nan)
        if has_class
        else None,
        "gap_n": len(gap_errors),
        "false_spur": false_spur,
        "false_island": false_island,
        "withheld_free": withheld_free,
        "phantom": phantom,
        "prosthesis_frac": prosthesis_right / found if found else math.nan,
        "centre_mm": statistics.median(centre_errors) if centre_errors else None,
    }


# --------------------------------------------------------------------------------------------
# sets


def set_location(name: str, shared: Path, cache: Path) -> tuple[Path, Path]:
    """(films folder, truth file) of a set; the phantom set's may not exist yet."""
    if name == "devset":
        return shared / "devset", shared / "devset" / "truth.json"
    if name == "real":
        films = shared / "realfilms" / "films"
        return films, films / "labels.json"
    if name == "hybrid":
        films = shared / "hybrid" / "films"
        return films, films / "truth.json"
    if name == "samples":
        return ROOT / "sample_images", ROOT / "sample_images" / "manifest.json"
    films = cache / f"phantom-{PHANTOM_FILMS}films-seed{PHANTOM_SEED}"
    return films, films / "truth.json"


def render_phantoms(films: Path) -> None:
    """Render the phantom set into ``films`` unless a complete one is cached there."""
    from brooker.phantom import make_dataset

    t0 = time.perf_counter()
    note(f"phantom: rendering {PHANTOM_FILMS} films into {films} (once; ~1-8 s a film) ...")
    make_dataset(films, PHANTOM_FILMS, seed=PHANTOM_SEED, wide=True)
    note(f"phantom: rendered in {time.perf_counter() - t0:.0f} s")


def grade_cli(
    films: Path | list[Path],
    workers: int,
    out: Path,
    judges: Path | None = None,
    *,
    strict: bool = False,
) -> list[dict[str, Any]]:
    """Records of ``brooker grade FILMS --json --no-overlay`` (exit 3, some ungradable, is fine):
    a folder, or a list of files (given with ``--files-from``); ``judges``: ``--judges``.
    Another exit status is noted, or with ``strict`` stops the run."""
    if isinstance(films, list):
        out.mkdir(parents=True, exist_ok=True)
        listing = out / "files.txt"
        listing.write_text("".join(f"{Path(f).resolve()}\n" for f in films))
        what = ["--files-from", str(listing.resolve())]
    else:
        what = [str(films.resolve())]
    cmd = [sys.executable, "-m", "brooker", "grade", *what, "--json", "--no-overlay",
           "--quiet", "--workers", str(workers), "--out", str(out.resolve())]
    if judges is not None:
        cmd += ["--judges", str(judges.resolve())]
    # run from ROOT: ``python -m`` imports the brooker of its working directory first
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if proc.returncode not in (0, 3):
        msg = f"brooker grade exited {proc.returncode}: {proc.stderr.strip()[-500:]}"
        if strict:
            raise SystemExit(f"validate.py: {msg}")
        note(f"  {msg}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _scaled_record(job: tuple[str, float, str | None]) -> dict[str, Any]:
    """The record of one film graded with its spacing multiplied by a factor, with the judges
    of a folder or the shipped ones (a worker's task: :func:`grade_scaled`)."""
    from dataclasses import replace

    from brooker import load_radiograph
    from brooker.background import in_turn
    from brooker.config import AnalysisConfig
    from brooker.pipeline import analyze

    path, factor, judges = job
    in_turn()  # a worker per core: each film's parts one after another, as a batch runs them
    try:
        film = load_radiograph(path)
        sp = film.spacing
        if sp is None:
            return {"file": path, "status": "error", "hips": []}
        film = replace(film, spacing=replace(sp, row_mm=sp.row_mm * factor,
                                             col_mm=sp.col_mm * factor))
        rec = analyze(film, AnalysisConfig(judges=judges)).to_record()
    except Exception as exc:  # a film the CLI refuses is an error record there too
        return {"file": path, "status": "error", "hips": [], "error": {"message": repr(exc)}}
    rec["file"] = path
    return rec


def grade_scaled(
    films: list[Path], factor: float, workers: int, judges: dict[Path, Path | None] | None = None
) -> list[dict[str, Any]]:
    """Records of ``films`` graded with every film's spacing (whatever its source) multiplied by
    ``factor``: the pixels, and so the hips' positions and the labels, as they were; each with
    the judges ``judges`` gives it (a folder, as ``--judges``), else the shipped ones."""
    from multiprocessing import get_context

    judges = judges or {}
    jobs = [
        (str(f.resolve()), factor, None if judges.get(f) is None else str(judges[f]))
        for f in films
    ]
    with get_context("forkserver").Pool(max(1, workers)) as pool:
        return list(pool.imap(_scaled_record, jobs))


def _judges_of(films: list[Path], name: str, a: argparse.Namespace) -> dict[Path, Path | None]:
    """The judges each film of set ``name`` is graded with in its rows: its fold's with
    ``--held-out`` (a film in no fold keeps the shipped ones, as it is not graded held out),
    ``--judges``' for every film, else the shipped ones (None)."""
    if a.held_out and name in HELD_OUT_SETS:
        folds: dict[str, int] = json.loads((a.held_out / "folds.json").read_text()).get(name, {})
        return {f: a.held_out / f"fold{folds[f.name]}" if f.name in folds else None
                for f in films}  # fmt: skip
    return {f: a.judges for f in films}


def moved_hips(base: list[dict[str, Any]], other: list[dict[str, Any]]) -> int:
    """How many hips of ``base`` (records) have another result in ``other`` (the same films
    graded otherwise): another class, graded in one and not in the other, or found in one
    only. Hips are matched by file name and patient side.

    >>> a = [{"file": "/x/f.dcm", "hips": [{"side": "right", "grade": 0},
    ...                                    {"side": "left", "grade": 2}]}]
    >>> b = [{"file": "/y/f.dcm", "hips": [{"side": "right", "grade": None},
    ...                                    {"side": "left", "grade": 2}]}]
    >>> moved_hips(a, b), moved_hips(a, a), moved_hips(a, [{"file": "f.dcm", "hips": []}])
    (1, 0, 2)
    """
    def grades(records: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
        return {
            (Path(str(r.get("file", ""))).name, str(h.get("side"))): h.get("grade")
            for r in records
            for h in r.get("hips") or []
            if isinstance(h, dict)
        }

    mine, theirs = grades(base), grades(other)
    missing = object()
    return sum(theirs.get(key, missing) != g for key, g in mine.items())


#: The sets whose films train the judges (benchmarks/train_ho_pixels.py): ``--held-out`` grades
#: each of their films with the judges of its own fold.
HELD_OUT_SETS = ("devset", "real", "hybrid")


def grade_held_out(
    films: Path, held_out: Path, name: str, workers: int, out: Path
) -> list[dict[str, Any]]:
    """Records of the films in ``films``, each graded with the judges of its fold
    (``held_out/folds.json``: set -> file name -> fold; ``held_out/foldK``: the judges trained
    without fold K). A film in no fold, or a fold whose judges cannot be used, stops the run."""
    folds: dict[str, int] = json.loads((held_out / "folds.json").read_text()).get(name, {})
    by_fold: dict[int, list[Path]] = {}
    unknown = []
    # the films `brooker grade FILMS` would grade (found by content, as the other sets are)
    from brooker.batch import discover

    for path in sorted(Path(f) for f in discover([films]).files):
        if path.name in folds:
            by_fold.setdefault(folds[path.name], []).append(path)
        else:
            unknown.append(path.name)
    if unknown:  # the shipped judges were trained on it: no held-out judge to grade it with
        raise SystemExit(f"validate.py: {name}: {len(unknown)} film(s) in no fold of "
                         f"{held_out / 'folds.json'}, e.g. {unknown[0]}")  # fmt: skip
    records = []
    for k, paths in sorted(by_fold.items()):
        judges = held_out / f"fold{k}"
        records += grade_cli(paths, workers, out / f"fold{k}", judges, strict=True)
    return records


def note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# table

COLUMNS = (
    ("set", "set", "{}"),
    ("films", "films", "{}"),
    ("hips", "hips", "{}"),
    ("found", "found", "{}"),
    ("found_frac", "found%", "{:.2f}"),
    ("graded", "graded", "{}"),
    ("accuracy", "acc", "{:.3f}"),
    ("kappa", "qwk", "{:.3f}"),
    ("gap_mae_mm", "gapMAE", "{:.2f}"),
    ("gap_n", "gap_n", "{}"),
    ("false_spur", "falseII-IV", "{}"),
    ("false_island", "falseI", "{}"),
    ("withheld_free", "ngFree", "{}"),
    ("phantom", "phantom", "{}"),
    ("prosthesis_frac", "prosth", "{:.2f}"),
    ("centre_mm", "ctr_mm", "{:.1f}"),
    ("moved", "moved", "{}"),
    ("seconds", "time_s", "{:.1f}"),
)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table, a row per set; ``-`` where a figure does not apply or is empty."""
    cells = [[head for _, head, _ in COLUMNS]]
    for row in rows:
        cells.append([
            "-" if _missing(row.get(k)) else fmt.format(row[k]) for k, _, fmt in COLUMNS
        ])
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    lines = []
    for r in cells:
        padded = [c.rjust(w) for c, w in zip(r, widths, strict=True)]
        padded[0] = r[0].ljust(widths[0])
        lines.append("  ".join(padded))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SET_NAMES),
                    help=f"comma-separated, of {','.join(SET_NAMES)} (default: all)")
    ap.add_argument("--json", action="store_true", help="print the table as JSON")
    ap.add_argument("--workers", type=int, default=usable_cpus())
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "brooker-validate",
                    help="phantom films and each set's records (default: %(default)s)")
    ap.add_argument("--held-out", type=Path, metavar="DIR",
                    help="grade the devset, real and hybrid films each with the judges of its "
                    "own fold, which never saw it (DIR: benchmarks/train_ho_pixels.py "
                    "--held-out-dir); the other sets never train the judges")  # fmt: skip
    ap.add_argument("--judges", type=Path, metavar="DIR",
                    help="grade with these judges instead of the shipped ones (brooker grade "
                    "--judges)")  # fmt: skip
    ap.add_argument("--scales", default="", metavar="F,F",
                    help="also grade every set with each film's spacing multiplied by each "
                    "factor (e.g. 0.95,1.05): a row per factor, with the hips whose result "
                    "moved")  # fmt: skip
    a = ap.parse_args(argv)
    try:
        factors = [float(f) for f in a.scales.split(",") if f.strip()]
    except ValueError:
        ap.error(f"--scales: {a.scales!r} is not a comma-separated list of numbers")
    if any(not (0.5 <= f <= 2.0) for f in factors):
        ap.error("--scales: each factor must lie between 0.5 and 2")
    if a.held_out and not (a.held_out / "folds.json").is_file():
        ap.error(f"--held-out: {a.held_out / 'folds.json'} is absent")
    if a.held_out and a.judges:
        ap.error("give --held-out or --judges, not both")
    names = [s.strip() for s in a.sets.split(",") if s.strip()]
    unknown = sorted(set(names) - set(SET_NAMES))
    if unknown:
        ap.error(f"unknown set(s) {unknown}; known: {', '.join(SET_NAMES)}")
    note(f"grading with the brooker of {ROOT}")
    rows = []
    for name in names:
        films, truth_file = set_location(name, a.shared, a.cache)
        if name == "phantom" and not truth_file.is_file():
            render_phantoms(films)
        if not truth_file.is_file():
            note(f"{name}: skipped, {truth_file} is absent")
            continue
        t0 = time.perf_counter()
        if a.held_out and name in HELD_OUT_SETS:
            note(f"{name}: grading {films} with held-out judges ...")
            records = grade_held_out(films, a.held_out, name, a.workers, a.cache / "out" / name)
            label, stem = f"{name} (held out)", f"{name}-held-out"
        else:
            note(f"{name}: grading {films} ...")
            records = grade_cli(films, a.workers, a.cache / "out" / name, a.judges)
            label, stem = (f"{name} (judges)", f"{name}-judges") if a.judges else (name, name)
        seconds = time.perf_counter() - t0
        (a.cache / "records").mkdir(parents=True, exist_ok=True)
        (a.cache / "records" / f"{stem}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records)
        )
        truth = json.loads(truth_file.read_text())
        rows.append({"set": label, **score(truth, records), "seconds": seconds})
        for factor in factors:
            note(f"{name}: grading with every spacing x{factor:g} ...")
            t0 = time.perf_counter()
            listed = sorted(films / n for n in truth)
            scaled = grade_scaled(listed, factor, a.workers, _judges_of(listed, name, a))
            (a.cache / "records" / f"{stem}-x{factor:g}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in scaled)
            )
            rows.append({"set": f"{label} x{factor:g}", **score(truth, scaled),
                         "moved": moved_hips(records, scaled),
                         "seconds": time.perf_counter() - t0})
    if a.json:
        clean = [{k: None if _missing(v) else v for k, v in row.items()} for row in rows]
        print(json.dumps({"workers": a.workers, "sets": clean}, indent=1))
    else:
        print(table(rows))
        print(f"(workers {a.workers}; records in {a.cache / 'records'}; found% and prosth are "
              "fractions; gapMAE in mm over gap_n II/III hips"
              + ("; xF rows: every spacing times F, moved = hips whose result differs from "
                 "the set's own row)" if factors else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
