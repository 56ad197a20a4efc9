"""brooker: grade heterotopic ossification around the hip on pelvic radiographs (Brooker 0-IV).

The public API is imported lazily so that ``brooker --help`` does not pay for numpy and
scikit-image::

    import brooker
    result = brooker.analyze("pelvis.dcm")
    for hip in result.hips:
        print(hip.patient_side, hip.grade.roman if hip.grade is not None else hip.not_graded)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from brooker._version import __version__

_LAZY = {
    "analyze": "brooker.pipeline",
    "grade_path": "brooker.pipeline",
    "grade_many": "brooker.batch",
    "load_radiograph": "brooker.dicom_io",
    "AnalysisConfig": "brooker.config",
    "BrookerGrade": "brooker.models",
    "CalibrationObject": "brooker.models",
    "ExitCode": "brooker.models",
    "BodyOutline": "brooker.models",
    "Fragment": "brooker.models",
    "FragmentKind": "brooker.models",
    "GapMeasurement": "brooker.models",
    "GradingResult": "brooker.models",
    "HipResult": "brooker.models",
    "ImageSide": "brooker.models",
    "PatientSide": "brooker.models",
    "PixelSpacing": "brooker.models",
    "Radiograph": "brooker.models",
    "SpacingSource": "brooker.models",
    "Status": "brooker.models",
    "errors": "brooker.errors",
    "BrookerError": "brooker.errors",
}

# Spelled out (not built from _LAZY) so that linters see the re-exports below.
__all__ = [
    "AnalysisConfig",
    "BodyOutline",
    "BrookerError",
    "BrookerGrade",
    "CalibrationObject",
    "ExitCode",
    "Fragment",
    "FragmentKind",
    "GapMeasurement",
    "GradingResult",
    "HipResult",
    "ImageSide",
    "PatientSide",
    "PixelSpacing",
    "Radiograph",
    "SpacingSource",
    "Status",
    "__version__",
    "analyze",
    "errors",
    "grade_many",
    "grade_path",
    "load_radiograph",
]

if TYPE_CHECKING:
    from brooker import errors
    from brooker.batch import grade_many
    from brooker.config import AnalysisConfig
    from brooker.dicom_io import load_radiograph
    from brooker.errors import BrookerError
    from brooker.models import (
        BodyOutline,
        BrookerGrade,
        CalibrationObject,
        ExitCode,
        Fragment,
        FragmentKind,
        GapMeasurement,
        GradingResult,
        HipResult,
        ImageSide,
        PatientSide,
        PixelSpacing,
        Radiograph,
        SpacingSource,
        Status,
    )
    from brooker.pipeline import analyze, grade_path


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'brooker' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if name == "errors" else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # The public names are lazy (``__getattr__``): without this, ``dir(brooker)`` and a
    # shell's completion showed the module's own imports (``Any``, ``importlib``) instead.
    return sorted(__all__)
