-- Split counts per source x month as the quality splits wrote them. Several files can share a
-- source and month (a police row whose date was rejected counts under the NULL month of its
-- landing partition): the scorecard sums them. A data directory without profiles (a warehouse
-- built from conformed files alone) gives an empty model instead of a read error.
{%- set reason_codes = reason_codes() %}
{%- set profiles_glob = env_var('CRIMEMAP_DATA_DIR') ~ '/quality/profiles/**/*.parquet' %}
{%- set has_profiles = true %}
{%- if execute %}
    {%- set found = run_query(
        "select count(*) from glob('" ~ profiles_glob | replace("'", "''") ~ "')"
    ) %}
    {%- set has_profiles = found.columns[0].values()[0] > 0 %}
{%- endif %}
with

{% if has_profiles %}
source as (

    -- a police source no longer in the jurisdiction's YAML keeps its profiles on disk, never
    -- in the scorecard (as its offenses never reach the marts)
    select * from {{ source('quality', 'load_profiles') }}
    where family <> 'police' or source in ({{ sql_string_list(var('police_sources')) }})

),
{% else %}
source as (

    select
        cast(null as varchar) as source,
        cast(null as varchar) as family,
        cast(null as date) as month,
        {%- set counts = ['raw_rows', 'accepted_rows', 'quarantined_rows', 'complete_rows',
                          'located_rows'] %}
        {%- for column in counts %}
        cast(null as bigint) as {{ column }},
        {%- endfor %}
        {%- for code in reason_codes %}
        cast(null as bigint) as {{ code }}_rows{{ ',' if not loop.last }}
        {%- endfor %}
    where false

),
{% endif %}

renamed as (

    select
        cast(source as varchar)                 as source,
        cast(family as varchar)                 as family,
        cast(month as date)                     as month,
        cast(raw_rows as bigint)                as raw_rows,
        cast(accepted_rows as bigint)           as accepted_rows,
        cast(quarantined_rows as bigint)        as quarantined_rows,
        cast(complete_rows as bigint)           as complete_rows,
        cast(located_rows as bigint)            as located_rows,
        {%- for code in reason_codes %}
        cast(coalesce({{ code }}_rows, 0) as bigint) as {{ code }}_rows{{ ',' if not loop.last }}
        {%- endfor %}
    from source

)

select * from renamed
