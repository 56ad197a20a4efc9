"""How a caveat or reason is worded where it is shown: below the overlay, the review page and
the command line, which all show the records' notes (a base module: it imports only
:mod:`brooker.errors`)."""

from __future__ import annotations

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
