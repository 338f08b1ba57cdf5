{% macro set_memory_limit() -%}
    {#- DuckDB's memory limit for this invocation (crimemap.warehouse.memory sizes it with the
        offenses a build reads). It is set here, at run start, and not in the profile: the
        profile is part of dbt's parse state, so a limit there would make every build whose
        limit changed parse the whole project again. DuckDB's memory_limit is global: it holds
        for every thread's connection. -#}
    set memory_limit = {{ sql_string(env_var('CRIMEMAP_DUCKDB_MEMORY_LIMIT', '2GB')) }}
{%- endmacro %}
