"""Work side by side on scratch cursors: in order, each thread on its own, stopped by an error."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from crimemap.core.parallel import map_on_scratch_cursors


def test_work_on_scratch_cursors_keeps_the_items_order_and_each_threads_temp_tables() -> None:
    """A temp table one thread's cursor creates is not another's: every item sees only the
    rows its own thread stored, and the results come back in the items' order."""

    def work(con: duckdb.DuckDBPyConnection, item: int) -> tuple[int, set[int], int]:
        thread = threading.get_ident()
        con.execute("CREATE TEMP TABLE IF NOT EXISTS mine (thread UBIGINT)")
        con.execute("INSERT INTO mine VALUES (?)", [thread])
        time.sleep(0.01)  # so the threads interleave
        seen = {row[0] for row in con.execute("SELECT DISTINCT thread FROM mine").fetchall()}
        return item * item, seen, thread

    results = map_on_scratch_cursors(work, list(range(9)), threads=3)
    assert [square for square, _, _ in results] == [i * i for i in range(9)]
    assert all(seen == {thread} for _, seen, thread in results)
    assert len({thread for _, _, thread in results}) == 3


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
