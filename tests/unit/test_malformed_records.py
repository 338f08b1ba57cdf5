"""A malformed CSV record lands in its place and is quarantined as ``row_malformed`` with its line
and raw text; the rest of the file loads, and raw rows = accepted + quarantined."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.landing import (
    MALFORMED_COLUMN,
    RAW_RECORD_COLUMN,
    ReadOptions,
    land_csv,
)
from crimemap.quality.rules import (
    REASON_CODES_COLUMN,
    ROW_MALFORMED,
    LoadProfile,
    SourceRules,
    SplitResult,
    missing_key,
    split_quarantine,
)
from crimemap.quality.suites import read_frame

HEADER = b"id,name,value\n"
RULES = SourceRules(source="s", key_columns=("id",), rules=(missing_key("id"),), dedupe_on=("id",))


def land_and_split(tmp_path: Path, data: bytes, read: ReadOptions | None = None) -> SplitResult:
    source = tmp_path / "export.csv"
    source.write_bytes(data)
    raw = tmp_path / "raw.parquet"
    land_csv(source, raw, load_id="L", read=read or ReadOptions())
    with connect() as con:
        return split_quarantine(
            con,
            raw,
            RULES,
            quarantine_path=tmp_path / "quarantine.parquet",
            clean_path=tmp_path / "clean.parquet",
            profile=LoadProfile(tmp_path / "profile.parquet", "test"),
        )


def quarantined(result: SplitResult) -> list[tuple[int, list[str], str, str]]:
    frame = pl.read_parquet(result.quarantine_path)
    return list(
        zip(
            frame["_row_number"].to_list(),
            frame[REASON_CODES_COLUMN].to_list(),
            frame[MALFORMED_COLUMN].to_list(),
            frame[RAW_RECORD_COLUMN].to_list(),
            strict=True,
        )
    )


def test_an_open_quote_in_the_last_of_200000_rows_quarantines_that_row(tmp_path: Path) -> None:
    rows = b"".join(b"%d,name %d,%d\n" % (i, i, i % 7) for i in range(1, 200_000))
    result = land_and_split(tmp_path, HEADER + rows + b'200000,"never closed,3\n')

    assert (result.raw_rows, result.clean_rows, result.quarantined_rows) == (200_000, 199_999, 1)
    assert quarantined(result) == [
        (200_000, [ROW_MALFORMED], "line 200001: a quoted field is never closed",
         '200000,"never closed,3'),
    ]  # fmt: skip
    clean = pl.read_parquet(result.clean_path or "")
    assert MALFORMED_COLUMN not in clean.columns and RAW_RECORD_COLUMN not in clean.columns
    assert clean["id"][-1] == "199999"


def test_an_open_quote_mid_file_costs_its_line_only(tmp_path: Path) -> None:
    data = HEADER + b'1,a,1\n2,"b,2\n3,c,3\n4,"multi\nline",4\n'
    result = land_and_split(tmp_path, data)
    assert quarantined(result) == [
        (2, [ROW_MALFORMED], "line 3: a quote that does not close its field", '2,"b,2')
    ]
    clean = pl.read_parquet(result.clean_path or "")
    assert clean.select("id", "name", "_row_number").rows() == [
        ("1", "a", 1), ("3", "c", 3), ("4", "multi\nline", 4),
    ]  # fmt: skip


def test_too_many_fields_and_text_after_a_quote_are_malformed(tmp_path: Path) -> None:
    data = HEADER + b'1,a,1\n2,b,2,surplus\n3,"c"x,3\n4,d,4\n'
    result = land_and_split(tmp_path, data)
    assert [(n, reason) for n, _, reason, _ in quarantined(result)] == [
        (2, "line 3: 4 fields, the header has 3"),
        (3, "line 4: a quote that does not close its field"),
    ]
    assert result.by_reason == {ROW_MALFORMED: 2} and result.by_code == {ROW_MALFORMED: 2}
    assert result.balanced and result.clean_rows == 2
    assert "line 3: 4 fields, the header has 3" in result.examples[ROW_MALFORMED].text


def test_a_short_row_reads_its_missing_trailing_fields_as_blank(tmp_path: Path) -> None:
    result = land_and_split(tmp_path, HEADER + b"1,a\n2,b,2,extra\n")
    clean = pl.read_parquet(result.clean_path or "")
    assert clean.select("id", "name", "value").rows() == [("1", "a", None)]
    assert result.by_reason == {ROW_MALFORMED: 1}


def test_undecodable_bytes_quarantine_their_row_with_the_bytes_shown(tmp_path: Path) -> None:
    data = HEADER + b"1,caf\xc3\xa9,1\n2,caf\xe9,2\n3,ok,3\n"
    result = land_and_split(tmp_path, data)
    assert quarantined(result) == [
        (2, [ROW_MALFORMED], "line 3: bytes that are not utf-8 text", "2,caf\\xe9,2")
    ]
    clean = pl.read_parquet(result.clean_path or "")
    assert clean["name"].to_list() == ["café", "ok"]


def test_a_latin1_file_loads_whole_when_declared(tmp_path: Path) -> None:
    data = (HEADER + "1,Peñalosa,1\n2,Mañana,2\n3,plain,3\n".encode()).decode().encode("latin-1")
    (tmp_path / "undeclared").mkdir()
    undeclared = land_and_split(tmp_path / "undeclared", data)
    assert undeclared.by_reason == {ROW_MALFORMED: 2} and undeclared.clean_rows == 1

    declared = land_and_split(tmp_path, data, ReadOptions(encoding="latin-1"))
    assert declared.by_reason == {} and declared.clean_rows == 3
    clean = pl.read_parquet(declared.clean_path or "")
    assert clean["name"].to_list() == ["Peñalosa", "Mañana", "plain"]


def test_a_semicolon_file_loads_when_its_delimiter_is_declared(tmp_path: Path) -> None:
    data = b"id;name;value\n1;a,b;1\n2;c;2\n"
    result = land_and_split(tmp_path, data, ReadOptions(delimiter=";"))
    clean = pl.read_parquet(result.clean_path or "")
    assert clean.select("id", "name").rows() == [("1", "a,b"), ("2", "c")]


def test_a_nul_byte_makes_its_record_malformed(tmp_path: Path) -> None:
    result = land_and_split(tmp_path, HEADER + b"1,a,1\n2,b\x00,2\n" + b"\x00" * 64 + b"\n")
    assert [(n, reason) for n, _, reason, _ in quarantined(result)] == [
        (2, "line 3: a NUL byte"),
        (3, "line 4: a NUL byte"),  # the zero block a crashed writer leaves at the end
    ]
    assert result.clean_rows == 1


def test_a_5_mb_field_is_still_a_field(tmp_path: Path) -> None:
    big = b"x" * 5_000_000
    # With a malformed row too, so the record-by-record reader meets the big field.
    result = land_and_split(tmp_path, HEADER + b'1,"' + big + b'",1\n2,b,2,surplus\n')
    clean = pl.read_parquet(result.clean_path or "")
    assert clean["name"].str.len_bytes().to_list() == [5_000_000]
    assert result.by_reason == {ROW_MALFORMED: 1}


def test_an_unreadable_header_stops_the_file_with_one_line(tmp_path: Path) -> None:
    source = tmp_path / "bad_header.csv"
    source.write_bytes(b"id,n\xe9me\n1,a\n")
    with pytest.raises(ValueError, match=r"bad_header\.csv: line 1: the header cannot be read"):
        land_csv(source, tmp_path / "raw.parquet", load_id="L")


def test_the_profile_counts_malformed_rows_as_incomplete(tmp_path: Path) -> None:
    land_and_split(tmp_path, HEADER + b"1,a,1\n2,b,2,surplus\n")
    profile = pl.read_parquet(tmp_path / "profile.parquet")
    assert profile.select("raw_rows", "accepted_rows", "complete_rows", "row_malformed_rows").row(
        0
    ) == (2, 1, 1, 1)


def test_the_raw_suites_read_only_well_formed_records(tmp_path: Path) -> None:
    land_and_split(tmp_path, HEADER + b"1,a,1\n2,b,2,surplus\n")
    frame = read_frame(tmp_path / "raw.parquet")
    assert frame["id"].tolist() == ["1"]
    assert MALFORMED_COLUMN not in frame.columns


def test_a_well_formed_file_has_no_malformed_columns(tmp_path: Path) -> None:
    result = land_and_split(tmp_path, HEADER + b"1,a,1\n")
    assert MALFORMED_COLUMN not in pl.read_parquet(tmp_path / "raw.parquet").columns
    assert result.by_reason == {}
