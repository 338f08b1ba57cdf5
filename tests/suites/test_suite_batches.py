"""A table validated in batches gets the result one validation of the whole table gives.

Every case runs real Great Expectations twice, once on the whole frame and once batch by batch,
and compares what the outcome and the written result say: each expectation's success, counts
and percentages, and the suite's verdict.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crimemap.quality import batches as B
from crimemap.quality import suites as S
from crimemap.quality.mart_suites import mart_frames
from crimemap.quality.suites import SuiteSpec, expect

COUNTED = ("element_count", "unexpected_count", "missing_count", "observed_value")
PERCENTS = ("unexpected_percent", "missing_percent", "unexpected_percent_total")


def suite(**bounds: Any) -> SuiteSpec:
    """A key, a mostly-present value, a mostly-in-range value, a domain under a condition."""
    return SuiteSpec(
        name="batched",
        expectations=(
            expect("ExpectTableColumnsToMatchSet", "ERROR", column_set=["id", "kind", "value"]),
            expect("ExpectTableRowCountToBeBetween", "ERROR", **bounds),
            expect("ExpectColumnValuesToNotBeNull", "ERROR", column="id"),
            expect("ExpectColumnValuesToBeUnique", "ERROR", column="id"),
            expect("ExpectColumnValuesToNotBeNull", "WARN", column="value", mostly=0.9),
            expect(
                "ExpectColumnValuesToBeBetween",
                "WARN",
                column="value",
                min_value=0,
                max_value=100,
                mostly=0.8,
            ),
            expect(
                "ExpectColumnValuesToBeInSet",
                "ERROR",
                column="kind",
                value_set=["a", "b"],
                row_condition={
                    "type": "comparison",
                    "column": {"name": "value"},
                    "operator": ">",
                    "parameter": 50,
                },
            ),
        ),
    )


def frame(rows: int, seed: int, *, missing: float, out_of_range: float) -> pd.DataFrame:
    rng = random.Random(seed)
    ids = [rng.randrange(rows * 3) for _ in range(rows)]  # some repeat
    values = [
        None
        if rng.random() < missing
        else rng.uniform(101, 200)
        if rng.random() < out_of_range
        else rng.uniform(0, 100)
        for _ in range(rows)
    ]
    kinds = [rng.choice("aaaabbbc") for _ in range(rows)]
    return pd.DataFrame({"id": ids, "kind": kinds, "value": values})


def split_by_key(df: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    """As ``mart_frames`` splits: equal keys in one batch."""
    bucket = df["id"] % parts
    return [df[bucket == i].reset_index(drop=True) for i in range(parts)]


def results(outcome: S.SuiteOutcome) -> list[dict[str, Any]]:
    assert outcome.validation_path is not None
    return list(json.loads(outcome.validation_path.read_text())["results"])


def assert_same(whole: S.SuiteOutcome, batched: S.SuiteOutcome) -> None:
    def failures(outcome: S.SuiteOutcome) -> list[tuple[Any, ...]]:
        return [
            (f["expectation"], f["column"], f["severity"], f["unexpected_count"])
            for f in outcome.failed
        ]

    assert batched.success == whole.success
    assert failures(batched) == failures(whole)
    for one, other in zip(results(whole), results(batched), strict=True):
        assert other["success"] == one["success"], one["expectation_config"]["type"]
        for key in COUNTED:
            assert other["result"].get(key) == one["result"].get(key), key
        for key in PERCENTS:
            expected = one["result"].get(key)
            got = other["result"].get(key)
            assert (got is None) == (expected is None), key
            if expected is not None:
                assert got == pytest.approx(expected, rel=1e-12), key


@pytest.mark.parametrize(
    ("rows", "parts", "seed", "missing", "out_of_range"),
    [
        (400, 4, 1, 0.05, 0.1),  # passes
        (400, 3, 2, 0.15, 0.1),  # too many values missing
        (300, 5, 3, 0.0, 0.3),  # too many out of range
        (7, 4, 4, 0.5, 0.5),  # batches with no row at all
    ],
)
def test_batches_combine_to_the_whole_tables_result(
    tmp_path: Path, rows: int, parts: int, seed: int, missing: float, out_of_range: float
) -> None:
    df = frame(rows, seed, missing=missing, out_of_range=out_of_range)
    spec = suite(min_value=1, max_value=rows)
    whole = S.run_suite(spec, df, results_dir=tmp_path / "whole")
    batched = S.run_suite(spec, split_by_key(df, parts), results_dir=tmp_path / "batched")
    assert_same(whole, batched)


def test_mostly_is_judged_on_the_whole_table_not_per_batch(tmp_path: Path) -> None:
    """90 % present overall: one batch all present, the other 80 % -- the table passes."""
    full = pd.DataFrame({"id": range(0, 100, 2), "kind": "a", "value": 1.0})
    holey = pd.DataFrame({"id": range(1, 100, 2), "kind": "a", "value": [None] * 10 + [1.0] * 40})
    spec = suite(min_value=100, max_value=100)  # neither batch alone has 100 rows
    batched = S.run_suite(spec, [full, holey], results_dir=tmp_path)
    assert batched.success, batched.failed
    (row_count,) = [r for r in results(batched) if "row_count" in r["expectation_config"]["type"]]
    assert row_count["result"]["observed_value"] == 100
    alone = S.run_suite(spec, holey)
    assert {f["expectation"] for f in alone.failed} >= {
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_not_be_null",
    }


def test_a_duplicate_key_is_found_across_the_mart_batches(tmp_path: Path) -> None:
    """``mart_frames`` splits by the key's hash: the two copies meet in one batch."""
    con = duckdb.connect()
    df = frame(2000, 5, missing=0.0, out_of_range=0.0).drop_duplicates("id").assign(kind="a")
    df.loc[len(df)] = [int(df["id"].iloc[0]), "a", 5.0]  # one key twice
    con.register("source", df)
    con.execute("CREATE TABLE mart AS SELECT * FROM source")
    spec = suite(min_value=1)
    frames = list(mart_frames(con, "mart", spec, batch_rows=300))
    assert len(frames) == math.ceil(len(df) / 300) and sum(len(f) for f in frames) == len(df)
    batched = S.run_suite(spec, iter(frames), results_dir=tmp_path / "batched")
    whole = S.run_suite(spec, df, results_dir=tmp_path / "whole")
    assert_same(whole, batched)
    (failure,) = batched.failed
    assert (failure["expectation"], failure["unexpected_count"]) == (
        "expect_column_values_to_be_unique",
        2,
    )


def test_a_suite_with_two_keys_reads_the_mart_whole() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE mart AS SELECT range AS id, range % 7 AS kind FROM range(1000)")
    two_keys = SuiteSpec(
        name="two_keys",
        expectations=(
            expect("ExpectColumnValuesToBeUnique", "ERROR", column="id"),
            expect("ExpectCompoundColumnsToBeUnique", "ERROR", column_list=["id", "kind"]),
        ),
    )
    assert B.bucket_columns(two_keys) is None
    assert [len(f) for f in mart_frames(con, "mart", two_keys, batch_rows=100)] == [1000]
    keyless = SuiteSpec(name="keyless", expectations=(expect("ExpectColumnValuesToNotBeNull",
                                                             "ERROR", column="id"),))  # fmt: skip
    assert B.bucket_columns(keyless) == ()
    assert [len(f) for f in mart_frames(con, "mart", keyless, batch_rows=400)] == [334, 333, 333]


def test_landed_partitions_are_read_in_batches_and_judged_as_one(tmp_path: Path) -> None:
    df = frame(2500, 6, missing=0.12, out_of_range=0.05).astype({"id": "string"})
    landing = tmp_path / "raw"
    parts = (df[:900], df[900:1000], df[1000:])
    for month, part in zip(("2024-07", "2024-08", "2024-09"), parts, strict=True):
        (landing / f"month={month}").mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False),
                       landing / f"month={month}" / "part.parquet")  # fmt: skip
    spec = SuiteSpec(
        name="landing",
        expectations=(
            expect("ExpectTableRowCountToBeBetween", "ERROR", min_value=2500, max_value=2500),
            expect("ExpectColumnValuesToNotBeNull", "WARN", column="value", mostly=0.9),
        ),
    )
    ((label, frames),) = S.read_partition_groups(landing, ["value"], batch_rows=400).items()
    read = list(frames)
    assert label == "2024-07..2024-09"
    assert len(read) > 3 and all(len(f) < 800 for f in read) and sum(len(f) for f in read) == 2500
    assert set(read[0].columns) == {"id", "kind", "value"} and not read[0]["kind"].any()
    batched = S.run_suite(spec, iter(read), results_dir=tmp_path / "batched")
    whole = S.run_suite(spec, df, results_dir=tmp_path / "whole")
    assert_same(whole, batched)
    assert not batched.success  # 12 % missing


def test_an_empty_landing_is_one_empty_frame(tmp_path: Path) -> None:
    (tmp_path / "month=2024-07").mkdir()
    empty = pa.table({"id": pa.array([], pa.string()), "value": pa.array([], pa.string())})
    pq.write_table(empty, tmp_path / "month=2024-07" / "part.parquet")
    ((_, frames),) = S.read_partition_groups(tmp_path, ["id"], batch_rows=10).items()
    (only,) = list(frames)
    assert len(only) == 0 and list(only.columns) == ["id", "value"]


def test_a_result_that_cannot_be_added_up_is_refused() -> None:
    part = {
        "success": True,
        "exception_info": {},
        "expectation_config": {"type": "expect_column_median_to_be_between", "kwargs": {}},
        "result": {"observed_value": 3},
    }
    batch = {"success": True, "results": [part], "statistics": {}}
    with pytest.raises(B.NotBatchable, match="median"):
        B.combine_results([batch, batch])
    assert B.combine_results([batch]) == batch


def test_a_landing_a_keyed_suite_reads_is_judged_whole(tmp_path: Path) -> None:
    """Month files are in no order of any key: a suite with a uniqueness expectation reads
    each column set as one frame, so a key repeated across two months is still found."""
    keyed = SuiteSpec(
        name="keyed_landing",
        expectations=(expect("ExpectColumnValuesToBeUnique", "ERROR", column="id"),),
    )
    for month, ids in (("2024-07", ["1", "2", "3"]), ("2024-08", ["4", "3"])):
        (tmp_path / f"month={month}").mkdir()
        pq.write_table(pa.table({"id": ids}), tmp_path / f"month={month}" / "part.parquet")
    assert B.rows_per_file_batch(keyed) is None
    assert B.rows_per_file_batch(suite(min_value=1)) is None  # its own key is "id"
    unkeyed = SuiteSpec(name="unkeyed", expectations=(expect("ExpectColumnValuesToNotBeNull",
                                                             "ERROR", column="id"),))  # fmt: skip
    assert B.rows_per_file_batch(unkeyed) == B.BATCH_ROWS
    ((_, frames),) = S.read_partition_groups(
        tmp_path, ["id"], batch_rows=B.rows_per_file_batch(keyed)
    ).items()
    read = list(frames)
    assert [len(f) for f in read] == [5]
    (failure,) = S.run_suite(keyed, iter(read)).failed
    assert failure["unexpected_count"] == 2
    # Split file by file, the same landing would hide the repeat: what the rule prevents.
    ((_, split),) = S.read_partition_groups(tmp_path, ["id"], batch_rows=3).items()
    assert S.run_suite(keyed, split).success
