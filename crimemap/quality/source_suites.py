"""Great Expectations suites of the raw survey and public-record landings, one per landing file.

The conformed suites (``crimemap.quality.suites``) judge what a split wrote; these judge what the
split is about to read, so a publisher's schema drift is caught on ``raw/<source>`` and named there.
Every suite requires exactly the columns its source's mapping reads, computed from the
jurisdiction's config objects (a facility mapping, a 311 layout, a survey layout, a boundary
spec, an ACS table set): the columns the split checks with
``crimemap.quality.rules.check_read_columns``.

Severity follows ``crimemap.quality.suites``. ERROR: a column the mapping reads is missing (the
whole file when the layout declares its published header), or the file has too few rows; the
split could not read such a file at all, so the blocking check stops that source and lets the
others go on.
WARN: rates of row defects the split quarantines row by row (blank or repeated keys, coordinates
that do not parse or fall outside the jurisdiction, dates not in a declared format); the file is
usable and the warning reports how much of it will be quarantined.

Raw columns are all strings: ``SuiteSpec.numeric_columns`` parses coordinates and weights for the
range expectations, ``blank_as_null_columns`` makes "" count as missing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from crimemap.ingestion.boundaries import BoundarySpec
from crimemap.ingestion.census import GEO_ID_COLUMN, GEOGRAPHY_PARTS, AcsIndicator, api_columns
from crimemap.ingestion.facilities import FacilityMapping
from crimemap.ingestion.indicator_table import IndicatorTable
from crimemap.ingestion.police.layout import LocationField
from crimemap.ingestion.service_requests.layout import ServiceRequestLayout
from crimemap.ingestion.surveys import SurveyLayout
from crimemap.quality.boundaries import boundary_read_columns
from crimemap.quality.layouts import LINEAGE_COLUMNS, BBox
from crimemap.quality.suites import (
    ExpectationSpec,
    SuiteSpec,
    expect,
    mostly_within,
    not_null,
    within,
)

COLUMN_SET = "ExpectTableColumnsToMatchSet"
# Up to 5% blank or repeated keys is row noise the split quarantines; more means the mapping
# names the wrong column or the export is broken.
KEY_MOSTLY = 0.95
VALUE_MOSTLY = 0.95
# As the police raw suite: coordinates mostly parse (blank points are common in 311 exports).
POINT_MOSTLY = 0.9
# GeoJSON ("type": "MultiPolygon") and WKT (POLYGON ((...))) alike; case-insensitive by hand so
# the pattern means the same in every regex engine GX may hand it to.
POLYGON_REGEX = "[Pp][Oo][Ll][Yy][Gg][Oo][Nn]"

# strptime directives (Python's and DuckDB's) as the shape of what they parse. Lenient on widths:
# the suite warns on a changed format, the split's ``date_unparseable`` judges each value.
_DIRECTIVE_PATTERNS: dict[str, str] = {
    "Y": "[0-9]{4}",
    "y": "[0-9]{2}",
    "m": "[0-9]{1,2}",
    "d": "[0-9]{1,2}",
    "e": " ?[0-9]{1,2}",
    "H": "[0-9]{1,2}",
    "I": "[0-9]{1,2}",
    "M": "[0-9]{1,2}",
    "S": "[0-9]{1,2}",
    "f": "[0-9]{1,9}",
    "g": "[0-9]{1,9}",
    "n": "[0-9]{1,9}",
    "j": "[0-9]{1,3}",
    "p": "[AaPp][Mm]",
    "z": "(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)",
    "Z": "[A-Za-z][A-Za-z0-9_/+-]*",
    "a": "[A-Za-z]{2,9}",
    "A": "[A-Za-z]{2,9}",
    "b": "[A-Za-z]{3,9}",
    "B": "[A-Za-z]{3,9}",
    "h": "[A-Za-z]{3,9}",
    "%": "%",
}
_DIRECTIVE = re.compile(r"%-?(.)")


# --- column drift ------------------------------------------------------------------------------


def raw_columns(read_columns: Sequence[str]) -> tuple[str, ...]:
    """Columns a landing must have: the published ones read, then the lineage landing adds."""
    return tuple(dict.fromkeys((*read_columns, *LINEAGE_COLUMNS)))


# --- shared expectations -----------------------------------------------------------------------


def column_shape(
    columns: Sequence[str], *, exact: bool, min_rows: int, max_rows: int | None
) -> tuple[ExpectationSpec, ...]:
    return (
        expect(COLUMN_SET, "ERROR", column_set=list(columns), exact_match=exact),
        expect("ExpectTableRowCountToBeBetween", "ERROR", min_value=min_rows, max_value=max_rows),
    )


def key_expectations(columns: Sequence[str]) -> tuple[ExpectationSpec, ...]:
    """Key columns mostly present, and the key (one column or a compound) mostly unique."""
    found = [not_null(c, "WARN", mostly=KEY_MOSTLY) for c in columns]
    if len(columns) == 1:
        found.append(
            expect("ExpectColumnValuesToBeUnique", "WARN", column=columns[0], mostly=KEY_MOSTLY)
        )
    else:
        found.append(
            expect(
                "ExpectCompoundColumnsToBeUnique",
                "WARN",
                column_list=list(columns),
                mostly=KEY_MOSTLY,
            )
        )
    return tuple(found)


def lonlat_expectations(
    lon: str, lat: str, bbox: BBox | None, *, required: bool
) -> tuple[ExpectationSpec, ...]:
    """After the numeric parse: "not null" = parses as a number, "between" = inside ``bbox``."""
    found: list[ExpectationSpec] = []
    if required:
        found += [
            not_null(lon, "WARN", mostly=POINT_MOSTLY),
            not_null(lat, "WARN", mostly=POINT_MOSTLY),
        ]
    if bbox is not None:
        found += [
            mostly_within(lon, bbox.min_lon, bbox.max_lon),
            mostly_within(lat, bbox.min_lat, bbox.max_lat),
        ]
    return tuple(found)


def location_expectations(
    locations: Sequence[LocationField], bbox: BBox | None
) -> tuple[tuple[ExpectationSpec, ...], tuple[str, ...]]:
    """Expectations and numeric columns for a point source whose first location is lon/lat
    columns (later alternatives, e.g. WKT or GeoJSON text, are not cheap to judge here)."""
    if not locations or locations[0].kind != "lonlat":
        return (), ()
    lon, lat = locations[0].columns
    return lonlat_expectations(lon, lat, bbox, required=True), (lon, lat)


def strftime_regex(formats: Sequence[str]) -> str | None:
    """A regex matching text any of ``formats`` could parse (by shape, not calendar), or None
    when a format uses a directive this does not know."""
    alternatives = []
    for fmt in formats:
        pattern, pos = [], 0
        for match in _DIRECTIVE.finditer(fmt):
            pattern.append(_literal(fmt[pos : match.start()]))
            directive = _DIRECTIVE_PATTERNS.get(match.group(1))
            if directive is None:
                return None
            pattern.append(directive)
            pos = match.end()
        pattern.append(_literal(fmt[pos:]))
        alternatives.append("".join(pattern))
    if not alternatives:
        return None
    return r"^\s*(?:" + "|".join(alternatives) + r")\s*$"


def _literal(text: str) -> str:
    # strptime lets a space in the format match any run of whitespace.
    return r"\s+".join(re.escape(part) for part in text.split(" "))


def date_expectations(column: str, formats: Sequence[str]) -> tuple[ExpectationSpec, ...]:
    """A date column mostly present and mostly in one of its declared formats.

    No future-date check: values are wall-clock times in the jurisdiction's zone (or carry an
    offset) and the split judges them against the load time; a suite on text cannot without
    parsing every value.
    """
    found = [not_null(column, "WARN", mostly=VALUE_MOSTLY)]
    regex = strftime_regex(formats)
    if regex is not None:
        found.append(
            expect(
                "ExpectColumnValuesToMatchRegex",
                "WARN",
                column=column,
                regex=regex,
                mostly=VALUE_MOSTLY,
            )
        )
    return tuple(found)


def suite_name(*parts: str) -> str:
    """A suite name of letters, digits and ``_`` (it names a Data Docs site and a file)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", "_".join(parts)).strip("_")


# --- boundaries (areas, indicator_units) -------------------------------------------------------


def boundaries_raw_suite(
    spec: BoundarySpec,
    *,
    geometry_column: str,
    source: str = "areas",
    min_rows: int = 1,
    max_rows: int | None = None,
) -> SuiteSpec:
    """A boundary landing (areas, or the indicators' own units), any format.

    ERROR: the id, name and geometry columns of the spec plus ``_source_crs`` and lineage (a
    subset: GeoJSON properties, shapefile attributes and CSV headers carry whatever else their
    publisher adds); at least ``min_rows`` rows. WARN: ids mostly present (for GEOIDs, with a
    digit), geometries mostly present and polygonal (else ``missing_key`` / ``geometry_invalid``).
    Ids are not expected unique: an area published in pieces repeats its id and is merged.
    No extent check: the geometry is text in its source CRS until the split reprojects it.
    """
    id_field = spec.id_field
    expectations = [
        *column_shape(
            raw_columns(boundary_read_columns(spec, geometry_column)),
            exact=False,
            min_rows=min_rows,
            max_rows=max_rows,
        ),
        not_null(id_field, "WARN", mostly=KEY_MOSTLY),
        not_null(geometry_column, "WARN", mostly=VALUE_MOSTLY),
        expect(
            "ExpectColumnValuesToMatchRegex",
            "WARN",
            column=geometry_column,
            regex=POLYGON_REGEX,
            mostly=VALUE_MOSTLY,
        ),
    ]
    if spec.id_kind == "geoid":
        expectations.append(
            expect(
                "ExpectColumnValuesToMatchRegex",
                "WARN",
                column=id_field,
                regex="[0-9]",
                mostly=KEY_MOSTLY,
            )
        )
    return SuiteSpec(
        name=suite_name(source, "raw"),
        expectations=tuple(expectations),
        blank_as_null_columns=(id_field, geometry_column),
    )


# --- ACS indicators ----------------------------------------------------------------------------


def acs_geography_columns(present: Collection[str]) -> tuple[str, ...]:
    """The geography a Census landing is keyed by: ``GEO_ID`` when it has one (or none of the
    parts: the API's own id is then the one missing), else state + county + tract."""
    parts = tuple(name for name, _ in GEOGRAPHY_PARTS)
    if GEO_ID_COLUMN in present or not any(p in present for p in parts):
        return (GEO_ID_COLUMN,)
    return parts


def area_indicators_raw_suite(
    table_set: Sequence[AcsIndicator],
    *,
    geography: Sequence[str] = (GEO_ID_COLUMN,),
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "area_indicators_raw",
) -> SuiteSpec:
    """A Census API response (or a file in its shape) for ``table_set``.

    ERROR: every estimate and margin column the table set reads (``X_001E``, ``X_001M``), the
    ``geography`` columns (``acs_geography_columns``) and lineage, as a subset (``NAME`` and the
    ``for``/``in`` parts come and go with the query); at least ``min_rows`` rows. WARN: the
    geography mostly present and unique (the split quarantines a repeated GEOID as
    ``duplicate_record``). Cell values are the split's (``value_invalid``) and the conformed
    suite's: a sentinel is a valid cell.
    """
    geography = tuple(geography)
    return SuiteSpec(
        name=name,
        expectations=(
            *column_shape(
                raw_columns((*api_columns(tuple(table_set)), *geography)),
                exact=False,
                min_rows=min_rows,
                max_rows=max_rows,
            ),
            *key_expectations(geography),
        ),
        blank_as_null_columns=geography,
    )


# --- facilities --------------------------------------------------------------------------------


def facilities_raw_suite(
    mapping: FacilityMapping,
    *,
    bbox: BBox | None = None,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "facilities_raw",
) -> SuiteSpec:
    """A facility export (CSV, or GeoJSON points) read through ``mapping``.

    ERROR: the columns the mapping reads and lineage, as a subset (a mapping declares no full
    header); at least ``min_rows`` rows. WARN: ids mostly present and unique (copies are
    quarantined as ``duplicate_record``), types mostly present (``type_unmapped``), and with
    lon/lat columns: mostly numbers, mostly inside ``bbox`` (``out_of_jurisdiction``).
    """
    points, numeric = location_expectations(mapping.locations, bbox)
    return SuiteSpec(
        name=name,
        expectations=(
            *column_shape(
                raw_columns(mapping.read_columns),
                exact=False,
                min_rows=min_rows,
                max_rows=max_rows,
            ),
            *key_expectations((mapping.id_field,)),
            not_null(mapping.type_field, "WARN", mostly=VALUE_MOSTLY),
            *points,
        ),
        numeric_columns=numeric,
        blank_as_null_columns=(mapping.id_field, mapping.type_field),
    )


def indicator_table_raw_suite(
    table: IndicatorTable,
    *,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "area_indicators_raw",
) -> SuiteSpec:
    """A city's own indicator table read through its declaration.

    ERROR: the key, name and value columns the declaration reads and lineage, as a subset; at
    least ``min_rows`` rows. WARN: keys mostly present and unique (copies are quarantined as
    ``duplicate_record``), the first indicator's values mostly present.
    """
    return SuiteSpec(
        name=name,
        expectations=(
            *column_shape(
                raw_columns(table.read_columns), exact=False, min_rows=min_rows, max_rows=max_rows
            ),
            *key_expectations((table.key_field,)),
            not_null(table.indicators[0].column, "WARN", mostly=VALUE_MOSTLY),
        ),
        blank_as_null_columns=(table.key_field, table.indicators[0].column),
    )


# --- 311 service requests ----------------------------------------------------------------------


def service_requests_raw_suite(
    layout: ServiceRequestLayout,
    *,
    bbox: BBox | None = None,
    min_rows: int = 0,
    max_rows: int | None = None,
    name: str = "service_requests_raw",
) -> SuiteSpec:
    """A 311 export in ``layout``.

    ERROR: the layout's published header exactly when it declares one (``columns``), else the
    columns it reads as a subset; plus lineage; at least ``min_rows`` rows (0 by default: no
    requests in the window is a valid export). WARN: request ids mostly present and unique
    (``duplicate_record``), creation dates mostly present and in a declared format
    (``date_unparseable``), and with lon/lat first: mostly numbers inside ``bbox``.
    """
    exact = bool(layout.columns)
    points, numeric = location_expectations(layout.location, bbox)
    return SuiteSpec(
        name=name,
        expectations=(
            *column_shape(
                raw_columns(layout.columns if exact else layout.read_columns),
                exact=exact,
                min_rows=min_rows,
                max_rows=max_rows,
            ),
            *key_expectations((layout.record_id,)),
            *date_expectations(layout.created.column, layout.created.formats),
            *points,
        ),
        numeric_columns=numeric,
        blank_as_null_columns=(layout.record_id, layout.created.column),
    )


# --- resident surveys --------------------------------------------------------------------------


def survey_raw_suite(
    layout: SurveyLayout,
    *,
    survey: str,
    bbox: BBox | None = None,
    min_rows: int = 0,
    max_rows: int | None = None,
) -> SuiteSpec:
    """One survey file of the inbox (``survey`` is its stem), read through ``layout``.

    ERROR: the columns the layout reads and lineage, as a subset (a form export carries
    metadata columns of its own); at least ``min_rows`` rows (0 by default: an empty inbox lands
    an empty stand-in). WARN: response ids mostly present and unique within the file (the split
    dedupes per file), submission dates mostly present and in a declared format, weights mostly
    positive numbers (``value_invalid``), points mostly inside ``bbox`` and, when no area
    column places respondents, mostly present (``coordinates_missing``).
    """
    expectations = [
        *column_shape(
            raw_columns(layout.read_columns), exact=False, min_rows=min_rows, max_rows=max_rows
        ),
        *key_expectations((layout.response_id,)),
        *date_expectations(layout.submitted, layout.submitted_formats),
    ]
    numeric: list[str] = []
    if layout.longitude and layout.latitude:
        numeric += [layout.longitude, layout.latitude]
        expectations += lonlat_expectations(
            layout.longitude, layout.latitude, bbox, required=layout.area is None
        )
    if layout.weight:
        numeric.append(layout.weight)
        expectations += [
            not_null(layout.weight, "WARN", mostly=VALUE_MOSTLY),
            within(layout.weight, "WARN", min_value=0, strict_min=True, mostly=VALUE_MOSTLY),
        ]
    return SuiteSpec(
        name=suite_name("surveys", survey, "raw"),
        expectations=tuple(expectations),
        numeric_columns=tuple(numeric),
        blank_as_null_columns=(layout.response_id, layout.submitted),
    )
