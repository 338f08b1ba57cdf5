"""The benchmark's reference pipeline (pandas + GeoPandas, written by hand) counts exactly what
crimemap counts, so the benchmark compares like with like."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.pipeline import count_differences
from benchmarks.reference import run
from tests.integration.conftest import PipelineRun

pytestmark = pytest.mark.integration


def test_the_reference_counts_equal_crimemaps_area_month_rates(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    figures = run(pipeline_run.data_dir, tmp_path / "counts.parquet")
    cells, differing = count_differences(
        tmp_path / "counts.parquet", pipeline_run.data_dir / "warehouse.duckdb"
    )
    assert figures["cells"] == cells > 100
    assert differing == 0
