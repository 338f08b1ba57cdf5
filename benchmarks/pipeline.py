"""Benchmark: crimemap against the reference pipeline a user would write instead.

crimemap runs as users run it, ``crimemap run`` in one process, in a child process of its own
(its wall time, CPU time with dbt's, and peak resident memory); ``--timings`` has the run write
each step's wall, CPU and peak memory, which the table adds up per stage, and what the run spends
outside its steps (imports, definitions, planning, events) is the rest. Then the reference
(``benchmarks.reference``: pandas + GeoPandas, the core job by hand) runs on the same export, its
area x month x category counts are checked equal to crimemap's ``area_month_rates``, and the
ratios are printed. ``--new-month`` then times one month arriving on the history before it.
``--scaling`` repeats it for several sizes and prints one table. Usage:

    python -m benchmarks.pipeline --incidents 1000000 [--new-month] [--data-dir DIR] [--keep]
    python -m benchmarks.pipeline --scaling 100000,1000000,3000000
    python -m benchmarks.pipeline --incidents 10000000 --no-reference
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

from crimemap.config.paths import DataPaths
from crimemap.orchestration.timings import StepTiming, read_timings

# The stages of a run, in pipeline order, as its stage lines name them.
STAGES = ("sources", "quality", "dbt", "marts", "publish")


@dataclass(frozen=True)
class StageFigures:
    stage: str
    wall_s: float
    cpu_s: float
    peak_mb: float
    steps: int


def stage_figures(timings: list[StepTiming]) -> list[StageFigures]:
    """Each stage's steps added up: wall and CPU summed, the highest peak."""
    figures = []
    for stage in STAGES:
        steps = [t for t in timings if t.stage == stage]
        figures.append(
            StageFigures(
                stage,
                sum(t.wall_s for t in steps),
                sum(t.cpu_s for t in steps),
                max((t.peak_mb for t in steps), default=0.0),
                len(steps),
            )
        )
    return figures


def generate_city() -> None:
    """Inside a child: write the sample city's files (same seed and defect rate as a run)."""
    from crimemap.config.paths import export_environment
    from crimemap.config.runtime import current_config
    from crimemap.orchestration.defs.sources.resources import source_resources

    paths = export_environment()
    source_resources(current_config(), paths.sources)["sample_city"].files()


def validation_seconds(data_dir: Path) -> dict[str, float]:
    """Seconds each GX suite check of the data directory's last run spent validating."""
    from dagster import AssetCheckEvaluation, DagsterEventType, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster")
    with DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        records = instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=10_000
        ).records
        seconds = {}
        for record in records:
            event = record.event_log_entry.dagster_event
            evaluation = event.event_specific_data if event is not None else None
            if not isinstance(evaluation, AssetCheckEvaluation):
                continue
            value = evaluation.metadata.get("validation_seconds")
            if value is not None and isinstance(value.value, int | float):
                seconds[evaluation.check_name] = float(value.value)
    return seconds


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


def measure_crimemap(
    data_dir: Path, env: dict[str, str], *run_args: str
) -> tuple[Totals, list[StepTiming]]:
    """``crimemap run`` on the data directory, as a child process: its totals and step timings."""
    timings = data_dir / "timings.jsonl"
    cmd = [sys.executable, "-m", "crimemap.orchestration.cli", "run", "--data-dir", str(data_dir)]
    _, wall, cpu, peak = child_process([*cmd, *run_args, "--timings", str(timings)], env)
    steps = read_timings(timings)
    # --timings resets the process's high-water mark before each step, and the kernel's
    # ru_maxrss is that same mark: the run's peak is the highest of the steps' and the rest's.
    peak = max([peak, *(t.peak_mb for t in steps)])
    return Totals(wall, cpu, peak), steps


def police_months(data_dir: Path) -> list[str]:
    return sorted({p.name[6:] for p in (data_dir / "conformed" / "police").glob("*/month=*")})


def measure_new_month(data_dir: Path, env: dict[str, str], full: Totals) -> Totals:
    """A month arriving on the history before it, as a monthly load sees it: the last month's
    partitions are removed and the history re-run without it (not timed), then
    ``crimemap run --months <last>`` lands it and rebuilds what depends on it (timed)."""
    months = police_months(data_dir)
    last = months[-1]
    for kind in ("raw", "conformed", "quarantine", "quality/profiles"):
        for partition in (data_dir / kind / "police").glob(f"*/month={last}"):
            shutil.rmtree(partition)
    measure_crimemap(data_dir, env, "--months", f"{months[0]}:{months[-2]}")
    new_month, timings = measure_crimemap(data_dir, env, "--months", last)
    print(f"\none new month ({last}) on {len(months) - 1} months of history: "
          f"`crimemap run --months {last}`")  # fmt: skip
    for figures in stage_figures(timings):
        print(row(figures.stage, figures.wall_s, figures.cpu_s, figures.peak_mb,
                  f"{figures.steps} step(s)"))  # fmt: skip
    print(row("crimemap run --months (one process)", new_month.wall_s, new_month.cpu_s,
              new_month.peak_mb))  # fmt: skip
    print(f"one new month / full run: wall {new_month.wall_s / full.wall_s:.0%}, "
          f"CPU {new_month.cpu_s / full.cpu_s:.0%}")  # fmt: skip
    return new_month


def row(name: str, wall: float, cpu: float, peak: float | None, note: str = "") -> str:
    shown = "" if peak is None else f"{peak:.0f}"
    return f"{name:<44} {wall:>8.1f} {cpu:>8.1f} {shown:>9}  {note}"


def run_benchmark(
    incidents: int, data_dir: Path, new_month: bool, reference: bool = True
) -> tuple[Totals, Totals | None]:
    """The sample city of ``incidents`` generated, ``crimemap run`` on it, then the reference;
    prints the figures and returns both totals (generating the city, the input of both, is in
    neither)."""
    env = {
        **os.environ,
        "CRIMEMAP_DATA_DIR": str(data_dir.resolve()),
        "CRIMEMAP_SAMPLE_INCIDENTS": str(incidents),
    }
    print(f"crimemap benchmark: {incidents:,} incidents, data in {data_dir}", flush=True)
    child_process([sys.executable, "-m", "benchmarks.pipeline", "--generate"], env)
    ours, timings = measure_crimemap(data_dir, env)
    stages = stage_figures(timings)
    print(f"{'crimemap run, by stage':<44} {'wall s':>8} {'CPU s':>8} {'peak MB':>9}")
    for figures in stages:
        print(row(figures.stage, figures.wall_s, figures.cpu_s, figures.peak_mb,
                  f"{figures.steps} step(s)"))  # fmt: skip
    in_steps = (sum(f.wall_s for f in stages), sum(f.cpu_s for f in stages))
    print(row("outside steps (imports, definitions, events)", ours.wall_s - in_steps[0],
              ours.cpu_s - in_steps[1], None))  # fmt: skip
    print(row("crimemap run (one process, dbt included)", ours.wall_s, ours.cpu_s, ours.peak_mb))
    theirs, differing = None, 0
    if reference:
        theirs, counts = measure_reference(data_dir, env)
        print(row("reference (pandas + GeoPandas, by hand)", theirs.wall_s, theirs.cpu_s,
                  theirs.peak_mb))  # fmt: skip
        cells, differing = count_differences(counts, data_dir / "warehouse.duckdb")
        verdict = "equal" if differing == 0 else f"{differing:,} DIFFER"
        print(
            f"\narea x month x category counts: {cells:,} cells, {verdict}; crimemap / "
            f"reference: wall {ours.wall_s / theirs.wall_s:.1f}x, "
            f"CPU {ours.cpu_s / theirs.cpu_s:.1f}x, "
            f"peak memory {ours.peak_mb / theirs.peak_mb:.1f}x"
        )
    # What validation costs per suite, slowest first: the incident-sized suites are the budget.
    validation = validation_seconds(data_dir)
    print(f"\nGX validation: {sum(validation.values()):.1f} s in {len(validation)} suites "
          "(the first includes the GX import); slowest first:")  # fmt: skip
    for name, seconds in sorted(validation.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {name:<48} {seconds:>7.1f}")
    run_results = DataPaths(data_dir).dbt_target
    if (run_results / "run_results.json").is_file():
        print_dbt_breakdown(dbt_node_seconds(run_results))
    if differing:
        raise SystemExit("the reference's counts differ from crimemap's: see above")
    if new_month:
        measure_new_month(data_dir, env, ours)
    return ours, theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument(
        "--scaling", metavar="N,N,...", help="run each size in turn and print a scaling table"
    )
    parser.add_argument("--data-dir")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument(
        "--new-month",
        action="store_true",
        help="then time one new month arriving on the others (`crimemap run --months`)",
    )
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="crimemap alone (the reference holds every incident in memory: ~2 GB a million)",
    )
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.generate:
        generate_city()
        return 0

    sizes = [int(n) for n in args.scaling.split(",")] if args.scaling else [args.incidents]
    rows = []
    for incidents in sizes:
        data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="crimemap-bench-"))
        if len(sizes) > 1 and args.data_dir:
            data_dir = data_dir / f"n{incidents}"
        rows.append(
            (incidents, *run_benchmark(incidents, data_dir, args.new_month, not args.no_reference))
        )
        if not args.keep and not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        print(flush=True)
    print(
        f"{'incidents':>10} | {'crimemap wall':>13} {'CPU':>7} {'peak MB':>8} | "
        f"{'reference wall':>14} {'CPU':>7} {'peak MB':>8} | {'CPU ratio':>9}"
    )
    for incidents, ours, theirs in rows:
        reference = (
            f"{theirs.wall_s:>14.1f} {theirs.cpu_s:>7.1f} {theirs.peak_mb:>8.0f} | "
            f"{ours.cpu_s / theirs.cpu_s:>8.1f}x"
            if theirs
            else f"{'(not run)':>14} {'':>7} {'':>8} | {'':>9}"
        )
        print(
            f"{incidents:>10,} | {ours.wall_s:>13.1f} {ours.cpu_s:>7.1f} {ours.peak_mb:>8.0f} | "
            + reference
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
