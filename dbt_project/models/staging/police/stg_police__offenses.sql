-- One row per offense from every police source, keyed across sources.
-- incident_key: the publisher's report number; a layout without one (Baltimore's legacy export)
-- makes each row its own incident, identified by its content (exact copies were quarantined).
-- A table, unlike the other staging models: its window over every offense would otherwise run
-- again for each of the dozen data tests and models that read it.
{{ config(materialized='table') }}

with

source as (

    -- only the sources the jurisdiction declares: a source removed from the YAML (or renamed)
    -- leaves its conformed files on disk, never in the marts
    select * from {{ source('police', 'offenses') }}
    where source in ({{ sql_string_list(var('police_sources')) }})

),

keyed as (

    select
        source || ':' || coalesce(
            report_number, 'row-' || coalesce(record_id, md5(raw_record))
        )                                                           as incident_key,
        *
    from source

),

sequenced as (

    -- offense_seq orders the offenses of an incident by the publisher's row id, then the
    -- position of the code within its row, so keys stay stable when a portal re-sorts.
    select
        *,
        row_number() over (
            partition by incident_key
            order by try_cast(record_id as bigint), record_id, _row_number, offense_index
        )                                                           as offense_seq
    from keyed

),

final as (

    select
        incident_key || ':' || offense_seq                          as offense_key,
        incident_key,
        cast(offense_seq as integer)                                as offense_seq,
        source,
        agency,
        layout,
        crosswalk,
        report_number,
        record_id,
        offense_index,
        offense_code,
        offense_code_raw,
        offense_desc_raw,
        occurred_at,
        coalesce(occurred_imputed, false)                           as occurred_imputed,
        occurred_raw,
        reported_at,
        reported_raw,
        block_address,
        longitude,
        latitude,
        case
            when longitude is not null and latitude is not null
                then ST_Point(longitude, latitude)
        end                                                         as geom,
        location_source,
        location_raw,
        source_domestic_violence,
        source_juvenile_involved,
        source_mental_health_related,
        source_substance_related,
        raw_record,
        {{ lineage_columns() }}
    from sequenced

)

select * from final
