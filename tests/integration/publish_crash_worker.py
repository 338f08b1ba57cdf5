"""A publisher that SIGKILLs itself at a chosen step, for tests/integration/test_publish_crash.py.

Run as ``python -m tests.integration.publish_crash_worker MODE PATH [options]`` from the
repository root:

- ``count``: publish normally, recording every durable step, and write the step list (JSON) to
  ``--steps-out``.
- ``kill``: publish and SIGKILL this process at step ``--kill-at`` (1-based).
- ``run``: publish normally (the test kills it from outside at a random moment).
- ``hold``: publish, but before the first layer (while holding the publisher lock) create
  ``--hold-dir/holding`` and wait until ``--hold-dir/go`` exists.
- ``read``: a BI reader: open the serving database ``PATH`` read-only, keep it open, and print
  (JSON, one line) what it sees now and again for every line read from stdin, until EOF.

A step is one call of a primitive that changes what is on disk or makes it durable: a Parquet
row-group write, a text-file write (manifest, ``LATEST.tmp``), ``os.fsync`` (files and
directories), ``os.replace``, ``os.rename``, ``os.link`` (a partition file the current release
already holds) and ``shutil.rmtree``. The kill happens before the
call, except where a torn result is the interesting state: after a row-group write (a Parquet file
without its footer), half-way through a text write, and half-way through a directory removal.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from crimemap.core.duckdb_spatial import connect
from crimemap.warehouse import publish
from crimemap.warehouse.publish import LayerSpec, publish_release

KEEP_RELEASES = 2
HOLD_TIMEOUT_S = 60.0
# Four months across a year boundary: the incidents layer gets four partition files.
FIRST_DAY = "2025-11-01"
DAYS = 120


def crash_layers(points: int = 2_000) -> tuple[LayerSpec, ...]:
    """A partitioned point layer, a polygon layer and a table (synthetic, no warehouse needed)."""
    day = f"(DATE '{FIRST_DAY}' + (i % {DAYS})::INTEGER)"
    incidents = LayerSpec(
        name="incidents",
        query=f"""
            SELECT i AS incident_id,
                   {day} AS occurred_date,
                   year({day})::INTEGER AS year,
                   month({day})::INTEGER AS month,
                   'offense_' || (i % 3) AS offense,
                   ST_Point(-87.70 + (i % 97) * 0.001, 41.80 + (i % 89) * 0.001) AS geometry
            FROM range({int(points)}) AS t(i)
            ORDER BY i
        """,
        spatial=True,
        description="Synthetic incidents",
        time_column="occurred_date",
        partition_by=("year", "month"),
    )
    tracts = LayerSpec(
        name="tracts",
        query="""
            SELECT 'T' || i AS tract_id, ST_Buffer(ST_Point(-87.7 + i * 0.01, 41.8), 0.004) AS geom
            FROM range(5) AS t(i)
            ORDER BY i
        """,
        spatial=True,
        description="Synthetic tracts",
        geometry_column="geom",
    )
    counts = LayerSpec(
        name="tract_counts",
        query="SELECT 'T' || i AS tract_id, i * 5 AS incidents FROM range(5) AS t(i) ORDER BY i",
        spatial=False,
        description="Synthetic counts by tract",
    )
    return (incidents, tracts, counts)


def _held(layer: LayerSpec, hold_dir: Path) -> LayerSpec:
    """``layer`` that first waits, under the publisher lock, for ``hold_dir/go``."""

    def wait_for_go(_con: duckdb.DuckDBPyConnection) -> None:
        (hold_dir / "holding").write_text(str(os.getpid()))
        deadline = time.monotonic() + HOLD_TIMEOUT_S
        while not (hold_dir / "go").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{hold_dir / 'go'} never appeared")
            time.sleep(0.02)

    return dataclasses.replace(layer, prepare=wait_for_go)


class Steps:
    """Counts durable steps and kills the process at the chosen one."""

    def __init__(self, published: Path, kill_at: int | None) -> None:
        self.published = str(published.resolve())
        self.kill_at = kill_at
        self.names: list[str] = []
        self.active = False

    def show(self, path: Any) -> str:
        text = os.fspath(path)
        if isinstance(text, bytes):
            text = text.decode()
        text = os.path.abspath(text)
        if text.startswith(self.published):
            text = "." + text[len(self.published) :]
        # Random parts of names (temp suffixes) would make step names differ between runs.
        return re.sub(r"\.[0-9a-f]{12}\.tmp$", ".<rand>.tmp", text)

    def reached(self, name: str, torn: Callable[[], None] | None = None) -> None:
        """Record a step; at the chosen one, leave the torn state (if any) and die."""
        if not self.active:
            return
        self.names.append(name)
        if len(self.names) == self.kill_at:
            if torn is not None:
                torn()
            os.kill(os.getpid(), signal.SIGKILL)


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return f"fd {fd}"


def _remove_one_file(path: Path) -> None:
    files = sorted(p for p in Path(path).rglob("*") if p.is_file())
    if files:
        files[0].unlink()


def install_hooks(steps: Steps) -> None:
    real_fsync, real_replace, real_rename, real_link = os.fsync, os.replace, os.rename, os.link
    real_rmtree = shutil.rmtree
    real_write_table = pq.ParquetWriter.write_table
    real_write_text = publish.write_text_durably

    def fsync(fd: int) -> None:
        steps.reached(f"fsync {steps.show(_fd_path(fd))}")
        real_fsync(fd)

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        steps.reached(f"replace {steps.show(src)} -> {steps.show(dst)}")
        real_replace(src, dst, **kwargs)

    def rename(src: Any, dst: Any, **kwargs: Any) -> None:
        steps.reached(f"rename {steps.show(src)} -> {steps.show(dst)}")
        real_rename(src, dst, **kwargs)

    def link(src: Any, dst: Any, **kwargs: Any) -> None:
        steps.reached(f"link {steps.show(src)} -> {steps.show(dst)}")
        real_link(src, dst, **kwargs)

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        steps.reached(f"rmtree {steps.show(path)}", torn=lambda: _remove_one_file(Path(path)))
        real_rmtree(path, *args, **kwargs)

    def write_table(self: pq.ParquetWriter, table: Any, *args: Any, **kwargs: Any) -> None:
        real_write_table(self, table, *args, **kwargs)
        # After the write: the file has a row group but no footer yet.
        steps.reached(f"write row group {steps.show(self.where)}")

    def write_text(path: Path, text: str) -> None:
        def half() -> None:
            path.write_text(text[: len(text) // 2], encoding="utf-8")

        steps.reached(f"write {steps.show(path)}", torn=half)
        real_write_text(path, text)

    os.fsync = fsync
    os.replace = replace
    os.rename = rename
    os.link = link
    shutil.rmtree = rmtree
    pq.ParquetWriter.write_table = write_table
    publish.write_text_durably = write_text


SERVING_QUERY = """
    SELECT (SELECT any_value(release_id) FROM releases),
           (SELECT count(*) FROM incidents),
           (SELECT sum(incident_id)::BIGINT FROM incidents),
           (SELECT count(*) FROM tracts)
"""


def read_serving(path: Path) -> None:
    """What a BI tool does: one long-lived read-only connection, queried now and then."""
    with connect(path, read_only=True) as con:
        while True:
            release_id, incidents, id_sum, tracts = con.execute(SERVING_QUERY).fetchone()
            print(json.dumps([release_id, incidents, id_sum, tracts]), flush=True)
            if not sys.stdin.readline():
                return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["count", "kill", "run", "hold", "read"])
    parser.add_argument("path", type=Path, help="published directory (serving file for read)")
    parser.add_argument("--kill-at", type=int)
    parser.add_argument("--points", type=int, default=2_000)
    parser.add_argument("--steps-out", type=Path)
    parser.add_argument("--hold-dir", type=Path)
    args = parser.parse_args(argv)
    if args.mode == "read":
        read_serving(args.path)
        return 0

    layers = crash_layers(args.points)
    if args.mode == "hold":
        layers = (_held(layers[0], args.hold_dir), *layers[1:])
    steps = Steps(args.path, args.kill_at if args.mode == "kill" else None)
    if args.mode in ("count", "kill"):
        install_hooks(steps)
    with connect() as con:
        print("publishing", flush=True)
        steps.active = True
        release = publish_release(con, layers, args.path, keep_releases=KEEP_RELEASES)
        steps.active = False
    if args.steps_out is not None:
        args.steps_out.write_text(json.dumps(steps.names, indent=1))
    print(f"published {release.release_id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
