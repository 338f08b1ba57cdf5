"""One run at a time per data directory; what a killed run leaves is cleared by the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.storage.dagster_run import DagsterRun

from crimemap.core.run_lock import DataDirectoryBusy, data_directory_lock, lock_path
from crimemap.orchestration.runs import RUN_PID_TAG, fail_dead_runs

pytestmark = pytest.mark.integration

HOLD = """
import sys, time
from pathlib import Path
from crimemap.core.run_lock import data_directory_lock
with data_directory_lock(Path(sys.argv[1]), command="holder"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(data_dir: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the data directory (it says so once it holds it)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data_dir), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, 60)
    try:
        started = time.monotonic()
        with (
            pytest.raises(DataDirectoryBusy, match=rf"another run \(pid {holder.pid}, started "),
            data_directory_lock(tmp_path, command="second"),
        ):
            pass
        assert time.monotonic() - started < 2
    finally:
        holder.kill()
        holder.wait()


def test_a_waiting_run_starts_when_the_holder_ends(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, 1.5)
    heard: list[str] = []
    try:
        with data_directory_lock(tmp_path, command="second", wait_seconds=30, on_wait=heard.append):
            assert f'"pid": {os.getpid()}' in lock_path(tmp_path).read_text()
    finally:
        holder.wait()
    assert len(heard) == 1 and heard[0].startswith(f"waiting for another run (pid {holder.pid}")


def test_waiting_gives_up_after_its_timeout(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, 60)
    try:
        with (
            pytest.raises(DataDirectoryBusy, match=r"after waiting 1 s"),
            data_directory_lock(tmp_path, command="second", wait_seconds=1),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()

    with data_directory_lock(tmp_path, command="next"):
        pass


def test_crimemap_run_refuses_a_busy_data_directory_before_any_work(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    holder = hold_lock(data_dir, 60)
    try:
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "crimemap.orchestration.cli",
                "run",
                "--data-dir",
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.kill()
        holder.wait()

    assert completed.returncode == 75
    assert completed.stderr.strip().splitlines() == [
        f"crimemap: another run (pid {holder.pid}, started "
        + completed.stderr.split("started ", 1)[1].split(")", 1)[0]
        + f") holds the data directory {data_dir}; let it finish, or pass --wait SECONDS to "
        "wait for it"
    ]
    assert not (data_dir / "raw").exists()  # nothing was landed


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_runs_whose_process_died_are_marked_failed(tmp_path: Path) -> None:
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        dead = DagsterRun(
            job_name="crimemap_pipeline",
            run_id=str(uuid.uuid4()),
            status=DagsterRunStatus.STARTED,
            tags={RUN_PID_TAG: str(dead_pid())},
        )
        alive = DagsterRun(
            job_name="crimemap_pipeline",
            run_id=str(uuid.uuid4()),
            status=DagsterRunStatus.STARTED,
            tags={RUN_PID_TAG: str(os.getpid())},
        )
        for run in (dead, alive):
            instance.add_run(run)

        assert fail_dead_runs(instance) == [dead.run_id]

        dead_after = instance.get_run_by_id(dead.run_id)
        alive_after = instance.get_run_by_id(alive.run_id)
        assert dead_after is not None and dead_after.status == DagsterRunStatus.FAILURE
        assert alive_after is not None and alive_after.status == DagsterRunStatus.STARTED
        assert fail_dead_runs(instance) == []  # once
