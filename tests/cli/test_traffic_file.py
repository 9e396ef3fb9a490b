"""understudy shadow's traffic files: JSON lines and tables read, bad ones refused with
the line (or row) and field."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from understudy_cli.shadow.traffic_file import TrafficError, read_traffic
from understudy_model.schema import infer_schema

FRAME = pd.DataFrame(
    {"size": [50.5, 80.0, None], "rooms": [1, 3, 2], "city": ["Ames", None, "Boone"]}
)
SCHEMA = infer_schema(FRAME, target=None, missing_as="null", max_categories=100)
GOOD = {"size": 60.0, "rooms": 2, "city": "Ames"}


def _lines(tmp_path: Path, *lines: str, name: str = "traffic.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_lines_of_bodies_and_of_records(tmp_path: Path) -> None:
    path = _lines(
        tmp_path,
        json.dumps({"records": [GOOD, {**GOOD, "rooms": 3}]}),
        "",
        json.dumps({**GOOD, "city": None, "size": None}),
    )
    traffic = read_traffic(path, SCHEMA)
    assert [r["rooms"] for r in traffic.records] == [2, 3, 2]
    assert traffic.origins == ["line 1 record 0", "line 1 record 1", "line 3"]


def test_a_csv_with_extra_columns_and_gaps(tmp_path: Path) -> None:
    path = tmp_path / "traffic.csv"
    FRAME.assign(target=[1, 2, 3]).to_csv(path, index=False)
    traffic = read_traffic(path, SCHEMA)
    assert traffic.ignored_columns == ["target"]
    assert traffic.records[2] == {"size": None, "rooms": 2, "city": "Boone"}
    assert traffic.records[1]["city"] is None


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{not json"], "line 1: not valid JSON"),
        ([json.dumps(GOOD), "[1, 2]"], "line 2: expected a JSON object, got list"),
        ([json.dumps({"records": []})], 'line 1: "records" must be a non-empty list'),
        (
            [json.dumps({"records": [GOOD], "model": "x"})],
            "line 1: unknown top-level field(s) model",
        ),
        (
            [json.dumps(GOOD), json.dumps({**GOOD, "rooms": "two"})],
            "line 2: field 'rooms': expected a number, got string (wrong_type)",
        ),
        (
            [json.dumps({"records": [GOOD, {**GOOD, "colour": "red"}]})],
            "line 1 record 1: field 'colour': unknown field (unknown_field)",
        ),
        ([json.dumps({"size": 60.0, "city": "Ames"})], "line 1: field 'rooms': field required"),
        ([json.dumps({**GOOD, "rooms": None})], "line 1: field 'rooms': null is not allowed"),
    ],
)
def test_bad_json_lines_are_refused_with_their_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    with pytest.raises(TrafficError) as error:
        read_traffic(_lines(tmp_path, *lines), SCHEMA)
    assert message in str(error.value)


def test_every_problem_is_counted_and_the_first_ten_shown(tmp_path: Path) -> None:
    lines = [json.dumps({**GOOD, "rooms": 1.5}) for _ in range(12)]
    with pytest.raises(TrafficError) as error:
        read_traffic(_lines(tmp_path, *lines), SCHEMA)
    text = str(error.value)
    assert "12 problem(s)" in text and "line 10:" in text and "line 11:" not in text
    assert "... and 2 more" in text


def test_bad_tables_and_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    FRAME.drop(columns=["rooms"]).to_csv(missing, index=False)
    with pytest.raises(TrafficError, match=r"1 column\(s\) of the model are missing: rooms"):
        read_traffic(missing, SCHEMA)
    wrong = tmp_path / "wrong.csv"
    FRAME.assign(rooms=["1", "x", "3"]).to_csv(wrong, index=False)
    # CSV line 3 is the second data row (line 1 is the header).
    with pytest.raises(TrafficError, match=r"line 3: field 'rooms': expected a number"):
        read_traffic(wrong, SCHEMA)
    with pytest.raises(TrafficError, match="no such file"):
        read_traffic(tmp_path / "absent.jsonl", SCHEMA)
    with pytest.raises(TrafficError, match=r"expected JSON lines .* got '\.txt'"):
        read_traffic(_lines(tmp_path, "x", name="t.txt"), SCHEMA)
    with pytest.raises(TrafficError, match="no records"):
        read_traffic(_lines(tmp_path, "", name="empty.jsonl"), SCHEMA)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe{}\n")
    with pytest.raises(TrafficError, match="not UTF-8"):
        read_traffic(binary, SCHEMA)


def test_unreadable_lines_and_invalid_records_are_listed_together_in_file_order(
    tmp_path: Path,
) -> None:
    path = _lines(tmp_path, json.dumps({**GOOD, "rooms": "2"}), "{oops", json.dumps(GOOD))
    with pytest.raises(TrafficError) as error:
        read_traffic(path, SCHEMA)
    text = str(error.value)
    assert "2 problem(s)" in text
    assert text.index("line 1: field 'rooms'") < text.index("line 2: not valid JSON")


def test_a_parquet_table_keeps_its_types(tmp_path: Path) -> None:
    path = tmp_path / "traffic.parquet"
    FRAME.to_parquet(path)
    traffic = read_traffic(path, SCHEMA)
    assert traffic.records == [
        {"size": 50.5, "rooms": 1, "city": "Ames"},
        {"size": 80.0, "rooms": 3, "city": None},
        {"size": None, "rooms": 2, "city": "Boone"},
    ]
    assert traffic.origins == ["row 0", "row 1", "row 2"]
