"""Resident surveys: CSV files dropped into the inbox, landed, judged and aggregated.

The inbox (``<data dir>/inbox/surveys`` by default) is the set of survey waves: every CSV in it
lands as ``raw/surveys/<file stem>.parquet`` and is split into its own quarantine file; the
accepted answers of all files form ``conformed/surveys``. A file removed from the inbox is
withdrawn at the next run. A sensor watches the inbox and starts the survey job when its content
changes, so an analyst only has to drop a file.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    DefaultSensorStatus,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    multi_asset,
    sensor,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import connect, fetch_one
from crimemap.core.sql import sql_literal
from crimemap.ingestion.landing import land_csv, land_frame
from crimemap.ingestion.surveys import inbox_files, inbox_fingerprint
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.jurisdiction import Jurisdiction
from crimemap.orchestration.defs.quality.volume import record_volume
from crimemap.orchestration.defs.sources.resources import SampleCity
from crimemap.quality.rules import load_areas
from crimemap.quality.surveys import split_survey

RAW_SURVEYS = AssetKey(["raw", "surveys"])
CONFORMED_SURVEYS = AssetKey(["conformed", "surveys"])
QUARANTINE_SURVEYS = AssetKey(["quarantine", "surveys"])
NO_SURVEYS = "no_surveys"  # the stand-in landing when the inbox is empty


def survey_inbox(config: JurisdictionConfig, paths: DataPaths) -> Path:
    return paths.root / config.surveys.inbox


def raw_survey_dir(paths: DataPaths) -> Path:
    return paths.raw / "surveys"


def seed_sample_survey(inbox: Path, city: SampleCity) -> Path | None:
    """Sample mode drops the sample city's survey into the inbox (once; a removed copy stays
    removed only until the next sample run)."""
    source = city.files().survey_csv
    target = inbox / source.name
    if not target.exists():
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target
    return None


def survey_assets(config: JurisdictionConfig) -> list:
    layout = config.surveys.layout

    @asset(
        key=RAW_SURVEYS,
        group_name="sources",
        kinds={"parquet"},
        description=(
            "Every resident survey CSV in the inbox, landed as published (one Parquet per file)."
        ),
    )
    def raw_surveys(
        context: AssetExecutionContext, data_dir: DataDirectory, sample_city: SampleCity
    ) -> MaterializeResult:
        paths = data_dir.paths
        inbox = survey_inbox(config, paths)
        if config.surveys.mode == "sample":
            seeded = seed_sample_survey(inbox, sample_city)
            if seeded:
                context.log.info(f"sample survey dropped into the inbox: {seeded.name}")
        files = inbox_files(inbox)
        target_dir = raw_survey_dir(paths)
        target_dir.mkdir(parents=True, exist_ok=True)
        landed: dict[str, int] = {}
        for path in files:
            try:
                target = target_dir / f"{path.stem}.parquet"
                result = land_csv(path, target, load_id=context.run.run_id)
            except ValueError as exc:
                raise Failure(description=f"surveys: {exc}", allow_retries=False) from exc
            landed[path.stem] = result.rows
        if not files:
            # An empty inbox still yields a (zero-row) landing so the marts stay defined.
            empty = pl.DataFrame(schema=dict.fromkeys(layout.read_columns, pl.String))
            land_frame(
                empty, NO_SURVEYS, target_dir / f"{NO_SURVEYS}.parquet", load_id=context.run.run_id
            )
            landed[NO_SURVEYS] = 0
        for stale in target_dir.glob("*.parquet"):
            if stale.stem not in landed:
                stale.unlink()  # withdrawn from the inbox
        # Each wave is its own scope: a smaller new wave is not an outage, a re-sent file that
        # lost most of its rows is.
        record_volume(data_dir.paths.state, "surveys", context.run.run_id, inbox, landed)
        context.log.info(f"surveys: {len(files)} file(s) in the inbox {landed}")
        return MaterializeResult(
            metadata={
                "dagster/row_count": sum(landed.values()),
                "files": MetadataValue.json(landed),
                "inbox": MetadataValue.path(str(inbox)),
            }
        )

    @multi_asset(
        name="split_surveys",
        specs=[
            AssetSpec(
                CONFORMED_SURVEYS,
                deps=[RAW_SURVEYS, AssetKey(["conformed", "areas"])],
                group_name="quality",
                kinds={"duckdb", "parquet"},
                description="Accepted survey answers of every file: one row per answered question.",
            ),
            AssetSpec(
                QUARANTINE_SURVEYS,
                deps=[RAW_SURVEYS, AssetKey(["conformed", "areas"])],
                group_name="quality",
                kinds={"duckdb", "parquet"},
                description=(
                    "Survey rows with no id or location, an unknown area, an answer off its "
                    "scale, or a repeated respondent; one file per survey."
                ),
            ),
        ],
    )
    def split_surveys(
        context: AssetExecutionContext, data_dir: DataDirectory, jurisdiction: Jurisdiction
    ) -> Iterator[MaterializeResult]:
        paths = data_dir.paths
        raw_dir = raw_survey_dir(paths)
        quarantine_dir = paths.quarantine / "surveys"
        work_dir = paths.conformed / "surveys" / ".files"
        profile_dir = paths.profiles / "surveys"
        stale_files = [
            *quarantine_dir.glob("*.parquet"),
            *work_dir.glob("*.parquet"),
            *profile_dir.glob("*.parquet"),
        ]
        for stale in stale_files:
            stale.unlink()
        totals = {"raw_rows": 0, "accepted_rows": 0, "quarantined_rows": 0}
        by_survey: dict[str, dict[str, int]] = {}
        with connect() as con:
            boundary = load_areas(con, paths.conformed_file("areas"))
            con.execute(
                "CREATE OR REPLACE TEMP TABLE known_areas AS "
                f"SELECT area_id AS area_key FROM {boundary}"
            )
            for raw in sorted(raw_dir.glob("*.parquet")):
                try:
                    result = split_survey(
                        con,
                        layout,
                        survey=raw.stem,
                        raw_parquet=raw,
                        quarantine_path=quarantine_dir / raw.name,
                        conformed_path=work_dir / raw.name,
                        profile_path=profile_dir / raw.name,
                        area_table="known_areas",
                        boundary_table=boundary,
                        projected_crs=jurisdiction.projected_crs,
                        tolerance_m=jurisdiction.boundary_tolerance_m,
                    )
                except ValueError as exc:
                    raise Failure(description=f"surveys: {exc}", allow_retries=False) from exc
                totals["raw_rows"] += result.raw_rows
                totals["accepted_rows"] += result.clean_rows
                totals["quarantined_rows"] += result.quarantined_rows
                by_survey[raw.stem] = dict(result.by_reason, accepted=result.clean_rows)
            target = paths.conformed_file("surveys")
            files = sql_literal(str(work_dir / "*.parquet"))
            con.execute(
                f"COPY (SELECT * FROM read_parquet({files}) ORDER BY survey, _row_number) "
                f"TO {sql_literal(str(target))} (FORMAT parquet, COMPRESSION zstd)"
            )
            answers = fetch_one(
                con, f"SELECT count(*) FROM read_parquet({sql_literal(str(target))})"
            )[0]
        context.log.info(f"surveys: {totals} {by_survey}")
        yield MaterializeResult(
            asset_key=CONFORMED_SURVEYS,
            metadata={
                "dagster/row_count": answers,
                **totals,
                "by_survey": MetadataValue.json(by_survey),
                "path": MetadataValue.path(str(target)),
            },
        )
        yield MaterializeResult(
            asset_key=QUARANTINE_SURVEYS,
            metadata={
                "dagster/row_count": totals["quarantined_rows"],
                **totals,
                "by_survey": MetadataValue.json(by_survey),
                "path": MetadataValue.path(str(quarantine_dir)),
            },
        )

    return [raw_surveys, split_surveys]


SURVEY_JOB = define_asset_job(
    "survey_intake",
    selection=AssetSelection.assets(RAW_SURVEYS).downstream(),
    description="Land the inbox's survey files, judge them, rebuild the survey marts.",
)


def survey_inbox_sensor(config: JurisdictionConfig):
    @sensor(
        job=SURVEY_JOB,
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Starts the survey intake when survey CSVs are added to, changed in or "
        "removed from the inbox.",
    )
    def survey_inbox_watch(
        context: SensorEvaluationContext, data_dir: DataDirectory
    ) -> RunRequest | SkipReason:
        inbox = survey_inbox(config, data_dir.paths)
        files = inbox_files(inbox)
        fingerprint = inbox_fingerprint(files)
        if fingerprint == context.cursor:
            return SkipReason(f"no change in {inbox.name}/ ({len(files)} file(s))")
        context.update_cursor(fingerprint)
        return RunRequest(
            run_key=fingerprint,
            tags={"crimemap/inbox_files": ",".join(p.name for p in files)[:1000]},
        )

    return survey_inbox_watch
