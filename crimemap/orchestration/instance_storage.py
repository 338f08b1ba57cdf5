"""The Dagster instance's SQLite storage, with each event database's connection kept open.

Dagster's SQLite event log creates an engine and opens a connection for every read and write,
then closes it. Closing the last connection to a WAL database checkpoints it and deletes its
WAL file, so every event paid for a checkpoint and a new connection: 6–7 ms an event, and a
run stores more than a thousand (a step start, each output, materialization and check, planned
and done). This storage keeps one connection per database file, used under the storage's own
lock as before, so events cost about 2 ms. Its connections commit without waiting for the
disk (``synchronous=NORMAL``, safe in WAL mode: a power cut can lose the last events, never
corrupt a file), and a batch of events (a run's planned materializations and checks, stored
together when ``DAGSTER_EVENT_BATCH_SIZE`` is set) is one transaction per file, not one each.

A running run's events must still reach its database file itself: the UI follows a run by
watching that file change, and a write kept open in the WAL would not change it. So each use
of a run's database ends with a passive checkpoint (cheap when nothing is pending).

Configured in the data directory's ``dagster.yaml`` (``crimemap.orchestration.cli``); the files
and their layout are Dagster's own, so a data directory's history reads the same either way.
The classes extend Dagster's SQLite storage through its internals (the version is pinned by
``uv.lock``); ``tests/integration/test_instance_storage.py`` checks them against it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, SqliteStorageConfig
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, StaticPool


class OpenConnectionEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with one open connection per database file."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data=inst_data)
        self._engines: dict[str, Engine] = {}
        # While a batch is stored: its thread, and each file's connection in its transaction.
        self._batch_thread: int | None = None
        self._batch: dict[str, Connection] = {}

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
            sqlalchemy_event.listen(engine, "connect", _commit_without_waiting_for_disk)
            self._engines[shard] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        if self._batch_thread == threading.get_ident():
            yield self._batch_connection(shard)
            return
        with self._db_lock, self._engine(shard).connect() as conn:
            with conn.begin():
                yield conn
            if shard != INDEX_SHARD_NAME:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _batch_connection(self, shard: str) -> Connection:
        conn = self._batch.get(shard)
        if conn is None:
            conn = self._engine(shard).connect()
            conn.begin()
            self._batch[shard] = conn
        return conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Each event stored as ``store_event`` stores it, all in one transaction per database
        file; nothing is stored if one fails (Dagster then stores them one at a time)."""
        with self._db_lock:
            self._batch_thread = threading.get_ident()
            try:
                for entry in events:
                    self.store_event(entry)
                for conn in self._batch.values():
                    conn.commit()
            except BaseException:
                for conn in self._batch.values():
                    conn.rollback()
                raise
            finally:
                self._batch_thread = None
                batch, self._batch = self._batch, {}
                for shard, conn in batch.items():
                    if shard != INDEX_SHARD_NAME:
                        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                    conn.close()

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


def _commit_without_waiting_for_disk(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


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
