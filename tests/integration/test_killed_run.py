"""Runs killed with SIGKILL while landing, while dbt builds and while publishing: the next normal
run clears what they left (the `.staging` copy of the export, scratch files, a half-built
release), marks the killed runs failed instead of `STARTED`, and publishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from crimemap.core.files import is_leftover

pytestmark = pytest.mark.integration

INCIDENTS = "40000"  # enough rows that landing takes a moment to catch
TIMEOUT_S = 600


def run_command(data_dir: Path) -> list[str]:
    cli = [sys.executable, "-m", "crimemap.orchestration.cli"]
    return [*cli, "run", "--data-dir", str(data_dir), "--incidents", INCIDENTS]


def start_run(data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        run_command(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when(run: subprocess.Popen[str], moment: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not moment():
        assert run.poll() is None, f"the run ended before {what}: {run.stderr}"
        assert time.monotonic() < deadline, f"no {what} within {TIMEOUT_S} s"
        time.sleep(0.02)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()


def leftovers(data_dir: Path) -> list[Path]:
    work = [
        data_dir / d
        for d in ("sources", "raw", "quarantine", "conformed", "quality", "published", "state")
    ]
    return [p for folder in work if folder.exists() for p in folder.rglob("*") if is_leftover(p)]


def runs_with(data_dir: Path, status: DagsterRunStatus) -> int:
    with DagsterInstance.from_config(str(data_dir / "dagster")) as instance:
        return len(instance.get_runs(filters=RunsFilter(statuses=[status])))


def test_a_normal_run_recovers_from_runs_killed_while_landing_building_and_publishing(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    staging = data_dir / "raw" / "police" / "seattle_spd" / ".staging"
    releases = data_dir / "published" / "releases"

    landing = start_run(data_dir)
    kill_when(landing, lambda: any(staging.glob("*.parquet")), "landing")
    assert any(staging.glob("*.parquet"))  # the export's copy is left behind
    assert runs_with(data_dir, DagsterRunStatus.STARTED) == 1

    # The next run clears the landing's leftovers and marks it failed before it starts work.
    building = start_run(data_dir)
    kill_when(building, (data_dir / "warehouse.duckdb").exists, "dbt build")
    assert not staging.exists() or not any(staging.iterdir())
    assert runs_with(data_dir, DagsterRunStatus.FAILURE) == 1
    assert runs_with(data_dir, DagsterRunStatus.STARTED) == 1

    publishing = start_run(data_dir)
    kill_when(publishing, lambda: any(releases.glob(".tmp-*")), "publishing")
    assert any(releases.glob(".tmp-*"))  # a half-built release
    assert not (data_dir / "published" / "LATEST").exists()
    assert runs_with(data_dir, DagsterRunStatus.FAILURE) == 2
    assert runs_with(data_dir, DagsterRunStatus.STARTED) == 1

    recovery = subprocess.run(
        run_command(data_dir),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )

    assert recovery.returncode == 0, recovery.stderr[-3000:]
    assert recovery.stdout.count("had lost its process: marked failed") == 1
    assert leftovers(data_dir) == []
    assert runs_with(data_dir, DagsterRunStatus.STARTED) == 0
    assert runs_with(data_dir, DagsterRunStatus.FAILURE) == 3
    assert runs_with(data_dir, DagsterRunStatus.SUCCESS) == 1
    assert (data_dir / "published" / "LATEST").is_file()
    assert [p.name for p in releases.iterdir()] == [
        (data_dir / "published" / "LATEST").read_text().strip()
    ]
