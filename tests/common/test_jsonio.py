"""jsonio: orjson's speed, json's answers. Each case here is one where orjson alone answers
differently from json; the tests fail if the rule that hands it to json is removed."""

import dataclasses
import datetime
import enum
import json
import math
import random
import struct

import orjson
import pytest
from pythonjsonlogger.json import JsonEncoder

from understudy_common import jsonio


def _same(a: object, b: object) -> bool:
    """Equal values of the same types all the way down (NaN equal to NaN, 0.0 not -0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        assert isinstance(b, float)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


# Bodies orjson reads differently or refuses, and json reads; and plain ones.
READ = [
    b'{"records": [{"a": 1, "b": 2.5, "c": "x", "d": null, "e": true}]}',
    b"18446744073709551616",  # beyond 64 bits: orjson gives a float
    b"-9223372036854775809",  # beyond int64: orjson gives a float
    b'{"x": 123456789012345678901234567890}',
    b"9223372036854775808",  # uint64: both an int
    b'{"x": NaN, "y": Infinity, "z": -Infinity}',  # orjson refuses
    b"1e400",  # orjson refuses; json: inf
    b"-1.7976931348623157e309",
    b'"\\ud800"',  # a lone surrogate: orjson refuses
    b"\xef\xbb\xbf{}",  # a byte-order mark: orjson refuses
    '{"a": "\u00e9"}'.encode("utf-16"),  # json reads UTF-16
    b'{"a": 1, "b": 2, "a": 3}',  # the last of duplicate keys, in the first one's place
    b"-0.0",
    b"4.9e-324",
    b"0." + b"1" * 400,
]


@pytest.mark.parametrize("data", READ)
def test_loads_gives_json_value_and_type(data):
    assert _same(jsonio.loads(data), json.loads(data))


def test_the_cases_are_ones_orjson_alone_gets_wrong():
    """Guards the corpus above: at least the big integers, NaN and encodings need json."""
    differ = 0
    for data in READ:
        try:
            differ += not _same(orjson.loads(data), json.loads(data))
        except orjson.JSONDecodeError:
            differ += 1
    assert differ >= 9


def test_loads_random_floats_as_json_does():
    rng = random.Random(7)
    for _ in range(20_000):
        (x,) = struct.unpack("d", rng.randbytes(8))
        if math.isfinite(x):
            for text in (repr(x), f"{x:.17e}", f"{x:.3f}"):
                assert _same(jsonio.loads(text.encode()), json.loads(text))


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b'{"a": 1,}', b"[1 2]", b'"\x00"', b"\xff\xfe\xfd", b"nul", b"{} {}", b"[" * 5000],
)
def test_loads_raises_json_error_with_json_message(data):
    with pytest.raises((ValueError, RecursionError)) as expected:
        json.loads(data)
    with pytest.raises(type(expected.value)) as got:
        jsonio.loads(data)
    assert str(got.value) == str(expected.value)


def test_loads_passes_hooks_to_json():
    # Only json reads a 19-digit run, so the hook sees every such literal.
    seen: list[str] = []

    def hook(literal: str) -> int:
        seen.append(literal)
        return int(literal)

    jsonio.loads(b"[1234567890123456789, 5]", parse_int=hook)
    assert seen == ["1234567890123456789", "5"]


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


COMPACT = JsonEncoder(ensure_ascii=True, separators=(",", ":"))

WRITE = [
    {"message": "plain", "n": 1, "f": 0.1, "list": [1, 2.5, None, True], "nested": {"a": []}},
    {"inputs": [{"Lot_Area": 8450, "Neighborhood": "CollgCr", "tiny": 1e-05, "big": 1e16}]},
    {"unicode": "caf\u00e9 \u2603", "surrogate": "\ud800"},  # json escapes: ASCII out
    {"bigint": 2**70},  # orjson refuses
    {1: "int key"},  # orjson refuses
    {"when": datetime.datetime(2026, 12, 3, 17, 0, 1, 5000, tzinfo=datetime.UTC)},
    {"day": datetime.date(2026, 12, 3), "colour": Colour.RED, "point": Point(3)},
    {"error": ValueError("boom"), "kind": int},
]


@pytest.mark.parametrize("value", WRITE)
def test_ascii_encoder_writes_what_json_writes(value):
    text = jsonio.AsciiEncoder(JsonEncoder).encode(value)
    assert text.isascii()
    # The same JSON; its text too, but for how a float is spelled (orjson: 0.00001,
    # json: 1e-05, both the same double).
    assert _same(json.loads(text), json.loads(COMPACT.encode(value)))
    if "tiny" not in text:
        assert text == COMPACT.encode(value)


def test_ascii_encoder_writes_nan_as_null():
    # The one difference, on purpose: json's NaN is not JSON.
    text = jsonio.AsciiEncoder().encode({"x": float("nan"), "y": [float("inf")]})
    assert json.loads(text) == {"x": None, "y": [None]}


def test_ascii_encoder_raises_where_json_raises():
    with pytest.raises(TypeError):
        jsonio.AsciiEncoder().encode({"x": object()})


@pytest.mark.parametrize(
    ("data", "long_run"),
    [
        (b"123456789012345678", False),  # 18 digits: within int64, orjson reads it exactly
        (b"1234567890123456789", True),
        (b'{"a": 123456789.0123456789}', False),  # runs of 9 and 10
        (b'{"a": 1, "b": "x1234567890123456789"}', True),  # in a string too: json reads it
        (b"", False),
    ],
)
def test_a_run_of_19_digits_sends_the_body_to_json(data, long_run):
    assert jsonio._has_long_digit_run(data) is long_run
