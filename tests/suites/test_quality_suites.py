"""GX 1.x suites: pass on good batches, fail clearly (and with the right severity) on bad ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crimemap.ingestion.police.layout import builtin_layout
from crimemap.quality import suites as S
from crimemap.quality.layouts import LINEAGE_COLUMNS, SEATTLE_SPD_COLUMNS, BBox
from crimemap.quality.report import write_index

SEATTLE_BBOX = BBox(-122.46, 47.48, -122.22, 47.74)
N = 40


def lineage(n: int) -> dict[str, list]:
    return {
        "_source_file": ["x.csv"] * n,
        "_row_number": list(range(1, n + 1)),
        "_ingested_at": [pd.Timestamp("2024-06-01", tz="UTC")] * n,
        "_load_id": ["load-1"] * n,
    }


def good_police(n: int = N) -> pd.DataFrame:
    data = {c: [""] * n for c in SEATTLE_SPD_COLUMNS}
    data.update(
        {
            "Report Number": [f"2024-{i:06d}" for i in range(n)],
            "Offense ID": [str(10_000 + i) for i in range(n)],
            "Offense Start DateTime": [
                f"05/{1 + i % 28:02d}/2024 0{1 + i % 9}:15:00 PM" for i in range(n)
            ],
            "Offense Code": [("23F", "13A", "90Z", "09")[i % 4] for i in range(n)],
            "Longitude": [f"{-122.40 + i * 0.001:.6f}" for i in range(n)],
            "Latitude": [f"{47.55 + i * 0.001:.6f}" for i in range(n)],
        }
    )
    data.update(lineage(n))
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def police_spec() -> S.SuiteSpec:
    return S.police_raw_suite(
        builtin_layout("seattle_spd"),
        source="seattle_spd",
        bbox=SEATTLE_BBOX,
        min_rows=10,
        max_rows=1_000_000,
    )


def failed_by(outcome: S.SuiteOutcome, expectation: str, column: str | None = None) -> list[dict]:
    return [f for f in outcome.failed if f["expectation"] == expectation and f["column"] == column]


# --- police ------------------------------------------------------------------------------------


def test_police_suite_passes_on_good_data(police_spec: S.SuiteSpec) -> None:
    outcome = S.run_suite(police_spec, good_police())
    assert outcome.failed == []
    assert outcome.success
    assert outcome.n_expectations == len(police_spec.expectations)
    assert not outcome.blocking


def test_renamed_column_fails_as_error_naming_both_columns(police_spec: S.SuiteSpec) -> None:
    df = good_police().rename(columns={"Offense Code": "Offense_Code"})
    outcome = S.run_suite(police_spec, df)
    assert not outcome.success
    assert outcome.severity == "ERROR" and outcome.blocking
    column_set, header = failed_by(outcome, "expect_table_columns_to_match_set")
    assert (column_set["severity"], header["severity"]) == ("ERROR", "WARN")
    assert column_set["message"] == (
        "missing columns: ['Offense Code']; renamed? 'Offense Code' -> 'Offense_Code'"
    )
    assert "extra columns: ['Offense_Code']" in header["message"]
    assert outcome.failed[0] is column_set  # blocking failures first
    # The expectation on the missing column errors, and says why. (GX resolves column names
    # case-insensitively, so only the exact set check catches a change of case.)
    (present,) = failed_by(outcome, "expect_column_values_to_not_be_null", "Offense Code")
    assert "does not exist" in present["message"]


def test_bad_batch_fails_with_warnings_and_counts(police_spec: S.SuiteSpec) -> None:
    df = good_police()
    bad = df.index < N // 2  # half the rows: far above every `mostly` allowance
    df.loc[bad, "Longitude"] = "-118.24"  # Los Angeles: a number, outside the bbox
    df.loc[bad, "Offense Start DateTime"] = " "  # blank counts as missing
    df.loc[0, "Offense ID"] = "  "  # blank counts as missing
    outcome = S.run_suite(police_spec, df)

    assert not outcome.success
    assert outcome.severity == "WARN" and not outcome.blocking
    (lon,) = failed_by(outcome, "expect_column_values_to_be_between", "Longitude")
    assert lon["unexpected_count"] == N // 2
    assert lon["sample"][0] == pytest.approx(-118.24)
    (dates,) = failed_by(outcome, "expect_column_values_to_not_be_null", "Offense Start DateTime")
    assert dates["unexpected_count"] == N // 2
    (ids,) = failed_by(outcome, "expect_column_values_to_not_be_null", "Offense ID")
    assert ids["unexpected_count"] == 1
    assert failed_by(outcome, "expect_column_values_to_be_between", "Latitude") == []


def test_unparseable_coordinates_count_against_mostly(police_spec: S.SuiteSpec) -> None:
    df = good_police()
    df.loc[df.index < N // 5, "Latitude"] = ""  # 20% blank: over the 10% allowance
    outcome = S.run_suite(police_spec, df)
    (lat,) = failed_by(outcome, "expect_column_values_to_not_be_null", "Latitude")
    assert lat["unexpected_count"] == N // 5


def test_within_mostly_still_passes(police_spec: S.SuiteSpec) -> None:
    df = good_police()
    df.loc[0, "Offense Code"] = ""  # 1 of 40 = 2.5% < 5%
    assert S.run_suite(police_spec, df).success


def test_row_count_bounds_are_errors(police_spec: S.SuiteSpec) -> None:
    outcome = S.run_suite(police_spec, good_police().head(0))
    assert outcome.blocking
    (count,) = failed_by(outcome, "expect_table_row_count_to_be_between")
    assert count["message"] == "row count 0, expected between 10 and 1000000"


# --- outputs -----------------------------------------------------------------------------------


def test_validation_json_and_data_docs_are_written(
    police_spec: S.SuiteSpec, tmp_path: Path
) -> None:
    df = good_police()
    df.loc[:, "Offense Code"] = ""  # every code blank: far over the allowance
    outcome = S.run_suite(
        police_spec, df, results_dir=tmp_path / "validations", data_docs_dir=tmp_path / "docs"
    )
    assert outcome.validation_path == tmp_path / "validations" / "police_seattle_spd_raw.json"
    written = json.loads(outcome.validation_path.read_text())
    assert written["success"] is False
    assert len(written["results"]) == len(police_spec.expectations)
    assert outcome.data_docs_path == tmp_path / "docs" / "police_seattle_spd_raw.html"
    page = outcome.data_docs_path.read_text()
    # the blank codes break a WARN expectation: the suite warns
    assert "police_seattle_spd_raw" in page and '<span class="warn">warned</span>' in page
    assert (tmp_path / "docs" / "report.css").is_file()
    index = write_index(tmp_path / "docs", tmp_path / "validations")
    assert 'href="police_seattle_spd_raw.html"' in index.read_text()


def test_metadata_is_plain_json(police_spec: S.SuiteSpec) -> None:
    df = good_police()
    df.loc[df.index < N // 2, "Longitude"] = ""  # NaN samples must not leak into metadata
    meta = S.run_suite(police_spec, df).to_metadata()
    text = json.dumps(meta, allow_nan=False)
    assert json.loads(text)["suite"] == "police_seattle_spd_raw"
    assert meta["n_failed"] == len(meta["failed"]) > 0


def test_read_frame_round_trips_a_raw_parquet(tmp_path: Path) -> None:
    path = tmp_path / "raw.parquet"
    pq.write_table(pa.Table.from_pandas(good_police(), preserve_index=False), path)
    df = S.read_frame(path)
    assert list(df.columns) == [*SEATTLE_SPD_COLUMNS, *LINEAGE_COLUMNS]
    assert len(df) == N
    assert S.read_frame(path, columns=["Longitude"]).shape == (N, 1)


def test_prepare_frame_parses_numbers_and_blanks() -> None:
    spec = S.SuiteSpec("t", (), numeric_columns=("x",), blank_as_null_columns=("k",))
    df = pd.DataFrame(
        {"x": [" 1.5", "abc", "", None], "k": ["a", " ", "", None], "other": list("abcd")}
    )
    out = S.prepare_frame(spec, df)
    assert out["x"].tolist()[0] == 1.5 and out["x"].isna().tolist() == [False, True, True, True]
    assert out["k"].isna().tolist() == [False, True, True, True]
    assert df["x"].tolist()[0] == " 1.5"  # the caller's frame is untouched
    assert S.prepare_frame(spec, df.drop(columns=["x"])).columns.tolist() == ["k", "other"]


def test_importing_suites_does_not_import_great_expectations() -> None:
    code = (
        "import sys, crimemap.quality.suites, crimemap.quality.rules, crimemap.quality.reconcile; "
        "sys.exit(1 if 'great_expectations' in sys.modules else 0)"
    )
    repo = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo, check=False).returncode == 0


def test_severities_map_to_gx() -> None:
    spec = S.police_raw_suite(
        builtin_layout("seattle_spd"), source="seattle_spd", bbox=SEATTLE_BBOX
    )
    suite = S.build_gx_suite(spec)
    got = {
        (e.expectation_type, str(getattr(e, "column", None))): e.severity.value
        for e in suite.expectations
        if e.expectation_type != "expect_table_columns_to_match_set"
    }
    column_sets = sorted(
        (e.exact_match, e.severity.value)
        for e in suite.expectations
        if e.expectation_type == "expect_table_columns_to_match_set"
    )
    # the columns the layout reads block; the rest of the published header only warns
    assert column_sets == [(False, "critical"), (True, "warning")]
    assert got[("expect_column_values_to_not_be_null", "Offense Code")] == "warning"


def test_outcome_from_a_result_dict_is_json_safe() -> None:
    result = {
        "success": False,
        "statistics": {"evaluated_expectations": 2, "success_percent": float("nan")},
        "results": [
            {"success": True, "expectation_config": {"type": "a", "kwargs": {}}},
            {
                "success": False,
                "expectation_config": {
                    "type": "expect_column_values_to_be_between",
                    "kwargs": {"column": "x", "mostly": 0.9},
                    "severity": "warning",
                },
                "result": {
                    "unexpected_count": 2,
                    "unexpected_percent": 50.0,
                    "partial_unexpected_list": [float("nan"), np.float64(1.5), pd.Timestamp(0)],
                },
                "exception_info": {"raised_exception": False},
            },
        ],
    }
    outcome = S.outcome_from_result("s", result)
    assert (outcome.success, outcome.severity, outcome.n_expectations) == (False, "WARN", 2)
    (failure,) = outcome.failed
    assert failure["sample"] == [None, 1.5, "1970-01-01T00:00:00"]
    assert failure["message"] == "2 unexpected values (50%, allowed 10%)"
    json.dumps(outcome.to_metadata(), allow_nan=False)
