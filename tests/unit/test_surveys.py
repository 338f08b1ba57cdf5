"""Survey layouts, the survey split (one reason per planted defect, one row per answer) and the
survey inbox, on tiny CSVs landed with ``land_csv``."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from crimemap.ingestion.landing import land_csv
from crimemap.ingestion.surveys import (
    CONFORMED_COLUMNS,
    NO_SURVEY_LAYOUT,
    SurveyLayout,
    area_key_sql,
    inbox_files,
    inbox_fingerprint,
    land_survey_inbox,
    normalize_area_id,
    parse_survey_layout,
)
from crimemap.quality.rules import REASON_CODES, SplitResult
from crimemap.quality.surveys import split_survey
from crimemap.samplecity.settings import SAMPLE_CITY_SURVEY_COLUMNS, SAMPLE_CITY_SURVEY_LAYOUT

# Two adjacent 0.05° squares (~3.8 km x 5.6 km) sharing the edge lon = -122.35.
WEST = (-122.40, 47.60, -122.35, 47.65)
EAST = (-122.35, 47.60, -122.30, 47.65)
WEST_ID, EAST_ID = "53033000100", "53033000200"
# A known area with no boundary here: its id loses the leading zero in a spreadsheet.
PADDED_ID = "01001020100"
PROJECTED_CRS = "EPSG:32610"
INGESTED_AT = datetime(2024, 6, 1, tzinfo=UTC)
QUESTIONS = SAMPLE_CITY_SURVEY_COLUMNS[5:12]
BOUNDARY, AREAS = "test_survey_boundary", "test_survey_areas"


# --- fixtures and builders ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    from crimemap.core.duckdb_spatial import connect

    connection = connect(extension_directory=tmp_path_factory.mktemp("duckdb_extensions"))
    squares = " UNION ALL ".join(
        f"SELECT '{area_id}' AS area_id, ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}) AS geom"
        for area_id, (x0, y0, x1, y1) in ((WEST_ID, WEST), (EAST_ID, EAST))
    )
    connection.execute(f"CREATE TEMP TABLE {BOUNDARY} AS {squares}")
    connection.execute(
        f"CREATE TEMP TABLE {AREAS} AS SELECT area_id AS area_key FROM {BOUNDARY} "
        f"UNION ALL SELECT '{PADDED_ID}'"
    )
    yield connection
    connection.close()


def respondent(response_id: str, **overrides: str) -> dict[str, str]:
    row = {
        "response_id": response_id,
        "submitted_at": "2024-05-01",
        "tract_geoid": "",
        "latitude": "47.62",
        "longitude": "-122.37",
        "feel_safe_day": "4",
        "feel_safe_night": "2",
        "unmet_need_housing": "Yes",
        "unmet_need_food": "No",
        "unmet_need_mental_health": "",
        "unmet_need_substance_use": "",
        "unmet_need_childcare": "",
        "weight": "1.5",
    }
    row.update(overrides)
    return row


NO_ANSWERS = {q: "" for q in QUESTIONS}

# (row, exact expected reason codes); [] = accepted. Row numbers follow list order, 1-based.
CASES: list[tuple[dict[str, str], list[str]]] = [
    (respondent("r1"), []),
    (respondent("r2", tract_geoid=EAST_ID, latitude="", longitude=""), []),
    (respondent("r3", tract_geoid="1400000US53033000100", latitude="", longitude=""), []),
    (respondent("r4", tract_geoid="1001020100"), []),  # leading zero restored
    # A respondent placed by area may answer from anywhere: the point is not judged.
    (respondent("r5", tract_geoid=WEST_ID, latitude="34.05", longitude="-118.24"), []),
    (respondent("r6", longitude="-122.35"), []),  # on the shared edge
    (
        respondent(
            "r7",
            feel_safe_day=" 4.0 ",
            feel_safe_night="3",
            unmet_need_housing="y",
            unmet_need_food="FALSE",
            unmet_need_mental_health="1",
            unmet_need_substance_use="n",
            unmet_need_childcare="True",
        ),
        [],
    ),
    (respondent("  "), ["missing_key"]),
    (respondent("r9", latitude="", longitude=""), ["coordinates_missing"]),
    (respondent("r10", longitude="abc"), ["coordinates_missing"]),
    (respondent("r11", latitude="0", longitude="0.0"), ["coordinates_missing"]),
    (respondent("r12", tract_geoid="53033000999", latitude="", longitude=""), ["area_unknown"]),
    (respondent("r13", tract_geoid="not-a-tract"), ["area_unknown"]),
    (respondent("r14", tract_geoid="53033000999"), ["area_unknown"]),  # a good point rescues none
    (respondent("r15", latitude="47.651"), ["out_of_jurisdiction"]),  # ~110 m north
    (respondent("r16", latitude="220000", longitude="1270000"), ["out_of_jurisdiction"]),
    (respondent("r17", feel_safe_day="6"), ["value_invalid"]),
    (respondent("r18", feel_safe_night="4.5"), ["value_invalid"]),
    (respondent("r19", unmet_need_food="maybe"), ["value_invalid"]),
    (respondent("r20", submitted_at="2024-13-01"), ["value_invalid"]),
    (respondent("r21", submitted_at="05/01/2024"), ["value_invalid"]),  # not the sample's format
    (respondent("r22", submitted_at=""), ["value_invalid"]),
    (respondent("r23", weight="0"), ["value_invalid"]),
    (respondent("r24", weight="-1"), ["value_invalid"]),
    (respondent("r25", weight="inf"), ["value_invalid"]),
    (respondent("r26", weight=""), ["value_invalid"]),
    (respondent("r27", **NO_ANSWERS), ["value_invalid"]),  # would give no conformed row
    (respondent("r1"), ["duplicate_record"]),
    # A defective row is not the original: its clean later copy is accepted.
    (respondent("r29", weight="abc"), ["value_invalid"]),
    (respondent("r29"), []),
    (respondent("", weight="0"), ["missing_key", "value_invalid"]),
]


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def land(
    tmp_path: Path,
    rows: list[dict[str, str]],
    columns: tuple[str, ...] = SAMPLE_CITY_SURVEY_COLUMNS,
    name: str = "survey_2024",
) -> Path:
    source = write_csv(tmp_path / "inbox" / f"{name}.csv", rows, columns)
    dest = tmp_path / "raw" / f"{name}.parquet"
    return land_csv(source, dest, load_id="load-1", ingested_at=INGESTED_AT).path


def split(
    con: duckdb.DuckDBPyConnection,
    raw: Path,
    layout: SurveyLayout = SAMPLE_CITY_SURVEY_LAYOUT,
    *,
    area_table: str = AREAS,
    tolerance_m: float = 50.0,
) -> SplitResult:
    return split_survey(
        con,
        layout,
        survey=raw.stem,
        raw_parquet=raw,
        quarantine_path=raw.parent.parent / "quarantine" / raw.name,
        conformed_path=raw.parent.parent / "conformed" / raw.name,
        area_table=area_table,
        projected_crs=PROJECTED_CRS,
        tolerance_m=tolerance_m,
        boundary_table=BOUNDARY,
    )


def quarantine_codes(con: duckdb.DuckDBPyConnection, path: Path) -> dict[int, list[str]]:
    rows = con.execute(
        f"SELECT _row_number, _reason_codes, _reason FROM read_parquet('{path}') ORDER BY 1"
    ).fetchall()
    for _, codes, reason in rows:
        assert reason == codes[0]
    return {n: codes for n, codes, _ in rows}


def conformed(con: duckdb.DuckDBPyConnection, result: SplitResult) -> list[dict[str, Any]]:
    rel = con.execute(f"SELECT * FROM read_parquet('{result.clean_path}')")
    names = [c[0] for c in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def answered(row: dict[str, str]) -> int:
    return sum(1 for q in QUESTIONS if row[q].strip())


# --- the split ---------------------------------------------------------------------------------


def test_each_planted_defect_gets_exactly_its_reason(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = split(con, land(tmp_path, [r for r, _ in CASES]))

    expected = {i: codes for i, (_, codes) in enumerate(CASES, start=1) if codes}
    assert quarantine_codes(con, result.quarantine_path) == expected
    planted = {c for _, codes in CASES for c in codes}
    assert planted == {
        "missing_key",
        "coordinates_missing",
        "area_unknown",
        "out_of_jurisdiction",
        "value_invalid",
        "duplicate_record",
    }
    assert planted <= set(REASON_CODES)
    first: dict[str, int] = {}
    for _, codes in CASES:
        if codes:
            first[codes[0]] = first.get(codes[0], 0) + 1
    assert result.by_reason == first


def test_rows_reconcile_raw_equals_accepted_plus_quarantined(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = split(con, land(tmp_path, [r for r, _ in CASES]))

    accepted = [i for i, (_, codes) in enumerate(CASES, start=1) if not codes]
    (in_conformed,) = con.execute(
        f"SELECT count(DISTINCT _row_number) FROM read_parquet('{result.clean_path}')"
    ).fetchone()
    (quarantined,) = con.execute(
        f"SELECT count(*) FROM read_parquet('{result.quarantine_path}')"
    ).fetchone()
    assert result.raw_rows == len(CASES)
    assert (result.clean_rows, in_conformed) == (len(accepted), len(accepted))
    assert quarantined == result.quarantined_rows == len(CASES) - len(accepted)
    assert result.balanced


def test_conformed_has_one_row_per_answered_question(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = split(con, land(tmp_path, [r for r, _ in CASES]))

    per_row: dict[int, int] = {}
    for row in conformed(con, result):
        per_row[row["_row_number"]] = per_row.get(row["_row_number"], 0) + 1
    expected = {i: answered(r) for i, (r, codes) in enumerate(CASES, start=1) if not codes}
    assert per_row == expected
    assert expected[1] == 4 and expected[7] == 7  # unanswered questions give no row


def test_conformed_columns_types_and_values(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    result = split(con, land(tmp_path, [r for r, _ in CASES[:2]]))

    schema = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{result.clean_path}')").fetchall()
    assert [(c[0], c[1]) for c in schema] == [
        ("survey", "VARCHAR"),
        ("response_id", "VARCHAR"),
        ("submitted_on", "DATE"),
        ("area_key", "VARCHAR"),
        ("longitude", "DOUBLE"),
        ("latitude", "DOUBLE"),
        ("weight", "DOUBLE"),
        ("question", "VARCHAR"),
        ("answer_value", "DOUBLE"),
        ("answer_positive", "BOOLEAN"),
        ("_source_file", "VARCHAR"),
        ("_row_number", "BIGINT"),
        ("_ingested_at", "TIMESTAMP WITH TIME ZONE"),
        ("_load_id", "VARCHAR"),
    ]
    assert tuple(c[0] for c in schema) == CONFORMED_COLUMNS
    rows = conformed(con, result)
    first = rows[0]
    assert (first["survey"], first["response_id"], str(first["submitted_on"])) == (
        "survey_2024",
        "r1",
        "2024-05-01",
    )
    assert (first["area_key"], first["longitude"], first["latitude"]) == (None, -122.37, 47.62)
    assert (first["_source_file"], first["_load_id"]) == ("survey_2024.csv", "load-1")
    assert [(r["question"], r["answer_value"], r["answer_positive"]) for r in rows[:4]] == [
        ("feel_safe_day", 4.0, True),
        ("feel_safe_night", 2.0, False),
        ("unmet_need_housing", 1.0, True),
        ("unmet_need_food", 0.0, False),
    ]
    by_area = rows[4]
    assert (by_area["area_key"], by_area["longitude"], by_area["latitude"]) == (EAST_ID, None, None)


def test_area_placed_point_outside_lon_lat_range_is_no_point(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # State Plane feet beside a tract id: accepted by the area, but not written as WGS84.
    row = respondent("r1", tract_geoid=WEST_ID, latitude="220000", longitude="1270000")
    result = split(con, land(tmp_path, [row]))
    points = {(r["area_key"], r["longitude"], r["latitude"]) for r in conformed(con, result)}
    assert points == {(WEST_ID, None, None)}


def test_answer_positive_per_scale_with_defaults(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [
        respondent(f"r{v}", feel_safe_day=v, unmet_need_housing=yes_no)
        for v, yes_no in (("1", "no"), ("3", "N"), ("4", "YES"), ("5", "true"), ("5.0", "0"))
    ]
    result = split(con, land(tmp_path, rows))

    got = {
        (r["response_id"], r["question"]): (r["answer_value"], r["answer_positive"])
        for r in conformed(con, result)
    }
    likert = [got[(f"r{v}", "feel_safe_day")] for v in ("1", "3", "4", "5", "5.0")]
    assert likert == [(1.0, False), (3.0, False), (4.0, True), (5.0, True), (5.0, True)]
    yes_no = [got[(f"r{v}", "unmet_need_housing")] for v in ("1", "3", "4", "5", "5.0")]
    assert yes_no == [(0.0, False), (0.0, False), (1.0, True), (1.0, True), (0.0, False)]


def test_answer_positive_follows_the_layouts_positive_values(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    layout = parse_survey_layout(
        {
            "response_id": "response_id",
            "submitted": "submitted_at",
            "longitude": "longitude",
            "latitude": "latitude",
            "questions": {
                "afraid": {"column": "feel_safe_day", "scale": "likert5", "positive": [1, 2]},
                "housed": {"column": "unmet_need_housing", "scale": "yes_no", "positive": "No"},
            },
        },
        "custom.yml",
    )
    rows = [respondent("a", feel_safe_day="2"), respondent("b", feel_safe_day="4")]
    rows[1]["unmet_need_housing"] = "No"
    result = split(con, land(tmp_path, rows), layout)

    got = [(r["response_id"], r["question"], r["answer_positive"]) for r in conformed(con, result)]
    assert got == [
        ("a", "afraid", True),
        ("a", "housed", False),
        ("b", "afraid", False),
        ("b", "housed", True),
    ]


def test_weight_defaults_to_one_without_a_weight_column(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    columns = tuple(c for c in SAMPLE_CITY_SURVEY_COLUMNS if c != "weight")
    rows = [{c: v for c, v in respondent(f"r{i}").items() if c != "weight"} for i in (1, 2)]
    unweighted = parse_survey_layout(
        {
            "response_id": "response_id",
            "submitted": {"column": "submitted_at"},
            "area": "tract_geoid",
            "longitude": "longitude",
            "latitude": "latitude",
            "questions": {"feel_safe_day": {"scale": "likert5"}},
        },
        "unweighted.yml",
    )
    result = split(con, land(tmp_path, rows, columns), unweighted)
    assert [r["weight"] for r in conformed(con, result)] == [1.0, 1.0]

    weighted = split(con, land(tmp_path, [respondent("r1")], name="weighted"))
    assert {r["weight"] for r in conformed(con, weighted)} == {1.5}


def test_area_ids_are_normalized_before_lookup(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    ids = ("1400000US53033000100", " 53033000200 ", "1001020100", "53-033-000100")
    rows = [
        respondent(f"r{i}", tract_geoid=v, latitude="", longitude="") for i, v in enumerate(ids)
    ]
    result = split(con, land(tmp_path, rows))

    keys = {r["response_id"]: r["area_key"] for r in conformed(con, result)}
    assert keys == {"r0": WEST_ID, "r1": EAST_ID, "r2": PADDED_ID, "r3": WEST_ID}
    assert result.quarantined_rows == 0


def test_code_area_ids(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE test_survey_codes AS "
        "SELECT * FROM (VALUES ('9'), ('NE-1')) AS t(area_key)"
    )
    layout = parse_survey_layout(
        {
            "response_id": "response_id",
            "submitted": "submitted_at",
            "area": "tract_geoid",
            "area_id_kind": "code",
            "questions": {"feel_safe_day": {"scale": "likert5"}},
        },
        "codes.yml",
    )
    rows = [respondent(f"r{i}", tract_geoid=v) for i, v in enumerate(("009", " ne-1 ", "90"))]
    result = split(con, land(tmp_path, rows), layout, area_table="test_survey_codes")

    assert {r["response_id"]: r["area_key"] for r in conformed(con, result)} == {
        "r0": "9",
        "r1": "NE-1",
    }
    assert quarantine_codes(con, result.quarantine_path) == {3: ["area_unknown"]}


@pytest.mark.parametrize(
    ("raw", "kind", "key"),
    [
        ("53033000100", "geoid", "53033000100"),
        ("1400000US53033000100", "geoid", "53033000100"),
        ("14000US53033000100", "geoid", "53033000100"),
        ("1001020100", "geoid", "01001020100"),
        (" 53033000100 ", "geoid", "53033000100"),
        ("tract", "geoid", None),
        ("", "geoid", None),
        (None, "geoid", None),
        ("009", "code", "9"),
        ("000", "code", "0"),
        (" ne-1 ", "code", "NE-1"),
        ("0A7", "code", "0A7"),
        ("  ", "code", None),
    ],
)
def test_area_key_python_and_sql_agree(
    con: duckdb.DuckDBPyConnection, raw: str | None, kind: str, key: str | None
) -> None:
    assert normalize_area_id(raw, kind) == key
    (sql_key,) = con.execute(
        f"SELECT {area_key_sql('CAST($v AS VARCHAR)', kind)}", {"v": raw}
    ).fetchone()
    assert sql_key == key


def test_answered_point_outside_tolerance_is_judged_in_metres(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    raw = land(tmp_path, [respondent("r1", latitude="47.651")])  # ~110 m north
    assert quarantine_codes(con, split(con, raw).quarantine_path) == {1: ["out_of_jurisdiction"]}
    assert quarantine_codes(con, split(con, raw, tolerance_m=200.0).quarantine_path) == {}


def test_quarantine_keeps_raw_columns_and_lineage_only(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    raw = land(tmp_path, [r for r, _ in CASES])
    result = split(con, raw)

    raw_schema = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{raw}')").fetchall()
    q_schema = con.execute(
        f"DESCRIBE SELECT * FROM read_parquet('{result.quarantine_path}')"
    ).fetchall()
    assert [(c[0], c[1]) for c in q_schema] == [(c[0], c[1]) for c in raw_schema] + [
        ("_reason_codes", "VARCHAR[]"),
        ("_reason", "VARCHAR"),
    ]
    got = con.execute(
        f"SELECT feel_safe_day, _source_file FROM read_parquet('{result.quarantine_path}') "
        "WHERE response_id = 'r17'"
    ).fetchall()
    assert got == [("6", "survey_2024.csv")]


def test_missing_column_fails_naming_file_and_columns(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    columns = tuple(c for c in SAMPLE_CITY_SURVEY_COLUMNS if c not in ("weight", "feel_safe_night"))
    rows = [{c: respondent("r1")[c] for c in columns}]
    raw = land(tmp_path, rows, columns)
    with pytest.raises(ValueError, match=r"survey_2024\.parquet") as err:
        split(con, raw)
    assert "'feel_safe_night'" in str(err.value) and "'weight'" in str(err.value)
    assert not (tmp_path / "quarantine").exists()


def test_copies_are_judged_within_one_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # Two waves reuse response ids; one raw file holds both.
    spring = land(tmp_path, [respondent("r1"), respondent("r1")], name="spring")
    autumn = land(tmp_path, [respondent("r1")], name="autumn")
    both = tmp_path / "raw" / "waves.parquet"
    con.execute(
        f"COPY (SELECT * FROM read_parquet(['{spring}', '{autumn}'])) TO '{both}' (FORMAT parquet)"
    )
    result = split(con, both)
    got = con.execute(
        f"SELECT _source_file, _row_number, _reason FROM read_parquet('{result.quarantine_path}')"
    ).fetchall()
    assert got == [("spring.csv", 2, "duplicate_record")]
    assert result.clean_rows == 2


# --- layouts -----------------------------------------------------------------------------------


def test_sample_layout_reads_the_sample_columns() -> None:
    layout = SAMPLE_CITY_SURVEY_LAYOUT
    assert set(layout.read_columns) == set(SAMPLE_CITY_SURVEY_COLUMNS)
    assert (layout.response_id, layout.submitted, layout.area, layout.area_id_kind) == (
        "response_id",
        "submitted_at",
        "tract_geoid",
        "geoid",
    )
    assert (layout.longitude, layout.latitude, layout.weight) == ("longitude", "latitude", "weight")
    scales = {q.name: (q.column, q.scale, q.positive) for q in layout.questions}
    assert scales == {
        "feel_safe_day": ("feel_safe_day", "likert5", (4, 5)),
        "feel_safe_night": ("feel_safe_night", "likert5", (4, 5)),
        **{q: (q, "yes_no", (1,)) for q in QUESTIONS[2:]},
    }


def test_layout_defaults() -> None:
    layout = parse_survey_layout(
        {
            "response_id": "id",
            "submitted": {"column": "date"},
            "area": "tract",
            "questions": {"q": {"column": "Q1", "scale": "yes_no"}},
        },
        "city.yml",
    )
    assert layout.submitted_formats == ("%Y-%m-%d", "%m/%d/%Y")
    assert (layout.area_id_kind, layout.weight, layout.longitude) == ("auto", None, None)
    assert layout.questions[0].positive == (1,)
    assert layout.read_columns == ("id", "date", "tract", "Q1")


VALID: dict[str, Any] = {
    "response_id": "id",
    "submitted": "date",
    "area": "tract",
    "questions": {"q": {"scale": "likert5"}},
}


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"response_id": None}, "'response_id'"),
        ({"submitted": None}, "'submitted'"),
        ({"submitted": {"formats": ["%Y"]}}, "'column'"),
        ({"submitted": {"column": "date", "formats": []}}, "submitted.formats"),
        ({"area_id_kind": "fips"}, "area_id_kind"),
        ({"questions": {}}, "'questions'"),
        ({"questions": {"q": {"scale": "likert7"}}}, "questions.q.scale"),
        ({"questions": {"q": {}}}, "questions.q: missing required key 'scale'"),
        ({"questions": {"q": {"scale": "likert5", "positive": [5, 6]}}}, "questions.q.positive"),
        ({"questions": {"q": {"scale": "yes_no", "positive": "often"}}}, "questions.q.positive"),
        ({"questions": {"q": {"scale": "yes_no", "colum": "x"}}}, "'colum'"),
        ({"longitude": "lon"}, "'longitude' and 'latitude'"),
        ({"area": None}, "'area' or 'longitude'"),
        ({"weight": ""}, "city.yml.weight"),
        ({"wieght": "w"}, "'wieght'"),
        ({"response_id": "CM_id"}, "reserved"),
    ],
)
def test_layout_errors_name_the_file_and_key(change: dict[str, Any], names: str) -> None:
    mapping = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    with pytest.raises(ValueError, match=r"^city\.yml") as err:
        parse_survey_layout(mapping, "city.yml")
    assert names in str(err.value)


def test_layout_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match=re.escape("city.yml: a survey layout must be a mapping")):
        parse_survey_layout(["response_id"], "city.yml")  # type: ignore[arg-type]


# --- the inbox ---------------------------------------------------------------------------------


def test_inbox_files_lists_csvs_directly_in_the_inbox(tmp_path: Path) -> None:
    for name in ("b.csv", "a.CSV", ".a.csv", "~c.csv", "c.csv.part", "notes.txt"):
        (tmp_path / name).write_text("response_id\n1\n")
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "old.csv").write_text("response_id\n1\n")
    (tmp_path / "dir.csv").mkdir()

    assert [p.name for p in inbox_files(tmp_path)] == ["a.CSV", "b.csv"]
    assert inbox_files(tmp_path / "missing") == []


def test_inbox_fingerprint_changes_with_the_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("response_id\n1\n")
    b.write_text("response_id\n2\n")
    base = inbox_fingerprint(inbox_files(tmp_path))
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert inbox_fingerprint([b, a]) == base  # order does not matter

    (tmp_path / ".a.csv").write_text("half written")
    (tmp_path / "c.csv.part").write_text("half written")
    assert inbox_fingerprint(inbox_files(tmp_path)) == base  # temp files are not surveys

    b.write_text("response_id\n3\n")  # same size, new content
    edited = inbox_fingerprint(inbox_files(tmp_path))
    assert edited != base

    b.rename(tmp_path / "d.csv")
    renamed = inbox_fingerprint(inbox_files(tmp_path))
    assert renamed not in (base, edited)

    (tmp_path / "e.csv").write_text("response_id\n")
    assert inbox_fingerprint(inbox_files(tmp_path)) not in (base, edited, renamed)
    assert inbox_fingerprint([]) != base


def wave(path: Path, *ids: str) -> Path:
    path.write_text("response_id,submitted,area\n" + "".join(f"{i},2025-03-01,A\n" for i in ids))
    return path


INBOX_LAYOUT = SurveyLayout(
    response_id="response_id", submitted="submitted", questions=(), area="area"
)


def test_a_byte_identical_copy_lands_once_and_is_reported(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wave(inbox / "wave1.csv", "1", "2", "3")
    wave(inbox / "wave1 (copy).csv", "1", "2", "3")
    wave(inbox / "wave2.csv", "4")
    raw = tmp_path / "raw"

    landing = land_survey_inbox(inbox_files(inbox), INBOX_LAYOUT, raw, load_id="L1")

    assert landing.rows == {"wave1": 3, "wave2": 1}
    assert landing.duplicates == {"wave1 (copy).csv": "wave1.csv"}
    assert sorted(p.name for p in raw.iterdir()) == ["wave1.parquet", "wave2.parquet"]


def test_two_files_landing_as_one_survey_are_refused_by_name(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wave(inbox / "wave2.csv", "1", "2")
    wave(inbox / "wave2.CSV", "3")

    with pytest.raises(ValueError, match=r"^wave2\.CSV and wave2\.csv differ but would land as"):
        land_survey_inbox(inbox_files(inbox), INBOX_LAYOUT, tmp_path / "raw", load_id="L1")
    assert not (tmp_path / "raw").exists()  # nothing landed, nothing overwritten


def test_a_withdrawn_wave_is_removed_at_the_next_landing(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    raw = tmp_path / "raw"
    wave(inbox / "wave1.csv", "1")
    second = wave(inbox / "wave2.csv", "2")
    land_survey_inbox(inbox_files(inbox), INBOX_LAYOUT, raw, load_id="L1")

    second.unlink()
    landing = land_survey_inbox(inbox_files(inbox), INBOX_LAYOUT, raw, load_id="L2")

    assert landing.rows == {"wave1": 1}
    assert [p.name for p in raw.iterdir()] == ["wave1.parquet"]


def test_a_city_without_a_survey_layout_splits_its_empty_stand_in(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """No layout, empty inbox: the zero-row stand-in splits into an empty answers file of the
    contract's columns and types, so the survey marts stay defined."""
    raw = land(tmp_path, [], columns=NO_SURVEY_LAYOUT.read_columns, name="no_surveys")

    result = split(con, raw, NO_SURVEY_LAYOUT)

    assert (result.raw_rows, result.clean_rows, result.quarantined_rows) == (0, 0, 0)
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{result.clean_path}')")
    types = {name: kind for name, kind, *_ in described.fetchall()}
    assert tuple(types) == CONFORMED_COLUMNS
    assert (types["answer_value"], types["answer_positive"]) == ("DOUBLE", "BOOLEAN")
