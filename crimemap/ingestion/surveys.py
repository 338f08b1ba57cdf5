"""Resident surveys: the layout of a survey CSV, the SQL that reads it, and the inbox it lands from.

A survey file holds one row per respondent; a ``SurveyLayout`` names the columns holding the
response id, the submission date, where the respondent lives (an area id, a point, or both), an
optional weight, and the questions with their answer scale. Like the police layouts it is data
parsed from YAML (``parse_survey_layout``), and the sample city's layout is one such mapping.

``conformed_columns_sql`` adds the ``cm_`` columns the quality rules judge to every raw row;
``answer_rows_sql`` turns accepted rows into one row per answered question (the conformed
``surveys`` contract of docs/data-contracts.md). Every value is ``TRY_``-parsed: a bad value
becomes NULL or a false flag for a rule to report, never an error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion.landing import LINEAGE_COLUMNS, land_csv, land_frame

CONFORMED_PREFIX = "cm_"
DEFAULT_DATE_FORMATS: tuple[str, ...] = ("%Y-%m-%d", "%m/%d/%Y")
AREA_ID_KINDS = ("auto", "geoid", "code", "name")
GEOID_LENGTH = 11
LIKERT5 = "likert5"
YES_NO = "yes_no"
SCALES = (LIKERT5, YES_NO)
LIKERT_VALUES = (1, 2, 3, 4, 5)
# Answer tokens of a yes/no question (compared trimmed, lower-case) and the value each stands for.
YES_TOKENS = ("yes", "y", "true", "1")
NO_TOKENS = ("no", "n", "false", "0")
DEFAULT_POSITIVE: dict[str, tuple[int, ...]] = {LIKERT5: (4, 5), YES_NO: (1,)}
LAYOUT_KEYS = (
    "response_id",
    "submitted",
    "area",
    "area_id_kind",
    "longitude",
    "latitude",
    "weight",
    "questions",
)
QUESTION_KEYS = ("column", "scale", "positive")

# The conformed survey answers, in file order (docs/data-contracts.md).
CONFORMED_COLUMNS: tuple[str, ...] = (
    "survey",
    "response_id",
    "submitted_on",
    "area_key",
    "longitude",
    "latitude",
    "weight",
    "question",
    "answer_value",
    "answer_positive",
    *LINEAGE_COLUMNS,
)


@dataclass(frozen=True)
class SurveyQuestion:
    """One question; ``positive`` lists the answer values counted positive (yes/no as 1/0)."""

    name: str
    column: str
    scale: str
    positive: tuple[int, ...]


@dataclass(frozen=True)
class SurveyLayout:
    response_id: str
    submitted: str
    questions: tuple[SurveyQuestion, ...]
    submitted_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    area: str | None = None
    area_id_kind: str = "auto"
    longitude: str | None = None
    latitude: str | None = None
    weight: str | None = None

    @property
    def read_columns(self) -> tuple[str, ...]:
        """Every published column the layout reads (ordered, no repeats)."""
        names = [self.response_id, self.submitted, self.area, self.longitude, self.latitude]
        names += [self.weight, *(q.column for q in self.questions)]
        return tuple(dict.fromkeys(n for n in names if n))


# --- parsing the YAML mapping ------------------------------------------------------------------


def _column(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: expected a column name, got {value!r}")
    return value


def _optional_column(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    return None if value is None else _column(value, f"{where}.{key}")


def _required(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if mapping.get(key) in (None, "", [], {}):
        raise ValueError(f"{where}: missing required key {key!r}")
    return mapping[key]


def _check_keys(mapping: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    # A misspelt key would otherwise silently fall back to a default.
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown} (allowed: {', '.join(allowed)})")


def _submitted(value: Any, where: str) -> tuple[str, tuple[str, ...]]:
    if isinstance(value, str):
        return _column(value, where), DEFAULT_DATE_FORMATS
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a column name or {{column, formats}}, got {value!r}")
    _check_keys(value, ("column", "formats"), where)
    column = _column(_required(value, "column", where), f"{where}.column")
    formats = value.get("formats", list(DEFAULT_DATE_FORMATS))
    formats = [formats] if isinstance(formats, str) else formats
    if not isinstance(formats, list | tuple) or not formats:
        raise ValueError(f"{where}.formats: expected a non-empty list of strptime formats")
    if not all(isinstance(f, str) and f for f in formats):
        raise ValueError(f"{where}.formats: expected strptime format strings, got {formats!r}")
    return column, tuple(formats)


def _yes_no_value(token: Any) -> int | None:
    text = str(token).strip().lower()
    if text in YES_TOKENS:
        return 1
    if text in NO_TOKENS:
        return 0
    return None


def _likert_value(token: Any) -> int | None:
    if isinstance(token, bool):
        return None
    try:
        number = float(str(token).strip())
    except ValueError:
        return None
    return int(number) if number in LIKERT_VALUES else None


def _positive(value: Any, scale: str, where: str) -> tuple[int, ...]:
    if value is None:
        return DEFAULT_POSITIVE[scale]
    items = value if isinstance(value, list | tuple) else [value]
    parse = _likert_value if scale == LIKERT5 else _yes_no_value
    parsed = [parse(v) for v in items]
    if not items or any(p is None for p in parsed):
        domain = "integers 1-5" if scale == LIKERT5 else "yes/no values"
        raise ValueError(f"{where}: {scale} positive values must be {domain}, got {value!r}")
    return tuple(sorted({p for p in parsed if p is not None}))


def _question(name: Any, spec: Any, where: str) -> SurveyQuestion:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: a question name must be a non-empty string, got {name!r}")
    where = f"{where}.{name}"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: expected {{column, scale, positive}}, got {spec!r}")
    _check_keys(spec, QUESTION_KEYS, where)
    scale = _required(spec, "scale", where)
    if scale not in SCALES:
        raise ValueError(f"{where}.scale: {scale!r} is not one of {', '.join(SCALES)}")
    return SurveyQuestion(
        name=name,
        column=_column(spec.get("column", name), f"{where}.column"),
        scale=scale,
        positive=_positive(spec.get("positive"), scale, f"{where}.positive"),
    )


def parse_survey_layout(mapping: Mapping[str, Any], where: str) -> SurveyLayout:
    """Build a survey layout from its YAML mapping; errors name ``where`` and the key."""
    if not isinstance(mapping, Mapping):
        kind = type(mapping).__name__
        raise ValueError(f"{where}: a survey layout must be a mapping, got {kind}")
    _check_keys(mapping, LAYOUT_KEYS, where)
    submitted, formats = _submitted(_required(mapping, "submitted", where), f"{where}.submitted")
    kind = mapping.get("area_id_kind", "auto")
    if kind not in AREA_ID_KINDS:
        raise ValueError(f"{where}.area_id_kind: {kind!r} is not one of {', '.join(AREA_ID_KINDS)}")
    questions = _required(mapping, "questions", where)
    if not isinstance(questions, Mapping):
        raise ValueError(f"{where}.questions: expected a mapping of question name to spec")
    layout = SurveyLayout(
        response_id=_column(_required(mapping, "response_id", where), f"{where}.response_id"),
        submitted=submitted,
        submitted_formats=formats,
        area=_optional_column(mapping, "area", where),
        area_id_kind=kind,
        longitude=_optional_column(mapping, "longitude", where),
        latitude=_optional_column(mapping, "latitude", where),
        weight=_optional_column(mapping, "weight", where),
        questions=tuple(
            _question(name, spec, f"{where}.questions") for name, spec in questions.items()
        ),
    )
    if (layout.longitude is None) != (layout.latitude is None):
        raise ValueError(f"{where}: 'longitude' and 'latitude' must be given together")
    if layout.area is None and layout.longitude is None:
        raise ValueError(f"{where}: a layout needs 'area' or 'longitude'/'latitude' to place rows")
    # DuckDB names are case-insensitive: a published "CM_x" would shadow a derived column.
    reserved = [c for c in layout.read_columns if c.lower().startswith(CONFORMED_PREFIX)]
    if reserved:
        raise ValueError(
            f"{where}: column names starting with {CONFORMED_PREFIX!r} are reserved: {reserved}"
        )
    return layout


# A jurisdiction without a survey layout takes no surveys: its empty inbox lands a zero-row
# stand-in of this shape, and a file dropped in the inbox is refused (there is nothing to read
# it by).
NO_SURVEY_LAYOUT = SurveyLayout(
    response_id="response_id", submitted="submitted", questions=(), area="area"
)


# --- area keys ---------------------------------------------------------------------------------


def normalize_area_id(value: str | None, kind: str) -> str | None:
    """The key of an area id as the boundaries contract normalizes it (NULL when nothing is left).

    ``geoid``: digits only, a longer id keeps its trailing 11 digits ("1400000US53033000100" ->
    "53033000100"), a shorter one is left-padded to 11. ``code``: trimmed, upper-cased, a purely
    numeric code loses its leading zeros ("009" = "9"). ``name``: upper-cased, apostrophes
    dropped, other punctuation and runs of spaces made one space ("St. John's  Wood" =
    "ST JOHNS WOOD"). ``auto`` decides per value: a census GEO_ID ("...US<digits>") or 11 or
    more digits is a GEOID, other digits a numeric code, anything else a name.
    """
    if kind not in AREA_ID_KINDS:
        raise ValueError(f"area id kind {kind!r} is not one of {', '.join(AREA_ID_KINDS)}")
    if value is None:
        return None
    if kind == "auto":
        kind = _auto_kind(value.strip())
    if kind == "geoid":
        digits = "".join(c for c in value if c in "0123456789")
        return digits[-GEOID_LENGTH:].rjust(GEOID_LENGTH, "0") if digits else None
    if kind == "name":
        text = re.sub(r"['’]", "", value.upper())
        return " ".join(re.sub(r"[^\w]+|_", " ", text).split()) or None
    code = value.strip().upper()
    if code.isascii() and code.isdigit():
        return code.lstrip("0") or "0"
    return code or None


def _auto_kind(text: str) -> str:
    if re.fullmatch(r"[0-9]+US[0-9]+", text, flags=re.IGNORECASE) or (
        text.isascii() and text.isdigit() and len(text) >= GEOID_LENGTH
    ):
        return "geoid"
    return "code" if text.isascii() and text.isdigit() else "name"


def area_key_sql(text_sql: str, kind: str) -> str:
    """SQL twin of ``normalize_area_id`` over a VARCHAR expression."""
    if kind not in AREA_ID_KINDS:
        raise ValueError(f"area id kind {kind!r} is not one of {', '.join(AREA_ID_KINDS)}")
    digits = f"NULLIF(regexp_replace({text_sql}, '[^0-9]', '', 'g'), '')"
    geoid = (
        f"CASE WHEN length({digits}) >= {GEOID_LENGTH} THEN right({digits}, {GEOID_LENGTH}) "
        f"ELSE lpad({digits}, {GEOID_LENGTH}, '0') END"
    )
    code = f"NULLIF(upper(trim({text_sql})), '')"
    numeric_code = (
        f"CASE WHEN regexp_full_match({code}, '[0-9]+') "
        f"THEN coalesce(NULLIF(ltrim({code}, '0'), ''), '0') ELSE {code} END"
    )
    unquoted = f"regexp_replace(upper({text_sql}), '[''’]', '', 'g')"
    name = f"NULLIF(trim(regexp_replace({unquoted}, '[^\\pL\\pN]+', ' ', 'g')), '')"
    if kind == "geoid":
        return geoid
    if kind == "code":
        return numeric_code
    if kind == "name":
        return name
    trimmed = f"trim({text_sql})"
    return (
        f"CASE WHEN regexp_full_match({trimmed}, '[0-9]+US[0-9]+', 'i') "
        f"OR regexp_full_match({trimmed}, '[0-9]{{{GEOID_LENGTH},}}') THEN {geoid} "
        f"WHEN regexp_full_match({trimmed}, '[0-9]+') THEN {numeric_code} ELSE {name} END"
    )


# --- SQL over a raw survey landing -------------------------------------------------------------


def _col(name: str, alias: str) -> str:
    return f"{alias}.{quote_ident(name)}"


def _text(name: str, alias: str) -> str:
    """Trimmed text, NULL when blank."""
    return f"NULLIF(trim(CAST({_col(name, alias)} AS VARCHAR)), '')"


def _number(name: str, alias: str) -> str:
    return f"TRY_CAST({_text(name, alias)} AS DOUBLE)"


def _values(values: Iterable[object]) -> str:
    return ", ".join(str(v) if isinstance(v, int) else sql_literal(str(v)) for v in values)


def answer_value_sql(question: SurveyQuestion, alias: str) -> str:
    """DOUBLE of an answer in its scale; NULL when unanswered or outside the scale."""
    if question.scale == LIKERT5:
        # "4" and "4.0" are the same answer; "4.5", "6" and "nan" are not on the scale.
        number = _number(question.column, alias)
        return f"CASE WHEN {number} IN ({_values(LIKERT_VALUES)}) THEN {number} END"
    token = f"lower({_text(question.column, alias)})"
    return (
        f"CASE WHEN {token} IN ({_values(YES_TOKENS)}) THEN 1.0 "
        f"WHEN {token} IN ({_values(NO_TOKENS)}) THEN 0.0 END"
    )


def _weight_sql(layout: SurveyLayout, alias: str) -> str:
    if layout.weight is None:
        return "1.0::DOUBLE"  # an unweighted survey counts every respondent once
    w = _number(layout.weight, alias)
    return f"CASE WHEN isfinite({w}) AND {w} > 0 THEN {w} END"


def _point_sql(layout: SurveyLayout, alias: str) -> tuple[str, str]:
    """(lon, lat) when both are finite and not the (0, 0) "no location" placeholder, else NULL."""
    if layout.longitude is None or layout.latitude is None:
        return "NULL::DOUBLE", "NULL::DOUBLE"
    x, y = _number(layout.longitude, alias), _number(layout.latitude, alias)
    usable = f"(isfinite({x}) AND isfinite({y}) AND NOT ({x} = 0 AND {y} = 0))"
    return f"CASE WHEN {usable} THEN {x} END", f"CASE WHEN {usable} THEN {y} END"


def _question_column(i: int, part: str) -> str:
    return f"{CONFORMED_PREFIX}q{i}_{part}"


def conformed_columns_sql(layout: SurveyLayout, raw_relation: str, *, alias: str = "__src") -> str:
    """``SELECT`` of every raw column plus the ``cm_`` columns the survey rules judge.

    ``cm_value_invalid`` is true when a submitted date does not parse (blank included), a weight
    is not a positive finite number, an answered question is outside its scale, or no question
    is answered (such a respondent would give no conformed row and be lost to reconciliation).
    """
    area = _text(layout.area, alias) if layout.area else "NULL::VARCHAR"
    submitted_formats = "[" + ", ".join(sql_literal(f) for f in layout.submitted_formats) + "]"
    submitted_on = (
        f"CAST(try_strptime({_text(layout.submitted, alias)}, {submitted_formats}) AS DATE)"
    )
    lon, lat = _point_sql(layout, alias)
    weight = _weight_sql(layout, alias)
    values = [answer_value_sql(q, alias) for q in layout.questions]
    answers, invalid = [], [f"({submitted_on}) IS NULL", f"({weight}) IS NULL"]
    for i, (q, value) in enumerate(zip(layout.questions, values, strict=True)):
        answers += [
            f"{value} AS {_question_column(i, 'value')}",
            f"coalesce(({value}) IN ({_values(q.positive)}), false) "
            f"AS {_question_column(i, 'positive')}",
        ]
        invalid.append(f"({_text(q.column, alias)} IS NOT NULL AND ({value}) IS NULL)")
    if values:  # a respondent who answered nothing (a layout without questions takes no files)
        invalid.append("(" + " AND ".join(f"({v}) IS NULL" for v in values) + ")")
    columns = [
        f"{alias}.*",
        f"{_text(layout.response_id, alias)} AS cm_response_id",
        f"{submitted_on} AS cm_submitted_on",
        f"({area} IS NOT NULL) AS cm_area_given",
        f"{area_key_sql(area, layout.area_id_kind)} AS cm_area_key",
        f"{lon} AS cm_longitude",
        f"{lat} AS cm_latitude",
        f"{weight} AS cm_weight",
        f"({' OR '.join(invalid)}) AS cm_value_invalid",
        *answers,
    ]
    return "SELECT " + ",\n    ".join(columns) + f"\nFROM {raw_relation} AS {alias}"


def answer_rows_sql(layout: SurveyLayout, survey: str, accepted: str) -> str:
    """One row per answered question of each accepted respondent, in the conformed layout.

    ``accepted`` is a table or view of ``conformed_columns_sql`` rows; the result is ordered by
    record, then by the layout's question order.
    """
    answers = ", ".join(
        f"{{'position': {i}, 'question': {sql_literal(q.name)}, "
        f"'answer_value': {_question_column(i, 'value')}, "
        f"'answer_positive': {_question_column(i, 'positive')}}}"
        for i, q in enumerate(layout.questions)
    ) or (
        # no questions, no answers: one typed NULL answer, dropped by the filter below
        "{'position': 0, 'question': NULL::VARCHAR, 'answer_value': NULL::DOUBLE, "
        "'answer_positive': NULL::BOOLEAN}"
    )
    # A point outside lon/lat range (a respondent placed by area, coordinates in feet) is no
    # WGS84 point: the area places it.
    in_range = "(__r.cm_longitude BETWEEN -180 AND 180 AND __r.cm_latitude BETWEEN -90 AND 90)"
    lineage = ", ".join(f"__r.{quote_ident(c)}" for c in LINEAGE_COLUMNS)
    return (
        f"SELECT {sql_literal(survey)} AS survey, __r.cm_response_id AS response_id, "
        "__r.cm_submitted_on AS submitted_on, __r.cm_area_key AS area_key, "
        f"CASE WHEN {in_range} THEN __r.cm_longitude END AS longitude, "
        f"CASE WHEN {in_range} THEN __r.cm_latitude END AS latitude, "
        "__r.cm_weight AS weight, __r.__answer.question AS question, "
        "__r.__answer.answer_value AS answer_value, "
        f"__r.__answer.answer_positive AS answer_positive, {lineage} "
        f"FROM (SELECT *, unnest([{answers}]) AS __answer FROM {accepted}) AS __r "
        "WHERE __r.__answer.answer_value IS NOT NULL "
        "ORDER BY __r._row_number, __r.__answer.position"
    )


# --- the inbox ---------------------------------------------------------------------------------


def inbox_files(inbox: Path) -> list[Path]:
    """The survey CSVs directly in ``inbox``, sorted by name.

    Hidden files (".x.csv", an editor's or uploader's temp copy) and partial uploads ("x.csv.part")
    are not surveys yet. A missing inbox holds no files.
    """
    inbox = Path(inbox)
    if not inbox.is_dir():
        return []
    return sorted(
        (
            p
            for p in inbox.iterdir()
            if p.is_file() and p.suffix.lower() == ".csv" and not p.name.startswith((".", "~"))
        ),
        key=lambda p: p.name,
    )


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inbox_fingerprint(files: Iterable[Path]) -> str:
    """A stable digest of the files' names, sizes and contents (a sensor's run key or cursor).

    Independent of the order ``files`` come in; any rename, edit, addition or removal changes it.
    """
    digest = hashlib.sha256()
    for path in sorted((Path(f) for f in files), key=lambda p: p.name):
        entry = f"{path.name}\0{path.stat().st_size}\0{_file_digest(path)}\n"
        digest.update(entry.encode("utf-8"))
    return digest.hexdigest()


NO_SURVEYS = "no_surveys"  # the stand-in landing when the inbox is empty


@dataclass(frozen=True)
class SurveyLanding:
    """What an inbox landed: rows per survey (the file's stem), and the files left out as
    byte-for-byte copies of a landed one (copy -> the file landed instead)."""

    rows: dict[str, int]
    duplicates: dict[str, str]


def survey_key(path: Path) -> str:
    """The survey a file lands as: its stem."""
    return path.stem


def distinct_survey_files(files: Sequence[Path]) -> tuple[list[Path], dict[str, str]]:
    """The files to land, and the byte-identical copies left out (each named with the file that
    lands instead). Two different files that would land as one survey raise ``ValueError``."""
    kept: dict[str, Path] = {}  # content digest -> the file that lands
    by_key: dict[str, Path] = {}
    duplicates: dict[str, str] = {}
    # The shortest name lands: "wave1.csv" rather than "wave1 (copy).csv".
    for path in sorted(files, key=lambda p: (len(p.name), p.name)):
        digest = _file_digest(path)
        if digest in kept:
            duplicates[path.name] = kept[digest].name
            continue
        # Compared without case: wave2.csv and wave2.CSV are one landing file on a
        # case-insensitive disk, and one survey to a reader.
        other = by_key.get(survey_key(path).casefold())
        if other is not None:
            raise ValueError(
                f"{other.name} and {path.name} differ but would land as one survey "
                f"{survey_key(other)!r}: rename one of them"
            )
        kept[digest] = by_key[survey_key(path).casefold()] = path
    return sorted(kept.values(), key=lambda p: p.name), duplicates


def land_survey_inbox(
    files: Sequence[Path], layout: SurveyLayout, target_dir: Path, *, load_id: str
) -> SurveyLanding:
    """Land every distinct survey file as ``<target_dir>/<survey key>.parquet``.

    An empty inbox lands a zero-row stand-in so the survey marts stay defined; a landing whose
    file left the inbox is withdrawn. A file that cannot be read, or two different files with
    one survey key, raise ``ValueError``.
    """
    distinct, duplicates = distinct_survey_files(files)
    target_dir.mkdir(parents=True, exist_ok=True)
    landed: dict[str, int] = {}
    for path in distinct:
        key = survey_key(path)
        landed[key] = land_csv(path, target_dir / f"{key}.parquet", load_id=load_id).rows
    if not files:
        empty = pl.DataFrame(schema=dict.fromkeys(layout.read_columns, pl.String))
        land_frame(empty, NO_SURVEYS, target_dir / f"{NO_SURVEYS}.parquet", load_id=load_id)
        landed[NO_SURVEYS] = 0
    for stale in target_dir.glob("*.parquet"):
        if stale.stem not in landed:
            stale.unlink()
    return SurveyLanding(landed, duplicates)
