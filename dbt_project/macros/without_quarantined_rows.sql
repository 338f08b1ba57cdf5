{% macro without_quarantined_rows(table_name) %}
    {#- Raw landing rows of `table_name` minus the ones the quality rules quarantined, matched on
        the landing lineage key (docs/data-contracts.md). Staging reads raw through this, so the
        raw file stays the one copy and raw = staged + quarantined holds by construction. -#}
    select landed.*
    from {{ source('raw', table_name) }} as landed
    anti join (
        select _load_id, _row_number from {{ source('quarantine', table_name) }}
    ) as quarantined
        on landed._load_id = quarantined._load_id
        and landed._row_number = quarantined._row_number
{% endmacro %}
