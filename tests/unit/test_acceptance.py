"""The accepted share of a load: ERROR and WARN below their shares, naming the dominant reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from crimemap.quality.acceptance import judge_acceptance, load_acceptance
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
