-- One row per offense from every police source, keyed across sources.
-- incident_key: the publisher's report number; a layout without one (Baltimore's legacy export)
-- makes each row its own incident, identified by its content (exact copies were quarantined).
-- A table, unlike the other staging models: its window over every offense would otherwise run
-- again for each of the dozen data tests and models that read it. Incremental by police
-- partition (macros/incremental_incidents.sql): only the partitions whose content changed are
-- read, and only their incidents are sequenced again.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='incident_key',
        on_schema_change='fail',
        post_hook="{{ delete_gone_incidents(police_offenses_source()) }}",
    )
}}

with

source as (

    -- only the sources the jurisdiction declares: a source removed from the YAML (or renamed)
    -- leaves its conformed files on disk, never in the marts
    select * from {{ police_offenses_source() }}

),

{% if is_incremental() %}
arriving as (

    -- the rows of the partitions this table does not hold yet
    select * from source
    where _load_id in (select _load_id from source except select _load_id from {{ this }})

),
{% else %}
arriving as (

    select * from source

),
{% endif %}

keyed as (

    select
        source || ':' || coalesce(
            report_number, 'row-' || coalesce(record_id, md5(raw_record))
        )                                                           as incident_key,
        *
    from arriving

),

staged as (

    select
        incident_key,
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
    from keyed

),

{% if is_incremental() %}
batch as (

    -- every offense of the incidents a changed partition touches: the arriving rows, and the
    -- rows this table keeps from unchanged partitions, sequenced again with them
    select * from staged
    union all by name
    select * exclude (offense_key, offense_seq) from {{ this }}
    where
        _load_id in (select _load_id from source)
        and incident_key in (
            select incident_key from staged
            union
            -- incidents with a row in a partition that changed or left
            select incident_key from {{ this }}
            where _load_id not in (select _load_id from source)
        )

),
{% else %}
batch as (

    select * from staged

),
{% endif %}

sequenced as (

    -- offense_seq orders the offenses of an incident by the publisher's row id, then the
    -- position of the code within its row, so keys stay stable when a portal re-sorts.
    select
        *,
        row_number() over (
            partition by incident_key
            order by try_cast(record_id as bigint), record_id, _row_number, offense_index
        )                                                           as offense_seq
    from batch

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
        occurred_imputed,
        occurred_raw,
        reported_at,
        reported_raw,
        block_address,
        longitude,
        latitude,
        geom,
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
