"""Source feeds: where each survey and public-record source's published file comes from.

Every source has one interface, its mode chosen by the jurisdiction YAML: ``sample`` hands out the
seeded sample city's file, ``file`` an export exactly as downloaded, ``live`` calls the API and
saves the response as the publisher's own format. Assets land whatever file a feed returns, so a
live response and a downloaded export take the same path through quality and dbt.
"""

import json
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from dagster import ConfigurableResource

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.sources import NONE
from crimemap.ingestion.census import GEO_ID_COLUMN, TABLE_SETS, api_columns, table_set_variables
from crimemap.samplecity.generate import ensure_sample_city
from crimemap.samplecity.settings import SampleCityConfig, SampleCityFiles

Log = Callable[[str], None]

SAMPLE_SOURCE_FILES = {
    "areas": "areas_geojson",
    "area_indicators": "acs_json",
    "facilities": "facilities_csv",
    "service_requests": "service_requests_csv",
    "surveys": "survey_csv",
}


class SampleCity(ConfigurableResource):
    """Settings of the seeded sample city every sample-mode feed reads from."""

    sources_dir: str
    seed: int
    n_incidents: int
    defect_rate: float
    first_month: str  # ISO date
    n_months: int

    def config(self) -> SampleCityConfig:
        return SampleCityConfig(
            seed=self.seed,
            n_incidents=self.n_incidents,
            defect_rate=self.defect_rate,
            first_month=date.fromisoformat(self.first_month),
            n_months=self.n_months,
        )

    def files(self) -> SampleCityFiles:
        return ensure_sample_city(Path(self.sources_dir) / "sample", self.config())

    def seed_survey(self, inbox: Path) -> Path | None:
        """Drop the sample city's survey into the inbox, once; a removed copy comes back at the
        next sample run."""
        source = self.files().survey_csv
        target = inbox / source.name
        if target.exists():
            return None
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target


# --- one interface per source ------------------------------------------------------------------


class SourceFeed(ConfigurableResource, ABC):
    """Hands out one source's published file (a download, a sample, a saved API response)."""

    @abstractmethod
    def fetch(self, log: Log) -> Path: ...


class SampleFeed(SourceFeed):
    """One source of the sample city."""

    source: str
    city: SampleCity

    def fetch(self, log: Log) -> Path:
        path = getattr(self.city.files(), SAMPLE_SOURCE_FILES[self.source])
        log(f"sample city {self.source}: {path.name}")
        return path


class ExportFileFeed(SourceFeed):
    """A jurisdiction's own export, exactly as downloaded from the portal."""

    source: str
    path: str

    def fetch(self, log: Log) -> Path:
        path = Path(self.path)
        if not path.exists():
            raise FileNotFoundError(f"{self.source} source file not found: {path}")
        log(f"{self.source}: {path.name} ({path.stat().st_size / 1e6:.2f} MB)")
        return path


class CensusApiFeed(SourceFeed):
    """ACS estimates from the Census Data API, saved as the API's own JSON."""

    sources_dir: str
    table_set: str
    year: int
    geography_in: list[str]
    dataset: str = "acs/acs5"
    geography_for: str = "tract:*"
    base_url: str = "https://api.census.gov/data"
    api_key_env: str = "CENSUS_API_KEY"

    def fetch(self, log: Log) -> Path:
        from crimemap.ingestion.live.census import CensusQuery, fetch_acs, write_census_json

        query = CensusQuery(
            base_url=self.base_url,
            year=self.year,
            dataset=self.dataset,
            geography_for=self.geography_for,
            geography_in=tuple(self.geography_in),
            api_key_env=self.api_key_env,
        )
        variables = [
            f"{v}{suffix}"
            for v in table_set_variables(TABLE_SETS[self.table_set])
            for suffix in ("E", "M")
        ]
        rows = fetch_acs(query, variables)
        log(f"{len(rows) - 1:,} geographies from the Census API ({self.dataset} {self.year})")
        target = (
            Path(self.sources_dir)
            / "live"
            / "area_indicators"
            / f"acs_{self.year}_{self.dataset.replace('/', '_')}.json"
        )
        write_census_json(rows, target)
        return target


class AbsentSourceFeed(SourceFeed):
    """A source the jurisdiction does not have (``mode: none``): a header-only file in the shape
    its mapping reads, so the split writes an empty conformed file, the marts stay defined and
    say the source is absent. Nothing is invented."""

    source: str
    sources_dir: str
    columns: list[str]
    census_json: bool = False  # the Census API's array of arrays, else CSV

    def fetch(self, log: Log) -> Path:
        suffix = "json" if self.census_json else "csv"
        target = Path(self.sources_dir) / "none" / f"{self.source}.{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.census_json:
            target.write_text(json.dumps([self.columns]))
        else:
            pl.DataFrame(schema=dict.fromkeys(self.columns, pl.String)).write_csv(target)
        log(f"{self.source}: no source declared (mode none); nothing to land")
        return target


# --- 311: the layout travels with the call, like police feeds ----------------------------------


class ServiceRequestFeed(ConfigurableResource, ABC):
    @abstractmethod
    def fetch(self, layout: Any, log: Log) -> Path: ...


class SampleServiceRequestFeed(ServiceRequestFeed):
    city: SampleCity

    def fetch(self, layout: Any, log: Log) -> Path:
        path = self.city.files().service_requests_csv
        log(f"sample city 311 requests: {path.name}")
        return path


class FileServiceRequestFeed(ServiceRequestFeed):
    path: str

    def fetch(self, layout: Any, log: Log) -> Path:
        return ExportFileFeed(source="service_requests", path=self.path).fetch(log)


class NoServiceRequestFeed(ServiceRequestFeed):
    """A jurisdiction without 311 data: an empty export in the layout, so marts stay defined."""

    sources_dir: str

    def fetch(self, layout: Any, log: Log) -> Path:
        absent = AbsentSourceFeed(
            source="service_requests", sources_dir=self.sources_dir, columns=list(layout.columns)
        )
        return absent.fetch(log)


class LiveServiceRequestFeed(ServiceRequestFeed):
    """The portal's Socrata API, from the configured start month to now."""

    sources_dir: str
    start_month: str  # YYYY-MM-DD
    options: dict[str, Any]

    def fetch(self, layout: Any, log: Log) -> Path:
        from crimemap.ingestion.service_requests.live import fetch_service_requests, rows_frame

        start = datetime.combine(date.fromisoformat(self.start_month), datetime.min.time())
        pages = fetch_service_requests(layout, self.options, start=start, end=None, log=log)
        frame = rows_frame(layout, pages)
        target = Path(self.sources_dir) / "live" / "service_requests" / f"{layout.name}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.write_csv(target)
        log(f"{frame.height:,} service requests from the Socrata API")
        return target


# --- resources of a jurisdiction ---------------------------------------------------------------


def _boundary_feed(source: str, mode: str, path: Path | None, city: SampleCity) -> SourceFeed:
    if mode == "sample":
        return SampleFeed(source=source, city=city)
    return ExportFileFeed(source=source, path=str(path))


def _indicator_feed(config: JurisdictionConfig, city: SampleCity, sources_dir: Path) -> SourceFeed:
    indicators = config.indicators
    if indicators.mode == NONE:
        return AbsentSourceFeed(
            source="area_indicators",
            sources_dir=str(sources_dir),
            columns=[GEO_ID_COLUMN, *api_columns(TABLE_SETS[indicators.table_set])],
            census_json=True,
        )
    if indicators.mode == "live" and indicators.api is not None:
        api = indicators.api
        return CensusApiFeed(
            sources_dir=str(sources_dir),
            table_set=indicators.table_set,
            year=api.year,
            geography_in=list(api.geography_in),
            dataset=api.dataset,
            geography_for=api.geography_for,
            base_url=api.base_url,
            api_key_env=api.api_key_env,
        )
    return _boundary_feed("area_indicators", indicators.mode, indicators.path, city)


def _facility_feed(config: JurisdictionConfig, city: SampleCity, sources_dir: Path) -> SourceFeed:
    facilities = config.facilities
    if facilities.mode == NONE:
        return AbsentSourceFeed(
            source="facilities",
            sources_dir=str(sources_dir),
            columns=list(facilities.mapping.read_columns),
        )
    return _boundary_feed("facilities", facilities.mode, facilities.path, city)


def _service_request_feed(
    config: JurisdictionConfig, city: SampleCity, sources_dir: Path
) -> ServiceRequestFeed:
    source = config.service_requests
    if source.mode == "sample":
        return SampleServiceRequestFeed(city=city)
    if source.mode == "file":
        return FileServiceRequestFeed(path=str(source.path))
    if source.mode == "live":
        layout_live = source.layout.live
        options = dict(layout_live.options) if layout_live is not None else {}
        options.update(source.live)
        return LiveServiceRequestFeed(
            sources_dir=str(sources_dir),
            start_month=source.start_month.isoformat(),
            options=options,
        )
    return NoServiceRequestFeed(sources_dir=str(sources_dir))


def sample_city_resource(config: JurisdictionConfig, sources_dir: Path) -> SampleCity:
    """The sample city as the jurisdiction's ``sample:`` settings describe it."""
    return SampleCity(
        sources_dir=str(sources_dir),
        seed=config.sample.seed,
        n_incidents=config.sample.incidents,
        defect_rate=config.sample.defect_rate,
        first_month=config.sample.first_month.isoformat(),
        n_months=config.sample.months,
    )


def source_resources(config: JurisdictionConfig, sources_dir: Path) -> dict[str, Any]:
    """The feed of every survey and public-record source, by resource key."""
    city = sample_city_resource(config, sources_dir)
    resources: dict[str, Any] = {
        "sample_city": city,
        "areas_feed": _boundary_feed("areas", config.boundaries.mode, config.boundaries.path, city),
        "area_indicators_feed": _indicator_feed(config, city, sources_dir),
        "facilities_feed": _facility_feed(config, city, sources_dir),
        "service_requests_feed": _service_request_feed(config, city, sources_dir),
    }
    units = config.indicators.units
    if units is not None:
        resources["indicator_units_feed"] = ExportFileFeed(
            source="indicator_units", path=str(units.path)
        )
    return resources
