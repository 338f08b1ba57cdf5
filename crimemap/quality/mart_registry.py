"""Which Great Expectations suite judges each mart, with the jurisdiction's settings.

A mart with a contract has a suite: its own from ``crimemap.quality.mart_suites`` (settings from
the jurisdiction's YAML), or the one its dbt YAML declares (``config.meta.suite``). Suites that
need the jurisdiction's extent read it from the conformed areas when the check runs.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.core.marts import contracted_marts, declared_marts
from crimemap.quality.mart_suites import (
    area_indicators_suite,
    area_month_rates_suite,
    crime_social_correlation_suite,
    declared_suite,
    dim_area_suite,
    dim_facility_suite,
    dim_grid_cell_suite,
    emerging_hotspots_suite,
    fct_incidents_suite,
    hotspot_forecast_predictions_suite,
    hotspot_forecast_scores_suite,
    hotspot_forecast_suite,
    hotspots_suite,
    initiative_impact_suite,
    offense_spikes_suite,
    priority_areas_suite,
    service_access_suite,
    service_requests_area_month_suite,
    survey_area_responses_suite,
)
from crimemap.quality.rules import areas_bbox
from crimemap.quality.suites import SuiteSpec

# A suite built when its check runs, from the path of the conformed areas.
MartSuite = Callable[[Path], SuiteSpec]


def mart_suites(config: JurisdictionConfig) -> dict[str, tuple[str, MartSuite]]:
    """The suite of every mart with a contract (every mart outside marts/quality), with its
    description: its own suite with the jurisdiction's settings, or the one its YAML declares."""
    sources = [s.name for s in config.police]
    indicators = list(config.indicators.indicator_names)
    questions = [q.name for q in config.surveys.layout.questions]
    threshold = config.indicators.cv_threshold_pct
    police_start = config.police_start_month
    requests_start = config.service_requests.start_month
    min_responses = config.surveys.min_responses
    analysis = config.analysis
    initiatives = [i.name for i in analysis.initiatives]

    def rows_from(source: str) -> int:
        """A mart built from a source the jurisdiction does not have is empty, not broken."""
        return 0 if source in config.absent_sources else 1

    def now() -> datetime:
        # Judged when the check runs, not when the definitions load.
        return datetime.now(UTC)

    suites: dict[str, tuple[str, MartSuite]] = {
        "fct_incidents": (
            "GX suite fct_incidents_mart: unique offense keys, configured sources, the category "
            "taxonomy, unmapped codes sensitive, no point exactly when precision is 'none', "
            "areas exactly when assigned, nothing occurred after it was landed.",
            lambda areas: fct_incidents_suite(sources, start=police_start, bbox=areas_bbox(areas)),
        ),
        "dim_area": (
            "GX suite dim_area_mart: one polygon per area id, positive size, counts and rates in "
            "range, missing indicators flagged unreliable.",
            lambda areas: dim_area_suite(),
        ),
        "area_indicators": (
            "GX suite area_indicators_mart: one row per area x indicator, estimates and margins "
            "non-negative, proportions within 0..1, the reliability flag as its CV says.",
            lambda areas: area_indicators_suite(
                indicators, cv_threshold_pct=threshold, min_rows=rows_from("area_indicators")
            ),
        ),
        "area_month_rates": (
            "GX suite area_month_rates_mart: one row per area x month x category, months from "
            "the police start month, reports <= offenses, rates exactly when not suppressed.",
            lambda areas: area_month_rates_suite(
                start=police_start, now=now(), min_population=analysis.min_population
            ),
        ),
        "offense_spikes": (
            "GX suite offense_spikes_mart: one row per area x month x category, a usual level, "
            "expected count, ratio and p-value exactly when there is history, is_spike exactly "
            "as the jurisdiction's spike rules say.",
            lambda areas: offense_spikes_suite(
                start=police_start,
                now=now(),
                baseline_months=analysis.spike_baseline_months,
                min_baseline_months=analysis.spike_min_baseline_months,
                alpha=analysis.spike_alpha,
                min_count=analysis.spike_min_count,
                min_ratio=analysis.spike_min_ratio,
            ),
        ),
        "dim_facility": (
            "GX suite dim_facility_mart: unique ids, canonical service types, points in the "
            "jurisdiction's extent, areas exactly when assigned.",
            lambda areas: dim_facility_suite(
                bbox=areas_bbox(areas), min_rows=rows_from("facilities")
            ),
        ),
        "service_requests_area_month": (
            "GX suite service_requests_area_month_mart: one row per area x month x request type, "
            "closed <= opened, no median without a closure.",
            lambda areas: service_requests_area_month_suite(start=requests_start, now=now()),
        ),
        "service_access": (
            "GX suite service_access_mart: one row per area x facility type (and 'all'), "
            "distances >= 0 exactly with a nearest facility, the configured catchment, a 2SFCA "
            "score of 0 with no facility in reach and the nearest within reach otherwise.",
            lambda areas: service_access_suite(
                catchment_m=analysis.catchment_m, min_rows=rows_from("facilities")
            ),
        ),
        "priority_areas": (
            "GX suite priority_areas_mart: one row per area, an exclusion reason exactly when "
            "not ranked, the index and capped contributions in range, the configured weights.",
            lambda areas: priority_areas_suite(
                weights=analysis.priority_weights,
                min_population=analysis.min_population,
                unavailable=config.unavailable_priority_components,
                indicator_weights={i["name"]: i["weight"] for i in config.priority_indicators},
            ),
        ),
        "survey_area_responses": (
            "GX suite survey_area_responses_mart: one row per area x survey x question, "
            "respondents <= area respondents, suppressed cells without a share.",
            lambda areas: survey_area_responses_suite(questions, min_responses=min_responses),
        ),
        "crime_social_correlation": (
            "GX suite crime_social_correlation_mart: one row per crime measure x indicator, "
            "no correlation under 4 areas, rho within its 95% interval, p-values within 0..1.",
            lambda areas: crime_social_correlation_suite(indicators=config.indicators.measures),
        ),
        "initiative_impact": (
            "GX suite initiative_impact_mart: one row per declared initiative, no "
            "configuration error, estimates exactly with areas on both sides, the estimate "
            "within its 95% interval, a relative effect of at least -100%.",
            lambda areas: initiative_impact_suite(initiatives),
        ),
        "dim_grid_cell": (
            "GX suite dim_grid_cell_mart: unique cell ids and lattice positions, the configured "
            "grid shape and size, the cell's area, the part in the jurisdiction within it.",
            lambda areas: dim_grid_cell_suite(
                grid_shape=analysis.grid_shape,
                cell_size_m=analysis.grid_cell_m,
                bbox=areas_bbox(areas),
            ),
        ),
        "hotspots": (
            "GX suite hotspots_mart: one row per cell x month, p and q exactly with a z score, "
            "q >= p, confidence bins as q and the sign of z say.",
            lambda areas: hotspots_suite(start=police_start, now=now()),
        ),
        "emerging_hotspots": (
            "GX suite emerging_hotspots_mart: one class per cell, run and period counts "
            "consistent, the trend as Mann-Kendall's p and S say, hot / cold classes exactly "
            "when the final month is hot / cold.",
            lambda areas: emerging_hotspots_suite(start=police_start, now=now()),
        ),
        "hotspot_forecast_predictions": (
            "GX suite hotspot_forecast_predictions_mart: one prediction per model x month x "
            "cell and one cell per rank, actual counts exactly for held-back months.",
            lambda areas: hotspot_forecast_predictions_suite(start=police_start, now=now()),
        ),
        "hotspot_forecast": (
            "GX suite hotspot_forecast_mart: one row per cell and per rank, one forecast month "
            "at most a month ahead, top area shares among the configured ones.",
            lambda areas: hotspot_forecast_suite(
                start=police_start, now=now(), area_shares=analysis.forecast_area_shares
            ),
        ),
        "hotspot_forecast_scores": (
            "GX suite hotspot_forecast_scores_mart: one row per model x share x scope x month, "
            "hits <= offenses, hit rate and PEI within 0..1, a lift only for the forecast.",
            lambda areas: hotspot_forecast_scores_suite(
                start=police_start,
                now=now(),
                area_shares=analysis.forecast_area_shares,
                holdout_months=analysis.forecast_holdout_months,
            ),
        ),
    }
    stray = sorted(set(suites) - set(contracted_marts()))
    if stray:
        raise ValueError(f"suites for marts that are not declared with a contract: {stray}")
    return {mart: suites.get(mart) or declared_suite_entry(mart) for mart in contracted_marts()}


def declared_suite_entry(mart: str) -> tuple[str, MartSuite]:
    """A mart without a suite of its own: the one its YAML declares (``meta.suite``)."""
    declared = declared_marts()[mart]
    if not declared.suite:
        raise ValueError(
            f"mart {mart} has no suite: write one in crimemap/quality/mart_suites.py or "
            "declare config.meta.suite in its YAML"
        )
    return (
        f"GX suite {mart}_mart: the columns its YAML declares and its meta.suite.",
        lambda areas: declared_suite(declared),
    )
