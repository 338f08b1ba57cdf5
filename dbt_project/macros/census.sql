{% macro acs_proportion_moe(p, numerator_moe, denominator, denominator_moe) -%}
    {#- 90% margin of a derived proportion p = X / Y (ACS General Handbook, ch. 8):
        sqrt(moe_X^2 - p^2 moe_Y^2) / Y; when the term under the root is negative the ratio
        form sqrt(moe_X^2 + p^2 moe_Y^2) / Y is used instead. -#}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 or {{ p }} is null then null
        when pow({{ numerator_moe }}, 2) - pow({{ p }}, 2) * pow({{ denominator_moe }}, 2) >= 0
            then sqrt(pow({{ numerator_moe }}, 2) - pow({{ p }}, 2) * pow({{ denominator_moe }}, 2))
                / {{ denominator }}
        else sqrt(pow({{ numerator_moe }}, 2) + pow({{ p }}, 2) * pow({{ denominator_moe }}, 2))
            / {{ denominator }}
    end
{%- endmacro %}


{% macro acs_cv_pct(estimate, moe) -%}
    {#- Coefficient of variation in percent: the standard error (90% margin / 1.645) over the
        estimate. NULL for a zero or missing estimate. -#}
    ({{ moe }} / 1.645) / nullif({{ estimate }}, 0) * 100
{%- endmacro %}


{% macro acs_unreliable(estimate, cv_pct) -%}
    {#- An estimate is unreliable when missing or when its CV exceeds var('cv_threshold_pct')
        (30 by default: the usual "use with great caution" line). -#}
    ({{ estimate }} is null or coalesce({{ cv_pct }} > {{ var('cv_threshold_pct') }}, false))
{%- endmacro %}
