"""The scorecard as text (crimemap/quality/scorecard.py) and the reason codes dbt shares with
Python."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crimemap.core.project import DBT_PROJECT_DIR
from crimemap.quality.rules import REASON_CODES
from crimemap.quality.scorecard import (
    read_scorecard,
    reasons_text,
    render_csv,
    render_json,
    render_table,
)


def row(source: str, month: date | None, **values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "source": source,
        "family": "police",
        "month": month,
        "raw_rows": 1000,
        "accepted_rows": 990,
        "quarantined_rows": 10,
        "completeness": 0.995,
        "geocoding_rate": 0.99,
        "out_of_jurisdiction_rate": 0.004,
        "duplicate_rate": 0.001,
        "crosswalk_coverage": 0.98,
        "reporting_lag_p50_days": 0.25,
        "reporting_lag_p90_days": 3.5,
        **{f"{code}_rows": 0 for code in REASON_CODES},
    }
    return {**base, **values}


ROWS = [
    row("spd", date(2025, 1, 1), coordinates_missing_rows=6, out_of_jurisdiction_rows=4),
    row("spd", date(2025, 2, 1), raw_rows=1_234_567, duplicate_record_rows=1),
    row("areas", None, family="boundaries", geocoding_rate=None, crosswalk_coverage=None),
]


def test_reasons_are_listed_most_frequent_first() -> None:
    assert reasons_text(ROWS[0]) == "coordinates_missing 6, out_of_jurisdiction 4"
    assert reasons_text(ROWS[2]) == ""


def test_table_has_one_aligned_line_per_row() -> None:
    lines = render_table(ROWS).splitlines()
    assert lines[0].split()[:3] == ["source", "month", "raw"]
    assert len(lines) == 2 + len(ROWS)
    first, second, undated = lines[2:]
    assert "2025-01" in first and "99.5%" in first and "coordinates_missing 6" in first
    assert "1,234,567" in second
    assert undated.split()[:2] == ["areas", "undated"]
    # numbers are right-aligned: the raw column ends at the same place as its header
    raw_end = lines[0].index("raw") + len("raw")
    assert second.index("1,234,567") + len("1,234,567") == raw_end
    assert first.index("1,000") + len("1,000") == raw_end


def test_csv_and_json_keep_every_column() -> None:
    parsed = json.loads(render_json(ROWS))
    assert parsed[0]["month"] == "2025-01-01" and parsed[2]["month"] is None
    assert set(parsed[0]) == set(ROWS[0])
    header, *body = render_csv(ROWS).splitlines()
    assert header.split(",") == list(ROWS[0]) and len(body) == len(ROWS)
    assert render_csv([]) == ""


def test_read_filters_by_source_and_month(tmp_path: Path) -> None:
    path = tmp_path / "quality_scorecard.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    assert len(read_scorecard(path)) == 3
    assert [r["source"] for r in read_scorecard(path, sources=["areas"])] == ["areas"]
    since = read_scorecard(path, since=date(2025, 2, 1))
    assert [(r["source"], r["month"]) for r in since] == [
        ("spd", date(2025, 2, 1)),
        ("areas", None),
    ]
    with pytest.raises(ValueError, match=r"no such source in the scorecard: \['nope'\]"):
        read_scorecard(path, sources=["nope"])
    with pytest.raises(FileNotFoundError, match="no scorecard layer"):
        read_scorecard(tmp_path / "missing.parquet")


def test_dbt_reason_codes_equal_the_python_ones() -> None:
    macro = (DBT_PROJECT_DIR / "macros" / "quality.sql").read_text()
    listed = re.search(r"return\(\[(.*?)\]\)", macro, re.S)
    assert listed is not None
    assert tuple(re.findall(r"'([a-z_]+)'", listed.group(1))) == REASON_CODES
