#!/usr/bin/env python
"""Draw heterotopic bone of the project's own making into the labelled real films: more
training films for the learned judges (``benchmarks/train_ho_pixels.py --drawn DIR``).

    python benchmarks/draw_hybrids.py --out /tmp/brooker-drawn [--variants 2] [--seed 2026]

``../shared/hybrid`` holds 75 real films into which code outside the project drew heterotopic
bone: the judges learn from those and the HO-free real films, and a judge trained on 25 source
films learns their drawing as much as the bone. This script draws other bone, by other rules,
into every labelled hip of ``../shared/realfilms`` (``--variants`` films per real film): per
hip a class drawn at random, and

* class I: one to three islands (lobed blobs of 15-250 mm2) in the soft tissue between the
  ilium and the greater trochanter, clear of the bone;
* classes II/III: a tapered, bent spur from the lateral ilium above the joint towards the
  greater trochanter, one from the trochanter towards the ilium, or both, leaving 1.5-25 mm;
* class IV: a band of irregular width joining the two;

where the ilium and the trochanter are found by walking out from the abductors' soft tissue
(lateral of and above the labelled head) until the film's own bone (brooker's intensity model:
soft tissue 0, bone 1) begins. The bone takes the film's local bone contrast (35-85 % of it,
faint immature to dense mature bone), a mottled interior, a cortex rim on mature bone, a
0.3-0.9 mm edge blur, and on 8-bit films the JPEG blocks of a re-encoding of its box.

Each film ``drw_<film>_v<k>.dcm`` is written with ``drw_<film>_v<k>_drawn.npz`` (``ectopic``:
the drawn bone's mask, where it reaches half its strength) and ``truth.json`` (the class drawn
per hip, the source film). The films are real radiographs of unknown licence, re-exported: write
them outside the repository (``--out``), never into it.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import reexport  # noqa: E402  (its uncompressed writer)

import brooker  # noqa: E402
from brooker.config import AnalysisConfig  # noqa: E402
from brooker.imaging import sample_grid  # noqa: E402
from brooker.localization import analyse_scene  # noqa: E402

#: The class of each drawn hip: 0, I, II/III (spurs), IV, with these chances.
CLASS_CHANCE = {0: 0.15, 1: 0.3, 2: 0.3, 4: 0.25}
#: A native head's radius, mm: around an implant the anatomy is measured in it at least.
NATIVE_RADIUS_MM = 23.5
#: Where the film's own bone begins on a walk from the soft tissue (soft 0, bone 1).
BONE_NORM = 0.55
#: A drawn film's mask is written beside it, named ``<film stem>`` + this
#: (``train_ho_pixels.py --drawn`` finds it so).
MASK_SUFFIX = "_drawn.npz"


def _levels(rg: Any, cfg: AnalysisConfig) -> tuple[np.ndarray, np.ndarray]:
    """The intensity model's soft-tissue and bone levels at every stored pixel."""
    scene = analyse_scene(rg, cfg, detect=False)
    g = scene.grid
    rows = (np.arange(rg.pixels.shape[0]) + 0.5) / g.scale_row - 0.5
    cols = (np.arange(rg.pixels.shape[1]) + 0.5) / g.scale_col - 0.5
    return sample_grid(scene.model.soft, rows, cols), sample_grid(scene.model.bone, rows, cols)


class Hip:
    """One labelled hip in (lateral, up) mm about its centre."""

    def __init__(self, label: dict[str, Any], sp: float, shape: tuple[int, int]) -> None:
        self.r0, self.c0 = label["centre_rc_px"]
        self.lat = -1.0 if label["image_half"] == "left" else 1.0
        self.sp = sp
        self.shape = shape
        r_mm = label["radius_px"] * sp
        self.R = max(r_mm, NATIVE_RADIUS_MM) if label.get("prosthesis") else r_mm

    def px(self, u: float, v: float) -> tuple[float, float]:
        return self.r0 - v / self.sp, self.c0 + self.lat * u / self.sp

    def inside(self, u: float, v: float, margin_px: int = 4) -> bool:
        r, c = self.px(u, v)
        rows, cols = self.shape
        return margin_px <= r < rows - margin_px and margin_px <= c < cols - margin_px


def _at(norm: np.ndarray, hip: Hip, u: float, v: float) -> float:
    r, c = hip.px(u, v)
    return float(norm[int(round(r)), int(round(c))])


def _walk(
    norm: np.ndarray, hip: Hip, start: np.ndarray, d: np.ndarray, reach: float
) -> np.ndarray | None:
    """The first point from ``start`` along ``d`` (mm steps) where 2 mm of bone begin."""
    run = 0
    for t in np.arange(0.0, reach, 0.5):
        p = start + t * d
        if not hip.inside(*p):
            return None
        run = run + 1 if _at(norm, hip, *p) >= BONE_NORM else 0
        if run >= 4:
            return start + (t - 1.5) * d
    return None


def _lobed(
    rng: np.random.Generator, pts: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``pts`` and ``radii`` with a few lobes budding off the path: an irregular outline."""
    n = len(pts)
    k = int(rng.integers(2, 6))
    at = rng.integers(0, n, k)
    ang = rng.uniform(0, 2 * np.pi, k)
    off = radii[at, None] * rng.uniform(0.5, 1.0, (k, 1)) * np.stack([np.cos(ang), np.sin(ang)], 1)
    lobes = radii[at] * rng.uniform(0.4, 0.8, k)
    return np.vstack([pts, pts[at] + off]), np.concatenate([radii, lobes])


def _disk_path(
    shape: tuple[int, int], hip: Hip, pts: np.ndarray, radii: np.ndarray
) -> np.ndarray:
    """Union of disks of ``radii`` (mm) at ``pts`` ((lateral, up) mm): a film-sized mask."""
    m = np.zeros(shape, bool)
    for (u, v), rad in zip(pts, radii, strict=True):
        r, c = hip.px(u, v)
        rp = rad / hip.sp
        r0, r1 = int(max(0, r - rp - 1)), int(min(shape[0], r + rp + 2))
        c0, c1 = int(max(0, c - rp - 1)), int(min(shape[1], c + rp + 2))
        if r0 >= r1 or c0 >= c1:
            continue
        rr, cc = np.mgrid[r0:r1, c0:c1]
        m[r0:r1, c0:c1] |= (rr - r) ** 2 + (cc - c) ** 2 <= rp * rp
    return m


def _bent(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """``n`` points from ``a`` to ``b`` along a gently bent, wobbling path."""
    t = np.linspace(0.0, 1.0, n)
    d = b - a
    normal = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9)
    bend = rng.uniform(-0.15, 0.15) * np.linalg.norm(d) * np.sin(np.pi * t)
    wobble = ndi.gaussian_filter1d(rng.normal(0, 1.0, n), max(1.0, n / 8))
    return a + t[:, None] * d + (bend + wobble)[:, None] * normal


def _spur(rng: np.random.Generator, hip: Hip, base: np.ndarray, toward: np.ndarray,
          length: float, into: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A tapered spur from ``base`` (sunk 1-2 mm into its bone along ``into``) towards
    ``toward``, ``length`` mm out of the bone."""
    d = (toward - base) / (np.linalg.norm(toward - base) + 1e-9)
    start = base + rng.uniform(1.0, 2.0) * into
    tip = base + length * d
    n = max(8, int(np.linalg.norm(tip - start) / 0.5))
    pts = _bent(rng, start, tip, n)
    w0, w1 = rng.uniform(4.0, 9.0), rng.uniform(1.0, 3.0)
    radii = np.linspace(w0, w1, n) * (1 + 0.25 * ndi.gaussian_filter1d(rng.normal(0, 1, n), 3))
    return _disk_path(shape, hip, *_lobed(rng, pts, np.maximum(radii, 0.6)))


def _blob(rng: np.random.Generator, hip: Hip, centre: np.ndarray, area_mm2: float,
          shape: tuple[int, int]) -> np.ndarray:
    """A lobed island of about ``area_mm2`` at ``centre``."""
    m = np.zeros(shape, bool)
    lobes = int(rng.integers(1, 4))
    rad = np.sqrt(area_mm2 / np.pi / lobes) * 1.1
    for _ in range(lobes):
        off = rng.normal(0, rad * 0.6, 2)
        n = int(rng.integers(4, 10))
        pts = centre + off + np.cumsum(rng.normal(0, rad * 0.3, (n, 2)), axis=0)
        m |= _disk_path(shape, hip, pts, np.full(n, rad * rng.uniform(0.5, 0.9)))
    return m


def draw_hip(
    rng: np.random.Generator, hip: Hip, norm: np.ndarray, grade: int
) -> tuple[np.ndarray, int]:
    """The mask of the bone drawn at ``hip`` for class ``grade`` (1, 2 for spurs, 4) and the
    class it was drawn as (0 when the anatomy to draw on was not found)."""
    shape = norm.shape
    none = np.zeros(shape, bool)
    # the abductors' soft tissue, lateral of and above the head, from where both the ilium
    # (up) and the trochanter (down) are reached
    start = pel = fem = None
    for _ in range(40):
        s = np.array([rng.uniform(1.2, 2.2), rng.uniform(0.0, 1.0)]) * hip.R
        if not (hip.inside(*s) and _at(norm, hip, *s) < 0.35):
            continue
        up = np.deg2rad(rng.uniform(70, 115))
        down = np.deg2rad(rng.uniform(-110, -60))
        p = _walk(norm, hip, s, np.array([np.cos(up), np.sin(up)]), 3.0 * hip.R)
        f = _walk(norm, hip, s, np.array([np.cos(down), np.sin(down)]), 3.0 * hip.R)
        if start is None or (p is not None and f is not None):
            start, pel, fem = s, p, f
        if pel is not None and fem is not None:
            break
    if start is None or (grade != 1 and (pel is None or fem is None)):
        return none, 0
    if grade == 1:
        m = none.copy()
        for _ in range(int(rng.integers(1, 4))):
            for _try in range(20):
                c = start + rng.normal(0, 0.25 * hip.R, 2)
                b = _blob(rng, hip, c, rng.uniform(15, 250), shape)
                if not b.any():
                    continue
                near = ndi.binary_dilation(b, iterations=max(1, int(3 / hip.sp)))
                if norm[near].max(initial=0) < BONE_NORM and not (near & m).any():
                    m |= b
                    break
        return m, (1 if m.any() else 0)
    dist = float(np.linalg.norm(fem - pel))
    if grade == 4:
        into_p = (pel - fem) / dist
        a, b = pel + rng.uniform(1, 2) * into_p, fem - rng.uniform(1, 2) * into_p
        n = max(10, int(np.linalg.norm(b - a) / 0.5))
        pts = _bent(rng, a, b, n)
        # a sheet flared where it meets each bone, narrower between
        t = np.linspace(0.0, 1.0, n)
        ends, waist = rng.uniform(4.0, 9.0), rng.uniform(2.0, 5.0)
        w = waist + (ends - waist) * (2 * t - 1) ** 2
        w = w * (1 + 0.3 * ndi.gaussian_filter1d(rng.normal(0, 1, n), 4))
        return _disk_path(shape, hip, *_lobed(rng, pts, np.maximum(w, 1.5))), 4
    gap = rng.uniform(10.5, 25.0) if rng.random() < 0.5 else rng.uniform(1.5, 9.0)
    out = dist - gap
    if out < 4.0:
        return none, 0
    which = rng.choice(["pelvic", "femoral", "both"], p=[0.3, 0.2, 0.5])
    share = rng.uniform(0.35, 0.65) if which == "both" else (1.0 if which == "pelvic" else 0.0)
    m = none.copy()
    into_p = (pel - fem) / dist
    if share > 0:
        m |= _spur(rng, hip, pel, fem, out * share, into_p, shape)
    if share < 1:
        m |= _spur(rng, hip, fem, pel, out * (1 - share), -into_p, shape)
    return m, (2 if gap >= 10.0 else 3)


def render_bone(
    rng: np.random.Generator, mask: np.ndarray, img: np.ndarray, soft: np.ndarray,
    bone: np.ndarray, sp: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The grey levels ``mask`` adds to the film, and where they reach half their strength."""
    if not mask.any():
        return np.zeros(mask.shape, np.float32), mask
    maturity = rng.uniform(0.0, 1.0)
    strength = 0.35 + 0.5 * maturity ** 0.7 * rng.uniform(0.7, 1.0)
    blur = rng.uniform(0.3, 0.9) / sp
    edge = ndi.gaussian_filter(mask.astype(np.float32), blur)
    noise = ndi.gaussian_filter(rng.normal(0, 1, mask.shape).astype(np.float32),
                                rng.uniform(0.6, 1.5) / sp)
    noise /= noise.std() + 1e-6
    texture = 1.0 + (0.3 - 0.15 * maturity) * noise
    core = ndi.binary_erosion(mask, iterations=max(1, int(round(1.2 / sp))))
    rim = np.clip(edge - ndi.gaussian_filter(core.astype(np.float32), blur), 0, 1)
    contrast = np.maximum(bone - soft, 1.0)
    # processed films compress the bright end: over the film's own bone, less is added
    over = 1.0 - 0.6 * np.clip((img - soft) / contrast, 0.0, 1.0)
    delta = strength * contrast * (edge * texture + 0.3 * maturity * rim) * over
    return delta.astype(np.float32), edge >= 0.5


def _jpeg_box(rng: np.random.Generator, out: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """An 8-bit film with the 8-aligned box around ``mask`` re-encoded as JPEG."""
    rows, cols = np.nonzero(mask)
    r0, r1 = max(0, rows.min() // 8 * 8 - 8), min(out.shape[0], (rows.max() // 8 + 2) * 8)
    c0, c1 = max(0, cols.min() // 8 * 8 - 8), min(out.shape[1], (cols.max() // 8 + 2) * 8)
    buf = io.BytesIO()
    crop = np.clip(np.rint(out[r0:r1, c0:c1]), 0, 255).astype(np.uint8)
    Image.fromarray(crop).save(buf, format="JPEG", quality=int(rng.integers(80, 96)))
    out = out.copy()
    out[r0:r1, c0:c1] = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32)
    return out


def draw_film(src: Path, labels: dict[str, Any], dst: Path, seed: int) -> dict[str, Any]:
    """Draw into ``src`` (its labels) and write ``dst`` and its mask; the film's truth."""
    rng = np.random.default_rng(seed)
    cfg = AnalysisConfig()
    rg = brooker.load_radiograph(src)
    sp = float(np.mean(rg.spacing.sampling_mm))
    soft, bone = _levels(rg, cfg)
    img = rg.pixels.astype(np.float32)
    norm = ndi.gaussian_filter((img - soft) / np.maximum(bone - soft, 1.0), 1.5 / sp)
    ds = pydicom.dcmread(src)
    stored = ds.pixel_array.astype(np.float32)
    mono1 = ds.PhotometricInterpretation == "MONOCHROME1"
    bits = int(ds.BitsStored)
    total = np.zeros(img.shape, np.float32)
    truth = np.zeros(img.shape, bool)
    hips = []
    for label in labels["hips"]:
        hip = Hip(label, sp, img.shape)
        want = int(rng.choice(list(CLASS_CHANCE), p=list(CLASS_CHANCE.values())))
        mask, got = (np.zeros(img.shape, bool), 0) if want == 0 else draw_hip(rng, hip, norm, want)
        delta, seen = render_bone(rng, mask, img, soft, bone, sp)
        total += delta
        truth |= seen
        hips.append({"side": label["side"], "image_half": label["image_half"], "grade": got,
                     "prosthesis": bool(label.get("prosthesis")), "source": src.name})
    # the film's stored grey levels: a MONOCHROME1 film is bone-dark, its levels go down
    new = stored - total if mono1 else stored + total
    if bits <= 8 and truth.any():
        new = _jpeg_box(rng, new, total > 0.5)
    reexport._write(copy.deepcopy(ds), new, dst)
    np.savez_compressed(dst.with_name(dst.stem + MASK_SUFFIX), ectopic=truth)
    return {"hips": hips}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, required=True, help="outside the repository")
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    if ROOT in args.out.resolve().parents or args.out.resolve() == ROOT:
        ap.error("--out is inside the repository: the real films may not be copied there")
    real = args.shared / "realfilms" / "films"
    labels = json.loads((real / "labels.json").read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, Any] = {}
    for i, name in enumerate(sorted(labels)):
        for k in range(args.variants):
            dst = args.out / f"drw_{Path(name).stem}_v{k}.dcm"
            seed = args.seed * 1000 + i * 10 + k
            truth[dst.name] = draw_film(real / name, labels[name], dst, seed)
            print(dst.name, [h["grade"] for h in truth[dst.name]["hips"]], flush=True)
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
