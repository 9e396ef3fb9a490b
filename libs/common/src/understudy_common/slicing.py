"""The one rule for a slice field's name: the router's routing config (``slice_field``) and
the operator's spec (``analysis.slices.field``) both check names with it, so a name the
operator accepts is never a document the router rejects.

The name becomes the ``slice_by`` label value of the router's paired counters, beside the
slices the router always exports (``all``, ``prediction``), so those two are reserved.
"""

from __future__ import annotations

import re

# slice_by values the router uses for every record (understudy_router.slices).
RESERVED_SLICE_BY = ("all", "prediction")
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def slice_field_problem(name: str) -> str | None:
    """Why ``name`` cannot be a slice field (a readable sentence), or None if it can."""
    if not _NAME.fullmatch(name):
        return (
            "must be 1-64 letters, digits, '_', '.' or '-' (a record field name), "
            f"got {name[:80]!r}"
        )
    if name in RESERVED_SLICE_BY:
        return (
            f"{name!r} is a slice the router always exports (slice_by={name!r}); "
            "name a record field other than " + " or ".join(RESERVED_SLICE_BY)
        )
    return None
