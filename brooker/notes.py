"""How a caveat or reason is worded where it is shown: below the overlay, the review page and
the command line, which all show the records' notes (a base module: it imports only
:mod:`brooker.errors`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from brooker.errors import path_named

_CHECK_THE_OVERLAY = re.compile(
    r"\s*\(check the overlay\)|[;,:]?\s*(?:or )?check the overlay(?=\))"
)


def why_not_graded(rec: Mapping[str, Any], code: bool = True) -> str:
    """Why a film that is not ``ok`` was not graded: its reason, or its error's message and
    (with ``code``) code; the message without the file's name it begins with (the batch
    table's row, the summary's line and the review page's card name the file, and the same
    error of many files is then one note).

    >>> rec = {"file": "a.dcm", "status": "error",
    ...        "error": {"code": "not_dicom", "message": "a.dcm: not a DICOM file"}}
    >>> why_not_graded(rec), why_not_graded(rec, code=False)
    ('not a DICOM file [not_dicom]', 'not a DICOM file')
    """
    if rec.get("reason"):
        return str(rec["reason"])
    error = rec.get("error") or {}
    message = str(error.get("message") or "")
    message = message.removeprefix(f"{path_named(str(rec.get('file', '')))}: ")
    return f"{message} [{error['code']}]" if code and error.get("code") else message


def without_overlay_pointer(text: str) -> str:
    """A caveat or reason without the "(check the overlay)" that sends its reader to the
    overlay: for the overlay's own panel, and for the terminal of a run that drew none.

    >>> without_overlay_pointer("faint (check the overlay)")
    'faint'
    >>> [without_overlay_pointer(f"(a{c} check the overlay)") for c in ";,:"]
    ['(a)', '(a)', '(a)']
    >>> without_overlay_pointer("(grade it as presented, or check the overlay)")
    '(grade it as presented)'
    """
    return _CHECK_THE_OVERLAY.sub("", text)


def not_graded_in_few_words(reason: str) -> str | None:
    """Why a hip found was not graded (``HipResult.not_graded``), in a few words for its
    label on the overlay ("hip found, not graded" alone sent the reader to a panel of notes
    to learn why: a radiologist's test of 2026-12-08); None for a reason it does not know.
    What the tool could not see, never a finding: "HO seen" (then "possible HO") stood on
    hips labelled free of it, over a sliver the judge kept (a second look the same day).

    >>> not_graded_in_few_words("a spur or bridge was seen, but the femur is not segmented "
    ...     "as bone up to the greater trochanter (no femur body was found): ...")
    'femur not segmented'
    >>> not_graded_in_few_words("a spur or bridge was seen, but the femoral head is not "
    ...     "segmented as bone on this film: the bone threshold lies above ...")
    'femoral head not segmented'
    >>> not_graded_in_few_words("a spur was found but no opposing bone to measure its gap "
    ...     "to: class II or III is not known (check the overlay)")
    'no opposing bone for the spur'
    >>> not_graded_in_few_words("the acetabular roof is outside the film: heterotopic bone "
    ...     "cannot be told from normal bone here")
    'acetabular roof outside the film'
    """
    if reason.startswith("a spur or bridge was seen, but the femur is not segmented"):
        return "femur not segmented"
    m = re.match(r"a spur or bridge was seen, but (.+?): ", reason)
    if m:
        return unseen_in_few_words(m.group(1))
    if reason.startswith("a spur was found but no opposing bone"):
        return "no opposing bone for the spur"
    if reason.startswith("metal lies over the femoral head"):
        return "metal over the femoral head"
    m = re.match(r"the (.+?) (?:is|are) outside the film", reason)
    return f"{m.group(1)} outside the film" if m else None


def unseen_in_few_words(unseen: str) -> str:
    """What a film's levels do not show as bone (``HipJoint.anatomy_unseen``), in a few words.

    >>> unseen_in_few_words("the femoral neck and shaft are not segmented as bone on this film")
    'femoral neck and shaft not segmented'
    """
    m = re.fullmatch(r"the (.+?) (?:is|are) not segmented as bone on this film", unseen)
    return f"{m.group(1)} not segmented" if m else unseen


def _shift(mm: Any) -> str | None:
    """How far the centres were moved (a hip's ``center_uncertainty_mm``), as written; None
    when a record does not say (it is never guessed)."""
    try:
        value = float(mm)
    except (TypeError, ValueError):
        return None
    return f"{value:g}" if math.isfinite(value) and value > 0 else None


def class_range_words(lo: str, hi: str, shift_mm: Any) -> str:
    """A hip's classes about the centres it was graded about (its ``class_range``), as the
    overlay, the terminal and the review page tag it: "0 to IV about nearby centres" read as
    pipeline talk, and a reader did not learn how near (a radiologist's test of 2026-12-08);
    not "±2 mm", which read as the centre's error (a median 6 mm: its caveat says so).

    >>> class_range_words("0", "IV", 2.0), class_range_words("0", "IV", None)
    ('0 to IV if centre moved 2 mm', '0 to IV about nearby centres')
    """
    shift = _shift(shift_mm)
    how = "about nearby centres" if shift is None else f"if centre moved {shift} mm"
    return f"{lo} to {hi} {how}"


def centres_graded_words(graded: int, tried: int, shift_mm: Any) -> str:
    """A hip graded about only some of the centres tried (its ``centres_graded``), as the
    overlay, the terminal and the review page tag it.

    >>> centres_graded_words(1, 5, 2.0), centres_graded_words(1, 5, float("inf"))
    ('graded at 1 of 5 centres 2 mm apart', 'graded at 1 of 5 nearby centres')
    """
    shift = _shift(shift_mm)
    where = "nearby centres" if shift is None else f"centres {shift} mm apart"
    return f"graded at {graded} of {tried} {where}"


#: After a gap's length, where its femoral end was found on the femoral or prosthetic head
#: (a record's ``gap_to_head``), as the overlay, the terminal and the review page write it.
GAP_TO_HEAD_WORDS = "to head region"


def gap_end_words(to_head: Any) -> str:
    """What follows a gap's length: " to head region" for a gap measured to the head (a
    record's ``gap_to_head``), else nothing.

    >>> "gap 9.9 mm" + gap_end_words(True), "gap 9.9 mm" + gap_end_words(None)
    ('gap 9.9 mm to head region', 'gap 9.9 mm')
    """
    return f" {GAP_TO_HEAD_WORDS}" if to_head else ""
