"""The hotspot forecast marts (dbt_project/models/marts/forecast) on synthetic cell x month tables.

dbt compiles the three models (with the project's macros and the given vars); the compiled SQL
then runs in DuckDB over hand-made ``int_grid_cell_months``, ``int_grid_cell_neighbours`` and
``dim_grid_cell`` tables. The answers are worked out by hand (a tiny table with ties and an
empty month) and by an independent numpy implementation of the forecast and of the PAI/PEI
scoring (``reference_scores``, shared with tests/integration/test_analytics_forecast.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest

from crimemap.core.duckdb_spatial import prepare_extension_directory

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
MODELS = ("hotspot_forecast_predictions", "hotspot_forecast", "hotspot_forecast_scores")

# The forecast's fixed settings (macros/forecast.sql), restated: the reference must not read them
# from the SQL it checks.
WINDOW_MONTHS = 12
HALF_LIFE_MONTHS = 12.0
NEIGHBOUR_WEIGHT = 0.1
TOLERANCE = 1e-9


# --- the reference: forecast, ranking and scores in numpy ------------------------------------
@dataclass(frozen=True)
class CellMonths:
    """A grid's monthly counts: cells x months, adjacency without the cell itself, areas."""

    cells: tuple[str, ...]
    months: tuple[date, ...]
    counts: np.ndarray  # cells x months
    adjacency: np.ndarray  # cells x cells, 1.0 where the column is a neighbour of the row
    areas: np.ndarray


def forecast_prediction(grid: CellMonths, t: int) -> np.ndarray:
    """The forecast of month index t from the months before it (at most WINDOW_MONTHS)."""
    lags = np.arange(1, min(WINDOW_MONTHS, t) + 1)
    weights = 0.5 ** ((lags - 1) / HALF_LIFE_MONTHS)
    own = grid.counts[:, t - lags] @ weights / weights.sum()
    degree = grid.adjacency.sum(axis=1)
    neighbour_mean = np.divide(grid.adjacency @ own, degree, out=own.copy(), where=degree > 0)
    return (1 - NEIGHBOUR_WEIGHT) * own + NEIGHBOUR_WEIGHT * neighbour_mean


def naive_prediction(grid: CellMonths, t: int) -> np.ndarray:
    return grid.counts[:, t - 1].astype(float)


def ranking(cells: Sequence[str], values: np.ndarray) -> list[int]:
    """Cell indices, highest value first; values equal to 1e-9 ordered by md5(cell id)."""
    rounded = np.round(values, 9)
    return sorted(
        range(len(cells)),
        key=lambda i: (-rounded[i], hashlib.md5(cells[i].encode()).hexdigest(), cells[i]),
    )


def cells_selected(share: float, n_cells: int) -> int:
    return math.ceil(share * n_cells - 1e-9)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def month_scores(grid: CellMonths, predicted: np.ndarray, t: int, share: float) -> dict:
    actual = grid.counts[:, t]
    n = cells_selected(share, len(grid.cells))
    chosen = ranking(grid.cells, predicted)[:n]
    best = ranking(grid.cells, actual.astype(float))[:n]
    offenses = int(actual.sum())
    area_total = grid.areas.sum()
    area_share = grid.areas[chosen].sum() / area_total
    hits = int(actual[chosen].sum())
    hit_rate = _ratio(hits, offenses)
    pai = _ratio(hit_rate, area_share)
    pai_max = _ratio(_ratio(int(actual[best].sum()), offenses), grid.areas[best].sum() / area_total)
    return {
        "months_scored": int(offenses > 0),
        "cells_selected": n,
        "offenses": offenses,
        "offenses_in_selected": hits,
        "hit_rate": hit_rate,
        "area_share_actual": area_share,
        "pai": pai,
        "pai_max": pai_max,
        "pei": _ratio(pai, pai_max),
    }


def reference_scores(
    grid: CellMonths, holdout: int, shares: Sequence[float]
) -> dict[tuple[str, float, date | None], dict]:
    """Rows of hotspot_forecast_scores keyed (model, area_share, month or None for the mean)."""
    n_months = len(grid.months)
    if n_months < holdout + 2:
        return {}
    predictors = {"forecast": forecast_prediction, "naive_last_period": naive_prediction}
    rows: dict[tuple[str, float, date | None], dict] = {}
    for model, predict in predictors.items():
        for share in shares:
            monthly = []
            for t in range(n_months - holdout, n_months):
                row = month_scores(grid, predict(grid, t), t, share)
                rows[(model, share, grid.months[t])] = row
                monthly.append(row)
            rows[(model, share, None)] = {
                "months_scored": sum(r["months_scored"] for r in monthly),
                "cells_selected": monthly[0]["cells_selected"],
                "offenses": sum(r["offenses"] for r in monthly),
                "offenses_in_selected": sum(r["offenses_in_selected"] for r in monthly),
                "area_share_actual": sum(r["area_share_actual"] for r in monthly) / holdout,
                **{
                    k: _mean([r[k] for r in monthly]) for k in ("hit_rate", "pai", "pai_max", "pei")
                },
            }
    for (model, share, month), row in rows.items():
        naive = rows[("naive_last_period", share, month)]["pai"]
        row["pai_lift_over_naive"] = _ratio(row["pai"], naive) if model == "forecast" else None
    return rows


def assert_rows_match(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, want in expected.items():
        got = actual[key]
        for column, value in want.items():
            if value is None:
                assert got[column] is None, (key, column, got[column])
            else:
                assert got[column] == pytest.approx(value, rel=TOLERANCE, abs=TOLERANCE), (
                    key,
                    column,
                    got[column],
                    value,
                )


# --- running the compiled models on synthetic tables ------------------------------------------
def compile_models(work_dir: Path, dbt_vars: dict) -> dict[str, str]:
    """The three models' SQL as dbt compiles it with `dbt_vars`."""
    env = dict(os.environ)
    env["CRIMEMAP_DATA_DIR"] = str(work_dir)
    env["CRIMEMAP_DUCKDB_EXTENSION_DIR"] = str(
        prepare_extension_directory(work_dir / ".duckdb_extensions")
    )
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    target = work_dir / "dbt_target"
    cmd = [
        str(DBT), "compile", "--select", *MODELS, "--vars", json.dumps(dbt_vars),
        "--profiles-dir", str(DBT_PROJECT_DIR), "--project-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target), "--log-path", str(work_dir / "dbt_logs"),
    ]  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, f"dbt compile failed:\n{result.stdout}\n{result.stderr}"
    compiled = target / "compiled" / "crimemap" / "models" / "marts" / "forecast"
    return {model: (compiled / f"{model}.sql").read_text() for model in MODELS}


def run_models(compiled: dict[str, str], grid: CellMonths) -> duckdb.DuckDBPyConnection:
    """Build the marts from `grid` in an in-memory database named like the warehouse."""
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS warehouse")
    con.execute("USE warehouse")
    con.execute(
        "CREATE TABLE int_grid_cell_months (cell_id VARCHAR, month DATE, incident_count BIGINT)"
    )
    con.execute(
        "CREATE TABLE int_grid_cell_neighbours "
        "(cell_id VARCHAR, neighbour_cell_id VARCHAR, distance_m DOUBLE)"
    )
    con.execute("CREATE TABLE dim_grid_cell (cell_id VARCHAR, cell_area_m2 DOUBLE)")
    insert(
        con,
        "int_grid_cell_months",
        [
            (cell, month, int(grid.counts[i, t]))
            for i, cell in enumerate(grid.cells)
            for t, month in enumerate(grid.months)
        ],
    )
    neighbours = zip(*np.nonzero(grid.adjacency), strict=True)
    insert(
        con,
        "int_grid_cell_neighbours",
        [(c, c, 0.0) for c in grid.cells]
        + [(grid.cells[i], grid.cells[j], 1.0) for i, j in neighbours],
    )
    insert(con, "dim_grid_cell", list(zip(grid.cells, map(float, grid.areas), strict=True)))
    for model in MODELS:
        con.execute(f"CREATE TABLE {model} AS {compiled[model]}")
    return con


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def scores_by_key(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, float, date | None], dict]:
    return {
        (r["model"], r["area_share"], r["month"]): r
        for r in records(con, "SELECT * FROM hotspot_forecast_scores")
    }


def months(first: date, n: int) -> tuple[date, ...]:
    return tuple(date(first.year + (first.month - 1 + k) // 12, (first.month - 1 + k) % 12 + 1, 1)
                 for k in range(n))  # fmt: skip


def line_of_cells(counts: list[list[int]]) -> CellMonths:
    """Cells A, B, C, ... in a row (each adjacent to the next), equal areas; counts[month][cell]."""
    matrix = np.array(counts, dtype=np.int64).T
    n = matrix.shape[0]
    adjacency = np.zeros((n, n))
    for i in range(n - 1):
        adjacency[i, i + 1] = adjacency[i + 1, i] = 1.0
    return CellMonths(
        cells=tuple("ABCDEFGH"[:n]),
        months=months(date(2025, 1, 1), matrix.shape[1]),
        counts=matrix,
        adjacency=adjacency,
        areas=np.full(n, 250_000.0),
    )


@pytest.fixture(scope="module")
def compiled_tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two months held back, shares of a quarter and a half."""
    work = tmp_path_factory.mktemp("forecast_tiny")
    return compile_models(work, {"forecast_holdout_months": 2, "forecast_area_shares": [0.25, 0.5]})


@pytest.fixture(scope="module")
def compiled_shares(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Three months held back, 5%, 10% and 25% of the cells."""
    work = tmp_path_factory.mktemp("forecast_shares")
    return compile_models(
        work, {"forecast_holdout_months": 3, "forecast_area_shares": [0.05, 0.1, 0.25]}
    )


# --- hand-computed ---------------------------------------------------------------------------
# Cells A - B - C - D in a row. Months 3 and 4 are held back; month 3 has no offense.
TINY = [
    [3, 1, 0, 0],
    [0, 0, 0, 2],
    [0, 0, 0, 0],
    [1, 1, 0, 2],
]


@pytest.fixture(scope="module")
def tiny(compiled_tiny: dict[str, str]) -> Iterator[duckdb.DuckDBPyConnection]:
    con = run_models(compiled_tiny, line_of_cells(TINY))
    yield con
    con.close()


def test_hand_computed_pai_pei_with_ties_and_an_empty_month(tiny):
    """Month 4 (4 offenses: A 1, B 1, D 2), predicted from months 1-3.

    Forecast: weighted means (w = 2^(-1/12) per month back, S = 1 + w + w^2) A 3w^2/S = 0.943,
    B w^2/S = 0.314, C 0, D 2w/S = 0.666; smoothed A 0.880, D 0.599, B 0.330, C 0.049, so the
    top cell is A (1 of 4 offenses: hit rate 1/4, PAI 1) and the top two A, D (3 of 4, PAI 1.5).
    The best single cell is D (PAI max 2); the best two are D and A or B, a tie that cannot
    change the figure (PAI max 1.5). PEI 1/2 and 1.
    Naive: month 3 was empty, every cell ties at 0 and md5 orders them C ('0d61'), A ('7fc5'),
    B ('9d5e'), D ('f623'): top cell C catches nothing (PAI 0), top two C, A catch 1 (PAI 0.5,
    PEI 1/3). Month 3 has no offense: no hit rate, PAI or PEI; the means are month 4's.
    """
    got = scores_by_key(tiny)
    march, april = date(2025, 3, 1), date(2025, 4, 1)
    empty = {"months_scored": 0, "offenses": 0, "offenses_in_selected": 0, "hit_rate": None,
             "pai": None, "pai_max": None, "pei": None, "pai_lift_over_naive": None}  # fmt: skip
    expected = {
        ("forecast", 0.25, april): {"offenses_in_selected": 1, "hit_rate": 0.25, "pai": 1.0,
                                   "pai_max": 2.0, "pei": 0.5, "pai_lift_over_naive": None},
        ("forecast", 0.5, april): {"offenses_in_selected": 3, "hit_rate": 0.75, "pai": 1.5,
                                  "pai_max": 1.5, "pei": 1.0, "pai_lift_over_naive": 3.0},
        ("naive_last_period", 0.25, april): {"offenses_in_selected": 0, "hit_rate": 0.0,
                                             "pai": 0.0, "pai_max": 2.0, "pei": 0.0,
                                             "pai_lift_over_naive": None},
        ("naive_last_period", 0.5, april): {"offenses_in_selected": 1, "hit_rate": 0.25,
                                            "pai": 0.5, "pai_max": 1.5, "pei": 1 / 3,
                                            "pai_lift_over_naive": None},
    }  # fmt: skip
    for (model, share, _), row in list(expected.items()):
        n = 1 if share == 0.25 else 2
        row.update({"months_scored": 1, "cells_selected": n, "offenses": 4,
                    "area_share_actual": share})  # fmt: skip
        expected[(model, share, march)] = {**empty, "cells_selected": n, "area_share_actual": share}
        expected[(model, share, None)] = {**row, "months_scored": 1}
    assert_rows_match(got, expected)
    assert {r["scope"] for k, r in got.items() if k[2] is None} == {"holdout_mean"}
    assert {r["scope"] for k, r in got.items() if k[2] is not None} == {"month"}


def test_hand_computed_next_month_forecast(tiny):
    """Month 5 from months 1-4: weighted means (1 + 3w^3) / S4, (1 + w^3) / S4, 0, (2 + 2w^2)
    / S4 with S4 = 1 + w + w^2 + w^3; D ranks first, then A, B, C; D is in the top quarter, A in
    the top half."""
    w = 0.5 ** (1 / 12)
    s4 = 1 + w + w**2 + w**3
    own = np.array([1 + 3 * w**3, 1 + w**3, 0.0, 2 + 2 * w**2]) / s4
    smoothed = 0.9 * own + 0.1 * np.array([own[1], (own[0] + own[2]) / 2, (own[1] + own[3]) / 2,
                                           own[2]])  # fmt: skip
    rows = records(tiny, "SELECT * FROM hotspot_forecast ORDER BY predicted_rank")
    assert [r["cell_id"] for r in rows] == ["D", "A", "B", "C"]
    assert [r["top_area_share"] for r in rows] == [0.25, 0.5, None, None]
    assert {r["forecast_month"] for r in rows} == {date(2025, 5, 1)}
    assert {r["history_months"] for r in rows} == {4}
    assert {r["model"] for r in rows} == {"forecast"}
    for r in rows:
        assert r["predicted_count"] == pytest.approx(
            smoothed["ABCD".index(r["cell_id"])], abs=1e-12
        )


def test_each_held_back_month_uses_only_earlier_months(compiled_tiny):
    """Changing a later month never changes the prediction of an earlier one."""
    changed = [row.copy() for row in TINY]
    changed[3] = [0, 0, 9, 0]
    sql = (
        "SELECT model, cell_id, predicted_count, predicted_rank FROM hotspot_forecast_predictions "
        "WHERE month = DATE '2025-03-01' ORDER BY ALL"
    )
    before = run_models(compiled_tiny, line_of_cells(TINY)).execute(sql).fetchall()
    after = run_models(compiled_tiny, line_of_cells(changed)).execute(sql).fetchall()
    assert before == after
    assert len(before) == 8


def test_too_few_months_scores_nothing_but_still_forecasts(compiled_tiny):
    """Two months held back need four months of data: with three, no scores, no error."""
    con = run_models(compiled_tiny, line_of_cells(TINY[:3]))
    assert con.execute("SELECT count(*) FROM hotspot_forecast_scores").fetchone() == (0,)
    periods = con.execute("SELECT DISTINCT period FROM hotspot_forecast_predictions").fetchall()
    assert periods == [("next",)]
    forecast = records(con, "SELECT * FROM hotspot_forecast ORDER BY predicted_rank")
    assert [r["forecast_month"] for r in forecast] == [date(2025, 4, 1)] * 4
    assert forecast[0]["cell_id"] == "A"


def test_no_data_no_rows(compiled_tiny):
    grid = line_of_cells(TINY)
    empty = CellMonths(grid.cells, (), np.zeros((4, 0), dtype=np.int64), grid.adjacency, grid.areas)
    con = run_models(compiled_tiny, empty)
    for model in MODELS:
        assert con.execute(f"SELECT count(*) FROM {model}").fetchone() == (0,)


# --- against the numpy reference -----------------------------------------------------------
def synthetic_city(seed: int) -> CellMonths:
    """7 x 10 cells with king-move adjacency (plus one isolated cell), uneven areas, 20 months
    of Poisson counts: a stable cluster, a growing one and a sparse background (many ties)."""
    rng = np.random.default_rng(seed)
    rows, cols, n_months = 7, 10, 20
    r, c = np.divmod(np.arange(rows * cols), cols)
    adjacency = (np.abs(r[:, None] - r[None, :]) <= 1) & (np.abs(c[:, None] - c[None, :]) <= 1)
    adjacency = adjacency.astype(float) - np.eye(rows * cols)
    cells = [f"r{i}c{j}" for i, j in zip(r, c, strict=True)] + ["island"]
    adjacency = np.pad(adjacency, ((0, 1), (0, 1)))
    base = 0.3 + 4.0 * np.exp(-((r - 2) ** 2 + (c - 3) ** 2) / 2.0)
    growth = np.exp(-((r - 5) ** 2 + (c - 7) ** 2) / 1.5)[:, None] * np.linspace(0, 5, n_months)
    lam = np.vstack([base[:, None] + growth, np.full((1, n_months), 1.0)])
    counts = rng.poisson(lam)
    areas = rng.choice([200_000.0, 216_506.0, 250_000.0], size=len(cells))
    return CellMonths(tuple(cells), months(date(2024, 7, 1), n_months), counts, adjacency, areas)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scores_match_the_numpy_reference(compiled_shares, seed):
    grid = synthetic_city(seed)
    con = run_models(compiled_shares, grid)
    expected = reference_scores(grid, holdout=3, shares=(0.05, 0.1, 0.25))
    assert len(expected) == 2 * 3 * 4
    assert_rows_match(scores_by_key(con), expected)
    # 0.1 x 71 cells = 7.1 -> 8 cells; 0.05 x 71 = 3.55 -> 4
    assert {k[1]: r["cells_selected"] for k, r in expected.items()} == {0.05: 4, 0.1: 8, 0.25: 18}


def test_ceil_slack_selects_exact_shares(compiled_shares):
    """0.1 x 70 is 7.000000000000001 in floating point: still 7 cells, not 8."""
    grid = synthetic_city(4)
    keep = [i for i, c in enumerate(grid.cells) if c != "island"]
    grid = CellMonths(
        tuple(grid.cells[i] for i in keep), grid.months, grid.counts[keep],
        grid.adjacency[np.ix_(keep, keep)], grid.areas[keep],
    )  # fmt: skip
    con = run_models(compiled_shares, grid)
    selected = dict(
        con.execute(
            "SELECT DISTINCT area_share, cells_selected FROM hotspot_forecast_scores"
        ).fetchall()
    )
    assert selected == {0.05: 4, 0.1: 7, 0.25: 18}
    assert_rows_match(scores_by_key(con), reference_scores(grid, 3, (0.05, 0.1, 0.25)))


def test_predictions_and_ranks_match_the_numpy_reference(compiled_shares):
    grid = synthetic_city(5)
    con = run_models(compiled_shares, grid)
    n_months = len(grid.months)
    targets = {grid.months[t]: t for t in range(n_months - 3, n_months)}
    got = records(con, "SELECT * FROM hotspot_forecast_predictions")
    assert len(got) == 2 * len(grid.cells) * 4  # 3 held-back months and the next
    for month, t in [*targets.items(), (date(2026, 3, 1), n_months)]:
        for model, predict in (("forecast", forecast_prediction), ("naive_last_period",
                                                                   naive_prediction)):  # fmt: skip
            values = predict(grid, t)
            ranks = {grid.cells[i]: k + 1 for k, i in enumerate(ranking(grid.cells, values))}
            rows = [r for r in got if r["model"] == model and r["month"] == month]
            assert len(rows) == len(grid.cells)
            for r in rows:
                i = grid.cells.index(r["cell_id"])
                assert r["predicted_count"] == pytest.approx(values[i], abs=1e-12)
                assert r["predicted_rank"] == ranks[r["cell_id"]]
                assert r["actual_count"] == (int(grid.counts[i, t]) if t < n_months else None)
