"""The published layers: SQL over the warehouse marts with the privacy rules applied."""

from __future__ import annotations

from warehouse.privacy import (
    PrivacyRules,
    generalized_point_sql,
    is_suppressed_sql,
    suppressed_count_sql,
)
from warehouse.publish import LayerSpec


def incidents_layer(
    rules: PrivacyRules, projected_crs: str, timezone: str, id_salt: str
) -> LayerSpec:
    """One row per offense. Sensitive offences keep only category, group and month: no point,
    no area, no day and no exact code, so a record cannot be tied to a place or a person."""
    point = generalized_point_sql("geom", projected_crs, rules.point_cell_m)
    # The published id is a salted hash: a plain hash of the key could be reversed to the
    # report number by hashing candidate numbers.
    salt = id_salt.replace("'", "''")
    query = f"""
        SELECT
            md5('{salt}' || offense_key) AS offense_id,
            category,
            CASE WHEN is_sensitive THEN NULL ELSE nibrs_code END AS nibrs_code,
            nibrs_group,
            crime_against,
            is_sensitive,
            CASE
                WHEN is_sensitive THEN NULL
                ELSE timezone('{timezone}', occurred_at)::DATE
            END AS occurred_date,
            year(occurred_month)::INTEGER AS year,
            month(occurred_month)::INTEGER AS month,
            CASE WHEN is_sensitive THEN NULL ELSE area_id END AS area_id,
            CASE
                WHEN is_sensitive OR geom IS NULL THEN 'none'
                ELSE 'grid_{rules.point_cell_m:g}m'
            END AS location_precision,
            CASE WHEN is_sensitive OR geom IS NULL THEN NULL ELSE {point} END AS geometry
        FROM fct_incidents
    """
    return LayerSpec(
        name="incidents",
        query=query,
        spatial=True,
        description=(
            "One row per offense. Points are generalized to grid-cell centroids; sensitive "
            "offences have no geometry, area, day or offense code."
        ),
        time_column="occurred_date",
    )


def area_month_rates_layer(rules: PrivacyRules) -> LayerSpec:
    k = rules.min_cell_count
    query = f"""
        SELECT
            r.area_id,
            a.area_name,
            r.month,
            r.category,
            {suppressed_count_sql("r.incident_count", k)} AS incident_count,
            {is_suppressed_sql("r.incident_count", k)} AS count_suppressed,
            r.population,
            CASE
                WHEN {is_suppressed_sql("r.incident_count", k)} OR r.rate_suppressed THEN NULL
                ELSE r.rate_per_1000
            END AS rate_per_1000,
            r.rate_suppressed,
            a.geom AS geometry
        FROM area_month_rates AS r
        JOIN dim_area AS a USING (area_id)
    """
    return LayerSpec(
        name="area_month_rates",
        query=query,
        spatial=True,
        description=(
            f"Offense counts and rates per 1,000 residents by area, month and category. Counts "
            f"below {k} are suppressed; rates are empty below the population floor."
        ),
        time_column="month",
    )


def quality_scorecard_layer() -> LayerSpec:
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
    )


def published_layers(
    rules: PrivacyRules, projected_crs: str, timezone: str, id_salt: str
) -> list[LayerSpec]:
    return [
        area_month_rates_layer(rules),
        incidents_layer(rules, projected_crs, timezone, id_salt),
        quality_scorecard_layer(),
    ]
