{#-
    Student's t distribution in plain DuckDB SQL (DuckDB has no statistical distribution
    functions). Scalar expressions; the iterations run over fixed-length lists, so the work
    per row is bounded and nothing is joined.
-#}

{% macro regularized_incomplete_beta(x, a, b, terms=200) -%}
{#-
    I_x(a, b), the regularized incomplete beta function, by its continued fraction
    (Numerical Recipes 6.4, "betacf"):
        I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...)))
        d(2m + 1) = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
        d(2m)     = m (b - m) x / ((a + 2m - 1)(a + 2m))
    evaluated backwards from a fixed depth (`terms`, ample for a and b up to several
    thousand). The fraction converges fast for x < (a + 1) / (a + b + 2); above that,
    I_x(a, b) = 1 - I_(1-x)(b, a) is used.
-#}
case
    when {{ x }} is null or {{ a }} is null or {{ b }} is null then null
    when {{ x }} <= 0 then 0.0
    when {{ x }} >= 1 then 1.0
    when {{ x }} < ({{ a }} + 1) / ({{ a }} + {{ b }} + 2)
        then {{ _betacf_term(x, a, b, terms) }}
    else 1.0 - {{ _betacf_term('(1 - ' ~ x ~ ')', b, a, terms) }}
end
{%- endmacro %}


{% macro _betacf_term(x, a, b, terms) -%}
    exp(
        ({{ a }}) * ln({{ x }}) + ({{ b }}) * ln(1 - {{ x }})
        - lgamma({{ a }}) - lgamma({{ b }}) + lgamma(({{ a }}) + ({{ b }}))
    ) / ({{ a }})
    / list_reduce(
        list_concat(
            [cast(1.0 as double)],
            list_transform(
                range({{ terms }}, 0, -1),
                lambda _bn: case
                    when _bn % 2 = 0 then
                        (_bn // 2) * (({{ b }}) - _bn // 2) * ({{ x }})
                        / ((({{ a }}) + _bn - 1) * (({{ a }}) + _bn))
                    else
                        -(({{ a }}) + _bn // 2) * (({{ a }}) + ({{ b }}) + _bn // 2) * ({{ x }})
                        / ((({{ a }}) + _bn - 1) * (({{ a }}) + _bn))
                end
            )
        ),
        lambda _bacc, _bd: 1 + _bd / _bacc
    )
{%- endmacro %}


{% macro student_t_sf(t, df) -%}
{#- P(T > t) for T ~ Student t with `df` (any real df > 0) degrees of freedom:
    0.5 I_(df / (df + t^2))(df / 2, 1 / 2) for t >= 0, and 1 minus that for t < 0. -#}
case
    when {{ t }} is null or {{ df }} is null or {{ df }} <= 0 then null
    when {{ t }} >= 0 then 0.5 * {{ regularized_incomplete_beta(
        '((' ~ df ~ ') / ((' ~ df ~ ') + (' ~ t ~ ') * (' ~ t ~ ')))',
        '((' ~ df ~ ') / 2.0)', '0.5') }}
    else 1.0 - 0.5 * {{ regularized_incomplete_beta(
        '((' ~ df ~ ') / ((' ~ df ~ ') + (' ~ t ~ ') * (' ~ t ~ ')))',
        '((' ~ df ~ ') / 2.0)', '0.5') }}
end
{%- endmacro %}


{% macro student_t_two_sided_p(t, df) -%}
{#- Two-sided p-value P(|T| >= |t|) = I_(df / (df + t^2))(df / 2, 1 / 2). -#}
case
    when {{ t }} is null or {{ df }} is null or {{ df }} <= 0 then null
    else {{ regularized_incomplete_beta(
        '((' ~ df ~ ') / ((' ~ df ~ ') + (' ~ t ~ ') * (' ~ t ~ ')))',
        '((' ~ df ~ ') / 2.0)', '0.5') }}
end
{%- endmacro %}


{% macro student_t_pdf(t, df) -%}
    exp(
        lgamma((({{ df }}) + 1) / 2.0) - lgamma(({{ df }}) / 2.0)
        - 0.5 * ln(({{ df }}) * pi())
        - (({{ df }}) + 1) / 2.0 * ln(1 + ({{ t }}) * ({{ t }}) / ({{ df }}))
    )
{%- endmacro %}


{% macro student_t_critical_95(df, iterations=6) -%}
{#-
    The two-sided 95% critical value t(0.975, df), for any real df >= 1.
    Start: a table of t(0.975, df) for df = 1..10 (interpolated linearly in 1 / df between
    whole df), the Cornish-Fisher expansion around z = 1.959964 above 10. Then Newton steps
    on sf(t) = 0.025 with the exact tail above; from that start each step squares the
    relative error, so `iterations` steps reach double precision. NULL when df < 1.
-#}
{%- set table = [12.706204736174698, 4.302652729749464, 3.182446305284263,
                 2.7764451051977934, 2.570581835636314, 2.4469118511449692,
                 2.3646242515927844, 2.306004135204172, 2.2621571628540993,
                 2.2281388519649385] -%}
{%- set z = 1.959963984540054 -%}
case
    when {{ df }} is null or {{ df }} < 1 then null
    else list_reduce(
        list_concat(
            [cast(
                case
                    when {{ df }} >= 10 then
                        {{ z }}
                        + ({{ z ** 3 + z }}) / (4 * ({{ df }}))
                        + ({{ 5 * z ** 5 + 16 * z ** 3 + 3 * z }}) / (96 * pow({{ df }}, 2))
                        + ({{ 3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z }})
                            / (384 * pow({{ df }}, 3))
                    else
                        {{ table }}[cast(floor({{ df }}) as integer)]
                        + ({{ table }}[cast(floor({{ df }}) as integer) + 1]
                            - {{ table }}[cast(floor({{ df }}) as integer)])
                        * (1.0 / floor({{ df }}) - 1.0 / ({{ df }}))
                        / (1.0 / floor({{ df }}) - 1.0 / (floor({{ df }}) + 1))
                end
            as double)],
            list_transform(range({{ iterations }}), lambda _ti: cast(0 as double))
        ),
        lambda _tq, _tz: _tq
            + ({{ student_t_sf('_tq', df) }} - 0.025) / {{ student_t_pdf('_tq', df) }}
    )
end
{%- endmacro %}
