"""Writing files whole or not at all: the one way crimemap replaces a file.

A file is written beside its target under a temporary name and renamed over it, so a reader
sees the old file or the complete new one, never a partial write. ``durable`` also fsyncs the
file before the rename and the directory after it, so the new file survives a power cut: the
published releases need that; derived working files, which a re-run rewrites, do not.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Persist a rename/creation in ``directory`` (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """Persist every directory under ``directory`` (deepest first) and ``directory`` itself."""
    for sub in sorted((p for p in Path(directory).rglob("*") if p.is_dir()), reverse=True):
        fsync_directory(sub)
    fsync_directory(directory)


@contextlib.contextmanager
def atomic_output(path: Path, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        if durable:
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        fsync_directory(path.parent)


def write_atomic(path: Path, write: Callable[[Path], object], *, durable: bool = False) -> None:
    """Write ``path`` through ``write(temporary_path)``, whole or not at all."""
    with atomic_output(path, durable=durable) as tmp:
        write(tmp)
