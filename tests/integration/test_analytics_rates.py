"""Rates, spikes, correlation and initiative impact on the sample city's planted answers.

The marts of one ``crimemap run`` (24,000 incidents) against the reference libraries on the
same inputs (PySAL esda's Empirical_Bayes, scipy's spearmanr and Welch ttest_ind) and against
what the generator planted (``truth.json`` ``planted``): a burglary spike in one area and month,
and an initiative that moved 40% of its areas' reports elsewhere from its start month.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy import stats

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.config.runtime import dbt_vars
from tests.dbt.test_analytics_rates import correlation_reference, esda_eb_per_1000
from tests.dbt.test_dbt_project import DBT, DBT_PROJECT_DIR, REPO, dbt_env
from tests.integration.conftest import PipelineRun

RTOL = 1e-9


@pytest.fixture(scope="module")
def planted(truth: dict) -> dict:
    return truth["planted"]


def records(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[dict]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


# --- area_month_rates ---------------------------------------------------------------------------
def test_eb_rates_equal_esda(warehouse):
    rows = records(
        warehouse,
        """
        select month, category, area_id, incident_count, population, rate_suppressed,
            eb_rate_per_1000
        from area_month_rates
        where population > 0
        order by month, category, area_id
        """,
    )
    cells: dict[tuple, list[dict]] = {}
    for row in rows:
        cells.setdefault((row["month"], row["category"]), []).append(row)
    compared = pooled = 0
    worst = 0.0
    for cell in cells.values():
        e = np.array([r["incident_count"] for r in cell], dtype=float)
        b = np.array([r["population"] for r in cell], dtype=float)
        reference = esda_eb_per_1000(e, b)
        m = e.sum() / b.sum()
        variance = (b * (e / b - m) ** 2).sum() / b.sum() - m / b.mean()
        for row, want in zip(cell, reference, strict=True):
            got = row["eb_rate_per_1000"]
            if row["rate_suppressed"]:
                assert got is None
            elif variance > 0:
                assert math.isclose(got, want, rel_tol=RTOL), (row, want)
                worst = max(worst, abs(got - want) / want if want else abs(got))
                compared += 1
            else:  # Marshall: a negative variance estimate is 0, every area gets the pooled rate
                assert math.isclose(got, m * 1000, rel_tol=RTOL, abs_tol=1e-15), row
                pooled += 1
    print(f"EB vs esda: {compared} rates equal (max rel diff {worst:.1e}), {pooled} pooled")
    assert compared > 10_000


def test_month_grid_starts_at_the_police_start_month(warehouse):
    start = load_jurisdiction().police_start_month
    first, last = warehouse.execute(
        "select min(month), max(month) from area_month_rates"
    ).fetchone()
    assert first == start
    assert last == warehouse.execute("select max(occurred_month) from fct_incidents").fetchone()[0]


# --- offense_spikes -----------------------------------------------------------------------------
def test_planted_spike_is_found_and_other_spikes_are_rare(warehouse, planted):
    spike = planted["spike"]
    (found,) = records(
        warehouse,
        "select * from offense_spikes where area_id = ? and category = ? and month = ?",
        spike["area_id"],
        spike["category"],
        spike["month"],
    )
    assert found["is_spike"], found
    assert found["ratio"] > 2 and found["observed"] >= spike["reports"]
    assert found["summary"].startswith("burglary in ")
    judged, spikes = warehouse.execute(
        """
        select
            count(*) filter (where baseline_months >= ?),
            count(*) filter (where is_spike and not (area_id = ? and month = ?))
        from offense_spikes
        """,
        [load_jurisdiction().analysis.spike_min_baseline_months, spike["area_id"], spike["month"]],
    ).fetchone()
    alpha = load_jurisdiction().analysis.spike_alpha
    print(f"offense_spikes: {spikes} spikes elsewhere in {judged} judged cells")
    # about alpha per judged cell (the baseline is estimated); twice that is the alarm line
    assert spikes <= 2 * alpha * judged


def test_spike_p_values_are_poisson_tails(warehouse):
    observed, expected, p_value = np.array(
        warehouse.execute(
            "select observed, expected, p_value from offense_spikes where expected is not null"
        ).fetchall()
    ).T
    assert observed.size > 30_000
    np.testing.assert_allclose(p_value, stats.poisson.sf(observed - 1, expected), rtol=RTOL)


# --- crime_social_correlation -------------------------------------------------------------------
def test_spearman_equals_scipy_on_the_marts(warehouse):
    config = load_jurisdiction()
    areas = records(warehouse, "select * from dim_area")
    offenses: dict[str, dict[str, int]] = {}
    for r in records(
        warehouse,
        "select area_id, crime_against, count(*) as n from fct_incidents "
        "where area_id is not null and occurred_month >= ? group by all",
        config.police_start_month,
    ):
        counts = offenses.setdefault(r["area_id"], {"all": 0})
        counts["all"] += r["n"]
        counts[r["crime_against"]] = r["n"]
    measures = {
        "all_offenses_rate": "all",
        "person_crime_rate": "person",
        "property_crime_rate": "property",
    }
    rows = records(warehouse, "select * from crime_social_correlation")
    assert len(rows) == 15
    floor = max(config.analysis.min_population, 1)
    for row in rows:
        used = [
            a for a in areas if (a["population"] or 0) >= floor and a[row["indicator"]] is not None
        ]
        kind = measures[row["measure"]]
        x = [offenses.get(a["area_id"], {}).get(kind, 0) / a["population"] * 1000 for a in used]
        y = [a[row["indicator"]] for a in used]
        assert row["n"] == len(used) > 100
        for key, want in correlation_reference(x, y).items():
            assert math.isclose(row[key], want, rel_tol=RTOL, abs_tol=1e-300), (row, key, want)
    by_pair = {(r["measure"], r["indicator"]): r for r in rows}
    # crime is planted in proportion to exp(0.9 x deprivation)
    poverty = by_pair[("all_offenses_rate", "poverty_rate")]
    assert poverty["spearman_rho"] > 0.5 and poverty["ci_lower"] > 0 and poverty["p_value"] < 1e-6
    assert by_pair[("all_offenses_rate", "median_household_income")]["ci_upper"] < 0


# --- initiative_impact --------------------------------------------------------------------------
def area_deltas(warehouse: duckdb.DuckDBPyConnection, start: str) -> dict[str, float]:
    rows = records(
        warehouse,
        """
        select area_id,
            avg(rate_per_1000) filter (where month >= cast(? as date))
                - avg(rate_per_1000) filter (where month < cast(? as date)) as delta
        from area_month_rates
        where category = 'all' and not rate_suppressed
        group by area_id
        """,
        start,
        start,
    )
    return {r["area_id"]: r["delta"] for r in rows}


def test_planted_initiative_is_a_significant_drop(warehouse, planted):
    initiative = planted["initiative"]
    (row,) = records(
        warehouse, "select * from initiative_impact where initiative = ?", initiative["name"]
    )
    assert row["configuration_error"] is None
    assert str(row["start_month"]) == initiative["start_month"]
    deltas = area_deltas(warehouse, initiative["start_month"])
    declared = {a for i in load_jurisdiction().analysis.initiatives for a in i.areas}
    treated = np.array([deltas[a] for a in initiative["areas"] if a in deltas])
    control = np.array([d for a, d in deltas.items() if a not in declared])
    test = stats.ttest_ind(treated, control, equal_var=False)
    interval = test.confidence_interval(0.95)
    assert (row["treated_areas"], row["comparison_areas"]) == (len(treated), len(control))
    for key, want in (
        ("estimate", treated.mean() - control.mean()),
        ("df", test.df),
        ("t_statistic", test.statistic),
        ("p_value", test.pvalue),
        ("ci_lower", interval.low),
        ("ci_upper", interval.high),
    ):
        assert math.isclose(row[key], want, rel_tol=RTOL), (key, row[key], want)
    # the planted answer: 40% of the reports moved out from the start month
    counterfactual = row["estimate"] / row["relative_effect"]
    print(
        f"initiative_impact: estimate {row['estimate']:.3f} per 1,000 a month, 95% CI "
        f"[{row['ci_lower']:.3f}, {row['ci_upper']:.3f}], p {row['p_value']:.2g}, relative "
        f"{row['relative_effect']:.2f} (CI [{row['ci_lower'] / counterfactual:.2f}, "
        f"{row['ci_upper'] / counterfactual:.2f}])"
    )
    assert row["estimate"] < 0 and row["ci_upper"] < 0
    assert -0.65 < row["relative_effect"] < -0.2
    assert row["ci_lower"] / counterfactual < -initiative["relocated_share"]
    assert row["ci_upper"] / counterfactual > -initiative["relocated_share"]


def test_an_unknown_area_fails_the_build_naming_it(pipeline_run: PipelineRun, tmp_path: Path):
    copy = tmp_path / "bad_initiative"
    copy.mkdir()
    source = pipeline_run.data_dir / "warehouse.duckdb"
    (copy / "warehouse.duckdb").write_bytes(source.read_bytes())
    config = load_jurisdiction()
    bad = {"name": "Ghost pilot", "areas": ["53999099999"], "start_month": "2025-07-01"}
    variables = {**dbt_vars(config), "initiatives": [*dbt_vars(config)["initiatives"], bad]}
    cmd = [
        str(DBT), "build", "--select", "initiative_impact", "--vars", json.dumps(variables),
        "--profiles-dir", str(DBT_PROJECT_DIR), "--project-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(copy / "dbt_target"), "--log-path", str(copy / "dbt_logs"),
    ]  # fmt: skip
    result = subprocess.run(cmd, env=dbt_env(copy), capture_output=True, text=True, cwd=REPO)
    assert result.returncode != 0
    assert (
        "initiative_impact: Ghost pilot: areas not in dim_area: '53999099999'" in result.stdout
    ), result.stdout
