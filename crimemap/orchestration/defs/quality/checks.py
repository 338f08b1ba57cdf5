"""Quality checks: a GX suite on every conformed survey and public-record source, and the
suite runner all checks share.

The suites read the conformed files (canonical columns), so one suite serves every publisher
layout and CRS a jurisdiction declares. They block: a conformed file that breaks its contract
never reaches dbt. Police sources have their own checks (suite + reconciliation) in
``defs/police/checks.py``.
"""

from collections.abc import Callable, Mapping

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.quality.layouts import BBox
from crimemap.quality.report import docs_url, write_index
from crimemap.quality.rules import areas_bbox
from crimemap.quality.suites import (
    Frames,
    SuiteOutcome,
    SuiteSpec,
    area_indicators_conformed_suite,
    areas_conformed_suite,
    facilities_conformed_suite,
    read_frame,
    run_suite_kept,
    service_requests_conformed_suite,
    surveys_conformed_suite,
)


def jurisdiction_bbox(paths: DataPaths) -> BBox:
    return areas_bbox(paths.conformed_file("areas"))


MAX_MESSAGES = 5


def suite_check_result(outcomes: Mapping[str, SuiteOutcome]) -> AssetCheckResult:
    """One check result for the suites run on one asset, keyed by what each judged: the suite's
    own name, or a file (each file of a landing), which then prefixes its messages. Failed when
    any failed, ERROR when any blocks."""
    failing = {label: o for label, o in outcomes.items() if not o.success}

    def summary(label: str, outcome: SuiteOutcome) -> str:
        text = "; ".join(f["message"] for f in outcome.failed[:MAX_MESSAGES])
        return text if label == outcome.suite else f"{label}: {text}"

    description = " | ".join(summary(label, o) for label, o in failing.items())
    metadata: dict[str, MetadataValue | str | int | float] = {
        "expectations": sum(o.n_expectations for o in outcomes.values()),
        "expectations_failed": sum(len(o.failed) for o in outcomes.values()),
        "failed": MetadataValue.json(
            [
                {**({"file": label} if label != o.suite else {}), **f}
                for label, o in outcomes.items()
                for f in o.to_metadata()["failed"]
            ]
        ),
        "validation_seconds": round(sum(o.seconds for o in outcomes.values()), 2),
        # batches judged in the last run on the same rows, their result reused
        "reused_batches": sum(o.reused_batches for o in outcomes.values()),
    }
    files = {label: o.suite for label, o in outcomes.items() if label != o.suite}
    if files:
        metadata["files"] = MetadataValue.json(files)  # which suite (and Data Docs) judged each
    if len(outcomes) == 1:
        (outcome,) = outcomes.values()
        if outcome.validation_path:
            metadata["validation_result"] = MetadataValue.path(str(outcome.validation_path))
        if outcome.data_docs_path:
            # http: a browser opens it from the UI (`crimemap ui` serves the report); the file
            # for whoever reads it on the machine.
            metadata["data_docs"] = MetadataValue.url(docs_url(outcome.suite))
            metadata["data_docs_file"] = MetadataValue.path(str(outcome.data_docs_path))
    blocking = any(o.blocking for o in outcomes.values())
    return AssetCheckResult(
        passed=not failing,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        description=description or ("all expectations met" if outcomes else "nothing to judge"),
        metadata=metadata,
    )


def validate(spec: SuiteSpec, frame: Frames, paths: DataPaths) -> SuiteOutcome:
    """Run a suite on a frame or a table's batches, keeping its result and Data Docs under the
    quality dir."""
    outcome = run_suite_kept(spec, frame, paths.quality)
    write_index(paths.quality / "data_docs", paths.quality / "validations")
    return outcome


def validate_frame(spec: SuiteSpec, frame: Frames, paths: DataPaths) -> AssetCheckResult:
    return suite_check_result({spec.name: validate(spec, frame, paths)})


def conformed_suite_check(
    source: str, description: str, suite: Callable[[DataPaths], SuiteSpec]
) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey(["conformed", source]),
        name=f"{source}_conformed_suite",
        description=description,
        blocking=True,
    )
    def _check(context: AssetCheckExecutionContext, data_dir: DataDirectory) -> AssetCheckResult:
        paths = data_dir.paths
        return validate_frame(suite(paths), read_frame(paths.conformed_file(source)), paths)

    return _check


def source_checks(config: JurisdictionConfig) -> list[AssetChecksDefinition]:
    """One blocking GX suite per conformed survey and public-record source."""
    indicators = list(config.indicators.indicator_names)
    questions = [q.name for q in config.surveys.layout.questions]
    threshold = config.indicators.cv_threshold_pct

    def min_rows(source: str) -> int:
        return 0 if source in config.absent_sources else 1

    return [
        conformed_suite_check(
            "areas",
            "GX suite areas_conformed: one row per area id, a geometry each, few repairs.",
            lambda paths: areas_conformed_suite(min_rows=min_rows("areas")),
        ),
        conformed_suite_check(
            "area_indicators",
            "GX suite area_indicators_conformed: one row per unit x indicator (11-digit GEOIDs "
            "from Census tables), estimates and margins non-negative, proportions within 0..1.",
            lambda paths: area_indicators_conformed_suite(
                indicators,
                cv_threshold_pct=threshold,
                census=config.indicators.table is None,
                min_rows=min_rows("area_indicators"),
            ),
        ),
        conformed_suite_check(
            "facilities",
            "GX suite facilities_conformed: unique ids, canonical service types, points in the "
            "jurisdiction's extent.",
            lambda paths: facilities_conformed_suite(
                bbox=jurisdiction_bbox(paths), min_rows=min_rows("facilities")
            ),
        ),
        conformed_suite_check(
            "service_requests",
            "GX suite service_requests_conformed: unique ids, created times, points in the "
            "jurisdiction's extent, closed after created.",
            lambda paths: service_requests_conformed_suite(
                bbox=jurisdiction_bbox(paths), min_rows=0
            ),
        ),
        conformed_suite_check(
            "surveys",
            "GX suite surveys_conformed: one answer per respondent and question, answers on "
            "their scale, positive weights.",
            lambda paths: surveys_conformed_suite(
                questions, bbox=jurisdiction_bbox(paths), min_rows=0
            ),
        ),
    ]
