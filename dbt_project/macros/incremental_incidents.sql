{#-
    The incident-level tables (stg_police__offenses, int_incidents__area_assigned, fct_incidents,
    int_incidents__grid_assigned) are incremental by police partition. A partition's rows carry its _load_id, which names the
    source, the month and a digest of the partition's content, so a load is immutable: the rows
    of an incident differ between two tables exactly when one of its rows is in a load only one
    of them holds. Those incidents are rebuilt whole (every offense of them, in every month: the
    offense_seq window runs over the incident), everything else is kept as it is.

    Inputs other than the police partitions (boundaries, crosswalks, vars, the SQL itself) are
    not tracked here: crimemap builds with --full-refresh when any of them changed since the
    last build (crimemap/warehouse/incremental.py).
-#}

{% macro changed_loads(upstream) -%}
    {#- The loads (police partitions' contents) in `upstream` or in this table but not both. -#}
    (
        (select _load_id from {{ upstream }} except select _load_id from {{ this }})
        union
        (select _load_id from {{ this }} except select _load_id from {{ upstream }})
    )
{%- endmacro %}


{% macro changed_incident_keys(upstream) -%}
    {#- The incidents with a row in a changed load, on either side: what this table rebuilds. -#}
    (
        with changed as {{ changed_loads(upstream) }}
        select incident_key from {{ upstream }}
        where _load_id in (select _load_id from changed)
        union
        select incident_key from {{ this }}
        where _load_id in (select _load_id from changed)
    )
{%- endmacro %}


{% macro delete_gone_incidents(upstream) -%}
    {#- Post-hook: the incidents whose every row left (their loads are gone) are in no rebuilt
        batch, so delete+insert keeps them; they go here. A no-op on a full build. -#}
    delete from {{ this }}
    where _load_id not in (select _load_id from {{ upstream }} where _load_id is not null)
{%- endmacro %}


{% macro police_offenses_source() -%}
    {#- The police partitions of the sources the jurisdiction declares: a source removed from
        the YAML (or renamed) leaves its conformed files on disk, never in the marts. -#}
    (
        select * from {{ source('police', 'offenses') }}
        where source in ({{ sql_string_list(var('police_sources')) }})
    )
{%- endmacro %}
