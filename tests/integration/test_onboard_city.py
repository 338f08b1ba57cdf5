"""A city no adapter knows, onboarded by a jurisdiction YAML alone, end to end.

"Riverton" publishes its own CSV layout: ISO-ish local date-times, its own offense codes, State
Plane feet (EPSG:2926) for most points and hex WKB for the rest. The rows are the sample city's,
re-rendered, so the sample city's truth says what every row must become.
"""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import duckdb
import polars as pl
import pytest
from pyproj import Transformer

from crimemap.core.duckdb_spatial import connect
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from tests.integration.conftest import PROJECT_ROOT, run_crimemap
from tests.support.jurisdictions import file_sources_yaml

pytestmark = pytest.mark.integration

SEATTLE_CROSSWALK = PROJECT_ROOT / "dbt_project" / "seeds" / "crosswalk_seattle_spd.csv"
RIVERTON_COLUMNS = ["Case No", "Incident ID", "Occurred", "Reported", "Code", "Offense",
                    "Block", "X", "Y", "Geo"]  # fmt: skip

RIVERTON_YAML = """
name: Riverton
timezone: America/Los_Angeles
projected_crs: EPSG:32610
police:
  - name: riverton_pd
    mode: file
    path: exports/riverton_incidents.csv
    crosswalk_csv: riverton_crosswalk.csv
    start_month: 2024-07
    layout:
      agency: Riverton Police Department
      columns: [Case No, Incident ID, Occurred, Reported, Code, Offense, Block, X, Y, Geo]
      record_id: Incident ID
      report_number: Case No
      occurred: {column: Occurred, formats: ["%Y-%m-%d %H:%M"]}
      reported: {column: Reported, formats: ["%Y-%m-%d %H:%M"]}
      offense_codes: Code
      offense_description: Offense
      block_address: Block
      location:
        - {kind: projected, x: X, y: Y, crs: "EPSG:2926"}
        - {kind: wkb_hex, column: Geo}
""" + file_sources_yaml("exports")


def local_code(nibrs: str) -> str:
    return "RV-" + nibrs


def write_crosswalk(path: Path) -> dict[str, str]:
    """Riverton's crosswalk: its codes for every NIBRS code; returns NIBRS -> category."""
    with SEATTLE_CROSSWALK.open() as f:
        rows = list(csv.DictReader(f))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "offense_code": local_code(row["nibrs_code"])})
    return {row["nibrs_code"]: row["category"] for row in rows}


def render_riverton(seattle_csv: Path, out: Path) -> None:
    """The sample city's SPD rows in Riverton's layout; defects carried over as written."""
    spd = pl.read_csv(seattle_csv, infer_schema=False)
    known = {r["nibrs_code"] for r in csv.DictReader(SEATTLE_CROSSWALK.open())}
    to_feet = Transformer.from_crs("EPSG:4326", "EPSG:2926", always_xy=True)

    def when(column: str) -> pl.Expr:
        parsed = pl.col(column).str.strptime(pl.Datetime, "%m/%d/%Y %I:%M:%S %p", strict=False)
        return pl.coalesce(parsed.dt.strftime("%Y-%m-%d %H:%M"), pl.col(column))

    lon = spd.get_column("Longitude").cast(pl.Float64, strict=False).to_numpy()
    lat = spd.get_column("Latitude").cast(pl.Float64, strict=False).to_numpy()
    x, y = to_feet.transform(lon, lat)
    rows = []
    for i, rec in enumerate(spd.iter_rows(named=True)):
        code = rec["Offense Code"]
        lon_text, lat_text = rec["Longitude"], rec["Latitude"]
        if lon_text in ("0", "0.0") and lat_text in ("0", "0.0"):
            xs, ys, geo = "0", "0", ""
        elif lon_text is None or lat_text is None:
            xs, ys, geo = "", "", ""
        elif i % 20 == 7:  # one row in twenty carries hex WKB instead of State Plane
            xs, ys, geo = "", "", struct.pack("<BIdd", 1, 1, lon[i], lat[i]).hex().upper()
        else:
            xs, ys, geo = f"{x[i]:.2f}", f"{y[i]:.2f}", ""
        rows.append({
            "Case No": rec["Report Number"], "Incident ID": rec["Offense ID"],
            "Code": local_code(code) if code in known else code, "Offense": rec["Offense"],
            "Block": rec["100 Block Address"], "X": xs, "Y": ys, "Geo": geo,
        })  # fmt: skip
    dates = spd.select(
        when("Offense Start DateTime").alias("Occurred"), when("Report DateTime").alias("Reported")
    )
    frame = pl.DataFrame(rows, schema=dict.fromkeys(RIVERTON_COLUMNS, pl.String))
    frame = frame.with_columns(dates).select(RIVERTON_COLUMNS)
    frame.write_csv(out)


@pytest.fixture(scope="module")
def riverton(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("riverton")
    exports = root / "exports"
    files = generate_sample_city(exports, SampleCityConfig(n_incidents=3000))
    render_riverton(files.police_csv, exports / "riverton_incidents.csv")
    categories = write_crosswalk(root / "riverton_crosswalk.csv")
    (root / "riverton.yml").write_text(RIVERTON_YAML)
    data_dir = root / "data"
    completed = run_crimemap(data_dir, "run", "--config", str(root / "riverton.yml"))
    if completed.returncode != 0:
        pytest.fail(f"crimemap run failed:\n{completed.stdout[-4000:]}\n{completed.stderr[-6000:]}")
    return exports, data_dir, categories


def test_unknown_city_counts_per_category_match_the_truth(riverton) -> None:
    exports, data_dir, categories = riverton
    truth = exports / "truth_incidents.parquet"
    spd = exports / "seattle_spd_crime_data.csv"
    con = duckdb.connect()
    expected = dict(
        con.execute(
            f"""
            WITH spd AS (
                SELECT row_number() OVER () AS row_number, "Offense Code" AS code
                FROM read_csv('{spd}', all_varchar = true)
            )
            SELECT code, count(*) FROM spd JOIN read_parquet('{truth}') USING (row_number)
            WHERE defect IS NULL OR defect = 'offense_code_unknown'
            GROUP BY code
            """
        ).fetchall()
    )
    by_category: dict[str, int] = {}
    for code, n in expected.items():
        category = categories.get(code, "unmapped")
        by_category[category] = by_category.get(category, 0) + n
    with connect(data_dir / "warehouse.duckdb", read_only=True) as wh:
        got = dict(
            wh.execute("SELECT category, count(*) FROM fct_incidents GROUP BY ALL").fetchall()
        )
        sources = wh.execute("SELECT DISTINCT source, agency FROM fct_incidents").fetchall()
    assert got == by_category
    assert sources == [("riverton_pd", "Riverton Police Department")]


def test_unknown_city_quarantine_and_reconciliation(riverton) -> None:
    exports, data_dir, _ = riverton
    truth = exports / "truth_incidents.parquet"
    con = duckdb.connect()
    planted = set(
        con.execute(
            f"SELECT row_number, defect FROM read_parquet('{truth}') "
            "WHERE defect IS NOT NULL AND defect <> 'offense_code_unknown'"
        ).fetchall()
    )
    quarantine = data_dir / "quarantine/police/riverton_pd/month=*/*.parquet"
    quarantined = set(
        con.execute(f"SELECT _row_number, _reason FROM read_parquet('{quarantine}')").fetchall()
    )
    assert planted and quarantined == planted
    raw = data_dir / "raw/police/riverton_pd/month=*/*.parquet"
    raw_rows = con.execute(f"SELECT count(*) FROM read_parquet('{raw}')").fetchone()[0]
    with connect(data_dir / "warehouse.duckdb", read_only=True) as wh:
        staged = wh.execute(
            "SELECT count(DISTINCT (_load_id, _row_number)) FROM fct_incidents"
        ).fetchone()[0]
        wkb_points = wh.execute(
            "SELECT count(*) FROM stg_police__offenses WHERE location_source = 'wkb_hex'"
        ).fetchone()[0]
    assert raw_rows == 3000 == staged + len(quarantined)
    assert wkb_points > 50


def test_unknown_city_points_land_in_their_true_area(riverton) -> None:
    exports, data_dir, _ = riverton
    truth = exports / "truth_incidents.parquet"
    with connect(data_dir / "warehouse.duckdb", read_only=True) as wh:
        mismatched, total = wh.execute(
            f"""
            SELECT count(*) FILTER (WHERE f.area_id IS DISTINCT FROM t.area_id), count(*)
            FROM fct_incidents AS f
            JOIN read_parquet('{truth}') AS t ON t.row_number = f._row_number
            WHERE NOT t.on_edge
            """
        ).fetchone()
    assert total > 2500 and mismatched == 0
