"""Small exact replacements for scipy.ndimage calls that cost more than they need to.

Each function here gives, bit for bit, what the scipy call named in its docstring gives (the
tests in ``tests/test_morphology.py`` compare them on random masks); they exist because on a
hip's region of interest (about 1150 x 850 pixels at 0.2 mm) the general-purpose scipy
routine is several times slower than a few whole-array numpy operations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BoolImage = npt.NDArray[np.bool_]


def dilate_cross(mask: npt.ArrayLike, iterations: int = 1) -> BoolImage:
    """``ndi.binary_dilation(mask, iterations=iterations)`` of a 2-D mask.

    scipy's default structure is the 4-connected cross and pixels beyond the border count as
    background (``border_value=0``): one iteration is the mask OR-ed with itself shifted by one
    pixel up, down, left and right. scipy's generic loop takes ~12 ms per iteration on a hip's
    ROI; the four shifted ORs about 1 ms.
    """
    if iterations < 1:
        raise ValueError("iterations must be >= 1 (scipy's 'until stable' is not supported)")
    out = np.array(mask, dtype=np.bool_)  # a copy: the caller's mask is not touched
    if out.ndim != 2:
        raise ValueError(f"mask must be 2-D, got {out.ndim}-D")
    for _ in range(iterations):
        src = out.copy()
        out[1:] |= src[:-1]
        out[:-1] |= src[1:]
        out[:, 1:] |= src[:, :-1]
        out[:, :-1] |= src[:, 1:]
    return out

