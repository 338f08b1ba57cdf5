{% macro lineage_columns() -%}
    {#- The lineage every landed row carries, in the order landing writes it
        (crimemap.ingestion.landing.LINEAGE_COLUMNS): its file, its row there, when and in which
        load it was landed. Staging models pass it through untouched. -#}
    _source_file, _row_number, _ingested_at, _load_id
{%- endmacro %}
