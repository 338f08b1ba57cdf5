"""Column layouts of the publishers' exports, exactly as the portals publish them.

The police layouts live as YAML in ``crimemap/ingestion/police/layouts/``; the names here read
them, so the sample city, the rules and the suites share one definition.
"""

from __future__ import annotations

from crimemap.ingestion.police.layout import builtin_layout

SEATTLE_SPD_COLUMNS: tuple[str, ...] = builtin_layout("seattle_spd").columns
SEATTLE_SPD_DATETIME_FORMAT = builtin_layout("seattle_spd").occurred.formats[0]

# Social-service facilities as the sample city (and the file mode) publishes them.
FACILITY_COLUMNS: tuple[str, ...] = (
    "facility_id",
    "name",
    "facility_type",
    "address",
    "latitude",
    "longitude",
)
