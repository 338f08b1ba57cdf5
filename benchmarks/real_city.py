"""Benchmark: a city onboarded from its own files, end to end, as a user runs it.

Writes a police export of N rows in the Seattle layout and the city's boundaries (from a
generated sample city; no indicators, facilities or 311), then times ``crimemap run --config``
in a fresh data directory, the whole command as a user waits for it, and once more in the last
run's data directory with nothing new (what a scheduled run costs when the portal has no new
rows). Usage:

    python -m benchmarks.real_city --rows 10000 [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CITY_YAML = """name: Benchmark City
timezone: America/Los_Angeles
projected_crs: EPSG:32610
police:
  - {name: city_pd, layout: seattle_spd, path: exports/police.csv}
boundaries: {mode: file, path: exports/areas.geojson, id_field: GEOID, name_field: NAME}
"""


def write_city(root: Path, rows: int) -> Path:
    files = generate_sample_city(root / "exports", SampleCityConfig(n_incidents=rows))
    pl.read_csv(files.police_csv, infer_schema=False).head(rows).write_csv(
        root / "exports" / "police.csv"
    )
    config = root / "city.yml"
    config.write_text(CITY_YAML)
    return config


def run_once(config: Path, data_dir: Path) -> float:
    env = {**os.environ, "CRIMEMAP_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "crimemap.orchestration.cli", "run", "--config", str(config)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(
            f"crimemap run failed:\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
        )
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crimemap-city-bench-") as tmp:
        root = Path(tmp)
        config = write_city(root, args.rows)
        print(f"crimemap real-city benchmark: {args.rows:,} police rows + boundaries", flush=True)
        times = []
        for i in range(args.repeat):
            seconds = run_once(config, root / f"data-{i}")
            times.append(seconds)
            print(f"  run {i + 1}: {seconds:.1f} s wall (crimemap run, fresh data directory)")
        print(f"median {statistics.median(times):.1f} s, min {min(times):.1f} s")
        again = run_once(config, root / f"data-{args.repeat - 1}")
        print(f"  re-run: {again:.1f} s wall (crimemap run, the last data directory, nothing new)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
