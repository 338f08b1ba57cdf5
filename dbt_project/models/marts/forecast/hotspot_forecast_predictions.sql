-- The predictions behind the hotspot forecast (docs/analytics/forecast.md): per model x grid
-- cell x predicted month, the expected count and the rank. Predicted months: the last
-- var('forecast_holdout_months') months of data (held back and scored in
-- hotspot_forecast_scores; only when at least 2 months precede them) and the month after the
-- last (published in hotspot_forecast). Every prediction uses only the months before its own.
-- - forecast: exponentially weighted mean of the cell's previous forecast_window_months()
--   months (weight 0.5 ^ ((lag - 1) / forecast_half_life_months()), over the months there
--   are), blended with weight forecast_neighbour_weight() with the mean of the same figure
--   over the adjacent cells (int_grid_cell_neighbours without the cell itself);
-- - naive_last_period: the cell's count in the month before.
-- Ranks: highest prediction first; predictions are compared rounded to 1e-9 (sums added in
-- another order rank the same), ties broken by forecast_tie_break.
{%- set holdout = var('forecast_holdout_months') %}
with

cell_months as (

    select cell_id, month, incident_count from {{ ref('int_grid_cell_months') }}

),

neighbours as (

    select cell_id, neighbour_cell_id
    from {{ ref('int_grid_cell_neighbours') }}
    where neighbour_cell_id <> cell_id

),

months as (

    select
        month,
        count(*) over ()                                                as months_total,
        row_number() over (order by month)                              as month_number
    from (select distinct month from cell_months) as distinct_months

),

targets as (

    -- the held-back months, scored only with at least two months of history before them
    select month, 'holdout' as period
    from months
    where months_total >= {{ holdout }} + 2
        and month_number > months_total - {{ holdout }}

    union all

    -- the month after the last month of data (none without data)
    select cast(max(month) + interval 1 month as date) as month, 'next' as period
    from months
    having count(*) > 0

),

history as (

    select
        targets.month                                                   as target_month,
        targets.period,
        cell_months.cell_id,
        cell_months.incident_count,
        date_diff('month', cell_months.month, targets.month)            as lag_months
    from targets
    inner join cell_months
        on targets.month > cell_months.month
        and targets.month - interval {{ forecast_window_months() }} month <= cell_months.month

),

own as (

    select
        target_month,
        period,
        cell_id,
        count(*)                                                        as history_months,
        sum(pow(0.5, (lag_months - 1) / {{ forecast_half_life_months() }}) * incident_count)
            / sum(pow(0.5, (lag_months - 1) / {{ forecast_half_life_months() }}))
                                                                        as weighted_mean,
        sum(incident_count) filter (where lag_months = 1)               as last_count
    from history
    group by target_month, period, cell_id

),

smoothed as (

    select
        own.target_month,
        own.period,
        own.cell_id,
        own.history_months,
        own.weighted_mean,
        own.last_count,
        avg(neighbour.weighted_mean)                                    as neighbour_mean
    from own
    left join neighbours
        on own.cell_id = neighbours.cell_id
    left join own as neighbour
        on neighbours.neighbour_cell_id = neighbour.cell_id
        and own.target_month = neighbour.target_month
    group by all

),

predicted as (

    select
        'forecast'                                                      as model,
        cell_id,
        target_month                                                    as month,
        period,
        history_months,
        -- a cell without adjacent cells keeps its own mean
        (1 - {{ forecast_neighbour_weight() }}) * weighted_mean
            + {{ forecast_neighbour_weight() }} * coalesce(neighbour_mean, weighted_mean)
                                                                        as predicted_count
    from smoothed

    union all

    select
        'naive_last_period'                                             as model,
        cell_id,
        target_month                                                    as month,
        period,
        1                                                               as history_months,
        cast(last_count as double)                                      as predicted_count
    from smoothed

),

ranked as (

    select
        predicted.*,
        row_number() over (
            partition by predicted.model, predicted.month
            order by round(predicted.predicted_count, 9) desc,
                {{ forecast_tie_break('predicted.cell_id') }}
        )                                                               as predicted_rank,
        count(*) over (partition by predicted.model, predicted.month)   as cells_total
    from predicted

),

final as (

    select
        ranked.model,
        ranked.cell_id,
        ranked.month,
        ranked.period,
        cast(ranked.history_months as integer)                          as history_months,
        ranked.predicted_count,
        cast(ranked.predicted_rank as integer)                          as predicted_rank,
        cast(ranked.cells_total as integer)                             as cells_total,
        cell_months.incident_count                                      as actual_count
    from ranked
    left join cell_months
        on ranked.cell_id = cell_months.cell_id
        and ranked.month = cell_months.month

)

select * from final
