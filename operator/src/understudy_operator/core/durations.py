"""Durations as people write them in a ModelRollout: ``"500ms"``, ``"30s"``, ``"2m"``, ``"1h"``.

A duration is one or more ``<integer><unit>`` parts (``"1m30s"``), units ``ms s m h``;
the same subset of Go/Prometheus durations that the CRD's pattern accepts.
"""

from __future__ import annotations

import re

DURATION_PATTERN = r"^([0-9]+(ms|s|m|h))+$"
_PART = re.compile(r"([0-9]+)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ``ValueError`` with a readable message when it is not a duration."""
    if not isinstance(text, str) or not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit, e.g. 500ms, 30s, 2m, 1h or 1m30s"
        )
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """A Prometheus range duration for ``seconds`` (``"30s"``, ``"2m"``, ``"1500ms"``)."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise ValueError(f"a range duration must be positive, got {seconds!r}s")
    if millis % 3_600_000 == 0:
        return f"{millis // 3_600_000}h"
    if millis % 60_000 == 0:
        return f"{millis // 60_000}m"
    if millis % 1000 == 0:
        return f"{millis // 1000}s"
    return f"{millis}ms"
