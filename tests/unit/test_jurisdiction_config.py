"""Jurisdiction YAML: the default loads, and every mistake is a ConfigError naming the file."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from crimemap.config.jurisdiction import (
    DEFAULT_CONFIG,
    ConfigError,
    SampleSettings,
    load_jurisdiction,
)
from crimemap.ingestion.police.layout import LocationField, builtin_layout, builtin_layout_names
from crimemap.samplecity.settings import SAMPLE_CITY_SURVEY_LAYOUT

CONFIG_NAME = "springfield.yml"


def custom_layout() -> dict[str, Any]:
    return {
        "agency": "Springfield Police",
        "columns": ["Case", "When", "Code", "Lon", "Lat"],
        "report_number": "Case",
        "occurred": {"column": "When", "formats": ["%Y-%m-%d %H:%M"]},
        "offense_codes": "Code",
        "location": [{"kind": "lonlat", "lon": "Lon", "lat": "Lat"}],
    }


def document(*police: dict[str, Any], **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "Springfield",
        "timezone": "America/Chicago",
        "projected_crs": "EPSG:26916",
        "police": list(police) or [{"name": "spd", "layout": "seattle_spd", "mode": "sample"}],
        "boundaries": {"mode": "sample"},
    }
    doc.update(top)
    return doc


def write_config(directory: Path, doc: dict[str, Any], name: str = CONFIG_NAME) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def touch(path: Path, text: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_jurisdiction(path)
    return str(excinfo.value)


# --- the default -------------------------------------------------------------------------------


def test_default_sample_city_loads() -> None:
    config = load_jurisdiction()

    assert config.path == DEFAULT_CONFIG.resolve()
    assert config.path.name == "sample_city.yml"
    assert config.name == "Sample City"
    assert config.timezone == "America/Los_Angeles"
    assert config.projected_crs == "EPSG:32610"
    assert config.boundary_tolerance_m == 50.0
    assert config.sample == SampleSettings(seed=20240601, incidents=120_000, defect_rate=0.02)
    [source] = config.police
    assert source.name == "seattle_spd"
    assert source.layout == builtin_layout("seattle_spd")
    assert source.mode == "sample"
    assert source.start_month == date(2024, 7, 1)
    assert source.path is None
    assert source.crosswalk_csv is None
    assert config.police_start_month == date(2024, 7, 1)
    assert config.police_source("seattle_spd") is source
    assert (config.boundaries.mode, config.boundaries.spec.id_field) == ("sample", "GEOID")
    assert (config.indicators.mode, config.indicators.table_set) == ("sample", "social_services")
    assert config.indicators.units is None
    assert config.facilities.mode == "sample"
    assert config.facilities.mapping.type_lookup["mental health clinic"] == "mental_health"
    assert (config.service_requests.mode, config.service_requests.layout.name) == (
        "sample",
        "sf311",
    )
    assert (config.surveys.mode, config.surveys.inbox, config.surveys.min_responses) == (
        "sample",
        "inbox/surveys",
        10,
    )
    # The YAML's layout reads exactly the survey the generator writes.
    assert config.surveys.declared
    assert config.surveys.layout == SAMPLE_CITY_SURVEY_LAYOUT


def test_unknown_police_source_lookup_names_the_file() -> None:
    config = load_jurisdiction()

    with pytest.raises(KeyError, match=r"sample_city\.yml: no police source 'lapd'"):
        config.police_source("lapd")


def test_police_start_month_is_the_earliest_source(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        document(
            {"name": "spd", "layout": "seattle_spd", "mode": "sample", "start_month": "2024-07"},
            {"name": "lapd", "layout": "lapd", "mode": "sample", "start_month": "2023-11"},
        ),
    )

    config = load_jurisdiction(path)

    assert [s.start_month for s in config.police] == [date(2024, 7, 1), date(2023, 11, 1)]
    assert config.police_start_month == date(2023, 11, 1)


# --- custom layouts and their crosswalk --------------------------------------------------------


def test_custom_layout_requires_crosswalk_csv(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, document({"name": "springfield", "mode": "sample", "layout": custom_layout()})
    )

    message = config_error(path)

    assert message.startswith(f"{CONFIG_NAME}: police[0]")
    assert "crosswalk_csv" in message


def test_custom_layout_with_crosswalk_csv_loads(tmp_path: Path) -> None:
    crosswalk = touch(tmp_path / "codes" / "springfield.csv", "local_code,nibrs_code\n")
    path = write_config(
        tmp_path,
        document(
            {
                "name": "springfield",
                "mode": "sample",
                "layout": custom_layout(),
                "crosswalk_csv": "codes/springfield.csv",
            }
        ),
    )

    [source] = load_jurisdiction(path).police

    assert source.crosswalk_csv == crosswalk.resolve()
    assert source.layout.name == "springfield"
    assert source.layout.crosswalk == "springfield"
    assert source.layout.agency == "Springfield Police"
    assert source.layout.report_number == "Case"
    assert source.layout.location == (LocationField(kind="lonlat", columns=("Lon", "Lat")),)


def test_custom_layout_may_reuse_a_builtin_crosswalk(tmp_path: Path) -> None:
    layout = {**custom_layout(), "crosswalk": "chicago"}
    path = write_config(
        tmp_path, document({"name": "springfield", "mode": "sample", "layout": layout})
    )

    [source] = load_jurisdiction(path).police

    assert source.layout.crosswalk == "chicago"
    assert source.crosswalk_csv is None


def test_missing_crosswalk_csv_file_is_rejected(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        document(
            {
                "name": "springfield",
                "mode": "sample",
                "layout": custom_layout(),
                "crosswalk_csv": "nope.csv",
            }
        ),
    )

    message = config_error(path)

    assert message == f"{CONFIG_NAME}: police[0].crosswalk_csv: file not found: nope.csv"


def test_invalid_custom_layout_error_names_file_and_key(tmp_path: Path) -> None:
    layout = {**custom_layout(), "grain": "incident"}
    path = write_config(
        tmp_path,
        document(
            {
                "name": "springfield",
                "mode": "sample",
                "layout": layout,
                "crosswalk_csv": "codes.csv",
            }
        ),
    )
    touch(tmp_path / "codes.csv")

    message = config_error(path)

    assert message.startswith(f"{CONFIG_NAME}: police[0].layout.grain: 'incident'")


# --- file mode ---------------------------------------------------------------------------------


def test_file_mode_path_is_relative_to_the_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "configs"
    export = touch(config_dir / "exports" / "spd.csv")
    path = write_config(
        config_dir,
        document(
            {"name": "spd", "layout": "seattle_spd", "mode": "file", "path": "exports/spd.csv"}
        ),
    )
    monkeypatch.chdir(tmp_path)  # the path must not be read relative to the working directory

    [source] = load_jurisdiction(path).police

    assert source.mode == "file"
    assert source.path == export.resolve()


def test_file_mode_path_is_not_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "exports" / "spd.csv")
    path = write_config(
        tmp_path / "configs",
        document(
            {"name": "spd", "layout": "seattle_spd", "mode": "file", "path": "exports/spd.csv"}
        ),
    )
    monkeypatch.chdir(tmp_path)

    message = config_error(path)

    assert message == f"{CONFIG_NAME}: police[0].path: file not found: exports/spd.csv"


def test_file_mode_accepts_an_absolute_path(tmp_path: Path) -> None:
    export = touch(tmp_path / "elsewhere" / "spd.csv")
    path = write_config(
        tmp_path / "configs",
        document({"name": "spd", "layout": "seattle_spd", "mode": "file", "path": str(export)}),
    )

    [source] = load_jurisdiction(path).police

    assert source.path == export


def test_file_mode_requires_a_path(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, document({"name": "spd", "layout": "seattle_spd", "mode": "file"})
    )

    message = config_error(path)

    assert message == f"{CONFIG_NAME}: police[0].path: file mode needs a 'path'"


def test_boundaries_file_mode_is_relative_to_the_yaml(tmp_path: Path) -> None:
    boundaries = touch(tmp_path / "geo" / "tracts.geojson", "{}")
    path = write_config(
        tmp_path,
        document(boundaries={"mode": "file", "path": "geo/tracts.geojson", "id_field": "TRACTCE"}),
    )

    config = load_jurisdiction(path)

    assert config.boundaries.mode == "file"
    assert config.boundaries.path == boundaries.resolve()
    assert config.boundaries.spec.id_field == "TRACTCE"
    # omitted: absent (never the sample city's), surveys from the inbox
    assert config.indicators.mode == "none"
    assert config.facilities.mode == "none"
    assert config.service_requests.mode == "none"
    assert config.absent_sources == ("area_indicators", "facilities", "service_requests")
    assert config.surveys.mode == "file"
    # no layout: the inbox takes no files (never the sample city's columns)
    assert not config.surveys.declared
    assert config.surveys.layout.questions == ()


def test_omitted_sources_are_absent_and_never_sample(tmp_path: Path) -> None:
    config = load_jurisdiction(write_config(tmp_path, document()))

    assert config.absent_sources == ("area_indicators", "facilities", "service_requests")
    assert config.source_modes == {
        "spd": "sample",
        "boundaries": "sample",
        "census_acs": "none",
        "facilities": "none",
        "service_requests": "none",
        "surveys": "file",
    }


@pytest.mark.parametrize("source", ["indicators", "facilities", "service_requests"])
def test_mode_none_is_explicit_for_every_optional_source(tmp_path: Path, source: str) -> None:
    config = load_jurisdiction(write_config(tmp_path, document(**{source: {"mode": "none"}})))

    assert getattr(config, source).mode == "none"


@pytest.mark.parametrize("boundaries", [None, {"mode": "none"}])
def test_the_areas_are_required(tmp_path: Path, boundaries: object) -> None:
    message = config_error(write_config(tmp_path, document(boundaries=boundaries)))

    assert message.startswith(f"{CONFIG_NAME}: boundaries: the areas are required")


def test_police_source_without_mode_or_path_says_what_is_missing(tmp_path: Path) -> None:
    message = config_error(write_config(tmp_path, document({"name": "spd", "layout": "lapd"})))

    assert (
        message
        == f"{CONFIG_NAME}: police[0].mode: say where the rows come from: sample, file, live"
    )


def test_police_source_with_a_path_is_a_file_export(tmp_path: Path) -> None:
    touch(tmp_path / "exports" / "spd.csv")
    config = load_jurisdiction(
        write_config(
            tmp_path, document({"name": "spd", "layout": "lapd", "path": "exports/spd.csv"})
        )
    )

    assert config.police[0].mode == "file"
    assert config.police[0].start_month is None  # resolved from the export's own months


# --- built-in layouts and overrides ------------------------------------------------------------


def test_unknown_builtin_layout_lists_known_ones(tmp_path: Path) -> None:
    path = write_config(tmp_path, document({"name": "hpd", "layout": "houston"}))

    message = config_error(path)

    assert "'houston'" in message
    for name in builtin_layout_names():
        assert name in message


def test_unknown_builtin_layout_error_names_file_and_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, document({"name": "hpd", "layout": "houston"}))

    message = config_error(path)

    assert message.startswith(f"{CONFIG_NAME}: police[0].layout")


def test_overrides_change_chicago_projected_crs(tmp_path: Path) -> None:
    builtin = builtin_layout("chicago")
    location = [
        {"kind": "lonlat", "lon": "Longitude", "lat": "Latitude"},
        {"kind": "point_text", "column": "Location"},
        {"kind": "projected", "x": "X Coordinate", "y": "Y Coordinate", "crs": "EPSG:2926"},
    ]
    path = write_config(
        tmp_path,
        document(
            {
                "name": "cpd",
                "mode": "sample",
                "layout": "chicago",
                "overrides": {"location": location},
            }
        ),
    )

    [source] = load_jurisdiction(path).police

    assert source.layout.location[2] == LocationField(
        kind="projected", columns=("X Coordinate", "Y Coordinate"), crs="EPSG:2926"
    )
    assert source.layout.location[:2] == builtin.location[:2]
    assert source.layout.name == "chicago"
    assert source.layout.crosswalk == "chicago"
    assert source.layout.columns == builtin.columns
    assert source.layout.flags == builtin.flags
    # The cached built-in layout is not touched.
    assert builtin_layout("chicago").location[2].crs == "EPSG:3435"


def test_overrides_merge_nested_mappings(tmp_path: Path) -> None:
    builtin = builtin_layout("chicago")
    path = write_config(
        tmp_path,
        document(
            {
                "name": "cpd",
                "mode": "sample",
                "layout": "chicago",
                "overrides": {
                    "occurred": {"formats": ["%Y-%m-%d %H:%M"]},
                    "live": {"dataset_id": "abcd-1234"},
                },
            }
        ),
    )

    [source] = load_jurisdiction(path).police

    assert source.layout.occurred.column == builtin.occurred.column == "Date"
    assert source.layout.occurred.formats == ("%Y-%m-%d %H:%M",)
    assert source.layout.live is not None and builtin.live is not None
    assert source.layout.live.options["dataset_id"] == "abcd-1234"
    assert source.layout.live.options["base_url"] == builtin.live.options["base_url"]
    assert source.layout.live.fields == builtin.live.fields
    assert source.layout.location == builtin.location


def test_invalid_override_error_names_file(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        document(
            {
                "name": "cpd",
                "mode": "sample",
                "layout": "chicago",
                "overrides": {"grain": "incident"},
            }
        ),
    )

    message = config_error(path)

    assert message.startswith(f"{CONFIG_NAME}: police[0].overrides.grain: 'incident'")


# --- other mistakes: each names the file -------------------------------------------------------


def test_duplicate_source_names_rejected(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        document(
            {"name": "spd", "mode": "sample", "layout": "seattle_spd"},
            {"name": "spd", "mode": "sample", "layout": "lapd"},
        ),
    )

    message = config_error(path)

    assert message == f"{CONFIG_NAME}: police source names must be unique, got ['spd', 'spd']"


@pytest.mark.parametrize("month", ["2024-13", "2024-00", "July 2024", "2024-7", "2024-07-15", 2024])
def test_bad_start_month_rejected(tmp_path: Path, month: object) -> None:
    path = write_config(
        tmp_path,
        document({"name": "spd", "mode": "sample", "layout": "seattle_spd", "start_month": month}),
    )

    message = config_error(path)

    assert message.startswith(f"{CONFIG_NAME}: police[0].start_month: expected a month like")


@pytest.mark.parametrize(
    ("written", "expected"), [("2024-07", date(2024, 7, 1)), ("2024-02-01", date(2024, 2, 1))]
)
def test_start_month_accepts_month_or_first_day(
    tmp_path: Path, written: str, expected: date
) -> None:
    path = tmp_path / CONFIG_NAME
    # Unquoted, as people write it: YAML reads 2024-02-01 as a date.
    path.write_text(
        "name: Springfield\ntimezone: America/Chicago\nprojected_crs: EPSG:26916\n"
        f"police:\n  - {{name: spd, mode: sample, layout: seattle_spd, start_month: {written}}}\n"
        "boundaries: {mode: sample}\n",
        encoding="utf-8",
    )

    [source] = load_jurisdiction(path).police

    assert source.start_month == expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param(
            document({"name": "SPD", "layout": "seattle_spd"}),
            "police[0].name: a lower-case identifier",
            id="bad-source-name",
        ),
        pytest.param(
            document({"name": "spd", "layout": "seattle_spd", "mode": "ftp"}),
            "police[0].mode: must be one of sample, file, live",
            id="bad-mode",
        ),
        pytest.param(
            document({"name": "spd", "layout": 7}),
            "police[0].layout: give a built-in layout name or a column mapping",
            id="bad-layout-value",
        ),
        pytest.param(
            document({"name": "spd", "layout": custom_layout(), "mode": "live"}),
            "police[0]: live mode needs a 'live' section",
            id="live-without-spec",
        ),
        pytest.param(
            document(indicators={"mode": "live"}),
            "indicators: live mode needs an 'api' section (year, in)",
            id="live-indicators-without-api",
        ),
        pytest.param(
            document(indicators={"mode": "live", "api": {"year": 2022, "in": "53"}}),
            "indicators.api.in: the enclosing geographies",
            id="live-indicators-bad-in",
        ),
        pytest.param(
            document(indicators={"table_set": "housing"}),
            "indicators.table_set: unknown ACS table set 'housing'",
            id="unknown-table-set",
        ),
        pytest.param(
            document(indicators={"interpolation": "dasymetric"}),
            "indicators.interpolation: must be one of area",
            id="unknown-interpolation",
        ),
        pytest.param(
            document(boundaries={"mode": "file", "path": "springfield.yml"}),
            "boundaries.id_field: the field holding each area's id is required",
            id="boundaries-without-id-field",
        ),
        pytest.param(
            document(facilities={"type_map": {"Dental Office": "dentistry"}}),
            "facilities.type_map['Dental Office']: 'dentistry' is not one of mental_health",
            id="facility-type-not-canonical",
        ),
        pytest.param(
            document(service_requests={"mode": "cloud"}),
            "service_requests.mode: must be one of none, sample, file, live",
            id="service-requests-mode",
        ),
        pytest.param(
            document(surveys={"inbox": "/srv/inbox"}),
            "surveys.inbox: a directory inside the data directory",
            id="survey-inbox-outside",
        ),
        pytest.param(
            document(projected_crs="EPSG:4326"),
            "projected_crs: WGS 84 is not projected; distances need a projected CRS in metres",
            id="crs-geographic",
        ),
        pytest.param(
            document(projected_crs="EPSG:2926"),
            "projected_crs: NAD83(HARN) / Washington North (ftUS) measures in US survey foot",
            id="crs-in-feet",
        ),
        pytest.param(
            document(projected_crs="EPSG:99999999"),
            "projected_crs: 'EPSG:99999999' is not a CRS PROJ knows",
            id="crs-unknown",
        ),
        pytest.param(
            document(surveys={"mode": "sample"}),
            "surveys.layout: sample mode drops the sample city's survey in the inbox",
            id="sample-survey-without-layout",
        ),
        pytest.param(
            document(surveys={"min_responses": 0}),
            "surveys.min_responses: a positive whole number",
            id="survey-min-responses",
        ),
        pytest.param(document(police=[]), "'police' must list at least one", id="no-police"),
        pytest.param(
            document(timezone=""), "missing required key 'timezone'", id="missing-timezone"
        ),
        pytest.param(
            {k: v for k, v in document().items() if k != "projected_crs"},
            "missing required key 'projected_crs'",
            id="missing-crs",
        ),
    ],
)
def test_errors_name_the_file(tmp_path: Path, doc: dict[str, Any], expected: str) -> None:
    doc = copy.deepcopy(doc)
    if doc["police"] and isinstance(doc["police"][0].get("layout"), dict):
        doc["police"][0]["crosswalk_csv"] = "codes.csv"
        touch(tmp_path / "codes.csv")
    path = write_config(tmp_path, doc)

    message = config_error(path)

    assert message.startswith(f"{CONFIG_NAME}: ")
    assert expected in message


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("police: [\n", encoding="utf-8")
    listing = tmp_path / "listing.yml"
    listing.write_text("- a\n- b\n", encoding="utf-8")

    assert config_error(broken).startswith("broken.yml: not valid YAML")
    assert config_error(listing) == "listing.yml: expected a mapping at the top level"
    assert "jurisdiction config not found" in config_error(tmp_path / "absent.yml")


def test_shipped_configs_load() -> None:
    configs = sorted((Path(__file__).parents[2] / "config" / "jurisdictions").glob("*.yml"))
    assert len(configs) >= 2
    for path in configs:
        config = load_jurisdiction(path)
        assert config.police and all(s.mode == "sample" for s in config.police)
    six = load_jurisdiction(configs[configs.index(path.with_name("sample_city_publishers.yml"))])
    assert {s.layout.name for s in six.police} == set(builtin_layout_names())


# --- quality bounds ----------------------------------------------------------------------------


def test_quality_bounds_default_and_override_per_source(tmp_path: Path) -> None:
    assert (
        load_jurisdiction(write_config(tmp_path / "a", document())).quality.max_volume_drop == 0.5
    )
    quality = {
        "max_volume_drop": 0.3,
        "min_baseline_rows": 10,
        "sources": {"service_requests": {"max_volume_drop": 0.9}},
    }
    config = load_jurisdiction(write_config(tmp_path / "b", document(quality=quality)))
    assert config.quality.min_baseline_rows == 10
    assert config.quality.max_drop_for("spd") == 0.3
    assert config.quality.max_drop_for("service_requests") == 0.9


@pytest.mark.parametrize(
    ("quality", "message"),
    [
        ({"max_volume_drop": 1.5}, "quality.max_volume_drop: a share between 0 and 1"),
        ({"max_volume_drop": True}, "quality.max_volume_drop: a share between 0 and 1"),
        ({"min_baseline_rows": 0}, "quality.min_baseline_rows: a positive whole number"),
        ({"sources": {"spd": {"max_volume_drop": 0}}}, "quality.sources.spd.max_volume_drop"),
        ({"max_drop": 0.5}, "quality: unknown keys ['max_drop']"),
    ],
)
def test_bad_quality_bounds_name_the_key(
    tmp_path: Path, quality: dict[str, Any], message: str
) -> None:
    error = config_error(write_config(tmp_path, document(quality=quality)))
    assert error.startswith(CONFIG_NAME) and message in error
