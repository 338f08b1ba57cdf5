"""Volume checks: each landing records its row counts; a blocking check fails on a collapse.

The judging is ``crimemap/quality/volume.py``; here are the Dagster ends: recording a load from a
raw asset, and the check on that asset. A failing check stops the source's split (and so dbt)
before a dark portal's near-empty export replaces good data downstream.
"""

from pathlib import Path
from typing import Any

import dagster as dg

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.quality.volume import (
    LoadVolume,
    feed_identity,
    history_path,
    judge_latest,
    read_history,
    record_load,
)

# Where a feed keeps its files is not what it reads.
_LOCATION_SETTINGS = frozenset({"sources_dir"})


def _settings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _settings(v) for k, v in value.items() if k not in _LOCATION_SETTINGS}
    return value


def identity_of(feed: Any) -> str:
    """What a feed resource reads: its class and settings (a pydantic ``ConfigurableResource``)."""
    settings = feed.model_dump() if hasattr(feed, "model_dump") else {"value": str(feed)}
    return feed_identity(type(feed).__name__, _settings(settings))


def record_volume(state: Path, source: str, load_id: str, feed: Any, rows: dict[str, int]) -> None:
    """Record one load's rows per scope (month ``YYYY-MM``, file name, or ``all``) in the data
    directory's ``state``."""
    path = history_path(state, source)
    record_load(path, source, LoadVolume(load_id=load_id, feed=identity_of(feed), rows=rows))


def volume_check(
    source: str, asset_key: dg.AssetKey, config: JurisdictionConfig
) -> dg.AssetChecksDefinition:
    max_drop = config.quality.max_drop_for(source)
    min_rows = config.quality.min_baseline_rows

    @dg.asset_check(
        asset=asset_key,
        name=f"{source}_volume",
        blocking=True,
        description=(
            f"{source}: rows of this load against the last good load of the same feed, per "
            f"month where the source is monthly; a drop of more than {max_drop:.0%} fails "
            "(a portal gone dark)."
        ),
    )
    def _volume(
        context: dg.AssetCheckExecutionContext, data_dir: DataDirectory
    ) -> dg.AssetCheckResult:
        path = history_path(data_dir.paths.state, source)
        history = read_history(path)
        verdict = judge_latest(source, history, max_drop=max_drop, min_baseline_rows=min_rows)
        latest = history[-1].rows if history else {}
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=verdict.message,
            metadata={
                "rows": sum(latest.values()),
                "scopes_judged": verdict.judged_scopes,
                "max_drop": max_drop,
                "drops": dg.MetadataValue.json(
                    [
                        {
                            "scope": d.scope,
                            "rows": d.rows,
                            "baseline_rows": d.baseline_rows,
                            "baseline_load_id": d.baseline_load_id,
                            "drop_share": round(d.share, 4),
                        }
                        for d in verdict.drops
                    ]
                ),
                "history": dg.MetadataValue.path(str(path)),
            },
        )

    return _volume
