"""Physical constants of the Brooker classification and of the input images, the bound of a
weak call, and the one rule that keeps a shown number on its side of such a bound
(:func:`rounded_on_its_side`: a gap and its class, a probability and its weak call). No other
logic here."""

import math
from typing import Final

#: Brooker 1973: class II leaves "at least 1 cm" between opposing bone surfaces; class III
#: "less than 1 cm". Exactly 10.0 mm is class II.
BROOKER_GAP_THRESHOLD_MM: Final = 10.0

#: A class I-IV whose strongest deciding fragment the learned fragment judge keeps with a
#: probability under this is a weak call (:func:`brooker.grading.call_probability`, where the
#: held-out figures behind it are).
WEAK_CALL_PROBABILITY: Final = 0.7


def shown_gap_mm(
    gap_mm: float, decimals: int, threshold_mm: float = BROOKER_GAP_THRESHOLD_MM
) -> float:
    """``gap_mm`` rounded to ``decimals`` for a record or a label, never across the class II/III
    boundary ``threshold_mm`` (Brooker's 10 mm unless a hip was graded on another): a class III
    gap of 9.996 mm is shown as 9.99 (9.9 at one decimal), not as 10.0, which would read as
    class II beside "Brooker III". A gap at or above the boundary is shown at or above it (with
    10 mm, ordinary rounding already does; a boundary of 10.04 mm would round 10.041 down to
    10.0 at one decimal, and it is shown as 10.1). A gap above 0 is never shown as 0, a
    bridge's gap (a research engineer's finding: 0.004 mm read ``0.0``, as a class IV does):
    it is shown as the smallest step at this precision, while that stays under the boundary."""
    shown = rounded_on_its_side(gap_mm, decimals, threshold_mm)
    step = 10.0**-decimals
    if gap_mm > 0 and shown == 0 and step < threshold_mm:
        return step
    return shown


def rounded_on_its_side(value: float, decimals: int, bound: float) -> float:
    """``value`` rounded to ``decimals``, but never across ``bound``: what is under it is shown
    under it, what is at or above it at or above it (:func:`shown_gap_mm`; a judge's
    probability of 0.6996 beside a weak call, under 0.7, is 0.699 at three decimals and 0.69 at
    two, not 0.7)."""
    shown = round(value, decimals)
    if (value < bound) is (shown < bound):
        return shown
    # the smallest value at this precision at or above the boundary (the division may land a
    # step either side of it in binary)
    step = 10.0**-decimals
    up = round(math.ceil(bound / step) * step, decimals)
    while up < bound:
        up = round(up + step, decimals)
    while round(up - step, decimals) >= bound:
        up = round(up - step, decimals)
    return up if value >= bound else round(up - step, decimals)


def label_gap_mm(gap_mm: float, threshold_mm: float = BROOKER_GAP_THRESHOLD_MM) -> float:
    """The one-decimal gap every label shows (terminal, review page, overlay): the record's
    two-decimal ``gap_mm`` rounded again, never across the boundary. The terminal and the page
    read the record, the overlay the exact value: rounding the exact value once would show
    2.449 mm as 2.4 on the overlay and (via the record's 2.45) 2.5 beside it."""
    return shown_gap_mm(shown_gap_mm(gap_mm, 2, threshold_mm), 1, threshold_mm)


#: Largest image the loader will decode, in megapixels (a 43 cm plate at 0.1 mm is ~18 MP).
MAX_MEGAPIXELS: Final = 120.0

#: Largest pixel magnitude the loaders accept: finite values near float32's limit (3.4e38, a
#: float TIFF or a huge Rescale Slope) overflow to infinity when a few are summed, and the
#: analysis then fails on NaN; below this bound a sum over every pixel of a film of
#: :data:`MAX_MEGAPIXELS` stays finite. No radiograph's values come near it.
MAX_PIXEL_MAGNITUDE: Final = 1e30

#: Typical femoral head diameters (native 40-55 mm; prosthetic 22-36 mm).
NATIVE_HEAD_DIAMETER_MM: Final = (38.0, 58.0)
PROSTHETIC_HEAD_DIAMETER_MM: Final = (22.0, 40.0)

#: Typical AP pelvis magnification at the hip.
TYPICAL_MAGNIFICATION: Final = (1.10, 1.25)

#: Smallest image side the loader accepts, in pixels (a hip needs far more; 1 x 1, 2 x 2 or a
#: single row are corrupt headers).
MIN_IMAGE_SIDE_PX: Final = 32

#: Smallest physical side of a film the analysis accepts, mm: below it the 1 mm analysis grid
#: has almost no pixels (a hip needs a field of about 100 mm; films from 10 to 100 mm are
#: ``ungradable``, smaller ones ``image_too_small``).
MIN_FIELD_SIDE_MM: Final = 10.0

#: Physical range of a projection radiograph's pixel spacing at the patient or the detector, mm
#: (mammography and fine CR plates 0.025-0.05; DX 0.1-0.2; a 43 cm plate stored at 430 pixels
#: is 1 mm). Outside it the value is a unit or header error (``implausible_spacing``).
PLAUSIBLE_SPACING_MM: Final = (0.02, 1.0)

#: Largest physical side of a film, mm: a 43 cm plate, or a stitched long-leg view of about
#: 1.3 m. A film "larger" than this has a spacing that is too large (a unit error). With the
#: spacing range above it bounds the 1 mm analysis grid at 1.5 m x 1.5 m (2.25 MP) and, with
#: :data:`MAX_MEGAPIXELS`, every working array of one film.
MAX_FIELD_MM: Final = 1500.0

#: (0002,0002) Media Storage SOP Class UID of a DICOMDIR (Media Storage Directory Storage,
#: PS3.4 Annex F): the index of a DICOM media folder, never an image.
DICOMDIR_SOP_CLASS: Final = "1.2.840.10008.1.3.10"
