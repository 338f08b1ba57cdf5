"""The data directory's Dagster instance: Dagster's SQLite files, its event log kept open.

The storage must stay Dagster's in everything but speed: a run's events reach its database file
as they happen (the UI follows a running run by watching that file), another process reads them
while the writer's connection is open, an older data directory's history reads on, and nothing
is left open once the instance is disposed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from dagster import (
    AssetCheckResult,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    asset,
    asset_check,
    materialize,
)
from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.dagster_run import DagsterRun

from crimemap.config.paths import DataPaths
from crimemap.orchestration.cli import (
    EVENT_BATCH_SIZE,
    dagster_instance_yaml,
    prepare_dagster_home,
)
from crimemap.orchestration.instance_storage import OpenConnectionEventLogStorage

pytestmark = pytest.mark.integration


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unset"))  # restored after the test
    prepare_dagster_home(DataPaths(tmp_path))
    return tmp_path / "dagster"


def new_run(instance: DagsterInstance) -> DagsterRun:
    run = DagsterRun(job_name="job", run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED)
    instance.add_run(run)
    return run


@asset
def counted() -> int:
    return 1


def test_the_data_directorys_instance_uses_the_open_connection_storage(dagster_home: Path) -> None:
    assert (dagster_home / "dagster.yaml").read_text() == dagster_instance_yaml(dagster_home)
    with DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, OpenConnectionEventLogStorage)
        assert materialize([counted], instance=instance).success
        (record,) = instance.fetch_materializations(counted.key, limit=10).records
        assert record.asset_key == counted.key
    # Dagster's own layout: the run's database and the index, and no WAL left open.
    files = sorted(p.name for p in (dagster_home / "history" / "runs").iterdir())
    assert files == sorted([f"{record.run_id}.db", "index.db"])


def test_a_reader_without_dagster_home_opens_the_instance_from_its_folder(
    dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DagsterInstance.get() as instance:
        assert materialize([counted], instance=instance).success
    monkeypatch.delenv("DAGSTER_HOME")
    with DagsterInstance.from_config(str(dagster_home)) as reader:
        assert isinstance(reader.event_log_storage, OpenConnectionEventLogStorage)
        assert len(reader.get_runs()) == 1


def test_a_watcher_sees_each_event_of_a_running_run_as_it_is_stored(dagster_home: Path) -> None:
    # The UI's live view of a run: another instance watches the run's database file.
    with DagsterInstance.get() as writer, DagsterInstance.get() as watcher:
        run = new_run(writer)
        writer.report_engine_event("first", run)  # the run's database exists before the watch
        seen: list[str] = []
        arrived = threading.Event()

        def on_event(entry: object, _cursor: str) -> None:
            seen.append(str(getattr(entry, "message", "")))
            arrived.set()

        watcher.watch_event_logs(run.run_id, None, on_event)
        try:
            for message in ("second", "third"):
                arrived.clear()
                writer.report_engine_event(message, run)
                assert arrived.wait(timeout=10), f"the watcher never saw {message!r}"
                assert seen[-1] == message
        finally:
            watcher.end_watch_event_logs(run.run_id, on_event)


def test_another_process_reads_events_while_the_writer_keeps_its_connection(
    dagster_home: Path,
) -> None:
    with DagsterInstance.get() as writer:
        run = new_run(writer)
        for i in range(5):
            writer.report_engine_event(f"event {i}", run)
        with DagsterInstance.get() as reader:
            messages = [r.message for r in reader.all_logs(run.run_id)]
        assert messages == [f"event {i}" for i in range(5)]
        writer.report_engine_event("after the reader", run)  # the writer's connection still works
        assert writer.all_logs(run.run_id)[-1].message == "after the reader"


def test_an_older_data_directorys_history_reads_after_its_yaml_is_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # Dagster's default
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as old:
        assert type(old.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert materialize([counted], instance=old).success
        run_id = old.get_runs(limit=1)[0].run_id
        events = len(old.all_logs(run_id))

    prepare_dagster_home(DataPaths(tmp_path))

    assert (home / "dagster.yaml").read_text() == dagster_instance_yaml(home)
    with DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, OpenConnectionEventLogStorage)
        assert len(instance.all_logs(run_id)) == events
        (record,) = instance.fetch_materializations(counted.key, limit=10).records
        assert record.run_id == run_id


def test_wiping_the_history_closes_the_connections_to_the_deleted_files(
    dagster_home: Path,
) -> None:
    with DagsterInstance.get() as instance:
        run = new_run(instance)
        instance.report_engine_event("before", run)
        shard = dagster_home / "history" / "runs" / f"{run.run_id}.db"
        instance.wipe()
        assert not shard.exists()
        instance.report_engine_event("after", run)  # a new file, not the deleted one
        assert shard.exists()
        assert [r.message for r in instance.all_logs(run.run_id)] == ["after"]


def test_a_dagster_yaml_of_the_users_own_is_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unset"))  # restored after the test
    own = "telemetry:\n  enabled: true\nrun_monitoring:\n  enabled: true\n"
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text(own)
    prepare_dagster_home(DataPaths(tmp_path))
    assert (tmp_path / "dagster" / "dagster.yaml").read_text() == own
    # crimemap's own file, written for another folder (a moved data directory), is updated
    moved = dagster_instance_yaml(tmp_path / "elsewhere")
    (tmp_path / "dagster" / "dagster.yaml").write_text(moved)
    prepare_dagster_home(DataPaths(tmp_path))
    current = (tmp_path / "dagster" / "dagster.yaml").read_text()
    assert current == dagster_instance_yaml((tmp_path / "dagster").resolve())


def planned(run: DagsterRun, asset_name: str) -> EventLogEntry:
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
        job_name=run.job_name,
        event_specific_data=AssetMaterializationPlannedData(AssetKey(asset_name)),
    )
    return EventLogEntry(
        error_info=None,
        level=logging.DEBUG,
        user_message="",
        run_id=run.run_id,
        timestamp=time.time(),
        dagster_event=event,
        job_name=run.job_name,
    )


def test_a_batch_of_events_is_stored_whole_or_not_at_all(dagster_home: Path) -> None:
    with DagsterInstance.get() as instance:
        run = new_run(instance)
        storage = instance.event_log_storage
        storage.store_event_batch([planned(run, "a"), planned(run, "b")])
        stored = [r.dagster_event.asset_key for r in instance.all_logs(run.run_id)]
        assert stored == [AssetKey("a"), AssetKey("b")]
        # The index file has them too (the UI's "planned" state of each asset).
        assert instance.get_latest_planned_materialization_info(AssetKey("b")) is not None

        broken = [planned(run, "c"), planned(run, "d"), "not an event"]
        with pytest.raises(Exception, match="EventLogEntry"):
            storage.store_event_batch(broken)  # type: ignore[list-item]
        assert len(instance.all_logs(run.run_id)) == 2  # c and d were rolled back with it
        assert instance.get_latest_planned_materialization_info(AssetKey("c")) is None
        # The storage is usable after a failed batch.
        instance.report_engine_event("after the failed batch", run)
        assert instance.all_logs(run.run_id)[-1].message == "after the failed batch"


@asset_check(asset=counted)
def counted_is_one() -> AssetCheckResult:
    return AssetCheckResult(passed=True)


def test_a_runs_planned_events_reach_the_storage_as_one_batch(
    dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == str(EVENT_BATCH_SIZE)  # set with the home
    batches: list[list[str]] = []
    store_batch = OpenConnectionEventLogStorage.store_event_batch

    def recording(self: OpenConnectionEventLogStorage, events: list[EventLogEntry]) -> None:
        batches.append([e.dagster_event_type.value for e in events if e.dagster_event_type])
        store_batch(self, events)

    monkeypatch.setattr(OpenConnectionEventLogStorage, "store_event_batch", recording)
    with DagsterInstance.get() as instance:
        result = materialize([counted, counted_is_one], instance=instance)
        assert result.success
        kinds = [r.dagster_event_type for r in instance.all_logs(result.run_id)]
    assert [sorted(kinds) for kinds in batches] == [
        ["ASSET_CHECK_EVALUATION_PLANNED", "ASSET_MATERIALIZATION_PLANNED"]
    ]
    assert DagsterEventType.ASSET_MATERIALIZATION_PLANNED in kinds
    assert DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED in kinds
