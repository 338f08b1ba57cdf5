"""Areal interpolation on geometry whose answer is known.

Indicator units (two tracts, 2 km x 1 km, published as GeoJSON in UTM metres with a legacy
``crs`` member) are apportioned to three areas of analysis (1 km, 2 km and 1 km wide, published as
WKT in a CSV, also in UTM metres, the middle one split over two rows) that cut the first tract
in half and the second in half:

    units:  |----- U1 (pop 100) -----|----- U2 (pop 300) -----|
    areas:  |-- A --|----------- B -----------|------ C ------|

So A gets half of U1, B half of each, C half of U2: population 50 / 200 / 150, poverty rates
5/50, 50/200 and 45/150, medians U1's, the population-weighted mean, U2's. The sources go
through the real landing and split code and the real dbt models.
"""

from __future__ import annotations

import math

import duckdb
import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.boundaries import BoundarySpec
from tests.dbt.test_dbt_project import (
    POLICE_COLUMNS,
    conform_acs,
    conform_areas,
    conform_points,
    lineage_table,
    police_rows,
    rows,
    run_dbt,
    write_census_json,
    write_conformed_police,
    write_csv,
    write_geojson,
)

E0, N0 = 550_000.0, 5_270_000.0  # UTM 10N, metres: near Seattle
UTM = "EPSG:32610"


def box(x0: float, x1: float) -> list[list[float]]:
    return [[E0 + x0, N0], [E0 + x1, N0], [E0 + x1, N0 + 1000], [E0 + x0, N0 + 1000], [E0 + x0, N0]]


def wkt(x0: float, x1: float) -> str:
    return "POLYGON ((" + ", ".join(f"{x} {y}" for x, y in box(x0, x1)) + "))"


UNITS = [("53033000100", 0, 2000), ("53033000200", 2000, 4000)]
AREAS = [
    {"nbhd": "007", "label": "A", "the_geom": wkt(0, 1000)},
    {"nbhd": "8", "label": "B", "the_geom": wkt(1000, 2500)},  # B in two rows:
    {"nbhd": "008", "label": "B east", "the_geom": wkt(2500, 3000)},  # "008" = "8"
    {"nbhd": "9", "label": "C", "the_geom": wkt(3000, 4000)},
]
# tract -> (population, its margin, poverty universe, below poverty, median income)
ACS = {"53033000100": (100, 30, 100, 10, 50_000), "53033000200": (300, 40, 300, 90, 70_000)}


def acs_rows() -> list[dict]:
    from crimemap.ingestion.census import SOCIAL_SERVICES_TABLE_SET, table_set_variables

    rows_ = []
    for geoid, (population, moe, universe, poor, income) in ACS.items():
        values = {
            f"{v}{s}": "0"
            for v in table_set_variables(SOCIAL_SERVICES_TABLE_SET)
            for s in ("E", "M")
        }
        values.update(
            {
                "B01003_001E": str(population),
                "B01003_001M": str(moe),
                "B01001_001E": str(population),
                "B17001_001E": str(universe),
                "B17001_002E": str(poor),
                "B19013_001E": str(income),
                "B19013_001M": "1000",
            }
        )
        rows_.append({"NAME": f"Tract {geoid[-6:]}", "GEO_ID": f"1400000US{geoid}", **values})
    return rows_


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    data_dir = tmp_path_factory.mktemp("interpolation")
    sources = data_dir / "sources"
    write_conformed_police(data_dir, lineage_table(police_rows(), POLICE_COLUMNS, "spd.csv"))
    units = write_geojson(
        sources / "tracts.geojson",
        [
            {"GEOID": g, "geometry": {"type": "Polygon", "coordinates": [box(x0, x1)]}}
            for g, x0, x1 in UNITS
        ],
        crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32610"}},
    )
    areas = write_csv(sources / "neighbourhoods.csv", ["nbhd", "label", "the_geom"], AREAS)
    area_spec = BoundarySpec(
        id_field="nbhd", name_field="label", geometry_field="the_geom", crs=UTM, id_kind="code"
    )
    with connect() as con:
        conform_areas(con, data_dir, "areas", area_spec, areas)
        conform_areas(con, data_dir, "indicator_units", BoundarySpec(id_field="GEOID"), units)
        conform_acs(con, data_dir, write_census_json(sources / "acs.json", acs_rows()))
        conform_points(con, data_dir, sources)
    run_dbt(data_dir, "build", "--vars", '{"projected_crs": "EPSG:32610"}')
    con = connect(
        data_dir / "warehouse.duckdb",
        read_only=True,
        extension_directory=data_dir / ".duckdb_extensions",
    )
    yield con
    con.close()


def test_weights_are_the_shares_of_each_unit(warehouse):
    got = rows(
        warehouse,
        "select unit_id, area_id, weight, method from int_indicator_units__area_weights "
        "order by unit_id, area_id",
    )
    assert [(u, a, m) for u, a, _, m in got] == [
        ("53033000100", "7", "area"),
        ("53033000100", "8", "area"),
        ("53033000200", "8", "area"),
        ("53033000200", "9", "area"),
    ]
    assert [w for *_, w, _ in got] == pytest.approx([0.5, 0.5, 0.5, 0.5], abs=1e-9)


def test_counts_rates_and_medians_have_the_known_answers(warehouse):
    got = {
        r[0]: r[1:]
        for r in rows(
            warehouse,
            "select area_id, population, poverty_rate, median_household_income, "
            "indicator_units, indicator_method, source_rows from dim_area order by area_id",
        )
    }
    assert got["7"] == (50, pytest.approx(0.1, abs=1e-12), pytest.approx(50_000), 1, "area", 1)
    assert got["8"] == (200, pytest.approx(0.25, abs=1e-12), pytest.approx(65_000), 2, "area", 2)
    assert got["9"] == (150, pytest.approx(0.3, abs=1e-12), pytest.approx(70_000), 1, "area", 1)


def test_apportioned_margins(warehouse):
    got = dict(
        rows(
            warehouse,
            "select area_id, moe from area_indicators where indicator = 'population' "
            "order by area_id",
        )
    )
    # weight x margin, combined as the root of the summed squares
    assert got == pytest.approx({"7": 15.0, "8": math.hypot(15, 20), "9": 20.0}, abs=1e-9)


def test_merged_area_is_one_polygon_of_the_summed_size(warehouse):
    [(km2, pieces)] = rows(
        warehouse, "select area_km2, source_rows from dim_area where area_id = '8'"
    )
    assert pieces == 2
    assert km2 == pytest.approx(2.0, rel=1e-9)
