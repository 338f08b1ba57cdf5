"""The Dagster instance's SQLite storage, with each event database's connection kept open.

Dagster's SQLite event log creates an engine and opens a connection for every read and write,
then closes it. Closing the last connection to a WAL database checkpoints it and deletes its
WAL file, so every event paid for a checkpoint and a new connection: 6–7 ms an event, and a
run stores more than a thousand (a step start, each output, materialization and check, planned
and done). This storage keeps one connection per database file, used under the storage's own
lock as before, so events cost about 2 ms.

A running run's events must still reach its database file itself: the UI follows a run by
watching that file change, and a write kept open in the WAL would not change it. So each use
of a run's database ends with a passive checkpoint (cheap when nothing is pending).

Configured in the data directory's ``dagster.yaml`` (``crimemap.orchestration.cli``); the files
and their layout are Dagster's own, so a data directory's history reads the same either way.
The classes extend Dagster's SQLite storage through its internals (the version is pinned by
``uv.lock``); ``tests/integration/test_instance_storage.py`` checks them against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, SqliteStorageConfig
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, StaticPool


class OpenConnectionEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with one open connection per database file."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data=inst_data)
        self._engines: dict[str, Engine] = {}

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is None:
            url = self.conn_string_for_shard(shard)
            if shard not in self._initialized_dbs:
                # Creating the schema opens nested connections: a throwaway engine, as before.
                self._initdb(
                    create_engine(
                        url,
                        poolclass=NullPool,
                        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                    )
                )
                self._initialized_dbs.add(shard)
            # One connection, shared by the threads of a webserver; `_db_lock` serialises them.
            engine = create_engine(
                url,
                poolclass=StaticPool,
                connect_args={
                    "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                    "check_same_thread": False,
                },
            )
            self._engines[shard] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as conn:
            with conn.begin():
                yield conn
            if shard != INDEX_SHARD_NAME:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _close_connections(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        # Wiping deletes the run databases: no connection may outlive its file.
        self._close_connections()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._close_connections()


class OpenConnectionSqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage (runs, event logs, schedules), its event log kept
    open (``OpenConnectionEventLogStorage``)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = OpenConnectionEventLogStorage(self._event_log_storage._base_dir)

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: SqliteStorageConfig
    ) -> OpenConnectionSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
