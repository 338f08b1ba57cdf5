"""``crimemap run --months``: which police partitions a run loads."""

from __future__ import annotations

import pytest

from orchestration.cli import month_range

KEYS = [f"2025-{m:02d}-01" for m in range(1, 13)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ("2025-01-01", "2025-12-01")),
        ("2025-03", ("2025-03-01", "2025-03-01")),
        ("2025-03:2025-05", ("2025-03-01", "2025-05-01")),
        ("2025-10:", ("2025-10-01", "2025-12-01")),
        (":2025-02", ("2025-01-01", "2025-02-01")),
    ],
)
def test_month_range(text: str | None, expected: tuple[str, str]) -> None:
    assert month_range(text, KEYS) == expected


@pytest.mark.parametrize("text", ["2024-12", "2025-01:2026-01", "2025-05:2025-02", "2025-3"])
def test_month_range_refuses_what_is_not_a_partition_range(text: str) -> None:
    with pytest.raises(SystemExit):
        month_range(text, KEYS)
