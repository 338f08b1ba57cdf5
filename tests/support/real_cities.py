"""Files shaped like real portal downloads, written from a generated sample city: a historical
export of one year, a town with a single boundary polygon, neighbourhoods known only by name, a
socio-economic table keyed by neighbourhood name (percentages, dollars, thousands separators, a
composite index), and a clinic list whose header repeats a column and whose types are free text.

The values come from the sample city's own files, so a test can say what each must become.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from crimemap.ingestion.points import normalize_label
from crimemap.samplecity.records import SAMPLE_FACILITY_TYPE_MAP

SPD_DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"
CLINIC_HEADER = ["Site ID", "Site Name", "Type", "Type", "Longitude", "Latitude"]
# Free-text types as a real clinic list writes them: patterns and a default map them.
CLINIC_TYPES = {
    "mental_health": "Mental Health Clinic (Mon-Fri 9-5)",
    "substance_use": "DETOX & Withdrawal Mgmt",
    "shelter": "Emergency Shelter - Family",
    "clinic": "Community Health Center",
    "youth_services": "Youth Drop-In (after school)",
}


@dataclass(frozen=True)
class Neighbourhood:
    name: str
    geoid: str  # the sample city's tract under it: where its truth comes from


def export_of_year(police_csv: Path, year: int, out: Path) -> int:
    """The sample city's SPD rows that occurred in ``year``: a historical export. Returns rows."""
    frame = pl.read_csv(police_csv, infer_schema=False)
    occurred = pl.col("Offense Start DateTime").str.strptime(
        pl.Datetime, SPD_DATE_FORMAT, strict=False
    )
    year_rows = frame.filter(occurred.dt.year() == year)
    year_rows.write_csv(out)
    return year_rows.height


def bounding_polygon(areas_geojson: Path) -> list[list[float]]:
    xs, ys = [], []

    def walk(coords: list) -> None:
        if isinstance(coords[0], int | float):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for feature in json.loads(areas_geojson.read_text())["features"]:
        walk(feature["geometry"]["coordinates"])
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def one_area_town(areas_geojson: Path, out: Path) -> None:
    """A town whose boundary file has one polygon: the whole sample city."""
    town = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"TOWN_ID": "1", "TOWN": "Smallville"},
                "geometry": {"type": "Polygon", "coordinates": [bounding_polygon(areas_geojson)]},
            }
        ],
    }
    out.write_text(json.dumps(town))


def named_neighbourhoods(areas_geojson: Path, out: Path) -> list[Neighbourhood]:
    """The sample city's areas keyed by a name only ("Ward AB Heights"), no numeric id."""
    doc = json.loads(areas_geojson.read_text())
    found = []
    for i, feature in enumerate(doc["features"]):
        name = f"Ward {chr(65 + i // 26)}{chr(65 + i % 26)} Heights"
        found.append(Neighbourhood(name=name, geoid=feature["properties"]["GEOID"]))
        feature["properties"] = {"NHOOD": name}
    out.write_text(json.dumps(doc))
    return found


def acs_by_geoid(acs_json: Path) -> dict[str, dict[str, str]]:
    rows = json.loads(acs_json.read_text())
    header = rows[0]
    return {dict(zip(header, r, strict=True))["GEO_ID"][-11:]: dict(zip(header, r, strict=True))
            for r in rows[1:]}  # fmt: skip


def hardship_table(
    acs_json: Path, neighbourhoods: list[Neighbourhood], out: Path
) -> dict[str, dict[str, float] | None]:
    """A socio-economic table keyed by neighbourhood name as a city publishes it: names in
    other case and spacing, thousands separators, percentages, dollars, a composite index.
    Returns the values each neighbourhood's row carries, by name; None for a row that must be
    quarantined (an income the Census did not compute, copied as its -666666666 sentinel)."""
    acs = acs_by_geoid(acs_json)
    expected: dict[str, dict[str, float] | None] = {}
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["COMMUNITY AREA NAME", "POPULATION", "PERCENT HOUSEHOLDS BELOW POVERTY",
                         "PER CAPITA INCOME", "HARDSHIP INDEX"])  # fmt: skip
        for i, hood in enumerate(neighbourhoods):
            row = acs[hood.geoid]
            population = int(float(row["B01003_001E"]))
            universe, below = float(row["B17001_001E"]), float(row["B17001_002E"])
            poverty_pct = round(100 * below / universe, 1)
            median = int(float(row["B19013_001E"]))
            income = median // 2 if median >= 0 else median
            hardship = float(min(99, max(1, round(2 * poverty_pct))))
            written_name = hood.name.upper().replace(" ", "  ") if i % 2 else hood.name
            writer.writerow([written_name, f"{population:,}", poverty_pct, f"${income:,}",
                             hardship])  # fmt: skip
            expected[hood.name] = (
                {
                    "population": population,
                    "poverty_rate": poverty_pct / 100,
                    "per_capita_income": income,
                    "hardship_index": hardship,
                }
                if income >= 0
                else None
            )
    return expected


def clinic_list(facilities_csv: Path, out: Path) -> dict[str, str]:
    """The sample city's facilities as a clinic list: the header repeats ``Type`` (the second
    holds opening hours), types are free text (``CLINIC_TYPES``), and a label the sample city's
    map does not know stays as written, for ``default_type`` to take. Returns facility id ->
    the canonical type it must get."""
    lookup = {normalize_label(k): v for k, v in SAMPLE_FACILITY_TYPE_MAP.items()}
    frame = pl.read_csv(facilities_csv, infer_schema=False)
    expected = {}
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CLINIC_HEADER)
        for row in frame.iter_rows(named=True):
            canonical = lookup.get(normalize_label(row["facility_type"] or ""))
            label = CLINIC_TYPES[canonical] if canonical else row["facility_type"]
            expected[row["facility_id"]] = canonical or "clinic"  # the YAML's default_type
            writer.writerow([row["facility_id"], row["name"], label, "Mon-Fri",
                             row["longitude"], row["latitude"]])  # fmt: skip
    return expected
