"""The jurisdiction being run: ``CRIMEMAP_CONFIG`` names its YAML (default: the sample city).

``CRIMEMAP_SAMPLE_INCIDENTS`` / ``_SEED`` / ``_DEFECT_RATE`` override the file's ``sample``
section, so the CLI and tests can size the sample city without editing the file.
"""

from __future__ import annotations

import dataclasses
import os
from functools import cache
from pathlib import Path
from typing import Any

from ingestion.jurisdiction import DEFAULT_CONFIG, JurisdictionConfig, load_jurisdiction

CONFIG_ENV = "CRIMEMAP_CONFIG"


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).resolve()


@cache
def _load(
    path: Path, incidents: str | None, seed: str | None, rate: str | None
) -> JurisdictionConfig:
    config = load_jurisdiction(path)
    sample = config.sample
    sample = dataclasses.replace(
        sample,
        incidents=int(incidents) if incidents else sample.incidents,
        seed=int(seed) if seed else sample.seed,
        defect_rate=float(rate) if rate else sample.defect_rate,
    )
    return dataclasses.replace(config, sample=sample)


def current_config() -> JurisdictionConfig:
    env = os.environ
    return _load(
        config_path(),
        env.get("CRIMEMAP_SAMPLE_INCIDENTS"),
        env.get("CRIMEMAP_SAMPLE_SEED"),
        env.get("CRIMEMAP_SAMPLE_DEFECT_RATE"),
    )


def dbt_vars(config: JurisdictionConfig) -> dict[str, Any]:
    """The jurisdiction's settings the models read (dbt_project.yml holds the sample city's)."""
    return {
        "timezone": config.timezone,
        "projected_crs": config.projected_crs,
        "cv_threshold_pct": config.indicators.cv_threshold_pct,
        "min_survey_responses": config.surveys.min_responses,
        "start_month": config.police_start_month.isoformat(),
        **config.analysis.dbt_vars(),
    }
