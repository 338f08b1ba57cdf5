"""The published layers: SQL over the warehouse marts with the privacy rules applied."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb

from crimemap.core.marts import DeclaredMart, Publication, published_marts
from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion.landing import LINEAGE_COLUMNS
from crimemap.warehouse.geoparquet import COVERING_COLUMN
from crimemap.warehouse.privacy import (
    LayerPrivacy,
    PrivacyRules,
    generalized_point_sql,
    hundred_block_points_sql,
    is_suppressed_sql,
    suppressed_count_sql,
)
from crimemap.warehouse.publish import LayerSpec
from crimemap.warehouse.suppression import suppress_cells

# The published schema and its version: what consumers may rely on (docs/manifest.md).
PUBLISHED_SCHEMA_PATH = Path(__file__).with_name("published_schema.json")

# Mart name -> column name -> description, as documented in the dbt project
# (crimemap.warehouse.column_docs.mart_column_descriptions).
ColumnDocs = Mapping[str, Mapping[str, str]]

AREA_GEOMETRY = "Area boundary polygon (dim_area), EPSG:4326 (lon/lat)."
CELL_GEOMETRY = "Analysis-grid cell polygon (dim_grid_cell), EPSG:4326 (lon/lat)."
COVERING_DESCRIPTION = (
    "Bounding box of the row's geometry (xmin, ymin, xmax, ymax), the GeoParquet 1.1 bbox "
    "covering readers use to skip row groups; NULL without geometry."
)


def layer_column_docs(
    docs: ColumnDocs,
    mart: str,
    *,
    area_name: bool = False,
    notes: Mapping[str, str] | None = None,
    own: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A layer's column descriptions: the mart's (and dim_area's area_name when joined), with
    ``notes`` appended where the layer changes a column and ``own`` for the columns it creates.

    A note is only added to a documented column: an undocumented one stays undocumented, so
    the gap shows instead of a half description.
    """
    result = dict(docs.get(mart, {}))
    area_docs = docs.get("dim_area", {})
    if area_name and "area_name" in area_docs:
        result.setdefault("area_name", area_docs["area_name"])
    for column, note in (notes or {}).items():
        if column in result:
            result[column] = f"{result[column]} {note}"
    return result | dict(own or {})


def _suppressed_note(k: int, *, complementary: bool = True) -> str:
    note = f"Suppressed (NULL) when between 1 and {k - 1}"
    if complementary:
        note += (
            ", and where complementary suppression hides it so a total cannot give a small "
            "count away"
        )
    return note + "."


def _suppressed_with_note(count: str) -> str:
    return f"Also NULL when {count} is suppressed."


def _suppressed_flag_doc(count: str, k: int) -> str:
    return (
        f"True when {count} is withheld: between 1 and {k - 1} (primary), or hidden so that "
        "no row or column total reveals another withheld count (complementary)."
    )


@dataclass(frozen=True)
class CellSuppression:
    """A mart's count withheld with complementary suppression. ``prepare`` registers ``table``
    (the keys and ``suppressed``) on the publishing connection for the layer's SQL to join."""

    mart: str
    keys: tuple[str, ...]
    count: str
    groups: tuple[tuple[str, ...], ...]  # families of cells bound by a (derivable) total
    k: int

    @property
    def table(self) -> str:
        return f"__crimemap_{self.mart}_suppression"

    def prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        columns = ", ".join(quote_ident(c) for c in (*self.keys, self.count))
        cells = con.execute(f"SELECT {columns} FROM {self.mart}").pl()
        marked = suppress_cells(cells, self.count, self.groups, self.k)
        con.register(self.table, marked.select([*self.keys, "suppressed"]).to_arrow())

    def privacy(self, flag: str, **checks: Any) -> LayerPrivacy:
        """The audit of this suppression (plus ``checks``), given the layer's flag column."""
        return LayerPrivacy(
            count_columns=(self.count,), suppressed_flag=flag, linked_groups=self.groups, **checks
        )


def incidents_layer(
    rules: PrivacyRules, projected_crs: str, timezone: str, id_salt: str, docs: ColumnDocs
) -> LayerSpec:
    """One row per offense. Sensitive offences keep only category, group and month: no point,
    no area, no day and no exact code, so a record cannot be tied to a place or a person."""
    generalization = (
        f"hundred-block centroid where at least {rules.min_cell_count} offenses share the block, "
        f"else {rules.point_cell_m:g} m grid-cell centroid in {projected_crs}"
        if rules.point_generalization == "hundred_block"
        else f"{rules.point_cell_m:g} m grid-cell centroid in {projected_crs}"
    )
    grid_point = generalized_point_sql("i.geom", projected_crs, rules.point_cell_m)
    if rules.point_generalization == "hundred_block":
        blocks = hundred_block_points_sql("fct_incidents", projected_crs, rules.min_cell_count)
        blocks_join = f"LEFT JOIN ({blocks}) AS b USING (source, block_address)"
        point = f"coalesce(b.block_point, {grid_point})"
        precision = (
            f"CASE WHEN b.block_point IS NULL THEN '{rules.point_precision}' "
            "ELSE 'hundred_block' END"
        )
    else:
        blocks_join = ""
        point = grid_point
        precision = f"'{rules.point_precision}'"
    # The published id is a salted hash: a plain hash of the key could be reversed to the
    # report number by hashing candidate numbers.
    query = f"""
        SELECT
            md5({sql_literal(id_salt)} || i.offense_key) AS offense_id,
            i.category,
            CASE WHEN i.is_sensitive THEN NULL ELSE i.nibrs_code END AS nibrs_code,
            i.nibrs_group,
            i.crime_against,
            i.is_sensitive,
            CASE
                WHEN i.is_sensitive THEN NULL
                ELSE timezone('{timezone}', i.occurred_at)::DATE
            END AS occurred_date,
            year(i.occurred_month)::INTEGER AS year,
            month(i.occurred_month)::INTEGER AS month,
            CASE WHEN i.is_sensitive THEN NULL ELSE i.area_id END AS area_id,
            CASE WHEN i.is_sensitive OR i.geom IS NULL THEN 'none' ELSE {precision} END
                AS location_precision,
            CASE WHEN i.is_sensitive OR i.geom IS NULL THEN NULL ELSE {point} END AS geometry
        FROM fct_incidents AS i
        {blocks_join}
    """
    return LayerSpec(
        name="incidents",
        query=query,
        spatial=True,
        description=(
            "One row per offense, partitioned by year and month. Points are generalized "
            f"({generalization}); sensitive offences have no geometry, area, day or offense code."
        ),
        time_column="occurred_date",
        partition_by=("year", "month"),
        privacy=LayerPrivacy(incident_points=True),
        column_descriptions=layer_column_docs(
            docs,
            "fct_incidents",
            notes={
                "nibrs_code": "NULL for sensitive offences.",
                "area_id": "NULL for sensitive offences.",
            },
            own={
                "offense_id": (
                    "Published offense id: a salted hash of the offense key, stable from "
                    "release to release; it cannot be traced back to a report number."
                ),
                "occurred_date": (
                    "Local date (jurisdiction time zone) the offense started; NULL for "
                    "sensitive offences."
                ),
                "year": "Year of the local month the offense started (hive partition).",
                "month": (
                    "Month number (1-12) of the local month the offense started (hive partition)."
                ),
                "location_precision": (
                    f"'{rules.point_precision}' when the point is generalized to its "
                    f"{rules.point_cell_m:g} m grid cell; 'hundred_block' when it is the "
                    f"centroid of a hundred block at least {rules.min_cell_count} offenses "
                    "share; 'none' without a point (sensitive offences and offenses without "
                    "coordinates)."
                ),
                "geometry": (
                    f"Offense location, generalized ({generalization}), POINT in EPSG:4326 "
                    "(lon/lat); NULL for sensitive offences and offenses without coordinates."
                ),
            },
        ),
    )


AREA_MONTH_GROUPS = (("area_id", "month"), ("month", "category"))


def area_month_rates_layer(rules: PrivacyRules, docs: ColumnDocs) -> LayerSpec:
    """Counts below k hide with their rates; so do the complementary cells that would give them
    away through the area's 'all' row or the city's monthly total of a category (which the
    incidents layer reveals)."""
    k = rules.min_cell_count
    suppression = CellSuppression(
        "area_month_rates", ("area_id", "month", "category"), "incident_count", AREA_MONTH_GROUPS, k
    )
    hidden = "s.suppressed"
    query = f"""
        SELECT
            r.area_id,
            a.area_name,
            r.month,
            r.category,
            CASE WHEN {hidden} THEN NULL ELSE r.incident_count END AS incident_count,
            {hidden} AS count_suppressed,
            r.population,
            CASE WHEN {hidden} OR r.rate_suppressed THEN NULL ELSE r.rate_per_1000 END
                AS rate_per_1000,
            -- The smoothed rate is a known blend of the raw rate and the city mean: it goes
            -- wherever the raw rate goes.
            CASE WHEN {hidden} OR r.rate_suppressed THEN NULL ELSE r.eb_rate_per_1000 END
                AS eb_rate_per_1000,
            r.rate_suppressed,
            a.geom AS geometry
        FROM area_month_rates AS r
        JOIN dim_area AS a USING (area_id)
        JOIN {suppression.table} AS s USING (area_id, month, category)
    """
    return LayerSpec(
        name="area_month_rates",
        query=query,
        spatial=True,
        description=(
            f"Offense counts, rates and empirical-Bayes smoothed rates per 1,000 residents by "
            f"area, month and category. Counts below {k} are suppressed with their rates, with "
            f"complementary suppression; rates are empty below the population floor."
        ),
        time_column="month",
        prepare=suppression.prepare,
        privacy=suppression.privacy(
            "count_suppressed",
            rate_columns=("rate_per_1000", "eb_rate_per_1000"),
            population_column="population",
        ),
        column_descriptions=layer_column_docs(
            docs,
            "area_month_rates",
            area_name=True,
            notes={
                "incident_count": _suppressed_note(k),
                "rate_per_1000": _suppressed_with_note("incident_count"),
                "eb_rate_per_1000": _suppressed_with_note("incident_count"),
            },
            own={
                "count_suppressed": _suppressed_flag_doc("incident_count", k),
                "geometry": AREA_GEOMETRY,
            },
        ),
    )


def offense_spikes_layer(rules: PrivacyRules, docs: ColumnDocs) -> LayerSpec:
    """Every observed count and what reveals it (ratio, p-value, summary) follows the k rule,
    with complementary suppression over the area's 'all' row and the city's monthly totals."""
    k = rules.min_cell_count
    suppression = CellSuppression(
        "offense_spikes", ("area_id", "month", "category"), "observed", AREA_MONTH_GROUPS, k
    )
    small = "x.suppressed"
    query = f"""
        SELECT
            s.area_id,
            a.area_name,
            s.month,
            s.category,
            CASE WHEN {small} THEN NULL ELSE s.observed END AS observed,
            {small} AS observed_suppressed,
            s.baseline_mean,
            s.baseline_months,
            s.expected,
            CASE WHEN {small} THEN NULL ELSE s.ratio END AS ratio,
            CASE WHEN {small} THEN NULL ELSE s.p_value END AS p_value,
            s.is_spike,
            CASE WHEN {small} THEN NULL ELSE s.summary END AS summary,
            a.geom AS geometry
        FROM offense_spikes AS s
        JOIN dim_area AS a USING (area_id)
        JOIN {suppression.table} AS x USING (area_id, month, category)
    """
    return LayerSpec(
        name="offense_spikes",
        query=query,
        spatial=True,
        description=(
            "Offenses per area, category and month against their trailing usual level (Poisson "
            f"exceedance); is_spike marks the months to look at. Counts below {k} are "
            "suppressed, with complementary suppression."
        ),
        time_column="month",
        prepare=suppression.prepare,
        privacy=suppression.privacy("observed_suppressed"),
        column_descriptions=layer_column_docs(
            docs,
            "offense_spikes",
            area_name=True,
            notes={
                "observed": _suppressed_note(k),
                "ratio": _suppressed_with_note("observed"),
                "p_value": _suppressed_with_note("observed"),
                "summary": _suppressed_with_note("observed"),
            },
            own={
                "observed_suppressed": _suppressed_flag_doc("observed", k),
                "geometry": AREA_GEOMETRY,
            },
        ),
    )


def hotspots_layer(rules: PrivacyRules, docs: ColumnDocs) -> LayerSpec:
    k = rules.min_cell_count
    # The city's monthly total is the sum over cells (and the incidents layer reveals it).
    suppression = CellSuppression(
        "hotspots", ("cell_id", "month"), "incident_count", (("month",),), k
    )
    query = f"""
        SELECT
            h.cell_id,
            h.month,
            CASE WHEN x.suppressed THEN NULL ELSE h.incident_count END AS incident_count,
            x.suppressed AS count_suppressed,
            h.gi_star_z,
            h.p_value,
            h.q_value,
            h.confidence_bin,
            c.geom AS geometry
        FROM hotspots AS h
        JOIN dim_grid_cell AS c USING (cell_id)
        JOIN {suppression.table} AS x USING (cell_id, month)
    """
    return LayerSpec(
        name="hotspots",
        query=query,
        spatial=True,
        description=(
            "Getis-Ord Gi* per analysis-grid cell and month with Benjamini-Hochberg q-values and "
            "confidence bins -3..+3 (hot spots positive). Sensitive offences are not on the grid. "
            f"Counts below {k} are suppressed, with complementary suppression."
        ),
        time_column="month",
        prepare=suppression.prepare,
        privacy=suppression.privacy("count_suppressed"),
        column_descriptions=layer_column_docs(
            docs,
            "hotspots",
            notes={"incident_count": _suppressed_note(k)},
            own={
                "count_suppressed": _suppressed_flag_doc("incident_count", k),
                "geometry": CELL_GEOMETRY,
            },
        ),
    )


def emerging_hotspots_layer(docs: ColumnDocs) -> LayerSpec:
    query = """
        SELECT e.* EXCLUDE (final_z), c.geom AS geometry
        FROM emerging_hotspots AS e
        JOIN dim_grid_cell AS c USING (cell_id)
    """
    return LayerSpec(
        name="emerging_hotspots",
        query=query,
        spatial=True,
        description=(
            "Emerging hot spot class per analysis-grid cell (new, consecutive, intensifying, "
            "persistent, diminishing, sporadic, oscillating, historical; hot and cold) from the "
            "Mann-Kendall trend of its Gi* series."
        ),
        column_descriptions=layer_column_docs(
            docs, "emerging_hotspots", own={"geometry": CELL_GEOMETRY}
        ),
    )


def service_access_layer(docs: ColumnDocs) -> LayerSpec:
    query = """
        SELECT
            s.* EXCLUDE (origin_x, origin_y),
            a.area_name,
            a.geom AS geometry
        FROM service_access AS s
        JOIN dim_area AS a USING (area_id)
    """
    return LayerSpec(
        name="service_access",
        query=query,
        spatial=True,
        description=(
            "Per area and facility type: distance to the nearest facility, facilities per 10,000 "
            "residents and the two-step floating catchment (2SFCA) accessibility score."
        ),
        column_descriptions=layer_column_docs(
            docs, "service_access", area_name=True, own={"geometry": AREA_GEOMETRY}
        ),
    )


def priority_areas_layer(rules: PrivacyRules, docs: ColumnDocs) -> LayerSpec:
    """A small count hides with everything that reveals it: its rate, z-score and share."""
    k = rules.min_cell_count

    def component(name: str) -> str:
        small = is_suppressed_sql(f"p.{name}_count", k)
        return f"""
            {suppressed_count_sql(f"p.{name}_count", k)} AS {name}_count,
            CASE WHEN {small} THEN NULL ELSE p.{name}_rate END AS {name}_rate,
            CASE WHEN {small} THEN NULL ELSE p.{name}_z END AS {name}_z,
            CASE WHEN {small} THEN NULL ELSE p.{name}_contribution END AS {name}_contribution"""

    replaced = [
        f"{name}_{part}"
        for name in ("person_crime", "mental_health")
        for part in ("count", "rate", "z", "contribution")
    ]
    query = f"""
        SELECT
            p.* EXCLUDE ({", ".join(replaced)}),
            {component("person_crime")},
            {component("mental_health")},
            a.geom AS geometry
        FROM priority_areas AS p
        JOIN dim_area AS a USING (area_id)
    """
    return LayerSpec(
        name="priority_areas",
        query=query,
        spatial=True,
        description=(
            "Composite need index per area (person-crime and mental-health-related rates, "
            "deprivation, service-access gap; standardized, weighted as the jurisdiction set "
            f"them) and its rank: where outreach should go first. Counts below {k} are "
            "suppressed with their rates and z-scores."
        ),
        privacy=LayerPrivacy(
            count_columns=("person_crime_count", "mental_health_count"),
            rate_columns=("person_crime_rate", "mental_health_rate"),
            population_column="population",
        ),
        column_descriptions=layer_column_docs(
            docs,
            "priority_areas",
            notes={
                column: (
                    _suppressed_note(k, complementary=False)
                    if column.endswith("_count")
                    else _suppressed_with_note(f"{column.rsplit('_', 1)[0]}_count")
                )
                for column in replaced
            },
            own={"geometry": AREA_GEOMETRY},
        ),
    )


def hotspot_forecast_layer(docs: ColumnDocs) -> LayerSpec:
    query = """
        SELECT f.*, c.geom AS geometry
        FROM hotspot_forecast AS f
        JOIN dim_grid_cell AS c USING (cell_id)
    """
    return LayerSpec(
        name="hotspot_forecast",
        query=query,
        spatial=True,
        description=(
            "Next month's expected offenses per analysis-grid cell and their rank; "
            "top_area_share marks the cells a patrol or outreach plan at that share would cover. "
            "Its accuracy on held-back months is the hotspot_forecast_scores layer."
        ),
        time_column="forecast_month",
        column_descriptions=layer_column_docs(
            docs, "hotspot_forecast", own={"geometry": CELL_GEOMETRY}
        ),
    )


def areas_layer(docs: ColumnDocs) -> LayerSpec:
    """The areas with their census indicators (public ACS estimates) and boundaries."""
    return LayerSpec(
        name="areas",
        query=(
            f"SELECT * EXCLUDE (geom, {', '.join(LINEAGE_COLUMNS)}), geom AS geometry FROM dim_area"
        ),
        spatial=True,
        description=(
            "The jurisdiction's areas (census tracts or the configured boundaries) with "
            "population and ACS indicators, their margins of error and reliability flags."
        ),
        column_descriptions=layer_column_docs(docs, "dim_area", own={"geometry": AREA_GEOMETRY}),
    )


def grid_cells_layer(docs: ColumnDocs) -> LayerSpec:
    return LayerSpec(
        name="grid_cells",
        query="SELECT * EXCLUDE (geom), geom AS geometry FROM dim_grid_cell",
        spatial=True,
        description=(
            "The analysis grid behind the hotspot, emerging-hotspot and forecast layers: one "
            "polygon per cell, in EPSG:4326."
        ),
        column_descriptions=layer_column_docs(
            docs, "dim_grid_cell", own={"geometry": CELL_GEOMETRY}
        ),
    )


def facilities_layer(docs: ColumnDocs) -> LayerSpec:
    """Public service locations; the street address stays internal (the point carries it)."""
    facility_docs = docs.get("dim_facility", {})
    return LayerSpec(
        name="facilities",
        query="""
            SELECT facility_id, name AS facility_name, facility_type, area_id,
                   assignment_method, geom AS geometry
            FROM dim_facility
        """,
        spatial=True,
        description="Social-service facilities (public listings) by type, with their area.",
        column_descriptions=layer_column_docs(
            docs,
            "dim_facility",
            own={
                "facility_name": facility_docs.get("name", "Facility name, as listed."),
                "geometry": "Facility location, POINT in EPSG:4326 (lon/lat).",
            },
        ),
    )


def service_requests_layer(rules: PrivacyRules, docs: ColumnDocs) -> LayerSpec:
    """311 requests per area, month and type; small counts hide with their median."""
    k = rules.min_cell_count
    small = is_suppressed_sql("r.requests", k)
    query = f"""
        SELECT
            r.area_id,
            a.area_name,
            r.month,
            r.request_type,
            {suppressed_count_sql("r.requests", k)} AS requests,
            CASE WHEN {small} THEN NULL ELSE {suppressed_count_sql("r.closed_requests", k)} END
                AS closed_requests,
            CASE WHEN {small} THEN NULL ELSE r.median_days_to_close END AS median_days_to_close,
            a.geom AS geometry
        FROM service_requests_area_month AS r
        JOIN dim_area AS a USING (area_id)
    """
    return LayerSpec(
        name="service_requests_area_month",
        query=query,
        spatial=True,
        description=(
            "311 service requests per area, month and request type: requests, closed requests "
            f"and the median days to close. Counts below {k} are suppressed."
        ),
        time_column="month",
        privacy=LayerPrivacy(count_columns=("requests", "closed_requests")),
        column_descriptions=layer_column_docs(
            docs,
            "service_requests_area_month",
            area_name=True,
            notes={
                "requests": _suppressed_note(k, complementary=False),
                "closed_requests": _suppressed_note(k, complementary=False)
                + " Also NULL when requests is suppressed.",
                "median_days_to_close": _suppressed_with_note("requests"),
            },
            own={"geometry": AREA_GEOMETRY},
        ),
    )


def survey_responses_layer(rules: PrivacyRules, docs: ColumnDocs) -> LayerSpec:
    """Resident survey shares per area; respondent counts below k are withheld too."""
    k = rules.min_cell_count
    query = f"""
        SELECT
            s.* EXCLUDE (area_respondents, respondents),
            {suppressed_count_sql("s.area_respondents", k)} AS area_respondents,
            {suppressed_count_sql("s.respondents", k)} AS respondents,
            a.geom AS geometry
        FROM survey_area_responses AS s
        JOIN dim_area AS a USING (area_id)
    """
    return LayerSpec(
        name="survey_area_responses",
        query=query,
        spatial=True,
        description=(
            "Weighted share of residents answering each survey question per area; shares resting "
            f"on too few answers are suppressed, and respondent counts below {k} are withheld."
        ),
        privacy=LayerPrivacy(count_columns=("area_respondents", "respondents")),
        column_descriptions=layer_column_docs(
            docs,
            "survey_area_responses",
            notes={
                "area_respondents": _suppressed_note(k, complementary=False),
                "respondents": _suppressed_note(k, complementary=False),
            },
            own={"geometry": AREA_GEOMETRY},
        ),
    )


def as_built_layer(mart: str, publication: Publication, docs: ColumnDocs) -> LayerSpec:
    """A mart published as built (statistics over many areas, with no small cells), described
    by its model YAML's ``meta.publish``."""
    return LayerSpec(
        name=publication.layer,
        query=f"SELECT * FROM {mart}",
        spatial=False,
        description=publication.description or "",
        time_column=publication.time_column,
        column_descriptions=layer_column_docs(docs, mart),
    )


def quality_scorecard_layer(docs: ColumnDocs) -> LayerSpec:
    """The scorecard as built: counts of records per source and month, never per place, so
    no small-cell rule applies."""
    return LayerSpec(
        name="quality_scorecard",
        query="SELECT * FROM quality_scorecard ORDER BY family, source, month NULLS LAST",
        spatial=False,
        description=(
            "Data quality per source and month: rows landed, accepted and quarantined, "
            "completeness, geocoding, out-of-jurisdiction and duplicate rates, crosswalk "
            "coverage, reporting lag percentiles and quarantined rows per reason code."
        ),
        time_column="month",
        column_descriptions=layer_column_docs(docs, "quality_scorecard"),
    )


def mart_layer(
    mart: DeclaredMart, treated: Mapping[str, Callable[[], LayerSpec]], docs: ColumnDocs
) -> LayerSpec:
    """The layer of one published mart: its layer function, or the mart as built."""
    publication = mart.publication
    assert publication is not None
    if publication.as_built:
        if mart.name in treated:
            raise ValueError(f"{mart.name}: published as built, yet it has a layer function")
        return as_built_layer(mart.name, publication, docs)
    if mart.name not in treated:
        raise ValueError(f"{mart.name}: meta.publish without as_built needs a layer function")
    layer = treated[mart.name]()
    if layer.name != publication.layer:
        raise ValueError(
            f"{mart.name}: meta.publish names {publication.layer!r}, not {layer.name!r}"
        )
    return layer


def published_layers(
    rules: PrivacyRules,
    projected_crs: str,
    timezone: str,
    id_salt: str,
    column_docs: ColumnDocs | None = None,
) -> list[LayerSpec]:
    """The release's layers; ``column_docs`` (the dbt marts' column descriptions) describes
    their columns in the manifest and the serving database."""
    docs: ColumnDocs = column_docs or {}
    # The marts whose layer treats them for privacy (or orders them); every other published
    # mart is published as built.
    treated: dict[str, Callable[[], LayerSpec]] = {
        "dim_area": lambda: areas_layer(docs),
        "dim_grid_cell": lambda: grid_cells_layer(docs),
        "dim_facility": lambda: facilities_layer(docs),
        "area_month_rates": lambda: area_month_rates_layer(rules, docs),
        "fct_incidents": lambda: incidents_layer(rules, projected_crs, timezone, id_salt, docs),
        "quality_scorecard": lambda: quality_scorecard_layer(docs),
        "offense_spikes": lambda: offense_spikes_layer(rules, docs),
        "hotspots": lambda: hotspots_layer(rules, docs),
        "emerging_hotspots": lambda: emerging_hotspots_layer(docs),
        "service_access": lambda: service_access_layer(docs),
        "priority_areas": lambda: priority_areas_layer(rules, docs),
        "service_requests_area_month": lambda: service_requests_layer(rules, docs),
        "survey_area_responses": lambda: survey_responses_layer(rules, docs),
        "hotspot_forecast": lambda: hotspot_forecast_layer(docs),
    }
    layers = [mart_layer(mart, treated, docs) for mart in published_marts()]
    unpublished = sorted(set(treated) - {m.name for m in published_marts()})
    if unpublished:
        raise ValueError(f"layer functions for marts without meta.publish: {unpublished}")
    # The writer adds the covering column to every spatial file.
    return [
        replace(
            layer,
            column_descriptions={COVERING_COLUMN: COVERING_DESCRIPTION}
            | dict(layer.column_descriptions),
        )
        if layer.spatial
        else layer
        for layer in layers
    ]
