#!/usr/bin/env python
"""Re-export the labelled real films with other processing and score each re-export.

    python benchmarks/reexport.py                        # every variant, into $TMPDIR
    python benchmarks/reexport.py --variants gamma0.7,mirrored --workers 2
    python benchmarks/reexport.py --out /tmp/reexport --keep --list

A film's grade should not hinge on how it was exported. Each variant rewrites every film of
``SHARED/realfilms/films`` (and its ``labels.json``, moved with the pixels where the geometry
changes) into ``OUT/<variant>/``, grades the folder with ``brooker grade --json --no-overlay``
and scores it with :func:`validate.score`, the scoreboard's one scoring function: hips found,
graded, false class II-IV and false class I calls on the HO-free hips, hips reported where none
is labelled, prosthesis flag right. The films are real radiographs of unknown licence: the
re-exports are written under ``--out`` (a temporary folder unless given) and deleted at the
end unless ``--keep``; never into the repository.

Variants (grey levels are those of the stored pixels; ``max`` is ``2**BitsStored - 1``):

* ``as_exported``: the films as they are (rewritten uncompressed, for a like-for-like base);
* ``noise4``: Gaussian noise of 4 grey levels added (seeded per film), clipped to the range;
* ``gamma0.7``, ``gamma1.4``: another tone curve, ``max * (x / max) ** gamma``;
* ``contrast60``: 60 % of the contrast about the film's mean grey level;
* ``sharpen1.0s6``, ``sharpen0.4s2``: edge enhancement (unsharp masking, as CR/DX processing
  applies it), ``x + a * (x - blur(x))`` with amount ``a`` 1.0 and a Gaussian blur of 6 stored
  pixels (strong and wide: 1.2-3.7 mm on these films, 2.5 mm at their median), or 0.4 and 2
  pixels (mild and fine);
* ``bits12``: stretched to 12 bits stored (16 allocated);
* ``mono1``: inverted and written as MONOCHROME1 (the loader must invert it back);
* ``mirrored``: left-right mirrored, with (0020,0020) Patient Orientation's row direction
  swapped (L <-> R), so that the patient's sides stay right; labelled centres and image halves
  mirrored;
* ``up2x``: upsampled 2x (bilinear), Pixel Spacing halved, labels scaled;
* ``half``: 2 x 2 blocks averaged, Pixel Spacing doubled, labels scaled;
* ``padded``: a border of 40 mm of the darkest grey level (0) on every side, declared as
  (0028,0120) Pixel Padding Value, as an export padded to a fixed plate size; labels moved;
* ``padded_undeclared``: the same border, declared by no element (an export that pads
  without saying so, or a film letterboxed before it was written as DICOM);
* ``crop1``, ``crop3``: the first 1 or 3 rows and columns cut off, as an export cropped a
  pixel or three differently; nothing else changes (labels moved).

Prints one markdown table (progress on stderr); ``--list`` also lists each variant's false calls;
``--judges DIR`` grades with retrained judges (``brooker grade --judges``).
Exits 0: the figures are for reading (the README quotes them under *What it cannot see*).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from validate import grade_cli, match_hips, note, score, usable_cpus  # noqa: E402

Pixels = np.ndarray
Labels = dict[str, Any]


def _max_value(ds: pydicom.Dataset) -> int:
    return (1 << int(ds.BitsStored)) - 1


Transform = Callable[[pydicom.Dataset, Pixels, int], Pixels]


def noise(sigma: float) -> Transform:
    """Gaussian noise of ``sigma`` grey levels (seeded by ``seed``), clipped to the range
    (also the fragment judge's training copies: ``train_ho_pixels.render_augmented``)."""

    def apply(ds: pydicom.Dataset, px: Pixels, seed: int) -> Pixels:
        rng = np.random.default_rng(seed)
        return np.clip(px + rng.normal(0.0, sigma, px.shape), 0, _max_value(ds))

    return apply


def gamma(g: float) -> Transform:
    """The tone curve ``max * (x / max) ** g``."""

    def apply(ds: pydicom.Dataset, px: Pixels, seed: int) -> Pixels:
        top = _max_value(ds)
        return top * (np.clip(px, 0, top) / top) ** g

    return apply


def crop(k: int) -> Transform:
    """The first ``k`` rows and columns cut off (the top and the left): the grey levels kept,
    every grid anchored at the image's corner moved."""

    def apply(ds: pydicom.Dataset, px: Pixels, seed: int) -> Pixels:
        return px[k:, k:]

    return apply


def spacing(factor: float) -> Transform:
    """The pixels kept and the film's Pixel Spacing and Imager Pixel Spacing multiplied by
    ``factor`` (written into ``ds``): the same film, read as if its scale were that much off."""

    def apply(ds: pydicom.Dataset, px: Pixels, seed: int) -> Pixels:
        _scale_spacing(ds, factor)
        return px

    return apply


def sharpen(amount: float, sigma_px: float) -> Transform:
    """Edge enhancement as CR/DX processing applies it: ``x + amount * (x - blur(x))``, the blur
    a Gaussian of ``sigma_px`` stored pixels, clipped to the range."""

    def apply(ds: pydicom.Dataset, px: Pixels, seed: int) -> Pixels:
        low = ndi.gaussian_filter(px, sigma_px)
        return np.clip(px + amount * (px - low), 0, _max_value(ds))

    return apply


def _contrast60(ds: pydicom.Dataset, px: Pixels, seed: int) -> Pixels:
    mean = float(px.mean())
    return np.clip(mean + 0.6 * (px - mean), 0, _max_value(ds))


#: the variants that change grey levels only, and how
GREY: dict[str, Transform] = {
    "noise4": noise(4.0),
    "gamma0.7": gamma(0.7),
    "gamma1.4": gamma(1.4),
    "contrast60": _contrast60,
    "sharpen1.0s6": sharpen(1.0, 6.0),
    "sharpen0.4s2": sharpen(0.4, 2.0),
}
#: The ``crop`` variants: rows and columns cut off the top and the left, stored pixels.
CROP = {"crop1": 1, "crop3": 3}
#: every variant, in the table's order (the others are handled in :func:`reexport`)
VARIANTS = (
    "as_exported", *GREY, "bits12", "mono1", "mirrored", "up2x", "half", "padded",
    "padded_undeclared", *CROP,
)
#: The border the ``padded`` variant adds on every side, mm.
PAD_MM = 40.0


def _write(ds: pydicom.Dataset, px: Pixels, path: Path, bits_stored: int | None = None) -> None:
    """``ds`` with ``px`` as its (uncompressed, unsigned) pixels, written to ``path``."""
    bits = int(bits_stored or ds.BitsStored)
    allocated = 8 if bits <= 8 else 16
    arr = np.clip(np.rint(px), 0, (1 << bits) - 1).astype(np.uint8 if allocated == 8 else np.uint16)
    ds.Rows, ds.Columns = int(arr.shape[0]), int(arr.shape[1])
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, bits, bits - 1
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PixelData = arr.tobytes()
    ds["PixelData"].VR = "OB" if allocated == 8 else "OW"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for tag in (0x00281050, 0x00281051, 0x00283010):  # a window or VOI LUT of the old range
        if tag in ds:
            del ds[tag]
    ds.save_as(path, enforce_file_format=True)


def reexport(variant: str, src: Path, dst: Path, labels: Labels, seed: int) -> Labels:
    """Write ``src`` as ``variant`` to ``dst``; its labels, moved with the pixels."""
    ds = pydicom.dcmread(src)
    px = ds.pixel_array.astype(np.float64)
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        px = _max_value(ds) - px  # every variant starts from MONOCHROME2 grey levels
        ds.PhotometricInterpretation = "MONOCHROME2"
    out = copy.deepcopy(labels)
    if variant in GREY:
        px = GREY[variant](ds, px, seed)
    bits = None
    if variant == "bits12":
        px = px * 4095.0 / _max_value(ds)
        bits = 12
    elif variant == "mono1":
        px = _max_value(ds) - px
        ds.PhotometricInterpretation = "MONOCHROME1"
    elif variant == "mirrored":
        px = px[:, ::-1]
        cols = px.shape[1]
        orient = list(ds.get("PatientOrientation") or [])
        if orient and orient[0]:
            swap = {"L": "R", "R": "L"}
            orient[0] = "".join(swap.get(ch, ch) for ch in str(orient[0]))
            ds.PatientOrientation = orient
        for hip in out["hips"]:
            r, c = hip["centre_rc_px"]
            hip["centre_rc_px"] = [r, cols - 1 - c]
            hip["image_half"] = {"left": "right", "right": "left"}[hip["image_half"]]
    elif variant == "up2x":
        # pixel areas, not centres, scaled: stored pixel (r, c) covers new (2r, 2c)-(2r+1, 2c+1)
        px = ndi.zoom(px, 2, order=1, grid_mode=True, mode="nearest")
        _scale_spacing(ds, 0.5)
        for hip in out["hips"]:
            r, c = hip["centre_rc_px"]
            hip["centre_rc_px"] = [2 * r + 0.5, 2 * c + 0.5]
            hip["radius_px"] = 2 * hip["radius_px"]
    elif variant == "half":
        rows, cols = px.shape[0] // 2 * 2, px.shape[1] // 2 * 2
        px = px[:rows, :cols].reshape(rows // 2, 2, cols // 2, 2).mean(axis=(1, 3))
        _scale_spacing(ds, 2.0)
        for hip in out["hips"]:
            r, c = hip["centre_rc_px"]
            hip["centre_rc_px"] = [(r - 0.5) / 2, (c - 0.5) / 2]
            hip["radius_px"] = hip["radius_px"] / 2
    elif variant in ("padded", "padded_undeclared"):
        spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
        row_mm, col_mm = (float(v) for v in spacing)
        pr, pc = round(PAD_MM / row_mm), round(PAD_MM / col_mm)
        px = np.pad(px, ((pr, pr), (pc, pc)), constant_values=0.0)
        if variant == "padded":
            ds.add_new(0x00280120, "US", 0)  # Pixel Padding Value
        for hip in out["hips"]:
            r, c = hip["centre_rc_px"]
            hip["centre_rc_px"] = [r + pr, c + pc]
    elif variant in CROP:
        k = CROP[variant]
        px = crop(k)(ds, px, seed)
        for hip in out["hips"]:
            r, c = hip["centre_rc_px"]
            hip["centre_rc_px"] = [r - k, c - k]
    _write(ds, px, dst, bits)
    return out


def _scale_spacing(ds: pydicom.Dataset, factor: float) -> None:
    """Pixel Spacing and Imager Pixel Spacing times ``factor`` (where present)."""
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        if tag in ds:
            setattr(ds, tag, [f"{float(v) * factor:.6g}" for v in ds.get(tag)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated, of {','.join(VARIANTS)} (default: all)",
    )
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, help="folder for the re-exports (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the re-exports (with --out)")
    ap.add_argument("--workers", type=int, default=usable_cpus())
    ap.add_argument("--list", action="store_true", help="list each variant's false calls")
    ap.add_argument(
        "--judges",
        type=Path,
        help="grade with these judges (a folder benchmarks/train_ho_pixels.py wrote)",
    )
    a = ap.parse_args(argv)
    names = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    films = a.shared / "realfilms" / "films"
    if not (films / "labels.json").is_file():
        ap.error(f"{films / 'labels.json'} is absent")
    truth: dict[str, Labels] = json.loads((films / "labels.json").read_text())
    base = a.out or Path(tempfile.mkdtemp(prefix="brooker-reexport-"))
    written: list[Path] = []  # only what this run wrote is deleted (never the whole --out)
    rows = []
    try:
        for variant in names:
            folder = base / variant
            written.append(folder)
            (folder / "films").mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            moved = {}
            for i, name in enumerate(sorted(truth)):
                moved[name] = reexport(variant, films / name, folder / "films" / name,
                                       truth[name], seed=i)  # fmt: skip
            (folder / "films" / "labels.json").write_text(json.dumps(moved, indent=1))
            note(f"{variant}: {len(moved)} films written, grading ...")
            records = grade_cli(folder / "films", a.workers, folder / "out", judges=a.judges)
            fig = score(moved, records)
            rows.append({"variant": variant, **fig, "seconds": time.perf_counter() - t0})
            if a.list:
                by_name = {Path(str(r.get("file", ""))).name: r for r in records}
                for name, entry in moved.items():
                    got = [h for h in (by_name.get(name) or {}).get("hips") or []]
                    for lab, g in zip(entry["hips"], match_hips(entry["hips"], got), strict=True):
                        grade = None if g is None else g.get("grade")
                        if lab.get("ho") == "none" and isinstance(grade, int) and grade >= 1:
                            note(f"  {variant}: {name} {lab['side']} (HO-free) graded {grade}")
    finally:
        if not (a.out and a.keep):
            for folder in written:
                shutil.rmtree(folder, ignore_errors=True)
            if a.out is None:
                shutil.rmtree(base, ignore_errors=True)
    cols = ("variant", "films", "hips", "found", "graded", "false_spur", "false_island",
            "phantom", "prosthesis_frac", "seconds")  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for row in rows:
        cells = []
        for c in cols:
            v = row[c]
            cells.append(f"{v:.2f}" if isinstance(v, float) and not math.isnan(v) else str(v))
        print("| " + " | ".join(cells) + " |")
    print("(false_spur: class II-IV on an HO-free hip; false_island: class I there)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
