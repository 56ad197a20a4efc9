"""The decoders' warnings silenced while a file is read, without touching a caller's own filters.

Pydicom, its plugins and Pillow warn about odd files (a VR that does not match, a
decompression bomb's size); the loader says what matters in the record, so their warnings
are silenced while a file is read. ``warnings.catch_warnings`` does that by saving the
filter list on entry and putting it back on exit, which is not safe when threads overlap
(Python 3.11-3.13): a thread pool calling ``brooker.analyze`` left an "ignore every warning"
filter in place for good (a user's test of 2026-12-07), and the calling program's own
warnings were dropped from then on. Here the first thread in adds one "ignore" filter and
the last one out removes that very filter; whatever else changed the list meanwhile stays.
While a file is being read, warnings from other threads are silenced too, as before.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator
from typing import Any, cast

_LOCK = threading.Lock()
_depth = 0
#: The filter this module put first in ``warnings.filters``, while it is there (found again by
#: identity: a caller's own equal filter is never the one taken out).
_ours: tuple[object, ...] | None = None


def _filters() -> list[Any]:
    """``warnings.filters``, the list itself (typeshed says a Sequence)."""
    return cast(list[Any], warnings.filters)


def _mutated() -> None:
    """Tell the warnings module its filters changed, as ``catch_warnings`` does (it caches
    what it decided per warning)."""
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:
        mutated()


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
    global _depth, _ours
    with _LOCK:
        if _depth == 0:
            _ours = ("ignore", None, Warning, None, 0)  # a new tuple: its own identity
            _filters().insert(0, _ours)
            _mutated()
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0:
                filters = _filters()
                for k, entry in enumerate(filters):
                    if entry is _ours:
                        del filters[k]
                        _mutated()
                        break
                _ours = None
