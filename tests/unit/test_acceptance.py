"""The accepted share of a load: ERROR and WARN below their shares, naming the dominant reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from crimemap.quality.acceptance import (
    AcceptanceVerdict,
    LoadAcceptance,
    combined,
    judge_acceptance,
    judge_loads,
    load_acceptance,
)
from crimemap.quality.rules import ReasonExample, SplitResult

DATE_RULE = ReasonExample(
    "Offense Start DateTime blank or not in ['%m/%d/%Y %I:%M:%S %p']",
    "Offense Start DateTime",
    "2024-07-01T13:05:00",
)


def month(raw: int, accepted: int, **by_reason: int) -> SplitResult:
    examples = {"date_unparseable": DATE_RULE} if "date_unparseable" in by_reason else {}
    return SplitResult(
        source="spd",
        raw_rows=raw,
        clean_rows=accepted,
        quarantined_rows=raw - accepted,
        by_reason=by_reason,
        by_code=by_reason,
        quarantine_path=Path("q.parquet"),
        examples=examples,
    )


def judged(*months: SplitResult) -> tuple[str | None, str]:
    verdict = judge_acceptance(load_acceptance("spd", months), error_below=0.5, warn_below=0.9)
    return verdict.severity, verdict.message


def test_a_load_of_unparseable_dates_stops_naming_the_reason_and_a_value() -> None:
    severity, message = judged(
        month(300, 0, date_unparseable=296, coordinates_zero=4),
        month(200, 6, date_unparseable=194),
    )

    assert severity == "ERROR"
    assert message == (
        "spd: only 6 of 500 rows accepted (1.2%), below 50%; mostly date_unparseable: 490 rows "
        "(Offense Start DateTime blank or not in ['%m/%d/%Y %I:%M:%S %p']; example Offense Start "
        "DateTime: '2024-07-01T13:05:00')"
    )


@pytest.mark.parametrize(
    ("accepted", "severity"),
    [(499, None), (450, None), (449, "WARN"), (250, "WARN"), (249, "ERROR")],
)
def test_the_shares_bound_the_severity(accepted: int, severity: str | None) -> None:
    assert judged(month(500, accepted, coordinates_missing=500 - accepted))[0] == severity


def test_a_reason_without_a_field_is_described_without_an_example() -> None:
    split = month(10, 1, out_of_jurisdiction=9)
    split.examples["out_of_jurisdiction"] = ReasonExample("point outside the jurisdiction")

    _, message = judged(split)

    assert message.endswith("mostly out_of_jurisdiction: 9 rows (point outside the jurisdiction)")


def test_an_empty_load_is_not_judged() -> None:
    assert judged(month(0, 0)) == (None, "spd: no rows in this load")


def test_a_blank_value_is_shown_as_blank() -> None:
    assert ReasonExample("key blank", "Report Number", None).text == (
        "key blank; example Report Number: blank"
    )


def wave(name: str, raw: int, accepted: int, **by_reason: int) -> LoadAcceptance:
    return load_acceptance(name, [replace(month(raw, accepted, **by_reason), source=name)])


def test_each_survey_wave_is_judged_on_its_own() -> None:
    good = [wave(f"wave{i}", 500, 490, value_invalid=10) for i in range(1, 5)]
    broken = wave("wave5", 40, 4, missing_key=36)
    # Together 1,964 of 2,040 (96%) would pass; the broken wave is named instead.
    verdict = judge_loads("surveys", [*good, broken], error_below=0.5, warn_below=0.9)
    assert verdict.severity == "ERROR"
    assert verdict.message == (
        "wave5: only 4 of 40 rows accepted (10.0%), below 50%; mostly missing_key: 36 rows"
    )
    passing = judge_loads("surveys", good, error_below=0.5, warn_below=0.9)
    assert passing == AcceptanceVerdict(None, "surveys: 1,960 of 2,000 rows accepted in 4 files")
    total = combined("surveys", [*good, broken])
    assert (total.raw_rows, total.accepted_rows, dict(total.by_reason)) == (
        2040,
        1964,
        {"value_invalid": 40, "missing_key": 36},
    )
