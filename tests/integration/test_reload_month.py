"""Re-loading a month is idempotent: the same input gives the same files and the same counts,
and publishes no new release."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.core.project import PROJECT_ROOT
from tests.integration.conftest import run_crimemap

pytestmark = pytest.mark.integration

INCIDENTS = 3000


def partition_files(data_dir: Path) -> dict[str, tuple[str, int]]:
    """Every police partition file: sha256 and mtime, keyed by path under the data dir."""
    files = {}
    for kind in ("raw", "conformed", "quarantine"):
        for path in sorted((data_dir / kind / "police").rglob("*.parquet")):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files[str(path.relative_to(data_dir))] = (digest, path.stat().st_mtime_ns)
    return files


def fact_counts(data_dir: Path) -> list[tuple]:
    with connect(data_dir / "warehouse.duckdb", read_only=True) as con:
        return con.execute(
            "SELECT occurred_month, category, count(*) FROM fct_incidents GROUP BY ALL ORDER BY ALL"
        ).fetchall()


# A BI tool: opens serving.duckdb read-only, reads, and keeps the connection open until told to
# read again (a line on stdin), then prints what it sees.
BI_READER = """
import sys
from crimemap.core.project import PROJECT_ROOT
from crimemap.core.duckdb_spatial import connect
con = connect(sys.argv[1], read_only=True)
query = "SELECT (SELECT any_value(release_id) FROM releases), (SELECT count(*) FROM incidents)"
print(*con.execute(query).fetchone(), flush=True)
sys.stdin.readline()
print(*con.execute(query).fetchone(), flush=True)
"""


def test_rerunning_a_month_changes_nothing(tmp_path: Path) -> None:
    """... while a BI reader holds serving.duckdb open: it does not block the run."""
    data_dir = tmp_path / "data"
    first = run_crimemap(data_dir, "run", incidents=INCIDENTS)
    assert first.returncode == 0, first.stderr[-4000:]
    before_files, before_counts = partition_files(data_dir), fact_counts(data_dir)
    assert any("month=2025-03" in name for name in before_files)

    reader = subprocess.Popen(
        [sys.executable, "-c", BI_READER, str(data_dir / "serving.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        first_release, first_rows = reader.stdout.readline().split()
        again = run_crimemap(data_dir, "run", "--months", "2025-03", incidents=INCIDENTS)
        reader.stdin.write("\n")
        reader.stdin.flush()
        held_release, held_rows = reader.stdout.readline().split()
    finally:
        reader.kill()
        reader.wait()
    assert again.returncode == 0, again.stderr[-4000:]
    assert (held_release, held_rows) == (first_release, first_rows)
    assert int(first_rows) > 0
    # The same input gives the same layer content: no new release, and the run says so.
    assert (data_dir / "published" / "LATEST").read_text().strip() == first_release
    assert "no new release published" in again.stdout
    with connect(data_dir / "serving.duckdb", read_only=True) as con:
        assert con.execute("SELECT any_value(release_id) FROM releases").fetchone() == (
            first_release,
        )
    assert "months 2025-03..2025-03" in again.stdout
    after_files = partition_files(data_dir)
    assert after_files.keys() == before_files.keys()
    for name, (digest, mtime) in after_files.items():
        assert digest == before_files[name][0], name  # same bytes
        if name.startswith("raw/"):  # the landing saw identical rows: not even rewritten
            assert mtime == before_files[name][1], name
    assert fact_counts(data_dir) == before_counts


def test_months_outside_the_partitions_are_refused(tmp_path: Path) -> None:
    completed = run_crimemap(tmp_path / "data", "run", "--months", "1999-01", incidents=INCIDENTS)
    assert completed.returncode != 0
    assert "outside the police partitions" in completed.stderr
