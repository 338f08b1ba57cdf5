{% test no_configuration_errors(model, column_name, label_column) %}
{#-
    Fails on the first row whose `column_name` (a configuration problem found by the model,
    NULL when there is none) is set, with an error naming the row (`label_column`) and the
    problem, so the run log says what to fix in the jurisdiction YAML instead of only
    "got 1 result". DuckDB evaluates error() only for the rows the first condition keeps.
-#}
select {{ label_column }}, {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and error(
        '{{ model.identifier }}: ' || {{ label_column }} || ': ' || {{ column_name }}
        || ' (fix the jurisdiction YAML)'
    ) is null
{% endtest %}
