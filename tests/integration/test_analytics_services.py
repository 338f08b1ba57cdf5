"""service_access and priority_areas on the sample city, against independent computations.

Distances are recomputed with pyproj and numpy from dim_area's polygons and dim_facility's
points, the 2SFCA score with a numpy reference, and the need index with scipy from the mart's
raw components (log-scale crime rates, components capped at +-3). The generator plants an
underserved area (deprived, farthest from every facility; ``truth.json``
``planted.underserved_area``) that must rank in the top 10%.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest
from pyproj import Transformer

from crimemap.config.analysis import PRIORITY_COMPONENTS
from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.config.runtime import dbt_vars
from tests.dbt.test_analytics_services import Z_CAP, reference_2sfca, reference_need_index
from tests.dbt.test_dbt_project import run_dbt
from tests.integration.conftest import open_warehouse

FACILITY_TYPES = ("all", "mental_health", "substance_use", "shelter", "clinic", "youth_services")


@pytest.fixture(scope="module")
def planted(truth: dict) -> dict:
    return truth["planted"]["underserved_area"]


def records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def polygon_centroid(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Centroid of a simple polygon ring (shoelace formula; the ring may be closed)."""
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    area = cross.sum() / 2
    cx = ((x + x1) * cross).sum() / (6 * area)
    cy = ((y + y1) * cross).sum() / (6 * area)
    return float(cx), float(cy)


@pytest.fixture(scope="module")
def layout(warehouse) -> dict:
    """Area origins, populations and facility points in the projected CRS, by pyproj."""
    crs = load_jurisdiction().projected_crs
    to_metres = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    areas = records(
        warehouse,
        "select area_id, coalesce(population, 0) as population, ST_AsGeoJSON(geom) as geom "
        "from dim_area order by area_id",
    )
    origins = []
    for a in areas:
        shape = json.loads(a["geom"])
        assert shape["type"] == "Polygon"  # the sample city's areas are single quads
        lon, lat = np.array(shape["coordinates"][0]).T
        origins.append(polygon_centroid(*to_metres.transform(lon, lat)))
    facilities = records(
        warehouse,
        "select facility_id, facility_type, ST_X(geom) as lon, ST_Y(geom) as lat "
        "from dim_facility where geom is not null order by facility_id",
    )
    fx, fy = to_metres.transform(
        np.array([f["lon"] for f in facilities]), np.array([f["lat"] for f in facilities])
    )
    return {
        "area_ids": [a["area_id"] for a in areas],
        "population": np.array([a["population"] for a in areas], dtype=float),
        "origin": np.array(origins),
        "facility_ids": np.array([f["facility_id"] for f in facilities]),
        "facility_types": np.array([f["facility_type"] for f in facilities]),
        "facility_xy": np.column_stack([fx, fy]),
    }


def distances(layout: dict, kind: str) -> tuple[np.ndarray, np.ndarray]:
    chosen = np.ones(len(layout["facility_ids"]), dtype=bool)
    if kind != "all":
        chosen = layout["facility_types"] == kind
    xy = layout["facility_xy"][chosen]
    origin = layout["origin"]
    d = np.hypot(origin[:, None, 0] - xy[None, :, 0], origin[:, None, 1] - xy[None, :, 1])
    return d, layout["facility_ids"][chosen]


def mart(con: duckdb.DuckDBPyConnection, kind: str) -> dict[str, dict]:
    rows = records(con, f"select * from service_access where facility_type = '{kind}'")
    return {r["area_id"]: r for r in rows}


# --- service_access -------------------------------------------------------------------------
def test_every_area_has_every_type(warehouse, layout):
    got = warehouse.execute(
        "select count(*), count(distinct area_id), count(distinct facility_type) "
        "from service_access"
    ).fetchone()
    n = len(layout["area_ids"])
    assert got == (n * len(FACILITY_TYPES), n, len(FACILITY_TYPES))


def test_origins_and_nearest_facility_match_pyproj(warehouse, layout):
    for kind in FACILITY_TYPES:
        rows = mart(warehouse, kind)
        d, ids = distances(layout, kind)
        for i, aid in enumerate(layout["area_ids"]):
            row = rows[aid]
            assert (row["origin_x"], row["origin_y"]) == pytest.approx(
                tuple(layout["origin"][i]), abs=0.01
            )
            if d.shape[1] == 0:
                assert row["nearest_facility_m"] is None
                continue
            assert row["nearest_facility_m"] == pytest.approx(d[i].min(), abs=0.01)
            # facilities equally near (to the millimetre) go to the lowest id
            assert row["nearest_facility_id"] == min(ids[d[i] - d[i].min() < 0.001])


def test_2sfca_matches_numpy_reference(warehouse, layout):
    catchment = load_jurisdiction().analysis.catchment_m
    for kind in FACILITY_TYPES:
        rows = mart(warehouse, kind)
        d, _ = distances(layout, kind)
        expected = reference_2sfca(d, layout["population"], catchment)
        got = np.array([rows[a]["access_2sfca"] for a in layout["area_ids"]])
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=kind)
        reach = (d <= catchment).sum(axis=1)
        assert [rows[a]["facilities_in_catchment"] for a in layout["area_ids"]] == list(reach)
    # supply is conserved: sum of A_i * P_i = facilities whose catchment holds residents
    d, _ = distances(layout, "all")
    served = int((((d <= catchment) * layout["population"][:, None]).sum(axis=0) > 0).sum())
    total = warehouse.execute(
        "select sum(access_2sfca * coalesce(population, 0)) / 10000 from service_access "
        "where facility_type = 'all'"
    ).fetchone()[0]
    assert total == pytest.approx(served)
    assert served > 0


# --- priority_areas -------------------------------------------------------------------------
RAW = ("person_crime_rate", "mental_health_rate", "poverty_rate", "unemployment_rate",
       "median_household_income", "access_2sfca", "nearest_facility_m")  # fmt: skip


def ranked_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return records(con, "select * from priority_areas where ranked order by area_id")


def recompute(rows: list[dict], weights: dict[str, float]) -> dict[str, np.ndarray]:
    raw = {k: np.array([r[k] for r in rows], dtype=float) for k in RAW}
    return reference_need_index(raw, weights)


def test_weights_come_from_the_jurisdiction_yaml(warehouse):
    weights = dict(load_jurisdiction().analysis.priority_weights)
    got = warehouse.execute(
        "select distinct "
        + ", ".join(f"{c}_weight" for c in PRIORITY_COMPONENTS)
        + " from priority_areas"
    ).fetchall()
    assert got == [tuple(weights[c] for c in PRIORITY_COMPONENTS)]


def test_need_index_recomputed_from_raw_components(warehouse):
    rows = ranked_rows(warehouse)
    assert len(rows) > 100
    weights = dict(load_jurisdiction().analysis.priority_weights)
    expected = recompute(rows, weights)
    for column, values in expected.items():
        got = [r[column] for r in rows]
        np.testing.assert_allclose(got, values, atol=1e-9, err_msg=column)
    # the Seattle crosswalk flags no offense as mental-health related: uninformative, not x / 0
    assert {r["uninformative_components"] for r in rows} == {"mental_health"}
    assert all(r["mental_health_z"] == 0.0 for r in rows)
    # the hotspots stand out even on the log scale: the cap is at work on the sample city
    capped = [r for r in rows if r["person_crime_z"] > Z_CAP]
    assert capped
    share = weights["person_crime"] / sum(weights.values())
    for r in capped:
        assert r["person_crime_contribution"] == pytest.approx(share * Z_CAP, abs=1e-12)


def test_areas_left_out_are_explained(warehouse):
    rows = records(warehouse, "select * from priority_areas")
    floor = load_jurisdiction().analysis.min_population
    for r in rows:
        if r["population"] is None or r["population"] <= 0:
            assert r["exclusion_reason"] == "population_unknown"
        elif r["population"] < floor:
            assert r["exclusion_reason"] == "population_below_minimum"
        assert r["ranked"] == (r["exclusion_reason"] is None)
        assert (r["need_rank"] is None) == (not r["ranked"])
    assert any(r["exclusion_reason"] == "population_below_minimum" for r in rows)


def test_planted_underserved_area_ranks_in_the_top_decile(warehouse, planted):
    (row,) = records(
        warehouse, f"select * from priority_areas where area_id = '{planted['area_id']}'"
    )
    n = warehouse.execute("select count(*) from priority_areas where ranked").fetchone()[0]
    assert row["ranked"]
    assert row["need_rank"] <= 0.10 * n, (row["need_rank"], n)
    assert row["need_percentile"] >= 90
    # it ranks for the planted reasons: deprived and far from services (no facility in reach)
    assert row["deprivation_z"] > 0.5 and row["access_gap_z"] > 0.5
    assert row["nearest_facility_m"] > load_jurisdiction().analysis.catchment_m
    assert row["access_2sfca"] == 0.0
    drivers = row["need_drivers"].split(", ")
    assert {"deprivation", "access_gap"} <= set(drivers)
    # truth measures from the mean of the quad's corners, the mart from its centroid
    assert row["nearest_facility_m"] == pytest.approx(planted["nearest_facility_m"], abs=50)


def test_other_weights_change_the_index_as_expected(pipeline_run, warehouse, tmp_path):
    config = load_jurisdiction()
    weights = {"person_crime": 0.1, "mental_health": 0.0, "deprivation": 0.2, "access_gap": 0.7}
    copy = tmp_path / "reweighted"
    copy.mkdir()
    source = pipeline_run.data_dir / "warehouse.duckdb"
    (copy / "warehouse.duckdb").write_bytes(source.read_bytes())
    variables = {**dbt_vars(config), "priority_weights": weights}
    run_dbt(copy, "run", "--select", "priority_areas", "--vars", json.dumps(variables))
    with open_warehouse(copy) as con:
        rows = ranked_rows(con)
    before = {r["area_id"]: r for r in ranked_rows(warehouse)}
    index = sum(weights[c] * np.clip([r[f"{c}_z"] for r in rows], -Z_CAP, Z_CAP) for c in weights)
    np.testing.assert_allclose(
        [r["need_index"] for r in rows], index / sum(weights.values()), atol=1e-12
    )
    for r in rows:
        assert r["access_gap_weight"] == 0.7
        # the z-scores do not depend on the weights
        assert r["access_gap_z"] == pytest.approx(before[r["area_id"]]["access_gap_z"], abs=1e-12)
    assert [r["need_rank"] for r in rows] != [before[r["area_id"]]["need_rank"] for r in rows]
    top = min(rows, key=lambda r: r["need_rank"])
    assert "access_gap" in top["need_drivers"]
