"""Make the README's example overlay from the project's own synthetic films (never real ones).

usage: python benchmarks/readme_images.py [--out docs/images]

Renders a seeded AP pelvis phantom (:mod:`brooker.phantom`: a native hip with class III
heterotopic bone and a total hip arthroplasty with class IV), grades it with
:func:`brooker.grade_path`, checks the grades equal the phantom's truth, and writes the overlay
as ``overlay-class-iii-iv.png`` (and the left hip's full-resolution crop as
``overlay-crop-left.png``). The seed is one whose grades come out right; not every seed's
do (see the README's "What it cannot see"), and the script refuses to write a wrong example.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from brooker import grade_path
from brooker import phantom as ph

SPEC = ph.PhantomSpec(
    seed=4249,
    right=ph.HipSpec(3, gap_mm=4.5, spurs="both"),
    left=ph.HipSpec(4),
    spacing_mm=0.2,
    tone="gamma",
    edge_enhance=0.6,
    marker=True,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "images")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        film = ph.write(ph.render(SPEC), Path(tmp) / "pelvis.dcm")
        truth = {h["side"]: h["grade"] for h in ph.render(SPEC).truth["hips"]}
        res = grade_path(film, out_dir=Path(tmp) / "out", overlay_crops=True, overlay_name="ex")
        got = {h.patient_side.value: (None if h.grade is None else int(h.grade)) for h in res.hips}
        print("truth", truth, "graded", got, res.reason or "")
        if got != truth:
            print("the example film is not graded right: not writing it", file=sys.stderr)
            return 1
        a.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "out" / "ex.png", a.out / "overlay-class-iii-iv.png")
        shutil.copyfile(Path(tmp) / "out" / "ex-left.png", a.out / "overlay-crop-left.png")
    print(f"wrote {a.out}/overlay-class-iii-iv.png, overlay-crop-left.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
