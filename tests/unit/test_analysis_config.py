"""The jurisdiction's analytics settings: defaults, overrides and errors naming the key."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from crimemap.config.analysis import (
    DEFAULT_PRIORITY_WEIGHTS,
    AnalysisSettings,
    analysis_settings,
    initiatives,
)
from crimemap.config.jurisdiction import DEFAULT_CONFIG, load_jurisdiction
from crimemap.config.runtime import dbt_vars
from crimemap.config.sources import ConfigError
from crimemap.samplecity.incidents import build_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from crimemap.samplecity.truth import planted_truth

DBT_PROJECT_YML = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"


def test_defaults_when_absent() -> None:
    settings = analysis_settings(None, "city.yml: analysis")
    assert settings == AnalysisSettings()
    assert settings.neighbourhood_m == 750.0
    assert dict(settings.priority_weights) == dict(DEFAULT_PRIORITY_WEIGHTS)


def test_overrides_reach_the_dbt_vars() -> None:
    settings = analysis_settings(
        {
            "min_population": 500,
            "grid": {"shape": "square", "cell_size_m": 250},
            "spikes": {"baseline_months": 6, "min_baseline_months": 3},
            "service_access": {"catchment_m": 1500},
            "priority_weights": {"mental_health": 0.5},
            "forecast": {"holdout_months": 3, "area_shares": [0.01]},
        },
        "city.yml: analysis",
    )
    dbt = settings.dbt_vars()
    assert dbt["grid_shape"] == "square" and dbt["grid_cell_m"] == 250.0
    assert dbt["hotspot_band_m"] == 375.0  # 1.5 x the cell when not given
    assert dbt["min_population"] == 500 and dbt["catchment_m"] == 1500.0
    assert dbt["spike_baseline_months"] == 6 and dbt["spike_min_baseline_months"] == 3
    assert dbt["priority_weights"]["mental_health"] == 0.5
    assert dbt["priority_weights"]["deprivation"] == DEFAULT_PRIORITY_WEIGHTS["deprivation"]
    assert dbt["forecast_area_shares"] == [0.01] and dbt["forecast_holdout_months"] == 3
    json.dumps(dbt)  # passed to dbt as --vars JSON


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"grid": {"shape": "triangle"}}, "analysis.grid.shape"),
        ({"grid": {"cell_size_m": 5}}, "analysis.grid.cell_size_m"),
        ({"grid": {"cell_size_m": 500, "neighbourhood_m": 400}}, "analysis.grid.neighbourhood_m"),
        ({"spikes": {"baseline_months": 3, "min_baseline_months": 6}}, "min_baseline_months"),
        ({"spikes": {"alpha": 0.9}}, "analysis.spikes.alpha"),
        ({"priority_weights": {"crime": -1}}, "analysis.priority_weights.crime: must be"),
        (
            {"priority_weights": {k: 0 for k in DEFAULT_PRIORITY_WEIGHTS}},
            "at least one weight must be positive",
        ),
        ({"forecast": {"area_shares": []}}, "analysis.forecast.area_shares"),
        ({"forecast": {"area_shares": [0.05, 1.5]}}, "analysis.forecast.area_shares[1]"),
        ({"min_population": "many"}, "analysis.min_population"),
        ({"gird": {}}, "analysis: unknown keys ['gird']"),
    ],
)
def test_errors_name_the_key(entry: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        analysis_settings(entry, "city.yml: analysis")


def test_initiatives_parse_and_check() -> None:
    (parsed,) = initiatives(
        [{"name": " Pilot ", "areas": ["1", 2], "start": date(2025, 7, 1)}], "city.yml: initiatives"
    )
    assert parsed.name == "Pilot" and parsed.areas == ("1", "2")
    assert parsed.start_month == date(2025, 7, 1)
    assert initiatives(None, "x") == ()
    bad = [
        ([{"areas": ["1"], "start": "2025-07"}], r"initiatives\[0\].name"),
        ([{"name": "a", "areas": [], "start": "2025-07"}], r"initiatives\[0\].areas"),
        ([{"name": "a", "areas": ["1", "1"], "start": "2025-07"}], "listed twice"),
        ([{"name": "a", "areas": ["1"]}], r"initiatives\[0\].start"),
        ([{"name": "a", "areas": ["1"], "start": date(2025, 7, 15)}], "expected a month"),
        ([{"name": "a", "areas": ["1"], "start": "2025-07"}] * 2, "must be unique"),
    ]
    for entry, message in bad:
        with pytest.raises(ConfigError, match=message):
            initiatives(entry, "city.yml: initiatives")


def test_sample_city_declares_the_planted_initiative() -> None:
    """The YAML's initiative is the one the generator planted (areas drawn from the seed)."""
    config = load_jurisdiction(DEFAULT_CONFIG)
    planted = planted_truth(build_sample_city(SampleCityConfig(n_incidents=2000)))["initiative"]
    (declared,) = config.analysis.initiatives
    assert declared.name == planted["name"]
    assert list(declared.areas) == planted["areas"]
    assert declared.start_month.isoformat() == planted["start_month"]


def test_dbt_project_defaults_equal_the_sample_city() -> None:
    """A manual `dbt build` (no --vars) computes what a run of the sample city computes."""
    defaults = yaml.safe_load(DBT_PROJECT_YML.read_text())["vars"]
    settings = dbt_vars(load_jurisdiction(DEFAULT_CONFIG))
    assert settings.pop("initiatives")  # a jurisdiction's own: no default declares them
    assert defaults["initiatives"] == []
    for key, value in settings.items():
        assert defaults[key] == value, key
