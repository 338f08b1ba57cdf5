"""Quality checks: GX suites on the raw boundaries, and the suite runner the checks share.

Police sources have their own checks (suite + reconciliation) in ``defs/police/checks.py``.
"""

from typing import TYPE_CHECKING

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
)

from orchestration.settings import DataPaths
from quality.layouts import BBox
from quality.rules import load_areas
from quality.suites import (
    SuiteOutcome,
    SuiteSpec,
    read_frame,
    run_suite,
    write_data_docs_index,
)
from warehouse.duckdb_spatial import connect

if TYPE_CHECKING:
    import pandas as pd


def areas_bbox(paths: DataPaths) -> BBox:
    """The jurisdiction's extent, from the conformed areas, for coordinate range expectations."""
    with connect() as con:
        table = load_areas(con, paths.conformed_file("areas"))
        xmin, ymin, xmax, ymax = con.execute(
            f"SELECT min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), "
            f"max(ST_YMax(geom)) FROM {table}"
        ).fetchone()
    return BBox(xmin, ymin, xmax, ymax)


def suite_check_result(outcome: SuiteOutcome) -> AssetCheckResult:
    severity = AssetCheckSeverity.ERROR if outcome.severity == "ERROR" else AssetCheckSeverity.WARN
    summary = "; ".join(f["message"] for f in outcome.failed[:5]) or "all expectations met"
    metadata: dict[str, object] = {
        "expectations": outcome.n_expectations,
        "expectations_failed": len(outcome.failed),
        "failed": MetadataValue.json(outcome.to_metadata()["failed"]),
        "validation_seconds": round(outcome.seconds, 2),
    }
    if outcome.validation_path:
        metadata["validation_result"] = MetadataValue.path(str(outcome.validation_path))
    if outcome.data_docs_path:
        metadata["data_docs"] = MetadataValue.url(outcome.data_docs_path.resolve().as_uri())
    return AssetCheckResult(
        passed=outcome.success, severity=severity, description=summary, metadata=metadata
    )


def validate_frame(spec: SuiteSpec, frame: "pd.DataFrame", paths: DataPaths) -> AssetCheckResult:
    """Run a suite, keep its result and Data Docs under the quality dir, report it."""
    outcome = run_suite(
        spec,
        frame,
        results_dir=paths.quality / "validations",
        data_docs_dir=paths.quality / "data_docs",
    )
    write_data_docs_index(paths.quality / "data_docs")
    return suite_check_result(outcome)


def validate_raw(source: str, spec: SuiteSpec, paths: DataPaths) -> AssetCheckResult:
    return validate_frame(spec, read_frame(paths.raw_file(source)), paths)


QUALITY_CHECKS: list = []
