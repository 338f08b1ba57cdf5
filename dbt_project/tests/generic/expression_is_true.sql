{% test expression_is_true(model, expression, column_name=none) %}
{#- Rows for which `expression` is not true (false or NULL are both failures: write
    `x is null or ...` where NULL is allowed). -#}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
