"""The survey and public-record sources end to end on the sample city, checked against its truth:
every planted defect quarantined with its reason, the rest conformed and in the marts with the
values the generator drew."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from crimemap.core.duckdb_spatial import connect
from tests.integration.conftest import PipelineRun

pytestmark = pytest.mark.integration


def truth(run: PipelineRun) -> dict[str, Any]:
    return json.loads((run.sample_dir / "truth.json").read_text())


def quarantined(data_dir: Path, source: str, key: str) -> dict[str, str]:
    pattern = data_dir / "quarantine" / source / "*.parquet"
    with duckdb.connect() as con:
        query = f"SELECT trim(\"{key}\"), _reason FROM read_parquet('{pattern}')"
        return dict(con.execute(query).fetchall())


def warehouse(run: PipelineRun) -> duckdb.DuckDBPyConnection:
    return connect(run.data_dir / "warehouse.duckdb", read_only=True)


def test_every_source_quarantines_exactly_its_planted_defects(pipeline_run: PipelineRun) -> None:
    known = truth(pipeline_run)
    data = pipeline_run.data_dir
    acs = quarantined(data, "area_indicators", "tract")
    assert {f"53999{t:0>6}": r for t, r in acs.items()} == known["acs"]["defects"]
    assert quarantined(data, "facilities", "facility_id") == {
        fid: f["defect"] for fid, f in known["facilities"].items() if f["defect"]
    }
    assert (
        quarantined(data, "service_requests", "service_request_id")
        == (known["service_requests"]["defects"])
    )
    assert quarantined(data, "surveys", "response_id") == known["surveys"]["defects"]
    assert quarantined(data, "areas", "GEOID") == {}


def test_rows_reconcile_for_every_source(pipeline_run: PipelineRun) -> None:
    data = pipeline_run.data_dir
    with duckdb.connect() as con:

        def count(sql: str) -> int:
            return con.execute(sql).fetchone()[0]

        for source in ("areas", "area_indicators", "facilities", "service_requests"):
            raw = count(f"SELECT count(*) FROM '{data}/raw/{source}/{source}.parquet'")
            rejected = count(f"SELECT count(*) FROM '{data}/quarantine/{source}/{source}.parquet'")
            accepted = count(
                f"SELECT count(DISTINCT _row_number) "
                f"FROM '{data}/conformed/{source}/{source}.parquet'"
            )
            assert raw == accepted + rejected, source
        raw = count(f"SELECT count(*) FROM '{data}/raw/surveys/*.parquet'")
        rejected = count(f"SELECT count(*) FROM '{data}/quarantine/surveys/*.parquet'")
        accepted = count(
            "SELECT count(DISTINCT (survey, _row_number)) "
            f"FROM '{data}/conformed/surveys/surveys.parquet'"
        )
        assert raw == accepted + rejected


def test_dim_area_carries_the_drawn_indicators_and_flags(pipeline_run: PipelineRun) -> None:
    acs = truth(pipeline_run)["acs"]
    with warehouse(pipeline_run) as con:
        got = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT area_id, population, poverty_rate, median_household_income, "
                "share_under_18, median_household_income_unreliable FROM dim_area"
            ).fetchall()
        }
    assert len(got) == 120
    checked = 0
    for geoid, expected in acs["indicators"].items():
        if geoid in acs["defects"]:
            continue  # quarantined: the area keeps no indicators
        population, poverty, income, under_18, income_unreliable = got[geoid]
        assert population == expected["population"]
        assert poverty == pytest.approx(expected["poverty_rate"], rel=1e-9)
        assert under_18 == pytest.approx(expected["share_under_18"], rel=1e-9)
        if expected["median_household_income"] is None:
            assert income is None and income_unreliable
        else:
            assert income == expected["median_household_income"]
            unreliable = "median_household_income" in acs["unreliable"].get(geoid, [])
            assert income_unreliable == unreliable
        checked += 1
    assert checked >= 118


def test_facilities_have_canonical_types_and_true_areas(pipeline_run: PipelineRun) -> None:
    facilities = truth(pipeline_run)["facilities"]
    with warehouse(pipeline_run) as con:
        got = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT facility_id, facility_type, area_id FROM dim_facility"
            ).fetchall()
        }
    expected = {
        fid: (f["type"], f["area_id"]) for fid, f in facilities.items() if f["defect"] is None
    }
    assert got == expected


def test_service_requests_mart_matches_the_drawn_counts(pipeline_run: PipelineRun) -> None:
    truth_file = pipeline_run.sample_dir / "truth_service_requests.parquet"
    with warehouse(pipeline_run) as con:
        differences = con.execute(
            f"""
            WITH expected AS (
                SELECT area_id, month, request_type, requests FROM read_parquet('{truth_file}')
            ),
            got AS (
                SELECT area_id, strftime(month, '%Y-%m') AS month, request_type, requests
                FROM service_requests_area_month WHERE requests > 0
            )
            SELECT count(*) FROM (
                (SELECT * FROM expected EXCEPT SELECT * FROM got)
                UNION ALL
                (SELECT * FROM got EXCEPT SELECT * FROM expected)
            )
            """
        ).fetchone()[0]
        total = con.execute("SELECT sum(requests) FROM service_requests_area_month").fetchone()
    assert differences == 0
    assert total[0] == truth(pipeline_run)["service_requests"]["accepted_rows"]


def test_survey_shares_and_suppression_match_the_truth(pipeline_run: PipelineRun) -> None:
    areas = truth(pipeline_run)["surveys"]["areas"]
    with warehouse(pipeline_run) as con:
        got = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT area_id, area_respondents, respondents, suppressed, weighted_share "
                "FROM survey_area_responses WHERE question = 'feel_safe_night'"
            ).fetchall()
        }
    suppressed = 0
    for geoid, expected in areas.items():
        area_respondents, answered, is_suppressed, share = got[geoid]
        assert area_respondents == expected["respondents"]
        assert answered <= area_respondents
        if answered < 10:
            assert is_suppressed and share is None
            suppressed += 1
        else:
            assert not is_suppressed
            assert share == pytest.approx(expected["feel_safe_night_share"], rel=1e-9)
    assert suppressed >= 1
