"""A suite meeting rows it judged in its last run reuses that result, and only then.

Every case runs real Great Expectations: the outcome with the memo is compared with a run
without it on the same frame, and the memo's own count says which batches were validated.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crimemap.quality import memo
from crimemap.quality import suites as S
from crimemap.quality.suites import SuiteSpec, expect


def suite(mostly: float = 0.9) -> SuiteSpec:
    return SuiteSpec(
        name="memo",
        expectations=(
            expect("ExpectTableColumnsToMatchSet", "ERROR", column_set=["id", "value", "note"]),
            expect("ExpectColumnValuesToNotBeNull", "ERROR", column="id"),
            expect("ExpectColumnValuesToBeUnique", "ERROR", column="id"),
            expect("ExpectColumnValuesToNotBeNull", "WARN", column="value", mostly=mostly),
            expect(
                "ExpectColumnValuesToBeBetween",
                "ERROR",
                column="value",
                min_value=0,
                max_value=100,
                row_condition={
                    "type": "comparison",
                    "column": {"name": "id"},
                    "operator": ">",
                    "parameter": 0,
                },
            ),
        ),
    )


def frame(start: int = 0, rows: int = 50) -> pd.DataFrame:
    ids = list(range(start, start + rows))
    return pd.DataFrame(
        {"id": ids, "value": [float(i % 90) for i in ids], "note": [f"n{i}" for i in ids]}
    )


def test_the_same_rows_reuse_the_last_result(tmp_path: Path) -> None:
    first = S.run_suite(suite(), frame(), memo_dir=tmp_path)
    again = S.run_suite(suite(), frame(), memo_dir=tmp_path)
    assert (first.reused_batches, again.reused_batches) == (0, 1)
    assert again == first == S.run_suite(suite(), frame())


def test_row_order_and_unjudged_columns_do_not_matter(tmp_path: Path) -> None:
    S.run_suite(suite(), frame(), memo_dir=tmp_path)
    shuffled = frame().sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert S.run_suite(suite(), shuffled, memo_dir=tmp_path).reused_batches == 1
    renoted = frame().assign(note="another note")  # no expectation reads its values
    assert S.run_suite(suite(), renoted, memo_dir=tmp_path).reused_batches == 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda f: f.assign(value=f["value"].where(f["id"] != 3)), id="a null"),
        pytest.param(lambda f: f.assign(value=f["value"].replace(4.0, 400.0)), id="out of range"),
        pytest.param(lambda f: f.assign(id=f["id"].replace(5, 6)), id="a repeated key"),
        pytest.param(lambda f: f.assign(value=f["value"].astype("float32")), id="a type"),
        pytest.param(lambda f: f.head(49), id="a row fewer"),
    ],
)
def test_changed_rows_are_validated_again(tmp_path: Path, change) -> None:
    S.run_suite(suite(), frame(), memo_dir=tmp_path)
    changed = change(frame())
    outcome = S.run_suite(suite(), changed, memo_dir=tmp_path)
    assert outcome.reused_batches == 0
    assert outcome == S.run_suite(suite(), changed)


def test_floats_that_differ_only_in_their_last_bits_reuse_the_result(tmp_path: Path) -> None:
    # DuckDB's parallel sums: the same aggregate, a few units in the last place apart.
    S.run_suite(suite(), frame().assign(value=frame()["value"] / 3), memo_dir=tmp_path)
    noisy = frame().assign(value=(frame()["value"] / 3) * (1 + 4e-16))
    assert (noisy["value"] != frame()["value"] / 3).any()
    assert S.run_suite(suite(), noisy, memo_dir=tmp_path).reused_batches == 1
    moved = frame().assign(value=(frame()["value"] / 3) * (1 + 1e-9))  # a real change
    assert S.run_suite(suite(), moved, memo_dir=tmp_path).reused_batches == 0


def test_a_changed_suite_validates_again(tmp_path: Path) -> None:
    S.run_suite(suite(mostly=0.9), frame(), memo_dir=tmp_path)
    assert S.run_suite(suite(mostly=0.8), frame(), memo_dir=tmp_path).reused_batches == 0


def test_only_the_changed_batch_is_validated_and_the_memo_keeps_two_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = [frame(0), frame(50), frame(100)]
    monkeypatch.setattr(memo, "_THIS_RUN", 1)
    S.run_suite(suite(), iter(batches), memo_dir=tmp_path)
    # the middle batch gains a NULL key: the table fails, as a run without memo says
    changed = [batches[0], batches[1].assign(id=batches[1]["id"].where(batches[1]["id"] != 60)),
               batches[2]]  # fmt: skip
    monkeypatch.setattr(memo, "_THIS_RUN", 2)
    outcome = S.run_suite(suite(), iter(changed), memo_dir=tmp_path)
    assert outcome.reused_batches == 2
    assert not outcome.success
    assert outcome == S.run_suite(suite(), iter(changed))

    def kept() -> list[int]:
        stored = json.loads((tmp_path / "memo.json").read_text()).values()
        return sorted(entry["run"] for entry in stored)

    assert kept() == [1, 2, 2, 2]  # the first run's middle batch, until a run passes it by
    monkeypatch.setattr(memo, "_THIS_RUN", 3)
    assert S.run_suite(suite(), iter(changed), memo_dir=tmp_path).reused_batches == 3
    assert kept() == [3, 3, 3]


def test_every_column_set_of_one_landing_keeps_its_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A landing whose columns changed between loads is validated once per column set, under one
    suite: the second group's validation must not evict the first group's batches."""
    old_columns, new_columns = frame(0), frame(50).rename(columns={"note": "remark"})
    for run in (1, 2):
        monkeypatch.setattr(memo, "_THIS_RUN", run)
        reused = [
            S.run_suite(suite(), group, memo_dir=tmp_path).reused_batches
            for group in (old_columns, new_columns)
        ]
        assert reused == ([0, 0] if run == 1 else [1, 1])
    assert len(json.loads((tmp_path / "memo.json").read_text())) == 2
