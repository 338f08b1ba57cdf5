"""A police source in live mode: the Socrata feed behind the real raw asset, on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import materialize

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.config.paths import data_paths
from crimemap.ingestion.police.layout import builtin_layout
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.police.assets import police_partitions, raw_police_asset
from crimemap.orchestration.defs.police.resources import feed_resource_key, police_feed
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from tests.support.fake_portals import Failure, FakePortals
from tests.support.jurisdictions import file_sources_yaml

pytestmark = pytest.mark.integration

SPD_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def socrata_rows(seattle_csv: Path) -> list[dict[str, str]]:
    """The sample city's SPD rows as the SODA API serves them: API field names, ISO floating
    timestamps; rows whose date is garbage are left out (a Socrata date field cannot hold it)."""
    fields = builtin_layout("seattle_spd").live.fields
    frame = pl.read_csv(seattle_csv, infer_schema=False)
    rows = []
    for rec in frame.iter_rows(named=True):
        row = {api: rec[column] for api, column in fields.items() if rec[column] is not None}
        try:
            for api in ("offense_start_datetime", "report_datetime", "offense_end_datetime"):
                if api in row:
                    stamp = datetime.strptime(row[api], SPD_FORMAT)
                    row[api] = stamp.isoformat(timespec="milliseconds")
        except ValueError:
            continue
        rows.append(row)
    return rows


def socrata_live(portal: FakePortals) -> str:
    return f'{{base_url: "{portal.base_url}", page_size: 400}}'


def jurisdiction_yaml(
    root: Path, files, live: str, layout: str = "seattle_spd", name: str = "live.yml"
) -> Path:
    path = root / name
    path.write_text(
        f"""
name: Live City
timezone: America/Los_Angeles
projected_crs: EPSG:32610
police:
  - name: live_source
    layout: {layout}
    mode: live
    start_month: 2024-07
    live: {live}
"""
        + file_sources_yaml(str(files.areas_geojson.parent))
    )
    return path


def test_live_month_lands_exactly_that_months_rows(tmp_path: Path) -> None:
    files = generate_sample_city(tmp_path / "city", SampleCityConfig(n_incidents=3000))
    rows = socrata_rows(files.police_csv)
    july = [r for r in rows if r["offense_start_datetime"].startswith("2024-07")]
    with FakePortals() as portal:
        fields = list(builtin_layout("seattle_spd").live.fields)
        portal.add_socrata("tazs-3rd5", rows, date_field="offense_start_datetime", fields=fields)
        config = load_jurisdiction(jurisdiction_yaml(tmp_path, files, socrata_live(portal)))
        (source,) = config.police
        asset = raw_police_asset(source, config, police_partitions(config))
        feed = police_feed(source, config, data_paths().sources)
        portal.fail(Failure.http(503, retry_after=0.01))  # retried, then served
        result = materialize(
            [asset],
            partition_key="2024-07-01",
            resources={feed_resource_key(source.name): feed, "data_dir": data_dir()},
        )
        requests = portal.requests_to("/resource/tazs-3rd5.json")
    assert result.success
    assert len(july) > 100
    assert len(requests) == 1 + -(-len(july) // 400) + (len(july) % 400 == 0)  # 503 + pages
    assert all("offense_start_datetime >= '2024-07-01T00:00:00'" in r.params["$where"]
               for r in requests)  # fmt: skip
    landed = data_paths().raw_police("live_source") / "month=2024-07" / "part.parquet"
    got = duckdb.sql(f"SELECT \"Offense ID\" FROM read_parquet('{landed}')").fetchall()
    assert sorted(i for (i,) in got) == sorted(r["offense_id"] for r in july)
    columns = [c for c in duckdb.sql(f"SELECT * FROM read_parquet('{landed}')").columns]
    assert columns[:17] == list(builtin_layout("seattle_spd").columns)


def test_live_schema_drift_stops_the_source(tmp_path: Path) -> None:
    files = generate_sample_city(tmp_path / "city", SampleCityConfig(n_incidents=500))
    with FakePortals() as portal:
        fields = list(builtin_layout("seattle_spd").live.fields)
        portal.add_socrata(
            "tazs-3rd5", socrata_rows(files.police_csv), date_field="offense_start_datetime",
            fields=fields,
        )  # fmt: skip
        portal.rename_socrata_field("tazs-3rd5", "offense_code", "nibrs_offense_code")
        config = load_jurisdiction(jurisdiction_yaml(tmp_path, files, socrata_live(portal)))
        (source,) = config.police
        asset = raw_police_asset(source, config, police_partitions(config))
        feed = police_feed(source, config, data_paths().sources)
        result = materialize(
            [asset],
            partition_key="2024-07-01",
            resources={feed_resource_key(source.name): feed, "data_dir": data_dir()},
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.event_specific_data.user_failure_data.description
    assert "offense_code" in message and "nibrs_offense_code" in message


def test_live_arcgis_month_for_baltimore(tmp_path: Path) -> None:
    """Baltimore's NIBRS layout from an ArcGIS FeatureServer: UTC dates, local month bounds."""
    from zoneinfo import ZoneInfo

    from crimemap.samplecity.publishers import render_publisher_sample

    config_city = SampleCityConfig(n_incidents=3000)
    files = generate_sample_city(tmp_path / "city", config_city)
    sample = render_publisher_sample("baltimore_nibrs", tmp_path / "city", config_city)
    layout = builtin_layout("baltimore_nibrs")
    frame = pl.read_csv(sample.csv, infer_schema=False)
    frame = frame.rename({c: c.strip().lstrip("\ufeff") for c in frame.columns})
    features, july = [], 0
    local = ZoneInfo("America/Los_Angeles")
    for rec in frame.iter_rows(named=True):
        try:
            # "+00": Python wants minutes in an offset.
            stamp = datetime.strptime(rec["CrimeDateTime"] + "00", "%Y/%m/%d %H:%M:%S%z")
        except (TypeError, ValueError):
            continue  # an ArcGIS date field cannot hold garbage
        attributes = {**rec, "CrimeDateTime": stamp.replace(tzinfo=None)}
        features.append((attributes, None))
        july += stamp.astimezone(local).strftime("%Y-%m") == "2024-07"
    fields = [(c, "esriFieldTypeString") for c in layout.columns]
    fields[layout.columns.index("CrimeDateTime")] = ("CrimeDateTime", "esriFieldTypeDate")
    path = "/arcgis/rest/services/Part1_Crime_Beta/FeatureServer/0"
    with FakePortals() as portal:
        url = portal.add_arcgis(
            path, fields, features, date_field="CrimeDateTime", max_record_count=40
        )
        yaml_path = jurisdiction_yaml(
            tmp_path, files, f'{{url: "{url}"}}', layout="baltimore_nibrs", name="baltimore.yml"
        )
        config = load_jurisdiction(yaml_path)
        (source,) = config.police
        asset = raw_police_asset(source, config, police_partitions(config))
        feed = police_feed(source, config, data_paths().sources)
        result = materialize(
            [asset],
            partition_key="2024-07-01",
            resources={feed_resource_key(source.name): feed, "data_dir": data_dir()},
        )
        queries = portal.requests_to(f"{path}/query")
    assert result.success
    assert july > 50 and len(queries) == -(-july // 40) + (july % 40 == 0)
    landed = data_paths().raw_police("live_source") / "month=2024-07" / "part.parquet"
    rows = duckdb.sql(f"SELECT \"CrimeDateTime\" FROM read_parquet('{landed}')").fetchall()
    assert len(rows) == july
    assert all(value.endswith("+00:00") for (value,) in rows)


def data_dir() -> DataDirectory:
    return DataDirectory(root=str(data_paths().root))
