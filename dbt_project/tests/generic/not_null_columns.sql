{% test not_null_columns(model, column_names) %}
{#- None of the listed columns is ever NULL, judged in one scan of the model (a not_null test
    per column scans it once per column). Returns each column that has NULLs with how many;
    the failure count is the number of NULL cells. -#}
{{ config(fail_calc="coalesce(sum(null_rows), 0)") }}
with null_counts as (
    select
    {%- for column in column_names %}
        count(*) filter (where {{ adapter.quote(column) }} is null) as {{ adapter.quote(column) }}
        {{- "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)

select column_name, null_rows
from (unpivot null_counts on columns(*) into name column_name value null_rows)
where null_rows > 0
{% endtest %}
