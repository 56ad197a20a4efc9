"""What ``grade`` and ``inspect`` share: their scale options turned into an AnalysisConfig."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from brooker.config import AnalysisConfig


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
    """The analysis options given on the command line; a bad combination is a usage error."""
    from brooker.config import AnalysisConfig
    from brooker.errors import ConfigError

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
        raise typer.BadParameter(exc.message) from None
