"""A city that gives no survey layout: its inbox takes no files, and says so (never the sample
city's columns)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from dagster import materialize

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.sources.resources import sample_city_resource
from crimemap.orchestration.defs.sources.surveys import survey_assets

pytestmark = pytest.mark.integration


def city_without_survey_layout(root: Path) -> Path:
    path = root / "city.yml"
    path.write_text(
        """
name: Quiet Town
timezone: America/Chicago
projected_crs: EPSG:26916
police:
  - {name: qpd, layout: seattle_spd, mode: sample}
boundaries: {mode: sample}
"""
    )
    return path


def land_inbox(root: Path) -> tuple[bool, str, int | None]:
    config = load_jurisdiction(city_without_survey_layout(root))
    raw_surveys = survey_assets(config)[0]
    result = materialize(
        [raw_surveys],
        resources={
            "data_dir": DataDirectory(root=str(root / "data")),
            "sample_city": sample_city_resource(config, root / "sources"),
        },
        raise_on_error=False,
    )
    failure = result.get_step_failure_events()
    if failure:
        error = failure[0].step_failure_data.user_failure_data
        return False, error.description if error else "", None
    (materialization,) = result.get_asset_materialization_events()
    rows = materialization.materialization.metadata["dagster/row_count"].value
    assert isinstance(rows, int)
    return True, "", rows


def test_an_empty_inbox_lands_no_answers(tmp_path: Path) -> None:
    ok, _, rows = land_inbox(tmp_path)

    assert ok
    assert rows == 0


def test_a_survey_file_without_a_layout_is_refused_by_name(tmp_path: Path) -> None:
    inbox = tmp_path / "data" / "inbox" / "surveys"
    inbox.mkdir(parents=True)
    pl.DataFrame({"Resp ID": ["1"], "Ward": ["3"], "Q1": ["Yes"]}).write_csv(
        inbox / "ward_survey.csv"
    )

    ok, message, _ = land_inbox(tmp_path)

    assert not ok
    assert message.startswith("surveys: ward_survey.csv in ")
    assert "city.yml gives no surveys.layout" in message
    # nothing was landed from it
    assert not (tmp_path / "data" / "raw" / "surveys" / "ward_survey.parquet").exists()
