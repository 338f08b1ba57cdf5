-- Offense codes a source published that its crosswalk does not know: kept in fct_incidents as
-- 'unmapped', listed here so an analyst can extend the crosswalk. One row per source x code.
with

offenses as (

    select * from {{ ref('fct_incidents') }}

),

final as (

    select
        source,
        offense_code,
        min(offense_code_raw)                   as offense_code_raw_example,
        min(offense_desc_raw)                   as offense_desc_example,
        count(*)                                as offenses,
        count(distinct incident_key)            as incidents,
        min(occurred_at)                        as first_occurred_at,
        max(occurred_at)                        as last_occurred_at
    from offenses
    where category = 'unmapped'
    group by source, offense_code

)

select * from final
