"""JSON on the request paths: orjson where its answer is the standard library's, the
standard library wherever it would not be.

orjson (Apache-2.0 or MIT) reads a one-record body about 3x and writes a log line with
its inputs about 7x faster than ``json`` (bench/README.md, "JSON through orjson"). Where
the two differ, ``json``'s behaviour is the contract - the bad-input tests pin its
values and error messages, the log pipeline reads its lines - so each function below
hands ``json`` every case orjson would answer differently
(tests/common/test_jsonio.py holds the pairs equal).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

# orjson reads an integer literal beyond 64 bits as a float; json keeps it exact. Such a
# literal has at least 19 digits in a row; so may a long decimal, which json then reads,
# the same. Found by mapping every digit to "0" and every other byte to " " (bytes.translate,
# C) and looking for 19 zeros: ~1 µs for a one-record body, where a regular expression
# ([0-9]{19}) took 15 µs, more than json's whole parse.
_DIGIT_MAP = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * 19


def _has_long_digit_run(data: bytes) -> bool:
    return _LONG_RUN in data.translate(_DIGIT_MAP)


def loads(data: bytes, **json_options: Any) -> Any:
    """``json.loads(data, **json_options)``: its value, or its error.

    orjson reads first unless a run of 19 digits is in ``data`` (above). What orjson
    refuses, json reads again, giving json's value or json's error message: the literals
    NaN and Infinity and numbers beyond a float (json: nan and infinities), lone
    surrogates, a byte-order mark, UTF-16 and -32, nesting deeper than 1,024 (json's own
    limit then decides), and anything malformed. ``json_options`` (``parse_int`` ...)
    apply only to json's reading: orjson's values are the ones json gives without hooks,
    so a hook that changes a value must also make orjson's reading impossible.
    """
    if not _has_long_digit_run(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data, **json_options)


# orjson calls ``default`` for these, as json does (natively it writes them its own way).
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class AsciiEncoder:
    """JSON text, ASCII only, without spaces between items (a log line), as
    ``encoder(ensure_ascii=True, separators=(",", ":")).encode`` writes it.

    orjson writes it, calling the encoder's ``default`` for what it does not know, as json
    would; json writes what orjson refuses - integers beyond 64 bits, keys that are not
    strings, what ``default`` refuses (json then raises the same) - and every text orjson
    would write with other than ASCII (json escapes it as \\uXXXX, so a line never depends
    on the stream's encoding). One difference is kept on purpose: orjson writes NaN and
    the infinities as ``null``, where json writes ``NaN``, which no JSON parser reads (a
    log shipper could not parse the line); json's fallback still writes ``NaN``.
    """

    def __init__(self, encoder: Callable[..., json.JSONEncoder] = json.JSONEncoder) -> None:
        self._json = encoder(ensure_ascii=True, separators=(",", ":"))
        self._default = self._json.default

    def encode(self, value: Any) -> str:
        try:
            data = orjson.dumps(value, default=self._default, option=_PASSTHROUGH)
        except orjson.JSONEncodeError:
            return self._json.encode(value)
        if data.isascii():
            return data.decode("ascii")
        return self._json.encode(value)
