"""The sample city's survey and public-record sources: layouts, consistency, planted patterns and
defects, and the extra boundary formats."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.census import SOCIAL_SERVICES_TABLE_SET
from crimemap.ingestion.facilities import FACILITY_TYPES
from crimemap.ingestion.layouts import FACILITY_COLUMNS
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.incidents import SampleCity, build_sample_city
from crimemap.samplecity.records import (
    CONTROLLED_MOE,
    NOT_COMPUTED,
    SAMPLE_FACILITY_TYPE_MAP,
    SERVICE_REQUEST_DEFECTS,
    SF311_COLUMNS,
    SPLIT_NEIGHBOURHOOD,
    SURVEY_COLUMNS,
    SURVEY_DEFECTS,
    UNMAPPED_FACILITY_LABEL,
    acs_records,
    facility_directory,
    neighbourhoods,
    resident_survey,
    service_requests,
    write_areas_shapefile,
    write_areas_wkt_csv,
    write_facilities_geojson,
    write_neighbourhoods_geojson,
)
from crimemap.samplecity.settings import ACS_COLUMNS, SampleCityConfig, SampleCityFiles

CONFIG = SampleCityConfig(n_incidents=2_000)
CLEAN_CONFIG = dataclasses.replace(CONFIG, defect_rate=0.0)
UNDER_18 = next(i for i in SOCIAL_SERVICES_TABLE_SET if i.name == "under_18").variables
AGE_65_PLUS = next(i for i in SOCIAL_SERVICES_TABLE_SET if i.name == "age_65_plus").variables
SERVICE_NAMES = {
    "Encampments",
    "Street and Sidewalk Cleaning",
    "Graffiti",
    "Streetlights",
    "Abandoned Vehicle",
    "Noise Report",
    "Sewer Issues",
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleCityFiles:
    return generate_sample_city(tmp_path_factory.mktemp("city"), CONFIG)


@pytest.fixture(scope="module")
def city() -> SampleCity:
    return build_sample_city(CONFIG)


@pytest.fixture(scope="module")
def truth(sample: SampleCityFiles) -> dict:
    return json.loads(sample.truth_json.read_text())


@pytest.fixture(scope="module")
def con(
    tmp_path_factory: pytest.TempPathFactory, sample: SampleCityFiles
) -> duckdb.DuckDBPyConnection:
    con = connect(extension_directory=tmp_path_factory.mktemp("duckdb_ext"))
    source = sample.areas_geojson
    con.execute(f"create table areas as select GEOID as area_id, geom from ST_Read('{source}')")
    return con


@pytest.fixture(scope="module")
def acs(sample: SampleCityFiles) -> pl.DataFrame:
    rows = json.loads(sample.acs_json.read_text())
    return pl.DataFrame(rows[1:], schema=rows[0], orient="row").with_columns(
        (pl.col("state") + pl.col("county") + pl.col("tract")).alias("area_id")
    )


@pytest.fixture(scope="module")
def survey(sample: SampleCityFiles) -> pl.DataFrame:
    return pl.read_csv(sample.survey_csv, infer_schema=False).with_row_index("row")


@pytest.fixture(scope="module")
def requests(sample: SampleCityFiles) -> pl.DataFrame:
    return pl.read_csv(sample.service_requests_csv, infer_schema=False).with_row_index("row")


def areas_of_points(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, key: str, lon: str, lat: str
) -> dict[str, list[str]]:
    """Key -> GEOIDs of the areas covering the point (DuckDB spatial, the published polygons)."""
    points = frame.select(
        pl.col(key).alias("key"),
        pl.col(lon).cast(pl.Float64).alias("lon"),
        pl.col(lat).cast(pl.Float64).alias("lat"),
    ).drop_nulls()
    con.register("points_to_locate", points)
    rows = con.sql(
        "select p.key, list(a.area_id order by a.area_id) from points_to_locate p "
        "join areas a on ST_Covers(a.geom, ST_Point(p.lon, p.lat)) group by p.key"
    ).fetchall()
    con.unregister("points_to_locate")
    return dict(rows)


def incidents_per_km2(sample: SampleCityFiles) -> dict[str, float]:
    truth = json.loads(sample.truth_json.read_text())
    incidents = pl.read_parquet(sample.truth_incidents).filter(pl.col("defect").is_null())
    counts = dict(incidents.group_by("area_id").len().iter_rows())
    areas = json.loads(sample.areas_geojson.read_text())["features"]
    km2 = {f["properties"]["GEOID"]: ring_km2(f["geometry"]["coordinates"][0]) for f in areas}
    return {a["area_id"]: counts.get(a["area_id"], 0) / km2[a["area_id"]] for a in truth["areas"]}


def ring_km2(ring: list[list[float]]) -> float:
    x, y = np.array(ring).T
    x = x * 111.320 * math.cos(math.radians(47.6))
    y = y * 110.574
    return float(0.5 * abs(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1])))


def rho(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
    return float(spearmanr(a, b, nan_policy="omit").statistic)


def normalized_label(label: str) -> str:
    return " ".join(label.split()).lower()


def geoid_key(text: str | None) -> str | None:
    """The contract's ``geoid`` key normalization."""
    digits = re.sub(r"\D", "", text or "")
    return digits[-11:].rjust(11, "0") if digits else None


# Determinism -----------------------------------------------------------------------------------


def test_renderers_are_deterministic(city: SampleCity, tmp_path: Path) -> None:
    again = build_sample_city(CONFIG)
    assert acs_records(city).rows == acs_records(again).rows
    assert facility_directory(city).frame.equals(facility_directory(again).frame)
    assert resident_survey(city).frame.equals(resident_survey(again).frame)
    assert service_requests(city).frame.equals(service_requests(again).frame)
    for write in (write_facilities_geojson, write_neighbourhoods_geojson, write_areas_wkt_csv):
        first, second = tmp_path / f"{write.__name__}_1", tmp_path / f"{write.__name__}_2"
        write(city, first)
        write(again, second)
        assert first.read_bytes() == second.read_bytes(), write.__name__


def test_another_seed_gives_other_records() -> None:
    other = build_sample_city(dataclasses.replace(CONFIG, seed=CONFIG.seed + 1))
    city = build_sample_city(CONFIG)
    assert acs_records(other).rows != acs_records(city).rows
    assert not resident_survey(other).frame.equals(resident_survey(city).frame)
    assert not service_requests(other).frame.equals(service_requests(city).frame)


# ACS ---------------------------------------------------------------------------------------------


def test_acs_header_is_the_census_api_shape_of_the_table_set(sample: SampleCityFiles) -> None:
    header = json.loads(sample.acs_json.read_text())[0]
    assert header == list(ACS_COLUMNS)
    variables = [c[:-1] for c in header[2:-3]]
    assert variables[::2] == variables[1::2]  # estimate, then its margin
    assert [c[-1] for c in header[2:-3]] == ["E", "M"] * (len(variables) // 2)
    needed = {v for i in SOCIAL_SERVICES_TABLE_SET for v in i.variables}
    assert set(variables) == needed


def test_acs_age_cells_add_up(acs: pl.DataFrame, truth: dict) -> None:
    first = acs.unique("area_id", keep="first", maintain_order=True)
    invalid = {g for g, r in truth["acs"]["defects"].items() if r == "value_invalid"}
    valid = first.filter(~pl.col("area_id").is_in(sorted(invalid)))
    assert valid.height == first.height - 1
    deprivation = {a["area_id"]: a["deprivation"] for a in truth["areas"]}
    shares, z = [], []
    for row in valid.iter_rows(named=True):
        total = int(row["B01001_001E"])
        assert total == int(row["B01003_001E"])
        under_18 = sum(int(row[f"{v}E"]) for v in UNDER_18)
        over_65 = sum(int(row[f"{v}E"]) for v in AGE_65_PLUS)
        expected = truth["acs"]["indicators"][row["area_id"]]
        assert under_18 / total == expected["share_under_18"]
        assert over_65 / total == expected["share_65_plus"]
        assert 0.14 <= under_18 / total <= 0.29 and 0.05 <= over_65 / total <= 0.27
        assert under_18 + over_65 < total
        shares.append(under_18 / total)
        z.append(deprivation[row["area_id"]])
    assert rho(shares, z) > 0.5  # deprived areas are younger


def test_acs_margins_are_realistic(acs: pl.DataFrame, truth: dict) -> None:
    first = acs.unique("area_id", keep="first", maintain_order=True)
    controlled = set(truth["acs"]["controlled_moe"])
    not_computed = set(truth["acs"]["not_computed"])
    assert len(controlled) == 2 and not controlled & not_computed
    margins = [c for c in ACS_COLUMNS if c.endswith("M")]
    sentinels = first.select(
        pl.col("area_id"), *(pl.col(c).str.starts_with("-").alias(c) for c in margins)
    )
    marked = {
        (row["area_id"], c) for row in sentinels.iter_rows(named=True) for c in margins if row[c]
    }
    assert marked == {(g, "B01001_001M") for g in controlled} | {
        (g, "B19013_001M") for g in not_computed
    }
    assert set(first.filter(pl.col("B01001_001M") == CONTROLLED_MOE)["area_id"]) == controlled
    cells, cvs = [], []
    for variable in [c[:-1] for c in margins if c != "B19013_001M"]:
        pairs = first.select(
            pl.col(f"{variable}E").cast(pl.Int64, strict=False).alias("e"),
            pl.col(f"{variable}M").cast(pl.Int64).alias("m"),
        ).filter((pl.col("m") >= 0) & pl.col("e").is_not_null())
        assert (pairs["m"] >= 10).all(), variable
        positive = pairs.filter(pl.col("e") > 0)
        cells.extend(positive["e"].to_list())
        cvs.extend((positive["m"] / 1.645 / positive["e"]).to_list())
    assert rho(cells, cvs) < -0.8  # the smaller the estimate, the larger its relative error


def test_acs_sentinels_and_planted_defects(acs: pl.DataFrame, truth: dict) -> None:
    defects = truth["acs"]["defects"]
    assert sorted(defects.values()) == ["duplicate_record", "value_invalid"]
    twice = acs.filter(pl.col("area_id").is_duplicated())
    assert twice.height == 2 and twice["area_id"].n_unique() == 1
    (duplicated,) = set(twice["area_id"])
    assert defects[duplicated] == "duplicate_record"
    assert twice.row(0) == twice.row(1)
    values = acs.select(pl.exclude("NAME", "GEO_ID", "area_id"))
    numeric = values.select(pl.all().cast(pl.Int64, strict=False).is_null().sum()).row(0)
    invalid = [c for c, n in zip(values.columns, numeric, strict=True) if n]
    assert len(invalid) == 1 and int(numeric[values.columns.index(invalid[0])]) == 1
    (bad_geoid,) = acs.filter(pl.col(invalid[0]).cast(pl.Int64, strict=False).is_null())["area_id"]
    assert defects[bad_geoid] == "value_invalid"
    assert acs.filter(pl.col("B19013_001E") == NOT_COMPUTED)["area_id"].to_list() == list(
        truth["acs"]["not_computed"]
    )
    small = {a["area_id"] for a in truth["areas"] if a["small_population"]}
    assert set(truth["acs"]["not_computed"]) <= small
    assert (
        truth["acs"]["indicators"][next(iter(truth["acs"]["not_computed"]))][
            "median_household_income"
        ]
        is None
    )


def test_acs_truth_matches_the_published_estimates(acs: pl.DataFrame, truth: dict) -> None:
    first = acs.unique("area_id", keep="first", maintain_order=True)
    for row in first.iter_rows(named=True):
        expected = truth["acs"]["indicators"][row["area_id"]]
        assert expected["population"] == int(row["B01003_001E"])
        assert expected["poverty_rate"] == int(row["B17001_002E"]) / int(row["B17001_001E"])
        assert expected["unemployment_rate"] == int(row["B23025_005E"]) / int(row["B23025_003E"])
        if row["B19013_001E"] != NOT_COMPUTED:
            assert expected["median_household_income"] == int(row["B19013_001E"])


def test_small_areas_have_unreliable_indicators(acs: pl.DataFrame, truth: dict) -> None:
    unreliable = truth["acs"]["unreliable"]
    small = [a["area_id"] for a in truth["areas"] if a["small_population"]]
    for geoid in small:
        assert len(unreliable[geoid]) >= 4, geoid
        assert "under_18" in unreliable[geoid]
    large = [a["area_id"] for a in truth["areas"] if not a["small_population"]]
    assert not any("population" in unreliable.get(g, []) for g in large)
    # The truth's flags follow from the published margins (a sum's margin: root of squares).
    first = acs.unique("area_id", keep="first", maintain_order=True)
    for row in first.iter_rows(named=True):
        estimate = sum(int(row[f"{v}E"]) for v in UNDER_18 if row[f"{v}E"] != "N/A")
        moe = math.sqrt(sum(int(row[f"{v}M"]) ** 2 for v in UNDER_18))
        if all(row[f"{v}E"] != "N/A" for v in UNDER_18):
            flagged = moe / 1.645 / estimate * 100 > 30
            assert flagged == ("under_18" in unreliable.get(row["area_id"], [])), row["area_id"]


def test_acs_without_defects(city: SampleCity) -> None:
    clean = acs_records(build_sample_city(CLEAN_CONFIG))
    planted = acs_records(city)
    assert clean.truth["defects"] == {}
    assert len(clean.rows) == city.grid.n_areas + 1
    assert all(v != "N/A" for row in clean.rows for v in row)
    assert clean.truth["indicators"] == planted.truth["indicators"]


# Facilities ------------------------------------------------------------------------------------


def test_facility_labels_are_the_publishers(sample: SampleCityFiles, truth: dict) -> None:
    facilities = pl.read_csv(sample.facilities_csv, infer_schema=False)
    assert tuple(facilities.columns) == FACILITY_COLUMNS
    assert set(SAMPLE_FACILITY_TYPE_MAP.values()) == set(FACILITY_TYPES)
    assert not set(SAMPLE_FACILITY_TYPE_MAP) & set(FACILITY_TYPES)  # labels, not canonical names
    type_map = {normalized_label(k): v for k, v in SAMPLE_FACILITY_TYPE_MAP.items()}
    labels = facilities["facility_type"].to_list()
    assert labels.count(UNMAPPED_FACILITY_LABEL) == 1
    written_otherwise = [t for t in labels if t not in SAMPLE_FACILITY_TYPE_MAP]
    assert len(written_otherwise) == 4  # three case/space variants and the unmapped label
    assert {t.strip() for t in written_otherwise} != set(written_otherwise)
    for fid, label in zip(facilities["facility_id"], labels, strict=True):
        assert truth["facilities"][fid]["type"] == type_map.get(normalized_label(label)), fid
    published = {t for t in labels if t in SAMPLE_FACILITY_TYPE_MAP}
    assert len(published) >= len(FACILITY_TYPES) + 2  # several labels for one type


def test_facility_truth_locates_and_plants_once(
    sample: SampleCityFiles, truth: dict, con: duckdb.DuckDBPyConnection
) -> None:
    facilities = pl.read_csv(sample.facilities_csv, infer_schema=False)
    located = areas_of_points(con, facilities, "facility_id", "longitude", "latitude")
    defects = {fid: t["defect"] for fid, t in truth["facilities"].items() if t["defect"]}
    assert sorted(defects.values()) == sorted(
        ["out_of_jurisdiction", "type_unmapped", "coordinates_missing"]
    )
    for fid, expected in truth["facilities"].items():
        if expected["defect"] in ("out_of_jurisdiction", "coordinates_missing"):
            assert fid not in located and expected["area_id"] is None
        else:
            assert located[fid] == [expected["area_id"]], fid
    missing = facilities.filter(pl.col("latitude").is_null() & pl.col("longitude").is_null())
    assert missing["facility_id"].to_list() == [
        f for f, d in defects.items() if d == "coordinates_missing"
    ]
    (far,) = [f for f, d in defects.items() if d == "out_of_jurisdiction"]
    row = facilities.filter(pl.col("facility_id") == far).row(0, named=True)
    distance_km = math.hypot(
        (float(row["longitude"]) + 122.33) * 75.0, (float(row["latitude"]) - 47.6) * 110.6
    )
    assert distance_km > 25


def test_facilities_geojson_matches_the_csv(
    city: SampleCity, sample: SampleCityFiles, tmp_path: Path
) -> None:
    path = write_facilities_geojson(city, tmp_path / "facilities.geojson")
    doc = json.loads(path.read_text())
    csv = pl.read_csv(sample.facilities_csv, infer_schema=False)
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == csv.height
    for feature, row in zip(doc["features"], csv.iter_rows(named=True), strict=True):
        assert list(feature["properties"]) == [
            c for c in FACILITY_COLUMNS if c not in ("latitude", "longitude")
        ]
        assert feature["properties"] == {k: row[k] for k in feature["properties"]}
        if row["longitude"] is None:
            assert feature["geometry"] is None
        else:
            assert feature["geometry"] == {
                "type": "Point",
                "coordinates": [float(row["longitude"]), float(row["latitude"])],
            }


def test_facility_places_keep_the_canonical_table(city: SampleCity, truth: dict) -> None:
    published = facility_directory(city).frame
    moved = {f for f, t in truth["facilities"].items() if t["defect"] != "type_unmapped" and t[
        "defect"
    ]}  # fmt: skip
    same = published.filter(~pl.col("facility_id").is_in(sorted(moved))).drop("facility_type")
    canonical = city.facilities.filter(~pl.col("facility_id").is_in(sorted(moved)))
    assert same.equals(canonical.drop("facility_type"))
    assert len(moved) == 2


# Resident survey ------------------------------------------------------------------------------


def test_survey_layout(sample: SampleCityFiles, survey: pl.DataFrame) -> None:
    header = sample.survey_csv.read_text().splitlines()[0]
    assert header == ",".join(SURVEY_COLUMNS)
    assert 2_700 <= survey.height <= 3_300
    assert survey["submitted_at"].str.contains(r"^2025-0[45]-\d\d$").all()
    weights = survey["weight"].cast(pl.Float64)
    positive = weights.filter(weights > 0)
    assert positive.min() >= 0.5 and positive.max() <= 2.5
    for question in SURVEY_COLUMNS[5:12]:
        blank = survey[question].null_count() / survey.height
        assert 0.01 < blank < 0.1, question
    by_tract = survey.filter(pl.col("tract_geoid").is_not_null())
    assert 0.4 < by_tract.height / survey.height < 0.6
    assert by_tract["latitude"].null_count() == by_tract.height
    by_point = survey.filter(pl.col("tract_geoid").is_null() & pl.col("latitude").is_not_null())
    assert by_tract.height + by_point.height == survey.height - 1  # one row with no location
    written = by_tract["tract_geoid"]
    assert (written != written.map_elements(geoid_key, return_dtype=pl.String)).sum() > 50


def test_survey_truth_matches_the_file(
    survey: pl.DataFrame, truth: dict, con: duckdb.DuckDBPyConnection
) -> None:
    defects = truth["surveys"]["defects"]
    geoids = {a["area_id"] for a in truth["areas"]}
    duplicate = next(r for r, code in defects.items() if code == "duplicate_record")
    accepted = survey.filter(
        ~pl.col("response_id").is_in([r for r in defects if r != duplicate])
        & (~pl.col("response_id").is_duplicated() | pl.col("response_id").is_first_distinct())
    )
    assert accepted.height == truth["surveys"]["accepted_rows"] == survey.height - 5
    points = areas_of_points(con, accepted, "response_id", "longitude", "latitude")
    assert all(len(found) == 1 for found in points.values())
    area = [
        geoid_key(t) if t is not None else points[r][0]
        for r, t in zip(accepted["response_id"], accepted["tract_geoid"], strict=True)
    ]
    assert set(area) <= geoids
    frame = accepted.with_columns(
        pl.Series("area_id", area), pl.col("weight").cast(pl.Float64)
    ).sort("row")
    for geoid, rows in frame.group_by("area_id"):
        expected = truth["surveys"]["areas"][geoid[0]]
        assert expected["respondents"] == rows.height
        for column, positive, key in (
            ("feel_safe_night", ["4", "5"], "feel_safe_night_share"),
            ("unmet_need_housing", ["Yes"], "unmet_need_housing_share"),
        ):
            answered = rows.filter(pl.col(column).is_not_null())
            share = answered.filter(pl.col(column).is_in(positive))["weight"].sum() / (
                answered["weight"].sum()
            )
            assert expected[key] == pytest.approx(share, rel=1e-12), (geoid, column)


def test_survey_respondents_are_uneven(truth: dict) -> None:
    counts = np.array([a["respondents"] for a in truth["surveys"]["areas"].values()])
    assert np.mean((counts >= 15) & (counts <= 50)) > 0.85
    assert 3 <= np.sum(counts < 10) <= 10
    small = [a["area_id"] for a in truth["areas"] if a["small_population"]]
    assert all(truth["surveys"]["areas"][g]["respondents"] < 10 for g in small)


def test_survey_answers_follow_the_city(sample: SampleCityFiles, truth: dict) -> None:
    crime = incidents_per_km2(sample)
    deprivation = {a["area_id"]: a["deprivation"] for a in truth["areas"]}
    per_area = truth["surveys"]["areas"]
    geoids = [g for g, a in per_area.items() if a["respondents"] >= 10]
    safe = [per_area[g]["feel_safe_night_share"] for g in geoids]
    housing = [per_area[g]["unmet_need_housing_share"] for g in geoids]
    assert rho(safe, [crime[g] for g in geoids]) < -0.4
    assert rho(housing, [deprivation[g] for g in geoids]) > 0.4


def test_survey_defects_are_planted_once_each(survey: pl.DataFrame, truth: dict) -> None:
    known = {a["area_id"] for a in truth["areas"]}
    likert = pl.any_horizontal(
        ~pl.col(c).is_in(["1", "2", "3", "4", "5"]) for c in ("feel_safe_day", "feel_safe_night")
    )
    rules = {
        "likert": likert.fill_null(False),
        "weight": pl.col("weight").cast(pl.Float64, strict=False).fill_null(0) <= 0,
        "coordinates_missing": pl.col("tract_geoid").is_null() & pl.col("latitude").is_null(),
        "area_unknown": ~pl.col("tract_geoid")
        .map_elements(geoid_key, return_dtype=pl.String)
        .is_in(sorted(known))
        .fill_null(True)
        & pl.col("tract_geoid").is_not_null(),
        "duplicate_record": ~pl.col("response_id").is_first_distinct(),
    }
    flags = survey.select("response_id", *(r.alias(n) for n, r in rules.items()))
    for name in rules:
        assert flags[name].sum() == 1, name
    assert flags.select(pl.sum_horizontal(*rules)).to_series().max() == 1
    code = {"likert": "value_invalid", "weight": "value_invalid"}
    planted = {flags.filter(pl.col(n))["response_id"][0]: code.get(n, n) for n in rules}
    assert planted == truth["surveys"]["defects"]
    assert sum(SURVEY_DEFECTS.values()) == len(planted)
    copies = survey.filter(pl.col("response_id").is_duplicated()).drop("row")
    assert copies.height == 2 and copies.n_unique() == 1


def test_survey_without_defects() -> None:
    records = resident_survey(build_sample_city(CLEAN_CONFIG))
    assert records.truth["defects"] == {}
    assert records.frame["response_id"].is_unique().all()
    assert records.truth["accepted_rows"] == records.frame.height


# 311 service requests -------------------------------------------------------------------------


def test_service_request_layout(sample: SampleCityFiles, requests: pl.DataFrame) -> None:
    header = sample.service_requests_csv.read_text().splitlines()[0]
    assert header == ",".join(SF311_COLUMNS)
    assert requests.height == 20_001
    assert set(requests["service_name"]) == SERVICE_NAMES
    assert set(requests["status_description"]) == {"Closed", "Open"}
    stamp = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000$"
    for column in ("closed_date", "updated_datetime"):
        assert requests[column].drop_nulls().str.contains(stamp).all(), column


def clean_requests(requests: pl.DataFrame, truth: dict) -> pl.DataFrame:
    defects = truth["service_requests"]["defects"]
    duplicate = next(r for r, code in defects.items() if code == "duplicate_record")
    return requests.filter(
        ~pl.col("service_request_id").is_in([r for r in defects if r != duplicate])
        & pl.col("service_request_id").is_first_distinct()
    )


def test_clean_requests_break_no_rule(requests: pl.DataFrame, truth: dict) -> None:
    clean = clean_requests(requests, truth)
    assert clean.height == truth["service_requests"]["accepted_rows"] == 20_000 - 6
    fmt = "%Y-%m-%dT%H:%M:%S%.3f"
    times = clean.select(
        pl.col("requested_datetime").str.strptime(pl.Datetime, fmt).alias("requested"),
        pl.col("closed_date").str.strptime(pl.Datetime, fmt).alias("closed"),
        pl.col("updated_datetime").str.strptime(pl.Datetime, fmt).alias("updated"),
        "status_description",
    )
    assert times["requested"].min() >= datetime(2024, 7, 1)
    assert times["requested"].max() < datetime(2026, 7, 1)
    closed = times.filter(pl.col("status_description") == "Closed")
    assert closed["closed"].null_count() == 0
    assert (closed["closed"] > closed["requested"]).all()
    assert (closed["updated"] == closed["closed"]).all()
    still_open = times.filter(pl.col("status_description") == "Open")
    assert still_open["closed"].null_count() == still_open.height
    assert (still_open["updated"] >= still_open["requested"]).all()
    assert 0.02 < still_open.height / clean.height < 0.1
    # Local wall-clock times: none in the spring-forward hour.
    for column in ("requested", "closed", "updated"):
        stamps = times[column].drop_nulls()
        local = stamps.dt.replace_time_zone(
            "America/Los_Angeles", ambiguous="earliest", non_existent="null"
        )
        assert local.null_count() == 0, column
    point = "POINT (" + clean["long"] + " " + clean["lat"] + ")"
    assert (clean["point"] == point).all()


def test_service_request_defects_are_planted_once_each(requests: pl.DataFrame, truth: dict) -> None:
    lat, lon = pl.col("lat"), pl.col("long")
    requested = pl.col("requested_datetime").str.strptime(
        pl.Datetime, "%Y-%m-%dT%H:%M:%S%.3f", strict=False
    )
    far = (lon.cast(pl.Float64) + 122.33).abs().gt(0.12) | (lat.cast(pl.Float64) - 47.6).abs().gt(
        0.07
    )
    rules = {
        "coordinates_missing": lat.is_null() & lon.is_null() & pl.col("point").is_null(),
        "coordinates_zero": (lat == "0") & (lon == "0") & pl.col("point").is_null(),
        "out_of_jurisdiction": far & (lat != "0"),
        "date_unparseable": requested.is_null(),
        "date_placeholder": requested.dt.year() < 1990,
        "date_future": requested.dt.year() >= 2099,
        "duplicate_record": ~pl.col("service_request_id").is_first_distinct(),
    }
    flags = requests.select(
        "service_request_id", *(r.fill_null(False).alias(n) for n, r in rules.items())
    )
    assert tuple(rules) == SERVICE_REQUEST_DEFECTS
    planted = {}
    for name in rules:
        hits = flags.filter(pl.col(name))
        assert hits.height == 1, name
        planted[hits["service_request_id"][0]] = name
    assert flags.select(pl.sum_horizontal(*rules)).to_series().max() == 1
    assert planted == truth["service_requests"]["defects"]
    copies = requests.filter(pl.col("service_request_id").is_duplicated()).drop("row")
    assert copies.height == 2 and copies.n_unique() == 1


def test_service_request_truth_counts_match_the_file(
    sample: SampleCityFiles,
    requests: pl.DataFrame,
    truth: dict,
    con: duckdb.DuckDBPyConnection,
) -> None:
    clean = clean_requests(requests, truth)
    located = areas_of_points(con, clean, "service_request_id", "long", "lat")
    assert len(located) == clean.height
    assert all(len(found) == 1 for found in located.values())
    counts = (
        clean.select(
            pl.col("service_request_id")
            .replace_strict({k: v[0] for k, v in located.items()})
            .alias("area_id"),
            pl.col("requested_datetime").str.slice(0, 7).alias("month"),
            pl.col("service_name").alias("request_type"),
        )
        .group_by("area_id", "month", "request_type")
        .agg(pl.len().cast(pl.Int64).alias("requests"))
        .sort("area_id", "month", "request_type")
    )
    expected = pl.read_parquet(sample.truth_service_requests)
    assert expected.columns == ["area_id", "month", "request_type", "requests"]
    assert expected.equals(counts)
    assert expected["month"].n_unique() == CONFIG.n_months


def test_encampments_follow_deprivation_and_crime(sample: SampleCityFiles, truth: dict) -> None:
    counts = pl.read_parquet(sample.truth_service_requests)
    per_area = dict(
        counts.filter(pl.col("request_type") == "Encampments")
        .group_by("area_id")
        .agg(pl.col("requests").sum())
        .iter_rows()
    )
    areas = json.loads(sample.areas_geojson.read_text())["features"]
    km2 = {f["properties"]["GEOID"]: ring_km2(f["geometry"]["coordinates"][0]) for f in areas}
    geoids = [a["area_id"] for a in truth["areas"]]
    density = [per_area.get(g, 0) / km2[g] for g in geoids]
    deprivation = [a["deprivation"] for a in truth["areas"]]
    crime = incidents_per_km2(sample)
    assert rho(density, deprivation) > 0.5
    assert rho(density, [crime[g] for g in geoids]) > 0.4
    lights = dict(
        counts.filter(pl.col("request_type") == "Streetlights")
        .group_by("area_id")
        .agg(pl.col("requests").sum())
        .iter_rows()
    )
    assert abs(rho([lights.get(g, 0) / km2[g] for g in geoids], deprivation)) < 0.3


def test_service_requests_without_defects() -> None:
    records = service_requests(build_sample_city(CLEAN_CONFIG))
    assert records.truth["defects"] == {}
    assert records.frame.height == records.counts["requests"].sum() == 20_000


# Boundary formats -----------------------------------------------------------------------------


def test_areas_shapefile_is_state_plane(
    city: SampleCity, tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    path = write_areas_shapefile(city, tmp_path / "areas.shp", con=con)
    assert {p.suffix for p in tmp_path.iterdir()} >= {".shp", ".shx", ".dbf", ".prj"}
    (layer,) = con.sql(f"select layers from ST_Read_Meta('{path}')").fetchone()[0]
    assert layer["feature_count"] == city.grid.n_areas
    crs = layer["geometry_fields"][0]["crs"]
    assert (crs["auth_name"], crs["auth_code"]) == ("EPSG", "2926")
    assert [f["name"] for f in layer["fields"]] == ["GEOID", "NAME"]
    # Back in WGS84, each polygon is its area: same GEOID, nearly the same shape.
    (mismatch, worst) = con.sql(
        f"""
        with shp as (
            select GEOID, ST_Transform(geom, 'EPSG:2926', 'EPSG:4326', always_xy := true) g
            from ST_Read('{path}')
        )
        select count(*) filter (where not ST_Covers(a.geom, ST_PointOnSurface(shp.g))),
               max(ST_Area(ST_SymDifference(a.geom, shp.g)) / ST_Area(a.geom))
        from shp join areas a on a.area_id = shp.GEOID
        """
    ).fetchone()
    assert mismatch == 0 and worst < 1e-4


def test_areas_wkt_csv_parses(
    city: SampleCity, tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    path = write_areas_wkt_csv(city, tmp_path / "areas.csv", id_field="tract", wkt_field="wkt")
    frame = pl.read_csv(path, infer_schema=False)
    assert frame.columns == ["tract", "name", "wkt"]
    assert frame["tract"].to_list() == [str(g) for g in city.grid.geoids]
    con.register("wkt_rows", frame)
    n, valid, area_ft2 = con.sql(
        "select count(*), bool_and(ST_IsValid(ST_GeomFromText(wkt))), "
        "sum(ST_Area(ST_GeomFromText(wkt))) from wkt_rows"
    ).fetchone()
    con.unregister("wkt_rows")
    assert n == city.grid.n_areas and valid
    area_m2 = area_ft2 * 0.3048006096**2
    assert area_m2 == pytest.approx(float(city.grid.area_m2.sum()), rel=0.01)
    default = pl.read_csv(write_areas_wkt_csv(city, tmp_path / "d.csv"), infer_schema=False)
    assert default.columns == ["tract_id", "name", "the_geom"]


def test_neighbourhoods_partition_the_tracts(
    city: SampleCity, truth: dict, tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    path = tmp_path / "neighbourhoods.geojson"
    membership = write_neighbourhoods_geojson(city, path)
    assert membership == truth["neighbourhoods"]
    members = [g for tracts in membership.values() for g in tracts]
    assert sorted(members) == sorted(str(g) for g in city.grid.geoids)  # each tract once
    assert all(len(t) == 4 for t in membership.values())
    assert all(re.fullmatch(r"\d{3}", code) for code in membership)
    features = json.loads(path.read_text())["features"]
    codes = [f["properties"]["nbhd_code"] for f in features]
    assert len(features) == len(membership) + 1
    assert codes.count(SPLIT_NEIGHBOURHOOD) == 2 and codes[-1] == SPLIT_NEIGHBOURHOOD
    assert all(set(f["properties"]) == {"nbhd_code", "nbhd_name"} for f in features)
    # Each neighbourhood (rows sharing a code merged) is exactly the union of its tracts.
    con.register(
        "nbhd_rows",
        pl.DataFrame({"code": codes, "geojson": [json.dumps(f["geometry"]) for f in features]}),
    )
    con.register(
        "membership",
        pl.DataFrame(
            [(code, g) for code, tracts in membership.items() for g in tracts],
            schema=["code", "area_id"],
            orient="row",
        ),
    )
    worst, pieces = con.sql(
        """
        with n as (
            select code, ST_Union_Agg(ST_GeomFromGeoJSON(geojson)) g
            from nbhd_rows group by code
        ), t as (
            select m.code, ST_Union_Agg(a.geom) g from membership m
            join areas a using (area_id) group by m.code
        )
        select max(ST_Area(ST_SymDifference(n.g, t.g)) / ST_Area(t.g)),
               max(ST_NumGeometries(n.g))
        from n join t using (code)
        """
    ).fetchone()
    assert worst < 1e-9 and pieces == 1
    population = {a["area_id"]: a["population"] for a in truth["areas"]}
    total = sum(sum(population[g] for g in tracts) for tracts in membership.values())
    assert total == sum(population.values())


def test_odd_grids_leave_edge_strips() -> None:
    grid = build_sample_city(
        SampleCityConfig(n_incidents=200, grid_cols=5, grid_rows=3, n_facilities=5)
    ).grid
    sizes = sorted((n.rows[1] - n.rows[0]) * (n.cols[1] - n.cols[0]) for n in neighbourhoods(grid))
    assert sizes == [1, 2, 2, 2, 4, 4]
    tracts = [k for n in neighbourhoods(grid) for k in n.areas(grid.cols)]
    assert sorted(tracts) == list(range(grid.n_areas))
