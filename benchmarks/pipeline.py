"""Benchmark: wall time and peak memory of each pipeline stage on an N-incident sample city.

Each stage runs in its own child process (the real Dagster assets, materialized in-process), so the
peak resident memory reported is that stage's own. Usage:

    python -m benchmarks.pipeline --incidents 1000000 [--data-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # dagster loads in the stage's child process only
    from dagster import MetadataValue

# name, asset selection (Dagster selection syntax) — in pipeline order
STAGES: list[tuple[str, str]] = [
    ("generate sample city", ""),
    # boundaries are conformed first: every point source is judged against them
    (
        "land raw sources + GX suites",
        'group:"sources" or key:"conformed/areas" or key:"quarantine/areas"',
    ),
    (
        "quarantine + conform (row rules)",
        '(group:"quality" or key:"conformed/crosswalks") and not key:"conformed/areas" '
        'and not key:"quarantine/areas"',
    ),
    ("dbt build (staging, spatial join, marts, tests)", 'kind:"dbt"'),
    ("publish release + serving db", 'key:"published/*"'),
]


@dataclass(frozen=True)
class StageFigures:
    stage: str
    wall_s: float
    inner_s: float
    peak_rss_mb: float
    validation_s: dict[str, float]

    @property
    def gx_s(self) -> float:
        return sum(self.validation_s.values())


def metadata_seconds(value: MetadataValue) -> float:
    """A check's ``validation_seconds``: a float, or an int when it validated nothing."""
    seconds = value.value
    if not isinstance(seconds, int | float):
        raise TypeError(f"validation_seconds is not a number: {seconds!r}")
    return float(seconds)


def run_stage_child(selection: str, incidents: int) -> tuple[float, dict[str, float]]:
    """Inside the child: materialize one selection; return its own seconds (after imports) and
    the seconds each GX suite check spent validating (from the checks' metadata)."""
    if not selection:
        from crimemap.config.paths import export_environment
        from crimemap.config.runtime import current_config
        from crimemap.orchestration.defs.sources.resources import source_resources

        paths = export_environment()
        city = source_resources(current_config(), paths.sources)["sample_city"]
        started = time.perf_counter()
        city.files()  # same seed and defect rate as the pipeline
        return time.perf_counter() - started, {}

    from dagster import AssetSelection, DagsterInstance
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from crimemap.config.paths import data_paths
    from crimemap.config.runtime import current_config
    from crimemap.orchestration.definitions import build_definitions
    from crimemap.orchestration.defs.police.assets import police_partitions

    defs = build_definitions(current_config(), data_paths())
    months = police_partitions(current_config()).get_partition_keys()
    job = defs.resolve_implicit_global_asset_job_def()
    keys = AssetSelection.from_string(selection).resolve(defs.resolve_asset_graph())
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=DagsterInstance.ephemeral(),
        asset_selection=list(keys),
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        tags={
            ASSET_PARTITION_RANGE_START_TAG: months[0],
            ASSET_PARTITION_RANGE_END_TAG: months[-1],
        },
    )
    seconds = time.perf_counter() - started
    validation = {
        evaluation.check_name: metadata_seconds(evaluation.metadata["validation_seconds"])
        for evaluation in result.get_asset_check_evaluations()
        if "validation_seconds" in evaluation.metadata
    }
    return seconds, validation


def dbt_node_seconds(target_dir: Path) -> dict[str, float]:
    """Execution seconds per dbt node (``model.crimemap.hotspots`` ...) of the last dbt run."""
    results = json.loads((target_dir / "run_results.json").read_text())["results"]
    return {r["unique_id"]: float(r["execution_time"]) for r in results}


def print_dbt_breakdown(seconds: dict[str, float]) -> None:
    models = {k.split(".")[-1]: v for k, v in seconds.items() if k.startswith("model.")}
    tests = sum(v for k, v in seconds.items() if k.startswith(("test.", "unit_test.")))
    print(
        f"\ndbt: {len(models)} models built in {sum(models.values()):.1f} s of execution "
        f"(summed over threads), data + unit tests {tests:.1f} s. Models, slowest first:"
    )
    for name, s in sorted(models.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<48} {s:>7.2f}")


def measure(stage: str, selection: str, incidents: int, env: dict[str, str]) -> StageFigures:
    started = time.perf_counter()
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.pipeline",
        "--child",
        selection,
        "--incidents",
        str(incidents),
    ]
    # The child's stdout goes to a file, not a pipe: a full pipe would block it before wait4.
    with tempfile.TemporaryFile(mode="w+") as out_file:
        proc = subprocess.Popen(cmd, env=env, stdout=out_file, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out_file.seek(0)
        out = out_file.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stage {stage!r} failed")
    reported = json.loads(out.strip().splitlines()[-1])
    # ru_maxrss (kB on Linux) from wait4 covers the child and the descendants it reaped (dbt).
    return StageFigures(
        stage, wall, reported["seconds"], usage.ru_maxrss / 1024, reported["validation"]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--data-dir")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child is not None:
        seconds, stage_validation = run_stage_child(args.child, args.incidents)
        print(json.dumps({"seconds": seconds, "validation": stage_validation}))
        return 0

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="crimemap-bench-"))
    env = {
        **os.environ,
        "CRIMEMAP_DATA_DIR": str(data_dir.resolve()),
        "CRIMEMAP_SAMPLE_INCIDENTS": str(args.incidents),
    }
    print(f"crimemap benchmark: {args.incidents:,} incidents, data in {data_dir}", flush=True)
    print(f"{'stage':<50} {'wall s':>8} {'work s':>8} {'GX s':>7} {'peak MB':>9}", flush=True)
    total = 0.0
    validation: dict[str, float] = {}
    for stage, selection in STAGES:
        figures = measure(stage, selection, args.incidents, env)
        total += figures.wall_s
        validation.update(figures.validation_s)
        print(
            f"{figures.stage:<50} {figures.wall_s:>8.1f} {figures.inner_s:>8.1f} "
            f"{figures.gx_s:>7.1f} {figures.peak_rss_mb:>9.0f}",
            flush=True,
        )
    print(f"{'total':<50} {total:>8.1f} {'':>8} {sum(validation.values()):>7.1f}")
    # What validation costs per suite, slowest first: the incident-sized suites are the budget.
    print("\nGX validation seconds per suite (first suite of a process includes the GX import):")
    for name, seconds in sorted(validation.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<48} {seconds:>7.1f}")
    run_results = data_dir / "dbt" / "target"
    if (run_results / "run_results.json").is_file():
        print_dbt_breakdown(dbt_node_seconds(run_results))
    if not args.keep and not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
