{% macro reason_codes() %}
    {#- The quarantine reason codes of crimemap/quality/rules.py (REASON_CODES), in their order; a test
        keeps the two lists equal. -#}
    {{ return([
        'row_malformed', 'missing_key', 'coordinates_missing', 'coordinates_zero',
        'out_of_jurisdiction', 'date_unparseable', 'date_placeholder', 'date_future',
        'offense_code_missing', 'duplicate_record', 'geometry_invalid', 'value_invalid',
        'type_unmapped', 'area_unknown',
    ]) }}
{% endmacro %}
