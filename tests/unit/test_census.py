"""ACS indicators: GEOIDs, Census sentinels, derived margins, and the quarantine split."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from crimemap.ingestion.census import (
    DEFAULT_CV_THRESHOLD_PCT,
    SENTINELS,
    SOCIAL_SERVICES_TABLE_SET,
    AcsIndicator,
    api_columns,
    check_table_set,
    cv_pct,
    estimate_sql,
    geoid_from_parts,
    geoid_from_parts_sql,
    geoid_sql,
    invalid_number_sql,
    is_unreliable,
    margin_sql,
    normalize_geoid,
    parse_estimate,
    parse_margin,
    proportion,
    proportion_moe,
    proportion_moe_sql,
    sum_moe,
)
from crimemap.ingestion.landing import land_census_json
from crimemap.quality.census import CONFORMED_COLUMNS, split_acs
from crimemap.quality.rules import SplitResult

TABLE_SET = SOCIAL_SERVICES_TABLE_SET
COLUMNS = api_columns(TABLE_SET)
INGESTED_AT = datetime(2024, 6, 1, tzinfo=UTC)
# ACS General Handbook (2018), proportion example: never-married females / all females.
NEVER_MARRIED, NEVER_MARRIED_MOE = 203_119, 5_070
FEMALES, FEMALES_MOE = 630_498, 831
UNDER_18_CELLS = [v for i in TABLE_SET if i.name == "under_18" for v in i.variables]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> Any:
    row = con.execute(f"SELECT {sql}", list(params)).fetchone()
    assert row is not None
    return row[0]


def apply_sql(con: duckdb.DuckDBPyConnection, builder: Any, *texts: str | None) -> Any:
    """``builder`` (a SQL builder over text expressions) applied to ``texts`` in DuckDB."""
    columns = [f"t.v{i}" for i in range(len(texts))]
    bound = ", ".join(f"CAST(? AS VARCHAR) AS v{i}" for i in range(len(texts)))
    return scalar(con, f"{builder(*columns)} FROM (SELECT {bound}) AS t", *texts)


# --- GEOIDs ------------------------------------------------------------------------------------

GEOID_CASES = [
    ("14000US53033000100", "53033000100"),
    ("1400000US53033000100", "53033000100"),
    ("1400000US06037101110", "06037101110"),
    ("1400000us06037101110", "06037101110"),
    ("6037101110", "06037101110"),  # a spreadsheet dropped the leading zero
    ("53033000100", "53033000100"),
    (" 53-033-000100 ", "53033000100"),
    ("153033000100", "53033000100"),  # longer: the trailing 11 digits
    # Only the digits after "US" count: the summary level's never leak into a short id.
    ("0500000US53033", "00000053033"),
    ("", None),
    ("   ", None),
    ("N/A", None),
    (None, None),
]


@pytest.mark.parametrize(("text", "expected"), GEOID_CASES)
def test_normalize_geoid(text: str | None, expected: str | None) -> None:
    assert normalize_geoid(text) == expected


def test_geoid_sql_matches_normalize_geoid(con: duckdb.DuckDBPyConnection) -> None:
    for text, expected in GEOID_CASES:
        assert apply_sql(con, geoid_sql, text) == expected, text


PART_CASES = [
    (("53", "033", "000100"), "53033000100"),
    (("6", "37", "101110"), "06037101110"),  # padding restored per part
    (("53", "33", "100"), "53033000100"),
    (("53", "0033", "000100"), "53033000100"),  # an extra leading zero is harmless
    (("53", "1033", "000100"), None),  # a county of four significant digits is no county
    (("53", "033", ""), None),
    (("53", None, "000100"), None),
]


@pytest.mark.parametrize(("parts", "expected"), PART_CASES)
def test_geoid_from_parts(parts: tuple[str | None, ...], expected: str | None) -> None:
    assert geoid_from_parts(*parts) == expected


def test_geoid_from_parts_sql_matches_python(con: duckdb.DuckDBPyConnection) -> None:
    for parts, expected in PART_CASES:
        assert apply_sql(con, geoid_from_parts_sql, *parts) == expected, parts


# --- sentinels and formulas --------------------------------------------------------------------


@pytest.mark.parametrize("sentinel", sorted(SENTINELS))
def test_every_sentinel_estimate_is_missing(con: duckdb.DuckDBPyConnection, sentinel: int) -> None:
    assert parse_estimate(str(sentinel)) is None
    assert apply_sql(con, estimate_sql, str(sentinel)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-555555555", 0.0),  # controlled: no sampling error
        ("-222222222", None),
        ("-333333333", None),
        ("-666666666", None),
        ("-888888888", None),
        ("-999999999", None),
        ("412", 412.0),
        ("0", 0.0),
        ("", None),
        (None, None),
    ],
)
def test_margin_sentinels(
    con: duckdb.DuckDBPyConnection, text: str | None, expected: float | None
) -> None:
    assert parse_margin(text) == expected
    assert apply_sql(con, margin_sql, text) == expected


@pytest.mark.parametrize(
    ("text", "value"), [("1234", 1234.0), (" 0 ", 0.0), ("87.5", 87.5), ("", None)]
)
def test_estimates_that_are_numbers(
    con: duckdb.DuckDBPyConnection, text: str, value: float | None
) -> None:
    assert parse_estimate(text) == value
    assert apply_sql(con, estimate_sql, text) == value
    assert apply_sql(con, invalid_number_sql, text) is False


@pytest.mark.parametrize("text", ["N/A", "abc", "1,234", "nan", "inf", "12 345"])
def test_a_cell_that_is_not_a_number_is_invalid(con: duckdb.DuckDBPyConnection, text: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_estimate(text)
    assert apply_sql(con, invalid_number_sql, text) is True
    assert apply_sql(con, estimate_sql, text) is None


def sql_proportion_moe(
    con: duckdb.DuckDBPyConnection, num: float, num_moe: float, den: float, den_moe: float
) -> float | None:
    sql = proportion_moe_sql("t.num", "t.num_moe", "t.den", "t.den_moe")
    return scalar(
        con,
        f"{sql} FROM (SELECT ?::DOUBLE AS num, ?::DOUBLE AS num_moe, "
        "?::DOUBLE AS den, ?::DOUBLE AS den_moe) AS t",
        num,
        num_moe,
        den,
        den_moe,
    )


def test_proportion_moe_matches_the_acs_handbook_example(con: duckdb.DuckDBPyConnection) -> None:
    # Handbook: p = 203,119 / 630,498 = 0.3222, MOE(p) = ±0.0080.
    p = proportion(NEVER_MARRIED, FEMALES)
    moe = proportion_moe(NEVER_MARRIED, NEVER_MARRIED_MOE, FEMALES, FEMALES_MOE)
    assert p is not None and moe is not None
    assert round(p, 4) == 0.3222
    assert round(moe, 4) == 0.0080
    by_hand = math.sqrt(NEVER_MARRIED_MOE**2 - p**2 * FEMALES_MOE**2) / FEMALES
    assert moe == pytest.approx(by_hand, rel=1e-12)
    sql_moe = sql_proportion_moe(con, NEVER_MARRIED, NEVER_MARRIED_MOE, FEMALES, FEMALES_MOE)
    assert sql_moe == pytest.approx(moe, rel=1e-12)


def test_proportion_moe_falls_back_to_the_ratio_formula(con: duckdb.DuckDBPyConnection) -> None:
    # p = 0.5: 20² - 0.25 * 50² < 0, so the handbook's "+" form applies: sqrt(400 + 625) / 20.
    expected = math.sqrt(20**2 + 0.5**2 * 50**2) / 20
    assert proportion_moe(10, 20, 20, 50) == pytest.approx(expected)
    assert sql_proportion_moe(con, 10, 20, 20, 50) == pytest.approx(expected)


def test_proportion_of_a_zero_or_missing_denominator_is_missing(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert proportion(5, 0) is None
    assert proportion(5, None) is None
    assert proportion_moe(5, 3, 0, 2) is None
    assert sql_proportion_moe(con, 5, 3, 0, 2) is None


def test_sum_moe_is_the_root_of_summed_squares() -> None:
    assert sum_moe([3.0, 4.0, 0.0]) == 5.0
    assert sum_moe([12.0]) == 12.0
    assert sum_moe([3.0, None]) is None


def test_cv_and_the_unreliable_flag() -> None:
    # cv = moe / 1.645 / estimate * 100
    assert cv_pct(1000, 329) == pytest.approx(20.0)
    assert cv_pct(100, 82.25) == pytest.approx(50.0)
    assert cv_pct(0, 12) is None
    assert not is_unreliable(1000, 329)
    assert is_unreliable(100, 82.25)
    assert not is_unreliable(100, 82.25, threshold_pct=60.0)
    assert is_unreliable(None, 10)
    assert not is_unreliable(0, 12)  # "none counted" has no CV and is not flagged
    assert DEFAULT_CV_THRESHOLD_PCT == 30.0


def test_check_table_set_refuses_a_proportion_of_unknown_parts() -> None:
    check_table_set(TABLE_SET)
    broken = (
        AcsIndicator("population", "count", "", ("B01003_001",)),
        AcsIndicator("share", "proportion", "", numerator="missing", denominator="population"),
    )
    with pytest.raises(ValueError, match="'missing' is not a count indicator"):
        check_table_set(broken)


# --- the split ---------------------------------------------------------------------------------

GEO_COLUMNS = ("state", "county", "tract")


def unit(geo_id: str | None, tract: str = "000100", **cells: str | None) -> dict[str, str | None]:
    """One published tract: every estimate 100 and margin 10 unless given."""
    row: dict[str, str | None] = {"NAME": f"Census Tract {tract}", "GEO_ID": geo_id}
    for column in COLUMNS:
        row[column] = "100" if column.endswith("E") else "10"
    row.update({"state": "53", "county": "033", "tract": tract})
    row.update(cells)
    return row


def land(tmp_path: Path, rows: list[dict[str, str | None]], *, drop: tuple[str, ...] = ()) -> Path:
    """Census API JSON of ``rows`` landed as raw Parquet (the pipeline's own landing)."""
    header = [c for c in ("NAME", "GEO_ID", *COLUMNS, *GEO_COLUMNS) if c not in drop]
    doc = [header, *([row.get(c) for c in header] for row in rows)]
    source = tmp_path / "acs_5yr_tract.json"
    source.write_text(json.dumps(doc))
    raw = tmp_path / "raw" / "area_indicators.parquet"
    land_census_json(source, raw, load_id="acs-1", ingested_at=INGESTED_AT)
    return raw


def split(con: duckdb.DuckDBPyConnection, raw: Path, **kwargs: Any) -> SplitResult:
    out = raw.parent.parent
    return split_acs(
        con,
        TABLE_SET,
        raw_parquet=raw,
        quarantine_path=out / "quarantine" / "area_indicators.parquet",
        conformed_path=out / "conformed" / "area_indicators.parquet",
        **kwargs,
    )


def indicators(con: duckdb.DuckDBPyConnection, result: SplitResult) -> dict[tuple[str, str], dict]:
    assert result.clean_path is not None
    rel = con.execute(f"SELECT * FROM read_parquet('{result.clean_path}')")
    names = [d[0] for d in rel.description]
    rows = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
    return {(r["geoid"], r["indicator"]): r for r in rows}


def quarantined(con: duckdb.DuckDBPyConnection, result: SplitResult) -> dict[int, list[str]]:
    rows = con.execute(
        f"SELECT _row_number, _reason_codes FROM read_parquet('{result.quarantine_path}')"
    ).fetchall()
    return dict(rows)


def test_conformed_schema_is_the_contract(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    result = split(con, land(tmp_path, [unit("1400000US53033000100")]))
    described = con.execute(
        f"DESCRIBE SELECT * FROM read_parquet('{result.clean_path}')"
    ).fetchall()
    assert [(name, kind) for name, kind, *_ in described] == [
        ("geoid", "VARCHAR"),
        ("geography_name", "VARCHAR"),
        ("indicator", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("label", "VARCHAR"),
        ("estimate", "DOUBLE"),
        ("moe", "DOUBLE"),
        ("cv_pct", "DOUBLE"),
        ("unreliable", "BOOLEAN"),
        ("numerator", "VARCHAR"),
        ("denominator", "VARCHAR"),
        ("_source_file", "VARCHAR"),
        ("_row_number", "BIGINT"),
        ("_ingested_at", "TIMESTAMP WITH TIME ZONE"),
        ("_load_id", "VARCHAR"),
    ]
    assert tuple(name for name, *_ in described) == CONFORMED_COLUMNS
    rows = con.execute(
        f"SELECT indicator, kind, numerator, denominator, _source_file, _row_number, _load_id "
        f"FROM read_parquet('{result.clean_path}')"
    ).fetchall()
    assert [r[0] for r in rows] == [i.name for i in TABLE_SET]
    assert [r[1] for r in rows] == [i.kind for i in TABLE_SET]
    assert rows[3][2:4] == ("below_poverty", "poverty_universe")
    assert rows[0][2:4] == (None, None)
    assert {r[4:] for r in rows} == {("acs_5yr_tract.json", 1, "acs-1")}


def test_indicator_values_margins_and_reliability(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    under_18 = {f"{v}E": "10" for v in UNDER_18_CELLS} | {f"{v}M": "0" for v in UNDER_18_CELLS}
    under_18 |= {f"{UNDER_18_CELLS[0]}M": "3", f"{UNDER_18_CELLS[5]}M": "4"}
    rows = [
        unit(
            "1400000US53033000100",
            B17001_001E=str(FEMALES),
            B17001_001M=str(FEMALES_MOE),
            B17001_002E=str(NEVER_MARRIED),
            B17001_002M=str(NEVER_MARRIED_MOE),
            B01003_001E="1000",
            B01003_001M="329",  # CV 20: reliable
            B23025_003E="100",
            B23025_003M="82.25",  # CV 50: unreliable
            B19013_001E="-666666666",  # median not computed
            B19013_001M="-222222222",
            **under_18,
        ),
        unit(
            "1400000US53033000200",
            tract="000200",
            B01003_001E="0",
            B01003_001M="12",  # zero estimate: no CV, not flagged
            B01001_001E="250",
            B01001_001M="-555555555",  # controlled: exact
            B23025_005E="-999999999",  # the numerator of unemployment_rate missing
        ),
    ]
    got = indicators(con, split(con, land(tmp_path, rows)))
    a, b = "53033000100", "53033000200"

    rate = got[(a, "poverty_rate")]
    assert rate["estimate"] == pytest.approx(NEVER_MARRIED / FEMALES)
    assert round(rate["moe"], 4) == 0.0080
    assert rate["cv_pct"] == pytest.approx(rate["moe"] / 1.645 / rate["estimate"] * 100)
    assert rate["unreliable"] is False

    kids = got[(a, "under_18")]
    assert (kids["estimate"], kids["moe"]) == (80.0, 5.0)  # 8 cells; sqrt(3² + 4²)

    population = got[(a, "population")]
    assert population["cv_pct"] == pytest.approx(20.0)
    assert population["unreliable"] is False
    labor = got[(a, "labor_force")]
    assert labor["cv_pct"] == pytest.approx(50.0)
    assert labor["unreliable"] is True

    income = got[(a, "median_household_income")]
    assert (income["estimate"], income["moe"], income["cv_pct"]) == (None, None, None)
    assert income["unreliable"] is True

    empty = got[(b, "population")]
    assert (empty["estimate"], empty["moe"], empty["cv_pct"]) == (0.0, 12.0, None)
    assert empty["unreliable"] is False
    assert got[(b, "age_total")]["moe"] == 0.0
    assert got[(b, "age_total")]["cv_pct"] == 0.0
    unemployment = got[(b, "unemployment_rate")]
    assert unemployment["estimate"] is None
    assert unemployment["unreliable"] is True
    # The age shares divide by age_total (250, moe 0): only the numerator's error remains.
    share = got[(b, "share_under_18")]
    assert share["estimate"] == pytest.approx(800 / 250)
    assert share["moe"] == pytest.approx(math.sqrt(8 * 10**2) / 250)


def test_a_sum_with_one_missing_cell_is_missing(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    row = unit("1400000US53033000100", **{f"{UNDER_18_CELLS[2]}E": "-666666666"})
    got = indicators(con, split(con, land(tmp_path, [row])))
    assert got[("53033000100", "under_18")]["estimate"] is None
    assert got[("53033000100", "under_18")]["unreliable"] is True
    assert got[("53033000100", "share_under_18")]["estimate"] is None


def test_cv_threshold_is_a_parameter(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    row = unit("1400000US53033000100", B23025_003E="100", B23025_003M="82.25")
    got = indicators(con, split(con, land(tmp_path, [row]), cv_threshold_pct=60.0))
    assert got[("53033000100", "labor_force")]["unreliable"] is False
    with pytest.raises(ValueError, match="cv_threshold_pct"):
        split(con, land(tmp_path, [row]), cv_threshold_pct=0)


def test_quarantine_reasons_and_reconciliation(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [
        unit("1400000US53033000100"),  # 1 kept
        unit("", state="", county="", tract=""),  # 2 no GEOID at all
        unit("1400000US53033000200", tract="000200", B01003_001E="N/A"),  # 3 not a number
        unit("1400000US53033000300", tract="000300", B19013_001M="abc"),  # 4 margin not a number
        unit("14000US53033000100"),  # 5 the same tract as row 1, other GEO_ID form
        unit(None, tract="000400"),  # 6 kept: GEO_ID null, geography columns give the GEOID
        unit("1400000US53033000400", tract="000400", B01003_001E="x"),  # 7 copy of 6, defective
        unit("1400000US53033000500", tract="000500", B01003_001E="-888888888"),  # 8 kept
    ]
    raw = land(tmp_path, rows)
    result = split(con, raw)
    assert quarantined(con, result) == {
        2: ["missing_key"],
        3: ["value_invalid"],
        4: ["value_invalid"],
        5: ["duplicate_record"],
        7: ["value_invalid"],  # a defective copy carries only its defect
    }
    assert result.by_reason == {"missing_key": 1, "duplicate_record": 1, "value_invalid": 3}
    assert (result.raw_rows, result.clean_rows, result.quarantined_rows) == (8, 3, 5)
    assert result.balanced
    # Reconcile from the files themselves: raw = accepted raw rows + quarantined rows.
    raw_rows = scalar(con, f"count(*) FROM read_parquet('{raw}')")
    accepted = scalar(con, f"count(DISTINCT _row_number) FROM read_parquet('{result.clean_path}')")
    rejected = scalar(con, f"count(*) FROM read_parquet('{result.quarantine_path}')")
    assert raw_rows == accepted + rejected == 8
    conformed = scalar(con, f"count(*) FROM read_parquet('{result.clean_path}')")
    assert conformed == accepted * len(TABLE_SET)
    geoids = con.execute(
        f"SELECT DISTINCT geoid, _row_number FROM read_parquet('{result.clean_path}') ORDER BY 2"
    ).fetchall()
    assert geoids == [("53033000100", 1), ("53033000400", 6), ("53033000500", 8)]


def test_quarantine_keeps_raw_columns_only(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    result = split(con, land(tmp_path, [unit(""), unit("")]))
    names = [
        d[0]
        for d in con.execute(
            f"SELECT * FROM read_parquet('{result.quarantine_path}') LIMIT 0"
        ).description
    ]
    assert names == [
        "NAME",
        "GEO_ID",
        *COLUMNS,
        *GEO_COLUMNS,
        "_source_file",
        "_row_number",
        "_ingested_at",
        "_load_id",
        "_reason_codes",
        "_reason",
    ]


def test_geography_columns_without_geo_id(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rows = [unit(None, tract="100"), unit(None, tract="1011.10")]
    rows[0] |= {"state": "53", "county": "33"}
    rows[1] |= {"state": "6", "county": "37"}
    result = split(con, land(tmp_path, rows, drop=("GEO_ID", "NAME")))
    got = indicators(con, result)
    assert {geoid for geoid, _ in got} == {"53033000100", "06037101110"}
    assert got[("53033000100", "population")]["geography_name"] is None  # NAME is optional


def test_schema_drift_names_the_file_and_the_columns(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    raw = land(tmp_path, [unit("1400000US53033000100")], drop=("B17001_002M", "B01001_049E"))
    with pytest.raises(ValueError, match=r"area_indicators\.parquet") as caught:
        split(con, raw)
    assert "['B17001_002M', 'B01001_049E']" in str(caught.value)


def test_a_file_without_geography_is_refused(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    raw = land(tmp_path, [unit("1400000US53033000100")], drop=("GEO_ID", "tract"))
    with pytest.raises(ValueError, match=r"\['tract'\].*GEO_ID or state, county and tract"):
        split(con, raw)
