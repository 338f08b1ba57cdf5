"""Live ingestion: paged, retried pulls from city open-data portals (Socrata, ArcGIS REST).

Each source yields pages of rows whose values are all text (``None`` for null), ready for raw
landing; a changed field set raises ``SchemaDriftError`` before any row is yielded.
"""

from crimemap.ingestion.live.arcgis import ArcGISLayer, arcgis_where, fetch_arcgis
from crimemap.ingestion.live.http import LiveSourceError, RetryPolicy, SchemaDriftError, get_json
from crimemap.ingestion.live.socrata import SocrataDataset, fetch_socrata, socrata_where

__all__ = [
    "ArcGISLayer",
    "LiveSourceError",
    "RetryPolicy",
    "SchemaDriftError",
    "SocrataDataset",
    "arcgis_where",
    "fetch_arcgis",
    "fetch_socrata",
    "get_json",
    "socrata_where",
]
