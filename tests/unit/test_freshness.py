"""The manifest's source_freshness: every source with its mode, absent ones listed as such."""

from __future__ import annotations

import duckdb

from crimemap.warehouse.freshness import source_freshness

LOADED = "2026-01-02 03:04:05+00"


def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE fct_incidents AS SELECT 'spd' AS source, "
        "TIMESTAMPTZ '2025-12-31 23:30:00+00' AS occurred_at, "
        f"TIMESTAMPTZ '{LOADED}' AS _ingested_at"
    )
    for table, column in (
        ("stg_service_requests__requests", "created_at TIMESTAMPTZ"),
        ("stg_surveys__answers", "survey VARCHAR, submitted_on DATE"),
        ("stg_census__acs_indicators", "geoid VARCHAR"),
        ("stg_facilities__facilities", "facility_id VARCHAR"),
    ):
        con.execute(f"CREATE TABLE {table} ({column}, _ingested_at TIMESTAMPTZ)")
    con.execute(
        f"CREATE TABLE stg_boundaries__areas AS SELECT 'A' AS area_id, "
        f"TIMESTAMPTZ '{LOADED}' AS _ingested_at"
    )
    return con


def test_absent_sources_are_listed_with_mode_none_and_no_rows() -> None:
    modes = {"spd": "file", "boundaries": "file", "census_acs": "none", "facilities": "none",
             "service_requests": "none", "surveys": "file"}  # fmt: skip

    entries = {e["source"]: e for e in source_freshness(warehouse(), "America/Los_Angeles", modes)}

    assert entries["spd"]["mode"] == "file"
    assert entries["spd"]["latest"] == "2025-12-31"  # the local date, not the UTC one
    for absent in ("census_acs", "facilities", "service_requests"):
        assert entries[absent] == {
            "source": absent, "family": absent, "column": entries[absent]["column"],
            "latest": None, "loaded_at": None, "rows": 0, "mode": "none",
        }  # fmt: skip
    assert "surveys" not in entries  # an empty inbox is a source with nothing in it yet


def test_without_modes_the_entries_are_as_before() -> None:
    entries = source_freshness(warehouse(), "America/Los_Angeles")

    assert all("mode" not in e for e in entries)
    assert {e["source"] for e in entries} == {
        "spd", "service_requests", "boundaries", "census_acs", "facilities",
    }  # fmt: skip
