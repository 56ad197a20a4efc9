"""A small synthetic run folder (records + overlay PNGs) for the review-page tests.

Records have the shape ``brooker grade`` writes (design.md), without grading anything, so the
page's tests are fast and know every answer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def hip(side: str, cls: str | None, gap: float | None = None, *, unc: float = 0.4,
        borderline: bool = False, weak_call: bool = False, prosthesis: bool = False,
        caveats: tuple[str, ...] = ()) -> dict[str, Any]:
    """One hip record; ``cls`` None: found but not graded. ``weak_call``: its one fragment
    was kept by the learned judge at under 0.7."""
    grade = None if cls is None else ("0", "I", "II", "III", "IV").index(cls)
    rec: dict[str, Any] = {
        "side": side,
        "image_side": "left" if side == "right" else "right",
        "grade": grade,
        "brooker_class": cls,
        "gap_mm": gap,
        "gap_uncertainty_mm": None if gap is None else unc,
        "gap_points_px": None if gap is None else [[100.0, 120.0], [130.0, 140.0]],
        "borderline": borderline,
        "weak_call": weak_call,
        "prosthesis": prosthesis,
        "center_px": [300.0, 200.0],
        "fragments": [] if not grade else [{"kind": "pelvic_spur", "area_mm2": 80.0,
                                             "centroid_px": [90.0, 110.0],
                                             "judge_probability": 0.62 if weak_call else 0.93}],
        "caveats": list(caveats),
    }
    if cls is None:
        rec["not_graded"] = "the head is not bone-bright inside"
    return rec


def ok(file: str, uid: str, hips: list[dict[str, Any]], overlay: str | None,
       caveats: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "file": file,
        "status": "ok",
        "sop_instance_uid": uid,
        "spacing": {"row_mm": 0.2, "col_mm": 0.2, "source": "pixel_spacing"},
        "hips": hips,
        "laterality_source": "patient_orientation",
        "overlay": overlay,
        "caveats": list(caveats),
        "input_sha256": hashlib.sha256(file.encode()).hexdigest(),
        "version": "0.1.0",
    }


def write_png(path: Path, label: int, size: tuple[int, int] = (600, 720)) -> None:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", size, (20, 20, 20))
    draw = ImageDraw.Draw(im)
    draw.ellipse((150, 150, 450, 450), fill=(200, 200, 200))
    draw.rectangle((0, size[1] - 80, size[0], size[1]), fill=(255, 255, 255))
    draw.text((20, size[1] - 60), f"film {label}", fill=(0, 0, 0))
    im.save(path)


#: The films of :func:`make_run`, in path order: (file, classes of its hips; None: found, not
#: graded). The left hip (III) of the first is a weak call; the right hip (III) of the second
#: is borderline.
FILMS: tuple[tuple[str, tuple[str | None, ...]], ...] = (
    ("scans/a_two_hips.dcm", ("II", "III")),
    ("scans/b_borderline.dcm", ("III", "0")),
    ("scans/c_prosthesis.dcm", ("IV", "I")),
    ("scans/d, comma and \"quotes\".dcm", ("0", "0")),
    ("scans/e_chest.dcm", ()),
    ("scans/f_broken.dcm", ()),
    ("scans/g_no_overlay.dcm", ("III", None)),
)


def make_run(out: Path) -> list[dict[str, Any]]:
    """Write ``results.jsonl`` and overlays for :data:`FILMS` into ``out``; the records."""
    out.mkdir(parents=True, exist_ok=True)
    recs: list[dict[str, Any]] = []
    for i, name in enumerate(("a", "b", "c", "d")):
        write_png(out / f"{name}-0000000{i}.png", i)
    recs.append(ok(FILMS[0][0], "1.2.3.1",
                   [hip("right", "II", 14.25), hip("left", "III", 6.5, weak_call=True)],
                   str(out / "a-00000000.png")))
    recs.append(ok(FILMS[1][0], "1.2.3.2",
                   [hip("right", "III", 9.8, borderline=True), hip("left", "0")],
                   "b-00000001.png", caveats=("laterality assumed (AP convention)",)))
    recs.append(ok(FILMS[2][0], "1.2.3.3",
                   [hip("right", "IV", 0.0, prosthesis=True,
                        caveats=("apparent ankylosis on a single AP projection",)),
                    hip("left", "I", prosthesis=True)],
                   str(out / "c-00000002.png")))
    recs.append(ok(FILMS[3][0], "1.2.3.4", [hip("right", "0"), hip("left", "0")],
                   str(out / "d-00000003.png")))
    recs.append({"file": FILMS[4][0], "status": "ungradable", "sop_instance_uid": "1.2.3.5",
                 "hips": [], "reason": "no hip joint found", "overlay": None, "caveats": [],
                 "version": "0.1.0"})
    recs.append({"file": FILMS[5][0], "status": "error", "hips": [],
                 "error": {"code": "unsupported_pixel_data",
                           "message": "scans/f_broken.dcm: cannot decode"},
                 "overlay": None, "caveats": [], "version": "0.1.0"})
    recs.append(ok(FILMS[6][0], "1.2.3.7", [hip("right", "III", 3.0), hip("left", None)], None))
    with open(out / "results.jsonl", "w", encoding="utf-8") as fh:
        for r in reversed(recs):  # completion order is not path order
            fh.write(json.dumps(r) + "\n")
    return recs
