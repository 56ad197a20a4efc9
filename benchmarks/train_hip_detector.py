"""Train the hip-region detector (:mod:`brooker.hip_detector`) and report its held-out figures.

usage: python benchmarks/train_hip_detector.py [--shared ../shared] [--out brooker/data/hip_detector.npz]
                                               [--folds 5] [--no-write]

Data: the labelled real films of ``../shared/realfilms`` (hip centres and head radii; read in
place, never copied) and synthetic films rendered by :mod:`brooker.phantom` (pelvis, hip views,
and knee/chest films with no hip), seeded, so the same weights come out every time.

Samples per hip: windows centred on the head with position (sd 3 mm), scale (0.88-1.12) and
tone (gamma 0.7-1.4) jitter, mirrored so the lateral side is to the image's left; the hip
mirrored the other way is a negative (it teaches which way is lateral); 80 windows per film
whose centre is at least one head radius (and 24 mm) from every hip are negatives.
Classifier: L2-regularised logistic regression (scipy L-BFGS), classes weighted equally.

Before writing the weights it cross-validates on the real films (``--folds``, by film: each
fold's films are scored by weights trained without them) and prints, per held-out hip, the
best score within one head radius of its centre and the best score on the film away from every
hip (more than two radii), and what the full hip search (:func:`brooker.localization.find_hips`:
pairing, thresholds, head placement) finds on the film with those weights, scored as
``realfilms/score.py`` scores hips found. The figures are the detector's honest estimate on
unseen films.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from brooker import hip_detector as hd
from brooker import phantom as ph
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.localization import analysis_grid, find_hips
from brooker.padding import inside_border
from brooker.pipeline import load_calibrated

ANALYSIS_PITCH_MM = 1.0  # as AnalysisConfig.analysis_pitch_mm: the detector grid is made from it


@dataclass
class Film:
    name: str
    img: np.ndarray  # detector grid, normalised
    hips: list[tuple[float, float, float, bool]]  # row, col, radius (detector px), lateral left
    real: bool
    labels: tuple[dict, ...] = ()  # a real film's labelled hips as labels.json has them


def _detector_grid(rad) -> tuple[np.ndarray, float, float]:
    g = analysis_grid(rad, ANALYSIS_PITCH_MM)
    img = hd.detector_image(g.image, g.pitch_mm)
    # stored pixels per detector pixel, (rows, cols)
    return (img, g.scale_row * g.image.shape[0] / img.shape[0],
            g.scale_col * g.image.shape[1] / img.shape[1])


def real_films(shared: Path) -> list[Film]:
    root = shared / "realfilms" / "films"
    labels = json.loads((root / "labels.json").read_text())
    out = []
    for name in sorted(labels):
        # the film grading reads: inside a border of padding, the labels moved onto it
        rad, (r0, c0) = inside_border(load_radiograph(root / name))
        img, sr, sc = _detector_grid(rad)
        hips = []
        for h in labels[name]["hips"]:
            r, c = h["centre_rc_px"][0] - r0, h["centre_rc_px"][1] - c0
            hips.append(((r + 0.5) / sr - 0.5, (c + 0.5) / sc - 0.5, h["radius_px"] / sr,
                         h["image_half"] == "left"))
        out.append(Film(name, img, hips, True, tuple(labels[name]["hips"])))
    return out


def phantom_films(n: int = 24, seed0: int = 1000) -> list[Film]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seed0, seed0 + n):
            spec = ph.random_spec(seed)
            body = {6: "chest", 7: "knee"}.get(seed % 8, "pelvis")
            spec = replace(spec, spacing_mm=0.6, body=body)
            p = ph.render(spec)
            path = ph.write(p, Path(tmp) / f"ph{seed}.dcm")
            rad = load_radiograph(path, pixel_spacing=p.spacing)
            img, sr, sc = _detector_grid(rad)
            hips = []
            for h in p.truth.get("hips", []):
                r, c = h["center_px"]
                hips.append(((r + 0.5) / sr - 0.5, (c + 0.5) / sc - 0.5,
                             h["head_diameter_mm"] / 2 / hd.DETECTOR_PITCH_MM,
                             h["image_half"] == "left"))
            out.append(Film(f"phantom_{seed}", img, hips, False))
    return out


def samples(film: Film, rng: np.random.Generator, n_pos: int = 10, n_neg: int = 80):
    x, y = [], []
    h, w = film.img.shape
    for r, c, _rad, lat_left in film.hips:
        for _ in range(n_pos):
            win = hd.window(film.img, r + rng.normal(0, 1.5), c + rng.normal(0, 1.5),
                            rng.uniform(0.88, 1.12), mirror=not lat_left)
            win = np.clip(win, 0, 1) ** rng.uniform(0.7, 1.4)
            x.append(hd.window_features(win))
            y.append(1.0)
        for _ in range(2):
            x.append(hd.window_features(hd.window(film.img, r, c, rng.uniform(0.9, 1.1),
                                                  mirror=lat_left)))
            y.append(0.0)
    k = 0
    while k < n_neg:
        r, c = rng.uniform(0, h), rng.uniform(0, w)
        if any(math.hypot(r - hr, c - hc) < max(12.0, hrad) for hr, hc, hrad, _ in film.hips):
            continue
        x.append(hd.window_features(hd.window(film.img, r, c, rng.uniform(0.9, 1.1),
                                              mirror=bool(rng.integers(2)))))
        y.append(0.0)
        k += 1
    return x, y


def fit(x, y, lam: float = 10.0) -> hd.DetectorWeights:
    X = np.asarray(x, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    sw = np.where(t > 0, 0.5 / t.sum(), 0.5 / (1 - t).sum()) * n

    def loss(wb):
        w, b = wb[:-1], wb[-1]
        z = X @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        val = np.sum(sw * (np.logaddexp(0, z) - t * z)) / n + 0.5 * lam * (w @ w) / n
        g = (sw * (p - t)) @ X / n + lam * w / n
        return val, np.concatenate([g, [np.sum(sw * (p - t)) / n]])

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return hd.DetectorWeights(w=res.x[:-1], b=float(res.x[-1]))


def held_out_scores(film: Film, weights: hd.DetectorWeights):
    s = hd.SCORE_STEP_PX
    maps = {lat: hd.score_map(film.img, weights, mirror=not lat) for lat in (True, False)}
    yy, xx = np.mgrid[: maps[True].shape[0], : maps[True].shape[1]] * s
    away = np.ones(maps[True].shape, dtype=bool)
    for r, c, rad, _ in film.hips:
        away &= np.hypot(yy - r, xx - c) > 2 * rad
    far = max(float(m[away].max()) if away.any() else -np.inf for m in maps.values())
    near = [float(maps[lat][np.hypot(yy - r, xx - c) <= rad].max()) for r, c, rad, lat in film.hips]
    return near, far


def held_out_search(
    shared: Path, film: Film, weights: hd.DetectorWeights, placed_mm: dict[str, list[float]]
) -> tuple[int, int, list[str]]:
    """The full hip search (:func:`brooker.localization.find_hips`, with ``weights``) on a real
    film: (labelled hips found, labelled hips, what went wrong). A hip is found when a hip of
    its side is centred within one labelled head radius of it, as ``realfilms/score.py`` scores.
    Each found hip's distance from its labelled centre, mm, is added to ``placed_mm`` under how
    it was placed: ``"detector"`` (no head outline fitted: ``center_uncertainty_mm`` > 0) or
    ``"outline"`` (a native circle or a metal disk)."""
    labels = film.labels
    cfg = AnalysisConfig()
    rad, offset = inside_border(
        load_calibrated(str(shared / "realfilms" / "films" / film.name), cfg)
    )
    hips = find_hips(rad, cfg, detector=weights).hips
    found, notes = 0, []
    for lab in labels:
        mine = [h for h in hips if h.patient_side.value == lab["side"]]
        if not mine:
            notes.append(f"{lab['side']} hip not found")
            continue
        r, c = mine[0].center_px
        d = math.dist((r + offset[0], c + offset[1]), lab["centre_rc_px"])
        how = "detector" if mine[0].center_uncertainty_mm > 0 else "outline"
        placed_mm[how].append(d * rad.spacing.row_mm)
        if d <= lab["radius_px"]:
            found += 1
        else:
            mm = d * rad.spacing.row_mm
            notes.append(f"{lab['side']} hip placed {mm:.0f} mm from its centre")
    sides = {lab["side"] for lab in labels}
    notes += [
        f"a {h.patient_side.value} hip where none is labelled"
        for h in hips
        if h.patient_side.value not in sides
    ]
    return found, len(labels), notes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "brooker" / "data" / "hip_detector.npz")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.time()
    real = real_films(a.shared)
    synth = phantom_films()
    print(f"{len(real)} real films, {len(synth)} synthetic films ({time.time() - t0:.0f} s)", flush=True)

    def train_on(films, seed):
        rng = np.random.default_rng(seed)
        x, y = [], []
        for f in films:
            fx, fy = samples(f, rng)
            x += fx
            y += fy
        return fit(x, y)

    nears, fars, found, labelled = [], [], 0, 0
    placed_mm: dict[str, list[float]] = {"detector": [], "outline": []}
    for k in range(a.folds):
        test = real[k :: a.folds]
        weights = train_on([f for f in real if f not in test] + synth, k)
        for f in test:
            near, far = held_out_scores(f, weights)
            nears += near
            fars.append(far)
            n_found, n_hips, notes = held_out_search(a.shared, f, weights, placed_mm)
            found += n_found
            labelled += n_hips
            scores = ", ".join(f"{v:.2f}" for v in near)
            what = "".join(f"; {n}" for n in notes)
            print(f"  fold {k} {f.name}: hips {scores}; elsewhere {far:.2f}{what}")
    nears_a, fars_a = np.array(nears), np.array(fars)
    print(f"held-out real films: {len(nears)} hips, score at the hip median {np.median(nears_a):.2f} "
          f"min {nears_a.min():.2f}; best score away from hips median {np.median(fars_a):.2f} "
          f"max {fars_a.max():.2f}")
    for thr in (1.5, 2.0, 2.5, 3.0):
        print(f"  threshold {thr}: hips above {np.mean(nears_a >= thr):.3f}, "
              f"films with a non-hip peak above {np.mean(fars_a >= thr):.3f}")
    print(f"held-out real films, full hip search (find_hips with each fold's weights): "
          f"{found} of {labelled} labelled hips found")
    # how far from its labelled centre each hip is placed: the honest error of a centre
    for how, dists in placed_mm.items():
        if dists:
            d = np.array(dists)
            print(f"  placed by {how}: {len(d)} hips, distance from the labelled centre median "
                  f"{np.median(d):.1f} mm, 90th percentile {np.percentile(d, 90):.1f} mm, "
                  f"max {d.max():.1f} mm")
    weights = train_on(real + synth, 99)
    if not a.no_write:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(a.out, w=weights.w.astype(np.float32), b=np.float32(weights.b))
        print(f"wrote {a.out} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
