"""A portal that goes dark: the volume check on a police source's raw asset, end to end."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from dagster import AssetCheckSeverity, materialize

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.config.paths import data_paths
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.police.assets import police_partitions, raw_key, raw_police_asset
from crimemap.orchestration.defs.police.resources import feed_resource_key, police_feed
from crimemap.orchestration.defs.quality.volume import volume_check
from crimemap.quality.volume import accept_latest, history_path
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from tests.support.jurisdictions import file_sources_yaml

pytestmark = pytest.mark.integration

JULY = "2024-07-01"


def city_yaml(root: Path, export: Path, exports_dir: Path) -> Path:
    path = root / "city.yml"
    path.write_text(
        f"""
name: Dark Portal City
timezone: America/Los_Angeles
projected_crs: EPSG:32610
police:
  - name: spd
    layout: seattle_spd
    mode: file
    path: {export}
    start_month: 2024-07
quality:
  max_volume_drop: 0.5
  min_baseline_rows: 20
"""
        + file_sources_yaml(str(exports_dir))
    )
    return path


def keep_share_of_july(export: Path, share: float) -> int:
    """Rewrite the export with only ``share`` of July's rows (other months untouched)."""
    frame = pl.read_csv(export, infer_schema=False)
    july = frame["Offense Start DateTime"].str.starts_with("07/") & frame[
        "Offense Start DateTime"
    ].str.contains("/2024 ")
    kept_july = frame.filter(july).head(int(share * frame.filter(july).height))
    frame.filter(~july).vstack(kept_july).write_csv(export)
    return kept_july.height


def land_july(config_path: Path) -> tuple[bool, str, dict]:
    config = load_jurisdiction(config_path)
    (source,) = config.police
    asset = raw_police_asset(source, config, police_partitions(config))
    check = volume_check(source.name, raw_key(source.name), config)
    result = materialize(
        [asset, check],
        partition_key=JULY,
        resources={
            feed_resource_key(source.name): police_feed(source, config, Path(".")),
            "data_dir": DataDirectory(root=str(data_paths().root)),
        },
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.severity == AssetCheckSeverity.ERROR
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    return evaluation.passed, evaluation.description or "", metadata


def test_a_collapsed_month_fails_until_an_operator_accepts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path / "data"))
    files = generate_sample_city(tmp_path / "city", SampleCityConfig(n_incidents=3000))
    export = tmp_path / "exports" / "spd.csv"
    export.parent.mkdir()
    export.write_bytes(files.police_csv.read_bytes())
    config_path = city_yaml(tmp_path, export, files.areas_geojson.parent)

    passed, message, _ = land_july(config_path)
    assert passed and "first load" in message

    passed, message, _ = land_july(config_path)  # the same export again
    assert passed and "within 50%" in message

    kept = keep_share_of_july(export, 0.2)  # the portal returns a fifth of July
    passed, message, metadata = land_july(config_path)
    assert not passed
    assert "spd: volume collapsed by more than 50%" in message
    assert f"2024-07: {kept:,} rows vs" in message
    (drop,) = metadata["drops"]
    assert drop["scope"] == "2024-07" and drop["rows"] == kept
    assert drop["drop_share"] == pytest.approx(1 - kept / drop["baseline_rows"], abs=1e-4)

    passed, _, _ = land_july(config_path)  # still dark: a failed load is no baseline
    assert not passed

    accept_latest(history_path(data_paths().state, "spd"), "spd")
    passed, message, _ = land_july(config_path)  # accepted: the smaller month is the baseline
    assert passed, message
