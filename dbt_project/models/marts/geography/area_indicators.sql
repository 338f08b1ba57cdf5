-- Every indicator per area (Census ACS, or the jurisdiction's own table), long form, with its
-- display label, margin of error,
-- coefficient of variation and reliability flag: what BI tools filter and chart.
with

areas as (

    select area_id, area_name from {{ ref('stg_boundaries__areas') }}

),

indicators as (

    select * from {{ ref('int_area_indicators__apportioned') }}

),

final as (

    select
        areas.area_id,
        areas.area_name,
        indicators.indicator,
        indicators.kind,
        indicators.label,
        indicators.estimate,
        indicators.moe,
        indicators.cv_pct,
        indicators.unreliable,
        indicators.source_units,
        indicators.method
    from indicators
    inner join areas
        on indicators.area_id = areas.area_id

)

select * from final
