"""Writing files whole or not at all: the one way crimemap replaces a file.

A file is written beside its target under a temporary name and renamed over it, so a reader
sees the old file or the complete new one, never a partial write. ``durable`` also fsyncs the
file before the rename and the directory after it, so the new file survives a power cut: the
published releases need that; derived working files, which a re-run rewrites, do not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
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


def is_leftover(path: Path) -> bool:
    """A name only an interrupted write leaves: a ``.staging`` directory, a hidden ``.tmp`` file
    beside its target (``atomic_output``) or a ``.tmp-`` scratch entry."""
    name = path.name
    return (
        name == ".staging"
        or (name.startswith(".") and name.endswith(".tmp"))
        or (name.startswith(".tmp-"))
    )


def sweep_leftovers(root: Path) -> list[Path]:
    """Remove what interrupted writes left under ``root``.

    Only safe while no writer runs: call it holding the data directory's run lock.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for directory, folders, files in os.walk(root):
        here = Path(directory)
        for name in [*folders, *files]:
            path = here / name
            if is_leftover(path):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
        folders[:] = [f for f in folders if not is_leftover(here / f)]
    return removed
