"""Real cities onboarded by YAML alone, from files shaped like real downloads.

Two jurisdictions, each run end to end with ``crimemap run --config``:

- Smallville: a one-area town with police and boundaries only (no indicators, no facilities,
  no 311), from a historical export of one year and a second police source that is then
  removed from the YAML; a second jurisdiction is refused in its data directory.
- Named Neighbourhoods: boundaries keyed by name only, a socio-economic table keyed by those
  names (other case and spacing, percentages, dollars, a composite index), and a clinic list
  with a repeated header and free-text types.

Every run publishes a release: the privacy audit runs on each and blocks on any finding.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from tests.integration.conftest import open_warehouse, run_crimemap
from tests.support.browser import offline_page
from tests.support.real_cities import (
    clinic_list,
    export_of_year,
    hardship_table,
    named_neighbourhoods,
    one_area_town,
)

pytestmark = pytest.mark.integration

INCIDENTS = 6000

SMALLVILLE = """
name: Smallville
timezone: America/Los_Angeles
projected_crs: EPSG:32610
police:
  - name: smallville_pd
    layout: seattle_spd
    path: exports/spd_2025.csv
{extra_police}
boundaries: {{mode: file, path: exports/town.geojson, id_field: TOWN_ID, name_field: TOWN}}
"""
RETIRED_SOURCE = """
  - name: county_sheriff
    layout: seattle_spd
    path: exports/sheriff_2025.csv
"""

NEIGHBOURHOODS = """
name: Named Neighbourhoods
timezone: America/Los_Angeles
projected_crs: EPSG:32610
police:
  - {name: metro_pd, layout: seattle_spd, path: exports/spd_2025.csv}
boundaries: {mode: file, path: exports/neighbourhoods.geojson, id_field: NHOOD, name_field: NHOOD}
indicators:
  mode: file
  path: exports/hardship.csv
  key: {field: COMMUNITY AREA NAME}
  indicators:
    population: {column: POPULATION, kind: count}
    poverty_rate: {column: PERCENT HOUSEHOLDS BELOW POVERTY, kind: proportion, percent: true}
    per_capita_income: {column: PER CAPITA INCOME, kind: median, label: Per-capita income,
                        need: low}
    hardship_index: {column: HARDSHIP INDEX, kind: index, label: Hardship index}
facilities:
  mode: file
  path: exports/clinics.csv
  id_field: Site ID
  name_field: Site Name
  type_field: Type
  longitude_field: Longitude
  latitude_field: Latitude
  columns: {rename: {"Type#2": Hours}}
  type_map:
    "*mental health*": mental_health
    "/detox|withdrawal/": substance_use
    "*shelter*": shelter
    "*youth*": youth_services
  default_type: clinic
analysis:
  priority_weights: {hardship_index: 1, per_capita_income: 0.5}
"""


def succeeded(data_dir: Path, config: Path) -> str:
    """The run's console output (its stage and summary lines) and its log file (Dagster's)."""
    completed = run_crimemap(data_dir, "run", "--config", str(config))
    if completed.returncode != 0:
        pytest.fail(f"crimemap run failed:\n{completed.stdout[-4000:]}\n{completed.stderr[-6000:]}")
    (log,) = re.findall(r"run log: +(\S+)", completed.stdout)
    return completed.stdout + completed.stderr + Path(log).read_text(encoding="utf-8")


def manifest(data_dir: Path) -> dict:
    release = (data_dir / "published" / "LATEST").read_text().strip()
    return json.loads((data_dir / "published" / "releases" / release / "manifest.json").read_text())


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real-cities")
    exports = root / "exports"
    files = generate_sample_city(exports, SampleCityConfig(n_incidents=INCIDENTS))
    export_of_year(files.police_csv, 2025, exports / "spd_2025.csv")
    export_of_year(files.police_csv, 2024, exports / "sheriff_2025.csv")
    one_area_town(files.areas_geojson, exports / "town.geojson")
    return root


# --- Smallville: one area, police and boundaries only ------------------------------------------


@pytest.fixture(scope="module")
def smallville(exports: Path) -> dict[str, object]:
    config = exports / "smallville.yml"
    data_dir = exports / "smallville-data"
    config.write_text(SMALLVILLE.format(extra_police=RETIRED_SOURCE))
    first = succeeded(data_dir, config)
    with open_warehouse(data_dir) as wh:
        sources_before = dict(
            wh.execute("SELECT source, count(*) FROM fct_incidents GROUP BY ALL").fetchall()
        )
    config.write_text(SMALLVILLE.format(extra_police=""))  # the sheriff's source is removed
    second = succeeded(data_dir, config)
    return {"config": config, "data_dir": data_dir, "first": first, "second": second,
            "sources_before": sources_before}  # fmt: skip


def test_omitted_sources_are_reported_absent_never_sample(smallville) -> None:
    assert "none: census_acs, facilities, service_requests" in smallville["second"]
    freshness = {f["source"]: f for f in manifest(smallville["data_dir"])["source_freshness"]}
    assert {f["mode"] for f in freshness.values()} <= {"file", "none"}
    for absent in ("census_acs", "facilities", "service_requests"):
        assert (freshness[absent]["mode"], freshness[absent]["rows"]) == ("none", 0)
    assert freshness["smallville_pd"]["mode"] == "file"
    # nothing the YAML did not declare: the sample city is never even generated
    assert not (smallville["data_dir"] / "sources" / "sample").exists()


def test_a_historical_export_makes_only_its_own_months(smallville) -> None:
    # with the sheriff's export of 2024 (the sample city starts in July) and the town's of 2025
    assert "months 2024-07..2025-12" in smallville["first"]
    # the town's export alone: twelve months, not one per month up to today
    assert "months 2025-01..2025-12" in smallville["second"]
    assert "smallville_pd: landing 12 month(s) 2025-01-01..2025-12-01" in smallville["second"]


def test_a_removed_police_source_leaves_no_trace_in_the_marts(smallville) -> None:
    assert smallville["sources_before"].keys() == {"smallville_pd", "county_sheriff"}
    with open_warehouse(smallville["data_dir"]) as wh:
        sources = {r[0] for r in wh.execute("SELECT DISTINCT source FROM fct_incidents").fetchall()}
        scorecard = {
            r[0]
            for r in wh.execute(
                "SELECT DISTINCT source FROM quality_scorecard WHERE family = 'police'"
            ).fetchall()
        }
    assert sources == {"smallville_pd"}
    assert "county_sheriff" not in scorecard


def test_without_indicators_and_facilities_nothing_is_faked(smallville) -> None:
    with open_warehouse(smallville["data_dir"]) as wh:
        reasons = wh.execute(
            "SELECT DISTINCT exclusion_reason, unavailable_components FROM priority_areas"
        ).fetchall()
        access_rows = wh.execute("SELECT count(*) FROM service_access").fetchone()[0]
        rates = wh.execute("SELECT count(rate_per_1000) FROM area_month_rates").fetchone()[0]
    assert reasons == [("population_unknown", "deprivation, access_gap")]
    assert access_rows == 0  # no facility list: no access score, never a score of 0
    assert rates == 0  # no population: rates withheld


def test_a_one_area_town_publishes_its_counts_and_passes_the_audit(smallville) -> None:
    release = manifest(smallville["data_dir"])
    layers = {layer["name"]: layer for layer in release["layers"]}
    assert layers["area_month_rates"]["rows"] > 0
    with open_warehouse(smallville["data_dir"]) as wh:
        areas = wh.execute("SELECT count(*) FROM dim_area").fetchone()[0]
        small_shown = wh.execute(
            "SELECT count(*) FROM area_month_rates WHERE incident_count BETWEEN 1 AND 4"
        ).fetchone()[0]
        incidents = wh.execute(
            "SELECT count(*) FROM fct_incidents WHERE area_id IS NOT NULL"
        ).fetchone()[0]
    assert areas == 1
    assert incidents > 0
    # The town's monthly counts are the city totals the incidents layer shows: not suppressed.
    assert small_shown > 0


def test_the_one_area_towns_map_shows_only_what_it_declared(smallville) -> None:
    """No facilities, no indicators, no terms in the YAML: the map draws the one area and its
    rates, and names no facility type, service gap or licence it was never given."""
    release = (
        smallville["data_dir"]
        / "published"
        / "releases"
        / manifest(smallville["data_dir"])["release_id"]
    )
    ready = "document.documentElement.dataset.state === 'ready'"
    with offline_page((release / "map" / "index.html").as_uri(), ready=ready) as (page, log):
        data = page.evaluate("window.crimemap.data")
        drawn = page.evaluate(
            "window.crimemap.map.queryRenderedFeatures({layers: ['areas-fill']}).length"
        )
        legend = page.locator("#legend").inner_text()
        credits = page.locator("#credits").inner_text()
    assert log.errors == [] and log.requests == []
    assert len(data["areas"]["features"]) == 1 and drawn >= 1
    assert data["facilities"]["features"] == [] and data["facility_types"] == []
    assert data["access_types"] == [] and data["terms"] == {}
    assert "(facility)" not in legend and "licence" not in credits
    assert data["categories"] and data["months"]
    # No QGIS style for the facility list it never had.
    assert sorted(p.name for p in (release / "styles").glob("*.qml")) == [
        "hotspots.qml",
        "priority_areas.qml",
    ]


def test_a_second_jurisdiction_is_refused_in_a_used_data_directory(smallville) -> None:
    other = smallville["config"].with_name("other.yml")
    other.write_text(smallville["config"].read_text().replace("Smallville", "Othertown", 1))
    completed = run_crimemap(smallville["data_dir"], "run", "--config", str(other))
    assert completed.returncode != 0
    assert "holds the jurisdiction 'Smallville'; 'Othertown' needs a data directory" in (
        completed.stderr
    )


# --- named neighbourhoods with their own indicator table and clinic list -----------------------


@pytest.fixture(scope="module")
def neighbourhoods(exports: Path) -> dict[str, object]:
    files = exports / "exports"
    hoods = named_neighbourhoods(files / "areas.geojson", files / "neighbourhoods.geojson")
    table = hardship_table(files / "acs_5yr_tract.json", hoods, files / "hardship.csv")
    clinics = clinic_list(files / "facilities.csv", files / "clinics.csv")
    config = exports / "neighbourhoods.yml"
    config.write_text(NEIGHBOURHOODS)
    data_dir = exports / "neighbourhoods-data"
    stdout = succeeded(data_dir, config)
    return {"data_dir": data_dir, "stdout": stdout, "table": table, "clinics": clinics}


def test_a_neighbourhood_keyed_table_reaches_every_area(neighbourhoods) -> None:
    table = neighbourhoods["table"]
    with open_warehouse(neighbourhoods["data_dir"]) as wh:
        rows = wh.execute(
            "SELECT area_name, indicator, estimate, label FROM area_indicators"
        ).fetchall()
        population = dict(wh.execute("SELECT area_name, population FROM dim_area").fetchall())
    got = {(name, indicator): estimate for name, indicator, estimate, _ in rows}
    assert sum(values is not None for values in table.values()) >= 100
    for name, values in table.items():
        if values is None:  # quarantined: the area has no indicator, never a made-up one
            assert population[name] is None
            assert {got[key] for key in got if key[0] == name} <= {None}
            continue
        for indicator, value in values.items():
            assert got[(name, indicator)] == pytest.approx(value), (name, indicator)
        assert population[name] == values["population"]
    labels = {indicator: label for _, indicator, _, label in rows}
    assert labels["hardship_index"] == "Hardship index"
    assert labels["per_capita_income"] == "Per-capita income"


def test_a_sentinel_in_the_table_quarantines_its_row(neighbourhoods) -> None:
    quarantined = neighbourhoods["data_dir"] / "quarantine" / "area_indicators"
    with open_warehouse(neighbourhoods["data_dir"]) as wh:
        reasons = wh.execute(
            f"SELECT _reason, count(*) FROM '{quarantined}/*.parquet' GROUP BY ALL"
        ).fetchall()
    expected = sum(values is None for values in neighbourhoods["table"].values())
    assert expected >= 1
    assert reasons == [("value_invalid", expected)]


def test_the_citys_indicators_are_correlated_with_crime(neighbourhoods) -> None:
    with open_warehouse(neighbourhoods["data_dir"]) as wh:
        correlated = {
            (m, i): n
            for m, i, n in wh.execute(
                "SELECT measure, indicator, n FROM crime_social_correlation"
            ).fetchall()
        }
    indicators = {i for _, i in correlated}
    assert indicators == {"poverty_rate", "per_capita_income", "hardship_index"}
    assert all(n >= 100 for n in correlated.values())


def test_the_need_index_is_built_from_the_components_that_exist(neighbourhoods) -> None:
    with open_warehouse(neighbourhoods["data_dir"]) as wh:
        ranked, unavailable = wh.execute(
            "SELECT count(*) FILTER (WHERE ranked), any_value(unavailable_components) "
            "FROM priority_areas"
        ).fetchone()
    # no unemployment or household income in the table: deprivation is left out, not faked
    assert unavailable == "deprivation"
    assert ranked >= 100


def test_the_citys_own_indicators_weigh_into_the_need_index(neighbourhoods) -> None:
    """Named in priority_weights, the hardship index (high = need) and per-capita income
    (low = need) are components of their own: their share of each ranked area's index is
    their weighted, capped z scores over the ranked areas, recomputed here with numpy."""
    with open_warehouse(neighbourhoods["data_dir"]) as wh:
        rows = wh.execute(
            """
            SELECT p.area_id, p.indicator_contribution, p.indicator_weight,
                   p.indicator_components, p.person_crime_weight + p.mental_health_weight
                       + p.deprivation_weight + p.access_gap_weight + p.indicator_weight,
                   h.estimate, i.estimate
            FROM priority_areas AS p
            JOIN area_indicators AS h ON h.area_id = p.area_id AND h.indicator = 'hardship_index'
            JOIN area_indicators AS i
                ON i.area_id = p.area_id AND i.indicator = 'per_capita_income'
            WHERE p.ranked
            ORDER BY p.area_id
            """
        ).fetchall()
    assert len(rows) >= 100
    assert {(r[2], r[3]) for r in rows} == {(1.5, "hardship_index, per_capita_income")}
    total = rows[0][4]
    assert total == pytest.approx(0.30 + 0.15 + 0.20 + 1.5)  # deprivation unavailable

    def capped_z(values: np.ndarray) -> np.ndarray:
        return np.clip((values - values.mean()) / values.std(), -3, 3)

    hardship = capped_z(np.array([r[5] for r in rows]))
    low_income = -capped_z(np.array([r[6] for r in rows], dtype=float))
    expected = (1.0 * hardship + 0.5 * low_income) / total
    assert np.array([r[1] for r in rows]) == pytest.approx(expected, abs=1e-9)
    # the poorest, hardest-pressed areas are pushed up by them
    assert np.corrcoef(expected, hardship)[0, 1] > 0.5


def test_a_clinic_list_with_a_repeated_header_and_free_text_types(neighbourhoods) -> None:
    with open_warehouse(neighbourhoods["data_dir"]) as wh:
        types = dict(wh.execute("SELECT facility_id, facility_type FROM dim_facility").fetchall())
    assert len(types) >= 20
    for facility_id, facility_type in types.items():
        assert facility_type == neighbourhoods["clinics"][facility_id], facility_id


def test_every_release_lists_no_sample_source(neighbourhoods) -> None:
    modes = {
        f["source"]: f["mode"] for f in manifest(neighbourhoods["data_dir"])["source_freshness"]
    }
    assert "sample" not in modes.values()
    assert not (neighbourhoods["data_dir"] / "sources" / "sample").exists()
    assert modes["census_acs"] == "file" and modes["facilities"] == "file"
