"""The survey inbox: a city that gives no survey layout takes no files, and says so (never the
sample city's columns); a city that does judges each file's accepted share on its own."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from dagster import AssetCheckSeverity, materialize

from crimemap.config.jurisdiction import DEFAULT_CONFIG, load_jurisdiction
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.jurisdiction import jurisdiction_resource
from crimemap.orchestration.defs.sources.assets import raw_assets, split_assets
from crimemap.orchestration.defs.sources.resources import sample_city_resource, source_resources
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


def test_a_broken_wave_fails_the_survey_acceptance_check_by_name(tmp_path: Path) -> None:
    """The sample survey and a second wave whose response ids were lost in an export: judged
    each on its own, the second stops the survey intake although the two together pass."""
    config = load_jurisdiction(DEFAULT_CONFIG)
    sources, data_dir = tmp_path / "sources", tmp_path / "data"
    sample = sample_city_resource(config, sources)
    inbox = data_dir / "inbox" / "surveys"
    inbox.mkdir(parents=True)
    survey = pl.read_csv(sample.files().survey_csv, infer_schema=False)
    broken = survey.head(30).with_columns(pl.lit(None, pl.String).alias("response_id"))
    broken.write_csv(inbox / "wave2.csv")
    wanted = {"areas", "surveys"}
    assets = [
        *(a for a in raw_assets(config) if a.key.path[-1] in wanted),
        *(a for a in split_assets(config) if any(k.path[-1] in wanted for k in a.keys)),
        *survey_assets(config),
    ]

    result = materialize(
        assets,
        resources={
            **source_resources(config, sources),
            "jurisdiction": jurisdiction_resource(config),
            "data_dir": DataDirectory(root=str(data_dir)),
        },
        raise_on_error=False,
    )

    evaluation = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "surveys_accepted_share"
    )
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert evaluation.description == (
        "wave2: only 0 of 30 rows accepted (0.0%), below 50%; mostly missing_key: 30 rows "
        "(blank response_id)"
    )
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert metadata["raw_rows"] == survey.height + 30
    assert metadata["accepted_rows"] > 0.9 * metadata["raw_rows"]  # together they would pass
