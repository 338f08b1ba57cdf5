"""How much memory dbt's DuckDB may use before it spills to disk.

DuckDB spills joins, sorts and aggregates beyond its ``memory_limit``, but some structures must
fit: at ten million incidents the area assignment needs more than 1 GB pinned. A fixed limit is
either too small for a large city or costs a small one memory it never needed, so the limit
grows with the police offenses the build reads: ``BASE_GB`` plus ``GB_PER_MILLION`` for each
million, at most ``MAX_GB``. ``CRIMEMAP_DUCKDB_MEMORY_LIMIT`` (DuckDB's syntax, e.g. ``4GB``)
overrides it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MEMORY_LIMIT_ENV = "CRIMEMAP_DUCKDB_MEMORY_LIMIT"
BASE_GB = 1.0
GB_PER_MILLION = 0.1
MAX_GB = 4.0


def sized_memory_limit(offenses: int) -> str:
    """The limit for a build over ``offenses`` police offenses, in DuckDB's syntax."""
    gigabytes = min(MAX_GB, BASE_GB + GB_PER_MILLION * offenses / 1_000_000)
    return f"{gigabytes:.1f}GB"


def conformed_offenses(conformed_police: Path) -> int:
    """Offenses in the conformed police partitions, from their Parquet footers."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in conformed_police.glob("*/month=*/*.parquet"))


@contextmanager
def dbt_memory_limit(conformed_police: Path) -> Iterator[str]:
    """Within the block, ``CRIMEMAP_DUCKDB_MEMORY_LIMIT`` (which dbt's profile reads) is the
    limit sized to the conformed offenses, unless the environment already sets one."""
    preset = os.environ.get(MEMORY_LIMIT_ENV)
    if preset:
        yield preset
        return
    limit = sized_memory_limit(conformed_offenses(conformed_police))
    os.environ[MEMORY_LIMIT_ENV] = limit
    try:
        yield limit
    finally:
        os.environ.pop(MEMORY_LIMIT_ENV, None)
