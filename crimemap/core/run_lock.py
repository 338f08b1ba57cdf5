"""One run at a time per data directory.

Two runs landing, splitting and building into one data directory would overwrite each other's
files and meet at DuckDB's warehouse lock late in the run. A run therefore holds an exclusive
``flock`` on ``<data dir>/state/run.lock`` from before its first step to its end. The kernel
releases the lock when the holder exits, however it exits (a ``kill -9`` included), so a lock
is never left behind; the file only says who holds it (pid, start time, command).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = "run.lock"
POLL_SECONDS = 0.5


class DataDirectoryBusy(RuntimeError):
    """Another run holds the data directory."""


def lock_path(data_root: Path) -> Path:
    return data_root / "state" / LOCK_NAME


def holder_of(path: Path) -> str:
    """Who holds the lock, as the holder wrote it: ``pid N, started T``."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {holder['pid']}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def data_directory_lock(
    data_root: Path,
    *,
    command: str,
    wait_seconds: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the data directory for one run.

    Busy: with ``wait_seconds`` 0 raise ``DataDirectoryBusy`` at once, else wait that long
    (``on_wait`` hears once who is waited for) and raise when the time is up.
    """
    path = lock_path(data_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        told = False
        while not _try_lock(fd):
            holder = holder_of(path)
            if time.monotonic() >= deadline:
                waited = f" after waiting {wait_seconds:g} s" if wait_seconds else ""
                raise DataDirectoryBusy(
                    f"another run ({holder}) holds the data directory {data_root}{waited}; "
                    "let it finish, or pass --wait SECONDS to wait for it"
                )
            if on_wait is not None and not told:
                on_wait(f"waiting for another run ({holder}) to release {data_root}")
                told = True
            time.sleep(POLL_SECONDS)
        holder_text = json.dumps(
            {
                "pid": os.getpid(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": command,
            }
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder_text.encode("utf-8"), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
