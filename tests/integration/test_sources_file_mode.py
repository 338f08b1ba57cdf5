"""A new city declared in YAML alone, every survey and public-record source in file mode, one run.

"Harbour District" analyses neighbourhoods, not tracts: its boundaries are the sample city's
neighbourhood blocks (codes zero-padded, one published in two pieces), its ACS comes on tracts
drawn as a State Plane shapefile and is apportioned by areal interpolation, its facilities are a
GeoJSON export, its 311 requests the sample city's sf311 CSV, and its residents answer a survey
of its own layout naming neighbourhood codes. The sample city's truth, regrouped onto the
neighbourhoods, says what every mart must hold.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import RunRequest, SkipReason, build_sensor_context

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.surveys import inbox_files, inbox_fingerprint
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.sources.surveys import survey_inbox_sensor
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.incidents import build_sample_city
from crimemap.samplecity.records import (
    SAMPLE_FACILITY_TYPE_MAP,
    write_areas_shapefile,
    write_facilities_geojson,
    write_neighbourhoods_geojson,
)
from crimemap.samplecity.settings import SampleCityConfig
from tests.integration.conftest import run_crimemap

pytestmark = pytest.mark.integration

INCIDENTS = 3000
MIN_RESPONSES = 5
CANONICAL_TYPES = {"mental_health", "substance_use", "shelter", "clinic", "youth_services"}
SURVEY_COLUMNS = ("rid", "date", "nbhd", "lon", "lat", "w", "safe_night", "housing")
CITY_YAML = """
name: Harbour District
timezone: America/Los_Angeles
projected_crs: EPSG:32610
police:
  - name: harbour_pd
    layout: seattle_spd
    mode: file
    path: exports/seattle_spd_crime_data.csv
    start_month: 2024-07
boundaries:
  mode: file
  path: exports/neighbourhoods.geojson
  id_field: nbhd_code
  name_field: nbhd_name
  id_kind: code
indicators:
  mode: file
  path: exports/acs_5yr_tract.json
  units: {path: exports/tracts/tracts.shp, id_field: GEOID, name_field: NAME}
  interpolation: area
facilities:
  mode: file
  path: exports/facilities.geojson
  geometry_field: geometry
  type_map: %(type_map)s
service_requests:
  mode: file
  layout: sf311
  path: exports/sf311_cases.csv
  start_month: 2024-07
surveys:
  mode: file
  min_responses: %(min_responses)d
  layout:
    response_id: rid
    submitted: {column: date, formats: ["%%d/%%m/%%Y"]}
    area: nbhd
    area_id_kind: code
    longitude: lon
    latitude: lat
    weight: w
    questions:
      feel_safe_night: {column: safe_night, scale: likert5}
      unmet_need_housing: {column: housing, scale: yes_no, positive: "Yes"}
"""


def area_key(code: str) -> str:
    """A neighbourhood code as the boundaries contract normalizes it ("007" -> "7")."""
    return code.strip().lstrip("0") or "0"


# --- the survey: who answered what, and where each respondent must land -------------------------


@dataclass(frozen=True)
class Respondent:
    rid: str
    nbhd: str = ""  # the code as the respondent wrote it
    at: str = ""  # a neighbourhood code to place the respondent's point in
    weight: str = "1"
    safe_night: str = ""
    housing: str = ""
    area: str | None = None  # the area the respondent belongs to; None: quarantined
    reason: str | None = None


WAVE_1 = (
    # named by code, in every spelling a form collects
    Respondent("r01", nbhd="007", weight="1", safe_night="5", housing="Yes", area="7"),
    Respondent("r02", nbhd="7", weight="2", safe_night="4", housing="No", area="7"),
    Respondent("r03", nbhd=" 07 ", weight="1", safe_night="2", housing="Yes", area="7"),
    Respondent("r04", nbhd="0007", weight="0.5", safe_night="5", area="7"),
    Respondent("r05", nbhd="007", weight="1", safe_night="1", housing="no", area="7"),
    Respondent("r06", nbhd="7", weight="1.5", safe_night="3", housing="YES", area="7"),
    # placed by their point only
    Respondent("r07", at="012", weight="1", safe_night="4", housing="No", area="12"),
    Respondent("r08", at="012", weight="3", safe_night="2", housing="No", area="12"),
    Respondent("r09", at="012", weight="1", safe_night="5", housing="Yes", area="12"),
    Respondent("r10", at="012", weight="1", safe_night="4", area="12"),
    Respondent("r11", at="012", weight="2", safe_night="1", housing="No", area="12"),
    # too few to publish a share
    Respondent("r12", nbhd="003", safe_night="5", housing="Yes", area="3"),
    Respondent("r13", nbhd="3", safe_night="4", housing="No", area="3"),
    Respondent("r14", nbhd="003", safe_night="1", area="3"),
    # rejected
    Respondent("x01", nbhd="999", safe_night="4", reason="area_unknown"),
    Respondent("x02", safe_night="4", reason="coordinates_missing"),
    Respondent("x03", nbhd="007", safe_night="9", reason="value_invalid"),
    Respondent("r02", nbhd="012", safe_night="1", reason="duplicate_record"),
)
WAVE_2 = (
    Respondent("w01", nbhd="007", safe_night="4", area="7"),
    Respondent("w02", at="012", safe_night="2", area="12"),
)


def write_survey(path: Path, respondents: tuple[Respondent, ...], centres: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(SURVEY_COLUMNS)
        for r in respondents:
            lon, lat = (f"{v:.7f}" for v in centres[r.at]) if r.at else ("", "")
            row = (r.rid, "15/03/2025", r.nbhd, lon, lat, r.weight, r.safe_night, r.housing)
            writer.writerow(row)


def neighbourhood_centres(geojson: Path) -> dict[str, tuple[float, float]]:
    """A point well inside each neighbourhood: the mean of its (first) block's corners."""
    centres: dict[str, tuple[float, float]] = {}
    for feature in json.loads(geojson.read_text())["features"]:
        code = feature["properties"]["nbhd_code"]
        ring = feature["geometry"]["coordinates"][0][:-1]
        centres.setdefault(
            code, (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))
        )
    return centres


def expected_shares(respondents: tuple[Respondent, ...]) -> dict[tuple[str, str], tuple]:
    """(area, question) -> (respondents who answered, weighted share positive) of the accepted."""
    answers: dict[tuple[str, str], list[tuple[float, bool]]] = defaultdict(list)
    for r in respondents:
        if r.area is None:
            continue
        if r.safe_night:
            answers[r.area, "feel_safe_night"].append((float(r.weight), int(r.safe_night) >= 4))
        if r.housing:
            answers[r.area, "unmet_need_housing"].append(
                (float(r.weight), r.housing.lower() == "yes")
            )
    return {
        key: (len(given), sum(w for w, yes in given if yes) / sum(w for w, _ in given))
        for key, given in answers.items()
    }


# --- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    root: Path
    exports: Path
    data_dir: Path
    config_path: Path
    truth: dict[str, Any]
    membership: dict[str, list[str]]  # neighbourhood code -> tract GEOIDs
    centres: dict[str, tuple[float, float]]

    def warehouse(self) -> duckdb.DuckDBPyConnection:
        return connect(self.data_dir / "warehouse.duckdb", read_only=True)

    def neighbourhood_of_tract(self) -> dict[str, str]:
        return {g: area_key(code) for code, tracts in self.membership.items() for g in tracts}


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    root = tmp_path_factory.mktemp("harbour")
    exports = root / "exports"
    config = SampleCityConfig(n_incidents=INCIDENTS)
    files = generate_sample_city(exports, config)
    city = build_sample_city(config)
    membership = write_neighbourhoods_geojson(city, exports / "neighbourhoods.geojson")
    write_areas_shapefile(city, exports / "tracts" / "tracts.shp")
    write_facilities_geojson(city, exports / "facilities.geojson")
    config_path = root / "harbour.yml"
    config_path.write_text(
        CITY_YAML
        % {"type_map": json.dumps(SAMPLE_FACILITY_TYPE_MAP), "min_responses": MIN_RESPONSES}
    )
    data_dir = root / "data"
    centres = neighbourhood_centres(exports / "neighbourhoods.geojson")
    write_survey(data_dir / "inbox" / "surveys" / "wave_1.csv", WAVE_1, centres)
    completed = run_crimemap(data_dir, "run", "--config", str(config_path), incidents=INCIDENTS)
    if completed.returncode != 0:
        pytest.fail(f"crimemap run failed:\n{completed.stdout[-4000:]}\n{completed.stderr[-8000:]}")
    truth = json.loads(files.truth_json.read_text())
    return District(root, exports, data_dir, config_path, truth, membership, centres)


# --- tests -------------------------------------------------------------------------------------


def test_neighbourhoods_are_merged_and_keyed_by_normalized_code(district: District) -> None:
    with district.warehouse() as con:
        rows = con.execute(
            "SELECT area_id, area_name, source_rows, indicator_method FROM dim_area"
        ).fetchall()
    got = {area_id: (name, pieces, method) for area_id, name, pieces, method in rows}
    assert len(rows) == len(got) == len(district.membership) == 30
    assert set(got) == {area_key(code) for code in district.membership}
    assert "007" not in got
    name_7, pieces_7, _ = got["7"]
    assert pieces_7 == 2  # published as two features, one area
    assert all(pieces == 1 for area_id, (_, pieces, _) in got.items() if area_id != "7")
    published = json.loads((district.exports / "neighbourhoods.geojson").read_text())
    properties = [f["properties"] for f in published["features"]]
    names = {p["nbhd_code"]: p["nbhd_name"] for p in properties}
    assert name_7 == names["007"]
    assert {method for _, _, method in got.values()} == {"area"}


def lost_tracts(district: District) -> set[str]:
    """Tracts whose ACS row is quarantined. The file's second copy of a tract is dropped and
    the first kept, so only the tract with an invalid estimate has no indicators."""
    defects = district.truth["acs"]["defects"]
    lost = {g for g, reason in defects.items() if reason != "duplicate_record"}
    assert len(lost) == 1 and len(defects) == 2
    return lost


def test_neighbourhood_population_is_the_sum_of_its_tracts(district: District) -> None:
    acs = district.truth["acs"]
    lost = lost_tracts(district)
    with district.warehouse() as con:
        got = dict(con.execute("SELECT area_id, population FROM dim_area").fetchall())
    unknown = []
    for code, tracts in district.membership.items():
        if any(g in lost for g in tracts):
            # a tract without indicators makes its neighbourhood's count unknown, not smaller
            assert got[area_key(code)] is None, code
            unknown.append(code)
        else:
            expected = sum(acs["indicators"][g]["population"] for g in tracts)
            assert got[area_key(code)] == expected, code
    assert len(unknown) == 1


def test_only_a_neighbourhoods_own_tracts_feed_its_indicators(district: District) -> None:
    lost = lost_tracts(district)
    not_computed = set(district.truth["acs"]["not_computed"])
    assert len(not_computed) == 1
    with district.warehouse() as con:
        got = {
            area_id: (units, income is None)
            for area_id, units, income in con.execute(
                "SELECT area_id, indicator_units, median_household_income FROM dim_area"
            ).fetchall()
        }
    for code, tracts in district.membership.items():
        income_unknown = any(g in not_computed or g in lost for g in tracts)
        assert got[area_key(code)] == (len(tracts), income_unknown), code


def test_facilities_have_canonical_types_in_their_neighbourhood(district: District) -> None:
    facilities = district.truth["facilities"]
    to_area = district.neighbourhood_of_tract()
    with district.warehouse() as con:
        got = {
            fid: (kind, area_id)
            for fid, kind, area_id in con.execute(
                "SELECT facility_id, facility_type, area_id FROM dim_facility"
            ).fetchall()
        }
    expected = {
        fid: (f["type"], to_area[f["area_id"]])
        for fid, f in facilities.items()
        if f["defect"] is None
    }
    assert got == expected
    assert {kind for kind, _ in got.values()} <= CANONICAL_TYPES
    pattern = district.data_dir / "quarantine" / "facilities" / "facilities.parquet"
    with duckdb.connect() as con:
        quarantined = dict(
            con.execute(f"SELECT facility_id, _reason FROM read_parquet('{pattern}')").fetchall()
        )
    assert quarantined == {fid: f["defect"] for fid, f in facilities.items() if f["defect"]}


def test_service_requests_regroup_onto_neighbourhoods(district: District) -> None:
    truth_file = district.exports / "truth_service_requests.parquet"
    to_area = district.neighbourhood_of_tract()
    with duckdb.connect() as con:
        expected: dict[tuple[str, str, str], int] = defaultdict(int)
        for tract, month, kind, n in con.execute(
            f"SELECT area_id, month, request_type, requests FROM read_parquet('{truth_file}')"
        ).fetchall():
            expected[to_area[tract], month, kind] += n
    with district.warehouse() as con:
        got = {
            (area_id, month, kind): n
            for area_id, month, kind, n in con.execute(
                "SELECT area_id, strftime(month, '%Y-%m'), request_type, requests "
                "FROM service_requests_area_month WHERE requests > 0"
            ).fetchall()
        }
        total = con.execute("SELECT sum(requests) FROM service_requests_area_month").fetchone()[0]
    assert total == district.truth["service_requests"]["accepted_rows"]
    assert got == dict(expected)


def test_survey_answers_aggregate_per_neighbourhood(district: District) -> None:
    with district.warehouse() as con:
        rows = con.execute(
            "SELECT area_id, question, area_respondents, respondents, suppressed, weighted_share "
            "FROM survey_area_responses WHERE survey = 'wave_1'"
        ).fetchall()
    got = {(area, question): rest for area, question, *rest in rows}
    expected = expected_shares(WAVE_1)
    assert set(got) == set(expected)
    area_respondents = defaultdict(int)
    for r in WAVE_1:
        if r.area is not None:
            area_respondents[r.area] += 1
    for (area, question), (answered, share) in expected.items():
        respondents_in_area, respondents, suppressed, weighted_share = got[area, question]
        assert (respondents_in_area, respondents) == (area_respondents[area], answered)
        if answered < MIN_RESPONSES:
            assert suppressed and weighted_share is None
        else:
            assert not suppressed
            assert weighted_share == pytest.approx(share, rel=1e-12)
    assert got["3", "feel_safe_night"][2] and not got["7", "feel_safe_night"][2]

    pattern = district.data_dir / "quarantine" / "surveys" / "*.parquet"
    with duckdb.connect() as con:
        quarantined = con.execute(f"SELECT rid, _reason FROM read_parquet('{pattern}')").fetchall()
    assert sorted(quarantined) == sorted((r.rid, r.reason) for r in WAVE_1 if r.reason)


def test_a_new_survey_in_the_inbox_starts_the_intake_once(
    district: District, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(district.data_dir))
    inbox = district.data_dir / "inbox" / "surveys"
    watch = survey_inbox_sensor(load_jurisdiction(district.config_path))
    seen = inbox_fingerprint(inbox_files(inbox))  # the inbox the run picked up
    resources = {"data_dir": DataDirectory(root=str(district.data_dir))}

    unchanged = watch.evaluate_tick(build_sensor_context(cursor=seen, resources=resources))
    assert not unchanged.run_requests and unchanged.skip_message
    # The UI starts its sensor afresh (no cursor): the inbox the run landed starts nothing.
    fresh = watch.evaluate_tick(build_sensor_context(cursor=None, resources=resources))
    assert not fresh.run_requests and "as last landed" in (fresh.skip_message or "")

    write_survey(inbox / "wave_2.csv", WAVE_2, district.centres)
    (inbox / ".wave_3.csv.part").write_text("rid,date\n")  # an upload in progress: not a survey
    first = build_sensor_context(cursor=seen, resources=resources)
    tick = watch.evaluate_tick(first)
    (request,) = tick.run_requests
    assert isinstance(request, RunRequest)
    assert request.run_key and request.run_key != seen
    assert request.tags["crimemap/inbox_files"] == "wave_1.csv,wave_2.csv"
    assert tick.cursor == request.run_key

    again = watch(build_sensor_context(cursor=tick.cursor, resources=resources))
    assert isinstance(again, SkipReason)
