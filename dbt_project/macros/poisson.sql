{% macro poisson_upper_tail(k, lam) -%}
{#-
    P(X >= k) for X ~ Poisson(lam): the p-value of observing k or more events when lam are
    expected. Summed from the pmf terms exp(-lam + j ln lam - lgamma(j + 1)):
    - k > lam: the upper tail directly (terms fall away from k), so a tiny p keeps its
      relative precision;
    - k <= lam: 1 - P(X <= k - 1), never small there (about 0.4 or more), so no precision is
      lost in the subtraction.
    Either sum runs over at most 30 + 12 sqrt(lam) terms: beyond that the terms are below
    1e-17 of the largest one (about 8.8 standard deviations of the Poisson away). Bounded
    work per row, no join.
    Edge cases: k <= 0 gives 1; lam <= 0 gives 0 for k >= 1; NULL in, NULL out.
-#}
case
    when {{ k }} is null or {{ lam }} is null then null
    when {{ k }} <= 0 then 1.0
    when {{ lam }} <= 0 then 0.0
    when {{ k }} > {{ lam }} then least(1.0, list_sum(list_transform(
        range(
            cast({{ k }} as bigint),
            cast({{ k }} as bigint) + 30 + cast(ceil(12 * sqrt({{ lam }})) as bigint)
        ),
        lambda _pj: exp(
            -({{ lam }}) + _pj * ln(greatest({{ lam }}, 1e-300)) - lgamma(_pj + 1)
        )
    )))
    else greatest(0.0, 1.0 - list_sum(list_transform(
        range(
            greatest(
                0,
                cast({{ k }} as bigint) - 30 - cast(ceil(12 * sqrt({{ lam }})) as bigint)
            ),
            cast({{ k }} as bigint)
        ),
        lambda _pj: exp(
            -({{ lam }}) + _pj * ln(greatest({{ lam }}, 1e-300)) - lgamma(_pj + 1)
        )
    )))
end
{%- endmacro %}
