"""What ``grade`` and ``inspect`` share: their scale options turned into an AnalysisConfig."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from brooker.safe_text import term

if TYPE_CHECKING:
    from brooker.config import AnalysisConfig


#: Said of an empty path argument or option (`--out "$OUT"` with OUT unset).
EMPTY_PATH = "an empty path names no file or folder"


def path_parser(*, dir_okay: bool = True, file_okay: bool = True) -> Callable[[str], Path]:
    """The parser of a path argument or option: an empty one is a usage error (``Path("")`` is
    the working folder: ``--out "$OUT"`` with OUT unset would write the run there, ``report
    "$RUN"`` read it), and, like click's ``Path`` type, a folder where a file is asked for
    (``dir_okay=False``) or a file where a folder is (``file_okay=False``)."""

    def parse(value: str) -> Path:
        if value == "":
            raise typer.BadParameter(EMPTY_PATH)
        path = Path(value)
        if not dir_okay and path.is_dir():
            raise typer.BadParameter(f"file '{term(value)}' is a directory.")
        if not file_okay and path.exists() and not path.is_dir():
            raise typer.BadParameter(f"dir '{term(value)}' is a file.")
        return path

    return parse


def parse_spacing(text: str | None) -> tuple[float, float] | None:
    """``--pixel-spacing``: ``ROW,COL`` in mm (a backslash, as in the DICOM tag, also parts
    them), or one value for square pixels; anything else is a usage error."""
    if text is None:
        return None
    parts = [p.strip() for p in text.replace("\\", ",").split(",")]
    try:
        if len(parts) == 1:
            parts = parts * 2
        if len(parts) != 2:
            raise ValueError
        row, col = (float(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(
            f"expected ROW,COL in mm (e.g. 0.14,0.14), got {text!r}", param_hint="--pixel-spacing"
        ) from None
    if not all(math.isfinite(v) and v > 0 for v in (row, col)):
        raise typer.BadParameter(
            f"spacing must be positive finite mm, got {text!r}", param_hint="--pixel-spacing"
        )
    from brooker.spacing import implausible_spacing_reason

    # no film has it (a unit slip: 140 for 0.140): one usage error, not an error per file.
    # Whether it makes a given film larger than any detector depends on the film, so that is
    # still checked per file.
    why = implausible_spacing_reason(row, col)
    if why is not None:
        raise typer.BadParameter(f"{row:g} x {col:g} mm {why}", param_hint="--pixel-spacing")
    return row, col


def analysis_config(
    *,
    spacing: tuple[float, float] | None,
    magnification: float | None,
    ball_mm: float | None,
    head_mm: float | None,
    estimate_spacing: bool,
    flipped: bool,
    judges: str | None = None,
) -> AnalysisConfig:
    """The analysis options given on the command line; a bad combination is a usage error.

    ``--estimate-spacing`` with a scale that every film gets (``--pixel-spacing``,
    ``--ball-mm``, ``--head-mm``) would never estimate anything: a usage error here, though
    :class:`~brooker.config.AnalysisConfig` takes both (the estimate only fills a missing
    spacing)."""
    from brooker.config import AnalysisConfig
    from brooker.errors import ConfigError

    if estimate_spacing:
        given = [
            name
            for name, v in (
                ("--pixel-spacing", spacing),
                ("--ball-mm", ball_mm),
                ("--head-mm", head_mm),
            )
            if v is not None
        ]
        if given:
            raise typer.BadParameter(
                f"nothing left to estimate: {given[0]} gives every film its scale",
                param_hint="--estimate-spacing",
            )

    try:
        return AnalysisConfig(
            pixel_spacing=spacing,
            magnification=magnification,
            ball_mm=ball_mm,
            head_mm=head_mm,
            estimate_spacing=estimate_spacing,
            flipped=True if flipped else None,
            judges=judges,
        )
    except ConfigError as exc:
        message, option = _as_option(exc.message)
        raise typer.BadParameter(message, param_hint=option) from None


#: The :class:`~brooker.config.AnalysisConfig` fields the command line sets, by their options.
_OPTION_OF_FIELD = {
    "pixel_spacing": "--pixel-spacing",
    "magnification": "--magnification",
    "ball_mm": "--ball-mm",
    "head_mm": "--head-mm",
}


def _as_option(message: str) -> tuple[str, str | None]:
    """A config error about one field, told of the option the user typed: "ball_mm must be a
    diameter between 5 and 80 mm, got -3.0" was the message of ``--ball-mm -3`` (the field's
    name is the Python API's; on the command line it read as a name never given).

    >>> _as_option("ball_mm must be a diameter between 5 and 80 mm, got -3.0")
    ('must be a diameter between 5 and 80 mm, got -3.0', '--ball-mm')
    >>> _as_option("give one scale source, not ball diameter and head diameter")
    ('give one scale source, not ball diameter and head diameter', None)
    """
    field, _, rest = message.partition(" ")
    option = _OPTION_OF_FIELD.get(field)
    if option is None:
        return message, None
    return rest, option  # typer writes "Invalid value for --ball-mm: must be ..."
