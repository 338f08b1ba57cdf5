"""The raw police suite reads a landing's partitions as groups of one column set each, and only
the columns its expectations read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crimemap.ingestion.landing import MALFORMED_COLUMNS
from crimemap.quality.suites import read_partition_groups


def write_month(root: Path, month: str, columns: dict[str, list[object]]) -> None:
    (root / f"month={month}").mkdir(parents=True)
    pq.write_table(pa.table(columns), root / f"month={month}" / "part.parquet")


def test_only_the_read_columns_carry_values(tmp_path: Path) -> None:
    malformed, line = MALFORMED_COLUMNS
    for month in ("2025-01", "2025-02"):
        write_month(
            tmp_path,
            month,
            {"id": ["1", "2", None], "lon": ["-122.3", "x", None], "notes": ["a", "b", None],
             malformed: [None, None, "line 4: 3 fields, expected 2"], line: [2, 3, 4]},
        )  # fmt: skip
    write_month(tmp_path, "2025-03", {"id": ["9"], "lon": ["-122.1"], "added": ["new"]})

    groups = {
        label: pd.concat(frames)
        for label, frames in read_partition_groups(tmp_path, columns=["id", "lon"]).items()
    }

    assert set(groups) == {"2025-01..2025-02", "2025-03"}
    both = groups["2025-01..2025-02"]
    assert set(both.columns) == {"id", "lon", "notes"}  # the malformed record's columns are gone
    assert both["id"].tolist() == ["1", "2", "1", "2"]  # and so is its row
    assert both["lon"].tolist() == ["-122.3", "x", "-122.3", "x"]
    assert both["notes"].tolist() == [False] * 4  # a placeholder: never read
    assert set(groups["2025-03"].columns) == {"id", "lon", "added"}


def test_without_columns_every_value_is_read(tmp_path: Path) -> None:
    write_month(tmp_path, "2025-01", {"id": ["1"], "notes": ["a"]})
    (frames,) = read_partition_groups(tmp_path).values()
    (frame,) = list(frames)
    assert frame.to_dict("list") == {"id": ["1"], "notes": ["a"]}
