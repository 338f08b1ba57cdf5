"""Column layouts of the publishers' exports, exactly as the portals publish them."""

from __future__ import annotations

SEATTLE_SPD_DATETIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
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
