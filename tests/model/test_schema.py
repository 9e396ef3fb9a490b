import pandas as pd

from understudy_model.schema import FeatureSchema, derive_schema


def test_schema_is_derived_from_the_data():
    frame = pd.DataFrame(
        {"Area": [500, 1500], "Lat": [-1.5, 0.5], "Kind": ["b", None], "Sale_Price": [1, 2]}
    )
    schema = derive_schema(frame)
    assert schema.names == ["Area", "Lat", "Kind"]  # target left out
    area, lat, kind = schema.fields
    assert (area.kind, area.type, area.nullable) == ("numeric", "integer", False)
    assert (area.observed_min, area.observed_max) == (500, 1500)
    assert (area.allowed_min, area.allowed_max) == (0, 2500)  # span 1000, floored at 0
    assert (lat.type, lat.allowed_min, lat.allowed_max) == ("float", -3.5, 2.5)
    assert (kind.kind, kind.nullable, kind.categories) == ("categorical", True, ("b",))


def test_schema_round_trips_through_json_shape(ames_split):
    schema = derive_schema(ames_split.train)
    assert FeatureSchema.from_dict(schema.to_dict()) == schema
    assert len(schema.fields) == 73
    assert "Neighborhood" in schema.categorical and "Gr_Liv_Area" in schema.numeric
