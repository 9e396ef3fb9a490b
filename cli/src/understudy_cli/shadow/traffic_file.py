"""The user's traffic for ``understudy shadow``: records read from a file and checked.

Formats (by suffix):

* ``.jsonl`` / ``.ndjson`` — one JSON object per line: a request body
  ``{"records": [...]}`` (each of its records is sent on its own), or one record; blank
  lines are skipped;
* ``.csv``, ``.parquet`` — one record per row; columns the model does not know (a target,
  an id) are left out and named; an empty cell is null;
* ``es://HOST:PORT[/INDEX]?since=7d&model=...`` — the inputs model-api logged to
  Elasticsearch (es_traffic.py).

Every record is validated against the live model's schema before anything starts, so
a bad file fails at once with the line (or row) and field, not as 422s in the middle of
a rollout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from understudy_cli.shadow.es_traffic import (
    EsTrafficError,
    is_es_address,
    parse_es_address,
    read_es_records,
)
from understudy_model.pack import PackError, read_table
from understudy_model.records import frame_records
from understudy_model.schema import FeatureSchema
from understudy_model.validation import validate_records

JSON_LINES = (".jsonl", ".ndjson")
TABLES = (".csv", ".parquet", ".pq")
# Problems listed in one error (the count says how many more).
SHOWN = 10


class TrafficError(ValueError):
    """The traffic file cannot be read, or its records do not fit the live model."""


@dataclass
class Traffic:
    records: list[dict[str, Any]]
    # Where each record came from, for messages: "line 3" or "row 7".
    origins: list[str]
    # Table columns left out (not fields of the model).
    ignored_columns: list[str] = field(default_factory=list)
    # Lines that could not be read as records, each message starting "line N".
    unreadable: list[str] = field(default_factory=list)


def _json_lines(path: Path) -> Traffic:
    records: list[dict[str, Any]] = []
    origins: list[str] = []
    problems: list[str] = []
    with path.open(encoding="utf-8", errors="strict") as lines:
        try:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    document = json.loads(line)
                except ValueError as exc:
                    problems.append(f"line {number}: not valid JSON ({exc})")
                    continue
                if not isinstance(document, dict):
                    problems.append(
                        f"line {number}: expected a JSON object, got {type(document).__name__}"
                    )
                    continue
                batch = document.get("records", [document])
                if not isinstance(batch, list) or not batch:
                    problems.append(f'line {number}: "records" must be a non-empty list')
                    continue
                extra = sorted(k for k in document if k != "records")
                if "records" in document and extra:  # a request body has "records" only
                    problems.append(f"line {number}: unknown top-level field(s) {', '.join(extra)}")
                    continue
                for i, record in enumerate(batch):
                    records.append(record)
                    origins.append(f"line {number}" + (f" record {i}" if len(batch) > 1 else ""))
        except UnicodeDecodeError as exc:
            raise TrafficError(f"{path}: not UTF-8 text ({exc})") from None
    return Traffic(records, origins, unreadable=problems)


def _table(path: Path, schema: FeatureSchema) -> Traffic:
    try:
        frame = read_table(path)
    except PackError as exc:
        raise TrafficError(str(exc)) from None
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise TrafficError(
            f"{path}: {len(missing)} column(s) of the model are missing: "
            f"{', '.join(missing[:SHOWN])}"
        )
    ignored = [str(c) for c in frame.columns if c not in set(schema.names)]
    # A CSV's data rows start on line 2 (after the header); a Parquet file has rows only.
    first = 2 if path.suffix.lower() == ".csv" else 0
    unit = "line" if first else "row"
    return Traffic(
        frame_records(frame, schema),
        [f"{unit} {i + first}" for i in range(len(frame))],
        ignored,
    )


def _listing(path: Path | str, problems: list[str]) -> str:
    more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    return f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems[:SHOWN]) + more


def _elasticsearch(address: str) -> Traffic:
    try:
        source = parse_es_address(address)
        found = read_es_records(source)
    except EsTrafficError as exc:
        raise TrafficError(str(exc)) from None
    if not found.records:
        hint = (
            f"; {found.without_inputs} served request(s) were logged without inputs "
            "(model-api logs them only with UNDERSTUDY_MODEL_API_LOG_INPUTS=true)"
            if found.without_inputs
            else ""
        )
        raise TrafficError(f"{source.describe()}: no logged inputs{hint}")
    return Traffic(found.records, found.origins)


def read_traffic(source: str | Path, schema: FeatureSchema) -> Traffic:
    """The records of ``source`` (a file or an ``es://`` address), each one valid for
    ``schema`` (else :class:`TrafficError`)."""
    if isinstance(source, str) and is_es_address(source):
        return _checked(source, _elasticsearch(source), schema)
    path = Path(source)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise TrafficError(f"{path}: no such file")
    if suffix in JSON_LINES:
        traffic = _json_lines(path)
    elif suffix in TABLES:
        traffic = _table(path, schema)
    else:
        raise TrafficError(
            f"{path}: expected JSON lines ({', '.join(JSON_LINES)}) or a table "
            f"({', '.join(TABLES)}), got {suffix or 'no suffix'!r}"
        )
    return _checked(str(path), traffic, schema)


def _checked(name: str, traffic: Traffic, schema: FeatureSchema) -> Traffic:
    checked = validate_records(traffic.records, schema)
    problems = traffic.unreadable + [
        f"{traffic.origins[issue.record]}: "
        + (f"field {issue.field!r}: " if issue.field else "")
        + f"{issue.message} ({issue.code})"
        for issue in checked.errors
    ]
    if problems:  # in file order: every message starts with its line or row number
        problems.sort(key=lambda text: int((re.findall(r"\d+", text) or ["0"])[0]))
        raise TrafficError(_listing(name, problems))
    if not traffic.records:
        raise TrafficError(f"{name}: no records")
    return traffic
