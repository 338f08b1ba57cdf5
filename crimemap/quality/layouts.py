"""Column layouts of the raw landing files the quality package checks (see docs/data-contracts.md).

Plain constants, so that rules and suites agree on names without importing each other's machinery.
"""

from __future__ import annotations

from typing import NamedTuple

from crimemap.ingestion.landing import LINEAGE_COLUMNS
from crimemap.ingestion.layouts import SEATTLE_SPD_COLUMNS

__all__ = [
    "LINEAGE_COLUMNS",
    "SEATTLE_PROJECTED_CRS",
    "SEATTLE_SPD_COLUMNS",
    "BBox",
]

# UTM zone 10N: metres, covers Seattle.
SEATTLE_PROJECTED_CRS = "EPSG:32610"


class BBox(NamedTuple):
    """A lon/lat bounding box in EPSG:4326 degrees."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
