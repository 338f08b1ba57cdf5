"""The dbt project end to end on a tiny hand-made city with known answers.

The fixture writes each source as its publisher does (GeoJSON boundaries, Census API JSON,
facility and 311 CSVs, a survey CSV), lands and splits them with the real quality code into the
conformed Parquet dbt reads, writes the conformed police offenses (the accepted rows through the
Seattle layout), runs ``dbt build`` (seeds, models, data tests and dbt unit tests) into a
temporary ``CRIMEMAP_DATA_DIR``, then checks the answers with DuckDB.

The city: six square areas (census tracts) of 0.01 degrees in a 3 x 2 grid; the third column
is shifted east by a 3 m hairline gap. Incidents include multi-offense reports, a point exactly
on a shared edge, one on a four-area corner, one in the gap (snaps), one far outside (stays
unassigned), a quarantined row, and a late-evening local time that is already next month in UTC.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crimemap.config.sources import SAMPLE_BOUNDARY_SPEC
from crimemap.core.duckdb_spatial import connect, prepare_extension_directory
from crimemap.ingestion.boundaries import BoundarySpec, land_boundaries
from crimemap.ingestion.census import SOCIAL_SERVICES_TABLE_SET, table_set_variables
from crimemap.ingestion.landing import land_census_json, land_csv
from crimemap.ingestion.police.conform import conformed_columns_sql, offense_rows_sql
from crimemap.ingestion.police.layout import builtin_layout
from crimemap.ingestion.service_requests.layout import builtin_service_request_layout
from crimemap.quality.boundaries import split_boundaries
from crimemap.quality.census import split_acs
from crimemap.quality.facilities import split_facilities
from crimemap.quality.rules import EventRuleSettings, load_areas
from crimemap.quality.service_requests import split_service_requests
from crimemap.quality.surveys import split_survey
from crimemap.samplecity.settings import (
    SAMPLE_CITY_SURVEY_COLUMNS,
    SAMPLE_CITY_SURVEY_LAYOUT,
    SAMPLE_FACILITY_MAPPING,
)

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")

LOAD_ID = "load-0001"
TINY_CITY_VARS = {"start_month": "2023-01-01", "initiatives": []}
CRS = "EPSG:32610"
TIMEZONE = "America/Los_Angeles"
INGESTED_AT = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)

POLICE_COLUMNS = [
    "Report Number", "Offense ID", "Offense Start DateTime", "Offense End DateTime",
    "Report DateTime", "Group A B", "Crime Against Category", "Offense Parent Group", "Offense",
    "Offense Code", "Precinct", "Sector", "Beat", "MCPP", "100 Block Address", "Longitude",
    "Latitude",
]  # fmt: skip
FACILITY_COLUMNS = ["facility_id", "name", "facility_type", "address", "latitude", "longitude"]

# --- geography -------------------------------------------------------------------------------
X0, Y0, CELL = -122.36, 47.60, 0.01
GAP = 0.00004  # ~3 m of longitude at 47.6 N between the 2nd and 3rd column
XS = [X0, X0 + CELL, X0 + 2 * CELL]  # west edges of the three columns (before the gap)


def west(col: int) -> float:
    return round(XS[col] + (GAP if col == 2 else 0.0), 6)


def east(col: int) -> float:
    return round(XS[col] + CELL, 6)


def square(x0: float, y0: float, x1: float, y1: float) -> dict:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


# (area_id, col, row, published GEOID, population)
AREAS = [
    ("53033000100", 0, 0, "53033000100", 1000),
    ("53033000200", 1, 0, "53033000200", 2000),
    ("53033000300", 2, 0, "1400000US53033000300", 50),  # GEO_ID form; below the population floor
    ("53033000400", 0, 1, "53033000400", 3000),
    ("53033000500", 1, 1, "53033000500", 1500),
    ("53033000600", 2, 1, "53033000600", None),  # no ACS row at all
]


def area_rows() -> list[dict]:
    rows = []
    for _, col, row, geoid, _ in AREAS:
        y0 = round(Y0 + row * CELL, 6)
        y1 = round(Y0 + (row + 1) * CELL, 6)
        rows.append({"GEOID": geoid, "NAME": f"Tract {geoid[-6:]}",
                     "geometry": square(west(col), y0, east(col), y1)})  # fmt: skip
    # a feature the quality rules reject (geometry_invalid): must not reach staging
    rows.append({"GEOID": "53033999999", "NAME": "Broken", "geometry": {"type": "LineString",
                 "coordinates": [[X0, Y0], [X0 + CELL, Y0]]}})  # fmt: skip
    return rows


def acs_rows() -> list[dict]:
    """Census API rows of the social_services table set; tract codes lose their zero-padding."""
    rows = []
    for area_id, _, _, _, population in AREAS:
        if population is None:
            continue
        income = "-666666666" if area_id == "53033000500" else "55000"  # Census sentinel
        values = {f"{v}{s}": "0" for v in table_set_variables(SOCIAL_SERVICES_TABLE_SET)
                  for s in ("E", "M")}  # fmt: skip
        values.update({
            "B01003_001E": str(population), "B01003_001M": "10",
            "B01001_001E": str(population), "B01001_001M": "10",
            "B17001_001E": str(population), "B17001_001M": "10",
            "B17001_002E": str(population // 10), "B17001_002M": "5",
            "B23025_003E": str(population // 2), "B23025_003M": "10",
            "B23025_005E": str(population // 20), "B23025_005M": "5",
            "B19013_001E": income, "B19013_001M": "4000",
        })  # fmt: skip
        rows.append({"NAME": f"Census Tract {area_id[-6:]}", **values, "state": "53",
                     "county": "33", "tract": area_id[-6:].lstrip("0")})  # fmt: skip
    return rows


# --- incidents -------------------------------------------------------------------------------
def inside(col: int, row: int) -> tuple[float, float]:
    return (round(west(col) + 0.003, 6), round(Y0 + row * CELL + 0.004, 6))


EDGE_POINT = (XS[1], 47.605)  # exactly on the edge shared by ...100 and ...200
CORNER_POINT = (XS[1], Y0 + CELL)  # the corner of ...100, ...200, ...400 and ...500
GAP_POINT = (round(east(1) + 0.00001, 6), 47.603)  # ~0.75 m east of ...200, ~2.2 m from ...300
FAR_POINT = (-122.20, 47.70)  # kilometres outside every area

# (report, offense id, local start, code, (lon, lat) or None)
INCIDENTS = [
    ("2023-000001", "1001", "01/10/2023 08:15:00 AM", "13A", inside(0, 0)),
    ("2023-000001", "1002", "01/10/2023 08:15:00 AM", "23H", inside(0, 0)),
    ("2023-000002", "1003", "01/20/2023 02:00:00 PM", "23H", inside(0, 0)),
    ("2023-000003", "1004", "02/03/2023 09:00:00 AM", "220", EDGE_POINT),
    ("2023-000004", "1005", "02/04/2023 10:00:00 AM", "240", GAP_POINT),
    ("2023-000005", "1006", "03/05/2023 11:00:00 AM", "290", FAR_POINT),
    ("2023-000006", "1007", "03/06/2023 12:00:00 PM", "13B", inside(2, 0)),
    ("2023-000007", "1008", "01/07/2023 01:00:00 AM", "11A", inside(0, 1)),
    ("2023-000008", "1009", "01/08/2023 01:00:00 AM", "35A", None),  # quarantined below
    ("2023-000009", "1010", "01/31/2023 11:30:00 PM", " 13b ", inside(1, 1)),  # Feb in UTC
    ("2023-000010", "1011", "02/11/2023 03:00:00 PM", "26A", CORNER_POINT),
    # a code missing from the crosswalk that quality let through: kept, 'unmapped', sensitive
    ("2023-000011", "1012", "03/12/2023 04:00:00 PM", "99X", inside(0, 1)),
]
QUARANTINED_POLICE_ROWS = {9: ["coordinates_missing"]}  # 1-based row numbers


def police_rows() -> list[dict]:
    rows = []
    for report, offense_id, start, code, point in INCIDENTS:
        lon, lat = ("", "") if point is None else (repr(point[0]), repr(point[1]))
        rows.append({
            "Report Number": report, "Offense ID": offense_id, "Offense Start DateTime": start,
            "Offense End DateTime": "", "Report DateTime": start, "Group A B": "A",
            "Crime Against Category": "PERSON", "Offense Parent Group": "", "Offense": "x",
            "Offense Code": code, "Precinct": "N", "Sector": "B", "Beat": "B1", "MCPP": "X",
            "100 Block Address": "1XX BLOCK OF MAIN ST", "Longitude": lon, "Latitude": lat,
        })  # fmt: skip
    return rows


def facility_rows() -> list[dict]:
    def row(fid: str, kind: str, point: tuple[float, float]) -> dict:
        lon, lat = repr(point[0]), repr(point[1])
        return {"facility_id": fid, "name": f"Facility {fid}", "facility_type": kind,
                "address": "1 Main St", "latitude": lat, "longitude": lon}  # fmt: skip

    return [
        row("F1", "mental_health", inside(1, 0)),
        row("F2", "shelter", (XS[1], 47.615)),  # on the edge of ...400 and ...500
        row("F3", "clinic", FAR_POINT),
    ]


# --- 311 requests and survey answers ------------------------------------------------------------
SF311_ROW = dict.fromkeys(builtin_service_request_layout("sf311").columns, "")


def service_request_rows() -> list[dict]:
    def row(rid: str, kind: str, opened: str, closed: str, point: tuple[float, float]) -> dict:
        return {**SF311_ROW, "service_request_id": rid, "requested_datetime": opened,
                "closed_date": closed, "status_description": "Closed" if closed else "Open",
                "service_name": kind, "long": repr(point[0]), "lat": repr(point[1])}  # fmt: skip

    return [
        row(
            "R1", "Encampments", "2023-01-05T10:00:00.000", "2023-01-07T10:00:00.000", inside(0, 0)
        ),
        row(
            "R2", "Encampments", "2023-01-09T10:00:00.000", "2023-01-10T10:00:00.000", inside(0, 0)
        ),
        row("R3", "Graffiti", "2023-01-20T10:00:00.000", "", inside(0, 0)),
        row("R4", "Encampments", "2023-02-02T10:00:00.000", "", inside(1, 1)),
        row("R4", "Encampments", "2023-02-02T10:00:00.000", "", inside(1, 1)),  # duplicate id
        row("R5", "Graffiti", "2023-03-01T10:00:00.000", "", FAR_POINT),  # out of jurisdiction
    ]


def survey_rows() -> list[dict]:
    """12 respondents in ...100 (by tract id, 9 feel safe at night), 3 in ...200 (by point)."""
    rows = []
    for i in range(12):
        rows.append({"tract_geoid": "53033000100", "latitude": "", "longitude": "",
                     "feel_safe_night": "4" if i < 9 else "2", "weight": "1"})  # fmt: skip
    lon, lat = inside(1, 0)
    for _ in range(3):
        rows.append({"tract_geoid": "", "latitude": repr(lat), "longitude": repr(lon),
                     "feel_safe_night": "5", "weight": "2"})  # fmt: skip
    blank = dict.fromkeys(SAMPLE_CITY_SURVEY_COLUMNS, "")
    return [
        {**blank, "response_id": f"S{i + 1}", "submitted_at": "2023-02-01", **r}
        for i, r in enumerate(rows)
    ]


# --- sources as published, landed and split by the real quality code -----------------------------
def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_geojson(path: Path, features: list[dict], **members: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    collection = {"type": "FeatureCollection", **members, "features": [
        {"type": "Feature", "properties": {k: v for k, v in f.items() if k != "geometry"},
         "geometry": f["geometry"]} for f in features]}  # fmt: skip
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path


def write_census_json(path: Path, rows: list[dict]) -> Path:
    header = list(rows[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([header, *[[r[c] for c in header] for r in rows]]))
    return path


def conform_areas(con, data_dir: Path, source: str, spec: BoundarySpec, source_file: Path) -> None:
    raw = data_dir / "raw" / source / f"{source}.parquet"
    land_boundaries(source_file, raw, spec, load_id=LOAD_ID, con=con, ingested_at=INGESTED_AT)
    split_boundaries(
        con, spec, raw_parquet=raw, source=source,
        quarantine_path=data_dir / "quarantine" / source / f"{source}.parquet",
        conformed_path=data_dir / "conformed" / source / f"{source}.parquet",
    )  # fmt: skip


def conform_acs(con, data_dir: Path, source_file: Path) -> None:
    raw = data_dir / "raw" / "area_indicators" / "area_indicators.parquet"
    land_census_json(source_file, raw, load_id=LOAD_ID, ingested_at=INGESTED_AT)
    split_acs(
        con, SOCIAL_SERVICES_TABLE_SET, raw_parquet=raw,
        quarantine_path=data_dir / "quarantine" / "area_indicators" / "area_indicators.parquet",
        conformed_path=data_dir / "conformed" / "area_indicators" / "area_indicators.parquet",
    )  # fmt: skip


def no_indicator_units(con, data_dir: Path) -> None:
    """Indicators on the areas' own geography: an empty units file, as the pipeline writes."""
    areas = data_dir / "conformed" / "areas" / "areas.parquet"
    target = data_dir / "conformed" / "indicator_units" / "indicator_units.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT * FROM '{areas}' LIMIT 0) TO '{target}' (FORMAT parquet)")


def conform_points(con, data_dir: Path, sources: Path) -> None:
    """Facilities, 311 and the survey, judged against the conformed areas."""
    boundary = load_areas(con, data_dir / "conformed" / "areas" / "areas.parquet")

    def paths(source: str) -> dict[str, Path]:
        return {
            "raw_parquet": data_dir / "raw" / source / f"{source}.parquet",
            "quarantine_path": data_dir / "quarantine" / source / f"{source}.parquet",
            "conformed_path": data_dir / "conformed" / source / f"{source}.parquet",
        }

    for source, columns, rows_ in (
        ("facilities", FACILITY_COLUMNS, facility_rows()),
        ("service_requests", list(SF311_ROW), service_request_rows()),
        ("surveys", list(SAMPLE_CITY_SURVEY_COLUMNS), survey_rows()),
    ):
        exported = write_csv(sources / f"{source}.csv", columns, rows_)
        land_csv(exported, paths(source)["raw_parquet"], load_id=LOAD_ID, ingested_at=INGESTED_AT)
    split_facilities(
        con, SAMPLE_FACILITY_MAPPING, boundary_table=boundary, projected_crs=CRS,
        tolerance_m=50.0, **paths("facilities"),
    )  # fmt: skip
    settings = EventRuleSettings(
        boundary_table=boundary, projected_crs=CRS, timezone=TIMEZONE, now_sql="now()"
    )
    split_service_requests(
        con, builtin_service_request_layout("sf311"), settings, source="service_requests",
        **paths("service_requests"),
    )  # fmt: skip
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE known_areas AS SELECT area_id AS area_key FROM {boundary}"
    )
    split_survey(
        con, SAMPLE_CITY_SURVEY_LAYOUT, survey="surveys", area_table="known_areas",
        boundary_table=boundary, projected_crs=CRS, tolerance_m=50.0, **paths("surveys"),
    )  # fmt: skip


def write_sources(data_dir: Path) -> None:
    sources = data_dir / "sources"
    police = lineage_table(police_rows(), POLICE_COLUMNS, "seattle_spd_crime_data.csv")
    write_conformed_police(data_dir, police)
    areas = write_geojson(sources / "areas.geojson", area_rows())
    acs = write_census_json(sources / "acs_5yr_tract.json", acs_rows())
    with connect() as con:
        conform_areas(con, data_dir, "areas", SAMPLE_BOUNDARY_SPEC, areas)
        no_indicator_units(con, data_dir)
        conform_acs(con, data_dir, acs)
        conform_points(con, data_dir, sources)


def lineage_table(rows: list[dict], columns: list[str], source_file: str) -> pa.Table:
    data = {c: pa.array([r[c] for r in rows], pa.string()) for c in columns}
    data["_source_file"] = pa.array([source_file] * len(rows), pa.string())
    data["_row_number"] = pa.array(range(1, len(rows) + 1), pa.int64())
    data["_ingested_at"] = pa.array([INGESTED_AT] * len(rows), pa.timestamp("us", tz="UTC"))
    data["_load_id"] = pa.array([LOAD_ID] * len(rows), pa.string())
    return pa.table(data)


def write_conformed_police(data_dir: Path, police: pa.Table) -> None:
    """What quality hands dbt: the accepted rows, one row per offense (no custom crosswalks)."""
    layout = builtin_layout("seattle_spd")
    target = data_dir / "conformed" / "police" / "seattle_spd" / "month=2023-01" / "part.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.register("landed", police)
        quarantined = ", ".join(str(n) for n in QUARANTINED_POLICE_ROWS)
        con.execute(
            "CREATE TABLE accepted AS "
            + conformed_columns_sql(
                layout,
                f"(SELECT * FROM landed WHERE _row_number NOT IN ({quarantined}))",
                "America/Los_Angeles",
            )
        )
        offenses = offense_rows_sql(layout, "seattle_spd", "accepted", tuple(POLICE_COLUMNS))
        con.execute(f"COPY ({offenses}) TO '{target}' (FORMAT parquet)")
    crosswalks = data_dir / "conformed" / "crosswalks" / "custom.parquet"
    crosswalks.parent.mkdir(parents=True, exist_ok=True)
    columns = ["crosswalk", "offense_code", "nibrs_code", "offense_name", "nibrs_group",
               "crime_against", "category"]  # fmt: skip
    flags = ["is_sensitive", "mental_health_related", "domestic_violence", "juvenile_involved",
             "substance_related"]  # fmt: skip
    schema = pa.schema([(c, pa.string()) for c in columns] + [(f, pa.bool_()) for f in flags])
    pq.write_table(schema.empty_table(), crosswalks)


# --- running dbt -----------------------------------------------------------------------------
def dbt_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CRIMEMAP_DATA_DIR"] = str(data_dir)
    env["CRIMEMAP_DUCKDB_EXTENSION_DIR"] = str(
        prepare_extension_directory(data_dir / ".duckdb_extensions")
    )
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


def run_dbt(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    target = data_dir / "dbt_target"
    cmd = [
        str(DBT), *args,
        "--profiles-dir", str(DBT_PROJECT_DIR), "--project-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target), "--log-path", str(data_dir / "dbt_logs"),
    ]  # fmt: skip
    result = subprocess.run(cmd, env=dbt_env(data_dir), capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, f"dbt {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    data_dir = tmp_path_factory.mktemp("crimemap_data")
    write_sources(data_dir)
    # seeds, models, data tests and unit tests; the tiny city's police data start in 2023 and
    # it has none of the sample city's initiatives
    run_dbt(data_dir, "build", "--vars", json.dumps(TINY_CITY_VARS))
    (data_dir / "unit_tests_run.json").write_text(json.dumps(unit_test_results(data_dir)))
    con = connect(
        data_dir / "warehouse.duckdb",
        read_only=True,
        extension_directory=data_dir / ".duckdb_extensions",
    )
    yield con
    con.close()


def unit_test_results(data_dir: Path) -> dict[str, str]:
    """Status of every dbt unit test the build ran, by name (run_results.json)."""
    results = json.loads((data_dir / "dbt_target" / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].split(".")[-1]: r["status"]
        for r in results
        if r["unique_id"].startswith("unit_test.")
    }


def test_every_dbt_unit_test_runs_here(warehouse) -> None:
    """crimemap run leaves dbt unit tests out (they test SQL, not a jurisdiction's data): this
    build is where every one of them runs, with the project's own vars."""
    data_dir = Path(warehouse.execute("PRAGMA database_list").fetchone()[2]).parent
    manifest = json.loads((data_dir / "dbt_target" / "manifest.json").read_text())
    declared = {n["name"] for n in manifest["unit_tests"].values()}
    ran = json.loads((data_dir / "unit_tests_run.json").read_text())
    assert len(declared) >= 17
    assert set(ran) == declared
    assert set(ran.values()) == {"pass"}


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


# --- answers ---------------------------------------------------------------------------------
def test_quarantined_rows_never_reach_staging(warehouse):
    staged = rows(warehouse, "select report_number from stg_police__offenses")
    assert len(staged) == len(INCIDENTS) - len(QUARANTINED_POLICE_ROWS)
    assert ("2023-000008",) not in staged
    areas = rows(warehouse, "select area_id from stg_boundaries__areas order by area_id")
    assert areas == [(a[0],) for a in AREAS]  # the broken feature is gone, GEO_ID normalized


def test_one_assignment_per_staged_row(warehouse):
    staged, assigned, keys = rows(
        warehouse,
        """
        select
            (select count(*) from stg_police__offenses),
            count(*),
            count(distinct offense_key)
        from int_incidents__area_assigned
        """,
    )[0]
    assert staged == assigned == keys


def assignment(con: duckdb.DuckDBPyConnection, report: str) -> tuple:
    return rows(
        con,
        f"""
        select f.area_id, f.assignment_method, i.covering_area_count, i.snap_distance_m
        from fct_incidents as f
        join int_incidents__area_assigned as i using (offense_key)
        where f.report_number = '{report}'
        """,
    )[0]


def test_edge_point_goes_to_lowest_area_id(warehouse):
    # on the edge of ...100 and ...200
    assert assignment(warehouse, "2023-000003")[:3] == ("53033000100", "covered", 2)
    # on the corner of ...100, ...200, ...400 and ...500
    assert assignment(warehouse, "2023-000010")[:3] == ("53033000100", "covered", 4)
    # a facility on the edge of ...400 and ...500
    facility = rows(
        warehouse, "select area_id, assignment_method from dim_facility where facility_id = 'F2'"
    )
    assert facility == [("53033000400", "covered")]


def test_gap_point_snaps_and_far_point_stays_unassigned(warehouse):
    area_id, method, covering, distance = assignment(warehouse, "2023-000004")
    assert (area_id, method, covering) == ("53033000200", "snapped", 0)
    assert 0.5 < distance < 1.0  # ~0.75 m
    assert assignment(warehouse, "2023-000005")[:2] == (None, "unassigned")
    # a facility far outside never reaches the marts: quality quarantines it
    assert rows(warehouse, "select count(*) from dim_facility where facility_id = 'F3'") == [(0,)]


def test_offense_keys_and_codes(warehouse):
    got = rows(
        warehouse,
        """
        select offense_key, incident_key, offense_seq, nibrs_code, category
        from fct_incidents
        where report_number in ('2023-000001', '2023-000009')
        order by offense_key
        """,
    )
    assert got == [
        ("seattle_spd:2023-000001:1", "seattle_spd:2023-000001", 1, "13A", "assault"),
        ("seattle_spd:2023-000001:2", "seattle_spd:2023-000001", 2, "23H", "theft"),
        ("seattle_spd:2023-000009:1", "seattle_spd:2023-000009", 1, "13B", "assault"),  # " 13b "
    ]
    sensitive = rows(
        warehouse,
        "select is_sensitive, category from fct_incidents where report_number = '2023-000007'",
    )
    assert sensitive == [(True, "sexual_offense")]
    unmapped = rows(
        warehouse,
        """
        select offense_code_raw, nibrs_code, category, is_sensitive, area_id
        from fct_incidents
        where report_number = '2023-000011'
        """,
    )
    assert unmapped == [("99X", None, "unmapped", True, "53033000400")]


def test_local_time_and_month(warehouse):
    # 11:30 PM on 31 January in Seattle is 07:30 UTC on 1 February; the month is local.
    got = rows(
        warehouse,
        """
        select occurred_at at time zone 'UTC', occurred_month
        from fct_incidents
        where report_number = '2023-000009'
        """,
    )
    assert got == [(datetime(2023, 2, 1, 7, 30), datetime(2023, 1, 1).date())]


def test_dim_area(warehouse):
    got = rows(
        warehouse,
        """
        select area_id, population, median_household_income, round(poverty_rate, 3),
               round(area_km2, 2)
        from dim_area
        order by area_id
        """,
    )
    assert [r[0] for r in got] == [a[0] for a in AREAS]
    by_id = {r[0]: r for r in got}
    assert by_id["53033000100"][1:4] == (1000, 55000.0, 0.1)
    assert by_id["53033000500"][2] is None  # -666666666 sentinel
    assert by_id["53033000600"][1] is None  # no ACS row
    # 0.01 deg x 0.01 deg at 47.6 N is ~0.75 km x 1.11 km
    assert 0.80 < by_id["53033000100"][4] < 0.86


def test_area_month_rates(warehouse):
    def cell(area: str, month: str, category: str) -> tuple:
        return rows(
            warehouse,
            f"""
            select incident_count, incident_reports, population, rate_per_1000, rate_suppressed
            from area_month_rates
            where area_id = '{area}' and month = date '{month}' and category = '{category}'
            """,
        )[0]

    # report 1 has two offenses: three offenses, two reports
    assert cell("53033000100", "2023-01-01", "all") == (3, 2, 1000, 3.0, False)
    assert cell("53033000100", "2023-01-01", "theft") == (2, 2, 1000, 2.0, False)
    assert cell("53033000100", "2023-01-01", "assault") == (1, 1, 1000, 1.0, False)
    # the edge and the corner point (both to ...100) in February
    assert cell("53033000100", "2023-02-01", "all") == (2, 2, 1000, 2.0, False)
    # the snapped gap point
    assert cell("53033000200", "2023-02-01", "motor_vehicle_theft") == (1, 1, 2000, 0.5, False)
    # zero-filled: rate 0, not missing
    assert cell("53033000200", "2023-01-01", "all") == (0, 0, 2000, 0.0, False)
    # population below the floor: suppressed
    assert cell("53033000300", "2023-03-01", "all") == (1, 1, 50, None, True)
    one_in_3000 = pytest.approx(1 / 3)
    assert cell("53033000400", "2023-03-01", "unmapped") == (1, 1, 3000, one_in_3000, False)
    # unknown population: suppressed
    assert cell("53033000600", "2023-02-01", "all") == (0, 0, None, None, True)
    # the complete grid: 6 areas x 3 months x (taxonomy + 'all')
    n_categories = rows(warehouse, "select count(*) + 1 from category_descriptions")[0][0]
    assert rows(warehouse, "select count(*) from area_month_rates") == [(6 * 3 * n_categories,)]
    # every assigned offense is counted exactly once under 'all'
    counted = rows(
        warehouse, "select sum(incident_count) from area_month_rates where category = 'all'"
    )
    assigned = rows(warehouse, "select count(*) from fct_incidents where area_id is not null")
    assert counted == assigned


def test_indicators_on_the_areas_geography_pass_through(warehouse):
    got = rows(
        warehouse,
        """
        select indicator, estimate, moe, unreliable, source_units, method
        from area_indicators
        where area_id = '53033000100' and indicator in ('population', 'poverty_rate')
        order by indicator
        """,
    )
    poverty_moe = (5**2 - 0.1**2 * 10**2) ** 0.5 / 1000  # ACS ratio formula
    assert got == [
        ("population", 1000.0, 10.0, False, 1, "identity"),
        ("poverty_rate", 0.1, pytest.approx(poverty_moe), False, 1, "identity"),
    ]
    # 50 residents with a margin of 10: CV = 10 / 1.645 / 50 = 12% (reliable); 5 in poverty with
    # a margin of 5: CV 61% (unreliable)
    flags = rows(
        warehouse,
        """
        select population_unreliable, poverty_rate_unreliable, median_household_income_unreliable
        from dim_area where area_id = '53033000300'
        """,
    )
    assert flags == [(False, True, False)]
    # the Census sentinel and the area with no ACS row are flagged
    missing = rows(
        warehouse,
        """
        select area_id, median_household_income_unreliable, population_unreliable
        from dim_area where area_id in ('53033000500', '53033000600') order by area_id
        """,
    )
    assert missing == [("53033000500", True, False), ("53033000600", True, True)]


def test_service_requests_by_area_month_and_type(warehouse):
    def cell(area: str, month: str, kind: str) -> tuple:
        return rows(
            warehouse,
            f"""
            select requests, closed_requests, median_days_to_close
            from service_requests_area_month
            where area_id = '{area}' and month = date '{month}' and request_type = '{kind}'
            """,
        )[0]

    assert cell("53033000100", "2023-01-01", "Encampments") == (2, 2, 1.5)
    assert cell("53033000100", "2023-01-01", "Graffiti") == (1, 0, None)
    assert cell("53033000500", "2023-02-01", "Encampments") == (1, 0, None)  # copy quarantined
    assert cell("53033000500", "2023-01-01", "Encampments") == (0, 0, None)  # zero-filled
    # 6 areas x 2 months (Jan-Feb: the far request was quarantined) x 2 request types
    assert rows(warehouse, "select count(*) from service_requests_area_month") == [(24,)]


def test_survey_shares_and_small_sample_suppression(warehouse):
    got = rows(
        warehouse,
        """
        select area_id, area_respondents, respondents, suppressed, weighted_share
        from survey_area_responses
        where question = 'feel_safe_night'
        order by area_id
        """,
    )
    assert got == [
        ("53033000100", 12, 12, False, 0.75),  # named by tract id: 9 of 12 feel safe
        ("53033000200", 3, 3, True, None),  # located by point; 3 < 10 respondents
    ]


# --- configuration values reach SQL as literals ----------------------------------------------
HOSTILE_NAME = "St. Mary's pilot'); drop table dim_area; --"


def test_quoted_configuration_values_are_sql_literals(warehouse, tmp_path: Path) -> None:
    """A WKT CRS and an initiative name holding quotes build the same marts as the plain
    values: the quotes are data, never SQL."""
    import pyproj

    wkt = pyproj.CRS(CRS).to_wkt().replace("WGS 84 / UTM zone 10N", "O'Brien's UTM 10N", 1)
    hostile_vars = {
        **TINY_CITY_VARS,
        "projected_crs": wkt,
        "initiatives": [
            {"name": HOSTILE_NAME, "areas": ["53033000100", "5303'3"], "start_month": "2023-02-01"}
        ],
    }
    write_sources(tmp_path)
    run_dbt(tmp_path, "seed")
    run_dbt(tmp_path, "run", "--vars", json.dumps(hostile_vars))
    with connect(
        tmp_path / "warehouse.duckdb",
        read_only=True,
        extension_directory=tmp_path / ".duckdb_extensions",
    ) as hostile:
        for query in (
            "select area_id, round(area_km2, 9) from dim_area order by 1",
            "select cell_id, round(centre_x, 6), round(centre_y, 6) from dim_grid_cell order by 1",
            "select area_id, facility_type, round(nearest_facility_m, 6) from service_access "
            "order by 1, 2",
        ):
            assert rows(hostile, query) == rows(warehouse, query), query
        (initiative,) = rows(
            hostile, "select initiative, listed_areas, configuration_error from initiative_impact"
        )
        assert initiative[:2] == (HOSTILE_NAME, "5303'3, 53033000100")
        assert "areas not in dim_area: '5303'3'" in initiative[2]


def test_not_null_columns_counts_every_null_cell_and_names_its_columns(
    warehouse, tmp_path: Path
) -> None:
    """A model's not-null columns are judged by one query (not_null_columns). On a copy of the
    built warehouse with three NULL cells in two of a crosswalk's columns, the test fails with
    3 failures and names the two columns."""
    built = Path(warehouse.execute("PRAGMA database_list").fetchone()[2])
    (tmp_path / "warehouse.duckdb").write_bytes(built.read_bytes())
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("update crosswalk_lapd set category = null where offense_code in ('110','113')")
        con.execute("update crosswalk_lapd set is_sensitive = null where offense_code = '110'")
    cmd = [
        str(DBT), "test", "--select", "not_null_crosswalk_lapd", "--store-failures",
        "--vars", json.dumps(TINY_CITY_VARS),
        "--profiles-dir", str(DBT_PROJECT_DIR), "--project-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(tmp_path / "dbt_target"), "--log-path", str(tmp_path / "dbt_logs"),
    ]  # fmt: skip
    result = subprocess.run(cmd, env=dbt_env(tmp_path), capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 1, result.stdout + result.stderr
    results = json.loads((tmp_path / "dbt_target" / "run_results.json").read_text())["results"]
    (outcome,) = [r for r in results if r["unique_id"].startswith("test.")]
    assert (outcome["status"], outcome["failures"]) == ("fail", 3)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        stored = con.execute(
            "select column_name, null_rows from main_dbt_test__audit.not_null_crosswalk_lapd "
            "order by 1"
        ).fetchall()
    assert stored == [("category", 2), ("is_sensitive", 1)]


def test_every_constraint_is_enforced_by_the_database(warehouse) -> None:
    """A not_null or check constraint replaces a data test only where DuckDB enforces it: in a
    model with an enforced contract, built as a table (a view would check nothing)."""
    data_dir = Path(warehouse.execute("PRAGMA database_list").fetchone()[2]).parent
    manifest = json.loads((data_dir / "dbt_target" / "manifest.json").read_text())
    constrained: dict[str, dict[str, tuple[bool, str]]] = {"not_null": {}, "check": {}}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        constraints = [
            *node.get("constraints", []),
            *(c for column in node["columns"].values() for c in column.get("constraints", [])),
        ]
        how = (node["contract"]["enforced"], node["config"]["materialized"])
        for kind, models in constrained.items():
            if any(constraint["type"] == kind for constraint in constraints):
                models[node["name"]] = how
    assert {"fct_incidents", "area_month_rates"} <= set(constrained["not_null"])
    assert {"fct_incidents", "area_month_rates", "quality_scorecard"} <= set(constrained["check"])
    not_enforced = {
        name: how
        for models in constrained.values()
        for name, how in models.items()
        if how not in ((True, "table"), (True, "incremental"))
    }
    assert not_enforced == {}
    # and the built table holds the constraints: DuckDB refuses a NULL key and a value outside
    # the column's domain
    (ddl,) = warehouse.execute(
        "select sql from duckdb_tables() where table_name = 'area_month_rates'"
    ).fetchone()
    row = warehouse.execute("select * from area_month_rates limit 1").fetchone()
    outside = warehouse.execute(
        "select * replace ('larceny' as category) from area_month_rates limit 1"
    ).fetchone()
    places = ", ".join("?" for _ in row)
    with duckdb.connect() as copy:
        copy.execute(ddl)
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
            copy.execute("insert into area_month_rates (area_id) values (null)")
        with pytest.raises(duckdb.ConstraintException, match="CHECK constraint failed"):
            copy.execute(f"insert into area_month_rates values ({places})", outside)
        copy.execute(f"insert into area_month_rates values ({places})", row)  # the row as built
