"""How the demo writes numbers, on the screen and in the report alike."""

from __future__ import annotations

from typing import Any


def fmt(value: Any) -> str:
    """4 significant digits for floats, an em dash for "no value"."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
