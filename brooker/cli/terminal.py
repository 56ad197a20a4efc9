"""The one place where text from outside (file names, header values, messages that quote them)
is made safe for the terminal.

A file name or a DICOM string is untrusted: it can hold rich markup (``[/b]`` made rich raise,
``[bold]x.dcm`` was shown as ``x.dcm``), escape sequences (a name could retitle the terminal or
clear it), other control or bidirectional-override characters, and bytes that are not UTF-8
(surrogate escapes, which a UTF-8 terminal stream cannot encode). Every such string reaches the
terminal through :func:`term` (plain ``str``, for ``typer.echo``) or :func:`plain` (a rich
``Text``, never parsed as markup). The consoles of the command line are also made with
``markup=False`` (:func:`console`), so a string that slipped past is still not markup.

>>> term("a\\x1b]0;pwned\\x07b.dcm")
'a\\\\x1b]0;pwned\\\\x07b.dcm'
>>> term("x[/b].dcm")
'x[/b].dcm'
>>> term("a_\\udcff.dcm")
'a_\\\\xff.dcm'
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

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


def plain(value: Any, style: str = "") -> Text:
    """``value`` through :func:`term` as a rich ``Text`` (styled, never parsed as markup)."""
    from rich.text import Text

    return Text(term(value), style=style)


def console(**kwargs: Any) -> Console:
    """A rich console that never interprets markup or highlights (see the module docstring)."""
    from rich.console import Console

    kwargs.setdefault("highlight", False)
    kwargs.setdefault("markup", False)
    kwargs.setdefault("emoji", False)
    return Console(**kwargs)
