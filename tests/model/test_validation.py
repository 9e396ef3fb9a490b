"""One test per validation rule (see understudy_model/validation.py)."""

import math

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from understudy_model.data import MISSING_CATEGORY
from understudy_model.schema import FeatureSchema, FieldSpec, derive_schema
from understudy_model.validation import MAX_STRING_LENGTH, FieldIssue, validate_records


@pytest.fixture(scope="module")
def schema():
    # A small frame of our own: one integer, one float, one categorical with an
    # empty value, one categorical without.
    frame = pd.DataFrame(
        {
            "Rooms": [2, 3, 8],
            "Latitude": [41.9, 42.0, 42.1],
            "Alley": ["Gravel", None, "Paved"],
            "Zone": ["A", "B", "B"],
            "Sale_Price": [1, 2, 3],
        }
    )
    return derive_schema(frame)


def good():
    return {"Rooms": 3, "Latitude": 42.0, "Alley": "Gravel", "Zone": "A"}


def codes(result):
    return [(e.record, e.field, e.code) for e in result.errors]


def test_a_good_record_is_clean(schema):
    result = validate_records([good()], schema)
    assert result.ok
    assert result.rows == [good()]
    assert result.warnings == []


def test_not_an_object(schema):
    result = validate_records([good(), [1, 2]], schema)
    assert codes(result) == [(1, None, "not_an_object")]
    assert result.errors[0].message == "expected an object, got array"


def test_null_for_a_record(schema):
    result = validate_records([None], schema)
    assert codes(result) == [(0, None, "not_an_object")]
    assert result.errors[0].message == "expected an object, got null"


def test_unknown_field(schema):
    result = validate_records([{**good(), "Roomz": 3}], schema)
    assert codes(result) == [(0, "Roomz", "unknown_field")]


def test_a_long_unknown_field_name_is_cut_in_the_error(schema):
    name = "N" * 1_000_000
    result = validate_records([{**good(), name: 1}], schema)
    [error] = result.errors
    assert error.code == "unknown_field"
    assert error.field == "N" * MAX_STRING_LENGTH + "… (1000000 characters)"


def test_an_unknown_field_name_at_the_length_limit_is_kept_whole(schema):
    name = "N" * MAX_STRING_LENGTH
    [error] = validate_records([{**good(), name: 1}], schema).errors
    assert error.field == name


def test_a_categorical_value_over_the_length_limit_is_too_long(schema):
    result = validate_records([{**good(), "Zone": "z" * (MAX_STRING_LENGTH + 1)}], schema)
    assert codes(result) == [(0, "Zone", "too_long")]
    assert result.errors[0].message == "a string of 257 characters; at most 256 are allowed"
    assert result.warnings == []  # never echoed as an unseen category


def test_a_categorical_value_at_the_length_limit_is_an_unseen_category(schema):
    result = validate_records([{**good(), "Zone": "z" * MAX_STRING_LENGTH}], schema)
    assert result.ok
    assert [w.code for w in result.warnings] == ["unseen_category"]


def test_null_in_a_categorical_field_that_never_was_empty(schema):
    result = validate_records([{**good(), "Zone": None}], schema)
    assert codes(result) == [(0, "Zone", "null")]


def test_missing_field(schema):
    record = good()
    del record["Zone"]
    result = validate_records([record], schema)
    assert codes(result) == [(0, "Zone", "missing")]
    assert result.errors[0].message == "field required"


def test_null_where_training_had_no_empty_values(schema):
    assert codes(validate_records([{**good(), "Rooms": None}], schema)) == [(0, "Rooms", "null")]


def test_null_for_a_category_that_was_never_empty(schema):
    # Zone had no empty value in training: null is an error, not the missing category.
    result = validate_records([{**good(), "Zone": None}], schema)
    assert codes(result) == [(0, "Zone", "null")]
    assert result.errors[0].message == "null is not allowed for this field"
    assert result.rows == []


def test_null_where_training_had_empty_values_is_the_missing_category(schema):
    result = validate_records([{**good(), "Alley": None}], schema)
    assert result.ok
    assert result.rows[0]["Alley"] == MISSING_CATEGORY


@pytest.mark.parametrize("value", ["3", True, [3], {"n": 3}])
def test_wrong_type_for_a_number(schema, value):
    result = validate_records([{**good(), "Rooms": value}], schema)
    assert codes(result) == [(0, "Rooms", "wrong_type")]


def test_fraction_for_an_integer_field(schema):
    result = validate_records([{**good(), "Rooms": 2.5}], schema)
    assert codes(result) == [(0, "Rooms", "wrong_type")]
    assert "expected an integer" in result.errors[0].message


def test_integral_float_for_an_integer_field_is_accepted(schema):
    result = validate_records([{**good(), "Rooms": 4.0}], schema)
    assert result.ok and result.rows[0]["Rooms"] == 4


@pytest.mark.parametrize("value", [7, 3.5])
def test_wrong_type_for_a_category(schema, value):
    assert codes(validate_records([{**good(), "Zone": value}], schema)) == [
        (0, "Zone", "wrong_type")
    ]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_not_finite(schema, value):
    assert codes(validate_records([{**good(), "Latitude": value}], schema)) == [
        (0, "Latitude", "not_finite")
    ]


@pytest.mark.parametrize(
    ("field", "value", "got"),
    [
        ("Rooms", "3", "string"),
        ("Rooms", True, "boolean"),
        ("Rooms", [3], "array"),
        ("Rooms", {"n": 3}, "object"),
        ("Zone", 7, "number"),
        ("Zone", False, "boolean"),
        ("Zone", b"A", "bytes"),
    ],
)
def test_a_wrong_type_is_named_as_json_names_it(schema, field, value, got):
    result = validate_records([{**good(), field: value}], schema)
    expected = "a number" if field == "Rooms" else "a string"
    assert [e.message for e in result.errors] == [f"expected {expected}, got {got}"]


def test_messages_quote_the_value(schema):
    result = validate_records(
        [{**good(), "Rooms": 2.5}, {**good(), "Latitude": math.inf}, {**good(), "Rooms": 15}],
        schema,
    )
    assert [e.message for e in result.errors] == [
        "expected an integer, got 2.5",
        "expected a finite number, got inf",
        "15 is outside the allowed range [0, 14]",
    ]


@pytest.mark.parametrize(
    "record",
    [
        {"Rooms": 0, "Latitude": 40.9},
        {"Rooms": 14, "Latitude": 43.1},
        {"Rooms": 0.0, "Latitude": 40.9},
        {"Rooms": 14.0, "Latitude": 43},
    ],
)
def test_the_range_includes_its_bounds(schema, record):
    # Rooms seen 2..8: allowed [0, 14]; Latitude seen 41.9..42.1: allowed [40.9, 43.1].
    result = validate_records([{**good(), **record}], schema)
    assert result.ok, result.errors
    assert result.rows[0]["Rooms"] == record["Rooms"]
    assert type(result.rows[0]["Rooms"]) is int
    assert type(result.rows[0]["Latitude"]) is float


@pytest.mark.parametrize(("field", "value"), [("Latitude", 40.89), ("Latitude", 43.11)])
def test_just_outside_the_range_is_out_of_range(schema, field, value):
    assert codes(validate_records([{**good(), field: value}], schema)) == [
        (0, field, "out_of_range")
    ]


def test_a_field_without_bounds_takes_any_finite_number():
    unbounded = FeatureSchema(
        fields=(FieldSpec(name="x", kind="numeric", type="float", nullable=False),)
    )
    result = validate_records([{"x": -1e300}, {"x": 1e300}, {"x": 7}], unbounded)
    assert result.ok
    assert result.rows == [{"x": -1e300}, {"x": 1e300}, {"x": 7.0}]
    assert type(result.rows[2]["x"]) is float


def test_a_result_is_ok_only_without_errors(schema):
    assert validate_records([good()], schema).ok
    assert not validate_records([good(), {**good(), "Rooms": None}], schema).ok


def test_an_issue_serialises_for_the_api():
    issue = FieldIssue(record=2, field="Rooms", code="null", message="null is not allowed")
    assert issue.to_dict() == {
        "record": 2,
        "field": "Rooms",
        "code": "null",
        "message": "null is not allowed",
    }


def test_issues_carry_the_index_of_their_record(schema):
    records = [good(), {**good(), "Zone": "C"}, {**good(), "Rooms": "x"}, {**good(), "Bad": 1}]
    result = validate_records(records, schema)
    assert codes(result) == [(2, "Rooms", "wrong_type"), (3, "Bad", "unknown_field")]
    assert [(w.record, w.field) for w in result.warnings] == [(1, "Zone")]
    assert result.warnings[0].message == (
        "category 'C' was not seen in training; it is encoded as unseen"
    )
    assert result.errors[1].message == "unknown field"
    assert len(result.rows) == 2


def test_a_record_with_several_problems_reports_each(schema):
    result = validate_records([{"Rooms": None, "Latitude": "x", "Alley": 1, "Zone": "A"}], schema)
    assert codes(result) == [
        (0, "Rooms", "null"),
        (0, "Latitude", "wrong_type"),
        (0, "Alley", "wrong_type"),
    ]


@pytest.mark.parametrize("value", [-1, 15])
def test_out_of_range(schema, value):
    # Rooms seen 2..8: allowed [0, 14] (span 6 on each side, not below 0).
    result = validate_records([{**good(), "Rooms": value}], schema)
    assert codes(result) == [(0, "Rooms", "out_of_range")]
    assert "[0, 14]" in result.errors[0].message


def test_unseen_category_is_accepted_with_a_warning(schema):
    result = validate_records([{**good(), "Zone": "C"}], schema)
    assert result.ok
    assert [(w.field, w.code) for w in result.warnings] == [("Zone", "unseen_category")]


def test_every_problem_of_every_record_is_reported(schema):
    records = [{**good(), "Rooms": "x", "Extra": 1}, good(), {"Zone": 1}]
    result = validate_records(records, schema)
    assert set(codes(result)) == {
        (0, "Extra", "unknown_field"),
        (0, "Rooms", "wrong_type"),
        (2, "Rooms", "missing"),
        (2, "Latitude", "missing"),
        (2, "Alley", "missing"),
        (2, "Zone", "wrong_type"),
    }
    assert result.rows == [good()]  # the one good record still comes out clean


def test_real_holdout_records_validate(ames_split, artifacts):
    from understudy_model.artifact import load_artifact
    from understudy_model.data import holdout_records

    model = load_artifact(artifacts.v1)
    records = holdout_records(ames_split)
    result = validate_records(records, model.schema)
    assert result.ok, result.errors[:3]
    assert len(result.rows) == len(ames_split.holdout)


def _reference(records, schema):
    """The rule without the inline fast path: every value through ``_check_field``."""
    from understudy_model.validation import FieldIssue, ValidationResult, _bounded, _check_field

    result = ValidationResult()
    known = set(schema.names)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            result.errors.append(FieldIssue(index, None, "not_an_object", "x"))
            continue
        errors = [
            FieldIssue(index, _bounded(str(n)), "unknown_field", "x")
            for n in record
            if n not in known
        ]
        clean = {}
        for spec in schema.fields:
            if spec.name not in record:
                errors.append(FieldIssue(index, spec.name, "missing", "x"))
                continue
            value, issue = _check_field(index, spec, record[spec.name], result.warnings)
            if issue is not None:
                errors.append(issue)
            else:
                clean[spec.name] = value
        if errors:
            result.errors.extend(errors)
        else:
            result.rows.append(clean)
    return result


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),  # NaN and +/-inf included
    st.sampled_from([0, 1, 2, 3, 8, 42, 2.0, 3.5, 41.9, 42.05, 1e9, -1.0]),
    st.sampled_from(["A", "B", "Gravel", "Paved", "Elsewhere", "", MISSING_CATEGORY]),
    st.sampled_from(["x" * MAX_STRING_LENGTH, "x" * (MAX_STRING_LENGTH + 1)]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)


@st.composite
def near_valid_record(draw):
    """A good record with up to two fields replaced by anything, removed, or added."""
    record = good()
    for name in draw(st.lists(st.sampled_from([*record, "Extra"]), max_size=2, unique=True)):
        if draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = draw(ANY_VALUE)
    return record


RECORD = st.one_of(near_valid_record(), ANY_VALUE)


@settings(max_examples=500, deadline=None)
@given(records=st.lists(RECORD, max_size=4))
# The cases a quick accept could get subtly wrong, tried every run: an int for a float
# field (must become a float), an int-valued float for an integer field (must become an
# int), a bool for a number, the range's own bounds, and the largest finite double.
@example(records=[{**good(), "Latitude": 42}])
@example(records=[{**good(), "Rooms": 3.0}])
@example(records=[{**good(), "Rooms": True}, {**good(), "Latitude": False}])
@example(records=[{**good(), "Rooms": 0, "Latitude": 43.1}, {**good(), "Rooms": 14}])
@example(records=[{**good(), "Latitude": 1.7976931348623157e308}])
def test_the_fast_path_never_changes_a_verdict(schema, records):
    got, want = validate_records(records, schema), _reference(records, schema)
    assert got.rows == want.rows
    assert [type(v) for row in got.rows for v in row.values()] == [
        type(v) for row in want.rows for v in row.values()
    ]
    assert codes(got) == codes(want)
    assert [(w.record, w.field, w.code) for w in got.warnings] == [
        (w.record, w.field, w.code) for w in want.warnings
    ]
