-- Offense counts and rates per 1,000 residents by area x month x category, plus the 'all'
-- category. Every area x month in the data's range x category has a row (zero counts
-- included), so averages and trends are not biased by missing zeros.
-- incident_count counts offenses; incident_reports counts distinct reports (a report with
-- several offenses counts once). Rates are suppressed (NULL, rate_suppressed = true) when the
-- population is unknown, zero or below var('min_population').
with

incidents as (

    select offense_key, incident_key, area_id, occurred_month, category
    from {{ ref('fct_incidents') }}
    where area_id is not null and occurred_month is not null

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

    -- every month from the first to the last with an assigned offense (none: no rows)
    select
        cast(unnest(generate_series(
            cast(min(occurred_month) as timestamp),
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
    group by grouping sets ((area_id, occurred_month, category), (area_id, occurred_month))

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

final as (

    select
        grid.area_id,
        grid.month,
        grid.category,
        coalesce(counts.incident_count, 0)                  as incident_count,
        coalesce(counts.incident_reports, 0)                as incident_reports,
        grid.population,
        not grid.rate_reported                              as rate_suppressed,
        case
            when grid.rate_reported
                then coalesce(counts.incident_count, 0) / grid.population * 1000
        end                                                 as rate_per_1000
    from grid
    left join counts
        on grid.area_id = counts.area_id
        and grid.month = counts.month
        and grid.category = counts.category

)

select * from final
