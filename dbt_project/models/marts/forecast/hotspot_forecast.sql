-- Next month's hotspot forecast (docs/analytics/forecast.md): per grid cell, the expected
-- offense count for the month after the last month of data, the rank (1 = most expected) and
-- the smallest configured area share whose top cells include the cell. How well the same
-- model did on the held-back months is in hotspot_forecast_scores.
with

predictions as (

    select cell_id, month, history_months, predicted_count, predicted_rank, cells_total
    from {{ ref('hotspot_forecast_predictions') }}
    where model = 'forecast'
        and period = 'next'

),

area_shares as (

    {{ forecast_area_shares() }}

),

top_shares as (

    select
        predictions.cell_id,
        min(area_shares.area_share)                                     as top_area_share
    from predictions
    inner join area_shares
        on predictions.predicted_rank
            <= {{ forecast_cells_selected('area_shares.area_share', 'predictions.cells_total') }}
    group by predictions.cell_id

),

final as (

    select
        predictions.cell_id,
        predictions.month                                               as forecast_month,
        predictions.predicted_count,
        predictions.predicted_rank,
        top_shares.top_area_share,
        'forecast'                                                      as model,
        {{ forecast_method() }}                                         as method,
        predictions.history_months
    from predictions
    left join top_shares
        on predictions.cell_id = top_shares.cell_id

)

select * from final
