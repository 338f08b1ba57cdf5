"""Reconciliation of every survey and public-record load, counted from the files themselves:
``raw rows = rows behind the conformed records + quarantined rows``.

The split reports the same balance, but from its own temp table; this check re-counts what was
written, so a writer that drops or multiplies rows after the split (a fan-out join, a lost
wave) is caught. Police loads have theirs in ``defs/police/checks.py``.
"""

import dagster as dg

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.sources.assets import (
    conformed_key,
    quarantine_key,
    raw_key,
    split_source_names,
)
from crimemap.orchestration.defs.sources.surveys import (
    CONFORMED_SURVEYS,
    QUARANTINE_SURVEYS,
    RAW_SURVEYS,
)
from crimemap.quality.reconcile import Reconciliation, load_files, reconcile_load


def reconciliation_result(result: Reconciliation, **metadata: int) -> dg.AssetCheckResult:
    """A blocking check's verdict on a load's balance, with the counts behind it."""
    return dg.AssetCheckResult(
        passed=result.ok,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.message,
        metadata={
            "raw_rows": result.raw_rows,
            "canonical_rows": result.staged_rows,
            **metadata,
            "quarantined_rows": result.quarantined_rows,
            "difference": result.difference,
            "report": dg.MetadataValue.text(result.message),
        },
    )


def reconcile_load_check(
    source: str, conformed: dg.AssetKey, raw: dg.AssetKey, quarantine: dg.AssetKey
) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=conformed,
        name=f"reconcile_{source}",
        additional_deps=[raw, quarantine],
        blocking=True,
        description=f"{source}: raw rows = rows behind the conformed records + quarantined rows.",
    )
    def _reconcile(
        context: dg.AssetCheckExecutionContext, data_dir: DataDirectory
    ) -> dg.AssetCheckResult:
        result = reconcile_load(source, load_files(source, data_dir.paths))
        return reconciliation_result(result)

    return _reconcile


def reconcile_checks(config: JurisdictionConfig) -> list[dg.AssetChecksDefinition]:
    checks = [
        reconcile_load_check(name, conformed_key(name), raw_key(name), quarantine_key(name))
        for name in split_source_names(config)
    ]
    checks.append(
        reconcile_load_check("surveys", CONFORMED_SURVEYS, RAW_SURVEYS, QUARANTINE_SURVEYS)
    )
    return checks
