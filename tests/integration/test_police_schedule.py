"""The incremental schedule asks for the months since the oldest watermark, nothing earlier."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from dagster import DagsterInstance, RunRequest, build_schedule_context

from crimemap.ingestion.police.partitions import read_watermark
from crimemap.orchestration.defs.police.schedules import incremental_range

KEYS = [f"2025-{m:02d}-01" for m in range(1, 13)]


def test_range_starts_at_the_oldest_watermark_month() -> None:
    assert incremental_range([date(2025, 9, 14), date(2025, 11, 2)], KEYS) == (
        "2025-09-01",
        "2025-12-01",
    )


def test_a_source_never_loaded_starts_at_the_first_month() -> None:
    assert incremental_range([date(2025, 11, 2), None], KEYS) == ("2025-01-01", "2025-12-01")


def test_watermark_before_the_partitions_clamps_to_the_first() -> None:
    assert incremental_range([date(2019, 3, 1)], KEYS) == ("2025-01-01", "2025-12-01")


def test_no_partitions_no_range() -> None:
    assert incremental_range([None], []) is None


def test_read_watermark(tmp_path: Path) -> None:
    (tmp_path / "police").mkdir()
    (tmp_path / "police" / "spd.json").write_text(
        json.dumps({"source": "spd", "watermark": "2025-06-30T22:25:00-07:00"})
    )
    assert read_watermark(tmp_path, "spd") == date(2025, 6, 30)
    assert read_watermark(tmp_path, "lapd") is None


def test_schedule_requests_the_range_as_one_run() -> None:
    from crimemap.config.paths import data_paths
    from crimemap.config.runtime import current_config
    from crimemap.orchestration.definitions import build_definitions
    from crimemap.orchestration.defs.data_directory import DataDirectory

    defs = build_definitions(current_config(), data_paths())
    schedule = defs.resolve_schedule_def("crimemap_daily")
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 7, 15, 5),
            resources={"data_dir": DataDirectory(root=str(data_paths().root))},
        )
        request = schedule.evaluate_tick(context).run_requests[0]
    assert isinstance(request, RunRequest)
    # the sample city's export covers 2024-07..2026-06: its partitions end with its data
    assert request.tags["dagster/asset_partition_range_end"] == "2026-06-01"
    assert request.tags["dagster/asset_partition_range_start"] <= "2026-06-01"
