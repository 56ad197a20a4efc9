"""Text from outside (file names, header values, a decoder's messages) as one line of plain
text that a terminal shows as it is: below the command line, so that the batch can pass on a
decoder's lines safely too (:mod:`brooker.cli.terminal` is where the command line uses it).

A file name or a DICOM string is untrusted: escape sequences in it could retitle the terminal
or clear it, a newline could forge a line, and bytes that are not UTF-8 (surrogate escapes)
cannot be encoded by a UTF-8 terminal stream.

>>> term("a\\x1b]0;pwned\\x07b.dcm")
'a\\\\x1b]0;pwned\\\\x07b.dcm'
>>> term("x[/b].dcm")
'x[/b].dcm'
>>> term("a_\\udcff.dcm")
'a_\\\\xff.dcm'
"""

from __future__ import annotations

import unicodedata
from typing import Any

#: Unicode categories shown escaped: controls, format characters (bidi overrides, zero-width),
#: surrogates (undecodable bytes of a file name), line and paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (os.fsdecode)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def term(value: Any) -> str:
    """``value`` as one line of plain text that the terminal shows as it is.

    Control characters (including newline, tab and ESC), format characters (bidirectional
    overrides, zero-width joiners), separators and surrogate escapes are shown as
    Python-style escapes (``\\x1b``, ``\\u202e``; an undecodable file-name byte ``0xff`` as
    ``\\xff``). Rich markup is left as text: print the result with markup off, or through
    :func:`plain`.
    """
    text = str(value)
    if text.isprintable() and text.isascii():
        return text
    return "".join(
        _escape(ch) if unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch for ch in text
    )
