"""Benchmark: what storing one Dagster event costs, Dagster's SQLite storage against crimemap's.

A run stores more than a thousand events (each step's start, outputs, materializations and
checks, planned and done). Each instance here is a fresh temporary ``DAGSTER_HOME``: one with
Dagster's default ``dagster.yaml``, one with the ``dagster.yaml`` crimemap writes
(``crimemap.orchestration.instance_storage``). Both store the same asset materializations, which
go to the run's database and the asset index like a run's. Usage:

    python -m benchmarks.event_storage [--events 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dagster import AssetMaterialization, DagsterInstance

from crimemap.orchestration.cli import dagster_instance_yaml

DAGSTER_DEFAULT = "telemetry:\n  enabled: false\n"


def milliseconds_per_event(settings: str, events: int) -> float:
    """Stores ``events`` materializations in a new instance with ``settings``; ms per event."""
    with tempfile.TemporaryDirectory(prefix="crimemap-events-") as home:
        Path(home, "dagster.yaml").write_text(settings.replace("{home}", home))
        os.environ["DAGSTER_HOME"] = home
        with DagsterInstance.get() as instance:
            instance.report_runless_asset_event(AssetMaterialization("warm_up"))
            started = time.perf_counter()
            for i in range(events):
                instance.report_runless_asset_event(AssetMaterialization(f"asset_{i % 20}"))
            return (time.perf_counter() - started) / events * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    crimemap = dagster_instance_yaml(Path("{home}"))
    print(f"Dagster event storage: {args.events} asset events per instance, {args.repeat} rounds")
    results: dict[str, list[float]] = {"Dagster's default": [], "crimemap's": []}
    for _ in range(args.repeat):  # alternated, so a busy moment hits both
        results["Dagster's default"].append(milliseconds_per_event(DAGSTER_DEFAULT, args.events))
        results["crimemap's"].append(milliseconds_per_event(crimemap, args.events))
    for name, figures in results.items():
        print(f"  {name:<18} {statistics.median(figures):5.1f} ms an event (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
