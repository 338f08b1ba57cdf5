"""Row-level rules and the quarantine split, on tiny raw landing files with one row per defect."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crimemap.ingestion.police.layout import builtin_layout
from crimemap.quality import rules as R
from crimemap.quality.layouts import LINEAGE_COLUMNS, SEATTLE_SPD_COLUMNS
from crimemap.quality.police import split_police
from crimemap.quality.rules import EventRuleSettings
from tests.support.boundaries import load_boundary

# Two adjacent 0.05° squares (~3.8 km x 5.6 km) sharing the edge lon = -122.35.
WEST = (-122.40, 47.60, -122.35, 47.65)
EAST = (-122.35, 47.60, -122.30, 47.65)
FIXED_NOW = "TIMESTAMPTZ '2024-06-01 00:00:00+00'"
# A raw areas landing as published: GeoJSON properties and the geometry as text.
AREA_COLUMNS: tuple[str, ...] = ("GEOID", "NAME", "geometry")
INGESTED_AT = datetime(2024, 6, 1, tzinfo=UTC)


# --- fixtures and builders ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    from crimemap.core.duckdb_spatial import connect

    connection = connect(extension_directory=tmp_path_factory.mktemp("duckdb_extensions"))
    yield connection
    connection.close()


def write_raw(path: Path, columns: tuple[str, ...], rows: list[dict[str, str | None]]) -> Path:
    """A raw landing file: every source column as a string, plus typed lineage."""
    n = len(rows)
    arrays = {c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns}
    arrays["_source_file"] = pa.array([path.stem + ".csv"] * n, pa.string())
    arrays["_row_number"] = pa.array(range(1, n + 1), pa.int64())
    arrays["_ingested_at"] = pa.array([INGESTED_AT] * n, pa.timestamp("us", tz="UTC"))
    arrays["_load_id"] = pa.array(["load-1"] * n, pa.string())
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [(c, pa.string()) for c in columns]
        + [
            ("_source_file", pa.string()),
            ("_row_number", pa.int64()),
            ("_ingested_at", pa.timestamp("us", tz="UTC")),
            ("_load_id", pa.string()),
        ]
    )
    pq.write_table(pa.table(arrays, schema=schema), path)
    return path


def square(bounds: tuple[float, float, float, float]) -> str:
    x0, y0, x1, y1 = bounds
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def areas_rows() -> list[dict[str, str | None]]:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[-122.2, 47.6], [-122.1, 47.7], [-122.1, 47.6], [-122.2, 47.7], [-122.2, 47.6]]
        ],
    }
    line = {"type": "LineString", "coordinates": [[-122.2, 47.6], [-122.1, 47.7]]}
    # Parses as a polygon but has no area: repair collapses it to a line.
    flat = {
        "type": "Polygon",
        "coordinates": [[[-122.0, 47.0], [-121.0, 48.0], [-120.0, 49.0], [-122.0, 47.0]]],
    }
    return [
        {"GEOID": "53033000100", "NAME": "West", "geometry": square(WEST)},
        {"GEOID": "53033000200", "NAME": "East", "geometry": square(EAST)},
        {"GEOID": "", "NAME": "no id", "geometry": square(WEST)},
        {"GEOID": "53033000300", "NAME": "broken json", "geometry": '{"type": "Polygon", "coord'},
        {"GEOID": "53033000400", "NAME": "line", "geometry": json.dumps(line)},
        {"GEOID": "53033000500", "NAME": "blank", "geometry": None},
        # Self-intersecting but repairable: the boundary keeps it, repaired.
        {"GEOID": "53033000600", "NAME": "bowtie", "geometry": json.dumps(bowtie)},
        {"GEOID": "53033000100", "NAME": "West", "geometry": square(WEST)},
        {"GEOID": "53033000700", "NAME": "flat", "geometry": json.dumps(flat)},
    ]


def spd_row(offense_id: str, **overrides: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "Report Number": "2024-000" + offense_id,
        "Offense ID": offense_id,
        "Offense Start DateTime": "05/01/2024 10:30:00 PM",
        "Offense End DateTime": "",
        "Report DateTime": "05/02/2024 08:00:00 AM",
        "Group A B": "A",
        "Crime Against Category": "PROPERTY",
        "Offense Parent Group": "LARCENY-THEFT",
        "Offense": "Theft From Motor Vehicle",
        "Offense Code": "23F",
        "Precinct": "W",
        "Sector": "Q",
        "Beat": "Q1",
        "MCPP": "MAGNOLIA",
        "100 Block Address": "1XX BLOCK OF MAIN ST",
        "Longitude": "-122.37",
        "Latitude": "47.62",
    }
    row.update(overrides)
    return row


# (row, exact expected reason codes); [] = clean. Row numbers follow list order, 1-based.
POLICE_CASES: list[tuple[dict[str, str | None], list[str]]] = [
    (spd_row("1"), []),
    (spd_row("2", Longitude="-122.35"), []),  # on the shared edge
    (spd_row("3", Latitude="47.6503"), []),  # ~33 m north of the boundary: within 50 m
    (spd_row("4", **{"Offense Code": " 23f "}), []),  # codes compared trimmed, upper-case
    (spd_row("5", **{"Offense Code": "09"}), []),  # leading zero kept (crosswalk read as text)
    # 16:00 PDT on May 31 is 23:00 UTC, before the fixed "now" of June 1 00:00 UTC.
    (spd_row("6", **{"Offense Start DateTime": "05/31/2024 04:00:00 PM"}), []),
    (spd_row("7", **{"Offense ID": "  "}), ["missing_key"]),
    (spd_row("8", **{"Report Number": None}), ["missing_key"]),
    (spd_row("9", Longitude=""), ["coordinates_missing"]),
    (spd_row("10", Latitude="abc"), ["coordinates_missing"]),
    (spd_row("11", Longitude="nan"), ["coordinates_missing"]),
    (spd_row("12", Longitude="0", Latitude="0.0"), ["coordinates_zero"]),
    (spd_row("13", Latitude="47.6510"), ["out_of_jurisdiction"]),  # ~110 m north
    (spd_row("14", Longitude="-118.24", Latitude="34.05"), ["out_of_jurisdiction"]),
    (spd_row("15", Longitude="1270000", Latitude="220000"), ["out_of_jurisdiction"]),
    (spd_row("16", **{"Offense Start DateTime": "2024-05-01 22:30:00"}), ["date_unparseable"]),
    (spd_row("17", **{"Offense Start DateTime": ""}), ["date_unparseable"]),
    (spd_row("18", **{"Offense Start DateTime": "01/01/2099 12:00:00 AM"}), ["date_future"]),
    # 06:00 PM PDT on May 31 is 01:00 UTC on June 1: in the future only when read as local time.
    (spd_row("19", **{"Offense Start DateTime": "05/31/2024 06:00:00 PM"}), ["date_future"]),
    # An unknown code is kept (category 'unmapped' downstream); a missing one is quarantined.
    (spd_row("20", **{"Offense Code": "ZZZ"}), []),
    (spd_row("21", **{"Offense Code": None}), ["offense_code_missing"]),
    (spd_row("1"), ["duplicate_record"]),  # exact copy of the first row
    (spd_row("1"), ["duplicate_record"]),  # and a third copy
    # A defective row is not the original: its clean later copy is staged.
    (spd_row("24", **{"Offense Start DateTime": "garbage"}), ["date_unparseable"]),
    (spd_row("24"), []),
    (
        spd_row("26", Longitude="", **{"Offense Code": "ZZZ", "Offense ID": ""}),
        ["missing_key", "coordinates_missing"],
    ),
]


@pytest.fixture(scope="module")
def boundary(con: duckdb.DuckDBPyConnection, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = write_raw(tmp_path_factory.mktemp("areas") / "areas.parquet", AREA_COLUMNS, areas_rows())
    return load_boundary(con, path, table="test_boundary")


@pytest.fixture()
def police_rules(boundary: str) -> EventRuleSettings:
    return settings_for(boundary, now_sql=FIXED_NOW)


def settings_for(boundary: str, **overrides: object) -> EventRuleSettings:
    base = {
        "boundary_table": boundary,
        "projected_crs": "EPSG:32610",
        "timezone": "America/Los_Angeles",
    }
    return EventRuleSettings(**{**base, **overrides})


def split(
    con: duckdb.DuckDBPyConnection,
    raw: Path,
    settings: EventRuleSettings,
    *,
    quarantine_path: Path,
    clean_path: Path | None = None,
) -> R.SplitResult:
    return split_police(
        con,
        builtin_layout("seattle_spd"),
        settings,
        source="seattle_spd",
        raw_parquet=raw,
        quarantine_path=quarantine_path,
        offenses_path=clean_path or quarantine_path.with_name("offenses.parquet"),
    )


def quarantine_codes(con: duckdb.DuckDBPyConnection, path: Path) -> dict[int, list[str]]:
    rows = con.execute(
        f"SELECT _row_number, _reason_codes, _reason FROM read_parquet('{path}') ORDER BY 1"
    ).fetchall()
    for _, codes, reason in rows:
        assert reason == codes[0]
    return {n: codes for n, codes, _ in rows}


# --- police ------------------------------------------------------------------------------------


def test_each_planted_defect_gets_exactly_its_reason(
    con: duckdb.DuckDBPyConnection, police_rules: EventRuleSettings, tmp_path: Path
) -> None:
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, [r for r, _ in POLICE_CASES])
    result = split(
        con, raw, police_rules, quarantine_path=tmp_path / "q" / "police_incidents.parquet"
    )

    expected = {i: codes for i, (_, codes) in enumerate(POLICE_CASES, start=1) if codes}
    assert quarantine_codes(con, result.quarantine_path) == expected
    assert result.raw_rows == len(POLICE_CASES)
    assert result.quarantined_rows == len(expected)
    assert result.clean_rows == len(POLICE_CASES) - len(expected)
    assert result.balanced


def test_counts_by_first_reason_and_by_code(
    con: duckdb.DuckDBPyConnection, police_rules: EventRuleSettings, tmp_path: Path
) -> None:
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, [r for r, _ in POLICE_CASES])
    result = split(con, raw, police_rules, quarantine_path=tmp_path / "q.parquet")

    first: dict[str, int] = {}
    every: dict[str, int] = {}
    for _, codes in POLICE_CASES:
        if codes:
            first[codes[0]] = first.get(codes[0], 0) + 1
        for code in codes:
            every[code] = every.get(code, 0) + 1
    assert result.by_reason == first
    assert result.by_code == every
    assert sum(result.by_reason.values()) == result.quarantined_rows
    assert list(result.by_reason) == [c for c in R.REASON_CODES if c in first]


def test_profile_counts_each_month_and_code(
    con: duckdb.DuckDBPyConnection, police_rules: EventRuleSettings, tmp_path: Path
) -> None:
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, [r for r, _ in POLICE_CASES])
    profile = tmp_path / "profiles" / "month=2024-05" / "part.parquet"
    result = split_police(
        con,
        builtin_layout("seattle_spd"),
        police_rules,
        source="seattle_spd",
        raw_parquet=raw,
        quarantine_path=tmp_path / "q.parquet",
        offenses_path=tmp_path / "offenses.parquet",
        profile_path=profile,
    )
    # Every clean case occurred in May 2024 (local time); a rejected date has no month.
    expected: dict[date | None, dict[str, int]] = {}
    for _, codes in POLICE_CASES:
        month = None if set(codes) & set(R.DATE_CODES) else date(2024, 5, 1)
        counts = expected.setdefault(month, {"raw_rows": 0, "accepted_rows": 0})
        counts["raw_rows"] += 1
        counts["accepted_rows"] += not codes
        counts["complete_rows"] = counts.get("complete_rows", 0) + (
            not set(codes) & set(R.MISSING_VALUE_CODES)
        )
        counts["located_rows"] = counts.get("located_rows", 0) + (
            not set(codes) & set(R.NO_POINT_CODES)
        )
        for code in R.REASON_CODES:
            counts[f"{code}_rows"] = counts.get(f"{code}_rows", 0) + (code in codes)
    rows = pq.read_table(profile).to_pylist()
    assert {row["month"] for row in rows} == set(expected)
    for row in rows:
        assert (row["source"], row["family"]) == ("seattle_spd", "police")
        assert row["quarantined_rows"] == row["raw_rows"] - row["accepted_rows"]
        assert {k: row[k] for k in expected[row["month"]]} == expected[row["month"]]
    assert sum(row["raw_rows"] for row in rows) == result.raw_rows
    assert sum(row["accepted_rows"] for row in rows) == result.clean_rows


def test_quarantine_keeps_raw_columns_and_lineage(
    con: duckdb.DuckDBPyConnection, police_rules: EventRuleSettings, tmp_path: Path
) -> None:
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, [r for r, _ in POLICE_CASES])
    out = tmp_path / "q.parquet"
    split(con, raw, police_rules, quarantine_path=out)

    raw_schema = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{raw}')").fetchall()
    q_schema = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{out}')").fetchall()
    assert [(c[0], c[1]) for c in q_schema] == [(c[0], c[1]) for c in raw_schema] + [
        ("_reason_codes", "VARCHAR[]"),
        ("_reason", "VARCHAR"),
    ]
    # The row is carried over untouched, lineage included.
    got = con.execute(
        f"SELECT \"Latitude\", _source_file, _load_id FROM read_parquet('{out}') "
        "WHERE _reason = 'coordinates_missing' AND \"Offense ID\" = '10'"
    ).fetchall()
    assert got == [("abc", "raw.csv", "load-1")]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_clean_output_holds_exactly_the_accepted_rows(
    con: duckdb.DuckDBPyConnection, police_rules: EventRuleSettings, tmp_path: Path
) -> None:
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, [r for r, _ in POLICE_CASES])
    clean = tmp_path / "clean.parquet"
    result = split(con, raw, police_rules, quarantine_path=tmp_path / "q.parquet", clean_path=clean)

    rows = [
        n for (n,) in con.execute(f"SELECT _row_number FROM read_parquet('{clean}')").fetchall()
    ]
    assert rows == [i for i, (_, codes) in enumerate(POLICE_CASES, start=1) if not codes]
    assert len(rows) == result.clean_rows
    columns = [
        c[0] for c in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{clean}')").fetchall()
    ]
    # One row per offense in the canonical layout, the published row kept beside it as JSON.
    assert {"offense_code", "occurred_at", "longitude", "raw_record"} <= set(columns)
    assert columns[-4:] == list(LINEAGE_COLUMNS)
    # Staged rows are unique on the dedupe key.
    ids = con.execute(f"SELECT record_id FROM read_parquet('{clean}')").fetchall()
    assert len(ids) == len(set(ids))
    raw_ids = con.execute(
        f"SELECT raw_record->>'Offense ID' FROM read_parquet('{clean}')"
    ).fetchall()
    assert raw_ids == ids


def test_nothing_rejected_still_writes_an_empty_quarantine_with_schema(
    con: duckdb.DuckDBPyConnection, police_rules: EventRuleSettings, tmp_path: Path
) -> None:
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, [spd_row("1"), spd_row("2")])
    out = tmp_path / "q.parquet"
    out.write_text("stale")  # replaced, not appended to
    result = split(con, raw, police_rules, quarantine_path=out)

    assert (result.clean_rows, result.quarantined_rows, result.by_reason) == (2, 0, {})
    assert con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone() == (0,)
    columns = [
        c[0] for c in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{out}')").fetchall()
    ]
    assert columns[-2:] == ["_reason_codes", "_reason"]


def test_future_dates_default_to_now(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    rules = settings_for(boundary)
    rows = [
        spd_row("1", **{"Offense Start DateTime": "01/01/2099 12:00:00 AM"}),
        spd_row("2", **{"Offense Start DateTime": "01/01/2001 12:00:00 AM"}),
    ]
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, rows)
    result = split(con, raw, rules, quarantine_path=tmp_path / "q.parquet")
    assert quarantine_codes(con, result.quarantine_path) == {1: ["date_future"]}


def test_future_dates_against_each_rows_load_time(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    rules = settings_for(boundary, now_sql='__raw."_ingested_at"')
    rows = [  # loaded 2024-06-01 00:00 UTC = May 31 17:00 PDT
        spd_row("1", **{"Offense Start DateTime": "05/31/2024 05:30:00 PM"}),
        spd_row("2", **{"Offense Start DateTime": "05/31/2024 04:30:00 PM"}),
    ]
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, rows)
    result = split(con, raw, rules, quarantine_path=tmp_path / "q.parquet")
    assert quarantine_codes(con, result.quarantine_path) == {1: ["date_future"]}


def test_tolerance_is_in_metres(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    # ~110 m north of the boundary: out at 50 m, in at 200 m.
    raw = write_raw(
        tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, [spd_row("1", Latitude="47.651")]
    )
    for tolerance, expected in ((50.0, {1: ["out_of_jurisdiction"]}), (200.0, {})):
        rules = settings_for(boundary, tolerance_m=tolerance)
        result = split(con, raw, rules, quarantine_path=tmp_path / "q.parquet")
        assert quarantine_codes(con, result.quarantine_path) == expected


def test_renamed_column_fails_naming_it(
    con: duckdb.DuckDBPyConnection, police_rules: EventRuleSettings, tmp_path: Path
) -> None:
    columns = tuple("Offense_Code" if c == "Offense Code" else c for c in SEATTLE_SPD_COLUMNS)
    row = spd_row("1")
    row["Offense_Code"] = row.pop("Offense Code")
    raw = write_raw(tmp_path / "raw.parquet", columns, [row])
    out = tmp_path / "q.parquet"
    with pytest.raises(ValueError, match="Offense Code"):
        split(con, raw, police_rules, quarantine_path=out)
    assert not out.exists()


def test_temp_tables_are_dropped(
    con: duckdb.DuckDBPyConnection, police_rules: EventRuleSettings, tmp_path: Path
) -> None:
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, [spd_row("1")])
    split(con, raw, police_rules, quarantine_path=tmp_path / "q.parquet")
    left = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '\\_\\_quality%' ESCAPE '\\'"
    ).fetchall()
    assert left == []


# --- the reference boundary --------------------------------------------------------------------


def test_boundary_leaves_out_invalid_geometries(
    con: duckdb.DuckDBPyConnection, boundary: str
) -> None:
    # West, East, the id-less West copy, the repaired bowtie and the duplicate West.
    assert con.execute(f"SELECT count(*) FROM {boundary}").fetchone() == (5,)
    dims = con.execute(f"SELECT DISTINCT ST_Dimension(geom) FROM {boundary}").fetchall()
    assert dims == [(2,)]


# --- rule values -------------------------------------------------------------------------------


def test_unknown_reason_code_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown reason code"):
        R.SourceRules("x", ("id",), (R.RowRule("bad_code", "false", "typo"),))
    for derived in ("duplicate_record", "row_malformed"):
        with pytest.raises(ValueError, match=f"{derived} is derived by the split"):
            R.SourceRules("x", ("id",), (R.RowRule(derived, "false", "derived"),))


def test_codes_are_reported_in_rule_order_once_each() -> None:
    rules = R.SourceRules(
        "x",
        ("id",),
        (R.missing_key("a"), R.coordinates_missing("lon", "lat"), R.missing_key("b")),
    )
    sql = R.reason_codes_sql(rules)
    assert sql.count("'missing_key'") == 1
    assert sql.index("'missing_key'") < sql.index("'coordinates_missing'")


# --- scale -------------------------------------------------------------------------------------

PLANT_EVERY = {  # row k gets a defect when k % modulus == remainder (moduli are primes)
    "missing_key": (997, 5),
    "coordinates_missing": (991, 7),
    "coordinates_zero": (983, 3),
    "out_of_jurisdiction": (977, 1),
    "date_unparseable": (971, 2),
    "date_future": (967, 4),
    "offense_code_missing": (953, 6),
}


def synthetic_spd_sql(n: int, path: Path) -> str:
    """COPY statement writing ``n`` SPD rows inside WEST/EAST to ``path``, with defects planted by
    ``PLANT_EVERY``; the last 1% of rows are exact copies of the first 1%. Also used for timing."""
    n_originals = n - n // 100

    def planted(code: str) -> str:
        modulus, remainder = PLANT_EVERY[code]
        return f"src % {modulus} = {remainder}"

    return f"""
    COPY (
      WITH base AS (
        SELECT k, CASE WHEN k >= {n_originals} THEN k - {n_originals} ELSE k END AS src
        FROM range({n}) t(k)
      )
      SELECT
        'R' || (src // 2) AS "Report Number",
        CASE WHEN {planted("missing_key")} THEN '' ELSE 'O' || src END AS "Offense ID",
        CASE WHEN {planted("date_unparseable")} THEN '2024-13-45'
             WHEN {planted("date_future")} THEN '01/01/2099 12:00:00 AM'
             ELSE strftime(TIMESTAMP '2023-01-01' + to_seconds(src * 17), '%m/%d/%Y %I:%M:%S %p')
        END AS "Offense Start DateTime",
        '' AS "Offense End DateTime", '' AS "Report DateTime", 'A' AS "Group A B",
        'PROPERTY' AS "Crime Against Category", 'LARCENY-THEFT' AS "Offense Parent Group",
        'Theft' AS "Offense",
        CASE WHEN {planted("offense_code_missing")} THEN ''
             ELSE ['23F', '13A', '09'][1 + src % 3] END AS "Offense Code",
        'W' AS "Precinct", 'Q' AS "Sector", 'Q1' AS "Beat", 'MAGNOLIA' AS "MCPP",
        '1XX BLOCK OF MAIN ST' AS "100 Block Address",
        CASE WHEN {planted("coordinates_missing")} THEN ''
             WHEN {planted("coordinates_zero")} THEN '0'
             WHEN {planted("out_of_jurisdiction")} THEN '-121.5'
             ELSE (-122.3995 + (hash(src) % 9900) / 100000.0)::VARCHAR END AS "Longitude",
        CASE WHEN {planted("coordinates_zero")} THEN '0'
             ELSE (47.6005 + (hash(src * 7) % 4900) / 100000.0)::VARCHAR END AS "Latitude",
        'synthetic.csv' AS _source_file, (k + 1)::BIGINT AS _row_number,
        TIMESTAMPTZ '2024-06-01 00:00:00+00' AS _ingested_at, 'load-1' AS _load_id
      FROM base
    ) TO '{path}' (FORMAT parquet)
    """


def planted_counts(n: int) -> dict[str, int]:
    """Expected first reasons of ``synthetic_spd_sql(n)``. A row planted twice counts under its
    first code (``PLANT_EVERY`` is in rule order); a copy of a defective row is that defect, a
    copy of a clean row is a duplicate."""
    n_originals = n - n // 100
    counts: dict[str, int] = {}
    for k in range(n):
        src = k - n_originals if k >= n_originals else k
        hits = [c for c, (m, r) in PLANT_EVERY.items() if src % m == r]
        if not hits and k >= n_originals:
            hits = ["duplicate_record"]
        if hits:
            counts[hits[0]] = counts.get(hits[0], 0) + 1
    return {c: counts[c] for c in R.REASON_CODES if c in counts}


def test_synthetic_batch_matches_planted_counts(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    n = 20_000
    raw = tmp_path / "synthetic.parquet"
    con.execute(synthetic_spd_sql(n, raw))
    rules = settings_for(boundary, now_sql=FIXED_NOW)
    result = split(con, raw, rules, quarantine_path=tmp_path / "q.parquet")
    assert result.by_reason == planted_counts(n)
    assert result.balanced and result.raw_rows == n


def test_out_of_jurisdiction_is_planned_as_a_spatial_join(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    """Speed guard: without the R-tree join, 1M points x every area vertex takes minutes."""
    raw = write_raw(tmp_path / "raw.parquet", SEATTLE_SPD_COLUMNS, [spd_row("1")])
    rule = R.out_of_jurisdiction("Longitude", "Latitude", boundary)
    ((name, select_sql),) = rule.temp_tables
    con.execute(f"CREATE OR REPLACE TEMP TABLE {R.quote_ident(name)} AS {select_sql}")
    plan = con.execute(
        f"EXPLAIN SELECT count(*) FROM read_parquet('{raw}') AS {R.RAW_ALIAS} "
        f"WHERE {rule.predicate_sql}"
    ).fetchall()
    con.execute(f"DROP TABLE {R.quote_ident(name)}")
    assert "SPATIAL_JOIN" in plan[0][1]
