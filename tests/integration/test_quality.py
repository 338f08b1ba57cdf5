"""Quality on the small sample run: the scorecard against the planted defects, the
`crimemap quality` command, and the Data Docs site."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from crimemap.samplecity.settings import DEFECT_REASONS
from tests.integration.conftest import PROJECT_ROOT, PipelineRun

pytestmark = pytest.mark.integration


def scorecard(run: PipelineRun) -> list[dict]:
    return pq.read_table(run.release_dir / "quality_scorecard.parquet").to_pylist()


def test_police_scorecard_counts_the_planted_defects(pipeline_run: PipelineRun) -> None:
    truth = pipeline_run.sample_dir / "truth_incidents.parquet"
    planted = dict(
        duckdb.sql(
            f"SELECT defect, count(*) FROM read_parquet('{truth}') "
            "WHERE defect IS NOT NULL GROUP BY ALL"
        ).fetchall()
    )
    rows = [r for r in scorecard(pipeline_run) if r["source"] == "seattle_spd"]
    assert rows and all(r["family"] == "police" for r in rows)
    # every planted defect but an unknown code is quarantined, and counted by its reason
    for code in (c for c in DEFECT_REASONS if c != "offense_code_unknown"):
        assert sum(r[f"{code}_rows"] for r in rows) == planted[code], code
    # unknown codes stay in the data, unmapped: the crosswalk coverage shows them
    unmapped = sum(r["offenses"] - r["mapped_offenses"] for r in rows if r["offenses"])
    assert unmapped == planted["offense_code_unknown"]
    raw_csv_rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{truth}')").fetchone()[0]
    assert sum(r["raw_rows"] for r in rows) == raw_csv_rows
    for r in rows:
        assert r["raw_rows"] == r["accepted_rows"] + r["quarantined_rows"]
        if r["month"] is not None:
            assert 0 < r["reporting_lag_p50_days"] <= r["reporting_lag_p90_days"]
    # a rejected date has no month: those rows are the undated ones
    (undated,) = [r for r in rows if r["month"] is None]
    assert undated["raw_rows"] == planted["date_unparseable"] + planted["date_future"]


def test_every_source_is_on_the_scorecard_and_reconciles(pipeline_run: PipelineRun) -> None:
    rows = scorecard(pipeline_run)
    families = {r["source"]: r["family"] for r in rows}
    assert families == {
        "seattle_spd": "police",
        "areas": "boundaries",
        "area_indicators": "census",
        "facilities": "facilities",
        "service_requests": "service_requests",
        "resident_survey_2025": "surveys",
    }
    raw_files = {
        "areas": "raw/areas/areas.parquet",
        "area_indicators": "raw/area_indicators/area_indicators.parquet",
        "facilities": "raw/facilities/facilities.parquet",
        "service_requests": "raw/service_requests/service_requests.parquet",
        "resident_survey_2025": "raw/surveys/resident_survey_2025.parquet",
    }
    for source, relative in raw_files.items():
        landed = pq.ParquetFile(pipeline_run.data_dir / relative).metadata.num_rows
        assert sum(r["raw_rows"] for r in rows if r["source"] == source) == landed, source
    (facilities,) = [r for r in rows if r["source"] == "facilities"]
    assert facilities["crosswalk_coverage"] == pytest.approx(
        1 - facilities["type_unmapped_rows"] / facilities["raw_rows"], abs=1e-6
    )


def crimemap_quality(run: PipelineRun, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "crimemap.orchestration.cli",
            "quality",
            "--data-dir",
            str(run.data_dir),
            *args,
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_quality_command_prints_the_scorecard(pipeline_run: PipelineRun) -> None:
    table = crimemap_quality(pipeline_run)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["source", "month", "raw"]
    for source in ("seattle_spd", "areas", "facilities", "service_requests"):
        assert any(line.startswith(source) for line in lines), source
    assert "Data Docs:" in table.stdout

    as_json = crimemap_quality(pipeline_run, "--format", "json", "--source", "facilities")
    assert as_json.returncode == 0, as_json.stderr
    (printed,) = json.loads(as_json.stdout)
    (published,) = [r for r in scorecard(pipeline_run) if r["source"] == "facilities"]
    assert printed == {k: v for k, v in published.items()}

    unknown = crimemap_quality(pipeline_run, "--source", "nope")
    assert unknown.returncode != 0 and "no such source in the scorecard" in unknown.stderr


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def test_data_docs_open_from_one_index_offline(pipeline_run: PipelineRun) -> None:
    docs = pipeline_run.data_dir / "quality" / "data_docs"
    parser = Links()
    index = (docs / "index.html").read_text()
    parser.feed(index)
    suites = {Path(href).stem for href in parser.hrefs}
    # one page per suite: raw landings, conformed sources and published marts
    assert {"police_seattle_spd_raw", "facilities_conformed", "surveys_conformed"} <= suites
    assert any(s.endswith("_raw") and s != "police_seattle_spd_raw" for s in suites)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", index)  # each suite's last date
    for href in parser.hrefs:
        page = docs / href
        assert page.is_file(), href
        text = page.read_text()
        assert Path(href).stem in text
        # nothing to fetch from a network: no absolute URL at all, one shared stylesheet
        assert "://" not in text, href
        assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', text) == ["report.css"]
    assert (docs / "report.css").is_file()
    assert not list(docs.glob("*/static")), "no per-suite copies of static files"
