"""ACS indicators and 311 requests in live mode: the Census Data API and a Socrata portal served
on 127.0.0.1 from the sample city's own files, behind the real raw and split assets.

The live landing must give exactly what the downloaded files give: the same conformed ACS rows
as the sample JSON split offline, and every accepted 311 request of the truth.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from dagster import AssetKey, AssetsDefinition, DagsterInstance, materialize

from crimemap.config.jurisdiction import JurisdictionConfig, load_jurisdiction
from crimemap.config.paths import data_paths
from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.census import TABLE_SETS, api_columns
from crimemap.ingestion.landing import land_census_json
from crimemap.ingestion.service_requests.layout import builtin_service_request_layout
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.jurisdiction import jurisdiction_resource
from crimemap.orchestration.defs.sources.assets import raw_assets, split_assets
from crimemap.orchestration.defs.sources.resources import source_resources
from crimemap.quality.census import split_acs
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig, SampleCityFiles
from tests.support.fake_census import MAX_GET_VARIABLES, FakeCensus
from tests.support.fake_portals import Failure, FakePortals

pytestmark = pytest.mark.integration

YEAR = 2022
DATASET = "acs/acs5"
KEY_ENV = "CRIMEMAP_TEST_CENSUS_KEY"
KEY = "k3y-9f27c1d0e4b8"
PAGE_SIZE = 2500
SF311 = builtin_service_request_layout("sf311")
SF311_DATASET = str(SF311.live.options["dataset_id"])
SF311_DATE_FIELD = str(SF311.live.options["date_field"])
UNUSED_URL = "http://127.0.0.1:9"  # a source the test does not materialize
ACS_COMPARED = "geoid, geography_name, indicator, kind, estimate, moe, cv_pct, unreliable"


# --- the servers' data, from the sample city's files ------------------------------------------


def census_rows(acs_json: Path) -> list[dict[str, Any]]:
    """The sample ACS JSON as the API's units: one dict per tract, keyed by the API's names.

    The sample file carries a second copy of one tract (a careless join of two downloads); the
    API never answers a unit twice, so the first copy is served once.
    """
    header, *records = json.loads(acs_json.read_text())
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        row = dict(zip(header, record, strict=True))
        rows.setdefault(row["GEO_ID"], row)
    return list(rows.values())


def socrata_rows(sf311_csv: Path) -> list[dict[str, str]]:
    """The sample 311 rows as SODA serves them: nulls omitted; a row whose request date is
    garbage is left out (a Socrata floating-timestamp field cannot hold it)."""
    frame = pl.read_csv(sf311_csv, infer_schema=False)
    rows = []
    for record in frame.iter_rows(named=True):
        try:
            datetime.fromisoformat(record[SF311_DATE_FIELD])
        except (TypeError, ValueError):
            continue
        rows.append({k: v for k, v in record.items() if v is not None})
    return rows


def jurisdiction_yaml(root: Path, files: SampleCityFiles, census_url: str, portal_url: str) -> Path:
    path = root / "live_sources.yml"
    path.write_text(
        f"""
name: Live Sources City
timezone: America/Los_Angeles
projected_crs: EPSG:32610
sample: {{incidents: 3000}}
police:
  - name: seattle_spd
    layout: seattle_spd
    mode: file
    path: {files.police_csv}
    start_month: 2024-07
boundaries: {{mode: file, path: {files.areas_geojson}, id_field: GEOID, name_field: NAME}}
indicators:
  mode: live
  api:
    year: {YEAR}
    in: ["state:53", "county:999"]
    base_url: "{census_url}"
    api_key_env: {KEY_ENV}
service_requests:
  mode: live
  layout: sf311
  start_month: 2024-07
  live: {{base_url: "{portal_url}", page_size: {PAGE_SIZE}}}
"""
    )
    return path


# --- running the assets ------------------------------------------------------------------------


def source_assets(config: JurisdictionConfig, *sources: str) -> list[AssetsDefinition]:
    """The raw and split assets of ``sources`` (boundaries always: points are judged on them)."""
    wanted = {"areas", *sources}
    raw = [a for a in raw_assets(config) if a.key.path[-1] in wanted]
    splits = [a for a in split_assets(config) if any(k.path[-1] in wanted for k in a.keys)]
    return [*raw, *splits]


def resources(config: JurisdictionConfig) -> dict[str, Any]:
    return {
        **source_resources(config, data_paths().sources),
        "jurisdiction": jurisdiction_resource(config),
        "data_dir": DataDirectory(root=str(data_paths().root)),
    }


def logged_text(instance: DagsterInstance, run_id: str) -> str:
    """Every event of the run as text: log messages, materialization metadata, failures."""
    return "\n".join(
        f"{entry.user_message}\n{entry.dagster_event!r}" for entry in instance.all_logs(run_id)
    )


def offline_acs_split(acs_json: Path, work: Path) -> tuple[Path, Path]:
    """The sample JSON landed and split the way file mode does it."""
    raw = work / "raw.parquet"
    land_census_json(acs_json, raw, load_id="offline")
    with connect() as con:
        result = split_acs(
            con,
            TABLE_SETS["social_services"],
            raw_parquet=raw,
            quarantine_path=work / "quarantine.parquet",
            conformed_path=work / "conformed.parquet",
        )
    return result.clean_path, result.quarantine_path


def differing_rows(left: Path, right: Path) -> int:
    """Rows of the compared ACS columns in one file and not the other (both ways)."""
    with duckdb.connect() as con:
        return con.execute(
            f"""
            SELECT count(*) FROM (
                (SELECT {ACS_COMPARED} FROM read_parquet('{left}')
                 EXCEPT ALL SELECT {ACS_COMPARED} FROM read_parquet('{right}'))
                UNION ALL
                (SELECT {ACS_COMPARED} FROM read_parquet('{right}')
                 EXCEPT ALL SELECT {ACS_COMPARED} FROM read_parquet('{left}'))
            )
            """
        ).fetchone()[0]


def parquet_rows(path: Path, sql: str = "count(*)") -> Any:
    with duckdb.connect() as con:
        return con.execute(f"SELECT {sql} FROM read_parquet('{path}')").fetchall()


@pytest.fixture
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SampleCityFiles:
    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path / "data"))
    return generate_sample_city(tmp_path / "exports", SampleCityConfig(n_incidents=3000))


# --- tests -------------------------------------------------------------------------------------


def test_live_acs_lands_what_the_file_gives(
    city: SampleCityFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    defects = json.loads(city.truth_json.read_text())["acs"]["defects"]
    monkeypatch.setenv(KEY_ENV, KEY)
    caplog.set_level(logging.DEBUG)
    instance = DagsterInstance.ephemeral()
    with FakeCensus(required_key=KEY) as census:
        census.add_table(YEAR, DATASET, census_rows(city.acs_json))
        census.fail(Failure.http(503, retry_after=0.01))  # retried, then served
        config = load_jurisdiction(jurisdiction_yaml(tmp_path, city, census.data_url, UNUSED_URL))
        result = materialize(
            source_assets(config, "area_indicators"), resources=resources(config), instance=instance
        )
        requests = census.requests_to(census.path(YEAR, DATASET))
    assert result.success
    paths = data_paths()

    # The same conformed rows as the downloaded file split offline.
    conformed_offline, quarantine_offline = offline_acs_split(city.acs_json, tmp_path / "offline")
    conformed_live = paths.conformed_file("area_indicators")
    assert parquet_rows(conformed_live)[0][0] == 119 * len(TABLE_SETS["social_services"])
    assert differing_rows(conformed_live, conformed_offline) == 0

    # The API answers each unit once: only the invalid estimate is left to quarantine, and the
    # tract the file repeats is accepted, once.
    assert sorted(defects.values()) == ["duplicate_record", "value_invalid"]
    assert dict(parquet_rows(quarantine_offline, "GEO_ID[-11:], _reason")) == defects
    quarantined = parquet_rows(paths.quarantine_file("area_indicators"), "GEO_ID[-11:], _reason")
    assert dict(quarantined) == {g: r for g, r in defects.items() if r == "value_invalid"}
    assert len(quarantined) == 1
    (duplicated,) = [g for g, r in defects.items() if r == "duplicate_record"]
    accepted = {g for (g,) in parquet_rows(conformed_live, "DISTINCT geoid")}
    assert duplicated in accepted and len(accepted) == 119

    # Asked in chunks the API accepts, every variable once, the 503 retried, the key on each.
    assert len(requests) == 3  # the 503, then two chunks
    served = [r.params for r in requests[1:]]
    chunks = [p["get"].split(",") for p in served]
    assert all(len(names) <= MAX_GET_VARIABLES for names in chunks)
    asked = [n for names in chunks for n in names if n not in ("NAME", "GEO_ID")]
    assert sorted(asked) == sorted(api_columns(TABLE_SETS["social_services"]))
    assert all(p["in"] == "state:53 county:999" and p["for"] == "tract:*" for p in served)
    assert all(r.params.get("key") == KEY for r in requests)

    # The key is sent, never shown: not in the logs, the run's events or the saved response.
    assert "key=***" in caplog.text  # the retried request's URL, masked
    events = logged_text(instance, result.run_id)
    assert "geographies from the Census API" in events
    (saved,) = (paths.sources / "live" / "area_indicators").glob("*.json")
    for text in (caplog.text, events, saved.read_text()):
        assert KEY not in text


def test_live_311_pages_into_the_accepted_truth(city: SampleCityFiles, tmp_path: Path) -> None:
    truth = json.loads(city.truth_json.read_text())["service_requests"]
    api_rows = socrata_rows(city.service_requests_csv)
    with FakePortals() as portal:
        portal.add_socrata(
            SF311_DATASET, api_rows, date_field=SF311_DATE_FIELD, fields=list(SF311.columns)
        )
        portal.fail(Failure.http(503, retry_after=0.01))  # retried, then served
        config = load_jurisdiction(jurisdiction_yaml(tmp_path, city, UNUSED_URL, portal.base_url))
        result = materialize(source_assets(config, "service_requests"), resources=resources(config))
        requests = portal.requests_to(f"/resource/{SF311_DATASET}.json")
    assert result.success

    assert len(api_rows) == truth["rows"] - 1  # the garbage date
    in_window = [r for r in api_rows if r[SF311_DATE_FIELD] >= "2024-07-01"]
    pages = -(-len(in_window) // PAGE_SIZE) + (len(in_window) % PAGE_SIZE == 0)
    assert pages >= 8
    assert len(requests) == 1 + pages  # the 503, then every page once
    offsets = [int(r.params["$offset"]) for r in requests[1:]]
    assert offsets == [PAGE_SIZE * i for i in range(pages)]
    assert all(r.params["$limit"] == str(PAGE_SIZE) for r in requests)
    window = f"{SF311_DATE_FIELD} >= '2024-07-01T00:00:00'"
    assert all(r.params["$where"] == window for r in requests)

    paths = data_paths()
    assert parquet_rows(paths.raw_file("service_requests"))[0][0] == len(in_window)
    conformed = paths.conformed_file("service_requests")
    assert parquet_rows(conformed)[0][0] == truth["accepted_rows"]
    # Rows the API cannot serve (a garbage date) or the window leaves out (1970) never arrive.
    not_served = {"date_unparseable", "date_placeholder"}
    expected = {i: r for i, r in truth["defects"].items() if r not in not_served}
    quarantined = parquet_rows(
        paths.quarantine_file("service_requests"), "service_request_id, _reason"
    )
    assert dict(quarantined) == expected
    assert len(quarantined) == len(expected)


def test_census_schema_drift_fails_the_raw_asset(
    city: SampleCityFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = api_columns(TABLE_SETS["social_services"])
    dropped = variables[-1]  # asked for in the second chunk
    monkeypatch.setenv(KEY_ENV, KEY)
    with FakeCensus(required_key=KEY) as census:
        table = census.add_table(YEAR, DATASET, census_rows(city.acs_json))
        table.omitted.add(dropped)
        config = load_jurisdiction(jurisdiction_yaml(tmp_path, city, census.data_url, UNUSED_URL))
        (raw,) = [a for a in raw_assets(config) if a.key == AssetKey(["raw", "area_indicators"])]
        result = materialize([raw], resources=resources(config), raise_on_error=False)
        requests = census.requests_to(census.path(YEAR, DATASET))
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.event_specific_data.user_failure_data.description
    assert message.startswith("area_indicators:")
    assert "schema drift" in message and repr(dropped) in message
    assert KEY not in message
    assert len(requests) == 2  # both chunks asked once: drift is not retried
    assert not data_paths().raw_file("area_indicators").exists()
