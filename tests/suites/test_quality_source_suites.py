"""GX suites of the raw survey and public-record landings, and their blocking Dagster checks.

Every suite is run on the sample city's own files, landed by the project's landing functions
exactly as the raw assets land them; the defects are planted in those frames. The Dagster tests
materialize real raw and split assets against a jurisdiction declared in YAML.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetChecksDefinition, AssetCheckSeverity, AssetKey, materialize

from crimemap.config.jurisdiction import JurisdictionConfig, load_jurisdiction
from crimemap.config.paths import DataPaths, data_paths
from crimemap.config.sources import BoundarySource
from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.boundaries import BoundarySpec, land_boundaries
from crimemap.ingestion.census import GEO_ID_COLUMN, TABLE_SETS, api_columns
from crimemap.ingestion.facilities import parse_facility_mapping
from crimemap.ingestion.landing import DEFAULT_READ, land_census_json, land_csv
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.jurisdiction import jurisdiction_resource
from crimemap.orchestration.defs.quality.checks import jurisdiction_bbox
from crimemap.orchestration.defs.quality.raw_checks import raw_source_checks, source_file_of
from crimemap.orchestration.defs.sources.assets import (
    point_records_lander,
    raw_assets,
    split_assets,
)
from crimemap.orchestration.defs.sources.resources import source_resources
from crimemap.orchestration.defs.sources.surveys import RAW_SURVEYS, survey_assets
from crimemap.quality import source_suites as Q
from crimemap.quality.boundaries import landed_geometry_column, split_boundaries
from crimemap.quality.layouts import LINEAGE_COLUMNS, BBox
from crimemap.quality.suites import (
    SuiteOutcome,
    SuiteSpec,
    expect,
    likely_renames,
    read_frame,
    run_suite,
)
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import (
    SAMPLE_CITY_SURVEY_LAYOUT,
    SampleCityConfig,
    SampleCityFiles,
)
from tests.support.jurisdictions import file_sources_yaml, sample_survey_yaml

ACS = TABLE_SETS["social_services"]
COLUMN_SET = "expect_table_columns_to_match_set"
LOS_ANGELES = ("-118.2437", "34.0522")  # numbers, far outside the sample city


# --- the sample city, landed ------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> SampleCityFiles:
    return generate_sample_city(tmp_path_factory.mktemp("city"), SampleCityConfig(n_incidents=300))


@pytest.fixture(scope="module")
def config() -> JurisdictionConfig:
    return load_jurisdiction()  # the sample city: every mapping its own


@pytest.fixture(scope="module")
def paths(
    tmp_path_factory: pytest.TempPathFactory, city: SampleCityFiles, config: JurisdictionConfig
) -> DataPaths:
    """Every source landed where the raw assets land it, and the areas split (for the extent)."""
    paths = DataPaths(tmp_path_factory.mktemp("data"))
    with connect() as con:
        land_boundaries(
            city.areas_geojson,
            paths.raw_file("areas"),
            config.boundaries.spec,
            load_id="t",
            con=con,
        )
        split_boundaries(
            con,
            config.boundaries.spec,
            raw_parquet=paths.raw_file("areas"),
            quarantine_path=paths.quarantine_file("areas"),
            conformed_path=paths.conformed_file("areas"),
        )
    land_census_json(city.acs_json, paths.raw_file("area_indicators"), load_id="t")
    land_point_records = point_records_lander(DEFAULT_READ)
    land_point_records(city.facilities_csv, paths.raw_file("facilities"), "t")
    land_point_records(city.service_requests_csv, paths.raw_file("service_requests"), "t")
    land_csv(city.survey_csv, paths.raw_file("surveys"), load_id="t")
    return paths


@pytest.fixture(scope="module")
def bbox(paths: DataPaths) -> BBox:
    return jurisdiction_bbox(paths)


def landed(paths: DataPaths, source: str) -> pd.DataFrame:
    return read_frame(paths.raw_file(source))


def suite_for(
    source: str, frame: pd.DataFrame, config: JurisdictionConfig, bbox: BBox
) -> SuiteSpec:
    """The suite the raw check builds for ``source`` (from the frame where the check does)."""
    if source == "areas":
        geometry = landed_geometry_column(
            config.boundaries.spec, list(frame.columns), source_file_of(frame)
        )
        return Q.boundaries_raw_suite(config.boundaries.spec, geometry_column=geometry)
    if source == "area_indicators":
        geography = Q.acs_geography_columns(list(frame.columns))
        return Q.area_indicators_raw_suite(ACS, geography=geography)
    if source == "facilities":
        return Q.facilities_raw_suite(config.facilities.mapping, bbox=bbox)
    if source == "service_requests":
        return Q.service_requests_raw_suite(config.service_requests.layout, bbox=bbox)
    return Q.survey_raw_suite(config.surveys.layout, survey="resident_survey_2025", bbox=bbox)


def judged(
    source: str, frame: pd.DataFrame, config: JurisdictionConfig, bbox: BBox
) -> SuiteOutcome:
    return run_suite(suite_for(source, frame, config, bbox), frame)


def failed_by(outcome: SuiteOutcome, expectation: str, column: str | None = None) -> list[dict]:
    return [f for f in outcome.failed if f["expectation"] == expectation and f["column"] == column]


SOURCES = ("areas", "area_indicators", "facilities", "service_requests", "surveys")


# --- the sample city passes --------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_suite_passes_on_the_sample_citys_landing(
    source: str, paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    frame = landed(paths, source)
    spec = suite_for(source, frame, config, bbox)
    outcome = run_suite(spec, frame)
    assert outcome.failed == []
    assert outcome.success and outcome.n_expectations == len(spec.expectations)


def test_suites_require_exactly_the_columns_the_mappings_read(
    config: JurisdictionConfig, bbox: BBox
) -> None:
    lineage = set(LINEAGE_COLUMNS)
    sf311 = config.service_requests.layout
    survey = config.surveys.layout
    facilities = config.facilities.mapping

    def required(spec: SuiteSpec) -> tuple[set[str], bool]:
        (shape,) = [e for e in spec.expectations if e.kind == Q.COLUMN_SET]
        return set(shape.kwargs["column_set"]) - lineage, shape.kwargs["exact_match"]

    assert required(Q.facilities_raw_suite(facilities)) == (set(facilities.read_columns), False)
    # sf311 declares its published header: the whole header, exactly.
    assert required(Q.service_requests_raw_suite(sf311)) == (set(sf311.columns), True)
    assert required(Q.survey_raw_suite(survey, survey="s")) == (set(survey.read_columns), False)
    assert required(Q.area_indicators_raw_suite(ACS)) == ({*api_columns(ACS), "GEO_ID"}, False)
    areas = Q.boundaries_raw_suite(config.boundaries.spec, geometry_column="geometry")
    assert required(areas) == ({"GEOID", "NAME", "geometry", "_source_crs"}, False)

    # Another city's mapping: its own names, and a GeoJSON point instead of lon/lat.
    other = parse_facility_mapping(
        {
            "id_field": "FAC_ID",
            "name_field": "FAC_NAME",
            "type_field": "SVC",
            "geometry_field": "g",
        },
        "other city",
    )
    spec = Q.facilities_raw_suite(other, bbox=bbox)
    assert required(spec) == ({"FAC_ID", "FAC_NAME", "SVC", "g"}, False)
    assert spec.numeric_columns == ()  # no lon/lat columns to range-check


# --- schema drift is an ERROR naming the columns -----------------------------------------------


@pytest.mark.parametrize(
    ("source", "old", "new"),
    [
        ("areas", "GEOID", "GeoID"),
        ("area_indicators", "B17001_002E", "B17001_002_E"),
        ("facilities", "facility_type", "Facility Type"),
        ("service_requests", "requested_datetime", "requested_date_time"),
        ("surveys", "response_id", "ResponseID"),
    ],
)
def test_a_renamed_read_column_fails_as_error_naming_both(
    source: str, old: str, new: str, paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    frame = landed(paths, source).rename(columns={old: new})
    spec = suite_for(source, frame, config, bbox)
    outcome = run_suite(spec, frame)
    assert outcome.blocking and outcome.severity == "ERROR"
    (column_set,) = failed_by(outcome, COLUMN_SET)
    assert column_set["severity"] == "ERROR"
    assert f"missing columns: [{old!r}]" in column_set["message"]
    assert repr(new) in column_set["message"]
    assert outcome.failed[0] is column_set  # blocking first
    assert f"renamed? {old!r} -> {new!r}" in column_set["message"]


@pytest.mark.parametrize(
    ("source", "dropped"),
    [
        ("areas", "NAME"),
        ("area_indicators", "B19013_001M"),
        ("facilities", "longitude"),
        ("service_requests", "lat"),
        ("surveys", "weight"),
    ],
)
def test_a_dropped_read_column_fails_as_error(
    source: str, dropped: str, paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    outcome = judged(source, landed(paths, source).drop(columns=[dropped]), config, bbox)
    assert outcome.blocking
    (column_set,) = failed_by(outcome, COLUMN_SET)
    assert f"missing columns: [{dropped!r}]" in column_set["message"]


def test_an_unread_column_matters_only_where_the_header_is_declared(
    paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    # sf311 declares its header: a dropped column it does not read is still schema drift.
    requests = judged(
        "service_requests", landed(paths, "service_requests").drop(columns=["source"]), config, bbox
    )
    assert requests.blocking
    assert "missing columns: ['source']" in failed_by(requests, COLUMN_SET)[0]["message"]
    # A facility mapping declares no header: a new column is the publisher's business.
    facilities = landed(paths, "facilities").assign(opening_hours="9-5")
    assert judged("facilities", facilities, config, bbox).success


def test_acs_geography_may_be_geo_id_or_its_parts(
    paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    frame = landed(paths, "area_indicators")
    # The split reads state + county + tract when there is no GEO_ID: not drift.
    parts_only = frame.drop(columns=[GEO_ID_COLUMN])
    assert Q.acs_geography_columns(list(parts_only.columns)) == ("state", "county", "tract")
    assert judged("area_indicators", parts_only, config, bbox).success
    # Neither: the API's own id is the one named missing.
    neither = frame.drop(columns=[GEO_ID_COLUMN, "state", "county", "tract"])
    outcome = judged("area_indicators", neither, config, bbox)
    assert outcome.blocking
    assert "missing columns: ['GEO_ID']" in failed_by(outcome, COLUMN_SET)[0]["message"]
    # A part gone with no GEO_ID: that part is named.
    no_tract = frame.drop(columns=[GEO_ID_COLUMN, "tract"])
    outcome = judged("area_indicators", no_tract, config, bbox)
    assert "missing columns: ['tract']" in failed_by(outcome, COLUMN_SET)[0]["message"]


@pytest.mark.parametrize("source", ["areas", "service_requests", "surveys"])
def test_too_few_rows_is_an_error_only_where_a_file_must_have_rows(
    source: str, paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    outcome = judged(source, landed(paths, source).head(0), config, bbox)
    if source == "areas":
        assert outcome.blocking
        assert failed_by(outcome, "expect_table_row_count_to_be_between")[0]["message"] == (
            "row count 0, expected at least 1"
        )
    else:  # no requests in the window, an empty inbox: valid
        assert outcome.success


# --- row defects warn with their counts --------------------------------------------------------


def test_facilities_warn_on_points_outside_and_repeated_ids(
    paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    frame = landed(paths, "facilities")
    n = len(frame)
    outside = frame.index < n // 2
    frame.loc[outside, "longitude"], frame.loc[outside, "latitude"] = LOS_ANGELES
    frame.loc[frame.index[-4:], "facility_id"] = frame["facility_id"].iloc[0]  # 5 rows share one
    outcome = judged("facilities", frame, config, bbox)

    assert not outcome.success and not outcome.blocking and outcome.severity == "WARN"
    (lon,) = failed_by(outcome, "expect_column_values_to_be_between", "longitude")
    longitudes = pd.to_numeric(frame["longitude"], errors="coerce")
    outside_bbox = ((longitudes < bbox.min_lon) | (longitudes > bbox.max_lon)).sum()
    assert lon["unexpected_count"] == outside_bbox >= n // 2
    assert lon["sample"][0] == pytest.approx(-118.2437)
    (ids,) = failed_by(outcome, "expect_column_values_to_be_unique", "facility_id")
    assert ids["unexpected_count"] == 5


def test_service_requests_warn_on_blank_points_ids_and_a_changed_date_format(
    paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    frame = landed(paths, "service_requests")
    n = len(frame)
    tenth = n // 10
    frame.loc[frame.index < 2 * tenth, "lat"] = " "
    frame.loc[frame.index[-tenth:], "service_request_id"] = ""
    # The publisher switched to day-first dates: a format the layout does not declare.
    first = frame.index < tenth
    frame.loc[first, "requested_datetime"] = "01.07.2024 09:15"
    outcome = judged("service_requests", frame, config, bbox)

    assert not outcome.blocking and outcome.severity == "WARN"
    (lat,) = failed_by(outcome, "expect_column_values_to_not_be_null", "lat")
    assert lat["unexpected_count"] >= 2 * tenth  # and the sample's own blank point
    (ids,) = failed_by(outcome, "expect_column_values_to_not_be_null", "service_request_id")
    assert ids["unexpected_count"] == tenth
    (dates,) = failed_by(outcome, "expect_column_values_to_match_regex", "requested_datetime")
    assert dates["unexpected_count"] == tenth
    assert dates["sample"][0] == "01.07.2024 09:15"


def test_surveys_warn_on_repeated_respondents_and_bad_weights(
    paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    frame = landed(paths, "surveys")
    n = len(frame)
    tenth = n // 10
    frame.loc[frame.index < tenth, "weight"] = "0"
    frame.loc[frame.index[-tenth:], "response_id"] = frame["response_id"].iloc[-tenth - 1]
    outcome = judged("surveys", frame, config, bbox)

    assert not outcome.blocking and outcome.severity == "WARN"
    (weights,) = failed_by(outcome, "expect_column_values_to_be_between", "weight")
    assert weights["unexpected_count"] >= tenth
    (ids,) = failed_by(outcome, "expect_column_values_to_be_unique", "response_id")
    assert ids["unexpected_count"] >= tenth + 1


def test_acs_warns_on_repeated_geoids(
    paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    frame = landed(paths, "area_indicators")
    copies = frame.head(10)
    outcome = judged("area_indicators", pd.concat([frame, copies], ignore_index=True), config, bbox)
    assert not outcome.blocking and outcome.severity == "WARN"
    (ids,) = failed_by(outcome, "expect_column_values_to_be_unique", GEO_ID_COLUMN)
    assert ids["unexpected_count"] >= 20  # every copy and its original


def test_areas_warn_on_blank_ids_and_geometries_that_are_not_polygons(
    paths: DataPaths, config: JurisdictionConfig, bbox: BBox
) -> None:
    frame = landed(paths, "areas")
    tenth = len(frame) // 10
    frame.loc[frame.index < tenth, "GEOID"] = " "
    frame.loc[frame.index[-tenth:], "geometry"] = '{"type":"Point","coordinates":[-122.3,47.6]}'
    outcome = judged("areas", frame, config, bbox)
    assert not outcome.blocking and outcome.severity == "WARN"
    (ids,) = failed_by(outcome, "expect_column_values_to_not_be_null", "GEOID")
    assert ids["unexpected_count"] == tenth
    (shapes,) = failed_by(outcome, "expect_column_values_to_match_regex", "geometry")
    assert shapes["unexpected_count"] == tenth


def test_a_wkt_csv_boundary_reads_its_own_geometry_column(tmp_path: Path) -> None:
    """Indicator units and areas share the suite; a CSV keeps its geometry in its WKT column."""
    source = tmp_path / "units.csv"
    with source.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["code", "shape"])
        for i in range(3):
            x = -122.4 + i * 0.01
            writer.writerow(
                [f"00{i}", f"POLYGON (({x} 47.6, {x + 0.01} 47.6, {x} 47.61, {x} 47.6))"]
            )
    spec = BoundarySpec(id_field="code", geometry_field="shape", id_kind="code")
    with connect() as con:
        land_boundaries(source, tmp_path / "units.parquet", spec, load_id="t", con=con)
    frame = read_frame(tmp_path / "units.parquet")
    geometry = landed_geometry_column(spec, list(frame.columns), "units.csv")
    assert geometry == "shape"
    suite = Q.boundaries_raw_suite(spec, geometry_column=geometry, source="indicator_units")
    assert suite.name == "indicator_units_raw"
    assert run_suite(suite, frame).success
    renamed = run_suite(suite, frame.rename(columns={"shape": "WKT"}))
    assert renamed.blocking
    assert "missing columns: ['shape']" in failed_by(renamed, COLUMN_SET)[0]["message"]


# --- pure helpers ------------------------------------------------------------------------------


def test_a_column_set_failure_names_missing_extra_and_renames() -> None:
    expected = ["Report Number", "Offense Code", "Longitude", "Latitude"]
    frame = pd.DataFrame(
        {c: ["x"] for c in ["Report Number", "Offense_Code", "Longitud", "Latitude", "Beat"]}
    )
    # A subset check (other columns allowed) names the others only as rename candidates.
    for exact, extra in (
        (True, "extra columns: ['Beat', 'Longitud', 'Offense_Code']; "),
        (False, ""),
    ):
        spec = SuiteSpec(
            "drift", (expect(Q.COLUMN_SET, "ERROR", column_set=expected, exact_match=exact),)
        )
        (failure,) = run_suite(spec, frame).failed
        assert failure["message"] == (
            "missing columns: ['Longitude', 'Offense Code']; "
            + extra
            + "renamed? 'Longitude' -> 'Longitud', 'Offense Code' -> 'Offense_Code'"
        )


def test_likely_renames_pair_each_extra_column_once() -> None:
    assert likely_renames(["geoid", "GEOID "], ["GEOID"]) == [("geoid", "GEOID")]
    assert likely_renames(["lat", "lon"], ["LAT", "LON"]) == [("lat", "LAT"), ("lon", "LON")]
    assert likely_renames(["x"], []) == []
    assert likely_renames(["name"], ["facility_title"]) == []  # nothing alike: no guess


def test_strftime_regex_matches_the_declared_formats_only(config: JurisdictionConfig) -> None:
    regex = Q.strftime_regex(config.service_requests.layout.created.formats)
    assert regex is not None
    match = re.compile(regex).search
    for text in ("2024-07-01T09:15:00.000", "2024-07-01T09:15:00", " 7/1/2024 9:15:00 AM "):
        assert match(text), text
    for text in ("01.07.2024 09:15", "2024-07-01", "yesterday", "2024-07-01T09:15:00+02:00"):
        assert not match(text), text
    assert re.search(Q.strftime_regex(["%d/%m/%Y %z"]) or "", "15/03/2025 +0100")
    assert Q.strftime_regex(["%Y-%m-%d %Q"]) is None  # unknown directive: no shape check
    assert Q.strftime_regex([]) is None


def test_suite_names_are_data_docs_safe() -> None:
    spec = Q.survey_raw_suite(SAMPLE_CITY_SURVEY_LAYOUT, survey="wave 2 (spring)-2025")
    assert spec.name == "surveys_wave_2_spring_2025_raw"


def test_importing_the_suites_does_not_import_great_expectations() -> None:
    code = (
        "import sys, crimemap.quality.source_suites; "
        "sys.exit(1 if 'great_expectations' in sys.modules else 0)"
    )
    repo = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo, check=False).returncode == 0


# --- the Dagster checks ------------------------------------------------------------------------


def checked_key(check: AssetChecksDefinition) -> AssetKey:
    (spec,) = check.check_specs
    return spec.asset_key


def raw_asset_keys(config: JurisdictionConfig) -> set[AssetKey]:
    keys = {key for asset in raw_assets(config) for key in asset.keys}
    return keys | {
        key for asset in survey_assets(config) for key in asset.keys if key.path[0] == "raw"
    }


def checked_assets(config: JurisdictionConfig) -> dict[AssetKey, bool]:
    """Asset key -> whether its raw suite check blocks."""
    return {
        spec.asset_key: spec.blocking
        for check in raw_source_checks(config)
        for spec in check.check_specs
    }


def test_one_blocking_check_per_raw_source_asset(
    config: JurisdictionConfig, tmp_path: Path
) -> None:
    checked = checked_assets(config)
    assert set(checked) == raw_asset_keys(config)
    assert all(checked.values())
    assert AssetKey(["raw", "service_requests"]) in checked
    assert RAW_SURVEYS in checked

    # No 311 data: the raw asset lands an empty export of its own making, not judged.
    no_311 = replace(config, service_requests=replace(config.service_requests, mode="none"))
    assert set(checked_assets(no_311)) == raw_asset_keys(no_311) - {
        AssetKey(["raw", "service_requests"])
    }
    # Indicators on their own geography: its boundaries are judged too.
    units = BoundarySource(mode="file", spec=BoundarySpec(id_field="GEOID"), path=tmp_path)
    with_units = replace(config, indicators=replace(config.indicators, units=units))
    assert AssetKey(["raw", "indicator_units"]) in checked_assets(with_units)
    assert set(checked_assets(with_units)) == raw_asset_keys(with_units)


def drift_city(root: Path, city: SampleCityFiles) -> JurisdictionConfig:
    """The sample city's exports in file mode, the facility export with a renamed column."""
    exports = root / "exports"
    shutil.copytree(city.facilities_csv.parent, exports)
    facilities = exports / city.facilities_csv.name
    header, *rows = facilities.read_text().splitlines()
    assert "facility_type" in header.split(",")
    facilities.write_text("\n".join([header.replace("facility_type", "Facility Type"), *rows]))
    yaml = root / "drift_city.yml"
    yaml.write_text(
        "name: Drift City\ntimezone: America/Los_Angeles\nprojected_crs: EPSG:32610\n"
        "sample: {incidents: 300}\n"
        "police:\n"
        f"  - {{name: seattle_spd, layout: seattle_spd, mode: file, "
        f"path: {exports / city.police_csv.name}, start_month: 2024-07}}\n"
        + file_sources_yaml(str(exports))
        + sample_survey_yaml()
    )
    return load_jurisdiction(yaml)


def resources(config: JurisdictionConfig) -> dict[str, Any]:
    return {
        **source_resources(config, data_paths().sources),
        "jurisdiction": jurisdiction_resource(config),
        "data_dir": DataDirectory(root=str(data_paths().root)),
    }


def test_schema_drift_stops_its_source_and_lets_the_others_go_on(
    city: SampleCityFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path / "data"))
    config = drift_city(tmp_path, city)
    wanted = {"areas", "area_indicators", "facilities"}
    assets = [
        *(a for a in raw_assets(config) if a.key.path[-1] in wanted),
        *(a for a in split_assets(config) if any(k.path[-1] in wanted for k in a.keys)),
        *(c for c in raw_source_checks(config) if checked_key(c).path[-1] in wanted),
    ]
    result = materialize(assets, resources=resources(config), raise_on_error=False)

    assert not result.success
    checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    # the raw suites, and the accepted share of each source that went on to its split
    assert set(checks) == {f"{s}_raw_suite" for s in wanted} | {
        f"{s}_accepted_share" for s in wanted if s != "facilities"
    }
    facilities = checks["facilities_raw_suite"]
    assert not facilities.passed and facilities.severity == AssetCheckSeverity.ERROR
    assert facilities.description.startswith("facilities.csv: missing columns: ['facility_type']")
    assert "renamed? 'facility_type' -> 'Facility Type'" in facilities.description
    assert checks["areas_raw_suite"].passed and checks["area_indicators_raw_suite"].passed

    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey(["raw", "facilities"]) in materialized  # landed, then judged
    assert AssetKey(["conformed", "facilities"]) not in materialized
    assert not data_paths().conformed_file("facilities").exists()
    for source in ("areas", "area_indicators"):
        assert AssetKey(["conformed", source]) in materialized
        assert data_paths().conformed_file(source).is_file()
    # The validation result of the failing suite is kept for the analyst.
    assert (data_paths().quality / "validations" / "facilities_raw.json").is_file()


def test_the_survey_check_judges_every_inbox_file(
    city: SampleCityFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path / "data"))
    config = drift_city(tmp_path, city)
    inbox = data_paths().root / config.surveys.inbox
    inbox.mkdir(parents=True)
    shutil.copyfile(city.survey_csv, inbox / "wave_1.csv")
    header, *rows = city.survey_csv.read_text().splitlines()
    (inbox / "wave_2.csv").write_text(
        "\n".join([header.replace("submitted_at", "Submitted At"), *rows])
    )
    raw_surveys = next(a for a in survey_assets(config) if RAW_SURVEYS in a.keys)
    (check,) = [c for c in raw_source_checks(config) if checked_key(c) == RAW_SURVEYS]
    result = materialize([raw_surveys, check], resources=resources(config), raise_on_error=False)

    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    description = evaluation.description
    assert description.startswith("wave_2.csv: missing columns: ['submitted_at']")
    assert "renamed? 'submitted_at' -> 'Submitted At'" in description
    assert "wave_1.csv" not in description  # the good file passed
    files = evaluation.metadata["files"].value
    assert files == {"wave_1.csv": "surveys_wave_1_raw", "wave_2.csv": "surveys_wave_2_raw"}
