"""The one place where text from outside (file names, header values, messages that quote them)
is made safe for the terminal.

A file name or a DICOM string is untrusted: it can hold rich markup (``[/b]`` made rich raise,
``[bold]x.dcm`` was shown as ``x.dcm``), escape sequences (a name could retitle the terminal or
clear it), other control or bidirectional-override characters, and bytes that are not UTF-8
(surrogate escapes, which a UTF-8 terminal stream cannot encode). Every such string reaches the
terminal through :func:`term` (plain ``str``, for ``typer.echo``) or :func:`plain` (a rich
``Text``, never parsed as markup). The consoles of the command line are also made with
``markup=False`` (:func:`console`), so a string that slipped past is still not markup.
:func:`term` itself lives in :mod:`brooker.safe_text` (examples there), below the command line,
so that the batch passes a decoder's lines on through it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from brooker.safe_text import term as term  # re-exported: the command line's one import

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


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
