"""``python -m brooker.phantom``: regenerate the samples, write a dataset, or preview one film.

(argparse, not typer: the generator is a development tool, not part of the ``brooker`` command.)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from brooker.phantom.output import make_dataset, make_samples, preview_png
from brooker.phantom.render import render
from brooker.phantom.specs import random_spec

#: The help's description: the first line of the package's docstring.
_DESCRIPTION = "Synthetic AP pelvis radiographs with known per-hip Brooker class and gap."


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m brooker.phantom``: samples, datasets, or one preview PNG."""
    ap = argparse.ArgumentParser(prog="python -m brooker.phantom", description=_DESCRIPTION)
    ap.add_argument("--samples", metavar="DIR", help="regenerate the sample images into DIR")
    ap.add_argument("--dataset", metavar="DIR", help="write case_XXXX.dcm + truth.json into DIR")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--narrow", action="store_true", help="tamer variation (wide=False)")
    ap.add_argument("--preview", metavar="PNG", help="render random_spec(--seed) to a PNG")
    a = ap.parse_args(argv)
    if a.samples:
        make_samples(a.samples)
    if a.dataset:
        make_dataset(a.dataset, a.n, a.seed, wide=not a.narrow)
    if a.preview:
        preview_png(render(random_spec(a.seed, wide=not a.narrow)), a.preview)
    if not (a.samples or a.dataset or a.preview):
        ap.print_help()
        return 2
    return 0
