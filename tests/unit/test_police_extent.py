"""Police partitions follow the data: an export's months, not the calendar since start_month."""

from __future__ import annotations

import csv
import dataclasses
from datetime import date
from pathlib import Path

import duckdb

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.config.paths import DataPaths
from crimemap.config.runtime import resolve_police_months
from crimemap.ingestion.landing import land_csv
from crimemap.ingestion.police.extent import MonthRange, landed_month_range
from crimemap.ingestion.police.layout import builtin_layout
from crimemap.orchestration.defs.police.assets import police_partitions

LAYOUT = builtin_layout("seattle_spd")
TIMEZONE = "America/Los_Angeles"
TODAY = date(2026, 12, 4)
HEADER = ["Report Number", "Offense ID", "Offense Start DateTime", "Report DateTime"]


def spd_export(path: Path, occurred: list[str], reported: list[str] | None = None) -> Path:
    reported = reported or [""] * len(occurred)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i, (when, report) in enumerate(zip(occurred, reported, strict=True)):
            writer.writerow([f"R{i}", str(i), when, report])
    return path


def months_of(tmp_path: Path, occurred: list[str], reported: list[str] | None = None):
    export = spd_export(tmp_path / "spd.csv", occurred, reported)
    landed = land_csv(export, tmp_path / "landed.parquet", load_id="t").path
    with duckdb.connect() as con:
        return landed_month_range(con, LAYOUT, landed, TIMEZONE, today=TODAY)


def a_year_of_2020() -> list[str]:
    return [f"{m:02d}/15/2020 10:00:00 AM" for m in range(1, 13) for _ in range(100)]


def test_a_historical_export_covers_only_its_own_months(tmp_path: Path) -> None:
    assert months_of(tmp_path, a_year_of_2020()) == MonthRange(date(2020, 1, 1), date(2020, 12, 1))


def test_one_mistyped_early_year_does_not_move_the_first_month(tmp_path: Path) -> None:
    rows = [*a_year_of_2020(), "01/15/1901 10:00:00 AM"]

    assert months_of(tmp_path, rows).first == date(2020, 1, 1)


def test_future_dates_never_extend_past_the_current_month(tmp_path: Path) -> None:
    rows = [*a_year_of_2020(), "06/15/2099 08:00:00 AM"]

    assert months_of(tmp_path, rows).last == date(2020, 12, 1)


def test_a_row_without_an_occurred_date_counts_by_its_reported_date(tmp_path: Path) -> None:
    months = months_of(tmp_path, ["", "03/01/2021 09:00:00 AM"], ["04/02/2022 09:00:00 AM", ""])

    assert months == MonthRange(date(2021, 3, 1), date(2022, 4, 1))


def test_no_readable_date_gives_no_range(tmp_path: Path) -> None:
    assert months_of(tmp_path, ["not a date", ""]) is None


def city_yaml(tmp_path: Path, *, start_month: str | None = None) -> Path:
    spd_export(tmp_path / "spd.csv", a_year_of_2020())
    start = f", start_month: {start_month}" if start_month else ""
    path = tmp_path / "city.yml"
    path.write_text(
        "name: Historic\ntimezone: America/Los_Angeles\nprojected_crs: EPSG:32610\n"
        f"police:\n  - {{name: spd, layout: seattle_spd, path: spd.csv{start}}}\n"
        "boundaries: {mode: sample}\n"
    )
    return path


def test_file_partitions_run_from_the_exports_first_to_its_last_month(tmp_path: Path) -> None:
    config = load_jurisdiction(city_yaml(tmp_path))
    resolved = resolve_police_months(config, DataPaths(tmp_path / "data"), TODAY)

    keys = police_partitions(resolved).get_partition_keys()

    assert (len(keys), keys[0], keys[-1]) == (12, "2020-01-01", "2020-12-01")


def test_a_declared_start_month_is_kept(tmp_path: Path) -> None:
    config = load_jurisdiction(city_yaml(tmp_path, start_month="2020-07"))
    resolved = resolve_police_months(config, DataPaths(tmp_path / "data"), TODAY)

    keys = police_partitions(resolved).get_partition_keys()

    assert (keys[0], keys[-1]) == ("2020-07-01", "2020-12-01")


def test_the_months_are_read_once_per_version_of_the_file(tmp_path: Path) -> None:
    config = load_jurisdiction(city_yaml(tmp_path))
    paths = DataPaths(tmp_path / "data")
    resolve_police_months(config, paths, TODAY)
    cache = paths.state / "police_months" / "spd.json"
    assert cache.is_file()

    spd_export(tmp_path / "spd.csv", ["05/05/2021 10:00:00 AM"])  # a new download
    resolved = resolve_police_months(config, paths, TODAY)

    assert (resolved.police[0].start_month, resolved.police[0].end_month) == (
        date(2021, 5, 1),
        date(2021, 5, 1),
    )


def test_live_sources_run_to_the_current_month(tmp_path: Path) -> None:
    config = load_jurisdiction()
    live = dataclasses.replace(config.police[0], mode="live")
    resolved = resolve_police_months(
        dataclasses.replace(config, police=(live,)), DataPaths(tmp_path), TODAY
    )

    assert resolved.police_end_month is None


def test_the_sample_city_has_its_own_fixed_months(tmp_path: Path) -> None:
    resolved = resolve_police_months(load_jurisdiction(), DataPaths(tmp_path), TODAY)

    keys = police_partitions(resolved).get_partition_keys()

    assert (keys[0], keys[-1], len(keys)) == ("2024-07-01", "2026-06-01", 24)
    # the months are the sample settings' (sample: in the YAML), never today's
    config = load_jurisdiction()
    sample = dataclasses.replace(config.sample, first_month=date(2025, 11, 1), months=3)
    police = tuple(dataclasses.replace(s, start_month=None) for s in config.police)
    shorter = dataclasses.replace(config, sample=sample, police=police)
    resolved = resolve_police_months(shorter, DataPaths(tmp_path), TODAY)
    assert police_partitions(resolved).get_partition_keys() == [
        "2025-11-01", "2025-12-01", "2026-01-01"
    ]  # fmt: skip
