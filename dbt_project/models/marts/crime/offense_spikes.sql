-- Offense spikes: per area x category x month, the month's count of reports against the
-- area's usual level for that category (the mean of the trailing var('spike_baseline_months')
-- months, the month itself excluded), judged with a Poisson upper tail. Reports, not offenses,
-- are counted: the offenses of one report are one event, not independent ones, and counting
-- them separately would make multi-offense reports look like spikes. Categories as in
-- area_month_rates, 'all' included: a surge that spreads over several categories shows
-- only there.
-- A zero baseline is floored at half an event over the window (0.5 / baseline_months): a
-- category never seen before is then judged, without dividing by zero, as a rare one.
-- A month is judged only with var('spike_min_baseline_months') months of history; a spike is
-- p < var('spike_alpha') and observed >= var('spike_min_count') and
-- ratio >= var('spike_min_ratio'). See docs/analytics/rates-spikes-correlation-impact.md.
with

rates as (

    select area_id, month, category, incident_reports
    from {{ ref('area_month_rates') }}

),

areas as (

    select area_id, area_name from {{ ref('dim_area') }}

),

labels as (

    select category, lower(category_label) as category_label
    from {{ ref('category_descriptions') }}
    union all
    select 'all' as category, 'all offenses' as category_label

),

history as (

    -- area_month_rates has every month of the grid (zeros included), so the trailing rows
    -- are the trailing months
    select
        area_id,
        month,
        category,
        incident_reports                                        as observed,
        avg(incident_reports) over baseline_window                as baseline_mean,
        count(*) over baseline_window                           as baseline_months
    from rates
    window baseline_window as (
        partition by area_id, category
        order by month
        rows between {{ var('spike_baseline_months') }} preceding and 1 preceding
    )

),

expected as (

    select
        *,
        case
            when baseline_months > 0
                then greatest(baseline_mean, 0.5 / baseline_months)
        end                                                     as expected
    from history

),

tested as (

    select
        *,
        observed / expected                                     as ratio,
        {{ poisson_upper_tail('observed', 'expected') }}        as p_value
    from expected

),

final as (

    select
        tested.area_id,
        tested.month,
        tested.category,
        tested.observed,
        tested.baseline_mean,
        cast(tested.baseline_months as integer)                 as baseline_months,
        tested.expected,
        tested.ratio,
        tested.p_value,
        coalesce(
            tested.baseline_months >= {{ var('spike_min_baseline_months') }}
            and tested.p_value < {{ var('spike_alpha') }}
            and tested.observed >= {{ var('spike_min_count') }}
            and tested.ratio >= {{ var('spike_min_ratio') }},
            false
        )                                                       as is_spike,
        case
            when tested.baseline_months = 0 then null
            when tested.baseline_mean = 0
                then coalesce(labels.category_label, tested.category) || ' in '
                    || coalesce(areas.area_name, tested.area_id) || ': '
                    || tested.observed
                    || case when tested.observed = 1 then ' report' else ' reports' end
                    || ' this month, none in the previous '
                    || case
                        when tested.baseline_months = 1 then 'month'
                        else tested.baseline_months || ' months'
                    end
            else coalesce(labels.category_label, tested.category) || ' in '
                || coalesce(areas.area_name, tested.area_id)
                || case when tested.category = 'all' then ' are ' else ' is ' end
                || printf('%.1f', tested.ratio) || '× its usual level ('
                || tested.observed
                || case when tested.observed = 1 then ' report' else ' reports' end
                || ' vs ' || printf('%.1f', tested.baseline_mean)
                || ' a month)'
        end                                                     as summary
    from tested
    left join areas
        on tested.area_id = areas.area_id
    left join labels
        on tested.category = labels.category

)

select * from final
