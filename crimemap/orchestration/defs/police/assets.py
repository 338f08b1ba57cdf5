"""Police source assets, one pair per source of the jurisdiction, partitioned by month.

``raw/police/<source>`` lands the published rows month by month; ``conformed/police/<source>``
and ``quarantine/police/<source>`` split each landed month into one row per accepted offense and
the rejected rows with their reasons. Backfills over many months run as one step (single-run
backfill policy): the export is read once, every month written from it.
"""

import warnings
from contextlib import suppress
from datetime import date

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Backoff,
    BetaWarning,
    Failure,
    MaterializeResult,
    MetadataValue,
    MonthlyPartitionsDefinition,
    RetryPolicy,
    asset,
    multi_asset,
)

from crimemap.config.jurisdiction import JurisdictionConfig, PoliceSource
from crimemap.core.duckdb_spatial import scratch
from crimemap.ingestion.live.http import LiveSourceError, SchemaDriftError
from crimemap.ingestion.police.crosswalk import CustomCrosswalk, write_custom_crosswalks
from crimemap.ingestion.police.layout import LayoutError
from crimemap.ingestion.police.partitions import (
    land_police_months,
    next_month,
    partition_path,
    write_watermark,
)
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.jurisdiction import Jurisdiction
from crimemap.orchestration.defs.police.resources import feed_resource_key, scratch_path
from crimemap.orchestration.defs.quality.acceptance import acceptance_result, acceptance_spec
from crimemap.orchestration.defs.quality.volume import record_volume
from crimemap.quality.acceptance import load_acceptance
from crimemap.quality.police import split_police
from crimemap.quality.rules import EventRuleSettings, SplitResult, load_areas

# Single-run backfills are what a monthly source needs; the API being "beta" is not news in a log.
warnings.filterwarnings("ignore", category=BetaWarning)


def police_partitions(config: JurisdictionConfig) -> MonthlyPartitionsDefinition:
    """Months from the first start month to the data's last month; with a live source, to the
    current month (end_offset=1: the current month is a partition too, so daily loads can fill
    it)."""
    start = config.police_start_month.isoformat()
    end = config.police_end_month
    if end is None:
        return MonthlyPartitionsDefinition(start_date=start, end_offset=1)
    return MonthlyPartitionsDefinition(start_date=start, end_date=next_month(end).isoformat())


def raw_key(source: str) -> AssetKey:
    return AssetKey(["raw", "police", source])


def conformed_key(source: str) -> AssetKey:
    return AssetKey(["conformed", "police", source])


def quarantine_key(source: str) -> AssetKey:
    return AssetKey(["quarantine", "police", source])


def partition_months(context: AssetExecutionContext) -> list[date]:
    return [date.fromisoformat(k) for k in context.partition_keys]


def raw_police_asset(
    source: PoliceSource, config: JurisdictionConfig, partitions: MonthlyPartitionsDefinition
) -> AssetsDefinition:
    layout = source.layout
    feed_key = feed_resource_key(source.name)

    @asset(
        key=raw_key(source.name),
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        group_name="sources",
        kinds={"parquet"},
        required_resource_keys={feed_key, "data_dir"},
        retry_policy=(
            RetryPolicy(max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL)
            if source.mode == "live"
            else None
        ),
        description=(
            f"{layout.agency} incidents in the {layout.name} layout ({source.mode} mode), "
            "landed as published: every column a string, one file per month."
        ),
    )
    def _raw(context: AssetExecutionContext) -> MaterializeResult:
        data_dir: DataDirectory = context.resources.data_dir
        paths = data_dir.paths
        months = partition_months(context)
        root = paths.raw_police(source.name)
        scratch_file = scratch_path(root, source.name)
        feed = getattr(context.resources, feed_key)
        first = config.police_start_month
        last_key = partitions.get_last_partition_key()
        assert last_key is not None  # this run's own months are partitions of it
        last = date.fromisoformat(last_key)
        context.log.info(f"{source.name}: landing {len(months)} month(s) {months[0]}..{months[-1]}")
        try:
            try:
                landed = feed.land(layout, months, config.timezone, scratch_file, context.log.info)
                with scratch() as con:
                    results = land_police_months(
                        con,
                        layout,
                        source=source.name,
                        landed_parquet=landed,
                        dest_root=root,
                        timezone=config.timezone,
                        months=months,
                        first_month=first,
                        last_month=last,
                    )
            except (SchemaDriftError, LayoutError, FileNotFoundError) as exc:
                # Retrying cannot fix a changed schema or a missing file: stop at once.
                raise Failure(description=str(exc), allow_retries=False) from exc
            except LiveSourceError as exc:
                if exc.permanent:  # a refused token or a missing dataset stays refused
                    raise Failure(description=str(exc), allow_retries=False) from exc
                raise
        finally:
            scratch_file.unlink(missing_ok=True)
            with suppress(OSError):  # another landing's scratch is still in it
                scratch_file.parent.rmdir()
        record_volume(
            data_dir.paths.state,
            source.name,
            context.run.run_id,
            feed,
            {f"{r.month:%Y-%m}": r.rows for r in results},
        )
        written = [r for r in results if r.written]
        context.log.info(
            f"{source.name}: {sum(r.rows for r in results):,} rows in {len(results)} month(s); "
            f"{len(written)} rewritten, {len(results) - len(written)} unchanged"
        )
        # Each month's own row count (one step lands every month of the run).
        for r in results:
            context.add_asset_metadata(
                {"dagster/row_count": r.rows, "rewritten": r.written},
                partition_key=r.month.isoformat(),
            )
        return MaterializeResult(
            metadata={
                "months_rewritten": len(written),
                "months_unchanged": len(results) - len(written),
                "rows_by_month": MetadataValue.json({f"{r.month:%Y-%m}": r.rows for r in results}),
                "layout": layout.name,
                "mode": source.mode,
                "path": MetadataValue.path(str(root)),
            }
        )

    return _raw


def split_police_asset(
    source: PoliceSource, config: JurisdictionConfig, partitions: MonthlyPartitionsDefinition
) -> AssetsDefinition:
    layout = source.layout

    @multi_asset(
        name=f"split_police_{source.name}",
        specs=[
            AssetSpec(
                conformed_key(source.name),
                deps=[raw_key(source.name), AssetKey(["conformed", "areas"])],
                group_name="quality",
                kinds={"duckdb", "parquet"},
                description=(
                    f"Accepted {source.name} rows as one row per offense in the canonical "
                    "layout: zoned times, normalized codes, WGS84 points, the raw row as JSON."
                ),
            ),
            AssetSpec(
                quarantine_key(source.name),
                deps=[raw_key(source.name), AssetKey(["conformed", "areas"])],
                group_name="quality",
                kinds={"duckdb", "parquet"},
                description=(
                    f"{source.name} rows rejected by the row rules, every raw column kept, "
                    "with reason codes."
                ),
            ),
        ],
        check_specs=[acceptance_spec(source.name, conformed_key(source.name))],
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def _split(context: AssetExecutionContext, data_dir: DataDirectory, jurisdiction: Jurisdiction):
        paths = data_dir.paths
        months = partition_months(context)
        totals = {"raw_rows": 0, "accepted_rows": 0, "quarantined_rows": 0}
        by_reason: dict[str, int] = {}
        results: list[SplitResult] = []
        with scratch() as con:
            settings = EventRuleSettings(
                boundary_table=load_areas(con, paths.conformed_file("areas")),
                projected_crs=jurisdiction.projected_crs,
                timezone=jurisdiction.timezone,
                tolerance_m=jurisdiction.boundary_tolerance_m,
                # Judged against each row's own landing time: re-running a month gives the same
                # answer tomorrow.
                now_sql='__raw."_ingested_at"',
            )
            # One month at a time, unlike the landing's writes: judging a month holds all its
            # columns (about 180 MB at 40,000 rows), and two side by side took a
            # million-incident run past 1.5 GB to save 3 s of its wall time and no CPU.
            for month in months:
                result = split_police(
                    con,
                    layout,
                    settings,
                    source=source.name,
                    raw_parquet=partition_path(paths.raw_police(source.name), month),
                    quarantine_path=partition_path(paths.quarantine_police(source.name), month),
                    offenses_path=partition_path(paths.conformed_police(source.name), month),
                    profile_path=partition_path(paths.profiles / "police" / source.name, month),
                )
                results.append(result)
                for key, rows in (
                    (conformed_key(source.name), result.clean_rows),
                    (quarantine_key(source.name), result.quarantined_rows),
                ):
                    context.add_asset_metadata(
                        {"dagster/row_count": rows}, asset_key=key, partition_key=month.isoformat()
                    )
                totals["raw_rows"] += result.raw_rows
                totals["accepted_rows"] += result.clean_rows
                totals["quarantined_rows"] += result.quarantined_rows
                for code, n in result.by_reason.items():
                    by_reason[code] = by_reason.get(code, 0) + n
            watermark = write_watermark(
                con,
                paths.state,
                source.name,
                paths.conformed_police(source.name),
            )
        context.log.info(f"{source.name}: {totals} {by_reason}")
        yield MaterializeResult(
            asset_key=conformed_key(source.name),
            metadata={
                **totals,
                "watermark": watermark or "",
                "path": MetadataValue.path(str(paths.conformed_police(source.name))),
            },
        )
        yield MaterializeResult(
            asset_key=quarantine_key(source.name),
            metadata={
                **totals,
                "quarantined_by_reason": MetadataValue.json(by_reason),
                "path": MetadataValue.path(str(paths.quarantine_police(source.name))),
            },
        )
        yield acceptance_result(
            conformed_key(source.name),
            source.name,
            [load_acceptance(source.name, results)],
            config.quality,
        )

    return _split


def custom_crosswalks_asset(config: JurisdictionConfig) -> AssetsDefinition:
    sources = [s for s in config.police if s.crosswalk_csv is not None]

    @asset(
        key=AssetKey(["conformed", "crosswalks"]),
        group_name="reference",
        kinds={"parquet"},
        description="Offense crosswalks the jurisdiction supplies for its own layouts "
        "(crosswalk_csv), validated and normalized; empty when every source has a seed.",
    )
    def _crosswalks(context: AssetExecutionContext, data_dir: DataDirectory) -> MaterializeResult:
        target = data_dir.paths.conformed / "crosswalks" / "custom.parquet"
        crosswalks = [
            CustomCrosswalk(s.crosswalk_csv, s.layout.crosswalk, s.layout.offense_code_width)
            for s in sources
            if s.crosswalk_csv is not None
        ]
        rows = write_custom_crosswalks(crosswalks, target)
        return MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "crosswalks": MetadataValue.json([s.layout.crosswalk for s in sources]),
            }
        )

    return _crosswalks


def police_assets(config: JurisdictionConfig) -> list[AssetsDefinition]:
    partitions = police_partitions(config)
    assets: list[AssetsDefinition] = [custom_crosswalks_asset(config)]
    for source in config.police:
        assets += [
            raw_police_asset(source, config, partitions),
            split_police_asset(source, config, partitions),
        ]
    return assets
