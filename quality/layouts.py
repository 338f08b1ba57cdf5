"""Column layouts of the raw landing files the quality package checks (see docs/data-contracts.md).

Plain constants, so that rules and suites agree on names without importing each other's machinery.
"""

from __future__ import annotations

from typing import NamedTuple

LINEAGE_COLUMNS: tuple[str, ...] = ("_source_file", "_row_number", "_ingested_at", "_load_id")

SEATTLE_SPD_COLUMNS: tuple[str, ...] = (
    "Report Number",
    "Offense ID",
    "Offense Start DateTime",
    "Offense End DateTime",
    "Report DateTime",
    "Group A B",
    "Crime Against Category",
    "Offense Parent Group",
    "Offense",
    "Offense Code",
    "Precinct",
    "Sector",
    "Beat",
    "MCPP",
    "100 Block Address",
    "Longitude",
    "Latitude",
)
SEATTLE_SPD_DATETIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
SEATTLE_TIMEZONE = "America/Los_Angeles"
# UTM zone 10N: metres, covers Seattle.
SEATTLE_PROJECTED_CRS = "EPSG:32610"

AREA_COLUMNS: tuple[str, ...] = ("GEOID", "NAME", "geometry")
FACILITY_COLUMNS: tuple[str, ...] = (
    "facility_id",
    "name",
    "facility_type",
    "address",
    "latitude",
    "longitude",
)


class BBox(NamedTuple):
    """A lon/lat bounding box in EPSG:4326 degrees."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
