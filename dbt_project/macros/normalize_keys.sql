{% macro normalize_geoid(column) -%}
    {#- A census tract GEOID as a comparable key: digits only; a longer id (e.g. the
        "1400000US53033000100" GEO_ID form) keeps its trailing 11 digits, a shorter one (a
        leading zero lost in a spreadsheet) is left-padded to 11. NULL when no digit. -#}
    case
        when nullif(regexp_replace(trim({{ column }}), '[^0-9]', '', 'g'), '') is null then null
        when length(regexp_replace(trim({{ column }}), '[^0-9]', '', 'g')) > 11
            then right(regexp_replace(trim({{ column }}), '[^0-9]', '', 'g'), 11)
        else lpad(regexp_replace(trim({{ column }}), '[^0-9]', '', 'g'), 11, '0')
    end
{%- endmacro %}


{% macro census_estimate(column, data_type) -%}
    {#- A Census API estimate as a number; the API's negative missing-value sentinels
        (-666666666 "not computed", -999999999, -888888888, -222222222, -333333333,
        -555555555) become NULL. -#}
    case
        when try_cast(trim({{ column }}) as double) >= 0
            then try_cast(try_cast(trim({{ column }}) as double) as {{ data_type }})
    end
{%- endmacro %}
