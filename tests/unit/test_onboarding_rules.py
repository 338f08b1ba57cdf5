"""Rules real files need: areas keyed by name, free-text facility types, blank occurred dates
that fall back to the reported date, and need-index components a city has no source for."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.config.sources import ConfigError
from crimemap.ingestion.facilities import (
    facility_type_of,
    facility_type_sql,
    parse_facility_mapping,
)
from crimemap.ingestion.police.layout import LayoutError, parse_layout
from tests.unit.test_boundaries import con, polygon, run, spec_of, write_geojson  # noqa: F401
from tests.unit.test_police_conform import conform, offenses

# --- areas keyed by name ------------------------------------------------------------------------


def test_names_that_read_as_one_key_are_refused(con, tmp_path: Path) -> None:  # noqa: F811
    source = write_geojson(
        tmp_path / "hoods.geojson",
        [
            ({"GEOID": "Lincoln Park", "NAME": "a"}, polygon((0, 0, 1, 1))),
            ({"GEOID": "LINCOLN  PARK", "NAME": "b"}, polygon((1, 0, 2, 1))),
        ],
    )
    with pytest.raises(ValueError, match=r"'LINCOLN  PARK', 'Lincoln Park' in 'GEOID' all read"):
        run(con, source, spec_of(id_kind="auto"))


def test_an_id_column_with_no_id_is_refused(con, tmp_path: Path) -> None:  # noqa: F811
    source = write_geojson(
        tmp_path / "hoods.geojson",
        [({"GEOID": "", "NAME": "a"}, polygon((0, 0, 1, 1)))],
    )
    with pytest.raises(ValueError, match="no row has an id in 'GEOID': is id_field the right"):
        run(con, source, spec_of(id_kind="auto"))


def test_names_are_keys_and_pieces_of_one_name_merge(con, tmp_path: Path) -> None:  # noqa: F811
    source = write_geojson(
        tmp_path / "hoods.geojson",
        [
            ({"GEOID": "Ward's Edge", "NAME": "a"}, polygon((0, 0, 1, 1))),
            ({"GEOID": "Ward's Edge", "NAME": "a"}, polygon((1, 0, 2, 1))),
            ({"GEOID": "Lakeview", "NAME": "b"}, polygon((2, 0, 3, 1))),
        ],
    )
    result = run(con, source, spec_of(id_kind="auto"))
    ids = [r[0] for r in con.execute(f"SELECT area_id FROM '{result.clean_path}'").fetchall()]
    assert sorted(ids) == ["LAKEVIEW", "WARDS EDGE"]


# --- facility types written as free text --------------------------------------------------------

MAPPING = parse_facility_mapping(
    {
        "type_map": {
            "Behavioral Health": "mental_health",
            "*mental health*": "mental_health",
            "/detox|withdraw(al)?/": "substance_use",
        },
        "default_type": "clinic",
    },
    "facilities",
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Behavioral  HEALTH", "mental_health"),
        ("Mental Health Clinic (Mon-Fri 9-5)", "mental_health"),
        ("DETOX center", "substance_use"),
        ("Withdrawal Management", "substance_use"),
        ("Food bank", "clinic"),
        ("shelter", "shelter"),  # a canonical name maps to itself
        ("", None),
        (None, None),
    ],
)
def test_patterns_and_a_default_type_map_free_text(label: str | None, expected: str | None) -> None:
    sql = duckdb.sql(f"SELECT {facility_type_sql(MAPPING, '$label')}", params={"label": label})
    assert facility_type_of(MAPPING, label) == expected
    assert sql.fetchone()[0] == expected


def test_a_broken_regular_expression_names_the_label() -> None:
    with pytest.raises(LayoutError, match=r"\['/detox\(/'\]: not a regular expression"):
        parse_facility_mapping({"type_map": {"/detox(/": "substance_use"}}, "facilities")


# --- a blank occurred date ----------------------------------------------------------------------

FALLBACK_LAYOUT = parse_layout(
    {
        "occurred": {"column": "Occurred", "formats": ["%Y-%m-%d %H:%M"], "fallback": "reported"},
        "reported": {"column": "Reported", "formats": ["%Y-%m-%d %H:%M"]},
        "offense_codes": "Code",
        "location": [{"kind": "lonlat", "lon": "Lon", "lat": "Lat"}],
    },
    name="fallback",
    where="city.yml",
)


def test_a_blank_occurred_date_falls_back_to_the_reported_one() -> None:
    memory = duckdb.connect()
    rows = [
        {"Occurred": "", "Reported": "2025-03-02 10:00", "Code": "13A"},
        {"Occurred": "2025-03-01 09:00", "Reported": "2025-03-02 10:00", "Code": "13A"},
        {"Occurred": "garbled", "Reported": "2025-03-02 10:00", "Code": "13A"},
        {"Occurred": "", "Reported": "", "Code": "13A"},
    ]
    conformed = conform(memory, FALLBACK_LAYOUT, rows, "America/Chicago")
    imputed = [r["cm_occurred_imputed"] for r in conformed]
    occurred = [r["cm_occurred_at"] is not None for r in conformed]
    assert imputed == [True, False, False, False]
    # a written but unreadable date is not replaced: quality quarantines it as unparseable
    assert occurred == [True, True, False, False]
    assert conformed[0]["occurred_us"] == conformed[0]["reported_us"]
    imputed_offenses = offenses(memory, FALLBACK_LAYOUT, rows[:2], "America/Chicago")
    assert [o["occurred_imputed"] for o in imputed_offenses] == [True, False]


def test_fallback_needs_a_reported_column() -> None:
    with pytest.raises(
        LayoutError, match=r"occurred\.fallback: 'reported' needs a reported column"
    ):
        parse_layout(
            {
                "occurred": {"column": "O", "formats": ["%Y"], "fallback": "reported"},
                "offense_codes": "Code",
            },
            name="x",
            where="city.yml",
        )


# --- need-index components without a source -----------------------------------------------------


def city(tmp_path: Path, **sources: object) -> Path:
    doc = {
        "name": "Town",
        "timezone": "America/Chicago",
        "projected_crs": "EPSG:26916",
        "police": [{"name": "pd", "layout": "seattle_spd", "mode": "sample"}],
        "boundaries": {"mode": "sample"},
        **sources,
    }
    path = tmp_path / "town.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_components_without_a_source_are_unavailable(tmp_path: Path) -> None:
    assert load_jurisdiction(city(tmp_path)).unavailable_priority_components == (
        "deprivation",
        "access_gap",
    )
    (tmp_path / "t.csv").write_text("AREA,POP\n1,10\n")
    table = {"mode": "file", "path": "t.csv", "key": "AREA",
             "indicators": {"population": "POP"}}  # fmt: skip
    config = load_jurisdiction(city(tmp_path, indicators=table, facilities={"mode": "sample"}))
    # a table without poverty, unemployment and income cannot build deprivation
    assert config.unavailable_priority_components == ("deprivation",)
    assert config.indicators.measures == ()
    assert (
        load_jurisdiction(
            city(tmp_path, indicators={"mode": "sample"}, facilities={"mode": "sample"})
        ).unavailable_priority_components
        == ()
    )


def hardship_table(tmp_path: Path) -> dict[str, object]:
    (tmp_path / "t.csv").write_text("AREA,POP,HARDSHIP,INCOME\n1,1000,80,12000\n")
    return {
        "mode": "file",
        "path": "t.csv",
        "key": "AREA",
        "indicators": {
            "population": "POP",
            "hardship_index": {"column": "HARDSHIP", "kind": "index"},
            "per_capita_income": {"column": "INCOME", "kind": "median", "need": "low"},
        },
    }


def test_the_jurisdictions_own_indicators_weigh_in_with_their_direction(tmp_path: Path) -> None:
    weights = {"person_crime": 1, "hardship_index": 2, "per_capita_income": 0.5}
    config = load_jurisdiction(
        city(tmp_path, indicators=hardship_table(tmp_path),
             analysis={"priority_weights": weights})
    )  # fmt: skip
    assert config.priority_indicators == [
        {"name": "hardship_index", "weight": 2.0, "need": "high"},
        {"name": "per_capita_income", "weight": 0.5, "need": "low"},
    ]
    assert config.analysis.priority_weights["person_crime"] == 1.0
    # the ACS table set says which way its measures point too
    acs = load_jurisdiction(
        city(tmp_path, indicators={"mode": "sample"},
             analysis={"priority_weights": {"median_household_income": 1}})
    )  # fmt: skip
    assert acs.priority_indicators == [
        {"name": "median_household_income", "weight": 1.0, "need": "low"}
    ]


@pytest.mark.parametrize(
    ("name", "indicators", "message"),
    [
        ("hardship", "table", r"priority_weights\.hardship: not a component .* indicators: "
                              r"hardship_index, per_capita_income"),
        ("population", "table", r"priority_weights\.population: .*\(a count: declare a rate"),
        ("hardship_index", None, r"priority_weights: \['hardship_index'\] would be indicators, "
                                 r"but the jurisdiction has none"),
    ],
)  # fmt: skip
def test_a_weight_must_name_a_component_or_a_measure(
    tmp_path: Path, name: str, indicators: str | None, message: str
) -> None:
    sources: dict[str, object] = {"analysis": {"priority_weights": {name: 1}}}
    if indicators:
        sources["indicators"] = hardship_table(tmp_path)
    with pytest.raises(ConfigError, match=message):
        load_jurisdiction(city(tmp_path, **sources))
