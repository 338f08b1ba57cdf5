-- Every ACS indicator of the table set per area, long form, with its margin of error,
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
