"""The bad-input corpus: one police export, as real portals break it, through the real landing,
raw check, split and acceptance check of one month.

Every file is generated here from the sample city's July 2024 rows. For each, the outcome is one
of: quarantine with a reason, a one-line error naming the file, or a documented reading; and
wherever the file was readable, raw rows = accepted + quarantined with the raw rows counted from
the file as the test wrote it. (Columns added and dropped across two loads: test_export_drift.)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from crimemap.config.jurisdiction import JurisdictionConfig, load_jurisdiction
from crimemap.config.paths import DataPaths
from crimemap.ingestion.landing import RAW_RECORD_COLUMN
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from tests.support.police_loads import PoliceLoad, conform_areas, load_police_month

pytestmark = pytest.mark.integration

MONTH = "2024-07"
OCCURRED, REPORTED = "Offense Start DateTime", "Report DateTime"
ADDRESS, OFFENSE = "100 Block Address", "Offense"


@dataclass(frozen=True)
class Town:
    root: Path
    areas: Path
    export: pl.DataFrame  # July's rows, as published
    baseline: PoliceLoad  # the export loaded as published
    accepted_rows: list[int]  # row numbers the baseline accepted

    def csv(self, frame: pl.DataFrame | None = None, separator: str = ",") -> str:
        return (self.export if frame is None else frame).write_csv(separator=separator)

    def lines(self) -> tuple[str, list[str]]:
        header, *rows = self.csv().splitlines()
        return header, rows


def config(root: Path, export: Path, areas: Path, read: str = "") -> JurisdictionConfig:
    path = root / "city.yml"
    path.write_text(
        "name: Corpus Town\ntimezone: America/Los_Angeles\nprojected_crs: EPSG:32610\n"
        f"police: [{{name: spd, layout: seattle_spd, mode: file, path: {export}, "
        f"start_month: {MONTH}{read}}}]\n"
        f"boundaries: {{mode: file, path: {areas}, id_field: GEOID, name_field: NAME}}\n"
    )
    return load_jurisdiction(path)


def load(root: Path, areas: Path, data: bytes, read: str = "") -> PoliceLoad:
    root.mkdir(parents=True, exist_ok=True)
    export = root / "export.csv"
    export.write_bytes(data)
    jurisdiction = config(root, export, areas, read)
    paths = DataPaths(root / "data")
    conform_areas(jurisdiction, paths)
    return load_police_month(jurisdiction, paths, MONTH)


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Town:
    root = tmp_path_factory.mktemp("corpus")
    files = generate_sample_city(root / "city", SampleCityConfig(n_incidents=5000))
    published = pl.read_csv(files.police_csv, infer_schema=False)
    # Only July's rows (occurred and reported), so the file's rows are the month's rows.
    july = pl.col(OCCURRED).str.contains(r"^07/\d\d/2024 ") & pl.col(REPORTED).str.contains(
        r"^07/\d\d/2024 "
    )
    export = published.filter(july)
    baseline = load(root / "baseline", files.areas_geojson, export.write_csv().encode())
    assert baseline.raw_rows == export.height and baseline.balanced
    quarantine = pl.read_parquet(
        root / "baseline/data/quarantine/police/spd" / f"month={MONTH}" / "part.parquet"
    )
    rejected = set(quarantine["_row_number"].to_list())
    accepted = [n for n in range(1, export.height + 1) if n not in rejected]
    assert len(accepted) == baseline.accepted_rows > 100
    return Town(root, files.areas_geojson, export, baseline, accepted)


def assert_as_baseline(result: PoliceLoad, town: Town) -> None:
    assert result.landing_error is None and result.split_error is None
    assert result.raw_rows == town.export.height
    assert (result.accepted_rows, result.reasons) == (
        town.baseline.accepted_rows,
        town.baseline.reasons,
    )


def with_rows_changed(town: Town, rows: list[int], **values: str) -> pl.DataFrame:
    """The export with ``values`` written into the given 1-based rows."""
    index = pl.int_range(1, pl.len() + 1)
    return town.export.with_columns(
        pl.when(index.is_in(rows)).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        for column, value in values.items()
    )


# --- unreadable as a whole: one line naming the file ------------------------------------------


def test_an_empty_file_stops_the_source_naming_it(town: Town, tmp_path: Path) -> None:
    result = load(tmp_path, town.areas, b"")
    assert result.landing_error is not None
    assert re.search(r"export\.csv: source file is empty$", result.landing_error)
    assert result.raw_rows == 0


def test_a_semicolon_file_read_as_commas_stops_the_landing_with_a_hint(
    town: Town, tmp_path: Path
) -> None:
    result = load(tmp_path, town.areas, town.csv(separator=";").encode())
    assert result.landing_error is not None and "\n" not in result.landing_error
    assert result.landing_error.startswith(
        "spd: export.csv: the seattle_spd layout dates rows by "
        "['Offense Start DateTime', 'Report DateTime'], which the file lacks; "
        "the file has one column 'Report Number;Offense ID;"
    )
    assert result.landing_error.endswith("separated by ';'? declare delimiter: ';'")


# --- read as declared ---------------------------------------------------------------------------


def test_header_only_lands_no_rows_and_the_raw_check_says_so(town: Town, tmp_path: Path) -> None:
    header, _ = town.lines()
    result = load(tmp_path, town.areas, f"{header}\n".encode())
    assert result.landing_error is None and result.split_error is None
    assert (result.raw_rows, result.accepted_rows, result.quarantined_rows) == (0, 0, 0)
    severity, description = result.failed_checks()["police_spd_raw_suite"]
    assert (severity, description) == ("ERROR", "row count 0, expected at least 1")


def test_crlf_line_ends_load_as_lf(town: Town, tmp_path: Path) -> None:
    header, rows = town.lines()
    result = load(tmp_path, town.areas, "\r\n".join([header, *rows, ""]).encode())
    assert_as_baseline(result, town)


def test_a_semicolon_file_loads_when_declared(town: Town, tmp_path: Path) -> None:
    data = town.csv(separator=";").encode()
    assert_as_baseline(load(tmp_path, town.areas, data, ", delimiter: ';'"), town)


def test_a_latin1_file_loads_when_declared_and_quarantines_its_accents_when_not(
    town: Town, tmp_path: Path
) -> None:
    accented = town.accepted_rows[:20]
    frame = with_rows_changed(town, accented, **{ADDRESS: "1XX BLOCK OF CAFÉ AVE"})
    data = town.csv(frame).encode("latin-1")

    declared = load(tmp_path / "declared", town.areas, data, ", encoding: latin-1")
    assert_as_baseline(declared, town)

    undeclared = load(tmp_path / "undeclared", town.areas, data)
    assert undeclared.raw_rows == town.export.height and undeclared.balanced
    assert undeclared.reasons - town.baseline.reasons == Counter(row_malformed=20)
    assert undeclared.accepted_rows == town.baseline.accepted_rows - 20


def test_duplicate_headers_land_apart_and_are_reported(town: Town, tmp_path: Path) -> None:
    header, rows = town.lines()
    assert ",Sector," in header
    result = load(
        tmp_path, town.areas, "\n".join([header.replace(",Sector,", ",Beat,"), *rows, ""]).encode()
    )
    assert_as_baseline(result, town)  # the layout reads neither column
    severity, description = result.failed_checks()["police_spd_raw_suite"]
    assert severity == "WARN"
    assert "missing columns: ['Sector']" in description and "'Beat#2'" in description


def test_a_5_mb_field_lands_whole(town: Town, tmp_path: Path) -> None:
    row = town.accepted_rows[0]
    frame = with_rows_changed(town, [row], **{OFFENSE: "x" * 5_000_000})
    result = load(tmp_path, town.areas, town.csv(frame).encode())
    assert_as_baseline(result, town)
    landed = pl.read_parquet(tmp_path / "data/raw/police/spd" / f"month={MONTH}" / "part.parquet")
    assert landed.filter(pl.col("_row_number") == row)[OFFENSE].str.len_bytes().item() == 5_000_000


# --- quarantined with a reason -------------------------------------------------------------------


def test_na_coordinates_are_quarantined_as_missing(town: Town, tmp_path: Path) -> None:
    rows = town.accepted_rows[:15]
    frame = with_rows_changed(town, rows, Longitude="N/A", Latitude="N/A")
    result = load(tmp_path, town.areas, town.csv(frame).encode())
    assert result.raw_rows == town.export.height and result.balanced
    assert result.reasons - town.baseline.reasons == Counter(coordinates_missing=15)


def test_an_undeclared_date_format_is_quarantined_and_fails_acceptance(
    town: Town, tmp_path: Path
) -> None:
    def day_first(column: str) -> pl.Expr:
        parsed = pl.col(column).str.strptime(pl.Datetime, "%m/%d/%Y %I:%M:%S %p", strict=False)
        return parsed.dt.strftime("%d.%m.%Y %H:%M").alias(column)

    frame = town.export.with_columns(day_first(OCCURRED), day_first(REPORTED))
    result = load(tmp_path, town.areas, town.csv(frame).encode())
    assert result.raw_rows == town.export.height and result.balanced
    assert result.accepted_rows == 0
    assert result.reasons["date_unparseable"] > 0.9 * town.export.height
    severity, description = result.failed_checks()["spd_accepted_share"]
    assert severity == "ERROR"
    assert "mostly date_unparseable" in description
    assert re.search(r"example Offense Start DateTime: '\d\d\.07\.2024 \d\d:\d\d'", description)


@pytest.mark.parametrize(
    ("case", "mutate", "problem"),
    [
        ("NUL bytes", lambda row: row.replace(",", ",\x00", 1), "a NUL byte"),
        ("too many fields", lambda row: row + ",surplus", "the header has 17"),
        ("invalid UTF-8", lambda row: row.replace(",", ",\udcff", 1), "not utf-8 text"),
    ],
)
def test_a_malformed_row_is_quarantined_and_the_rest_loads(
    town: Town, tmp_path: Path, case: str, mutate, problem: str
) -> None:
    header, rows = town.lines()
    broken = town.accepted_rows[5]
    rows[broken - 1] = mutate(rows[broken - 1])
    data = "\n".join([header, *rows, ""]).encode("utf-8", "surrogateescape")
    result = load(tmp_path, town.areas, data)
    assert result.raw_rows == town.export.height and result.balanced, case
    assert result.reasons - town.baseline.reasons == Counter(row_malformed=1)
    quarantine = pl.read_parquet(
        tmp_path / "data/quarantine/police/spd" / f"month={MONTH}" / "part.parquet"
    ).filter(pl.col("_reason") == "row_malformed")
    assert quarantine["_row_number"].to_list() == [broken]
    assert problem in quarantine["_malformed"].item()
    assert quarantine[RAW_RECORD_COLUMN].item().split(",")[0] == rows[broken - 1].split(",")[0]


def test_an_open_quote_in_the_last_row_quarantines_it_alone(town: Town, tmp_path: Path) -> None:
    header, rows = town.lines()
    last = '99999999,"never closed,' + ",".join(["x"] * 15)
    result = load(tmp_path, town.areas, "\n".join([header, *rows, last, ""]).encode())
    assert result.raw_rows == town.export.height + 1 and result.balanced
    assert result.reasons - town.baseline.reasons == Counter(row_malformed=1)
    assert result.accepted_rows == town.baseline.accepted_rows
