"""Police layouts: the built-in publisher YAMLs load, and bad mappings fail naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from crimemap.ingestion.police.layout import (
    FLAG_NAMES,
    LOCATION_KINDS,
    DateTimeField,
    FlagColumn,
    LayoutError,
    LocationField,
    builtin_layout,
    builtin_layout_names,
    parse_layout,
)

WHERE = "city.yml: police[0].layout"
BUILTIN_NAMES = ("baltimore_legacy", "baltimore_nibrs", "chicago", "lapd", "seattle_spd", "sfpd")


def minimal(**overrides: Any) -> dict[str, Any]:
    """The smallest mapping that parses, with ``overrides`` replacing or adding keys."""
    mapping: dict[str, Any] = {
        "occurred": {"column": "Occurred", "formats": ["%Y-%m-%d %H:%M:%S"]},
        "offense_codes": "Code",
        "location": [{"kind": "lonlat", "lon": "Lon", "lat": "Lat"}],
    }
    mapping.update(overrides)
    return mapping


def without(key: str) -> dict[str, Any]:
    mapping = minimal()
    del mapping[key]
    return mapping


def parse_error(mapping: Any) -> str:
    with pytest.raises(LayoutError) as excinfo:
        parse_layout(mapping, name="custom", where=WHERE)
    return str(excinfo.value)


# --- built-in layouts --------------------------------------------------------------------------


def test_builtin_layout_names_are_the_shipped_publishers() -> None:
    assert builtin_layout_names() == BUILTIN_NAMES


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_layout_loads_and_reads_only_published_columns(name: str) -> None:
    layout = builtin_layout(name)

    assert layout.name == name
    assert layout.columns, "every built-in layout declares its published header"
    assert len(set(layout.columns)) == len(layout.columns)
    assert set(layout.read_columns) <= set(layout.columns)
    assert len(set(layout.read_columns)) == len(layout.read_columns)
    assert layout.location
    assert layout.grain in ("offense", "report", "victim")
    assert not [c for c in layout.columns if c.lower().startswith("cm_")]


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_live_fields_map_onto_published_columns(name: str) -> None:
    layout = builtin_layout(name)

    assert layout.live is not None
    assert layout.live.kind in ("socrata", "arcgis")
    assert set(layout.live.fields.values()) <= set(layout.columns)


def test_builtin_crosswalks_share_baltimore_seed() -> None:
    crosswalks = {name: builtin_layout(name).crosswalk for name in BUILTIN_NAMES}

    assert crosswalks == {
        "baltimore_legacy": "baltimore",
        "baltimore_nibrs": "baltimore",
        "chicago": "chicago",
        "lapd": "lapd",
        "seattle_spd": "seattle_spd",
        "sfpd": "sfpd",
    }


def test_lapd_read_columns_are_ordered_without_repeats() -> None:
    layout = builtin_layout("lapd")

    # DR_NO is both the record id and the report number: read once.
    assert layout.record_id == layout.report_number == "DR_NO"
    assert layout.read_columns == (
        "DR_NO",
        "DATE OCC",
        "TIME OCC",
        "Date Rptd",
        "Crm Cd",
        "Crm Cd 2",
        "Crm Cd 3",
        "Crm Cd 4",
        "Crm Cd Desc",
        "LOCATION",
        "LON",
        "LAT",
    )
    assert layout.occurred == DateTimeField(
        column="DATE OCC",
        formats=(
            "%m/%d/%Y %I:%M:%S %p",
            "%m/%d/%Y",
            "%Y-%m-%dT%H:%M:%S.%g",
            "%Y %b %d %I:%M:%S %p",
        ),
        time_column="TIME OCC",
        time_formats=("hhmm",),
    )
    assert layout.offense_code_width == 3


def test_chicago_layout_has_three_location_alternatives_and_domestic_flag() -> None:
    layout = builtin_layout("chicago")

    assert layout.location == (
        LocationField(kind="lonlat", columns=("Longitude", "Latitude")),
        LocationField(kind="point_text", columns=("Location",)),
        LocationField(kind="projected", columns=("X Coordinate", "Y Coordinate"), crs="EPSG:3435"),
    )
    assert dict(layout.flags) == {
        "domestic_violence": FlagColumn(column="Domestic", true_values=("true", "y", "yes"))
    }


def test_unknown_builtin_layout_lists_known_names() -> None:
    with pytest.raises(LayoutError) as excinfo:
        builtin_layout("houston")

    message = str(excinfo.value)
    assert "'houston'" in message
    for name in BUILTIN_NAMES:
        assert name in message


# --- parse errors name the key -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        pytest.param(without("occurred"), "missing required key 'occurred'", id="no-occurred"),
        pytest.param(
            without("offense_codes"), "missing required key 'offense_codes'", id="no-codes"
        ),
        pytest.param(without("location"), "missing required key 'location'", id="no-location"),
        pytest.param(
            minimal(occurred={"column": "Occurred"}),
            f"{WHERE}.occurred: missing required key 'formats'",
            id="no-formats",
        ),
        pytest.param(
            minimal(location=[{"kind": "h3", "column": "Cell"}]),
            f"{WHERE}.location[0].kind: 'h3' is not one of",
            id="unknown-location-kind",
        ),
        pytest.param(
            minimal(location=[{"kind": "lonlat", "lon": "Lon", "lat": "Lat"}, {"column": "P"}]),
            f"{WHERE}.location[1]: missing required key 'kind'",
            id="location-without-kind",
        ),
        pytest.param(
            minimal(location={"kind": "projected", "x": "X", "y": "Y"}),
            f"{WHERE}.location[0]: missing required key 'crs'",
            id="projected-without-crs",
        ),
        pytest.param(
            minimal(location={"kind": "point_text", "column": "P", "order": "yx"}),
            f"{WHERE}.location[0].order: must be 'latlon' or 'lonlat'",
            id="bad-point-order",
        ),
        pytest.param(
            minimal(grain="incident"),
            f"{WHERE}.grain: 'incident' is not one of offense, report, victim",
            id="bad-grain",
        ),
        pytest.param(
            minimal(offense_code_width=0),
            f"{WHERE}.offense_code_width: expected a positive integer",
            id="bad-width",
        ),
        pytest.param(
            minimal(columns=["Occurred", "Code", "Lon"]),
            "mapped columns missing from 'columns': ['Lat']",
            id="column-not-in-columns",
        ),
        pytest.param(
            minimal(offense_codes="cm_code"),
            "column names starting with 'cm_' are reserved: ['cm_code']",
            id="reserved-prefix-mapped",
        ),
        pytest.param(
            minimal(columns=["Occurred", "Code", "Lon", "Lat", "cm_extra"]),
            "column names starting with 'cm_' are reserved: ['cm_extra']",
            id="reserved-prefix-header",
        ),
        pytest.param(
            minimal(flags={"gang_related": "Gang"}),
            f"{WHERE}.flags: unknown flag 'gang_related'",
            id="unknown-flag",
        ),
        pytest.param(
            minimal(block_address=42),
            f"{WHERE}.block_address: expected a column name, got 42",
            id="non-string-column",
        ),
        pytest.param(
            minimal(live={"kind": "ckan"}),
            f"{WHERE}.live.kind: must be 'socrata' or 'arcgis'",
            id="unknown-live-kind",
        ),
        pytest.param(["Occurred"], "a layout must be a mapping, got list", id="not-a-mapping"),
    ],
)
def test_parse_error_names_file_and_key(mapping: Any, expected: str) -> None:
    message = parse_error(mapping)

    assert message.startswith(WHERE)
    assert expected in message


def test_unknown_flag_error_lists_known_flags() -> None:
    message = parse_error(minimal(flags={"gang_related": "Gang"}))

    for flag in FLAG_NAMES:
        assert flag in message


def test_reserved_prefix_is_case_insensitive() -> None:
    message = parse_error(minimal(block_address="CM_Block_Address"))

    assert "reserved" in message


# --- custom mappings ---------------------------------------------------------------------------


LOCATION_SPECS: list[tuple[dict[str, str], LocationField]] = [
    (
        {"kind": "lonlat", "lon": "Lon", "lat": "Lat"},
        LocationField(kind="lonlat", columns=("Lon", "Lat")),
    ),
    (
        {"kind": "projected", "x": "X", "y": "Y", "crs": "EPSG:2926"},
        LocationField(kind="projected", columns=("X", "Y"), crs="EPSG:2926"),
    ),
    (
        {"kind": "point_text", "column": "Point", "order": "lonlat"},
        LocationField(kind="point_text", columns=("Point",), order="lonlat"),
    ),
    (
        {"kind": "wkt", "column": "Shape", "crs": "EPSG:2926"},
        LocationField(kind="wkt", columns=("Shape",), crs="EPSG:2926"),
    ),
    (
        {"kind": "wkb_hex", "column": "Shape"},
        LocationField(kind="wkb_hex", columns=("Shape",)),
    ),
    (
        {"kind": "geojson", "column": "Shape"},
        LocationField(kind="geojson", columns=("Shape",)),
    ),
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [pytest.param(spec, expected, id=expected.kind) for spec, expected in LOCATION_SPECS],
)
def test_custom_mapping_parses_each_location_kind(
    spec: dict[str, str], expected: LocationField
) -> None:
    layout = parse_layout(minimal(location=[spec]), name="springfield", where=WHERE)

    assert layout.location == (expected,)
    assert layout.read_columns == ("Occurred", "Code", *expected.columns)


def test_every_location_kind_is_covered() -> None:
    assert [expected.kind for _, expected in LOCATION_SPECS] == list(LOCATION_KINDS)


def test_custom_mapping_defaults_and_normalisation() -> None:
    layout = parse_layout(
        minimal(
            occurred={
                "column": "Date",
                "formats": "%m/%d/%Y",
                "time_column": "Time",
            },
            reported={"column": "Filed", "formats": ["%m/%d/%Y"], "time_formats": ["%H:%M"]},
            location={"kind": "point_text", "column": "Point"},
            flags={
                "domestic_violence": "DV",
                "juvenile_involved": {"column": "Juv", "true_values": ["  YES ", 1]},
            },
        ),
        name="springfield",
        where=WHERE,
        crosswalk="springfield_codes",
    )

    assert layout.agency == "springfield"
    assert layout.crosswalk == "springfield_codes"
    assert layout.grain == "offense"
    assert layout.offense_codes == ("Code",)
    # A time column without time_formats reads an unpadded 24-hour clock.
    assert layout.occurred == DateTimeField(
        column="Date", formats=("%m/%d/%Y",), time_column="Time", time_formats=("hhmm",)
    )
    # time_formats without a time column are dropped.
    assert layout.reported == DateTimeField(column="Filed", formats=("%m/%d/%Y",))
    # A lone mapping is one alternative.
    assert layout.location == (LocationField(kind="point_text", columns=("Point",)),)
    assert dict(layout.flags) == {
        "domestic_violence": FlagColumn(column="DV"),
        "juvenile_involved": FlagColumn(column="Juv", true_values=("yes", "1")),
    }
    assert layout.read_columns == ("Date", "Time", "Filed", "Code", "Point", "DV", "Juv")
    assert layout.live is None


def test_mapping_crosswalk_key_wins_over_default() -> None:
    layout = parse_layout(
        minimal(crosswalk="chicago", agency="Springfield PD"),
        name="springfield",
        where=WHERE,
        crosswalk="springfield",
    )

    assert layout.crosswalk == "chicago"
    assert layout.agency == "Springfield PD"
