{% test unique_combination_of_columns(model, combination_of_columns) %}
{#- The listed columns together identify a row (a composite primary key). -#}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as n_records
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
