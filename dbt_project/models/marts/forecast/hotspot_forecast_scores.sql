-- How well each model's top cells caught the offenses of the held-back months
-- (docs/analytics/forecast.md): per model x configured area share x held-back month, and the
-- mean over the holdout (scope 'holdout_mean', month NULL).
-- - cells_selected = ceil(share x cells), the top of the model's ranking for the month;
-- - hit_rate = the month's offenses in those cells / all its offenses;
-- - PAI (Chainey, Tompson & Uhlig 2008) = hit_rate / area_share_actual, the selected cells'
--   share of the grid's area;
-- - PEI (Hunt 2016) = PAI / pai_max, pai_max being the PAI of the best selection of as many
--   cells (the month's top cells by actual count);
-- - pai_lift_over_naive = PAI / the naive model's PAI (forecast rows only).
-- A month without offenses has no hit rate, PAI or PEI (NULL); the means skip NULLs. No
-- held-back months (too little data): no rows.
with

predictions as (

    select model, cell_id, month, predicted_rank, cells_total, actual_count
    from {{ ref('hotspot_forecast_predictions') }}
    where period = 'holdout'

),

cells as (

    select cell_id, cell_area_m2 from {{ ref('dim_grid_cell') }}

),

area_shares as (

    {{ forecast_area_shares() }}

),

ranked as (

    -- the best possible ranking of the month: by the actual counts, same tie-break
    select
        predictions.*,
        cells.cell_area_m2,
        row_number() over (
            partition by predictions.model, predictions.month
            order by predictions.actual_count desc,
                {{ forecast_tie_break('predictions.cell_id') }}
        )                                                               as actual_rank
    from predictions
    inner join cells
        on predictions.cell_id = cells.cell_id

),

selections as (

    select
        ranked.*,
        area_shares.area_share,
        {{ forecast_cells_selected('area_shares.area_share', 'ranked.cells_total') }}
                                                                        as cells_selected
    from ranked
    cross join area_shares

),

monthly_totals as (

    select
        model,
        area_share,
        month,
        any_value(cells_selected)                                       as cells_selected,
        sum(actual_count)                                               as offenses,
        coalesce(sum(actual_count) filter (where predicted_rank <= cells_selected), 0)
                                                                        as offenses_in_selected,
        coalesce(sum(actual_count) filter (where actual_rank <= cells_selected), 0)
                                                                        as offenses_in_best,
        coalesce(sum(cell_area_m2) filter (where predicted_rank <= cells_selected), 0)
            / sum(cell_area_m2)                                         as area_share_actual,
        coalesce(sum(cell_area_m2) filter (where actual_rank <= cells_selected), 0)
            / sum(cell_area_m2)                                         as best_area_share
    from selections
    group by model, area_share, month

),

monthly as (

    select
        model,
        area_share,
        'month'                                                         as scope,
        month,
        cells_selected,
        offenses,
        offenses_in_selected,
        area_share_actual,
        offenses_in_selected / nullif(offenses, 0)                      as hit_rate,
        offenses_in_selected / nullif(offenses, 0)
            / nullif(area_share_actual, 0)                              as pai,
        offenses_in_best / nullif(offenses, 0) / nullif(best_area_share, 0)
                                                                        as pai_max
    from monthly_totals

),

monthly_scored as (

    select
        *,
        pai / nullif(pai_max, 0)                                        as pei,
        case when offenses > 0 then 1 else 0 end                        as months_scored
    from monthly

),

holdout_means as (

    select
        model,
        area_share,
        'holdout_mean'                                                  as scope,
        cast(null as date)                                              as month,
        max(cells_selected)                                             as cells_selected,
        sum(offenses)                                                   as offenses,
        sum(offenses_in_selected)                                       as offenses_in_selected,
        avg(area_share_actual)                                          as area_share_actual,
        avg(hit_rate)                                                   as hit_rate,
        avg(pai)                                                        as pai,
        avg(pai_max)                                                    as pai_max,
        avg(pei)                                                        as pei,
        count(pai)                                                      as months_scored
    from monthly_scored
    group by model, area_share

),

scored as (

    select * from monthly_scored
    union all by name
    select * from holdout_means

),

final as (

    select
        scored.model,
        scored.area_share,
        scored.scope,
        scored.month,
        cast(scored.months_scored as integer)                           as months_scored,
        scored.cells_selected,
        cast(scored.offenses as bigint)                                 as offenses,
        cast(scored.offenses_in_selected as bigint)                     as offenses_in_selected,
        scored.hit_rate,
        scored.area_share_actual,
        scored.pai,
        scored.pai_max,
        scored.pei,
        case
            when scored.model = 'forecast' then scored.pai / nullif(naive.pai, 0)
        end                                                             as pai_lift_over_naive
    from scored
    left join scored as naive
        on naive.model = 'naive_last_period'
        and scored.area_share = naive.area_share
        and scored.scope = naive.scope
        and scored.month is not distinct from naive.month

)

select * from final
