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
            -- The smoothed rate is a known blend of the raw rate and the city mean: it goes
            -- wherever the raw rate goes.
            CASE
                WHEN {is_suppressed_sql("r.incident_count", k)} OR r.rate_suppressed THEN NULL
                ELSE r.eb_rate_per_1000
            END AS eb_rate_per_1000,
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
            f"Offense counts, rates and empirical-Bayes smoothed rates per 1,000 residents by "
            f"area, month and category. Counts below {k} are suppressed with their rates; rates "
            f"are empty below the population floor."
        ),
        time_column="month",
        count_columns=("incident_count",),
    )


def offense_spikes_layer(rules: PrivacyRules) -> LayerSpec:
    """Every observed count and what reveals it (ratio, p-value, summary) follows the k rule."""
    k = rules.min_cell_count
    small = is_suppressed_sql("s.observed", k)
    query = f"""
        SELECT
            s.area_id,
            a.area_name,
            s.month,
            s.category,
            {suppressed_count_sql("s.observed", k)} AS observed,
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
    """
    return LayerSpec(
        name="offense_spikes",
        query=query,
        spatial=True,
        description=(
            "Offenses per area, category and month against their trailing usual level (Poisson "
            f"exceedance); is_spike marks the months to look at. Counts below {k} are suppressed."
        ),
        time_column="month",
        count_columns=("observed",),
    )


def hotspots_layer(rules: PrivacyRules) -> LayerSpec:
    k = rules.min_cell_count
    query = f"""
        SELECT
            h.cell_id,
            h.month,
            {suppressed_count_sql("h.incident_count", k)} AS incident_count,
            h.gi_star_z,
            h.p_value,
            h.q_value,
            h.confidence_bin,
            c.geom AS geometry
        FROM hotspots AS h
        JOIN dim_grid_cell AS c USING (cell_id)
    """
    return LayerSpec(
        name="hotspots",
        query=query,
        spatial=True,
        description=(
            "Getis-Ord Gi* per analysis-grid cell and month with Benjamini-Hochberg q-values and "
            "confidence bins -3..+3 (hot spots positive). Sensitive offences are not on the grid. "
            f"Counts below {k} are suppressed."
        ),
        time_column="month",
        count_columns=("incident_count",),
    )


def emerging_hotspots_layer() -> LayerSpec:
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
    )


def service_access_layer() -> LayerSpec:
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
    )


def priority_areas_layer(rules: PrivacyRules) -> LayerSpec:
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
        count_columns=("person_crime_count", "mental_health_count"),
    )


def hotspot_forecast_layer() -> LayerSpec:
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
    )


def table_layer(name: str, description: str, time_column: str | None = None) -> LayerSpec:
    """A mart published as built: statistics over many areas, with no small cells."""
    return LayerSpec(
        name=name,
        query=f"SELECT * FROM {name}",
        spatial=False,
        description=description,
        time_column=time_column,
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
        offense_spikes_layer(rules),
        hotspots_layer(rules),
        emerging_hotspots_layer(),
        service_access_layer(),
        priority_areas_layer(rules),
        table_layer(
            "crime_social_correlation",
            "Spearman correlation of area crime rates with each social indicator, with n and a "
            "95% confidence interval.",
        ),
        hotspot_forecast_layer(),
        table_layer(
            "hotspot_forecast_scores",
            "Accuracy of the hotspot forecast and of the naive last-month baseline on held-back "
            "months: hit rate, PAI and PEI at each configured share of cells.",
            time_column="month",
        ),
        table_layer(
            "initiative_impact",
            "Difference-in-differences estimate of each declared initiative against comparison "
            "areas, with its standard error and 95% confidence interval.",
            time_column="start_month",
        ),
    ]
