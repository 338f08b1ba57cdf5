"""The analysis grid, Gi* hotspots and emerging hotspots, on small synthetic inputs.

dbt compiles the real models (and an inline query for the statistics macros) once per grid
setting; each test then runs the compiled SQL in DuckDB on tables it writes itself, under the
names the models read, and compares the answers with reference libraries (scipy, PySAL esda and
libpysal) or with hand-checked series.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from dbt.cli.main import dbtRunner
from esda.getisord import G_Local
from libpysal.weights import DistanceBand
from pyproj import Transformer
from scipy import stats

from crimemap.core.duckdb_spatial import connect, prepare_extension_directory

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO / "dbt_project"
CRS = "EPSG:32610"
MODELS = (
    "int_grid_cells",
    "int_incidents__grid_assigned",
    "int_grid_cell_months",
    "int_grid_cell_neighbours",
    "dim_grid_cell",
    "hotspots",
    "emerging_hotspots",
)
# a 4 km x 3 km rectangle of the sample city's UTM zone, projected metres
X0, Y0, X1, Y1 = 548_000.0, 5_270_000.0, 552_000.0, 5_273_000.0
HEXAGON = {"grid_shape": "hexagon", "grid_cell_m": 500, "hotspot_band_m": 750}
SQUARE = {"grid_shape": "square", "grid_cell_m": 400, "hotspot_band_m": 600}


# --- compiling the models ----------------------------------------------------------------------
@dataclass(frozen=True)
class Compiled:
    grid: dict[str, float | str]
    models: dict[str, str]  # model name -> compiled SELECT
    directory: Path


def dbt_args(directory: Path, grid: dict[str, float | str]) -> list[str]:
    return [
        "--vars", json.dumps({**grid, "start_month": "2024-01-01"}),
        "--profiles-dir", str(DBT_PROJECT_DIR), "--project-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(directory / "target"), "--log-path", str(directory / "logs"),
        "--quiet",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def dbt_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("hotspots_dbt")
    saved = dict(os.environ)
    os.environ["CRIMEMAP_DATA_DIR"] = str(directory)
    os.environ["CRIMEMAP_DUCKDB_EXTENSION_DIR"] = str(
        prepare_extension_directory(directory / ".duckdb_extensions")
    )
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    yield directory
    os.environ.clear()
    os.environ.update(saved)


def compile_models(directory: Path, grid: dict[str, float | str]) -> Compiled:
    result = dbtRunner().invoke(["compile", "--select", *MODELS, *dbt_args(directory, grid)])
    assert result.success, result.exception
    models = {
        r.node.name: r.node.compiled_code
        for r in result.result.results
        if r.node.resource_type == "model"
    }
    assert set(models) == set(MODELS)
    return Compiled(grid, models, directory)


def compile_inline(directory: Path, sql: str) -> str:
    result = dbtRunner().invoke(["compile", "--inline", sql, *dbt_args(directory, HEXAGON)])
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


@pytest.fixture(scope="module")
def hexagon(dbt_env: Path) -> Compiled:
    return compile_models(dbt_env, HEXAGON)


@pytest.fixture(scope="module")
def square(dbt_env: Path) -> Compiled:
    return compile_models(dbt_env, SQUARE)


# --- running compiled SQL on synthetic tables ------------------------------------------------
def warehouse(tmp_path: Path, name: str) -> duckdb.DuckDBPyConnection:
    """A database whose catalog is called "warehouse", like the one the refs compile to."""
    folder = tmp_path / name
    folder.mkdir()
    return connect(folder / "warehouse.duckdb", extension_directory=tmp_path / ".ext")


def build(con: duckdb.DuckDBPyConnection, compiled: Compiled, *models: str) -> None:
    for model in models:
        con.execute(f"create or replace table main.{model} as {compiled.models[model]}")


def write_area(con: duckdb.DuckDBPyConnection, bounds: Sequence[float]) -> None:
    """stg_boundaries__areas: one rectangle given in projected metres, stored in lon/lat."""
    x0, y0, x1, y1 = bounds
    ring = f"{x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}"
    con.execute(
        f"""
        create or replace table main.stg_boundaries__areas as
        select 'A' as area_id, ST_Transform(ST_GeomFromText('POLYGON(({ring}))'),
            '{CRS}', 'EPSG:4326', always_xy := true) as geom
        """
    )


def assert_gi_star_matches_esda(
    y: np.ndarray, w: DistanceBand, z: np.ndarray, p: np.ndarray, q: np.ndarray, bins: np.ndarray
) -> float:
    """Gi* z against esda.G_Local(star=True, transform='B'); p, q against scipy; bins from q.
    Returns the largest |z - esda z| (the caller holds it to 1e-6)."""
    g = G_Local(y, w, transform="B", star=True, permutations=0)
    p_ref = 2 * stats.norm.sf(np.abs(g.Zs))
    q_ref = stats.false_discovery_control(p_ref, method="bh")
    np.testing.assert_allclose(p, p_ref, rtol=1e-6, atol=0)
    np.testing.assert_allclose(q, q_ref, rtol=1e-6, atol=0)
    level = np.select([q_ref <= 0.01, q_ref <= 0.05, q_ref <= 0.10], [3, 2, 1], 0)
    np.testing.assert_array_equal(bins, np.sign(g.Zs) * level)
    return float(np.max(np.abs(z - g.Zs)))


def write_offenses(
    con: duckdb.DuckDBPyConnection,
    xy: np.ndarray,
    months: Sequence[date],
    categories: Sequence[str],
) -> None:
    """fct_incidents: located offenses at projected points (stored in lon/lat, as the fact)."""
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(xy[:, 0], xy[:, 1])
    points = pa.table(
        {
            "offense_key": [f"o{i}" for i in range(len(xy))],
            "occurred_month": pa.array(list(months), pa.date32()),
            "category": pa.array(list(categories), pa.string()),
            "lon": pa.array(np.asarray(lon, dtype=float)),
            "lat": pa.array(np.asarray(lat, dtype=float)),
        }
    )
    con.register("points", points)
    con.execute(
        "create or replace table main.fct_incidents as select offense_key, "
        "offense_key as incident_key, 'load' as _load_id, 'A' as area_id, "
        "occurred_month, category, false as is_sensitive, ST_Point(lon, lat) as geom from points"
    )
    con.unregister("points")


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


# --- normal_sf ---------------------------------------------------------------------------------
def test_normal_sf_matches_scipy(dbt_env: Path) -> None:
    sql = compile_inline(
        dbt_env,
        "select z, {{ normal_sf('z') }} as sf, {{ normal_two_sided_p('z') }} as p from zs",
    )
    z = np.concatenate([np.linspace(-8.5, 8.5, 3401), [0.0, 1e-9, -1e-9, 1.959963984540054]])
    con = duckdb.connect()
    con.execute("create table zs (z double)")
    con.executemany("insert into zs values (?)", [(float(v),) for v in z])
    got = np.array(rows(con, f"select z, sf, p from ({sql}) order by z"))
    z_sorted, sf, p = got[:, 0], got[:, 1], got[:, 2]
    reference = stats.norm.sf(z_sorted)
    upper = z_sorted >= 0
    # relative error of the upper tail (down to 1e-17 at z = 8.5), absolute below the mean
    assert np.max(np.abs(sf[upper] / reference[upper] - 1)) <= 1.2e-7
    assert np.max(np.abs(sf[~upper] - reference[~upper])) <= 1.2e-7
    assert np.max(np.abs(p / (2 * stats.norm.sf(np.abs(z_sorted))).clip(max=1) - 1)) <= 1.2e-7
    assert p.max() <= 1.0
    no_z = sql.replace("from zs", "from (select null::double as z)")
    assert rows(con, f"select sf, p from ({no_z})") == [(None, None)]


# --- the point -> cell arithmetic --------------------------------------------------------------
def corner_points(compiled: Compiled, con: duckdb.DuckDBPyConnection) -> np.ndarray:
    """Points on and 1 mm around every corner of the cells, plus edge midpoints and centres."""
    polygons = rows(
        con,
        "select ST_X(d.geom), ST_Y(d.geom) from (select unnest(ST_Dump(ST_Points(geom_projected)))"
        f" as d from main.int_grid_cells where centre_x between {X0 + 600} and {X1 - 600} "
        f"and centre_y between {Y0 + 600} and {Y1 - 600})",
    )
    corners = np.unique(np.round(np.array(polygons), 6), axis=0)
    angles = np.deg2rad(np.arange(0, 360, 7.5))
    ring = 1e-3 * np.column_stack([np.cos(angles), np.sin(angles)])
    around = (corners[:, None, :] + ring[None, :, :]).reshape(-1, 2)
    centres = np.array(rows(con, "select centre_x, centre_y from main.int_grid_cells"))
    return np.vstack([corners, around, centres])


@pytest.mark.parametrize("shape", ["hexagon", "square"])
def test_every_point_lands_in_the_cell_whose_polygon_contains_it(
    shape: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    compiled: Compiled = request.getfixturevalue(shape)
    con = warehouse(tmp_path, shape)
    write_area(con, (X0, Y0, X1, Y1))
    build(con, compiled, "int_grid_cells")
    rng = np.random.default_rng(7)
    scattered = np.column_stack([rng.uniform(X0, X1, 4000), rng.uniform(Y0, Y1, 4000)])
    corners = corner_points(compiled, con)
    assert len(corners) > 1000
    xy = np.vstack([scattered, corners])
    write_offenses(con, xy, [date(2024, 1, 1)] * len(xy), ["theft"] * len(xy))
    build(con, compiled, "int_incidents__grid_assigned")

    assigned = rows(
        con, "select count(*), count(distinct offense_key) from main.int_incidents__grid_assigned"
    )
    assert assigned == [(len(xy), len(xy))]
    # the model's coordinates are the points we wrote (lon/lat round trip)
    back = np.array(
        rows(
            con,
            "select x, y from main.int_incidents__grid_assigned "
            "order by cast(substr(offense_key, 2) as int)",
        )
    )
    assert np.max(np.abs(back - xy)) < 1e-6
    # covered by the polygon of its cell (boundary included, 1 micrometre of rounding slack)
    outside = rows(
        con,
        """
        select count(*) from main.int_incidents__grid_assigned as a
        inner join main.int_grid_cells as c using (cell_id)
        where not ST_DWithin(c.geom_projected, ST_Point(a.x, a.y), 1e-6)
        """,
    )
    assert outside == [(0,)]
    # and no point is nearer another centre than its own: hexagons and squares are the
    # Voronoi cells of their centres, so this pins the cell down away from the edges
    nearer_elsewhere = rows(
        con,
        """
        select count(*) from main.int_incidents__grid_assigned as a
        inner join main.int_grid_cells as own using (cell_id)
        inner join main.int_grid_cells as other
            on abs(other.centre_x - a.x) < 1000 and abs(other.centre_y - a.y) < 1000
        where (other.centre_x - a.x) ^ 2 + (other.centre_y - a.y) ^ 2
            < (own.centre_x - a.x) ^ 2 + (own.centre_y - a.y) ^ 2 - 1e-6
            and other.cell_id <> own.cell_id
        """,
    )
    assert nearer_elsewhere == [(0,)]
    polygons_holding = rows(
        con,
        """
        select max(n) from (
            select a.offense_key, count(*) as n
            from main.int_incidents__grid_assigned as a
            inner join main.int_grid_cells as c
                on ST_Covers(c.geom_projected, ST_Point(a.x, a.y))
            group by a.offense_key
        )
        """,
    )
    assert polygons_holding[0][0] <= (3 if shape == "hexagon" else 4)  # a corner is shared


@pytest.mark.parametrize("shape", ["hexagon", "square"])
def test_grid_cells_tile_the_jurisdiction(
    shape: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    compiled: Compiled = request.getfixturevalue(shape)
    con = warehouse(tmp_path, shape)
    write_area(con, (X0, Y0, X1, Y1))
    build(con, compiled, "int_grid_cells", "dim_grid_cell")
    d = float(compiled.grid["grid_cell_m"])
    expected_area = d * d * (math.sqrt(3) / 2 if shape == "hexagon" else 1.0)
    ((n, cell_area, inside, union_area, centre_shape),) = rows(
        con,
        """
        select count(*), max(cell_area_m2), sum(area_in_jurisdiction_m2),
            ST_Area(ST_Union_Agg(geom_projected)), max(abs(ST_Area(geom_projected) - cell_area_m2))
        from main.int_grid_cells
        """,
    )
    assert cell_area == pytest.approx(expected_area, rel=1e-12)
    assert centre_shape < 1e-6  # each polygon has the documented area
    assert union_area == pytest.approx(n * expected_area, rel=1e-9)  # no overlaps, no gaps
    assert inside == pytest.approx((X1 - X0) * (Y1 - Y0), rel=1e-9)  # the cells cover it all
    # the published polygons are lon/lat and hold their centre
    assert rows(
        con,
        "select count(*) from main.dim_grid_cell "
        "where not ST_Covers(geom, ST_Point(centre_lon, centre_lat)) "
        f"or abs(centre_lat - 47.6) > 0.5 or grid_shape <> '{shape}'",
    ) == [(0,)]


# --- Gi*, p, BH q and bins against esda and scipy ----------------------------------------------
def synthetic_counts(centres: np.ndarray, n_months: int, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts with a hot cluster in the south-west and an empty patch in the east."""
    counts = rng.poisson(6.0, size=(n_months, len(centres))).astype(float)
    hot = np.hypot(*(centres - (X0 + 1000, Y0 + 1000)).T) < 600
    cold = np.hypot(*(centres - (X1 - 1000, Y0 + 1500)).T) < 900
    counts[:, hot] += rng.poisson(15.0, size=(n_months, int(hot.sum())))
    counts[:, cold] = 0
    return counts


@pytest.mark.parametrize("shape", ["hexagon", "square"])
def test_gi_star_p_q_and_bins_match_esda_and_scipy(
    shape: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    compiled: Compiled = request.getfixturevalue(shape)
    con = warehouse(tmp_path, shape)
    write_area(con, (X0, Y0, X1, Y1))
    build(con, compiled, "int_grid_cells", "int_grid_cell_neighbours")
    cells = rows(
        con, "select cell_id, centre_x, centre_y from main.int_grid_cells order by cell_id"
    )
    ids = [c[0] for c in cells]
    centres = np.array([c[1:] for c in cells])
    months = [date(2024, m, 1) for m in range(1, 5)]
    counts = synthetic_counts(centres, len(months), np.random.default_rng(11))
    counts[3, :] = 2.0  # a month where every cell has the same count: no z
    con.execute(
        "create table main.int_grid_cell_months "
        "(cell_id varchar, month date, incident_count bigint)"
    )
    con.executemany(
        "insert into main.int_grid_cell_months values (?, ?, ?)",
        [
            (ids[i], months[m], int(counts[m, i]))
            for m in range(len(months))
            for i in range(len(ids))
        ],
    )
    build(con, compiled, "hotspots")

    band = float(compiled.grid["hotspot_band_m"])
    w = DistanceBand(centres, threshold=band, binary=True, ids=ids, silence_warnings=True)
    neighbours = dict(
        rows(con, "select cell_id, count(*) from main.int_grid_cell_neighbours group by 1")
    )
    assert all(neighbours[i] == w.cardinalities[i] + 1 for i in ids)  # + the cell itself
    assert max(neighbours.values()) == (7 if shape == "hexagon" else 9)

    worst = 0.0
    for m, month in enumerate(months[:3]):
        got = rows(
            con,
            "select gi_star_z, p_value, q_value, confidence_bin from main.hotspots "
            f"where month = '{month}' order by cell_id",
        )
        z, p, q, bins = (np.array([r[k] for r in got], dtype=float) for k in range(4))
        worst = max(worst, assert_gi_star_matches_esda(counts[m], w, z, p, q, bins))
        assert (bins >= 2).any() and (bins <= -2).any()  # the planted cluster and empty patch
    assert worst <= 1e-6

    # the flat month: no z, no p, no q, bin 0 (never a division by zero)
    assert rows(
        con,
        "select count(*), count(gi_star_z), count(p_value), count(q_value), "
        f"max(abs(confidence_bin)) from main.hotspots where month = '{months[3]}'",
    ) == [(len(ids), 0, 0, 0, 0)]


def test_benjamini_hochberg_with_ties_matches_scipy(dbt_env: Path) -> None:
    sql = compile_inline(dbt_env, "{{ benjamini_hochberg('tests', 'p', partition_by='family') }}")
    rng = np.random.default_rng(3)
    con = duckdb.connect()
    con.execute("create table tests (family int, id int, p double)")
    families = {
        0: np.round(rng.uniform(0, 0.2, 60), 3),  # many ties
        1: np.concatenate([rng.uniform(0, 1, 30), [0.0, 1.0, 0.5, 0.5]]),
        2: np.array([0.04]),
    }
    for f, ps in families.items():
        con.executemany(
            "insert into tests values (?, ?, ?)", [(f, i, float(v)) for i, v in enumerate(ps)]
        )
    con.execute("insert into tests values (1, 999, null)")  # no test: NULL q, not counted in m
    for f, ps in families.items():
        got = rows(
            con, f"select q_value from ({sql}) where family = {f} and p is not null order by id"
        )
        np.testing.assert_allclose(
            [g[0] for g in got], stats.false_discovery_control(ps, method="bh"), rtol=1e-12
        )
    assert rows(con, f"select q_value from ({sql}) where id = 999") == [(None,)]


# --- Mann-Kendall and the emerging classes -----------------------------------------------------
def write_series(
    con: duckdb.DuckDBPyConnection, series: dict[str, tuple[Sequence[float], Sequence[int]]]
) -> None:
    """hotspots (cell_id, month, gi_star_z, confidence_bin) and dim_grid_cell for the cells."""
    con.execute("create or replace table main.dim_grid_cell (cell_id varchar)")
    con.execute(
        "create or replace table main.hotspots "
        "(cell_id varchar, month date, gi_star_z double, confidence_bin integer)"
    )
    for cell, (z, bins) in series.items():
        con.execute("insert into main.dim_grid_cell values (?)", [cell])
        con.executemany(
            "insert into main.hotspots values (?, ?, ?, ?)",
            [(cell, date(2024 + (t // 12), t % 12 + 1, 1), z[t], bins[t]) for t in range(len(z))],
        )


def mann_kendall_reference(x: np.ndarray) -> tuple[int, float, float, float]:
    """S, tie-corrected variance, continuity-corrected Z and two-sided p (Hipel & McLeod)."""
    n = len(x)
    s = int(sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n)))
    _, ties = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - np.sum(ties * (ties - 1) * (2 * ties + 5))) / 18
    z = (s - np.sign(s)) / math.sqrt(var)
    return s, var, z, float(2 * stats.norm.sf(abs(z)))


def test_mann_kendall_matches_scipy_kendall_tau(hexagon: Compiled, tmp_path: Path) -> None:
    con = warehouse(tmp_path, "mk")
    rng = np.random.default_rng(5)
    series = {}
    for k in range(40):
        n = int(rng.integers(5, 30))
        x = np.round(rng.normal(0, 1, n) + rng.uniform(-0.15, 0.15) * np.arange(n), 1)  # ties
        series[f"c{k:02d}"] = (x.tolist(), [0] * n)
    write_series(con, series)
    build(con, hexagon, "emerging_hotspots")
    found = rows(
        con, "select cell_id, mk_n, mk_s, mk_var, mk_z, mk_p, trend from main.emerging_hotspots"
    )
    got = {r[0]: r[1:] for r in found}
    for cell, (x, _) in series.items():
        x = np.array(x)
        n, s, var, z, p, trend = got[cell]
        s_ref, var_ref, z_ref, p_ref = mann_kendall_reference(x)
        assert (n, s) == (len(x), s_ref)
        assert var == pytest.approx(var_ref, rel=1e-12)
        assert z == pytest.approx(z_ref, rel=1e-12)
        assert p == pytest.approx(p_ref, rel=1e-6)
        # scipy: S = tau_b sqrt(n0 (n0 - n1)) and, without the continuity correction, its
        # asymptotic p uses the same tie-corrected variance
        tau = stats.kendalltau(np.arange(len(x)), x, method="asymptotic")
        n0 = len(x) * (len(x) - 1) / 2
        _, ties = np.unique(x, return_counts=True)
        n1 = np.sum(ties * (ties - 1) / 2)
        assert s == pytest.approx(tau.statistic * math.sqrt(n0 * (n0 - n1)), abs=1e-9)
        assert 2 * stats.norm.sf(abs(s) / math.sqrt(var)) == pytest.approx(tau.pvalue, rel=1e-9)
        assert trend == ("none" if p >= 0.05 else "up" if s > 0 else "down")


def hot(n: int, z: float = 3.0) -> tuple[list[float], list[int]]:
    return [z] * n, [3] * n


N = 20  # months; 90 % of them = 18


def crafted_series() -> dict[str, tuple[list[float], list[int]]]:
    """One series per class (hot; cold is the mirror), over N months."""
    up = np.linspace(2.5, 6.0, N).tolist()
    flat = [3.0 + 0.5 * (t % 2) for t in range(N)]
    down = up[::-1]
    quiet = [0.1 * (t % 3) for t in range(N)]
    series = {
        "new": ([*quiet[:-1], 2.5], [0] * (N - 1) + [2]),
        "consecutive": ([*quiet[:-3], 2.5, 3.0, 3.5], [0] * (N - 3) + [2, 3, 3]),
        "intensifying": (up, [2] * 3 + [3] * (N - 3)),
        # exactly 90 %: 18 of 20 months hot, two quiet early months, rising
        "intensifying_at_90pct": ([0.2, 0.3, *up[2:]], [0, 0] + [3] * (N - 2)),
        "persistent": (flat, [3] * N),
        "diminishing": (down, [3] * (N - 3) + [2] * 3),
        "sporadic": (
            [2.5 if t % 2 else 0.0 for t in range(N)],
            [2 if t % 2 else 0 for t in range(N)],
        ),
        "oscillating": (
            [-2.5 if t == 2 else 2.5 if t % 2 else 0.0 for t in range(N)],
            [-2 if t == 2 else 2 if t % 2 else 0 for t in range(N)],
        ),
        "historical": ([*flat[:-1], 0.5], [3] * (N - 1) + [0]),
        # hot twice long ago, then a final run: not "consecutive" (hot before the run)
        "run_after_earlier_hot": (
            [2.5, 2.5, *quiet[2:-3], 2.5, 3.0, 3.5],
            [2, 2] + [0] * (N - 5) + [2, 3, 3],
        ),
        # bin 1 (90 %) is not significant at 95 %
        "bin_one_only": ([1.8] * N, [1] * N),
    }
    mirrored = {
        f"{name}_cold": ([-v for v in z], [-b for b in bins])
        for name, (z, bins) in series.items()
        if name not in ("bin_one_only",)
    }
    return {**series, **mirrored, "no_pattern": (quiet, [0] * N)}


EXPECTED_PATTERNS = {
    "new": "new_hot_spot",
    "consecutive": "consecutive_hot_spot",
    "intensifying": "intensifying_hot_spot",
    "intensifying_at_90pct": "intensifying_hot_spot",
    "persistent": "persistent_hot_spot",
    "diminishing": "diminishing_hot_spot",
    "sporadic": "sporadic_hot_spot",
    "oscillating": "oscillating_hot_spot",
    "historical": "historical_hot_spot",
    "run_after_earlier_hot": "sporadic_hot_spot",
    "bin_one_only": "no_pattern",
}


def test_emerging_classes_on_crafted_series(hexagon: Compiled, tmp_path: Path) -> None:
    con = warehouse(tmp_path, "emerging")
    series = crafted_series()
    series["one_month"] = ([4.0], [3])
    write_series(con, series)
    con.execute("insert into main.dim_grid_cell values ('no_series')")
    build(con, hexagon, "emerging_hotspots")
    got = dict(rows(con, "select cell_id, pattern from main.emerging_hotspots"))
    expected = {
        **EXPECTED_PATTERNS,
        **{
            f"{k}_cold": v.replace("_hot_", "_cold_")
            for k, v in EXPECTED_PATTERNS.items()
            if k != "bin_one_only"
        },
        "no_pattern": "no_pattern",
        "one_month": "no_pattern",  # fewer than two months
        "no_series": "no_pattern",
    }
    assert got == expected
    trends = dict(rows(con, "select cell_id, trend from main.emerging_hotspots"))
    assert [trends[c] for c in ("intensifying", "diminishing", "persistent")] == [
        "up",
        "down",
        "none",
    ]
    assert (trends["intensifying_cold"], trends["diminishing_cold"]) == ("down", "up")


# --- the whole chain on an input with no offenses ---------------------------------------------
@pytest.mark.parametrize("with_area", [True, False])
def test_models_build_on_empty_inputs(hexagon: Compiled, tmp_path: Path, with_area: bool) -> None:
    con = warehouse(tmp_path, "empty")
    if with_area:
        write_area(con, (X0, Y0, X1, Y1))
    else:
        con.execute("create table main.stg_boundaries__areas (area_id varchar, geom geometry)")
    write_offenses(con, np.empty((0, 2)), [], [])
    build(con, hexagon, *MODELS)
    cells = rows(con, "select count(*) from main.dim_grid_cell")[0][0]
    assert (cells > 0) == with_area
    assert rows(con, "select count(*) from main.int_grid_cell_months") == [(0,)]
    assert rows(con, "select count(*) from main.hotspots") == [(0,)]
    assert rows(
        con,
        "select count(*), count(*) filter (where pattern = 'no_pattern' and periods = 0) "
        "from main.emerging_hotspots",
    ) == [(cells, cells)]
