"""Suites validated in worker processes that have Great Expectations imported before they start.

Importing ``great_expectations`` takes about 3-4 s of one core, and a run's first suite used to
pay it on the path every step waits on. Workers are forked from a fork server (Python's
``forkserver`` start method) that imports GX once, as the run begins (``suite_workers``, entered
by ``crimemap run``): the import runs on the core the landing leaves free. The run's process
never imports GX.

Every suite of a run goes through the run's workers, one per core, which serve the whole run:
a source's suite (``run_in_worker``, while the step waits for its outcome) and a step's
independent mart suites (``map_in_workers``, side by side: GX spends about 9 ms of Python per
expectation and batch whatever the data's size, so one core took 5-9 s for the mart suites while
the other idled). A worker that lives for the run sets GX up once; one started for a single
suite costs about 60 ms more. A worker receives a function of ``crimemap.quality`` and its
arguments by pickle and reads its own data: it shares no connection and no thread with the
run's process, and keeps none open between jobs. Outside ``crimemap run`` (a run launched from
the UI, a test) each call starts workers of its own from the same fork server; where there is
no ``forkserver`` (Windows), suites run in the calling process.

A worker reports the CPU time and peak memory it used (``finished_usage``): the run's step
timings count them in the step that waited for it. The fork server is the run's child; it is
stopped and waited for when the run ends, so the run's own CPU time counts every worker too.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

MAX_WORKERS = 4  # each holds its batch in pandas (up to about 250 MB, quality/batches.py)
# What the fork server imports before it forks a worker: GX and what every suite runs on.
PRELOAD = (
    "great_expectations",
    "great_expectations.expectations",
    "crimemap.quality.suites",
    "crimemap.quality.mart_validation",
)
# Set before GX is imported anywhere. Agencies run air-gapped: no analytics unless someone
# opts in explicitly.
GX_ENVIRONMENT = {"GX_ANALYTICS_ENABLED": "false"}

Result = TypeVar("Result")

# The workers of the running ``suite_workers`` block; None outside one.
_run_pool: ProcessPoolExecutor | None = None
# In the run's process: what the workers reported (CPU seconds, the largest peak MB). In a
# worker: the CPU seconds it has reported so far.
_finished = [0.0, 0.0]
_reported_cpu = 0.0


def gx_environment() -> None:
    for name, value in GX_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def worker_context() -> BaseContext | None:
    """The ``forkserver`` start method's context, its server preloading GX; None where the
    platform has none."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    gx_environment()  # the fork server's environment is this process's as it starts
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=worker_context())


@contextmanager
def suite_workers() -> Iterator[None]:
    """The suites' workers for the block (a pipeline run): the fork server starts now and
    imports GX; workers are forked from it as the suites need them and serve every suite of the
    block. All are stopped and waited for at the end."""
    global _run_pool
    if worker_context() is None:
        yield
        return
    forkserver.ensure_running()
    _run_pool = new_pool(min(cores(), MAX_WORKERS))
    try:
        yield
    finally:
        pool, _run_pool = _run_pool, None
        pool.shutdown(wait=True, cancel_futures=True)
        # CPython's own way to stop its fork server (its tests use it): then waited for.
        stop = getattr(forkserver._forkserver, "_stop", None)
        if callable(stop):
            stop()


def parallel_workers(jobs: int) -> int:
    """How many worker processes ``jobs`` independent suites get; 0: run them in this process
    (no ``forkserver``)."""
    if worker_context() is None or jobs < 1:
        return 0
    return min(jobs, cores(), MAX_WORKERS)


def measured(function: Callable[..., Result], *args: Any) -> tuple[Result, float, float]:
    """In a worker: ``function(*args)``, with the CPU seconds the worker used since it last
    reported and its peak MB."""
    global _reported_cpu
    result = function(*args)
    usage = resource.getrusage(resource.RUSAGE_SELF)  # a forked process starts at zero
    cpu = usage.ru_utime + usage.ru_stime
    spent, _reported_cpu = cpu - _reported_cpu, cpu
    return result, spent, usage.ru_maxrss / 1024


def finished_usage() -> tuple[float, float]:
    """CPU seconds of every worker's finished jobs so far, and the largest worker's peak MB."""
    return _finished[0], _finished[1]


def _results(
    pool: Executor, function: Callable[..., Result], jobs: Sequence[tuple[Any, ...]]
) -> list[Result]:
    futures = [pool.submit(measured, function, *job) for job in jobs]
    results = []
    for future in futures:
        result, cpu, peak = future.result()
        _finished[0] += cpu
        _finished[1] = max(_finished[1], peak)
        results.append(result)
    return results


def map_in_workers(
    function: Callable[..., Result], jobs: Sequence[tuple[Any, ...]], workers: int
) -> list[Result]:
    """``function(*job)`` for each job in worker processes (the run's, else ``workers`` of
    their own); the results in the jobs' order. An exception in a worker is raised here, with
    the worker's traceback as its cause."""
    global _run_pool
    if _run_pool is None:
        with new_pool(workers) as pool:
            return _results(pool, function, jobs)
    try:
        return _results(_run_pool, function, jobs)
    except BrokenProcessPool:
        # A worker died (killed, out of memory): this step fails, the run's next suites get
        # new workers.
        broken, _run_pool = _run_pool, new_pool(min(cores(), MAX_WORKERS))
        broken.shutdown(wait=False, cancel_futures=True)
        raise


def run_in_worker(function: Callable[..., Result], *args: Any) -> Result:
    """``function(*args)`` in a worker process, or here where there are none."""
    if not parallel_workers(1):
        return function(*args)
    (result,) = map_in_workers(function, [args], 1)
    return result
