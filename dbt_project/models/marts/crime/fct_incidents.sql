-- One row per offense: the conformed incident model (DESIGN.md section 3).
-- Offense codes are classified through the publisher's crosswalk seed; a code missing from it
-- stays in the fact with category 'unmapped' (never dropped) and is treated as sensitive.
with

incidents as (

    select * from {{ ref('stg_seattle_spd__incidents') }}

),

assignment as (

    select * from {{ ref('int_incidents__area_assigned') }}

),

crosswalk as (

    select * from {{ ref('crosswalk_seattle_spd') }}

),

final as (

    select
        incidents.offense_key,
        incidents.incident_key,
        cast(incidents.offense_seq as integer)                          as offense_seq,
        incidents.source,
        incidents.agency,
        incidents.report_number,
        incidents.raw_offense_code                                      as offense_code_raw,
        incidents.offense_desc                                          as offense_desc_raw,
        crosswalk.nibrs_code,
        crosswalk.nibrs_group,
        crosswalk.crime_against,
        coalesce(crosswalk.category, 'unmapped')                        as category,
        coalesce(crosswalk.is_sensitive, true)                          as is_sensitive,
        coalesce(crosswalk.mental_health_related, false)                as mental_health_related,
        coalesce(crosswalk.domestic_violence, false)                    as domestic_violence,
        coalesce(crosswalk.juvenile_involved, false)                    as juvenile_involved,
        coalesce(crosswalk.substance_related, false)                    as substance_related,
        incidents.occurred_at,
        incidents.reported_at,
        cast(
            date_trunc('month', timezone('{{ var("timezone") }}', incidents.occurred_at))
            as date
        )                                                               as occurred_month,
        case when incidents.geom is null then 'none' else 'exact' end   as location_precision,
        incidents.block_address,
        incidents.geom,
        assignment.area_id,
        assignment.assignment_method,
        incidents.raw_offense_start_datetime,
        incidents.raw_report_datetime,
        incidents.raw_longitude,
        incidents.raw_latitude,
        incidents._source_file,
        incidents._row_number,
        incidents._ingested_at,
        incidents._load_id
    from incidents
    left join assignment
        on incidents.offense_key = assignment.offense_key
    left join crosswalk
        on incidents.offense_code = crosswalk.offense_code

)

select * from final
