"""Rates, spikes, correlation and initiative impact: the SQL against SciPy and PySAL esda.

The dbt macros (Poisson tail, Student t) and the four models are rendered with a minimal
Jinja context (``ref`` names a table, ``var`` reads a dict, the project's own macros) and run
by DuckDB on synthetic inputs, so every statistic is checked on cases chosen for it: ties,
negative variance estimates, zero baselines, tiny p-values, non-integer degrees of freedom,
empty inputs. The dbt build of the same models is exercised by tests/dbt/test_dbt_project.py
and, on the sample city, by tests/integration/test_analytics_rates.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import numpy as np
import pytest
import yaml
from esda.smoothing import Empirical_Bayes
from scipy import stats

REPO = Path(__file__).resolve().parents[2]
DBT = REPO / "dbt_project"
MACRO_FILES = ("poisson.sql", "student_t.sql", "sql_literals.sql")
MARTS = DBT / "models" / "marts"
MODELS = {
    "area_month_rates": MARTS / "crime" / "area_month_rates.sql",
    "offense_spikes": MARTS / "crime" / "offense_spikes.sql",
    "crime_social_correlation": MARTS / "social" / "crime_social_correlation.sql",
    "initiative_impact": MARTS / "social" / "initiative_impact.sql",
}
PROJECT_VARS: dict[str, Any] = yaml.safe_load((DBT / "dbt_project.yml").read_text())["vars"]
RTOL = 1e-9


# --- rendering ---------------------------------------------------------------------------------
def _environment(variables: Mapping[str, Any]) -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def var(name: str, default: Any = None) -> Any:
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise KeyError(f"var {name!r} is not set")

    env.globals.update(ref=lambda name: name, var=var)
    for name in MACRO_FILES:
        module = env.from_string((DBT / "macros" / name).read_text()).module
        env.globals.update({k: getattr(module, k) for k in dir(module) if not k.startswith("_")})
    return env


def macro(name: str, *args: str, **kwargs: Any) -> str:
    """The SQL a project macro expands to."""
    return str(_environment(PROJECT_VARS).globals[name](*args, **kwargs))


def model_sql(model: str, **overrides: Any) -> str:
    return (
        _environment({**PROJECT_VARS, **overrides}).from_string(MODELS[model].read_text()).render()
    )


def run_model(con: duckdb.DuckDBPyConnection, model: str, **overrides: Any) -> list[dict]:
    cursor = con.execute(model_sql(model, **overrides))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def esda_eb_per_1000(events: np.ndarray, population: np.ndarray) -> np.ndarray:
    """PySAL's global empirical Bayes, per 1,000 (no events at all: esda divides 0 by 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return Empirical_Bayes(events, population).r.ravel() * 1000


def close(got: float | None, want: float, rtol: float = RTOL, atol: float = 0.0) -> bool:
    return got is not None and math.isclose(got, want, rel_tol=rtol, abs_tol=atol)


# --- synthetic warehouse tables ----------------------------------------------------------------
CATEGORIES = ("burglary", "theft", "assault")


def create_tables(
    con: duckdb.DuckDBPyConnection,
    areas: list[dict],
    offenses: list[dict],
    categories: tuple[str, ...] = CATEGORIES,
) -> None:
    """dim_area, fct_incidents and category_descriptions with the columns the models read."""
    con.execute(
        """
        create or replace table dim_area (
            area_id varchar, area_name varchar, population bigint, poverty_rate double,
            unemployment_rate double, median_household_income double, share_under_18 double,
            share_65_plus double
        )
        """
    )
    columns = [
        "area_id", "area_name", "population", "poverty_rate", "unemployment_rate",
        "median_household_income", "share_under_18", "share_65_plus",
    ]  # fmt: skip
    if areas:
        con.executemany(
            f"insert into dim_area values ({', '.join('?' * len(columns))})",
            [[a.get(c) for c in columns] for a in areas],
        )
    # the same indicators, long form, as the correlation reads them (an unknown one: no value)
    con.execute(
        "create or replace table int_area_indicators__apportioned "
        "(area_id varchar, indicator varchar, estimate double)"
    )
    long_rows = [
        [a["area_id"], indicator, a.get(indicator)]
        for a in areas
        for indicator in columns[3:]
        if a.get(indicator) is not None
    ]
    if long_rows:
        con.executemany("insert into int_area_indicators__apportioned values (?, ?, ?)", long_rows)
    con.execute(
        """
        create or replace table fct_incidents (
            offense_key varchar, incident_key varchar, area_id varchar, occurred_month date,
            category varchar, crime_against varchar
        )
        """
    )
    if offenses:
        con.executemany(
            "insert into fct_incidents values (?, ?, ?, ?, ?, ?)",
            [
                [o["offense_key"], o["incident_key"], o["area_id"], o["month"], o["category"],
                 o.get("crime_against")]
                for o in offenses
            ],
        )  # fmt: skip
    con.execute(
        "create or replace table category_descriptions (category varchar, category_label varchar)"
    )
    con.executemany(
        "insert into category_descriptions values (?, ?)",
        [(c, c.replace("_", " ").capitalize()) for c in categories],
    )


def months(first: date, n: int) -> list[date]:
    return [
        date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        for i in range(n)
    ]


def random_offenses(
    rng: np.random.Generator, areas: list[dict], month_list: list[date], intensity: Callable
) -> list[dict]:
    """Poisson reports per area x month x category; some reports carry a second offense."""
    offenses = []
    for a in areas:
        for m, month in enumerate(month_list):
            for c, category in enumerate(CATEGORIES):
                for r in range(rng.poisson(intensity(a, m, c))):
                    report = f"{a['area_id']}-{month}-{category}-{r}"
                    offense = {
                        "incident_key": report,
                        "area_id": a["area_id"],
                        "month": month,
                        "category": category,
                        "crime_against": "person" if category == "assault" else "property",
                    }
                    offenses.append({**offense, "offense_key": f"{report}:1"})
                    if rng.random() < 0.15:
                        offenses.append({**offense, "offense_key": f"{report}:2"})
    return offenses


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    yield connection
    connection.close()


# --- Poisson tail ------------------------------------------------------------------------------
def test_poisson_upper_tail_matches_scipy(con):
    ks = [*range(0, 40), 45, 60, 100, 150, 300, 420, 700, 1200, 2500]
    lams = [1e-6, 0.01, 0.042, 0.3, 1.0, 2.5, 4.0, 9.9, 33.3, 100.0, 399.5, 1000.0, 2000.0]
    grid = [(k, lam) for k in ks for lam in lams]
    con.execute("create table grid (k bigint, lam double)")
    con.executemany("insert into grid values (?, ?)", grid)
    got = con.execute(
        f"select k, lam, {macro('poisson_upper_tail', 'k', 'lam')} from grid"
    ).fetchall()
    checked = 0
    for k, lam, p in got:
        want = stats.poisson.sf(k - 1, lam)
        if want < 1e-280:  # near the double underflow limit: both are tiny
            assert p < 1e-270
            continue
        assert close(p, want), (k, lam, p, want)
        checked += 1
    assert checked > 400
    # edge cases: no events expected, nothing observed, NULLs
    row = con.execute(
        "select "
        + ", ".join(
            macro("poisson_upper_tail", k, lam)
            for k, lam in (("0", "0.0"), ("3", "0.0"), ("0", "5.0"), ("null", "1.0"), ("2", "null"))
        )
    ).fetchone()
    assert row == (1.0, 0.0, 1.0, None, None)


# --- Student t ----------------------------------------------------------------------------------
def test_regularized_incomplete_beta_matches_scipy(con):
    from scipy.special import betainc

    xs = [1e-8, 1e-3, 0.05, 0.3, 0.5, 0.7, 0.95, 0.999, 1 - 1e-8]
    ab = [(0.5, 0.5), (1.0, 0.5), (2.5, 0.5), (10.0, 0.5), (50.0, 0.5), (500.0, 0.5),
          (2500.0, 0.5), (3.0, 7.0), (0.7, 2.2)]  # fmt: skip
    con.execute("create table grid (x double, a double, b double)")
    con.executemany("insert into grid values (?, ?, ?)", [(x, a, b) for x in xs for a, b in ab])
    sql = macro("regularized_incomplete_beta", "x", "a", "b")
    for x, a, b, got in con.execute(f"select x, a, b, {sql} from grid").fetchall():
        want = betainc(a, b, x)
        assert close(got, want, atol=1e-300), (x, a, b, got, want)


def test_student_t_tails_and_density_match_scipy(con):
    ts = [-40.0, -5.0, -1.0, -0.1, 0.0, 0.3, 1.0, 2.0, 4.0, 10.0, 40.0]
    dfs = [1.0, 1.3, 2.0, 3.0, 3.7, 5.0, 10.0, 25.5, 114.0, 1000.0]
    con.execute("create table grid (t double, df double)")
    con.executemany("insert into grid values (?, ?)", [(t, d) for t in ts for d in dfs])
    rows = con.execute(
        f"""
        select t, df, {macro("student_t_sf", "t", "df")},
            {macro("student_t_two_sided_p", "t", "df")}, {macro("student_t_pdf", "t", "df")}
        from grid
        """
    ).fetchall()
    for t, df, sf, two_sided, pdf in rows:
        assert close(sf, stats.t.sf(t, df)), (t, df, sf)
        assert close(two_sided, 2 * stats.t.sf(abs(t), df)), (t, df, two_sided)
        assert close(pdf, stats.t.pdf(t, df)), (t, df, pdf)


def test_t_critical_95_matches_scipy(con):
    dfs = [1.0, 1.01, 1.5, 2.0, 2.3, 3.0, 3.99, 4.5, 7.0, 9.5, 9.99, 10.0, 10.5, 15.2, 30.0,
           117.8, 1e4]  # fmt: skip
    con.execute("create table grid (df double)")
    con.executemany("insert into grid values (?)", [(d,) for d in dfs])
    sql = macro("student_t_critical_95", "df")
    for df, got in con.execute(f"select df, {sql} from grid").fetchall():
        assert close(got, stats.t.ppf(0.975, df)), (df, got)
    assert con.execute(f"select {macro('student_t_critical_95', '0.5')}").fetchone() == (None,)


# --- area_month_rates ---------------------------------------------------------------------------
RATE_AREAS = [
    {"area_id": f"A{i:02d}", "area_name": f"Area {i}", "population": p}
    for i, p in enumerate(
        [150, 250, 299, 300, 450, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000, 8000,
         650, 900, 1100, 1300, 2200, 0, None]
    )
]  # fmt: skip


def test_area_month_rates_eb_matches_esda(con):
    """Marshall's EB per month x category; a negative variance estimate shrinks to the mean."""
    rng = np.random.default_rng(7)
    risk = {a["area_id"]: rng.lognormal(0, 0.8) for a in RATE_AREAS}

    def intensity(area: dict, m: int, c: int) -> float:
        people = area["population"] or 1000
        base = (0.004, 0.0015, 0.0003)[c] * people
        return base * (risk[area["area_id"]] if c != 2 else 1.0)  # assault: no real variation

    month_list = months(date(2024, 1, 1), 10)
    create_tables(con, RATE_AREAS, random_offenses(rng, RATE_AREAS, month_list, intensity))
    rows = run_model(con, "area_month_rates", start_month="2024-01-01")
    by_cell: dict[tuple, list[dict]] = {}
    for row in rows:
        by_cell.setdefault((row["month"], row["category"]), []).append(row)
    shrunk_to_mean = spread = 0
    for cells in by_cell.values():
        used = [c for c in cells if c["population"]]  # population known and > 0
        e = np.array([c["incident_count"] for c in used], dtype=float)
        b = np.array([c["population"] for c in used], dtype=float)
        reference = esda_eb_per_1000(e, b)
        m = e.sum() / b.sum()
        variance = (b * (e / b - m) ** 2).sum() / b.sum() - m / b.mean()
        for cell, want in zip(used, reference, strict=True):
            if cell["rate_suppressed"]:
                assert cell["eb_rate_per_1000"] is None
            elif variance > 0:
                assert close(cell["eb_rate_per_1000"], want), (cell, want)
            else:  # esda keeps a negative variance (weights < 0); Marshall sets it to 0
                assert close(cell["eb_rate_per_1000"], m * 1000, atol=1e-15), cell
        spread += variance > 0
        shrunk_to_mean += variance <= 0
        for cell in cells:
            assert (cell["eb_rate_per_1000"] is None) == cell["rate_suppressed"]
            assert cell["rate_suppressed"] == (
                cell["population"] is None or cell["population"] < PROJECT_VARS["min_population"]
                or cell["population"] == 0
            )  # fmt: skip
    print(f"EB cells: {spread} with between-area variance, {shrunk_to_mean} shrunk to the mean")
    assert spread >= 10 and shrunk_to_mean >= 3  # both branches exercised


def test_area_month_rates_grid_starts_at_the_police_start_month(con):
    areas = [{"area_id": "A", "population": 1000}, {"area_id": "B", "population": 2000}]
    offenses = [
        {"offense_key": "o1", "incident_key": "r1", "area_id": "A", "month": date(2023, 6, 1),
         "category": "theft"},  # occurred before the start: not counted
        {"offense_key": "o2", "incident_key": "r2", "area_id": "A", "month": date(2024, 3, 1),
         "category": "theft"},
        {"offense_key": "o3", "incident_key": "r3", "area_id": None, "month": date(2024, 3, 1),
         "category": "theft"},
    ]  # fmt: skip
    create_tables(con, areas, offenses)
    rows = run_model(con, "area_month_rates", start_month="2024-01-01")
    assert sorted({r["month"] for r in rows}) == months(date(2024, 1, 1), 3)
    assert len(rows) == 2 * 3 * (len(CATEGORIES) + 1)
    assert sum(r["incident_count"] for r in rows if r["category"] == "all") == 1
    # nothing from the start month on: no grid at all, no error
    create_tables(con, areas, offenses[:1])
    assert run_model(con, "area_month_rates", start_month="2024-01-01") == []


# --- offense_spikes -----------------------------------------------------------------------------
def spikes_reference(counts: np.ndarray, window: int, v: Mapping[str, Any]) -> list[dict]:
    """The spike rule for one area x category series, in NumPy and SciPy."""
    out = []
    for i, observed in enumerate(counts):
        history = counts[max(0, i - window) : i]
        row: dict[str, Any] = {"observed": int(observed), "baseline_months": len(history)}
        if len(history) == 0:
            row |= {"baseline_mean": None, "expected": None, "ratio": None, "p_value": None,
                    "is_spike": False}  # fmt: skip
        else:
            mean = history.mean()
            expected = max(mean, 0.5 / len(history))
            ratio = observed / expected
            p = stats.poisson.sf(observed - 1, expected)
            row |= {
                "baseline_mean": mean, "expected": expected, "ratio": ratio, "p_value": p,
                "is_spike": bool(len(history) >= v["spike_min_baseline_months"]
                                 and p < v["spike_alpha"] and observed >= v["spike_min_count"]
                                 and ratio >= v["spike_min_ratio"]),
            }  # fmt: skip
        out.append(row)
    return out


def test_offense_spikes_match_the_reference(con):
    rng = np.random.default_rng(11)
    n_months = 20
    month_list = months(date(2024, 7, 1), n_months)
    series: dict[tuple[str, str], np.ndarray] = {}
    levels = {"A": 0.0, "B": 0.3, "C": 2.0, "D": 8.0, "E": 60.0}
    for area, level in levels.items():
        for category in ("burglary", "all"):
            counts = rng.poisson(level if category == "burglary" else level * 3, size=n_months)
            series[(area, category)] = counts
    series[("C", "burglary")][14] = 15  # planted: 15 against ~2
    series[("A", "burglary")][16] = 6  # 6 where nothing ever happened
    series[("D", "all")][3] = 80  # too early to judge (3 months of history)
    con.execute(
        "create table area_month_rates (area_id varchar, month date, category varchar, "
        "incident_reports bigint)"
    )
    con.executemany(
        "insert into area_month_rates values (?, ?, ?, ?)",
        [(a, month_list[i], c, int(n)) for (a, c), counts in series.items()
         for i, n in enumerate(counts)],
    )  # fmt: skip
    create_tables(con, [{"area_id": a, "area_name": f"{a}-town"} for a in levels], [])
    variables = {**PROJECT_VARS, "spike_baseline_months": 12, "spike_min_baseline_months": 6}
    rows = run_model(con, "offense_spikes", **variables)
    got = {(r["area_id"], r["category"], r["month"]): r for r in rows}
    assert len(got) == len(rows) == len(series) * n_months
    for (area, category), counts in series.items():
        for i, want in enumerate(spikes_reference(counts, 12, variables)):
            row = got[(area, category, month_list[i])]
            for key, value in want.items():
                if value is None or isinstance(value, bool | int):
                    assert row[key] == value, (area, category, i, key, row[key], value)
                else:
                    assert close(row[key], value), (area, category, i, key, row[key], value)
    planted = got[("C", "burglary", month_list[14])]
    assert planted["is_spike"] and planted["ratio"] > 4
    assert planted["summary"].startswith("burglary in C-town is ")
    assert planted["summary"].endswith(f"(15 reports vs {planted['baseline_mean']:.1f} a month)")
    fresh = got[("A", "burglary", month_list[16])]
    assert fresh["is_spike"] and fresh["expected"] == 0.5 / 12
    assert (
        fresh["summary"]
        == "burglary in A-town: 6 reports this month, none in the previous 12 months"
    )
    assert not got[("D", "all", month_list[3])]["is_spike"]


def test_offense_spikes_on_no_rows(con):
    con.execute(
        "create table area_month_rates (area_id varchar, month date, category varchar, "
        "incident_reports bigint)"
    )
    create_tables(con, [], [])
    assert run_model(con, "offense_spikes") == []


# --- crime_social_correlation -------------------------------------------------------------------
MEASURES = ("all_offenses_rate", "person_crime_rate", "property_crime_rate")
INDICATORS = (
    "poverty_rate", "unemployment_rate", "median_household_income", "share_under_18",
    "share_65_plus",
)  # fmt: skip


def correlation_reference(x: list[float], y: list[float]) -> dict[str, float]:
    result = stats.spearmanr(x, y)
    rho, n = float(result.statistic), len(x)
    se = math.sqrt((1 + rho**2 / 2) / (n - 3))
    z = 1.959963984540054
    return {
        "spearman_rho": rho,
        "p_value": float(result.pvalue),
        "ci_lower": math.tanh(math.atanh(rho) - z * se),
        "ci_upper": math.tanh(math.atanh(rho) + z * se),
    }


def test_spearman_with_ties_matches_scipy(con):
    rng = np.random.default_rng(3)
    n_areas = 40
    areas = []
    for i in range(n_areas):
        deprivation = rng.normal()
        areas.append({
            "area_id": f"T{i:02d}",
            "population": int(rng.choice([100, 250, 1000, 1000, 2000, 3000])),  # some below 300
            "poverty_rate": round(0.15 + 0.05 * deprivation, 1),  # rounded: many ties
            "unemployment_rate": float(rng.integers(3, 7)) / 100,  # few values: ties
            "median_household_income": 60000 - 8000 * deprivation,
            "share_under_18": None if i % 7 == 0 else rng.uniform(0.1, 0.3),  # some unknown
            "share_65_plus": 0.15,  # the same everywhere: no correlation
            "risk": math.exp(0.9 * deprivation),
        })  # fmt: skip

    def intensity(area: dict, m: int, c: int) -> float:
        return 0.0004 * area["population"] * area["risk"] * (0 if i_of(area) % 9 == 0 else 1)

    def i_of(area: dict) -> int:
        return int(area["area_id"][1:])

    offenses = random_offenses(rng, areas, months(date(2024, 7, 1), 3), intensity)
    create_tables(con, areas, offenses)
    rows = {(r["measure"], r["indicator"]): r for r in run_model(con, "crime_social_correlation")}
    assert set(rows) == {(m, i) for m in MEASURES for i in INDICATORS}

    floor = PROJECT_VARS["min_population"]
    counted = {}
    for area in areas:
        mine = [o for o in offenses if o["area_id"] == area["area_id"]]
        counted[area["area_id"]] = {
            "all_offenses_rate": len(mine),
            "person_crime_rate": sum(o["crime_against"] == "person" for o in mine),
            "property_crime_rate": sum(o["crime_against"] == "property" for o in mine),
        }
    for measure in MEASURES:
        for indicator in INDICATORS:
            used = [a for a in areas if a["population"] >= floor and a[indicator] is not None]
            x = [counted[a["area_id"]][measure] / a["population"] * 1000 for a in used]
            y = [a[indicator] for a in used]
            row = rows[(measure, indicator)]
            assert row["n"] == len(used)
            if indicator == "share_65_plus":
                assert row["spearman_rho"] is None and row["p_value"] is None
                continue
            for key, want in correlation_reference(x, y).items():
                assert close(row[key], want, atol=1e-300), (measure, indicator, key, row[key])
    assert rows[("all_offenses_rate", "poverty_rate")]["spearman_rho"] > 0.3


def test_spearman_needs_four_areas_and_never_fails(con):
    areas = [
        {"area_id": str(i), "population": 1000, "poverty_rate": 0.1 * i, "unemployment_rate": 0.05,
         "median_household_income": 5e4, "share_under_18": 0.2, "share_65_plus": 0.1}
        for i in range(3)
    ]  # fmt: skip
    create_tables(con, areas, [])
    rows = run_model(con, "crime_social_correlation")
    assert len(rows) == 15 and all(r["n"] == 3 and r["spearman_rho"] is None for r in rows)
    create_tables(con, [], [])
    rows = run_model(con, "crime_social_correlation")
    assert len(rows) == 15 and all(r["n"] == 0 and r["ci_lower"] is None for r in rows)
    # a perfect rank agreement: the interval collapses on rho, p is 0
    areas = [dict(a, area_id=f"P{i}", poverty_rate=0.1 * i) for i, a in enumerate(areas * 2)]
    offenses = [
        {"offense_key": f"{a['area_id']}-{k}", "incident_key": f"{a['area_id']}-{k}",
         "area_id": a["area_id"], "month": date(2024, 8, 1), "category": "theft",
         "crime_against": "property"}
        for i, a in enumerate(areas) for k in range(i + 1)
    ]  # fmt: skip
    create_tables(con, areas, offenses)
    row = next(
        r for r in run_model(con, "crime_social_correlation")
        if (r["measure"], r["indicator"]) == ("all_offenses_rate", "poverty_rate")
    )  # fmt: skip
    assert row["n"] == 6
    assert close(row["spearman_rho"], 1.0, atol=1e-12)
    assert row["ci_upper"] <= 1.0 and row["p_value"] < 1e-6


# --- initiative_impact --------------------------------------------------------------------------
IMPACT_MONTHS = months(date(2024, 1, 1), 14)


def impact_tables(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Monthly rates per area: comparison C*, two initiatives (X*, Y*) and a suppressed S."""
    levels = {f"C{i:02d}": rng.uniform(1, 8) for i in range(25)}
    levels |= {f"X{i}": rng.uniform(2, 6) for i in range(5)}
    levels |= {f"Y{i}": rng.uniform(2, 6) for i in range(3)}
    series = {}
    for area, level in levels.items():
        rates = rng.poisson(level * 10, size=len(IMPACT_MONTHS)) / 10
        if area.startswith("X"):
            rates[6:] *= 0.6  # from 2024-07
        if area.startswith("Y"):
            rates[10:] *= 1.3  # from 2024-11
        series[area] = rates
    con.execute(
        "create table area_month_rates (area_id varchar, month date, category varchar, "
        "rate_per_1000 double)"
    )
    con.executemany(
        "insert into area_month_rates values (?, ?, ?, ?)",
        [(a, IMPACT_MONTHS[i], "all", float(r)) for a, rates in series.items()
         for i, r in enumerate(rates)]
        + [("S", m, "all", None) for m in IMPACT_MONTHS]
        + [("C00", m, "theft", 99.0) for m in IMPACT_MONTHS],  # other categories: ignored
    )  # fmt: skip
    create_tables(con, [{"area_id": a} for a in [*series, "S"]], [])
    return series


IMPACT_VARS = {
    "start_month": "2024-01-01",
    "initiatives": [
        {
            "name": "X pilot",
            "areas": ["X0", "X1", "X2", "X3", "X4", "S"],
            "start_month": "2024-07-01",
        },
        {"name": "Y's programme", "areas": ["Y2", "Y0", "Y1"], "start_month": "2024-11-01"},
    ],
}


def test_difference_in_differences_matches_welch_ttest(con):
    series = impact_tables(con, np.random.default_rng(5))
    rows = {r["initiative"]: r for r in run_model(con, "initiative_impact", **IMPACT_VARS)}
    assert set(rows) == {"X pilot", "Y's programme"}
    for name, prefix, start in (("X pilot", "X", 6), ("Y's programme", "Y", 10)):
        row = rows[name]
        delta = {a: r[start:].mean() - r[:start].mean() for a, r in series.items()}
        treated = np.array([d for a, d in delta.items() if a.startswith(prefix)])
        control = np.array([d for a, d in delta.items() if a.startswith("C")])
        test = stats.ttest_ind(treated, control, equal_var=False)
        interval = test.confidence_interval(0.95)
        estimate = treated.mean() - control.mean()
        assert row["configuration_error"] is None
        assert (row["treated_areas"], row["comparison_areas"]) == (len(treated), len(control))
        assert (row["pre_months"], row["post_months"]) == (start, len(IMPACT_MONTHS) - start)
        assert close(row["estimate"], estimate)
        assert close(row["df"], test.df)
        assert close(row["t_statistic"], test.statistic)
        assert close(row["p_value"], test.pvalue)
        assert close(row["ci_lower"], interval.low)
        assert close(row["ci_upper"], interval.high)
        pre_t = np.mean([series[a][:start].mean() for a in series if a.startswith(prefix)])
        assert close(row["treated_pre_mean"], pre_t)
        assert close(row["relative_effect"], estimate / (pre_t + control.mean()))
    assert rows["X pilot"]["listed_areas"] == "S, X0, X1, X2, X3, X4"
    assert rows["X pilot"]["ci_upper"] < 0 < rows["Y's programme"]["estimate"]
    assert -0.55 < rows["X pilot"]["relative_effect"] < -0.25


@pytest.mark.parametrize(
    ("initiative", "error"),
    [
        ({"areas": ["X0", "Z9", "A0"]}, "areas not in dim_area: 'A0', 'Z9'"),
        ({"start_month": "2024-01-01"}, "starts 2024-01, not after the first month of police data"),
        ({"start_month": "2023-05-01"}, "starts 2023-05, not after the first month of police data"),
        ({"start_month": "2025-03-01"}, "starts 2025-03, after the last month with data (2025-02)"),
    ],
)  # fmt: skip
def test_initiative_configuration_errors(con, initiative, error):
    impact_tables(con, np.random.default_rng(5))
    declared = {"name": "Bad", "areas": ["X0", "X1"], "start_month": "2024-07-01"} | initiative
    variables = {**IMPACT_VARS, "initiatives": [declared]}
    (row,) = run_model(con, "initiative_impact", **variables)
    assert row["configuration_error"].startswith(error)
    assert row["estimate"] is None and row["treated_areas"] == 0 and row["p_value"] is None


def test_no_initiatives_give_an_empty_table_with_its_columns(con):
    impact_tables(con, np.random.default_rng(5))
    sql = model_sql("initiative_impact", **{**IMPACT_VARS, "initiatives": []})
    con.execute(f"create table impact as {sql}")
    assert con.execute("select count(*) from impact").fetchone() == (0,)
    types = dict(con.execute("select column_name, column_type from (describe impact)").fetchall())
    assert types["initiative"] == "VARCHAR" and types["start_month"] == "DATE"
    assert types["estimate"] == "DOUBLE" and types["treated_areas"] == "INTEGER"


def test_one_treated_area_has_an_estimate_but_no_uncertainty(con):
    impact_tables(con, np.random.default_rng(5))
    variables = {
        **IMPACT_VARS,
        "initiatives": [{"name": "Solo", "areas": ["X0"], "start_month": "2024-07-01"}],
    }
    (row,) = run_model(con, "initiative_impact", **variables)
    assert row["treated_areas"] == 1 and row["estimate"] is not None
    assert row["std_error"] is None and row["ci_lower"] is None and row["p_value"] is None
