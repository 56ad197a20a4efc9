#!/usr/bin/env python
"""Where the drawn heterotopic bone of the hybrid films ends up in the segmentation.

    python benchmarks/hybrid_budget.py --records CACHE/records/hybrid.jsonl [--per-hip]
    python benchmarks/hybrid_budget.py --workers 2          # grades the films itself first

The scoreboard (``benchmarks/validate.py``) says how many hybrid hips are right; this says why
the others are not. Each hybrid film of ``SHARED/hybrid/films`` differs from its source film in
``SHARED/realfilms/films`` by the drawn bone only (:func:`train_ho_pixels.drawn_mask`, the
pixel judge's positives). Each hip with drawn bone (class I-IV) that was graded, or not graded
with fragments seen (a spur with no femur or no opposing bone), is segmented and judged again
about the centre its record was graded about, and every drawn pixel of its region is put in
the first of:

* ``outside``: where bone is not sought (the joint's exclusion disk, the medial wedge);
* ``halo``: on metal or in its 1 mm halo (never bone);
* ``not_bone``: below the bone threshold (faint bone);
* ``body``: in the pelvis or femur body (absorbed: a wide spur or bridge survives the opening);
* ``rejected``: a candidate that is no fragment (too small, out of the sector, a spur too
  shallow, or turned down by the learned judges);
* ``fragment``: in a fragment the grade was made from.

Prints the mean fraction of each per truth class (the hips' drawn pixels weighted alike), and
with ``--per-hip`` one row per hip with its truth and grade. The films are never copied; the
figures are for reading (``docs/engineering-notes.md`` quotes them under *What it cannot see,
in full*).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from train_ho_pixels import drawn_mask, roi_truth  # noqa: E402
from validate import grade_cli, note  # noqa: E402

from brooker.batch import usable_cpus  # noqa: E402
from brooker.config import AnalysisConfig  # noqa: E402
from brooker.fragments import candidate_bone, classify_fragments  # noqa: E402
from brooker.localization import analyse_scene, find_hips  # noqa: E402
from brooker.padding import inside_border, unpadded_view  # noqa: E402
from brooker.pipeline import judge_pixels, load_calibrated  # noqa: E402
from brooker.segmentation import HipMasks, segment_hip  # noqa: E402

#: The places a drawn pixel can end up, in the order they are tried.
PLACES = ("outside", "halo", "not_bone", "body", "rejected", "fragment")


def attribute(drawn: np.ndarray, masks: HipMasks, fragments: np.ndarray) -> dict[str, int]:
    """How many of the ROI's ``drawn`` pixels lie in each of :data:`PLACES` (each pixel in the
    first that holds it); ``fragments``: the union of the fragments' ROI masks."""
    left = drawn.copy()
    out: dict[str, int] = {}
    cand = candidate_bone(masks)
    for place, where in (
        ("outside", ~masks.allowed),
        ("halo", masks.metal_halo),  # metal and 1 mm around it: never bone
        ("not_bone", ~masks.bone),
        ("body", masks.pelvis | masks.femur),
        ("rejected", cand & ~fragments),
        ("fragment", fragments),
    ):
        hit = left & where
        out[place] = int(hit.sum())
        left &= ~hit
    # none is left: a pixel allowed, clear of metal, bone and in no body is a candidate
    assert not left.any()
    return out


def roi_of(mask: np.ndarray, masks: HipMasks) -> np.ndarray:
    """``mask`` (stored pixels) on the ROI's pixels: a pixel of a block-averaged ROI is drawn
    when at least half of its block is (as the pixel judge's labels are made)."""
    return np.asarray(roi_truth(mask, masks) >= 0.5)


def film_budget(job: tuple[str, str, dict[str, Any], str | None]) -> list[dict[str, Any]]:
    """One film's rows: per hip with drawn bone, its truth, grade and pixel counts."""
    path, source, record, judges = job
    film = Path(path)
    truth = {h["side"]: h for h in record["truth"]["hips"]}
    cfg = AnalysisConfig(judges=judges)
    # the film grading reads (inside a border of padding) and the drawn bone on it
    stored = load_calibrated(film, cfg)
    rad, (r0, c0) = inside_border(stored)
    drawn = unpadded_view(stored, drawn_mask(film, Path(source)))
    scene = analyse_scene(rad, cfg)
    found = {h.patient_side.value: h for h in find_hips(rad, cfg, scene).hips}
    rows = []
    for hip_rec in record["hips"]:
        side = hip_rec["side"]
        t = truth.get(side)
        if t is None or t["grade"] == 0 or side not in found:
            continue
        if hip_rec.get("grade") is None and not hip_rec.get("fragments"):
            continue  # not graded before any segmentation (the anatomy check)
        r, c = hip_rec["center_px"]  # on the stored film
        hip = dataclasses.replace(found[side], center_px=(r - r0, c - c0))
        masks = judge_pixels(segment_hip(rad, hip, cfg, scene), cfg)
        assert rad.spacing is not None
        frags = classify_fragments(masks, rad.spacing, cfg)
        union = np.zeros(masks.bone.shape, dtype=bool)
        for m in frags.roi_masks:
            union |= m
        counts = attribute(roi_of(drawn, masks), masks, union)
        if sum(counts.values()) == 0:
            continue
        rows.append({"file": film.name, "side": side, "truth": t["grade"],
                     "grade": hip_rec.get("grade"), **counts})  # fmt: skip
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per truth class: hips, hips right, and the mean fraction of the drawn pixels per place."""
    by: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by[int(r["truth"])].append(r)
    out = []
    for grade in sorted(by):
        hips = by[grade]
        fr = [{p: h[p] / max(1, sum(h[q] for q in PLACES)) for p in PLACES} for h in hips]
        out.append({
            "class": grade,
            "hips": len(hips),
            "right": sum(h["grade"] == grade for h in hips),
            **{p: float(np.mean([f[p] for f in fr])) for p in PLACES},
        })  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--records", type=Path,
                    help="the hybrid set's records (validate.py's CACHE/records/hybrid.jsonl); "
                    "without it the films are graded first")  # fmt: skip
    ap.add_argument("--judges", type=Path, help="judges to grade and judge with (--judges)")
    ap.add_argument("--workers", type=int, default=usable_cpus())
    ap.add_argument("--per-hip", action="store_true", help="also one row per hip")
    a = ap.parse_args(argv)
    films = a.shared / "hybrid" / "films"
    real = a.shared / "realfilms" / "films"
    if not (films / "truth.json").is_file():
        ap.error(f"{films / 'truth.json'} is absent")
    truth: dict[str, Any] = json.loads((films / "truth.json").read_text())
    if a.records:
        records = [json.loads(x) for x in a.records.read_text().splitlines() if x.strip()]
    else:
        import tempfile

        note(f"grading {films} ...")
        with tempfile.TemporaryDirectory(prefix="brooker-budget-") as tmp:
            records = grade_cli(films, a.workers, Path(tmp), a.judges)
    judges = str(a.judges.resolve()) if a.judges else None
    jobs = []
    for rec in records:
        name = Path(str(rec.get("file", ""))).name
        t = truth.get(name)
        if not isinstance(t, dict) or not rec.get("hips"):
            continue
        source = real / (Path(t["hips"][0]["source"]).stem + ".dcm")
        jobs.append((str(films / name), str(source), {**rec, "truth": t}, judges))
    note(f"{len(jobs)} films: segmenting the hips with drawn bone ...")
    with Pool(a.workers) as pool:
        rows = [r for film_rows in pool.map(film_budget, jobs) for r in film_rows]
    print("| class | hips | right | " + " | ".join(PLACES) + " |")
    print("|---|---|---|" + "---|" * len(PLACES))
    for s in summarise(rows):
        cells = " | ".join(f"{s[p]:.2f}" for p in PLACES)
        print(f"| {s['class']} | {s['hips']} | {s['right']} | {cells} |")
    print("(mean fraction of each hip's drawn pixels, over the hips graded or not graded with "
          "fragments seen)")  # fmt: skip
    if a.per_hip:
        for r in sorted(rows, key=lambda r: (r["truth"], r["file"], r["side"])):
            n = max(1, sum(r[p] for p in PLACES))
            cells = " ".join(f"{p}={r[p] / n:.2f}" for p in PLACES)
            print(f"{r['file']} {r['side']} truth {r['truth']} grade {r['grade']} {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
