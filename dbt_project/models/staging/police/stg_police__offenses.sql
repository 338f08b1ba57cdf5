-- One row per offense from every police source, keyed across sources.
-- incident_key: the publisher's report number; a layout without one (Baltimore's legacy export)
-- makes each row its own incident, identified by its content (exact copies were quarantined).
-- A table, unlike the other staging models: its window over every offense would otherwise run
-- again for each of the dozen data tests and models that read it. Incremental by police
-- partition (macros/incremental_incidents.sql): only the partitions whose content changed are
-- read, and only their incidents are sequenced again.
-- The published row (raw_record, about 500 bytes) stays in the conformed files: an offense's
-- lineage (_load_id, _source_file, _row_number) finds it there, and copying it
-- into each incident table cost a third of their build time.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='incident_key',
        on_schema_change='fail',
        post_hook="{{ delete_gone_incidents(police_offenses_source()) }}",
    )
}}

{#- The loads (police partitions' contents) that arrived and left since this table was built,
    listed before the query runs: as constants they prune the partition files by their Parquet
    statistics, so an incremental build reads only the partitions that arrived. -#}
{%- set arriving_loads, departed_loads = [], [] -%}
{%- if execute and is_incremental() -%}
    {%- set arriving_loads = run_query(
        "select _load_id from " ~ police_offenses_source() ~ " where _load_id is not null"
        ~ " except select _load_id from " ~ this
    ).columns[0].values() | list -%}
    {%- set departed_loads = run_query(
        "select _load_id from " ~ this ~ " except select _load_id from "
        ~ police_offenses_source() ~ " where _load_id is not null"
    ).columns[0].values() | list -%}
{%- endif %}

with

{% if is_incremental() %}
arriving as (

    -- the rows of the partitions this table does not hold yet
    select * from {{ police_offenses_source() }}
    {% if arriving_loads %}
    where _load_id in ({{ sql_string_list(arriving_loads) }})
    {% else %}
    where false
    {% endif %}

),
{% else %}
arriving as (

    select * from {{ police_offenses_source() }}

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
        incident_key in (
            select incident_key from staged
            {% if departed_loads %}
            union
            -- incidents with a row in a partition that left
            select incident_key from {{ this }}
            where _load_id in ({{ sql_string_list(departed_loads) }})
            {% endif %}
        )
        {% if departed_loads %}
        and _load_id not in ({{ sql_string_list(departed_loads) }})
        {% endif %}

),
{% else %}
batch as (

    select * from staged

),
{% endif %}

sequenced as (

    -- offense_seq orders the offenses of an incident by the publisher's row id, then the
    -- position of the code within its row, so keys stay stable when a portal re-sorts; then by
    -- partition and file, which rows of separate landings (a row number each) may share.
    select
        *,
        row_number() over (
            partition by incident_key
            order by
                try_cast(record_id as bigint), record_id, _row_number, offense_index,
                _load_id, _source_file
        )                                                           as offense_seq
    from batch

),

final as (

    -- the staged columns, in their order, behind the keys
    select
        incident_key || ':' || offense_seq                          as offense_key,
        incident_key,
        cast(offense_seq as integer)                                as offense_seq,
        * exclude (incident_key, offense_seq)
    from sequenced

)

select * from final
