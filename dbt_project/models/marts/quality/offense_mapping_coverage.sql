-- Crosswalk coverage per police source: the share of offenses (and of distinct codes) that the
-- source's crosswalk classifies. A published quality figure.
with

offenses as (

    select * from {{ ref('fct_incidents') }}

),

final as (

    select
        source,
        count(*)                                                        as offenses,
        count(*) filter (where category <> 'unmapped')                  as mapped_offenses,
        count(*) filter (where category = 'unmapped')                   as unmapped_offenses,
        round(count(*) filter (where category <> 'unmapped') / count(*), 6)
                                                                        as offense_coverage,
        count(distinct offense_code)                                    as codes,
        count(distinct offense_code) filter (where category = 'unmapped')
                                                                        as unmapped_codes,
        count(distinct incident_key)                                    as incidents
    from offenses
    group by source

)

select * from final
