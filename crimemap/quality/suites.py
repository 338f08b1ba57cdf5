"""Great Expectations 1.x suites as code, run on pandas DataFrames in an ephemeral context.

Suites are declared as plain values (``SuiteSpec``) and turned into GX objects only when run, so
importing this module stays cheap: ``great_expectations`` takes seconds to import and is imported
inside ``run_suite`` only. (GX cannot validate DuckDB through SQLAlchemy here, hence DataFrames.)

Severity: ERROR expectations guard what makes a batch unusable as a whole (the column set, the row
count); a failure blocks downstream assets. WARN expectations measure row quality (nulls, formats,
ranges); the rows behind those failures are quarantined by ``crimemap.quality.rules``, so the batch
can proceed and the warning reports the rate. They map to GX's own ``severity`` (critical /
warning).

Conformed suites (``*_conformed_suite``) check what a split wrote, after quarantine: there a key,
a domain or a derived value out of contract means the split itself is wrong, so those are ERROR
too; WARN is left for distributions (shares of repaired geometries, unreliable estimates, points
outside the jurisdiction's bounding box).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict

from crimemap.core.files import write_atomic
from crimemap.ingestion.census import DEFAULT_CV_THRESHOLD_PCT
from crimemap.ingestion.facilities import CONFORMED_COLUMNS as FACILITIES_CONFORMED_COLUMNS
from crimemap.ingestion.facilities import FACILITY_TYPES
from crimemap.ingestion.landing import MALFORMED_COLUMN, MALFORMED_COLUMNS
from crimemap.ingestion.police.layout import PoliceLayout
from crimemap.ingestion.service_requests.conform import (
    CONFORMED_COLUMNS as SERVICE_REQUESTS_CONFORMED_COLUMNS,
)
from crimemap.ingestion.surveys import CONFORMED_COLUMNS as SURVEYS_CONFORMED_COLUMNS
from crimemap.quality.batches import BATCH_ROWS, combine_results
from crimemap.quality.boundaries import CONFORMED_AREA_COLUMNS as AREAS_CONFORMED_COLUMNS
from crimemap.quality.census import CONFORMED_COLUMNS as AREA_INDICATORS_CONFORMED_COLUMNS
from crimemap.quality.layouts import LINEAGE_COLUMNS, BBox
from crimemap.quality.memo import ResultMemo, frame_digest, suite_digest
from crimemap.quality.report import write_suite_page

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

Severity = Literal["ERROR", "WARN"]
WHOLE_READ = 1 << 20  # rows read at a time from a file whose group is validated whole
# What a suite validates: one frame, or the batches of one table (validated in turn).
Frames: TypeAlias = "pd.DataFrame | Iterable[pd.DataFrame]"
_GX_SEVERITY: dict[str, str] = {"ERROR": "critical", "WARN": "warning"}
_FROM_GX_SEVERITY: dict[str, Severity] = {"critical": "ERROR", "warning": "WARN", "info": "WARN"}
SAMPLE_SIZE = 5
ROW_COUNT_EXPECTATION = "expect_table_row_count_to_be_between"
COLUMN_SET_EXPECTATION = "expect_table_columns_to_match_set"
# How alike two normalized column names must be (difflib ratio) to be reported as a rename.
RENAME_CUTOFF = 0.8

GEOID_TRACT_REGEX = r"^[0-9]{11}$"

# Census tables give counts, medians and proportions; a city's own table also rates and indices.
INDICATOR_KINDS: tuple[str, ...] = ("count", "median", "proportion", "rate", "index")
# Answer values of the survey scales: Likert 1-5, yes/no as 1/0.
ANSWER_MIN, ANSWER_MAX = 0.0, 5.0


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation: a class name of ``great_expectations.expectations`` and its arguments."""

    kind: str
    kwargs: Mapping[str, Any]
    severity: Severity


@dataclass(frozen=True)
class SuiteSpec:
    """A suite plus how to prepare the frame for it.

    ``numeric_columns`` are replaced by their numeric parse (NaN when not a number) so range
    expectations can run on raw string columns; ``blank_as_null_columns`` have blank strings
    turned into nulls so not-null expectations catch "" as well as missing values.
    """

    name: str
    expectations: tuple[ExpectationSpec, ...]
    numeric_columns: tuple[str, ...] = ()
    blank_as_null_columns: tuple[str, ...] = ()


class FailedExpectation(TypedDict):
    expectation: str
    column: str | None
    severity: Severity
    unexpected_count: int | None
    unexpected_percent: float | None
    sample: list[Any]
    message: str


@dataclass(frozen=True)
class SuiteOutcome:
    """What an asset check needs. ``severity`` is the worst severity among failed expectations
    (ERROR blocks downstream); when ``success`` it is WARN and means nothing."""

    suite: str
    success: bool
    severity: Severity
    n_expectations: int
    failed: list[FailedExpectation]
    statistics: dict[str, Any]
    validation_path: Path | None = None
    data_docs_path: Path | None = None
    seconds: float = field(default=0.0, compare=False)
    # batches whose result was reused from the suite's last run (crimemap.quality.memo)
    reused_batches: int = field(default=0, compare=False)

    @property
    def blocking(self) -> bool:
        return not self.success and self.severity == "ERROR"

    def to_metadata(self) -> dict[str, Any]:
        """JSON-safe summary (e.g. for Dagster check metadata)."""
        meta: dict[str, Any] = {
            "suite": self.suite,
            "success": self.success,
            "severity": self.severity,
            "n_expectations": self.n_expectations,
            "n_failed": len(self.failed),
            "failed": self.failed,
            "statistics": self.statistics,
            "seconds": round(self.seconds, 3),
            "reused_batches": self.reused_batches,
        }
        if self.validation_path is not None:
            meta["validation_path"] = str(self.validation_path)
        if self.data_docs_path is not None:
            meta["data_docs_path"] = str(self.data_docs_path)
        return _json_safe(meta)


# --- suite definitions -------------------------------------------------------------------------


def expect(kind: str, severity: Severity, **kwargs: Any) -> ExpectationSpec:
    return ExpectationSpec(kind=kind, kwargs=kwargs, severity=severity)


def table_shape(
    columns: Sequence[str], min_rows: int, max_rows: int | None
) -> tuple[ExpectationSpec, ...]:
    return (
        expect("ExpectTableColumnsToMatchSet", "ERROR", column_set=list(columns), exact_match=True),
        expect("ExpectTableRowCountToBeBetween", "ERROR", min_value=min_rows, max_value=max_rows),
    )


def within(column: str, severity: Severity = "ERROR", **bounds: Any) -> ExpectationSpec:
    """Values of ``column`` between ``min_value`` and/or ``max_value`` (GX's other keywords, such
    as ``row_condition``, ``strict_min`` or ``mostly``, pass through)."""
    return expect("ExpectColumnValuesToBeBetween", severity, column=column, **bounds)


def mostly_within(column: str, low: float, high: float) -> ExpectationSpec:
    return expect(
        "ExpectColumnValuesToBeBetween", "WARN", column=column, min_value=low, max_value=high,
        mostly=0.9,
    )  # fmt: skip


def where(column: str, operator: str, value: Any) -> dict[str, Any]:
    """A GX row condition as plain data (``column <operator> value``). GX 1.x parses the dict
    into its condition objects when the suite is built, so specs need no GX import; on pandas a
    null never satisfies a comparison."""
    return {
        "type": "comparison",
        "column": {"name": column},
        "operator": operator,
        "parameter": value,
    }


def where_null(column: str, *, is_null: bool = True) -> dict[str, Any]:
    return {"type": "nullity", "column": {"name": column}, "is_null": is_null}


def not_null(column: str, severity: Severity = "ERROR", **kwargs: Any) -> ExpectationSpec:
    return expect("ExpectColumnValuesToNotBeNull", severity, column=column, **kwargs)


def unique_key(column: str) -> tuple[ExpectationSpec, ...]:
    return (
        not_null(column),
        expect("ExpectColumnValuesToBeUnique", "ERROR", column=column),
    )


def in_domain(column: str, values: Sequence[Any]) -> tuple[ExpectationSpec, ...]:
    """Present and one of ``values`` (a set check alone lets nulls through)."""
    return (
        not_null(column),
        expect("ExpectColumnValuesToBeInSet", "ERROR", column=column, value_set=list(values)),
    )


def point_expectations(bbox: BBox | None, *, required: bool) -> tuple[ExpectationSpec, ...]:
    """Conformed WGS84 ``longitude`` / ``latitude``: present when the split requires a point,
    mostly inside ``bbox`` (the jurisdiction check itself is the split's, with a tolerance)."""
    found: list[ExpectationSpec] = []
    if required:
        found += [not_null("longitude"), not_null("latitude")]
    if bbox is not None:
        found += [
            mostly_within("longitude", bbox.min_lon, bbox.max_lon),
            mostly_within("latitude", bbox.min_lat, bbox.max_lat),
        ]
    return tuple(found)


def distinct_names(values: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what}: expected a sequence of names, got the string {values!r}")
    names = list(dict.fromkeys(values))
    if not names:
        raise ValueError(f"{what}: at least one name is required")
    return names


def police_raw_suite(
    layout: PoliceLayout,
    *,
    source: str,
    bbox: BBox | None = None,
    min_rows: int = 1,
    max_rows: int | None = None,
    include_lineage: bool = True,
) -> SuiteSpec:
    """A police landing in any layout: the columns its layout reads, the published header
    otherwise (WARN), ids present, codes and dates mostly present, lon/lat mostly numbers inside
    ``bbox``."""
    columns = (*layout.columns, *(LINEAGE_COLUMNS if include_lineage else ()))
    keys = tuple(k for k in (layout.record_id, layout.report_number) if k)
    required = (layout.offense_codes[0], layout.occurred.column)
    # The columns the layout reads must be there (ERROR: the split cannot run without them);
    # any other difference from the published header (a column added or dropped that nothing
    # reads) is reported, not blocking.
    read = (*layout.read_columns, *(LINEAGE_COLUMNS if include_lineage else ()))
    expectations: list[ExpectationSpec] = [
        expect("ExpectTableColumnsToMatchSet", "ERROR", column_set=list(read), exact_match=False),
        expect("ExpectTableRowCountToBeBetween", "ERROR", min_value=min_rows, max_value=max_rows),
    ]
    if layout.columns:
        expectations.append(
            expect(
                "ExpectTableColumnsToMatchSet", "WARN", column_set=list(columns), exact_match=True
            )
        )
    expectations += [expect("ExpectColumnValuesToNotBeNull", "WARN", column=k) for k in keys]
    expectations += [
        expect("ExpectColumnValuesToNotBeNull", "WARN", column=c, mostly=0.95) for c in required
    ]
    numeric: tuple[str, ...] = ()
    first = layout.location[0]
    if bbox is not None and first.kind == "lonlat":
        lon, lat = numeric = first.columns
        # After the numeric parse: "not null" = parses as a number, "between" = in the bbox.
        expectations += [
            expect("ExpectColumnValuesToNotBeNull", "WARN", column=lon, mostly=0.9),
            expect("ExpectColumnValuesToNotBeNull", "WARN", column=lat, mostly=0.9),
            mostly_within(lon, bbox.min_lon, bbox.max_lon),
            mostly_within(lat, bbox.min_lat, bbox.max_lat),
        ]
    return SuiteSpec(
        name=f"police_{source}_raw",
        expectations=tuple(expectations),
        numeric_columns=numeric,
        blank_as_null_columns=(*keys, *required),
    )


def areas_conformed_suite(
    *,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "areas_conformed",
) -> SuiteSpec:
    """Conformed boundaries, one row per area: exact columns; ``area_id`` present and unique;
    a geometry and at least one source row per area. WARN when more than 5% of the areas
    needed a geometry repair (the file is usable, but its publisher's polygons are suspect)."""
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(AREAS_CONFORMED_COLUMNS, min_rows, max_rows),
            *unique_key("area_id"),
            not_null("geom_wkb"),
            not_null("source_rows"),
            within("source_rows", min_value=1),
            not_null("geometry_repaired"),
            expect(
                "ExpectColumnValuesToBeInSet",
                "WARN",
                column="geometry_repaired",
                value_set=[False],
                mostly=0.95,
            ),
        ),
        blank_as_null_columns=("area_id",),
    )


def area_indicators_conformed_suite(
    indicators: Sequence[str],
    *,
    cv_threshold_pct: float = DEFAULT_CV_THRESHOLD_PCT,
    min_reliable_share: float = 0.7,
    census: bool = True,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "area_indicators_conformed",
) -> SuiteSpec:
    """Conformed indicators, one row per unit x indicator of ``indicators``.

    ERROR: exact columns; (geoid, indicator) unique; indicator and kind in their domains;
    margins and CVs non-negative, estimates too except an index; proportions within [0, 1]. From
    Census tables (``census``): ``geoid`` 11 digits and every proportion naming its numerator
    and denominator (a city's table keys units by their own ids, and gives a proportion with a
    universe or without). WARN: ``unreliable`` disagrees with ``cv_pct`` and
    ``cv_threshold_pct`` (or a missing estimate is not flagged), or fewer than
    ``min_reliable_share`` of the estimates are reliable.
    """
    proportion = where("kind", "==", "proportion")
    non_negative = [
        within("estimate", min_value=0, row_condition=where("kind", "!=", "index")),
        *(within(c, min_value=0) for c in ("moe", "cv_pct")),
    ]
    census_keys = (
        [
            expect(
                "ExpectColumnValuesToMatchRegex", "ERROR", column="geoid", regex=GEOID_TRACT_REGEX
            ),
            not_null("numerator", row_condition=proportion),
            not_null("denominator", row_condition=proportion),
        ]
        if census
        else []
    )
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(AREA_INDICATORS_CONFORMED_COLUMNS, min_rows, max_rows),
            not_null("geoid"),
            *census_keys,
            expect("ExpectCompoundColumnsToBeUnique", "ERROR", column_list=["geoid", "indicator"]),
            *in_domain("indicator", distinct_names(indicators, "indicators")),
            *in_domain("kind", INDICATOR_KINDS),
            *non_negative,
            within("estimate", min_value=0, max_value=1, row_condition=proportion),
            not_null("unreliable"),
            expect(
                "ExpectColumnValuesToBeInSet",
                "WARN",
                column="unreliable",
                value_set=[True],
                row_condition=where("cv_pct", ">", float(cv_threshold_pct)),
            ),
            expect(
                "ExpectColumnValuesToBeInSet",
                "WARN",
                column="unreliable",
                value_set=[False],
                row_condition=where("cv_pct", "<=", float(cv_threshold_pct)),
            ),
            expect(
                "ExpectColumnValuesToBeInSet",
                "WARN",
                column="unreliable",
                value_set=[True],
                row_condition=where_null("estimate"),
            ),
            expect(
                "ExpectColumnValuesToBeInSet",
                "WARN",
                column="unreliable",
                value_set=[False],
                mostly=min_reliable_share,
            ),
        ),
        blank_as_null_columns=("geoid", "indicator", "kind"),
    )


def facilities_conformed_suite(
    *,
    bbox: BBox,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "facilities_conformed",
) -> SuiteSpec:
    """Conformed facilities: exact columns; ``facility_id`` present and unique; a canonical
    ``facility_type``; a point. WARN: names mostly present, points mostly inside ``bbox``."""
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(FACILITIES_CONFORMED_COLUMNS, min_rows, max_rows),
            *unique_key("facility_id"),
            *in_domain("facility_type", FACILITY_TYPES),
            not_null("facility_name", "WARN", mostly=0.95),
            *point_expectations(bbox, required=True),
        ),
        blank_as_null_columns=("facility_id", "facility_type", "facility_name"),
    )


def service_requests_conformed_suite(
    *,
    bbox: BBox,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "service_requests_conformed",
) -> SuiteSpec:
    """Conformed 311 requests: exact columns; ``request_id`` present and unique; a creation time,
    a closed flag and a point on every row. WARN: types mostly present (the split does not judge
    the type), points mostly inside ``bbox``, requests closed before they were created. With
    ``min_rows=0`` an empty file (no requests in the window, no 311 feed) is valid."""
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(SERVICE_REQUESTS_CONFORMED_COLUMNS, min_rows, max_rows),
            *unique_key("request_id"),
            not_null("created_at"),
            not_null("is_closed"),
            not_null("request_type", "WARN", mostly=0.95),
            *point_expectations(bbox, required=True),
            expect(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                "WARN",
                column_A="closed_at",
                column_B="created_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                mostly=0.99,
            ),
        ),
        blank_as_null_columns=("request_id", "request_type"),
    )


def surveys_conformed_suite(
    questions: Sequence[str],
    *,
    bbox: BBox | None = None,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "surveys_conformed",
) -> SuiteSpec:
    """Conformed survey answers, one row per respondent x answered question.

    ERROR: exact columns; (survey, response_id, question) unique; ``question`` one of
    ``questions``; a submission date; a positive weight; an answer in [0, 5] with its positive
    flag; a respondent without an area has a point. WARN: points mostly inside ``bbox`` (when
    given). With ``min_rows=0`` an empty file (an empty inbox) is valid. Without questions (no
    survey layout) there can be no answer: the file must be empty.
    """
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(SURVEYS_CONFORMED_COLUMNS, min_rows, max_rows if questions else 0),
            not_null("survey"),
            not_null("response_id"),
            expect(
                "ExpectCompoundColumnsToBeUnique",
                "ERROR",
                column_list=["survey", "response_id", "question"],
            ),
            *(in_domain("question", distinct_names(questions, "questions")) if questions else ()),
            not_null("submitted_on"),
            not_null("weight"),
            within("weight", min_value=0, strict_min=True),
            not_null("answer_value"),
            within("answer_value", min_value=ANSWER_MIN, max_value=ANSWER_MAX),
            not_null("answer_positive"),
            not_null("longitude", row_condition=where_null("area_key")),
            *point_expectations(bbox, required=False),
        ),
        blank_as_null_columns=("survey", "response_id", "question"),
    )


# --- frames ------------------------------------------------------------------------------------


def read_frame(parquet: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A Parquet file as a DataFrame via Arrow (no row-by-row Python); a raw landing's malformed
    records are left out (``well_formed``)."""
    import pyarrow.parquet as pq

    table = pq.read_table(parquet, columns=list(columns) if columns is not None else None)
    return well_formed(table).to_pandas()


def well_formed(table: pa.Table) -> pa.Table:
    """A raw landing without its malformed records and their two columns: those records have no
    values to expect anything of (the split quarantines them as ``row_malformed``)."""
    import pyarrow.compute as pc

    if MALFORMED_COLUMN not in table.column_names:
        return table
    kept = table.filter(pc.is_null(table[MALFORMED_COLUMN]))
    return kept.drop_columns([c for c in MALFORMED_COLUMNS if c in kept.column_names])


def prepare_frame(spec: SuiteSpec, df: pd.DataFrame) -> pd.DataFrame:
    """The frame the suite validates. Columns absent from ``df`` are left absent, so the
    column-set expectation reports them instead of this step failing."""
    import pandas as pd

    replaced: dict[str, pd.Series] = {}
    for col in spec.blank_as_null_columns:
        if col in df.columns:
            text = df[col].astype("string").str.strip()
            replaced[col] = text.mask(text == "")
    for col in spec.numeric_columns:
        if col in df.columns:
            text = df[col].astype("string").str.strip()
            replaced[col] = pd.to_numeric(text, errors="coerce").astype("float64")
    return df.assign(**replaced) if replaced else df


# --- running -----------------------------------------------------------------------------------


def _import_gx() -> Any:
    # Agencies run air-gapped: no analytics unless someone opts in explicitly.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def build_gx_suite(spec: SuiteSpec) -> Any:
    """The ``gx.ExpectationSuite`` for a spec."""
    gx = _import_gx()
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=spec.name)
    for exp in spec.expectations:
        cls = getattr(gxe, exp.kind)
        suite.add_expectation(cls(**exp.kwargs, severity=_GX_SEVERITY[exp.severity]))
    return suite


def run_suite(
    spec: SuiteSpec,
    df: Frames,
    *,
    results_dir: Path | None = None,
    data_docs_dir: Path | None = None,
    memo_dir: Path | None = None,
) -> SuiteOutcome:
    """Validate ``df`` against ``spec`` in a fresh ephemeral context. ``seconds`` in the outcome
    includes the one-off ``great_expectations`` import on a process's first call.

    ``df`` is a frame, or the batches of one table (``crimemap.quality.batches``): each is
    validated in turn, and their results are combined into the table's. With ``memo_dir``, a
    batch this suite judged in its last run is not validated again (``crimemap.quality.memo``).

    Writes the GX validation result to ``<results_dir>/<suite>.json`` and, if ``data_docs_dir`` is
    given, the suite's page of the offline quality report to ``<data_docs_dir>/<suite>.html``
    (``crimemap.quality.report``: GX's own Data Docs need a network).
    """
    started = time.perf_counter()
    memo = ResultMemo(memo_dir / f"{spec.name}.json") if memo_dir is not None else None
    suite_key = suite_digest(spec) if memo is not None else ""
    judged = frozenset(read_columns(spec))
    validate = _validator(spec)
    results: list[Mapping[str, Any]] = []
    for frame in _batches(df):
        prepared = prepare_frame(spec, frame)
        if memo is None:
            results.append(validate(prepared))
            continue
        frame_key = frame_digest(prepared, judged)
        key = None if frame_key is None else f"{suite_key}:{frame_key}"
        result = memo.get(key)
        if result is None:
            result = validate(prepared)
            memo.put(key, result)
        results.append(result)
    result_json = combine_results(results)
    if memo is not None:
        memo.save()

    validation_path = None
    if results_dir is not None:
        validation_path = Path(results_dir) / f"{spec.name}.json"
        _write_json_atomic(validation_path, result_json)
    page = None
    if data_docs_dir is not None:
        page = write_suite_page(Path(data_docs_dir), spec.name, result_json)
    return outcome_from_result(
        spec.name,
        result_json,
        validation_path=validation_path,
        data_docs_path=page,
        seconds=time.perf_counter() - started,
        reused_batches=memo.reused if memo is not None else 0,
    )


def run_suite_kept(spec: SuiteSpec, df: Frames, quality_dir: Path) -> SuiteOutcome:
    """``run_suite`` with the suite's validation result, Data Docs page and memo kept under the
    data directory's ``quality_dir``."""
    return run_suite(
        spec,
        df,
        results_dir=quality_dir / "validations",
        data_docs_dir=quality_dir / "data_docs",
        memo_dir=quality_dir / "memo",
    )


def _validator(spec: SuiteSpec) -> Callable[[pd.DataFrame], dict[str, Any]]:
    """A function validating one prepared frame against ``spec``. GX and its context are set up
    on the first call only: a run whose every batch is reused never imports GX."""
    validation: Any = None

    def validate(frame: pd.DataFrame) -> dict[str, Any]:
        nonlocal validation
        if validation is None:
            validation = _validation_definition(spec)
        result: dict[str, Any] = validation.run(
            batch_parameters={"dataframe": frame}, result_format="BASIC"
        ).to_json_dict()
        return result

    return validate


def _validation_definition(spec: SuiteSpec) -> Any:
    """``spec`` as a GX validation definition over a whole pandas frame, in an ephemeral
    context."""
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas(spec.name)
        .add_dataframe_asset(spec.name)
        .add_batch_definition_whole_dataframe(spec.name)
    )
    suite = context.suites.add(build_gx_suite(spec))
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=spec.name, data=batch_definition, suite=suite)
    )


def _batches(df: Frames) -> Iterator[pd.DataFrame]:
    import pandas as pd

    if isinstance(df, pd.DataFrame):
        yield df
    else:
        yield from df


def outcome_from_result(
    suite: str,
    result_json: Mapping[str, Any],
    *,
    validation_path: Path | None = None,
    data_docs_path: Path | None = None,
    seconds: float = 0.0,
    reused_batches: int = 0,
) -> SuiteOutcome:
    """Summarize a GX validation result (its JSON dict) into a ``SuiteOutcome``."""
    results = result_json.get("results", [])
    failed = [_failure(r) for r in results if not r.get("success")]
    # Stable: blocking failures first, and among them a changed column set (the cause of the
    # "column does not exist" errors that follow it).
    failed.sort(
        key=lambda f: (f["severity"] != "ERROR", f["expectation"] != COLUMN_SET_EXPECTATION)
    )
    severity: Severity = "ERROR" if any(f["severity"] == "ERROR" for f in failed) else "WARN"
    return SuiteOutcome(
        suite=suite,
        success=bool(result_json.get("success")),
        severity=severity,
        n_expectations=len(results),
        failed=failed,
        statistics=_json_safe(dict(result_json.get("statistics", {}))),
        validation_path=validation_path,
        data_docs_path=data_docs_path,
        seconds=seconds,
        reused_batches=reused_batches,
    )


def _failure(result: Mapping[str, Any]) -> FailedExpectation:
    config = result.get("expectation_config") or {}
    kwargs = config.get("kwargs") or {}
    details = result.get("result") or {}
    severity = _FROM_GX_SEVERITY.get(str(config.get("severity", "critical")), "ERROR")
    return FailedExpectation(
        expectation=str(config.get("type", "?")),
        column=_failure_column(kwargs),
        severity=severity,
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=details.get("unexpected_percent"),
        sample=_json_safe(list(details.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]),
        message=_failure_message(
            kwargs, details, result.get("exception_info") or {}, str(config.get("type", ""))
        ),
    )


def _failure_column(kwargs: Mapping[str, Any]) -> str | None:
    """The column a failure is about; multi-column expectations name theirs joined by ", "."""
    if kwargs.get("column") is not None:
        return str(kwargs["column"])
    if kwargs.get("column_list"):
        return ", ".join(str(c) for c in kwargs["column_list"])
    if kwargs.get("column_A") is not None and kwargs.get("column_B") is not None:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    return None


def _bounds_text(kwargs: Mapping[str, Any]) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        return f"between {low!r} and {high!r}"
    if low is not None:
        return f"at least {low!r}"
    return "" if high is None else f"at most {high!r}"


def _failure_message(
    kwargs: Mapping[str, Any],
    details: Mapping[str, Any],
    exception_info: Mapping[str, Any],
    expectation: str = "",
) -> str:
    errors = _exception_messages(exception_info)
    if errors:
        return "; ".join(errors)
    mismatched = (details.get("details") or {}).get("mismatched")
    if isinstance(mismatched, Mapping):
        missing, extra = (
            sorted(mismatched.get("missing") or []),
            sorted(mismatched.get("unexpected") or []),
        )
        parts = [f"missing columns: {missing}"] if missing else []
        # Where other columns may be there (exact_match false), they are only rename candidates.
        parts += [f"extra columns: {extra}"] if extra and kwargs.get("exact_match", True) else []
        renames = likely_renames(missing, extra)
        if renames:
            parts.append("renamed? " + ", ".join(f"{old!r} -> {new!r}" for old, new in renames))
        return "; ".join(parts) or "column set differs"
    if details.get("unexpected_percent") is not None:
        mostly = kwargs.get("mostly", 1.0)
        return (
            f"{details.get('unexpected_count')} unexpected values "
            f"({details['unexpected_percent']:.3g}%, allowed {100 * (1 - mostly):.3g}%)"
        )
    if "observed_value" in details:
        observed = details["observed_value"]
        rows = expectation == ROW_COUNT_EXPECTATION
        text = f"row count {observed!r}" if rows else f"observed {observed!r}"
        bounds = _bounds_text(kwargs)
        return f"{text}, expected {bounds}" if bounds else text
    return "failed"


def normalized_name(name: str) -> str:
    """A column name compared loosely: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def likely_renames(missing: Sequence[str], extra: Sequence[str]) -> list[tuple[str, str]]:
    """(missing, extra) pairs that are probably one column renamed: the same normalized name,
    else the closest normalized name by ``difflib``. Each extra column pairs at most once."""
    candidates = list(extra)
    pairs: list[tuple[str, str]] = []
    for old in missing:
        by_key = {normalized_name(c): c for c in reversed(candidates)}
        key = normalized_name(old)
        match = by_key.get(key)
        if match is None:
            close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=RENAME_CUTOFF)
            match = by_key[close[0]] if close else None
        if match is not None:
            pairs.append((old, match))
            candidates.remove(match)
    return pairs


def _exception_messages(exception_info: Mapping[str, Any]) -> list[str]:
    """GX nests exception info per metric; pull out the distinct messages."""
    found: list[str] = []
    if exception_info.get("raised_exception") and exception_info.get("exception_message"):
        found.append(str(exception_info["exception_message"]))
    for value in exception_info.values():
        if isinstance(value, Mapping) and value.get("raised_exception"):
            found.append(str(value.get("exception_message")))
    return list(dict.fromkeys(m.strip() for m in found))


# --- files -------------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """NaN/inf to None, dates to ISO text, numpy scalars to Python: metadata must be plain JSON."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy / pandas scalars
        return _json_safe(value.item())
    return str(value)


def _write_json_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    text = json.dumps(_json_safe(payload), indent=2, sort_keys=True) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))


def read_columns(spec: SuiteSpec) -> tuple[str, ...]:
    """Every column an expectation of ``spec`` reads, row conditions included, in first-use
    order: what ``mart_frame`` has to load for it."""
    names: list[str] = []
    for exp in spec.expectations:
        kwargs = exp.kwargs
        for key in ("column", "column_A", "column_B"):
            if kwargs.get(key) is not None:
                names.append(str(kwargs[key]))
        names += [str(c) for c in kwargs.get("column_list") or ()]
        names += list(_condition_columns(kwargs.get("row_condition")))
    return tuple(dict.fromkeys(names))


def _condition_columns(condition: Any) -> Iterator[str]:
    """Column names of a GX row condition given as plain data (nested groups included)."""
    if isinstance(condition, Mapping):
        column = condition.get("column")
        if isinstance(column, Mapping) and column.get("name") is not None:
            yield str(column["name"])
        for value in condition.values():
            if isinstance(value, Mapping | list | tuple):
                yield from _condition_columns(value)
    elif isinstance(condition, list | tuple):
        for item in condition:
            yield from _condition_columns(item)


def read_partition_groups(
    directory: Path,
    columns: Sequence[str] | None = None,
    *,
    batch_rows: int | None = BATCH_ROWS,
) -> dict[str, Iterator[pd.DataFrame]]:
    """The ``month=*/part.parquet`` files under ``directory``, one group per column set, keyed
    by the months they hold (``2024-07..2025-05``): an export whose columns changed between
    loads is judged as each load published it, never as one table it does not fit.

    Each group is read lazily, in frames of about ``batch_rows`` rows (``run_suite`` combines
    their results), so no landing is held in memory whole; ``None`` reads each group as one
    frame (``batches.rows_per_file_batch``: a suite that needs equal keys in one batch).

    With ``columns`` (what a suite reads, ``read_columns``), only those carry their values;
    every other column of the files is a constant ``False`` placeholder, there for the
    column-set expectations."""
    import pyarrow.parquet as pq

    files = sorted(Path(directory).glob("month=*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"no landed partitions under {directory}")
    groups: dict[tuple[str, ...], list[Path]] = {}
    for path in files:
        names = tuple(n for n in pq.read_schema(path).names if n not in MALFORMED_COLUMNS)
        groups.setdefault(names, []).append(path)
    frames: dict[str, Iterator[pd.DataFrame]] = {}
    for names, paths in groups.items():
        months = [p.parent.name.removeprefix("month=") for p in paths]
        label = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
        frames[label] = _partition_frames(paths, names, columns, batch_rows)
    return frames


def _partition_frames(
    paths: Sequence[Path],
    names: Sequence[str],
    columns: Sequence[str] | None,
    batch_rows: int | None,
) -> Iterator[pd.DataFrame]:
    """The well-formed rows of ``paths`` (one column set) in frames of ``batch_rows`` to twice
    that many rows, the last one smaller; one empty frame when they hold no row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted_names = set(columns or ())
    read = None if columns is None else [n for n in names if n in wanted_names]
    placeholders = {} if read is None else {n: False for n in names if n not in read}

    def frame(tables: list[pa.Table]) -> pd.DataFrame:
        return pa.concat_tables(tables).to_pandas().assign(**placeholders)

    pending: list[pa.Table] = []
    pending_rows, yielded = 0, False
    for path in paths:
        parquet = pq.ParquetFile(path)
        present = parquet.schema_arrow.names
        wanted = None if read is None else [*read, *(c for c in MALFORMED_COLUMNS if c in present)]
        for batch in parquet.iter_batches(batch_size=batch_rows or WHOLE_READ, columns=wanted):
            pending.append(well_formed(pa.Table.from_batches([batch])))
            pending_rows += batch.num_rows
            if batch_rows is not None and pending_rows >= batch_rows:
                yield frame(pending)
                pending, pending_rows, yielded = [], 0, True
        if not yielded and not pending:  # no row so far: keep the columns for an empty frame
            empty = parquet.schema_arrow.empty_table()
            pending.append(well_formed(empty.select(wanted or present)))
    if pending and (pending_rows or not yielded):
        yield frame(pending)
