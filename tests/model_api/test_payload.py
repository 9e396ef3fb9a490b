"""parse_json skips its integer hook only where the hook cannot change the answer."""

from __future__ import annotations

import json
import math

import pytest

from understudy_model_api.payload import _parse_int, parse_json


def _with_hook(body: bytes) -> object:
    return json.loads(body, parse_int=_parse_int)


@pytest.mark.parametrize(
    "body",
    [
        b'{"records": [{"a": 1, "b": -2, "c": 1.5e3}]}',  # few digits: the plain parse
        b'{"records": [{"a": ' + b"9" * 309 + b"}]}",  # the longest finite literal
        b'{"records": [{"a": ' + b"9" * 310 + b"}]}",  # one more: infinity
        b'{"records": [{"a": -' + b"9" * 400 + b"}]}",
        b'{"records": [' + b", ".join([b"12345"] * 80) + b"]}",  # many digits, short runs
        '{"records": [{"a": 1}]}'.encode("utf-16"),  # json reads UTF-16 too
        ('{"records": [{"a": ' + "9" * 320 + "}]}").encode("utf-16-le"),
        ('{"records": [{"a": ' + "9" * 320 + "}]}").encode("utf-32"),
    ],
)
def test_the_same_document_as_with_the_hook(body: bytes) -> None:
    assert repr(parse_json(body)) == repr(_with_hook(body))


def test_a_too_long_integer_is_infinity_in_every_encoding() -> None:
    for encoding in ("utf-8", "utf-16", "utf-32"):
        document = parse_json(('{"a": -' + "9" * 310 + "}").encode(encoding))
        assert document == {"a": -math.inf}, encoding
