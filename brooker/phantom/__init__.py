"""Synthetic AP pelvis radiographs with known per-hip Brooker class and gap.

The generator draws anatomy from analytic shapes in millimetres at the patient plane
(iliac wings, sacrum, L5, pubic rami and ischium around the obturator foramina, acetabular
roof, femoral heads, necks, trochanters and shafts), optional total hip prostheses, and
heterotopic bone (islands, pelvic and femoral spurs, bridges) whose edge-to-edge gap is set to
a target and then *measured* on the same shapes at a fine resolution.

Rendering is a line-integral model: every structure contributes a projected path length
(chord through an ellipsoid, tube or plate, with a denser cortical shell); within one bone the
parts are combined by maximum, across bones (and soft tissue, gas, metal) attenuation adds.
The detector turns ``exp(-A)`` into photon counts with a heel-effect gradient, scatter,
blur and quantum noise, takes the log (bone bright), applies optional edge enhancement and a
random monotone tone curve, and quantises to 10-16 bits stored.

Coordinates: the anatomy lives in a *local* frame ``(u, v)`` in mm (``u`` towards the image
right, ``v`` down, origin between the hips at the level of the hip centres); a small in-plane
rotation and a shift place it on the image. Pixel ``(row, col)`` has its centre at
``(row * row_mm, col * col_mm)`` in world mm. Unflipped films show the patient's right hip on
the image left (``(0020,0020) Patient Orientation`` ``L\\F``).

Everything is deterministic by ``PhantomSpec.seed``; independent random streams are used for
anatomy, heterotopic bone, hard negatives and the detector, so changing the noise level does
not move a bone.

Public API: :class:`HipSpec`, :class:`PhantomSpec`, :class:`Phantom`, :func:`render`,
:func:`random_spec`, :func:`write`, :func:`make_dataset`, :func:`make_samples`, :func:`main`.

The package is a development tool (tests, samples, benchmarks); nothing on the grading path
imports it. Its modules, by concern:

``specs``
    :class:`HipSpec`, :class:`PhantomSpec`, :class:`Phantom`, the seeded random streams,
    :func:`random_spec`, :func:`dataset_spec`, :func:`sample_specs`.
``geometry``, ``shapes``, ``scene``
    Frames and pixel grids; the solids (ellipsoid blobs, tubes, plates); materials and the
    groups of shapes a scene is made of.
``anatomy``, ``implants``, ``heterotopic``, ``negatives``, ``other_bodies``
    What is drawn: native pelvis and femora, prostheses, heterotopic bone grown to a target
    gap, hard negatives, and the knee and chest films without a hip.
``gap``
    The truth gap, measured on the drawn shapes on a fine grid and refined to sub-pixel.
``pelvis``
    The AP pelvis scene put together from those.
``render``, ``detector``, ``marks``, ``truth``
    Line integrals; the detector and the film's processing; marker letters and burned-in
    text; the truth record.
``output``, ``cli``
    DICOM files (through :mod:`brooker.phantom_dicom`), datasets, the sample folder, previews,
    and ``python -m brooker.phantom``.
"""

from __future__ import annotations

from brooker.phantom.cli import main
from brooker.phantom.marks import _letter_mask
from brooker.phantom.output import dicom_variant, make_dataset, make_samples, preview_png, write
from brooker.phantom.render import render
from brooker.phantom.scene import (
    MU_COCR,
    MU_CORT,
    MU_LEAD,
    MU_STEEL,
    MU_TITANIUM,
    MU_TRAB,
    MU_WATER,
)
from brooker.phantom.specs import (
    BODIES,
    SPACING_TAGS,
    SPURS,
    HipSpec,
    Phantom,
    PhantomSpec,
    dataset_spec,
    random_hip,
    random_spec,
    sample_specs,
)

__all__ = [
    "BODIES",
    "MU_COCR",
    "MU_CORT",
    "MU_LEAD",
    "MU_STEEL",
    "MU_TITANIUM",
    "MU_TRAB",
    "MU_WATER",
    "SPACING_TAGS",
    "SPURS",
    "HipSpec",
    "Phantom",
    "PhantomSpec",
    "_letter_mask",
    "dataset_spec",
    "dicom_variant",
    "main",
    "make_dataset",
    "make_samples",
    "preview_png",
    "random_hip",
    "random_spec",
    "render",
    "sample_specs",
    "write",
]
