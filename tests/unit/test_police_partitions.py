"""Monthly police partitions: each landed row lands once, in its local month, idempotently."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crimemap.ingestion.landing import LINEAGE_COLUMNS
from crimemap.ingestion.police.layout import builtin_layout
from crimemap.ingestion.police.partitions import (
    DIGEST_KEY,
    MonthLanding,
    land_police_months,
    months_between,
    partition_path,
)

LAYOUT = builtin_layout("seattle_spd")
SOURCE = "seattle_spd"
TIMEZONE = "America/Los_Angeles"
FIRST = date(2024, 1, 1)
LAST = date(2024, 5, 1)
MONTHS = months_between(FIRST, LAST)
INGESTED_AT = datetime(2024, 6, 2, 3, 4, 5, tzinfo=UTC)

# (Offense ID, Offense Start DateTime, Report DateTime) -> the month the row must land in.
ROWS: list[tuple[str, str, str]] = [
    ("jan-late", "01/31/2024 11:30:00 PM", "02/01/2024 09:00:00 AM"),
    ("feb-early", "02/01/2024 12:30:00 AM", ""),
    ("bad-occurred", "not a date", "03/05/2024 10:00:00 AM"),
    ("no-dates", "", ""),
    ("epoch", "01/01/1970 12:00:00 AM", ""),
    ("far-future", "06/15/2099 08:00:00 AM", ""),
    ("leap-day", "2024-02-29T23:59:59.000", ""),
    ("mar-evening", "03/31/2024 08:00:00 PM", "garbage"),
]
EXPECTED_MONTH: dict[str, date] = {
    "jan-late": date(2024, 1, 1),  # February in UTC
    "feb-early": date(2024, 2, 1),
    "bad-occurred": date(2024, 3, 1),  # from the reported date
    "no-dates": FIRST,
    "epoch": FIRST,  # clamped up
    "far-future": LAST,  # clamped down
    "leap-day": date(2024, 2, 1),
    "mar-evening": date(2024, 3, 1),  # April in UTC
}
EMPTY_MONTH = date(2024, 4, 1)


@dataclass(frozen=True)
class Snapshot:
    data: bytes
    mtime_ns: int


def seattle_row(offense_id: str, occurred: str, reported: str) -> dict[str, str]:
    row = dict.fromkeys(LAYOUT.columns, "")
    row.update(
        {
            "Offense ID": offense_id,
            "Report Number": f"2024-{offense_id}",
            "Offense Start DateTime": occurred,
            "Report DateTime": reported,
            "Offense": "Simple Assault",
            "Offense Code": "13B",
            "Longitude": "-122.33",
            "Latitude": "47.61",
        }
    )
    return row


def write_landing(
    path: Path, rows: Sequence[dict[str, str]], *, source_file: str = "spd.csv"
) -> Path:
    """A landing file as ``crimemap.ingestion.landing`` writes it: strings, then lineage."""
    data: dict[str, list[object]] = {c: [row[c] for row in rows] for c in LAYOUT.columns}
    data["_source_file"] = [source_file] * len(rows)
    data["_row_number"] = list(range(1, len(rows) + 1))
    data["_ingested_at"] = [INGESTED_AT] * len(rows)
    data["_load_id"] = ["landing-load"] * len(rows)
    schema = pa.schema(
        [
            *((c, pa.string()) for c in LAYOUT.columns),
            ("_source_file", pa.string()),
            ("_row_number", pa.int64()),
            ("_ingested_at", pa.timestamp("us", tz="UTC")),
            ("_load_id", pa.string()),
        ]
    )
    pq.write_table(pa.Table.from_pydict(data, schema=schema), path)
    return path


def base_rows() -> list[dict[str, str]]:
    return [seattle_row(*row) for row in ROWS]


def land(
    con: duckdb.DuckDBPyConnection,
    landed: Path,
    dest: Path,
    months: Sequence[date] = MONTHS,
) -> list[MonthLanding]:
    return land_police_months(
        con,
        LAYOUT,
        source=SOURCE,
        landed_parquet=landed,
        dest_root=dest,
        timezone=TIMEZONE,
        months=months,
        first_month=FIRST,
        last_month=LAST,
    )


def snapshot(dest: Path) -> dict[date, Snapshot]:
    return {
        m: Snapshot(
            partition_path(dest, m).read_bytes(), partition_path(dest, m).stat().st_mtime_ns
        )
        for m in MONTHS
    }


def ids_by_month(dest: Path) -> dict[date, list[str]]:
    return {
        m: pq.read_table(partition_path(dest, m)).column("Offense ID").to_pylist() for m in MONTHS
    }


# --- month arithmetic --------------------------------------------------------------------------


def test_months_between_spans_year_end_inclusive() -> None:
    assert months_between(date(2023, 11, 15), date(2024, 2, 1)) == [
        date(2023, 11, 1),
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]
    assert months_between(date(2024, 7, 1), date(2024, 7, 31)) == [date(2024, 7, 1)]
    assert months_between(date(2024, 8, 1), date(2024, 7, 1)) == []
    assert len(months_between(date(2020, 1, 1), date(2024, 12, 1))) == 60


def test_partition_path_is_hive_style(tmp_path: Path) -> None:
    assert partition_path(tmp_path, date(2024, 3, 1)) == tmp_path / "month=2024-03" / "part.parquet"


# --- landing -----------------------------------------------------------------------------------


def test_premise_local_month_differs_from_utc_month() -> None:
    zone = ZoneInfo(TIMEZONE)
    assert datetime(2024, 1, 31, 23, 30, tzinfo=zone).astimezone(UTC).month == 2
    assert datetime(2024, 3, 31, 20, 0, tzinfo=zone).astimezone(UTC).month == 4


def test_rows_land_once_in_their_local_month(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    landed = write_landing(tmp_path / "landed.parquet", base_rows())
    results = land(con, landed, tmp_path / "raw")

    assert [r.month for r in results] == MONTHS
    assert all(r.written for r in results)
    by_month = ids_by_month(tmp_path / "raw")
    got = {offense_id: m for m, ids in by_month.items() for offense_id in ids}
    assert got == EXPECTED_MONTH
    # Every published row exactly once across all months.
    assert Counter(i for ids in by_month.values() for i in ids) == Counter(list(EXPECTED_MONTH))
    assert {r.month: r.rows for r in results} == {
        m: sum(1 for v in EXPECTED_MONTH.values() if v == m) for m in MONTHS
    }
    assert {r.month: r.path for r in results} == {
        m: partition_path(tmp_path / "raw", m) for m in MONTHS
    }


def test_month_without_rows_gets_an_empty_file(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    landed = write_landing(tmp_path / "landed.parquet", base_rows())
    results = land(con, landed, tmp_path / "raw")

    [april] = [r for r in results if r.month == EMPTY_MONTH]
    assert april.rows == 0
    assert april.written
    table = pq.read_table(april.path)
    assert table.num_rows == 0
    assert table.column_names == [*LAYOUT.columns, *LINEAGE_COLUMNS]


def test_partition_carries_published_columns_lineage_and_digest(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    landed = write_landing(tmp_path / "landed.parquet", base_rows(), source_file="spd_2024.csv")
    results = land(con, landed, tmp_path / "raw")

    for result in results:
        assert re.fullmatch(rf"seattle_spd/{result.month:%Y-%m}/[0-9a-f]{{16}}", result.load_id)
        table = pq.read_table(result.path)
        assert table.column_names == [*LAYOUT.columns, *LINEAGE_COLUMNS]
        assert table.schema.field("Offense ID").type == pa.string()
        assert table.schema.field("_ingested_at").type == pa.timestamp("us", tz="UTC")
        assert set(table.column("_load_id").to_pylist()) <= {result.load_id}
        assert set(table.column("_source_file").to_pylist()) <= {"spd_2024.csv"}
        row_numbers = table.column("_row_number").to_pylist()
        assert row_numbers == sorted(row_numbers)
        # The landing's own ingestion time is replaced by the partition's.
        assert INGESTED_AT not in table.column("_ingested_at").to_pylist()
        metadata = pq.read_metadata(result.path).metadata
        assert len(metadata[DIGEST_KEY.encode()]) == 64

    load_ids = [r.load_id for r in results]
    assert len(set(load_ids)) == len(load_ids)
    january = pq.read_table(partition_path(tmp_path / "raw", date(2024, 1, 1))).to_pylist()
    [jan_late] = [r for r in january if r["Offense ID"] == "jan-late"]
    assert jan_late == {
        **seattle_row(*ROWS[0]),
        "_source_file": "spd_2024.csv",
        "_row_number": 1,
        "_ingested_at": jan_late["_ingested_at"],
        "_load_id": results[0].load_id,
    }


def test_relanding_identical_rows_leaves_files_untouched(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    first = land(con, write_landing(tmp_path / "first.parquet", base_rows()), dest)
    before = snapshot(dest)

    # A fresh landing of the same published rows (another scratch file, another ingestion).
    again = land(con, write_landing(tmp_path / "second.parquet", base_rows()), dest)

    assert [r.written for r in again] == [False] * len(MONTHS)
    assert [r.load_id for r in again] == [r.load_id for r in first]
    assert [r.rows for r in again] == [r.rows for r in first]
    assert snapshot(dest) == before
    assert sorted(p.name for p in dest.rglob("*")) == sorted(
        [f"month={m:%Y-%m}" for m in MONTHS] + ["part.parquet"] * len(MONTHS)
    )


def test_changed_row_rewrites_only_its_month(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    rows = base_rows()
    first = land(con, write_landing(tmp_path / "first.parquet", rows), dest)
    before = snapshot(dest)

    rows[1]["Offense"] = "Aggravated Assault"  # feb-early
    again = land(con, write_landing(tmp_path / "second.parquet", rows), dest)

    february = date(2024, 2, 1)
    assert {r.month: r.written for r in again} == {m: m == february for m in MONTHS}
    after = snapshot(dest)
    for m in MONTHS:
        if m != february:
            assert after[m] == before[m], m
    assert after[february].data != before[february].data
    table = pq.read_table(partition_path(dest, february)).to_pylist()
    assert {r["Offense ID"]: r["Offense"] for r in table} == {
        "feb-early": "Aggravated Assault",
        "leap-day": "Simple Assault",
    }
    [old_feb] = [r for r in first if r.month == february]
    [new_feb] = [r for r in again if r.month == february]
    assert new_feb.load_id != old_feb.load_id
    assert new_feb.load_id.startswith("seattle_spd/2024-02/")
    assert {r["_load_id"] for r in table} == {new_feb.load_id}


def test_row_moving_month_rewrites_both_months(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    rows = base_rows()
    land(con, write_landing(tmp_path / "first.parquet", rows), dest)
    before = snapshot(dest)

    rows[7]["Offense Start DateTime"] = "04/01/2024 12:00:00 AM"  # mar-evening -> April
    again = land(con, write_landing(tmp_path / "second.parquet", rows), dest)

    changed = {date(2024, 3, 1), EMPTY_MONTH}
    assert {r.month: r.written for r in again} == {m: m in changed for m in MONTHS}
    assert {m for m, s in snapshot(dest).items() if s != before[m]} == changed
    assert ids_by_month(dest)[EMPTY_MONTH] == ["mar-evening"]
    assert ids_by_month(dest)[date(2024, 3, 1)] == ["bad-occurred"]


def test_landing_a_subset_of_months_writes_only_those(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    landed = write_landing(tmp_path / "landed.parquet", base_rows())
    results = land(con, landed, dest, months=[date(2024, 5, 1)])

    assert [(r.month, r.rows, r.written) for r in results] == [(date(2024, 5, 1), 1, True)]
    assert sorted(p.parent.name for p in dest.rglob("*.parquet")) == ["month=2024-05"]
    # The clamp still uses the whole range: the 2099 row belongs to the last month.
    assert pq.read_table(results[0].path).column("Offense ID").to_pylist() == ["far-future"]


@pytest.mark.parametrize("timezone", ["UTC", "Pacific/Auckland"])
def test_month_follows_the_jurisdiction_zone(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, timezone: str
) -> None:
    # The same wall-clock text is the same local month whatever the zone.
    landed = write_landing(tmp_path / "landed.parquet", base_rows())
    results = land_police_months(
        con,
        LAYOUT,
        source=SOURCE,
        landed_parquet=landed,
        dest_root=tmp_path / "raw",
        timezone=timezone,
        months=MONTHS,
        first_month=FIRST,
        last_month=LAST,
    )

    assert {r.month: r.rows for r in results} == {
        m: sum(1 for v in EXPECTED_MONTH.values() if v == m) for m in MONTHS
    }
