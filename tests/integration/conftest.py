"""One small end-to-end run of ``crimemap run`` shared by the integration tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from crimemap.core.duckdb_spatial import connect

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SMALL_SAMPLE_INCIDENTS = 24_000


@dataclass(frozen=True)
class PipelineRun:
    data_dir: Path
    stdout: str
    stderr: str

    @property
    def release_dir(self) -> Path:
        release_id = (self.data_dir / "published" / "LATEST").read_text().strip()
        return self.data_dir / "published" / "releases" / release_id

    @property
    def sample_dir(self) -> Path:
        (city,) = (self.data_dir / "sources" / "sample").iterdir()
        return city


def run_crimemap(
    data_dir: Path, *args: str, incidents: int = SMALL_SAMPLE_INCIDENTS
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRIMEMAP_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    cmd = [sys.executable, "-m", "crimemap.orchestration.cli", *args, "--incidents", str(incidents)]
    return subprocess.run(
        cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    data_dir = tmp_path_factory.mktemp("crimemap-data")
    completed = run_crimemap(data_dir, "run")
    if completed.returncode != 0:
        pytest.fail(
            f"crimemap run failed ({completed.returncode}):\n{completed.stdout[-4000:]}\n"
            f"{completed.stderr[-8000:]}"
        )
    return PipelineRun(data_dir, completed.stdout, completed.stderr)


def open_warehouse(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """The run's warehouse, read-only (any number of readers may hold it). Opened with the
    default configuration: DuckDB refuses a second connection to a file open in the same process
    with another one."""
    return connect(data_dir / "warehouse.duckdb", read_only=True)


@pytest.fixture(scope="session")
def warehouse(pipeline_run: PipelineRun) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_warehouse(pipeline_run.data_dir)
    yield con
    con.close()


@pytest.fixture(scope="session")
def truth(pipeline_run: PipelineRun) -> dict:
    """The sample city's known answers (``truth.json``)."""
    return json.loads((pipeline_run.sample_dir / "truth.json").read_text())
