"""Suites validated in worker processes, as many at a time as the machine has cores.

Great Expectations spends about 9 ms of Python per expectation and batch, on one core, whatever
the data's size: the mart suites (about 570 expectations) take 5-9 s while the other cores idle.
Suites are independent of each other, so a step with several runs them in worker processes
(``map_in_workers``), each reading its own table through the worker's own connection.

Workers are forked from the step's process: they start with what it has imported (GX, after the
source suites), so a worker costs milliseconds, not GX's import of about 3 s. What a fork must
not inherit, the caller leaves behind: no DuckDB connection to the file a worker opens may be
open in the parent when the workers start (``mart_validation`` closes its own first). Workers
are joined when the step's pool closes, so their CPU time counts as the process's children's.
Where there is no ``fork`` (Windows) or a single core, suites run in the calling process, one
after another (``parallel_workers`` is 0).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from crimemap.core.parallel import cores

MAX_WORKERS = 4  # each holds its batch in pandas (up to about 250 MB, quality/batches.py)

Result = TypeVar("Result")


def worker_context() -> BaseContext | None:
    """The ``fork`` start method's context; None where the platform has none."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


def parallel_workers(jobs: int) -> int:
    """How many worker processes ``jobs`` independent suites get; 0: run them in this process
    (one job, one core, or no ``fork``)."""
    workers = min(jobs, cores(), MAX_WORKERS)
    return workers if workers >= 2 and worker_context() is not None else 0


def map_in_workers(
    function: Callable[..., Result],
    jobs: Sequence[tuple[Any, ...]],
    workers: int,
    *,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> list[Result]:
    """``function(*job)`` for each job in ``workers`` worker processes, each set up once by
    ``initializer(*initargs)``; the results in the jobs' order. An exception in a worker is
    raised here, with the worker's traceback as its cause."""
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=worker_context(),
        initializer=initializer,
        initargs=initargs,
    ) as pool:
        futures = [pool.submit(function, *job) for job in jobs]
        return [future.result() for future in futures]
