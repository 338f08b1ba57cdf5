-- One row per area, the unit of analysis: polygon, size and the headline ACS indicators
-- (apportioned from the indicators' own geography when it differs), with reliability flags.
with

areas as (

    select * from {{ ref('stg_boundaries__areas') }}

),

indicators as (

    select * from {{ ref('int_area_indicators__apportioned') }}

),

pivoted as (

    select
        area_id,
        max(estimate) filter (where indicator = 'population')              as population,
        max(moe) filter (where indicator = 'population')                   as population_moe,
        max(estimate) filter (where indicator = 'poverty_universe')        as poverty_universe,
        max(estimate) filter (where indicator = 'below_poverty')           as poverty_count,
        max(estimate) filter (where indicator = 'labor_force')             as labor_force,
        max(estimate) filter (where indicator = 'unemployed')              as unemployed,
        max(estimate) filter (where indicator = 'poverty_rate')            as poverty_rate,
        max(moe) filter (where indicator = 'poverty_rate')                 as poverty_rate_moe,
        max(estimate) filter (where indicator = 'unemployment_rate')       as unemployment_rate,
        max(moe) filter (where indicator = 'unemployment_rate')            as unemployment_rate_moe,
        max(estimate) filter (where indicator = 'median_household_income')
            as median_household_income,
        max(estimate) filter (where indicator = 'share_under_18')          as share_under_18,
        max(estimate) filter (where indicator = 'share_65_plus')           as share_65_plus,
        bool_or(unreliable) filter (where indicator = 'population')        as population_unreliable,
        bool_or(unreliable) filter (where indicator = 'poverty_rate')
            as poverty_rate_unreliable,
        bool_or(unreliable) filter (where indicator = 'unemployment_rate')
            as unemployment_rate_unreliable,
        bool_or(unreliable) filter (where indicator = 'median_household_income')
            as median_household_income_unreliable,
        max(source_units)                                                  as indicator_units,
        any_value(method)                                                  as indicator_method
    from indicators
    group by area_id

),

final as (

    select
        areas.area_id,
        areas.area_name,
        areas.geom,
        ST_Area(
            ST_Transform(
                areas.geom, 'EPSG:4326', {{ sql_string(var("projected_crs")) }}, always_xy := true
            )
        ) / 1e6                                                         as area_km2,
        cast(round(pivoted.population) as bigint)                       as population,
        pivoted.population_moe,
        cast(round(pivoted.poverty_universe) as bigint)                 as poverty_universe,
        cast(round(pivoted.poverty_count) as bigint)                    as poverty_count,
        cast(round(pivoted.labor_force) as bigint)                      as labor_force,
        cast(round(pivoted.unemployed) as bigint)                       as unemployed,
        pivoted.poverty_rate,
        pivoted.poverty_rate_moe,
        pivoted.unemployment_rate,
        pivoted.unemployment_rate_moe,
        pivoted.median_household_income,
        pivoted.share_under_18,
        pivoted.share_65_plus,
        coalesce(pivoted.population_unreliable, true)                   as population_unreliable,
        coalesce(pivoted.poverty_rate_unreliable, true)                 as poverty_rate_unreliable,
        coalesce(pivoted.unemployment_rate_unreliable, true)
            as unemployment_rate_unreliable,
        coalesce(pivoted.median_household_income_unreliable, true)
            as median_household_income_unreliable,
        pivoted.indicator_units,
        pivoted.indicator_method,
        areas.source_rows,
        areas.geometry_repaired,
        areas._source_file,
        areas._row_number,
        areas._ingested_at,
        areas._load_id
    from areas
    left join pivoted
        on areas.area_id = pivoted.area_id

)

select * from final
