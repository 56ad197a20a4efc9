"""How a caveat or reason is worded where it is shown: below the overlay, the review page and
the command line, which all show the records' notes (a base module: it imports nothing of
brooker's)."""

from __future__ import annotations

import re

_CHECK_THE_OVERLAY = re.compile(r"\s*\(check the overlay\)|;\s*check the overlay(?=\))")


def without_overlay_pointer(text: str) -> str:
    """A caveat or reason without the "(check the overlay)" that sends its reader to the
    overlay: for the overlay's own panel, and for the terminal of a run that drew none.

    >>> without_overlay_pointer("faint (check the overlay)")
    'faint'
    >>> without_overlay_pointer("(a; check the overlay)")
    '(a)'
    """
    return _CHECK_THE_OVERLAY.sub("", text)
