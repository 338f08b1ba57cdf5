"""Helpers for tests that land and split one police source through its Dagster assets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

import polars as pl
from dagster import AssetCheckEvaluation, AssetKey, materialize
from dagster._utils.error import SerializableErrorInfo

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.boundaries import land_boundaries
from crimemap.ingestion.police.partitions import partition_path
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.jurisdiction import jurisdiction_resource
from crimemap.orchestration.defs.police.assets import (
    police_partitions,
    raw_police_asset,
    split_police_asset,
)
from crimemap.orchestration.defs.police.checks import police_checks
from crimemap.orchestration.defs.police.resources import feed_resource_key, police_feed
from crimemap.quality.boundaries import split_boundaries


def conform_areas(config: JurisdictionConfig, paths: DataPaths) -> None:
    assert config.boundaries.path is not None
    spec = config.boundaries.spec
    with connect() as con:
        raw = paths.raw_file("areas")
        land_boundaries(config.boundaries.path, raw, spec, load_id="L", con=con)
        split_boundaries(
            con,
            spec,
            raw_parquet=raw,
            quarantine_path=paths.quarantine_file("areas"),
            conformed_path=paths.conformed_file("areas"),
        )


@dataclass(frozen=True)
class PoliceLoad:
    """What landing and splitting one month of a police source gave."""

    landing_error: str | None
    split_error: str | None
    raw_rows: int  # rows of the month's raw partition
    accepted_rows: int
    quarantined_rows: int
    reasons: Counter[str]  # the first reason code of each quarantined row
    checks: dict[str, AssetCheckEvaluation]  # by check name

    @property
    def balanced(self) -> bool:
        return self.raw_rows == self.accepted_rows + self.quarantined_rows

    def failed_checks(self) -> dict[str, tuple[str, str]]:
        """Check name -> (severity, description) of each check that did not pass."""
        return {
            name: (e.severity.value, e.description or "")
            for name, e in self.checks.items()
            if not e.passed
        }


def root_cause(error: SerializableErrorInfo | None) -> str:
    """The message of the exception that started a step's failure (Dagster wraps it)."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return ""
    kind, _, message = error.message.strip().partition(": ")  # "pkg.module.Type: message"
    return message if kind.split(".")[-1] == error.cls_name else error.message.strip()


def load_police_month(config: JurisdictionConfig, paths: DataPaths, month: str) -> PoliceLoad:
    """Land, check and split ``month`` (``YYYY-MM``) of the jurisdiction's one police source
    through its real Dagster assets and checks."""
    (source,) = config.police
    partitions = police_partitions(config)
    raw_suite = next(
        c for c in police_checks(config) if any("raw_suite" in s.name for s in c.check_specs)
    )
    result = materialize(
        [
            raw_police_asset(source, config, partitions),
            split_police_asset(source, config, partitions),
            raw_suite,
        ],
        partition_key=f"{month}-01",
        resources={
            feed_resource_key(source.name): police_feed(source, config, paths.sources),
            "data_dir": DataDirectory(root=str(paths.root)),
            "jurisdiction": jurisdiction_resource(config),
        },
        raise_on_error=False,
    )
    failures = {
        e.step_key: root_cause(e.step_failure_data.error)
        for e in result.get_step_failure_events()
        if e.step_key is not None
    }
    split = next(
        (
            e.materialization.metadata
            for e in result.get_asset_materialization_events()
            if e.materialization.asset_key == AssetKey(["conformed", "police", source.name])
        ),
        {},
    )
    raw_partition = partition_path(paths.raw_police(source.name), date.fromisoformat(f"{month}-01"))
    quarantine = partition_path(
        paths.quarantine_police(source.name), date.fromisoformat(f"{month}-01")
    )
    reasons: Counter[str] = Counter()
    if quarantine.is_file():
        reasons.update(pl.read_parquet(quarantine)["_reason"].to_list())
    return PoliceLoad(
        landing_error=failures.get(f"raw__police__{source.name}"),
        split_error=failures.get(f"split_police_{source.name}"),
        raw_rows=pl.read_parquet(raw_partition).height if raw_partition.is_file() else 0,
        accepted_rows=int(split["accepted_rows"].value) if split else 0,
        quarantined_rows=int(split["quarantined_rows"].value) if split else 0,
        reasons=reasons,
        checks={e.check_name: e for e in result.get_asset_check_evaluations()},
    )
