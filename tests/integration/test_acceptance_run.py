"""A police source whose every row is quarantined stops the run, naming the reason; the run's
summary says what each source accepted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from crimemap.orchestration.timings import read_timings
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from tests.support.jurisdictions import file_sources_yaml

pytestmark = pytest.mark.integration

OCCURRED = "Offense Start DateTime"


def test_a_source_with_undeclared_date_formats_stops_the_run(tmp_path: Path) -> None:
    files = generate_sample_city(tmp_path / "city", SampleCityConfig(n_incidents=2000))
    good = tmp_path / "north.csv"
    good.write_bytes(files.police_csv.read_bytes())
    # The south precinct exports day-first dates the seattle_spd layout does not declare.
    export = pl.read_csv(files.police_csv, infer_schema=False)
    iso = pl.col(OCCURRED).str.strptime(pl.Datetime, "%m/%d/%Y %I:%M:%S %p", strict=False)
    export.with_columns(iso.dt.strftime("%d.%m.%Y %H:%M").alias(OCCURRED)).write_csv(
        tmp_path / "south.csv"
    )
    config = tmp_path / "city.yml"
    config.write_text(
        "name: Two Precincts\ntimezone: America/Los_Angeles\nprojected_crs: EPSG:32610\n"
        "police:\n"
        f"  - {{name: north, layout: seattle_spd, path: {good}, start_month: 2024-07}}\n"
        f"  - {{name: south, layout: seattle_spd, path: {tmp_path / 'south.csv'}, "
        "start_month: 2024-07}\n" + file_sources_yaml(str(files.areas_geojson.parent))
    )

    completed = subprocess.run(
        [sys.executable, "-m", "crimemap.orchestration.cli", "run", "--config", str(config),
         "--data-dir", str(tmp_path / "data"), "--timings", str(tmp_path / "timings.jsonl")],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip

    assert completed.returncode == 1
    # --timings: a line for every step that ended, the failed one included
    timings = read_timings(tmp_path / "timings.jsonl")
    assert {t.step for t in timings} >= {"raw__police__north", "raw__police__south"}
    assert {t.stage for t in timings} <= {"sources", "quality"}  # dbt never started
    assert any(t.outcome == "failed" and "south" in t.step for t in timings)
    assert all(t.wall_s >= 0 and t.cpu_s >= 0 and t.peak_mb > 0 for t in timings)
    (failure,) = [
        line
        for line in completed.stderr.splitlines()
        if line.startswith("crimemap: check south_accepted_share on conformed/police/south failed")
    ]
    assert "south: only 0 of " in failure and "below 50%; mostly date_unparseable: " in failure
    assert re.search(r"example Offense Start DateTime: '\d\d\.\d\d\.20\d\d \d\d:\d\d'", failure)
    # "crimemap: <source>: N of M rows accepted, Q quarantined" (not the stage lines)
    summary = re.findall(r"^crimemap: (\S+): ([\d,]+ of .*)$", completed.stdout, re.M)
    by_source = {source: f"crimemap: {source}: {rest}" for source, rest in summary}
    # every declared source; the absent 311 source is not listed
    assert set(by_source) == {"areas", "area_indicators", "facilities", "north", "south"}
    assert by_source["south"].startswith("crimemap: south: 0 of 2,000 rows accepted, 2,000 ")
