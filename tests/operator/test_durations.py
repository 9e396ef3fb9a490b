"""Durations: parse what people write in a ModelRollout, format Prometheus ranges."""

from __future__ import annotations

import pytest

from understudy_operator.core import format_duration, parse_duration


def test_every_unit_in_one_duration() -> None:
    assert parse_duration("1h2m3s4ms") == pytest.approx(3723.004)


@pytest.mark.parametrize("text", ["", "30", "1.5s", "-1s", "1d", "s", " 30s", 30, None])
def test_anything_else_is_a_readable_error(text: object) -> None:
    with pytest.raises(ValueError, match="is not a duration: use a number and a unit"):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(7200, "2h"), (5400, "90m"), (90, "90s"), (1, "1s"), (0.001, "1ms"), (60.5, "60500ms")],
)
def test_the_largest_whole_unit_is_used(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("seconds", [0, 0.0004, -30])
def test_a_range_must_be_at_least_a_millisecond(seconds: float) -> None:
    with pytest.raises(ValueError, match="a range duration must be positive"):
        format_duration(seconds)
