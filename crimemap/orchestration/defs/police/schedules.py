"""The daily incremental load: each police source from its watermark month to the current one.

A month before the watermark's month is closed: it was loaded whole and is not fetched again
(re-load it on purpose with a backfill or ``crimemap run --months``). The watermark's own month
is fetched again because reports keep arriving for it.
"""

from collections.abc import Sequence
from datetime import date

from dagster import (
    AssetSelection,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.ingestion.police.partitions import read_watermark
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.police.assets import police_partitions

# `crimemap run` and the daily schedule run this job; the police months it loads are the run's
# partition range.
PIPELINE_JOB = define_asset_job(
    "crimemap_pipeline",
    selection=AssetSelection.all(),
    description="Load a range of police months and every other source, check them, rebuild the "
    "marts and publish a release.",
)


def incremental_range(
    watermarks: list[date | None], partition_keys: Sequence[str]
) -> tuple[str, str] | None:
    """First and last partition key to load: from the oldest source watermark's month (the
    first month for a source never loaded) to the newest partition."""
    if not partition_keys:
        return None
    starts = [partition_keys[0] if w is None else f"{w:%Y-%m}-01" for w in watermarks]
    start = max(partition_keys[0], min(starts))
    if start > partition_keys[-1]:
        return None
    return start, partition_keys[-1]


def incremental_schedule(config: JurisdictionConfig) -> ScheduleDefinition:
    partitions = police_partitions(config)

    @schedule(
        job=PIPELINE_JOB,
        cron_schedule="0 5 * * *",
        execution_timezone=config.timezone,
        description="Daily at 05:00 local: police months since the watermark, marts, release. "
        "Off until turned on (UI: Automation, or `dagster schedule start crimemap_daily`), "
        "because a file export has nothing new to fetch.",
    )
    def crimemap_daily(
        context: ScheduleEvaluationContext, data_dir: DataDirectory
    ) -> RunRequest | SkipReason:
        state = data_dir.paths.state
        watermarks = [read_watermark(state, s.name) for s in config.police]
        keys = partitions.get_partition_keys(current_time=context.scheduled_execution_time)
        months = incremental_range(watermarks, keys)
        if months is None:
            return SkipReason("no police partitions to load")
        return RunRequest(
            run_key=f"{context.scheduled_execution_time:%Y-%m-%d}",
            tags={
                ASSET_PARTITION_RANGE_START_TAG: months[0],
                ASSET_PARTITION_RANGE_END_TAG: months[1],
            },
        )

    return crimemap_daily
