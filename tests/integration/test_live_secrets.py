"""A portal that echoes the credential in its error body: the secret appears nowhere, not in the
error, its traceback, the run's logs or anything under the data directory and Dagster's storage;
and a refused request (403) is not retried. Every client that sends a secret is tried: Socrata
(police and 311: the app token) and the Census API (the key). ArcGIS feature services are read
without a credential."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.ingestion.live.census import CensusQuery, fetch_acs
from crimemap.ingestion.live.http import LiveSourceError, RetryPolicy
from crimemap.ingestion.live.socrata import SocrataDataset, fetch_socrata
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.police.assets import police_partitions, raw_police_asset
from crimemap.orchestration.defs.police.resources import feed_resource_key, police_feed
from crimemap.orchestration.defs.sources.assets import raw_assets
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from tests.integration.test_sources_live import (
    DATASET,
    KEY_ENV,
    SF311_DATASET,
    SF311_DATE_FIELD,
    YEAR,
    census_rows,
    jurisdiction_yaml,
    resources,
)
from tests.support.fake_census import FakeCensus
from tests.support.fake_portals import Failure, FakePortals
from tests.support.jurisdictions import file_sources_yaml

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-T0KEN-4f9a2c"
FAST = RetryPolicy(max_attempts=3, backoff_s=0.01)


def echoing(secret: str) -> Failure:
    """A 403 whose body repeats the credential, as written and URL-encoded."""
    return Failure.http(
        403, body={"message": f"Invalid app token {secret!r} (you sent token={secret}, "
                              f"key%3D{secret.replace('-', '%2D')})"}
    )  # fmt: skip


def leaked(error: BaseException) -> bool:
    return SECRET in "".join(traceback.format_exception(error))


def files_holding(root: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_socrata_masks_an_echoed_token_and_does_not_retry_a_403(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCRATA_APP_TOKEN", SECRET)
    logged: list[str] = []
    with FakePortals() as portal:
        portal.add_socrata("abcd-1234", [], date_field="when")
        portal.fail(echoing(SECRET))
        dataset = SocrataDataset(portal.base_url, "abcd-1234", "when")
        with pytest.raises(LiveSourceError) as caught:
            list(fetch_socrata(dataset, policy=FAST, log=logged.append))
        sent = portal.requests
    assert sent[0].headers["x-app-token"] == SECRET  # the token was sent, in a header
    assert len(sent) == 1 and caught.value.permanent
    assert "HTTP 403" in str(caught.value) and "Invalid app token '***'" in str(caught.value)
    assert not leaked(caught.value)
    assert not any(SECRET in line for line in logged)


def test_census_masks_an_echoed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENSUS_API_KEY", SECRET)
    with FakeCensus(required_key="another") as census:
        census.fail(echoing(SECRET))
        query = CensusQuery(2022, base_url=census.data_url, geography_in=("state:53",))
        with pytest.raises(LiveSourceError) as caught:
            fetch_acs(query, ["B01003_001E"], policy=FAST)
        assert census.requests[0].params["key"] == SECRET
    assert not leaked(caught.value)


def test_a_failed_live_run_leaves_the_token_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCRATA_APP_TOKEN", SECRET)
    files = generate_sample_city(tmp_path / "city", SampleCityConfig(n_incidents=300))
    data_dir = tmp_path / "data"
    with FakePortals() as portal:
        portal.add_socrata("tazs-3rd5", [], date_field="offense_start_datetime")
        for _ in range(4):  # enough for every retry there could be
            portal.fail(echoing(SECRET))
        yaml = tmp_path / "live.yml"
        yaml.write_text(
            "name: Live City\ntimezone: America/Los_Angeles\nprojected_crs: EPSG:32610\n"
            "police: [{name: spd, layout: seattle_spd, mode: live, start_month: 2024-07, "
            f'live: {{base_url: "{portal.base_url}"}}}}]\n'
            + file_sources_yaml(str(files.areas_geojson.parent))
        )
        config = load_jurisdiction(yaml)
        (source,) = config.police
        (data_dir / "dagster").mkdir(parents=True)
        with DagsterInstance.local_temp(str(data_dir / "dagster")) as instance:
            result = materialize(
                [raw_police_asset(source, config, police_partitions(config))],
                partition_key="2024-07-01",
                instance=instance,
                resources={
                    feed_resource_key(source.name): police_feed(
                        source, config, data_dir / "sources"
                    ),
                    "data_dir": DataDirectory(root=str(data_dir)),
                },
                raise_on_error=False,
            )
            events = "".join(str(e) for e in instance.all_logs(result.run_id))
        requests = len(portal.requests)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "HTTP 403" in str(failure.event_specific_data)
    assert requests == 1  # neither the client nor Dagster asked again
    assert SECRET not in events
    assert files_holding(tmp_path / "data", SECRET) == []


@pytest.mark.parametrize("source", ["area_indicators", "service_requests"])
def test_a_failed_live_source_run_leaves_the_secret_nowhere(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Census key (indicators) and the Socrata token (311), each echoed by its server."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(data_dir))
    monkeypatch.setenv(KEY_ENV, SECRET)
    monkeypatch.setenv("SOCRATA_APP_TOKEN", SECRET)
    files = generate_sample_city(tmp_path / "city", SampleCityConfig(n_incidents=300))
    with FakeCensus(required_key=SECRET) as census, FakePortals() as portal:
        census.add_table(YEAR, DATASET, census_rows(files.acs_json))
        portal.add_socrata(SF311_DATASET, [], date_field=SF311_DATE_FIELD)
        for _ in range(4):
            census.fail(echoing(SECRET))
            portal.fail(echoing(SECRET))
        config = load_jurisdiction(
            jurisdiction_yaml(tmp_path, files, census.data_url, portal.base_url)
        )
        (data_dir / "dagster").mkdir(parents=True)
        with DagsterInstance.local_temp(str(data_dir / "dagster")) as instance:
            raw = [a for a in raw_assets(config) if a.key.path == ["raw", source]]
            result = materialize(
                raw, instance=instance, resources=resources(config), raise_on_error=False
            )
            events = "".join(str(e) for e in instance.all_logs(result.run_id))
        requests = len(census.requests) + len(portal.requests)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "HTTP 403" in str(failure.event_specific_data)
    assert requests == 1  # refused: neither the client nor Dagster asked again
    assert SECRET not in events
    assert files_holding(data_dir, SECRET) == []
