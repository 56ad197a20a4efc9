#!/usr/bin/env python
"""Make the README's screenshot of the review page (docs/images/report-review.png).

    python benchmarks/report_screenshot.py [--out DIR] [--png PATH]

Renders 10 synthetic films with the project's own generator (``brooker.phantom.make_dataset``,
seed 7, the tame set; about 1.5 minutes), grades them with
``brooker grade films/ --out review --report``, opens the page in headless Chromium, gives a
few verdicts with the review keys (agree, agree, III, a note, agree) and saves the top of the
page as a 256-colour PNG. Needs Chromium and websocket-client (the test extra).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cdp_chromium import Chromium, find_browser  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "brooker-shot")
    ap.add_argument("--png", type=Path, default=ROOT / "docs" / "images" / "report-review.png")
    args = ap.parse_args(argv)
    binary = find_browser()
    if binary is None:
        print("no Chromium-family browser found (apt-get install chromium)", file=sys.stderr)
        return 2
    from PIL import Image

    from brooker.phantom import make_dataset

    films = args.out / "films"
    if not (films / "truth.json").is_file():
        make_dataset(films, 10, seed=7, wide=False)
    subprocess.run(
        [sys.executable, "-m", "brooker", "grade", "films/", "--out", "review", "--report",
         "--quiet"],
        cwd=args.out, check=False, stdout=subprocess.DEVNULL,
    )
    page = args.out / "review" / "report.html"
    raw = args.out / "shot.png"
    with Chromium(binary, Path(tempfile.mkdtemp()), width=1280, height=1180) as b:
        b.navigate(page.as_uri(), "document.documentElement.dataset.ready === '1'")
        b.evaluate("document.activeElement && document.activeElement.blur()")
        for key in ("j", "a", "a", "3", "n"):
            b.key(key)
        b.type_text("gap ends on soft tissue?")
        for key in ("Enter", "a"):
            b.key(key)
        b.evaluate("window.scrollTo(0, 0)")
        time.sleep(0.5)
        b.screenshot(raw)
    with Image.open(raw) as im:
        im.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        ).save(args.png, optimize=True)
    print(args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
