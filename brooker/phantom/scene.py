"""Materials and the scene: shapes grouped by bone or material, placed by a frame.

Within one :class:`_Group` (one bone, or one material class) path lengths combine by maximum;
across groups attenuation adds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from brooker.phantom.geometry import BoolArray, FloatArray, _Frame, _Window
from brooker.phantom.shapes import _Shape

#: Attenuation coefficients in 1/mm (roughly 60-70 keV effective).
MU_WATER = 0.020
MU_TRAB = 0.032
MU_CORT = 0.060
MU_TITANIUM = 0.28
MU_COCR = 1.2
MU_STEEL = 1.0
MU_LEAD = 4.0


@dataclass
class _Group:
    """Shapes of one bone (combined by max) or of one material class."""

    name: str
    shapes: list[_Shape]
    mu_cort: float = MU_CORT
    mu_trab: float = MU_TRAB
    texture: float = 0.35
    kind: str = "bone"  # bone | metal | gas | soft
    side: str = ""  # "right"/"left" for per-hip truth sets
    role: str = ""  # pelvis | femur | pelvic_spur | femoral_spur | island | bridge | ...

    def bbox(self) -> tuple[float, float, float, float]:
        bb = np.array([s.bbox() for s in self.shapes])
        return (bb[:, 0].min(), bb[:, 1].min(), bb[:, 2].max(), bb[:, 3].max())

    def eval(
        self, u: FloatArray, v: FloatArray, win: _Window | None = None
    ) -> tuple[BoolArray, FloatArray, FloatArray]:
        inside = np.zeros(np.shape(u), bool)
        total = np.zeros(np.shape(u))
        inner = np.zeros(np.shape(u))
        for s in self.shapes:
            if win is None:
                i, t, n = s.fields(u, v, None)
                inside |= i
                np.maximum(total, t, out=total)
                np.maximum(inner, n, out=inner)
                continue
            sw = win.sub(s.bbox())
            if sw is None:
                continue
            sl, sub = sw
            i, t, n = s.fields(u[sl], v[sl], sub)
            inside[sl] |= i
            np.maximum(total[sl], t, out=total[sl])
            np.maximum(inner[sl], n, out=inner[sl])
        return inside, total, inner


@dataclass
class _Scene:
    groups: list[_Group]
    frame: _Frame
    body: Callable[[FloatArray, FloatArray], FloatArray]
    hips: dict[str, dict[str, Any]]
    world_items: list[dict[str, Any]]
    field_hw: tuple[float, float]  # (height, width) mm
    collimation: tuple[float, float, float, float, float] | None = None
