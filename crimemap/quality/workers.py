"""Suites validated in worker processes that have Great Expectations imported before they start.

Importing ``great_expectations`` takes about 3-4 s of one core, and a run's first suite used to
pay it on the path every step waits on. Workers are forked from a fork server (Python's
``forkserver`` start method) that imports GX once, as the run begins (``start_workers``, called
by ``crimemap run``): the import runs on the core the landing leaves free, and each worker then
starts in milliseconds with GX already loaded. The run's process never imports GX.

Every suite of a run goes through workers: a source's suite (``run_in_worker``, one worker,
while the step waits for its outcome) and a step's independent mart suites
(``map_in_workers``, as many at a time as the machine has cores: GX spends about 9 ms of Python
per expectation and batch whatever the data's size, so one core took 5-9 s for the mart suites
while the other idled). A worker receives a function of ``crimemap.quality`` and its arguments
by pickle and reads its own data: it shares nothing with the run's process, no connection, no
thread. Where there is no ``forkserver`` (Windows), suites run in the calling process.

A worker reports the CPU time and peak memory it used (``finished_usage``): the run's step
timings count them in the step that waited for it. The fork server is the run's child; it is
stopped and waited for when the run ends (``stop_workers``), so the run's own CPU time counts
every worker too.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
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


def start_workers() -> bool:
    """Start the fork server now, so that GX is imported by the time the first suite runs;
    False where there is none."""
    if worker_context() is None:
        return False
    forkserver.ensure_running()
    return True


def stop_workers() -> None:
    """Stop the fork server, if one runs, and wait for it (its CPU time and its workers' then
    count in this process's children's)."""
    server = forkserver._forkserver
    stop = getattr(server, "_stop", None)  # CPython's own, used by its tests
    if callable(stop):
        stop()


@contextmanager
def suite_workers() -> Iterator[None]:
    """The fork server for the block (a pipeline run), started now; stopped at the end."""
    started = start_workers()
    try:
        yield
    finally:
        if started:
            stop_workers()


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parallel_workers(jobs: int) -> int:
    """How many worker processes ``jobs`` independent suites get; 0: run them in this process
    (no ``forkserver``)."""
    if worker_context() is None or jobs < 1:
        return 0
    return min(jobs, cores(), MAX_WORKERS)


def measured(function: Callable[..., Result], *args: Any) -> tuple[Result, float, float]:
    """In a worker: ``function(*args)``, with the CPU seconds the worker used since it last
    reported (its set-up included) and its peak MB."""
    global _reported_cpu
    result = function(*args)
    usage = resource.getrusage(resource.RUSAGE_SELF)  # a forked process starts at zero
    cpu = usage.ru_utime + usage.ru_stime
    spent, _reported_cpu = cpu - _reported_cpu, cpu
    return result, spent, usage.ru_maxrss / 1024


def finished_usage() -> tuple[float, float]:
    """CPU seconds of every worker's finished jobs so far, and the largest worker's peak MB."""
    return _finished[0], _finished[1]


def _collect(outcome: tuple[Result, float, float]) -> Result:
    result, cpu, peak = outcome
    _finished[0] += cpu
    _finished[1] = max(_finished[1], peak)
    return result


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
        futures = [pool.submit(measured, function, *job) for job in jobs]
        return [_collect(future.result()) for future in futures]


def run_in_worker(function: Callable[..., Result], *args: Any) -> Result:
    """``function(*args)`` in a worker process, or here where there are none."""
    if not parallel_workers(1):
        return function(*args)
    (result,) = map_in_workers(function, [args], 1)
    return result
