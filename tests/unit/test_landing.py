"""Raw landing: files land exactly as published, as strings, with lineage, atomically."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.landing import (
    LINEAGE_COLUMNS,
    LandingResult,
    land_census_json,
    land_csv,
    land_geojson,
)
from crimemap.ingestion.layouts import FACILITY_COLUMNS, SEATTLE_SPD_COLUMNS
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import ACS_COLUMNS, SampleCityConfig, SampleCityFiles

LOADED_AT = datetime(2026, 1, 15, 8, 30, tzinfo=timezone(timedelta(hours=-8)))


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> SampleCityFiles:
    return generate_sample_city(
        tmp_path_factory.mktemp("city"), SampleCityConfig(n_incidents=1_000)
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def assert_lineage(frame: pl.DataFrame, source_name: str, load_id: str) -> None:
    assert frame.columns[-4:] == list(LINEAGE_COLUMNS)
    assert frame.schema["_source_file"] == pl.String
    assert frame.schema["_row_number"] == pl.Int64
    assert frame.schema["_ingested_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["_load_id"] == pl.String
    assert frame.get_column("_source_file").unique().to_list() == [source_name]
    assert frame.get_column("_load_id").unique().to_list() == [load_id]
    assert frame.get_column("_row_number").to_list() == list(range(1, frame.height + 1))


# CSV -----------------------------------------------------------------------------------------


def test_csv_lands_every_column_as_published_string(tmp_path: Path) -> None:
    source = write(
        tmp_path / "codes.csv",
        b"district,code,amount,when\n009,0010,1.50,01/02/2025 03:04:05 PM\n9,10,,\n",
    )
    result = land_csv(
        source, tmp_path / "raw" / "codes" / "codes.parquet", load_id="L1", ingested_at=LOADED_AT
    )
    landed = pl.read_parquet(result.path)
    assert result == LandingResult(
        path=tmp_path / "raw" / "codes" / "codes.parquet",
        rows=2,
        columns=("district", "code", "amount", "when", *LINEAGE_COLUMNS),
    )
    assert all(landed.schema[c] == pl.String for c in ("district", "code", "amount", "when"))
    assert landed.get_column("district").to_list() == ["009", "9"]
    assert landed.get_column("code").to_list() == ["0010", "10"]
    assert landed.get_column("amount").to_list() == ["1.50", None]
    assert landed.get_column("when").to_list() == ["01/02/2025 03:04:05 PM", None]
    assert_lineage(landed, "codes.csv", "L1")
    assert landed.get_column("_ingested_at").to_list() == [LOADED_AT.astimezone(UTC)] * 2


def test_csv_with_bom_and_spaced_headers(tmp_path: Path) -> None:
    source = write(
        tmp_path / "bom.csv", "\ufeff Report Number ,Offense ID  ,MCPP\n007,42,SODO\n".encode()
    )
    result = land_csv(source, tmp_path / "bom.parquet", load_id="L2")
    landed = pl.read_parquet(result.path)
    assert landed.columns[:3] == ["Report Number", "Offense ID", "MCPP"]
    assert landed.row(0)[:3] == ("007", "42", "SODO")


def test_csv_multiline_quoted_field_is_one_record(tmp_path: Path) -> None:
    source = write(
        tmp_path / "notes.csv",
        b'id,note\r\n1,"first line\r\nsecond, with comma"\r\n2,"say ""hi"""\r\n3,plain\r\n',
    )
    landed = pl.read_parquet(land_csv(source, tmp_path / "notes.parquet", load_id="L3").path)
    assert landed.get_column("id").to_list() == ["1", "2", "3"]
    assert landed.get_column("note").to_list() == [
        "first line\r\nsecond, with comma",
        'say "hi"',
        "plain",
    ]
    assert landed.get_column("_row_number").to_list() == [1, 2, 3]


def test_header_only_csv_lands_zero_rows(tmp_path: Path) -> None:
    source = write(tmp_path / "header.csv", b"a,b\n")
    result = land_csv(source, tmp_path / "header.parquet", load_id="L4")
    assert result.rows == 0
    assert pl.read_parquet(result.path).columns == ["a", "b", *LINEAGE_COLUMNS]


def test_sample_police_csv_lands_whole(city: SampleCityFiles, tmp_path: Path) -> None:
    dest = tmp_path / "raw" / "police_incidents" / "police_incidents.parquet"
    result = land_csv(city.police_csv, dest, load_id="sample-1", ingested_at=LOADED_AT)
    published = pl.read_csv(city.police_csv, infer_schema=False)
    landed = pl.read_parquet(dest)
    assert result.rows == published.height == 1_000
    assert landed.columns == [*SEATTLE_SPD_COLUMNS, *LINEAGE_COLUMNS]
    assert landed.select(SEATTLE_SPD_COLUMNS).equals(published)
    assert_lineage(landed, "seattle_spd_crime_data.csv", "sample-1")
    assert "/" not in landed.get_column("_source_file")[0]
    # DuckDB (and so dbt) reads the lineage types the contract names.
    with connect(extension_directory=tmp_path / "ext") as con:
        types = dict(
            con.sql(f"select column_name, column_type from (describe '{dest}')").fetchall()
        )
    assert types["_ingested_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["_row_number"] == "BIGINT"
    assert types["Offense Code"] == types["_source_file"] == types["_load_id"] == "VARCHAR"


def test_sample_facilities_csv(city: SampleCityFiles, tmp_path: Path) -> None:
    result = land_csv(city.facilities_csv, tmp_path / "facilities.parquet", load_id="f")
    assert result.columns == (*FACILITY_COLUMNS, *LINEAGE_COLUMNS)
    assert result.rows == 30


# GeoJSON -------------------------------------------------------------------------------------


def test_geojson_one_row_per_feature_with_geometry_text(
    city: SampleCityFiles, tmp_path: Path
) -> None:
    result = land_geojson(city.areas_geojson, tmp_path / "areas.parquet", load_id="g")
    landed = pl.read_parquet(result.path)
    features = json.loads(city.areas_geojson.read_text())["features"]
    assert result.rows == len(features) == 120
    assert landed.columns == ["GEOID", "NAME", "geometry", *LINEAGE_COLUMNS]
    assert landed.get_column("GEOID").to_list() == [f["properties"]["GEOID"] for f in features]
    assert [json.loads(g) for g in landed.get_column("geometry")] == [
        f["geometry"] for f in features
    ]
    assert_lineage(landed, "areas.geojson", "g")


def test_geojson_properties_keep_published_text(tmp_path: Path) -> None:
    doc = (
        '\ufeff{"type":"FeatureCollection","features":['
        '{"type":"Feature","properties":{"id":9,"share":1.50,"ok":true,"tags":["a"],"x":null},'
        '"geometry":{"type":"Point","coordinates":[-122.3300,47.60]}},'
        '{"type":"Feature","properties":{"id":"009","extra":"y"},"geometry":null}]}'
    )
    source = write(tmp_path / "points.geojson", doc.encode())
    landed = pl.read_parquet(land_geojson(source, tmp_path / "p.parquet", load_id="g").path)
    assert landed.columns[:6] == ["id", "share", "ok", "tags", "x", "extra"]
    assert landed.get_column("id").to_list() == ["9", "009"]
    assert landed.get_column("share").to_list() == ["1.50", None]
    assert landed.get_column("ok").to_list() == ["true", None]
    assert landed.get_column("tags").to_list() == ['["a"]', None]
    assert landed.get_column("x").to_list() == [None, None]
    assert landed.get_column("geometry").to_list() == [
        '{"type":"Point","coordinates":[-122.3300,47.60]}',
        None,
    ]


# Census JSON ---------------------------------------------------------------------------------


def test_census_json_header_becomes_columns(city: SampleCityFiles, tmp_path: Path) -> None:
    result = land_census_json(city.acs_json, tmp_path / "acs.parquet", load_id="c")
    landed = pl.read_parquet(result.path)
    assert landed.columns == [*ACS_COLUMNS, *LINEAGE_COLUMNS]
    assert result.rows == 121  # 120 tracts and the one duplicated row the sample plants
    assert landed.get_column("tract")[0] == "000100"  # leading zeros survive
    assert landed.get_column("state").unique().to_list() == ["53"]
    assert_lineage(landed, "acs_5yr_tract.json", "c")


def test_census_json_numbers_and_nulls(tmp_path: Path) -> None:
    source = write(tmp_path / "acs.json", b'[["NAME","B19013_001E"],["a",-666666666],["b",null]]')
    landed = pl.read_parquet(land_census_json(source, tmp_path / "a.parquet", load_id="c").path)
    assert landed.get_column("B19013_001E").to_list() == ["-666666666", None]


# Failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lander", [land_csv, land_geojson, land_census_json])
def test_missing_file_is_named(lander, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.dat"):
        lander(tmp_path / "nowhere.dat", tmp_path / "out.parquet", load_id="x")


@pytest.mark.parametrize("lander", [land_csv, land_geojson, land_census_json])
def test_empty_file_is_rejected(lander, tmp_path: Path) -> None:
    source = write(tmp_path / "empty.dat", b"")
    with pytest.raises(ValueError, match=r"empty\.dat"):
        lander(source, tmp_path / "out.parquet", load_id="x")
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize(
    ("lander", "content"),
    [
        (land_geojson, b'{"type":"FeatureCollection","features":['),
        (land_geojson, b'{"type":"Feature","properties":{}}'),
        (land_census_json, b'[["NAME","tract"],["a"'),
        (land_census_json, b'[["NAME","tract"],["a","1","extra"]]'),
        (land_census_json, b'{"NAME":"a"}'),
        (land_csv, b"a,_row_number\n1,2\n"),
    ],
)
def test_bad_content_raises_value_error_naming_the_file(
    lander, content: bytes, tmp_path: Path
) -> None:
    source = write(tmp_path / "bad.input", content)
    with pytest.raises(ValueError, match=r"bad\.input"):
        lander(source, tmp_path / "out.parquet", load_id="x")
    assert list(tmp_path.iterdir()) == [source]  # nothing half-written left behind


def test_naive_ingested_at_and_blank_load_id_are_rejected(tmp_path: Path) -> None:
    source = write(tmp_path / "a.csv", b"a\n1\n")
    with pytest.raises(ValueError, match="timezone"):
        land_csv(source, tmp_path / "a.parquet", load_id="x", ingested_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="load_id"):
        land_csv(source, tmp_path / "a.parquet", load_id=" ")


def test_landing_replaces_atomically(tmp_path: Path) -> None:
    dest = tmp_path / "raw" / "s.parquet"
    first = write(tmp_path / "one.csv", b"a\n1\n2\n")
    second = write(tmp_path / "two.csv", b"a\n3\n")
    land_csv(first, dest, load_id="1")
    land_csv(second, dest, load_id="2")
    assert [p.name for p in dest.parent.iterdir()] == ["s.parquet"]  # no temp files remain
    landed = pl.read_parquet(dest)
    assert landed.get_column("a").to_list() == ["3"]
    assert landed.get_column("_load_id").to_list() == ["2"]


def test_blank_header_cell_gets_a_positional_name(tmp_path: Path) -> None:
    source = write(tmp_path / "trailing.csv", b"a,b,\n1,2,\n")
    result = land_csv(source, tmp_path / "t.parquet", load_id="x")
    assert result.columns[:3] == ("a", "b", "column_3")
