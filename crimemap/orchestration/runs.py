"""Runs whose process died: marked failed instead of showing ``STARTED`` forever.

A run killed with ``kill -9`` (or lost with its machine) never writes its end. Dagster's run
monitoring cannot see it for runs launched in-process or by the default launcher, so
``crimemap run`` and ``crimemap ui`` look on start-up: a run still starting or started whose
process (the ``crimemap/pid`` tag of a ``crimemap run``, else the pid Dagster logged when the run
process started) no longer exists is reported failed, with the reason.
"""

from __future__ import annotations

import os

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.storage.dagster_run import DagsterRun

RUN_PID_TAG = "crimemap/pid"
UNFINISHED = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def run_pid(instance: DagsterInstance, run: DagsterRun) -> int | None:
    """The process a run executes in, if it is known."""
    if RUN_PID_TAG in run.tags:
        return int(run.tags[RUN_PID_TAG])
    records = instance.get_records_for_run(
        run.run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=20
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event is not None else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and str(pid.value).isdigit():
            return int(str(pid.value))
    return None


def fail_dead_runs(instance: DagsterInstance) -> list[str]:
    """Report every unfinished run whose process is gone as failed; their ids."""
    failed: list[str] = []
    for run in instance.get_runs(filters=RunsFilter(statuses=UNFINISHED)):
        pid = run_pid(instance, run)
        if pid is None or process_alive(pid):
            continue
        instance.report_run_failed(
            run, f"the process of this run (pid {pid}) is gone: it was killed or lost"
        )
        failed.append(run.run_id)
    return failed
