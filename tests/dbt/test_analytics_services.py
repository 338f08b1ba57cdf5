"""service_access (nearest facility, 2SFCA) and priority_areas (need index) on a known layout.

A hand-made warehouse holds only what the two marts read: ``dim_area`` (a 6 x 5 grid of 1 km
squares in UTM 10N, stored in EPSG:4326 like the real one), ``dim_facility`` (facilities placed
at chosen offsets from area centroids) and ``fct_incidents``. dbt builds just the two marts
(with their data and unit tests) on it; the answers are checked against hand-computed values
and against a numpy 2SFCA and a scipy z-score reference written here (the integration tests
reuse them on the sample city).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy import stats

from crimemap.core.duckdb_spatial import connect
from tests.dbt.test_dbt_project import run_dbt

E0, N0 = 550_000.0, 5_270_000.0  # UTM 10N, metres
UTM = "EPSG:32610"
CELL = 1000.0
COLS, ROWS = 6, 5
CATCHMENT_M = 1500.0
MIN_POPULATION = 300
WEIGHTS = {"person_crime": 0.4, "mental_health": 0.1, "deprivation": 0.3, "access_gap": 0.2}
COMPONENTS = tuple(WEIGHTS)
Z_CAP = 3.0  # each standardized component is winsorized at +-3 before weighting
MODELS = "service_access priority_areas"


# --- references ---------------------------------------------------------------------------
def reference_2sfca(
    distance_m: np.ndarray, population: np.ndarray, catchment_m: float
) -> np.ndarray:
    """Luo & Wang's 2SFCA per 10,000 residents: areas x facilities distances, supply 1."""
    reach = distance_m <= catchment_m
    demand = (reach * population[:, None]).sum(axis=0)
    ratio = np.divide(1.0, demand, out=np.zeros(demand.shape), where=demand > 0)
    return (reach * ratio[None, :]).sum(axis=1) * 10_000


def zscore(x: np.ndarray) -> np.ndarray:
    """scipy's z-score (ddof 0); a variable with no spread scores 0 everywhere."""
    x = np.asarray(x, dtype=float)
    if not x.std() > 1e-9 * abs(x.mean()):
        return np.zeros_like(x)
    return stats.zscore(x)


def reference_need_index(
    raw: Mapping[str, np.ndarray], weights: Mapping[str, float]
) -> dict[str, np.ndarray]:
    """The documented index from the raw components of the ranked areas.

    Crime rates are standardized on the log scale ln(1 + rate); each component z enters the
    index clipped at +-Z_CAP (the ``*_z`` columns stay uncapped).
    """
    deprivation = (
        zscore(raw["poverty_rate"])
        + zscore(raw["unemployment_rate"])
        - zscore(np.log(raw["median_household_income"]))
    ) / 3
    access_gap = (-zscore(raw["access_2sfca"]) + zscore(raw["nearest_facility_m"])) / 2
    z = {
        "person_crime": zscore(np.log1p(raw["person_crime_rate"])),
        "mental_health": zscore(np.log1p(raw["mental_health_rate"])),
        "deprivation": zscore(deprivation),
        "access_gap": zscore(access_gap),
    }
    total = sum(weights.values())
    contribution = {c: weights[c] * np.clip(z[c], -Z_CAP, Z_CAP) / total for c in COMPONENTS}
    index = sum(contribution.values())
    n = len(index)
    below = stats.rankdata(index, method="min") - 1
    return {
        **{f"{c}_z": z[c] for c in COMPONENTS},
        **{f"{c}_contribution": contribution[c] for c in COMPONENTS},
        "deprivation": deprivation,
        "access_gap": access_gap,
        "need_index": index,
        "need_rank": stats.rankdata(-index, method="min"),
        "need_percentile": below / (n - 1) * 100 if n > 1 else np.zeros(n),
    }


# --- the layout -----------------------------------------------------------------------------
def area_id(row: int, col: int) -> str:
    return f"A{row}{col}"


def centroid(row: int, col: int) -> tuple[float, float]:
    return (E0 + (col + 0.5) * CELL, N0 + (row + 0.5) * CELL)


def square_wkt(row: int, col: int) -> str:
    x0, y0 = E0 + col * CELL, N0 + row * CELL
    ring = [(x0, y0), (x0 + CELL, y0), (x0 + CELL, y0 + CELL), (x0, y0 + CELL), (x0, y0)]
    return "POLYGON ((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"


def at(row: int, col: int, dx: float, dy: float) -> tuple[float, float]:
    x, y = centroid(row, col)
    return (x + dx, y + dy)


# (facility_id, type, (x, y) in UTM, area_id as dim_facility assigns it)
FACILITIES = [
    ("F01", "youth_services", at(0, 0, 300, 400), "A00"),  # 500 m from A00's centroid: 3-4-5
    ("F02", "mental_health", at(2, 2, 0, 0), "A22"),  # reaches exactly the 3 x 3 block
    ("F03", "shelter", at(4, 3, 600, 0), "A44"),  # 600 m from A43's centroid ...
    ("F04", "shelter", at(4, 3, 0, 600), None),  # ... and this one too (100 m outside the grid)
    ("F05", "substance_use", at(1, 4, 200, -100), "A14"),
    ("F06", "substance_use", at(3, 1, -250, 350), "A31"),
    ("F07", "youth_services", at(0, 5, 100, 100), "A05"),
    ("F08", "substance_use", (E0 + 12 * CELL, N0), None),  # 6 km east: reaches no one
]
# clinic: no facility of the type at all

# Two outliers on top of the random draws, so that the cap at +-3 is exercised on both sides
HOTSPOT, HOTSPOT_OFFENSES = "A03", 400  # extra offenses against persons in 2024-01
AFFLUENT = "A40"  # poverty, unemployment and income far beyond the others (income: log scale)
AFFLUENT_INDICATORS = (0.01, 0.005, 1_500_000.0)


def populations(rng: np.random.Generator) -> dict[str, int | None]:
    pops: dict[str, int | None] = {
        area_id(r, c): int(rng.integers(500, 6000)) for r in range(ROWS) for c in range(COLS)
    }
    pops["A11"] = 120  # below the floor
    pops["A33"] = None  # unknown
    return pops


def build_inputs(db: Path, *, empty: bool = False) -> None:
    """dim_area, dim_facility and fct_incidents as the marts read them."""
    rng = np.random.default_rng(6)
    pops = populations(rng)
    with connect(db, extension_directory=db.parent / ".duckdb_extensions") as con:
        con.execute(
            """
            create table dim_area (
                area_id varchar, area_name varchar, geom geometry, population bigint,
                poverty_rate double, unemployment_rate double, median_household_income double,
                poverty_rate_unreliable boolean, unemployment_rate_unreliable boolean,
                median_household_income_unreliable boolean
            )
            """
        )
        for r in range(ROWS):
            for c in range(COLS):
                aid = area_id(r, c)
                income = None if aid == "A24" else float(rng.integers(30_000, 120_000))
                poverty, unemployment = rng.uniform(0.05, 0.4), rng.uniform(0.02, 0.15)
                unreliable = bool(rng.random() < 0.2)
                if aid == AFFLUENT:
                    poverty, unemployment, income = AFFLUENT_INDICATORS
                values = [aid, f"Area {aid}", square_wkt(r, c), pops[aid], float(poverty),
                          float(unemployment), income, unreliable]  # fmt: skip
                con.execute(
                    f"""
                    insert into dim_area values (
                        ?, ?, ST_Transform(ST_GeomFromText(?), '{UTM}', 'EPSG:4326',
                        always_xy := true), ?, ?, ?, ?, false, ?, false
                    )
                    """,
                    values,
                )
        con.execute(
            "create table dim_facility "
            "(facility_id varchar, facility_type varchar, area_id varchar, geom geometry)"
        )
        for fid, kind, (x, y), aid in [] if empty else FACILITIES:
            con.execute(
                f"""
                insert into dim_facility values (
                    ?, ?, ?, ST_Transform(ST_Point(?, ?), '{UTM}', 'EPSG:4326', always_xy := true)
                )
                """,
                [fid, kind, aid, x, y],
            )
        con.execute(
            """
            create table fct_incidents (
                offense_key varchar, area_id varchar, occurred_month date,
                crime_against varchar, mental_health_related boolean
            )
            """
        )
        if empty:
            return
        # 15 months, 2023-01 .. 2024-03: the first three fall outside the 12-month period
        months = [date(2023 + (m // 12), m % 12 + 1, 1) for m in range(15)]
        offenses = []
        for aid in [*pops, None]:
            for k in range(int(rng.integers(5, 60))):
                offenses.append((
                    f"{aid}:{k}", aid, months[int(rng.integers(0, 15))],
                    ["person", "property", "society"][int(rng.integers(0, 3))],
                    bool(rng.random() < 0.15),
                ))  # fmt: skip
        offenses += [
            (f"{HOTSPOT}:x{k}", HOTSPOT, date(2024, 1, 1), "person", False)
            for k in range(HOTSPOT_OFFENSES)
        ]
        con.executemany("insert into fct_incidents values (?, ?, ?, ?, ?)", offenses)


def dbt_vars(weights: Mapping[str, float] = WEIGHTS) -> str:
    return json.dumps(
        {
            "projected_crs": UTM,
            "catchment_m": CATCHMENT_M,
            "min_population": MIN_POPULATION,
            "priority_weights": dict(weights),
        }
    )


def build_marts(data_dir: Path, *, empty: bool = False) -> duckdb.DuckDBPyConnection:
    data_dir.mkdir(parents=True, exist_ok=True)
    build_inputs(data_dir / "warehouse.duckdb", empty=empty)
    run_dbt(data_dir, "build", "--select", *MODELS.split(), "--vars", dbt_vars())
    return connect(
        data_dir / "warehouse.duckdb",
        read_only=True,
        extension_directory=data_dir / ".duckdb_extensions",
    )


@dataclass(frozen=True)
class Marts:
    con: duckdb.DuckDBPyConnection
    data_dir: Path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Marts:
    data_dir = tmp_path_factory.mktemp("services")
    con = build_marts(data_dir)
    yield Marts(con, data_dir)
    con.close()


@pytest.fixture(scope="module")
def marts(warehouse: Marts) -> duckdb.DuckDBPyConnection:
    return warehouse.con


def access(con: duckdb.DuckDBPyConnection, aid: str, kind: str) -> dict:
    cursor = con.execute(
        "select * from service_access where area_id = ? and facility_type = ?", [aid, kind]
    )
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


# --- service_access -------------------------------------------------------------------------
def test_origin_is_the_centroid_in_metres(marts):
    row = access(marts, "A23", "all")
    assert (row["origin_x"], row["origin_y"]) == pytest.approx(centroid(2, 3), abs=1e-6)


def test_nearest_facility_hand_computed(marts):
    youth = access(marts, "A00", "youth_services")
    assert youth["nearest_facility_id"] == "F01"
    assert youth["nearest_facility_m"] == pytest.approx(500.0, abs=1e-6)
    # two shelters 600 m from A43's centroid: the lower id wins
    shelter = access(marts, "A43", "shelter")
    assert shelter["nearest_facility_id"] == "F03"
    assert shelter["nearest_facility_m"] == pytest.approx(600.0, abs=1e-6)
    # 'all' sees every type; no clinic exists: no nearest, no score
    assert access(marts, "A22", "all")["nearest_facility_m"] == pytest.approx(0.0, abs=1e-6)
    clinic = access(marts, "A22", "clinic")
    assert (clinic["nearest_facility_m"], clinic["nearest_facility_id"]) == (None, None)
    assert (clinic["access_2sfca"], clinic["facilities_in_catchment"]) == (0.0, 0)


def test_facilities_in_area_and_per_10k(marts):
    # F04 (no area) counts for distance, not for an area's own count
    a44 = access(marts, "A44", "shelter")
    assert a44["facilities_in_area"] == 1
    assert a44["facilities_per_10k"] == pytest.approx(10_000 / a44["population"])
    assert access(marts, "A44", "all")["facilities_in_area"] == 1
    # unknown population: no per-capita figure
    assert access(marts, "A33", "all")["facilities_per_10k"] is None


def test_2sfca_single_facility_hand_computed(marts):
    # F02 sits on A22's centroid; centroids within 1500 m are the 3 x 3 block around it
    # (0, 1000 and 1414 m; 2000 m is out). R = 1 / (their residents, unknown counts as 0).
    block = [area_id(r, c) for r in (1, 2, 3) for c in (1, 2, 3)]
    pops = dict(marts.execute("select area_id, population from dim_area").fetchall())
    expected = 10_000 / sum(pops[a] or 0 for a in block)
    for aid in pops:
        got = access(marts, aid, "mental_health")
        assert got["access_2sfca"] == pytest.approx(expected if aid in block else 0.0, rel=1e-12)
        assert got["facilities_in_catchment"] == (1 if aid in block else 0)


def test_2sfca_matches_numpy_reference(marts):
    areas = marts.execute(
        "select area_id, coalesce(population, 0) from dim_area order by area_id"
    ).fetchall()
    ids = [a for a, _ in areas]
    pop = np.array([p for _, p in areas], dtype=float)
    origin = np.array([centroid(int(a[1]), int(a[2])) for a in ids])
    for kind in ("all", "mental_health", "substance_use", "shelter", "youth_services", "clinic"):
        chosen = [f for f in FACILITIES if kind in ("all", f[1])]
        xy = np.array([f[2] for f in chosen]).reshape(-1, 2)
        dist = np.hypot(origin[:, None, 0] - xy[None, :, 0], origin[:, None, 1] - xy[None, :, 1])
        expected = reference_2sfca(dist, pop, CATCHMENT_M)
        got = dict(
            marts.execute(
                "select area_id, access_2sfca from service_access where facility_type = ?",
                [kind],
            ).fetchall()
        )
        np.testing.assert_allclose([got[a] for a in ids], expected, rtol=1e-9, atol=1e-12)
        if len(chosen):
            nearest = dict(
                marts.execute(
                    "select area_id, nearest_facility_m from service_access "
                    "where facility_type = ?",
                    [kind],
                ).fetchall()
            )
            np.testing.assert_allclose([nearest[a] for a in ids], dist.min(axis=1), atol=1e-6)
    # the 6 km facility reaches no one and adds nothing: supply is conserved over the others
    total = marts.execute(
        "select sum(access_2sfca * coalesce(population, 0)) / 10000 from service_access "
        "where facility_type = 'all'"
    ).fetchone()[0]
    assert total == pytest.approx(len(FACILITIES) - 1)


# --- priority_areas -------------------------------------------------------------------------
def priority(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    cursor = con.execute("select * from priority_areas order by area_id")
    names = [d[0] for d in cursor.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def test_exclusions(marts):
    rows = priority(marts)
    assert len(rows) == ROWS * COLS
    excluded = {a: r["exclusion_reason"] for a, r in rows.items() if not r["ranked"]}
    assert excluded == {
        "A11": "population_below_minimum",
        "A33": "population_unknown",
        "A24": "indicator_missing",
    }
    assert rows["A11"]["person_crime_rate"] is None  # withheld like area_month_rates
    assert rows["A11"]["need_rank"] is None and rows["A11"]["need_index"] is None


def test_rates_use_the_last_12_months_annualized(marts):
    rows = priority(marts)
    a00 = rows["A00"]
    assert (a00["period_start"], a00["period_end"], a00["period_months"]) == (
        date(2023, 4, 1), date(2024, 3, 1), 12,
    )  # fmt: skip
    count = marts.execute(
        "select count(*) from fct_incidents where area_id = 'A00' and crime_against = 'person' "
        "and occurred_month >= date '2023-04-01'"
    ).fetchone()[0]
    assert a00["person_crime_count"] == count
    assert a00["person_crime_rate"] == pytest.approx(count / a00["population"] * 1000)


def test_need_index_matches_scipy_reference(marts):
    rows = [r for r in priority(marts).values() if r["ranked"]]
    raw = {
        k: np.array([r[k] for r in rows], dtype=float)
        for k in ("person_crime_rate", "mental_health_rate", "poverty_rate", "unemployment_rate",
                  "median_household_income", "access_2sfca", "nearest_facility_m")
    }  # fmt: skip
    expected = reference_need_index(raw, WEIGHTS)
    for column, values in expected.items():
        np.testing.assert_allclose([r[column] for r in rows], values, atol=1e-9, err_msg=column)
    for r in rows:
        assert r["uninformative_components"] == ""
        assert [r[f"{c}_weight"] for c in COMPONENTS] == list(WEIGHTS.values())
        shares = {c: r[f"{c}_contribution"] for c in COMPONENTS}
        assert sum(shares.values()) == pytest.approx(r["need_index"], abs=1e-12)
        drivers = sorted((c for c in COMPONENTS if shares[c] > 0), key=lambda c: -shares[c])
        assert r["need_drivers"] == (", ".join(drivers) or None)


def test_outlying_components_are_capped_at_3(marts):
    rows = priority(marts)
    total = sum(WEIGHTS.values())
    # the hotspot is an outlier even on the log scale, the affluent area on deprivation: the
    # z columns keep the full value, the index takes +-Z_CAP
    hotspot, affluent = rows[HOTSPOT], rows[AFFLUENT]
    assert hotspot["person_crime_z"] > 3.5
    assert hotspot["person_crime_contribution"] == pytest.approx(
        WEIGHTS["person_crime"] * Z_CAP / total, abs=1e-12
    )
    assert affluent["deprivation_z"] < -3.5
    assert affluent["deprivation_contribution"] == pytest.approx(
        WEIGHTS["deprivation"] * -Z_CAP / total, abs=1e-12
    )
    # no other area reaches the cap, so only these two indexes differ from the uncapped sum
    for aid, r in rows.items():
        if not r["ranked"]:
            continue
        uncapped = sum(WEIGHTS[c] * r[f"{c}_z"] for c in COMPONENTS) / total
        assert (abs(uncapped - r["need_index"]) > 1e-3) == (aid in (HOTSPOT, AFFLUENT)), aid


def test_weights_change_the_index(warehouse, tmp_path):
    # the same inputs with all the weight on deprivation: the index is its capped z-score
    data_dir = tmp_path / "reweighted"
    data_dir.mkdir()
    (data_dir / "warehouse.duckdb").write_bytes(
        (warehouse.data_dir / "warehouse.duckdb").read_bytes()
    )
    weights = {"person_crime": 0, "mental_health": 0, "deprivation": 1, "access_gap": 0}
    run_dbt(data_dir, "run", "--select", "priority_areas", "--vars", dbt_vars(weights))
    with connect(
        data_dir / "warehouse.duckdb", read_only=True,
        extension_directory=data_dir / ".duckdb_extensions",
    ) as con:  # fmt: skip
        rows = [r for r in priority(con).values() if r["ranked"]]
    for r in rows:
        assert r["need_index"] == pytest.approx(
            np.clip(r["deprivation_z"], -Z_CAP, Z_CAP), abs=1e-12
        )
        assert r["deprivation_weight"] == 1.0 and r["person_crime_weight"] == 0.0
    best = max(rows, key=lambda r: r["deprivation_z"])
    assert best["need_rank"] == 1 and best["need_percentile"] == 100.0
    before = priority(warehouse.con)
    assert any(before[r["area_id"]]["need_rank"] != r["need_rank"] for r in rows)


def test_empty_facilities_and_incidents_build(tmp_path):
    con = build_marts(tmp_path / "empty", empty=True)
    with con:
        got = con.execute(
            "select count(*), count(nearest_facility_m), max(access_2sfca) from service_access"
        ).fetchone()
        assert got == (ROWS * COLS * 6, 0, 0.0)
        rows = [r for r in priority(con).values() if r["ranked"]]
    assert rows and all(r["period_months"] == 0 and r["person_crime_rate"] is None for r in rows)
    assert rows[0]["uninformative_components"] == "person_crime, mental_health, access_gap"
    share = WEIGHTS["deprivation"] / sum(WEIGHTS.values())
    for r in rows:
        # only deprivation informs: the index is its weighted, capped z-score
        expected = share * np.clip(r["deprivation_z"], -Z_CAP, Z_CAP)
        assert r["need_index"] == pytest.approx(expected, abs=1e-12)
        assert math.isfinite(r["need_index"])
