"""Benchmark: crimemap's stages against the reference pipeline a user would write instead.

Each stage runs in its own child process (the real Dagster assets, materialized in-process), so
the wall time, CPU time and peak resident memory reported are that stage's own. Then the
reference (``benchmarks.reference``: pandas + GeoPandas, the core job by hand) runs on the same
export, its area x month x category counts are checked equal to crimemap's
``area_month_rates``, and the ratios are printed. ``--scaling`` repeats it for several sizes
and prints one table. Usage:

    python -m benchmarks.pipeline --incidents 1000000 [--data-dir DIR] [--keep]
    python -m benchmarks.pipeline --scaling 100000,1000000,3000000
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
GENERATE_STAGE = "generate sample city"
STAGES: list[tuple[str, str]] = [
    (GENERATE_STAGE, ""),
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
    cpu_s: float
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


def child_process(cmd: list[str], env: dict[str, str]) -> tuple[str, float, float, float]:
    """Run ``cmd``; its stdout, wall seconds, CPU seconds (user + system, with the children it
    reaped, e.g. dbt) and peak resident MB."""
    started = time.perf_counter()
    # The child's stdout goes to a file, not a pipe: a full pipe would block it before wait4.
    with tempfile.TemporaryFile(mode="w+") as out_file:
        proc = subprocess.Popen(cmd, env=env, stdout=out_file, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out_file.seek(0)
        out = out_file.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[2:4])} failed")
    # ru_maxrss (kB on Linux) from wait4 covers the child and the descendants it reaped.
    return out, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(stage: str, selection: str, incidents: int, env: dict[str, str]) -> StageFigures:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.pipeline",
        "--child",
        selection,
        "--incidents",
        str(incidents),
    ]
    out, wall, cpu, peak = child_process(cmd, env)
    reported = json.loads(out.strip().splitlines()[-1])
    return StageFigures(stage, wall, reported["seconds"], cpu, peak, reported["validation"])


@dataclass(frozen=True)
class Totals:
    wall_s: float
    cpu_s: float
    peak_mb: float


def measure_reference(data_dir: Path, env: dict[str, str]) -> tuple[Totals, Path]:
    out_path = data_dir / "reference_counts.parquet"
    cmd = [sys.executable, "-m", "benchmarks.reference", "--data-dir", str(data_dir)]
    _, wall, cpu, peak = child_process([*cmd, "--out", str(out_path)], env)
    return Totals(wall, cpu, peak), out_path


def count_differences(reference: Path, warehouse: Path) -> tuple[int, int]:
    """Cells of the reference's counts, and cells where crimemap's area_month_rates differs
    (a cell only one of them has counts as a difference)."""
    from crimemap.core.duckdb_spatial import connect, fetch_one

    with connect(warehouse, read_only=True) as con:
        cells, differing = fetch_one(
            con,
            f"""
            WITH ours AS (
                SELECT area_id, month, category, incident_count FROM area_month_rates
                WHERE category <> 'all' AND incident_count > 0
            ), theirs AS (
                SELECT area_id, CAST(month AS DATE) AS month, category, incident_count
                FROM read_parquet('{reference}')
            )
            SELECT count(*) FILTER (WHERE theirs.area_id IS NOT NULL),
                   count(*) FILTER (WHERE ours.incident_count IS DISTINCT FROM
                                          theirs.incident_count)
            FROM ours FULL JOIN theirs USING (area_id, month, category)
            """,
        )
    return int(cells), int(differing)


def run_benchmark(incidents: int, data_dir: Path) -> tuple[Totals, Totals]:
    """Every stage, then the reference; prints the figures and returns both totals (the sample
    city's generation, the input of both, is left out of crimemap's)."""
    env = {
        **os.environ,
        "CRIMEMAP_DATA_DIR": str(data_dir.resolve()),
        "CRIMEMAP_SAMPLE_INCIDENTS": str(incidents),
    }
    print(f"crimemap benchmark: {incidents:,} incidents, data in {data_dir}", flush=True)
    header = f"{'stage':<50} {'wall s':>8} {'work s':>8} {'CPU s':>8} {'GX s':>7} {'peak MB':>9}"
    print(header, flush=True)
    stages: list[StageFigures] = []
    for stage, selection in STAGES:
        figures = measure(stage, selection, incidents, env)
        stages.append(figures)
        print(
            f"{figures.stage:<50} {figures.wall_s:>8.1f} {figures.inner_s:>8.1f} "
            f"{figures.cpu_s:>8.1f} {figures.gx_s:>7.1f} {figures.peak_rss_mb:>9.0f}",
            flush=True,
        )
    pipeline = [f for f in stages if f.stage != GENERATE_STAGE]
    ours = Totals(
        sum(f.wall_s for f in pipeline),
        sum(f.cpu_s for f in pipeline),
        max(f.peak_rss_mb for f in pipeline),
    )
    validation = {k: v for f in stages for k, v in f.validation_s.items()}
    print(
        f"{'crimemap (without generating the city)':<50} {ours.wall_s:>8.1f} {'':>8} "
        f"{ours.cpu_s:>8.1f} {sum(validation.values()):>7.1f} {ours.peak_mb:>9.0f}"
    )
    theirs, counts = measure_reference(data_dir, env)
    print(
        f"{'reference (pandas + GeoPandas, by hand)':<50} {theirs.wall_s:>8.1f} {'':>8} "
        f"{theirs.cpu_s:>8.1f} {'':>7} {theirs.peak_mb:>9.0f}"
    )
    cells, differing = count_differences(counts, data_dir / "warehouse.duckdb")
    verdict = "equal" if differing == 0 else f"{differing:,} DIFFER"
    print(
        f"\narea x month x category counts: {cells:,} cells, {verdict}; crimemap / reference: "
        f"wall {ours.wall_s / theirs.wall_s:.1f}x, CPU {ours.cpu_s / theirs.cpu_s:.1f}x, "
        f"peak memory {ours.peak_mb / theirs.peak_mb:.1f}x"
    )
    # What validation costs per suite, slowest first: the incident-sized suites are the budget.
    print("\nGX validation seconds per suite (first suite of a process includes the GX import):")
    for name, seconds in sorted(validation.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<48} {seconds:>7.1f}")
    run_results = data_dir / "dbt" / "target"
    if (run_results / "run_results.json").is_file():
        print_dbt_breakdown(dbt_node_seconds(run_results))
    if differing:
        raise SystemExit("the reference's counts differ from crimemap's: see above")
    return ours, theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument(
        "--scaling", metavar="N,N,...", help="run each size in turn and print a scaling table"
    )
    parser.add_argument("--data-dir")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child is not None:
        seconds, stage_validation = run_stage_child(args.child, args.incidents)
        print(json.dumps({"seconds": seconds, "validation": stage_validation}))
        return 0

    sizes = [int(n) for n in args.scaling.split(",")] if args.scaling else [args.incidents]
    rows = []
    for incidents in sizes:
        data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="crimemap-bench-"))
        if len(sizes) > 1 and args.data_dir:
            data_dir = data_dir / f"n{incidents}"
        rows.append((incidents, *run_benchmark(incidents, data_dir)))
        if not args.keep and not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        print(flush=True)
    print(
        f"{'incidents':>10} | {'crimemap wall':>13} {'CPU':>7} {'peak MB':>8} | "
        f"{'reference wall':>14} {'CPU':>7} {'peak MB':>8} | {'CPU ratio':>9}"
    )
    for incidents, ours, theirs in rows:
        print(
            f"{incidents:>10,} | {ours.wall_s:>13.1f} {ours.cpu_s:>7.1f} {ours.peak_mb:>8.0f} | "
            f"{theirs.wall_s:>14.1f} {theirs.cpu_s:>7.1f} {theirs.peak_mb:>8.0f} | "
            f"{ours.cpu_s / theirs.cpu_s:>8.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
