"""The seeded sample city: determinism, geometry, planted defects and planted patterns."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.facilities import FACILITY_TYPES
from crimemap.ingestion.layouts import (
    FACILITY_COLUMNS,
    SEATTLE_SPD_COLUMNS,
    SEATTLE_SPD_DATETIME_FORMAT,
)
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.records import SAMPLE_FACILITY_TYPE_MAP
from crimemap.samplecity.settings import (
    ACS_COLUMNS,
    DEFECT_REASONS,
    NIBRS_CODES,
    NIBRS_OFFENSES,
    SENSITIVE_CODES,
    SampleCityConfig,
    SampleCityFiles,
)

CONFIG = SampleCityConfig(n_incidents=2_000)
EDGE_TOLERANCE_DEG = 1e-6
# The ACS columns published before the whole table set, for CONFIG's seed: sha256 of one
# "|"-joined line per tract (file order, first copy), with the not-computed median blanked.
LEGACY_ACS_COLUMNS = (
    "NAME",
    "B01003_001E",
    "B17001_001E",
    "B17001_002E",
    "B23025_003E",
    "B23025_005E",
    "B19013_001E",
    "state",
    "county",
    "tract",
)
LEGACY_ACS_DIGEST = "0fd0fa18062a8dcec3ee7beae8983ca5eea95d7a6194053a76b44bfd4099ce48"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> SampleCityFiles:
    return generate_sample_city(tmp_path_factory.mktemp("city"), CONFIG)


@pytest.fixture(scope="module")
def police(city: SampleCityFiles) -> pl.DataFrame:
    """Police CSV as published (strings) joined to the truth, row by row."""
    raw = pl.read_csv(city.police_csv, infer_schema=False)
    truth = pl.read_parquet(city.truth_incidents)
    assert raw.height == truth.height
    return pl.concat([raw, truth], how="horizontal").with_columns(
        pl.col("Offense Start DateTime")
        .str.strptime(pl.Datetime, SEATTLE_SPD_DATETIME_FORMAT, strict=False)
        .alias("start"),
        pl.col("Report DateTime")
        .str.strptime(pl.Datetime, SEATTLE_SPD_DATETIME_FORMAT, strict=False)
        .alias("reported"),
        pl.col("Offense End DateTime")
        .str.strptime(pl.Datetime, SEATTLE_SPD_DATETIME_FORMAT, strict=False)
        .alias("ended"),
        pl.col("Longitude").cast(pl.Float64, strict=False).alias("lon"),
        pl.col("Latitude").cast(pl.Float64, strict=False).alias("lat"),
    )


@pytest.fixture(scope="module")
def clean(police: pl.DataFrame) -> pl.DataFrame:
    return police.filter(pl.col("defect").is_null())


@pytest.fixture(scope="module")
def truth(city: SampleCityFiles) -> dict:
    return json.loads(city.truth_json.read_text())


@pytest.fixture(scope="module")
def areas(city: SampleCityFiles) -> list[dict]:
    return json.loads(city.areas_geojson.read_text())["features"]


@pytest.fixture(scope="module")
def con(
    tmp_path_factory: pytest.TempPathFactory, areas: list[dict], police: pl.DataFrame
) -> duckdb.DuckDBPyConnection:
    con = connect(extension_directory=tmp_path_factory.mktemp("duckdb_ext"))
    area_rows = pl.DataFrame(
        {
            "geoid": [f["properties"]["GEOID"] for f in areas],
            "geojson": [json.dumps(f["geometry"]) for f in areas],
        }
    )
    points = police.select("row_number", "defect", "area_id", "on_edge", "lon", "lat")
    con.register("area_rows", area_rows)
    con.register("points", points)
    con.execute(
        "create table areas as select geoid, ST_GeomFromGeoJSON(geojson) geom from area_rows"
    )
    con.execute(
        "create table incidents as select *, ST_Point(lon, lat) geom from points "
        "where lon is not null and lat is not null"
    )
    return con


def spearman(a: pl.Series, b: pl.Series) -> float:
    return float(np.corrcoef(a.rank().to_numpy(), b.rank().to_numpy())[0, 1])


# --------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(city: SampleCityFiles, tmp_path: Path) -> None:
    again = generate_sample_city(tmp_path / "again", CONFIG)
    for field in dataclasses.fields(SampleCityFiles):
        first, second = getattr(city, field.name), getattr(again, field.name)
        assert first.name == second.name
        assert first.read_bytes() == second.read_bytes(), field.name


def test_other_seed_differs_and_incident_count_keeps_geography(
    city: SampleCityFiles, tmp_path: Path
) -> None:
    other = generate_sample_city(
        tmp_path / "seed", dataclasses.replace(CONFIG, seed=CONFIG.seed + 1)
    )
    assert other.police_csv.read_bytes() != city.police_csv.read_bytes()
    assert other.areas_geojson.read_bytes() != city.areas_geojson.read_bytes()
    # Areas, indicators, facilities, survey and 311 come from their own streams of the seed.
    smaller = generate_sample_city(tmp_path / "small", dataclasses.replace(CONFIG, n_incidents=300))
    for name in (
        "areas_geojson",
        "acs_json",
        "facilities_csv",
        "survey_csv",
        "service_requests_csv",
        "truth_service_requests",
    ):
        assert getattr(smaller, name).read_bytes() == getattr(city, name).read_bytes(), name


def test_file_names_follow_the_contract(city: SampleCityFiles) -> None:
    assert {p.name for p in (getattr(city, f.name) for f in dataclasses.fields(city))} == {
        "seattle_spd_crime_data.csv",
        "areas.geojson",
        "acs_5yr_tract.json",
        "facilities.csv",
        "resident_survey_2025.csv",
        "sf311_cases.csv",
        "truth.json",
        "truth_incidents.parquet",
        "truth_service_requests.parquet",
    }
    assert sorted(p.name for p in city.police_csv.parent.iterdir()) == sorted(
        p.name for p in (getattr(city, f.name) for f in dataclasses.fields(city))
    )


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="first day"):
        SampleCityConfig(first_month=date(2024, 7, 2))
    with pytest.raises(ValueError, match="defect_rate"):
        SampleCityConfig(defect_rate=0.9)


# Areas ---------------------------------------------------------------------------------------


def test_areas_are_closed_ccw_rings_with_tract_ids(areas: list[dict]) -> None:
    assert len(areas) == CONFIG.grid_cols * CONFIG.grid_rows >= 100
    geoids = [f["properties"]["GEOID"] for f in areas]
    assert len(set(geoids)) == len(geoids)
    assert all(len(g) == 11 and g.isdigit() and g.startswith("53999") for g in geoids)
    assert areas[0]["properties"] == {"GEOID": "53999000100", "NAME": "Census Tract 1"}
    vertices: set[tuple[float, float]] = set()
    for feature in areas:
        assert feature["geometry"]["type"] == "Polygon"
        (ring,) = feature["geometry"]["coordinates"]
        assert ring[0] == ring[-1] and len(ring) == 5
        x, y = np.array(ring).T
        assert 0.5 * np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]) > 0  # counter-clockwise
        assert all(round(v, 7) == v for v in (*x, *y))
        assert np.all(np.abs(x + 122.33) < 0.2) and np.all(np.abs(y - 47.6) < 0.2)
        vertices.update(zip(x.tolist(), y.tolist(), strict=True))
    # Neighbours share vertices exactly: one vertex per grid node.
    assert len(vertices) == (CONFIG.grid_cols + 1) * (CONFIG.grid_rows + 1)


def test_areas_tile_the_city_without_overlap(con: duckdb.DuckDBPyConnection) -> None:
    total, union, valid = con.sql(
        "select sum(ST_Area(geom)), ST_Area(ST_Union_Agg(geom)), bool_and(ST_IsValid(geom)) "
        "from areas"
    ).fetchone()
    assert valid
    assert union == pytest.approx(total, rel=1e-9)
    (overlap,) = con.sql(
        "select coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom))), 0) from areas a "
        "join areas b on a.geoid < b.geoid and ST_Intersects(a.geom, b.geom)"
    ).fetchone()
    assert overlap < 1e-9 * total


# Police incidents ----------------------------------------------------------------------------


def test_police_csv_has_the_seattle_layout(city: SampleCityFiles, police: pl.DataFrame) -> None:
    header = city.police_csv.read_text().splitlines()[0]
    assert header == ",".join(SEATTLE_SPD_COLUMNS)
    assert police.height == CONFIG.n_incidents
    assert police.get_column("row_number").to_list() == list(range(1, CONFIG.n_incidents + 1))


def test_defect_counts_match_the_csv(police: pl.DataFrame, truth: dict) -> None:
    assert set(truth["defects"]) == set(DEFECT_REASONS)
    assert sum(truth["defects"].values()) == round(CONFIG.defect_rate * CONFIG.n_incidents)
    assert all(count > 0 for count in truth["defects"].values())
    first_copy = pl.col("Offense ID").is_first_distinct()
    lon, lat = pl.col("Longitude"), pl.col("Latitude")
    rules = {
        "coordinates_zero": lon.is_in(["0", "0.0"]) & lat.is_in(["0", "0.0"]),
        "coordinates_missing": lon.is_null() & lat.is_null(),
        # the city spans about +-0.1 deg of longitude and +-0.06 of latitude around its centre
        "out_of_jurisdiction": (pl.col("lon") != 0)
        & ((pl.col("lon") + 122.33).abs().gt(0.12) | (pl.col("lat") - 47.6).abs().gt(0.07)),
        "duplicate_record": ~first_copy,
        "date_unparseable": pl.col("start").is_null(),
        "date_future": pl.col("start").dt.year() >= 2099,
        "offense_code_unknown": ~pl.col("Offense Code").is_in(sorted(NIBRS_CODES)),
    }
    flags = police.select(
        "defect", *(rule.fill_null(False).alias(name) for name, rule in rules.items())
    )
    for reason in DEFECT_REASONS:
        flagged = flags.filter(pl.col(reason))
        assert flagged.height == truth["defects"][reason], reason
        assert flagged.get_column("defect").to_list() == [reason] * flagged.height, reason
    # Every defective row breaks exactly one rule; clean rows break none.
    broken = flags.select(pl.sum_horizontal(*rules)).to_series()
    assert (broken == flags.get_column("defect").is_not_null().cast(pl.UInt32)).all()


def test_duplicates_copy_an_earlier_clean_row(police: pl.DataFrame) -> None:
    columns = list(SEATTLE_SPD_COLUMNS)
    dups = police.filter(pl.col("defect") == "duplicate_record")
    originals = police.filter(
        pl.col("Offense ID").is_in(dups.get_column("Offense ID").implode())
        & pl.col("defect").is_null()
    )
    assert originals.height == dups.get_column("Offense ID").n_unique()
    joined = dups.join(originals, on="Offense ID", suffix="_orig")
    assert joined.height == dups.height
    assert (joined.get_column("row_number_orig") < joined.get_column("row_number")).all()
    for column in columns:
        if column != "Offense ID":
            assert joined.get_column(column).equals(joined.get_column(f"{column}_orig")), column


def test_clean_rows_break_no_rule(clean: pl.DataFrame) -> None:
    assert clean.get_column("Report Number").str.contains(r"^20\d\d-\d{6}$").all()
    assert clean.get_column("Offense ID").str.contains(r"^\d{10}$").all()
    assert clean.get_column("Offense ID").n_unique() == clean.height
    assert clean.get_column("start").null_count() == 0
    assert clean.get_column("reported").null_count() == 0
    first = datetime(2024, 7, 1)
    assert clean.get_column("start").min() >= first
    assert clean.get_column("start").max() < datetime(2026, 7, 1)
    assert (clean.get_column("reported") >= clean.get_column("start")).all()
    ended = clean.filter(pl.col("Offense End DateTime").is_not_null())
    assert 0.05 < ended.height / clean.height < 0.4  # blank for most rows
    assert ended.get_column("ended").null_count() == 0
    assert (ended.get_column("ended") >= ended.get_column("start")).all()
    assert (ended.get_column("ended") <= ended.get_column("reported")).all()
    assert clean.get_column("Offense Code").is_in(sorted(NIBRS_CODES)).all()
    # Coordinates written with 6-9 decimals.
    for column in ("Longitude", "Latitude"):
        decimals = clean.get_column(column).str.split(".").list.get(1).str.len_chars()
        assert decimals.min() >= 6 and decimals.max() <= 9
    for column in ("Precinct", "Sector", "Beat", "MCPP", "100 Block Address"):
        assert clean.get_column(column).null_count() == 0, column
    assert clean.get_column("100 Block Address").str.contains(r"XX BLOCK OF | / ").all()


def test_offense_attributes_follow_nibrs(police: pl.DataFrame) -> None:
    catalogue = pl.DataFrame(
        {
            "Offense Code": [o.code for o in NIBRS_OFFENSES],
            "Group A B": [o.group for o in NIBRS_OFFENSES],
            "Crime Against Category": [o.crime_against for o in NIBRS_OFFENSES],
            "Offense Parent Group": [o.parent_group for o in NIBRS_OFFENSES],
            "Offense": [o.name for o in NIBRS_OFFENSES],
        }
    )
    known = police.filter(pl.col("Offense Code").is_in(sorted(NIBRS_CODES)))
    matched = known.join(catalogue, on=list(catalogue.columns), how="semi")
    assert matched.height == known.height
    assert set(known.get_column("Crime Against Category")) == {"PERSON", "PROPERTY", "SOCIETY"}
    sensitive = known.get_column("Offense Code").is_in(sorted(SENSITIVE_CODES)).mean()
    assert 0.002 < sensitive < 0.03


def test_some_reports_carry_several_offenses(clean: pl.DataFrame, truth: dict) -> None:
    sizes = clean.group_by("Report Number").len().get_column("len")
    assert sizes.max() <= 3
    multi_share = (sizes > 1).mean()
    assert 0.05 < multi_share < 0.16
    assert truth["counts"]["reports"] < truth["counts"]["rows"]
    shared = ["Offense Start DateTime", "Report DateTime", "Longitude", "Latitude"]
    assert (
        clean.group_by("Report Number")
        .agg(pl.col(shared).n_unique())
        .select(pl.max_horizontal(shared))
        .to_series()
        .max()
        == 1
    )


def test_summer_peak(clean: pl.DataFrame) -> None:
    month = clean.get_column("start").dt.month()
    summer, winter = month.is_in([6, 7, 8]).sum(), month.is_in([12, 1, 2]).sum()
    assert summer > 1.2 * winter


# Spatial truth -------------------------------------------------------------------------------


def test_clean_points_lie_inside_their_truth_area(
    con: duckdb.DuckDBPyConnection, clean: pl.DataFrame
) -> None:
    inside, covering, n = con.sql(
        """
        select count(*) filter (where ST_Covers(a.geom, i.geom)),
               max((select count(*) from areas b where ST_Covers(b.geom, i.geom))),
               count(*)
        from incidents i join areas a on a.geoid = i.area_id
        where i.defect is null and not i.on_edge
        """
    ).fetchone()
    assert n == clean.filter(~pl.col("on_edge")).height
    assert inside == n
    assert covering == 1


def test_on_edge_points_lie_on_a_shared_edge(
    con: duckdb.DuckDBPyConnection, clean: pl.DataFrame
) -> None:
    share = clean.get_column("on_edge").mean()
    assert 0.02 < share < 0.09
    rows = con.sql(
        f"""
        select i.row_number,
               ST_Distance(i.geom, ST_Boundary(a.geom)) as to_own_edge,
               (select count(*) from areas b
                where b.geoid <> a.geoid and ST_Distance(b.geom, i.geom) < {EDGE_TOLERANCE_DEG})
                 as neighbours
        from incidents i join areas a on a.geoid = i.area_id
        where i.defect is null and i.on_edge
        """
    ).pl()
    assert rows.height == clean.get_column("on_edge").sum()
    assert (rows.get_column("to_own_edge") < EDGE_TOLERANCE_DEG).all()
    assert (rows.get_column("neighbours") >= 1).all()


def test_hotspots_are_denser_than_the_rest_of_the_city(
    clean: pl.DataFrame, truth: dict, areas: list[dict]
) -> None:
    assert 4 <= len(truth["hotspots"]) <= 6
    assert sum(h["share"] for h in truth["hotspots"]) == pytest.approx(0.3, abs=0.01)
    city_km2 = sum(_ring_area_km2(f["geometry"]["coordinates"][0]) for f in areas)
    city_density = clean.height / city_km2
    m_per_deg_lon = 111_320 * math.cos(math.radians(47.6))
    for h in truth["hotspots"]:
        assert 150 <= h["radius_m"] <= 400
        dx = (clean.get_column("lon") - h["lon"]) * m_per_deg_lon
        dy = (clean.get_column("lat") - h["lat"]) * 110_574
        inside = ((dx**2 + dy**2) <= h["radius_m"] ** 2).sum()
        density = inside / (math.pi * (h["radius_m"] / 1000) ** 2)
        assert density > 5 * city_density, h["hotspot_id"]
    planted = clean.get_column("hotspot_id").is_not_null().mean()
    assert 0.2 < planted < 0.4


def _ring_area_km2(ring: list[list[float]]) -> float:
    x, y = np.array(ring).T
    x = x * 111.320 * math.cos(math.radians(47.6))
    y = y * 110.574
    return float(0.5 * abs(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1])))


# Indicators and facilities -------------------------------------------------------------------


def acs_frame(path: Path) -> pl.DataFrame:
    rows = json.loads(path.read_text())
    return pl.DataFrame(rows[1:], schema=rows[0], orient="row").with_columns(
        (pl.col("state") + pl.col("county") + pl.col("tract")).alias("area_id")
    )


def test_acs_json_has_the_census_api_shape(city: SampleCityFiles, areas: list[dict]) -> None:
    rows = json.loads(city.acs_json.read_text())
    assert rows[0] == list(ACS_COLUMNS)
    assert rows[0][:4] == ["NAME", "GEO_ID", "B01003_001E", "B01003_001M"]
    assert rows[0][-3:] == ["state", "county", "tract"]
    assert set(LEGACY_ACS_COLUMNS) <= set(rows[0])
    assert len(rows) == len(areas) + 2  # one tract published twice (a planted duplicate)
    assert all(isinstance(v, str) for row in rows for v in row)
    assert rows[1][:2] == ["Census Tract 1; Sample County; Washington", "1400000US53999000100"]
    acs = acs_frame(city.acs_json).unique("area_id", keep="first", maintain_order=True)
    assert set(acs.get_column("area_id")) == {f["properties"]["GEOID"] for f in areas}
    assert (acs.get_column("GEO_ID") == "1400000US" + acs.get_column("area_id")).all()


def test_acs_columns_published_before_keep_their_values(city: SampleCityFiles, truth: dict) -> None:
    acs = acs_frame(city.acs_json).unique("area_id", keep="first", maintain_order=True)
    population = {a["area_id"]: str(a["population"]) for a in truth["areas"]}
    assert dict(acs.select("area_id", "B01003_001E").iter_rows()) == population
    assert (acs.get_column("B01001_001E") == acs.get_column("B01003_001E")).all()
    not_computed = set(truth["acs"]["not_computed"])
    assert len(not_computed) == 1
    legacy = acs.with_columns(
        pl.when(pl.col("area_id").is_in(sorted(not_computed)))
        .then(pl.lit(""))
        .otherwise(pl.col("B19013_001E"))
        .alias("B19013_001E")
    ).select(LEGACY_ACS_COLUMNS)
    lines = "\n".join("|".join(row) for row in legacy.iter_rows())
    assert hashlib.sha256(lines.encode()).hexdigest() == LEGACY_ACS_DIGEST
    for row in legacy.filter(pl.col("B19013_001E") != "").iter_rows(named=True):
        pop, universe, poor = (int(row[c]) for c in LEGACY_ACS_COLUMNS[1:4])
        labour, unemployed = int(row["B23025_003E"]), int(row["B23025_005E"])
        assert poor <= universe <= pop and unemployed <= labour <= pop
        assert int(row["B19013_001E"]) > 0
    population_values = [int(p) for p in population.values()]
    assert 2 <= sum(p < 300 for p in population_values) <= 6
    assert all(p < 300 or 1_500 <= p <= 9_000 for p in population_values)


def test_indicators_correlate_with_crime(city: SampleCityFiles, clean: pl.DataFrame) -> None:
    published = acs_frame(city.acs_json).unique("area_id", keep="first", maintain_order=True)
    acs = published.select(
        "area_id",
        (pl.col("B17001_002E").cast(pl.Float64) / pl.col("B17001_001E").cast(pl.Float64)).alias(
            "poverty"
        ),
        (pl.col("B23025_005E").cast(pl.Float64) / pl.col("B23025_003E").cast(pl.Float64)).alias(
            "unemployment"
        ),
        pl.col("B19013_001E").cast(pl.Float64).alias("income"),
    )
    counts = clean.group_by("area_id").len("crimes")
    joined = acs.join(counts, on="area_id", how="left").fill_null(0)
    crimes = joined.get_column("crimes")
    assert spearman(joined.get_column("poverty"), crimes) > 0.3
    assert spearman(joined.get_column("unemployment"), crimes) > 0.2
    with_income = joined.filter(pl.col("income") > 0)  # the Census sentinel is negative
    assert with_income.height == joined.height - 1
    assert spearman(with_income.get_column("income"), with_income.get_column("crimes")) < -0.2


def normalized_label(label: str) -> str:
    return " ".join(label.split()).lower()


def test_facilities_are_few_typed_and_clustered(
    city: SampleCityFiles, areas: list[dict], con: duckdb.DuckDBPyConnection, truth: dict
) -> None:
    facilities = pl.read_csv(city.facilities_csv, infer_schema=False)
    assert tuple(facilities.columns) == FACILITY_COLUMNS
    assert facilities.height == CONFIG.n_facilities >= 20
    type_map = {normalized_label(k): v for k, v in SAMPLE_FACILITY_TYPE_MAP.items()}
    canonical = [type_map.get(normalized_label(t)) for t in facilities.get_column("facility_type")]
    assert canonical.count(None) == 1  # the planted unmapped label
    assert set(canonical) - {None} == set(FACILITY_TYPES)
    assert facilities.get_column("facility_id").n_unique() == facilities.height
    assert facilities.get_column("name").n_unique() == facilities.height
    located = facilities.with_columns(
        pl.col("longitude").cast(pl.Float64).alias("lon"),
        pl.col("latitude").cast(pl.Float64).alias("lat"),
    ).filter(pl.col("lon").is_not_null())
    assert located.height == facilities.height - 1  # the planted blank coordinates
    con.register("facility_points", located.select("facility_id", "lon", "lat"))
    outside = {
        fid
        for (fid,) in con.sql(
            "select facility_id from facility_points f where not exists "
            "(select 1 from areas a where ST_Covers(a.geom, ST_Point(f.lon, f.lat)))"
        ).fetchall()
    }
    planted = {fid for fid, t in truth["facilities"].items() if t["defect"]}
    assert outside == {
        fid for fid, t in truth["facilities"].items() if t["defect"] == "out_of_jurisdiction"
    }
    assert len(outside) == 1 and outside < planted
    # Closer to the centre than the areas are on average: some areas are far from services.
    inside = located.filter(~pl.col("facility_id").is_in(sorted(outside)))
    lon, lat = inside.get_column("lon").to_numpy(), inside.get_column("lat").to_numpy()
    ring = np.array([f["geometry"]["coordinates"][0][0] for f in areas])
    centre = ring.mean(axis=0)
    spread_facilities = np.hypot(lon - centre[0], lat - centre[1]).mean()
    spread_areas = np.hypot(*(ring - centre).T).mean()
    assert spread_facilities < 0.7 * spread_areas


def test_truth_document(truth: dict) -> None:
    assert truth["seed"] == CONFIG.seed
    assert truth["config"]["n_incidents"] == CONFIG.n_incidents
    assert truth["config"]["first_month"] == "2024-07-01"
    assert truth["offense_period"] == {"first_day": "2024-07-01", "last_day": "2026-06-30"}
    counts = truth["counts"]
    assert counts["rows"] == counts["clean_rows"] + counts["defect_rows"] == CONFIG.n_incidents
    assert len(truth["areas"]) == counts["areas"]
    assert {h["hotspot_id"] for h in truth["hotspots"]} == {
        f"H{i}" for i in range(1, len(truth["hotspots"]) + 1)
    }
    geoids = {a["area_id"] for a in truth["areas"]}
    assert set(truth["acs"]["indicators"]) == geoids == set(truth["surveys"]["areas"])
    assert set(truth["acs"]["defects"].values()) == {"value_invalid", "duplicate_record"}
    assert len(truth["facilities"]) == CONFIG.n_facilities
    assert truth["service_requests"]["rows"] == truth["service_requests"]["accepted_rows"] + 7
    assert truth["files"]["truth_service_requests"] == "truth_service_requests.parquet"
    members = [g for tracts in truth["neighbourhoods"].values() for g in tracts]
    assert sorted(members) == sorted(geoids)


def test_the_sample_city_yaml_describes_the_generated_city() -> None:
    """The sample city's settings live in its YAML (sample:, the facility labels); the
    generator's defaults and its directory's labels must be what that YAML says."""
    from crimemap.config.jurisdiction import SampleSettings, load_jurisdiction
    from crimemap.samplecity.settings import SampleCityConfig

    config = load_jurisdiction()
    settings, generator = config.sample, SampleCityConfig()
    assert settings == SampleSettings()  # the YAML states the defaults
    assert (settings.seed, settings.incidents, settings.defect_rate) == (
        generator.seed, generator.n_incidents, generator.defect_rate
    )  # fmt: skip
    assert (settings.first_month, settings.months) == (generator.first_month, generator.n_months)
    type_map = {normalized_label(k): v for k, v in SAMPLE_FACILITY_TYPE_MAP.items()}
    lookup = dict(config.facilities.mapping.type_lookup)
    # the YAML's labels, and the canonical names that always map to themselves
    assert lookup == type_map | {t: t for t in FACILITY_TYPES}
