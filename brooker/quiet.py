"""The decoders' warnings silenced while a file is read, without touching a caller's own filters.

Pydicom, its plugins and Pillow warn about odd files (a VR that does not match, a
decompression bomb's size); the loader says what matters in the record, so their warnings
are silenced while a file is read. ``warnings.catch_warnings`` does that by saving the
filter list on entry and putting it back on exit, which is not safe when threads overlap
(Python 3.11-3.13): a thread pool calling ``brooker.analyze`` left an "ignore every warning"
filter in place for good (a user's test of 2026-12-07), and the calling program's own
warnings were dropped from then on. Here the first thread in adds one "ignore" filter and
the last one out removes it; whatever else changed the list meanwhile stays. The filter is
marked (its message pattern is this module's own object), and every marked filter is taken
out at both ends: a caller's own ``catch_warnings`` that begins during a load and ends after
it puts back the list it saved, with the filter in it, which the next load then removes.
While a file is being read, warnings from other threads are silenced too, as before.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Iterator
from typing import Any, cast

_LOCK = threading.Lock()
_depth = 0
#: The message pattern of this module's filter (it matches every message): the mark by which
#: its filter is found again, never a caller's own "ignore" filter.
_MARK: re.Pattern[str] = re.compile("")


def _filters() -> list[Any]:
    """``warnings.filters``, the list itself (typeshed says a Sequence)."""
    return cast(list[Any], warnings.filters)


def _mutated() -> None:
    """Tell the warnings module its filters changed, as ``catch_warnings`` does (it caches
    what it decided per warning; Python 3.11-3.13 name the call ``_filters_mutated``)."""
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:
        mutated()


def _take_out_ours() -> None:
    filters = _filters()
    kept = [f for f in filters if not (isinstance(f, tuple) and len(f) > 1 and f[1] is _MARK)]
    if len(kept) != len(filters):
        filters[:] = kept
        _mutated()


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    """Silence warnings while the block runs, safely when threads overlap.

    >>> import warnings
    >>> before = list(warnings.filters)
    >>> with quiet_warnings():
    ...     warnings.warn("not shown")
    >>> warnings.filters == before
    True
    """
    global _depth
    with _LOCK:
        if _depth == 0:
            _take_out_ours()  # one a caller's catch_warnings put back
            _filters().insert(0, ("ignore", _MARK, Warning, None, 0))
            _mutated()
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0:
                _take_out_ours()
