-- Offense counts and rates per 1,000 residents by area x month x category, plus the 'all'
-- category. Every area x month from var('start_month') (the first month of the police data)
-- to the last month with an assigned offense x category has a row (zero counts included), so
-- averages and trends are not biased by missing zeros. Offenses that occurred before
-- var('start_month') (old offenses reported late) are not counted: they would stretch the
-- grid back over months the sources do not cover.
-- incident_count counts offenses; incident_reports counts distinct reports (a report with
-- several offenses counts once). Rates are suppressed (NULL, rate_suppressed = true) when the
-- population is unknown, zero or below var('min_population').
-- eb_rate_per_1000 is Marshall's global empirical-Bayes rate (the estimator of PySAL
-- esda.smoothing.Empirical_Bayes), per month x category over the areas with population > 0.
with

incidents as (

    select offense_key, incident_key, area_id, occurred_month, category
    from {{ ref('fct_incidents') }}
    where area_id is not null
        and occurred_month >= cast({{ sql_string(var("start_month")) }} as date)

),

areas as (

    select area_id, population from {{ ref('dim_area') }}

),

categories as (

    select category from {{ ref('category_descriptions') }}
    union all
    select 'all'

),

months as (

    -- every month from the police start to the last with an assigned offense (none: no rows)
    select
        cast(unnest(generate_series(
            cast(
                date_trunc('month', cast({{ sql_string(var("start_month")) }} as date)) as timestamp
            ),
            cast(max(occurred_month) as timestamp),
            interval 1 month
        )) as date)                             as month
    from incidents

),

counts as (

    select
        area_id,
        occurred_month                          as month,
        case when grouping(category) = 1 then 'all' else category end as category,
        count(distinct offense_key)             as incident_count,
        count(distinct incident_key)            as incident_reports
    from incidents
    group by grouping sets ((area_id, occurred_month, category), (area_id, occurred_month)) -- noqa: PRS, LT05

),

grid as (

    select
        areas.area_id,
        areas.population,
        coalesce(
            areas.population >= {{ var('min_population') }} and areas.population > 0, false
        )                                       as rate_reported,
        months.month,
        categories.category
    from areas
    cross join months
    cross join categories

),

counted as (

    select
        grid.area_id,
        grid.month,
        grid.category,
        coalesce(counts.incident_count, 0)                  as incident_count,
        coalesce(counts.incident_reports, 0)                as incident_reports,
        grid.population,
        grid.rate_reported
    from grid
    left join counts
        on grid.area_id = counts.area_id
        and grid.month = counts.month
        and grid.category = counts.category

),

eb_mean as (

    -- The prior: the pooled rate (events over people at risk) of the month x category and
    -- the mean population, over the areas with a known, positive population (small areas
    -- included: they inform the prior even though their own rates are withheld).
    select
        *,
        sum(incident_count) over month_category
            / sum(population) over month_category           as eb_pooled_rate,
        avg(population) over month_category                 as eb_mean_population,
        sum(population) over month_category                 as eb_total_population
    from counted
    where population > 0
    window month_category as (partition by month, category)

),

eb_variance as (

    -- Marshall's moment estimate of the between-area variance of the true rates:
    -- sum(b (r - m)^2) / sum(b) - m / mean(b). A negative estimate (the rates vary no more
    -- than Poisson noise alone would make them) is set to 0, which shrinks every area to m.
    select
        area_id,
        month,
        category,
        incident_count / population                         as raw_rate,
        eb_pooled_rate,
        greatest(
            sum(population * pow(incident_count / population - eb_pooled_rate, 2))
                over (partition by month, category) / eb_total_population
            - eb_pooled_rate / eb_mean_population,
            0
        )                                                   as eb_prior_variance,
        population
    from eb_mean

),

eb as (

    -- Shrinkage weight w = v / (v + m / b): the smaller the population b, the more the
    -- smoothed rate leans on the pooled rate m.
    select
        area_id,
        month,
        category,
        raw_rate,
        eb_pooled_rate,
        case
            when eb_prior_variance > 0
                then eb_prior_variance / (eb_prior_variance + eb_pooled_rate / population)
            else 0
        end                                                 as eb_weight
    from eb_variance

),

final as (

    select
        counted.area_id,
        counted.month,
        counted.category,
        counted.incident_count,
        counted.incident_reports,
        counted.population,
        not counted.rate_reported                           as rate_suppressed,
        case
            when counted.rate_reported
                then counted.incident_count / counted.population * 1000
        end                                                 as rate_per_1000,
        -- withheld with the raw rate: with the population known, a smoothed rate and the
        -- published prior would give the raw one back
        case
            when counted.rate_reported
                then (eb.eb_weight * eb.raw_rate + (1 - eb.eb_weight) * eb.eb_pooled_rate) * 1000
        end                                                 as eb_rate_per_1000
    from counted
    left join eb
        on counted.area_id = eb.area_id
        and counted.month = eb.month
        and counted.category = eb.category

)

select * from final
