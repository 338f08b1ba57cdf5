"""Independent pieces of work side by side, one per core."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import duckdb

from crimemap.core.duckdb_spatial import scratch

Item = TypeVar("Item")
Result = TypeVar("Result")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def map_on_scratch_cursors(
    work: Callable[[duckdb.DuckDBPyConnection, Item], Result],
    items: Sequence[Item],
    *,
    threads: int | None = None,
) -> list[Result]:
    """``work(cursor, item)`` for every item, on up to ``threads`` threads (one per core by
    default); the results in the items' order.

    A query on a few thousand rows keeps DuckDB's threads only partly busy, so independent
    pieces of work go faster side by side: DuckDB runs a query without holding Python's GIL.
    Each thread works on a cursor of its own of the process's ``scratch`` database (its temp
    tables are the thread's own), and takes the next item not yet taken.
    After an error, or when the caller is interrupted, no thread takes a new item; the error
    is raised here once the threads stop.
    """
    threads = max(1, min(threads or cores(), len(items)))
    results: dict[int, Result] = {}
    queue = iter(range(len(items)))
    taking = threading.Lock()
    stop = threading.Event()

    def take() -> int | None:
        with taking:
            return None if stop.is_set() else next(queue, None)

    def run() -> None:
        try:
            with database.cursor() as con:
                while (index := take()) is not None:
                    results[index] = work(con, items[index])
        except BaseException:
            stop.set()
            raise

    # The database is opened here, once, not by each thread at the same moment.
    with scratch() as database, ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            futures = [pool.submit(run) for _ in range(threads)]
            for future in futures:
                future.result()
        except BaseException:
            stop.set()
            raise
    return [results[index] for index in range(len(items))]
