"""The dbt parse a run starts early (crimemap/warehouse/dbt_parse.py) is one the build reuses,
a current parse is not started again, and a parse no build waited for is stopped.

Real dbt: each parse is a ``dbt parse`` of the project. Whether dbt reused a saved parse is read
from its structured log: event I024 (``UnableToPartialParse``) says it parsed everything again.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import prepare_extension_directory
from crimemap.core.project import DBT_PROJECT_DIR
from crimemap.warehouse import dbt_parse
from crimemap.warehouse.dbt_parse import (
    early_parse,
    parse_environment,
    parse_inputs_digest,
    parse_is_current,
    start_parse,
    wait_for_parse,
)
from crimemap.warehouse.dbt_server import dbt_executable

VARS = {"min_population": 250, "start_month": "2024-01-01"}
FULL_PARSE_EVENT = "I024"


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DataPaths]:
    paths = DataPaths(tmp_path / "data")
    paths.root.mkdir()
    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(paths.root))
    monkeypatch.setenv(
        "CRIMEMAP_DUCKDB_EXTENSION_DIR", str(prepare_extension_directory(paths.extension_dir))
    )
    monkeypatch.setenv("CRIMEMAP_DUCKDB_MEMORY_LIMIT", "1.0GB")
    yield paths
    assert not dbt_parse._pending, "a test left a parse registered"


def dbt_events(target: Path, *args: str) -> list[dict]:
    """Run dbt on ``target`` as a build would (dagster-dbt's environment, JSON log lines) and
    return its log events."""
    env = {**parse_environment(target), "DBT_LOG_FORMAT": "json"}
    done = subprocess.run(
        [str(dbt_executable()), *args],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def parsed_everything(events: list[dict]) -> bool:
    return any(event["info"]["code"] == FULL_PARSE_EVENT for event in events)


def test_dbt_reuses_the_early_parse_even_with_another_memory_limit(
    paths: DataPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    early = start_parse(paths, VARS)
    assert early is not None
    outcome = wait_for_parse(paths.dbt_target)
    assert outcome is not None and outcome.succeeded
    assert (paths.dbt_target / "partial_parse.msgpack").exists()
    # The memory limit is sized at the build, after the parse: it is not parse state.
    monkeypatch.setenv("CRIMEMAP_DUCKDB_MEMORY_LIMIT", "1.3GB")
    assert not parsed_everything(dbt_events(paths.dbt_target, "parse", "--vars", json.dumps(VARS)))
    # Other vars are: this is what the early parse saves a build from.
    other = {**VARS, "min_population": 400}
    assert parsed_everything(dbt_events(paths.dbt_target, "parse", "--vars", json.dumps(other)))


def test_a_current_parse_is_not_started_again(paths: DataPaths) -> None:
    assert start_parse(paths, VARS) is not None
    assert wait_for_parse(paths.dbt_target) is not None
    assert start_parse(paths, VARS) is None
    assert wait_for_parse(paths.dbt_target) is None
    # other vars: the saved parse is not current
    with early_parse(paths, {**VARS, "min_population": 400}) as changed:
        assert changed is not None


def test_a_parse_no_build_waited_for_is_stopped_when_the_run_ends(paths: DataPaths) -> None:
    with early_parse(paths, VARS) as early:
        assert early is not None
        assert early.process.poll() is None
    assert early.process.returncode is not None
    # stopped, not finished: no stamp says a saved parse is current
    assert not parse_is_current(paths.dbt_target, parse_inputs_digest(VARS))


def test_the_build_sets_the_sized_memory_limit(paths: DataPaths) -> None:
    """The limit comes from the on-run-start hook (dbt_project/macros/session.sql): a build
    that loads one seed runs it, with the limit of the environment."""
    events = dbt_events(
        paths.dbt_target,
        "--log-level",
        "debug",
        "seed",
        "--select",
        "category_descriptions",
        "--vars",
        json.dumps(VARS),
    )
    statements = [
        event["data"]["sql"]
        for event in events
        if event["info"]["name"] == "SQLQuery" and "memory_limit" in event["data"].get("sql", "")
    ]
    assert statements, "no statement set the memory limit"
    assert statements[0].rstrip().endswith("set memory_limit = '1.0GB'")
