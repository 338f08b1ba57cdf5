"""A city's own indicator table: declared in YAML, keyed by area id or name, split into long
indicators with a broken row quarantined, and the readers every file source shares (repeated
headers, renames, skips, encodings, delimiters)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from crimemap.ingestion.indicator_table import IndicatorTableError, parse_indicator_table
from crimemap.ingestion.landing import ReadOptions, land_csv, positional_names
from crimemap.ingestion.surveys import normalize_area_id
from crimemap.quality.indicator_table import split_indicator_table

DECLARATION = {
    "key": {"field": "COMMUNITY AREA"},
    "indicators": {
        "population": {"column": "POPULATION"},
        "poverty_rate": {"column": "PCT POVERTY", "kind": "proportion", "percent": True},
        "per_capita_income": {"column": "INCOME", "kind": "median", "label": "Per-capita income"},
        "hardship_index": {"column": "HARDSHIP", "kind": "index"},
    },
}
CSV = """COMMUNITY AREA,POPULATION,PCT POVERTY,INCOME,HARDSHIP
Lincoln  Park,"64,116",12.3,"$71,551",2
LOGAN SQUARE,"73,595",16.8,"$31,908",23
Ward's Edge,"1,000",,"$12,000",
Nowhere,"5",1.0,"$1",1
Rogers Park,"54,991",n/a,"$23,939",39
,"10",1.0,"$1",1
"""
AREAS = [("LINCOLN PARK", "Lincoln Park"), ("LOGAN SQUARE", "Logan Square"),
         ("WARDS EDGE", "Ward's Edge"), ("ROGERS PARK", "Rogers Park")]  # fmt: skip


def split(tmp_path: Path, declaration: dict, csv_text: str = CSV, areas=AREAS):
    table = parse_indicator_table(declaration, "city.yml: indicators")
    source = tmp_path / "hardship.csv"
    source.write_text(csv_text)
    raw = land_csv(source, tmp_path / "raw.parquet", load_id="t").path
    con = duckdb.connect()
    con.execute("CREATE TABLE units (unit_id VARCHAR, unit_name VARCHAR)")
    con.executemany("INSERT INTO units VALUES (?, ?)", areas)
    result = split_indicator_table(
        con,
        table,
        units="units",
        id_kind="auto",
        raw_parquet=raw,
        quarantine_path=tmp_path / "quarantine.parquet",
        conformed_path=tmp_path / "conformed.parquet",
        cv_threshold_pct=30.0,
    )
    return result, pl.read_parquet(tmp_path / "conformed.parquet")


def test_rows_become_long_indicators_keyed_like_the_areas(tmp_path: Path) -> None:
    _, conformed = split(tmp_path, DECLARATION)
    values = {(r["geoid"], r["indicator"]): r for r in conformed.iter_rows(named=True)}

    assert values[("LINCOLN PARK", "population")]["estimate"] == 64116
    assert values[("LINCOLN PARK", "poverty_rate")]["estimate"] == pytest.approx(0.123)
    assert values[("LOGAN SQUARE", "per_capita_income")]["estimate"] == 31908
    assert values[("LOGAN SQUARE", "hardship_index")]["kind"] == "index"
    assert values[("LOGAN SQUARE", "per_capita_income")]["label"] == "Per-capita income"
    # a blank cell is a missing value, flagged unreliable, not a broken row
    assert values[("WARDS EDGE", "poverty_rate")]["estimate"] is None
    assert values[("WARDS EDGE", "poverty_rate")]["unreliable"] is True


def test_nothing_is_lost_rows_in_equal_rows_out_plus_quarantined(tmp_path: Path) -> None:
    result, conformed = split(tmp_path, DECLARATION)
    quarantined = pl.read_parquet(tmp_path / "quarantine.parquet")
    reasons = {r["COMMUNITY AREA"]: r["_reason_codes"] for r in quarantined.iter_rows(named=True)}

    assert result.raw_rows == 6 == result.clean_rows + result.quarantined_rows
    assert conformed.height == result.clean_rows * 4
    assert reasons == {
        "Nowhere": ["area_unknown"],  # no area is called that
        "Rogers Park": ["value_invalid"],  # "n/a" is not a number
        None: ["missing_key"],
    }


def test_a_table_keyed_by_name_matches_areas_that_have_codes(tmp_path: Path) -> None:
    coded = [("1", "Lincoln Park"), ("2", "Logan Square"), ("3", "Ward's Edge"),
             ("4", "Rogers Park")]  # fmt: skip
    declaration = {**DECLARATION, "key": {"field": "COMMUNITY AREA", "match": "name"}}
    result, conformed = split(tmp_path, declaration, areas=coded)

    assert set(conformed["geoid"]) == {"1", "2", "3"}
    assert result.by_reason["area_unknown"] == 1


def test_a_proportion_with_a_universe_carries_its_counts(tmp_path: Path) -> None:
    declaration = {
        "key": "AREA",
        "indicators": {
            "poverty_rate": {"column": "RATE", "kind": "proportion", "universe": "HOUSEHOLDS"}
        },
    }
    _, conformed = split(tmp_path, declaration, "AREA,RATE,HOUSEHOLDS\n1,0.25,400\n",
                         areas=[("1", "One")])  # fmt: skip
    rows = {r["indicator"]: r for r in conformed.iter_rows(named=True)}

    assert rows["poverty_rate"]["numerator"] == "poverty_rate_count"
    assert rows["poverty_rate_count"]["estimate"] == 100
    assert rows["poverty_rate_universe"]["estimate"] == 400


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"indicators": {"x": "X"}}, "indicators.key: the column that names each row's area"),
        ({"key": "K"}, "indicators.indicators: map each indicator to its column"),
        ({"key": "K", "indicators": {"Bad Name": "X"}}, "an indicator name is a lower-case"),
        ({"key": "K", "indicators": {"x": {"column": "X", "kind": "ratio"}}}, "x.kind: one of"),
        ({"key": "K", "indicators": {"x": {"column": "X", "kind": "rate", "percent": True}}},
         "x.percent: true or false, and only for a proportion"),
        ({"key": {"field": "K", "match": "code"}}, "key.match: id or name"),
    ],
)  # fmt: skip
def test_declaration_mistakes_name_the_key(declaration: dict, message: str) -> None:
    with pytest.raises(IndicatorTableError, match=message):
        parse_indicator_table(declaration, "city.yml: indicators")


# --- area keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("1400000US53033000100", "53033000100"),
        ("53033000100", "53033000100"),
        ("009", "9"),
        ("Lincoln  Park", "LINCOLN PARK"),
        ("St. John's Wood", "ST JOHNS WOOD"),
        ("  ", None),
    ],
)
def test_auto_keys_read_geoids_codes_and_names(value: str, key: str | None) -> None:
    assert normalize_area_id(value, "auto") == key


# --- reading files as published --------------------------------------------------------------


def test_repeated_header_names_land_positionally() -> None:
    assert positional_names(["Type", " Name ", "Type", "", "Type"]) == [
        "Type", "Name", "Type#2", "column_4", "Type#3",
    ]  # fmt: skip


def test_a_latin1_semicolon_file_with_renames_and_skips(tmp_path: Path) -> None:
    source = tmp_path / "clinics.csv"
    source.write_bytes("Site;Type;Type;Notes\nCafé Clinic;Clinic;Mon-Fri;x\n".encode("latin-1"))
    read = ReadOptions(rename={"Type#2": "Hours"}, skip=("Notes",), encoding="latin-1",
                       delimiter=";")  # fmt: skip

    landed = pl.read_parquet(land_csv(source, tmp_path / "l.parquet", load_id="t", read=read).path)

    assert landed.select("Site", "Type", "Hours").row(0) == ("Café Clinic", "Clinic", "Mon-Fri")


def test_renaming_a_column_the_file_lacks_names_both(tmp_path: Path) -> None:
    source = tmp_path / "clinics.csv"
    source.write_text("Site,Type\nA,B\n")

    with pytest.raises(ValueError, match=r"not in the file: \['Kind'\]; the file has"):
        land_csv(source, tmp_path / "l.parquet", load_id="t",
                 read=ReadOptions(rename={"Kind": "Type"}))  # fmt: skip


def test_a_sentinel_or_out_of_range_value_quarantines_its_row(tmp_path: Path) -> None:
    rows = (
        "COMMUNITY AREA,POPULATION,PCT POVERTY,INCOME,HARDSHIP\n"
        'Lincoln Park,"64,116",12.3,"$-666,666,666",2\n'  # a Census sentinel in a city's table
        "Logan Square,100,112.0,10,-4\n"  # above 100 %; an index may be negative
        "Rogers Park,100,10.0,10,-4\n"
    )
    _, conformed = split(tmp_path, DECLARATION, rows)
    quarantined = pl.read_parquet(tmp_path / "quarantine.parquet")

    reasons = {r["COMMUNITY AREA"]: r["_reason_codes"] for r in quarantined.iter_rows(named=True)}
    assert reasons == {
        "Lincoln Park": ["value_invalid"],
        "Logan Square": ["value_invalid"],
    }
    assert set(conformed["geoid"]) == {"ROGERS PARK"}
    index = conformed.filter(pl.col("indicator") == "hardship_index")["estimate"].to_list()
    assert index == [-4.0]
