-- One row per offense: the conformed incident model, all police sources.
-- Codes are classified through the source's crosswalk; a code missing from it stays in the fact
-- with category 'unmapped' (never dropped, listed in offense_codes_unmapped) and is treated as
-- sensitive. A source's own domestic flag (Chicago's "Domestic") adds to the crosswalk's.
-- Incremental by police partition (macros/incremental_incidents.sql): only the incidents of
-- changed partitions are classified again.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='incident_key',
        on_schema_change='fail',
        post_hook="{{ delete_gone_incidents(ref('stg_police__offenses')) }}",
    )
}}

with

{% if is_incremental() %}
changed as (

    select incident_key from {{ changed_incident_keys(ref('stg_police__offenses')) }}

),
{% endif %}

offenses as (

    select * from {{ ref('stg_police__offenses') }}
    {% if is_incremental() %}
    where incident_key in (select incident_key from changed)
    {% endif %}

),

assignment as (

    select * from {{ ref('int_incidents__area_assigned') }}
    {% if is_incremental() %}
    where incident_key in (select incident_key from changed)
    {% endif %}

),

crosswalks as (

    select * from {{ ref('int_offense_crosswalks') }}

),

classified as (

    select
        offenses.*,
        crosswalks.nibrs_code,
        crosswalks.nibrs_group,
        crosswalks.crime_against,
        crosswalks.category                                             as crosswalk_category,
        crosswalks.is_sensitive                                         as crosswalk_sensitive,
        coalesce(crosswalks.mental_health_related, false)
            or coalesce(offenses.source_mental_health_related, false)   as mental_health_related,
        coalesce(crosswalks.domestic_violence, false)
            or coalesce(offenses.source_domestic_violence, false)       as domestic_violence,
        coalesce(crosswalks.juvenile_involved, false)
            or coalesce(offenses.source_juvenile_involved, false)       as juvenile_involved,
        coalesce(crosswalks.substance_related, false)
            or coalesce(offenses.source_substance_related, false)       as substance_related
    from offenses
    left join crosswalks
        on offenses.crosswalk = crosswalks.crosswalk
        and offenses.offense_code = crosswalks.offense_code

),

final as (

    select
        classified.offense_key,
        classified.incident_key,
        classified.offense_seq,
        classified.source,
        classified.agency,
        classified.report_number,
        classified.offense_code_raw,
        classified.offense_code,
        classified.offense_desc_raw,
        classified.nibrs_code,
        classified.nibrs_group,
        classified.crime_against,
        coalesce(classified.crosswalk_category, 'unmapped')             as category,
        coalesce(classified.crosswalk_sensitive, true)
            or classified.domestic_violence                             as is_sensitive,
        classified.mental_health_related,
        classified.domestic_violence,
        classified.juvenile_involved,
        classified.substance_related,
        classified.occurred_at,
        classified.occurred_imputed,
        classified.reported_at,
        cast(
            date_trunc('month', timezone({{ sql_string(var("timezone")) }}, classified.occurred_at))
            as date
        )                                                               as occurred_month,
        case when classified.geom is null then 'none' else 'exact' end  as location_precision,
        classified.block_address,
        classified.geom,
        assignment.area_id,
        assignment.assignment_method,
        classified.occurred_raw,
        classified.reported_raw,
        classified.location_raw,
        classified._source_file,
        classified._row_number,
        classified._ingested_at,
        classified._load_id
    from classified
    left join assignment
        on classified.offense_key = assignment.offense_key

)

select * from final
