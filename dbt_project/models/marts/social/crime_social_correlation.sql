-- Spearman rank correlation of area crime rates with each area indicator other than counts
-- (var('correlation_indicators')), one row per crime measure x indicator, with n, a 95%
-- confidence interval and a p-value.
-- Rates: offenses per 1,000 residents over the whole period (from var('start_month'), as in
-- area_month_rates) for all offenses, person crimes and property crimes (NIBRS crime_against).
-- Areas: population >= var('min_population') (and > 0) with the indicator known.
-- rho: Pearson correlation of the average ranks (ties get the mean of their ranks).
-- CI: Fisher z with the Bonett-Wright standard error sqrt((1 + rho^2 / 2) / (n - 3)).
-- p: two-sided, from t = rho sqrt((n - 2) / (1 - rho^2)) on n - 2 degrees of freedom (the
-- approximation scipy.stats.spearmanr uses). Fewer than 4 areas: no statistic (NULL).
{%- set correlation_list -%}
    cast([{%- for name in var('correlation_indicators') -%}
        {{ sql_string(name) }}{{ ', ' if not loop.last }}
    {%- endfor -%}] as varchar[])
{%- endset %}
with

areas as (

    select area_id, population
    from {{ ref('dim_area') }}
    where population >= {{ var('min_population') }} and population > 0

),

offenses as (

    select area_id, crime_against
    from {{ ref('fct_incidents') }}
    where area_id is not null
        and occurred_month >= cast({{ sql_string(var("start_month")) }} as date)

),

area_counts as (

    select
        area_id,
        count(*)                                                as all_offenses,
        count(*) filter (where crime_against = 'person')        as person_offenses,
        count(*) filter (where crime_against = 'property')      as property_offenses
    from offenses
    group by area_id

),

area_rates as (

    -- areas without any offense count as rate 0
    select
        areas.area_id,
        coalesce(area_counts.all_offenses, 0) / areas.population * 1000
                                                                as all_offenses_rate,
        coalesce(area_counts.person_offenses, 0) / areas.population * 1000
                                                                as person_crime_rate,
        coalesce(area_counts.property_offenses, 0) / areas.population * 1000
                                                                as property_crime_rate
    from areas
    left join area_counts
        on areas.area_id = area_counts.area_id

),

measure_values as (

    unpivot area_rates
    on all_offenses_rate, person_crime_rate, property_crime_rate
    into name measure value rate

),

indicator_values as (

    -- every indicator but counts, as apportioned onto the areas (var('correlation_indicators'):
    -- the ACS table set's, or the jurisdiction's own table's); an area without the indicator
    -- leaves that indicator's pairs
    select
        indicators.area_id,
        indicators.indicator,
        indicators.estimate                                     as indicator_value
    from {{ ref('int_area_indicators__apportioned') }} as indicators
    inner join areas
        on indicators.area_id = areas.area_id
    where indicators.estimate is not null
        and list_contains({{ correlation_list }}, indicators.indicator)

),

pairs as (

    select
        measure_values.measure,
        indicator_values.indicator,
        measure_values.rate,
        indicator_values.indicator_value
    from measure_values
    inner join indicator_values
        on measure_values.area_id = indicator_values.area_id

),

ranked as (

    -- average ranks: the first rank of the tie group plus half the group's extra size
    select
        measure,
        indicator,
        rank() over (partition by measure, indicator order by rate)
            + (count(*) over (partition by measure, indicator, rate) - 1) / 2.0
                                                                as rate_rank,
        rank() over (partition by measure, indicator order by indicator_value)
            + (count(*) over (partition by measure, indicator, indicator_value) - 1) / 2.0
                                                                as indicator_rank
    from pairs

),

correlated as (

    select
        measure,
        indicator,
        count(*)                                                as n,
        -- constant ranks (every area tied) have no correlation
        case
            when count(*) >= 4 and var_pop(rate_rank) > 0 and var_pop(indicator_rank) > 0
                then greatest(-1.0, least(1.0, corr(rate_rank, indicator_rank)))
        end                                                     as rho
    from ranked
    group by measure, indicator

),

combinations as (

    -- every measure x indicator gets a row, with n = 0 when no area qualifies
    select
        measures.measure,
        indicators.indicator
    from (values ('all_offenses_rate'), ('person_crime_rate'), ('property_crime_rate'))
        as measures (measure)
    cross join (select unnest({{ correlation_list }}) as indicator) as indicators -- noqa: ST05

),

final as (

    select
        combinations.measure,
        combinations.indicator,
        cast(coalesce(correlated.n, 0) as integer)              as n,
        correlated.rho                                          as spearman_rho,
        case
            when abs(correlated.rho) = 1 then correlated.rho
            else tanh(
                atanh(correlated.rho)
                - 1.959963984540054
                * sqrt((1 + correlated.rho * correlated.rho / 2) / (correlated.n - 3))
            )
        end                                                     as ci_lower,
        case
            when abs(correlated.rho) = 1 then correlated.rho
            else tanh(
                atanh(correlated.rho)
                + 1.959963984540054
                * sqrt((1 + correlated.rho * correlated.rho / 2) / (correlated.n - 3))
            )
        end                                                     as ci_upper,
        case -- noqa: PRS
            when abs(correlated.rho) = 1 then 0.0
            else {{ student_t_two_sided_p(
                'correlated.rho * sqrt((correlated.n - 2) / (1 - correlated.rho * correlated.rho))',
                '(correlated.n - 2)'
            ) }}
        end                                                     as p_value,
        'Spearman rank correlation (average ranks for ties); 95% CI by Fisher z with the '
        || 'Bonett-Wright standard error; two-sided p from the t approximation on n - 2 df'
                                                                as method
    from combinations
    left join correlated
        on combinations.measure = correlated.measure
        and combinations.indicator = correlated.indicator

)

select * from final
