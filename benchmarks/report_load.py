#!/usr/bin/env python
"""Time the review page of a 500-film run: building it, and opening and filtering it in
headless Chromium.

A script, not a test: wall-clock times depend on the machine and its load.

    python benchmarks/report_load.py                 # 500 films, 5 page loads
    python benchmarks/report_load.py --films 2000 --runs 3
    python benchmarks/report_load.py --out DIR       # cache folder (default $TMPDIR/...)

The films are the project's own synthetic ones (``brooker.phantom.make_dataset``, 10 films,
graded once with overlays and cached). The 500-film run folder repeats their records and
overlay PNGs under 500 names (every 20th film ``ungradable``, without a picture), so the page
is built from 500 real overlays of the usual size, as ``brooker report`` would.

Measured, median over ``--runs`` fresh page loads in one headless Chromium (1400 x 1000):

* build: ``brooker.report.write_report`` (reading 500 overlays, thumbnails, HTML), seconds,
  and a second build, which finds the thumbnails in ``OUT/.report-thumbs``
* page size, MB
* DOMContentLoaded and load (``performance`` navigation timing), first contentful paint, and
  "ready" (the page's script has wired every card), ms from the start of navigation
* filter: choosing class III in the class filter until the next frame is drawn, ms
* search: typing a file-name filter, ms; sort: sorting by class, ms

Prints a markdown table on stdout (progress on stderr). Needs Chromium and websocket-client
(the test extra).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cdp_chromium import Chromium, find_browser  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def graded_phantoms(cache: Path) -> list[dict[str, Any]]:
    """Records (with overlays) of 10 synthetic films, graded once and cached."""
    from brooker.batch import read_records

    run = cache / "graded"
    results = run / "results.jsonl"
    if not results.is_file():
        from brooker.batch import grade_many
        from brooker.phantom import make_dataset

        films = cache / "films"
        if not (films / "truth.json").is_file():
            log("rendering 10 synthetic films (about 1.5 minutes, once)")
            make_dataset(films, 10, seed=7, wide=False)
        log("grading them with overlays (once)")
        for _ in grade_many([str(films)], workers=1, out_dir=run, results_file=results):
            pass
    return [r for r in read_records(results) if r.get("overlay")]


def make_run(cache: Path, n: int) -> Path:
    """A run folder of ``n`` films built from the cached graded phantoms."""
    base = graded_phantoms(cache)
    run = cache / f"run-{n}"
    if run.exists():
        shutil.rmtree(run)
    run.mkdir(parents=True)
    with open(run / "results.jsonl", "w", encoding="utf-8") as fh:
        for i in range(n):
            src = base[i % len(base)]
            name = f"archive/patient_{i // 2:04d}/IM{i % 2:04d}"
            rec = dict(src, file=name, input_sha256=f"{i:064x}")
            if i % 20 == 19:
                rec.update(status="ungradable", hips=[], overlay=None,
                           reason="no hip joint found (no femoral head or prosthesis)")
            else:
                png = run / f"IM{i % 2:04d}-{i:08x}.png"
                if _same_fs(src["overlay"], run):
                    os.link(src["overlay"], png)
                else:
                    shutil.copy(src["overlay"], png)
                rec["overlay"] = str(png)
            fh.write(json.dumps(rec) + "\n")
    return run


def _same_fs(a: str, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


NAV = (
    "(() => { const n = performance.getEntriesByType('navigation')[0];"
    " const p = performance.getEntriesByType('paint')"
    ".find(e => e.name === 'first-contentful-paint');"
    " return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,"
    " fcp: p ? p.startTime : null,"
    " cards: document.querySelectorAll('article.card').length}; })()"
)

FILTER = """new Promise(done => {
  const t0 = performance.now();
  const s = document.getElementById('f-class'); s.value = %s;
  s.dispatchEvent(new Event('change'));
  void document.body.offsetHeight;
  requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
})"""

SEARCH = """new Promise(done => {
  const t0 = performance.now();
  const s = document.getElementById('f-name'); s.value = %s;
  s.dispatchEvent(new Event('input'));
  void document.body.offsetHeight;
  requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
})"""

SORT = """new Promise(done => {
  const t0 = performance.now();
  const s = document.getElementById('f-sort'); s.value = %s;
  s.dispatchEvent(new Event('change'));
  void document.body.offsetHeight;
  requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
})"""


def measure(browser: Chromium, url: str) -> dict[str, float]:
    t0 = time.perf_counter()
    browser.navigate(url, "document.documentElement.dataset.ready === '1'")
    wall = (time.perf_counter() - t0) * 1000
    browser.wait_for("document.readyState === 'complete'")
    nav = browser.evaluate(NAV)
    out = {
        "wall": wall,
        "dcl": nav["dcl"],
        "load": nav["load"],
        "fcp": nav["fcp"] or float("nan"),
        "cards": nav["cards"],
        "filter": browser.evaluate(FILTER % json.dumps("III")),
        "unfilter": browser.evaluate(FILTER % json.dumps("")),
        "search": browser.evaluate(SEARCH % json.dumps("patient_01")),
        "unsearch": browser.evaluate(SEARCH % json.dumps("")),
        "sort": browser.evaluate(SORT % json.dumps("class-desc")),
    }
    browser.evaluate(SORT % json.dumps("run"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--films", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "brooker-report-bench"
    )
    ap.add_argument("--page", type=Path, help="only time this existing page")
    args = ap.parse_args(argv)
    binary = find_browser()
    if binary is None:
        log("no Chromium-family browser found (apt-get install chromium)")
        return 2
    from brooker.report import ReportInfo, write_report

    rebuild = float("nan")
    if args.page is not None:
        info = ReportInfo(args.page, args.films, -1, args.page.stat().st_size, float("nan"))
    else:
        run = make_run(args.out, args.films)
        log(f"building the page of {args.films} films")
        info = write_report(run)
        rebuild = write_report(run).seconds  # thumbnails from OUT/.report-thumbs
    build = info.seconds
    url = info.path.resolve().as_uri()
    rows = []
    profile = Path(tempfile.mkdtemp(prefix="brooker-bench-chromium-"))
    try:
        with Chromium(binary, profile) as browser:
            measure(browser, url)  # warm-up: the browser's own first start
            for k in range(args.runs):
                rows.append(measure(browser, url))
                log(f"  load {k + 1}/{args.runs}: {rows[-1]['load']:.0f} ms")
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"{args.films} films ({int(med('cards'))} cards, {info.thumbnails} thumbnails), "
          f"page {info.size_bytes / 1e6:.1f} MB, built in {build:.1f} s "
          f"(again, with its thumbnails kept: {rebuild:.1f} s); "
          f"median of {args.runs} loads in headless {Path(binary).name}:\n")
    print("| DOMContentLoaded | load | first paint | navigate->ready (wall) | filter class III "
          "| clear filter | file-name search | sort by class |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|")
    print(f"| {med('dcl'):.0f} ms | {med('load'):.0f} ms | {med('fcp'):.0f} ms | "
          f"{med('wall'):.0f} ms | {med('filter'):.0f} ms | {med('unfilter'):.0f} ms | "
          f"{med('search'):.0f} ms | {med('sort'):.0f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
