{% macro sql_string(value) -%}
    {#- A configuration value as a SQL string literal, its quotes doubled: a CRS given as WKT,
        a time zone or a name may hold a quote, and must never end the literal early. -#}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{% macro sql_string_list(values) -%}
    {#- Configuration values as a comma-separated list of SQL string literals. -#}
    {%- for value in values -%}
        {{ sql_string(value) }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
