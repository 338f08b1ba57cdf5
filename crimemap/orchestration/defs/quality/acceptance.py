"""The accepted share of each load, judged by the split that made it (``crimemap.quality.
acceptance``): a blocking check on the conformed asset, so a load that quarantined most of its
rows stops its source instead of publishing as if fine."""

from collections.abc import Sequence

import dagster as dg

from crimemap.config.sources import QualitySettings
from crimemap.quality.acceptance import LoadAcceptance, combined, judge_loads


def acceptance_check_name(source: str) -> str:
    return f"{source}_accepted_share"


def acceptance_spec(source: str, asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=acceptance_check_name(source),
        asset=asset_key,
        blocking=True,
        description=(
            f"{source}: the share of this load's rows accepted; ERROR below "
            "quality.min_accepted_share (default 50%), WARN below quality.warn_accepted_share "
            "(default 90%), naming the dominant reason with an example."
        ),
    )


def acceptance_result(
    asset_key: dg.AssetKey,
    source: str,
    loads: Sequence[LoadAcceptance],
    quality: QualitySettings,
) -> dg.AssetCheckResult:
    """The check of one source's loads: one load, or one per file (survey waves)."""
    verdict = judge_loads(
        source,
        loads,
        error_below=quality.min_accepted_share,
        warn_below=quality.warn_accepted_share,
    )
    load = combined(source, loads)
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=acceptance_check_name(source),
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR
        if verdict.severity == "ERROR"
        else dg.AssetCheckSeverity.WARN,
        description=verdict.message,
        metadata={
            "raw_rows": load.raw_rows,
            "accepted_rows": load.accepted_rows,
            "quarantined_rows": load.quarantined_rows,
            "accepted_share": round(load.share, 6),
            "quarantined_by_reason": dg.MetadataValue.json(dict(load.by_reason)),
        },
    )
