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


def format_estimate(value: object, lower: object = None, upper: object = None) -> str:
    """A value with its confidence interval when it has one: ``0.871 [0.85, 0.89]``; an
    open end reads ``inf`` (the key is absent from a status when the bound is infinite)."""
    if lower is None and upper is None:
        return format_number(value)
    low = format_number(lower, missing="-inf")
    high = format_number(upper, missing="inf")
    return f"{format_number(value)} [{low}, {high}]"
