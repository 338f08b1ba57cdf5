"""Every publisher layout, in file mode, in one run: the sample city rendered six ways.

Each export is the file the project generates in the publisher's exact layout, quirks included
(BOM, stray header spaces, multi-line fields, fake midnights, unpadded codes, "(lat, lon)"
strings, "+00" offsets, 0,0 locations). Its truth says what each row must become.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.publishers import (
    PUBLISHER_LAYOUTS,
    PublisherSample,
    render_publisher_samples,
)
from crimemap.samplecity.settings import SampleCityConfig
from tests.integration.conftest import PROJECT_ROOT, run_crimemap
from tests.support.jurisdictions import file_sources_yaml

pytestmark = pytest.mark.integration

INCIDENTS = 3000
NIBRS_CATEGORIES = {
    row["nibrs_code"]: row["category"]
    for row in csv.DictReader((PROJECT_ROOT / "dbt_project/seeds/crosswalk_seattle_spd.csv").open())
}


def jurisdiction_yaml(exports: Path) -> str:
    sources = []
    for layout in PUBLISHER_LAYOUTS:
        entry = (
            f"  - name: {layout}\n    layout: {layout}\n    mode: file\n"
            f"    path: exports/{layout}.csv\n    start_month: 2024-07\n"
        )
        if layout == "chicago":  # the sample city's State Plane is Washington North, not Illinois
            entry += (
                "    overrides:\n      location:\n"
                "        - {kind: lonlat, lon: Longitude, lat: Latitude}\n"
                "        - {kind: point_text, column: Location}\n"
                '        - {kind: projected, x: X Coordinate, y: Y Coordinate, crs: "EPSG:2926"}\n'
            )
        sources.append(entry)
    return (
        "name: Sample City (six publishers)\ntimezone: America/Los_Angeles\n"
        "projected_crs: EPSG:32610\npolice:\n" + "".join(sources)
        + file_sources_yaml("exports")
    )  # fmt: skip


@pytest.fixture(scope="module")
def six_publishers(tmp_path_factory) -> tuple[dict[str, PublisherSample], Path]:
    root = tmp_path_factory.mktemp("publishers")
    config = SampleCityConfig(n_incidents=INCIDENTS)
    generate_sample_city(root / "exports", config)
    samples = render_publisher_samples(root / "exports", config)
    (root / "city.yml").write_text(jurisdiction_yaml(root / "exports"))
    data_dir = root / "data"
    completed = run_crimemap(data_dir, "run", "--config", str(root / "city.yml"))
    if completed.returncode != 0:
        pytest.fail(f"crimemap run failed:\n{completed.stdout[-4000:]}\n{completed.stderr[-6000:]}")
    return samples, data_dir


@pytest.mark.parametrize("layout", PUBLISHER_LAYOUTS)
def test_every_planted_defect_is_quarantined_with_its_reason(six_publishers, layout) -> None:
    samples, data_dir = six_publishers
    con = duckdb.connect()
    planted = set(
        con.execute(
            f"SELECT row_number, defect FROM read_parquet('{samples[layout].truth_rows}') "
            "WHERE defect IS NOT NULL AND defect <> 'offense_code_unknown'"
        ).fetchall()
    )
    quarantine = data_dir / f"quarantine/police/{layout}/month=*/*.parquet"
    quarantined = set(
        con.execute(f"SELECT _row_number, _reason FROM read_parquet('{quarantine}')").fetchall()
    )
    assert len(planted) > 20
    assert quarantined == planted


@pytest.mark.parametrize("layout", PUBLISHER_LAYOUTS)
def test_raw_equals_canonical_plus_quarantined(six_publishers, layout) -> None:
    samples, data_dir = six_publishers
    con = duckdb.connect()
    raw = con.execute(
        f"SELECT count(*) FROM read_parquet('{data_dir}/raw/police/{layout}/month=*/*.parquet')"
    ).fetchone()[0]
    quarantined = con.execute(
        f"SELECT count(*) FROM read_parquet('{data_dir}/quarantine/police/{layout}/month=*/*')"
    ).fetchone()[0]
    truth_rows = con.execute(
        f"SELECT count(*) FROM read_parquet('{samples[layout].truth_rows}')"
    ).fetchone()[0]
    with connect(data_dir / "warehouse.duckdb", read_only=True) as wh:
        staged = wh.execute(
            "SELECT count(DISTINCT (_load_id, _row_number)) FROM fct_incidents WHERE source = ?",
            [layout],
        ).fetchone()[0]
    assert raw == truth_rows == staged + quarantined


@pytest.mark.parametrize("layout", PUBLISHER_LAYOUTS)
def test_counts_per_category_and_incidents_match_the_truth(six_publishers, layout) -> None:
    samples, data_dir = six_publishers
    con = duckdb.connect()
    expected: dict[str, int] = {}
    for (nibrs,) in con.execute(
        f"SELECT nibrs_code FROM read_parquet('{samples[layout].truth_offenses}')"
    ).fetchall():
        category = NIBRS_CATEGORIES[nibrs] if nibrs else "unmapped"
        expected[category] = expected.get(category, 0) + 1
    incidents = con.execute(
        f"SELECT count(DISTINCT coalesce(report_number, row_number::VARCHAR)) "
        f"FROM read_parquet('{samples[layout].truth_rows}') "
        "WHERE defect IS NULL OR defect = 'offense_code_unknown'"
    ).fetchone()[0]
    with connect(data_dir / "warehouse.duckdb", read_only=True) as wh:
        got = dict(
            wh.execute(
                "SELECT category, count(*) FROM fct_incidents WHERE source = ? GROUP BY ALL",
                [layout],
            ).fetchall()
        )
        got_incidents = wh.execute(
            "SELECT count(DISTINCT incident_key) FROM fct_incidents WHERE source = ?", [layout]
        ).fetchone()[0]
    assert got == expected
    assert got_incidents == incidents


@pytest.mark.parametrize("layout", PUBLISHER_LAYOUTS)
def test_kept_points_land_in_their_true_area(six_publishers, layout) -> None:
    samples, data_dir = six_publishers
    with connect(data_dir / "warehouse.duckdb", read_only=True) as wh:
        mismatched, total = wh.execute(
            f"""
            SELECT count(*) FILTER (WHERE f.area_id IS DISTINCT FROM t.area_id), count(*)
            FROM fct_incidents AS f
            JOIN read_parquet('{samples[layout].truth_rows}') AS t ON t.row_number = f._row_number
            WHERE f.source = ? AND NOT t.on_edge
            """,
            [layout],
        ).fetchone()
    assert total > 1000 and mismatched == 0
