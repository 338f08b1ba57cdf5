"""The ``crimemap`` command: the police partitions a run loads, the arguments dbt gets."""

from __future__ import annotations

import json
import re

import pytest

from crimemap.orchestration.cli import build_parser, dbt_command, month_range

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


def test_dbt_gets_the_jurisdiction_vars_unless_given() -> None:
    """``crimemap dbt -- build`` builds what a run builds (the YAML's initiatives included)."""
    settings = {"initiatives": [{"name": "Pilot", "areas": ["1"], "start_month": "2025-07-01"}]}
    command = dbt_command(["build", "--select", "initiative_impact"], settings)
    assert command[:3] == ["build", "--select", "initiative_impact"]
    assert json.loads(command[command.index("--vars") + 1]) == settings
    assert "--project-dir" in command and "--profiles-dir" in command
    given = dbt_command(["run", "--vars", "{}"], settings)
    assert given.count("--vars") == 1 and given[2] == "{}"
    assert "--vars" not in dbt_command(["clean"], settings)


def test_version_names_the_package_and_commit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert re.fullmatch(
        r"crimemap \d+\.\d+\.\d+(\+g[0-9a-f]{12}(\.dirty)?)?\n", capsys.readouterr().out
    )
