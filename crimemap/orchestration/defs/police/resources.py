"""Police feeds: where one police source's published rows come from, chosen by configuration.

``sample`` renders the sample city in the source's layout, ``file`` reads an export as
downloaded, ``live`` pages through the portal API. Assets only call ``PoliceFeed.land``.
"""

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from dagster import ConfigurableResource

from crimemap.config.jurisdiction import JurisdictionConfig, PoliceSource
from crimemap.ingestion.landing import ReadOptions, land_csv, land_frame
from crimemap.ingestion.police.layout import PoliceLayout
from crimemap.ingestion.police.live import fetch_live_rows
from crimemap.ingestion.police.partitions import next_month
from crimemap.orchestration.defs.sources.resources import SampleCity, sample_city_resource
from crimemap.samplecity.generate import sample_city_key

Log = Callable[[str], None]


class PoliceFeed(ConfigurableResource, ABC):
    """Lands the published rows covering ``months`` of one source as a Parquet of strings."""

    @abstractmethod
    def land(
        self, layout: PoliceLayout, months: list[date], timezone: str, dest: Path, log: Log
    ) -> Path: ...


class SamplePoliceFeed(PoliceFeed):
    """The sample city rendered in the source's publisher layout (generated once, then reused)."""

    city: SampleCity

    def export_file(self, layout: PoliceLayout) -> Path:
        config = self.city.config()
        files = self.city.files()
        if layout.name == "seattle_spd":
            return files.police_csv
        from crimemap.samplecity.publishers import render_publisher_sample

        out = Path(self.city.sources_dir) / "sample" / sample_city_key(config) / "publishers"
        target = out / f"{layout.name}.csv"
        if not target.is_file():
            render_publisher_sample(layout.name, out, config)
        return target

    def land(
        self, layout: PoliceLayout, months: list[date], timezone: str, dest: Path, log: Log
    ) -> Path:
        export = self.export_file(layout)
        log(f"sample city rendered as {layout.name}: {export.name}")
        return land_csv(export, dest, load_id="pending").path


class FilePoliceFeed(PoliceFeed):
    """An export exactly as downloaded from the portal, read as the YAML says (renames, skips,
    encoding, delimiter)."""

    path: str
    rename: dict[str, str]
    skip: list[str]
    encoding: str
    delimiter: str

    def read_options(self) -> ReadOptions:
        return ReadOptions(
            rename=self.rename,
            skip=tuple(self.skip),
            encoding=self.encoding,
            delimiter=self.delimiter,
        )

    def land(
        self, layout: PoliceLayout, months: list[date], timezone: str, dest: Path, log: Log
    ) -> Path:
        export = Path(self.path)
        if not export.is_file():
            raise FileNotFoundError(f"police export not found: {export}")
        log(f"reading {export.name} ({export.stat().st_size / 1e6:.1f} MB)")
        return land_csv(export, dest, load_id="pending", read=self.read_options()).path


class LivePoliceFeed(PoliceFeed):
    """The portal API (Socrata or ArcGIS), one request window per run: the months asked for."""

    options: dict[str, Any]

    def land(
        self, layout: PoliceLayout, months: list[date], timezone: str, dest: Path, log: Log
    ) -> Path:
        start = datetime.combine(min(months), datetime.min.time())
        end = datetime.combine(next_month(max(months)), datetime.min.time())
        if layout.live is not None and layout.live.kind == "arcgis":
            # ArcGIS date fields are UTC: the local month bounds are converted.
            zone = ZoneInfo(timezone)
            start, end = start.replace(tzinfo=zone), end.replace(tzinfo=zone)
        rows: list[dict[str, str | None]] = []
        for page in fetch_live_rows(layout, self.options, start=start, end=end, log=log):
            rows.extend(page)
        log(f"{len(rows):,} rows from the {layout.live.kind if layout.live else ''} API")
        columns = list(layout.columns) or list(dict.fromkeys(k for r in rows for k in r))
        frame = pl.DataFrame(
            {c: [r.get(c) for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String)
        )
        name = f"{layout.name}-api-{months[0]:%Y-%m}-{months[-1]:%Y-%m}"
        return land_frame(frame, name, dest, load_id="pending").path


def police_feed(source: PoliceSource, config: JurisdictionConfig, sources_dir: Path) -> PoliceFeed:
    if source.mode == "sample":
        return SamplePoliceFeed(city=sample_city_resource(config, sources_dir))
    if source.mode == "file":
        return FilePoliceFeed(
            path=str(source.path),
            rename=dict(source.read.rename),
            skip=list(source.read.skip),
            encoding=source.read.encoding,
            delimiter=source.read.delimiter,
        )
    options = dict(source.layout.live.options) if source.layout.live else {}
    options.update(source.live)
    return LivePoliceFeed(options=options)


def feed_resource_key(source: str) -> str:
    return f"police_feed_{source}"


def scratch_path(root: Path, source: str) -> Path:
    """A new scratch file for one landing; any scratch file a killed landing left is removed
    first (one landing of a source runs at a time)."""
    for leftover in (root / ".staging").glob(f"{source}-*.parquet"):
        leftover.unlink(missing_ok=True)
    return root / ".staging" / f"{source}-{uuid.uuid4().hex}.parquet"
