"""Films without a hip (negatives for the hip detector): an AP knee and a chest."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from brooker.phantom.geometry import FloatArray, _Frame, _smooth_open
from brooker.phantom.scene import _Group, _Scene
from brooker.phantom.shapes import _Blob, _Shape, _Tube
from brooker.phantom.specs import PhantomSpec, _rng

_Body = Callable[[FloatArray, FloatArray], FloatArray]


def _build_other(spec: PhantomSpec) -> _Scene:
    """The scene of a knee or chest film (the seed's ``other`` stream)."""
    rng = _rng(spec.seed, "other")
    if spec.body == "knee":
        groups, body, (fh, fw) = _knee(rng, spec)
    else:
        groups, body, (fh, fw) = _chest(rng, spec)
    frame = _Frame(fw / 2, fh / 2, math.radians(float(rng.normal(0, 2))))
    return _Scene(groups, frame, body, {}, [], (fh, fw))


def _knee(
    rng: np.random.Generator, spec: PhantomSpec
) -> tuple[list[_Group], _Body, tuple[float, float]]:
    """AP knee: distal femur with condyles, tibia, fibula, patella; soft tissue; field."""
    fh, fw = spec.field_mm or (float(rng.uniform(260, 330)), float(rng.uniform(200, 260)))
    fem = _Tube(
        np.array([[0, -300.0], [0, -60], [0, -20]]),
        np.array([14, 16, 36.0]),
        cortex=np.array([6, 4, 1.5]),
    )
    cond = [
        _Blob(-20, -18, 22, 20, depth=25, cortex=1.5),
        _Blob(20, -18, 22, 20, depth=25, cortex=1.5),
    ]
    tib = _Tube(
        np.array([[0, 8.0], [0, 50], [0, 300]]),
        np.array([38, 22, 14.0]),
        cortex=np.array([1.5, 3, 5.5]),
    )
    fib = _Tube(np.array([[44, 30.0], [40, 80], [34, 300]]), np.array([9, 6, 6.0]), cortex=2.0)
    pat = _Blob(0, -35, 22, 26, depth=10, cortex=1.5)
    groups = [
        _Group("femur", [fem, *cond]),
        _Group("tibia", [tib]),
        _Group("fibula", [fib]),
        _Group("patella", [pat]),
    ]
    t0 = float(rng.uniform(90, 140))

    def body(u: FloatArray, v: FloatArray) -> FloatArray:
        return t0 * np.sqrt(np.clip(1 - (u / (t0 * 0.6)) ** 2, 0, None))

    return groups, body, (fh, fw)


def _chest(
    rng: np.random.Generator, spec: PhantomSpec
) -> tuple[list[_Group], _Body, tuple[float, float]]:
    """Chest: ribs, thoracic spine, clavicles; lungs and heart in the soft tissue; field."""
    fh, fw = spec.field_mm or (float(rng.uniform(350, 430)), float(rng.uniform(350, 430)))
    ribs: list[_Shape] = []
    for i in range(10):
        for s in (-1, 1):
            y = -150 + i * 26
            pts = np.array(
                [
                    [s * 12, y],
                    [s * 60, y - 18],
                    [s * 130, y + 10],
                    [s * 140, y + 50],
                    [s * 110, y + 75],
                ]
            )
            ribs.append(_Tube(_smooth_open(pts, 20), 5.0, cortex=1.2))
    spine: list[_Shape] = [_Blob(0, -170 + 26 * i, 22, 11, depth=16, cortex=2) for i in range(14)]
    clav: list[_Shape] = [
        _Tube(np.array([[s * 15, -175], [s * 80, -185], [s * 150, -170]]), 6.0, cortex=2)
        for s in (-1, 1)
    ]
    groups = [_Group("ribs", ribs), _Group("spine", spine), _Group("clav", clav)]
    t0 = float(rng.uniform(180, 260))
    lung_c = [(-75.0, -40.0), (75.0, -40.0)]
    heart = (25.0, 40.0)

    def body(u: FloatArray, v: FloatArray) -> FloatArray:
        b = t0 * np.sqrt(np.clip(1 - (u / 175.0) ** 2, 0, None))
        for cu, cv in lung_c:
            q = ((u - cu) / 65) ** 2 + ((v - cv) / 120) ** 2
            b = b - 0.75 * t0 * np.sqrt(np.clip(1 - q, 0, None))
        q = ((u - heart[0]) / 70) ** 2 + ((v - heart[1]) / 60) ** 2
        return np.clip(b + 0.5 * t0 * np.sqrt(np.clip(1 - q, 0, None)), 5, None)

    return groups, body, (fh, fw)
