"""Work side by side on scratch cursors: in order, each thread on its own, stopped by an error."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from crimemap.core.parallel import map_on_scratch_cursors


def test_work_on_scratch_cursors_keeps_the_items_order_and_each_threads_temp_tables() -> None:
    """Each thread prepares its own cursor once; a temp table of one thread is not another's,
    so every item sees the value its own thread stored."""
    threads_seen: list[int] = []

    def prepare(con: duckdb.DuckDBPyConnection) -> None:
        threads_seen.append(threading.get_ident())
        con.execute("CREATE TEMP TABLE mine AS SELECT ? AS thread", [threading.get_ident()])

    def work(con: duckdb.DuckDBPyConnection, item: int) -> tuple[int, bool]:
        (thread,) = con.execute("SELECT thread FROM mine").fetchone() or (None,)
        time.sleep(0.01)  # so the threads interleave
        return item * item, thread == threading.get_ident()

    results = map_on_scratch_cursors(work, list(range(9)), threads=3, prepare=prepare)
    assert [square for square, _ in results] == [i * i for i in range(9)]
    assert all(own for _, own in results)
    assert len(threads_seen) == len(set(threads_seen)) == 3


def test_an_error_on_one_cursor_is_raised_and_stops_the_other_threads() -> None:
    done: list[int] = []

    def work(con: duckdb.DuckDBPyConnection, item: int) -> int:
        if item == 0:
            con.execute("SELECT * FROM no_such_table")
        time.sleep(0.05)
        done.append(item)
        return item

    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        map_on_scratch_cursors(work, list(range(20)), threads=2)
    # The failing thread took no more items; the other stopped at its next one.
    assert len(done) < 10
