"""The hotspot forecast on the sample city, against a numpy recomputation and the planted answers.

Every row of hotspot_forecast_scores and the published next-month forecast are recomputed from
int_grid_cell_months, int_grid_cell_neighbours and dim_grid_cell with the numpy reference of
tests/dbt/test_analytics_forecast.py (no SQL of the marts involved). The generator plants
stationary Gaussian hotspots (``truth.json`` ``hotspots``) and a cluster whose intensity triples
(``planted.rising_hotspot``): the forecast must put their cells in its top 5% and, over the
held-back months, beat the naive "last month" baseline.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from pyproj import Transformer

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.config.runtime import dbt_vars
from tests.dbt.test_analytics_forecast import (
    CellMonths,
    assert_rows_match,
    forecast_prediction,
    ranking,
    reference_scores,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings() -> dict:
    return dbt_vars(load_jurisdiction())


@pytest.fixture(scope="module")
def grid(warehouse: duckdb.DuckDBPyConnection) -> CellMonths:
    cells = [c for (c,) in warehouse.execute("select cell_id from dim_grid_cell").fetchall()]
    index = {c: i for i, c in enumerate(cells)}
    areas = dict(warehouse.execute("select cell_id, cell_area_m2 from dim_grid_cell").fetchall())
    counts = warehouse.execute(
        "select cell_id, month, incident_count from int_grid_cell_months"
    ).fetchall()
    months = sorted({m for _, m, _ in counts})
    month_index = {m: t for t, m in enumerate(months)}
    matrix = np.zeros((len(cells), len(months)), dtype=np.int64)
    for cell, month, n in counts:
        matrix[index[cell], month_index[month]] = n
    adjacency = np.zeros((len(cells), len(cells)))
    for a, b in warehouse.execute(
        "select cell_id, neighbour_cell_id from int_grid_cell_neighbours "
        "where cell_id <> neighbour_cell_id"
    ).fetchall():
        adjacency[index[a], index[b]] = 1.0
    return CellMonths(
        tuple(cells), tuple(months), matrix, adjacency, np.array([areas[c] for c in cells])
    )


@pytest.fixture(scope="module")
def scores(warehouse: duckdb.DuckDBPyConnection) -> dict[tuple, dict]:
    cursor = warehouse.execute("select * from hotspot_forecast_scores")
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    return {(r["model"], r["area_share"], r["month"]): r for r in rows}


@pytest.fixture(scope="module")
def top_cells(warehouse: duckdb.DuckDBPyConnection, settings: dict) -> set[str]:
    smallest = min(settings["forecast_area_shares"])
    return {
        c
        for (c,) in warehouse.execute(
            "select cell_id from hotspot_forecast where top_area_share = ?", [smallest]
        ).fetchall()
    }


def cell_of(warehouse: duckdb.DuckDBPyConnection, x: float, y: float) -> str:
    """The grid cell holding a projected point: the one with the nearest centre."""
    return warehouse.execute(
        "select cell_id from dim_grid_cell "
        "order by pow(centre_x - ?, 2) + pow(centre_y - ?, 2), cell_id limit 1",
        [x, y],
    ).fetchone()[0]


def test_every_score_matches_the_numpy_recomputation(scores, grid, settings):
    holdout = settings["forecast_holdout_months"]
    shares = tuple(settings["forecast_area_shares"])
    expected = reference_scores(grid, holdout, shares)
    assert len(expected) == 2 * len(shares) * (holdout + 1)
    assert_rows_match(scores, expected)


def test_published_forecast_matches_the_numpy_recomputation(warehouse, grid):
    t = len(grid.months)
    values = forecast_prediction(grid, t)
    ranks = {grid.cells[i]: k + 1 for k, i in enumerate(ranking(grid.cells, values))}
    rows = warehouse.execute(
        "select cell_id, predicted_count, predicted_rank, forecast_month from hotspot_forecast"
    ).fetchall()
    assert len(rows) == len(grid.cells)
    last = grid.months[-1]
    next_month = last.replace(year=last.year + last.month // 12, month=last.month % 12 + 1)
    for cell, count, rank, month in rows:
        assert count == pytest.approx(values[grid.cells.index(cell)], abs=1e-9)
        assert rank == ranks[cell]
        assert month == next_month


def test_forecast_beats_the_naive_baseline(scores, settings):
    share = min(settings["forecast_area_shares"])
    forecast = scores[("forecast", share, None)]
    naive = scores[("naive_last_period", share, None)]
    assert forecast["months_scored"] == settings["forecast_holdout_months"]
    assert forecast["pai"] > naive["pai"]
    assert forecast["pei"] > naive["pei"]
    assert forecast["pai_lift_over_naive"] > 1


def test_planted_hotspots_are_in_the_forecast_top_cells(warehouse, truth, top_cells):
    to_projected = Transformer.from_crs("EPSG:4326", truth["crs"], always_xy=True)
    for hotspot in truth["hotspots"]:
        x, y = to_projected.transform(hotspot["lon"], hotspot["lat"])
        assert cell_of(warehouse, x, y) in top_cells, hotspot["hotspot_id"]


def test_rising_hotspot_is_in_the_forecast_top_cells(warehouse, truth, top_cells):
    rising = truth["planted"]["rising_hotspot"]
    assert cell_of(warehouse, rising["x"], rising["y"]) in top_cells
