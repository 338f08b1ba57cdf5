{#- Shared statistics for the analytics marts. DuckDB has no normal distribution functions. -#}

{% macro erfc(x) -%}
    {#- Complementary error function, Numerical Recipes' Chebyshev fit `erfcc` (Press et al.,
        Numerical Recipes in C, 2nd ed., 6.2): relative error below 1.2e-7 for every x.
        erfc(-x) = 2 - erfc(x). `x` is repeated: pass a column or a cheap expression. -#}
    (case when ({{ x }}) >= 0 then 1.0 else -1.0 end
        * (1.0 / (1.0 + 0.5 * abs({{ x }})))
        * exp(
            -({{ x }}) * ({{ x }}) - 1.26551223 + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (1.00002368
            + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (0.37409196
            + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (0.09678418
            + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (-0.18628806
            + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (0.27886807
            + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (-1.13520398
            + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (1.48851587
            + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * (-0.82215223
            + (1.0 / (1.0 + 0.5 * abs({{ x }}))) * 0.17087277))))))))
        )
        + case when ({{ x }}) >= 0 then 0.0 else 2.0 end)
{%- endmacro %}


{% macro normal_sf(z) -%}
    {#- Upper tail of the standard normal, P(Z > z) = erfc(z / sqrt 2) / 2 (scipy.stats.norm.sf),
        relative error below 1.2e-7 for z >= 0; NULL for NULL. Two-sided p of a z score:
        least(1, 2 * normal_sf(abs(z))) (the fit gives 1 + 3e-8 at z = 0). -#}
    (0.5 * {{ erfc('(' ~ z ~ ') / sqrt(2)') }})
{%- endmacro %}


{% macro normal_two_sided_p(z) -%}
    {#- Two-sided normal p-value of a z score, capped at 1; NULL for NULL (DuckDB's least()
        skips NULLs, hence the case). -#}
    case when ({{ z }}) is not null then least(1.0, 2.0 * {{ normal_sf('abs(' ~ z ~ ')') }}) end
{%- endmacro %}


{% macro benjamini_hochberg(relation, p_value, partition_by=none, q_value='q_value') -%}
    {#- All rows and columns of `relation` plus `q_value`: the Benjamini-Hochberg adjusted
        p-value of `p_value` among the rows of the same `partition_by` (a column list as SQL
        text; none = all rows), as scipy.stats.false_discovery_control(method='bh'):
        q_(k) = min over j >= k of min(1, m p_(j) / j), p sorted ascending, m = the number of
        non-NULL p in the family. A NULL p is no test: it gets a NULL q and does not count in m.
        Rows with tied p get the same q whatever their order. -#}
    {%- set over = 'partition by ' ~ partition_by if partition_by else '' -%}
    select
        * exclude (_bh_scaled, _bh_rank),
        -- never below p (m p / m can round a hair under p); NULL for a NULL p (DuckDB's
        -- least() and greatest() skip NULLs)
        case when {{ p_value }} is not null then greatest({{ p_value }}, least(1.0, min(_bh_scaled) over (
            {{ over }}
            order by _bh_rank desc
            rows between unbounded preceding and current row
        ))) end                                                         as {{ q_value }}
    from (
        select
            *,
            {{ p_value }} * count({{ p_value }}) over ({{ over }}) / _bh_rank   as _bh_scaled
        from (
            -- one ranking, used for both the scale and the running minimum
            select
                *,
                row_number() over ({{ over }} order by {{ p_value }} asc nulls last) as _bh_rank
            from {{ relation }}
        )
    )
{%- endmacro %}
