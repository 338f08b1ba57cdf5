"""Row rules for resident surveys, and the split into quarantine and one row per answer.

The rules read the ``cm_`` columns ``crimemap.ingestion.surveys.conformed_columns_sql`` derives
from the layout. A respondent is placed by the area id when one is given (the point is then not
judged: a respondent may answer for where they live from anywhere), else by the point. Each rule is
guarded so a row with one defect carries exactly that one reason code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import fetch_one, scratch
from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion.surveys import (
    CONFORMED_PREFIX,
    SurveyLayout,
    answer_rows_sql,
    conformed_columns_sql,
)
from crimemap.quality.rules import (
    DEFAULT_TOLERANCE_M,
    LoadProfile,
    SourceRules,
    SplitResult,
    check_read_columns,
    derived,
    load_areas,
    out_of_jurisdiction,
    raw_columns_of,
    rule,
    split_quarantine,
)

if TYPE_CHECKING:
    import duckdb

SOURCE_FILE_COLUMN = "_source_file"


def survey_rules(
    layout: SurveyLayout,
    *,
    survey: str,
    area_table: str,
    boundary_table: str,
    projected_crs: str,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> SourceRules:
    """The survey rule set over a layout's ``cm_`` columns."""
    area_given = derived("cm_area_given")
    # IN over a table with a NULL key is NULL, not false: coalesce so the row is still judged.
    known = (
        f"coalesce({derived('cm_area_key')} IN "
        f"(SELECT __areas.area_key FROM {quote_ident(area_table)} AS __areas), false)"
    )
    outside = out_of_jurisdiction(
        "cm_longitude", "cm_latitude", boundary_table, tolerance_m, projected_crs=projected_crs
    )
    place = f"{layout.area} or " if layout.area else ""
    rules = (
        rule(
            "missing_key",
            f"{derived('cm_response_id')} IS NULL",
            f"blank {layout.response_id}",
            "cm_response_id",
        ),
        rule(
            "coordinates_missing",
            f"NOT {area_given} AND {derived('cm_longitude')} IS NULL",
            f"neither {place}a usable point",
            "cm_area_given",
            "cm_longitude",
        ),
        rule(
            "area_unknown",
            f"{area_given} AND NOT {known}",
            f"{layout.area} names no area of {area_table}",
            "cm_area_given",
            "cm_area_key",
        ),
        # The area places a respondent who names one; only the others are placed by the point.
        replace(
            outside,
            predicate_sql=f"(NOT {area_given} AND {outside.predicate_sql})",
            columns=(*outside.columns, "cm_area_given"),
        ),
        rule(
            "value_invalid",
            derived("cm_value_invalid"),
            "submitted date, weight or an answer outside its domain, or no question answered",
            "cm_value_invalid",
        ),
    )
    # Copies are judged within one file: two files may reuse a response id.
    return SourceRules(
        source=survey,
        key_columns=(layout.response_id,),
        rules=rules,
        dedupe_on=(layout.response_id, SOURCE_FILE_COLUMN),
    )


def split_survey(
    con: duckdb.DuckDBPyConnection,
    layout: SurveyLayout,
    *,
    survey: str,
    raw_parquet: Path,
    quarantine_path: Path,
    conformed_path: Path,
    area_table: str,
    projected_crs: str,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    boundary_table: str,
    profile_path: Path | None = None,
) -> SplitResult:
    """Quarantine rejected respondents of one landing file; write the rest one row per answer.

    ``area_table`` has a column ``area_key`` with the normalized ids of the known areas;
    ``boundary_table`` is ``(area_id, geom)`` in EPSG:4326 for the jurisdiction check.
    ``SplitResult.clean_rows`` counts accepted respondents, not answer rows.
    """
    raw_parquet = Path(raw_parquet)
    check_read_columns(
        "the survey layout",
        layout.read_columns,
        raw_columns_of(con, raw_parquet),
        where=f"{survey} ({raw_parquet.name})",
    )
    rules = survey_rules(
        layout,
        survey=survey,
        area_table=area_table,
        boundary_table=boundary_table,
        projected_crs=projected_crs,
        tolerance_m=tolerance_m,
    )
    return split_quarantine(
        con,
        raw_parquet,
        rules,
        quarantine_path=quarantine_path,
        clean_path=conformed_path,
        relation_sql=conformed_columns_sql(
            layout, f"read_parquet({sql_literal(str(raw_parquet))})"
        ),
        clean_select=lambda accepted: answer_rows_sql(layout, survey, accepted),
        derived_prefix=CONFORMED_PREFIX,
        profile=LoadProfile(
            profile_path,
            "surveys",
            month_sql=f"date_trunc('month', {derived('cm_submitted_on')})",
            located=layout.area is None,
        ),
    )


@dataclass(frozen=True)
class SurveyWaves:
    """The split of every landed survey file: totals, counts per file, answer rows written."""

    raw_rows: int
    accepted_rows: int
    quarantined_rows: int
    by_survey: dict[str, dict[str, int]]
    answers: int
    results: tuple[SplitResult, ...] = ()  # one per survey file

    @property
    def totals(self) -> dict[str, int]:
        return {
            "raw_rows": self.raw_rows,
            "accepted_rows": self.accepted_rows,
            "quarantined_rows": self.quarantined_rows,
        }


def split_survey_waves(
    paths: DataPaths, layout: SurveyLayout, *, projected_crs: str, tolerance_m: float
) -> SurveyWaves:
    """Split each landed survey file into its own quarantine and accepted answers, then gather
    the answers of all files into ``conformed/surveys``. Files of withdrawn waves are removed."""
    quarantine_dir = paths.quarantine / "surveys"
    work_dir = paths.conformed / "surveys" / ".files"
    profile_dir = paths.profiles / "surveys"
    for folder in (quarantine_dir, work_dir, profile_dir):
        for stale in folder.glob("*.parquet"):
            stale.unlink()
    raw_rows = accepted_rows = quarantined_rows = 0
    by_survey: dict[str, dict[str, int]] = {}
    results: list[SplitResult] = []
    target = paths.conformed_file("surveys")
    with scratch() as con:
        boundary = load_areas(con, paths.conformed_file("areas"))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE known_areas AS "
            f"SELECT area_id AS area_key FROM {boundary}"
        )
        for raw in sorted(paths.raw_surveys.glob("*.parquet")):
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
                projected_crs=projected_crs,
                tolerance_m=tolerance_m,
            )
            raw_rows += result.raw_rows
            accepted_rows += result.clean_rows
            quarantined_rows += result.quarantined_rows
            by_survey[raw.stem] = dict(result.by_reason, accepted=result.clean_rows)
            results.append(result)
        files = sql_literal(str(work_dir / "*.parquet"))
        con.execute(
            f"COPY (SELECT * FROM read_parquet({files}) ORDER BY survey, _row_number) "
            f"TO {sql_literal(str(target))} (FORMAT parquet, COMPRESSION zstd)"
        )
        answers = fetch_one(con, f"SELECT count(*) FROM read_parquet({sql_literal(str(target))})")[
            0
        ]
    return SurveyWaves(
        raw_rows, accepted_rows, quarantined_rows, by_survey, answers, tuple(results)
    )
