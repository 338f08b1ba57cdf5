"""Gi* hotspots and emerging hotspots on the sample city, against PySAL and the planted answers.

Gi* is recomputed with esda.G_Local(star=True, transform='B') on libpysal DistanceBand weights
over the published cell centres; p and q with scipy. The generator plants stationary Gaussian
hotspots (``truth.json`` ``hotspots``) whose cells must be significant hot spots nearly every
month, and a hotspot whose intensity triples over the period (``planted.rising_hotspot``) whose
cell must be an intensifying hot spot.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from libpysal.weights import DistanceBand
from pyproj import Transformer
from scipy.spatial import cKDTree

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.config.runtime import dbt_vars
from tests.dbt.test_analytics_hotspots import assert_gi_star_matches_esda

pytestmark = pytest.mark.integration

HOT_PATTERNS = {
    "new_hot_spot", "consecutive_hot_spot", "intensifying_hot_spot", "persistent_hot_spot",
    "diminishing_hot_spot", "sporadic_hot_spot", "oscillating_hot_spot", "historical_hot_spot",
}  # fmt: skip


@pytest.fixture(scope="module")
def settings() -> dict:
    return dbt_vars(load_jurisdiction())


@pytest.fixture(scope="module")
def cells(warehouse: duckdb.DuckDBPyConnection) -> tuple[list[str], np.ndarray]:
    found = warehouse.execute(
        "select cell_id, centre_x, centre_y from dim_grid_cell order by cell_id"
    ).fetchall()
    return [c[0] for c in found], np.array([c[1:] for c in found])


def cell_at(cells: tuple[list[str], np.ndarray], crs: str, lon: float, lat: float) -> str:
    """The hexagon holding a point: the nearest centre (hexagons are the centres' Voronoi cells)."""
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    ids, centres = cells
    return ids[int(cKDTree(centres).query([x, y])[1])]


def test_grid_is_the_configured_hexagons(
    warehouse: duckdb.DuckDBPyConnection, settings: dict
) -> None:
    ((shape, size, n, inside, area_km2),) = warehouse.execute(
        "select any_value(grid_shape), any_value(cell_size_m), count(*), "
        "sum(area_in_jurisdiction_m2) / 1e6, (select sum(area_km2) from dim_area) "
        "from dim_grid_cell"
    ).fetchall()
    assert (shape, size) == (settings["grid_shape"], settings["grid_cell_m"]) == ("hexagon", 500)
    assert n > 500
    assert inside == pytest.approx(area_km2, rel=1e-6)  # the cells cover the whole jurisdiction


def test_offenses_land_in_the_nearest_cell_centre(
    warehouse: duckdb.DuckDBPyConnection, cells: tuple[list[str], np.ndarray]
) -> None:
    assigned = warehouse.execute(
        "select cell_id, x, y from int_incidents__grid_assigned"
    ).fetchall()
    ids, centres = cells
    distance, nearest = cKDTree(centres).query(np.array([a[1:] for a in assigned]))
    index = {cell: i for i, cell in enumerate(ids)}
    own = np.array([index[a[0]] for a in assigned])
    own_distance = np.hypot(*(centres[own] - np.array([a[1:] for a in assigned])).T)
    assert len(assigned) > 20_000
    assert np.all(own_distance <= distance + 1e-6)  # ties on an edge may go either way
    assert np.mean(own == nearest) > 0.999


def test_gi_star_matches_esda_and_p_q_match_scipy(
    warehouse: duckdb.DuckDBPyConnection, cells: tuple[list[str], np.ndarray], settings: dict
) -> None:
    ids, centres = cells
    w = DistanceBand(
        centres, threshold=settings["hotspot_band_m"], binary=True, ids=ids, silence_warnings=True
    )
    months = [
        m for (m,) in warehouse.execute("select distinct month from hotspots order by 1").fetchall()
    ]
    assert len(months) == 24
    worst = 0.0
    for month in months:
        got = warehouse.execute(
            "select incident_count, neighbour_cells, gi_star_z, p_value, q_value, confidence_bin "
            "from hotspots where month = ? order by cell_id",
            [month],
        ).fetchall()
        y, card, z, p, q, bins = (np.array([r[k] for r in got], dtype=float) for k in range(6))
        assert np.array_equal(card, [w.cardinalities[i] + 1 for i in ids])
        worst = max(worst, assert_gi_star_matches_esda(y, w, z, p, q, bins))
    print(f"Gi* max |z - esda z| over {len(months)} months: {worst:.3g}")
    assert worst <= 1e-6


def test_planted_hotspot_cells_are_significant_hot_spots(
    warehouse: duckdb.DuckDBPyConnection,
    cells: tuple[list[str], np.ndarray],
    truth: dict,
    settings: dict,
) -> None:
    assert len(truth["hotspots"]) >= 3
    for hotspot in truth["hotspots"]:
        cell = cell_at(cells, settings["projected_crs"], hotspot["lon"], hotspot["lat"])
        ((months, hot),) = warehouse.execute(
            "select count(*), count(*) filter (where confidence_bin >= 2) from hotspots "
            "where cell_id = ?",
            [cell],
        ).fetchall()
        assert hot >= 0.9 * months, (hotspot["hotspot_id"], cell, hot, months)
        (pattern,) = warehouse.execute(
            "select pattern from emerging_hotspots where cell_id = ?", [cell]
        ).fetchone()
        assert pattern in HOT_PATTERNS, (hotspot["hotspot_id"], pattern)
        # stationary: no trend expected
        assert pattern in ("persistent_hot_spot", "intensifying_hot_spot", "diminishing_hot_spot")


def test_planted_rising_hotspot_is_intensifying(
    warehouse: duckdb.DuckDBPyConnection,
    cells: tuple[list[str], np.ndarray],
    truth: dict,
    settings: dict,
) -> None:
    rising = truth["planted"]["rising_hotspot"]
    cell = cell_at(cells, settings["projected_crs"], rising["lon"], rising["lat"])
    ((pattern, trend, hot, periods),) = warehouse.execute(
        "select pattern, trend, hot_periods, periods from emerging_hotspots where cell_id = ?",
        [cell],
    ).fetchall()
    assert (pattern, trend) == ("intensifying_hot_spot", "up"), (
        f"{cell}: {pattern}, trend {trend}, hot in {hot} of {periods} months "
        "(intensifying needs 90 %, final month included, and an upward trend)"
    )


def test_emerging_patterns_cover_every_cell(warehouse: duckdb.DuckDBPyConnection) -> None:
    ((cells, classified, months),) = warehouse.execute(
        "select (select count(*) from dim_grid_cell), count(*), max(periods) from emerging_hotspots"
    ).fetchall()
    assert cells == classified
    assert months == 24
