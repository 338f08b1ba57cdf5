"""The sample city in each publisher's layout: headers, quirks, planted defects and truth."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.police.layout import HHMM, PoliceLayout, builtin_layout
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.publishers import (
    LOCAL_CODE_FIELDS,
    LOCAL_CODES,
    PUBLISHER_DEFECT_REASONS,
    PUBLISHER_LAYOUTS,
    STATE_PLANE_CRS,
    PublisherSample,
    render_publisher_sample,
    render_publisher_samples,
)
from crimemap.samplecity.settings import SampleCityConfig

CONFIG = SampleCityConfig(n_incidents=6_000)
SEEDS = Path(__file__).parents[2] / "dbt_project" / "seeds"
LOCAL = ZoneInfo("America/Los_Angeles")
BOM = "\ufeff"
WITH_BOM = {"sfpd", "baltimore_legacy", "baltimore_nibrs"}
HEADER_QUIRKS = {"lapd": "Crm Cd Desc ", "baltimore_legacy": "Total Incidents "}
TEXT_COLUMN = {
    "seattle_spd": "100 Block Address",
    "lapd": "LOCATION",
    "chicago": "Block",
    "sfpd": "Intersection",
    "baltimore_legacy": "Location",
    "baltimore_nibrs": "Location",
}
# The city spans about +-0.1 degrees of longitude and +-0.06 of latitude around its centre.
CENTRE = (-122.33, 47.60)


@dataclass(frozen=True)
class Loaded:
    name: str
    layout: PoliceLayout
    raw: str  # the file as text, BOM included
    frame: pl.DataFrame  # published columns as strings, header names stripped
    rows: pl.DataFrame  # truth per record
    offenses: pl.DataFrame
    truth: dict

    def col(self, name: str) -> pl.Series:
        return self.frame.get_column(name)

    @property
    def clean(self) -> pl.Series:
        return self.rows.get_column("defect").is_null()

    def defect(self, reason: str) -> pl.Series:
        return self.rows.get_column("defect") == reason


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PublisherSample]:
    return render_publisher_samples(tmp_path_factory.mktemp("publishers"), CONFIG)


@pytest.fixture(scope="module")
def loaded(samples: dict[str, PublisherSample]) -> dict[str, Loaded]:
    out = {}
    for name, sample in samples.items():
        frame = pl.read_csv(sample.csv, infer_schema=False)
        out[name] = Loaded(
            name=name,
            layout=builtin_layout(name),
            raw=sample.csv.read_bytes().decode("utf-8"),
            frame=frame.rename({c: c.strip() for c in frame.columns}),
            rows=pl.read_parquet(sample.truth_rows),
            offenses=pl.read_parquet(sample.truth_offenses),
            truth=json.loads(sample.truth_json.read_text()),
        )
    return out


@pytest.fixture(scope="module")
def categories() -> dict[str, str]:
    """crimemap category of each NIBRS code."""
    crosswalk = pl.read_csv(SEEDS / "crosswalk_seattle_spd.csv", infer_schema=False)
    return dict(zip(crosswalk["nibrs_code"], crosswalk["category"], strict=True))


def publisher_categories(layout: PoliceLayout) -> dict[str, str]:
    """crimemap category of each of the publisher's codes, from the pipeline's crosswalk."""
    crosswalk = pl.read_csv(SEEDS / f"crosswalk_{layout.crosswalk}.csv", infer_schema=False)
    return dict(zip(crosswalk["offense_code"], crosswalk["category"], strict=True))


def parse(value: str | None, formats: tuple[str, ...]) -> datetime | None:
    if value is None:
        return None
    for fmt in formats:
        text = value
        # DuckDB's %z reads "+00"; Python's wants "+0000".
        if "%z" in fmt and re.search(r"[+-]\d\d$", text):
            text += "00"
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def parse_time(value: str | None, formats: tuple[str, ...]) -> tuple[int, int] | None:
    for fmt in formats:
        if value is None:
            return None
        if fmt == HHMM:
            if re.fullmatch(r"\d{1,4}", value) and int(value) // 100 < 24 and int(value) % 100 < 60:
                return int(value) // 100, int(value) % 100
            continue
        try:
            t = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return t.hour, t.minute
    return None


def occurred(data: Loaded) -> list[datetime | None]:
    """The occurred date-time of each row as the layout's formats read it (local, naive)."""
    spec = data.layout.occurred
    dates = [parse(v, spec.formats) for v in data.col(spec.column)]
    if spec.time_column is not None:
        times = [parse_time(v, spec.time_formats) for v in data.col(spec.time_column)]
        dates = [
            d.replace(hour=t[0], minute=t[1]) if d and t else None
            for d, t in zip(dates, times, strict=True)
        ]
    return [d.astimezone(LOCAL).replace(tzinfo=None) if d and d.tzinfo else d for d in dates]


def point_text(value: str | None, wkt: bool = False) -> tuple[float, float] | None:
    if value is None:
        return None
    numbers = [float(x) for x in re.findall(r"-?\d+\.?\d*", value)]
    return (numbers[0], numbers[1]) if wkt else (numbers[1], numbers[0])


def lonlat(data: Loaded) -> list[tuple[float, float] | None]:
    """Each row's point from the first usable location alternative (projected ones excepted)."""
    points: list[tuple[float, float] | None] = [None] * data.frame.height
    for loc in data.layout.location:
        if loc.kind == "lonlat":
            lon, lat = (data.col(c).cast(pl.Float64, strict=False) for c in loc.columns)
            found = [
                (x, y) if x is not None and y is not None else None
                for x, y in zip(lon, lat, strict=True)
            ]
        elif loc.kind in ("point_text", "wkt"):
            found = [point_text(v, wkt=loc.kind == "wkt") for v in data.col(loc.columns[0])]
        else:
            continue
        points = [p if p is not None else f for p, f in zip(points, found, strict=True)]
    return points


def location_columns(layout: PoliceLayout) -> list[str]:
    return [c for loc in layout.location for c in loc.columns]


# Files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_header_is_the_layout_with_its_quirks(loaded: dict[str, Loaded], name: str) -> None:
    data = loaded[name]
    assert data.raw.startswith(BOM) == (name in WITH_BOM)
    header = next(csv.reader(io.StringIO(data.raw.removeprefix(BOM))))
    assert [h.strip() for h in header] == list(data.layout.columns)
    assert tuple(data.frame.columns) == data.layout.columns
    padded = [h for h in header if h != h.strip()]
    assert padded == ([HEADER_QUIRKS[name]] if name in HEADER_QUIRKS else [])


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_one_truth_row_per_record(loaded: dict[str, Loaded], name: str) -> None:
    data = loaded[name]
    records = list(csv.reader(io.StringIO(data.raw.removeprefix(BOM))))[1:]
    assert len(records) == data.frame.height == data.rows.height == data.truth["counts"]["rows"]
    assert data.rows.get_column("row_number").to_list() == list(range(1, data.rows.height + 1))
    assert data.rows.columns == [
        "row_number",
        "defect",
        "report_number",
        "area_id",
        "hotspot_id",
        "on_edge",
    ]
    assert data.offenses.columns == ["row_number", "offense_seq", "local_code", "nibrs_code"]


def test_same_seed_gives_identical_bytes(
    samples: dict[str, PublisherSample], tmp_path: Path
) -> None:
    for name in PUBLISHER_LAYOUTS:
        again = render_publisher_sample(name, tmp_path / name, CONFIG)
        for first, second in zip(
            (samples[name].csv, samples[name].truth_rows),
            (again.csv, again.truth_rows),
            strict=True,
        ):
            assert first.read_bytes() == second.read_bytes(), name
        assert samples[name].truth_offenses.read_bytes() == again.truth_offenses.read_bytes()
        assert samples[name].truth_json.read_bytes() == again.truth_json.read_bytes()


def test_unknown_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown layout"):
        render_publisher_sample("nypd", tmp_path, CONFIG)


def test_seattle_render_is_the_sample_city_export(
    samples: dict[str, PublisherSample], loaded: dict[str, Loaded], tmp_path: Path
) -> None:
    city = generate_sample_city(tmp_path / "city", CONFIG)
    assert samples["seattle_spd"].csv.read_bytes() == city.police_csv.read_bytes()
    truth = pl.read_parquet(city.truth_incidents)
    rows = loaded["seattle_spd"].rows
    assert rows.drop("report_number").equals(truth)
    assert rows.get_column("report_number").equals(
        loaded["seattle_spd"].col("Report Number"), check_names=False
    )


# Dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_occurred_values_parse_with_the_layout_formats(
    loaded: dict[str, Loaded], name: str
) -> None:
    data = loaded[name]
    when = pl.Series("when", occurred(data), dtype=pl.Datetime("us"))
    defect = data.rows.get_column("defect")
    clean = when.filter(defect.is_null())
    assert clean.null_count() == 0
    assert clean.min() >= datetime(2024, 7, 1) and clean.max() < datetime(2026, 7, 1)
    assert when.filter(defect == "date_unparseable").null_count() > 0
    assert (when.filter(defect == "date_unparseable").is_null()).all()
    assert (when.filter(defect == "date_future").dt.year() == 2099).all()
    placeholder = when.filter(defect == "date_placeholder")
    assert (placeholder.dt.date() == datetime(1970, 1, 1).date()).all()


def test_lapd_dates_carry_a_fake_midnight_and_unpadded_time(loaded: dict[str, Loaded]) -> None:
    data = loaded["lapd"]
    clean = data.frame.filter(data.clean)
    for column in ("DATE OCC", "Date Rptd"):
        assert clean.get_column(column).str.ends_with(" 12:00:00 AM").all()
    time = clean.get_column("TIME OCC")
    assert time.str.contains(r"^\d{1,4}$").all()
    lengths = set(time.str.len_chars())
    assert {1, 3, 4} <= lengths  # "5" = 00:05, "930", "1230"
    assert not time.str.starts_with("0").filter(time.str.len_chars() > 1).any()


def test_baltimore_nibrs_times_are_utc_and_dst_correct(loaded: dict[str, Loaded]) -> None:
    data = loaded["baltimore_nibrs"]
    clean = data.col("CrimeDateTime").filter(data.clean)
    assert clean.str.contains(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\+00$").all()
    # Unknown times are recorded as local midnight: they must come back as midnight in summer
    # (UTC-7) and in winter (UTC-8) alike.
    local = [datetime.strptime(v + "00", "%Y/%m/%d %H:%M:%S%z").astimezone(LOCAL) for v in clean]
    for months in ((6, 7, 8), (12, 1, 2)):
        season = [t for t in local if t.month in months]
        midnight = sum(t.hour == 0 and t.minute == 0 for t in season) / len(season)
        assert midnight > 0.02, months
    placeholder = data.col("CrimeDateTime").filter(data.defect("date_placeholder"))
    assert placeholder.str.starts_with("1970/01/01 08:00:00").all()


def test_baltimore_legacy_crime_time_comes_in_two_forms(loaded: dict[str, Loaded]) -> None:
    time = loaded["baltimore_legacy"].col("CrimeTime")
    assert time.str.contains(r"^\d\d:\d\d:\d\d$").sum() > 0.3 * time.len()
    assert time.str.contains(r"^\d{1,4}$").sum() > 0.2 * time.len()


# Planted defects ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_defect_counts_match_the_truth_rows(loaded: dict[str, Loaded], name: str) -> None:
    data = loaded[name]
    planted = dict(data.rows.get_column("defect").drop_nulls().value_counts().iter_rows())
    assert data.truth["defects"] == {r: planted.get(r, 0) for r in data.truth["defects"]}
    assert set(planted) == set(data.truth["defects"])
    assert all(count > 0 for count in data.truth["defects"].values())
    assert sum(planted.values()) == round(CONFIG.defect_rate * data.rows.height)
    if name == "lapd":
        assert "coordinates_missing" not in planted  # LAPD writes a missing location as 0, 0
    if name == "baltimore_legacy":
        assert "missing_key" not in planted  # no id column to leave blank
    if name != "seattle_spd":
        assert set(planted) <= set(PUBLISHER_DEFECT_REASONS)


def _rule_flags(data: Loaded) -> dict[str, pl.Series]:
    """Each rule, judged from the published file alone (True = the row breaks it)."""
    layout, frame = data.layout, data.frame
    blank = {
        c: frame.get_column(c).str.strip_chars().replace("", None).is_null() for c in frame.columns
    }
    keys = [c for c in (layout.record_id, layout.report_number) if c]
    lonlat_cols = layout.location[0].columns
    others = [c for c in location_columns(layout) if c not in lonlat_cols]
    lon, lat = (frame.get_column(c).cast(pl.Float64, strict=False) for c in lonlat_cols)
    all_blank = pl.Series([True] * frame.height)
    for c in location_columns(layout):
        all_blank &= blank[c]
    others_blank = pl.Series([True] * frame.height)
    for c in others:
        others_blank &= blank[c]
    points = lonlat(data)
    far = pl.Series(
        [
            p is not None
            and (p[0], p[1]) != (0.0, 0.0)
            and (abs(p[0] - CENTRE[0]) > 0.12 or abs(p[1] - CENTRE[1]) > 0.07)
            for p in points
        ]
    )
    when = pl.Series(occurred(data), dtype=pl.Datetime("us"))
    width = layout.offense_code_width or 0
    code = frame.get_column(layout.offense_codes[0]).str.zfill(width)
    known = sorted({c.code for c in LOCAL_CODES[data.name]})
    identity = [layout.record_id] if layout.record_id else list(frame.columns)
    flags = {
        "coordinates_zero": (lon == 0).fill_null(False)
        & (lat == 0).fill_null(False)
        & others_blank,
        "coordinates_missing": all_blank,
        "out_of_jurisdiction": far,
        "date_unparseable": when.is_null(),
        "date_future": (when.dt.year() >= 2099).fill_null(False),
        "date_placeholder": (when.dt.year() == 1970).fill_null(False),
        "offense_code_unknown": ~code.is_in(known).fill_null(False),
        # a later exact copy of an earlier row, same record id
        "duplicate_record": frame.select(
            ~pl.struct(pl.all()).is_first_distinct() & ~pl.struct(identity).is_first_distinct()
        ).to_series(),
    }
    if keys:
        missing = pl.Series([False] * frame.height)
        for k in keys:
            missing |= blank[k]
        flags["missing_key"] = missing
    return flags


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_every_defect_breaks_exactly_its_rule(loaded: dict[str, Loaded], name: str) -> None:
    data = loaded[name]
    flags = _rule_flags(data)
    defect = data.rows.get_column("defect")
    for reason, flagged in flags.items():
        assert flagged.null_count() == 0, reason
        assert (flagged == (defect == reason).fill_null(False)).all(), reason
    broken = pl.DataFrame(flags).select(pl.sum_horizontal(pl.all())).to_series()
    assert (broken == defect.is_not_null().cast(pl.UInt32)).all()


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_clean_rows_have_unique_ids_and_duplicates_copy_them(
    loaded: dict[str, Loaded], name: str
) -> None:
    data = loaded[name]
    layout = data.layout
    identity = [layout.record_id] if layout.record_id else list(data.frame.columns)
    clean = data.frame.filter(data.clean)
    assert clean.select(identity).is_unique().all()
    dups = data.frame.with_row_index().filter(data.defect("duplicate_record"))
    originals = data.frame.with_row_index().filter(data.clean)
    joined = dups.join(originals, on=list(data.frame.columns), nulls_equal=True)
    assert joined.height == dups.height
    assert (joined.get_column("index_right") < joined.get_column("index")).all()


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_report_numbers_are_read_from_the_layout(loaded: dict[str, Loaded], name: str) -> None:
    data = loaded[name]
    column = data.layout.report_number
    truth = data.rows.get_column("report_number")
    if column is None:
        assert truth.null_count() == truth.len()
        assert data.truth["counts"]["incidents_clean"] == data.truth["counts"]["clean_rows"]
        return
    published = data.col(column).str.strip_chars().replace("", None)
    assert truth.equals(published, check_names=False)
    assert truth.filter(data.clean).null_count() == 0
    incidents = truth.filter(data.clean).n_unique()
    assert data.truth["counts"]["incidents_clean"] == incidents


# Layout quirks ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_some_records_span_several_lines(loaded: dict[str, Loaded], name: str) -> None:
    data = loaded[name]
    text = data.col(TEXT_COLUMN[name])
    multiline = text.str.contains("\n").fill_null(False)
    assert multiline.sum() >= 1
    assert data.clean.filter(multiline).all()
    assert data.raw.count("\n") > data.frame.height + 1


def test_lapd_quirks(loaded: dict[str, Loaded]) -> None:
    data = loaded["lapd"]
    frame = data.frame
    assert frame.get_column("DR_NO").drop_nulls().str.contains(r"^\d{9}$").all()
    area = frame.get_column("AREA")
    assert area.str.contains(r"^0\d$").any() and area.str.contains(r"^\d$").any()
    assert frame.get_column("Rpt Dist No").str.contains(r"^\d{4}$").all()
    assert (frame.get_column("Rpt Dist No").str.slice(0, 2) == area.str.zfill(2)).all()
    dr = frame.filter(data.clean).get_column("DR_NO")
    assert (dr.str.slice(2, 2) == frame.filter(data.clean).get_column("AREA").str.zfill(2)).all()
    assert frame.get_column("Crm Cd").equals(frame.get_column("Crm Cd 1"), check_names=False)
    assert frame.get_column("Crm Cd 2").is_not_null().sum() > 0.03 * frame.height
    assert frame.get_column("Crm Cd 3").is_not_null().any()
    zero = frame.filter(data.defect("coordinates_zero"))
    assert (zero.get_column("LAT") == "0").all() and (zero.get_column("LON") == "0").all()
    clean = frame.filter(data.clean)
    assert clean.get_column("LAT").str.contains(r"^\d+\.\d{4}$").all()
    assert (clean.get_column("Vict Age") == "0").any()
    assert clean.get_column("Mocodes").drop_nulls().str.contains(r"^\d{4}( \d{4})*$").all()


def test_chicago_quirks(loaded: dict[str, Loaded]) -> None:
    data = loaded["chicago"]
    frame = data.frame.filter(data.clean)
    iucr = frame.get_column("IUCR")
    assert (iucr.str.len_chars() == 3).sum() > 0.02 * frame.height  # "486" for "0486"
    assert iucr.str.len_chars().is_in([3, 4]).all()
    assert frame.get_column("Case Number").str.contains(r"^J[A-Z]\d{6}$").all()
    assert frame.get_column("Date").str.contains(r"^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d [AP]M$").all()
    beat = frame.get_column("Beat")
    assert beat.str.contains(r"^\d{4}$").any() and beat.str.contains(r"^\d{3}$").any()
    assert frame.get_column("District").str.contains(r"^\d{3}$").all()
    for column in ("Arrest", "Domestic"):
        assert set(frame.get_column(column)) == {"true", "false"}
    assert (frame.filter(iucr.str.zfill(4) == "0486").get_column("Domestic") == "true").all()
    # Homicides: one row per victim, the victims sharing the Case Number under distinct IDs.
    homicides = frame.filter(iucr.str.zfill(4) == "0110")
    victims = homicides.group_by("Case Number").agg(pl.len(), pl.col("ID").n_unique().alias("ids"))
    assert victims.get_column("len").max() >= 2
    assert victims.get_column("len").equals(victims.get_column("ids"), check_names=False)
    others = frame.filter(iucr.str.zfill(4) != "0110")
    assert others.get_column("Case Number").is_unique().all()
    # Location fallbacks: Location without Latitude/Longitude, and X/Y alone.
    lat, loc, x = (frame.get_column(c).is_null() for c in ("Latitude", "Location", "X Coordinate"))
    assert (lat & ~loc).sum() > 0.005 * frame.height
    assert (lat & loc & ~x).sum() > 0.005 * frame.height
    both = frame.filter(~lat & ~loc)
    expected = pl.concat_str(
        pl.lit("("), pl.col("Latitude"), pl.lit(", "), pl.col("Longitude"), pl.lit(")")
    )
    assert both.select(pl.col("Location") == expected).to_series().all()
    assert frame.get_column("X Coordinate").drop_nulls().str.contains(r"^\d{7}$").all()


def test_chicago_state_plane_matches_the_point(loaded: dict[str, Loaded], tmp_path: Path) -> None:
    data = loaded["chicago"]
    both = data.frame.filter(
        data.clean & data.col("Latitude").is_not_null() & data.col("X Coordinate").is_not_null()
    ).head(300)
    with connect(extension_directory=tmp_path / "ext") as con:
        con.register("points", both.select("X Coordinate", "Y Coordinate", "Longitude", "Latitude"))
        (worst,) = con.sql(
            f"""select max(ST_Distance(
                  ST_Transform(ST_Point("X Coordinate"::double, "Y Coordinate"::double),
                               '{STATE_PLANE_CRS}', 'EPSG:32610', always_xy := true),
                  ST_Transform(ST_Point("Longitude"::double, "Latitude"::double),
                               'EPSG:4326', 'EPSG:32610', always_xy := true)))
                from points"""
        ).fetchone()
    assert worst < 0.5  # integer feet


def test_sfpd_quirks(loaded: dict[str, Loaded]) -> None:
    data = loaded["sfpd"]
    frame = data.frame.filter(data.clean)
    code = frame.get_column("Incident Code")
    assert (code.str.len_chars() == 4).sum() > 0.02 * frame.height  # "7041" for "07041"
    assert code.str.len_chars().is_in([4, 5]).all()
    row_id = frame.get_column("Incident ID") + code.str.zfill(5)
    assert frame.get_column("Row ID").equals(row_id, check_names=False)
    assert frame.get_column("Incident Number").str.contains(r"^\d{9}$").all()
    per_incident = frame.group_by("Incident Number").agg(
        pl.len(), pl.col("Incident ID").n_unique().alias("ids")
    )
    assert per_incident.get_column("len").max() >= 2
    assert (per_incident.get_column("ids") == 1).all()
    with_point = frame.filter(pl.col("Latitude").is_not_null())
    wkt = pl.concat_str(
        pl.lit("POINT ("), pl.col("Longitude"), pl.lit(" "), pl.col("Latitude"), pl.lit(")")
    )
    assert with_point.select(pl.col("point") == wkt).to_series().all()
    only_point = frame.filter(pl.col("Latitude").is_null() & pl.col("point").is_not_null())
    assert only_point.height > 0.005 * frame.height
    stamp = frame.get_column("Incident Datetime")
    assert stamp.str.contains(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d [AP]M$").all()
    assert (stamp.str.slice(0, 10) == frame.get_column("Incident Date")).all()
    assert frame.get_column("Incident Time").str.contains(r"^\d\d:\d\d$").all()


def test_baltimore_quirks(loaded: dict[str, Loaded]) -> None:
    legacy = loaded["baltimore_legacy"]
    frame = legacy.frame.filter(legacy.clean)
    with_point = frame.filter(pl.col("Latitude").is_not_null())
    text = pl.concat_str(
        pl.lit("("), pl.col("Latitude"), pl.lit(", "), pl.col("Longitude"), pl.lit(")")
    )
    assert with_point.select(pl.col("Location 1") == text).to_series().all()
    assert frame.filter(pl.col("Latitude").is_null() & pl.col("Location 1").is_not_null()).height
    assert (frame.get_column("Total Incidents") == "1").all()
    post = frame.get_column("Post")
    assert post.str.contains(r"^\d{3}$").any() and post.str.contains(r"^0\d{3}$").any()

    nibrs = loaded["baltimore_nibrs"]
    frame = nibrs.frame.filter(nibrs.clean)
    assert frame.get_column("CCNumber").str.contains(r"^\d\d[A-L]\d{6}$").all()
    assert frame.get_column("CCNumber").is_duplicated().any()  # several victims of one incident
    row_ids = nibrs.col("RowID").filter(~nibrs.defect("duplicate_record")).drop_nulls()
    assert row_ids.cast(pl.Int64).is_unique().all()
    with_point = frame.filter(pl.col("Latitude").is_not_null())
    geo = pl.concat_str(
        pl.lit("("), pl.col("Latitude"), pl.lit(","), pl.col("Longitude"), pl.lit(")")
    )
    assert with_point.select(pl.col("GeoLocation") == geo).to_series().all()
    for column in ("Gender", "Race", "Ethnicity"):
        assert frame.get_column(column).null_count() == 0, column
    assert frame.get_column("Age").is_not_null().any()


# Offenses and codes -------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_local_codes_stand_for_the_same_category(
    loaded: dict[str, Loaded], categories: dict[str, str], name: str
) -> None:
    data = loaded[name]
    width = data.layout.offense_code_width or 0
    crosswalk = publisher_categories(data.layout)
    # Every code of the table is in the pipeline's crosswalk, in the category of its offense.
    for c in LOCAL_CODES[name]:
        assert crosswalk.get(c.code.zfill(width)) == categories[c.nibrs_code], (name, c)
    pairs = {(c.nibrs_code, c.code) for c in LOCAL_CODES[name]}
    offenses = data.offenses.with_columns(pl.col("local_code").str.zfill(width).alias("full"))
    known = offenses.filter(pl.col("nibrs_code").is_not_null())
    assert known.height > 0.9 * offenses.height
    for nibrs, full in known.select("nibrs_code", "full").unique().iter_rows():
        assert (nibrs, full) in pairs, (name, nibrs, full)
    unknown = offenses.filter(pl.col("nibrs_code").is_null()).get_column("full")
    assert unknown.len() == data.truth["defects"]["offense_code_unknown"]
    assert not unknown.is_in(sorted(crosswalk)).any()


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_descriptions_follow_the_code(loaded: dict[str, Loaded], name: str) -> None:
    data = loaded[name]
    column = data.layout.offense_codes[0]
    width = data.layout.offense_code_width or 0
    fields = LOCAL_CODE_FIELDS[name]
    table = pl.DataFrame(
        {"full": [c.code for c in LOCAL_CODES[name]]}
        | {f: [c.fields[i] or None for c in LOCAL_CODES[name]] for i, f in enumerate(fields)},
        schema_overrides=dict.fromkeys(fields, pl.String),
    ).unique()
    clean = data.frame.filter(data.clean).with_columns(
        pl.col(column).str.zfill(width).alias("full")
    )
    joined = clean.select("full", *fields).join(
        table, on=["full", *fields], how="anti", nulls_equal=True
    )
    assert joined.height == 0, joined.head()


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_offenses_come_from_kept_rows(loaded: dict[str, Loaded], name: str) -> None:
    data = loaded[name]
    kept = data.rows.filter(
        pl.col("defect").is_null() | (pl.col("defect") == "offense_code_unknown")
    )
    offenses = data.offenses
    assert set(offenses.get_column("row_number")) == set(kept.get_column("row_number"))
    assert offenses.select("row_number", "offense_seq").is_unique().all()
    first = offenses.filter(pl.col("offense_seq") == 1)
    assert first.height == kept.height
    written = data.frame.get_column(data.layout.offense_codes[0]).gather(
        first.get_column("row_number") - 1
    )
    assert first.get_column("local_code").equals(written, check_names=False)
    by_nibrs = offenses.get_column("nibrs_code").drop_nulls().value_counts()
    assert data.truth["offenses_by_nibrs"] == dict(sorted(by_nibrs.iter_rows()))
    assert data.truth["counts"]["offenses"] == offenses.height


def test_lapd_publishes_up_to_four_codes_per_report(loaded: dict[str, Loaded]) -> None:
    offenses = loaded["lapd"].offenses
    assert offenses.get_column("offense_seq").max() in (2, 3, 4)
    assert offenses.group_by("row_number").len().get_column("len").max() <= 4


def test_layouts_drop_what_the_publisher_does_not_publish(
    loaded: dict[str, Loaded], categories: dict[str, str]
) -> None:
    part1 = {"09A", "11A", "11B", "11C", "13A", "13B", "120", "200", "220", "240"}
    part1 |= {f"23{c}" for c in "ABCDEFGH"}
    for name in ("baltimore_legacy", "baltimore_nibrs"):
        data = loaded[name]
        published = set(data.truth["offenses_by_nibrs"])
        assert published <= part1
        assert {"13C", "290", "35A", "90Z"} <= set(data.truth["not_published"]["nibrs_codes"])
        assert "Part 1" in data.truth["not_published"]["note"]
    assert loaded["seattle_spd"].truth["not_published"]["nibrs_codes"] == []
    assert "35A" in loaded["lapd"].truth["not_published"]["nibrs_codes"]
    assert "35A" not in loaded["lapd"].truth["offenses_by_nibrs"]
    for name in PUBLISHER_LAYOUTS:
        counts = loaded[name].truth["counts"]
        assert counts["offenses_generated"] == CONFIG.n_incidents
        assert set(loaded[name].truth["offenses_by_nibrs"]) <= set(categories)


# Spatial truth ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    city = generate_sample_city(tmp_path_factory.mktemp("city"), CONFIG)
    con = connect(extension_directory=tmp_path_factory.mktemp("duckdb_ext"))
    areas = json.loads(city.areas_geojson.read_text())["features"]
    con.register(
        "area_rows",
        pl.DataFrame(
            {
                "geoid": [f["properties"]["GEOID"] for f in areas],
                "geojson": [json.dumps(f["geometry"]) for f in areas],
            }
        ),
    )
    con.execute(
        "create table areas as select geoid, ST_GeomFromGeoJSON(geojson) geom from area_rows"
    )
    return con


@pytest.mark.parametrize("name", PUBLISHER_LAYOUTS)
def test_truth_area_is_where_the_published_point_lies(
    loaded: dict[str, Loaded], con: duckdb.DuckDBPyConnection, name: str
) -> None:
    data = loaded[name]
    points = lonlat(data)
    frame = data.rows.with_columns(
        pl.Series("lon", [p[0] if p else None for p in points], dtype=pl.Float64),
        pl.Series("lat", [p[1] if p else None for p in points], dtype=pl.Float64),
    )
    projected = [loc for loc in data.layout.location if loc.kind == "projected"]
    if projected:
        x, y = projected[0].columns
        frame = frame.with_columns(
            data.col(x).cast(pl.Float64).alias("x"), data.col(y).cast(pl.Float64).alias("y")
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.Float64).alias("x"), pl.lit(None, pl.Float64).alias("y")
        )
    kept = frame.filter(pl.col("defect").is_null() | (pl.col("defect") == "offense_code_unknown"))
    con.register("kept", kept)
    result = con.sql(
        f"""
        with p as (
            select row_number, area_id, on_edge,
                   coalesce(ST_Point(lon, lat),
                            ST_Transform(ST_Point(x, y), '{STATE_PLANE_CRS}', 'EPSG:4326',
                                         always_xy := true)) as geom
            from kept),
        covering as (
            select p.row_number, any_value(p.area_id) area_id, any_value(p.on_edge) on_edge,
                   list(a.geoid) filter (where a.geoid is not null) as ids
            from p left join areas a on ST_DWithin(a.geom, p.geom, 1e-9)
            group by p.row_number)
        select count(*),
               count(*) filter (where area_id is null),
               count(*) filter (where not on_edge and ids <> [area_id]),
               count(*) filter (where on_edge and not list_contains(ids, area_id))
        from covering
        """
    ).fetchone()
    n, no_area, wrong, wrong_edge = result
    assert n == kept.height
    assert (no_area, wrong, wrong_edge) == (0, 0, 0)
    # Rows without a usable location have no area; hotspots only where there is one.
    gone = data.rows.filter(
        pl.col("defect").is_in(["coordinates_zero", "coordinates_missing", "out_of_jurisdiction"])
    )
    assert gone.get_column("area_id").null_count() == gone.height
    assert gone.get_column("hotspot_id").null_count() == gone.height
    assert data.rows.get_column("hotspot_id").filter(data.clean).is_not_null().mean() > 0.2
