"""The jurisdiction being run: ``CRIMEMAP_CONFIG`` names its YAML (default: the sample city).

``CRIMEMAP_SAMPLE_INCIDENTS`` / ``_SEED`` / ``_DEFECT_RATE`` override the file's ``sample``
section, so the CLI and tests can size the sample city without editing the file. Police months
are resolved here: each source's partitions run from its ``start_month`` (or its data's first
month) to its data's last month (to the current month for live sources).
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from crimemap.config.jurisdiction import (
    DEFAULT_CONFIG,
    JurisdictionConfig,
    PoliceSource,
    load_jurisdiction,
)
from crimemap.config.paths import DataPaths, data_paths
from crimemap.config.sources import ConfigError
from crimemap.core.duckdb_spatial import scratch
from crimemap.ingestion.landing import land_csv
from crimemap.ingestion.police.extent import (
    MonthRange,
    export_signature,
    landed_month_range,
    month_of,
    read_cached_range,
    write_cached_range,
)
from crimemap.ingestion.surveys import normalize_area_id

CONFIG_ENV = "CRIMEMAP_CONFIG"


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).resolve()


@cache
def _load(
    path: Path, incidents: str | None, seed: str | None, rate: str | None, data_dir: str | None
) -> JurisdictionConfig:
    config = load_jurisdiction(path)
    sample = config.sample
    sample = dataclasses.replace(
        sample,
        incidents=int(incidents) if incidents else sample.incidents,
        seed=int(seed) if seed else sample.seed,
        defect_rate=float(rate) if rate else sample.defect_rate,
    )
    config = dataclasses.replace(config, sample=sample)
    return resolve_police_months(config, data_paths(), date.today())


def current_config() -> JurisdictionConfig:
    env = os.environ
    return _load(
        config_path(),
        env.get("CRIMEMAP_SAMPLE_INCIDENTS"),
        env.get("CRIMEMAP_SAMPLE_SEED"),
        env.get("CRIMEMAP_SAMPLE_DEFECT_RATE"),
        env.get("CRIMEMAP_DATA_DIR"),
    )


def export_months(
    source: PoliceSource, timezone: str, paths: DataPaths, today: date
) -> MonthRange | None:
    """The months a file export covers, read once per version of the file (cached)."""
    assert source.path is not None
    cache = paths.state / "police_months" / f"{source.name}.json"
    signature = export_signature(source.path, source.layout, timezone, source.read)
    cached = read_cached_range(cache, signature)
    if cached is not None:
        return cached
    scratch_file = paths.state / "police_months" / f".{source.name}-{uuid.uuid4().hex}.parquet"
    try:
        landed = land_csv(source.path, scratch_file, load_id="months", read=source.read).path
        with scratch() as con:
            months = landed_month_range(con, source.layout, landed, timezone, today=today)
    except ValueError as exc:
        raise ConfigError(f"{source.name}: {exc}") from exc
    finally:
        scratch_file.unlink(missing_ok=True)
    if months is not None:
        write_cached_range(cache, signature, months)
    return months


def resolve_police_months(
    config: JurisdictionConfig, paths: DataPaths, today: date
) -> JurisdictionConfig:
    """Each police source with its first and last partition month."""

    def resolved(source: PoliceSource) -> PoliceSource:
        if source.mode == "live":
            return source
        if source.mode == "sample":
            # the sample city's fixed months (sample: in the YAML), never relative to today
            months: MonthRange | None = MonthRange(
                config.sample.first_month, config.sample.last_month
            )
        else:
            months = export_months(source, config.timezone, paths, today)
        if months is None:
            # No row has a date the layout reads: one partition, where quality says why.
            start = source.start_month or month_of(today)
            return dataclasses.replace(source, start_month=start, end_month=start)
        start = source.start_month or months.first
        return dataclasses.replace(source, start_month=start, end_month=max(start, months.last))

    return dataclasses.replace(config, police=tuple(resolved(s) for s in config.police))


def dbt_vars(config: JurisdictionConfig) -> dict[str, Any]:
    """The jurisdiction's settings the models read (dbt_project.yml holds the sample city's)."""
    return {
        "timezone": config.timezone,
        "projected_crs": config.projected_crs,
        "snap_tolerance_m": config.snap_tolerance_m,
        "cv_threshold_pct": config.indicators.cv_threshold_pct,
        "min_survey_responses": config.surveys.min_responses,
        "start_month": config.police_start_month.isoformat(),
        "police_sources": [s.name for s in config.police],
        "absent_sources": list(config.absent_sources),
        **config.analysis.dbt_vars(),
        # initiative areas are named as the boundaries name them: keyed the same way
        "initiatives": [
            {
                **initiative,
                "areas": [
                    normalize_area_id(a, config.boundaries.spec.id_kind) or a
                    for a in initiative["areas"]
                ],
            }
            for initiative in config.analysis.dbt_vars()["initiatives"]
        ],
        "priority_unavailable_components": list(config.unavailable_priority_components),
        "priority_indicators": config.priority_indicators,
        "correlation_indicators": list(config.indicators.measures),
    }
