"""How Understudy writes numbers for people: status messages, events, the demo's table and
report, the kubectl views. One rule, so a value reads the same everywhere."""

from __future__ import annotations

# Absent values ("no data") read as this unless a caller asks for another mark.
MISSING = "-"


def format_number(value: object, *, missing: str = MISSING) -> str:
    """Floats to 4 significant digits (``0.8288``, ``1.018``, ``1.234e+05``), ``missing``
    for None, anything else as ``str``."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
