"""Resident surveys: CSV files dropped into the inbox, landed, judged and aggregated.

The inbox (``<data dir>/inbox/surveys`` by default) is the set of survey waves: every CSV in it
lands as ``raw/surveys/<file stem>.parquet`` and is split into its own quarantine file; the
accepted answers of all files form ``conformed/surveys``. A file removed from the inbox is
withdrawn at the next run. A sensor watches the inbox and starts the survey job when its content
changes, so an analyst only has to drop a file.
"""

from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetCheckResult,
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
from crimemap.core.files import write_atomic
from crimemap.ingestion.surveys import inbox_files, inbox_fingerprint, land_survey_inbox
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.jurisdiction import Jurisdiction
from crimemap.orchestration.defs.quality.acceptance import acceptance_result, acceptance_spec
from crimemap.orchestration.defs.quality.volume import record_volume
from crimemap.orchestration.defs.sources.resources import SampleCity
from crimemap.quality.acceptance import load_acceptance
from crimemap.quality.surveys import split_survey_waves

RAW_SURVEYS = AssetKey(["raw", "surveys"])
CONFORMED_SURVEYS = AssetKey(["conformed", "surveys"])
QUARANTINE_SURVEYS = AssetKey(["quarantine", "surveys"])


def survey_inbox(config: JurisdictionConfig, paths: DataPaths) -> Path:
    return paths.root / config.surveys.inbox


def landed_fingerprint_path(paths: DataPaths) -> Path:
    """The inbox's fingerprint as last landed (by any run), so the sensor starts no run for
    files already landed."""
    return paths.state / "survey_inbox.fingerprint"


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
            seeded = sample_city.seed_survey(inbox)
            if seeded:
                context.log.info(f"sample survey dropped into the inbox: {seeded.name}")
        files = inbox_files(inbox)
        if files and not config.surveys.declared:
            names = ", ".join(p.name for p in files)
            raise Failure(
                description=f"surveys: {names} in {inbox}, but {config.path.name} gives no "
                "surveys.layout to read them by (docs/onboarding.md, resident surveys)",
                allow_retries=False,
            )
        try:
            landing = land_survey_inbox(
                files, layout, paths.raw_surveys, load_id=context.run.run_id
            )
        except ValueError as exc:
            raise Failure(description=f"surveys: {exc}", allow_retries=False) from exc
        landed = landing.rows
        fingerprint = inbox_fingerprint(files)
        write_atomic(landed_fingerprint_path(paths), lambda tmp: tmp.write_text(fingerprint))
        for copy, original in landing.duplicates.items():
            context.log.warning(f"surveys: {copy} is a copy of {original}: landed once")
        # Each wave is its own scope: a smaller new wave is not an outage, a re-sent file that
        # lost most of its rows is.
        record_volume(data_dir.paths.state, "surveys", context.run.run_id, inbox, landed)
        context.log.info(f"surveys: {len(files)} file(s) in the inbox {landed}")
        return MaterializeResult(
            metadata={
                "dagster/row_count": sum(landed.values()),
                "files": MetadataValue.json(landed),
                "duplicates": MetadataValue.json(landing.duplicates),
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
        check_specs=[acceptance_spec("surveys", CONFORMED_SURVEYS)],
    )
    def split_surveys(
        context: AssetExecutionContext, data_dir: DataDirectory, jurisdiction: Jurisdiction
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        paths = data_dir.paths
        try:
            waves = split_survey_waves(
                paths,
                layout,
                projected_crs=jurisdiction.projected_crs,
                tolerance_m=jurisdiction.boundary_tolerance_m,
            )
        except ValueError as exc:
            raise Failure(description=f"surveys: {exc}", allow_retries=False) from exc
        totals = waves.totals
        context.log.info(f"surveys: {totals} {waves.by_survey}")
        yield MaterializeResult(
            asset_key=CONFORMED_SURVEYS,
            metadata={
                "dagster/row_count": waves.answers,
                **totals,
                "by_survey": MetadataValue.json(waves.by_survey),
                "path": MetadataValue.path(str(paths.conformed_file("surveys"))),
            },
        )
        yield MaterializeResult(
            asset_key=QUARANTINE_SURVEYS,
            metadata={
                "dagster/row_count": totals["quarantined_rows"],
                **totals,
                "by_survey": MetadataValue.json(waves.by_survey),
                "path": MetadataValue.path(str(paths.quarantine / "surveys")),
            },
        )
        # Each file is judged on its own: a broken new wave is not hidden by good old ones.
        yield acceptance_result(
            CONFORMED_SURVEYS,
            "surveys",
            [load_acceptance(result.source, [result]) for result in waves.results],
            config.quality,
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
        landed = landed_fingerprint_path(data_dir.paths)
        if landed.is_file() and landed.read_text(encoding="utf-8") == fingerprint:
            context.update_cursor(fingerprint)
            return SkipReason(f"{inbox.name}/ is as last landed ({len(files)} file(s))")
        if fingerprint == context.cursor:
            return SkipReason(f"no change in {inbox.name}/ ({len(files)} file(s))")
        context.update_cursor(fingerprint)
        return RunRequest(
            run_key=fingerprint,
            tags={"crimemap/inbox_files": ",".join(p.name for p in files)[:1000]},
        )

    return survey_inbox_watch
