{% test totals_match(model, total, reference, reference_total, filter=none, reference_filter=none) %}
{#- Reconciliation: an aggregate adds up to the rows it was built from. Returns one row (the
    two totals) when sum(total) over the model differs from sum(reference_total) over the
    reference; `filter` / `reference_filter` restrict either side. -#}
with

model_total as (

    select coalesce(sum({{ total }}), 0) as total
    from {{ model }}
    {% if filter %}where {{ filter }}{% endif %}

),

reference_total as (

    select coalesce(sum({{ reference_total }}), 0) as total
    from {{ reference }}
    {% if reference_filter %}where {{ reference_filter }}{% endif %}

)

select
    model_total.total                           as model_total,
    reference_total.total                       as reference_total
from model_total, reference_total
where model_total.total <> reference_total.total
{% endtest %}
